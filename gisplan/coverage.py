"""Facility coverage (设施覆盖): distances, gaps and roll-ups per compound and facility type.

For every compound (小区) and facility type of the life-circle standard
(:mod:`gisplan.standards`) this module finds the nearest facility, the distance to it in
metres, and whether it lies within the standard's walking distance:

* straight line: from the compound's polygon (0 when the facility is inside it);
* walking: on the programme's walking network (:class:`gisplan.network.WalkNetwork`,
  built from the ``roads`` layer without the roads marked ``walkable=False``), from the
  compound's gates where gates are given, otherwise from points along its boundary,
  snapping both ends to the nearest road edge and adding the snapping distances.

It rolls coverage up by bundle (连片), 片区, county (县区) and programme, by compounds and
by households, and computes capacity-aware access (two-step floating catchment, 2SFCA)
where facilities carry a ``capacity``.

:func:`coverage` works on GeoDataFrames; :func:`coverage_project` reads the layers of a
programme and calls it.

Examples
--------
>>> from gisplan.coverage import coverage_project
>>> res = coverage_project("layers/guyuan_2022.gpkg")
>>> res.method, len(res.compounds)
('network', 26)
>>> res.compounds[["compound_id", "walk_m_kindergarten", "gaps"]].shape
(26, 3)
>>> sorted(res.summary["level"].unique())
['county', 'district', 'programme']
>>> res.network.network.n_edges > 0          # the walking network, for siting to reuse
True
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray

from gisplan._errors import InputError, SchemaError
from gisplan._threads import in_background
from gisplan.crs import project_layers
from gisplan.findings import Finding, Report, add_flags
from gisplan.network import (
    OriginGraph,
    Snap,
    WalkNetwork,
    group_min,
    morton_order,
    origin_graph,
    pair_distances,
    snap_points,
    target_distances,
)
from gisplan.sources import ProgrammeLike, as_project, read_layers
from gisplan.standards import Standard, load_standard

__all__ = [
    "CoverageResult",
    "Method",
    "WalkOrigins",
    "coverage",
    "coverage_project",
    "two_step_fca",
    "walk_origins",
]

#: How distances are judged: ``auto`` walks where there is a network, ``network`` must
#: walk, ``euclidean`` measures straight lines only, ``both`` is ``network`` where there
#: is a network and straight lines otherwise (straight lines are always reported too).
Method = Literal["auto", "network", "euclidean", "both"]

_T = TypeVar("_T")

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
    ([0.2, 0.2], [0.2, 0.4])
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
        Connected parts of the road network, largest first (None: straight lines only).
    report : Report
        Findings and row counts.
    standard : Standard
        The life-circle standard applied.
    method : {"network", "euclidean"}
        How the distances were judged.
    network : WalkNetwork or None
        The walking network measured on, to hand on to :func:`gisplan.siting.site`
        (``network=res.network``); None when distances are straight lines.
    info : dict
        Sizes (nodes, edges, demand points, facilities used) and the metric CRS.
    """

    coverage: pd.DataFrame
    compounds: gpd.GeoDataFrame
    summary: pd.DataFrame
    facilities: gpd.GeoDataFrame
    components: pd.DataFrame | None
    report: Report
    standard: Standard
    method: Literal["network", "euclidean"]
    network: WalkNetwork | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def gaps(self) -> pd.Series:
        """Facility types missing per compound, as lists, indexed like ``compounds``."""
        return self.compounds["gaps"].map(lambda s: [g for g in str(s).split(";") if g])

    def to_store(self, project: ProgrammeLike) -> None:
        """Write ``coverage``, ``coverage_gaps`` and ``coverage_summary`` in one step."""
        p = as_project(project)
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


