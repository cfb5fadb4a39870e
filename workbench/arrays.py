"""Array helpers that stay fast where NumPy's own are slow.

NumPy 2.3+ finds the unique values of an integer array with a hash table when no index or
count is asked for; on 250,000 random 64-bit keys that takes 0.5-1.5 s on this project's
machines, where sorting them takes 2 ms. :func:`unique` sorts.
"""

from __future__ import annotations

import numpy as np

__all__ = ["unique"]


def unique(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-d array (as ``np.unique``; NaN is not merged)."""
    ordered = np.sort(np.asarray(values), kind="quicksort")
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
