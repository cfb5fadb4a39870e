"""A team case's audit log in PostgreSQL: the same hash chain as the case file's.

Entries hash exactly as :func:`workbench.case.audit.entry_hash` hashes them (that function
and its canonical JSON are used here, not copied), so a chain moves between a case file and
the team store and verifies on both sides.

Appends are serialised per case by a transaction-scoped advisory lock
(``pg_advisory_xact_lock``): a writer holds it from reading the chain's head to its commit,
so two writers never both extend the same head. The database checks it too: a trigger
refuses an entry that does not follow the head, the key ``(case_id, seq)`` refuses a
second entry with one number, and in an open case the entry's actor must be the connected
role (:mod:`workbench.team._schema`).

An ingest takes the chain only for its last statements: while it reads its files it holds
the case's *ingest lock* instead (:func:`lock_ingests`), so reviews and exports go on and
their entries come first. The steps that read what ingests store (linking, site runs)
hold that lock shared from their first read to their entry (:func:`ingests_held_off`):
an ingest waits for them and they wait for an ingest, so no link or run is recorded
between an ingest's start and its entry. That keeps an ingest's rows, which carry the
number the ingest took at its start (``ingest_seq``; its entry names it as ``rows_seq``
when reviews came first), ordered as a run's ``audit_seq`` reads them: a run sees the
rows of the ingests recorded before it, and only those.

Entries the team store writes for a review record no table state (hashing the whole
reviews table for every decision would cost each reviewer the whole table, under the lock);
instead the entry's parameters hold the review (its ``fid``; its reviewer and time are the
entry's actor and time). :func:`verify` checks both kinds: the tables against the state the
case's steps recorded, and each review written here against its entry, one for one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from workbench.case import audit as audit_log
from workbench.team._digest import current_digest, run_digest

__all__ = [
    "TeamAuditCheck",
    "append",
    "check_unchanged",
    "head",
    "ingests_held_off",
    "lock_chain",
    "lock_ingests",
    "recorded_state",
    "state_of",
    "team_reviews",
    "verify",
]

_LOCK_CLASS = 19  # first key of the advisory lock: the chains; second: the case_id
_INGEST_CLASS = 20  # first key of a case's ingest lock
_COLUMNS = "seq, at, actor, action, parameters, inputs, prev_hash, hash, state"


class TeamAuditCheck(audit_log.AuditCheck):
    """An :class:`~workbench.case.audit.AuditCheck` of a team case: no anchor file, the
    database keeps entries from being removed (append-only, for every role)."""

    def __str__(self) -> str:
        text = super().__str__()
        if not self.ok:
            return text
        cut = text.find(". No anchor beside the case")
        return (text[:cut] if cut >= 0 else text) + (
            "; the team store keeps every entry (append-only, enforced by the database)"
        )


def lock_chain(con: Any, case_id: int) -> None:
    """Hold the case's chain until this transaction ends (other appenders wait)."""
    con.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, int(case_id)))


def lock_ingests(con: Any, case_id: int) -> None:
    """Hold the case's ingest lock, exclusive, until this transaction ends: other ingests,
    linkings and site runs of the case wait (this one waits for them, saying so on
    stderr); reviews and readers do not."""
    key = (_INGEST_CLASS, int(case_id))
    if not con.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", key).fetchone()[0]:
        _say_waiting(con, case_id, "an ingest")
        con.execute("SELECT pg_advisory_xact_lock(%s, %s)", key)


def _say_waiting(con: Any, case_id: int, what: str) -> None:
    """Tell the user on stderr whom ``what`` waits for: the roles holding the case's ingest
    lock and since when (their transaction, or their connection when between two: the
    database's view of the sessions)."""
    import sys

    with con.cursor() as cursor:  # a role sees others' sessions' names, not their queries
        holders = cursor.execute(
            "SELECT a.usename, l.mode, to_char(coalesce(a.xact_start, a.backend_start) "
            "AT TIME ZONE 'UTC', 'HH24:MI:SS') "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = "
            "'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 "
            "AND l.pid <> pg_backend_pid() ORDER BY a.xact_start",
            (_INGEST_CLASS, int(case_id)),
        ).fetchall()
    work = ", ".join(  # another role's session start is visible only to the privileged
        f"{'an ingest' if mode == 'ExclusiveLock' else 'a linking or site run'} by "
        f"{_shown(str(user))}{f' (since {since} UTC)' if since else ''}"
        for user, mode, since in holders
    )
    sys.stderr.write(f"{what} of this case waits for {work or 'another step'} to end\n")