# --------------------------------------------------------------------------- adapter
def coverage_project(source: ProgrammeLike, **options: Any) -> CoverageResult:
    """Coverage of a programme: read its layers and call :func:`coverage`.

    Reads ``compounds`` (required), ``facilities``, ``roads`` (unless a ``network=`` is
    given), ``gates`` and ``bundle_members`` (for the roll-up by bundle, unless
    ``bundles=`` is given).

    Parameters
    ----------
    source : Project, str or os.PathLike
        The programme or the path of its GeoPackage.
    **options
        Keyword options of :func:`coverage`.

    Returns
    -------
    CoverageResult
        Findings name the programme's file.
    """
    p = as_project(source)
    layers = read_layers(p, ["compounds"],
                         optional=["facilities", "roads", "gates", "bundle_members"])
    if options.get("bundles") is None:
        options["bundles"] = _bundles_of_members(layers["bundle_members"])
    roads = layers["roads"] if options.get("network") is None else None
    with _file_named(str(p.path)):
        res = coverage(layers["compounds"], layers["facilities"], roads=roads,
                       gates=layers["gates"], **options)
    _stamp_file(res.report, str(p.path))
    return res


def _bundles_of_members(members: pd.DataFrame | None) -> pd.Series | None:
    """Bundle id per ``compound_id`` from a ``bundle_members`` layer (None if absent)."""
    if members is None or not {"bundle_id", "compound_id"} <= set(members.columns):
        return None
    first = members.drop_duplicates("compound_id")
    return pd.Series(first["bundle_id"].to_numpy(),
                     index=first["compound_id"].astype(str).to_numpy())


@contextmanager
def _file_named(file: str) -> Iterator[None]:
    """Name *file* in an :class:`InputError` raised inside that names no file."""
    try:
        yield
    except InputError as err:
        if err.file is None:
            err.file = file
            err.args = (str(err),)
        raise


def _stamp_file(report: Report, file: str) -> None:
    """Name *file* in every finding of *report* that names a layer but no file."""
    report.findings = [replace(f, file=file) if f.file is None and f.layer else f
                       for f in report.findings]


# --------------------------------------------------------------------------- inputs
def _standard(standard: Standard | str | Path | None) -> Standard:
    return standard if isinstance(standard, Standard) else load_standard(standard)


def _check_types(std: Standard, types: list[str] | None) -> list[str]:
    """Return the facility types to assess (None: all types of the standard)."""
    types = list(std.types) if types is None else list(types)
    for t in types:
        if t not in std.types:
            close = std.suggest(t)
            raise SchemaError("facility type not in the standard", file=std.file,
                              column="facility_type", value=t,
                              hint=("did you mean " + ", ".join(close)) if close
                              else "choose from " + ", ".join(std.types))
    return types


def _use_network(method: Method, roads: gpd.GeoDataFrame | None,
                 network: WalkNetwork | None) -> bool:
    """Whether distances are walked; a clear error where walking is asked without roads."""
    if roads is not None and network is not None:
        raise ValueError("give roads= or network=, not both (a network is built from roads)")
    has_net = network is not None or (roads is not None and len(roads) > 0)
    if method == "network" and not has_net:
        raise SchemaError("walking distances need a roads layer", layer="roads",
                          hint="import roads (道路) or use method='euclidean'")
    return has_net and method != "euclidean"


def _facilities_or_empty(facilities: gpd.GeoDataFrame | None, compounds: gpd.GeoDataFrame,
                         report: Report) -> gpd.GeoDataFrame:
    """Return the facilities, or an empty layer (every type a gap) when there is none."""
    if facilities is None:
        report.add(Finding("warning", "no_facilities", "the programme has no facilities "
                           "layer: every type is a gap", layer="facilities"))
        return gpd.GeoDataFrame({"facility_id": pd.Series(dtype=object),
                                 "facility_type": pd.Series(dtype=object)},
                                geometry=gpd.GeoSeries([], crs=compounds.crs))
    if len(facilities) == 0 and facilities.crs is None:
        return facilities.set_crs(compounds.crs)
    return facilities


@dataclass
class _Compounds:
    """The compounds as measured: output frame (input CRS), metric polygons, ids."""

    frame: gpd.GeoDataFrame
    poly: NDArray[np.object_]
    no_geom: NDArray[np.bool_]
    ids: pd.Series

    def __len__(self) -> int:
        return len(self.frame)


