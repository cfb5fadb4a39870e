"""Time the density kernels (workbench.sites._density) against scikit-learn's DBSCAN on demo data.

    python benchmarks/bench_density.py [--sizes 100000 1000000] [--json out.json]

Each size: the demo generator writes the shipments (Parquet); a fresh process reads their
lat/lon, collapses identical coordinates into weighted unique points (``pd.factorize`` of
an integer micro-degree key: a hash, O(n); ``np.unique`` is timed too for comparison), then
times ``dbscan`` (best of 3 after a warm-up call; also on one thread), ``neighbour_weight``
and ``background_weight``, with its peak memory. Up to ``--sklearn-max`` waybills,
scikit-learn's DBSCAN then clusters the RAW points (one row per waybill) in another
process, under a memory limit and a timeout; when it is stopped, the reason is recorded.
scikit-learn is also run on the weighted unique points (``sample_weight``, what
``workbench.sites._finder`` did), up to ``--weighted-max`` waybills. The labels are compared: core
waybills must be the same and fall into the same partition; the share of waybills with
the same label after matching each scikit-learn cluster to ours (border points within
reach of two clusters may legitimately differ).

``--data-dir`` keeps the generated demo folders for later runs. ``--jitter-m 20`` moves
every waybill by a few metres so nearly all become unique points: a stress test of the
kernels (10M waybills give ~9M points instead of ~0.7M).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RADIUS_M = 300.0
MIN_WEIGHT = 50.0
CONTEXT_M = 2_000.0


def _rss_now_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak() -> bool:
    """Reset the peak RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(func: Any, *args: Any, repeat: int = 3, **kwargs: Any) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return round(best, 4), value


