"""``gisplan coverage PROJECT``: facility coverage and gaps (设施覆盖与缺口)."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import METRES, POSITIVE_METRES, PROGRAMME

_LEVELS = {"programme": "全部", "county": "县区", "district": "片区", "bundle": "连片"}


@click.command("coverage")
@click.argument("project", type=PROGRAMME)
@click.option("--method", type=click.Choice(["auto", "network", "euclidean", "both"]),
              default="auto", show_default=True,
              help="Walking along roads 步行距离 (network), straight line 直线距离 "
                   "(euclidean); auto = network where a roads layer exists.")
@click.option("--standard", "standard_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None,
              help="A city's own life-circle standard CSV 生活圈标准 (default: shipped).")
@click.option("--type", "types", multiple=True,
              help="Facility type(s) to assess 设施类型 (key or Chinese name); default all.")
@click.option("--boundary-step", "boundary_step_m", type=POSITIVE_METRES, default=50.0,
              show_default=True, help="Metres between boundary points for compounds "
                                      "without gates 小区边界取点间距.")
@click.option("--max-snap", "max_snap_m", type=METRES, default=250.0, show_default=True,
              help="Flag compounds/facilities farther than this from any road (m).")
@click.option("--search-limit", "search_limit_m", type=POSITIVE_METRES, default=3000.0,
              show_default=True, help="Stop walking searches at this distance (m).")
@click.option("--node-roads", is_flag=True,
              help="Split roads at intersections first (un-noded road data).")
@click.option("--level", type=click.Choice(list(_LEVELS)), default="district",
              show_default=True, help="Roll-up level shown 汇总层级.")
@click.option("--capacity", is_flag=True,
              help="Capacity-aware access 供需比 (2SFCA) where facilities have a capacity.")
@click.option("--no-write", is_flag=True, help="Do not write results into the programme.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Rows of the roll-up shown 显示行数.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the full roll-up (every level) as CSV 完整汇总表.")
def coverage(project: Path, method: str, standard_path: Path | None, types: tuple[str, ...],
             boundary_step_m: float, max_snap_m: float, search_limit_m: float,
             node_roads: bool, level: str, capacity: bool, no_write: bool, limit: int,
             out: Path | None) -> None:
    """Facility coverage and gaps by walking distance 设施覆盖与缺口分析.

    For every compound 小区 and facility type of the life-circle standard 生活圈标准:
    nearest facility, distance in metres and covered or not; per compound the gaps 缺项;
    shares of compounds and households covered per 片区, county 县区 and bundle 连片.
    Results go to the layers coverage, coverage_gaps and coverage_summary.
    """
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from gisplan.cli._options import facility_type_keys
    from gisplan.coverage import coverage_project
    from gisplan.standards import load_standard

    std = load_standard(standard_path)
    keys = facility_type_keys(std, types) if types else None
    res = coverage_project(project, standard=std, method=method, types=keys,
                           boundary_step_m=boundary_step_m or None, max_snap_m=max_snap_m,
                           search_limit_m=search_limit_m, node_roads=node_roads,
                           capacity=capacity)
    from gisplan.cli._output import more_line, print_findings

    con = Console()
    print_findings(con, res.report, limit=limit)
    summ = res.summary[res.summary["level"] == level]
    if summ.empty:
        summ = res.summary[res.summary["level"] == "programme"]
        level = "programme"
    table = Table(title=f"Coverage by {level} {_LEVELS[level]} — method {res.method} "
                        f"({'步行' if res.method == 'network' else '直线'})")
    for col in ["unit 单元", "type 设施", "standard 标准 m", "compounds 小区",
                "covered 覆盖", "households 户数", "hh covered 覆盖户数"]:
        table.add_column(col, justify="left" if col.startswith(("unit", "type")) else "right")
    for r in summ.head(limit).itertuples(index=False):
        share = float(r.share_households)  # type: ignore[arg-type]
        sh = "" if np.isnan(share) else f" ({share:.0%})"
        table.add_row(str(r.unit), f"{r.facility_type} {r.facility_zh}", f"{r.standard_m:.0f}",
                      str(r.compounds), f"{r.compounds_covered} ({r.share_compounds:.0%})",
                      f"{r.households:.0f}", f"{r.households_covered:.0f}{sh}")
    con.print(table)
    if len(summ) > limit:
        con.print(more_line(limit, len(summ), where="--out FILE.csv (or the coverage_summary "
                            "layer)"), highlight=False)
    if out is not None:
        from gisplan.cells import to_csv

        to_csv(res.summary, out)
        con.print(f"full roll-up 完整汇总 ({len(res.summary):,} rows) → {out}", highlight=False)
    n_gap = int((res.compounds["n_gaps"] > 0).sum())
    con.print(f"compounds 小区: {len(res.compounds)}, with gaps 有缺项: {n_gap}; "
              f"facilities used 设施: {res.info.get('facilities_used', 0)} of "
              f"{len(res.facilities)}", highlight=False)
    counts = res.report.counts_frame()
    con.print("rows in = rows out: " + ", ".join(
        f"{r.layer} {r.rows_in}→{r.rows_out}" for r in counts.itertuples()), highlight=False)
    if not no_write:
        res.to_store(project)
        con.print(f"written to {project}: coverage, coverage_gaps, coverage_summary",
                  highlight=False)
