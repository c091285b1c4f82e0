"""Synthetic cities: compounds, districts, utilities, facilities, roads and gates.

A synthetic city is laid out as a street grid with a little jitter. Every few grid lines a
street is an arterial (主干路) or secondary road (次干路); the others are local streets
(支路). Blocks between streets are subdivided into one to four compounds (小区):
rectangles with small setbacks, so that some compounds in a block touch and some are a
few metres apart, compounds across a local street are about 12–20 m apart, and compounds
across an arterial are more than 35 m apart. The cells between arterials are the 片区;
groups of 片区 form 街道, groups of 街道 form 县区.

Everything is generated with numpy arrays and shapely 2 vectorised constructors (no Python
loop over compounds, roads or facilities), in a local transverse Mercator plane in metres
centred on ``center``, and returned in EPSG:4326. The same seed gives the same city.

Examples
--------
>>> from gisplan.synth import synth_city, synth_streets
>>> city = synth_city(compounds=500, seed=1)
>>> sorted(city)
['compounds', 'districts', 'facilities', 'gates', 'roads', 'utilities']
>>> len(city["compounds"])
500
>>> roads = synth_streets(nodes=400, seed=1)
>>> roads.crs.to_epsg()
4326
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gisplan._errors import ConstraintError
from gisplan.schema import PANDAS_DTYPES, layer_schema, vocab

__all__ = [
    "DEFAULT_CENTER",
    "DEFAULT_OWNERS",
    "NATIONAL_YEAR",
    "PROVINCE_CAPITALS",
    "NationalCity",
    "StreetGrid",
    "national_cities",
    "national_city_meta",
    "street_grid",
    "synth_city",
    "synth_national_city",
    "synth_planned_items",
    "synth_streets",
    "to_frame",
    "to_geoframe",
]

#: Default place: the old town of 原州区, 固原市 (Guyuan), lon/lat.
DEFAULT_CENTER: tuple[float, float] = (106.2805, 36.0045)

#: Default owners per utility network (synthetic, generic city companies).
DEFAULT_OWNERS: dict[str, tuple[str, ...]] = {
    "water_supply": ("市自来水公司",),
    "drainage": ("市排水公司",),
    "power": ("国网市供电公司",),
    "gas": ("市燃气公司",),
    "heating": ("市热力公司",),
    "telecom": ("中国电信", "中国移动", "中国联通", "广电网络"),
}

# street half-widths (centre line to kerb) by road class, metres
_HALF_WIDTH_M = {"arterial": 15.0, "secondary": 10.0, "local": 4.0}
_MAX_JITTER_M = 6.0  # <= local half-width + smallest setback: compounds stay in their cell
_SETBACK_M = (2.0, 6.0)  # compound wall behind the kerb, metres (uniform range)
_MEAN_PER_BLOCK = 2.35  # expected compounds per block for p = (.25, .35, .2, .2)
_SQM_PER_HOUSEHOLD = 70.0
_MEAN_FAR = 1.25  # floor area ratio of 1980s–1990s walk-ups

_STEMS = np.array([
    "幸福", "和平", "建设", "光明", "人民", "解放", "朝阳", "文化", "新华", "东风",
    "团结", "胜利", "红旗", "春晖", "育才", "金桥", "锦绣", "丽景", "翠苑", "康乐",
    "安居", "富民", "兴华", "长安", "振兴", "友谊", "青年", "工人", "铁路", "粮食",
    "电力", "水利", "税务", "邮电", "教师", "医院", "纺织", "机械", "棉纺", "化肥",
    "食品", "商业", "交通", "农机", "物资", "永安", "向阳", "东关", "西关", "南关",
    "北关", "新村", "滨河", "园林", "银河", "汇丰", "金穗", "民主", "红星", "前进",
    "卫生", "五一", "八一", "北京", "中山", "黄河", "长江", "清华", "华山", "泰山",
    "凤凰", "牡丹", "紫荆", "梧桐", "杨柳", "松柏", "桂花", "玉兰", "海棠",
])
_COMPOUND_SUFFIX = np.array(["小区", "家属院", "新村", "花园", "苑", "家园", "宿舍区", "公寓"])
_NUMERALS = np.array(["", "二区", "三区", "四区", "五区", "六区", "七区", "八区", "九区"])

# facilities per compound (expected count) and capacity range, by type
_FACILITY_RATE: dict[str, float] = {
    "kindergarten": 0.08,
    "nursery": 0.04,
    "community_service": 0.06,
    "elderly_daycare": 0.05,
    "health_station": 0.05,
    "convenience_store": 0.30,
    "waste_collection": 0.80,
    "bus_stop": 0.15,
    "primary_school": 0.03,
    "market": 0.03,
    "middle_school": 0.015,
    "health_centre": 0.01,
    "sports_ground": 0.02,
    "parcel_locker": 0.25,
    "ev_charging": 0.15,
}
_FACILITY_CAPACITY: dict[str, tuple[float, float]] = {
    "kindergarten": (90, 360),  # seats 学位
    "nursery": (20, 90),  # places 托位
    "elderly_daycare": (10, 40),  # beds 床位
    "primary_school": (540, 1620),
    "middle_school": (600, 1500),
    "health_centre": (20, 60),  # beds
}

# Huai'an inspection: items designs most often left out (see data/design_completeness.csv)
_OFTEN_MISSING = (
    "waste_sorting",
    "elderly_care",
    "childcare",
    "parcel_lockers",
    "security",
    "fire_safety",
    "power",
    "water_supply",
    "gas",
    "telecom",
)
_OPTIONAL_ITEMS = ("lifts", "parking", "energy_retrofit", "ev_charging", "canteen", "kindergarten")


# ------------------------------------------------------------------ the grid


@dataclass(frozen=True)
class StreetGrid:
    """A jittered street grid in a local metric plane (metres, origin at the centre).

    Attributes
    ----------
    x, y : numpy.ndarray
        Node coordinates, shape ``(ny, nx)``; node ``(j, i)`` has id ``j * nx + i``.
    x_nominal, y_nominal : numpy.ndarray
        Grid line positions before jitter, shapes ``(nx,)`` and ``(ny,)``.
    col_class, row_class : numpy.ndarray
        Road class of each vertical (column) and horizontal (row) grid line.
    arterial_every : int
        Every ``arterial_every``-th grid line is an arterial or secondary road.
    center : tuple of float
        Longitude and latitude of the local origin.
    """

    x: np.ndarray
    y: np.ndarray
    x_nominal: np.ndarray
    y_nominal: np.ndarray
    col_class: np.ndarray
    row_class: np.ndarray
    arterial_every: int
    center: tuple[float, float]

    @property
    def nx(self) -> int:
        """Number of grid columns (vertical streets)."""
        return int(self.x.shape[1])

    @property
    def ny(self) -> int:
        """Number of grid rows (horizontal streets)."""
        return int(self.x.shape[0])

    def edges(self) -> dict[str, np.ndarray]:
        """Return every street edge between neighbouring intersections.

        Returns
        -------
        dict of numpy.ndarray
            ``u``, ``v`` (node ids), ``horizontal`` (bool), ``line`` (grid line index: the
            row of a horizontal edge, the column of a vertical one), ``pos`` (position
            along the line) and ``road_class``.
        """
        nx, ny = self.nx, self.ny
        jj, ii = np.meshgrid(np.arange(ny), np.arange(nx - 1), indexing="ij")
        h_u = (jj * nx + ii).ravel()
        h_line, h_pos = jj.ravel(), ii.ravel()
        jj, ii = np.meshgrid(np.arange(ny - 1), np.arange(nx), indexing="ij")
        v_u = (jj * nx + ii).ravel()
        v_line, v_pos = ii.ravel(), jj.ravel()
        horizontal = np.r_[np.ones(h_u.size, bool), np.zeros(v_u.size, bool)]
        line = np.r_[h_line, v_line]
        classes, codes = np.unique(np.r_[self.row_class, self.col_class], return_inverse=True)
        row_code, col_code = codes[: self.ny], codes[self.ny :]
        road_class = classes.astype(object)[np.where(horizontal, row_code[line], col_code[line])]
        return {
            "u": np.r_[h_u, v_u],
            "v": np.r_[h_u + 1, v_u + nx],
            "horizontal": horizontal,
            "line": line,
            "pos": np.r_[h_pos, v_pos],
            "road_class": road_class,
        }

    def node_xy(self) -> np.ndarray:
        """Return node coordinates as an ``(n, 2)`` array indexed by node id."""
        return np.column_stack([self.x.ravel(), self.y.ravel()])

    def transformer(self) -> pyproj.Transformer:
        """Return the transformer from the local metric plane to EPSG:4326."""
        return _local_to_wgs84(self.center)


def _line_classes(n: int, every: int) -> np.ndarray:
    idx = np.arange(n)
    return np.where(
        idx % every == 0,
        np.where((idx // every) % 2 == 0, "arterial", "secondary"),
        "local",
    )


def street_grid(
    *,
    nx: int,
    ny: int,
    block_m: tuple[float, float] = (220.0, 170.0),
    jitter_m: float = 3.0,
    arterial_every: int = 4,
    center: tuple[float, float] = DEFAULT_CENTER,
    rng: np.random.Generator | int = 0,
) -> StreetGrid:
    """Lay out a jittered street grid (the numeric core of :func:`synth_streets`).

    Parameters
    ----------
    nx, ny : int
        Number of vertical and horizontal grid lines (at least 2 each).
    block_m : (float, float), default (220, 170)
        Street spacing (centre line to centre line) in x and y, metres.
    jitter_m : float, default 3
        Standard deviation of the node jitter, metres (clipped to ±6 m).
    arterial_every : int, default 4
        Every ``arterial_every``-th grid line is an arterial or secondary road.
    center : (float, float)
        Longitude and latitude of the grid centre.
    rng : numpy.random.Generator or int
        Random generator or seed.

    Returns
    -------
    StreetGrid
    """
    if nx < 2 or ny < 2:
        raise ConstraintError(f"a street grid needs at least 2 x 2 nodes, got {nx} x {ny}")
    if arterial_every < 2:
        raise ConstraintError(f"arterial_every must be at least 2, got {arterial_every}")
    rng = np.random.default_rng(rng)
    bx, by = block_m
    xn = (np.arange(nx) - (nx - 1) / 2) * bx
    yn = (np.arange(ny) - (ny - 1) / 2) * by
    jit = np.clip(rng.normal(0.0, jitter_m, size=(2, ny, nx)), -_MAX_JITTER_M, _MAX_JITTER_M)
    x = xn[None, :] + jit[0]
    y = yn[:, None] + jit[1]
    return StreetGrid(
        x=x,
        y=y,
        x_nominal=xn,
        y_nominal=yn,
        col_class=_line_classes(nx, arterial_every),
        row_class=_line_classes(ny, arterial_every),
        arterial_every=arterial_every,
        center=center,
    )


def _local_to_wgs84(center: tuple[float, float]) -> pyproj.Transformer:
    lon, lat = center
    local = pyproj.CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat} +lon_0={lon} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m"
    )
    return pyproj.Transformer.from_crs(local, "EPSG:4326", always_xy=True)


def _to_wgs84(geoms: np.ndarray, tr: pyproj.Transformer) -> np.ndarray:
    def f(xy: np.ndarray) -> np.ndarray:
        lon, lat = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, f)


def _lonlat(xy: np.ndarray, tr: pyproj.Transformer) -> np.ndarray:
    """Transform an ``(..., 2)`` array of local metres to lon/lat (same shape)."""
    flat = xy.reshape(-1, 2)
    lon, lat = tr.transform(flat[:, 0], flat[:, 1])
    return np.column_stack([lon, lat]).reshape(xy.shape)


def _boxes(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray,
           tr: pyproj.Transformer) -> np.ndarray:
    """Rectangles in local metres as lon/lat polygons (corners transformed)."""
    ring = np.stack([np.column_stack(c) for c in
                     ((x1, y0), (x1, y1), (x0, y1), (x0, y0), (x1, y0))], axis=1)
    return np.asarray(shapely.polygons(_lonlat(ring, tr)))


def _points(x: np.ndarray, y: np.ndarray, tr: pyproj.Transformer) -> np.ndarray:
    return np.asarray(shapely.points(_lonlat(np.column_stack([x, y]), tr)))


def _ids(prefix: str, n: int, start: int = 1) -> np.ndarray:
    width = max(len(str(start + n - 1)), 4)
    nums = np.strings.zfill(np.arange(start, start + n).astype(str), width)
    return np.strings.add(prefix, nums).astype(object)


def _names(rng: np.random.Generator, n: int, suffixes: np.ndarray) -> np.ndarray:
    """Chinese place names stem + suffix; repeats get 二区, 三区, ... or a number."""
    stem = _STEMS[rng.integers(0, _STEMS.size, n)]
    base = pd.Series(np.strings.add(stem, suffixes[rng.integers(0, suffixes.size, n)]))
    dup = np.asarray(base.groupby(base).cumcount(), dtype=np.int64)
    numbered = np.strings.add((dup + 1).astype(np.str_), "区")
    tail: np.ndarray = np.where(dup < _NUMERALS.size,
                                _NUMERALS[np.minimum(dup, _NUMERALS.size - 1)], numbered)
    return np.strings.add(np.asarray(base, dtype=np.str_), tail).astype(object)


def _road_names(grid: StreetGrid) -> tuple[np.ndarray, np.ndarray]:
    """Names of the vertical and horizontal grid lines (路 for arterials, 街/巷 otherwise)."""

    def names(classes: np.ndarray, offset: int, direction: str) -> np.ndarray:
        stems = _STEMS[(np.arange(classes.size) * 7 + offset) % _STEMS.size]
        suffix = np.where(classes == "arterial", direction + "路",
                          np.where(classes == "secondary", "路", np.where(
                              np.arange(classes.size) % 2 == 0, "街", "巷")))
        return np.char.add(stems, suffix)

    return names(grid.col_class, 3, "南北"), names(grid.row_class, 11, "东西")


def to_frame(data: Mapping[str, Any], layer: str) -> pd.DataFrame:
    """Return *data* as a frame with the canonical columns and dtypes of *layer*.

    Missing schema columns are added empty (``flags`` as empty text); extra columns are
    kept after the canonical ones.
    """
    sch = layer_schema(layer)
    n = len(next(iter(data.values()))) if data else 0
    cols: dict[str, Any] = {}
    for c in sch.columns:
        if c.name in data:
            v = data[c.name]
            if c.dtype == "str":
                cols[c.name] = pd.Series(np.asarray(v, dtype=object), dtype=object)
            else:
                cols[c.name] = pd.Series(v).astype(PANDAS_DTYPES[c.dtype])  # type: ignore[call-overload]
        elif c.name == "flags":
            cols[c.name] = pd.Series([""] * n, dtype=object)
        else:
            cols[c.name] = pd.Series([None] * n, dtype=PANDAS_DTYPES[c.dtype])
    for k, v in data.items():
        if k not in cols:
            arr = np.asarray(v)
            cols[k] = pd.Series(arr, dtype=object if arr.dtype.kind in "OUS" else None)
    return pd.DataFrame(cols)


def to_geoframe(data: Mapping[str, Any], layer: str, geometry: Any,
                crs: Any = "EPSG:4326") -> gpd.GeoDataFrame:
    """Return *data* with *geometry* as a GeoDataFrame in the canonical form of *layer*."""
    return gpd.GeoDataFrame(to_frame(data, layer), geometry=np.asarray(geometry), crs=crs)


# ------------------------------------------------------------------ streets


def _roads_frame(grid: StreetGrid) -> gpd.GeoDataFrame:
    e = grid.edges()
    xy = _lonlat(grid.node_xy(), grid.transformer())
    geoms = shapely.linestrings(np.stack([xy[e["u"]], xy[e["v"]]], axis=1))
    col_names, row_names = _road_names(grid)
    all_names = np.r_[row_names, col_names].astype(object)
    name = all_names[np.where(e["horizontal"], e["line"], e["line"] + row_names.size)]
    n = e["u"].size
    return to_geoframe(
        {
            "road_id": _ids("R", n),
            "name": name,
            "road_class": e["road_class"],
            "walkable": np.ones(n, dtype=bool),
            "from_node": e["u"],
            "to_node": e["v"],
        },
        "roads",
        geoms,
    )


def synth_streets(
    *,
    nodes: int = 10_000,
    center: tuple[float, float] = DEFAULT_CENTER,
    block_m: tuple[float, float] = (220.0, 170.0),
    jitter_m: float = 3.0,
    arterial_every: int = 4,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Generate a walkable street network: a jittered grid split at every intersection.

    Parameters
    ----------
    nodes : int, default 10000
        About this many intersections (a square grid of ``round(sqrt(nodes))`` lines
        each way).
    center : (float, float)
        Longitude and latitude of the centre.
    block_m : (float, float), default (220, 170)
        Street spacing in x and y, metres.
    jitter_m : float, default 3
        Node jitter (standard deviation), metres.
    arterial_every : int, default 4
        Every ``arterial_every``-th street is an arterial (主干路) or secondary road
        (次干路); the others are local streets (支路).
    seed : int, default 0
        Random seed; the same seed gives the same network.

    Returns
    -------
    geopandas.GeoDataFrame
        Layer ``roads`` (EPSG:4326): one two-point LineString per edge, so the network is
        noded at every intersection and connected; ``from_node``/``to_node`` give the
        intersection ids.
    """
    side = max(2, round(math.sqrt(nodes)))
    grid = street_grid(nx=side, ny=side, block_m=block_m, jitter_m=jitter_m,
                       arterial_every=arterial_every, center=center, rng=seed)
    return _roads_frame(grid)


