"""Exact weighted DBSCAN on the sphere, and neighbour weights, over a grid index (numba).

The points are unique ship-from coordinates (WGS-84 degrees), each with a weight (its
waybill count). Two points are neighbours when their great-circle distance on a sphere of
radius :data:`EARTH_RADIUS_M` is at most ``radius_m`` (inclusive); the test is the exact
chord between unit vectors, ``chord <= 2 sin(radius / 2R)``, which orders pairs like the
haversine distance. A relative tolerance of 1e-10 (0.03 micrometres at 300 m) lets a point
placed exactly at the radius count despite rounding; scikit-learn's own rounding is of
the same order, so the two agree except for pairs within nanometres of the radius.

:func:`dbscan` gives the clusters of ``DBSCAN(eps=radius_m / R, min_samples=min_weight,
metric="haversine").fit(radians([lat, lon]), sample_weight=weight)``: a point is core when
the weight within the radius, itself included, reaches its threshold; clusters are the
connected components of core points; a non-core point within the radius of a core point
is a border point. The labels are canonical, so they do not depend on the row order:

* clusters are numbered 0, 1, ... in the order of the smallest ``(lat, lon)`` of their
  core points (south first, then west);
* a border point within reach of several clusters joins the one with the smallest label
  (scikit-learn takes the first cluster that reaches it, which depends on the order);
* noise is -1.

Index: the points are sorted into grid cells: latitude bands of ``0.99 * chord / sqrt(2)``
radians (about 0.7 radius), each band cut into as many equal longitude columns as keep a
cell that narrow where the band is widest. Every cell is then smaller than the radius
(see :func:`_grid`), so all points of one cell are neighbours: a cell whose weight reaches
the largest threshold of its points is all core without any distance test, the core
points of one cell are one cluster, and two cells need a single core pair within reach to
merge. The neighbour search covers the rows and longitude columns two points at most
``radius`` apart can occupy (conservative near the poles, where it takes whole rows, and
wrapping across the antimeridian); the distance test itself is exact. Per cell, the mean
of its unit vectors and the largest chord from it bound every pair (triangle inequality
in 3-D), so a neighbour cell is added whole or skipped whole when it lies entirely inside
or outside the radius of a point (or of a whole cell), and the scan of a point stops once
its threshold is reached, or once the cells it could still reach cannot make it up (most
points of busy districts are settled by these bounds alone). Cells holding many points (a
depot geocoded with jitter) are scanned through a tree: their points are ordered along a
Z-curve, and runs of 16, 128, 1024, ... points get the same bounding balls, so only runs
straddling the radius are scanned point by point. Below a radius of ~7 cm cells cannot
shrink further (their keys would overflow 64 bits) and core points are linked pair by pair
instead.

Memory is O(n): about 100 bytes per point at the peak, no neighbour lists. The kernels
release the GIL; on large inputs the parallel steps run on up to ``_MAX_THREADS`` threads
(not more than the CPUs this process may use). Weights are summed in an order that
depends on the index, so with non-integer weights a point whose neighbour weight equals
its threshold to the last bit may flip; integer weights (counts) are exact.

numba is imported on first use (0.2-0.35 s), and the first call in a process loads the
compiled kernels from numba's on-disk cache (``cache=True``, about 0.35 s, mostly LLVM's
start-up); only the first run after an install or an edit compiles them (~15 s).
:func:`preload` does all that ahead of time, e.g. in a background thread.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from workbench.coords import EARTH_RADIUS_M
from workbench.errors import InputError

__all__ = ["EARTH_RADIUS_M", "background_weight", "dbscan", "neighbour_weight", "preload"]

_TOLERANCE = 1e-10  # relative widening of the chord: pairs at the radius count
_MIN_CELL_M = 0.05  # keys (row * columns + column) stay far below 2**63
_CELL_SHRINK = 0.99  # cell side / (chord of the radius / sqrt(2)): see _grid
_BACKGROUND_CELLS = 16  # background_weight: cells per radius (error band: see there)
_MAX_THREADS = 8
_PARALLEL_MIN_POINTS = 50_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _kernels() -> ModuleType:
    """The numba kernels, imported on first use (Python keeps the module after that)."""
    from workbench.sites import _density_jit

    return _density_jit


def preload() -> None:
    """Import numba and load (or compile) every kernel, so the first real call is fast."""
    # 40 points within half a metre (a cell with a tree) and one far away (rows so far
    # apart that the index sorts by radix)
    lat = np.append(np.arange(40) * 1e-7, 60.0)
    lon = np.zeros(41)
    w = np.ones(41)
    dbscan(lat, lon, w, 300.0, 2)
    dbscan(lat, lon, w, 300.0, np.full(41, 2.0))
    dbscan(lat[:3], lon[:3], w[:3], 300.0, 2)  # rows counted and sorted
    dbscan(lat, lon, w, 0.01, 2)  # the pair-by-pair path of tiny radii
    neighbour_weight(lat, lon, w, 300.0)
    background_weight(lat, lon, w, 2_000.0)


@dataclass(frozen=True)
class _Grid:
    dphi: float  # row height (radians)
    nrow: int
    m: int  # columns of the widest row: key = row * m + column
    mutual: bool  # every cell smaller than the radius


def _chord(radius_m: float) -> float:
    """Chord between unit vectors at great-circle distance ``radius_m``."""
    return 2 * math.sin(min(radius_m / EARTH_RADIUS_M, math.pi) / 2)


def _grid(radius_m: float, cell_m: float | None) -> _Grid:
    """Grid of cells of side ``cell_m``; None: cells whose points are all neighbours.

    For two points of one cell, haversine gives sin^2(d/2) <= (dphi/2)^2 +
    (cos(lat_eq) * dlon/2)^2 <= 2 (dphi/2)^2 (``lat_eq``: the band's latitude nearest the
    equator, where columns are at most ``dphi`` wide), so their chord 2 sin(d/2) is at most
    sqrt(2) dphi. Cells of 99% of ``chord / sqrt(2)`` keep a margin far above rounding.
    """
    chord = _chord(radius_m)
    dphi = _CELL_SHRINK * chord / math.sqrt(2) if cell_m is None else cell_m / EARTH_RADIUS_M
    dphi = min(max(dphi, _MIN_CELL_M / EARTH_RADIUS_M), math.pi)
    nrow = math.ceil(math.pi / dphi)
    m = math.ceil(2 * math.pi / dphi) + 1
    mutual = math.sqrt(2) * dphi <= chord * (1 - 1e-9)
    return _Grid(dphi, nrow, m, mutual)


class _Trees(NamedTuple):
    """Per cell, a tree over runs of its points (in Z-order): node offsets, mean unit
    vectors, largest chords from them, weights (see ``_density_jit.tree_sizes``). A named
    tuple, so that the kernels take it as one argument."""

    noff: IntArray
    nref: FloatArray
    nrho: FloatArray
    nw: FloatArray


def _trees(cstart: IntArray, cnt: IntArray, xyz: FloatArray, w: FloatArray) -> _Trees:
    """Trees over the points ``cstart[c]`` .. ``cstart[c] + cnt[c] - 1`` of each cell."""
    jit = _kernels()
    noff = np.zeros(len(cnt) + 1, dtype=np.int64)
    np.cumsum(jit.tree_sizes(cnt), out=noff[1:])
    total = int(noff[-1])
    trees = _Trees(noff, np.empty((total, 3)), np.empty(total), np.empty(total))
    if total:
        _run(jit.tree_stats, len(cnt), cstart, cnt, xyz, w, trees, points=len(w), work=cstart[1:])
    return trees


_NO_TREES = _Trees(np.zeros(1, dtype=np.int64), np.empty((0, 3)), np.empty(0), np.empty(0))


class _Index(NamedTuple):
    """The index: the grid's shape and reach, the points sorted by cell, the cells and
    their bounds and trees. A named tuple of numbers and arrays, which the kernels take as
    one argument (numba types it as a heterogeneous tuple) instead of some twenty."""

    m: int  # columns of the widest row: key = row * m + column (see _Grid)
    dphi: float  # row height (radians)
    nrow: int
    mutual: bool  # every cell smaller than the radius
    theta: float  # search angle, a little above the radius
    c_in: float  # chord of the radius (inclusive, with the tolerance)
    # the points, sorted by cell: input row, unit vector, weight, threshold (one per point,
    # or a single one), latitude and longitude (degrees)
    order: IntArray
    xyz: FloatArray
    w: FloatArray
    t: FloatArray
    slat: FloatArray
    slon: FloatArray
    # the cells: first point (+ end), key; the occupied rows and their first cell (+ end)
    cstart: IntArray
    ckey: IntArray
    row_ids: IntArray
    row_cs: IntArray
    # per cell: weight, largest and smallest threshold, mean unit vector, largest chord
    # from it, and the trees over its points
    cw: FloatArray
    tmax: FloatArray
    tmin: FloatArray
    ref: FloatArray
    rho: FloatArray
    trees: _Trees


class _Core(NamedTuple):
    """The core points of each cell (at its front, after ``core_first``): their count,
    mean unit vector and largest chord from it, and their trees."""

    ncore: IntArray
    ref: FloatArray
    rho: FloatArray
    trees: _Trees


def _build(
    lat: FloatArray,
    lon: FloatArray,
    weight: FloatArray,
    thr: FloatArray,
    radius_m: float,
    cell_m: float | None = None,
    trees: bool = True,
) -> _Index:
    """Sort the points into the grid's cells and describe the cells (the index); with
    ``trees``, order each cell's points along a Z-curve and build a tree over them."""
    jit = _kernels()
    g = _grid(radius_m, cell_m)
    c_in = _chord(radius_m) * (1 + _TOLERANCE)
    theta = min(radius_m / EARTH_RADIUS_M, math.pi) * (1 + 1e-8) + 1e-15
    n = len(lat)
    keys = np.empty(n, dtype=np.int64)
    rows = np.empty(n, dtype=np.int32)
    _run(jit.point_keys, n, lat, lon, g.dphi, g.nrow, g.m, keys, rows, points=n)
    rmin = int(rows.min())
    span = int(rows.max()) - rmin + 1
    if span > 4 * n + 4096:  # rows far apart: radix sort instead of counting by row
        span = 0
    per_point = len(thr) == n and n > 1
    if span:
        order, skey, slat, slon, w, t, start = _scatter_by_row(
            lat, lon, weight, thr, per_point, keys, rows, rmin, span
        )
        del keys, rows
        _run(
            jit.sort_rows,
            span,
            start,
            order,
            skey,
            slat,
            slon,
            w,
            t,
            per_point,
            points=n,
            work=start[1:],
        )
    else:
        order, skey, slat, slon, w, t = jit.radix_sorted(lat, lon, weight, thr, per_point, keys)
        del keys, rows
    cstart, ckey, row_ids, row_cs = jit.cells(skey, g.m)
    del skey
    ncell = len(ckey)
    if trees:
        _run(
            jit.zsort_cells,
            ncell,
            cstart,
            ckey,
            g.m,
            g.dphi,
            order,
            slat,
            slon,
            w,
            t,
            per_point,
            points=n,
            work=cstart[1:],
        )
    if not per_point:
        t = thr.copy()
    xyz = np.empty((n, 3))
    _run(jit.unit_vectors, n, slat, slon, xyz, points=n)
    cw, tmax, tmin, rho = np.empty(ncell), np.empty(ncell), np.empty(ncell), np.empty(ncell)
    ref = np.empty((ncell, 3))
    _run(
        jit.cell_stats,
        ncell,
        cstart,
        xyz,
        w,
        t,
        cw,
        tmax,
        tmin,
        ref,
        rho,
        points=n,
        work=cstart[1:],
    )
    return _Index(
        m=g.m,
        dphi=g.dphi,
        nrow=g.nrow,
        mutual=g.mutual,
        theta=theta,
        c_in=c_in,
        order=order,
        xyz=xyz,
        w=w,
        t=t,
        slat=slat,
        slon=slon,
        cstart=cstart,
        ckey=ckey,
        row_ids=row_ids,
        row_cs=row_cs,
        cw=cw,
        tmax=tmax,
        tmin=tmin,
        ref=ref,
        rho=rho,
        trees=_trees(cstart, np.diff(cstart), xyz, w) if trees else _NO_TREES,
    )


