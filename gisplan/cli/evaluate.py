"""``gisplan evaluate STORE [--sheet FILE]``: county evaluation 考核评价, top 3."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import PROGRAMME


@click.command("evaluate")
@click.argument("project", type=PROGRAMME)
@click.option("--sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Inspection scores 检查验收得分 (CSV/XLSX: 县区, 年中, 年终); "
                                 "default: computed from the progress log.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A city's own weights (TOML like "
                                 "data/evaluation_weights.toml).")
@click.option("--no-write", is_flag=True, help="Do not write the evaluation table.")
def evaluate(project: Path, sheet: Path | None, weights: Path | None, no_write: bool) -> None:
    """Rank counties by the weighted mid-year and year-end inspections 考核评价.

    Shows each county's scores and components, the weighted score and the top counties
    优秀县区. Writes the table evaluation.
    """
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from gisplan.cli.estimate import print_findings
    from gisplan.evaluation import evaluate_project
    from gisplan.sources import as_project

    p = as_project(project)
    df = None
    if sheet is not None:
        df = (pd.read_excel(sheet) if sheet.suffix.lower() in (".xlsx", ".xls")
              else pd.read_csv(sheet, encoding="utf-8-sig"))
    res = evaluate_project(p, sheet=df, weights=weights)
    print_findings(res.report)
    t = Table(title="考核评价 county evaluation")
    for col in ["rank 排名", "county 县区", "score 得分", "top 优秀", "how 计算"]:
        t.add_column(col)
    for r in res.frame.itertuples():
        t.add_row(str(r.rank), str(r.county), f"{r.score:.2f}", "★" if r.top else "",
                  str(r.explanation))
    Console().print(t)
    if not no_write:
        p.write("evaluation", res.frame)
