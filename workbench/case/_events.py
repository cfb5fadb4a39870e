"""Dated events of an investigation: raids, takedowns, test-buy campaigns.

An event is what happened in the world on a day (a police raid on a workshop, a platform
taking a batch of accounts down), recorded with what it concerns: a site of a clustering
run (its place is kept too, so a later run that numbers sites anew still finds it), the
accounts (``event_sellers``) and a seller network. Events are audited like reviews: each
one is an entry of the audit log, and ``workbench audit CASE --verify`` checks the tables.

>>> event = record_event(case, "raid", "2026-05-01", site_id="S004",
...                      note="police raid, 3 arrests")                  # doctest: +SKIP
>>> events(case)[["event_id", "kind", "date", "site_id"]]                # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.case import audit as audit_log
from workbench.case._gpkg import touch
from workbench.case._io import read_frame
from workbench.errors import InputError, NotFoundError
from workbench.schema import EVENT_KINDS

if TYPE_CHECKING:
    from workbench.case._case import Case
    from workbench.sites._relocation import Relocations

__all__ = [
    "EVENT_COLUMNS", "EVENT_KINDS", "as_recorded", "checked_event", "entry_parameters", "events",
    "no_run", "record_event", "relocations", "unknown_network", "unknown_sellers",
]  # fmt: skip

EVENT_COLUMNS = (
    "event_id", "kind", "date", "run_id", "site_id", "lat", "lon", "network_id", "seller_ids",
    "note", "by", "at", "audit_seq",
)  # fmt: skip
MAX_NOTE_CHARS = 4_000
MAX_SELLERS = 100_000
_WRITTEN = ["events", "event_sellers"]


def _check_kind(kind: object) -> str:
    if not isinstance(kind, str) or kind not in EVENT_KINDS:
        raise InputError(f"kind={kind!r}; expected one of {', '.join(EVENT_KINDS)}")
    return kind


def check_date(date: object, field: str = "date") -> str:
    """``date`` as an ISO day (``2026-05-01``); a ``datetime.date`` is accepted too."""
    if isinstance(date, dt.datetime):
        raise InputError(f"{field}={date!r}: give the day only, as YYYY-MM-DD")
    if isinstance(date, dt.date):
        return date.isoformat()
    if not isinstance(date, str):
        raise InputError(f"{field}={date!r}; expected a day as YYYY-MM-DD, e.g. 2026-05-01")
    try:
        day = dt.date.fromisoformat(date.strip())
    except ValueError:
        raise InputError(
            f"{field}={date!r} is not a day of the calendar as YYYY-MM-DD (e.g. 2026-05-01)"
        ) from None
    if len(date.strip()) != 10:  # fromisoformat also takes 20260501 and 2026-W18-5
        raise InputError(f"{field}={date!r}; expected a day as YYYY-MM-DD, e.g. 2026-05-01")
    return day.isoformat()


def _check_text(value: object, field: str, *, hint: str) -> str:
    """Plain text that is not empty (``hint`` says what to give instead)."""
    if not isinstance(value, str):
        raise InputError(f"{field}={value!r}; expected text")
    if not value.strip():
        raise InputError(f"{field} is empty; {hint}")
    if len(value) > MAX_NOTE_CHARS:
        raise InputError(
            f"{field} has {len(value):,} characters; at most {MAX_NOTE_CHARS:,} are kept. "
            "Put long reports in the evidence files and name them here."
        )
    bad = [c for c in value if c not in "\n\t" and unicodedata.category(c) in {"Cc", "Cf"}]
    if bad:
        raise InputError(
            f"{field} holds control or format character U+{ord(bad[0]):04X}; remove it"
        )
    return value


def _check_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{field}={value!r}; expected an id such as S004 or N0003")
    return value.strip()


def _check_sellers(seller_ids: object) -> list[str]:
    if isinstance(seller_ids, str | bytes):
        raise InputError(
            f"seller_ids={seller_ids!r}: give a list of seller ids, not one string "
            f"(seller_ids=[{seller_ids!r}])"
        )
    if not isinstance(seller_ids, Iterable):
        raise InputError(f"seller_ids={seller_ids!r}; expected a list of seller ids")
    ids = [_check_id(s, "seller_ids item") for s in seller_ids]
    if len(ids) > MAX_SELLERS:
        raise InputError(f"seller_ids has {len(ids):,} ids; at most {MAX_SELLERS:,} per event")
    return sorted(set(ids))


def _site_place(con: Any, run_id: str | None, site_id: str) -> tuple[str, float, float]:
    """(run, lat, lon) of a site of ``run_id`` (default: the latest run)."""
    if run_id is None:
        row = con.execute("SELECT run_id FROM runs ORDER BY fid DESC LIMIT 1").fetchone()
        if row is None:
            raise no_run(site_id)
        run_id = str(row[0])
    found = con.execute(
        "SELECT lat, lon FROM sites WHERE run_id = ? AND site_id = ?", (run_id, site_id)
    ).fetchone()
    if found is None:
        raise NotFoundError(f"site_id={site_id!r} is not in run {run_id}; see case.sites()")
    return run_id, float(found[0]), float(found[1])


def no_run(site_id: str) -> NotFoundError:
    """The error for an event on a site of a case without a clustering run."""
    return NotFoundError(
        f"site_id={site_id!r}: the case has no clustering run yet; find sites first "
        "or record the event on sellers or a network"
    )


def unknown_sellers(missing: list[str]) -> NotFoundError:
    """The error naming the sellers an event names that the case does not hold."""
    listed = ", ".join(repr(s) for s in missing[:5])
    more = f" and {len(missing) - 5:,} more" if len(missing) > 5 else ""
    return NotFoundError(f"seller_ids: {listed}{more} not in the case's sellers; ingest them first")


def unknown_network(network_id: str) -> NotFoundError:
    """The error for an event on a network the case does not hold."""
    return NotFoundError(
        f"network_id={network_id!r} is not in the case's networks; link sellers "
        "first (workbench networks CASE) and use an id it lists"
    )


def _check_known(con: Any, sellers: list[str], network_id: str | None) -> None:
    if sellers:
        con.execute("CREATE TEMP TABLE IF NOT EXISTS event_check (seller_id TEXT)")
        con.execute("DELETE FROM event_check")
        con.executemany("INSERT INTO event_check VALUES (?)", [(s,) for s in sellers])
        missing = [
            str(r[0])
            for r in con.execute(
                "SELECT c.seller_id FROM event_check c LEFT JOIN sellers s "
                "ON s.seller_id = c.seller_id WHERE s.seller_id IS NULL ORDER BY c.seller_id"
            )
        ]
        con.execute("DELETE FROM event_check")
        if missing:
            raise unknown_sellers(missing)
    if network_id is not None:
        known = con.execute(
            "SELECT 1 FROM networks WHERE network_id = ? LIMIT 1", (network_id,)
        ).fetchone()
        if not known:
            raise unknown_network(network_id)


def checked_event(
    kind: object,
    date: object,
    note: object,
    site_id: object,
    seller_ids: object,
    network_id: object,
    run_id: object,
) -> tuple[str, str, str, str | None, list[str], str | None, str | None]:
    """An event's fields checked (:func:`record_event` says what each may be): kind, day,
    note, site, sellers (sorted, once each), network and run, for either kind of case."""
    kind, day = _check_kind(kind), check_date(date)
    note = _check_text(note, "note", hint="say what happened (who, what, the reference)")
    sellers = _check_sellers(seller_ids)
    site = None if site_id is None else _check_id(site_id, "site_id")
    network = None if network_id is None else _check_id(network_id, "network_id")
    run = None if run_id is None else _check_id(run_id, "run_id")
    if site is None and not sellers and network is None:
        raise InputError(
            "an event concerns something: give site_id, seller_ids or network_id (or several)"
        )
    return kind, day, note, site, sellers, network, run


def record_event(
    case: Case,
    kind: str,
    date: str | dt.date,
    *,
    note: str,
    site_id: str | None = None,
    seller_ids: Iterable[str] = (),
    network_id: str | None = None,
    by: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Record a dated event (a raid, a takedown, ...) in the case; returns it as a dict.

    Parameters
    ----------
    kind : one of ``EVENT_KINDS`` (raid, takedown, test_buy_campaign, other).
    date : the day it happened, ``YYYY-MM-DD``.
    note : what happened (who acted, a reference); required, plain text.
    site_id : a site of ``run_id`` (default: the latest run) it concerns; its place is kept.
    seller_ids : the accounts it concerns (a takedown's accounts), each in the case.
    network_id : the seller network it concerns.
    by : who records it (default: the case's actor).

    At least one of ``site_id``, ``seller_ids`` and ``network_id`` must be given. The
    event is an audit entry (action ``record event``) written with its rows.
    """
    kind, day, note, site, sellers, network, run = checked_event(
        kind, date, note, site_id, seller_ids, network_id, run_id
    )
    recorder = case.actor if by is None else _check_text(by, "by", hint="name who records it")
    recorder = recorder.strip()
    with case._write() as con:
        lat = lon = None
        if site is not None:
            run, lat, lon = _site_place(con, run, site)
        else:
            run = None
        _check_known(con, sellers, network)
        audit_log.check_unchanged(con, _WRITTEN)
        seq, at = audit_log.next_seq(con), audit_log.now()
        last = con.execute("SELECT coalesce(max(fid), 0) FROM events").fetchone()[0]
        event_id = f"EV{int(last) + 1:04d}"
        con.execute(
            "INSERT INTO events (event_id, kind, date, run_id, site_id, lat, lon, network_id, "
            "note, by, at, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, kind, day, run, site, lat, lon, network, note, recorder, at, seq),
        )
        con.executemany(
            "INSERT INTO event_sellers (event_id, seller_id) VALUES (?, ?)",
            [(event_id, s) for s in sellers],
        )
        touch(con, _WRITTEN)
        event = as_recorded(
            event_id, kind, day, run, site, lat, lon, network, sellers, note, recorder, at, seq
        )
        audit_log.append(
            con, actor=recorder, action="record event", parameters=entry_parameters(event),
            at=at, wrote=_WRITTEN,
        )  # fmt: skip
    return event


