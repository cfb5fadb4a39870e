"""The waybill columns a case hands the site finder (``Case.site_input``), read a few row
groups at a time: the same frame as reading every part whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from workbench.case import _part_write, _parts, _site_input
from workbench.case._case import open_case
from workbench.intake._table import IntakeResult

COLUMNS = ["seller_id", "lat", "lon", "shipped_at", "value_cny", "brand", "precision"]


def waybills(ids: list[str], lat: float, sellers: list[str]) -> IntakeResult:
    """Waybills with a gap in every optional column: row 2 has no brand, precision, value
    or date, row 3 no coordinates."""
    n = len(ids)
    frame = pd.DataFrame(
        {
            "shipment_id": ids,
            "seller_id": [sellers[i % len(sellers)] for i in range(n)],
            "lat": lat + np.arange(n) * 1e-4,
            "lon": 119.01 + np.arange(n) * 1e-4,
            "shipped_at": pd.Timestamp("2026-03-02") + pd.to_timedelta(np.arange(n) % 4, "D"),
            "value_cny": np.arange(n) * 1.5,
            "brand": [["Nike", "Gucci", "Apple"][i % 3] for i in range(n)],
            "precision": [["exact", "street", "city"][i % 3] for i in range(n)],
        }
    )
    frame.loc[2, ["brand", "precision", "value_cny", "shipped_at"]] = None
    frame.loc[3, ["lat", "lon"]] = np.nan
    report = {"table": "shipments", "source": "x.csv", "sha256": f"{n:064d}", "rows_read": n}
    return IntakeResult("shipments", frame, frame.iloc[0:0], report)


def whole_read(case_path: Path) -> pd.DataFrame:
    """The frame as reading every part at once gives it (what ``site_input`` did before)."""
    with open_case(case_path, create=False) as case:
        table = _parts.read_parts(
            case._con, COLUMNS, dictionary=("seller_id", "brand", "precision")
        )
    days = pc.dictionary_encode(table.column("shipped_at").cast(pa.date32()))
    table = table.set_column(table.schema.get_field_index("shipped_at"), "shipped_at", days)
    return table.drop_columns("ingest_seq").unify_dictionaries().to_pandas()


def as_values(column: pd.Series) -> list[object]:
    """Values as plain objects (days as ISO dates), missing as None."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    return [
        None if pd.isna(v) else str(pd.Timestamp(v).date()) if hasattr(v, "year") else v
        for v in column
    ]


@pytest.fixture
def case_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # row groups of 4 rows: each group has its own dictionaries (sellers S0-S4 in the
    # first ingest appear group by group); the second ingest replaces W5 and W6 of the
    # first part (marked as replaced rows, not rewritten) and adds sellers S5, S6
    monkeypatch.setattr(_part_write, "ROW_GROUP_ROWS", 4)
    path = tmp_path / "c.gpkg"
    with open_case(path) as case:
        case.ingest([waybills([f"W{i}" for i in range(12)], 25.44, ["S0", "S1", "S2", "S3"])])
        case.ingest([waybills(["W5", "W6", "X1", "X2"], 30.0, ["S5", "S0", "S6"])])
    return path


@pytest.mark.parametrize("batch_rows", [1, 8, 10_000])
def test_site_input_equals_reading_every_part_whole(
    case_path: Path, batch_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # batches of one row group, of two (the first batch holds W5 and W6, replaced, and
    # dictionaries of two groups) and of every row group of a part: the same frame
    monkeypatch.setattr(_site_input, "BATCH_ROWS", batch_rows)
    expected = whole_read(case_path)
    with open_case(case_path, create=False) as case:
        got = case.site_input()
        assert case.n_waybills() == len(got) == 14  # 12 + 4 - 2 replaced
    assert list(got.columns) == COLUMNS
    for name in COLUMNS:
        assert as_values(got[name]) == as_values(expected[name]), name
    for name in ("seller_id", "brand", "precision"):  # one table of names, in the same order
        assert list(got[name].cat.categories) == list(expected[name].cat.categories), name
    days = [str(d.date()) for d in got["shipped_at"].cat.categories]
    assert days == [str(d) for d in expected["shipped_at"].cat.categories]
    assert got["value_cny"].isna().sum() == 2 and got["lat"].isna().sum() == 2


def test_site_input_of_a_case_without_waybills(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        frame = case.site_input()
    assert list(frame.columns) == COLUMNS and len(frame) == 0
