"""Facility coverage (设施覆盖): distances, gaps and roll-ups per compound and facility type.

For every compound (小区) and facility type of the life-circle standard
(:mod:`gisplan.standards`) this module finds the nearest facility, the distance to it in
metres, and whether it lies within the standard's walking distance:

* straight line: from the compound's polygon (0 when the facility is inside it);
* walking: along the ``roads`` layer (:mod:`gisplan.network`), from the compound's gates
  where gates are given, otherwise from points along its boundary, snapping both ends
  to the nearest road edge and adding the snapping distances.

It rolls coverage up by bundle (连片), 片区, county (县区) and programme, by compounds and
by households, and computes capacity-aware access (two-step floating catchment, 2SFCA)
where facilities carry a ``capacity``.

Examples
--------
>>> from gisplan.coverage import coverage
>>> res = coverage("layers/guyuan_2022.gpkg")                # doctest: +SKIP
>>> res.compounds[["compound_id", "walk_m_kindergarten", "gaps"]]  # doctest: +SKIP
>>> res.summary.query("level == 'district'")                 # doctest: +SKIP
>>> res.to_store("layers/guyuan_2022.gpkg")                  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from gisplan._errors import CRSError, SchemaError
from gisplan.crs import transform_xy
from gisplan.findings import Finding, Report, add_flags
from gisplan.network import (
    Network,
    Snap,
    build_network,
    count_crossings,
    group_min,
    morton_order,
    origin_graph,
    pair_distances,
    snap_points,
    target_distances,
)
from gisplan.standards import Standard, load_standard

__all__ = ["CoverageResult", "coverage", "load_layers", "metric_crs_for", "two_step_fca"]

Method = Literal["auto", "network", "euclidean", "both"]

#: reach codes of the long table
REACH = {
    "reached": "reached within the search limit",
    "beyond_limit": "no facility within the search limit",
    "unreachable": "no facility of this type on the same connected road network",
    "no_facility": "no facility of this type in the programme",
    "not_snapped": "compound has no geometry to measure from",
}

#: code of each reach value (the long table stores them as a categorical)
_REACH_CODE = {name: np.int8(i) for i, name in enumerate(REACH)}

#: store layers written by :meth:`CoverageResult.to_store`
STORE_LAYERS = ("coverage", "coverage_gaps", "coverage_summary")


# --------------------------------------------------------------------------- input
def load_layers(source: Any) -> tuple[dict[str, Any], str | None]:
    """Return the layers of a programme and its file name.

    *source* is a :class:`gisplan.store.Project`, a path to a programme GeoPackage, or a
    mapping of layer name to (Geo)DataFrame.
    """
    if isinstance(source, Mapping):
        return {k: v for k, v in source.items() if v is not None}, None
    from gisplan.store import Project

    project = source if isinstance(source, Project) else Project.open(os.fspath(source))
    present = set(project.layers())
    names = ["compounds", "facilities", "roads", "gates", "districts", "bundle_members"]
    return {n: project.read(n) for n in names if n in present}, str(project.path)


def metric_crs_for(gdf: gpd.GeoDataFrame, *, file: str | None = None, layer: str = "compounds"
                   ) -> Any:
    """Return the metric CRS to measure *gdf* in.

    Uses :func:`gisplan.crs.metric_crs` (CGCS2000 Gauss-Krüger zones in China) when
    available, the layer's own CRS when it is already projected, otherwise UTM.
    """
    if gdf.crs is None:
        raise CRSError("layer has no coordinate reference system", file=file, layer=layer,
                       hint="set the CRS when importing (EPSG:4326 or EPSG:4490 for lon/lat)")
    if gdf.crs.is_projected:
        return gdf.crs
    try:
        from gisplan.crs import metric_crs
    except ImportError:  # pragma: no cover - crs.py is part of gisplan
        return gdf.estimate_utm_crs()
    return metric_crs(gdf)


# --------------------------------------------------------------------------- 2SFCA
def two_step_fca(dist: Any, capacity: NDArray[np.float64],
                 demand: NDArray[np.float64], *, catchment_m: float
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Two-step floating catchment area access (2SFCA, Luo & Wang 2003).

    Step 1: each facility's supply ratio ``R_j = S_j / sum(P_i for i within d0 of j)``.
    Step 2: each demand unit's access ``A_i = sum(R_j for j within d0 of i)``.

    Parameters
    ----------
    dist : scipy.sparse matrix, shape (n_facilities, n_demand)
        Distances in metres; absent entries are out of reach. Explicit entries must
        be positive (use a tiny value for 0).
    capacity : ndarray, shape (n_facilities,)
        Supply (places, beds, m²); NaN counts as 0.
    demand : ndarray, shape (n_demand,)
        Population (households); NaN counts as 0.
    catchment_m : float
        Catchment radius ``d0``.

    Returns
    -------
    access : ndarray, shape (n_demand,)
        Supply per unit of demand reachable from each demand unit.
    ratio : ndarray, shape (n_facilities,)
        Supply per unit of demand in each facility's catchment (NaN if none).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> d = sp.csr_matrix(np.array([[100.0, 200.0], [0, 250.0]]))
    >>> access, ratio = two_step_fca(d, np.array([30.0, 10.0]), np.array([100.0, 50.0]),
    ...                              catchment_m=300)
    >>> ratio.round(3).tolist(), access.round(3).tolist()
    [[0.2, 0.2], [0.2, 0.4]]
    """
    m = sp.csr_matrix(dist, dtype=float)
    within = m.copy()
    within.data = (within.data <= catchment_m).astype(float)
    within.eliminate_zeros()
    cap = np.nan_to_num(np.asarray(capacity, dtype=float))
    pop = np.nan_to_num(np.asarray(demand, dtype=float))
    served = within @ pop
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(served > 0, cap / served, np.nan)
    access = within.T @ np.nan_to_num(ratio)
    return np.asarray(access, dtype=float), ratio


