"""Sites of a case of tens of millions of waybills on a Dask cluster whose workers read the
case's Parquet parts: time, memory per process, per-tile costs, and an estimate on paper for
a billion waybills on 32 workers.

    python benchmarks/bench_dask_50m.py --size 2000000 --data-dir /tmp/bench-dask
    python benchmarks/bench_dask_50m.py --size 50000000 --data-dir /data/bench-dask \\
        --workers 1 2 --json bench-dask-50m.json

**Data.** The demo's population (rings, a hub, markets, background sellers: one per 500
waybills, at least 1,200, at most 20,000 as at 10M) is drawn once; its waybills are drawn
``--chunk`` at a time (each chunk its own random stream and waybill numbers) and appended to
one Parquet file as row groups, so no process ever holds more than a chunk. The exports are
then ingested into a case (intake streams the file; the case sorts it into GeoParquet parts
of 100,000-row row groups, spilling to buckets) and the sellers are linked. ``--data-dir``
keeps the case for the next run (one folder per size and seed).

**Modes**, each in a fresh child process: ``none`` reads the waybills' columns into the process
(``site_frame``) and fits ``SiteFinder(300)`` there (stability at 150 and 600 m included); ``N``
starts a LocalCluster of N worker processes of one thread each, whose workers read and
collapse the parts share by share (``joined_on_workers``), and fits ``SharedSiteFinder(300)``
with the clustering in tiles on the same workers. The kernels are loaded before the clock
starts; one timed run (``--runs`` for more, best kept). Every mode's sites, site points,
weekly activity and run id are compared with those of ``none``, or the run fails.

**Reported**: wall time of the read and of the fit; the driver's peak resident memory and
each worker's (``VmHWM`` from ``/proc``, read on each process: the exact peak, not a sample),
and each worker's size after start-up; per task kind (``share`` reads, tile ``components``
and ``borders``) the tasks, their compute and transfer seconds and the longest; the tiles'
halo (members / points - 1 at each radius, for this run's tiles and for 128); the driver's
own seconds joining the shares and the bytes of rows they sent it. From these, the estimate
for 1B waybills on 32 workers (printed with its formulas: each measured cost scaled by what
it runs over, waybills or tile members, and divided by the workers where it runs on them).

On a 2-core machine the workers share the cores with the driver and with each other: the
figures are costs, not speed-ups.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import workbench

SEED = 7
CHUNK = 1_000_000
BACKGROUND_MAX = 20_000  # the demo runs out of unique shop names beyond (40,000 fail)
BILLION, WORKERS_THERE, TILES_PER_WORKER = 1_000_000_000, 32, 4

CHILD = r"""
import hashlib, json, sys, threading, time
import numpy as np
import workbench
from distributed import get_task_stream
from workbench.case._distributed_input import joined_on_workers
from workbench.case._site_input import site_frame
from workbench.sites import _distributed, _shares
from workbench.sites._finder import SiteFinder, compile_kernels
from workbench.sites._shares import SharedSiteFinder
from workbench.sites._tiles import Tiles

def status(field):
    with open("/proc/self/status") as lines:  # this process image only (Linux)
        return next(int(x.split()[1]) for x in lines if x.startswith(field + ":")) / 1024

def peak_mb():
    return status("VmHWM")

def rss_mb():
    return status("VmRSS")

path, workers, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
case = workbench.open_case(path, create=False)
con, nets, evidence = case._con, case.table("networks"), case.table("evidence")
compile_kernels()
client, start_mb = None, {}
if workers:
    client = _distributed.make_client(workers=workers)
    client.run(compile_kernels)  # the collapse kernels too, not only the density ones
    start_mb = client.run(rss_mb)

base_mb = rss_mb()  # the driver before any waybill: imports, kernels, the cluster's scheduler
spent = {"cluster": 0.0, "join": 0.0, "join_bytes": 0}
plain_dbscan = _distributed.Density.dbscan
def timed_dbscan(self, *args):  # the clustering, wherever it runs
    t0 = time.perf_counter()
    try:
        return plain_dbscan(self, *args)
    finally:
        spent["cluster"] += time.perf_counter() - t0
_distributed.Density.dbscan = timed_dbscan
for name in ("points", "rows"):  # the driver's own work joining the shares
    plain = getattr(_shares.Joined, name)
    def timed(self, share, *args, _plain=plain, _name=name):
        t0 = time.perf_counter()
        try:
            return _plain(self, share, *args)
        finally:
            spent["join"] += time.perf_counter() - t0
            if _name == "rows":
                arrays = [share.point, share.value, *share.codes.values()]
                spent["join_bytes"] += sum(a.nbytes for a in arrays if a is not None)
    setattr(_shares.Joined, name, timed)

