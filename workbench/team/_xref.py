"""Cross-reference a team case against earlier cases (case files): the case file's matching,
the team store's rows.

The team case's index is built from its tables by the code that builds a case file's
(:func:`workbench.case._xref_index.matchable`, with the options of its last linking), the
earlier cases are read and matched by :func:`workbench.case._xref.matches_in`, so the same
cases give the same matches. They replace the case's earlier matches from cases (source
``case``) in ``cross_references``, in one transaction that holds the case's audit chain
and ends with a ``cross-reference`` entry as the connected role, whose inputs are the
earlier cases' audit heads. The index is not kept in the store (it is rebuilt each time).
Only the analyst's role (``workbench_ingest``) may cross-reference.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd

from workbench.case import audit as audit_log
from workbench.errors import InputError, NotFoundError
from workbench.team import _audit
from workbench.team._store import is_team_url, next_fid, parse_url, refusals, require_right

if TYPE_CHECKING:
    from workbench.case._case import Case
    from workbench.case._xref import _This
    from workbench.case._xref_index import Index
    from workbench.case._xref_sources import Earlier
    from workbench.team._case import TeamCase

__all__ = ["cross_reference_team", "read_team_earlier", "store_team_matches", "team_index"]


def cross_reference_team(
    case: Case | TeamCase,
    against: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> pd.DataFrame:
    """Flag what ``case`` (a team case, or a case file) shares with the earlier cases
    ``against`` (case files: a folder of them or paths; team cases: their URLs, in this
    store or another), store the matches in ``case`` and return them, as
    :func:`workbench.cross_reference` does between case files. ``case`` itself is
    skipped when it is among them."""
    from workbench.case._case import Case
    from workbench.case._xref import _this as file_this
    from workbench.case._xref import entry_parameters, matches_in
    from workbench.case._xref_store import store_matches

    items = [against] if isinstance(against, str | os.PathLike) else list(against)
    urls = [str(a) for a in items if is_team_url(a)]
    files = [a for a in items if not is_team_url(a)]
    if isinstance(case, Case):
        own: Any = case.path.resolve()
        this_of: Callable[[], tuple[_This, dict[str, Any]]] = lambda: file_this(case)  # noqa: E731
    else:
        require_right(
            case._con, "INSERT", "cross_references", step="cross-referencing",
            role="workbench_ingest",
        )  # fmt: skip
        own, this_of = _key(str(case.target)), lambda: _this(case)
    earlier: list[Any] = [p for p in (_case_paths(files) if files else []) if p != own]
    earlier += [u for u in dict.fromkeys(urls) if _key(u) != own]
    if not earlier:
        raise InputError("against: no earlier case besides this one; pass other cases")
    frame, inputs, this, options = matches_in(earlier, this_of, _read_any, _check_any)
    parameters = entry_parameters(frame, inputs, options, this)
    if isinstance(case, Case):
        return store_matches(
            case, frame, source="case", names=None, action="cross-reference",
            parameters=parameters, inputs=inputs, index=None if this.stored else this.index,
        )  # fmt: skip
    return store_team_matches(
        case, frame, source="case", names=None, action="cross-reference",
        parameters=parameters, inputs=inputs,
    )  # fmt: skip


def _case_paths(files: list[Any]) -> list[Path]:
    from workbench.case._xref_sources import case_paths

    return case_paths(files)


def _key(url: str) -> tuple[str, str]:
    """What names one team case whoever connects: the server, database and case."""
    parsed = parse_url(url)
    parts = urlsplit(parsed.conninfo)
    return (f"{parts.hostname}:{parts.port}{parts.path}", parsed.case)


def _check_any(item: Any) -> None:
    """Before any long work: a case file opens read-only, a team case is there."""
    from workbench.case._xref_sources import read_only
    from workbench.team._case import open_team_case

    if isinstance(item, str):
        with open_team_case(item, create=False):
            return
    with read_only(item):
        return


def _read_any(item: Any) -> Earlier:
    from workbench.case._xref_sources import read_earlier

    return read_team_earlier(item) if isinstance(item, str) else read_earlier(item)


def read_team_earlier(url: str) -> Earlier:
    """An earlier team case, read as the connected role (any role may read): its audit
    head, its index (built from its tables), the sites of its latest run with their latest
    reviews and which accounts each holds."""
    from workbench.case._xref_sources import Earlier
    from workbench.team._case import open_team_case

    with open_team_case(url, create=False) as team:
        log = team.audit()
        if log.empty:
            raise InputError(f"{team.target}: its audit log is empty; it is not a usable case")
        index, _ = team_index(team, keep_values=False)
        try:
            sites = team.sites()
        except NotFoundError:  # no clustering run yet: no site to match
            sites = pd.DataFrame(columns=["site_id", "lat", "lon", "radius_m", "status"])
            sites["sellers"] = []
        frame = pd.DataFrame(sites[["site_id", "lat", "lon", "radius_m", "status"]])
        frame = frame.reset_index(drop=True)
        pairs = pd.DataFrame(
            [(str(s), site) for site, lst in zip(sites["site_id"], sites["sellers"], strict=True)
             for s in (lst or [])],
            columns=["seller_id", "site_id"],
        )  # fmt: skip
        pairs["status"] = pairs["site_id"].map(frame.set_index("site_id")["status"])
        head = log.iloc[-1]
        return Earlier(
            str(team.target), team.target.case, int(head["seq"]), str(head["hash"]), index,
            False, frame, pairs,
        )  # fmt: skip


def _this(team: TeamCase) -> tuple[_This, dict[str, Any]]:
    """The team case's own index (with its values), built from its tables."""
    from workbench.case._xref import this_case

    index, used = team_index(team, keep_values=True)
    return this_case(index, False, team), used


