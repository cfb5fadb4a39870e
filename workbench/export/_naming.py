"""How exports are named: one rule for file names made from data, one for reference numbers."""

from __future__ import annotations

import datetime as dt
import hashlib

__all__ = ["reference", "safe_name"]


def safe_name(value: object, fallback: str = "site") -> str:
    """A file-name part from an identifier: ASCII letters, digits, ``-`` and ``_`` only.

    Separators, dots and other characters become ``_`` (so ``S/../002`` cannot leave its
    folder, and a zip opens the same on every system); at most 80 characters.

    >>> safe_name("S/../002")
    'S____002'
    """
    cleaned = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in str(value)
    )
    return cleaned.strip("_")[:80] or fallback


def reference(now: dt.datetime, *parts: str) -> str:
    """A reference number such as ``CW-20261202-1A2B3C4D``: the date, then 8 hex digits of
    the SHA-256 of the time and ``parts`` (what the export covers).

    >>> reference(dt.datetime(2026, 12, 2, tzinfo=dt.UTC), "run", "S001")[:12]
    'CW-20261202-'
    """
    digest = hashlib.sha256("\x1f".join([now.isoformat(), *parts]).encode("utf-8"))
    return f"CW-{now:%Y%m%d}-{digest.hexdigest()[:8].upper()}"
