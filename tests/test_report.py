"""Excel and CSV reports written to disk and read back with openpyxl."""

from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely

from gisplan.report import write_report
from gisplan.store import Project

GUYUAN_BUDGET = [
    {"source": "central_regional", "zh": "中央、自治区补助资金", "amount_wan_yuan": 9381.269},
    {"source": "local", "zh": "地方配套资金", "amount_wan_yuan": 8427.411},
]


@pytest.fixture
def programme(tmp_path) -> Path:
    gdf = gpd.GeoDataFrame(
        {"compound_id": ["A", "B", "C"], "name": ["梅园小区", "德福小区", "电信小区"],
         "county": ["魏都区", "魏都区", "建安区"], "district": ["西片", "西片", "东片"],
         "households": [100, 300, 200], "built_year": [1990, 1995, 1998],
         "categories": ["基础类", "基础类;提升类", "基础类"],
         "planned_items": ["供水、供电、供气、弱电、安防、消防、垃圾分类", "供水", None]},
        geometry=[shapely.box(i, 0, i + 0.5, 0.5) for i in range(3)], crs=4326)
    log = pd.DataFrame({
        "compound_id": ["A", "B"], "date": ["2023-05-01", "2023-05-02"],
        "stage": ["started", "started"], "consent_rate": [0.9, 0.6],
        "structures_removed": [True, True], "design_posted": [True, True],
        "contract_signed": [True, True], "crew_on_site": [True, True],
        "county": ["魏都区", "魏都区"], "compound_name": ["梅园小区", "德福小区"],
        "entered_at": ["2023-05-03 10:00:00"] * 2})
    meta = {"name": "测试市2023年老旧小区改造", "year": 2023,
            "budget": GUYUAN_BUDGET, "budget_total_wan_yuan": 17808.68,
            "milestones": [{"key": "all_started", "zh": "全部开工", "date": "2023-06-30",
                            "measure": "started_compounds", "target": 1.0}]}
    path = tmp_path / "p.gpkg"
    Project.create(path, meta=meta, layers={"compounds": gdf, "progress_log": log})
    return path


def test_workbook_has_a_sheet_per_table(programme, tmp_path):
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["进度汇总", "片区进度", "里程碑", "进度曲线", "问题清单", "设计缺项",
                             "资金来源"]


def test_progress_sheet_has_title_headers_frozen_and_rates(programme, tmp_path):
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023年6月30日")
    ws = openpyxl.load_workbook(out)["进度汇总"]
    assert ws["A1"].value == "测试市2023年老旧小区改造进度汇总表"
    assert "A1:M1" in {str(r) for r in ws.merged_cells.ranges}
    assert "截至2023年6月30日" in ws["A2"].value
    headers = [c.value for c in ws[3]]
    assert headers[:6] == ["序号", "县区", "计划小区数", "计划户数", "已开工小区数", "已开工户数"]
    assert ws.freeze_panes == "B4"
    rows = {r[1]: r for r in ws.iter_rows(min_row=4, values_only=True)}
    assert rows["魏都区"][2:6] == (2, 400, 2, 400)
    assert rows["建安区"][6] == 0
    assert rows["合计"][6] == pytest.approx(2 / 3)
    assert ws["G4"].number_format == "0.0%"
    assert ws.column_dimensions["M"].width > 10


def test_budget_sheet_has_guyuan_sources_in_wan_yuan(programme, tmp_path):
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    ws = openpyxl.load_workbook(out)["资金来源"]
    rows = list(ws.iter_rows(min_row=4, values_only=True))
    assert rows[0][1:4] == ("中央、自治区补助资金", "central_regional", 9381.269)
    assert rows[1][3] == 8427.411
    assert rows[2][1] == "合计" and rows[2][3] == pytest.approx(17808.68)
    assert ws["D4"].number_format == "#,##0.000"
    assert "一致" in ws["A2"].value


def test_problems_and_design_gaps_are_listed(programme, tmp_path):
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    wb = openpyxl.load_workbook(out)
    problems = list(wb["问题清单"].iter_rows(min_row=4, values_only=True))
    assert [(r[2], r[5]) for r in problems] == [("B", "不符合开工认定标准")]
    gaps = {r[2]: r for r in wb["设计缺项"].iter_rows(min_row=4, values_only=True)}
    assert set(gaps) == {"B", "C"}
    assert "养老用房" in gaps["B"][6]


def test_milestone_sheet_marks_behind(programme, tmp_path):
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-07-01")
    rows = list(openpyxl.load_workbook(out)["里程碑"].iter_rows(min_row=4, values_only=True))
    programme_row = next(r for r in rows if r[1] == "合计")
    assert programme_row[2] == "全部开工" and programme_row[8] == "滞后"


