"""A run restricted to a time window, and two windows compared: a workshop that stopped
in March and one that started in April are told apart, and the window is recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.errors import InputError, NotFoundError


@pytest.fixture(scope="module")
def case_path(windowed_case: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the case of two quarters (tests/conftest.py) for this module's runs."""
    copy = tmp_path_factory.mktemp("window-case") / windowed_case.path.name
    shutil.copytree(windowed_case.path, copy)
    return copy


def _parsed(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else json.loads(str(value))


def _near(sites: pd.DataFrame, where: tuple[float, float]) -> pd.DataFrame:
    d = np.hypot(sites["lat"] - where[0], sites["lon"] - where[1])
    return sites[d < 0.01]


def test_a_window_keeps_only_its_waybills(case_path: Path, windowed_case: SimpleNamespace) -> None:
    with workbench.open_case(case_path, create=False) as case:
        whole = case.find_sites()
        spring = case.find_sites(since="2026-04-01", until="2026-06-30")
        assert spring != whole
        all_sites, q2_sites = case.sites(whole), case.sites(spring)
    old, new = windowed_case.old, windowed_case.new
    assert len(_near(all_sites, old)) == 1 and len(_near(all_sites, new)) == 1
    assert _near(q2_sites, old).empty  # stopped before the window
    assert len(_near(q2_sites, new)) == 1
    assert int(_near(q2_sites, new)["n_shipments"].iloc[0]) == 3 * 82


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
