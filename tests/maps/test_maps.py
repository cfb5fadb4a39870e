"""The offline map: nothing fetched, data shown as text, points aggregated, inputs checked."""

from __future__ import annotations

import html
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import folium
import pandas as pd
import pytest
from shapely.geometry import Polygon

from workbench.errors import InputError, MissingColumnsError
from workbench.maps import _data as _mapdata
from workbench.maps._page import MapView, site_map

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "workbench" / "maps" / "static" / "vendor"

IMG = "<img src=x onerror=alert(1)>"
TEMPLATE = "${alert(1)}"
BREAKOUT = "</script><script>alert(1)</script>"
SEPARATOR = "line\u2028break\u2029end"  # U+2028/2029 end a JavaScript string in old parsers

# Hosts a folium map links by default, and the usual tile server: none may appear.
CDN_HOSTS = (
    "cdn.jsdelivr",
    "jsdelivr.net",
    "cdnjs",
    "unpkg",
    "bootstrapcdn",
    "code.jquery",
    "cloudflare",
    "tile.openstreetmap",
    "fontawesome",
)
JSON_SCRIPT = re.compile(
    r'<script type="application/json" class="workbench-data" data-layer="(\w+)"\s*'
    r'id="[\w-]+">(.*?)</script>',
    re.S,
)


@pytest.fixture
def shipments() -> pd.DataFrame:
    # Three waybills from one door in Putian by S1 (-> one marker of 3), one from Guangzhou by
    # S2, one from Guangzhou by S3 at a different point, and one without coordinates.
    return pd.DataFrame(
        {
            "shipment_id": ["W1", "W2", "W3", "W4", "W5", "W6"],
            "seller_id": ["S1", "S1", "S1", "S2", "S3", "S3"],
            "lat": [25.4394, 25.4394, 25.4394, 23.1291, 23.1300, None],
            "lon": [119.0103, 119.0103, 119.0103, 113.2644, 113.2700, None],
        }
    )


@pytest.fixture
def sellers() -> pd.DataFrame:
    # every name attacks HTML or JavaScript in a different way
    return pd.DataFrame(
        {"seller_id": ["S1", "S2", "S3"], "name": [IMG, BREAKOUT, TEMPLATE + SEPARATOR]}
    )


@pytest.fixture
def networks() -> pd.DataFrame:
    # S1 and S3 are one ring; S2 is unlinked (network_id missing)
    return pd.DataFrame({"seller_id": ["S1", "S2", "S3"], "network_id": ["N-7", None, "N-7"]})


@pytest.fixture
def sites() -> pd.DataFrame:
    # a workshop scoring 82 (top ramp class) with a hull, and a hub (grey, dashed) without one
    hull = Polygon([(119.009, 25.438), (119.012, 25.438), (119.012, 25.441)])
    return pd.DataFrame(
        {
            "site_id": ["P-001", "H-002"],
            "rank": [1, 2],
            "lat": [25.4394, 23.1291],
            "lon": [119.0103, 113.2644],
            "radius_m": [300.0, 500.0],
            "hull": [hull, None],
            "score": [82.0, 12.5],
            "label": ["workshop", "hub"],
            "n_shipments": [3, 2],
            "n_sellers": [1, 2],
            "n_networks": [1, 1],
            "sellers": [["S1"], ["S2", "S3"]],
            "brands": [["Nike", IMG], []],
            "place": [BREAKOUT, "Guangzhou"],
            "province": ["Fujian", "Guangdong"],
        }
    )


@pytest.fixture
def locations() -> pd.DataFrame:
    # one warehouse with a hostile address; one return address without coordinates
    return pd.DataFrame(
        {
            "seller_id": ["S1", "S2"],
            "kind": ["warehouse", "return"],
            "address": [TEMPLATE, "Baiyun District"],
            "lat": [25.44, None],
            "lon": [119.02, None],
        }
    )


@pytest.fixture
def page(
    shipments: pd.DataFrame,
    sites: pd.DataFrame,
    sellers: pd.DataFrame,
    networks: pd.DataFrame,
    locations: pd.DataFrame,
) -> str:
    view = site_map(shipments, sites, sellers=sellers, networks=networks, locations=locations)
    out = view.to_html()
    assert out is not None
    return out


def payloads(page: str) -> dict[str, Any]:
    """The JSON each layer embeds, parsed back: layer kind -> data."""
    found = {kind: json.loads(text) for kind, text in JSON_SCRIPT.findall(page)}
    assert found, "no JSON payload found in the page"
    return found


def layer_names(page: str) -> list[str]:
    """The names the layer control lists, decoded from their JSON string literals."""
    return [json.loads(name) for name in re.findall(r'("(?:[^"\\]|\\.)*") : feature_group_', page)]


