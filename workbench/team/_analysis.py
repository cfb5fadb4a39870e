"""Seller networks and site runs on a team case: the case file's code, the team store's rows.

The waybills a site run reads are the case's GeoParquet parts, kept byte for byte in the
team store: they come as Arrow through ADBC's PostgreSQL driver (one binary COPY of their
bytes, 26 MB at 1M waybills) and the needed columns are read from them by the very code
that reads a case file's parts (:func:`workbench.case._site_input._read`), so the finder
gets the same rows in the same order as the same categoricals. That order matters: sums
of declared values are floating point, and rows read from ``waybills`` in another order
gave the same sites with values differing in the last digits. The sellers are linked by
:func:`workbench.networks.link_sellers` and the sites found by
:class:`workbench.sites.SiteFinder`, as for a case file, so the same exports give the same
networks and sites, value for value. What they found is stored in the team store in
one transaction per step, holding the case's audit-chain lock and ending with the step's
entry (``link sellers``, ``find sites``) as the connected role, with the digests of what
it wrote. The database lets only ``workbench_ingest`` (the analyst) store them.

Not (yet) on a team case: the cross-reference index a case file keeps beside its
networks (``xref_index``), and clustering on a Dask cluster reads the same frame.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.case import audit as audit_log
from workbench.errors import NotFoundError
from workbench.progress import Progress, step
from workbench.team import _audit
from workbench.team._schema import TABLES
from workbench.team._store import refusals, require_right

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.networks._link import Networks
    from workbench.sites._finder import SiteFinder
    from workbench.team._case import TeamCase

__all__ = [
    "find_sites",
    "link_sellers",
    "read_table",
    "relink",
    "save_networks",
    "save_sites",
    "site_input",
]

_RUN_TABLES = ["runs", "sites", "site_areas", "site_points", "site_activity"]


# -- reading -----------------------------------------------------------------------------
def read_table(con: Any, case_id: int, table: str) -> pd.DataFrame:
    """A curated table of the case as a case file's ``Case.table(name, geometry=False)``
    gives it: its columns but ``fid`` and ``geom``, in ``fid`` order, dates parsed."""
    from workbench.case._io import typed

    columns = [c for c in TABLES[table] if c not in {"fid", "geom"}]
    listed = ", ".join(f'"{c}"' for c in columns)
    cursor = con.execute(
        f'SELECT {listed} FROM "{table}" WHERE case_id = %s ORDER BY fid',  # noqa: S608
        (case_id,),
    )
    frame = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
    con.commit()
    return typed(frame)


def arrow_query(conninfo: str, sql: str, *params: Any) -> pa.Table:
    """Run ``sql`` through ADBC's PostgreSQL driver; the result as an Arrow table (without
    parameters the driver reads it with a binary COPY)."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(conninfo) as con, con.cursor() as cursor:
        cursor.execute(sql, params or None)
        return cursor.fetch_arrow_table()


def waybill_parts(conninfo: str, case_id: int) -> list[tuple[pa.Buffer, np.ndarray]]:
    """The case's GeoParquet parts in part order, each as its bytes (read as Arrow through
    ADBC, in one binary COPY) and its replaced rows, as a case file lists its parts."""
    import pyarrow as pa

    sql = (
        "SELECT p.part_id, d.rows AS deleted, f.data FROM waybill_parts p "  # noqa: S608
        "JOIN waybill_files f ON f.case_id = p.case_id AND f.file = p.file "
        "LEFT JOIN waybill_deletes d ON d.case_id = p.case_id AND d.part_id = p.part_id "
        f"WHERE p.case_id = {int(case_id)} ORDER BY p.part_id, f.chunk"
    )
    table = arrow_query(conninfo, sql)
    ids = table.column("part_id").to_numpy()
    out = []
    for part_id in dict.fromkeys(ids.tolist()):
        rows = np.flatnonzero(ids == part_id)
        data = table.column("data").take(pa.array(rows))
        deleted = table.column("deleted")[int(rows[0])].as_py()
        gone = np.frombuffer(deleted, "<u4").astype(np.int64) if deleted else np.empty(0, np.int64)
        out.append((pa.py_buffer(b"".join(v.as_py() for v in data)), gone))
    return out


