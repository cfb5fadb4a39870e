"""Tiles of the sphere for clustering ship-from points piece by piece (private to ``sites``).

A tile is a box of latitude and longitude: the globe is cut into latitude strips, and each
strip into longitude columns. Every point is *owned* by exactly one tile (a point on a cut
belongs to the tile north, or east, of it). A tile's *members* at a reach of ``d`` metres are
its own points and every point that may lie within ``d`` of one of them: the halo. The halo
is conservative (it may hold a few points further away, never miss a nearer one), which is
all exactness needs: see :mod:`workbench.sites._distributed`.

The halo test is the haversine bound the grid index uses (``_density_jit.window_open``): two
points at most ``d`` apart differ by at most ``d / R`` in latitude, and in longitude by at
most ``2 asin(sin(d / 2R) / c)``, where ``c`` is the smallest cosine of latitude over the
tile's strip widened by ``d / R`` (``cos a cos b sin^2(dlon / 2) <= sin^2(d / 2R)``). Near a
pole, where that bound reaches 180 degrees, the whole widened strip is in the halo; across
the antimeridian the longitude distance wraps.

:meth:`Tiles.plan` cuts at quantiles of the points, so tiles hold about equal numbers of
points whatever the map looks like (a country's points, or the world's).

>>> tiles = Tiles(lat_cuts=[30.0], lon_cuts=[[120.0], [120.0]])  # four tiles
>>> tiles.owner(np.array([29.0, 30.0, 30.5]), np.array([121.0, 119.0, 120.0])).tolist()
[1, 2, 3]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from workbench.coords import EARTH_RADIUS_M
from workbench.errors import InputError

__all__ = ["Tiles"]

_SLACK = 1e-6  # relative widening of every reach: the halo errs on the large side
_TINY_DEG = 1e-9  # and an absolute one, far above rounding of degrees


class Tiles:
    """Latitude strips cut at ``lat_cuts``, strip ``i`` cut into columns at ``lon_cuts[i]``.

    Tiles are numbered strip by strip from the south, column by column from the west
    within a strip. Cuts are degrees, strictly increasing, inside (-90, 90) and (-180, 180);
    an empty list of cuts is one strip, or a strip of one column.
    """

    def __init__(self, lat_cuts: Sequence[float], lon_cuts: Sequence[Sequence[float]]) -> None:
        self.lat_cuts = _cuts(lat_cuts, "lat_cuts", 90.0)
        if len(lon_cuts) != len(self.lat_cuts) + 1:
            raise InputError(
                f"Tiles: give one list of lon_cuts per strip ({len(self.lat_cuts) + 1} for "
                f"{len(self.lat_cuts)} lat_cuts), got {len(lon_cuts)}"
            )
        self.lon_cuts = tuple(
            _cuts(cuts, f"lon_cuts of strip {i}", 180.0) for i, cuts in enumerate(lon_cuts)
        )
        sizes = [len(c) + 1 for c in self.lon_cuts]
        self._first = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def __repr__(self) -> str:
        return f"Tiles({len(self.lat_cuts) + 1} strips, {self.n_tiles} tiles)"

    @property
    def n_tiles(self) -> int:
        return int(self._first[-1])

    @classmethod
    def plan(cls, lat: npt.ArrayLike, lon: npt.ArrayLike, n_tiles: int) -> Tiles:
        """About ``n_tiles`` tiles of about equal numbers of points (exactly ``n_tiles``
        unless many points share a latitude or longitude): ``round(sqrt(n))`` strips, each
        cut into columns at the quantiles of its points' longitudes."""
        la, lo = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        n_strips = max(1, min(round(math.sqrt(n_tiles)), n_tiles))
        lat_cuts = _quantile_cuts(la, n_strips, 90.0)
        strip = np.searchsorted(lat_cuts, la, side="right")
        per_strip = np.diff(np.linspace(0, n_tiles, len(lat_cuts) + 2).round().astype(int))
        lon_cuts = [
            _quantile_cuts(lo[strip == i], max(int(k), 1), 180.0) for i, k in enumerate(per_strip)
        ]
        return cls(lat_cuts.tolist(), [c.tolist() for c in lon_cuts])

    def owner(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """The tile owning each point (int64)."""
        strip = np.searchsorted(self.lat_cuts, lat, side="right")
        out = np.empty(len(lat), dtype=np.int64)
        for i, cuts in enumerate(self.lon_cuts):
            mine = strip == i
            out[mine] = self._first[i] + np.searchsorted(cuts, lon[mine], side="right")
        return out

    def bounds(self, tile: int) -> tuple[float, float, float, float]:
        """South, north, west and east edge of ``tile`` (degrees)."""
        i = int(np.searchsorted(self._first, tile, side="right")) - 1
        j = tile - int(self._first[i])
        lats = np.concatenate([[-90.0], self.lat_cuts, [90.0]])
        lons = np.concatenate([[-180.0], self.lon_cuts[i], [180.0]])
        return float(lats[i]), float(lats[i + 1]), float(lons[j]), float(lons[j + 1])

    def members(
        self,
        tile: int,
        lat: np.ndarray,
        lon: np.ndarray,
        reach_m: float,
        owner: np.ndarray | None = None,
    ) -> np.ndarray:
        """Mask of the points of ``tile`` and of those that may lie within ``reach_m`` of
        one of them (the tile and its halo; see the module docstring). The halo is drawn
        around the box of the tile's own points, not the tile: a strip reaching a pole
        would otherwise take every longitude. ``owner``: :meth:`owner` of the points, when
        known already."""
        own = (self.owner(lat, lon) if owner is None else owner) == tile
        if not own.any():
            return own
        south, north = float(lat[own].min()), float(lat[own].max())
        west, east = float(lon[own].min()), float(lon[own].max())
        return own | _near(lat, lon, south, north, west, east, reach_m)


def _near(
    lat: np.ndarray,
    lon: np.ndarray,
    south: float,
    north: float,
    west: float,
    east: float,
    reach_m: float,
) -> np.ndarray:
    """Mask of the points that may lie within ``reach_m`` of the box (degrees; a superset)."""
    angle = min(reach_m / EARTH_RADIUS_M * (1 + _SLACK), math.pi)
    pad = math.degrees(angle) + _TINY_DEG
    lo, hi = south - pad, north + pad
    inside = (lat >= lo) & (lat <= hi)
    if lo <= -90.0 or hi >= 90.0:
        return inside  # around a pole every longitude is near
    smallest_cos = math.cos(math.radians(max(abs(lo), abs(hi))))
    half = math.sin(angle / 2) / smallest_cos
    if half >= 1.0:
        return inside
    gap = math.degrees(2 * math.asin(half)) * (1 + _SLACK) + _TINY_DEG
    if east - west + 2 * gap >= 360.0:
        return inside
    west_of = np.mod(west - lon, 360.0)  # degrees to go east to reach the box
    east_of = np.mod(lon - east, 360.0)  # degrees to go west to reach it
    near = (lon >= west) & (lon <= east) | (west_of <= gap) | (east_of <= gap)
    return inside & near


def _cuts(values: Sequence[float], name: str, limit: float) -> np.ndarray:
    try:
        cuts = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"Tiles: {name} must be a list of degrees, got {values!r}") from None
    if not np.isfinite(cuts).all() or (np.abs(cuts) >= limit).any():
        raise InputError(
            f"Tiles: {name} must be within (-{limit:g}, {limit:g}) degrees, got {cuts.tolist()}"
        )
    if (np.diff(cuts) <= 0).any():
        raise InputError(f"Tiles: {name} must increase strictly, got {cuts.tolist()}")
    return cuts


def _quantile_cuts(values: np.ndarray, parts: int, limit: float) -> np.ndarray:
    """Inner cuts at the quantiles of ``values`` into ``parts`` (repeats dropped, so fewer
    when many values are equal; inside the open range of ``limit``)."""
    if parts <= 1 or len(values) == 0:
        return np.empty(0)
    ordered = np.sort(values)
    at = (np.arange(1, parts) * len(ordered)) // parts
    cuts = np.unique(ordered[at])
    return cuts[(cuts > -limit) & (cuts < limit)]
