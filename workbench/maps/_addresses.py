"""Seller addresses for a map that shows them one by one in a view, binned on a grid when many.

At platform scale a case holds tens of thousands of warehouse and return addresses; a page
carrying each of them weighs megabytes and takes seconds to paint, for rings that overlap at
country zoom anyway. :class:`AddressIndex` keeps them as arrays and answers a view with
either the addresses in it (:func:`~workbench.maps._data.location_payload`) or, above a
limit, one ring per grid cell with how many addresses of each kind it holds and whose.
Strings stay JSON string values, as in every other payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.maps import _data as data
from workbench.maps._index import _within

__all__ = ["AddressIndex"]


class AddressIndex:
    """The located addresses of ``locations`` (seller_id, kind, address, lat, lon).

    ``names``: seller_id -> display name. Rows without a valid position are left out, as
    :func:`~workbench.maps._data.location_payload` leaves them out.
    """

    def __init__(self, locations: pd.DataFrame, names: Mapping[str, str]) -> None:
        lat, lon, valid = data.coordinates(locations)
        keep = valid.to_numpy(bool)
        self.rows = locations[keep].reset_index(drop=True)
        self.lat, self.lon = lat.to_numpy()[keep], lon.to_numpy()[keep]
        self.names = names
        kind = [data.text(k) or "" for k in self.rows["kind"].tolist()]
        seller = [data.text(s) or "" for s in self.rows["seller_id"].tolist()]
        self.kind, kinds = pd.factorize(pd.Series(kind, dtype=object), sort=False)
        self.kinds = [str(k) for k in kinds]
        self.seller, sellers = pd.factorize(pd.Series(seller, dtype=object), sort=False)
        self.seller_ids = [str(s) for s in sellers]

    def __len__(self) -> int:
        return len(self.rows)

    def payload(
        self, max_points: int, bounds: Sequence[Sequence[float]] | None = None
    ) -> tuple[dict[str, Any], float | None]:
        """The addresses (in ``bounds``, [[south, west], [north, east]], when given) as a
        payload for the page, and the grid cell in degrees they were binned to (None: one
        ring per address). Binned when there are more than ``max_points``."""
        chosen = np.arange(len(self.rows))
        if bounds is not None:
            chosen = chosen[_within(self.lat, self.lon, bounds)]
        if len(chosen) <= max_points:
            return data.location_payload(self.rows.iloc[chosen], dict(self.names)), None
        cell = data.grid_cell(self.lat[chosen], self.lon[chosen], max_points)
        return self._binned(chosen, cell), cell

    def _binned(self, chosen: np.ndarray, cell: float) -> dict[str, Any]:
        """One ring per grid cell: its mean position, count, count per kind, sellers."""
        lat, lon = self.lat[chosen], self.lon[chosen]
        key = np.floor(lat / cell).astype(np.int64) * 1_000_000_000 + np.floor(lon / cell).astype(
            np.int64
        )
        group, _ = pd.factorize(key)
        n_groups = int(group.max()) + 1
        count = np.bincount(group, minlength=n_groups)
        mean_lat = np.bincount(group, lat, n_groups) / count
        mean_lon = np.bincount(group, lon, n_groups) / count
        kind = self.kind[chosen]
        per_kind = np.zeros((n_groups, len(self.kinds)), np.int64)
        np.add.at(per_kind, (group, kind), 1)
        order = np.lexsort((mean_lon, mean_lat, -count))  # most addresses first
        seller_names, who, sellers = self._sellers(group, self.seller[chosen], n_groups)
        return {
            "kinds": self.kinds,
            "cls": [k if k in data.LOCATION_COLOURS else "other" for k in self.kinds],
            "colours": [data.LOCATION_COLOURS.get(k, data.UNLINKED_COLOUR) for k in self.kinds],
            "grid": cell,
            "lat": mean_lat[order].round(6).tolist(),
            "lon": mean_lon[order].round(6).tolist(),
            "count": count[order].tolist(),
            "kind": per_kind.argmax(axis=1)[order].tolist(),
            "kind_counts": per_kind[order].tolist(),
            "sellers": sellers[order].tolist(),
            "seller_names": seller_names,
            "who": [who[g] for g in order],
            "more": (sellers[order] - np.array([len(who[g]) for g in order], np.int64)).tolist(),
        }

    def _sellers(
        self, group: np.ndarray, seller: np.ndarray, n_groups: int
    ) -> tuple[list[str], list[list[int]], np.ndarray]:
        """Per cell: up to MAX_NAMES_PER_POINT sellers (most addresses there first, then by
        name) as indexes into the returned names, and how many sellers in all."""
        pairs = pd.DataFrame({"g": group, "s": seller}).value_counts().reset_index()
        pairs["name"] = [self.names.get(self.seller_ids[s], self.seller_ids[s]) for s in pairs["s"]]
        pairs = pairs.sort_values(["g", "count", "name"], ascending=[True, False, True])
        sellers = np.bincount(pairs["g"].to_numpy(), minlength=n_groups).astype(np.int64)
        top = pairs.groupby("g", sort=False).head(data.MAX_NAMES_PER_POINT)
        names = sorted(set(top["name"]))
        index = {name: i for i, name in enumerate(names)}
        who: list[list[int]] = [[] for _ in range(n_groups)]
        for g, name in zip(top["g"].tolist(), top["name"].tolist(), strict=True):
            who[g].append(index[name])
        return names, who, sellers
