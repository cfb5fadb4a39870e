"""Continuity for the police: a site in a tip sheet that took over from another site of the
same network (a move found by :func:`workbench.sites.find_relocations`, most often after a
raid or a takedown recorded in the case), with the chain of evidence that links them.

The report says it in its own language from the relocation's fields (places, distance,
dates, the event it follows, how many new accounts share identifiers with the accounts
taken down); ``relocations.csv`` holds the rows for analysts. The partner edition leaves out
the identifier values (the relocation's ``shared_identifiers`` and its English sentence).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.export._i18n import Translator
from workbench.export._report import shown
from workbench.sites._relocation import RELOCATION_COLUMNS

if TYPE_CHECKING:
    from workbench.case._case import Case
    from workbench.team._case import TeamCase

__all__ = ["RELOCATION_CSV_COLUMNS", "continuity_rows", "site_relocations"]

# relocations.csv: the finder's columns (the shared identifiers as text, not as a list)
RELOCATION_CSV_COLUMNS = tuple(c for c in RELOCATION_COLUMNS if c != "shared_list")
_PARTNER_DROPS = ("shared_identifiers", "evidence")  # identifier values in the clear


def site_relocations(
    case: Case | TeamCase, run_id: str, site_ids: Iterable[str], *, profile: str
) -> pd.DataFrame:
    """The moves of run ``run_id`` into or out of ``site_ids`` (empty when none), with the
    columns the profile may show; the case's recorded events name what a move follows."""
    wanted = {str(s) for s in site_ids}
    found = case.relocations(run_id).relocations
    mask = found["from_site"].astype(str).isin(wanted) | found["to_site"].astype(str).isin(wanted)
    columns = [c for c in RELOCATION_CSV_COLUMNS if profile != "partner" or c not in _PARTNER_DROPS]
    if profile != "partner":  # the report lists them in its language (not a CSV column)
        columns.append("shared_list")
    moves = found.loc[mask, columns].reset_index(drop=True)
    if len(moves):  # the places in Chinese too, for the Chinese report
        sites = case.sites(run_id).set_index("site_id")
        zh = {
            str(k): "，".join(dict.fromkeys(p for p in (place, pref) if isinstance(p, str) and p))
            for k, place, pref in zip(
                sites.index, sites["place_zh"], sites["prefecture_zh"], strict=True
            )
        }
        moves["from_place_zh"] = moves["from_site"].astype(str).map(zh)
        moves["to_place_zh"] = moves["to_site"].astype(str).map(zh)
    return moves


def continuity_rows(
    moves: pd.DataFrame | None, site_id: str, tr: Translator, *, profile: str | None
) -> list[dict[str, str]]:
    """What the report says of ``site_id``: one entry per move into it (it took over) or out
    of it (the operation went on elsewhere), in the report's language."""
    if moves is None or moves.empty:
        return []
    rows = []
    mine = moves[(moves["to_site"] == site_id) | (moves["from_site"] == site_id)]
    for move in mine.to_dict("records"):
        into = str(move["to_site"]) == site_id
        zh = tr.lang.startswith("zh")
        text = [
            tr(
                "continuity.into" if into else "continuity.out",
                network=shown(move.get("network_id") or tr("continuity.no_network"), tr),
                from_site=shown(move["from_site"], tr),
                from_place=shown(_place(move, "from", zh), tr),
                to_site=shown(move["to_site"], tr),
                to_place=shown(_place(move, "to", zh), tr),
                km=f"{float(move['distance_km']):,.1f}",
                around=_day(move.get("around")),
                last=_day(move.get("from_last_week")),
                gap=int(move.get("gap_weeks") or 0),
            )
        ]
        if move.get("event_id") and not pd.isna(move["event_id"]):
            text.append(
                tr(
                    "continuity.event",
                    weeks=_int(move.get("weeks_after_event")),
                    kind=tr.value("event", move.get("event_kind")),
                    event=shown(move["event_id"], tr),
                    date=_day(move.get("event_date")),
                    site=shown(move["from_site"], tr),
                )
            )
        if int(move.get("n_new_accounts") or 0):
            text.append(
                tr(
                    "continuity.shared",
                    n=int(move.get("n_sharing") or 0),
                    of=int(move["n_new_accounts"]),
                )
            )
        rows.append(
            {
                "text": tr("sentence.sep").join(text),
                "identifiers": "" if profile == "partner" else _identifiers(move, tr),
            }
        )
    return rows


def _identifiers(move: Mapping[Hashable, Any], tr: Translator) -> str:
    """The identifiers the new accounts share with those left behind, in the report's
    language (``shared_list``: kind, value, holders); the finder's text without it."""
    listed = move.get("shared_list")
    if not isinstance(listed, list):
        return shown(move.get("shared_identifiers"), tr, 600)
    items = [
        tr(
            "continuity.held",
            kind=tr.value("kind", shown(kind, tr)),
            value=shown(value, tr, 120),
            n=int(n),
        )
        for kind, value, n in listed
    ]
    return shown(tr("list.sep").join(items), tr, 600)


def _place(move: Mapping[Hashable, Any], end: str, zh: bool) -> Any:
    """The place of the move's ``end`` ("from"/"to"), in Chinese when there is one."""
    chinese = move.get(f"{end}_place_zh")
    return chinese if zh and isinstance(chinese, str) and chinese else move.get(f"{end}_place")


def _day(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return "?"
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
