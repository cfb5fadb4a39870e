"""The waybill columns the site finder reads, shaped for it (private to ``case``)."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.case._parts import read_parts


def site_frame(con: sqlite3.Connection) -> pd.DataFrame:
    """The waybill columns the site finder uses, shaped for it: sellers, brands and
    precision levels as categoricals, dates as categoricals of days (a few hundred values
    instead of millions)."""
    table = read_parts(
        con,
        ["seller_id", "lat", "lon", "shipped_at", "value_cny", "brand", "precision"],
        dictionary=("seller_id", "brand", "precision"),
    )
    days = pc.dictionary_encode(table.column("shipped_at").cast(pa.date32()))
    table = table.set_column(table.schema.get_field_index("shipped_at"), "shipped_at", days)
    # one dictionary per column across the row groups, and one block per column: pandas
    # neither unifies categories nor copies the columns into one block (half the time)
    table = table.drop_columns("ingest_seq").unify_dictionaries()
    return table.to_pandas(split_blocks=True, self_destruct=True)
