"""Reports at scale: big tables go in full to CSV beside a streamed workbook (issue 15).

The sizes here are small; the threshold is lowered so that the same code path runs as on
a 300,000-compound city (timing belongs in benchmarks/bench_report.py).
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely

import gisplan.report as report
from gisplan.report import write_report
from gisplan.store import Project

N = 40
PAYLOAD = '=HYPERLINK("http://x","y")'


@pytest.fixture
def programme(tmp_path) -> Path:
    ids = [f"C{i:03d}" for i in range(N)]
    names = [PAYLOAD if i == N - 1 else f"小区{i}" for i in range(N)]
    compounds = gpd.GeoDataFrame(
        {"compound_id": ids, "name": names, "county": ["魏都区"] * N,
         "households": [100 + i for i in range(N)], "built_year": [1990] * N},
        geometry=[shapely.box(113.8 + i * 0.01, 34.0, 113.805 + i * 0.01, 34.005)
                  for i in range(N)], crs=4326)
    gaps = compounds.assign(gaps_zh="托儿所", n_gaps=1, walk_m_nursery=350.5)
    log = pd.DataFrame({"compound_id": ids[:2], "date": ["2023-05-01"] * 2,
                        "stage": ["started"] * 2, "county": ["魏都区"] * 2})
    path = tmp_path / "p.gpkg"
    Project.create(path, meta={"name": "测试", "year": 2023},
                   layers={"compounds": compounds, "progress_log": log,
                           "coverage_gaps": gaps})
    return path


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_a_big_table_goes_to_csv_with_a_preview_and_a_note(programme, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "PREVIEW_ROWS", 10)
    out = tmp_path / "r.xlsx"
    files = write_report(programme, out, as_of="2023-06-30", detail_cells=200)
    detail = tmp_path / "r_设施缺口.csv"
    assert files[0] == out and detail in files
    ws = openpyxl.load_workbook(out)["设施缺口"]
    assert "共 40 行" in ws["A2"].value and detail.name in ws["A2"].value
    assert ws.max_row == 3 + 10  # title, note, headers and the preview
    rows = _read_csv(detail)
    headers = rows[0]
    assert len(rows) == 1 + N  # every row, nothing lost
    assert headers[:3] == ["序号", "小区编号", "名称"]
    assert [r[1] for r in rows[1:]] == [f"C{i:03d}" for i in range(N)]
    assert rows[-1][2] == "'" + PAYLOAD  # a formula never reaches a spreadsheet
    assert rows[1][headers.index("步行距离（米）：托儿所")] == "350.5"
    assert detail.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in detail.read_bytes()


def test_small_tables_stay_whole_in_the_workbook(programme, tmp_path):
    out = tmp_path / "r.xlsx"
    assert write_report(programme, out, as_of="2023-06-30") == [out]
    ws = openpyxl.load_workbook(out)["设施缺口"]
    assert ws.max_row == 3 + N and "明细见" not in (ws["A2"].value or "")


def test_no_threshold_keeps_everything_in_the_workbook(programme, tmp_path):
    out = tmp_path / "r.xlsx"
    assert write_report(programme, out, as_of="2023-06-30", detail_cells=None) == [out]
    assert openpyxl.load_workbook(out)["设施缺口"].max_row == 3 + N


def test_streamed_workbook_keeps_text_as_string_cells(programme, tmp_path):
    for cells, name in ((200, "preview.xlsx"), (None, "all.xlsx")):
        out = tmp_path / name
        write_report(programme, out, as_of="2023-06-30", detail_cells=cells)
        ws = openpyxl.load_workbook(out)["设施缺口"]
        found = [c for row in ws.iter_rows() for c in row if c.value == PAYLOAD]
        assert found and all(c.data_type == "s" for c in found), name


def test_cli_detail_cells_zero_keeps_every_table(programme, tmp_path, gisplan):
    out = tmp_path / "r.xlsx"
    code, text = gisplan("report", programme, "--out", out, "--detail-cells", "0")
    assert code == 0, text
    assert not list(tmp_path.glob("r_*.csv"))
    code, text = gisplan("report", programme, "--out", out, "--detail-cells", "200")
    assert code == 0 and "r_设施缺口.csv" in text


def test_a_split_total_table_keeps_its_total_in_the_preview(sample_copy, gisplan, tmp_path,
                                                           monkeypatch):
    store = sample_copy("guyuan")
    assert gisplan("estimate", store, "--calibrate")[0] == 0
    monkeypatch.setattr(report, "PREVIEW_ROWS", 5)
    out = tmp_path / "g.xlsx"
    files = write_report(store, out, detail_cells=100)
    assert tmp_path / "g_项目清单.csv" in files
    ws = openpyxl.load_workbook(out)["项目清单"]
    assert ws.max_row == 3 + 5 + 1 and ws.cell(ws.max_row, 2).value == "合计"
    assert ws.cell(ws.max_row, 2).font.b and "及合计" in ws["A2"].value
    rows = _read_csv(tmp_path / "g_项目清单.csv")
    assert len(rows) == 1 + 26 + 1 and rows[-1][1] == "合计"
    assert float(rows[-1][rows[0].index("资金概算（万元）")]) == pytest.approx(17808.68)