def test_bundles_sheet_appears_when_the_store_has_bundles(programme, tmp_path):
    bundles = gpd.GeoDataFrame({"bundle_id": ["B1"], "n_compounds": [2],
                                "households": [400]},
                               geometry=[shapely.box(0, 0, 2, 1)], crs=4326)
    Project.open(programme).write("bundles", bundles)
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    ws = openpyxl.load_workbook(out)["连片项目"]
    assert [c.value for c in ws[3]] == ["序号", "连片编号", "小区数", "户数"]
    assert [c.value for c in ws[4]] == [1, "B1", 2, 400]


def test_csv_is_utf8_with_bom_and_one_file_per_table(programme, tmp_path):
    files = write_report(programme, tmp_path / "r.csv", as_of="2023-06-30")
    assert files[0] == tmp_path / "r.csv"
    assert (tmp_path / "r_资金来源.csv") in files
    raw = files[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(files[0], encoding="utf-8-sig", dtype=str)
    assert df.columns[1] == "县区"
    assert df.set_index("县区").loc["魏都区", "开工率（按小区）"] == "100.0%"


def test_unknown_output_format_is_refused(programme, tmp_path):
    from gisplan._errors import InputError

    with pytest.raises(InputError, match=r"\.xlsx or \.csv"):
        write_report(programme, tmp_path / "r.pdf")


def test_a_user_column_named_xuhao_never_breaks_the_report(programme, tmp_path):
    """Issue 11: compounds imported from Excel carry 序号; coverage copies it along."""
    p = Project.open(programme)
    compounds = p.read("compounds").assign(序号=[3, 1, 2], 备注=["", "临街", None])
    p.write("compounds", compounds)
    p.write("coverage_gaps", compounds.assign(n_gaps=[0, 1, 2],
                                              gaps_zh=["", "托儿所", "托儿所、小学"]))
    p.write("bundles", gpd.GeoDataFrame({"bundle_id": ["B1"], "序号": [7], "n_compounds": [3]},
                                        geometry=[shapely.box(0, 0, 3, 1)], crs=4326))
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    wb = openpyxl.load_workbook(out)
    headers = [c.value for c in wb["设施缺口"][3]]
    assert headers[0] == "序号" and "原序号" in headers and "备注" in headers
    rows = list(wb["设施缺口"].iter_rows(min_row=4, values_only=True))
    assert [r[0] for r in rows] == [1, 2, 3]
    assert [r[headers.index("原序号")] for r in rows] == [3, 1, 2]  # the user's numbers kept
    assert [c.value for c in wb["连片项目"][3]] == ["序号", "连片编号", "原序号", "小区数"]
    files = write_report(programme, tmp_path / "r.csv", as_of="2023-06-30")
    gaps = pd.read_csv(tmp_path / "r_设施缺口.csv", encoding="utf-8-sig", dtype=str)
    assert (tmp_path / "r_设施缺口.csv") in files and gaps["原序号"].tolist() == ["3", "1", "2"]


BUNDLE_COLUMNS = ["bundle_id", "district", "district_name", "n_compounds", "households",
                  "households_2001_2005", "buildings", "floor_area_m2", "land_area_m2",
                  "span_m", "compound_ids", "categories", "shared_line_pairs",
                  "utility_networks", "utility_owners", "oldest_install_year"]
GAP_COLUMNS = ["compound_id", "name", "county", "street", "community", "district",
               "built_year", "households", "categories", "prior_central_funding", "status",
               "planned_items", "walk_m_kindergarten", "straight_m_kindergarten",
               "covered_kindergarten", "gaps", "gaps_zh", "n_gaps", "snap_m", "access_from",
               "coverage_method", "flags"]


def test_every_header_of_the_bundle_and_gap_sheets_is_chinese(programme, tmp_path):
    """Issue 14: the columns bundling and coverage write get Chinese headers."""
    p = Project.open(programme)
    bundles = pd.DataFrame({c: [1] for c in BUNDLE_COLUMNS})
    p.write("bundles", gpd.GeoDataFrame(bundles, geometry=[shapely.box(0, 0, 1, 1)], crs=4326))
    gaps = pd.DataFrame({c: [1] for c in GAP_COLUMNS})
    p.write("coverage_gaps", gpd.GeoDataFrame(gaps, geometry=[shapely.box(0, 0, 1, 1)],
                                              crs=4326))
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    wb = openpyxl.load_workbook(out)
    for sheet, n in (("连片项目", len(BUNDLE_COLUMNS)), ("设施缺口", len(GAP_COLUMNS))):
        headers = [c.value for c in wb[sheet][3]]
        assert len(headers) == n + 1
        english = [h for h in headers if h.isascii()]
        assert not english, (sheet, english)
        assert len(set(headers)) == len(headers)
    # the canonical names stay available, in the notes sheet
    notes = {(r[1], r[2]): r[3] for r in wb["列名说明"].iter_rows(min_row=4, values_only=True)}
    assert notes[("连片项目", "片区名称")] == "district_name"
    assert notes[("设施缺口", "直线距离（米）：幼儿园")] == "straight_m_kindergarten"
    assert {v for (sheet, _), v in notes.items() if sheet == "设施缺口"} == set(GAP_COLUMNS)


def test_progress_curves_are_native_line_charts_per_county(programme, tmp_path):
    import re
    import zipfile

    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    ws = openpyxl.load_workbook(out)["进度曲线"]
    headers = [c.value for c in ws[3]]
    assert headers[1:7] == ["县区", "日期", "开工率（按小区）", "开工率（按户数）",
                            "完工率（按小区）", "完工率（按户数）"]
    assert headers[7] == "开工目标（计划进度）"  # the plan has a start milestone only
    rows = [tuple(c.value for c in r) for r in ws.iter_rows(min_row=4)]
    units = list(dict.fromkeys(r[1] for r in rows))
    assert units == ["合计", "魏都区", "建安区"]
    on_due = {r[1]: r for r in rows if r[2].date().isoformat() == "2023-06-30"}
    assert on_due["魏都区"][3] == 1.0 and on_due["建安区"][3] == 0  # A and B started
    assert on_due["合计"][4] == pytest.approx(400 / 600)  # by households
    assert on_due["合计"][7] == 1.0  # the milestone's target on its date
    with zipfile.ZipFile(out) as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
        xml = [z.read(n).decode() for n in charts]
    assert len(charts) == len(units)
    for text in xml:
        assert re.search("<(c:)?lineChart>", text)
        assert len(re.findall("<(?:c:)?ser>", text)) == 5  # four rates and the planned line
        assert "进度曲线" in text  # the series read the sheet's data table
    assert any("建安区" in text for text in xml)


def test_no_progress_curve_without_a_dated_log(programme, tmp_path):
    p = Project(programme)
    p.write("progress_log", p.read("progress_log").iloc[0:0])
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    assert "进度曲线" not in openpyxl.load_workbook(out).sheetnames


def test_attribution_is_stated_on_the_first_sheet_and_the_notes_sheet(programme, tmp_path):
    p = Project(programme)
    p.set_meta(attribution="© OpenStreetMap contributors (ODbL)",
               sources=[{"title": "OpenStreetMap", "file": "helsinki.osm.pbf"}])
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    wb = openpyxl.load_workbook(out)
    assert "© OpenStreetMap contributors (ODbL)" in wb["进度汇总"]["A2"].value
    assert wb.sheetnames[-1] == "说明"
    lines = [(r[1].value, r[2].value) for r in wb["说明"].iter_rows(min_row=4)]
    assert ("数据许可", "© OpenStreetMap contributors (ODbL)") in lines
    assert ("数据来源", "OpenStreetMap（helsinki.osm.pbf）") in lines


def test_no_notes_sheet_without_sources(programme, tmp_path):
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    wb = openpyxl.load_workbook(out)
    assert "说明" not in wb.sheetnames and "数据来源" not in wb["进度汇总"]["A2"].value


def test_workbook_cells_are_values_never_formulas_whatever_the_table_holds(tmp_path):
    import datetime as dt
    import zipfile

    import numpy as np

    from gisplan.report import Table, write_xlsx

    frame = pd.DataFrame({
        "序号": [1, 2, 3],
        "名称": ["=HYPERLINK(\"http://x\",\"y\")", "+1", "http://example.org"],
        "步行距离（米）": [float("inf"), np.float64(-np.inf), 12.5],
        "填报时间": [dt.datetime(2023, 6, 30, 9, tzinfo=dt.UTC), None, pd.NaT],
        "是否": [True, False, None],
    })
    table = Table("明细", "测试", frame, kinds={"步行距离（米）": "float"})
    path = write_xlsx([table, table], tmp_path / "t.xlsx")[0]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["明细", "明细(2)"]  # a repeated name is numbered
    ws = wb["明细"]
    assert [ws.cell(r, 2).value for r in (4, 5, 6)] == [
        "=HYPERLINK(\"http://x\",\"y\")", "+1", "http://example.org"]
    assert {ws.cell(r, 2).data_type for r in (4, 5, 6)} == {"s"}
    assert [ws.cell(r, 3).value for r in (4, 5, 6)] == ["∞", "-∞", 12.5]
    assert ws["D4"].value == dt.datetime(2023, 6, 30) and ws["D5"].value is None  # the day
    assert [ws.cell(r, 5).value for r in (4, 5, 6)] == [True, False, None]
    with zipfile.ZipFile(path) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in x or "<f " in x for x in sheets)  # no formula at all
    assert not any("hyperlink" in x.lower() and "<hyperlinks" in x for x in sheets)