def page_script(page: str) -> str:
    """The page's own script: everything after the body (Leaflet itself is in the head)."""
    return page[page.index("</body>") :]


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


# -- offline ----------------------------------------------------------------------------------


def test_leaflet_and_basemap_are_inlined(page: str) -> None:
    assert "Leaflet 1.9.4" in page  # the banner comment of the vendored leaflet.js
    assert 'version="1.9.4"' in page  # ... and its L.version assignment
    assert ".leaflet-container" in page  # leaflet.css
    assert "L.workbench" in page  # the workbench runtime
    basemap = payloads(page)["basemap"]
    # Natural Earth 1:50m has ~240 countries; China must be among them
    assert len(basemap["features"]) > 200
    assert "China" in {f["properties"]["name"] for f in basemap["features"]}


def test_nothing_is_fetched_from_the_network(page: str) -> None:
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page, re.I)
    lowered = page.lower()
    for host in CDN_HOSTS:
        assert host not in lowered, host
    assert "L.tileLayer" not in page  # no tile layer unless asked for


def test_tiles_only_when_asked(shipments: pd.DataFrame) -> None:
    template = "http://tiles.example.internal/{z}/{x}/{y}.png"
    view = site_map(shipments, tiles=template, attribution="Tiles: our own server")
    out = view.to_html()
    assert out is not None
    assert "L.tileLayer" in out and json.dumps(template) in out
    assert "Tiles: our own server" in out


