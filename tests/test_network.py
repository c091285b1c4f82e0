from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

from gisplan.network import (
    WalkNetwork,
    build_network,
    count_crossings,
    group_min,
    morton_order,
    nearest_origins,
    network_from_coords,
    origin_graph,
    pair_distances,
    snap_points,
    target_distances,
)


def _random_street_grid(seed: int, size: int = 12) -> np.ndarray:
    """A jittered grid of streets with some blocks missing (lines noded at nodes)."""
    rng = np.random.default_rng(seed)
    xy = np.stack(np.meshgrid(np.arange(size) * 100.0, np.arange(size) * 100.0), -1)
    xy = xy + rng.uniform(-30, 30, xy.shape)
    lines = []
    for i in range(size):
        for j in range(size):
            if j + 1 < size and rng.random() > 0.15:
                mid = (xy[i, j] + xy[i, j + 1]) / 2 + rng.uniform(-20, 20, 2)
                lines.append(shapely.LineString([xy[i, j], mid, xy[i, j + 1]]))
            if i + 1 < size and rng.random() > 0.15:
                lines.append(shapely.LineString([xy[i, j], xy[i + 1, j]]))
    return np.array(lines, dtype=object)


def _nx_graph(lines: np.ndarray) -> nx.Graph:
    g = nx.Graph()
    for line in lines:
        a = tuple(np.round(line.coords[0], 6))
        b = tuple(np.round(line.coords[-1], 6))
        w = line.length
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=w)
    return g


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multi_source_node_distances_match_networkx(seed: int) -> None:
    lines = _random_street_grid(seed)
    net = build_network(lines)
    rng = np.random.default_rng(seed)
    sources = rng.choice(net.n_nodes, 4, replace=False)
    og = origin_graph(net, snap_points(net, net.xy[sources]))
    dist, which = og.nearest(np.arange(4))
    g = _nx_graph(lines)
    keys = [tuple(np.round(p, 6)) for p in net.xy]
    expect = nx.multi_source_dijkstra_path_length(g, {keys[s] for s in sources})
    got = {keys[i]: dist[i] for i in range(net.n_nodes)}
    for k, v in expect.items():
        assert got[k] == pytest.approx(v, abs=1e-6)
    unreachable = [k for k in keys if k not in expect]
    assert all(np.isinf(got[k]) for k in unreachable)
    # the origin reported is one at that distance
    for i in range(net.n_nodes):
        if np.isfinite(dist[i]):
            d_own = nx.shortest_path_length(g, keys[sources[which[i]]], keys[i], weight="weight")
            assert d_own == pytest.approx(dist[i], abs=1e-6)


def test_point_to_point_walk_matches_networkx_with_snapping_added() -> None:
    lines = _random_street_grid(5)
    net = build_network(lines)
    fac = snap_points(net, shapely.points([(310.0, 420.0)]))
    tgt = snap_points(net, shapely.points([(820.0, 760.0)]))
    d, _ = nearest_origins(net, fac, targets=tgt)
    # hand rule: snap + along edge to an end + network + along edge + snap, best of 4
    g = _nx_graph(lines)
    keys = [tuple(np.round(p, 6)) for p in net.xy]
    fe, te = fac.edge[0], tgt.edge[0]
    f_ends = [(net.edge_u[fe], fac.offset[0]), (net.edge_v[fe], net.edge_len[fe] - fac.offset[0])]
    t_ends = [(net.edge_u[te], tgt.offset[0]), (net.edge_v[te], net.edge_len[te] - tgt.offset[0])]
    best = min(
        fo + nx.shortest_path_length(g, keys[fn], keys[tn], weight="weight") + to
        for fn, fo in f_ends for tn, to in t_ends
    )
    assert d[0] == pytest.approx(fac.dist[0] + best + tgt.dist[0], abs=1e-6)


