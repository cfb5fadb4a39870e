"""The bundle's tables, twice: exact CSV for machines and an XLSX workbook for people.

A CSV holds the data exactly as the case stores it (UTF-8, RFC 4180), so an analyst who loads
it with pandas, a database or i2 gets ``+8613800138000``, not a spreadsheet workaround. A CSV
opened in a spreadsheet is not safe, though: Excel, LibreOffice and Google Sheets run a cell
that starts with ``=``, ``+``, ``-`` or ``@`` as a formula. So people get ``tables.xlsx``, in
which every text cell is stored as text (never a formula, whatever it starts with) and numbers
stay numbers. The bundle's README (the report's contents list) says which file is which.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["XLSX_CELL_CHARS", "exact_table", "write_csv", "write_xlsx"]

XLSX_CELL_CHARS = 32_767  # Excel's limit for one cell
XLSX_ROWS = 1_048_576
_CUT = "… [cut: see the CSV]"
# characters XML 1.0 cannot carry (openpyxl refuses them): shown as U+FFFD in the workbook
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _cell_text(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def exact_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` as flat values: lists joined with ``;``, mappings as JSON, dates as
    ISO text; text exactly as stored. Missing columns in ``columns`` are left out."""
    picked = frame[[c for c in columns if c in frame.columns]] if columns else frame
    out = pd.DataFrame(index=picked.index)
    for name in picked.columns:
        column = picked[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            out[name] = column
        elif pd.api.types.is_datetime64_any_dtype(column):
            out[name] = column.dt.strftime("%Y-%m-%dT%H:%M:%S").str.removesuffix("T00:00:00")
        else:
            out[name] = column.map(_cell_text, na_action="ignore").astype(object)
    return out.reset_index(drop=True)


def write_csv(
    frame: pd.DataFrame, path: str | os.PathLike[str], columns: Sequence[str] | None = None
) -> Path:
    """Write ``frame`` as exact CSV for machines (UTF-8 without BOM, CRLF, RFC 4180 quoting)."""
    target = Path(path)
    exact_table(frame, columns).to_csv(target, index=False, encoding="utf-8", lineterminator="\r\n")
    return target


def _xlsx_text(value: str) -> str:
    text = _NOT_XML.sub("\ufffd", value)
    if len(text) > XLSX_CELL_CHARS:
        text = text[: XLSX_CELL_CHARS - len(_CUT)] + _CUT
    return text


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str],
    columns: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Write one sheet per table for people: text cells as text, never formulas.

    Values too long for a cell (32,767 characters) are cut with a note; characters XML cannot
    hold are shown as U+FFFD. The header row is bold and frozen.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for name, frame in sheets.items():
        table = exact_table(frame, (columns or {}).get(name))
        sheet = book.create_sheet(title=name[:31])
        sheet.freeze_panes = "A2"
        header = []
        for title in table.columns:
            cell = WriteOnlyCell(sheet, value=_xlsx_text(str(title)))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in table.head(XLSX_ROWS - 1).itertuples(index=False):
            sheet.append([_cell(sheet, value, WriteOnlyCell) for value in row])
    target = Path(path)
    book.save(target)
    return target


def _cell(sheet: Any, value: Any, make: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return value.item() if isinstance(value, np.generic) else value
    cell = make(sheet, value=_xlsx_text(str(value)))
    cell.data_type = "s"  # text as text: a leading "=" does not make it a formula
    return cell
