"""``gisplan export`` / ``gisplan import-parquet``: GeoParquet of any layer (导出/导入)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("export")
@click.argument("store", type=click.Path(exists=True, path_type=Path))
@click.argument("layer")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="X.parquet: a file for a programme, a folder of city=<code> partitions "
                   "for a national programme 输出.")
def export(store: Path, layer: str, out: Path) -> None:
    """Export LAYER of STORE as GeoParquet 导出为 GeoParquet (DuckDB, QGIS, Spark).

    STORE is a programme GeoPackage or a national programme folder (then the output is
    partitioned by city). Tables without geometry are written as plain Parquet.

    Example 示例: gisplan export layers/guyuan_2022.gpkg compounds --out compounds.parquet
    """
    from gisplan.parquet import export_layer, read_layer

    path = export_layer(store, layer, out)
    n = len(read_layer(path))
    click.echo(f"{layer}: {n:,} rows 行 → {path}")


@click.command("import-parquet")
@click.argument("store", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--layer", required=True, help="Layer to write (replaced) 图层名.")
@click.option("--city", default=None,
              help="City code 城市代码 to take from a dataset partitioned by city.")
def import_parquet(store: Path, file: Path, layer: str, city: str | None) -> None:
    """Write a (Geo)Parquet FILE into STORE as LAYER 导入 GeoParquet.

    Example 示例: gisplan import-parquet x.gpkg compounds.parquet --layer compounds
    """
    from gisplan.parquet import import_layer

    n = import_layer(file, store, layer, city=city)
    click.echo(f"{layer}: {n:,} rows 行 written to {store}")
