"""The ``workbench`` command line: each command is a few lines over the public API."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from workbench.cli._common import echo, end_process, friendly, guard_team_cases, printable
from workbench.progress import Progress, set_quiet
from workbench.schema import REVIEW_STATUSES, TABLE_NAMES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="counterfeit-workbench")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (for scripts and logs).")
def cli(quiet: bool) -> None:
    """Counterfeit Workbench: from marketplace exports to tip sheets for the police."""
    if quiet:
        set_quiet()


@cli.command()
@click.argument("outdir", default="demo-output", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=7, show_default=True, help="Seed of the demo generator.")
@click.option(
    "--shipments",
    "n_shipments",
    default=60_000,
    show_default=True,
    help="Number of waybills in the demo investigation.",
)
@click.option("--top", default=1, show_default=True, help="The bundle covers the top N sites.")
@friendly
def demo(outdir: Path, seed: int, n_shipments: int, top: int) -> None:
    """Run the whole path on a generated demo in OUTDIR, down to a verified signed bundle.

    Demo exports (OUTDIR/data) are ingested into the case OUTDIR/investigation.case, sellers linked,
    sites found and the top site given a review labelled as the demo's; the tip sheet of the
    top N sites is signed with demo keys (OUTDIR/keys) into OUTDIR/bundles and verified.
    """
    from workbench.investigation import DEMO_STEPS, run_demo

    with Progress("Demo investigation", DEMO_STEPS) as progress:
        result = run_demo(outdir, seed=seed, n_shipments=n_shipments, top=top, progress=progress)
    echo(result.describe())
    if not result.check.ok:
        sys.exit(1)


@cli.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the map, the site and network files and the intake report.",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file naming the source column of each field, per table.",
)
@click.option(
    "--case",
    "case_path",
    default=None,
    help="The case to store everything in (created if missing; default OUT/investigation.case)"
    ", or a team case's URL.",
)
@click.option("--radius-m", default=300.0, show_default=True, help="Clustering radius.")
@friendly
def run(
    data_dir: Path, out: Path, mapping: Path | None, case_path: str | None, radius_m: float
) -> None:
    """Ingest a folder of exports into a case, link sellers, find sites and draw the map.

    Each table is read from the file that names it (sellers.csv, partner_shipments.csv, ...).
    Stops before review: it prints the commands that explore, review and export.
    """
    from workbench.investigation import RUN_STEPS, run_investigation

    with Progress("Investigation", RUN_STEPS) as progress:
        result = run_investigation(
            data_dir, out, case=case_path, mapping=mapping, radius_m=radius_m, progress=progress
        )
    echo(result.describe())
    echo(result.next_steps())


@cli.command()
def templates() -> None:
    """List the investigation templates the JupyterLab launcher offers."""
    from workbench.lab.templates import list_templates

    for info in list_templates():
        echo(f"{info.name}\t{info.title}")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def lab(ctx: click.Context) -> None:
    """Open JupyterLab (with the workbench extension) in the current folder."""
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or shutil.which(
        "jupyter"
    )
    if jupyter is None:
        raise click.ClickException("jupyter is not installed; run: pip install jupyterlab")
    os.execv(jupyter, [jupyter, "lab", *ctx.args])  # noqa: S606 - replaces this process


from workbench.cli._events import register as _register_event_commands  # noqa: E402
from workbench.cli._export import register as _register_export_commands  # noqa: E402
from workbench.cli._team import register as _register_team_commands  # noqa: E402
from workbench.cli._xref import register as _register_xref_commands  # noqa: E402

_register_export_commands(cli)
_register_xref_commands(cli)
_register_team_commands(cli)
_register_event_commands(cli)


def main() -> None:
    """Entry point of the ``workbench`` console script (and ``python -m workbench``): the
    process ends as soon as the command has (:func:`end_process`)."""
    try:
        cli(prog_name="workbench")
    except SystemExit as stop:  # click's standalone mode always ends with one
        end_process(stop.code)


def _echo_json(data: object) -> None:
    """``data`` as standard JSON: a missing number (NaN) is null, never the bare ``NaN``
    that other JSON readers refuse."""
    echo(json.dumps(_no_nan(data), indent=2, ensure_ascii=False, default=str, allow_nan=False))


def _no_nan(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _no_nan(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_no_nan(value) for value in data]
    return data


def _cluster_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--workers N / --scheduler ADDRESS: run on a Dask LocalCluster or a running cluster."""
    command = click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="Work on a running Dask cluster (tcp://host:8786).",
    )(command)
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        help="Work on a Dask LocalCluster of this many worker processes (same result).",
    )(command)


