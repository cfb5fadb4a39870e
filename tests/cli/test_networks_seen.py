"""``workbench networks CASE`` flags the networks whose accounts were seen before."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli._main import cli

_SPEC = importlib.util.spec_from_file_location(
    "seen_cases", Path(__file__).resolve().parents[1] / "export" / "seen_cases.py"
)
assert _SPEC is not None and _SPEC.loader is not None
seen_cases = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(seen_cases)


@pytest.fixture(scope="module")
def case_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = seen_cases.build(tmp_path_factory.mktemp("networks-seen"))
    world.case.close()
    return Path(world.case.path)


def test_networks_prints_where_each_network_was_seen_before(case_path: Path) -> None:
    result = CliRunner().invoke(cli, ["networks", str(case_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # N0001 (X1-X3): X1's card and X2's phone were on the earlier ring N0001, at a site
    # confirmed there; X1 and X2 are on the partner's list; N0002 (Y1-Y3) matches nothing
    assert "seen before (1 networks):" in lines
    assert (
        "  N0001: seen in case putian-2025 as N0001 (a site there confirmed); 2 accounts on "
        f"a partner list ({seen_cases.HOSTILE})"
    ) in lines
    assert not [line for line in lines if line.startswith("  N0002:")]
    header = next(line for line in lines if line.split()[:1] == ["network_id"])
    assert "n_earlier_cases" in header and "n_partner_listed" in header


def test_networks_json_carries_the_flags(case_path: Path) -> None:
    result = CliRunner().invoke(cli, ["networks", str(case_path), "--json"])
    assert result.exit_code == 0, result.output
    nets = {n["network_id"]: n for n in json.loads(result.output)["networks"]}
    assert nets["N0001"]["n_earlier_cases"] == 1 and nets["N0001"]["n_partner_listed"] == 2
    assert nets["N0002"]["seen_before"] == "" and nets["N0002"]["n_partner_listed"] == 0


def test_a_case_never_cross_referenced_prints_no_flags(tmp_path: Path) -> None:
    from workbench.case._case import open_case

    with open_case(tmp_path / "plain.gpkg") as case:
        seen_cases._ingest(
            case, tmp_path / "ex",
            sellers=seen_cases.pd.DataFrame({"seller_id": ["A", "B"], "platform": "jd"}),
            identifiers=seen_cases.pd.DataFrame(
                [("A", "phone", "13800138000"), ("B", "phone", "13800138000")],
                columns=["seller_id", "kind", "value"],
            ),
        )  # fmt: skip
    result = CliRunner().invoke(cli, ["networks", str(tmp_path / "plain.gpkg")])
    assert result.exit_code == 0, result.output
    assert "seen before" not in result.output and "N0001" in result.output
