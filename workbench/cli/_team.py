"""Command-line team cases: ``case push``, ``case pull`` and ``case verify`` move a case
between its file and a team store on PostgreSQL + PostGIS and check it there; ``team
init``, ``team grant`` and ``team revoke`` set up the store and its people (as its owner).

:func:`register` adds the ``case`` and ``team`` groups to the ``workbench`` command group;
each command is a few lines over :mod:`workbench.team`. The URL names the database and the case:
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


@click.group("team")
def team_group() -> None:
    """Set up a team store and grant its people their roles (as the database's owner)."""


@team_group.command("init")
@click.argument("url", metavar="URL")
@friendly
def init_command(url: str) -> None:
    """Set up (or upgrade) the team store in the database URL names, with its four roles."""
    from workbench.team._roles import init_store

    done = init_store(url)
    if done["from"] == done["to"]:
        echo(f"the team store is at schema {done['to']}: nothing to do")
    else:
        echo(f"team store set up: schema {done['from']} -> {done['to']}")


@team_group.command("grant")
@click.argument("url", metavar="URL")
@click.argument("role", type=click.Choice(["viewer", "review", "ingest", "export"]))
@click.argument("login")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the login's password from the first line of standard input.",
)
@friendly
def grant_command(url: str, role: str, login: str, password_stdin: bool) -> None:
    """Grant ROLE to LOGIN, making the login role first if it does not exist.

    viewer reads; review also records reviews; ingest also ingests, links sellers, finds
    sites and pushes cases; export reads and records exports."""
    from workbench.team._roles import grant

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    if password_stdin and not password:
        raise click.UsageError("--password-stdin: the first line of standard input is empty")
    done = grant(url, role, login, password=password)
    made = "made login role" if done["created"] else "login role"
    echo(f"{made} {done['login']}: now {', '.join(done['roles'])}")
    if done["created"] and password is None:
        echo(
            f"{done['login']} has no password: it logs in only where the server trusts it "
            f"without one; give it one with: workbench team grant URL {role} "
            f"{done['login']} --password-stdin"
        )


@team_group.command("revoke")
@click.argument("url", metavar="URL")
@click.argument("role", type=click.Choice(["viewer", "review", "ingest", "export"]))
@click.argument("login")
@friendly
def revoke_command(url: str, role: str, login: str) -> None:
    """Take ROLE back from LOGIN (the login role itself stays)."""
    from workbench.team._roles import revoke

    done = revoke(url, role, login)
    left = ", ".join(done["roles"]) or "no team role"
    echo(f"{done['login']}: {done['role']} revoked; now {left}")


def register(cli: click.Group) -> None:
    """Add the ``case`` and ``team`` groups to the ``workbench`` command group."""
    cli.add_command(case_group)
    cli.add_command(team_group)
