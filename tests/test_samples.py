"""Sample programmes: the seeds' figures kept exactly (and their inconsistencies), geometry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal

from gisplan.findings import has_flag
from gisplan.samples import (
    allocate,
    build_programme,
    load_programme,
    parse_numbered_list,
)
from gisplan.samples import county_boundaries as read_counties
from gisplan.store import Project

XUCHANG_COUNTIES = {"禹州市": (8, 181), "长葛市": (33, 2970), "襄城县": (10, 387),
                    "魏都区": (190, 14666), "建安区": (24, 1176)}


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Project]:
    """Private copies of the committed sample programmes (never written in place)."""
    import shutil

    root = Path(__file__).resolve().parents[1] / "layers"
    tmp = tmp_path_factory.mktemp("samples")
    out = {}
    for key in ("guyuan_2022", "xuchang_2023", "huaian_2023"):
        src = root / f"{key}.gpkg"
        if not src.exists():
            pytest.fail(f"{src} is missing: run `gisplan samples`")
        shutil.copyfile(src, tmp / src.name)
        out[key.split("_")[0]] = Project.open(tmp / src.name)
    return out


# ---------------------------------------------------------------- helpers


def test_allocate_sums_exactly_and_keeps_proportions():
    parts = allocate(1435, [3.0, 1.0, 1.0])
    assert parts.sum() == 1435
    assert parts[0] > parts[1]


def test_allocate_gives_every_part_at_least_one():
    assert allocate(5, [100.0, 0.0, 0.0]).min() >= 1


def test_parse_numbered_list_keeps_odd_separators():
    items = parse_numbered_list("22.阳光小区、23、妇幼小区、24.东海园区")
    assert [n for n, _, _ in items] == [22, 23, 24]
    assert items[1][1:] == ("妇幼小区", "23、妇幼小区")


def test_county_boundaries_repaired_flagged_adcode_kept(county_boundaries):
    gdf = read_counties(county_boundaries)
    assert len(gdf) == 18
    assert gdf.is_valid.all()
    assert has_flag(gdf, "invalid_geometry_repaired").sum() == 17
    assert gdf.loc[gdf["name"] == "原州区", "district_id"].item() == "640402"
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}


# ---------------------------------------------------------------- Guyuan


def test_guyuan_pianqu_sums_equal_stated_totals(stores):
    comp = stores["guyuan"].read("compounds")
    sums = comp.groupby("district")[["households", "buildings", "floor_area_m2"]].sum()
    assert sums.loc["西关北街"].tolist() == [1435, 35, 64180]
    assert sums.loc["西关南街"].tolist() == [815, 29, 101452]
    assert sums.loc["南城路"].tolist() == [831, 17, 82259]
    assert comp.groupby("district").size().to_dict() == {"西关北街": 3, "西关南街": 14, "南城路": 9}


def test_guyuan_programme_totals_kept_as_stated_even_where_inconsistent(stores):
    t = stores["guyuan"].read("plan_targets").set_index("unit")
    assert t.loc["原州区", ["compounds", "buildings", "households"]].tolist() == [26, 84, 3081]
    assert t.loc["原州区", "floor_area_m2"] == 247891
    pianqu = t[t["level"] == "pianqu"]
    assert pianqu["buildings"].sum() == 81  # not 84: the plan's own inconsistency
    assert pianqu["households"].sum() == 3081
    assert "84栋楼" in t.loc["原州区", "source"]


def test_guyuan_lists_verbatim_with_their_inconsistencies(stores):
    lists = stores["guyuan"].read("plan_lists")
    basic = lists[lists["list_name"] == "基础类"].set_index("item_no")
    assert len(basic) == 26
    assert basic.loc[10, "name_as_written"] == "信和小区"
    assert basic.loc[23, "token_as_written"] == "23、妇幼小区"
    improvement = lists[lists["list_name"] == "完善类"]
    assert sorted(improvement["item_no"]) == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13]
    assert "信合小区" in set(improvement["name_as_written"])
    south = lists[lists["list_name"] == "西关南街片区"]
    assert "信合小区" in set(south["name_as_written"])
    comp = stores["guyuan"].read("compounds")
    assert "信合小区" in set(comp["name"])
    assert "信和小区" not in set(comp["name"])


def test_guyuan_categories_from_the_lists(stores):
    comp = stores["guyuan"].read("compounds").set_index("name")
    cats = comp["categories"].str.split(";")
    assert cats.map(lambda c: "basic" in c).all()
    assert cats.map(lambda c: "improvement" in c).sum() == 12
    upgrade = set(comp.index[cats.map(lambda c: "upgrade" in c)])
    assert upgrade == {"靖丰苑", "梅园小区"}


def test_guyuan_build_years_exercise_the_2001_2005_cap(stores):
    comp = stores["guyuan"].read("compounds")
    late = comp["built_year"].between(2001, 2005)
    assert 1 <= late.sum() <= 2
    assert (comp["built_year"] <= 2005).all()
    share = comp.loc[late, "households"].sum() / comp["households"].sum()
    assert share <= stores["guyuan"].meta["rules"]["household_cap_2001_2005"]


def test_guyuan_budget_milestones_and_streets(stores):
    meta = stores["guyuan"].meta
    assert meta["budget_total_wan_yuan"] == pytest.approx(17808.68)
    assert sum(b["amount_wan_yuan"] for b in meta["budget"]) == pytest.approx(17808.68)
    dates = {m["key"]: (m["date"], m["measure"]) for m in meta["milestones"]}
    assert dates == {"all_started": ("2022-03-15", "started_compounds"),
                     "all_completed": ("2022-09-30", "completed_compounds"),
                     "all_accepted": ("2022-11-30", "accepted_compounds")}
    d = stores["guyuan"].read("districts")
    assert set(d.loc[d["level"] == "street", "name"]) == {"南关街道", "北塬街道", "古雁街道"}
    assert set(d.loc[d["level"] == "pianqu", "name"]) == {"西关北街", "西关南街", "南城路"}


def test_guyuan_owners_named_in_the_plan(stores):
    u = stores["guyuan"].read("utilities")
    owners = u.groupby("network")["owner"].agg(set).to_dict()
    assert owners["water_supply"] == {"六盘山水务公司"}
    assert owners["power"] == {"固原市供电公司"}
    assert owners["gas"] == {"中燃固原分公司"}
    assert owners["heating"] == {"南塬供热公司", "北塬供热公司"}
    assert owners["telecom"] <= {"电信", "移动", "联通", "广电"}
    assert all("假定" in o for o in owners["drainage"])


def test_guyuan_compounds_inside_their_pianqu_and_county(stores):
    comp = stores["guyuan"].read("compounds")
    d = stores["guyuan"].read("districts")
    for level, col in (("pianqu", "district"), ("street", "street")):
        polys = d[d["level"] == level].set_index("name").geometry
        own = polys.loc[comp[col]].to_numpy()
        # within, up to a float tolerance on shared edges
        outside = shapely.area(shapely.difference(comp.geometry.to_numpy(), own))
        assert (outside < 1e-12).all(), level
    county = d.loc[d["level"] == "county"].geometry.iloc[0]
    assert comp.within(county).all()


def _pieces_within(geoms: np.ndarray, gap_m: float) -> int:
    """Connected groups of polygons closer than *gap_m* to each other."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=gap_m)
    graph = coo_matrix((np.ones(i.size), (i, j)), shape=(geoms.size, geoms.size))
    return int(connected_components(graph, directed=False)[0])


