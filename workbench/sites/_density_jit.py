"""Numba kernels behind :mod:`workbench.sites._density` (imported lazily: numba takes ~0.35 s).

Everything here works on points sorted by grid cell. Coordinates are unit vectors
``(x, y, z)``; two points are neighbours when their chord is at most ``c_in`` (the chord of
the radius, widened by a relative 1e-10 so that a point placed exactly at the radius counts).

Grid: rows are latitude bands of ``dphi`` radians (row 0 starts at the south pole); row
``r`` holds ``ncol(r)`` columns of equal longitude width, as many as keep a column no wider
than ``dphi`` (in arc) at the band's latitude closest to the equator. Cell key:
``row * m + col`` where ``m`` is the column count of the widest row, so keys sort
row-major. The kernels visit the occupied cells row by row; a "window" holds the occupied
rows within reach, and in each of them two pointers sweep east with the visited cell, so
finding a cell's neighbour cells costs O(1) per row (binary search across the
antimeridian only).

Kernels named with a leading range ``(i0, i1, ...)`` handle a slice of points, cells or
occupied rows and write disjoint parts of their outputs: the caller may run slices on
several threads (all kernels release the GIL).

Per cell ``ref`` is the mean of its unit vectors and ``rho`` the largest chord from ``ref``
to one of its points. Chords are Euclidean distances in 3-D, so the triangle inequality
bounds every pair through ``ref`` and ``rho`` exactly: a point whose chord to ``ref`` is
within ``c_in - rho`` reaches the whole cell; beyond ``c_in + rho``, none of it.

The search kernels take the index as one argument ``g``, a named tuple built by
:mod:`workbench.sites._density` (its ``_Index``: the grid's shape and reach, the points
sorted by cell, the cells with their bounds, and their trees as a nested ``_Trees``)
instead of some twenty positional arrays and numbers; numba types it as a heterogeneous
tuple. After the core step the core points of each cell travel as one more (``_Core``:
count, bounds, trees). The kernels read the fields they use once, at their top: reading
an array out of a tuple takes a reference to it (atomic count updates), which in an
inner loop, or in a helper called per point, costs real time (measured: handing ``g`` to
:func:`_point_core` and reading ``g.trees.noff`` per cell made dbscan ~14% and
neighbour_weight ~25% slower). So the helpers called per point or per cell take the
arrays they read, with only the trees (read once per call) as a tuple.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from workbench.sites._density import _Core as Core
    from workbench.sites._density import _Index as Index
    from workbench.sites._density import _Trees as Trees

# (numba ignores the annotations; they are for readers and mypy)
Arr = np.ndarray

_PI = math.pi
_HALF_PI = math.pi / 2
_TWO_PI = 2 * math.pi
_SLACK = 1e-9  # relative margin of the whole-cell shortcuts (they must stay conservative)
_TINY = 1e-15  # absolute margin for rounding of chords near zero
_RADIX_BITS = 11
_LEAF = 16  # points per leaf of a cell's tree; smaller cells have none
_FAN = 8  # children per node
_STACK = 256  # room of a tree walk's stack (at most _FAN per level)


@njit(cache=True, nogil=True)
def ncol_of_row(row: int, dphi: float) -> int:
    lo = -_HALF_PI + row * dphi
    hi = min(lo + dphi, _HALF_PI)
    ceq = 1.0 if lo <= 0.0 <= hi else math.cos(min(abs(lo), abs(hi)))
    n = math.ceil(_TWO_PI * ceq / dphi)
    return max(n, 1)


@njit(cache=True, nogil=True)
def _row_band(row: int, dphi: float) -> tuple[float, float]:
    lo = -_HALF_PI + row * dphi
    return lo, min(lo + dphi, _HALF_PI)


@njit(cache=True, nogil=True)
def _min_cos(lo: float, hi: float) -> float:
    far = max(abs(lo), abs(hi))
    if far >= _HALF_PI:
        return 0.0
    return math.cos(far)


@njit(cache=True, nogil=True)
def _radix_argsort(keys: Arr) -> Arr:
    """Stable argsort of non-negative int64 keys (LSD radix, 11-bit digits)."""
    n = keys.shape[0]
    perm = np.arange(n)
    if n < 2:
        return perm
    kmin = keys.min()
    span = keys.max() - kmin
    if span == 0:
        return perm
    nb = 1 << _RADIX_BITS
    mask = nb - 1
    cur = keys - kmin
    tmpk = np.empty_like(cur)
    tmpp = np.empty_like(perm)
    counts = np.empty(nb + 1, dtype=np.int64)
    shift = 0
    while (span >> shift) > 0:
        counts[:] = 0
        for i in range(n):
            counts[((cur[i] >> shift) & mask) + 1] += 1
        for d in range(nb):
            counts[d + 1] += counts[d]
        for i in range(n):
            d = (cur[i] >> shift) & mask
            j = counts[d]
            counts[d] = j + 1
            tmpk[j] = cur[i]
            tmpp[j] = perm[i]
        cur, tmpk = tmpk, cur
        perm, tmpp = tmpp, perm
        shift += _RADIX_BITS
    return perm


@njit(cache=True, nogil=True)
def point_keys(
    i0: int, i1: int, lat: Arr, lon: Arr, dphi: float, nrow: int, m: int, keys: Arr, rows: Arr
) -> None:
    """Cell key and row of points i0..i1-1."""
    deg = _PI / 180.0
    for i in range(i0, i1):
        row = math.floor((lat[i] * deg + _HALF_PI) / dphi)
        row = min(max(row, 0), nrow - 1)
        nc = ncol_of_row(row, dphi)
        col = math.floor((lon[i] * deg + _PI) / (_TWO_PI / nc))
        col = min(max(col, 0), nc - 1)
        keys[i] = row * m + col
        rows[i] = row


@njit(cache=True, nogil=True)
def radix_sorted(
    lat: Arr, lon: Arr, weight: Arr, thr: Arr, per_point: bool, keys: Arr
) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr]:
    """The points sorted by key with an LSD radix sort (for rows spread far apart, e.g. the
    whole globe at tiny radii): ``order`` (sorted -> input), keys, lat, lon, weight and
    thresholds (per point, else empty)."""
    n = lat.shape[0]
    order = _radix_argsort(keys)
    skey = np.empty(n, dtype=np.int64)
    slat = np.empty(n)
    slon = np.empty(n)
    sw = np.empty(n)
    st = np.empty(n if per_point else 0)
    for k in range(n):
        i = order[k]
        skey[k] = keys[i]
        slat[k] = lat[i]
        slon[k] = lon[i]
        sw[k] = weight[i]
        if per_point:
            st[k] = thr[i]
    return order, skey, slat, slon, sw, st


@njit(cache=True, nogil=True)
def row_counts(i0: int, i1: int, rows: Arr, rmin: int, counts: Arr) -> None:
    """Points per row among points i0..i1-1 (``counts[row - rmin]``)."""
    for i in range(i0, i1):
        counts[rows[i] - rmin] += 1


@njit(cache=True, nogil=True)
def scatter_rows(
    i0: int,
    i1: int,
    lat: Arr,
    lon: Arr,
    weight: Arr,
    thr: Arr,
    per_point: bool,
    keys: Arr,
    rows: Arr,
    rmin: int,
    pos: Arr,
    order: Arr,
    skey: Arr,
    slat: Arr,
    slon: Arr,
    sw: Arr,
    st: Arr,
) -> None:
    """Counting sort by row of points i0..i1-1, moving their values along (no random
    reads): point ``i`` goes to ``pos[row - rmin]``, which then moves on. Within a row
    the points keep their order (stable)."""
    for i in range(i0, i1):
        r = rows[i] - rmin
        j = pos[r]
        pos[r] = j + 1
        order[j] = i
        skey[j] = keys[i]
        slat[j] = lat[i]
        slon[j] = lon[i]
        sw[j] = weight[i]
        if per_point:
            st[j] = thr[i]


@njit(cache=True, nogil=True)
def sort_rows(
    r0: int,
    r1: int,
    start: Arr,
    order: Arr,
    skey: Arr,
    slat: Arr,
    slon: Arr,
    sw: Arr,
    st: Arr,
    per_point: bool,
) -> None:
    """Sort the row segments r0..r1-1 by key, in place: a stable counting sort by column
    (an argsort when the columns are spread wide)."""
    perm = np.empty(0, dtype=np.int64)
    counts = np.empty(0, dtype=np.int64)
    for r in range(r0, r1):
        a = start[r]
        b = start[r + 1]
        kmin = skey[a] if b > a else 0
        kmax = kmin
        done = True
        for k in range(a + 1, b):
            if skey[k] < skey[k - 1]:
                done = False
            kmin = min(kmin, skey[k])
            kmax = max(kmax, skey[k])
        if done:
            continue
        if perm.shape[0] < b - a:
            perm = np.empty(b - a, dtype=np.int64)
        size = kmax - kmin + 1
        if size <= 4 * (b - a) + 1024:
            if counts.shape[0] < size + 1:
                counts = np.empty(size + 1, dtype=np.int64)
            counts[: size + 1] = 0
            for k in range(a, b):
                counts[skey[k] - kmin + 1] += 1
            for c in range(size):
                counts[c + 1] += counts[c]
            for k in range(a, b):
                d = skey[k] - kmin
                perm[counts[d]] = k
                counts[d] += 1
            seg = perm[: b - a]
        else:
            seg = np.argsort(skey[a:b], kind="mergesort") + a
        order[a:b] = order[seg]
        skey[a:b] = skey[seg]
        slat[a:b] = slat[seg]
        slon[a:b] = slon[seg]
        sw[a:b] = sw[seg]
        if per_point:
            st[a:b] = st[seg]


@njit(cache=True, nogil=True)
def unit_vectors(k0: int, k1: int, lat: Arr, lon: Arr, xyz: Arr) -> None:
    """Unit vectors of points k0..k1-1 (degrees in)."""
    deg = _PI / 180.0
    for k in range(k0, k1):
        phi = lat[k] * deg
        lam = lon[k] * deg
        cp = math.cos(phi)
        xyz[k, 0] = cp * math.cos(lam)
        xyz[k, 1] = cp * math.sin(lam)
        xyz[k, 2] = math.sin(phi)


@njit(cache=True, nogil=True)
def cells(skey: Arr, m: int) -> tuple[Arr, Arr, Arr, Arr]:
    """Cells of the sorted keys: ``cstart`` (ncell + 1), ``ckey``, the occupied rows and
    the first cell of each (+ end)."""
    n = skey.shape[0]
    ncell = 0
    prev = -1
    for k in range(n):
        if skey[k] != prev:
            ncell += 1
            prev = skey[k]
    cstart = np.empty(ncell + 1, dtype=np.int64)
    ckey = np.empty(ncell, dtype=np.int64)
    c = -1
    prev = -1
    for k in range(n):
        if skey[k] != prev:
            c += 1
            cstart[c] = k
            ckey[c] = skey[k]
            prev = skey[k]
    cstart[ncell] = n
    nrows = 0
    prev = -1
    for c in range(ncell):
        r = ckey[c] // m
        if r != prev:
            nrows += 1
            prev = r
    row_ids = np.empty(nrows, dtype=np.int64)
    row_cs = np.empty(nrows + 1, dtype=np.int64)
    p = -1
    prev = -1
    for c in range(ncell):
        r = ckey[c] // m
        if r != prev:
            p += 1
            row_ids[p] = r
            row_cs[p] = c
            prev = r
    row_cs[nrows] = ncell
    return cstart, ckey, row_ids, row_cs


@njit(cache=True, nogil=True)
def cell_stats(
    c0: int,
    c1: int,
    cstart: Arr,
    xyz: Arr,
    w: Arr,
    t: Arr,
    cw: Arr,
    tmax: Arr,
    tmin: Arr,
    ref: Arr,
    rho: Arr,
) -> None:
    """Per cell c0..c1-1: weight, largest and smallest threshold (``t`` per point or a
    single value), ``ref`` (mean unit vector) and ``rho`` (largest chord from it)."""
    per_point = t.shape[0] == xyz.shape[0] and xyz.shape[0] > 1
    for c in range(c0, c1):
        a, b = cstart[c], cstart[c + 1]
        hi = -np.inf
        lo = np.inf
        sx = 0.0
        sy = 0.0
        sz = 0.0
        s = 0.0
        for k in range(a, b):
            s += w[k]
            tk = t[k] if per_point else t[0]
            hi = max(hi, tk)
            lo = min(lo, tk)
            sx += xyz[k, 0]
            sy += xyz[k, 1]
            sz += xyz[k, 2]
        cw[c] = s
        tmax[c] = hi
        tmin[c] = lo
        cnt = b - a
        rx = sx / cnt
        ry = sy / cnt
        rz = sz / cnt
        ref[c, 0] = rx
        ref[c, 1] = ry
        ref[c, 2] = rz
        r2 = 0.0
        for k in range(a, b):
            r2 = max(r2, _sq(xyz[k, 0], xyz[k, 1], xyz[k, 2], rx, ry, rz))
        rho[c] = math.sqrt(r2)


@njit(cache=True, nogil=True)
def _lower(keys: Arr, a: int, b: int, value: int) -> int:
    """First position in a..b-1 whose key is >= value (b if none)."""
    while a < b:
        mid = (a + b) >> 1
        if keys[mid] < value:
            a = mid + 1
        else:
            b = mid
    return a


@njit(cache=True, nogil=True)
def window_alloc(g: Index) -> tuple[Arr, Arr]:
    """Room for the rows of one window (see :func:`window_open`)."""
    k = min(g.row_ids.shape[0], 2 * math.ceil(min(g.theta, _PI) / g.dphi) + 4)
    return np.empty((max(k, 1), 6), dtype=np.int64), np.empty((max(k, 1), 2))


@njit(cache=True, nogil=True)
def window_open(p: int, g: Index, wi: Arr, wf: Arr) -> tuple[int, float, int]:
    """The occupied rows that may hold a neighbour of a point in occupied row ``p``.

    Conservative: the rows whose band meets the row's band widened by ``theta``; per row
    the largest longitude gap two points at those latitudes can have within ``theta``
    (haversine: cos(a) cos(b) sin^2(dlon/2) <= sin^2(theta/2)), or the whole row near a
    pole. Fills ``wi[k] = (first cell, end cell, row * m, columns, low pointer, high
    pointer)`` and ``wf[k] = (columns per radian, gap or -1 for the whole row)``;
    returns the number of rows, the column width of row ``p`` and the number of cells in
    the window's rows (``span``).
    """
    row_ids, row_cs, m, dphi, nrow, theta = g.row_ids, g.row_cs, g.m, g.dphi, g.nrow, g.theta
    row = row_ids[p]
    p0, p1 = _row_band(row, dphi)
    r_lo = max(math.floor((p0 - theta + _HALF_PI) / dphi), 0)
    r_hi = min(math.floor((p1 + theta + _HALF_PI) / dphi), nrow - 1)
    cmin_c = _min_cos(p0, p1)
    st = math.sin(min(theta, _PI) / 2)
    while p > 0 and row_ids[p - 1] >= r_lo:
        p -= 1
    nrows = row_ids.shape[0]
    first = row_cs[p]
    k = 0
    while p < nrows and row_ids[p] <= r_hi:
        rr = row_ids[p]
        nc2 = ncol_of_row(rr, dphi)
        q0, q1 = _row_band(rr, dphi)
        den = math.sqrt(cmin_c * _min_cos(q0, q1))
        wi[k, 0] = row_cs[p]
        wi[k, 1] = row_cs[p + 1]
        wi[k, 2] = rr * m
        wi[k, 3] = nc2
        wi[k, 4] = row_cs[p]
        wi[k, 5] = row_cs[p]
        wf[k, 0] = nc2 / _TWO_PI
        if theta >= _HALF_PI or den <= st:
            wf[k, 1] = -1.0
        else:
            wf[k, 1] = 2.0 * math.asin(st / den) * (1.0 + _SLACK) + _TINY
        k += 1
        p += 1
    return k, _TWO_PI / ncol_of_row(row, dphi), row_cs[p] - first


@njit(cache=True, nogil=True)
def _append(buf: Arr, cnt: int, i0: int, i1: int) -> int:
    for i in range(i0, i1):
        buf[cnt] = i
        cnt += 1
    return cnt


@njit(cache=True, nogil=True)
def window_cells(
    c: int, ckey: Arr, m: int, wid: float, wi: Arr, wf: Arr, nwin: int, buf: Arr
) -> int:
    """Occupied cells that may hold a point within reach of a point of cell ``c``.

    Writes them to ``buf`` (room for the window's ``span`` cells) and returns their count.
    ``c`` must lie in the row the window was opened for (``wid``: that row's column
    width), and the cells of a row must be visited in increasing order, skipping any
    (the column ranges only move east, so pointers sweep each row once). The columns
    within the gap of the cell's edges, plus one of slack on each side, wrapping across
    the antimeridian (by binary search there: the pointers stay put).
    """
    col = ckey[c] % m
    l0 = -_PI + col * wid
    l1 = l0 + wid
    cnt = 0
    for k in range(nwin):
        a = wi[k, 0]
        b = wi[k, 1]
        dl = wf[k, 1]
        if dl < 0.0 or wid + 2 * dl >= _TWO_PI:
            cnt = _append(buf, cnt, a, b)
            continue
        base = wi[k, 2]
        nc2 = wi[k, 3]
        inv2 = wf[k, 0]
        c_lo = math.floor((l0 - dl + _PI) * inv2) - 1
        c_hi = math.floor((l1 + dl + _PI) * inv2) + 1
        if c_hi - c_lo + 1 >= nc2:
            cnt = _append(buf, cnt, a, b)
        elif c_lo < 0:
            cnt = _append(buf, cnt, a, _lower(ckey, a, b, base + c_hi + 1))
            cnt = _append(buf, cnt, _lower(ckey, a, b, base + c_lo + nc2), b)
        elif c_hi >= nc2:
            cnt = _append(buf, cnt, a, _lower(ckey, a, b, base + c_hi - nc2 + 1))
            cnt = _append(buf, cnt, _lower(ckey, a, b, base + c_lo), b)
        else:
            lo = wi[k, 4]
            klo = base + c_lo
            while lo < b and ckey[lo] < klo:
                lo += 1
            hi = max(wi[k, 5], lo)
            khi = base + c_hi
            while hi < b and ckey[hi] <= khi:
                hi += 1
            wi[k, 4] = lo
            wi[k, 5] = hi
            cnt = _append(buf, cnt, lo, hi)
    return cnt


@njit(cache=True, nogil=True)
def _chord(ax: float, ay: float, az: float, bx: float, by: float, bz: float) -> float:
    dx = ax - bx
    dy = ay - by
    dz = az - bz
    return math.sqrt(dx * dx + dy * dy + dz * dz)


@njit(cache=True, nogil=True)
def _sq(ax: float, ay: float, az: float, bx: float, by: float, bz: float) -> float:
    dx = ax - bx
    dy = ay - by
    dz = az - bz
    return dx * dx + dy * dy + dz * dz


@njit(cache=True, nogil=True)
def _sort_by(buf: Arr, key: Arr, cnt: int) -> None:
    """Insertion sort of buf[:cnt] by key[:cnt] (a few dozen cells)."""
    for i in range(1, cnt):
        kb = buf[i]
        kk = key[i]
        j = i - 1
        while j >= 0 and key[j] > kk:
            buf[j + 1] = buf[j]
            key[j + 1] = key[j]
            j -= 1
        buf[j + 1] = kb
        key[j + 1] = kk


@njit(cache=True, nogil=True)
def _part1by1(v: int) -> int:
    v &= 0x3FF
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    v = (v | (v << 1)) & 0x55555555
    return v


@njit(cache=True, nogil=True)
def _argsort_20bit(code: Arr) -> Arr:
    """Stable argsort of codes below 2**20: two counting passes of 10 bits when long."""
    n = code.shape[0]
    if n <= 256:
        return np.argsort(code, kind="mergesort")
    perm = np.arange(n)
    tmp = np.empty(n, dtype=np.int64)
    counts = np.empty(1025, dtype=np.int64)
    for shift in (0, 10):
        counts[:] = 0
        for i in range(n):
            counts[((code[perm[i]] >> shift) & 1023) + 1] += 1
        for d in range(1024):
            counts[d + 1] += counts[d]
        for i in range(n):
            d = (code[perm[i]] >> shift) & 1023
            tmp[counts[d]] = perm[i]
            counts[d] += 1
        perm, tmp = tmp, perm
    return perm


@njit(cache=True, nogil=True)
def zsort_cells(
    c0: int,
    c1: int,
    cstart: Arr,
    ckey: Arr,
    m: int,
    dphi: float,
    order: Arr,
    slat: Arr,
    slon: Arr,
    sw: Arr,
    st: Arr,
    per_point: bool,
) -> None:
    """Order the points of each cell c0..c1-1 with more than a leaf of them along a
    Z-curve of a 1024 x 1024 sub-grid, so that runs of points are compact (tree nodes)."""
    deg = _PI / 180.0
    for c in range(c0, c1):
        a, b = cstart[c], cstart[c + 1]
        if b - a <= _LEAF:
            continue
        row = ckey[c] // m
        col = ckey[c] - row * m
        south, north = _row_band(row, dphi)
        wid = _TWO_PI / ncol_of_row(row, dphi)
        west = -_PI + col * wid
        sy = 1024.0 / max(north - south, 1e-300)
        sx = 1024.0 / wid
        code = np.empty(b - a, dtype=np.int64)
        for k in range(a, b):
            iy = min(max(int((slat[k] * deg - south) * sy), 0), 1023)
            ix = min(max(int((slon[k] * deg - west) * sx), 0), 1023)
            code[k - a] = (_part1by1(iy) << 1) | _part1by1(ix)
        seg = _argsort_20bit(code) + a
        order[a:b] = order[seg]
        slat[a:b] = slat[seg]
        slon[a:b] = slon[seg]
        sw[a:b] = sw[seg]
        if per_point:
            st[a:b] = st[seg]


@njit(cache=True, nogil=True)
def tree_sizes(cnt: Arr) -> Arr:
    """Nodes of the tree of each cell holding ``cnt`` points: levels of nodes over runs of
    16, 128, 1024, ... consecutive points, as long as runs are shorter than the cell."""
    out = np.zeros(cnt.shape[0], dtype=np.int64)
    for c in range(cnt.shape[0]):
        n = cnt[c]
        size = _LEAF
        while size < n:
            out[c] += (n + size - 1) // size
            size *= _FAN
    return out


@njit(cache=True, nogil=True)
def tree_stats(
    c0: int,
    c1: int,
    cstart: Arr,
    cnt: Arr,
    xyz: Arr,
    w: Arr,
    trees: Trees,
) -> None:
    """Per node of the trees of cells c0..c1-1 (over points ``cstart[c]`` ..
    ``cstart[c] + cnt[c] - 1``): mean unit vector, largest chord from it, weight (the
    node offsets ``trees.noff`` are given)."""
    noff, nref, nrho, nw = trees.noff, trees.nref, trees.nrho, trees.nw
    for c in range(c0, c1):
        n = cnt[c]
        a = cstart[c]
        node = noff[c]
        size = _LEAF
        while size < n:
            for i0 in range(a, a + n, size):
                i1 = min(i0 + size, a + n)
                sx = 0.0
                sy = 0.0
                sz = 0.0
                sum_w = 0.0
                for k in range(i0, i1):
                    sx += xyz[k, 0]
                    sy += xyz[k, 1]
                    sz += xyz[k, 2]
                    sum_w += w[k]
                sx /= i1 - i0
                sy /= i1 - i0
                sz /= i1 - i0
                r2 = 0.0
                for k in range(i0, i1):
                    r2 = max(r2, _sq(xyz[k, 0], xyz[k, 1], xyz[k, 2], sx, sy, sz))
                nref[node, 0] = sx
                nref[node, 1] = sy
                nref[node, 2] = sz
                nrho[node] = math.sqrt(r2)
                nw[node] = sum_w
                node += 1
            size *= _FAN


@njit(cache=True, nogil=True)
def _walk(
    px: float,
    py: float,
    pz: float,
    a: int,
    n: int,
    base: int,
    xyz: Arr,
    w: Arr,
    trees: Trees,
    c_in: float,
    limit: float,
    count: bool,
    stack: Arr,
) -> float:
    """Weight (``count``: number) of the points a..a+n-1 within ``c_in`` of p, through
    their tree (nodes of ``trees`` from ``base``; ``stack``: (_STACK, 2) int64 scratch):
    nodes entirely within reach count whole, nodes out of reach are skipped. Stops as soon
    as the result reaches ``limit`` (and returns what it has then)."""
    nref, nrho, nw = trees.nref, trees.nrho, trees.nw
    c2 = c_in * c_in
    acc = 0.0
    if n <= _LEAF:
        for j in range(a, a + n):
            if _sq(px, py, pz, xyz[j, 0], xyz[j, 1], xyz[j, 2]) <= c2:
                acc += 1.0 if count else w[j]
                if acc >= limit:
                    return acc
        return acc
    margin_in = c_in * (1.0 - _SLACK) - _TINY
    margin_out = c_in * (1.0 + _SLACK) + _TINY
    # level l: nodes over runs of _LEAF * _FAN**l points, from node offs[l]
    level = 0
    size = _LEAF
    off = base
    sp = 0
    while size < n:
        stack[sp, 0] = off  # level offsets and sizes kept at the stack's far end
        stack[sp, 1] = size
        off += (n + size - 1) // size
        size *= _FAN
        level += 1
        sp += 1
    top = level - 1
    # the stack proper: (level, index) pairs above the level table
    sp = level
    for i in range((n + stack[top, 1] - 1) // stack[top, 1]):
        stack[sp, 0] = top
        stack[sp, 1] = i
        sp += 1
    while sp > level:
        sp -= 1
        lv = stack[sp, 0]
        i = stack[sp, 1]
        node = stack[lv, 0] + i
        dc = _chord(px, py, pz, nref[node, 0], nref[node, 1], nref[node, 2])
        if dc - nrho[node] > margin_out:
            continue
        size = stack[lv, 1]
        i0 = a + i * size
        i1 = min(i0 + size, a + n)
        if dc + nrho[node] <= margin_in:
            acc += (i1 - i0) if count else nw[node]
            if acc >= limit:
                return acc
            continue
        if lv == 0:
            for j in range(i0, i1):
                if _sq(px, py, pz, xyz[j, 0], xyz[j, 1], xyz[j, 2]) <= c2:
                    acc += 1.0 if count else w[j]
                    if acc >= limit:
                        return acc
            continue
        child = stack[lv - 1, 1]
        last = min((i + 1) * _FAN, (n + child - 1) // child)
        for ci in range(i * _FAN, last):
            stack[sp, 0] = lv - 1
            stack[sp, 1] = ci
            sp += 1
    return acc


@njit(cache=True, nogil=True)
def _point_core(
    k: int,
    tk: float,
    own: float,
    buf: Arr,
    keep: int,
    part: Arr,
    xyz: Arr,
    w: Arr,
    cstart: Arr,
    cw: Arr,
    ref: Arr,
    rho: Arr,
    trees: Trees,
    c_in: float,
    margin_in: float,
    margin_out: float,
    stack: Arr,
) -> bool:
    """Whether point k reaches its threshold ``tk`` among the cells ``buf[:keep]`` (nearest
    first; ``own``: the weight of its own cell when that counts whole).

    First, from the chord to each cell's centre alone: the cells entirely within reach
    count whole (a lower bound), those not entirely out of reach give an upper bound;
    most points are decided there. Then the straddling cells (``part``: scratch) are
    walked point by point, nearest first, until the weight reaches the threshold or the
    upper bound left drops below it.
    """
    px, py, pz = xyz[k, 0], xyz[k, 1], xyz[k, 2]
    acc = own
    upper = own
    n_part = 0
    for q in range(keep):
        d = buf[q]
        dc = _chord(px, py, pz, ref[d, 0], ref[d, 1], ref[d, 2])
        if dc - rho[d] > margin_out:
            continue
        upper += cw[d]
        if dc + rho[d] <= margin_in:
            acc += cw[d]
        else:
            part[n_part] = d
            n_part += 1
    if acc >= tk:
        return True
    if upper < tk:
        return False
    for q in range(n_part):
        d = part[q]
        a2 = cstart[d]
        found = _walk(
            px, py, pz, a2, cstart[d + 1] - a2, trees.noff[d], xyz, w, trees, c_in,
            tk - acc, False, stack,
        )  # fmt: skip
        acc += found
        if acc >= tk:
            return True
        upper -= cw[d] - found
        if upper < tk:
            return False
    return acc >= tk


@njit(cache=True, nogil=True)
def core_points(p0: int, p1: int, g: Index, core: Arr) -> None:
    """Mark the core points of the cells in occupied rows p0..p1-1 (only those).

    A point is core when the weight within ``c_in`` (itself included) reaches its
    threshold. When every cell is smaller than the radius (``mutual``), a cell's own
    weight counts whole, and a cell is all core without any distance test when its weight,
    plus that of the neighbour cells entirely within reach of all its points, reaches the
    largest threshold of its points. Otherwise, point by point (:func:`_point_core`),
    neighbour cells are added whole when entirely within reach, skipped when entirely out
    of reach, else walked point by point (nearest first); the scan stops as soon as the
    threshold is reached, or the weight it could still reach stays below it.
    """
    xyz, w, t, cstart, cw, tmax, tmin = g.xyz, g.w, g.t, g.cstart, g.cw, g.tmax, g.tmin
    ref, rho, trees, ckey, row_cs, m = g.ref, g.rho, g.trees, g.ckey, g.row_cs, g.m
    c_in, mutual = g.c_in, g.mutual
    per_point = t.shape[0] == xyz.shape[0] and xyz.shape[0] > 1
    stack = np.empty((_STACK, 2), dtype=np.int64)
    buf = np.empty(64, dtype=np.int64)
    dist = np.empty(64)
    part = np.empty(64, dtype=np.int64)
    margin_in = c_in * (1.0 - _SLACK) - _TINY
    margin_out = c_in * (1.0 + _SLACK) + _TINY
    wi, wf = window_alloc(g)
    for p in range(p0, p1):
        nwin, wid, span = window_open(p, g, wi, wf)
        if buf.shape[0] < span:
            buf = np.empty(span, dtype=np.int64)
            dist = np.empty(span)
            part = np.empty(span, dtype=np.int64)
        for c in range(row_cs[p], row_cs[p + 1]):
            a, b = cstart[c], cstart[c + 1]
            if mutual and cw[c] >= tmax[c]:
                core[a:b] = True
                continue
            cnt = window_cells(c, ckey, m, wid, wi, wf, nwin, buf)
            # bounds for every point of the cell: cells not entirely out of reach (upper),
            # cells entirely within reach of all of them (lower)
            upper = cw[c] if mutual else 0.0
            lower = upper
            keep = 0
            for q in range(cnt):
                d = buf[q]
                if mutual and d == c:
                    continue
                dc = _chord(ref[c, 0], ref[c, 1], ref[c, 2], ref[d, 0], ref[d, 1], ref[d, 2])
                if dc - rho[c] - rho[d] > margin_out:
                    continue
                upper += cw[d]
                if dc + rho[c] + rho[d] <= margin_in:
                    lower += cw[d]
                buf[keep] = d
                dist[keep] = dc
                keep += 1
            if upper < tmin[c]:
                core[a:b] = False
                continue
            if lower >= tmax[c]:
                core[a:b] = True
                continue
            _sort_by(buf, dist, keep)
            for k in range(a, b):
                tk = t[k] if per_point else t[0]
                if tk <= lower:
                    core[k] = True
                    continue
                core[k] = _point_core(
                    k, tk, cw[c] if mutual else 0.0, buf, keep, part, xyz, w, cstart, cw, ref,
                    rho, trees, c_in, margin_in, margin_out, stack,
                )  # fmt: skip


@njit(cache=True, nogil=True)
def neighbour_sums(p0: int, p1: int, g: Index, out: Arr) -> None:
    """Exact weight within ``c_in`` of every point in occupied rows p0..p1-1 (itself
    included), in sorted order."""
    xyz, w, cstart, cw, ref, rho = g.xyz, g.w, g.cstart, g.cw, g.ref, g.rho
    ckey, row_cs, m, c_in, mutual = g.ckey, g.row_cs, g.m, g.c_in, g.mutual
    trees = g.trees
    noff = trees.noff
    stack = np.empty((_STACK, 2), dtype=np.int64)
    buf = np.empty(64, dtype=np.int64)
    margin_in = c_in * (1.0 - _SLACK) - _TINY
    margin_out = c_in * (1.0 + _SLACK) + _TINY
    wi, wf = window_alloc(g)
    for p in range(p0, p1):
        nwin, wid, span = window_open(p, g, wi, wf)
        if buf.shape[0] < span:
            buf = np.empty(span, dtype=np.int64)
        for c in range(row_cs[p], row_cs[p + 1]):
            a, b = cstart[c], cstart[c + 1]
            cnt = window_cells(c, ckey, m, wid, wi, wf, nwin, buf)
            keep = 0
            base = cw[c] if mutual else 0.0
            for q in range(cnt):
                d = buf[q]
                if mutual and d == c:
                    continue
                dc = _chord(ref[c, 0], ref[c, 1], ref[c, 2], ref[d, 0], ref[d, 1], ref[d, 2])
                if dc - rho[c] - rho[d] > margin_out:
                    continue
                if dc + rho[c] + rho[d] <= margin_in:
                    base += cw[d]
                    continue
                buf[keep] = d
                keep += 1
            for k in range(a, b):
                px, py, pz = xyz[k, 0], xyz[k, 1], xyz[k, 2]
                acc = base
                for q in range(keep):
                    d = buf[q]
                    dc = _chord(px, py, pz, ref[d, 0], ref[d, 1], ref[d, 2])
                    if dc - rho[d] > margin_out:
                        continue
                    if dc + rho[d] <= margin_in:
                        acc += cw[d]
                    else:
                        a2 = cstart[d]
                        n2 = cstart[d + 1] - a2
                        acc += _walk(
                            px, py, pz, a2, n2, noff[d], xyz, w, trees, c_in,
                            np.inf, False, stack,
                        )  # fmt: skip
                out[k] = acc


@njit(cache=True, nogil=True)
def core_first(c0: int, c1: int, g: Index, core: Arr, ncore: Arr, cref: Arr, crho: Arr) -> None:
    """Move the core points of cells c0..c1-1 to the front of their cell (in the sorted
    point arrays of ``g``); per cell: core count, ``cref`` and ``crho`` of the core points
    (zero without any)."""
    xyz, w, t, order, slat, slon, cstart = g.xyz, g.w, g.t, g.order, g.slat, g.slon, g.cstart
    per_point = t.shape[0] == xyz.shape[0] and xyz.shape[0] > 1
    for c in range(c0, c1):
        a, b = cstart[c], cstart[c + 1]
        j = a
        for k in range(a, b):
            if core[k]:
                if k != j:
                    for e in range(3):
                        xyz[j, e], xyz[k, e] = xyz[k, e], xyz[j, e]
                    w[j], w[k] = w[k], w[j]
                    order[j], order[k] = order[k], order[j]
                    slat[j], slat[k] = slat[k], slat[j]
                    slon[j], slon[k] = slon[k], slon[j]
                    core[j], core[k] = core[k], core[j]
                    if per_point:
                        t[j], t[k] = t[k], t[j]
                j += 1
        nc = j - a
        ncore[c] = nc
        cref[c, 0] = 0.0
        cref[c, 1] = 0.0
        cref[c, 2] = 0.0
        crho[c] = 0.0
        if nc == 0:
            continue
        sx = 0.0
        sy = 0.0
        sz = 0.0
        for k in range(a, j):
            sx += xyz[k, 0]
            sy += xyz[k, 1]
            sz += xyz[k, 2]
        cref[c, 0] = sx / nc
        cref[c, 1] = sy / nc
        cref[c, 2] = sz / nc
        r2 = 0.0
        for k in range(a, j):
            r2 = max(r2, _sq(xyz[k, 0], xyz[k, 1], xyz[k, 2], cref[c, 0], cref[c, 1], cref[c, 2]))
        crho[c] = math.sqrt(r2)


@njit(cache=True, nogil=True)
def _find(parent: Arr, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True, nogil=True)
def _union(parent: Arr, i: int, j: int) -> None:
    ri = _find(parent, i)
    rj = _find(parent, j)
    if ri < rj:
        parent[rj] = ri
    elif rj < ri:
        parent[ri] = rj


@njit(cache=True, nogil=True)
def _pair_within(
    xyz: Arr,
    w: Arr,
    a0: int,
    a1: int,
    b0: int,
    nb: int,
    bref: Arr,
    brho: float,
    bnode: int,
    trees: Trees,
    c_in: float,
    stack: Arr,
) -> bool:
    """Is some point of a0..a1-1 within ``c_in`` of some point of b0..b0+nb-1 (whose
    bounding ball is ``bref``, ``brho`` and tree starts at node ``bnode``)?"""
    margin_in = c_in * (1.0 - _SLACK) - _TINY
    margin_out = c_in * (1.0 + _SLACK) + _TINY
    for i in range(a0, a1):
        px, py, pz = xyz[i, 0], xyz[i, 1], xyz[i, 2]
        dc = _chord(px, py, pz, bref[0], bref[1], bref[2])
        if dc - brho > margin_out:
            continue
        if dc + brho <= margin_in:
            return True
        if _walk(px, py, pz, b0, nb, bnode, xyz, w, trees, c_in, 0.5, True, stack) > 0:
            return True
    return False


@njit(cache=True, nogil=True)
def merge_cells(g: Index, cores: Core, parent: Arr) -> None:
    """Union the cells holding core points that have one core pair within reach.

    Only for cells smaller than the radius, whose core points are one cluster already
    (otherwise :func:`merge_points`). Each pair of cells is looked at once, and not at
    all once both are in one cluster.
    """
    xyz, w, cstart, ckey, row_ids, row_cs = g.xyz, g.w, g.cstart, g.ckey, g.row_ids, g.row_cs
    m = g.m
    ncore, cref, crho, trees, c_in = cores.ncore, cores.ref, cores.rho, cores.trees, g.c_in
    noff = trees.noff
    margin_in = c_in * (1.0 - _SLACK) - _TINY
    margin_out = c_in * (1.0 + _SLACK) + _TINY
    stack = np.empty((_STACK, 2), dtype=np.int64)
    buf = np.empty(64, dtype=np.int64)
    wi, wf = window_alloc(g)
    for p in range(row_ids.shape[0]):
        nwin, wid, span = window_open(p, g, wi, wf)
        if buf.shape[0] < span:
            buf = np.empty(span, dtype=np.int64)
        for c in range(row_cs[p], row_cs[p + 1]):
            if ncore[c] == 0:
                continue
            cnt = window_cells(c, ckey, m, wid, wi, wf, nwin, buf)
            for q in range(cnt):
                d = buf[q]
                if d <= c or ncore[d] == 0:
                    continue
                if _find(parent, c) == _find(parent, d):
                    continue
                dc = _chord(cref[c, 0], cref[c, 1], cref[c, 2], cref[d, 0], cref[d, 1], cref[d, 2])
                if dc - crho[c] - crho[d] > margin_out:
                    continue
                linked = dc + crho[c] + crho[d] <= margin_in
                if not linked:
                    a0 = cstart[c]
                    b0 = cstart[d]
                    # the smaller cell, point by point, against the other's bounding ball
                    if ncore[c] <= ncore[d]:
                        linked = _pair_within(
                            xyz, w, a0, a0 + ncore[c], b0, ncore[d], cref[d], crho[d],
                            noff[d], trees, c_in, stack,
                        )  # fmt: skip
                    else:
                        linked = _pair_within(
                            xyz, w, b0, b0 + ncore[d], a0, ncore[c], cref[c], crho[c],
                            noff[c], trees, c_in, stack,
                        )  # fmt: skip
                if linked:
                    _union(parent, c, d)


@njit(cache=True, nogil=True)
def merge_points(g: Index, cores: Core, parent: Arr) -> None:
    """Union core points pair by pair (cells larger than the radius: tiny radii only)."""
    xyz, cstart, ckey, row_ids, row_cs = g.xyz, g.cstart, g.ckey, g.row_ids, g.row_cs
    m, c_in = g.m, g.c_in
    ncore, cref, crho = cores.ncore, cores.ref, cores.rho
    c2 = c_in * c_in
    margin_out = c_in * (1.0 + _SLACK) + _TINY
    buf = np.empty(64, dtype=np.int64)
    wi, wf = window_alloc(g)
    for p in range(row_ids.shape[0]):
        nwin, wid, span = window_open(p, g, wi, wf)
        if buf.shape[0] < span:
            buf = np.empty(span, dtype=np.int64)
        for c in range(row_cs[p], row_cs[p + 1]):
            if ncore[c] == 0:
                continue
            cnt = window_cells(c, ckey, m, wid, wi, wf, nwin, buf)
            for q in range(cnt):
                d = buf[q]
                if d < c or ncore[d] == 0:
                    continue
                dc = _chord(cref[c, 0], cref[c, 1], cref[c, 2], cref[d, 0], cref[d, 1], cref[d, 2])
                if dc - crho[c] - crho[d] > margin_out:
                    continue
                for i in range(cstart[c], cstart[c] + ncore[c]):
                    j0 = i + 1 if d == c else cstart[d]
                    for j in range(j0, cstart[d] + ncore[d]):
                        if (
                            _sq(xyz[i, 0], xyz[i, 1], xyz[i, 2], xyz[j, 0], xyz[j, 1], xyz[j, 2])
                            <= c2
                        ):
                            _union(parent, i, j)


@njit(cache=True, nogil=True)
def cluster_roots(
    cstart: Arr, ncore: Arr, parent: Arr, cell_level: bool, slat: Arr, slon: Arr
) -> tuple[Arr, Arr, Arr, Arr]:
    """Root of each sorted point (-1 unless core); the roots with their smallest (lat, lon).

    ``parent`` is over cells (``cell_level``) or over sorted points. Returns ``root``,
    ``roots``, ``min_lat``, ``min_lon``.
    """
    n = slat.shape[0]
    ncell = cstart.shape[0] - 1
    root = np.full(n, -1, dtype=np.int64)
    size = parent.shape[0]
    best_lat = np.full(size, np.inf)
    best_lon = np.full(size, np.inf)
    for c in range(ncell):
        a = cstart[c]
        rc = _find(parent, c) if cell_level and ncore[c] > 0 else -1
        for k in range(a, a + ncore[c]):
            r = rc if cell_level else _find(parent, k)
            root[k] = r
            if slat[k] < best_lat[r] or (slat[k] == best_lat[r] and slon[k] < best_lon[r]):
                best_lat[r] = slat[k]
                best_lon[r] = slon[k]
    nroot = 0
    for r in range(size):
        if best_lat[r] < np.inf:
            nroot += 1
    roots = np.empty(nroot, dtype=np.int64)
    mlat = np.empty(nroot)
    mlon = np.empty(nroot)
    j = 0
    for r in range(size):
        if best_lat[r] < np.inf:
            roots[j] = r
            mlat[j] = best_lat[r]
            mlon[j] = best_lon[r]
            j += 1
    return root, roots, mlat, mlon


@njit(cache=True, nogil=True)
def core_labels(cstart: Arr, ncore: Arr, root: Arr, root_label: Arr) -> tuple[Arr, Arr]:
    """Label of each sorted point (its cluster's for core points, else -1) and the
    smallest label of each cell's core points (int64 max without any)."""
    ncell = cstart.shape[0] - 1
    none = np.iinfo(np.int64).max
    lab = np.full(root.shape[0], -1, dtype=np.int64)
    cmin = np.full(ncell, none, dtype=np.int64)
    for c in range(ncell):
        a = cstart[c]
        for k in range(a, a + ncore[c]):
            lab[k] = root_label[root[k]]
            cmin[c] = min(cmin[c], lab[k])
    return lab, cmin


@njit(cache=True, nogil=True)
def border_labels(p0: int, p1: int, g: Index, cores: Core, lab: Arr, cmin: Arr) -> None:
    """Label the non-core points of occupied rows p0..p1-1: the smallest label among the
    clusters with a core point within reach (-1 without any).

    With cells smaller than the radius, a cell's core points reach all its points, and a
    neighbour cell entirely within reach gives its label without a distance test; cells
    whose smallest label is no better than the best found are skipped.
    """
    xyz, w, cstart, ckey, row_cs, m = g.xyz, g.w, g.cstart, g.ckey, g.row_cs, g.m
    c_in, mutual = g.c_in, g.mutual
    ncore, cref, crho, trees = cores.ncore, cores.ref, cores.rho, cores.trees
    noff = trees.noff
    c2 = c_in * c_in
    margin_in = c_in * (1.0 - _SLACK) - _TINY
    margin_out = c_in * (1.0 + _SLACK) + _TINY
    none = np.iinfo(np.int64).max
    stack = np.empty((_STACK, 2), dtype=np.int64)
    buf = np.empty(64, dtype=np.int64)
    wi, wf = window_alloc(g)
    for p in range(p0, p1):
        nwin, wid, span = window_open(p, g, wi, wf)
        if buf.shape[0] < span:
            buf = np.empty(span, dtype=np.int64)
        for c in range(row_cs[p], row_cs[p + 1]):
            a, b = cstart[c], cstart[c + 1]
            if a + ncore[c] == b:
                continue
            cnt = window_cells(c, ckey, m, wid, wi, wf, nwin, buf)
            keep = 0
            for q in range(cnt):
                d = buf[q]
                if ncore[d] == 0 or (mutual and d == c):
                    continue
                buf[keep] = d
                keep += 1
            for k in range(a + ncore[c], b):
                px, py, pz = xyz[k, 0], xyz[k, 1], xyz[k, 2]
                best = cmin[c] if (mutual and ncore[c] > 0) else none
                for q in range(keep):
                    d = buf[q]
                    if cmin[d] >= best:
                        continue
                    dc = _chord(px, py, pz, cref[d, 0], cref[d, 1], cref[d, 2])
                    if dc - crho[d] > margin_out:
                        continue
                    if mutual:  # all core points of a cell have its label
                        if dc + crho[d] > margin_in:
                            a2 = cstart[d]
                            hit = _walk(
                                px, py, pz, a2, ncore[d], noff[d], xyz, w, trees, c_in,
                                0.5, True, stack,
                            )  # fmt: skip
                            if hit == 0.0:
                                continue
                        best = cmin[d]
                        continue
                    for j in range(cstart[d], cstart[d] + ncore[d]):
                        if lab[j] < best and _sq(px, py, pz, xyz[j, 0], xyz[j, 1], xyz[j, 2]) <= c2:
                            best = lab[j]
                lab[k] = best if best != none else -1


@njit(cache=True, nogil=True)
def scatter(k0: int, k1: int, order: Arr, values: Arr, out: Arr) -> None:
    """``out[order[k]] = values[k]`` for k in k0..k1-1 (back to the input order)."""
    for k in range(k0, k1):
        out[order[k]] = values[k]


@njit(cache=True, nogil=True)
def centre_sums(p0: int, p1: int, g: Index, prefix: Arr, theta: float, out: Arr) -> None:
    """Per point of occupied rows p0..p1-1 (``out`` in input order): weight of the cells
    whose centre lies within ``theta`` of the centre of the point's cell (``prefix``:
    cumulative cell weights, ``ncell + 1``; ``theta`` is the radius itself, not the
    widened ``g.theta``).

    For a row of cells and a row of targets, the target centres within reach of a cell's
    centre form one longitude interval (two across the antimeridian) that moves east with
    the cell: two pointers sweep the target row once, and prefix sums over the occupied
    cells give each interval's weight.
    """
    cstart, ckey, row_ids, row_cs, order = g.cstart, g.ckey, g.row_ids, g.row_cs, g.order
    m, dphi, nrow = g.m, g.dphi, g.nrow
    hav_t = math.sin(min(theta, _PI) / 2) ** 2
    nrows = row_ids.shape[0]
    total = np.zeros(0)
    east = np.zeros(0)
    for p in range(p0, p1):
        row = row_ids[p]
        wid = _TWO_PI / ncol_of_row(row, dphi)
        south, north = _row_band(row, dphi)
        phic = 0.5 * (south + north)
        c0 = row_cs[p]
        c1 = row_cs[p + 1]
        if total.shape[0] < c1 - c0:
            total = np.zeros(c1 - c0)
            east = np.zeros(c1 - c0)
        for c in range(c0, c1):
            total[c - c0] = 0.0
            east[c - c0] = ((ckey[c] - row * m) + 0.5) * wid  # centre, radians east of -pi
        r_lo = max(math.floor((phic - theta + _HALF_PI) / dphi) - 1, 0)
        r_hi = min(math.floor((phic + theta + _HALF_PI) / dphi) + 1, nrow - 1)
        q = p
        while q > 0 and row_ids[q - 1] >= r_lo:
            q -= 1
        while q < nrows and row_ids[q] <= r_hi:
            rr = row_ids[q]
            a = row_cs[q]
            b = row_cs[q + 1]
            q += 1
            q0, q1 = _row_band(rr, dphi)
            phir = 0.5 * (q0 + q1)
            num = hav_t - math.sin(0.5 * (phir - phic)) ** 2
            if num < 0.0:
                continue
            den = math.cos(phic) * math.cos(phir)
            if den <= num:
                for c in range(c0, c1):
                    total[c - c0] += prefix[b] - prefix[a]
                continue
            nc2 = ncol_of_row(rr, dphi)
            base = rr * m
            inv = nc2 / _TWO_PI
            half = 2.0 * math.asin(math.sqrt(num / den)) * inv  # in target columns
            lo = a
            hi = a
            for c in range(c0, c1):
                # target column k has its centre at -pi + (k + 0.5) * wid2
                u = east[c - c0] * inv - 0.5
                k_lo = math.ceil(u - half)
                k_hi = math.floor(u + half)
                if k_hi < k_lo:
                    continue
                if k_hi - k_lo + 1 >= nc2:
                    s = prefix[b] - prefix[a]
                elif k_lo < 0:
                    s = prefix[_lower(ckey, a, b, base + k_hi + 1)] - prefix[a]
                    s += prefix[b] - prefix[_lower(ckey, a, b, base + k_lo + nc2)]
                elif k_hi >= nc2:
                    s = prefix[_lower(ckey, a, b, base + k_hi - nc2 + 1)] - prefix[a]
                    s += prefix[b] - prefix[_lower(ckey, a, b, base + k_lo)]
                else:
                    klo = base + k_lo
                    while lo < b and ckey[lo] < klo:
                        lo += 1
                    if hi < lo:
                        hi = lo
                    khi = base + k_hi
                    while hi < b and ckey[hi] <= khi:
                        hi += 1
                    s = prefix[hi] - prefix[lo]
                total[c - c0] += s
        for c in range(c0, c1):
            for k in range(cstart[c], cstart[c + 1]):
                out[order[k]] = total[c - c0]
