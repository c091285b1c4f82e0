"""Interactive, self-contained HTML maps of a programme (folium on inlined Leaflet).

Four kinds of map, each a function returning a :class:`folium.Map`:

- :func:`progress_map`: compounds coloured by stage 进度阶段, county 县区 and 片区 roll-ups
  with the figures of the progress summary, and a time slider over the progress log;
- :func:`gaps_map`: per facility type 设施类型, covered and uncovered compounds, the
  facilities and their service distances 服务半径;
- :func:`bundles_map`: each bundle 连片 in its own colour with its members, households
  and the utility owners 权属单位 to coordinate;
- :func:`utilities_map`: the six networks 管线 by type, with owner and age.

The options the four maps share (language, basemap, title, geometry precision,
renderer) are one :class:`MapOptions`; each function takes ``options=`` and, for
convenience, any of its fields as keywords (``progress_map(p, lang="en")``).

Every map has a layer control, a legend, a search box for compound names, tooltips and
popups with the key figures, Chinese labels by default (``lang="en"`` gives English with
the Chinese term beside it) and opens zoomed to the data. The page is self-contained:
Leaflet and gisplan's small runtime are inlined (:mod:`gisplan._assets`), no CDN is
used, and with ``basemap="none"`` (the default) the file renders fully with the network
cut, drawing district outlines and roads from the programme's own layers. Online
basemaps are OpenStreetMap, Tianditu 天地图 (key from ``$TIANDITU_KEY``) and Amap 高德
(GCJ-02: overlays are shifted to GCJ-02 so that they line up with its tiles).

Geometry is simplified in metres and coordinates rounded to 6 decimals (~0.1 m), so a
5,000-compound city stays well under 5 MB; large maps switch to Leaflet's canvas
renderer. All user text goes into the page as text, never as HTML.

Examples
--------
>>> import tempfile
>>> from gisplan.maps import MapOptions, progress_map, save_map
>>> m = progress_map("layers/guyuan_2022.gpkg", options=MapOptions(lang="en"))
>>> m.feature_counts["compounds"]
26
>>> out = save_map(m, Path(tempfile.mkdtemp()) / "guyuan_progress.html")
>>> out.stat().st_size > 100_000
True
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import html
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

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
from gisplan.schema import stage_order, vocab
from gisplan.schema import zh as vocab_zh

if TYPE_CHECKING:
    from gisplan.store import Project

__all__ = [
    "KINDS",
    "GisplanMap",
    "MapOptions",
    "MapSource",
    "adjacent_colors",
    "bundles_map",
    "gaps_map",
    "is_placeholder_key",
    "make_map",
    "progress_map",
    "save_map",
    "tianditu_key",
    "utilities_map",
]

Lang = Literal["zh", "en"]
Basemap = Literal["none", "osm", "tianditu", "amap"]
MapKind = Literal["progress", "gaps", "bundles", "utilities"]
Renderer = Literal["auto", "svg", "canvas"]
#: A programme for a map: a Project, the path of its GeoPackage, or a mapping of layer
#: name to GeoDataFrame (plus an optional ``"programme"`` mapping of metadata).
MapSource: TypeAlias = "Project | Mapping[str, Any] | str | os.PathLike[str]"

KINDS: tuple[str, ...] = get_args(MapKind)
BASEMAPS: tuple[str, ...] = get_args(Basemap)
LANGS: tuple[str, ...] = get_args(Lang)
RENDERERS: tuple[str, ...] = get_args(Renderer)

#: environment variable holding the Tianditu key
TIANDITU_KEY_ENV = "TIANDITU_KEY"
_PLACEHOLDER_KEY = re.compile(
    r"^\s*$|^[.…。\-_*x#?]+$|^<.*>$|^\{.*\}$|your[ _-]?(tianditu[ _-]?)?key|^(key|tk|todo|"
    r"changeme|placeholder|none|null)$", re.IGNORECASE)


def is_placeholder_key(key: str | None) -> bool:
    """Return True when *key* is missing or a placeholder, not a real basemap key.

    Examples
    --------
    >>> [is_placeholder_key(k) for k in ("...", "", "  ", "<your key>", "d3adb33f0c")]
    [True, True, True, True, False]
    """
    return key is None or bool(_PLACEHOLDER_KEY.search(key.strip()) or not key.strip())


@dataclass(frozen=True, kw_only=True)
class MapOptions:
    """What the four maps share: language, basemap, title, geometry and rendering.

    Parameters
    ----------
    lang : {"zh", "en"}
        Labels in Chinese (default) or in English with the Chinese term beside it.
    basemap : {"none", "osm", "tianditu", "amap"}
        ``none`` (default, offline): district outlines, roads and their names drawn from
        the programme's own layers. ``osm``, ``tianditu`` (天地图, key from
        ``tianditu_key``) and ``amap`` (高德, overlays shifted to GCJ-02) load tiles.
    title : str or None
        Title on the map and in the browser tab; ``None`` means "programme name · kind".
    tolerance_m : float or None
        Simplification tolerance in metres (0 keeps geometry as it is); ``None`` means
        the map kind's own default (:data:`TOLERANCE_M`: 1 m, 0.5 m for utility lines).
    decimals : int
        Decimal places kept in coordinates (6 ≈ 0.1 m), 0 to 9; maps of more than
        :data:`COARSE_ABOVE` features keep at most 5 (≈ 1 m).
    renderer : {"auto", "svg", "canvas"}
        ``auto`` uses Leaflet's canvas renderer above 3,000 features.
    tianditu_key : str or None
        Tianditu browser key; ``None`` means "read ``$TIANDITU_KEY``". A placeholder
        (``...``, empty, ``<your key>``) is refused.
    generated_at : datetime or None
        Generation time in the credits line; ``None`` means now (local time).
    embed_font : bool
        Embed a subset of a CJK font with only the glyphs the page uses, so Chinese
        renders on a machine with no CJK font (needs uharfbuzz and a font file, see
        :func:`gisplan._assets.find_cjk_font`; ``GisplanMap.font_embedded`` says
        whether it was done).

    Examples
    --------
    >>> MapOptions(lang="en").basemap
    'none'
    >>> MapOptions(basemap="google")
    Traceback (most recent call last):
    ...
    ValueError: basemap must be one of none, osm, tianditu, amap, not 'google'
    """

    lang: Lang = "zh"
    basemap: Basemap = "none"
    title: str | None = None
    tolerance_m: float | None = None
    decimals: int = 6
    renderer: Renderer = "auto"
    tianditu_key: str | None = None
    generated_at: dt.datetime | None = None
    embed_font: bool = True

    def __post_init__(self) -> None:
        for name, allowed in (("lang", LANGS), ("basemap", BASEMAPS),
                              ("renderer", RENDERERS)):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if self.tolerance_m is not None and not self.tolerance_m >= 0:
            raise ValueError(f"tolerance_m must be 0 or more metres, not {self.tolerance_m!r}")
        if not 0 <= self.decimals <= 9:
            raise ValueError(f"decimals must be 0 to 9, not {self.decimals!r}")

    def with_(self, **changes: Any) -> MapOptions:
        """Return a copy with *changes* (field names of :class:`MapOptions`).

        Examples
        --------
        >>> MapOptions().with_(lang="en").lang
        'en'
        """
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise TypeError(f"unknown map option(s) {', '.join(unknown)}; MapOptions has "
                            f"{', '.join(f.name for f in fields(self))}")
        return replace(self, **changes)


def _options(options: MapOptions | None, overrides: Mapping[str, Any]) -> MapOptions:
    """*options* (``None``: the defaults) with keyword *overrides* applied."""
    return (options or MapOptions()).with_(**overrides)

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

# ---------------------------------------------------------------- labels

_TEXT: dict[str, tuple[str, str]] = {
    "compounds": ("小区", "Compounds"),
    "districts_county": ("县区界", "County boundaries"),
    "districts_street": ("街道界", "Street boundaries"),
    "districts_pianqu": ("片区界", "Area (pianqu) boundaries"),
    "roads": ("道路", "Roads"),
    "rollup_county": ("县区进度汇总", "Progress by county"),
    "rollup_pianqu": ("片区进度汇总", "Progress by area (pianqu)"),
    "progress_title": ("改造进度", "Renovation progress"),
    "gaps_title": ("设施覆盖与缺口", "Facility coverage and gaps"),
    "bundles_title": ("连片改造打包", "Renovation bundles"),
    "utilities_title": ("管线现状", "Utility networks"),
    "search": ("搜索小区名称…", "Search compound name… 搜索小区"),
    "no_match": ("无匹配小区", "No matching compound 无匹配"),
    "as_of": ("截至", "as of"),
    "stage": ("进度阶段", "Stage"),
    "no_record": ("无进度记录", "No record 无记录"),
    "slider": ("进度时间轴", "Progress over time 时间轴"),
    "charts": ("进度图表", "Progress charts 进度图表"),
    "atlas_title": ("一张图", "Atlas 一张图"),
    "filter_table": ("筛选小区（名称、县区、片区、阶段…）", "Filter compounds 筛选"),
    "search_all": ("搜索小区名称…", "Search compound name 搜索"),
    "time": ("时间", "Time 时间"),
    "start_rate": ("开工率", "Started 开工率"),
    "completion_rate": ("完工率", "Completed 完工率"),
    "by_households": ("按户", "by households 按户"),
    "by_count": ("按小区数", "by compounds 按小区数"),
    "target": ("目标", "target 目标"),
    "programme_total": ("全市合计", "Programme 合计"),
    "started_share": ("开工（按户）", "Started, by households 开工"),
    "completed_share": ("完工（按户）", "Completed, by households 完工"),
    "compound_id": ("小区编号", "Compound ID"),
    "county": ("县区", "County"),
    "district": ("片区", "Area (pianqu)"),
    "street": ("街道", "Street"),
    "households": ("户数", "Households"),
    "buildings": ("楼栋数", "Buildings"),
    "floor_area_m2": ("建筑面积（㎡）", "Floor area (m²)"),
    "built_year": ("建成年份", "Built"),
    "compounds_planned": ("计划小区数", "Compounds planned"),
    "households_planned": ("计划户数", "Households planned"),
    "compounds_started": ("已开工小区", "Compounds started"),
    "households_started": ("已开工户数", "Households started"),
    "start_rate_households": ("开工率（按户）", "Start rate (households)"),
    "compounds_completed": ("已完工小区", "Compounds completed"),
    "households_completed": ("已完工户数", "Households completed"),
    "completion_rate_households": ("完工率（按户）", "Completion rate (households)"),
    "starts_flagged": ("开工条件存疑", "Starts not meeting criteria"),
    "why": ("纳入理由", "Why in this bundle"),
    "district_bundle": ("片区", "Area (pianqu)"),
    "covered": ("覆盖", "Covered"),
    "uncovered": ("未覆盖（缺口）", "Not covered (gap)"),
    "no_distance": ("无距离数据", "No distance"),
    "facilities": ("设施", "Facilities"),
    "service_distance": ("服务半径（直线，仅供参考）",
                         "Service radius (straight line, for reference)"),
    "walk_catchment": ("步行服务范围", "Walking catchment"),
    "walk_m": ("步行距离", "Walking distance"),
    "straight_m": ("直线距离", "Straight-line distance"),
    "standard_m": ("标准距离", "Standard distance"),
    "facility_type": ("设施类型", "Facility type"),
    "capacity": ("规模", "Capacity"),
    "name": ("名称", "Name"),
    "bundle": ("打包", "Bundle"),
    "bundle_id": ("打包编号", "Bundle ID"),
    "bundles": ("打包范围", "Bundle outlines"),
    "bundle_members": ("打包小区", "Bundle members"),
    "bundle_colours": ("{n} 个打包（相邻打包颜色不同）",
                       "{n} bundles (neighbours in different colours)"),
    "standalone": ("未打包", "Not bundled"),
    "members": ("小区数", "Member compounds"),
    "owners": ("需协调的管线权属单位", "Utility owners to coordinate"),
    "network": ("管线类型", "Network"),
    "owner": ("权属单位", "Owner"),
    "install_year": ("敷设年份", "Installed"),
    "age_years": ("管龄（年）", "Age (years)"),
    "material": ("材质", "Material"),
    "diameter_mm": ("管径（毫米）", "Diameter (mm)"),
    "utility_id": ("管线编号", "Utility ID"),
    "older_than": ("管龄 ≥ {n} 年", "Age ≥ {n} years"),
    "home": ("全览", "Whole programme 全览"),
    "print": ("打印 / 导出 PDF", "Print / save as PDF 打印"),
    "started_on": ("开工日期", "Started on 开工"),
    "completed_on": ("完工日期", "Completed on 完工"),
    "all_gaps": ("各类设施步行距离 / 标准", "Walking distance / standard, every type"),
    "gap": ("缺口", "Gap 缺口"),
    "coverage_source_network": ("步行网络距离", "walking-network distances"),
    "coverage_source_straight": ("直线距离（无步行网络）", "straight-line distances (no network)"),
}


def _t(key: str, lang: Lang) -> str:
    """Return the label *key*: Chinese, or English with the Chinese term beside it."""
    zh, en = _TEXT[key]
    if lang == "zh":
        return zh
    if any("\u4e00" <= ch <= "\u9fff" for ch in en):
        return en
    return f"{en} {zh}"


def _v(vocab_name: str, key: Any, lang: Lang) -> str:
    """Return the label of a vocabulary key (``stage``, ``network``, ...)."""
    if key is None or (isinstance(key, float) and np.isnan(key)):
        return "—"
    key = str(key)
    zh = vocab_zh(vocab_name, key)
    if lang == "zh":
        return zh
    en = key.replace("_", " ").capitalize()
    return en if zh == key else f"{en} {zh}"


# ---------------------------------------------------------------- colours

STAGE_COLORS: dict[str, str] = {
    "planned": "#8c8c8c",
    "consulted": "#fdd49e",
    "designed": "#fdae6b",
    "tendered": "#f16913",
    "started": "#6baed6",
    "completed": "#2171b5",
    "accepted": "#08519c",
    "handed_over": "#08306b",
}
#: conventional colours of Chinese utility drawings (CJJ 61): water blue, drainage
#: brown, power red, gas yellow, heating orange, telecom green
NETWORK_COLORS: dict[str, str] = {
    "water_supply": "#1f78b4",
    "drainage": "#8c510a",
    "power": "#e31a1c",
    "gas": "#d4a600",
    "heating": "#ff7f00",
    "telecom": "#1a9850",
}
#: bundle colours: Okabe & Ito's palette for colour-blind viewers (black left out), then
#: Tol's wine; neighbouring bundles never share one (:func:`adjacent_colors`)
CATEGORICAL = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
               "#F0E442", "#882255"]
#: gaps: blue covered, orange gap (apart under every colour-vision deficiency)
COVERED, UNCOVERED, NODATA = "#2166ac", "#e66101", "#d9d9d9"
#: in the programme, nothing reported yet (planned) is solid grey; no report at all is
#: near-white with a dashed outline
NO_RECORD, NO_RECORD_STROKE = "#f7f7f7", "#636363"
FACILITY = "#222222"
CONTEXT = "#9e9e9e"
#: utility line widths (px): the legend swatches use the same
PIPE_WIDTH, OLD_PIPE_WIDTH = 2.5, 4.5

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
            figure.header.add_child(Element(text), name=name, index=i)
        return super().render(**kwargs)


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


#: origin of the integer coordinates (lon, lat); a page decodes x = X0 + q / 10**decimals
QUANT_ORIGIN = (73.0, 3.0)


def encode_geometries(geoms: Any, decimals: int) -> tuple[dict[str, list[int]], int]:
    """Columnar, integer, delta-coded geometries (decoded by the page's ``gisplan.decode``).

    Coordinates become ``round((lon - 73, lat - 3) * 10**decimals)``; along each line,
    ring or point sequence every vertex after the first is the difference from the one
    before, so most numbers have a few digits and gzip packs them well. The structure
    is kept in flat arrays: ``gt`` geometry type (-1 missing or empty), ``np`` parts per
    geometry, ``pt`` part type, ``ns`` sequences per part (rings of a polygon),
    ``lens`` vertices per sequence and ``xy`` the coordinates.

    Returns the arrays and the number of drawable geometries.

    Examples
    --------
    >>> enc, n = encode_geometries([shapely.box(106.0, 36.0, 106.001, 36.002), None], 4)
    >>> n, enc["gt"], enc["lens"], enc["xy"]
    (1, [3, -1], [5], [330010, 330000, 0, 20, -10, 0, 0, -20, 10, 0])
    """
    geoms = np.asarray(geoms, dtype=object).reshape(-1)
    gt = shapely.get_type_id(geoms)
    gt[shapely.is_empty(geoms)] = -1
    ok = gt >= 0
    g = geoms[ok]
    parts, owner = shapely.get_parts(g, return_index=True)
    pt = shapely.get_type_id(parts)
    poly = pt == 3
    ns = np.where(poly, shapely.get_num_interior_rings(parts) + 1, 1)
    seq_part = np.repeat(np.arange(len(parts)), ns)
    lens = np.empty(len(seq_part), dtype=np.int64)
    is_ring = poly[seq_part]
    lens[is_ring] = shapely.get_num_coordinates(shapely.get_rings(parts[poly]))
    lens[~is_ring] = shapely.get_num_coordinates(parts[~poly])
    xy = shapely.get_coordinates(parts)
    q = np.round((xy - np.array(QUANT_ORIGIN)) * 10.0 ** decimals).astype(np.int64)
    delta = q.copy()
    delta[1:] -= q[:-1]
    starts = np.cumsum(lens) - lens
    delta[starts] = q[starts]
    n_parts = np.zeros(len(geoms), dtype=np.int64)
    n_parts[ok] = np.bincount(owner, minlength=len(g))
    enc = {"gt": gt.tolist(), "np": n_parts.tolist(), "pt": pt.tolist(), "ns": ns.tolist(),
           "lens": lens.tolist(), "xy": delta.ravel().tolist()}
    return enc, int(ok.sum())


_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
           "\u2029": "\\u2029"}
_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")


def _safe_json(text: str) -> str:
    """Make JSON safe to place inside a ``<script>`` element."""
    return _UNSAFE_RE.sub(lambda m: _UNSAFE[m.group(0)], text)


def _column_values(s: pd.Series) -> list[Any]:
    """JSON-ready values of one column: None for missing, floats rounded to 3 places."""
    if pd.api.types.is_float_dtype(s.dtype):
        s = s.round(3)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = s.dt.strftime("%Y-%m-%d")
    arr = np.array(s.astype(object).tolist(), dtype=object)
    arr[pd.isna(arr)] = None
    kinds = (str, int, float, bool, type(None))
    if not all(isinstance(v, kinds) for v in arr[:50]):
        arr = np.array([v if isinstance(v, kinds) else str(v) for v in arr], dtype=object)
    return [v.item() if isinstance(v, np.generic) else v for v in arr.tolist()]


def decode_geometries(enc: Mapping[str, Sequence[int]], q: Sequence[float]) -> np.ndarray:
    """Inverse of :func:`encode_geometries` (what the page does), for checks and tests.

    Examples
    --------
    >>> box = shapely.box(106.0, 36.0, 106.001, 36.002)
    >>> enc, _ = encode_geometries([box, None, shapely.Point(106.5, 36.5)], 6)
    >>> out = decode_geometries(enc, [*QUANT_ORIGIN, 1e6])
    >>> out[0].equals(box), out[1], out[2].wkt
    (True, None, 'POINT (106.5 36.5)')
    """
    x0, y0, scale = q
    xy = np.asarray(enc["xy"], dtype=np.float64).reshape(-1, 2)
    lens = np.asarray(enc["lens"], dtype=np.int64)
    seq = np.repeat(np.arange(len(lens)), lens)
    xy = pd.DataFrame(xy).groupby(seq).cumsum().to_numpy() / scale + [x0, y0]
    bounds = np.cumsum(lens)
    seqs = np.split(xy, bounds[:-1]) if len(lens) else []
    it_seq, it_pt, it_ns = iter(seqs), iter(enc["pt"]), iter(enc["ns"])

    def part() -> Any:
        t, n = next(it_pt), next(it_ns)
        rings = [next(it_seq) for _ in range(n)]
        if t == 0:
            return shapely.Point(rings[0][0])
        if t == 3:
            return shapely.Polygon(rings[0], rings[1:])
        return shapely.LineString(rings[0])

    multi: dict[int, Any] = {4: shapely.MultiPoint, 5: shapely.MultiLineString,
                             6: shapely.MultiPolygon, 7: shapely.GeometryCollection}
    out: list[Any] = []
    for t, n in zip(enc["gt"], enc["np"], strict=True):
        if t < 0:
            out.append(None)
            continue
        parts = [part() for _ in range(n)]
        out.append(parts[0] if t <= 3 else multi[t](parts))
    return np.array(out, dtype=object)


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


def tianditu_key(explicit: str | None = None) -> str:
    """Return the Tianditu key: *explicit*, else ``$TIANDITU_KEY``; refuse a placeholder.

    Raises
    ------
    InputError
        When the key is missing, empty or a placeholder such as ``...`` or ``<your key>``.
    """
    key = explicit if explicit is not None else os.environ.get(TIANDITU_KEY_ENV)
    where = "tianditu_key" if explicit is not None else f"${TIANDITU_KEY_ENV}"
    if key is None or not key.strip():
        raise InputError(
            f"the Tianditu basemap needs a key: the environment variable "
            f"{TIANDITU_KEY_ENV} is not set" if explicit is None else
            "the Tianditu basemap needs a key: tianditu_key is empty",
            hint=f"get a browser key from the Tianditu console (console.tianditu.gov.cn) "
                 f"and set ${TIANDITU_KEY_ENV}, or use basemap 'none'")
    if is_placeholder_key(key):
        raise InputError(
            f"the Tianditu key in {where} is a placeholder ({key.strip()!r}), not a key",
            value=key.strip(),
            hint="replace it with your own browser key from the Tianditu console "
                 "(console.tianditu.gov.cn), or use basemap 'none'")
    return key.strip()


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


# ---------------------------------------------------------------- progress


def _snapshot_dates(log_dates: pd.Series, as_of: dt.date, *, max_steps: int = 36) -> list[dt.date]:
    """Month ends from the first log date to *as_of*, thinned to at most *max_steps*."""
    d = pd.to_datetime(log_dates, errors="coerce").dropna()
    if not len(d):
        return [as_of]
    start = d.min().to_period("M")
    ends = pd.period_range(start, pd.Timestamp(as_of).to_period("M"), freq="M")
    dates = [p.end_time.date() for p in ends]
    dates = [x for x in dates if x < as_of] + [as_of]
    if len(dates) > max_steps:
        idx = np.unique(np.linspace(0, len(dates) - 1, max_steps).round().astype(int))
        dates = [dates[i] for i in idx]
    return dates


def _stage_history(compounds: pd.DataFrame, log: pd.DataFrame,
                   dates: Sequence[dt.date]) -> np.ndarray:
    """Stage index (into :func:`stage_order`) per compound × date; -1 without a record.

    Each column is the stage :func:`gisplan.progress.compound_status` gives on that
    date: a compound's last report decides from its own date until its next report, so
    each report is written at the first snapshot date on or after it and carried forward.
    """
    from gisplan.progress.status import valid_rows

    order = {s: i for i, s in enumerate(stage_order())}
    ids = compounds["compound_id"].astype(str).to_numpy()
    out = np.full((len(ids), len(dates)), -1, dtype=np.int8)
    if not len(log) or not len(dates):
        return out
    frame = valid_rows(log)
    frame = frame[frame["compound_id"].notna().to_numpy()]
    grid = np.array([np.datetime64(d, "ns") for d in dates])
    if np.any(grid[1:] < grid[:-1]):
        raise ValueError("snapshot dates must be in order")
    keys, row = np.unique(frame["key"].astype(str).to_numpy(), return_inverse=True)
    lo = np.searchsorted(grid, frame["date"].to_numpy(dtype="datetime64[ns]"), side="left")
    # the last report of a compound on or before a date wins: keep each (compound, lo)'s
    # last row (frame is sorted by key, date and log id)
    last = ~pd.DataFrame({"k": row, "lo": lo}).duplicated(keep="last").to_numpy()
    last &= lo < len(dates)
    code = frame["stage"].map(order).to_numpy(dtype=float)
    marks = np.full((len(keys), len(dates)), -1, dtype=np.int16)
    marks[row[last], lo[last]] = np.nan_to_num(code[last], nan=-1)
    # carry each report forward to the next one
    at = np.where(marks >= 0, np.arange(len(dates))[None, :], -1)
    at = np.maximum.accumulate(at, axis=1)
    filled = np.take_along_axis(marks, np.maximum(at, 0), axis=1)
    hist = np.where(at >= 0, filled, -1).astype(np.int8)
    where = pd.Index(keys).get_indexer(pd.Index(ids))  # a compound listed twice gets its row twice
    out[where >= 0] = hist[where[where >= 0]]
    return out


def _encode_history(hist: np.ndarray) -> list[str]:
    """One string per compound, one base-36 character per date ('-' for none)."""
    chars = np.array(list("0123456789abcdefghijklmnopqrstuvwxyz"))
    sym = np.where(hist < 0, "-", chars[np.clip(hist, 0, 35)])
    return ["".join(row) for row in sym]


_ROLLUP_COLS = ("compounds_planned", "households_planned", "compounds_started",
                "households_started", "start_rate_households", "compounds_completed",
                "households_completed", "completion_rate_households", "starts_flagged")


class _Rollups:
    """Progress figures per county / 片区 on the map's snapshot dates, computed once.

    One :func:`gisplan.progress.progress_series` per level for all the dates (the
    slider, the roll-up layers and the charts all ask for them).
    """

    def __init__(self, compounds: pd.DataFrame, log: pd.DataFrame,
                 dates: Sequence[dt.date]) -> None:
        self.compounds, self.log, self.dates = compounds, log, list(dates)
        self._series: dict[str, pd.DataFrame] = {}

    def _level(self, level: str) -> pd.DataFrame:
        """Return the level's series indexed by (unit, date); unit 合计 is the programme."""
        from gisplan.progress import progress_series

        by: Literal["county", "district"] = "county" if level == "county" else "district"
        if by not in self._series:
            s = (progress_series(self.compounds, self.log, self.dates, by=by)
                 if len(self.log) else pd.DataFrame(columns=["date", "unit"]))
            self._series[by] = s.set_index(["unit", "date"])
        return self._series[by]

    def at(self, day: dt.date, level: str) -> pd.DataFrame:
        """:func:`gisplan.progress.progress_summary` for county or 片区, indexed by unit."""
        s = self._level(level)
        if not len(s):
            return pd.DataFrame(columns=list(_ROLLUP_COLS))
        rows = s[s.index.get_level_values("date") == day].droplevel("date")
        return rows.drop(index="合计", errors="ignore")

    def grid(self, level: str, units: Sequence[str]) -> np.ndarray:
        """Return the figures of *units* (合计: the programme) on every date.

        An array (unit, date, :data:`_ROLLUP_COLS`); NaN where a unit has no row.
        """
        cols = list(_ROLLUP_COLS)
        s = self._level(level)
        if not len(s):
            return np.full((len(units), len(self.dates), len(cols)), np.nan)
        full = pd.MultiIndex.from_product([list(units), self.dates], names=["unit", "date"])
        values = s.reindex(columns=cols).reindex(full).to_numpy(dtype=float, na_value=np.nan)
        return values.reshape(len(units), len(self.dates), len(cols))

    def total(self, day: dt.date) -> dict[str, Any]:
        """Return the programme total row (合计) of the progress summary on *day*."""
        s = self._level("county")
        at = s.index.get_indexer(pd.MultiIndex.from_tuples([("合计", day)]))[0]
        return {} if at < 0 else {str(k): v for k, v in s.iloc[at].items()}


def _pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if np.isnan(v) else f"{v:.0%}"


def _status_day(log: pd.DataFrame, as_of: str | dt.date | None) -> dt.date:
    """Return the status date: *as_of*, or (``None``) the latest date in the progress log."""
    if as_of is not None:
        from gisplan.progress.dates import require_date

        return require_date(as_of, what="--as-of date 截至日期")
    log_dates = pd.to_datetime(log["date"], errors="coerce")
    return log_dates.max().date() if log_dates.notna().any() else dt.date.today()


_ROLLUP_BINS = [0, 0.25, 0.5, 0.75, 1.0]
_ROLLUP_PALETTE = [NODATA, "#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"]


def _json_number(v: Any) -> float | int | None:
    """Return *v* as a JSON number, ``None`` for missing."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if np.isnan(f):
        return None
    return round(f, 4) if not f.is_integer() else int(f)


def _rollup_series(roll: _Rollups, level: str,
                   units: Sequence[str]) -> dict[str, list[list[Any]]]:
    """Roll-up figures of each unit on each snapshot date (for the time slider)."""
    names = list(dict.fromkeys(str(u) for u in units))
    grid = roll.grid(level, names).tolist()  # (unit, date, column)
    return {u: [[_json_number(v) for v in row] for row in rows]
            for u, rows in zip(names, grid, strict=True)}


def _progress_rollups(m: GisplanMap, frames: _Frames, ctx: _Ctx, comp: gpd.GeoDataFrame,
                      roll: _Rollups) -> list[dict[str, Any]]:
    """County 县区 and 片区 roll-up layers; returns their figures per date for the slider."""
    districts = frames.get("districts")
    series: list[dict[str, Any]] = []
    if not isinstance(districts, gpd.GeoDataFrame) or "level" not in districts.columns:
        return series
    for level in ("county", "pianqu"):
        by = "county" if level == "county" else "district"
        if by not in comp.columns:
            continue
        polys = districts[districts["level"].astype(str) == level]
        if not len(polys):
            continue
        fig = roll.at(roll.dates[-1], level).reindex(polys["name"].astype(object).to_numpy())
        props = pd.DataFrame({"name": polys["name"].astype(object).to_numpy()},
                             index=polys.index)
        for c in _ROLLUP_COLS:
            props[c] = fig[c].to_numpy() if c in fig.columns else np.nan
        share = props["completion_rate_households"].astype(float)
        bins = np.digitize(share.fillna(-1).to_numpy(), _ROLLUP_BINS)
        props["_fill"] = np.array(_ROLLUP_PALETTE)[bins]
        part = _part(m, f"rollup_{level}", polys, props, ctx,
                     {"colorKey": "_fill", "colors": {c: c for c in _ROLLUP_PALETTE},
                      "stroke": "#333333", "fillOpacity": 0.35, "weight": 2,
                      "nameKey": "name", "subtitle": _t(f"rollup_{level}", ctx.lang),
                      "tooltip": _rows(["start_rate_households",
                                        "completion_rate_households"], ctx, _FMT),
                      "popup": _rows(list(_ROLLUP_COLS), ctx, _FMT)},
                     layer="districts", where=frames.where)
        _Layer(_t(f"rollup_{level}", ctx.lang), [part], show=level == "pianqu").add_to(m)
        series.append({"layer": f"rollup_{level}", "cols": list(_ROLLUP_COLS),
                       "shareKey": "completion_rate_households", "bins": _ROLLUP_BINS,
                       "palette": _ROLLUP_PALETTE,
                       "values": _rollup_series(roll, level,
                                                props["name"].astype(str).tolist())})
    return series


def _stage_dates(comp: pd.DataFrame, log: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """First date on or before *day* each compound reached started 开工 and completed 完工."""
    out = pd.DataFrame({"started_on": None, "completed_on": None}, index=comp.index,
                       dtype=object)
    if not len(log) or "stage" not in log.columns:
        return out
    order = {s: i for i, s in enumerate(stage_order())}
    rank = log["stage"].map(order)
    when = pd.to_datetime(log["date"], errors="coerce")
    ok = when.notna() & rank.notna() & (when <= pd.Timestamp(day))
    ids = comp["compound_id"].astype(str)
    for col, stage in (("started_on", "started"), ("completed_on", "completed")):
        sel = ok & (rank >= order[stage])
        first = when[sel].groupby(log["compound_id"][sel].astype(str)).min()
        out[col] = ids.map(first.dt.strftime("%Y-%m-%d")).astype(object).to_numpy()
    return out.where(out.notna(), None)


def _progress_compounds(m: GisplanMap, frames: _Frames, ctx: _Ctx, comp: gpd.GeoDataFrame,
                        log: pd.DataFrame, hist: np.ndarray, dates: Sequence[dt.date]
                        ) -> np.ndarray:
    """Add the compounds layer coloured by stage on the last date; returns the stage keys."""
    lang, order = ctx.lang, stage_order()
    now = hist[:, -1]
    stage_key = np.array([*order, ""], dtype=object)[np.where(now < 0, len(order), now)]
    props = _compound_props(comp)
    props["stage"] = [_v("stage", k, lang) if k else _t("no_record", lang) for k in stage_key]
    props["_stage"] = stage_key
    props["_h"] = _encode_history(hist)
    props = props.join(_stage_dates(comp, log, dates[-1]))
    time_cfg = {"histKey": "_h", "dates": [d.isoformat() for d in dates],
                "labels": [_v("stage", s, lang) for s in order],
                "none": _t("no_record", lang)}
    part = _part(m, "compounds", comp, props, ctx,
                 {"colorKey": "_stage", "colors": dict(STAGE_COLORS) | {"": NO_RECORD},
                  "fillOpacity": 0.75, "weight": 1,
                  "nameKey": "name", "searchable": True,
                  "tooltip": _rows(["stage", "households"], ctx, _FMT),
                  "popup": _rows(["compound_id", "county", "district", "stage", "started_on",
                                  "completed_on", "households", "buildings", "floor_area_m2",
                                  "built_year"], ctx, _FMT,
                                 optional=["county", "district", "built_year", "started_on",
                                           "completed_on"]),
                  "extra": "stageNow", "time": time_cfg},
                 layer="compounds", where=frames.where)
    _Layer(_t("compounds", lang), [part]).add_to(m)
    return stage_key


def _progress_legend(ctx: _Ctx, stage_key: np.ndarray, hist: np.ndarray) -> None:
    """Legend of the stages met on any snapshot date, counted on the status date.

    The time slider updates the counts (rows are keyed by stage).
    """
    lang, order = ctx.lang, stage_order()
    counts = pd.Series(stage_key).value_counts()
    seen = set(np.unique(hist).tolist())
    items = [{"label": _v("stage", s, lang), "color": STAGE_COLORS[s], "shape": "box",
              "count": int(counts.get(s, 0)), "key": s}
             for i, s in enumerate(order) if i in seen]
    if -1 in seen:
        items.append({"label": _t("no_record", lang), "color": NO_RECORD,
                      "stroke": NO_RECORD_STROKE, "dash": True, "shape": "box",
                      "count": int(counts.get("", 0)), "key": ""})
    ctx.legend.append({"title": _t("stage", lang), "items": items})


#: most county charts drawn in the panel (the programme total is always first)
MAX_CHART_COUNTIES = 20


def _chart_targets(meta: Mapping[str, Any], lang: Lang) -> list[dict[str, Any]]:
    """Milestones on 开工/完工 (started/completed) as chart targets; others are left out."""
    from gisplan.progress.milestones import parse_measure

    out = []
    for ms in meta.get("milestones") or []:
        try:
            stage, per = parse_measure(str(ms.get("measure", "")))
            target = float(ms["target"])
            day = dt.date.fromisoformat(str(ms["date"])[:10])
        except (KeyError, TypeError, ValueError, InputError):
            continue
        if stage not in ("started", "completed"):
            continue
        label = str(ms.get("zh") or ms.get("key") or "") if lang == "zh" else str(
            ms.get("key") or ms.get("zh") or "")
        out.append({"date": day.isoformat(), "target": target, "label": label,
                    "series": (0 if stage == "started" else 1) + (0 if per == "households"
                                                                   else 2)})
    return out


def _progress_charts(comp: pd.DataFrame, roll: _Rollups,
                     meta: Mapping[str, Any], lang: Lang) -> dict[str, Any] | None:
    """Per county 开工率/完工率 (by households, by count) on each snapshot date.

    The JS runtime draws them as inline SVG in a panel with the milestone targets and
    a marker at the slider's date (``G.progressCharts``).
    """
    if not len(roll.log) or "county" not in comp.columns:
        return None
    dates = roll.dates
    counties = (comp["county"].dropna().astype(str).value_counts()
                .index[:MAX_CHART_COUNTIES].tolist())
    units = [("合计", _t("programme_total", lang))] if len(counties) > 1 else []
    units += [(c, c) for c in sorted(counties)]
    grid = roll.grid("county", [u for u, _ in units])  # (unit, date, column)
    col = {c: i for i, c in enumerate(_ROLLUP_COLS)}
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.stack([grid[..., col[n]] / grid[..., col[d]] for n, d in (
            ("households_started", "households_planned"),
            ("households_completed", "households_planned"),
            ("compounds_started", "compounds_planned"),
            ("compounds_completed", "compounds_planned"))], axis=-1)
    values = [[[_json_number(v) for v in day] for day in rows]
              for rows in np.where(np.isfinite(shares), shares, np.nan).tolist()]
    return {"dates": [d.isoformat() for d in dates],
            "units": [{"name": label, "values": v} for (_, label), v in zip(units, values,
                                                                             strict=True)],
            "targets": _chart_targets(meta, lang),
            "series": [f"{_t('start_rate', lang)}（{_t('by_households', lang)}）",
                       f"{_t('completion_rate', lang)}（{_t('by_households', lang)}）",
                       f"{_t('start_rate', lang)}（{_t('by_count', lang)}）",
                       f"{_t('completion_rate', lang)}（{_t('by_count', lang)}）"],
            "colors": [STAGE_COLORS["started"], STAGE_COLORS["completed"],
                       STAGE_COLORS["started"], STAGE_COLORS["completed"]],
            "short": [_t("start_rate", lang), _t("completion_rate", lang)],
            "title": _t("charts", lang), "targetLabel": _t("target", lang)}


def _time_slider(m: GisplanMap, ctx: _Ctx, dates: Sequence[dt.date], *,
                 totals: list[list[Any]], rollups: list[dict[str, Any]],
                 charts: dict[str, Any] | None = None) -> None:
    """Add the slider over the snapshots of the progress log (drawn by the JS runtime)."""
    lang, order = ctx.lang, stage_order()
    _Call("timeSlider", {
        "layer": "compounds", "dates": [d.isoformat() for d in dates], "histKey": "_h",
        "colors": [STAGE_COLORS[s] for s in order],
        "labels": [_v("stage", s, lang) for s in order],
        "stageKeys": list(order), "totals": totals, "rollups": rollups,
        "noneColor": NO_RECORD, "noneStroke": NO_RECORD_STROKE, "noneDash": "3 3",
        "start": len(dates) - 1, "hhKey": "households",
        "started": order.index("started"), "completed": order.index("completed"),
        "title": _t("slider", lang),
        "text": {"none": _t("no_record", lang), "asOf": _t("as_of", lang),
                 "startedShare": _t("started_share", lang),
                 "completedShare": _t("completed_share", lang)},
    }).add_to(m)
    if charts is not None:
        _Call("progressCharts", charts).add_to(m)


def progress_map(
    source: MapSource,
    *,
    as_of: str | dt.date | None = None,
    options: MapOptions | None = None,
    **overrides: Any,
) -> GisplanMap:
    """Map compounds by renovation stage, with roll-ups and a time slider.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        The programme: needs ``compounds``; uses ``progress_log``, ``districts``, ``roads``.
    as_of : str or datetime.date, optional
        Status date (``"2023-06-30"``); ``None`` means the latest date in the progress log
        (today when the log is empty).
    options : MapOptions, optional
        Language, basemap, title, geometry and renderer; ``None`` means the defaults.
    **overrides
        Fields of :class:`MapOptions` to change (``lang="en"``, ``basemap="osm"``).

    Returns
    -------
    GisplanMap
        A :class:`folium.Map`; save it with :func:`save_map`.

    Examples
    --------
    >>> m = progress_map("layers/guyuan_2022.gpkg", as_of="2022-09-30", lang="en")
    >>> m.legend[-1]["title"]
    'Stage 进度阶段'
    """
    opts = _options(options, overrides)
    frames = _frames(source)
    comp = frames.require("compounds", for_what="progress")
    log = frames.get("progress_log")
    log = log if log is not None else pd.DataFrame(columns=["compound_id", "date", "stage"])
    day = _status_day(log, as_of)
    dates = _snapshot_dates(log["date"], day)
    hist = _stage_history(comp, log, dates)
    roll = _Rollups(comp, log, dates)
    total = roll.total(dates[-1])
    lang = opts.lang
    sub = (f"{_t('as_of', lang)} {day.isoformat()} · {_t('started_share', lang)} "
           f"{_pct(total.get('start_rate_households'))} · {_t('completed_share', lang)} "
           f"{_pct(total.get('completion_rate_households'))}")
    m, ctx = _new_map(frames, "progress", opts, n_features=_count_geoms(comp), subtitle=sub)
    _context_layers(m, frames, ctx)
    rollups = _progress_rollups(m, frames, ctx, comp, roll)
    stage_key = _progress_compounds(m, frames, ctx, comp, log, hist, dates)
    _progress_legend(ctx, stage_key, hist)
    _finish(m, ctx, frames, _t("progress_title", lang), [comp])
    col = [_ROLLUP_COLS.index(c) for c in ("start_rate_households",
                                            "completion_rate_households")]
    totals = [[_json_number(v) for v in day]
              for day in roll.grid("county", ["合计"])[0][:, col].tolist()]
    _time_slider(m, ctx, dates, totals=totals, rollups=rollups,
                 charts=_progress_charts(comp, roll, frames.meta, lang))
    return m


# ---------------------------------------------------------------- gaps


def _coverage_distances(frames: _Frames, comp: gpd.GeoDataFrame
                        ) -> tuple[pd.DataFrame, str]:
    """``walk_m_<type>`` and ``covered_<type>`` per compound (index of *comp*), and method.

    From the store's ``coverage_gaps`` layer when :mod:`gisplan.coverage` has run,
    otherwise computed with :func:`gisplan.coverage.coverage` (not written).
    """
    stored = frames.get("coverage_gaps")
    method = str((frames.meta.get("coverage") or {}).get("method", "network"))
    if stored is None or not any(str(c).startswith("walk_m_") for c in stored.columns):
        from gisplan.coverage import coverage

        result = coverage(comp, frames.get("facilities"), roads=frames.get("roads"),
                          gates=frames.get("gates"))
        stored, method = result.compounds, result.method
    cols = [c for c in stored.columns if str(c).startswith(("walk_m_", "covered_"))]
    table = pd.DataFrame(stored[cols]).set_index(stored["compound_id"].astype(str).to_numpy())
    table = table[~table.index.duplicated()]
    out = table.reindex(comp["compound_id"].astype(str).to_numpy())
    out.index = comp.index
    return out, method


def _gap_types(dist: pd.DataFrame, facility_types: Sequence[str] | None, std: Any,
               where: str) -> list[str]:
    """Return the facility types to show, in the standard's order (default: all)."""
    types = [c.removeprefix("walk_m_") for c in dist.columns if c.startswith("walk_m_")]
    if facility_types is not None:
        unknown = [t for t in facility_types if t not in types]
        if unknown:
            raise InputError(
                f"no coverage distances for facility type(s) {', '.join(unknown)}",
                file=where, layer="coverage", column="walk_m_<type>", value=unknown,
                hint=f"choose from {', '.join(types)} or run gisplan coverage first",
            )
        types = list(facility_types)
    order = {k: i for i, k in enumerate(std.types)}
    return sorted(types, key=lambda t: order.get(t, len(order)))


def _gap_verdicts(dist: pd.DataFrame, types: Sequence[str], std: Any, props: pd.DataFrame,
                  lang: Lang) -> tuple[dict[str, Any], dict[str, int]]:
    """Add ``walk_m_<type>`` and ``_cov_<type>`` (c covered, g gap, n no distance) to *props*.

    Returns the per-type constants (standard distance, label) and gap counts.
    """
    constants: dict[str, Any] = {}
    gaps_per_type: dict[str, int] = {}
    for ftype in types:
        limit = std.walk_m(ftype) if ftype in std.types else float("nan")
        walk = pd.to_numeric(dist[f"walk_m_{ftype}"], errors="coerce")
        if f"covered_{ftype}" in dist.columns:
            judged = dist[f"covered_{ftype}"].astype("boolean")
        else:
            judged = (walk <= limit).astype("boolean").mask(walk.isna())
        status = np.where(judged.isna(), "n", np.where(judged.fillna(False), "c", "g"))
        props[f"walk_m_{ftype}"] = walk.round(0).to_numpy()
        props[f"_cov_{ftype}"] = status
        constants[f"standard_m_{ftype}"] = None if np.isnan(limit) else limit
        constants[f"type_{ftype}"] = _v("facility_type", ftype, lang)
        gaps_per_type[ftype] = int((status == "g").sum())
    return constants, gaps_per_type


def _walk_network(frames: _Frames, how: str) -> Any:
    """Return the walking network for catchments (None: straight lines, no roads)."""
    roads = frames.get("roads")
    if how == "euclidean" or not isinstance(roads, gpd.GeoDataFrame) or not len(roads):
        return None
    from gisplan.network import WalkNetwork

    return WalkNetwork.from_roads(roads)


def _service_areas(fac: gpd.GeoDataFrame | None, fac_type: pd.Series | None,
                   limits: dict[str, float | None], network: Any) -> gpd.GeoDataFrame | None:
    """Return the merged walking service area of each facility type with a distance.

    One :func:`gisplan.catchments.service_areas` call for all the types, indexed by
    type (its unions run side by side); None without a walking network.
    """
    if network is None or fac is None or fac_type is None:
        return None
    from gisplan.catchments import service_areas

    types = fac_type.to_numpy()
    limit = pd.Series(types).map({t: v for t, v in limits.items() if v}).to_numpy(float)
    keep = np.isfinite(limit)
    sel = fac[keep].assign(_type=types[keep])
    return service_areas(sel, network, distance_m=limit[keep], by="_type").catchments


def _service_part(m: GisplanMap, frames: _Frames, ctx: _Ctx, sel: gpd.GeoDataFrame,
                  fprops: pd.DataFrame, ftype: str, limit: float | None,
                  areas: gpd.GeoDataFrame | None) -> _Part:
    """Return the walking service area of one facility type (circles without roads).

    With roads (*areas*, from :func:`_service_areas`): the merged walking catchments of
    the type's facilities, one polygon (the layer is not interactive, so the area is
    what a reader sees, without hundreds of overlapping rings).
    """
    style = {"color": FACILITY, "weight": 1, "fillOpacity": 0.06, "dashArray": "4 4",
             "interactive": False}
    if areas is not None and limit:
        polys = areas[areas.index == ftype]
        names = pd.DataFrame({"name": _v("facility_type", ftype, ctx.lang)},
                             index=polys.index)  # one row, none when nothing reaches a street
        return _part(m, f"service_{ftype}", polys, names, ctx,
                     style | {"color": COVERED, "fillColor": COVERED, "dashArray": None},
                     layer="facilities", where=frames.where)
    return _part(m, f"service_{ftype}", sel, fprops.assign(_r=limit or 0), ctx,
                 style | {"radiusKey": "_r"}, layer="facilities", where=frames.where)


def _facility_parts(m: GisplanMap, frames: _Frames, ctx: _Ctx, fac: gpd.GeoDataFrame | None,
                    fac_type: pd.Series | None, ftype: str, limit: float | None,
                    areas: gpd.GeoDataFrame | None = None) -> list[_Part]:
    """Return the parts of the facilities of one type and their service areas.

    With *areas* (:func:`_service_areas`, from a walking network) the service area is
    the merged walking catchment of the type's facilities; without, a straight-line
    circle per facility.
    """
    if fac_type is None or fac is None:
        return []
    sel = fac[(fac_type == ftype).to_numpy()]
    if not len(sel):
        return []
    fprops = pd.DataFrame(index=sel.index)
    names = sel["name"] if "name" in sel.columns else sel["facility_id"]
    fprops["name"] = names.astype(object).where(names.notna(), sel["facility_id"])
    fprops["facility_type"] = _v("facility_type", ftype, ctx.lang)
    fprops["capacity"] = sel["capacity"] if "capacity" in sel.columns else np.nan
    fprops["standard_m"] = limit
    return [
        _service_part(m, frames, ctx, sel, fprops, ftype, limit, areas),
        _part(m, f"facilities_{ftype}", sel, fprops, ctx,
              {"color": FACILITY, "stroke": "#ffffff", "radius": 6, "weight": 1.5,
               "fillOpacity": 1, "nameKey": "name",
               "tooltip": _rows(["facility_type"], ctx),
               "popup": _rows(["facility_type", "capacity", "standard_m"], ctx, _FMT,
                              optional=["capacity"])},
              layer="facilities", where=frames.where),
    ]


def _gaps_legend(ctx: _Ctx, *, walking: bool) -> None:
    lang = ctx.lang
    service = ({"label": _t("walk_catchment", lang), "color": COVERED, "shape": "ring"}
               if walking else
               {"label": _t("service_distance", lang), "color": FACILITY, "shape": "ring"})
    ctx.legend.append({"title": "", "items": [
        {"label": _t("covered", lang), "color": COVERED, "shape": "box"},
        {"label": _t("uncovered", lang), "color": UNCOVERED, "shape": "box"},
        {"label": _t("no_distance", lang), "color": NODATA, "shape": "box"},
        {"label": _t("facilities", lang), "color": FACILITY, "shape": "dot"},
        service,
    ]})


def gaps_map(
    source: MapSource,
    *,
    facility_types: Sequence[str] | None = None,
    options: MapOptions | None = None,
    **overrides: Any,
) -> GisplanMap:
    """Map facility coverage: covered and uncovered compounds per facility type.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        Needs ``compounds``; uses ``coverage_gaps`` (``walk_m_<type>`` columns, computed
        with :mod:`gisplan.coverage` when absent), ``facilities``, ``districts``, ``roads``.
    facility_types : sequence of str, optional
        Facility type keys to show; ``None`` means every type with distances. The first
        is shown on opening, the others are in the layer control.
    options, **overrides
        As for :func:`progress_map`.

    Returns
    -------
    GisplanMap
    """
    from gisplan.standards import load_standard

    opts = _options(options, overrides)
    frames = _frames(source)
    comp = frames.require("compounds", for_what="gaps")
    fac = frames.get("facilities")
    dist, how = _coverage_distances(frames, comp)
    std = load_standard()
    types = _gap_types(dist, facility_types, std, frames.where)
    fac_type = None
    if isinstance(fac, gpd.GeoDataFrame) and "facility_type" in fac.columns:
        fac_type = std.resolve_many(fac["facility_type"])
    lang = opts.lang
    sub = _t("coverage_source_straight" if how == "euclidean" else "coverage_source_network",
             lang)
    m, ctx = _new_map(frames, "gaps", opts, n_features=_count_geoms(comp) + _count_geoms(fac),
                      subtitle=sub)
    _context_layers(m, frames, ctx)
    # One compounds layer carries every type's distance and verdict; the facility types
    # are radio buttons (base layers) that switch which type the compounds show.
    props = _compound_props(comp)
    constants, gaps_per_type = _gap_verdicts(dist, types, std, props, lang)
    part = _part(m, "compounds", comp, props, ctx,
                 {"colorKey": "_cov_{t}", "colors": {"c": COVERED, "g": UNCOVERED,
                                                      "n": NODATA},
                  "otherColor": NODATA, "sw": types[0] if types else "",
                  "constants": constants,
                  "fillOpacity": 0.65, "weight": 1, "nameKey": "name", "searchable": True,
                  "subtitleKey": "type_{t}",
                  "tooltip": [[_t("walk_m", lang), "walk_m_{t}", "m", False],
                              [_t("standard_m", lang), "standard_m_{t}", "m", False]],
                  "popup": [*_rows(["compound_id", "county", "district", "households"], ctx,
                                   _FMT, optional=["county", "district"]),
                            [_t("walk_m", lang), "walk_m_{t}", "m", False],
                            [_t("standard_m", lang), "standard_m_{t}", "m", False]],
                  "extra": "allGaps",
                  "gaps": {"title": _t("all_gaps", lang),
                           "types": [{"key": t, "label": constants[f"type_{t}"],
                                      "standard": constants[f"standard_m_{t}"]}
                                     for t in types],
                           "verdict": {"c": _t("covered", lang), "g": _t("gap", lang),
                                       "n": _t("no_distance", lang)},
                           "colors": {"c": COVERED, "g": UNCOVERED, "n": "#666666"}}},
                 layer="coverage", where=frames.where)
    network = _walk_network(frames, how)
    areas = _service_areas(fac if isinstance(fac, gpd.GeoDataFrame) else None, fac_type,
                           {t: constants[f"standard_m_{t}"] for t in types}, network)
    for i, ftype in enumerate(types):
        parts = _facility_parts(m, frames, ctx, fac, fac_type, ftype,
                                constants[f"standard_m_{ftype}"], areas)
        _Layer(f"{_v('facility_type', ftype, lang)} ({gaps_per_type[ftype]})", parts,
               show=i == 0, overlay=False, switch=("compounds", ftype)).add_to(m)
    _Layer(_t("compounds", lang), [part]).add_to(m)
    _gaps_legend(ctx, walking=network is not None)
    _finish(m, ctx, frames, _t("gaps_title", lang), [comp])
    return m


# ---------------------------------------------------------------- bundles


def _bundle_layers(frames: _Frames, comp: gpd.GeoDataFrame
                   ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """``bundles`` and ``bundle_members`` from the store, or from :mod:`gisplan.bundle`."""
    bundles, members = frames.get("bundles"), frames.get("bundle_members")
    if isinstance(bundles, gpd.GeoDataFrame) and members is not None:
        return bundles, members
    from gisplan.bundle import bundle_compounds
    from gisplan.eligibility import programme_rules

    util, districts = frames.get("utilities"), frames.get("districts")
    level = frames.meta.get("bundle_level", "pianqu")
    result = bundle_compounds(
        comp, utilities=util if isinstance(util, gpd.GeoDataFrame) else None,
        districts=districts if isinstance(districts, gpd.GeoDataFrame) else None,
        level=level, rules=programme_rules(frames.meta).rules)
    return result.bundles, result.members


def adjacent_colors(geoms: Any, *, within_m: float = 60.0) -> np.ndarray:
    """Colour indices such that no two shapes closer than *within_m* share one.

    A greedy graph colouring (largest degree first, smallest free colour) on the sparse
    adjacency of the shapes: on maps of bundles the number of colours stays small (a
    planar-like graph), so a short palette suffices.

    Parameters
    ----------
    geoms : array of shapely geometries in a metric CRS
        The shapes (missing or empty ones get colour 0 and no neighbours).
    within_m : float
        Shapes nearer than this (metres; across a street) count as neighbours.

    Returns
    -------
    numpy.ndarray of int
        One colour index per shape.

    Examples
    --------
    >>> import shapely
    >>> row = [shapely.box(i * 100, 0, i * 100 + 90, 90) for i in range(4)]
    >>> adjacent_colors(row, within_m=20).tolist()
    [1, 0, 1, 0]
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    colors = np.zeros(n, dtype=np.int64)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if n < 2 or ok.sum() < 2:
        return colors
    idx = np.flatnonzero(ok)
    tree = shapely.STRtree(geoms[idx])
    left, right = tree.query(geoms[idx], predicate="dwithin", distance=within_m)
    keep = left != right
    left, right = idx[left[keep]], idx[right[keep]]
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        neighbours[a].append(b)
    degree = np.array([len(x) for x in neighbours])
    done = np.zeros(n, dtype=bool)
    for v in np.lexsort((np.arange(n), -degree)):
        used = {int(colors[u]) for u in neighbours[v] if done[u]}
        c = 0
        while c in used:
            c += 1
        colors[v] = c
        done[v] = True
    return colors


def _owners_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    parts = [p.strip() for p in str(value).split(";") if p.strip()]
    return "、".join(parts) or None


def _bundle_outlines(m: GisplanMap, frames: _Frames, ctx: _Ctx, bundles: gpd.GeoDataFrame,
                     color_of: Mapping[str, str]) -> pd.DataFrame:
    """Bundle outlines: the dissolved members, grown a little so the outline shows."""
    geo = _geographic(bundles, "bundles", frames.where)
    grown = geo.to_crs(ctx.metric).buffer(12, join_style="mitre").to_crs(4326)
    outlines = geo.set_geometry(grown.to_numpy())
    oprops = pd.DataFrame(index=outlines.index)
    oprops["name"] = outlines["bundle_id"].astype(str)
    oprops["members"] = outlines.get("n_compounds", np.nan)
    oprops["households"] = outlines.get("households", np.nan)
    oprops["district_bundle"] = outlines.get("district", None)
    owners = (outlines["utility_owners"] if "utility_owners" in outlines
              else pd.Series(None, index=outlines.index, dtype=object))
    oprops["owners"] = owners.map(_owners_text)
    oprops["_k"] = oprops["name"]
    part = _part(m, "bundles", outlines, oprops, ctx,
                 {"colorKey": "_k", "colors": dict(color_of), "fillOpacity": 0.06, "weight": 3,
                  "dashArray": "8 5", "nameKey": "name", "subtitle": _t("bundle", ctx.lang),
                  "tooltip": _rows(["members", "households"], ctx, _FMT),
                  "popup": _rows(["district_bundle", "members", "households", "owners"], ctx,
                                 _FMT, optional=["district_bundle", "owners"])},
                 layer="bundles", where=frames.where)
    _Layer(_t("bundles", ctx.lang), [part]).add_to(m)
    return oprops


def _bundle_members(m: GisplanMap, frames: _Frames, ctx: _Ctx, comp: gpd.GeoDataFrame,
                    members: pd.DataFrame, oprops: pd.DataFrame,
                    color_of: Mapping[str, str]) -> pd.Series:
    """Compounds coloured by their bundle; returns each compound's bundle id (NaN: none)."""
    lang = ctx.lang
    mem = members.drop_duplicates("compound_id")
    mem = mem.set_index(mem["compound_id"].astype(str).to_numpy())
    cid = comp["compound_id"].astype(str)
    bundle_id = cid.map(mem["bundle_id"].astype(str))
    in_bundle = bundle_id.notna().to_numpy()
    props = _compound_props(comp)
    props["bundle"] = bundle_id.where(in_bundle, _t("standalone", lang)).to_numpy()
    why_col = "why_zh" if lang == "zh" else "why_en"
    props["why"] = cid.map(mem[why_col]).to_numpy() if why_col in mem else None
    props["owners"] = bundle_id.map(pd.Series(oprops["owners"].to_numpy(),
                                              index=oprops["name"].to_numpy())).to_numpy()
    props["_k"] = bundle_id.fillna("").to_numpy()
    part = _part(m, "compounds", comp, props, ctx,
                 {"colorKey": "_k", "colors": dict(color_of) | {"": NODATA},
                  "fillOpacity": 0.7, "weight": 1, "nameKey": "name", "searchable": True,
                  "tooltip": _rows(["bundle", "households"], ctx, _FMT),
                  "popup": _rows(["compound_id", "bundle", "county", "district", "households",
                                  "buildings", "built_year", "why", "owners"], ctx, _FMT,
                                 optional=["county", "district", "built_year", "why",
                                           "owners"])},
                 layer="compounds", where=frames.where)
    _Layer(_t("bundle_members", lang), [part]).add_to(m)
    return bundle_id


def bundles_map(
    source: MapSource,
    *,
    options: MapOptions | None = None,
    **overrides: Any,
) -> GisplanMap:
    """Map bundles 连片: each in its own colour with members, households and utility owners.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        Needs ``compounds``; uses ``bundles`` and ``bundle_members`` (computed with
        :func:`gisplan.bundle.bundle_compounds` when absent), ``districts``, ``roads``.
    options, **overrides
        As for :func:`progress_map`.

    Returns
    -------
    GisplanMap
    """
    opts = _options(options, overrides)
    frames = _frames(source)
    comp = frames.require("compounds", for_what="bundles")
    bundles, members = _bundle_layers(frames, comp)
    m, ctx = _new_map(frames, "bundles", opts, n_features=_count_geoms(comp, bundles),
                      subtitle=None)
    _context_layers(m, frames, ctx)
    keys = [str(k) for k in bundles["bundle_id"]]
    metric = _geographic(bundles, "bundles", frames.where).to_crs(ctx.metric)
    index = adjacent_colors(metric.geometry.to_numpy())
    color_of = {k: CATEGORICAL[int(i) % len(CATEGORICAL)] for k, i in zip(keys, index,
                                                                           strict=True)}
    m.palette = dict(color_of)
    oprops = _bundle_outlines(m, frames, ctx, bundles, color_of)
    bundle_id = _bundle_members(m, frames, ctx, comp, members, oprops, color_of)
    in_bundle = bundle_id.notna().to_numpy()
    # a short legend at any size: the colours only tell neighbours apart
    items = [{"label": _t("bundle_colours", opts.lang).format(n=len(keys)),
              "color": CATEGORICAL[0], "shape": "box", "count": int(in_bundle.sum())}]
    if (~in_bundle).any():
        items.append({"label": _t("standalone", opts.lang), "color": NODATA, "shape": "box",
                      "count": int((~in_bundle).sum())})
    ctx.legend.append({"title": _t("bundle", opts.lang), "items": items})
    _finish(m, ctx, frames, _t("bundles_title", opts.lang), [comp])
    return m


# ---------------------------------------------------------------- utilities


#: pixels between the networks drawn side by side along a shared street
PIPE_SPACING_PX = 3.5
#: lines of different networks closer than this (metres) over at least SHARED_SHARE of
#: a line's length share a street
SHARED_WITHIN_M, SHARED_SHARE = 4.0, 0.3


def shared_street(geoms: Any, network: Any, *, within_m: float = SHARED_WITHIN_M,
                  share: float = SHARED_SHARE) -> np.ndarray:
    """Which lines run along a line of another network (in a metric CRS).

    A line shares a street when at least *share* of its length lies within *within_m*
    of one line of a different network.

    Examples
    --------
    >>> lines = shapely.linestrings([[(0, 0), (100, 0)], [(0, 1), (100, 1)],
    ...                              [(0, 50), (100, 50)], [(0, 51), (100, 51)]])
    >>> shared_street(lines, ["water_supply", "gas", "power", "power"]).tolist()
    [True, True, False, False]
    """
    geoms = np.asarray(geoms, dtype=object)
    net = np.asarray(network, dtype=object)
    out = np.zeros(len(geoms), dtype=bool)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.sum() < 2:
        return out
    idx = np.flatnonzero(ok)
    tree = shapely.STRtree(geoms[idx])
    a, b = tree.query(geoms[idx], predicate="dwithin", distance=within_m)
    a, b = idx[a], idx[b]
    pick = net[a] != net[b]
    a, b = a[pick], b[pick]
    if not len(a):
        return out
    length = shapely.length(geoms[a])
    near = shapely.length(shapely.intersection(geoms[a], shapely.buffer(geoms[b], within_m)))
    hit = near >= share * np.maximum(length, 1e-9)
    out[np.unique(a[hit])] = True
    return out


def _pipe_offsets(util: gpd.GeoDataFrame, network: pd.Series, nets: Sequence[str]
                  ) -> pd.Series:
    """Screen offset (px) of each line: networks side by side where they share a street."""
    metric = util.geometry.to_crs(metric_crs(util)) if util.crs else util.geometry
    shared = shared_street(metric.to_numpy(), network.to_numpy())
    slot = network.map({n: i for i, n in enumerate(nets)}).astype(float)
    px = (slot - (len(nets) - 1) / 2) * PIPE_SPACING_PX
    return px.where(shared, 0.0).fillna(0.0).round(1)


def _network_layer(m: GisplanMap, frames: _Frames, ctx: _Ctx, rows: gpd.GeoDataFrame,
                   net: str, age: pd.Series, old_years: int, offset: pd.Series) -> None:
    """One network's lines: younger ones thin, old ones thick; popups with owner and age."""
    lang = ctx.lang
    props = pd.DataFrame(index=rows.index)
    props["utility_id"] = rows["utility_id"]
    props["name"] = [f"{_v('network', net, lang)} {u}" for u in rows["utility_id"]]
    props["network"] = _v("network", net, lang)
    for c in ("owner", "install_year", "material", "diameter_mm"):
        props[c] = rows[c] if c in rows.columns else pd.NA
    props["age_years"] = age.to_numpy()
    props["_off"] = offset.to_numpy()
    old = (props["age_years"] >= old_years).fillna(False).to_numpy()
    color = NETWORK_COLORS.get(net, "#444444")
    parts = []
    for is_old, w in ((False, PIPE_WIDTH), (True, OLD_PIPE_WIDTH)):
        pick = old == is_old
        if not pick.any():
            continue
        parts.append(_part(m, f"utilities_{net}{'_old' if is_old else ''}", rows[pick],
                           props[pick], ctx,
                           {"color": color, "weight": w, "opacity": 0.9,
                            "fillOpacity": 0, "nameKey": "name", "offsetKey": "_off",
                            "tooltip": _rows(["owner", "age_years"], ctx, _FMT),
                            "popup": _rows(["utility_id", "network", "owner",
                                            "install_year", "age_years", "material",
                                            "diameter_mm"], ctx, _FMT,
                                           optional=["material", "diameter_mm"])},
                           layer="utilities", where=frames.where))
    _Layer(f"{_v('network', net, lang)} ({len(rows)})", parts).add_to(m)


def utilities_map(
    source: MapSource,
    *,
    as_of_year: int | None = None,
    old_years: int = 20,
    options: MapOptions | None = None,
    **overrides: Any,
) -> GisplanMap:
    """Map the six utility networks 管线 by type, with owner and age.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        Needs ``utilities``; uses ``compounds`` (grey context), ``districts``, ``roads``.
    as_of_year : int, optional
        Year ages are counted to; ``None`` means the programme year (this year when the
        programme has none).
    old_years : int
        Lines at least this old are drawn thicker.
    options, **overrides
        As for :func:`progress_map`.

    Returns
    -------
    GisplanMap
    """
    opts = _options(options, overrides)
    frames = _frames(source)
    util = frames.require("utilities", for_what="utilities")
    comp = frames.get("compounds")
    year = as_of_year or int(frames.meta.get("year") or dt.date.today().year)
    m, ctx = _new_map(frames, "utilities", opts, n_features=_count_geoms(util, comp),
                      subtitle=None)
    _context_layers(m, frames, ctx, compounds=True)
    network = util["network"].astype(object)
    installed = pd.to_numeric(util["install_year"] if "install_year" in util.columns
                              else pd.Series(np.nan, index=util.index), errors="coerce")
    age = (year - installed).where(installed.notna())
    items = []
    nets = [n for n in [*vocab("network"), *sorted(set(network.dropna()) - set(vocab("network")))]
            if (network == n).any()]
    offset = _pipe_offsets(util, network, nets)
    for net in nets:
        sel = (network == net).to_numpy()
        _network_layer(m, frames, ctx, util[sel], net, age[sel], old_years, offset[sel])
        items.append({"label": _v("network", net, opts.lang),
                      "color": NETWORK_COLORS.get(net, "#444444"), "shape": "line",
                      "width": PIPE_WIDTH, "count": int(sel.sum())})
    ctx.legend.append({"title": _t("network", opts.lang), "items": items})
    ctx.legend.append({"title": "", "items": [
        {"label": _t("older_than", opts.lang).format(n=old_years), "color": "#444444",
         "shape": "line", "width": OLD_PIPE_WIDTH}]})  # as old lines are drawn: thicker
    _finish(m, ctx, frames, _t("utilities_title", opts.lang), [util, comp])
    return m


# ---------------------------------------------------------------- entry points

_BUILDERS: dict[str, Callable[..., GisplanMap]] = {
    "progress": progress_map,
    "gaps": gaps_map,
    "bundles": bundles_map,
    "utilities": utilities_map,
}


def make_map(source: MapSource, kind: MapKind, *, options: MapOptions | None = None,
             **kind_options: Any) -> GisplanMap:
    """Build the map of *kind* (``progress``, ``gaps``, ``bundles``, ``utilities``).

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        The programme.
    kind : {"progress", "gaps", "bundles", "utilities"}
        Which map.
    options : MapOptions, optional
        The shared options; ``None`` means the defaults.
    **kind_options
        Options of the kind's own function (``as_of``, ``facility_types``, ...) and
        fields of :class:`MapOptions`.

    Returns
    -------
    GisplanMap

    Examples
    --------
    >>> m = make_map("layers/guyuan_2022.gpkg", "utilities", options=MapOptions(lang="en"))
    >>> m.basemap
    'none'
    """
    if kind not in _BUILDERS:
        raise ValueError(f"unknown map kind {kind!r}; choose from {', '.join(KINDS)}")
    return _BUILDERS[kind](source, options=options, **kind_options)


# ---------------------------------------------------------------- the atlas 一张图

#: most rows the atlas table draws at once (filtering narrows them; all are searched)
ATLAS_MAX_ROWS = 2000


def _atlas_rows(frames: _Frames, lang: Lang, as_of: str | dt.date | None
                ) -> tuple[list[dict[str, Any]], list[list[Any]], list[str]]:
    """Columns, rows (one per compound) and snapshot dates of the atlas table."""
    comp = frames.require("compounds", for_what="atlas")
    log = frames.get("progress_log")
    log = log if log is not None else pd.DataFrame(columns=["compound_id", "date", "stage"])
    day = _status_day(log, as_of)
    dates = _snapshot_dates(log["date"], day)
    hist = _stage_history(comp, log, dates)
    order = stage_order()
    now = hist[:, -1]
    stage = [_v("stage", order[k], lang) if k >= 0 else _t("no_record", lang) for k in now]
    props = _compound_props(comp)
    table = pd.DataFrame({
        "compound_id": props["compound_id"].astype(str), "name": props["name"],
        "county": props["county"], "district": props["district"],
        "households": pd.to_numeric(props["households"], errors="coerce"), "stage": stage})
    columns = [{"key": c, "label": _t(c, lang), "numeric": c == "households"}
               for c in table.columns]
    rows = [list(r) for r in zip(*(_column_values(table[c]) for c in table.columns),
                                 strict=True)]
    return columns, rows, [d.isoformat() for d in dates] if len(log) else []


def _atlas_views(source: MapSource, opts: MapOptions, as_of: str | dt.date | None
                 ) -> list[dict[str, str]]:
    """Each theme's page, gzipped and base64-coded; themes without their data are left out."""
    views = []
    for kind in KINDS:
        kind_options: dict[str, Any] = {"as_of": as_of} if kind == "progress" else {}
        try:
            m = make_map(source, kind, options=opts, **kind_options)  # type: ignore[arg-type]
        except InputError:
            if kind == "progress":
                raise
            continue
        page = render_html(m)
        blob = base64.b64encode(gzip.compress(page.encode("utf-8"), 6, mtime=0)).decode()
        views.append({"kind": kind, "label": _t(f"{kind}_title", opts.lang), "data": blob})
    return views


def atlas_html(source: MapSource, *, as_of: str | dt.date | None = None,
               options: MapOptions | None = None, **overrides: Any) -> str:
    """Return the "一张图" atlas: the four themes on one self-contained page.

    The themes (progress, gaps, bundles, utilities; a theme whose layers are missing is
    left out) are switchable views sharing one search box and one time slider, next to a
    compound table linked to the map: filter or sort the table and the map shows the
    rows kept and fits to them; click a row and the map zooms to the compound; click a
    compound on the map and its row is selected. Each view is a gisplan map page, kept
    gzipped in the atlas and opened in a frame when first shown.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
    as_of : str or datetime.date, optional
        Status date of the progress view and the table (``None``: latest report).
    options, **overrides
        As for :func:`progress_map`.

    Returns
    -------
    str
        The page (HTML).

    Examples
    --------
    >>> page = atlas_html("layers/guyuan_2022.gpkg")
    >>> page.count('"kind":'), "gp-atlas-table" in page
    (4, True)
    """
    opts = _options(options, overrides)
    frames = _frames(source)
    lang = opts.lang
    columns, rows, dates = _atlas_rows(frames, lang, as_of)
    views = _atlas_views(source, opts, as_of)
    name = frames.meta.get("name") if lang == "zh" else (
        frames.meta.get("name_en") or frames.meta.get("name"))
    title = opts.title or " · ".join(str(x) for x in (name, _t("atlas_title", lang)) if x)
    config = {"views": views, "columns": columns, "rows": rows, "dates": dates,
              "maxRows": ATLAS_MAX_ROWS,
              "text": {"filter": _t("filter_table", lang), "search": _t("search_all", lang),
                       "time": _t("time", lang)}}
    body = json.dumps(config, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    page = (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
            '<meta charset="utf-8"><meta name="viewport" content="width=device-width, '
            f'initial-scale=1"><title>{html.escape(title)}</title>'
            f"{_assets.inline_style(_assets.atlas_css())}</head><body>"
            f'<div id="gp-atlas-bar"><h1>{html.escape(title)}</h1>'
            '<div id="gp-atlas-tabs" role="tablist"></div><div id="gp-atlas-tools"></div></div>'
            '<div id="gp-atlas-main"><div id="gp-atlas-maps"></div>'
            '<div id="gp-atlas-table"></div></div>'
            f'<div class="gp-atlas-credits">{html.escape(_credits(frames, _Ctx(opts, False)))}'
            "</div>"
            f'<script type="application/json" id="gp-atlas-config">{_safe_json(body)}</script>'
            f"{_assets.inline_script(_assets.atlas_js())}</body></html>")
    if opts.embed_font:
        page, _ = _assets.embed_cjk_font(page)
    _assets.assert_self_contained(page, where="atlas")
    return page


def save_atlas(source: MapSource, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write :func:`atlas_html` to *path* (atomically) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(atlas_html(source, **options), encoding="utf-8")
    tmp.replace(out)
    return out


#: layer data larger than this (characters) goes into the page gzipped (base64), and is
#: unpacked by the browser's DecompressionStream before the map is built
PACK_ABOVE = 1_000_000


def _with_data(page: str, payloads: Sequence[str]) -> str:
    """Put the layers' data into *page* and build the map once the data is there.

    Small data is one inline JSON array; larger data is gzipped and base64-coded
    (:data:`PACK_ABOVE`). The map script (folium's last ``<script>``) runs inside
    ``gisplan.whenData``.
    """
    at = page.rfind("<script>")
    end = page.find("</script>", at)
    if at < 0 or end < 0 or "L.map(" not in page[at:end]:
        return page
    body = "[" + ",".join(payloads) + "]"
    if len(body) > PACK_ABOVE:
        blob = base64.b64encode(gzip.compress(body.encode("utf-8"), 6, mtime=0)).decode()
        data = f'<script>gisplan.setPacked("{blob}");</script>\n'
    else:
        data = f"<script>gisplan.setData({body});</script>\n"
    script = page[at + len("<script>"):end]
    return (page[:at] + data + "<script>gisplan.whenData(function () {" + script + "});"
            + page[end:])


def render_html(m: folium.Map, *, self_contained: bool = True) -> str:
    """Return the page of *m*; with *self_contained*, check it fetches nothing remote."""
    page = m.get_root().render()
    payloads: list[str] = getattr(m, "payloads", [])
    if getattr(m, "embed_font", False):
        page, embedded = _assets.embed_cjk_font(page, extra="".join(payloads))
        m.font_embedded = embedded  # type: ignore[attr-defined]
    page = _with_data(page, payloads)
    if self_contained:
        _assets.assert_self_contained(page)
    return page


def save_map(m: folium.Map, path: str | os.PathLike[str], *,
             self_contained: bool = True) -> Path:
    """Write *m* to one HTML file (atomically) and return its path.

    Parameters
    ----------
    m : folium.Map
        A map from this module.
    path : str or os.PathLike
        Output file; parent folders are created.
    self_contained : bool
        Refuse to write a page that would load a script or stylesheet from the network.

    Returns
    -------
    pathlib.Path
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(m, self_contained=self_contained)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
