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


def test_a_team_case_is_an_earlier_case_as_its_case_file_would_be(
    store, subjects, case_file, tmp_path
) -> None:
    from workbench.team import parse_url, push

    push(case_file, parse_url(store.url("amira", "putian")))  # the earlier case, in the store
    earlier_url = store.url("wang", "putian")  # any role reads it
    with open_case(subjects, create=False, actor="amira") as local:
        from_file = workbench.cross_reference(local, [case_file])
    with open_case(store.url("amira", "yiwu"), create=False) as team:
        from_team = team.cross_reference([earlier_url])
        itself = team.cross_reference([earlier_url, store.url("li", "yiwu")])  # itself skipped
    # the same matches, but for where the earlier case is
    shown = str(parse_url(earlier_url))
    assert set(from_team["source_path"]) == {shown} and PASSWORD_FREE(shown)
    assert set(from_team["source_name"]) == {"putian"}
    with open_case(earlier_url, create=False) as earlier:
        assert set(from_team["source_hash"]) == {earlier.audit()["hash"].iloc[-1]}
    where = ("source_path", "source_name", "source_hash", "explanation")  # the push's entry
    same = [c for c in from_file.columns if c not in ("run_at", "audit_seq", *where)]
    pd.testing.assert_frame_equal(from_team[same], from_file[same])
    assert len(itself) == len(from_team)
    # the file is named case.gpkg: "in case case" there, "in case putian" here
    explained = from_team["explanation"].str.replace("case putian", "case case")
    assert explained.tolist() == from_file["explanation"].tolist()
    # and a case file may take a team case as an earlier one, on the command line too
    with open_case(subjects, create=False, actor="amira") as local:
        same_again = workbench.cross_reference(local, [earlier_url])
        pd.testing.assert_frame_equal(same_again[same], from_team[same])
    done = CliRunner().invoke(cli, ["xref", str(subjects), "--against", earlier_url])
    assert done.exit_code == 0, done.output
    with open_case(subjects, create=False) as local:
        stored = workbench.cross_references(local)
        assert set(stored["source_path"]) == {shown}
        assert local.verify_audit().ok


def PASSWORD_FREE(url: str) -> bool:
    from conftest import PASSWORD

    return PASSWORD not in url


def test_an_earlier_team_case_that_is_not_there_is_named(store, subjects) -> None:
    from workbench.errors import NotFoundError

    with (
        open_case(store.url("amira", "yiwu"), create=False) as team,
        pytest.raises(NotFoundError, match=r"no case 'nowhere' in this team store"),
    ):
        team.cross_reference([store.url("amira", "nowhere")])
    with open_case(store.url("wang", "yiwu"), create=False) as viewer:
        assert viewer.audit()["action"].iloc[-1] == "find sites"  # nothing recorded


def test_exchange_lists_from_and_into_a_team_case(store, subjects, case_file, tmp_path) -> None:
    from workbench.export._exchange import export_exchange_list, import_exchange_list
    from workbench.export._keys import PUBLIC_KEY, init_keys
    from workbench.team import parse_url, push

    key, keys = b"exchange-test-key-" * 2, tmp_path / "keys"
    init_keys(keys)
    push(case_file, parse_url(store.url("amira", "putian")))
    with open_case(case_file, create=False, actor="zhao") as brand:
        mine = export_exchange_list(
            brand, tmp_path / "file.json", shared_key=key, keys_dir=keys, issuer="Brand"
        )
    with open_case(store.url("zhao", "putian"), create=False) as brand:  # the export role
        theirs = export_exchange_list(
            brand, tmp_path / "team.json", shared_key=key, keys_dir=keys, issuer="Brand"
        )
        assert brand.audit()["action"].iloc[-1] == "export exchange list"
    listed = [json.loads(p.read_text(encoding="utf-8"))["entries"] for p in (mine, theirs)]
    assert listed[1] == listed[0] and len(listed[0]["hash"]) > 0
    # imported into a team case, the same accounts are flagged as in a case file
    with open_case(subjects, create=False, actor="amira") as local:
        expected = import_exchange_list(
            local, theirs, partner_key=keys / PUBLIC_KEY, shared_key=key
        )
    with open_case(store.url("amira", "yiwu"), create=False) as team:
        found = import_exchange_list(team, theirs, partner_key=keys / PUBLIC_KEY, shared_key=key)
        assert team.audit()["action"].iloc[-1] == "import exchange list"
        assert team.verify_audit().ok
    same = [c for c in expected.columns if c not in ("run_at", "audit_seq")]
    assert len(expected) > 0
    pd.testing.assert_frame_equal(found[same], expected[same])
    with (
        open_case(store.url("li", "yiwu"), create=False) as reviewer,
        pytest.raises(TeamAccessError, match="importing an exchange list needs the workbench_in"),
    ):
        import_exchange_list(reviewer, theirs, partner_key=keys / PUBLIC_KEY, shared_key=key)
    with (  # told before the list is read: a list that is not there is not the reason
        open_case(store.url("li", "yiwu"), create=False) as reviewer,
        pytest.raises(TeamAccessError, match="importing an exchange list needs"),
    ):
        import_exchange_list(
            reviewer, tmp_path / "missing.json", partner_key=keys / PUBLIC_KEY, shared_key=key
        )
    # the same on the command line
    (tmp_path / "shared.key").write_text(key.hex(), encoding="utf-8")
    done = CliRunner().invoke(
        cli,
        ["exchange", "import", store.url("amira", "yiwu"), str(theirs), "--partner-key",
         str(keys / PUBLIC_KEY), "--key-file", str(tmp_path / "shared.key")],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"{len(expected)} matches")
