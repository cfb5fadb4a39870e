"""Coordinates made right at intake: swapped axes, Chinese map datums, missing points.

For each row of a table with points (shipments, locations), in this order:

1. ``lat``/``lon`` parsed as numbers; the values as given are kept in ``source_lat`` and
   ``source_lon``.
2. Swapped axes repaired when unambiguous: a latitude beyond +-90 whose longitude fits as a
   latitude; or, when the mapping declares ``country: CN`` or the row's address places it in
   China, a point outside China that falls inside it once swapped (``swapped_lat_lon``).
3. Null island (0, 0), out-of-range, non-numeric or missing coordinates are geocoded from the
   row's address when it has one (``geocoded_from_address``, with the geocoder's precision);
   otherwise the row is quarantined with the reason.
4. GCJ-02 and BD-09 points become WGS-84 (:mod:`workbench.coords`); ``coord_system`` keeps
   the system the source used, per row (a column, or the mapping's default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from workbench.coords import canonical_system, in_china, to_wgs84
from workbench.intake._rules import Verdicts, describe, to_float, trimmed
from workbench.schema import PRECISIONS, TableSpec

SWAP_CONFIRM_KM = 300.0  # an address confirms a swap when it lies this close to the swapped point


def check_points(
    raw: pd.DataFrame,
    spec: TableSpec,
    out: Verdicts,
    *,
    coord_system: str | None,
    country: str | None,
    geocode: Any,
) -> dict[str, Any]:
    """Parsed point columns (lat, lon, source_lat, source_lon, coord_system, precision)."""
    n = len(raw)
    has_xy = "lat" in raw.columns and "lon" in raw.columns
    lat_text = trimmed(raw["lat"]) if has_xy else pd.Series([""] * n, dtype="string[pyarrow]")
    lon_text = trimmed(raw["lon"]) if has_xy else pd.Series([""] * n, dtype="string[pyarrow]")
    given = ((lat_text != "") & (lon_text != "")).to_numpy()
    lat = to_float(lat_text.where(given, "nan"))
    lon = to_float(lon_text.where(given, "nan"))
    source_lat, source_lon = lat.copy(), lon.copy()
    numeric = given & np.isfinite(lat) & np.isfinite(lon)

    system = _systems(raw, coord_system, out, n)
    has_address = bool(spec.address) and spec.address in raw.columns

    def addresses() -> np.ndarray:  # made only when a point needs its address
        return raw[spec.address].astype(str).to_numpy(dtype=object)

    # 2. swapped axes
    plain_swap = numeric & (np.abs(lat) > 90) & (np.abs(lon) <= 90)
    candidate = (
        numeric & ~plain_swap & (np.abs(lat) <= 90) & ~in_china(lat, lon) & in_china(lon, lat)
    )
    confirmed = np.zeros(n, dtype=bool)
    if candidate.any():
        if (country or "").upper() in {"CN", "CHN", "CHINA", "中国"}:
            confirmed = candidate
        elif has_address and geocode is not None:
            confirmed = candidate & _address_near(addresses(), lon, lat, candidate, geocode)
    swap = plain_swap | confirmed
    lat[swap], lon[swap] = lon[swap], lat[swap].copy()
    out.repaired(swap, "swapped_lat_lon")

    # 3. unusable points: geocode from the address, or quarantine
    null_island = numeric & (lat == 0) & (lon == 0)
    out_of_range = numeric & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    problems = [
        (~given, "missing_coordinate", "lat or lon is empty and there is no address"),
        (
            given & ~numeric,
            "bad_coordinate",
            _pair_messages(lat_text, lon_text, "must both be numbers"),
        ),
        (null_island, "null_island", "lat=0, lon=0 is a missing location"),
        (
            out_of_range,
            "out_of_range",
            _pair_messages(lat_text, lon_text, "outside -90..90 / -180..180"),
        ),
    ]
    unusable = ~numeric | null_island | out_of_range
    precision = _given_precision(raw, n, out)
    geocoded = np.zeros(n, dtype=bool)
    if unusable.any() and has_address and geocode is not None:
        address = addresses()
        todo = unusable & (pd.Series(address).str.strip() != "").to_numpy() & pd.isna(out.reason)
        if todo.any():
            found = geocode(pd.Series(address[todo]))
            ok = found["lat"].notna().to_numpy()
            rows = np.flatnonzero(todo)[ok]
            lat[rows] = found["lat"].to_numpy(float)[ok]
            lon[rows] = found["lon"].to_numpy(float)[ok]
            precision[rows] = found["precision"].astype(str).to_numpy()[ok]
            system[rows] = "wgs84"  # the gazetteer is WGS-84
            geocoded[rows] = True
    out.repaired(geocoded, "geocoded_from_address")
    required = "lat" in spec.required or spec.name == "shipments"
    for mask, reason, message in problems:
        if required or reason != "missing_coordinate":
            out.fail(mask & ~geocoded, reason, message)
    placed = (numeric & ~null_island & ~out_of_range) | geocoded
    lat[~placed], lon[~placed] = np.nan, np.nan
    precision[~placed] = ""

    # 4. datums
    for name in ("gcj02", "bd09"):
        rows = placed & ~geocoded & (system == name)
        if rows.any():
            lat[rows], lon[rows] = to_wgs84(lat[rows], lon[rows], name)
            out.repaired(rows, f"{name}_to_wgs84")
    return {
        "lat": lat,
        "lon": lon,
        "source_lat": source_lat,
        "source_lon": source_lon,
        "coord_system": system,
        "precision": precision,
    }


def _systems(raw: pd.DataFrame, default: str | None, out: Verdicts, n: int) -> np.ndarray:
    fallback = "wgs84"
    if default:
        fallback = str(canonical_system(np.array([default]))[0])
        if not fallback:
            raise ValueError(
                f"coord_system={default!r} in the mapping is not WGS-84, GCJ-02 or BD-09"
            )
    if "coord_system" not in raw.columns:
        return np.full(n, fallback, dtype=object)
    text = trimmed(raw["coord_system"])
    system = _by_value(text, lambda names: canonical_system(names).astype(object))
    empty = (text == "").to_numpy()
    out.fail(
        ~empty & (system == ""),
        "unknown_coord_system",
        describe("coord_system", raw["coord_system"], "is not WGS-84, GCJ-02 or BD-09"),
    )
    system[empty] = fallback
    return system


def _given_precision(raw: pd.DataFrame, n: int, out: Verdicts) -> np.ndarray:
    if "precision" not in raw.columns:
        return np.full(n, "exact", dtype=object)
    text = trimmed(raw["precision"]).str.lower()
    codes, distinct = pd.factorize(text, use_na_sentinel=False)  # a handful of levels
    names = np.asarray(distinct, dtype=object)
    known = np.isin(names, PRECISIONS)
    out.fail(
        (text != "").to_numpy() & ~known[codes],
        "unknown_precision",
        describe("precision", raw["precision"], f"is not one of {', '.join(PRECISIONS)}"),
    )
    levels: np.ndarray = np.where(known, names, "exact").astype(object)
    return levels[codes]


def _by_value(text: pd.Series, convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``convert`` applied to a column's distinct values (a handful: coordinate systems,
    precision levels) and spread back to its rows, instead of to every row."""
    codes, names = pd.factorize(text, use_na_sentinel=False)
    converted = np.asarray(convert(np.asarray(names, dtype=object)))
    return converted[codes]


