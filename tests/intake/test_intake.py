from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import InvalidFileError, MissingColumnsError
from workbench.intake._table import load_sellers, load_shipments, load_table

HEADER = "shipment_id,seller_id,lat,lon,shipped_at,items,value_cny,coord_system\n"
# one good row, then one row per reason code; the comment names the expected reason
ROWS = {
    "ok": "W1,S1,25.4,119.0,2026-01-02,3,100.5,WGS84",
    "null_island": "W2,S1,0,0,2026-01-02,3,100.5,WGS84",
    "duplicate_key": "W1,S2,25.4,119.0,2026-01-02,3,100.5,",
    "missing_value": "W3,,25.4,119.0,2026-01-02,3,100.5,",
    "bad_coordinate": "W4,S2,abc,119.0,2026-01-02,3,100.5,",
    "bad_date": "W5,S2,25.4,119.0,2026-13-02,3,100.5,",
    "bad_number": "W6,S2,25.4,119.0,2026-01-02,3.5,100.5,",
    "unknown_coord_system": "W7,S2,25.4,119.0,2026-01-02,3,100.5,ED50",
    "out_of_range": "W8,S2,125.4,119.0,,,,",
    "missing_coordinate": "W9,S2,,,,,,",
}


@pytest.fixture
def messy_csv(tmp_path: Path) -> Path:
    path = tmp_path / "shipments.csv"
    path.write_text(HEADER + "\n".join(ROWS.values()) + "\n", encoding="utf-8")
    return path


def test_every_row_is_stored_or_quarantined_with_its_reason(messy_csv: Path) -> None:
    result = load_shipments(messy_csv)
    report = result.report
    assert report["rows_read"] == len(ROWS) == report["rows_stored"] + report["rows_quarantined"]
    assert result.frame["shipment_id"].tolist() == ["W1"]
    expected = [reason for reason in ROWS if reason != "ok"]
    assert result.quarantine["reason"].tolist() == expected
    # line numbers are file lines: header is line 1, the first data row line 2
    assert result.quarantine["row_number"].tolist() == list(range(3, 3 + len(expected)))
    raw = json.loads(result.quarantine.iloc[0]["raw"])
    assert raw["lat"] == "0" and raw["shipment_id"] == "W2"
    assert any("lat='abc'" in m for m in result.quarantine["message"])


def test_types_are_parsed(messy_csv: Path) -> None:
    frame = load_shipments(messy_csv).frame
    assert frame["lat"].dtype == "float64"
    assert frame["shipped_at"].iloc[0] == pd.Timestamp("2026-01-02")
    assert frame["items"].iloc[0] == 3


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_chinese_headers_and_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "shipments.csv"
    text = "运单号,店铺ID,纬度,经度,发货地址\nW1,S1,25.43,119.01,福建省莆田市荔城区\n"
    path.write_bytes(text.encode(encoding))
    result = load_shipments(path)
    assert result.frame.loc[0, "origin_address"] == "福建省莆田市荔城区"
    expected = {"utf-8": "utf-8", "utf-8-sig": "utf-8 (BOM)", "gb18030": "gb18030"}
    assert result.report["encoding"] == expected[encoding]


def test_semicolon_delimiter_and_explicit_mapping(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Shop;Shop name\nS1;Alpha; Ltd\n".replace("; Ltd", " Ltd"), encoding="utf-8")
    result = load_sellers(path, mapping={"seller_id": "Shop", "name": "Shop name"})
    assert result.frame.to_dict(orient="records") == [{"seller_id": "S1", "name": "Alpha Ltd"}]


def test_missing_columns_name_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text("id,where\n1,here\n", encoding="utf-8")
    with pytest.raises(
        MissingColumnsError,
        match=r"shipment_id, seller_id, lat and lon \(or origin_address\).*id, where",
    ):
        load_shipments(path)


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "sellers.parquet"
    pd.DataFrame({"seller_id": ["S1", "S1"], "name": ["a", "b"]}).to_parquet(path)
    result = load_sellers(path)
    assert result.report["rows_stored"] == 1
    assert result.quarantine["reason"].tolist() == ["duplicate_key"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.xlsx", b"PK", "not a readable XLSX workbook"),
        ("x.doc", b"PK", "unsupported file type '.doc'"),
        ("x.parquet", b"not parquet", "not a readable Parquet file"),
        ("x.csv", b"seller_id,name\nS1,Caf\xe9 M\xfcller\n", "line 2 is not valid UTF-8"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidFileError, match=message):
        load_table(path, "sellers")


def test_unknown_table_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidFileError, match="table='buyers' is not one of"):
        load_table(tmp_path / "x.csv", "buyers")
    with pytest.raises(InvalidFileError, match="no such file"):
        load_sellers(tmp_path / "missing.csv")


def test_unknown_identifier_kinds_are_kept(tmp_path: Path) -> None:
    # a WeChat id is not a kind the workbench knows; it is kept (matched exactly later)
    path = tmp_path / "identifiers.csv"
    path.write_text("seller_id,kind,value\nS1,WeChat,wx_li\nS2,Bank Card,6222\n", encoding="utf-8")
    result = load_table(path, "identifiers")
    assert result.report["rows_quarantined"] == 0
    assert result.frame["kind"].tolist() == ["wechat", "bank_card"]  # names normalised
