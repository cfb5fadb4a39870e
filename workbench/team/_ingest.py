"""Ingest into a team case: the case file's intake, stored in the team store's tables.

The files go through the same intake as a case file's ingest (:class:`IntakeStream`: the
same checks, mapping files, repairs and quarantine, chunk by chunk), and the chunks are
shaped by the same code (``stored_columns``, ``staged_tables``, ``PartsWriter``); only the
storing differs. Waybills become GeoParquet parts exactly as a case file writes them, kept
byte for byte in ``waybill_files`` and listed in ``waybill_parts``; while the file is read,
each chunk's rows also stream with COPY into ``waybills`` (their PostGIS points computed
there), on a writer thread, so the server loads a chunk while the next one is checked.
The other tables' rows are copied into a temporary table and merged with the case file's
rules: a row whose key (seller_id, evidence_id) is stored replaces it, an identifier or
location already stored is kept once, and a file's earlier quarantine goes. A waybill
number already stored is replaced: its place in its part is marked in ``waybill_deletes``
(a part with no row left is dropped) and its row leaves ``waybills``.

Everything is one transaction that ends with the ``ingest`` entry, written as the connected
role with the digests of what it wrote, so ``workbench case verify`` and a pull check the
rows. It holds the case's ingest lock (:func:`workbench.team._audit.lock_ingests`) from
the start and the audit chain only for its entry: reviews and exports are recorded while
the files are read (their entries come first), while other ingests, linkings and site
runs of the case wait. The rows carry the number the ingest took at its start; when
entries came first the ``ingest`` entry names it (``rows_seq``). Only a role with
``workbench_ingest`` may ingest (checked before a file is read; the database refuses it
anyway).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.ahead import ahead
from workbench.arrays import release_unused
from workbench.team import _audit
from workbench.team._schema import _PG_TYPE, _V1_COLUMNS, _columns
from workbench.team._store import next_fid, refusals, require_right
from workbench.team._waybills import store_parts, waybill_copy, waybill_csv

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench.intake._table import IntakeResult

__all__ = ["create_case", "ingest_items"]

Item = tuple[str, Iterable["IntakeResult"], Callable[[], dict[str, Any]]]
# the case file's UNIQUE constraints on rows without a key (workbench/case/_schema.py):
# an ingest keeps such a row once (SQLite's ON CONFLICT DO NOTHING)
_UNIQUE = {
    "identifiers": ("seller_id", "kind", "value"),
    "locations": ("seller_id", "kind", "address"),
}


def create_case(con: Any, name: str) -> int:
    """Create the empty open case ``name`` with its ``create case`` entry (recording every
    table, the baseline later steps build on); returns its case_id."""
    from workbench.case._schema import SCHEMA_VERSION
    from workbench.case._state import STATE_TABLES

    with refusals(con), con.transaction():
        case_id = int(
            con.execute(
                "INSERT INTO cases (name, case_schema, source) VALUES (%s, %s, 'workbench') "
                "RETURNING case_id",
                (name, SCHEMA_VERSION),
            ).fetchone()[0]
        )
        _audit.append(
            con,
            case_id,
            action="create case",
            parameters={"from_schema": 0, "to_schema": SCHEMA_VERSION},
            state=_audit.state_of(con, case_id, STATE_TABLES),
        )
        con.execute("UPDATE cases SET status = 'open' WHERE case_id = %s", (case_id,))
    return case_id


def ingest_items(
    con: Any, case_id: int, items: Sequence[Item]
) -> list[tuple[str, dict[str, int], dict[str, Any]]]:
    """Read, check and store the intake streams of ``items`` (table, chunks, final report)
    in one transaction; returns (table, counts, report) per item, as a case file's ingest.

    The transaction holds the case's ingest lock from the start and the audit chain only
    for the entry, so reviews of the case go on while the files are read."""
    from workbench.case._staging import scratch_folder, sweep_stale_scratch

    for table in {t for t, _, _ in items}:
        target = "waybills" if table == "shipments" else table
        require_right(con, "INSERT", target, step="ingesting", role="workbench_ingest")
    sweep_stale_scratch()
    written = sorted({t for t, _, _ in items} | {"quarantine"})
    with scratch_folder() as scratch, refusals(con), con.transaction():
        _audit.lock_ingests(con, case_id)  # one ingest at a time; the chain stays free
        _audit.check_unchanged(con, case_id, written)
        latest = _audit.head(con, case_id)
        seq = (latest[0] if latest else 0) + 1
        plans = [
            _read(con, case_id, seq, item, scratch / f"parts-{i}", i)
            for i, item in enumerate(items)
        ]
        return _store_all(con, case_id, seq, plans, written)


def _read(con: Any, case_id: int, seq: int, item: Item, folder: Path, i: int) -> tuple[Any, ...]:
    """Read one file's chunks: waybills into parts and, as they come, into ``waybills``
    (COPY on a writer thread, so the server loads rows while the next chunk is checked);
    the other tables' rows and every quarantine kept for the end."""
    from workbench.case._part_write import PartsWriter
    from workbench.case._staging import stored_columns

    table, chunks, final_report = item
    staged: dict[str, list[pa.Table]] = {"data": [], "quarantine": []}
    columns: list[str] = []
    n_clean = 0
    with contextlib.ExitStack() as stack:
        writer = copy = None
        if table == "shipments":
            folder.mkdir()
            writer = PartsWriter(folder)
            copy = stack.enter_context(waybill_copy(con))
        for chunk in ahead(chunks):  # the next chunk is read while this one is stored
            columns = columns or stored_columns(chunk)
            _stage(i, chunk, writer, staged)
            if copy is not None and len(chunk.frame):
                copy.write(waybill_csv(chunk.frame, case_id, seq))
            n_clean += len(chunk.frame)
            del chunk
            release_unused()
        # the parts are sorted and written while the server still loads the last rows
        infos = writer.finish() if writer is not None else []
    return table, columns, final_report(), n_clean, staged, infos


