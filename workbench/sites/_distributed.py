"""The site finder's clustering on a Dask cluster, tile by tile, with the same result.

:class:`SiteFinder.fit(..., client=client) <workbench.sites._finder.SiteFinder>` hands the
heavy step on the unique ship-from points to :class:`Density`: the weighted DBSCAN at the
radius, and at half and twice it for the stability check (:func:`dbscan_tiled`). Everything
else (collapsing the waybills, the waybills of each point's surroundings, the evidence-seeded
pass over each suspect operator's few points, counting, scoring, ranking) stays in the
calling process, unchanged, so the sites come out identical. The surroundings stay there
because they are cheap there: a grid count, 0.05 s at 1M waybills and 0.09 s at 2M, against
0.2 and 0.35 s in tiles on two local workers; :func:`background_tiled` gives the same values
tile by tile for when that changes.

The points are cut into tiles (:class:`workbench.sites._tiles.Tiles`, latitude strips cut
into longitude columns at quantiles, a few tiles per worker); each tile is sent with its
halo, the points within twice the radius of it, and clustered on a worker by the numba
kernels of :mod:`workbench.sites._density`; the driver merges what they found. Four
tiles, and the members of tile 3 (its own points and its halo, the box of its points
widened by 2r)::

    +-------------------+-------------------+
    |  tile 2       ....:...................:....
    |               :   |  tile 3 (its box) |   :
    +---------------:---+-------------------+   :   lon, lat  ->  owner: one tile per point
    |  tile 0       :...:...................:...:   members: the owner's, and the halos
    |                   |  tile 1           |       that reach the point
    +-------------------+-------------------+

A site cut by the border between two tiles, along one line::

               tile A: owns lon < cut    cut    tile B: owns lon >= cut
    a1  a2  a3  a4  a5  a6  a7  a8  a9  |  b1  b2  b3  b4  b5  b6  b7    . .   one site, cut
                        [== B's halo ==]  [== A's halo ==]                     in two
    A clusters its a1..a9 and its halo b1..b3: local cluster A0 = {a1 .. a9, b1 .. b3}
    B clusters its b1..b7 and its halo a6..a9: local cluster B0 = {a6 .. a9, b1 .. b7}
    a6..a9 and b1..b3 are core points in A0 and in B0:  union-find  A0 --- B0  ->  one site

    . .  lone points stay noise in every tile: none finds a core point within r of them

Why the labels are those of one run over all points (:func:`dbscan`):

1. *Core points.* A point is core when the weight within r reaches its threshold. A tile
   holds everything within 2r of the points it owns, so the flag of each owned point, and
   of each halo point within r of one, is exact. Further out a halo point may lack
   neighbours, so a tile may miss that it is core, never the reverse (weights are >= 0):
   a tile never invents a core point, nor a link between two.
2. *Clusters.* Take two core points within r of each other: one of them is owned by a
   tile, which holds the other with an exact flag, and links them. So every link is found
   by some tile, every link found is real, and the local clusters joined wherever they share
   a core point (:func:`workbench.sites._merge.merge_tiles`) are the clusters of all points.
3. *Numbers.* The merged clusters are numbered by the smallest (lat, lon) of their core
   points, the rule of :func:`dbscan`, on the driver over all core points.
4. *Border points* (non-core, within r of a core point) join the cluster with the smallest
   number among those within reach: a second round sends each tile the final labels and
   core flags of its members, and it labels the non-core points it owns (on the index the
   worker kept from the first round, :mod:`workbench.sites._tile_tasks`).
5. *Arithmetic.* Weights are waybill counts, whose sums are exact in float64 in any order;
   distances are the same kernels on the same coordinates, and their shortcuts are
   conservative, so each decision depends on the points only, not on the tile. (With
   fractional weights a point whose neighbour weight equals its threshold to the last bit
   may flip, as it may between two single-machine runs on different numbers of threads.)

The surroundings (``background_weight``) use a grid anchored on the globe, so a tile's cells
are those of a run on all points; a point gets the weight of every cell whose centre lies
within ``context_m`` of its own cell's centre, and a tile holds every point within
``context_m`` plus four cell sides of its own, so those cells are complete.

``client=None`` runs the same tasks tile by tile in this process (tests, and a bound on the
memory of one step). :func:`make_client` starts or joins a cluster for the command line.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.errors import InputError
from workbench.sites import _density
from workbench.sites._density import dbscan
from workbench.sites._merge import TileClusters, merge_tiles
from workbench.sites._tile_tasks import Tile, background, borders, components
from workbench.sites._tiles import Tiles

__all__ = ["Density", "background_tiled", "dbscan_tiled", "make_client", "tile_count"]

TILES_PER_WORKER = 4  # a few per worker: a slow tile does not hold the others up
MIN_TILE_POINTS = 5_000  # fewer points per tile cost more in overhead than they save
CONNECT_TIMEOUT_S = 10

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Density:
    """Where the site finder's density work runs: in this process (``client=None``, the
    plain kernels), or on the workers of a ``distributed.Client``, tile by tile."""

    def __init__(self, client: Any = None) -> None:
        self.client = None if client is None else _same_workbench(_checked(client))

    def dbscan(
        self,
        lat: FloatArray,
        lon: FloatArray,
        weight: FloatArray,
        radius_m: float,
        min_weight: float | FloatArray,
    ) -> IntArray:
        if self.client is None:
            return dbscan(lat, lon, weight, radius_m, min_weight)
        return dbscan_tiled(lat, lon, weight, radius_m, min_weight, client=self.client)


def tile_count(n_points: int, workers: int) -> int:
    """Tiles for ``n_points`` on ``workers``: ``TILES_PER_WORKER`` each, fewer when tiles
    would hold under ``MIN_TILE_POINTS`` points, at least one."""
    return max(1, min(workers * TILES_PER_WORKER, n_points // MIN_TILE_POINTS))


def dbscan_tiled(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    weight: npt.ArrayLike | None,
    radius_m: float,
    min_weight: float | npt.ArrayLike,
    *,
    tiles: Tiles | int | None = None,
    client: Any = None,
) -> IntArray:
    """:func:`workbench.sites._density.dbscan`, tile by tile: the same labels.

    ``tiles``: a :class:`Tiles` layout, a number of tiles, or None for
    :func:`tile_count` of the client's workers; ``client``: a ``distributed.Client``, or
    None to run the tiles one after the other in this process.

    >>> dbscan_tiled([30.0, 30.001, 31.0], [120.0] * 3, [3, 1, 1], 200.0, 4, tiles=2).tolist()
    [0, 0, -1]
    """
    runner = _Runner(client)
    la, lo, w = _density._as_points(lat, lon, weight)
    radius = _density._check_radius(radius_m)
    thr = _density._thresholds(min_weight, len(la))
    labels = np.full(len(la), -1, dtype=np.int64)
    if len(la) == 0:
        return labels
    per_point = len(thr) == len(la) and len(la) > 1
    parts = _cut(_layout(tiles, la, lo, runner.workers), la, lo, 2 * radius)
    sent = runner.put(
        [Tile(la[m], lo[m], w[m], thr[m] if per_point else thr, own) for m, own in parts]
    )
    tokens = [f"{runner.token}-{t}" for t in range(len(parts))]
    firsts = [(tile, radius, token) for tile, token in zip(sent, tokens, strict=True)]
    found = runner.map(components, "components", firsts)
    core, labels = merge_tiles(
        [TileClusters(m, own, c, k) for (m, own), (c, k) in zip(parts, found, strict=True)],
        la,
        lo,
    )
    # border points: each tile labels the non-core points it owns, given the final labels
    todo = [
        t
        for t, (m, own) in enumerate(parts)
        if core[m].any() and (own & ~core[m]).any()  # else its own points stay noise
    ]
    calls = [(sent[t], core[parts[t][0]], labels[parts[t][0]], radius, tokens[t]) for t in todo]
    for t, border in zip(todo, runner.map(borders, "borders", calls), strict=True):
        m, own = parts[t]
        pick = own & ~core[m]
        labels[m[pick]] = border[pick]
    return labels


def background_tiled(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    weight: npt.ArrayLike | None,
    radius_m: float,
    *,
    tiles: Tiles | int | None = None,
    client: Any = None,
) -> FloatArray:
    """:func:`workbench.sites._density.background_weight` (default cells), tile by tile:
    the same values. ``tiles`` and ``client`` as for :func:`dbscan_tiled`."""
    runner = _Runner(client)
    la, lo, w = _density._as_points(lat, lon, weight)
    radius = _density._check_radius(radius_m)
    out = np.empty(len(la))
    if len(la) == 0:
        return out
    side = max(radius / _density._BACKGROUND_CELLS, _density._MIN_CELL_M)
    parts = _cut(_layout(tiles, la, lo, runner.workers), la, lo, radius + 4 * side)
    sent = runner.put([Tile(la[m], lo[m], w[m], np.zeros(1), own) for m, own in parts])
    found = runner.map(background, "background", [(tile, radius) for tile in sent])
    for (m, own), values in zip(parts, found, strict=True):
        out[m[own]] = values[own]
    return out


def make_client(
    workers: int | None = None, scheduler: str | None = None, *, dashboard: bool = False
) -> Any:
    """A ``distributed.Client`` for :meth:`SiteFinder.fit`: ``workers`` processes of one
    thread each started on this machine (a LocalCluster on localhost; closing the client
    stops them), or the cluster whose scheduler listens at ``scheduler``. The workers load
    the clustering kernels before this returns. Close the client when done. ``dashboard``:
    the LocalCluster also serves Dask's dashboard, on a free port of localhost
    (``client.dashboard_link``; its pages need the bokeh package).

    >>> client = make_client(workers=2)                          # doctest: +SKIP
    >>> SiteFinder(300).fit(shipments, client=client).sites_     # doctest: +SKIP
    >>> client.close()                                           # doctest: +SKIP
    """
    if (workers is None) == (scheduler is None):
        raise InputError(
            "make_client: give workers= (processes to start here) or scheduler= (the "
            f"address of a running Dask scheduler), not both; got {workers!r} and {scheduler!r}"
        )
    Client = _client_class()
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InputError(
                f"make_client: workers must be an integer of at least 1, got {workers!r}"
            )
        client = Client(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # the scheduler's HTTP server (health checks, and the dashboard when asked for)
            # on a free port of localhost: never the fixed :8787 another cluster may hold
            dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": bool(dashboard)},
        )
    else:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise InputError(
                f"make_client: scheduler must be an address such as tcp://10.0.0.5:8786, "
                f"got {scheduler!r}"
            )
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"make_client: no Dask scheduler answered at {scheduler} within "
                f"{CONNECT_TIMEOUT_S} s ({exc}); start one with `dask scheduler` and workers "
                "with `dask worker ADDRESS`, or pass workers=N for a cluster on this machine"
            ) from None
    try:
        _same_workbench(client)
        client.run(_density.preload)
    except BaseException:
        client.close()  # and the workers it started
        raise
    return client


# --- the driver's side ---------------------------------------------------------------------


class _Runner:
    """Sends tiles and runs tasks on a cluster's workers, or here one after the other."""

    def __init__(self, client: Any) -> None:
        self.client = None if client is None else _checked(client)
        self.workers = 1
        if self.client is not None:
            self.workers = len(self.client.nthreads())
            if self.workers == 0:
                raise InputError(
                    "client: the Dask cluster has no workers yet; start some (`dask worker "
                    "ADDRESS`) or wait for them with client.wait_for_workers(n)"
                )
        self.token = uuid.uuid4().hex[:12]  # names this call's tasks and kept indexes

    def put(self, tiles: list[Tile]) -> list[Any]:
        """The tiles where the tasks will find them (on the workers: one message)."""
        return tiles if self.client is None else list(self.client.scatter(tiles, hash=False))

    def map(
        self, task: Callable[..., Any], name: str, calls: Sequence[tuple[Any, ...]]
    ) -> list[Any]:
        if self.client is None:
            return [task(*args) for args in calls]
        futures = [
            self.client.submit(task, *args, key=f"{name}-{self.token}-{k}", pure=False)
            for k, args in enumerate(calls)
        ]
        return list(self.client.gather(futures))


