"""The map page every kind of map shares.

Its classes (:class:`GisplanMap`, its layers and parts), the programme's layers as a map
reads them, each layer's data in the page, and the scaffolding: basemap, view, labels,
credits, legend and the context layers (districts, roads).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure
from folium.template import Template

from gisplan import _assets
from gisplan._errors import CRSError, InputError
from gisplan.chinacoords import wgs84_to_gcj02
from gisplan.crs import metric_crs
from gisplan.maps._style import CONTEXT, _t
from gisplan.maps.encoding import QUANT_ORIGIN, _column_values, _safe_json, encode_geometries
from gisplan.maps.options import Lang, MapOptions, MapSource, tianditu_key

#: above this many drawn features the map uses Leaflet's canvas renderer
CANVAS_ABOVE = 3000
#: maps with more features than this keep at most COARSE_DECIMALS decimals (5: ~1 m,
#: under a pixel below zoom 18), which keeps a 300,000-compound page under 15 MB
COARSE_ABOVE, COARSE_DECIMALS = 100_000, 5
#: a compounds layer with more features than LAZY_ABOVE (any other layer: more than
#: LAZY_CONTEXT_ABOVE) is drawn lazily: the page keeps its packed arrays and draws only
#: the features near the view, added as the user pans; compounds from zoom LAZY_ZOOM up
#: (the 县区/片区 roll-ups show the rest), roads from LAZY_CONTEXT_ZOOM up, the rest at
#: any zoom. Search still finds every compound
LAZY_ABOVE, LAZY_ZOOM, LAZY_CONTEXT_ABOVE, LAZY_CONTEXT_ZOOM = 20_000, 15, 5_000, 13
#: simplification tolerance in metres per map kind (``MapOptions.tolerance_m=None``)
TOLERANCE_M: dict[str, float] = {"progress": 1.0, "gaps": 1.0, "bundles": 1.0,
                                 "utilities": 0.5}
#: above this many local roads and paths, the offline basemap draws main roads only
MAX_MINOR_ROADS = 20000

# ---------------------------------------------------------------- the map


class GisplanMap(folium.Map):
    """A :class:`folium.Map` that loads nothing from the network.

    Folium's default CDN scripts and stylesheets (Leaflet, jQuery, Bootstrap, Font
    Awesome, awesome-markers) are replaced by Leaflet from ``xstatic-leaflet`` and
    gisplan's map runtime, both inlined into the page.

    Attributes
    ----------
    feature_counts : dict of str to int
        Features drawn per gisplan layer key (missing geometries are not drawn).
    row_counts : dict of str to int
        Rows given per gisplan layer key (rows in = rows out: every row is in the data).
    basemap : str
        The basemap the map was made with.
    palette : dict of str to str
        Colour per drawn category where categories have their own colour (bundle id
        to colour on a bundles map); empty otherwise.
    """

    default_js: list[tuple[str, str]] = []  # noqa: RUF012 - folium's class attribute
    default_css: list[tuple[str, str]] = []  # noqa: RUF012

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.feature_counts: dict[str, int] = {}
        self.row_counts: dict[str, int] = {}
        self.basemap: str = "none"
        self.legend: list[dict[str, Any]] = []
        self.palette: dict[str, str] = {}
        self.embed_font: bool = False
        self.font_embedded: bool = False
        #: the layers' data (JSON text), written once into the page by render_html
        self.payloads: list[str] = []

    def render(self, **kwargs: Any) -> Any:
        """Render the map, inlining Leaflet and gisplan's runtime into the page head."""
        figure = self.get_root()
        assert isinstance(figure, Figure)
        assets = [
            ("gisplan_leaflet_css", _assets.inline_style(_assets.leaflet_css())),
            ("gisplan_css", _assets.inline_style(_assets.gisplan_css())),
            ("gisplan_leaflet_js", _assets.inline_script(_assets.leaflet_js())),
            ("gisplan_js", _assets.inline_script(_assets.gisplan_js())),
        ]
        for i, (name, text) in enumerate(assets):
            figure.header.add_child(_Verbatim(text), name=name, index=i)
        return super().render(**kwargs)


