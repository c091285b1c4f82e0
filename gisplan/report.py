"""Excel and CSV reports in the form city offices use (报表).

:func:`report_tables` gathers, for one programme and one date, the tables a city office
sends upward: progress by county (进度汇总) and by 片区 (片区进度), the milestones
(里程碑), the flagged problems (问题清单), the design gaps (设计缺项), the budget by
funding source (资金来源) and, where the store holds them, the bundles (连片项目) and
facility gaps (设施缺口). :func:`write_xlsx` writes them as a workbook with a merged
title row, a date line, frozen Chinese header rows, column widths and number formats
(percent, 万元); :func:`write_csv` writes one UTF-8 CSV per table (with a BOM, so Excel
opens the Chinese correctly). Every header is Chinese, and the notes sheet 列名说明 gives
the canonical column behind each header of the stored tables; a column the user brought
keeps its own name. No cell is ever a formula: names from users are string cells in XLSX and
quote-prefixed in CSV where a spreadsheet would evaluate them (:mod:`gisplan.cells`).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from gisplan.report import write_report
>>> with tempfile.TemporaryDirectory() as tmp:
...     [p.name for p in write_report("layers/xuchang_2023.gpkg", Path(tmp) / "xuchang.xlsx",
...                                   as_of="2023-06-30")]
['xuchang.xlsx']
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from gisplan._errors import InputError
from gisplan.cells import (
    CSV_LINE_END,
    FORMULA_PREFIXES,
    csv_safe,
    csv_safe_frame,
)
from gisplan.progress import (
    DateLike,
    Level,
    check_compounds,
    check_log,
    milestone_status,
    progress_series,
    progress_summary,
    read_log,
    require_date,
    to_dates,
)
from gisplan.sources import ProgrammeLike, as_project, read_layers

__all__ = [
    "Table",
    "numbered",
    "progress_table",
    "report_tables",
    "write_csv",
    "write_report",
    "write_xlsx",
]

#: how a column is formatted: integer, decimal, percent, 万元, date or text
Kind = Literal["int", "float", "pct", "wan", "date", "text"]

#: number format per column kind
FORMATS: dict[str, str] = {
    "int": "#,##0",
    "float": "#,##0.00",
    "pct": "0.0%",
    "wan": "#,##0.000",  # 万元: the unit is in the header (金额（万元）)
    "date": "yyyy-mm-dd",
    "text": "@",
}


@dataclass(frozen=True)
class LineSpec:
    """A native line chart over a block of rows of a :class:`Table` (进度曲线).

    Attributes
    ----------
    title : str
    rows : tuple of int
        First and last row of the block (0-based positions in the table's frame, inclusive).
    category : str
        Header of the column on the horizontal axis (日期).
    series : tuple of str
        Headers of the plotted columns (rates 0–1).
    """

    title: str
    rows: tuple[int, int]
    category: str
    series: tuple[str, ...]


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
    fields : dict
        Header -> the canonical column name it shows (``片区名称`` -> ``district_name``),
        for the notes sheet 列名说明; headers the report makes itself are not listed.
    charts : list of LineSpec
        Native line charts drawn beside the table (XLSX only).
    """

    name: str
    title: str
    frame: pd.DataFrame
    kinds: Mapping[str, Kind] = field(default_factory=dict)
    total_row: bool = False
    note: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    charts: list[LineSpec] = field(default_factory=list)


# --------------------------------------------------------------------------- tables

_PROGRESS_COLS: list[tuple[str, str, Kind]] = [
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


def progress_table(summary: pd.DataFrame, *, unit_zh: str = "县区"
                   ) -> tuple[pd.DataFrame, dict[str, Kind]]:
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
    kinds: dict[str, Kind] = {h: k for _, h, k in cols} | {"序号": "int"}
    return numbered(frame, total=has_total), kinds


#: Chinese headers of the columns of stored analysis tables (bundles, coverage); the
#: columns of the compounds schema take their schema name (``schema.toml``)
_GENERIC_ZH: dict[str, str] = {
    "bundle_id": "连片编号", "name": "名称", "county": "县区", "district": "片区",
    "district_name": "片区名称", "street": "街道", "n_compounds": "小区数", "compounds": "小区数",
    "households": "户数", "households_2001_2005": "2001—2005年建成小区户数",
    "buildings": "楼栋数", "floor_area_m2": "住宅建筑面积（平方米）",
    "area_m2": "占地面积（平方米）", "land_area_m2": "占地面积（平方米）",
    "span_m": "范围跨度（米）", "members": "成员小区", "compound_ids": "成员小区",
    "networks": "涉及管线", "utility_networks": "涉及管线", "owners": "管线权属单位",
    "utility_owners": "管线权属单位", "oldest_install_year": "最早敷设年份",
    "shared_line_pairs": "共用管线小区对数", "share_2001_2005": "2001—2005年户数占比",
    "compound_id": "小区编号", "facility_type": "设施类型", "facility_zh": "设施类型",
    "distance_m": "步行距离（米）", "walk_m": "步行距离（米）", "limit_m": "标准距离（米）",
    "max_walk_m": "标准距离（米）", "standard_m": "标准距离（米）", "gap": "缺口",
    "covered": "已覆盖", "gaps": "缺口设施代码", "gaps_zh": "缺口设施", "n_gaps": "缺口数",
    "share_covered": "覆盖率", "covered_share": "覆盖率",
    "share_compounds": "覆盖率（按小区）", "share_households": "覆盖率（按户数）",
    "compounds_covered": "已覆盖小区数", "households_covered": "已覆盖户数",
    "households_uncovered": "未覆盖户数", "households_unknown": "户数不详小区数",
    "snap_m": "接入路网距离（米）", "access_from": "步行起点", "coverage_method": "距离算法",
    "level": "层级", "unit": "单位", "circle": "生活圈", "reason": "原因", "flags": "标记",
}
#: per-facility columns: ``<prefix><facility type>`` -> label + the type's Chinese name
_PER_FACILITY_ZH: tuple[tuple[str, str], ...] = (
    ("walk_m_", "步行距离（米）："), ("straight_m_", "直线距离（米）："),
    ("covered_", "已覆盖："), ("gap_", "缺口："),
)
#: the report's own running number; a user column of that name is kept as 原序号
_NUMBER = "序号"


def _unique(header: str, taken: set[str], col: str) -> str:
    """*header*, or ``header col`` (then numbered) when another column already has it."""
    out = header if header not in taken else f"{header} {col}"
    k = 2
    while out in taken:
        out, k = f"{header} {col} {k}", k + 1
    taken.add(out)
    return out


def numbered(frame: pd.DataFrame, *, total: bool = False) -> pd.DataFrame:
    """Return *frame* with the running number 序号 first (blank on a total row).

    A column the user called 序号 is kept, as 原序号: the report never drops or
    overwrites a user's column.
    """
    out = frame.reset_index(drop=True).copy()
    if _NUMBER in out.columns:
        taken = {str(c) for c in out.columns}
        out = out.rename(columns={_NUMBER: _unique("原" + _NUMBER, taken, _NUMBER)})
    no: list[Any] = list(range(1, len(out) + 1))
    if total and len(out):
        no[-1] = ""
    out.insert(0, _NUMBER, no)
    return out


def _header_zh(col: str, facility_types: Mapping[str, Any]) -> str | None:
    """Return the Chinese header of a stored column, None when it has none."""
    from gisplan.schema import layer_schema

    if col in _GENERIC_ZH:
        return _GENERIC_ZH[col]
    for prefix, label in _PER_FACILITY_ZH:
        if col.startswith(prefix) and col[len(prefix):] in facility_types:
            return label + facility_types[col[len(prefix):]].zh
    known = {c.name: c.zh for c in layer_schema("compounds").columns}
    return known.get(col)


def _kind(s: pd.Series, col: str) -> Kind:
    if pd.api.types.is_bool_dtype(s):
        return "text"
    if pd.api.types.is_integer_dtype(s):
        return "int"
    if pd.api.types.is_float_dtype(s):
        if col.endswith("_wan_yuan"):
            return "wan"
        return "pct" if ("share" in col or "rate" in col) else "float"
    return "text"


def _generic(frame: pd.DataFrame, headers: Mapping[str, str] | None = None, *,
             total: bool = False) -> tuple[pd.DataFrame, dict[str, Kind], dict[str, str]]:
    """Return a stored analysis table with Chinese headers, without geometry.

    Columns gisplan knows get their Chinese name (*headers* first, when given); a column
    the user brought keeps its own name (序号 becomes 原序号, the report numbers its rows
    itself). *total*: the last row is a total (合计), left unnumbered.
    """
    from gisplan.schema import vocab

    df = pd.DataFrame(frame).drop(columns="geometry", errors="ignore").copy()
    ft = vocab("facility_type")
    if "facility_type" in df:
        df["facility_type"] = df["facility_type"].map(
            lambda v: f"{ft[v].zh} {v}" if v in ft else v)
    kinds: dict[str, Kind] = {}
    names: dict[Any, str] = {}
    taken = {_NUMBER}
    for col in df.columns:
        zh_name = (headers or {}).get(str(col)) or _header_zh(str(col), ft)
        header = _unique(zh_name or str(col), taken, str(col))
        if header == _NUMBER or (zh_name is None and str(col) == _NUMBER):
            header = _unique("原" + _NUMBER, taken, str(col))
        names[col] = header
        s = df[col]
        kinds[header] = _kind(s, str(col))
        if pd.api.types.is_bool_dtype(s):
            df[col] = s.map({True: "是", False: "否"})
        elif kinds[header] == "text" and pd.api.types.infer_dtype(s, skipna=True) not in (
                "string", "empty", "date"):  # all text already: no per-cell pass
            df[col] = s.map(lambda v: v if v is None or isinstance(v, str | dt.date)
                            or (isinstance(v, float) and np.isnan(v)) else str(v))
    out = df.rename(columns=names)
    out.columns = [names[c] for c in df.columns]
    return (numbered(out, total=total), kinds | {_NUMBER: "int"},
            {h: str(c) for c, h in names.items()})


def _total_row(frame: pd.DataFrame) -> pd.DataFrame:
    """Return *frame* with a 合计 row.

    The row sums the amounts (万元), households, floor area, compounds and shared trench;
    its first column reads 合计.
    """
    df = pd.DataFrame(frame).drop(columns="geometry", errors="ignore").reset_index(drop=True)
    sums = {c: df[c].sum() for c in df.columns
            if (str(c).endswith("_wan_yuan") or c in ("households", "floor_area_m2",
                                                      "compounds", "shared_trench_m"))
            and pd.api.types.is_numeric_dtype(df[c])}
    row = pd.DataFrame([{df.columns[0]: "合计", **sums}])
    return pd.concat([df, row], ignore_index=True).astype(
        {c: df[c].dtype for c in sums if pd.api.types.is_integer_dtype(df[c])})


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
    return Table("资金来源", "资金来源表", numbered(df, total=True),
                 {"序号": "int", "资金来源": "text", "来源代码": "text", "金额（万元）": "wan",
                  "占比": "pct"}, total_row=True, note=note or "单位：万元")


def _iso(values: pd.Series) -> pd.Series:
    """Return dates as ``2023-06-30`` text (None where missing), as the report shows them."""
    return to_dates(values).map(lambda d: None if d is None else d.isoformat())


@dataclass
class _Inputs:
    """What the report is made of: the programme's layers and the status date."""

    name: str
    meta: Mapping[str, Any]
    compounds: pd.DataFrame
    log: pd.DataFrame
    asof: dt.date
    layers: dict[str, Any]

    @property
    def day(self) -> str:
        return f"{self.asof.year}年{self.asof.month}月{self.asof.day}日"


def _progress_tables(src: _Inputs) -> list[Table]:
    """进度汇总, and 片区进度 when compounds carry a 片区."""
    levels: list[tuple[Level, str, str, str]] = [("county", "县区", "进度汇总", "进度汇总表")]
    if "district" in src.compounds and src.compounds["district"].notna().any():
        levels.append(("district", "片区", "片区进度", "分片区进度表"))
    tables = []
    for level, unit_zh, sheet, title in levels:
        summary = progress_summary(src.compounds, src.log, as_of=src.asof, by=level)
        frame, kinds = progress_table(summary, unit_zh=unit_zh)
        tables.append(Table(sheet, f"{src.name}{title}", frame, kinds, total_row=True,
                            note=f"截至{src.day}　单位：个、户"))
    return tables


def _milestone_table(src: _Inputs) -> Table | None:
    """里程碑: each milestone per county and for the programme."""
    milestones = src.meta.get("milestones") or []
    if not milestones:
        return None
    ms = milestone_status(src.compounds, src.log, milestones, as_of=src.asof,
                          start=src.meta.get("start_date"), by="county")
    ms = ms.assign(unit=pd.Categorical(ms["unit"], categories=list(
        dict.fromkeys(["合计", *ms["unit"]]))), due=_iso(ms["due"]))
    ms = ms.sort_values(["unit", "due"], kind="stable")
    df = ms[["unit", "milestone_zh", "due", "measure_zh", "target", "expected", "value",
             "state_zh"]].astype({"unit": object})
    df.columns = ["县区", "节点目标", "截止日期", "指标", "目标值", "按进度应达", "实际完成",
                  "状态"]
    return Table("里程碑", f"{src.name}节点目标完成情况", numbered(df),
                 {"序号": "int", "目标值": "pct", "按进度应达": "pct", "实际完成": "pct"},
                 note=f"截至{src.day}；按进度应达：自{src.meta.get('start_date') or '年初'}"
                      "起按时间均匀推进的目标值")


#: the rates of the progress curves (进度曲线): summary column -> header
_CURVE_RATES = {"start_rate": "开工率（按小区）", "start_rate_households": "开工率（按户数）",
                "completion_rate": "完工率（按小区）",
                "completion_rate_households": "完工率（按户数）"}
#: milestone stage -> header of its planned line (计划进度)
_CURVE_TARGETS = {"started": "开工目标（计划进度）", "completed": "完工目标（计划进度）"}


def _curve_dates(log: pd.DataFrame, asof: dt.date, milestones: list[dict[str, Any]]
                 ) -> list[dt.date]:
    """Month ends from the first log date to *asof*, *asof* itself and the milestone dates."""
    dates = [d for d in to_dates(log["date"]) if d is not None and d <= asof]
    if not dates:
        return []
    ends = pd.date_range(min(dates), asof, freq="ME").date.tolist()
    due = [d for m in milestones if (d := to_dates(pd.Series([m.get("date")])).iloc[0])]
    return sorted({*ends, asof, *due})


def _planned_line(milestones: list[dict[str, Any]], stage: str, start: dt.date,
                  dates: list[dt.date]) -> list[float] | None:
    """Return the planned rate of *stage* on each date.

    Linear from 0 at *start* through the targets of the milestones of that stage; None
    when the programme has no such milestone.
    """
    points = sorted((d, float(m.get("target", 1.0))) for m in milestones
                    if str(m.get("measure", "")).startswith(stage)
                    and (d := to_dates(pd.Series([m.get("date")])).iloc[0]) is not None)
    if not points:
        return None
    xs = [start.toordinal(), *(d.toordinal() for d, _ in points)]
    ys = [0.0, *(t for _, t in points)]
    return np.interp([d.toordinal() for d in dates], xs, ys, left=0.0).tolist()


def _curve_table(src: _Inputs) -> Table | None:
    """进度曲线: 开工率 and 完工率 per county over time, with a native chart each.

    By compounds and by households, against the planned line through the milestone
    targets; None when the log has no dated record.
    """
    milestones = list(src.meta.get("milestones") or [])
    dates = _curve_dates(src.log, src.asof, milestones)
    if not dates:
        return None
    start = require_date(src.meta.get("start_date") or dt.date(dates[0].year, 1, 1))
    past = [day for day in dates if day <= src.asof]
    actual = progress_series(src.compounds, src.log, past, by="county")[
        ["unit", *_CURVE_RATES, "date"]]
    grid = pd.MultiIndex.from_product([list(dict.fromkeys(["合计", *actual["unit"]])), dates],
                                      names=["unit", "date"]).to_frame(index=False)
    df = grid.merge(actual, on=["unit", "date"], how="left")
    targets = {h: line for stage, h in _CURVE_TARGETS.items()
               if (line := _planned_line(milestones, stage, start, dates)) is not None}
    for header, line in targets.items():
        df[header] = np.tile(line, len(df) // len(dates))
    df = df.rename(columns={"unit": "县区", "date": "日期", **_CURVE_RATES})
    series = (*_CURVE_RATES.values(), *targets)
    charts = [LineSpec(f"{unit} 开工率、完工率", (k * len(dates), (k + 1) * len(dates) - 1),
                       "日期", series) for k, unit in enumerate(df["县区"].unique())]
    kinds: dict[str, Kind] = {"序号": "int", "日期": "date",
                              **{h: "pct" for h in series}}
    return Table("进度曲线", f"{src.name}开工率、完工率曲线", numbered(df), kinds,
                 note=f"截至{src.day}；计划进度：自{start.isoformat()}起按节点目标线性推进",
                 charts=charts)


def _problem_table(src: _Inputs) -> Table:
    """问题清单: warnings of the log checks and the eligibility rules."""
    from gisplan.eligibility import programme_rules

    rules = programme_rules(src.meta).rules  # the programme's rule set, not another city's
    problems = pd.concat([check_log(src.log, today=None),
                          check_compounds(src.compounds, rules=rules)], ignore_index=True)
    problems = problems[problems["severity"] != "info"] if len(problems) else problems
    df = problems[["county", "compound_id", "compound_name", "date", "problem_zh", "detail",
                   "code", "source_file", "source_row"]].copy()
    df["date"] = _iso(df["date"])
    df.columns = ["县区", "小区编号", "小区名称", "日期", "问题类型", "说明", "问题代码",
                  "来源文件", "来源行"]
    df["来源行"] = pd.to_numeric(df["来源行"], errors="coerce").astype("Int64")
    return Table("问题清单", f"{src.name}问题清单", numbered(df),
                 {"序号": "int", "来源行": "int"}, note=f"截至{src.day}")


def _design_table(src: _Inputs) -> Table:
    """设计缺项: required items a compound's design leaves out."""
    from gisplan.design import design_gaps
    from gisplan.schema import zh as zh_term

    gaps = design_gaps(src.compounds)
    gaps = gaps[gaps["n_missing"] > 0]
    df = gaps[["county", "compound_id", "name", "categories", "n_missing", "missing_zh",
               "unknown_items"]].copy()
    df["categories"] = df["categories"].map(
        lambda s: "、".join(zh_term("category", c) for c in str(s).split(";") if c))
    df.columns = ["县区", "小区编号", "小区名称", "改造类型", "缺项数", "缺少内容", "未识别内容"]
    return Table("设计缺项", f"{src.name}设计方案缺项清单", numbered(df),
                 {"序号": "int", "缺项数": "int"},
                 note="依据：淮安市老旧小区改造督查通报（2023）、国办发〔2020〕23号")


def _analysis_tables(src: _Inputs) -> list[Table]:
    """连片项目 and 设施缺口, where the store holds bundles and coverage results."""
    tables = []
    if src.layers.get("bundles") is not None:
        frame, kinds, fields = _generic(src.layers["bundles"])
        tables.append(Table("连片项目", f"{src.name}连片改造项目", frame, kinds,
                            fields=fields))
    for layer in ("coverage_gaps", "coverage_summary"):
        if src.layers.get(layer) is not None:
            frame, kinds, fields = _generic(src.layers[layer])
            tables.append(Table("设施缺口", f"{src.name}配套设施缺口", frame, kinds,
                                fields=fields))
            break
    return tables


def _finance_tables(src: _Inputs) -> list[Table]:
    """Money and responsibility sheets, where the store holds their layers.

    项目清单, 资金来源（项目/片区）, 资金来源核对, 联系点, 垃圾分类设施, 考核评价, from
    the layers written by ``gisplan estimate``, ``contact-points``, ``waste-points`` and
    ``evaluate``.
    """
    from gisplan import finance_sheets as fs

    got = {k: v for k in fs.STORED_LAYERS if (v := src.layers.get(k)) is not None}
    sheets: list[tuple[str, str, pd.DataFrame, str]] = []
    if "estimates" in got:
        sheets.append(("项目清单", "年度改造项目清单", fs.stored_project_list(
            got["estimates"], got.get("funding"), src.compounds),
            "改造内容、资金概算、资金来源及责任单位；单位：万元"))
    if "funding" in got:
        sheets.append(("资金来源（项目）", "各项目资金来源", got["funding"], "单位：万元"))
    if "funding_bundles" in got and len(got["funding_bundles"]):
        sheets.append(("资金来源（片区）", "各片区（连片项目）资金来源", fs.stored_funding_bundles(
            got["funding_bundles"], got.get("estimate_bundles")),
            "共沟长度：多个小区共用管线的开挖长度；统筹施工节约：一次开挖的节约额；单位：万元"))
    if "funding_reconciliation" in got:
        sheets.append(("资金来源核对", "资金来源与批复资金核对", fs.stored_reconciliation(
            got["funding_reconciliation"], src.meta.get("estimate_calibration")), "单位：万元"))
    if "contact_points" in got:
        cp = got["contact_points"]
        picked = cp[cp["selected"].astype(bool)] if "selected" in cp else cp
        sheets.append(("联系点", "联系点项目", picked,
                       f"建议联系点 {len(picked)} 个（全部候选及得分见图层 contact_points）"))
    if "waste_points" in got:
        sheets.append(("垃圾分类设施", "垃圾分类设施（清洁小屋、垃圾分类亭）",
                       got["waste_points"].drop(columns=["kind"], errors="ignore"),
                       "依据：淮安市生活垃圾分类设施设置要求"))
    if "evaluation" in got:
        sheets.append(("考核评价", "县区考核评价", got["evaluation"], "年中、年终检查按权重综合"))
    tables = []
    for sheet, title, frame, note in sheets:
        headers = {**fs.HEADERS, **fs.funding_headers(frame.columns),
                   **fs.evaluation_headers(frame.columns)}
        total = sheet in _TOTALLED
        table, kinds, fields = _generic(_total_row(frame) if total else frame, headers,
                                        total=total)
        tables.append(Table(sheet, f"{src.name}{title}", table, kinds, note=note,
                            fields=fields, total_row=total))
    return tables


#: the money sheets that end in a 合计 row
_TOTALLED = ("项目清单", "资金来源（项目）", "资金来源（片区）")


def _source_lines(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) for each data source and the attribution in the programme's meta.

    Examples
    --------
    >>> for line in _source_lines({"attribution": "© OpenStreetMap contributors (ODbL)",
    ...                            "sources": [{"title": "OSM", "file": "x.osm.pbf"}]}):
    ...     print(line)
    ('数据来源', 'OSM（x.osm.pbf）')
    ('数据许可', '© OpenStreetMap contributors (ODbL)')
    """
    out = []
    for src in meta.get("sources") or []:
        if isinstance(src, Mapping):
            title = str(src.get("title") or src.get("file") or src.get("url") or "")
            extra = [str(src[k]) for k in ("file", "url") if src.get(k) and src[k] != title]
            text = title + (f"（{'，'.join(extra[:1])}）" if extra else "")
        else:
            text = str(src)
        if text:
            out.append(("数据来源", text))
    if meta.get("attribution"):
        out.append(("数据许可", str(meta["attribution"])))
    return out


def _attribution(tables: list[Table], meta: Mapping[str, Any]) -> Table | None:
    """说明: the programme's data sources and attribution (OSM's ODbL).

    The note line of the first sheet points to it (and repeats the attribution).
    """
    lines = _source_lines(meta)
    if not lines:
        return None
    if tables:
        short = str(meta.get("attribution") or "")
        first = tables[0]
        line = "数据来源见“说明”表" + (f"；{short}" if short else "")
        first.note = f"{first.note}　{line}" if first.note else line
    df = pd.DataFrame(lines, columns=["项目", "内容"])
    return Table("说明", "数据来源与许可", numbered(df), {"序号": "int"},
                 note="本报表所用数据的来源；引用时请注明")


def _field_notes(tables: list[Table]) -> Table | None:
    """列名说明: the canonical column behind each Chinese header of the stored tables."""
    rows = [{"工作表": t.name, "列名": header, "字段名": name}
            for t in tables for header, name in t.fields.items()]
    if not rows:
        return None
    return Table("列名说明", "列名说明（中文列名与数据字段对照）", numbered(pd.DataFrame(rows)),
                 {"序号": "int"}, note="字段名：GeoPackage 图层中的列名，供数据交换和程序使用")


def _inputs(project: ProgrammeLike, as_of: DateLike | None) -> _Inputs:
    p = as_project(project)
    from gisplan.finance_sheets import STORED_LAYERS

    layers = read_layers(p, ["compounds"], optional=["bundles", "coverage_gaps",
                                                     "coverage_summary", *STORED_LAYERS])
    log = read_log(p)
    if as_of is None:
        dates = [d for d in to_dates(log["date"]) if d is not None]
        asof = max(dates) if dates else dt.date.today()
    else:
        asof = require_date(as_of)
    meta = p.meta or {}
    return _Inputs(meta.get("name") or Path(str(p.path)).stem, meta, layers["compounds"],
                   log, asof, layers)


def report_tables(project: ProgrammeLike, *, as_of: DateLike | None = None) -> list[Table]:
    """Gather the report's tables for *project* on *as_of*.

    Parameters
    ----------
    project : gisplan.store.Project or path
        The programme store.
    as_of : date-like, optional
        Status date; None means the latest date in the progress log (today when the log
        is empty).

    Returns
    -------
    list of Table
        进度汇总, 片区进度 (when compounds carry a 片区), 里程碑 (when the programme has
        milestones), 问题清单, 设计缺项, 资金来源 (when the metadata has a budget),
        进度曲线 (when the log has dates: rates over time with native charts),
        连片项目 and 设施缺口 (when the store holds ``bundles`` / coverage layers), the
        money sheets (项目清单, 资金来源（项目/片区）, 资金来源核对, 联系点, 垃圾分类设施,
        考核评价, when the store holds the layers of ``estimate``, ``contact-points``,
        ``waste-points``, ``evaluate``), 列名说明 after them (the canonical column name
        behind each of their headers) and 说明 (data sources and attribution, when the
        metadata has ``sources`` or ``attribution``; the first sheet's note points to it).

    Raises
    ------
    InputError
        The as-of date cannot be read.
    """
    src = _inputs(project, as_of)
    tables = _progress_tables(src)
    optional = [_milestone_table(src), _curve_table(src), _problem_table(src),
                _design_table(src), _budget(src.meta)]
    tables += [t for t in optional if t is not None]
    tables += _analysis_tables(src)
    tables += _finance_tables(src)
    notes = _field_notes(tables)
    about = _attribution(tables, src.meta)
    return tables + [t for t in (notes, about) if t is not None]


# --------------------------------------------------------------------------- writers

#: A sheet of more cells than this (rows × columns) is written in full to a CSV file beside
#: the workbook (``<stem>_<sheet>.csv``); the sheet keeps its first :data:`PREVIEW_ROWS`
#: rows and a note naming the file. At this size a sheet takes about a second to write;
#: a 300,000-compound city's gap table (20 million cells) would take minutes and gigabytes.
DETAIL_CELLS = 200_000
#: rows a sheet keeps when its detail is written beside the workbook
PREVIEW_ROWS = 1_000


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


#: the report's cell formats (XlsxWriter properties): title, header, and per column kind a
#: plain and a bold (合计) body format, all with thin grey borders
_BORDER: dict[str, Any] = {"border": 1, "border_color": "#999999"}
_TITLE: dict[str, Any] = {"bold": True, "font_size": 14, "align": "center"}
_HEAD: dict[str, Any] = {**_BORDER, "bold": True, "bg_color": "#DDEBF7", "align": "center",
                         "valign": "vcenter", "text_wrap": True}


class _CellWriter:
    """A workbook's cell formats, and how a row of values is written with them.

    For XlsxWriter's streamed (``constant_memory``) sheets. Every text is a string cell
    (never a formula: the workbook is opened with ``strings_to_formulas`` off and text
    goes through ``write_string``), numbers are numbers, dates are dates in
    ``yyyy-mm-dd``; a blank keeps its column's border.
    """

    def __init__(self, wb: Any) -> None:
        self._formats: dict[str, Any] = {"gp_title": wb.add_format(_TITLE),
                                         "gp_head": wb.add_format(_HEAD)}
        for kind in ("general", *FORMATS):
            props = dict(_BORDER)
            if kind not in ("general", "text"):
                props["num_format"] = FORMATS[kind]
            self._formats[f"gp_{kind}"] = wb.add_format(props)
            self._formats[f"gp_{kind}_total"] = wb.add_format({**props, "bold": True})

    def fmt(self, style: str) -> Any:
        return self._formats[style]

    def row(self, ws: Any, r: int, values: Any, styles: list[str]) -> None:
        """Write *values* as row *r*, each with the format named in *styles*."""
        for c, (value, style) in enumerate(zip(values, styles, strict=True)):
            value = _cell(value)
            fmt = self._formats[style]
            kind = type(value)
            if kind is str:
                ws.write_string(r, c, value, fmt)
            elif kind is int or (kind is float and math.isfinite(value)):
                ws.write_number(r, c, value, fmt)
            elif kind is float:  # ±inf (unreachable): a cell, never an error formula
                ws.write_string(r, c, "∞" if value > 0 else "-∞", fmt)
            elif value is None:
                ws.write_blank(r, c, None, fmt)
            elif kind is bool:
                ws.write_boolean(r, c, value, fmt)
            elif isinstance(value, (dt.date, dt.datetime)):
                if not style.startswith("gp_date"):  # a date shows as a date, not a serial
                    fmt = self._formats["gp_date_total" if style.endswith("_total")
                                        else "gp_date"]
                ws.write_datetime(r, c, value, fmt)
            else:
                ws.write_string(r, c, str(value), fmt)


def _detail_file(path: Path, table: Table) -> Path:
    return path.with_name(f"{path.stem}_{table.name}.csv")


def _sheet_name(wb: Any, name: str) -> str:
    """Return *name* cut to Excel's 31 characters, numbered when the workbook has it."""
    taken = {ws.name.lower() for ws in wb.worksheets()}
    candidate, k = name[:31], 1
    while candidate.lower() in taken:
        k += 1
        candidate = f"{name[:31 - len(str(k)) - 2]}({k})"
    return candidate


def _write_sheet(wb: Any, cells: _CellWriter, table: Table, *, detail: Path | None = None,
                 preview_rows: int = PREVIEW_ROWS) -> None:
    """Stream *table* into a new sheet of *wb* (only a preview when *detail*)."""
    frame = table.frame
    note = table.note
    if detail is not None:
        note = (f"{note}　" if note else "") + (
            f"本表共 {len(frame):,} 行，明细见同目录文件 {detail.name}（UTF-8 CSV）；"
            f"此处列出前 {preview_rows:,} 行" + ("及合计" if table.total_row else ""))
        preview = frame.head(preview_rows)
        frame = pd.concat([preview, frame.tail(1)]) if table.total_row else preview
    ws = wb.add_worksheet(_sheet_name(wb, table.name))
    headers = [str(h) for h in frame.columns]
    ncol = max(len(headers), 1)
    for j, header in enumerate(frame.columns):
        ws.set_column(j, j, _width(frame[header], str(header)))
    ws.freeze_panes(3, 1 if "县区" in headers[:2] or "片区" in headers[:2] else 0)
    if ncol > 1:
        ws.merge_range(0, 0, 0, ncol - 1, table.title, cells.fmt("gp_title"))
        ws.merge_range(1, 0, 1, ncol - 1, note or "")
    else:
        ws.write_string(0, 0, table.title, cells.fmt("gp_title"))
        ws.write_string(1, 0, note or "")
    cells.row(ws, 2, headers, ["gp_head"] * len(headers))
    styles = [f"gp_{k}" if (k := table.kinds.get(h)) in FORMATS else "gp_general"
              for h in headers]
    totals = [f"{s}_total" for s in styles]
    last = len(frame) - 1 if table.total_row else -1
    for i, row in enumerate(frame.itertuples(index=False, name=None)):
        cells.row(ws, 3 + i, row, totals if i == last else styles)
    for number, chart in enumerate(table.charts):
        _add_chart(wb, ws, chart, headers, number)


def _add_chart(wb: Any, ws: Any, spec: LineSpec, headers: list[str], k: int) -> None:
    """Draw *spec* as a native line chart, the *k*-th one down the right of the table."""
    first, last = 3 + spec.rows[0], 3 + spec.rows[1]  # 0-based; the header is row 2
    cat = headers.index(spec.category)
    chart = wb.add_chart({"type": "line"})
    for header in spec.series:
        col = headers.index(header)
        chart.add_series({"name": header,
                          "categories": [ws.name, first, cat, last, cat],
                          "values": [ws.name, first, col, last, col],
                          "smooth": False})
    chart.set_title({"name": spec.title})
    chart.set_y_axis({"name": "比例", "num_format": "0%", "min": 0, "max": 1})
    chart.set_x_axis({"num_format": "yyyy-mm-dd", "date_axis": True})
    chart.set_size({"width": 605, "height": 283})  # 16 x 7.5 cm
    ws.insert_chart(3 + 16 * k, len(headers) + 1, chart)


def write_xlsx(tables: list[Table], path: str | Path, *,
               detail_cells: int | None = DETAIL_CELLS,
               preview_rows: int | None = None) -> list[Path]:
    """Write *tables* as one workbook, a sheet per table, streamed (XlsxWriter).

    Each sheet: row 1 the title (merged), row 2 the date and units (merged), row 3 the
    Chinese headers (frozen with the rows above), then the rows; number formats by
    column kind (``0.0%`` for rates, ``#,##0.000`` for 万元); widths fitted to the
    Chinese text; native line charts where the table has them (进度曲线). The file
    appears whole or not at all (written beside it, then renamed).

    Parameters
    ----------
    tables : list of Table
    path : path
        The ``.xlsx`` file (parent directories are created).
    detail_cells : int or None, default DETAIL_CELLS
        A table of more cells than this is written in full to ``<stem>_<sheet>.csv``
        beside the workbook, and its sheet keeps the first *preview_rows* rows and a
        note naming the file. None: every table in full in the workbook.
    preview_rows : int, optional
        Rows a sheet keeps when its table is written beside the workbook (default
        :data:`PREVIEW_ROWS`).

    Returns
    -------
    list of Path
        The workbook, then the detail CSV files.

    Examples
    --------
    >>> import pathlib, tempfile, openpyxl
    >>> t = Table("汇总", "测试表", pd.DataFrame({"序号": [1, 2], "名称": ["=1+1", "合计"],
    ...                                          "开工率": [0.5, 0.25]}),
    ...           kinds={"开工率": "pct"}, total_row=True)
    >>> path = write_xlsx([t], pathlib.Path(tempfile.mkdtemp()) / "t.xlsx")[0]
    >>> ws = openpyxl.load_workbook(path)["汇总"]
    >>> ws["A1"].value, ws["B4"].value, ws["B4"].data_type, ws["C5"].number_format
    ('测试表', '=1+1', 's', '0.0%')
    """
    import xlsxwriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    # text is never a formula, a link or a number: write_string for every text cell,
    # and these off for anything that would go through write()
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False,
                                        "remove_timezone": True})
    details: list[Path] = []
    try:
        cells = _CellWriter(wb)
        for t in tables:
            # a table with charts stays whole: its charts read its rows
            big = detail_cells is not None and t.frame.size > detail_cells and not t.charts
            detail = _detail_file(path, t) if big else None
            if detail is not None:
                _write_detail_csv(t, detail)
                details.append(detail)
            _write_sheet(wb, cells, t, detail=detail,
                         preview_rows=PREVIEW_ROWS if preview_rows is None else preview_rows)
        wb.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return [path, *details]


def _csv_frame(table: Table) -> pd.DataFrame:
    """Return the table as CSV text: user text made safe first, then numbers formatted."""
    df = csv_safe_frame(table.frame)
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
    Rates are written as ``85.0%``, money in 万元 with three decimals. A text cell that a
    spreadsheet would evaluate (``=…``, ``+…``, ``-…``, ``@…``) is written with a leading
    ``'`` (:func:`gisplan.cells.csv_safe_frame`); lines end in CRLF, so that a carriage
    return inside a name is quoted (:data:`gisplan.cells.CSV_LINE_END`).

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
        _write_csv_file(t, target)
        out.append(target)
    return out


def _arrow_column(values: pd.Series) -> Any:
    """Return *values* as an Arrow array; a column of mixed types as text."""
    import pyarrow as pa

    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None or (isinstance(v, float) and np.isnan(v))
                         else str(v) for v in values.to_numpy(dtype=object)], type=pa.string())


