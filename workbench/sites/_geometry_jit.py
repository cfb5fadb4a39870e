"""Numba kernels for the geometry of sites (private to :mod:`workbench.sites._describe`;
imported lazily).

Distances repeat :func:`workbench.sites._geometry.haversine_m` operation for operation (the
sine and cosine may differ from numpy's in the last bit, far below the 0.1 m the radius is
rounded to, and the medoid's 1e-12 tie band).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.coords import EARTH_RADIUS_M

# (numba ignores the annotations; they are for readers and mypy)
Arr = np.ndarray
_DEG = np.pi / 180.0  # np.radians multiplies by this


@njit(cache=True, nogil=True)
def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """``_site_geometry.haversine_m`` for one pair, operation for operation."""
    p1 = lat1 * _DEG
    p2 = lat2 * _DEG
    dphi = p2 - p1
    dlam = lon2 * _DEG - lon1 * _DEG
    s1 = np.sin(dphi / 2)
    s2 = np.sin(dlam / 2)
    a = s1 * s1 + np.cos(p1) * np.cos(p2) * (s2 * s2)
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(min(max(a, 0.0), 1.0)))


@njit(cache=True, nogil=True)
def site_shapes(
    members: Arr,
    start: Arr,
    lat: Arr,
    lon: Arr,
    weight: Arr,
    coverage: float,
    small: int,
    medoid: Arr,
    radius: Arr,
) -> None:
    """Per site (points ``members[start[k]:start[k + 1]]``): the weighted medoid of sites
    of at most ``small`` points (larger ones come with ``medoid`` set), and the radius
    holding ``coverage`` of the site's weight around the medoid, rounded up to 0.1 m.

    The medoid minimises the weighted sum of distances; costs within a relative 1e-12 of
    the least tie, and the smallest (lat, lon) among them wins.
    """
    for k in range(len(start) - 1):
        idx = members[start[k] : start[k + 1]]
        n = len(idx)
        if n <= small:
            cost = np.empty(n)
            for i in range(n):
                acc = 0.0
                for j in range(n):
                    acc += (
                        _haversine(lat[idx[i]], lon[idx[i]], lat[idx[j]], lon[idx[j]])
                        * weight[idx[j]]
                    )
                cost[i] = acc
            limit = cost.min() * (1 + 1e-12)
            best = -1
            for i in range(n):
                if cost[i] <= limit and (
                    best < 0
                    or lat[idx[i]] < lat[best]
                    or (lat[idx[i]] == lat[best] and lon[idx[i]] < lon[best])
                ):
                    best = idx[i]
            medoid[k] = best
        m = medoid[k]
        dist = np.empty(n)
        for j in range(n):
            dist[j] = _haversine(lat[m], lon[m], lat[idx[j]], lon[idx[j]])
        order = np.argsort(dist, kind="mergesort")
        total = 0.0
        for j in range(n):
            total += weight[idx[order[j]]]
        target = coverage * total
        acc = 0.0
        pos = n - 1
        for j in range(n):
            acc += weight[idx[order[j]]]
            if acc >= target:
                pos = j
                break
        radius[k] = np.ceil(max(dist[order[pos]], 1.0) * 10) / 10
