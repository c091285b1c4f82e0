"""Synthetic city generator: layout, attributes, networks, determinism, speed."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import spearmanr

from gisplan._errors import ConstraintError
from gisplan.schema import layer_schema, vocab
from gisplan.synth import DEFAULT_CENTER, synth_city, synth_streets

LAYERS = ("compounds", "districts", "utilities", "facilities", "roads", "gates")


@pytest.fixture(scope="module")
def city() -> dict[str, gpd.GeoDataFrame]:
    return synth_city(compounds=1500, seed=7)


@pytest.fixture(scope="module")
def metric(city: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    crs = city["compounds"].estimate_utm_crs()
    return {k: v.to_crs(crs) for k, v in city.items()}


def test_returns_every_canonical_layer_with_schema_columns(city):
    assert set(city) == set(LAYERS)
    for name, gdf in city.items():
        assert gdf.crs.to_epsg() == 4326
        assert set(layer_schema(name).column_names) <= set(gdf.columns), name


def test_compound_count_and_unique_ids(city):
    comp = city["compounds"]
    assert len(comp) == 1500
    assert comp["compound_id"].is_unique
    assert comp["name"].is_unique


def test_geometry_valid_and_of_schema_type(city):
    for name, gdf in city.items():
        assert gdf.is_valid.all(), name
        assert set(gdf.geom_type) <= set(layer_schema(name).geometry), name


def test_same_seed_same_layers():
    a = synth_city(compounds=300, seed=3)
    b = synth_city(compounds=300, seed=3)
    for name in LAYERS:
        assert_geodataframe_equal(a[name], b[name], check_less_precise=False)


def test_other_seed_other_city():
    a = synth_city(compounds=300, seed=3)["compounds"]
    b = synth_city(compounds=300, seed=4)["compounds"]
    assert not a.geometry.geom_equals(b.geometry).all()


def test_located_at_the_given_centre():
    comp = synth_city(compounds=200, seed=1, center=(113.82, 34.02))["compounds"]
    c = comp.geometry.union_all().centroid
    assert abs(c.x - 113.82) < 0.01
    assert abs(c.y - 34.02) < 0.01


def test_roads_are_connected(city):
    r = city["roads"]
    n = int(max(r["from_node"].max(), r["to_node"].max())) + 1
    g = coo_matrix((np.ones(len(r)), (r["from_node"], r["to_node"])), shape=(n, n))
    ncomp, _ = connected_components(g, directed=False)
    assert ncomp == 1


def test_roads_are_noded_at_every_intersection(city):
    geoms = city["roads"].geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    crossing = tree.query(geoms, predicate="crosses")
    assert crossing.shape[1] == 0
    # every line end is shared by another line (no free ends in a grid, except corners)
    ends = shapely.get_coordinates(shapely.boundary(geoms)).round(9)
    _, counts = np.unique(ends, axis=0, return_counts=True)
    assert (counts >= 2).all()


def test_road_classes_include_arterials_and_local_streets(city):
    classes = set(city["roads"]["road_class"])
    assert {"arterial", "local"} <= classes
    assert classes <= set(vocab("road_class"))
    assert city["roads"]["walkable"].all()


def test_compounds_do_not_touch_roads(metric):
    comp = metric["compounds"].geometry.to_numpy()
    roads = metric["roads"].geometry.to_numpy()
    hits = shapely.STRtree(roads).query(comp, predicate="dwithin", distance=4.0)
    assert hits.shape[1] == 0


def test_compound_spacing_touching_near_and_across_street(metric):
    g = metric["compounds"].geometry.to_numpy()
    i, j = shapely.STRtree(g).query(g, predicate="dwithin", distance=40.0)
    keep = i < j
    d = shapely.distance(g[i[keep]], g[j[keep]])
    assert (d < 1e-6).any(), "some compounds in a block touch"
    assert ((d > 1.5) & (d < 9)).any(), "some are a few metres apart"
    assert ((d >= 10) & (d <= 22)).sum() > 100, "across a local street: ~10-20 m"


def test_compounds_lie_inside_their_pianqu(city):
    comp = city["compounds"]
    pq = city["districts"][city["districts"]["level"] == "pianqu"]
    joined = gpd.sjoin(comp, pq[["name", "geometry"]], predicate="within", how="left")
    assert joined.index.is_unique
    assert (joined["name_right"] == joined["district"]).all()


def test_district_levels_nest(city):
    d = city["districts"]
    assert set(d["level"]) == {"pianqu", "street", "county"}
    comp = city["compounds"]
    assert set(comp["district"]) == set(d.loc[d["level"] == "pianqu", "name"])
    assert set(comp["county"]) == set(d.loc[d["level"] == "county", "name"])


def test_build_years_mostly_before_2001(city):
    y = city["compounds"]["built_year"].to_numpy(dtype=int)
    assert (y <= 2000).mean() > 0.75
    assert ((y >= 2001) & (y <= 2005)).any()
    assert (y > 2005).any()
    assert y.min() >= 1975


def test_households_and_floor_area_follow_compound_area(metric):
    comp = metric["compounds"]
    area = comp.geometry.area
    assert spearmanr(area, comp["floor_area_m2"]).statistic > 0.6
    assert spearmanr(comp["floor_area_m2"], comp["households"]).statistic > 0.8
    per_household = comp["floor_area_m2"] / comp["households"]
    assert per_household.between(40, 110).all()
    assert (comp["buildings"] >= 1).all()


def test_categories_status_and_prior_funding(city):
    comp = city["compounds"]
    assert (comp["categories"].str.split(";").str[0] == "basic").all()
    assert comp["categories"].str.contains("improvement").any()
    assert comp["categories"].str.contains("upgrade").any()
    assert (comp["status"] == "demolition").sum() >= 1
    assert comp["prior_central_funding"].sum() >= 1


def test_planned_items_match_categories_and_some_miss_required(city):
    comp = city["compounds"]
    cat_of = {k: t.extra["category"] for k, t in vocab("item").items()}
    items = comp["planned_items"].str.split(";")
    cats = comp["categories"].str.split(";")
    assert all(cat_of[i] in c for it, c in zip(items, cats, strict=True) for i in it)
    no_waste = ~items.map(lambda it: "waste_sorting" in it)
    assert 0.02 < no_waste.mean() < 0.5


def test_all_six_networks_with_owners_years_materials(city):
    u = city["utilities"]
    assert set(u["network"]) == set(vocab("network"))
    assert u["owner"].notna().all()
    assert u["material"].notna().all()
    assert u["install_year"].between(1970, 2020).all()
    telecom_owners = set(u.loc[u["network"] == "telecom", "owner"])
    assert len(telecom_owners) >= 3


def test_some_service_lines_cross_several_compounds(city):
    u = city["utilities"]
    service = u[u["kind"] == "service"].geometry.to_numpy()
    comp = city["compounds"].geometry.to_numpy()
    line_idx, _ = shapely.STRtree(comp).query(service, predicate="crosses")
    crossed = np.bincount(line_idx, minlength=len(service))
    assert (crossed >= 2).sum() >= 10


def test_trunks_run_along_streets(metric):
    u = metric["utilities"]
    trunks = u[u["kind"] == "trunk"].geometry
    streets = metric["roads"].geometry.union_all()
    assert (trunks.distance(streets) < 5.0).all()


def test_facility_types_and_gaps(city):
    f = city["facilities"]
    from gisplan.standards import load_standard

    assert set(f["facility_type"]) == set(load_standard().types)
    pq = city["districts"][city["districts"]["level"] == "pianqu"]
    j = gpd.sjoin(f, pq[["name", "geometry"]], predicate="within")
    types_per_pianqu = j.groupby("name_right")["facility_type"].nunique()
    assert (types_per_pianqu < 15).any(), "some 片区 lack some facility types"


def test_facility_types_can_be_chosen():
    f = synth_city(compounds=200, seed=2, facility_types=["kindergarten", "bus_stop"])["facilities"]
    assert set(f["facility_type"]) == {"kindergarten", "bus_stop"}


def test_unknown_facility_type_is_an_error():
    with pytest.raises(ConstraintError, match="unknown facility types"):
        synth_city(compounds=50, facility_types=["spaceport"])


def test_gates_lie_on_their_compound_edge_facing_a_street(metric):
    gates = metric["gates"]
    comp = metric["compounds"].set_index("compound_id")
    own = comp.loc[gates["compound_id"], "geometry"].to_numpy()
    assert (shapely.distance(gates.geometry.to_numpy(), shapely.boundary(own)) < 0.01).all()
    assert set(gates["compound_id"]) == set(comp.index)
    roads = metric["roads"].geometry.to_numpy()
    d = shapely.STRtree(roads).query_nearest(gates.geometry.to_numpy(), return_distance=True)[1]
    assert d.max() < 30.0


def test_synth_streets_alone():
    r = synth_streets(nodes=400, seed=5)
    assert len(r) == 2 * 20 * 19
    assert r["road_id"].is_unique
    assert r.is_valid.all()


def test_too_few_road_nodes_is_an_error():
    with pytest.raises(ConstraintError, match="road_nodes"):
        synth_city(compounds=10_000, road_nodes=100)


def test_twenty_thousand_compounds():
    # timing is measured in benchmarks/, not here
    c = synth_city(compounds=20_000, seed=0)
    assert len(c["compounds"]) == 20_000
    assert c["compounds"]["compound_id"].is_unique


def test_cli_writes_a_synthetic_store(tmp_path: Path):
    from gisplan.cli import cli
    from gisplan.store import Project

    out = tmp_path / "city.gpkg"
    res = CliRunner().invoke(cli, ["synth", "--compounds", "120", "--seed", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    p = Project.open(out)
    assert p.meta["synthetic"] is True
    assert len(p.read("compounds")) == 120
    assert {"roads", "gates", "utilities", "facilities", "districts"} <= set(p.layers())


def test_cli_rejects_a_bad_centre(tmp_path: Path):
    from gisplan.cli import cli

    res = CliRunner().invoke(cli, ["synth", "--compounds", "10", "--out", str(tmp_path / "x.gpkg"),
                                   "--center", "36.0"])
    assert res.exit_code != 0
    assert "LON,LAT" in res.output


# ---------------------------------------------------------------- contiguous 片区 layout

COMPACT = {"layout": "contiguous", "setback_m": (1.0, 3.0), "jitter_m": 1.0,
           "pianqu_per_street": 1, "arterial_every": 3}


def _metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gdf.to_crs(gdf.estimate_utm_crs())


def _components_within(geoms: np.ndarray, gap_m: float) -> int:
    i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=gap_m)
    g = coo_matrix((np.ones(i.size), (i, j)), shape=(geoms.size, geoms.size))
    return int(connected_components(g, directed=False)[0])


@pytest.fixture(scope="module")
def compact() -> dict[str, gpd.GeoDataFrame]:
    return {k: _metric(v) for k, v in synth_city(compounds=400, seed=5, **COMPACT).items()}


def test_default_layout_is_pinned():
    # the benchmarks and other tests rely on the default city staying as it is
    c = synth_city(compounds=300, seed=3)
    assert c["compounds"]["households"].sum() == 66700
    assert (len(c["roads"]), len(c["utilities"]), len(c["facilities"])) == (760, 382, 519)
    assert np.allclose(c["compounds"].total_bounds,
                       [106.262043, 35.994323, 106.298924, 36.016217], atol=2e-6)


def test_explicit_defaults_give_the_same_city():
    a = synth_city(compounds=200, seed=4)
    b = synth_city(compounds=200, seed=4, layout="ragged", block_plan=None, setback_m=(2.0, 6.0))
    for name in LAYERS:
        assert_geodataframe_equal(a[name], b[name])


def test_contiguous_pianqu_are_one_piece_at_the_default_gap(compact):
    comp = compact["compounds"]
    pieces = comp.groupby("district").geometry.agg(
        lambda g: _components_within(g.to_numpy(), 20.0))
    assert len(pieces) >= 4
    assert (pieces == 1).all(), pieces[pieces > 1]


def test_ragged_pianqu_fall_apart_at_the_default_gap():
    comp = _metric(synth_city(compounds=400, seed=5, pianqu_per_street=1,
                              arterial_every=3)["compounds"])
    pieces = comp.groupby("district").geometry.agg(
        lambda g: _components_within(g.to_numpy(), 20.0))
    assert (pieces > 1).any()


def test_contiguous_arterials_run_between_pianqu_not_through_them(compact):
    comp, roads = compact["compounds"], compact["roads"]
    hulls = comp.dissolve("district").geometry.convex_hull.to_numpy()
    arterial = roads.loc[roads["road_class"] != "local"].geometry.to_numpy()
    assert not shapely.STRtree(arterial).query(hulls, predicate="intersects").size
    local = roads.loc[roads["road_class"] == "local"].geometry.to_numpy()
    assert shapely.STRtree(local).query(hulls, predicate="intersects").size


def test_setbacks_set_the_width_across_a_local_street():
    city = synth_city(compounds=200, seed=6, layout="contiguous", setback_m=(1.0, 3.0),
                      jitter_m=0.0, pianqu_per_street=1, arterial_every=3)
    lon, lat = DEFAULT_CENTER  # the generator's own plane: compounds are axis-aligned boxes
    comp = city["compounds"].to_crs(
        f"+proj=tmerc +lat_0={lat} +lon_0={lon} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m")
    g = comp.geometry.to_numpy()
    b = shapely.bounds(g)
    i, j = shapely.STRtree(g).query(g, predicate="dwithin", distance=40.0)
    district = comp["district"].to_numpy()
    keep = (i < j) & (district[i] == district[j])
    i, j = i[keep], j[keep]
    gx = np.maximum(b[i, 0], b[j, 0]) - np.minimum(b[i, 2], b[j, 2])
    gy = np.maximum(b[i, 1], b[j, 1]) - np.minimum(b[i, 3], b[j, 3])
    facing = (np.minimum(gx, gy) < -1.0) & (np.maximum(gx, gy) > 9.0)  # across a street
    gap = np.maximum(gx, gy)[facing]
    assert gap.size > 50
    # 8 m carriageway + two setbacks of 1-3 m
    assert gap.min() > 9.99 and gap.max() < 14.01


def test_block_plan_places_pianqu_in_order_around_the_centre():
    plan = [[4, 3, 4, 3], [3, 2, 2, 2], [1, 1, 1]]
    comp = _metric(synth_city(compounds=26, seed=2, block_plan=plan, setback_m=(1.0, 3.0),
                              jitter_m=1.0, mean_households=120, pianqu_per_street=1,
                              arterial_every=3)["compounds"])
    groups = np.repeat([0, 1, 2], [14, 9, 3])
    assert comp.groupby(groups)["district"].nunique().tolist() == [1, 1, 1]
    assert comp["district"].nunique() == 3
    c = shapely.get_coordinates(comp.geometry.centroid.to_numpy())
    mid = c.mean(axis=0)
    west = c[:, 0] < mid[0] + 1
    south = c[:, 1] < c[groups == 2, 1].min()
    assert south[groups == 0].all() and south[groups == 1].all()  # SW and SE below NW
    assert c[groups == 0, 0].max() < c[groups == 1, 0].min()  # SW west of SE
    assert west[groups == 2].all() or c[groups == 2, 0].max() < c[groups == 1, 0].min()
    for g in range(3):
        assert _components_within(comp.geometry.to_numpy()[groups == g], 20.0) == 1


@pytest.mark.parametrize(("plan", "n", "match"), [
    ([[2, 2]], 5, "holds 4 compounds"),
    ([[1] * 10], 10, "only 9"),
    ([[5]], 5, "1–4"),
    ([[]], 1, "at least one block"),
])
def test_a_block_plan_that_does_not_fit_is_an_error(plan, n, match):
    with pytest.raises(ConstraintError, match=match):
        synth_city(compounds=n, block_plan=plan, arterial_every=3)


def test_unknown_layout_is_an_error():
    with pytest.raises(ConstraintError, match="layout"):
        synth_city(compounds=10, layout="radial")


def test_block_fill_leaves_some_blocks_of_a_pianqu_to_other_uses():
    kw = {**COMPACT, "jitter_m": 0.0}

    def blocks_per_pianqu(fill: float) -> pd.Series:
        comp = _metric(synth_city(compounds=300, seed=8, block_fill=fill, **kw)["compounds"])
        # compounds of one block are < 9 m apart, across a street >= 10 m
        return comp.groupby("district").geometry.agg(
            lambda g: _components_within(g.to_numpy(), 9.0))

    full, sparse = blocks_per_pianqu(1.0), blocks_per_pianqu(0.75)
    assert full.max() == 9
    assert sparse.max() == 7  # round(0.75 * 9) blocks of each 3 x 3 片区
    assert len(sparse) > len(full)


@pytest.mark.parametrize("fill", [0.0, 1.5])
def test_block_fill_outside_zero_one_is_an_error(fill):
    with pytest.raises(ConstraintError, match="block_fill"):
        synth_city(compounds=10, layout="contiguous", block_fill=fill)


# --------------------------------------------------- a national programme's density options


@pytest.fixture(scope="module")
def dense() -> dict[str, gpd.GeoDataFrame]:
    return synth_city(compounds=300, seed=3, courtyard_pipes=True, pipe_segment_m=50.0,
                      facility_density=2.0)


def _metres(frame: gpd.GeoDataFrame) -> gpd.GeoSeries:
    return frame.geometry.to_crs(frame.estimate_utm_crs())


def test_pipe_segments_are_at_most_the_segment_length_and_keep_the_length():
    whole = synth_city(compounds=300, seed=3)["utilities"]
    cut = synth_city(compounds=300, seed=3, pipe_segment_m=50.0)["utilities"]
    lengths = _metres(cut).length
    assert len(cut) > 3 * len(whole)
    assert lengths.max() <= 50.0 + 0.1 and lengths.min() > 0
    assert (shapely.get_num_coordinates(cut.geometry.to_numpy()) == 2).all()
    by_net = lambda f: _metres(f).length.groupby(f["network"].to_numpy()).sum()  # noqa: E731
    pd.testing.assert_series_equal(by_net(cut), by_net(whole), rtol=1e-3)
    assert cut["utility_id"].is_unique
    # a segment keeps its line's owner, year, material and diameter: same totals by owner
    owners = lambda f: f.groupby("owner")["install_year"].agg(["min", "max"])  # noqa: E731
    pd.testing.assert_frame_equal(owners(cut), owners(whole))


def test_courtyard_pipes_reach_every_compound_from_the_street():
    whole = synth_city(compounds=300, seed=3, courtyard_pipes=True)
    u, comp = whole["utilities"], whole["compounds"]
    yard = u[u["kind"] == "courtyard"]
    assert set(yard["network"]) == set(vocab("network"))
    water = yard[yard["network"] == "water_supply"].geometry.to_numpy()
    cidx, _ = shapely.STRtree(water).query(comp.geometry.to_numpy(), predicate="intersects")
    assert np.unique(cidx).size == len(comp)  # every compound has its water pipes
    roads = whole["roads"].geometry.union_all()
    ends = shapely.get_point(water, 0)
    assert shapely.within(ends, comp.geometry.union_all()).sum() == 0  # from the street...
    assert (gpd.GeoSeries(ends, crs=u.crs).to_crs(comp.estimate_utm_crs())
            .distance(gpd.GeoSeries([roads], crs=u.crs).to_crs(comp.estimate_utm_crs())
                      .iloc[0]) < 30).all()  # ... near its centre line


def test_facility_density_scales_the_facilities(dense):
    base = synth_city(compounds=300, seed=3)["facilities"]
    assert 1.6 < len(dense["facilities"]) / len(base) < 2.4


def test_a_bad_segment_length_is_an_error():
    with pytest.raises(ConstraintError, match="pipe_segment_m"):
        synth_city(compounds=50, pipe_segment_m=0)