def _prepare_compounds(compounds: gpd.GeoDataFrame, metric: gpd.GeoDataFrame,
                       report: Report) -> _Compounds:
    """Copy the compounds for output, flag those without geometry."""
    if "compound_id" not in compounds.columns:
        raise SchemaError("compounds have no column 'compound_id'", layer="compounds",
                          column="compound_id", hint="add a compound id (小区编号) column")
    frame = compounds.copy()
    if "flags" not in frame.columns:
        frame["flags"] = ""
    poly = metric.geometry.to_numpy()
    no_geom = shapely.is_missing(poly) | shapely.is_empty(poly)
    if no_geom.any():
        add_flags(frame, no_geom, "empty_geometry")
        report.add(Finding("warning", "empty_geometry",
                           f"{int(no_geom.sum())} compounds have no geometry; kept, distances "
                           "left empty", layer="compounds",
                           row=frame.index[int(np.flatnonzero(no_geom)[0])],
                           hint="draw the compound boundary"))
    return _Compounds(frame, poly, no_geom, frame["compound_id"].astype(str))


@dataclass
class _Facilities:
    """The facilities as measured: output frame, metric points, type keys, usable rows."""

    frame: gpd.GeoDataFrame
    pts: NDArray[np.object_]
    key: NDArray[np.object_]
    usable: NDArray[np.bool_]
    ids: NDArray[np.object_]

    def of_type(self, t: str) -> NDArray[np.int64]:
        """Positions of the usable facilities of type *t*."""
        return np.flatnonzero(self.usable & (self.key == t))


def _prepare_facilities(facilities: gpd.GeoDataFrame, metric: gpd.GeoDataFrame,
                        std: Standard, comp: _Compounds, study_margin_m: float,
                        report: Report) -> _Facilities:
    """Copy the facilities for output; resolve types; flag unlocated and far-off ones."""
    frame = facilities.copy()
    if "flags" not in frame.columns:
        frame["flags"] = ""
    if "facility_id" not in frame.columns:
        frame["facility_id"] = [f"F{i}" for i in range(len(frame))]
    keys = _resolve_facilities(frame, std, report)
    frame["facility_type_key"] = keys.to_numpy()
    pts = metric.geometry.to_numpy()
    f_nogeom = shapely.is_missing(pts) | shapely.is_empty(pts)
    if f_nogeom.any():
        add_flags(frame, f_nogeom, "empty_geometry")
        report.add(Finding("warning", "empty_geometry", f"{int(f_nogeom.sum())} facilities "
                           "have no location; kept, flagged, left out", layer="facilities",
                           row=frame.index[int(np.flatnonzero(f_nogeom)[0])],
                           hint="add coordinates"))
    outside = _outside_study_area(pts, f_nogeom, comp, study_margin_m)
    if outside.any():
        add_flags(frame, outside, "outside_study_area")
        first = int(np.flatnonzero(outside)[0])
        report.add(Finding("warning", "outside_study_area",
                           f"{int(outside.sum())} facilities lie more than "
                           f"{study_margin_m:.0f} m outside the compounds' extent; kept, "
                           "flagged, left out", layer="facilities",
                           row=frame.index[first], column="geometry",
                           value=str(facilities.geometry.iloc[first]),
                           hint="check for swapped lon/lat, a wrong CRS or GCJ-02/BD-09 "
                           "coordinates"))
    usable = keys.notna().to_numpy() & ~f_nogeom & ~outside
    return _Facilities(frame, pts, keys.to_numpy(dtype=object), usable,
                       frame["facility_id"].astype(object).to_numpy())


def _outside_study_area(pts: NDArray[np.object_], no_geom: NDArray[np.bool_],
                        comp: _Compounds, margin_m: float) -> NDArray[np.bool_]:
    """Facilities more than *margin_m* outside the bounding box of the compounds."""
    outside = np.zeros(len(pts), dtype=bool)
    if not (~comp.no_geom).any() or not len(pts):
        return outside
    b = shapely.total_bounds(comp.poly[~comp.no_geom])
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    with np.errstate(invalid="ignore"):
        outside = ~no_geom & ((x < b[0] - margin_m) | (x > b[2] + margin_m)
                              | (y < b[1] - margin_m) | (y > b[3] + margin_m))
    return np.asarray(outside, dtype=bool)


