"""``gisplan import PROJECT FILE --layer compounds``: read a file into a programme (导入图层)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gisplan.cli._options import NEW_PROGRAMME
from gisplan.schema import layers

if TYPE_CHECKING:
    from gisplan.findings import Report

_SHOWN = 30


@click.command("import")
@click.argument("project", type=NEW_PROGRAMME)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--layer", "layer_kind", required=True,
              type=click.Choice([n for n in layers() if n != "progress_log"]),
              help="What the file holds 图层: compounds 小区, districts 片区/街道/县区, "
                   "utilities 管线, facilities 设施, roads 道路, gates 出入口, "
                   "plan_targets 计划指标, plan_lists 计划名单. "
                   "Progress tables 进度台账: use `gisplan progress import`.")
@click.option("--sheet", default=None,
              help="Excel sheet 工作表 (name); default: the sheet whose header fits best.")
@click.option("--source-layer", default=None,
              help="Layer inside a GeoPackage 源图层; default: the one named like --layer.")
@click.option("--crs", default=None,
              help="CRS of the coordinates 坐标系 (EPSG code): 4490 CGCS2000 lon/lat, 4326 "
                   "WGS84 lon/lat; projected CGCS2000 3° Gauss-Krüger eastings without zone "
                   "prefix: 4534 + (central meridian − 75) / 3, e.g. 4544 (CM 105°E, Guyuan "
                   "固原), 4547 (CM 114°E, Xuchang 许昌), 4549 (CM 120°E, Huai'an 淮安). "
                   "Default: the file's own, else inferred. Coordinates that do not fit the "
                   "CRS, or lie far from the programme's other layers, are refused with the "
                   "CRS they fit.")
@click.option("--coords", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84",
              show_default=True,
              help="Coordinates picked on Amap/Tencent 高德/腾讯 (gcj02) or Baidu 百度 (bd09) "
                   "maps are converted to WGS84.")
@click.option("--encoding", default=None,
              help="Text encoding of a CSV/DBF 编码 (e.g. gbk); default: UTF-8, else GBK.")
@click.option("--lon", default=None, help="Longitude column 经度列 (as written in the header).")
@click.option("--lat", default=None, help="Latitude column 纬度列.")
@click.option("--wkt", default=None, help="WKT geometry column 几何列.")
@click.option("--id-column", default=None,
              help="Column holding the ids 编号列 (as written in the header); default: the "
                   "column named like 小区编号/设施编号; without one, ids are generated from "
                   "序号 or the row order (C0001, F0001, ...) and flagged id_generated.")
@click.option("--map", "map_options", multiple=True, metavar="原列名=COLUMN",
              help="Read a column as a canonical one 指定表头对应 (repeatable), e.g. "
                   "--map 小区名=name --map 所在街道=street --map X坐标=lon. The column may "
                   "be named in English or Chinese (households or 户数).")
@click.option("--mapping", "mapping_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Reuse a mapping saved with --save-mapping 使用已存表头对应 "
              "(TOML); --map entries win over it.")
@click.option("--save-mapping", "save_mapping", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Save the header mapping actually used (automatic ones "
              "too) and the --vocab maps as TOML 保存表头对应, for next week's file.")
@click.option("--vocab", "vocab_options", multiple=True, metavar="COLUMN=FILE.csv|osm",
              help="Map values as written to terms 取值对应 (repeatable): "
                   "--vocab facility_type=设施类型对照.csv (two columns: value as written, "
                   "term). --vocab osm: the file is an OpenStreetMap export (Overpass "
                   "Turbo/QuickOSM GeoJSON or GeoPackage): ids from @id/osm_id, tags "
                   "mapped as by import-osm, nothing to rename.")
@click.option("--allow-errors", is_flag=True,
              help="Write the layer even when validation finds errors (rows stay flagged).")
@click.option("--dry-run", is_flag=True, help="Read and check only; write nothing 仅检查.")
@click.option("--findings", "findings_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write every finding to this CSV 问题清单.")
def import_layer(project: Path, file: Path, layer_kind: str, sheet: str | None,
                 source_layer: str | None, crs: str | None, coords: str,
                 encoding: str | None, lon: str | None, lat: str | None, wkt: str | None,
                 id_column: str | None, map_options: tuple[str, ...],
                 mapping_file: Path | None, save_mapping: Path | None,
                 vocab_options: tuple[str, ...], allow_errors: bool, dry_run: bool,
                 findings_out: Path | None) -> None:
    """Read FILE into the programme PROJECT as one layer 导入图层.

    FILE may be a GeoPackage, GeoJSON, Shapefile (GBK without .cpg is detected), CSV
    (UTF-8 or GBK) or Excel .xlsx with 经度/纬度 or WKT columns; titles above the
    header and two-row merged headers are found. Chinese headers are mapped to
    canonical columns (小区名称 → name, 户数 → households, ...); values such as
    "1,435户", "6.418万平方米", "1998年" are parsed; columns gisplan does not know
    (序号, 备注, ...) are kept. A 合计 row and blank lines are skipped and reported.
    PROJECT (a .gpkg) is created when it does not exist; the layer replaces any layer of
    the same name.

    Example 示例: gisplan import guyuan.gpkg 小区清单.xlsx --layer compounds --coords gcj02
    """
    from gisplan.schema import layer_schema

    sch = layer_schema(layer_kind)
    if "osm" in vocab_options:
        frame, report = _read_osm(file, layer_kind, source_layer=source_layer,
                                  others=[v for v in vocab_options if v != "osm"],
                                  map_options=map_options,
                                  mapping_file=mapping_file or save_mapping)
    else:
        frame, report = _read_office(file, layer_kind, source_layer=source_layer,
                                     sheet=sheet, crs=crs, coords=coords, encoding=encoding,
                                     lon=lon, lat=lat, wkt=wkt, id_column=id_column,
                                     map_options=map_options, mapping_file=mapping_file,
                                     save_mapping=save_mapping, vocab_options=vocab_options,
                                     project=project)
    read_count = report.counts[layer_kind]
    _print_mapping(report, frame)

    validated = False
    try:
        from gisplan.validate import validate_layer
    except ImportError:
        pass
    else:
        frame, checked = validate_layer(frame, layer_kind, file=str(file))
        report.merge(checked)
        validated = True

    out_count = report.counts[layer_kind]
    flagged = int(frame["flags"].fillna("").astype(str).ne("").sum()) \
        if "flags" in frame.columns else out_count.flagged
    click.echo(
        f"{layer_kind} {sch.zh}: rows read 读入 {read_count.rows_in}, "
        f"rows returned 输出 {out_count.rows_out}, flagged 标记 {flagged}"
        + ("" if validated else " (validation not available in this build)")
    )
    _print_findings(report)
    if findings_out is not None:
        report.to_frame().to_csv(findings_out, index=False, encoding="utf-8-sig")
        click.echo(f"findings 问题清单 → {findings_out}")

    if report.errors and not allow_errors:
        click.secho(
            f"not written 未写入: {len(report.errors)} error(s); fix the source file, or pass "
            "--allow-errors to write the layer with the rows flagged", fg="red", err=True)
        sys.exit(2)
    if dry_run:
        click.echo("dry run 仅检查: nothing written")
        return
    _write(project, layer_kind, frame)
    click.echo(f"written 已写入: {project} layer '{layer_kind}' ({len(frame)} rows)")


def _read_osm(file: Path, layer_kind: str, *, source_layer: str | None, others: list[str],
              map_options: tuple[str, ...], mapping_file: Path | None) -> tuple[Any, Report]:
    """Read an Overpass/QuickOSM export with the OSM tag mapping (``--vocab osm``)."""
    from gisplan._errors import InputError
    from gisplan.osm import read_osm_export

    if others or map_options or mapping_file is not None:
        raise InputError("--vocab osm maps the OSM tags itself; it does not combine with "
                         "--map, --mapping, --save-mapping or other --vocab maps",
                         value=" ".join([*others, *map_options]),
                         hint="drop those options, or edit gisplan/data/osm_facilities.csv")
    result = read_osm_export(file, layer_kind, layer=source_layer)
    if len(result.unmapped):
        shown = ", ".join(f"{t} ({n})" for t, n in zip(result.unmapped["tag"].head(15),
                                                         result.unmapped["count"].head(15),
                                                         strict=True))
        click.echo(f"OSM tags not mapped 未对应的标签 ({int(result.unmapped['count'].sum())} "
                   f"features): {shown}")
    return result.frame, result.report


def _read_office(file: Path, layer_kind: str, *, source_layer: str | None,
                 sheet: str | None, crs: str | None, coords: str, encoding: str | None,
                 lon: str | None, lat: str | None, wkt: str | None, id_column: str | None,
                 map_options: tuple[str, ...], mapping_file: Path | None,
                 save_mapping: Path | None, vocab_options: tuple[str, ...],
                 project: Path) -> tuple[Any, Report]:
    """Read a file as an office keeps it, with the user's header and value maps."""
    from gisplan.mappings import SavedMapping, parse_map_options, parse_vocab_options
    from gisplan.read import read_layer, read_table
    from gisplan.schema import layer_schema

    columns = parse_map_options(map_options, layer_kind)
    vocab = parse_vocab_options(vocab_options, layer_kind)
    saved = SavedMapping.load(mapping_file, layer=layer_kind) if mapping_file else None
    if saved is not None:
        vocab = {**saved.vocab, **vocab}
    saved_columns = saved.columns if saved is not None else None
    coords_arg: Any = coords
    if layer_schema(layer_kind).kind == "spatial":
        frame, report = read_layer(file, layer_kind, layer=source_layer, sheet=sheet,
                                   crs=crs, coords=coords_arg, encoding=encoding,
                                   lon=lon, lat=lat, wkt=wkt, id_column=id_column,
                                   expected_bounds=_programme_extent(project, layer_kind),
                                   columns=columns, saved_columns=saved_columns, vocab=vocab)
    else:
        frame, report = read_table(file, layer_kind, sheet=sheet, encoding=encoding,
                                   columns=columns, saved_columns=saved_columns, vocab=vocab)
    if save_mapping is not None:
        extra = {h: k for k, h in (("lon", lon), ("lat", lat), ("wkt", wkt)) if h}
        SavedMapping.from_header_map(layer_kind, frame.attrs.get("header_map", {}),
                                     vocab=vocab, extra=extra).save(save_mapping)
        click.echo(f"mapping saved 表头对应已保存 → {save_mapping} (reuse: --mapping "
                   f"{save_mapping})")
    return frame, report


