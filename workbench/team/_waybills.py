"""The waybills of an ingest into a team case: rows streamed into ``waybills`` while the
file is read, parts listed and kept byte for byte, stored waybills replaced.

Rows stream with COPY (CSV written by Arrow, on psycopg's queued writer thread) as each
chunk is checked, before the chunks are sorted into parts: they carry their ``ingest_seq``
and no ``part_id`` / ``row_number`` (see :mod:`workbench.team._schema`, version 2). The
parts are the case file's (:class:`workbench.case._part_write.PartsWriter`); a waybill
number already stored is found in the stored parts' files as a case file finds it
(:func:`workbench.case._parts.replacements`), its place marked in ``waybill_deletes`` and
its row dropped from ``waybills``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.team._transfer import _CHUNK, _WAYBILL_COLUMNS

if TYPE_CHECKING:
    from workbench.case._part_write import PartInfo

__all__ = ["store_parts", "waybill_copy", "waybill_csv"]


def waybill_copy(con: Any) -> Any:
    from psycopg.copy import QueuedLibpqWriter

    cursor = con.cursor()
    listed = ", ".join(f'"{c}"' for c in (*_WAYBILL_COLUMNS, "ingest_seq", "case_id"))
    sql = f"COPY waybills ({listed}) FROM STDIN (FORMAT csv)"
    return cursor.copy(sql, writer=QueuedLibpqWriter(cursor))


def waybill_csv(frame: Any, case_id: int, seq: int) -> bytes:
    """A chunk's waybills as the CSV rows COPY takes (the parts' stored columns and types:
    :func:`workbench.case._part_write.to_arrow`), written by Arrow."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from workbench.case._part_write import to_arrow

    table = to_arrow(frame).select(list(_WAYBILL_COLUMNS))
    n = table.num_rows
    table = table.append_column("ingest_seq", pa.array(np.full(n, seq, np.int64)))
    table = table.append_column("case_id", pa.array(np.full(n, case_id, np.int64)))
    out = pa.BufferOutputStream()
    # text quoted (so "" is an empty text and nothing is NULL), numbers and times not: 15%
    # fewer bytes for the server to parse than quoting every value
    pcsv.write_csv(table, out, pcsv.WriteOptions(include_header=False, quoting_style="needed"))
    return bytes(out.getvalue())


def store_parts(con: Any, case_id: int, infos: Sequence[PartInfo], seq: int) -> int:
    """List the new parts and keep their files (their rows are in ``waybills`` already);
    mark the stored waybills they replace. Returns how many were replaced."""
    first = int(
        con.execute(
            "SELECT coalesce(max(part_id), 0) + 1 FROM waybill_parts WHERE case_id = %s",
            (case_id,),
        ).fetchone()[0]
    )
    replaced = _replace(con, case_id, infos, seq) if infos and first > 1 else 0
    for k, info in enumerate(infos):
        part_id = first + k
        _copy_file(con, case_id, info.path)
        min_lat, min_lon, max_lat, max_lon = info.bbox
        con.execute(
            "INSERT INTO waybill_parts (case_id, part_id, file, ingest_seq, rows, sha256, "
            "min_lat, min_lon, max_lat, max_lon, created_at) VALUES (%s, %s, %s, %s, %s, %s, "
            "%s, %s, %s, %s, to_char(clock_timestamp() AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))",
            (case_id, part_id, info.path.name, seq, info.rows, info.sha256, min_lat, min_lon,
             max_lat, max_lon),
        )  # fmt: skip
        if info.cells is not None:
            cells, sha = info.cells
            _copy_file(con, case_id, cells)
            con.execute(
                "INSERT INTO waybill_cells (case_id, part_id, file, sha256) "
                "VALUES (%s, %s, %s, %s)",
                (case_id, part_id, cells.name, sha),
            )
    return replaced


def _copy_file(con: Any, case_id: int, path: Path) -> None:
    """A file into ``waybill_files`` byte for byte (binary COPY: no hex text of it)."""
    sql = "COPY waybill_files (case_id, file, chunk, data) FROM STDIN (FORMAT binary)"
    with con.cursor().copy(sql) as copy, path.open("rb") as handle:
        copy.set_types(["int8", "text", "int4", "bytea"])
        for i, data in enumerate(iter(functools.partial(handle.read, _CHUNK), b"")):
            copy.write_row((case_id, path.name, i, data))


def _replace(con: Any, case_id: int, infos: Sequence[PartInfo], seq: int) -> int:
    """Mark the stored waybills whose numbers the new parts carry as replaced (their places
    in the stored parts' files, as :func:`workbench.case._parts.replacements` finds them),
    drop parts with no row left, and drop the replaced rows from ``waybills``. Parts of
    this ingest (``seq``) are not replaced: two files of one ingest never replace each
    other's rows, as in a case file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from workbench.case._part_write import KEY
    from workbench.team._digest import file_chunks

    keys = pc.unique(
        pa.chunked_array([pq.read_table(i.path, columns=[KEY]).column(KEY) for i in infos])
    )
    stored = con.execute(
        "SELECT p.part_id, p.file, p.rows, d.rows, c.file FROM waybill_parts p "
        "LEFT JOIN waybill_deletes d ON d.case_id = p.case_id AND d.part_id = p.part_id "
        "LEFT JOIN waybill_cells c ON c.case_id = p.case_id AND c.part_id = p.part_id "
        "WHERE p.case_id = %s AND p.ingest_seq IS DISTINCT FROM %s ORDER BY p.part_id",
        (case_id, seq),
    ).fetchall()
    total, numbers = 0, []
    for part_id, file, n, deleted, cells in stored:
        data = pa.py_buffer(b"".join(file_chunks(con, case_id, file)))
        column = pq.read_table(pa.BufferReader(data), columns=[KEY]).column(KEY)
        gone = np.frombuffer(bytes(deleted), "<u4") if deleted else np.empty(0, "<u4")
        hit = np.flatnonzero(pc.is_in(column, value_set=keys).to_numpy(zero_copy_only=False))
        hit = np.setdiff1d(hit, gone)  # rows replaced before are not replaced again
        if not len(hit):
            continue
        total += len(hit)
        numbers += column.take(pa.array(hit)).to_pylist()
        merged = np.union1d(gone, hit).astype("<u4")
        key = (case_id, part_id)
        con.execute("DELETE FROM waybill_deletes WHERE case_id = %s AND part_id = %s", key)
        if len(merged) >= n:  # every row replaced: the part goes
            for table in ("waybill_parts", "waybill_cells"):
                con.execute(
                    f'DELETE FROM "{table}" WHERE case_id = %s AND part_id = %s',  # noqa: S608
                    key,
                )
            con.execute(
                "DELETE FROM waybill_files WHERE case_id = %s AND file = ANY(%s)",
                (case_id, [f for f in (file, cells) if f]),
            )
            continue
        con.execute(
            "INSERT INTO waybill_deletes (case_id, part_id, rows) VALUES (%s, %s, %s)",
            (case_id, part_id, merged.tobytes()),
        )
    if numbers:
        con.execute(
            "DELETE FROM waybills WHERE case_id = %s AND shipment_id = ANY(%s) "
            "AND ingest_seq IS DISTINCT FROM %s",
            (case_id, numbers, seq),
        )
    return total
