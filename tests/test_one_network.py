"""One walking network: coverage and siting walk on the same streets (issue 9).

Compound A and compound B (900 households) are joined only by a shortcut that is not
walkable (``walkable=False``, e.g. a fenced rail line or an expressway). The walk from A
to B goes round a 512 m detour. Siting used to build its own network from every road and
said a kindergarten at A newly covers B; coverage, with a kindergarten at A, puts B more
than a kilometre away. Both now walk on :class:`gisplan.network.WalkNetwork`.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisplan.coverage import coverage
from gisplan.network import WalkNetwork
from gisplan.siting import site

CRS = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E (metres)
KINDERGARTEN_M = 300.0  # walking distance of the shipped standard


def two_compounds() -> dict[str, gpd.GeoDataFrame]:
    """A (100 households) and B (900) 200 m apart; the only short way is not walkable."""
    comp = gpd.GeoDataFrame({"compound_id": ["A", "B"], "households": [100, 900]},
                            geometry=[shapely.box(0, 0, 50, 50), shapely.box(250, 0, 300, 50)],
                            crs=CRS)
    roads = gpd.GeoDataFrame(
        {"road_id": ["west", "north", "east", "shortcut"],
         "walkable": [True, True, True, False]},
        geometry=[shapely.LineString([(60, 25), (60, 537)]),
                  shapely.LineString([(60, 537), (240, 537)]),
                  shapely.LineString([(240, 537), (240, 25)]),
                  shapely.LineString([(60, 25), (240, 25)])],
        crs=CRS)
    return {"compounds": comp, "roads": roads}


def at(x: float, y: float, **cols: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[shapely.Point(x, y)], crs=CRS)


def sited_distances(res, row: int = 0) -> np.ndarray:
    """Row of ``SitingResult.distances`` with absent entries (farther) as inf."""
    d = res.distances.toarray()[row]
    return np.where(d > 0, d, np.inf)


def covered_distances(cov) -> np.ndarray:
    """Coverage's walking distances, inf beyond the kindergarten distance."""
    walk = cov.coverage["walk_m"].to_numpy(dtype=float)
    return np.where(walk <= KINDERGARTEN_M, walk, np.inf)


def test_coverage_walks_round_the_shortcut_that_is_not_walkable() -> None:
    city = two_compounds()
    cov = coverage(city["compounds"], at(60, 25, facility_type=["幼儿园"]),
                   roads=city["roads"], types=["kindergarten"])
    walk = cov.coverage.set_index("compound_id")["walk_m"]
    # A's corner (50, 0) snaps to the kindergarten's own spot on road x=60
    assert walk["A"] == pytest.approx(np.hypot(10, 25))
    # B's corner (250, 50) -> road x=240 (10 m) -> north 487 m -> west 180 m -> south 512 m
    assert walk["B"] == pytest.approx(10 + 487 + 180 + 512)
    assert cov.compounds["covered_kindergarten"].tolist() == [True, False]
    assert cov.network is not None and cov.network.network.n_edges == 3
    assert cov.report.by_code("roads_not_walkable")


def test_site_does_not_claim_a_kindergarten_at_a_covers_b() -> None:
    city = two_compounds()
    res = site(city["compounds"], roads=city["roads"], facility_type="kindergarten",
               count=1, candidates=at(60, 25, candidate_id=["at A"]))
    assert res.sites["compound_ids"].tolist() == ["A"]
    assert res.totals["households_newly_covered"] == 100
    assert res.demand.set_index("compound_id")["covered_by_site"].isna().tolist() == [
        False, True]


def test_siting_and_coverage_agree_on_every_distance() -> None:
    city = two_compounds()
    cov = coverage(city["compounds"], at(60, 25, facility_type=["幼儿园"]),
                   roads=city["roads"], types=["kindergarten"])
    res = site(city["compounds"], roads=city["roads"], facility_type="kindergarten",
               count=1, candidates=at(60, 25))
    assert np.array_equal(sited_distances(res), covered_distances(cov))


def test_no_network_node_is_said_to_cover_both_compounds() -> None:
    city = two_compounds()
    res = site(city["compounds"], roads=city["roads"], facility_type="kindergarten", count=2)
    assert res.sites["candidate_source"].eq("network_node").all()
    assert sorted(res.sites["compound_ids"]) == ["A", "B"]  # one site each, B first
    assert res.sites["compound_ids"].iloc[0] == "B"


