"""Vectorised waybills for the demo: no Python loop per shipment (private).

Each seller has a few *slots* (exact ship-from points whose coordinates repeat, and scatter
areas). Waybills are spread over sellers with a heavy tail, then every waybill picks one of
its seller's slots with a single ``searchsorted`` over all slots at once.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.demo._accounts import Population
from workbench.demo._places import BRAND_PRICE_CNY

FIRST_DAY = np.datetime64("2026-01-01")
N_DAYS = 304  # 2026-01-01 .. 2026-10-31
_METRES_PER_DEGREE = 111_320.0


def _counts(rng: np.random.Generator, n: int, pop: Population) -> np.ndarray:
    """Waybills per seller: each group gets its share of ``n``, sellers a heavy-tailed part."""
    members: dict[str, list[int]] = defaultdict(list)
    for s in pop.sellers:
        members[s.group].append(s.index)
    counts = np.zeros(len(pop.sellers), dtype=np.int64)
    groups = list(pop.group_volume)
    totals = [int(n * pop.group_volume[g]) for g in groups]
    totals[-1] += n - sum(totals)  # rounding goes to the last (background) group
    for group, total in zip(groups, totals, strict=True):
        idx = np.asarray(members[group], dtype=np.int64)
        if len(idx) == 0:
            continue
        weight = np.asarray([pop.sellers[i].volume for i in idx])
        base = 1 if total >= len(idx) else 0  # every seller ships at least once when possible
        counts[idx] = base + rng.multinomial(total - base * len(idx), weight / weight.sum())
    return counts


def _slot_table(pop: Population) -> tuple[dict[str, np.ndarray], list[str]]:
    """All sellers' slots as flat arrays, keyed for one global ``searchsorted``."""
    cols: dict[str, list[float]] = defaultdict(list)  # addr_* hold whole numbers
    addresses: list[str] = []
    pool_start: dict[tuple[str, ...], int] = {}
    for s in pop.sellers:
        total = sum(slot.weight for slot in s.slots)
        cum = 0.0
        for k, slot in enumerate(s.slots):
            cum += slot.weight / total
            if slot.addresses not in pool_start:
                pool_start[slot.addresses] = len(addresses)
                addresses.extend(slot.addresses)
            last = k == len(s.slots) - 1
            cols["key"].append(s.index + (1.0 if last else min(cum, 1.0)))
            cols["lat"].append(slot.lat)
            cols["lon"].append(slot.lon)
            cols["sigma_m"].append(slot.sigma_m)
            cols["addr_start"].append(pool_start[slot.addresses])
            cols["addr_len"].append(len(slot.addresses))
    table = {name: np.asarray(v, dtype=np.float64) for name, v in cols.items()}
    for name in ("addr_start", "addr_len"):
        table[name] = table[name].astype(np.int64)
    return table, addresses


def _brand_table(pop: Population) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = sorted({b for s in pop.sellers for b in s.brands})
    code = {b: i for i, b in enumerate(names)}
    width = max(len(s.brands) for s in pop.sellers)
    table = np.zeros((len(pop.sellers), width), dtype=np.int64)
    n_brands = np.zeros(len(pop.sellers), dtype=np.int64)
    for s in pop.sellers:
        table[s.index, : len(s.brands)] = [code[b] for b in s.brands]
        n_brands[s.index] = len(s.brands)
    return table, n_brands, names


def draw_shipments(rng: np.random.Generator, n: int, pop: Population) -> pa.Table:
    """``n`` waybills as an Arrow table in the canonical shipments columns."""
    counts = _counts(rng, n, pop)
    seller = rng.permutation(np.repeat(np.arange(len(pop.sellers), dtype=np.int64), counts))

    slots, addresses = _slot_table(pop)
    u = np.minimum(rng.random(n), 1.0 - 1e-9)
    slot = np.searchsorted(slots["key"], seller + u, side="right")
    slot = np.minimum(slot, len(slots["key"]) - 1)
    lat = slots["lat"][slot]
    lon = slots["lon"][slot]
    sigma = slots["sigma_m"][slot]
    scattered = np.flatnonzero(sigma > 0)
    dy = rng.normal(0.0, 1.0, len(scattered)) * sigma[scattered]
    dx = rng.normal(0.0, 1.0, len(scattered)) * sigma[scattered]
    lat[scattered] += dy / _METRES_PER_DEGREE
    lon[scattered] += dx / (_METRES_PER_DEGREE * np.cos(np.radians(lat[scattered])))
    lat = np.round(lat, 6)
    lon = np.round(lon, 6)
    addr = slots["addr_start"][slot] + (rng.random(n) * slots["addr_len"][slot]).astype(np.int64)

    days = np.sort(rng.integers(0, N_DAYS, n)).astype(np.int32) + int(
        (FIRST_DAY - np.datetime64("1970-01-01")).astype(np.int64)
    )
    waybill = 2_600_000_000 + np.cumsum(rng.integers(1, 40, n))

    brand_table, n_brands, brand_names = _brand_table(pop)
    brand = brand_table[seller, (rng.random(n) * n_brands[seller]).astype(np.int64)]
    items_p = np.asarray([s.items_p for s in pop.sellers])[seller]
    items = np.minimum(rng.geometric(items_p), 20).astype(np.int64)
    unit = np.asarray([BRAND_PRICE_CNY[b] for b in brand_names])[brand]
    factor = np.asarray([s.price_factor for s in pop.sellers])[seller]
    value = np.round(unit * factor * items * rng.lognormal(0.0, 0.15, n), 2)

    ids = pa.array([s.seller_id for s in pop.sellers], type=pa.string())
    return pa.table(
        {
            "shipment_id": pc.binary_join_element_wise(
                "W", pc.cast(pa.array(waybill), pa.string()), ""
            ),
            "seller_id": ids.take(pa.array(seller)),
            "lat": pa.array(lat),
            "lon": pa.array(lon),
            "coord_system": pa.array(["WGS84"], type=pa.string()).take(
                pa.array(np.zeros(n, np.int32))
            ),
            "origin_address": pa.array(addresses, type=pa.string()).take(pa.array(addr)),
            "shipped_at": pc.cast(pa.array(days, type=pa.date32()), pa.string()),
            "items": pa.array(items),
            "value_cny": pa.array(value),
            "brand": pa.array(brand_names, type=pa.string()).take(pa.array(brand)),
        }
    )


def value_text(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """CNY amounts as text with exactly two decimals, e.g. 1234.50 (vectorised)."""
    cents = pc.cast(pc.round(pc.multiply(column, 100.0)), pa.int64())
    whole = pc.cast(pc.divide(cents, 100), pa.string())
    frac = pc.utf8_lpad(
        pc.cast(pc.subtract(cents, pc.multiply(pc.divide(cents, 100), 100)), pa.string()), 2, "0"
    )
    return pc.binary_join_element_wise(whole, frac, ".")