def _stage(i: int, chunk: IntakeResult, writer: Any, staged: dict[str, list[Any]]) -> None:
    from workbench.case._staging import staged_tables

    tables = staged_tables(i, chunk, data=writer is None)
    if writer is not None:
        writer.add(chunk.frame)
    if f"data_{i}" in tables:
        staged["data"].append(tables[f"data_{i}"])
    if f"quarantine_{i}" in tables:
        staged["quarantine"].append(tables[f"quarantine_{i}"])


def _store_all(
    con: Any, case_id: int, seq: int, plans: list[tuple[Any, ...]], written: list[str]
) -> list[tuple[str, dict[str, int], dict[str, Any]]]:
    from workbench.case._case import _AUDITED_REPORT

    done = []
    for table, columns, report, n_clean, staged, infos in plans:
        _store_quarantine(con, case_id, table, report, staged["quarantine"], seq)
        if table == "shipments":
            new = n_clean - store_parts(con, case_id, infos, seq)
        else:
            new = _store_rows(con, case_id, table, columns, staged["data"], seq)
        counts = {
            "rows_read": int(report["rows_read"]),
            "new": new,
            "replaced_or_already_present": n_clean - new,
            "quarantined": sum(t.num_rows for t in staged["quarantine"]),
        }
        done.append((table, counts, report))
    parameters: dict[str, Any] = {"tables": {table: counts for table, counts, _ in done}}
    state = _audit.state_of(con, case_id, written)  # only ingests write them: none meanwhile
    _audit.lock_chain(con, case_id)  # to the commit: the entry follows the head read here
    latest = _audit.head(con, case_id)
    if (latest[0] if latest else 0) + 1 != seq:  # reviews or exports were recorded meanwhile
        parameters["rows_seq"] = seq
    _audit.append(
        con,
        case_id,
        action="ingest",
        parameters=parameters,
        inputs=[{k: report.get(k) for k in _AUDITED_REPORT} for _, _, report in done],
        state=state,
    )
    return done


def _python(table: pa.Table) -> list[list[Any]]:
    """Columns of an Arrow table as Python lists, NaN as NULL (as SQLite stores it)."""
    import pyarrow as pa

    out = []
    for column in table.columns:
        values = column.to_pylist()
        if pa.types.is_floating(column.type):
            values = [None if v is not None and math.isnan(v) else v for v in values]
        out.append(values)
    return out


