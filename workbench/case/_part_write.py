"""Writing the case's waybills as GeoParquet parts (private to ``case``; see ``_parts`` for
the layout and how parts are committed, read and audited).

A part's rows are sorted along a Hilbert curve and cut into row groups of
``ROW_GROUP_ROWS``, each with a ``bbox`` covering column. :class:`PartsWriter` takes an
ingest's chunks as they come and spills them to buckets of the key range, so memory stays
that of a chunk and a bucket, whatever the file's size; a file of ``SPLIT_ROWS`` waybills
or more becomes two parts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.ahead import ahead
from workbench.arrays import unique
from workbench.case._cells import CELL_SCHEMA, cells_name, cells_of

__all__ = [
    "CELL_OPTIONS",
    "COLUMNS",
    "KEY",
    "ROW_GROUP_ROWS",
    "SCHEMA",
    "SPLIT_ROWS",
    "PartInfo",
    "PartsWriter",
    "file_sha256",
    "hilbert_key",
    "to_arrow",
    "wkb_points",
]

ROW_GROUP_ROWS = 100_000
SPLIT_ROWS = 1_000_000  # a file of this many waybills or more is written as two parts
_BUCKETS = 64  # key ranges the rows of a file spill to before each is sorted
_SORT_ROWS = 200_000  # a bucket larger than this is split again before it is sorted
_HILBERT_ORDER = 16  # 2^16 cells a side: ~600 m at the equator
KEY = "shipment_id"

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
CELL_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": ["seller_id", "brand"]}


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
                stack.enter_context(pq.ParquetWriter(counts, CELL_SCHEMA, **CELL_OPTIONS))
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
