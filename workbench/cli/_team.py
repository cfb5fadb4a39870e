"""Command-line team cases: ``case push``, ``case pull`` and ``case verify`` move a case
between its file and a team store on PostgreSQL + PostGIS and check it there.

:func:`register` adds the ``case`` group to the ``workbench`` command group; each command
is a few lines over :mod:`workbench.team`. The URL names the database and the case:
``postgresql://USER@HOST:PORT/DATABASE?case=NAME`` (the password from ``PGPASSWORD`` or
``~/.pgpass``, as libpq reads them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workbench.cli._common import echo, friendly

__all__ = ["register"]


@click.group("case")
def case_group() -> None:
    """Move a case to and from a team store (PostgreSQL + PostGIS) and check it there."""


@case_group.command("push")
@click.argument("case_path", metavar="CASE", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("url", metavar="URL")
@friendly
def push_command(case_path: Path, url: str) -> None:
    """Copy CASE (a .gpkg that verifies) into the team store as the case URL names.

    Every table, run, review, waybill file and the whole audit chain move; the store appends
    a `push to team store` entry as the connected role."""
    from workbench.team import parse_url, push

    target = parse_url(url)
    if not case_path.is_file():
        raise click.ClickException(f"no case file at {case_path}")
    done = push(case_path, target)
    rows = done["rows"]
    echo(
        f"pushed {case_path} to {target}: {rows['waybills']:,} waybills, {rows['sites']:,} "
        f"sites, {rows['reviews']:,} reviews, {rows['audit']:,} audit entries, then entry "
        f"{done['head'][0]} (the push), hash {done['head'][1]}"
    )


@case_group.command("pull")
@click.argument("url", metavar="URL")
@click.argument("case_path", metavar="CASE", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def pull_command(url: str, case_path: Path) -> None:
    """Write the team case URL names into the new case file CASE (checked on both sides)."""
    from workbench.team import parse_url, pull

    source = parse_url(url)
    done = pull(source, case_path)
    rows = done["rows"]
    echo(
        f"pulled {source} into {done['path']}: {rows['sites']:,} sites, {rows['reviews']:,} "
        f"reviews, {rows['audit']:,} audit entries, then entry {done['entry']} (the pull); "
        f"check it with: workbench audit {done['path']} --verify"
    )


@case_group.command("verify")
@click.argument("url", metavar="URL")
@friendly
def verify_command(url: str) -> None:
    """Recompute the team case's audit chain and check its tables; exit 1 if broken."""
    from workbench.team import open_team_case

    with open_team_case(url) as case:
        check = case.verify_audit()
    echo(str(check))
    if not check.ok:
        sys.exit(1)


def register(cli: click.Group) -> None:
    """Add the ``case`` group to the ``workbench`` command group."""
    cli.add_command(case_group)
