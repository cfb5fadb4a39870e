"""Hostile and broken files: no row silently lost, no memory bomb, one clear error each."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from workbench.errors import InputError, InvalidFileError
from workbench.intake import load_table

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
def test_a_one_gib_xlsx_cell_is_refused_within_bounded_memory(tmp_path: Path) -> None:
    path = _bomb_xlsx(tmp_path / "sellers.xlsx", 1 << 30)
    code = (
        "import re, sys\n"
        "from workbench.intake import load_table\n"
        "try:\n"
        "    load_table(sys.argv[1], 'sellers')\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error)\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0].startswith("InvalidFileError") and "row 3" in out[0]
    assert int(out[-1]) < 500, f"refusing the file took {out[-1]} MiB"


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
