"""The waybill columns the site finder reads, as arrays (private to ``case``): NumPy and
Arrow only, no pandas, so ``workbench sites`` can start reading the parts while pandas and
geopandas are still being imported (:func:`start_early_read`).

The parts are read about half a million rows (whole row groups) at a time into arrays of
their final size and type: memory holds the result and a batch or two, never an Arrow
table of every column beside its pandas copy (at 10M waybills that is 0.3 GB instead of
1.2 GB, and the time of faulting in the rest). Strings come dictionary-encoded, so a
column of sellers, brands or precision levels becomes integer codes into one table of
names (the first row group's dictionary, then new names in order of appearance: what
``unify_dictionaries`` gives); dates become codes of days in order of first appearance.
:mod:`workbench.case._site_input` makes the frame.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.ahead import ahead
from workbench.case._listing import listing
from workbench.case._paths import folder_for, resolve_case_path

__all__ = [
    "COLUMNS",
    "FLOATS",
    "STRINGS",
    "Columns",
    "parts_of",
    "read_columns",
    "start_early_read",
    "take_early_read",
]

FLOATS = ("lat", "lon", "value_cny")
STRINGS = ("seller_id", "brand", "precision")  # read dictionary-encoded
COLUMNS = ["seller_id", "lat", "lon", "shipped_at", "value_cny", "brand", "precision"]
BATCH_ROWS = 500_000  # rows read and added at a time (row groups are kept whole)
EARLY_SWITCH_S = 0.0005  # the interpreter's switch interval while reading beside imports

Parts = list[tuple[Any, np.ndarray]]  # each part's file (or buffer) and replaced rows


def parts_of(con: sqlite3.Connection) -> Parts:
    """Each part's file and replaced rows, from one snapshot of the case open on ``con``."""
    for _, name, file in con.execute("PRAGMA database_list"):
        if name == "main":
            folder = folder_for(file)
            return [(folder / part.file, part.deleted) for part in listing(con)]
    raise RuntimeError("the connection has no main database")  # pragma: no cover


# -- reading before the case is opened -----------------------------------------------------
_early: dict[Path, tuple[Parts, Future[Columns]]] = {}


def start_early_read(case: str) -> None:
    """Start reading the site finder's columns of ``case`` (a path, as the user named it)
    on a thread, from a read-only snapshot of its listing, before the case is opened (and
    pandas imported). :func:`take_early_read` hands the result to the run when the case it
    opens lists the same parts; anything unusual (no such case, an older layout) leaves
    the read to the run."""
    try:
        path = resolve_case_path(case).resolve()
        if not path.is_file():
            return
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as con:
            parts = parts_of(con)
    except Exception:
        return
    if not parts:
        return
    previous = sys.getswitchinterval()
    sys.setswitchinterval(EARLY_SWITCH_S)  # the reader waits less for the importing thread

    def read() -> Columns:
        try:
            return read_columns(parts)
        finally:
            sys.setswitchinterval(previous)

    pool = ThreadPoolExecutor(1, thread_name_prefix="workbench-early-read")
    _early[path] = (parts, pool.submit(read))
    pool.shutdown(wait=False)


def take_early_read(con: sqlite3.Connection, parts: Parts) -> Future[Columns] | None:
    """The read :func:`start_early_read` started for the case open on ``con`` if it read
    exactly ``parts`` (the listing the run sees), else None (and it is dropped)."""
    for _, name, file in con.execute("PRAGMA database_list"):
        if name == "main" and file:
            found = _early.pop(Path(file).resolve(), None)
            if found is not None and _same(found[0], parts):
                return found[1]
    return None


def _same(one: Parts, other: Parts) -> bool:
    return len(one) == len(other) and all(
        a == b and np.array_equal(x, y) for (a, x), (b, y) in zip(one, other, strict=True)
    )


def read_columns(parts: Parts) -> Columns:
    """The site finder's columns of ``parts`` (each part's file and replaced rows)."""
    sources = [(pq.ParquetFile(path, read_dictionary=STRINGS), gone) for path, gone in parts]
    out = Columns(sum(source.metadata.num_rows for source, _ in sources))
    for table in ahead(_batches(sources)):  # the next batch is decoded while this one is added
        out.add(table)
    return out