def test_site_reuses_the_network_coverage_hands_on() -> None:
    city = two_compounds()
    cov = coverage(city["compounds"], roads=city["roads"], types=["kindergarten"])
    assert cov.network is not None
    reused = site(city["compounds"], network=cov.network, facility_type="kindergarten",
                  count=2)
    built = site(city["compounds"], roads=city["roads"], facility_type="kindergarten",
                 count=2)
    assert reused.coverage.network is cov.network
    assert reused.sites["candidate"].tolist() == built.sites["candidate"].tolist()
    assert (reused.distances != built.distances).nnz == 0


def test_roads_and_a_network_together_are_refused() -> None:
    city = two_compounds()
    net = WalkNetwork.from_roads(city["roads"])
    with pytest.raises(ValueError, match="not both"):
        coverage(city["compounds"], roads=city["roads"], network=net)


def grid_with_fences(seed: int) -> dict[str, gpd.GeoDataFrame]:
    """A 100 m street grid, some streets fenced off (not walkable), gates on some compounds."""
    rng = np.random.default_rng(seed)
    xs = np.arange(8) * 100.0
    lines = []
    for y in xs:
        for a, b in itertools.pairwise(xs):
            lines += [shapely.LineString([(a, y), (b, y)]), shapely.LineString([(y, a), (y, b)])]
    roads = gpd.GeoDataFrame({"walkable": rng.random(len(lines)) > 0.25}, geometry=lines,
                             crs=CRS)
    boxes = [shapely.box(x + 20, y + 20, x + 80, y + 80) for x in xs[:-1] for y in xs[:-1]]
    comp = gpd.GeoDataFrame({"compound_id": [f"C{i:02d}" for i in range(len(boxes))],
                             "households": rng.integers(50, 500, len(boxes))},
                            geometry=boxes, crs=CRS)
    gated = rng.choice(len(boxes), 10, replace=False)
    gates = gpd.GeoDataFrame({"compound_id": comp["compound_id"].to_numpy()[gated]},
                             geometry=[shapely.Point(boxes[i].bounds[0], boxes[i].centroid.y)
                                       for i in gated], crs=CRS)
    return {"compounds": comp, "roads": roads, "gates": gates}


@pytest.mark.parametrize("seed", [1, 2])
def test_every_candidate_reaches_what_coverage_measures_for_a_facility_there(seed: int
                                                                              ) -> None:
    city = grid_with_fences(seed)
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 700, (6, 2))
    cands = gpd.GeoDataFrame(geometry=shapely.points(pts), crs=CRS)
    res = site(city["compounds"], roads=city["roads"], gates=city["gates"],
               facility_type="kindergarten", count=1, candidates=cands)
    for j, (x, y) in enumerate(pts):
        cov = coverage(city["compounds"], at(x, y, facility_type=["kindergarten"]),
                       roads=city["roads"], gates=city["gates"], types=["kindergarten"])
        assert np.array_equal(sited_distances(res, j), covered_distances(cov)), j


def test_site_project_walks_on_the_network_coverage_hands_on(tmp_path) -> None:
    from gisplan.coverage import coverage_project
    from gisplan.siting import site_project
    from gisplan.store import Project

    p = Project.create(tmp_path / "p.gpkg", meta={"name": "t"}, layers=two_compounds())
    cov = coverage_project(p, types=["kindergarten"])
    res = site_project(p, facility_type="幼儿园", count=2, network=cov.network)
    assert res.coverage.network is cov.network
    assert sorted(res.sites["compound_ids"]) == ["A", "B"]
    assert all(f.file == str(p.path) for f in res.report if f.layer)


def test_the_same_streets_are_built_once_and_a_changed_street_is_rebuilt() -> None:
    """A process keeps the networks it built (coverage, then the gaps map): same roads,
    same graph; one moved vertex or a road marked not walkable builds a new one."""
    from gisplan import network as nw

    lines = [shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(100, 0), (100, 90)]),
             shapely.LineString([(0, 0), (100, 90)])]
    roads = gpd.GeoDataFrame({"walkable": [True, True, True]}, geometry=lines, crs=4547)
    first = WalkNetwork.from_roads(roads)
    again = WalkNetwork.from_roads(roads.copy())
    assert again.network is first.network  # kept, not rebuilt
    again.report.add(nw.Finding("info", "x", "a caller's own finding"))
    assert len(WalkNetwork.from_roads(roads).report.findings) == len(first.report.findings)
    moved = roads.copy()
    moved.loc[2, "geometry"] = shapely.LineString([(0, 0), (100, 91)])
    other = WalkNetwork.from_roads(moved)
    assert other.network is not first.network
    assert other.network.edge_len.sum() != pytest.approx(first.network.edge_len.sum())
    fenced = roads.assign(walkable=[True, True, False])
    assert WalkNetwork.from_roads(fenced).network.n_edges == first.network.n_edges - 1
    assert WalkNetwork.from_roads(roads, crs=4326).crs.to_epsg() == 4326