def _resolve_facilities(fac: gpd.GeoDataFrame, std: Standard, report: Report) -> pd.Series:
    """Canonical type key per facility; flag and report unknown spellings."""
    if "facility_type" not in fac.columns:
        raise SchemaError("facilities have no column 'facility_type'",
                          layer="facilities", column="facility_type",
                          hint="add the type of each facility (e.g. 幼儿园, kindergarten)")
    keys = std.resolve_many(fac["facility_type"])
    unknown = keys.isna().to_numpy()
    if unknown.any():
        add_flags(fac, unknown, "unknown_facility_type")
        bad = fac.loc[unknown, "facility_type"].astype(object)
        groups = bad.groupby(bad.fillna("<empty>"), sort=True).groups
        report.add_capped(_unknown_type_findings(groups, std), total=len(groups))
    return keys


def _unknown_type_findings(groups: Any, std: Standard) -> Iterator[Finding]:
    """One finding per distinct spelling the standard does not assess.

    A type of the schema's vocabulary that the life-circle standard gives no walking
    distance for (e.g. 药店 pharmacy, recorded from OSM) is an ``info`` finding
    ``not_assessed_facility_type``; any other spelling is an ``unknown_facility_type``
    warning with close matches from the standard.
    """
    from gisplan.schema import vocab

    recorded = set(vocab("facility_type"))
    for value, rows in groups.items():
        if value in recorded:
            yield Finding("info", "not_assessed_facility_type",
                          f"{len(rows)} facilities of type {value!r}: recorded, but the "
                          "life-circle standard gives no walking distance for it, so "
                          "coverage does not assess it", layer="facilities", row=rows[0],
                          column="facility_type", value=value,
                          hint="add a row to the standard (--standard FILE.csv) to assess it")
            continue
        close = std.suggest(value)
        hint = ("did you mean " + ", ".join(f"{k} ({std.zh(k)})" for k in close)
                if close else "use a type of the life-circle standard: "
                + ", ".join(std.types))
        yield Finding("warning", "unknown_facility_type",
                      f"{len(rows)} facilities of unknown type; kept, flagged, "
                      "left out of coverage", layer="facilities",
                      row=rows[0], column="facility_type", value=value, hint=hint)


# --------------------------------------------------------------------------- walking
@dataclass
class WalkOrigins:
    """Where each compound is walked from, snapped to the walking network.

    Gates where the compound has any, else points along its boundary every
    ``boundary_step_m``. Points are sorted by compound (``owner``).

    Attributes
    ----------
    points : ndarray of shapely.Point
        The points, in the network's CRS.
    owner : ndarray of int
        Position of the compound of each point.
    snap : Snap
        Each point snapped to its nearest edge.
    has_gate : ndarray of bool, shape (n_compounds,)
        Compounds walked from their gates.
    snap_m : ndarray of float, shape (n_compounds,)
        Shortest snapping distance of each compound's points (NaN: no point).
    """

    points: NDArray[np.object_]
    owner: NDArray[np.int64]
    snap: Snap
    has_gate: NDArray[np.bool_]
    snap_m: NDArray[np.float64]


def walk_origins(network: WalkNetwork, poly: NDArray[np.object_],
                 gates: gpd.GeoDataFrame | None, ids: pd.Series,
                 boundary_step_m: float | None, report: Report) -> WalkOrigins:
    """Gates or boundary points of every compound, snapped to *network*.

    Parameters
    ----------
    network : WalkNetwork
    poly : ndarray of shapely geometry
        Compound polygons in the network's CRS.
    gates : GeoDataFrame or None
        Gates (``compound_id``, points) in the network's CRS; None: no gates.
    ids : pandas.Series
        ``compound_id`` of each polygon, as text.
    boundary_step_m : float or None
        Spacing of boundary points (None: boundary vertices only).
    report : Report
        Receives ``gate_unknown_compound``.
    """
    gates_m = gates.copy() if gates is not None and len(gates) else None
    pts, owner, has_gate = _demand_points(poly, gates_m, ids, boundary_step_m, report)
    by_owner = np.argsort(owner, kind="stable")  # group_min is fastest on sorted owners
    pts, owner = pts[by_owner], owner[by_owner]
    snap = snap_points(network.network, pts)
    snap_m, _ = group_min(snap.dist, owner, len(poly))
    snap_m[~np.isfinite(snap_m)] = np.nan
    return WalkOrigins(pts, owner, snap, has_gate, snap_m)


