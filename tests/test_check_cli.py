"""``gisplan check``: report, exit status, formats and --fix, on real GeoPackages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gisplan.cli import cli
from gisplan.findings import has_flag
from gisplan.store import Project

LON, LAT, D = 106.28, 36.0, 0.001


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)
    return result.exit_code, result.output


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def bad_project(tmp_path: Path) -> Path:
    """Three compounds: a bow-tie, a duplicated id, no build year."""
    bowtie = shapely.Polygon([(LON, LAT), (LON + D, LAT + D), (LON + D, LAT), (LON, LAT + D)])
    gdf = gpd.GeoDataFrame(
        {"compound_id": ["A", "B", "B"], "name": ["东海园区", "福平苑", "税务小区"],
         "built_year": pd.array([1990, 1995, None], dtype="Int64")},
        geometry=[bowtie, shapely.box(LON + 2 * D, LAT, LON + 3 * D, LAT + D),
                  shapely.box(LON + 4 * D, LAT, LON + 5 * D, LAT + D)], crs=4326)
    path = tmp_path / "bad.gpkg"
    Project.create(path, meta={"name": "bad"}, layers={"compounds": gdf})
    return path


def test_guyuan_sample_passes_with_the_plan_inconsistencies_listed(
        sample_copy: Callable[[str], Path]):
    code, out = run(str(sample_copy("guyuan")))
    assert code == 0
    assert "rows per layer 各图层行数" in out
    assert "total_mismatch 合计与分项之和不符" in out
    assert "states 84 buildings" in out
    assert "list_numbering_gap 名单序号跳号或重复" in out
    assert "rows in = rows out 行数一致: yes" in out


def test_errors_exit_with_status_one_and_name_the_rows(bad_project: Path):
    code, out = run(str(bad_project))
    assert code == 1
    assert "error 错误: 1" in out
    assert "duplicate_id 编号重复" in out
    assert "rows 2, 3" in out
    assert "invalid_geometry_repaired 无效几何已修复" in out


def test_json_report_holds_counts_and_findings(bad_project: Path):
    code, out = run(str(bad_project), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    [counts] = data["counts"]
    assert (counts["rows_in"], counts["rows_out"], counts["repaired"]) == (3, 3, 1)
    assert sorted(f["code"] for f in data["findings"]) == [
        "duplicate_id", "invalid_geometry_repaired", "missing_built_year"]
    assert {f["code_zh"] for f in data["findings"]} >= {"编号重复"}


def test_csv_report_written_to_a_file(bad_project: Path, tmp_path: Path):
    out_file = tmp_path / "findings.csv"
    code, out = run(str(bad_project), "--format", "csv", "--out", str(out_file))
    assert code == 1
    assert str(out_file) in out
    frame = pd.read_csv(out_file, encoding="utf-8-sig")
    assert list(frame.columns[:3]) == ["severity", "code", "code_zh"]
    assert len(frame) == 3


def test_text_report_written_to_a_file(bad_project: Path, tmp_path: Path):
    out_file = tmp_path / "report.txt"
    code, out = run(str(bad_project), "--out", str(out_file))
    assert code == 1
    assert "duplicate_id" not in out
    assert "duplicate_id 编号重复" in out_file.read_text(encoding="utf-8")


def test_fix_writes_repaired_flagged_layers_and_leaves_the_project(bad_project: Path,
                                                                   tmp_path: Path):
    before = digest(bad_project)
    fixed = tmp_path / "fixed.gpkg"
    code, _ = run(str(bad_project), "--fix", str(fixed))
    assert code == 1  # the duplicate id is still an error
    assert digest(bad_project) == before
    out = Project.open(fixed).read("compounds")
    assert len(out) == 3
    assert shapely.is_valid(out.geometry.to_numpy()).all()
    assert has_flag(out, "invalid_geometry_repaired").tolist() == [True, False, False]
    assert has_flag(out, "duplicate_id").tolist() == [False, True, True]
    assert Project.open(fixed).meta["name"] == "bad"


def test_real_county_boundaries_are_repaired_and_pass(county_boundaries: Path, tmp_path: Path):
    raw = gpd.read_file(county_boundaries)
    districts = raw.rename(columns={"adcode": "district_id", "county": "name"}).assign(
        level="county")
    path = tmp_path / "counties.gpkg"
    Project.create(path, meta={"name": "counties"}, layers={"districts": districts})
    code, out = run(str(path), "--format", "json", "--fix", str(tmp_path / "fixed.gpkg"))
    assert code == 0
    data = json.loads(out.split("repaired layers")[0])
    [counts] = data["counts"]
    assert (counts["rows_in"], counts["rows_out"], counts["repaired"]) == (18, 18, 17)
    fixed = Project.open(tmp_path / "fixed.gpkg").read("districts")
    assert len(fixed) == 18
    assert shapely.is_valid(fixed.geometry.to_numpy()).all()


def test_missing_project_is_a_clear_usage_error(tmp_path: Path):
    code, out = run(str(tmp_path / "nope.gpkg"))
    assert code == 2
    assert "does not exist" in out
