"""``gisplan site PROJECT --type TYPE --count K``: propose facility sites (设施选址)."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import PROGRAMME


@click.command("site")
@click.argument("project", type=PROGRAMME)
@click.option("--type", "facility_type", required=True,
              help="Facility type 设施类型 (key, Chinese name or alias, e.g. 幼儿园).")
@click.option("--count", "count", type=click.IntRange(min=1), default=3, show_default=True,
              help="Number of sites to propose 选址数量.")
@click.option("--candidates", type=click.Choice(["auto", "network", "compounds"]),
              default="auto", show_default=True,
              help="Candidate sites 候选点: road network nodes 路网节点, compound public "
                   "space 小区公共空间, or --candidates-file.")
@click.option("--candidates-file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None,
              help="A layer of candidate points/polygons 候选用地 (any GDAL format).")
@click.option("--method", type=click.Choice(["auto", "network", "euclidean"]),
              default="auto", show_default=True,
              help="Walking along roads 步行 or straight line 直线.")
@click.option("--solver", type=click.Choice(["greedy", "exact"]), default="greedy",
              show_default=True, help="Lazy greedy (any size) or exact MILP (small cases).")
@click.option("--standard", "standard_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None, help="A city's own life-circle standard CSV.")
@click.option("--no-write", is_flag=True, help="Do not write the sites layer.")
def site(project: Path, facility_type: str, count: int, candidates: str,
         candidates_file: Path | None, method: str, solver: str,
         standard_path: Path | None, no_write: bool) -> None:
    """Propose sites that newly cover the most households 设施选址（最大覆盖）.

    Maximal covering location: among the candidates, choose COUNT sites for the facility
    type that bring the most currently uncovered households 未覆盖户数 within the
    standard's walking distance. Writes the layer sites.
    """
    import geopandas as gpd
    from rich.console import Console
    from rich.table import Table

    from gisplan.siting import site_project

    cands = gpd.read_file(candidates_file) if candidates_file else candidates
    res = site_project(project, facility_type=facility_type, count=count, candidates=cands,
                       method=method, solver=solver, standard=standard_path)
    from gisplan.cli._output import DEFAULT_LIMIT, print_findings

    con = Console()
    print_findings(con, res.report, limit=DEFAULT_LIMIT)
    t = res.totals
    table = Table(title=f"Proposed sites 建议选址: {t['facility_type']} "
                        f"({res.sites['facility_zh'].iloc[0] if len(res.sites) else ''})")
    for col in ["rank 序号", "candidate 候选点", "households new 新增覆盖户数",
                "compounds new 新增覆盖小区", "cumulative 累计户数", "lon/x", "lat/y"]:
        table.add_column(col, justify="right")
    for r in res.sites.head(DEFAULT_LIMIT).itertuples(index=False):
        table.add_row(str(r.rank), str(r.candidate), str(r.households_new),
                      str(r.compounds_new), str(r.households_cumulative),
                      f"{r.geometry.x:.6f}", f"{r.geometry.y:.6f}")
    con.print(table)
    if len(res.sites) > DEFAULT_LIMIT:
        from gisplan.cli._output import more_line

        con.print(more_line(DEFAULT_LIMIT, len(res.sites), where="the sites layer (gisplan "
                            "export STORE sites)"), highlight=False)
    con.print(f"uncovered households 未覆盖户数: {t['households_uncovered_before']} → "
              f"{t['households_uncovered_after']} (newly covered 新增 "
              f"{t['households_newly_covered']}); compounds 小区: "
              f"{t['compounds_uncovered_before']} → {t['compounds_uncovered_after']}",
              highlight=False)
    if not no_write:
        res.to_store(project)
        con.print(f"written to {project}: sites", highlight=False)