_EXTENT_LAYERS = ("compounds", "districts", "facilities", "roads", "utilities", "gates")


def _programme_extent(project: Path, layer_kind: str) -> tuple[float, ...] | None:
    """Lon/lat bounds of the programme's other spatial layers, or of its city; or None.

    A new layer must lie where the programme is: a wrong ``--crs`` puts it hundreds of
    kilometres away. The layer being replaced is left out (it may be the wrong one).
    """
    if not project.exists():
        return None
    import numpy as np
    import pyogrio

    from gisplan.crs import geographic_bounds

    boxes = []
    try:
        names = {str(n) for n in pyogrio.list_layers(project)[:, 0]}
    except Exception:  # not a GeoPackage gisplan can read: the write step will say so
        return None
    for name in _EXTENT_LAYERS:
        if name == layer_kind or name not in names:
            continue
        try:
            info = pyogrio.read_info(project, layer=name, force_total_bounds=True)
            bounds = tuple(float(v) for v in info["total_bounds"])
            if info["crs"] and np.isfinite(bounds).all():
                boxes.append(geographic_bounds(bounds, crs=info["crs"]))
        except Exception:  # an unreadable layer gives no extent; `check` reports it
            continue
    if not boxes:
        return None
    b = np.asarray(boxes, dtype=float)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
            float(b[:, 3].max()))


