"""What a worker runs on one tile (private to ``sites``; see :mod:`workbench.sites._distributed`).

The tasks take a tile's members (its own points and its halo) and run the numba kernels of
:mod:`workbench.sites._density` on them, split where :func:`dbscan` needs the whole picture:
:func:`components` is its first half (core points and their clusters, numbered here only),
:func:`borders` its second half given the final labels of the core points (the border
points), and :func:`background` is :func:`background_weight` as it is.

Between the two halves a worker keeps the tile's index (the points sorted into grid cells,
with their bounds), so the second half does not build it again: :func:`components` keeps it
under the call's ``token`` when the tile owns non-core points and sees a core point (the
driver sends every such tile to :func:`borders`: a core point seen is a core point, and the
flags of owned points are exact), and :func:`borders` takes it out. If the second half runs
elsewhere (a worker lost, a task moved), it builds the index again; at most ``KEPT_MAX``
indexes stay in a process, the oldest go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.sites import _density
from workbench.sites._density import background_weight

__all__ = ["Tile", "background", "borders", "components"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
KEPT_MAX = 16  # tile indexes a process keeps between the two halves, at most (a few per call)

_kept: OrderedDict[str, _density._Index] = OrderedDict()
_kept_lock = threading.Lock()


@dataclass(frozen=True)
class Tile:
    """A tile's members as a worker gets them (sent once, used by both rounds)."""

    lat: FloatArray
    lon: FloatArray
    weight: FloatArray
    threshold: FloatArray
    owned: np.ndarray  # which members the tile owns


def components(tile: Tile, radius_m: float, token: str) -> tuple[np.ndarray, IntArray]:
    """Core flag of each member and its local cluster (-1 unless core): the first half of
    :func:`dbscan`, without the numbering and the border points."""
    jit = _density._kernels()
    la, lo, w = _density._as_points(tile.lat, tile.lon, tile.weight)  # writeable copies
    thr = _density._float_array(tile.threshold)
    n = len(la)
    idx = _density._build(la, lo, w, thr, radius_m)
    core = np.zeros(n, dtype=np.bool_)
    _density._by_rows(idx, jit.core_points, idx, core)
    cores = _density._core_cells(idx, core)
    parent = _density._merged(idx, cores)
    root, roots, _, _ = jit.cluster_roots(
        idx.cstart, cores.ncore, parent, idx.mutual, idx.slat, idx.slon
    )
    local = np.full(len(parent), -1, dtype=np.int64)
    local[roots] = np.arange(len(roots))
    flags = np.empty(n, dtype=bool)
    flags[idx.order] = core  # core_first moved the flags with the points
    cluster = np.empty(n, dtype=np.int64)
    cluster[idx.order] = np.where(root >= 0, local[np.maximum(root, 0)], -1)
    if flags.any() and (tile.owned & ~flags).any():  # borders will come for this tile
        _keep(token, idx)
    return flags, cluster


def borders(tile: Tile, core: np.ndarray, label: IntArray, radius_m: float, token: str) -> IntArray:
    """Labels of the members given the final core flags and labels of the core ones: each
    non-core member takes the smallest label within reach (the rest of :func:`dbscan`)."""
    jit = _density._kernels()
    with _kept_lock:
        idx = _kept.pop(token, None)
    if idx is None:  # not kept here: build it again (its points in any order will do)
        la, lo, w = _density._as_points(tile.lat, tile.lon, tile.weight)
        idx = _density._build(la, lo, w, np.zeros(1), radius_m)
    n = len(idx.w)
    cores = _density._core_cells(idx, np.ascontiguousarray(core[idx.order], dtype=np.bool_))
    final = np.ascontiguousarray(label[idx.order], dtype=np.int64)  # in the cells' order now
    numbers = np.arange(int(label.max(initial=-1)) + 1, dtype=np.int64)
    lab, cmin = jit.core_labels(idx.cstart, cores.ncore, final, numbers)
    _density._by_rows(idx, jit.border_labels, idx, cores, lab, cmin)
    out = np.empty(n, dtype=np.int64)
    out[idx.order] = lab
    return out


def background(tile: Tile, radius_m: float) -> FloatArray:
    """Waybills of the surroundings of each member (exact for the tile's own points)."""
    return background_weight(tile.lat, tile.lon, tile.weight, radius_m)


def _keep(token: str, idx: _density._Index) -> None:
    with _kept_lock:
        _kept[token] = idx
        while len(_kept) > KEPT_MAX:
            _kept.popitem(last=False)
