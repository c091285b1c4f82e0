"""Coordinate reference systems: the metric CRS, reprojection and CRS inference.

Chinese official data is in CGCS2000: geographic EPSG:4490 (whose axis order is
*latitude, longitude*) or projected 3-degree Gauss-Krüger zones. Measures in metres
are taken in the CGCS2000 3° GK zone whose central meridian is nearest the data
(EPSG:4534–4554, the "CM" variants without zone prefix); outside China, in the UTM
zone. Every transformation here uses ``always_xy=True``: x is longitude / easting,
y latitude / northing, whatever the CRS's declared axis order.

Examples
--------
>>> from gisplan.crs import metric_crs
>>> metric_crs((106.2, 35.9, 106.3, 36.1)).to_epsg()   # Guyuan, CM 105°E
4544
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from gisplan._errors import CRSError
from gisplan.findings import Finding, Report

__all__ = [
    "CHINA_BOUNDS",
    "CRSMismatchWarning",
    "analysis_crs",
    "cgcs2000_gk_crs",
    "check_plausible",
    "geographic_bounds",
    "infer_crs",
    "likely_crs",
    "metric_crs",
    "project_layers",
    "require_crs",
    "same_crs_or_reproject",
    "to_geographic",
    "to_metric",
    "transform_xy",
]

#: (min lon, min lat, max lon, max lat) inside which the CGCS2000 GK zones are used
CHINA_BOUNDS = (73.0, 3.0, 135.5, 54.0)

#: EPSG codes of the CGCS2000 3-degree Gauss-Krüger zones
_GK3_CM_FIRST = 4534  # "CGCS2000 / 3-degree Gauss-Kruger CM 75E", no zone prefix
_GK3_ZONE_FIRST = 4513  # "CGCS2000 / 3-degree Gauss-Kruger zone 25", x = 25,xxx,xxx
_GK3_ZONES = range(25, 46)  # zone n: central meridian 3n°E, 75°E … 135°E
_GK6_ZONE_FIRST = 4491  # "CGCS2000 / Gauss-Kruger zone 13", 6-degree, x = 13,xxx,xxx
_GK6_ZONES = range(13, 24)  # zone n: central meridian 6n − 3 °E, 75°E … 135°E

WGS84 = CRS.from_epsg(4326)


class CRSMismatchWarning(UserWarning):
    """A layer was reprojected because its CRS differs from the layer it is used with."""


# ---------------------------------------------------------------- array helpers


@lru_cache(maxsize=512)  # a national run meets ~25 zones, a few pairs each
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def _key(crs: Any) -> str:
    return CRS.from_user_input(crs).to_wkt()


def transform_xy(
    x: Any, y: Any, *, src: Any, dst: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays from *src* to *dst* (``always_xy``: x = lon/easting).

    Parameters
    ----------
    x, y : array-like
        Coordinates in *src*; longitude and latitude for geographic CRSs, whatever
        their declared axis order (EPSG:4490 declares latitude first).
    src, dst : CRS-like
        Anything :meth:`pyproj.CRS.from_user_input` accepts (``4490``, ``"EPSG:4545"``).

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)`` in *dst*.

    Examples
    --------
    >>> x, y = transform_xy([105.0], [36.0], src=4490, dst=4544)
    >>> round(float(x[0]), 3)
    500000.0
    """
    tr = _transformer(_key(src), _key(dst))
    xx, yy = tr.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(xx, dtype=float), np.asarray(yy, dtype=float)


