"""A map with thousands of addresses, points and sites: canvas drawing, cards on hover, text only.

Above ``L.workbench.canvasAbove`` markers a layer is drawn by a canvas layer of the
workbench's own (markers as batched paths) with one tooltip, instead of a Leaflet layer, an
SVG element and a tooltip each. The cards must still show each marker's own data, as text,
and a click on a point or a site must still reach the explorer as that marker's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
import shapely

from workbench.maps._page import site_map

if TYPE_CHECKING:
    from conftest import BrowserLog

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
N = 3_000  # above canvasAbove (2000): every layer takes the canvas path

# The page position of the address (or point) of index i, for a mouse move onto it.
PIXEL_JS = """([lat, lon]) => {
    const p = window.workbenchMap.latLngToContainerPoint([lat, lon]);
    const box = window.workbenchMap.getContainer().getBoundingClientRect();
    return [box.left + p.x, box.top + p.y];
}"""
TOOLTIP_JS = "() => [...document.querySelectorAll('.workbench-tooltip')].map(t => t.textContent)"


def _frames(tmp: Path) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(5)
    lat, lon = 25.0 + rng.random(N) * 4, 115.0 + rng.random(N) * 6
    sellers = [f"S{i}" for i in range(N)]
    sites = pd.DataFrame(
        {
            "site_id": [f"T{i:04d}" for i in range(N)],
            "rank": np.arange(1, N + 1),
            "lat": lat - 0.5,  # apart from the points and addresses hovered below
            "lon": lon,
            "radius_m": 200.0,
            "score": 50.0,
            "label": "workshop",
            "n_shipments": 10,
            "n_sellers": 1,
            "sellers": [[s] for s in sellers],
            "hull": [shapely.Point(x, y - 0.5).buffer(1e-3) for x, y in zip(lon, lat, strict=True)],
        }
    )
    return {
        "shipments": pd.DataFrame(
            {"shipment_id": sellers, "seller_id": sellers, "lat": lat, "lon": lon}
        ),
        "sellers": pd.DataFrame(
            {"seller_id": sellers, "name": [f"{HOSTILE} {s}" for s in sellers]}
        ),
        "locations": pd.DataFrame(
            {
                "seller_id": sellers,
                "kind": ["warehouse", "return", "registered"] * (N // 3),
                "address": [f"{i} {HOSTILE} Road" for i in range(N)],
                "lat": lat + 0.5,
                "lon": lon + 0.5,
            }
        ),
        "sites": sites,
    }


def test_thousands_of_markers_draw_on_canvas_with_text_cards(
    page: Any, serve_folder: Any, browser_log: BrowserLog, tmp_path: Path
) -> None:
    frames = _frames(tmp_path)
    view = site_map(
        frames["shipments"], frames["sites"], sellers=frames["sellers"],
        locations=frames["locations"], max_points=N,
    )  # fmt: skip
    view.to_html(tmp_path / "map.html")
    page.goto(f"{serve_folder(tmp_path)}/map.html")
    page.wait_for_function("() => window.workbenchMapReady === true", timeout=30_000)

    # one canvas per layer (sites: areas and centres), no SVG element per marker
    for kind in ("locations", "points", "sites", "site-centres"):
        assert page.locator(f"canvas.workbench-canvas-{kind}").count() == 1
    assert page.locator("path.workbench-location, path.workbench-point").count() == 0
    assert page.locator("path.workbench-site").count() == 0
    counts = page.evaluate("() => ['points', 'locations', 'sites'].map(L.workbench.count)")
    assert counts == [N, N, N]

    # hovering an address shows its own card, the hostile text as text
    i = 1234
    located = frames["locations"].iloc[i]
    x, y = page.evaluate(PIXEL_JS, [float(located["lat"]), float(located["lon"])])
    page.mouse.move(x, y)
    page.wait_for_function("() => document.querySelector('.workbench-tooltip') !== null")
    cards = page.evaluate(TOOLTIP_JS)
    assert any(f"{i} {HOSTILE} Road" in c and f"S{i}" in c for c in cards), cards
    # ... and moving away from every marker closes it
    page.mouse.move(2, 2)
    page.wait_for_function("() => document.querySelector('.workbench-tooltip') === null")

    # a point's card: one tooltip for the layer, with the hovered point's seller
    shipped = frames["shipments"].iloc[i]
    x, y = page.evaluate(PIXEL_JS, [float(shipped["lat"]), float(shipped["lon"])])
    page.mouse.move(x, y)
    page.wait_for_timeout(300)
    assert any(f"{HOSTILE} S{i}" in c for c in page.evaluate(TOOLTIP_JS))
    page.mouse.move(2, 2)
    page.wait_for_function("() => document.querySelector('.workbench-tooltip') === null")

    # a site's centre: its card, with its seller's name as text
    site = frames["sites"].iloc[i]
    x, y = page.evaluate(PIXEL_JS, [float(site["lat"]), float(site["lon"])])
    page.mouse.move(x, y)
    page.wait_for_function("() => document.querySelector('.workbench-tooltip') !== null")
    assert any(f"Site {site['site_id']}" in c and f"{HOSTILE} S{i}" in c
               for c in page.evaluate(TOOLTIP_JS))  # fmt: skip
    assert page.evaluate("() => [...document.images].filter(i => i.src.endsWith('/x')).length") == 0
    browser_log.assert_no_dialogs()
    browser_log.assert_stayed_local()


# Clicks the layers' groups report (what the explorer's bridge listens to), as [layer, id].
CLICKS_JS = """() => {
    window.clicks = [];
    ["points", "sites"].forEach(kind => L.workbench.layers[kind].on("click", e => {
        const info = e.workbench;
        window.clicks.push([info.layer, info.layer === "sites" ? info.id : info.index]);
    }));
}"""


def test_a_click_on_a_canvas_marker_is_that_markers(
    page: Any, serve_folder: Any, tmp_path: Path
) -> None:
    frames = _frames(tmp_path)
    view = site_map(frames["shipments"], frames["sites"], max_points=N)
    view.to_html(tmp_path / "map.html")
    page.goto(f"{serve_folder(tmp_path)}/map.html")
    page.wait_for_function("() => window.workbenchMapReady === true", timeout=30_000)
    page.evaluate(CLICKS_JS)
    page.evaluate("() => window.workbenchMap.setZoom(window.workbenchMap.getZoom() + 3)")

    def click_at(row: Any) -> None:  # centre the map on the row's place, click there
        place = [float(row["lat"]), float(row["lon"])]
        page.evaluate(
            "([lat, lon]) => window.workbenchMap.setView([lat, lon], 10, {animate: false})",
            place,
        )
        page.evaluate(PAINTED_JS)
        page.mouse.click(*page.evaluate(PIXEL_JS, place))

    for i in (17, 2345):
        # the site's centre (above the points), then the point of the same seller
        click_at(frames["sites"].iloc[i])
        click_at(frames["shipments"].iloc[i])
    clicks = page.evaluate("() => window.clicks")
    # a point's index is its place in the payload (most shipments first, then lat, lon)
    points = view.points.reset_index(drop=True)
    index_of = {
        (round(a, 6), round(b, 6)): k
        for k, (a, b) in enumerate(zip(points["lat"], points["lon"], strict=True))
    }
    expected = []
    for i in (17, 2345):
        row = frames["shipments"].iloc[i]
        expected += [
            ["sites", f"T{i:04d}"],
            ["points", index_of[(round(row["lat"], 6), round(row["lon"], 6))]],
        ]
    assert clicks == expected


# Draw the sites again with a subset, one of them changed: count the SVG layers kept as drawn.
REDRAW_SITES_JS = """(n) => {
    const kit = L.workbench, group = kit.layers.sites;
    const records = JSON.parse(document.querySelector('[data-layer="sites"]').textContent);
    const before = new Map(Object.entries(kit.siteParts));
    const kept = records.slice(0, n);
    kept[1] = Object.assign({}, kept[1], {label: "changed"});
    kit.drawSites(group, kept);
    const same = kept.filter(s => kit.siteParts[s.id][0] === before.get(s.id)[0]).length;
    return {same, ids: Object.keys(kit.siteParts).length, layers: group.getLayers().length};
}"""
# Hover a site's centre and read the cards shown.
SITE_CARD_JS = """([lat, lon]) => new Promise(resolve => {
    const map = window.workbenchMap, p = map.latLngToContainerPoint([lat, lon]);
    const box = map.getContainer().getBoundingClientRect();
    map.getContainer().dispatchEvent(new MouseEvent("mousemove",
        {clientX: box.left + p.x, clientY: box.top + p.y, bubbles: true}));
    // a closed tooltip fades out for 200 ms before it leaves the page
    const cards = () => [...document.querySelectorAll('.workbench-tooltip')];
    setTimeout(() => resolve(cards().map(t => t.textContent).join("|")), 400);
})"""
REDRAW_MANY_JS = """() => {
    const records = JSON.parse(document.querySelector('[data-layer="sites"]').textContent);
    const kept = records.slice(0, 1000);
    kept[1] = Object.assign({}, kept[1], {label: "changed"});
    L.workbench.drawSites(L.workbench.layers.sites, kept);
}"""
PAINTED_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def test_drawing_few_sites_again_redraws_only_those_that_changed(
    page: Any, serve_folder: Any, tmp_path: Path
) -> None:
    frames = _frames(tmp_path)
    few = frames["sites"].head(600)  # 1,800 parts: SVG elements
    site_map(frames["shipments"].head(600), few).to_html(tmp_path / "map.html")
    page.goto(f"{serve_folder(tmp_path)}/map.html")
    page.wait_for_function("() => window.workbenchMapReady === true", timeout=30_000)
    assert page.evaluate("() => L.workbench.layers.sites.getLayers().length") == 3 * 600
    result = page.evaluate(REDRAW_SITES_JS, 400)
    # 400 sites left (radius, hull, centre each), all but the changed one kept as drawn
    assert result == {"same": 399, "ids": 400, "layers": 1200}


def test_drawing_many_sites_again_shows_only_the_new_records(
    page: Any, serve_folder: Any, tmp_path: Path
) -> None:
    frames = _frames(tmp_path)
    site_map(frames["shipments"], frames["sites"]).to_html(tmp_path / "map.html")
    page.goto(f"{serve_folder(tmp_path)}/map.html")
    page.wait_for_function("() => window.workbenchMapReady === true", timeout=30_000)
    assert page.evaluate("() => L.workbench.count('sites')") == N
    page.evaluate("() => window.workbenchMap.setZoom(window.workbenchMap.getZoom() + 3)")
    sites = frames["sites"]
    kept, dropped = sites.iloc[1], sites.iloc[2000]
    for site in (kept, dropped):  # both drawn now: each shows its card
        page.evaluate(
            "([lat, lon]) => window.workbenchMap.setView([lat, lon], 11, {animate: false})",
            [float(site["lat"]), float(site["lon"])],
        )
        page.evaluate(PAINTED_JS)
        assert f"Site {site['site_id']}" in page.evaluate(SITE_CARD_JS, [site["lat"], site["lon"]])
    # drawn again with the first 1,000 (the second relabelled): a canvas redraw, no SVG
    page.evaluate(REDRAW_MANY_JS)
    assert page.evaluate("() => L.workbench.count('sites')") == 1000
    assert page.evaluate("() => L.workbench.layers.sites.getLayers().length") == 2
    page.evaluate(PAINTED_JS)
    assert "Site T2000" not in page.evaluate(SITE_CARD_JS, [dropped["lat"], dropped["lon"]])
    page.evaluate(
        "([lat, lon]) => window.workbenchMap.setView([lat, lon], 11, {animate: false})",
        [float(kept["lat"]), float(kept["lon"])],
    )
    page.evaluate(PAINTED_JS)
    card = page.evaluate(SITE_CARD_JS, [kept["lat"], kept["lon"]])
    assert "Site T0001" in card and "changed" in card
