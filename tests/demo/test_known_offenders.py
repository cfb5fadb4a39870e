"""The known-offenders demo: an earlier case and a partner's exchange list sharing planted
identities with the demo. Cross-referenced and imported, they find exactly what was planted
(precision and recall 1.0, computed from ``planted.csv``), and nothing of the decoys."""

from __future__ import annotations

import filecmp
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench
from workbench.demo import KnownOffenders, generate_demo, generate_known_offenders
from workbench.errors import InputError
from workbench.export import read_shared_key
from workbench.export._exchange import _matchable, identifier_hashes
from workbench.export._keys import PUBLIC_KEY
from workbench.networks._identifiers import normalise

SMALL = {"seed": 7, "n_shipments": 6_000, "n_background_sellers": 150}


@dataclass
class World:
    """The generated data, the three cases built from it and what the checks found."""

    known: KnownOffenders
    planted: pd.DataFrame
    decoys: pd.DataFrame
    found: pd.DataFrame  # the cross-reference against the earlier case
    flagged: pd.DataFrame  # the partner list's import
    networks: dict[str, pd.Series]  # case -> seller_id -> network_id
    partner_list: Path
    other_list: Path
    partner_key: Path
    case_path: Path
    reviews: pd.DataFrame  # the earlier case's reviews, as recorded


