"""Walking network (步行网络): nodes, a CSR graph, snapping, multi-source distances.

:class:`WalkNetwork` is the walking network of a programme and
:meth:`WalkNetwork.from_roads` its one builder: it takes the roads layer, leaves out roads
marked ``walkable=False``, nodes them when asked and measures them in the analysis CRS.
Coverage (:mod:`gisplan.coverage`) and siting (:mod:`gisplan.siting`) walk on it, so they
agree on every distance.

Under it is an array core: it takes shapely line arrays (or just their coordinates, see
:func:`network_from_coords`) in a metric CRS and returns numpy arrays and
``scipy.sparse`` matrices, knowing nothing of layers or files.

Built for size: a 2-million-line network is built from coordinate arrays (projected
once, end points merged by hashed integer grid keys) without making one geometry
object, and points are snapped with a k-d tree queried in Morton order (one million
nodes, 200,000 compounds and 15 facility types take about 30 s in all on 2 shared
cores; ``benchmarks/results_coverage.md``).

How distances are measured
--------------------------
* Nodes are the end points of the lines (lines are assumed noded at intersections;
  :func:`node_lines` nodes un-noded input). Edge weight = length in metres.
* A point (facility, gate, boundary point) is snapped to the nearest *edge*, at an
  offset along it; the snapping distance is kept and added to the walk.
* Origins (facilities, or groups of points such as the gates of one compound) become
  virtual nodes joined to both ends of the edges they snap to, so one call of
  :func:`scipy.sparse.csgraph.dijkstra` with ``min_only=True`` gives, for every node,
  the distance to the nearest origin and which origin it is.
* A target point on an edge takes the better of its two edge ends; a target on the
  same edge as an origin may also walk along that edge directly.

Examples
--------
>>> import shapely
>>> from gisplan.network import build_network, snap_points, nearest_origins
>>> lines = shapely.linestrings([[(0, 0), (100, 0)], [(100, 0), (100, 100)]])
>>> net = build_network(lines)
>>> net.n_nodes, net.n_edges
(3, 2)
>>> fac = snap_points(net, shapely.points([(100, 90)]))
>>> gate = snap_points(net, shapely.points([(10, 5)]))
>>> d, which = nearest_origins(net, fac, targets=gate)
>>> round(float(d[0]), 1), int(which[0])
(185.0, 0)
"""

from __future__ import annotations

import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from scipy.sparse.csgraph import connected_components, dijkstra

from gisplan.crs import analysis_crs, require_crs, transform_xy
from gisplan.findings import Finding, Report

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "Network",
    "OriginGraph",
    "Snap",
    "WalkNetwork",
    "build_network",
    "count_crossings",
    "group_min",
    "morton_order",
    "nearest_origins",
    "network_from_coords",
    "node_lines",
    "origin_graph",
    "pair_distances",
    "snap_points",
    "target_distances",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


