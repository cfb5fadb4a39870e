"""The waybill columns the site finder reads, shaped for it (private to ``case``).

The parts are read about half a million rows (whole row groups) at a time into arrays of
their final size and type: memory holds the result and a batch or two, never an Arrow
table of every column beside its pandas copy (at 10M waybills that is 0.3 GB instead of
1.2 GB, and the time of faulting in the rest). Strings come dictionary-encoded, so a
column of sellers, brands or precision levels becomes integer codes into one table of
names (the first row group's dictionary, then new names in order of appearance: what
``unify_dictionaries`` gives); dates become codes of days in order of first appearance.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.ahead import ahead
from workbench.case import _site_cache
from workbench.case._listing import listing, retrying
from workbench.case._parts import at_points, folder_of, incoming_folder, read_parts
from workbench.errors import CaseError

FLOATS = ("lat", "lon", "value_cny")
_STRINGS = ("seller_id", "brand", "precision")  # read dictionary-encoded
CODED = (*_STRINGS, "shipped_at")  # codes into a table of values in the frame
COLUMNS = ["seller_id", "lat", "lon", "shipped_at", "value_cny", "brand", "precision"]
BATCH_ROWS = 500_000  # rows read and added at a time (row groups are kept whole)


def site_frame(con: sqlite3.Connection) -> pd.DataFrame:
    """The waybill columns the site finder uses, shaped for it: sellers, brands and
    precision levels as categoricals, dates as categoricals of days (a few hundred values
    instead of millions); replaced rows left out. From the case's ready copy of them when
    it is current (:mod:`workbench.case._site_cache`), else read from the parts."""
    return retrying(lambda: _load(*_listed(con))[0])


class Ahead:
    """:func:`site_frame` read on a background thread: made at once, called for the frame
    (it waits for the read), so the caller's work meanwhile (linking the sellers, loading
    the kernels) overlaps the read. The parts are listed on the caller's connection (a
    SQLite connection stays on its thread). ``from_parts`` is, once the frame is there, the
    listing it was read from when the case had no current ready copy (else None)."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self._con = con
        pool = ThreadPoolExecutor(1, thread_name_prefix="workbench-site-input")
        self._future = pool.submit(_load, *_listed(con))
        pool.shutdown(wait=False)
        self.from_parts: Parts | None = None

    def __call__(self) -> pd.DataFrame:
        try:
            frame, self.from_parts = self._future.result()
        except FileNotFoundError:  # a part was replaced after the listing: read it again
            frame, self.from_parts = retrying(lambda: _load(*_listed(self._con)))
        return frame


def site_frame_ahead(con: sqlite3.Connection) -> Ahead:
    """:func:`site_frame` read on a background thread (:class:`Ahead`)."""
    return Ahead(con)


Parts = list[tuple[Path, np.ndarray]]


def _parts(con: sqlite3.Connection) -> tuple[Path, Parts]:
    """The parts folder, and each part's file and replaced rows (one snapshot)."""
    folder = folder_of(con)
    return folder, [(folder / part.file, part.deleted) for part in listing(con)]


def _listed(con: sqlite3.Connection) -> tuple[Parts, tuple[Path, str] | None]:
    """Each part's file and replaced rows, from one snapshot of the case, and the ready
    copy of the columns made from exactly those with its SHA-256 (None: there is none)."""
    folder, parts = _parts(con)
    return parts, _site_cache.current(con, folder, parts)


def _load(parts: Parts, ready: tuple[Path, str] | None) -> tuple[pd.DataFrame, Parts | None]:
    """The frame, and the listing it was read from when that was from the parts."""
    if ready is not None:
        frame = _site_cache.load(*ready, COLUMNS)
        if frame is not None:
            return frame, None
    return _read(parts), parts


def _read(parts: Parts) -> pd.DataFrame:
    sources = sources_of(parts)
    out = _Columns(sum(source.metadata.num_rows for source, _ in sources))
    for table in ahead(batches(sources)):  # the next batch is decoded while this one is added
        out.add(table)
    return out.frame()


