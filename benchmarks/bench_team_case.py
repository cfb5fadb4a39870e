"""Time the analyst's path on a team case: ingest, find sites, open the explorer.

``workbench ingest URL``, ``workbench sites URL`` and ``workbench.explore(case)``::

    python benchmarks/bench_team_case.py [--shipments 1000000] [--repeat 3] [--data DIR]
                                         [--no-durable] [--no-baseline] [--json out.json]

A throwaway PostgreSQL + PostGIS (workbench.team.start_server, localhost only) gets a team
store (``workbench team init``) and an analyst login granted ``ingest``; demo exports are
generated (or taken from ``--data``). Each repeat ingests the five exports into a new team
case and finds its sites, each command a fresh ``workbench`` process timed from outside
(process start and imports included; the password comes from PGPASSWORD, not the URL),
then opens the explorer on it in a fresh Python process: ``explore_s`` is
``workbench.explore(case)`` on the opened case (as ``benchmarks/bench_explorer.py`` times a
case file's open), ``explore_open_case_s`` the ``workbench.open_case(URL)`` before it and
``explore_process_s`` the whole process, start and imports included. Then (the baseline,
unless ``--no-baseline``) it does the same with a new case file, right after, so both meet
the same load on a shared machine; the 1-minute load average is recorded before each
repeat. CPU is the command's own and its children's (the intake's reader process); the
server's (its backends, WAL writer and checkpointer, read from /proc) is given apart.
``--no-durable`` runs the server with fsync off (as the tests do). Needs PostgreSQL and
PostGIS installed.

Then, an ingest and reviews side by side: the same five exports are ingested again into
the case (every waybill replaced) by a fresh ``workbench ingest`` process, while a
reviewer login records a decision every 0.2 s from this process (``record_review``, its
own connection); ``reingest_s`` is that ingest's wall time and ``review_ms`` the median
and the longest time a review took while it ran, and how many were recorded.
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

import workbench
from workbench.team import grant, init_store
from workbench.team._server import start_server

TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")
PASSWORD = "bench-pw"


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one fresh ``workbench`` process, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "--quiet", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"workbench {args[0]} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _s(value: float | None) -> str:
    """Seconds as the table prints them ("-": not measured)."""
    return "-" if value is None else f"{value:.2f} s"


def _explore_child(target: str) -> None:
    """In the child: open ``target`` (a case file or a team-case URL), then the explorer on
    it; prints the seconds of each as JSON. The explorer's modules are imported first, as
    ``benchmarks/bench_explorer.py`` has them imported before it times an open."""
    start = time.perf_counter()
    from workbench.explorer._screen import explore

    imported = time.perf_counter()
    case = workbench.open_case(target, create=False)
    opened = time.perf_counter()
    explorer = explore(case)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": round(imported - start, 3),
                "open_case_s": round(opened - imported, 3),
                "explore_s": round(done - opened, 3),
                "n_sites": len(explorer.sites),
                "page_mb": round(len(explorer.map.html) / 1e6, 2),
            }
        )
    )
    case.close()


def _explore(target: str, env: dict[str, str]) -> dict[str, Any]:
    """The explorer opened on ``target`` in a fresh process: its figures and the process's
    wall seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--explore-child", target],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"the explorer failed on {target} ({done.returncode}):\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {**figures, "process_s": round(wall, 2)}


def _server_cpu(folder: Path) -> float | None:
    """CPU seconds the cluster in ``folder`` has used so far: its postmaster and every
    process it started, ended ones included (Linux /proc; None elsewhere)."""
    try:
        pm = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        ticks = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == pm or int(fields[1]) == pm:
                ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _timed_server(folder: Path, args: list[str], env: dict[str, str]) -> tuple[Any, ...]:
    before = _server_cpu(folder)
    wall, cpu, out = _run(args, env)
    after = _server_cpu(folder)
    server = None if before is None or after is None else round(after - before, 2)
    return wall, cpu, out, server


