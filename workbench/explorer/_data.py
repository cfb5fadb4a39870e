"""The explorer's data: one case read once, then filters, selections and site details.

No widgets here: :mod:`workbench.explorer._screen` calls these functions from its observers, and the
tests call them directly. Every string that reaches HTML goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from workbench.errors import InputError
from workbench.maps import _data as data
from workbench.maps._index import Filters, WaybillIndex

if TYPE_CHECKING:  # pragma: no cover
    from workbench.case._case import Case

TABLE_COLUMNS: tuple[dict[str, Any], ...] = (
    {"key": "rank", "label": "#", "numeric": True},
    {"key": "site_id", "label": "Site", "numeric": False},
    {"key": "score", "label": "Score", "numeric": True},
    {"key": "label", "label": "Label", "numeric": False},
    {"key": "n_shipments", "label": "Shipments", "numeric": True},
    {"key": "n_sellers", "label": "Sellers", "numeric": True},
    {"key": "brands", "label": "Brands", "numeric": False},
    {"key": "jurisdiction", "label": "Jurisdiction", "numeric": False},
    {"key": "status", "label": "Status", "numeric": False},
)
SCORE_PARTS = {
    "evidence": "Evidence (counterfeit test buys of its sellers and their networks)",
    "concentration": "Concentration (few operators behind many accounts)",
    "brand_focus": "Brand focus",
    "contrast": "Contrast with the surrounding 2 km",
}
FOUND_BY = {
    "density": "the density pass (the place stands out from its surroundings)",
    "evidence": "the evidence pass (a network with counterfeit verdicts ships from here)",
    "density+evidence": "both the density and the evidence pass",
}


@dataclass
class Selection:
    """What the investigator pointed at on the map.

    shape : the drawn polygon / rectangle, the clicked site's hull or the clicked point.
    shipments : the (filtered) waybills inside it, with their columns from the case.
    sellers : one row per seller with waybills or an address inside: seller_id, name,
        network_id, n_shipments (inside) and the point they ship most from (or their address).
    sites : sites of the run whose centre is inside.
    locations : warehouse / return / registered addresses inside.
    source : "draw", "site" or "point".
    """

    shape: shapely.Geometry
    shipments: gpd.GeoDataFrame
    sellers: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    locations: gpd.GeoDataFrame
    source: str = "draw"
    site_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"<Selection ({self.source}): {len(self.shipments):,} shipments, "
            f"{len(self.sellers):,} sellers, {len(self.sites):,} sites, "
            f"{len(self.locations):,} addresses>"
        )


@dataclass
class CaseData:
    """The tables the explorer draws, read from the case once."""

    shipments: pd.DataFrame
    sellers: pd.DataFrame
    membership: pd.DataFrame
    locations: pd.DataFrame
    evidence: pd.DataFrame
    names: dict[str, str]
    network_of: dict[str, str]
    index: WaybillIndex = field(repr=False)

    @classmethod
    def read(cls, case: Case) -> CaseData:
        shipments = case.waybills()  # a plain frame: no point objects for every waybill
        sellers = case.table("sellers")
        membership = case.table("networks")
        names = {
            str(k): str(v)
            for k, v in zip(sellers["seller_id"], sellers["name"], strict=True)
            if isinstance(v, str) and v
        }
        linked = membership.dropna(subset=["network_id"])
        network_of = dict(
            zip(linked["seller_id"].astype(str), linked["network_id"].astype(str), strict=True)
        )
        return cls(
            shipments=shipments,
            sellers=sellers,
            membership=membership,
            locations=pd.DataFrame(case.table("locations")).drop(columns="geometry"),
            evidence=case.table("evidence"),
            names=names,
            network_of=network_of,
            index=WaybillIndex(shipments, names, network_of),
        )


# -- sites ------------------------------------------------------------------------------------
def visible_sites(sites: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """Sites passing the filters: score, and brand / network / dates when those are set."""
    keep = sites["score"].fillna(0.0) >= filters.min_score
    if filters.brands:
        wanted = set(filters.brands)
        keep &= sites["brands"].map(lambda b: bool(wanted & set(b or ())))
    if filters.networks:
        wanted = set(filters.networks)
        keep &= sites["networks"].map(lambda n: bool(wanted & set(n or ())))
    if filters.start is not None:
        keep &= ~(sites["last_shipped"] < pd.Timestamp(filters.start))
    if filters.end is not None:
        keep &= ~(sites["first_shipped"] > pd.Timestamp(filters.end))
    return sites[keep.to_numpy(bool)]


def jurisdiction_label(site: Any) -> str:
    """'district, prefecture, province' (whatever the gazetteer gave), else the place."""
    parts = [site.get(k) for k in ("district", "prefecture", "province")]
    named = [str(p) for p in parts if isinstance(p, str) and p]
    if not named and isinstance(site.get("place"), str):
        named = [site["place"]]
    return ", ".join(dict.fromkeys(named))


def table_rows(sites: pd.DataFrame) -> list[dict[str, Any]]:
    """One JSON-ready row per site for the site table."""
    rows = []
    for site in sites.to_dict("records"):
        score = data.number(site.get("score"))
        rows.append(
            {
                "site_id": str(site["site_id"]),
                "rank": data.count(site.get("rank")),
                "score": None if score is None else round(score, 1),
                "label": data.text(site.get("label")),
                "n_shipments": data.count(site.get("n_shipments")),
                "n_sellers": data.count(site.get("n_sellers")),
                "brands": ", ".join(data.text_list(site.get("brands"))),
                "jurisdiction": jurisdiction_label(site),
                "status": data.text(site.get("status")) or "unreviewed",
            }
        )
    return rows


# -- selections -------------------------------------------------------------------------------
# Repairing a self-crossing ring costs about n^2.7 (100 random corners: 0.5 s, 200: 3 s):
# only rings small enough to be drawn by hand are repaired, so one event is bounded work.
MAX_REPAIR_CORNERS = 64


def polygon_from_ring(coordinates: Sequence[Sequence[float]]) -> shapely.Polygon:
    """A valid polygon from a drawn ring of [lon, lat] pairs.

    A ring that crosses itself is repaired when it has at most ``MAX_REPAIR_CORNERS``
    corners, and refused otherwise (checking validity is fast; repairing is not).
    """
    ring = [(float(x), float(y)) for x, y in coordinates]
    if len(ring) < 3:
        raise InputError(f"a drawn shape needs at least 3 corners, got {len(ring)}")
    polygon = shapely.Polygon(ring)
    if not polygon.is_valid:
        if len(ring) > MAX_REPAIR_CORNERS:
            raise InputError(
                f"the drawn outline crosses itself and has {len(ring):,} corners (repaired up "
                f"to {MAX_REPAIR_CORNERS}); draw it again without crossing its own edges"
            )
        polygon = shapely.make_valid(polygon)
    return polygon


def select(
    cd: CaseData,
    sites: pd.DataFrame,
    shape: shapely.Geometry,
    mask: np.ndarray | None,
    *,
    source: str = "draw",
    locations_mask: np.ndarray | None = None,
) -> Selection:
    """Everything inside ``shape`` (lon/lat): waybills (filtered by ``mask``), sellers, sites."""
    inside = locations_mask if locations_mask is not None else cd.index.locations_inside(shape)
    rows = cd.index.waybills_at(inside, mask)
    shipments = _points_frame(cd.shipments.iloc[rows].reset_index(drop=True))
    shapely.prepare(shape)
    at = cd.locations
    located = at["lat"].notna() & at["lon"].notna()
    addr_inside = located.to_numpy(bool).copy()
    addr_inside[addr_inside] = shapely.intersects_xy(
        shape, at.loc[located, "lon"].to_numpy(float), at.loc[located, "lat"].to_numpy(float)
    )
    locations = _points_frame(at[addr_inside].reset_index(drop=True))
    site_inside = shapely.intersects_xy(
        shape, sites["lon"].to_numpy(float), sites["lat"].to_numpy(float)
    )
    chosen = gpd.GeoDataFrame(sites[site_inside].reset_index(drop=True))
    return Selection(
        shape=shape,
        shipments=shipments,
        sellers=_sellers_inside(cd, shipments, locations),
        sites=chosen,
        locations=locations,
        source=source,
    )


def _points_frame(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
    )


def _sellers_inside(
    cd: CaseData, shipments: pd.DataFrame, locations: pd.DataFrame
) -> gpd.GeoDataFrame:
    """Sellers with waybills or an address inside, each at the point it ships most from."""
    counts = shipments.groupby(["seller_id", "lat", "lon"], sort=False).size().reset_index(name="n")
    per_seller = counts.groupby("seller_id", sort=False)["n"].sum()
    top = counts.sort_values(["n", "lat", "lon"], ascending=[False, True, True])
    top = top.drop_duplicates("seller_id").set_index("seller_id")
    addresses = locations.drop_duplicates("seller_id").set_index("seller_id")
    ids = list(dict.fromkeys([*top.index.astype(str), *addresses.index.astype(str)]))
    lat = [top["lat"].get(s, addresses["lat"].get(s)) for s in ids]
    lon = [top["lon"].get(s, addresses["lon"].get(s)) for s in ids]
    frame = pd.DataFrame(
        {
            "seller_id": ids,
            "name": [cd.names.get(s) for s in ids],
            "network_id": [cd.network_of.get(s) for s in ids],
            "n_shipments": [int(per_seller.get(s, 0)) for s in ids],
            "lat": pd.array(lat, dtype="float64"),
            "lon": pd.array(lon, dtype="float64"),
        }
    )
    frame = frame.sort_values(["n_shipments", "seller_id"], ascending=[False, True])
    return _points_frame(frame.reset_index(drop=True))


def point_shape(lat: float, lon: float, cell_deg: float | None) -> shapely.Geometry:
    """The clicked marker's area: its grid cell, or a box of 1e-6 degree around the point."""
    if cell_deg:
        y0, x0 = math.floor(lat / cell_deg) * cell_deg, math.floor(lon / cell_deg) * cell_deg
        # the marker sits at the cell's mean position, so its cell is the one containing it
        return shapely.box(x0, y0, x0 + cell_deg, y0 + cell_deg)
    return shapely.box(lon - 1e-6, lat - 1e-6, lon + 1e-6, lat + 1e-6)
