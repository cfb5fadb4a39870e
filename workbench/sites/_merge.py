"""Merging the clusters of tiles into the clusters of all points (private to ``sites``).

Each tile reports its own core points' clusters (local numbers) and, for every point it saw
as a core point, which local cluster it lies in; halo points are seen by several tiles. Two
local clusters holding one same core point are one cluster: the merge is a union-find over
the local clusters (the nodes), with an edge wherever a core point appears in two of them.
The sets are then numbered as :func:`workbench.sites._density.dbscan` numbers clusters:
by the smallest ``(lat, lon)`` of their core points, so the labels are those of one run on
all points at once.

>>> union_find(4, np.array([3, 2]), np.array([1, 0])).tolist()  # {0, 2} and {1, 3}
[0, 1, 0, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TileClusters", "canonical_labels", "merge_tiles", "union_find"]


@dataclass(frozen=True)
class TileClusters:
    """What one tile found: its members (global point numbers, ascending), which of them it
    owns, the core flag of each member as the tile saw it (exact for the points it owns)
    and each member's local cluster (-1 unless core there)."""

    members: np.ndarray
    owned: np.ndarray
    core: np.ndarray
    cluster: np.ndarray

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max(initial=-1)) + 1


def union_find(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest node of the set of each node, sets joined by the edges ``a[k] - b[k]``.

    Vectorised hook-and-compress: every round, the root of each edge's larger end is hooked
    onto the smaller root (parents only ever decrease, so no cycle forms), then every node
    jumps to its root; rounds repeat until no edge joins two roots. Each round hooks at
    least one root, so it ends; in practice after a few rounds (the edges are the core
    points two tiles share, few beside the points).
    """
    parent = np.arange(n_nodes, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    while True:
        ra, rb = parent[a], parent[b]
        apart = ra != rb
        if not apart.any():
            return parent
        lo = np.minimum(ra[apart], rb[apart])
        hi = np.maximum(ra[apart], rb[apart])
        np.minimum.at(parent, hi, lo)
        while True:  # compress: every node to its root
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up


def canonical_labels(
    lat: np.ndarray, lon: np.ndarray, core: np.ndarray, root: np.ndarray
) -> np.ndarray:
    """Labels of the core points (-1 elsewhere): their sets (``root``, any numbers) numbered
    0, 1, ... by the smallest ``(lat, lon)`` among each set's core points."""
    labels = np.full(len(lat), -1, dtype=np.int64)
    idx = np.flatnonzero(core)
    if len(idx) == 0:
        return labels
    # each set's smallest latitude, then its smallest longitude there: no sort of the points
    of, la, lo = root[idx], lat[idx], lon[idx]
    size = int(of.max()) + 1
    min_lat = np.full(size, np.inf)
    np.minimum.at(min_lat, of, la)
    south = la == min_lat[of]
    min_lon = np.full(size, np.inf)
    np.minimum.at(min_lon, of[south], lo[south])
    sets = np.flatnonzero(np.isfinite(min_lat))
    number = np.full(size, -1, dtype=np.int64)
    number[sets[np.lexsort((min_lon[sets], min_lat[sets]))]] = np.arange(len(sets))
    labels[idx] = number[of]
    return labels


def merge_tiles(
    parts: list[TileClusters], lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Core flag and canonical label of every point from the tiles' clusters.

    A point's core flag is its owner's; its set is its owner's local cluster, joined with
    every other local cluster that holds it as a core point.
    """
    n = len(lat)
    core = np.zeros(n, dtype=bool)
    node = np.full(n, -1, dtype=np.int64)
    offset = np.cumsum([0] + [p.n_clusters for p in parts]).astype(np.int64)
    seen_point, seen_node = [], []
    for part, first in zip(parts, offset[:-1], strict=True):
        mine = part.members[part.owned]
        core[mine] = part.core[part.owned]
        local = part.cluster >= 0
        node[part.members[part.owned & local]] = first + part.cluster[part.owned & local]
        seen_point.append(part.members[local])
        seen_node.append(first + part.cluster[local])
    if not (core == (node >= 0)).all():  # a tile broke the contract: never silently wrong
        raise RuntimeError("merge_tiles: a tile's core points and clusters disagree")
    point = np.concatenate(seen_point) if seen_point else np.empty(0, dtype=np.int64)
    nodes = np.concatenate(seen_node) if seen_node else np.empty(0, dtype=np.int64)
    shared = np.bincount(point, minlength=n)[point] > 1  # core in two tiles: a halo point
    point, nodes = point[shared], nodes[shared]
    by_point = np.lexsort((nodes, point))
    point, nodes = point[by_point], nodes[by_point]
    again = np.flatnonzero(point[1:] == point[:-1])  # one point, two local clusters
    root = union_find(int(offset[-1]), nodes[again], nodes[again + 1])
    merged = np.full(n, -1, dtype=np.int64)
    merged[core] = root[node[core]]
    return core, canonical_labels(lat, lon, core, merged)