def _reviews_during_ingest(
    url: str, own_url: str, review_url: str, files: list[str], env: dict[str, str]
) -> dict[str, Any]:
    """Ingest ``files`` into the case at ``url`` again in a fresh process while reviews are
    recorded on ``review_url``'s connection; the ingest's wall time and the reviews'.
    ``own_url``: ``url`` with the password, for this process's reads."""
    import statistics

    import psycopg

    from workbench.team import open_team_case, record_review

    with open_team_case(own_url) as team:
        case_id, site = team.case_id, str(team.sites()["site_id"].iloc[0])
        before = int((team.audit()["action"] == "review").sum())
    times: list[float] = []
    start = time.perf_counter()
    ingest = subprocess.Popen(
        [sys.executable, "-m", "workbench", "--quiet", "ingest", url, *files],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with psycopg.connect(review_url) as con:
        while ingest.poll() is None:
            began = time.perf_counter()
            record_review(con, case_id, site, status="needs-work", note=f"during {len(times)}")
            times.append(time.perf_counter() - began)
            time.sleep(0.2)
    wall = time.perf_counter() - start
    if ingest.returncode:
        raise SystemExit(f"the second ingest failed ({ingest.returncode}):\n{ingest.stderr}")
    with open_team_case(own_url) as team:
        reviews = int((team.audit()["action"] == "review").sum())
        if reviews != before + len(times) or not team.verify_audit().ok:
            raise SystemExit("reviews beside an ingest: an entry is missing or the chain fails")
    return {
        "reingest_s": round(wall, 2),
        "reviews_during": len(times),
        "review_ms_median": round(statistics.median(times) * 1000, 1) if times else None,
        "review_ms_max": round(max(times) * 1000, 1) if times else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, help="demo exports to use (default: generated)")
    parser.add_argument("--no-durable", action="store_true", help="fsync off on the server")
    parser.add_argument("--no-baseline", action="store_true", help="no case-file runs beside")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--explore-child", help=argparse.SUPPRESS)  # the explorer's process
    args = parser.parse_args(argv)
    if args.explore_child:
        _explore_child(args.explore_child)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-team-case-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            workbench.generate_demo(data, n_shipments=args.shipments)
        files = [f"--{t}={data / f'{t}.csv'}" for t in TABLES]
        size = (data / "shipments.csv").stat().st_size
        with start_server(durable=not args.no_durable) as server:
            init_store(server.url())
            grant(server.url(), "ingest", "analyst", password=PASSWORD)
            grant(server.url(), "review", "reviewer", password=PASSWORD)
            env = {**os.environ, "PGPASSWORD": PASSWORD}
            rows = []
            for i in range(args.repeat):
                url = f"{server.url('analyst')}?case=bench-{i}"
                load = round(os.getloadavg()[0], 2)
                ingest = _timed_server(server.folder, ["ingest", url, *files], env)
                sites = _timed_server(server.folder, ["sites", url, "--top", "1"], env)
                opened = _explore(url, env)
                row: dict[str, Any] = {
                    "repeat": i + 1,
                    "load_1min": load,
                    "ingest_s": round(ingest[0], 2),
                    "ingest_cpu_s": round(ingest[1], 2),
                    "ingest_server_cpu_s": ingest[3],
                    "sites_s": round(sites[0], 2),
                    "sites_cpu_s": round(sites[1], 2),
                    "sites_server_cpu_s": sites[3],
                    "n_sites": int(sites[2].split(":")[1].split()[0]),
                    "explore_s": opened["explore_s"],
                    "explore_open_case_s": opened["open_case_s"],
                    "explore_process_s": opened["process_s"],
                    "explore_n_sites": opened["n_sites"],
                }
                own_url = f"{server.url('analyst', PASSWORD)}?case=bench-{i}"
                review_url = server.url("reviewer", PASSWORD)
                row.update(_reviews_during_ingest(url, own_url, review_url, files, env))
                if not args.no_baseline:
                    case = Path(tmp) / f"case-{i}.gpkg"
                    local = _run(["ingest", str(case), *files], env)
                    local_sites = _run(["sites", str(case), "--top", "1"], env)
                    row["file_ingest_s"] = round(local[0], 2)
                    row["file_sites_s"] = round(local_sites[0], 2)
                    row["file_n_sites"] = int(local_sites[2].split(":")[1].split()[0])
                    local_open = _explore(str(case), env)
                    row["file_explore_s"] = local_open["explore_s"]
                    row["file_explore_process_s"] = local_open["process_s"]
                rows.append(row)
                print(rows[-1], flush=True)
    print()
    print(
        f"team case, {args.shipments:,} waybills ({size / 1e6:,.0f} MB CSV), "
        f"{'durable' if not args.no_durable else 'fsync off'}, {os.cpu_count()} cores, "
        f"{platform.python_version()}"
    )
    print(
        "| repeat | load | `workbench ingest URL` | its CPU + server's | `workbench sites URL` | "
        "its CPU + server's | sites | `explore(case)` (open_case; process) | case file: "
        "ingest | case file: sites | case file: `explore(case)` (process) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['repeat']} | {r['load_1min']} | {r['ingest_s']:.2f} s | "
            f"{r['ingest_cpu_s']:.2f} + {r['ingest_server_cpu_s']} s | {r['sites_s']:.2f} s | "
            f"{r['sites_cpu_s']:.2f} + {r['sites_server_cpu_s']} s | {r['n_sites']:,} | "
            f"{r['explore_s']:.2f} s ({r['explore_open_case_s']:.2f} s; "
            f"{r['explore_process_s']:.2f} s) | {r.get('file_ingest_s', '-')} s | "
            f"{r.get('file_sites_s', '-')} s | {_s(r.get('file_explore_s'))} "
            f"({_s(r.get('file_explore_process_s'))}) |"
        )
    print()
    print(
        "| repeat | the same exports ingested again | reviews meanwhile | "
        "a review: median, longest |"
    )
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['repeat']} | {r['reingest_s']:.2f} s | {r['reviews_during']} | "
            f"{r['review_ms_median']} ms, {r['review_ms_max']} ms |"
        )
    if args.json:
        args.json.write_text(json.dumps({"shipments": args.shipments, "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
