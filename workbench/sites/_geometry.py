"""Geometry of one site: the small circle drawn for a site whose points are (nearly) one."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from workbench.coords import EARTH_RADIUS_M


def circle_polygon(centre: tuple[float, float], radius_m: float) -> Polygon:
    """A 24-gon of radius ``radius_m`` (at least 25 m) around ``centre`` (lat, lon)."""
    lat0, lon0 = centre
    r = max(radius_m, 25.0)
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    dlat = np.degrees(r / EARTH_RADIUS_M) * np.sin(angles)
    dlon = np.degrees(r / EARTH_RADIUS_M) * np.cos(angles) / np.cos(np.radians(lat0))
    return shapely.Polygon(np.column_stack([lon0 + dlon, lat0 + dlat]))