# ------------------------------------------------------------------ compounds

# sub-rectangles of a block in unit coordinates; -1 = split fraction fx, -2 = fy
_PATTERNS: dict[int, np.ndarray] = {
    1: np.array([[0, 0, 1, 1]], float),
    2: np.array([[0, 0, -1, 1], [-1, 0, 1, 1]], float),
    3: np.array([[0, 0, -1, 1], [-1, 0, 1, -2], [-1, -2, 1, 1]], float),
    4: np.array([[0, 0, -1, -2], [-1, 0, 1, -2], [0, -2, -1, 1], [-1, -2, 1, 1]], float),
}


@dataclass(frozen=True)
class _Blocks:
    bi: np.ndarray  # block column
    bj: np.ndarray  # block row
    x0: np.ndarray  # inner box (street kerbs + setbacks), metres
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray


def _inner_boxes(grid: StreetGrid, bi: np.ndarray, bj: np.ndarray,
                 rng: np.random.Generator,
                 setback_m: tuple[float, float] = _SETBACK_M) -> _Blocks:
    hw_col = np.vectorize(_HALF_WIDTH_M.__getitem__, otypes=[float])(grid.col_class)
    hw_row = np.vectorize(_HALF_WIDTH_M.__getitem__, otypes=[float])(grid.row_class)
    sb = rng.uniform(setback_m[0], setback_m[1], size=(4, bi.size))
    x, y = grid.x, grid.y
    x0 = np.maximum(x[bj, bi], x[bj + 1, bi]) + hw_col[bi] + sb[0]
    x1 = np.minimum(x[bj, bi + 1], x[bj + 1, bi + 1]) - hw_col[bi + 1] - sb[1]
    y0 = np.maximum(y[bj, bi], y[bj, bi + 1]) + hw_row[bj] + sb[2]
    y1 = np.minimum(y[bj + 1, bi], y[bj + 1, bi + 1]) - hw_row[bj + 1] - sb[3]
    return _Blocks(bi, bj, x0, y0, x1, y1)


