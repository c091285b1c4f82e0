"""Excel and CSV reports in the form city offices use (报表).

:func:`report_tables` gathers, for one programme and one date, the tables a city office
sends upward: progress by county (进度汇总) and by 片区 (片区进度), the milestones
(里程碑), the flagged problems (问题清单), the design gaps (设计缺项), the budget by
funding source (资金来源) and, where the store holds them, the bundles (连片项目) and
facility gaps (设施缺口). :func:`write_xlsx` writes them as a workbook with a merged
title row, a date line, frozen Chinese header rows, column widths and number formats
(percent, 万元); :func:`write_csv` writes one UTF-8 CSV per table (with a BOM, so Excel
opens the Chinese correctly).

Examples
--------
>>> from gisplan.report import write_report
>>> write_report("layers/xuchang_2023.gpkg", "reports/xuchang.xlsx", as_of="2023-06-30")
[PosixPath('reports/xuchang.xlsx')]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import InputError

__all__ = [
    "Table",
    "progress_table",
    "report_tables",
    "write_county_report",
    "write_csv",
    "write_report",
    "write_xlsx",
]

#: number format per column kind
FORMATS: dict[str, str] = {
    "int": "#,##0",
    "float": "#,##0.00",
    "pct": "0.0%",
    "wan": "#,##0.000",  # 万元: the unit is in the header (金额（万元）)
    "date": "yyyy-mm-dd",
    "text": "@",
}


@dataclass
class Table:
    """One sheet of a report: a frame with Chinese headers and a column kind each.

    Attributes
    ----------
    name : str
        Sheet name (Chinese, ≤ 31 characters), also the CSV file suffix.
    title : str
        Title written above the table (merged across its columns).
    frame : pandas.DataFrame
        Columns named by their Chinese headers; the first is ``序号``.
    kinds : dict
        Header -> ``int``, ``float``, ``pct``, ``wan``, ``date`` or ``text``.
    total_row : bool
        The last row is a total (合计): written bold.
    note : str
        A line under the title (date, units).
    """

    name: str
    title: str
    frame: pd.DataFrame
    kinds: dict[str, str] = field(default_factory=dict)
    total_row: bool = False
    note: str = ""


# --------------------------------------------------------------------------- tables

_PROGRESS_COLS: list[tuple[str, str, str]] = [
    ("unit", "县区", "text"),
    ("compounds_planned", "计划小区数", "int"),
    ("households_planned", "计划户数", "int"),
    ("compounds_started", "已开工小区数", "int"),
    ("households_started", "已开工户数", "int"),
    ("start_rate", "开工率（按小区）", "pct"),
    ("start_rate_households", "开工率（按户数）", "pct"),
    ("compounds_completed", "已完工小区数", "int"),
    ("households_completed", "已完工户数", "int"),
    ("completion_rate", "完工率（按小区）", "pct"),
    ("completion_rate_households", "完工率（按户数）", "pct"),
    ("starts_flagged", "开工不符合认定标准小区数", "int"),
]


def _numbered(frame: pd.DataFrame, *, total: bool = False) -> pd.DataFrame:
    out = frame.reset_index(drop=True).copy()
    out = out.rename(columns={"序号": "序号（原表）"})  # the user's own 序号 is kept beside ours
    no: list[Any] = list(range(1, len(out) + 1))
    if total and len(out):
        no[-1] = ""
    out.insert(0, "序号", no)
    return out


def progress_table(summary: pd.DataFrame, *, unit_zh: str = "县区") -> tuple[pd.DataFrame,
                                                                            dict[str, str]]:
    """Rename a :func:`gisplan.progress.progress_summary` frame to Chinese headers.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of ``progress_summary`` (with its 合计 row last).
    unit_zh : str, default "县区"
        Header of the unit column (``片区`` for the 片区 table).

    Returns
    -------
    (pandas.DataFrame, dict)
        The table with 序号 first, and the column kinds.
    """
    cols = [(c, unit_zh if c == "unit" else h, k) for c, h, k in _PROGRESS_COLS]
    frame = summary[[c for c, _, _ in cols]].rename(columns={c: h for c, h, _ in cols})
    has_total = bool(len(frame)) and str(frame.iloc[-1, 0]) == "合计"
    kinds = {h: k for _, h, k in cols} | {"序号": "int"}
    return _numbered(frame, total=has_total), kinds


_GENERIC_ZH: dict[str, str] = {
    "bundle_id": "连片编号", "name": "名称", "county": "县区", "district": "片区",
    "street": "街道", "n_compounds": "小区数", "compounds": "小区数",
    "households": "户数", "buildings": "楼栋数", "floor_area_m2": "住宅建筑面积（平方米）",
    "area_m2": "占地面积（平方米）", "members": "成员小区", "compound_ids": "成员小区",
    "networks": "涉及管线", "owners": "管线权属单位", "share_2001_2005": "2001—2005年户数占比",
    "compound_id": "小区编号", "facility_type": "设施类型", "facility_zh": "设施类型",
    "distance_m": "步行距离（米）", "walk_m": "步行距离（米）", "limit_m": "标准距离（米）",
    "max_walk_m": "标准距离（米）", "gap": "缺口", "covered": "已覆盖", "n_gaps": "缺口数",
    "share_covered": "覆盖率", "covered_share": "覆盖率", "households_uncovered": "未覆盖户数",
    "circle": "生活圈", "reason": "原因", "flags": "标记",
}


def _generic(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return a stored analysis table with Chinese headers where known, without geometry."""
    from gisplan.schema import vocab

    df = pd.DataFrame(frame).drop(columns="geometry", errors="ignore").copy()
    ft = vocab("facility_type")
    if "facility_type" in df:
        df["facility_type"] = df["facility_type"].map(
            lambda v: f"{ft[v].zh} {v}" if v in ft else v)
    kinds: dict[str, str] = {}
    names: dict[str, str] = {}
    for col in df.columns:
        zh_name = _GENERIC_ZH.get(col)
        if zh_name is None:
            for prefix, label in (("walk_m_", "步行距离（米）："), ("gap_", "缺口：")):
                if col.startswith(prefix) and col[len(prefix):] in ft:
                    zh_name = label + ft[col[len(prefix):]].zh
        header = f"{zh_name} {col}" if zh_name and zh_name in names.values() else (
            zh_name or col)
        names[col] = header
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            df[col] = s.map({True: "是", False: "否"})
            kinds[header] = "text"
        elif pd.api.types.is_integer_dtype(s):
            kinds[header] = "int"
        elif pd.api.types.is_float_dtype(s):
            kinds[header] = "pct" if ("share" in col or "rate" in col) else "float"
        else:
            df[col] = s.map(lambda v: v if v is None or isinstance(v, str | dt.date)
                            or (isinstance(v, float) and np.isnan(v)) else str(v))
            kinds[header] = "text"
    return _numbered(df.rename(columns=names)), kinds | {"序号": "int"}


