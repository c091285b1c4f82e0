"""Spatial joins of compounds (小区) to districts, utility networks and facilities.

* :func:`join_districts`: each compound to its 片区 / 街道 / 县区 by largest overlap share;
  split compounds (main share below 90 %) and compounds outside every district are flagged,
  never dropped.
* :func:`join_utilities`: per compound and network type, line length inside the compound and
  within a margin around it, owners, oldest install year; and the lines shared by several
  compounds (trunks) — who has to be at the table before digging.
* :func:`join_facilities`: facilities inside or within a margin of each compound.
* :func:`join_project`: all three on a programme store, written back as the tables
  ``join_districts``, ``join_utilities``, ``join_facilities`` and ``shared_lines``
  (tables keyed by ``compound_id``; the ``compounds`` layer itself is not rewritten).

All measures are taken in the metric CRS (``gisplan.crs.metric_crs`` when available, else
the UTM zone of the data) and every function returns one row per compound it was given
(or per compound × network / facility for the long tables) with the compound's id.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray

from gisplan._errors import CRSError, InputError, SchemaError
from gisplan.findings import Finding, Report, add_flags

if TYPE_CHECKING:
    import geopandas as gpd

#: share of a compound's area below which it counts as split across districts
SPLIT_SHARE = 0.9
LEVELS = ("pianqu", "street", "county")


# ------------------------------------------------------------------------------- CRS helpers
def metric_crs_for(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> Any:
    """Return the metric CRS to measure *gdf* in (:func:`gisplan.crs.metric_crs`).

    A layer without any coordinates (no rows, or only empty geometries) keeps its own CRS:
    there is nothing to measure.
    """
    from gisplan.crs import metric_crs

    if not np.isfinite(np.asarray(gdf.total_bounds, dtype=float)).all():
        return gdf.crs
    return metric_crs(gdf)


def to_crs_checked(gdf: Any, crs: Any, *, layer: str, report: Report | None = None) -> Any:
    """Reproject *gdf* to *crs*; a layer without a CRS is an error that says how to fix it.

    A layer in another CRS than the compounds is reprojected and a warning finding
    ``crs_reprojected`` names both CRSs.
    """
    from pyproj import CRS

    if gdf.crs is None:
        raise CRSError(
            f"layer '{layer}' has no coordinate reference system",
            layer=layer,
            hint="declare it when importing (EPSG:4326 for lon/lat, EPSG:4490 for CGCS2000)")
    return project_to(gdf, CRS.from_user_input(crs))


def _note_crs(layer_gdf: Any, compounds: Any, *, layer: str, report: Report) -> None:
    """Record a ``crs_reprojected`` warning when *layer_gdf* is not in the compounds' CRS."""
    if layer_gdf.crs is None:
        raise CRSError(f"layer '{layer}' has no coordinate reference system", layer=layer,
                       hint="declare it when importing (EPSG:4326 lon/lat, EPSG:4490 CGCS2000)")
    if compounds.crs is not None and layer_gdf.crs != compounds.crs:
        report.add(Finding(
            "warning", "crs_reprojected",
            f"layer '{layer}' is in {layer_gdf.crs.to_string()}, the compounds in "
            f"{compounds.crs.to_string()}; reprojected for the analysis", layer=layer,
            value=layer_gdf.crs.to_string(), hint="store all layers of a programme in one CRS"))


def project_to(gdf: Any, crs: Any) -> Any:
    """Return *gdf* in *crs*, without a copy or a transformation when it is there already."""
    if gdf.crs is not None and gdf.crs == crs:
        return gdf
    return gdf.to_crs(crs)


def prepare_compounds(compounds: gpd.GeoDataFrame, *, report: Report | None = None,
                      check_overlaps: bool = True) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Check and repair the compounds layer; return it and its metric projection.

    Invalid polygons are repaired (``invalid_geometry_repaired``), empty or missing
    geometries and compounds overlapping each other are flagged (``empty_geometry``,
    ``overlaps_compound``); no row is dropped.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Canonical ``compounds`` layer with a CRS and a unique ``compound_id``.
    report : Report, optional
        Receives the findings.
    check_overlaps : bool, default True
        Look for compounds drawn over each other.

    Returns
    -------
    compounds : geopandas.GeoDataFrame
        A copy, repaired and flagged, same index.
    metric : geopandas.GeoDataFrame
        The same rows in the metric CRS.
    """
    from gisplan.adjacency import overlapping_pairs

    rep = report if report is not None else Report()
    if "compound_id" not in compounds:
        raise SchemaError("the compounds layer has no 'compound_id' column", layer="compounds",
                          column="compound_id", hint="add a unique 小区编号 per compound")
    if compounds.crs is None:
        raise CRSError("the compounds layer has no coordinate reference system",
                       layer="compounds",
                       hint="set it when importing (EPSG:4326 for lon/lat, EPSG:4490 CGCS2000)")
    comp = compounds.copy()
    ids = comp["compound_id"].astype(str)
    dup = (pd.Series(False, index=ids.index) if ids.is_unique  # hash check, no mask
           else ids.duplicated(keep=False))
    if dup.any():
        first = ids[dup].iloc[0]
        raise InputError(f"{int(dup.sum())} compounds share an id, e.g. '{first}'",
                         layer="compounds", row=int(np.flatnonzero(dup.to_numpy())[0]),
                         column="compound_id", value=first,
                         hint="give every compound its own 小区编号")
    geoms = comp.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~empty & ~elementwise_in_threads(shapely.is_valid, geoms)
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        geoms = geoms.copy()
        geoms[invalid] = fixed
        comp = comp.set_geometry(pd.Series(geoms, index=comp.index).values, crs=comp.crs)
        add_flags(comp, invalid, "invalid_geometry_repaired")
        for k in np.flatnonzero(invalid)[:50].tolist():
            rep.add(Finding("warning", "invalid_geometry_repaired",
                            "invalid polygon repaired with shapely.make_valid",
                            layer="compounds", row=ids.iloc[k], column="geometry",
                            hint="check the outline in QGIS"))
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        add_flags(comp, empty, "empty_geometry")
        for k in np.flatnonzero(empty)[:50].tolist():
            rep.add(Finding("warning", "empty_geometry",
                            "compound has no outline; it is kept but cannot be placed",
                            layer="compounds", row=ids.iloc[k], column="geometry",
                            hint="draw the compound's outline or give its lon/lat"))
    metric = project_to(comp, metric_crs_for(comp))
    if metric is comp:
        metric = comp.copy()
    if check_overlaps:
        flag_overlaps(comp, metric, *overlapping_pairs(metric.geometry.to_numpy()),
                      report=rep)
    return comp, metric


def flag_overlaps(comp: gpd.GeoDataFrame, metric: gpd.GeoDataFrame, i: NDArray[np.int64],
                  j: NDArray[np.int64], area: NDArray[np.float64], *, report: Report) -> None:
    """Flag compounds drawn over each other (``overlaps_compound``) in both frames."""
    if not len(i):
        return
    ids = comp["compound_id"].astype(str).to_numpy()
    mask = np.zeros(len(comp), bool)
    mask[i] = mask[j] = True
    add_flags(comp, mask, "overlaps_compound")
    add_flags(metric, mask, "overlaps_compound")
    for a, b, ar in zip(i[:50].tolist(), j[:50].tolist(), area[:50].tolist(), strict=True):
        report.add(Finding("warning", "overlaps_compound",
                           f"overlaps compound '{ids[b]}' by {ar:.0f} m²",
                           layer="compounds", row=ids[a], column="geometry",
                           hint="correct the outlines so that compounds do not overlap"))


def _valid(geoms: NDArray[np.object_], present: NDArray[np.bool_]) -> NDArray[np.object_]:
    """Return *geoms* with the invalid ones among the *present* repaired (``make_valid``)."""
    bad = present & ~shapely.is_valid(geoms)
    if not bad.any():
        return geoms
    out = geoms.copy()
    out[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    return out


def _pick(values: NDArray[Any], pos: NDArray[Any]) -> NDArray[np.object_]:
    """``values[pos]`` where ``pos >= 0``, None elsewhere (object array)."""
    out = np.full(len(pos), None, dtype=object)
    ok = pos >= 0
    out[ok] = values[pos[ok]]
    return out


# ------------------------------------------------------------------------------- districts
def join_districts(
    compounds: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    *,
    split_share: float = SPLIT_SHARE,
    report: Report | None = None,
    metric: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Assign each compound to a district of every level present, by largest overlap.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Canonical ``compounds`` layer.
    districts : geopandas.GeoDataFrame
        Canonical ``districts`` layer (``district_id``, ``name``, ``level`` in
        pianqu/street/county, Chinese level names accepted); any CRS, reprojected.
    split_share : float, default 0.9
        A compound whose largest share in a level is below this is flagged
        ``split_across_districts``.
    report : Report, optional
        Receives findings and the rows in/out count.
    metric : geopandas.GeoDataFrame, optional
        *compounds* already projected to the metric CRS (saves a reprojection).

    Returns
    -------
    pandas.DataFrame
        Index and order of *compounds*; ``compound_id`` and, per level present,
        ``{level}_id``, ``{level}_name``, ``{level}_share`` (0–1, NaN when outside), plus
        ``flags`` (``outside_districts``, ``split_across_districts``).
    """
    from gisplan.schema import term

    rep = report if report is not None else Report()
    for col in ("district_id", "level"):
        if col not in districts:
            raise SchemaError(f"the districts layer has no '{col}' column", layer="districts",
                              column=col, hint="see the districts layer in schema.toml")
    if compounds.crs is None:
        raise CRSError("the compounds layer has no coordinate reference system",
                       layer="compounds", hint="set it when importing")
    cm = metric if metric is not None else project_to(compounds, metric_crs_for(compounds))
    crs = cm.crs
    _note_crs(districts, compounds, layer="districts", report=rep)
    dm = to_crs_checked(districts, crs, layer="districts", report=rep)
    level = districts["level"].map(lambda v: term("district_level", v)).to_numpy(dtype=object)
    bad_level = pd.isna(level)
    if bad_level.any():
        k = int(np.flatnonzero(bad_level)[0])
        rep.add(Finding("warning", "unknown_district_level",
                        f"{int(bad_level.sum())} districts have an unknown level; ignored",
                        layer="districts", row=k, column="level",
                        value=districts["level"].iloc[k],
                        hint="use 片区 / 街道 / 县区 (pianqu / street / county)"))
    dgeoms = dm.geometry.to_numpy()
    dvalid = ~(shapely.is_missing(dgeoms) | shapely.is_empty(dgeoms)) & ~bad_level
    dgeoms = _valid(dgeoms, dvalid)
    cgeoms = cm.geometry.to_numpy()
    cvalid = ~(shapely.is_missing(cgeoms) | shapely.is_empty(cgeoms))
    cgeoms = _valid(cgeoms, cvalid)
    carea = np.where(cvalid, shapely.area(cgeoms), np.nan)

    didx = np.flatnonzero(dvalid)
    tree = shapely.STRtree(dgeoms[didx])
    cidx = np.flatnonzero(cvalid)
    # candidates by bounding box; the districts (few, reused by many compounds) are
    # prepared, so each test runs against a district's index rather than preparing every
    # compound as `query(predicate="intersects")` would
    ci, dj = tree.query(cgeoms[cidx])
    ci, dj = cidx[ci], didx[dj]
    shapely.prepare(dgeoms[didx])
    # most compounds lie wholly inside their district: a prepared `contains` settles them,
    # the rest are tested for `intersects` and the overlay (intersection area) runs on those
    inside = shapely.contains(dgeoms[dj], cgeoms[ci])
    meets = inside.copy()
    part = ~inside
    meets[part] = shapely.intersects(dgeoms[dj[part]], cgeoms[ci[part]])
    ci, dj, inside = ci[meets], dj[meets], inside[meets]
    inter = carea[ci].copy()
    part = ~inside
    inter[part] = shapely.area(shapely.intersection(cgeoms[ci[part]], dgeoms[dj[part]]))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(carea[ci] > 0, inter / carea[ci], 1.0)
    pos = inter > 0
    pos |= (carea[ci] == 0)  # degenerate polygons: any intersecting district counts
    ci, dj, share = ci[pos], dj[pos], share[pos]

    out = pd.DataFrame({"compound_id": compounds["compound_id"].astype(str).to_numpy()},
                       index=compounds.index)
    out["flags"] = ""
    did = districts["district_id"].astype(str).to_numpy()
    dname = (districts["name"].astype(str).to_numpy() if "name" in districts else did)
    n = len(compounds)
    present = [lv for lv in LEVELS if (level == lv).any()]
    # ties between equal shares go to the smaller id: rank the ids once (integer sort keys)
    _, did_rank = np.unique(did, return_inverse=True)
    outside_any = np.zeros(n, bool)
    split_any = np.zeros(n, bool)
    for lv in present:
        m = level[dj] == lv
        c, d, s = ci[m], dj[m], share[m]
        order = np.lexsort((did_rank[d], -s, c))  # per compound: largest share, then id
        c, d, s = c[order], d[order], s[order]
        first = np.r_[True, c[1:] != c[:-1]] if len(c) else np.zeros(0, bool)
        best_d = np.full(n, -1)
        best_s = np.full(n, np.nan)
        best_d[c[first]] = d[first]
        best_s[c[first]] = np.minimum(s[first], 1.0)
        has = best_d >= 0
        out[f"{lv}_id"] = _pick(did, best_d)
        out[f"{lv}_name"] = _pick(dname, best_d)
        out[f"{lv}_share"] = np.round(best_s, 4)
        outside_any |= ~has
        split_any |= has & (best_s < split_share)
    if not present:
        outside_any[:] = True
    add_flags(out, outside_any, "outside_districts")
    add_flags(out, split_any, "split_across_districts")
    ids = out["compound_id"].to_numpy()
    for k in np.flatnonzero(outside_any)[:50].tolist():
        rep.add(Finding("warning", "outside_districts",
                        "compound lies outside every district of at least one level; kept",
                        layer="compounds", row=ids[k], column="geometry",
                        hint="check its outline or extend the districts layer"))
    for k in np.flatnonzero(split_any)[:50].tolist():
        rep.add(Finding("warning", "split_across_districts",
                        f"less than {split_share:.0%} of the compound lies in one district; "
                        "assigned to the district with the largest share",
                        layer="compounds", row=ids[k], column="geometry"))
    rep.count("join_districts", n, len(out), flagged=int((outside_any | split_any).sum()))
    return out


# ------------------------------------------------------------------------------- utilities
def join_utilities(
    compounds: gpd.GeoDataFrame,
    utilities: gpd.GeoDataFrame,
    *,
    margin_m: float = 10.0,
    report: Report | None = None,
    return_incidence: bool = False,
    metric: gpd.GeoDataFrame | None = None,
) -> Any:
    """Measure the utility lines of every compound, per network type.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Canonical ``compounds`` layer.
    utilities : geopandas.GeoDataFrame
        Canonical ``utilities`` layer (``utility_id``, ``network``, ``owner``,
        ``install_year``); network names in Chinese are mapped (``vocab.network``).
    margin_m : float, default 10.0
        Margin around each compound: a line in the street along the compound serves it.
    report : Report, optional
        Receives findings and counts.
    return_incidence : bool, default False
        Also return the compound × line incidence matrix (``scipy.sparse``, lines within
        the margin), used for the shared-line weights of bundling.
    metric : geopandas.GeoDataFrame, optional
        *compounds* already projected to the metric CRS (saves a reprojection).

    Returns
    -------
    per_compound : pandas.DataFrame
        One row per compound and network present within the margin: ``compound_id``,
        ``network``, ``network_zh``, ``n_lines``, ``length_in_m`` (inside the compound),
        ``length_margin_m`` (inside compound + margin), ``owners`` (``;``-separated),
        ``oldest_install_year``, ``shared_lines`` (lines that also serve other compounds).
    shared_lines : pandas.DataFrame
        One row per line serving two compounds or more: ``utility_id``, ``network``,
        ``owner``, ``install_year``, ``n_compounds``, ``compound_ids``, ``length_m``.
    incidence : scipy.sparse.csr_array, optional
        Only when *return_incidence*.
    """
    from gisplan.schema import zh

    rep = report if report is not None else Report()
    if "utility_id" not in utilities:
        raise SchemaError("the utilities layer has no 'utility_id' column", layer="utilities",
                          column="utility_id", hint="add a unique 管线编号 per line")
    cm = metric if metric is not None else project_to(compounds, metric_crs_for(compounds))
    crs = cm.crs
    _note_crs(utilities, compounds, layer="utilities", report=rep)
    um = to_crs_checked(utilities, crs, layer="utilities", report=rep)
    cgeoms = cm.geometry.to_numpy()
    cvalid = ~(shapely.is_missing(cgeoms) | shapely.is_empty(cgeoms))
    cgeoms = _valid(cgeoms, cvalid)
    ugeoms = um.geometry.to_numpy()
    uvalid = ~(shapely.is_missing(ugeoms) | shapely.is_empty(ugeoms))
    n, m = len(cgeoms), len(ugeoms)

    net_raw = (utilities["network"] if "network" in utilities
               else pd.Series(None, index=utilities.index))
    network = network_keys(net_raw)
    owner = (utilities["owner"].astype(object).where(utilities["owner"].notna(), None)
             .to_numpy(dtype=object) if "owner" in utilities else np.full(m, None, object))
    year = (pd.to_numeric(utilities["install_year"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan) if "install_year" in utilities else np.full(m, np.nan))
    uid = utilities["utility_id"].astype(str).to_numpy()
    cid = compounds["compound_id"].astype(str).to_numpy()

    ci, uj, _ = utility_pairs(cgeoms, ugeoms, margin_m=margin_m)
    # lengths on the pairs only: inside the compound, and inside compound + margin
    zone = shapely.buffer(cgeoms[ci], margin_m, quad_segs=4) if margin_m > 0 else cgeoms[ci]
    len_in = shapely.length(shapely.intersection(ugeoms[uj], cgeoms[ci]))
    len_margin = shapely.length(shapely.intersection(ugeoms[uj], zone))

    inc = sp.csr_array((np.ones(len(ci)), (ci, uj)), shape=(n, m))
    n_comp = np.bincount(uj, minlength=m)
    # groups: compound × network, in compound order then network name
    net_codes, net_names = pd.factorize(network[uj], sort=True)
    key = ci.astype(np.int64) * max(len(net_names), 1) + net_codes
    keys, grp = np.unique(key, return_inverse=True)
    k = len(keys)
    g_c = keys // max(len(net_names), 1)
    g_net = np.asarray(net_names, dtype=object)[keys % max(len(net_names), 1)]
    oldest = np.full(k, np.inf)
    np.minimum.at(oldest, grp, np.where(np.isnan(year[uj]), np.inf, year[uj]))
    per = pd.DataFrame({
        "compound_id": cid[g_c],
        "network": g_net,
        "network_zh": [zh("network", x) for x in g_net.tolist()],
        "n_lines": np.bincount(grp, minlength=k),
        "length_in_m": np.round(np.bincount(grp, weights=len_in, minlength=k), 1),
        "length_margin_m": np.round(np.bincount(grp, weights=len_margin, minlength=k), 1),
        "owners": group_join(grp, owner[uj], k),
        "oldest_install_year": pd.array(np.where(np.isinf(oldest), np.nan, oldest),
                                        dtype="Float64").astype("Int64"),
        "shared_lines": np.bincount(grp, weights=n_comp[uj] >= 2, minlength=k).astype(int),
    })

    multi = np.flatnonzero(n_comp >= 2)
    upos = np.full(m, -1)
    upos[multi] = np.arange(len(multi))
    sel = upos[uj] >= 0
    shared = pd.DataFrame({
        "utility_id": uid[multi],
        "network": network[multi],
        "owner": owner[multi],
        "install_year": pd.array(year[multi], dtype="Float64").astype("Int64"),
        "n_compounds": n_comp[multi],
        "compound_ids": group_join(upos[uj][sel], cid[ci][sel], len(multi)),
        "length_m": np.round(shapely.length(ugeoms[multi]), 1),
    })
    missing = ~uvalid
    if missing.any():
        for k in np.flatnonzero(missing)[:50].tolist():
            rep.add(Finding("warning", "empty_geometry", "utility line has no geometry; ignored",
                            layer="utilities", row=uid[k], column="geometry"))
    if return_incidence:
        return per, shared, inc
    return per, shared


def network_keys(values: pd.Series) -> NDArray[np.object_]:
    """Canonical network keys (``vocab.network``) of *values*; unknown names kept as given."""
    from gisplan.schema import term

    raw = values.astype(object).where(values.notna(), None)
    uniq = pd.unique(raw.to_numpy(dtype=object))
    table = {v: (term("network", v) or str(v)) if v is not None else "unknown" for v in uniq}
    return np.asarray([table[v] for v in raw.tolist()], dtype=object)


def utility_pairs(cgeoms: NDArray[np.object_], ugeoms: NDArray[np.object_], *,
                  margin_m: float = 10.0
                  ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Return the (compound, line) pairs within *margin_m* metres, and their distance.

    Array core: bounding boxes grown by the margin find candidates in an STRtree of the
    lines, ``shapely.distance`` on the candidate pairs decides. Missing or empty
    geometries have no pairs.

    Returns
    -------
    ci, uj : ndarray of int
        Positions of the compound and of the line, sorted by compound then line.
    distance_m : ndarray of float
    """
    cgeoms = np.asarray(cgeoms, dtype=object)
    ugeoms = np.asarray(ugeoms, dtype=object)
    cok = np.flatnonzero(~(shapely.is_missing(cgeoms) | shapely.is_empty(cgeoms)))
    uok = np.flatnonzero(~(shapely.is_missing(ugeoms) | shapely.is_empty(ugeoms)))
    if len(cok) == 0 or len(uok) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), np.zeros(0)
    bb = shapely.bounds(cgeoms[cok])
    env = shapely.box(bb[:, 0] - margin_m, bb[:, 1] - margin_m, bb[:, 2] + margin_m,
                      bb[:, 3] + margin_m)
    a, b = shapely.STRtree(ugeoms[uok]).query(env)
    ci, uj = cok[a].astype(np.int64), uok[b].astype(np.int64)
    dist = elementwise_in_threads(shapely.distance, cgeoms[ci], ugeoms[uj])
    near = dist <= margin_m
    ci, uj, dist = ci[near], uj[near], dist[near]
    order = np.lexsort((uj, ci))
    return ci[order], uj[order], dist[order]


def elementwise_in_threads(func: Any, *arrays: NDArray[Any], parts: int = 2) -> NDArray[Any]:
    """Apply the element-wise shapely function *func* to *arrays* in *parts* threads.

    Shapely's vectorised functions release the GIL while GEOS works, so the chunks run on
    separate cores; the result is the same as ``func(*arrays)``. Small inputs are not
    split.
    """
    n = len(arrays[0])
    if parts < 2 or n < 20_000:
        return np.asarray(func(*arrays))
    from concurrent.futures import ThreadPoolExecutor

    (s0, e0), *chunks = pairwise(np.linspace(0, n, parts + 1).astype(int).tolist())
    with ThreadPoolExecutor(max_workers=parts - 1) as pool:
        rest = [pool.submit(func, *(a[s:e] for a in arrays)) for s, e in chunks]
        first = func(*(a[s0:e0] for a in arrays))
        return np.concatenate([first, *(f.result() for f in rest)])


def group_join(lab: NDArray[Any], values: NDArray[Any], k: int, *,
               unique: bool = True) -> NDArray[np.object_]:
    """``;``-join the text *values* of each group ``0..k-1``.

    Empty and missing values are skipped; with *unique* the values of a group are
    de-duplicated and sorted, otherwise kept in the order given (stable by group).
    """
    v = np.asarray(values, dtype=object)
    lab = np.asarray(lab)
    if unique:
        codes, categories = text_codes(v)
        return group_join_codes(lab, codes, categories, k)
    keep = np.asarray(pd.notna(v), dtype=bool)
    keep[keep] = v[keep] != ""
    lab, v = lab[keep], v[keep]
    order = np.argsort(lab, kind="stable")
    lab, v = lab[order], v[order]
    starts = np.searchsorted(lab, np.arange(k + 1)).tolist()
    vl = v.tolist()
    return np.array([";".join(vl[starts[b]:starts[b + 1]]) for b in range(k)], dtype=object)


def text_codes(values: NDArray[Any]) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
    """Integer codes of text *values* and the sorted distinct values they stand for.

    Missing and empty values get the code -1. Codes follow the sort order of the text,
    so sorting codes sorts the text (used to group many rows with few distinct values).
    """
    codes, categories = pd.factorize(np.asarray(values, dtype=object), sort=True)
    categories = np.asarray(categories, dtype=object)
    codes = codes.astype(np.int64)
    empty = np.flatnonzero(categories == "")
    if len(empty):
        codes[codes == empty[0]] = -1
    return codes, categories


def group_join_codes(lab: NDArray[Any], codes: NDArray[np.integer[Any]],
                     categories: NDArray[np.object_], k: int) -> NDArray[np.object_]:
    """``;``-join the distinct, sorted values of each group ``0..k-1``, given as codes.

    Parameters
    ----------
    lab : ndarray of int
        Group of each row.
    codes : ndarray of int
        Code of each row's value in *categories* (sorted text, see :func:`text_codes`);
        -1 for none.
    categories : ndarray of str
        The text of each code.
    k : int
        Number of groups; groups without values get ``""``.
    """
    codes = np.asarray(codes, dtype=np.int64)
    keep = codes >= 0
    lab = np.asarray(lab, dtype=np.int64)[keep]
    codes = codes[keep]
    ncat = max(len(categories), 1)
    names = np.asarray(categories, dtype=object)
    if ncat <= 62:
        # few distinct values (networks, owners): one bit per value, each distinct set of
        # values joined once
        bits = np.zeros(k, dtype=np.int64)
        np.bitwise_or.at(bits, lab, np.left_shift(1, codes))
        sets, inverse = np.unique(bits, return_inverse=True)
        text = [";".join(names[[c for c in range(ncat) if s >> c & 1]].tolist())
                for s in sets.tolist()]
        return np.asarray(text, dtype=object)[inverse] if k else np.zeros(0, dtype=object)
    key = np.unique(lab * ncat + codes)
    glab, gcode = key // ncat, key % ncat
    starts = np.searchsorted(glab, np.arange(k + 1)).tolist()
    values = names[gcode].tolist()
    return np.array([";".join(values[starts[b]:starts[b + 1]]) for b in range(k)],
                    dtype=object)


def shared_counts(incidence: sp.csr_array, i: NDArray[np.int64], j: NDArray[np.int64]
                  ) -> NDArray[np.float64]:
    """Count the utility lines serving both compounds of each pair (i[k], j[k]).

    Computed as the row-wise dot product of the compound × line incidence matrix, without
    forming the full compound × compound product.
    """
    if len(i) == 0:
        return np.zeros(0)
    a = sp.csr_array(incidence[i])
    b = sp.csr_array(incidence[j])
    return np.asarray(a.multiply(b).sum(axis=1), dtype=float).ravel()


# ------------------------------------------------------------------------------- facilities
def join_facilities(
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    margin_m: float = 50.0,
    report: Report | None = None,
    metric: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """List the facilities inside or within *margin_m* of each compound.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Canonical ``compounds`` layer.
    facilities : geopandas.GeoDataFrame
        Canonical ``facilities`` layer (points).
    margin_m : float, default 50.0
        Straight-line margin around the compound, metres (walking distances are the
        coverage module's business).
    report : Report, optional
        Receives findings.
    metric : geopandas.GeoDataFrame, optional
        *compounds* already projected to the metric CRS (saves a reprojection).

    Returns
    -------
    pandas.DataFrame
        One row per compound × facility: ``compound_id``, ``facility_id``,
        ``facility_type``, ``facility_name``, ``inside`` (bool), ``distance_m``
        (0 inside); sorted by compound, distance, facility.
    """
    rep = report if report is not None else Report()
    cm = metric if metric is not None else project_to(compounds, metric_crs_for(compounds))
    crs = cm.crs
    _note_crs(facilities, compounds, layer="facilities", report=rep)
    fm = to_crs_checked(facilities, crs, layer="facilities", report=rep)
    cgeoms = cm.geometry.to_numpy()
    cvalid = ~(shapely.is_missing(cgeoms) | shapely.is_empty(cgeoms))
    fgeoms = fm.geometry.to_numpy()
    fvalid = ~(shapely.is_missing(fgeoms) | shapely.is_empty(fgeoms))
    fidx = np.flatnonzero(fvalid)
    tree = shapely.STRtree(fgeoms[fidx])
    ci, fj = tree.query(np.where(cvalid, cgeoms, None), predicate="dwithin",
                        distance=margin_m)
    fj = fidx[fj]
    dist = shapely.distance(cgeoms[ci], fgeoms[fj])
    fid = (facilities["facility_id"].astype(str).to_numpy() if "facility_id" in facilities
           else facilities.index.astype(str).to_numpy())
    ftype = (facilities["facility_type"].to_numpy(dtype=object) if "facility_type" in facilities
             else np.full(len(facilities), None, object))
    fname = (facilities["name"].to_numpy(dtype=object) if "name" in facilities
             else np.full(len(facilities), None, object))
    out = pd.DataFrame({
        "compound_id": compounds["compound_id"].astype(str).to_numpy()[ci],
        "facility_id": fid[fj],
        "facility_type": ftype[fj],
        "facility_name": fname[fj],
        "inside": dist <= 0,
        "distance_m": np.round(dist, 1),
    })
    return out.sort_values(["compound_id", "distance_m", "facility_id"]).reset_index(drop=True)


# ------------------------------------------------------------------------------- store
def join_project(project: Any, *, utility_margin_m: float = 10.0,
                 facility_margin_m: float = 50.0, split_share: float = SPLIT_SHARE,
                 write: bool = True) -> dict[str, Any]:
    """Run the joins on a programme store and write the tables back.

    Writes (in one atomic step) the tables ``join_districts``, ``join_utilities``,
    ``shared_lines`` and ``join_facilities`` for the layers present.

    Parameters
    ----------
    project : gisplan.store.Project or path
        The programme.
    utility_margin_m, facility_margin_m : float
        Margins around compounds (metres).
    split_share : float, default 0.9
        Largest-share threshold below which a compound is split across districts.
    write : bool, default True
        Write the tables.

    Returns
    -------
    dict
        Table name -> DataFrame, plus ``"report"`` -> :class:`gisplan.findings.Report`.
    """
    from gisplan.store import Project

    p = project if isinstance(project, Project) else Project.open(project)
    present = set(p.layers())
    rep = Report()
    compounds, _ = prepare_compounds(p.read("compounds"), report=rep)
    out: dict[str, Any] = {}
    if "districts" in present:
        out["join_districts"] = join_districts(compounds, p.read("districts"),
                                               split_share=split_share, report=rep)
    if "utilities" in present:
        per, shared = join_utilities(compounds, p.read("utilities"),
                                     margin_m=utility_margin_m, report=rep)
        out["join_utilities"], out["shared_lines"] = per, shared
    if "facilities" in present:
        out["join_facilities"] = join_facilities(compounds, p.read("facilities"),
                                                 margin_m=facility_margin_m, report=rep)
    if write and out:
        p.write_many({k: pd.DataFrame(v).reset_index(drop=True) for k, v in out.items()})
    out["report"] = rep
    return out
