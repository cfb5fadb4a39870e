"""Ship-from points as integer codes, so a million waybills filter and aggregate in milliseconds.

:class:`WaybillIndex` reads the shipments once: every waybill gets the code of its rounded
coordinate (1e-6 degree), of its seller, of its (coordinate, seller) pair, brand, day and
network. A filter is then a boolean mask over those codes, and drawing it is a handful of
``np.bincount`` calls over the pairs that are left, not a pandas group-by over the waybills.
The explorer widget re-aggregates on every filter change and every zoom this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from workbench.maps._data import (
    MAX_NAMES_PER_POINT,
    UNKNOWN_SELLER,
    PointSummary,
    coordinates,
    grid_cell,
)

_NO_DAY = np.iinfo(np.int64).min
# one int64 key per coordinate at 1e-6 degree: (lat + 90) * 360e6 + (lon + 180), no overlap
_LON_SPAN = 360_000_001


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


def _codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for missing) and the labels they stand for."""
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int32), [str(u) for u in uniques]


class WaybillIndex:
    """The waybills with valid coordinates, as codes (see the module docstring).

    Parameters
    ----------
    shipments : DataFrame with seller_id, lat, lon and optionally brand and shipped_at.
    names : seller_id -> display name.
    network_of : seller_id -> network_id of linked sellers.

    Attributes
    ----------
    rows : positions (in ``shipments``) of the waybills indexed; the masks are over these.
    brands, networks : the labels a filter can name (sorted).
    """

    def __init__(
        self, shipments: pd.DataFrame, names: dict[str, str], network_of: dict[str, str]
    ) -> None:
        lat, lon, valid = coordinates(shipments)
        self.rows = np.flatnonzero(valid.to_numpy())
        lat6 = lat.to_numpy()[self.rows].round(6)
        lon6 = lon.to_numpy()[self.rows].round(6)
        loc, self.loc_key = pd.factorize(_keys(lat6, lon6))
        self.loc = loc.astype(np.int32)
        n_loc = int(loc.max()) + 1 if len(loc) else 0
        self.loc_lat = np.zeros(n_loc)
        self.loc_lon = np.zeros(n_loc)
        self.loc_lat[loc] = lat6
        self.loc_lon[loc] = lon6
        self.n_skipped = int(len(shipments) - len(self.rows))

        sellers = shipments["seller_id"].iloc[self.rows]
        seller, uniques = pd.factorize(sellers, use_na_sentinel=False)
        self.seller = seller.astype(np.int32)
        self.seller_ids = [UNKNOWN_SELLER if pd.isna(s) else str(s) for s in uniques]
        self.seller_names = np.array([names.get(s, s) for s in self.seller_ids], dtype=object)
        self.name_rank = pd.Series(self.seller_names).rank(method="dense").to_numpy()
        net_codes, self.network_ids = _codes(
            pd.Series([network_of.get(s) for s in self.seller_ids], dtype=object)
        )
        self.seller_network = net_codes

        n_sellers = max(len(self.seller_ids), 1)
        pair, pair_keys = pd.factorize(self.loc.astype(np.int64) * n_sellers + self.seller)
        self.pair = pair.astype(np.int32)
        self.pair_loc = (pair_keys // n_sellers).astype(np.int32)
        self.pair_seller = (pair_keys % n_sellers).astype(np.int32)
        self._all_counts = np.bincount(self.pair, minlength=len(pair_keys))

        self.brand_code, self.brand_ids = self._optional_codes(shipments, "brand")
        self.day = self._days(shipments)
        self.brands = sorted(set(self.brand_ids))
        self.networks = sorted(set(self.network_ids))

    def _optional_codes(self, shipments: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
        if column not in shipments:
            return np.full(len(self.rows), -1, dtype=np.int32), []
        return _codes(shipments[column].iloc[self.rows])

    def _days(self, shipments: pd.DataFrame) -> np.ndarray | None:
        if "shipped_at" not in shipments:
            return None
        when = pd.to_datetime(shipments["shipped_at"].iloc[self.rows], errors="coerce")
        days = when.to_numpy().astype("datetime64[D]").astype(np.int64)
        days[when.isna().to_numpy()] = _NO_DAY
        return days

    def __len__(self) -> int:
        return len(self.rows)

    # -- filters --------------------------------------------------------------------------
    def mask(self, filters: Filters) -> np.ndarray | None:
        """Boolean mask over :attr:`rows` for ``filters``; None when nothing is filtered."""
        keep: np.ndarray | None = None

        def narrow(part: np.ndarray) -> None:
            nonlocal keep
            keep = part if keep is None else keep & part

        if filters.brands:
            wanted = [i for i, b in enumerate(self.brand_ids) if b in set(filters.brands)]
            narrow(np.isin(self.brand_code, wanted))
        if filters.networks:
            wanted = [i for i, n in enumerate(self.network_ids) if n in set(filters.networks)]
            narrow(np.isin(self.seller_network[self.seller], wanted))
        if (filters.start is not None or filters.end is not None) and self.day is not None:
            if filters.start is not None:
                narrow(self.day >= _day(filters.start))
            if filters.end is not None:
                narrow((self.day <= _day(filters.end)) & (self.day != _NO_DAY))
        return keep

    def locations_inside(self, polygon: shapely.Geometry) -> np.ndarray:
        """Boolean per coordinate code: inside (or on the edge of) ``polygon`` (lon/lat)."""
        return shapely.intersects_xy(polygon, self.loc_lon, self.loc_lat)

    def locations_at(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Boolean per coordinate code: one of these points (compared at 1e-6 degree)."""
        return np.isin(self.loc_key, _keys(np.asarray(lat, float), np.asarray(lon, float)))

    def waybills_at(self, locations: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Positions in ``shipments`` of the (filtered) waybills at these coordinate codes."""
        hit = locations[self.loc]
        if mask is not None:
            hit &= mask
        return self.rows[hit]

    # -- aggregation ----------------------------------------------------------------------
    def summary(
        self,
        mask: np.ndarray | None = None,
        *,
        max_points: int = 20_000,
        bounds: Sequence[Sequence[float]] | None = None,
    ) -> PointSummary:
        """Markers for the waybills in ``mask``: unique coordinates, or a grid when too many.

        ``bounds`` ([[south, west], [north, east]]) keeps only coordinates inside it, so a
        zoomed-in view can show single points where the whole map needs grid cells.
        """
        counts = (
            self._all_counts
            if mask is None
            else np.bincount(self.pair[mask], minlength=len(self._all_counts))
        )
        live = np.flatnonzero(counts)
        p_loc, p_seller, p_n = self.pair_loc[live], self.pair_seller[live], counts[live]
        if bounds is not None:
            inside = _within(self.loc_lat[p_loc], self.loc_lon[p_loc], bounds)
            p_loc, p_seller, p_n = p_loc[inside], p_seller[inside], p_n[inside]
        locations = np.unique(p_loc)
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
        order = np.lexsort((net, -sums, g))  # most shipments first, then lowest code
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


def _keys(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """One int64 per coordinate rounded to 1e-6 degree."""
    y = np.rint((lat.round(6) + 90.0) * 1e6).astype(np.int64)
    return y * _LON_SPAN + np.rint((lon.round(6) + 180.0) * 1e6).astype(np.int64)


def _day(value: pd.Timestamp | str) -> int:
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))


def _within(lat: np.ndarray, lon: np.ndarray, bounds: Sequence[Sequence[float]]) -> np.ndarray:
    (south, west), (north, east) = bounds
    inside_lat = (lat >= south) & (lat <= north)
    if west <= east:
        return inside_lat & (lon >= west) & (lon <= east)
    return inside_lat & ((lon >= west) | (lon <= east))  # the view crosses the antimeridian
