"""The case's waybills read by the workers of a Dask cluster for the site finder (private to
``case``).

The driver lists the parts (one snapshot of ``waybill_parts`` and ``waybill_deletes``, as
every reader does) and cuts each into *shares* of whole row groups, about ``SHARE_ROWS``
waybills each (:func:`plan_shares`: a file path, row groups, and the replaced rows among
them; only Parquet footers are read here). Each worker reads its shares' row groups itself,
leaves the replaced rows out and collapses them (:func:`share_task`, then
:func:`workbench.sites._shares.collapse_share`); the driver first takes every share's unique
points, then each share's coded rows in turn (:func:`joined_on_workers`), so it never holds
the waybills' text or coordinates, nor more than one share's message at a time. The
workers must see the case's folder at the same path (a LocalCluster does; a remote cluster
needs it on a shared file system).

The columns are read as :mod:`workbench.case._site_input` reads them (text
dictionary-encoded, dates as days of ``shipped_at``), so the joined names and codes are
those of the single-process read and :class:`workbench.sites._shares.SharedSiteFinder`
stores the same run: same run id, same rows.

>>> joined = joined_on_workers(case._con, client)                       # doctest: +SKIP
>>> SharedSiteFinder(300).fit_joined(joined, networks=nets, client=client)  # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.case._listing import listing, retrying
from workbench.case._parts import folder_of
from workbench.sites._distributed import Density
from workbench.sites._shares import Joined, Share, collapse_share

__all__ = ["SHARE_ROWS", "ShareSpec", "joined_on_workers", "plan_shares", "read_share"]

SHARE_ROWS = 1_000_000  # waybills a worker reads and collapses at a time (whole row groups)
_FLOATS = ("lat", "lon", "value_cny")
_STRINGS = ("seller_id", "brand", "precision")  # read dictionary-encoded
_COLUMNS = ["seller_id", "lat", "lon", "shipped_at", "value_cny", "brand", "precision"]


@dataclass(frozen=True)
class ShareSpec:
    """A share: consecutive row groups of one part file, and the positions (within these
    row groups' rows) of the replaced waybills among them."""

    path: str
    groups: tuple[int, ...]
    deleted: np.ndarray
    rows: int  # in the row groups, replaced ones included

    @property
    def live_rows(self) -> int:
        return self.rows - len(self.deleted)


def plan_shares(con: sqlite3.Connection, share_rows: int = SHARE_ROWS) -> list[ShareSpec]:
    """The shares of the case's live parts in part order, each about ``share_rows``
    waybills of whole row groups (at least one group)."""
    if isinstance(share_rows, bool) or not isinstance(share_rows, int) or share_rows < 1:
        raise ValueError(f"share_rows must be a positive integer, got {share_rows!r}")
    folder = folder_of(con).resolve()
    specs = []
    for part in listing(con):
        path = folder / part.file
        meta = pq.ParquetFile(path).metadata
        sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        start, run, rows = 0, [], 0
        for group, size in enumerate(sizes):
            run.append(group)
            rows += size
            if rows >= share_rows or group == len(sizes) - 1:
                gone = part.deleted[(part.deleted >= start) & (part.deleted < start + rows)]
                # kept when every row is replaced: read as one process reads it
                specs.append(ShareSpec(str(path), tuple(run), gone - start, rows))
                start, run, rows = start + rows, [], 0
    return specs


def read_share(spec: ShareSpec) -> pd.DataFrame:
    """The share's waybills (replaced ones left out) in the columns the site finder reads:
    text as categoricals of the share's names in order of first appearance, ``shipped_at``
    as categoricals of days."""
    source = pq.ParquetFile(Path(spec.path), read_dictionary=_STRINGS)
    table = source.read_row_groups(list(spec.groups), columns=_COLUMNS)
    if len(spec.deleted):
        keep = np.ones(table.num_rows, dtype=bool)
        keep[spec.deleted] = False
        table = table.filter(pa.array(keep))
    table = table.unify_dictionaries()  # each row group's names, new ones appended
    columns: dict[str, Any] = {name: table.column(name).to_numpy() for name in _FLOATS}
    for name in _STRINGS:
        codes, names = _dictionary(_one_chunk(table.column(name)))
        columns[name] = _categorical(codes, pd.Index(names, dtype=str if names else object))
    days = pc.dictionary_encode(_one_chunk(table.column("shipped_at")).cast(pa.date32()))
    codes, found = _dictionary(days)
    at = np.array(found, dtype=np.int64).astype("datetime64[D]").astype("datetime64[s]")
    columns["shipped_at"] = _categorical(codes, pd.Index(at))
    return pd.DataFrame({name: columns[name] for name in _COLUMNS}, copy=False)


def share_task(spec: ShareSpec) -> Share:
    """What a worker does with a share: read it and collapse it."""
    return collapse_share(read_share(spec))


def joined_on_workers(
    con: sqlite3.Connection, client: Any = None, *, share_rows: int = SHARE_ROWS
) -> Joined:
    """The case's waybills read and collapsed by the workers of ``client`` (a
    ``distributed.Client``; None: share by share in this process), joined here.

    All shares are submitted at once; the driver gathers every share's points first (small:
    its unique points), then each share's rows in order, and lets the worker drop them."""

    if client is not None:  # a Client, whose workers run this version (they read the parts)
        client = Density(client).client

    def read() -> Joined:
        specs = plan_shares(con, share_rows)
        joined = Joined()
        n_rows = sum(spec.live_rows for spec in specs)
        if client is None:
            shares = [share_task(spec) for spec in specs]
            joined.points(shares, n_rows)
            for share in shares:
                joined.rows(share)
            return joined
        token = uuid.uuid4().hex[:12]
        futures = [
            client.submit(share_task, spec, key=f"share-{token}-{k}", pure=False)
            for k, spec in enumerate(specs)
        ]
        try:
            points = [
                client.submit(Share.points_only, f, key=f"share_points-{token}-{k}", pure=False)
                for k, f in enumerate(futures)
            ]
            joined.points(client.gather(points), n_rows)
            del points
            for k in range(len(futures)):
                joined.rows(futures[k].result())
                futures[k].release()  # the worker may drop the share now
        finally:
            for future in futures:
                future.release()
        return joined

    return retrying(read)  # a part replaced after the listing: list and read again


def _one_chunk(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array (a dictionary column's chunks share their dictionary)."""
    if column.num_chunks == 1:
        return column.chunk(0)
    if column.num_chunks == 0:
        return pa.array([], type=column.type)
    return column.combine_chunks()


def _dictionary(array: pa.Array) -> tuple[np.ndarray, list[Any]]:
    """Codes (-1: missing) and values of a dictionary array (dates: days since 1970)."""
    dictionary = array.dictionary
    indices = array.indices
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    codes = indices.to_numpy(zero_copy_only=False).astype(np.int32)
    if pa.types.is_date32(dictionary.type):
        return codes, dictionary.cast(pa.int32()).to_pylist()
    return codes, dictionary.to_pylist()


def _categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    dtype = pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
