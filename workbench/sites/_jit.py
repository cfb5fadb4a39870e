"""Numba kernels behind :mod:`workbench.sites._finder` over the waybills, one pass each (imported
lazily, like :mod:`workbench.sites._density_jit`; all release the GIL).

Coordinates become unique points through hash tables (one per share of the rows, merged
after sorting each share's few distinct keys); after clustering, every per-site figure is
summed in one pass over the waybills in their input order (:func:`tally`), so float sums
equal ``np.bincount`` with weights to the last bit. Distinct (site, seller) pairs go to a
hash table too, behind a cache of each seller's last two sites: their number is small
whatever the number of waybills, so nothing of the size of the waybills is ever sorted.

Hash tables use open addressing with linear probing over interleaved ``(key, entry)``
slots (``entry`` -1: empty) and Fibonacci hashing of the key's bits; they double before
70% (points) or 50% (pairs) of the slots are taken. Entries are numbered in order of
first insertion.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# (numba ignores the annotations; they are for readers and mypy)
Arr = np.ndarray

_MULT = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio
_LON_STEPS = 3_600_000_001  # 1e-7 degree steps in -180..180: lat * this + lon fits int64
_FIRST_BITS = 12
_BIG = 1.7976931348623157e308  # np.nan_to_num's stand-in for infinity
_BLOCK = 4096  # rows whose sites are looked up together


@njit(cache=True, nogil=True)
def _new_table(bits: int) -> Arr:
    table = np.empty(2 << bits, dtype=np.int64)
    table[1::2] = -1
    return table


@njit(cache=True, nogil=True)
def _slot(table: Arr, key: int, bits: int) -> int:
    """Slot holding ``key``, or the empty slot where it goes."""
    mask = (1 << bits) - 1
    h = np.int64((np.uint64(key) * _MULT) >> np.uint64(64 - bits))
    while table[2 * h + 1] >= 0 and table[2 * h] != key:
        h = (h + 1) & mask
    return int(h)


@njit(cache=True, nogil=True)
def _grown(table: Arr, bits: int) -> Arr:
    """The table's entries in a table of ``2**bits`` slots."""
    new = _new_table(bits)
    for s in range(len(table) // 2):
        if table[2 * s + 1] >= 0:
            h = _slot(new, table[2 * s], bits)
            new[2 * h] = table[2 * s]
            new[2 * h + 1] = table[2 * s + 1]
    return new


@njit(cache=True, nogil=True)
def _longer(values: Arr) -> Arr:
    out = np.zeros(2 * len(values), dtype=values.dtype)
    out[: len(values)] = values
    return out


@njit(cache=True, nogil=True)
def point_key(lat: float, lon: float) -> int:
    """One int64 per 1e-7 degree coordinates (about 1 cm)."""
    return int(np.rint((lat + 90.0) * 1e7)) * _LON_STEPS + int(np.rint((lon + 180.0) * 1e7))


@njit(cache=True, nogil=True)
def usable_rows(lat: Arr, lon: Arr, usable: Arr) -> tuple[int, int]:
    """``usable[i]``: row i has finite coordinates within range; returns the numbers of
    rows without coordinates and out of range."""
    missing = 0
    outside = 0
    for i in range(len(lat)):
        if not (np.isfinite(lat[i]) and np.isfinite(lon[i])):
            missing += 1
            usable[i] = False
        elif abs(lat[i]) <= 90 and abs(lon[i]) <= 180:
            usable[i] = True
        else:
            outside += 1
            usable[i] = False
    return missing, outside


@njit(cache=True, nogil=True)
def row_labels(point: Arr, point_label: Arr, out: Arr) -> None:
    """``out[i]``: the label of row i's point, -1 for rows without one."""
    for i in range(len(point)):
        out[i] = point_label[point[i]] if point[i] >= 0 else -1


@njit(cache=True, nogil=True)
def _fill(
    lat: Arr, lon: Arr, usable: Arr, code: Arr, i: int, hi: int, table: Arr, bits: int, found: Arr
) -> tuple[int, int]:
    """Hash rows i..hi-1 into ``table`` until it is 70% full: ``code[i]`` becomes the
    row's entry (-1 when not usable); ``found[0]``: keys, ``found[1]``: first rows of the
    entries so far (``found[2, 0]``: their number). Returns the next row and the count."""
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    limit = min((7 << bits) // 10, found.shape[1])
    k = found[2, 0]
    while i < hi:
        if not usable[i]:
            code[i] = -1
            i += 1
            continue
        key = point_key(lat[i], lon[i])
        h = np.int64((np.uint64(key) * _MULT) >> shift)
        while table[2 * h + 1] >= 0 and table[2 * h] != key:
            h = (h + 1) & mask
        e = table[2 * h + 1]
        if e < 0:
            if k >= limit:
                break
            table[2 * h] = key
            table[2 * h + 1] = e = k
            found[0, k] = key
            found[1, k] = i
            k += 1
        code[i] = e
        i += 1
    found[2, 0] = k
    return i, k


@njit(cache=True, nogil=True)
def point_codes(lat: Arr, lon: Arr, usable: Arr, code: Arr, lo: int, hi: int) -> tuple[Arr, Arr]:
    """Unique points of rows lo..hi-1 by first appearance: ``code[i]`` is row i's point
    (-1 when not usable); returns each point's key and first row. (The table grows
    between calls of :func:`_fill`, whose loop then sees one fixed table.)"""
    bits = _FIRST_BITS
    table = _new_table(bits)
    found = np.zeros((3, 1 << bits), dtype=np.int64)
    i = lo
    while True:
        i, k = _fill(lat, lon, usable, code, i, hi, table, bits, found)
        if i >= hi:
            return found[0, :k].copy(), found[1, :k].copy()
        bits += 1
        table = _grown(table, bits)
        more = np.zeros((3, 1 << bits), dtype=np.int64)
        more[:, :k] = found[:, :k]
        more[2, 0] = k
        found = more


@njit(cache=True, nogil=True)
def merge_sorted(keys: Arr, offset: Arr) -> tuple[Arr, Arr]:
    """Merge the sorted runs ``keys[offset[j]:offset[j + 1]]`` (each without repeats):
    the distinct keys, sorted, and for every input position the index of its key among
    them. The few runs (one per thread) are compared head to head."""
    parts = len(offset) - 1
    head = offset[:-1].copy()
    index = np.empty(len(keys), dtype=np.int64)
    unique = np.empty(len(keys), dtype=np.int64)
    k = 0
    low_key = 0
    while True:
        low = -1
        for j in range(parts):
            if head[j] < offset[j + 1] and (low < 0 or keys[head[j]] < low_key):
                low = j
                low_key = keys[head[j]]
        if low < 0:
            return index, unique[:k]
        unique[k] = low_key
        for j in range(parts):
            if head[j] < offset[j + 1] and keys[head[j]] == low_key:
                index[head[j]] = k
                head[j] += 1
        k += 1


@njit(cache=True, nogil=True)
def renumber(code: Arr, lo: int, hi: int, final: Arr, weight: Arr) -> None:
    """``code[i] = final[code[i]]`` for rows lo..hi-1 in place (-1 stays), counting rows
    per new code in ``weight``."""
    for i in range(lo, hi):
        c = code[i]
        if c >= 0:
            r = final[c]
            code[i] = r
            weight[r] += 1.0


@njit(cache=True, nogil=True)
def _clean(value: float) -> float:
    """``np.nan_to_num``: NaN is 0, infinities the largest finite floats."""
    if np.isnan(value):
        return 0.0
    if value > _BIG:
        return _BIG
    if value < -_BIG:
        return -_BIG
    return value


@njit(cache=True, nogil=True)
def pair_counts(
    point: Arr, point_label: Arr, raw: Arr, table_of: Arr, width: int, value: Arr
) -> tuple[Arr, Arr, Arr]:
    """Distinct ``label * width + code`` keys of the waybills in a site, with their counts
    and (when ``value`` is not empty) value sums in input order.

    Row i: label ``point_label[point[i]]``, code ``table_of[raw[i]]``; -1 anywhere skips it.
    """
    bits = _FIRST_BITS
    table = _new_table(bits)
    keys = np.empty(1 << (bits - 1), dtype=np.int64)
    counts = np.zeros(1 << (bits - 1), dtype=np.int64)
    sums = np.zeros(1 << (bits - 1))
    has_value = len(value) > 0
    k = 0
    for i in range(len(point)):
        p = point[i]
        if p < 0 or point_label[p] < 0 or raw[i] < 0 or table_of[raw[i]] < 0:
            continue
        key = np.int64(point_label[p]) * width + table_of[raw[i]]
        h = _slot(table, key, bits)
        e = table[2 * h + 1]
        if e < 0:
            table[2 * h] = key
            table[2 * h + 1] = e = k
            if k == len(keys):
                keys, counts, sums = _longer(keys), _longer(counts), _longer(sums)
            keys[k] = key
            k += 1
            if 2 * k > (1 << bits):
                bits += 1
                table = _grown(table, bits)
        counts[e] += 1
        if has_value:
            sums[e] += _clean(value[i])
    return keys[:k], counts[:k], sums[:k]


@njit(cache=True, nogil=True)
def _block_sites(
    point: Arr, point_label: Arr, start: int, lo: int, hi: int, rows: Arr, sites: Arr
) -> int:
    """Rows ``start..start + _BLOCK - 1`` whose site is in ``lo..hi-1``, and their sites."""
    m = 0
    for i in range(start, min(start + _BLOCK, len(point))):
        s = point_label[point[i]] if point[i] >= 0 else -1
        rows[m] = i
        sites[m] = s
        m += (s >= lo) & (s < hi)
    return m


@njit(cache=True, nogil=True)
def tally(
    lo: int,
    hi: int,
    point: Arr,
    point_label: Arr,
    seller: Arr,
    brand: Arr,
    day_code: Arr,
    precision: Arr,
    value: Arr,
    seller_ratio: Arr,
    brand_suspect: Arr,
    day_of: Arr,
    week_of: Arr,
    site: Arr,
    brands: Arr,
    weeks: Arr,
    levels: Arr,
) -> Arr:
    """One pass over the waybills of sites ``lo..hi-1``, in input order.

    Per waybill: seller, brand, day and precision codes (-1: missing) and the declared
    value (``value`` empty: none). Per code: the seller's verdict ratio, 1.0 for a suspect
    brand, the day (-1: unknown) and its column in ``weeks``. Per site, ``site`` columns:
    waybills, declared value, summed verdict ratios, suspect-brand waybills, first and last
    day (start at +inf and -1); waybills per brand and per precision level, and per week
    waybills and value (``weeks[s, w, 0:2]``), each skipped when its array has no columns.
    Returns the distinct ``site * n_sellers + seller`` keys.
    """
    n_sellers = len(seller_ratio)
    has_value = len(value) > 0
    recent = np.full((n_sellers, 2), -1, dtype=np.int32)  # each seller's last two sites
    bits = _FIRST_BITS
    table = _new_table(bits)
    k = 0
    rows = np.empty(_BLOCK, dtype=np.int64)
    sites = np.empty(_BLOCK, dtype=np.int64)
    for start in range(0, len(point), _BLOCK):
        # the sites of a block of rows first: their loads from point_label overlap
        n_in = _block_sites(point, point_label, start, lo, hi, rows, sites)
        for q in range(n_in):
            i = rows[q]
            s = sites[q]
            v = _clean(value[i]) if has_value else 0.0
            site[s, 0] += 1.0
            site[s, 1] += v
            c = seller[i]
            if c >= 0:
                site[s, 2] += seller_ratio[c]
                if recent[c, 0] != s and recent[c, 1] != s:
                    recent[c, 1] = recent[c, 0]
                    recent[c, 0] = s
                    h = _slot(table, s * n_sellers + c, bits)
                    if table[2 * h + 1] < 0:
                        table[2 * h] = s * n_sellers + c
                        table[2 * h + 1] = k
                        k += 1
                        if 2 * k > (1 << bits):
                            bits += 1
                            table = _grown(table, bits)
            b = brand[i]
            if b >= 0:
                site[s, 3] += brand_suspect[b]
                if brands.shape[1]:
                    brands[s, b] += 1
            d = day_code[i]
            if d >= 0 and day_of[d] >= 0:
                site[s, 4] = min(site[s, 4], day_of[d])
                site[s, 5] = max(site[s, 5], day_of[d])
                if weeks.shape[1]:
                    weeks[s, week_of[d], 0] += 1.0
                    weeks[s, week_of[d], 1] += v
            if levels.shape[1]:
                levels[s, precision[i]] += 1
    return table[0::2][table[1::2] >= 0]


@njit(cache=True, nogil=True)
def first_rows(raw: Arr, point: Arr, n_codes: int) -> Arr:
    """First row taking part (``point >= 0``) of each code; ``len(raw)`` when none."""
    first = np.full(n_codes, len(raw), dtype=np.int64)
    left = n_codes
    for i in range(len(raw)):
        c = raw[i]
        if c >= 0 and point[i] >= 0 and first[c] == len(raw):
            first[c] = i
            left -= 1
            if left == 0:
                break
    return first