def _metric(gdf):
    return gdf.to_crs(gdf.estimate_utm_crs())


def test_guyuan_pianqu_are_contiguous_at_the_default_bundling_gap(stores):
    # 一片区一方案: the compounds of a 片区 are neighbours across local streets (< 20 m)
    comp = _metric(stores["guyuan"].read("compounds"))
    pieces = comp.groupby("district").geometry.agg(lambda g: _pieces_within(g.to_numpy(), 18.0))
    assert pieces.to_dict() == {"西关北街": 1, "西关南街": 1, "南城路": 1}


def test_guyuan_arterials_run_between_pianqu_not_through_them(stores):
    comp = _metric(stores["guyuan"].read("compounds"))
    roads = _metric(stores["guyuan"].read("roads"))
    hulls = comp.dissolve("district").geometry.convex_hull.to_numpy()
    arterial = roads.loc[roads["road_class"] == "arterial"].geometry.to_numpy()
    assert not shapely.STRtree(arterial).query(hulls, predicate="intersects").size
    # ... and between them: every pair of 片区 is more than the bundling gap apart
    gaps = shapely.distance(hulls[:, None], hulls[None, :])
    assert (gaps[~np.eye(3, dtype=bool)] > 20.0).all()


def test_guyuan_street_and_pianqu_boundaries_run_along_streets(stores):
    d = _metric(stores["guyuan"].read("districts"))
    roads = _metric(stores["guyuan"].read("roads")).geometry.union_all()
    for level in ("street", "pianqu"):
        polys = d.loc[d["level"] == level].geometry.to_numpy()
        shared = shapely.union_all([shapely.intersection(shapely.boundary(a), shapely.boundary(b))
                                    for k, a in enumerate(polys) for b in polys[k + 1:]])
        assert shared.length > 100, level
        # points along the shared edges lie on street centre lines
        pts = shapely.points(shapely.get_coordinates(shapely.segmentize(shared, 10.0)))
        assert shapely.distance(pts, roads).max() < 0.5, level


