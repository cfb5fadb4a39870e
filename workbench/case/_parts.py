"""The case's waybills as GeoParquet parts beside its GeoPackage (private to ``case``).

A case's waybills grow with the platform (millions a month); the curated layers (sellers,
sites, reviews, audit) stay small. So waybills are stored columnar, in GeoParquet 1.1 files
in the folder ``<case>.waybills`` next to the GeoPackage (inside the ``NAME.case`` folder of
a case made as one), and the GeoPackage lists them in ``waybill_parts`` with their SHA-256,
row count, bounding box and the ingest that wrote them:

* **one part per ingested file** (two for a file of ``SPLIT_ROWS`` or more: the lower and
  upper half of its key range), its rows sorted along a Hilbert curve and cut into row
  groups of ``ROW_GROUP_ROWS``, each with a ``bbox`` covering column, so a site or a
  viewport reads only the row groups that overlap it; the sort spills to buckets of the
  key range first, so memory stays that of a chunk and a bucket, whatever the file's size;
* **a killed process changes nothing**: parts are written into a locked ``.incoming-*``
  folder, moved in and listed inside the GeoPackage transaction that records the ingest;
  files no committed transaction lists are swept by the next write, and so are incoming
  folders whose writer died;
* **replaced rows** (a waybill ingested again with the same number) are marked in
  ``waybill_deletes`` (row positions per part) rather than rewritten; a part whose rows are
  all replaced is dropped;
* the audit log's digest of an ingest's waybills covers its parts' bytes (SHA-256 of each
  file as it is now) and their deleted rows (:func:`segment_digests`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import marshal
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.arrays import unique
from workbench.case._ahead import ahead
from workbench.case._cells import CELL_SCHEMA, cells_name, cells_of
from workbench.case._listing import listing, retrying

__all__ = [
    "COLUMNS",
    "PartsWriter",
    "commit_parts",
    "folder_for",
    "folder_of",
    "read_parts",
    "replacements",
    "segment_digests",
    "sweep",
]

ROW_GROUP_ROWS = 100_000
SPLIT_ROWS = 1_000_000  # a file of this many waybills or more is written as two parts
_BUCKETS = 64  # key ranges the rows of a file spill to before each is sorted
_SORT_ROWS = 200_000  # a bucket larger than this is split again before it is sorted
_HILBERT_ORDER = 16  # 2^16 cells a side: ~600 m at the equator
_INCOMING = ".incoming-"
_LOCK = ".lock"
_KEY = "shipment_id"

# the stored columns, in the order a case has always returned them, with their types
COLUMNS: dict[str, pa.DataType] = {
    "shipment_id": pa.string(),
    "seller_id": pa.string(),
    "lat": pa.float64(),
    "lon": pa.float64(),
    "coord_system": pa.string(),
    "origin_address": pa.string(),
    "shipped_at": pa.timestamp("ms"),  # Parquet has no seconds unit
    "items": pa.int64(),
    "value_cny": pa.float64(),
    "brand": pa.string(),
    "precision": pa.string(),
    "source_lat": pa.float64(),
    "source_lon": pa.float64(),
    "repair": pa.string(),
}
_BBOX = pa.struct([(k, pa.float64()) for k in ("xmin", "ymin", "xmax", "ymax")])
SCHEMA = pa.schema(
    [*(pa.field(k, t) for k, t in COLUMNS.items()), ("geometry", pa.binary()), ("bbox", _BBOX)]
)
# How parts are encoded: dictionaries only for text that repeats (a dictionary tried on
# waybill numbers or WKB is built and thrown away), statistics for every column but the WKB
# (row groups are found through the bbox covering): 20% less CPU, 15% smaller files.
_PART_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["seller_id", "coord_system", "origin_address", "brand", "precision"],
    "write_statistics": [
        *COLUMNS,
        *(f"bbox.{f.name}" for f in _BBOX),
    ],
}
_CELL_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": ["seller_id", "brand"]}


def folder_for(case_file: str | os.PathLike[str]) -> Path:
    """The parts folder of the GeoPackage ``case_file``: ``putian.gpkg`` ->
    ``putian.waybills``."""
    return Path(case_file).with_suffix(".waybills")


def folder_of(con: sqlite3.Connection) -> Path:
    """The parts folder of the case open on ``con`` (its main database file)."""
    for _, name, file in con.execute("PRAGMA database_list"):
        if name == "main":
            return folder_for(file)
    raise RuntimeError("the connection has no main database")  # pragma: no cover


# -- writing -----------------------------------------------------------------------------
def hilbert_key(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Position along a Hilbert curve over the globe (uint64; NaN points last)."""
    n = 1 << _HILBERT_ORDER
    ok = np.isfinite(lat) & np.isfinite(lon)
    x = np.clip(((np.nan_to_num(lon) + 180.0) / 360.0 * n).astype(np.int64), 0, n - 1)
    y = np.clip(((np.nan_to_num(lat) + 90.0) / 180.0 * n).astype(np.int64), 0, n - 1)
    d = np.zeros(len(x), dtype=np.int64)
    s = n >> 1
    while s > 0:  # the classic xy -> d walk, on whole arrays
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        flip = ~ry
        swap_x = np.where(flip & rx, s - 1 - x, x)
        swap_y = np.where(flip & rx, s - 1 - y, y)
        x, y = np.where(flip, swap_y, swap_x), np.where(flip, swap_x, swap_y)
        s >>= 1
    out = d.astype(np.uint64)
    out[~ok] = np.iinfo(np.uint64).max
    return out