# --------------------------------------------------------------------------- result
@dataclass
class CoverageResult:
    """What :func:`coverage` found.

    Attributes
    ----------
    coverage : pandas.DataFrame
        Long table, one row per compound × facility type: ``compound_id``,
        ``facility_type``, ``facility_zh``, ``circle``, ``standard_m``, ``straight_m``,
        ``straight_facility_id``, ``walk_m``, ``walk_facility_id``, ``snap_m``,
        ``facility_snap_m``, ``distance_m`` (the one judged), ``method``, ``covered``,
        ``reach`` (see :data:`REACH`), and ``fca_per_household`` where capacities exist.
    compounds : geopandas.GeoDataFrame
        Every compound (input CRS, index kept) with ``walk_m_<type>`` (distance judged:
        walking where a network exists, else straight line), ``straight_m_<type>``,
        ``covered_<type>``, ``gaps`` (``;``-separated type keys), ``gaps_zh``,
        ``n_gaps``, ``snap_m``, ``access_from`` (gates / boundary) and ``flags``.
        Written as store layer ``coverage_gaps``.
    summary : pandas.DataFrame
        Shares covered per level (programme, county, district = 片区, bundle), unit and
        type, by compounds and by households.
    facilities : geopandas.GeoDataFrame
        Every facility given, with ``facility_type_key``, ``snap_m`` and ``flags``
        (``unknown_facility_type``, ``outside_study_area``, ...); rows in = rows out.
    components : pandas.DataFrame or None
        Connected parts of the road network, largest first.
    report : Report
        Findings and row counts.
    """

    coverage: pd.DataFrame
    compounds: gpd.GeoDataFrame
    summary: pd.DataFrame
    facilities: gpd.GeoDataFrame
    components: pd.DataFrame | None
    report: Report
    standard: Standard
    method: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def gaps(self) -> pd.Series:
        """Facility types missing per compound, as lists, indexed like ``compounds``."""
        return self.compounds["gaps"].map(lambda s: [g for g in str(s).split(";") if g])

    def to_store(self, project: Any) -> None:
        """Write ``coverage``, ``coverage_gaps`` and ``coverage_summary`` in one step."""
        from gisplan.store import Project

        p = project if isinstance(project, Project) else Project.open(os.fspath(project))
        long = self.coverage.copy()
        for col in long.columns:
            if isinstance(long[col].dtype, pd.CategoricalDtype):
                long[col] = long[col].astype(object)
        p.write_many({"coverage": long, "coverage_gaps": self.compounds,
                      "coverage_summary": self.summary},
                     meta_updates={"coverage": {"method": self.method,
                                                "standard": self.standard.file,
                                                **{k: v for k, v in self.info.items()
                                                   if isinstance(v, int | float | str)}}})


# --------------------------------------------------------------------------- helpers
def _text(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), None)


def _resolve_facilities(fac: gpd.GeoDataFrame, std: Standard, report: Report,
                        file: str | None) -> pd.Series:
    """Canonical type key per facility; flag and report unknown spellings."""
    if "facility_type" not in fac.columns:
        raise SchemaError("facilities have no column 'facility_type'", file=file,
                          layer="facilities", column="facility_type",
                          hint="add the type of each facility (e.g. 幼儿园, kindergarten)")
    keys = std.resolve_many(fac["facility_type"])
    unknown = keys.isna().to_numpy()
    if unknown.any():
        add_flags(fac, unknown, "unknown_facility_type")
        bad = fac.loc[unknown, "facility_type"].astype(object)
        for value, rows in bad.groupby(bad.fillna("<empty>"), sort=True).groups.items():
            close = std.suggest(value)
            hint = ("did you mean " + ", ".join(f"{k} ({std.zh(k)})" for k in close)
                    if close else "use a type of the life-circle standard: "
                    + ", ".join(std.types))
            report.add(Finding("warning", "unknown_facility_type",
                               f"{len(rows)} facilities of unknown type; kept, flagged, "
                               "left out of coverage", file=file, layer="facilities",
                               row=rows[0], column="facility_type", value=value, hint=hint))
    return keys


