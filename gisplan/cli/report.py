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
@click.option("--detail-cells", "detail_cells", type=click.IntRange(min=0), default=None,
              help="XLSX: a table of more cells than this goes in full to FILE_<sheet>.csv "
                   "beside the workbook, which keeps a preview 明细另存 (default 200000; "
                   "0: keep every table in the workbook).")
def report(project: Path, out: Path, as_of: str | None, detail_cells: int | None) -> None:
    """Write the programme report 报表 as Excel or CSV, with Chinese headers.

    Sheets: 进度汇总, 片区进度, 里程碑, 进度曲线 (charts), 问题清单, 设计缺项, 资金来源;
    连片项目 and 设施缺口 where the store holds bundles and coverage results; 项目清单,
    资金来源（项目/片区）, 资金来源核对, 联系点, 垃圾分类设施, 考核评价 where it holds
    the layers of estimate, contact-points, waste-points and evaluate; 列名说明; 说明
    (data sources and attribution).
    """
    from gisplan.cli.progress import _date
    from gisplan.report import DETAIL_CELLS, write_report

    cells = DETAIL_CELLS if detail_cells is None else (detail_cells or None)
    for path in write_report(project, out, as_of=_date(as_of), detail_cells=cells):
        click.echo(f"wrote {path}")
