from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from workbench.cli._main import cli


def test_demo_runs_end_to_end_and_prints_outputs(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", str(out), "--shipments", "20000"])
    assert result.exit_code == 0, result.output
    assert "Candidate sites:" in result.output
    assert "(6 quarantined)" in result.output  # the demo's planted export defects
    for name in ("map.html", "sites.geojson", "report.html"):
        assert name in result.output
    assert (out / "map.html").exists()


def test_run_on_a_folder_without_sellers_is_a_one_line_error(tmp_path: Path) -> None:
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
    assert result.exit_code == 0 and "5 entries, hash chain verified" in result.output
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