def _demand_points(compounds: gpd.GeoSeries, gates: gpd.GeoDataFrame | None,
                   ids: pd.Series, step_m: float | None, report: Report,
                   file: str | None) -> tuple[NDArray[np.object_], NDArray[np.int64],
                                              NDArray[np.bool_]]:
    """Points to walk from: gates where given, else boundary points every *step_m*."""
    n = len(compounds)
    has_gate = np.zeros(n, dtype=bool)
    pts_parts: list[NDArray[np.object_]] = []
    own_parts: list[NDArray[np.int64]] = []
    if gates is not None and len(gates) and "compound_id" in gates.columns:
        pos = pd.Series(np.arange(n), index=pd.Index(ids.astype(str)))
        pos = pos[~pos.index.duplicated()]
        gid = gates["compound_id"].astype(object)
        owner = pos.reindex(gid.astype(str)).to_numpy()
        geom = gates.geometry.to_numpy()
        good = ~np.isnan(owner) & ~(shapely.is_missing(geom) | shapely.is_empty(geom))
        orphan = np.isnan(owner) & gid.notna().to_numpy()
        if orphan.any():
            add_flags(gates, orphan, "gate_unknown_compound")
            first = int(np.flatnonzero(orphan)[0])
            report.add(Finding("warning", "gate_unknown_compound",
                               f"{int(orphan.sum())} gates name a compound that is not in "
                               "the compounds layer; not used", file=file, layer="gates",
                               row=gates.index[first], column="compound_id",
                               value=gid.iloc[first], hint="correct the compound_id"))
        own = owner[good].astype(np.int64)
        has_gate[own] = True
        pts_parts.append(geom[good])
        own_parts.append(own)
    poly = compounds.to_numpy()
    need = ~has_gate & ~(shapely.is_missing(poly) | shapely.is_empty(poly))
    ring = shapely.boundary(poly[need])
    if step_m:
        ring = shapely.segmentize(ring, step_m)
    xy, idx = shapely.get_coordinates(ring, return_index=True)
    pts_parts.append(np.asarray(shapely.points(xy), dtype=object))
    own_parts.append(np.flatnonzero(need)[idx].astype(np.int64))
    return np.concatenate(pts_parts), np.concatenate(own_parts), has_gate


@dataclass
class _Net:
    net: Network
    fac_snap: Snap
    pt_snap: Snap
    pt_owner: NDArray[np.int64]
    compound_snap: NDArray[np.float64]
    labels: NDArray[np.int64]