def _store_quarantine(
    con: Any, case_id: int, table: str, report: dict[str, Any], staged: list[Any], seq: int
) -> None:
    from workbench.case._staging import QUARANTINE_STAGED

    # the quarantine holds each file's rejects once: those of its latest ingest
    con.execute(
        'DELETE FROM quarantine WHERE case_id = %s AND "table" = %s AND source_sha256 = %s',
        (case_id, table, report.get("sha256")),
    )
    fid = next_fid(con, case_id, "quarantine")
    listed = ", ".join(f'"{c}"' for c in QUARANTINE_STAGED)
    sql = f"COPY quarantine (case_id, fid, {listed}, ingest_seq) FROM STDIN"
    with con.cursor().copy(sql) as copy:
        for arrow in staged:
            for row in zip(*_python(arrow), strict=True):
                copy.write_row((case_id, fid, *row, seq))
                fid += 1


def _store_rows(
    con: Any, case_id: int, table: str, columns: list[str], staged: list[Any], seq: int
) -> int:
    """Merge an input table's rows into the case as the case file does; returns how many
    are new."""
    from workbench.schema import KEY_COLUMNS

    if not staged or not columns:
        return 0
    kinds = dict(_columns(_V1_COLUMNS[table]))
    targets = ["gpkg_geom" if c == "geom" else c for c in columns]
    listed = ", ".join(f'"{c}"' for c in targets)
    defs = ", ".join(
        f'"{t}" {"bytea" if c == "geom" else _PG_TYPE[kinds[c]]}'
        for c, t in zip(columns, targets, strict=True)
    )
    con.execute(f"CREATE TEMP TABLE workbench_stage (ord bigint, {defs}) ON COMMIT DROP")
    with con.cursor().copy(f"COPY workbench_stage (ord, {listed}) FROM STDIN") as copy:
        ord_ = 0
        for arrow in staged:
            for row in zip(*_python(arrow.select(columns)), strict=True):
                copy.write_row((ord_, *row))
                ord_ += 1
    key = KEY_COLUMNS.get(table)
    if key:
        sets = ", ".join(f'"{t}" = s."{t}"' for t in targets if t != key)
        con.execute(
            f'UPDATE "{table}" t SET {sets}, ingest_seq = %s FROM workbench_stage s '  # noqa: S608
            f'WHERE t.case_id = %s AND t."{key}" = s."{key}"',
            (seq, case_id),
        )
        unique: tuple[str, ...] = (key,)
    else:
        unique = _UNIQUE.get(table, ())
    new = _insert_new(con, case_id, table, targets, unique, seq)
    con.execute("DROP TABLE workbench_stage")
    return new


def _insert_new(
    con: Any, case_id: int, table: str, targets: list[str], unique: tuple[str, ...], seq: int
) -> int:
    """Insert the staged rows not stored yet (by ``unique``; NULLs never match, as in a
    UNIQUE constraint), each once, in file order, with new fids."""
    listed = ", ".join(f'"{c}"' for c in targets)
    where = "true"
    if unique:
        same = " AND ".join(f't."{c}" = s."{c}"' for c in unique)
        some_null = " OR ".join(f's."{c}" IS NULL' for c in unique)
        parts = ", ".join(f's."{c}"' for c in unique)
        # names from the schema, never from the data (the values go as parameters)
        where = (
            f'(s.dup = 1 OR {some_null}) AND NOT EXISTS (SELECT 1 FROM "{table}" t '  # noqa: S608
            f"WHERE t.case_id = %(case)s AND {same})"
        )
        source = (
            f"(SELECT s.*, row_number() OVER (PARTITION BY {parts} ORDER BY s.ord) AS dup "  # noqa: S608
            "FROM workbench_stage s) s"
        )
    else:
        source = "workbench_stage s"
    chosen = ", ".join(f's."{c}"' for c in targets)
    sql = (
        f'INSERT INTO "{table}" (case_id, fid, {listed}, ingest_seq) '  # noqa: S608
        f"SELECT %(case)s, %(fid)s + row_number() OVER (ORDER BY ord) - 1, {listed}, %(seq)s "
        f"FROM (SELECT s.ord, {chosen} FROM {source} WHERE {where}) s ORDER BY ord"
    )
    fid = next_fid(con, case_id, table)
    cursor = con.execute(sql, {"case": case_id, "fid": fid, "seq": seq})
    return int(cursor.rowcount)
