"""The site finder's columns kept ready beside the parts (private to ``case``).

A site run needs seven columns of every waybill (seller, point, day, value, brand,
precision). Decoding them from the GeoParquet parts costs about a second at 10M waybills,
most of it filling 300 MB of fresh memory. So each ingest also writes those columns once,
decoded, in the types the finder uses, to one file in the parts folder
(``site-input-<hex>.bin``), and lists it in the GeoPackage (``workbench_meta`` key
``site_input``: its file, SHA-256 and the listing of parts it was made from) in the
ingest's own transaction. A run maps the file (copy on write: the frame can be changed,
the file never is): its pages come from the page cache, and nothing is decoded or copied.

The file is derived data, never trusted on its own: a run uses it only when the listing it
was made from is exactly the case's listing now (the same part files and the same replaced
rows) and its bytes still have the SHA-256 recorded; otherwise the run reads the parts, as
before. It is not audited (the parts it comes from are). Like a part, it is written in the
ingest's locked incoming folder and moved in inside the transaction, so a killed ingest
leaves at most an unlisted file, which the next write sweeps.

Layout (little-endian): each column's values back to back from offset 0, each column
starting on a 64-byte boundary (the floats as float64, the codes as int8/16/32: the type
pandas keeps for that many categories, -1 for missing), then a UTF-8 JSON footer (format,
rows, the listing key, each column's name, type and offset, and the values each coded
column's codes stand for: text, or days since 1970-01-01 for dates), its length as 8
bytes and the magic ``WBSITES1``.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import sqlite3
import warnings
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.case._part_write import file_sha256

FORMAT = 1
META_KEY = "site_input"
MAGIC = b"WBSITES1"
PREFIX = "site-input-"
SUFFIX = ".bin"
_NAME = re.compile(r"site-input-[0-9a-f]{32}\.bin")
_ALIGN = 64
_FOOTER_MAX = 1 << 30  # a footer longer than this is not one we wrote
_CHUNK_ROWS = 1 << 20  # codes narrowed at a time


def listing_key(parts: Sequence[tuple[Path, np.ndarray]]) -> str:
    """What identifies a listing of parts: their files (named once, never rewritten) and
    replaced rows, in part order."""
    digest = hashlib.sha256(f"site-input {FORMAT}\n".encode())
    for path, gone in parts:
        digest.update(path.name.encode() + b"\n")
        digest.update(np.asarray(gone, dtype="<i8").tobytes() + b"\n")
    return digest.hexdigest()


def code_dtype(n_values: int) -> np.dtype[Any]:
    """The type pandas keeps for the codes of ``n_values`` categories."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_values < np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def recorded(con: sqlite3.Connection) -> dict[str, Any] | None:
    """What the case lists of its ready copy (None: nothing, or not a listing we wrote)."""
    row = con.execute("SELECT value FROM workbench_meta WHERE key = ?", (META_KEY,)).fetchone()
    if row is None:
        return None
    try:
        meta = json.loads(row[0])
    except (TypeError, ValueError):
        return None
    if not isinstance(meta, dict) or not _NAME.fullmatch(str(meta.get("file", ""))):
        return None  # a name that is not ours is never opened (it could point elsewhere)
    return meta


def current(
    con: sqlite3.Connection, folder: Path, parts: Sequence[tuple[Path, np.ndarray]]
) -> tuple[Path, str] | None:
    """The ready copy made from exactly ``parts`` and its SHA-256 (None: there is none)."""
    meta = recorded(con)
    if meta is None or not parts or meta.get("listing") != listing_key(parts):
        return None
    return folder / str(meta["file"]), str(meta.get("sha256", ""))


def record(con: sqlite3.Connection, file: str, key: str, sha256: str, rows: int) -> None:
    """List a ready copy (inside the caller's write transaction)."""
    value = json.dumps({"file": file, "listing": key, "sha256": sha256, "rows": rows})
    con.execute("INSERT OR REPLACE INTO workbench_meta VALUES (?, ?)", (META_KEY, value))


def forget(con: sqlite3.Connection) -> None:
    """Unlist the ready copy (inside the caller's write transaction)."""
    con.execute("DELETE FROM workbench_meta WHERE key = ?", (META_KEY,))


