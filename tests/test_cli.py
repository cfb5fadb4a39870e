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