def _budget(meta: Mapping[str, Any]) -> Table | None:
    budget = meta.get("budget") or []
    if not budget:
        return None
    rows = [{"资金来源": b.get("zh") or b.get("source"), "来源代码": b.get("source"),
             "金额（万元）": float(b.get("amount_wan_yuan", np.nan))} for b in budget]
    df = pd.DataFrame(rows)
    total = df["金额（万元）"].sum()
    df["占比"] = df["金额（万元）"] / total if total else np.nan
    stated = meta.get("budget_total_wan_yuan")
    note = ""
    if stated is not None:
        diff = float(stated) - total
        note = (f"计划总投资 {float(stated):,.3f} 万元；各来源合计 {total:,.3f} 万元"
                + ("，一致" if abs(diff) < 0.0005 else f"，相差 {diff:,.3f} 万元（请核对）"))
    df.loc[len(df)] = {"资金来源": "合计", "来源代码": "", "金额（万元）": total,
                       "占比": 1.0 if total else np.nan}
    return Table("资金来源", "资金来源表", _numbered(df, total=True),
                 {"序号": "int", "资金来源": "text", "来源代码": "text", "金额（万元）": "wan",
                  "占比": "pct"}, total_row=True, note=note or "单位：万元")


def report_tables(project: Any, *, as_of: Any = None) -> list[Table]:
    """Gather the report's tables for *project* on *as_of*.

    Parameters
    ----------
    project : gisplan.store.Project or path
        The programme store.
    as_of : date-like, optional
        Status date; the latest date in the progress log by default.

    Returns
    -------
    list of Table
        进度汇总, 片区进度 (when compounds carry a 片区), 里程碑 (when the programme has
        milestones), 问题清单, 设计缺项, 资金来源 (when the metadata has a budget),
        连片项目 and 设施缺口 (when the store holds ``bundles`` / coverage layers).
    """
    from gisplan.design import design_gaps
    from gisplan.progress import (
        _open,
        _parse_dates,
        check_compounds,
        check_log,
        milestone_status,
        progress_summary,
        read_log,
    )

    p = _open(project)
    meta = p.meta or {}
    layers = set(p.layers())
    compounds = p.read("compounds")
    log = read_log(p)
    if as_of is None:
        dates = pd.to_datetime(log["date"], errors="coerce").dropna()
        as_of = dates.max() if len(dates) else pd.Timestamp.now().normalize()
    asof = _parse_dates(pd.Series([as_of])).iloc[0]
    if pd.isna(asof):
        raise InputError("as-of date not recognised", value=as_of,
                         hint="write 2023-06-30 or 2023年6月30日")
    day = f"{asof.year}年{asof.month}月{asof.day}日"
    name = meta.get("name") or Path(str(getattr(p, "path", ""))).stem
    tables: list[Table] = []

    summary = progress_summary(compounds, log, as_of=asof, by="county")
    frame, kinds = progress_table(summary)
    tables.append(Table("进度汇总", f"{name}进度汇总表", frame, kinds, total_row=True,
                        note=f"截至{day}　单位：个、户"))
    if "district" in compounds and compounds["district"].notna().any():
        summary_d = progress_summary(compounds, log, as_of=asof, by="district")
        frame, kinds = progress_table(summary_d, unit_zh="片区")
        tables.append(Table("片区进度", f"{name}分片区进度表", frame, kinds, total_row=True,
                            note=f"截至{day}　单位：个、户"))

    milestones = meta.get("milestones") or []
    if milestones:
        ms = milestone_status(compounds, log, milestones, as_of=asof,
                              start=meta.get("start_date"), by="county")
        ms = ms.assign(unit=pd.Categorical(ms["unit"], categories=list(
            dict.fromkeys(["合计", *ms["unit"]]))) ).sort_values(["unit", "due"], kind="stable")
        df = ms[["unit", "milestone_zh", "due", "measure_zh", "target", "expected", "value",
                 "state_zh"]].astype({"unit": object})
        df.columns = ["县区", "节点目标", "截止日期", "指标", "目标值", "按进度应达",
                      "实际完成", "状态"]
        tables.append(Table("里程碑", f"{name}节点目标完成情况", _numbered(df),
                            {"序号": "int", "目标值": "pct", "按进度应达": "pct",
                             "实际完成": "pct"},
                            note=f"截至{day}；按进度应达：自{meta.get('start_date') or '年初'}"
                                 "起按时间均匀推进的目标值"))

    problems = pd.concat([check_log(log, today=None), check_compounds(compounds)],
                         ignore_index=True)
    problems = problems[problems["severity"] != "info"] if len(problems) else problems
    df = problems[["county", "compound_id", "compound_name", "date", "problem_zh", "detail",
                   "code", "source_file", "source_row"]].copy()
    df.columns = ["县区", "小区编号", "小区名称", "日期", "问题类型", "说明", "问题代码",
                  "来源文件", "来源行"]
    df["来源行"] = pd.to_numeric(df["来源行"], errors="coerce").astype("Int64")
    tables.append(Table("问题清单", f"{name}问题清单", _numbered(df),
                        {"序号": "int", "来源行": "int"}, note=f"截至{day}"))

    gaps = design_gaps(compounds)
    gaps = gaps[gaps["n_missing"] > 0]
    df = gaps[["county", "compound_id", "name", "categories", "n_missing", "missing_zh",
               "unknown_items"]].copy()
    from gisplan.schema import zh as zh_term

    df["categories"] = df["categories"].map(
        lambda s: "、".join(zh_term("category", c) for c in str(s).split(";") if c))
    df.columns = ["县区", "小区编号", "小区名称", "改造类型", "缺项数", "缺少内容", "未识别内容"]
    tables.append(Table("设计缺项", f"{name}设计方案缺项清单", _numbered(df),
                        {"序号": "int", "缺项数": "int"},
                        note="依据：淮安市老旧小区改造督查通报（2023）、国办发〔2020〕23号"))

    budget = _budget(meta)
    if budget is not None:
        tables.append(budget)
    if "bundles" in layers:
        frame, kinds = _generic(p.read("bundles"))
        tables.append(Table("连片项目", f"{name}连片改造项目", frame, kinds))
    for layer in ("coverage_gaps", "coverage_summary"):
        if layer in layers:
            frame, kinds = _generic(p.read(layer))
            tables.append(Table("设施缺口", f"{name}配套设施缺口", frame, kinds))
            break
    return tables


