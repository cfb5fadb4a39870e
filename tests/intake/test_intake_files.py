"""Intake of real-world exports: formats, mappings, coordinates and every kind of bad input.

Each test states the rule; row accounting (read = stored + quarantined) is checked on every
reader and every bad-input case.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from workbench import generate_demo
from workbench.coords import haversine_m, wgs84_to_bd09, wgs84_to_gcj02
from workbench.errors import InputError, InvalidFileError, MissingColumnsError
from workbench.intake._table import load_sellers, load_shipments, load_table, stream_table

PUTIAN = (25.4394, 119.0103)


def accounted(result) -> None:  # type: ignore[no-untyped-def]
    r = result.report
    assert r["rows_read"] == r["rows_stored"] + r["rows_quarantined"], r
    assert r["rows_stored"] == len(result.frame)
    assert r["rows_quarantined"] == len(result.quarantine)


def write(tmp_path: Path, text: str, name: str = "shipments.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# -- every reader ----------------------------------------------------------------------------
MESSY = pd.DataFrame(
    {
        "shipment_id": ["W1", "W2", "W1", "W4", "W5"],
        "seller_id": ["S1", "S1", "S2", "", "S3"],
        "lat": [25.4394, 0.0, 25.44, 25.44, 25.44],
        "lon": [119.0103, 0.0, 119.01, 119.01, 119.01],
        "items": [3, 1, 2, 2, -4],
    }
)
MESSY_REASONS = ["null_island", "duplicate_key", "missing_value", "bad_number"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx", ".parquet", ".geojson", ".gpkg"])
def test_every_reader_accounts_for_every_row(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"shipments{suffix}"
    if suffix == ".csv":
        MESSY.to_csv(path, index=False)
    elif suffix == ".tsv":
        MESSY.to_csv(path, index=False, sep="\t")
    elif suffix == ".xlsx":
        MESSY.to_excel(path, index=False)
    elif suffix == ".parquet":
        MESSY.to_parquet(path)
    else:
        frame = gpd.GeoDataFrame(
            MESSY.drop(columns=["lat", "lon"]),
            geometry=gpd.points_from_xy(MESSY["lon"], MESSY["lat"]),
            crs="EPSG:4326",
        )
        frame.to_file(path, driver="GPKG" if suffix == ".gpkg" else "GeoJSON")
    result = load_shipments(path)
    accounted(result)
    assert result.frame["shipment_id"].tolist() == ["W1"]
    assert result.frame["lat"].iloc[0] == pytest.approx(25.4394)
    assert result.quarantine["reason"].tolist() == MESSY_REASONS
    assert result.quarantine["row_number"].tolist() == [3, 4, 5, 6]


# -- encodings and delimiters ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("encoding", "reported"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8 (BOM)"), ("gbk", "gb18030")],
)
def test_encodings_are_detected_and_reported(tmp_path: Path, encoding: str, reported: str) -> None:
    text = "运单号,店铺ID,纬度,经度,发货地址\nW1,S1,25.43,119.01,福建省莆田市荔城区\n"
    result = load_shipments(write(tmp_path, text, encoding=encoding))
    assert result.report["encoding"] == reported
    assert result.frame.loc[0, "origin_address"] == "福建省莆田市荔城区"


def test_a_bad_byte_late_in_the_file_is_found(tmp_path: Path) -> None:
    rows = "".join(f"S{i},shop {i}\n" for i in range(5000))
    path = tmp_path / "sellers.csv"
    path.write_bytes(("seller_id,name\n" + rows).encode() + b"S9,Caf\xe9 M\xfcller\n")
    with pytest.raises(InvalidFileError, match=r"line 5002 is not valid UTF-8.*encoding"):
        load_sellers(path)


def test_utf16_with_a_bom_is_read(tmp_path: Path) -> None:
    result = load_sellers(write(tmp_path, "seller_id,name\nS1,莆田鞋业\n", "sellers.csv", "utf-16"))
    assert result.frame.loc[0, "name"] == "莆田鞋业"
    assert result.report["encoding"] == "utf-16"


def test_a_declared_encoding_is_used(tmp_path: Path) -> None:
    path = write(tmp_path, "seller_id,name\nS1,Café Müller\n", "sellers.csv", "latin-1")
    result = load_sellers(path, mapping={"sellers": {"encoding": "latin-1"}})
    assert result.frame.loc[0, "name"] == "Café Müller"
    assert result.report["encoding"] == "latin-1"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(["seller_id", "name", "platform"]) + "\n"
    text += delimiter.join(["S1", "Alpha Ltd", "taobao"]) + "\n"
    result = load_sellers(write(tmp_path, text, "sellers.csv"))
    assert result.frame.iloc[0].tolist() == ["S1", "Alpha Ltd", "taobao"]
    assert result.report["delimiter"] == delimiter


# -- bad input ---------------------------------------------------------------------------------
def test_ragged_rows_are_quarantined_with_their_row_numbers(tmp_path: Path) -> None:
    text = "seller_id,name\nS1,a\nS2,b,extra\nS3\nS4,d\n"
    result = load_sellers(write(tmp_path, text, "sellers.csv"))
    accounted(result)
    assert result.frame["seller_id"].tolist() == ["S1", "S4"]
    q = result.quarantine
    assert q["reason"].tolist() == ["ragged_row", "ragged_row"]
    assert q["row_number"].tolist() == [3, 4]
    assert q["raw"].tolist() == ["S2,b,extra", "S3"]
    assert "has 3 fields where the header has 2" in q["message"].iloc[0]


def test_duplicate_ids_are_kept_once_and_reported(tmp_path: Path) -> None:
    text = "seller_id,name\nS1,first\nS2,b\nS1,second\n S1 ,third\n"
    result = load_sellers(write(tmp_path, text, "sellers.csv"))
    accounted(result)
    assert result.frame.set_index("seller_id").loc["S1", "name"] == "first"
    assert result.quarantine["reason"].tolist() == ["duplicate_key", "duplicate_key"]
    assert result.quarantine["row_number"].tolist() == [4, 5]


def test_duplicates_are_found_across_chunks(tmp_path: Path) -> None:
    text = "seller_id\n" + "".join(f"S{i}\n" for i in range(10)) + "S3\n"
    result = load_table(write(tmp_path, text, "sellers.csv"), "sellers", chunk_rows=4)
    accounted(result)
    assert result.quarantine["row_number"].tolist() == [12]


def test_dates_in_mixed_formats_are_read_and_repairs_counted(tmp_path: Path) -> None:
    dates = [
        "2026-03-01",
        "2026/03/02",
        "2026.03.03",
        "20260304",
        "2026年3月5日",
        "2026-03-06 14:30:00",
    ]
    text = "shipment_id,seller_id,lat,lon,shipped_at\n" + "".join(
        f"W{i},S1,25.4,119.0,{d}\n" for i, d in enumerate(dates)
    )
    result = load_shipments(write(tmp_path, text))
    accounted(result)
    days = result.frame["shipped_at"].dt.strftime("%Y-%m-%d").tolist()
    assert days == [f"2026-03-0{i}" for i in range(1, 7)]
    assert result.report["repairs"]["shipped_at_reformatted"] == 5


def test_unparseable_and_ambiguous_dates(tmp_path: Path) -> None:
    rows = ["2026-02-30", "next tuesday", "03/04/2026", "05/05/2026"]
    text = "shipment_id,seller_id,lat,lon,shipped_at\n" + "".join(
        f"W{i},S1,25.4,119.0,{d}\n" for i, d in enumerate(rows)
    )
    result = load_shipments(write(tmp_path, text))
    accounted(result)
    assert result.quarantine["reason"].tolist() == ["bad_date", "bad_date", "ambiguous_date"]
    assert "set dayfirst in the mapping" in result.quarantine["message"].iloc[2]
    # 05/05 reads the same either way; with dayfirst declared 03/04 is 3 April
    fixed = load_shipments(write(tmp_path, text), mapping={"shipments": {"dayfirst": True}})
    assert fixed.frame["shipped_at"].dt.strftime("%m-%d").tolist()[-2:] == ["04-03", "05-05"]


def test_impossible_days_and_short_years_are_not_rolled_over(tmp_path: Path) -> None:
    """Arrow's strptime reads 2026-04-31 as 1 May and 26-03-05 as the year 26: both stay
    bad dates, in every year-first form, while real days 1-3 and 29-31 are read."""
    bad = ["2026-04-31", "2026/02/29", "2026.02.30", "20260431", "2026年2月31日", "26-03-05"]
    good = ["2024-02-29", "2026/03/01", "2026.03.31", "20260403", "2026年1月2日", "0999-03-05"]
    text = "shipment_id,seller_id,lat,lon,shipped_at\n" + "".join(
        f"W{i},S1,25.4,119.0,{d}\n" for i, d in enumerate(bad + good)
    )
    result = load_shipments(write(tmp_path, text))
    accounted(result)
    assert result.quarantine["reason"].tolist() == ["bad_date"] * len(bad)
    assert result.frame["shipped_at"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-02-29", "2026-03-01", "2026-03-31", "2026-04-03", "2026-01-02", "0999-03-05",
    ]  # fmt: skip


def test_day_first_is_learned_from_the_file(tmp_path: Path) -> None:
    text = (
        "shipment_id,seller_id,lat,lon,shipped_at\n"
        "W1,S1,25.4,119,25/03/2026\nW2,S1,25.4,119,03/04/2026\n"
    )
    result = load_shipments(write(tmp_path, text))
    assert result.frame["shipped_at"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-03-25",
        "2026-04-03",
    ]


def test_negative_counts_and_non_numeric_values(tmp_path: Path) -> None:
    text = (
        "shipment_id,seller_id,lat,lon,items,value_cny\n"
        "W1,S1,25.4,119,-2,10\nW2,S1,25.4,119,2,ten\nW3,S1,25.4,119,1.5,1\n"
    )
    result = load_shipments(write(tmp_path, text))
    accounted(result)
    assert result.quarantine["reason"].tolist() == ["bad_number"] * 3
    assert "items='-2' is not a non-negative int" in result.quarantine["message"].iloc[0]


def test_non_numeric_coordinates_without_an_address_are_quarantined(tmp_path: Path) -> None:
    text = "shipment_id,seller_id,lat,lon\nW1,S1,25.4N,119.0\nW2,S1,,\n"
    result = load_shipments(write(tmp_path, text))
    accounted(result)
    assert result.quarantine["reason"].tolist() == ["bad_coordinate", "missing_coordinate"]


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidFileError, match="the file is empty"):
        load_sellers(write(tmp_path, "", "sellers.csv"))


def test_header_only_file_loads_nothing_and_says_so(tmp_path: Path) -> None:
    result = load_sellers(write(tmp_path, "seller_id,name\n", "sellers.csv"))
    accounted(result)
    assert result.report["rows_read"] == 0
    assert result.report["warnings"] == ["the file has a header but no rows"]


def test_a_mapping_naming_a_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "店铺,名称\nS1,a\n", "sellers.csv")
    with pytest.raises(
        MissingColumnsError, match=r"names column '店铺编号'.*columns present: 店铺, 名称"
    ):
        load_sellers(path, mapping={"seller_id": "店铺编号"})


def test_mapping_errors_list_what_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path, "seller_id\nS1\n", "sellers.csv")
    with pytest.raises(InputError, match=r"no field\(s\) \['shop'\]; fields: seller_id"):
        load_sellers(path, mapping={"sellers": {"columns": {"shop": "seller_id"}}})
    with pytest.raises(InputError, match=r"unknown key\(s\) \['encodng'\]"):
        load_sellers(path, mapping={"sellers": {"encodng": "gbk"}})


def test_ambiguous_synonyms_must_be_mapped(tmp_path: Path) -> None:
    path = write(tmp_path, "seller_id,shop_id\nS1,S2\n", "sellers.csv")
    with pytest.raises(InputError, match=r"could each be 'seller_id'"):
        load_sellers(path)


HOSTILE = ["tab\there", "bell\x07", "\u202eevil\u202c", "x" * 5000, "=1+2", "<b>b</b>"]


def test_strings_are_stored_exactly_as_given(tmp_path: Path) -> None:
    frame = pd.DataFrame({"seller_id": [f"S{i}" for i in range(len(HOSTILE))], "name": HOSTILE})
    path = tmp_path / "sellers.csv"
    frame.to_csv(path, index=False)
    result = load_sellers(path)
    accounted(result)
    assert result.frame["name"].tolist() == HOSTILE


def test_streaming_gives_the_same_result_as_one_chunk(tmp_path: Path) -> None:
    demo = generate_demo(tmp_path / "d", n_shipments=5_000, n_background_sellers=40, defects=True)
    whole = load_shipments(demo.shipments)
    stream = stream_table(demo.shipments, "shipments", chunk_rows=700)
    parts = list(stream)
    assert max(len(p.frame) + len(p.quarantine) for p in parts) <= 700
    assert len(parts) >= 5000 // 700
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(frame, whole.frame)
    assert stream.report["quarantine_reasons"] == whole.report["quarantine_reasons"]
    assert stream.report["rows_read"] == whole.report["rows_read"]


# -- coordinates -------------------------------------------------------------------------------
def test_swapped_coordinates_are_repaired_and_flagged(tmp_path: Path) -> None:
    text = "shipment_id,seller_id,lat,lon\nW1,S1,119.0103,25.4394\nW2,S1,25.4394,119.0103\n"
    result = load_shipments(write(tmp_path, text))
    accounted(result)
    assert result.frame[["lat", "lon"]].to_numpy().tolist() == [list(PUTIAN), list(PUTIAN)]
    assert result.frame["repair"].tolist() == ["swapped_lat_lon", ""]
    assert result.frame["source_lat"].iloc[0] == 119.0103  # as given, kept


def test_a_swap_inside_range_needs_the_country(tmp_path: Path) -> None:
    # Kashgar (39.47 N, 75.99 E) swapped is a valid point in Russia: only the declared
    # country (or the address) tells it is swapped
    text = "shipment_id,seller_id,lat,lon\nW1,S1,75.99,39.47\n"
    as_given = load_shipments(write(tmp_path, text))
    assert as_given.frame["lat"].iloc[0] == 75.99
    declared = load_shipments(write(tmp_path, text), mapping={"shipments": {"country": "CN"}})
    assert declared.frame["lat"].iloc[0] == 39.47
    assert declared.report["repairs"] == {"swapped_lat_lon": 1}


def test_gcj02_and_bd09_rows_become_wgs84_within_a_metre(tmp_path: Path) -> None:
    glat, glon = wgs84_to_gcj02(*PUTIAN)
    blat, blon = wgs84_to_bd09(*PUTIAN)
    text = (
        "shipment_id,seller_id,lat,lon,coord_system\n"
        f"W1,S1,{glat:.7f},{glon:.7f},GCJ-02\nW2,S1,{blat:.7f},{blon:.7f},百度\n"
        f"W3,S1,{PUTIAN[0]},{PUTIAN[1]},\n"
    )
    result = load_shipments(write(tmp_path, text))
    accounted(result)
    frame = result.frame
    err = haversine_m(frame["lat"].to_numpy(), frame["lon"].to_numpy(), *PUTIAN)
    assert (err < 1.0).all(), err
    assert frame["coord_system"].tolist() == ["gcj02", "bd09", "wgs84"]
    assert frame["repair"].tolist() == ["gcj02_to_wgs84", "bd09_to_wgs84", ""]
    # the shift was real: about 500 m in Fujian
    assert haversine_m(glat, glon, *PUTIAN) > 300


def test_a_file_default_coordinate_system(tmp_path: Path) -> None:
    glat, glon = wgs84_to_gcj02(*PUTIAN)
    text = f"shipment_id,seller_id,lat,lon\nW1,S1,{glat:.7f},{glon:.7f}\n"
    result = load_shipments(write(tmp_path, text))
    assert haversine_m(result.frame["lat"].iloc[0], result.frame["lon"].iloc[0], *PUTIAN) > 300
    result = load_shipments(
        write(tmp_path, text), mapping={"shipments": {"default_coord_system": "gcj02"}}
    )
    assert haversine_m(result.frame["lat"].iloc[0], result.frame["lon"].iloc[0], *PUTIAN) < 1


def test_null_island_with_an_address_is_geocoded_with_its_precision(tmp_path: Path) -> None:
    text = (
        "shipment_id,seller_id,lat,lon,origin_address\n"
        "W1,S1,0,0,福建省莆田市\nW2,S1,0,0,\nW3,S1,,,浙江省义乌市\nW4,S1,abc,1,nowhere at all\n"
    )
    result = load_shipments(write(tmp_path, text))
    accounted(result)
    frame = result.frame.set_index("shipment_id")
    assert list(frame.index) == ["W1", "W3"]
    assert frame.loc["W1", "precision"] == "city"
    assert haversine_m(frame.loc["W1", "lat"], frame.loc["W1", "lon"], *PUTIAN) < 15_000
    assert frame.loc["W3", "repair"] == "geocoded_from_address"
    assert result.quarantine["reason"].tolist() == ["null_island", "bad_coordinate"]


def test_address_only_shipments_are_geocoded(tmp_path: Path) -> None:
    text = "运单号,店铺ID,发货地址\nW1,S1,广东省广州市白云区\nW2,S1,\n"
    result = load_shipments(write(tmp_path, text))
    accounted(result)
    assert result.frame["precision"].tolist() == ["district"]
    assert result.quarantine["reason"].tolist() == ["missing_coordinate"]


# -- the partner export: Chinese headers, GBK, GCJ-02 / BD-09, through a mapping file ----------
def test_partner_export_loads_through_its_mapping_file(tmp_path: Path) -> None:
    demo = generate_demo(tmp_path / "d", n_shipments=20_000, n_background_sellers=40, partner=True)
    truth = json.loads(demo.truth.read_text(encoding="utf-8"))["partner"]
    folder = demo.folder / "partner"
    result = load_shipments(folder / truth["file"], mapping=folder / "mapping.yaml")
    accounted(result)
    assert result.report["encoding"] == "gb18030"
    assert result.report["rows_quarantined"] == 0
    assert result.report["rows_stored"] == truth["rows"]
    original = load_shipments(demo.shipments).frame.iloc[::10].reset_index(drop=True)
    err = haversine_m(
        result.frame["lat"].to_numpy(),
        result.frame["lon"].to_numpy(),
        original["lat"].to_numpy(),
        original["lon"].to_numpy(),
    )
    assert err.max() < 1.0, err.max()
    assert set(result.report["repairs"]) >= {"gcj02_to_wgs84", "bd09_to_wgs84"}
    assert (result.frame["shipped_at"].to_numpy() == original["shipped_at"].to_numpy()).all()
    assert np.isclose(result.frame["value_cny"], original["value_cny"]).all()


@pytest.mark.parametrize("in_files_after", [0, 120, 10_000])
def test_duplicates_are_found_across_chunks_and_the_parts_of_seen_keys(
    tmp_path: Path, monkeypatch, in_files_after: int
) -> None:
    from workbench.intake._rules import KeySeen

    monkeypatch.setattr(KeySeen, "PARTS", 4)
    monkeypatch.setattr(KeySeen, "MEMORY_KEYS", in_files_after)  # seen keys move to files
    ids = [f"S{i}" for i in range(400)]
    again = ids[::37] + ids[-3:]  # repeats from every part of the key space
    lines = [f"{s},n" for s in ids + again]
    result = load_table(
        write(tmp_path, "seller_id,name\n" + "\n".join(lines) + "\n", "sellers.csv"),
        "sellers",
        chunk_rows=25,
    )
    accounted(result)
    assert result.frame["seller_id"].tolist() == ids
    assert result.quarantine["reason"].tolist() == ["duplicate_key"] * len(again)
    assert result.quarantine["row_number"].tolist() == list(range(402, 402 + len(again)))


def test_a_bad_byte_past_the_checked_head_is_found_by_the_reader(
    tmp_path: Path, monkeypatch
) -> None:
    from workbench.intake import _encoding

    monkeypatch.setattr(_encoding, "HEAD_BYTES", 4096)  # only the head is checked up front
    rows = "".join(f"S{i},shop {i}\n" for i in range(5000))
    path = tmp_path / "sellers.csv"
    path.write_bytes(("seller_id,name\n" + rows).encode() + b"S9,Caf\xe9 M\xfcller\n")
    with pytest.raises(InvalidFileError, match=r"line 5002 is not valid UTF-8.*encoding"):
        load_table(path, "sellers", chunk_rows=1000)


def test_a_gbk_file_with_a_plain_head_says_to_name_its_encoding(
    tmp_path: Path, monkeypatch
) -> None:
    from workbench.intake import _encoding

    monkeypatch.setattr(_encoding, "HEAD_BYTES", 4096)
    rows = "".join(f"S{i},shop {i}\n" for i in range(5000)) + "S9x,莆田鞋业\n"
    path = tmp_path / "sellers.csv"
    path.write_bytes(("seller_id,name\n" + rows).encode("gbk"))
    with pytest.raises(InvalidFileError, match=r"line 5002 .*`encoding: gb18030`"):
        load_table(path, "sellers", chunk_rows=1000)
    mapping = {"sellers": {"encoding": "gb18030"}}
    result = load_table(path, "sellers", mapping=mapping)
    assert result.frame["name"].iloc[-1] == "莆田鞋业"
