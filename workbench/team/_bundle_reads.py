"""What a tip-sheet bundle reads from a team case (a site's waybills, the networks, the
settings, events and relocations, whether it was cross-referenced) and the export's right
and audit entry, as a case file answers the same calls.

A mixin of :class:`workbench.team._case.TeamCase`; it uses the case's connection
(``_con``), ``case_id`` and ``target``, and the explorer's reads
(:class:`~workbench.team._explorer_reads.ExplorerReads`: ``site_layer``, a case file's
``Case.sites``; ``site_points``, ``site_activity``, ``cross_reference_rows`` and its Arrow
connection). The calls a case file has keep its names and answers (``settings``,
``site_shipments``, ``networks``, ``events``, ``relocations``, ``actor``). Exporting is
the database's decision: :meth:`BundleReads.require_export` refuses a role without
``workbench_export`` before a bundle reads anything, and :meth:`BundleReads.record_export`
appends the export's entry, with the bundle's files, as the connected role.

A site's waybills are read through Arrow (ADBC's PostgreSQL driver) from ``waybills``,
only those around the site's points, as a case file reads only the row groups around them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.errors import NotFoundError, TeamAccessError
from workbench.team import _audit
from workbench.team._store import refusals
from workbench.team._transfer import _WAYBILL_COLUMNS  # a part's columns, in their order

if TYPE_CHECKING:
    import geopandas as gpd
    import pyarrow as pa

    from workbench.networks._link import Networks
    from workbench.sites._relocation import Relocations
    from workbench.team._store import TeamURL

__all__ = ["EXPORT_ROLE", "BundleReads"]

EXPORT_ROLE = "workbench_export"
_NEAR_DEG = 1e-6  # around a site's points: their key rounds coordinates to 1e-7 degree


class BundleReads:
    """A bundle's reads on a team case."""

    _con: Any
    case_id: int
    target: TeamURL
    user: str

    if TYPE_CHECKING:  # TeamCase's own reads and the explorer's (ExplorerReads), used here

        def latest_run(self) -> str: ...
        def reviews(
            self, site_id: str | None = None, *, run_id: str | None = None
        ) -> pd.DataFrame: ...
        def table(self, name: str) -> pd.DataFrame: ...
        def _arrow(self, sql: str, *params: Any) -> pa.Table: ...
        def site_layer(self, run_id: str | None = None) -> gpd.GeoDataFrame: ...
        def site_points(self, site_id: str, run_id: str | None = None) -> pd.DataFrame: ...
        def site_activity(
            self, run_id: str | None = None, site: str | None = None
        ) -> pd.DataFrame: ...

    @property
    def actor(self) -> str:
        """Who acts: the connected role (the audit chain records no one else)."""
        return self.user

    @property
    def name(self) -> str:
        """The case's name in the team store (what a bundle calls the case)."""
        return self.target.case

    # -- rights and the audit chain ---------------------------------------------------------
    def require_export(self) -> None:
        """Refuse a role without ``workbench_export`` (a viewer, a reviewer, the analyst)
        before an export reads or writes anything."""
        allowed = self._con.execute(
            "SELECT pg_has_role(current_user, %s, 'USAGE')", (EXPORT_ROLE,)
        ).fetchone()[0]
        self._con.commit()
        if not allowed:
            raise TeamAccessError(
                f"the team store refused role {self.user!r}: exporting a tip sheet needs the "
                f"{EXPORT_ROLE} role; ask its owner: workbench team grant URL export {self.user}"
            )

    def record_export(
        self, action: str, parameters: Mapping[str, Any], inputs: Iterable[Mapping[str, Any]]
    ) -> int:
        """Append an export's entry (with its files as ``inputs``) to the case's chain as
        the connected role, who must hold ``workbench_export``; returns its number."""
        self.require_export()
        with refusals(self._con), self._con.transaction():
            seq, _ = _audit.append(
                self._con, self.case_id, action=action, parameters=parameters,
                inputs=[dict(i) for i in inputs],
            )  # fmt: skip
        return seq

    def cross_referenced(self) -> bool:
        """Whether the case was ever checked against earlier cases or a partner's list."""
        found = self._con.execute(
            "SELECT 1 FROM audit WHERE case_id = %s AND action IN ('cross-reference', "
            "'import exchange list') LIMIT 1",
            (self.case_id,),
        ).fetchone()
        self._con.commit()
        return found is not None

    # -- settings -------------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        """Case settings (``organisation``, ``contact``, ...) as a case file keeps them:
        those a pushed case brought (``case_meta``)."""
        rows = self._con.execute(
            "SELECT key, value FROM case_meta WHERE case_id = %s AND key LIKE 'setting:%%' "
            "ORDER BY key",
            (self.case_id,),
        ).fetchall()
        self._con.commit()
        return {str(k).removeprefix("setting:"): str(v) for k, v in rows}

    # -- a site's waybills ---------------------------------------------------------------
    def site_shipments(self, site_id: str, run_id: str | None = None) -> pd.DataFrame:
        """The waybills of one site, as a case file's ``Case.site_shipments`` (without its
        geometry column): those at the site's points, stored before the run, precise
        enough to take part in clustering, by day then waybill number. Only the waybills
        around the site's points are read (a box query on ``waybills``, through Arrow),
        whatever the case's size."""
        from workbench.case._io import typed
        from workbench.case._parts import at_points

        run = run_id or self.latest_run()
        found = self._con.execute(
            "SELECT r.audit_seq FROM runs r JOIN sites s ON s.case_id = r.case_id AND "
            "s.run_id = r.run_id WHERE r.case_id = %s AND r.run_id = %s AND s.site_id = %s",
            (self.case_id, run, site_id),
        ).fetchone()
        self._con.commit()
        if found is None:
            raise NotFoundError(f"site_id={site_id!r} is not in run {run}; see case.sites()")
        points = self.site_points(site_id, run)
        sql = _waybills_sql(self.case_id, any_points=not points.empty)
        ships = typed(self._arrow(sql, *_box(points), int(found[0])).to_pandas())
        ships["shipped_at"] = ships["shipped_at"].astype("datetime64[ms]")  # as a part holds it
        ships = ships[at_points(ships, points).to_numpy()]
        return ships.sort_values(["shipped_at", "shipment_id"], kind="stable", ignore_index=True)

    # -- networks, activity, events, relocations --------------------------------------------
    def networks(self) -> Networks:
        """The stored seller networks (from the last linking), with their summary, as a
        case file's ``Case.networks``."""
        from workbench.networks._link import Networks, describe_networks

        membership = self.table("networks")
        if membership.empty:
            raise NotFoundError(f"team case {self.target} has no networks yet; link sellers first")
        links = self.table("network_links")
        row = self._con.execute(
            "SELECT parameters FROM audit WHERE case_id = %s AND action = 'link sellers' "
            "ORDER BY seq DESC LIMIT 1",
            (self.case_id,),
        ).fetchone()
        self._con.commit()
        return Networks(
            membership=membership,
            summary=describe_networks(membership, links),
            links=links,
            infrastructure=pd.DataFrame(columns=["kind", "value_norm", "n_accounts", "value"]),
            parameters=json.loads(row[0]) if row else {},
            unknown_sellers=pd.DataFrame(columns=["seller_id", "kind", "value"]),
        )

    def events(self, kind: str | None = None) -> pd.DataFrame:
        """The recorded events, by date (``seller_ids`` as a list), as a case file's."""
        from workbench.case._events import EVENT_COLUMNS
        from workbench.case._io import typed

        listed = ", ".join(f'"{c}"' for c in EVENT_COLUMNS if c != "seller_ids")
        cursor = self._con.execute(
            f"SELECT {listed} FROM events WHERE case_id = %s ORDER BY date, fid",  # noqa: S608
            (self.case_id,),
        )
        frame = pd.DataFrame(cursor.fetchall(), columns=[d.name for d in cursor.description])
        pairs = self._con.execute(
            "SELECT event_id, seller_id FROM event_sellers WHERE case_id = %s "
            "ORDER BY event_id, seller_id",
            (self.case_id,),
        ).fetchall()
        self._con.commit()
        sellers: dict[str, list[str]] = {}
        for event_id, seller_id in pairs:
            sellers.setdefault(event_id, []).append(seller_id)
        frame["seller_ids"] = [sellers.get(e, []) for e in frame["event_id"]]
        if kind is not None:
            frame = frame[frame["kind"] == kind]
        return typed(frame[list(EVENT_COLUMNS)].reset_index(drop=True))

    def relocations(self, run_id: str | None = None, **params: Any) -> Relocations:
        """Where each network's production went after its site stopped, as a case file's
        ``Case.relocations`` (the same function over the same rows)."""
        from workbench.case._events import relocations

        return relocations(self, run_id, **params)  # type: ignore[arg-type]  # a TeamCase


