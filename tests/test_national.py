"""A national programme: cities over the provinces, one store each, run city by city."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gisplan.crs import analysis_crs
from gisplan.national import open_national, rows_across_partitions, run, synth_national
from gisplan.store import Project
from gisplan.synth import national_cities, synth_city, synth_national_city

STEPS = ["check", "join", "bundle", "coverage", "progress", "export"]


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("nat") / "national"
    synth_national(folder, cities=4, compounds=400, seed=5)
    return folder


def test_plan_spreads_cities_over_provinces_and_adds_up() -> None:
    plan = national_cities(cities=60, compounds=280_000, seed=2)
    assert sum(c.compounds for c in plan) == 280_000
    assert min(c.compounds for c in plan) >= 20
    assert len({c.province for c in plan}) == 27
    assert len({c.center for c in plan}) == 60  # no two cities share a centre
    sizes = sorted(c.compounds for c in plan)
    assert sizes[-1] > 3 * sizes[len(sizes) // 2]  # a few large cities, many small


def test_each_city_gets_its_own_metric_zone(national: Path) -> None:
    nat = open_national(national)
    zones = set()
    for city in nat.cities:
        comp = Project.open(nat.store(city)).read("compounds")
        zones.add(analysis_crs(comp).to_epsg())
    assert len(zones) == len(nat.cities)


def test_city_layers_ids_and_a_year_of_log(national: Path) -> None:
    nat = open_national(national)
    ids = []
    for city in nat.cities:
        p = Project.open(nat.store(city))
        assert {"compounds", "districts", "utilities", "facilities", "roads", "gates",
                "progress_log"} <= set(p.layers())
        comp = p.read("compounds")
        assert len(comp) == city.compounds
        assert comp["county"].str.startswith(city.name).all()
        log = p.read("progress_log")
        dates = pd.to_datetime(pd.Series(log["date"]))
        assert dates.dt.year.eq(2024).all() and dates.min().month <= 3
        assert set(log["compound_id"]) <= set(comp["compound_id"])
        assert p.meta["province"] == city.province and p.meta["milestones"]
        ids.append(comp["compound_id"])
    all_ids = pd.concat(ids)
    assert all_ids.is_unique  # ids carry the city code: the cities can be combined


def test_synth_city_unchanged_by_the_national_generator() -> None:
    a = synth_city(compounds=50, seed=3)
    city = national_cities(cities=1, compounds=50, seed=0)[0]
    synth_national_city(city)
    b = synth_city(compounds=50, seed=3)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_rows_in_equal_rows_out_across_partitions(national: Path, tmp_path: Path) -> None:
    res = run(national, out=tmp_path / "out", steps=STEPS)
    assert res.failed == {} and len(res.finished) == 4
    nat = open_national(national)
    want = {c.code: c.compounds for c in nat.cities}
    assert rows_across_partitions(tmp_path / "out", "compounds") == want
    assert rows_across_partitions(tmp_path / "out", "coverage_gaps") == want
    members = rows_across_partitions(tmp_path / "out", "bundle_members")
    alone = rows_across_partitions(tmp_path / "out", "bundle_standalone")
    assert {c: members.get(c, 0) + alone.get(c, 0) for c in want} == want
    frame = res.cities_frame()
    assert frame["compounds"].sum() == 400 and frame["rows_balanced"].all()


def test_a_failing_city_is_named_and_the_others_finish(national: Path, tmp_path: Path) -> None:
    folder = tmp_path / "national"
    shutil.copytree(national, folder)
    nat = open_national(folder)
    # C002 lost its compounds layer; C003's file is not a GeoPackage at all
    p2 = Project.open(nat.store("C002"))
    roads = p2.read("roads")
    Project.create(nat.store("C002"), meta=p2.meta, layers={"roads": roads}, overwrite=True)
    nat.store("C003").write_bytes(b"not a geopackage" * 100)
    res = run(folder, out=tmp_path / "out", steps=STEPS)
    assert res.finished == ["C001", "C004"]
    assert set(res.failed) == {"C002", "C003"}
    assert "compounds" in res.failed["C002"]
    assert res.failed["C003"].startswith("check:")
    assert "internal error" not in " ".join(res.failed.values())
    parts = rows_across_partitions(tmp_path / "out", "coverage_gaps")
    assert sorted(parts) == ["C001", "C004"]
    # later steps of a failed city are skipped, and say so
    skipped = [r for r in res.results if r.city == "C002" and r.step == "export"]
    assert skipped[0].error.startswith("skipped")


def test_bad_index_is_an_input_error(tmp_path: Path) -> None:
    from gisplan._errors import InputError

    (tmp_path / "national.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="national index"):
        open_national(tmp_path)
    (tmp_path / "national.json").write_text(json.dumps({"cities": [{"x": 1}]}))
    with pytest.raises(InputError):
        open_national(tmp_path)


def test_cities_are_spread_in_longitude() -> None:
    lons = np.array([c.center[0] for c in national_cities(cities=27, compounds=2700)])
    assert lons.min() < 90 and lons.max() > 125


def test_synth_cli_writes_a_national_folder(tmp_path: Path, gisplan: Any) -> None:
    code, text = gisplan("synth", "--cities", "3", "--compounds", "90", "--out",
                         str(tmp_path / "nat"))
    assert code == 0, text
    assert "3 cities 城市 in 3 provinces" in text
    nat = open_national(tmp_path / "nat")
    assert [c.compounds for c in nat.cities] == [
        len(Project.open(nat.store(c)).read("compounds")) for c in nat.cities]
    code, text = gisplan("synth", "--cities", "3", "--compounds", "90", "--out",
                         str(tmp_path / "nat"))
    assert code == 2 and "not empty" in text  # never overwritten without --overwrite
    code, text = gisplan("synth", "--cities", "5", "--compounds", "2", "--out",
                         str(tmp_path / "n2"))
    assert code == 2 and "cannot fill" in text
