"""A programme's layers from an OpenStreetMap extract (从 OpenStreetMap 建立图层).

OpenStreetMap maps the residential areas, buildings, streets, footpaths and everyday
facilities of most cities. This module turns an extract (``.osm.pbf``, read with
`pyrosm <https://pyrosm.readthedocs.io>`_) into gisplan's canonical layers:

- ``compounds`` 小区: ``landuse=residential`` areas, plus ``place=neighbourhood``
  outlines where the city is mapped that way; building counts, footprint and an
  estimated floor area from the buildings inside; build year from ``start_date``;
  households only where tagged (flagged ``households_missing`` otherwise).
- ``facilities`` 设施: amenity, shop, healthcare, social_facility, leisure and
  ``highway=bus_stop`` tags mapped to facility types by the editable table
  ``gisplan/data/osm_facilities.csv``; every tag left unmapped is counted.
- ``roads`` 道路: highways split at every junction (shared OSM nodes, and crossings
  of at-grade ways), ``road_class`` from the same table: trunk, primary and secondary
  roads are arterials (bundling barriers), the rest are not.
- ``utilities`` 管线: power lines; ``districts`` 片区/街道/县区: administrative
  boundaries by ``admin_level``.

Every function on frames takes GeoDataFrames in EPSG:4326 (what pyrosm returns) and
returns a :class:`LayerResult` whose ``report`` counts rows in and out; broken
geometries are repaired and flagged ``geometry_repaired``, and a row that cannot be
repaired is left out with a finding that names it.

Data from OpenStreetMap is © OpenStreetMap contributors, under the Open Database
License (ODbL); :func:`attribution_meta` is what a programme built from it stores.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> pois = gpd.GeoDataFrame({"id": [1, 2], "osm_type": ["node", "node"],
...                          "amenity": ["kindergarten", "bench"]},
...                         geometry=[Point(24.94, 60.17), Point(24.95, 60.17)], crs=4326)
>>> res = facilities_from_osm(pois)
>>> res.frame[["facility_id", "facility_type"]].to_dict("records")
[{'facility_id': 'n1', 'facility_type': 'kindergarten'}]
>>> res.unmapped[["tag", "count"]].to_dict("records")
[{'tag': 'amenity=bench', 'count': 1}]
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan._errors import InputError
from gisplan.crs import analysis_crs
from gisplan.findings import Finding, Report, add_flags

__all__ = [
    "ATTRIBUTION",
    "LICENSE",
    "LayerResult",
    "OsmExtract",
    "OsmLayers",
    "attribution_meta",
    "compounds_from_osm",
    "districts_from_osm",
    "facilities_from_osm",
    "import_osm",
    "load_mapping",
    "osm_layers",
    "read_extract",
    "read_osm_export",
    "roads_from_osm",
    "split_at_shared_vertices",
    "utilities_from_osm",
]

#: The attribution OpenStreetMap's licence asks for on every map and report.
ATTRIBUTION = "© OpenStreetMap contributors"
#: The licence of OpenStreetMap data.
LICENSE = "ODbL-1.0"

Bbox = tuple[float, float, float, float]
MappedLayer = Literal["facilities", "roads", "districts", "utilities"]

#: Keys whose values choose a facility type (the first one present names an unmapped row).
FACILITY_KEYS = ("amenity", "shop", "healthcare", "social_facility", "leisure", "highway")
#: Building values that are not 楼栋 (not counted as buildings of a compound).
NOT_DWELLINGS = frozenset({"garage", "garages", "shed", "carport", "roof", "hut", "kiosk",
                           "toilets", "service", "transformer_tower", "bunker", "ruins",
                           "parking", "greenhouse"})
_NAME_KEYS = ("name", "name:zh", "name:en")
_TYPE_PREFIX = {"node": "n", "way": "w", "relation": "r"}


# ---------------------------------------------------------------- results


@dataclass
class LayerResult:
    """One canonical layer made from OSM data.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        The layer, in EPSG:4326, with canonical columns plus ``osm_id``.
    unmapped : pandas.DataFrame
        Tags read but not mapped (columns ``layer, tag, count``), most frequent first.
    report : Report
        Findings and rows in / out.
    """

    frame: gpd.GeoDataFrame
    unmapped: pd.DataFrame
    report: Report


@dataclass
class OsmExtract:
    """The raw OSM features of an extract, as pyrosm returns them (EPSG:4326)."""

    residential: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    ways: gpd.GeoDataFrame
    power: gpd.GeoDataFrame
    boundaries: gpd.GeoDataFrame
    file: str = "<memory>"
    bbox: Bbox | None = None


@dataclass
class OsmLayers:
    """Every layer made from one extract.

    Attributes
    ----------
    layers : dict of str to GeoDataFrame
        ``compounds``, ``facilities``, ``roads`` and, where mapped, ``utilities`` and
        ``districts``.
    unmapped : pandas.DataFrame
        Tags left unmapped, all layers (``layer, tag, count``).
    report : Report
        Findings of every step; ``report.counts`` has rows in / out per layer.
    meta : dict
        Programme metadata to store (source and attribution, see :func:`attribution_meta`).
    """

    layers: dict[str, gpd.GeoDataFrame]
    unmapped: pd.DataFrame
    report: Report
    meta: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- mapping table


def load_mapping(path: str | Path | None = None) -> pd.DataFrame:
    """Load the OSM tag mapping (``gisplan/data/osm_facilities.csv`` or a city's copy).

    Columns: ``layer`` (facilities, roads, districts, utilities), ``key`` and
    ``value`` (the OSM tag), ``target`` (facility type, road class, district level
    or network), ``walkable`` (roads), ``name_contains`` (a ``|``-separated list of
    words, one of which the name must contain), ``note``. For each feature the
    first row that matches wins, so specific rows come before general ones.

    Examples
    --------
    >>> m = load_mapping()
    >>> m.query("layer == 'roads' and value == 'secondary'")["target"].item()
    'arterial'
    """
    src = Path(path) if path is not None else Path(
        str(resources.files("gisplan.data").joinpath("osm_facilities.csv")))
    table = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = {"layer", "key", "value", "target"} - set(table.columns)
    if missing:
        raise InputError(f"the OSM mapping table lacks the columns {sorted(missing)}",
                         file=str(src), hint="columns: layer,key,value,target,walkable,"
                         "name_contains,note")
    for col in ("walkable", "name_contains", "note"):
        if col not in table.columns:
            table[col] = ""
    return table.apply(lambda s: s.str.strip())


def _rows(mapping: pd.DataFrame, layer: MappedLayer) -> pd.DataFrame:
    return mapping[mapping["layer"] == layer]


def _text(frame: pd.DataFrame, column: str) -> NDArrayObj:
    """Column *column* as an object array of str / None (None where absent)."""
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    s = frame[column]
    return s.astype(object).where(s.notna() & (s.astype(str).str.strip() != ""), None) \
        .to_numpy(dtype=object)


NDArrayObj = np.ndarray


def _apply_mapping(frame: pd.DataFrame, rows: pd.DataFrame, names: NDArrayObj
                   ) -> tuple[NDArrayObj, NDArrayObj]:
    """Target and mapping-row position per feature (None / -1 where no row matches).

    The loop runs over the rows of the mapping table (tens), each step on whole
    columns of the features.
    """
    target = np.full(len(frame), None, dtype=object)
    which = np.full(len(frame), -1, dtype=np.int64)
    name_s = pd.Series(names, dtype=object).fillna("").astype(str)
    for pos, (key, value, tgt, words) in enumerate(
            rows[["key", "value", "target", "name_contains"]].itertuples(index=False)):
        vals = _text(frame, key)
        hit = (vals == value) & (which < 0)
        if words and hit.any():
            pattern = "|".join(re.escape(w) for w in words.split("|") if w)
            hit &= name_s.str.contains(pattern, case=False, regex=True).to_numpy()
        target[hit] = tgt
        which[hit] = pos
    return target, which


def _unmapped(frame: pd.DataFrame, mapped: NDArrayObj, keys: Sequence[str],
              layer: str) -> pd.DataFrame:
    """Count ``key=value`` of the rows left unmapped (first of *keys* present)."""
    left = frame.loc[~mapped]
    tag = pd.Series(None, index=left.index, dtype=object)
    for key in keys:
        vals = pd.Series(_text(left, key), index=left.index)
        tag = tag.where(tag.notna() | vals.isna(), key + "=" + vals.astype(str))
    counts = tag.fillna("(no tag)").value_counts()
    return pd.DataFrame({"layer": layer, "tag": counts.index.astype(str),
                         "count": counts.to_numpy(dtype=np.int64)})


def _report_unmapped(report: Report, unmapped: pd.DataFrame, layer: str, file: str) -> None:
    if unmapped.empty:
        return
    total = int(unmapped["count"].sum())
    report.add_capped(
        (Finding("info", "osm_tag_unmapped",
                 f"{n} features tagged {tag} are not mapped to a {layer} type; left out",
                 file=file, layer=layer, value=tag,
                 hint="add a row to the mapping table (gisplan/data/osm_facilities.csv) "
                 "to keep them")
         for tag, n in zip(unmapped["tag"], unmapped["count"], strict=True)),
        total=len(unmapped))
    report.add(Finding("info", "osm_left_out",
                       f"{total} features of {len(unmapped)} unmapped tags left out of "
                       f"{layer}", file=file, layer=layer))


# ---------------------------------------------------------------- geometry


def _osm_ids(frame: pd.DataFrame) -> NDArrayObj:
    """``w123`` style ids (n node, w way, r relation) from pyrosm's ``id``/``osm_type``."""
    kind = pd.Series(_text(frame, "osm_type"), dtype=object).map(_TYPE_PREFIX).fillna("w")
    ids = pd.Series(frame["id"].to_numpy() if "id" in frame else np.arange(len(frame)))
    return (kind + ids.astype("int64").astype(str)).to_numpy(dtype=object)


def _first_name(frame: pd.DataFrame) -> NDArrayObj:
    """``name``, else ``name:zh``, else ``name:en`` (None where none is tagged)."""
    out = np.full(len(frame), None, dtype=object)
    for key in reversed(_NAME_KEYS):
        vals = _text(frame, key)
        out = np.where(pd.notna(vals), vals, out)
    return out


def _keep_dim(geoms: NDArrayObj, dim: int) -> NDArrayObj:
    """Keep the parts of dimension *dim* of each geometry (empty where there are none)."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    while (coll := shapely.get_type_id(parts) == 7).any():
        inner, j = shapely.get_parts(parts[coll], return_index=True)
        idx = np.concatenate([idx[~coll], idx[coll][j]])
        parts = np.concatenate([parts[~coll], inner])
    keep = shapely.get_dimensions(parts) == dim
    parts, idx = parts[keep], idx[keep]
    out = np.full(len(geoms), None, dtype=object)
    if len(parts):
        multi = shapely.multipolygons if dim == 2 else shapely.multilinestrings
        order = np.argsort(idx, kind="stable")
        parts, idx = parts[order], idx[order]
        present, dense = np.unique(idx, return_inverse=True)
        grouped = (multi(parts, indices=dense) if dim
                   else shapely.multipoints(parts, indices=dense))
        out[present] = grouped
        single = shapely.get_num_geometries(grouped) == 1
        out[present[single]] = shapely.get_geometry(grouped[single], 0)
    empty = shapely.from_wkt("POLYGON EMPTY" if dim == 2 else "LINESTRING EMPTY")
    out[pd.isna(out)] = empty
    return out


def _close_rings(geoms: NDArrayObj) -> tuple[NDArrayObj, NDArrayObj]:
    """Turn unclosed ways (lines with 3+ vertices) into polygons; return which were."""
    lines = np.isin(shapely.get_type_id(geoms), (1, 2))
    if lines.any():
        xy, idx = shapely.get_coordinates(geoms[lines], return_index=True)
        n = np.bincount(idx, minlength=int(lines.sum()))
        ok = n >= 3
        closed = np.full(int(lines.sum()), None, dtype=object)
        if ok.any():
            first = np.r_[0, np.cumsum(n)[:-1]]
            keep = ok[idx]
            ring_xy = np.vstack([xy[keep], xy[first[ok]]])
            ring_idx = np.r_[idx[keep], np.flatnonzero(ok)]
            order = np.argsort(ring_idx, kind="stable")
            closed[ok] = shapely.polygons(shapely.linearrings(ring_xy[order],
                                                              indices=ring_idx[order]))
        geoms = geoms.copy()
        geoms[lines] = closed
    return geoms, lines


def _repair(geoms: Any, dim: int) -> tuple[NDArrayObj, NDArrayObj, NDArrayObj]:
    """Repair geometries to dimension *dim*.

    Returns the repaired geometries, which were repaired, and which are unusable (no
    part of dimension *dim* left).
    """
    g = np.asarray(geoms, dtype=object).copy()
    repaired = np.zeros(len(g), dtype=bool)
    if dim == 2:
        g, repaired = _close_rings(g)
    elif dim == 1:
        polys = np.isin(shapely.get_type_id(g), (3, 6))
        g[polys] = shapely.boundary(g[polys])
    missing = shapely.is_missing(g) | shapely.is_empty(g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bad = ~missing & ~shapely.is_valid(g)
    if bad.any():
        g[bad] = _keep_dim(shapely.make_valid(g[bad]), dim)
        repaired |= bad
    wrong = ~missing & (shapely.get_dimensions(g) != dim)
    if wrong.any():
        g[wrong] = _keep_dim(g[wrong], dim)
        repaired |= wrong
    unusable = shapely.is_missing(g) | shapely.is_empty(g)
    return g, repaired & ~unusable, unusable


def _repair_frame(frame: gpd.GeoDataFrame, dim: int, layer: str, report: Report,
                  file: str) -> gpd.GeoDataFrame:
    """Repair *frame*'s geometry; flag repaired rows; leave out (and name) unusable ones."""
    geoms, repaired, unusable = _repair(frame.geometry.to_numpy(), dim)
    out = frame.copy()
    out["geometry"] = geoms
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs)
    add_flags(out, repaired, "geometry_repaired")
    ids = out["osm_id"].to_numpy(dtype=object) if "osm_id" in out else np.arange(len(out))
    if repaired.any():
        report.add_capped((Finding("warning", "geometry_repaired",
                                   "broken OSM geometry repaired (ring closed, "
                                   "self-intersection fixed or wrong parts removed)",
                                   file=file, layer=layer, value=str(i),
                                   hint="check the outline on the map; fix it in OSM")
                           for i in ids[repaired]), total=int(repaired.sum()))
    _report_unusable(report, ids[unusable], layer, file)
    return out.loc[~unusable]


def _report_unusable(report: Report, ids: NDArrayObj, layer: str, file: str) -> None:
    if len(ids):
        report.add_capped((Finding("warning", "geometry_unusable",
                                   "OSM feature without a usable geometry (too few "
                                   "nodes, or nodes outside the extract); left out",
                                   file=file, layer=layer, value=str(i),
                                   hint="use a larger extract, or fix the way in OSM")
                           for i in ids), total=len(ids))


def _empty(columns: Sequence[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def _year(values: NDArrayObj) -> pd.Series:
    """Return the 4-digit year of ``start_date`` values (``1987``, ``1987-05``, ``~1960``)."""
    s = pd.Series(values, dtype=object).astype("string")
    return pd.to_numeric(s.str.extract(r"(1[89]\d\d|20\d\d)", expand=False),
                         errors="coerce").astype("Int64")


# ---------------------------------------------------------------- compounds


def _residential_areas(residential: gpd.GeoDataFrame, report: Report, file: str
                       ) -> gpd.GeoDataFrame:
    """Select residential areas, and neighbourhood outlines they do not cover.

    ``place=neighbourhood`` outlines are kept where at least half of their area lies
    outside every ``landuse=residential`` area.
    """
    res = residential.copy()
    res["osm_id"] = _osm_ids(res)
    res = _repair_frame(res, 2, "compounds", report, file)
    landuse = pd.Series(_text(res, "landuse"), index=res.index) == "residential"
    hood = ~landuse & (pd.Series(_text(res, "place"), index=res.index) == "neighbourhood")
    if hood.any() and landuse.any():
        covered = shapely.union_all(res.geometry[landuse].to_numpy())
        g = res.geometry[hood].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # areas in degrees: a ratio only
            share = shapely.area(shapely.intersection(g, covered)) / shapely.area(g)
        dup = pd.Series(share >= 0.5, index=res.index[hood])
        if dup.any():
            report.add(Finding("info", "neighbourhood_covered",
                               f"{int(dup.sum())} place=neighbourhood outlines left out: "
                               "residential areas (landuse=residential) already cover them",
                               file=file, layer="compounds"))
            hood[dup[dup].index] = False
    return res.loc[landuse | hood]


def _building_stats(areas: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame
                    ) -> pd.DataFrame:
    """Per area: buildings inside, footprint, floor area (estimated), years, flats.

    A building belongs to every area that holds its representative point (an STRtree
    query, no loop over rows).
    """
    n = len(areas)
    cols = ["buildings", "footprint_m2", "floor_area_m2", "levels_share",
            "built_year_buildings", "flats"]
    if n == 0 or buildings is None or len(buildings) == 0:
        return pd.DataFrame({c: np.zeros(n) if c == "buildings" else np.nan for c in cols})
    kind = pd.Series(_text(buildings, "building"), dtype=object)
    b = buildings.loc[~kind.isin(NOT_DWELLINGS).to_numpy()]
    metric = analysis_crs(areas, layer="compounds")
    bg = _repair(b.geometry.to_crs(metric).to_numpy(), 2)[0]
    tree = shapely.STRtree(areas.geometry.to_crs(metric).to_numpy())
    bi, ai = tree.query(shapely.point_on_surface(bg), predicate="within")
    area = shapely.area(bg)[bi]
    levels = pd.to_numeric(pd.Series(_text(b, "building:levels")), errors="coerce").to_numpy()
    levels = np.where((levels > 0) & (levels < 200), levels, np.nan)[bi]
    tagged = ~np.isnan(levels)
    count = np.bincount(ai, minlength=n)
    foot = np.bincount(ai, weights=area, minlength=n)
    t_area = np.bincount(ai, weights=np.where(tagged, area, 0.0), minlength=n)
    t_floor = np.bincount(ai, weights=np.where(tagged, area * np.nan_to_num(levels), 0.0),
                          minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_levels = t_floor / t_area
        floor = np.where(t_area > 0, t_floor + (foot - t_area) * mean_levels, np.nan)
        share = np.where(foot > 0, t_area / foot, np.nan)
    years = _year(_text(b, "start_date")).to_numpy(dtype="float64", na_value=np.nan)[bi]
    year = pd.Series(years).groupby(ai).median().reindex(range(n)).to_numpy()
    flats = pd.to_numeric(pd.Series(_text(b, "building:flats")), errors="coerce").to_numpy()[bi]
    has_flats = ~np.isnan(flats)
    flat_sum = np.where(np.bincount(ai, weights=has_flats, minlength=n) > 0,
                        np.bincount(ai, weights=np.nan_to_num(flats), minlength=n), np.nan)
    return pd.DataFrame({"buildings": count, "footprint_m2": foot, "floor_area_m2": floor,
                         "levels_share": share, "built_year_buildings": year,
                         "flats": flat_sum})


def compounds_from_osm(residential: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None,
                       *, file: str = "<memory>") -> LayerResult:
    """Compounds 小区 from residential areas and the buildings inside them.

    Parameters
    ----------
    residential : GeoDataFrame
        OSM features tagged ``landuse=residential`` or ``place=neighbourhood`` (EPSG:4326)
        with pyrosm's ``id``, ``osm_type`` and tag columns (``name``, ``name:zh``,
        ``name:en``, ``start_date``, ``households``).
    buildings : GeoDataFrame or None
        OSM buildings (``building``, ``building:levels``, ``start_date``,
        ``building:flats``).
    file : str
        The extract, named in findings.

    Returns
    -------
    LayerResult
        ``frame`` has ``compound_id`` (``w123`` / ``r123``), ``name``, ``built_year``,
        ``households``, ``buildings``, ``footprint_m2``, ``floor_area_m2`` and
        ``osm_id``; flags ``name_missing``, ``floor_area_estimated``,
        ``floor_area_missing``, ``built_year_from_buildings``, ``built_year_missing``,
        ``households_from_flats``, ``households_missing``, ``geometry_repaired``.
        The floor area is the buildings' footprint times their ``building:levels``;
        buildings without levels get the area-weighted mean of the tagged ones.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> res = gpd.GeoDataFrame({"id": [7], "osm_type": ["way"], "landuse": ["residential"],
    ...                         "name": ["东园小区"]},
    ...                        geometry=[box(106.0, 36.0, 106.002, 36.002)], crs=4326)
    >>> bld = gpd.GeoDataFrame({"building": ["residential"], "building:levels": ["6"]},
    ...                        geometry=[box(106.0005, 36.0005, 106.0008, 36.0008)], crs=4326)
    >>> c = compounds_from_osm(res, bld).frame
    >>> c[["compound_id", "name", "buildings"]].to_dict("records")
    [{'compound_id': 'w7', 'name': '东园小区', 'buildings': 1}]
    >>> round(c["floor_area_m2"].item() / c["footprint_m2"].item(), 1), c["flags"].item()
    (6.0, 'floor_area_estimated;built_year_missing;households_missing')
    """
    report = Report()
    rows_in = len(residential)
    areas = _residential_areas(residential, report, file)
    if areas.empty:
        raise InputError("the extract holds no residential areas (landuse=residential or "
                         "place=neighbourhood outlines)", file=file, layer="compounds",
                         hint="choose an extract or --bbox that covers the city's housing")
    areas = areas.reset_index(drop=True)
    stats = _building_stats(areas, buildings)
    frame = _compound_columns(areas, stats)
    frame = gpd.GeoDataFrame(frame, geometry=areas.geometry.to_numpy(), crs=areas.crs)
    _flag_compounds(frame, areas, stats, report, file)
    frame = frame.drop(columns=["flags"]).assign(flags=frame["flags"])
    report.count("compounds", rows_in, len(frame), flagged=int((frame["flags"] != "").sum()))
    return LayerResult(frame, pd.DataFrame(columns=["layer", "tag", "count"]), report)


def _compound_columns(areas: gpd.GeoDataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    ids = areas["osm_id"].to_numpy(dtype=object)
    name = _first_name(areas)
    unnamed = pd.isna(name)
    name = np.where(unnamed, "未命名小区 unnamed " + pd.Series(ids).astype(str), name)
    own_year = _year(_text(areas, "start_date"))
    year = own_year.fillna(pd.Series(stats["built_year_buildings"].round()).astype("Int64"))
    households = pd.to_numeric(pd.Series(_text(areas, "households")), errors="coerce")
    households = households.fillna(stats["flats"]).round().astype("Int64")
    return pd.DataFrame({
        "compound_id": ids, "name": name, "built_year": year, "households": households,
        "buildings": stats["buildings"].astype("int64"),
        "footprint_m2": stats["footprint_m2"].round(1),
        "floor_area_m2": stats["floor_area_m2"].round(0),
        "levels_tagged_share": stats["levels_share"].round(3),
        "landuse": _text(areas, "landuse"), "place": _text(areas, "place"),
        "osm_id": ids, "flags": areas["flags"].fillna("").to_numpy(dtype=object)
        if "flags" in areas else "",
    })


def _flag_compounds(frame: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, stats: pd.DataFrame,
                    report: Report, file: str) -> None:
    """Flag, per compound, what OSM does not say (and say how many overall)."""
    own_year = _year(_text(areas, "start_date")).notna().to_numpy()
    own_hh = pd.to_numeric(pd.Series(_text(areas, "households")), errors="coerce").notna()
    checks = [
        ("name_missing", pd.isna(_first_name(areas)),
         "residential areas without a name (name, name:zh, name:en); named 未命名小区"),
        ("floor_area_estimated", stats["floor_area_m2"].notna().to_numpy(),
         "floor areas estimated from building footprints × building:levels"),
        ("floor_area_missing", stats["floor_area_m2"].isna().to_numpy(),
         "compounds without floor area (no building inside has building:levels)"),
        ("built_year_from_buildings", ~own_year & frame["built_year"].notna().to_numpy(),
         "build years taken from the buildings' start_date (median)"),
        ("built_year_missing", frame["built_year"].isna().to_numpy(),
         "compounds without build year (no start_date is mapped)"),
        ("households_from_flats", ~own_hh.to_numpy() & frame["households"].notna().to_numpy(),
         "households summed from the buildings' building:flats (partial where some "
         "buildings lack it)"),
        ("households_missing", frame["households"].isna().to_numpy(),
         "compounds without households: OSM rarely maps them; enter them from the "
         "programme's own list"),
    ]
    for code, mask, message in checks:
        n = add_flags(frame, mask, code)
        if n:
            severity: Any = "warning" if code.endswith("_missing") else "info"
            report.add(Finding(severity, code, f"{n} of {len(frame)} {message}",
                               file=file, layer="compounds"))


# ---------------------------------------------------------------- facilities


def facilities_from_osm(pois: gpd.GeoDataFrame, *, mapping: pd.DataFrame | None = None,
                        file: str = "<memory>") -> LayerResult:
    """Facilities 设施 from OSM points of interest, by the mapping table.

    Parameters
    ----------
    pois : GeoDataFrame
        OSM features with tag columns (``amenity``, ``shop``, ``healthcare``,
        ``social_facility``, ``leisure``, ``highway``, names); points, lines or areas.
    mapping : DataFrame, optional
        The tag mapping (:func:`load_mapping`); default the table shipped with gisplan.
    file : str
        The extract, named in findings.

    Returns
    -------
    LayerResult
        ``frame``: one point per mapped feature (areas by a point on their surface)
        with ``facility_id``, ``facility_type``, ``name``, ``osm_tag``, ``osm_id``;
        ``unmapped``: the tags left out, counted. Rows in = mapped + unmapped.
    """
    mapping = load_mapping() if mapping is None else mapping
    report = Report()
    rows = _rows(mapping, "facilities")
    if pois is None or len(pois) == 0:
        report.count("facilities", 0, 0)
        return LayerResult(_empty(["facility_id", "facility_type", "name", "osm_id"]),
                           _unmapped(pd.DataFrame(), np.zeros(0, bool), (), "facilities"),
                           report)
    pois = pois.reset_index(drop=True)
    names = _first_name(pois)
    target, which = _apply_mapping(pois, rows, names)
    mapped = which >= 0
    unmapped = _unmapped(pois, mapped, FACILITY_KEYS, "facilities")
    _report_unmapped(report, unmapped, "facilities", file)
    sel = pois.loc[mapped].copy()
    sel["osm_id"] = _osm_ids(sel)
    geoms = sel.geometry.to_numpy().copy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        broken = ~missing & ~shapely.is_valid(geoms)
    geoms[broken] = shapely.make_valid(geoms[broken])
    add_flags(sel, broken, "geometry_repaired")
    _report_unusable(report, sel["osm_id"].to_numpy(dtype=object)[missing], "facilities", file)
    keep = ~missing
    sel, geoms = sel.loc[keep], geoms[keep]
    used = rows.iloc[which[mapped][keep]]
    pts = shapely.point_on_surface(geoms)
    frame = gpd.GeoDataFrame({
        "facility_id": sel["osm_id"].to_numpy(dtype=object),
        "facility_type": target[mapped][keep],
        "name": names[mapped][keep],
        "osm_tag": (used["key"] + "=" + used["value"]).to_numpy(dtype=object),
        "osm_id": sel["osm_id"].to_numpy(dtype=object),
        "flags": sel["flags"].fillna("").to_numpy(dtype=object) if "flags" in sel else "",
    }, geometry=pts, crs=pois.crs)
    report.count("facilities", len(pois), len(frame))
    return LayerResult(frame, unmapped, report)


# ---------------------------------------------------------------- roads


def split_at_shared_vertices(lines: Any, *, among: Any = None
                             ) -> tuple[NDArrayObj, NDArrayObj]:
    """Split lines at inner vertices that another line also passes through.

    This is how OSM ways meet: a junction is a node shared by the ways. The split is
    done on the coordinate arrays (no loop over lines).

    Parameters
    ----------
    lines : array-like of LineString
        The lines to split.
    among : array-like of LineString, optional
        All lines whose vertices count as junctions (default: *lines*).

    Returns
    -------
    parts : ndarray of LineString
    source : ndarray of int
        Position in *lines* of each part.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> parts, src = split_at_shared_vertices(
    ...     [LineString([(0, 0), (1, 0), (2, 0)]), LineString([(1, -1), (1, 0), (1, 1)])])
    >>> [p.wkt for p in parts], src.tolist()
    (['LINESTRING (0 0, 1 0)', 'LINESTRING (1 0, 2 0)', 'LINESTRING (1 -1, 1 0)', \
'LINESTRING (1 0, 1 1)'], [0, 0, 1, 1])
    """
    lines = np.asarray(lines, dtype=object)
    if len(lines) == 0:
        return lines, np.zeros(0, dtype=np.int64)
    xy, idx = shapely.get_coordinates(lines, return_index=True)
    others = lines if among is None else np.asarray(among, dtype=object)
    oxy, oidx = (xy, idx) if among is None else shapely.get_coordinates(others,
                                                                        return_index=True)
    allxy = np.vstack([xy, oxy])
    key = np.unique(allxy, axis=0, return_inverse=True)[1].reshape(-1)
    owner = np.r_[idx, oidx + (0 if among is None else len(lines) + 1)]
    pairs = np.unique(np.c_[key, owner], axis=0)
    per_key = np.bincount(pairs[:, 0], minlength=int(key.max()) + 1)
    first = np.r_[True, idx[1:] != idx[:-1]]
    last = np.r_[idx[1:] != idx[:-1], True]
    split = (per_key[key[: len(xy)]] > 1) & ~first & ~last
    rep = 1 + split.astype(np.int64)
    cum = np.cumsum(rep)
    xy2 = np.repeat(xy, rep, axis=0)
    idx2 = np.repeat(idx, rep)
    starts = np.zeros(len(xy2), dtype=bool)
    starts[(cum - rep)[first]] = True  # a line's first vertex
    starts[(cum - 1)[split]] = True  # the second copy of a junction vertex
    piece = np.cumsum(starts) - 1
    parts = shapely.linestrings(xy2, indices=piece)
    source = idx2[np.flatnonzero(starts)]
    return np.asarray(parts, dtype=object), source.astype(np.int64)


def _elevated(ways: pd.DataFrame) -> NDArrayObj:
    """Ways on bridges, in tunnels or on a layer other than 0 (not noded at crossings)."""
    bridge = pd.Series(_text(ways, "bridge")).fillna("no").isin(["no"]).to_numpy()
    tunnel = pd.Series(_text(ways, "tunnel")).fillna("no").isin(["no"]).to_numpy()
    layer = pd.Series(_text(ways, "layer")).fillna("0").isin(["0"]).to_numpy()
    return ~(bridge & tunnel & layer)


def _node_roads(lines: NDArrayObj, elevated: NDArrayObj) -> tuple[NDArrayObj, NDArrayObj]:
    """Split ways at shared nodes; split at-grade ways also where they cross."""
    from gisplan.network import node_lines

    parts, src = split_at_shared_vertices(lines)
    if len(parts) == 0:
        return parts, src
    up = elevated[src]
    ground = np.flatnonzero(~up)
    out_parts, out_src = [parts[up]], [src[up]]
    if len(ground):
        noded, nsrc = node_lines(parts[ground])
        ok = nsrc >= 0
        out_parts.append(noded[ok])
        out_src.append(src[ground][nsrc[ok]])
    return np.concatenate(out_parts), np.concatenate(out_src)


def roads_from_osm(ways: gpd.GeoDataFrame, *, mapping: pd.DataFrame | None = None,
                   file: str = "<memory>") -> LayerResult:
    """Roads 道路 from OSM highways, split at every junction.

    Ways meet where they share a node; at-grade ways (no ``bridge``, ``tunnel`` or
    ``layer``) are also split where they cross without one, so the walking network is
    connected as it is on the ground while bridges stay above the streets they cross.

    Parameters
    ----------
    ways : GeoDataFrame
        OSM ways with ``highway`` (and ``name``, ``bridge``, ``tunnel``, ``layer``,
        ``foot``, ``access``) columns.
    mapping : DataFrame, optional
        The tag mapping (:func:`load_mapping`); ``roads`` rows give ``road_class`` and
        ``walkable`` per ``highway`` value.
    file : str
        The extract, named in findings.

    Returns
    -------
    LayerResult
        ``frame``: one row per part, ``road_id`` (``w123-0``, ``w123-1``, ...),
        ``osm_id``, ``name``, ``highway``, ``road_class``, ``walkable``. Rows in = the
        ways mapped; every one of them is in the output (``report.counts['roads']``
        counts ways, an ``info`` finding the parts).
    """
    mapping = load_mapping() if mapping is None else mapping
    report = Report()
    ways = ways.reset_index(drop=True)
    target, which = _apply_mapping(ways, _rows(mapping, "roads"), _first_name(ways))
    mapped = which >= 0
    unmapped = _unmapped(ways, mapped, ("highway",), "roads")
    _report_unmapped(report, unmapped, "roads", file)
    sel = ways.loc[mapped].assign(road_class=target[mapped],
                                  walkable=_rows(mapping, "roads")["walkable"].iloc[
                                      which[mapped]].str.lower().ne("false").to_numpy())
    sel["osm_id"] = _osm_ids(sel)
    sel = _repair_frame(sel, 1, "roads", report, file).reset_index(drop=True)
    foot = pd.Series(_text(sel, "foot")).fillna("")
    access = pd.Series(_text(sel, "access")).fillna("")
    no_foot = (foot.eq("no") | (access.eq("no") & ~foot.isin(["yes", "designated"])))
    sel.loc[no_foot.to_numpy(), "walkable"] = False
    lines = shapely.get_parts(sel.geometry.to_numpy(), return_index=True)
    parts, src = _node_roads(lines[0], _elevated(sel)[lines[1]])
    way = lines[1][src]
    frame = _road_frame(sel, parts, way)
    lost = np.setdiff1d(np.arange(len(sel)), way)
    if len(lost):
        report.add(Finding("warning", "way_merged",
                           f"{len(lost)} ways run on top of another way over their whole "
                           "length and are represented by it", file=file, layer="roads",
                           value=", ".join(sel["osm_id"].iloc[lost].astype(str)[:20])))
    report.add(Finding("info", "roads_noded",
                       f"{len(sel)} ways split at junctions into {len(frame)} road parts",
                       file=file, layer="roads"))
    report.count("roads", len(ways), len(np.unique(way)) + len(lost),
                 flagged=int((frame["flags"] != "").sum()))
    return LayerResult(frame, unmapped, report)


def _road_frame(sel: gpd.GeoDataFrame, parts: NDArrayObj, way: NDArrayObj
                ) -> gpd.GeoDataFrame:
    order = np.lexsort((shapely.get_coordinates(shapely.get_point(parts, 0))[:, 0], way))
    parts, way = parts[order], way[order]
    k = pd.Series(way).groupby(way).cumcount().to_numpy()
    osm_id = sel["osm_id"].to_numpy(dtype=object)[way]
    flags = sel["flags"].fillna("").to_numpy(dtype=object)[way] if "flags" in sel \
        else np.full(len(way), "", dtype=object)
    return gpd.GeoDataFrame({
        "road_id": pd.Series(osm_id).astype(str) + "-" + pd.Series(k).astype(str),
        "name": _first_name(sel)[way],
        "road_class": sel["road_class"].to_numpy(dtype=object)[way],
        "walkable": sel["walkable"].to_numpy(dtype=bool)[way],
        "highway": _text(sel, "highway")[way],
        "osm_id": osm_id, "flags": flags,
    }, geometry=parts, crs=sel.crs)


# ---------------------------------------------------------------- utilities, districts


def utilities_from_osm(power: gpd.GeoDataFrame | None, *, mapping: pd.DataFrame | None = None,
                       file: str = "<memory>") -> LayerResult:
    """Utilities 管线 from OSM power lines (``power=line/minor_line/cable``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> pw = gpd.GeoDataFrame({"id": [5], "osm_type": ["way"], "power": ["line"],
    ...                        "operator": ["国网"]},
    ...                       geometry=[LineString([(106, 36), (106.01, 36)])], crs=4326)
    >>> utilities_from_osm(pw).frame[["utility_id", "network", "owner"]].values.tolist()
    [['w5', 'power', '国网']]
    """
    return _simple_layer(power, "utilities", mapping, file, dim=1, columns={
        "utility_id": "osm_id", "network": "target", "owner": "operator",
        "voltage": "voltage", "name": "name"})


def districts_from_osm(boundaries: gpd.GeoDataFrame | None, *,
                       mapping: pd.DataFrame | None = None,
                       file: str = "<memory>") -> LayerResult:
    """Districts 片区/街道/县区 from administrative boundaries, by ``admin_level``.

    In China ``admin_level`` 6 (and 7) are 县区 (``county``), 8 (and 9) 街道/乡镇
    (``street``); other levels are counted in ``unmapped``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> b = gpd.GeoDataFrame({"id": [9, 10], "osm_type": ["relation"] * 2,
    ...                       "admin_level": ["6", "4"], "name": ["原州区", "宁夏"]},
    ...                      geometry=[box(106, 36, 106.1, 36.1)] * 2, crs=4326)
    >>> r = districts_from_osm(b)
    >>> r.frame[["district_id", "name", "level"]].values.tolist(), r.unmapped["tag"].tolist()
    ([['r9', '原州区', 'county']], ['admin_level=4'])
    """
    return _simple_layer(boundaries, "districts", mapping, file, dim=2, columns={
        "district_id": "osm_id", "name": "name", "level": "target",
        "admin_level": "admin_level"})


def _simple_layer(features: gpd.GeoDataFrame | None, layer: MappedLayer,
                  mapping: pd.DataFrame | None, file: str, *, dim: int,
                  columns: dict[str, str]) -> LayerResult:
    mapping = load_mapping() if mapping is None else mapping
    report = Report()
    rows = _rows(mapping, layer)
    if features is None or len(features) == 0:
        report.count(layer, 0, 0)
        return LayerResult(_empty(list(columns)), _unmapped(pd.DataFrame(), np.zeros(0, bool),
                                                            (), layer), report)
    features = features.reset_index(drop=True)
    names = _first_name(features)
    target, which = _apply_mapping(features, rows, names)
    mapped = which >= 0
    unmapped = _unmapped(features, mapped, tuple(rows["key"].unique()), layer)
    _report_unmapped(report, unmapped, layer, file)
    sel = features.loc[mapped].assign(target=target[mapped], name=names[mapped])
    sel["osm_id"] = _osm_ids(sel)
    sel = _repair_frame(sel, dim, layer, report, file)
    frame = gpd.GeoDataFrame({new: _text(sel, old) for new, old in columns.items()}
                             | {"osm_id": sel["osm_id"].to_numpy(dtype=object),
                                "flags": sel["flags"].fillna("").to_numpy(dtype=object)},
                             geometry=sel.geometry.to_numpy(), crs=features.crs)
    report.count(layer, len(features), len(frame))
    return LayerResult(frame, unmapped, report)


# ---------------------------------------------------------------- exports (--vocab osm)

#: Layers ``gisplan import --vocab osm`` makes from an Overpass or QuickOSM export.
EXPORT_LAYERS = ("compounds", "facilities", "roads", "utilities", "districts")
_OSM_REF = re.compile(r"^\s*(node|way|relation)/(\d+)\s*$")
_SHORT_REF = re.compile(r"^\s*([nwr])(\d+)\s*$")


def _export_ids(frame: gpd.GeoDataFrame, file: str) -> pd.DataFrame:
    """Return pyrosm's ``id`` and ``osm_type`` from an export's ``@id`` or ``osm_id`` column.

    Overpass Turbo writes ``@id`` = ``way/123``; QuickOSM writes ``osm_id`` (with
    ``osm_type``, or ``full_id`` = ``w123``). Without ``osm_type`` a point is a node and
    anything else a way.
    """
    long_form = {"n": "node", "w": "way", "r": "relation"}
    for col in ("@id", "id", "full_id"):
        if col in frame.columns:
            text = frame[col].astype(str)
            ref = text.str.extract(_OSM_REF)
            short = text.str.extract(_SHORT_REF)
            kind = ref[0].fillna(short[0].map(long_form))
            num = ref[1].fillna(short[1])
            if num.notna().all() and len(frame):
                return pd.DataFrame({"id": num.astype("int64").to_numpy(),
                                     "osm_type": kind.to_numpy(dtype=object)})
    if "osm_id" in frame.columns:
        num = pd.to_numeric(frame["osm_id"], errors="coerce")
        if num.notna().all():
            if "osm_type" in frame.columns:
                kind = frame["osm_type"].astype(str).str.lower().to_numpy(dtype=object)
            else:
                point = shapely.get_type_id(frame.geometry.to_numpy()) == 0
                kind = np.where(point, "node", "way").astype(object)
            return pd.DataFrame({"id": num.astype("int64").to_numpy(), "osm_type": kind})
    raise InputError("--vocab osm: the file has no OSM id column (@id or osm_id) with an id "
                     "in every row", file=file,
                     hint="export from Overpass Turbo (GeoJSON, keeps @id) or QuickOSM "
                     "(keeps osm_id and osm_type); or import without --vocab osm and map the "
                     "columns with --map")


def read_osm_export(path: str | Path, layer_kind: str, *, layer: str | None = None,
                    mapping: pd.DataFrame | None = None) -> LayerResult:
    """Make a canonical layer from an Overpass Turbo or QuickOSM export (GeoJSON, GPKG).

    The OSM tags stay as exported (``amenity``, ``highway``, ``name``, ...); they are
    mapped by the same table as ``gisplan import-osm`` (:func:`load_mapping`), ids
    come from ``@id`` (``way/123`` → ``w123``) or ``osm_id``, and tags left unmapped are
    counted in ``unmapped`` and the report.

    Parameters
    ----------
    path : str or Path
        The export.
    layer_kind : {"compounds", "facilities", "roads", "utilities", "districts"}
        The layer to make.
    layer : str, optional
        Layer inside a GeoPackage; None: the first.
    mapping : DataFrame, optional
        The tag mapping; default the table shipped with gisplan.

    Returns
    -------
    LayerResult

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "export.geojson"
    >>> feats = [{"type": "Feature", "id": "node/1",
    ...           "properties": {"@id": "node/1", "amenity": "pharmacy", "name": "Apteekki"},
    ...           "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}}]
    >>> _ = f.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    >>> read_osm_export(f, "facilities").frame[["facility_id", "facility_type"]].values.tolist()
    [['n1', 'pharmacy']]
    """
    import pyogrio

    from gisplan.crs import require_crs

    file = str(path)
    if layer_kind not in EXPORT_LAYERS:
        raise InputError(f"--vocab osm makes {', '.join(EXPORT_LAYERS)}, not {layer_kind}",
                         value=layer_kind, hint="choose one of these with --layer")
    try:
        raw = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio/GDAL errors carry GDAL's message
        raise InputError(f"cannot read the file: {exc}", file=file,
                         hint="export GeoJSON or GeoPackage from Overpass Turbo or QuickOSM"
                         ) from exc
    require_crs(raw, file=file, layer=layer)
    raw = raw.to_crs(4326).reset_index(drop=True)
    ids = _export_ids(raw, file)
    tags = raw.drop(columns=[c for c in ("id", "osm_type") if c in raw.columns])
    frame = gpd.GeoDataFrame(pd.concat([ids, pd.DataFrame(tags)], axis=1),
                             geometry=raw.geometry.name, crs=raw.crs)
    if layer_kind == "compounds":
        bld = pd.Series(_text(frame, "building"), index=frame.index).notna()
        return compounds_from_osm(frame.loc[~bld.to_numpy()], frame.loc[bld.to_numpy()],
                                  file=file)
    makers = {"facilities": facilities_from_osm, "roads": roads_from_osm,
              "utilities": utilities_from_osm, "districts": districts_from_osm}
    result: LayerResult = makers[layer_kind](frame, mapping=mapping, file=file)
    return result


# ---------------------------------------------------------------- reading an extract

_RESIDENTIAL_TAGS = ["name", "name:zh", "name:en", "start_date", "households", "landuse",
                     "place", "residential"]
_POI_TAGS = [*FACILITY_KEYS, "name", "name:zh", "name:en", "operator", "vending"]
_WAY_TAGS = ["highway", "name", "name:zh", "name:en", "bridge", "tunnel", "layer", "foot",
             "access"]


def _check_bbox(bbox: Sequence[float] | None) -> Bbox | None:
    if bbox is None:
        return None
    w, s, e, n = (float(v) for v in bbox)
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InputError("the bounding box must be W,S,E,N in degrees with W < E and S < N",
                         value=",".join(str(v) for v in bbox),
                         hint="e.g. --bbox 24.92,60.16,24.96,60.18")
    return (w, s, e, n)


def _frame(result: Any) -> gpd.GeoDataFrame:
    """Pyrosm returns None when nothing matches; make that an empty frame."""
    if result is None or len(result) == 0:
        return _empty(["id", "osm_type"])
    return gpd.GeoDataFrame(result, geometry="geometry", crs=4326)


def read_extract(path: str | Path, *, bbox: Sequence[float] | None = None) -> OsmExtract:
    """Read the features gisplan needs from an ``.osm.pbf`` extract (with pyrosm).

    Parameters
    ----------
    path : str or Path
        The extract (Geofabrik, BBBike, ``osmium extract`` ...).
    bbox : sequence of 4 floats, optional
        ``(west, south, east, north)`` in degrees: read only this part.

    Raises
    ------
    InputError
        When the file is missing or not an OSM PBF file, the bbox is malformed, or
        nothing of the extract lies inside the bbox.
    """
    import pyrosm

    path = Path(path)
    box = _check_bbox(bbox)
    if not path.is_file():
        raise InputError("file not found", file=str(path), hint="give the .osm.pbf extract")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ext = _read_pyrosm(pyrosm.OSM(str(path), bounding_box=list(box) if box else None),
                               str(path))
    except InputError:
        raise
    except Exception as exc:  # pyrosm raises DecodeError, PBFException, ValueError ...
        raise InputError(f"not a readable OpenStreetMap PBF extract ({type(exc).__name__}: "
                         f"{str(exc)[:200]})", file=str(path),
                         hint="download the extract again (Geofabrik, BBBike) or check it "
                         "with `osmium fileinfo`") from None
    ext.bbox = box
    if box is not None and all(len(f) == 0 for f in (ext.residential, ext.pois, ext.ways)):
        raise InputError(f"no OSM data inside the bounding box {box}", file=str(path),
                         hint="the bbox must lie inside the extract; it is W,S,E,N in "
                         "degrees (longitude first)")
    return ext


def _read_pyrosm(osm: Any, file: str) -> OsmExtract:
    """Read the six feature sets of one extract (pyrosm keeps the decoded file)."""
    ways_only = {"keep_nodes": False}
    residential = osm.get_data_by_custom_criteria(
        {"landuse": ["residential"], "place": ["neighbourhood"]}, tags_as_columns=_RESIDENTIAL_TAGS,
        **ways_only)
    buildings = osm.get_buildings(extra_attributes=["building:flats", "building:levels",
                                                    "start_date"])
    pois = osm.get_data_by_custom_criteria(
        {"amenity": True, "shop": True, "healthcare": True, "social_facility": True,
         "leisure": True, "highway": ["bus_stop"]}, tags_as_columns=_POI_TAGS)
    ways = osm.get_data_by_custom_criteria({"highway": True}, tags_as_columns=_WAY_TAGS,
                                           keep_nodes=False, keep_relations=False)
    power = osm.get_data_by_custom_criteria(
        {"power": ["line", "minor_line", "cable"]}, tags_as_columns=["power", "operator",
                                                                     "voltage", "name"],
        keep_nodes=False, keep_relations=False)
    bounds = osm.get_data_by_custom_criteria(
        {"boundary": ["administrative"]}, tags_as_columns=["admin_level", "name", "name:zh",
                                                           "name:en"], keep_nodes=False)
    frames = [_frame(f) for f in (residential, buildings, pois, ways, power, bounds)]
    return OsmExtract(frames[0], frames[1], frames[2], frames[3], frames[4], frames[5],
                      file=file)


def attribution_meta(file: str | Path, *, bbox: Bbox | None = None) -> dict[str, Any]:
    """Programme metadata naming OpenStreetMap as the source (ODbL attribution).

    Maps and reports show ``meta["attribution"]``; ``meta["sources"]`` lists the
    extract as DESIGN.md's ``sources`` entries do.

    Examples
    --------
    >>> attribution_meta("helsinki.osm.pbf")["attribution"]
    '© OpenStreetMap contributors (ODbL)'
    """
    return {
        "attribution": f"{ATTRIBUTION} (ODbL)",
        "sources": [{"title": "OpenStreetMap", "file": Path(file).name, "license": LICENSE,
                     "attribution": ATTRIBUTION,
                     "url": "https://www.openstreetmap.org/copyright"}],
        "osm": {"file": Path(file).name, "bbox": list(bbox) if bbox else None,
                "imported": dt.date.today().isoformat()},
    }


def osm_layers(extract: OsmExtract, *, mapping: pd.DataFrame | None = None) -> OsmLayers:
    """Make every canonical layer from the features of one extract.

    Raises
    ------
    InputError
        When the extract holds no residential area.
    """
    mapping = load_mapping() if mapping is None else mapping
    file = extract.file
    results = {
        "compounds": compounds_from_osm(extract.residential, extract.buildings, file=file),
        "facilities": facilities_from_osm(extract.pois, mapping=mapping, file=file),
        "roads": roads_from_osm(extract.ways, mapping=mapping, file=file),
        "utilities": utilities_from_osm(extract.power, mapping=mapping, file=file),
        "districts": districts_from_osm(extract.boundaries, mapping=mapping, file=file),
    }
    report = Report()
    for res in results.values():
        report.merge(res.report)
    layers = {k: r.frame for k, r in results.items()
              if k in ("compounds", "facilities", "roads") or len(r.frame)}
    unmapped = pd.concat([r.unmapped for r in results.values()], ignore_index=True)
    return OsmLayers(layers, unmapped, report, attribution_meta(file, bbox=extract.bbox))


def import_osm(path: str | Path, *, bbox: Sequence[float] | None = None,
               mapping: str | Path | pd.DataFrame | None = None) -> OsmLayers:
    """Read an extract and make the programme's layers (the adapter of this module).

    Parameters
    ----------
    path : str or Path
        The ``.osm.pbf`` extract.
    bbox : sequence of 4 floats, optional
        ``(west, south, east, north)`` in degrees.
    mapping : path or DataFrame, optional
        A city's own tag mapping table; default the one shipped with gisplan.

    Examples
    --------
    >>> import pyrosm
    >>> out = import_osm(pyrosm.get_data("test_pbf"))
    >>> sorted(out.layers), out.meta["attribution"]
    (['compounds', 'facilities', 'roads', 'utilities'], '© OpenStreetMap contributors (ODbL)')
    """
    table = mapping if isinstance(mapping, pd.DataFrame) else load_mapping(mapping)
    return osm_layers(read_extract(path, bbox=bbox), mapping=table)
