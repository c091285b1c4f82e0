"""Validation: every bad input gives a clear finding or a flagged row, and no row is lost."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely import box

from gisplan._errors import InputError
from gisplan.findings import Report, has_flag
from gisplan.store import Project
from gisplan.validate import (
    read_canonical_layers,
    validate_frames,
    validate_layer,
    validate_project,
)

# 原州区, Guyuan: a few compounds 100 m apart (0.001° ≈ 90 m east-west, 111 m north-south)
LON, LAT = 106.28, 36.0
D = 0.001
TODAY = dt.date(2024, 6, 1)


def compounds(n: int = 3, **columns: object) -> gpd.GeoDataFrame:
    """*n* separate square compounds in a row, with valid attributes."""
    x = LON + np.arange(n) * 2 * D
    data: dict[str, object] = {
        "compound_id": [f"GY-{i + 1:03d}" for i in range(n)],
        "name": [f"小区{i + 1}" for i in range(n)],
        "built_year": pd.array([1990 + i for i in range(n)], dtype="Int64"),
        "households": pd.array([100 + i for i in range(n)], dtype="Int64"),
        "status": ["planned"] * n,
    }
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=list(shapely.box(x, LAT, x + D, LAT + D)),
                            crs="EPSG:4326")


def check(frame: pd.DataFrame, layer: str = "compounds", **kw: object):
    out, report = validate_layer(frame, layer, file="test.gpkg", today=TODAY, **kw)
    assert len(out) == len(frame)
    assert report.counts[layer].rows_in == report.counts[layer].rows_out == len(frame)
    assert list(out.index) == list(frame.index)
    return out, report


def codes(report: Report, severity: str | None = None) -> list[str]:
    return [f.code for f in report if severity is None or f.severity == severity]


# ----------------------------------------------------------------------------- clean input


def test_clean_layer_has_no_findings():
    out, report = check(compounds())
    assert codes(report) == []
    assert report.ok
    assert (out["flags"] == "").all()


def test_input_frame_is_not_modified():
    gdf = compounds()
    gdf.loc[1, "geometry"] = shapely.Polygon([(LON, LAT), (LON + D, LAT + D), (LON + D, LAT),
                                              (LON, LAT + D)])
    before = gdf.copy()
    check(gdf)
    assert "flags" not in gdf.columns
    assert gdf.geometry.geom_equals_exact(before.geometry, 0).all()


def test_unknown_layer_is_an_input_error():
    with pytest.raises(InputError, match="not a layer gisplan knows"):
        validate_layer(compounds(), "houses")


# ----------------------------------------------------------------------------- errors


def test_compound_without_geometry_is_an_error_naming_row_and_id():
    gdf = compounds()
    gdf.loc[1, "geometry"] = None
    out, report = check(gdf)
    [f] = report.by_code("missing_geometry")
    assert f.severity == "error"
    assert (f.file, f.layer, f.column) == ("test.gpkg", "compounds", "geometry")
    assert f.row == "2 (compound_id=GY-002)"
    assert f.hint
    assert has_flag(out, "missing_geometry").tolist() == [False, True, False]


def test_district_without_polygon_is_kept_as_unit_without_geometry():
    gdf = gpd.GeoDataFrame({"district_id": ["a", "b"], "name": ["清江浦区", "经开区"],
                            "level": ["county", "county"]},
                           geometry=[box(119.0, 33.5, 119.1, 33.6), None], crs=4326)
    _, report = check(gdf, "districts")
    assert codes(report) == ["unit_without_geometry"]
    assert report.by_code("unit_without_geometry")[0].severity == "warning"


def test_missing_crs_that_cannot_be_inferred_is_an_error():
    gdf = compounds().set_crs(None, allow_override=True)
    gdf = gdf.set_geometry(gdf.geometry.affine_transform([1, 0, 0, 1, 400_000, 4_000_000]))
    gdf = gdf.set_crs(None, allow_override=True)
    out, report = check(gdf)
    [f] = report.by_code("crs_missing")
    assert f.severity == "error"
    assert "--crs" in f.hint
    assert out.crs is None


def test_missing_crs_of_degrees_is_inferred_with_a_finding():
    gdf = compounds().set_crs(None, allow_override=True)
    out, report = check(gdf)
    assert out.crs.to_epsg() == 4326
    assert codes(report) == ["crs_inferred"]
    assert report.ok


def test_duplicate_ids_name_every_row_sharing_the_id():
    gdf = compounds(4, compound_id=["GY-001", "GY-002", "GY-001", "GY-001"])
    out, report = check(gdf)
    [f] = report.by_code("duplicate_id")
    assert f.severity == "error"
    assert f.value == "GY-001"
    assert f.row == [1, 3, 4]
    assert "rows 1, 3, 4" in f.message
    assert has_flag(out, "duplicate_id").tolist() == [True, False, True, True]


def test_points_in_compounds_are_the_wrong_geometry_type():
    gdf = compounds()
    gdf.loc[2, "geometry"] = shapely.Point(LON, LAT)
    out, report = check(gdf)
    [f] = report.by_code("wrong_geometry_type")
    assert f.severity == "error"
    assert f.value == "Point"
    assert f.row.startswith("3 ")
    assert "Polygon" in f.message
    assert out.geometry.iloc[2].equals(shapely.Point(LON, LAT))  # kept as it was


def test_polygon_in_a_line_layer_is_the_wrong_geometry_type():
    gdf = gpd.GeoDataFrame({"utility_id": ["w1", "w2"], "network": ["water_supply", "gas"]},
                           geometry=[shapely.LineString([(LON, LAT), (LON + D, LAT)]),
                                     box(LON, LAT, LON + D, LAT + D)], crs=4326)
    _, report = check(gdf, "utilities")
    [f] = report.by_code("wrong_geometry_type")
    assert (f.row, f.value) == ("2 (utility_id=w2)", "Polygon")


def test_text_in_a_number_column_is_unparseable():
    gdf = compounds(households=["120", "很多户", None])
    out, report = check(gdf)
    [f] = report.by_code("unparseable_number")
    assert (f.severity, f.column, f.value) == ("error", "households", "很多户")
    assert f.row.startswith("2 ")
    assert "1435" in f.hint
    assert out.loc[1, "households"] == "很多户"  # the value is kept for the planner to see


def test_fractional_count_of_households_is_unparseable():
    gdf = compounds(households=[120.0, 12.5, 80.0])
    _, report = check(gdf)
    [f] = report.by_code("unparseable_number")
    assert f.value == 12.5
    assert "whole number" in f.message


def test_missing_required_column_names_the_chinese_header():
    gdf = compounds().drop(columns="name")
    _, report = check(gdf)
    [f] = report.by_code("missing_column")
    assert (f.severity, f.column) == ("error", "name")
    assert "小区名称" in f.message


def test_empty_required_value_is_an_error():
    gdf = compounds(name=["东海园区", " ", None])
    _, report = check(gdf)
    assert [f.row[0] for f in report.by_code("missing_value")] == ["2", "3"]


def test_unknown_network_type_suggests_close_matches():
    gdf = gpd.GeoDataFrame({"utility_id": ["u1", "u2"], "network": ["燃汽", "给水"]},
                           geometry=[shapely.LineString([(LON, LAT), (LON + D, LAT)])] * 2,
                           crs=4326)
    _, report = check(gdf, "utilities")
    [f] = report.by_code("unknown_value")  # 给水 is an alias of water_supply
    assert (f.severity, f.column, f.value) == ("error", "network", "燃汽")
    assert "燃气 (gas)" in f.message
    assert "供水 (water_supply)" in f.hint


def test_unknown_district_level_is_an_error():
    gdf = gpd.GeoDataFrame({"district_id": ["p1"], "name": ["西关北街片区"], "level": ["片去"]},
                           geometry=[box(LON, LAT, LON + D, LAT + D)], crs=4326)
    _, report = check(gdf, "districts")
    [f] = report.by_code("unknown_value")
    assert "片区 (pianqu)" in f.message


def test_unknown_status_is_an_error():
    _, report = check(compounds(status=["planned", "纳入计化", "candidate"]))
    [f] = report.by_code("unknown_value")
    assert (f.column, f.value) == ("status", "纳入计化")
    assert "纳入计划 (planned)" in f.message


# ----------------------------------------------------------------------------- flagged, kept


def test_bowtie_is_repaired_flagged_and_kept():
    gdf = compounds()
    gdf.loc[0, "geometry"] = shapely.Polygon(
        [(LON, LAT), (LON + D, LAT + D), (LON + D, LAT), (LON, LAT + D)])
    out, report = check(gdf)
    [f] = report.by_code("invalid_geometry_repaired")
    assert f.severity == "warning"
    assert "Self-intersection" in f.message
    assert f.value.startswith("Self-intersection[")
    repaired = out.geometry.iloc[0]
    assert repaired.is_valid
    assert repaired.geom_type in ("Polygon", "MultiPolygon")
    assert repaired.area == pytest.approx(D * D / 2, rel=1e-9)  # both triangles kept
    assert has_flag(out, "invalid_geometry_repaired").tolist() == [True, False, False]
    assert report.counts["compounds"].repaired == 1
    assert report.ok  # a repair is not an error


def test_empty_geometry_is_flagged_and_kept():
    gdf = compounds()
    gdf.loc[1, "geometry"] = shapely.Polygon()
    out, report = check(gdf)
    assert codes(report) == ["empty_geometry"]
    assert has_flag(out, "empty_geometry").tolist() == [False, True, False]


def test_missing_build_year_is_flagged():
    gdf = compounds(built_year=pd.array([1990, None, 1985], dtype="Int64"))
    out, report = check(gdf)
    assert codes(report) == ["missing_built_year"]
    assert has_flag(out, "missing_built_year").tolist() == [False, True, False]


def test_nonpositive_households_are_flagged():
    gdf = compounds(households=pd.array([0, 10, -3], dtype="Int64"))
    out, report = check(gdf)
    assert codes(report) == ["nonpositive_households"] * 2
    assert has_flag(out, "nonpositive_households").tolist() == [True, False, True]


def test_implausible_build_years_are_flagged():
    gdf = compounds(built_year=pd.array([1850, 1999, 2031], dtype="Int64"))
    out, report = check(gdf)
    assert [f.value for f in report.by_code("implausible_built_year")] == [1850, 2031]
    assert has_flag(out, "implausible_built_year").tolist() == [True, False, True]


def test_overlapping_compounds_report_area_and_partner():
    gdf = compounds(2)
    # the second square shifted west so that it overlaps the first by 20% of its width
    gdf.loc[1, "geometry"] = box(LON + 0.8 * D, LAT, LON + 1.8 * D, LAT + D)
    out, report = check(gdf)
    [f] = report.by_code("overlaps_compound")
    assert f.severity == "warning"
    assert f.row == "1 (compound_id=GY-001)"
    assert f.value == "GY-002"
    expected_m2 = (0.2 * D * 111_320 * np.cos(np.radians(LAT))) * (D * 110_950)
    area = float(f.message.split(" by ")[1].split(" m²")[0].replace(",", ""))
    assert area == pytest.approx(expected_m2, rel=0.01)
    assert has_flag(out, "overlaps_compound").all()


def test_compound_inside_another_is_reported_as_overlap():
    gdf = compounds(2)
    gdf.loc[1, "geometry"] = box(LON + 0.25 * D, LAT + 0.25 * D, LON + 0.75 * D, LAT + 0.75 * D)
    _, report = check(gdf)
    assert len(report.by_code("overlaps_compound")) == 1


def test_touching_compounds_and_slivers_are_not_overlaps():
    gdf = compounds(3)
    gdf.loc[1, "geometry"] = box(LON + D, LAT, LON + 2 * D, LAT + D)  # shares an edge
    gdf.loc[2, "geometry"] = box(LON + 2 * D - 1e-8, LAT, LON + 3 * D, LAT + D)  # ~0.1 m² sliver
    _, report = check(gdf, overlap_tolerance_m2=1.0)
    assert report.by_code("overlaps_compound") == []


def test_swapped_lonlat_is_swapped_back_and_flagged():
    gdf = compounds()
    gdf.loc[1, "geometry"] = box(LAT, LON + 2 * D, LAT + D, LON + 3 * D)  # (lat, lon)
    out, report = check(gdf)
    assert codes(report) == ["lonlat_swapped"]
    expected = box(LON + 2 * D, LAT, LON + 3 * D, LAT + D)
    assert shapely.normalize(out.geometry.iloc[1]).equals_exact(shapely.normalize(expected), 1e-12)
    assert has_flag(out, "lonlat_swapped").tolist() == [False, True, False]
    assert report.counts["compounds"].repaired == 1


def test_flags_are_appended_to_existing_flags():
    gdf = compounds(flags=["geocoded", None, ""])
    gdf.loc[0, "built_year"] = None
    out, _ = check(gdf)
    assert out.loc[0, "flags"] == "geocoded;missing_built_year"


# ----------------------------------------------------------------------------- tables


def test_progress_log_with_unknown_stage_and_bad_date():
    log = pd.DataFrame({"log_id": [1, 2, 3], "date": ["2023-06-30", "六月底", "2023-07-01"],
                        "stage": ["started", "开工", "开公"]})
    _, report = check(log, "progress_log")
    assert sorted(codes(report, "error")) == ["unknown_value", "unparseable_value"]
    assert report.by_code("unknown_value")[0].value == "开公"
    assert report.by_code("unparseable_value")[0].value == "六月底"


# ----------------------------------------------------------------------------- real data


def test_real_county_boundaries_are_all_repaired_and_none_dropped(county_boundaries: Path):
    raw = gpd.read_file(county_boundaries)
    districts = raw.rename(columns={"adcode": "district_id", "county": "name"}).assign(
        level="county")
    invalid = ~shapely.is_valid(districts.geometry.to_numpy())
    assert invalid.sum() == 17
    out, report = check(districts, "districts")
    assert report.counts["districts"].repaired == 17
    assert len(report.by_code("invalid_geometry_repaired")) == 17
    assert report.errors == []
    assert shapely.is_valid(out.geometry.to_numpy()).all()
    assert set(out.geom_type) <= {"Polygon", "MultiPolygon"}
    assert has_flag(out, "invalid_geometry_repaired").to_numpy().tolist() == invalid.tolist()
    # the repairs undo quantisation wiggles: each county keeps its area (within 0.5%)
    before = raw.to_crs(4545).area.to_numpy()
    after = out.to_crs(4545).area.to_numpy()
    np.testing.assert_allclose(after, before, rtol=0.005)


# ----------------------------------------------------------------------------- projects


@pytest.fixture
def project(tmp_path: Path) -> Project:
    gdf = compounds(3)
    gdf.loc[0, "geometry"] = shapely.Polygon(
        [(LON, LAT), (LON + D, LAT + D), (LON + D, LAT), (LON, LAT + D)])
    gdf.loc[2, "built_year"] = None
    utilities = gpd.GeoDataFrame({"utility_id": ["u1"], "network": ["电力"]},
                                 geometry=[shapely.LineString([(LON, LAT), (LON, LAT + D)])],
                                 crs=4326)
    return Project.create(tmp_path / "p.gpkg", meta={"name": "test"},
                          layers={"compounds": gdf, "utilities": utilities})


def test_validate_project_counts_every_layer(project: Project):
    report = validate_project(project, today=TODAY)
    counts = report.counts_frame().set_index("layer")
    assert counts.loc["compounds", ["rows_in", "rows_out", "flagged", "repaired"]].tolist() == [
        3, 3, 2, 1]
    assert counts.loc["utilities", ["rows_in", "rows_out"]].tolist() == [1, 1]
    assert sorted(codes(report)) == ["invalid_geometry_repaired", "missing_built_year"]
    assert all(f.file == str(project.path) for f in report)


def test_text_numbers_in_a_foreign_geopackage_are_reported_per_row(project: Project):
    bad = compounds(3, households=["120", "一百二十户", "80户"])
    pyogrio.write_dataframe(bad, project.path, layer="compounds")
    frames = read_canonical_layers(project)
    _, report = validate_frames(frames, today=TODAY)
    assert [f.value for f in report.by_code("unparseable_number")] == ["一百二十户", "80户"]
    assert report.counts["compounds"].balanced


def test_validate_frames_passes_analysis_layers_through():
    extra = pd.DataFrame({"bundle_id": [1, 2]})
    out, report = validate_frames({"compounds": compounds(), "bundles": extra}, today=TODAY)
    assert out["bundles"] is extra
    assert list(report.counts) == ["compounds"]


def test_many_compounds_validate():
    n = 20_000
    side = 150
    i = np.arange(n)
    x, y = LON + (i % side) * 2 * D, LAT + (i // side) * 2 * D
    gdf = gpd.GeoDataFrame({"compound_id": [f"C{k}" for k in i], "name": [f"小区{k}" for k in i],
                            "built_year": 1990, "households": 50},
                           geometry=shapely.box(x, y, x + D, y + D), crs=4326)
    _, report = check(gdf)  # timing is measured in benchmarks/, not here
    assert report.ok
    assert report.counts["compounds"].rows_out == n


# ------------------------------------------------------------------ rows as the user sees them


def test_findings_name_source_rows_when_the_frame_carries_them():
    gdf = compounds(3, households=pd.array([100, -5, 120], dtype="Int64"))
    gdf.attrs["source_rows"] = np.array([4, 5, 7])  # a title, a header, a blank row above
    _, report = validate_layer(gdf, "compounds", today=TODAY)
    [f] = report.by_code("nonpositive_households")
    assert f.row == "5 (compound_id=GY-002)"


def test_source_rows_follow_the_index_after_filtering():
    gdf = compounds(3, households=pd.array([100, 110, -5], dtype="Int64"))
    gdf.attrs["source_rows"] = np.array([4, 5, 6])
    _, report = validate_layer(gdf.iloc[[0, 2]], "compounds", today=TODAY)
    assert report.by_code("nonpositive_households")[0].row == "6 (compound_id=GY-003)"


def test_duplicate_ids_name_the_source_rows():
    gdf = compounds(3, compound_id=["A", "B", "A"])
    gdf.attrs["source_rows"] = np.array([3, 4, 5])
    _, report = validate_layer(gdf, "compounds", today=TODAY)
    assert report.by_code("duplicate_id")[0].row == [3, 5]


def test_import_of_an_xlsx_with_a_title_row_names_the_sheet_row(tmp_path: Path):
    import openpyxl
    from click.testing import CliRunner

    from gisplan.cli import cli

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["原州区社区服务设施清单"])
    ws.append(["设施编号", "设施类型", "名称", "经度", "纬度"])
    ws.append(["F01", "幼儿园", "西关幼儿园", LON, LAT])
    ws.append(["F02", "中水站", "南城中水站", LON + D, LAT])
    wb.save(tmp_path / "设施.xlsx")
    findings = tmp_path / "findings.csv"
    result = CliRunner().invoke(cli, ["import", str(tmp_path / "p.gpkg"),
                                      str(tmp_path / "设施.xlsx"), "--layer", "facilities",
                                      "--findings", str(findings)])
    assert result.exit_code == 2, result.output
    assert "row 4 (facility_id=F02)" in result.output  # sheet row 4, not data row 2
    table = pd.read_csv(findings, dtype=str)
    assert table.loc[table["code"] == "unknown_value", "row"].tolist() == ["4 (facility_id=F02)"]
