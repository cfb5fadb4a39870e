"""Per-site tallies of the waybills in one pass (private to :mod:`workbench.sites._finder`).

After clustering, every figure a site needs from its waybills (counts, sums, dates,
distinct sellers, waybills per brand, week and precision level) comes from one pass over
the waybills in input order (``_site_jit.tally``), so float sums equal ``np.bincount``
with weights to the last bit. The pass runs on several threads, each over a range of sites
(every thread reads all waybills, but only its sites' ones are counted, in order). Tables
per site and code are dense while small; wider ones (thousands of brands, dates over
decades) are counted in hash tables instead (``_site_jit.pair_counts``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

import numpy as np

from workbench.sites import _waybills as _site_waybills
from workbench.sites._waybills import Waybills, each, frozen, kernels

DENSE_CELLS = 1 << 22  # sites x codes up to this are counted in dense tables

Pairs = tuple[np.ndarray, ...]  # (site, code, waybills[, value]) sorted by site and code


@dataclass
class Tally:
    """Per site (``0..n-1``) figures; pairs list the (site, code) combinations present."""

    n_shipments: np.ndarray
    value: np.ndarray  # declared CNY
    evidence: np.ndarray  # verdict ratios of the waybills' operators, summed
    suspect: np.ndarray  # waybills of brands with a counterfeit verdict
    first_day: np.ndarray  # days since 1970-01-01 (0 when no date)
    last_day: np.ndarray  # -1 when no date
    sellers: Pairs  # (site, seller code)
    brands: Pairs  # (site, brand code, waybills)
    levels: Pairs  # (site, precision code, waybills); empty when one level only
    weeks: Pairs  # (site, week since 1970-01-01 (Thursday-based), waybills, value)

    def subset(self, keep: np.ndarray) -> Tally:
        """The sites ``keep`` (ascending), renumbered 0..len(keep)-1."""
        remap = np.full(len(self.n_shipments), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        parts: dict[str, object] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                site = remap[value[0]]
                inside = site >= 0
                parts[field.name] = (site[inside], *(v[inside] for v in value[1:]))
            else:
                parts[field.name] = value[keep]
        return Tally(**parts)  # type: ignore[arg-type]


def tally(
    ways: Waybills,
    point_label: np.ndarray,
    n_sites: int,
    evidence: tuple[np.ndarray, np.ndarray, np.ndarray],
    weight: np.ndarray,
) -> Tally:
    """Tallies of sites ``0..n_sites-1`` (``point_label``: site of each point, -1 none).

    ``evidence`` holds per operator code counterfeit and genuine verdicts, and per brand
    code whether the brand has a counterfeit verdict anywhere in the case; ``weight``
    (waybills per point) balances the threads.
    """
    counterfeit, genuine, suspect_brand = evidence
    ratio = counterfeit / (counterfeit + genuine + 1)
    week_of, base = _week_columns(ways.day_of)
    widths = {
        "brands": len(ways.brand_names),
        "weeks": int(week_of.max(initial=-1)) + 1,
        "levels": len(ways.precision_names) if len(ways.precision_names) > 1 else 0,
    }
    dense = {k: w if n_sites * w <= DENSE_CELLS else 0 for k, w in widths.items()}
    site = np.zeros((n_sites, 8))  # 64 bytes a site: see _site_jit.tally
    site[:, 4] = np.inf
    site[:, 5] = -1.0
    brands = np.zeros((n_sites, dense["brands"]), dtype=np.int64)
    weeks = np.zeros((n_sites, dense["weeks"], 2))
    levels = np.zeros((n_sites, dense["levels"]), dtype=np.int64)
    codes = (ways.point, point_label, ways.seller, ways.brand, ways.day_code, ways.precision)
    tables = (ratio[ways.operator_of_seller], suspect_brand.astype(float), ways.day_of, week_of)
    args = (*map(frozen, (*codes, ways.value, *tables)), site, brands, weeks, levels)
    seller_keys = _run(args, _bounds(point_label, weight, n_sites))
    width = max(len(ways.seller_names), 1)
    wide = {k for k in dense if widths[k] and not dense[k]}
    dated = site[:, 5] >= 0
    return Tally(
        n_shipments=site[:, 0].astype(np.int64),
        value=site[:, 1].copy(),
        evidence=site[:, 2].copy(),
        suspect=site[:, 3].copy(),
        first_day=np.where(dated, site[:, 4], 0).astype(np.int64),
        last_day=site[:, 5].astype(np.int64),
        sellers=(seller_keys // width, seller_keys % width),
        brands=_hashed(ways, point_label, "brands") if "brands" in wide else _sparse(brands),
        levels=_hashed(ways, point_label, "levels") if "levels" in wide else _sparse(levels),
        weeks=_hashed(ways, point_label, "weeks", week_of, base)
        if "weeks" in wide
        else _weeks(weeks, base),
    )


def _week_columns(day_of: np.ndarray) -> tuple[np.ndarray, int]:
    """Per day code its week's column (-1 for no date), and the first week's number
    (weeks since the Monday 1969-12-29; 1970-01-01 was a Thursday)."""
    week = np.where(day_of >= 0, (day_of + 3) // 7, -1)
    base = int(week[week >= 0].min()) if (week >= 0).any() else 0
    return np.where(week >= 0, week - base, -1), base


def _bounds(point_label: np.ndarray, weight: np.ndarray, n_sites: int) -> list[tuple[int, int]]:
    """Site ranges of about equal waybills, one per thread."""
    n = int(weight.sum())
    few = n < _site_waybills.PARALLEL_MIN_WAYBILLS or n_sites < 2
    threads = 1 if few else _site_waybills.threads()
    if threads == 1:
        return [(0, n_sites)]
    inside = point_label >= 0
    per_site = np.bincount(point_label[inside], weight[inside], minlength=n_sites)
    cuts = np.searchsorted(np.cumsum(per_site), np.arange(1, threads) * per_site.sum() / threads)
    edges = np.unique(np.concatenate([[0], np.minimum(cuts + 1, n_sites), [n_sites]]))
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _run(args: tuple[object, ...], bounds: list[tuple[int, int]]) -> np.ndarray:
    """The tally kernel over each site range (on threads when several); seller keys."""
    keys = each(kernels().tally, [(*b, *args) for b in bounds])
    return np.sort(np.concatenate(keys))


def _sparse(table: np.ndarray) -> Pairs:
    """(site, code, count) of the non-zero cells, sorted by site then code."""
    site, code = np.nonzero(table)
    return site, code, table[site, code]


def _weeks(weeks: np.ndarray, base: int) -> Pairs:
    """(site, week, waybills, value) of the weeks with waybills, sorted."""
    site, week = np.nonzero(weeks[:, :, 0])
    return site, week + base, weeks[site, week, 0].astype(np.int64), weeks[site, week, 1]


def _hashed(
    ways: Waybills,
    point_label: np.ndarray,
    kind: str,
    code_of: np.ndarray | None = None,
    base: int = 0,
) -> Pairs:
    """(site, code, waybills[, value]) through a hash table: for wide tables."""
    raw = {"brands": ways.brand, "levels": ways.precision, "weeks": ways.day_code}[kind]
    n_codes = {"brands": len(ways.brand_names), "levels": len(ways.precision_names)}
    width = int(code_of.max(initial=0)) + 1 if code_of is not None else n_codes[kind]
    table = np.arange(width, dtype=np.int64) if code_of is None else code_of.astype(np.int64)
    has_value = kind == "weeks" and ways.has_value
    keys, counts, sums = kernels().pair_counts(
        frozen(ways.point),
        frozen(point_label),
        frozen(raw),
        frozen(table),
        width,
        frozen(ways.value if has_value else np.empty(0)),
    )
    order = np.argsort(keys)
    keys, counts, sums = keys[order], counts[order], sums[order]
    if kind == "weeks":
        return keys // width, keys % width + base, counts, sums
    return keys // width, keys % width, counts