def once():
    spent.update(cluster=0.0, join=0.0, join_bytes=0)
    t0 = time.perf_counter()
    if workers:
        data = joined_on_workers(con, client)
    else:
        data = site_frame(con)
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    if workers:
        finder = SharedSiteFinder(300).fit_joined(
            data, networks=nets, evidence=evidence, client=client)
    else:
        finder = SiteFinder(300).fit(data, networks=nets, evidence=evidence)
    return finder, data, read, time.perf_counter() - t0, dict(spent)

best = None
for _ in range(runs):
    if client is not None:
        with get_task_stream(client) as stream:
            result = once()
        tasks = stream.data
    else:
        result, tasks = once(), []
    if best is None or result[2] + result[3] < best[0][2] + best[0][3]:
        best = (result, tasks)
(finder, data, read_s, fit_s, spent), tasks = best

kinds = {}
for task in tasks:
    kind = str(task["key"]).split("-")[0]
    entry = kinds.setdefault(kind, {"tasks": 0, "compute_s": 0.0, "transfer_s": 0.0, "max_s": 0.0})
    entry["tasks"] += 1
    for part in task["startstops"]:
        took = part["stop"] - part["start"]
        if part["action"] == "compute":
            entry["compute_s"] += took
            entry["max_s"] = max(entry["max_s"], took)
        elif part["action"] == "transfer":
            entry["transfer_s"] += took
kinds = {k: {n: round(v, 3) if isinstance(v, float) else v for n, v in e.items()}
         for k, e in kinds.items()}

if workers:
    lat, lon, n_rows = data.lat, data.lon, len(data.point)
else:
    lat, lon, _, point = SiteFinder()._points(data)
    n_rows = len(point)
halo = {}  # the tiles of this run, and those of 32 workers (4 each), on these points
for tiles in sorted({_distributed.tile_count(len(lat), workers), 128}) if workers else []:
    layout = Tiles.plan(lat, lon, tiles)
    for radius in (150, 300, 600):
        parts = _distributed._cut(layout, lat, lon, 2.0 * radius)
        members = sum(len(m) for m, _ in parts)
        halo[f"{tiles} tiles, {radius} m"] = {"tiles": len(parts), "members": members,
            "halo": round(members / max(len(lat), 1) - 1, 4)}

columns = ["site_id", "rank", "label", "score", "n_shipments", "lat", "lon", "radius_m",
           "stable", "stability", "score_parts", "admin1", "admin2"]
sites = finder.sites_
digest = hashlib.sha256()
digest.update(sites[[c for c in columns if c in sites.columns]].to_json(orient="records").encode())
digest.update(finder.site_points_.to_json(orient="records").encode())
digest.update(finder.activity_.to_json(orient="records", date_format="iso").encode())
digest.update(str(finder.run_id_).encode())
worker_peak = client.run(peak_mb) if client else {}
print(json.dumps({
    "read_s": round(read_s, 3), "fit_s": round(fit_s, 3), "cluster_s": round(spent["cluster"], 3),
    "join_s": round(spent["join"], 3), "join_bytes": spent["join_bytes"],
    "driver_base_mb": round(base_mb), "driver_peak_mb": round(peak_mb()),
    "worker_peak_mb": sorted(round(v) for v in worker_peak.values()),
    "worker_start_mb": sorted(round(v) for v in start_mb.values()),
    "n_sites": len(sites), "n_waybills": int(n_rows), "n_points": int(len(lat)),
    "run_id": finder.run_id_, "tasks": kinds, "halo": halo,
    "digest": digest.hexdigest()[:16],
}))
case.close()
if client:
    client.close()
