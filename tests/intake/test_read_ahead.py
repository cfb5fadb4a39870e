"""Chunks are read one ahead on a thread while the last one is checked (``ahead``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from workbench.ahead import ahead


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("workbench-ahead")]


def test_the_next_chunk_is_read_while_this_one_is_used() -> None:
    read_at: list[float] = []

    def chunks() -> Iterator[int]:
        for i in range(3):
            time.sleep(0.2)  # parsing
            read_at.append(time.perf_counter())
            yield i

    used_at = []
    got = []
    for chunk in ahead(chunks()):
        got.append(chunk)
        time.sleep(0.4)  # checking
        used_at.append(time.perf_counter())
    assert got == [0, 1, 2]
    assert read_at[1] < used_at[0]  # chunk 1 was parsed while chunk 0 was checked
    assert not _threads()


def test_an_error_while_reading_comes_after_the_chunks_before_it() -> None:
    def chunks() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("row 7: broken")

    got = []
    with pytest.raises(ValueError, match="row 7"):
        for chunk in ahead(chunks()):
            got.append(chunk)
    assert got == [1, 2]
    assert not _threads()


def test_stopping_early_stops_the_reader_and_closes_the_file() -> None:
    closed = threading.Event()

    def chunks() -> Iterator[int]:
        try:
            yield from range(1_000)
        finally:
            closed.set()

    reader = ahead(chunks())
    assert next(reader) == 0
    reader.close()
    assert closed.is_set()
    assert not _threads()
