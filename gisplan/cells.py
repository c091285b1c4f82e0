"""Cells a spreadsheet never evaluates: the rule every table writer of gisplan follows.

Names, notes and ids come from users. A spreadsheet program evaluates a cell that starts
with ``=``, ``+``, ``-`` or ``@`` (and, in some, tab or carriage return) as a formula, so a
compound named ``=HYPERLINK("http://x","y")`` would run when the report is opened. The
OWASP CSV-injection guidance is to prefix such a cell with a single quote; an XLSX string
cell must be written with the string data type, never as a formula.

Every CSV writer calls :func:`csv_safe_frame` (or :func:`csv_safe`) — or writes through
:func:`to_csv`, which also ends lines with CRLF so that a carriage return inside a name is
quoted. Every openpyxl writer sets text with :func:`xlsx_string_cell`; the report's
XlsxWriter workbooks write text with ``write_string`` and have ``strings_to_formulas``
off (:func:`gisplan.report.write_xlsx`).

Examples
--------
>>> csv_safe("=1+1"), csv_safe("@SUM(A1)"), csv_safe("信合小区"), csv_safe(-5)
("'=1+1", "'@SUM(A1)", '信合小区', -5)
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

__all__ = ["CSV_LINE_END", "FORMULA_PREFIXES", "csv_safe", "csv_safe_frame", "to_csv",
           "xlsx_string_cell"]

#: Line end of the CSV files gisplan writes: CRLF (RFC 4180, what Excel writes). Python's
#: csv module quotes a field holding a line-end character only when that character is part
#: of its line terminator: with ``"\n"``, a bare ``"\r"`` inside a name is written as it
#: is, a spreadsheet ends the row there, and the rest of the name (``=1+1``) becomes a new
#: cell that it evaluates. With CRLF both are quoted.
CSV_LINE_END = "\r\n"

#: A text cell starting with one of these is taken as a formula by some spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Return *value* with a leading ``'`` when it is text a spreadsheet would evaluate.

    Numbers are returned as they are (``-5`` is a number, not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of *frame* whose text cells and headers are :func:`csv_safe`.

    Examples
    --------
    >>> df = pd.DataFrame({"name": ["=cmd|' /C calc'!A0", "ok"], "n": [-1, 2]})
    >>> csv_safe_frame(df)["name"].tolist(), csv_safe_frame(df)["n"].tolist()
    (["'=cmd|' /C calc'!A0", 'ok'], [-1, 2])

    Other values of a text column keep their type (a row number stays ``2``, not ``2.0``):

    >>> csv_safe_frame(pd.DataFrame({"row": pd.Series([2, None], dtype=object)}))["row"].tolist()
    [2, None]
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            # element by element: Series.map would turn [2, None] into [2.0, nan]
            out[col] = pd.Series([csv_safe(v) for v in s.to_numpy(dtype=object)],
                                 index=s.index, dtype=object)
    out.columns = [csv_safe(c) if isinstance(c, str) else c for c in out.columns]
    return out


def xlsx_string_cell(cell: Any, value: str) -> None:
    """Set an openpyxl *cell* to the text *value*, never as a formula.

    openpyxl takes any string that starts with ``=`` as a formula; assigning the value
    and then forcing the string data type stores it as text.
    """
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def to_csv(frame: pd.DataFrame, path: str | os.PathLike[str] | None = None, *,
           encoding: str = "utf-8-sig") -> str | None:
    r"""Write *frame* as a CSV no spreadsheet evaluates; return the text when *path* is None.

    :func:`csv_safe_frame`, no index, :data:`CSV_LINE_END`, UTF-8 with a BOM by default
    (so Excel reads the Chinese).

    Examples
    --------
    >>> text = to_csv(pd.DataFrame({"name": ["\r=1+1", "信合小区"]}))
    >>> text.split(CSV_LINE_END)[1] == '"' + "'" + "\r=1+1" + '"'
    True
    """
    safe = csv_safe_frame(frame)
    if path is None:
        return str(safe.to_csv(index=False, lineterminator=CSV_LINE_END))
    safe.to_csv(path, index=False, encoding=encoding, lineterminator=CSV_LINE_END)
    return None