def test_guyuan_plot_ratios_fit_old_walk_ups(stores):
    comp = _metric(stores["guyuan"].read("compounds"))
    plot_ratio = comp["floor_area_m2"] / comp.geometry.area
    assert plot_ratio.between(1.0, 2.5).all(), plot_ratio.describe()
    small = comp["district"] == "西关南街"  # 14 compounds, 815 households: small ones
    assert comp.loc[small, "buildings"].between(1, 4).all()


def test_guyuan_bundles_with_defaults_one_project_per_pianqu(sample_copy):
    from gisplan.bundle import bundle_project

    res = bundle_project(Project.open(sample_copy("guyuan")), write=False)
    assert res.standalone.empty, res.standalone[["compound_id", "reason"]]
    b = res.bundles.set_index("district_name")
    assert sorted(b.index) == ["南城路", "西关北街", "西关南街"]
    assert b["n_compounds"].to_dict() == {"西关北街": 3, "西关南街": 14, "南城路": 9}


@pytest.mark.parametrize("key", ["xuchang", "huaian"])
def test_county_programmes_bundle_most_eligible_compounds(sample_copy, key):
    from gisplan.bundle import bundle_project

    res = bundle_project(Project.open(sample_copy(key)), write=False)
    reasons = res.standalone["reason"].astype(str)
    # these programmes name no rule set: the national baseline (built by end of 2000)
    assert res.rules.name == "national_2020"
    ineligible = reasons.isin(["built_after_2000", "prior_central_funding", "demolition"])
    eligible = len(res.members) + int((~ineligible).sum())
    assert len(res.members) / eligible > 0.85
    assert ineligible.any()
    # a minority left alone for a reason of their own: too small and isolated (Xuchang
    # 24 of 214: its 2001-2005 compounds no longer join their eligible neighbours)
    assert reasons.eq("below_min_households").sum() < 0.12 * eligible


def test_guyuan_progress_log_through_2022(stores):
    log = stores["guyuan"].read("progress_log")
    dates = pd.to_datetime(log["date"])
    assert dates.max() <= pd.Timestamp("2022-12-31")
    started = log[log["stage"] == "started"]
    assert len(started) == 26
    assert (pd.to_datetime(started["date"]) <= pd.Timestamp("2022-03-15")).all()


# ---------------------------------------------------------------- Xuchang


def test_xuchang_county_counts_and_households_exact(stores):
    comp = stores["xuchang"].read("compounds")
    got = comp.groupby("county").agg(n=("compound_id", "size"), hh=("households", "sum"))
    assert {k: (int(r.n), int(r.hh)) for k, r in got.iterrows()} == XUCHANG_COUNTIES
    assert len(comp) == 265
    assert comp["households"].sum() == 19380


