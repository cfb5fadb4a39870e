"""Shared, tiny fixtures. Expected values are explained next to the data."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

# jp_fetch, jp_serverapp, ... for the server-extension tests (the plugin does not register
# itself); it also gives each test its own event loop.
pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def toy_identifiers() -> pd.DataFrame:
    # S1-S2 share a phone written two ways, S2-S3 share a bank card written two ways:
    # {S1, S2, S3} is one network. S4-S5 share an e-mail up to case: {S4, S5}.
    # S6-S7 share only a city-level address (weak): linked only with include_weak=True.
    # A courier hotline is on every account: infrastructure once above max_accounts.
    rows = [
        ("S1", "phone", "+86 138 0013 8000"),
        ("S2", "phone", "0086-13800138000"),
        ("S2", "bank_card", "6222 0212 3456 7890"),
        ("S3", "bank_card", "6222-0212-3456-7890"),
        ("S4", "email", "Li.Wei@Example.com"),
        ("S5", "email", "li.wei@example.com "),
        ("S6", "address", "广东省 深圳市"),
        ("S7", "address", "广东省深圳市"),
    ]
    rows += [(f"S{i}", "phone", "400-820-8820") for i in range(1, 9)]
    return pd.DataFrame(rows, columns=["seller_id", "kind", "value"])


@pytest.fixture
def toy_sellers() -> pd.DataFrame:
    return pd.DataFrame(
        {"seller_id": [f"S{i}" for i in range(1, 9)], "name": [f"Shop {i}" for i in range(1, 9)]}
    )


@pytest.fixture
def toy_shipments() -> pd.DataFrame:
    """A workshop, a hub and scattered background, built so the expected sites are obvious.

    - workshop W: 600 waybills from 3 exact points within ~40 m in Putian, by 10 accounts
      of one network (R0-R9);
    - hub H: 3,000 waybills from 2 points 50 m apart in Yiwu, by 300 unrelated accounts;
    - background: 400 waybills scattered ~10 km around Shenzhen, far below any density.
    """
    rng = np.random.default_rng(1)
    workshop = pd.DataFrame(
        {
            "seller_id": rng.choice([f"R{i}" for i in range(10)], 600),
            "lat": 25.4394 + rng.choice([0.0, 0.0003, -0.0002], 600),
            "lon": 119.0103 + rng.choice([0.0, 0.0002, 0.0004], 600),
            "brand": "Nike",
        }
    )
    hub = pd.DataFrame(
        {
            "seller_id": rng.choice([f"H{i:03d}" for i in range(300)], 3000),
            "lat": 29.33 + rng.choice([0.0, 0.00045], 3000),
            "lon": 120.10,
            "brand": "no brand",
        }
    )
    background = pd.DataFrame(
        {
            "seller_id": rng.choice([f"B{i}" for i in range(100)], 400),
            "lat": 22.5 + rng.normal(0, 0.1, 400),
            "lon": 114.0 + rng.normal(0, 0.1, 400),
            "brand": "no brand",
        }
    )
    ships = pd.concat([workshop, hub, background], ignore_index=True)
    ships["shipment_id"] = [f"W{i:06d}" for i in range(len(ships))]
    ships["shipped_at"] = pd.Timestamp("2026-03-02") + pd.to_timedelta(
        rng.integers(0, 120, len(ships)), unit="D"
    )
    ships["value_cny"] = 100.0
    return ships


@pytest.fixture
def toy_network() -> pd.DataFrame:
    return pd.DataFrame({"seller_id": [f"R{i}" for i in range(10)], "network_id": "N0001"})


@pytest.fixture
def toy_evidence() -> pd.DataFrame:
    # two counterfeit test buys on the workshop's network, three genuine ones at the hub
    return pd.DataFrame(
        {
            "evidence_id": ["E1", "E2", "E3", "E4", "E5"],
            "seller_id": ["R1", "R2", "H001", "H002", "H003"],
            "brand": ["Nike", "Nike", "no brand", "no brand", "no brand"],
            "kind": "test_buy",
            "verdict": ["counterfeit", "counterfeit", "genuine", "genuine", "genuine"],
            "date": "2026-05-01",
        }
    )


@pytest.fixture
def in_child() -> Callable[..., tuple[list[str], int]]:
    """Run Python ``code`` in a fresh process; its output lines and its own peak memory (MiB).

    The peak is the child's ``VmHWM``: ``ru_maxrss`` would carry the forked pytest's peak
    over ``exec``.
    """

    def run(code: str, *args: str) -> tuple[list[str], int]:
        report = (
            "\nimport re as _re\n"
            "_status = open('/proc/self/status').read()\n"
            "print('VmHWM', int(_re.search(r'VmHWM:\\s+(\\d+)', _status).group(1)) // 1024)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code + report, *args], capture_output=True, text=True,
            check=True,
        ).stdout.splitlines()  # fmt: skip
        peak = re.fullmatch(r"VmHWM (\d+)", out[-1])
        assert peak is not None, out
        return out[:-1], int(peak.group(1))

    return run


# -- a case over two quarters, for runs restricted to a time window ------------------------
# two workshops 20 km apart in Putian: OLD ships January to March, NEW April to June, three
# accounts each; STEADY (Jinjiang) ships all half-year, twice as much in the second quarter
# (82 days in each quarter's range); one more waybill has no date
_OLD, _NEW, _STEADY = (25.44, 119.01), (25.60, 119.10), (24.78, 118.55)


def _window_rows(
    where: tuple[float, float], days: pd.DatetimeIndex, per_day: int, tag: str, sellers: str
) -> list[dict[str, object]]:
    rng = np.random.default_rng(sum(map(ord, tag)))
    return [
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
        for d, day in enumerate(days)
        for k in range(per_day)
    ]


@pytest.fixture(scope="session")
def windowed_case(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """``path`` of the case, and its places ``old``, ``new`` and ``steady`` (lat, lon)."""
    import workbench

    root = tmp_path_factory.mktemp("window")
    q1 = pd.date_range("2026-01-05", "2026-03-27", freq="D")
    q2 = pd.date_range("2026-04-06", "2026-06-26", freq="D")
    rows = _window_rows(_OLD, q1, 3, "OLD", "OLD") + _window_rows(_NEW, q2, 3, "NEW", "NEW")
    rows += _window_rows(_STEADY, q1, 2, "SQ1", "ST") + _window_rows(_STEADY, q2, 4, "SQ2", "ST")
    rows.append({**rows[0], "shipment_id": "NODATE", "shipped_at": ""})
    ships = pd.DataFrame(rows)
    ships.to_csv(root / "shipments.csv", index=False)
    pd.DataFrame({"seller_id": sorted(set(ships["seller_id"]))}).to_csv(
        root / "sellers.csv", index=False
    )
    path = Path(root / "w.case")
    with workbench.open_case(path) as case:
        case.ingest_files({"sellers": root / "sellers.csv", "shipments": root / "shipments.csv"})
    return SimpleNamespace(path=path, old=_OLD, new=_NEW, steady=_STEADY)


@pytest.fixture(scope="module")
def cluster_client() -> Iterator[object]:
    """A small Dask cluster on this machine, shared by the tests of one module: two worker
    processes of one thread each (what ``--workers 2`` starts), listening on localhost only,
    without a dashboard; closed when the module's tests are done. The workers load the
    cached numba kernels once, when the cluster starts."""
    from workbench.sites._distributed import make_client

    client = make_client(workers=2)
    try:
        yield client
    finally:
        client.close()
