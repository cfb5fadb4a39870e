"""workbench.arrays: the same answers as NumPy's, by sorting."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.arrays import unique


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int64, np.uint64, np.float64])
def test_unique_matches_numpy(dtype) -> None:
    rng = np.random.default_rng(7)
    for size in (0, 1, 2, 1_000):
        values = rng.integers(0, 50, size).astype(dtype)
        np.testing.assert_array_equal(unique(values), np.unique(values))
        assert unique(values).dtype == values.dtype


def test_unique_of_high_entropy_keys() -> None:
    keys = np.random.default_rng(1).integers(0, 2**63, 10_000, dtype=np.int64)
    keys = np.r_[keys, keys[:100]]
    np.testing.assert_array_equal(unique(keys), np.unique(keys))