def site_input(conninfo: str, case_id: int) -> pd.DataFrame:
    """The waybill columns the site finder uses, as a case file's ``Case.site_input()``
    gives them: the same parts read by the same code (the same rows, in the same order, as
    the same categoricals), so a run on the team case adds up exactly as on the file."""
    import pyarrow as pa

    from workbench.case._site_input import _read

    parts = waybill_parts(conninfo, case_id)
    return _read([(pa.BufferReader(buffer), gone) for buffer, gone in parts])


def _shipments_for_summary(conninfo: str, case_id: int) -> pd.DataFrame:
    """The waybill columns a linking's summary reads (``Case.waybills`` of them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from workbench.case._io import typed

    columns = ["seller_id", "brand", "shipped_at", "lat", "lon"]
    tables = []
    for buffer, gone in waybill_parts(conninfo, case_id):
        source = pq.ParquetFile(pa.BufferReader(buffer), read_dictionary=["seller_id", "brand"])
        table = source.read(columns=columns)
        if len(gone):
            table = table.filter(pa.array(~np.isin(np.arange(table.num_rows), gone)))
        tables.append(table)
    table = pa.concat_tables(tables, promote_options="permissive").unify_dictionaries()
    return typed(table.to_pandas(split_blocks=True, self_destruct=True))


def networks_current(con: Any, case_id: int) -> bool:
    """Whether the stored networks were linked after the last ingest of sellers or
    identifiers (as :func:`workbench.case.audit.networks_current` decides for a file)."""
    rows = con.execute(
        "SELECT seq, action, parameters FROM audit WHERE case_id = %s AND action IN "
        "('ingest', 'link sellers')",
        (case_id,),
    ).fetchall()
    con.commit()
    return audit_log.linked_after_inputs(rows)


# -- writing -----------------------------------------------------------------------------
def _copy(con: Any, table: str, case_id: int, columns: dict[str, list[Any]]) -> None:
    """COPY column lists into ``table`` with new fids (``geom``: the GeoPackage blob)."""
    first = con.execute(
        f'SELECT coalesce(max(fid), 0) + 1 FROM "{table}" WHERE case_id = %s',  # noqa: S608
        (case_id,),
    ).fetchone()[0]
    names = ["gpkg_geom" if c == "geom" else c for c in columns]
    listed = ", ".join(f'"{c}"' for c in names)
    values = [_sqlite_values(v) for v in columns.values()]
    if "geom" not in columns:  # no blobs: Arrow writes the rows as CSV, no Python per row
        import pyarrow as pa
        import pyarrow.csv as pcsv

        n = len(values[0]) if values else 0
        fids = np.arange(int(first), int(first) + n, dtype=np.int64)
        arrays = [pa.array(np.full(n, case_id, np.int64)), pa.array(fids)]
        arrays += [pa.array(v) if any(x is not None for x in v) else pa.nulls(n) for v in values]
        out = pa.BufferOutputStream()
        options = pcsv.WriteOptions(include_header=False, quoting_style="all_valid")
        pcsv.write_csv(pa.Table.from_arrays(arrays, names=["case_id", "fid", *names]), out, options)
        sql = f'COPY "{table}" (case_id, fid, {listed}) FROM STDIN (FORMAT csv)'
        with con.cursor().copy(sql) as copy:
            copy.write(out.getvalue())
        return
    rows = zip(*values, strict=True)
    with con.cursor().copy(f'COPY "{table}" (case_id, fid, {listed}) FROM STDIN') as copy:
        for fid, row in enumerate(rows, start=int(first)):
            copy.write_row((case_id, fid, *row))


def _sqlite_values(values: list[Any]) -> list[Any]:
    """Values as SQLite stores them (a boolean as 0 or 1), so both stores hash the same."""
    if any(isinstance(v, bool) for v in values):
        return [int(v) if isinstance(v, bool) else v for v in values]
    return values


def save_networks(team: TeamCase, networks: Networks) -> int:
    """Replace the team case's networks with a linking result; returns its audit entry."""
    from workbench.case._io import python_values

    con, case_id = team._con, team.case_id
    membership, links = networks.membership, networks.links
    written = ["networks", "network_links"]
    parameters = {**networks.parameters, "n_networks": len(networks.summary)}
    with refusals(con), con.transaction():
        _audit.lock_chain(con, case_id)
        _audit.check_unchanged(con, case_id, written)
        for table in written:
            con.execute(f'DELETE FROM "{table}" WHERE case_id = %s', (case_id,))  # noqa: S608
        _copy(
            con,
            "networks",
            case_id,
            {str(c): python_values(membership[c]) for c in membership.columns},
        )
        cols = ["network_id", "seller_id", "kind", "value", "value_norm"]
        _copy(con, "network_links", case_id, {c: python_values(links[c]) for c in cols})
        seq, _ = _audit.append(
            con,
            case_id,
            action="link sellers",
            parameters=parameters,
            state=_audit.state_of(con, case_id, written),
        )
    return seq