def _float_array(values: npt.ArrayLike) -> FloatArray:
    """Contiguous, writeable float64 (numba compiles read-only arrays, e.g. pandas 3
    columns, separately: a copy is cheaper than a second compilation)."""
    arr = np.ascontiguousarray(values, dtype=np.float64)
    return arr if arr.flags.writeable else arr.copy()


def _as_points(
    lat: npt.ArrayLike, lon: npt.ArrayLike, weight: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    la = _float_array(lat)
    lo = _float_array(lon)
    if la.ndim != 1 or lo.shape != la.shape:
        raise InputError(f"lat and lon must be 1-D of one length, got {la.shape} and {lo.shape}")
    if weight is None:
        w = np.ones(len(la))
    else:
        w = _float_array(weight)
        if w.shape != la.shape:
            raise InputError(f"weight must have one value per point, got shape {w.shape}")
    for name, values in (("lat", la), ("lon", lo)):
        nan = np.isnan(values)
        if nan.any():
            raise InputError(f"{name} is NaN at index {int(np.argmax(nan))}")
    for name, values, limit in (("lat", la, 90.0), ("lon", lo, 180.0)):
        bad = np.abs(values) > limit
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                f"{name} must be within [-{limit:g}, {limit:g}] degrees, got {values[i]!r} "
                f"at index {i}"
            )
    bad = ~(np.isfinite(w) & (w >= 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"weight must be finite and >= 0, got {w[i]!r} at index {i}")
    return la, lo, w


def _check_radius(radius_m: float, name: str = "radius_m") -> float:
    try:
        value = float(radius_m)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number of metres, got {radius_m!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a finite number of metres > 0, got {radius_m!r}")
    return value


def _thresholds(min_weight: float | npt.ArrayLike, n: int) -> FloatArray:
    thr = np.asarray(min_weight, dtype=np.float64)
    if thr.ndim == 0:
        thr = thr.reshape(1)
    elif thr.shape != (n,):
        raise InputError(
            f"min_weight must be a number or one threshold per point ({n}), got shape {thr.shape}"
        )
    bad = np.isnan(thr)
    if bad.any():
        raise InputError(f"min_weight is NaN at index {int(np.argmax(bad))}")
    return _float_array(thr)


def _threads() -> int:
    return max(
        1,
        min(
            _MAX_THREADS,
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1),
        ),
    )


def _scatter_by_row(
    lat: FloatArray,
    lon: FloatArray,
    weight: FloatArray,
    thr: FloatArray,
    per_point: bool,
    keys: IntArray,
    rows: npt.NDArray[np.int32],
    rmin: int,
    span: int,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray, IntArray]:
    """Counting sort of the points by row (stable), in chunks on several threads: each
    chunk counts its rows, then moves its points to its own slots of each row."""
    jit = _kernels()
    n = len(lat)
    chunks = _chunks(n, _threads() if n >= _PARALLEL_MIN_POINTS else 1)
    counts = np.zeros((len(chunks), span), dtype=np.int64)
    _each(jit.row_counts, [(a, b, rows, rmin, counts[j]) for j, (a, b) in enumerate(chunks)])
    start = np.zeros(span + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0), out=start[1:])
    # chunk j's first slot in row r: the row's start plus the counts of chunks before j
    pos = start[:-1] + np.cumsum(counts, axis=0) - counts
    order = np.empty(n, dtype=np.int64)
    skey = np.empty(n, dtype=np.int64)
    slat, slon, sw = np.empty(n), np.empty(n), np.empty(n)
    st = np.empty(n if per_point else 0)
    out = (order, skey, slat, slon, sw, st)
    common = (lat, lon, weight, thr, per_point, keys, rows, rmin)
    _each(jit.scatter_rows, [(a, b, *common, pos[j], *out) for j, (a, b) in enumerate(chunks)])
    return order, skey, slat, slon, sw, st, start