def _demand_points(poly: NDArray[np.object_], gates: gpd.GeoDataFrame | None,
                   ids: pd.Series, step_m: float | None, report: Report
                   ) -> tuple[NDArray[np.object_], NDArray[np.int64], NDArray[np.bool_]]:
    """Points to walk from: gates where given, else boundary points every *step_m*."""
    n = len(poly)
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
                               "the compounds layer; not used", layer="gates",
                               row=gates.index[first], column="compound_id",
                               value=gid.iloc[first], hint="correct the compound_id"))
        own = owner[good].astype(np.int64)
        has_gate[own] = True
        pts_parts.append(geom[good])
        own_parts.append(own)
    need = ~has_gate & ~(shapely.is_missing(poly) | shapely.is_empty(poly))
    ring = shapely.boundary(poly[need])
    if step_m:
        ring = shapely.segmentize(ring, step_m)
    xy, idx = shapely.get_coordinates(ring, return_index=True)
    pts_parts.append(np.asarray(shapely.points(xy), dtype=object))
    own_parts.append(np.flatnonzero(need)[idx].astype(np.int64))
    return np.concatenate(pts_parts), np.concatenate(own_parts), has_gate


@dataclass
class _Walks:
    """Walking distances per type × compound, and what they were measured with."""

    walk: NDArray[np.float64]
    walk_fac: NDArray[np.int64]
    reach: NDArray[np.int8]
    origins: WalkOrigins
    fac_snap_m: NDArray[np.float64]
    graph: OriginGraph
    fuse: NDArray[np.int64]


def _walk(network: WalkNetwork, comp: _Compounds, fac: _Facilities,
          gates: gpd.GeoDataFrame | None, types: list[str], *,
          boundary_step_m: float | None, max_snap_m: float, search_limit_m: float,
          report: Report) -> _Walks:
    """Walk from every usable facility to every compound, one search per type."""
    net = network.network
    origins = walk_origins(network, comp.poly, gates, comp.ids, boundary_step_m, report)
    far = (np.nan_to_num(origins.snap_m, nan=np.inf) > max_snap_m) & ~comp.no_geom
    if far.any():
        add_flags(comp.frame, far, "far_from_road")
        report.add(Finding("warning", "far_from_road",
                           f"{int(far.sum())} compounds are more than {max_snap_m:.0f} m "
                           "from any road; walking distances include the gap",
                           layer="compounds", row=comp.frame.index[int(np.flatnonzero(far)[0])],
                           hint="add the missing roads or paths, or check the location"))
    fuse = np.flatnonzero(fac.usable)
    fsnap = snap_points(net, fac.pts[fuse]) if len(fuse) else Snap(
        np.empty(0, np.int64), np.empty(0), np.empty(0))
    fac_snap_m = np.full(len(fac.pts), np.nan)
    fac_snap_m[fuse] = fsnap.dist
    ffar = np.zeros(len(fac.pts), dtype=bool)
    ffar[fuse] = fsnap.dist > max_snap_m
    if ffar.any():
        add_flags(fac.frame, ffar, "facility_far_from_road")
        report.add(Finding("warning", "facility_far_from_road",
                           f"{int(ffar.sum())} facilities are more than {max_snap_m:.0f} m "
                           "from any road; walking distances include the gap",
                           layer="facilities",
                           row=fac.frame.index[int(np.flatnonzero(ffar)[0])],
                           hint="check the location or add the access path"))
    og = origin_graph(net, fsnap)
    walk, walk_fac, reach = _nearest_by_type(og, origins, fac.key[fuse], fuse, types,
                                             len(comp), search_limit_m)
    reach[:, comp.no_geom] = _REACH_CODE["not_snapped"]
    return _Walks(walk, walk_fac, reach, origins, fac_snap_m, og, fuse)


