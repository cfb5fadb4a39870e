"""What a case's stored cross-references say about a site (private to ``export``): which
matches with earlier cases and partner lists still apply to a run, read through the
table's index, and worded for the reader in English or Chinese. The tip sheet, the bundle's
``cross_references.csv``, the explorer's panel and ``workbench networks`` use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.export._i18n import Translator
from workbench.export._report import shown

if TYPE_CHECKING:
    from workbench.case._case import Case

__all__ = [
    "MAX_SEEN",
    "cross_referenced",
    "read_cross_references",
    "seen_before",
    "seen_before_rows",
    "xref_scope",
]

MAX_SEEN = 50  # cross-references a site's section lists; the rest are in cross_references.csv
_MATCH_ORDER = {"site": 0, "network": 1, "seller": 2, "identifier": 3}  # as a site lists them
_CHUNK = 500  # ids per "IN (...)" of a query (SQLite allows 999 parameters by default)


def xref_scope(case: Case, run_id: str | None = None) -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) on ``cross_references`` rows that still apply
    to ``run_id`` (default: the latest run).

    Account and identifier matches always apply (seller ids stay); a ``site`` match names a
    site id of the run that was latest when it was made, so it applies to that run only
    (ids repeat across runs); a ``network`` match names a network id of the linking before
    it, so it applies until the sellers are linked again."""
    from workbench.case._xref_store import site_match_seqs

    con = case._con
    runs = con.execute("SELECT run_id, audit_seq FROM runs ORDER BY fid").fetchall()
    low, high = site_match_seqs(runs, run_id)
    linked = con.execute("SELECT MAX(seq) FROM audit WHERE action = 'link sellers'").fetchone()
    where = (
        "(match <> 'site' OR (audit_seq > ? AND audit_seq < ?)) "
        "AND (match <> 'network' OR audit_seq > ?)"
    )
    return where, [low, high, int(linked[0] or 0)]


def cross_referenced(case: Case) -> bool:
    """Whether the case was ever checked against earlier cases or a partner's list."""
    found = case._con.execute(
        "SELECT 1 FROM audit WHERE action IN ('cross-reference', 'import exchange list') LIMIT 1"
    ).fetchone()
    return found is not None


def _chunks(values: Iterable[str]) -> list[list[str]]:
    unique = sorted({str(v) for v in values})
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


def read_cross_references(
    case: Case,
    *,
    run_id: str | None = None,
    sellers: Iterable[str] | None = None,
    networks: Iterable[str] | None = None,
    site_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The case's stored cross-references that apply to ``run_id`` (:func:`xref_scope`):
    all of them, or (when any of ``sellers``, ``networks``, ``site_ids`` is given) those of
    these accounts, these networks' ``network`` matches and these sites' ``site`` matches.

    Read with the table's index on ``seller_id``, in the order they were stored (the
    columns of :func:`workbench.case.cross_references`)."""
    from workbench.case._io import read_frame
    from workbench.case._xref_store import XREF_COLUMNS

    where, params = xref_scope(case, run_id)
    listed = ", ".join(f'"{c}"' for c in XREF_COLUMNS)
    select = f"SELECT fid, {listed} FROM cross_references WHERE {where}"  # noqa: S608
    if sellers is None and networks is None and site_ids is None:
        queries = [(select, params)]
    else:
        queries = []
        for column, values, match in (
            ("seller_id", sellers, None),
            ("network_id", networks, "network"),
            ("site_id", site_ids, "site"),
        ):
            for chunk in _chunks(() if values is None else values):
                marks = ", ".join("?" * len(chunk))
                only = f" AND match = '{match}'" if match else ""
                queries.append((f"{select} AND {column} IN ({marks}){only}", [*params, *chunk]))
    frames = [read_frame(case._con, sql, values) for sql, values in queries]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame = frame.reindex(columns=["fid", *XREF_COLUMNS])
    frame = frame.drop_duplicates("fid").sort_values("fid", kind="stable")
    return frame.drop(columns="fid").reset_index(drop=True)


def seen_before(
    cross_references: pd.DataFrame,
    *,
    site_id: str,
    sellers: Iterable[str],
    networks: Iterable[str],
) -> pd.DataFrame:
    """The cross-references that concern one site (rows that apply, :func:`xref_scope`):
    matches of its accounts, ``network`` matches of its accounts' networks and its own
    ``site`` matches; site matches first, then networks, accounts and identifiers."""
    frame = cross_references
    if frame.empty:
        return frame.reset_index(drop=True)
    match = frame["match"].astype(str)
    keep = frame["seller_id"].isin({str(s) for s in sellers}) & ~match.isin(["network", "site"])
    keep |= (match == "network") & frame["network_id"].isin({str(n) for n in networks})
    keep |= (match == "site") & (frame["site_id"].astype(str) == str(site_id))
    found = frame[keep.to_numpy(bool)]
    rank = np.array([_MATCH_ORDER.get(str(m), 4) for m in found["match"]], dtype=int)
    rank += np.asarray(found["source"] == "partner", dtype=int) * 10
    return found.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)


def seen_before_rows(
    frame: pd.DataFrame, tr: Translator, limit: int | None = MAX_SEEN
) -> list[dict[str, str]]:
    """One display row per cross-reference (:func:`seen_before`), in the report's language:
    what matched, the account, the earlier case or partner list, the earlier network and
    sites, the outcome recorded there, and the stored explanation as it was recorded."""
    rows = []
    for row in (frame.head(limit) if limit else frame).to_dict("records"):
        kind = tr.value("kind", row.get("kind")) if _present(row.get("kind")) else ""
        partner = row.get("source") == "partner"
        what = "partner" if partner else str(row.get("match"))
        what = what if what in ("partner", *_MATCH_ORDER) else "other"
        earlier = [shown(row.get(k), tr) for k in ("other_network_id", "other_site_ids")]
        if partner:
            outcome = tr(
                "seen.listed",
                brand=shown(row.get("brand"), tr) or "?",
                verdict=tr.value("verdict", shown(row.get("verdict"), tr)),
                date=shown(row.get("verdict_date"), tr) or "?",
            )
        elif _present(row.get("review_status")):
            outcome = tr("seen.reviewed", status=tr.value("status", row.get("review_status")))
        else:
            outcome = tr("seen.no_review")
        rows.append(
            {
                "what": tr(f"seen.match.{what}", kind=kind),
                "account": next(
                    (
                        shown(row[k], tr)
                        for k in ("seller_id", "network_id")
                        if _present(row.get(k))
                    ),
                    "",
                ),
                "source": tr(
                    "seen.list" if partner else "seen.case", name=shown(row.get("source_name"), tr)
                ),
                "earlier": " · ".join(e for e in earlier if e) or "—",
                "outcome": outcome,
                "record": shown(row.get("explanation"), tr),
            }
        )
    return rows


def _present(value: Any) -> bool:
    return (
        value is not None
        and not (isinstance(value, float) and value != value)
        and (value is not pd.NA)
    )