"""


def peak_mb() -> float:
    with open("/proc/self/status") as lines:
        return next(int(x.split()[1]) for x in lines if x.startswith("VmHWM:")) / 1024


def write_exports(folder: Path, size: int, chunk: int, seed: int = SEED) -> dict[str, Path]:
    """The demo's exports with ``size`` waybills, drawn and written ``chunk`` at a time."""
    from workbench.demo import _generate as demo
    from workbench.demo._shipments import draw_shipments

    folder.mkdir(parents=True, exist_ok=True)
    pop = demo._population(seed, min(max(1_200, size // 500), BACKGROUND_MAX), False)
    frames = {
        "sellers": demo._sellers(pop),
        "identifiers": demo._by_seller(pop, pop.identifiers, ["seller_id", "kind", "value"]),
        "evidence": demo._evidence(pop),
    }
    paths = {name: folder / f"{name}.csv" for name in frames}
    for name, frame in frames.items():
        frame.to_csv(paths[name], index=False, encoding="utf-8", lineterminator="\n")
    paths["shipments"] = folder / "shipments.parquet"
    writer = None
    try:
        for k, start in enumerate(range(0, size, chunk)):
            n = min(chunk, size - start)
            table = draw_shipments(np.random.default_rng([seed, 2, k]), n, pop)
            numbers = pa.array(np.arange(start, start + n, dtype=np.int64) + 2_600_000_000)
            ids = pc.binary_join_element_wise("W", pc.cast(numbers, pa.string()), "")
            table = table.set_column(0, "shipment_id", ids)  # unique over the chunks
            if writer is None:
                writer = pq.ParquetWriter(paths["shipments"], table.schema, compression="zstd")
            writer.write_table(table, row_group_size=100_000)
    finally:
        if writer is not None:
            writer.close()
    return paths


def build_case(root: Path, size: int, chunk: int) -> tuple[Path, dict[str, float]]:
    """The case of ``size`` demo waybills under ``root`` (reused when complete)."""
    case_path = root / "bench.case"
    done = root / "built.json"
    if done.is_file():
        return case_path, json.loads(done.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    paths = write_exports(root / "exports", size, chunk)
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with workbench.open_case(case_path) as case:
        case.ingest_files(paths, progress=False)
        ingest_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        case.link_sellers()
        link_s = time.perf_counter() - t0
        n = case.n_waybills()
    paths["shipments"].unlink()  # the case holds the waybills now
    built = {
        "generate_s": round(generate_s, 1),
        "ingest_s": round(ingest_s, 1),
        "link_s": round(link_s, 1),
        "waybills": n,
        "builder_peak_mb": round(peak_mb()),
    }
    done.write_text(json.dumps(built) + "\n", encoding="utf-8")
    return case_path, built


def run_mode(case_path: Path, workers: int, runs: int) -> dict[str, object]:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(case_path), str(workers), str(runs)],
        capture_output=True,
        text=True,
    )
    if child.returncode:
        raise SystemExit(f"the child for {workers} worker(s) failed:\n{child.stderr[-3000:]}")
    return {"workers": workers, **json.loads(child.stdout.strip().splitlines()[-1])}


def estimate(result: dict[str, object], alone: dict[str, object]) -> list[tuple[str, str, str]]:
    """The estimate for ``BILLION`` waybills on ``WORKERS_THERE`` workers from one measured
    cluster run: (quantity, formula, value) rows. Costs scale with what they run over:
    reading with waybills, clustering with tile members, the driver's part with waybills."""
    n = float(result["n_waybills"])  # type: ignore[arg-type]
    points = float(result["n_points"])  # type: ignore[arg-type]
    tasks: dict[str, dict[str, float]] = result["tasks"]  # type: ignore[assignment]
    halo: dict[str, dict[str, float]] = result["halo"]  # type: ignore[assignment]
    scale = BILLION / n
    tiles = WORKERS_THERE * TILES_PER_WORKER
    read = tasks.get("share", {}).get("compute_s", 0.0)
    tile_s = sum(tasks.get(k, {}).get("compute_s", 0.0) for k in ("components", "borders"))
    measured = [v for k, v in halo.items() if not k.startswith(f"{tiles} tiles")]
    members_now = sum(v["members"] for v in measured) or 1.0
    per_member = tile_s / members_now
    at_128 = [v for k, v in halo.items() if k.startswith(f"{tiles} tiles")]
    halo_there = float(np.mean([v["halo"] for v in at_128])) if at_128 else 0.0
    points_there = points * scale  # the demo's points grow with its waybills: an upper bound
    members_there = 3 * points_there * (1 + halo_there)  # three radii
    join = float(result["join_s"])  # type: ignore[arg-type]
    rest = float(result["fit_s"]) - float(result["cluster_s"])  # type: ignore[arg-type]
    base_mb = float(result["driver_base_mb"])  # type: ignore[arg-type]
    per_waybill = (float(result["driver_peak_mb"]) - base_mb) * 2**20 / n  # type: ignore[arg-type]
    read_there = read * scale / WORKERS_THERE
    cluster_there = per_member * members_there / WORKERS_THERE
    join_there, rest_there = join * scale, rest * scale
    shuffle_gb = members_there * (33 + 9) / 1e9  # tile out (lat, lon, weight, threshold,
    # owned) and the border round (core flag, label), per member
    join_bytes = float(result["join_bytes"])  # type: ignore[arg-type]
    rows_gb = join_bytes * scale / 1e9
    g = f"{BILLION:,.0f}"
    return [
        ("scale", f"{g} / {n:,.0f} waybills measured", f"x{scale:,.0f}"),
        (
            "read + collapse on the workers",
            f"{read:.2f} s of share tasks x scale / 32",
            f"{read_there:,.0f} s",
        ),
        (
            "points",
            f"{points:,.0f} x scale (upper bound: real addresses repeat)",
            f"{points_there:,.0f}",
        ),
        (
            "halo at 128 tiles",
            "members / points - 1, this data's geography, mean of 3 radii",
            f"{halo_there:.3f}",
        ),
        (
            "clustering on the workers",
            f"{per_member * 1e6:.2f} s per M tile members x 3 radii x points x (1 + halo) / 32",
            f"{cluster_there:,.0f} s",
        ),
        (
            "shuffle (tiles out, borders)",
            "42 B per member x 3 radii x points x (1 + halo)",
            f"{shuffle_gb:,.1f} GB",
        ),
        (
            "shares' rows to the driver",
            f"{join_bytes / n:.0f} B per waybill (point, 4 codes, value) x {g}",
            f"{rows_gb:,.0f} GB",
        ),
        ("driver joins the shares", f"{join:.2f} s x scale (one process)", f"{join_there:,.0f} s"),
        (
            "driver: counting, scoring",
            f"(fit {result['fit_s']} s - clustering {result['cluster_s']} s) x scale (one process)",
            f"{rest_there:,.0f} s",
        ),
        (
            "total",
            "read + clustering + join + driver (no overlap counted)",
            f"{read_there + cluster_there + join_there + rest_there:,.0f} s",
        ),
        (
            "driver memory",
            f"{base_mb:,.0f} MB + {per_waybill:.0f} B per waybill (its peak over its size "
            f"before reading) x {g}; one process alone peaked at {alone['driver_peak_mb']:,} MB",
            f"{(base_mb * 2**20 + per_waybill * BILLION) / 2**30:,.0f} GiB",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2_000_000, help="waybills (2M by default)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=1, help="timed runs per mode (best kept)")
    parser.add_argument("--chunk", type=int, default=CHUNK, help="waybills drawn at a time")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--data-dir", type=Path, required=True, help="the case goes here")
    args = parser.parse_args()
    if any(w < 1 for w in args.workers) or args.runs < 1 or args.size < 10_000:
        parser.error("--workers and --runs must be >= 1, --size >= 10000")
    cpus = len(os.sched_getaffinity(0))
    memory_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    print(f"machine: {cpus} cores, {memory_gib:.0f} GiB, Python {platform.python_version()}")
    root = args.data_dir / f"dask-{args.size}-seed{SEED}"
    case_path, built = build_case(root, args.size, args.chunk)
    print(
        f"case: {built['waybills']:,} waybills, generated in {built['generate_s']} s, "
        f"ingested in {built['ingest_s']} s, linked in {built['link_s']} s "
        f"(builder peak {built['builder_peak_mb']:,} MB)"
    )
    results = [run_mode(case_path, w, args.runs) for w in [0, *args.workers]]
    print(
        f"\n{'waybills':>11} {'points':>9} {'workers':>8} {'read s':>7} {'fit s':>7} "
        f"{'cluster s':>10} {'join s':>7} {'driver MB':>10} {'worker peak MB':>15} "
        f"{'worker start MB':>16} {'sites':>6}"
    )
    for r in results:
        print(
            f"{r['n_waybills']:>11,} {r['n_points']:>9,} {r['workers'] or 'none':>8} "
            f"{r['read_s']:>7} {r['fit_s']:>7} {r['cluster_s']:>10} {r['join_s']:>7} "
            f"{r['driver_peak_mb']:>10,} {','.join(map(str, r['worker_peak_mb'])) or '-':>15} "
            f"{','.join(map(str, r['worker_start_mb'])) or '-':>16} {r['n_sites']:>6}"
        )
    for r in results[1:]:
        print(
            f"\n{r['workers']} worker(s), tasks: "
            + "; ".join(
                f"{kind} {t['tasks']} tasks, {t['compute_s']} s compute (longest {t['max_s']} s), "
                f"{t['transfer_s']} s transfer"
                for kind, t in r["tasks"].items()  # type: ignore[union-attr]
            )
        )
        print(
            "  halo (members / points - 1): "
            + "; ".join(
                f"{k}: {v['halo']}"
                for k, v in r["halo"].items()  # type: ignore[union-attr]
            )
        )
    if len({r["digest"] for r in results}) != 1 or len({r["run_id"] for r in results}) != 1:
        raise SystemExit("the sites differ between modes: " + str(results))
    print("\nsites, site points, weekly activity and run id identical in every mode")
    print(
        f"\nOn paper: {BILLION:,} waybills on {WORKERS_THERE} workers "
        f"({TILES_PER_WORKER} tiles each), from the {results[-1]['workers']}-worker run:"
    )
    rows = estimate(results[-1], results[0])
    width = max(len(q) for q, _, _ in rows)
    for quantity, formula, value in rows:
        print(f"  {quantity:<{width}}  {value:>12}   {formula}")
    if args.json:
        document = {
            "built": built,
            "results": results,
            "estimate": [dict(zip(("quantity", "formula", "value"), r, strict=True)) for r in rows],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