def test_hand_computed_l_shaped_street() -> None:
    net = build_network(shapely.linestrings([[(0, 0), (100, 0)], [(100, 0), (100, 100)]]))
    fac = snap_points(net, shapely.points([(100, 90)]))
    gate = snap_points(net, shapely.points([(10, 5)]))
    d, which = nearest_origins(net, fac, targets=gate)
    assert d[0] == pytest.approx(5 + 90 + 90)
    assert which[0] == 0


def test_snapping_reports_edge_offset_and_distance() -> None:
    net = build_network(shapely.linestrings([[(0, 0), (200, 0)]]))
    s = snap_points(net, shapely.points([(50, 30), (250, 0)]))
    assert s.offset.tolist() == pytest.approx([50, 200])
    assert s.dist.tolist() == pytest.approx([30, 50])


def test_target_on_the_same_edge_walks_directly() -> None:
    # one long street: facility at 400 m, home at 450 m; nodes are 0 and 1000 m away
    net = build_network(shapely.linestrings([[(0, 0), (1000, 0)]]))
    fac = snap_points(net, shapely.points([(400, 10)]))
    home = snap_points(net, shapely.points([(450, 0)]))
    d, _ = nearest_origins(net, fac, targets=home)
    assert d[0] == pytest.approx(60.0)


def test_parallel_streets_keep_the_shortest() -> None:
    lines = [shapely.LineString([(0, 0), (100, 0)]),
             shapely.LineString([(0, 0), (50, 80), (100, 0)])]
    net = build_network(lines)
    assert net.graph[0, 1] == pytest.approx(100.0)
    assert net.n_edges == 2


def test_disconnected_parts_are_counted_and_unreachable() -> None:
    lines = shapely.linestrings([[(0, 0), (100, 0)], [(100, 0), (200, 0)],
                                 [(5000, 0), (5100, 0)]])
    net = build_network(lines)
    n, _ = net.components
    assert n == 2
    assert net.component_sizes()["nodes"].tolist() == [3, 2]
    fac = snap_points(net, shapely.points([(0, 0)]))
    far = snap_points(net, shapely.points([(5050, 0)]))
    d, which = nearest_origins(net, fac, targets=far)
    assert np.isinf(d[0])
    assert which[0] == -1


def test_search_limit_stops_the_walk() -> None:
    net = build_network(shapely.linestrings([[(0, 0), (1000, 0)], [(1000, 0), (2000, 0)]]))
    og = origin_graph(net, snap_points(net, shapely.points([(0, 0)])))
    d, _ = og.nearest([0], limit=1500)
    assert d.tolist() == [0.0, 1000.0, np.inf]


def test_crossing_lines_without_a_shared_vertex_are_found_and_noded() -> None:
    lines = shapely.linestrings([[(0, 50), (100, 50)], [(50, 0), (50, 100)]])
    assert count_crossings(lines) == 1
    plain = build_network(lines)
    assert plain.components[0] == 2
    noded = build_network(lines, node=True)
    assert noded.components[0] == 1
    assert noded.n_edges == 4
    assert sorted(set(noded.edge_source.tolist())) == [0, 1]


def test_noded_input_has_no_crossings() -> None:
    assert count_crossings(_random_street_grid(3)) == 0


def test_multi_part_and_empty_lines_are_handled() -> None:
    lines = [shapely.MultiLineString([[(0, 0), (10, 0)], [(10, 0), (10, 10)]]), None,
             shapely.LineString()]
    net = build_network(lines)
    assert net.n_edges == 2
    assert net.info["dropped_empty"] == 2
    assert net.edge_source.tolist() == [0, 0]


def test_pair_distances_agree_with_nearest_for_each_origin() -> None:
    lines = _random_street_grid(7, size=8)
    net = build_network(lines)
    rng = np.random.default_rng(7)
    origins_xy = rng.uniform(0, 700, (5, 2))
    targets_xy = rng.uniform(0, 700, (12, 2))
    group = np.repeat(np.arange(6), 2)  # two points per target group
    og = origin_graph(net, snap_points(net, origins_xy))
    tsnap = snap_points(net, targets_xy)
    m = pair_distances(og, np.arange(5), tsnap, group, 6, limit=400.0).toarray()
    for o in range(5):
        nd, no = og.nearest([o])
        d, _ = target_distances(og, nd, no, tsnap, origins=[o])
        best, _ = group_min(d, group, 6)
        expect = np.where(best <= 400.0, best, 0.0)
        assert m[o] == pytest.approx(expect, abs=1e-6)