def _nearest_by_type(og: OriginGraph, origins: WalkOrigins, fuse_key: NDArray[np.object_],
                     fuse: NDArray[np.int64], types: list[str], n: int, limit: float
                     ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int8]]:
    """Per type: walk to the nearest facility (one multi-source search), which, and reach."""
    net = og.net
    _, labels = net.components
    walk = np.full((len(types), n), np.inf)
    walk_fac = np.full((len(types), n), -1, dtype=np.int64)
    reach = np.full((len(types), n), -1, dtype=np.int8)  # codes of REACH; -1: none
    psnap, owner = origins.snap, origins.owner
    pt_comp = np.where(psnap.ok, labels[net.edge_u[np.maximum(psnap.edge, 0)]], -1)
    f_comp = labels[net.edge_u[og.snap.edge]] if len(fuse) else np.empty(0, np.int64)
    for k, t in enumerate(types):
        org = np.flatnonzero(fuse_key == t)
        if len(org) == 0:
            reach[k] = _REACH_CODE["no_facility"]
            continue
        nd, no = og.nearest(org, limit=limit)
        pd_, pw = target_distances(og, nd, no, psnap, origins=org)
        pd_[pd_ > limit] = np.inf
        best, which = group_min(pd_, owner, n, payload=pw)
        walk[k] = best
        walk_fac[k] = np.where(which >= 0, fuse[np.maximum(which, 0)], -1)
        same_comp = np.isin(pt_comp, np.unique(f_comp[org]))
        any_same = np.bincount(owner, weights=same_comp, minlength=n) > 0
        reach[k] = np.where(np.isfinite(best), _REACH_CODE["reached"],
                            np.where(any_same, _REACH_CODE["beyond_limit"],
                                     _REACH_CODE["unreachable"]))
    return walk, walk_fac, reach