def sources_of(parts: Parts) -> list[tuple[pq.ParquetFile, np.ndarray]]:
    """The parts opened for :func:`batches` (text columns read dictionary-encoded)."""
    return [(pq.ParquetFile(path, read_dictionary=_STRINGS), gone) for path, gone in parts]


def keep_ready(
    write: Callable[[], AbstractContextManager[sqlite3.Connection]],
    con: sqlite3.Connection,
    parts: Parts,
    frame: pd.DataFrame,
) -> None:
    """After a run read ``frame`` from ``parts`` (the case had no current ready copy: made
    before there were any, or its copy was removed or damaged), write a ready copy from that
    frame and list it in a transaction of its own (``write``), so the next run maps it;
    nothing when an ingest changed the parts meanwhile."""
    folder = folder_of(con)
    key = _site_cache.listing_key(parts)
    name = f"{_site_cache.PREFIX}{uuid.uuid4().hex}{_site_cache.SUFFIX}"
    old: dict[str, Any] | None = None
    try:
        with incoming_folder(folder) as incoming:
            sha256 = _site_cache.write_frame(incoming / name, frame, key)
            with write() as con:
                if _site_cache.listing_key(_parts(con)[1]) != key:
                    return
                old = _site_cache.recorded(con)
                os.replace(incoming / name, folder / name)
                _site_cache.record(con, name, key, sha256, len(frame))
    except (OSError, CaseError) as error:  # the run is stored; only the copy is missing
        _site_cache.not_written(error)
        return
    if old is not None and old["file"] != name:
        (folder / str(old["file"])).unlink(missing_ok=True)


def write_ready_copy(con: sqlite3.Connection, incoming: Path) -> list[Path]:
    """Inside an ingest's write transaction, once its parts are listed: write the ready
    copy of these columns for the listing as it now is (:mod:`workbench.case._site_cache`),
    move it in and list it. Returns the files to remove once the transaction has
    committed (the copy it replaces). Streams the parts a batch at a time: memory holds a
    batch, whatever the case's size."""
    folder, parts = _parts(con)
    old = _site_cache.recorded(con)
    if not parts:
        _site_cache.forget(con)
        return [folder / str(old["file"])] if old else []
    key = _site_cache.listing_key(parts)
    if old is not None and old.get("listing") == key:
        return []
    sources = sources_of(parts)
    name = f"{_site_cache.PREFIX}{uuid.uuid4().hex}{_site_cache.SUFFIX}"
    rows = sum(source.metadata.num_rows for source, _ in sources)  # at most
    encoders = {column: Codes() for column in CODED}
    writer = None
    try:
        writer = _site_cache.Writer(incoming / name, rows, FLOATS, CODED)
        for table in ahead(batches(sources)):
            floats = {column: table.column(column).to_numpy() for column in FLOATS}
            coded = {
                column: _encoded(encoders[column], values)
                for column, values in coded_columns(table).items()
            }
            writer.add(floats, coded)
        sha256 = writer.finish(key, {column: list(e.index) for column, e in encoders.items()})
        os.replace(incoming / name, folder / name)
    except OSError as error:  # a full disk, say: the ingest goes on without a copy
        if writer is not None:
            writer.abandon()
        _site_cache.forget(con)
        _site_cache.not_written(error)
        return [folder / str(old["file"])] if old else []
    except BaseException:
        if writer is not None:
            writer.abandon()
        raise
    _site_cache.record(con, name, key, sha256, writer.done)
    return [folder / str(old["file"])] if old else []


def _encoded(encoder: Codes, column: pa.ChunkedArray) -> np.ndarray:
    chunks = [encoder.encode(chunk) for chunk in column.chunks]
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks or [np.empty(0, np.int32)])


def batches(sources: list[tuple[pq.ParquetFile, np.ndarray]]) -> Iterator[pa.Table]:
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


