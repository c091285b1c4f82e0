"""Walking catchments (步行服务范围): the area within a walking distance of each facility.

A catchment is a service-area polygon drawn from the walking network
(:class:`gisplan.network.WalkNetwork`), not a circle: the parts of the streets a resident
can walk to the facility within the standard's distance, buffered by a narrow strip
either side. A compound inside the straight-line circle but across a river or a wall
with no street through it falls outside the polygon, as it does in
:func:`gisplan.coverage.coverage`.

How it is drawn
---------------
* Each facility is snapped to its nearest street (``snap_m`` beyond *max_snap_m*: no
  catchment) and becomes one origin of :func:`gisplan.network.origin_graph`.
* One Dijkstra per facility, stopped at its distance, gives every node's walk.
* Every edge contributes the stretch reachable from each end (``limit - d_u`` from
  ``u``, ``limit - d_v`` from ``v``) and, on the facility's own street, the stretch
  either side of the facility; the stretches are cut from the edge coordinates with
  numpy (no per-edge Python loop).
* The stretches of one facility are buffered by *buffer_m* and merged.

:func:`service_areas` draws the merged area of many facilities (服务覆盖范围: where some
facility of a type is within its distance) from one multi-source Dijkstra per group, not
one per facility: the area a gaps map shades, at the cost of a few walks instead of
thousands.

Examples
--------
>>> import geopandas as gpd, shapely
>>> from gisplan.network import WalkNetwork
>>> roads = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)]),
...                                    shapely.LineString([(1000, 0), (1000, 1000)])],
...                          crs=4547)
>>> fac = gpd.GeoDataFrame({"facility_id": ["F1"]}, crs=4547,
...                        geometry=[shapely.Point(900, 10)])
>>> res = catchments(fac, WalkNetwork.from_roads(roads), distance_m=300, buffer_m=20)
>>> poly = res.catchments.geometry.iloc[0]
>>> poly.contains(shapely.Point(1000, 150)), poly.contains(shapely.Point(650, 0))
(True, True)
>>> poly.contains(shapely.Point(1000, 300)), poly.contains(shapely.Point(500, 0))
(False, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gisplan._threads import each
from gisplan.crs import require_crs
from gisplan.findings import Finding, Report
from gisplan.network import Network, Snap, WalkNetwork, origin_graph, snap_points

__all__ = ["CatchmentResult", "catchments", "edge_stretches", "service_areas"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class CatchmentResult:
    """What :func:`catchments` drew.

    Attributes
    ----------
    catchments : geopandas.GeoDataFrame
        One row per facility (index of the input kept), in the input's CRS:
        ``distance_m`` (the walking distance used), ``snap_m`` (facility to street) and
        the catchment polygon; an empty geometry where the facility could not be
        snapped to a street within *max_snap_m*.
    report : Report
        ``catchment_not_snapped`` when facilities are too far from any street.
    """

    catchments: gpd.GeoDataFrame
    report: Report = field(default_factory=Report)


def edge_stretches(net: Network, edge: Any, start: Any, end: Any) -> NDArray[np.object_]:
    """Cut the stretch from *start* to *end* metres along each of the edges *edge*.

    Vectorised over the stretches: the edge vertices between the two offsets are kept
    and the two end points interpolated.

    Parameters
    ----------
    net : Network
    edge : array-like of int
        Edge of each stretch.
    start, end : array-like of float
        Offsets along the edge from its start node (clipped to ``[0, edge_len]``);
        a stretch with ``end <= start`` gives ``None``.

    Returns
    -------
    ndarray of shapely.LineString or None

    Examples
    --------
    >>> from gisplan.network import build_network
    >>> net = build_network(shapely.linestrings([[(0, 0), (10, 0), (10, 10)]]))
    >>> [g if g is None else g.wkt for g in edge_stretches(net, [0, 0], [5, 2], [15, 1])]
    ['LINESTRING (5 0, 10 0, 10 5)', None]
    """
    edge = np.asarray(edge, dtype=np.int64)
    length = net.edge_len[edge]
    a = np.clip(np.asarray(start, dtype=np.float64), 0.0, length)
    b = np.clip(np.asarray(end, dtype=np.float64), 0.0, length)
    out = np.full(len(edge), None, dtype=object)
    keep = np.flatnonzero(b - a > 1e-9)
    if not len(keep):
        return out
    e, a, b = edge[keep], a[keep], b[keep]
    ptr = net.coord_ptr
    counts = ptr[e + 1] - ptr[e]
    owner = np.repeat(np.arange(len(e)), counts)
    first = np.cumsum(counts) - counts
    vid = ptr[e][owner] + np.arange(len(owner)) - first[owner]
    xy = net.coords[vid]
    step = np.zeros(len(xy))
    step[1:] = np.hypot(*(xy[1:] - xy[:-1]).T)
    step[first] = 0.0
    cum = np.cumsum(step)
    cum -= cum[first][owner]  # distance along the edge at each vertex
    inside = (cum > a[owner]) & (cum < b[owner])
    pa, pb = _interpolate(xy, cum, first, counts, a), _interpolate(xy, cum, first, counts, b)
    # each stretch: its start point, the vertices strictly inside, its end point
    n_in = np.bincount(owner[inside], minlength=len(e))
    size = n_in + 2
    pos0 = np.cumsum(size) - size
    coords = np.empty((int(size.sum()), 2))
    coords[pos0] = pa
    coords[pos0 + size - 1] = pb
    inner_owner = owner[inside]
    inner_rank = np.arange(len(inner_owner)) - (np.cumsum(n_in) - n_in)[inner_owner]
    coords[pos0[inner_owner] + 1 + inner_rank] = xy[inside]
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(len(e)), size))
    out[keep] = lines
    return out


def _interpolate(xy: FloatArray, cum: FloatArray, first: IntArray, counts: IntArray,
                 t: FloatArray) -> FloatArray:
    """Point at distance *t* along each edge (vertices ``xy``, cumulative lengths ``cum``)."""
    # global, strictly increasing key: edge number then distance along it
    base = np.arange(len(first), dtype=np.float64) * (cum.max() + 1.0 if len(cum) else 1.0)
    key = cum + np.repeat(base, counts)
    j = np.searchsorted(key, base + t, side="right")
    j = np.clip(j, first + 1, first + counts - 1)
    c0, c1 = cum[j - 1], cum[j]
    f = np.where(c1 > c0, (t - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0)
    return xy[j - 1] + (xy[j] - xy[j - 1]) * np.clip(f, 0.0, 1.0)[:, None]


def _street_stretches(net: Network, reach: FloatArray) -> NDArray[np.object_]:
    """Stretches of street a walker reaches with *reach* metres left at each node.

    An edge whose two ends leave enough to meet is whole; otherwise the stretch from each
    end that the metres left there cover (``reach <= 0``: none).
    """
    ru, rv = reach[net.edge_u], reach[net.edge_v]
    touched = np.flatnonzero((ru > 0) | (rv > 0))
    length = net.edge_len[touched]
    ru_t, rv_t = np.maximum(ru[touched], 0.0), np.maximum(rv[touched], 0.0)
    whole = ru_t + rv_t >= length
    part = ~whole
    return edge_stretches(net, np.concatenate([touched[whole], touched[part], touched[part]]),
                          np.concatenate([np.zeros(int(whole.sum() + part.sum())),
                                          length[part] - rv_t[part]]),
                          np.concatenate([length[whole], ru_t[part], length[part]]))


def _own_street_stretches(net: Network, snap: Snap, slack: FloatArray) -> NDArray[np.object_]:
    """Stretches of each facility's own street within *slack* either side of it."""
    return edge_stretches(net, snap.edge, snap.offset - slack, snap.offset + slack)


