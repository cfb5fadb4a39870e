"""The waybill columns the site finder uses, as the frame it takes (private to ``case``):
read by :mod:`workbench.case._site_arrays`, shaped here (sellers, brands and precision
levels as categoricals, dates as categoricals of days)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.case._listing import retrying
from workbench.case._parts import at_points, read_parts
from workbench.case._site_arrays import (
    COLUMNS,
    Columns,
    Parts,
    parts_of,
    read_columns,
    take_early_read,
)


def site_frame(con: sqlite3.Connection) -> pd.DataFrame:
    """The waybill columns the site finder uses, shaped for it: sellers, brands and
    precision levels as categoricals, dates as categoricals of days (a few hundred values
    instead of millions); replaced rows left out."""
    return retrying(lambda: frame_of(read_columns(parts_of(con))))


def site_frame_ahead(con: sqlite3.Connection) -> Callable[[], pd.DataFrame]:
    """:func:`site_frame` read on a background thread: returns at once with the function
    that waits for the frame, so the caller's work meanwhile (loading the kernels, linking
    the sellers) overlaps the read. The parts are listed here, on the caller's connection:
    a SQLite connection stays on its thread. A read started before the case was opened
    (:func:`workbench.case._site_arrays.start_early_read`) is taken when it read the same
    parts."""
    parts = parts_of(con)
    future = take_early_read(con, parts)
    if future is None:
        pool = ThreadPoolExecutor(1, thread_name_prefix="workbench-site-input")
        future = pool.submit(read_columns, parts)
        pool.shutdown(wait=False)

    def frame() -> pd.DataFrame:
        try:
            return frame_of(future.result())
        except FileNotFoundError:  # a part was replaced after the listing: read it again
            return site_frame(con)

    return frame


def frame_of_parts(parts: Parts) -> pd.DataFrame:
    """The frame of ``parts`` (files or buffers of GeoParquet parts, with their replaced
    rows), read here."""
    return frame_of(read_columns(parts))


def frame_of(columns: Columns) -> pd.DataFrame:
    """The frame of the columns read (no copy of the arrays)."""
    out: dict[str, object] = {name: v[: columns.rows] for name, v in columns.floats.items()}
    for name, codes in columns.codes.items():
        names = list(codes.index)
        if name == "shipped_at":
            categories = pd.Index(np.array(names, dtype=np.int64).astype("datetime64[D]"))
            categories = categories.astype("datetime64[s]")
        else:
            categories = pd.Index(names, dtype=str if names else object)
        out[name] = pd.Categorical.from_codes(
            codes.codes[: columns.rows], dtype=pd.CategoricalDtype(categories), validate=False
        )
    return pd.DataFrame({name: out[name] for name in COLUMNS}, copy=False)


def site_waybills(con: sqlite3.Connection, points: pd.DataFrame, before_seq: int) -> pd.DataFrame:
    """The waybills stored before ingest ``before_seq`` at one of ``points`` (lat, lon) whose
    precision is enough to take part in clustering: a site's waybills, read from the row
    groups around its points only (every waybill when there are no points)."""
    from workbench.sites._finder import PRECISE_ENOUGH

    if points.empty:
        return read_parts(con, before_seq=0).to_pandas()
    box = (
        float(points["lat"].min()),
        float(points["lon"].min()),
        float(points["lat"].max()),
        float(points["lon"].max()),
    )
    table = read_parts(con, bbox=box, before_seq=before_seq)
    lat, lon = (table.column(c).to_pandas() for c in ("lat", "lon"))
    at = at_points(pd.DataFrame({"lat": lat, "lon": lon}), points).to_numpy()
    precise = pc.is_in(table.column("precision"), pa.array(PRECISE_ENOUGH))
    keep = at & precise.to_numpy(zero_copy_only=False)
    # filtered in Arrow, then converted: a pandas take over Arrow strings cost 1.7 s for
    # the 860k waybills of a hub at 10M
    return table.filter(pa.array(keep)).to_pandas(split_blocks=True, self_destruct=True)
