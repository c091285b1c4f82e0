"""QGIS layer styles (QGIS 图层样式) in the programme store, in the maps' colours.

QGIS reads a GeoPackage's ``layer_styles`` table and opens each layer with the style
marked ``useAsDefault``. :func:`layer_styles` builds that table for the layers a
programme store holds, with QML (QGIS's style XML) using the colours of the HTML maps
(:mod:`gisplan.maps`): compounds by status 进度阶段, coverage gaps blue/orange, bundles in
their adjacent-distinct colours, utilities in the CJJ 61 network colours, facilities as
black dots, roads and districts as grey context. :func:`write_layer_styles` writes it
into the store (``gisplan map STORE --qgis-styles``).

The table has the columns QGIS itself creates: ``f_table_catalog``, ``f_table_schema``,
``f_table_name``, ``f_geometry_column``, ``styleName``, ``styleQML``, ``styleSLD``,
``useAsDefault``, ``description``, ``owner``, ``ui``, ``update_time``.

Examples
--------
>>> import geopandas as gpd, shapely
>>> roads = gpd.GeoDataFrame({"name": ["西关街"]}, crs=4326,
...                          geometry=[shapely.LineString([(0, 0), (1, 1)])])
>>> table = layer_styles({"roads": roads})
>>> table[["f_table_name", "f_geometry_column", "styleName", "useAsDefault"]].values.tolist()
[['roads', 'geometry', 'gisplan roads', True]]
>>> "SimpleLine" in table["styleQML"].iloc[0]
True
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from contextlib import closing
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

__all__ = ["COLUMNS", "layer_styles", "qml", "write_layer_styles"]

#: the columns of QGIS's own ``layer_styles`` table
COLUMNS = ("f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
           "styleName", "styleQML", "styleSLD", "useAsDefault", "description", "owner",
           "ui", "update_time")
#: most bundles given their own colour category (more: one outline symbol)
MAX_BUNDLE_CATEGORIES = 2000

Kind = Literal["fill", "line", "marker"]


def _rgba(hex_color: str, alpha: float = 1.0) -> str:
    """``#2166ac`` → ``"33,102,172,255"`` (QGIS colour strings)."""
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(alpha * 255)}"


def _symbol(parent: ET.Element, name: str, kind: Kind, color: str, *,
            outline: str | None = None, width_mm: float = 0.26, alpha: float = 1.0,
            fill: bool = True, dash: bool = False) -> None:
    """Append one ``<symbol>`` with one simple layer (fill, line or marker)."""
    sym = ET.SubElement(parent, "symbol", type=kind, name=name, alpha="1",
                        clip_to_extent="1", force_rhr="0")
    cls = {"fill": "SimpleFill", "line": "SimpleLine", "marker": "SimpleMarker"}[kind]
    layer = ET.SubElement(sym, "layer", {"class": cls, "enabled": "1", "pass": "0",
                                         "locked": "0"})
    opts = ET.SubElement(layer, "Option", type="Map")

    def opt(key: str, value: str) -> None:
        ET.SubElement(opts, "Option", name=key, value=value, type="QString")

    if kind == "fill":
        opt("color", _rgba(color, alpha if fill else 0.0))
        opt("style", "solid" if fill else "no")
        opt("outline_color", _rgba(outline or color))
        opt("outline_width", f"{width_mm:g}")
        opt("outline_width_unit", "MM")
        opt("outline_style", "dash" if dash else "solid")
    elif kind == "line":
        opt("line_color", _rgba(color, alpha))
        opt("line_width", f"{width_mm:g}")
        opt("line_width_unit", "MM")
        opt("line_style", "dash" if dash else "solid")
        opt("capstyle", "round")
        opt("joinstyle", "round")
    else:
        opt("name", "circle")
        opt("color", _rgba(color, alpha))
        opt("outline_color", _rgba(outline or "#ffffff"))
        opt("outline_width", "0.3")
        opt("size", f"{width_mm:g}")
        opt("size_unit", "MM")


