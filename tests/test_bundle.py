import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gisplan._errors import ConstraintError
from gisplan.bundle import bundle_compounds, bundle_project
from gisplan.crs import CRSMismatchWarning
from gisplan.findings import has_flag

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_400_000.0


def row(n, *, size=100.0, gap=8.0, households=100, built_year=1990, district="P1", y=0.0,
        x=0.0, prefix="C"):
    """*n* compounds in a row, *gap* metres apart (a lane between neighbours)."""
    xs = x + np.arange(n) * (size + gap)
    return gpd.GeoDataFrame(
        {"compound_id": [f"{prefix}{k:02d}" for k in range(n)],
         "name": [f"小区{prefix}{k}" for k in range(n)],
         "households": households if np.ndim(households) else [households] * n,
         "built_year": built_year if np.ndim(built_year) else [built_year] * n,
         "district": district if np.ndim(district) else [district] * n},
        geometry=shapely.box(X0 + xs, Y0 + y, X0 + xs + size, Y0 + y + size), crs=CRS)


def labels(res):
    return dict(zip(res.members["compound_id"], res.members["bundle_id"], strict=True))


def test_every_compound_ends_in_one_bundle_or_the_standalone_list():
    gdf = row(12, households=150, built_year=[1990] * 10 + [2010, 2003])
    res = bundle_compounds(gdf, min_households=300, max_households=600)
    ids = list(res.members["compound_id"]) + list(res.standalone["compound_id"])
    assert sorted(ids) == sorted(gdf["compound_id"])
    assert res.report.counts["compounds"].balanced


def test_bundles_hold_the_household_limits():
    res = bundle_compounds(row(10, households=150), min_households=300, max_households=450)
    assert res.bundles["households"].between(300, 450).all()


def test_bundles_hold_the_span_limit():
    res = bundle_compounds(row(10, households=150), min_households=100, max_span_m=330)
    assert (res.bundles["span_m"] <= 330).all()
    assert len(res.bundles) > 1


def test_bundles_never_cross_districts():
    gdf = row(6, households=200, district=["P1"] * 3 + ["P2"] * 3)
    res = bundle_compounds(gdf, min_households=300)
    lab = labels(res)
    assert len({lab["C00"], lab["C01"], lab["C02"]}) == 1
    assert lab["C02"] != lab["C03"]


def test_without_a_district_level_bundles_may_cross_districts():
    gdf = row(6, households=200, district=["P1"] * 3 + ["P2"] * 3)
    res = bundle_compounds(gdf, level=None, min_households=300)
    assert res.members["bundle_id"].nunique() == 1


def test_compounds_not_adjacent_are_never_in_one_bundle():
    gdf = pd.concat([row(2, households=200), row(2, households=200, x=1000, prefix="D")])
    res = bundle_compounds(gdf, min_households=300)
    lab = labels(res)
    assert lab["C00"] == lab["C01"] and lab["D00"] == lab["D01"]
    assert lab["C00"] != lab["D00"]


def test_ineligible_compounds_are_standalone_with_the_reason():
    gdf = row(4, households=200, built_year=[1990, 2010, 1990, 1990])
    gdf["prior_central_funding"] = [False, False, True, False]
    gdf["status"] = ["planned", "planned", "planned", "拟拆除"]
    res = bundle_compounds(gdf, rules="guyuan_2022", min_households=100)
    st = res.standalone.set_index("compound_id")
    assert st.loc["C01", "reason"] == "built_after_2005"
    assert st.loc["C02", "reason"] == "prior_central_funding"
    assert st.loc["C03", "reason"] == "demolition"
    assert st["reason_zh"].str.len().gt(0).all()
    assert set(res.members["compound_id"]) == {"C00"}


