"""XLSX sheets as text chunks, with the checks a spreadsheet from outside needs.

openpyxl's read-only mode streams rows, but it trusts the sheet's declared ``<dimension>``
(a stale one silently drops rows) and builds every cell's text whole (a 1 MB file can hold a
1 GiB cell). :func:`check_cells` scans the sheet and shared-string XML in blocks first and
refuses any cell over :data:`MAX_CELL_BYTES`, naming the row.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import InvalidFileError
from workbench.intake._read import FileInfo, RawChunk, check_header, list_chunk

MAX_CELL_BYTES = 1 << 20  # 1 MiB of text in one cell: far beyond any real field
_BLOCK = 1 << 22
_ROW = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d+)"')


def check_cells(path: Path) -> None:
    """Refuse a workbook whose sheets or shared strings hold a text over MAX_CELL_BYTES."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidFileError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    with archive:
        for info in archive.infolist():
            name = info.filename
            if name.endswith(".xml") and (
                name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"
            ):
                _scan(path, archive, name)


def _scan(path: Path, archive: zipfile.ZipFile, name: str) -> None:
    """Text between tags, in blocks; raise at the first run over the limit, naming its row."""
    run = 0  # bytes of text since the last "<", carried over from the blocks before
    last_row = 0  # the last row opened (its r="N" attribute)
    with archive.open(name) as handle:
        while block := handle.read(_BLOCK):
            parts = block.split(b"<")
            if run + len(parts[0]) > MAX_CELL_BYTES:
                _refuse(path, name, last_row)
            if max(len(p) for p in parts) > MAX_CELL_BYTES:
                offset = 0
                for part in parts:  # only on the way to an error: find where it starts
                    if len(part) > MAX_CELL_BYTES:
                        break
                    offset += len(part) + 1
                _refuse(path, name, _last_row(block[:offset], last_row))
            last_row = _last_row(block, last_row)
            run = run + len(block) if len(parts) == 1 else len(parts[-1])


def _last_row(xml: bytes, before: int) -> int:
    found = _ROW.findall(xml)
    return int(found[-1]) if found else before


def _refuse(path: Path, name: str, row: int) -> None:
    where = "the shared strings" if name == "xl/sharedStrings.xml" else f"row {row}"
    raise InvalidFileError(
        f"{path}: {where} ({name.rsplit('/', 1)[-1]}) holds a text of more than "
        f"{MAX_CELL_BYTES >> 20} MiB in one cell; cells are limited to that (is this an export?)"
    )


def xlsx_chunks(
    path: Path, info: FileInfo, sheet: str | None, chunk_rows: int
) -> Iterator[RawChunk]:
    import openpyxl

    """Rows of a sheet as text chunks; the declared dimension is ignored (it can be stale)."""
    info.format = "xlsx"
    check_cells(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors
        raise InvalidFileError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InvalidFileError(
                f"{path}: no sheet {sheet!r}; sheets: {', '.join(book.sheetnames)}"
            )
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        info.encoding = f"sheet {ws.title}"
        # read-only sheets stop at the row their <dimension> names: never trust it
        ws.reset_dimensions()
        rows = ws.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise InvalidFileError(f"{path}: sheet {ws.title!r} is empty; expected a header row")
        header = [str(h).strip() if h is not None else "" for h in first]
        while header and not header[-1]:
            header.pop()
        check_header(path, header)
        info.columns = header
        width = len(header)
        buffer: list[list[str]] = []
        numbers: list[int] = []
        rejected: list[dict[str, Any]] = []
        for number, row in enumerate(rows, start=2):
            cells = [cell_text(v) for v in row]
            if not any(cells):
                continue  # spreadsheets pad with empty rows
            extra = [c for c in cells[width:] if c]
            if extra:
                rejected.append(
                    {
                        "row_number": number,
                        "raw": json.dumps(cells, ensure_ascii=False),
                        "message": f"has values beyond the header's {width} columns",
                    }
                )
                continue
            buffer.append((cells + [""] * width)[:width])
            numbers.append(number)
            if len(buffer) >= chunk_rows:
                yield list_chunk(header, buffer, numbers, rejected)
                buffer, numbers, rejected = [], [], []
        yield list_chunk(header, buffer, numbers, rejected)
    finally:
        book.close()


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value).removesuffix(".0")
    if hasattr(value, "isoformat"):
        text: str = value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
        return text.removesuffix(" 00:00:00")
    return str(value)
