"""Waybill counts per place, seller, brand and day: what the explorer draws (private to
``case``).

A map never shows single waybills at platform scale: it shows how many ship from each
point, by whom, filtered by brand, network and dates. So each waybill part gets a small
companion file, ``cells-<id>.parquet``, written with it: one row per (lat, lon,
seller_id, brand, day) with the number of waybills ``n``. On the demo's 10M waybills that
is 3.8M rows instead of 10M, with four narrow columns instead of sixteen, and reading it
needs no grouping. The companions are listed in ``waybill_cells`` with their SHA-256 and
covered by the audit log's digests like the parts.

A part with replaced rows (``waybill_deletes``) or without a companion (a case made before
companions existed) is counted from its rows when read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.case._listing import Listed, listing, retrying

__all__ = ["CELL_SCHEMA", "cells_name", "cells_of", "read_cells"]

_KEYS = ["lat", "lon", "seller_id", "brand", "day"]
_SOURCE = ["lat", "lon", "seller_id", "brand", "shipped_at"]
CELL_SCHEMA = pa.schema(
    [
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("seller_id", pa.string()),
        ("brand", pa.string()),
        ("day", pa.date32()),
        ("n", pa.int32()),
    ]
)


def cells_name(part_file: str) -> str:
    """``part-<id>.parquet`` -> ``cells-<id>.parquet`` (not ``part-*``: a reader of the
    folder's waybills globs those)."""
    return "cells-" + part_file.removeprefix("part-")


def cells_of(table: pa.Table) -> pa.Table:
    """The counts of ``table``'s waybills per (lat, lon, seller_id, brand, day).

    Rows without coordinates are counted too (lat and lon null), so the explorer can say
    how many waybills it cannot place."""
    source = table.select(_SOURCE)
    day = source.column("shipped_at").cast(pa.date32())
    source = source.set_column(4, "day", day)
    for name in ("seller_id", "brand"):
        column = source.column(name)
        if pa.types.is_dictionary(column.type):
            source = source.set_column(
                source.schema.get_field_index(name), name, column.cast(pa.string())
            )
    grouped = source.group_by(_KEYS, use_threads=False).aggregate([([], "count_all")])
    counts = grouped.column("count_all").cast(pa.int32())
    return pa.table([*(grouped.column(k) for k in _KEYS), counts], schema=CELL_SCHEMA)


def read_cells(con: sqlite3.Connection, folder: Path) -> pa.Table:
    """The counts over every live waybill of the case open on ``con``, whose parts are in
    ``folder`` (one snapshot of the listing). Rows of one cell can repeat (a cell in
    several parts or row groups): sum ``n``. seller_id and brand come dictionary-encoded,
    one dictionary per column."""
    tables = retrying(lambda: [_read(folder, part) for part in listing(con)])
    if not tables:
        return _DICT_SCHEMA.empty_table()
    return pa.concat_tables(tables).unify_dictionaries()


_DICT_COLUMNS = ("seller_id", "brand")
_DICT_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in _DICT_COLUMNS else f
        for f in CELL_SCHEMA
    ]
)


def _read(folder: Path, part: Listed) -> pa.Table:
    """One part's cells: its companion, or counted from its live rows."""
    if part.cells is not None and not len(part.deleted):
        return pq.ParquetFile(folder / part.cells, read_dictionary=_DICT_COLUMNS).read()
    table = pq.read_table(folder / part.file, columns=_SOURCE)
    if len(part.deleted):
        keep = np.ones(table.num_rows, dtype=bool)
        keep[part.deleted] = False
        table = table.filter(pa.array(keep))
    counted = pa.concat_tables([cells_of(t) for t in _slices(table)] or [cells_of(table)])
    return counted.cast(_DICT_SCHEMA)


def _slices(table: pa.Table, rows: int = 1_000_000) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows)
