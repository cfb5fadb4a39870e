"""End to end on the demo investigation, through the case, scored against the generator's
ground truth: ingest, link, sites, map, then the signed bundle of the top sites."""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import workbench
from workbench.coords import haversine_m
from workbench.errors import InputError
from workbench.export._keys import PUBLIC_KEY
from workbench.investigation import OUTPUT_FILES
from workbench.networks._link import normalise

CDN_OR_TILES = re.compile(
    r"https?://[^\"'\s)]*(cdn|unpkg|jsdelivr|cdnjs|bootstrapcdn|jquery|tile|openstreetmap|"
    r"googleapis|arcgisonline|cartocdn)",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("demo")
    demo = workbench.generate_demo(
        root / "data", seed=7, n_shipments=40_000, n_background_sellers=600, hostile_names=True
    )
    truth = json.loads(demo.truth.read_text(encoding="utf-8"))
    result = workbench.run_investigation(demo.folder, root / "out")
    keys = workbench.init_keys(root / "keys")
    with workbench.open_case(result.case, create=False) as case:
        case.set_setting("organisation", "Acme Brand Protection")
        case.set_setting("contact", "ip-team@acme.example")
        top = [str(s) for s in result.sites["site_id"].head(2)]
        case.review(top[0], status="confirmed", note="test buy 14 matched", by="lead-7")
        bundle = workbench.export_tip_sheet(
            case, top, out=root / "bundles", keys_dir=keys, allow_unconfirmed="second opinion"
        )
    check = workbench.verify_bundle(bundle, key=keys / PUBLIC_KEY)
    return SimpleNamespace(truth=truth, result=result, bundle=bundle, check=check, demo=demo)


def test_top_site_is_a_planted_workshop(demo_run) -> None:
    top = demo_run.result.sites.iloc[0]
    nearest = min(
        haversine_m(top["lat"], top["lon"], s["lat"], s["lon"]) for s in demo_run.truth["sites"]
    )
    assert nearest <= 300
    assert top["label"] == "workshop"


def test_every_planted_workshop_is_found_and_ranked_above_the_hub(demo_run) -> None:
    truth, sites = demo_run.truth, demo_run.result.sites
    found_ranks = []
    for planted in truth["sites"]:
        dist = haversine_m(
            sites["lat"].to_numpy(), sites["lon"].to_numpy(), planted["lat"], planted["lon"]
        )
        assert dist.min() <= 300, f"planted site {planted['name']} not found"
        found_ranks.append(int(sites.iloc[dist.argmin()]["rank"]))
    for hub in truth["hubs"]:
        dist = haversine_m(sites["lat"].to_numpy(), sites["lon"].to_numpy(), hub["lat"], hub["lon"])
        hub_site = sites.iloc[dist.argmin()]
        assert dist.min() <= 500 and hub_site["label"] == "hub"
        assert hub_site["rank"] > max(found_ranks)


def test_planted_networks_are_recovered(demo_run) -> None:
    truth, networks = demo_run.truth, demo_run.result.networks
    planted = {s: n for s, n in truth["networks"].items() if n}
    found = networks.membership.set_index("seller_id")["network_id"]

    def pairs(assign: dict[str, str]) -> set[tuple[str, str]]:
        groups = pd.Series(assign).groupby(pd.Series(assign)).groups
        return {p for members in groups.values() for p in combinations(sorted(members), 2)}

    truth_pairs = pairs(planted)
    found_pairs = pairs(found.dropna().astype(str).to_dict())
    ring_sellers = set(planted)
    found_ring_pairs = {p for p in found_pairs if p[0] in ring_sellers or p[1] in ring_sellers}
    recall = len(truth_pairs & found_pairs) / len(truth_pairs)
    precision = len(truth_pairs & found_ring_pairs) / max(len(found_ring_pairs), 1)
    assert recall >= 0.98 and precision >= 0.98
    # the hub's hotline, in every way it was written, is infrastructure, not a link
    hotline = normalise(
        pd.Series(["phone"] * len(truth["infrastructure"])), pd.Series(truth["infrastructure"])
    )
    assert set(hotline) <= set(networks.infrastructure["value_norm"])


def test_the_case_holds_what_the_run_reports(demo_run) -> None:
    result = demo_run.result
    with workbench.open_case(result.case, create=False) as case:
        assert case.latest_run() == result.run_id
        assert list(case.sites(result.run_id)["site_id"]) == list(result.sites["site_id"])
        assert len(case.table("shipments")) == sum(
            r["rows_stored"] for r in result.intake if r["table"] == "shipments"
        )
        actions = list(case.audit()["action"])
        assert case.verify_audit().ok
    # ingest (told not to link: the run links next, with the summary), link, find sites
    # (with the networks just linked: no second linking), ...
    assert actions[:4] == ["create case", "ingest", "link sellers", "find sites"]
    assert actions[-1] == "export tip sheet"


def test_outputs_exist_and_load_nothing_from_the_network(demo_run) -> None:
    result, bundle = demo_run.result, demo_run.bundle
    assert set(result.outputs) == set(OUTPUT_FILES)
    for name, path in result.outputs.items():
        assert path.parent == result.out_dir
        assert Path(path).stat().st_size > (30 if name == "quarantine" else 500), path
    for path in (result.outputs["map"], bundle / "data" / "report.html"):
        html = Path(path).read_text(encoding="utf-8")
        assert not CDN_OR_TILES.search(html), path
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", html), path
    geo = json.loads(result.outputs["sites"].read_text(encoding="utf-8"))
    assert geo["features"][0]["properties"]["site_id"] == "S001"
    assert json.loads(result.outputs["intake report"].read_text("utf-8")) == json.loads(
        json.dumps(result.intake, default=str)
    )


def test_the_bundle_of_the_top_sites_verifies_and_names_the_review(demo_run) -> None:
    check, bundle = demo_run.check, demo_run.bundle
    assert check.ok and not check.key_from_bundle, str(check)
    meta = json.loads((bundle / "data" / "bundle.json").read_text(encoding="utf-8"))
    assert meta["site_ids"] == ["S001", "S002"] and meta["run_id"] == demo_run.result.run_id
    assert meta["override"]["reason"] == "second opinion"  # S002 was not confirmed
    html = (bundle / "data" / "report.html").read_text(encoding="utf-8")
    assert "test buy 14 matched" in html and "lead-7" in html


def test_tip_sheet_shows_hostile_names_as_text(demo_run) -> None:
    html = (demo_run.bundle / "data" / "report.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html
    assert "${alert(1)}" in html  # harmless in HTML text; no template string is built
    assert "Putian" in html and "GeoNames" in html


def test_describe_names_the_case_every_output_and_the_next_steps(demo_run) -> None:
    result = demo_run.result
    text = result.describe()
    for path in [result.case, *result.outputs.values()]:
        assert str(path) in text
    assert "not loaded (the name names no table): truth.json" in text
    steps = result.next_steps()
    assert f"workbench review {result.case} S001 --status confirmed" in steps
    assert f"workbench tipsheet {result.case} --site S001" in steps
    assert "--organisation" not in steps  # the case names who reports already


def test_running_again_on_the_same_case_adds_nothing_twice(demo_run, tmp_path: Path) -> None:
    first = demo_run.result
    again = workbench.run_investigation(demo_run.demo.folder, tmp_path, case=first.case)
    assert again.run_id == first.run_id  # the identical run is reused
    assert all(r["new"] == 0 for r in again.intake)
    with workbench.open_case(first.case, create=False) as case:
        assert len(case.runs()) == 1 and case.verify_audit().ok


def test_only_sellers_and_shipments_are_enough(tmp_path: Path) -> None:
    (tmp_path / "sellers.csv").write_text("seller_id\nS1\n", encoding="utf-8")
    (tmp_path / "shipments.csv").write_text(
        "shipment_id,seller_id,lat,lon\nW1,S1,25.44,119.01\n", encoding="utf-8"
    )
    result = workbench.run_investigation(tmp_path, tmp_path / "out")
    assert set(result.exports.files) == {"sellers", "shipments"}
    assert result.sites.empty  # one waybill is no production site
    assert "Candidate sites: 0" in result.describe()
    assert "try a larger one" in result.next_steps().lower()
    assert result.outputs["map"].is_file()


# -- which file is which table -------------------------------------------------------------
def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("x\n", encoding="utf-8")


def test_find_exports_reads_the_table_from_a_word_of_the_name(tmp_path: Path) -> None:
    _touch(
        tmp_path, "sellers.csv", "partner_shipments.csv", "2026-03 Evidence.xlsx",
        "notes.txt", "mapping.yaml", ".hidden_identifiers.csv", "~$sellers.xlsx",
    )  # fmt: skip
    (tmp_path / "locations").mkdir()  # a folder is not a file
    exports = workbench.find_exports(tmp_path)
    assert {t: p.name for t, p in exports.files.items()} == {
        "sellers": "sellers.csv",
        "shipments": "partner_shipments.csv",
        "evidence": "2026-03 Evidence.xlsx",
    }
    # readable files that name no table are listed, not dropped in silence; other kinds
    # (the mapping file), hidden files and office lock files are not exports
    assert [p.name for p in exports.other] == ["notes.txt"]
    assert "shipments: partner_shipments.csv" in repr(exports)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ((), r"no sellers and no shipments file; expected a file named like sellers\.csv"),
        (("sellers.csv",), r"no shipments file; expected .* partner_shipments\.csv"),
        (
            ("sellers.csv", "shipments.csv", "sellers_2026-04.csv"),
            r"2 files for the sellers table \(sellers\.csv, sellers_2026-04\.csv\)",
        ),
        (("sellers_shipments.csv",), r"mentions the tables sellers and shipments"),
    ],
)
def test_find_exports_refuses_to_guess(tmp_path: Path, names: tuple[str, ...], message: str):
    _touch(tmp_path, *names)
    with pytest.raises(InputError, match=message):
        workbench.find_exports(tmp_path)


def test_several_waybill_files_are_taken_in_name_order(tmp_path: Path) -> None:
    _touch(tmp_path, "sellers.csv", "shipments-2026-02.csv", "shipments-2026-01.csv")
    exports = workbench.find_exports(tmp_path)
    assert exports.files["shipments"] == [
        tmp_path / "shipments-2026-01.csv",
        tmp_path / "shipments-2026-02.csv",
    ]
    assert exports.files["sellers"] == tmp_path / "sellers.csv"
    assert "shipments: shipments-2026-01.csv, shipments-2026-02.csv" in repr(exports)


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        workbench.run_investigation(tmp_path / "nope", tmp_path / "out")
