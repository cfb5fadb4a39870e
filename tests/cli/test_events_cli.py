"""``workbench event add / list`` and ``workbench relocations``: one-line errors, JSON out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from workbench.case._case import open_case
from workbench.cli._main import cli
from workbench.coords import haversine_m
from workbench.demo._moves import generate_relocations
from workbench.intake._table import load_table


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """A case of two planted moves (and the other patterns, one ring each), sites found."""
    root = tmp_path_factory.mktemp("cli-events")
    demo = generate_relocations(
        root / "data", seed=5, n_moves=2, n_parallel=1, n_pauses=1, n_steady=1, n_closed=1,
        n_new=1, weekly_shipments=10, n_background_sellers=20,
    )  # fmt: skip
    with open_case(root / "case" / "c.gpkg", actor="analyst") as case:
        tables = ("sellers", "identifiers", "shipments")
        case.ingest([load_table(getattr(demo, t), t) for t in tables])
        case.find_sites(300)
        sites = pd.DataFrame(case.sites())
    return root / "case", sites, pd.read_csv(demo.events, keep_default_na=False)


@pytest.fixture
def case(made, tmp_path: Path) -> str:
    shutil.copytree(made[0], tmp_path / "case")
    return str(tmp_path / "case" / "c.gpkg")


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def _site_at(sites: pd.DataFrame, lat: float, lon: float) -> str:
    dist = haversine_m(sites["lat"].to_numpy(), sites["lon"].to_numpy(), lat, lon)
    return str(sites["site_id"].iloc[int(np.argmin(dist))])


def test_event_add_and_list(case, made) -> None:
    _, sites, _ = made
    site = str(sites["site_id"].iloc[0])
    added = _run("event", "add", case, "--kind", "raid", "--date", "2026-05-01", "--site", site,
                 "--note", "police raid, 3 arrests <b>", "--by", "inspector-li")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.output.startswith(f"EV0001: raid on 2026-05-01 (site {site} of run ")
    assert "recorded by inspector-li" in added.output
    sellers = sites["sellers"].iloc[0][:2]
    taken = _run("event", "add", case, "--kind", "takedown", "--date", "2026-05-04",
                 "--seller", sellers[0], "--seller", sellers[1], "--note", "batch 12")  # fmt: skip
    assert taken.exit_code == 0, taken.output
    assert "EV0002: takedown on 2026-05-04 (2 accounts)" in taken.output
    listed = _run("event", "list", case)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert (
        lines[0].startswith("EV0001  2026-05-01  raid") and "police raid, 3 arrests <b>" in lines[0]
    )
    assert lines[1].startswith("EV0002  2026-05-04  takedown") and "2 accounts" in lines[1]
    as_json = json.loads(_run("event", "list", case, "--json", "--kind", "takedown").output)
    assert [e["event_id"] for e in as_json] == ["EV0002"]
    assert as_json[0]["date"] == "2026-05-04" and as_json[0]["seller_ids"] == sorted(sellers)
    assert as_json[0]["site_id"] is None
    verified = _run("audit", case, "--verify")
    assert verified.exit_code == 0 and "audit log intact" in verified.output


def test_no_events_yet(case) -> None:
    listed = _run("event", "list", case)
    assert listed.exit_code == 0 and listed.output == "no events recorded\n"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--kind", "arrest"], 2, "Invalid value for '--kind': 'arrest' is not one of"),
        (["--date", "2026-02-30"], 1, "Error: date='2026-02-30' is not a day of the calendar"),
        (["--site", "S999"], 1, "Error: site_id='S999' is not in run"),
        (["--seller", "NOBODY"], 1, "Error: seller_ids: 'NOBODY' not in the case's sellers"),
        (["--network", "N9999"], 1, "Error: network_id='N9999' is not in the case's networks"),
        (["--note", ""], 1, "Error: note is empty"),
        (["--note", "x\x1b[31m"], 1, "Error: note holds control or format character U+001B"),
    ],
)
def test_event_add_mistakes_are_one_line(case, args, code, message) -> None:
    base = {"--kind": "raid", "--date": "2026-05-01", "--note": "raid"}
    extra = dict(zip(args[::2], args[1::2], strict=True))
    if not {"--site", "--seller", "--network"} & set(extra):
        extra["--site"] = "S001"
    merged = [x for k, v in {**base, **extra}.items() for x in (k, v)]
    result = _run("event", "add", case, *merged)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert _run("event", "list", case).output == "no events recorded\n"


def test_event_on_a_missing_case(tmp_path: Path) -> None:
    result = _run("event", "list", str(tmp_path / "nope.gpkg"))
    assert result.exit_code == 1 and "Error: no case at" in result.output
    assert not (tmp_path / "nope.gpkg").exists()


def test_relocations_after_the_raids(case, made) -> None:
    _, sites, events = made
    for row in events.to_dict("records"):
        if row["kind"] == "raid":
            site = _site_at(sites, float(row["lat"]), float(row["lon"]))
            args = ["--site", site]
        else:
            args = [x for s in row["seller_ids"].split(";") for x in ("--seller", s)]
        done = _run("event", "add", case, "--kind", row["kind"], "--date", row["date"],
                    "--note", row["note"], *args)  # fmt: skip
        assert done.exit_code == 0, done.output
    text = _run("relocations", case)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].endswith(": 2 relocations, 1 operation with several sites")
    assert sum(" moved from " in line and "the raid recorded on S" in line
               for line in lines) == 2, text.output  # fmt: skip
    data = json.loads(_run("relocations", case, "--json").output)
    assert len(data["relocations"]) == 2 and len(data["operations"]) == 1
    move = data["relocations"][0]
    assert move["event_kind"] == "raid" and len(move["around"]) == 10  # 2026-05-18
    assert data["parameters"]["max_gap_weeks"] == 6
    # a window of no weeks at all finds only moves of the very next week
    narrow = json.loads(_run("relocations", case, "--json", "--max-gap-weeks", "0").output)
    assert all(m["gap_weeks"] <= 0 for m in narrow["relocations"])


def test_relocations_need_a_run(tmp_path: Path) -> None:
    path = tmp_path / "empty.gpkg"
    open_case(path).close()
    result = _run("relocations", str(path))
    assert result.exit_code == 1 and "has no clustering run yet" in result.output


def test_relocations_with_a_bad_window_is_one_line(case) -> None:
    result = _run("relocations", case, "--quiet-weeks", "-1")
    assert result.exit_code == 1 and "Error: quiet_weeks=-1; expected a whole number" in (
        result.output
    )


def test_a_takedown_of_many_accounts_from_a_file(case, made, tmp_path: Path) -> None:
    _, sites, _ = made
    sellers = sorted(sites["sellers"].iloc[0])
    listed = tmp_path / "takedown.txt"
    listed.write_text("seller_id\n# batch 12\n" + "\n".join(sellers) + "\n\n", encoding="utf-8")
    done = _run(
        "event", "add", case, "--kind", "takedown", "--date", "2026-05-04",
        "--sellers-file", str(listed), "--seller", sellers[0], "--note", "batch 12",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"({len(sellers)} accounts)" in done.output
    stored = json.loads(_run("event", "list", case, "--json").output)
    assert stored[0]["seller_ids"] == sellers
    listed.write_bytes(b"\xff\xfeS\x00")
    bad = _run("event", "add", case, "--kind", "takedown", "--date", "2026-05-04",
               "--sellers-file", str(listed), "--note", "x")  # fmt: skip
    assert bad.exit_code == 1 and "not UTF-8 text" in bad.output
