"""The case's append-only audit log: a hash chain that vouches for the case's content.

An entry's hash is the SHA-256 of its sequence number, time, actor, action, parameters,
input-file hashes, the state it recorded and the previous entry's hash, so editing, removing
or reordering any past entry breaks the chain from that entry on.

Each step that writes tables records their *state*: the SHA-256 of their rows
(:mod:`workbench.case._state`; the input tables per ingest, so a step hashes what it wrote
or replaced, not the whole case). A step first checks that what it is about to change still
holds what the log last recorded (:func:`check_unchanged`), so an edit made outside the
workbench is never built upon. The latest entry's sequence number and hash
are also written to a file beside the case (the anchor), which the user can keep or copy.

What :func:`verify` proves:

* the chain: every entry is intact and linked to the one before it;
* the content: every table holds exactly the rows the latest step that wrote it recorded,
  so a row added, changed or deleted with another tool since is named by its table;
* the end: with the anchor, the log has not lost entries at its end (deleting the last
  entries leaves a chain that is intact on its own).

What it cannot prove: that the anchor itself was not replaced along with the case (keep a copy
of the printed head hash elsewhere, or compare with one you kept), and anything about rows
before the first entry that recorded state (cases made before schema 4 record their state
once, when migrated).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.case._state import STATE_TABLES, check_unchanged, compute, differences
from workbench.errors import TamperedError

__all__ = [
    "GENESIS",
    "STATE_TABLES",
    "AuditCheck",
    "append",
    "check_unchanged",
    "current_actor",
    "entry_hash",
    "read_anchor",
    "verify",
    "write_anchor",
]

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
    seq: int,
    at: str,
    actor: str,
    action: str,
    parameters: str,
    inputs: str,
    prev_hash: str,
    state: str | None = None,
) -> str:
    """Hash of one entry from its stored fields (parameters, inputs and state as stored JSON).

    Entries written before the log recorded state (``state`` NULL) hash as they always did.
    """
    fields: list[Any] = [seq, at, actor, action, parameters, inputs, prev_hash]
    if state is not None:
        fields.append(state)
    return hashlib.sha256(_canonical(fields).encode("utf-8")).hexdigest()


def append(
    con: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    parameters: Mapping[str, Any],
    inputs: Sequence[Mapping[str, Any]] = (),
    wrote: Iterable[str] = (),
    segments: Mapping[str, Iterable[Any]] | None = None,
    at: str | None = None,
    known: Mapping[str, Mapping[str, str]] | None = None,
) -> int:
    """Append an entry inside the caller's transaction; returns its sequence number.

    ``wrote`` names the tables the step changed (call after writing them): their digests
    become the entry's recorded state (for the input tables, only the ``segments`` named
    are hashed again: see :mod:`workbench.case._state`; ``known``: digests of runs the step
    computed as it wrote them). ``at`` is the entry's time.
    """
    last = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = at or now()
    params_text, inputs_text = _canonical(parameters), _canonical(list(inputs))
    state_text = _canonical(compute(con, wrote, segments, known))
    digest = entry_hash(seq, at, actor, action, params_text, inputs_text, prev, state_text)
    con.execute(
        "INSERT INTO audit (seq, at, actor, action, parameters, inputs, prev_hash, hash, state) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, params_text, inputs_text, prev, digest, state_text),
    )
    return int(seq)


def now() -> str:
    """The time as audit entries record it (UTC, microseconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def next_seq(con: sqlite3.Connection) -> int:
    """The sequence number the next :func:`append` in this transaction will get."""
    return int(con.execute("SELECT coalesce(max(seq), 0) + 1 FROM audit").fetchone()[0])


# -- the anchor beside the case ----------------------------------------------------------
def anchor_path(case_path: str | os.PathLike[str]) -> Path:
    """``putian.gpkg`` -> ``putian.gpkg.audit-head.json``."""
    path = Path(case_path)
    return path.with_name(path.name + ".audit-head.json")


def head(con: sqlite3.Connection) -> tuple[int, str] | None:
    """(seq, hash) of the latest entry, None for an empty log."""
    row = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def write_anchor(con: sqlite3.Connection, case_path: str | os.PathLike[str]) -> None:
    """Write the latest entry's seq and hash beside the case (after the step committed)."""
    latest = head(con)
    if latest is None:
        return
    target = anchor_path(case_path)
    text = _canonical({"case": Path(case_path).name, "seq": latest[0], "hash": latest[1]})
    # a scratch file per process: two writers of one case never rename each other's file
    scratch = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    scratch.write_text(text + "\n", encoding="utf-8")
    os.replace(scratch, target)


def read_anchor(case_path: str | os.PathLike[str]) -> tuple[int, str] | None:
    """(seq, hash) from the anchor file, None if there is none; a bad file raises."""
    target = anchor_path(case_path)
    if not target.exists():
        return None
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        return int(data["seq"]), str(data["hash"])
    except (ValueError, KeyError, TypeError) as error:
        raise TamperedError(f"{target}: not an audit anchor ({error})") from error


# -- verify ------------------------------------------------------------------------------
@dataclass
class AuditCheck:
    """Result of :func:`verify`: ``ok``, entries checked, and what does not match."""

    ok: bool
    n_entries: int
    first_broken: int | None = None
    reason: str = ""
    problems: list[str] = field(default_factory=list)
    head: tuple[int, str] | None = None
    anchored: bool = False
    n_tables: int = 0
    note: str = ""

    def __str__(self) -> str:
        if not self.ok:
            lines = [f"audit log broken at entry {self.first_broken}: {self.reason}"]
            if self.first_broken is None:
                lines = ["audit log: the case does not match what its log recorded"]
            return "\n".join(lines + [f"  - {p}" for p in self.problems])
        text = (
            f"audit log intact: {self.n_entries} entries, hash chain verified; "
            f"{self.n_tables} tables match the state the log recorded"
        )
        if self.head is not None:
            text += f"; latest entry {self.head[0]}, hash {self.head[1]}"
        if self.anchored:
            text += " (the anchor beside the case is in the log)"
            return text + (f"; {self.note}" if self.note else "")
        return text + (
            ". No anchor beside the case: truncation of the latest entries is not checked; "
            "compare the hash above with one you kept"
        )


def _chain(rows: list[tuple[Any, ...]]) -> AuditCheck | None:
    """The first broken link of the chain, as a failed check; None when it holds."""
    prev, expected_seq = GENESIS, 1
    for seq, at, actor, action, parameters, inputs, prev_hash, digest, state in rows:
        if seq != expected_seq:
            reason = f"entry {expected_seq} is missing (next entry is {seq})"
            return AuditCheck(False, len(rows), expected_seq, reason)
        if prev_hash != prev:
            reason = "its previous-hash does not match the entry before it"
            return AuditCheck(False, len(rows), seq, reason)
        if entry_hash(seq, at, actor, action, parameters, inputs, prev_hash, state) != digest:
            return AuditCheck(False, len(rows), seq, "its content does not match its hash")
        prev, expected_seq = digest, seq + 1
    return None


def verify(con: sqlite3.Connection, case_path: str | os.PathLike[str] | None = None) -> AuditCheck:
    """Recompute the chain, the tables' state and, with ``case_path``, compare the anchor."""
    rows = con.execute(
        "SELECT seq, at, actor, action, parameters, inputs, prev_hash, hash, state "
        "FROM audit ORDER BY seq"
    ).fetchall()
    broken = _chain(rows)
    if broken is not None:
        return broken
    check = AuditCheck(True, len(rows), head=head(con))
    check.n_tables, check.problems = differences(con)
    anchor = read_anchor(case_path) if case_path is not None else None
    if anchor is not None:
        check.anchored = True
        by_seq = {int(r[0]): str(r[7]) for r in rows}
        if anchor[0] not in by_seq:
            check.problems.append(
                f"entry {anchor[0]} named by the anchor {anchor_path(str(case_path)).name} is "
                f"missing: the log ends at entry {len(rows)} (entries were removed)"
            )
        elif by_seq[anchor[0]] != anchor[1]:
            check.problems.append(f"entry {anchor[0]}: its hash differs from the anchor's")
        elif anchor[0] != len(rows):  # a step killed after its commit, before the anchor
            check.note = (
                f"the anchor names entry {anchor[0]}; entries {anchor[0] + 1} to {len(rows)} "
                "came after it (a step stopped before updating the anchor, or another tool)"
            )
    check.ok = not check.problems
    return check


def link_options(con: sqlite3.Connection) -> dict[str, Any]:
    """The options the last linking of the case ran with (``allow_list``,
    ``include_weak``, ``region``; ``max_accounts`` only when it was given, not chosen
    from the data): how an ingest links the accounts again. Empty before any linking."""
    row = con.execute(
        "SELECT parameters FROM audit WHERE action = 'link sellers' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return options_of_linking(None if row is None else row[0])


def options_of_linking(parameters: str | None) -> dict[str, Any]:
    """The options a "link sellers" entry's parameters (JSON; None: no linking) record,
    as :func:`link_options` gives them (a team store's log holds the same entries)."""
    if parameters is None:
        return {}
    last = json.loads(parameters)
    options = {k: last[k] for k in ("allow_list", "include_weak", "region") if k in last}
    if last.get("max_accounts_from") == "given" and last.get("max_accounts"):
        options["max_accounts"] = int(last["max_accounts"])
    return options


def networks_current(con: sqlite3.Connection) -> bool:
    """Whether the stored networks were linked after the last ingest of sellers or
    identifiers (then a clustering run uses them as they are, with whatever options
    linked them)."""
    rows = con.execute(
        "SELECT seq, action, parameters FROM audit WHERE action IN ('ingest', 'link sellers')"
    ).fetchall()
    return linked_after_inputs(rows)


def linked_after_inputs(rows: Iterable[tuple[int, str, str]]) -> bool:
    """Whether, among the (seq, action, parameters) of "ingest" and "link sellers" entries,
    a linking came after the last ingest of sellers or identifiers."""
    rows = list(rows)
    linked = [seq for seq, action, _ in rows if action == "link sellers"]
    if not linked:
        return False
    inputs = [
        seq
        for seq, action, parameters in rows
        if action == "ingest"
        and {"sellers", "identifiers"} & set(json.loads(parameters).get("tables", {}))
    ]
    return max(linked) > max(inputs, default=0)
