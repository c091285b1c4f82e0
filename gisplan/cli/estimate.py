"""``gisplan estimate STORE [--calibrate]``: cost estimates and funding (资金概算、资金来源)."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import PROGRAMME


def print_findings(report: object) -> None:
    """Print a report's findings, warnings in yellow (shared by the money commands)."""
    from rich.console import Console

    con = Console()
    for f in report:  # type: ignore[attr-defined]
        con.print(str(f), style="yellow" if f.severity == "warning" else "dim", markup=False,
                  highlight=False)


@click.command("estimate")
@click.argument("project", type=PROGRAMME)
@click.option("--calibrate", is_flag=True,
              help="Calibrate to the programme's stated total 按批复总投资校准 "
                   "(budget_total_wan_yuan); the factor is shown.")
@click.option("--total", "total", type=float, default=None,
              help="Calibrate to this total in 万元 instead.")
@click.option("--unit-costs", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A city's own unit-cost table 单价表 (CSV like "
                                 "gisplan/data/unit_costs.csv).")
@click.option("--funding-rules", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A city's own funding rules 资金来源规则 (TOML).")
@click.option("--no-write", is_flag=True, help="Do not write the layers.")
def estimate(project: Path, calibrate: bool, total: float | None, unit_costs: Path | None,
             funding_rules: Path | None, no_write: bool) -> None:
    """Estimate every project and bundle, split funding by source 资金概算与资金来源.

    Prices each compound's planned items 改造内容 with the unit costs, optionally
    calibrated to the stated total, sums per bundle 片区 with the shared trench 共沟 and
    the saving of digging once, splits every item over funding sources by the rules and
    reconciles them with the stated sources 批复资金来源. Writes estimates,
    estimate_items, estimate_bundles, joint_works, funding, funding_bundles,
    funding_items, funding_reconciliation.
    """
    from rich.console import Console
    from rich.table import Table

    from gisplan.costs import estimate_project
    from gisplan.funding import funding_project
    from gisplan.sources import as_project

    p = as_project(project)
    cal: bool | float = total if total is not None else calibrate
    est = estimate_project(p, calibrate=cal, unit_costs=unit_costs)
    fund = funding_project(p, rules=funding_rules, estimate=est)
    print_findings(fund.report)
    c = est.calibration
    con = Console()
    con.print(f"Estimate 资金概算: {est.compounds['estimate_wan_yuan'].sum():,.4f}万元 "
              f"(unit costs 单价测算 {c['raw_wan_yuan']:,.4f}万元, calibration factor "
              f"校准系数 {c['factor']})", highlight=False)
    t = Table(title="Funding vs stated sources 资金来源核对 (万元)")
    for col in ["source 来源", "stated 批复", "planned 测算", "difference 差额"]:
        t.add_column(col)
    for r in fund.reconciliation.itertuples():
        t.add_row(str(r.stated_zh), f"{r.stated_wan_yuan:,.4f}", f"{r.planned_wan_yuan:,.4f}",
                  f"{r.difference_wan_yuan:+,.4f}")
    con.print(t)
    if not no_write:
        p.write_many({**est.layers(), **fund.layers()},
                     meta_updates={"estimate_calibration": c})
        con.print(f"wrote {', '.join([*est.layers(), *fund.layers()])}", style="dim")
