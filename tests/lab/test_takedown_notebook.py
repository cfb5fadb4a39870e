"""The "after a takedown" template: offered in the launcher after the known-offenders one, and
run top to bottom with nbclient on its demo, where it records the raids and takedowns, finds
the moves the demo planted, and ends with the new site's verified tip sheet saying what it
took over from."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from template_runs import TEMPLATES, parameters, run_template, text

import workbench
from workbench.coords import haversine_m
from workbench.lab.templates import list_templates

TEMPLATE = TEMPLATES / "after-takedown.ipynb"
PARAMETERS = (
    "case_file", "events_file", "out_dir", "radius_m", "max_gap_weeks", "compare_weeks",
    "keys_dir", "demo_seed", "demo_weekly",
)  # fmt: skip
BUDGET_S = 60  # the demo path, kernel start included, on two shared cores


def test_the_launcher_offers_it_third() -> None:
    listed = {t.name: t for t in list_templates()}
    info = listed["after-takedown"]
    assert info.title == "After a takedown: where did they go?"
    assert info.filename == "after-takedown.ipynb" and "raids and takedowns" in info.description
    names = [t.name for t in list_templates()]
    assert names.index("known-offenders") < names.index("after-takedown")


def test_parameters_are_plain_assignments_of_literals() -> None:
    names, values = parameters(TEMPLATE)
    assert names == list(PARAMETERS)
    assert values["case_file"] is None and values["events_file"] is None


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path, float]:
    tmp = tmp_path_factory.mktemp("takedown-nb")
    nb, seconds = run_template(TEMPLATE, tmp)
    return nb, tmp / "takedown-output", seconds


@pytest.mark.notebook
def test_runs_on_the_demo_within_budget(ran: tuple[nbformat.NotebookNode, Path, float]) -> None:
    assert ran[2] < BUDGET_S


@pytest.mark.notebook
def test_records_the_events_and_finds_the_planted_moves(
    ran: tuple[nbformat.NotebookNode, Path, float],
) -> None:
    nb, out, _ = ran
    planted = pd.read_csv(out / "demo-data" / "planted.csv")
    events = pd.read_csv(out / "demo-data" / "events.csv")
    with workbench.open_case(out / "takedown.case", create=False) as case:
        assert len(case.events()) == len(events)
        run = case.runs().sort_values("audit_seq")["run_id"].iloc[0]  # the whole year's run
        sites = case.sites(run).set_index("site_id")
        moves = case.relocations(run).relocations
        check = case.verify_audit()
    assert check.ok

    def near(ids: pd.Series, lat: float, lon: float) -> np.ndarray:
        at = sites.loc[list(ids)]
        return haversine_m(at["lat"].to_numpy(), at["lon"].to_numpy(), lat, lon) <= 1_000

    found = [
        near(moves["from_site"], p.from_lat, p.from_lon)
        & near(moves["to_site"], p.to_lat, p.to_lon)
        for p in planted.itertuples()
    ]
    recall = np.mean([hit.any() for hit in found])
    precision = np.mean(np.any(found, axis=0)) if len(moves) else 0.0
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)
    shown = text(nb)
    assert f"{len(moves)} relocations" in shown
    assert "after the raid recorded on" in shown
    assert "weeks before and after the first raid" in shown and "window shown: (" in shown


@pytest.mark.notebook
def test_ends_with_the_new_sites_verified_tip_sheet(
    ran: tuple[nbformat.NotebookNode, Path, float],
) -> None:
    nb, out, _ = ran
    bundles = sorted((out / "bundles").glob("tipsheet-*"))
    assert len(bundles) == 1
    html = (bundles[0] / "data" / "report.html").read_text(encoding="utf-8")
    assert "Continuity: where this operation came from or went" in html
    assert "appears to have taken over from" in html
    assert (bundles[0] / "data" / "relocations.csv").exists()
    shown = text(nb)
    assert "signature valid with the key you gave" in shown and "hash chain verified" in shown
