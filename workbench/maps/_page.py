"""The offline map view: ship-from points, seller addresses and candidate sites on Leaflet.

The page works with no network at all: Leaflet and the country basemap are inlined from
files the package ships (``workbench/maps/static/vendor``), no CDN is linked and tiles are drawn
only when the caller names a tile server. Strings from the data travel as escaped JSON and
are shown with ``textContent``, so a seller called ``<img src=x onerror=alert(1)>`` is shown
as exactly that text. ::

    import pandas as pd
    from workbench.maps._page import site_map

    shipments = pd.DataFrame(
        {"shipment_id": ["W1", "W2"], "seller_id": ["S1", "S2"],
         "lat": [25.43, 25.44], "lon": [119.01, 119.02]}
    )
    view = site_map(shipments)
    view.to_html("map.html")   # or show `view` as the last line of a notebook cell
"""

from __future__ import annotations

import html
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import folium
import pandas as pd

from workbench.errors import InputError, require_columns
from workbench.maps import _data as data
from workbench.maps import _elements as js
from workbench.maps._index import WaybillIndex

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = ["MapView", "site_map"]

SHIPMENT_COLUMNS = ("shipment_id", "seller_id", "lat", "lon")
SELLER_COLUMNS = ("seller_id", "name")
NETWORK_COLUMNS = ("seller_id", "network_id")
LOCATION_COLUMNS = ("seller_id", "kind", "address", "lat", "lon")
# hull, n_networks, brands, place and province are shown when present
SITE_COLUMNS = (
    "site_id",
    "rank",
    "lat",
    "lon",
    "radius_m",
    "score",
    "label",
    "n_shipments",
    "n_sellers",
    "sellers",
)
IFRAME_HEIGHT_PX = 600


class MapView:
    """A rendered investigation map: a folium Map plus what was aggregated to draw it.

    Attributes
    ----------
    map : folium.Map
        The map itself. folium's markers, popups and tooltips parse their rendered text as a
        Jinja template a second time (data in them could run code), so :meth:`to_html`
        refuses a map holding one; draw extra data as a GeoDataFrame layer in a notebook.
    points : pandas.DataFrame
        One row per ship-from marker: lat, lon, shipments, sellers, networks, network,
        names (up to five), more.
    cell_deg : float or None
        None when every unique coordinate is its own marker, else the grid cell size (in
        degrees) the points were binned to because there were more than ``max_points``.

    Example
    -------
    >>> import pandas as pd
    >>> ships = pd.DataFrame({"shipment_id": ["W1"], "seller_id": ["S1"],
    ...                       "lat": [25.4], "lon": [119.0]})
    >>> view = site_map(ships)
    >>> view.to_html().startswith("<!DOCTYPE html>")
    True
    """

    def __init__(
        self, map: folium.Map, points: pd.DataFrame, cell_deg: float | None = None
    ) -> None:
        self.map = map
        self.points = points
        self.cell_deg = cell_deg
        # folium renders into the figure's header / html / script and keys some entries by
        # fresh ids, so a second render would append duplicates; each render starts from this
        root = map.get_root()
        self._pristine = [
            (part, list(part._children.items()))
            for part in (root.header, root.html, root.script)  # type: ignore[attr-defined]
        ]

    def _render(self) -> str:
        for part, children in self._pristine:
            part._children = OrderedDict(children)
        return js.render_page(self.map)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """The standalone HTML page; written to ``path`` (UTF-8) when given.

        Returns the page as a string when ``path`` is None, else None.

        >>> import pandas as pd
        >>> ships = pd.DataFrame({"shipment_id": ["W1"], "seller_id": ["S1"],
        ...                       "lat": [25.4], "lon": [119.0]})
        >>> "window.workbenchMap" in site_map(ships).to_html()
        True
        """
        page = self._render()
        if path is None:
            return page
        Path(path).write_text(page, encoding="utf-8")
        return None

    def _repr_html_(self) -> str:
        """A sandboxed iframe for notebooks: scripts run, but without the notebook's origin."""
        page = self._render()
        return (
            f'<iframe class="workbench-map" sandbox="allow-scripts" '
            f'title="Counterfeit Workbench map" '
            f'style="width:100%;height:{IFRAME_HEIGHT_PX}px;border:0" '
            f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
        )

    def __repr__(self) -> str:
        where = "unique coordinates" if self.cell_deg is None else f"{self.cell_deg:g}° cells"
        return f"<MapView: {len(self.points)} ship-from markers ({where})>"


