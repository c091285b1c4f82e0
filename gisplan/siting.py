"""Siting new facilities (设施选址): maximal covering location.

Given the compounds that a facility type does not yet cover (from
:func:`gisplan.coverage.coverage`), propose *K* sites among candidates (a candidate
layer, compound representative points, or road network nodes) that newly cover the most
households within the standard's walking distance.

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
"""

from __future__ import annotations

import heapq
import os
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
from gisplan.coverage import _demand_points, coverage, load_layers, metric_crs_for
from gisplan.findings import Finding, Report
from gisplan.network import (
    build_network,
    origin_graph,
    pair_distances,
    snap_points,
)
from gisplan.standards import Standard, load_standard

__all__ = ["SitingResult", "exact_max_cover", "greedy_max_cover", "site"]

Candidates = Literal["auto", "network", "compounds"]


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


# --------------------------------------------------------------------------- adapter
@dataclass
class SitingResult:
    """What :func:`site` proposes.

    Attributes
    ----------
    sites : geopandas.GeoDataFrame
        One row per proposed site, in the order chosen (store CRS): ``rank``,
        ``facility_type``, ``facility_zh``, ``candidate``, ``candidate_source``,
        ``households_new``, ``compounds_new``, ``households_cumulative``,
        ``compound_ids``, ``solver``. Written as store layer ``sites``.
    demand : pandas.DataFrame
        Every compound: ``compound_id``, ``households``, ``covered_before``,
        ``covered_by_site`` (rank of the site that newly covers it, or NA).
    totals : dict
        ``households_uncovered_before``, ``households_newly_covered``,
        ``households_uncovered_after`` and the same for compounds.
    report : Report
    """

    sites: gpd.GeoDataFrame
    demand: pd.DataFrame
    totals: dict[str, Any]
    report: Report
    info: dict[str, Any] = field(default_factory=dict)

    def to_store(self, project: Any) -> None:
        """Write the ``sites`` layer."""
        from gisplan.store import Project

        p = project if isinstance(project, Project) else Project.open(os.fspath(project))
        p.write_many({"sites": self.sites}, meta_updates={"sites": self.totals})


