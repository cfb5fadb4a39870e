"""The audit log's digests of a case's tables, computed from the team store's rows.

The same digests as :mod:`workbench.case._state` computes from the GeoPackage: the same
columns in the same order (the GeoPackage blob ``gpkg_geom`` read as ``geom``), rows in
``fid`` order, hashed by the same function (:func:`workbench.case._state._hash`) in the
same batches; the team store keeps SQLite's value types (bigint, double precision, text,
bytea), so equal rows give equal digests on both sides. The waybills' digest is over
their files as :func:`workbench.case._parts.segment_digests` takes them, the files read
from ``waybill_files``.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Iterator
from typing import Any

from workbench.case import _state
from workbench.team._schema import TABLES

__all__ = ["current_digest", "file_chunks", "run_digest", "select_list"]


def select_list(table: str) -> str:
    """The table's GeoPackage columns, in their order, as a SELECT list."""
    return ", ".join('gpkg_geom AS "geom"' if c == "geom" else f'"{c}"' for c in TABLES[table])


def _hash(con: Any, sql: str, params: tuple[Any, ...]) -> str | None:
    cursor = con.cursor()
    cursor.execute(sql, params)
    first = cursor.fetchmany(1)
    if not first:
        return None
    return _state._hash(cursor, first)


def _plain(con: Any, case_id: int, table: str, where: str = "") -> str:
    if table == "settings":
        sql = (
            "SELECT key, value FROM case_meta WHERE case_id = %s AND key LIKE 'setting:%%' "
            "ORDER BY key"
        )
    else:
        sql = f'SELECT {select_list(table)} FROM "{table}" WHERE case_id = %s{where} ORDER BY fid'  # noqa: S608
    cursor = con.cursor()
    cursor.execute(sql, (case_id,))
    return _state._hash(cursor)


def _grouped(con: Any, case_id: int, table: str, column: str, run: bool) -> dict[str, str]:
    values = [
        r[0]
        for r in con.execute(
            f'SELECT DISTINCT "{column}" FROM "{table}" WHERE case_id = %s',  # noqa: S608
            (case_id,),
        )
    ]
    name = str if run else _state._key
    out = {}
    for value in sorted(set(values), key=name):
        sql = (
            f'SELECT {select_list(table)} FROM "{table}" WHERE case_id = %s '  # noqa: S608
            f'AND "{column}" IS NOT DISTINCT FROM %s ORDER BY fid'
        )
        digest = _hash(con, sql, (case_id, value))
        if digest is not None:
            out[name(value)] = digest
    return out


def run_digest(con: Any, case_id: int, table: str, run: str) -> str | None:
    """The digest of one run's rows of a table of site runs (None: the run has none)."""
    sql = (
        f'SELECT {select_list(table)} FROM "{table}" WHERE case_id = %s '  # noqa: S608
        "AND run_id = %s ORDER BY fid"
    )
    return _hash(con, sql, (case_id, run))


def file_chunks(con: Any, case_id: int, file: str) -> Iterator[bytes]:
    """A waybill file as stored in the team store, a chunk at a time (none: not there)."""
    n = con.execute(
        "SELECT count(*) FROM waybill_files WHERE case_id = %s AND file = %s", (case_id, file)
    ).fetchone()[0]
    for chunk in range(int(n)):
        row = con.execute(
            "SELECT data FROM waybill_files WHERE case_id = %s AND file = %s AND chunk = %s",
            (case_id, file, chunk),
        ).fetchone()
        yield bytes(row[0])


def _sha(con: Any, case_id: int, file: str) -> str:
    digest, found = hashlib.sha256(), False
    for data in file_chunks(con, case_id, file):
        digest.update(data)
        found = True
    return digest.hexdigest() if found else "missing"


def _waybills(con: Any, case_id: int) -> dict[str, str]:
    by_seq: dict[int | None, list[Any]] = {}
    rows = con.execute(
        "SELECT p.part_id, p.file, p.ingest_seq, p.rows, p.sha256, d.rows, c.file, c.sha256 "
        "FROM waybill_parts p LEFT JOIN waybill_deletes d ON d.case_id = p.case_id AND "
        "d.part_id = p.part_id LEFT JOIN waybill_cells c ON c.case_id = p.case_id AND "
        "c.part_id = p.part_id WHERE p.case_id = %s ORDER BY p.part_id",
        (case_id,),
    ).fetchall()
    for part_id, file, seq, n, sha, deleted, cells, cells_sha in rows:
        actual = _sha(con, case_id, file)
        entry: tuple[Any, ...] = (int(part_id), file, n, sha, actual, bytes(deleted or b""))
        if cells is not None and _sha(con, case_id, cells) != cells_sha:
            entry = (*entry, f"altered {cells}")
        by_seq.setdefault(None if seq is None else int(seq), []).append(entry)
    return {
        "none" if seq is None else str(seq): hashlib.sha256(marshal.dumps(parts, 2)).hexdigest()
        for seq, parts in by_seq.items()
    }


def current_digest(con: Any, case_id: int, table: str, recorded: Any, where: str = "") -> Any:
    """The digest of ``table`` now, in the shape the log recorded it (``recorded``):
    per ingest for the input tables, per run (or whole) for the tables of site runs,
    whole for the others. ``where``: an extra condition on the rows (plain tables)."""
    if table == "shipments":
        return _waybills(con, case_id)
    if table in _state.SEGMENTED:
        return _grouped(con, case_id, table, "ingest_seq", run=False)
    if table in _state.RUN_TABLES and isinstance(recorded, dict):
        return _grouped(con, case_id, table, "run_id", run=True)
    return _plain(con, case_id, table, where)
