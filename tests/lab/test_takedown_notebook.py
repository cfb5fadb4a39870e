"""The "after a takedown" template: offered in the launcher after the known-offenders one, and
run top to bottom with nbclient on its demo, where it records the raids and takedowns, finds
the moves the demo planted, and ends with the new site's verified tip sheet saying what it
took over from."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

import workbench
from workbench.coords import haversine_m
from workbench.lab.templates import list_templates

TEMPLATE = Path(__file__).resolve().parents[2] / "notebooks" / "templates" / "after-takedown.ipynb"
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
    nb = nbformat.read(TEMPLATE, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    lines = [line for line in cell.source.splitlines() if line and not line.startswith("#")]
    assert [line.split("=")[0].strip() for line in lines] == list(PARAMETERS)
    namespace: dict[str, object] = {}
    exec(cell.source, namespace)  # the template's own literals
    assert namespace["case_file"] is None and namespace["events_file"] is None


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path, float]:
    tmp = tmp_path_factory.mktemp("takedown-nb")
    nb = nbformat.read(TEMPLATE, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp)}}
    ).execute()
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
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
    shown = _text(nb)
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
    shown = _text(nb)
    assert "signature valid with the key you gave" in shown and "hash chain verified" in shown