# ---------------------------------------------------------------------------- network
@dataclass(frozen=True, eq=False)
class Network:
    """A walking network in a metric CRS.

    The edges are kept as coordinate arrays (``coords`` and ``coord_ptr``, like the rows
    of a CSR matrix); :attr:`edge_geom` builds shapely lines from them only when asked.

    Attributes
    ----------
    xy : ndarray, shape (n_nodes, 2)
        Node coordinates in metres.
    edge_u, edge_v : ndarray of int, shape (n_edges,)
        End nodes of each edge (the start and end of its line).
    edge_len : ndarray of float
        Edge length in metres.
    edge_source : ndarray of int
        Position of the input line each edge came from.
    graph : scipy.sparse.csr_matrix, shape (n_nodes, n_nodes)
        Symmetric weighted adjacency (shortest of parallel edges; no self loops).
    coords : ndarray, shape (n_vertices, 2)
        Vertices of all edges, edge after edge.
    coord_ptr : ndarray of int, shape (n_edges + 1,)
        Edge ``e`` has the vertices ``coords[coord_ptr[e]:coord_ptr[e + 1]]``.
    info : dict
        What was done while building: ``lines_in``, ``parts``, ``noded``,
        ``lines_after_noding``, ``dropped_empty``.
    """

    xy: FloatArray
    edge_u: IntArray
    edge_v: IntArray
    edge_len: FloatArray
    edge_source: IntArray
    graph: sp.csr_matrix
    coords: FloatArray
    coord_ptr: IntArray
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of edges (parts of input lines)."""
        return int(self.edge_u.shape[0])

    @cached_property
    def edge_geom(self) -> NDArray[np.object_]:
        """Edge geometry (shapely LineStrings, built on first use)."""
        if self.n_edges == 0:
            return np.empty(0, dtype=object)
        idx = np.repeat(np.arange(self.n_edges), np.diff(self.coord_ptr))
        return np.asarray(shapely.linestrings(self.coords, indices=idx), dtype=object)

    @cached_property
    def tree(self) -> shapely.STRtree:
        """Spatial index over the edges."""
        return shapely.STRtree(self.edge_geom)

    @cached_property
    def piece_m(self) -> float:
        """Default piece length for snapping: twice the median segment, 50–250 m."""
        step = np.diff(self.coords, axis=0)
        last = self.coord_ptr[1:-1] - 1  # steps from one edge's last vertex to the next
        seg = np.delete(np.hypot(step[:, 0], step[:, 1]), last)
        return float(np.clip(2 * np.median(seg), 50.0, 250.0)) if len(seg) else 250.0

    def _pieces(self, piece_m: float) -> _PieceIndex:
        cache = self.__dict__.setdefault("_piece_cache", {})
        if piece_m not in cache:
            cache[piece_m] = _piece_index(self, piece_m)
        return cache[piece_m]

    @cached_property
    def components(self) -> tuple[int, IntArray]:
        """Number of connected components and the component label of each node."""
        n, labels = connected_components(self.graph, directed=False)
        return int(n), labels.astype(np.int64)

    def component_sizes(self) -> pd.DataFrame:
        """Components, largest first: ``component``, ``nodes``, ``length_m``."""
        _, labels = self.components
        nodes = np.bincount(labels)
        length = np.bincount(labels[self.edge_u], weights=self.edge_len, minlength=len(nodes))
        df = pd.DataFrame({"component": np.arange(len(nodes)), "nodes": nodes,
                           "length_m": length})
        return df.sort_values(["nodes", "length_m"], ascending=False, ignore_index=True)


def _dedupe_min(rows: IntArray, cols: IntArray, w: FloatArray
                ) -> tuple[IntArray, IntArray, FloatArray]:
    """Keep, for each (row, col) pair, the smallest weight; pairs come out sorted."""
    if len(rows) == 0:
        return rows, cols, w
    order = np.lexsort((w, cols, rows))
    r, c, x = rows[order], cols[order], w[order]
    keep = np.ones(len(r), dtype=bool)
    keep[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return r[keep], c[keep], x[keep]


def _symmetric_graph(u: IntArray, v: IntArray, w: FloatArray, n: int) -> sp.csr_matrix:
    """Symmetric CSR adjacency of undirected edges: shortest of parallel edges, no loops."""
    loop = u == v
    u, v, w = u[~loop], v[~loop], w[~loop]
    graph = sp.csr_matrix((np.concatenate([w, w]), (np.concatenate([u, v]),
                                                    np.concatenate([v, u]))), shape=(n, n))
    if graph.nnz < 2 * len(u):
        # parallel edges were summed: keep the shortest instead (hashed pair keys)
        codes, pairs = pd.factorize(np.minimum(u, v) * np.int64(n) + np.maximum(u, v))
        shortest = np.full(len(pairs), np.inf)
        np.minimum.at(shortest, codes, w)
        a, b = pairs // n, pairs % n
        graph = sp.csr_matrix((np.concatenate([shortest, shortest]),
                               (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n))
    return graph


def _node_ids(pts: FloatArray, tolerance_m: float) -> tuple[IntArray, FloatArray]:
    """Merge coordinates closer than *tolerance_m* (on a grid); return ids and node xy.

    Points are rounded to a grid of *tolerance_m*, each grid cell gets one int64 key and
    the keys are hashed (``pandas.factorize``, no sort). Node ids follow the order of
    first appearance; a node's coordinates are those of its first point.
    """
    origin = pts.min(axis=0)
    q = np.floor((pts - origin) / tolerance_m + 0.5).astype(np.int64)
    span = q.max(axis=0) + 1
    if float(span[0]) * float(span[1]) >= 2.0**62:  # pragma: no cover - continental, mm
        _, first_at, inv = np.unique(q, axis=0, return_index=True, return_inverse=True)
        return inv.reshape(-1).astype(np.int64), pts[first_at]
    ids = pd.factorize(q[:, 0] * span[1] + q[:, 1])[0].astype(np.int64)
    running = np.maximum.accumulate(ids)
    first = np.r_[True, running[1:] > running[:-1]]  # ids are numbered as first seen
    return ids, pts[first]


def count_crossings(lines: NDArray[np.object_]) -> int:
    """Count pairs of lines that cross or touch away from their end points.

    A non-zero count means the lines are not noded at intersections: walking from one
    to the other is impossible in :func:`build_network` unless ``node=True``.
    """
    lines = np.asarray(lines, dtype=object)
    tree = shapely.STRtree(lines)
    i, j = tree.query(lines, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if len(i) == 0:
        return 0
    inter = shapely.intersection(lines[i], lines[j])
    ends = shapely.union(shapely.boundary(lines[i]), shapely.boundary(lines[j]))
    off_ends = ~shapely.is_empty(shapely.difference(inter, ends))
    return int(off_ends.sum())


def node_lines(lines: NDArray[np.object_]) -> tuple[NDArray[np.object_], IntArray]:
    """Split lines at every intersection (``shapely.node``).

    Returns
    -------
    parts : ndarray of LineString
        The noded lines.
    source : ndarray of int
        For each part, the position of an input line it lies on.
    """
    lines = np.asarray(lines, dtype=object)
    noded = shapely.node(shapely.GeometryCollection(list(lines)))
    parts = shapely.get_parts(noded)
    mid = shapely.line_interpolate_point(parts, 0.5, normalized=True)
    tree = shapely.STRtree(lines)
    idx = tree.query_nearest(mid, all_matches=False)
    source = np.full(len(parts), -1, dtype=np.int64)
    source[idx[0]] = idx[1]
    return parts, source


def _empty_network(info: dict[str, Any]) -> Network:
    empty = np.empty(0, dtype=np.int64)
    info["parts"] = 0
    return Network(np.empty((0, 2)), empty, empty, np.empty(0), empty, sp.csr_matrix((0, 0)),
                   np.empty((0, 2)), np.zeros(1, dtype=np.int64), info)


def network_from_coords(xy: Any, line_index: Any, *, source: Any = None,
                        tolerance_m: float = 0.01) -> Network:
    """Build a walking network from the vertices of lines (the array core).

    Takes what ``shapely.get_coordinates(lines, return_index=True)`` returns, so no
    geometry object is needed: the first and last vertex of each line are its end
    nodes, its length is the sum of its segment lengths.

    Parameters
    ----------
    xy : ndarray, shape (n_vertices, 2)
        Vertices in metres, line after line.
    line_index : ndarray of int, shape (n_vertices,)
        Line of each vertex, non-decreasing (consecutive vertices of one line).
    source : ndarray of int, optional
        Input position of each line, indexed by ``line_index`` (default: ``line_index``).
    tolerance_m : float, default 0.01
        End points closer than this are one node.

    Returns
    -------
    Network
        Lines of zero length are left out (``info["parts"]`` counts
        the edges kept).

    Examples
    --------
    >>> import numpy as np
    >>> xy = np.array([[0, 0], [30, 40], [30, 40], [30, 100.0]])
    >>> net = network_from_coords(xy, np.array([0, 0, 1, 1]))
    >>> net.n_nodes, net.edge_len.tolist()
    (3, [50.0, 60.0])
    """
    xy = np.ascontiguousarray(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    idx = np.asarray(line_index, dtype=np.int64)
    info: dict[str, Any] = {}
    if len(idx) == 0:
        return _empty_network(info)
    new_line = np.r_[True, idx[1:] != idx[:-1]]
    starts = np.flatnonzero(new_line)
    ends = np.r_[starts[1:], len(idx)] - 1
    seg = np.zeros(len(idx))
    step = np.diff(xy, axis=0)
    seg[:-1] = np.where(new_line[1:], 0.0, np.hypot(step[:, 0], step[:, 1]))
    length = np.add.reduceat(seg, starts)
    src = idx[starts] if source is None else np.asarray(source, dtype=np.int64)[idx[starts]]
    keep = length > 0
    if not keep.all():
        vkeep = np.repeat(keep, ends - starts + 1)
        xy = xy[vkeep]
        counts = (ends - starts + 1)[keep]
        starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
        ends = starts + counts - 1
        length, src = length[keep], src[keep]
    m = len(length)
    info["parts"] = m
    ptr = np.r_[starts, len(xy)].astype(np.int64)
    if m == 0:
        return _empty_network(info)
    ids, nodes = _node_ids(np.vstack([xy[starts], xy[ends]]), tolerance_m)
    u, v = ids[:m], ids[m:]
    graph = _symmetric_graph(u, v, length, len(nodes))
    return Network(nodes, u, v, length, src, graph, xy, ptr, info)


def build_network(lines: Any, *, node: bool = False, tolerance_m: float = 0.01,
                  project: Callable[[FloatArray], FloatArray] | None = None) -> Network:
    """Build a walking network from lines in a metric CRS.

    Parameters
    ----------
    lines : array-like of LineString / MultiLineString
        Street centre lines or footpaths, in metres (or in any CRS with *project*).
        Multi-part lines are split into their parts; empty and missing geometries are
        skipped (``info['dropped_empty']``).
    node : bool, default False
        Split lines at intersections first (:func:`node_lines`); use for lines that
        cross without sharing a vertex. The default trusts that the input is noded.
    tolerance_m : float, default 0.01
        End points closer than this are one node.
    project : callable, optional
        Maps an ``(n, 2)`` array of the lines' coordinates to metres (e.g. a pyproj
        transform). Only the coordinate array is projected; no geometry is rebuilt
        unless ``node=True``.

    Returns
    -------
    Network
    """
    arr = np.asarray(lines, dtype=object).reshape(-1)
    lines_in = len(arr)
    valid = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    src = np.flatnonzero(valid).astype(np.int64)
    parts = arr[valid]
    multi = ~np.isin(shapely.get_type_id(parts), (1, 2))  # not LineString / LinearRing
    if multi.any():
        parts, part_src = shapely.get_parts(parts, return_index=True)
        src = src[part_src]
    info: dict[str, Any] = {"lines_in": lines_in, "dropped_empty": int((~valid).sum()),
                            "noded": bool(node)}
    if node and len(parts):
        if project is not None:
            parts = shapely.transform(parts, project)
            project = None
        noded, nsrc = node_lines(parts)
        info["lines_after_noding"] = len(noded)
        src = np.where(nsrc >= 0, src[np.maximum(nsrc, 0)], -1)
        parts = noded
    xy, idx = shapely.get_coordinates(parts, return_index=True)
    if project is not None and len(xy):
        xy = np.asarray(project(xy), dtype=np.float64)
    net = network_from_coords(xy, idx, source=src, tolerance_m=tolerance_m)
    net.info.update(info)
    return net


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """The walking network of a programme (步行网络): built once, walked by every analysis.

    :meth:`from_roads` is the one builder: it leaves out roads marked ``walkable=False``,
    nodes the roads when asked, measures them in a metric CRS and notes what it did in
    :attr:`report`. Coverage (:func:`gisplan.coverage.coverage`) and siting
    (:func:`gisplan.siting.site`) take a ``network=`` built here, and a
    :class:`~gisplan.coverage.CoverageResult` hands its network on as ``.network``, so
    every distance of a programme is measured on the same streets.

    Attributes
    ----------
    network : Network
        The graph (array core), in metres.
    crs : pyproj.CRS
        The metric CRS it is measured in.
    walkable : ndarray of bool, shape (n_roads,)
        Which rows of the roads layer were used (``walkable`` not false).
    report : Report
        Findings made while building: ``roads_not_walkable``, ``empty_geometry``,
        ``roads_noded`` / ``roads_not_noded`` and ``roads_disconnected``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> roads = gpd.GeoDataFrame(
    ...     {"walkable": [True, True, False]}, crs=4547,
    ...     geometry=[shapely.LineString([(0, 0), (100, 0)]),
    ...               shapely.LineString([(100, 0), (100, 100)]),
    ...               shapely.LineString([(0, 0), (100, 100)])])  # a shortcut, not walkable
    >>> wn = WalkNetwork.from_roads(roads)
    >>> wn.network.n_edges, wn.crs.to_epsg(), wn.walkable.tolist()
    (2, 4547, [True, True, False])
    >>> [f.code for f in wn.report]
    ['roads_not_walkable']
    """

    network: Network
    crs: CRS
    walkable: NDArray[np.bool_]
    report: Report

    @classmethod
    def from_roads(
        cls,
        roads: gpd.GeoDataFrame,
        *,
        crs: Any = None,
        node: bool = False,
        check_noding_below: int = 50_000,
    ) -> WalkNetwork:
        """Build the walking network from a roads layer (the one builder).

        Parameters
        ----------
        roads : geopandas.GeoDataFrame
            Street centre lines and footpaths in any CRS; an optional boolean column
            ``walkable`` marks roads a pedestrian cannot use (``False``; missing counts
            as walkable).
        crs : CRS-like, optional
            The metric CRS to measure in; ``None``: :func:`gisplan.crs.analysis_crs` of
            the roads. Only the coordinate array is projected (no geometry is rebuilt),
            which is what keeps a two-million-line layer fast.
        node : bool, default False
            Split roads at intersections first (un-noded road data).
        check_noding_below : int, default 50000
            Without *node*, count crossings without a shared vertex on layers up to this
            many lines and report them (``roads_not_noded``).

        Raises
        ------
        CRSError
            The roads have no CRS.
        """
        require_crs(roads, layer="roads")
        target = analysis_crs(roads, layer="roads") if crs is None else CRS.from_user_input(crs)
        geom = roads.geometry.to_numpy()
        use = _walkable(roads)
        key = _build_key(geom, use, roads.crs, target, node, check_noding_below)
        if key in _BUILT:  # the same streets again (coverage, then the gaps map)
            _BUILT.move_to_end(key)
            kept = _BUILT[key]
            return replace(kept, report=Report(list(kept.report.findings)))
        report = Report()
        if (~use).any():
            report.add(Finding("info", "roads_not_walkable",
                               f"{int((~use).sum())} roads marked not walkable are left out "
                               "of the walking network", layer="roads", column="walkable"))
        net = build_network(geom[use], node=node, project=_projector(roads.crs, target))
        net.edge_source[:] = np.flatnonzero(use)[net.edge_source] if net.n_edges else []
        _note_build(net, geom[use], node=node, check_noding_below=check_noding_below,
                    report=report)
        built = cls(net, target, use, report)
        _BUILT[key] = replace(built, report=Report(list(report.findings)))
        while len(_BUILT) > _BUILT_KEPT:
            _BUILT.popitem(last=False)
        return built


#: Networks a process keeps, by what they were built from (:func:`_build_key`): a run
#: walks a city's streets in coverage and again in its gaps map; building them costs
#: 0.2-0.4 s a city (the projection and the noding check).
_BUILT_KEPT = 2
_BUILT: OrderedDict[bytes, WalkNetwork] = OrderedDict()


def _build_key(geom: NDArray[np.object_], use: NDArray[np.bool_], src: Any, target: CRS,
               node: bool, check_noding_below: int) -> bytes:
    """Return a digest of everything :meth:`WalkNetwork.from_roads` builds from."""
    h = hashlib.blake2b(digest_size=20)
    wkb = shapely.to_wkb(geom)
    missing = pd.isna(wkb)
    wkb[missing] = b""
    h.update(b"".join(wkb.tolist()))  # WKB records delimit themselves
    h.update(np.packbits(missing).tobytes() + np.packbits(use).tobytes())
    h.update(f"{CRS.from_user_input(src).to_wkt()}|{target.to_wkt()}|{node}|"
             f"{check_noding_below}".encode())
    return h.digest()


def _walkable(roads: gpd.GeoDataFrame) -> NDArray[np.bool_]:
    """Rows of *roads* a pedestrian may use: ``walkable`` is not false (missing: walkable)."""
    if "walkable" not in roads.columns:
        return np.ones(len(roads), dtype=bool)
    flag = roads["walkable"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    return np.asarray(flag, dtype=bool)


def _projector(src: Any, dst: CRS) -> Callable[[FloatArray], FloatArray] | None:
    """Coordinate transform ``(n, 2) -> (n, 2)`` from *src* to *dst*; None if the same."""
    if CRS.from_user_input(src) == dst:
        return None

    def project(xy: FloatArray) -> FloatArray:
        x, y = transform_xy(xy[:, 0], xy[:, 1], src=src, dst=dst)
        return np.column_stack([x, y])

    return project


def _note_build(net: Network, lines: NDArray[np.object_], *, node: bool,
                check_noding_below: int, report: Report) -> None:
    """Report empty roads, noding (done or needed) and disconnected parts."""
    if net.info["dropped_empty"]:
        report.add(Finding("warning", "empty_geometry",
                           f"{net.info['dropped_empty']} roads without geometry left out of "
                           "the network", layer="roads"))
    if node:
        report.add(Finding("info", "roads_noded",
                           f"roads split at intersections: {net.info['parts']} edges from "
                           f"{net.info['lines_in']} lines", layer="roads"))
    elif 0 < len(lines) <= check_noding_below:
        crossings = count_crossings(lines)
        if crossings:
            report.add(Finding("warning", "roads_not_noded",
                               f"{crossings} pairs of roads cross without a shared vertex; "
                               "walks cannot turn there", layer="roads",
                               hint="pass node_roads=True (CLI: --node-roads) to split roads "
                               "at intersections"))
    n_comp, _ = net.components
    if n_comp > 1:
        sizes = net.component_sizes()
        report.add(Finding("warning", "roads_disconnected",
                           f"the road network has {n_comp} disconnected parts (largest "
                           f"{int(sizes['nodes'].iloc[0])} nodes, "
                           f"{sizes['length_m'].iloc[0]:.0f} m); distances across parts are "
                           "shown as unreachable", layer="roads",
                           hint="connect the parts or add the missing road segments"))


def morton_order(xy: FloatArray) -> IntArray:
    """Order points along a Z-order (Morton) curve over their extent.

    Querying a k-d tree with points in this order keeps consecutive queries in the same
    part of the tree (about three times faster on a million points than random order).

    Examples
    --------
    >>> morton_order(np.array([[10.0, 10.0], [0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])).tolist()
    [1, 2, 3, 0]
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(xy) == 0:
        return np.empty(0, dtype=np.int64)
    lo = xy.min(axis=0)
    span = max(float((xy.max(axis=0) - lo).max()), 1e-9)
    cell = ((xy - lo) * (65535.0 / span)).astype(np.uint64)

    def spread(v: NDArray[np.uint64]) -> NDArray[np.uint64]:
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    return np.argsort(spread(cell[:, 0]) | (spread(cell[:, 1]) << np.uint64(1)),
                      kind="stable").astype(np.int64)


# ---------------------------------------------------------------------------- snapping
@dataclass(frozen=True)
class Snap:
    """Points snapped to the nearest network edge.

    Attributes
    ----------
    edge : ndarray of int
        Edge each point snapped to (-1 for missing points or an empty network).
    offset : ndarray of float
        Distance along the edge from its start node ``u`` to the snapped position.
    dist : ndarray of float
        Snapping distance in metres (point to edge; ``inf`` where not snapped).
    """

    edge: IntArray
    offset: FloatArray
    dist: FloatArray

    def __len__(self) -> int:
        return len(self.edge)

    def take(self, idx: Any) -> Snap:
        """Return the snaps at positions *idx*."""
        return Snap(self.edge[idx], self.offset[idx], self.dist[idx])

    @property
    def ok(self) -> NDArray[np.bool_]:
        """Which points were snapped."""
        return self.edge >= 0


@dataclass(frozen=True, eq=False)
class _PieceIndex:
    """Edges cut into short straight pieces, indexed by a k-d tree of piece midpoints."""

    start: FloatArray  # piece start, (n_pieces, 2)
    vec: FloatArray  # piece vector, (n_pieces, 2)
    off: FloatArray  # offset of the piece start along its edge
    edge: IntArray  # edge of each piece
    half: float  # half of the longest piece
    tree: Any


def _piece_index(net: Network, piece_m: float) -> _PieceIndex:
    from scipy.spatial import cKDTree

    xy = net.coords
    vidx = np.repeat(np.arange(net.n_edges), np.diff(net.coord_ptr))
    same = vidx[1:] == vidx[:-1]
    a = xy[:-1][same]
    d = xy[1:][same] - a
    e = vidx[:-1][same]
    seg_len = np.hypot(d[:, 0], d[:, 1])
    # offset of each segment start along its edge
    start = np.cumsum(seg_len) - seg_len
    first = np.r_[True, e[1:] != e[:-1]] if len(e) else np.empty(0, dtype=bool)
    seg_off = start - np.maximum.accumulate(np.where(first, start, 0.0))
    k = np.maximum(1, np.ceil(seg_len / piece_m)).astype(np.int64)
    seg = np.repeat(np.arange(len(e)), k)
    j = np.arange(len(seg)) - np.repeat(np.cumsum(k) - k, k)
    frac = (j / k[seg])[:, None]
    step = d[seg] / k[seg][:, None]
    p0 = a[seg] + frac * d[seg]
    half = float((seg_len / k).max()) / 2 if len(k) else 0.0
    return _PieceIndex(p0, step, seg_off[seg] + frac[:, 0] * seg_len[seg], e[seg], half,
                       cKDTree(p0 + step / 2, balanced_tree=False, compact_nodes=False))


def _to_pieces(ix: _PieceIndex, pxy: FloatArray, cand: IntArray
               ) -> tuple[FloatArray, FloatArray]:
    """Exact distance from points to candidate pieces, and the offset along the edge.

    *cand* has one row per point (or is flat, paired with *pxy* row by row).
    """
    a, v = ix.start[cand], ix.vec[cand]
    rel = (pxy[:, None, :] if cand.ndim == 2 else pxy) - a
    vv = (v**2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(vv > 0, (rel * v).sum(-1) / vv, 0.0), 0.0, 1.0)
    gap = rel - t[..., None] * v
    return np.hypot(gap[..., 0], gap[..., 1]), ix.off[cand] + t * np.sqrt(vv)


def snap_points(net: Network, points: Any, *, piece_m: float | None = None, k: int = 6,
                chunk: int = 100_000) -> Snap:
    """Snap points to their nearest edge, with the offset along it.

    Edges are cut into straight pieces of at most *piece_m*; a k-d tree of piece
    midpoints gives the *k* nearest candidates, whose exact point-segment distances
    are computed with numpy. A point whose candidates cannot prove the nearest (the
    *k*-th midpoint is closer than best distance + half a piece) is measured against
    every piece whose midpoint lies within that radius. The result is exact either way.

    Parameters
    ----------
    net : Network
    points : array-like of shapely.Point, or ndarray of shape (n, 2)
        In the network's CRS. Missing or empty points (or NaN coordinates) are not
        snapped.
    piece_m, k, chunk
        Tuning of the candidate search and of memory use (not of the result).
        ``piece_m`` defaults to twice the median segment length, between 50 and 250 m,
        so that most segments are one piece and long ones are cut.

    Returns
    -------
    Snap
    """
    pts = np.asarray(points)
    if pts.dtype == object:
        pts = pts.reshape(-1)
        ok = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
        pxy = np.full((len(pts), 2), np.nan)
        pxy[ok] = shapely.get_coordinates(pts[ok])[:, :2]
    else:
        pxy = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        ok = np.isfinite(pxy).all(axis=1)
    n = len(pxy)
    edge = np.full(n, -1, dtype=np.int64)
    offset = np.zeros(n)
    dist = np.full(n, np.inf)
    if net.n_edges == 0 or not ok.any():
        return Snap(edge, offset, dist)
    ix = net._pieces(net.piece_m if piece_m is None else piece_m)
    kq = min(k, len(ix.edge))
    todo = np.flatnonzero(ok)
    todo = todo[morton_order(pxy[todo])]  # nearby queries one after another
    unsure_parts = []
    for s in range(0, len(todo), chunk):
        where = todo[s:s + chunk]
        q = pxy[where]
        dmid, cand = ix.tree.query(q, k=kq, workers=-1)
        cand = cand.reshape(len(q), kq)
        dd, off = _to_pieces(ix, q, cand)
        best = np.argmin(dd, axis=1)
        r = np.arange(len(q))
        bd = dd[r, best]
        bc = cand[r, best]
        edge[where] = ix.edge[bc]
        dist[where] = bd
        offset[where] = off[r, best]
        if kq < len(ix.edge):
            unsure_parts.append(where[dmid.reshape(len(q), kq)[:, -1] <= bd + ix.half + 1e-6])
    unsure = np.concatenate(unsure_parts) if unsure_parts else np.empty(0, dtype=np.int64)
    if len(unsure):
        near = ix.tree.query_ball_point(pxy[unsure], dist[unsure] + ix.half + 1e-6,
                                        workers=-1)
        counts = np.fromiter(map(len, near), dtype=np.int64, count=len(near))
        cand = np.fromiter(itertools.chain.from_iterable(near), dtype=np.int64,
                           count=int(counts.sum()))
        owner = np.repeat(np.arange(len(unsure)), counts)
        dd, off = _to_pieces(ix, pxy[unsure][owner], cand)
        bd, at = group_min(dd, owner, len(unsure))
        edge[unsure] = ix.edge[cand[at]]
        dist[unsure] = bd
        offset[unsure] = off[at]
    offset[edge >= 0] = np.clip(offset[edge >= 0], 0.0, net.edge_len[edge[edge >= 0]])
    return Snap(edge, offset, dist)


# ------------------------------------------------------------------------ origin graph
@dataclass(frozen=True, eq=False)
class OriginGraph:
    """The network plus one virtual node per origin (facility, compound, candidate).

    Origin ``g`` is node ``net.n_nodes + g``; it has directed edges to both ends of the
    edge each of its points snapped to, weighted by snapping distance plus offset.
    """

    net: Network
    graph: sp.csr_matrix
    snap: Snap
    group: IntArray
    n_origins: int

    def node(self, origins: Any) -> IntArray:
        """Virtual node ids of origins."""
        return self.net.n_nodes + np.asarray(origins, dtype=np.int64)

    def nearest(self, origins: Any, *, limit: float = np.inf) -> tuple[FloatArray, IntArray]:
        """Distance from every network node to the nearest of *origins*, and which.

        One multi-source Dijkstra (``min_only=True``) stopped at *limit* metres.

        Returns
        -------
        dist : ndarray, shape (n_nodes,)
            ``inf`` beyond *limit* or out of reach.
        origin : ndarray of int, shape (n_nodes,)
            Origin id (position in the origin list), -1 where unreached.
        """
        n = self.net.n_nodes
        origins = np.asarray(origins, dtype=np.int64)
        if len(origins) == 0 or n == 0:
            return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
        dist, _pred, src = dijkstra(self.graph, directed=True, indices=self.node(origins),
                                    limit=limit, min_only=True, return_predecessors=True)
        src = src[:n].astype(np.int64)
        origin = np.where(src >= 0, src - n, -1)
        return np.asarray(dist[:n], dtype=np.float64), origin

    def rows(self, origins: Any, *, limit: float, max_cells: int = 20_000_000
             ) -> Iterator[tuple[IntArray, FloatArray]]:
        """Yield ``(origin ids, distances to all nodes)`` in chunks (for pair distances)."""
        origins = np.asarray(origins, dtype=np.int64)
        chunk = max(1, max_cells // max(1, self.graph.shape[0]))
        for s in range(0, len(origins), chunk):
            ids = origins[s:s + chunk]
            d = dijkstra(self.graph, directed=True, indices=self.node(ids), limit=limit)
            yield ids, np.atleast_2d(d)[:, : self.net.n_nodes]


def origin_graph(net: Network, snap: Snap, group: Any = None, n_origins: int | None = None
                 ) -> OriginGraph:
    """Add one virtual node per origin to the network (see :class:`OriginGraph`).

    Parameters
    ----------
    net : Network
    snap : Snap
        Snapped points of all origins.
    group : array-like of int, optional
        Origin id of each point (several points, e.g. the gates of one compound, may
        form one origin). Default: each point is its own origin.
    n_origins : int, optional
        Number of origins (default ``group.max() + 1``).
    """
    group = np.arange(len(snap), dtype=np.int64) if group is None else np.asarray(
        group, dtype=np.int64)
    if n_origins is None:
        n_origins = int(group.max()) + 1 if len(group) else 0
    n = net.n_nodes
    ok = snap.ok
    e, g = snap.edge[ok], group[ok]
    off, d = snap.offset[ok], snap.dist[ok]
    rows = np.concatenate([g, g])
    cols = np.concatenate([net.edge_u[e], net.edge_v[e]])
    w = np.concatenate([d + off, d + (net.edge_len[e] - off)])
    rows, cols, w = _dedupe_min(rows, cols, np.maximum(w, 0.0))
    size = n + n_origins
    base = sp.csr_matrix((net.graph.data, net.graph.indices, net.graph.indptr), shape=(n, size))
    extra = sp.csr_matrix((w, (rows, cols)), shape=(n_origins, size))
    graph = sp.vstack([base, extra], format="csr")
    return OriginGraph(net, graph, snap, group, n_origins)


def target_distances(og: OriginGraph, node_dist: FloatArray, node_origin: IntArray,
                     targets: Snap, *, origins: Any = None) -> tuple[FloatArray, IntArray]:
    """Distance from each target point to the nearest origin, with the origin id.

    The walk is: target snapping distance + along its edge to the better end + the
    node's distance (:meth:`OriginGraph.nearest`). Where an origin of *origins* lies on
    the same edge as the target, the direct walk along that edge is used if shorter.
    """
    net = og.net
    n_t = len(targets)
    dist = np.full(n_t, np.inf)
    which = np.full(n_t, -1, dtype=np.int64)
    ok = targets.ok
    if net.n_nodes == 0 or not ok.any():
        return dist, which
    e = targets.edge[ok]
    off = targets.offset[ok]
    du = off + node_dist[net.edge_u[e]]
    dv = (net.edge_len[e] - off) + node_dist[net.edge_v[e]]
    use_u = du <= dv
    dist[ok] = targets.dist[ok] + np.where(use_u, du, dv)
    which[ok] = np.where(use_u, node_origin[net.edge_u[e]], node_origin[net.edge_v[e]])
    which[~np.isfinite(dist)] = -1
    # same-edge shortcut
    if origins is None:
        sel = np.ones(len(og.group), dtype=bool)
    else:
        sel = np.isin(og.group, np.asarray(origins, dtype=np.int64))
    sel &= og.snap.ok
    if sel.any():
        o = pd.DataFrame({"edge": og.snap.edge[sel], "o_off": og.snap.offset[sel],
                          "o_d": og.snap.dist[sel], "origin": og.group[sel]})
        t_idx = np.flatnonzero(ok)
        t = pd.DataFrame({"edge": targets.edge[t_idx], "t_off": targets.offset[t_idx],
                          "t_d": targets.dist[t_idx], "t": t_idx})
        t = t[t["edge"].isin(o["edge"])]
        if len(t):
            m = t.merge(o, on="edge")
            m["d"] = m["t_d"] + (m["t_off"] - m["o_off"]).abs() + m["o_d"]
            best = m.loc[m.groupby("t")["d"].idxmin()]
            ti = best["t"].to_numpy()
            better = best["d"].to_numpy() < dist[ti]
            dist[ti[better]] = best["d"].to_numpy()[better]
            which[ti[better]] = best["origin"].to_numpy()[better]
    return dist, which


def nearest_origins(net: Network, origin_snap: Snap, *, targets: Snap,
                    group: Any = None, limit: float = np.inf
                    ) -> tuple[FloatArray, IntArray]:
    """Distance from each target to its nearest origin (one-off convenience).

    For repeated queries (one per facility type) build an :func:`origin_graph` once
    and call :meth:`OriginGraph.nearest` and :func:`target_distances`.
    """
    og = origin_graph(net, origin_snap, group)
    nd, no = og.nearest(np.arange(og.n_origins), limit=limit)
    return target_distances(og, nd, no, targets)


def group_min(values: FloatArray, owner: Any, n_groups: int, *, payload: Any = None
              ) -> tuple[FloatArray, IntArray]:
    """Minimum of *values* per owner group, and the *payload* at the minimum.

    Returns ``(min_value, payload_at_min)``; groups with no finite value get ``inf`` and
    -1; of equal minima the first is taken. Vectorised: ``np.fmin.reduceat`` when
    *owner* is sorted (sort the points once when calling this repeatedly), a lexsort
    otherwise.
    """
    values = np.asarray(values, dtype=np.float64)
    owner = np.asarray(owner, dtype=np.int64)
    payload = np.arange(len(values)) if payload is None else np.asarray(payload)
    out = np.full(n_groups, np.inf)
    arg = np.full(n_groups, -1, dtype=np.int64)
    if len(values) == 0:
        return out, arg
    if (owner[1:] >= owner[:-1]).all():
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        low = np.fmin.reduceat(values, starts)
        size = np.diff(np.r_[starts, len(values)])
        pos = np.arange(len(values))
        hit = np.where(values == np.repeat(low, size), pos, len(values))
        pick = np.minimum.reduceat(hit, starts)
        got = np.isfinite(low)
        out[owner[starts]] = low
        arg[owner[starts[got]]] = payload[pick[got]]
        return out, arg
    order = np.lexsort((values, owner))
    o_sorted = owner[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = o_sorted[1:] != o_sorted[:-1]
    pick = order[first]
    out[owner[pick]] = values[pick]
    got = np.isfinite(values[pick])
    arg[owner[pick][got]] = payload[pick][got]
    return out, arg


def pair_distances(og: OriginGraph, origins: Any, targets: Snap, target_group: Any,
                   n_groups: int, *, limit: float) -> sp.csr_matrix:
    """Sparse matrix (origins × target groups) of walking distances within *limit*.

    Entry (i, j) is the shortest walk from origin ``origins[i]`` to any point of target
    group ``j`` (e.g. any gate or boundary point of compound ``j``). Pairs farther than
    *limit* are absent. Computed in chunks of origins, one Dijkstra row each.
    """
    net = og.net
    origins = np.asarray(origins, dtype=np.int64)
    target_group = np.asarray(target_group, dtype=np.int64)
    ok = targets.ok
    t_idx = np.flatnonzero(ok)
    e = targets.edge[t_idx]
    off = targets.offset[t_idx]
    grp = target_group[t_idx]
    order = np.argsort(grp, kind="stable")
    t_idx, e, off, grp = t_idx[order], e[order], off[order], grp[order]
    starts = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]]) if len(grp) else np.empty(0, int)
    groups_present = grp[starts] if len(grp) else np.empty(0, dtype=np.int64)
    snapd = targets.dist[t_idx]
    # same-edge pairs, for the direct walk along a shared edge
    o_pos = pd.Series(np.arange(len(origins)), index=origins)
    o_sel = np.isin(og.group, origins) & og.snap.ok
    same = pd.DataFrame({"edge": og.snap.edge[o_sel], "o_off": og.snap.offset[o_sel],
                         "o_d": og.snap.dist[o_sel], "origin": og.group[o_sel]}).merge(
        pd.DataFrame({"edge": e, "t_off": off, "t_d": snapd, "grp": grp}), on="edge")
    rows_out: list[IntArray] = []
    cols_out: list[IntArray] = []
    vals_out: list[FloatArray] = []
    done = 0
    for ids, d in og.rows(origins, limit=limit):
        if len(t_idx) == 0:
            break
        du = d[:, net.edge_u[e]] + off
        dv = d[:, net.edge_v[e]] + (net.edge_len[e] - off)
        pt = np.minimum(du, dv) + snapd
        gmin = np.minimum.reduceat(pt, starts, axis=1)
        r, c = np.nonzero(gmin <= limit)
        rows_out.append(done + r)
        done += len(ids)
        cols_out.append(groups_present[c])
        vals_out.append(gmin[r, c])
    if len(same):
        same["d"] = same["t_d"] + (same["t_off"] - same["o_off"]).abs() + same["o_d"]
        same = same[same["d"] <= limit]
        rows_out.append(o_pos.loc[same["origin"].to_numpy()].to_numpy(dtype=np.int64))
        cols_out.append(same["grp"].to_numpy(dtype=np.int64))
        vals_out.append(same["d"].to_numpy(dtype=float))
    if not rows_out:
        return sp.csr_matrix((len(origins), n_groups))
    r_all = np.concatenate(rows_out)
    c_all = np.concatenate(cols_out)
    v_all = np.concatenate(vals_out)
    r_all, c_all, v_all = _dedupe_min(r_all.astype(np.int64), c_all.astype(np.int64), v_all)
    # keep explicit entries even at distance 0 (a facility on the boundary)
    v_all = np.maximum(v_all, 1e-9)
    return sp.csr_matrix((v_all, (r_all, c_all)), shape=(len(origins), n_groups))
