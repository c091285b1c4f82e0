"""``gisplan map PROJECT --kind ...``: a self-contained interactive HTML map (地图)."""

from __future__ import annotations

from pathlib import Path

import click

from gisplan.cli._options import METRES, PROGRAMME

_KINDS = {
    "progress": "改造进度",
    "gaps": "设施覆盖与缺口",
    "bundles": "连片打包",
    "utilities": "管线",
    "atlas": "一张图",
}


def _check_tianditu_key() -> None:
    """Refuse a missing or placeholder $TIANDITU_KEY before any work, in CLI terms."""
    import os

    from gisplan.maps import TIANDITU_KEY_ENV, is_placeholder_key

    key = os.environ.get(TIANDITU_KEY_ENV)
    if key is None or not key.strip():
        raise click.UsageError(
            f"--basemap tianditu needs a Tianditu browser key in the environment variable "
            f"{TIANDITU_KEY_ENV} 天地图密钥未设置. Fix: export {TIANDITU_KEY_ENV}=<the key from "
            f"console.tianditu.gov.cn>, or use --basemap none.")
    if is_placeholder_key(key):
        raise click.UsageError(
            f"--basemap tianditu: {TIANDITU_KEY_ENV}={key.strip()!r} is a placeholder, not a "
            f"key 天地图密钥无效. Fix: set {TIANDITU_KEY_ENV} to your own browser key from "
            f"console.tianditu.gov.cn, or use --basemap none.")


@click.command("map")
@click.argument("project", type=PROGRAMME)
@click.option("--kind", type=click.Choice(list(_KINDS)), default="progress", show_default=True,
              help="progress 改造进度 | gaps 设施缺口 | bundles 连片打包 | utilities 管线 | "
                   "atlas 一张图 (the four as switchable views with a linked compound "
                   "table).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output HTML file 输出文件 (default: maps/<programme>_<kind>.html).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Map labels: Chinese 中文, or English with the Chinese term beside it.")
@click.option("--basemap", type=click.Choice(["none", "osm", "tianditu", "amap"]),
              default="none", show_default=True,
              help="none = offline 离线 (outlines and roads from the layers); osm; tianditu "
                   "天地图 (key in $TIANDITU_KEY); amap 高德 (overlays shifted to GCJ-02).")
@click.option("--as-of", "as_of", default=None,
              help="Progress status date 截至日期, e.g. 2023-06-30 (default: latest report).")
@click.option("--type", "types", multiple=True,
              help="Facility type(s) for the gaps map 设施类型 (key or Chinese name).")
@click.option("--title", default=None, help="Map title 标题.")
@click.option("--tolerance", "tolerance_m", type=METRES, default=None,
              help="Simplify outlines to this many metres 简化容差（米） (default: 1, "
                   "0.5 for utilities).")
@click.option("--qgis-styles", "qgis_styles", is_flag=True, default=False,
              help="Also write QGIS layer styles in the maps' colours into the store "
                   "(table layer_styles) 写入QGIS图层样式, so the GeoPackage opens styled.")
def map_(project: Path, kind: str, out: Path | None, lang: str, basemap: str,
         as_of: str | None, types: tuple[str, ...], title: str | None,
         tolerance_m: float | None, qgis_styles: bool) -> None:
    """Write an interactive HTML map of a programme 交互式地图.

    The file is self-contained: Leaflet and every script and stylesheet are inlined, so
    it opens from disk with no network (basemap none). Layer control 图层, legend 图例,
    search by compound name 搜索小区, popups with the key figures.
    """
    from gisplan import maps
    from gisplan.cli._options import facility_type_keys
    from gisplan.standards import load_standard
    from gisplan.store import Project

    if basemap == "tianditu":
        _check_tianditu_key()
    p = Project.open(project)
    options = maps.MapOptions(lang=lang, basemap=basemap,  # type: ignore[arg-type]
                              title=title, tolerance_m=tolerance_m)
    if out is None:
        out = Path("maps") / f"{project.stem}_{kind}.html"
    if kind == "atlas":
        path = maps.save_atlas(p, out, as_of=as_of, options=options)
        click.echo(f"{_KINDS[kind]} atlas written 已生成: {path} "
                   f"({path.stat().st_size / 1e6:.2f} MB)")
        _write_styles(p, project, qgis_styles)
        return
    kind_options: dict[str, object] = {}
    if kind == "progress":
        kind_options["as_of"] = as_of
    if kind == "gaps" and types:
        kind_options["facility_types"] = facility_type_keys(load_standard(), types)
    m = maps.make_map(p, kind, options=options, **kind_options)  # type: ignore[arg-type]
    path = maps.save_map(m, out)
    size_mb = path.stat().st_size / 1e6
    drawn = sum(m.feature_counts.values())
    rows = sum(m.row_counts.values())
    click.echo(f"{_KINDS[kind]} map written 已生成: {path} ({size_mb:.2f} MB, "
               f"{drawn} features drawn of {rows} rows, basemap {basemap}"
               f"{', CJK font subset embedded 已嵌入中文字体' if m.font_embedded else ''})")
    _write_styles(p, project, qgis_styles)


def _write_styles(p: object, project: Path, wanted: bool) -> None:
    """Write QGIS layer styles into the store when asked (``--qgis-styles``)."""
    if not wanted:
        return
    from gisplan.qgis_styles import write_layer_styles

    table = write_layer_styles(p)
    click.echo(f"QGIS layer styles written 已写入QGIS图层样式: {len(table)} layers "
               f"({', '.join(table['f_table_name'])}) in {project}:layer_styles")