def site_map(
    shipments: pd.DataFrame,
    sites: gpd.GeoDataFrame | pd.DataFrame | None = None,
    *,
    sellers: pd.DataFrame | None = None,
    networks: pd.DataFrame | None = None,
    locations: pd.DataFrame | None = None,
    tiles: str | None = None,
    attribution: str | None = None,
    max_points: int = 20_000,
) -> MapView:
    """Map ship-from points, seller addresses and candidate sites, with no network needed.

    Parameters
    ----------
    shipments : DataFrame
        shipment_id, seller_id, lat, lon (WGS-84). Shipments at the same coordinate become one
        marker; rows without valid coordinates are counted in the layer name, not drawn.
    sites : GeoDataFrame, optional
        Candidate sites from :func:`workbench.find_sites`: site_id, rank, lat, lon, radius_m,
        score, label, n_shipments, n_sellers, sellers, and when present hull, n_networks,
        brands, place, province.
    sellers : DataFrame, optional
        seller_id, name: names shown in tooltips (the seller_id is shown otherwise).
    networks : DataFrame, optional
        seller_id, network_id: colours points by network (grey for unlinked sellers).
    locations : DataFrame, optional
        seller_id, kind ('warehouse' | 'return' | 'registered'), address, lat, lon.
    tiles : str, optional
        A tile URL template such as ``"http://tiles.example.internal/{z}/{x}/{y}.png"``;
        without it the map uses only the built-in country basemap.
    attribution : str, optional
        The tile layer's attribution (HTML, as Leaflet takes it); required with ``tiles``.
    max_points : int, default 20 000
        Above this many unique coordinates, points are binned onto a grid instead.

    Returns
    -------
    MapView

    Example
    -------
    >>> import pandas as pd
    >>> ships = pd.DataFrame({"shipment_id": ["W1", "W2", "W3"],
    ...                       "seller_id": ["S1", "S1", "S2"],
    ...                       "lat": [25.43, 25.43, 25.44], "lon": [119.01, 119.01, 119.02]})
    >>> view = site_map(ships, sellers=pd.DataFrame({"seller_id": ["S1"], "name": ["Lucky"]}))
    >>> view.points["shipments"].tolist()
    [2, 1]
    """
    _check_inputs(shipments, sites, sellers, networks, locations, tiles, attribution, max_points)
    names = _seller_names(sellers)
    network_of = _seller_networks(networks)
    index = WaybillIndex.from_shipments(shipments, names, network_of)
    summary = index.summary(max_points=max_points)
    site_records = [] if sites is None else data.site_records(sites, names)
    located = None if locations is None else data.location_payload(locations, names)

    layers = MapLayers(
        summary=summary,
        sites=None if sites is None else site_records,
        locations=located,
        locations_name=None
        if locations is None or located is None
        else _layer_name("Warehouses and return addresses", len(located["lat"]), locations),
    )
    fmap = compose(layers, tiles=tiles, attribution=attribution)
    return MapView(fmap, summary.points, summary.cell_deg)


@dataclass(frozen=True)
class MapLayers:
    """What a map page draws: aggregated points, site records, the addresses'
    :func:`~workbench.maps._data.location_payload`, layer names, and the explorer's
    dated events and relocation arrows (:mod:`workbench.explorer._timeline` payloads)."""

    summary: data.PointSummary
    sites: list[dict[str, Any]] | None = None
    locations: dict[str, Any] | None = None
    locations_name: str | None = None
    events: dict[str, Any] | None = None
    arrows: dict[str, Any] | None = None


