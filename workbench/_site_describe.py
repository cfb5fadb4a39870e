"""Describe and score clustered sites, vectorised over waybills (private to ``sites``).

Every per-site figure is a ``bincount`` or a sort over integer codes: waybills carry the
index of their unique point, their site label and integer codes for seller, operator, brand,
day and precision. Only the geometry (medoid, radius, hull) loops over sites, on each site's
unique points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from workbench._site_geometry import haversine_m, hull_polygon, weighted_quantile

SCORE_WEIGHTS = {"evidence": 0.40, "concentration": 0.25, "brand_focus": 0.20, "contrast": 0.15}
WORKSHOP_EVIDENCE = 0.25
_MEDOID_CANDIDATES = 48  # heaviest points and points nearest the weighted mean


@dataclass
class Waybills:
    """Integer-coded waybill columns the description needs (one entry per usable waybill)."""

    point: np.ndarray  # index of the unique point
    seller: np.ndarray  # code into ``seller_names``
    seller_names: np.ndarray
    operator: np.ndarray  # code into ``operator_names`` (network id, or the seller itself)
    operator_names: np.ndarray
    operator_is_network: np.ndarray  # per operator code
    day: np.ndarray  # days since 1970-01-01, -1 when unknown
    value: np.ndarray  # declared value in CNY, 0 when unknown
    has_value: bool
    brand: np.ndarray  # code into ``brand_names``, -1 when unknown
    brand_names: np.ndarray
    precision: np.ndarray  # code into ``precision_names``
    precision_names: np.ndarray


def _pairs(
    label: np.ndarray, code: np.ndarray, n_codes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (label, code) pairs with their waybill counts, sorted by label then code."""
    width = max(n_codes, 1)
    key = label.astype(np.int64) * width + code
    keys, counts = distinct(key, (int(label.max(initial=-1)) + 1) * width)
    return keys // width, keys % width, counts