@pytest.mark.parametrize(
    ("tiles", "attribution", "message"),
    [
        ("OpenStreetMap", "x", r"tiles: expected a URL template with \{z\}"),
        ("http://tiles.example.internal/{z}/{x}/{y}.png", None, "attribution: a tile layer"),
    ],
)
def test_bad_tiles_raise(
    shipments: pd.DataFrame, tiles: str, attribution: str | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        site_map(shipments, tiles=tiles, attribution=attribution)


# -- escaping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [IMG, BREAKOUT, "\u2028", "\u2029"])
def test_hostile_strings_never_appear_raw(page: str, raw: str) -> None:
    assert raw not in page


def test_script_elements_stay_balanced(page: str) -> None:
    # a data string that closed a <script> early would leave an extra "</script"
    assert page.lower().count("<script") == page.lower().count("</script")


def test_hostile_strings_round_trip_through_json(page: str) -> None:
    data = payloads(page)
    shown = set(strings_in(data))
    # the seller names (points and sites), the site's place and brand, the warehouse address
    for expected in (IMG, BREAKOUT, TEMPLATE + SEPARATOR, TEMPLATE):
        assert expected in shown, expected
    assert data["sites"][0]["place"] == BREAKOUT
    assert data["sites"][0]["brands"] == ["Nike", IMG]
    assert data["locations"]["address"][0] == TEMPLATE


def test_script_json_escapes() -> None:
    text = _mapdata.script_json({"a": "<b>&</b>" + SEPARATOR})
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == {"a": "<b>&</b>" + SEPARATOR}


def test_tooltips_are_built_with_text_content(page: str) -> None:
    # tooltips are DOM nodes filled with textContent; no HTML string is ever built from data
    runtime = (REPO / "workbench" / "maps" / "static" / "map.js").read_text(encoding="utf-8")
    assert "textContent" in runtime
    assert "innerHTML" not in runtime
    assert "innerHTML" not in page_script(page) and "bindPopup" not in page_script(page)


# -- what is drawn ----------------------------------------------------------------------------


def test_points_aggregate_to_unique_coordinates(
    shipments: pd.DataFrame, sellers: pd.DataFrame, networks: pd.DataFrame
) -> None:
    view = site_map(shipments, sellers=sellers, networks=networks)
    points = view.points
    # 3 waybills at the Putian door -> one marker of 3; two single Guangzhou points
    assert points["shipments"].tolist() == [3, 1, 1]
    top = points.iloc[0]
    assert (top["lat"], top["lon"], top["sellers"]) == (25.4394, 119.0103, 1)
    assert top["names"] == [IMG] and top["network"] == "N-7"
    assert view.cell_deg is None
    out = view.to_html()
    assert out is not None
    data = payloads(out)["points"]
    assert data["shipments"] == [3, 1, 1]
    # S1 and S3 share N-7's stable colour; S2 is unlinked and grey
    assert data["colours"] == [_mapdata.network_colour("N-7")]
    assert sorted(data["net"]) == [-1, 0, 0]
    assert data["unlinked"] == _mapdata.UNLINKED_COLOUR
    # one waybill had no coordinates: said in the layer name, not silently dropped
    assert "Ship-from points (3 locations; 1 shipment without coordinates)" in layer_names(out)


def test_point_names_are_capped_with_a_count() -> None:
    # 7 sellers at one door, seller k sending k waybills: the 5 busiest are named, 2 counted
    rows = [(f"S{k}", 25.0, 119.0) for k in range(1, 8) for _ in range(k)]
    ships = pd.DataFrame(rows, columns=["seller_id", "lat", "lon"])
    ships["shipment_id"] = range(len(ships))
    point = site_map(ships).points.iloc[0]
    assert point["shipments"] == 28  # 1 + 2 + ... + 7
    assert point["names"] == ["S7", "S6", "S5", "S4", "S3"]
    assert point["more"] == 2


def test_missing_seller_ids_are_kept_and_labelled() -> None:
    # two waybills at one door, one without a seller id: both counted, the gap is named
    ships = pd.DataFrame(
        {"shipment_id": [1, 2], "seller_id": ["S1", None], "lat": [25.0, 25.0], "lon": [119.0] * 2}
    )
    point = site_map(ships).points.iloc[0]
    assert (point["shipments"], point["sellers"]) == (2, 2)
    assert sorted(point["names"]) == sorted(["S1", _mapdata.UNKNOWN_SELLER])


def test_grid_aggregation_above_max_points() -> None:
    # 4 doors: two pairs 0.0005° apart (~50 m), the pairs 1° apart. With max_points=2 the
    # smallest grid that leaves <= 2 cells holds each pair in one cell.
    ships = pd.DataFrame(
        {
            "shipment_id": range(5),
            "seller_id": ["A", "A", "B", "C", "C"],
            "lat": [25.0001, 25.0006, 25.0006, 26.0001, 26.0006],
            "lon": [119.0001, 119.0001, 119.0001, 120.0001, 120.0001],
        }
    )
    view = site_map(ships, max_points=2)
    assert view.cell_deg is not None and view.cell_deg <= 0.01
    assert sorted(view.points["shipments"].tolist()) == [2, 3]  # no waybill lost
    assert sorted(view.points["sellers"].tolist()) == [1, 2]
    out = view.to_html()
    assert out is not None
    name = f"Ship-from points (grid of {view.cell_deg:g}° cells: 2 cells from 4 locations)"
    assert layer_names(out) == ["Basemap", name]
    assert payloads(out)["points"]["grid"] == view.cell_deg


def test_sites_are_coloured_by_score_and_hubs_are_grey(page: str) -> None:
    workshop, hub = payloads(page)["sites"]
    assert workshop["colour"] == _mapdata.score_colour(82.0) == "#bd0026"  # top ramp class
    assert (hub["hub"], hub["colour"]) == (True, _mapdata.HUB_COLOUR)
    # hull rings go to Leaflet as [lat, lon]; the hub has no hull, only its radius circle
    assert workshop["hull"][0][0][0] == [25.438, 119.009]
    assert hub["hull"] == []
    assert hub["names"] == [BREAKOUT, TEMPLATE + SEPARATOR]  # names, not seller ids
    assert "workbench-site-hub" in page and "dashArray" in page


def test_layers_classes_and_globals(page: str) -> None:
    assert layer_names(page) == [
        "Basemap",
        "Candidate sites (2)",
        "Warehouses and return addresses (1 drawn, 1 without coordinates)",
        "Ship-from points (3 locations; 1 shipment without coordinates)",
    ]
    for needed in (
        "workbench-basemap",
        "workbench-point",
        "workbench-site",
        "workbench-location",
        "window.workbenchMap =",
        "window.workbenchMapReady = true",
        "L.control.layers",
        "fitBounds",
    ):
        assert needed in page, needed
    located = payloads(page)["locations"]
    assert located["cls"][located["kind"][0]] == "warehouse"


def test_map_without_any_points_still_renders() -> None:
    empty = pd.DataFrame({"shipment_id": [], "seller_id": [], "lat": [], "lon": []})
    view = site_map(empty)
    assert len(view.points) == 0
    out = view.to_html()
    assert out is not None and layer_names(out) == ["Basemap", "Ship-from points (0 locations)"]


def test_typical_page_stays_small() -> None:
    # 5,000 distinct doors: the page (Leaflet + basemap + points) stays well under 3 MB
    n = 5_000
    ships = pd.DataFrame(
        {
            "shipment_id": range(n),
            "seller_id": [f"S{i % 400}" for i in range(n)],
            "lat": [22.0 + (i % 100) * 0.01 for i in range(n)],
            "lon": [113.0 + (i // 100) * 0.01 for i in range(n)],
        }
    )
    out = site_map(ships).to_html()
    assert out is not None
    assert len(out.encode("utf-8")) < 2_000_000


# -- inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "frame", "message"),
    [
        ("shipments", pd.DataFrame({"seller_id": ["S1"]}), r"shipments: .*shipment_id, lat, lon"),
        ("sellers", pd.DataFrame({"seller_id": ["S1"]}), r"sellers: required field\(s\) name"),
        ("networks", pd.DataFrame({"seller_id": ["S1"]}), r"networks: .* network_id not"),
        ("locations", pd.DataFrame({"lat": [1.0]}), r"locations: .*seller_id, kind, address"),
        ("sites", pd.DataFrame({"site_id": ["P"]}), r"sites: .*rank, lat, lon, radius_m"),
    ],
)
def test_missing_columns_raise(
    shipments: pd.DataFrame, argument: str, frame: pd.DataFrame, message: str
) -> None:
    kwargs: dict[str, Any] = {"shipments": shipments, argument: frame}
    with pytest.raises(MissingColumnsError, match=message):
        site_map(**kwargs)


@pytest.mark.parametrize("max_points", [0, -5, 2.5, True])
def test_bad_max_points_raise(shipments: pd.DataFrame, max_points: Any) -> None:
    with pytest.raises(InputError, match="max_points: expected a positive integer"):
        site_map(shipments, max_points=max_points)


# -- output -----------------------------------------------------------------------------------


def test_repr_html_is_a_sandboxed_iframe(shipments: pd.DataFrame, sellers: pd.DataFrame) -> None:
    view = site_map(shipments, sellers=sellers)
    frame = view._repr_html_()
    assert frame.startswith('<iframe class="workbench-map" sandbox="allow-scripts" ')
    assert "allow-same-origin" not in frame
    assert "height:600px" in frame and "width:100%" in frame
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame)
    assert srcdoc is not None
    # the whole page sits in the attribute, escaped: no raw tag, and it unescapes exactly
    assert "<" not in srcdoc.group(1)
    assert html.unescape(srcdoc.group(1)) == view.to_html()


def test_to_html_writes_utf8_file(tmp_path: Path, shipments: pd.DataFrame) -> None:
    view = site_map(shipments, sellers=pd.DataFrame({"seller_id": ["S1"], "name": ["莆田鞋业"]}))
    target = tmp_path / "map.html"
    assert view.to_html(target) is None
    written = target.read_text(encoding="utf-8")
    assert written == view.to_html() == view.to_html()  # rendering again changes nothing
    assert "莆田鞋业" in written
    assert isinstance(view, MapView) and "3 ship-from markers" in repr(view)


# -- vendored files ---------------------------------------------------------------------------


def test_vendored_files_and_licences_are_shipped() -> None:
    for relative in (
        "leaflet/leaflet.js",
        "leaflet/leaflet.css",
        "leaflet/LICENSE",
        "world-atlas/countries.geojson",
        "world-atlas/LICENSE",
        "README.md",
    ):
        assert (VENDOR / relative).is_file(), relative
    assert "BSD 2-Clause" in (VENDOR / "leaflet" / "LICENSE").read_text(encoding="utf-8")
    assert (VENDOR / "world-atlas" / "countries.geojson").stat().st_size < 1_000_000
    assert "sourceMappingURL" not in (VENDOR / "leaflet" / "leaflet.js").read_text("utf-8")
    assert "url(images/" not in (VENDOR / "leaflet" / "leaflet.css").read_text("utf-8")


def test_topojson_decoding() -> None:
    spec = importlib.util.spec_from_file_location("vendor_assets", REPO / "tools/vendor_assets.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    # A unit square from two delta-encoded, quantized arcs: arc 0 runs (0,0)->(2,0)->(2,2),
    # arc 1 runs (0,0)->(0,2)->(2,2) and is used reversed (~1 == -2). Scale 0.5 -> degrees.
    topology = {
        "type": "Topology",
        "transform": {"scale": [0.5, 0.5], "translate": [100, 20]},
        "arcs": [[[0, 0], [2, 0], [0, 2]], [[0, 0], [0, 2], [2, 0]]],
        "objects": {
            "countries": {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Polygon", "arcs": [[0, -2]], "id": "1", "properties": {"name": "Sq"}},
                    {"type": None, "id": "2"},
                ],
            }
        },
    }
    out = tool.topojson_to_geojson(topology, "countries", decimals=3)
    assert len(out["features"]) == 1  # the null geometry is left out
    ring = out["features"][0]["geometry"]["coordinates"][0]
    assert ring == [[100.0, 20.0], [101.0, 20.0], [101.0, 21.0], [100.0, 21.0], [100.0, 20.0]]


def test_a_plain_folium_element_is_refused_before_it_can_reparse_data(
    shipments: pd.DataFrame,
) -> None:
    # folium.Marker renders through branca's MacroElement.render, which parses the rendered
    # tooltip as a template a second time: a page holding one is refused, not drawn
    view = site_map(shipments)
    folium.Marker([25.4, 119.0], tooltip="{{ 7*7 }}").add_to(view.map)
    with pytest.raises(TypeError, match="Marker on the map would parse its rendered text"):
        view.to_html()
