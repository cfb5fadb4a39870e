"""The "Platform-scale investigation" template: offered in the launcher after the three
others, and run top to bottom with nbclient on a small demo with a LocalCluster of two worker
processes, where the sites found on the cluster are the single-machine run and the notebook
ends with a verified tip sheet and the cluster closed."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from template_runs import TEMPLATES, parameters, run_template, text

import workbench
from workbench.lab.templates import list_templates

TEMPLATE = TEMPLATES / "platform-scale.ipynb"
PARAMETERS = (
    "data_dir", "mapping_file", "case_file", "out_dir", "scheduler", "n_workers", "radius_m",
    "check_one_machine", "top_sites", "keys_dir", "organisation", "contact", "demo_seed",
    "demo_shipments", "demo_review",
)  # fmt: skip
BUDGET_S = 90  # a 20,000-waybill demo and two worker processes, kernel start included


def test_the_launcher_offers_it_fourth() -> None:
    listed = {t.name: t for t in list_templates()}
    info = listed["platform-scale"]
    assert info.title == "Platform-scale investigation"
    assert info.filename == "platform-scale.ipynb" and "Dask cluster" in info.description
    names = [t.name for t in list_templates()]
    assert names[:4] == ["investigation", "known-offenders", "after-takedown", "platform-scale"]


def test_parameters_are_plain_assignments_of_literals() -> None:
    names, values = parameters(TEMPLATE)
    assert names == list(PARAMETERS)
    # by default: worker processes here (no scheduler to reach), checked against one machine
    assert values["scheduler"] is None and values["n_workers"] == 2
    assert values["check_one_machine"] is True and values["data_dir"] is None


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path, float]:
    tmp = tmp_path_factory.mktemp("platform-scale-nb")
    nb, seconds = run_template(TEMPLATE, tmp, out_dir="ps-out", demo_shipments=20_000)
    return nb, tmp, seconds


@pytest.mark.notebook
def test_runs_on_the_demo_within_budget(ran: tuple[nbformat.NotebookNode, Path, float]) -> None:
    assert ran[2] < BUDGET_S


@pytest.mark.notebook
def test_the_sites_are_found_on_the_workers_and_equal_one_machines(
    ran: tuple[nbformat.NotebookNode, Path, float],
) -> None:
    nb, tmp, _ = ran
    shown = text(nb)
    assert "Dask cluster at tcp://127.0.0.1:" in shown and ": 2 workers, 2 threads" in shown
    assert "Dask dashboard: http://127.0.0.1:" in shown  # on localhost, a free port
    assert "tasks ran on 2 workers" in shown
    with workbench.open_case(tmp / "platform-scale.case", create=False) as case:
        runs = case.runs()
        audit = case.audit()
        check = case.verify_audit()
    assert check.ok
    assert len(runs) == 1  # the cluster's run and this process's run: one run, stored once
    run_id = str(runs["run_id"].iloc[0])
    found = [json.loads(p) for p in audit.loc[audit["action"] == "find sites", "parameters"]]
    assert [(f["run_id"], f["reused"]) for f in found] == [(run_id, False), (run_id, True)]
    assert f"one machine: run {run_id}, the same run as on the cluster" in shown


@pytest.mark.notebook
def test_ends_with_a_verified_tip_sheet_and_the_cluster_closed(
    ran: tuple[nbformat.NotebookNode, Path, float],
) -> None:
    nb, tmp, _ = ran
    bundles = sorted((tmp / "ps-out" / "bundles").glob("tipsheet-*"))
    assert len(bundles) == 1 and (bundles[0] / "data" / "report.pdf").is_file()
    shown = text(nb)
    assert "signature valid with the key you gave" in shown and "hash chain verified" in shown
    assert shown.rstrip().endswith("cluster closed")