def test_a_2001_2005_compound_joins_only_with_an_eligible_neighbour():
    # C00 eligible, C01 2003 (next to C00), far away D00 2003 alone
    gdf = pd.concat([row(2, households=[900, 100], built_year=[1990, 2003]),
                     row(1, households=100, built_year=2003, x=2000, prefix="D")])
    res = bundle_compounds(gdf, rules="guyuan_2022", min_households=300)
    lab = labels(res)
    assert lab["C00"] == lab["C01"]
    st = res.standalone.set_index("compound_id")
    assert st.loc["D00", "reason"] == "conditional_no_eligible_neighbour"


def test_a_2001_2005_compound_does_not_bridge_two_eligible_groups_into_its_own_bundle():
    # a chain of conditional compounds: only the one touching the eligible one may join
    gdf = row(3, households=[900, 50, 50], built_year=[1990, 2003, 2003])
    res = bundle_compounds(gdf, rules="guyuan_2022", min_households=300)
    lab = labels(res)
    assert lab["C00"] == lab["C01"]
    assert "C02" not in lab
    st = res.standalone.set_index("compound_id")
    assert st.loc["C02", "reason"] == "conditional_no_eligible_neighbour"


def test_the_2001_2005_households_stay_within_the_15_percent_cap():
    # four eligible compounds (1000 households), each with a 2003 neighbour to the north
    gdf = pd.concat([row(4, households=250),
                     row(4, households=100, built_year=2003, y=108, prefix="N")])
    res = bundle_compounds(gdf, rules="guyuan_2022", min_households=100, max_households=5000)
    b = res.bundles
    assert b["households_2001_2005"].sum() <= 0.15 * b["households"].sum() + 1e-9
    st = res.standalone.set_index("compound_id")
    assert (st["reason"] == "household_cap_2001_2005").sum() >= 2


def test_a_bundle_below_the_floor_is_merged_into_its_neighbour():
    gdf = row(5, households=[100, 100, 100, 100, 50])
    res = bundle_compounds(gdf, min_households=200, max_households=450)
    assert res.standalone.empty
    assert res.bundles["households"].between(200, 450).all()


def test_compounds_that_cannot_reach_the_floor_are_standalone_with_the_reason():
    gdf = pd.concat([row(2, households=200), row(1, households=50, x=3000, prefix="D")])
    res = bundle_compounds(gdf, min_households=300)
    st = res.standalone.set_index("compound_id")
    assert st.loc["D00", "reason"] == "below_min_households"


def test_missing_households_are_flagged_and_listed_standalone():
    gdf = row(3, households=200)
    gdf["households"] = pd.array([200, None, 200], dtype="Int64")
    res = bundle_compounds(gdf, min_households=100)
    st = res.standalone.set_index("compound_id")
    assert st.loc["C01", "reason"] == "households_missing"
    assert [f for f in res.report.warnings if f.code == "missing_households"]


def test_missing_households_may_count_as_zero_when_asked():
    gdf = row(3, households=200)
    gdf["households"] = pd.array([200, None, 200], dtype="Int64")
    res = bundle_compounds(gdf, min_households=100, missing_households="zero")
    assert res.members["bundle_id"].nunique() == 1


def test_empty_and_invalid_polygons_are_kept():
    gdf = row(4, households=200)
    bow = shapely.Polygon([(X0 + 216, Y0), (X0 + 316, Y0 + 100), (X0 + 316, Y0),
                           (X0 + 216, Y0 + 100)])
    gdf.loc[1, "geometry"] = shapely.Polygon()
    gdf.loc[2, "geometry"] = bow
    res = bundle_compounds(gdf, min_households=100)
    st = res.standalone.set_index("compound_id")
    assert st.loc["C01", "reason"] == "geometry_missing"
    assert "C02" in set(res.members["compound_id"])
    assert len(res.members) + len(res.standalone) == 4


