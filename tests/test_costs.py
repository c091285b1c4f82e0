"""Cost estimates: unit costs as data, calibration, bundles and joint works."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, box

from gisplan._errors import InputError
from gisplan.cli import cli
from gisplan.costs import (
    calibrate,
    estimate_compounds,
    estimate_project,
    joint_works,
    load_unit_costs,
)
from gisplan.store import Project

HEADER = ("item,zh,category,basis,unit_cost_yuan,fallback_per_household,trench_yuan_per_m,"
          "source,illustrative\n")


def _table(tmp_path: Path, row: str) -> Path:
    p = tmp_path / "uc.csv"
    p.write_text(HEADER + row + "\n", encoding="utf-8")
    return p


def test_every_shipped_value_has_a_source_or_is_illustrative() -> None:
    t = load_unit_costs().table
    assert (t["source"].str.len() > 0).all()
    assert {"floor_area_m2", "household", "pipe_m", "facility"} <= set(t["basis"])


def test_negative_unit_cost_names_file_row_column_and_fix(tmp_path: Path) -> None:
    p = _table(tmp_path, "walls,外墙,basic,floor_area_m2,-150,,,市定额,false")
    with pytest.raises(InputError) as e:
        load_unit_costs(p)
    assert e.value.row == 1 and e.value.column == "unit_cost_yuan"
    assert e.value.value == "-150" and "positive" in str(e.value)


def test_unknown_item_suggests_the_close_key(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="did you mean walls"):
        load_unit_costs(_table(tmp_path, "wall,外墙,basic,floor_area_m2,150,,,市定额,false"))


def test_value_without_source_must_be_marked_illustrative(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="illustrative"):
        load_unit_costs(_table(tmp_path, "walls,外墙,basic,floor_area_m2,150,,,,false"))


def test_prices_each_item_on_its_basis() -> None:
    c = pd.DataFrame({"compound_id": ["A"], "households": [10], "floor_area_m2": [1000.0],
                      "buildings": [1], "planned_items": ["外墙、安防、停车场"]})
    items = estimate_compounds(c).items.set_index("item")
    assert items.loc["walls", "cost_raw_yuan"] == 150 * 1000
    assert items.loc["security", "cost_raw_yuan"] == 300 * 10
    assert items.loc["parking", "quantity"] == 1


def test_unknown_planned_item_is_flagged_and_the_row_kept() -> None:
    c = pd.DataFrame({"compound_id": ["A", "B"], "households": [10, 10],
                      "floor_area_m2": [1000.0, 1000.0], "planned_items": ["外墙、飞碟库", "外墙"]})
    res = estimate_compounds(c)
    assert len(res.compounds) == 2
    assert res.compounds["flags"].tolist() == ["unknown_item", ""]
    assert res.report.by_code("unknown_item")[0].value == "飞碟库"


def test_calibration_rounds_to_the_stated_total_exactly() -> None:
    v, f = calibrate(pd.Series([1.0, 2.0, 3.0, 7.0]).to_numpy(), 100.0)
    assert round(float(v.sum()), 4) == 100.0
    assert f == pytest.approx(100 / 13)


def test_guyuan_estimates_sum_to_the_stated_total_after_calibration() -> None:
    res = estimate_project("layers/guyuan_2022.gpkg", calibrate=True)
    assert round(float(res.compounds["estimate_wan_yuan"].sum()), 4) == 17808.68
    raw = res.compounds["estimate_raw_wan_yuan"].sum()
    assert res.calibration["factor"] == pytest.approx(17808.68 / raw, rel=1e-5)
    assert len(res.compounds) == 26
    assert set(res.bundles["bundle_id"]) == {"西关北街", "西关南街", "南城路"}
    assert res.bundles["estimate_wan_yuan"].sum() == pytest.approx(17808.68, abs=1e-3)


def test_uncalibrated_estimate_has_factor_one() -> None:
    res = estimate_project("layers/guyuan_2022.gpkg")
    assert res.calibration["factor"] == 1.0
    assert (res.compounds["estimate_wan_yuan"] == res.compounds["estimate_raw_wan_yuan"]).all()


def test_shared_trench_and_saving_from_digging_once() -> None:
    c = gpd.GeoDataFrame({"compound_id": ["A", "B", "C"]},
                         geometry=[box(0, 0, 100, 100), box(0, 110, 100, 210),
                                   box(500, 0, 600, 100)], crs=3857)
    u = gpd.GeoDataFrame({"utility_id": ["W1", "G1"], "network": ["water_supply", "gas"]},
                         geometry=[LineString([(0, 105), (100, 105)]),
                                   LineString([(500, 105), (600, 105)])], crs=3857)
    j = joint_works(c, u, pd.Series(["P", "P", "P"]))
    assert j["network"].tolist() == ["water_supply"]  # the gas line serves only C
    assert j["shared_trench_m"].iat[0] == pytest.approx(100.0)
    assert j["saving_wan_yuan"].iat[0] == pytest.approx(100 * 250 / 10_000)


def test_cli_estimate_writes_layers(sample_copy) -> None:  # type: ignore[no-untyped-def]
    path = sample_copy("guyuan")
    out = CliRunner().invoke(cli, ["estimate", str(path), "--calibrate"])
    assert out.exit_code == 0, out.output
    assert "校准系数" in out.output
    est = Project.open(path).read("estimates")
    assert round(float(est["estimate_wan_yuan"].sum()), 2) == 17808.68
    assert {"funding", "joint_works", "estimate_bundles"} <= set(Project.open(path).layers())
