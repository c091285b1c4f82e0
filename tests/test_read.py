"""Readers: real files (Excel, CSV in GBK, GBK Shapefile without .cpg, GeoJSON, GeoPackage)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from gisplan._errors import CRSError, GeometryError, InputError, SchemaError
from gisplan.findings import has_flag
from gisplan.read import ValueParseError, map_headers, read_layer, read_table

LON, LAT = 106.2781, 36.0046  # 固原市原州区


# ------------------------------------------------------------------ fixture builders


def write_compound_xlsx(path: Path, rows: list[list], *, sheet: str = "2022年计划") -> Path:
    """An inventory as counties send it: a title row, a two-row merged header, a total row.

    Layout (sheet rows)::

        1  固原市区2022年老旧小区改造项目清单                       (merged A1:J1)
        2  小区编号 | 小区名称 | 县区 | 建成年代 | 规模          | 坐标       | 备注
        3           |          |      |          | 户数|楼栋数|住宅建筑面积（平方米）| 经度|纬度 |
        4… data rows; the 县区 cell of the first two data rows is merged vertically
    """
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws["A1"] = "固原市区2022年老旧小区改造项目清单"
    ws.merge_cells("A1:J1")
    for col, text in zip("ABCDEHJ", ["小区编号", "小区名称", "县区", "建成年代", "规模", "坐标",
                                     "备注"], strict=True):
        ws[f"{col}2"] = text
    for col in "ABCDJ":
        ws.merge_cells(f"{col}2:{col}3")
    ws.merge_cells("E2:G2")
    ws.merge_cells("H2:I2")
    for col, text in zip("EFGHI", ["户数", "楼栋数", "住宅建筑面积（平方米）", "经度", "纬度"],
                         strict=True):
        ws[f"{col}3"] = text
    for r, row in enumerate(rows, start=4):
        for c, v in enumerate(row, start=1):
            if v is not None:
                ws.cell(row=r, column=c, value=v)
    if len(rows) >= 2:
        ws.merge_cells("C4:C5")
    wb.save(path)
    return path


def guyuan_rows() -> list[list]:
    return [
        ["C01", "东海园区", "原州区", "1998年", "1,435户", "35栋", "6.418万平方米", LON, LAT, ""],
        ["C02", "福平苑", None, "1990年代", "约200户", 12, 20000, LON + 0.01, LAT, "临街"],
        ["C03", "税务小区", "原州区", 2001.06, "１２０", "3", "5,000㎡", None, None, None],
        ["合计", None, None, None, 1755, 50, 89180, None, None, None],
    ]


@pytest.fixture
def compound_xlsx(tmp_path: Path) -> Path:
    return write_compound_xlsx(tmp_path / "小区清单.xlsx", guyuan_rows())


def write_csv(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


CSV_TEXT = (
    "小区编号,小区名称,建成年份,户数（户）,经度,纬度\n"
    f"C01,东海园区,1998年,\"1,435\",{LON},{LAT}\n"
    f"C02,福平苑,1995,200户,{LON + 0.01},{LAT + 0.01}\n"
)


# ------------------------------------------------------------------ Excel


def test_xlsx_finds_header_below_title_and_merged_two_row_header(compound_xlsx):
    gdf, report = read_layer(compound_xlsx, "compounds")
    assert list(gdf.columns[:7]) == ["compound_id", "name", "county", "built_year",
                                     "households", "buildings", "floor_area_m2"]
    assert gdf["households"].tolist() == [1435, 200, 120]
    assert gdf["floor_area_m2"].tolist() == pytest.approx([64180.0, 20000.0, 5000.0])
    assert report.by_code("header_row")[0].row == 2


def test_xlsx_fills_cells_merged_down_a_column(compound_xlsx):
    gdf, _ = read_layer(compound_xlsx, "compounds")
    assert gdf["county"].tolist() == ["原州区", "原州区", "原州区"]


def test_xlsx_points_from_lon_lat_and_row_without_coordinates_kept(compound_xlsx):
    gdf, report = read_layer(compound_xlsx, "compounds")
    assert gdf.geometry.iloc[0].equals_exact(shapely.Point(LON, LAT), tolerance=1e-9)
    assert gdf.geometry.iloc[2] is None
    count = report.counts["compounds"]
    assert (count.rows_in, count.rows_out) == (3, 3)


def test_xlsx_total_row_is_reported_not_read(compound_xlsx):
    gdf, report = read_layer(compound_xlsx, "compounds")
    assert "合计" not in gdf["compound_id"].tolist()
    [skipped] = report.by_code("total_row_skipped")
    assert skipped.row == 7


def test_xlsx_source_rows_are_sheet_rows(compound_xlsx):
    gdf, _ = read_layer(compound_xlsx, "compounds")
    assert gdf.attrs["source_rows"].tolist() == [4, 5, 6]
    assert gdf.attrs["source_layer"] == "2022年计划"


def test_xlsx_approximate_values_are_flagged(compound_xlsx):
    gdf, report = read_layer(compound_xlsx, "compounds")
    assert has_flag(gdf, "year_approximate").tolist() == [False, True, False]
    assert has_flag(gdf, "value_approximate").tolist() == [False, True, False]
    assert report.by_code("year_approximate")[0].row == 5


def test_xlsx_unknown_columns_kept_unchanged(compound_xlsx):
    gdf, _ = read_layer(compound_xlsx, "compounds")
    assert gdf["备注"].tolist()[1] == "临街"


def test_xlsx_header_mapping_is_reported(compound_xlsx):
    _, report = read_layer(compound_xlsx, "compounds")
    mapped = {f.column: f.value for f in report.by_code("header_mapped")}
    assert mapped["规模/住宅建筑面积（平方米）"] == "floor_area_m2"
    assert mapped["坐标/经度"] == "__lon__"


def test_xlsx_bad_number_names_file_sheet_row_column_value(tmp_path):
    rows = guyuan_rows()
    rows[1][4] = "十几户"
    path = write_compound_xlsx(tmp_path / "清单.xlsx", rows)
    with pytest.raises(ValueParseError) as info:
        read_layer(path, "compounds")
    err = info.value
    assert (err.file, err.layer, err.row, err.column, err.value) == (
        str(path), "2022年计划", 5, "规模/户数", "十几户")
    text = str(err)
    assert "清单.xlsx" in text and "row 5" in text and "户数" in text and "十几户" in text
    assert "Fix:" in text


def test_xlsx_lists_every_bad_cell_in_one_error(tmp_path):
    rows = guyuan_rows()
    rows[0][5] = "三十五栋"
    rows[2][4] = "若干"
    with pytest.raises(ValueParseError) as info:
        read_layer(write_compound_xlsx(tmp_path / "x.xlsx", rows), "compounds")
    assert [(f.row, f.value) for f in info.value.findings] == [(6, "若干"), (4, "三十五栋")]


def test_xlsx_header_in_wan_square_metres_is_scaled(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["小区编号", "小区名称", "住宅建筑面积（万平方米）", "经度", "纬度"])
    ws.append(["C01", "东海园区", 6.418, LON, LAT])
    wb.save(tmp_path / "w.xlsx")
    gdf, report = read_layer(tmp_path / "w.xlsx", "compounds")
    assert gdf["floor_area_m2"].iloc[0] == pytest.approx(64180.0)
    assert report.by_code("unit_scaled")


def test_a_cell_that_states_wan_itself_under_a_wan_header_is_scaled_once(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["小区编号", "小区名称", "住宅建筑面积（万平方米）", "经度", "纬度"])
    ws.append(["C01", "东海园区", 6.418, LON, LAT])
    ws.append(["C02", "西湖园区", "0.120万平方米", LON, LAT])
    ws.append(["C03", "南山园区", "0.5", LON, LAT])
    wb.save(tmp_path / "w.xlsx")
    gdf, _ = read_layer(tmp_path / "w.xlsx", "compounds")
    assert gdf["floor_area_m2"].tolist() == pytest.approx([64180.0, 1200.0, 5000.0])


def test_xlsx_picks_the_sheet_that_holds_the_layer(tmp_path):
    path = write_compound_xlsx(tmp_path / "two.xlsx", guyuan_rows())
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("说明", 0)["A1"] = "填表说明：面积单位为平方米"
    wb.save(path)
    gdf, _ = read_layer(path, "compounds")
    assert gdf.attrs["source_layer"] == "2022年计划"
    with pytest.raises(InputError, match="no sheet"):
        read_layer(path, "compounds", sheet="2023年计划")


# ------------------------------------------------------------------ CSV


def test_csv_in_gbk_is_detected_and_flagged(tmp_path):
    path = write_csv(tmp_path / "gbk.csv", CSV_TEXT, "gbk")
    gdf, report = read_layer(path, "compounds")
    assert gdf["name"].tolist() == ["东海园区", "福平苑"]
    assert gdf["households"].tolist() == [1435, 200]
    assert report.by_code("encoding_guessed")[0].value == "gbk"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_csv_in_utf8_is_not_flagged(tmp_path, encoding):
    gdf, report = read_layer(write_csv(tmp_path / "u.csv", CSV_TEXT, encoding), "compounds")
    assert gdf["name"].tolist() == ["东海园区", "福平苑"]
    assert not report.by_code("encoding_guessed")


def test_csv_without_crs_is_inferred_wgs84(tmp_path):
    gdf, report = read_layer(write_csv(tmp_path / "c.csv", CSV_TEXT, "utf-8"), "compounds")
    assert gdf.crs.to_epsg() == 4326
    assert report.by_code("crs_inferred")


def test_csv_declared_crs_is_kept(tmp_path):
    gdf, report = read_layer(write_csv(tmp_path / "c.csv", CSV_TEXT, "utf-8"), "compounds",
                             crs=4490)
    assert gdf.crs == CRS.from_epsg(4490)
    assert not report.by_code("crs_inferred")


def test_csv_metres_without_crs_is_an_error(tmp_path):
    text = "小区编号,小区名称,x,y\nC01,东海园区,512345.0,3987654.0\n"
    with pytest.raises(CRSError, match="--crs"):
        read_layer(write_csv(tmp_path / "m.csv", text, "utf-8"), "compounds")


def test_csv_with_wkt_column(tmp_path):
    poly = shapely.box(LON, LAT, LON + 0.001, LAT + 0.001)
    text = f'小区编号,小区名称,WKT\nC01,东海园区,"{poly.wkt}"\nC02,福平苑,\n'
    gdf, report = read_layer(write_csv(tmp_path / "wkt.csv", text, "utf-8"), "compounds")
    assert gdf.geometry.iloc[0].equals_exact(poly, tolerance=1e-9)
    assert gdf.geometry.iloc[1] is None
    assert report.counts["compounds"].balanced


def test_csv_bad_wkt_names_the_row(tmp_path):
    text = '小区编号,小区名称,WKT\nC01,东海园区,"POLYGON ((1 2, 3"\n'
    with pytest.raises(SchemaError) as info:
        read_layer(write_csv(tmp_path / "bad.csv", text, "utf-8"), "compounds")
    assert (info.value.row, info.value.column) == (2, "WKT")


def test_csv_without_coordinates_is_a_geometry_error(tmp_path):
    text = "小区编号,小区名称\nC01,东海园区\n"
    with pytest.raises(GeometryError, match="经度"):
        read_layer(write_csv(tmp_path / "n.csv", text, "utf-8"), "compounds")


def test_missing_required_column_lists_found_columns_and_closest_match(tmp_path):
    text = f"小区代号,小区名称,经度,纬度\nC01,东海园区,{LON},{LAT}\n"
    with pytest.raises(SchemaError) as info:
        read_layer(write_csv(tmp_path / "r.csv", text, "utf-8"), "compounds")
    msg = str(info.value)
    assert "小区编号 (compound_id)" in msg
    assert "closest: '小区代号'" in msg
    assert "Columns found: 小区代号, 小区名称, 经度, 纬度" in msg


# ------------------------------------------------------------------ vector formats


def compounds_gdf(n: int = 3) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "小区编号": [f"C{i:02d}" for i in range(n)],
            "小区名称": ["东海园区", "福平苑", "税务小区"][:n],
            "户数": ["1,435户", "200", "120"][:n],
            "住宅建筑面积": [64180.0, 20000.0, 5000.0][:n],
            "改造类型": ["基础类、完善类", "基础类", "基础类,提升类"][:n],
        },
        geometry=[shapely.box(LON + i * 0.01, LAT, LON + i * 0.01 + 0.005, LAT + 0.005)
                  for i in range(n)],
        crs=4326,
    )


@pytest.mark.filterwarnings("ignore:Could not decode error message")
def test_shapefile_gbk_without_cpg_is_decoded(tmp_path):
    path = tmp_path / "小区.shp"
    compounds_gdf().to_file(path, encoding="GBK", engine="pyogrio")
    path.with_suffix(".cpg").unlink()
    gdf, report = read_layer(path, "compounds")
    assert gdf["name"].tolist() == ["东海园区", "福平苑", "税务小区"]
    assert report.by_code("encoding_guessed")


@pytest.mark.filterwarnings("ignore:Could not decode error message")
def test_shapefile_truncated_field_names_are_matched(tmp_path):
    path = tmp_path / "a.shp"
    compounds_gdf().to_file(path, encoding="GBK", engine="pyogrio")  # 住宅建筑面积 → 住宅建筑面
    gdf, _ = read_layer(path, "compounds")
    assert gdf["floor_area_m2"].tolist() == pytest.approx([64180.0, 20000.0, 5000.0])


def test_geojson_headers_and_categories(tmp_path):
    path = tmp_path / "c.geojson"
    compounds_gdf().to_file(path, driver="GeoJSON", engine="pyogrio")
    gdf, report = read_layer(path, "compounds")
    assert gdf["categories"].tolist() == ["basic;improvement", "basic", "basic;upgrade"]
    assert gdf.crs.to_epsg() == 4326
    assert gdf.total_bounds == pytest.approx([LON, LAT, LON + 0.025, LAT + 0.005])
    assert report.counts["compounds"].balanced


def test_geopackage_layer_chosen_by_kind(tmp_path):
    path = tmp_path / "p.gpkg"
    compounds_gdf().to_file(path, layer="compounds", engine="pyogrio")
    compounds_gdf(1).to_file(path, layer="other", engine="pyogrio")
    gdf, _ = read_layer(path, "compounds")
    assert len(gdf) == 3


def test_geopackage_with_several_layers_none_named_asks_for_one(tmp_path):
    path = tmp_path / "p.gpkg"
    compounds_gdf().to_file(path, layer="a", engine="pyogrio")
    compounds_gdf(1).to_file(path, layer="b", engine="pyogrio")
    with pytest.raises(InputError, match="a, b"):
        read_layer(path, "compounds")
    assert len(read_layer(path, "compounds", layer="b")[0]) == 1


def test_declared_crs_of_a_file_is_kept(tmp_path):
    path = tmp_path / "p.gpkg"
    compounds_gdf().to_crs(4545).to_file(path, layer="compounds", engine="pyogrio")
    gdf, report = read_layer(path, "compounds")
    assert gdf.crs.to_epsg() == 4545
    assert not report.by_code("crs_inferred")


def test_unknown_term_is_kept_and_flagged(tmp_path):
    path = tmp_path / "u.geojson"
    gpd.GeoDataFrame({"管线编号": ["U1", "U2"], "管线类型": ["自来水", "中水"]},
                     geometry=[shapely.LineString([(LON, LAT), (LON + 0.01, LAT)])] * 2,
                     crs=4326).to_file(path, driver="GeoJSON")
    gdf, report = read_layer(path, "utilities")
    assert gdf["network"].tolist() == ["water_supply", "中水"]
    assert has_flag(gdf, "unknown_term").tolist() == [False, True]
    assert "供水" in report.by_code("unknown_term")[0].hint


def test_gcj02_coordinates_are_converted_to_wgs84(tmp_path):
    chinacoords = pytest.importorskip("gisplan.chinacoords")
    x, y = chinacoords.convert(np.array([LON]), np.array([LAT]), src="wgs84", dst="gcj02")
    text = f"小区编号,小区名称,经度,纬度\nC01,东海园区,{float(x[0])!r},{float(y[0])!r}\n"
    gdf, report = read_layer(write_csv(tmp_path / "g.csv", text, "utf-8"), "compounds",
                             coords="gcj02")
    p = gdf.geometry.iloc[0]
    assert abs(p.x - LON) < 1e-5 and abs(p.y - LAT) < 1e-5
    assert report.by_code("coords_converted")
    # declaring GCJ-02 says the coordinates are lon/lat: no "CRS assumed" warning on top
    assert not report.by_code("crs_inferred")


# ------------------------------------------------------------------ tables


def test_read_table_progress_log_from_excel(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "6月进度"
    ws.append(["许昌市2023年老旧小区改造进度表"])
    ws.append(["小区名称", "填报日期", "形象进度", "居民同意率", "签订施工合同"])
    ws.append(["东海园区", "2023年6月30日", "已开工", "85%", "是"])
    ws.append(["福平苑", dt.datetime(2023, 6, 1), "设计公示", 0.9, "否"])
    ws.append(["税务小区", "2023.6.5", "完工", 95, None])
    wb.save(tmp_path / "p.xlsx")
    df, report = read_table(tmp_path / "p.xlsx", "progress_log")
    assert df["date"].tolist() == [dt.date(2023, 6, 30), dt.date(2023, 6, 1),
                                   dt.date(2023, 6, 5)]
    assert df["stage"].tolist() == ["started", "designed", "completed"]
    assert df["consent_rate"].tolist() == pytest.approx([0.85, 0.9, 0.95])
    assert df["contract_signed"].tolist()[:2] == [True, False]
    assert df["source_row"].tolist() == [3, 4, 5]
    assert report.counts["progress_log"].balanced


def test_read_layer_refuses_a_table_kind(tmp_path):
    with pytest.raises(SchemaError, match="read_table"):
        read_layer(write_csv(tmp_path / "c.csv", CSV_TEXT, "utf-8"), "progress_log")


# ------------------------------------------------------------------ header mapping


def test_map_headers_strips_units_and_keeps_first_of_duplicates():
    mapping = map_headers(["小区名称", "户数（户）", "居民户数", "住宅建筑面积(㎡)", "备注"],
                          "compounds")
    assert mapping == {"小区名称": "name", "户数（户）": "households",
                       "住宅建筑面积(㎡)": "floor_area_m2"}


def test_large_csv_reads_fast_enough(tmp_path):
    n = 20_000
    df = pd.DataFrame({"小区编号": [f"C{i}" for i in range(n)], "小区名称": "某小区",
                       "户数": [f"{i:,}户" for i in range(n)], "经度": LON, "纬度": LAT})
    path = tmp_path / "big.csv"
    df.to_csv(path, index=False, encoding="gbk")
    gdf, report = read_layer(path, "compounds")
    assert len(gdf) == n and report.counts["compounds"].balanced
    assert gdf["households"].iloc[-1] == n - 1


# ------------------------------------------------------------------ gisplan import


def test_cli_import_writes_layer_into_a_new_programme(tmp_path):
    from click.testing import CliRunner

    from gisplan.cli import cli
    from gisplan.store import Project

    src = tmp_path / "c.geojson"
    compounds_gdf().to_file(src, driver="GeoJSON", engine="pyogrio")
    project = tmp_path / "prog.gpkg"
    result = CliRunner().invoke(cli, ["import", str(project), str(src), "--layer", "compounds"])
    assert result.exit_code == 0, result.output
    assert "rows read 读入 3, rows returned 输出 3" in result.output
    assert "改造类型" in result.output  # the header mapping table
    stored = Project.open(project).read("compounds")
    assert stored["households"].tolist() == [1435, 200, 120]


def test_cli_import_with_errors_writes_nothing(tmp_path):
    from click.testing import CliRunner

    from gisplan.cli import cli

    src = write_compound_xlsx(tmp_path / "x.xlsx", guyuan_rows())  # points, not polygons
    project = tmp_path / "prog.gpkg"
    result = CliRunner().invoke(cli, ["import", str(project), str(src), "--layer", "compounds"])
    assert result.exit_code == 2
    assert "wrong_geometry_type" in result.output
    assert not project.exists()


def test_crs_given_as_text_code_and_unknown_crs_is_an_error(tmp_path):
    path = write_csv(tmp_path / "c.csv", CSV_TEXT, "utf-8")
    assert read_layer(path, "compounds", crs="4490")[0].crs.to_epsg() == 4490
    with pytest.raises(CRSError, match="unknown CRS"):
        read_layer(path, "compounds", crs="EPSG:99999999")


# ------------------------------------------------------------------ header detection


def test_csv_first_data_row_with_a_stage_named_like_a_header_is_data(tmp_path):
    # 设计公示 is a stage (designed) and also an alias of the design_posted header
    text = ("小区名称,填报日期,形象进度,居民同意率\n"
            "东海园区,2023年6月30日,设计公示,85%\n"
            "福平苑,2023年6月1日,已开工,90%\n")
    df, _ = read_table(write_csv(tmp_path / "p.csv", text, "utf-8"), "progress_log")
    assert df["stage"].tolist() == ["designed", "started"]
    assert df["source_row"].tolist() == [2, 3]


def test_xlsx_first_data_row_with_a_stage_named_like_a_header_is_data(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["小区名称", "填报日期", "形象进度"])
    ws.append(["东海园区", "2023年6月30日", "设计公示"])
    ws.append(["福平苑", "2023年6月1日", "开工"])
    wb.save(tmp_path / "p.xlsx")
    df, _ = read_table(tmp_path / "p.xlsx", "progress_log")
    assert df["stage"].tolist() == ["designed", "started"]
    assert df["source_row"].tolist() == [2, 3]


def test_csv_two_row_header_without_merges_is_joined(tmp_path):
    # a merged Excel header saved as CSV: group labels above, column names below
    text = ("小区编号,小区名称,规模,,坐标,\n"
            ",,户数,楼栋数,经度,纬度\n"
            f"C01,东海园区,1435,35,{LON},{LAT}\n")
    gdf, report = read_layer(write_csv(tmp_path / "two.csv", text, "utf-8"), "compounds")
    assert gdf["compound_id"].tolist() == ["C01"]
    assert gdf["households"].tolist() == [1435]
    assert gdf.attrs["source_rows"].tolist() == [3]
    mapped = {f.column: f.value for f in report.by_code("header_mapped")}
    assert mapped["规模/户数"] == "households"


def test_csv_header_row_above_data_rows_of_numbers_stays_one_row(tmp_path):
    text = f"小区编号,小区名称,户数,经度,纬度\n户数,东海园区,1435,{LON},{LAT}\n"
    gdf, _ = read_layer(write_csv(tmp_path / "one.csv", text, "utf-8"), "compounds")
    assert gdf["compound_id"].tolist() == ["户数"]


# ------------------------------------------------------------------ CSV fast path


def test_csv_quoted_cell_with_a_line_break_counts_lines(tmp_path):
    text = (f'小区编号,小区名称,经度,纬度\nC01,"东海园区\n（一期）",{LON},{LAT}\n'
            f"C02,福平苑,{LON},{LAT}\n")
    gdf, _ = read_layer(write_csv(tmp_path / "ml.csv", text, "utf-8"), "compounds")
    assert gdf["name"].tolist() == ["东海园区\n（一期）", "福平苑"]
    assert gdf.attrs["source_rows"].tolist() == [2, 4]


def test_csv_cells_of_spaces_are_blank_and_a_row_of_them_is_skipped(tmp_path):
    text = (f"小区编号,小区名称,备注,经度,纬度\nC01,东海园区,\u3000,{LON},{LAT}\n"
            " , ,\u3000, , \n"
            f"C02,福平苑,临街,{LON},{LAT}\n")
    gdf, report = read_layer(write_csv(tmp_path / "sp.csv", text, "gbk"), "compounds")
    assert gdf["备注"].tolist() == [None, "临街"]
    assert gdf.attrs["source_rows"].tolist() == [2, 4]
    assert report.by_code("blank_rows_skipped")


def test_csv_coordinates_in_full_width_digits_are_read(tmp_path):
    text = "小区编号,小区名称,经度,纬度\nC01,东海园区,１０６.２７８１,３６.００４６\n"
    gdf, _ = read_layer(write_csv(tmp_path / "fw.csv", text, "utf-8"), "compounds")
    assert gdf.geometry.iloc[0].equals_exact(shapely.Point(LON, LAT), tolerance=1e-9)


def test_csv_bad_coordinate_names_row_column_and_value(tmp_path):
    text = f"小区编号,小区名称,经度,纬度\nC01,东海园区,{LON},{LAT}\nC02,福平苑,东经106度,{LAT}\n"
    with pytest.raises(ValueParseError) as info:
        read_layer(write_csv(tmp_path / "bad.csv", text, "utf-8"), "compounds")
    assert (info.value.row, info.value.column, info.value.value) == (3, "经度", "东经106度")