def _pair_messages(
    lat_text: pd.Series, lon_text: pd.Series, what: str
) -> Callable[[np.ndarray], np.ndarray]:
    """Messages naming both coordinates as given, made only for the failing rows."""

    def messages(rows: np.ndarray) -> np.ndarray:
        pairs = zip(lat_text[rows].astype(str), lon_text[rows].astype(str), strict=True)
        return np.array([f"lat={a[:40]!r}, lon={b[:40]!r} {what}" for a, b in pairs], dtype=object)

    return messages


def _address_near(
    address: np.ndarray, lat: np.ndarray, lon: np.ndarray, rows: np.ndarray, geocode: Any
) -> np.ndarray:
    """Rows whose address geocodes within SWAP_CONFIRM_KM of (lat, lon)."""
    from workbench.coords import haversine_m

    idx = np.flatnonzero(rows)
    found = geocode(pd.Series(address[idx]))
    near = np.zeros(len(rows), dtype=bool)
    glat, glon = found["lat"].to_numpy(float), found["lon"].to_numpy(float)
    ok = np.isfinite(glat)
    dist = np.full(len(idx), np.inf)
    dist[ok] = haversine_m(glat[ok], glon[ok], lat[idx][ok], lon[idx][ok]) / 1000
    near[idx] = dist <= SWAP_CONFIRM_KM
    return near