def save_sites(team: TeamCase, finder: SiteFinder, *, window: dict[str, Any] | None = None) -> str:
    """Store a clustering run and its sites in the team case; an identical earlier run is
    reused (as a case file does)."""
    from workbench.case._io import python_values
    from workbench.case._sites import site_rows

    con, case_id = team._con, team.case_id
    run_id = str(finder.run_id_)
    params = {
        **finder.get_params(),
        "n_excluded": finder.n_excluded_,
        "excluded": finder.excluded_,
        **({"window": window} if window is not None else {}),
    }
    with refusals(con), con.transaction():
        _audit.lock_chain(con, case_id)
        exists = con.execute(
            "SELECT 1 FROM runs WHERE case_id = %s AND run_id = %s", (case_id, run_id)
        ).fetchone()
        entry = {"run_id": run_id, **params, "reused": bool(exists)}
        if exists:
            _audit.append(con, case_id, action="find sites", parameters=entry)
            return run_id
        _audit.check_unchanged(con, case_id, _RUN_TABLES, run=run_id)
        latest = _audit.head(con, case_id)
        seq = (latest[0] if latest else 0) + 1
        con.execute(
            "INSERT INTO runs (case_id, fid, run_id, kind, created_at, actor, parameters, "
            "n_sites, audit_seq) SELECT %s, coalesce(max(fid), 0) + 1, %s, 'sites', "
            "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
            "current_user, %s, %s, %s FROM runs WHERE case_id = %s",
            (case_id, run_id, json.dumps(params), len(finder.sites_), seq, case_id),
        )
        points, areas = site_rows(finder.sites_)
        _copy(con, "sites", case_id, points)
        _copy(con, "site_areas", case_id, areas)
        pts = finder.site_points_.assign(run_id=run_id)
        cols = ["run_id", "site_id", "lat", "lon", "n_shipments"]
        _copy(con, "site_points", case_id, {c: python_values(pts[c]) for c in cols})
        act = finder.activity_.assign(
            run_id=run_id, week=finder.activity_["week"].dt.strftime("%Y-%m-%d")
        )
        cols = ["run_id", "site_id", "week", "n_shipments", "value_cny"]
        _copy(con, "site_activity", case_id, {c: python_values(act[c]) for c in cols})
        _audit.append(
            con,
            case_id,
            action="find sites",
            parameters=entry,
            state=_audit.state_of(con, case_id, _RUN_TABLES, run=run_id),
        )
    return run_id


# -- the steps -----------------------------------------------------------------------------
def link_sellers(team: TeamCase, **params: Any) -> Networks:
    """Link the team case's accounts into networks, store them and return them (as
    ``Case.link_sellers``: ``params`` go to :func:`workbench.networks.link_sellers`)."""
    from workbench.networks import _link

    con, case_id = team._con, team.case_id
    require_right(con, "INSERT", "networks", step="linking sellers", role="workbench_ingest")
    with _audit.ingests_held_off(con, case_id):  # what is read is what the entry follows
        sellers = read_table(con, case_id, "sellers")
        networks = _link.link_sellers(
            sellers,
            read_table(con, case_id, "identifiers"),
            shipments=_shipments_for_summary(team.target.conninfo, case_id),
            evidence=read_table(con, case_id, "evidence"),
            **params,
        )
        save_networks(team, networks)
    return networks


