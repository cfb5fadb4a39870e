from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli._main import cli


def _printed(output: str, label: str) -> Path:
    """The path printed after ``label:`` at the start of a line."""
    found = re.search(rf"^\s*{re.escape(label)}: (.+)$", output, re.MULTILINE)
    assert found, f"no {label!r} line in:\n{output}"
    return Path(found.group(1).strip())


def _commands(output: str) -> dict[str, list[str]]:
    """The ``workbench ...`` commands printed as next steps, by subcommand."""
    lines = [line.strip() for line in output.splitlines()]
    return {
        words[1]: words[2:]
        for words in (shlex.split(line) for line in lines if line.startswith("workbench "))
    }


def test_demo_runs_to_a_verified_signed_bundle(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", str(out), "--shipments", "20000"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "(6 quarantined)" in text  # the demo's planted export defects
    assert "Candidate sites:" in text and "Demo review: S001 confirmed by workbench-demo" in text
    verified = r"^Verified: bundle .*: intact, .* signature valid with the key you gave"
    assert re.search(verified, text, re.MULTILINE)
    case, bundle = _printed(text, "Case"), _printed(text, "Tip sheet bundle")
    assert case == out / "investigation.case" and (case / "case.gpkg").is_file()
    assert bundle.parent == out / "bundles" and (bundle / "data" / "report.html").is_file()
    assert _printed(text, "report") == bundle / "data" / "report.pdf"
    for label in ("map", "sites", "networks", "quarantine", "intake report", "Keys"):
        assert _printed(text, label).exists(), label
    assert _printed(text, "Keys") == out / "keys"
    # the printed check, run as printed
    verify = _commands(text)["verify"]
    result = CliRunner().invoke(cli, ["verify", *verify])
    assert result.exit_code == 0 and "signature valid with the key you gave" in result.output


@pytest.fixture
def partner_folder(tmp_path: Path) -> tuple[Path, Path]:
    """The demo's accounts with a logistics partner's waybills (Chinese headers, GB18030,
    GCJ-02), and the partner's mapping file."""
    import workbench

    demo = workbench.generate_demo(tmp_path / "demo", n_shipments=20_000, partner=True)
    folder = tmp_path / "exports"
    folder.mkdir()
    for path in (demo.sellers, demo.identifiers, demo.evidence):
        shutil.copy(path, folder)
    shutil.copy(demo.folder / "partner" / "partner_shipments.csv", folder)
    return folder, demo.folder / "partner" / "mapping.yaml"


def test_run_with_a_mapping_then_the_printed_steps_end_in_a_verified_bundle(
    tmp_path: Path, partner_folder: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, mapping = partner_folder
    monkeypatch.setenv("WORKBENCH_KEYS_DIR", str(tmp_path / "org-keys"))  # none there yet
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(folder), "--out", str(out), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "partner_shipments.csv: 2,000 read, 2,000 stored, 0 quarantined" in text
    assert "(gb18030)" in text
    case = out / "investigation.case"
    assert _printed(text, "Case") == case and (case / "case.gpkg").is_file()
    for label in ("map", "sites", "networks", "quarantine", "intake report"):
        assert _printed(text, label).parent == out and _printed(text, label).is_file(), label
    # it stops before review and says how to go on; the printed commands run as printed
    steps = _commands(text)
    assert list(steps) == ["lab", "review", "keys", "tipsheet", "verify"]
    for name in ("review", "keys", "tipsheet"):
        result = runner.invoke(cli, [name, *steps[name]])
        assert result.exit_code == 0, (name, result.output)
    bundle = Path(result.output.removeprefix("tip sheet written to ").strip())
    assert bundle.parent == out / "bundles"
    result = runner.invoke(cli, ["verify", str(bundle)])
    assert result.exit_code == 0 and ": intact" in result.output, result.output
    assert "partner_shipments.csv" in (bundle / "data" / "report.html").read_text("utf-8")


def test_run_on_a_folder_without_sellers_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "shipments.csv").write_text("shipment_id\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "no sellers file" in result.output
    assert "Traceback" not in result.output


def test_templates_lists_the_investigation_template() -> None:
    result = CliRunner().invoke(cli, ["templates"])
    assert result.exit_code == 0
    assert "New counterfeit investigation" in result.output


def test_case_commands_ingest_find_review_and_verify(tmp_path: Path) -> None:
    import sqlite3

    import workbench

    demo = workbench.generate_demo(
        tmp_path / "data", n_shipments=5_000, n_background_sellers=100, defects=True
    )
    case = str(tmp_path / "putian-2026")  # .gpkg is added
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "ingest",
            case,
            "--sellers",
            str(demo.sellers),
            "--shipments",
            str(demo.shipments),
            "--identifiers",
            str(demo.identifiers),
            "--evidence",
            str(demo.evidence),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"rows_quarantined": 6' in result.output  # the demo's planted defects
    # accounts again, in text: the ingest says it linked them
    again = runner.invoke(cli, ["ingest", case, "--identifiers", str(demo.identifiers)])
    assert again.exit_code == 0, again.output
    assert "accounts linked again:" in again.output and "networks (with the options" in again.output
    shipments_only = runner.invoke(cli, ["ingest", case, "--shipments", str(demo.shipments)])
    assert "linked again" not in shipments_only.output
    result = runner.invoke(cli, ["sites", case, "--radius-m", "250", "--top", "3"])
    assert result.exit_code == 0, result.output
    assert "S001" in result.output and "Putian" in result.output  # the prefecture
    result = runner.invoke(
        cli,
        [
            "review",
            case,
            "S001",
            "--status",
            "confirmed",
            "--note",
            "test buy matched",
            "--by",
            "lead-7",
        ],
    )
    assert result.exit_code == 0 and "confirmed by lead-7" in result.output
    result = runner.invoke(cli, ["audit", case, "--verify"])
    # create, ingest + its linking, ingest + its linking, ingest, find sites, review
    assert result.exit_code == 0 and "8 entries, hash chain verified" in result.output
    with sqlite3.connect(tmp_path / "putian-2026.gpkg") as con:
        con.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    result = runner.invoke(cli, ["audit", case, "--verify"])
    assert result.exit_code == 1
    assert "broken at entry 2" in result.output


def test_case_commands_give_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["sites", str(tmp_path / "missing.gpkg")])
    assert result.exit_code == 1 and result.output.startswith("Error: no case at")
    result = runner.invoke(cli, ["ingest", str(tmp_path / "x.gpkg")])
    assert result.exit_code == 2 and "give at least one of --sellers" in result.output


def test_networks_command_links_and_reports(tmp_path: Path) -> None:
    import json

    import workbench

    demo = workbench.generate_demo(tmp_path / "data", n_shipments=5_000, n_background_sellers=100)
    case = str(tmp_path / "c.gpkg")
    runner = CliRunner()
    runner.invoke(
        cli,
        [
            "ingest",
            case,
            "--sellers",
            str(demo.sellers),
            "--identifiers",
            str(demo.identifiers),
            "--shipments",
            str(demo.shipments),
        ],
    )
    result = runner.invoke(cli, ["networks", case, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["parameters"]["max_accounts_from"] == "data"
    # the hub's courier hotline is infrastructure, on ~300 accounts
    assert report["infrastructure"][0]["n_accounts"] >= 250
    assert report["networks"][0]["strength"] == "strong"


def test_sites_on_a_case_without_shipments_says_so(tmp_path: Path) -> None:
    from workbench.case._case import open_case

    open_case(tmp_path / "empty.gpkg").close()
    result = CliRunner().invoke(cli, ["sites", str(tmp_path / "empty.gpkg")])
    assert result.exit_code == 1
    assert "has no shipments yet; ingest a shipments file first" in result.output


ESCAPE = "\x1b]0;pwned\x07\x1b[2J"  # sets the terminal's title, clears the screen
BIDI = "\u202eexe.gnp"


def test_terminal_escapes_in_data_never_reach_the_terminal(tmp_path: Path) -> None:
    import pandas as pd

    import workbench

    demo = workbench.generate_demo(tmp_path / "data", n_shipments=3_000, n_background_sellers=50)
    sellers = pd.read_csv(demo.sellers, dtype=str, keep_default_na=False)
    sellers.loc[:5, "name"] = [f"Shop {ESCAPE}", f"Shop {BIDI}"] * 3
    sellers.to_csv(demo.sellers, index=False)
    ships = pd.read_csv(demo.shipments, dtype=str, keep_default_na=False)
    ships.loc[:500, "brand"] = f"Nike{ESCAPE}"
    ships.loc[501, "lat"] = f"bad{ESCAPE}"  # quarantined, its raw row and message shown
    ships.to_csv(demo.shipments, index=False)
    case = str(tmp_path / "case.gpkg")
    runner = CliRunner()
    outputs = []
    for args in (
        ["ingest", case, "--sellers", str(demo.sellers), "--shipments", str(demo.shipments),
         "--identifiers", str(demo.identifiers), "--evidence", str(demo.evidence)],
        ["sites", case],
        ["sites", case, "--json"],
        ["review", case, "S001", "--status", "confirmed", "--note", f"ok {ESCAPE}{BIDI}",
         "--by", f"lead{ESCAPE}"],
        ["quarantine", case],
        ["quarantine", case, "--json"],
        ["networks", case],
        ["audit", case],
        ["audit", case, "--json"],
        ["run", str(demo.folder), "--out", str(tmp_path / "out")],
    ):  # fmt: skip
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, (args, result.output)
        outputs.append(result.output)
    text = "\n".join(outputs)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\u001b" in text and "\\u202e" in text  # shown, escaped
    import json

    assert json.loads(outputs[2])["sites"]  # escaped JSON is still JSON
