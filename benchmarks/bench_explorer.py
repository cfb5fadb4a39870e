"""The explorer map at scale: page size, draw time in headless Chromium, filter updates.

    python benchmarks/bench_explorer.py [--sizes 1000000] [--json out.json]

For each size the demo generator writes the exports, they are loaded into a case and sites
are found (not timed: other benchmarks cover them). Then:

- ``open``: ``workbench.explore(case)`` (reads the case, indexes the waybills, renders the page);
- ``html_mb``: the map page's size;
- ``draw``: the page loaded in Debian's Chromium (Playwright, ``executable_path``) until
  every layer is drawn (``window.workbenchMapReady``), best of three;
- ``filter``: a brand filter set in the widget (the kernel side: mask, aggregation, JSON)
  plus the page redrawing the points and sites it receives, best of three, for three filters
  (one brand, one network, a date range).

Every request the page makes is recorded; the benchmark fails if any leaves the page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import playwright.sync_api as pw

import workbench
from workbench.case._case import open_case
from workbench.explorer._screen import explore
from workbench.intake._table import load_table

CHROMIUM = "/usr/bin/chromium"
TABLES = ("sellers", "identifiers", "shipments", "locations", "evidence")
REDRAW_JS = """(messages) => {
    const start = performance.now();
    for (const m of messages) window.postMessage(m, "*");
    return new Promise(resolve => setTimeout(() => {
        // the message handlers have run (same task queue); wait one frame for painting
        requestAnimationFrame(() => resolve(performance.now() - start));
    }, 0));
}"""


def _case(folder: Path, n: int) -> Any:
    demo = workbench.generate_demo(folder / "data", n_shipments=n, fmt="parquet")
    case = open_case(folder / "case.gpkg", actor="bench")
    case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
    case.find_sites(300)
    return case


def _draw(browser: Any, page_html: Path) -> tuple[float, list[str]]:
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.on("request", lambda r: requests.append(r.url))
    start = time.perf_counter()
    page.goto(page_html.as_uri())
    page.wait_for_function("() => window.workbenchMapReady === true", timeout=60_000)
    elapsed = time.perf_counter() - start
    page.close()
    return elapsed, [u for u in requests if not u.startswith(("file:", "data:", "about:"))]


def _filter(explorer: Any, browser: Any, page_html: Path, change: Any) -> tuple[float, float]:
    """Kernel side (set the control, build the messages) + the page redrawing them."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(page_html.as_uri())
    page.wait_for_function("() => window.workbenchMapReady === true", timeout=60_000)
    sent: list[dict[str, Any]] = []
    explorer.map.post = sent.append
    start = time.perf_counter()
    change()
    kernel = time.perf_counter() - start
    payload = json.loads(json.dumps(sent))  # what the comm would carry
    redraw_ms = page.evaluate(REDRAW_JS, payload)
    page.close()
    return kernel, redraw_ms / 1000


def run(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-explorer-") as tmp:
        folder = Path(tmp)
        case = _case(folder, n)
        start = time.perf_counter()
        explorer = explore(case)
        opened = time.perf_counter() - start
        page_html = folder / "map.html"
        page_html.write_text(explorer.map.html, encoding="utf-8")
        result: dict[str, Any] = {
            "waybills": n,
            "open_s": round(opened, 2),
            "html_mb": round(page_html.stat().st_size / 1e6, 2),
            "markers": len(explorer.data.index.summary(max_points=explorer.max_points).points),
        }
        with pw.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless=new"])
            draws = [_draw(browser, page_html) for _ in range(3)]
            result["draw_s"] = round(min(d[0] for d in draws), 2)
            result["requests_leaving"] = sorted({u for d in draws for u in d[1]})
            index = explorer.data.index
            changes = {
                "brand": lambda: setattr(explorer.brand_filter, "value", (index.brands[0],)),
                "network": lambda: setattr(explorer.network_filter, "value", (index.networks[0],)),
                "dates": lambda: setattr(
                    explorer.end_date, "value", explorer.start_date.value.replace(month=6)
                ),
            }
            for name, change in changes.items():
                times = []
                for _ in range(3):
                    explorer.brand_filter.value, explorer.network_filter.value = (), ()
                    explorer.end_date.value = explorer._day_range()[1]
                    times.append(_filter(explorer, browser, page_html, change))
                best = min(times, key=sum)
                result[f"filter_{name}_s"] = round(sum(best), 3)
                result[f"filter_{name}_kernel_s"] = round(best[0], 3)
            browser.close()
        case.close()
    if result["requests_leaving"]:
        raise SystemExit(f"the page made requests: {result['requests_leaving']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    machine = f"{os.cpu_count()} cores, {platform.python_version()}"
    results = []
    for n in args.sizes:
        result = run(n)
        results.append(result)
        print(json.dumps(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=1))


if __name__ == "__main__":
    main()
