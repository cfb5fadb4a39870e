"""Two runs compared site by site: which sites appeared, vanished, grew or shrank.

Typically the same case clustered over two time windows (``find_sites(since=..,
until=..)``): the sites of the first window are matched to those of the second by place.
Two sites are the same place when their centres lie within the sum of their radii (the
distance from centre to the farthest waybill point), or within ``min_reach_m`` for two
compact sites; each site matches at most one, nearest pairs first. Then:

- ``appeared``: a site of the second run matched by none of the first;
- ``vanished``: a site of the first run matched by none of the second;
- ``grew`` / ``shrank``: matched, with at least ``factor`` times more / fewer waybills;
- ``steady``: matched otherwise.

The result has one row per change, the new sites first, then the vanished, the grown, the
shrunk and the steady, the larger first within each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.coords import haversine_m

__all__ = ["CHANGES", "compare_sites"]

CHANGES = ("appeared", "vanished", "grew", "shrank", "steady")
_COLUMNS = [
    "change",
    "site_before",
    "site_after",
    "distance_m",
    "n_before",
    "n_after",
    "lat",
    "lon",
    "place",
    "summary",
]


def compare_sites(
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    factor: float = 1.5,
    min_reach_m: float = 300.0,
) -> pd.DataFrame:
    """The changes from the sites ``before`` to the sites ``after`` (frames with
    ``site_id``, ``lat``, ``lon``, ``radius_m``, ``n_shipments`` and optionally
    ``place``, ``prefecture``, ``first_shipped``, ``last_shipped``, ``n_sellers``).

    >>> a = pd.DataFrame({"site_id": ["S001"], "lat": [25.44], "lon": [119.01],
    ...                   "radius_m": [80.0], "n_shipments": [100]})
    >>> b = a.assign(site_id="S002", n_shipments=250)
    >>> compare_sites(a, b)[["change", "site_before", "site_after"]].values.tolist()
    [['grew', 'S001', 'S002']]
    """
    if factor <= 1:
        raise ValueError(f"factor={factor!r}: a change needs a factor above 1")
    pairs = _matches(before, after, min_reach_m)
    matched_before = {i for i, _, _ in pairs}
    matched_after = {j for _, j, _ in pairs}
    rows = []
    for i, j, distance in pairs:
        b, a = before.iloc[i], after.iloc[j]
        n_b, n_a = int(b["n_shipments"]), int(a["n_shipments"])
        if n_a >= factor * n_b:
            change = "grew"
        elif n_b >= factor * n_a:
            change = "shrank"
        else:
            change = "steady"
        text = f"{b['site_id']} -> {a['site_id']}{_where(a)} {change}: {n_b:,} -> {n_a:,} waybills"
        rows.append(_row(change, b, a, distance, n_b, n_a, a, text))
    for j in sorted(set(range(len(after))) - matched_after):
        a = after.iloc[j]
        text = f"{a['site_id']}{_where(a)} appeared: {int(a['n_shipments']):,} waybills"
        text += _accounts(a) + _dated(a, "first_shipped", "first")
        rows.append(_row("appeared", None, a, np.nan, 0, int(a["n_shipments"]), a, text))
    for i in sorted(set(range(len(before))) - matched_before):
        b = before.iloc[i]
        text = f"{b['site_id']}{_where(b)} vanished: {int(b['n_shipments']):,} waybills before"
        text += _dated(b, "last_shipped", "last")
        rows.append(_row("vanished", b, None, np.nan, int(b["n_shipments"]), 0, b, text))
    out = pd.DataFrame(rows, columns=_COLUMNS)
    order = out["change"].map({c: k for k, c in enumerate(CHANGES)})
    size = out[["n_before", "n_after"]].max(axis=1)
    out = out.assign(_order=order, _size=-size).sort_values(["_order", "_size"], kind="stable")
    return out.drop(columns=["_order", "_size"]).reset_index(drop=True)


def _matches(
    before: pd.DataFrame, after: pd.DataFrame, min_reach_m: float
) -> list[tuple[int, int, float]]:
    """(row in before, row in after, metres) of each matched pair, nearest first."""
    if before.empty or after.empty:
        return []
    lat_b, lon_b = before["lat"].to_numpy(float), before["lon"].to_numpy(float)
    lat_a, lon_a = after["lat"].to_numpy(float), after["lon"].to_numpy(float)
    distance = haversine_m(lat_b[:, None], lon_b[:, None], lat_a[None, :], lon_a[None, :])
    reach = before["radius_m"].to_numpy(float)[:, None] + after["radius_m"].to_numpy(float)
    reach = np.maximum(np.nan_to_num(reach), min_reach_m)
    i, j = np.nonzero(distance <= reach)
    order = np.lexsort((j, i, distance[i, j]))  # nearest first; ties in a fixed order
    taken_b: set[int] = set()
    taken_a: set[int] = set()
    pairs = []
    for k in order:
        bi, aj = int(i[k]), int(j[k])
        if bi in taken_b or aj in taken_a:
            continue
        taken_b.add(bi)
        taken_a.add(aj)
        pairs.append((bi, aj, round(float(distance[bi, aj]), 1)))
    return pairs


def _row(
    change: str,
    before: pd.Series | None,
    after: pd.Series | None,
    distance: float,
    n_before: int,
    n_after: int,
    at: pd.Series,
    summary: str,
) -> dict[str, object]:
    return {
        "change": change,
        "site_before": None if before is None else str(before["site_id"]),
        "site_after": None if after is None else str(after["site_id"]),
        "distance_m": distance,
        "n_before": n_before,
        "n_after": n_after,
        "lat": float(at["lat"]),
        "lon": float(at["lon"]),
        "place": _place(at),
        "summary": summary,
    }


def _place(site: pd.Series) -> str:
    parts = [str(site.get(k) or "") for k in ("place", "prefecture")]
    return ", ".join(dict.fromkeys(p for p in parts if p))


def _where(site: pd.Series) -> str:
    place = _place(site)
    return f" ({place})" if place else ""


def _accounts(site: pd.Series) -> str:
    n = site.get("n_sellers")
    return f" from {int(n)} accounts" if n is not None and not pd.isna(n) else ""


def _dated(site: pd.Series, column: str, word: str) -> str:
    value = site.get(column)
    if value is None or pd.isna(value):
        return ""
    return f", {word} {pd.Timestamp(value).strftime('%Y-%m-%d')}"