def _safe_text(values: pd.Series) -> pd.Series:
    """Vectorised :func:`gisplan.cells.csv_safe` of one text column (prefix ``'``)."""
    try:
        risky = values.str.startswith(FORMULA_PREFIXES, na=False).to_numpy(dtype=bool)
    except AttributeError:  # no text at all (dates, numbers): element by element
        risky = np.array([isinstance(v, str) and v.startswith(FORMULA_PREFIXES)
                          for v in values.to_numpy(dtype=object)], dtype=bool)
    if not risky.any():
        return values
    out = values.astype(object).copy()
    out[risky] = "'" + values[risky].astype(str)
    return out


def _write_detail_csv(table: Table, target: Path) -> None:
    """Write a big table in full as CSV, fast (Arrow's writer), as safe as :func:`write_csv`.

    Text a spreadsheet would evaluate gets a leading ``'``; every text field is quoted;
    lines end in CRLF; UTF-8 with a BOM. Rates are written as ``85.0%``, 万元 with three
    decimals, like :func:`write_csv`.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    df = table.frame
    columns = {}
    for header in df.columns:
        s = df[header]
        kind = table.kinds.get(str(header))
        if kind in ("pct", "wan"):
            s = _csv_frame(Table(table.name, "", df[[header]], {header: kind}))[header]
        elif kind == "int":
            s = pd.to_numeric(s, errors="coerce").round().astype("Int64")
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            s = _safe_text(s)
        columns[csv_safe(str(header))] = _arrow_column(s)
    with open(target, "wb") as fh:
        fh.write("\ufeff".encode())
        pacsv.write_csv(pa.table(columns), fh, pacsv.WriteOptions(eol=CSV_LINE_END))


def _write_csv_file(table: Table, target: Path) -> None:
    """Write one table as a CSV no spreadsheet evaluates (UTF-8 with BOM, CRLF)."""
    _csv_frame(table).to_csv(target, index=False, encoding="utf-8-sig",
                             lineterminator=CSV_LINE_END)


def write_report(project: ProgrammeLike, out: str | Path, *,
                 as_of: DateLike | None = None,
                 detail_cells: int | None = DETAIL_CELLS,
                 preview_rows: int | None = None) -> list[Path]:
    """Write the programme report as XLSX (one workbook) or CSV (a file per table).

    Parameters
    ----------
    project : gisplan.store.Project or path
    out : path
        ``.xlsx`` for a workbook, ``.csv`` for CSV files.
    as_of : date-like, optional
        Status date; None means the latest date in the log.
    detail_cells : int or None, default DETAIL_CELLS
        XLSX only: a table of more cells than this goes in full to a CSV file beside the
        workbook (see :func:`write_xlsx`); None keeps every table in the workbook.
    preview_rows : int, optional
        XLSX only: rows such a table keeps in its sheet (default :data:`PREVIEW_ROWS`).

    Returns
    -------
    list of Path
        The files written (the workbook first).
    """
    out = Path(out)
    tables = report_tables(project, as_of=as_of)
    if out.suffix.lower() == ".xlsx":
        return write_xlsx(tables, out, detail_cells=detail_cells, preview_rows=preview_rows)
    if out.suffix.lower() == ".csv":
        return write_csv(tables, out)
    raise InputError("unsupported report format", file=str(out),
                     hint="end the file name in .xlsx or .csv")
