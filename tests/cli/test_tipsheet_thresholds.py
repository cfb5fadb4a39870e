"""``workbench tipsheet --thresholds``: a bad table is one line naming the row and column."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from workbench.cli._export import register

HEADER = "country,jurisdiction,offence_en,offence_zh,measure,amount,currency,source,source_date\n"


def _cli() -> click.Group:
    group = click.Group("workbench")
    register(group)
    return group


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("China,,x,,business_volume,fifty thousand,CNY,rule,",
         "line 2, column amount: 'fifty thousand' is not an amount"),
        ("China,,x,,profit,50000,CNY,rule,", "line 2, column measure: 'profit' is not a known"),
        ("China,,x,,sold_value,50000,CNY,,", "line 2, column source: is empty; cite the rule"),
    ],
)  # fmt: skip
def test_a_bad_table_is_refused_before_the_case_is_opened(
    tmp_path: Path, row: str, message: str
) -> None:
    table = tmp_path / "mine.csv"
    table.write_text(HEADER + row + "\n", encoding="utf-8")
    missing_case = tmp_path / "no-such-case.gpkg"  # never reached: the table is read first
    result = CliRunner().invoke(
        _cli(), ["tipsheet", str(missing_case), "--site", "S001", "--thresholds", str(table)]
    )
    assert result.exit_code == 1
    assert f"Error: thresholds table mine.csv, {message}" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not missing_case.exists()


def test_a_missing_table_is_one_line_too(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(),
        ["tipsheet", str(tmp_path / "c.gpkg"), "--site", "S001", "--thresholds",
         str(tmp_path / "nope.csv")],
    )  # fmt: skip
    assert result.exit_code == 1 and "nope.csv does not exist" in result.output
    assert "Traceback" not in result.output