def _batches(sources: list[tuple[pq.ParquetFile, np.ndarray]]) -> Iterator[pa.Table]:
    """The row groups of the parts in order, ``BATCH_ROWS`` or so at a time, replaced rows
    left out; text columns with one dictionary per batch.

    Batches, not single row groups: this runs on a thread while the caller's thread works
    in Python (linking the sellers), and each call into Arrow or NumPy that lets go of the
    GIL may then wait up to the interpreter's switch interval to get it back. Row group by
    row group, 10M waybills took 1.3 s alone and 3.9 s beside a busy Python thread; with
    the switch interval at 50 ms to make the waits stand out, 18.7 s one row group
    (100,000 rows) at a time and 7.6 s in batches of 500,000 (40 MB more at the peak)."""
    for source, gone in sources:
        start = 0
        for groups in _runs(source):
            table = source.read_row_groups(groups, columns=COLUMNS)
            if len(gone):
                keep = ~np.isin(np.arange(start, start + table.num_rows), gone)
                table = table.filter(pa.array(keep))
            start += sum(source.metadata.row_group(g).num_rows for g in groups)
            yield table.unify_dictionaries()


def _runs(source: pq.ParquetFile) -> Iterator[list[int]]:
    """Consecutive row groups of about ``BATCH_ROWS`` rows together (at least one)."""
    run: list[int] = []
    rows = 0
    for group in range(source.num_row_groups):
        run.append(group)
        rows += source.metadata.row_group(group).num_rows
        if rows >= BATCH_ROWS:
            yield run
            run, rows = [], 0
    if run:
        yield run


class Columns:
    """The columns filled a row group at a time (``n``: rows at most)."""

    def __init__(self, n: int) -> None:
        self.rows = 0
        self.floats = {name: np.empty(n) for name in FLOATS}
        self.codes = {name: _Codes(n) for name in (*STRINGS, "shipped_at")}

    def add(self, table: pa.Table) -> None:
        """Add a batch (text columns: one dictionary per column, :func:`_batches`)."""
        lo, hi = self.rows, self.rows + table.num_rows
        for name, values in self.floats.items():
            values[lo:hi] = table.column(name).to_numpy()  # nulls: NaN
        for name in STRINGS:
            self.codes[name].add(_one_chunk(table.column(name)), lo)
        days = pc.dictionary_encode(_one_chunk(table.column("shipped_at")).cast(pa.date32()))
        self.codes["shipped_at"].add(days, lo)
        self.rows = hi


def _one_chunk(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column as one chunk (a dictionary column's chunks share their dictionary)."""
    if column.num_chunks == 1:
        return column
    if column.num_chunks == 0:
        return pa.chunked_array([pa.array([], type=column.type)])
    return pa.chunked_array([column.combine_chunks()])


class _Codes:
    """Codes (-1: missing) of a dictionary-encoded column into one table of its values,
    filled a row group at a time."""

    def __init__(self, n: int) -> None:
        self.codes = np.empty(n, dtype=np.int16)  # int32 once the values outgrow int16
        self.index: dict[Hashable, int] = {}
        self._last: tuple[pa.Array, np.ndarray] | None = None

    def add(self, column: pa.ChunkedArray, start: int) -> None:
        for chunk in column.chunks:
            self._add_chunk(chunk, start)
            start += len(chunk)

    def _add_chunk(self, chunk: pa.DictionaryArray, start: int) -> None:
        dictionary = chunk.dictionary
        if self._last is not None and self._last[0].equals(dictionary):
            remap = self._last[1]  # row groups mostly repeat the last one's dictionary
        else:
            values = _python(dictionary)
            remap = np.array([self.index.setdefault(v, len(self.index)) for v in values] + [-1])
            self._last = (dictionary, remap)
        if len(self.index) > np.iinfo(self.codes.dtype).max:
            self.codes = self.codes.astype(np.int32)
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(dictionary))  # the remap's last entry: -1
        self.codes[start : start + len(chunk)] = remap[indices.to_numpy()]


def _python(dictionary: pa.Array) -> list[Hashable]:
    """A dictionary's values as Python keys (dates as days since 1970-01-01)."""
    if pa.types.is_date32(dictionary.type):
        return dictionary.cast(pa.int32()).to_pylist()
    return dictionary.to_pylist()