def test_group_min_returns_minimum_and_its_payload() -> None:
    vals = np.array([5.0, 2.0, np.inf, 7.0, 1.0])
    owner = np.array([0, 0, 1, 2, 2])
    best, arg = group_min(vals, owner, 4, payload=np.array([10, 11, 12, 13, 14]))
    assert best.tolist() == [2.0, np.inf, 1.0, np.inf]
    assert arg.tolist() == [11, -1, 14, -1]


def test_kd_snapping_equals_the_exact_strtree_nearest() -> None:
    lines = _random_street_grid(9)
    net = build_network(lines)
    pts = shapely.points(np.random.default_rng(9).uniform(-200, 1300, (400, 2)))
    fast = snap_points(net, pts, piece_m=40.0, k=4)
    (qi, _), d = net.tree.query_nearest(pts, all_matches=False, return_distance=True)
    assert fast.dist[qi] == pytest.approx(d, abs=1e-6)
    exact_off = shapely.line_locate_point(net.edge_geom[fast.edge], pts)
    assert fast.offset == pytest.approx(exact_off, abs=1e-6)


def test_network_from_coordinates_equals_the_network_from_lines() -> None:
    lines = _random_street_grid(4)
    net = build_network(lines)
    xy, idx = shapely.get_coordinates(lines, return_index=True)
    raw = network_from_coords(xy, idx)
    assert (raw.n_nodes, raw.n_edges) == (net.n_nodes, net.n_edges)
    assert raw.edge_len == pytest.approx(shapely.length(lines), abs=1e-9)
    assert (raw.graph != net.graph).nnz == 0


def test_projecting_the_coordinates_equals_projecting_the_lines() -> None:
    import pyproj

    to_m = pyproj.Transformer.from_crs(4326, 4547, always_xy=True)
    to_deg = pyproj.Transformer.from_crs(4547, 4326, always_xy=True)
    lines_m = _random_street_grid(6)
    lines_deg = shapely.transform(lines_m, lambda c: np.column_stack(
        to_deg.transform(c[:, 0] + 500_000, c[:, 1] + 4_000_000)))
    net = build_network(lines_deg, project=lambda c: np.column_stack(to_m.transform(c[:, 0],
                                                                                     c[:, 1])))
    ref = build_network(shapely.transform(lines_deg, lambda c: np.column_stack(
        to_m.transform(c[:, 0], c[:, 1]))))
    assert net.xy == pytest.approx(ref.xy, abs=1e-6)
    assert net.edge_len == pytest.approx(ref.edge_len, abs=1e-6)
    assert abs(net.graph - ref.graph).max() < 1e-6


def test_parallel_edges_in_both_directions_keep_the_shortest() -> None:
    lines = [shapely.LineString([(0, 0), (50, 80), (100, 0)]),
             shapely.LineString([(100, 0), (0, 0)]),
             shapely.LineString([(0, 0), (50, -60), (100, 0)]),
             shapely.LineString([(100, 0), (100, 70)])]
    net = build_network(lines)
    assert net.n_edges == 4
    assert net.graph.nnz == 4  # two undirected node pairs
    u, v = net.edge_u[1], net.edge_v[1]
    assert net.graph[u, v] == pytest.approx(100.0)
    assert net.graph[v, u] == pytest.approx(100.0)


def test_snapping_fallback_is_exact_when_the_candidates_cannot_prove_the_nearest() -> None:
    lines = _random_street_grid(11)
    net = build_network(lines)
    rng = np.random.default_rng(11)
    pts = shapely.points(np.r_[rng.uniform(-3000, 4000, (200, 2)), rng.uniform(0, 1100, (200, 2))])
    one = snap_points(net, pts, piece_m=30.0, k=1)  # every point needs the ball query
    (qi, _), d = net.tree.query_nearest(pts, all_matches=False, return_distance=True)
    assert one.dist[qi] == pytest.approx(d, abs=1e-6)
    exact_off = shapely.line_locate_point(net.edge_geom[one.edge], pts)
    assert one.offset == pytest.approx(exact_off, abs=1e-6)