def _projector(src: Any, dst: Any) -> Callable[[NDArray[np.float64]], NDArray[np.float64]] | None:
    """Coordinate transform ``(n, 2) -> (n, 2)`` from *src* to *dst*; None if the same."""
    if CRS.from_user_input(src) == CRS.from_user_input(dst):
        return None

    def project(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transform_xy(xy[:, 0], xy[:, 1], src=src, dst=dst)
        return np.column_stack([x, y])

    return project


def _prepare_network(roads: gpd.GeoDataFrame, *, crs: Any, node_roads: bool, report: Report,
                     file: str | None, check_noding_below: int) -> Network:
    """Build the walking network from the roads layer (any CRS), measured in *crs*.

    Only the coordinate array of the roads is projected (no geometry is rebuilt).
    """
    geom = roads.geometry.to_numpy()
    use = np.ones(len(roads), dtype=bool)
    if "walkable" in roads.columns:
        use = ~(roads["walkable"].astype("boolean").fillna(True).to_numpy(dtype=bool) == False)  # noqa: E712
        if (~use).any():
            report.add(Finding("info", "roads_not_walkable",
                               f"{int((~use).sum())} roads marked not walkable are left out "
                               "of the walking network", file=file, layer="roads",
                               column="walkable"))
    net = build_network(geom[use], node=node_roads, project=_projector(roads.crs, crs))
    net.edge_source[:] = np.flatnonzero(use)[net.edge_source] if net.n_edges else []
    if net.info["dropped_empty"]:
        report.add(Finding("warning", "empty_geometry",
                           f"{net.info['dropped_empty']} roads without geometry left out of "
                           "the network", file=file, layer="roads"))
    if node_roads:
        report.add(Finding("info", "roads_noded",
                           f"roads split at intersections: {net.info['parts']} edges from "
                           f"{net.info['lines_in']} lines", file=file, layer="roads"))
    elif 0 < len(roads) <= check_noding_below:
        crossings = count_crossings(geom[use])
        if crossings:
            report.add(Finding("warning", "roads_not_noded",
                               f"{crossings} pairs of roads cross without a shared vertex; "
                               "walks cannot turn there", file=file, layer="roads",
                               hint="pass node_roads=True (CLI: --node-roads) to split roads "
                               "at intersections"))
    n_comp, _ = net.components
    if n_comp > 1:
        sizes = net.component_sizes()
        report.add(Finding("warning", "roads_disconnected",
                           f"the road network has {n_comp} disconnected parts (largest "
                           f"{int(sizes['nodes'].iloc[0])} nodes, "
                           f"{sizes['length_m'].iloc[0]:.0f} m); distances across parts are "
                           "shown as unreachable", file=file, layer="roads",
                           hint="connect the parts or add the missing road segments"))
    return net


# --------------------------------------------------------------------------- main
def coverage(
    source: Any,
    *,
    standard: Standard | str | Path | None = None,
    method: Method = "auto",
    types: list[str] | None = None,
    boundary_step_m: float | None = 50.0,
    max_snap_m: float = 250.0,
    search_limit_m: float = 3000.0,
    study_margin_m: float = 5000.0,
    node_roads: bool = False,
    check_noding_below: int = 50_000,
    capacity: bool = False,
    bundles: pd.Series | None = None,
) -> CoverageResult:
    """Distance from every compound to the nearest facility of each type, and gaps.

    Parameters
    ----------
    source : Project, path or mapping
        A programme store (or its path) or a mapping of canonical layers: ``compounds``
        (required), ``facilities``, optional ``roads``, ``gates``, ``bundle_members``.
    standard : Standard or path, optional
        Life-circle standard (default: the shipped ``life_circle.csv``).
    method : {"auto", "network", "euclidean", "both"}, default "auto"
        ``auto``: walking along roads where a ``roads`` layer exists, straight line
        otherwise; both are always reported when roads exist. ``network`` requires roads.
    types : list of str, optional
        Facility types to assess (default: all types of the standard).
    boundary_step_m : float or None, default 50
        Compounds without gates are measured from boundary points this far apart
        (``None``: boundary vertices only).
    max_snap_m : float, default 250
        Compounds and facilities farther than this from any road are flagged
        (``far_from_road``, ``facility_far_from_road``); their distances include the
        snapping distance.
    search_limit_m : float, default 3000
        Walking searches stop here; farther facilities are reported as
        ``beyond_limit``.
    study_margin_m : float, default 5000
        Facilities farther than this outside the compounds' extent are flagged
        ``outside_study_area`` and left out (wrong coordinates, usually).
    node_roads : bool, default False
        Split roads at intersections first (for un-noded road data).
    check_noding_below : int, default 50000
        Check road layers up to this many lines for crossings without a shared vertex.
    capacity : bool, default False
        Compute 2SFCA access (``fca_per_household``) for types whose facilities carry a
        ``capacity``.
    bundles : pandas.Series, optional
        Bundle id per ``compound_id``; default: the store's ``bundle_members`` layer or a
        ``bundle_id`` column on compounds.

    Returns
    -------
    CoverageResult

    Raises
    ------
    SchemaError
        No compounds layer, or a required column is missing.
    CRSError
        A layer has no CRS.
    """
    layers, file = load_layers(source)
    std = standard if isinstance(standard, Standard) else load_standard(standard)
    report = Report()
    if "compounds" not in layers:
        raise SchemaError("the programme has no compounds layer", file=file,
                          layer="compounds", hint="import compounds first (gisplan import)")
    comp_in = layers["compounds"]
    if "compound_id" not in comp_in.columns:
        raise SchemaError("compounds have no column 'compound_id'", file=file,
                          layer="compounds", column="compound_id",
                          hint="add a compound id (小区编号) column")
    types = list(std.types) if types is None else list(types)
    for t in types:
        if t not in std.types:
            close = std.suggest(t)
            raise SchemaError("facility type not in the standard", file=std.file,
                              column="facility_type", value=t,
                              hint=("did you mean " + ", ".join(close)) if close
                              else "choose from " + ", ".join(std.types))
    crs = metric_crs_for(comp_in, file=file)
    compounds = comp_in.copy()
    n = len(compounds)
    if "flags" not in compounds.columns:
        compounds["flags"] = ""
    cm = comp_in.to_crs(crs)
    poly = cm.geometry.to_numpy()
    no_geom = shapely.is_missing(poly) | shapely.is_empty(poly)
    if no_geom.any():
        add_flags(compounds, no_geom, "empty_geometry")
        report.add(Finding("warning", "empty_geometry",
                           f"{int(no_geom.sum())} compounds have no geometry; kept, distances "
                           "left empty", file=file, layer="compounds",
                           row=compounds.index[int(np.flatnonzero(no_geom)[0])],
                           hint="draw the compound boundary"))
    ids = compounds["compound_id"].astype(str)

    # facilities ------------------------------------------------------------------
    fac_in = layers.get("facilities")
    if fac_in is None:
        fac_in = gpd.GeoDataFrame({"facility_id": pd.Series(dtype=object),
                                   "facility_type": pd.Series(dtype=object)},
                                  geometry=gpd.GeoSeries([], crs=comp_in.crs))
        report.add(Finding("warning", "no_facilities", "the programme has no facilities "
                           "layer: every type is a gap", file=file, layer="facilities"))
    if fac_in.crs is None and len(fac_in):
        raise CRSError("layer has no coordinate reference system", file=file,
                       layer="facilities", hint="set the CRS when importing")
    facilities = fac_in.copy()
    if "flags" not in facilities.columns:
        facilities["flags"] = ""
    if "facility_id" not in facilities.columns:
        facilities["facility_id"] = [f"F{i}" for i in range(len(facilities))]
    keys = _resolve_facilities(facilities, std, report, file)
    facilities["facility_type_key"] = keys.to_numpy()
    fm = facilities.to_crs(crs) if len(facilities) else facilities.set_crs(crs,
                                                                           allow_override=True)
    fpts = fm.geometry.to_numpy()
    f_nogeom = shapely.is_missing(fpts) | shapely.is_empty(fpts)
    if f_nogeom.any():
        add_flags(facilities, f_nogeom, "empty_geometry")
        report.add(Finding("warning", "empty_geometry", f"{int(f_nogeom.sum())} facilities "
                           "have no location; kept, flagged, left out", file=file,
                           layer="facilities",
                           row=facilities.index[int(np.flatnonzero(f_nogeom)[0])],
                           hint="add coordinates"))
    bounds = shapely.total_bounds(poly[~no_geom]) if (~no_geom).any() else None
    outside = np.zeros(len(fpts), dtype=bool)
    if bounds is not None and len(fpts):
        x, y = shapely.get_x(fpts), shapely.get_y(fpts)
        with np.errstate(invalid="ignore"):
            outside = ~f_nogeom & ((x < bounds[0] - study_margin_m)
                                   | (x > bounds[2] + study_margin_m)
                                   | (y < bounds[1] - study_margin_m)
                                   | (y > bounds[3] + study_margin_m))
        if outside.any():
            add_flags(facilities, outside, "outside_study_area")
            first = int(np.flatnonzero(outside)[0])
            report.add(Finding("warning", "outside_study_area",
                               f"{int(outside.sum())} facilities lie more than "
                               f"{study_margin_m:.0f} m outside the compounds' extent; kept, "
                               "flagged, left out", file=file, layer="facilities",
                               row=facilities.index[first], column="geometry",
                               value=str(fac_in.geometry.iloc[first]),
                               hint="check for swapped lon/lat, a wrong CRS or GCJ-02/BD-09 "
                               "coordinates"))
    usable = keys.notna().to_numpy() & ~f_nogeom & ~outside
    fac_key = keys.to_numpy(dtype=object)
    fac_ids = facilities["facility_id"].astype(object).to_numpy()

    roads = layers.get("roads")
    use_net = method in ("network", "both") or (method == "auto" and roads is not None
                                                 and len(roads) > 0)
    if method == "network" and (roads is None or len(roads) == 0):
        raise SchemaError("walking distances need a roads layer", file=file, layer="roads",
                          hint="import roads (道路) or use method='euclidean'")
    if use_net and roads is not None and roads.crs is None:
        raise CRSError("layer has no coordinate reference system", file=file,
                       layer="roads", hint="set the CRS when importing")

    # straight line: in a second thread while the network is built and searched
    # (shapely, scipy and pyproj release the GIL in their array loops)
    pool = ThreadPoolExecutor(max_workers=1)
    straight_job = pool.submit(_straight_nearest, poly, no_geom, fpts,
                               [np.flatnonzero(usable & (fac_key == t)) for t in types])
    pool.shutdown(wait=False)

    # network ---------------------------------------------------------------------
    walk = np.full((len(types), n), np.inf)
    walk_fac = np.full((len(types), n), -1, dtype=np.int64)
    reach = np.full((len(types), n), -1, dtype=np.int8)  # codes of REACH; -1: none
    snap_m = np.full(n, np.nan)
    fac_snap_m = np.full(len(facilities), np.nan)
    has_gate = np.zeros(n, dtype=bool)
    components: pd.DataFrame | None = None
    info: dict[str, Any] = {"crs": str(crs)}
    if use_net and roads is not None:
        net = _prepare_network(roads, crs=crs, node_roads=node_roads, report=report,
                               file=file, check_noding_below=check_noding_below)
        components = net.component_sizes()
        _, labels = net.components
        info.update(nodes=net.n_nodes, edges=net.n_edges, components=len(components))
        gates = layers.get("gates")
        gates_m = gates.to_crs(crs).copy() if gates is not None and len(gates) else None
        pts, owner, has_gate = _demand_points(cm.geometry, gates_m, ids, boundary_step_m,
                                              report, file)
        by_owner = np.argsort(owner, kind="stable")  # group_min is fastest on sorted owners
        pts, owner = pts[by_owner], owner[by_owner]
        info["demand_points"] = len(pts)
        psnap = snap_points(net, pts)
        snap_m, _ = group_min(psnap.dist, owner, n)
        snap_m[~np.isfinite(snap_m)] = np.nan
        far = np.nan_to_num(snap_m, nan=np.inf) > max_snap_m
        far &= ~no_geom
        if far.any():
            add_flags(compounds, far, "far_from_road")
            report.add(Finding("warning", "far_from_road",
                               f"{int(far.sum())} compounds are more than {max_snap_m:.0f} m "
                               "from any road; walking distances include the gap",
                               file=file, layer="compounds",
                               row=compounds.index[int(np.flatnonzero(far)[0])],
                               hint="add the missing roads or paths, or check the location"))
        fuse = np.flatnonzero(usable)
        fsnap_all = snap_points(net, fpts[fuse]) if len(fuse) else Snap(
            np.empty(0, np.int64), np.empty(0), np.empty(0))
        fac_snap_m[fuse] = fsnap_all.dist
        ffar = np.zeros(len(facilities), dtype=bool)
        ffar[fuse] = fsnap_all.dist > max_snap_m
        if ffar.any():
            add_flags(facilities, ffar, "facility_far_from_road")
            report.add(Finding("warning", "facility_far_from_road",
                               f"{int(ffar.sum())} facilities are more than {max_snap_m:.0f} m "
                               "from any road; walking distances include the gap",
                               file=file, layer="facilities",
                               row=facilities.index[int(np.flatnonzero(ffar)[0])],
                               hint="check the location or add the access path"))
        og = origin_graph(net, fsnap_all)
        pt_comp = np.where(psnap.ok, labels[net.edge_u[np.maximum(psnap.edge, 0)]], -1)
        f_comp = labels[net.edge_u[fsnap_all.edge]] if len(fuse) else np.empty(0, np.int64)
        fuse_key = fac_key[fuse]
        for k, t in enumerate(types):
            org = np.flatnonzero(fuse_key == t)
            if len(org) == 0:
                reach[k] = _REACH_CODE["no_facility"]
                continue
            nd, no = og.nearest(org, limit=search_limit_m)
            pd_, pw = target_distances(og, nd, no, psnap, origins=org)
            pd_[pd_ > search_limit_m] = np.inf
            best, which = group_min(pd_, owner, n, payload=pw)
            walk[k] = best
            walk_fac[k] = np.where(which >= 0, fuse[np.maximum(which, 0)], -1)
            same_comp = np.isin(pt_comp, np.unique(f_comp[org]))
            any_same = np.bincount(owner, weights=same_comp, minlength=n) > 0
            reach[k] = np.where(np.isfinite(best), _REACH_CODE["reached"],
                                np.where(any_same, _REACH_CODE["beyond_limit"],
                                         _REACH_CODE["unreachable"]))
        reach[:, no_geom] = _REACH_CODE["not_snapped"]
    else:
        info["network"] = "none"

    straight, straight_fac = straight_job.result()

    # judge -----------------------------------------------------------------------
    judged_net = use_net and roads is not None
    method_used = "network" if judged_net else "euclidean"
    dist = walk if judged_net else straight
    std_m = np.array([std.walk_m(t) for t in types])
    covered = dist <= std_m[:, None]
    if not judged_net:
        has_any = np.array([bool((usable & (fac_key == t)).any()) for t in types])
        reach[:] = np.where(np.isfinite(straight), _REACH_CODE["reached"], -1)
        reach[~has_any] = _REACH_CODE["no_facility"]
        reach[:, no_geom] = _REACH_CODE["not_snapped"]

    # capacity-aware access ----------------------------------------------------------
    fca = np.full((len(types), n), np.nan)
    hh = (pd.to_numeric(compounds["households"], errors="coerce").to_numpy(dtype=float)
          if "households" in compounds.columns else np.full(n, np.nan))
    if capacity and "capacity" in facilities.columns:
        cap_all = pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(dtype=float)
        for k, t in enumerate(types):
            sel = np.flatnonzero(usable & (fac_key == t) & np.isfinite(cap_all))
            if len(sel) == 0:
                continue
            if judged_net:
                org = np.flatnonzero(np.isin(fuse, sel))
                pair = pair_distances(og, org, psnap, owner, n, limit=std_m[k])
            else:
                pair = _straight_pairs(fpts[sel], poly, std_m[k])
            access, _ = two_step_fca(pair, cap_all[fuse[org]] if judged_net else cap_all[sel],
                                     hh, catchment_m=std_m[k])
            fca[k] = access
        info["fca_types"] = int(np.isfinite(fca).any(axis=1).sum())

    # tables ------------------------------------------------------------------------
    long = _long_table(ids, types, std, straight, straight_fac, walk, walk_fac, dist, covered,
                       reach, snap_m, fac_snap_m, fac_ids, fca, method_used,
                       with_walk=judged_net)
    wide = _wide(compounds, types, dist, straight, covered, std, has_gate, snap_m,
                 judged_net, no_geom, fca)
    summary = _summary(wide, covered, layers, types, std, bundles)
    report.count("compounds", n, len(wide), flagged=int((wide["flags"].fillna("") != "").sum()))
    report.count("facilities", len(fac_in), len(facilities),
                 flagged=int((facilities["flags"].fillna("") != "").sum()))
    info["compounds"] = n
    info["facilities_used"] = int(usable.sum())
    return CoverageResult(long, wide, summary, facilities, components, report, std,
                          method_used, info)


def _straight_nearest(poly: NDArray[np.object_], no_geom: NDArray[np.bool_],
                      pts: NDArray[np.object_], of_type: list[NDArray[np.int64]]
                      ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Straight-line distance from each polygon to the nearest point of each type.

    Returns ``(distance, point)`` arrays of shape (types, polygons): ``inf`` / -1 for
    polygons without geometry and types without points.
    """
    dist = np.full((len(of_type), len(poly)), np.inf)
    which = np.full((len(of_type), len(poly)), -1, dtype=np.int64)
    has_poly = np.flatnonzero(~no_geom)
    if len(has_poly) == 0:
        return dist, which
    near = _PolygonNearest(poly[has_poly])
    for k, sel in enumerate(of_type):
        if len(sel):
            d, fi = near.query(pts[sel])
            dist[k, has_poly] = d
            which[k, has_poly] = sel[fi]
    return dist, which


class _PolygonNearest:
    """Exact nearest point to each polygon, by k-d tree candidates from the centroid.

    A point ``p`` is at least ``|c - p| - R`` from a polygon with centroid ``c`` and
    radius ``R`` (farthest vertex from ``c``). The point nearest the centroid is measured
    exactly; where the second nearest could still be closer (``|c - p2| - R <= best``),
    every point within ``best + R`` of the centroid is measured (a k-d ball query).
    """

    def __init__(self, poly: NDArray[np.object_]) -> None:
        cen = shapely.get_coordinates(shapely.centroid(poly))
        self.order = morton_order(cen)  # queried in this order: nearby after nearby
        self.poly = poly[self.order]
        self.cen = cen[self.order]
        vxy, vidx = shapely.get_coordinates(self.poly, return_index=True)
        r = np.hypot(*(vxy - self.cen[vidx]).T)
        self.radius = np.zeros(len(poly))
        np.maximum.at(self.radius, vidx, r)

    def query(self, pts: NDArray[np.object_]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Distance from each polygon to the nearest of *pts*, and which point."""
        from scipy.spatial import cKDTree

        tree = cKDTree(shapely.get_coordinates(pts))
        kq = min(2, len(pts))
        dc, ic = tree.query(self.cen, k=kq, workers=-1)
        dc = np.asarray(dc).reshape(len(self.poly), kq)
        ic = np.asarray(ic).reshape(len(self.poly), kq).astype(np.int64)
        bi = ic[:, 0]
        bd = shapely.distance(self.poly, pts[bi])
        unsure = np.flatnonzero(dc[:, -1] - self.radius <= bd) if kq > 1 else np.empty(0, int)
        if len(unsure):
            near = tree.query_ball_point(self.cen[unsure], bd[unsure] + self.radius[unsure]
                                         + 1e-6, workers=-1)
            counts = np.fromiter(map(len, near), dtype=np.int64, count=len(near))
            cand = np.fromiter(itertools.chain.from_iterable(near), dtype=np.int64,
                               count=int(counts.sum()))
            owner = np.repeat(np.arange(len(unsure)), counts)
            # ties (several points inside) go to the point nearest the centroid
            gap = tree.data[cand] - self.cen[unsure[owner]]
            order = np.lexsort((np.hypot(gap[:, 0], gap[:, 1]), owner))
            owner, cand = owner[order], cand[order]
            d = shapely.distance(self.poly[unsure[owner]], pts[cand])
            bd[unsure], bi[unsure] = group_min(d, owner, len(unsure), payload=cand)
        dist, which = np.empty_like(bd), np.empty_like(bi)
        dist[self.order], which[self.order] = bd, bi
        return dist, which


def _straight_pairs(pts: NDArray[np.object_], poly: NDArray[np.object_], limit: float
                    ) -> sp.csr_matrix:
    """Sparse (facilities × compounds) straight-line distances within *limit*."""
    tree = shapely.STRtree(poly)
    fi, ci = tree.query(pts, predicate="dwithin", distance=limit)
    d = np.maximum(shapely.distance(pts[fi], poly[ci]), 1e-9)
    return sp.csr_matrix((d, (fi, ci)), shape=(len(pts), len(poly)))


def _repeat_cat(values: list[Any], n: int) -> pd.Categorical:
    """Categorical of ``len(values) * n`` rows: each value repeated *n* times."""
    cats, codes = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    return pd.Categorical.from_codes(np.repeat(codes.reshape(-1), n),
                                     categories=pd.Index(cats, dtype=object))


def _long_table(ids: pd.Series, types: list[str], std: Standard,
                straight: NDArray[np.float64], straight_fac: NDArray[np.int64],
                walk: NDArray[np.float64], walk_fac: NDArray[np.int64],
                dist: NDArray[np.float64], covered: NDArray[np.bool_],
                reach: NDArray[np.int8], snap_m: NDArray[np.float64],
                fac_snap_m: NDArray[np.float64], fac_ids: NDArray[np.object_],
                fca: NDArray[np.float64], method: str, *, with_walk: bool) -> pd.DataFrame:
    """One row per compound × type; text columns are categoricals (no string per row)."""
    n, k = len(ids), len(types)
    fid_cat = pd.Categorical(pd.Series(fac_ids).astype(str))
    codes = fid_cat.codes.astype(np.int64)

    def fac(idx: NDArray[np.int64]) -> pd.Categorical:
        flat = idx.reshape(-1)
        c = np.where(flat >= 0, codes[np.maximum(flat, 0)] if len(codes) else -1, -1)
        return pd.Categorical.from_codes(c, categories=fid_cat.categories)

    def finite(a: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.where(np.isfinite(a), a, np.nan).reshape(-1)

    out = pd.DataFrame({
        "compound_id": pd.Categorical.from_codes(np.tile(np.arange(n), k),
                                                 categories=pd.Index(ids).unique())
        if ids.is_unique else np.tile(ids.to_numpy(dtype=object), k),
        "facility_type": pd.Categorical.from_codes(np.repeat(np.arange(k), n),
                                                   categories=pd.Index(types)),
        "facility_zh": pd.Categorical.from_codes(np.repeat(np.arange(k), n),
                                                 categories=pd.Index([std.zh(t) for t in types])),
        "circle": _repeat_cat(std.table.loc[types, "circle"].tolist(), n),
        "standard_m": np.repeat([std.walk_m(t) for t in types], n),
        "straight_m": finite(straight),
        "straight_facility_id": fac(straight_fac),
    })
    if with_walk:
        out["walk_m"] = finite(walk)
        out["walk_facility_id"] = fac(walk_fac)
        out["snap_m"] = np.tile(snap_m, k)
        wf = walk_fac.reshape(-1)
        out["facility_snap_m"] = np.where(wf >= 0, fac_snap_m[np.maximum(wf, 0)]
                                          if len(fac_snap_m) else np.nan, np.nan)
    out["distance_m"] = finite(dist)
    out["method"] = _repeat_cat([method], n * k)
    out["covered"] = covered.reshape(-1)
    out["reach"] = pd.Categorical.from_codes(reach.reshape(-1), categories=pd.Index(list(REACH)))
    if np.isfinite(fca).any():
        out["fca_per_household"] = fca.reshape(-1)
    return out


def _joined_per_column(mask: NDArray[np.bool_], labels: list[str], sep: str
                       ) -> NDArray[np.object_]:
    """``sep.join(labels[mask[:, i]])`` for every column *i*, one join per distinct column."""
    k, n = mask.shape
    if n == 0:
        return np.empty(0, dtype=object)
    lab = np.asarray(labels, dtype=object)
    if k <= 62:  # each column as one int64 bit set, hashed
        inv, keys = pd.factorize((mask.astype(np.int64) << np.arange(k)[:, None]).sum(axis=0))
        combos = (np.asarray(keys)[:, None] >> np.arange(k)) & 1 == 1
    else:  # pragma: no cover - more types than bits in an int64
        combos, inv = np.unique(mask.T, axis=0, return_inverse=True)
    text = np.array([sep.join(lab[c]) for c in combos], dtype=object)
    return text[np.asarray(inv).reshape(-1)]


def _wide(compounds: gpd.GeoDataFrame, types: list[str], dist: NDArray[np.float64],
          straight: NDArray[np.float64], covered: NDArray[np.bool_], std: Standard,
          has_gate: NDArray[np.bool_], snap_m: NDArray[np.float64], judged_net: bool,
          no_geom: NDArray[np.bool_], fca: NDArray[np.float64]) -> gpd.GeoDataFrame:
    cols: dict[str, Any] = {}
    for k, t in enumerate(types):
        cols[f"walk_m_{t}"] = np.where(np.isfinite(dist[k]), dist[k], np.nan).round(1)
        if judged_net:
            cols[f"straight_m_{t}"] = np.where(np.isfinite(straight[k]), straight[k],
                                               np.nan).round(1)
        cols[f"covered_{t}"] = covered[k]
        if np.isfinite(fca[k]).any():
            cols[f"fca_{t}"] = fca[k]
    gap = ~covered & ~no_geom[None, :]
    cols["gaps"] = _joined_per_column(gap, list(types), ";")
    cols["gaps_zh"] = _joined_per_column(gap, [std.zh(t) for t in types], "、")
    cols["n_gaps"] = gap.sum(axis=0)
    cols["snap_m"] = np.round(snap_m, 1)
    cols["access_from"] = np.where(has_gate, "gates", "boundary")
    cols["coverage_method"] = "network" if judged_net else "euclidean"
    extra = pd.DataFrame(cols, index=compounds.index)
    geom = compounds.geometry.name
    keep = [c for c in compounds.columns if c not in extra.columns and c not in (geom, "flags")]
    out = pd.concat([compounds[keep], extra, compounds[["flags"]]], axis=1)
    return gpd.GeoDataFrame(out, geometry=compounds.geometry, crs=compounds.crs)


def _bundle_of(wide: gpd.GeoDataFrame, layers: Mapping[str, Any],
               bundles: pd.Series | None) -> pd.Series | None:
    ids = wide["compound_id"].astype(str)
    if bundles is not None:
        return ids.map(bundles.rename(index=str))
    bm = layers.get("bundle_members")
    if bm is not None and {"bundle_id", "compound_id"} <= set(bm.columns):
        m = bm.drop_duplicates("compound_id").set_index(bm["compound_id"].astype(str)
                                                        .drop_duplicates())["bundle_id"]
        return ids.map(m)
    if "bundle_id" in wide.columns:
        return wide["bundle_id"]
    return None


def _summary(wide: gpd.GeoDataFrame, covered: NDArray[np.bool_], layers: Mapping[str, Any],
             types: list[str], std: Standard, bundles: pd.Series | None) -> pd.DataFrame:
    """Shares covered per unit of each level and type (``np.bincount`` on unit codes)."""
    order = np.argsort(np.asarray(types, dtype=object))  # types alphabetically in a unit
    types = [types[i] for i in order]
    covered = covered[order]
    k = len(types)
    hh = (pd.to_numeric(wide["households"], errors="coerce") if "households" in wide.columns
          else pd.Series(np.nan, index=wide.index)).to_numpy(dtype=float)
    hh0 = np.nan_to_num(hh)
    units: dict[str, pd.Series | None] = {
        "programme": pd.Series("all", index=wide.index),
        "county": wide["county"] if "county" in wide.columns else None,
        "district": wide["district"] if "district" in wide.columns else None,
        "bundle": _bundle_of(wide, layers, bundles),
    }
    tcode = np.arange(k)[:, None]
    frames = []
    for level, unit in units.items():
        if unit is None or unit.isna().all():
            continue
        codes, names = pd.factorize(unit.astype(object).fillna("(none)").to_numpy(), sort=True)
        m = len(names)
        cell = (codes[None, :] * k + tcode).reshape(-1)  # unit-major, type-minor

        def per_cell(weights: NDArray[Any] | None, cell: NDArray[np.int64] = cell,
                     m: int = m) -> NDArray[Any]:
            return np.bincount(cell, weights=weights, minlength=m * k)

        frames.append(pd.DataFrame({
            "level": level,
            "unit": np.repeat(np.asarray(names, dtype=object), k),
            "facility_type": np.tile(np.asarray(types, dtype=object), m),
            "compounds": per_cell(None).astype(np.int64),
            "compounds_covered": per_cell(covered.reshape(-1).astype(float)).astype(int),
            "households": per_cell(np.tile(hh0, k)),
            "households_covered": per_cell((covered * hh0).reshape(-1)),
            "households_unknown": per_cell(np.tile(~np.isfinite(hh), k).astype(float)
                                           ).astype(np.int64),
        }))
    out = pd.concat(frames, ignore_index=True)
    out["facility_type"] = out["facility_type"].astype(object)
    out.insert(3, "facility_zh", out["facility_type"].map({t: std.zh(t) for t in types}))
    out["standard_m"] = out["facility_type"].map({t: std.walk_m(t) for t in types})
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_compounds"] = out["compounds_covered"] / out["compounds"]
        out["share_households"] = np.where(out["households"] > 0,
                                           out["households_covered"] / out["households"],
                                           np.nan)
    return out