def as_recorded(*values: Any) -> dict[str, Any]:
    """An event as ``record_event`` returns it: ``values`` in the order of
    ``EVENT_COLUMNS``."""
    return dict(zip(EVENT_COLUMNS, values, strict=True))


def entry_parameters(event: dict[str, Any]) -> dict[str, Any]:
    """What the audit entry of a recorded event (``as_recorded``) holds of it."""
    keys = ("event_id", "kind", "date", "run_id", "site_id", "network_id")
    return {
        **{k: event[k] for k in keys},
        "n_sellers": len(event["seller_ids"]),
        "note": event["note"],
    }


def events(case: Case, kind: str | None = None) -> pd.DataFrame:
    """The case's events, by date then as recorded, with ``seller_ids`` as a list per event
    (columns ``EVENT_COLUMNS``); only those of ``kind`` when given."""
    if kind is not None:
        _check_kind(kind)
    frame = read_frame(
        case._con,
        "SELECT event_id, kind, date, run_id, site_id, lat, lon, network_id, note, by, at, "
        "audit_seq FROM events ORDER BY date, fid",
    )
    pairs = read_frame(
        case._con, "SELECT event_id, seller_id FROM event_sellers ORDER BY event_id, seller_id"
    )
    listed = pairs.groupby("event_id", sort=False)["seller_id"].agg(list)
    frame["seller_ids"] = [listed.get(e, []) for e in frame["event_id"]]
    if kind is not None:
        frame = frame[frame["kind"] == kind]
    return frame[list(EVENT_COLUMNS)].reset_index(drop=True)


def relocations(case: Case, run_id: str | None = None, **params: Any) -> Relocations:
    """Networks of the case that moved from one site to another in a run (default: the
    latest), with the recorded events they follow and the identifiers that tie the new
    accounts to the old: :func:`workbench.sites._relocation.find_relocations` over the
    run's weekly activity, its sites, the stored networks and their links, and the events.

    ``params`` are the rule's settings (``max_gap_weeks``, ``quiet_weeks``, ...).
    """
    from workbench.sites._relocation import find_relocations

    run = run_id or case.latest_run()
    sites = pd.DataFrame(case.sites(run)).drop(columns=["geometry", "hull"])
    return find_relocations(
        case.site_activity(run),
        sites,
        networks=case.table("networks")[["seller_id", "network_id"]],
        links=case.table("network_links"),
        events=case.events(),
        run_id=run,
        **params,
    )
