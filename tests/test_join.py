import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisplan._errors import CRSError, InputError
from gisplan.crs import CRSMismatchWarning
from gisplan.findings import has_flag
from gisplan.join import join_districts, join_facilities, join_project, join_utilities

CRS = "EPSG:4547"  # CGCS2000 3° Gauss-Krüger, central meridian 114°E
X0, Y0 = 500_000.0, 3_400_000.0


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def line(*pts):
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in pts])


@pytest.fixture
def compounds():
    # A and B inside 片区 P1; C half in P1 half in P2; D outside every district
    return gpd.GeoDataFrame(
        {"compound_id": ["A", "B", "C", "D"], "name": ["甲", "乙", "丙", "丁"],
         "households": [100, 200, 300, 50]},
        geometry=[box(0, 0, 100, 100), box(110, 0, 210, 100), box(250, 0, 350, 100),
                  box(2000, 0, 2100, 100)],
        crs=CRS)


@pytest.fixture
def districts():
    return gpd.GeoDataFrame(
        {"district_id": ["P1", "P2", "S1"], "name": ["一片区", "二片区", "一街道"],
         "level": ["片区", "pianqu", "街道"]},
        geometry=[box(-10, -10, 300, 110), box(300, -10, 600, 110), box(-10, -10, 600, 110)],
        crs=CRS)


def test_each_compound_gets_the_district_with_the_largest_share(compounds, districts):
    out = join_districts(compounds, districts).frame
    assert out["pianqu_id"].tolist()[:2] == ["P1", "P1"]
    assert out["pianqu_share"].iloc[0] == pytest.approx(1.0)
    assert out["street_id"].tolist()[:3] == ["S1", "S1", "S1"]


def test_a_compound_split_across_districts_is_flagged_with_its_main_share(compounds,
                                                                          districts):
    out = join_districts(compounds, districts).frame
    assert out.loc[2, "pianqu_share"] == pytest.approx(0.5)
    assert has_flag(out, "split_across_districts").tolist() == [False, False, True, False]


def test_a_compound_outside_every_district_is_kept_and_flagged(compounds, districts):
    out, rep = join_districts(compounds, districts)
    assert len(out) == 4
    assert pd.isna(out.loc[3, "pianqu_id"])
    assert np.isnan(out.loc[3, "pianqu_share"])
    assert has_flag(out, "outside_districts").tolist() == [False, False, False, True]
    assert rep.counts["join_districts"].balanced


def test_districts_in_another_crs_give_the_same_answer_and_a_warning(compounds, districts):
    with pytest.warns(CRSMismatchWarning, match="EPSG:4326.*EPSG:4547"):
        out, rep = join_districts(compounds, districts.to_crs("EPSG:4326"))
    assert out["pianqu_id"].tolist()[:2] == ["P1", "P1"]
    assert out.loc[0, "pianqu_share"] == pytest.approx(1.0, abs=1e-4)
    warned = [f for f in rep.warnings if f.code == "crs_reprojected"]
    assert len(warned) == 1
    assert "EPSG:4326" in warned[0].message and "EPSG:4547" in warned[0].message


def test_districts_without_a_crs_are_an_error_that_says_how_to_fix(compounds, districts):
    with pytest.raises(CRSError, match=r"districts.*--crs"):
        join_districts(compounds, districts.set_crs(None, allow_override=True))


@pytest.fixture
def utilities():
    return gpd.GeoDataFrame(
        {"utility_id": ["W1", "W2", "G1"], "network": ["给水", "供水", "燃气"],
         "owner": ["市自来水公司", "二水厂", "市燃气公司"], "install_year": [1985, 1979, 1995]},
        geometry=[line((-50, 50), (230, 50)),  # through A and B, not C
                  line((0, 105), (100, 105)),     # in the street 5 m north of A
                  line((260, 50), (340, 50))],    # inside C only
        crs=CRS)


def test_utility_lengths_inside_and_within_the_margin(compounds, utilities):
    per = join_utilities(compounds, utilities, margin_m=10).per_compound
    a = per[(per["compound_id"] == "A") & (per["network"] == "water_supply")].iloc[0]
    assert a["length_in_m"] == pytest.approx(100.0)
    # W1: 100 m inside + 10 m either side; W2: 100 m along the north edge (+ nothing more)
    assert a["length_margin_m"] == pytest.approx(120.0 + 100.0, abs=0.5)
    assert a["n_lines"] == 2


def test_owners_and_oldest_install_year_per_compound_and_network(compounds, utilities):
    per = join_utilities(compounds, utilities).per_compound
    a = per[(per["compound_id"] == "A") & (per["network"] == "water_supply")].iloc[0]
    assert a["owners"] == "二水厂;市自来水公司"
    assert a["oldest_install_year"] == 1979
    assert a["network_zh"] == "供水"


def test_a_trunk_through_several_compounds_is_a_shared_line(compounds, utilities):
    shared = join_utilities(compounds, utilities).shared_lines
    assert shared["utility_id"].tolist() == ["W1"]
    assert shared["compound_ids"].iloc[0] == "A;B"
    assert shared["n_compounds"].iloc[0] == 2


def test_compound_without_lines_has_no_rows_but_is_not_an_error(compounds, utilities):
    res = join_utilities(compounds, utilities)
    assert "D" not in set(res.per_compound["compound_id"])
    assert not res.report.errors


def test_join_utilities_always_gives_the_incidence_of_compounds_and_lines(compounds,
                                                                          utilities):
    inc = join_utilities(compounds, utilities).incidence
    assert inc.shape == (4, 3)
    # W1 serves A and B; W2 serves A; G1 serves C
    assert inc.toarray().astype(int).tolist() == [[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 0]]


