"""Export tip-sheet bundles with PDF (issue targets: one site <= 3 s, 20 sites <= 30 s).

    python benchmarks/bench_tipsheet.py [--shipments 60000] [--sites 20] [--repeat 3]

Builds a demo case (ingest, link, find sites, confirm the top sites), makes organisation
keys in a temporary folder, then times ``export_tip_sheet`` in this process after one
warm-up export (imports, font and basemap caches): a one-site police bundle in English and
in Chinese, and one bundle with the top ``--sites`` sites. Best of ``--repeat`` runs. Every
bundle is verified afterwards.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from workbench.case._case import Case, open_case
from workbench.demo._generate import generate_demo
from workbench.export._bundle import export_tip_sheet, verify_bundle
from workbench.export._keys import init_keys
from workbench.intake._table import load_table

TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")


def build_case(folder: Path, n_shipments: int, n_sites: int) -> tuple[Case, list[str]]:
    demo = generate_demo(folder / "data", n_shipments=n_shipments)
    case = open_case(folder / "bench.gpkg", actor="bench")
    case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
    run = case.find_sites(300)
    site_ids = [str(s) for s in case.sites(run)["site_id"].head(n_sites)]
    for site_id in site_ids:
        case.review(site_id, status="confirmed", note="benchmark")
    case.set_setting("organisation", "Benchmark Brand Protection")
    case.set_setting("contact", "bench@example.org")
    return case, site_ids


def best(repeat: int, export: object) -> tuple[float, Path]:
    times, path = [], Path()
    for _ in range(repeat):
        start = time.perf_counter()
        path = export()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times), path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=60_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        case, site_ids = build_case(root, args.shipments, args.sites)
        keys = init_keys(root / "keys")
        out = root / "out"
        export_tip_sheet(case, site_ids[:1], out=out, keys_dir=keys)  # warm-up
        rows = []
        for lang in ("en", "zh-CN"):
            seconds, path = best(
                args.repeat,
                lambda lang=lang: export_tip_sheet(
                    case, site_ids[:1], lang=lang, out=out, keys_dir=keys
                ),
            )
            rows.append((f"1 site, PDF, {lang}", seconds, path))
        seconds, path = best(
            max(1, args.repeat - 1),
            lambda: export_tip_sheet(case, site_ids, out=out, keys_dir=keys),
        )
        rows.append((f"{len(site_ids)} sites, PDF, en", seconds, path))
        case.close()
        print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
        print(f"demo case: {args.shipments:,} waybills")
        for label, seconds, path in rows:
            check = verify_bundle(path)
            assert check.ok, str(check)
            pdf = path / "data" / "report.pdf"
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
            print(
                f"{label:<22} {seconds:6.2f} s   bundle {size:5.1f} MB, "
                f"PDF {pdf.stat().st_size / 1e6:4.1f} MB, {check.n_files} files"
            )


if __name__ == "__main__":
    main()
