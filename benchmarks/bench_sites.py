"""Site finding speed and memory, from Parquet waybills to ranked sites.

    python benchmarks/bench_sites.py [--sizes 1000000 10000000] [--json out.json]

For each size the demo generator writes the exports (shipments as Parquet) and the
networks are linked once; then a fresh child process reads the Parquet columns the finder
uses (text columns dictionary-encoded, as categoricals: a few thousand sellers, brands and
days instead of millions of strings) and runs ``SiteFinder(radius_m=300).fit`` (stability
across 150/600 m included), one warm-up run (numba loads its cached kernels) and the best of
three timed runs. Peak memory is the child's own high-water resident set size (``VmHWM``:
``ru_maxrss`` would also count the parent's peak, e.g. from generating the data, which a
spawned child inherits through ``exec``). The labels are
checked against plain scikit-learn DBSCAN in ``bench_density.py``. ``--data-dir`` keeps the
generated data (one folder per size) and reuses it on the next run.
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
import pandas as pd, pyarrow.parquet as pq
from workbench.sites._finder import SiteFinder
def peak_mb():
    try:
        with open("/proc/self/status") as status:  # this process image only (Linux)
            return next(int(x.split()[1]) for x in status if x.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
folder = sys.argv[1]
start = time.perf_counter()
ships = pq.read_table(f"{folder}/shipments.parquet",
    columns=["seller_id", "lat", "lon", "shipped_at", "value_cny", "brand"],
    read_dictionary=["seller_id", "shipped_at", "brand"]).to_pandas()
read_s = time.perf_counter() - start
networks = pd.read_parquet(f"{folder}/networks.parquet")
evidence = pd.read_csv(f"{folder}/evidence.csv")
SiteFinder(radius_m=300).fit(ships, networks=networks, evidence=evidence)  # warm-up
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    finder = SiteFinder(radius_m=300).fit(ships, networks=networks, evidence=evidence)
    best = min(best, time.perf_counter() - start)
sites = finder.sites_
print(json.dumps({
    "read_s": round(read_s, 3), "fit_s": round(best, 3),
    "peak_rss_mb": round(peak_mb()),
    "n_sites": len(sites), "n_points": int(len(set(zip(ships.lat, ships.lon))))
        if len(ships) <= 2_000_000 else None,
    "top5": sites.head(5)[["site_id", "score", "label", "n_shipments"]].to_dict("records"),
    "hubs": sites[sites.label == "hub"][["site_id", "rank", "score"]].to_dict("records"),
}))
"""


def prepare(folder: Path, n_shipments: int) -> None:
    """Demo exports (shipments as Parquet) and the linked networks, unless already there."""
    if (folder / "networks.parquet").is_file():
        return
    workbench.generate_demo(
        folder,
        n_shipments=n_shipments,
        n_background_sellers=max(1_200, n_shipments // 500),
        fmt="parquet",
    )
    inv_sellers = workbench.load_sellers(folder / "sellers.csv").frame
    identifiers = workbench.load_identifiers(folder / "identifiers.csv").frame
    workbench.link_sellers(inv_sellers, identifiers).membership.to_parquet(
        folder / "networks.parquet"
    )


def run(n_shipments: int, data_dir: Path | None = None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = (Path(tmp) if data_dir is None else data_dir) / f"demo-{n_shipments}"
        prepare(folder, n_shipments)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(folder)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        return {"n_shipments": n_shipments, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--data-dir", type=Path, help="keep the generated data here, reuse it")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.python_version()}")
    print(f"{'waybills':>11} {'read s':>7} {'fit s':>7} {'peak MB':>8} {'sites':>6}  top / hubs")
    results = []
    for n in args.sizes:
        r = run(n, args.data_dir)
        results.append(r)
        top = ", ".join(f"{s['site_id']} {s['label']} {s['score']}" for s in r["top5"])
        hubs = ", ".join(f"{h['site_id']} rank {h['rank']}" for h in r["hubs"])
        print(
            f"{r['n_shipments']:>11,} {r['read_s']:>7} {r['fit_s']:>7} {r['peak_rss_mb']:>8} "
            f"{r['n_sites']:>6}  {top} | hubs: {hubs}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
