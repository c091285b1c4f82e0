"""``gisplan template LAYER --out FILE.xlsx``: a blank Excel form to fill in 填报模板."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import PROGRAMME
from gisplan.templates import TEMPLATE_LAYERS


@click.command("template")
@click.argument("layer", type=click.Choice(TEMPLATE_LAYERS))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .xlsx file to write 输出文件.")
@click.option("--programme", "store", type=PROGRAMME,
              help="Programme store 项目文件: its counties 县区 become a drop-down list.")
@click.option("--force", is_flag=True, help="Replace an existing file 覆盖已有文件.")
def template(layer: str, out: Path, store: Path | None, force: bool) -> None:
    """Write a blank Excel form 填报模板 for LAYER.

    LAYER: compounds 小区, facilities 设施, roads 道路, utilities 管线, districts 片区/街道,
    progress 进度报表.

    \b
    The form has Chinese headers (required ones red, marked （必填）), an example row
    above the header (row 2, not imported: keep it or delete it), drop-down lists for
    every vocabulary column, and a sheet 说明 explaining each column and its unit.
    Fill it in from row 4, then:
      gisplan import 项目.gpkg 小区清单.xlsx --layer compounds
      gisplan progress import 项目.gpkg 进度报表.xlsx        (progress)

    Example 示例: gisplan template compounds --out 小区清单.xlsx --programme 项目.gpkg
    """  # noqa: D301 - \b keeps click from rewrapping the examples
    from gisplan.templates import write_template

    counties: list[str] = []
    if store is not None:
        from gisplan.cli.programme import _open

        counties = [str(c) for c in _open(store)[1].get("counties") or []]
    path = write_template(layer, out, counties=counties, overwrite=force)
    click.echo(f"template 填报模板 {layer} → {path}")
    command = ("gisplan progress import 项目.gpkg" if layer == "progress"
               else "gisplan import 项目.gpkg")
    click.echo(f"fill in from row 4 从第4行起填写, then 然后: {command} {path.name}"
               + ("" if layer == "progress" else f" --layer {layer}"))