def qml(kind: Kind, *, color: str | None = None, attr: str | None = None,
        categories: Sequence[tuple[Any, str, str]] = (), rules: Sequence[tuple[str, str, str]]
        = (), width_mm: float = 0.26, alpha: float = 0.7, fill: bool = True,
        outline: str | None = None) -> str:
    """QML text of one style: a single symbol, categories on *attr*, or rules.

    Parameters
    ----------
    kind : {"fill", "line", "marker"}
        Symbol type (polygons, lines, points).
    color : str, optional
        Colour of a single-symbol style (``#rrggbb``).
    attr, categories
        Categorized style: ``(value, label, colour)`` per category of column *attr*.
    rules
        Rule-based style: ``(QGIS expression, label, colour)``; the first rule that
        matches draws.
    width_mm, alpha, fill, outline
        Outline or line width (marker size), fill opacity, whether polygons are
        filled, outline colour.

    Examples
    --------
    >>> text = qml("fill", attr="status", categories=[("planned", "计划", "#8c8c8c")])
    >>> 'type="categorizedSymbol"' in text and 'value="planned"' in text
    True
    """
    root = ET.Element("qgis", version="3.28.0", styleCategories="Symbology")
    if categories:
        rend = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=str(attr),
                             symbollevels="0", enableorderby="0", forceraster="0")
        cats = ET.SubElement(rend, "categories")
        for i, (value, label, _c) in enumerate(categories):
            ET.SubElement(cats, "category", value=str(value), symbol=str(i), label=str(label),
                          render="true")
        entries = [c for _v, _l, c in categories]
    elif rules:
        rend = ET.SubElement(root, "renderer-v2", type="RuleRenderer", symbollevels="0",
                             enableorderby="0", forceraster="0")
        top = ET.SubElement(rend, "rules", key="root")
        for i, (expr, label, _c) in enumerate(rules):
            attrs = {"key": f"r{i}", "symbol": str(i), "label": label}
            if expr:
                attrs["filter"] = expr
            ET.SubElement(top, "rule", attrs)
        entries = [c for _e, _l, c in rules]
    else:
        rend = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0",
                             enableorderby="0", forceraster="0")
        entries = [color or "#444444"]
    syms = ET.SubElement(rend, "symbols")
    for i, c in enumerate(entries):
        _symbol(syms, str(i), kind, c, outline=outline or (c if kind != "fill" else "#333333"),
                width_mm=width_mm, alpha=alpha, fill=fill)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body


def _zh(vocab_name: str, key: str) -> str:
    from gisplan.schema import vocab

    term = vocab(vocab_name).get(key)
    return str(getattr(term, "zh", None) or key)


def _style_of(name: str, frame: pd.DataFrame) -> tuple[str, str] | None:
    """QML and a description for store layer *name*; None: a layer gisplan does not style."""
    from gisplan import maps

    cols = set(frame.columns)
    if name == "compounds":
        stages = [(k, _zh("stage", k), c) for k, c in maps.STAGE_COLORS.items()]
        return (qml("fill", attr="status", categories=stages, alpha=0.75)
                if "status" in cols else qml("fill", color=maps.NODATA),
                "小区 compounds by status 进度阶段 (gisplan progress map colours)")
    if name == "coverage_gaps":
        rules = [('"n_gaps" = 0', "覆盖 covered", maps.COVERED),
                 ('"n_gaps" > 0', "有缺口 gap", maps.UNCOVERED),
                 ("", "无距离数据 no distance", maps.NODATA)]
        return qml("fill", rules=rules, alpha=0.65), "设施覆盖与缺口 coverage gaps"
    if name == "bundles":
        return _bundle_style(frame), "连片打包 bundles (neighbours never share a colour)"
    if name == "utilities":
        nets = [(k, _zh("network", k), c) for k, c in maps.NETWORK_COLORS.items()]
        return (qml("line", attr="network", categories=nets, width_mm=0.6, alpha=0.9),
                "管线 utilities by network (CJJ 61 colours)")
    if name == "facilities":
        return qml("marker", color=maps.FACILITY, width_mm=2.6, alpha=1.0), "设施 facilities"
    if name == "roads":
        return qml("line", color=maps.CONTEXT, width_mm=0.4, alpha=0.9), "道路 roads"
    if name == "districts":
        return (qml("fill", color="#555555", fill=False, width_mm=0.5, outline="#555555"),
                "行政区与片区 districts (outlines)")
    return None


