"""Site finding on a Dask cluster: time and memory on 1 and 2 workers against one process.

    python benchmarks/bench_dask_sites.py [--size 1000000] [--workers 1 2] [--runs 3]
    python benchmarks/bench_dask_sites.py --size 10000000 --runs 1 --data-dir /tmp/bench
    python benchmarks/bench_dask_sites.py --size 50000000 --runs 1 --data-dir /tmp/bench

The demo generator writes the exports (shipments as Parquet) and the networks are linked
once (``bench_sites.prepare``; ``--data-dir`` keeps them for the next run). Then, for each
mode, a fresh child process reads the columns the finder uses and runs
``SiteFinder(radius_m=300).fit`` (stability across 150/600 m included): in the process
alone, or with ``client=make_client(workers=N)`` (a LocalCluster of N processes of one
thread each on this machine). One warm-up fit, then the best of ``--runs``.

Reported per mode: the fit's wall time, the part of it spent in the clustering that the
cluster takes over (at 300, 150 and 600 m, summed: the last two overlap the counting; the
rest of the fit is the same code in every mode), the driver's peak resident memory (``VmHWM``), and
each worker's peak (``VmHWM``, read on the worker) with its resident size after start-up,
when the kernels are loaded. Every mode's site table is checked against the one-process
table (same digest of ids, ranks, labels, scores, places and stability), or the run fails.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sites import prepare  # the sibling benchmark's data, same layout

CHILD = """
import hashlib, json, sys, time
import pyarrow.parquet as pq, pandas as pd
from workbench.sites import _distributed
from workbench.sites._finder import SiteFinder

def peak_mb():
    with open("/proc/self/status") as status:  # this process image only (Linux)
        return next(int(x.split()[1]) for x in status if x.startswith("VmHWM:")) / 1024

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(x.split()[1]) for x in status if x.startswith("VmRSS:")) / 1024

folder, workers, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ships = pq.read_table(f"{folder}/shipments.parquet",
    columns=["seller_id", "lat", "lon", "shipped_at", "value_cny", "brand"],
    read_dictionary=["seller_id", "shipped_at", "brand"]).to_pandas()
networks = pd.read_parquet(f"{folder}/networks.parquet")
evidence = pd.read_csv(f"{folder}/evidence.csv")
client, start_mb = None, {}
if workers:
    client = _distributed.make_client(workers=workers)
    start_mb = client.run(rss_mb)
spent = [0.0]
plain = _distributed.Density.dbscan
def timed(self, *args):  # time the clustering, wherever it runs
    t0 = time.perf_counter()
    try:
        return plain(self, *args)
    finally:
        spent[0] += time.perf_counter() - t0
_distributed.Density.dbscan = timed
fit = lambda: SiteFinder(radius_m=300).fit(
    ships, networks=networks, evidence=evidence, client=client)
fit()  # warm-up: numba loads its cached kernels
best, density = float("inf"), 0.0
for _ in range(runs):
    spent[0] = 0.0
    t0 = time.perf_counter()
    finder = fit()
    took = time.perf_counter() - t0
    if took < best:
        best, density = took, spent[0]
sites = finder.sites_
columns = ["site_id", "rank", "label", "score", "n_shipments", "lat", "lon", "radius_m",
           "stable", "stability", "score_parts", "admin1", "admin2"]
table = sites[[c for c in columns if c in sites.columns]].to_json(orient="records")
labels = hashlib.sha256(finder.labels_.tobytes()).hexdigest()
worker_peak = client.run(peak_mb) if client else {}
print(json.dumps({
    "fit_s": round(best, 3), "cluster_s": round(density, 3),
    "driver_peak_mb": round(peak_mb()),
    "worker_peak_mb": sorted(round(v) for v in worker_peak.values()),
    "worker_start_mb": sorted(round(v) for v in start_mb.values()),
    "n_sites": len(sites), "n_waybills": len(ships),
    "n_points": len(SiteFinder()._points(ships)[0]),  # unique ship-from points clustered
    "digest": hashlib.sha256((table + labels).encode()).hexdigest()[:16],
}))
if client:
    client.close()
"""


def run_mode(folder: Path, workers: int, runs: int) -> dict[str, object]:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(workers), str(runs)],
        capture_output=True,
        text=True,
    )
    if child.returncode:
        raise SystemExit(f"the child for {workers} worker(s) failed:\n{child.stderr[-3000:]}")
    return {"workers": workers, **json.loads(child.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="waybills (1M by default)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3, help="timed fits per mode (best kept)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--data-dir", type=Path, help="keep the generated data here, reuse it")
    args = parser.parse_args()
    if any(w < 1 for w in args.workers) or args.runs < 1 or args.size < 1_000:
        parser.error("--workers and --runs must be >= 1, --size >= 1000")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = (Path(tmp) if args.data_dir is None else args.data_dir) / f"demo-{args.size}"
        prepare(folder, args.size)
        results = [run_mode(folder, w, args.runs) for w in [0, *args.workers]]
    print(
        f"{'waybills':>11} {'points':>8} {'workers':>8} {'fit s':>7} {'cluster s':>10} "
        f"{'driver MB':>10} {'worker peak MB':>15} {'worker start MB':>16} {'sites':>6}"
    )
    for r in results:
        print(
            f"{r['n_waybills']:>11,} {r['n_points']:>8,} {r['workers'] or 'none':>8} "
            f"{r['fit_s']:>7} {r['cluster_s']:>10} {r['driver_peak_mb']:>10} "
            f"{','.join(map(str, r['worker_peak_mb'])) or '-':>15} "
            f"{','.join(map(str, r['worker_start_mb'])) or '-':>16} {r['n_sites']:>6}"
        )
    if len({r["digest"] for r in results}) != 1:
        raise SystemExit("the site tables differ between modes: " + str(results))
    print("site tables and labels identical in every mode")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
