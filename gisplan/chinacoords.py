"""Chinese consumer-map coordinates: WGS84 ↔ GCJ-02 ↔ BD-09, vectorised.

Amap (高德), Tencent and Apple maps in mainland China use GCJ-02 (国测局坐标, "Mars
coordinates"): WGS84 shifted by an obfuscating function, up to several hundred metres.
Baidu uses BD-09, a further rotation/shift of GCJ-02. PROJ does not support either
(by design), so they are implemented here on numpy arrays.

* ``wgs84_to_gcj02`` is the published forward function (the one in every open
  implementation, e.g. *eviltransform*); its inverse ``gcj02_to_wgs84`` is computed by
  fixed-point iteration to below 1e-9 degrees (≈ 0.1 mm), far below the 0.5 m the
  planners need.
* ``gcj02_to_bd09`` is Baidu's forward formula; ``bd09_to_gcj02`` is its iterative
  inverse (Baidu's closed-form inverse is only good to about a metre).
* Outside China no shift is applied: a point is shifted only inside the bounding box
  :data:`CHINA_BBOX` (lon 72.004–137.8347, lat 0.8293–55.8271), the box used by the
  common implementations. Inverse functions test the box on their *input*.

Examples
--------
>>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)   # Shanghai
>>> round(float(lon), 8), round(float(lat), 8)
(121.53154186, 31.17530398)
>>> lon, lat = gcj02_to_wgs84(lon, lat)
>>> round(float(lon), 8), round(float(lat), 8)
(121.5272106, 31.1774276)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import shapely

__all__ = [
    "CHINA_BBOX",
    "Datum",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

Datum = Literal["wgs84", "gcj02", "bd09"]

#: (min lon, min lat, max lon, max lat) inside which GCJ-02 / BD-09 shifts apply
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

_A = 6378245.0  # Krasovsky 1940 semi-major axis, used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0  # Baidu's constant
_TOLERANCE_DEG = 1e-9
_MAX_ITER = 30

FloatArray = np.ndarray


def _arrays(lon: Any, lat: Any) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"lon and lat must have the same shape, got {x.shape} and {y.shape}")
    return x, y


def in_china(lon: Any, lat: Any) -> FloatArray:
    """Return a boolean array: which points lie in :data:`CHINA_BBOX`."""
    x, y = _arrays(lon, lat)
    w, s, e, n = CHINA_BBOX
    return np.asarray((x >= w) & (x <= e) & (y >= s) & (y <= n))


def _gcj_offset(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset (degrees) of WGS84 points (no China test)."""
    dx, dy = x - 105.0, y - 35.0
    sqrt_abs = np.sqrt(np.abs(dx))
    common = (20.0 * np.sin(6.0 * dx * np.pi) + 20.0 * np.sin(2.0 * dx * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * dx + 3.0 * dy + 0.2 * dy * dy + 0.1 * dx * dy + 0.2 * sqrt_abs
    dlat += common
    dlat += (20.0 * np.sin(dy * np.pi) + 40.0 * np.sin(dy / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(dy / 12.0 * np.pi) + 320.0 * np.sin(dy * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + dx + 2.0 * dy + 0.1 * dx * dx + 0.1 * dx * dy + 0.1 * sqrt_abs
    dlon += common
    dlon += (20.0 * np.sin(dx * np.pi) + 40.0 * np.sin(dx / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(dx / 12.0 * np.pi) + 300.0 * np.sin(dx / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = y / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(radlat) * np.pi)
    return dlon, dlat


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    x: FloatArray,
    y: FloatArray,
    x0: FloatArray,
    y0: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(u, v) == (x, y)`` by fixed-point iteration from ``(x0, y0)``.

    The shifts vary slowly (their derivatives are ~1e-3), so ``u -= f(u) - x`` converges
    by about three orders of magnitude per step.
    """
    u, v = x0.copy(), y0.copy()
    active = np.ones(u.shape, dtype=bool)
    for _ in range(_MAX_ITER):
        fx, fy = forward(u[active], v[active])
        ex, ey = fx - x[active], fy - y[active]
        u[active] -= ex
        v[active] -= ey
        done = np.maximum(np.abs(ex), np.abs(ey)) < _TOLERANCE_DEG
        idx = np.flatnonzero(active)
        active[idx[done]] = False
        if not active.any():
            break
    return u, v


def _out(x: FloatArray, like: Any) -> Any:
    return x if np.ndim(like) else x[()]


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 longitude/latitude to GCJ-02 (Amap, Tencent).

    Parameters
    ----------
    lon, lat : float or array-like
        WGS84 degrees. Points outside :data:`CHINA_BBOX` are returned unchanged.

    Returns
    -------
    tuple of numpy.ndarray (or floats for scalar input)
        GCJ-02 longitude and latitude.
    """
    x, y = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(x, y)
    inside = in_china(x, y)
    gx = np.where(inside, x + dlon, x)
    gy = np.where(inside, y + dlat, y)
    return _out(gx, lon), _out(gy, lat)


def _wgs_to_gcj_inside(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_offset(x, y)
    return x + dlon, y + dlat


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 longitude/latitude to WGS84 (iterative inverse, error < 1e-9°).

    Points outside :data:`CHINA_BBOX` are returned unchanged.
    """
    x, y = _arrays(lon, lat)
    inside = in_china(x, y) & np.isfinite(x) & np.isfinite(y)
    wx, wy = x.copy(), y.copy()
    if inside.any():
        xi, yi = x[inside], y[inside]
        wx[inside], wy[inside] = _invert(_wgs_to_gcj_inside, xi, yi, xi, yi)
    return _out(wx, lon), _out(wy, lat)


def _gcj_to_bd_all(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 longitude/latitude to BD-09 (Baidu).

    Points outside :data:`CHINA_BBOX` are returned unchanged.
    """
    x, y = _arrays(lon, lat)
    bx, by = _gcj_to_bd_all(x, y)
    inside = in_china(x, y)
    return _out(np.where(inside, bx, x), lon), _out(np.where(inside, by, y), lat)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert BD-09 longitude/latitude to GCJ-02 (iterative inverse, error < 1e-9°).

    Starts from Baidu's closed-form approximation and refines it. Points outside
    :data:`CHINA_BBOX` are returned unchanged.
    """
    x, y = _arrays(lon, lat)
    inside = in_china(x, y) & np.isfinite(x) & np.isfinite(y)
    gx, gy = x.copy(), y.copy()
    if inside.any():
        bx, by = x[inside] - 0.0065, y[inside] - 0.006
        z = np.sqrt(bx * bx + by * by) - 0.00002 * np.sin(by * _X_PI)
        theta = np.arctan2(by, bx) - 0.000003 * np.cos(bx * _X_PI)
        x0, y0 = z * np.cos(theta), z * np.sin(theta)
        gx[inside], gy[inside] = _invert(_gcj_to_bd_all, x[inside], y[inside], x0, y0)
    return _out(gx, lon), _out(gy, lat)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 longitude/latitude to BD-09 (through GCJ-02)."""
    x, y = _arrays(lon, lat)
    inside = in_china(x, y)
    gx, gy = wgs84_to_gcj02(x, y)
    bx, by = _gcj_to_bd_all(np.asarray(gx), np.asarray(gy))
    return _out(np.where(inside, bx, x), lon), _out(np.where(inside, by, y), lat)


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert BD-09 longitude/latitude to WGS84 (through GCJ-02)."""
    x, y = _arrays(lon, lat)
    inside = in_china(x, y)
    gx, gy = bd09_to_gcj02(x, y)
    wx, wy = gcj02_to_wgs84(gx, gy)
    wx = np.where(inside, wx, x)
    wy = np.where(inside, wy, y)
    return _out(wx, lon), _out(wy, lat)


def _transform(geoms: Any, shift: Callable[[FloatArray], FloatArray]) -> Any:
    """``shapely.transform`` keeping each geometry's dimension (Z passed through)."""
    transform: Any = shapely.transform  # include_z=None (per geometry) is not in the stubs
    return transform(geoms, shift, include_z=None)


_ALIASES: dict[str, Datum] = {
    "wgs84": "wgs84", "wgs": "wgs84", "epsg4326": "wgs84", "4326": "wgs84",
    "gcj02": "gcj02", "gcj": "gcj02", "mars": "gcj02", "amap": "gcj02", "gaode": "gcj02",
    "tencent": "gcj02",
    "bd09": "bd09", "bd09ll": "bd09", "baidu": "bd09",
}

_FUNCS: dict[tuple[Datum, Datum], Callable[[Any, Any], tuple[Any, Any]]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def _datum(name: str) -> Datum:
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    if key not in _ALIASES:
        raise ValueError(f"unknown coordinate system {name!r}; use 'wgs84', 'gcj02' or 'bd09'")
    return _ALIASES[key]


def convert(obj: Any, lat: Any = None, *, src: str, dst: str) -> Any:
    """Convert coordinates between WGS84, GCJ-02 and BD-09.

    Parameters
    ----------
    obj : GeoDataFrame, GeoSeries, array of shapely geometries, geometry, or array-like
        What to convert. With *lat* given, *obj* is the longitude array.
    lat : array-like, optional
        Latitudes, when *obj* holds longitudes.
    src, dst : {"wgs84", "gcj02", "bd09"}
        Coordinate systems (case and punctuation ignored: ``"GCJ-02"`` works).

    Returns
    -------
    Same kind as the input
        A copy with converted coordinates (any geometry type; Z kept), or
        ``(lon, lat)`` arrays.

    Examples
    --------
    >>> import shapely
    >>> p = convert(shapely.Point(116.39, 39.91), src="wgs84", dst="bd09")
    >>> round(p.x, 4), round(p.y, 4)
    (116.4026, 39.9177)
    """
    s, d = _datum(src), _datum(dst)
    if lat is not None:
        if s == d:
            return _arrays(obj, lat)
        return _FUNCS[(s, d)](obj, lat)
    if s == d:
        return obj.copy() if hasattr(obj, "copy") else obj
    func = _FUNCS[(s, d)]

    def shift(xy: FloatArray) -> FloatArray:
        out = xy.copy()
        out[:, 0], out[:, 1] = func(xy[:, 0], xy[:, 1])
        return out

    if hasattr(obj, "geometry") and hasattr(obj, "set_geometry"):  # GeoDataFrame
        out = obj.copy()
        out[obj.geometry.name] = convert(obj.geometry, src=s, dst=d)
        return out
    if hasattr(obj, "crs") and hasattr(obj, "values"):  # GeoSeries
        crs = obj.crs
        if crs is not None and not crs.is_geographic:
            raise ValueError(
                f"{s.upper()} → {d.upper()} needs longitude/latitude degrees; "
                f"the data is in {crs.name}"
            )
        return obj.__class__(
            _transform(np.asarray(obj.values), shift), index=obj.index, crs=crs, name=obj.name
        )
    return _transform(obj, shift)
