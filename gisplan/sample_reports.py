"""County progress reports made from a programme's log, for import demos and tests.

The files under ``layers/reports/`` were written by :func:`write_sample_reports` from the
sample programmes. They look like what counties send: a title row, a merged 开工认定标准
header over five columns, Chinese dates (``2023年6月30日``, ``2023.6.30``), consent rates
as ``"85%"`` or ``0.85``, 是/否, a misspelt compound name and, where the programme has
one, a row of a unit without geometry (经开区). ``gisplan progress import`` reads them
back.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     files = write_sample_reports("layers/xuchang_2023.gpkg", tmp)
...     [f.name for f in files]
['xuchang_2023_weekly_20230630.xlsx', 'xuchang_2023_monthly_20231031.csv']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from gisplan._errors import InputError
from gisplan.cells import to_csv, xlsx_string_cell
from gisplan.progress import compound_status, read_log, require_date, to_dates
from gisplan.sources import ProgrammeLike, as_project

__all__ = ["write_county_report", "write_sample_reports"]

#: how the report writes its date: ``2023年6月30日``, ``2023.6.30`` or ``2023-06-30``
DateStyle = Literal["cn", "dot", "iso"]
#: how the report writes a consent rate: ``"85%"`` or ``0.85``
PercentStyle = Literal["text", "share"]

_CRITERIA = ["居民同意率", "违建拆除", "设计公示", "签订施工合同", "施工队伍进场"]


def _yes(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    return "是" if bool(v) else "否"


def _body(rows: pd.DataFrame, date_text: str, percent_style: PercentStyle) -> pd.DataFrame:
    """Return the report's rows under its Chinese headers."""
    from gisplan.schema import zh as zh_term

    def pct(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        return f"{float(v) * 100:.0f}%" if percent_style == "text" else round(float(v), 4)

    def col(name: str) -> Any:
        return rows.get(name, [None] * len(rows))

    return pd.DataFrame({
        "序号": range(1, len(rows) + 1),
        "县区": rows["county"].to_numpy(),
        "小区名称": rows["name"].to_numpy(),
        "户数": [("" if pd.isna(v) else f"{int(v)}户") for v in rows.get(
            "households", pd.Series([np.nan] * len(rows)))],
        "填报日期": date_text,
        "形象进度": [zh_term("stage", s) for s in rows["stage"]],
        "居民同意率": [pct(v) for v in col("consent_rate")],
        "违建拆除": [_yes(v) for v in col("structures_removed")],
        "设计公示": [_yes(v) for v in col("design_posted")],
        "签订施工合同": [_yes(v) for v in col("contract_signed")],
        "施工队伍进场": [_yes(v) for v in col("crew_on_site")],
        "备注": "",
    })


def _write_xlsx_form(body: pd.DataFrame, path: Path, date_text: str) -> None:
    """Title row, then two header rows: 开工认定标准 merged over its five criteria."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "进度表"
    ncol = len(body.columns)
    ws.cell(row=1, column=1, value=f"老旧小区改造进度表（截至{date_text}）").font = Font(bold=True)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    for j, h in enumerate(body.columns, start=1):
        if h in _CRITERIA:
            ws.cell(row=3, column=j, value=h)
        else:
            ws.cell(row=2, column=j, value=h)
            ws.merge_cells(start_row=2, start_column=j, end_row=3, end_column=j)
    first = list(body.columns).index(_CRITERIA[0]) + 1
    ws.cell(row=2, column=first, value="开工认定标准")
    ws.merge_cells(start_row=2, start_column=first, end_row=2,
                   end_column=first + len(_CRITERIA) - 1)
    for row in ws.iter_rows(min_row=2, max_row=3):
        for c in row:
            c.alignment = Alignment(horizontal="center", vertical="center")
            c.font = Font(bold=True)
    for i, values in enumerate(body.itertuples(index=False, name=None), start=4):
        for j, v in enumerate(values, start=1):
            cell = ws.cell(row=i, column=j)
            if isinstance(v, str):
                xlsx_string_cell(cell, v)
            else:
                cell.value = v.item() if isinstance(v, np.generic) else v
    ws.freeze_panes = "A4"
    wb.save(path)


def write_county_report(
    table: pd.DataFrame,
    path: str | Path,
    *,
    as_of: Any,
    extra_row: Mapping[str, Any] | None = None,
    date_style: DateStyle = "cn",
    percent_style: PercentStyle = "text",
) -> Path:
    """Write a county progress report as counties send it (for import demos and tests).

    XLSX: a title row, then two header rows where 开工认定标准 is merged over its five
    criteria and the other headers are merged down over both rows. CSV: one header row.
    Names are written as text, never as formulas (:mod:`gisplan.cells`).

    Parameters
    ----------
    table : pandas.DataFrame
        ``county``, ``name``, ``stage`` (vocab key), ``households`` and the start
        criteria (``consent_rate``, ``structures_removed``, ...).
    path : path
        ``.xlsx`` or ``.csv``.
    as_of : date-like
        The report date, written in each row.
    extra_row : mapping, optional
        One more row (e.g. a compound of 经开区); None adds none.
    date_style : {"cn", "dot", "iso"}
        ``2023年6月30日``, ``2023.6.30`` or ``2023-06-30``.
    percent_style : {"text", "share"}
        ``"85%"`` or ``0.85``.

    Returns
    -------
    Path
    """
    day = require_date(as_of, what="report date")
    date_text = {"cn": f"{day.year}年{day.month}月{day.day}日",
                 "dot": f"{day.year}.{day.month}.{day.day}",
                 "iso": day.isoformat()}[date_style]
    rows = pd.DataFrame(table).copy()
    if extra_row is not None:
        rows = pd.concat([rows, pd.DataFrame([dict(extra_row)])], ignore_index=True)
    body = _body(rows, date_text, percent_style)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        to_csv(body, path)
    else:
        _write_xlsx_form(body, path, date_text)
    return path


def _report_rows(log: pd.DataFrame, compounds: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Return each compound's status on *as_of*, with name, county and households."""
    status = compound_status(log, as_of=as_of)
    status = status[status["compound_id"].notna()].copy()
    comp = pd.DataFrame(compounds).drop(columns="geometry", errors="ignore")
    table = status.merge(comp[["compound_id", "name", "county"] + (
        ["households"] if "households" in comp else [])], on="compound_id",
        how="left", suffixes=("_log", ""))
    table = table.sort_values(["county", "compound_id"]).reset_index(drop=True)
    if len(table) > 2:
        # a typo a county office would make: one character of one name
        nm = str(table.at[1, "name"])
        table.at[1, "name"] = nm[:-1] + ("苑" if not nm.endswith("苑") else "园")
    return table


def write_sample_reports(project: ProgrammeLike, out_dir: str | Path, *,
                         name: str | None = None) -> list[Path]:
    """Write county progress reports for import demos from a programme's log.

    Parameters
    ----------
    project : gisplan.store.Project or path
        A sample programme with a ``progress_log``.
    out_dir : path
        Where to write ``<name>_weekly_<date>.xlsx`` and ``<name>_monthly_<date>.csv``.
    name : str, optional
        File name prefix; None means the store's file stem.

    Returns
    -------
    list of Path
        The files written (deterministic content for a given store).
    """
    p = as_project(project)
    stem = name or Path(str(p.path)).stem
    log = read_log(p)
    compounds = p.read("compounds")
    dates = pd.Series([d for d in to_dates(log["date"]) if d is not None], dtype=object)
    if not len(dates):
        raise InputError("the programme has no progress log to draw reports from",
                         file=str(p.path), layer="progress_log",
                         hint="import a report first or rebuild the samples")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    year = int(pd.Series([d.year for d in dates]).mode().iloc[0])
    extra = None
    if "经开区" in [str(c) for c in (p.meta or {}).get("counties", [])]:
        extra = {"county": "经开区", "name": "佳兴南苑", "stage": "started",
                 "consent_rate": 0.86, "structures_removed": True, "design_posted": True,
                 "contract_signed": True, "crew_on_site": True, "households": 420}
    written: list[Path] = []
    for as_of, kind in ((dt.date(year, 6, 30), "weekly"), (dt.date(year, 10, 31), "monthly")):
        path = out / (f"{stem}_{kind}_{as_of:%Y%m%d}."
                      + ("xlsx" if kind == "weekly" else "csv"))
        write_county_report(_report_rows(log, compounds, as_of), path, as_of=as_of,
                            extra_row=extra,
                            date_style="cn" if kind == "weekly" else "dot",
                            percent_style="text" if kind == "weekly" else "share")
        written.append(path)
    return written