def distinct(
    key: np.ndarray, size: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct non-negative keys below ``size`` and their counts (or weight sums).

    A ``bincount`` when the key space is small enough, else a hash table: no sort of all keys.
    """
    if 0 < size <= 20_000_000:
        counts = np.bincount(key, minlength=size)
        keys = np.flatnonzero(counts)
        sums = counts if weights is None else np.bincount(key, weights, minlength=size)
        return keys, sums[keys]
    codes, uniques = pd.factorize(key)  # hashing: linear in the keys, sorts only the distinct
    counts = np.bincount(codes, weights, minlength=len(uniques))
    order = np.argsort(uniques, kind="stable")
    return np.asarray(uniques)[order], counts[order]


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
    """Per site: medoid index, lat, lon, the radius holding ``coverage`` of it, the hull."""
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
    groups = _split(point_label[order], order, n_sites)
    medoid = np.empty(n_sites, dtype=np.int64)
    radius = np.empty(n_sites)
    for k, idx in enumerate(groups):
        m = idx[_medoid(lat[idx], lon[idx], weight[idx])]
        medoid[k] = m
        dist = haversine_m(lat[m], lon[m], lat[idx], lon[idx])
        radius[k] = np.ceil(max(weighted_quantile(dist, weight[idx], coverage), 1.0) * 10) / 10
    hulls = shapely.convex_hull(
        shapely.multipoints(np.column_stack([lon[order], lat[order]]), indices=point_label[order])
    )
    hull = [
        h
        if isinstance(h, shapely.Polygon) and h.area > 0
        else hull_polygon(lat[groups[k]], lon[groups[k]], (lat[medoid[k]], lon[medoid[k]]), 25.0)
        for k, h in enumerate(hulls)
    ]
    return pd.DataFrame(
        {"medoid": medoid, "lat": lat[medoid], "lon": lon[medoid], "radius_m": radius, "hull": hull}
    )


def _medoid(lat: np.ndarray, lon: np.ndarray, weight: np.ndarray) -> int:
    """Weighted medoid among candidates: the heaviest points and those nearest the mean.

    The exact medoid minimises the weighted sum of distances to all points; it lies near
    the weighted mean, so candidates are the points nearest it plus the heaviest ones.
    """
    if len(lat) <= _MEDOID_CANDIDATES:
        candidates = np.arange(len(lat))
    else:
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
    label: np.ndarray,
    n_sites: int,
    evidence: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> pd.DataFrame:
    """Counts, lists, dates and score parts per site (one row per label ``0..n_sites-1``).

    ``evidence`` holds per operator code: counterfeit verdicts, genuine verdicts, and per
    brand code whether the brand has a counterfeit verdict anywhere in the case.
    """
    counterfeit, genuine, suspect_brand = evidence
    inside = label >= 0
    lab = label[inside]
    seller, operator = ways.seller[inside], ways.operator[inside]
    out: dict[str, Any] = {"n_shipments": np.bincount(lab, minlength=n_sites)}
    n = out["n_shipments"].astype(float)

    s_lab, s_code, _ = _pairs(lab, seller, len(ways.seller_names))
    out["n_sellers"] = np.bincount(s_lab, minlength=n_sites)
    out["sellers"] = [
        sorted(map(str, g)) for g in _split(s_lab, ways.seller_names[s_code], n_sites)
    ]

    o_lab, o_code, _ = _pairs(lab, operator, len(ways.operator_names))
    out["n_operators"] = np.bincount(o_lab, minlength=n_sites)
    nets = ways.operator_is_network[o_code]
    out["networks"] = [
        sorted(map(str, g)) for g in _split(o_lab[nets], ways.operator_names[o_code[nets]], n_sites)
    ]
    out["n_networks"] = np.bincount(o_lab[nets], minlength=n_sites)
    out["n_counterfeit"] = np.bincount(o_lab, counterfeit[o_code], minlength=n_sites).astype(int)
    out["n_genuine"] = np.bincount(o_lab, genuine[o_code], minlength=n_sites).astype(int)

    known = ways.brand[inside] >= 0
    b_lab, b_code, b_count = _pairs(lab[known], ways.brand[inside][known], len(ways.brand_names))
    order = np.lexsort((b_code, -b_count, b_lab))  # per site: most waybills first
    out["brands"] = [
        list(map(str, g)) for g in _split(b_lab[order], ways.brand_names[b_code[order]], n_sites)
    ]
    p_lab, p_code, p_count = _pairs(lab, ways.precision[inside], len(ways.precision_names))
    names = ways.precision_names[p_code]
    out["precision"] = [
        dict(zip(map(str, nm), map(int, c), strict=True))
        for nm, c in zip(
            _split(p_lab, names, n_sites), _split(p_lab, p_count, n_sites), strict=True
        )
    ]
    value = np.bincount(lab, ways.value[inside], minlength=n_sites)
    out["value_cny"] = value if ways.has_value else np.full(n_sites, np.nan)
    out["first_shipped"], out["last_shipped"] = _date_range(lab, ways.day[inside], n_sites)

    ratio = counterfeit / (counterfeit + genuine + 1)
    parts = pd.DataFrame(
        {
            # operators' verdict ratios, weighted by their share of the site's waybills
            "evidence": np.bincount(lab, ratio[operator], minlength=n_sites) / n,
            "concentration": 1 - out["n_operators"] / out["n_sellers"],
            "brand_focus": np.bincount(
                lab[known],
                suspect_brand[ways.brand[inside][known]].astype(float),
                minlength=n_sites,
            )
            / n,
        }
    )
    frame = pd.DataFrame(out)
    return pd.concat([frame, parts], axis=1)


def _date_range(lab: np.ndarray, day: np.ndarray, n_sites: int) -> tuple[pd.Series, pd.Series]:
    """First and last shipping day per site (NaT when no waybill of the site has a date)."""
    known = day >= 0
    first = np.full(n_sites, np.iinfo(np.int64).max)
    last = np.full(n_sites, -1, dtype=np.int64)
    np.minimum.at(first, lab[known], day[known])
    np.maximum.at(last, lab[known], day[known])
    missing = last < 0
    nat = np.datetime64("NaT", "D")
    return tuple(  # type: ignore[return-value]
        pd.Series(np.where(missing, nat, d.clip(0).astype("datetime64[D]"))).astype("datetime64[s]")
        for d in (first, last)
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


def weekly(
    label: np.ndarray, day: np.ndarray, value: np.ndarray, site_ids: np.ndarray
) -> pd.DataFrame:
    """Waybills and declared value per site and week (weeks start on Monday)."""
    keep = (label >= 0) & (day >= 0)
    if not keep.any():
        return pd.DataFrame(
            {
                "site_id": pd.Series(dtype=str),
                "week": pd.Series(dtype="datetime64[s]"),
                "n_shipments": pd.Series(dtype=np.int64),
                "value_cny": pd.Series(dtype=float),
            }
        )
    week = (day[keep] + 3) // 7  # 1970-01-01 was a Thursday: +3 makes weeks start on Monday
    lab = label[keep]
    base = int(week.min())
    span = int(week.max()) - base + 1
    key = lab.astype(np.int64) * span + (week - base)
    size = (int(lab.max()) + 1) * span
    keys, counts = distinct(key, size)
    _, values = distinct(key, size, value[keep])
    start = ((keys % span + base) * 7 - 3).astype("datetime64[D]")
    return pd.DataFrame(
        {
            "site_id": site_ids[keys // span],
            "week": pd.Series(start).astype("datetime64[s]"),
            "n_shipments": counts.astype(np.int64),
            "value_cny": np.round(values, 2),
        }
    )
