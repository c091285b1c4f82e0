"""Walking catchments (issue 13): service areas follow the streets, not a circle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from browser import open_offline

from gisplan import maps
from gisplan.catchments import catchments, edge_stretches, service_areas
from gisplan.network import WalkNetwork, build_network

X0, Y0 = 106.270, 36.000


def _two_streets(crs: Any = 4547, scale: float = 1.0) -> gpd.GeoDataFrame:
    """Two parallel streets 250 m apart, joined only 2 km away at both ends (a river)."""
    s = scale
    lines = [[(-2000, 0), (2000, 0)], [(-2000, 250), (2000, 250)],
             [(-2000, 0), (-2000, 250)], [(2000, 0), (2000, 250)]]
    return gpd.GeoDataFrame({"road_id": ["A", "B", "W", "E"]}, crs=crs,
                            geometry=[shapely.LineString([(x * s, y * s) for x, y in ln])
                                      for ln in lines])


def test_a_point_inside_the_circle_but_across_the_river_is_outside_the_catchment():
    roads = _two_streets()
    fac = gpd.GeoDataFrame({"facility_id": ["F1"]}, crs=4547,
                           geometry=[shapely.Point(0, 10)])
    res = catchments(fac, WalkNetwork.from_roads(roads), distance_m=300, buffer_m=30)
    poly = res.catchments.geometry.iloc[0]
    across = shapely.Point(0, 250)          # 240 m in a straight line, 4 km on foot
    along = shapely.Point(280, 0)           # 280 m along the facility's own street
    assert fac.geometry.iloc[0].distance(across) < 300
    assert not poly.contains(across)
    assert poly.contains(along)
    assert not poly.contains(shapely.Point(400, 0))
    assert res.catchments.index.equals(fac.index)
    assert len(res.report) == 0


def test_catchment_reaches_round_a_corner_by_the_walked_distance():
    roads = gpd.GeoDataFrame(crs=4547, geometry=[
        shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(100, 0), (100, 500)])])
    fac = gpd.GeoDataFrame(crs=4547, geometry=[shapely.Point(0, 0)])
    poly = catchments(fac, WalkNetwork.from_roads(roads), distance_m=300,
                      buffer_m=5, simplify_m=0).catchments.geometry.iloc[0]
    assert poly.contains(shapely.Point(100, 190))       # 100 + 190 = 290 m walked
    assert not poly.contains(shapely.Point(100, 215))   # 315 m walked


def test_facility_far_from_any_street_gets_no_catchment_and_a_finding():
    roads = _two_streets()
    fac = gpd.GeoDataFrame({"facility_id": ["F1", "F2"]}, crs=4547, index=[7, 3],
                           geometry=[shapely.Point(0, 10), shapely.Point(0, 5000)])
    res = catchments(fac, WalkNetwork.from_roads(roads), distance_m=[300, 300])
    assert list(res.catchments.index) == [7, 3]
    assert res.catchments.geometry.is_empty.tolist() == [False, True]
    assert [f.code for f in res.report] == ["catchment_not_snapped"]


def test_edge_stretches_cut_at_offsets_and_keep_inner_vertices():
    net = build_network(shapely.linestrings([[(0, 0), (10, 0), (10, 10), (20, 10)]]))
    out = edge_stretches(net, [0, 0, 0], [0, 12, 3], [30, 25, 3])
    assert out[0].equals(shapely.LineString([(0, 0), (10, 0), (10, 10), (20, 10)]))
    assert out[1].equals(shapely.LineString([(10, 2), (10, 10), (15, 10)]))
    assert out[2] is None
    assert np.isclose(out[1].length, 13)



def _grid_streets(n: int = 8, step: float = 150.0) -> gpd.GeoDataFrame:
    """An n x n street grid, *step* metres apart, with one street missing (a block)."""
    lines = [shapely.LineString([(0, i * step), ((n - 1) * step, i * step)]) for i in range(n)]
    lines += [shapely.LineString([(i * step, 0), (i * step, (n - 1) * step)])
              for i in range(n) if i != 3]
    return gpd.GeoDataFrame(crs=4547, geometry=lines)


def test_service_area_is_the_union_of_the_facilities_catchments():
    rng = np.random.default_rng(4)
    net = WalkNetwork.from_roads(_grid_streets())
    xy = rng.uniform(0, 1050, size=(12, 2))
    fac = gpd.GeoDataFrame({"facility_type": ["a"] * 7 + ["b"] * 5}, crs=4547,
                           geometry=shapely.points(xy))
    limit = np.where(fac["facility_type"] == "a", 300.0, 500.0)
    limit[2] = 180.0  # one facility of "a" with a shorter standard
    each = catchments(fac, net, distance_m=limit, buffer_m=20, simplify_m=0).catchments
    res = service_areas(fac, net, distance_m=limit, by="facility_type", buffer_m=20,
                        simplify_m=0)
    areas = res.catchments
    assert list(areas.index) == ["a", "b"]
    assert areas["facilities"].tolist() == [7, 5]
    assert areas["distance_m"].tolist() == [300.0, 500.0]
    for key in ("a", "b"):
        union = shapely.union_all(each.geometry[fac["facility_type"] == key].to_numpy())
        got = areas.geometry.loc[key]
        assert got.symmetric_difference(union).area < 1e-6 * union.area


def test_service_area_keeps_the_river_and_reports_facilities_off_the_streets():
    fac = gpd.GeoDataFrame({"facility_type": ["k", "k"]}, crs=4547,
                           geometry=[shapely.Point(0, 10), shapely.Point(0, 5000)])
    res = service_areas(fac, WalkNetwork.from_roads(_two_streets()), distance_m=300,
                        by="facility_type")
    area = res.catchments.geometry.loc["k"]
    assert area.contains(shapely.Point(280, 0))
    assert not area.contains(shapely.Point(0, 250))  # across the river
    assert res.catchments["facilities"].tolist() == [1]
    assert [f.code for f in res.report] == ["catchment_not_snapped"]


def test_service_area_of_no_facility_on_the_streets_is_an_empty_table():
    fac = gpd.GeoDataFrame({"facility_type": ["k"]}, crs=4547,
                           geometry=[shapely.Point(0, 5000)])
    res = service_areas(fac, WalkNetwork.from_roads(_two_streets()), distance_m=300,
                        by="facility_type")
    assert len(res.catchments) == 0
    assert res.catchments.crs == fac.crs

# ---------------------------------------------------------------- on the gaps map

def _river_programme() -> dict[str, object]:
    """Lon/lat programme: a kindergarten on the south street; one compound across."""
    m_lon, m_lat = 1 / 90_000, 1 / 111_000
    roads = _two_streets(crs=4326)
    roads["geometry"] = shapely.transform(
        roads.geometry.to_numpy(), lambda xy: np.column_stack([X0 + xy[:, 0] * m_lon,
                                                                Y0 + xy[:, 1] * m_lat]))
    roads["name"] = ["南岸路", "北岸路", "西桥路", "东桥路"]

    def box(x: float, y: float) -> shapely.Polygon:
        return shapely.box(X0 + (x - 15) * m_lon, Y0 + (y - 15) * m_lat,
                           X0 + (x + 15) * m_lon, Y0 + (y + 15) * m_lat)

    compounds = gpd.GeoDataFrame({
        "compound_id": ["C1", "C2"], "name": ["南岸小区", "北岸小区"],
        "county": ["原州区"] * 2, "district": ["南岸", "北岸"],
        "households": pd.array([100, 100], dtype="Int64"), "status": ["planned"] * 2,
    }, crs=4326, geometry=[box(150, -25), box(0, 275)])
    facilities = gpd.GeoDataFrame({
        "facility_id": ["F1"], "facility_type": ["kindergarten"], "name": ["南岸幼儿园"],
    }, crs=4326, geometry=[shapely.Point(X0, Y0 + 10 * m_lat)])
    return {"compounds": compounds, "facilities": facilities, "roads": roads,
            "programme": {"name": "河两岸", "year": 2023}}


def test_gaps_map_of_a_type_whose_facilities_are_all_off_the_streets_has_no_area() -> None:
    prog = _river_programme()
    fac = prog["facilities"]
    assert isinstance(fac, gpd.GeoDataFrame)
    fac["geometry"] = [shapely.Point(X0 + 0.05, Y0 + 0.05)]  # ~5 km from any street
    m = maps.gaps_map(prog)
    assert m.row_counts["service_kindergarten"] == 0
    assert m.row_counts["facilities_kindergarten"] == 1  # the facility itself is drawn


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from browser import offline_browser

    with offline_browser() as context:
        yield context


@pytest.mark.browser
def test_gaps_map_draws_walking_catchments_and_the_compound_across_the_river_is_outside(
        browser: Any, tmp_path: Path) -> None:
    path = maps.save_map(maps.gaps_map(_river_programme()), tmp_path / "gaps.html")
    page = open_offline(browser, path)
    try:
        got = page.page.evaluate("""() => {
            const svc = gisplan.layers["service_kindergarten"];
            const inside = (pt, ring) => {   // ray casting on [lon, lat] rings
              let c = false;
              for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
                const [xi, yi] = ring[i], [xj, yj] = ring[j];
                if ((yi > pt[1]) !== (yj > pt[1]) &&
                    pt[0] < (xj - xi) * (pt[1] - yi) / (yj - yi) + xi) c = !c;
              }
              return c;
            };
            const polys = [];
            svc.layer.eachLayer(l => {
              const g = l.feature.geometry;
              (g.type === "Polygon" ? [g.coordinates] : g.coordinates)
                .forEach(p => polys.push(p[0]));
            });
            const fac = gisplan.layers["facilities_kindergarten"].layer.getLayers()[0]
              .getLatLng();
            const out = {};
            gisplan.layers["compounds"].layer.eachLayer(l => {
              const c = l.getBounds().getCenter();
              out[l.feature.properties.name] = {
                inCatchment: polys.some(r => inside([c.lng, c.lat], r)),
                straight: l._map.distance(c, fac),
                fill: l.options.fillColor};
            });
            const circles = svc.layer.getLayers().filter(l => l instanceof L.Circle).length;
            return {out, circles, on: l => 0};
        }""")
        north, south = got["out"]["北岸小区"], got["out"]["南岸小区"]
        assert got["circles"] == 0
        assert north["straight"] < 300 and not north["inCatchment"]
        assert north["fill"].lower() == maps.UNCOVERED.lower()
        assert south["inCatchment"] and south["fill"].lower() == maps.COVERED.lower()
        assert page.problems() == []
        page.screenshot("gaps_walking_catchment")
    finally:
        page.page.close()
