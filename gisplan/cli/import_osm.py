"""``gisplan import-osm STORE EXTRACT``: a programme from OpenStreetMap (从 OSM 建立项目)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gisplan.cli._options import NEW_PROGRAMME

if TYPE_CHECKING:
    from gisplan.osm import OsmLayers

_SHOWN = 15
_ZH = {"compounds": "小区", "facilities": "设施", "roads": "道路", "utilities": "管线",
       "districts": "片区/街道/县区"}


def _bbox(ctx: click.Context, param: click.Parameter, value: str | None
          ) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise click.BadParameter(f"{value!r}: give W,S,E,N in degrees, e.g. "
                                 "24.92,60.16,24.96,60.18")
    return parts


@click.command("import-osm")
@click.argument("store", type=NEW_PROGRAMME)
@click.argument("extract", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--bbox", callback=_bbox, default=None, metavar="W,S,E,N",
              help="Read only this box 范围 (degrees, longitude first).")
@click.option("--name", default=None, help="Programme name 项目名称; default: the store's name.")
@click.option("--city", default=None, help="City 城市, stored in the programme metadata.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A city's own tag mapping table 标签对照表 (CSV with the "
              "columns of gisplan/data/osm_facilities.csv).")
@click.option("--overwrite", is_flag=True, help="Replace STORE if it exists 覆盖.")
@click.option("--unmapped", "unmapped_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write every unmapped tag with its count to this CSV.")
@click.option("--findings", "findings_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write every finding to this CSV 问题清单.")
def import_osm(store: Path, extract: Path, bbox: tuple[float, ...] | None, name: str | None,
               city: str | None, mapping: Path | None, overwrite: bool,
               unmapped_out: Path | None, findings_out: Path | None) -> None:
    """Build a programme STORE (.gpkg) from an OpenStreetMap EXTRACT (.osm.pbf) 从OSM建立项目.

    Compounds 小区 are the residential areas (landuse=residential, place=neighbourhood)
    with the buildings inside counted; facilities 设施, roads 道路 (split at every
    junction), power lines 管线 and administrative districts 片区/街道/县区 follow the
    tag mapping table. OSM rarely maps households 户数 or build years 建成年份: each
    compound says so in its flags. Data © OpenStreetMap contributors (ODbL).

    Example 示例: gisplan import-osm city.gpkg city.osm.pbf --bbox 106.2,35.9,106.3,36.1
    """
    from gisplan._errors import InputError
    from gisplan.osm import import_osm as run

    if store.exists() and not overwrite:
        raise InputError("the programme file exists", file=str(store),
                         hint="choose a new .gpkg, or pass --overwrite to replace it")
    result = run(extract, bbox=bbox, mapping=mapping)
    _validate(result)
    _print_counts(result)
    _print_unmapped(result)
    if unmapped_out is not None:
        _csv(result.unmapped, unmapped_out)
        click.echo(f"unmapped tags 未对应标签 → {unmapped_out}")
    if findings_out is not None:
        _csv(result.report.to_frame(), findings_out)
        click.echo(f"findings 问题清单 → {findings_out}")
    _write(store, result, name=name, city=city, overwrite=overwrite)


def _validate(result: OsmLayers) -> None:
    """Run the checks every import runs; the layers come back repaired and flagged."""
    try:
        from gisplan.validate import validate_layer
    except ImportError:
        return
    for layer, frame in list(result.layers.items()):
        checked, rep = validate_layer(frame, layer, file=result.meta["sources"][0]["file"])
        result.layers[layer] = checked
        result.report.findings.extend(rep.findings)


def _print_counts(result: OsmLayers) -> None:
    counts = result.report.counts
    left = result.unmapped.groupby("layer")["count"].sum()
    for layer, frame in result.layers.items():
        c = counts.get(layer)
        read = c.rows_in if c else len(frame)
        out = c.rows_out if c else len(frame)
        unmapped = int(left.get(layer, 0))
        dropped = read - out - unmapped
        extra = f", parts 段 {len(frame)}" if layer == "roads" else ""
        click.echo(f"{layer} {_ZH[layer]}: read 读入 {read} = kept 保留 {out} + not mapped "
                   f"未对应 {unmapped}" + (f" + unusable 无效 {dropped}" if dropped else "")
                   + extra)
    _print_findings(result)


def _print_findings(result: OsmLayers) -> None:
    """Print summaries as they are, and findings about single rows counted by code."""
    per_row: dict[tuple[str, str, str], int] = {}
    for f in result.report.findings:
        if f.code.startswith("osm_tag_unmapped"):
            continue
        if f.row is None and f.value is None:
            click.secho(str(f), fg="yellow" if f.severity == "warning" else None)
        else:
            key = (f.severity, f.code, str(f.layer))
            per_row[key] = per_row.get(key, 0) + 1
    for (severity, code, layer), n in sorted(per_row.items()):
        click.secho(f"[{severity}] {code}: {layer}: {n} rows (flagged; --findings lists them)",
                    fg="red" if severity == "error" else "yellow")


def _print_unmapped(result: OsmLayers) -> None:
    top = result.unmapped.sort_values("count", ascending=False).head(_SHOWN)
    if top.empty:
        return
    click.echo("not mapped 未对应 (most frequent; add rows to the mapping table to keep them):")
    for row in top.itertuples(index=False):
        click.echo(f"  {row.layer}: {row.tag} × {row.count}")
    if len(result.unmapped) > _SHOWN:
        click.echo(f"  ... and {len(result.unmapped) - _SHOWN} more tags (--unmapped FILE "
                   "lists them all)")


def _csv(frame: Any, path: Path) -> None:
    from gisplan.cells import csv_safe_frame

    csv_safe_frame(frame).to_csv(path, index=False, encoding="utf-8-sig")


def _write(store: Path, result: OsmLayers, *, name: str | None, city: str | None,
           overwrite: bool) -> None:
    from gisplan.store import Project

    meta = {"name": name or store.stem, **({"city": city} if city else {}), **result.meta}
    Project.create(store, meta=meta, layers=result.layers, overwrite=overwrite)
    layers = ", ".join(f"{k} {len(v)}" for k, v in result.layers.items())
    click.echo(f"written 已写入: {store} ({layers}); {result.meta['attribution']}")
