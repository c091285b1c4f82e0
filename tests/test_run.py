"""``gisplan run``: the whole analysis; on a dask LocalCluster the results are identical."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gisplan.national import open_national, run, synth_national
from gisplan.parquet import read_layer
from gisplan.pipeline import RESULT_LAYERS
from gisplan.store import Project

ROOT = Path(__file__).resolve().parents[1]
STEPS = ["check", "join", "bundle", "coverage", "progress", "report", "export"]


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run") / "national"
    synth_national(folder, cities=3, compounds=900, seed=11)
    return folder


def _store_layers(folder: Path) -> dict[tuple[str, str], pd.DataFrame]:
    nat = open_national(folder)
    out = {}
    for city in nat.cities:
        p = Project.open(nat.store(city))
        for name in p.layers():
            out[city.code, name] = p.read(name)
    return out


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_results(national: Path, tmp_path: Path) -> None:
    if not os.environ.get("CI"):
        pytest.importorskip("dask.distributed")  # `make test` installs the dask extra
    from dask.distributed import LocalCluster

    single, multi = tmp_path / "single", tmp_path / "multi"
    shutil.copytree(national, single)
    shutil.copytree(national, multi)
    a = run(single, out=tmp_path / "out_single", steps=STEPS)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    try:
        b = run(multi, out=tmp_path / "out_multi", steps=STEPS,
                scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    assert a.failed == {} and b.failed == {}
    assert a.finished == b.finished == ["C001", "C002", "C003"]
    assert len(b.workers) == 2  # both worker processes did work
    la, lb = _store_layers(single), _store_layers(multi)
    assert sorted(la) == sorted(lb)
    assert {name for _, name in la} >= {"join_districts", "bundles", "bundle_members",
                                       "coverage", "coverage_gaps", "coverage_summary"}
    for key in la:  # layer by layer, city by city
        pd.testing.assert_frame_equal(la[key], lb[key], obj=f"{key}")
    for layer in RESULT_LAYERS:  # the GeoParquet exchange, partition by partition
        pd.testing.assert_frame_equal(read_layer(tmp_path / "out_single" / "parquet" / layer),
                                      read_layer(tmp_path / "out_multi" / "parquet" / layer),
                                      obj=layer)
    fa = a.cities_frame().drop(columns=["files"], errors="ignore")
    fb = b.cities_frame().drop(columns=["files"], errors="ignore")
    pd.testing.assert_frame_equal(fa, fb)
    assert sorted(p.name for p in (tmp_path / "out_multi" / "reports").glob("*.xlsx")) == [
        "C001_report.xlsx", "C002_report.xlsx", "C003_report.xlsx"]
    assert sorted(p.name for p in (tmp_path / "out_multi" / "reports").iterdir()) == sorted(
        p.name for p in (tmp_path / "out_single" / "reports").iterdir())


def test_run_cli_on_one_programme(tmp_path: Path, gisplan: Any) -> None:
    store = tmp_path / "g.gpkg"
    shutil.copy(ROOT / "layers" / "guyuan_2022.gpkg", store)
    out = tmp_path / "out"
    code, text = gisplan("run", str(store), "--out", str(out), "--skip", "maps")
    assert code == 0, text
    assert "finished 完成: 1 of 1 cities" in text
    assert "coverage 设施覆盖" in text
    assert (out / "reports" / "g_report.xlsx").exists()
    assert (out / "parquet" / "coverage_gaps" / "city=g" / "part.0.parquet").exists()
    cities = pd.read_csv(out / "cities.csv")
    assert cities.loc[0, "compounds"] == 26
    assert "bundles" in Project.open(store).layers()
    from openpyxl import load_workbook

    wb = load_workbook(out / "summary.xlsx")  # one programme: no provinces to add up
    assert wb.sheetnames == ["城市明细", "运行用时"]
    assert [c.value for c in wb["城市明细"][4]][:3] == [1, "g", "ok 完成"]


def test_run_writes_big_report_tables_beside_the_workbook(tmp_path: Path,
                                                          gisplan: Any) -> None:
    import openpyxl

    store = tmp_path / "g.gpkg"
    shutil.copy(ROOT / "layers" / "guyuan_2022.gpkg", store)
    out = tmp_path / "out"
    code, text = gisplan("run", str(store), "--out", str(out), "--skip", "maps",
                         "--detail-cells", "500")
    assert code == 0, text
    detail = out / "reports" / "g_report_设施缺口.csv"
    gaps = pd.read_csv(detail, encoding="utf-8-sig")
    assert len(gaps) == 26  # every compound, rows in = rows out
    assert gaps["小区编号"].tolist() == Project.open(store).read("compounds")[
        "compound_id"].tolist()
    sheet = openpyxl.load_workbook(out / "reports" / "g_report.xlsx")["设施缺口"]
    assert "g_report_设施缺口.csv" in sheet["A2"].value
    assert sheet.max_row == 3 + 26  # the preview (100 rows) holds all 26
    # 0: every table whole in the workbook, no CSV beside it
    code, text = gisplan("run", str(store), "--out", str(tmp_path / "whole"), "--skip", "maps",
                         "--detail-cells", "0")
    assert code == 0, text
    assert [p.name for p in (tmp_path / "whole" / "reports").iterdir()] == ["g_report.xlsx"]


def test_run_cli_names_failed_cities_and_caps_the_table(national: Path, tmp_path: Path,
                                                        gisplan: Any) -> None:
    folder = tmp_path / "national"
    shutil.copytree(national, folder)
    (folder / "cities" / "C002.gpkg").write_bytes(b"")
    code, text = gisplan("run", str(folder), "--out", str(tmp_path / "o"), "--skip", "maps",
                         "--skip", "report", "--skip", "coverage", "--limit", "1")
    assert code == 1, text
    assert "C002: check:" in text
    assert "failed 失败: 1 of 3 cities" in text
    assert "… and 2 more" in text  # the city table, cut at --limit
    full = pd.read_csv(tmp_path / "o" / "cities.csv")
    assert list(full["city"]) == ["C001", "C002", "C003"]
    # the summary workbook: by province with 合计, one row per city, time by step
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "o" / "summary.xlsx")
    assert wb.sheetnames == ["分省汇总", "城市明细", "运行用时"]

    def rows(name: str) -> pd.DataFrame:
        values = list(wb[name].iter_rows(min_row=3, values_only=True))
        return pd.DataFrame(values[1:], columns=values[0])

    by_city = rows("城市明细")
    assert by_city["城市代码"].tolist() == ["C001", "C002", "C003"]
    assert by_city["状态"].tolist() == ["ok 完成", "failed 失败", "ok 完成"]
    assert by_city.loc[1, "失败步骤及原因"].startswith("check:")
    assert by_city["小区数"].tolist()[::2] == full["compounds"].dropna().astype(int).tolist()
    by_province = rows("分省汇总")
    total = by_province.iloc[-1]
    assert total["省份"] == "合计" and (pd.isna(total["序号"]) or total["序号"] == "")
    assert total["城市数"] == 3 and total["失败城市数"] == 1 and total["完成城市数"] == 2
    assert total["小区数"] == by_province["小区数"].iloc[:-1].sum() == full["compounds"].sum()
    assert total["开工率"] == pytest.approx(total["已开工小区数"] / total["计划小区数"])
    assert set(rows("运行用时")["步骤"]) == {"数据检查 check", "空间关联 join",
                                          "连片打包 bundle", "进度状态 progress", "导出 export"}


def test_run_refuses_workers_and_scheduler_together(national: Path, gisplan: Any) -> None:
    code, text = gisplan("run", str(national), "--workers", "2", "--scheduler",
                         "tcp://127.0.0.1:1")
    assert code == 2 and "not both" in text


def test_run_makes_the_maps_a_national_office_reads(tmp_path: Path) -> None:
    from gisplan.pipeline import RUN_MAPS, RunContext, run_programme

    store = tmp_path / "g.gpkg"
    shutil.copy(ROOT / "layers" / "guyuan_2022.gpkg", store)
    res = run_programme(store, RunContext(tmp_path / "out", "g"),
                        steps=["join", "coverage", "maps"])
    assert [r.ok for r in res] == [True, True, True], [r.error for r in res]
    made = sorted(p.name for p in (tmp_path / "out" / "maps").iterdir())
    assert made == ["g_gaps.html", "g_progress.html"] == sorted(f"g_{k}.html" for k in RUN_MAPS)