def _cluster(workers: int | None, scheduler: str | None) -> contextlib.AbstractContextManager[Any]:
    """A Dask client for --workers / --scheduler (closed at the end), or None."""
    if workers is None and scheduler is None:
        return contextlib.nullcontext()
    from workbench.sites import make_client

    return contextlib.closing(make_client(workers=workers, scheduler=scheduler))


@cli.command()
@click.argument("case_path", metavar="CASE")
@click.option("--sellers", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--identifiers", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--shipments",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="A waybill file; give it again for more (a waybill in a later file wins).",
)
@click.option("--evidence", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--locations", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file naming the source column of each field, per table.",
)
@click.option("--chunk-rows", default=250_000, show_default=True, help="Rows read at a time.")
@_cluster_options
@click.option("--json", "as_json", is_flag=True, help="Print the intake reports as JSON.")
@friendly
def ingest(
    case_path: str,
    mapping: Path | None,
    chunk_rows: int,
    workers: int | None,
    scheduler: str | None,
    as_json: bool,
    **files: Any,
) -> None:
    """Load export files into CASE (created if missing), quarantining bad rows.

    Files are streamed in chunks, so files larger than memory load; the whole ingest is one
    transaction. Each file gets a report: rows read, stored, quarantined by reason, repaired.
    With --workers or --scheduler the waybill files are read on Dask workers, one file a
    task, into the same case.
    """
    from workbench.opening import is_team_url, open_case

    chosen = {table: path for table, path in files.items() if path}
    if not chosen:
        raise click.UsageError("give at least one of --" + ", --".join(TABLE_NAMES))
    if (workers or scheduler) and is_team_url(case_path):
        raise click.UsageError(
            "--workers/--scheduler read waybill files for a case file; a team case's ingest "
            "streams its rows to the database server from this process"
        )
    with _cluster(workers, scheduler) as client, open_case(case_path) as case:
        if client is not None and files["shipments"] and not as_json:
            n = len(client.scheduler_info()["workers"])
            echo(f"reading {len(files['shipments'])} waybill file(s) on {n} Dask workers")
        options = {"client": client} if client is not None else {}
        given: dict[str, Any] = {k: list(v) if k == "shipments" else v for k, v in chosen.items()}
        reports = case.ingest_files(
            given,
            mapping=mapping,
            chunk_rows=chunk_rows,
            progress=not as_json,
            **options,
        )
        last = case.audit().tail(1).to_dict("records")
    if as_json:
        _echo_json(reports)
        return
    for r in reports:
        echo(
            f"{r['table']:<12} {r['rows_read']:>9,} read  {r['new']:>9,} new  "
            f"{r['replaced_or_already_present']:>9,} replaced/present  "
            f"{r['quarantined']:>6,} quarantined  {r['rows_repaired']:>6,} repaired  "
            f"({r['encoding'] or r['format']}) {r['source']}"
        )
        for label, counts in (("quarantined", "quarantine_reasons"), ("repaired", "repairs")):
            if r[counts]:
                listed = ", ".join(f"{k} {v:,}" for k, v in r[counts].items())
                echo(f"{'':<12} {label}: {listed}")
    if last and last[0]["action"] == "link sellers":  # the ingest brought accounts
        linked = last[0]["parameters"]
        linked = json.loads(linked) if isinstance(linked, str) else dict(linked or {})
        echo(
            f"{'networks':<12} accounts linked again: {int(linked.get('n_networks', 0)):,} "
            "networks (with the options of the last linking)"
        )