def test_overlapping_compounds_are_flagged_and_both_kept():
    gdf = row(2, households=200, gap=-20)
    res = bundle_compounds(gdf, min_households=100)
    assert [f for f in res.report.warnings if f.code == "overlaps_compound"]
    assert len(res.members) == 2
    assert res.bundles.geometry.iloc[0].is_valid


def test_a_barrier_splits_a_row_into_two_bundles():
    gdf = row(4, households=200)
    road = gpd.GeoSeries([shapely.LineString([(X0 + 212, Y0 - 50), (X0 + 212, Y0 + 150)])],
                         crs=CRS)
    res = bundle_compounds(gdf, barriers=road, min_households=300)
    lab = labels(res)
    assert lab["C00"] == lab["C01"] != lab["C02"] == lab["C03"]


def test_members_that_share_utility_lines_are_preferred():
    # S (seed, south-west) has two neighbours at the same distance: E (east, listed first)
    # and N (north); a water main runs through S and N only, so N joins S
    gdf = pd.concat([row(2, households=200), row(1, households=200, y=108, prefix="N")])
    util = gpd.GeoDataFrame(
        {"utility_id": ["W1"], "network": ["给水"], "owner": ["市自来水公司"],
         "install_year": [1980]},
        geometry=[shapely.LineString([(X0 + 50, Y0 + 20), (X0 + 50, Y0 + 190)])], crs=CRS)
    res = bundle_compounds(gdf, utilities=util, min_households=200, max_households=400)
    lab = labels(res)
    assert lab["C00"] == lab["N00"] != lab["C01"]
    b = res.bundles.set_index("bundle_id").loc[lab["C00"]]
    assert b["utility_owners"] == "市自来水公司"
    assert b["utility_networks"] == "water_supply"


def test_without_shared_lines_the_first_neighbour_in_order_joins():
    gdf = pd.concat([row(2, households=200), row(1, households=200, y=108, prefix="N")])
    res = bundle_compounds(gdf, min_households=200, max_households=400)
    lab = labels(res)
    assert lab["C00"] == lab["C01"] != lab["N00"]


def test_bundle_geometry_is_the_dissolved_members():
    res = bundle_compounds(row(3, households=200, gap=0), min_households=100)
    assert len(res.bundles) == 1
    geom = res.bundles.geometry.iloc[0]
    assert geom.geom_type == "Polygon"
    assert geom.area == pytest.approx(300 * 100, rel=1e-6)


def test_every_member_is_explained_in_both_languages():
    res = bundle_compounds(row(4, households=200), min_households=300)
    m = res.members
    assert m["why_zh"].str.len().gt(0).all() and m["why_en"].str.len().gt(0).all()
    assert m["linked_to"].notna().all()
    assert set(m["link_reason"]) == {"gap"}


def test_same_input_gives_the_same_output():
    gdf = row(20, households=np.arange(20) * 10 + 100,
              built_year=[1990, 2003, 1995, 1985, 1990] * 4)
    a = bundle_compounds(gdf, min_households=300, max_households=700)
    b = bundle_compounds(gdf.copy(), min_households=300, max_households=700)
    assert len(a.bundles) > 2
    pd.testing.assert_frame_equal(a.members, b.members)
    pd.testing.assert_frame_equal(a.standalone, b.standalone)


def test_floor_above_ceiling_is_refused():
    with pytest.raises(ConstraintError, match="min_households"):
        bundle_compounds(row(2), min_households=500, max_households=400)


def test_districts_layer_sets_the_district_and_flags_compounds_outside():
    gdf = row(3, households=200).drop(columns="district")
    dist = gpd.GeoDataFrame({"district_id": ["P1"], "name": ["一片区"], "level": ["pianqu"]},
                            geometry=[shapely.box(X0 - 10, Y0 - 10, X0 + 210, Y0 + 110)],
                            crs=CRS).to_crs("EPSG:4326")
    with pytest.warns(CRSMismatchWarning, match="districts"):
        res = bundle_compounds(gdf, districts=dist, min_households=100)
    lab = labels(res)
    assert lab["C00"] == lab["C01"] != lab["C02"]
    assert [f for f in res.report.warnings if f.code == "outside_districts"]
    assert [f for f in res.report.warnings if f.code == "crs_reprojected"]


