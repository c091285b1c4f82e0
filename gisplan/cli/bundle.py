"""``gisplan bundle PROJECT``: group adjacent compounds into bundles (连片打包)."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import HOUSEHOLDS, METRES, POSITIVE_METRES, PROGRAMME

_LEVEL_ZH = {"pianqu": "片区", "street": "街道", "county": "县区", "none": "不限"}


@click.command("bundle")
@click.argument("project", type=PROGRAMME)
@click.option("--level", type=click.Choice(list(_LEVEL_ZH)), default=None,
              help="Bundles stay inside one district of this level 不跨越的区划层级 "
                   "(default: the programme's bundle_level, else pianqu 片区; none = may cross).")
@click.option("--gap", "gap_m", type=METRES, default=20.0, show_default=True,
              help="Largest gap between adjacent compounds, m 相邻间距 (about one local street).")
@click.option("--min-households", type=HOUSEHOLDS, default=300, show_default=True,
              help="Household floor per bundle 每片最少户数.")
@click.option("--max-households", type=HOUSEHOLDS, default=3000, show_default=True,
              help="Household ceiling per bundle 每片最多户数.")
@click.option("--max-span", "max_span_m", type=POSITIVE_METRES, default=1000.0, show_default=True,
              help="Largest span of a bundle, m 最大跨度.")
@click.option("--barrier", "barrier_classes", multiple=True, default=("arterial",),
              show_default=True,
              help="Road classes bundles may not cross 阻隔道路等级 (repeat the option).")
@click.option("--missing-households", type=click.Choice(["standalone", "zero"]),
              default="standalone", show_default=True,
              help="Compounds without households 缺少户数: list standalone, or bundle as 0.")
@click.option("--no-write", is_flag=True, help="Do not write results into the programme.")
def bundle(project: Path, level: str | None, gap_m: float, min_households: int,
           max_households: int, max_span_m: float, barrier_classes: tuple[str, ...],
           missing_households: str, no_write: bool) -> None:
    """Group adjacent candidate compounds into bundles 连片改造打包.

    Adjacent = touching or within the gap 相邻; never across arterial roads 主干路. Bundles
    stay in one district 片区, between the household floor and ceiling, within the span.
    Eligibility rules 改造对象规则: the rule set the programme names (rule_set), else the
    national baseline 国办发〔2020〕23号 (built by the end of 2000); Guyuan's set
    (guyuan_2022) also admits compounds built 2001–2005 with eligible neighbours, within
    15 % of households. The rule set used is printed. Ineligible compounds 不符合条件 are
    listed with the reason. Writes the layers bundles, adjacency and the tables
    bundle_members, bundle_standalone.
    """
    if min_households > max_households:
        raise click.UsageError(
            f"--min-households ({min_households}) is larger than --max-households "
            f"({max_households}); lower the floor 每片最少户数 or raise the ceiling 每片最多户数")
    from rich.console import Console
    from rich.table import Table

    from gisplan.bundle import bundle_project

    options: dict[str, object] = {
        "gap_m": gap_m, "min_households": min_households, "max_households": max_households,
        "max_span_m": max_span_m, "missing_households": missing_households}
    if level is not None:
        options["level"] = None if level == "none" else level
    res = bundle_project(project, barrier_classes=barrier_classes, write=not no_write,
                         **options)
    from gisplan.cli._output import DEFAULT_LIMIT, more_line, print_findings

    con = Console()
    con.print(f"rule set 改造对象规则: {res.rules.describe()} — chosen by {res.rules_chosen_by}",
              highlight=False, markup=False)
    print_findings(con, res.report, limit=DEFAULT_LIMIT)
    b = res.bundles
    lvl = res.options["level"] or "none"
    table = Table(title=f"Bundles 连片 ({len(b)}), within one {lvl} {_LEVEL_ZH[lvl]}")
    for col in ["bundle 编号", "district 片区", "compounds 小区", "households 户数",
                "2001–2005 户数", "span 跨度 m", "owners 管线权属单位"]:
        table.add_column(col, justify="left" if col.startswith(("bundle", "district", "owners"))
                         else "right")
    for r in b.head(DEFAULT_LIMIT).itertuples(index=False):
        table.add_row(str(r.bundle_id), str(r.district_name), str(r.n_compounds),
                      str(r.households), str(r.households_2001_2005), f"{r.span_m:.0f}",
                      str(getattr(r, "utility_owners", "")))
    con.print(table)
    if len(b) > DEFAULT_LIMIT:
        con.print(more_line(DEFAULT_LIMIT, len(b), where="the bundles layer (gisplan export "
                            f"{project} bundles --out bundles.parquet, or gisplan report)"),
                  highlight=False)
    st = res.standalone
    if len(st):
        t2 = Table(title="Not bundled 未纳入连片 (by reason 原因)")
        t2.add_column("reason 原因")
        t2.add_column("compounds 小区", justify="right")
        t2.add_column("households 户数", justify="right")
        g = st.groupby(["reason", "reason_zh"], sort=True).agg(
            n=("compound_id", "size"), h=("households", "sum")).reset_index()
        for r in g.itertuples(index=False):
            t2.add_row(f"{r.reason} {r.reason_zh}", str(r.n), f"{r.h:.0f}")
        con.print(t2)
    counts = res.report.counts_frame()
    con.print("rows in = rows out: " + ", ".join(
        f"{r.layer} {r.rows_in}→{r.rows_out}" for r in counts.itertuples()), highlight=False)
    if not no_write:
        con.print(f"written to {project}: bundles, bundle_members, bundle_standalone, "
                  "adjacency", highlight=False)
