"""Blank Excel templates: written, filled in the way an office does, imported cleanly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from gisplan.read import VOCAB_COLUMNS, map_headers
from gisplan.schema import layer_schema, vocab
from gisplan.store import Project
from gisplan.templates import (
    EXAMPLE_ROW,
    FIRST_DATA_ROW,
    HEADER_ROW,
    TEMPLATE_LAYERS,
    template_columns,
    write_template,
)

SCHEMA = {"progress": "progress_log"}



def fill(path: Path, rows: list[dict[str, Any]], *, drop_example: bool = False,
         extra: str | None = None) -> None:
    """Type *rows* (header → value) into the template from row 4, as an office would."""
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[HEADER_ROW]]
    if extra:  # offices add their own column (序号, 备注) at the right
        ws.cell(HEADER_ROW, len(headers) + 1, extra)
    for i, row in enumerate(rows):
        for key, value in row.items():
            col = headers.index(key) + 1 if key in headers else len(headers) + 1
            ws.cell(FIRST_DATA_ROW + i, col, value)
    if drop_example:
        ws.delete_rows(EXAMPLE_ROW)
    wb.save(path)


# ---------------------------------------------------------------- the workbook


@pytest.mark.parametrize("layer", TEMPLATE_LAYERS)
def test_headers_are_the_schema_and_map_back(layer: str) -> None:
    cols = template_columns(layer)
    mapping = map_headers([c.header for c in cols], SCHEMA.get(layer, layer))
    assert mapping == {c.header: c.name for c in cols}
    required = {c.name for c in layer_schema(SCHEMA.get(layer, layer)).columns
                if c.required} - {"log_id"}
    assert required <= {c.name for c in cols if c.required}
    assert all(c.header.endswith("（必填）") == c.required for c in cols)


@pytest.mark.parametrize("layer", TEMPLATE_LAYERS)
def test_workbook_has_dropdowns_notes_and_example(layer: str, tmp_path: Path) -> None:
    path = write_template(layer, tmp_path / f"{layer}.xlsx", counties=["甲区", "乙区"])
    wb = openpyxl.load_workbook(path)
    ws, notes, lists = wb.worksheets
    assert notes.title == "说明" and lists.sheet_state == "hidden"
    cols = template_columns(layer, counties=["甲区", "乙区"])
    headers = [c.value for c in ws[HEADER_ROW]]
    assert headers == [c.header for c in cols]
    for j, col in enumerate(cols, start=1):
        cell = ws.cell(HEADER_ROW, j)
        assert cell.font.b
        red = cell.font.color is not None and cell.font.color.rgb == "00C00000"
        assert red == col.required
    # the example row, grey, above the header
    assert [ws.cell(EXAMPLE_ROW, j).value for j in (1, 2)] == [cols[0].example, cols[1].example]
    # a drop-down for every vocabulary and yes/no column, over the data rows
    by_column = {}
    for dv in ws.data_validations.dataValidation:
        (rng,) = dv.sqref.ranges
        assert rng.min_row == FIRST_DATA_ROW and rng.max_row >= FIRST_DATA_ROW + 999
        assert rng.min_col == rng.max_col
        sheet, cells = dv.formula1.split("!")
        assert sheet.strip("'") == "取值"
        terms = [c.value for (c,) in lists[cells.replace("$", "")]]
        by_column[headers[rng.min_col - 1]] = (terms, dv.errorStyle)
    layer_name = SCHEMA.get(layer, layer)
    for col in cols:
        key = (layer_name, col.name)
        if key in VOCAB_COLUMNS:
            want = [t.zh for t in vocab(VOCAB_COLUMNS[key]).values()]
            assert by_column[col.header] == (want, "stop"), col.header
        elif col.format.startswith("是/否"):
            assert by_column[col.header] == (["是", "否"], "stop")
    if layer == "compounds":
        assert by_column["改造类型"] == (["基础类", "完善类", "提升类"], "warning")
    if "县区" in headers:
        assert by_column["县区"] == (["甲区", "乙区"], "warning")
    # the notes sheet explains every column, with its unit
    explained = {r[0].value: r for r in notes.iter_rows() if r[0].value in headers}
    assert set(explained) == set(headers)
    if layer == "compounds":
        assert explained["户数"][4].value == "户"
        assert explained["住宅建筑面积（平方米）"][4].value == "平方米 m²"


def test_an_existing_file_is_not_overwritten(tmp_path: Path, gisplan) -> None:
    path = tmp_path / "小区清单.xlsx"
    path.write_bytes(b"filled in already")
    code, out = gisplan("template", "compounds", "--out", path)
    assert code == 2 and "--force" in out
    assert path.read_bytes() == b"filled in already"
    code, out = gisplan("template", "compounds", "--out", path, "--force")
    assert code == 0
    assert openpyxl.load_workbook(path).sheetnames == ["小区清单", "说明", "取值"]


# ---------------------------------------------------------------- filled in, imported


def _square(x: float, y: float) -> str:
    d = 0.0015
    return (f"POLYGON (({x} {y}, {x + d} {y}, {x + d} {y + d}, {x} {y + d}, {x} {y}))")


COMPOUNDS = [
    {"小区编号（必填）": "C101", "小区名称（必填）": "信合小区", "县区": "甲区", "街道": "古雁街道",
     "建成年份": "1998年", "户数": "1,435户", "楼栋数": "12栋", "住宅建筑面积（平方米）": "6.4万",
     "改造类型": "基础类;完善类", "已获中央补助": "否", "计划状态": "纳入计划",
     "几何（WKT）（必填）": _square(106.270, 36.000), "备注": "老城区"},
    {"小区编号（必填）": "C102", "小区名称（必填）": "紫薇花园", "县区": "乙区", "建成年份": 1995,
     "户数": 80, "几何（WKT）（必填）": _square(106.272, 36.000)},
    {"小区编号（必填）": "C103", "小区名称（必填）": "电信小区", "县区": "乙区", "建成年份": 2003,
     "户数": 210, "计划状态": "拟拆除重建", "几何（WKT）（必填）": _square(106.274, 36.000)},
]

OTHERS: dict[str, list[dict[str, Any]]] = {
    "facilities": [
        {"设施编号（必填）": "F1", "设施类型（必填）": "幼儿园", "名称": "东关幼儿园",
         "规模": "180个学位", "经度（必填）": 106.2781, "纬度（必填）": 36.0012},
        {"设施编号（必填）": "F2", "设施类型（必填）": "社区卫生服务站",
         "经度（必填）": "106.2790", "纬度（必填）": "36.0020"},
    ],
    "roads": [
        {"道路编号（必填）": "R1", "道路名称": "南城路", "道路等级": "主干路", "可步行": "是",
         "几何（WKT）（必填）": "LINESTRING (106.26 36.0, 106.29 36.0)"},
        {"道路编号（必填）": "R2", "道路等级": "支路",
         "几何（WKT）（必填）": "LINESTRING (106.273 35.99, 106.273 36.01)"},
    ],
    "utilities": [
        {"管线编号（必填）": "U1", "管线类型（必填）": "供水", "权属单位": "市自来水公司",
         "敷设年份": 1995, "管径（毫米）": "200mm",
         "几何（WKT）（必填）": "LINESTRING (106.26 36.001, 106.29 36.001)"},
        {"管线编号（必填）": "U2", "管线类型（必填）": "燃气",
         "几何（WKT）（必填）": "LINESTRING (106.26 36.002, 106.29 36.002)"},
    ],
    "districts": [
        {"编号（必填）": "D1", "名称（必填）": "古雁街道", "层级（必填）": "街道", "县区": "甲区",
         "几何（WKT）（必填）": _square(106.269, 35.999).replace("0.0015", "0.01")},
    ],
}


@pytest.fixture
def programme(tmp_path: Path, gisplan) -> Path:
    store = tmp_path / "示例.gpkg"
    code, out = gisplan("init", store, "--name", "示例市2024年城镇老旧小区改造",
                        "--city", "示例市", "--year", "2024")
    assert code == 0, out
    project = Project.open(store)
    project.set_meta(counties=["甲区", "乙区"])
    return store


@pytest.mark.parametrize("drop_example", [False, True], ids=["example kept", "example deleted"])
def test_filled_compounds_template_imports_every_row(programme: Path, tmp_path: Path, gisplan,
                                                     drop_example: bool) -> None:
    form = tmp_path / "小区清单.xlsx"
    code, out = gisplan("template", "compounds", "--out", form, "--programme", programme)
    assert code == 0, out
    fill(form, COMPOUNDS, drop_example=drop_example, extra="备注")
    code, out = gisplan("import", programme, form, "--layer", "compounds")
    assert code == 0, out
    assert "rows read 读入 3, rows returned 输出 3" in out
    assert "[error]" not in out and "unknown_term" not in out
    got = Project.open(programme).read("compounds").set_index("compound_id")
    assert list(got.index) == ["C101", "C102", "C103"]  # the example row is never imported
    assert got.loc["C101", "households"] == 1435
    assert got.loc["C101", "floor_area_m2"] == 64000.0
    assert got.loc["C101", "categories"] == "basic;improvement"
    assert got.loc["C103", "status"] == "demolition"
    assert not got.loc["C101", "prior_central_funding"]
    assert got.loc["C101", "备注"] == "老城区"  # the office's own column is kept
    assert got.geometry.notna().all()


@pytest.mark.parametrize("layer", list(OTHERS))
def test_filled_templates_import_cleanly(layer: str, programme: Path, tmp_path: Path,
                                         gisplan) -> None:
    form = tmp_path / f"{layer}.xlsx"
    code, out = gisplan("template", layer, "--out", form)
    assert code == 0, out
    fill(form, OTHERS[layer])
    code, out = gisplan("import", programme, form, "--layer", layer)
    assert code == 0, out
    n = len(OTHERS[layer])
    assert f"rows read 读入 {n}, rows returned 输出 {n}" in out
    assert "[error]" not in out and "unknown_term" not in out
    got = Project.open(programme).read(layer)
    sch = layer_schema(layer)
    assert list(got[sch.id]) == [row[sch.column(sch.id).zh + "（必填）"]
                                 for row in OTHERS[layer]]
    assert got.geometry.notna().all()
    if layer == "roads":
        assert list(got["road_class"]) == ["arterial", "local"]
    if layer == "facilities":
        assert list(got["facility_type"]) == ["kindergarten", "health_station"]


def test_filled_progress_template_imports_every_row(programme: Path, tmp_path: Path,
                                                    gisplan) -> None:
    compounds = tmp_path / "小区清单.xlsx"
    gisplan("template", "compounds", "--out", compounds)
    fill(compounds, COMPOUNDS[:2])
    assert gisplan("import", programme, compounds, "--layer", "compounds")[0] == 0
    form = tmp_path / "进度报表.xlsx"
    code, out = gisplan("template", "progress", "--out", form)
    assert code == 0, out
    fill(form, [
        {"小区编号": "C101", "小区名称": "信合小区", "县区": "甲区",
         "日期（必填）": dt.datetime(2024, 5, 20), "进度阶段（必填）": "开工",
         "居民同意率": "86%", "违建已拆除": "是", "设计已公示": "是", "已签施工合同": "是",
         "施工队伍进场": "是"},
        {"小区名称": "紫薇花园", "县区": "乙区", "日期（必填）": "2024-05-27",
         "进度阶段（必填）": "设计公示", "居民同意率": 0.9},
    ])
    code, out = gisplan("progress", "import", programme, form)
    assert code == 0, out
    log = Project.open(programme).read("progress_log")
    assert len(log) == 2
    assert sorted(log["compound_id"]) == ["C101", "C102"]
    assert sorted(log["stage"]) == ["designed", "started"]


def test_template_filled_wrongly_names_row_column_and_fix(programme: Path, tmp_path: Path,
                                                          gisplan) -> None:
    form = tmp_path / "小区清单.xlsx"
    gisplan("template", "compounds", "--out", form)
    rows = [dict(COMPOUNDS[1]), dict(COMPOUNDS[2], 户数="很多")]
    fill(form, rows)
    code, out = gisplan("import", programme, form, "--layer", "compounds")
    assert code == 2
    assert f"row {FIRST_DATA_ROW + 1}, column '户数'" in out
    assert "'很多'" in out and "Fix:" in out
    assert "Traceback" not in out
    assert not Project.open(programme).has("compounds")