# --------------------------------------------------------------------------- writers


def _width(values: pd.Series, header: str) -> float:
    def w(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    longest = max([w(str(header)), *(w(str(v)) for v in values.head(200) if v is not None)])
    return float(min(max(longest + 2, 6), 60))


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def _named_styles(wb: Any) -> None:
    """Register the report's cell styles once per workbook (fast to assign by name)."""
    from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side

    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    title = NamedStyle("gp_title", font=Font(bold=True, size=14),
                       alignment=Alignment(horizontal="center"))
    head = NamedStyle("gp_head", font=Font(bold=True), border=border,
                      fill=PatternFill("solid", fgColor="DDEBF7"),
                      alignment=Alignment(horizontal="center", vertical="center",
                                          wrap_text=True))
    wb.add_named_style(title)
    wb.add_named_style(head)
    for kind in ("general", *FORMATS):
        fmt = FORMATS.get(kind, "General") if kind != "text" else "General"
        wb.add_named_style(NamedStyle(f"gp_{kind}", border=border, number_format=fmt))
        wb.add_named_style(NamedStyle(f"gp_{kind}_total", border=border, number_format=fmt,
                                      font=Font(bold=True)))


def _write_sheet(ws: Any, table: Table) -> None:
    frame = table.frame
    ncol = max(len(frame.columns), 1)
    ws.cell(row=1, column=1, value=table.title).style = "gp_title"
    ws.cell(row=2, column=1, value=table.note)
    if ncol > 1:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncol)
    for j, header in enumerate(frame.columns, start=1):
        ws.cell(row=3, column=j, value=str(header)).style = "gp_head"
    styles = []
    for header in frame.columns:
        kind = table.kinds.get(str(header))
        styles.append(f"gp_{kind}" if kind in FORMATS else "gp_general")
    last = 3 + len(frame) if table.total_row else -1
    for i, row in enumerate(frame.itertuples(index=False, name=None), start=4):
        suffix = "_total" if i == last else ""
        for j, (style, value) in enumerate(zip(styles, row, strict=True), start=1):
            ws.cell(row=i, column=j, value=_cell(value)).style = style + suffix
    for j, header in enumerate(frame.columns, start=1):
        from openpyxl.utils import get_column_letter

        ws.column_dimensions[get_column_letter(j)].width = _width(frame[header], str(header))
    ws.freeze_panes = "B4" if "县区" in frame.columns[:2] or "片区" in frame.columns[:2] else "A4"


