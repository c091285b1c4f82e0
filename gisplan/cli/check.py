"""``gisplan check PROJECT``: validate a programme and reconcile its plan (数据检查)."""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import pandas as pd

from gisplan.cli._options import PROGRAMME
from gisplan.findings import Finding, Report

#: Chinese labels of the finding codes shown in reports
CODE_ZH: dict[str, str] = {
    "missing_column": "缺少必填列",
    "missing_value": "必填值为空",
    "missing_geometry": "缺少几何图形",
    "crs_missing": "缺少坐标系",
    "crs_inferred": "坐标系为推断",
    "duplicate_id": "编号重复",
    "wrong_geometry_type": "几何类型错误",
    "unparseable_number": "数值无法识别",
    "unparseable_value": "取值无法识别",
    "unknown_value": "取值不在词表中",
    "invalid_geometry_repaired": "无效几何已修复",
    "empty_geometry": "空几何",
    "lonlat_swapped": "经纬度颠倒已纠正",
    "missing_built_year": "缺少建成年份",
    "implausible_built_year": "建成年份存疑",
    "nonpositive_households": "户数为零或负数",
    "overlaps_compound": "小区范围重叠",
    "unit_without_geometry": "单位无边界图形",
    "total_mismatch": "合计与分项之和不符",
    "total_not_checked": "合计无法核对",
    "near_duplicate_name": "名称疑似同一小区",
    "name_not_in_compounds": "名单名称未匹配到小区",
    "list_numbering_gap": "名单序号跳号或重复",
    "list_count_mismatch": "名单数量不符",
    "list_number_separator": "序号分隔符不一致",
}
SEVERITY_ZH: dict[str, str] = {"error": "错误", "warning": "警告", "info": "提示"}
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


@click.command("check")
@click.argument("project", type=PROGRAMME)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True,
              help="Report format 报告格式: text tables, JSON (counts and findings) or CSV "
                   "(one finding a row, UTF-8 with BOM for Excel).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file 输出文件 instead of the screen.")
@click.option("--fix", "fix_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None,
              help="Write the repaired, flagged layers to this new GeoPackage 修复后另存 "
                   "(PROJECT is never changed).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Findings shown per code in the text report 每类显示条数.")
@click.pass_context
def check(ctx: click.Context, project: Path, fmt: str, out: Path | None, fix_out: Path | None,
          limit: int) -> None:
    """Validate PROJECT and reconcile its plan 数据检查与计划核对.

    Checks every layer (geometry, CRS, ids, column types, vocabularies, build years,
    households, overlapping compounds) and the plan itself (stated totals against the
    sum of their parts, names written two ways, numbered lists that skip a number, units
    without a boundary). No row is ever dropped: the report shows rows in and rows out
    per layer. Exits with status 1 when there are errors 错误, 0 otherwise.

    Example 示例: gisplan check layers/guyuan_2022.gpkg --fix guyuan_fixed.gpkg
    """
    from gisplan.reconcile import reconcile_frames
    from gisplan.store import Project
    from gisplan.validate import read_canonical_layers, validate_frames

    p = Project.open(project)
    frames = read_canonical_layers(p)
    fixed, report = validate_frames(frames, file=str(p.path))
    report.extend(reconcile_frames(
        fixed.get("compounds"), fixed.get("plan_targets"), fixed.get("plan_lists"),
        districts=fixed.get("districts"), progress_log=fixed.get("progress_log"),
        file=str(p.path)))

    if fmt == "text":
        text = _render_text(report, project, limit=limit, to_file=out is not None)
    elif fmt == "json":
        text = _render_json(report, project)
    else:
        text = _render_csv(report)
    if out is not None:
        out.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        click.echo(f"report 报告 → {out}")
    elif fmt != "text":
        click.echo(text, nl=False)

    if fix_out is not None:
        _write_fixed(p, fixed, fix_out)
    if not report.ok:
        ctx.exit(1)


def _write_fixed(p: Any, fixed: dict[str, Any], fix_out: Path) -> None:
    """Write every layer of *p*, the validated ones repaired and flagged, to *fix_out*."""
    from gisplan._errors import SchemaError
    from gisplan.store import Project

    layers = {name: fixed[name] if name in fixed else p.read(name) for name in p.layers()}
    try:
        Project.create(fix_out, meta=p.meta, layers=layers)
    except SchemaError as exc:
        raise click.ClickException(
            f"--fix: {exc}; values that cannot be stored in their column must be corrected "
            "in the source first") from exc
    click.echo(f"repaired layers 修复后图层 → {fix_out}")


def _label(code: str) -> str:
    zh = CODE_ZH.get(code)
    return f"{code} {zh}" if zh else code


def _render_text(report: Report, project: Path, *, limit: int, to_file: bool) -> str:
    from rich.console import Console
    from rich.table import Table

    wide = to_file or not sys.stdout.isatty()  # files and pipes: wide enough for tables
    console = Console(record=True, width=140 if wide else None,
                      file=io.StringIO() if to_file else None)
    counts = Table(title=f"{project.name}: rows per layer 各图层行数", title_justify="left")
    for col in ("layer 图层", "rows in 读入", "rows out 输出", "flagged 标记", "repaired 修复",
                "kept all 行数一致"):
        counts.add_column(col, justify="left" if col.startswith("layer") else "right")
    for c in report.counts.values():
        counts.add_row(c.layer, f"{c.rows_in:,}", f"{c.rows_out:,}", f"{c.flagged:,}",
                       f"{c.repaired:,}", "✓" if c.balanced else "[bold red]✗ rows lost[/]")
    console.print(counts)

    by_code: dict[tuple[str, str], list[Finding]] = {}
    for f in report.findings:
        by_code.setdefault((f.severity, f.code), []).append(f)
    for severity in ("error", "warning", "info"):
        groups = [(code, fs) for (sev, code), fs in by_code.items() if sev == severity]
        if not groups:
            continue
        n = sum(len(fs) for _, fs in groups)
        console.print(f"\n[{_STYLE[severity]}]{severity} {SEVERITY_ZH[severity]}: {n}[/]")
        for code, fs in groups:
            hints = {f.hint for f in fs[:limit]}
            common = hints.pop() if len(hints) == 1 else None
            table = Table(title=f"{_label(code)} ({len(fs)})", title_justify="left",
                          title_style=_STYLE[severity], expand=False,
                          caption=f"fix 处理: {common}" if common else None,
                          caption_justify="left")
            table.add_column("layer 图层", no_wrap=True)
            table.add_column("row 行", overflow="fold", max_width=28)
            table.add_column("column 列", overflow="fold", max_width=16)
            table.add_column("value 值", overflow="fold", max_width=18)
            table.add_column("what 问题" if common else "what 问题 / fix 处理", overflow="fold",
                             ratio=1)
            for f in fs[:limit]:
                value = "" if f.value is None or isinstance(f.value, dict) else str(f.value)
                what = f.message if common or not f.hint else f"{f.message}\n[dim]→ {f.hint}[/]"
                table.add_row(f.layer or "", "" if f.row is None else str(f.row), f.column or "",
                              value, what)
            console.print(table)
            if len(fs) > limit:
                from gisplan.cli._output import more_line

                console.print("  " + more_line(limit, len(fs),
                                               where="--format csv --out FILE"))
    sev = Counter(f.severity for f in report.findings)
    rows_ok = all(c.balanced for c in report.counts.values())
    summary = (f"\nerrors 错误 {sev['error']}, warnings 警告 {sev['warning']}, "
               f"info 提示 {sev['info']}; rows in = rows out 行数一致: "
               f"{'yes 是' if rows_ok else 'NO 否'}")
    console.print(f"[{'bold red' if not report.ok else 'bold green'}]{summary}[/]")
    return console.export_text()


def _render_json(report: Report, project: Path) -> str:
    data = {
        "project": str(project),
        "ok": report.ok,
        "summary": dict(Counter(f.severity for f in report.findings)),
        "counts": [asdict(c) | {"balanced": c.balanced} for c in report.counts.values()],
        "findings": [asdict(f) | {"code_zh": CODE_ZH.get(f.code)} for f in report.findings],
    }
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


def _blank(value: object) -> object:
    """None for a missing value (None, NaN, NA), so that CSV shows an empty cell."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def _render_csv(report: Report) -> str:
    """One finding a row; empty cells where a finding has no row or value; no formulas."""
    from gisplan.cells import to_csv

    frame = report.to_frame()
    for col, attr in (("row", "row"), ("value", "value")):
        frame[col] = [None if _blank(getattr(f, attr)) is None else str(getattr(f, attr))
                      for f in report.findings]
    frame.insert(2, "code_zh", frame["code"].map(CODE_ZH))
    return str(to_csv(frame))
