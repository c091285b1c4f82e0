"""Siting new facilities (设施选址): maximal covering location.

Given the compounds that a facility type does not yet cover (from
:func:`gisplan.coverage.coverage`), propose *K* sites among candidates (a candidate
layer, compound representative points, or road network nodes) that newly cover the most
households within the standard's walking distance.

Distances are measured exactly as coverage measures them: on the same walking network
(:class:`gisplan.network.WalkNetwork`, which leaves out roads marked ``walkable=False``),
from the candidate as if it were a facility to the compound's gates or boundary points.
So a site said to cover a compound is one that coverage, with a facility there, finds
covered.

The core works on a sparse coverage matrix (candidates × demand): a greedy solver with
lazy evaluation (the classic (1 - 1/e)-approximation, fast on large problems) and an
exact solver (:func:`scipy.optimize.milp`) for small cases and for checking the greedy.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> a = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=bool))
>>> w = np.array([10.0, 5.0, 5.0, 10.0])
>>> greedy_max_cover(a, w, 2)[0].tolist()
[0, 2]
>>> exact_max_cover(a, w, 2)[1]
30.0

On a programme:

>>> res = site_project("layers/guyuan_2022.gpkg", facility_type="幼儿园", count=2)
>>> res.sites["rank"].tolist(), res.sites["candidate_source"].unique().tolist()
([1, 2], ['network_node'])
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray

from gisplan._errors import ConstraintError, SchemaError
from gisplan.coverage import (
    CoverageResult,
    _file_named,
    _stamp_file,
    coverage,
    walk_origins,
)
from gisplan.crs import analysis_crs, project_layers
from gisplan.findings import Finding, Report
from gisplan.network import WalkNetwork, origin_graph, pair_distances, snap_points
from gisplan.sources import ProgrammeLike, as_project, read_layers
from gisplan.standards import Standard, load_standard

__all__ = ["SitingResult", "exact_max_cover", "greedy_max_cover", "site", "site_project"]

#: Where a site may go: road network nodes, compound representative points, or
#: ``auto`` (network nodes where there is a walking network, else compounds).
Candidates = Literal["auto", "network", "compounds"]
#: How far a site reaches: ``auto`` walks where there is a network, ``network`` must walk,
#: ``euclidean`` measures straight lines.
SiteMethod = Literal["auto", "network", "euclidean"]
#: Lazy greedy (any size) or exact MILP (small cases).
Solver = Literal["greedy", "exact"]

# ------------------------------------------------------------------------------ core
def greedy_max_cover(a: Any, weights: NDArray[np.float64], k: int, *,
                     covered: NDArray[np.bool_] | None = None
                     ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Greedy maximal covering with lazy evaluation (CELF).

    Parameters
    ----------
    a : scipy.sparse matrix of bool, shape (n_candidates, n_demand)
        ``a[j, i]`` is true when candidate *j* would cover demand unit *i*.
    weights : ndarray, shape (n_demand,)
        Demand weight (households).
    k : int
        Number of sites.
    covered : ndarray of bool, optional
        Demand already covered (weight ignored).

    Returns
    -------
    chosen : ndarray of int
        Candidate positions, in the order chosen (at most *k*; fewer when nothing
        more can be covered).
    gains : ndarray of float
        Weight newly covered by each chosen site.
    """
    a = sp.csr_matrix(a, dtype=bool)
    w = np.nan_to_num(np.asarray(weights, dtype=float))
    left = np.ones(a.shape[1], dtype=bool) if covered is None else ~np.asarray(covered, bool)
    gain0 = a @ (w * left)
    heap = [(-float(g), int(j)) for j, g in enumerate(gain0) if g > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    while heap and len(chosen) < k:
        _, j = heapq.heappop(heap)
        cols = a.indices[a.indptr[j]:a.indptr[j + 1]]
        real = float((w[cols] * left[cols]).sum())
        if real <= 0:
            continue
        if not heap or real >= -heap[0][0] - 1e-12:
            chosen.append(j)
            gains.append(real)
            left[cols] = False
        else:
            heapq.heappush(heap, (-real, j))
    return np.array(chosen, dtype=np.int64), np.array(gains, dtype=float)


def exact_max_cover(a: Any, weights: NDArray[np.float64], k: int, *,
                    covered: NDArray[np.bool_] | None = None, time_limit_s: float = 60.0
                    ) -> tuple[NDArray[np.int64], float]:
    """Exact maximal covering by mixed-integer programming (:func:`scipy.optimize.milp`).

    Maximise the weight of covered demand subject to at most *k* sites. For small
    problems (hundreds of candidates); use :func:`greedy_max_cover` for large ones.

    Returns
    -------
    chosen : ndarray of int
        Candidate positions chosen.
    objective : float
        Weight newly covered.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    a = sp.csr_matrix(a, dtype=float)
    w = np.nan_to_num(np.asarray(weights, dtype=float))
    if covered is not None:
        w = np.where(np.asarray(covered, bool), 0.0, w)
    keep = np.flatnonzero(w > 0)
    a = a[:, keep]
    w = w[keep]
    nc, nd = a.shape
    if nd == 0 or nc == 0:
        return np.empty(0, dtype=np.int64), 0.0
    c = np.concatenate([np.zeros(nc), -w])
    link = sp.hstack([-a.T, sp.identity(nd)], format="csr")  # y_i - sum_j a_ji x_j <= 0
    budget = sp.hstack([sp.csr_matrix(np.ones((1, nc))), sp.csr_matrix((1, nd))])
    cons = [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(budget, 0, k)]
    res = milp(c, constraints=cons, integrality=np.ones(nc + nd, dtype=np.int64),
               bounds=Bounds(0, 1), options={"time_limit": time_limit_s})
    if res.x is None:
        raise ConstraintError(f"the exact solver found no solution: {res.message}")
    chosen = np.flatnonzero(res.x[:nc] > 0.5).astype(np.int64)
    return chosen, float(-res.fun)


# --------------------------------------------------------------------------- analysis
@dataclass
class SitingResult:
    """What :func:`site` proposes.

    Attributes
    ----------
    sites : geopandas.GeoDataFrame
        One row per proposed site, in the order chosen (CRS of the compounds):
        ``rank``, ``facility_type``, ``facility_zh``, ``candidate``,
        ``candidate_source``, ``households_new``, ``compounds_new``,
        ``households_cumulative``, ``compound_ids``, ``solver``. Written as store layer
        ``sites``.
    demand : pandas.DataFrame
        Every compound (index kept): ``compound_id``, ``households``,
        ``covered_before``, ``covered_by_site`` (rank of the site that newly covers it,
        or NA).
    totals : dict
        ``households_uncovered_before``, ``households_newly_covered``,
        ``households_uncovered_after`` and the same for compounds.
    report : Report
        Findings (those of the coverage run included).
    distances : scipy.sparse.csr_matrix, shape (n_candidates, n_compounds)
        Distance in metres from each candidate to each compound where it is within the
        standard's distance (absent: farther); walking or straight as judged, the same
        figures :func:`gisplan.coverage.coverage` gives for a facility there.
    candidate_ids : ndarray of str
        Row labels of :attr:`distances` (``N<node>``, compound ids or ``candidate_id``).
    coverage : CoverageResult
        The coverage of the facility type before siting (its ``.network`` walked on).
    info : dict
        ``candidates`` (usable) and ``candidate_source``.
    """

    sites: gpd.GeoDataFrame
    demand: pd.DataFrame
    totals: dict[str, Any]
    report: Report
    distances: sp.csr_matrix
    candidate_ids: NDArray[np.object_]
    coverage: CoverageResult
    info: dict[str, Any] = field(default_factory=dict)

    def to_store(self, project: ProgrammeLike) -> None:
        """Write the ``sites`` layer."""
        as_project(project).write_many({"sites": self.sites},
                                       meta_updates={"sites": self.totals})


def site_project(source: ProgrammeLike, *, facility_type: str, **options: Any
                 ) -> SitingResult:
    """Siting on a programme: read its layers and call :func:`site`.

    Reads ``compounds`` (required), ``facilities``, ``roads`` (unless a ``network=`` is
    given, e.g. ``network=coverage_result.network``) and ``gates``.

    Parameters
    ----------
    source : Project, str or os.PathLike
        The programme or the path of its GeoPackage.
    facility_type : str
        As for :func:`site`.
    **options
        Keyword options of :func:`site`.
    """
    p = as_project(source)
    layers = read_layers(p, ["compounds"], optional=["facilities", "roads", "gates"])
    roads = layers["roads"] if options.get("network") is None else None
    with _file_named(str(p.path)):
        res = site(layers["compounds"], layers["facilities"], facility_type=facility_type,
                   roads=roads, gates=layers["gates"], **options)
    _stamp_file(res.report, str(p.path))
    return res


def site(
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None = None,
    *,
    facility_type: str,
    count: int = 3,
    roads: gpd.GeoDataFrame | None = None,
    gates: gpd.GeoDataFrame | None = None,
    network: WalkNetwork | None = None,
    candidates: Candidates | gpd.GeoDataFrame = "auto",
    standard: Standard | str | Path | None = None,
    method: SiteMethod = "auto",
    solver: Solver = "greedy",
    boundary_step_m: float | None = 50.0,
    node_roads: bool = False,
) -> SitingResult:
    """Propose *count* sites for *facility_type* that newly cover the most households.

    Parameters
    ----------
    compounds, facilities, roads, gates, network
        As for :func:`gisplan.coverage.coverage`: the walking network is *network*
        (e.g. ``CoverageResult.network``) or, when None, built once from *roads* and
        used both for the coverage before siting and for the sites' reach.
    facility_type : str
        A type of the standard (key, Chinese name or alias: ``幼儿园``).
    count : int, default 3
        Number of sites (K), at least 1.
    candidates : {"auto", "network", "compounds"} or GeoDataFrame, default "auto"
        See :data:`Candidates`; or a layer of candidate points/polygons (e.g. vacant
        lots, with an optional ``candidate_id``).
    standard : Standard or path, optional
        Life-circle standard (None: the shipped one).
    method : {"auto", "network", "euclidean"}, default "auto"
        See :data:`SiteMethod`.
    solver : {"greedy", "exact"}, default "greedy"
        See :data:`Solver`.
    boundary_step_m : float or None, default 50
        Boundary point spacing for compounds without gates (None: vertices only).
    node_roads : bool, default False
        Split roads at intersections first (only when the network is built here).

    Returns
    -------
    SitingResult

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> comp = gpd.GeoDataFrame({"compound_id": ["A", "B"], "households": [100, 900]},
    ...     geometry=[shapely.box(0, 0, 50, 50), shapely.box(600, 0, 650, 50)], crs=4547)
    >>> res = site(comp, facility_type="幼儿园", count=1)
    >>> res.sites[["candidate", "households_new", "compound_ids"]].to_dict("records")
    [{'candidate': 'B', 'households_new': 900, 'compound_ids': 'B'}]
    """
    std = standard if isinstance(standard, Standard) else load_standard(standard)
    key = _facility_key(std, facility_type)
    if count < 1:
        raise ConstraintError(f"count must be at least 1 (got {count})")
    if roads is not None and network is not None:
        raise ValueError("give roads= or network=, not both (a network is built from roads)")
    cand_layer = candidates if isinstance(candidates, gpd.GeoDataFrame) else None
    report = Report()
    crs = network.crs if network is not None else analysis_crs(compounds)
    walk = method != "euclidean" and (network is not None
                                      or (roads is not None and len(roads) > 0))
    metric, crs = project_layers(
        {"compounds": compounds, "facilities": facilities, "gates": gates if walk else None,
         "candidates": cand_layer,
         "roads": roads.iloc[:0] if walk and roads is not None else None},
        crs=crs, report=report)
    if walk and network is None:
        assert roads is not None
        network = WalkNetwork.from_roads(roads, crs=crs, node=node_roads)
    cov = coverage(metric["compounds"], metric["facilities"], gates=metric["gates"],
                   network=network if walk else None, standard=std,
                   method=method, types=[key],
                   boundary_step_m=boundary_step_m, capacity=False)
    report.merge(cov.report)
    cpts, cid, csrc = _candidate_points(candidates, metric, cov, compounds)
    dist = _reach(cov, cpts, metric, std.walk_m(key), boundary_step_m)
    return _propose(cov, dist, cpts, cid, csrc, compounds, key, std, count, solver, report)


def _facility_key(std: Standard, facility_type: str) -> str:
    """Return the canonical key of *facility_type*; a clear error if it is unknown."""
    key = std.resolve(facility_type)
    if key is None:
        close = std.suggest(facility_type)
        raise SchemaError("facility type not in the standard", column="facility_type",
                          value=facility_type, file=std.file,
                          hint=("did you mean " + ", ".join(close)) if close
                          else "choose from " + ", ".join(std.types))
    return key


def _candidate_points(candidates: Candidates | gpd.GeoDataFrame, metric: dict[str, Any],
                      cov: CoverageResult, compounds: gpd.GeoDataFrame
                      ) -> tuple[NDArray[np.object_], NDArray[np.object_], str]:
    """Candidate points (metric CRS), their ids and where they come from."""
    if isinstance(candidates, gpd.GeoDataFrame):
        layer = metric["candidates"]
        cid = (candidates["candidate_id"].astype(str).to_numpy()
               if "candidate_id" in candidates.columns
               else np.array([f"K{i}" for i in range(len(candidates))], dtype=object))
        return shapely.point_on_surface(layer.geometry.to_numpy()), cid, "layer"
    net = cov.network
    if candidates == "network" or (candidates == "auto" and net is not None):
        if net is None:
            raise SchemaError("network candidates need a roads layer", layer="roads",
                              hint="use candidates='compounds'")
        ids = np.array([f"N{i}" for i in range(net.network.n_nodes)], dtype=object)
        return np.asarray(shapely.points(net.network.xy), dtype=object), ids, "network_node"
    poly = metric["compounds"].geometry.to_numpy()
    cid = compounds["compound_id"].astype(str).to_numpy(dtype=object)
    return shapely.point_on_surface(poly), cid, "compound"


def _reach(cov: CoverageResult, cpts: NDArray[np.object_], metric: dict[str, Any],
           radius: float, boundary_step_m: float | None) -> sp.csr_matrix:
    """Distances (candidates × compounds) within *radius*, measured as coverage measures.

    Walking: from the candidate snapped to the network, as if it were a facility, to the
    compound's gates or boundary points; only candidates within *radius* in a straight
    line of some such point are searched (a walk is never shorter). Straight: from the
    candidate to the compound polygon.
    """
    poly = metric["compounds"].geometry.to_numpy()
    ok = ~(shapely.is_missing(cpts) | shapely.is_empty(cpts))
    n, m = len(poly), len(cpts)
    if cov.network is None:
        tree = shapely.STRtree(poly)
        ci, pi = tree.query(cpts[ok], predicate="dwithin", distance=radius)
        d = np.maximum(shapely.distance(cpts[ok][ci], poly[pi]), 1e-9)
        return sp.csr_matrix((d, (np.flatnonzero(ok)[ci], pi)), shape=(m, n))
    net = cov.network.network
    origins = walk_origins(cov.network, poly, metric["gates"],
                           metric["compounds"]["compound_id"].astype(str), boundary_step_m,
                           Report())
    near = np.zeros(m, dtype=bool)
    if len(origins.owner) and ok.any():
        tree = shapely.STRtree(origins.points)
        hit, _ = tree.query(cpts[ok], predicate="dwithin", distance=radius)
        near[np.flatnonzero(ok)[np.unique(hit)]] = True
    use = np.flatnonzero(near)
    og = origin_graph(net, snap_points(net, cpts[use]))
    pair = pair_distances(og, np.arange(len(use)), origins.snap, origins.owner, n,
                          limit=radius).tocoo()
    return sp.csr_matrix((pair.data, (use[pair.row], pair.col)), shape=(m, n))


def _propose(cov: CoverageResult, dist: sp.csr_matrix, cpts: NDArray[np.object_],
             cid: NDArray[np.object_], csrc: str, compounds: gpd.GeoDataFrame, key: str,
             std: Standard, count: int, solver: Solver, report: Report) -> SitingResult:
    """Choose the sites among the candidates and tabulate what each newly covers."""
    comp = cov.compounds
    covered_before = comp[f"covered_{key}"].to_numpy(dtype=bool)
    hh_raw = (pd.to_numeric(comp["households"], errors="coerce") if "households" in comp
              else pd.Series(np.nan, index=comp.index)).to_numpy(dtype=float)
    unknown_hh = ~np.isfinite(hh_raw) & ~covered_before
    if unknown_hh.any():
        report.add(Finding("warning", "missing_households",
                           f"{int(unknown_hh.sum())} uncovered compounds have no household "
                           "count and weigh nothing in siting", layer="compounds",
                           column="households", hint="fill in 户数"))
    hh: NDArray[np.float64] = np.nan_to_num(hh_raw).astype(np.float64)
    poly = comp.geometry.to_numpy()
    demand = ~covered_before & (hh > 0) & ~(shapely.is_missing(poly) | shapely.is_empty(poly))
    ok = ~(shapely.is_missing(cpts) | shapely.is_empty(cpts))
    a = dist.multiply(demand[None, :]).multiply(ok[:, None]).astype(bool).tocsr()
    chosen = _solve(a, hh, count, covered_before, solver)
    sites, by_site = _site_rows(a, chosen, hh, covered_before, cid, csrc, comp, key, std,
                                solver)
    geo = gpd.GeoSeries(cpts[chosen], crs=comp.crs).to_crs(compounds.crs)
    sites = gpd.GeoDataFrame(sites, geometry=geo.to_numpy(), crs=compounds.crs)
    dem = pd.DataFrame({"compound_id": comp["compound_id"].to_numpy(),
                        "households": hh_raw, "covered_before": covered_before,
                        "covered_by_site": pd.array(np.where(by_site > 0, by_site, -1),
                                                    dtype="Int64")},
                       index=comp.index)
    dem.loc[dem["covered_by_site"] < 0, "covered_by_site"] = pd.NA
    totals = _totals(key, count, len(chosen), hh, covered_before, by_site)
    if len(chosen) < count:
        report.add(Finding("info", "fewer_sites",
                           f"only {len(chosen)} of {count} sites add coverage; more sites "
                           "would cover no further households", layer="sites"))
    return SitingResult(sites, dem, totals, report, dist, cid, cov,
                        {"candidates": int(ok.sum()), "candidate_source": csrc})


def _solve(a: sp.csr_matrix, hh: NDArray[np.float64], count: int,
           covered: NDArray[np.bool_], solver: Solver) -> NDArray[np.int64]:
    """Candidate rows chosen, in the order of their marginal gain."""
    if solver == "exact":
        chosen, _ = exact_max_cover(a, hh, count, covered=covered)
        order, _ = greedy_max_cover(a[chosen], hh, len(chosen), covered=covered)
        return chosen[order]
    chosen, _ = greedy_max_cover(a, hh, count, covered=covered)
    return chosen


_SITE_COLUMNS = ["rank", "facility_type", "facility_zh", "standard_m", "candidate",
                 "candidate_source", "households_new", "compounds_new",
                 "households_cumulative", "compound_ids", "solver"]


def _site_rows(a: sp.csr_matrix, chosen: NDArray[np.int64], hh: NDArray[np.float64],
               covered_before: NDArray[np.bool_], cid: NDArray[np.object_], csrc: str,
               comp: gpd.GeoDataFrame, key: str, std: Standard, solver: Solver
               ) -> tuple[pd.DataFrame, NDArray[np.int64]]:
    """One row per chosen site, and the rank of the site newly covering each compound."""
    left = ~covered_before.copy()
    by_site = np.full(len(comp), -1, dtype=np.int64)
    ids = comp["compound_id"].astype(str).to_numpy()
    rows = []
    cum = 0.0
    for rank, j in enumerate(chosen, start=1):
        cols = a.indices[a.indptr[j]:a.indptr[j + 1]]
        new = cols[left[cols]]
        left[new] = False
        by_site[new] = rank
        cum += hh[new].sum()
        rows.append({"rank": rank, "facility_type": key, "facility_zh": std.zh(key),
                     "standard_m": std.walk_m(key), "candidate": cid[j],
                     "candidate_source": csrc, "households_new": int(hh[new].sum()),
                     "compounds_new": len(new), "households_cumulative": int(cum),
                     "compound_ids": ";".join(ids[new]), "solver": solver})
    return pd.DataFrame(rows, columns=_SITE_COLUMNS), by_site


def _totals(key: str, count: int, n_sites: int, hh: NDArray[np.float64],
            covered_before: NDArray[np.bool_], by_site: NDArray[np.int64]) -> dict[str, Any]:
    unc_hh = float(hh[~covered_before].sum())
    new_hh = float(hh[by_site > 0].sum())
    return {"facility_type": key, "count": int(count), "sites": n_sites,
            "households_uncovered_before": int(unc_hh),
            "households_newly_covered": int(new_hh),
            "households_uncovered_after": int(unc_hh - new_hh),
            "compounds_uncovered_before": int((~covered_before).sum()),
            "compounds_newly_covered": int((by_site > 0).sum()),
            "compounds_uncovered_after": int((~covered_before).sum() - (by_site > 0).sum())}
