"""Time the analyst's path on a team case: ``workbench ingest URL`` and ``workbench sites URL``.

    python benchmarks/bench_team_case.py [--shipments 1000000] [--repeat 3] [--data DIR]
                                         [--no-durable] [--no-baseline] [--json out.json]

A throwaway PostgreSQL + PostGIS (workbench.team.start_server, localhost only) gets a team
store (``workbench team init``) and an analyst login granted ``ingest``; demo exports are
generated (or taken from ``--data``). Each repeat ingests the five exports into a new team
case and finds its sites, each command a fresh ``workbench`` process timed from outside
(process start and imports included; the password comes from PGPASSWORD, not the URL),
then (the baseline, unless ``--no-baseline``) does the same with a new case file, right
after, so both meet the same load on a shared machine. CPU is the command's own and its
children's (the intake's reader process); the server's (its backends, WAL writer and
checkpointer, read from /proc) is given apart. ``--no-durable`` runs the server with
fsync off (as the tests do). Needs PostgreSQL and PostGIS installed.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, help="demo exports to use (default: generated)")
    parser.add_argument("--no-durable", action="store_true", help="fsync off on the server")
    parser.add_argument("--no-baseline", action="store_true", help="no case-file runs beside")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

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
            env = {**os.environ, "PGPASSWORD": PASSWORD}
            rows = []
            for i in range(args.repeat):
                url = f"{server.url('analyst')}?case=bench-{i}"
                ingest = _timed_server(server.folder, ["ingest", url, *files], env)
                sites = _timed_server(server.folder, ["sites", url, "--top", "1"], env)
                row: dict[str, Any] = {
                    "repeat": i + 1,
                    "ingest_s": round(ingest[0], 2),
                    "ingest_cpu_s": round(ingest[1], 2),
                    "ingest_server_cpu_s": ingest[3],
                    "sites_s": round(sites[0], 2),
                    "sites_cpu_s": round(sites[1], 2),
                    "sites_server_cpu_s": sites[3],
                    "n_sites": int(sites[2].split(":")[1].split()[0]),
                }
                if not args.no_baseline:
                    case = Path(tmp) / f"case-{i}.gpkg"
                    local = _run(["ingest", str(case), *files], env)
                    local_sites = _run(["sites", str(case), "--top", "1"], env)
                    row["file_ingest_s"] = round(local[0], 2)
                    row["file_sites_s"] = round(local_sites[0], 2)
                    row["file_n_sites"] = int(local_sites[2].split(":")[1].split()[0])
                rows.append(row)
                print(rows[-1], flush=True)
    print()
    print(
        f"team case, {args.shipments:,} waybills ({size / 1e6:,.0f} MB CSV), "
        f"{'durable' if not args.no_durable else 'fsync off'}, {os.cpu_count()} cores, "
        f"{platform.python_version()}"
    )
    print(
        "| repeat | `workbench ingest URL` | its CPU + server's | `workbench sites URL` | "
        "its CPU + server's | sites | case file: ingest | case file: sites |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['repeat']} | {r['ingest_s']:.2f} s | {r['ingest_cpu_s']:.2f} + "
            f"{r['ingest_server_cpu_s']} s | {r['sites_s']:.2f} s | {r['sites_cpu_s']:.2f} + "
            f"{r['sites_server_cpu_s']} s | {r['n_sites']:,} | {r.get('file_ingest_s', '-')} s "
            f"| {r.get('file_sites_s', '-')} s |"
        )
    if args.json:
        args.json.write_text(json.dumps({"shipments": args.shipments, "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
