"""Money and responsibility sheets of the report (issue 14), from the layers the money
commands write: estimate, contact-points, waste-points, evaluate, then report."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from gisplan.schema import layer_schema
from gisplan.store import Project

MONEY_SHEETS = ["项目清单", "资金来源（项目）", "资金来源（片区）", "资金来源核对", "垃圾分类设施",
                "考核评价"]


def _rows(ws) -> tuple[list[str], list[tuple]]:
    headers = [c.value for c in ws[3]]
    return headers, [tuple(c.value for c in r) for r in ws.iter_rows(min_row=4)]


@pytest.fixture
def guyuan_report(sample_copy, gisplan, tmp_path) -> Path:
    store = sample_copy("guyuan_2022.gpkg")
    p = Project(store)
    comp = p.read("compounds")
    comp["builder_unit"] = "原州区住房和城乡建设局"
    comp.loc[comp.index[0], "supervisor_person"] = "张三"
    p.write("compounds", comp)
    for args in (["estimate", store, "--calibrate"], ["waste-points", store],
                 ["evaluate", store]):
        code, out = gisplan(*args)
        assert code == 0, out
    out = tmp_path / "guyuan.xlsx"
    code, text = gisplan("report", store, "--out", out)
    assert code == 0, text
    return out


def test_guyuan_sheets_and_its_stated_total(guyuan_report):
    wb = openpyxl.load_workbook(guyuan_report)
    assert set(MONEY_SHEETS) <= set(wb.sheetnames)
    headers, rows = _rows(wb["项目清单"])
    total = rows[-1]
    assert total[headers.index("小区编号")] == "合计"
    assert total[headers.index("资金概算（万元）")] == pytest.approx(17808.68, abs=0.005)
    assert total[headers.index("资金来源合计（万元）")] == pytest.approx(17808.68, abs=0.005)
    assert total[headers.index("户数")] == 3081
    assert wb["项目清单"].cell(len(rows) + 3, 2).font.b  # the total row is bold
    for h in ("改造内容", "建设单位", "监管责任单位", "责任人", "保障措施"):
        assert h in headers
    first = rows[0]
    assert first[headers.index("建设单位")] == "原州区住房和城乡建设局"
    assert first[headers.index("责任人")] == "张三"
    assert "供水" in first[headers.index("改造内容")]  # items in Chinese, not keys


def test_money_headers_are_chinese_with_canonical_names_in_the_notes(guyuan_report):
    wb = openpyxl.load_workbook(guyuan_report)
    for sheet in MONEY_SHEETS:
        headers, _ = _rows(wb[sheet])
        english = [h for h in headers if h.isascii()]
        assert not english, (sheet, english)
    _, notes = _rows(wb["列名说明"])
    canonical = {(r[1], r[2]): r[3] for r in notes}
    assert canonical[("项目清单", "建设单位")] == "builder_unit"
    assert canonical[("项目清单", "资金概算（万元）")] == "estimate_wan_yuan"
    assert canonical[("资金来源（片区）", "共沟长度（m）")] == "shared_trench_m"
    assert canonical[("考核评价", "综合得分")] == "score"


def test_reconciliation_states_the_calibration_factor(guyuan_report):
    headers, rows = _rows(openpyxl.load_workbook(guyuan_report)["资金来源核对"])
    stated = {r[headers.index("批复资金来源")]: r for r in rows}
    assert stated["central_regional"][headers.index("批复金额（万元）")] == 9381.269
    cal = stated["calibration"]
    assert cal[headers.index("批复金额（万元）")] == pytest.approx(17808.68)
    assert cal[headers.index("对应资金渠道")].startswith("× 1.39")


def test_xuchang_contact_points_in_the_numbers_the_plan_sets(sample_copy, gisplan, tmp_path):
    store = sample_copy("xuchang_2023.gpkg")
    for args in (["estimate", store], ["contact-points", store], ["waste-points", store],
                 ["evaluate", store]):
        code, out = gisplan(*args)
        assert code == 0, out
    out = tmp_path / "xuchang.xlsx"
    assert gisplan("report", store, "--out", out)[0] == 0
    wb = openpyxl.load_workbook(out)
    assert set(MONEY_SHEETS) <= set(wb.sheetnames) and "联系点" in wb.sheetnames
    headers, rows = _rows(wb["联系点"])
    per_county = pd.Series([r[headers.index("县区")] for r in rows]).value_counts().to_dict()
    assert per_county == {"禹州市": 3, "襄城县": 3, "长葛市": 5, "魏都区": 5, "建安区": 5}
    assert all(r[headers.index("建议为联系点")] == "是" for r in rows)
    headers, rows = _rows(wb["考核评价"])
    assert sorted(r[headers.index("排名")] for r in rows) == [1, 2, 3, 4, 5]


def test_a_store_without_money_layers_has_no_money_sheets(sample_copy, gisplan, tmp_path):
    out = tmp_path / "h.xlsx"
    assert gisplan("report", sample_copy("huaian_2023.gpkg"), "--out", out)[0] == 0
    assert not set(MONEY_SHEETS) & set(openpyxl.load_workbook(out).sheetnames)


def test_schema_has_the_responsibility_and_acceptance_columns():
    compounds = {c.name: c for c in layer_schema("compounds").columns}
    assert {n: compounds[n].zh for n in ("builder_unit", "supervisor_unit",
                                         "supervisor_person", "measures")} == {
        "builder_unit": "建设单位", "supervisor_unit": "监管责任单位",
        "supervisor_person": "责任人", "measures": "保障措施"}
    assert not any(compounds[n].required for n in ("builder_unit", "measures"))
    log = {c.name: c for c in layer_schema("progress_log").columns}
    assert log["accepted_items"].zh == "验收内容" and not log["accepted_items"].required
