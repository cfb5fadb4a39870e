"""The explorer map at scale: page size, draw time in headless Chromium, filter updates.

    python benchmarks/bench_explorer.py [--sizes 1000000] [--json out.json]
    python benchmarks/bench_explorer.py --case PATH/case.gpkg [--repeat 3] [--json out.json]

With ``--sizes`` the demo generator writes the exports for each size, they are loaded into a
case and sites are found (not timed: other benchmarks cover them). With ``--case`` a stored
case is measured as it is (open a copy: opening may migrate it), each run in a fresh
process, ``--repeat`` times, and the best figure of each measure is kept (and the median
of the runs, under ``median``). Then:

- ``open``: ``workbench.explore(case)`` (reads the case, indexes the waybills, renders the
  page; ``open_case_s`` is opening the case before it);
- ``html_mb``: the map page's size;
- ``draw``: the page loaded in Debian's Chromium (Playwright, ``executable_path``) until
  every layer is drawn (``window.workbenchMapReady``), best of three; ``draw_painted``: until
  two frames more are painted (canvas layers paint on a frame);
- ``filter``: a filter set in the widget (the kernel side: mask, aggregation, JSON) plus the
  page redrawing the points and sites it receives, best of three, for three filters (one
  brand, one network, a date range); ``_first`` is the first change after opening;
- ``site``: a site selected (the kernel side: zoom command, details, the selection of its
  waybills) plus the page handling the zoom, best of three, for the first, a middle and the
  last site by rank; ``site_s`` is the slowest of them, ``site_first_s`` the first selection
  after opening (the kernel reads what site selections need then).

Every request the page makes is recorded; the benchmark fails if any leaves the page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
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
PAINTED_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
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


def _draw(browser: Any, page_html: Path) -> tuple[float, float, list[str]]:
    """Seconds until the page's scripts have drawn every layer, and until two frames more
    are painted (canvas layers paint on a frame), and the requests the page made."""
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.on("request", lambda r: requests.append(r.url))
    start = time.perf_counter()
    page.goto(page_html.as_uri())
    page.wait_for_function("() => window.workbenchMapReady === true", timeout=60_000)
    ready = time.perf_counter() - start
    page.evaluate(PAINTED_JS)
    painted = time.perf_counter() - start
    page.close()
    return ready, painted, [u for u in requests if not u.startswith(("file:", "data:", "about:"))]


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
        result = {"waybills": n, **measure(case, folder)}
        case.close()
    return result


def measure(case: Any, folder: Path) -> dict[str, Any]:
    """Open the explorer on ``case`` and time the page, the filters and site selections."""
    start = time.perf_counter()
    explorer = explore(case)
    opened = time.perf_counter() - start
    page_html = folder / "map.html"
    page_html.write_text(explorer.map.html, encoding="utf-8")
    result: dict[str, Any] = {
        "open_s": round(opened, 3),
        "html_mb": round(page_html.stat().st_size / 1e6, 2),
        "markers": len(explorer.data.index.summary(max_points=explorer.max_points).points),
    }
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless=new"])
        draws = [_draw(browser, page_html) for _ in range(3)]
        result["draw_s"] = round(min(d[0] for d in draws), 3)
        result["draw_painted_s"] = round(min(d[1] for d in draws), 3)
        result["requests_leaving"] = sorted({u for d in draws for u in d[2]})
        result.update(_filters(explorer, browser, page_html))
        result.update(_sites(explorer, browser, page_html))
        browser.close()
    if result["requests_leaving"]:
        raise SystemExit(f"the page made requests: {result['requests_leaving']}")
    return result


def _filters(explorer: Any, browser: Any, page_html: Path) -> dict[str, Any]:
    index = explorer.data.index
    changes = {
        "brand": lambda: setattr(explorer.brand_filter, "value", (index.brands[0],)),
        "network": lambda: setattr(explorer.network_filter, "value", (index.networks[0],)),
        "dates": lambda: setattr(
            explorer.end_date, "value", explorer.start_date.value.replace(month=6)
        ),
    }
    result: dict[str, Any] = {}
    for name, change in changes.items():
        times = []
        for _ in range(3):
            explorer.brand_filter.value, explorer.network_filter.value = (), ()
            explorer.end_date.value = explorer._day_range()[1]
            times.append(_filter(explorer, browser, page_html, change))
        best = min(times, key=sum)
        result[f"filter_{name}_s"] = round(sum(best), 3)
        result[f"filter_{name}_kernel_s"] = round(best[0], 3)
        result[f"filter_{name}_first_s"] = round(sum(times[0]), 3)
    explorer.brand_filter.value, explorer.network_filter.value = (), ()
    explorer.end_date.value = explorer._day_range()[1]
    return result


def _sites(explorer: Any, browser: Any, page_html: Path) -> dict[str, Any]:
    """Select the first, a middle and the last site by rank (best of three each)."""
    ids = list(explorer.sites.sort_values("rank")["site_id"])
    picks = dict.fromkeys([ids[0], ids[len(ids) // 2], ids[-1]]) if ids else {}
    result: dict[str, Any] = {}
    worst = 0.0
    for position, site_id in enumerate(picks):
        times = []
        for _ in range(3):
            explorer.selected_site = ""

            def change(site_id: str = site_id) -> None:
                explorer.selected_site = site_id

            times.append(_filter(explorer, browser, page_html, change))
        best = min(times, key=sum)
        if position == 0:  # the first selection after opening (reads what sites need)
            result["site_first_s"] = round(sum(times[0]), 3)
        n = len(explorer.selection.shipments) if explorer.selection is not None else 0
        result[f"site_{site_id}_s"] = round(sum(best), 3)
        result[f"site_{site_id}_kernel_s"] = round(best[0], 3)
        result[f"site_{site_id}_waybills"] = n
        worst = max(worst, sum(best))
    explorer.selected_site = ""
    result["site_s"] = round(worst, 3)
    return result


def run_stored(path: Path) -> dict[str, Any]:
    """One fresh-process measure of the stored case at ``path`` (called in the child)."""
    start = time.perf_counter()
    case = open_case(path, create=False, actor="bench")
    opened = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="bench-explorer-") as tmp:
        result = {"waybills": case.n_waybills(), "open_case_s": round(opened, 3)}
        result.update(measure(case, Path(tmp)))
    case.close()
    return result


def best_of(path: Path, repeat: int) -> dict[str, Any]:
    """``run_stored`` in ``repeat`` fresh processes; the lowest time of each measure, and
    under ``median`` the median of the runs (each run's own is its best of three pages)."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--case", str(path), "--child"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = dict(runs[0])
    for key in list(best):
        if key.endswith("_s"):
            best[key] = min(r[key] for r in runs)
    best["runs"] = repeat
    best["median"] = {
        key: round(statistics.median(r[key] for r in runs), 3)
        for key in runs[0]
        if key.endswith("_s")
    }
    return best


def _table(result: dict[str, Any]) -> str:
    rows = [f"{'measure':<28}{'value':>12}"]
    rows += [f"{k:<28}{v!s:>12}" for k, v in result.items() if not isinstance(v, list | dict)]
    rows += [f"{k + ' (median)':<28}{v!s:>12}" for k, v in result.get("median", {}).items()]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--case", type=Path, help="measure this stored case (open a copy)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per case")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.case is not None and args.child:
        print(json.dumps(run_stored(args.case)), flush=True)
        return
    machine = f"{os.cpu_count()} cores, {platform.python_version()}"
    results = []
    if args.case is not None:
        result = best_of(args.case, args.repeat)
        results.append(result)
        print(_table(result))
        print(json.dumps(result), flush=True)
    else:
        for n in args.sizes:
            result = run(n)
            results.append(result)
            print(json.dumps(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=1))


if __name__ == "__main__":
    main()