def site(
    source: Any,
    *,
    facility_type: str,
    count: int = 3,
    candidates: Candidates | gpd.GeoDataFrame = "auto",
    standard: Standard | str | Path | None = None,
    method: Literal["auto", "network", "euclidean"] = "auto",
    solver: Literal["greedy", "exact"] = "greedy",
    boundary_step_m: float | None = 50.0,
    node_roads: bool = False,
) -> SitingResult:
    """Propose *count* sites for *facility_type* that newly cover the most households.

    Parameters
    ----------
    source : Project, path or mapping
        The programme (see :func:`gisplan.coverage.coverage`).
    facility_type : str
        A type of the standard (key, Chinese name or alias: ``幼儿园``).
    count : int, default 3
        Number of sites (K).
    candidates : {"auto", "network", "compounds"} or GeoDataFrame, default "auto"
        Where a site may go: road network nodes, compound representative points
        (public space inside the compound), or a layer of candidate points/polygons
        (e.g. vacant lots). ``auto``: network nodes where roads exist, else compounds.
    standard : Standard or path, optional
        Life-circle standard.
    method : {"auto", "network", "euclidean"}, default "auto"
        How far a site reaches: walking along roads (where roads exist) or straight.
    solver : {"greedy", "exact"}, default "greedy"
        Lazy greedy (any size) or exact MILP (small cases).
    boundary_step_m : float or None, default 50
        Boundary point spacing for compounds without gates.
    node_roads : bool, default False
        Split roads at intersections first.

    Returns
    -------
    SitingResult
    """
    std = standard if isinstance(standard, Standard) else load_standard(standard)
    key = std.resolve(facility_type)
    if key is None:
        close = std.suggest(facility_type)
        raise SchemaError("facility type not in the standard", column="facility_type",
                          value=facility_type, file=std.file,
                          hint=("did you mean " + ", ".join(close)) if close
                          else "choose from " + ", ".join(std.types))
    if count < 1:
        raise ConstraintError(f"count must be at least 1 (got {count})")
    layers, file = load_layers(source)
    roads = layers.get("roads")
    has_roads = roads is not None and len(roads) > 0
    if method == "network" and not has_roads:
        raise SchemaError("walking distances need a roads layer", file=file, layer="roads",
                          hint="import roads (道路) or use method='euclidean'")
    use_net = has_roads and method != "euclidean"
    cov = coverage(layers, standard=std, types=[key],
                   method="network" if use_net else "euclidean",
                   boundary_step_m=boundary_step_m, node_roads=node_roads, capacity=False)
    report = cov.report
    comp = cov.compounds
    n = len(comp)
    radius = std.walk_m(key)
    covered_before = comp[f"covered_{key}"].to_numpy(dtype=bool)
    hh_raw = (pd.to_numeric(comp["households"], errors="coerce") if "households" in comp
              else pd.Series(np.nan, index=comp.index)).to_numpy(dtype=float)
    unknown_hh = ~np.isfinite(hh_raw) & ~covered_before
    if unknown_hh.any():
        report.add(Finding("warning", "missing_households",
                           f"{int(unknown_hh.sum())} uncovered compounds have no household "
                           "count and weigh nothing in siting", file=file, layer="compounds",
                           column="households", hint="fill in 户数"))
    hh: NDArray[np.float64] = np.nan_to_num(hh_raw).astype(np.float64)

    crs = metric_crs_for(layers["compounds"], file=file)
    cm = layers["compounds"].to_crs(crs)
    poly = cm.geometry.to_numpy()
    net = build_network(roads.to_crs(crs).geometry.to_numpy(), node=node_roads) if (
        use_net and roads is not None) else None
    # candidates ------------------------------------------------------------------
    if isinstance(candidates, gpd.GeoDataFrame):
        cg = candidates.to_crs(crs).geometry.to_numpy()
        cpts = shapely.point_on_surface(cg)
        cid = (candidates["candidate_id"].astype(str).to_numpy()
               if "candidate_id" in candidates.columns
               else np.array([f"K{i}" for i in range(len(candidates))], dtype=object))
        csrc = "layer"
    elif candidates == "network" or (candidates == "auto" and net is not None):
        if net is None:
            raise SchemaError("network candidates need a roads layer", file=file,
                              layer="roads", hint="use candidates='compounds'")
        cpts = shapely.points(net.xy)
        cid = np.array([f"N{i}" for i in range(net.n_nodes)], dtype=object)
        csrc = "network_node"
    else:
        cpts = shapely.point_on_surface(poly)
        cid = comp["compound_id"].astype(str).to_numpy(dtype=object)
        csrc = "compound"
    ok = ~(shapely.is_missing(cpts) | shapely.is_empty(cpts))
    # coverage matrix (candidates × compounds) -----------------------------------------
    demand = np.flatnonzero(~covered_before & (hh > 0) & ~(shapely.is_missing(poly)
                                                           | shapely.is_empty(poly)))
    if net is not None:
        gates = layers.get("gates")
        gates_m = gates.to_crs(crs).copy() if gates is not None and len(gates) else None
        pts, owner, _ = _demand_points(cm.geometry, gates_m, comp["compound_id"].astype(str),
                                       boundary_step_m, Report(), file)
        keep = np.isin(owner, demand)
        og = origin_graph(net, snap_points(net, pts[keep]), owner[keep], n)
        csnap = snap_points(net, cpts)
        dist = pair_distances(og, demand, csnap, np.arange(len(cpts)), len(cpts),
                              limit=radius)
        pairs = dist.tocoo()  # rows: position in demand, cols: candidate
        a = sp.csr_matrix((np.ones(pairs.nnz, dtype=bool), (pairs.col, demand[pairs.row])),
                          shape=(len(cpts), n))
    else:
        tree = shapely.STRtree(poly[demand])
        ci, di = tree.query(cpts[ok], predicate="dwithin", distance=radius)
        a = sp.csr_matrix((np.ones(len(ci), dtype=bool), (np.flatnonzero(ok)[ci], demand[di])),
                          shape=(len(cpts), n))
    a = a.multiply(ok[:, None]).tocsr() if not ok.all() else a
    if solver == "exact":
        chosen, _ = exact_max_cover(a, hh, count, covered=covered_before)
        # order exact picks by marginal gain for the report
        order, _ = greedy_max_cover(a[chosen], hh, len(chosen), covered=covered_before)
        chosen = chosen[order]
    else:
        chosen, _ = greedy_max_cover(a, hh, count, covered=covered_before)
    # report ------------------------------------------------------------------------
    left = ~covered_before.copy()
    by_site = np.full(n, -1, dtype=np.int64)
    rows = []
    cum = 0.0
    for rank, j in enumerate(chosen, start=1):
        cols = a.indices[a.indptr[j]:a.indptr[j + 1]]
        new = cols[left[cols]]
        left[new] = False
        by_site[new] = rank
        cum += hh[new].sum()
        rows.append({"rank": rank, "facility_type": key, "facility_zh": std.zh(key),
                     "standard_m": radius, "candidate": cid[j], "candidate_source": csrc,
                     "households_new": int(hh[new].sum()), "compounds_new": len(new),
                     "households_cumulative": int(cum),
                     "compound_ids": ";".join(comp["compound_id"].astype(str).to_numpy()[new]),
                     "solver": solver})
    geo = gpd.GeoSeries(cpts[chosen], crs=crs).to_crs(layers["compounds"].crs)
    sites = gpd.GeoDataFrame(pd.DataFrame(rows, columns=[
        "rank", "facility_type", "facility_zh", "standard_m", "candidate", "candidate_source",
        "households_new", "compounds_new", "households_cumulative", "compound_ids", "solver"]),
        geometry=geo.to_numpy(), crs=layers["compounds"].crs)
    dem = pd.DataFrame({"compound_id": comp["compound_id"].to_numpy(),
                        "households": hh_raw, "covered_before": covered_before,
                        "covered_by_site": pd.array(np.where(by_site > 0, by_site, -1),
                                                    dtype="Int64")},
                       index=comp.index)
    dem.loc[dem["covered_by_site"] < 0, "covered_by_site"] = pd.NA
    unc_hh = float(hh[~covered_before].sum())
    new_hh = float(hh[by_site > 0].sum())
    totals = {"facility_type": key, "count": int(count), "sites": len(chosen),
              "households_uncovered_before": int(unc_hh),
              "households_newly_covered": int(new_hh),
              "households_uncovered_after": int(unc_hh - new_hh),
              "compounds_uncovered_before": int((~covered_before).sum()),
              "compounds_newly_covered": int((by_site > 0).sum()),
              "compounds_uncovered_after": int((~covered_before).sum() - (by_site > 0).sum())}
    if len(chosen) < count:
        report.add(Finding("info", "fewer_sites",
                           f"only {len(chosen)} of {count} sites add coverage; more sites "
                           "would cover no further households", layer="sites"))
    return SitingResult(sites, dem, totals, report, {"candidates": int(ok.sum()),
                                                     "candidate_source": csrc})
