"""Cross-referencing a team case against earlier cases: the case file's matches, stored in
the team store as the analyst, audited; readers see them, other roles may not write them."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import export_files

import workbench
from workbench.cli._main import cli
from workbench.errors import TeamAccessError
from workbench.opening import open_case


@pytest.fixture
def subjects(store, demo_exports, tmp_path):
    """The same exports in a case file and a team case, linked and sites found in each."""
    local = tmp_path / "subject" / "local.gpkg"
    local.parent.mkdir()
    with open_case(local, actor="amira") as case:
        case.ingest_files(export_files(demo_exports))
        case.find_sites(300)
    with open_case(store.url("amira", "yiwu")) as team:
        team.ingest_files(export_files(demo_exports))
        team.find_sites(300)
    return local


def test_a_team_case_finds_what_a_case_file_finds_in_earlier_cases(
    store, subjects, case_file
) -> None:
    with open_case(subjects, create=False, actor="amira") as local:
        expected = workbench.cross_reference(local, [case_file])
    with open_case(store.url("amira", "yiwu"), create=False) as team:
        found = team.cross_reference([case_file])
        again = team.cross_reference([case_file])  # replaces, never adds twice
    assert len(expected) > 0 and set(expected["match"]) >= {"identifier", "seller"}
    same = [c for c in expected.columns if c not in ("run_at", "audit_seq")]
    pd.testing.assert_frame_equal(found[same], expected[same])
    with open_case(store.url("wang", "yiwu"), create=False) as viewer:
        stored = viewer.cross_references()
        pd.testing.assert_frame_equal(stored[same], expected[same])
        assert stored["audit_seq"].nunique() == 1 and len(stored) == len(again)
        entry = viewer.audit().iloc[-1]
        assert (entry["action"], entry["actor"]) == ("cross-reference", "amira")
        assert json.loads(entry["inputs"])[0]["path"] == str(case_file)
        assert viewer.verify_audit().ok
        with pytest.raises(TeamAccessError, match="cross-referencing needs the workbench_ingest"):
            viewer.cross_reference([case_file])


def test_xref_on_the_command_line(store, subjects, case_file) -> None:
    runner = CliRunner()
    done = runner.invoke(
        cli, ["xref", store.url("amira", "yiwu"), "--against", str(case_file), "--explain", "1"]
    )
    assert done.exit_code == 0, done.output
    assert "identifier" in done.output
    refused = runner.invoke(cli, ["xref", store.url("li", "yiwu"), "--against", str(case_file)])
    assert refused.exit_code == 77, refused.output