def link_options(con: Any, case_id: int) -> dict[str, Any]:
    """The options the case's last linking ran with, as
    :func:`workbench.case.audit.link_options` reads them from a case file's log."""
    row = con.execute(
        "SELECT parameters FROM audit WHERE case_id = %s AND action = 'link sellers' "
        "ORDER BY seq DESC LIMIT 1",
        (case_id,),
    ).fetchone()
    con.commit()
    return audit_log.options_of_linking(None if row is None else row[0])


def relink(team: TeamCase) -> Networks | None:
    """After an ingest of sellers or identifiers: link the accounts again with the options
    of the last linking and store the networks (as a case file's ingest does), so they
    always match the accounts. None when the case has no sellers."""
    from workbench.networks import _link

    con, case_id = team._con, team.case_id
    with _audit.ingests_held_off(con, case_id):
        sellers = read_table(con, case_id, "sellers")
        if sellers.empty:
            return None
        options = link_options(con, case_id)
        networks = _link.link_sellers(sellers, read_table(con, case_id, "identifiers"), **options)
        save_networks(team, networks)
    return networks


def find_sites(
    team: TeamCase,
    radius_m: float = 300.0,
    *,
    max_accounts: int | None = None,
    since: Any = None,
    until: Any = None,
    progress: Progress | None = None,
    client: Any = None,
    **params: Any,
) -> str:
    """Cluster the team case's waybills and store the run; returns the run id (as
    ``Case.find_sites``, with the same steps, options and result). With ``client`` (a
    ``distributed.Client``) the frame read here is clustered on the cluster: its workers
    do not read the parts themselves, as they do for a case file."""
    from workbench.case._analysis import _window

    con, case_id = team._con, team.case_id
    require_right(con, "INSERT", "runs", step="finding sites", role="workbench_ingest")
    if not team.n_waybills():
        raise NotFoundError(
            f"team case {team.target} has no shipments yet; ingest a shipments file first "
            "(workbench ingest URL --shipments FILE)"
        )
    window = _window(since, until)
    # no ingest is recorded between the first read and the run's entry: the run's
    # audit_seq then tells which waybills it saw (a site's waybills are read by it)
    with _audit.ingests_held_off(con, case_id):
        return _find_sites(team, radius_m, window, max_accounts, progress, client, params)


def _find_sites(
    team: TeamCase,
    radius_m: float,
    window: Any,
    max_accounts: int | None,
    progress: Progress | None,
    client: Any,
    params: dict[str, Any],
) -> str:
    from workbench.case._analysis import _within
    from workbench.sites._finder import SiteFinder, load_kernels_ahead

    con, case_id = team._con, team.case_id
    load_kernels_ahead()  # on threads while the sellers are linked: the kernels load
    pool = ThreadPoolExecutor(1, thread_name_prefix="workbench-team-site-input")
    shipments = pool.submit(site_input, team.target.conninfo, case_id)  # and waybills are read
    pool.shutdown(wait=False)
    if max_accounts is None and networks_current(con, case_id):
        step(progress, "using the stored seller networks (linked after the last ingest)")
        membership = read_table(con, case_id, "networks")
    else:
        from workbench.networks import _link

        step(progress, "linking sellers through shared identifiers")
        options = link_options(con, case_id)  # the last linking's, as an ingest does
        if max_accounts is not None:
            options["max_accounts"] = max_accounts
        networks = _link.link_sellers(
            read_table(con, case_id, "sellers"), read_table(con, case_id, "identifiers"), **options
        )
        save_networks(team, networks)
        membership = networks.membership
        del networks
    step(progress, "reading the shipments")
    frame = shipments.result()
    if window is not None:
        frame, window = _within(frame, window)
    finder = SiteFinder(radius_m, **params).fit(
        frame,
        networks=membership,
        evidence=read_table(con, case_id, "evidence"),
        progress=progress,
        client=client,
    )
    del frame
    step(progress, "storing the run")
    return save_sites(team, finder, window=window)