@contextlib.contextmanager
def ingests_held_off(con: Any, case_id: int) -> Iterator[None]:
    """While the block runs (reads and the transaction that records the step), no ingest of
    the case is under way: one that is waits to the end first, and new ones wait for the
    block. Shared, so linkings and runs go on side by side; held by ``con``'s session
    across its transactions."""
    from psycopg.pq import TransactionStatus

    key = (_INGEST_CLASS, int(case_id))
    if not con.execute("SELECT pg_try_advisory_lock_shared(%s, %s)", key).fetchone()[0]:
        _say_waiting(con, case_id, "this step")
        con.execute("SELECT pg_advisory_lock_shared(%s, %s)", key)
    con.commit()
    try:
        yield
    finally:
        if not con.closed:
            status = con.info.transaction_status
            if status == TransactionStatus.INERROR:  # the block failed inside a transaction
                con.rollback()
                status = TransactionStatus.IDLE
            con.execute("SELECT pg_advisory_unlock_shared(%s, %s)", key)
            if status == TransactionStatus.IDLE:
                con.commit()


def _shown(name: str) -> str:
    """A role's name as printed: quoted with escapes when it holds what a terminal acts on."""
    return name if name.isprintable() else ascii(name)


def head(con: Any, case_id: int) -> tuple[int, str] | None:
    """(seq, hash) of the case's latest entry; None for an empty log."""
    row = con.execute(
        "SELECT seq, hash FROM audit WHERE case_id = %s ORDER BY seq DESC LIMIT 1", (case_id,)
    ).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def append(
    con: Any,
    case_id: int,
    *,
    action: str,
    parameters: Mapping[str, Any],
    inputs: Sequence[Mapping[str, Any]] = (),
    state: Mapping[str, Any] | None = None,
    at: str | None = None,
) -> tuple[int, str]:
    """Append an entry inside the caller's transaction, as the connected role; returns its
    (seq, hash)."""
    lock_chain(con, case_id)
    actor = str(con.execute("SELECT current_user").fetchone()[0])
    latest = head(con, case_id)
    seq, prev = (latest[0] + 1, latest[1]) if latest else (1, audit_log.GENESIS)
    at = at or audit_log.now()
    params_text = audit_log._canonical(dict(parameters))
    inputs_text = audit_log._canonical(list(inputs))
    state_text = None if state is None else audit_log._canonical(dict(state))
    digest = audit_log.entry_hash(
        seq, at, actor, action, params_text, inputs_text, prev, state_text
    )
    con.execute(
        f"INSERT INTO audit (case_id, {_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
        (case_id, seq, at, actor, action, params_text, inputs_text, prev, digest, state_text),
    )
    return seq, digest


def recorded_state(con: Any, case_id: int) -> dict[str, tuple[int, Any]]:
    """table -> (entry, digest) of the latest entry that recorded the table."""
    latest: dict[str, tuple[int, Any]] = {}
    rows = con.execute(
        "SELECT seq, state FROM audit WHERE case_id = %s AND state IS NOT NULL ORDER BY seq",
        (case_id,),
    )
    for seq, state in rows.fetchall():
        for table, digest in json.loads(state).items():
            latest[table] = (int(seq), digest)
    return latest


def check_unchanged(
    con: Any, case_id: int, tables: Sequence[str], *, run: str | None = None
) -> None:
    """Raise :class:`TamperedError` if a table a step is about to change differs from what
    the log recorded (a step never builds on rows changed behind the log). ``run``: a new
    run's tables of site runs are checked for that run only (as a case file checks them:
    earlier runs are left to verify)."""
    from workbench.case._state import RUN_TABLES
    from workbench.errors import TamperedError

    recorded = recorded_state(con, case_id)
    for table in sorted(set(tables)):
        if table not in recorded:
            continue
        entry, digest = recorded[table]
        if run is not None and table in RUN_TABLES and isinstance(digest, dict):
            if run_digest(con, case_id, table, run) != digest.get(run):
                raise TamperedError(
                    f"{table} holds rows of run {run} that no step stored (after audit entry "
                    f"{entry}); nothing was written. Run `workbench case verify URL`."
                )
            continue
        if current_digest(con, case_id, table, digest) != digest:
            raise TamperedError(
                f"{table} was changed outside the workbench after audit entry {entry}; "
                "nothing was written. Run `workbench case verify URL` to see what differs."
            )


