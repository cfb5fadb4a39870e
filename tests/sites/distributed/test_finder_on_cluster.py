"""``SiteFinder.fit(..., client=...)`` on two worker processes gives the single-machine result.

The demo investigation (60,000 waybills: seven rings, a hub, three busy market districts) is
clustered once in this process and once with the density work on a LocalCluster of two
workers, in tiles far smaller than the default so that tile borders cut through sites. Every
fitted attribute must come out identical: the site table (ids, ranks, labels, scores and
their parts, stability at 150 and 600 m, places), the label of every waybill, the points of
each site, the weekly activity and the run id.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from distributed import get_task_stream

import workbench
from workbench.demo._generate import demo_frames
from workbench.errors import InputError
from workbench.networks._link import link_sellers
from workbench.sites import _distributed
from workbench.sites._finder import SiteFinder, find_sites
from workbench.sites._tiles import Tiles


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    frames = demo_frames(seed=7, n_shipments=60_000, n_background_sellers=400)
    nets = link_sellers(frames["sellers"], frames["identifiers"]).membership
    return frames["shipments"], nets, frames["evidence"]  # type: ignore[return-value]


def test_the_site_table_on_two_workers_is_the_single_machine_one(
    cluster_client: Any, demo: tuple[pd.DataFrame, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    ships, nets, evidence = demo
    # small tiles (by default a few per worker, of at least 5,000 points): 16 here
    monkeypatch.setattr(_distributed, "MIN_TILE_POINTS", 100)
    monkeypatch.setattr(_distributed, "TILES_PER_WORKER", 8)
    one = SiteFinder(300).fit(ships, networks=nets, evidence=evidence)
    with get_task_stream(cluster_client) as stream:
        many = SiteFinder(300).fit(ships, networks=nets, evidence=evidence, client=cluster_client)
    keys = [str(task["key"]) for task in stream.data]
    # the clustering at 300, 150 and 600 m ran there: 16 tiles each, then the border points
    assert {key.split("-")[0] for key in keys} == {"components", "borders"}
    assert sum(key.startswith("components-") for key in keys) == 3 * 16

    assert len(one.sites_) > 20
    assert many.run_id_ == one.run_id_
    pd.testing.assert_frame_equal(many.sites_, one.sites_)
    np.testing.assert_array_equal(many.labels_, one.labels_)
    pd.testing.assert_frame_equal(many.site_points_, one.site_points_)
    pd.testing.assert_frame_equal(many.activity_, one.activity_)
    assert many.excluded_ == one.excluded_

    # the test means something only if tile borders cut through sites
    lat, lon, _, _ = one._points(ships)
    tiles = Tiles.plan(lat, lon, _distributed.tile_count(len(lat), 2))
    assert tiles.n_tiles == 16
    owners = tiles.owner(one.site_points_["lat"].to_numpy(), one.site_points_["lon"].to_numpy())
    per_site = pd.Series(owners).groupby(one.site_points_["site_id"].to_numpy()).nunique()
    assert (per_site > 1).sum() >= 3, per_site.sort_values().tail()


def test_default_tiles_give_the_same_sites(
    cluster_client: Any, demo: tuple[pd.DataFrame, ...]
) -> None:
    ships, nets, evidence = demo
    one = SiteFinder(300, stability=False).fit(ships, networks=nets, evidence=evidence)
    many = SiteFinder(300, stability=False).fit(
        ships, networks=nets, evidence=evidence, client=cluster_client
    )
    pd.testing.assert_frame_equal(many.sites_, one.sites_)


def test_find_sites_takes_the_client_too(
    cluster_client: Any, demo: tuple[pd.DataFrame, ...]
) -> None:
    ships, nets, evidence = demo
    one = find_sites(ships, networks=nets, evidence=evidence, stability=False)
    many = find_sites(
        ships, networks=nets, evidence=evidence, stability=False, client=cluster_client
    )
    pd.testing.assert_frame_equal(many, one)


def test_workers_on_another_version_are_refused(
    cluster_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the workers run the tasks' code: another version might cluster differently
    monkeypatch.setattr(workbench, "__version__", "0.0.0-elsewhere")  # here, not there
    with pytest.raises(InputError, match=r"workers run another version .*0\.0\.0-elsewhere"):
        _distributed.Density(cluster_client)


def test_the_client_is_no_parameter_of_the_estimator() -> None:
    # it says where to compute, not what: get_params (and so the run id) stays the same
    assert "client" not in SiteFinder().get_params()


def test_fit_refuses_something_else_than_a_client(demo: tuple[pd.DataFrame, ...]) -> None:
    ships, _, _ = demo
    with pytest.raises(InputError, match=r"client: expected a distributed\.Client"):
        SiteFinder(300).fit(ships.head(100), client="tcp://127.0.0.1:8786")


def test_a_local_cluster_serves_its_dashboard_on_localhost_only_when_asked(
    cluster_client: Any,
) -> None:
    # make_client(workers=2): the scheduler's HTTP server (health checks only) on a free port
    # of localhost, not on the 8787 of every other Dask cluster
    plain = cluster_client.dashboard_link
    assert plain.startswith("http://127.0.0.1:") and ":8787/" not in plain, plain
    client = _distributed.make_client(workers=1, dashboard=True)
    try:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        # a free port on localhost (its pages need bokeh; without it, the link says so)
        link = client.dashboard_link
        assert link.startswith("http://127.0.0.1:") and ":8787/" not in link, link
    finally:
        client.close()
