"""Importing county reports into a real programme GeoPackage."""

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely

from gisplan._errors import SchemaError
from gisplan.progress import import_reports, read_log
from gisplan.store import Project

HEADER = ("县区,小区名称,填报日期,形象进度,居民同意率,违建拆除,设计公示,签订施工合同,"
          "施工队伍进场,备注")


def make_programme(path: Path) -> Path:
    names = ["梅园小区", "信和小区", "工商小区南段", "工商小区北段", "德福小区", "电信小区"]
    gdf = gpd.GeoDataFrame(
        {"compound_id": [f"C{i}" for i in range(6)], "name": names,
         "county": ["魏都区"] * 4 + ["建安区"] * 2, "households": [100, 200, 50, 50, 300, 300]},
        geometry=[shapely.box(113.8 + i * 0.01, 34.0, 113.805 + i * 0.01, 34.005)
                  for i in range(6)], crs=4326)
    Project.create(path, meta={"name": "测试", "counties": ["魏都区", "建安区", "经开区"],
                               "year": 2023}, layers={"compounds": gdf})
    return path


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def programme(tmp_path):
    return make_programme(tmp_path / "p.gpkg")


def test_chinese_dates_and_percentages_are_parsed(programme, tmp_path):
    f = write_csv(tmp_path / "r.csv", [
        "魏都区,梅园小区,2023年6月30日,已开工,85%,是,是,是,是,",
        "建安区,德福小区,2023.6.30,开工,0.85,√,是,是,是,",
    ])
    result = import_reports(programme, f)
    assert result.appended == 2
    log = read_log(programme).set_index("compound_id")
    assert str(log.loc["C0", "date"]) == "2023-06-30"
    assert log.loc["C4", "date"] == log.loc["C0", "date"]
    assert log["consent_rate"].tolist() == pytest.approx([0.85, 0.85])
    assert log.loc["C0", "stage"] == "started"
    assert log.loc["C0", "source_file"] == "r.csv"
    assert log.loc["C4", "source_row"] == 3


def test_importing_the_same_file_twice_changes_nothing(programme, tmp_path):
    f = write_csv(tmp_path / "r.csv", ["魏都区,梅园小区,2023-05-01,开工,85%,是,是,是,是,",
                                       "魏都区,信和小区,2023-05-01,开工,85%,是,是,是,是,"])
    first = import_reports(programme, f)
    second = import_reports(programme, f)
    assert (first.appended, second.appended, second.already_in_log) == (2, 0, 2)
    assert len(read_log(programme)) == 2
    assert second.report.counts["progress_log"].balanced


def test_a_misspelt_name_matches_its_compound_and_is_reported(programme, tmp_path):
    f = write_csv(tmp_path / "r.csv", ["魏都区,信合小区,2023-05-01,开工,85%,是,是,是,是,"])
    result = import_reports(programme, f)
    assert read_log(programme)["compound_id"].tolist() == ["C1"]
    assert result.unmatched["match"].tolist() == ["fuzzy"]
    assert "信和小区 [C1]" in result.unmatched["candidates"].iloc[0]


def test_an_ambiguous_name_is_listed_with_candidates_and_not_guessed(programme, tmp_path):
    f = write_csv(tmp_path / "r.csv", ["魏都区,工商小区中段,2023-05-01,开工,85%,是,是,是,是,"])
    result = import_reports(programme, f)
    row = result.unmatched.iloc[0]
    assert row["match"] == "ambiguous"
    assert "工商小区南段 [C2]" in row["candidates"] and "工商小区北段 [C3]" in row["candidates"]
    log = read_log(programme)
    assert log["compound_id"].isna().all()  # kept, not guessed
    assert "compound_ambiguous" in log["flags"].iloc[0]
    finding = result.report.by_code("compound_ambiguous")[0]
    assert finding.row == 2 and "工商小区南段" in finding.hint


def test_an_unknown_name_is_kept_and_reported(programme, tmp_path):
    f = write_csv(tmp_path / "r.csv", ["建安区,春风花园,2023-05-01,开工,85%,是,是,是,是,"])
    result = import_reports(programme, f)
    assert result.unmatched["match"].tolist() == ["unknown"]
    assert len(read_log(programme)) == 1


def test_rows_of_a_unit_without_geometry_are_kept_and_counted(programme, tmp_path):
    from gisplan.progress import progress_summary

    f = write_csv(tmp_path / "r.csv", ["经开区,佳兴南苑,2023-05-01,开工,88%,是,是,是,是,"])
    result = import_reports(programme, f)
    assert result.appended == 1
    assert result.report.by_code("unit_without_geometry")
    p = Project.open(programme)
    s = progress_summary(p.read("compounds"), read_log(p), as_of="2023-06-30")
    row = s.set_index("unit").loc["经开区"]
    assert (row["compounds_planned"], row["compounds_started"]) == (1, 1)


def test_contradictions_are_flagged_after_import(programme, tmp_path):
    from gisplan.progress import check_log

    f = write_csv(tmp_path / "r.csv", [
        "建安区,德福小区,2023-04-01,完工,90%,是,是,是,是,",
        "建安区,德福小区,2023-05-01,开工,90%,是,是,是,是,",
        "建安区,电信小区,2099-01-01,开工,90%,是,是,是,是,",
        "魏都区,梅园小区,2023-05-01,开工,70%,是,是,是,是,",
    ])
    result = import_reports(programme, f)
    assert result.report.by_code("future_date")[0].row == 4
    codes = set(check_log(read_log(programme))["code"])
    assert {"completion_before_start", "stage_backwards", "future_date",
            "start_criteria_unmet"} <= codes


