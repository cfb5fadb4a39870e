"""Duplicate keys within a chunk: found by hash, confirmed as text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workbench.arrays import string_hashes
from workbench.intake._rules import repeated


def test_later_repeats_are_marked_and_first_occurrences_kept() -> None:
    text = pa.array(["W1", "W2", "W1", "W3", "W2", "W1", ""])
    found = repeated(string_hashes(text), text)
    assert found.tolist() == [False, False, True, False, True, True, False]


def test_a_hash_collision_is_sorted_out_as_text() -> None:
    text = pa.array(["a", "b", "a", "c", "b", "d"])
    hashed = np.array([7, 7, 7, 1, 7, 2], dtype=np.uint64)  # a, b and their repeats collide
    assert repeated(hashed, text).tolist() == [False, False, True, False, True, False]


def test_no_repeats() -> None:
    text = pa.array([f"W{i}" for i in range(1000)])
    assert not repeated(string_hashes(text), text).any()
