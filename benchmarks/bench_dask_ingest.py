"""Several waybill files ingested by one process, and read on 1 and 2 Dask workers.

    python benchmarks/bench_dask_ingest.py --data DIR [--files 4] [--workers 1 2] [--json F]

``DIR`` holds a demo export (``sellers.csv``, ``identifiers.csv``, ``shipments.csv``, ...;
``benchmarks/bench_case_path.py --data-dir`` writes them). Its waybill file is cut once
into ``--files`` files of consecutive rows (the demo's rows run in shipping order, so each
file is a stretch of weeks, as monthly exports are), kept beside it. Then, each in a new
process, timed from the outside (wall clock, process start, imports and the cluster's start
included):

    workbench --quiet ingest CASE --sellers ... --shipments F1 ... --shipments FN [--workers W]

with the peak resident memory of the command (the client) and of the largest other process
of its tree (a worker), sampled every 20 ms. Every mode must give the same case: the same
parts (their SHA-256 and rows) and the same audit entry's counts, checked here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TABLES = ("sellers", "identifiers", "evidence", "locations")


def split(source: Path, n: int) -> list[Path]:
    """``source`` cut into ``n`` files of consecutive rows (header repeated), reused."""
    names = [source.with_name(f"shipments-part{k + 1}of{n}.csv") for k in range(n)]
    if all(p.is_file() for p in names):
        return names
    with source.open("rb") as fh:
        total = sum(1 for _ in fh) - 1
    per = -(-total // n)
    with source.open("rb") as fh:
        header = fh.readline()
        for path in names:
            with path.open("wb") as out:
                out.write(header)
                for _ in range(per):
                    line = fh.readline()
                    if not line:
                        break
                    out.write(line)
    return names


def timed(args: list[str]) -> dict[str, float]:
    """Run a command: wall seconds; peak MB of the command itself and of the largest other
    process of its tree (each process's own high-water mark, VmHWM, last seen)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, float] = {}
    while True:
        done, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if done:
            break
        for pid in _tree(proc.pid):
            peaks[pid] = max(peaks.get(pid, 0.0), _hwm_mb(pid))
        time.sleep(0.02)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{err[-3000:]}")
    own = peaks.pop(proc.pid, 0.0)  # (wait4's ru_maxrss would be its largest descendant's)
    return {"wall_s": wall, "client_mb": own, "worker_mb": max(peaks.values(), default=0.0)}


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return found


def _hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(x.split()[1]) for x in fh if x.startswith("VmHWM:")), 0) / 1024
    except OSError:
        return 0.0


def contents(case: Path) -> dict[str, object]:
    with sqlite3.connect(case / "case.gpkg") as con:
        parts = sorted(con.execute("SELECT sha256, rows FROM waybill_parts").fetchall())
        entry = con.execute(
            "SELECT parameters FROM audit WHERE action = 'ingest' ORDER BY seq DESC LIMIT 1"
        ).fetchone()[0]
    return {"parts": parts, "counts": json.loads(entry)["tables"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    files = split(args.data / "shipments.csv", args.files)
    exe = shutil.which("workbench", path=str(Path(sys.executable).parent)) or "workbench"
    base = [exe, "--quiet", "ingest"]
    tables = [x for t in TABLES if (args.data / f"{t}.csv").is_file()
              for x in (f"--{t}", str(args.data / f"{t}.csv"))]  # fmt: skip
    waybills = [x for f in files for x in ("--shipments", str(f))]
    results, reference = [], None
    for workers in [None, *args.workers]:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            case = Path(tmp) / "bench.case"
            extra = [] if workers is None else ["--workers", str(workers)]
            got = timed([*base, str(case), *tables, *waybills, *extra])
            stored = contents(case)
        if reference is None:
            reference = stored
        same = stored == reference
        row = {"workers": workers or 0, **{k: round(v, 2) for k, v in got.items()}, "same": same}
        results.append(row)
        print(json.dumps(row), flush=True)
        if not same:
            raise SystemExit(f"--workers {workers}: the case differs from one process's")
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
               "load": os.getloadavg()[0]}  # fmt: skip
    out = {"files": [str(f) for f in files], "machine": machine, "results": results}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