# --------------------------------------------------------------------------- main
def coverage(
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None = None,
    *,
    roads: gpd.GeoDataFrame | None = None,
    gates: gpd.GeoDataFrame | None = None,
    network: WalkNetwork | None = None,
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
    compounds : geopandas.GeoDataFrame
        Compound polygons with ``compound_id``; ``households``, ``district``, ``county``
        and ``bundle_id`` are used for the roll-ups when present.
    facilities : geopandas.GeoDataFrame, optional
        Facility points with ``facility_type`` (and ``facility_id``, ``capacity``);
        None: no facilities, every type is a gap.
    roads : geopandas.GeoDataFrame, optional
        Roads to walk on (see :meth:`gisplan.network.WalkNetwork.from_roads`); None:
        no roads (straight lines, unless *network* is given).
    gates : geopandas.GeoDataFrame, optional
        Gate points with ``compound_id``; None: walk from the compounds' boundaries.
    network : WalkNetwork, optional
        A walking network already built (e.g. ``CoverageResult.network``), instead of
        *roads*; all layers are measured in its CRS. None: built from *roads*.
    standard : Standard or path, optional
        Life-circle standard (None: the shipped ``life_circle.csv``).
    method : {"auto", "network", "euclidean", "both"}, default "auto"
        See :data:`Method`; ``network`` without roads is an error.
    types : list of str, optional
        Facility type keys to assess (None: all types of the standard).
    boundary_step_m : float or None, default 50
        Compounds without gates are measured from boundary points this far apart
        (None: boundary vertices only).
    max_snap_m : float, default 250
        Compounds and facilities farther than this from any road are flagged
        (``far_from_road``, ``facility_far_from_road``); their distances include the
        snapping distance.
    search_limit_m : float, default 3000
        Walking searches stop here; farther facilities are ``beyond_limit``.
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
        Bundle id per ``compound_id``; None: the compounds' ``bundle_id`` column, if any.

    Returns
    -------
    CoverageResult
        Tables indexed like the inputs; the walking network as ``.network``.

    Raises
    ------
    SchemaError
        A required column is missing, a type is not in the standard, or ``network``
        is asked without roads.
    CRSError
        A layer has no CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> comp = gpd.GeoDataFrame({"compound_id": ["A", "B"], "households": [100, 900]},
    ...     geometry=[shapely.box(0, 0, 50, 50), shapely.box(600, 0, 650, 50)], crs=4547)
    >>> fac = gpd.GeoDataFrame({"facility_type": ["幼儿园"]},
    ...                        geometry=[shapely.Point(60, 25)], crs=4547)
    >>> res = coverage(comp, fac, types=["kindergarten"])
    >>> res.compounds[["compound_id", "walk_m_kindergarten", "covered_kindergarten"]]
      compound_id  walk_m_kindergarten  covered_kindergarten
    0           A                 10.0                  True
    1           B                540.0                 False
    """
    std = _standard(standard)
    types = _check_types(std, types)
    use_net = _use_network(method, roads, network)
    report = Report()
    facilities = _facilities_or_empty(facilities, compounds, report)
    metric, crs = project_layers(
        {"compounds": compounds, "facilities": facilities,
         "gates": gates if use_net else None,
         # roads: only their CRS is checked here; the network projects their coordinates
         "roads": roads.iloc[:0] if use_net and roads is not None else None},
        crs=network.crs if network is not None else None, report=report)
    comp = _prepare_compounds(compounds, metric["compounds"], report)
    fac = _prepare_facilities(facilities, metric["facilities"], std, comp, study_margin_m,
                              report)
    # straight lines in a second thread while the network is built and walked: both
    # release the GIL (GEOS, scipy, pyproj), and this halves the time on two cores
    # (benchmarks/bench_coverage.py); without a network there is nothing to overlap
    straight_job = (in_background if use_net else _now)(
        _straight_nearest, comp.poly, comp.no_geom, fac.pts, [fac.of_type(t) for t in types])
    info: dict[str, Any] = {"crs": str(crs)}
    walks: _Walks | None = None
    if use_net:
        if network is None:
            assert roads is not None  # _use_network: roads or a network
            network = WalkNetwork.from_roads(roads, crs=crs, node=node_roads,
                                             check_noding_below=check_noding_below)
        report.extend(network.report.findings)
        walks = _walk(network, comp, fac, metric["gates"], types,
                      boundary_step_m=boundary_step_m, max_snap_m=max_snap_m,
                      search_limit_m=search_limit_m, report=report)
        info.update(nodes=network.network.n_nodes, edges=network.network.n_edges,
                    components=network.network.components[0],
                    demand_points=len(walks.origins.owner))
    else:
        network = None
        info["network"] = "none"
    straight, straight_fac = straight_job()
    return _assemble(comp, fac, types, std, straight, straight_fac, walks, network,
                     capacity=capacity, bundles=bundles, info=info, report=report)


def _now(func: Callable[..., _T], *args: Any) -> Callable[[], _T]:
    """Run ``func(*args)`` here and now; return a function giving its result."""
    result = func(*args)
    return lambda: result


def _judge(walks: _Walks | None, straight: NDArray[np.float64], fac: _Facilities,
           types: list[str], std: Standard, no_geom: NDArray[np.bool_]
           ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.int8]]:
    """Return the distance judged (walking where walked), covered or not, and reach."""
    std_m = np.array([std.walk_m(t) for t in types])
    if walks is not None:
        return walks.walk, walks.walk <= std_m[:, None], walks.reach
    has_any = np.array([len(fac.of_type(t)) > 0 for t in types], dtype=bool)
    reach = np.where(np.isfinite(straight), _REACH_CODE["reached"], -1).astype(np.int8)
    reach[~has_any] = _REACH_CODE["no_facility"]
    reach[:, no_geom] = _REACH_CODE["not_snapped"]
    return straight, straight <= std_m[:, None], reach


def _fca(walks: _Walks | None, comp: _Compounds, fac: _Facilities, types: list[str],
         std: Standard) -> NDArray[np.float64]:
    """2SFCA access per type × compound where facilities of the type carry a capacity."""
    n = len(comp)
    fca = np.full((len(types), n), np.nan)
    hh = (pd.to_numeric(comp.frame["households"], errors="coerce").to_numpy(dtype=float)
          if "households" in comp.frame.columns else np.full(n, np.nan))
    cap_all = pd.to_numeric(fac.frame["capacity"], errors="coerce").to_numpy(dtype=float)
    for k, t in enumerate(types):
        sel = np.flatnonzero(fac.usable & (fac.key == t) & np.isfinite(cap_all))
        if len(sel) == 0:
            continue
        radius = std.walk_m(t)
        if walks is not None:
            org = np.flatnonzero(np.isin(walks.fuse, sel))
            pair = pair_distances(walks.graph, org, walks.origins.snap, walks.origins.owner,
                                  n, limit=radius)
            cap = cap_all[walks.fuse[org]]
        else:
            pair = _straight_pairs(fac.pts[sel], comp.poly, radius)
            cap = cap_all[sel]
        fca[k], _ = two_step_fca(pair, cap, hh, catchment_m=radius)
    return fca


def _assemble(comp: _Compounds, fac: _Facilities, types: list[str], std: Standard,
              straight: NDArray[np.float64], straight_fac: NDArray[np.int64],
              walks: _Walks | None, network: WalkNetwork | None, *, capacity: bool,
              bundles: pd.Series | None, info: dict[str, Any], report: Report
              ) -> CoverageResult:
    """Judge the distances and build the long, wide and summary tables."""
    n = len(comp)
    dist, covered, reach = _judge(walks, straight, fac, types, std, comp.no_geom)
    fca = np.full((len(types), n), np.nan)
    if capacity and "capacity" in fac.frame.columns:
        fca = _fca(walks, comp, fac, types, std)
        info["fca_types"] = int(np.isfinite(fca).any(axis=1).sum())
    judged_net = walks is not None
    method: Literal["network", "euclidean"] = "network" if judged_net else "euclidean"
    empty_walk = np.full((len(types), n), np.inf)
    long = _long_table(
        comp.ids, types, std, straight, straight_fac,
        walks.walk if walks else empty_walk,
        walks.walk_fac if walks else np.full((len(types), n), -1, dtype=np.int64),
        dist, covered, reach, walks.origins.snap_m if walks else np.full(n, np.nan),
        walks.fac_snap_m if walks else np.full(len(fac.pts), np.nan), fac.ids, fca, method,
        with_walk=judged_net)
    wide = _wide(comp.frame, types, dist, straight, covered, std,
                 walks.origins.has_gate if walks else np.zeros(n, dtype=bool),
                 walks.origins.snap_m if walks else np.full(n, np.nan), judged_net,
                 comp.no_geom, fca)
    summary = _summary(wide, covered, types, std, bundles, _district_units(wide, report))
    report.count("compounds", n, len(wide), flagged=int((wide["flags"].fillna("") != "").sum()))
    report.count("facilities", len(fac.frame), len(fac.frame),
                 flagged=int((fac.frame["flags"].fillna("") != "").sum()))
    info["compounds"] = n
    info["facilities_used"] = int(fac.usable.sum())
    components = network.network.component_sizes() if network is not None else None
    return CoverageResult(long, wide, summary, fac.frame, components, report, std, method,
                          network, info)


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


def _bundle_of(wide: gpd.GeoDataFrame, bundles: pd.Series | None) -> pd.Series | None:
    """Bundle of each compound: from *bundles* (by ``compound_id``), else ``bundle_id``."""
    ids = wide["compound_id"].astype(str)
    if bundles is not None:
        return ids.map(bundles.rename(index=str))
    if "bundle_id" in wide.columns:
        return wide["bundle_id"]
    return None


def _district_units(wide: gpd.GeoDataFrame, report: Report) -> pd.Series | None:
    """Return the 片区 of each compound for the roll-up: ``district``, else ``street``."""
    from gisplan.schema import level_from_column

    units, line = level_from_column(wide, "district", reason="no 片区 column")
    if units is not None and line is not None and units.name != "district":
        report.add(Finding("info", "level_from_column", line, layer="compounds",
                           column=str(units.name), value="district"))
    return units


def _summary(wide: gpd.GeoDataFrame, covered: NDArray[np.bool_], types: list[str],
             std: Standard, bundles: pd.Series | None,
             district: pd.Series | None = None) -> pd.DataFrame:
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
        "district": district,
        "bundle": _bundle_of(wide, bundles),
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
