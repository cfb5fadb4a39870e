"""Command-line events and relocations: ``event add``, ``event list`` and ``relocations``.

:func:`register` adds them to the ``workbench`` command group; each is a few lines over
:mod:`workbench.case._events`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from workbench.cli._common import echo, friendly
from workbench.schema import EVENT_KINDS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["register"]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: days as YYYY-MM-DD, missing values as null."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")  # type: ignore[return-value]


def _seller_lines(path: Path) -> tuple[str, ...]:
    """Seller ids from a file, one a line (blank lines, # comments and a header skipped)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"--sellers-file {path}: not UTF-8 text ({error})") from None
    lines = [line.strip() for line in text.splitlines()]
    return tuple(s for s in lines if s and not s.startswith("#") and s != "seller_id")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _json(data: object) -> None:
    echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group("event")
def event() -> None:
    """Dated events of the investigation: raids, takedowns, test-buy campaigns."""


@event.command("add")
@click.argument("case_path", metavar="CASE")
@click.option("--kind", required=True, type=click.Choice(EVENT_KINDS), help="What happened.")
@click.option("--date", "date", required=True, help="The day it happened, YYYY-MM-DD.")
@click.option("--note", required=True, help="What happened: who acted, a reference.")
@click.option("--site", "site_id", default=None, help="The site it concerns (e.g. S004).")
@click.option("--run", "run_id", default=None, help="The site's run (default: the latest).")
@click.option("--seller", "seller_ids", multiple=True, help="An account it concerns; repeatable.")
@click.option(
    "--sellers-file",
    "sellers_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A file of the accounts it concerns: one seller id a line (a seller_id header and "
    "lines starting with # are skipped).",
)
@click.option("--network", "network_id", default=None, help="The network it concerns.")
@click.option("--by", default=None, help="Who records it (default: the OS user).")
@friendly
def event_add(
    case_path: str,
    kind: str,
    date: str,
    note: str,
    site_id: str | None,
    run_id: str | None,
    seller_ids: tuple[str, ...],
    sellers_file: Path | None,
    network_id: str | None,
    by: str | None,
) -> None:
    """Record an event in CASE (it becomes an entry of the audit log)."""
    from workbench.opening import open_case

    if sellers_file is not None:
        seller_ids += _seller_lines(sellers_file)

    with open_case(case_path, create=False) as case:
        done = case.record_event(
            kind, date, note=note, site_id=site_id, seller_ids=seller_ids,
            network_id=network_id, by=by, run_id=run_id,
        )  # fmt: skip
    about = [f"site {done['site_id']} of run {done['run_id']}"] if done["site_id"] else []
    about += [f"{len(done['seller_ids'])} accounts"] if done["seller_ids"] else []
    about += [f"network {done['network_id']}"] if done["network_id"] else []
    echo(
        f"{done['event_id']}: {done['kind']} on {done['date']} ({', '.join(about)}), "
        f"recorded by {done['by']} at {done['at']}"
    )


@event.command("list")
@click.argument("case_path", metavar="CASE")
@click.option("--kind", type=click.Choice(EVENT_KINDS), default=None, help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@friendly
def event_list(case_path: str, kind: str | None, as_json: bool) -> None:
    """List the events of CASE by date."""
    from workbench.opening import open_case

    with open_case(case_path, create=False) as case:
        found = case.events(kind=kind)
    if as_json:
        _json(_records(found))
        return
    if found.empty:
        echo("no events recorded")
    for row in _records(found):
        about = [f"site {row['site_id']}"] if row["site_id"] else []
        about += [f"{len(row['seller_ids'])} accounts"] if row["seller_ids"] else []
        about += [f"network {row['network_id']}"] if row["network_id"] else []
        echo(
            f"{row['event_id']}  {row['date']}  {row['kind']:<17} {', '.join(about):<28} "
            f"{row['note']}  (by {row['by']})"
        )


@click.command("relocations")
@click.argument("case_path", metavar="CASE")
@click.option("--run", "run_id", default=None, help="Clustering run (default: the latest).")
@click.option(
    "--max-gap-weeks",
    default=6,
    show_default=True,
    help="A new site must start within this many weeks of the old one's last active week.",
)
@click.option(
    "--quiet-weeks",
    default=4,
    show_default=True,
    help="Weeks without activity up to the data's end that make a site stopped.",
)
@click.option("--json", "as_json", is_flag=True, help="Print relocations and operations as JSON.")
@friendly
def relocations_command(
    case_path: str, run_id: str | None, max_gap_weeks: int, quiet_weeks: int, as_json: bool
) -> None:
    """Networks of CASE that moved from one site to another, and those running several
    sites side by side, with the events and shared identifiers behind each move."""
    from workbench.opening import open_case

    with open_case(case_path, create=False) as case:
        run = run_id or case.latest_run()
        found = case.relocations(run, max_gap_weeks=max_gap_weeks, quiet_weeks=quiet_weeks)
    if as_json:
        _json(
            {
                "run_id": run,
                "parameters": found.parameters,
                "relocations": _records(found.relocations),
                "operations": _records(found.operations),
            }
        )
        return
    moves, ops = found.relocations, found.operations
    echo(
        f"run {run}: {_count(len(moves), 'relocation')}, "
        f"{_count(len(ops), 'operation')} with several sites"
    )
    for text in moves["evidence"]:
        echo(f"  - {text}")
    for text in ops["evidence"]:
        echo(f"  = {text}")


def register(cli: click.Group) -> None:
    """Add ``event`` and ``relocations`` to the ``workbench`` command group."""
    for command in (event, relocations_command):
        cli.add_command(command)
