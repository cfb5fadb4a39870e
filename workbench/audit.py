"""The case's append-only audit log: each entry carries the hash of the one before it.

An entry's hash is the SHA-256 of its sequence number, time, actor, action, parameters,
input-file hashes and the previous entry's hash, so editing, removing or reordering any
past entry breaks the chain from that entry on. :func:`verify` recomputes the chain and
names the first entry that does not match.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["GENESIS", "AuditCheck", "append", "current_actor", "entry_hash", "verify"]

GENESIS = "0" * 64


def current_actor() -> str:
    """The OS user running this process (``WORKBENCH_ACTOR`` overrides it)."""
    explicit = os.environ.get("WORKBENCH_ACTOR")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return f"uid-{os.getuid()}"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(
    seq: int, at: str, actor: str, action: str, parameters: str, inputs: str, prev_hash: str
) -> str:
    """Hash of one entry from its stored fields (parameters and inputs as stored JSON)."""
    payload = _canonical([seq, at, actor, action, parameters, inputs, prev_hash])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(
    con: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    parameters: Mapping[str, Any],
    inputs: Sequence[Mapping[str, Any]] = (),
) -> int:
    """Append an entry inside the caller's transaction; returns its sequence number."""
    last = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    params_text, inputs_text = _canonical(parameters), _canonical(list(inputs))
    digest = entry_hash(seq, at, actor, action, params_text, inputs_text, prev)
    con.execute(
        "INSERT INTO audit (seq, at, actor, action, parameters, inputs, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, params_text, inputs_text, prev, digest),
    )
    return int(seq)


@dataclass(frozen=True)
class AuditCheck:
    """Result of :func:`verify`: ``ok``, entries checked, and the first broken entry."""

    ok: bool
    n_entries: int
    first_broken: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit log intact: {self.n_entries} entries, hash chain verified"
        return f"audit log broken at entry {self.first_broken}: {self.reason}"


def verify(con: sqlite3.Connection) -> AuditCheck:
    """Recompute the chain; report the first entry whose hash or link does not match."""
    rows = con.execute(
        "SELECT seq, at, actor, action, parameters, inputs, prev_hash, hash FROM audit ORDER BY seq"
    ).fetchall()
    prev, expected_seq = GENESIS, 1
    for seq, at, actor, action, parameters, inputs, prev_hash, digest in rows:
        if seq != expected_seq:
            return AuditCheck(
                False,
                len(rows),
                expected_seq,
                f"entry {expected_seq} is missing (next entry is {seq})",
            )
        if prev_hash != prev:
            return AuditCheck(
                False, len(rows), seq, "its previous-hash does not match the entry before it"
            )
        if entry_hash(seq, at, actor, action, parameters, inputs, prev_hash) != digest:
            return AuditCheck(False, len(rows), seq, "its content does not match its hash")
        prev, expected_seq = digest, seq + 1
    return AuditCheck(True, len(rows))