@cli.command()
@click.argument("case_path", metavar="CASE")
@click.option("--table", type=click.Choice(TABLE_NAMES), help="Only rows of this table.")
@click.option("--reason", help="Only rows quarantined for this reason code.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@friendly
def quarantine(case_path: str, table: str | None, reason: str | None, as_json: bool) -> None:
    """List the rows intake rejected, with file, row number, reason and message."""
    from workbench.opening import open_case

    with open_case(case_path, create=False) as case:
        rows = case.quarantine(table=table, reason=reason)
    if as_json:
        _echo_json(rows.to_dict(orient="records"))
        return
    if rows.empty:
        echo("no quarantined rows")
    for row in rows.itertuples():
        echo(
            f"{row.table:<11} {Path(str(row.source)).name}:{row.row_number:<8} "
            f"{row.reason:<22} {printable(str(row.message))[:200]}"
        )


@cli.command("sites")
@click.argument("case_path", metavar="CASE")
@click.option("--radius-m", default=300.0, show_default=True, help="Clustering radius.")
@click.option(
    "--min-shipments",
    default=20,
    show_default=True,
    help="Waybills within the radius needed to seed a site, at least (the local floor).",
)
@click.option(
    "--density-factor",
    default=4.0,
    show_default=True,
    help="Seeds need this many times the waybills their surroundings would put there; 0: off.",
)
@click.option("--since", metavar="YYYY-MM-DD", help="Only waybills shipped on or after this day.")
@click.option("--until", metavar="YYYY-MM-DD", help="Only waybills shipped on or before this day.")
@_cluster_options
@click.option("--top", default=20, show_default=True, help="Sites to print.")
@click.option("--json", "as_json", is_flag=True, help="Print the sites as JSON.")
@friendly
def sites_command(
    case_path: str,
    radius_m: float,
    min_shipments: int,
    density_factor: float,
    since: str | None,
    until: str | None,
    workers: int | None,
    scheduler: str | None,
    top: int,
    as_json: bool,
) -> None:
    """Link sellers and find candidate production sites in CASE; stores a new run.

    With --since / --until the run takes only the waybills of that window (recorded with
    the run); `workbench compare CASE RUN RUN` then says what changed between two runs."""
    from workbench.case._case import FIND_SITES_STEPS
    from workbench.opening import open_case

    with (
        _cluster(workers, scheduler) as client,
        open_case(case_path, create=False) as case,
        Progress("Finding sites", FIND_SITES_STEPS) as progress,
    ):
        run_id = case.find_sites(
            radius_m, min_shipments=min_shipments, density_factor=density_factor,
            since=since, until=until, progress=progress, client=client,
        )  # fmt: skip
        sites = case.sites(run_id)
    columns = [
        "site_id",
        "rank",
        "score",
        "label",
        "status",
        "n_shipments",
        "n_sellers",
        "n_operators",
        "stable",
        "district",
        "prefecture",
        "province",
        "place",
        "lat",
        "lon",
    ]
    if as_json:
        _echo_json({"run_id": run_id, "sites": sites[columns].head(top).to_dict("records")})
        return
    echo(f"run {run_id}: {len(sites)} candidate sites")
    echo(sites[columns].head(top).to_string(index=False))


@cli.command("compare")
@click.argument("case_path", metavar="CASE")
@click.argument("before", metavar="RUN_BEFORE")
@click.argument("after", metavar="RUN_AFTER")
@click.option("--factor", default=1.5, show_default=True, help="Grew or shrank from this ratio.")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@friendly
def compare_command(case_path: str, before: str, after: str, factor: float, as_json: bool) -> None:
    """What changed from one run of CASE to another (e.g. two time windows): the sites that
    appeared, vanished, grew, shrank or held steady."""
    from workbench.opening import open_case
    from workbench.sites._compare import CHANGES

    with open_case(case_path, create=False) as case:
        changes = case.compare_runs(before, after, factor=factor)
    if as_json:
        _echo_json({"before": before, "after": after, "changes": changes.to_dict("records")})
        return
    counts = changes["change"].value_counts()
    echo(", ".join(f"{counts.get(c, 0)} {c}" for c in CHANGES))
    for text in changes["summary"]:
        echo(printable(str(text)))


@cli.command()
@click.argument("case_path", metavar="CASE")
@click.argument("site_id")
@click.option("--status", required=True, type=click.Choice(REVIEW_STATUSES))
@click.option("--note", default="", help="Why: what was checked, what was found.")
@click.option("--by", default=None, help="Reviewer (default: the OS user).")
@click.option("--run", "run_id", default=None, help="Clustering run (default: the latest).")
@friendly
def review(
    case_path: str, site_id: str, status: str, note: str, by: str | None, run_id: str | None
) -> None:
    """Record a review decision on SITE_ID in CASE (history is kept)."""
    from workbench.opening import open_case

    with open_case(case_path, create=False) as case:
        decision = case.review(site_id, status=status, note=note, by=by, run_id=run_id)
    echo(
        f"{decision['site_id']} in run {decision['run_id']}: {decision['status']} "
        f"by {decision['by']} at {decision['at']}"
    )


@cli.command()
@click.argument("case_path", metavar="CASE")
@click.option("--verify", is_flag=True, help="Recompute the hash chain; exit 1 if broken.")
@click.option("--json", "as_json", is_flag=True, help="Print the log as JSON.")
@friendly
def audit(case_path: str, verify: bool, as_json: bool) -> None:
    """Show the audit log of CASE, or verify its hash chain."""
    from workbench.opening import open_case

    with open_case(case_path, create=False) as case:
        if verify:
            check = case.verify_audit()
            echo(str(check))
            if not check.ok:
                sys.exit(1)
            return
        log = case.audit()
    if as_json:
        _echo_json(log.to_dict("records"))
        return
    for row in log.itertuples():
        echo(f"{row.seq:>5}  {row.at}  {row.actor:<16} {row.action:<14} {row.parameters}")


@cli.command()
@click.argument("case_path", metavar="CASE")
@click.option(
    "--max-accounts",
    type=int,
    default=None,
    help="Identifiers on more accounts are infrastructure (default: from the data).",
)
@click.option(
    "--allow",
    "allow_list",
    multiple=True,
    help="A value that never links (a courier hotline); repeatable.",
)
@click.option("--include-weak", is_flag=True, help="Also link through shared addresses.")
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the network graph (.gexf or .graphml).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the networks as JSON.")
@friendly
def networks(
    case_path: str,
    max_accounts: int | None,
    allow_list: tuple[str, ...],
    include_weak: bool,
    export_path: Path | None,
    as_json: bool,
) -> None:
    """Link the accounts of CASE into networks through shared identifiers and store them.

    Networks whose accounts were seen before (earlier cases, partner lists: ``workbench
    xref``, ``workbench exchange import``) are flagged."""
    from workbench.case._case import Case
    from workbench.export._seen import read_cross_references
    from workbench.networks._flags import flag_networks
    from workbench.opening import open_case

    with open_case(case_path, create=False) as case:
        nets = case.link_sellers(
            max_accounts=max_accounts, allow_list=allow_list, include_weak=include_weak
        )
        # a team case's URL gives a team case, which reads its own cross-references
        seen = read_cross_references(case) if isinstance(case, Case) else case.cross_references()
        summary = flag_networks(nets.summary, nets.membership, seen)
    if export_path is not None:
        from workbench.networks._graph import export_network

        export_network(nets, export_path)
    if as_json:
        _echo_json(
            {
                "parameters": nets.parameters,
                "networks": summary.to_dict("records"),
                "infrastructure": nets.infrastructure.to_dict("records"),
            }
        )
        return
    echo(
        f"{len(nets.summary)} networks; identifiers on more than "
        f"{nets.parameters['max_accounts']} accounts are infrastructure "
        f"({nets.parameters['max_accounts_from']}): {len(nets.infrastructure)} found"
    )
    echo(summary.drop(columns=["seen_before"]).to_string(index=False))
    flagged = summary[summary["seen_before"] != ""]
    if len(flagged):
        echo(f"seen before ({len(flagged)} networks):")
    for network_id, text in zip(flagged["network_id"], flagged["seen_before"], strict=True):
        echo(f"  {network_id}: {text}")
    if export_path is not None:
        echo(f"graph written to {export_path}")


# the commands a team case's URL (postgresql://...?case=NAME) works with; the others say so
TEAM_COMMANDS = (
    "ingest", "quarantine", "sites", "compare", "review", "audit", "networks", "tipsheet",
    "relocations", "event list", "event add", "run", "xref", "exchange export", "exchange import",
)  # fmt: skip
guard_team_cases(cli, TEAM_COMMANDS)