def _chunks(n: int, parts: int) -> list[tuple[int, int]]:
    bounds = np.linspace(0, n, max(parts, 1) + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def _each(kernel: Callable[..., None], calls: list[tuple[Any, ...]]) -> None:
    """``kernel(*args)`` for each tuple of ``calls``, on threads when there are several."""
    if len(calls) == 1:
        kernel(*calls[0])
        return
    with ThreadPoolExecutor(min(len(calls), _threads())) as pool:
        for future in [pool.submit(kernel, *args) for args in calls]:
            future.result()


def _run(
    kernel: Callable[..., None],
    n: int,
    *args: Any,
    points: int,
    work: IntArray | None = None,
) -> None:
    """``kernel(i0, i1, *args)`` over items 0..n-1, in chunks on several threads when there
    are many ``points`` (the kernels release the GIL and write disjoint parts of their
    outputs). ``work[i]``: cumulative work up to item ``i``, for chunks of equal work.
    """
    threads = _threads()
    if threads == 1 or points < _PARALLEL_MIN_POINTS or n < 2:
        kernel(0, n, *args)
        return
    parts = min(n, 4 * threads)  # a few chunks per thread, for balance
    if work is None:
        bounds = np.linspace(0, n, parts + 1).astype(np.int64)
    else:
        cuts = np.searchsorted(work, np.linspace(0, work[-1], parts + 1)[1:-1], side="right")
        bounds = np.unique(np.concatenate([[0], cuts, [n]]))
    _each(kernel, [(int(a), int(b), *args) for a, b in itertools.pairwise(bounds)])


def _by_rows(idx: _Index, kernel: Callable[..., None], *args: Any) -> None:
    """``kernel(p0, p1, *args)`` over the occupied rows, in chunks of about equal points."""
    rows_end = idx.cstart[idx.row_cs[1:]]  # points up to the end of each row
    _run(kernel, len(idx.row_ids), *args, points=len(idx.w), work=rows_end)


def dbscan(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    weight: npt.ArrayLike | None,
    radius_m: float,
    min_weight: float | npt.ArrayLike,
) -> IntArray:
    """Weighted DBSCAN of points on the sphere; one label per point, -1 for noise.

    Parameters
    ----------
    lat, lon : degrees (WGS-84), ideally unique points (collapse repeats into ``weight``)
    weight : weight of each point (>= 0; None: 1 each), e.g. its waybill count
    radius_m : neighbourhood radius in metres, great-circle distance, inclusive
    min_weight : weight needed within ``radius_m`` (the point itself included) for a point
        to be core; a number, or one threshold per point

    Labels are canonical (see the module docstring): clusters numbered by the smallest
    ``(lat, lon)`` of their core points, border ties to the smallest label.

    >>> dbscan([30.0, 30.001, 31.0], [120.0, 120.0, 120.0], [3, 1, 1], 200.0, 4).tolist()
    [0, 0, -1]
    """
    la, lo, w = _as_points(lat, lon, weight)
    radius = _check_radius(radius_m)
    thr = _thresholds(min_weight, len(la))
    n = len(la)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    jit = _kernels()
    idx = _build(la, lo, w, thr, radius)
    core = np.zeros(n, dtype=np.bool_)
    _by_rows(idx, jit.core_points, idx, core)
    cores = _core_cells(idx, core)
    parent = _merged(idx, cores)
    root, roots, min_lat, min_lon = jit.cluster_roots(
        idx.cstart, cores.ncore, parent, idx.mutual, idx.slat, idx.slon
    )
    root_label = np.full(len(parent), -1, dtype=np.int64)
    root_label[roots[np.lexsort((min_lon, min_lat))]] = np.arange(len(roots))
    lab, cmin = jit.core_labels(idx.cstart, cores.ncore, root, root_label)
    del root, parent
    _by_rows(idx, jit.border_labels, idx, cores, lab, cmin)
    labels = np.empty(n, dtype=np.int64)
    _run(jit.scatter, n, idx.order, lab, labels, points=n)
    return labels


def _core_cells(idx: _Index, core: np.ndarray) -> _Core:
    """Move each cell's core points to its front (``idx`` and ``core`` in place) and
    describe them (:class:`_Core`); :func:`dbscan` and a tile of the distributed finder
    both start their clusters here."""
    jit = _kernels()
    ncell = len(idx.ckey)
    ncore = np.empty(ncell, dtype=np.int64)
    cref = np.empty((ncell, 3))
    crho = np.empty(ncell)
    n = len(idx.w)
    _run(jit.core_first, ncell, idx, core, ncore, cref, crho, points=n, work=idx.cstart[1:])
    return _Core(ncore, cref, crho, _trees(idx.cstart, ncore, idx.xyz, idx.w))


def _merged(idx: _Index, cores: _Core) -> np.ndarray:
    """Union-find parents after merging core points within reach of each other: per cell
    when cells are small enough to be mutually in reach, else per point."""
    jit = _kernels()
    if idx.mutual:
        parent = np.arange(len(idx.ckey), dtype=np.int64)
        jit.merge_cells(idx, cores, parent)
    else:
        parent = np.arange(len(idx.w), dtype=np.int64)
        jit.merge_points(idx, cores, parent)
    return parent


def neighbour_weight(
    lat: npt.ArrayLike, lon: npt.ArrayLike, weight: npt.ArrayLike | None, radius_m: float
) -> FloatArray:
    """Exact total weight within ``radius_m`` (inclusive) of each point, itself included.

    Unlike :func:`dbscan`, which stops counting at a point's threshold, every point's sum
    is complete: the cost grows with the points near the edge of each point's disc, so
    millions of distinct points packed within a few hundred metres take seconds.

    >>> neighbour_weight([30.0, 30.001, 31.0], [120.0, 120.0, 120.0], [3, 1, 1], 200.0)
    array([4., 4., 1.])
    """
    la, lo, w = _as_points(lat, lon, weight)
    radius = _check_radius(radius_m)
    n = len(la)
    if n == 0:
        return np.empty(0)
    jit = _kernels()
    idx = _build(la, lo, w, np.zeros(1), radius)
    out = np.empty(n)
    _by_rows(idx, jit.neighbour_sums, idx, out)
    result = np.empty(n)
    _run(jit.scatter, n, idx.order, out, result, points=n)
    return result


def background_weight(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    weight: npt.ArrayLike | None,
    radius_m: float,
    *,
    cell_m: float | None = None,
) -> FloatArray:
    """Approximate total weight within ``radius_m`` of each point (for 1-3 km contexts).

    The points are binned into grid cells of side ``cell_m`` (default ``radius_m / 16``);
    a point gets the weight of every cell whose centre lies within ``radius_m`` of the
    centre of its own cell, so all points of one cell get the same value. No point is
    further than ``delta = cell_m / sqrt(2)`` (half the cell diagonal) from its cell's
    centre, hence the result lies between the exact weights within ``radius_m - 2 delta``
    and within ``radius_m + 2 delta``: radius +- 8.8% by default (+- 177 m at 2 km); in
    practice the errors at the edge of the disc largely cancel. The cost grows with the
    number of occupied cells (times the ``2 radius_m / cell_m`` rows each spans), not
    with the number of points.

    >>> background_weight([30.0, 30.001, 31.0], [120.0, 120.0, 120.0], [3, 1, 1], 2000.0)
    array([4., 4., 1.])
    """
    la, lo, w = _as_points(lat, lon, weight)
    radius = _check_radius(radius_m)
    side = radius / _BACKGROUND_CELLS if cell_m is None else _check_radius(cell_m, "cell_m")
    n = len(la)
    if n == 0:
        return np.empty(0)
    jit = _kernels()
    idx = _build(la, lo, w, np.zeros(1), radius, side, trees=False)
    out = np.empty(n)
    angle = min(radius / EARTH_RADIUS_M, math.pi)
    prefix = np.zeros(len(idx.cw) + 1)
    np.cumsum(idx.cw, out=prefix[1:])
    _by_rows(idx, jit.centre_sums, idx, prefix, angle, out)
    return out