@pytest.fixture
def facilities():
    return gpd.GeoDataFrame(
        {"facility_id": ["F1", "F2", "F3"], "facility_type": ["kindergarten"] * 3,
         "name": ["园一", "园二", "园三"]},
        geometry=[shapely.Point(X0 + 50, Y0 + 50), shapely.Point(X0 - 30, Y0 + 50),
                  shapely.Point(X0 - 500, Y0)],
        crs=CRS)


def test_facilities_inside_or_within_the_margin(compounds, facilities):
    out = join_facilities(compounds, facilities, margin_m=50).frame
    a = out[out["compound_id"] == "A"]
    assert a["facility_id"].tolist() == ["F1", "F2"]
    assert a["inside"].tolist() == [True, False]
    assert a["distance_m"].tolist() == pytest.approx([0.0, 30.0])


def test_join_project_writes_tables_readable_from_the_store(tmp_path, compounds, districts,
                                                            utilities, facilities):
    from gisplan.store import Project

    p = Project.create(tmp_path / "p.gpkg", meta={"name": "测试"}, layers={
        "compounds": compounds, "districts": districts, "utilities": utilities,
        "facilities": facilities})
    join_project(p)
    p2 = Project.open(tmp_path / "p.gpkg")
    assert {"join_districts", "join_utilities", "shared_lines", "join_facilities"} <= set(
        p2.layers())
    jd = p2.read("join_districts")
    assert len(jd) == 4
    assert jd["pianqu_id"].tolist()[:2] == ["P1", "P1"]


def test_duplicate_compound_ids_are_refused_with_the_id():
    from gisplan.join import prepare_compounds

    gdf = gpd.GeoDataFrame({"compound_id": ["A", "A"]},
                           geometry=[box(0, 0, 1, 1), box(2, 0, 3, 1)], crs=CRS)
    with pytest.raises(InputError, match="'A'"):
        prepare_compounds(gdf)


def test_invalid_polygon_is_repaired_and_flagged():
    from gisplan.join import prepare_compounds

    bow = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    gdf = gpd.GeoDataFrame({"compound_id": ["A"]}, geometry=[bow], crs=CRS)
    comp, _, rep = prepare_compounds(gdf)
    assert comp.geometry.is_valid.all()
    assert comp.geometry.area.iloc[0] == pytest.approx(5000.0)
    assert has_flag(comp, "invalid_geometry_repaired").all()
    assert pd.Series([f.code for f in rep]).eq("invalid_geometry_repaired").any()


def test_join_project_on_the_guyuan_sample_keeps_every_compound(sample_copy):
    from gisplan.store import Project

    path = sample_copy("guyuan")
    out = join_project(path)  # a path works as well as a Project
    n = len(Project.open(path).read("compounds"))
    assert len(out.tables["join_districts"]) == n
    assert out.report.counts["join_districts"].balanced
    assert set(out.tables["join_utilities"]["network"]) <= {
        "water_supply", "drainage", "power", "gas", "heating", "telecom"}


def test_group_join_sorts_and_deduplicates_and_skips_blanks():
    from gisplan.join import group_join

    lab = np.array([0, 0, 0, 1, 1, 2])
    values = np.array(["水务", "燃气", "水务", "", None, "电力"], dtype=object)
    assert group_join(lab, values, 4).tolist() == ["水务;燃气", "", "电力", ""]


def test_group_join_with_many_distinct_values_sorts_and_deduplicates():
    from gisplan.join import group_join

    values = np.array([f"L{k:03d}" for k in range(100)] * 2, dtype=object)
    lab = np.r_[np.zeros(100, int), np.ones(100, int)]
    lab[::2] = 2
    out = group_join(lab, values, 3)
    assert out[2].split(";") == [f"L{k:03d}" for k in range(0, 100, 2)]
    assert out[0] == out[1] == ";".join(f"L{k:03d}" for k in range(1, 100, 2))


def test_many_empty_utility_lines_are_listed_up_to_the_cap_then_counted(compounds):
    from gisplan.findings import LISTED_PER_CODE

    n = LISTED_PER_CODE + 7
    lines = gpd.GeoDataFrame({"utility_id": [f"U{k}" for k in range(n)]},
                             geometry=[None] * n, crs=CRS)
    rep = join_utilities(compounds, lines).report
    assert len(rep.by_code("empty_geometry")) == LISTED_PER_CODE
    assert "7 more rows" in rep.by_code("empty_geometry_more")[0].message


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_length_inside_equals_cutting_every_line(seed):
    """Lines inside, outside, across and along the boundary: the same as GEOS cuts."""
    from gisplan.join import length_inside

    rng = np.random.default_rng(seed)
    polys = np.array([shapely.box(0, 0, 100, 100), shapely.Point(300, 50).buffer(60),
                      shapely.box(500, 0, 600, 100).difference(shapely.box(540, 40, 560, 60))])
    n = 400
    which = rng.integers(0, len(polys), n)
    centre = np.array([[50, 50], [300, 50], [550, 50]])[which]
    start = centre + rng.normal(0, 60, (n, 2))
    end = start + rng.normal(0, 40, (n, 2))
    lines = shapely.linestrings(np.stack([start, end], axis=1))
    lines[:3] = shapely.linestrings([[(0, 0), (100, 0)], [(10, 10), (20, 20)],
                                     [(200, 200), (210, 210)]])  # along, in, out
    which[:3] = 0
    expected = shapely.length(shapely.intersection(lines, polys[which]))
    np.testing.assert_allclose(length_inside(lines, polys, which), expected, atol=1e-9)