def _reached_stretches(net: Network, node_dist: FloatArray, limit: float, snap: Snap
                       ) -> NDArray[np.object_]:
    """Stretches of street within *limit* of one facility (node distances given)."""
    pieces = np.concatenate([_street_stretches(net, limit - node_dist),
                             _own_street_stretches(net, snap,
                                                   np.maximum(limit - snap.dist, 0.0))])
    return pieces[pd.notna(pieces)]


def _snapped(facilities: gpd.GeoDataFrame, network: WalkNetwork, distance_m: Any,
             max_snap_m: float) -> tuple[FloatArray, Snap, NDArray[np.bool_]]:
    """Distance per facility, the facilities snapped to the streets, and which to draw.

    A facility is drawn when it snapped within *max_snap_m* and has a finite distance.
    """
    require_crs(facilities, layer="facilities")
    limit = np.broadcast_to(np.asarray(distance_m, dtype=np.float64), (len(facilities),))
    pts = gpd.GeoSeries(facilities.geometry, crs=facilities.crs).to_crs(network.crs)
    snap = snap_points(network.network, shapely.centroid(pts.to_numpy()))
    return limit, snap, snap.ok & (snap.dist <= max_snap_m) & np.isfinite(limit)


def service_areas(
    facilities: gpd.GeoDataFrame,
    network: WalkNetwork,
    *,
    distance_m: float | Any,
    by: str | None = None,
    buffer_m: float = 30.0,
    max_snap_m: float = 250.0,
    simplify_m: float = 5.0,
) -> CatchmentResult:
    """Draw the merged walking service area of the facilities of each group (服务覆盖范围).

    The union of the facilities' :func:`catchments`, drawn from one multi-source
    Dijkstra per group: every street stretch within the distance of *some* facility of
    the group, buffered by *buffer_m*. Where facilities have different distances, each
    walk starts with the difference to the longest (``reach = limit - walk`` is taken
    at its best over the facilities, as the union of their catchments is).

    Parameters
    ----------
    facilities : geopandas.GeoDataFrame
        Facility points (any CRS; polygons are taken at their centroid).
    network : WalkNetwork
    distance_m : float or array-like of float
        Walking distance, one for all facilities or one per row.
    by : str, optional
        Column whose values form the groups (e.g. ``facility_type``); None: one area of
        all facilities.
    buffer_m, max_snap_m, simplify_m : float
        As for :func:`catchments`.

    Returns
    -------
    CatchmentResult
        ``catchments``: one row per group, indexed by the group value (``"all"`` when
        *by* is None), with ``facilities`` (how many were drawn), ``distance_m`` (the
        longest) and the area; ``report`` as for :func:`catchments`.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> roads = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (2000, 0)])],
    ...                          crs=4547)
    >>> fac = gpd.GeoDataFrame({"facility_type": ["kindergarten"] * 2}, crs=4547,
    ...                        geometry=[shapely.Point(300, 5), shapely.Point(1700, 5)])
    >>> res = service_areas(fac, WalkNetwork.from_roads(roads), distance_m=300,
    ...                     by="facility_type", buffer_m=20)
    >>> area = res.catchments.geometry.loc["kindergarten"]
    >>> [area.contains(shapely.Point(x, 0)) for x in (100, 550, 1000, 1950)]
    [True, True, False, True]
    """
    net = network.network
    report = Report()
    limit, snap, ok = _snapped(facilities, network, distance_m, max_snap_m)
    keys = (pd.Series("all", index=facilities.index) if by is None
            else facilities[by].astype(object))
    groups = pd.unique(keys[ok].to_numpy())
    group_of = pd.Index(groups).get_indexer(keys.to_numpy())  # -1: not drawn
    rows: list[dict[str, Any]] = []
    reached: list[NDArray[np.object_]] = []
    for g in range(len(groups)):
        members = np.flatnonzero(ok & (group_of == g))
        top = float(limit[members].max())
        # a shorter standard starts its walk late by the difference to the longest
        head = snap.take(members)
        head = Snap(head.edge, head.offset, head.dist + (top - limit[members]))
        og = origin_graph(net, head)
        node_dist, _ = og.nearest(np.arange(len(members)), limit=top)
        reached.append(_reached_stretches(net, node_dist, top, head))
        rows.append({"facilities": len(members), "distance_m": top})

    def merged(pieces: NDArray[np.object_]) -> Any:
        # buffer each stretch, then one union: 4-6x faster than buffering them as one
        # multilinestring (GEOS nodes every offset curve against every other)
        if not len(pieces):
            return shapely.Polygon()
        area = shapely.union_all(shapely.buffer(pieces, buffer_m, quad_segs=2))
        return shapely.simplify(area, simplify_m) if simplify_m else area

    # the unions are most of the time and release the GIL: one group per thread
    areas = each(merged, reached)
    if (~ok).any():
        report.add(Finding("info", "catchment_not_snapped",
                           f"{int((~ok).sum())} facilities are more than {max_snap_m:g} m from "
                           "any street (or have no distance); they add nothing to the "
                           "walking service area 不计入步行服务范围", layer="facilities"))
    out = gpd.GeoDataFrame(rows or None, index=pd.Index(groups, name=by or "group"),
                           columns=["facilities", "distance_m"],
                           geometry=gpd.GeoSeries(areas, index=pd.Index(groups),
                                                  crs=network.crs).to_crs(facilities.crs)
                           if len(groups) else gpd.GeoSeries([], crs=facilities.crs))
    return CatchmentResult(out, report)


