"""``gisplan report``: the programme report as Excel or CSV (报表)."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import PROGRAMME


@click.command("report")
@click.argument("project", type=PROGRAMME)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.xlsx (a workbook) or FILE.csv (a CSV per table) 输出文件.")
@click.option("--as-of", "as_of", default=None,
              help="Status date 截至日期 (2023-06-30, 2023年6月30日); default: latest in the log.")
def report(project: Path, out: Path, as_of: str | None) -> None:
    """Write the programme report 报表 as Excel or CSV, with Chinese headers.

    Sheets: 进度汇总, 片区进度, 里程碑, 问题清单, 设计缺项, 资金来源, and 连片项目 and
    设施缺口 where the store holds bundles and coverage results.
    """
    from gisplan.cli.progress import _date
    from gisplan.report import write_report

    for path in write_report(project, out, as_of=_date(as_of)):
        click.echo(f"wrote {path}")