def _bundle_style(bundles: pd.DataFrame) -> str:
    """Bundles coloured as on the bundles map (:func:`gisplan.maps.adjacent_colors`)."""
    from gisplan import maps

    if (not isinstance(bundles, gpd.GeoDataFrame) or "bundle_id" not in bundles.columns
            or not 0 < len(bundles) <= MAX_BUNDLE_CATEGORIES):
        return qml("fill", color=maps.CATEGORICAL[0], alpha=0.5)
    from gisplan.crs import metric_crs

    metric = bundles.to_crs(metric_crs(bundles)) if bundles.crs else bundles
    colour = maps.adjacent_colors(metric.geometry.to_numpy())
    cats = [(str(b), str(b), maps.CATEGORICAL[int(c) % len(maps.CATEGORICAL)])
            for b, c in zip(bundles["bundle_id"], colour, strict=True)]
    return qml("fill", attr="bundle_id", categories=cats, alpha=0.55)


def layer_styles(layers: Mapping[str, pd.DataFrame], *,
                 now: dt.datetime | None = None) -> pd.DataFrame:
    """Build the ``layer_styles`` table for the styled layers among *layers*.

    Parameters
    ----------
    layers : mapping of layer name to (Geo)DataFrame
        The store's layers (``compounds``, ``coverage_gaps``, ``bundles``,
        ``utilities``, ``facilities``, ``roads``, ``districts``); others are skipped.
    now : datetime, optional
        The ``update_time`` written; ``None`` means the current UTC time.

    Returns
    -------
    pandas.DataFrame
        One row per styled layer, columns :data:`COLUMNS`.
    """
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = []
    for name, frame in layers.items():
        style = _style_of(name, frame)
        if style is None or not isinstance(frame, gpd.GeoDataFrame):
            continue
        text, description = style
        rows.append({"f_table_catalog": "", "f_table_schema": "", "f_table_name": name,
                     "f_geometry_column": frame.geometry.name,
                     "styleName": f"gisplan {name}", "styleQML": text, "styleSLD": "",
                     "useAsDefault": True, "description": description,
                     "owner": "gisplan", "ui": "", "update_time": stamp})
    return pd.DataFrame(rows, columns=list(COLUMNS))


STYLED = ("compounds", "coverage_gaps", "bundles", "utilities", "facilities", "roads",
          "districts")


def write_layer_styles(source: Any) -> pd.DataFrame:
    """Write QGIS layer styles into a programme store (table ``layer_styles``).

    Parameters
    ----------
    source : Project, str or os.PathLike
        The programme store (GeoPackage).

    Returns
    -------
    pandas.DataFrame
        The table written (one row per styled layer present).
    """
    from gisplan.sources import as_project

    p = as_project(source)
    present = [n for n in STYLED if p.has(n)]
    frames = {n: _geometry_only(p, n) for n in present}
    table = layer_styles(frames)
    p.write("layer_styles", table,
            description="QGIS layer styles (gisplan map colours) QGIS 图层样式")
    return table


def _geometry_only(p: Any, name: str) -> pd.DataFrame:
    """Read the columns a style needs (all of them for bundles, whose colours need shapes)."""
    from gisplan.store._gpkg import connect_ro

    with closing(connect_ro(p.path)) as con:
        row = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                          (name,)).fetchone()
    if row is None:
        return p.read(name)
    need = {"compounds": ["status"], "coverage_gaps": ["n_gaps"], "utilities": ["network"],
            "bundles": ["bundle_id"]}.get(name)
    try:
        return p.read(name, columns=need or [])
    except Exception:  # a column is missing: the style falls back on what is there
        return p.read(name)
