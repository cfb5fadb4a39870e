"""Synthetic histories with known moves: the generator, and detection against its key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.case._case import open_case
from workbench.coords import haversine_m
from workbench.demo._moves import generate_relocations
from workbench.errors import InputError
from workbench.intake._table import load_table

MATCH_M = 1_000.0  # a detected site is the planted one when its medoid is this close


def record_demo_events(case, events_csv: Path) -> None:
    """The demo's raids on the site at the raided place, its takedowns on their accounts."""
    sites = case.sites()
    for row in pd.read_csv(events_csv, keep_default_na=False).to_dict("records"):
        if row["kind"] == "raid":
            lat, lon = float(row["lat"]), float(row["lon"])
            dist = haversine_m(sites["lat"].to_numpy(), sites["lon"].to_numpy(), lat, lon)
            site = str(sites["site_id"].iloc[int(np.argmin(dist))])
            case.record_event("raid", row["date"], site_id=site, note=row["note"])
        else:
            sellers = row["seller_ids"].split(";")
            case.record_event(row["kind"], row["date"], seller_ids=sellers, note=row["note"])


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("moves")
    demo = generate_relocations(root / "data", seed=7, weekly_shipments=15, n_background_sellers=80)
    with open_case(root / "moves.gpkg", actor="analyst") as case:
        tables = ("sellers", "identifiers", "shipments")
        case.ingest([load_table(getattr(demo, t), t) for t in tables])
        case.find_sites(300)
        record_demo_events(case, demo.events)
        found = case.relocations()  # the Case methods, as a notebook calls them
        assert len(case.events()) == len(pd.read_csv(demo.events))
        sites = pd.DataFrame(case.sites()).set_index("site_id")
        check = case.verify_audit()
    return demo, found, sites, check


def _near(sites: pd.DataFrame, ids, lat, lon) -> np.ndarray:
    where = sites.loc[list(ids)]
    return haversine_m(where["lat"].to_numpy(), where["lon"].to_numpy(), lat, lon) <= MATCH_M


def _matches(found, sites, planted) -> pd.DataFrame:
    """Each detected move with the planted move it finds (or none)."""
    moves = found.relocations
    ring = np.full(len(moves), None, dtype=object)
    for p in planted.to_dict("records"):
        hit = _near(sites, moves["from_site"], p["from_lat"], p["from_lon"]) & _near(
            sites, moves["to_site"], p["to_lat"], p["to_lon"]
        )
        ring[hit] = p["ring"]
    return moves.assign(ring=ring)


def test_detection_has_high_precision_and_recall(detected) -> None:
    demo, found, sites, _ = detected
    planted = pd.read_csv(demo.planted)
    matched = _matches(found, sites, planted)
    precision = matched["ring"].notna().mean()
    recall = planted["ring"].isin(set(matched["ring"].dropna())).mean()
    print(f"relocations: precision {precision:.2f}, recall {recall:.2f}, {len(planted)} planted")
    assert len(planted) == 10
    assert precision >= 0.9 and recall >= 0.9, matched[["from_site", "to_site", "ring"]]


def test_each_move_follows_its_raid_and_names_the_shared_cards(detected) -> None:
    demo, found, sites, _ = detected
    planted = pd.read_csv(demo.planted).set_index("ring")
    matched = _matches(found, sites, planted.reset_index()).dropna(subset=["ring"])
    for row in matched.to_dict("records"):
        truth = planted.loc[row["ring"]]
        assert row["event_kind"] == "raid", row["evidence"]
        assert str(row["event_date"].date()) == truth["raid_date"]
        assert str(row["to_first_week"].date()) == truth["to_first_week"]
        # the new accounts are the planted ones; those sharing a card, all of them
        assert row["n_new_accounts"] == truth["n_new_accounts"]
        assert row["n_sharing"] == truth["n_sharing"]
        assert "bank card" in row["shared_identifiers"]
        assert row["evidence"].startswith(f"{row['network_id']} moved from ")


def test_parallel_sites_pauses_and_others_are_no_move(detected) -> None:
    demo, found, sites, _ = detected
    planted_sites = pd.read_csv(demo.planted_sites)
    still = planted_sites[planted_sites["pattern"] != "move"]
    assert set(still["pattern"]) == {"parallel", "pause", "steady", "closed", "new"}
    moves = found.relocations
    for row in still.to_dict("records"):
        for column in ("from_site", "to_site"):
            near = _near(sites, moves[column], row["lat"], row["lon"])
            assert not near.any(), (row["ring"], row["pattern"], moves[near]["evidence"].tolist())


def test_parallel_rings_are_operations(detected) -> None:
    demo, found, sites, _ = detected
    planted_sites = pd.read_csv(demo.planted_sites)
    parallel = planted_sites[planted_sites["pattern"] == "parallel"]
    for ring, group in parallel.groupby("ring"):
        found_ops = [
            ids
            for ids in found.operations["site_ids"]
            if all(_near(sites, ids, r["lat"], r["lon"]).any() for r in group.to_dict("records"))
        ]
        assert len(found_ops) == 1, ring
        assert len(found_ops[0]) == len(group)


def test_pauses_are_seen_and_are_neither_stops_nor_starts(detected) -> None:
    demo, found, sites, _ = detected
    planted_sites = pd.read_csv(demo.planted_sites)
    spans = found.spans.set_index("site_id")
    all_year = planted_sites[planted_sites["pattern"].isin(["steady", "pause"])]
    for row in all_year.to_dict("records"):
        site = sites.index[_near(sites, sites.index, row["lat"], row["lon"])]
        assert len(site) == 1, row["ring"]
        span = spans.loc[site[0]]
        # every workshop takes two to four weeks off at the Spring Festival; the summer
        # break of the pause rings is three to five weeks
        least = 3 if row["pattern"] == "pause" else 2
        assert span["longest_pause_weeks"] >= least, (row["ring"], span.to_dict())
        assert not span["starts"] and not span["stops"], (row["ring"], span.to_dict())


def test_the_audit_verifies_after_the_events(detected) -> None:
    *_, check = detected
    assert check.ok, str(check)


def test_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    a = generate_relocations(tmp_path / "a", n_moves=2, weekly_shipments=5, n_background_sellers=5)
    b = generate_relocations(tmp_path / "b", n_moves=2, weekly_shipments=5, n_background_sellers=5)
    for name in ("sellers", "identifiers", "shipments", "events", "planted", "planted_sites"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes(), name
    c = generate_relocations(
        tmp_path / "c", seed=8, n_moves=2, weekly_shipments=5, n_background_sellers=5
    )
    assert a.shipments.read_bytes() != c.shipments.read_bytes()
    truth = json.loads(a.truth.read_text(encoding="utf-8"))
    assert truth["n_move"] == 2 and truth["first_week"] == "2026-01-05"
    # run again into the same folder: the earlier files are replaced
    again = generate_relocations(tmp_path / "a", n_moves=3, weekly_shipments=5)
    assert len(pd.read_csv(again.planted)) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_moves": 0}, r"n_moves must be an integer of at least 1; received 0"),
        ({"n_parallel": -1}, r"n_parallel must be an integer of at least 0; received -1"),
        ({"weekly_shipments": 2}, r"weekly_shipments must be an integer of at least 5"),
        ({"seed": "x"}, r"seed must be an integer of at least 0; received 'x'"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kwargs, message) -> None:
    with pytest.raises(InputError, match=message):
        generate_relocations(tmp_path / "d", **kwargs)


def test_a_folder_of_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match=r"expected an empty folder or one holding an earlier"):
        generate_relocations(tmp_path)
    assert (tmp_path / "notes.txt").exists()
