"""``gisplan join PROJECT``: compounds to districts, utilities and facilities (空间关联)."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import METRES, PROGRAMME, SHARE


@click.command("join")
@click.argument("project", type=PROGRAMME)
@click.option("--utility-margin", "utility_margin_m", type=METRES, default=10.0,
              show_default=True,
              help="Margin around a compound within which a utility line serves it, m "
                   "管线缓冲距离.")
@click.option("--facility-margin", "facility_margin_m", type=METRES, default=50.0,
              show_default=True, help="Margin around a compound for facilities, m 设施缓冲距离.")
@click.option("--split-share", type=SHARE, default=0.9, show_default=True,
              help="Main district share below which a compound is flagged as split "
                   "跨片区阈值.")
@click.option("--no-write", is_flag=True, help="Do not write results into the programme.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Findings shown 显示条数.")
def join(project: Path, utility_margin_m: float, facility_margin_m: float, split_share: float,
         no_write: bool, limit: int) -> None:
    """Join compounds 小区 to districts 片区/街道/县区, utilities 管线 and facilities 设施.

    Writes the tables join_districts (largest-overlap district per level, share, flags),
    join_utilities (per compound and network: length inside and within the margin, owners
    权属单位, oldest install year), shared_lines (lines serving several compounds 共用管线)
    and join_facilities (facilities inside or near each compound).
    """
    from rich.console import Console

    from gisplan.join import join_project

    result = join_project(project, utility_margin_m=utility_margin_m,
                          facility_margin_m=facility_margin_m, split_share=split_share,
                          write=not no_write)
    out = result.tables
    from gisplan.cli._output import print_findings

    con = Console()
    print_findings(con, result.report, limit=limit)
    jd = out.get("join_districts")
    if jd is not None:
        flags = jd["flags"].fillna("").astype(str)
        con.print(f"districts 片区: {len(jd)} compounds 小区, "
                  f"outside 不在任何片区 {int(flags.str.contains('outside_districts').sum())}, "
                  f"split 跨片区 {int(flags.str.contains('split_across_districts').sum())}",
                  highlight=False)
    ju = out.get("join_utilities")
    if ju is not None:
        con.print(f"utilities 管线: {ju['compound_id'].nunique()} compounds served, "
                  f"{len(out['shared_lines'])} shared lines 共用管线", highlight=False)
    jf = out.get("join_facilities")
    if jf is not None:
        con.print(f"facilities 设施: {len(jf)} compound–facility pairs, "
                  f"{int(jf['inside'].sum())} inside compounds 小区内", highlight=False)
    if not no_write and out:
        con.print(f"written to {project}: {', '.join(out)}", highlight=False)