def test_snapping_coordinates_equals_snapping_points_and_skips_missing() -> None:
    net = build_network(_random_street_grid(12))
    xy = np.random.default_rng(12).uniform(0, 1100, (50, 2))
    xy[7] = np.nan
    a = snap_points(net, xy)
    pts = shapely.points(xy)
    pts[7] = None
    b = snap_points(net, pts)
    assert a.edge.tolist() == b.edge.tolist()
    assert a.edge[7] == -1 and np.isinf(a.dist[7])
    assert a.dist[a.ok] == pytest.approx(b.dist[b.ok])


def test_group_min_on_sorted_owners_equals_the_general_case() -> None:
    rng = np.random.default_rng(3)
    vals = rng.choice([0.0, 1.0, 2.0, np.inf], 500)  # many ties
    owner = rng.integers(0, 60, 500)
    payload = rng.integers(0, 10_000, 500)
    order = np.argsort(owner, kind="stable")
    best, arg = group_min(vals, owner, 70, payload=payload)
    best_s, arg_s = group_min(vals[order], owner[order], 70, payload=payload[order])
    assert best_s.tolist() == best.tolist()
    assert arg_s.tolist() == arg.tolist()
    assert (arg[np.isinf(best)] == -1).all()


def test_morton_order_visits_one_quadrant_after_another() -> None:
    xy = np.random.default_rng(5).uniform(0, 100, (400, 2))
    order = morton_order(xy)
    assert sorted(order.tolist()) == list(range(400))
    quadrant = (xy[order, 0] >= 50).astype(int) + 2 * (xy[order, 1] >= 50)
    assert (np.diff(quadrant) != 0).sum() == 3


# ------------------------------------------------------------------- WalkNetwork
def _roads(walkable: list[object] | None = None):
    import geopandas as gpd

    lines = [shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(100, 0), (100, 100)]),
             shapely.LineString([(0, 0), (100, 100)])]
    cols = {} if walkable is None else {"walkable": walkable}
    return gpd.GeoDataFrame(cols, geometry=lines, crs=4547)


def test_walk_network_leaves_out_roads_that_are_not_walkable() -> None:
    wn = WalkNetwork.from_roads(_roads([True, None, False]))
    assert wn.walkable.tolist() == [True, True, False]  # missing counts as walkable
    assert wn.network.n_edges == 2
    assert wn.network.edge_source.tolist() == [0, 1]  # rows of the roads layer
    d, _ = nearest_origins(wn.network, snap_points(wn.network, shapely.points([(0, 0)])),
                           targets=snap_points(wn.network, shapely.points([(100, 100)])))
    assert d[0] == pytest.approx(200.0)  # round the corner, not the 141 m diagonal
    (f,) = wn.report.by_code("roads_not_walkable")
    assert f.layer == "roads" and "1 roads" in f.message


def test_walk_network_without_a_walkable_column_uses_every_road() -> None:
    wn = WalkNetwork.from_roads(_roads())
    assert wn.walkable.all() and wn.network.n_edges == 3
    assert not wn.report.by_code("roads_not_walkable")


def test_walk_network_measures_lonlat_roads_in_the_metric_crs_given() -> None:
    metric = WalkNetwork.from_roads(_roads())
    lonlat = WalkNetwork.from_roads(_roads().to_crs(4326), crs=4547)
    assert lonlat.crs.to_epsg() == 4547
    assert lonlat.network.edge_len == pytest.approx(metric.network.edge_len, abs=1e-3)


def test_walk_network_without_crs_is_the_one_crs_error() -> None:
    from gisplan._errors import CRSError

    roads = _roads().set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="coordinate reference system") as e:
        WalkNetwork.from_roads(roads)
    assert e.value.layer == "roads"