def _build_case(path: Path, folder: Path, **find: Any) -> pd.Series:
    """Ingest, link and (for cases with waybills) find sites; returns seller -> network."""
    with workbench.open_case(path, actor="demo-analyst") as case:
        exports = workbench.find_exports(folder, required=("sellers",))
        case.ingest_files(exports.files)
        networks = case.link_sellers()
        if "shipments" in exports.files:
            case.find_sites(300.0)
    return networks.membership.set_index("seller_id")["network_id"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("known")
    known = generate_known_offenders(tmp / "demo", **SMALL)
    cases = tmp / "cases"
    earlier = _build_case(cases / f"{known.earlier_case}.case", known.earlier_exports)
    with workbench.open_case(cases / f"{known.earlier_case}.case") as case:
        for row in known.reviews(case.sites()).itertuples():
            case.review(row.site_id, status=row.status, note=row.note, by="workbench-demo")
        reviews = case.reviews()
    keys = workbench.init_keys(tmp / "partner-keys")  # made here, never shipped with the data
    _build_case(tmp / "partner.case", known.partner)
    with workbench.open_case(tmp / "partner.case") as case:
        lists = {}
        for name, key in (("xinghe", known.shared_key), ("xinghe-old", known.other_key)):
            lists[name] = workbench.export_exchange_list(
                case, tmp / f"{name}.json", shared_key=read_shared_key(key), keys_dir=keys,
                issuer=known.partner_name,
            )  # fmt: skip
    case_path = tmp / "current.case"
    current = _build_case(case_path, known.current.folder)
    with workbench.open_case(case_path) as case:
        found = workbench.cross_reference(case, cases)
        flagged = workbench.import_exchange_list(
            case, lists["xinghe"], partner_key=keys / PUBLIC_KEY,
            shared_key=read_shared_key(known.shared_key),
        )  # fmt: skip
    return World(
        known, pd.read_csv(known.planted, dtype=str, keep_default_na=False),
        pd.read_csv(known.decoys, dtype=str, keep_default_na=False), found, flagged,
        {"current": current, "earlier": earlier}, lists["xinghe"], lists["xinghe-old"],
        keys / PUBLIC_KEY, case_path, reviews,
    )  # fmt: skip


def _split(text: str) -> list[str]:
    return [part for part in text.split(";") if part]


def _precision_recall(found: set[tuple[str, ...]], expected: set[tuple[str, ...]]) -> tuple:
    hits = len(found & expected)
    return hits / len(found) if found else 0.0, hits / len(expected) if expected else 0.0


def _expected(planted: pd.DataFrame, where: pd.Series) -> set[tuple[str, ...]]:
    """(match, kind, value_norm, this-case seller) of the planted rows selected by ``where``."""
    rows = planted[where]
    return {
        (r.match, r.kind, r.value_norm, seller)
        for r in rows.itertuples()
        for seller in _split(r.this_sellers)
    }


def _keys(frame: pd.DataFrame) -> set[tuple[str, ...]]:
    return {
        (str(r.match), str(r.kind or ""), str(r.value_norm or ""), str(r.seller_id))
        for r in frame.itertuples()
    }


def test_cross_reference_finds_exactly_the_planted_identities(world: World) -> None:
    planted, found = world.planted, world.found
    expected = _expected(planted, planted["earlier_group"] != "")
    got = _keys(found[found["match"].isin(["identifier", "seller"])])
    precision, recall = _precision_recall(got, expected)
    assert (precision, recall) == (1.0, 1.0), (got - expected, expected - got)
    # five identities and one returning account, on at least one account each
    assert {m for m, *_ in expected} == {"identifier", "seller"} and len(expected) >= 6


def test_each_match_names_the_planted_earlier_network_and_accounts(world: World) -> None:
    earlier = world.networks["earlier"]
    rows = world.found[world.found["match"] == "identifier"]
    for plant in world.planted[world.planted["match"] == "identifier"].itertuples():
        if not plant.earlier_group:
            continue
        theirs = _split(plant.earlier_sellers)
        match = rows[rows["value_norm"] == plant.value_norm]
        assert set(match["other_seller_ids"]) == {";".join(sorted(theirs))}
        assert set(match["n_other_sellers"]) == {len(theirs)}
        networks = {earlier.get(s) for s in theirs}
        assert len(networks) == 1  # the planted accounts of one earlier ring, or of none
        network = networks.pop()
        assert set(match["other_network_id"]) == {None if pd.isna(network) else network}


def test_network_matches_pair_exactly_the_planted_rings(world: World) -> None:
    current, earlier = world.networks["current"], world.networks["earlier"]
    expected = set()
    for plant in world.planted[world.planted["earlier_group"] != ""].itertuples():
        mine = {current.get(s) for s in _split(plant.this_sellers)}
        theirs = {earlier.get(s) for s in _split(plant.earlier_sellers)}
        expected |= {(a, b) for a in mine for b in theirs if pd.notna(a) and pd.notna(b)}
    rows = world.found[world.found["match"] == "network"]
    assert set(zip(rows["network_id"], rows["other_network_id"], strict=True)) == expected
    assert len(expected) == 2  # the Putian ring with its earlier self, Jinjiang likewise


def test_explanations_name_the_earlier_case_network_and_confirmed_site(world: World) -> None:
    card = world.planted[(world.planted["kind"] == "bank_card")]
    card = card[card["earlier_group"] == "putian-ring"].iloc[0]
    row = world.found[world.found["value_norm"] == card["value_norm"]].iloc[0]
    confirmed = world.reviews.loc[world.reviews["status"] == "confirmed", "site_id"].iloc[0]
    assert row["explanation"] == (
        f"this bank card was on 3 accounts of network {row['other_network_id']} in case "
        f"fujian-2025, site {confirmed} confirmed counterfeit"
    )
    # every planned review landed on a site, and each overlaps a site of this case
    assert list(world.reviews["status"]) == ["confirmed", "needs-work", "rejected"]
    sites = world.found[world.found["match"] == "site"]
    assert set(sites["review_status"]) == {"confirmed", "needs-work", "rejected"}


def test_partner_list_flags_exactly_the_planted_confirmed_identities(world: World) -> None:
    planted = world.planted
    expected = _expected(planted, planted["on_partner_list"] == "True")
    got = _keys(world.flagged)
    precision, recall = _precision_recall(got, expected)
    assert (precision, recall) == (1.0, 1.0), (got - expected, expected - got)
    assert len(expected) == 4
    assert set(world.flagged["source_name"]) == {"Xinghe Mall"}
    assert world.flagged["explanation"].str.contains("Xinghe Mall's list").all()


def test_no_decoy_matches(world: World) -> None:
    matched = set(world.found["value_norm"].dropna()) | set(world.flagged["value_norm"])
    decoys = world.decoys
    assert set(decoys["kind"]) == {"phone", "address"} and len(decoys) == 4
    assert not set(decoys["value_norm"]) & matched
    # the hotline really is on hundreds of accounts here: infrastructure, not a link
    hotline = decoys.loc[decoys["why"].str.contains("courier hotline"), "value_norm"].iloc[0]
    with workbench.open_case(world.case_path, create=False) as case:
        mine = _matchable(case)
        ids = case.table("identifiers")
    assert (normalise(ids["kind"], ids["value"]) == hotline).sum() >= 300
    assert hotline not in set(mine["value_norm"])


def test_identities_planted_in_other_spellings_still_match(world: World) -> None:
    # every planted identity is written differently on each side: equal only once normalised
    rows = world.planted[world.planted["match"] == "identifier"]
    for plant in rows.itertuples():
        here = set(_split(plant.spelling_here))
        assert plant.spelling_earlier not in here and plant.spelling_partner not in here
        if plant.spelling_earlier and plant.spelling_partner:
            assert plant.spelling_earlier != plant.spelling_partner


def test_a_list_hashed_with_another_key_matches_nothing(world: World) -> None:
    key, other = read_shared_key(world.known.shared_key), read_shared_key(world.known.other_key)
    with workbench.open_case(world.case_path, create=False) as case:
        with pytest.raises(InputError, match="hashed with another shared key"):
            workbench.import_exchange_list(
                case, world.other_list, partner_key=world.partner_key, shared_key=key
            )
        mine = _matchable(case)
        kept = workbench.cross_references(case, source="partner")
    assert len(kept) == len(world.flagged)  # the refused list changed nothing
    listed = json.loads(world.other_list.read_text(encoding="utf-8"))["entries"]["hash"]
    ours = identifier_hashes(mine["kind"], mine["value_norm"], key)
    ours_hex = {row.tobytes().hex() for row in ours}
    assert not ours_hex & set(listed)
    # the same identities are in it: hashed with its own key they would have matched
    theirs = identifier_hashes(mine["kind"], mine["value_norm"], other)
    assert len({row.tobytes().hex() for row in theirs} & set(listed)) == 4


def test_same_seed_same_files_and_the_current_demo_unchanged(tmp_path: Path) -> None:
    args = {"seed": 3, "n_shipments": 2_000, "n_background_sellers": 40}
    one = generate_known_offenders(tmp_path / "one", **args)
    two = generate_known_offenders(tmp_path / "two", **args)
    plain = generate_demo(tmp_path / "plain", **args)
    assert _tree(one.folder) == _tree(two.folder)
    names = sorted(p.name for p in plain.folder.iterdir())
    assert names == sorted(p.name for p in one.current.folder.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(
        plain.folder, one.current.folder, names, shallow=False
    )
    assert (mismatch, errors) == ([], []) and match == names
    again = generate_known_offenders(one.folder, **args)  # an earlier run is replaced
    assert _tree(again.folder) == _tree(two.folder)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed must be an integer"),
        ({"n_shipments": 10}, "n_shipments must be an integer of at least 1,000"),
        ({"earlier_shipments": 5}, "earlier_shipments must be an integer of at least 1,000"),
        ({"earlier_background_sellers": 2}, "earlier_background_sellers must be an integer"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate_known_offenders(tmp_path / "out", **kwargs)


def test_a_folder_of_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="holds other files"):
        generate_known_offenders(tmp_path)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
