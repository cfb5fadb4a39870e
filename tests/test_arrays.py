"""workbench.arrays: the same answers as NumPy's, by sorting; Arrow's memory pool."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
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


def _texts(n: int, seed: int) -> list[str | None]:
    rng = np.random.default_rng(seed)
    alphabet = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-顺丰"))
    lengths = rng.integers(0, 90, n)  # past the 64 bytes hashed in one pass
    return [
        None if i % 97 == 5 else "".join(rng.choice(alphabet, k)) for i, k in enumerate(lengths)
    ]


def test_string_hashes_are_equal_exactly_for_equal_text() -> None:
    import pyarrow as pa

    from workbench.arrays import string_hashes

    texts = _texts(20_000, 3)
    distinct = {t for t in texts if t is not None}
    hashed = string_hashes(pa.array(texts, pa.string()))
    assert hashed.dtype == np.uint64 and len(hashed) == len(texts)
    by_text: dict[str | None, int] = {}
    for text, h in zip(texts, hashed.tolist(), strict=True):
        assert by_text.setdefault(text, h) == h  # the same text, the same hash
    assert len({by_text[t] for t in distinct}) == len(distinct)  # distinct texts differ
    assert by_text[None] == string_hashes(pa.array([""]))[0]  # a null hashes as empty


def test_string_hashes_of_a_slice_and_of_large_strings() -> None:
    import pyarrow as pa

    from workbench.arrays import string_hashes

    texts = _texts(5_000, 4)
    whole = string_hashes(pa.array(texts, pa.string()))
    sliced = string_hashes(pa.array(texts, pa.string()).slice(1_234, 2_000))
    np.testing.assert_array_equal(sliced, whole[1_234:3_234])
    large = string_hashes(pa.array(texts, pa.large_string()))
    np.testing.assert_array_equal(large, whole)
    chunked = string_hashes(pa.chunked_array([texts[:10], texts[10:]], pa.string()))
    np.testing.assert_array_equal(chunked, whole)


def test_string_hashes_tell_apart_texts_that_differ_in_one_byte_or_a_trailing_zero() -> None:
    import pyarrow as pa

    from workbench.arrays import string_hashes

    base = "SF1234567890123456789012345678901234567890123456789012345678901234567"
    texts = [base[:k] for k in range(len(base) + 1)] + [base[:k] + "\0" for k in range(70)]
    texts += [base[:k] + "X" + base[k + 1 :] for k in range(len(base))]
    hashed = string_hashes(pa.array(texts))
    assert len(set(hashed.tolist())) == len(set(texts))


def _pool_after_import(env: dict[str, str]) -> str:
    code = "import workbench.arrays, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_arrow_allocates_from_jemalloc_unless_the_user_chose_a_pool() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow build has no jemalloc")
    assert _pool_after_import(env) == "jemalloc"
    assert _pool_after_import({**env, "ARROW_DEFAULT_MEMORY_POOL": "system"}) == "system"