def catchments(
    facilities: gpd.GeoDataFrame,
    network: WalkNetwork,
    *,
    distance_m: float | Any,
    buffer_m: float = 30.0,
    max_snap_m: float = 250.0,
    simplify_m: float = 5.0,
) -> CatchmentResult:
    """Draw the walking catchment polygon of each facility (步行服务范围).

    Parameters
    ----------
    facilities : geopandas.GeoDataFrame
        Facility points (any CRS; polygons are taken at their centroid).
    network : WalkNetwork
        The walking network (:meth:`WalkNetwork.from_roads`).
    distance_m : float or array-like of float
        Walking distance, one for all facilities or one per row (e.g. the standard's
        distance of each facility's type).
    buffer_m : float, default 30
        Half-width of the strip drawn along each reachable street.
    max_snap_m : float, default 250
        A facility further than this from every street gets no catchment (as in
        :func:`gisplan.coverage.coverage`).
    simplify_m : float, default 5
        Topology-preserving simplification of the polygons (0: none).

    Returns
    -------
    CatchmentResult
    """
    net = network.network
    report = Report()
    limit, snap, ok = _snapped(facilities, network, distance_m, max_snap_m)
    polys = np.full(len(facilities), None, dtype=object)
    todo = np.flatnonzero(ok)
    if len(todo):
        og = origin_graph(net, snap.take(todo))
        reached: list[NDArray[np.object_]] = []
        owner: list[NDArray[np.int64]] = []
        for ids, dist in og.rows(np.arange(len(todo)), limit=float(limit[todo].max())):
            for row, i in enumerate(todo[ids]):
                pieces = _reached_stretches(net, dist[row], float(limit[i]), snap.take([i]))
                reached.append(pieces)
                owner.append(np.full(len(pieces), i, dtype=np.int64))
        # one buffer per facility of all its stretches (the buffer is their union), for
        # all facilities in one vectorised call
        drawn, code = np.unique(np.concatenate(owner), return_inverse=True)
        order = np.argsort(code, kind="stable")
        lines = shapely.multilinestrings(np.concatenate(reached)[order], indices=code[order])
        merged = shapely.buffer(lines, buffer_m, quad_segs=2)
        if simplify_m:
            merged = shapely.simplify(merged, simplify_m)
        polys[drawn] = merged
    if (~ok).any():
        report.add(Finding("info", "catchment_not_snapped",
                           f"{int((~ok).sum())} facilities are more than {max_snap_m:g} m from "
                           "any street (or have no distance); no walking catchment is drawn "
                           "for them 无步行服务范围", layer="facilities"))
    empty = shapely.Polygon()
    geom = gpd.GeoSeries([p if p is not None else empty for p in polys],
                         index=facilities.index, crs=network.crs).to_crs(facilities.crs)
    out = gpd.GeoDataFrame({"distance_m": limit, "snap_m": np.where(snap.ok, snap.dist, np.nan)},
                           index=facilities.index, geometry=geom)
    return CatchmentResult(out, report)
