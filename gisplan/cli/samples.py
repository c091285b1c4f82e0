"""``gisplan samples``: build the three sample programmes 示例数据."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("samples")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("layers"), show_default=True,
              help="Folder for the GeoPackages 输出目录")
@click.option("--counties", "counties_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None,
              help="seed-city-counties.geojson 县区边界 (default: the copy in "
                   "gisplan/data/counties, or $GISPLAN_SHARED/data when set)")
@click.option("--only", "only", multiple=True,
              type=click.Choice(["guyuan_2022", "xuchang_2023", "huaian_2023"]),
              help="Build only these programmes (repeatable) 仅生成")
def samples(out_dir: Path, counties_path: Path | None, only: tuple[str, ...]) -> None:
    """Build the sample programmes 示例数据 from the seed documents.

    Real figures from the seeds (固原 2022, 许昌 2023, 淮安 2023), synthetic geometry:
    writes guyuan_2022.gpkg, xuchang_2023.gpkg and huaian_2023.gpkg into OUT.
    """
    from gisplan.samples import PROGRAMMES, build_samples
    from gisplan.store import Project

    paths = build_samples(out_dir, counties_path=counties_path,
                          programmes=list(only) or list(PROGRAMMES))
    for path in paths:
        p = Project.open(path)
        size_kb = path.stat().st_size / 1024
        comp = p.read("compounds")
        click.echo(f"{path}  {p.meta.get('name')}: {len(comp)} compounds 小区, "
                   f"{int(comp['households'].sum())} households 户, {size_kb:,.0f} KB")
