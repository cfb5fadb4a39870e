"""Time each step of an investigation on demo data of growing size.

    python benchmarks/bench_pipeline.py [--sizes 100000 1000000] [--json out.json]

Each size: the demo generator writes the exports (shipments as Parquet), then the user's path
through a case is timed step by step: intake into the case, network linking, site finding
(which links again and stores the run), the map, and one signed tip-sheet bundle with its PDF.
Peak memory is the process's maximum resident set size after the run (so it grows across
sizes).
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
        exports = workbench.find_exports(demo.folder)
        with workbench.open_case(root / "bench.case") as case:
            _timed("intake", timings, case.ingest_files, exports.files)
            nets = _timed("networks", timings, case.link_sellers)
            run_id = _timed("sites", timings, case.find_sites, 300)
            sites = case.sites(run_id)
            sellers = case.table("sellers")
            view = _timed(
                "map",
                timings,
                workbench.site_map,
                case.table("shipments"),
                sites,
                sellers=sellers,
                networks=nets.membership,
                locations=case.table("locations"),
            )
            html = _timed("map html", timings, view.to_html)
            case.set_setting("organisation", "Benchmark")
            case.set_setting("contact", "bench@example.org")
            _timed(
                "tip sheet",
                timings,
                workbench.export_tip_sheet,
                case,
                [str(sites.iloc[0]["site_id"])],
                out=root / "bundles",
                keys_dir=workbench.init_keys(root / "keys"),
                allow_unconfirmed="benchmark: not reviewed",
            )
        return {
            "n_shipments": n_shipments,
            "n_sellers": len(sellers),
            "n_sites": len(sites),
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
