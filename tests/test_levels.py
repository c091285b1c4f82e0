"""Missing levels: no 片区 polygons, but a 所在街道 column in the office's list.

The list is made as an office makes it: a CSV with a title row, 序号 and no id column,
"户" in the cells, outlines as WKT, a 所在街道 column. Six compounds in a row, touching
each other; the first three are in 东关街道, the last three in 西关街道. Without street
polygons, bundling must take the level from 所在街道 and say so, and no bundle may hold
compounds of both streets.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely

from gisplan.store import Project

_STREETS = ["东关街道"] * 3 + ["西关街道"] * 3


def _office_list(tmp_path: Path, *, street_header: str = "所在街道") -> Path:
    # 60 m x 60 m squares side by side near Yuzhou (113.47 E, 34.14 N), touching
    rows = ["2024年禹州市老旧小区改造计划",
            f"序号,小区名称,{street_header},户数,建成年份,边界,备注"]
    for i, street in enumerate(_STREETS):
        x0 = 113.47 + i * 0.00066
        box = shapely.box(x0, 34.14, x0 + 0.00066, 34.1405)
        rows.append(f'{i + 1},小区{i + 1},{street},"{200 + i}户",1995年,"{box.wkt}",')
    rows.append('合计,,,"1,215户",,,')
    path = tmp_path / "小区清单.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps long lines at the terminal width


@pytest.fixture
def office_store(tmp_path: Path, gisplan) -> Path:
    store = tmp_path / "禹州.gpkg"
    code, out = gisplan("import", store, _office_list(tmp_path), "--layer", "compounds")
    assert code == 0, out
    return store


def test_bundle_takes_the_street_column_and_says_so(office_store: Path, gisplan):
    code, out = gisplan("bundle", office_store, "--min-households", "300")
    assert code == 0, out
    assert "片区 taken from the compounds' 街道 (street) column (no 片区 polygons)" in out
    assert "bundles may cross districts" not in out
    p = Project.open(office_store)
    members = p.read("bundle_members")
    comp = pd.DataFrame(p.read("compounds")).set_index("compound_id")
    members = members.assign(street=members["compound_id"].map(comp["street"]))
    assert len(members) >= 4  # bundles were made: the test can fail on the street split
    per_bundle = members.groupby("bundle_id")["street"].nunique()
    assert (per_bundle == 1).all(), members
    # both streets have a bundle, each of its own street's compounds only
    assert set(members["street"]) == {"东关街道", "西关街道"}


def test_without_the_street_column_bundles_cross_and_the_warning_stays(tmp_path: Path,
                                                                       gisplan):
    store = tmp_path / "x.gpkg"
    path = _office_list(tmp_path, street_header="联系人")
    assert gisplan("import", store, path, "--layer", "compounds")[0] == 0
    code, out = gisplan("bundle", store, "--min-households", "300")
    assert code == 0, out
    assert "bundles may cross districts" in out and "taken from" not in out


def test_coverage_rolls_up_by_street_and_says_so(office_store: Path, tmp_path: Path,
                                                 gisplan):
    fac = tmp_path / "设施.csv"
    fac.write_text("设施名称,设施类型,经度,纬度\n幼儿园一,幼儿园,113.4705,34.1402\n",
                   encoding="utf-8")
    assert gisplan("import", office_store, fac, "--layer", "facilities")[0] == 0
    from gisplan.coverage import coverage_project

    res = coverage_project(office_store)
    units = set(res.summary.loc[res.summary["level"] == "district", "unit"])
    assert units == {"东关街道", "西关街道"}
    [f] = res.report.by_code("level_from_column")
    assert "街道 (street)" in f.message
