"""A case in the team store: the case API's ingest, networks, sites, reviews and audit.

:func:`open_team_case` (and ``workbench.open_case("postgresql://...")``) connects as
whoever the URL (or libpq's environment) names; what that role may do is the database's
decision (:mod:`workbench.team._schema`): a viewer reads, a reviewer also records
decisions (the reviewer recorded is the connected role), the analyst (``workbench_ingest``)
also ingests, links sellers and finds sites, with the same code and result as a case file.

>>> case = open_team_case("postgresql://amira@db:5432/workbench?case=putian")  # doctest: +SKIP
>>> case.ingest_files({"shipments": "shipments.csv"})                          # doctest: +SKIP
>>> case.find_sites(300)                                                       # doctest: +SKIP
>>> case.review("S001", status="confirmed", note="test buy 14 matched")       # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.case import audit as audit_log
from workbench.errors import InputError, NotFoundError
from workbench.schema import REVIEW_STATUSES
from workbench.team import _audit
from workbench.team._bundle_reads import BundleReads
from workbench.team._digest import select_list
from workbench.team._explorer_reads import ExplorerReads
from workbench.team._store import TeamURL, connect, find_case, parse_url, refusals

if TYPE_CHECKING:
    import geopandas as gpd

    from workbench.intake._table import IntakeResult
    from workbench.networks._link import Networks
    from workbench.progress import Progress

__all__ = ["TeamCase", "open_team_case", "record_review"]


def record_review(
    con: Any,
    case_id: int,
    site_id: str,
    *,
    status: str,
    note: str = "",
    run_id: str | None = None,
) -> dict[str, Any]:
    """Record one review decision and its audit entry in one transaction (the reviewer is
    the connected role); returns the decision as stored."""
    if status not in REVIEW_STATUSES:
        raise InputError(f"status={status!r}; expected one of {', '.join(REVIEW_STATUSES)}")
    with con.transaction():
        _audit.lock_chain(con, case_id)  # from the head read to the commit: one chain
        run = run_id or _latest_run(con, case_id)
        known = con.execute(
            "SELECT 1 FROM sites WHERE case_id = %s AND run_id = %s AND site_id = %s",
            (case_id, run, site_id),
        ).fetchone()
        if not known:
            raise NotFoundError(f"site_id={site_id!r} is not in run {run}")
        latest = _audit.head(con, case_id)
        seq = (latest[0] if latest else 0) + 1
        fid = con.execute(
            "SELECT coalesce(max(fid), 0) + 1 FROM reviews WHERE case_id = %s", (case_id,)
        ).fetchone()[0]
        at = audit_log.now()
        reviewer = con.execute(
            "INSERT INTO reviews (case_id, fid, run_id, site_id, status, note, at, audit_seq) "
            'VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING "by"',
            (case_id, fid, run, site_id, status, note, at, seq),
        ).fetchone()[0]
        parameters = {"run_id": run, "site_id": site_id, "status": status, "note": note}
        _audit.append(con, case_id, action="review", parameters={**parameters, "fid": fid}, at=at)
    return {**parameters, "by": reviewer, "at": at}


def _latest_run(con: Any, case_id: int) -> str:
    row = con.execute(
        "SELECT run_id FROM runs WHERE case_id = %s ORDER BY fid DESC LIMIT 1", (case_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError("this team case has no clustering run yet")
    return str(row[0])


class TeamCase(ExplorerReads, BundleReads):
    """An open team case. Use :func:`open_team_case`; close it (or use ``with``)."""

    def __init__(self, target: TeamURL, *, create: bool = False) -> None:
        self.target = target
        self._stack = contextlib.ExitStack()
        self._con = self._stack.enter_context(connect(target))
        try:
            self.case_id = self._find_or_create(create)
            self._con.commit()
        except BaseException:
            self._stack.close()
            raise
        self.user = str(self._con.info.user)

    def _find_or_create(self, create: bool) -> int:
        try:
            return find_case(self._con, self.target.case)
        except NotFoundError:
            self._con.rollback()
            may = self._con.execute("SELECT has_table_privilege('cases', 'INSERT')").fetchone()
            taken = self._con.execute(
                "SELECT 1 FROM cases WHERE name = %s", (self.target.case,)
            ).fetchone()
            self._con.rollback()
            if not create or not may[0] or taken:
                raise
        from workbench.team._ingest import create_case

        return create_case(self._con, self.target.case)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> TeamCase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<TeamCase {self.target} as {self.user}>"

    def _frame(self, sql: str, params: tuple[Any, ...]) -> pd.DataFrame:
        cursor = self._con.execute(sql, params)
        names = [d.name for d in cursor.description]
        frame = pd.DataFrame(cursor.fetchall(), columns=names)
        self._con.commit()
        return frame

    def latest_run(self) -> str:
        run = _latest_run(self._con, self.case_id)
        self._con.commit()
        return run

    def reviews(self, site_id: str | None = None, *, run_id: str | None = None) -> pd.DataFrame:
        """Review history, oldest first; nothing is ever overwritten."""
        sql = f"SELECT {select_list('reviews')} FROM reviews WHERE case_id = %s"  # noqa: S608
        params: list[Any] = [self.case_id]
        for column, value in (("run_id", run_id), ("site_id", site_id)):
            if value is not None:
                sql += f" AND {column} = %s"
                params.append(value)
        frame = self._frame(sql + " ORDER BY fid", tuple(params))
        return frame.drop(columns=["fid"])

    def sites(self, run_id: str | None = None) -> gpd.GeoDataFrame:
        """Sites of a run (default: the latest) as ``Case.sites`` gives them: a GeoDataFrame
        by rank, with their hull, lists and score parts parsed and the latest review
        ``status`` (read in one query through Arrow, ADBC's PostgreSQL driver)."""
        return self.site_layer(run_id)

    def review(
        self,
        site_id: str,
        *,
        status: str,
        note: str = "",
        by: str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Record a review decision as the connected role (history is kept); ``by``, when
        given, must be that role: the team store records who is connected."""
        if by is not None and by != self.user:
            raise InputError(
                f"by={by!r}: a team case records the connected role ({self.user!r}) as the "
                f"reviewer; connect as {by!r} to review as them"
            )
        with refusals(self._con):
            return record_review(
                self._con, self.case_id, site_id, status=status, note=note, run_id=run_id
            )

    def cross_reference(
        self, against: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
    ) -> pd.DataFrame:
        """Flag what this case shares with earlier cases (case files: a folder of them or
        paths; team cases: their URLs), store the matches and return them, as
        :func:`workbench.cross_reference` does for a case file (the analyst's role only)."""
        from workbench.team._xref import cross_reference_team

        return cross_reference_team(self, against)

    def record_event(
        self,
        kind: str,
        date: str | dt.date,
        *,
        note: str,
        site_id: str | None = None,
        seller_ids: Iterable[str] = (),
        network_id: str | None = None,
        by: str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Record a dated event (a raid, a takedown, ...) as ``Case.record_event`` does, as
        the connected role; ``by``, when given, must be that role."""
        from workbench.team._events import record_team_event

        if by is not None and by != self.user:
            raise InputError(
                f"by={by!r}: a team case records the connected role ({self.user!r}) as the "
                f"recorder; connect as {by!r} to record as them"
            )
        return record_team_event(
            self._con, self.case_id, kind, date, note=note, site_id=site_id,
            seller_ids=seller_ids, network_id=network_id, run_id=run_id,
        )  # fmt: skip

    # -- the case API on the team store -----------------------------------------------------
    def table(self, name: str, *, geometry: bool = True) -> pd.DataFrame:
        """A curated table (not the waybills) as a plain frame, in stored order (its point
        column as ``lat`` and ``lon``; ``geometry=False`` reads it through Arrow, as the
        explorer does)."""
        from workbench.team._analysis import read_table
        from workbench.team._schema import TABLES

        if name not in TABLES or name.startswith("waybill_") or name == "audit":
            listed = ", ".join(t for t in TABLES if not t.startswith("waybill_"))
            raise NotFoundError(f"no table {name!r} in a team case; tables: {listed}")
        if not geometry:
            return self.table_frame(name)
        return read_table(self._con, self.case_id, name)

    def n_waybills(self) -> int:
        """How many waybills the case holds."""
        found = self._con.execute(  # from the parts' listing, as a case file counts them
            "SELECT coalesce(sum(p.rows - coalesce(length(d.rows) / 4, 0)), 0) FROM "
            "waybill_parts p LEFT JOIN waybill_deletes d ON d.case_id = p.case_id AND "
            "d.part_id = p.part_id WHERE p.case_id = %s",
            (self.case_id,),
        ).fetchone()[0]
        self._con.commit()
        return int(found)

    def runs(self) -> pd.DataFrame:
        """Every clustering run, oldest first, with its parameters."""
        import json

        runs = self.table("runs")
        runs["parameters"] = runs["parameters"].map(json.loads)
        return runs

    def compare_runs(self, before: str, after: str, **options: Any) -> pd.DataFrame:
        """Site by site, what changed from run ``before`` to run ``after``, as
        ``Case.compare_runs`` says it (the same code on this case's sites)."""
        from workbench.case._analysis import compare_runs

        return compare_runs(self, before, after, **options)

    def quarantine(self, table: str | None = None, reason: str | None = None) -> pd.DataFrame:
        """Rejected rows with file, row number, raw row, reason and message, oldest first."""
        from workbench.case._io import quarantine_rows

        return quarantine_rows(self.table("quarantine"), table, reason)

    def cross_references(self, run_id: str | None = None) -> pd.DataFrame:
        """The case's stored cross-references that still apply to ``run_id`` (default the
        latest run), as :func:`workbench.export._seen.read_cross_references` reads a case
        file's: account and identifier matches always, a site match for the run that was
        latest when it was made, a network match until the sellers are linked again."""
        from workbench.case._xref_store import XREF_COLUMNS, _typed

        listed = ", ".join(f'"{c}"' for c in XREF_COLUMNS)
        scope = self._xref_scope(run_id)  # the rule the explorer's counts use too
        frame = self._frame(
            f"SELECT {listed} FROM cross_references WHERE {scope} ORDER BY fid",  # noqa: S608
            (),
        )
        return _typed(frame.reindex(columns=list(XREF_COLUMNS)))  # as a case file types them

    def ingest(
        self, results: Iterable[IntakeResult], *, link: bool = True
    ) -> dict[str, dict[str, int]]:
        """Store intake results in the team case in one transaction (as ``Case.ingest``,
        ``link`` too)."""
        items = [(r.table, [r], lambda r=r: r.report) for r in results]
        return {table: counts for table, counts, _ in self._ingest(items, link)}

    def _ingest(self, items: list[Any], link: bool) -> list[tuple[str, dict[str, int], Any]]:
        from workbench.team._analysis import relink
        from workbench.team._ingest import ingest_items

        done = ingest_items(self._con, self.case_id, items)
        if link and {"sellers", "identifiers"} & {table for table, _, _ in done}:
            relink(self)  # its own audited step, as a case file's ingest
        return done

    def ingest_files(
        self,
        files: Mapping[str, str | os.PathLike[str] | Sequence[str | os.PathLike[str]]],
        *,
        mapping: Any = None,
        chunk_rows: int | None = None,
        progress: bool | None = None,
        geocode: Any = None,
        link: bool = True,
    ) -> list[dict[str, Any]]:
        """Stream export files (``{"shipments": path, ...}``) into the team case through
        the case file's intake (checks, mapping, repairs, quarantine); one transaction,
        audited as the connected role, which needs ``workbench_ingest``. Returns each
        file's intake report with what the case did with its rows. With ``link`` (the
        default) an ingest of sellers or identifiers then links the accounts again, in
        its own audited step, as a case file's ingest does."""
        from workbench.case._staging import listed_files
        from workbench.intake._table import CHUNK_ROWS, stream_table

        pairs = listed_files(files)
        waybill_files = [str(path) for table, path in pairs if table == "shipments"]
        if len(waybill_files) > 1:
            raise InputError(
                f"{len(waybill_files)} waybill files ({', '.join(waybill_files)}): a team case "
                "takes one waybill file an ingest; ingest them one after another, oldest "
                "first (a waybill ingested again replaces the stored one)"
            )
        streams = [
            stream_table(
                path, table, mapping=mapping, chunk_rows=chunk_rows or CHUNK_ROWS,
                progress=progress, geocode=geocode,
            )
            for table, path in pairs
        ]  # fmt: skip
        items = [(s.table, s, lambda s=s: s.report) for s in streams]
        return [{**report, **counts} for _, counts, report in self._ingest(items, link)]

    def link_sellers(self, **params: Any) -> Networks:
        """Link the accounts into networks and store them (as ``Case.link_sellers``)."""
        from workbench.team._analysis import link_sellers

        return link_sellers(self, **params)

    def find_sites(
        self,
        radius_m: float = 300.0,
        *,
        max_accounts: int | None = None,
        since: Any = None,
        until: Any = None,
        progress: Progress | None = None,
        client: Any = None,
        **params: Any,
    ) -> str:
        """Cluster the waybills and store the run; returns the run id (as
        ``Case.find_sites``: the same options, steps and sites)."""
        from workbench.team._analysis import find_sites

        return find_sites(
            self, radius_m, max_accounts=max_accounts, since=since, until=until,
            progress=progress, client=client, **params,
        )  # fmt: skip

    def audit(self) -> pd.DataFrame:
        """The audit log, oldest first."""
        return self._frame(
            f"SELECT {select_list('audit')} FROM audit WHERE case_id = %s ORDER BY seq",  # noqa: S608
            (self.case_id,),
        )

    def verify_audit(self) -> audit_log.AuditCheck:
        """Recompute the chain and check the tables (see :func:`workbench.team._audit.verify`)."""
        check = _audit.verify(self._con, self.case_id)
        self._con.commit()
        return check

    def log(
        self, action: str, parameters: dict[str, Any], inputs: Iterable[dict[str, Any]] = ()
    ) -> int:
        """Append an audit entry for an action done outside the store (an export, say)."""
        with refusals(self._con), self._con.transaction():
            seq, _ = _audit.append(
                self._con, self.case_id, action=action, parameters=parameters,
                inputs=list(inputs),
            )  # fmt: skip
        return seq


def open_team_case(url: str, *, create: bool = False) -> TeamCase:
    """Open the team case named by ``postgresql://USER@HOST:PORT/DB?case=NAME``;
    ``create``: make it (empty, audited) when it is not there and the role may."""
    return TeamCase(parse_url(url), create=create)
