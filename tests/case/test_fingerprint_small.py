"""The fingerprints of a small column come from NumPy, of a large one from the numba
kernel: both must give the same 128 bits for every string, or cases fingerprinted at
different sizes would never match."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.case import _fingerprint
from workbench.case._fingerprint import fingerprints, string_buffers
from workbench.case._fingerprint_jit import hash_strings


def _strings(rng: np.random.Generator, n: int) -> list[str]:
    alphabet = [*"abcXYZ0189+-_ .@", "é", "中", "号", "🙂", "\x1f"]
    lengths = rng.integers(0, 40, n)
    out = ["".join(rng.choice(alphabet, size=int(k))) for k in lengths]
    out[: min(n, 3)] = ["", "a" * 5000, "中" * 700][: min(n, 3)]  # empty, long, multibyte
    return out


@pytest.mark.parametrize("n", [0, 1, 2, 17, 2000])
def test_numpy_hash_equals_the_kernel(n: int) -> None:
    rng = np.random.default_rng(n)
    offsets, data = string_buffers(_strings(rng, n))
    seeds = rng.integers(0, np.iinfo(np.int64).max, n, dtype=np.int64).astype(np.uint64)
    got = _fingerprint._hash_numpy(offsets, data, seeds)
    want = hash_strings(offsets, data, seeds)
    assert got[0].dtype == np.uint64
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_sliced_buffers_hash_as_their_strings() -> None:
    """An Arrow slice starts its offsets past zero; only its own bytes count."""
    import pyarrow as pa

    array = pa.array(["skip", "phone", "", "卡 6222"]).slice(1)
    offsets, data = string_buffers(array)
    seeds = np.arange(1, 4, dtype=np.uint64)
    got = _fingerprint._hash_numpy(offsets, data, seeds)
    want = hash_strings(offsets, data, seeds)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_fingerprints_agree_across_the_size_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    values = pd.Series(_strings(rng, 300))
    kinds = pd.Series(rng.choice(["phone", "bank_card", "email"], 300))
    small = fingerprints(kinds, values)
    monkeypatch.setattr(_fingerprint, "NUMPY_BELOW", 0)  # every column to the kernel
    large = fingerprints(kinds, values)
    np.testing.assert_array_equal(small[0], large[0])
    np.testing.assert_array_equal(small[1], large[1])
    distinct = set(zip(kinds, values, strict=True))
    assert len(set(zip(small[0], small[1], strict=True))) == len(distinct)
