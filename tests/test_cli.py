from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from workbench.cli import cli


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
