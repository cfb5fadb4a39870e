"""The numba kernel behind :mod:`workbench.case._fingerprint` (imported lazily; releases
the GIL). Every operation stays in uint64: numba would turn a uint64 mixed with an int64
into a float."""

from __future__ import annotations

import numpy as np
from numba import njit

Arr = np.ndarray

_FNV_PRIME = np.uint64(0x100000001B3)
_POLY = np.uint64(0x9E3779B97F4A7C15)
_ONE = np.uint64(1)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


@njit(cache=True, nogil=True)
def _mix(x: np.uint64) -> np.uint64:
    """SplitMix64's finaliser: every input bit reaches every output bit."""
    x = (x ^ (x >> _S30)) * _MIX1
    x = (x ^ (x >> _S27)) * _MIX2
    return x ^ (x >> _S31)


@njit(cache=True, nogil=True)
def hash_strings(offsets: Arr, data: Arr, seeds: Arr) -> tuple[Arr, Arr]:
    """(h1, h2) of string ``i`` (bytes ``data[offsets[i]:offsets[i + 1]]``) from ``seeds[i]``."""
    n = len(offsets) - 1
    h1 = np.empty(n, dtype=np.uint64)
    h2 = np.empty(n, dtype=np.uint64)
    for i in range(n):
        a = seeds[i]
        b = _mix(seeds[i] ^ _POLY)
        start, end = offsets[i], offsets[i + 1]
        for j in range(start, end):
            c = np.uint64(data[j])
            a = (a ^ c) * _FNV_PRIME
            b = (b + c + _ONE) * _POLY
        length = np.uint64(end - start)
        h1[i] = _mix(a ^ length)
        h2[i] = _mix(b + length)
    return h1, h2
