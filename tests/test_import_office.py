"""``gisplan import`` on files made the way a county office makes them.

A title row, a two-row merged header, 序号 and no id column, units in the cells ("1,435户",
"6.4万平方米" under a 万 header, "1998年"), outlines as GCJ-02 WKT picked on Amap, a
所在街道 and a 备注 column, a blank line and a 合计 row; a facilities sheet with 经度/纬度
and Chinese type names. Also: a wrong ``--crs``, data defects, an empty file, hints.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from gisplan._errors import CRSError, SchemaError
from gisplan.chinacoords import convert
from gisplan.cli import main
from gisplan.findings import has_flag
from gisplan.read import read_layer
from gisplan.schema import suggest_terms, zh
from gisplan.store import Project
from gisplan.validate import validate_layer

ROOT = Path(__file__).resolve().parents[1]
XUCHANG = ROOT / "layers" / "xuchang_2023.gpkg"


def gisplan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the command line as a user does; return (exit code, stdout + stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture(scope="module")
def xuchang() -> dict[str, gpd.GeoDataFrame]:
    p = Project.open(XUCHANG)
    return {"compounds": p.read("compounds").head(6), "facilities": p.read("facilities").head(5)}


@pytest.fixture
def office_xlsx(tmp_path: Path, xuchang: dict[str, gpd.GeoDataFrame]) -> Path:
    c, f = xuchang["compounds"], xuchang["facilities"]
    outlines = convert(c.geometry, src="wgs84", dst="gcj02")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "2023年计划"
    ws.append(["许昌市2023年城镇老旧小区改造计划表"])
    ws.merge_cells("A1:I1")
    ws.append(["序号", "小区名称", "所在街道", "规模", None, "建成年份", "边界", "备注",
               "住宅建筑面积"])
    ws.append([None, None, None, "户数", "楼栋数", None, None, None, "（万平方米）"])
    ws.merge_cells("D2:E2")
    for col in "ABCFGH":
        ws.merge_cells(f"{col}2:{col}3")
    for i, (r, g) in enumerate(zip(c.itertuples(), outlines, strict=True), start=1):
        if i == 4:
            ws.append([])  # a blank line in the middle
        ws.append([i, r.name, r.street, f"{r.households:,}户", f"{r.buildings}栋",
                   f"{r.built_year}年", g.wkt, "已摸底" if i % 2 else None,
                   f"{r.floor_area_m2 / 1e4:.4f}"])
    ws.append(["合计", None, None, f"{c.households.sum():,}", None, None, None, None, None])
    fs = wb.create_sheet("设施")
    fs.append(["序号", "设施名称", "设施类型", "经度", "纬度"])
    pts = convert(f.geometry, src="wgs84", dst="gcj02")
    for i, (r, p) in enumerate(zip(f.itertuples(), pts, strict=True), start=1):
        fs.append([i, r.name, zh("facility_type", r.facility_type), round(p.x, 7),
                   round(p.y, 7)])
    path = tmp_path / "小区清单.xlsx"
    wb.save(path)
    return path


def test_office_list_reads_every_row_with_generated_ids(office_xlsx: Path, xuchang):
    c = xuchang["compounds"]
    gdf, report = read_layer(office_xlsx, "compounds", coords="gcj02")
    assert len(gdf) == 6 and report.counts["compounds"].balanced
    assert gdf["compound_id"].tolist() == [f"C000{i}" for i in range(1, 7)]
    assert has_flag(gdf, "id_generated").all()
    assert gdf["households"].tolist() == c["households"].tolist()
    assert gdf["built_year"].tolist() == c["built_year"].tolist()
    assert np.allclose(gdf["floor_area_m2"], c["floor_area_m2"], rtol=1e-3)
    assert gdf["street"].tolist() == c["street"].tolist()  # 所在街道 is the street
    # the user's own columns are kept as they were
    assert gdf["序号"].tolist() == [1, 2, 3, 4, 5, 6]
    assert gdf["备注"].tolist()[:2] == ["已摸底", None]
    # excel rows: title 1, header 2-3, data 4-6, blank 7, data 8-10, 合计 11
    assert gdf.attrs["source_rows"].tolist() == [4, 5, 6, 8, 9, 10]
    [total] = report.by_code("total_row_skipped")
    assert total.row == 11
    assert report.by_code("blank_rows_skipped")
    # GCJ-02 outlines are back on the WGS84 ones within a metre
    metric = gpd.GeoSeries(gdf.geometry.to_numpy(), crs=4326).to_crs(4547)
    orig = gpd.GeoSeries(c.geometry.to_numpy(), crs=4326).to_crs(4547)
    assert float(metric.hausdorff_distance(orig, align=False).max()) < 1.0


def test_facilities_sheet_with_chinese_types_and_no_id(office_xlsx: Path, xuchang):
    gdf, report = read_layer(office_xlsx, "facilities", sheet="设施", coords="gcj02")
    assert gdf["facility_id"].tolist() == [f"F000{i}" for i in range(1, 6)]
    assert gdf["facility_type"].tolist() == xuchang["facilities"]["facility_type"].tolist()
    [f] = report.by_code("id_generated")
    assert "序号" in f.message and "--id-column" in f.hint


def test_id_column_picks_the_ids(tmp_path: Path):
    path = tmp_path / "f.csv"
    path.write_text("项目代码,小区名称,wkt\nXC-7,东海园区,\"POLYGON ((113.8 34.0, 113.801 34.0, "
                    "113.801 34.001, 113.8 34.0))\"\n", encoding="utf-8")
    gdf, report = read_layer(path, "compounds", id_column="项目代码")
    assert gdf["compound_id"].tolist() == ["XC-7"]
    assert not report.by_code("id_generated")
    with pytest.raises(SchemaError, match="no column '编码'") as info:
        read_layer(path, "compounds", id_column="编码")
    assert "--id-column" in info.value.hint


def test_ids_from_row_order_when_the_number_column_repeats(tmp_path: Path):
    path = tmp_path / "f.csv"
    path.write_text("序号,小区名称,经度,纬度\n1,甲,113.8,34.0\n1,乙,113.81,34.0\n",
                    encoding="utf-8")
    gdf, report = read_layer(path, "compounds")
    assert gdf["compound_id"].tolist() == ["C0001", "C0002"]
    assert "row order" in report.by_code("id_generated")[0].message


def test_a_header_like_the_id_is_not_guessed_past(tmp_path: Path):
    path = tmp_path / "f.csv"
    path.write_text("小区代号,小区名称,经度,纬度\nC01,东海园区,113.8,34.0\n", encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        read_layer(path, "compounds")
    assert "--id-column '小区代号'" in info.value.hint


def test_extra_columns_survive_the_store_check_and_report(office_xlsx: Path, tmp_path: Path,
                                                          capsys):
    store = tmp_path / "p.gpkg"
    code, out = gisplan(capsys, "import", store, office_xlsx, "--layer", "compounds",
                        "--coords", "gcj02")
    assert code == 0, out
    assert "generated 生成 C0001–C0006" in out
    assert "rows read 读入 6, rows returned 输出 6, flagged 标记 6" in out
    stored = Project.open(store).read("compounds")
    assert {"序号", "备注"} <= set(stored.columns)
    code, out = gisplan(capsys, "check", store)
    assert code == 0, out
    code, out = gisplan(capsys, "report", store, "--out", tmp_path / "r.xlsx")
    assert code == 0, out
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames


# ---------------------------------------------------------------- CRS plausibility


@pytest.fixture
def xuchang_in_4547(tmp_path: Path, xuchang) -> Path:
    c = xuchang["compounds"].to_crs(4547)
    path = tmp_path / "gk.csv"
    c[["compound_id", "name"]].assign(wkt=c.geometry.to_wkt()).to_csv(path, index=False)
    return path


def test_wrong_gauss_kruger_zone_is_refused_with_the_right_one(
        xuchang_in_4547: Path, sample_copy, capsys):
    store = sample_copy("xuchang")
    code, out = gisplan(capsys, "import", store, xuchang_in_4547, "--layer", "compounds",
                        "--crs", "4545", "--dry-run")
    assert code == 2
    assert "km from the programme's other layers" in out
    assert "--crs 4547" in out
    code, out = gisplan(capsys, "import", store, xuchang_in_4547, "--layer", "compounds",
                        "--crs", "4547", "--dry-run")
    assert code == 0, out


def test_projected_coordinates_declared_as_degrees_name_the_zone(xuchang_in_4547: Path):
    with pytest.raises(CRSError, match="not longitude/latitude degrees") as info:
        read_layer(xuchang_in_4547, "compounds", crs=4326,
                   expected_bounds=(113.4, 33.8, 113.9, 34.3))
    assert "--crs 4547" in info.value.hint


def test_degrees_declared_as_a_projected_crs_are_outside_its_area(tmp_path: Path):
    path = tmp_path / "f.csv"
    path.write_text("小区编号,小区名称,经度,纬度\nA,甲,113.8,34.0\n", encoding="utf-8")
    with pytest.raises(CRSError, match="outside its area of use") as info:
        read_layer(path, "compounds", crs=4547)
    assert "--crs 4490" in info.value.hint


def test_check_reports_a_layer_far_from_the_compounds(xuchang):
    from gisplan.validate import validate_frames

    f = xuchang["facilities"].copy()
    moved = f.to_crs(4547).set_crs(4545, allow_override=True)  # the wrong zone, stored
    _, report = validate_frames({"compounds": xuchang["compounds"], "facilities": moved})
    [err] = report.by_code("crs_implausible")
    assert err.layer == "facilities" and "EPSG:4547" in err.hint


# ---------------------------------------------------------------- defects and hints


def test_data_defects_are_flagged_and_kept(tmp_path: Path):
    box = shapely.box(113.8, 34.0, 113.801, 34.001)
    gdf = gpd.GeoDataFrame(
        {"compound_id": ["A", "B", "C", "D"], "name": ["甲", "乙", "丙", "丁"],
         "households": pd.array([None, 0, 120, 80], dtype="Int64"),
         "floor_area_m2": [5000.0, 3000.0, 0.0, 6.4],
         "built_year": pd.array([1995, 1996, 2999, 1990], dtype="Int64")},
        geometry=[shapely.affinity.translate(box, 0.002 * i) for i in range(4)], crs=4326)
    out, report = validate_layer(gdf, "compounds")
    assert len(out) == 4 and report.counts["compounds"].balanced
    expect = {"missing_households": ["1 (compound_id=A)"],
              "nonpositive_households": ["2 (compound_id=B)"],
              "nonpositive_floor_area": ["3 (compound_id=C)"],
              "implausible_built_year": ["3 (compound_id=C)"],
              "implausible_floor_area": ["4 (compound_id=D)"]}
    for code, rows in expect.items():
        found = report.by_code(code)
        assert [f.row for f in found] == rows, code
        assert all(f.severity == "warning" and f.column and f.hint for f in found), code
        assert has_flag(out, code).sum() == len(rows), code
    [future] = report.by_code("implausible_built_year")
    assert future.value == 2999 and "in the future" in future.message


def test_import_flags_defects_and_writes_the_rows(tmp_path: Path, capsys):
    path = tmp_path / "c.csv"
    a = shapely.box(113.8, 34.0, 113.801, 34.001).wkt
    b = shapely.box(113.81, 34.0, 113.811, 34.001).wkt
    path.write_text("小区编号,小区名称,户数,住宅建筑面积,建成年份,wkt\n"
                    f'A,甲,,5000,1995,"{a}"\nB,乙,-3,0,2035,"{b}"\n', encoding="utf-8")
    code, out = gisplan(capsys, "import", tmp_path / "p.gpkg", path, "--layer", "compounds")
    assert code == 0, out
    for code_ in ("missing_households", "nonpositive_households", "nonpositive_floor_area",
                  "implausible_built_year"):
        assert code_ in out
    code, out = gisplan(capsys, "check", tmp_path / "p.gpkg")
    assert "missing_households" in out and "implausible_built_year" in out


@pytest.mark.parametrize(("vocab", "value", "expected"), [
    ("road_class", "unclassified", []),
    ("facility_type", "post", []),
    ("network", "燃汽", ["gas"]),
    ("road_class", "主干道路", ["arterial"]),
])
def test_hints_only_from_the_same_vocabulary_and_close(vocab, value, expected):
    assert suggest_terms(vocab, value) == expected


def test_unknown_road_class_gets_no_wrong_hint(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_text("道路编号,道路等级,wkt\nR1,unclassified,\"LINESTRING (113.8 34, 113.81 34)\"\n",
                    encoding="utf-8")
    gdf, report = read_layer(path, "roads")
    [f] = report.by_code("unknown_term")
    assert "did you mean" not in f.message
    _, checked = validate_layer(gdf, "roads")
    assert all("did you mean" not in f.message for f in checked.by_code("unknown_value"))


# ---------------------------------------------------------------- empty layers


def test_an_empty_file_is_an_error_naming_the_file_in_cli_terms(tmp_path: Path, capsys):
    path = tmp_path / "空表.csv"
    path.write_text("小区编号,小区名称,经度,纬度\n", encoding="utf-8")
    code, out = gisplan(capsys, "import", tmp_path / "p.gpkg", path, "--layer", "compounds")
    assert code == 2
    assert "empty_layer" in out and "空表.csv" in out and "--sheet" in out
    assert "crs=" not in out and not (tmp_path / "p.gpkg").exists()


def test_readers_and_validators_return_named_results(tmp_path: Path):
    from gisplan.read import ReadResult, read_table
    from gisplan.validate import ValidateFramesResult, ValidateResult, validate_frames

    path = tmp_path / "c.csv"
    path.write_text("小区编号,小区名称,经度,纬度\nA,甲,113.8,34.0\n", encoding="utf-8")
    result = read_layer(path, "compounds")
    assert isinstance(result, ReadResult) and len(result) == 2
    gdf, report = result
    assert gdf is result.frame and report is result.report
    checked = validate_layer(gdf, "compounds")
    assert isinstance(checked, ValidateResult) and checked.report.counts["compounds"].balanced
    many = validate_frames({"compounds": gdf})
    assert isinstance(many, ValidateFramesResult) and list(many.frames) == ["compounds"]
    log = tmp_path / "log.csv"
    log.write_text("小区编号,日期,形象进度\nA,2023-06-30,开工\n", encoding="utf-8")
    table = read_table(log, "progress_log")
    assert isinstance(table, ReadResult) and table.frame["source_row"].tolist() == [2]
