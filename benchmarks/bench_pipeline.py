"""Time each step of an investigation on demo data of growing size.

    python benchmarks/bench_pipeline.py [--sizes 100000 1000000] [--json out.json]

Each size: the demo generator writes the exports (shipments as Parquet), then intake,
network linking, site finding, the map and one tip sheet are timed separately. Peak memory
is the process's maximum resident set size after the run (so it grows across sizes).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import workbench
from workbench.investigation import write_tip_sheets


def _timed(label: str, timings: dict[str, float], func, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = func(*args, **kwargs)
    timings[label] = round(time.perf_counter() - start, 3)
    return value


def run(n_shipments: int) -> dict[str, object]:
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo = _timed(
            "generate",
            timings,
            workbench.generate_demo,
            root / "data",
            n_shipments=n_shipments,
            n_background_sellers=max(1_200, n_shipments // 500),
            fmt="parquet",
        )
        inv = _timed("intake", timings, workbench.load_investigation, demo.folder)
        nets = _timed("networks", timings, workbench.link_sellers, inv.sellers, inv.identifiers)
        finder = _timed(
            "sites",
            timings,
            workbench.SiteFinder(radius_m=300).fit,
            inv.shipments,
            networks=nets.membership,
            evidence=inv.evidence,
        )
        view = _timed(
            "map",
            timings,
            workbench.site_map,
            inv.shipments,
            finder.sites_,
            sellers=inv.sellers,
            networks=nets.membership,
            locations=inv.locations,
        )
        html = _timed("map html", timings, view.to_html)
        top = [str(finder.sites_.iloc[0]["site_id"])]
        _timed("tip sheet", timings, write_tip_sheets, inv, nets, finder, top, root / "tips")
        return {
            "n_shipments": n_shipments,
            "n_sellers": len(inv.sellers),
            "n_sites": len(finder.sites_),
            "map_html_mb": round(len(html.encode()) / 1e6, 2),
            "seconds": timings,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import os

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}"
    )
    results = [run(n) for n in args.sizes]
    for r in results:
        steps = ", ".join(f"{k} {v:.2f} s" for k, v in r["seconds"].items())  # type: ignore[union-attr]
        print(
            f"{r['n_shipments']:>10,} waybills, {r['n_sellers']:,} sellers, {r['n_sites']} sites,"
            f" map {r['map_html_mb']} MB, peak RSS {r['peak_rss_mb']} MB: {steps}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
