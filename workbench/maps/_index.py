"""Waybill counts as integer codes, so ten million waybills filter and aggregate in milliseconds.

:class:`WaybillIndex` reads counts, not waybills: one row per (coordinate, seller, brand, day)
with the number of waybills ``n`` (the case's :meth:`~workbench.case._case.Case.waybill_cells`;
:meth:`WaybillIndex.from_shipments` counts a frame of waybills the same way, one row each).
Every row gets the code of its rounded coordinate (1e-6 degree), of its seller, of its
(coordinate, seller) pair, brand and day. A filter is a boolean mask over those codes, and
drawing it is a handful of ``np.bincount`` calls weighted by ``n`` over the pairs that are
left, not a pandas group-by over the waybills. The explorer re-aggregates on every filter
change and every zoom this way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from workbench.maps._data import (
    MAX_NAMES_PER_POINT,
    UNKNOWN_SELLER,
    PointSummary,
    coordinates,
    grid_cell,
)

_NO_DAY = np.iinfo(np.int32).min
# one int64 key per coordinate at 1e-6 degree: (lat + 90) * 360e6 + (lon + 180), no overlap
_LON_SPAN = 360_000_001
_CACHED_FILTERS = 4  # pair counts kept for the last few filters (zooms reuse them)


@dataclass(frozen=True)
class Filters:
    """What the map shows: empty tuples and None mean no restriction.

    brands, networks : keep waybills of these brands / of sellers in these networks.
    start, end : keep waybills shipped on these days or between them (inclusive).
    min_score : sites below this score are hidden (waybills are not affected).
    """

    brands: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    min_score: float = 0.0


class WaybillIndex:
    """Waybill counts with valid coordinates, as codes (see the module docstring).

    Parameters
    ----------
    cells : Arrow table with lat, lon, seller_id, n and optionally brand and day (date32):
        ``n`` waybills at that coordinate, of that seller, brand and day. A cell may repeat
        (its counts add up); null or out-of-range coordinates are counted in ``n_skipped``.
    names : seller_id -> display name.
    network_of : seller_id -> network_id of linked sellers.

    Attributes
    ----------
    n_waybills : waybills indexed (those with valid coordinates).
    n_skipped : waybills left out for want of valid coordinates.
    brands, networks : the labels a filter can name (sorted).
    """

    def __init__(
        self, cells: pa.Table, names: Mapping[str, str], network_of: Mapping[str, str]
    ) -> None:
        cells = cells.unify_dictionaries()
        lat, lon, n = _floats(cells, "lat"), _floats(cells, "lon"), _floats(cells, "n")
        valid = (lat >= -90) & (lat <= 90) & (lon >= -180) & (lon <= 180)
        self.n_skipped = round(float(n[~valid].sum()))
        keep = None if valid.all() else np.flatnonzero(valid)
        if keep is not None:
            lat, lon, n = lat[keep], lon[keep], n[keep]
        self.n = n  # waybills per row (float64: the weights of every bincount)
        self.n_waybills = round(float(n.sum()))
        self._locations(lat, lon)

        self.seller, self.seller_ids = _labelled_codes(cells["seller_id"], keep, UNKNOWN_SELLER)
        self.seller_names = np.array([names.get(s, s) for s in self.seller_ids], dtype=object)
        self.name_rank = pd.Series(self.seller_names).rank(method="dense").to_numpy()
        self.seller_network, self.network_ids = _network_codes(self.seller_ids, network_of)

        n_sellers = max(len(self.seller_ids), 1)
        pair, pair_keys = pd.factorize(self.loc.astype(np.int64) * n_sellers + self.seller)
        self.pair = pair.astype(np.int32)
        self.pair_loc = (pair_keys // n_sellers).astype(np.int32)
        self.pair_seller = (pair_keys % n_sellers).astype(np.int32)
        self._all_counts = _weighted_counts(self.pair, self.n, len(pair_keys))
        self._counts: OrderedDict[Filters, np.ndarray] = OrderedDict()  # the last few filters

        if "brand" in cells.column_names:
            self.brand_code, self.brand_ids = _labelled_codes(cells["brand"], keep, None)
        else:
            self.brand_code, self.brand_ids = np.full(len(n), -1, np.int32), []
        self.day = _days(cells["day"], keep) if "day" in cells.column_names else None
        self.brands = list(self.brand_ids)
        self.networks = list(self.network_ids)

    def _locations(self, lat: np.ndarray, lon: np.ndarray) -> None:
        """Coordinate codes (``loc``) and each code's coordinate rounded to 1e-6 degree."""
        loc, self.loc_key = pd.factorize(coordinate_keys(lat, lon))
        self.loc = loc.astype(np.int32)
        micro_lat, micro_lon = np.divmod(self.loc_key, _LON_SPAN)
        # the same floats as lat.round(6): numpy rounds as rint(x * 1e6) / 1e6
        self.loc_lat = (micro_lat - 90_000_000) / 1e6
        self.loc_lon = (micro_lon - 180_000_000) / 1e6

    @classmethod
    def from_shipments(
        cls, shipments: pd.DataFrame, names: Mapping[str, str], network_of: Mapping[str, str]
    ) -> WaybillIndex:
        """The index of a frame of waybills (seller_id, lat, lon; brand and shipped_at when
        present): each waybill one row with ``n`` = 1."""
        lat, lon, _ = coordinates(shipments)
        columns: dict[str, pa.Array] = {
            "lat": pa.array(lat.to_numpy()),
            "lon": pa.array(lon.to_numpy()),
            "seller_id": _dictionary(shipments["seller_id"]),
            "n": pa.array(np.ones(len(shipments), np.int32)),
        }
        if "brand" in shipments:
            columns["brand"] = _dictionary(shipments["brand"])
        if "shipped_at" in shipments:
            columns["day"] = shipment_days(shipments["shipped_at"])
        return cls(pa.table(columns), names, network_of)

    # -- filters --------------------------------------------------------------------------
    def mask(self, filters: Filters) -> np.ndarray | None:
        """Boolean mask over the rows for ``filters``; None when nothing is filtered."""
        return _mask(
            filters,
            brand=self.brand_code,
            brand_ids=self.brand_ids,
            seller=self.seller,
            seller_network=self.seller_network,
            network_ids=self.network_ids,
            day=self.day,
        )

    def pair_counts(self, filters: Filters | None = None) -> np.ndarray:
        """Waybills per (coordinate, seller) pair passing ``filters`` (kept for a few filters)."""
        key = replace(filters or Filters(), min_score=0.0)
        if key in self._counts:
            self._counts.move_to_end(key)
            return self._counts[key]
        mask = self.mask(key)
        if mask is None:
            return self._all_counts
        counts = _weighted_counts(self.pair, np.where(mask, self.n, 0.0), len(self.pair_loc))
        self._counts[key] = counts
        if len(self._counts) > _CACHED_FILTERS:
            self._counts.popitem(last=False)
        return counts

    def count(self, filters: Filters | None = None) -> int:
        """How many waybills pass ``filters``."""
        return int(self.pair_counts(filters).sum())

    def locations_inside(self, polygon: shapely.Geometry) -> np.ndarray:
        """Boolean per coordinate code: inside (or on the edge of) ``polygon`` (lon/lat)."""
        west, south, east, north = polygon.bounds
        inside = (
            (self.loc_lat >= south)
            & (self.loc_lat <= north)
            & (self.loc_lon >= west)
            & (self.loc_lon <= east)
        )
        candidates = np.flatnonzero(inside)
        inside[candidates] = shapely.intersects_xy(
            polygon, self.loc_lon[candidates], self.loc_lat[candidates]
        )
        return inside

    def locations_at(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Boolean per coordinate code: one of these points (compared at 1e-6 degree)."""
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        return np.isin(self.loc_key, coordinate_keys(lat, lon))

    def sellers_at(self, locations: np.ndarray, filters: Filters | None = None) -> pd.DataFrame:
        """Per seller shipping from these coordinate codes (boolean per code): seller_id,
        n_shipments there (passing ``filters``) and lat, lon of the code it ships most from
        (ties: lowest lat, then lon). Most shipments first, then by seller_id."""
        counts = self.pair_counts(filters)
        live = np.flatnonzero((counts > 0) & locations[self.pair_loc])
        p_loc, p_seller = self.pair_loc[live], self.pair_seller[live]
        p_n = counts[live].astype(np.int64)
        lat, lon = self.loc_lat[p_loc], self.loc_lon[p_loc]
        order = np.lexsort((lon, lat, -p_n, p_seller))  # per seller: most shipments first
        first = (
            order[np.r_[True, p_seller[order][1:] != p_seller[order][:-1]]] if len(live) else order
        )
        totals = np.bincount(p_seller, weights=p_n, minlength=len(self.seller_ids))
        frame = pd.DataFrame(
            {
                "seller_id": pd.array([self.seller_ids[s] for s in p_seller[first]], dtype=object),
                "n_shipments": totals[p_seller[first]].astype(np.int64),
                "lat": lat[first],
                "lon": lon[first],
            }
        )
        return frame.sort_values(["n_shipments", "seller_id"], ascending=[False, True],
                                 ignore_index=True)  # fmt: skip

    # -- aggregation ----------------------------------------------------------------------
    def summary(
        self,
        filters: Filters | None = None,
        *,
        max_points: int = 20_000,
        bounds: Sequence[Sequence[float]] | None = None,
    ) -> PointSummary:
        """Markers for the waybills passing ``filters``: unique coordinates, or a grid when
        too many.

        ``bounds`` ([[south, west], [north, east]]) keeps only coordinates inside it, so a
        zoomed-in view can show single points where the whole map needs grid cells.
        """
        counts = self.pair_counts(filters)
        live = np.flatnonzero(counts)
        p_loc, p_seller, p_n = self.pair_loc[live], self.pair_seller[live], counts[live]
        if bounds is not None:
            inside = _within(self.loc_lat[p_loc], self.loc_lon[p_loc], bounds)
            p_loc, p_seller, p_n = p_loc[inside], p_seller[inside], p_n[inside]
        locations = np.flatnonzero(np.bincount(p_loc, minlength=len(self.loc_key)))
        cell: float | None = None
        group = p_loc.astype(np.int64)
        if len(locations) > max_points:
            cell = grid_cell(self.loc_lat[locations], self.loc_lon[locations], max_points)
            gy = np.floor(self.loc_lat[p_loc] / cell).astype(np.int64)
            gx = np.floor(self.loc_lon[p_loc] / cell).astype(np.int64)
            group = gy * 100_000_000 + gx
        points = self._points(group, p_loc, p_seller, p_n)
        return PointSummary(points, len(locations), self.n_skipped, cell)

    def _points(
        self, group: np.ndarray, p_loc: np.ndarray, p_seller: np.ndarray, p_n: np.ndarray
    ) -> pd.DataFrame:
        """One row per group: the columns of :class:`PointSummary.points`."""
        n_sellers = max(len(self.seller_ids), 1)
        merged, merged_keys = pd.factorize(group * n_sellers + p_seller)  # (group, seller)
        n = np.bincount(merged, weights=p_n).astype(np.int64)
        wlat = np.bincount(merged, weights=p_n * self.loc_lat[p_loc])
        wlon = np.bincount(merged, weights=p_n * self.loc_lon[p_loc])
        gi, _ = pd.factorize(merged_keys // n_sellers)
        seller = (merged_keys % n_sellers).astype(np.int64)
        n_groups = int(gi.max()) + 1 if len(gi) else 0
        shipments = np.bincount(gi, weights=n, minlength=n_groups).astype(np.int64)
        points = pd.DataFrame(
            {
                "lat": (np.bincount(gi, wlat, n_groups) / np.maximum(shipments, 1)).round(6),
                "lon": (np.bincount(gi, wlon, n_groups) / np.maximum(shipments, 1)).round(6),
                "shipments": shipments,
                "sellers": np.bincount(gi, minlength=n_groups).astype(np.int64),
            }
        )
        network = self.seller_network[seller]
        points["networks"], dominant = self._networks(gi, network, n, n_groups)
        points["network"] = pd.Series(dominant, dtype=object)
        points["names"] = pd.Series(self._names(gi, seller, n, n_groups), dtype=object)
        points["more"] = points["sellers"] - points["names"].map(len)
        return points.sort_values(
            ["shipments", "lat", "lon"], ascending=[False, True, True], ignore_index=True
        )

    def _networks(
        self, gi: np.ndarray, network: np.ndarray, n: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, list[str | None]]:
        """Per group: how many networks ship from it, and the one with most shipments."""
        linked = network >= 0
        n_net = max(len(self.network_ids), 1)
        pair, keys = pd.factorize(gi[linked].astype(np.int64) * n_net + network[linked])
        sums = np.bincount(pair, weights=n[linked]) if len(pair) else np.zeros(0)
        g, net = keys // n_net, keys % n_net
        count = np.bincount(g, minlength=n_groups).astype(np.int64)
        order = np.lexsort((net, -sums, g))  # most shipments first, then lowest id
        first = order[np.r_[True, g[order][1:] != g[order][:-1]]] if len(order) else order
        dominant: list[str | None] = [None] * n_groups
        for gg, code in zip(g[first], net[first], strict=True):
            dominant[int(gg)] = self.network_ids[int(code)]
        return count, dominant

    def _names(
        self, gi: np.ndarray, seller: np.ndarray, n: np.ndarray, n_groups: int
    ) -> list[list[str]]:
        """Per group: up to five seller names, most shipments first (ties by name)."""
        order = np.lexsort((self.name_rank[seller], -n, gi))
        g_sorted = gi[order]
        starts = np.r_[0, np.flatnonzero(g_sorted[1:] != g_sorted[:-1]) + 1]
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        top = order[rank < MAX_NAMES_PER_POINT] if len(order) else order
        names: list[list[str]] = [[] for _ in range(n_groups)]
        for gg, s in zip(gi[top], seller[top], strict=True):
            names[int(gg)].append(str(self.seller_names[s]))
        return names


# -- waybill rows -------------------------------------------------------------------------------
def rows_passing(
    shipments: pd.DataFrame, filters: Filters, network_of: Mapping[str, str]
) -> np.ndarray | None:
    """Boolean per waybill of ``shipments`` (seller_id, brand, shipped_at): passes ``filters``
    by the same rule as :meth:`WaybillIndex.mask`; None when nothing is filtered."""
    seller, seller_ids = pd.factorize(shipments["seller_id"])
    seller_network, networks = _network_codes([str(s) for s in seller_ids], network_of)
    brand, brand_ids = (
        pd.factorize(shipments["brand"]) if "brand" in shipments else (None, pd.Index([]))
    )
    has_days = "shipped_at" in shipments
    return _mask(
        filters,
        brand=np.full(len(shipments), -1, np.int32) if brand is None else brand,
        brand_ids=[str(b) for b in brand_ids],
        seller=np.where(seller < 0, len(seller_ids), seller),
        seller_network=np.append(seller_network, -1),  # the last code: no seller id
        network_ids=networks,
        day=_days(shipment_days(shipments["shipped_at"]), None) if has_days else None,
    )


def shipment_days(shipped_at: pd.Series) -> pa.Array:
    """The day of each waybill (date32, null when unknown), as the case counts them."""
    when = pd.to_datetime(shipped_at, errors="coerce")
    if isinstance(when.dtype, pd.DatetimeTZDtype):
        when = when.dt.tz_convert("UTC").dt.tz_localize(None)
    return pa.array(when.to_numpy().astype("datetime64[ms]"), mask=when.isna().to_numpy()).cast(
        pa.date32()
    )


def coordinate_keys(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """One int64 per coordinate rounded to 1e-6 degree (valid coordinates only): its
    micro-degrees north of -90 times ``_LON_SPAN``, plus those east of -180."""
    # in place where numpy allows: on a fresh process every new array of millions of rows
    # is paid in page faults (ten temporaries at 10M cost 0.3 s; these three, 0.1 s)
    scaled = np.multiply(np.asarray(lat, float), 1e6)
    keys = np.rint(scaled, out=scaled).astype(np.int64)
    keys += 90_000_000
    keys *= _LON_SPAN
    np.multiply(np.asarray(lon, float), 1e6, out=scaled)
    east = np.rint(scaled, out=scaled).astype(np.int64)
    east += 180_000_000
    keys += east
    return keys


# -- helpers --------------------------------------------------------------------------------
def _mask(
    filters: Filters,
    *,
    brand: np.ndarray,
    brand_ids: Sequence[str],
    seller: np.ndarray,
    seller_network: np.ndarray,
    network_ids: Sequence[str],
    day: np.ndarray | None,
) -> np.ndarray | None:
    """The filter rule, over codes: brand and seller codes index their labels (-1: none)."""
    keep: np.ndarray | None = None

    def narrow(part: np.ndarray) -> None:
        nonlocal keep
        keep = part if keep is None else keep & part

    if filters.brands:
        # one lookup per row; the last entry answers code -1 (no brand)
        wanted = np.append(np.isin(np.asarray(brand_ids, dtype=object), filters.brands), False)
        narrow(wanted[brand])
    if filters.networks:
        linked = np.append(np.isin(np.asarray(network_ids, dtype=object), filters.networks), False)
        narrow(linked[seller_network][seller])
    if (filters.start is not None or filters.end is not None) and day is not None:
        if filters.start is not None:
            narrow(day >= _day(filters.start))
        if filters.end is not None:
            narrow((day <= _day(filters.end)) & (day != _NO_DAY))
    return keep


def _network_codes(
    seller_ids: Sequence[str], network_of: Mapping[str, str]
) -> tuple[np.ndarray, list[str]]:
    """Per seller, the code of its network (-1: unlinked), and the networks (sorted)."""
    networks = [network_of.get(s) for s in seller_ids]
    ids = sorted({n for n in networks if n is not None})
    code_of = {net: i for i, net in enumerate(ids)}
    codes = [-1 if n is None else code_of[n] for n in networks]
    return np.array(codes, dtype=np.int32), ids


def _weighted_counts(codes: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    return np.rint(np.bincount(codes, weights=weights, minlength=length)).astype(np.int64)


def _floats(cells: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64 (nulls: NaN)."""
    column = cells[name]
    if not pa.types.is_floating(column.type):
        column = column.cast(pa.float64())
    return column.to_numpy()


def _labelled_codes(
    column: pa.ChunkedArray, keep: np.ndarray | None, null_label: str | None
) -> tuple[np.ndarray, list[str]]:
    """Per row (of ``keep``), the code of its label among the labels present, sorted.

    Read from the dictionary indices: no string is hashed per row. A null becomes
    ``null_label`` (code -1 when that is None)."""
    if not pa.types.is_dictionary(column.type):
        column = pa.chunked_array([column.combine_chunks().dictionary_encode()])
    chunks = column.chunks
    dictionary = chunks[0].dictionary if chunks else pa.array([], pa.string())
    missing = len(dictionary)
    index = np.concatenate(
        [pc.fill_null(c.indices.cast(pa.int32()), missing).to_numpy() for c in chunks]
        or [np.zeros(0, np.int32)]
    )
    if keep is not None:
        index = index[keep]
    labels = [None if v is None else str(v) for v in dictionary.to_pylist()] + [None]
    present = np.flatnonzero(np.bincount(index, minlength=len(labels)))
    named = {labels[i] if labels[i] is not None else null_label for i in present}
    ordered = sorted(label for label in named if label is not None)
    code_of = {label: i for i, label in enumerate(ordered)}
    remap = np.full(len(labels), -1, np.int32)
    for i in present:
        label = labels[i] if labels[i] is not None else null_label
        remap[i] = code_of.get(label, -1) if label is not None else -1
    return remap[index], ordered


def _dictionary(values: pd.Series) -> pa.DictionaryArray:
    """A column as a dictionary array of strings (missing: null)."""
    codes, uniques = pd.factorize(values)
    labels = pa.array([str(u) for u in uniques], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32(), mask=codes < 0), labels)


def _days(day: pa.ChunkedArray | pa.Array, keep: np.ndarray | None) -> np.ndarray:
    """Days since 1970 as int32 (unknown: the smallest int32)."""
    out = pc.fill_null(day.cast(pa.int32()), _NO_DAY).to_numpy()
    return out if keep is None else out[keep]


def _day(value: pd.Timestamp | str) -> int:
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))


def _within(lat: np.ndarray, lon: np.ndarray, bounds: Sequence[Sequence[float]]) -> np.ndarray:
    (south, west), (north, east) = bounds
    inside_lat = (lat >= south) & (lat <= north)
    if west <= east:
        return inside_lat & (lon >= west) & (lon <= east)
    return inside_lat & ((lon >= west) | (lon <= east))  # the view crosses the antimeridian
