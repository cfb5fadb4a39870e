"""The steps that analyse a case and store what they found: linking the sellers into
networks (with the cross-reference index made from the same normalised values) and finding
sites (a clustering run with its sites, areas, points and weekly activity). Each writes in
one transaction of the case, audited. :class:`workbench.case.Case` calls these."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from workbench.case import audit as audit_log
from workbench.case._gpkg import touch
from workbench.case._io import insert_frame, python_values
from workbench.case._state import written_run_digest
from workbench.errors import InputError, NotFoundError
from workbench.progress import Progress, step

if TYPE_CHECKING:
    from workbench.case._case import Case
    from workbench.case._xref_index import Index
    from workbench.networks._link import Networks
    from workbench.sites._finder import SiteFinder

__all__ = [
    "DateLike",
    "compare_runs",
    "find_sites",
    "link_sellers",
    "relink",
    "save_networks",
    "save_sites",
]

DateLike = str | dt.date | pd.Timestamp


def save_networks(case: Case, networks: Networks, *, index: Index | None = None) -> int:
    """Replace the stored networks with a new linking result; returns its audit entry.

    ``index``: the case's cross-reference index from what this linking normalised
    (:func:`workbench.case._xref_store.linked_index`), stored with the networks."""
    from workbench.case._xref_store import store_linked_index

    membership, links = networks.membership, networks.links
    written = ["networks", "network_links"] + (["xref_index"] if index is not None else [])
    parameters = {**networks.parameters, "n_networks": len(networks.summary)}
    with case._write() as con:
        audit_log.check_unchanged(con, written)
        con.execute("DELETE FROM networks")
        con.execute("DELETE FROM network_links")
        insert_frame(
            con,
            "networks",
            list(membership.columns),
            [python_values(membership[c]) for c in membership.columns],
        )
        cols = ["network_id", "seller_id", "kind", "value", "value_norm"]
        insert_frame(con, "network_links", cols, [python_values(links[c]) for c in cols])
        if index is not None:  # current once this entry is in
            store_linked_index(con, index, audit_log.next_seq(con), parameters)
        touch(con, ["networks", "network_links"])
        return audit_log.append(
            con,
            actor=case.actor,
            action="link sellers",
            parameters=parameters,
            wrote=written,
        )


def save_sites(case: Case, finder: SiteFinder, *, window: dict[str, Any] | None = None) -> str:
    """Store a clustering run and its sites; an identical earlier run is reused.

    ``window``: the time window the waybills were taken from (recorded with the run)."""
    from workbench.case._sites import site_rows
    from workbench.sites._waybills import paused_gc

    run_id = str(finder.run_id_)
    # 200,000 rows of Python values at 10M waybills: without the cycle collector, which
    # would walk every object of the process again and again meanwhile (0.13 s there)
    with paused_gc(), case._write() as con:
        exists = con.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        params = {
            **finder.get_params(),
            "n_excluded": finder.n_excluded_,
            "excluded": finder.excluded_,
            **({"window": window} if window is not None else {}),
        }
        entry = {"run_id": run_id, **params, "reused": bool(exists)}
        if exists:
            audit_log.append(con, actor=case.actor, action="find sites", parameters=entry)
            return run_id
        written = ["runs", "sites", "site_areas", "site_points", "site_activity"]
        this_run = {t: {run_id} for t in written[1:]}  # earlier runs: verify checks them
        audit_log.check_unchanged(con, written, this_run)
        seq = audit_log.next_seq(con)
        con.execute(
            "INSERT INTO runs (run_id, kind, created_at, actor, parameters, n_sites, "
            "audit_seq) VALUES (?, 'sites', strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?, ?, ?, ?)",
            (run_id, case.actor, json.dumps(params), len(finder.sites_), seq),
        )
        points, areas = site_rows(finder.sites_)
        insert_frame(con, "sites", list(points), list(points.values()))
        insert_frame(con, "site_areas", list(areas), list(areas.values()))
        pts = finder.site_points_.assign(run_id=run_id)
        act = finder.activity_.assign(
            run_id=run_id, week=finder.activity_["week"].dt.strftime("%Y-%m-%d")
        )
        known: dict[str, dict[str, str]] = {}  # the largest tables: hashed as written
        for table, frame, cols in (
            ("site_points", pts, ["run_id", "site_id", "lat", "lon", "n_shipments"]),
            ("site_activity", act, ["run_id", "site_id", "week", "n_shipments", "value_cny"]),
        ):
            values = {c: python_values(frame[c]) for c in cols}
            before = _last_fid(con, table)
            insert_frame(con, table, cols, list(values.values()))
            if _last_fid(con, table) == before + len(frame):  # fids before+1 .. in order
                digest = written_run_digest(con, table, before + 1, values)
                if digest is not None:
                    known[table] = {run_id: digest}
        touch(con, written)
        audit_log.append(
            con,
            actor=case.actor,
            action="find sites",
            parameters=entry,
            wrote=written,
            segments=this_run,
            known=known,
        )
    return run_id


def _last_fid(con: sqlite3.Connection, table: str) -> int:
    """The last fid given in ``table`` (AUTOINCREMENT: the next rows get the next ones)."""
    row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    last = con.execute(f'SELECT max(fid) FROM "{table}"').fetchone()[0]  # noqa: S608
    return max(int(row[0]) if row else 0, int(last or 0))


def _largest(con: sqlite3.Connection, *tables: str) -> int:
    """The row count of the largest of ``tables``."""
    counts = (
        con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
        for t in tables
    )
    return max(counts)


def link_sellers(case: Case, **params: Any) -> Networks:
    """Link the case's accounts into networks, store them and return them.

    ``params`` go to :func:`workbench.networks.link_sellers` (``max_accounts``,
    ``allow_list``, ``include_weak``, ...); the summary gets volumes, brands and verdicts
    from the case's shipments and evidence.
    """
    from workbench.case._fingerprint import load_ahead
    from workbench.case._xref_store import linked_index
    from workbench.networks import _link

    load_ahead(_largest(case._con, "sellers", "identifiers"))  # the index fingerprints them
    sellers = case.table("sellers")
    networks = _link.link_sellers(
        sellers,
        case.table("identifiers"),
        shipments=case.waybills(
            ["seller_id", "brand", "shipped_at", "lat", "lon"],
            categorical=["seller_id", "brand"],
        ),
        evidence=case.table("evidence"),
        **params,
    )
    save_networks(case, networks, index=linked_index(sellers, networks))
    return networks


def relink(case: Case) -> Networks | None:
    """After an ingest of sellers or identifiers: link the accounts again and store the
    networks, with the options of the last linking (``allow_list``, ``include_weak``,
    ``region``, and ``max_accounts`` when it was given rather than chosen from the data),
    so the case's networks always match its accounts. None when the case has no sellers.

    The volumes and verdicts of :func:`link_sellers`'s summary are left out: they need
    every waybill, and nothing stored depends on them."""
    if not _largest(case._con, "sellers"):
        return None
    return _link_and_store(case, **audit_log.link_options(case._con))


def _link_and_store(case: Case, **options: Any) -> Networks:
    """Link the case's sellers through their identifiers with ``options`` (no summary
    volumes) and store the networks with their cross-reference index."""
    from workbench.case._fingerprint import load_ahead
    from workbench.case._xref_store import linked_index
    from workbench.networks import _link  # only here: 0.13 s of imports

    load_ahead(_largest(case._con, "sellers", "identifiers"))  # the index fingerprints them
    sellers = case.table("sellers")
    networks = _link.link_sellers(sellers, case.table("identifiers"), **options)
    save_networks(case, networks, index=linked_index(sellers, networks))
    return networks


def find_sites(
    case: Case,
    radius_m: float = 300.0,
    *,
    max_accounts: int | None = None,
    since: DateLike | None = None,
    until: DateLike | None = None,
    progress: Progress | None = None,
    client: Any = None,
    **params: Any,
) -> str:
    """Cluster the case's shipments and store the run; returns the run id.

    ``since`` / ``until`` (days, both included) restrict the run to the waybills shipped
    in that window; waybills without a date are outside any window. The window and the
    number of waybills left outside are recorded with the run. With ``client`` (a
    ``distributed.Client``) the clustering runs on that Dask cluster, with the same result.

    The case's stored networks are used as they are when they were linked after its last
    ingest of sellers or identifiers (an ingest links them: :func:`relink`) and no
    ``max_accounts`` is given. Otherwise the sellers are linked first (and the networks
    stored) with the options of the last linking (``allow_list``, ``include_weak``) and
    ``max_accounts`` when given.

    ``progress`` is told each of the ``FIND_SITES_STEPS`` steps as it starts.
    """
    from workbench.case._site_input import keep_ready, site_frame_ahead
    from workbench.sites._finder import SiteFinder, load_kernels_ahead

    if not case.n_waybills():
        raise NotFoundError(
            f"case {case.path} has no shipments yet; ingest a shipments file first "
            "(workbench ingest CASE --shipments FILE)"
        )
    window = _window(since, until)
    # on a cluster (no window) the workers read the parts themselves; else read on a
    # thread while the sellers are linked, and the kernels load on another
    on_workers = client is not None and window is None
    shipments = None if on_workers else site_frame_ahead(case._con)
    load_kernels_ahead()
    unready = read = None  # what a run read from the parts, for a ready copy of it
    if max_accounts is None and audit_log.networks_current(case._con):
        step(progress, "using the stored seller networks (linked after the last ingest)")
        membership = case.table("networks")
    else:
        step(progress, "linking sellers through shared identifiers")
        options = audit_log.link_options(case._con)  # the last linking's, as an ingest does
        if max_accounts is not None:
            options["max_accounts"] = max_accounts
        membership = _link_and_store(case, **options).membership
    step(progress, "reading the shipments")
    evidence = case.table("evidence")
    if shipments is None:  # share by share on the cluster's workers
        from workbench.case._distributed_input import joined_on_workers
        from workbench.sites._shares import SharedSiteFinder

        finder: SiteFinder = SharedSiteFinder(radius_m, **params).fit_joined(
            joined_on_workers(case._con, client),
            networks=membership,
            evidence=evidence,
            progress=progress,
            client=client,
        )
    else:
        frame = shipments()
        unready = shipments.from_parts
        read = frame if unready is not None else None
        if window is not None:
            frame, window = _within(frame, window)
        finder = SiteFinder(radius_m, **params).fit(
            frame, networks=membership, evidence=evidence, progress=progress, client=client
        )
        del frame
    step(progress, "storing the run")
    run_id = save_sites(case, finder, window=window)
    if unready is not None and read is not None:
        keep_ready(case._write, case._con, unready, read)  # the next run maps what this read
    return run_id


def _window(since: DateLike | None, until: DateLike | None) -> dict[str, Any] | None:
    """``{"since": "YYYY-MM-DD" or None, "until": ...}``, checked; None without either."""
    if since is None and until is None:
        return None
    days = {"since": _day("since", since), "until": _day("until", until)}
    if days["since"] and days["until"] and days["since"] > days["until"]:
        raise InputError(
            f"since={days['since']} is after until={days['until']}: the window is empty"
        )
    return days


def _day(name: str, value: DateLike | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise InputError(f"{name}={value!r} is not a day; write it as YYYY-MM-DD") from None


def _within(frame: pd.DataFrame, window: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The waybills shipped within ``window`` and the window with the count left out.

    ``shipped_at`` is categorical (one category per day): the test runs on the days, the
    rows take it through their codes (-1, no date: outside)."""
    dates = frame["shipped_at"]
    days = pd.DatetimeIndex(dates.cat.categories)
    inside = np.ones(len(days), dtype=bool)
    if window["since"]:
        inside &= days >= pd.Timestamp(window["since"])
    if window["until"]:
        inside &= days < pd.Timestamp(window["until"]) + pd.Timedelta(days=1)
    codes = dates.cat.codes.to_numpy()
    keep = np.append(inside, False)[codes]  # code -1 takes the appended False
    n_outside = int(len(keep) - np.count_nonzero(keep))
    if not keep.any():
        raise InputError(
            f"no waybills between {window['since'] or 'the first'} and "
            f"{window['until'] or 'the last'} (of {len(keep):,}); widen the window"
        )
    return frame[keep].reset_index(drop=True), {**window, "n_outside": n_outside}


class _Runs(Protocol):
    """What comparing runs reads of a case: a case file or a team case."""

    def runs(self) -> pd.DataFrame: ...
    def sites(self, run_id: str | None = None) -> pd.DataFrame: ...


def compare_runs(case: _Runs, before: str, after: str, **options: Any) -> pd.DataFrame:
    """The sites of run ``after`` against those of run ``before``: appeared, vanished,
    grew, shrank or steady (see :func:`workbench.sites._compare.compare_sites`)."""
    from workbench.sites._compare import compare_sites

    known = case.runs()["run_id"].tolist()
    for name, run in (("before", before), ("after", after)):
        if run not in known:
            listed = ", ".join(known) or "none yet"
            raise NotFoundError(f"{name}={run!r} is not a run of this case (runs: {listed})")
    return compare_sites(case.sites(before), case.sites(after), **options)
