"""128-bit fingerprints of normalised identifiers, for matching across cases (private to
``case``).

A fingerprint is two independent 64-bit hashes of a string's UTF-8 bytes, started from a
seed that is itself the hash of a *domain* (the identifier kind, or ``seller`` and the
platform): the same value under two kinds never collides by construction. ``h1`` is
FNV-1a 64, ``h2`` a multiplicative polynomial hash, each finished with the SplitMix64
mixer. A large column is hashed in one numba pass over its Arrow buffers (no Python object
per row), about 20 ns a value; a column under :data:`NUMPY_BELOW` strings in NumPy, one
vectorised step per byte position, which costs less than loading the kernel (a site run
links a case's 100k identifiers in 30 ms rather than 0.4 s of numba). Both give the same
bits (tested). Matching joins on ``h1`` and checks ``h2``: with 128 bits, two
different values meeting by chance across a million-row case and twenty earlier cases is
about one chance in 10^19.

The scheme is stored next to every index (:data:`SCHEME`); an index made with another
scheme is never compared, it is rebuilt from the case's tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SCHEME", "fingerprints", "load_ahead", "string_buffers"]

SCHEME = "fnv1a64+poly64/splitmix/v1"
_BASIS = 0xCBF29CE484222325  # FNV-1a 64 offset basis
NUMPY_BELOW = 400_000  # strings; NumPy takes ~0.15 s there, the kernel's first call ~0.35 s
_FNV_PRIME = np.uint64(0x100000001B3)
_POLY = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _kernels() -> Any:
    """The numba kernel, imported on first use."""
    from workbench.case import _fingerprint_jit

    return _fingerprint_jit


def load_ahead(n_strings: int | None = None) -> None:
    """Load the kernels on a background thread and return at once: a caller with other
    work first (reading tables in child processes, normalising in Arrow) overlaps the
    ~0.5 s of importing numba and loading the cached kernels with it. Nothing is loaded
    when the caller will hash only ``n_strings`` strings, fewer than NumPy takes."""
    import threading

    if n_strings is not None and n_strings < NUMPY_BELOW:
        return

    def load() -> None:
        jit = _kernels()
        empty = np.zeros(0, dtype=np.uint64)
        jit.hash_strings(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8), empty)
        jit.join_sorted(empty, empty)

    threading.Thread(target=load, name="fingerprint-kernels", daemon=True).start()


def string_buffers(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(offsets as int64, data bytes) of a string column, without a Python object per row."""
    import pyarrow as pa

    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_string())
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets, data


def fingerprints(domain: pd.Series, value: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(h1, h2) uint64 fingerprints of each ``value`` within its ``domain`` (the kind).

    Missing values hash as empty strings (callers drop those rows first).

    >>> h1, h2 = fingerprints(pd.Series(["phone"]), pd.Series(["+8613800138000"]))
    >>> h1.dtype.name, len(h2)
    ('uint64', 1)
    """
    if isinstance(domain.dtype, pd.CategoricalDtype) and not domain.isna().any():
        codes, names = domain.cat.codes.to_numpy(), domain.cat.categories.astype(str)
    else:
        codes, names = pd.factorize(domain.astype(str).reset_index(drop=True))
    name_offsets, name_data = string_buffers([str(n) for n in names])
    basis = np.full(len(names), np.uint64(_BASIS), dtype=np.uint64)
    hash_strings = _hash_numpy if len(value) < NUMPY_BELOW else _kernels().hash_strings
    seeds, _ = hash_strings(name_offsets, name_data, basis)
    offsets, data = string_buffers(value.astype(str).fillna("").reset_index(drop=True))
    row_seeds = seeds[codes] if len(codes) else np.zeros(0, dtype=np.uint64)
    h1, h2 = hash_strings(offsets, data, row_seeds)
    return h1, h2


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, as the kernel's ``_mix``."""
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def _hash_numpy(
    offsets: np.ndarray, data: np.ndarray, seeds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's ``hash_strings`` in NumPy: the strings sorted longest first, so the
    ones still going at byte position ``j`` are a prefix, and each position is one step
    over that prefix (uint64 arithmetic wraps, as in the kernel)."""
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    order = np.argsort(-lengths, kind="stable")
    starts, lengths = offsets[:-1][order], lengths[order]
    a = seeds[order].astype(np.uint64)
    with np.errstate(over="ignore"):
        b = _mix(a ^ _POLY)
        going = np.searchsorted(-lengths, -np.arange(int(lengths[0]) if n else 0), "left")
        for j, k in enumerate(going.tolist()):
            byte = data[starts[:k] + j].astype(np.uint64)
            a[:k] = (a[:k] ^ byte) * _FNV_PRIME
            b[:k] = (b[:k] + byte + np.uint64(1)) * _POLY
        size = lengths.astype(np.uint64)
        h1, h2 = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)
        h1[order], h2[order] = _mix(a ^ size), _mix(b + size)
    return h1, h2
