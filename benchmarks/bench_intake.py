"""Intake speed and memory: demo waybills from CSV into a case, streamed in chunks.

    python benchmarks/bench_intake.py [--sizes 1000000 3000000] [--json out.json]

For each size the demo generator writes ``shipments.csv``; a fresh child process then runs
``Case.ingest_files`` on it (read, check, repair, stage, one transaction) and reports the
wall time and its peak resident memory, so each figure stands alone. Memory should follow
the chunk size (250,000 rows), not the file size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import workbench

CHILD = """
import json, resource, sys, time
from workbench.case._case import open_case
path, case_path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
with open_case(case_path) as case:
    report = case.ingest_files({"shipments": path}, progress=False)[0]
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mb": round(rss),
                  "rows_stored": report["rows_stored"], "rows_read": report["rows_read"]}))
"""


def run(n_shipments: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        demo = workbench.generate_demo(
            Path(tmp) / "data",
            n_shipments=n_shipments,
            n_background_sellers=max(1_200, n_shipments // 500),
        )
        size_mb = os.path.getsize(demo.shipments) / 1e6
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(demo.shipments), str(Path(tmp) / "case.gpkg")],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        return {"n_shipments": n_shipments, "csv_mb": round(size_mb), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.python_version()}")
    print(f"{'waybills':>10} {'CSV MB':>7} {'seconds':>8} {'peak MB':>8} {'stored':>10}")
    results = []
    for n in args.sizes:
        r = run(n)
        results.append(r)
        print(
            f"{r['n_shipments']:>10,} {r['csv_mb']:>7} {r['seconds']:>8} "
            f"{r['peak_rss_mb']:>8} {r['rows_stored']:>10,}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
