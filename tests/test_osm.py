"""import-osm on the extracts that ship with pyrosm (nothing is downloaded)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

pyrosm = pytest.importorskip("pyrosm")

from gisplan.crs import analysis_crs  # noqa: E402
from gisplan.network import build_network  # noqa: E402
from gisplan.osm import (  # noqa: E402
    compounds_from_osm,
    facilities_from_osm,
    import_osm,
    load_mapping,
    roads_from_osm,
    split_at_shared_vertices,
)
from gisplan.store import Project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HELSINKI = pyrosm.get_data("helsinki_pbf")
TEST_PBF = pyrosm.get_data("test_pbf")


def gisplan(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", "from gisplan.cli import main; main()",
                           *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def helsinki():
    return import_osm(HELSINKI)


def main_component_share(roads: gpd.GeoDataFrame, crs) -> float:
    net = build_network(roads[roads["walkable"]].to_crs(crs).geometry.to_numpy())
    _, label = net.components
    length = np.bincount(label[net.edge_u], weights=net.edge_len)
    return float(length.max() / length.sum())


# ---------------------------------------------------------------- the whole pipeline


@pytest.mark.slow
def test_helsinki_pipeline_through_the_cli(tmp_path):
    store = tmp_path / "helsinki.gpkg"
    out = gisplan("import-osm", store, HELSINKI, "--name", "Helsinki OSM", "--city",
                  "Helsinki", "--unmapped", tmp_path / "unmapped.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "compounds 小区: read 读入 25 = kept 保留 25" in out.stdout
    assert "facilities 设施: read 读入 1738 = kept 保留 180 + not mapped 未对应 1558" \
        in out.stdout
    p = Project.open(store)
    assert {len(p.read(k)) for k in ("compounds",)} == {25}
    assert len(p.read("facilities")) == 180
    assert len(p.read("utilities")) == 1
    assert p.meta["attribution"] == "© OpenStreetMap contributors (ODbL)"
    assert p.meta["sources"][0]["license"] == "ODbL-1.0"
    assert p.meta["name"] == "Helsinki OSM" and p.meta["city"] == "Helsinki"
    unmapped = pd.read_csv(tmp_path / "unmapped.csv")
    assert unmapped.query("tag == 'amenity=restaurant'")["count"].item() == 214

    for cmd in (["check"], ["join"], ["bundle"], ["coverage"],
                ["site", "--type", "kindergarten"], ["map"],
                ["report", "--out", tmp_path / "report.xlsx"]):
        res = gisplan(cmd[0], store, *cmd[1:], cwd=tmp_path)
        assert res.returncode == 0, (cmd, res.stdout[-2000:], res.stderr[-2000:])
    assert "rows in = rows out 行数一致: yes" in gisplan("check", store, cwd=tmp_path).stdout
    layers = set(Project.open(store).layers())
    assert {"coverage", "bundles", "sites", "join_facilities"} <= layers
    assert (tmp_path / "report.xlsx").stat().st_size > 0
    assert list((tmp_path / "maps").glob("*.html"))


# ---------------------------------------------------------------- layers, counted


def test_helsinki_counts_per_layer(helsinki):
    counts = {k: len(v) for k, v in helsinki.layers.items()}
    assert counts["compounds"] == 25
    assert counts["facilities"] == 180
    assert counts["utilities"] == 1
    assert "districts" not in counts  # no admin boundary in this extract
    c = helsinki.report.counts
    assert c["roads"].rows_in == 2577 and c["roads"].rows_out == 2518
    assert helsinki.unmapped.query("layer == 'roads'")["count"].sum() == 2577 - 2518


def test_rows_in_equal_rows_out_plus_what_is_left_out(helsinki):
    left = helsinki.unmapped.groupby("layer")["count"].sum()
    for layer, count in helsinki.report.counts.items():
        assert count.rows_in == count.rows_out + int(left.get(layer, 0)), layer
    roads = helsinki.layers["roads"]
    merged = [f.value.split(", ") for f in helsinki.report.by_code("way_merged")]
    merged_ids = {i for ids in merged for i in ids}
    assert not merged_ids & set(roads["osm_id"])  # named: they lie under other ways
    assert roads["osm_id"].nunique() + len(merged_ids) == \
        helsinki.report.counts["roads"].rows_out


def test_facility_types_found(helsinki):
    found = helsinki.layers["facilities"]["facility_type"].value_counts().to_dict()
    assert found == {"bus_stop": 94, "convenience_store": 24, "waste_collection": 16,
                     "sports_ground": 12, "market": 7, "health_station": 7, "pharmacy": 6,
                     "ev_charging": 4, "parcel_locker": 3, "community_service": 3,
                     "primary_school": 3, "elderly_daycare": 1}
    assert (helsinki.layers["facilities"].geom_type == "Point").all()


def test_roads_are_noded_into_one_main_network(helsinki):
    roads = helsinki.layers["roads"]
    crs = analysis_crs(helsinki.layers["compounds"])
    assert main_component_share(roads, crs) > 0.9
    assert len(roads) > helsinki.report.counts["roads"].rows_out  # ways were split
    assert roads["road_id"].is_unique


def test_unnoded_ways_split_into_many_parts(helsinki):
    """Without the noding, the ways are a network of many small parts (the issue)."""
    raw = pyrosm.OSM(HELSINKI).get_data_by_custom_criteria({"highway": ["footway",
                                                                        "residential",
                                                                        "primary"]},
                                                           keep_nodes=False)
    crs = analysis_crs(helsinki.layers["compounds"])
    net = build_network(raw.to_crs(crs).geometry.to_numpy())
    assert net.components[0] > 50


def test_arterials_are_trunk_primary_secondary(helsinki):
    roads = helsinki.layers["roads"]
    by_highway = roads.groupby("highway")["road_class"].first()
    assert by_highway["primary"] == "arterial"
    assert by_highway["secondary"] == "arterial"
    assert by_highway["tertiary"] == "secondary"
    assert by_highway["unclassified"] == "local"
    assert by_highway["footway"] == "path"


def test_compounds_say_what_osm_does_not_map(helsinki):
    c = helsinki.layers["compounds"]
    flags = c["flags"].str.split(";")
    assert flags.map(lambda f: "households_missing" in f).all()
    est = flags.map(lambda f: "floor_area_estimated" in f)
    assert est.sum() == 14 and c.loc[est, "floor_area_m2"].gt(0).all()
    assert c.loc[~est, "floor_area_m2"].isna().all()
    assert c["buildings"].sum() > 0
    assert c["built_year"].notna().sum() == 7


def test_test_pbf_repairs_broken_outlines_and_names_the_lost_one():
    out = import_osm(TEST_PBF)
    rep = out.report
    repaired = rep.by_code("geometry_repaired")
    assert len(repaired) == 4
    assert all(shapely.is_valid(out.layers["compounds"].geometry))
    assert [f.value for f in rep.by_code("geometry_unusable")] == ["w369836477"]
    assert rep.counts["compounds"].rows_in == 25 and rep.counts["compounds"].rows_out == 24
    assert (out.layers["compounds"]["flags"].str.contains("geometry_repaired")).sum() == 4


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("case", ["corrupt", "truncated", "bbox_outside", "no_residential"])
def test_bad_input_is_a_message_and_exit_2(tmp_path, case):
    extract = tmp_path / "x.osm.pbf"
    args: list[object] = []
    if case == "corrupt":
        extract.write_text("not a pbf")
        expect = "not a readable OpenStreetMap PBF extract"
    elif case == "truncated":
        extract.write_bytes(Path(TEST_PBF).read_bytes()[:50_000])
        expect = "not a readable OpenStreetMap PBF extract"
    elif case == "bbox_outside":
        extract = Path(HELSINKI)
        args = ["--bbox", "106.2,35.9,106.3,36.1"]
        expect = "no OSM data inside the bounding box"
    else:
        extract = Path(HELSINKI)
        args = ["--bbox", "24.9450,60.1670,24.9500,60.1680"]
        expect = "no residential areas"
    out = gisplan("import-osm", tmp_path / "p.gpkg", extract, *args, cwd=tmp_path)
    assert out.returncode == 2
    assert expect in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "p.gpkg").exists()


def test_existing_store_is_not_overwritten_silently(tmp_path):
    store = tmp_path / "p.gpkg"
    store.write_bytes(b"")
    out = gisplan("import-osm", store, TEST_PBF, cwd=tmp_path)
    assert out.returncode == 2 and "--overwrite" in out.stderr


# ---------------------------------------------------------------- the parts


def test_split_at_shared_vertices_keeps_bridges_apart():
    street = LineString([(0, 0), (5, 0), (10, 0)])
    crossing = LineString([(5, -5), (5, 0), (5, 5)])       # shares node (5, 0)
    bridge = LineString([(7, -5), (7, 5)])                 # crosses, shares none
    parts, src = split_at_shared_vertices([street, crossing, bridge])
    assert src.tolist() == [0, 0, 1, 1, 2]
    assert sum(p.length for p in parts) == pytest.approx(30.0)


def test_roads_node_at_grade_crossings_but_not_bridges():
    ways = gpd.GeoDataFrame(
        {"id": [1, 2, 3], "osm_type": ["way"] * 3,
         "highway": ["residential", "footway", "primary"], "bridge": [None, None, "yes"]},
        geometry=[LineString([(0, 0), (10, 0)]), LineString([(5, -5), (5, 5)]),
                  LineString([(7, -5), (7, 5)])], crs=3857)
    roads = roads_from_osm(ways).frame
    assert roads.groupby("osm_id").size().to_dict() == {"w1": 2, "w2": 2, "w3": 1}
    assert roads.set_index("osm_id")["road_class"].to_dict()["w3"] == "arterial"


def test_footway_with_foot_no_is_not_walkable():
    ways = gpd.GeoDataFrame({"id": [1, 2], "osm_type": ["way"] * 2,
                             "highway": ["footway", "motorway"], "foot": ["no", None]},
                            geometry=[LineString([(0, 0), (1, 0)]),
                                      LineString([(0, 1), (1, 1)])], crs=4326)
    assert not roads_from_osm(ways).frame["walkable"].any()


def test_facility_mapping_by_name_and_unmapped_counted():
    pois = gpd.GeoDataFrame(
        {"id": [1, 2, 3, 4], "osm_type": ["node", "way", "node", "node"],
         "amenity": ["school", "school", "bench", "bench"],
         "name": ["第三中学", "东关小学", None, None]},
        geometry=[shapely.Point(0, 0), box(1, 1, 2, 2), shapely.Point(3, 3),
                  shapely.Point(4, 4)], crs=4326)
    res = facilities_from_osm(pois)
    assert res.frame.set_index("facility_id")["facility_type"].to_dict() == {
        "n1": "middle_school", "w2": "primary_school"}
    assert (res.frame.geom_type == "Point").all()
    assert res.unmapped[["tag", "count"]].values.tolist() == [["amenity=bench", 2]]


def test_unclosed_residential_way_is_closed_and_flagged():
    ring = [(106.0, 36.0), (106.01, 36.0), (106.01, 36.01), (106.0, 36.01)]
    res = gpd.GeoDataFrame({"id": [1, 2], "osm_type": ["way", "way"],
                            "landuse": ["residential"] * 2, "name": ["甲", "乙"]},
                           geometry=[LineString(ring), Polygon([(106.02, 36.0),
                                                                (106.03, 36.01),
                                                                (106.03, 36.0),
                                                                (106.02, 36.01)])],
                           crs=4326)
    out = compounds_from_osm(res, None)
    assert out.frame["flags"].str.contains("geometry_repaired").tolist() == [True, True]
    assert shapely.is_valid(out.frame.geometry).all()
    assert (out.frame.geom_type.isin(["Polygon", "MultiPolygon"])).all()


def test_mapping_targets_are_known_vocabulary_terms():
    from gisplan.schema import term

    m = load_mapping()
    vocab = {"facilities": "facility_type", "roads": "road_class",
             "districts": "district_level", "utilities": "network"}
    for row in m.itertuples():
        assert term(vocab[row.layer], row.target) == row.target, row
