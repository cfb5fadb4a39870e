"""Describe and score clustered sites (private to ``sites``).

The figures from the waybills come tallied per site (:mod:`workbench.sites._tally`); here
they become the columns of the sites table, from small per-site arrays and the sorted
(site, code) pairs. The geometry (medoid, radius, hull) works on each site's unique points.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import shapely

from workbench.coords import haversine_m
from workbench.sites._geometry import circle_polygon
from workbench.sites._tally import Tally
from workbench.sites._waybills import Waybills, frozen

SCORE_WEIGHTS = {"evidence": 0.40, "concentration": 0.25, "brand_focus": 0.20, "contrast": 0.15}
WORKSHOP_EVIDENCE = 0.25
_MEDOID_CANDIDATES = 48  # heaviest points and points nearest the weighted mean


def _shape_kernels() -> ModuleType:
    """The numba kernels of the geometry, imported on first use."""
    from workbench.sites import _geometry_jit as _site_geometry_jit

    return _site_geometry_jit


def _split(labels: np.ndarray, values: np.ndarray, n_sites: int) -> list[np.ndarray]:
    """Values grouped by label (labels sorted ascending), one array per site."""
    if n_sites == 0:
        return []
    bounds = np.searchsorted(labels, np.arange(1, n_sites))
    return np.split(values, bounds)


def geometry(
    lat: np.ndarray,
    lon: np.ndarray,
    weight: np.ndarray,
    point_label: np.ndarray,
    n_sites: int,
    coverage: float,
) -> pd.DataFrame:
    """Per site: medoid index, lat, lon, the radius holding ``coverage`` of it, the hull.

    Medoids of sites with more than ``_MEDOID_CANDIDATES`` points are searched among
    candidates (:func:`_medoid`); the rest, and every radius, in
    ``_site_geometry_jit.site_shapes``.
    """
    if n_sites == 0:
        return pd.DataFrame(
            {
                "medoid": np.array([], dtype=np.int64),
                "lat": np.array([], dtype=float),
                "lon": np.array([], dtype=float),
                "radius_m": np.array([], dtype=float),
                "hull": [],
            }
        )
    order = np.argsort(point_label, kind="stable")
    order = order[point_label[order] >= 0]
    start = np.searchsorted(point_label[order], np.arange(n_sites + 1))
    medoid = np.full(n_sites, -1, dtype=np.int64)
    for k in np.flatnonzero(np.diff(start) > _MEDOID_CANDIDATES):  # large sites
        idx = order[start[k] : start[k + 1]]
        medoid[k] = idx[_medoid(lat[idx], lon[idx], weight[idx])]
    radius = np.empty(n_sites)
    _shape_kernels().site_shapes(
        frozen(order),
        frozen(start),
        frozen(lat),
        frozen(lon),
        frozen(weight),
        coverage,
        _MEDOID_CANDIDATES,
        medoid,
        radius,
    )
    hulls = shapely.convex_hull(
        shapely.multipoints(np.column_stack([lon[order], lat[order]]), indices=point_label[order])
    )
    # the hull of points on (nearly) one line or one spot is a small circle instead
    hull = [
        h
        if isinstance(h, shapely.Polygon) and h.area > 0
        else circle_polygon((lat[medoid[k]], lon[medoid[k]]), 25.0)
        for k, h in enumerate(hulls)
    ]
    return pd.DataFrame(
        {"medoid": medoid, "lat": lat[medoid], "lon": lon[medoid], "radius_m": radius, "hull": hull}
    )


def _medoid(lat: np.ndarray, lon: np.ndarray, weight: np.ndarray) -> int:
    """Weighted medoid of a large site among candidates: the heaviest points and those
    nearest the mean.

    The exact medoid minimises the weighted sum of distances to all points; it lies near
    the weighted mean, so candidates are the points nearest it plus the heaviest ones.
    """
    mean_lat, mean_lon = np.average(lat, weights=weight), np.average(lon, weights=weight)
    near = np.argsort(haversine_m(mean_lat, mean_lon, lat, lon))[: _MEDOID_CANDIDATES // 2]
    heavy = np.argsort(-weight, kind="stable")[: _MEDOID_CANDIDATES // 2]
    candidates = np.unique(np.concatenate([near, heavy]))
    dist = haversine_m(lat[candidates, None], lon[candidates, None], lat[None, :], lon[None, :])
    cost = dist @ weight
    best = np.flatnonzero(cost <= cost.min() * (1 + 1e-12))
    # ties: the lexicographically smallest point, so the result never depends on row order
    return int(candidates[best[np.lexsort((lon[candidates[best]], lat[candidates[best]]))[0]]])


def describe(
    ways: Waybills,
    tally: Tally,
    evidence: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> pd.DataFrame:
    """Counts, lists, dates and score parts per site (one row per site of ``tally``).

    ``evidence`` holds per operator code: counterfeit verdicts, genuine verdicts (and per
    brand code whether the brand has a counterfeit verdict anywhere in the case).
    """
    counterfeit, genuine, _ = evidence
    n_sites = len(tally.n_shipments)
    out: dict[str, Any] = {"n_shipments": tally.n_shipments}
    n = tally.n_shipments.astype(float)

    s_lab, s_code = tally.sellers
    out["n_sellers"] = np.bincount(s_lab, minlength=n_sites)
    out["sellers"] = [
        sorted(map(str, g)) for g in _split(s_lab, ways.seller_names[s_code], n_sites)
    ]
    # an operator is in a site when one of its sellers is
    width = max(len(ways.operator_names), 1)
    o_key = np.unique(s_lab.astype(np.int64) * width + ways.operator_of_seller[s_code])
    o_lab, o_code = o_key // width, o_key % width
    out["n_operators"] = np.bincount(o_lab, minlength=n_sites)
    nets = ways.operator_is_network[o_code]
    out["networks"] = [
        sorted(map(str, g)) for g in _split(o_lab[nets], ways.operator_names[o_code[nets]], n_sites)
    ]
    out["n_networks"] = np.bincount(o_lab[nets], minlength=n_sites)
    out["n_counterfeit"] = np.bincount(o_lab, counterfeit[o_code], minlength=n_sites).astype(int)
    out["n_genuine"] = np.bincount(o_lab, genuine[o_code], minlength=n_sites).astype(int)
    out["brands"] = _brands(ways, tally)
    out["precision"] = _precision(ways, tally)
    out["value_cny"] = tally.value if ways.has_value else np.full(n_sites, np.nan)
    out["first_shipped"], out["last_shipped"] = _date_range(tally)
    parts = pd.DataFrame(
        {
            # operators' verdict ratios, weighted by their share of the site's waybills
            "evidence": tally.evidence / n,
            "concentration": 1 - out["n_operators"] / out["n_sellers"],
            "brand_focus": tally.suspect / n,
        }
    )
    frame = pd.DataFrame(out)
    return pd.concat([frame, parts], axis=1)


def _brands(ways: Waybills, tally: Tally) -> list[list[str]]:
    """Brands per site, most waybills first (ties: the brand seen first in the input)."""
    b_lab, b_code, b_count = tally.brands
    seen = ways.first_seen(ways.brand, len(ways.brand_names))
    order = np.lexsort((seen[b_code], -b_count, b_lab))
    names = ways.brand_names[b_code[order]]
    return [list(map(str, g)) for g in _split(b_lab[order], names, len(tally.n_shipments))]


def _precision(ways: Waybills, tally: Tally) -> list[dict[str, int]]:
    """Waybills per precision level and site, levels in the order first seen."""
    names = ways.precision_names
    if len(names) == 1:  # every waybill has the one level
        return [{str(names[0]): int(c)} for c in tally.n_shipments]
    p_lab, p_code, p_count = tally.levels
    seen = ways.first_seen(ways.precision, len(names))
    order = np.lexsort((seen[p_code], p_lab))
    p_lab, p_code, p_count = p_lab[order], p_code[order], p_count[order]
    n_sites = len(tally.n_shipments)
    return [
        dict(zip(map(str, nm), map(int, c), strict=True))
        for nm, c in zip(
            _split(p_lab, names[p_code], n_sites), _split(p_lab, p_count, n_sites), strict=True
        )
    ]


def _date_range(tally: Tally) -> tuple[pd.Series, pd.Series]:
    """First and last shipping day per site (NaT when no waybill of the site has a date)."""
    missing = tally.last_day < 0
    nat = np.datetime64("NaT", "D")
    return tuple(  # type: ignore[return-value]
        pd.Series(np.where(missing, nat, d.clip(0).astype("datetime64[D]"))).astype("datetime64[s]")
        for d in (tally.first_day, tally.last_day)
    )


def score(parts: pd.DataFrame, n_operators: np.ndarray, hub_min_operators: int) -> pd.DataFrame:
    """Score (0-100) from the rounded parts, and the hub / workshop / mixed label."""
    parts = parts[list(SCORE_WEIGHTS)].round(3)
    weights = pd.Series(SCORE_WEIGHTS)
    total = (100 * parts.mul(weights).sum(axis=1)).round(1)
    hub = (n_operators >= hub_min_operators) & (parts["concentration"].to_numpy() < 0.5)
    workshop = ~hub & (parts["evidence"].to_numpy() >= WORKSHOP_EVIDENCE)
    return pd.DataFrame(
        {
            "score": total,
            "score_parts": parts.to_dict(orient="records"),
            "label": np.select([hub, workshop], ["hub", "workshop"], default="mixed"),
        }
    )


def weekly(tally: Tally, rank_of: np.ndarray, site_ids: np.ndarray) -> pd.DataFrame:
    """Waybills and declared value per site and week (weeks start on Monday), by site rank
    (``rank_of``: the rank of each site of ``tally``) and week."""
    site, week, counts, values = tally.weeks
    if len(site) == 0:
        return pd.DataFrame(
            {
                "site_id": pd.Series(dtype=str),
                "week": pd.Series(dtype="datetime64[s]"),
                "n_shipments": pd.Series(dtype=np.int64),
                "value_cny": pd.Series(dtype=float),
            }
        )
    rank = rank_of[site]
    order = np.lexsort((week, rank))
    start = (week[order] * 7 - 3).astype("datetime64[D]")  # 1970-01-01 was a Thursday
    return pd.DataFrame(
        {
            "site_id": site_ids[rank[order]],
            "week": pd.Series(start).astype("datetime64[s]"),
            "n_shipments": counts[order].astype(np.int64),
            "value_cny": np.round(values[order], 2),
        }
    )
