from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gisplan._errors import SchemaError
from gisplan.cli import cli
from gisplan.coverage import coverage, coverage_project, two_step_fca
from gisplan.findings import has_flag
from gisplan.store import Project

CRS = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E (metres)


def grid_roads(n: int = 11, step: float = 100.0) -> gpd.GeoDataFrame:
    xs = np.arange(n) * step
    lines = []
    for y in xs:
        for a, b in itertools.pairwise(xs):
            lines.append(shapely.LineString([(a, y), (b, y)]))
            lines.append(shapely.LineString([(y, a), (y, b)]))
    return gpd.GeoDataFrame({"road_id": [f"R{i}" for i in range(len(lines))]},
                            geometry=lines, crs=CRS)


def block_compounds(n: int = 10, step: float = 100.0) -> gpd.GeoDataFrame:
    boxes = [shapely.box(x + 20, y + 20, x + 80, y + 80)
             for x in np.arange(n) * step for y in np.arange(n) * step]
    k = len(boxes)
    return gpd.GeoDataFrame({
        "compound_id": [f"C{i:03d}" for i in range(k)], "name": [f"小区{i}" for i in range(k)],
        "households": np.full(k, 100), "district": ["西关"] * (k // 2) + ["南城"] * (k - k // 2),
        "county": "原州区"}, geometry=boxes, crs=CRS)


def facilities(rows: list[tuple[str, str, float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"facility_id": [r[0] for r in rows],
                             "facility_type": [r[1] for r in rows]},
                            geometry=[shapely.Point(r[2], r[3]) for r in rows], crs=CRS)


@pytest.fixture
def city() -> dict[str, gpd.GeoDataFrame]:
    return {"compounds": block_compounds(), "roads": grid_roads(),
            "facilities": facilities([("F1", "幼儿园", 150, 100), ("F2", "菜市场", 500, 500)])}


def _row(res, cid: str, ftype: str) -> pd.Series:
    long = res.coverage
    return long[(long["compound_id"] == cid) & (long["facility_type"] == ftype)].iloc[0]


def test_walk_is_measured_from_the_boundary_not_the_centroid(city) -> None:
    res = coverage(**city, types=["kindergarten"])
    r = _row(res, "C000", "kindergarten")
    # corner (80, 80) -> road y=100 (20 m) -> along it to x=150 (70 m)
    assert r["walk_m"] == pytest.approx(90.0)
    assert r["straight_m"] == pytest.approx(np.hypot(70, 20))
    assert r["walk_facility_id"] == "F1"
    assert bool(r["covered"])


def test_gates_replace_the_boundary_when_given(city) -> None:
    city["gates"] = gpd.GeoDataFrame({"gate_id": ["G1"], "compound_id": ["C000"]},
                                     geometry=[shapely.Point(20, 50)], crs=CRS)
    res = coverage(**city, types=["kindergarten"])
    # gate (20,50) -> road x=0 (20 m) -> up to (0,100) 50 m -> along y=100 to 150: 150 m
    assert _row(res, "C000", "kindergarten")["walk_m"] == pytest.approx(220.0)
    comp = res.compounds.set_index("compound_id")
    assert comp.loc["C000", "access_from"] == "gates"
    assert comp.loc["C001", "access_from"] == "boundary"


def test_straight_line_is_zero_inside_the_compound(city) -> None:
    city["facilities"] = facilities([("F1", "幼儿园", 50, 50)])
    res = coverage(**city, types=["kindergarten"], method="euclidean")
    assert _row(res, "C000", "kindergarten")["distance_m"] == 0.0
    assert res.method == "euclidean"


def test_gaps_list_the_types_beyond_the_standard(city) -> None:
    res = coverage(**city, types=["kindergarten", "market", "bus_stop"])
    comp = res.compounds.set_index("compound_id")
    assert comp.loc["C000", "gaps"] == "market;bus_stop"
    assert comp.loc["C000", "gaps_zh"] == "菜市场、公交站"
    assert res.gaps.iloc[0] == ["market", "bus_stop"]
    assert comp.loc["C099", "n_gaps"] == 3
    assert comp["walk_m_kindergarten"].notna().all()


def test_wide_and_long_tables_keep_every_compound(city) -> None:
    res = coverage(**city, types=["kindergarten", "market"])
    assert len(res.compounds) == 100
    assert res.compounds.index.equals(city["compounds"].index)
    assert len(res.coverage) == 200
    assert res.report.ok
    assert res.report.counts["compounds"].balanced


def test_summary_shares_by_district_and_households(city) -> None:
    city["compounds"].loc[0, "households"] = 900
    res = coverage(**city, types=["kindergarten"])
    long = res.coverage
    s = res.summary.set_index(["level", "unit", "facility_type"])
    covered = long["covered"].to_numpy()
    hh = city["compounds"]["households"].to_numpy()
    prog = s.loc[("programme", "all", "kindergarten")]
    assert prog["compounds_covered"] == covered.sum()
    assert prog["share_households"] == pytest.approx(hh[covered].sum() / hh.sum())
    west = s.loc[("district", "西关", "kindergarten")]
    assert west["compounds"] == 50
    assert west["households_covered"] == hh[:50][covered[:50]].sum()


def test_summary_by_bundle_when_bundles_are_given(city) -> None:
    bundles = pd.Series(["B1"] * 10 + ["B2"] * 90,
                        index=city["compounds"]["compound_id"].to_numpy())
    res = coverage(**city, types=["kindergarten"], bundles=bundles)
    b = res.summary[res.summary["level"] == "bundle"].set_index("unit")
    assert b.loc["B1", "compounds"] == 10


def test_unknown_facility_types_are_flagged_with_suggestions(city) -> None:
    city["facilities"] = facilities([("F1", "幼儿圆", 150, 100), ("F2", "幼儿园", 850, 850)])
    res = coverage(**city, types=["kindergarten"])
    fac = res.facilities.set_index("facility_id")
    assert has_flag(fac, "unknown_facility_type").tolist() == [True, False]
    (finding,) = res.report.by_code("unknown_facility_type")
    assert finding.value == "幼儿圆"
    assert "kindergarten" in finding.hint
    assert len(res.facilities) == 2
    assert _row(res, "C000", "kindergarten")["walk_facility_id"] == "F2"


def test_facilities_far_outside_the_study_area_are_flagged_and_left_out(city) -> None:
    city["facilities"] = facilities([("F1", "幼儿园", 150, 100),
                                     ("F9", "幼儿园", 3_000_000, 500)])
    res = coverage(**city, types=["kindergarten"])
    assert has_flag(res.facilities, "outside_study_area").tolist() == [False, True]
    assert res.report.by_code("outside_study_area")[0].row == 1
    assert res.info["facilities_used"] == 1


def test_disconnected_roads_are_reported_and_distances_shown_as_unreachable(city) -> None:
    island = gpd.GeoDataFrame({"road_id": ["X1"]}, crs=CRS,
                              geometry=[shapely.LineString([(3000, 0), (3000, 200)])])
    city["roads"] = pd.concat([city["roads"], island], ignore_index=True)
    city["facilities"] = facilities([("F1", "幼儿园", 3000, 100)])
    res = coverage(**city, types=["kindergarten"], search_limit_m=5000)
    assert res.report.by_code("roads_disconnected")
    assert len(res.components) == 2
    r = _row(res, "C000", "kindergarten")
    assert r["reach"] == "unreachable"
    assert np.isnan(r["walk_m"])
    assert not r["covered"]
    assert r["straight_m"] > 2000


def test_beyond_the_search_limit_is_not_unreachable(city) -> None:
    city["facilities"] = facilities([("F1", "幼儿园", 950, 1000)])
    res = coverage(**city, types=["kindergarten"], search_limit_m=500)
    assert _row(res, "C000", "kindergarten")["reach"] == "beyond_limit"


def test_compounds_far_from_any_road_are_flagged(city) -> None:
    far = gpd.GeoDataFrame({"compound_id": ["C900"], "name": ["远郊"], "households": [10]},
                           geometry=[shapely.box(1800, 1800, 1850, 1850)], crs=CRS)
    city["compounds"] = pd.concat([city["compounds"], far], ignore_index=True)
    res = coverage(**city, types=["kindergarten"], max_snap_m=250)
    comp = res.compounds.set_index("compound_id")
    assert has_flag(comp, "far_from_road")["C900"]
    assert not has_flag(comp, "far_from_road")["C000"]
    assert comp.loc["C900", "snap_m"] == pytest.approx(np.hypot(800, 800), abs=1)


def test_unnoded_roads_are_reported_with_the_fix(city) -> None:
    city["roads"] = gpd.GeoDataFrame({"road_id": ["A", "B"]}, crs=CRS, geometry=[
        shapely.LineString([(0, 100), (1000, 100)]), shapely.LineString([(150, 0), (150, 1000)])])
    res = coverage(**city, types=["kindergarten"])
    (f,) = res.report.by_code("roads_not_noded")
    assert "node_roads=True" in f.hint
    res2 = coverage(**city, types=["kindergarten"], node_roads=True)
    assert res2.report.by_code("roads_noded")


def test_lonlat_input_is_measured_in_metres() -> None:
    comp = block_compounds(2).to_crs(4326)
    roads = grid_roads(3).to_crs(4326)
    fac = facilities([("F1", "幼儿园", 150, 100)]).to_crs(4326)
    res = coverage(comp, fac, roads=roads, types=["kindergarten"])
    assert _row(res, "C000", "kindergarten")["walk_m"] == pytest.approx(90.0, abs=0.5)
    assert res.compounds.crs.to_epsg() == 4326


def test_network_method_without_roads_is_a_clear_error(city) -> None:
    del city["roads"]
    with pytest.raises(SchemaError, match="roads"):
        coverage(**city, method="network")


def test_without_roads_auto_falls_back_to_straight_lines(city) -> None:
    del city["roads"]
    res = coverage(**city, types=["kindergarten"])
    assert res.method == "euclidean"
    assert "walk_m" not in res.coverage.columns
    assert res.compounds["coverage_method"].eq("euclidean").all()


def test_two_step_fca_by_hand() -> None:
    import scipy.sparse as sp

    d = sp.csr_matrix(np.array([[100.0, 200.0, 0.0], [0.0, 250.0, 900.0]]))
    access, ratio = two_step_fca(d, np.array([30.0, 10.0]), np.array([100.0, 50.0, 20.0]),
                                 catchment_m=300)
    assert ratio.tolist() == pytest.approx([30 / 150, 10 / 50])
    assert access.tolist() == pytest.approx([0.2, 0.4, 0.0])


def test_capacity_gives_fca_per_household(city) -> None:
    city["facilities"]["capacity"] = [120.0, np.nan]
    res = coverage(**city, types=["kindergarten", "market"], capacity=True)
    fca = res.compounds.set_index("compound_id")["fca_kindergarten"]
    covered = res.compounds.set_index("compound_id")["covered_kindergarten"]
    # every covered compound shares the 120 places with the others covered
    assert fca[covered].to_numpy() == pytest.approx(120 / (100 * covered.sum()))
    assert (fca[~covered] == 0).all()
    assert "fca_market" not in res.compounds.columns


def test_results_are_written_to_the_store(tmp_path: Path, city) -> None:
    p = Project.create(tmp_path / "p.gpkg", meta={"name": "t"}, layers=city)
    res = coverage_project(p, types=["kindergarten", "market"])
    res.to_store(p)
    assert {"coverage", "coverage_gaps", "coverage_summary"} <= set(p.layers())
    back = p.read("coverage_gaps")
    assert len(back) == 100
    assert back["gaps"].fillna("").tolist() == res.compounds["gaps"].tolist()
    assert len(p.read("coverage")) == 200


def test_cli_coverage_prints_the_summary_and_writes_layers(tmp_path: Path, city) -> None:
    path = tmp_path / "p.gpkg"
    Project.create(path, meta={"name": "t"}, layers=city)
    out = CliRunner().invoke(cli, ["coverage", str(path), "--type", "幼儿园", "--type",
                                   "market"])
    assert out.exit_code == 0, out.output
    assert "西关" in out.output
    assert "幼儿园" in out.output
    assert "coverage_gaps" in Project.open(path).layers()


def test_cli_coverage_rejects_an_unknown_type_with_a_suggestion(tmp_path: Path, city) -> None:
    path = tmp_path / "p.gpkg"
    Project.create(path, meta={"name": "t"}, layers=city)
    out = CliRunner().invoke(cli, ["coverage", str(path), "--type", "幼儿圆"])
    assert out.exit_code != 0
    assert "kindergarten" in out.output


def test_straight_line_nearest_equals_brute_force_for_irregular_polygons() -> None:
    rng = np.random.default_rng(8)
    centres = rng.uniform(0, 3000, (150, 2))
    comp = gpd.GeoDataFrame(
        {"compound_id": [f"C{i}" for i in range(150)], "households": 10},
        geometry=[shapely.Point(c).buffer(rng.uniform(20, 120), quad_segs=rng.integers(1, 5))
                  for c in centres], crs=CRS)
    xy = np.r_[rng.uniform(-500, 3500, (40, 2)), centres[:5]]  # five inside a compound
    fac = facilities([(f"F{i}", "幼儿园", x, y) for i, (x, y) in enumerate(xy)])
    res = coverage(comp, fac, types=["kindergarten"])
    d = shapely.distance(comp.geometry.to_numpy()[:, None], fac.geometry.to_numpy()[None, :])
    long = res.coverage
    assert long["straight_m"].to_numpy() == pytest.approx(d.min(axis=1), abs=1e-9)
    pos = {f: i for i, f in enumerate(fac["facility_id"])}
    got = np.array([pos[f] for f in long["straight_facility_id"].astype(str)])
    assert d[np.arange(150), got] == pytest.approx(d.min(axis=1), abs=1e-9)
    assert (d[np.arange(5), got[:5]] == 0).all()


def test_roads_in_another_crs_give_the_same_walks(city) -> None:
    ref = coverage(**city, types=["kindergarten", "market"])
    city["roads"] = city["roads"].to_crs(4326)
    from gisplan.crs import CRSMismatchWarning

    with pytest.warns(CRSMismatchWarning, match="layer 'roads' is in EPSG:4326"):
        res = coverage(**city, types=["kindergarten", "market"])
    assert res.coverage["walk_m"].to_numpy() == pytest.approx(
        ref.coverage["walk_m"].to_numpy(), abs=0.01)
    assert res.info["edges"] == ref.info["edges"]


def test_summary_and_gaps_follow_the_covered_matrix(city) -> None:
    res = coverage(**city, types=["kindergarten", "market", "bus_stop"])
    comp = res.compounds
    for t in ("kindergarten", "market", "bus_stop"):
        assert comp["gaps"].str.split(";").map(lambda g, t=t: t in g).tolist() == (
            ~comp[f"covered_{t}"]).tolist()
    s = res.summary.set_index(["level", "unit", "facility_type"])
    by_district = comp.groupby("district")["covered_market"].sum()
    for unit, n_covered in by_district.items():
        assert s.loc[("district", unit, "market"), "compounds_covered"] == n_covered
    assert s.loc[("programme", "all", "kindergarten"), "compounds"] == len(comp)


def test_geodataframes_in_index_kept_out(city) -> None:
    comp = city["compounds"].set_axis(np.arange(100) * 7 + 3)
    res = coverage(comp, city["facilities"], roads=city["roads"], types=["kindergarten"])
    assert res.compounds.index.equals(comp.index)
    assert res.compounds.crs == comp.crs


def test_a_layer_in_another_crs_is_reprojected_with_one_warning_naming_both(city) -> None:
    from gisplan.crs import CRSMismatchWarning

    with pytest.warns(CRSMismatchWarning) as caught:
        res = coverage(city["compounds"], city["facilities"].to_crs(4490),
                       roads=city["roads"], types=["kindergarten"])
    assert len([w for w in caught if issubclass(w.category, CRSMismatchWarning)]) == 1
    (f,) = res.report.by_code("crs_reprojected")
    assert "EPSG:4490" in f.message and "4547" in f.message
    assert _row(res, "C000", "kindergarten")["walk_m"] == pytest.approx(90.0, abs=0.01)


def test_the_adapter_names_the_file_in_errors_and_findings(tmp_path: Path, city) -> None:
    path = tmp_path / "p.gpkg"
    bad = city | {"compounds": city["compounds"].drop(columns="compound_id")}
    Project.create(path, meta={"name": "t"}, layers=bad)
    with pytest.raises(SchemaError, match="compound_id") as e:
        coverage_project(path)
    assert e.value.file == str(Project.open(path).path)



def test_the_straight_lines_in_a_second_thread_equal_those_in_one(city, monkeypatch) -> None:
    from gisplan import coverage as covmod

    threaded = coverage(**city, types=["kindergarten", "market"])
    monkeypatch.setattr(covmod, "in_background", covmod._now)
    one = coverage(**city, types=["kindergarten", "market"])
    pd.testing.assert_frame_equal(threaded.coverage, one.coverage)


def test_a_failure_in_the_second_thread_reaches_the_caller() -> None:
    from gisplan._threads import in_background

    result = in_background(int, "not a number")
    with pytest.raises(ValueError, match="not a number"):
        result()