def _box(points: pd.DataFrame) -> tuple[float, float, float, float]:
    """min lon, min lat, max lon, max lat around ``points`` (none: any box, none is read)."""
    if points.empty:
        return (0.0, 0.0, 0.0, 0.0)
    return (
        float(points["lon"].min()) - _NEAR_DEG,
        float(points["lat"].min()) - _NEAR_DEG,
        float(points["lon"].max()) + _NEAR_DEG,
        float(points["lat"].max()) + _NEAR_DEG,
    )


def _waybills_sql(case_id: int, *, any_points: bool = True) -> str:
    """A case's waybills in a box ($1-$4) stored before entry $5 and precise enough to
    cluster (the BRIN indexes on the points and the case find them); none for a site
    without points (as a case file reads none)."""
    from workbench.sites._finder import PRECISE_ENOUGH

    listed = ", ".join(f'"{c}"' for c in _WAYBILL_COLUMNS)
    precise = ", ".join(f"'{p}'" for p in PRECISE_ENOUGH)  # the finder's constants
    return (
        f"SELECT {listed}, ingest_seq FROM waybills WHERE case_id = {int(case_id)} "  # noqa: S608
        "AND geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) AND ingest_seq < $5 "
        f"AND precision IN ({precise}){'' if any_points else ' AND false'}"
    )
