"""The Leaflet pieces of the offline map: small folium elements with class-level templates.

Each data layer writes its records once, as JSON in a ``<script type="application/json">``
element (see :func:`workbench._mapdata.script_json`), and a short script draws them with the
runtime in ``static/map.js``; tooltips and the legend are built with ``textContent`` only.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, ClassVar

import folium
import shapely
from branca.element import MacroElement
from folium.template import Template

from workbench._mapdata import script_json

# Panes keep the drawing order fixed when layers are switched off and on again.
PANES = (
    ("workbench-basemap", 250),
    ("workbench-sites", 410),
    ("workbench-locations", 440),
    ("workbench-points", 450),
    ("workbench-site-centres", 460),
)


@cache
def static_text(relative: str) -> str:
    """A text file shipped in ``workbench/static`` (read once per process)."""
    return resources.files("workbench").joinpath("static", relative).read_text(encoding="utf-8")


@cache
def basemap_json() -> str:
    """The vendored country polygons, escaped for a JSON script element."""
    return script_json(json.loads(static_text("vendor/world-atlas/countries.geojson")))


class OfflineMap(folium.Map):
    """A folium Map that links no CDN: Leaflet comes from :class:`InlineAssets` instead."""

    default_js: list[tuple[str, str]] = []  # noqa: RUF012 - folium reads these per class
    default_css: list[tuple[str, str]] = []  # noqa: RUF012


class InlineAssets(MacroElement):
    """Leaflet's CSS and JS and the workbench runtime, inlined into the page header."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>{{ this.css }}</style>
        <script>{{ this.js }}</script>
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "WorkbenchAssets"
        self.css = static_text("vendor/leaflet/leaflet.css") + "\n" + static_text("map.css")
        self.js = static_text("vendor/leaflet/leaflet.js") + "\n" + static_text("map.js")
        if "</script" in self.js.lower() or "</style" in self.css.lower():
            raise RuntimeError("a vendored asset would end its inline element early")


class ContentPolicy(MacroElement):
    """A Content-Security-Policy that lets the page load nothing but itself (and tiles if named).

    Added first to the header of explorer pages: scripts and styles are inline, images are
    ``data:`` URIs, and no fetch, XHR, websocket or form can leave the page.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <meta http-equiv="Content-Security-Policy" content="{{ this.policy }}">
        {% endmacro %}
        """
    )

    def __init__(self, tile_origin: str | None = None) -> None:
        super().__init__()
        self._name = "WorkbenchPolicy"
        images = "data:" + (f" {tile_origin}" if tile_origin else "")
        self.policy = (
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            f"img-src {images}; font-src data:; connect-src 'none'; form-action 'none'"
        )


class DrawAssets(MacroElement):
    """Leaflet.draw's CSS and JS and the explorer bridge runtime, inlined into the header."""

    _template = InlineAssets._template

    def __init__(self) -> None:
        super().__init__()
        self._name = "WorkbenchDrawAssets"
        self.css = static_text("vendor/leaflet-draw/leaflet.draw.css")
        self.js = static_text("vendor/leaflet-draw/leaflet.draw.js")
        if "</script" in self.js.lower() or "</style" in self.css.lower():
            raise RuntimeError("a vendored asset would end its inline element early")


class ExplorerBridge(MacroElement):
    """The explorer's side of the map page (``static/explorer.js``): events out, commands in."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.js }}
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "WorkbenchExplorerBridge"
        self.js = static_text("explorer.js")


class MapSetup(MacroElement):
    """Expose the map as ``window.workbenchMap`` and create the drawing panes."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.workbenchMap = {{ this._parent.get_name() }};
        window.workbenchMap.getContainer().classList.add("workbench-map-canvas");
        {%- for name, z in this.panes %}
        window.workbenchMap.createPane({{ name|tojson }}).style.zIndex = "{{ z }}";
        {%- endfor %}
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "WorkbenchSetup"
        self.panes = PANES


