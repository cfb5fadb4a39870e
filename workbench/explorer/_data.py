"""The explorer's data: one case read once, then filters, selections and site details.

No widgets here: :mod:`workbench.explorer._screen` calls these functions from its observers, and the
tests call them directly. Every string that reaches HTML goes through :func:`html.escape`.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import shapely

from workbench.errors import InputError
from workbench.explorer._source import plain_table
from workbench.maps import _data as data
from workbench.maps._index import Filters, WaybillIndex, coordinate_keys, rows_passing

if TYPE_CHECKING:  # pragma: no cover
    from workbench.explorer._source import ExplorerCase
    from workbench.explorer._timeline import SiteWeeks

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
    {"key": "seen_before", "label": "Seen before", "numeric": True},
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


class Selection:
    """What the investigator pointed at on the map.

    shape : the drawn polygon / rectangle, the clicked site's hull or the clicked point.
    shipments : the (filtered) waybills inside it, with their columns from the case; read
        from the case's waybill parts when first asked for (a site can hold a million).
    n_shipments : how many waybills ``shipments`` holds (known without reading them).
    sellers : one row per seller with waybills or an address inside: seller_id, name,
        network_id, n_shipments (inside) and the point they ship most from (or their address).
    sites : sites of the run whose centre is inside.
    locations : warehouse / return / registered addresses inside.
    source : "draw", "site" or "point".
    seen_before : the matches of its sellers with earlier cases and partner lists (set by
        the explorer for a clicked point or drawn area; None when the case was never
        cross-referenced or for a site's selection: the site's panel lists them).
    """

    def __init__(
        self,
        shape: shapely.Geometry,
        shipments: Callable[[], gpd.GeoDataFrame] | gpd.GeoDataFrame,
        sellers: gpd.GeoDataFrame,
        sites: gpd.GeoDataFrame,
        locations: gpd.GeoDataFrame,
        *,
        n_shipments: int | None = None,
        source: str = "draw",
        site_id: str | None = None,
    ) -> None:
        self.shape = shape
        self.sellers, self.sites, self.locations = sellers, sites, locations
        self.source, self.site_id = source, site_id
        self.seen_before: pd.DataFrame | None = None
        self._shipments = shipments if isinstance(shipments, pd.DataFrame) else None
        self._read = shipments if callable(shipments) else None
        given = len(shipments) if isinstance(shipments, pd.DataFrame) else 0
        self.n_shipments = given if n_shipments is None else n_shipments

    @property
    def shipments(self) -> gpd.GeoDataFrame:
        """The waybills inside (read once, on first use)."""
        if self._shipments is None and self._read is not None:
            self._shipments, self._read = self._read(), None
        return self._shipments

    def __repr__(self) -> str:
        return (
            f"<Selection ({self.source}): {self.n_shipments:,} shipments, "
            f"{len(self.sellers):,} sellers, {len(self.sites):,} sites, "
            f"{len(self.locations):,} addresses>"
        )


@dataclass
class CaseData:
    """The tables the explorer draws, read from the case once; waybills stay in the case.

    ``index`` holds the waybill counts (:meth:`~workbench.case._case.Case.waybill_cells`);
    ``days`` the first and last shipping day. A selection reads its waybills from ``case``
    (a case file or a team case).
    """

    case: ExplorerCase
    sellers: pd.DataFrame
    membership: pd.DataFrame
    locations: pd.DataFrame
    evidence: pd.DataFrame
    names: dict[str, str]
    network_of: dict[str, str]
    building: Future[WaybillIndex] | WaybillIndex = field(repr=False)
    days: tuple[dt.date | None, dt.date | None] = (None, None)

    @property
    def index(self) -> WaybillIndex:
        """The waybill index (the first use waits for the thread that builds it)."""
        if isinstance(self.building, Future):
            self.building = self.building.result()
        return self.building

    @classmethod
    def read(cls, case: ExplorerCase) -> CaseData:
        cells = case.waybill_cells()  # counts per place, seller, brand and day: no waybill
        sellers = plain_table(case, "sellers")
        membership = plain_table(case, "networks")
        names = {
            str(k): str(v)
            for k, v in zip(sellers["seller_id"], sellers["name"], strict=True)
            if isinstance(v, str) and v
        }
        linked = membership.dropna(subset=["network_id"])
        network_of = dict(
            zip(linked["seller_id"].astype(str), linked["network_id"].astype(str), strict=True)
        )
        first, last = pc.min_max(cells["day"]).values()
        # the index (Arrow and NumPy, mostly outside the GIL) is built on a second thread
        # while the addresses and evidence are read from the case here, and the caller
        # goes on (the run's sites): ``index`` waits for it
        pool = ThreadPoolExecutor(1, thread_name_prefix="workbench-index")
        index = pool.submit(WaybillIndex, cells, names, network_of)
        pool.shutdown(wait=False)
        return cls(
            case=case,
            sellers=sellers,
            membership=membership,
            locations=plain_table(case, "locations"),
            evidence=plain_table(case, "evidence"),
            names=names,
            network_of=network_of,
            building=index,
            days=(first.as_py(), last.as_py()),
        )


# -- sites ------------------------------------------------------------------------------------
def visible_sites(
    sites: pd.DataFrame, filters: Filters, activity: SiteWeeks | None = None
) -> pd.DataFrame:
    """Sites passing the filters: score, and brand / network / dates when those are set.

    With dates set, a site shows when its first and last shipping days span some of them
    and, given its weekly ``activity``, when it shipped in a week that overlaps them (a
    site idle in the window is hidden even inside its span).
    """
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
    dated = filters.start is not None or filters.end is not None
    if dated and activity is not None:
        start, end = (_date(filters.start), _date(filters.end))
        keep &= sites["site_id"].astype(str).isin(activity.active(start, end))
    return sites[keep.to_numpy(bool)]


def _date(value: pd.Timestamp | None) -> dt.date | None:
    return None if value is None else pd.Timestamp(value).date()


def jurisdiction_label(site: Any) -> str:
    """'district, prefecture, province' (whatever the gazetteer gave), else the place."""
    parts = [site.get(k) for k in ("district", "prefecture", "province")]
    named = [str(p) for p in parts if isinstance(p, str) and p]
    if not named and isinstance(site.get("place"), str):
        named = [site["place"]]
    return ", ".join(dict.fromkeys(named))


def table_rows(sites: pd.DataFrame, seen: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """One JSON-ready row per site for the site table; ``seen``: per site, the matches with
    earlier cases and partner lists its panel lists (none: no value)."""
    seen = seen or {}
    rows = []
    wanted = ["site_id", "rank", "score", "label", "n_shipments", "n_sellers", "brands", "status"]
    wanted += ["district", "prefecture", "province", "place"]
    for site in sites[[c for c in wanted if c in sites]].to_dict("records"):
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
                "seen_before": seen.get(str(site["site_id"])),
            }
        )
    return rows


class SiteRows:
    """A run's sites as map records and table rows, built once: a filter only picks them."""

    def __init__(
        self, sites: pd.DataFrame, names: dict[str, str], seen: dict[str, int] | None = None
    ) -> None:
        self._records = data.site_records(sites, names)  # in rank order
        rows = table_rows(sites, seen)
        self._rows = dict(zip(sites["site_id"].astype(str), rows, strict=True))

    def records(self, shown: pd.DataFrame) -> list[dict[str, Any]]:
        """The map records of the sites in ``shown`` (rank order)."""
        ids = set(shown["site_id"].astype(str))
        return [r for r in self._records if r["id"] in ids]

    def table(self, shown: pd.DataFrame) -> list[dict[str, Any]]:
        """The table rows of the sites in ``shown`` (its order)."""
        return [self._rows[s] for s in shown["site_id"].astype(str)]


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
    filters: Filters,
    *,
    source: str = "draw",
    points: tuple[np.ndarray, np.ndarray] | None = None,
) -> Selection:
    """Everything inside ``shape`` (lon/lat): waybills passing ``filters``, sellers, sites.

    ``points`` (lat, lon): take the waybills at these points instead of those inside the
    shape (a site's points; its hull still picks the addresses and sites). Counts and sellers
    come from the index; the waybills themselves are read when the selection's
    ``shipments`` are first used: the row groups of the parts that overlap, then the same
    test at 1e-6 degree and the same filters as the index applies.
    """
    index = cd.index
    inside = index.locations_inside(shape) if points is None else index.locations_at(*points)
    counts = index.sellers_at(inside, filters)
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
        shape,
        functools.partial(waybills_inside, cd, shape, filters, points),
        _sellers_inside(cd, counts, locations),
        chosen,
        locations,
        n_shipments=int(counts["n_shipments"].sum()),
        source=source,
    )


def waybills_inside(
    cd: CaseData,
    shape: shapely.Geometry,
    filters: Filters,
    points: tuple[np.ndarray, np.ndarray] | None = None,
) -> gpd.GeoDataFrame:
    """The case's waybills inside ``shape`` (or at ``points``) passing ``filters``, read
    from the parts' row groups that overlap: the rows :func:`select` counted."""
    if points is None or not len(points[0]):
        west, south, east, north = shape.bounds
    else:
        south, north = float(np.min(points[0])), float(np.max(points[0]))
        west, east = float(np.min(points[1])), float(np.max(points[1]))
    pad = 1e-6  # coordinates are compared rounded to 1e-6 degree
    ships = cd.case.waybills(bbox=(south - pad, west - pad, north + pad, east + pad))
    lat, lon, valid = data.coordinates(ships)
    hit = valid.to_numpy(bool).copy()
    lat6, lon6 = lat.to_numpy()[hit].round(6), lon.to_numpy()[hit].round(6)
    if points is None:
        hit[hit] = shapely.intersects_xy(shape, lon6, lat6)
    else:
        wanted = coordinate_keys(np.asarray(points[0], float), np.asarray(points[1], float))
        hit[hit] = np.isin(coordinate_keys(lat6, lon6), wanted)
    passing = rows_passing(ships, filters, cd.network_of)
    if passing is not None:
        hit &= passing
    return _points_frame(ships[hit].reset_index(drop=True))


def _points_frame(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
    )


def _sellers_inside(
    cd: CaseData, counts: pd.DataFrame, locations: pd.DataFrame
) -> gpd.GeoDataFrame:
    """Sellers with waybills (``counts``: :meth:`WaybillIndex.sellers_at`) or an address
    inside, each at the point it ships most from (else at its address)."""
    top = counts.set_index("seller_id")
    addresses = locations.drop_duplicates("seller_id").set_index("seller_id")
    ids = list(dict.fromkeys([*top.index.astype(str), *addresses.index.astype(str)]))
    lat = [top["lat"].get(s, addresses["lat"].get(s)) for s in ids]
    lon = [top["lon"].get(s, addresses["lon"].get(s)) for s in ids]
    frame = pd.DataFrame(
        {
            "seller_id": ids,
            "name": [cd.names.get(s) for s in ids],
            "network_id": [cd.network_of.get(s) for s in ids],
            "n_shipments": [int(top["n_shipments"].get(s, 0)) for s in ids],
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
