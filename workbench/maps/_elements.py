"""The Leaflet pieces of the offline map: small folium elements with class-level templates.

Each data layer writes its records once, as JSON in a ``<script type="application/json">``
element (see :func:`workbench.maps._data.script_json`), and a short script draws them with the
runtime in ``static/map.js``; tooltips and the legend are built with ``textContent`` only.

No data string is ever template source. branca renders each macro and then wraps the result
in a new ``Element``, whose constructor parses that text as a Jinja template a second time, so
``{{ ... }}`` in a seller's name would run in the kernel. Every element on our pages is a
:class:`LiteralMacros`, which puts each macro's output into the page as it is
(:class:`Literal`), and :func:`render_page` refuses a page holding any other kind.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, ClassVar, TypeGuard

import folium
import folium.map
import shapely
from branca.element import Element, Figure, MacroElement
from folium.template import Template

from workbench.maps._data import escaped_json, script_json

# Panes keep the drawing order fixed when layers are switched off and on again.
PANES = (
    ("workbench-basemap", 250),
    ("workbench-sites", 410),
    ("workbench-locations", 440),
    ("workbench-points", 450),
    ("workbench-site-centres", 460),
    ("workbench-arrows", 470),
    ("workbench-events", 480),
)


@cache
def static_text(relative: str) -> str:
    """A text file shipped in ``workbench/maps/static`` (read once per process)."""
    return (
        resources.files("workbench.maps").joinpath("static", relative).read_text(encoding="utf-8")
    )


@cache
def basemap_json() -> str:
    """The vendored country polygons, escaped for a JSON script element."""
    # vendored JSON: escaping its text is enough (parsing and writing it again took 80 ms)
    return escaped_json(static_text("vendor/world-atlas/countries.geojson"))


class Literal(Element):
    """Rendered text that goes into the page as it is: never parsed as a template."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Literal"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


def _render_macros(element: MacroElement, kwargs: dict[str, Any]) -> None:
    """What ``MacroElement.render`` does, with each macro's output kept as :class:`Literal`."""
    figure = element.get_root()
    if not isinstance(figure, Figure):
        raise RuntimeError(f"{type(element).__name__} is not on a page (no Figure above it)")
    macros = element._template.module.__dict__
    for part in ("header", "html", "script"):
        macro = macros.get(part)
        if macro is not None:
            text = str(macro(element, kwargs))
            getattr(figure, part).add_child(Literal(text), name=element.get_name())
    for child in list(element._children.values()):
        if _plain_macro(child):
            _render_macros(child, kwargs)  # folium adds a few while rendering (a layer's addTo)
        else:
            child.render(**kwargs)


def _plain_macro(element: Element) -> TypeGuard[MacroElement]:
    """A MacroElement with branca's own render, which :func:`_render_macros` stands in for."""
    if not isinstance(element, MacroElement) or isinstance(element, LiteralMacros):
        return False
    if type(element).render is not MacroElement.render:
        raise TypeError(
            f"{type(element).__name__} on the map would parse its rendered text as a template; "
            "use the LiteralMacros version from workbench.maps._elements"
        )
    return True


class LiteralMacros(MacroElement):
    """A MacroElement whose rendered macros are never parsed again (see the module docstring).

    Put it last among the bases of a folium class, so folium's own ``render`` runs first and
    its ``super().render()`` lands here instead of in ``MacroElement``.
    """

    def render(self, **kwargs: Any) -> str:
        _render_macros(self, kwargs)
        return ""  # what a macro element renders goes into the figure, not in its place


def render_page(fmap: folium.Map) -> str:
    """The whole HTML page of ``fmap``; refuses elements that would re-parse their output."""
    stack: list[Element] = [fmap]
    while stack:  # raises on an element that would render its own way
        element = stack.pop()
        _plain_macro(element)
        stack.extend(element._children.values())
    return str(fmap.get_root().render())


class OfflineMap(folium.Map, LiteralMacros):
    """A folium Map that links no CDN: Leaflet comes from :class:`InlineAssets` instead."""

    default_js: list[tuple[str, str]] = []  # noqa: RUF012 - folium reads these per class
    default_css: list[tuple[str, str]] = []  # noqa: RUF012


class FeatureGroup(folium.FeatureGroup, LiteralMacros):
    """folium's FeatureGroup, rendered without a second template pass."""


class LayerControl(folium.LayerControl, LiteralMacros):
    """folium's LayerControl (layer names are text), rendered without a second template pass."""


class TileLayer(folium.TileLayer, LiteralMacros):
    """folium's TileLayer (URL and attribution are text), without a second template pass."""


class FitBounds(folium.map.FitBounds, LiteralMacros):
    """folium's FitBounds, rendered without a second template pass."""


class InlineAssets(LiteralMacros):
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


class ContentPolicy(LiteralMacros):
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


class DrawAssets(LiteralMacros):
    """Leaflet.draw's CSS and JS and the explorer bridge runtime, inlined into the header."""

    _template = InlineAssets._template

    def __init__(self) -> None:
        super().__init__()
        self._name = "WorkbenchDrawAssets"
        self.css = static_text("vendor/leaflet-draw/leaflet.draw.css")
        self.js = static_text("vendor/leaflet-draw/leaflet.draw.js")
        if "</script" in self.js.lower() or "</style" in self.css.lower():
            raise RuntimeError("a vendored asset would end its inline element early")


class ExplorerBridge(LiteralMacros):
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


class MapSetup(LiteralMacros):
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


class MapReady(LiteralMacros):
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


class DataLayer(LiteralMacros):
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
    text = resources.files("workbench").joinpath("data", "cn_provinces.geojson").read_text("utf-8")
    geoms = shapely.get_parts(shapely.from_geojson(text))  # one geometry per feature
    simple = shapely.set_precision(shapely.simplify(geoms, 0.02, preserve_topology=True), 0.001)
    # geometry JSON from GEOS as it is (numbers only), not parsed and written again
    head = '{"type":"Feature","properties":{},"geometry":'
    features = ",".join(head + g + "}" for g in shapely.to_geojson(simple))
    return escaped_json('{"type":"FeatureCollection","features":[' + features + "]}")


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


class Events(DrawnLayer):
    """Dated events (raids, takedowns...) as diamonds coloured by kind, with a popup card
    (class workbench-event)."""

    kind = "events"
    draw = "drawEvents"


class Arrows(DrawnLayer):
    """Relocations as arrows from the old site to the new (class workbench-arrow)."""

    kind = "arrows"
    draw = "drawArrows"


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
