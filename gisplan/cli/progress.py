"""``gisplan progress``: import county reports, status on a date, checks (进度)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from gisplan.cli._options import PROGRAMME
from gisplan.progress.terms import Level

if TYPE_CHECKING:
    from gisplan.progress.status import PlanScope

DATE_HELP = "date: 2023-06-30, 2023年6月30日 or 2023.6.30"


def _date(value: str | None) -> dt.date | None:
    """Return the date an option gives (None when not given); refuse it when unreadable."""
    if value is None:
        return None
    from gisplan._errors import InputError
    from gisplan.progress import as_date

    day = as_date(value)
    if day is None:
        raise InputError("--as-of: date not recognised", value=value,
                         hint=f"write a {DATE_HELP}")
    return day


def _json_ready(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows of *frame* for JSON: dates as ``2023-06-30``."""
    out = frame.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, dt.date)).any():
            out[col] = out[col].map(lambda v: v.isoformat() if isinstance(v, dt.date) else v)
    rows: list[dict[str, object]] = json.loads(out.to_json(orient="records", force_ascii=False))
    return rows


def _show(frame: pd.DataFrame, *, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        table.add_column(str(col), overflow="fold")
    for row in frame.itertuples(index=False, name=None):
        table.add_row(*["" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else
                        (f"{v:.1%}" if isinstance(v, float) and 0 <= v <= 1.5 and "率" in str(c)
                         else str(v)) for v, c in zip(row, frame.columns, strict=True)])
    Console(width=200).print(table)


@click.group("progress")
def progress() -> None:
    """Progress log 进度台账: import county reports, status on a date, checks."""


@progress.command("import")
@click.argument("project", type=PROGRAMME)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sheet", default=None,
              help="Worksheet of an XLSX file 工作表 (default: best match).")
@click.option("--score-cutoff", type=float, default=75.0, show_default=True,
              help="Smallest name similarity 0–100 for a fuzzy compound match 模糊匹配阈值.")
@click.option("--county", default=None,
              help="The county 县区 that sent the report: rows without a 县区 are its rows, "
                   "and the layout saved for it with --save-mapping is used.")
@click.option("--map", "map_options", multiple=True, metavar="原列名=COLUMN",
              help="Read a column of the report as a log column 指定表头对应 (repeatable), "
                   "e.g. --map 当前进展=进度阶段 --map 上报时间=date.")
@click.option("--save-mapping", is_flag=True,
              help="Store this report's header mapping as the county's layout 保存该县区报表格式 "
                   "(in the programme); next week: --county alone. Needs --county.")
@click.option("--dry-run", is_flag=True, help="Check the report, write nothing 仅检查.")
def import_(project: Path, file: Path, sheet: str | None, score_cutoff: float,
            county: str | None, map_options: tuple[str, ...], save_mapping: bool,
            dry_run: bool) -> None:
    """Append a county progress report 进度报表 (CSV/XLSX, Chinese headers) to the log.

    Rows match compounds by 小区编号, else by 小区名称 within the 县区 (fuzzy, never
    silently: ambiguous and unknown names are listed with their best candidates and kept
    unmatched). Importing the same report twice adds nothing.
    """
    from gisplan.mappings import parse_map_options
    from gisplan.progress import import_reports

    columns = parse_map_options(map_options, "progress_log")
    result = import_reports(project, file, sheet=sheet, score_cutoff=score_cutoff,
                            dry_run=dry_run, county=county, columns=columns,
                            save_mapping=save_mapping)
    click.echo(result.summary() + (" (dry run: nothing written)" if dry_run else ""))
    if save_mapping and not dry_run:
        click.echo(f"layout of {county}'s reports saved 报表格式已保存 "
                   f"({len(result.header_map)} columns); next time: gisplan progress import "
                   f"{project} FILE --county {county}")
    for f in result.report.by_code("report_layout_used"):
        click.echo(f.message)
    if len(result.unmatched):
        um = result.unmatched.copy()
        um["match"] = um["match"].map({"unknown": "无法匹配 unknown",
                                       "ambiguous": "不唯一 ambiguous",
                                       "fuzzy": "近似 fuzzy", "missing": "缺名称 missing"})
        _show(um.rename(columns={"source_row": "行 row", "county_as_written": "县区 county",
                                 "name_as_written": "小区名称 name", "match": "匹配 match",
                                 "score": "相似度 score", "candidates": "候选 candidates",
                                 "compound_id": "小区编号 id"}),
              title="Compound names not matched exactly 小区名称匹配情况")
    for f in result.report:
        if f.severity in ("error", "warning") and f.code not in (
                "compound_unknown", "compound_ambiguous"):
            click.echo(str(f), err=True)
    no_geo = result.report.by_code("unit_without_geometry")
    if no_geo:
        click.echo(f"{len(no_geo)} row(s) of units without geometry (e.g. 经开区) kept and "
                   "counted by name 无空间数据单位的记录已保留", err=True)


@progress.command("status")
@click.argument("project", type=PROGRAMME)
@click.option("--as-of", "as_of", default=None, help=f"Status date 截至日期 ({DATE_HELP}); "
              "default: the latest date in the log.")
@click.option("--by", type=click.Choice(["county", "district"]), default=None,
              help="Only one level: county 县区 or district 片区 (default: both).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def status(project: Path, as_of: str | None, by: Level | None, as_json: bool) -> None:
    """Compounds and households planned, started 开工, completed 完工, and milestones 节点目标.

    Per county 县区 and per 片区: counts, 开工率 and 完工率 by compounds and by households;
    each milestone of the programme marked met 已完成, on track 按进度 or behind 滞后
    (on track: at or above the linear pace from the programme start). A milestone
    measures a stage (开工, 完工, 验收 ...) by compounds or households, over every compound
    or only those of one renovation category (基础类: compounds with basic works only).
    """
    from gisplan.progress import (
        milestone_status,
        plan_scope,
        progress_summary,
        read_log,
        to_dates,
    )
    from gisplan.sources import as_project, read_layers

    p = as_project(project)
    compounds = read_layers(p, ["compounds"])["compounds"]
    log = read_log(p)
    day = _date(as_of)
    if day is None:
        dates = [d for d in to_dates(log["date"]) if d is not None]
        day = max(dates) if dates else dt.date.today()
    from gisplan.schema import level_from_column

    units, line = level_from_column(compounds, "district", reason="no 片区 column")
    has_district = units is not None
    if line is not None and units is not None and units.name != "district" and not as_json:
        click.echo(line)
    levels: list[Level] = ([by] if by == "county" or by == "district" else
                           ["county", "district"] if has_district else ["county"])
    out: dict[str, pd.DataFrame] = {}
    for level in levels:
        out[level] = progress_summary(compounds, log, as_of=day, by=level)
    meta = p.meta or {}
    ms = milestone_status(compounds, log, meta.get("milestones") or [], as_of=day,
                          start=meta.get("start_date"), by="county")
    out["milestones"] = ms
    scope = plan_scope(compounds, meta)
    if not as_json:
        from gisplan.eligibility import programme_rules

        chosen = programme_rules(meta)
        click.echo(f"rule set 改造对象规则: {chosen.rules.describe()} — chosen by "
                   f"{chosen.chosen_by}")
    if as_json:
        click.echo(json.dumps({"as_of": day.isoformat(), "plan": _scope_json(scope)} | {
            k: _json_ready(v) for k, v in out.items()}, ensure_ascii=False, indent=2))
        return
    _echo_scope(scope)
    heads = {"unit": "单位", "compounds_planned": "计划小区", "households_planned": "计划户数",
             "compounds_started": "开工小区", "households_started": "开工户数",
             "start_rate": "开工率", "start_rate_households": "开工率(户)",
             "compounds_completed": "完工小区", "households_completed": "完工户数",
             "completion_rate": "完工率", "completion_rate_households": "完工率(户)",
             "starts_flagged": "开工存疑"}
    for level in levels:
        name = "县区 county" if level == "county" else "片区 district"
        _show(out[level].rename(columns=heads), title=f"{name}, as of {day:%Y-%m-%d}")
    if len(ms):
        prog = ms[ms["unit"] == "合计"][["milestone_zh", "due", "measure_zh", "n_compounds",
                                          "target", "expected", "value", "state", "state_zh"]]
        _show(prog.rename(columns={"milestone_zh": "节点目标", "due": "截止",
                                   "measure_zh": "指标", "n_compounds": "小区数",
                                   "target": "目标率", "expected": "应达率", "value": "实际率",
                                   "state": "state", "state_zh": "状态"}),
              title="Milestones 节点目标（全市）")
        behind = ms[(ms["unit"] != "合计") & (ms["state"] == "behind")]
        if len(behind):
            click.echo("behind 滞后: " + "; ".join(
                f"{u} {k}" for u, k in zip(behind["unit"], behind["milestone_zh"], strict=True)))


def _scope_json(scope: PlanScope) -> dict[str, object]:
    return {"stated_compounds": scope.stated_compounds,
            "stated_households": scope.stated_households, "listed": scope.listed,
            "counted": scope.counted, "rules": scope.rules,
            "not_counted": _json_ready(scope.not_counted),
            "not_admitted": _json_ready(scope.not_admitted)}


def _reasons(table: pd.DataFrame) -> str:
    return "; ".join(f"{n} × {zh} ({code})" for n, zh, code in zip(
        table["compounds"], table["reason_zh"], table["reason"], strict=True))


def _echo_scope(scope: PlanScope) -> None:
    """Print the plan's stated total, what is counted, and the reasons for the difference."""
    stated = (f"计划 {scope.stated_compounds} compounds stated in the plan"
              if scope.stated_compounds is not None else "计划 no total stated in the plan")
    if scope.stated_households is not None:
        stated += f" ({scope.stated_households} 户)"
    click.echo(f"{stated}; {scope.listed} in the list; {scope.counted} counted below 计入统计")
    not_counted = int(scope.not_counted["compounds"].sum())
    if not_counted:
        click.echo(f"不计入 not counted, by the rule set {scope.rules}: {not_counted} — "
                   + _reasons(scope.not_counted))
    if scope.stated_compounds is not None and scope.stated_compounds != scope.listed:
        click.echo(f"the list holds {scope.listed} compounds, the plan states "
                   f"{scope.stated_compounds} 名单与计划数不符: check the compound list")
    odd = int(scope.not_admitted["compounds"].sum())
    if odd:
        click.echo(f"规则存疑 counted (the plan lists them) but not admitted by the rule set: "
                   f"{odd} — " + _reasons(scope.not_admitted)
                   + "; see gisplan progress check")


@progress.command("check")
@click.argument("project", type=PROGRAMME)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the problems as CSV (UTF-8) 问题清单.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any warning is found.")
def check(project: Path, out: Path | None, strict: bool) -> None:
    """Check the log and the plan 检查 (开工认定标准, 设计缺项, 改造条件).

    Flags starts while a start criterion is unmet (consent below 80 %, ...), stages going
    backwards, completion before start, dates in the future, names not matched; design
    items missing by renovation category (Huai'an list); Guyuan eligibility rules.
    """
    from gisplan.cells import to_csv
    from gisplan.design import design_gaps
    from gisplan.progress import check_compounds, check_log, read_log
    from gisplan.sources import as_project, read_layers

    p = as_project(project)
    compounds = read_layers(p, ["compounds"])["compounds"]
    log = read_log(p)
    from gisplan.eligibility import programme_rules

    chosen = programme_rules(p.meta)  # the programme's rule set, not another city's
    rules = chosen.rules
    click.echo(f"rule set 改造对象规则: {rules.describe()} — chosen by {chosen.chosen_by}")
    problems = pd.concat([check_log(log), check_compounds(compounds, rules=rules)],
                         ignore_index=True)
    gaps = design_gaps(compounds)
    gaps = gaps[gaps["n_missing"] > 0]
    counts = problems.groupby(["code", "problem_zh", "severity"]).size().reset_index(name="n")
    _show(counts, title=f"Problems 问题 ({len(problems)})")
    click.echo(f"design gaps 设计缺项: {len(gaps)} of {len(compounds)} compounds miss required "
               "items")
    if out is not None:
        to_csv(problems, out)
        to_csv(gaps, out.with_name(out.stem + "_design_gaps.csv"))
        click.echo(f"wrote {out} and {out.with_name(out.stem + '_design_gaps.csv')}")
    if strict and (problems["severity"].isin(["warning", "error"]).any() or len(gaps)):
        sys.exit(1)
