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
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.case import audit as audit_log
from workbench.team import _audit
from workbench.team._store import next_fid, refusals, require_right

if TYPE_CHECKING:
    from workbench.case._xref import _This
    from workbench.team._case import TeamCase

__all__ = ["cross_reference_team"]


def cross_reference_team(
    team: TeamCase, against: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
) -> pd.DataFrame:
    """Flag what the team case shares with the earlier cases ``against`` (a folder of
    cases or a list of them); store and return the matches, as
    :func:`workbench.cross_reference` does for a case file."""
    from workbench.case._xref import entry_parameters, matches_in
    from workbench.case._xref_sources import case_paths
    from workbench.errors import InputError

    con = team._con
    require_right(
        con, "INSERT", "cross_references", step="cross-referencing", role="workbench_ingest"
    )
    paths = case_paths(against)
    if not paths:
        raise InputError(f"against={against!r}: no earlier case there; pass other cases")
    frame, inputs, this, options = matches_in(paths, lambda: _this(team))
    return _store(team, frame, entry_parameters(frame, inputs, options, this), inputs)


def _this(team: TeamCase) -> tuple[_This, dict[str, Any]]:
    """The team case's own index (with its values), built from its tables."""
    from workbench.case._xref import this_case
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
        keep_values=True,
    )
    return this_case(index, False, team), used


def _store(
    team: TeamCase,
    frame: pd.DataFrame,
    parameters: dict[str, Any],
    inputs: list[dict[str, Any]],
) -> pd.DataFrame:
    from workbench.case._xref_store import XREF_COLUMNS, _arrow_rows, _typed

    con, case_id = team._con, team.case_id
    frame = frame.reindex(columns=list(XREF_COLUMNS)).reset_index(drop=True)
    frame["source"] = "case"
    staged = [c for c in XREF_COLUMNS if c not in ("run_at", "audit_seq")]
    columns = [c.to_pylist() for c in _arrow_rows(frame, staged).columns]
    written = ["cross_references"]
    with refusals(con), con.transaction():
        _audit.lock_chain(con, case_id)  # from the head read to the commit: one chain
        _audit.check_unchanged(con, case_id, written)
        latest = _audit.head(con, case_id)
        seq, at = (latest[0] if latest else 0) + 1, audit_log.now()
        con.execute(
            "DELETE FROM cross_references WHERE case_id = %s AND source = 'case'", (case_id,)
        )
        first = next_fid(con, case_id, "cross_references")
        listed = ", ".join(f'"{c}"' for c in staged)
        with con.cursor().copy(
            f"COPY cross_references (case_id, fid, {listed}, run_at, audit_seq) FROM STDIN"
        ) as copy:
            for i, row in enumerate(zip(*columns, strict=True)):
                copy.write_row((case_id, first + i, *row, at, seq))
        _audit.append(
            con, case_id, action="cross-reference", parameters=parameters, inputs=inputs,
            at=at, state=_audit.state_of(con, case_id, written),
        )  # fmt: skip
    return _typed(frame.assign(run_at=at, audit_seq=seq))