class MapReady(MacroElement):
    """Last element of the page script: flags that every layer has been drawn."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.workbenchMapReady = true;
        document.dispatchEvent(new Event("workbench-map-ready"));
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "WorkbenchReady"


_DATA_HTML = """
{% macro html(this, kwargs) %}
<script type="application/json" class="workbench-data" data-layer="{{ this.kind }}"
 id="{{ this.get_name() }}_data">{{ this.payload }}</script>
{% endmacro %}
"""


class DataLayer(MacroElement):
    """Base of the elements that ship a JSON payload and draw it into their parent group."""

    kind: ClassVar[str] = "data"

    def __init__(self, payload: Any = None, *, payload_json: str | None = None) -> None:
        super().__init__()
        self._name = "Workbench" + type(self).__name__
        self.payload = payload_json if payload_json is not None else script_json(payload)


class Basemap(DataLayer):
    """The vendored Natural Earth countries as light grey polygons (class workbench-basemap)."""

    kind = "basemap"
    _template = Template(
        _DATA_HTML
        + """
        {% macro script(this, kwargs) %}
        L.geoJSON(L.workbench.data("{{ this.get_name() }}_data"), {
            pane: "workbench-basemap",
            interactive: false,
            attribution: "Basemap: Natural Earth (public domain), world-atlas",
            style: {
                className: "workbench-basemap", color: "#a3a9ae", weight: 0.6,
                fillColor: "#dfe3e6", fillOpacity: {{ this.fill_opacity }}
            }
        }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, fill_opacity: float = 1.0) -> None:
        super().__init__(payload_json=basemap_json())
        self.fill_opacity = float(fill_opacity)


@cache
def province_outlines_json() -> str:
    """China's province outlines from the gazetteer data, simplified (~2 km) for drawing."""
    raw = json.loads(
        resources.files("workbench").joinpath("data", "cn_provinces.geojson").read_text("utf-8")
    )
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in raw["features"]])
    simple = shapely.set_precision(shapely.simplify(geoms, 0.02, preserve_topology=True), 0.001)
    features = [
        {"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(g))}
        for g in simple
    ]
    return script_json({"type": "FeatureCollection", "features": features})


class ProvinceOutlines(DataLayer):
    """Province borders (China) as thin lines over the country basemap."""

    kind = "provinces"
    _template = Template(
        _DATA_HTML
        + """
        {% macro script(this, kwargs) %}
        L.geoJSON(L.workbench.data("{{ this.get_name() }}_data"), {
            pane: "workbench-basemap", interactive: false,
            style: {className: "workbench-provinces", color: "#8a9399", weight: 0.8,
                    dashArray: "3 3", fill: false}
        }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__(payload_json=province_outlines_json())


class DrawnLayer(DataLayer):
    """A data layer drawn into its parent group by the runtime function named ``draw``.

    The map.js runtime keeps the group, so the explorer can redraw it with new data.
    """

    draw: ClassVar[str]
    _template = Template(
        _DATA_HTML
        + """
        {% macro script(this, kwargs) %}
        L.workbench.{{ this.draw }}({{ this._parent.get_name() }},
            L.workbench.data("{{ this.get_name() }}_data"));
        {% endmacro %}
        """
    )


class ShipFromPoints(DrawnLayer):
    """Circle markers (class workbench-point) sized by shipments, coloured by network."""

    kind = "points"
    draw = "drawPoints"


class Locations(DrawnLayer):
    """Warehouse / return / registered addresses as rings (class workbench-location)."""

    kind = "locations"
    draw = "drawLocations"


class Sites(DrawnLayer):
    """Candidate sites: radius circle, hull and centre dot (class workbench-site)."""

    kind = "sites"
    draw = "drawSites"


class Legend(DataLayer):
    """The legend control (bottom right), built from JSON sections with textContent."""

    kind = "legend"
    _template = Template(
        _DATA_HTML
        + """
        {% macro script(this, kwargs) %}
        new L.workbench.Legend({
            sections: L.workbench.data("{{ this.get_name() }}_data")
        }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )
