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

All measures are taken in the analysis CRS of the compounds (:func:`gisplan.crs.analysis_crs`;
every other layer is brought into it by :func:`gisplan.crs.project_layers`, with one warning
naming both CRSs when it was stored in another). Every function returns a result with a
``.report`` (:class:`~gisplan.findings.Report`) and one row per compound it was given (or
per compound × network / facility for the long tables) with the compound's id.

Examples
--------
>>> import geopandas as gpd
>>> import shapely
>>> compounds = gpd.GeoDataFrame({"compound_id": ["A", "B"]},
...                              geometry=shapely.box([0, 200], 0, [100, 300], 100), crs=4547)
>>> districts = gpd.GeoDataFrame({"district_id": ["D1"], "name": ["西关"], "level": ["片区"]},
...                              geometry=[shapely.box(-10, -10, 150, 150)], crs=4547)
>>> frame, report = join_districts(compounds, districts)
>>> frame["pianqu_id"].tolist()[0], frame["pianqu_share"].tolist()[0]
('D1', 1.0)
>>> frame["flags"].tolist()
['', 'outside_districts']
>>> [f.code for f in report]
['outside_districts']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray

from gisplan._errors import InputError, SchemaError
from gisplan.adjacency import overlapping_pairs
from gisplan.crs import analysis_crs, project_layers, require_crs
from gisplan.findings import Finding, Report, add_flags

if TYPE_CHECKING:
    import geopandas as gpd

    from gisplan.sources import ProgrammeLike

__all__ = ["JoinResult", "PreparedCompounds", "ProjectJoin", "UtilityJoin", "join_districts",
           "join_facilities", "join_project", "join_utilities", "length_inside",
           "prepare_compounds"]

#: share of a compound's area below which it counts as split across districts
SPLIT_SHARE = 0.9
LEVELS = ("pianqu", "street", "county")


class JoinResult(NamedTuple):
    """A join table and its findings (``frame, report = join_districts(...)``)."""

    frame: pd.DataFrame
    report: Report


@dataclass(frozen=True)
class UtilityJoin:
    """Result of :func:`join_utilities`.

    Attributes
    ----------
    per_compound : pandas.DataFrame
        One row per compound and network present within the margin.
    shared_lines : pandas.DataFrame
        One row per line serving two compounds or more.
    incidence : scipy.sparse.csr_array
        Compound × line incidence (lines within the margin), for shared-line weights.
    report : Report
        Findings and counts.
    """

    per_compound: pd.DataFrame
    shared_lines: pd.DataFrame
    incidence: sp.csr_array
    report: Report


@dataclass(frozen=True)
class ProjectJoin:
    """Result of :func:`join_project`: the tables by name, and the findings."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    report: Report = field(default_factory=Report)


class PreparedCompounds(NamedTuple):
    """Result of :func:`prepare_compounds`."""

    compounds: gpd.GeoDataFrame
    metric: gpd.GeoDataFrame
    report: Report


# ------------------------------------------------------------------------------- CRS
def project_to_compounds(metric: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame,
                         layers: dict[str, Any], *, report: Report) -> dict[str, Any]:
    """Bring *layers* into the CRS of *metric* (the compounds projected for the analysis).

    The CRS contract of :func:`gisplan.crs.project_layers`: a layer without a CRS is the
    one "no CRS" error; a layer stored in another CRS than *compounds* is used with one
    warning naming both CRSs. ``None`` entries pass through. The compounds themselves are
    not projected again (only their CRS is compared).
    """
    out, _ = project_layers({"compounds": compounds.iloc[:0], **layers}, crs=metric.crs,
                            report=report)
    del out["compounds"]
    return out


def _empty(geoms: NDArray[np.object_]) -> NDArray[np.bool_]:
    return np.asarray(shapely.is_missing(geoms) | shapely.is_empty(geoms), dtype=bool)


def prepare_compounds(compounds: gpd.GeoDataFrame, *,
                      check_overlaps: bool = True) -> PreparedCompounds:
    """Check and repair the compounds layer; return it and its metric projection.

    Invalid polygons are repaired (``invalid_geometry_repaired``), empty or missing
    geometries and compounds overlapping each other are flagged (``empty_geometry``,
    ``overlaps_compound``); no row is dropped.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Canonical ``compounds`` layer with a CRS and a unique ``compound_id``.
    check_overlaps : bool, default True
        Look for compounds drawn over each other.

    Returns
    -------
    PreparedCompounds
        ``compounds`` (a copy, repaired and flagged, same index), ``metric`` (the same
        rows in :func:`gisplan.crs.analysis_crs`) and ``report``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> import shapely
    >>> bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    >>> gdf = gpd.GeoDataFrame({"compound_id": ["A"]}, geometry=[bowtie], crs=4547)
    >>> comp, metric, report = prepare_compounds(gdf)
    >>> comp["flags"].tolist(), [f.code for f in report]
    (['invalid_geometry_repaired'], ['invalid_geometry_repaired'])
    """
    rep = Report()
    if "compound_id" not in compounds:
        raise SchemaError("the compounds layer has no 'compound_id' column", layer="compounds",
                          column="compound_id", hint="add a unique 小区编号 per compound")
    require_crs(compounds, layer="compounds")
    comp = compounds.copy()
    ids = comp["compound_id"].astype(str)
    _check_unique_ids(ids)
    geoms = comp.geometry.to_numpy()
    empty = _empty(geoms)
    invalid = ~empty & ~shapely.is_valid(geoms)
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        geoms = geoms.copy()
        geoms[invalid] = fixed
        comp = comp.set_geometry(pd.Series(geoms, index=comp.index).values, crs=comp.crs)
        add_flags(comp, invalid, "invalid_geometry_repaired")
        rep.add_capped((Finding("warning", "invalid_geometry_repaired",
                                "invalid polygon repaired with shapely.make_valid",
                                layer="compounds", row=ids.iloc[k], column="geometry",
                                hint="check the outline in QGIS")
                        for k in np.flatnonzero(invalid).tolist()), total=int(invalid.sum()))
        empty = _empty(geoms)
    if empty.any():
        add_flags(comp, empty, "empty_geometry")
        rep.add_capped((Finding("warning", "empty_geometry",
                                "compound has no outline; it is kept but cannot be placed",
                                layer="compounds", row=ids.iloc[k], column="geometry",
                                hint="draw the compound's outline or give its lon/lat")
                        for k in np.flatnonzero(empty).tolist()), total=int(empty.sum()))
    crs = analysis_crs(comp)
    metric = comp.copy() if comp.crs == crs else comp.to_crs(crs)
    if check_overlaps:
        rep.merge(flag_overlaps(comp, metric, *overlapping_pairs(metric.geometry.to_numpy())))
    return PreparedCompounds(comp, metric, rep)


def _check_unique_ids(ids: pd.Series) -> None:
    """Raise an :class:`InputError` naming the first id shared by two compounds."""
    if ids.is_unique:  # hash check, no mask
        return
    dup = ids.duplicated(keep=False)
    first = ids[dup].iloc[0]
    raise InputError(f"{int(dup.sum())} compounds share an id, e.g. '{first}'",
                     layer="compounds", row=int(np.flatnonzero(dup.to_numpy())[0]),
                     column="compound_id", value=first,
                     hint="give every compound its own 小区编号")


def flag_overlaps(comp: gpd.GeoDataFrame, metric: gpd.GeoDataFrame, i: NDArray[np.int64],
                  j: NDArray[np.int64], area: NDArray[np.float64]) -> Report:
    """Flag compounds drawn over each other (``overlaps_compound``) in both frames.

    Returns the findings (one per overlapping pair, capped).
    """
    rep = Report()
    if not len(i):
        return rep
    ids = comp["compound_id"].astype(str).to_numpy()
    mask = np.zeros(len(comp), bool)
    mask[i] = mask[j] = True
    add_flags(comp, mask, "overlaps_compound")
    add_flags(metric, mask, "overlaps_compound")
    rep.add_capped((Finding("warning", "overlaps_compound",
                            f"overlaps compound '{ids[b]}' by {ar:.0f} m²",
                            layer="compounds", row=ids[a], column="geometry",
                            hint="correct the outlines so that compounds do not overlap")
                    for a, b, ar in zip(i.tolist(), j.tolist(), area.tolist(), strict=True)),
                   total=len(i))
    return rep


def _valid(geoms: NDArray[np.object_], present: NDArray[np.bool_]) -> NDArray[np.object_]:
    """Return *geoms* with the invalid ones among the *present* repaired (``make_valid``)."""
    bad = present & ~shapely.is_valid(geoms)
    if not bad.any():
        return geoms
    out = geoms.copy()
    out[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    return out


def pick_or_none(values: NDArray[Any], pos: NDArray[Any]) -> NDArray[np.object_]:
    """``values[pos]`` where ``pos >= 0``, None elsewhere (object array).

    Examples
    --------
    >>> pick_or_none(np.array(["a", "b"], dtype=object), np.array([1, -1, 0])).tolist()
    ['b', None, 'a']
    """
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
) -> JoinResult:
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

    Returns
    -------
    JoinResult
        ``frame``: index and order of *compounds*; ``compound_id`` and, per level present,
        ``{level}_id``, ``{level}_name``, ``{level}_share`` (0–1, NaN when outside), plus
        ``flags`` (``outside_districts``, ``split_across_districts``). ``report``: findings
        and the rows in/out count.
    """
    from gisplan.schema import term

    rep = Report()
    for col in ("district_id", "level"):
        if col not in districts:
            raise SchemaError(f"the districts layer has no '{col}' column", layer="districts",
                              column=col, hint="see the districts layer in schema.toml")
    layers, _ = project_layers({"compounds": compounds, "districts": districts}, report=rep)
    cm, dm = layers["compounds"], layers["districts"]
    level = districts["level"].map(lambda v: term("district_level", v)).to_numpy(dtype=object)
    bad_level = pd.isna(level)
    if bad_level.any():
        k = int(np.flatnonzero(bad_level)[0])
        rep.add(Finding("warning", "unknown_district_level",
                        f"{int(bad_level.sum())} districts have an unknown level; ignored",
                        layer="districts", row=k, column="level",
                        value=districts["level"].iloc[k],
                        hint="use 片区 / 街道 / 县区 (pianqu / street / county)"))
    ci, dj, share = _district_overlaps(cm.geometry.to_numpy(), dm.geometry.to_numpy(),
                                       usable=~bad_level)
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
        best_d, best_s = _largest_share(n, ci[m], dj[m], share[m], did_rank)
        has = best_d >= 0
        out[f"{lv}_id"] = pick_or_none(did, best_d)
        out[f"{lv}_name"] = pick_or_none(dname, best_d)
        out[f"{lv}_share"] = np.round(best_s, 4)
        outside_any |= ~has
        split_any |= has & (best_s < split_share)
    if not present:
        outside_any[:] = True
    add_flags(out, outside_any, "outside_districts")
    add_flags(out, split_any, "split_across_districts")
    ids = out["compound_id"].to_numpy()
    rep.add_capped((Finding("warning", "outside_districts",
                            "compound lies outside every district of at least one level; kept",
                            layer="compounds", row=ids[k], column="geometry",
                            hint="check its outline or extend the districts layer")
                    for k in np.flatnonzero(outside_any).tolist()),
                   total=int(outside_any.sum()))
    rep.add_capped((Finding("warning", "split_across_districts",
                            f"less than {split_share:.0%} of the compound lies in one "
                            "district; assigned to the district with the largest share",
                            layer="compounds", row=ids[k], column="geometry")
                    for k in np.flatnonzero(split_any).tolist()), total=int(split_any.sum()))
    rep.count("join_districts", n, len(out), flagged=int((outside_any | split_any).sum()))
    return JoinResult(out, rep)


def _district_overlaps(cgeoms: NDArray[np.object_], dgeoms: NDArray[np.object_], *,
                       usable: NDArray[np.bool_]
                       ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """(compound, district) pairs that overlap, and the share of the compound's area.

    Array core of :func:`join_districts`, both arrays in one metric CRS; districts not
    *usable* (unknown level) and missing geometries are left out.
    """
    dvalid = ~_empty(dgeoms) & usable
    dgeoms = _valid(dgeoms, dvalid)
    cvalid = ~_empty(cgeoms)
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
    return ci[pos], dj[pos], share[pos]


def _largest_share(n: int, c: NDArray[np.int64], d: NDArray[np.int64], s: NDArray[np.float64],
                   did_rank: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Per compound, the district with the largest share (ties: smaller id), and the share."""
    order = np.lexsort((did_rank[d], -s, c))  # per compound: largest share, then id
    c, d, s = c[order], d[order], s[order]
    first = np.r_[True, c[1:] != c[:-1]] if len(c) else np.zeros(0, bool)
    best_d = np.full(n, -1)
    best_s = np.full(n, np.nan)
    best_d[c[first]] = d[first]
    best_s[c[first]] = np.minimum(s[first], 1.0)
    return best_d, best_s


# ------------------------------------------------------------------------------- utilities
def join_utilities(
    compounds: gpd.GeoDataFrame,
    utilities: gpd.GeoDataFrame,
    *,
    margin_m: float = 10.0,
) -> UtilityJoin:
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

    Returns
    -------
    UtilityJoin
        ``per_compound``: one row per compound and network present within the margin:
        ``compound_id``, ``network``, ``network_zh``, ``n_lines``, ``length_in_m`` (inside
        the compound), ``length_margin_m`` (inside compound + margin), ``owners``
        (``;``-separated), ``oldest_install_year``, ``shared_lines`` (lines that also serve
        other compounds). ``shared_lines``: one row per line serving two compounds or more:
        ``utility_id``, ``network``, ``owner``, ``install_year``, ``n_compounds``,
        ``compound_ids``, ``length_m``. ``incidence``: the compound × line matrix
        (``scipy.sparse``, lines within the margin). ``report``: findings.
    """
    rep = Report()
    if "utility_id" not in utilities:
        raise SchemaError("the utilities layer has no 'utility_id' column", layer="utilities",
                          column="utility_id", hint="add a unique 管线编号 per line")
    layers, _ = project_layers({"compounds": compounds, "utilities": utilities}, report=rep)
    cgeoms = layers["compounds"].geometry.to_numpy()
    cgeoms = _valid(cgeoms, ~_empty(cgeoms))
    ugeoms = layers["utilities"].geometry.to_numpy()
    n, m = len(cgeoms), len(ugeoms)
    attrs = _line_attributes(utilities)
    cid = compounds["compound_id"].astype(str).to_numpy()

    ci, uj, _ = utility_pairs(cgeoms, ugeoms, margin_m=margin_m)
    inc = sp.csr_array((np.ones(len(ci)), (ci, uj)), shape=(n, m))
    n_comp = np.bincount(uj, minlength=m)
    per = _per_compound_network(cgeoms, ugeoms, ci, uj, attrs, n_comp, cid, margin_m=margin_m)
    multi = np.flatnonzero(n_comp >= 2)
    upos = np.full(m, -1)
    upos[multi] = np.arange(len(multi))
    sel = upos[uj] >= 0
    shared = pd.DataFrame({
        "utility_id": attrs["utility_id"][multi],
        "network": attrs["network"][multi],
        "owner": attrs["owner"][multi],
        "install_year": pd.array(attrs["install_year"][multi], dtype="Float64").astype("Int64"),
        "n_compounds": n_comp[multi],
        "compound_ids": group_join(upos[uj][sel], cid[ci][sel], len(multi)),
        "length_m": np.round(shapely.length(ugeoms[multi]), 1),
    })
    missing = _empty(ugeoms)
    uid = attrs["utility_id"]
    rep.add_capped((Finding("warning", "empty_geometry", "utility line has no geometry; ignored",
                            layer="utilities", row=uid[k], column="geometry")
                    for k in np.flatnonzero(missing).tolist()), total=int(missing.sum()))
    return UtilityJoin(per, shared, inc, rep)


def _line_attributes(utilities: pd.DataFrame) -> dict[str, NDArray[Any]]:
    """Return per line ``utility_id``, ``network``, ``owner`` and ``install_year``.

    Networks are canonical keys; a blank owner is None, an unknown year NaN.
    """
    m = len(utilities)
    net_raw = (utilities["network"] if "network" in utilities
               else pd.Series(None, index=utilities.index, dtype=object))
    owner = (utilities["owner"].astype(object).where(utilities["owner"].notna(), None)
             .to_numpy(dtype=object) if "owner" in utilities else np.full(m, None, object))
    year = (pd.to_numeric(utilities["install_year"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan) if "install_year" in utilities else np.full(m, np.nan))
    return {"utility_id": utilities["utility_id"].astype(str).to_numpy(),
            "network": network_keys(net_raw), "owner": owner, "install_year": year}


def _per_compound_network(cgeoms: NDArray[np.object_], ugeoms: NDArray[np.object_],
                          ci: NDArray[np.int64], uj: NDArray[np.int64],
                          attrs: dict[str, NDArray[Any]], n_comp: NDArray[np.int64],
                          cid: NDArray[np.object_], *, margin_m: float) -> pd.DataFrame:
    """Build the ``per_compound`` table of :func:`join_utilities` from the pairs."""
    from gisplan.schema import zh

    network, owner, year = attrs["network"], attrs["owner"], attrs["install_year"]
    # lengths on the pairs only: inside the compound, and inside compound + margin
    # each compound's margin zone drawn once, not once per line that reaches it
    used, back = np.unique(ci, return_inverse=True)
    inner = cgeoms[used]
    zone = shapely.buffer(inner, margin_m, quad_segs=4) if margin_m > 0 else inner
    len_in = length_inside(ugeoms[uj], inner, back)
    len_margin = length_inside(ugeoms[uj], zone, back)
    # groups: compound × network, in compound order then network name
    net_codes, net_names = pd.factorize(network[uj], sort=True)
    width = max(len(net_names), 1)
    key = ci.astype(np.int64) * width + net_codes
    keys, grp = np.unique(key, return_inverse=True)
    k = len(keys)
    g_net = np.asarray(net_names, dtype=object)[keys % width]
    oldest = np.full(k, np.inf)
    np.minimum.at(oldest, grp, np.where(np.isnan(year[uj]), np.inf, year[uj]))
    return pd.DataFrame({
        "compound_id": cid[keys // width],
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


def length_inside(lines: NDArray[np.object_], polygons: NDArray[np.object_],
                  which: NDArray[np.int64]) -> NDArray[np.float64]:
    """Length of each line inside its polygon, ``polygons[which[i]]`` for ``lines[i]``.

    Only the lines that cross a polygon's boundary are cut (GEOS overlay); a line
    inside is its whole length and a line outside none, told apart by prepared
    predicates (a pipe is mostly one or the other: half the time of cutting them all;
    cutting the rest on two threads gained 4 %, below the 20 % :mod:`gisplan._threads`
    asks for).

    Examples
    --------
    >>> sq = np.array([shapely.box(0, 0, 10, 10)])
    >>> lines = shapely.linestrings([[(1, 1), (4, 1)], [(5, 5), (15, 5)], [(20, 0), (30, 0)]])
    >>> length_inside(lines, sq, np.zeros(3, dtype=int)).tolist()
    [3.0, 5.0, 0.0]
    """
    shapely.prepare(polygons)
    poly = polygons[which]
    out = np.zeros(len(lines))
    inside = shapely.contains_properly(poly, lines)
    out[inside] = shapely.length(lines[inside])
    cut = ~inside & shapely.intersects(poly, lines)
    out[cut] = shapely.length(shapely.intersection(lines[cut], poly[cut]))
    return out


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
    dist = shapely.distance(cgeoms[ci], ugeoms[uj])
    near = dist <= margin_m
    ci, uj, dist = ci[near], uj[near], dist[near]
    order = np.lexsort((uj, ci))
    return ci[order], uj[order], dist[order]


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
) -> JoinResult:
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

    Returns
    -------
    JoinResult
        ``frame``: one row per compound × facility: ``compound_id``, ``facility_id``,
        ``facility_type``, ``facility_name``, ``inside`` (bool), ``distance_m`` (0 inside);
        sorted by compound, distance, facility. ``report``: findings.
    """
    rep = Report()
    layers, _ = project_layers({"compounds": compounds, "facilities": facilities}, report=rep)
    cgeoms = layers["compounds"].geometry.to_numpy()
    fgeoms = layers["facilities"].geometry.to_numpy()
    fidx = np.flatnonzero(~_empty(fgeoms))
    tree = shapely.STRtree(fgeoms[fidx])
    ci, fj = tree.query(np.where(~_empty(cgeoms), cgeoms, None), predicate="dwithin",
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
    frame = out.sort_values(["compound_id", "distance_m", "facility_id"]).reset_index(drop=True)
    return JoinResult(frame, rep)


# ------------------------------------------------------------------------------- store
def join_project(source: ProgrammeLike, *, utility_margin_m: float = 10.0,
                 facility_margin_m: float = 50.0, split_share: float = SPLIT_SHARE,
                 write: bool = True) -> ProjectJoin:
    """Run the joins on a programme store and write the tables back.

    Reads ``compounds`` and, where present, ``districts``, ``utilities`` and
    ``facilities`` (:func:`gisplan.sources.read_layers`); writes (in one atomic step) the
    tables ``join_districts``, ``join_utilities``, ``shared_lines`` and
    ``join_facilities`` for the layers present.

    Parameters
    ----------
    source : gisplan.store.Project or path
        The programme.
    utility_margin_m, facility_margin_m : float
        Margins around compounds (metres).
    split_share : float, default 0.9
        Largest-share threshold below which a compound is split across districts.
    write : bool, default True
        Write the tables.

    Returns
    -------
    ProjectJoin
        ``tables`` (table name -> DataFrame) and ``report``.

    Examples
    --------
    >>> result = join_project("layers/guyuan_2022.gpkg", write=False)
    >>> sorted(result.tables)
    ['join_districts', 'join_facilities', 'join_utilities', 'shared_lines']
    >>> result.report.counts["join_districts"].balanced
    True
    """
    from gisplan.sources import as_project, read_layers

    p = as_project(source)
    layers = read_layers(p, ["compounds"], optional=["districts", "utilities", "facilities"])
    compounds, metric, rep = prepare_compounds(layers["compounds"])
    others = project_to_compounds(metric, compounds,
                                  {k: layers[k] for k in ("districts", "utilities", "facilities")},
                                  report=rep)
    out: dict[str, pd.DataFrame] = {}
    if others["districts"] is not None:
        jd = join_districts(metric, others["districts"], split_share=split_share)
        out["join_districts"] = jd.frame
        rep.merge(jd.report)
    if others["utilities"] is not None:
        ju = join_utilities(metric, others["utilities"], margin_m=utility_margin_m)
        out["join_utilities"], out["shared_lines"] = ju.per_compound, ju.shared_lines
        rep.merge(ju.report)
    if others["facilities"] is not None:
        jf = join_facilities(metric, others["facilities"], margin_m=facility_margin_m)
        out["join_facilities"] = jf.frame
        rep.merge(jf.report)
    if write and out:
        p.write_many({k: pd.DataFrame(v).reset_index(drop=True) for k, v in out.items()})
    return ProjectJoin(out, rep)
