"""The listed waybill parts, read as one snapshot, and reads that survive a writer
(private to ``case``).

Every reader of the parts (all waybills, the site finder's columns, the map's counts)
lists them the same way: each part's file, ingest, replaced rows and companion of counts,
in one statement, so the listing is one consistent snapshot of the case. A writer may drop
a part whose every row it replaced after a reader listed it: :func:`retrying` lists and
reads again then.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

T = TypeVar("T")
READ_ATTEMPTS = 3


@dataclass(frozen=True)
class Listed:
    """One listed part: its file, the ingest that wrote it (None: moved from an older
    case), its replaced row positions and its companion of counts (None: none yet)."""

    file: str
    seq: int | None
    deleted: np.ndarray
    cells: str | None


def listing(con: sqlite3.Connection) -> list[Listed]:
    """Every listed part in part order, from one statement."""
    rows = con.execute(
        "SELECT p.file, p.ingest_seq, d.rows, c.file FROM waybill_parts p "
        "LEFT JOIN waybill_deletes d ON d.part_id = p.part_id "
        "LEFT JOIN waybill_cells c ON c.part_id = p.part_id ORDER BY p.part_id"
    )
    return [
        Listed(
            str(file),
            None if seq is None else int(seq),
            np.frombuffer(deleted or b"", dtype="<u4").astype(np.int64),
            None if cells is None else str(cells),
        )
        for file, seq, deleted, cells in rows
    ]


def retrying(read: Callable[[], T]) -> T:
    """``read()`` (which lists the parts and reads them), again when a part it listed was
    removed before it was read, at most ``READ_ATTEMPTS`` times."""
    for attempt in range(READ_ATTEMPTS):
        try:
            return read()
        except FileNotFoundError:
            if attempt == READ_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
