"""Moving frames in and out of SQLite quickly: column conversion, bulk insert, typed reads."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATE_COLUMNS = ("registered_at", "shipped_at", "date", "first_shipped", "last_shipped")
INT_COLUMNS = ("items", "row_number", "rank", "ingest_seq")
ROWS_PER_STATEMENT = 256  # rows one INSERT statement carries, at most


def _dates(series: pd.Series) -> np.ndarray:
    values = pd.to_datetime(series).to_numpy(dtype="datetime64[s]")
    midnight = (values.astype("int64") % 86_400 == 0) | np.isnat(values)
    text = np.datetime_as_string(values, unit="D" if midnight.all() else "s")
    out = text.astype(object)
    out[np.isnat(values)] = None
    return out


def python_values(series: pd.Series) -> list[Any]:
    """A column as Python objects SQLite accepts, with None for every missing value."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return list(_dates(series))
    if pd.api.types.is_float_dtype(series) and not isinstance(series.dtype, pd.ArrowDtype):
        floats = series.to_numpy(dtype=float, na_value=np.nan)
        return _with_none(floats.tolist(), np.isnan(floats))
    if pd.api.types.is_integer_dtype(series):
        mask = series.isna().to_numpy()
        return _with_none(series.to_numpy(dtype="int64", na_value=0).tolist(), mask)
    objects = series.astype(object).to_numpy(copy=True)
    objects[pd.isna(objects)] = None
    return list(objects)


def _with_none(values: list[Any], missing: np.ndarray) -> list[Any]:
    """``values`` (a new list) with None where ``missing``."""
    for i in np.flatnonzero(missing).tolist():
        values[i] = None
    return values


def insert_frame(
    con: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    values: Sequence[list[Any]],
    *,
    conflict: str = "",
) -> None:
    """Bulk insert column lists into ``table`` (no Python row loop).

    Rows go in ``ROWS_PER_STATEMENT`` at a time, as one multi-row ``VALUES`` statement
    each (the rest in a last, shorter one): SQLite runs a statement's set-up, its
    AUTOINCREMENT bookkeeping and Python's parameter binding call once per statement, so
    storing the 190,000 site points and weekly activity rows of a run at 10M waybills
    takes half the time of a statement per row (rows, their order and their ``fid`` are
    the same). The values are laid out row after row in one object array (each column
    into every k-th place), so a statement's parameters are one slice of it: no tuple
    per row, and each value stays the Python object it was.
    """
    names = ", ".join(f'"{c}"' for c in columns)
    row = "(" + ", ".join("?" for _ in columns) + ")"
    k = len(columns)
    n = len(values[0]) if k else 0
    if any(len(column) != n for column in values):
        raise ValueError(f"{table}: columns of different lengths")
    flat = np.empty(n * k, dtype=object)
    for j, column in enumerate(values):
        flat[j::k] = column  # objects as they are: no type is inferred for an object array
    per = max(1, min(ROWS_PER_STATEMENT, _max_variables(con) // max(k, 1)))
    full = n - n % per
    if full:
        con.executemany(
            f'INSERT INTO "{table}" ({names}) VALUES {", ".join([row] * per)} {conflict}',  # noqa: S608
            (flat[i : i + per * k].tolist() for i in range(0, full * k, per * k)),
        )
    if full < n:
        marks = ", ".join([row] * (n - full))
        con.execute(
            f'INSERT INTO "{table}" ({names}) VALUES {marks} {conflict}',  # noqa: S608
            flat[full * k :].tolist(),
        )


def _max_variables(con: sqlite3.Connection) -> int:
    """The parameters one statement may take (999 on SQLite builds before 3.32)."""
    return int(con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


def read_frame(con: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run a query into a frame, with dates parsed and integer columns nullable."""
    cursor = con.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return typed(pd.DataFrame.from_records(cursor.fetchall(), columns=columns))


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates parsed and integer columns nullable, whichever reader produced the frame."""
    for column in frame.columns:
        if column in DATE_COLUMNS:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
        elif column in INT_COLUMNS:
            frame[column] = frame[column].astype("Int64")
    return frame


def quarantine_rows(
    frame: pd.DataFrame, table: str | None = None, reason: str | None = None
) -> pd.DataFrame:
    """The quarantine's rows of ``table`` and ``reason`` (None: any), renumbered; what a
    case file and a team case return from ``quarantine()``."""
    if table is not None:
        frame = frame[frame["table"] == table]
    if reason is not None:
        frame = frame[frame["reason"] == reason]
    return frame.reset_index(drop=True)


def arrow_table(frame: pd.DataFrame, columns: Sequence[str]) -> Any:
    """The columns as an Arrow table SQLite takes as is (dates as ISO text)."""
    import pyarrow as pa

    out = {}
    for column in columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[column] = pa.array(_dates(series), type=pa.string())
        else:
            out[column] = pa.array(series, from_pandas=True)
    return pa.table(out)


def point_blob_array(lon: np.ndarray, lat: np.ndarray) -> Any:
    """GeoPackage binary points as an Arrow binary array (nulls where NaN), no Python loop."""
    import pyarrow as pa

    from workbench.case._gpkg import point_records

    records = point_records(lon, lat)
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(records.dtype.itemsize), len(records), [None, pa.py_buffer(records.tobytes())]
    )
    blobs = fixed.cast(pa.binary())
    missing = np.isnan(lon) | np.isnan(lat)
    if missing.any():
        import pyarrow.compute as pc

        blobs = pc.if_else(pa.array(~missing), blobs, pa.nulls(len(blobs), pa.binary()))
    return blobs


def stage(path: str, tables: dict[str, Any], *, mode: str = "create") -> None:
    """Write Arrow tables into a scratch SQLite file in bulk (C speed, one transaction).

    ``mode="create_append"`` adds to tables an earlier call made (chunked ingest).
    """
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(path) as con:
        with con.cursor() as cursor:
            for name, table in tables.items():
                cursor.adbc_ingest(name, table, mode=mode)  # type: ignore[arg-type]
        con.commit()


def read_arrow(path: str, sql: str) -> pd.DataFrame | None:
    """Run a read-only query through ADBC in a child process; None if that fails.

    Never open the case file through ADBC in this process: see ``workbench.case._reader``.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    with tempfile.TemporaryDirectory(prefix="workbench-read-") as tmp:
        out = str(Path(tmp) / "result.arrow")
        # the reader as a script (-P: its folder not on the path): ``-m`` would import the
        # workbench and case packages first, geopandas and all (half the child's time)
        reader = str(Path(__file__).with_name("_reader.py"))
        child = subprocess.run(
            [sys.executable, "-P", reader, path, sql, out],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:  # e.g. a column whose type changes mid-table
            return None
        with pa.OSFile(out, "rb") as source:
            table = ipc.open_file(source).read_all()
    frame: pd.DataFrame = table.to_pandas()
    return frame