def _write(project: Path, layer_kind: str, frame: Any) -> None:
    from gisplan.store import Project

    if project.exists():
        Project.open(project).write(layer_kind, frame)
    else:
        Project.create(project, meta={"name": project.stem}, layers={layer_kind: frame})
        click.echo(f"created 新建 programme {project}")


def _print_mapping(report: Report, frame: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Header mapping 表头对应", show_lines=False)
    table.add_column("source header 源表头")
    table.add_column("column 字段")
    for f in report.by_code("header_mapped"):
        table.add_row(str(f.column), f.message.removeprefix("read as "))
    mapped = {f.column for f in report.by_code("header_mapped")}
    for f in report.by_code("id_generated"):
        table.add_row("—", f"{f.column}: [yellow]generated 生成 {f.value}[/yellow]")
        mapped.add(f.column)
    for c in frame.columns:
        if c not in mapped and c not in frame.attrs.get("header_map", {}).values() \
                and c not in ("geometry", "flags", "source_file", "source_row"):
            table.add_row(str(c), "[dim]kept as is 原样保留[/dim]")
    Console().print(table)


def _print_findings(report: Report) -> None:
    shown = [f for f in report.findings if f.severity in ("error", "warning")]
    infos = [f for f in report.findings
             if f.severity == "info" and f.code != "header_mapped"]
    for f in infos:
        click.echo(str(f))
    for f in shown[:_SHOWN]:
        click.secho(str(f), fg="red" if f.severity == "error" else "yellow")
    if len(shown) > _SHOWN:
        click.echo(f"... and {len(shown) - _SHOWN} more (write them all with --findings)")
