"""No output lets a spreadsheet evaluate user text (OWASP CSV injection, issue 10).

Compound names, statuses and the programme name are set to the OWASP payloads; every
XLSX cell holding them must be a string cell, every CSV cell must start with ``'``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gisplan.cells import FORMULA_PREFIXES
from gisplan.cli import cli
from gisplan.report import write_report
from gisplan.sample_reports import write_county_report
from gisplan.store import Project

#: OWASP CSV-injection payloads (https://owasp.org/www-community/attacks/CSV_Injection)
PAYLOADS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=1+1",
]


@pytest.fixture
def programme(tmp_path) -> Path:
    n = len(PAYLOADS)
    ids = [f"C{i}" for i in range(n)]
    compounds = gpd.GeoDataFrame(
        {"compound_id": ids, "name": PAYLOADS, "county": ["魏都区"] * n,
         "households": [100] * n, "built_year": [1990] * n, "categories": ["基础类"] * n,
         "planned_items": ["供水"] * n, "status": ["=1+1"] + [None] * (n - 1)},
        geometry=[shapely.box(113.8 + i * 0.01, 34.0, 113.805 + i * 0.01, 34.005)
                  for i in range(n)], crs=4326)
    log = pd.DataFrame({
        "compound_id": ids, "compound_name": PAYLOADS, "county": ["魏都区"] * n,
        "date": ["2023-05-01"] * n, "stage": ["started"] * n, "consent_rate": [0.5] * n,
        "note": PAYLOADS, "source_file": ["=1+1.xlsx"] * n,
        "entered_at": ["2023-05-03 10:00:00"] * n})
    bundles = gpd.GeoDataFrame({"bundle_id": ["B1"], "district_name": [PAYLOADS[1]],
                                "n_compounds": [n], "households": [100 * n]},
                               geometry=[shapely.box(113.8, 34.0, 113.9, 34.01)], crs=4326)
    gaps = compounds.assign(gaps_zh="托儿所", n_gaps=1)
    path = tmp_path / "p.gpkg"
    Project.create(path, meta={"name": '=HYPERLINK("http://x","y")', "year": 2023},
                   layers={"compounds": compounds, "progress_log": log, "bundles": bundles,
                           "coverage_gaps": gaps})
    return path


def _xlsx_cells(path: Path) -> list[openpyxl.cell.cell.Cell]:
    wb = openpyxl.load_workbook(path)
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]


def _assert_xlsx_safe(path: Path, *, expect: int) -> None:
    cells = _xlsx_cells(path)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    # XML reads a carriage return back as a line feed: "\r=1+1" comes back as "\n=1+1"
    risky = [c for c in cells if isinstance(c.value, str) and c.value.startswith(
        (*FORMULA_PREFIXES, "\n"))]
    assert len(risky) >= expect  # the payloads are there, as text
    assert all(c.data_type == "s" for c in risky)


def _csv_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def _assert_csv_safe(paths: list[Path], *, expect: int) -> None:
    cells = [c for p in paths for c in _csv_cells(p)]
    assert not [c for c in cells if c.startswith(FORMULA_PREFIXES)]
    quoted = [c for c in cells if c.startswith("'") and c[1:].startswith(FORMULA_PREFIXES)]
    assert len(quoted) >= expect
    assert {"'" + p for p in PAYLOADS} <= set(quoted)


def test_xlsx_report_writes_every_payload_as_a_string_cell(programme, tmp_path):
    out = tmp_path / "r.xlsx"
    write_report(programme, out, as_of="2023-06-30")
    # each payload in 问题清单, 设计缺项 and 设施缺口, plus titles
    _assert_xlsx_safe(out, expect=3 * len(PAYLOADS))
    ws = openpyxl.load_workbook(out)["进度汇总"]
    assert ws["A1"].value.startswith('=HYPERLINK("http://x","y")')
    assert ws["A1"].data_type == "s"


def test_csv_report_quotes_every_payload(programme, tmp_path):
    files = write_report(programme, tmp_path / "r.csv", as_of="2023-06-30")
    _assert_csv_safe(files, expect=3 * len(PAYLOADS))


def test_progress_check_out_quotes_every_payload(programme, tmp_path):
    out = tmp_path / "problems.csv"
    result = CliRunner().invoke(cli, ["progress", "check", str(programme), "--out", str(out)])
    assert result.exit_code == 0, result.output
    _assert_csv_safe([out, out.with_name("problems_design_gaps.csv")], expect=len(PAYLOADS))


def test_check_out_csv_quotes_values_and_leaves_missing_cells_empty(programme, tmp_path):
    out = tmp_path / "check.csv"
    result = CliRunner().invoke(cli, ["check", str(programme), "--format", "csv",
                                      "--out", str(out)])
    assert result.exit_code in (0, 1), result.output
    cells = _csv_cells(out)
    assert not [c for c in cells if c.startswith(FORMULA_PREFIXES)]
    assert "'=1+1" in cells  # the status value that is not in the vocabulary
    frame = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert "nan" not in set(frame["row"]) and "nan" not in set(frame["value"])
    assert (frame["row"] == "").any()  # a programme-level finding has no row


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_county_report_forms_never_hold_a_formula(tmp_path, suffix):
    table = pd.DataFrame({"county": ["魏都区"] * len(PAYLOADS), "name": PAYLOADS,
                          "stage": ["started"] * len(PAYLOADS)})
    path = write_county_report(table, tmp_path / f"r{suffix}", as_of="2023-06-30")
    if suffix == ".xlsx":
        _assert_xlsx_safe(path, expect=len(PAYLOADS))
    else:
        _assert_csv_safe([path], expect=len(PAYLOADS))
