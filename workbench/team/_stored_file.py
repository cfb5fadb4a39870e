"""A Parquet part kept in the team store, read by byte ranges (private to ``team``)."""

from __future__ import annotations

import bisect
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["StoredFile"]


class StoredFile(io.RawIOBase):
    """A file kept in ``waybill_files`` (in chunks), read by byte ranges: ``substring`` of
    the chunks a read spans, so a Parquet reader fetches only the footer and the row groups
    it reads. A file gone meanwhile (an ingest dropped its part) is FileNotFoundError."""

    def __init__(self, con: Any, case_id: int, file: str, sizes: Sequence[int]) -> None:
        super().__init__()
        self._con, self._case_id, self._file = con, case_id, file
        self._starts = [0, *np.cumsum(np.asarray(sizes, dtype=np.int64)).tolist()]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._starts[-1]}[whence]
        self._pos = max(0, base + int(offset))
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = self._starts[-1] if size is None or size < 0 else self._pos + int(size)
        data = self._range(self._pos, min(end, self._starts[-1]))
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def _range(self, start: int, end: int) -> bytes:
        pieces = []
        while start < end:
            chunk = bisect.bisect_right(self._starts, start) - 1
            upto = min(end, self._starts[chunk + 1])
            row = (
                self._con.cursor(binary=True)
                .execute(
                    "SELECT substring(data FROM %s FOR %s) FROM waybill_files WHERE case_id = %s "
                    "AND file = %s AND chunk = %s",
                    (
                        start - self._starts[chunk] + 1,
                        upto - start,
                        self._case_id,
                        self._file,
                        chunk,
                    ),
                )
                .fetchone()
            )
            self._con.commit()
            if row is None:
                raise FileNotFoundError(f"{self._file} is no longer in the team case")
            pieces.append(bytes(row[0]))
            start = upto
        return b"".join(pieces)
