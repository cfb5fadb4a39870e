"""A team case's URL wherever a case is named: ``open_case`` and the commands that work
on a team case take it; the others say so and how to get a file instead."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from workbench.cli._main import TEAM_COMMANDS, cli
from workbench.opening import open_case
from workbench.team import TeamCase, parse_url, push

URL = "postgresql://li@localhost:5/db?case=putian"


def test_a_command_that_does_not_take_a_team_case_says_so() -> None:
    import click

    from workbench.cli._common import guard_team_cases

    @click.group()
    def group() -> None: ...

    @group.command("later")
    @click.argument("case_path")
    def later(case_path: str) -> None:
        click.echo(f"opened {case_path}")

    guard_team_cases(group, supported=())
    result = CliRunner().invoke(group, ["later", URL])
    assert result.exit_code == 1, result.output
    assert (
        "workbench later does not work on a team case yet; pull it first: workbench case "
        "pull URL FILE" in result.output
    )
    assert CliRunner().invoke(group, ["later", "putian.case"]).output == "opened putian.case\n"


def test_every_command_that_takes_a_case_takes_a_team_case() -> None:
    import click

    def commands(group: click.Group, prefix: str = "") -> list[str]:
        found = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                if name != "case":  # push and pull move cases between the two kinds
                    found += commands(command, f"{prefix}{name} ")
            elif any(p.name == "case_path" for p in command.params):
                found.append(f"{prefix}{name}")
        return found

    assert sorted(commands(cli)) == sorted(TEAM_COMMANDS)


def test_every_supported_command_takes_a_case() -> None:
    assert set(TEAM_COMMANDS) == {
        "ingest", "quarantine", "sites", "compare", "review", "audit", "networks", "tipsheet",
        "relocations", "event list", "event add", "run", "xref", "exchange export",
        "exchange import",
    }  # fmt: skip


def test_open_case_never_takes_a_url_from_a_users_folder(tmp_path) -> None:
    # with root (names a user typed, in the lab) a URL is only a file name inside root:
    # nothing connects to a database a user named
    from workbench.errors import NotFoundError

    with pytest.raises(NotFoundError, match=f"no case at {tmp_path}/postgresql:"):
        open_case(URL, root=tmp_path, create=False)


def test_review_quarantine_and_audit_on_a_team_case(store, case_file) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    runner = CliRunner()
    with open_case(store.url("li", "putian"), create=False) as team:
        assert isinstance(team, TeamCase)
    done = runner.invoke(
        cli, ["review", store.url("li", "putian"), "S002", "--status", "rejected", "--note", "hub"]
    )
    assert done.exit_code == 0, done.output
    assert "S002 in run" in done.output and "rejected by li" in done.output
    other = runner.invoke(
        cli, ["review", store.url("li", "putian"), "S003", "--status", "rejected", "--by", "lead"]
    )
    assert other.exit_code == 1 and "a team case records the connected role" in other.output
    log = runner.invoke(cli, ["audit", store.url("wang", "putian")])
    assert log.exit_code == 0 and "push to team store" in log.output
    checked = runner.invoke(cli, ["audit", store.url("wang", "putian"), "--verify"])
    assert checked.exit_code == 0, checked.output
    listed = runner.invoke(cli, ["quarantine", store.url("wang", "putian")])
    assert listed.exit_code == 0, listed.output


@pytest.mark.parametrize(
    "args", [["relocations", "--json"], ["event", "list", "--json"], ["event", "list"]]
)
def test_relocations_and_events_on_a_team_case_print_what_the_case_file_prints(
    store, case_file, args
) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    runner = CliRunner()
    at = 2 if args[0] == "event" else 1
    here = runner.invoke(cli, [*args[:at], str(case_file), *args[at:]])
    there = runner.invoke(cli, [*args[:at], store.url("wang", "putian"), *args[at:]])
    assert here.exit_code == 0, here.output
    assert there.exit_code == 0, there.output
    assert there.output == here.output
