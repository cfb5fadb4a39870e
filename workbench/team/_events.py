"""Events (raids, takedowns, test-buy campaigns) recorded in a team case.

The fields are checked by the case file's code (:func:`workbench.case._events.checked_event`)
and stored as a case file stores them: one ``events`` row (with the site's place), its
accounts in ``event_sellers`` (sorted, numbered on from the case's last), and a ``record
event`` entry with the digests of both tables, in one transaction that holds the case's
audit chain. The recorder is the connected role: the database writes it whatever the
client sends, and the entry's actor must be that role. Recording needs
``workbench_review`` (a reviewer logs the raid that followed a tip sheet) or
``workbench_ingest``; schema 3 grants them, and nobody rewrites an event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from workbench.case import audit as audit_log
from workbench.team import _audit
from workbench.team._store import next_fid, refusals, require_right

__all__ = ["record_team_event"]

_WRITTEN = ["events", "event_sellers"]


def record_team_event(
    con: Any,
    case_id: int,
    kind: str,
    date: str | dt.date,
    *,
    note: str,
    site_id: str | None = None,
    seller_ids: Iterable[str] = (),
    network_id: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Record an event as the connected role (see ``Case.record_event`` for the fields);
    returns it as the case file's ``record_event`` does."""
    from workbench.case._events import as_recorded, checked_event, entry_parameters

    kind, day, note, site, sellers, network, run = checked_event(
        kind, date, note, site_id, seller_ids, network_id, run_id
    )
    require_right(con, "INSERT", "events", step="recording an event", role="workbench_review")
    with refusals(con), con.transaction():
        _audit.lock_chain(con, case_id)  # from the head read to the commit: one chain
        lat = lon = None
        if site is not None:
            run, lat, lon = _site_place(con, case_id, run, site)
        else:
            run = None
        _check_known(con, case_id, sellers, network)
        _audit.check_unchanged(con, case_id, _WRITTEN)
        latest = _audit.head(con, case_id)
        seq, at = (latest[0] if latest else 0) + 1, audit_log.now()
        fid = next_fid(con, case_id, "events")
        event_id = f"EV{fid:04d}"
        recorder = con.execute(
            "INSERT INTO events (case_id, fid, event_id, kind, date, run_id, site_id, lat, lon, "
            'network_id, note, "by", at, audit_seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, '
            '%s, %s, current_user, %s, %s) RETURNING "by"',
            (case_id, fid, event_id, kind, day, run, site, lat, lon, network, note, at, seq),
        ).fetchone()[0]
        first = next_fid(con, case_id, "event_sellers")
        with con.cursor().copy(
            "COPY event_sellers (case_id, fid, event_id, seller_id) FROM STDIN"
        ) as copy:
            for i, seller in enumerate(sellers):
                copy.write_row((case_id, first + i, event_id, seller))
        event = as_recorded(
            event_id, kind, day, run, site, lat, lon, network, sellers, note, recorder, at, seq
        )
        _audit.append(
            con, case_id, action="record event", parameters=entry_parameters(event), at=at,
            state=_audit.state_of(con, case_id, _WRITTEN),
        )  # fmt: skip
    return event


def _site_place(
    con: Any, case_id: int, run_id: str | None, site_id: str
) -> tuple[str, float, float]:
    """(run, lat, lon) of a site of ``run_id`` (default: the case's latest run)."""
    from workbench.case._events import no_run
    from workbench.errors import NotFoundError

    if run_id is None:
        row = con.execute(
            "SELECT run_id FROM runs WHERE case_id = %s ORDER BY fid DESC LIMIT 1", (case_id,)
        ).fetchone()
        if row is None:
            raise no_run(site_id)
        run_id = str(row[0])
    found = con.execute(
        "SELECT lat, lon FROM sites WHERE case_id = %s AND run_id = %s AND site_id = %s",
        (case_id, run_id, site_id),
    ).fetchone()
    if found is None:
        raise NotFoundError(f"site_id={site_id!r} is not in run {run_id}; see case.sites()")
    return run_id, float(found[0]), float(found[1])


def _check_known(con: Any, case_id: int, sellers: list[str], network_id: str | None) -> None:
    from workbench.case._events import unknown_network, unknown_sellers

    if sellers:
        missing = [
            str(r[0])
            for r in con.execute(
                "SELECT s FROM unnest(%s::text[]) s WHERE NOT EXISTS (SELECT 1 FROM sellers "
                "WHERE case_id = %s AND seller_id = s) ORDER BY s",
                (sellers, case_id),
            )
        ]
        if missing:
            raise unknown_sellers(missing)
    if network_id is not None:
        known = con.execute(
            "SELECT 1 FROM networks WHERE case_id = %s AND network_id = %s LIMIT 1",
            (case_id, network_id),
        ).fetchone()
        if not known:
            raise unknown_network(network_id)
