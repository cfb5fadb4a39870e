"""A map with thousands of addresses, points and sites: canvas drawing, cards on hover, text only.

Above ``L.workbench.canvasAbove`` markers a layer is drawn on a canvas (addresses as batched
rings) with one tooltip for the whole layer, instead of an SVG element and a tooltip each.
The cards must still show each marker's own data, as text.
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

    # one canvas per layer, no SVG element per marker
    assert page.locator("canvas.workbench-dots").count() == 1
    assert page.locator("path.workbench-location, path.workbench-point").count() == 0
    assert page.evaluate("() => L.workbench.layers.points.getLayers().length") == N

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
    assert page.evaluate("() => [...document.images].filter(i => i.src.endsWith('/x')).length") == 0
    browser_log.assert_no_dialogs()
    browser_log.assert_stayed_local()


# Draw the sites again with a subset, one of them changed: count the layers kept as they were.
REDRAW_SITES_JS = """() => {
    const kit = L.workbench, group = kit.layers.sites;
    const records = JSON.parse(document.querySelector('[data-layer="sites"]').textContent);
    const before = new Map(Object.entries(kit.siteParts));
    const kept = records.slice(0, 1000);
    kept[1] = Object.assign({}, kept[1], {label: "changed"});
    kit.drawSites(group, kept);
    const same = kept.filter(s => kit.siteParts[s.id][0] === before.get(s.id)[0]).length;
    return {same, ids: Object.keys(kit.siteParts).length, layers: group.getLayers().length};
}"""


def test_drawing_sites_again_redraws_only_those_that_changed(
    page: Any, serve_folder: Any, tmp_path: Path
) -> None:
    frames = _frames(tmp_path)
    site_map(frames["shipments"], frames["sites"]).to_html(tmp_path / "map.html")
    page.goto(f"{serve_folder(tmp_path)}/map.html")
    page.wait_for_function("() => window.workbenchMapReady === true", timeout=30_000)
    assert page.evaluate("() => L.workbench.layers.sites.getLayers().length") == 3 * N
    result = page.evaluate(REDRAW_SITES_JS)
    # 1000 sites left (radius, hull, centre each), all but the changed one kept as drawn
    assert result == {"same": 999, "ids": 1000, "layers": 3000}