def test_xlsx_with_title_and_merged_headers_is_read(programme, tmp_path):
    from gisplan.sample_reports import write_county_report

    table = pd.DataFrame({"county": ["魏都区", "建安区"], "name": ["梅园小区", "德福小区"],
                          "stage": ["started", "designed"], "households": [100, 300],
                          "consent_rate": [0.9, 0.82], "structures_removed": [True, True],
                          "design_posted": [True, True], "contract_signed": [True, False],
                          "crew_on_site": [True, False]})
    path = write_county_report(table, tmp_path / "weekly.xlsx", as_of="2023-06-30")
    ws = openpyxl.load_workbook(path).active
    assert "G2:K2" in {str(r) for r in ws.merged_cells.ranges}
    result = import_reports(programme, path)
    assert result.appended == 2
    log = read_log(programme).set_index("compound_id")
    assert log.loc["C4", "stage"] == "designed"
    assert bool(log.loc["C4", "contract_signed"]) is False
    assert log.loc["C0", "source_row"] == 4  # the row a planner sees in Excel


def test_a_report_without_a_stage_column_is_refused_with_the_fix(programme, tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("县区,小区名称,填报日期\n魏都区,梅园小区,2023-05-01\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="进度阶段"):
        import_reports(programme, f)
    assert not Project.open(programme).has("progress_log")


def test_an_unreadable_date_names_row_and_column(programme, tmp_path):
    f = write_csv(tmp_path / "r.csv", ["魏都区,梅园小区,六月底,开工,85%,是,是,是,是,"])
    with pytest.raises(SchemaError) as err:
        import_reports(programme, f)
    assert err.value.row == 2 and "填报日期" in str(err.value)


# ----------------------------------------------------------------- robustness

def _big_report(path: Path, n: int, *, offset: int = 0) -> Path:
    lines = [f"C{i % 6},{2023 + (i // 300000)}-{1 + (i // 28) % 12:02d}-{1 + i % 28:02d},"
             f"开工,{0.8 + (i % 1000) / 10000:.4f},是,是,是,是"
             for i in range(offset, offset + n)]
    path.write_text("小区编号,填报日期,形象进度,居民同意率,违建拆除,设计公示,签订施工合同,施工队伍进场\n"
                    + "\n".join(lines) + "\n", encoding="utf-8")
    return path


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from gisplan import store
    from gisplan.progress import import_reports

    original = store.Project.append

    def announced(self, table, frame):
        print("APPEND", flush=True)
        return original(self, table, frame)

    store.Project.append = announced
    import_reports(sys.argv[1], sys.argv[2])
    print("DONE", flush=True)
""")


@pytest.mark.parametrize("delay", [0.0, 0.05])
def test_an_import_killed_mid_way_leaves_the_last_committed_state(programme, tmp_path, delay):
    import time

    first = _big_report(tmp_path / "first.csv", 50)
    import_reports(programme, first)
    before = read_log(programme)
    big = _big_report(tmp_path / "big.csv", 6000, offset=50)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(programme), str(big)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "APPEND"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    after = read_log(programme)  # the store still opens and reads
    assert len(after) in (len(before), len(before) + 6000)
    assert after["row_hash"].is_unique
    # and accepts the import again, ending with the union
    import_reports(programme, big)
    assert len(read_log(programme)) == len(before) + 6000


def _import(args):
    programme, report = args
    return import_reports(programme, report).appended


def test_two_imports_at_once_give_the_union_without_duplicates(programme, tmp_path):
    a = _big_report(tmp_path / "a.csv", 400, offset=0)
    b = _big_report(tmp_path / "b.csv", 400, offset=200)  # 200 rows in common
    with mp.get_context("spawn").Pool(2) as pool:
        appended = pool.map(_import, [(programme, a), (programme, b)])
    log = read_log(programme)
    assert sorted(appended) == [200, 400]
    assert len(log) == 600
    assert log["row_hash"].is_unique
    assert log["log_id"].is_unique


def test_sample_reports_are_reproducible_and_import_back(programme, tmp_path):
    from gisplan.sample_reports import write_sample_reports

    seed = write_csv(tmp_path / "seed.csv", [
        "魏都区,梅园小区,2023-05-01,开工,85%,是,是,是,是,",
        "魏都区,信和小区,2023-05-02,开工,90%,是,是,是,是,",
        "建安区,德福小区,2023-05-03,开工,90%,是,是,是,是,",
    ])
    import_reports(programme, seed)
    first = write_sample_reports(programme, tmp_path / "a", name="t")
    again = write_sample_reports(programme, tmp_path / "b", name="t")
    assert [p.name for p in first] == ["t_weekly_20230630.xlsx", "t_monthly_20231031.csv"]
    assert first[1].read_bytes() == again[1].read_bytes()
    result = import_reports(programme, first[0])
    assert result.rows_in == 4  # three compounds and one 经开区 row
    assert result.report.by_code("unit_without_geometry")
    assert "fuzzy" in set(result.unmatched["match"])  # the misspelt name
