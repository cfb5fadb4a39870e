"""Waybills as integer codes, and identical coordinates collapsed into weighted points
(private to :mod:`workbench.sites._finder`).

Every column the sites need becomes integer codes into a small table: categorical columns
(e.g. Parquet read with ``read_dictionary``) give their codes as they are, other columns are
factorized once. Rows that take no part keep their codes but have point -1, so no column is
copied to drop them. The numba kernels (:mod:`workbench.sites._jit`) load on first use.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

PRECISE_ENOUGH = ("exact", "street")
MAX_THREADS = 4
PARALLEL_MIN_WAYBILLS = 200_000  # fewer: one thread

T = TypeVar("T")
_pause_lock = threading.Lock()
_pauses = 0  # paused_gc blocks running now
_gc_was_enabled = True


def kernels() -> ModuleType:
    """The numba kernels, imported on first use (Python keeps the module after that)."""
    from workbench.sites import _jit as _site_jit

    return _site_jit


def frozen(values: np.ndarray) -> np.ndarray:
    """A read-only view: the kernels get one array type whatever pandas hands over."""
    view = values.view()
    view.flags.writeable = False
    return view


@dataclass
class Waybills:
    """Integer-coded waybill columns, one entry per row of the shipments.

    Per row: ``point`` (unique point, -1 when the row takes no part), ``seller``,
    ``brand``, ``day_code`` and ``precision`` (int16 or int32 codes into the tables, -1
    when missing; ``precision`` is empty without such a column: every waybill is then
    ``exact``) and ``value`` (declared CNY; empty when there is no such column). Per seller
    code: its operator code.
    """

    point: np.ndarray
    seller: np.ndarray
    seller_names: np.ndarray
    operator_of_seller: np.ndarray
    operator_names: np.ndarray
    operator_is_network: np.ndarray  # per operator code
    day_code: np.ndarray
    day_of: np.ndarray  # days since 1970-01-01 per day code, -1 when unknown
    value: np.ndarray
    has_value: bool
    brand: np.ndarray
    brand_names: np.ndarray
    precision: np.ndarray
    precision_names: np.ndarray

    def first_seen(self, codes: np.ndarray, n_codes: int) -> np.ndarray:
        """Rank of each code by its first row taking part (the order factorizing the
        usable rows would give), for ties that must not depend on the encoding."""
        first = kernels().first_rows(frozen(codes), frozen(self.point), n_codes)
        rank = np.empty(n_codes, dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(n_codes)
        return rank


def usable_rows(
    shipments: pd.DataFrame, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """Waybills that take part, and the count left out per reason."""
    usable = np.empty(len(lat), dtype=bool)
    missing, outside = kernels().usable_rows(frozen(lat), frozen(lon), usable)
    excluded = {"no_coordinates": missing, "out_of_range": outside}
    if "precision" in shipments.columns:
        codes, levels = _codes(shipments["precision"])  # each level compared once
        names = np.array([str(v) for v in levels] + ["nan"], dtype=object)  # -1: missing
        precise_name = np.isin(names, PRECISE_ENOUGH)
        if not (precise_name[:-1].all() and codes.min(initial=0) >= 0):
            precise = precise_name[codes]  # code -1 picks the last name, "nan"
            left_out = codes[usable & ~precise].astype(np.int64) % len(names)
            counts = np.bincount(left_out, minlength=len(names))
            for k in sorted(np.flatnonzero(counts), key=lambda k: str(names[k])):
                excluded[f"precision_{names[k]}"] = int(counts[k])
            usable &= precise
    return usable, {k: v for k, v in excluded.items() if v}


def row_labels(point: np.ndarray, point_label: np.ndarray) -> np.ndarray:
    """Label (int64) of each row's point, -1 for rows without one."""
    out = np.empty(len(point), dtype=np.int64)  # numpy asks for huge pages: fewer faults
    kernels().row_labels(frozen(point), frozen(point_label), out)
    return out


