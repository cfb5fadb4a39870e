"""Tables for spreadsheets: UTF-8 CSV with a byte-order mark, safe against formula injection.

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula (tab and carriage return can hide such a start). Every text cell that starts
with one of them, or with its full-width form, gets a leading apostrophe: the spreadsheet
shows the text as text and the apostrophe tells a reader that the cell was changed.
Numbers stay numbers, so a negative amount is not altered.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FORMULA_START", "neutralise", "safe_table", "write_csv"]

FORMULA_START = re.compile(r"^[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]")


def neutralise(text: str) -> str:
    """``text`` with an apostrophe in front when a spreadsheet would run it as a formula.

    >>> neutralise("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralise("Nike")
    'Nike'
    """
    return "'" + text if FORMULA_START.match(text) else text


def _cell_text(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def safe_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` ready for a spreadsheet: lists joined with ``;``, dates as ISO
    text, every text cell neutralised. Missing columns in ``columns`` are left out."""
    picked = frame[[c for c in columns if c in frame.columns]] if columns else frame
    out = pd.DataFrame(index=picked.index)
    for name in picked.columns:
        column = picked[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            out[name] = column
            continue
        if pd.api.types.is_datetime64_any_dtype(column):
            out[name] = column.dt.strftime("%Y-%m-%dT%H:%M:%S").str.removesuffix("T00:00:00")
            continue
        text = column.map(_cell_text, na_action="ignore").astype(object)
        text = text.map(lambda v: neutralise(str(v)), na_action="ignore")
        out[name] = text.astype("str")
    return out.reset_index(drop=True)


def write_csv(
    frame: pd.DataFrame, path: str | os.PathLike[str], columns: Sequence[str] | None = None
) -> Path:
    """Write ``frame`` as a spreadsheet-safe CSV (UTF-8 with BOM, CRLF, RFC 4180 quoting)."""
    target = Path(path)
    safe_table(frame, columns).to_csv(
        target, index=False, encoding="utf-8-sig", lineterminator="\r\n"
    )
    return target
