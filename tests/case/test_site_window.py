"""A run restricted to a time window, and two windows compared: a workshop that stopped
in March and one that started in April are told apart, and the window is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.errors import InputError, NotFoundError

# two workshops 20 km apart in Putian: OLD ships January to March, NEW April to June, three
# accounts each; STEADY (Jinjiang) ships all half-year, twice as much in the second quarter
# (82 days in each quarter's range)
OLD, NEW, STEADY = (25.44, 119.01), (25.60, 119.10), (24.78, 118.55)


def _rows(
    where: tuple[float, float], days: pd.DatetimeIndex, per_day: int, tag: str, sellers: str
) -> list[dict[str, object]]:
    rng = np.random.default_rng(sum(map(ord, tag)))
    rows = []
    for d, day in enumerate(days):
        for k in range(per_day):
            rows.append(
                {
                    "shipment_id": f"{tag}{d:03d}{k:02d}",
                    "seller_id": f"{sellers}-S{k}",
                    "lat": round(where[0] + rng.normal(0, 2e-4), 6),
                    "lon": round(where[1] + rng.normal(0, 2e-4), 6),
                    "shipped_at": day.strftime("%Y-%m-%d"),
                    "items": 1,
                    "value_cny": 100.0,
                    "brand": "Nike",
                }
            )
    return rows


@pytest.fixture(scope="module")
def case_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("window")
    q1 = pd.date_range("2026-01-05", "2026-03-27", freq="D")
    q2 = pd.date_range("2026-04-06", "2026-06-26", freq="D")
    rows = _rows(OLD, q1, 3, "OLD", "OLD") + _rows(NEW, q2, 3, "NEW", "NEW")
    rows += _rows(STEADY, q1, 2, "SQ1", "ST") + _rows(STEADY, q2, 4, "SQ2", "ST")
    rows.append({**rows[0], "shipment_id": "NODATE", "shipped_at": ""})
    ships = pd.DataFrame(rows)
    ships.to_csv(root / "shipments.csv", index=False)
    sellers = pd.DataFrame({"seller_id": sorted(set(ships["seller_id"]))})
    sellers.to_csv(root / "sellers.csv", index=False)
    path = root / "w.case"
    with workbench.open_case(path) as case:
        case.ingest_files({"sellers": root / "sellers.csv", "shipments": root / "shipments.csv"})
    return path


def _parsed(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else json.loads(str(value))


def _near(sites: pd.DataFrame, where: tuple[float, float]) -> pd.DataFrame:
    d = np.hypot(sites["lat"] - where[0], sites["lon"] - where[1])
    return sites[d < 0.01]


def test_a_window_keeps_only_its_waybills(case_path: Path) -> None:
    with workbench.open_case(case_path, create=False) as case:
        whole = case.find_sites()
        spring = case.find_sites(since="2026-04-01", until="2026-06-30")
        assert spring != whole
        all_sites, q2_sites = case.sites(whole), case.sites(spring)
    assert len(_near(all_sites, OLD)) == 1 and len(_near(all_sites, NEW)) == 1
    assert _near(q2_sites, OLD).empty  # stopped before the window
    assert len(_near(q2_sites, NEW)) == 1
    assert int(_near(q2_sites, NEW)["n_shipments"].iloc[0]) == 3 * 82


def test_the_window_is_recorded_with_the_run(case_path: Path) -> None:
    with workbench.open_case(case_path, create=False) as case:
        run = case.find_sites(since="2026-04-01", until="2026-06-30")
        runs = case.runs().set_index("run_id")
        entry = case.audit().iloc[-1]
    window = _parsed(runs.loc[run, "parameters"])["window"]
    assert window["since"] == "2026-04-01" and window["until"] == "2026-06-30"
    # the first quarter's waybills and the one without a date are outside, counted
    assert window["n_outside"] == 3 * 82 + 2 * 82 + 1
    assert _parsed(entry["parameters"])["window"] == window


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2026-06-30", "2026-04-01", "since=2026-06-30 is after until=2026-04-01"),
        ("2026-13-01", None, "since='2026-13-01'"),
        (None, "soon", "until='soon'"),
        ("2030-01-01", None, "no waybills"),
    ],
)
def test_a_bad_window_is_refused_naming_it(
    case_path: Path, since: str | None, until: str | None, message: str
) -> None:
    with workbench.open_case(case_path, create=False) as case, pytest.raises(InputError) as err:
        case.find_sites(since=since, until=until)
    assert message in str(err.value)


def test_two_windows_compared(case_path: Path) -> None:
    with workbench.open_case(case_path, create=False) as case:
        q1 = case.find_sites(since="2026-01-01", until="2026-03-31")
        q2 = case.find_sites(since="2026-04-01", until="2026-06-30")
        change = case.compare_runs(q1, q2)
    assert list(change.columns[:4]) == ["change", "site_before", "site_after", "distance_m"]
    by = {row.change: row for row in change.itertuples()}
    assert set(change["change"]) == {"vanished", "appeared", "grew"}
    vanished = change[change["change"] == "vanished"]
    appeared = change[change["change"] == "appeared"]
    assert len(vanished) == 1 and len(appeared) == 1
    assert vanished["site_after"].isna().all() and appeared["site_before"].isna().all()
    grew = by["grew"]
    assert (grew.n_before, grew.n_after) == (164, 328)
    assert grew.distance_m < 100
    assert "164 -> 328 waybills" in grew.summary


def test_comparing_an_unknown_run_names_it(case_path: Path) -> None:
    with workbench.open_case(case_path, create=False) as case:
        run = case.latest_run()
        with pytest.raises(NotFoundError, match="nope"):
            case.compare_runs(run, "nope")