def test_xuchang_compounds_inside_real_repaired_county_polygons(stores):
    comp = stores["xuchang"].read("compounds")
    d = stores["xuchang"].read("districts")
    counties = d[d["level"] == "county"].set_index("name")
    assert set(counties.index) == set(XUCHANG_COUNTIES)
    assert counties.is_valid.all()
    assert has_flag(counties, "invalid_geometry_repaired").all()
    assert counties.loc["魏都区", "district_id"] == "411002"
    own = counties.geometry.loc[comp["county"]].to_numpy()
    assert shapely.within(comp.geometry.to_numpy(), own).all()


def test_xuchang_milestones_and_start_criteria(stores):
    meta = stores["xuchang"].meta
    ms = {m["key"]: (m["date"], m["measure"], m["target"]) for m in meta["milestones"]}
    assert ms["all_started"] == ("2023-06-30", "started_compounds", 1.0)
    assert ms["completed_70pct_households"] == ("2023-10-31", "completed_households", 0.7)
    assert ms["all_completed"] == ("2023-12-31", "completed_compounds", 1.0)
    assert len(meta["start_criteria"]) == 5


def test_xuchang_progress_log_exercises_every_check(stores):
    log = stores["xuchang"].read("progress_log")
    log["date"] = pd.to_datetime(log["date"])
    starts = log[log["stage"] == "started"]
    assert (starts["consent_rate"] == 0.75).any()
    for col in ("design_posted", "contract_signed", "crew_on_site", "structures_removed"):
        assert (starts[col] == False).any(), col  # noqa: E712
    # a completion dated before its start
    first = log.pivot_table(index="compound_id", columns="stage", values="date", aggfunc="min")
    assert (first["completed"] < first["started"]).sum() >= 1
    # one stage going backwards
    order = {s: i for i, s in enumerate(["planned", "consulted", "designed", "tendered",
                                         "started", "completed", "accepted", "handed_over"])}
    seq = log.sort_values(["compound_id", "date", "log_id"])
    rank = seq["stage"].map(order)
    backwards = rank.groupby(seq["compound_id"]).diff() < 0
    assert backwards.any()
    # counties behind and on track at the first milestone
    late_start = starts.groupby("county")["date"].max() > pd.Timestamp("2023-06-30")
    assert late_start.any() and not late_start.all()
    # rows in the latest week, sources filled
    assert (log["date"] >= log["date"].max() - pd.Timedelta(days=6)).sum() >= 3
    assert log["date"].max() <= pd.Timestamp("2023-12-31")
    assert log["source_file"].str.endswith(".xlsx").all()
    assert (log["source_row"] >= 1).all()


# ---------------------------------------------------------------- Huai'an


def test_huaian_201_compounds_in_8_units(stores):
    comp = stores["huaian"].read("compounds")
    assert len(comp) == 201
    assert comp["county"].nunique() == 8
    assert "经开区" in set(comp["county"])


def test_huaian_compounds_inside_counties_except_kaifaqu(stores):
    comp = stores["huaian"].read("compounds")
    d = stores["huaian"].read("districts")
    counties = d[d["level"] == "county"].set_index("name")
    assert "经开区" not in counties.index
    real = comp[comp["county"] != "经开区"]
    own = counties.geometry.loc[real["county"]].to_numpy()
    assert shapely.within(real.geometry.to_numpy(), own).all()
    kfq = comp[comp["county"] == "经开区"]
    assert kfq.geometry.notna().all() and not kfq.geometry.is_empty.any()


def test_huaian_named_compounds_and_streets(stores):
    comp = stores["huaian"].read("compounds").set_index("name")
    wjy = ("淮阴区", "王家营街道")
    expected = {"佳兴南苑": ("经开区", "徐杨街道"), "西大院": ("清江浦区", "柳树湾街道"),
                "黄河花园八地块": wjy, "黄河花园十七地块": wjy, "黄河花园12-16地块": wjy,
                "东方都市": ("盱眙县", "太和街道"), "书香华庭": ("清江浦区", "清浦街道")}
    for name, (county, street) in expected.items():
        assert (comp.loc[name, "county"], comp.loc[name, "street"]) == (county, street), name
    d = stores["huaian"].read("districts")
    assert {"徐杨街道", "柳树湾街道", "王家营街道", "太和街道", "清浦街道"} <= set(
        d.loc[d["level"] == "street", "name"])
    assert "elderly_care" not in comp.loc["东方都市", "planned_items"].split(";")