class _Verbatim(Element):
    """Text put into the page as it is: not a Jinja template.

    ``branca.element.Element(text)`` compiles *text* as a template, which for the inlined
    Leaflet and runtime (~200 kB) was a twentieth of a map's time, and would read any
    ``{{`` in them as template syntax.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class _Layer(folium.map.Layer):
    """One layer of the map made of gisplan feature parts (drawn by the JS runtime)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup([
        {%- for part in this.parts %}
            gisplan.addLayer({{ this._parent.get_name() }}, {{ part.key|tojson }},
                             {{ part.data }}, {{ part.opts|tojson }}){{ "," if not loop.last }}
        {%- endfor %}
        ]);
        {%- if this.switch %}
        {{ this.get_name() }}.on("add", function () {
            gisplan.switchTo({{ this.switch[0]|tojson }}, {{ this.switch[1]|tojson }});
        });
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, name: str, parts: list[_Part], *, show: bool = True,
                 overlay: bool = True, switch: tuple[str, str] | None = None) -> None:
        # Leaflet's layer control writes layer names as HTML: escape them here.
        super().__init__(name=html.escape(name), overlay=overlay, control=True, show=show)
        self._name = "GisplanLayer"
        self.parts = parts
        self.switch = switch


class _Call(folium.MacroElement):
    """A call into the gisplan runtime with JSON arguments (after the layers)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        gisplan.{{ this.fn }}({{ this._parent.get_name() }}
            {%- for a in this.args %}, {{ a|tojson }}{% endfor %});
        {% endmacro %}
        """
    )

    def __init__(self, fn: str, *args: Any) -> None:
        super().__init__()
        self._name = "GisplanCall"
        self.fn = fn
        self.args = args


@dataclass
class _Part:
    key: str
    data: str
    opts: dict[str, Any]


@dataclass
class _Ctx:
    """What every map builder shares: the options, the metric CRS, the legend."""

    opts: MapOptions
    gcj02: bool
    kind: str = "progress"
    metric: Any = None
    legend: list[dict[str, Any]] = field(default_factory=list)
    n_features: int = 0

    @property
    def lang(self) -> Lang:
        return self.opts.lang

    @property
    def basemap(self) -> str:
        return self.opts.basemap

    @property
    def tolerance_m(self) -> float:
        t = self.opts.tolerance_m
        return TOLERANCE_M[self.kind] if t is None else t

    @property
    def decimals(self) -> int:
        """Decimals kept: the option, at most :data:`COARSE_DECIMALS` on very large maps."""
        if self.n_features > COARSE_ABOVE:
            return min(self.opts.decimals, COARSE_DECIMALS)
        return self.opts.decimals


# ---------------------------------------------------------------- sources


@dataclass
class _Frames:
    """The layers of a programme, from a Project, a mapping of frames or a path."""

    frames: Callable[[str], pd.DataFrame | None]
    names: list[str]
    meta: dict[str, Any]
    where: str

    def get(self, name: str) -> pd.DataFrame | None:
        return self.frames(name) if name in self.names else None

    def require(self, name: str, *, for_what: str) -> pd.DataFrame:
        frame = self.get(name)
        if frame is None:
            raise InputError(
                f"the {for_what} map needs layer '{name}', which the programme does not have",
                file=self.where, layer=name,
                hint=f"import a '{name}' layer first (gisplan import {self.where} FILE "
                     f"--layer {name})",
            )
        return frame