def collapse(
    lat: np.ndarray, lon: np.ndarray, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique coordinates (sorted by lat, lon), their waybill counts, and each row's point.

    Coordinates equal to 1e-7 degree (about 1 cm) are one point (one int64 key). Each
    point keeps the coordinates of its first waybill; unusable rows get point -1. Threads
    hash consecutive shares of the rows, whose points are then merged.
    """
    jit = kernels()
    point = np.empty(len(lat), dtype=np.int32)
    bounds = row_shares(len(lat), threads() if len(lat) >= PARALLEL_MIN_WAYBILLS else 1)
    args = (frozen(lat), frozen(lon), frozen(usable), point)
    shares = each(_share_points, [(*args, lo, hi) for lo, hi in bounds])
    offset = np.cumsum([0] + [len(keys) for keys, _, _ in shares])
    index, keys = jit.merge_sorted(np.concatenate([keys for keys, _, _ in shares]), offset)
    first = np.empty(len(keys), dtype=np.int64)
    for j in reversed(range(len(shares))):  # a point seen by several shares: the first
        first[index[offset[j] : offset[j + 1]]] = shares[j][1]
    weights = [np.zeros(len(keys)) for _ in bounds]
    calls = [
        (point, lo, hi, frozen(index[offset[j] : offset[j + 1]][shares[j][2]]), weights[j])
        for j, (lo, hi) in enumerate(bounds)
    ]
    each(jit.renumber, calls)
    return lat[first], lon[first], np.sum(weights, axis=0), point


def _share_points(
    lat: np.ndarray, lon: np.ndarray, usable: np.ndarray, point: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points of rows lo..hi-1 (``point`` set to their entries): keys sorted (key
    order is (lat, lon) order), the first row of each, and the sorted place of each entry."""
    keys, first = kernels().point_codes(lat, lon, usable, point, lo, hi)
    order = np.argsort(keys)
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    return keys[order], first[order], place


def row_shares(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive ranges of about equal length covering 0..n-1."""
    edges = np.linspace(0, n, parts + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def threads() -> int:
    """Threads for the kernels: the CPUs this process may use, at most ``MAX_THREADS``."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_THREADS, cpus or 1))


def each(kernel: Callable[..., T], calls: list[tuple[Any, ...]]) -> list[T]:
    """``kernel(*args)`` for each tuple of ``calls``, on threads when there are several
    (the kernels release the GIL)."""
    if len(calls) == 1:
        return [kernel(*calls[0])]
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda args: kernel(*args), calls))


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cycle collector off while the site finder runs (on any of its threads):
    it makes no reference cycles worth collecting, but its many short-lived objects (lists
    of names, frames, numba's loading) would set off full collections, each walking every
    object the imports made. The collector comes back on when the last pause ends, if it
    was on when the first began."""
    global _pauses, _gc_was_enabled
    with _pause_lock:
        if _pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _gc_was_enabled:
                gc.enable()


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 for missing; see :func:`_narrow`) and the values they stand for."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = np.asarray(values.cat.categories, dtype=object)
        return _narrow(np.asarray(values.array.codes), len(categories)), categories
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return _narrow(codes, len(uniques)), np.asarray(uniques, dtype=object)


def _levels(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the precision levels as text (-1 for missing), as ``astype(str)`` then
    :func:`_codes` would give them but without a string per row. Only the names of the
    levels matter downstream (their order is the order first seen), so the codes of a
    categorical stay as they are."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return _codes(values.astype(str))
    codes, levels = _codes(values)
    names = np.array([str(v) for v in levels], dtype=object)
    inverse, unique = pd.factorize(names)
    if len(unique) < len(names):  # levels equal as text (1 and "1") are one level
        codes = _narrow(np.append(inverse, -1)[codes], len(unique))
    return codes, np.asarray(unique, dtype=object)


def floats(values: pd.Series) -> np.ndarray:
    """A column as float64 with NaN for missing; no copy when it is one already."""
    if values.dtype == np.float64:
        return values.to_numpy()
    return values.to_numpy(dtype=float, na_value=np.nan)


def _narrow(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """int16 codes while they fit, else int32: categorical codes mostly stay as they are
    (no copy), and the kernels are compiled for few combinations of types."""
    dtype = np.int16 if n_codes < 2**15 else np.int32
    return codes if codes.dtype == dtype else codes.astype(dtype)


def waybills(shipments: pd.DataFrame, point: np.ndarray, networks: pd.DataFrame | None) -> Waybills:
    """The coded columns of ``shipments`` (``point``: from :func:`collapse`)."""
    n = len(shipments)
    seller, seller_names = _codes(shipments["seller_id"])
    seller_names = seller_names.astype(str).astype(object)
    op_of_seller, op_names, op_is_net = _operators(seller_names, networks)
    if "brand" in shipments.columns:
        brand, brand_names = _codes(shipments["brand"])
    else:
        brand, brand_names = np.full(n, -1, dtype=np.int16), np.array([], dtype=object)
    if "precision" in shipments.columns:
        precision, precision_names = _levels(shipments["precision"])
    else:
        precision, precision_names = np.empty(0, dtype=np.int16), np.array(["exact"], dtype=object)
    has_value = "value_cny" in shipments.columns
    value = floats(shipments["value_cny"]) if has_value else np.empty(0)
    if "shipped_at" in shipments.columns:
        day_code, day_of = _day_codes(shipments["shipped_at"])
    else:
        day_code, day_of = np.full(n, -1, dtype=np.int16), np.empty(0, dtype=np.int64)
    return Waybills(
        point=point,
        seller=seller,
        seller_names=seller_names,
        operator_of_seller=op_of_seller,
        operator_names=op_names,
        operator_is_network=op_is_net,
        day_code=day_code,
        day_of=day_of,
        value=value,
        has_value=has_value,
        brand=brand,
        brand_names=brand_names,
        precision=precision,
        precision_names=precision_names,
    )


def _operators(
    seller_names: np.ndarray, networks: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Operator code per seller code, operator names and whether each is a network.

    Networks and lone sellers share one code space, keyed by kind and id.
    """
    lookup: dict[str, str] = {}
    if networks is not None and len(networks):
        net = networks.dropna(subset=["network_id"])
        lookup = dict(zip(net["seller_id"].astype(str), net["network_id"].astype(str), strict=True))
    code_of: dict[tuple[bool, str], int] = {}
    op_of_seller = np.empty(len(seller_names), dtype=np.int64)
    for i, name in enumerate(seller_names.tolist()):
        network = lookup.get(name)
        key = (True, network) if network is not None else (False, str(name))
        op_of_seller[i] = code_of.setdefault(key, len(code_of))
    names = np.array([name for _, name in code_of], dtype=object)
    is_net = np.array([is_net for is_net, _ in code_of], dtype=bool)
    return op_of_seller, names, is_net


def _day_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Code per waybill and day per code: each distinct date is parsed once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        return _narrow(np.asarray(values.array.codes), len(categories)), days(pd.Series(categories))
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return _narrow(codes, len(uniques)), days(pd.Series(uniques))


def days(values: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 per value, -1 when the date is missing or unparseable."""
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values.to_numpy(dtype="datetime64[D]")
    else:
        try:
            arrow = pa.array(values.astype(str), from_pandas=True).cast(pa.date32())
            dates = arrow.to_numpy(zero_copy_only=False).astype("datetime64[D]")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            parsed = pd.to_datetime(values, errors="coerce", format="mixed")
            dates = parsed.to_numpy(dtype="datetime64[D]")
    out = dates.astype(np.int64)
    return np.where(np.isnat(dates), -1, out)