def test_huaian_designs_have_realistic_gaps(stores):
    comp = stores["huaian"].read("compounds")
    items = comp["planned_items"].str.split(";")
    no_waste = ~items.map(lambda it: "waste_sorting" in it)
    assert 0.05 < no_waste.mean() < 0.5


def test_huaian_meta_funding_milestones_and_kaifaqu_progress(stores):
    meta = stores["huaian"].meta
    assert meta["budget"][0]["amount_wan_yuan"] == 8648
    ms = {m["key"]: m["date"] for m in meta["milestones"]}
    assert ms == {"all_started": "2023-03-31", "basic_completed": "2023-07-31",
                  "all_completed": "2023-10-31"}
    log = stores["huaian"].read("progress_log")
    assert (log["county"] == "经开区").sum() > 0
    assert pd.to_datetime(log["date"]).max() <= pd.Timestamp("2023-12-31")


# ---------------------------------------------------------------- all three


@pytest.mark.parametrize("key", ["guyuan", "xuchang", "huaian"])
def test_descriptions_and_meta_say_real_figures_synthetic_geometry(stores, key):
    p = stores[key]
    assert p.meta["synthetic"] is True
    assert "synthetic geometry" in p.meta["synthetic_note"]
    assert p.meta["sources"][0]["file"] in p.meta["synthetic_note"]
    for layer in ("compounds", "districts", "roads", "utilities", "facilities", "gates"):
        text = p.description(layer)
        assert "synthetic geometry" in text and p.meta["sources"][0]["file"] in text, layer


@pytest.mark.parametrize("key", ["guyuan", "xuchang", "huaian"])
def test_every_layer_valid_and_walkable_roads(stores, key):
    p = stores[key]
    for layer in ("compounds", "districts", "utilities", "facilities", "roads", "gates"):
        gdf = p.read(layer)
        assert len(gdf) > 0, layer
        assert gdf.is_valid.all(), layer
        assert gdf.crs.to_epsg() == 4326
    assert p.read("roads")["walkable"].all()


@pytest.mark.parametrize("name", ["guyuan_2022", "xuchang_2023", "huaian_2023"])
def test_sample_files_are_small(name):
    path = Path(__file__).resolve().parents[1] / "layers" / f"{name}.gpkg"
    assert path.stat().st_size < 5 * 1024 * 1024


def test_programme_toml_quotes_next_to_figures():
    spec = load_programme("xuchang_2023")
    for c in spec["counties"]:
        assert f"{c['compounds']}个" in c["source"]
        assert str(c["households"]) in c["source"].replace(" ", "")


def test_build_is_deterministic(county_boundaries):
    counties = read_counties(county_boundaries)
    a, meta_a, _ = build_programme("guyuan_2022", counties=counties)
    b, meta_b, _ = build_programme("guyuan_2022", counties=counties)
    assert meta_a == meta_b
    for name in ("compounds", "districts", "roads", "utilities"):
        assert_geodataframe_equal(a[name], b[name])
    pd.testing.assert_frame_equal(a["progress_log"], b["progress_log"])


def test_committed_files_match_a_fresh_build(tmp_path, county_boundaries, stores):
    from gisplan.cli import cli

    res = CliRunner().invoke(cli, ["samples", "--out", str(tmp_path), "--counties",
                                   str(county_boundaries), "--only", "xuchang_2023"])
    assert res.exit_code == 0, res.output
    fresh = Project.open(tmp_path / "xuchang_2023.gpkg").read("compounds")
    committed = stores["xuchang"].read("compounds")
    assert_geodataframe_equal(fresh, committed, check_less_precise=True)
    assert "19380" in res.output


def test_missing_county_file_names_the_file_and_the_fix(tmp_path):
    from gisplan._errors import InputError

    with pytest.raises(InputError, match="GISPLAN_SHARED") as err:
        read_counties(tmp_path / "nope.geojson")
    assert "nope.geojson" in str(err.value)


def test_progress_dates_are_dates(stores):
    log = stores["xuchang"].read("progress_log")
    assert all(isinstance(v, dt.date) for v in log["date"].head())
    assert np.issubdtype(pd.to_datetime(log["date"]).dtype, np.datetime64)
