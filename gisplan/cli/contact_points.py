"""``gisplan contact-points STORE [--override FILE]``: propose 联系点 per county."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import PROGRAMME


@click.command("contact-points")
@click.argument("project", type=PROGRAMME)
@click.option("--override", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="CSV compound_id,action,reason (小区编号,操作,理由); action "
                                 "include/纳入 or exclude/排除.")
@click.option("--scoring", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A city's own scoring file 评分规则 (TOML).")
@click.option("--no-write", is_flag=True, help="Do not write the contact_points layer.")
def contact_points(project: Path, override: Path | None, scoring: Path | None,
                   no_write: bool) -> None:
    """Propose each county's contact-point projects 联系点.

    Scores every compound on moderate size 规模适中, grassroots base 群众基础 (consent
    rate), space and facilities to integrate 可整合空间设施 and social capital 社会资本,
    and proposes the number each county must name. Writes the layer contact_points.
    """
    from rich.console import Console
    from rich.table import Table

    from gisplan.cli.estimate import print_findings
    from gisplan.contact_points import contact_points_project
    from gisplan.sources import as_project

    p = as_project(project)
    res = contact_points_project(p, override=override, scoring=scoring)
    print_findings(res.report)
    sel = res.frame[res.frame["selected"]]
    t = Table(title="联系点 contact points")
    for col in ["county 县区", "compound 小区", "score 得分", "override 调整", "why 说明"]:
        t.add_column(col)
    for r in sel.itertuples():
        t.add_row(str(r.county), f"{r.compound_id} {r.name}", f"{r.score:.3f}",
                  str(r.override), str(r.explanation))
    Console().print(t)
    if not no_write:
        p.write("contact_points", res.frame)