def _subdivide(blocks: _Blocks, k: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Split each block into ``k`` rectangles; returns per-compound arrays."""
    nb = k.size
    fx = rng.uniform(0.35, 0.65, nb)
    fy = rng.uniform(0.35, 0.65, nb)
    gap = np.where(rng.random(nb) < 0.5, 0.0, rng.uniform(2.0, 8.0, nb))
    w = blocks.x1 - blocks.x0
    h = blocks.y1 - blocks.y0
    transpose = (h > w) & (rng.random(nb) < 0.8)
    parts_b, parts_u = [], []
    for kk, pat in _PATTERNS.items():  # four patterns, not a loop over compounds
        sel = np.flatnonzero(k == kk)
        if sel.size == 0:
            continue
        b = np.repeat(sel, kk)
        u = np.tile(pat, (sel.size, 1))
        u = np.where(u == -1, fx[b, None], np.where(u == -2, fy[b, None], u))
        parts_b.append(b)
        parts_u.append(u)
    b = np.concatenate(parts_b)
    u = np.concatenate(parts_u)
    order = np.argsort(b, kind="stable")
    b, u = b[order], u[order]
    t = transpose[b]
    ux0 = np.where(t, u[:, 1], u[:, 0])
    uy0 = np.where(t, u[:, 0], u[:, 1])
    ux1 = np.where(t, u[:, 3], u[:, 2])
    uy1 = np.where(t, u[:, 2], u[:, 3])
    g = gap[b] / 2
    x0 = blocks.x0[b] + ux0 * w[b] + (ux0 > 0) * g
    x1 = blocks.x0[b] + ux1 * w[b] - (ux1 < 1) * g
    y0 = blocks.y0[b] + uy0 * h[b] + (uy0 > 0) * g
    y1 = blocks.y0[b] + uy1 * h[b] - (uy1 < 1) * g
    # which sides face a street (left, right, bottom, top)
    facing = np.column_stack([ux0 == 0, ux1 == 1, uy0 == 0, uy1 == 1])
    return {"block": b, "x0": x0, "y0": y0, "x1": x1, "y1": y1, "facing": facing}


def _bitmask_strings(mask: np.ndarray, keys: Sequence[str]) -> np.ndarray:
    """Join the keys selected by each row of a boolean matrix with ``;``.

    Strings are built once per distinct row pattern, not once per row.
    """
    if mask.shape[0] == 0:
        return np.array([], dtype=object)
    if mask.shape[1] > 63:
        raise ValueError("at most 63 keys")
    code = mask.astype(np.uint64) @ (np.uint64(1) << np.arange(mask.shape[1], dtype=np.uint64))
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    keys_arr = np.asarray(keys, dtype=object)
    texts = np.array([";".join(keys_arr[mask[i]]) for i in first], dtype=object)
    return texts[inverse.ravel()]


def synth_planned_items(categories: np.ndarray, rng: np.random.Generator,
                        missing_share: float) -> np.ndarray:
    """Return ``;``-separated ``vocab.item`` keys planned for each compound.

    Parameters
    ----------
    categories : numpy.ndarray of bool, shape (n, 3)
        Which of basic, improvement, upgrade each compound gets.
    rng : numpy.random.Generator
        Random generator.
    missing_share : float
        Share of compounds whose design leaves out some of the items the Huai'an
        inspection found missing (waste sorting, elderly/child care rooms, parcel
        lockers, security, fire safety, power, water, gas, telecom).

    Returns
    -------
    numpy.ndarray of str (object)
    """
    items = vocab("item")
    keys = list(items)
    cat_of = np.array([items[k].extra["category"] for k in keys])
    n = categories.shape[0]
    # categories: (n, 3) bool for basic, improvement, upgrade
    cat_idx = {"basic": 0, "improvement": 1, "upgrade": 2}
    allowed = np.asarray(categories, dtype=bool)[:, [cat_idx[c] for c in cat_of]]
    optional = np.isin(keys, _OPTIONAL_ITEMS)
    include = allowed & (~optional | (rng.random((n, len(keys))) < 0.3))
    # designs with gaps: a share of compounds miss one or more of the required items
    gappy = np.less(rng.random(n), missing_share)
    often = np.isin(keys, _OFTEN_MISSING)
    drop = gappy[:, None] & often[None, :] & (rng.random((n, len(keys))) < 0.35)
    # the upgrade items elderly_care / childcare are required of 提升类 only; basic
    # compounds that should have them (Huai'an) are handled by design.py
    return _bitmask_strings(include & ~drop, keys)


def _check_block_plan(block_plan: Sequence[Sequence[int]] | None, compounds: int,
                      every: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Return ``(compounds per block, blocks per 片区)`` of a block plan, checked."""
    if block_plan is None:
        return None
    sizes = np.array([len(p) for p in block_plan], dtype=np.int64)
    k = np.array([int(c) for p in block_plan for c in p], dtype=np.int64)
    if sizes.size == 0 or (sizes < 1).any():
        raise ConstraintError("block_plan needs at least one block in every 片区")
    if (sizes > every**2).any():
        raise ConstraintError(
            f"block_plan puts {int(sizes.max())} blocks in one 片区, but a 片区 has only "
            f"{every**2} ({every} x {every}); raise arterial_every or split the 片区"
        )
    if ((k < 1) | (k > 4)).any():
        raise ConstraintError(f"block_plan: compounds per block must be 1–4, got {k.tolist()}")
    if int(k.sum()) != compounds:
        raise ConstraintError(
            f"block_plan holds {int(k.sum())} compounds but compounds={compounds}"
        )
    return k, sizes


def _position_in_run(values: np.ndarray) -> np.ndarray:
    """Position of each element inside its run of equal values (0, 1, 2, ...)."""
    start = np.r_[0, np.flatnonzero(values[1:] != values[:-1]) + 1]
    return np.arange(values.size) - np.repeat(start, np.diff(np.r_[start, values.size]))


def _contiguous_order(grid: StreetGrid, cx: np.ndarray, cy: np.ndarray,
                      plan: tuple[np.ndarray, np.ndarray] | None, k_all: np.ndarray,
                      fill: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Block order filling whole 片区 cells, nearest the centre first.

    Returns the block order and the compounds per block in that order. Cells are the
    whole ``every x every`` cells of the grid, ranked by the distance of their centre
    from the origin (ties: south to north, west to east); the blocks of a cell by
    distance from the origin, so the first blocks of a cell form a compact, connected
    patch. With a plan, 片区 *p* takes the first ``sizes[p]`` blocks of the *p*-th cell
    and the blocks not used follow, nearest first (facilities go there). Without one,
    ``fill < 1`` leaves a random ``1 - fill`` of each cell's blocks to the end.
    """
    every = grid.arterial_every
    nbx = grid.nx - 1
    ncx, ncy = nbx // every, (grid.ny - 1) // every  # whole cells only
    bi, bj = np.arange(cx.size) % nbx, np.arange(cx.size) // nbx
    n_cells = ncx * ncy
    if plan is not None and n_cells < plan[1].size:
        raise ConstraintError(
            f"the street grid has {n_cells} whole 片区 cells, block_plan needs "
            f"{plan[1].size}; leave road_nodes unset or raise it"
        )
    cell_x, cell_y = np.arange(n_cells) % max(ncx, 1), np.arange(n_cells) // max(ncx, 1)
    xn, yn = grid.x_nominal, grid.y_nominal
    dist_cell = np.hypot((xn[cell_x * every] + xn[(cell_x + 1) * every]) / 2,
                         (yn[cell_y * every] + yn[(cell_y + 1) * every]) / 2)
    cell_rank = np.empty(n_cells, dtype=np.int64)
    cell_rank[np.lexsort((cell_x, cell_y, np.round(dist_cell, 6)))] = np.arange(n_cells)
    whole = (bi // every < ncx) & (bj // every < ncy)
    rank = np.full(cx.size, n_cells, dtype=np.int64)  # blocks of partial cells last
    rank[whole] = cell_rank[(bj // every * ncx + bi // every)[whole]]
    order = np.lexsort((bi, bj, np.round(np.hypot(cx, cy), 6), rank))
    if plan is None and fill >= 1.0:
        return order, k_all
    if plan is None:
        by_lot = np.lexsort((rng.random(cx.size), rank))  # a random draw inside each cell
        empty = np.zeros(cx.size, dtype=bool)
        empty[by_lot] = _position_in_run(rank[by_lot]) >= max(1, round(fill * every**2))
        empty &= rank < n_cells
        return np.r_[order[~empty[order]], order[empty[order]]], k_all
    k, sizes = plan
    r = rank[order]
    pos = _position_in_run(r)
    take = (r < sizes.size) & (pos < sizes[np.minimum(r, sizes.size - 1)])
    rest = order[~take]
    rest = rest[np.argsort(np.hypot(cx[rest], cy[rest]), kind="stable")]
    return np.r_[order[take], rest], np.r_[k, k_all[: rest.size]]


def synth_city(
    *,
    compounds: int,
    seed: int = 0,
    center: tuple[float, float] = DEFAULT_CENTER,
    road_nodes: int | None = None,
    facility_types: int | Sequence[str] = 15,
    districts_per_county: int = 6,
    pianqu_per_street: int = 4,
    arterial_every: int = 4,
    mean_households: float = 250.0,
    jitter_m: float = 3.0,
    missing_items_share: float = 0.3,
    owners: Mapping[str, Sequence[str]] | None = None,
    county_names: Sequence[str] | None = None,
    prefix: str = "",
    layout: str = "ragged",
    block_plan: Sequence[Sequence[int]] | None = None,
    setback_m: tuple[float, float] = _SETBACK_M,
    block_fill: float = 1.0,
    courtyard_pipes: bool = False,
    pipe_segment_m: float | None = None,
    facility_density: float = 1.0,
) -> dict[str, gpd.GeoDataFrame]:
    """Generate a synthetic city with the canonical layers of a programme store.

    Parameters
    ----------
    compounds : int
        Number of compounds (小区).
    seed : int, default 0
        Random seed; the same arguments give the same layers.
    center : (float, float)
        Longitude and latitude of the old-town centre (default: 原州区, Guyuan).
    road_nodes : int, optional
        Number of street intersections. By default the grid just covers the compounds
        with a margin; a larger value extends the street network beyond the old town
        (the benchmarks use 1,000,000).
    facility_types : int or sequence of str, default 15
        The first *n* facility types of ``vocab.facility_type``, or the types to place.
    districts_per_county : int, default 6
        Streets (街道) per county (县区), laid out as a near-square grid.
    pianqu_per_street : int, default 4
        片区 (cells between arterials) per street (街道).
    arterial_every : int, default 4
        Blocks between arterial or secondary roads (片区 edge length in blocks).
    mean_households : float, default 250
        Target mean households per compound; sets the block size.
    jitter_m : float, default 3
        Street-node jitter, metres.
    missing_items_share : float, default 0.3
        Share of compounds whose ``planned_items`` miss some required items (the gaps
        the Huai'an inspection found).
    owners : mapping of network to owner names, optional
        Utility owners by network (``vocab.network`` keys); defaults to
        :data:`DEFAULT_OWNERS`.
    county_names : sequence of str, optional
        Names for the counties, in order; default 合成一区, 合成二区, ...
    prefix : str, default ""
        Prefix for every id (e.g. ``"XC-"``), so that several cities can be combined.
    layout : {"ragged", "contiguous"}, default "ragged"
        ``"ragged"``: the compound blocks are the blocks nearest the centre with a
        random, ragged edge, so a 片区 may hold scattered blocks. ``"contiguous"``: whole
        片区 (cells between arterial/secondary roads) are filled one after the other,
        nearest the centre first, and inside a 片区 the blocks nearest the centre first,
        so the blocks of a 片区 are neighbours across local streets (支路) and the roads
        between 片区 are arterial or secondary: the layout of an old town renovated
        片区 by 片区 (连片改造).
    block_plan : sequence of sequences of int, optional
        Compounds per block (1–4) for each 片区, e.g. ``[[1, 1, 1], [4, 3, 4, 3]]``: 片区
        *p* gets ``len(block_plan[p])`` neighbouring blocks of one cell. Implies
        ``layout="contiguous"``; ``compounds`` must equal the sum. Compounds are returned
        片区 by 片区 in plan order. Cells are taken nearest the centre first (ties: south
        before north, then west before east); with the default grid the centre is an
        arterial crossing, so the first four 片区 are its SW, SE, NW and NE quadrants.
    block_fill : float, default 1
        With ``layout="contiguous"`` and no ``block_plan``: share of each 片区's blocks
        that hold compounds (at random); the others are left to newer estates, schools
        and shops, so a few compounds end up without a neighbour, as in a real programme.
    setback_m : (float, float), default (2, 6)
        Range of the compound wall's distance behind the kerb, metres. Compounds across
        a local street (8 m carriageway) are ``8 + two setbacks`` (plus node jitter) apart.
    courtyard_pipes : bool, default False
        Also lay each compound's own pipes (庭院管网, what a renovation replaces): one
        line per network from the street across the compound, from a side facing a
        street.
    pipe_segment_m : float, optional
        Cut every utility line into segments of at most this length (metres), as a
        utility's GIS records pipes between manholes, valves and joints (the national
        programme uses 50 m). By default lines are whole trunk pieces and service lines.
    facility_density : float, default 1
        Multiplies the facility rates per compound (1: about 2 per compound before the
        片区 gaps).

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        ``compounds``, ``districts`` (levels pianqu, street, county), ``utilities``,
        ``facilities``, ``roads`` and ``gates``, in EPSG:4326, canonical columns.

    Raises
    ------
    ConstraintError
        If ``compounds`` < 1, ``road_nodes`` is too small to hold the compounds,
        ``block_fill`` is not in (0, 1], or ``block_plan`` does not fit (counts outside
        1–4, more blocks than a 片区 has, a sum other than ``compounds``).
    """
    plan, contiguous = _check_options(compounds, layout, block_plan, arterial_every,
                                      block_fill)
    rng = np.random.default_rng(seed)
    per_block, (bw, bh) = _block_size(compounds, plan, mean_households)
    nxn = _grid_nodes(compounds, compounds / per_block, road_nodes=road_nodes,
                      contiguous=contiguous, plan=plan, arterial_every=arterial_every,
                      block_fill=block_fill)
    grid = street_grid(nx=nxn, ny=nxn, block_m=(bw, bh), jitter_m=jitter_m,
                       arterial_every=arterial_every, center=center, rng=rng)
    blocks, sub, order, nsel = _old_town_blocks(
        grid, (bw, bh), compounds, rng, contiguous=contiguous, plan=plan,
        block_fill=block_fill, setback_m=setback_m)
    tr = grid.transformer()
    districts, units = _district_units(
        grid, blocks, sub, rng, tr, arterial_every=arterial_every,
        pianqu_per_street=pianqu_per_street, districts_per_county=districts_per_county,
        county_names=county_names, prefix=prefix)
    comp = _compound_frame(blocks, sub, units, rng, tr, prefix=prefix,
                           missing_items_share=missing_items_share)
    n = compounds
    roads = _roads_frame(grid)
    roads["road_id"] = prefix + roads["road_id"]
    utilities = _utilities(grid, blocks, sub, rng, tr, owners or DEFAULT_OWNERS, prefix,
                           courtyard=courtyard_pipes, segment_m=pipe_segment_m)
    facilities = _facilities(grid, blocks, order, nsel, facility_types, n, rng, tr,
                             pq_key=arterial_every, prefix=prefix, setback_m=setback_m,
                             density=facility_density)
    households = comp["households"].to_numpy(dtype=np.int64)
    cid = comp["compound_id"].to_numpy(dtype=object)
    gates = _gates(sub, households, cid, rng, tr, prefix)
    return {
        "compounds": comp,
        "districts": districts,
        "utilities": utilities,
        "facilities": facilities,
        "roads": roads,
        "gates": gates,
    }


# --------------------------------------------------------------- synth_city, step by step


def _check_options(compounds: int, layout: str, block_plan: Sequence[Sequence[int]] | None,
                   arterial_every: int, block_fill: float) -> tuple[Any, bool]:
    """Refuse contradictory options; return the checked block plan and contiguity."""
    if compounds < 1:
        raise ConstraintError(f"compounds must be at least 1, got {compounds}")
    if layout not in ("ragged", "contiguous"):
        raise ConstraintError(f"layout must be 'ragged' or 'contiguous', got {layout!r}")
    plan = _check_block_plan(block_plan, compounds, arterial_every)
    if not 0.0 < block_fill <= 1.0:
        raise ConstraintError(f"block_fill must be in (0, 1], got {block_fill}")
    return plan, layout == "contiguous" or plan is not None


def _block_size(compounds: int, plan: Any,
                mean_households: float) -> tuple[float, tuple[float, float]]:
    """Compounds per block, and block width and height (m) from the target households."""
    per_block = _MEAN_PER_BLOCK if plan is None else compounds / plan[0].size
    compound_m2 = mean_households * _SQM_PER_HOUSEHOLD / _MEAN_FAR
    inner_m2 = compound_m2 * per_block
    bw = max(60.0, math.sqrt(inner_m2 * 1.3) + 16.0)
    bh = max(50.0, math.sqrt(inner_m2 / 1.3) + 16.0)
    return per_block, (bw, bh)


def _grid_nodes(compounds: int, need_blocks: float, *, road_nodes: int | None,
                contiguous: bool, plan: Any, arterial_every: int, block_fill: float) -> int:
    """Street nodes per side of the square grid that holds *need_blocks* blocks."""
    if road_nodes is None and contiguous:
        # whole 片区 cells around an arterial crossing at the centre, one empty ring around
        per_cell = max(1, round(block_fill * arterial_every**2))
        cells = len(plan[1]) if plan is not None else math.ceil(need_blocks / per_cell)
        half = math.ceil(math.ceil(math.sqrt(cells)) / 2) + 1
        half += half % 2  # an even number of cells: the central crossing is arterial
        return 2 * half * arterial_every + 1
    if road_nodes is None:
        return math.ceil(math.sqrt(need_blocks / 0.55)) + 3 + 1
    nxn = max(2, round(math.sqrt(road_nodes)))
    if (nxn - 1) * (nxn - 1) < need_blocks * 1.3:
        raise ConstraintError(
            f"road_nodes={road_nodes} gives {(nxn - 1) * (nxn - 1)} blocks, too few for "
            f"{compounds} compounds (need about {math.ceil(need_blocks * 1.3)}); "
            "raise road_nodes or leave it unset"
        )
    return nxn


def _old_town_blocks(grid: Any, block_m: tuple[float, float], compounds: int,
                     rng: np.random.Generator, *, contiguous: bool, plan: Any,
                     block_fill: float, setback_m: tuple[float, float]) -> tuple[Any, Any,
                                                                                 np.ndarray, int]:
    """Choose the old-town blocks (closest to the centre, a ragged edge) and split them.

    Returns the blocks' inner boxes, the compounds' boxes (``_subdivide``), the order
    the blocks were taken in and how many were taken.
    """
    bw, bh = block_m
    nbx, nby = len(grid.x_nominal) - 1, len(grid.y_nominal) - 1
    bj_all, bi_all = np.divmod(np.arange(nbx * nby), nbx)
    cx = (grid.x_nominal[bi_all] + grid.x_nominal[bi_all + 1]) / 2
    cy = (grid.y_nominal[bj_all] + grid.y_nominal[bj_all + 1]) / 2
    score = np.hypot(cx / bw, cy / bh) + rng.normal(0.0, 0.8, cx.size)
    order = np.argsort(score, kind="stable")
    k_all = rng.choice([1, 2, 3, 4], size=order.size, p=[0.25, 0.35, 0.2, 0.2])
    if contiguous:
        order, k_all = _contiguous_order(grid, cx, cy, plan, k_all, block_fill, rng)
    cum = np.cumsum(k_all)
    nsel = int(np.searchsorted(cum, compounds) + 1)
    chosen = order[:nsel]
    k = k_all[:nsel].copy()
    k[-1] -= int(cum[nsel - 1] - compounds)
    blocks = _inner_boxes(grid, bi_all[chosen], bj_all[chosen], rng, setback_m)
    return blocks, _subdivide(blocks, k, rng), order, nsel


def _district_units(grid: Any, blocks: Any, sub: Any, rng: np.random.Generator, tr: Any, *,
                    arterial_every: int, pianqu_per_street: int, districts_per_county: int,
                    county_names: Sequence[str] | None,
                    prefix: str) -> tuple[gpd.GeoDataFrame, dict[str, np.ndarray]]:
    """片区 = arterial cells; streets and counties = groups of them.

    Returns the districts layer and, per compound, its ``district``, ``street`` and
    ``county`` names.
    """
    every = arterial_every
    bi, bj = blocks.bi[sub["block"]], blocks.bj[sub["block"]]
    pq_x, pq_y = bi // every, bj // every
    s_side_x = max(1, math.ceil(math.sqrt(pianqu_per_street)))
    s_side_y = max(1, math.ceil(pianqu_per_street / s_side_x))
    st_x, st_y = pq_x // s_side_x, pq_y // s_side_y
    c_side_x = max(1, math.ceil(math.sqrt(districts_per_county)))
    c_side_y = max(1, math.ceil(districts_per_county / c_side_x))
    co_x, co_y = st_x // c_side_x, st_y // c_side_y
    districts, keys = _districts(
        grid, pq_x, pq_y, (s_side_x, s_side_y), (c_side_x, c_side_y), rng, tr,
        county_names=county_names, prefix=prefix,
    )
    return districts, {
        "district": _lookup(keys["pianqu"], pq_x, pq_y),
        "street": _lookup(keys["street"], st_x, st_y),
        "county": _lookup(keys["county"], co_x, co_y),
    }


def _compound_frame(blocks: Any, sub: Any, units: Mapping[str, np.ndarray],
                    rng: np.random.Generator, tr: Any, *, prefix: str,
                    missing_items_share: float) -> gpd.GeoDataFrame:
    """Build the compounds layer: outlines, attributes correlated with area and age."""
    bi, bj = blocks.bi[sub["block"]], blocks.bj[sub["block"]]
    x0, y0, x1, y1 = sub["x0"], sub["y0"], sub["x1"], sub["y1"]
    n = len(x0)
    area = (x1 - x0) * (y1 - y0)
    far = rng.uniform(0.9, 1.6, n)
    floor_area = np.round(area * far, 0)
    households = np.maximum(1, np.round(floor_area / rng.uniform(55, 85, n))).astype(np.int64)
    buildings = np.maximum(1, np.round(floor_area / rng.uniform(1800, 3600, n))).astype(np.int64)
    dist = np.hypot((x0 + x1) / 2, (y0 + y1) / 2)
    rank = np.argsort(np.argsort(dist, kind="stable"), kind="stable") / max(n - 1, 1)
    era = rng.choice(3, size=n, p=[0.85, 0.11, 0.04])
    old = np.clip(np.round(1980 + 20 * rank + rng.normal(0, 4, n)), 1978, 2000)
    built_year = np.where(era == 0, old, np.where(era == 1, rng.integers(2001, 2006, n),
                                                  rng.integers(2006, 2016, n))).astype(np.int64)
    improvement = rng.random(n) < 0.45
    upgrade = improvement & (rng.random(n) < 0.15)
    cats = np.column_stack([np.ones(n, bool), improvement, upgrade])
    categories = _bitmask_strings(cats, ["basic", "improvement", "upgrade"])
    planned_items = synth_planned_items(cats, rng, missing_items_share)
    status = np.where(rng.random(n) < 0.01, "demolition", "planned").astype(object)
    prior = rng.random(n) < 0.02
    community_no = (bi // 2) * 7919 + (bj // 2) * 104729
    community = np.char.add(_STEMS[community_no % _STEMS.size], "社区")
    return to_geoframe(
        {
            "compound_id": _ids(prefix + "C", n),
            "name": _names(rng, n, _COMPOUND_SUFFIX),
            "county": units["county"],
            "street": units["street"],
            "community": community.astype(object),
            "district": units["district"],
            "built_year": built_year,
            "households": households,
            "buildings": buildings,
            "floor_area_m2": floor_area.astype(float),
            "categories": categories,
            "prior_central_funding": prior,
            "status": status,
            "planned_items": planned_items,
        },
        "compounds",
        _boxes(x0, y0, x1, y1, tr),
    )


def _lookup(names: pd.Series, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Names of the cells ``(x, y)`` from a Series indexed by (x, y)."""
    idx = names.index
    span = int(max(idx.get_level_values(0).max(), np.max(x, initial=0))) + 1
    key = pd.Index(idx.get_level_values(1).to_numpy() * span + idx.get_level_values(0).to_numpy())
    pos = key.get_indexer(np.asarray(y) * span + np.asarray(x))
    if (pos < 0).any():
        raise AssertionError("cell without a district")  # pragma: no cover
    return names.to_numpy(dtype=object)[pos]


def _districts(
    grid: StreetGrid,
    pq_x: np.ndarray,
    pq_y: np.ndarray,
    street_side: tuple[int, int],
    county_side: tuple[int, int],
    rng: np.random.Generator,
    tr: pyproj.Transformer,
    *,
    county_names: Sequence[str] | None,
    prefix: str,
) -> tuple[gpd.GeoDataFrame, dict[str, pd.Series]]:
    every = grid.arterial_every
    xn, yn = grid.x_nominal, grid.y_nominal

    def cell_bounds(cx: np.ndarray, cy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        ix0 = np.minimum(cx * size[0] * every, grid.nx - 1)
        ix1 = np.minimum((cx + 1) * size[0] * every, grid.nx - 1)
        iy0 = np.minimum(cy * size[1] * every, grid.ny - 1)
        iy1 = np.minimum((cy + 1) * size[1] * every, grid.ny - 1)
        return shapely.box(xn[ix0], yn[iy0], xn[ix1], yn[iy1])

    frames = []
    keys: dict[str, pd.Series] = {}
    levels = [
        ("pianqu", (1, 1), "片区", "P"),
        ("street", street_side, "街道", "S"),
        ("county", (street_side[0] * county_side[0], street_side[1] * county_side[1]), "区", "X"),
    ]
    for level, size, suffix, code in levels:
        cells = pd.DataFrame({"x": pq_x // size[0], "y": pq_y // size[1]}).drop_duplicates()
        cells = cells.sort_values(["y", "x"]).reset_index(drop=True)
        m = len(cells)
        if level == "county":
            if county_names is not None:
                if len(county_names) < m:
                    raise ConstraintError(
                        f"county_names has {len(county_names)} names for {m} counties"
                    )
                names = np.asarray(county_names[:m], dtype=object)
            else:
                names = np.char.add("合成", np.char.add(
                    np.array(list("一二三四五六七八九十") + [str(i) for i in range(11, m + 1)])[:m],
                    "区")).astype(object)
        else:
            names = np.char.add(
                _STEMS[(np.arange(m) * (13 if level == "street" else 5) + rng.integers(0, 97))
                       % _STEMS.size], suffix).astype(object)
            names = (pd.Series(names) + np.where(
                pd.Series(names).duplicated(keep=False),
                pd.Series(np.arange(m) + 1).astype(str), "")).to_numpy(dtype=object)
        keys[level] = pd.Series(names, index=pd.MultiIndex.from_frame(cells[["x", "y"]]))
        ids = _ids(prefix + code, m)
        frames.append(pd.DataFrame({
            "district_id": ids, "name": names, "level": level,
            "cx": cells["x"], "cy": cells["y"],
            "geometry": cell_bounds(cells["x"].to_numpy(), cells["y"].to_numpy(), size),
        }))
    # county of each district: from the level sizes
    allf = []
    for f, (_, size, _, _) in zip(frames, levels, strict=True):
        total = (levels[2][1][0] // size[0], levels[2][1][1] // size[1])
        county_of = _lookup(keys["county"], f["cx"].to_numpy() // total[0],
                            f["cy"].to_numpy() // total[1])
        f = f.assign(county=county_of)
        allf.append(f.drop(columns=["cx", "cy"]))
    frame = pd.concat(allf, ignore_index=True)
    geoms = _to_wgs84(frame.pop("geometry").to_numpy(), tr)
    data = {str(k): v for k, v in frame.items()}
    return to_geoframe(data, "districts", geoms), keys


def _utilities(
    grid: StreetGrid,
    blocks: _Blocks,
    sub: dict[str, np.ndarray],
    rng: np.random.Generator,
    tr: pyproj.Transformer,
    owners: Mapping[str, Sequence[str]],
    prefix: str,
    *,
    courtyard: bool = False,
    segment_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Trunks along the streets around compound blocks, service lines across blocks.

    With *courtyard*, each compound's own pipes too; with *segment_m*, every line cut
    into segments of at most that many metres.
    """
    parts = [*_trunk_lines(grid, blocks, rng, tr), _service_lines(grid, blocks, sub, rng, tr)]
    if courtyard:
        parts.append(_courtyard_lines(sub, rng, tr))
    u = pd.concat(parts, ignore_index=True)
    network = np.asarray(u["network"], dtype=object)
    year = np.asarray(u["install_year"], dtype=np.int64)
    owner, material, diameter = _utility_attributes(network, year, rng, owners)
    u = pd.DataFrame({"network": network, "owner": owner, "install_year": year,
                      "material": material, "diameter_mm": diameter,
                      "kind": u["kind"].to_numpy(dtype=object), "geometry": u["geometry"]})
    if segment_m is not None:
        u = _pipe_segments(u, tr, segment_m)
    geoms = u.pop("geometry").to_numpy()
    return to_geoframe({"utility_id": _ids(prefix + "U", len(u)),
                        **{str(k): v.to_numpy() for k, v in u.items()}},
                       "utilities", geoms)


def _trunk_lines(grid: StreetGrid, blocks: _Blocks, rng: np.random.Generator,
                 tr: pyproj.Transformer) -> list[pd.DataFrame]:
    """Trunks along the streets bordering compound blocks, one piece per 片区 side."""
    nx = grid.nx
    every = grid.arterial_every
    bi, bj = blocks.bi, blocks.bj
    # street edges bordering a compound block: bottom/top (horizontal), left/right (vertical)
    h = np.unique(np.column_stack([np.r_[bj, bj + 1], np.r_[bi, bi]]), axis=0)
    v = np.unique(np.column_stack([np.r_[bi, bi + 1], np.r_[bj, bj]]), axis=0)
    # group edges into trunk pieces spanning one 片区 side: (line, pos // every)
    parts = []
    for horiz, e, nets, off in (
        (True, h, ("water_supply", "drainage", "gas"), (2.0, 0.0, -2.5)),
        (False, v, ("power", "telecom", "heating"), (2.5, -2.0, 0.0)),
    ):
        line, pos = e[:, 0], e[:, 1]
        group = line * (max(grid.nx, grid.ny) // every + 2) + pos // every
        order = np.lexsort((pos, group))
        line, pos, group = line[order], pos[order], group[order]
        last = np.r_[group[1:] != group[:-1], True]
        if horiz:
            start = line * nx + pos
            end = start + 1
        else:
            start = pos * nx + line
            end = start + nx
        pts_node = np.r_[start, end[last]]
        pts_group = np.r_[group, group[last]]
        pts_order = np.r_[pos, pos[last] + 1]
        o = np.lexsort((pts_order, pts_group))
        pts_node, pts_group = pts_node[o], pts_group[o]
        _, gidx = np.unique(pts_group, return_inverse=True)
        xy = grid.node_xy()[pts_node]
        ng = int(gidx.max()) + 1
        for net, d in zip(nets, off, strict=True):
            shift = np.array([0.0, d]) if horiz else np.array([d, 0.0])
            geoms = shapely.linestrings(_lonlat(xy + shift, tr), indices=gidx)
            parts.append(pd.DataFrame({
                "network": net, "kind": "trunk", "geometry": geoms,
                "install_year": rng.integers(1975, 2016, ng),
            }))
    return parts


def _service_lines(grid: StreetGrid, blocks: _Blocks, sub: dict[str, np.ndarray],
                   rng: np.random.Generator, tr: pyproj.Transformer) -> pd.DataFrame:
    """Service lines across a block of several compounds (crossing the compounds in it)."""
    bi, bj = blocks.bi, blocks.bj
    kblock = np.bincount(sub["block"], minlength=bi.size)
    multi = kblock >= 2
    ymid = (blocks.y0 + blocks.y1) / 2 + rng.uniform(-0.2, 0.2, bi.size) * (blocks.y1 - blocks.y0)
    xmid = (blocks.x0 + blocks.x1) / 2 + rng.uniform(-0.2, 0.2, bi.size) * (blocks.x1 - blocks.x0)
    xl = (grid.x[bj, bi] + grid.x[bj + 1, bi]) / 2
    xr = (grid.x[bj, bi + 1] + grid.x[bj + 1, bi + 1]) / 2
    yb = (grid.y[bj, bi] + grid.y[bj, bi + 1]) / 2
    yt = (grid.y[bj + 1, bi] + grid.y[bj + 1, bi + 1]) / 2
    hs: np.ndarray = multi & (rng.random(bi.size) < 0.5)
    vs: np.ndarray = multi & (rng.random(bi.size) < 0.4)
    h_lines = shapely.linestrings(_lonlat(np.stack([np.column_stack([xl, ymid]),
                                                    np.column_stack([xr, ymid])], axis=1)[hs], tr))
    v_lines = shapely.linestrings(_lonlat(np.stack([np.column_stack([xmid, yb]),
                                                    np.column_stack([xmid, yt])], axis=1)[vs], tr))
    h_net = np.array(["power", "telecom", "heating"])[rng.integers(0, 3, int(hs.sum()))]
    v_net = np.array(["water_supply", "drainage", "gas"])[rng.integers(0, 3, int(vs.sum()))]
    return pd.DataFrame({"network": np.r_[h_net, v_net], "kind": "service",
                         "geometry": np.r_[h_lines, v_lines],
                         "install_year": rng.integers(1985, 2006, int(hs.sum() + vs.sum()))})


#: Networks of a compound's own pipes (庭院管网), in the order they are laid across it.
_COURTYARD_NETWORKS = ("water_supply", "drainage", "gas", "power", "telecom", "heating")


def _courtyard_lines(sub: dict[str, np.ndarray], rng: np.random.Generator,
                     tr: pyproj.Transformer) -> pd.DataFrame:
    """Each compound's own pipes: per network, a line from the kerb 85 % across it.

    The lines start 4 m out in the street of a side facing one (where the trunks run)
    and are spread across the compound's width, one per network (heating on about
    half of them, at random: district heating is a northern network).
    """
    facing = sub["facing"]
    n = facing.shape[0]
    side = np.argmax(np.where(facing, rng.random((n, 4)), -1.0), axis=1)
    x0, y0, x1, y1 = sub["x0"], sub["y0"], sub["x1"], sub["y1"]
    k = len(_COURTYARD_NETWORKS)
    frac = (np.arange(k) + 1.0) / (k + 1)  # across the compound, one per network
    comp = np.repeat(np.arange(n), k)
    f = np.tile(frac, n) + rng.uniform(-0.04, 0.04, n * k)
    s = side[comp]
    ax0, ay0, ax1, ay1 = x0[comp], y0[comp], x1[comp], y1[comp]
    along_x = ax0 + f * (ax1 - ax0)  # for lines entering from the bottom or top
    along_y = ay0 + f * (ay1 - ay0)  # for lines entering from the left or right
    depth_x = 0.85 * (ax1 - ax0)
    depth_y = 0.85 * (ay1 - ay0)
    sx = np.select([s == 0, s == 1], [ax0 - 4.0, ax1 + 4.0], along_x)
    sy = np.select([s == 2, s == 3], [ay0 - 4.0, ay1 + 4.0], along_y)
    ex = np.select([s == 0, s == 1], [ax0 + depth_x, ax1 - depth_x], along_x)
    ey = np.select([s == 2, s == 3], [ay0 + depth_y, ay1 - depth_y], along_y)
    net = np.tile(np.array(_COURTYARD_NETWORKS, dtype=object), n)
    keep = (net != "heating") | (rng.random(n * k) < 0.5)
    xy = np.stack([np.column_stack([sx, sy]), np.column_stack([ex, ey])], axis=1)[keep]
    return pd.DataFrame({"network": net[keep], "kind": "courtyard",
                         "geometry": shapely.linestrings(_lonlat(xy, tr)),
                         "install_year": rng.integers(1980, 2006, int(keep.sum()))})


def _pipe_segments(lines: pd.DataFrame, tr: pyproj.Transformer, max_m: float) -> pd.DataFrame:
    """Cut each line of *lines* into two-point segments of at most *max_m* metres.

    Every edge is divided into equal parts (``shapely.segmentize`` in the local metres
    of *tr*); a segment keeps its line's attributes.
    """
    if not max_m > 0:
        raise ConstraintError(f"pipe_segment_m must be positive, got {max_m}")
    coords, idx = shapely.get_coordinates(lines["geometry"].to_numpy(), return_index=True)
    x, y = tr.transform(coords[:, 0], coords[:, 1], direction="INVERSE")
    metric = shapely.linestrings(np.column_stack([x, y]), indices=idx)
    dense, didx = shapely.get_coordinates(shapely.segmentize(metric, max_m),
                                          return_index=True)
    same = didx[1:] == didx[:-1]
    pairs = np.stack([dense[:-1][same], dense[1:][same]], axis=1)
    parent = didx[:-1][same]
    out = lines.drop(columns="geometry").iloc[parent].reset_index(drop=True)
    out["geometry"] = shapely.linestrings(_lonlat(pairs, tr))
    return out


def _utility_attributes(network: np.ndarray, year: np.ndarray, rng: np.random.Generator,
                        owners: Mapping[str, Sequence[str]]
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Owner, material (old before 1998, new after) and diameter of each line."""
    m = len(network)
    owner = np.empty(m, dtype=object)
    material = np.empty(m, dtype=object)
    diameter = np.full(m, np.nan)
    mat_old = {"water_supply": "铸铁", "drainage": "混凝土", "gas": "钢", "heating": "钢",
               "power": "铝芯电缆", "telecom": "铜缆"}
    mat_new = {"water_supply": "PE", "drainage": "HDPE双壁波纹管", "gas": "PE",
               "heating": "预制保温钢管", "power": "铜芯电缆", "telecom": "光缆"}
    dia = {"water_supply": (100, 300), "drainage": (300, 800), "gas": (100, 250),
           "heating": (150, 400)}
    r = rng.random(m)
    for key in DEFAULT_OWNERS:  # six networks
        sel: np.ndarray = network == key
        names = np.asarray(list(owners.get(key, DEFAULT_OWNERS[key])), dtype=object)
        owner[sel] = names[(r[sel] * names.size).astype(int)]
        material[sel] = np.where(year[sel] < 1998, mat_old[key], mat_new[key])
        if key in dia:
            lo, hi = dia[key]
            diameter[sel] = np.round(rng.uniform(lo, hi, int(sel.sum())) / 50) * 50
    return owner, material, diameter


def _facilities(
    grid: StreetGrid,
    blocks: _Blocks,
    order: np.ndarray,
    nsel: int,
    facility_types: int | Sequence[str],
    n_compounds: int,
    rng: np.random.Generator,
    tr: pyproj.Transformer,
    *,
    pq_key: int,
    prefix: str,
    setback_m: tuple[float, float] = _SETBACK_M,
    density: float = 1.0,
) -> gpd.GeoDataFrame:
    """Facilities inside and around the compound blocks; some 片区 lack some types."""
    all_types = list(vocab("facility_type"))
    if isinstance(facility_types, int):
        types = all_types[:facility_types]
    else:
        unknown = sorted(set(facility_types) - set(all_types))
        if unknown:
            raise ConstraintError(
                f"unknown facility types {unknown}; known: {', '.join(all_types)}"
            )
        types = list(facility_types)
    nbx = grid.nx - 1
    # service area: the compound blocks plus a ring around them
    n_area = min(order.size, int(nsel * 1.3) + 1)
    area_blocks = order[:n_area]
    rates = np.array([_FACILITY_RATE.get(t, 0.05) for t in types]) * density
    counts = rng.poisson(rates * n_compounds)
    counts = np.maximum(counts, 1)
    t_idx = np.repeat(np.arange(len(types)), counts)
    m = t_idx.size
    blk = area_blocks[rng.integers(0, n_area, m)]
    bj, bi = np.divmod(blk, nbx)
    inner = _inner_boxes(grid, bi, bj, rng, setback_m)
    fx = rng.random(m)
    fy = rng.random(m)
    x = inner.x0 + fx * (inner.x1 - inner.x0)
    y = inner.y0 + fy * (inner.y1 - inner.y0)
    is_bus = np.asarray(types, dtype=object)[t_idx] == "bus_stop"
    x = np.where(is_bus, inner.x0 - 2.0, x)  # bus stops on the kerb of the street
    # gaps: every type is missing from about a fifth of the 片区
    cell = (bj // pq_key) * (nbx // pq_key + 1) + bi // pq_key
    n_cells = (nbx // pq_key + 1) * ((grid.ny - 1) // pq_key + 1)
    missing = rng.random((len(types), n_cells)) < 0.2
    keep = ~missing[t_idx, cell]
    keep[np.r_[0, np.cumsum(counts)[:-1]]] = True  # at least one of each type
    t_idx, x, y = t_idx[keep], x[keep], y[keep]
    m = t_idx.size
    ftype = np.asarray(types, dtype=object)[t_idx]
    cap = np.full(m, np.nan)
    for t, (lo, hi) in _FACILITY_CAPACITY.items():
        sel = ftype == t
        cap[sel] = np.round(rng.uniform(lo, hi, int(sel.sum())))
    zh_names = np.array([vocab("facility_type")[t].zh for t in types], dtype=object)
    seq = pd.Series(t_idx).groupby(t_idx).cumcount().to_numpy() + 1
    name = zh_names[t_idx] + pd.Series(seq).astype(str).radd("").to_numpy(dtype=object)
    geoms = _points(x, y, tr)
    return to_geoframe({
        "facility_id": _ids(prefix + "F", m),
        "facility_type": ftype,
        "name": name,
        "capacity": cap,
    }, "facilities", geoms)


def _gates(sub: dict[str, np.ndarray], households: np.ndarray, cid: np.ndarray,
           rng: np.random.Generator, tr: pyproj.Transformer, prefix: str) -> gpd.GeoDataFrame:
    """One gate per compound on a side facing a street; a second for large compounds."""
    facing = sub["facing"]
    n = facing.shape[0]
    pri = np.where(facing, rng.random((n, 4)), -1.0)
    first = np.argmax(pri, axis=1)
    pri[np.arange(n), first] = -1.0
    second = np.argmax(pri, axis=1)
    has_second = (households > 300) & (pri[np.arange(n), second] >= 0)
    side = np.r_[first, second[has_second]]
    comp = np.r_[np.arange(n), np.flatnonzero(has_second)]
    x0, y0, x1, y1 = (sub[k][comp] for k in ("x0", "y0", "x1", "y1"))
    t = rng.uniform(0.3, 0.7, comp.size)
    gx = np.select([side == 0, side == 1], [x0, x1], x0 + t * (x1 - x0))
    gy = np.select([side == 2, side == 3], [y0, y1], y0 + t * (y1 - y0))
    o = np.argsort(comp, kind="stable")
    geoms = _points(gx[o], gy[o], tr)
    return to_geoframe({
        "gate_id": _ids(prefix + "G", comp.size),
        "compound_id": cid[comp[o]],
    }, "gates", geoms)


# ------------------------------------------------------------------ a national programme

#: Provincial capitals (name, province, lon, lat): the anchors of a synthetic national
#: programme, spread from Urumqi to Harbin so that cities fall in many GK zones.
PROVINCE_CAPITALS: tuple[tuple[str, str, float, float], ...] = (
    ("石家庄", "河北", 114.51, 38.04), ("太原", "山西", 112.55, 37.87),
    ("呼和浩特", "内蒙古", 111.75, 40.84), ("沈阳", "辽宁", 123.43, 41.80),
    ("长春", "吉林", 125.32, 43.82), ("哈尔滨", "黑龙江", 126.53, 45.80),
    ("南京", "江苏", 118.80, 32.06), ("杭州", "浙江", 120.16, 30.27),
    ("合肥", "安徽", 117.23, 31.82), ("福州", "福建", 119.30, 26.08),
    ("南昌", "江西", 115.86, 28.68), ("济南", "山东", 117.12, 36.65),
    ("郑州", "河南", 113.63, 34.75), ("武汉", "湖北", 114.31, 30.59),
    ("长沙", "湖南", 112.94, 28.23), ("广州", "广东", 113.26, 23.13),
    ("南宁", "广西", 108.37, 22.82), ("海口", "海南", 110.20, 20.04),
    ("成都", "四川", 104.07, 30.57), ("贵阳", "贵州", 106.63, 26.65),
    ("昆明", "云南", 102.83, 24.88), ("拉萨", "西藏", 91.12, 29.65),
    ("西安", "陕西", 108.94, 34.34), ("兰州", "甘肃", 103.83, 36.06),
    ("西宁", "青海", 101.78, 36.62), ("银川", "宁夏", 106.23, 38.49),
    ("乌鲁木齐", "新疆", 87.62, 43.83),
)

#: The synthetic programme year and its milestones (a year of progress logs).
NATIONAL_YEAR = 2024
_NATIONAL_MILESTONES: tuple[dict[str, Any], ...] = (
    {"key": "all_started", "zh": "6月底前全部开工", "date": "2024-06-30",
     "measure": "started_compounds", "target": 1.0},
    {"key": "all_completed", "zh": "11月底前全部完工", "date": "2024-11-30",
     "measure": "completed_compounds", "target": 1.0},
)
_COUNTY_NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")


@dataclass(frozen=True)
class NationalCity:
    """One city of a synthetic national programme (before it is generated).

    Attributes
    ----------
    code : str
        City code, also the id prefix of its rows (``C001``).
    name, province : str
        Synthetic city name (``合成石家庄1``) and the province it lies in.
    center : (float, float)
        Longitude and latitude of its old town.
    compounds : int
        Number of compounds.
    seed : int
        Its own random seed.
    """

    code: str
    name: str
    province: str
    center: tuple[float, float]
    compounds: int
    seed: int


def _capitals_by_zone() -> np.ndarray:
    """Capital indices, round-robin over their 3° GK zones (west to east)."""
    zone = np.array([round(c[2] / 3) for c in PROVINCE_CAPITALS])
    rank = pd.Series(zone).groupby(zone).cumcount().to_numpy()
    return np.lexsort((zone, rank))


def national_cities(*, cities: int, compounds: int, seed: int = 0) -> list[NationalCity]:
    """Plan a national programme: *compounds* spread over *cities* in the provinces.

    City *k* lies near the provincial capital ``k mod 27`` in an order that visits every
    3° Gauss-Krüger zone before it comes back to one (so the first cities each get
    their own metric CRS); later rounds around the same
    capital are placed on a ring 1.2° to 3° away, so no two cities share a centre. City
    sizes are uneven (a few large cities, many small ones: a Zipf-like share), every
    city has at least 20 compounds (or ``compounds // cities`` when that is smaller),
    and the sizes add up to *compounds*.

    Examples
    --------
    >>> plan = national_cities(cities=3, compounds=900, seed=1)
    >>> [c.code for c in plan], sum(c.compounds for c in plan)
    (['C001', 'C002', 'C003'], 900)
    >>> plan[0].province
    '新疆'
    """
    if cities < 1:
        raise ConstraintError(f"cities must be at least 1, got {cities}")
    if compounds < cities:
        raise ConstraintError(
            f"{compounds} compounds cannot fill {cities} cities; give at least one a city")
    rng = np.random.default_rng(seed)
    k = np.arange(cities)
    weight = 1.0 / (1.0 + rng.permutation(cities)) ** 0.6
    floor = min(20, compounds // cities)
    extra = compounds - floor * cities
    size = floor + np.floor(weight / weight.sum() * extra).astype(np.int64)
    size[np.argsort(-weight)[: compounds - int(size.sum())]] += 1
    order = _capitals_by_zone()
    ring, cap_pos = np.divmod(k, order.size)
    cap = order[cap_pos]
    angle = rng.uniform(0, 2 * np.pi, cities)
    radius = np.where(ring == 0, 0.0, rng.uniform(1.2, 3.0, cities))
    out = []
    for i in range(cities):  # one record per city (hundreds), not per compound
        name, province, lon, lat = PROVINCE_CAPITALS[int(cap[i])]
        out.append(NationalCity(
            code=f"C{i + 1:03d}", name=f"合成{name}{int(ring[i]) + 1}", province=province,
            center=(round(float(lon + radius[i] * math.cos(angle[i])), 4),
                    round(float(lat + 0.7 * radius[i] * math.sin(angle[i])), 4)),
            compounds=int(size[i]), seed=seed * 100_003 + i))
    return out


#: :func:`synth_city` options of a national programme's cities, set to the national
#: figures of the issue that asked for it (about 280,000 compounds, 7 million pipe
#: segments over 360,000 km, 1 million facilities): each compound's own pipes, 50 m
#: segments, and facilities at 2.2 times the sample cities' rates.
NATIONAL_CITY_OPTIONS: dict[str, Any] = {
    "courtyard_pipes": True, "pipe_segment_m": 50.0, "facility_density": 2.2}


def synth_national_city(city: NationalCity, **options: Any) -> dict[str, pd.DataFrame]:
    """Generate one city of a national programme: :func:`synth_city` plus a year of log.

    Parameters
    ----------
    city : NationalCity
        From :func:`national_cities`.
    **options
        Passed to :func:`synth_city` (``road_nodes``, ``facility_types``, ``layout``, ...).

    Returns
    -------
    dict of str to DataFrame
        The layers of :func:`synth_city` (ids prefixed ``<code>-``, counties named
        ``<city>一区``, ``<city>二区``, ...) and ``progress_log``: a year of weekly
        county reports (consulted → accepted) paced on the milestones of
        :data:`NATIONAL_YEAR`, one county behind schedule.

    Examples
    --------
    >>> city = national_cities(cities=2, compounds=120)[1]
    >>> layers = synth_national_city(city)
    >>> layers["compounds"]["compound_id"].iloc[0], len(layers["compounds"])
    ('C002-C0001', 51)
    >>> layers["progress_log"]["date"].min().year
    2024
    """
    from gisplan.samples import _progress_log  # the samples' log generator, one of it

    counties = [f"{city.name}{n}区" for n in _COUNTY_NUMERALS] + [
        f"{city.name}{n}区" for n in range(11, 100)]
    options = {**NATIONAL_CITY_OPTIONS, **options}
    layers: dict[str, pd.DataFrame] = dict(synth_city(
        compounds=city.compounds, seed=city.seed, center=city.center,
        county_names=counties, prefix=f"{city.code}-", **options))
    comp = layers["compounds"]
    ms = {m["key"]: m["date"] for m in _NATIONAL_MILESTONES}
    behind = sorted(comp["county"].dropna().unique())[:1]
    layers["progress_log"] = _progress_log(
        comp, rng=np.random.default_rng(city.seed + 7), start_due=ms["all_started"],
        complete_due=ms["all_completed"], as_of=f"{NATIONAL_YEAR}-12-31", behind=behind,
        report_prefix=f"{NATIONAL_YEAR}年进度周报", anomalies=False)
    return layers


def national_city_meta(city: NationalCity, layers: Mapping[str, pd.DataFrame], *,
                       national: str) -> dict[str, Any]:
    """Programme metadata of one city of a synthetic national programme."""
    comp = layers["compounds"]
    lon, lat = city.center
    return {
        "name": f"{city.name} {NATIONAL_YEAR}年城镇老旧小区改造计划（合成）",
        "name_en": f"{city.code} synthetic city, {city.compounds} compounds",
        "city": city.name, "city_code": city.code, "province": city.province,
        "national": national,
        "counties": sorted(comp["county"].dropna().unique().tolist()),
        "year": NATIONAL_YEAR, "synthetic": True,
        "synthetic_note": f"{national}: every layer is generated; no real place data "
                          "except the centre point",
        "sources": [],
        "crs_note": f"EPSG:4326; generated in a local transverse Mercator at {lon},{lat}",
        "targets": {"compounds": city.compounds,
                    "households": int(comp["households"].sum())},
        "milestones": [dict(m) for m in _NATIONAL_MILESTONES],
        "start_date": f"{NATIONAL_YEAR}-01-01",
        "bundle_level": "pianqu", "seed": city.seed,
    }
