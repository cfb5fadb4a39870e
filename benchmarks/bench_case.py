"""Write N waybills into a case and read them back (issue target: 1M each way in <= 5 s).

    python benchmarks/bench_case.py [--rows 1000000] [--repeat 3]

The shipments come from the demo generator in memory (typed as intake makes them); the
write is one `Case.ingest` (the waybills become a GeoParquet part, listed in the
GeoPackage's transaction), the read is `Case.table("shipments")` into a GeoDataFrame.
Best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

from workbench.case._case import open_case
from workbench.demo._generate import demo_frames
from workbench.intake._table import IntakeResult


def shipments_result(rows: int) -> IntakeResult:
    frame = demo_frames(n_shipments=rows)["shipments"]
    assert isinstance(frame, pd.DataFrame)
    frame["shipped_at"] = pd.to_datetime(frame["shipped_at"])
    frame["items"] = frame["items"].astype("Int64")
    report = {
        "table": "shipments",
        "source": "bench",
        "sha256": "0" * 64,
        "rows_read": rows,
        "rows_stored": rows,
        "rows_quarantined": 0,
    }
    empty = pd.DataFrame(columns=["source", "row_number", "raw", "reason", "message"])
    return IntakeResult("shipments", frame, empty, report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = shipments_result(args.rows)
    writes, reads = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            case = open_case(Path(tmp) / "bench.case", actor="bench")
            start = time.perf_counter()
            case.ingest([result])
            writes.append(time.perf_counter() - start)
            start = time.perf_counter()
            back = case.table("shipments")
            reads.append(time.perf_counter() - start)
            assert len(back) == args.rows
            folder = case.path.parent  # the NAME.case folder: GeoPackage and waybill parts
            size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
            case.close()
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores; {args.rows:,} waybills, "
        f"best of {args.repeat}"
    )
    print(f"write {min(writes):.2f} s, read {min(reads):.2f} s, file {size_mb:.0f} MB")


if __name__ == "__main__":
    main()