def wkb_points(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    """ISO WKB points (21 bytes each) as an Arrow binary array, null where NaN."""
    records = np.zeros(
        len(lon), dtype=[("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")]
    )
    records["order"], records["kind"], records["x"], records["y"] = 1, 1, lon, lat
    missing = ~(np.isfinite(lon) & np.isfinite(lat))
    offsets = np.arange(len(lon) + 1, dtype=np.int32) * 21
    validity = pa.array(~missing).buffers()[1] if missing.any() else None
    return pa.BinaryArray.from_buffers(
        pa.binary(),
        len(lon),
        [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(records.tobytes())],
        null_count=int(missing.sum()),
    )


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """An intake frame as a table of the stored schema (missing columns null)."""
    n = len(frame)
    columns: dict[str, pa.Array] = {}
    for name, kind in COLUMNS.items():
        if name not in frame.columns:
            if name == "precision":
                columns[name] = pa.array(["exact"] * n, pa.string())
            else:
                columns[name] = pa.nulls(n, kind)
            continue
        series = frame[name]
        if pa.types.is_timestamp(kind):
            values = pd.to_datetime(series).to_numpy(dtype="datetime64[ms]")
            columns[name] = pa.array(values, kind, mask=np.isnat(values))
        elif pa.types.is_string(kind):
            columns[name] = _strings(series)
        else:
            columns[name] = pa.array(series, from_pandas=True).cast(kind)
    lat = frame["lat"].to_numpy(float, na_value=np.nan)
    lon = frame["lon"].to_numpy(float, na_value=np.nan)
    columns["geometry"] = wkb_points(lon, lat)
    columns["bbox"] = pa.StructArray.from_arrays(
        [pa.array(v) for v in (lon, lat, lon, lat)], fields=list(_BBOX)
    )
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def _strings(series: pd.Series) -> pa.Array:
    """A text column as Arrow strings: as it is when pandas keeps it in Arrow already."""
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed objects: as text
        array = pa.array(series.astype(object).map(_text), pa.string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pa.array(series.astype(object).map(_text), pa.string(), from_pandas=True)
    return array.cast(pa.string())


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) or pd.isna(value) else str(value)


@dataclass(frozen=True)
class PartInfo:
    """A finished part in the incoming folder."""

    path: Path
    rows: int
    sha256: str
    bbox: tuple[float, float, float, float]  # min lat, min lon, max lat, max lon
    cells: tuple[Path, str] | None = None  # its companion of counts (see ``_cells``) and SHA


def _geo_metadata(bbox: tuple[float, float, float, float]) -> bytes:
    """GeoParquet 1.1 file metadata: WKB points in WGS-84 (OGC:CRS84) with a bbox covering."""
    min_lat, min_lon, max_lat, max_lon = bbox
    return json.dumps(
        {
            "version": "1.1.0",
            "primary_column": "geometry",
            "columns": {
                "geometry": {
                    "encoding": "WKB",
                    "geometry_types": ["Point"],
                    "bbox": [min_lon, min_lat, max_lon, max_lat],
                    "covering": {
                        "bbox": {
                            "xmin": ["bbox", "xmin"],
                            "ymin": ["bbox", "ymin"],
                            "xmax": ["bbox", "xmax"],
                            "ymax": ["bbox", "ymax"],
                        }
                    },
                }
            },
        },
        separators=(",", ":"),
    ).encode("utf-8")


class PartsWriter:
    """The waybills of one ingested file, written into parts of the incoming folder.

    ``add`` takes each intake chunk: its rows spill to files by Hilbert key range (about
    ``_BUCKETS`` ranges, cut by the first chunk: :func:`_cuts`); ``finish`` sorts each bucket
    in turn and writes the row groups in key order. A file of ``SPLIT_ROWS`` waybills or
    more becomes two parts, the lower and the upper half of the key range, encoded at the
    same time on two threads (Parquet encodes a file's columns one after the other: one
    part of the demo's 10M waybills kept one core busy 10 s after the file was read).
    """

    def __init__(self, incoming: Path, *, cells: bool = True) -> None:
        self.incoming = incoming
        self.name = f"part-{uuid.uuid4().hex}"  # of the spills
        self.cells = cells
        self._cuts: np.ndarray | None = None
        self._spills: list[_Spill | None] = [None] * _BUCKETS
        self._lo = np.full((_BUCKETS, 2), np.inf)  # min lat, min lon of each bucket
        self._hi = np.full((_BUCKETS, 2), -np.inf)
        self.rows = 0

    def _spill_path(self, b: int) -> Path:
        return self.incoming / f"{self.name}.bucket-{b:02d}"

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        table = to_arrow(frame)
        lat = frame["lat"].to_numpy(float, na_value=np.nan)
        lon = frame["lon"].to_numpy(float, na_value=np.nan)
        key = hilbert_key(lat, lon)
        if self._cuts is None:
            self._cuts = _cuts(key)
            n = len(self._cuts) + 1
            self._spills = [None] * n
            self._lo, self._hi = np.full((n, 2), np.inf), np.full((n, 2), -np.inf)
        bucket = np.searchsorted(self._cuts, key, side="right")
        order = np.argsort(bucket, kind="stable")
        table = table.append_column("_key", pa.array(key)).take(pa.array(order))  # one take
        points = np.column_stack([lat[order], lon[order]])
        starts = np.searchsorted(bucket[order], np.arange(len(self._spills) + 1))
        for b in range(len(self._spills)):
            if starts[b] == starts[b + 1]:
                continue
            part = table.slice(starts[b], starts[b + 1] - starts[b])
            these = points[starts[b] : starts[b + 1]]  # NaN (no coordinates) left out:
            self._lo[b] = np.fmin(self._lo[b], np.fmin.reduce(these))  # fmin skips it
            self._hi[b] = np.fmax(self._hi[b], np.fmax.reduce(these))
            writer = self._spills[b]
            if writer is None:
                writer = self._spills[b] = _Spill(self._spill_path(b), part.schema)
            writer.write(part)
        self.rows += len(frame)

    def finish(self) -> list[PartInfo]:
        """Write the parts (none when no row came) and remove the spills."""
        for writer in self._spills:
            if writer is not None:
                writer.close()
        halves = self._halves()
        if not halves:
            return []
        if len(halves) == 1:
            return [self._write(halves[0])]
        with ThreadPoolExecutor(1, thread_name_prefix="workbench-part") as pool:
            upper = pool.submit(self._write, halves[1])
            lower = self._write(halves[0])
            return [lower, upper.result()]

    def _halves(self) -> list[list[int]]:
        """The buckets with rows, in key order: in one list, or in two of about half the
        rows each when there are ``SPLIT_ROWS`` rows or more."""
        full = [b for b, spill in enumerate(self._spills) if spill is not None]
        if not full:
            return []
        rows = np.cumsum([self._spills[b].rows for b in full])  # type: ignore[union-attr]
        cut = int(np.searchsorted(rows, rows[-1] / 2))
        if rows[-1] < SPLIT_ROWS or cut >= len(full) - 1:
            return [full]
        return [full[: cut + 1], full[cut + 1 :]]

    def _write(self, buckets: list[int]) -> PartInfo:
        """One part of the rows of ``buckets`` (in key order), with its companion."""
        name = f"part-{uuid.uuid4().hex}.parquet"
        path, counts = self.incoming / name, self.incoming / cells_name(name)
        lo, hi = np.fmin.reduce(self._lo[buckets]), np.fmax.reduce(self._hi[buckets])
        bbox = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        schema = SCHEMA.with_metadata({b"geo": _geo_metadata(bbox)})
        spills = [self._spills[b] for b in buckets]
        rows = sum(spill.rows for spill in spills if spill is not None)
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(pq.ParquetWriter(path, schema, **_PART_OPTIONS))
            cells = (
                stack.enter_context(pq.ParquetWriter(counts, CELL_SCHEMA, **_CELL_OPTIONS))
                if self.cells
                else None
            )
            # the next groups are read, sorted and counted on a second thread while these
            # are encoded and compressed
            for group, counted in ahead(self._groups(spills, schema)):
                out.write_table(group, row_group_size=ROW_GROUP_ROWS)
                if cells is not None and counted is not None:
                    cells.write_table(counted)
        companion = (counts, file_sha256(counts)) if self.cells else None
        return PartInfo(path, rows, file_sha256(path), bbox, companion)

    def _groups(
        self, spills: list[_Spill | None], schema: pa.Schema
    ) -> Iterator[tuple[pa.Table, pa.Table | None]]:
        """The rows of ``spills`` in key order as whole row groups (the last may be short),
        cast to the part's schema, each with its counts when the part gets a companion."""
        size = ROW_GROUP_ROWS
        pending: list[pa.Table] = []  # sorted rows not yet handed out: less than a group
        for spill in spills:
            if spill is None:
                continue
            for table in _sorted_runs(spill):
                pending.append(table.drop_columns("_key"))
                rows = sum(t.num_rows for t in pending)
                while rows >= size:  # one row group at a time, in key order across buckets
                    merged = pa.concat_tables(pending)
                    yield self._group(merged.slice(0, size), schema)
                    pending, rows = [merged.slice(size)], rows - size
        rest = [t for t in pending if t.num_rows]
        if rest:
            yield self._group(pa.concat_tables(rest), schema)

    def _group(self, table: pa.Table, schema: pa.Schema) -> tuple[pa.Table, pa.Table | None]:
        return table.cast(schema), cells_of(table) if self.cells else None


def _cuts(key: np.ndarray) -> np.ndarray:
    """Where the buckets' key ranges start, from the first chunk's keys: its quantiles,
    and each point holding more than a quarter of a bucket's share of the chunk (a hub,
    a warehouse) cut out into a bucket of its own. Such a bucket has one key, so it is
    neither sorted nor, however large it grows, split again (a hub's 860,000 waybills of
    the demo's 10M put a third of the file through a second spill before)."""
    finite = np.sort(key[key < np.iinfo(np.uint64).max])
    if not len(finite):
        return np.zeros(_BUCKETS - 1, np.uint64)
    picks = np.linspace(0, len(finite), _BUCKETS + 1)[1:-1].astype(np.int64)
    cuts = finite[np.minimum(picks, len(finite) - 1)]
    starts = np.flatnonzero(np.r_[True, finite[1:] != finite[:-1]])
    counts = np.diff(np.r_[starts, len(finite)])
    heavy = finite[starts[counts > len(finite) / (4 * _BUCKETS)]]
    return unique(np.concatenate([cuts, heavy, heavy + np.uint64(1)]))


class _Spill:
    """Rows of one key range on disk until the part is written: an Arrow IPC file,
    LZ4-compressed (a third of the CPU of a Parquet spill to write and read back)."""

    _OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self._writer: Any = pa.ipc.new_file(str(path), schema, options=self._OPTIONS)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows back, one written batch at a time."""
        with pa.OSFile(str(self.path)) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)

    def read(self) -> pa.Table:
        with pa.OSFile(str(self.path)) as source:
            return pa.ipc.open_file(source).read_all()


def _sorted_runs(spill: _Spill) -> Iterator[pa.Table]:
    """A spill's rows in key order, in tables of at most ``_SORT_ROWS`` rows (or more
    rows of a single key, which need no sorting), removing its file as it goes.

    A larger spill (the first chunk's key quantiles need not fit the whole file) is split
    again at its own key quantiles, so memory stays that of ``_SORT_ROWS`` rows whatever
    the file's size or order."""
    spill.close()
    try:
        if spill.rows <= _SORT_ROWS:
            table = spill.read()
            low, high = pc.min_max(table.column("_key")).values()
            if low == high:  # one key: in order as it came
                yield table
                return
            ordered = table.take(pc.sort_indices(table.column("_key")))
            del table  # not held while the caller works on the sorted copy
            yield ordered
            return
        keys = np.sort(np.concatenate([b.column("_key").to_numpy() for b in spill.batches()]))
        if keys[0] == keys[-1]:  # one key: already in order
            for batch in spill.batches():
                yield pa.Table.from_batches([batch])
            return
        cuts = unique(keys[np.arange(_SORT_ROWS // 2, len(keys), _SORT_ROWS // 2)])
        cuts = cuts[cuts > keys[0]]
        if not len(cuts):  # most rows share the lowest key: split it off
            cuts = keys[np.searchsorted(keys, keys[0], side="right")][None]
        del keys
        subs = _split(spill, cuts)
    finally:
        spill.path.unlink()
    for sub in subs:
        yield from _sorted_runs(sub)


def _split(spill: _Spill, cuts: np.ndarray) -> list[_Spill]:
    """Spill ``spill``'s rows again to files by key range (cut at ``cuts``)."""
    subs: list[_Spill | None] = [None] * (len(cuts) + 1)
    try:
        for batch in spill.batches():
            which = np.searchsorted(cuts, batch.column("_key").to_numpy(), side="right")
            for i in unique(which):
                rows = pa.Table.from_batches([batch.filter(pa.array(which == i))])
                sub = subs[i]
                if sub is None:
                    sub = subs[i] = _Spill(
                        spill.path.with_name(f"{spill.path.name}.{i:03d}"), rows.schema
                    )
                sub.write(rows)
    finally:
        for sub in subs:
            if sub is not None:
                sub.close()
    return [s for s in subs if s is not None]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def incoming_folder(folder: Path) -> Iterator[Path]:
    """A new incoming folder under ``folder``, locked while this block runs, then removed.

    The lock tells a sweep in another process that a writer is alive here."""
    folder.mkdir(parents=True, exist_ok=True)
    incoming = folder / f"{_INCOMING}{uuid.uuid4().hex}"
    incoming.mkdir()
    lock = (incoming / _LOCK).open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield incoming
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
        lock.close()


# -- committing ---------------------------------------------------------------------------
def live_parts(con: sqlite3.Connection) -> list[tuple[int, str, int | None, int]]:
    """(part_id, file, ingest_seq, rows) of every listed part, in part order (ingest_seq
    None: rows no ingest stored, moved from an older case)."""
    rows = con.execute("SELECT part_id, file, ingest_seq, rows FROM waybill_parts ORDER BY part_id")
    return [(int(a), str(b), None if c is None else int(c), int(d)) for a, b, c, d in rows]


def deleted_rows(con: sqlite3.Connection, part_id: int) -> np.ndarray:
    row = con.execute("SELECT rows FROM waybill_deletes WHERE part_id = ?", (part_id,)).fetchone()
    return np.frombuffer(row[0], dtype="<u4").astype(np.int64) if row else np.empty(0, np.int64)


@dataclass
class Replacements:
    """Stored rows the new parts replace: per new part (file name), the rows per stored
    part; and the ingests those stored rows came from."""

    rows: dict[str, dict[int, np.ndarray]]
    segments: set[int | None]


def replacements(con: sqlite3.Connection, infos: Sequence[PartInfo]) -> Replacements:
    """Which stored waybills the new parts replace (same waybill number). Call inside the
    write transaction, before checking and committing."""
    folder = folder_of(con)
    stored = live_parts(con)
    out = Replacements({}, set())
    if not stored or not infos:
        return out
    seq_of = {part_id: seq for part_id, _, seq, _ in stored}
    for info in infos:
        keys = pc.unique(pq.read_table(info.path, columns=[_KEY]).column(_KEY))
        hits: dict[int, np.ndarray] = {}
        for part_id, file, _, _ in stored:
            column = pq.read_table(folder / file, columns=[_KEY]).column(_KEY)
            hit = np.flatnonzero(pc.is_in(column, value_set=keys).to_numpy(zero_copy_only=False))
            if len(hit):
                hits[part_id] = hit
                out.segments.add(seq_of[part_id])
        out.rows[info.path.name] = hits
    return out


def commit_parts(
    con: sqlite3.Connection, infos: Sequence[PartInfo], seq: int | None, hits: Replacements
) -> tuple[dict[str, int], list[Path]]:
    """Inside the caller's write transaction: mark the rows the new parts replace, move the
    parts in and list them. Returns the rows each new part replaced (by file name) and the
    files to remove once the transaction has committed (parts with no row left).

    Two waybill files of one ingest never replace each other's rows: intake refuses a
    number seen twice within a file, and the later file of one ingest wins over stored
    rows only."""
    folder = folder_of(con)
    sweep(con, folder)
    totals = {part_id: n for part_id, _, _, n in live_parts(con)}
    files = {part_id: file for part_id, file, _, _ in live_parts(con)}
    doomed: list[Path] = []
    replaced: dict[str, int] = {}
    for info in infos:
        found = hits.rows.get(info.path.name, {})
        for part_id, rows in found.items():
            if part_id not in totals:
                continue  # already dropped for an earlier file of this ingest
            merged = np.union1d(deleted_rows(con, part_id), rows).astype("<u4")
            if len(merged) >= totals[part_id]:  # every row replaced: the part goes
                doomed.extend(folder / f for f in _companions(con, part_id))
                con.execute("DELETE FROM waybill_parts WHERE part_id = ?", (part_id,))
                con.execute("DELETE FROM waybill_deletes WHERE part_id = ?", (part_id,))
                con.execute("DELETE FROM waybill_cells WHERE part_id = ?", (part_id,))
                doomed.append(folder / files[part_id])
                del totals[part_id]
                continue
            con.execute(
                "INSERT OR REPLACE INTO waybill_deletes (part_id, rows) VALUES (?, ?)",
                (part_id, merged.tobytes()),
            )
        replaced[info.path.name] = int(sum(len(r) for r in found.values()))
        target = folder / info.path.name
        os.replace(info.path, target)
        min_lat, min_lon, max_lat, max_lon = info.bbox
        cursor = con.execute(
            "INSERT INTO waybill_parts (file, ingest_seq, rows, sha256, min_lat, min_lon, "
            "max_lat, max_lon, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
            (target.name, seq, info.rows, info.sha256, min_lat, min_lon, max_lat, max_lon),
        )
        if info.cells is not None:
            add_companion(con, int(cursor.lastrowid or 0), *info.cells)
    return replaced, doomed


def add_companion(con: sqlite3.Connection, part_id: int, path: Path, sha256: str) -> None:
    """Move a part's companion of counts in beside it and list it (inside the caller's
    write transaction)."""
    os.replace(path, folder_of(con) / path.name)
    con.execute(
        "INSERT INTO waybill_cells (part_id, file, sha256) VALUES (?, ?, ?)",
        (part_id, path.name, sha256),
    )


def _companions(con: sqlite3.Connection, part_id: int) -> list[str]:
    return [
        str(r[0])
        for r in con.execute("SELECT file FROM waybill_cells WHERE part_id = ?", (part_id,))
    ]


def sweep(con: sqlite3.Connection, folder: Path) -> None:
    """Remove part files no committed transaction lists, and incoming folders whose writer
    died. Call inside a write transaction: no other writer is between moving its parts in
    and committing them then."""
    if not folder.is_dir():
        return
    listed = {str(r[0]) for r in con.execute("SELECT file FROM waybill_parts")}
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'waybill_cells'").fetchone():
        listed |= {str(r[0]) for r in con.execute("SELECT file FROM waybill_cells")}
    for entry in folder.iterdir():
        if entry.name.startswith(_INCOMING) and entry.is_dir() and not entry.is_symlink():
            with contextlib.suppress(OSError), (entry / _LOCK).open("a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer
                shutil.rmtree(entry, ignore_errors=True)
        elif (
            entry.name.startswith(("part-", "cells-"))
            and entry.suffix == ".parquet"
            and entry.name not in listed
            and entry.is_file()
            and not entry.is_symlink()
        ):
            entry.unlink()


# -- reading -------------------------------------------------------------------------------
def read_parts(
    con: sqlite3.Connection,
    columns: Sequence[str] | None = None,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    before_seq: int | None = None,
    dictionary: Iterable[str] = (),
) -> pa.Table:
    """The live waybills (replaced rows left out), optionally only ``columns``, only the
    row groups whose bbox overlaps ``bbox`` (min lat, min lon, max lat, max lon; rows
    outside it are kept: the caller filters), only parts stored before ingest
    ``before_seq``. Adds ``ingest_seq``. ``dictionary``: string columns read
    dictionary-encoded (categoricals in pandas)."""
    folder = folder_of(con)
    wanted = list(COLUMNS) if columns is None else [c for c in columns if c != "ingest_seq"]
    unknown = [c for c in wanted if c not in SCHEMA.names]
    if unknown:
        raise KeyError(f"no waybill column {unknown}")

    def read() -> list[pa.Table]:
        return [
            _read_one(folder / p.file, p.deleted, p.seq, wanted, bbox, set(dictionary))
            for p in listing(con)
            if before_seq is None or (p.seq is not None and p.seq < before_seq)
        ]

    tables = retrying(read)
    if not tables:
        return _empty(wanted, dictionary)
    return pa.concat_tables(tables, promote_options="permissive")


def _empty(wanted: list[str], dictionary: Iterable[str]) -> pa.Table:
    fields = [SCHEMA.field(c) for c in wanted]
    fields = [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in set(dictionary) else f
        for f in fields
    ]
    table = pa.Table.from_pylist([], schema=pa.schema(fields))
    return table.append_column("ingest_seq", pa.array([], pa.int64()))


def _read_one(
    path: Path,
    deleted: np.ndarray,
    seq: int | None,
    wanted: list[str],
    bbox: tuple[float, float, float, float] | None,
    dictionary: set[str],
) -> pa.Table:
    source = pq.ParquetFile(path, read_dictionary=[c for c in wanted if c in dictionary])
    groups = list(range(source.num_row_groups))
    offsets = np.concatenate(
        [[0], np.cumsum([source.metadata.row_group(g).num_rows for g in groups])]
    )
    if bbox is not None:
        groups = [g for g in groups if _overlaps(source.metadata.row_group(g), bbox)]
    table = (
        source.read_row_groups(groups, columns=wanted)
        if groups
        else source.schema_arrow.empty_table().select(wanted)
    )
    if len(deleted) and table.num_rows:
        positions = np.concatenate([np.arange(offsets[g], offsets[g + 1]) for g in groups])
        keep = ~np.isin(positions, deleted)
        table = table.filter(pa.array(keep))
    seqs = (
        pa.nulls(table.num_rows, pa.int64())
        if seq is None
        else pa.array(np.full(table.num_rows, seq, np.int64))
    )
    return table.append_column("ingest_seq", seqs)


def _overlaps(group: Any, bbox: tuple[float, float, float, float]) -> bool:
    """Whether a row group's bbox statistics overlap ``bbox`` (no statistics: yes)."""
    stats = {}
    for c in range(group.num_columns):
        column = group.column(c)
        if column.path_in_schema in ("bbox.xmin", "bbox.ymin", "bbox.xmax", "bbox.ymax"):
            if column.statistics is None or not column.statistics.has_min_max:
                return True
            stats[column.path_in_schema] = column.statistics
    if len(stats) < 4:
        return True
    min_lat, min_lon, max_lat, max_lon = bbox
    return not (
        stats["bbox.xmin"].min > max_lon
        or stats["bbox.xmax"].max < min_lon
        or stats["bbox.ymin"].min > max_lat
        or stats["bbox.ymax"].max < min_lat
    )


def count_rows(con: sqlite3.Connection) -> int:
    """Live waybills in the case, from the listing (no file is read)."""
    total = con.execute("SELECT coalesce(sum(rows), 0) FROM waybill_parts").fetchone()[0]
    gone = sum(len(r[0]) // 4 for r in con.execute("SELECT rows FROM waybill_deletes"))
    return int(total) - gone


# -- the audit log's view ----------------------------------------------------------------
def segment_digests(
    con: sqlite3.Connection, seqs: Iterable[int | None] | None = None
) -> dict[str, str]:
    """Ingest -> SHA-256 over its parts: name, listed rows and SHA-256, the SHA-256 of the
    file as it is now, and its replaced rows. An ingest without parts left is absent.

    A part's companion of counts (``_cells``) is derived from it: one that matches its
    listed SHA-256 adds nothing (so giving an older case companions changes no digest);
    one altered or missing adds its name, and the digest no longer matches."""
    folder = folder_of(con)
    wanted = None if seqs is None else set(seqs)
    by_seq: dict[int | None, list[Any]] = {}
    rows = con.execute(
        "SELECT p.part_id, p.file, p.ingest_seq, p.rows, p.sha256, d.rows, c.file, c.sha256 "
        "FROM waybill_parts p LEFT JOIN waybill_deletes d ON d.part_id = p.part_id "
        "LEFT JOIN waybill_cells c ON c.part_id = p.part_id ORDER BY p.part_id"
    )
    for part_id, file, seq, n, sha, deleted, cells, cells_sha in rows:
        if wanted is not None and seq not in wanted:
            continue
        path = folder / file
        actual = file_sha256(path) if path.is_file() else "missing"
        key = None if seq is None else int(seq)
        entry: tuple[Any, ...] = (int(part_id), file, n, sha, actual, deleted or b"")
        if cells is not None:
            companion = folder / cells
            if not companion.is_file() or file_sha256(companion) != cells_sha:
                entry = (*entry, f"altered {cells}")
        by_seq.setdefault(key, []).append(entry)
    return {
        "none" if seq is None else str(seq): hashlib.sha256(marshal.dumps(parts, 2)).hexdigest()
        for seq, parts in by_seq.items()
    }


def move_rows_in(
    con: sqlite3.Connection, frames: Iterable[tuple[int | None, pd.DataFrame]]
) -> None:
    """Write waybills given as (ingest_seq, frame) chunks, grouped by ingest, as parts
    (inside the caller's transaction): how an older case's table moves out."""
    folder = folder_of(con)
    with incoming_folder(folder) as incoming:
        writers: dict[int | None, PartsWriter] = {}
        for seq, frame in frames:
            writers.setdefault(seq, PartsWriter(incoming, cells=False)).add(frame)
        for seq, writer in writers.items():
            infos = writer.finish()
            if infos:
                commit_parts(con, infos, seq, Replacements({}, set()))


def add_companions(con: sqlite3.Connection) -> None:
    """Write the missing companions of counts of the listed parts (inside the caller's
    write transaction): how an older case gets them."""
    folder = folder_of(con)
    missing = con.execute(
        "SELECT p.part_id, p.file FROM waybill_parts p WHERE p.part_id NOT IN "
        "(SELECT part_id FROM waybill_cells) ORDER BY p.part_id"
    ).fetchall()
    if not missing:
        return
    with incoming_folder(folder) as incoming:
        for part_id, file in missing:
            source = pq.ParquetFile(folder / file)
            path = incoming / cells_name(file)
            with pq.ParquetWriter(path, CELL_SCHEMA, **_CELL_OPTIONS) as out:
                for group in range(source.num_row_groups):
                    out.write_table(cells_of(source.read_row_group(group)))
            add_companion(con, int(part_id), path, file_sha256(path))


def point_keys(lat: pd.Series, lon: pd.Series) -> pd.Series:
    """One int64 key per coordinate pair at 1e-7 degree (about 1 cm), as the site finder
    collapses points."""
    la = np.round((lat.to_numpy(float) + 90.0) * 1e7).astype(np.int64)
    lo = np.round((lon.to_numpy(float) + 180.0) * 1e7).astype(np.int64)
    return pd.Series(la * 3_600_000_001 + lo)


def at_points(ships: pd.DataFrame, points: pd.DataFrame) -> pd.Series:
    """Which waybills lie at one of ``points`` (both with lat and lon)."""
    keys = set(point_keys(points["lat"], points["lon"]))
    return point_keys(ships["lat"], ships["lon"]).isin(keys)
