"""Geometry of one site: weighted medoid, the radius holding most shipments, the hull."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon

EARTH_RADIUS_M = 6_371_008.8
_MEDOID_CANDIDATES = 400  # heaviest unique points tried as medoid in very large sites


def haversine_m(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in metres (broadcasts)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlam = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def weighted_medoid(lat: np.ndarray, lon: np.ndarray, weight: np.ndarray) -> int:
    """Index of the point minimising the weighted sum of distances to all others.

    The medoid is a real ship-from point, never a centroid in a river. For sites with many
    unique points only the heaviest ``_MEDOID_CANDIDATES`` are tried as candidates.
    """
    candidates = np.argsort(-weight, kind="stable")[:_MEDOID_CANDIDATES]
    dist = haversine_m(lat[candidates, None], lon[candidates, None], lat[None, :], lon[None, :])
    return int(candidates[np.argmin(dist @ weight)])


def weighted_quantile(values: np.ndarray, weight: np.ndarray, q: float) -> float:
    """The value below which a share ``q`` of the total weight lies."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weight[order])
    position = np.searchsorted(cumulative, q * cumulative[-1])
    return float(values[order][min(position, len(values) - 1)])


def hull_polygon(
    lat: np.ndarray, lon: np.ndarray, centre: tuple[float, float], radius_m: float
) -> Polygon:
    """Convex hull of the site's points; a small circle when the points are (nearly) one."""
    hull = MultiPoint(np.column_stack([lon, lat])).convex_hull
    if isinstance(hull, Polygon) and hull.area > 0:
        return hull
    return circle_polygon(centre, radius_m)


def circle_polygon(centre: tuple[float, float], radius_m: float) -> Polygon:
    """A 24-gon of radius ``radius_m`` (at least 25 m) around ``centre`` (lat, lon)."""
    lat0, lon0 = centre
    r = max(radius_m, 25.0)
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    dlat = np.degrees(r / EARTH_RADIUS_M) * np.sin(angles)
    dlon = np.degrees(r / EARTH_RADIUS_M) * np.cos(angles) / np.cos(np.radians(lat0))
    return shapely.Polygon(np.column_stack([lon0 + dlon, lat0 + dlat]))
