"""The template notebooks are stored clean and run top to bottom with nbclient.

The investigation template runs twice: on the generated demo, and on a second export laid out
differently (a logistics partner's waybills: Chinese headers, GB18030, GCJ-02 / BD-09 points)
read with its mapping file. Both runs end in a signed bundle that verifies.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from template_runs import TEMPLATES, parameters, run_template, text

import workbench
from workbench.coords import haversine_m
from workbench.export._keys import PUBLIC_KEY

NOTEBOOKS = sorted(TEMPLATES.glob("*.ipynb"))
INVESTIGATION = TEMPLATES / "investigation.ipynb"
PARAMETERS = (
    "data_dir", "mapping_file", "case_file", "out_dir", "radius_m", "top_sites", "keys_dir",
    "organisation", "contact", "demo_seed", "demo_shipments", "demo_review",
)  # fmt: skip


def test_there_is_a_template() -> None:
    assert NOTEBOOKS, f"no template notebook in {TEMPLATES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_template_is_stored_clean_with_tagged_parameters(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert nb.metadata["workbench"]["title"]


def test_investigation_parameters_are_plain_assignments() -> None:
    # papermill overrides them by name, so each is one assignment of a literal
    names, _ = parameters(INVESTIGATION)
    assert names == list(PARAMETERS)


def _execute(tmp_path: Path, **params: object) -> nbformat.NotebookNode:
    return run_template(INVESTIGATION, tmp_path, **params)[0]


def _the_bundle(out_dir: Path) -> Path:
    bundles = sorted((out_dir / "bundles").glob("tipsheet-*"))
    assert len(bundles) == 1, bundles
    bundle = bundles[0]
    for name in ("report.html", "report.pdf", "sites.geojson", "shipments.csv", "audit.jsonl"):
        assert (bundle / "data" / name).stat().st_size > 0, name
    return bundle


@pytest.mark.notebook
def test_investigation_template_runs_on_the_demo_to_a_verified_bundle(tmp_path: Path) -> None:
    nb = _execute(tmp_path, out_dir="case-out", demo_shipments=20_000, radius_m=250.0)
    views = [
        o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert views, "the explorer cell shows no widget"
    # nbclient saves the widget state, so the reopened notebook shows the last map
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    frames = [m for m in state.values() if m["model_name"] == "MapFrameModel"]
    assert len(frames) == 1 and "window.workbenchMap" in frames[0]["state"]["html"]
    assert "S001" in frames[0]["state"]["html"]
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the network view shows no picture"

    out = tmp_path / "case-out"
    bundle = _the_bundle(out)
    check = workbench.verify_bundle(bundle, key=out / "keys" / PUBLIC_KEY)  # the demo's keys
    assert check.ok and not check.key_from_bundle, str(check)
    shown = text(nb)
    assert f"{check.info['External-Identifier']}: intact" in shown  # the notebook's own check
    assert "hash chain verified" in shown
    report = (bundle / "data" / "report.html").read_text(encoding="utf-8")
    assert "250.0" in report  # the injected radius was used
    assert "DEMO REVIEW" in report  # the review is labelled as the demo's
    with workbench.open_case(tmp_path / "investigation.case", create=False) as case:
        reviews = case.reviews()
        actions = list(case.audit()["action"])
    assert list(reviews["by"]) == ["workbench-demo"]
    assert list(reviews["status"]) == ["confirmed"]
    assert actions[-1] == "export tip sheet" and "ingest" in actions and "review" in actions


@pytest.fixture
def partner_export(tmp_path: Path) -> tuple[Path, Path, workbench.DemoData]:
    """The demo's accounts, identifiers and evidence with a partner's waybills instead of the
    platform's: another folder layout, another file name, read through a mapping file."""
    demo = workbench.generate_demo(tmp_path / "demo", n_shipments=20_000, partner=True)
    folder = tmp_path / "exports"
    folder.mkdir()
    for path in (demo.sellers, demo.identifiers, demo.evidence):
        shutil.copy(path, folder)
    shutil.copy(demo.folder / "partner" / "partner_shipments.csv", folder)
    mapping = shutil.copy(demo.folder / "partner" / "mapping.yaml", folder)
    return folder, Path(mapping), demo


@pytest.mark.notebook
def test_investigation_template_runs_on_a_partner_export_with_its_mapping(
    tmp_path: Path, partner_export: tuple[Path, Path, workbench.DemoData]
) -> None:
    folder, mapping, demo = partner_export
    truth = json.loads(demo.truth.read_text(encoding="utf-8"))
    keys = workbench.init_keys(tmp_path / "org-keys")
    nb = _execute(
        tmp_path,
        data_dir=str(folder),
        mapping_file=str(mapping),
        out_dir="partner-out",
        keys_dir=str(keys),
        organisation="Acme Brand Protection",
        contact="ip-team@acme.example",
        demo_review=True,  # demo data: the review is labelled as the demo's
    )
    with workbench.open_case(tmp_path / "investigation.case", create=False) as case:
        log = case.audit()
        sites = case.sites()
        stored = case.table("shipments")
        assert case.quarantine().empty
    ingest = json.loads(log[log["action"] == "ingest"].iloc[0]["inputs"])
    partner = next(i for i in ingest if i["table"] == "shipments")
    assert Path(partner["source"]).name == "partner_shipments.csv"
    assert partner["encoding"] == "gb18030" and partner["rows_stored"] == truth["partner"]["rows"]
    assert set(stored["coord_system"]) == {"gcj02", "bd09"}  # empty cells: the file default
    # each partner waybill is one of the platform's (P... for W...): moved back to WGS-84, it
    # lies where the platform put it (GCJ-02 read as WGS-84 would be some 300-600 m off)
    platform = pd.read_csv(demo.shipments, dtype={"shipment_id": str})
    platform["shipment_id"] = "P" + platform["shipment_id"].str.slice(1)
    both = stored.merge(platform, on="shipment_id", suffixes=("", "_platform"))
    assert len(both) == len(stored)
    apart_m = haversine_m(both["lat"], both["lon"], both["lat_platform"], both["lon_platform"])
    assert apart_m.max() < 5
    # and the top site lies on a planted workshop
    top = sites.iloc[0]
    off_m = min(haversine_m(top["lat"], top["lon"], s["lat"], s["lon"]) for s in truth["sites"])
    assert off_m < 150

    bundle = _the_bundle(tmp_path / "partner-out")
    check = workbench.verify_bundle(bundle, key=keys / PUBLIC_KEY)
    assert check.ok and not check.key_from_bundle, str(check)
    assert f"{check.info['External-Identifier']}: intact" in text(nb)
    report = (bundle / "data" / "report.html").read_text(encoding="utf-8")
    assert "Acme Brand Protection" in report and "partner_shipments.csv" in report