def write_xlsx(tables: list[Table], path: str | Path) -> Path:
    """Write *tables* as one workbook, a sheet per table.

    Each sheet: row 1 the title (merged), row 2 the date and units (merged), row 3 the
    Chinese headers (frozen with the rows above), then the rows; number formats by
    column kind (``0.0%`` for rates, ``#,##0.000"万元"`` for money); widths fitted to the
    Chinese text.

    Parameters
    ----------
    tables : list of Table
    path : path
        The ``.xlsx`` file (parent directories are created).

    Returns
    -------
    Path
    """
    from openpyxl import Workbook

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    wb.remove(wb.active)
    _named_styles(wb)
    for t in tables:
        _write_sheet(wb.create_sheet(t.name[:31]), t)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


def _csv_frame(table: Table) -> pd.DataFrame:
    df = table.frame.copy()
    for header, kind in table.kinds.items():
        if header not in df:
            continue
        if kind == "pct":
            df[header] = df[header].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        elif kind == "wan":
            df[header] = df[header].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
        elif kind == "int":
            df[header] = pd.to_numeric(df[header], errors="coerce").map(
                lambda v: "" if pd.isna(v) else f"{v:.0f}")
    return df


def write_csv(tables: list[Table], path: str | Path) -> list[Path]:
    """Write *tables* as CSV files (UTF-8 with BOM, so Excel reads the Chinese).

    The first table goes to *path*; the others to ``<stem>_<sheet name>.csv`` beside it.
    Rates are written as ``85.0%``, money in 万元 with three decimals.

    Parameters
    ----------
    tables : list of Table
    path : path
        The first CSV file.

    Returns
    -------
    list of Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for k, t in enumerate(tables):
        target = path if k == 0 else path.with_name(f"{path.stem}_{t.name}.csv")
        _csv_frame(t).to_csv(target, index=False, encoding="utf-8-sig")
        out.append(target)
    return out


def write_report(project: Any, out: str | Path, *, as_of: Any = None) -> list[Path]:
    """Write the programme report as XLSX (one workbook) or CSV (a file per table).

    Parameters
    ----------
    project : gisplan.store.Project or path
    out : path
        ``.xlsx`` for a workbook, ``.csv`` for CSV files.
    as_of : date-like, optional
        Status date (latest date in the log by default).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out)
    tables = report_tables(project, as_of=as_of)
    if out.suffix.lower() == ".xlsx":
        return [write_xlsx(tables, out)]
    if out.suffix.lower() == ".csv":
        return write_csv(tables, out)
    raise InputError("unsupported report format", file=str(out),
                     hint="end the file name in .xlsx or .csv")


