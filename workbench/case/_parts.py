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
import marshal
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.case import _site_cache
from workbench.case._cells import CELL_SCHEMA, cells_name, cells_of
from workbench.case._listing import listing, retrying
from workbench.case._part_write import (
    CELL_OPTIONS,
    COLUMNS,
    KEY,
    SCHEMA,
    PartInfo,
    PartsWriter,
    file_sha256,
)

__all__ = [
    "commit_parts",
    "folder_for",
    "folder_of",
    "read_parts",
    "replacements",
    "segment_digests",
    "sweep",
]

_INCOMING = ".incoming-"
_LOCK = ".lock"


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
    """Rows the new parts replace: per new part (file name), the rows per replaced part
    (a stored part's id, or the file name of a new part of an earlier file of the same
    ingest); and the ingests the replaced stored rows came from."""

    rows: dict[str, dict[int | str, np.ndarray]]
    segments: set[int | None]


def replacements(con: sqlite3.Connection, files: Sequence[Sequence[PartInfo]]) -> Replacements:
    """Which waybills the new parts replace (same waybill number): stored ones, and those
    of an earlier file of this ingest (``files``: each file's parts, in ingest order; the
    later file wins, as a later ingest does). A waybill replaced once is never replaced, or
    counted, again. Call inside the write transaction, before checking and committing."""
    folder = folder_of(con)
    stored = live_parts(con)
    out = Replacements({}, set())
    seq_of: dict[int | str, int | None] = {part_id: seq for part_id, _, seq, _ in stored}
    paths: dict[int | str, Path] = {part_id: folder / file for part_id, file, _, _ in stored}
    taken: dict[int | str, np.ndarray] = {}  # rows replaced already (earlier ingests too)
    for part_id in seq_of:
        taken[part_id] = deleted_rows(con, int(part_id))
    for infos in files:
        for info in infos:
            hits: dict[int | str, np.ndarray] = {}
            out.rows[info.path.name] = hits
            if not paths:  # nothing stored, no earlier file: nothing to read
                continue
            keys = pc.unique(pq.read_table(info.path, columns=[KEY]).column(KEY))
            for target, path in paths.items():
                column = pq.read_table(path, columns=[KEY]).column(KEY)  # one at a time
                found = pc.is_in(column, value_set=keys)
                hit = np.flatnonzero(found.to_numpy(zero_copy_only=False))
                hit = np.setdiff1d(hit, taken.get(target, hit[:0]), assume_unique=True)
                if len(hit):
                    hits[target] = hit
                    taken[target] = np.union1d(taken.get(target, hit[:0]), hit)
                    if isinstance(target, int):
                        out.segments.add(seq_of[target])
        paths.update({info.path.name: info.path for info in infos})  # later files see them
    return out


def commit_parts(
    con: sqlite3.Connection, infos: Sequence[PartInfo], seq: int | None, hits: Replacements
) -> tuple[dict[str, int], list[Path]]:
    """Inside the caller's write transaction: mark the rows the new parts replace, move the
    parts in and list them. Returns the rows each new part replaced (by file name) and the
    files to remove once the transaction has committed (parts with no row left).

    ``infos`` in ingest order: a new part's rows replaced by a later file's part are marked
    as a stored part's are (intake refuses a waybill number seen twice within a file)."""
    folder = folder_of(con)
    sweep(con, folder)
    totals = {part_id: n for part_id, _, _, n in live_parts(con)}
    files = {part_id: file for part_id, file, _, _ in live_parts(con)}
    new_ids: dict[str, int] = {}
    doomed: list[Path] = []
    replaced: dict[str, int] = {}
    for info in infos:
        found = hits.rows.get(info.path.name, {})
        for target, rows in found.items():
            part_id = new_ids[target] if isinstance(target, str) else target
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
        target_path = folder / info.path.name
        os.replace(info.path, target_path)
        min_lat, min_lon, max_lat, max_lon = info.bbox
        cursor = con.execute(
            "INSERT INTO waybill_parts (file, ingest_seq, rows, sha256, min_lat, min_lon, "
            "max_lat, max_lon, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
            (target_path.name, seq, info.rows, info.sha256, min_lat, min_lon, max_lat, max_lon),
        )
        part_id = int(cursor.lastrowid or 0)
        new_ids[info.path.name] = part_id
        totals[part_id], files[part_id] = info.rows, target_path.name
        if info.cells is not None:
            add_companion(con, part_id, *info.cells)
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
    ready = _site_cache.recorded(con)  # the site finder's ready columns
    if ready is not None:
        listed.add(str(ready["file"]))
    for entry in folder.iterdir():
        if entry.name.startswith(_INCOMING) and entry.is_dir() and not entry.is_symlink():
            with contextlib.suppress(OSError), (entry / _LOCK).open("a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer
                shutil.rmtree(entry, ignore_errors=True)
        elif (
            (
                (entry.name.startswith(("part-", "cells-")) and entry.suffix == ".parquet")
                or _site_cache.is_cache_file(entry.name)
            )
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
            with pq.ParquetWriter(path, CELL_SCHEMA, **CELL_OPTIONS) as out:
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
