"""The known-offenders template: offered in the launcher after the investigation template,
and run top to bottom with nbclient on the demo, where it finds exactly what the demo
planted, refuses the list hashed with another key and ends with a signed list of its own."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from template_runs import TEMPLATES, parameters, run_template, text

import workbench
from workbench.export import read_exchange_list
from workbench.export._keys import PUBLIC_KEY
from workbench.lab.templates import list_templates

TEMPLATE = TEMPLATES / "known-offenders.ipynb"
PARAMETERS = (
    "case_file", "earlier_dir", "partner_list", "partner_key", "shared_key_file", "keys_dir",
    "organisation", "out_dir", "radius_m", "demo_seed", "demo_shipments",
)  # fmt: skip
BUDGET_S = 60  # the demo path, kernel start included, on two shared cores


def test_the_launcher_offers_it_after_the_investigation_template() -> None:
    listed = {t.name: t for t in list_templates()}
    info = listed["known-offenders"]
    assert info.title == "Check a new case against known offenders"
    assert info.filename == "known-offenders.ipynb" and "exchange list" in info.description
    names = [t.name for t in list_templates()]
    assert names.index("investigation") < names.index("known-offenders")


def test_parameters_are_plain_assignments_of_literals() -> None:
    names, values = parameters(TEMPLATE)
    assert names == list(PARAMETERS)
    assert values["case_file"] is None and values["earlier_dir"] is None


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path, float]:
    tmp = tmp_path_factory.mktemp("known-offenders-nb")
    nb, seconds = run_template(TEMPLATE, tmp, out_dir="ko-out", demo_shipments=6_000)
    return nb, tmp / "ko-out", seconds


@pytest.mark.notebook
def test_runs_on_the_demo_within_budget(ran: tuple[nbformat.NotebookNode, Path, float]) -> None:
    _, _, seconds = ran
    assert seconds < BUDGET_S


@pytest.mark.notebook
def test_finds_what_the_demo_planted(ran: tuple[nbformat.NotebookNode, Path, float]) -> None:
    nb, out, _ = ran
    planted = pd.read_csv(out / "demo-data" / "planted.csv", dtype=str, keep_default_na=False)
    with workbench.open_case(out / "new-case.case", create=False) as case:
        earlier = workbench.cross_references(case, source="case")
        partner = workbench.cross_references(case, source="partner")

    def sellers(rows: pd.DataFrame) -> set[str]:
        return {s for text in rows["this_sellers"] for s in text.split(";")}

    accounts = earlier[earlier["match"].isin(["identifier", "seller"])]
    assert set(accounts["seller_id"]) == sellers(planted[planted["earlier_group"] != ""])
    assert set(partner["seller_id"]) == sellers(planted[planted["on_partner_list"] == "True"])
    shown = text(nb)
    card = planted[(planted["kind"] == "bank_card") & (planted["earlier_group"] != "")].iloc[0]
    row = earlier[earlier["value_norm"] == card["value_norm"]].iloc[0]
    assert row["explanation"] in shown  # printed by the "by account" cell
    assert row["explanation"].endswith("confirmed counterfeit")
    assert "is on Xinghe Mall's list of confirmed counterfeiters" in shown
    assert "Refused: exchange list" in shown and "hashed with another shared key" in shown
    assert "hash chain verified" in shown


@pytest.mark.notebook
def test_ends_with_a_signed_list_of_its_own(ran: tuple[nbformat.NotebookNode, Path, float]) -> None:
    nb, out, _ = ran
    listed = read_exchange_list(out / "exchange-list.json", partner_key=out / "keys" / PUBLIC_KEY)
    assert len(listed.entries) > 0 and set(listed.entries["verdict"]) == {"counterfeit-test-buy"}
    document = json.loads((out / "exchange-list.json").read_text(encoding="utf-8"))
    partner = json.loads((out / "partner" / "xinghe-mall-list.json").read_text(encoding="utf-8"))
    assert document["key_id"] == partner["key_id"]  # the same exchange
    with workbench.open_case(out / "new-case.case", create=False) as case:
        actions = list(case.audit()["action"])
    assert actions[-3:] == ["cross-reference", "import exchange list", "export exchange list"]
    assert f"{len(listed.entries)} hashed identifiers" in text(nb)