def state_of(
    con: Any, case_id: int, tables: Sequence[str], *, run: str | None = None
) -> dict[str, Any]:
    """The state to record for ``tables`` after a step wrote them: their digests as the
    case file records them (per ingest for the input tables, per run for the tables of
    site runs, whole for the others). ``run``: only that run's rows of the tables of site
    runs are hashed; the other runs keep what the log recorded (as a case file does)."""
    from workbench.case._state import RUN_TABLES

    recorded = recorded_state(con, case_id) if run is not None else {}
    state: dict[str, Any] = {}
    for table in sorted(set(tables)):
        old = recorded.get(table, (0, None))[1]
        if run is not None and table in RUN_TABLES and isinstance(old, dict):
            merged = {k: v for k, v in old.items() if k != run}
            digest = run_digest(con, case_id, table, run)
            if digest is not None:
                merged[run] = digest
            state[table] = dict(sorted(merged.items()))
            continue
        state[table] = current_digest(con, case_id, table, {} if table in RUN_TABLES else None)
    return state


def _is_team_review(action: str, parameters: str, state: str | None) -> bool:
    return action == "review" and state is None and '"fid":' in parameters


def team_reviews(rows: Sequence[tuple[Any, ...]]) -> dict[int, tuple[Any, ...]]:
    """The entries (by seq) of reviews written in the team store."""
    return {int(r[0]): r for r in rows if _is_team_review(r[3], r[4], r[8])}


def verify(con: Any, case_id: int) -> audit_log.AuditCheck:
    """Recompute the case's chain and check its tables against the state its log recorded;
    reviews written in the team store are checked against their entries one for one."""
    rows = [
        tuple(r)
        for r in con.execute(
            f"SELECT {_COLUMNS} FROM audit WHERE case_id = %s ORDER BY seq",  # noqa: S608
            (case_id,),
        )
    ]
    broken = audit_log._chain(rows)
    if broken is not None:
        return TeamAuditCheck(**vars(broken))
    latest = (int(rows[-1][0]), str(rows[-1][7])) if rows else None
    check = TeamAuditCheck(True, len(rows), head=latest)
    recorded: dict[str, tuple[int, Any]] = {}
    for seq, *_, state in rows:
        for table, digest in json.loads(state or "{}").items():
            recorded[table] = (int(seq), digest)
    team = team_reviews(rows)
    # rows of reviews written here after the latest entry that recorded the table's state
    # are vouched for by their own entries; the others by that state
    since = recorded.get("reviews", (0, None))[0]
    later = [s for s in team if s > since]
    outside = ""
    if later:
        listed = ", ".join(str(s) for s in sorted(later))
        outside = f" AND (audit_seq IS NULL OR audit_seq NOT IN ({listed}))"
    for table, (entry, digest) in sorted(recorded.items()):
        where = outside if table == "reviews" else ""
        if current_digest(con, case_id, table, digest, where) != digest:
            check.problems.append(
                f"{table}: its content differs from what entry {entry} recorded (changed "
                "outside the workbench)"
            )
    check.n_tables = len(recorded)
    check.problems += _check_team_reviews(con, case_id, team)
    check.ok = not check.problems
    return check


def _check_team_reviews(con: Any, case_id: int, team: dict[int, tuple[Any, ...]]) -> list[str]:
    if not team:
        return []
    found: dict[int, list[tuple[Any, ...]]] = {}
    for row in con.execute(
        'SELECT audit_seq, fid, run_id, site_id, status, note, "by", at FROM reviews '
        "WHERE case_id = %s AND audit_seq = ANY(%s)",
        (case_id, list(team)),
    ):
        found.setdefault(int(row[0]), []).append(tuple(row[1:]))
    problems = []
    for seq, entry in sorted(team.items()):
        p = json.loads(entry[4])
        expected = (p["fid"], p["run_id"], p["site_id"], p["status"], p["note"], entry[2], entry[1])
        if found.get(seq) != [expected]:
            problems.append(
                f"reviews: the review of entry {seq} ({p['site_id']}) differs from its entry "
                "or is missing (changed outside the workbench)"
            )
    return problems
