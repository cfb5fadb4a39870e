"""Array helpers that stay fast where NumPy's or pandas' own are slow.

NumPy 2.3+ finds the unique values of an integer array with a hash table when no index or
count is asked for; on 250,000 random 64-bit keys that takes 0.5-1.5 s on this project's
machines, where sorting them takes 2 ms. :func:`unique` sorts.

pandas hashes text by first making a Python object of every value; :func:`string_hashes`
reads Arrow's buffers as they are, eight bytes of every value at a time.

Importing this module makes jemalloc Arrow's default memory pool (where the pyarrow build
has it and the user has not chosen a pool with ``ARROW_DEFAULT_MEMORY_POOL``). On the
project's 2-core machine, Arrow's default mimalloc pool hands freed pages back and faults
them in again: reading a 10M-waybill case's site columns cost 2.1 s of system time with
it and 0.2 s with jemalloc, and `workbench sites` peaked 190 MB lower; an ingest of 1M
rows spent half the system time.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable

import numpy as np
import pyarrow as pa

__all__ = ["release_unused", "string_hashes", "unique"]


def _prefer_jemalloc() -> None:
    """jemalloc as Arrow's default pool, unless ``ARROW_DEFAULT_MEMORY_POOL`` says
    otherwise or this build lacks it (memory already allocated stays in its own pool)."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


_prefer_jemalloc()


def unique(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-d array (as ``np.unique``; NaN is not merged)."""
    ordered = np.sort(np.asarray(values), kind="quicksort")
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_BYTE = np.arange(8, dtype=np.int64)


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit moves about half the output bits."""
    h = h ^ (h >> np.uint64(30))
    h = h * _MIX1
    h = h ^ (h >> np.uint64(27))
    h = h * _MIX2
    return h ^ (h >> np.uint64(31))


def string_hashes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each value of an Arrow string array (a null hashes as ``""``).

    Equal texts get equal hashes; different texts collide with odds of about 2^-64 per
    pair. The value's length and then each of its eight-byte words are folded in through
    SplitMix64's finaliser, so texts that differ only by trailing zero bytes differ too.
    Hashes are for use within one process (not stored)."""
    if isinstance(values, pa.ChunkedArray):
        parts = [string_hashes(chunk) for chunk in values.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TypeError(f"string_hashes needs Arrow strings, not {values.type}")
    n = len(values)
    _, offsets_buffer, data_buffer = values.buffers()
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    if offsets_buffer is None:  # an empty array
        return np.zeros(n, dtype=np.uint64)
    offsets = np.frombuffer(offsets_buffer, dtype=width)[values.offset : values.offset + n + 1]
    starts = offsets[:-1].astype(np.int64)
    lengths = np.diff(offsets).astype(np.int64)
    if values.null_count:  # a null slot's bytes are undefined: hash it as empty
        lengths[np.asarray(values.is_null(), dtype=bool)] = 0
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else None
    # eight zero bytes after the data, so the last word of the last value can be read whole
    padded = np.zeros((len(data) if data is not None else 0) + 8, dtype=np.uint8)
    if data is not None:
        padded[: len(data)] = data
    h = _mix(lengths.astype(np.uint64) * _GOLDEN)
    longest = int(lengths.max()) if n else 0
    for at in range(0, longest, 8):
        rows = np.flatnonzero(lengths > at)
        index = (starts[rows] + at)[:, None] + _BYTE
        chunk = padded[index]
        chunk[_BYTE[None, :] >= (lengths[rows] - at)[:, None]] = 0  # past the value's end
        word = chunk.view("<u8").ravel()
        h[rows] = _mix((h[rows] ^ word) * _GOLDEN)
    return h


def release_unused() -> None:
    """Give memory freed since the last call back to the system: Arrow's pool keeps freed
    pages for reuse, and glibc's heap keeps what lies between live blocks. A loop over
    chunks calls this after each, so its peak stays that of one chunk rather than creeping
    up with the pages each chunk left behind."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None elsewhere (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None
