"""``gisplan synth``: generate a synthetic city 合成城市 as a programme store."""

from __future__ import annotations

import time
from pathlib import Path

import click


def _center(ctx: click.Context, param: click.Parameter,
            value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lon, lat = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LON,LAT such as 106.28,36.00, got {value!r}") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise click.BadParameter(f"{value!r} is not a longitude,latitude pair (lon first)")
    return lon, lat


@click.command("synth")
@click.option("--compounds", type=click.IntRange(min=1), required=True,
              help="Number of compounds 小区数 (with --cities: over all cities)")
@click.option("--cities", type=click.IntRange(min=1, max=10_000), default=None,
              help="A national programme of N cities 城市数: --out is then a folder with "
                   "one store per city and national.json")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed 随机种子")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="GeoPackage to write 输出文件 (.gpkg); a folder with --cities")
@click.option("--road-nodes", type=click.IntRange(min=4), default=None,
              help="Street intersections 路网节点数 (default: just around the compounds)")
@click.option("--center", callback=_center, default=None,
              help="LON,LAT of the old town 中心点 (default: 原州区, Guyuan)")
@click.option("--facility-types", type=click.IntRange(1, 15), default=15, show_default=True,
              help="Number of facility types 设施类型数")
@click.option("--layout", type=click.Choice(["ragged", "contiguous"]), default="ragged",
              show_default=True,
              help="ragged: compounds scattered over blocks; contiguous: each 片区 packed "
                   "into neighbouring blocks (as the samples) 布局")
@click.option("--overwrite", is_flag=True, help="Replace an existing file 覆盖")
def synth(compounds: int, cities: int | None, seed: int, out: Path, road_nodes: int | None,
          center: tuple[float, float] | None, facility_types: int, layout: str,
          overwrite: bool) -> None:
    """Generate a synthetic city 合成城市 and write it as a programme store.

    Compounds 小区, districts 片区/街道/县区, utilities 管线, facilities 设施, roads 道路
    and gates 出入口, all synthetic (metadata ``synthetic: true``).

    With --cities N: a national programme 全国合成计划 of N cities over the provinces,
    each with its own counties, districts, roads, utilities, facilities and a year of
    progress reports 进度周报, one store per city in the folder --out (run it with
    gisplan run OUT).
    """
    if cities is not None:
        if center is not None or road_nodes is not None:
            raise click.UsageError("--center and --road-nodes are per city; leave them out "
                                   "with --cities")
        _synth_national(out, cities=cities, compounds=compounds, seed=seed,
                        facility_types=facility_types, layout=layout, overwrite=overwrite)
        return
    if out.is_dir():
        raise click.UsageError(f"--out {out} is a folder; give a .gpkg file (or --cities)")
    from gisplan.store import Project
    from gisplan.synth import DEFAULT_CENTER, synth_city

    t0 = time.perf_counter()
    layers = synth_city(compounds=compounds, seed=seed, road_nodes=road_nodes,
                        center=center or DEFAULT_CENTER, facility_types=facility_types,
                        layout=layout)
    t1 = time.perf_counter()
    lon, lat = center or DEFAULT_CENTER
    meta = {
        "name": f"合成城市 synthetic city ({compounds} compounds, seed {seed})",
        "name_en": f"Synthetic city, {compounds} compounds, seed {seed}",
        "city": "合成城市",
        "counties": sorted(layers["compounds"]["county"].unique().tolist()),
        "year": None,
        "synthetic": True,
        "synthetic_note": f"gisplan synth --compounds {compounds} --seed {seed}: every layer is "
                          "generated; no real place data except the centre point",
        "sources": [],
        "crs_note": f"EPSG:4326; generated in a local transverse Mercator at {lon},{lat}",
        "targets": {"compounds": compounds,
                    "households": int(layers["compounds"]["households"].sum())},
        "bundle_level": "pianqu",
        "seed": seed,
    }
    Project.create(out, meta=meta, layers=layers, overwrite=overwrite)
    t2 = time.perf_counter()
    counts = ", ".join(f"{k} {len(v):,}" for k, v in layers.items())
    click.echo(f"{out}: {counts} (generated in {t1 - t0:.1f} s, written in {t2 - t1:.1f} s)")


def _synth_national(out: Path, *, cities: int, compounds: int, seed: int, facility_types: int,
                    layout: str, overwrite: bool) -> None:
    """Write a national programme city by city, with a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gisplan.national import synth_national

    if compounds < cities:
        raise click.UsageError(f"--compounds {compounds} cannot fill --cities {cities}")
    t0 = time.perf_counter()
    con = Console(stderr=True)
    with Progress(TextColumn("synth 合成城市"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[city]}"), TimeElapsedColumn(),
                  console=con) as bar:
        task = bar.add_task("synth", total=cities, city="")
        nat = synth_national(out, cities=cities, compounds=compounds, seed=seed,
                             overwrite=overwrite, facility_types=facility_types,
                             layout=layout,
                             on_city=lambda c: bar.update(task, advance=1,
                                                          city=f"{c.code} {c.name}"))
    provinces = len({c.province for c in nat.cities})
    click.echo(f"{out}: {len(nat.cities)} cities 城市 in {provinces} provinces 省, "
               f"{sum(c.compounds for c in nat.cities):,} compounds 小区 "
               f"({time.perf_counter() - t0:.1f} s); run it with: gisplan run {out}")