# --------------------------------------------------------------------------- county forms


def write_county_report(
    table: pd.DataFrame,
    path: str | Path,
    *,
    as_of: Any,
    extra_row: Mapping[str, Any] | None = None,
    date_style: str = "cn",
    percent_style: str = "text",
) -> Path:
    """Write a county progress report as counties send it (for import demos and tests).

    XLSX: a title row, then two header rows where 开工认定标准 is merged over its five
    criteria and the other headers are merged down over both rows. CSV: one header row.

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
        One more row (e.g. a compound of 经开区).
    date_style : {"cn", "dot", "iso"}
        ``2023年6月30日``, ``2023.6.30`` or ``2023-06-30``.
    percent_style : {"text", "share"}
        ``"85%"`` or ``0.85``.

    Returns
    -------
    Path
    """
    from gisplan.schema import zh as zh_term

    day = pd.Timestamp(as_of)
    date_text = {"cn": f"{day.year}年{day.month}月{day.day}日",
                 "dot": f"{day.year}.{day.month}.{day.day}",
                 "iso": day.strftime("%Y-%m-%d")}[date_style]
    rows = pd.DataFrame(table).copy()
    if extra_row is not None:
        rows = pd.concat([rows, pd.DataFrame([dict(extra_row)])], ignore_index=True)

    def yes(v: Any) -> str:
        return "" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) \
            else ("是" if bool(v) else "否")

    def pct(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        return f"{float(v) * 100:.0f}%" if percent_style == "text" else round(float(v), 4)

    body = pd.DataFrame({
        "序号": range(1, len(rows) + 1),
        "县区": rows["county"].to_numpy(),
        "小区名称": rows["name"].to_numpy(),
        "户数": [("" if pd.isna(v) else f"{int(v)}户") for v in rows.get(
            "households", pd.Series([np.nan] * len(rows)))],
        "填报日期": date_text,
        "形象进度": [zh_term("stage", s) for s in rows["stage"]],
        "居民同意率": [pct(v) for v in rows.get("consent_rate", [None] * len(rows))],
        "违建拆除": [yes(v) for v in rows.get("structures_removed", [None] * len(rows))],
        "设计公示": [yes(v) for v in rows.get("design_posted", [None] * len(rows))],
        "签订施工合同": [yes(v) for v in rows.get("contract_signed", [None] * len(rows))],
        "施工队伍进场": [yes(v) for v in rows.get("crew_on_site", [None] * len(rows))],
        "备注": "",
    })
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        body.to_csv(path, index=False, encoding="utf-8-sig")
        return path
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "进度表"
    ncol = len(body.columns)
    ws.cell(row=1, column=1, value=f"老旧小区改造进度表（截至{date_text}）").font = Font(bold=True)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    crit = ["居民同意率", "违建拆除", "设计公示", "签订施工合同", "施工队伍进场"]
    for j, h in enumerate(body.columns, start=1):
        if h in crit:
            ws.cell(row=3, column=j, value=h)
        else:
            ws.cell(row=2, column=j, value=h)
            ws.merge_cells(start_row=2, start_column=j, end_row=3, end_column=j)
    first = list(body.columns).index(crit[0]) + 1
    ws.cell(row=2, column=first, value="开工认定标准")
    ws.merge_cells(start_row=2, start_column=first, end_row=2, end_column=first + len(crit) - 1)
    for row in ws.iter_rows(min_row=2, max_row=3):
        for c in row:
            c.alignment = Alignment(horizontal="center", vertical="center")
            c.font = Font(bold=True)
    for i, values in enumerate(body.itertuples(index=False, name=None), start=4):
        for j, v in enumerate(values, start=1):
            ws.cell(row=i, column=j, value=_cell(v))
    ws.freeze_panes = "A4"
    wb.save(path)
    return path