def _read(folder: Path, jitter_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The waybills' coordinates; ``jitter_m``: moved by N(0, jitter_m) metres on each axis
    (fixed seed), so that nearly all become unique points (a stress test)."""
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "shipments.parquet", columns=["lat", "lon"])
    lat = table["lat"].to_numpy(zero_copy_only=False).astype(np.float64)
    lon = table["lon"].to_numpy(zero_copy_only=False).astype(np.float64)
    ok = np.isfinite(lat) & np.isfinite(lon)
    lat, lon = lat[ok], lon[ok]
    if jitter_m > 0:
        rng = np.random.default_rng(0)
        per_degree = 6_371_008.8 * np.pi / 180
        lat = np.clip(lat + rng.normal(0, jitter_m, len(lat)) / per_degree, -90, 90)
        lon = lon + rng.normal(0, jitter_m, len(lat)) / (per_degree * np.cos(np.radians(lat)))
        lon = (lon + 180) % 360 - 180
        lat, lon = np.round(lat, 6), np.round(lon, 6)
    return lat, lon


def _collapse(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unique points (coordinates rounded to 1e-6 degrees), their weights and each
    waybill's point index, by hashing an integer key."""
    import pandas as pd

    key = np.rint((lat + 90) * 1e6).astype(np.int64) * 360_000_001
    key += np.rint((lon + 180) * 1e6).astype(np.int64)
    codes, uniques = pd.factorize(key)
    weight = np.bincount(codes, minlength=len(uniques)).astype(np.float64)
    ulat = np.empty(len(uniques))
    ulon = np.empty(len(uniques))
    ulat[codes] = lat
    ulon[codes] = lon
    return codes, ulat, ulon, weight


def _kernel_worker(folder: Path, out: Path, jitter_m: float) -> dict[str, Any]:
    start = time.perf_counter()
    from workbench.sites import _density

    res: dict[str, Any] = {"import_s": round(time.perf_counter() - start, 4)}
    lat, lon = _read(folder, jitter_m)
    res["n_waybills"] = len(lat)
    res["rss_after_read_mb"] = round(_rss_now_mb())
    start = time.perf_counter()
    codes, ulat, ulon, weight = _collapse(lat, lon)
    res["collapse_s"] = round(time.perf_counter() - start, 4)
    peak_so_far = _peak_mb()  # reading and collapsing
    start = time.perf_counter()
    key = np.rint((lat + 90) * 1e6).astype(np.int64) * 360_000_001
    key += np.rint((lon + 180) * 1e6).astype(np.int64)
    np.unique(key, return_inverse=True, return_counts=True)
    res["collapse_np_unique_s"] = round(time.perf_counter() - start, 4)
    del key
    res["n_points"] = len(ulat)

    start = time.perf_counter()
    _density.dbscan(ulat[:2], ulon[:2], weight[:2], RADIUS_M, MIN_WEIGHT)
    res["first_call_s"] = round(time.perf_counter() - start, 4)  # numba import + cache load
    base = _rss_now_mb()
    reset = _reset_peak()  # forget the np.unique comparison
    start = time.perf_counter()
    labels = _density.dbscan(ulat, ulon, weight, RADIUS_M, MIN_WEIGHT)  # warm-up
    res["dbscan_first_s"] = round(time.perf_counter() - start, 4)
    if reset:
        res["dbscan_peak_extra_mb"] = round(_peak_mb() - base)
    res["dbscan_s"], labels = _best(_density.dbscan, ulat, ulon, weight, RADIUS_M, MIN_WEIGHT)
    threads, _density._MAX_THREADS = _density._MAX_THREADS, 1
    res["dbscan_1thread_s"], _ = _best(_density.dbscan, ulat, ulon, weight, RADIUS_M, MIN_WEIGHT)
    _density._MAX_THREADS = threads
    res["neighbour_weight_s"], near = _best(
        _density.neighbour_weight, ulat, ulon, weight, RADIUS_M, repeat=2
    )
    res["background_weight_s"], _ = _best(
        _density.background_weight, ulat, ulon, weight, CONTEXT_M, repeat=2
    )
    if reset:  # the process's peak, without the np.unique comparison
        res["peak_rss_mb"] = round(max(peak_so_far, _peak_mb()))
    else:
        res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    res["n_clusters"] = int(labels.max()) + 1
    res["n_core_points"] = int((near >= MIN_WEIGHT).sum())
    res["waybills_in_clusters"] = int(weight[labels >= 0].sum())
    np.save(out / "labels.npy", labels[codes])
    np.save(out / "core.npy", (near >= MIN_WEIGHT)[codes])
    return res


def _sklearn_worker(folder: Path, out: Path, weighted: bool, jitter_m: float) -> dict[str, Any]:
    """scikit-learn's DBSCAN on the raw waybills, or (``weighted``) on the unique points
    with ``sample_weight`` as ``workbench.sites._finder`` did; labels saved per waybill."""
    from sklearn.cluster import DBSCAN

    from workbench.sites._density import EARTH_RADIUS_M

    lat, lon = _read(folder, jitter_m)
    prefix = "skw" if weighted else "sk"
    model = DBSCAN(
        eps=RADIUS_M / EARTH_RADIUS_M,
        min_samples=int(MIN_WEIGHT),
        metric="haversine",
        algorithm="ball_tree",
    )
    start = time.perf_counter()
    if weighted:
        codes, ulat, ulon, weight = _collapse(lat, lon)
        model.fit(np.radians(np.column_stack([ulat, ulon])), sample_weight=weight)
        labels = model.labels_.astype(np.int64)[codes]
        core = np.zeros(len(ulat), dtype=bool)
        core[model.core_sample_indices_] = True
        core = core[codes]
    else:
        model.fit(np.radians(np.column_stack([lat, lon])))
        labels = model.labels_.astype(np.int64)
        core = np.zeros(len(lat), dtype=bool)
        core[model.core_sample_indices_] = True
    seconds = round(time.perf_counter() - start, 3)
    np.save(out / f"{prefix}_labels.npy", labels)
    np.save(out / f"{prefix}_core.npy", core)
    return {
        f"{prefix}_s": seconds,
        f"{prefix}_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _startup_worker() -> dict[str, Any]:
    """A fresh process: import cost and the first (cached) call of the kernels."""
    start = time.perf_counter()
    from workbench.sites import _density

    imported = time.perf_counter()
    _density.dbscan([0.0, 0.0], [0.0, 1e-4], [1.0, 1.0], RADIUS_M, 2)
    first = time.perf_counter()
    _density.dbscan([0.0, 0.0], [0.0, 1e-4], [1.0, 1.0], RADIUS_M, 2)
    second = time.perf_counter()
    _density.preload()  # every kernel: compiles them into the cache when it is stale
    return {
        "import_density_s": round(imported - start, 4),
        "first_dbscan_s": round(first - imported, 4),  # numba import + loading the cache
        "second_dbscan_s": round(second - first, 5),
        "preload_rest_s": round(time.perf_counter() - second, 4),
    }


def _numba_import_worker() -> dict[str, Any]:
    start = time.perf_counter()
    import numba  # noqa: F401

    return {"import_numba_s": round(time.perf_counter() - start, 4)}


def _run_worker(
    kind: str,
    *extra: str,
    mem_gb: float | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", kind, *extra]

    def limit() -> None:  # pragma: no cover - runs in the child
        if mem_gb:
            size = int(mem_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=limit, check=False
        )
    except subprocess.TimeoutExpired:
        return {"stopped": f"timeout after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        reason = "MemoryError" if "MemoryError" in done.stderr else tail[:200]
        if done.returncode < 0:
            reason = f"killed by signal {-done.returncode}"
        limit_note = f" (address-space limit {mem_gb:g} GB)" if mem_gb else ""
        return {"stopped": f"{reason}{limit_note}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _agreement(out: Path, prefix: str) -> dict[str, Any]:
    """Our labels against scikit-learn's (files ``{prefix}_*.npy``), per waybill."""
    ours = np.load(out / "labels.npy")
    core = np.load(out / "core.npy")
    sk = np.load(out / f"{prefix}_labels.npy")
    sk_core = np.load(out / f"{prefix}_core.npy")
    res: dict[str, Any] = {f"{prefix}_core_waybills_identical": bool((core == sk_core).all())}
    pairs = np.unique(np.column_stack([ours[core], sk[core]]), axis=0)
    n_ours, n_sk = len(np.unique(ours[core])), len(np.unique(sk[core]))
    res[f"{prefix}_core_partition_identical"] = bool(len(pairs) == n_ours == n_sk)
    res[f"{prefix}_clusters"] = n_sk
    mapping = np.full(int(sk.max(initial=-1)) + 1, -1, dtype=np.int64)
    mapping[pairs[:, 1]] = pairs[:, 0]
    matched = np.where(sk >= 0, mapping[np.maximum(sk, 0)], -1)
    res[f"{prefix}_same_label_share"] = round(float((matched == ours).mean()), 6)
    differ = matched != ours
    res[f"{prefix}_waybills_differing"] = int(differ.sum())
    # they must be border points (non-core) that both clusters reach: ties
    res[f"{prefix}_differing_all_border"] = bool(not (core[differ] | sk_core[differ]).any())
    return res


def run(
    n: int,
    data_dir: Path | None,
    sklearn_max: int,
    weighted_max: int,
    mem_gb: float,
    timeout: float,
    jitter_m: float,
) -> dict[str, Any]:
    import workbench

    with tempfile.TemporaryDirectory() as tmp:
        folder = (data_dir or Path(tmp)) / f"demo_{n}"
        res: dict[str, Any] = {"n_shipments": n}
        if not (folder / "shipments.parquet").is_file():
            start = time.perf_counter()
            workbench.generate_demo(
                folder, n_shipments=n, n_background_sellers=max(1_200, n // 500), fmt="parquet"
            )
            res["generate_s"] = round(time.perf_counter() - start, 2)
        out = Path(tmp)
        common = ["--folder", str(folder), "--out", str(out), "--jitter-m", str(jitter_m)]
        res |= _run_worker("kernel", *common)
        if "stopped" in res:
            res["kernel_stopped"] = res.pop("stopped")
            return res
        for prefix, limit, flag in (("sk", sklearn_max, []), ("skw", weighted_max, ["--weighted"])):
            if n > limit:
                res[prefix] = f"not run (above its limit of {limit:,} waybills)"
                continue
            sk = _run_worker("sklearn", *common, *flag, mem_gb=mem_gb, timeout=timeout)
            if "stopped" in sk:
                res[prefix] = f"stopped: {sk['stopped']}"
                continue
            res |= sk
            res[f"{prefix}_ratio"] = round(sk[f"{prefix}_s"] / res["dbscan_s"], 1)
            res[f"{prefix}_ratio_with_collapse"] = round(
                sk[f"{prefix}_s"] / (res["dbscan_s"] + res["collapse_s"]), 1
            )
            res |= _agreement(out, prefix)
        return res


def _print(results: list[dict[str, Any]], startup: dict[str, Any]) -> None:
    print(
        f"fresh process: import numba {startup.get('import_numba_s')} s; "
        f"import workbench.sites._density {startup.get('import_density_s')} s; first dbscan "
        f"(numba import + cached kernels) {startup.get('first_dbscan_s')} s; second "
        f"{startup.get('second_dbscan_s')} s; loading the other kernels (preload) "
        f"{startup.get('preload_rest_s')} s"
    )
    rows = [
        ("waybills", "n_waybills", "{:,}"),
        ("unique points", "n_points", "{:,}"),
        ("collapse (factorize)", "collapse_s", "{:.3f} s"),
        ("collapse (np.unique)", "collapse_np_unique_s", "{:.3f} s"),
        ("dbscan", "dbscan_s", "{:.3f} s"),
        ("dbscan, 1 thread", "dbscan_1thread_s", "{:.3f} s"),
        ("dbscan, first call", "dbscan_first_s", "{:.3f} s"),
        ("dbscan peak extra", "dbscan_peak_extra_mb", "{:,} MB"),
        ("neighbour_weight", "neighbour_weight_s", "{:.3f} s"),
        ("background_weight 2 km", "background_weight_s", "{:.3f} s"),
        ("process peak RSS", "peak_rss_mb", "{:,} MB"),
        ("clusters", "n_clusters", "{:,}"),
    ]
    for prefix, name in (("sk", "sklearn raw"), ("skw", "sklearn weighted")):
        rows += [
            (f"{name}", f"{prefix}_s", "{:.2f} s"),
            (f"{name} peak RSS", f"{prefix}_peak_rss_mb", "{:,} MB"),
            (f"{name} / dbscan", f"{prefix}_ratio", "{:,}x"),
            (f"{name} / (collapse+dbscan)", f"{prefix}_ratio_with_collapse", "{:,}x"),
            (f"{name}: core identical", f"{prefix}_core_waybills_identical", "{}"),
            (f"{name}: partition identical", f"{prefix}_core_partition_identical", "{}"),
            (f"{name}: same label", f"{prefix}_same_label_share", "{:.4%}"),
            (f"{name}: waybills differing", f"{prefix}_waybills_differing", "{:,}"),
            (f"{name}: all border ties", f"{prefix}_differing_all_border", "{}"),
            (f"{name}", prefix, "{}"),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{r['n_shipments']:>14,}" for r in results))
    for label, key, fmt in rows:
        if not any(key in r for r in results):
            continue
        cells = [fmt.format(r[key]) if key in r else "-" for r in results]
        if key in ("sk", "skw"):
            for r, cell in zip(results, cells, strict=True):
                if cell != "-":
                    print(f"{label:<{width}}  {r['n_shipments']:,}: {cell}")
            continue
        print(f"{label:<{width}}  " + "  ".join(f"{c:>14}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) the demo folders here")
    parser.add_argument("--sklearn-max", type=int, default=1_000_000, help="raw waybills")
    parser.add_argument(
        "--weighted-max", type=int, default=10_000_000, help="sklearn on weighted unique points"
    )
    parser.add_argument("--weighted", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--jitter-m",
        type=float,
        default=0.0,
        help="stress test: move each waybill by N(0, this) metres so most points are unique",
    )
    parser.add_argument("--sklearn-mem-gb", type=float, default=8.0)
    parser.add_argument("--sklearn-timeout", type=float, default=600.0)
    parser.add_argument("--worker", choices=["kernel", "sklearn", "startup", "numba"])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker:
        workers = {
            "kernel": lambda: _kernel_worker(args.folder, args.out, args.jitter_m),
            "sklearn": lambda: _sklearn_worker(args.folder, args.out, args.weighted, args.jitter_m),
            "startup": _startup_worker,
            "numba": _numba_import_worker,
        }
        print(json.dumps(workers[args.worker]()))
        return
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}; radius {RADIUS_M:g} m, min weight {MIN_WEIGHT:g}"
        + (f"; waybills jittered by {args.jitter_m:g} m" if args.jitter_m else "")
    )
    if args.data_dir:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    _run_worker("startup")  # warms numba's cache should the kernels have changed
    startup = _run_worker("startup") | _run_worker("numba")
    results = [
        run(
            n,
            args.data_dir,
            args.sklearn_max,
            args.weighted_max,
            args.sklearn_mem_gb,
            args.sklearn_timeout,
            args.jitter_m,
        )
        for n in args.sizes
    ]
    _print(results, startup)
    if args.json:
        payload = {"startup": startup, "sizes": results}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
