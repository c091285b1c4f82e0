"""The programme store: round trips, atomic writes, locking, metadata, errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal

from gisplan._errors import SchemaError, StoreError
from gisplan.schema import PANDAS_DTYPES, layer_schema, layers
from gisplan.store import Project

# ---------------------------------------------------------------- fixtures built in code

_VALUES = {
    "str": ["甲", None, "c"],
    "int": pd.array([1998, None, 3], dtype="Int64"),
    "float": [1.5, np.nan, 1e6],
    "bool": pd.array([True, None, False], dtype="boolean"),
    "date": [dt.date(2023, 6, 30), None, dt.date(2024, 1, 1)],
    "datetime": pd.to_datetime(["2023-06-30 08:00:00", None, "2024-01-01 12:30:15"]),
}


def _geometry(kind: str, i: int) -> shapely.Geometry:
    x, y = 106.25 + i * 0.01, 36.0
    if kind in ("Polygon", "MultiPolygon"):
        return shapely.box(x, y, x + 0.005, y + 0.005)
    if kind in ("LineString", "MultiLineString"):
        return shapely.LineString([(x, y), (x + 0.005, y + 0.002)])
    return shapely.Point(x, y)


def canonical_frame(name: str, *, crs: str = "EPSG:4326") -> pd.DataFrame:
    """Three rows of layer *name*: every column, every dtype, nulls in the middle row."""
    sch = layer_schema(name)
    data = {}
    for col in sch.columns:
        values = _VALUES[col.dtype]
        data[col.name] = pd.Series(values, dtype=PANDAS_DTYPES[col.dtype])
        if col.dtype == "str":
            data[col.name] = pd.Series([f"{col.name}-甲", None, "c"], dtype=object)
        if col.dtype == "datetime":
            data[col.name] = pd.Series(values).astype("datetime64[ms]")
    frame = pd.DataFrame(data)
    if sch.kind == "table":
        return frame
    geoms = [_geometry(sch.geometry[0], i) for i in range(3)]
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=crs)


def compounds(n: int = 3, *, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    x = 106.2 + np.arange(n) % 500 * 0.001
    y = 36.0 + np.arange(n) // 500 * 0.001
    return gpd.GeoDataFrame(
        {
            "compound_id": [f"C{i:06d}" for i in range(n)],
            "name": [f"小区{i}" for i in range(n)],
            "households": pd.array(np.arange(n) % 700 + 1, dtype="Int64"),
        },
        geometry=shapely.box(x, y, x + 0.0008, y + 0.0008),
        crs=crs,
    )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(
        tmp_path / "p.gpkg",
        meta={"name": "测试", "year": 2023, "synthetic": True},
        layers={"compounds": compounds()},
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def integrity(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


def run_python(code: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,  # type: ignore[call-overload]
    )


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", list(layers()))
def test_every_canonical_layer_round_trips_with_dtypes_and_crs(tmp_path: Path, name: str) -> None:
    frame = canonical_frame(name)
    p = Project.create(tmp_path / "p.gpkg", meta={"name": "x"}, layers={name: frame})
    back = p.read(name)
    if isinstance(frame, gpd.GeoDataFrame):
        assert_geodataframe_equal(back, frame, check_less_precise=True)
        assert back.crs == frame.crs
    else:
        assert type(back) is pd.DataFrame
        assert_frame_equal(back, frame)


def test_epsg4490_layer_keeps_its_crs(tmp_path: Path) -> None:
    gdf = compounds(crs="EPSG:4490")
    p = Project.create(tmp_path / "p.gpkg", meta={}, layers={"compounds": gdf})
    assert p.read("compounds").crs.to_epsg() == 4490


def test_empty_layer_round_trips_with_columns_and_dtypes(project: Project) -> None:
    empty = canonical_frame("facilities").iloc[:0]
    project.write("facilities", empty)
    back = project.read("facilities")
    assert len(back) == 0
    assert list(back.columns) == list(empty.columns)
    assert back.dtypes.to_dict() == empty.dtypes.to_dict()
    assert back.crs == empty.crs


def test_empty_table_round_trips(project: Project) -> None:
    project.write("plan_targets", canonical_frame("plan_targets").iloc[:0])
    back = project.read("plan_targets")
    assert len(back) == 0
    assert back["compounds"].dtype == "Int64"


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
    assert shapely.area(back.geometry.values).tolist() == pytest.approx(
        shapely.area(gdf.geometry.values).tolist()
    )


def test_read_columns_and_bbox(tmp_path: Path) -> None:
    gdf = compounds(1000)
    p = Project.create(tmp_path / "p.gpkg", meta={}, layers={"compounds": gdf})
    box = (106.2, 36.0, 106.2105, 36.0005)
    back = p.read("compounds", columns=["name"], bbox=box)
    assert list(back.columns) == ["name", "geometry"]
    expected = gdf[gdf.intersects(shapely.box(*box))]
    assert sorted(back["name"]) == sorted(expected["name"])


def test_write_replaces_a_layer(project: Project) -> None:
    project.write("compounds", compounds(5))
    assert len(project.read("compounds")) == 5
    assert project.layers() == ["compounds"]


def test_write_many_writes_all_layers(project: Project) -> None:
    project.write_many(
        {"districts": canonical_frame("districts"), "plan_lists": canonical_frame("plan_lists")},
        meta_updates={"bundle_level": "street"},
    )
    assert set(project.layers()) == {"compounds", "districts", "plan_lists"}
    assert project.meta["bundle_level"] == "street"


def test_a_failing_write_many_changes_nothing(project: Project) -> None:
    before = digest(project.path)
    bad = compounds().astype({"households": object})
    bad.loc[1, "households"] = "很多"
    with pytest.raises(SchemaError, match="households"):
        project.write_many({"districts": canonical_frame("districts"), "compounds": bad})
    assert digest(project.path) == before
    assert not list(project.path.parent.glob(".gisplan-tmp-*"))


# ---------------------------------------------------------------- GeoPackage validity


def test_file_is_a_valid_geopackage_for_qgis(project: Project) -> None:
    con = sqlite3.connect(project.path)
    try:
        (app_id,) = con.execute("PRAGMA application_id").fetchone()
        contents = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
        geom = con.execute(
            "SELECT table_name, geometry_type_name, srs_id FROM gpkg_geometry_columns"
        ).fetchall()
    finally:
        con.close()
    assert app_id == 0x47504B47
    assert contents == {"programme": "attributes", "compounds": "features"}
    assert geom == [("compounds", "POLYGON", 4326)]


def test_descriptions_mark_synthetic_data(project: Project) -> None:
    assert project.description("compounds").startswith("合成数据 SYNTHETIC")
    project.write("districts", canonical_frame("districts"), description="县区界 from 民政部")
    assert project.description("districts") == "县区界 from 民政部"


# ---------------------------------------------------------------- metadata


def test_meta_round_trips_nested_values(tmp_path: Path) -> None:
    meta = {
        "name": "固原市2022年城镇老旧小区改造",
        "counties": ["原州区", "西吉县"],
        "synthetic": False,
        "targets": {"compounds": 49, "floor_area_m2": 64180.0},
        "milestones": [{"key": "start", "date": "2022-06-30", "target": 0.5}],
    }
    p = Project.create(tmp_path / "p.gpkg", meta=meta)
    assert Project.open(p.path).meta == meta


def test_set_meta_updates_and_keeps_other_keys(project: Project) -> None:
    project.set_meta(year=2024, crs_note="CGCS2000")
    assert project.meta == {"name": "测试", "year": 2024, "synthetic": True, "crs_note": "CGCS2000"}


def test_meta_that_is_not_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="'bad'"):
        Project.create(tmp_path / "p.gpkg", meta={"bad": object()})
    assert not (tmp_path / "p.gpkg").exists()


# ---------------------------------------------------------------- errors


def test_open_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"nope\.gpkg: no such file.*Project\.create"):
        Project.open(tmp_path / "nope.gpkg")


def test_open_a_text_file_says_it_is_not_a_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "x.gpkg"
    path.write_text("compound_id,name\nC1,东关\n", encoding="utf-8")
    with pytest.raises(StoreError, match=r"x\.gpkg: not a GeoPackage \(not an SQLite database\)"):
        Project.open(path)


def test_open_a_plain_sqlite_database_says_it_is_not_a_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (a)").connection.close()
    with pytest.raises(StoreError, match="without gpkg_contents"):
        Project.open(path)


def test_create_refuses_to_overwrite_by_default(project: Project) -> None:
    with pytest.raises(StoreError, match="overwrite=True"):
        Project.create(project.path, meta={})
    assert Project.create(project.path, meta={}, overwrite=True).layers() == []


def test_reading_a_missing_layer_lists_the_layers_present(project: Project) -> None:
    with pytest.raises(StoreError, match=r"no layer 'bundles' \(layers present: compounds\)"):
        project.read("bundles")


# ---------------------------------------------------------------- appends


def _log(n: int, *, stage: str = "started") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "compound_id": [f"C{i}" for i in range(n)],
            "date": [dt.date(2023, 6, 30)] * n,
            "stage": [stage] * n,
            "consent_rate": [0.95] * n,
            "crew_on_site": pd.array([True, None][: min(n, 2)] + [False] * max(n - 2, 0),
                                     dtype="boolean"),
        }
    )


def test_append_creates_the_table_and_numbers_log_ids(project: Project) -> None:
    assert project.append("progress_log", _log(3)) == 3
    assert project.append("progress_log", _log(2, stage="completed")) == 2
    log = project.read("progress_log")
    assert log["log_id"].tolist() == [1, 2, 3, 4, 5]
    assert log["stage"].tolist() == ["started"] * 3 + ["completed"] * 2
    assert log["crew_on_site"].tolist()[:2] == [True, pd.NA]
    assert log["date"].tolist() == [dt.date(2023, 6, 30)] * 5


def test_append_adds_columns_the_table_lacks(project: Project) -> None:
    project.append("progress_log", _log(1))
    project.append("progress_log", _log(1).assign(note=["脚手架已搭"]))
    assert project.read("progress_log")["note"].tolist() == [None, "脚手架已搭"]


def test_append_to_a_spatial_layer_keeps_old_rows(project: Project) -> None:
    assert project.append("compounds", compounds(2)) == 2
    assert len(project.read("compounds")) == 5


def test_two_processes_appending_at_once_lose_nothing(project: Project) -> None:
    project.append("progress_log", _log(1))
    code = f"""
        import datetime as dt, pandas as pd
        from gisplan.store import Project
        p = Project.open({str(project.path)!r})
        for i in range(25):
            p.append("progress_log", pd.DataFrame({{"compound_id": ["W%d" % i] * 8,
                     "date": [dt.date(2024, 1, 1)] * 8, "stage": ["started"] * 8}}))
    """
    procs = [run_python(code) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    log = project.read("progress_log")
    assert len(log) == 1 + 2 * 25 * 8
    assert sorted(log["log_id"]) == list(range(1, 402))
    assert integrity(project.path) == "ok"


# ---------------------------------------------------------------- atomicity and locks


def test_writer_killed_mid_write_leaves_the_store_unchanged(tmp_path: Path) -> None:
    p = Project.create(tmp_path / "p.gpkg", meta={"name": "x"}, layers={"compounds": compounds(50)})
    before = digest(p.path)
    code = f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import compounds
        from gisplan.store import Project
        big = compounds(150_000)
        print("ready", flush=True)
        Project.open({str(p.path)!r}).write_many({{"compounds": big, "districts": big}})
    """
    proc = run_python(code)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once the new layer is being written
        tmp = list(tmp_path.glob(".gisplan-tmp-*p.gpkg"))
        if tmp and tmp[0].stat().st_size > 2_000_000:
            break
        time.sleep(0.01)
    else:
        proc.kill()
        pytest.fail("the writer never started writing")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert digest(p.path) == before
    assert integrity(p.path) == "ok"
    assert p.layers() == ["compounds"]
    assert len(p.read("compounds")) == 50
    p.write("districts", canonical_frame("districts"))  # the next writer cleans up
    assert not list(tmp_path.glob(".gisplan-tmp-*"))


def test_lock_serialises_writers_across_processes(project: Project, tmp_path: Path) -> None:
    marker = tmp_path / "locked"
    code = f"""
        import pathlib, time
        from gisplan.store import Project
        with Project.open({str(project.path)!r}).lock():
            pathlib.Path({str(marker)!r}).touch()
            time.sleep(1.0)
    """
    proc = run_python(code)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    project.write("compounds", compounds(4))
    waited = time.monotonic() - start
    proc.wait(timeout=30)
    assert waited > 0.5
    assert len(project.read("compounds")) == 4


def test_lock_is_reentrant_for_read_modify_write(project: Project) -> None:
    with project.lock():
        gdf = project.read("compounds")
        project.write("compounds", gdf[gdf["households"] > 1])
        project.set_meta(note="filtered")
    assert len(project.read("compounds")) == 2
    assert project.meta["note"] == "filtered"
