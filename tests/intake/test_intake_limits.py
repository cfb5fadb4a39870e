"""Hostile and broken files: no row silently lost, no memory bomb, one clear error each."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from workbench.errors import InputError, InvalidFileError
from workbench.intake._table import load_table

HEADER = ["seller_id", "name", "platform", "registered_address"]


def _xlsx(path: Path, n_rows: int) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for i in range(n_rows):
        sheet.append([f"S{i:04d}", f"Shop {i}", "tmall", "Putian"])
    book.save(path)
    return path


def _rewrite_sheet(path: Path, edit) -> None:
    """Replace the first worksheet's XML by ``edit(xml)`` (a str -> str function)."""
    with zipfile.ZipFile(path) as old:
        items = [(i, old.read(i)) for i in old.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in items:
            if info.filename == "xl/worksheets/sheet1.xml":
                data = edit(data.decode("utf-8")).encode("utf-8")
            new.writestr(info, data)


def test_a_stale_xlsx_dimension_loses_no_row(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "sellers.xlsx", 1000)
    # the sheet claims to hold 2 data rows; 1,000 are there
    stale = '<dimension ref="A1:J3"'
    _rewrite_sheet(path, lambda xml: re.sub(r'<dimension ref="[^"]+"', stale, xml))
    result = load_table(path, "sellers")
    assert result.report["rows_read"] == 1000
    assert len(result.frame) == 1000 and len(result.quarantine) == 0


def _bomb_xlsx(path: Path, n_chars: int) -> Path:
    """A small XLSX whose second data row holds one inline string of ``n_chars`` characters."""
    _xlsx(path, 3)
    with zipfile.ZipFile(path) as old:
        items = [(i, old.read(i)) for i in old.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in items:
            if info.filename != "xl/worksheets/sheet1.xml":
                new.writestr(info, data)
                continue
            xml = data.decode("utf-8")
            head, tail = xml.split('<row r="3"', 1)
            tail = tail.split("</row>", 1)[1]
            with new.open(info.filename, "w", force_zip64=True) as out:
                out.write(head.encode())
                out.write(b'<row r="3"><c r="A3" t="inlineStr"><is><t>')
                block = b"x" * (1 << 20)
                for _ in range(n_chars >> 20):
                    out.write(block)
                out.write(b"</t></is></c></row>")
                out.write(tail.encode())
    return path


def test_an_xlsx_cell_bomb_is_refused_naming_the_row(tmp_path: Path) -> None:
    path = _bomb_xlsx(tmp_path / "sellers.xlsx", 8 << 20)
    assert path.stat().st_size < 200_000  # 8 MiB of text in a small file
    with pytest.raises(InvalidFileError, match=r"sellers\.xlsx: row 3 .*more than 1 MiB"):
        load_table(path, "sellers")


@pytest.mark.slow
def test_a_one_gib_xlsx_cell_is_refused_within_bounded_memory(tmp_path: Path, in_child) -> None:
    path = _bomb_xlsx(tmp_path / "sellers.xlsx", 1 << 30)
    code = (
        "import sys\n"
        "from workbench.intake import load_table\n"
        "try:\n"
        "    load_table(sys.argv[1], 'sellers')\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    out, peak_mib = in_child(code, str(path))
    assert out[0].startswith("InvalidFileError") and "row 3" in out[0]
    assert peak_mib < 500, f"refusing the file took {peak_mib} MiB"


def _mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_aliases_in_a_mapping_are_refused(tmp_path: Path) -> None:
    # the "billion laughs": 369 bytes that expand to gigabytes through nested aliases
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    path = _mapping(tmp_path, "\n".join(lines) + "\n")
    sellers = tmp_path / "sellers.csv"
    sellers.write_text("seller_id\nS1\n", encoding="utf-8")
    with pytest.raises(InvalidFileError, match=r"mapping\.yaml: .*aliases"):
        load_table(sellers, "sellers", mapping=path)


# -- one line that says what to do, never a traceback -----------------------------------------
def _sellers_csv(tmp_path: Path) -> Path:
    path = tmp_path / "sellers.csv"
    path.write_text("seller_id,name\nS1,Shop 1\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("encoding: 5", r"sellers\.encoding: expected the name of a text encoding"),
        ("encoding: [utf-8]", r"sellers\.encoding: expected the name of a text encoding"),
        ("encoding: rot13", r"sellers\.encoding: 'rot13' is not a text encoding"),
        ("delimiter: ';;'", r"sellers\.delimiter: expected one character"),
        ("columns: [a, b]", r"sellers\.columns: expected field: column pairs"),
        ("columns: {name: [a]}", r"sellers\.columns\.name: expected a column name"),
        ("coord_system: [wgs84]", r"sellers\.coord_system: expected one of wgs84, gcj02, bd09"),
        ("coord_system: mercator", r"sellers\.coord_system: 'mercator' is not"),
        ("country: {a: 1}", r"sellers\.country: expected a country code"),
        ("sheet: [1]", r"sellers\.sheet: expected a sheet name"),
    ],
)
def test_mapping_values_of_the_wrong_kind_are_named(
    tmp_path: Path, section: str, message: str
) -> None:
    path = _mapping(tmp_path, f"sellers:\n  {section}\n")
    with pytest.raises(InputError, match=message):
        load_table(_sellers_csv(tmp_path), "sellers", mapping=path)


def _parquet(tmp_path: Path, column) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"seller_id": pa.array(["S1", "S2", "S3"]), "name": column})
    path = tmp_path / "sellers.parquet"
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda pa: pa.array([["a"], ["b"], []], type=pa.list_(pa.string())), "list<"),
        (lambda pa: pa.array([{"x": 1}, {"x": 2}, {"x": 3}]), "struct<"),
        (lambda pa: pa.array([[("k", 1)], [], []], type=pa.map_(pa.string(), pa.int64())), "map<"),
    ],
)
def test_nested_parquet_columns_are_refused_by_name(tmp_path: Path, make, kind: str) -> None:
    import pyarrow as pa

    path = _parquet(tmp_path, make(pa))
    with pytest.raises(InvalidFileError, match=rf"column 'name' is {re.escape(kind)}"):
        load_table(path, "sellers")


def test_binary_parquet_values_that_are_not_utf8_are_quarantined(tmp_path: Path) -> None:
    import pyarrow as pa

    path = _parquet(tmp_path, pa.array([b"Shop 1", b"\xff\xfe bad", "店".encode()]))
    result = load_table(path, "sellers")
    assert list(result.frame["name"]) == ["Shop 1", "店"]
    (row,) = result.quarantine.itertuples()
    assert row.row_number == 3 and "name" in row.message and "UTF-8" in row.message
    assert result.report["rows_read"] == 3  # read = stored + quarantined


def test_a_flat_section_maps_the_per_row_coord_system_column(tmp_path: Path) -> None:
    path = tmp_path / "ships.csv"
    path.write_text(
        "运单号,店铺,lat,lon,坐标\nW1,S1,25.4,119.0,gcj02\nW2,S1,25.4,119.0,wgs84\n",
        encoding="utf-8",
    )
    flat = {"shipment_id": "运单号", "seller_id": "店铺", "coord_system": "坐标"}
    result = load_table(path, "shipments", mapping={"shipments": flat})
    assert result.frame["coord_system"].tolist() == ["gcj02", "wgs84"]


# -- text files ------------------------------------------------------------------------------
def test_utf32_files_are_read_as_utf32(tmp_path: Path) -> None:
    path = tmp_path / "sellers.csv"
    path.write_bytes("seller_id,name\nS1,莆田鞋厂\n".encode("utf-32"))  # with its BOM
    result = load_table(path, "sellers")
    assert result.report["encoding"].startswith("utf-32")
    assert result.frame["name"].tolist() == ["莆田鞋厂"]


def test_a_header_over_64_kb_is_read_whole(tmp_path: Path) -> None:
    extra = [f"extra_column_{i:05d}" for i in range(5000)]  # ~90 KB of header
    path = tmp_path / "sellers.csv"
    path.write_text(
        ",".join(["seller_id", "name", *extra]) + "\n" + ",".join(["S1", "Shop", *extra]) + "\n",
        encoding="utf-8",
    )
    result = load_table(path, "sellers")
    assert result.frame["seller_id"].tolist() == ["S1"] and len(result.quarantine) == 0


def test_a_huge_header_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "sellers.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("seller_id,name," + "x" * (3 << 20) + "\nS1,Shop,\n")
    with pytest.raises(InvalidFileError, match=r"sellers\.csv: the header row is longer than"):
        load_table(path, "sellers")


def test_a_huge_value_is_refused_naming_its_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "sellers.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("seller_id,name,platform\nS1,Shop 1,tmall\nS2,Shop 2,tmall\n")
        out.write("S3," + "y" * (8 << 20) + ",tmall\nS4,Shop 4,tmall\n")
    with pytest.raises(
        InvalidFileError, match=r"sellers\.csv: row 4, field 'name': a value longer than"
    ):
        load_table(path, "sellers")


def test_an_unterminated_quote_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "sellers.csv"
    path.write_text(
        'seller_id,name,platform\nS1,"Shop 1,tmall\nS2,Shop 2,tmall\nS3,Shop 3,tmall\n'
        'S4,"Shop, 4",tmall\nS5,Shop 5,tmall\n',
        encoding="utf-8",
    )
    result = load_table(path, "sellers")
    (row,) = result.quarantine.itertuples()
    assert row.row_number == 2
    assert "unterminated quote" in row.message and "4 lines" in row.message
    assert "S2" in row.raw and "S3" in row.raw  # the swallowed rows are kept, in the raw text


def test_gb18030_four_byte_characters_are_valid_gb18030(tmp_path: Path) -> None:
    path = tmp_path / "sellers.csv"
    text = "店铺ID,店铺名称\nS1,莆田鞋厂\nS2,\u202e莆田鞋业\nS3,福建省莆田市荔城区鞋厂\n"
    path.write_bytes(text.encode("gb18030"))
    assert "\u202e".encode("gb18030") == b"\x81\x36\xa7\x31"  # a four-byte sequence
    result = load_table(path, "sellers")
    assert result.report["encoding"] == "gb18030"
    assert result.frame["name"].tolist() == ["莆田鞋厂", "\u202e莆田鞋业", "福建省莆田市荔城区鞋厂"]


def test_a_small_gb18030_file_whose_only_wide_characters_are_four_byte(tmp_path: Path) -> None:
    path = tmp_path / "sellers.csv"
    # a right-to-left override and an emoji: both four-byte GB18030, neither in GB2312
    path.write_bytes("seller_id,name\nS1,\u202eShop\nS2,Nike \U0001f45f\n".encode("gb18030"))
    result = load_table(path, "sellers")
    assert result.frame["name"].tolist() == ["\u202eShop", "Nike \U0001f45f"]


def test_latin1_is_still_not_taken_for_gb18030(tmp_path: Path) -> None:
    path = tmp_path / "sellers.csv"
    path.write_bytes("seller_id,name\nS1,Café Crème Brûlée\nS2,Señor Zapato\n".encode("latin-1"))
    with pytest.raises(InvalidFileError, match="not valid UTF-8"):
        load_table(path, "sellers")


# -- timestamps with an offset: the instant is kept, the local date is China's (UTC+8) ---------
def _ships_csv(tmp_path: Path, stamps: list[str]) -> Path:
    path = tmp_path / "ships.csv"
    rows = [f"W{i},S1,25.4,119.0,{s}" for i, s in enumerate(stamps)]
    path.write_text("shipment_id,seller_id,lat,lon,shipped_at\n" + "\n".join(rows) + "\n")
    return path


def test_iso_8601_timestamps_with_offsets_keep_their_instant(tmp_path: Path) -> None:
    stamps = [
        "2026-03-01T10:00:00+08:00",  # already China time
        "2026-03-01T02:00:00Z",  # the same instant in UTC
        "2026-03-01T20:30:00.250Z",  # UTC evening: the next day in China
        "2026-03-01T10:00:00.5",  # fractional seconds, no offset: taken as written
        "2026-03-01 09:00:00-05:00",  # New York morning: 22:00 in China
    ]
    result = load_table(_ships_csv(tmp_path, stamps), "shipments")
    assert len(result.quarantine) == 0, result.quarantine["message"].tolist()
    assert [str(t) for t in result.frame["shipped_at"]] == [
        "2026-03-01 10:00:00",
        "2026-03-01 10:00:00",
        "2026-03-02 04:30:00",
        "2026-03-01 10:00:00",
        "2026-03-01 22:00:00",
    ]


def test_a_mapping_can_name_the_local_time_zone(tmp_path: Path) -> None:
    path = _ships_csv(tmp_path, ["2026-03-01T20:30:00Z"])
    result = load_table(path, "shipments", mapping={"shipments": {"timezone": "Europe/London"}})
    assert str(result.frame["shipped_at"].iloc[0]) == "2026-03-01 20:30:00"
    with pytest.raises(InputError, match=r"shipments\.timezone: 'Mars/Olympus' is not"):
        load_table(path, "shipments", mapping={"shipments": {"timezone": "Mars/Olympus"}})


def test_timezone_aware_parquet_timestamps_keep_their_instant(tmp_path: Path) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = pd.to_datetime(["2026-03-01T02:00:00Z", "2026-03-01T20:30:00Z"], utc=True)
    table = pa.table({
        "shipment_id": ["W1", "W2"], "seller_id": ["S1", "S1"], "lat": [25.4, 25.4],
        "lon": [119.0, 119.0], "shipped_at": pa.array(stamps, type=pa.timestamp("us", "UTC")),
    })  # fmt: skip
    path = tmp_path / "ships.parquet"
    pq.write_table(table, path)
    result = load_table(path, "shipments")
    assert len(result.quarantine) == 0, result.quarantine["message"].tolist()
    assert [str(t) for t in result.frame["shipped_at"]] == [
        "2026-03-01 10:00:00",
        "2026-03-02 04:30:00",
    ]
