"""The user's path on a stored case, each step a fresh process: ingest, sites, reopen.

    python benchmarks/bench_case_path.py [--sizes 1000000 10000000] [--data-dir DIR] [--json F]

For each size the demo generator writes the exports as CSV (once; ``--data-dir`` keeps and
reuses them). Then, each in a new process, timed from the outside (wall clock, process
start and imports included) with the peak resident memory of its processes (the command
and the child that reads a large file, summed; see ``timed``):

1. ``workbench --quiet ingest CASE --sellers ... --shipments shipments.csv ...``: the whole
   export, streamed into a new ``NAME.case`` (waybills to GeoParquet parts);
2. ``workbench --quiet sites CASE``: link the sellers, read the waybill columns the site
   finder uses, cluster (150/300/600 m), store the run;
3. reopen the case and list its sites (``open_case`` + ``case.sites()``), timed inside the
   process after the imports, and the whole process;
4. ``case.site_shipments`` of the top site (reads only that site's row groups).

The 10M-row CSV is about 1.3 GB and takes a few minutes to generate once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import workbench

TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")
REOPEN = """
import sys, time, json
t0 = time.perf_counter()
import workbench
t1 = time.perf_counter()
case = workbench.open_case(sys.argv[1], create=False)
sites = case.sites()
t2 = time.perf_counter()
top = str(sites["site_id"].iloc[0])
ships = case.site_shipments(top)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "open_and_list_s": t2 - t1, "n_sites": len(sites),
                  "site_waybills_s": t3 - t2, "site_waybills": len(ships),
                  "n_waybills": case.n_waybills()}))
"""


def timed(args: list[str]) -> tuple[float, float, str]:
    """Run a command: wall seconds, the peak memory of its processes in MB, its stdout.

    An ingest reads a large file in a child process, so memory is that of the process
    tree: the largest sum of the resident memory (``VmRSS``) of the command and its
    descendants, sampled every 20 ms, or the command's own peak (``ru_maxrss``) when that
    is larger. A child between fork and exec (still the parent's image, its pages shared)
    is not counted twice."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.PIPE)
        peak = 0.0
        while True:
            done, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if done:
                break
            peak = max(peak, _tree_mb(proc.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{err[-3000:]}")
        out.seek(0)
        return wall, max(usage.ru_maxrss / 1024, peak), out.read().decode()


def _tree_mb(pid: int) -> float:
    """The resident memory of ``pid`` and its descendants (children of any of its
    threads), in MB, from /proc."""
    total, todo = 0.0, [(pid, b"")]
    while todo:
        p, parent_command = todo.pop()
        try:
            with open(f"/proc/{p}/cmdline", "rb") as fh:
                command = fh.read()
            with open(f"/proc/{p}/status") as fh:
                rss = next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        if command != parent_command:  # not a fork that has yet to exec
            total += rss / 1024
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [(int(c), command) for c in fh.read().split()]
            except OSError:
                pass
    return total


def prepare(folder: Path, n: int) -> None:
    if (folder / "truth.json").is_file():
        return
    from workbench.demo._generate import generate_demo

    generate_demo(folder, n_shipments=n, n_background_sellers=max(1_200, n // 500))


def run(n: int, data_dir: Path | None) -> dict[str, object]:
    base = data_dir or Path(tempfile.mkdtemp(prefix="bench-case-path-"))
    data = base / f"demo-{n}"
    prepare(data, n)
    case = base / f"bench-{n}.case"
    shutil.rmtree(case, ignore_errors=True)
    cli = [sys.executable, "-m", "workbench", "--quiet"]
    files = [a for t in TABLES for a in (f"--{t}", str(data / f"{t}.csv"))]
    ingest_s, ingest_mb, _ = timed([*cli, "ingest", str(case), *files])
    sites_s, sites_mb, _ = timed([*cli, "sites", str(case), "--top", "3"])
    reopen_s, _, out = timed([sys.executable, "-c", REOPEN, str(case)])
    inside = json.loads(out)
    size_mb = sum(p.stat().st_size for p in case.rglob("*") if p.is_file()) / 2**20
    csv_mb = (data / "shipments.csv").stat().st_size / 2**20
    if data_dir is None:
        shutil.rmtree(base, ignore_errors=True)
    return {
        "waybills": n,
        "csv_mb": round(csv_mb),
        "case_mb": round(size_mb),
        "ingest_s": round(ingest_s, 2),
        "ingest_peak_mb": round(ingest_mb),
        "sites_s": round(sites_s, 2),
        "sites_peak_mb": round(sites_mb),
        "reopen_process_s": round(reopen_s, 2),
        "import_s": round(inside["import_s"], 2),
        "open_and_list_sites_s": round(inside["open_and_list_s"], 3),
        "n_sites": inside["n_sites"],
        "site_waybills_s": round(inside["site_waybills_s"], 3),
        "n_waybills_stored": inside["n_waybills"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--data-dir", type=Path, help="keep the generated exports here, reuse")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    rows = [run(n, args.data_dir) for n in args.sizes]
    machine = f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"
    print(f"workbench {workbench.__version__}; {machine}")
    header = list(rows[0])
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[k]) for k in header))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