def _client_class() -> Any:
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - declared as a dependency
        from workbench.errors import MissingDependencyError

        raise MissingDependencyError(
            "clustering on a Dask cluster needs distributed: pip install distributed"
        ) from exc
    return Client


def _checked(client: Any) -> Any:
    if not isinstance(client, _client_class()):
        raise InputError(
            f"client: expected a distributed.Client (e.g. from make_client(workers=2)), got "
            f"{type(client).__name__}; pass None to compute in this process"
        )
    return client


def _version() -> str:
    """The workbench's version here (run on each worker by :func:`_same_workbench`)."""
    from workbench import __version__

    return str(__version__)


def _same_workbench(client: Any) -> Any:
    """``client``, once every worker runs this version of the workbench: the tasks are its
    code, and another version might cluster differently."""
    try:
        found = client.run(_version)
    except Exception as exc:  # a worker cannot even load the task: no workbench there
        raise InputError(
            f"client: the Dask workers cannot run the workbench's tasks ({type(exc).__name__}: "
            f"{exc}); install counterfeit-workbench {_version()} on every worker"
        ) from exc
    other = {worker: v for worker, v in found.items() if v != _version()}
    if other:
        raise InputError(
            f"client: workers run another version of the workbench than this process "
            f"({_version()}): {other}; install the same version on every worker"
        )
    return client


def _layout(tiles: Tiles | int | None, lat: FloatArray, lon: FloatArray, workers: int) -> Tiles:
    if tiles is None:
        return Tiles.plan(lat, lon, tile_count(len(lat), workers))
    if isinstance(tiles, Tiles):
        return tiles
    if isinstance(tiles, bool) or not isinstance(tiles, int | np.integer) or tiles < 1:
        raise InputError(f"tiles must be a positive integer or a Tiles layout, got {tiles!r}")
    return Tiles.plan(lat, lon, int(tiles))


def _cut(
    layout: Tiles, lat: FloatArray, lon: FloatArray, reach_m: float
) -> list[tuple[IntArray, np.ndarray]]:
    """Per tile owning points: its members (ascending) and which of them it owns."""
    owner = layout.owner(lat, lon)
    parts = []
    for t in np.unique(owner).tolist():
        members = np.flatnonzero(layout.members(t, lat, lon, reach_m, owner))
        parts.append((members, owner[members] == t))
    return parts