def team_index(team: TeamCase, *, keep_values: bool) -> tuple[Index, dict[str, Any]]:
    """A team case's index, built from its tables with its last linking's options."""
    from workbench.case._xref_index import matchable, options_of

    row = team._con.execute(
        "SELECT parameters FROM audit WHERE case_id = %s AND action = 'link sellers' "
        "ORDER BY seq DESC LIMIT 1",
        (team.case_id,),
    ).fetchone()
    team._con.commit()
    networks = team.table("networks", geometry=False)
    index, used = matchable(
        team.table("sellers", geometry=False)[["seller_id", "platform"]],
        team.table("identifiers", geometry=False)[["seller_id", "kind", "value"]],
        networks.loc[networks["network_id"].notna(), ["seller_id", "network_id"]],
        options_of(json.loads(row[0]) if row else {}),
        keep_values=keep_values,
    )
    return index, used


def store_team_matches(
    team: TeamCase,
    frame: pd.DataFrame,
    *,
    source: str,
    names: list[str] | None,
    action: str,
    parameters: dict[str, Any],
    inputs: list[dict[str, Any]],
) -> pd.DataFrame:
    """Replace the team case's matches from ``source`` (those of ``names`` only, if given)
    with ``frame``, in one transaction with an audit entry as the connected role; returns
    the rows as stored (as the case file's ``store_matches`` does)."""
    from workbench.case._xref_store import XREF_COLUMNS, _arrow_rows, _typed

    con, case_id = team._con, team.case_id
    steps = {
        "cross-reference": "cross-referencing",
        "import exchange list": "importing an exchange list",
    }
    step = steps.get(action, action)
    require_right(con, "DELETE", "cross_references", step=step, role="workbench_ingest")
    frame = frame.reindex(columns=list(XREF_COLUMNS)).reset_index(drop=True)
    frame["source"] = source
    staged = [c for c in XREF_COLUMNS if c not in ("run_at", "audit_seq")]
    columns = [c.to_pylist() for c in _arrow_rows(frame, staged).columns]
    written = ["cross_references"]
    with refusals(con), con.transaction():
        _audit.lock_chain(con, case_id)  # from the head read to the commit: one chain
        _audit.check_unchanged(con, case_id, written)
        latest = _audit.head(con, case_id)
        seq, at = (latest[0] if latest else 0) + 1, audit_log.now()
        con.execute(
            "DELETE FROM cross_references WHERE case_id = %s AND source = %s AND "
            "(%s::text[] IS NULL OR source_name = ANY(%s::text[]))",
            (case_id, source, names, names),
        )
        first = next_fid(con, case_id, "cross_references")
        listed = ", ".join(f'"{c}"' for c in staged)
        with con.cursor().copy(
            f"COPY cross_references (case_id, fid, {listed}, run_at, audit_seq) FROM STDIN"
        ) as copy:
            for i, row in enumerate(zip(*columns, strict=True)):
                copy.write_row((case_id, first + i, *row, at, seq))
        _audit.append(
            con, case_id, action=action, parameters=parameters, inputs=inputs,
            at=at, state=_audit.state_of(con, case_id, written),
        )  # fmt: skip
    return _typed(frame.assign(run_at=at, audit_seq=seq))