def geographic_bounds(obj: Any, *, crs: Any = None, file: str | None = None,
                      layer: str | None = None) -> tuple[float, float, float, float]:
    """Return the bounds of *obj* in longitude/latitude degrees.

    Parameters
    ----------
    obj : GeoDataFrame, GeoSeries or tuple of 4 floats
        The data, or its ``(minx, miny, maxx, maxy)``.
    crs : CRS-like, optional
        The CRS of *obj* when it has none of its own (a bounds tuple defaults to
        longitude/latitude degrees).
    file, layer : str, optional
        Named in the errors.

    Raises
    ------
    CRSError
        If *obj* has no coordinates (no rows, or only empty geometries), or has no CRS,
        none is given and its bounds are not degrees.

    Examples
    --------
    >>> b = geographic_bounds((500_000.0, 4_000_000.0, 501_000.0, 4_001_000.0), crs=4544)
    >>> [round(v, 3) for v in b]
    [105.0, 36.13, 105.011, 36.139]
    """
    own = getattr(obj, "crs", None)
    src = CRS.from_user_input(crs) if crs is not None else own
    if hasattr(obj, "total_bounds"):
        bounds = tuple(float(v) for v in obj.total_bounds)
    else:
        bounds = tuple(float(v) for v in obj)
        if len(bounds) != 4:
            raise ValueError(f"bounds must be (minx, miny, maxx, maxy), got {obj!r}")
    if not all(math.isfinite(v) for v in bounds):
        raise CRSError(
            "the layer has no coordinates (no rows, or every geometry is empty)",
            file=file, layer=layer, value=bounds,
            hint="import the layer again from a file whose rows have outlines, points or "
            "lines (gisplan import PROGRAMME FILE --layer ...)",
        )
    if src is None:
        if _looks_geographic(bounds):
            return bounds  # type: ignore[return-value]
        raise CRSError(
            "the layer has no CRS and its coordinates are not longitude/latitude degrees",
            file=file, layer=layer, value=_fmt_bounds(bounds),
            hint="declare the CRS with --crs: 4490 for CGCS2000 lon/lat; for CGCS2000 3° "
            "Gauss-Krüger eastings without zone prefix 4534 + (central meridian − 75) / 3, "
            "e.g. --crs 4547 for CM 114°E",
        )
    if src.is_geographic:
        return bounds  # type: ignore[return-value]
    xs = np.array([bounds[0], bounds[2], bounds[0], bounds[2]])
    ys = np.array([bounds[1], bounds[1], bounds[3], bounds[3]])
    lon, lat = transform_xy(xs, ys, src=src, dst=WGS84)
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def _looks_geographic(b: Sequence[float]) -> bool:
    return -180.0 <= b[0] <= b[2] <= 180.0 and -90.0 <= b[1] <= b[3] <= 90.0


def _fmt_bounds(b: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in b) + ")"


def _in_china(lon: float, lat: float) -> bool:
    w, s, e, n = CHINA_BOUNDS
    return w <= lon <= e and s <= lat <= n


# ---------------------------------------------------------------- metric CRS


def cgcs2000_gk_crs(lon: float, *, zone_prefix: bool = False) -> CRS:
    """Return the CGCS2000 3-degree Gauss-Krüger CRS for longitude *lon*.

    The central meridian is ``3 * round(lon / 3)``, clamped to 75°E–135°E.

    Parameters
    ----------
    lon : float
        Longitude in degrees east.
    zone_prefix : bool, default False
        False: the "CM" variant (EPSG:4534–4554, easting 500 000 m at the central
        meridian); True: the zone-prefixed variant (EPSG:4513–4533, easting
        ``zone * 1e6 + 500 000``).

    Examples
    --------
    >>> cgcs2000_gk_crs(120.15).to_epsg()   # Hangzhou, CM 120°E
    4549
    >>> cgcs2000_gk_crs(120.15, zone_prefix=True).to_epsg()   # zone 40
    4528
    """
    zone = min(max(round(lon / 3.0), _GK3_ZONES[0]), _GK3_ZONES[-1])
    first = _GK3_ZONE_FIRST if zone_prefix else _GK3_CM_FIRST
    return CRS.from_epsg(first + zone - _GK3_ZONES[0])


def metric_crs(obj: Any, *, crs: Any = None) -> CRS:
    """Return the CRS in metres to measure *obj* in.

    In China (the centre of *obj* within :data:`CHINA_BOUNDS`) the CGCS2000 3-degree
    Gauss-Krüger zone whose central meridian is nearest (EPSG:4534–4554); elsewhere
    the WGS 84 UTM zone of the centre.

    Parameters
    ----------
    obj : GeoDataFrame, GeoSeries or tuple of 4 floats
        The data, or its bounds.
    crs : CRS-like, optional
        The CRS of *obj* if it has none of its own; a bounds tuple is taken as
        longitude/latitude degrees by default.

    Returns
    -------
    pyproj.CRS

    Examples
    --------
    >>> metric_crs((116.3, 39.8, 116.5, 40.0)).to_epsg()   # Beijing, CM 117°E
    4548
    >>> metric_crs((2.2, 48.8, 2.4, 48.9)).to_epsg()       # Paris, UTM 31N
    32631
    """
    w, s, e, n = geographic_bounds(obj, crs=crs)
    lon, lat = (w + e) / 2.0, (s + n) / 2.0
    if _in_china(lon, lat):
        return cgcs2000_gk_crs(lon)
    return _utm_crs(lon, lat)


@lru_cache(maxsize=128)
def _utm_zone_code(zone: int, north: bool) -> tuple[str, str]:
    lon = zone * 6.0 - 183.0
    lat = 10.0 if north else -10.0
    info = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon - 1.0, lat - 0.5, lon + 1.0, lat + 0.5),
    )
    for item in info:
        if item.name.endswith(f"zone {zone}{'N' if north else 'S'}"):
            return item.auth_name, item.code
    return info[0].auth_name, info[0].code


def _utm_crs(lon: float, lat: float) -> CRS:
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    auth, code = _utm_zone_code(zone, lat >= 0)
    return CRS.from_authority(auth, code)


def to_metric(gdf: Any, *, crs: Any = None) -> Any:
    """Return *gdf* projected to :func:`metric_crs` (or to *crs* when given).

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        Data with a CRS.
    crs : CRS-like, optional
        The metric CRS to use, e.g. to put several layers in the same one.

    Returns
    -------
    GeoDataFrame or GeoSeries
        Same index and columns, geometry in metres.
    """
    require_crs(gdf)
    target = CRS.from_user_input(crs) if crs is not None else metric_crs(gdf)
    return gdf.to_crs(target)


def to_geographic(gdf: Any, *, crs: Any = 4326) -> Any:
    """Return *gdf* in the geographic CRS *crs* (EPSG:4326 by default).

    Geometry stays longitude, latitude (x, y) also for EPSG:4490 (GeoPandas transforms
    with ``always_xy``).
    """
    require_crs(gdf)
    return gdf.to_crs(crs)


def require_crs(gdf: Any, *, file: str | None = None, layer: str | None = None) -> None:
    """Raise the one "no CRS" error of gisplan when *gdf* has no CRS.

    Every analysis and reader calls this (directly or through :func:`project_layers`),
    so a layer without a coordinate reference system is always reported the same way:
    with the file and layer, and how to declare the CRS.

    Raises
    ------
    CRSError
        When ``gdf.crs`` is None.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> try:
    ...     require_crs(gpd.GeoDataFrame(geometry=[Point(0, 0)]), layer="gates")
    ... except CRSError as e:
    ...     print(e.layer, "|", e.hint[:40])
    gates | declare it when importing (--crs 4490 fo
    """
    if getattr(gdf, "crs", None) is None:
        raise CRSError(
            "the layer has no coordinate reference system",
            file=file,
            layer=layer,
            hint="declare it when importing (--crs 4490 for CGCS2000 lon/lat, "
            "--crs 4326 for WGS 84 lon/lat)",
        )



def _is_metric(crs: CRS) -> bool:
    """Tell whether *crs* is projected with axes in metres."""
    if not crs.is_projected:
        return False
    units = {(a.unit_name or "").lower() for a in crs.axis_info}
    return bool(units) and units <= {"metre", "meter", "m"}


def analysis_crs(gdf: Any, *, file: str | None = None, layer: str | None = "compounds") -> CRS:
    """Return the CRS in which every analysis measures *gdf* (the one chooser).

    - a layer already in a projected CRS in metres keeps it (a city's own Gauss-Krüger
      data is measured as it is);
    - a layer with no coordinates (no rows, or only empty geometries) keeps its CRS;
    - otherwise :func:`metric_crs`: the CGCS2000 3° Gauss-Krüger zone in China, UTM
      elsewhere.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        The reference layer of the analysis (the compounds).
    file, layer : str, optional
        Named in the error when *gdf* has no CRS.

    Raises
    ------
    CRSError
        When *gdf* has no CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> g = gpd.GeoDataFrame(geometry=[Point(106.24, 36.0)], crs=4326)
    >>> analysis_crs(g).to_epsg()                       # Guyuan: GK CM 105°E
    4544
    >>> analysis_crs(g.to_crs(4547)).to_epsg()          # already metric: kept
    4547
    """
    require_crs(gdf, file=file, layer=layer)
    crs = CRS.from_user_input(gdf.crs)
    if _is_metric(crs):
        return crs
    if not np.isfinite(np.asarray(gdf.total_bounds, dtype=float)).all():
        return crs
    return metric_crs(gdf)


def project_layers(
    layers: dict[str, Any],
    *,
    reference: str = "compounds",
    crs: Any = None,
    file: str | None = None,
    report: Report | None = None,
) -> tuple[dict[str, Any], CRS]:
    """Put every layer of an analysis into one metric CRS (the CRS contract).

    Each layer must have a CRS (:func:`require_crs`). A layer whose CRS differs from the
    reference layer's is used all the same, with one :class:`CRSMismatchWarning` and one
    ``crs_reprojected`` finding that name both CRSs. All layers are then projected to
    :func:`analysis_crs` of the reference (or to *crs* when given). ``None`` entries
    (optional layers that are absent) are passed through.

    Parameters
    ----------
    layers : dict of str to GeoDataFrame or None
        The analysis inputs by layer name; must contain *reference*.
    reference : str
        The layer whose CRS wins (the compounds).
    crs : CRS-like, optional
        The metric CRS to use instead of the reference's :func:`analysis_crs`.
    file : str, optional
        Named in errors.
    report : Report, optional
        Receives the ``crs_reprojected`` findings.

    Returns
    -------
    (dict, pyproj.CRS)
        The same keys, each layer in the metric CRS (index and columns kept), and that CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> c = gpd.GeoDataFrame(geometry=[Point(106.24, 36.0)], crs=4326)
    >>> f = gpd.GeoDataFrame(geometry=[Point(106.25, 36.0)], crs=4490)
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     out, crs = project_layers({"compounds": c, "facilities": f, "roads": None})
    >>> crs.to_epsg(), out["roads"] is None, len(w)
    (4544, True, 1)
    >>> str(w[0].message).startswith("layer 'facilities' is in EPSG:4490")
    True
    """
    ref = layers[reference]
    for name, gdf in layers.items():
        if gdf is not None:
            require_crs(gdf, file=file, layer=name)
    target = CRS.from_user_input(crs) if crs is not None else analysis_crs(
        ref, file=file, layer=reference)
    out: dict[str, Any] = {}
    for name, gdf in layers.items():
        if gdf is None:
            out[name] = None
            continue
        if name != reference:
            _warn_mismatch(ref.crs, gdf.crs, layer=name, reference_layer=reference,
                           report=report)
        out[name] = gdf if CRS.from_user_input(gdf.crs) == target else gdf.to_crs(target)
    return out, target


def _warn_mismatch(ref_crs: Any, crs: Any, *, layer: str | None, reference_layer: str | None,
                   report: Report | None) -> bool:
    """Warn (once, naming both CRSs) when *crs* differs from *ref_crs*; True if it did."""
    if CRS.from_user_input(ref_crs) == CRS.from_user_input(crs):
        return False
    src, dst = _crs_name(crs), _crs_name(ref_crs)
    what = f"layer '{layer}'" if layer else "a layer"
    ref = f" of layer '{reference_layer}'" if reference_layer else ""
    message = f"{what} is in {src}; reprojected to {dst}{ref}"
    warnings.warn(message, CRSMismatchWarning, stacklevel=3)
    if report is not None:
        report.add(Finding("warning", "crs_reprojected", message, layer=layer, value=src,
                           hint="store all layers of a programme in one CRS"))
    return True


def same_crs_or_reproject(
    reference: Any,
    other: Any,
    *,
    layer: str | None = None,
    reference_layer: str | None = None,
    report: Report | None = None,
) -> Any:
    """Return *other* in the CRS of *reference*, reprojecting it with a warning if needed.

    A district layer in another CRS than the compounds must still join: it is
    reprojected, and a :class:`CRSMismatchWarning` (and, with *report*, a warning
    :class:`~gisplan.findings.Finding` ``crs_reprojected``) names both CRSs.

    Parameters
    ----------
    reference : GeoDataFrame or GeoSeries
        The layer whose CRS wins.
    other : GeoDataFrame or GeoSeries
        The layer to bring into that CRS.
    layer, reference_layer : str, optional
        Names of *other* and *reference*, for messages.
    report : Report, optional
        Receives the ``crs_reprojected`` finding.

    Raises
    ------
    CRSError
        If either layer has no CRS.
    """
    require_crs(reference, layer=reference_layer)
    require_crs(other, layer=layer)
    if not _warn_mismatch(reference.crs, other.crs, layer=layer,
                          reference_layer=reference_layer, report=report):
        return other
    return other.to_crs(reference.crs)


def _crs_name(crs: Any) -> str:
    c = CRS.from_user_input(crs)
    code = c.to_authority()
    return f"{code[0]}:{code[1]} ({c.name})" if code else c.name


# ---------------------------------------------------------------- inference


def infer_crs(
    gdf: Any, *, file: str | None = None, layer: str | None = None
) -> tuple[CRS, Finding | None]:
    """Return the CRS of *gdf*: the declared one, or one inferred from the coordinates.

    * A declared CRS is kept (no finding).
    * Coordinates within longitude/latitude ranges: EPSG:4326, with a warning
      finding ``crs_inferred`` (CGCS2000 EPSG:4490 differs from WGS84 by centimetres).
    * Eastings of 25–45 million metres (CGCS2000 3° Gauss-Krüger with zone prefix,
      ``x = zone * 1e6 + 500 000``): the matching EPSG:4513–4533 zone, with a finding;
      13–23 million: the 6° zone EPSG:4491–4501.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        The layer.
    file, layer : str, optional
        Where it came from, for messages.

    Returns
    -------
    tuple of (pyproj.CRS, Finding or None)

    Raises
    ------
    CRSError
        If there is no CRS and the coordinates fit none of the above; the message shows
        the bounds and how to declare the CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoSeries([shapely.Point(36_512_000.0, 4_000_000.0)])
    >>> crs, finding = infer_crs(g)
    >>> crs.to_epsg(), finding.code
    (4524, 'crs_inferred')
    """
    if getattr(gdf, "crs", None) is not None:
        return CRS.from_user_input(gdf.crs), None
    b = tuple(float(v) for v in gdf.total_bounds)
    if not all(math.isfinite(v) for v in b):
        return WGS84, Finding(
            "warning", "crs_inferred",
            "the layer has no CRS and no coordinates; EPSG:4326 (WGS84) assumed",
            file=file, layer=layer, value="EPSG:4326",
            hint="declare the CRS with --crs",
        )
    if _looks_geographic(b):
        return WGS84, Finding(
            "warning", "crs_inferred",
            "the layer has no CRS; its coordinates are longitude/latitude degrees, "
            "EPSG:4326 (WGS84) assumed",
            file=file, layer=layer, value=_fmt_bounds(b),
            hint="declare --crs 4490 if the data is CGCS2000, --crs 4326 to confirm WGS84",
        )
    zoned = _zone_prefixed_crs(b)
    if zoned is not None:
        return zoned, Finding(
            "warning", "crs_inferred",
            f"the layer has no CRS; eastings with a zone prefix: {_crs_name(zoned)} assumed",
            file=file, layer=layer, value=_fmt_bounds(b),
            hint=f"declare --crs {zoned.to_epsg()} to confirm",
        )
    hint = (
        "declare the CRS with --crs: for CGCS2000 3° Gauss-Krüger eastings without zone "
        "prefix 4534 + (central meridian − 75) / 3 (e.g. --crs 4544 for CM 105°E, --crs 4547 "
        "for CM 114°E), with zone prefix 4513 + zone − 25, or --crs 4490 (CGCS2000 lon/lat)"
    )
    if -90 <= b[0] <= b[2] <= 90 and not -90 <= b[1] <= b[3] <= 90:
        hint += "; x values look like latitudes: are longitude and latitude swapped?"
    raise CRSError(
        f"the layer has no CRS and it cannot be inferred from its coordinates "
        f"(bounds {_fmt_bounds(b)})",
        file=file, layer=layer, value=_fmt_bounds(b), hint=hint,
    )


def _zone_prefixed_crs(b: Sequence[float]) -> CRS | None:
    """CGCS2000 GK CRS whose zone number prefixes the eastings of bounds *b*, if any."""
    if not (b[1] >= 0.0 and b[3] <= 6_500_000.0):
        return None
    zone_w, zone_e = int(b[0] // 1_000_000), int(b[2] // 1_000_000)
    if zone_w != zone_e:
        return None
    if zone_w in _GK3_ZONES:
        return CRS.from_epsg(_GK3_ZONE_FIRST + zone_w - _GK3_ZONES[0])
    if zone_w in _GK6_ZONES:
        return CRS.from_epsg(_GK6_ZONE_FIRST + zone_w - _GK6_ZONES[0])
    return None



# ---------------------------------------------------------------- plausibility

#: How far (degrees) coordinates may reach beyond a CRS's area of use: a city near the
#: edge of a 3° Gauss-Krüger zone is often kept whole in that zone.
AREA_OF_USE_MARGIN_DEG = 1.0

#: How far (km) a layer may lie from the programme's other layers before its CRS is
#: taken to be wrong. A prefecture-level city is up to ~200 km across; one 3° zone
#: off is ~250–330 km in China.
MAX_DISTANCE_KM = 100.0


def _to_lonlat(b: Sequence[float], crs: CRS) -> tuple[float, float, float, float] | None:
    """Bounds *b* in lon/lat through *crs*, or None when they do not transform."""
    if crs.is_geographic:
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])
    xs = np.array([b[0], b[2], b[0], b[2], (b[0] + b[2]) / 2])
    ys = np.array([b[1], b[1], b[3], b[3], (b[1] + b[3]) / 2])
    with np.errstate(all="ignore"):
        lon, lat = transform_xy(xs, ys, src=crs, dst=WGS84)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        return None
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def _km_between(a: Sequence[float], b: Sequence[float]) -> float:
    """Great-circle distance (km) between the centre of lon/lat bounds *a* and bounds *b*.

    Zero when the centre of *a* lies within *b*.
    """
    lon = (a[0] + a[2]) / 2.0
    lat = (a[1] + a[3]) / 2.0
    near_lon = min(max(lon, b[0]), b[2])
    near_lat = min(max(lat, b[1]), b[3])
    p1, p2 = math.radians(lat), math.radians(near_lat)
    dlon = math.radians(lon - near_lon)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _inside(b: Sequence[float], area: Sequence[float], margin: float) -> bool:
    return (b[0] >= area[0] - margin and b[2] <= area[2] + margin
            and b[1] >= area[1] - margin and b[3] <= area[3] + margin)


def likely_crs(bounds: Sequence[float], *,
               expected: Sequence[float] | None = None) -> CRS | None:
    """Return the CRS that coordinates with *bounds* most likely are in, or None.

    * degrees: CGCS2000 longitude/latitude (EPSG:4490);
    * eastings with a zone prefix (``x = zone * 1e6 + 500 000``): that Gauss-Krüger zone;
    * eastings without a prefix (100 000–900 000 m): the CGCS2000 3° Gauss-Krüger zone
      (EPSG:4534–4554) that puts them nearest *expected* (lon/lat bounds of the
      programme); without *expected* the zone cannot be told and None is returned.

    Examples
    --------
    >>> likely_crs((36_512_000.0, 4_000_000.0, 36_513_000.0, 4_001_000.0)).to_epsg()
    4524
    >>> xuchang = (113.4, 33.8, 113.9, 34.3)
    >>> likely_crs((470_000.0, 3_750_000.0, 500_000.0, 3_780_000.0),
    ...            expected=xuchang).to_epsg()   # CM 114°E
    4547
    """
    b = [float(v) for v in bounds]
    if not all(math.isfinite(v) for v in b):
        return None
    if _looks_geographic(b):
        return CRS.from_epsg(4490)
    zoned = _zone_prefixed_crs(b)
    if zoned is not None:
        return zoned
    if expected is None or not (b[0] > 0.0 and b[2] < 1_000_000.0
                                and b[1] >= 0.0 and b[3] <= 6_500_000.0):
        return None
    best: tuple[float, CRS | None] = (math.inf, None)
    for zone in _GK3_ZONES:
        crs = CRS.from_epsg(_GK3_CM_FIRST + zone - _GK3_ZONES[0])
        ll = _to_lonlat(b, crs)
        if ll is None:
            continue
        km = _km_between(ll, expected)
        if km < best[0]:
            best = (km, crs)
    return best[1] if best[0] <= MAX_DISTANCE_KM else None


def check_plausible(
    gdf: Any,
    *,
    expected: Sequence[float] | None = None,
    declared_by: str = "the file",
    file: str | None = None,
    layer: str | None = None,
) -> None:
    """Raise :class:`CRSError` when the coordinates of *gdf* do not fit its CRS.

    Coordinates are implausible when, read in the layer's CRS, they fall outside that
    CRS's area of use (``pyproj.CRS.area_of_use``, with a margin of
    :data:`AREA_OF_USE_MARGIN_DEG`) or more than :data:`MAX_DISTANCE_KM` from
    *expected*, the programme's own extent. The error names the CRS the coordinates
    most likely are in (:func:`likely_crs`), e.g. the Gauss-Krüger zone that fits the
    eastings, as the ``--crs`` to import with.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        A layer with a CRS. A layer without coordinates passes.
    expected : tuple of 4 floats, optional
        (west, south, east, north) in degrees of the programme's city (its other
        layers); None: only the area of use is checked.
    declared_by : str
        Who declared the CRS, for the message (``"--crs 4545"``, ``"the file"``).
    file, layer : str, optional
        Named in the error.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> pts = gpd.GeoSeries([Point(485_000, 3_765_000)], crs=4545)   # Xuchang in CM 114°E
    >>> check_plausible(pts)                       # inside the CM 108°E zone: no error
    >>> try:
    ...     check_plausible(pts, expected=(113.4, 33.8, 113.9, 34.3), declared_by="--crs 4545")
    ... except CRSError as e:
    ...     print(e.hint)
    the coordinates fit EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E): import with --crs 4547
    """
    require_crs(gdf, file=file, layer=layer)
    b = _core_bounds(gdf)
    if not all(math.isfinite(v) for v in b):
        return
    crs = CRS.from_user_input(gdf.crs)
    ll = _to_lonlat(b, crs)
    aou = crs.area_of_use
    problem = None
    if crs.is_geographic and not _looks_geographic(b):
        problem = f"they are not longitude/latitude degrees (bounds {_fmt_bounds(b)})"
    elif ll is None:
        problem = "they do not transform to longitude/latitude"
    elif aou is not None and aou.west <= aou.east \
            and not _inside(ll, aou.bounds, AREA_OF_USE_MARGIN_DEG):
        problem = (f"read in it they lie at {_fmt_lonlat(ll)}, outside its area of use "
                   f"({aou.name}: {_fmt_lonlat(aou.bounds)})")
    elif expected is not None:
        km = _km_between(ll, expected)
        if km > MAX_DISTANCE_KM:
            problem = (f"read in it they lie at {_fmt_lonlat(ll)}, about {km:,.0f} km from "
                       f"the programme's other layers ({_fmt_lonlat(expected)})")
    if problem is None:
        return
    likely = likely_crs(b, expected=expected)
    if likely is not None and likely != crs:
        hint = (f"the coordinates fit {_crs_name(likely)}: import with "
                f"--crs {likely.to_epsg()}")
    else:
        hint = ("check the coordinate system the data was exported in and import with "
                "--crs CODE (e.g. --crs 4490 for CGCS2000 lon/lat; CGCS2000 3° Gauss-Krüger "
                "zones without zone prefix are EPSG:4534–4554, CM 75°E–135°E)")
    raise CRSError(
        f"the coordinates do not fit {_crs_name(crs)} (declared by {declared_by}): {problem}",
        file=file, layer=layer, value=_fmt_bounds(b), hint=hint,
    )


def _core_bounds(gdf: Any) -> tuple[float, float, float, float]:
    """Bounds of the bulk of a layer: the 5th–95th percentile of the feature centres.

    The CRS is a property of the layer; one mistyped point must not decide it (the
    validator reports single rows). Layers of fewer than 20 features use all bounds.
    """
    import shapely

    geoms = np.asarray(getattr(gdf, "geometry", gdf).to_numpy(), dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(geoms):
        return (math.nan,) * 4
    if len(geoms) < 20:
        return tuple(float(v) for v in shapely.total_bounds(geoms))  # type: ignore[return-value]
    bb = shapely.bounds(geoms)
    x, y = (bb[:, 0] + bb[:, 2]) / 2, (bb[:, 1] + bb[:, 3]) / 2
    (x0, x1), (y0, y1) = np.percentile(x, [5, 95]), np.percentile(y, [5, 95])
    return float(x0), float(y0), float(x1), float(y1)


def _fmt_lonlat(b: Sequence[float]) -> str:
    return f"{b[0]:.2f}–{b[2]:.2f}°E, {b[1]:.2f}–{b[3]:.2f}°N"
