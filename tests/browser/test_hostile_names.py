"""Seller names that attack HTML and JavaScript reach the map and the tip sheet as plain text."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

import workbench

if TYPE_CHECKING:
    from conftest import BrowserLog

pytestmark = pytest.mark.browser

# The demo gives two accounts of the Putian ring (the top site) these names
# (workbench/_demo_places.py HOSTILE_RING_NAMES): an HTML injection and a template-literal one.
HOSTILE = ("<img src=x onerror=alert(1)>", "${alert(1)}")

# Open every tooltip through Leaflet (their content is built on opening) and read its text;
# close it again to keep the page light, then reopen those that show one of `names`.
OPEN_ALL_TOOLTIPS_JS = """(names) => {
    const texts = [], showing = [];
    window.workbenchMap.eachLayer(layer => {
        const tooltip = layer.getTooltip && layer.getTooltip();
        if (!tooltip) return;
        layer.openTooltip();
        const text = tooltip.getElement().textContent;
        layer.closeTooltip();
        texts.push(text);
        if (names.some(name => text.includes(name))) showing.push(layer);
    });
    showing.forEach(layer => layer.openTooltip());
    return texts;
}"""

# <img> elements whose src resolved to ".../x": the injected tag became real HTML.
INJECTED_IMAGES_JS = "() => [...document.images].filter(i => i.src.endsWith('/x')).length"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A small demo with hostile seller names, run end to end through the case: the run's map,
    and the signed bundle of the top site (reviewed first) in ``out/bundles``."""
    tmp = tmp_path_factory.mktemp("hostile")
    workbench.generate_demo(
        tmp / "data", seed=7, n_shipments=20_000, n_background_sellers=300, hostile_names=True
    )
    result = workbench.run_investigation(tmp / "data", tmp / "out")
    with workbench.open_case(result.case, create=False) as case:
        case.set_setting("organisation", "Acme Brand Protection")
        case.set_setting("contact", "ip-team@acme.example")
        case.review("S001", status="confirmed", note="test buy 14 matched", by="lead-7")
        bundle = workbench.export_tip_sheet(
            case, ["S001"], out=tmp / "out" / "bundles", keys_dir=workbench.init_keys(tmp / "keys")
        )
    return SimpleNamespace(result=result, report=bundle / "data" / "report.html")


def test_hostile_names_render_as_text(
    hostile_run: SimpleNamespace,
    page: Any,
    serve_folder: Any,
    browser_log: BrowserLog,
    screenshots: Path,
) -> None:
    top = hostile_run.result.sites.iloc[0]
    assert (top["site_id"], top["prefecture"]) == ("S001", "Putian")
    out = hostile_run.result.out_dir
    base = serve_folder(out)

    # (a) the map: every tooltip opened, the names are shown as text, nothing ran
    page.goto(f"{base}/map.html")
    page.wait_for_function("() => window.workbenchMapReady === true")
    tooltips = page.evaluate(OPEN_ALL_TOOLTIPS_JS, list(HOSTILE))
    page.wait_for_timeout(500)  # an injected <img src=x> would have failed to load by now
    assert len(tooltips) > 10
    shown = page.inner_text("body")
    for name in HOSTILE:
        assert name in shown, f"{name!r} is not shown as text on the map"
        assert any(name in text for text in tooltips)
    assert page.evaluate(INJECTED_IMAGES_JS) == 0
    browser_log.assert_no_dialogs()

    # (b) the tip sheet of the Putian site: the names sit in the sellers table as text
    tip_sheet = hostile_run.report.relative_to(out).as_posix()
    assert tip_sheet.startswith("bundles/tipsheet-") and tip_sheet.endswith("/data/report.html")
    page.goto(f"{base}/{tip_sheet}")
    text = page.inner_text("body")
    seller_names = page.locator("td.seller-name").all_inner_texts()
    for name in HOSTILE:
        assert name in text, f"{name!r} is not shown as text on the tip sheet"
        assert name in seller_names
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate(INJECTED_IMAGES_JS) == 0
    page.screenshot(path=screenshots / "tipsheet.png")

    assert not [url for url in browser_log.requests if url.endswith("/x")]
    browser_log.assert_no_dialogs()
    browser_log.assert_stayed_local()
