"""Relocations over time: stops, starts, moves, parallel sites, pauses, events, identifiers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.errors import InputError, MissingColumnsError
from workbench.sites._relocation import RELOCATION_COLUMNS, find_relocations

FIRST = pd.Timestamp("2026-01-05")  # a Monday; the toy data run 40 weeks from here


def _weeks(site: str, weeks, n: int = 40) -> list[tuple[str, pd.Timestamp, int]]:
    return [(site, FIRST + pd.Timedelta(weeks=int(w)), n) for w in weeks]


@pytest.fixture
def toy() -> dict[str, pd.DataFrame]:
    """Eleven sites over 40 weeks, each built to show one rule.

    - S1 (Licheng, Putian), ring N1 (A1-A3): weeks 0-17 and a stray waybill in week 30;
      a raid recorded on S1 in week 16; S2 (Hanjiang, Putian, 10.5 km away) starts in week
      19 with new accounts A4-A6 of N1, two of which hold A1's bank card: a move, gap 1;
    - S3 and S4, ring N2: both all year, one operation with two sites, no move;
    - S5, ring N3: weeks 0-5 and 10-39 (a Chinese New Year pause of four weeks): no move;
    - S6 -> S7, ring N4: S7 starts 14 weeks after S6 stops: too late to be a move;
    - S8, a hub of 40 accounts, one of them N1's (A9): not one of N1's sites;
    - S9 (ring N5) stops in week 20, S10 (ring N6) starts in week 21: other networks;
    - S11, ring N1: two active weeks (30, 31), too few to be a start.
    """
    rows = [
        *_weeks("S1", range(18)), ("S1", FIRST + pd.Timedelta(weeks=30), 1),
        *_weeks("S2", range(19, 40)), *_weeks("S3", range(40)), *_weeks("S4", range(40)),
        *_weeks("S5", [*range(6), *range(10, 40)]), *_weeks("S6", range(12)),
        *_weeks("S7", range(26, 40)), *_weeks("S8", range(40), 300),
        *_weeks("S9", range(21)), *_weeks("S10", range(21, 40)), *_weeks("S11", [30, 31]),
    ]  # fmt: skip
    activity = pd.DataFrame(rows, columns=["site_id", "week", "n_shipments"])
    hub = [f"H{i:02d}" for i in range(39)] + ["A9"]
    sellers = {
        "S1": ["A1", "A2", "A3"], "S2": ["A4", "A5", "A6"], "S3": ["B1", "B2"], "S4": ["B3"],
        "S5": ["C1"], "S6": ["D1"], "S7": ["D2"], "S8": hub, "S9": ["E1"], "S10": ["F1"],
        "S11": ["A7"],
    }  # fmt: skip
    where = {
        "S1": (25.3900, 119.0400, "Licheng District", "Xindu", "Putian"),
        "S2": (25.4600, 119.1100, "Hanjiang District", "Hanjiang", "Putian"),
    }
    sites = pd.DataFrame(
        {
            "site_id": list(sellers),
            "lat": [where.get(s, (24.0 + i / 10,))[0] for i, s in enumerate(sellers)],
            "lon": [where.get(s, (0, 118.0 + i / 10))[1] for i, s in enumerate(sellers)],
            "sellers": list(sellers.values()),
            "district": [where.get(s, ("",) * 3)[2] for s in sellers],
            "place": [where.get(s, ("",) * 4)[3] if s in where else f"Town{s}" for s in sellers],
            "prefecture": [where[s][4] if s in where else "Quanzhou" for s in sellers],
            "radius_m": 300.0,
        }
    )
    networks = pd.DataFrame(
        [(s, "N1") for s in ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A9"]]
        + [("B1", "N2"), ("B2", "N2"), ("B3", "N2"), ("C1", "N3"), ("D1", "N4"), ("D2", "N4")]
        + [("E1", "N5"), ("F1", "N6")],
        columns=["seller_id", "network_id"],
    )
    links = pd.DataFrame(
        [
            ("A1", "bank_card", "6222021234567890", "6222 0212 3456 7890"),
            ("A4", "bank_card", "6222021234567890", "6222-0212-3456-7890"),
            ("A5", "bank_card", "6222021234567890", "6222021234567890"),
            ("A2", "phone", "+8613800138000", "138 0013 8000"),
            ("A3", "phone", "+8613800138000", "13800138000"),
        ],
        columns=["seller_id", "kind", "value_norm", "value"],
    )
    raid_day = FIRST + pd.Timedelta(weeks=16, days=2)  # 2026-04-29, a Wednesday
    events = pd.DataFrame(
        {
            "event_id": ["EV0001"], "kind": ["raid"], "date": [raid_day.strftime("%Y-%m-%d")],
            "run_id": ["R1"], "site_id": ["S1"], "lat": [25.39], "lon": [119.04],
            "network_id": [None], "seller_ids": [[]],
        }
    )  # fmt: skip
    return {"activity": activity, "sites": sites, "networks": networks, "links": links,
            "events": events}  # fmt: skip


def _find(toy, **kwargs):
    args = {k: toy[k] for k in ("networks", "links", "events")}
    return find_relocations(toy["activity"], toy["sites"], run_id="R1", **{**args, **kwargs})


def test_a_ring_that_moves_after_a_raid_is_found_with_its_evidence(toy) -> None:
    found = _find(toy)
    moves = found.relocations
    assert list(moves.columns) == list(RELOCATION_COLUMNS)
    assert moves[["network_id", "from_site", "to_site"]].values.tolist() == [["N1", "S1", "S2"]]
    move = moves.iloc[0]
    assert move["from_place"] == "Licheng, Putian" and move["to_place"] == "Hanjiang, Putian"
    assert move["distance_km"] == pytest.approx(10.5, abs=0.1)
    # S1's last active week is 17 (the stray waybill of week 30 is noise), S2's first is 19
    assert move["gap_weeks"] == 1
    assert move["around"] == FIRST + pd.Timedelta(weeks=19)  # 2026-05-18
    # the raid of 2026-04-29 came 19 days before: "three weeks after"
    assert (move["event_id"], move["event_kind"], move["weeks_after_event"]) == (
        "EV0001",
        "raid",
        3,
    )
    # A4-A6 are new at S2; A4 and A5 hold A1's bank card
    assert (move["n_new_accounts"], move["n_sharing"]) == (3, 2)
    assert move["shared_identifiers"] == "bank card 6222-0212-3456-7890 held by 2 new accounts"
    assert move["evidence"] == (
        "N1 moved from Licheng, Putian (S1) to Hanjiang, Putian (S2), 10.5 km, around "
        "2026-05-18, three weeks after the raid recorded on S1 (EV0001, 2026-04-29); S1 has "
        "had no active week since the week of 2026-05-04; 2 of its 3 new accounts share "
        "identifiers with the accounts left at S1 (bank card 6222-0212-3456-7890 held by 2 "
        "new accounts)."
    )


def test_parallel_sites_are_one_operation_not_a_move(toy) -> None:
    found = _find(toy)
    ops = found.operations
    assert ops[["network_id", "site_ids", "n_sites"]].values.tolist() == [["N2", ["S3", "S4"], 2]]
    assert ops.iloc[0]["evidence"].startswith("N2 ships from 2 sites side by side (S3 Town")
    assert not found.relocations["from_site"].isin(["S3", "S4"]).any()


def test_a_pause_at_the_same_site_is_not_a_move(toy) -> None:
    spans = _find(toy).spans.set_index("site_id")
    # the pause of weeks 6-9 is four weeks; S5 neither stops nor starts
    assert spans.loc["S5", "longest_pause_weeks"] == 4
    assert not spans.loc["S5", "starts"] and not spans.loc["S5", "stops"]


def test_stops_and_starts_are_robust_to_noise(toy) -> None:
    spans = _find(toy).spans.set_index("site_id")
    assert spans.loc["S1", "last_week"] == FIRST + pd.Timedelta(weeks=17)  # not week 30
    assert spans.loc["S1", "stops"] and not spans.loc["S1", "starts"]
    assert not spans.loc["S11", "starts"]  # two active weeks: not enough
    assert spans.loc["S8", "n_shipments"] == 40 * 300


def test_a_start_too_long_after_the_stop_is_not_a_move_unless_the_window_allows(toy) -> None:
    assert "S6" not in _find(toy).relocations["from_site"].tolist()
    wide = _find(toy, max_gap_weeks=14).relocations
    assert wide[wide["from_site"] == "S6"]["to_site"].tolist() == ["S7"]
    assert wide[wide["from_site"] == "S6"]["gap_weeks"].tolist() == [14]


def test_another_network_is_no_move_unless_an_identifier_ties_them(toy) -> None:
    assert "S9" not in _find(toy).relocations["from_site"].tolist()
    shared = pd.DataFrame(
        [("E1", "device", "IMEI-1", "IMEI-1"), ("F1", "device", "IMEI-1", "IMEI 1")],
        columns=["seller_id", "kind", "value_norm", "value"],
    )
    links = pd.concat([toy["links"], shared], ignore_index=True)
    moves = _find(toy, links=links).relocations.set_index("from_site")
    assert moves.loc["S9", "to_site"] == "S10" and moves.loc["S9", "network_id"] == "N5"
    assert moves.loc["S9", "n_sharing"] == 0  # F1 is not N5's: no new account of N5


def test_a_hub_where_one_account_of_the_ring_ships_is_not_its_site(toy) -> None:
    ops = _find(toy).operations
    assert not any("S8" in ids for ids in ops["site_ids"])
    # counted as N1's when any share will do: then S8 runs beside S1 and S2
    wide = _find(toy, min_seller_share=0.0).operations
    assert ["S1", "S2", "S8"] in wide["site_ids"].tolist()


def test_an_event_of_an_earlier_run_is_placed_by_where_it_was(toy) -> None:
    events = toy["events"].assign(run_id="R0", site_id="S7")  # R0's S7 was at S1's place
    move = _find(toy, events=events).relocations.iloc[0]
    assert move["event_id"] == "EV0001" and "recorded on S1" in move["evidence"]
    far = events.assign(lat=30.0)
    assert _find(toy, events=far).relocations.iloc[0]["event_id"] is None


def test_a_takedown_of_accounts_is_an_event_of_their_site(toy) -> None:
    events = pd.DataFrame(
        {
            "event_id": ["EV0002"], "kind": ["takedown"], "date": ["2026-05-06"],
            "site_id": [None], "network_id": [None], "seller_ids": [["A1", "A2"]],
        }
    )  # fmt: skip
    move = _find(toy, events=events).relocations.iloc[0]
    assert move["event_id"] == "EV0002" and move["weeks_after_event"] == 2
    assert "two weeks after the takedown recorded on 2 of its accounts" in move["evidence"]
    # A1, taken down, holds the bank card of A4 and A5
    assert "2 of its 3 new accounts share identifiers with accounts taken down" in move["evidence"]


def test_an_event_long_before_the_stop_is_not_what_the_move_follows(toy) -> None:
    events = toy["events"].assign(date="2026-01-07")
    assert _find(toy, events=events).relocations.iloc[0]["event_id"] is None


def test_without_networks_the_sites_lists_are_used(toy) -> None:
    sites = toy["sites"].assign(
        networks=[["N1"], ["N1"], ["N2"], ["N2"], ["N3"], ["N4"], ["N4"], [], ["N5"], ["N6"],
                  ["N1"]]
    )  # fmt: skip
    found = find_relocations(toy["activity"], sites)
    assert found.relocations[["from_site", "to_site"]].values.tolist() == [["S1", "S2"]]
    assert found.relocations.iloc[0]["event_id"] is None


def test_the_result_does_not_depend_on_row_order_nor_change_the_input(toy) -> None:
    before = toy["activity"].copy()
    first = _find(toy)
    shuffled = toy["activity"].sample(frac=1.0, random_state=3)
    again = find_relocations(
        shuffled, toy["sites"].iloc[::-1], networks=toy["networks"], links=toy["links"],
        events=toy["events"], run_id="R1",
    )  # fmt: skip
    pd.testing.assert_frame_equal(first.relocations, again.relocations)
    pd.testing.assert_frame_equal(toy["activity"], before)


def test_sites_without_names_are_named_by_the_gazetteer(toy) -> None:
    sites = toy["sites"].drop(columns=["district", "place", "prefecture"])
    move = find_relocations(toy["activity"], sites, networks=toy["networks"]).relocations.iloc[0]
    assert move["from_place"].endswith("Putian") and move["to_place"] == "Hanjiang, Putian"


def test_no_activity_gives_empty_frames() -> None:
    activity = pd.DataFrame({"site_id": [], "week": [], "n_shipments": []})
    sites = pd.DataFrame({"site_id": [], "lat": [], "lon": [], "sellers": []})
    found = find_relocations(activity, sites)
    assert found.relocations.empty and list(found.relocations.columns) == list(RELOCATION_COLUMNS)
    assert found.operations.empty and found.spans.empty


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda t: {"activity": t["activity"].drop(columns="week")}, MissingColumnsError,
         r"activity: required field\(s\) week not found"),
        (lambda t: {"sites": t["sites"].drop(columns="sellers")}, MissingColumnsError,
         r"sites: required field\(s\) sellers not found"),
        (lambda t: {"activity": t["activity"].assign(week=["2026-13-01"] * len(t["activity"]))},
         InputError, r"activity: week '2026-13-01' in row 0 is not a date"),
        (lambda t: {"activity": t["activity"].assign(n_shipments=[-1] * len(t["activity"]))},
         InputError, r"activity: n_shipments -1 in row 0 \(site 'S1'\); expected a count"),
        (lambda t: {"sites": t["sites"].assign(sellers="A1")}, InputError,
         r"sites: sellers of site 'S1' \(row 0\) is 'A1'; expected a list"),
        (lambda t: {"max_gap_weeks": -1}, InputError, r"max_gap_weeks=-1; expected a whole"),
        (lambda t: {"quiet_weeks": 2.5}, InputError, r"quiet_weeks=2.5; expected a whole"),
        (lambda t: {"min_seller_share": 1.5}, InputError,
         r"min_seller_share=1.5; expected a share between 0 and 1"),
        (lambda t: {"min_active_weeks": True}, InputError, r"min_active_weeks=True"),
        (lambda t: {"events": t["events"].assign(date="someday")}, InputError,
         r"events: date 'someday' in row 0 is not a day"),
        (lambda t: {"links": t["links"].drop(columns="value_norm")}, MissingColumnsError,
         r"links: required field\(s\) value_norm not found"),
    ],
)  # fmt: skip
def test_bad_input_is_named(toy, change, error, message) -> None:
    args = {
        "activity": toy["activity"], "sites": toy["sites"], "networks": toy["networks"],
        "links": toy["links"], "events": toy["events"], "run_id": "R1", **change(toy),
    }  # fmt: skip
    with pytest.raises(error, match=message):
        find_relocations(args.pop("activity"), args.pop("sites"), **args)


def test_many_sites_take_little_time() -> None:
    """5,000 sites over a year (the activity of a 10M-waybill case is smaller) in ~1 s."""
    import time

    rng = np.random.default_rng(1)
    n_sites = 5_000
    sites = pd.DataFrame(
        {
            "site_id": [f"S{i:05d}" for i in range(n_sites)],
            "lat": 25 + rng.random(n_sites), "lon": 119 + rng.random(n_sites),
            "sellers": [[f"A{i}", f"A{i + 1}"] for i in range(n_sites)],
            "place": "", "prefecture": "Putian",
        }
    )  # fmt: skip
    start = rng.integers(0, 30, n_sites)
    length = rng.integers(3, 52, n_sites)
    site = np.repeat(np.arange(n_sites), length)
    week = np.concatenate([np.arange(s, s + n) for s, n in zip(start, length, strict=True)])
    activity = pd.DataFrame(
        {
            "site_id": sites["site_id"].to_numpy()[site],
            "week": FIRST + pd.to_timedelta(week * 7, unit="D"),
            "n_shipments": rng.integers(1, 200, len(site)),
        }
    )
    networks = pd.DataFrame(
        {"seller_id": [f"A{i}" for i in range(n_sites + 1)],
         "network_id": [f"N{i // 10}" for i in range(n_sites + 1)]}
    )  # fmt: skip
    t0 = time.perf_counter()
    found = find_relocations(activity, sites, networks=networks)
    assert time.perf_counter() - t0 < 5
    assert len(found.relocations) > 0


def test_a_move_beside_a_site_that_goes_on_is_still_a_move(toy) -> None:
    # N1 also runs S12 all year: S1 -> S2 is a move, and S1, S12 and S2 one operation
    extra = pd.DataFrame(_weeks("S12", range(40)), columns=["site_id", "week", "n_shipments"])
    sites = pd.concat(
        [toy["sites"], pd.DataFrame({"site_id": ["S12"], "lat": [25.0], "lon": [118.6],
                                     "sellers": [["A8"]], "prefecture": ["Quanzhou"]})],
        ignore_index=True,
    )  # fmt: skip
    networks = pd.concat(
        [toy["networks"], pd.DataFrame({"seller_id": ["A8"], "network_id": ["N1"]})]
    )
    found = find_relocations(
        pd.concat([toy["activity"], extra]), sites, networks=networks, links=toy["links"]
    )
    assert found.relocations[["from_site", "to_site"]].values.tolist() == [["S1", "S2"]]
    assert ["S1", "S12", "S2"] in found.operations["site_ids"].tolist()


def test_a_network_event_and_sites_tied_by_an_identifier_only(toy) -> None:
    events = pd.DataFrame(
        {"event_id": ["EV0003"], "kind": ["test_buy_campaign"], "date": ["2026-05-11"],
         "network_id": ["N1"]}
    )  # fmt: skip
    move = _find(toy, events=events).relocations.iloc[0]
    assert move["event_id"] == "EV0003" and move["weeks_after_event"] == 1
    assert "one week after the test buy campaign recorded on network N1" in move["evidence"]
    # S9's and S10's accounts are in no network; a shared device ties the sites
    networks = toy["networks"][~toy["networks"]["seller_id"].isin(["E1", "F1"])]
    shared = pd.DataFrame(
        [("E1", "device", "IMEI-1"), ("F1", "device", "IMEI-1")],
        columns=["seller_id", "kind", "value_norm"],
    )
    moves = _find(toy, networks=networks, links=shared).relocations.set_index("from_site")
    assert moves.loc["S9", "network_id"] is None and moves.loc["S9", "n_new_accounts"] == 1
    assert moves.loc["S9", "n_sharing"] == 1
    assert moves.loc["S9", "evidence"].startswith("The accounts of S9 moved from ")
    assert moves.loc["S9", "shared_identifiers"] == "device IMEI-1 held by 1 new account"


def test_a_site_of_stray_waybills_only_has_no_span(toy) -> None:
    # S13: one waybill a week for ten weeks, never an active week (3 at least)
    stray = pd.DataFrame(
        _weeks("S13", range(10, 20), 1), columns=["site_id", "week", "n_shipments"]
    )
    sites = pd.concat(
        [toy["sites"], pd.DataFrame({"site_id": ["S13"], "lat": [24.0], "lon": [118.0],
                                     "sellers": [["Z1"]], "prefecture": ["Xiamen"]})],
        ignore_index=True,
    )  # fmt: skip
    found = find_relocations(pd.concat([toy["activity"], stray]), sites, networks=toy["networks"])
    spans = found.spans.set_index("site_id")
    row = spans.loc["S13"]
    assert row["n_active_weeks"] == 0 and row["n_shipments"] == 10
    assert pd.isna(row["first_week"]) and pd.isna(row["last_week"])
    assert not row["starts"] and not row["stops"]
    assert spans.loc["S1", "first_week"] == FIRST  # the others keep their dates


def test_arrows_place_each_move_at_its_sites(toy) -> None:
    found = _find(toy)
    arrows = found.arrows(toy["sites"])
    assert list(arrows.columns) == [
        "from_site", "to_site", "from_lat", "from_lon", "to_lat", "to_lon", "around", "label",
    ]  # fmt: skip
    row = arrows.iloc[0]
    assert (row["from_site"], row["to_site"]) == ("S1", "S2")
    assert (row["from_lat"], row["from_lon"], row["to_lat"], row["to_lon"]) == (
        25.39, 119.04, 25.46, 119.11,
    )  # fmt: skip
    assert row["around"] == found.relocations["around"].iloc[0]
    assert row["label"] == "N1: S1 → S2"
    with pytest.raises(InputError, match=r"S2 of a move is not among the sites"):
        found.arrows(toy["sites"][toy["sites"]["site_id"] != "S2"])


def test_arrows_of_no_move_are_an_empty_frame(toy) -> None:
    found = _find(toy, max_gap_weeks=0)
    assert found.relocations.empty
    assert found.arrows(toy["sites"]).empty