class _Columns:
    """The columns filled a batch at a time (``n``: rows at most)."""

    def __init__(self, n: int) -> None:
        self.rows = 0
        self.floats = {name: np.empty(n) for name in FLOATS}
        self.codes = {name: Codes(n) for name in CODED}

    def add(self, table: pa.Table) -> None:
        """Add a batch (text columns: one dictionary per column, :func:`batches`)."""
        lo, hi = self.rows, self.rows + table.num_rows
        for name, values in self.floats.items():
            values[lo:hi] = table.column(name).to_numpy()  # nulls: NaN
        for name, column in coded_columns(table).items():
            self.codes[name].add(column, lo)
        self.rows = hi

    def frame(self) -> pd.DataFrame:
        floats = {name: v[: self.rows] for name, v in self.floats.items()}
        codes = {name: (c.codes[: self.rows], list(c.index)) for name, c in self.codes.items()}
        return _site_cache.make_frame(floats, codes, COLUMNS)


def coded_columns(table: pa.Table) -> dict[str, pa.ChunkedArray]:
    """A batch's dictionary-encoded columns, each in one chunk (dates encoded here)."""
    out = {name: _one_chunk(table.column(name)) for name in _STRINGS}
    dates = _one_chunk(table.column("shipped_at")).cast(pa.date32())
    out["shipped_at"] = pc.dictionary_encode(dates)
    return out


def _one_chunk(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column as one chunk (a dictionary column's chunks share their dictionary)."""
    if column.num_chunks == 1:
        return column
    if column.num_chunks == 0:
        return pa.chunked_array([pa.array([], type=column.type)])
    return pa.chunked_array([column.combine_chunks()])


class Codes:
    """Codes (-1: missing) of a dictionary-encoded column into one table of its values,
    filled a batch at a time (``n``: rows to hold; 0 to only encode)."""

    def __init__(self, n: int = 0) -> None:
        self.codes = np.empty(n, dtype=np.int16)  # int32 once the values outgrow int16
        self.index: dict[Hashable, int] = {}
        self._last: tuple[pa.Array, np.ndarray] | None = None

    def add(self, column: pa.ChunkedArray, start: int) -> None:
        for chunk in column.chunks:
            codes = self.encode(chunk)
            if len(self.index) > np.iinfo(self.codes.dtype).max:
                self.codes = self.codes.astype(np.int32)
            self.codes[start : start + len(chunk)] = codes
            start += len(chunk)

    def encode(self, chunk: pa.DictionaryArray) -> np.ndarray:
        """The codes of one chunk (int32), its new values added to the table."""
        dictionary = chunk.dictionary
        if self._last is not None and self._last[0].equals(dictionary):
            remap = self._last[1]  # row groups mostly repeat the last one's dictionary
        else:
            values = _python(dictionary)
            codes = [self.index.setdefault(v, len(self.index)) for v in values]
            remap = np.array([*codes, -1], dtype=np.int32)
            self._last = (dictionary, remap)
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(dictionary))  # the remap's last entry: -1
        return remap[indices.to_numpy()]


def _python(dictionary: pa.Array) -> list[Hashable]:
    """A dictionary's values as Python keys (dates as days since 1970-01-01)."""
    if pa.types.is_date32(dictionary.type):
        return dictionary.cast(pa.int32()).to_pylist()
    return dictionary.to_pylist()


def site_waybills(con: sqlite3.Connection, points: pd.DataFrame, before_seq: int) -> pd.DataFrame:
    """The waybills stored before ingest ``before_seq`` at one of ``points`` (lat, lon) whose
    precision is enough to take part in clustering: a site's waybills, read from the row
    groups around its points only (every waybill when there are no points)."""
    from workbench.sites._finder import PRECISE_ENOUGH

    if points.empty:
        return read_parts(con, before_seq=0).to_pandas()
    box = (
        float(points["lat"].min()),
        float(points["lon"].min()),
        float(points["lat"].max()),
        float(points["lon"].max()),
    )
    table = read_parts(con, bbox=box, before_seq=before_seq)
    lat, lon = (table.column(c).to_pandas() for c in ("lat", "lon"))
    at = at_points(pd.DataFrame({"lat": lat, "lon": lon}), points).to_numpy()
    precise = pc.is_in(table.column("precision"), pa.array(PRECISE_ENOUGH))
    keep = at & precise.to_numpy(zero_copy_only=False)
    # filtered in Arrow, then converted: a pandas take over Arrow strings cost 1.7 s for
    # the 860k waybills of a hub at 10M
    return table.filter(pa.array(keep)).to_pandas(split_blocks=True, self_destruct=True)
