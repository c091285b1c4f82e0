"""The store's behaviour on both backends: GeoPackage and PostGIS give the same results.

The tests of tests/test_store.py that do not depend on the GeoPackage file format, run
on both backends (``backend`` fixture); PostGIS runs against a real server
(``pg_server`` in conftest.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal
from test_store import canonical_frame, compounds

from gisplan._errors import SchemaError, StoreError
from gisplan.schema import layers
from gisplan.store import Project

Make = Callable[..., Project]


@pytest.fixture(params=["gpkg", "postgis"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a new programme goes: a GeoPackage path or a PostGIS URL."""
    if request.param == "gpkg":
        return str(tmp_path / "p.gpkg")
    server = request.getfixturevalue("pg_server")
    return str(server.url(request.getfixturevalue("pg_schema")))


@pytest.fixture
def make(location: str) -> Make:
    def _make(meta: dict[str, Any] | None = None, **frames: pd.DataFrame) -> Project:
        return Project.create(location, meta=meta if meta is not None else {"name": "测试"},
                              layers=frames, overwrite=True)

    return _make


@pytest.fixture
def project(make: Make) -> Project:
    return make({"name": "测试", "year": 2023, "synthetic": True}, compounds=compounds())


@pytest.mark.parametrize("name", list(layers()))
def test_every_canonical_layer_round_trips_with_dtypes_and_crs(make: Make, name: str) -> None:
    frame = canonical_frame(name)
    back = make({"name": "x"}, **{name: frame}).read(name)
    if isinstance(frame, gpd.GeoDataFrame):
        assert_geodataframe_equal(back, frame, check_less_precise=True)
        assert back.crs == frame.crs
    else:
        assert type(back) is pd.DataFrame
        assert_frame_equal(back, frame)


def test_open_gives_the_same_kind_of_project(project: Project, location: str) -> None:
    again = Project.open(location)
    assert isinstance(again, Project)
    assert again.layers() == ["compounds"]


def test_epsg4490_layer_keeps_its_crs(make: Make) -> None:
    assert make(compounds=compounds(crs="EPSG:4490")).read("compounds").crs.to_epsg() == 4490


def test_empty_layer_round_trips_with_columns_and_dtypes(project: Project) -> None:
    empty = canonical_frame("facilities").iloc[:0]
    project.write("facilities", empty)
    back = project.read("facilities")
    assert len(back) == 0
    assert list(back.columns) == list(empty.columns)
    assert back.dtypes.to_dict() == empty.dtypes.to_dict()
    assert back.crs == empty.crs


def test_missing_geometry_round_trips_as_none(project: Project) -> None:
    gdf = compounds()
    gdf.loc[1, "geometry"] = None
    project.write("compounds", gdf)
    back = project.read("compounds")
    assert back.geometry.isna().tolist() == [False, True, False]
    assert back.geometry[0].equals_exact(gdf.geometry[0], tolerance=1e-9)


def test_unknown_columns_are_kept(project: Project) -> None:
    gdf = compounds().assign(楼长=["王", None, "李"], score=[0.1, 0.2, 0.3])
    project.write("compounds", gdf)
    back = project.read("compounds")
    assert back["楼长"].tolist() == ["王", None, "李"]
    assert back["score"].tolist() == [0.1, 0.2, 0.3]


def test_mixed_polygon_and_multipolygon_layer_is_stored_as_multi(project: Project) -> None:
    gdf = compounds()
    gdf.loc[2, "geometry"] = shapely.MultiPolygon([gdf.geometry[2], shapely.box(0, 0, 1, 1)])
    project.write("compounds", gdf)
    back = project.read("compounds")
    assert set(back.geom_type) == {"MultiPolygon"}
    assert [g.area for g in back.geometry] == pytest.approx([g.area for g in gdf.geometry])


def test_read_columns_and_bbox(make: Make) -> None:
    gdf = compounds(1000)
    p = make(compounds=gdf)
    box = (106.2, 36.0, 106.2105, 36.0005)
    back = p.read("compounds", columns=["name"], bbox=box)
    assert list(back.columns) == ["name", "geometry"]
    expected = gdf[gdf.intersects(shapely.box(*box))]
    assert sorted(back["name"]) == sorted(expected["name"])


def test_write_many_writes_all_layers_and_meta(project: Project) -> None:
    project.write_many({"facilities": canonical_frame("facilities"),
                        "plan_targets": canonical_frame("plan_targets")},
                       {"bundle_level": "street"}, descriptions={"facilities": "设施 test"})
    assert project.layers() == ["compounds", "facilities", "plan_targets"]
    assert project.meta["bundle_level"] == "street"
    assert project.description("facilities") == "设施 test"


def test_a_failing_write_many_changes_nothing(project: Project) -> None:
    before = project.read("compounds")
    bad = pd.DataFrame({"households": ["not a number"]})
    with pytest.raises(SchemaError):
        project.write_many({"compounds": compounds(5), "plan_targets": bad}, {"x": 1})
    assert_geodataframe_equal(project.read("compounds"), before)
    assert "x" not in project.meta and "plan_targets" not in project.layers()


def test_descriptions_mark_synthetic_data(project: Project) -> None:
    assert project.description("compounds") == "合成数据 SYNTHETIC: 小区 compounds — 测试"


def test_meta_round_trips_nested_values(make: Make) -> None:
    meta = {"name": "x", "targets": {"compounds": 3}, "counties": ["甲", "乙"],
            "start": dt.date(2023, 6, 30), "synthetic": False}
    assert make(meta).meta == {**meta, "start": "2023-06-30"}


def test_set_meta_updates_and_keeps_other_keys(project: Project) -> None:
    project.set_meta(bundle_level="street")
    assert project.meta == {"name": "测试", "year": 2023, "synthetic": True,
                            "bundle_level": "street"}


def test_create_refuses_to_overwrite_by_default(project: Project, location: str) -> None:
    with pytest.raises(StoreError, match="exist"):
        Project.create(location, meta={})


def test_reading_a_missing_layer_lists_the_layers_present(project: Project) -> None:
    with pytest.raises(StoreError, match=r"no layer 'roads' \(layers present: compounds\)"):
        project.read("roads")
    with pytest.raises(StoreError):
        project.description("roads")


def test_append_creates_the_table_and_numbers_log_ids(project: Project) -> None:
    rows = canonical_frame("progress_log").drop(columns="log_id").assign(
        row_hash=["h1", "h2", "h3"])
    assert project.append("progress_log", rows) == 3
    assert project.append("progress_log", rows.assign(row_hash=["h4", "h5", "h6"])) == 3
    assert project.read("progress_log")["log_id"].tolist() == [1, 2, 3, 4, 5, 6]


def test_append_adds_columns_the_table_lacks(project: Project) -> None:
    project.append("plan_targets", pd.DataFrame({"unit": ["甲"]}))
    project.append("plan_targets", pd.DataFrame({"unit": ["乙"], "extra": ["x"]}))
    assert project.read("plan_targets")["extra"].tolist() == [None, "x"]


def test_append_to_a_spatial_layer_keeps_old_rows(project: Project) -> None:
    project.append("compounds", compounds(2))
    assert len(project.read("compounds")) == 5


def test_lock_is_reentrant_for_read_modify_write(project: Project) -> None:
    with project.lock():
        c = project.read("compounds")
        with project.lock():
            project.write("compounds", c[c.households > 1])
    assert len(project.read("compounds")) == 2