@pytest.fixture
def store(tmp_path):
    from gisplan.store import Project

    gdf = row(6, households=200, built_year=[1990, 1990, 2010, 1990, 1990, 1990])
    return Project.create(tmp_path / "p.gpkg", meta={"name": "测试", "bundle_level": "pianqu"},
                          layers={"compounds": gdf.to_crs("EPSG:4326")})


def test_bundle_project_writes_layers_readable_from_the_store(store):
    from gisplan.store import Project

    bundle_project(store, min_households=300)
    p = Project.open(store.path)
    assert {"bundles", "bundle_members", "bundle_standalone", "adjacency"} <= set(p.layers())
    b = p.read("bundles")
    assert isinstance(b, gpd.GeoDataFrame) and len(b) == 2
    m = p.read("bundle_members")
    s = p.read("bundle_standalone")
    assert len(m) + len(s) == 6
    assert p.meta["bundle_options"]["min_households"] == 300


def test_cli_bundle_prints_bundles_and_reasons(store):
    from gisplan.cli import cli

    out = CliRunner().invoke(cli, ["bundle", str(store.path), "--min-households", "300"])
    assert out.exit_code == 0, out.output
    assert "B0001" in out.output and "built_after_2000" in out.output
    # the store names no rule set: the national baseline, and the output says so
    assert "rule set 改造对象规则: national_2020" in out.output
    assert "compounds 6→6" in out.output


def test_cli_join_writes_the_tables(store):
    from gisplan.cli import cli
    from gisplan.store import Project

    out = CliRunner().invoke(cli, ["join", str(store.path)])
    assert out.exit_code == 0, out.output
    # the store has compounds only: nothing to join, nothing written, no error
    assert "join_districts" not in Project.open(store.path).layers()


def test_guyuan_sample_end_to_end(sample_copy):
    from gisplan.store import Project

    path = sample_copy("guyuan")
    p = Project.open(path)
    n = len(p.read("compounds"))
    res = bundle_project(p)
    assert len(res.members) + len(res.standalone) == n
    assert res.bundles["households"].between(300, 3000).all()
    # bundles stay in one 片区 and name the utility owners to bring to the table
    assert res.bundles["district"].notna().all()
    assert res.bundles["utility_owners"].str.len().gt(0).all()
    back = Project.open(path).read("bundle_members")
    assert sorted(back["compound_id"]) == sorted(res.members["compound_id"])


def test_flags_of_the_input_are_kept_on_a_copy_not_the_input():
    gdf = row(2, households=200)
    gdf.loc[1, "households"] = None
    bundle_compounds(gdf, min_households=100)
    assert not has_flag(gdf, "missing_households").any()


def test_the_array_core_partitions_a_row_into_pairs():
    from gisplan.adjacency import adjacency
    from gisplan.bundle import bundle_core

    g = shapely.box(np.arange(4) * 100.0, 0, np.arange(4) * 100.0 + 100, 100)
    res = bundle_core(np.full(4, 100.0), shapely.get_coordinates(shapely.centroid(g)),
                      shapely.bounds(g), adjacency(g), status=np.ones(4, np.int8),
                      min_households=200, max_households=200)
    assert res.label.tolist() == [0, 0, 1, 1]
    assert res.reason.tolist() == ["", "", "", ""]


def test_a_cap_of_one_switches_the_2001_2005_cap_off():
    gdf = pd.concat([row(4, households=250),
                     row(4, households=100, built_year=2003, y=108, prefix="N")])
    res = bundle_compounds(gdf, rules="guyuan_2022", min_households=100, max_households=5000,
                           household_cap=1.0)
    assert res.standalone.empty