def compose(
    layers: MapLayers,
    *,
    tiles: str | None = None,
    attribution: str | None = None,
    interactive: bool = False,
) -> folium.Map:
    """The folium map of ``layers``; ``interactive`` adds drawing tools and the explorer bridge.

    An interactive page also carries a Content-Security-Policy that forbids every request
    (tiles excepted when named) and China's province outlines.
    """
    fmap = js.OfflineMap(location=None, tiles=None, control_scale=True)
    fmap.get_root().title = "Counterfeit Workbench map"  # type: ignore[attr-defined]
    if interactive:
        fmap.add_child(js.ContentPolicy(_origin(tiles)))
    fmap.add_child(js.InlineAssets())
    if interactive:
        fmap.add_child(js.DrawAssets())
    fmap.add_child(js.MapSetup())
    if tiles is not None:
        js.TileLayer(tiles=tiles, attr=attribution, name="Tiles", overlay=True).add_to(fmap)
    basemap = js.FeatureGroup(name="Basemap")
    basemap.add_child(js.Basemap(fill_opacity=0.0 if tiles else 1.0))
    if interactive:
        basemap.add_child(js.ProvinceOutlines())
    basemap.add_to(fmap)
    site_records = layers.sites or []
    if layers.sites is not None:
        name = f"Candidate sites ({len(site_records):,})" if not interactive else "Candidate sites"
        js.FeatureGroup(name=name).add_child(js.Sites(site_records)).add_to(fmap)
    if layers.locations is not None:
        layer = js.FeatureGroup(name=layers.locations_name or "Warehouses and return addresses")
        layer.add_child(js.Locations(layers.locations)).add_to(fmap)
    name = _points_layer_name(layers.summary) if not interactive else "Ship-from points"
    layer = js.FeatureGroup(name=name)
    layer.add_child(js.ShipFromPoints(data.points_payload(layers.summary))).add_to(fmap)
    if layers.arrows is not None:
        js.FeatureGroup(name="Relocations").add_child(js.Arrows(layers.arrows)).add_to(fmap)
    if layers.events is not None:
        js.FeatureGroup(name="Events").add_child(js.Events(layers.events)).add_to(fmap)

    points = layers.summary.points
    sections = data.legend_sections(points, layers.sites is not None, layers.locations)
    fmap.add_child(js.Legend(sections))
    js.LayerControl(collapsed=False).add_to(fmap)
    box = data.bounds(points, site_records, layers.locations)
    if box is None:
        fmap.add_child(js.FitBounds([[-50.0, -150.0], [70.0, 160.0]]))
    else:
        fmap.add_child(js.FitBounds(box, padding=(24, 24), max_zoom=15))
    if interactive:
        fmap.add_child(js.ExplorerBridge())
    fmap.add_child(js.MapReady())
    return fmap


def _origin(tiles: str | None) -> str | None:
    """scheme://host[:port] of a tile URL template, for the page's image policy."""
    if tiles is None:
        return None
    parts = urlsplit(tiles.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _check_inputs(
    shipments: pd.DataFrame,
    sites: pd.DataFrame | None,
    sellers: pd.DataFrame | None,
    networks: pd.DataFrame | None,
    locations: pd.DataFrame | None,
    tiles: str | None,
    attribution: str | None,
    max_points: int,
) -> None:
    """Raise before drawing anything when a table or an option is unusable."""
    require_columns(shipments, "shipments", SHIPMENT_COLUMNS)
    for frame, table, columns in (
        (sites, "sites", SITE_COLUMNS),
        (sellers, "sellers", SELLER_COLUMNS),
        (networks, "networks", NETWORK_COLUMNS),
        (locations, "locations", LOCATION_COLUMNS),
    ):
        if frame is not None:
            require_columns(frame, table, columns)
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise InputError(f"max_points: expected a positive integer, got {max_points!r}")
    if tiles is not None:
        if not isinstance(tiles, str) or not all(k in tiles for k in ("{z}", "{x}", "{y}")):
            raise InputError(
                f"tiles: expected a URL template with {{z}}, {{x}} and {{y}}, got {tiles!r}; "
                "leave it out to use the built-in offline basemap"
            )
        if not attribution:
            raise InputError(
                "attribution: a tile layer needs the attribution its provider requires; "
                "pass attribution='...' together with tiles"
            )


def _seller_names(sellers: pd.DataFrame | None) -> dict[str, str]:
    """seller_id -> display name (sellers without a name are left out: the id is shown)."""
    if sellers is None:
        return {}
    named = sellers.dropna(subset=["seller_id", "name"]).drop_duplicates("seller_id")
    return dict(zip(named["seller_id"].astype(str), named["name"].astype(str), strict=True))


def _seller_networks(networks: pd.DataFrame | None) -> dict[str, str]:
    """seller_id -> network_id for linked sellers."""
    if networks is None:
        return {}
    linked = networks.dropna(subset=["seller_id", "network_id"]).drop_duplicates("seller_id")
    return dict(zip(linked["seller_id"].astype(str), linked["network_id"].astype(str), strict=True))


def _layer_name(title: str, drawn: int, frame: pd.DataFrame) -> str:
    skipped = len(frame) - drawn
    note = f" drawn, {skipped:,} without coordinates" if skipped else ""
    return f"{title} ({drawn:,}{note})"


def _points_layer_name(summary: data.PointSummary) -> str:
    n = len(summary.points)
    if summary.cell_deg is None:
        text = f"Ship-from points ({n:,} locations"
    else:
        text = (
            f"Ship-from points (grid of {summary.cell_deg:g}° cells: {n:,} cells "
            f"from {summary.n_locations:,} locations"
        )
    if summary.n_skipped:
        plural = "s" if summary.n_skipped > 1 else ""
        text += f"; {summary.n_skipped:,} shipment{plural} without coordinates"
    return text + ")"