def _frames(source: MapSource) -> _Frames:
    """Return the layers of *source*: frames, or a programme (:mod:`~gisplan.sources`)."""
    if isinstance(source, Mapping):
        data = dict(source)
        programme = data.pop("programme", None)
        meta = dict(programme) if isinstance(programme, Mapping) else {}
        return _Frames(lambda n: data.get(n), list(data), meta, "<frames>")
    if not isinstance(source, (str, os.PathLike)) and not (
            hasattr(source, "read") and hasattr(source, "layers")):
        raise TypeError(
            "a map source is a gisplan.store.Project, a GeoPackage path, or a mapping of "
            f"layer name to GeoDataFrame; got {type(source).__name__}")
    from gisplan.sources import as_project

    project = as_project(source)
    cache: dict[str, pd.DataFrame] = {}

    def read(name: str) -> pd.DataFrame:
        if name not in cache:
            cache[name] = project.read(name)
        return cache[name]

    return _Frames(read, list(project.layers()), dict(project.meta), str(project.path))


# ---------------------------------------------------------------- geometry


def _geographic(gdf: gpd.GeoDataFrame, layer: str, where: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise CRSError(
            "the layer has no coordinate reference system", file=where, layer=layer,
            hint="set it when importing (EPSG:4326 or EPSG:4490 for lon/lat)",
        )
    if gdf.crs.to_epsg() == 4326:
        return gdf
    return gdf.to_crs(4326)


def _metric_crs(gdf: gpd.GeoDataFrame) -> Any:
    """Return the metric CRS to simplify in (:func:`gisplan.crs.metric_crs`: CGCS2000 GK)."""
    return metric_crs(gdf)


def _prepared_geoms(gdf: gpd.GeoDataFrame, ctx: _Ctx, *, layer: str, where: str
                    ) -> np.ndarray:
    """Lon/lat geometries simplified in metres and, for Amap, shifted to GCJ-02."""
    gdf = _geographic(gdf, layer, where)
    geoms = gdf.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == 0
    if ctx.tolerance_m > 0 and not is_point.all():
        metric = gpd.GeoSeries(geoms, crs=4326).to_crs(ctx.metric)
        simple = shapely.simplify(metric.to_numpy(), ctx.tolerance_m, preserve_topology=True)
        # keep the original where simplification would collapse a small shape
        keep = shapely.is_empty(simple) & ~shapely.is_empty(metric.to_numpy())
        simple = np.where(keep, metric.to_numpy(), simple)
        geoms = gpd.GeoSeries(simple, crs=ctx.metric).to_crs(4326).to_numpy()
    if ctx.gcj02:
        def shift(xy: np.ndarray) -> np.ndarray:
            lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        geoms = shapely.transform(geoms, shift)
    return np.asarray(geoms, dtype=object)


def _payload(gdf: gpd.GeoDataFrame, props: pd.DataFrame, ctx: _Ctx, *, layer: str,
             where: str) -> tuple[str, int]:
    """Columnar JSON ``{q, enc, props}`` and the number of drawable features."""
    enc, n = encode_geometries(_prepared_geoms(gdf, ctx, layer=layer, where=where),
                               ctx.decimals)
    cols = {str(c): _column_values(props[c]) for c in props.columns}
    body = json.dumps({"q": [*QUANT_ORIGIN, 10 ** ctx.decimals], "enc": enc, "props": cols},
                      ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return _safe_json(body), n


#: draw order, bottom to top, by layer key prefix: context, roll-ups and outlines below
#: the compounds; lines and points above (the runtime restores it after any toggle)
DRAW_ORDER: tuple[str, ...] = ("roads_", "district_", "rollup_", "service_", "bundles",
                               "compounds", "utilities_", "facilities_")


def _rank(key: str) -> int:
    """Return the draw rank of layer *key* (:data:`DRAW_ORDER`; unknown keys on top).

    Examples
    --------
    >>> _rank("rollup_county") < _rank("compounds") < _rank("facilities_market")
    True
    """
    for i, prefix in enumerate(DRAW_ORDER):
        if key.startswith(prefix):
            return 10 * (i + 1)
    return 10 * (len(DRAW_ORDER) + 1)


def _part(m: GisplanMap, key: str, gdf: gpd.GeoDataFrame, props: pd.DataFrame, ctx: _Ctx,
          opts: dict[str, Any], *, layer: str, where: str) -> _Part:
    payload, n = _payload(gdf, props, ctx, layer=layer, where=where)
    m.payloads.append(payload)
    data = f"gisplan.data({len(m.payloads) - 1})"
    m.feature_counts[key] = n
    m.row_counts[key] = len(gdf)
    base = {"weight": 1.5, "opacity": 0.9, "fillOpacity": 0.55, "lang": ctx.lang,
            "className": f"gp-{key}", "z": _rank(key)}
    if n > (LAZY_ABOVE if key == "compounds" else LAZY_CONTEXT_ABOVE):
        zoom = (LAZY_ZOOM if key == "compounds" else
                LAZY_CONTEXT_ZOOM if key.startswith("roads_") else 0)
        base |= {"lazy": True, "lazyZoom": zoom}
    return _Part(key, data, base | opts)


def _rows(keys: Sequence[str], ctx: _Ctx, fmt: Mapping[str, str] | None = None,
          optional: Sequence[str] = ()) -> list[list[Any]]:
    """Popup/tooltip rows: [label, property, format, skip-if-empty]."""
    fmt = fmt or {}
    return [[_t(k, ctx.lang), k, fmt.get(k, "text"), k in optional] for k in keys]


_FMT = {"households": "int", "buildings": "int", "floor_area_m2": "float",
        "compounds_planned": "int", "households_planned": "int", "compounds_started": "int",
        "households_started": "int", "compounds_completed": "int", "households_completed": "int",
        "start_rate_households": "pct", "completion_rate_households": "pct",
        "starts_flagged": "int", "started_on": "date", "completed_on": "date",
        "members": "int", "walk_m": "m", "standard_m": "m", "capacity": "float",
        "age_years": "int", "diameter_mm": "float", "install_year": "text",
        "built_year": "text"}


# ---------------------------------------------------------------- scaffolding


def _new_map(frames: _Frames, kind: str, opts: MapOptions, *, n_features: int,
             subtitle: str | None) -> tuple[GisplanMap, _Ctx]:
    """Make the empty map of *kind*: renderer, title, metric CRS and basemap chosen."""
    canvas = opts.renderer == "canvas" or (opts.renderer == "auto"
                                           and n_features > CANVAS_ABOVE)
    m = GisplanMap(location=None, tiles=None, prefer_canvas=canvas, control_scale=True,
                   zoom_control=True)
    m.basemap = opts.basemap
    m.embed_font = opts.embed_font
    meta = frames.meta
    lang = opts.lang
    name = meta.get("name") if lang == "zh" else (meta.get("name_en") or meta.get("name"))
    main = opts.title or " · ".join(str(x) for x in (name, _t(f"{kind}_title", lang)) if x)
    m.get_root().title = html.escape(main)  # type: ignore[attr-defined]
    compounds = frames.get("compounds")
    metric_src = [compounds] if isinstance(compounds, gpd.GeoDataFrame) else [
        f for f in (frames.get(n) for n in ("districts", "utilities", "facilities"))
        if isinstance(f, gpd.GeoDataFrame)]
    ctx = _Ctx(opts=opts, gcj02=opts.basemap == "amap", kind=kind, n_features=n_features)
    if metric_src:
        ctx.metric = _metric_crs(_geographic(metric_src[0], "compounds", frames.where))
    _add_basemap(m, opts)
    _Call("title", main, subtitle or "").add_to(m)
    return m, ctx


def _add_basemap(m: GisplanMap, opts: MapOptions) -> None:
    """Tile layers of an online basemap (nothing for ``none``)."""
    basemap, lang = opts.basemap, opts.lang
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", control=False).add_to(m)
    elif basemap == "tianditu":
        key = tianditu_key(opts.tianditu_key)
        attr = "天地图 Tianditu"
        for layer in ("vec", "cva" if lang == "zh" else "eva"):
            folium.TileLayer(
                tiles=(f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST="
                       f"GetTile&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w"
                       f"&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"),
                attr=attr, subdomains="01234567", max_zoom=18, name=f"Tianditu {layer}",
                control=False,
            ).add_to(m)
    elif basemap == "amap":
        amap_lang = "zh_cn" if lang == "zh" else "en"
        folium.TileLayer(
            tiles=(f"https://webrd0{{s}}.is.autonavi.com/appmaptile?lang={amap_lang}&size=1"
                   "&scale=1&style=8&x={x}&y={y}&z={z}"),
            attr="高德地图 Amap (GCJ-02)", subdomains="1234", max_zoom=18, name="Amap",
            control=False,
        ).add_to(m)


def _bounds(gdfs: Sequence[gpd.GeoDataFrame | None], ctx: _Ctx) -> list[list[float]] | None:
    boxes = [g.to_crs(4326).total_bounds for g in gdfs
             if isinstance(g, gpd.GeoDataFrame) and g.crs is not None and len(g)
             and not g.geometry.is_empty.all()]
    if not boxes:
        return None
    b = np.vstack(boxes)
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    if ctx.gcj02:
        xs, ys = wgs84_to_gcj02(np.array([x0, x1]), np.array([y0, y1]))
        x0, x1, y0, y1 = float(xs[0]), float(xs[1]), float(ys[0]), float(ys[1])
    return [[float(y0), float(x0)], [float(y1), float(x1)]]


class _LayerControl(folium.LayerControl):
    """Folium's layer control, folded into a button on narrow screens (phones)."""

    _template = Template(
        """
        {% macro script(this,kwargs) %}
            var {{ this.get_name() }}_layers = {
                base_layers : {
                    {%- for key, val in this.base_layers.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
                overlays :  {
                    {%- for key, val in this.overlays.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
            };
            let {{ this.get_name() }} = L.control.layers(
                {{ this.get_name() }}_layers.base_layers,
                {{ this.get_name() }}_layers.overlays,
                Object.assign({{ this.options|tojavascript }}, {collapsed: gisplan.narrow()})
            ).addTo({{this._parent.get_name()}});
        {% endmacro %}
        """
    )


def _view(fit: Sequence[gpd.GeoDataFrame | None], ctx: _Ctx,
          bounds: list[list[float]]) -> dict[str, Any]:
    """Return the opening view: bounds, densest 1 km cell, a typical compound's size (m)."""
    polys = [g for g in fit if isinstance(g, gpd.GeoDataFrame) and g.crs is not None
             and len(g) and ctx.metric is not None]
    cfg: dict[str, Any] = {"bounds": bounds, "minPx": MIN_COMPOUND_PX, "maxZoom": 17}
    if not polys:
        return cfg
    # areas from lon/lat (locally equal-area scaling) and only the centroids projected:
    # a view heuristic needs no exact polygon projection of every compound
    geoms = polys[0].geometry.to_crs(4326).to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(geoms):
        return cfg
    centroids = shapely.centroid(geoms)
    lat = shapely.get_coordinates(centroids)[:, 1]
    area = shapely.area(geoms) * 111_320.0 * 110_574.0 * np.cos(np.radians(lat))
    if not (area > 0).any():
        return cfg
    cfg["sizeM"] = float(np.sqrt(np.median(area[area > 0])))
    xy = shapely.get_coordinates(
        gpd.GeoSeries(centroids, crs=4326).to_crs(ctx.metric).to_numpy())
    cell = np.floor(xy / 1000.0).astype(np.int64)
    _, inverse, counts = np.unique(cell, axis=0, return_inverse=True, return_counts=True)
    dense = xy[inverse.ravel() == int(np.argmax(counts))].mean(axis=0)
    near = np.hypot(*(xy - dense).T) <= DENSE_RADIUS_M
    x0, y0 = xy[near].min(axis=0)
    x1, y1 = xy[near].max(axis=0)
    pts = gpd.GeoSeries(shapely.points([dense, (x0, y0), (x1, y1)]), crs=ctx.metric)
    ll = shapely.get_coordinates(pts.to_crs(4326).to_numpy())
    lon, lat = ll[:, 0], ll[:, 1]
    if ctx.gcj02:
        lon, lat = wgs84_to_gcj02(lon, lat)
    cfg["dense"] = [round(float(lat[0]), 6), round(float(lon[0]), 6)]
    cfg["denseBounds"] = [[round(float(lat[1]), 6), round(float(lon[1]), 6)],
                          [round(float(lat[2]), 6), round(float(lon[2]), 6)]]
    return cfg


#: the opening view shows a typical compound at least this many pixels wide ...
MIN_COMPOUND_PX = 20
#: ... around the densest 1 km cell, with the compounds within this radius in view
DENSE_RADIUS_M = 1500.0

_LABEL_ZOOMS = {"county": (0, 13), "street": (12, 15), "pianqu": (14, 19), "road": (15, 19)}
#: at most this many road names are placed (the longest roads first)
MAX_ROAD_LABELS = 400


def _place_labels(frames: _Frames, ctx: _Ctx) -> list[dict[str, Any]]:
    """County, street, 片区 and main-road names from the programme's own layers."""
    points: list[tuple[str, str, Any]] = []
    districts = frames.get("districts")
    if isinstance(districts, gpd.GeoDataFrame) and len(districts) and "name" in districts:
        geo = _geographic(districts, "districts", frames.where)
        level = geo.get("level", pd.Series("county", index=geo.index)).astype(str)
        ok = geo["name"].notna().to_numpy() & ~geo.geometry.is_empty.to_numpy()
        for lvl, name, g in zip(level[ok], geo["name"][ok], geo.geometry[ok], strict=True):
            if lvl in _LABEL_ZOOMS and g is not None:
                points.append((lvl, str(name), shapely.point_on_surface(g)))
    roads = frames.get("roads")
    if isinstance(roads, gpd.GeoDataFrame) and len(roads) and "name" in roads:
        rc = roads.get("road_class", pd.Series("local", index=roads.index)).astype(str)
        main = roads[rc.isin(["arterial", "secondary"]).to_numpy() & roads["name"].notna()
                     .to_numpy()]
        if len(main):
            metric = main.geometry.to_crs(ctx.metric) if ctx.metric is not None else None
            length = metric.length if metric is not None else main.geometry.length
            longest = (pd.DataFrame({"name": main["name"].astype(str), "len": length})
                       .sort_values("len", ascending=False).drop_duplicates("name")
                       .head(MAX_ROAD_LABELS))
            geo = _geographic(main.loc[longest.index], "roads", frames.where)
            mids = shapely.line_interpolate_point(geo.geometry.to_numpy(), 0.5,
                                                  normalized=True)
            points += [("road", n, p) for n, p in zip(longest["name"], mids, strict=True)]
    if not points:
        return []
    xy = shapely.get_coordinates(np.array([p for _, _, p in points]))
    lon, lat = xy[:, 0], xy[:, 1]
    if ctx.gcj02:
        lon, lat = wgs84_to_gcj02(lon, lat)
    return [{"t": name, "c": lvl, "p": [round(float(y), 5), round(float(x), 5)],
             "z0": _LABEL_ZOOMS[lvl][0], "z1": _LABEL_ZOOMS[lvl][1]}
            for (lvl, name, _), x, y in zip(points, lon, lat, strict=True)]


_RULES: dict[str, tuple[str, str]] = {
    "progress": ("实施方案的进度阶段与开工条件", "stages and start criteria of the programme"),
    "gaps": ("GB 50180-2018 生活圈步行距离（life_circle.csv）",
             "GB 50180-2018 life-circle walking distances (life_circle.csv)"),
    "bundles": ("gisplan 连片规则（rules.toml）", "gisplan bundling rules (rules.toml)"),
    "utilities": ("CJJ 61 管线配色", "CJJ 61 network colours"),
}


def _rule_set_name(meta: Mapping[str, Any]) -> str:
    """Return the name of the programme's rule set, or "" when its figures match none."""
    from gisplan._errors import GisplanError
    from gisplan.eligibility import programme_rules

    try:
        return str(programme_rules(meta).rules.name)
    except GisplanError:
        return ""


def _credits(frames: _Frames, ctx: _Ctx) -> str:
    """Return the credits line: data sources, rule set, generation time."""
    from gisplan import __version__

    zh = ctx.lang == "zh"
    meta = frames.meta
    data = [str(meta.get("name") or "")] if meta.get("name") else []
    if frames.where not in ("<frames>", ""):
        data.append(Path(frames.where).name)
    for src in meta.get("sources") or []:
        title = str(src.get("title", "")) if isinstance(src, Mapping) else str(src)
        if title:
            data.append(title if len(title) <= 60 else title[:59] + "…")
    data += [str(c) for c in meta.get("credits") or []]
    if meta.get("attribution"):
        data.append(str(meta["attribution"]))  # e.g. © OpenStreetMap contributors (ODbL)
    when = ctx.opts.generated_at or dt.datetime.now().astimezone()
    rules = _RULES[ctx.kind][0 if zh else 1]
    rule_set = _rule_set_name(meta)
    if rule_set:
        rules += ("；改造对象规则 " if zh else "; rule set 改造对象规则 ") + rule_set
    parts = [("数据：" if zh else "Data 数据: ") + "；".join(data) if data else "",
             ("规则：" if zh else "Rules 规则: ") + rules,
             ("生成：" if zh else "Generated 生成: ")
             + f"{when:%Y-%m-%d %H:%M} · gisplan {__version__}"]
    return " · ".join(p for p in parts if p)


def _finish(m: GisplanMap, ctx: _Ctx, frames: _Frames, legend_title: str,
            fit: Sequence[gpd.GeoDataFrame | None]) -> GisplanMap:
    """Add the controls every map has: layers, legend, search, view, labels, credits."""
    _LayerControl(collapsed=False, position="topright").add_to(m)
    m.legend = ctx.legend
    _Call("legend", legend_title, ctx.legend).add_to(m)
    _Call("search", _t("search", ctx.lang), _t("no_match", ctx.lang)).add_to(m)
    _Call("homeButton", _t("home", ctx.lang)).add_to(m)
    _Call("printButton", _t("print", ctx.lang)).add_to(m)
    labels = _place_labels(frames, ctx)
    if labels:
        _Call("labels", labels).add_to(m)
    _Call("credits", _credits(frames, ctx)).add_to(m)
    bounds = _bounds(fit, ctx)
    if bounds:
        m.fit_bounds(bounds, padding=(12, 12), max_zoom=17)
        view = _Call("view", _view(fit, ctx, bounds))
        view.add_to(m)
        # the opening view is set before any layer is added, so each layer is drawn
        # once, at that view (not first for the whole programme, then again)
        fit_name = next(k for k, c in reversed(m._children.items())
                        if isinstance(c, folium.map.FitBounds))
        m._children.move_to_end(view.get_name(), last=False)
        m._children.move_to_end(fit_name, last=False)
    return m


def _context_layers(m: GisplanMap, frames: _Frames, ctx: _Ctx, *,
                    compounds: bool = False) -> None:
    """District outlines and roads (the offline 'basemap'), optionally grey compounds."""
    districts = frames.get("districts")
    if isinstance(districts, gpd.GeoDataFrame) and len(districts):
        level = districts.get("level", pd.Series("county", index=districts.index))
        for lvl, weight, dash in (("county", 2.5, None), ("street", 1.2, "4 3"),
                                  ("pianqu", 1.5, "6 4")):
            sel = districts[level.astype(str) == lvl]
            if not len(sel):
                continue
            props = pd.DataFrame({"name": sel["name"].astype(object)}, index=sel.index)
            part = _part(m, f"district_{lvl}", sel, props, ctx,
                         {"color": "#555555", "weight": weight, "fillOpacity": 0.0,
                          "dashArray": dash, "nameKey": "name", "tooltip": []},
                         layer="districts", where=frames.where)
            part.opts["interactive"] = False
            _Layer(_t(f"districts_{lvl}", ctx.lang), [part]).add_to(m)
    roads = frames.get("roads")
    if isinstance(roads, gpd.GeoDataFrame) and len(roads):
        rc = roads.get("road_class", pd.Series("local", index=roads.index)).astype(object)
        weights = {"arterial": 3.0, "secondary": 2.0, "local": 1.2, "path": 0.8}
        minor = int((~rc.isin(["arterial", "secondary"])).sum())
        if minor > MAX_MINOR_ROADS:  # a city-wide map: main roads carry the orientation
            weights = {"arterial": 3.0, "secondary": 2.0}
        parts = []
        for cls, w in weights.items():
            sel = roads[rc == cls] if cls != "local" else roads[~rc.isin(
                ["arterial", "secondary", "path"])]
            if not len(sel):
                continue
            props = pd.DataFrame({"name": sel.get("name", pd.Series(index=sel.index,
                                                                   dtype=object))},
                                 index=sel.index)
            parts.append(_part(m, f"roads_{cls}", sel, props, ctx,
                               {"color": "#c8c2b8", "weight": w, "opacity": 1.0,
                                "fillOpacity": 0, "nameKey": "name", "tooltip": []},
                               layer="roads", where=frames.where))
        if parts:
            _Layer(_t("roads", ctx.lang), parts).add_to(m)
    if compounds:
        comp = frames.get("compounds")
        if isinstance(comp, gpd.GeoDataFrame) and len(comp):
            props = _compound_props(comp)
            _Layer(_t("compounds", ctx.lang), [_part(
                m, "compounds", comp, props, ctx,
                {"color": CONTEXT, "fillOpacity": 0.25, "weight": 1, "nameKey": "name",
                 "tooltip": _rows(["households"], ctx, _FMT),
                 "popup": _rows(["compound_id", "county", "district", "households",
                                 "buildings", "built_year"], ctx, _FMT,
                                optional=["county", "district", "built_year"]),
                 "searchable": True}, layer="compounds", where=frames.where)]).add_to(m)
            ctx.legend.append({"title": "", "items": [
                {"label": _t("compounds", ctx.lang), "color": CONTEXT, "shape": "box"}]})


def _compound_props(comp: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    cols = ["compound_id", "name", "county", "district", "households", "buildings",
            "floor_area_m2", "built_year", *extra]
    out = pd.DataFrame(index=comp.index)
    for c in cols:
        out[c] = comp[c] if c in comp.columns else pd.Series(pd.NA, index=comp.index,
                                                             dtype=object)
    if out["name"].isna().any():
        out["name"] = out["name"].astype(object).where(out["name"].notna(),
                                                       out["compound_id"])
    area = pd.to_numeric(out["floor_area_m2"], errors="coerce")
    out["floor_area_m2"] = area.round(0).astype("Int64")  # whole m² (the popup shows no more)
    return out


def _count_geoms(*gdfs: pd.DataFrame | None) -> int:
    return sum(len(g) for g in gdfs if isinstance(g, gpd.GeoDataFrame))


