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


class ShipFromPoints(DataLayer):
    """Circle markers (class workbench-point) sized by shipments, coloured by network."""

    kind = "points"
    _template = Template(
        _DATA_HTML
        + """
        {% macro script(this, kwargs) %}
        (function () {
            var kit = L.workbench, d = kit.data("{{ this.get_name() }}_data");
            function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
            function card(i) {
                var net = d.net[i], others = d.nnet[i] - 1;
                return kit.card(
                    (d.grid ? "Grid cell: " : "") + plural(d.shipments[i], "shipment") +
                        " from " + plural(d.sellers[i], "seller"),
                    [
                        ["Network", net < 0 ? "unlinked" :
                            d.networks[net] + (others > 0 ? " (+" + others + " more)" : "")],
                        ["Sellers", kit.list(d.who[i].map(function (k) { return d.names[k]; }),
                                             d.more[i])],
                        [d.grid ? "Mean position" : "Position",
                            d.lat[i].toFixed(5) + ", " + d.lon[i].toFixed(5)]
                    ]);
            }
            for (var i = 0; i < d.lat.length; i++) {
                var colour = d.net[i] < 0 ? d.unlinked : d.colours[d.net[i]];
                var marker = L.circleMarker([d.lat[i], d.lon[i]], {
                    pane: "workbench-points", className: "workbench-point",
                    radius: kit.radius(d.shipments[i]), color: colour, weight: 1,
                    fillColor: colour, fillOpacity: 0.65
                });
                marker.workbench = {layer: "points", index: i};
                kit.tooltip(marker, card.bind(null, i)).addTo({{ this._parent.get_name() }});
            }
        })();
        {% endmacro %}
        """
    )


class Locations(DataLayer):
    """Warehouse / return / registered addresses as rings (class workbench-location)."""

    kind = "locations"
    _template = Template(
        _DATA_HTML
        + """
        {% macro script(this, kwargs) %}
        (function () {
            var kit = L.workbench;
            var titles = {warehouse: "Warehouse", "return": "Return address",
                          registered: "Registered address"};
            kit.data("{{ this.get_name() }}_data").forEach(function (r, i) {
                var marker = L.circleMarker([r.lat, r.lon], {
                    pane: "workbench-locations",
                    className: "workbench-location workbench-location-" + r.cls,
                    radius: 6, color: r.colour, weight: 2.5, fillColor: "#ffffff", fillOpacity: 0.9
                });
                marker.workbench = {layer: "locations", index: i};
                kit.tooltip(marker, function () {
                    var title = Object.prototype.hasOwnProperty.call(titles, r.kind) ?
                        titles[r.kind] : "Address (" + r.kind + ")";
                    return kit.card(title, [
                        ["Address", r.address], ["Seller", r.seller], ["Seller id", r.seller_id]
                    ]);
                }).addTo({{ this._parent.get_name() }});
            });
        })();
        {% endmacro %}
        """
    )


class Sites(DataLayer):
    """Candidate sites: radius circle, hull and centre dot (class workbench-site)."""

    kind = "sites"
    _template = Template(
        _DATA_HTML
        + """
        {% macro script(this, kwargs) %}
        (function () {
            var kit = L.workbench;
            kit.data("{{ this.get_name() }}_data").forEach(function (s) {
                var base = {pane: "workbench-sites", color: s.colour, fillColor: s.colour,
                            weight: 2, dashArray: s.hub ? "6 4" : null};
                var cls = "workbench-site" + (s.hub ? " workbench-site-hub" : "");
                function card() {
                    return kit.card("Site " + s.id, [
                        ["Rank", s.rank], ["Label", s.label],
                        ["Score", s.score === null ? null : s.score.toFixed(1)],
                        ["Shipments", s.shipments], ["Sellers", s.sellers],
                        ["Networks", s.networks],
                        ["Place", [s.place, s.province].filter(Boolean).join(", ")],
                        ["Brands", s.brands.join(", ")],
                        ["Seller names", kit.list(s.names, s.more)],
                        ["Radius", Math.round(s.radius_m) + " m"]
                    ]);
                }
                var parts = [];
                if (s.radius_m > 0) {
                    parts.push(L.circle([s.lat, s.lon], L.extend({}, base, {
                        radius: s.radius_m, fillOpacity: 0.08,
                        className: cls + " workbench-site-radius"})));
                }
                s.hull.forEach(function (rings) {
                    parts.push(L.polygon(rings, L.extend({}, base, {
                        fillOpacity: 0.25, className: cls + " workbench-site-hull"})));
                });
                parts.push(L.circleMarker([s.lat, s.lon], L.extend({}, base, {
                    pane: "workbench-site-centres", radius: 5, color: "#333333",
                    weight: 1.5, fillOpacity: 0.95, className: cls + " workbench-site-centre"})));
                parts.forEach(function (part) {
                    part.workbench = {layer: "sites", id: s.id};
                    kit.tooltip(part, card).addTo({{ this._parent.get_name() }});
                });
            });
        })();
        {% endmacro %}
        """
    )


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