def is_cache_file(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def load(path: Path, sha256: str, order: Sequence[str]) -> pd.DataFrame | None:
    """The finder's frame (columns in ``order``) mapped from a ready copy; None when the
    file is gone, damaged or not the one recorded (the caller then reads the parts)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 16:
                _unusable(path, "it is too short")
                return None
            # copy on write: the frame's arrays can be changed, the file never is
            view = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
    except FileNotFoundError:
        return None
    if hashlib.sha256(view).hexdigest() != sha256:
        _unusable(path, "its SHA-256 is not the one the case recorded")
        return None
    try:
        footer = _footer(view, size)
        rows = int(footer["rows"])
        floats: dict[str, np.ndarray] = {}
        codes: dict[str, tuple[np.ndarray, list[Hashable]]] = {}
        for column in footer["columns"]:
            values = np.frombuffer(
                view, dtype=np.dtype(column["dtype"]), count=rows, offset=int(column["offset"])
            )
            name = str(column["name"])
            if name in footer["categories"]:
                codes[name] = (values, list(footer["categories"][name]))
            else:
                floats[name] = values
        if set(floats) | set(codes) != set(order):
            raise ValueError(f"columns {sorted(set(floats) | set(codes))}")
        return make_frame(floats, codes, order)
    except (KeyError, TypeError, ValueError) as error:
        _unusable(path, f"it cannot be read ({error})")
        return None


def _footer(view: mmap.mmap, size: int) -> dict[str, Any]:
    if view[size - 8 :] != MAGIC:
        raise ValueError("no footer")
    length = int.from_bytes(view[size - 16 : size - 8], "little")
    if not 0 < length <= min(size - 16, _FOOTER_MAX):
        raise ValueError("bad footer length")
    footer = json.loads(view[size - 16 - length : size - 16].decode())
    if not isinstance(footer, dict) or footer.get("format") != FORMAT:
        raise ValueError("another format")
    return footer


def _unusable(path: Path, why: str) -> None:
    warnings.warn(
        f"the case's ready copy of the site finder's columns ({path.name}) is not used: {why}; "
        "the waybills are read from the parts instead (the next ingest writes a new copy)",
        stacklevel=3,
    )


def make_frame(
    floats: dict[str, np.ndarray],
    codes: dict[str, tuple[np.ndarray, list[Hashable]]],
    order: Sequence[str],
) -> pd.DataFrame:
    """The finder's frame (columns in ``order``) from its float columns and its coded
    columns (codes and the values they stand for; dates as days since 1970-01-01),
    without copying arrays whose codes already have the type pandas keeps."""
    columns: dict[str, object] = dict(floats)
    for name, (values, names) in codes.items():
        if name == "shipped_at":
            categories = pd.Index(np.array(names, dtype=np.int64).astype("datetime64[D]"))
            categories = categories.astype("datetime64[s]")
        else:
            categories = pd.Index(names, dtype=str if names else object)
        columns[name] = pd.Categorical.from_codes(
            values, dtype=pd.CategoricalDtype(categories), validate=False
        )
    return pd.DataFrame({name: columns[name] for name in order}, copy=False)


def not_written(error: BaseException) -> None:
    """Say that a ready copy could not be written (the step itself went through)."""
    warnings.warn(
        f"the ready copy of the site finder's columns was not written ({error}); site runs "
        "read the waybills from the parts until one is (the next ingest or run writes it)",
        stacklevel=3,
    )


class Writer:
    """Writes a ready copy of ``rows`` rows at most, a batch at a time.

    The floats go to their place in the file at once; the codes (int32 while the number of
    values is not known) to a scratch file beside it, narrowed into the file at the end."""

    def __init__(self, path: Path, rows: int, floats: Sequence[str], coded: Sequence[str]) -> None:
        self.path = path
        self.rows = rows
        self.done = 0
        self._file = open(path, "w+b")  # noqa: SIM115 - closed by finish() or abandon()
        self._scratch = open(path.with_suffix(".codes"), "w+b")  # noqa: SIM115
        self.offsets: dict[str, int] = {}
        offset = 0
        for name in floats:
            self.offsets[name] = offset
            offset = _aligned(offset + rows * 8)
        self._end_of_floats = offset
        self._coded = list(coded)
        self._scratch.truncate(len(self._coded) * rows * 4)  # sparse until written

    def add(self, floats: dict[str, np.ndarray], codes: dict[str, np.ndarray]) -> None:
        n = len(next(iter(floats.values())))
        for name, values in floats.items():
            data = np.ascontiguousarray(values, dtype="<f8")
            at = self.offsets[name] + self.done * 8
            os.pwrite(self._file.fileno(), data.data, at)
        for j, name in enumerate(self._coded):
            data = np.ascontiguousarray(codes[name], dtype="<i4")
            at = (j * self.rows + self.done) * 4
            os.pwrite(self._scratch.fileno(), data.data, at)
        self.done += n

    def finish(self, key: str, categories: dict[str, list[Hashable]]) -> str:
        """Narrow the codes into the file, write the footer; returns the file's SHA-256.

        Both go through a small buffer (``_CHUNK_ROWS`` codes at a time, the hash read in
        blocks), not a map of the files: mapped pages would count in the ingest's memory."""
        columns = [{"name": n, "dtype": "<f8", "offset": o} for n, o in self.offsets.items()]
        offset = self._end_of_floats
        for j, name in enumerate(self._coded):
            dtype = code_dtype(len(categories[name])).newbyteorder("<")
            for lo in range(0, self.done, _CHUNK_ROWS):
                n = min(_CHUNK_ROWS, self.done - lo)
                raw = os.pread(self._scratch.fileno(), n * 4, (j * self.rows + lo) * 4)
                data = np.frombuffer(raw, dtype="<i4").astype(dtype)
                os.pwrite(self._file.fileno(), data.data, offset + lo * dtype.itemsize)
            columns.append({"name": name, "dtype": dtype.str, "offset": offset})
            offset = _aligned(offset + self.done * dtype.itemsize)
        _write_footer(self._file.fileno(), offset, self.done, key, columns, categories)
        self.abandon(keep=True)
        return file_sha256(self.path)

    def abandon(self, *, keep: bool = False) -> None:
        """Close the files; remove them unless ``keep`` (the scratch always goes)."""
        for fh in (self._file, self._scratch):
            if not fh.closed:
                fh.close()
        Path(self._scratch.name).unlink(missing_ok=True)
        if not keep:
            self.path.unlink(missing_ok=True)


def write_frame(path: Path, frame: pd.DataFrame, key: str) -> str:
    """Write a ready copy of a finder's frame already in memory (read from the parts made
    ``key``); returns its SHA-256."""
    columns: list[dict[str, Any]] = []
    categories: dict[str, list[Hashable]] = {}
    offset = 0
    with open(path, "wb") as fh:
        for name in frame.columns:
            column = frame[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                values = np.asarray(column.array.codes)
                index = column.cat.categories
                if name == "shipped_at":
                    days = np.asarray(index, dtype="datetime64[D]").astype(np.int64)
                    categories[name] = days.tolist()
                else:
                    categories[name] = [str(v) for v in index]
            else:
                values = column.to_numpy(dtype=float)
            data = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
            os.pwrite(fh.fileno(), data.data, offset)
            columns.append({"name": str(name), "dtype": data.dtype.str, "offset": offset})
            offset = _aligned(offset + data.nbytes)
        _write_footer(fh.fileno(), offset, len(frame), key, columns, categories)
    return file_sha256(path)


def _write_footer(
    fd: int,
    offset: int,
    rows: int,
    key: str,
    columns: list[dict[str, Any]],
    categories: dict[str, list[Hashable]],
) -> None:
    """The footer at ``offset``: the JSON, its length and the magic."""
    footer = {
        "format": FORMAT,
        "rows": rows,
        "listing": key,
        "columns": columns,
        "categories": categories,
    }
    text = json.dumps(footer, ensure_ascii=False).encode()
    os.pwrite(fd, text + len(text).to_bytes(8, "little") + MAGIC, offset)


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN
