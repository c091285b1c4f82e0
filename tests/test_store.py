"""The GeoPackage store: atomic writes, kill -9, hot journals, locking, the file format.

The behaviour both backends share (round trips, dtypes, metadata, errors) is tested once,
on GeoPackage and PostGIS, in tests/test_postgis_store.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from gisplan._errors import StoreError
from gisplan.schema import PANDAS_DTYPES, layer_schema
from gisplan.store import Project

# ---------------------------------------------------------------- fixtures built in code

_VALUES = {
    "str": ["甲", None, "c"],
    "int": pd.array([1998, None, 3], dtype="Int64"),
    "float": [1.5, np.nan, 1e6],
    "bool": pd.array([True, None, False], dtype="boolean"),
    "date": [dt.date(2023, 6, 30), None, dt.date(2024, 1, 1)],
    "datetime": pd.to_datetime(pd.Series(["2023-06-30 08:00:00", None, "2024-01-01 12:30:15"])),
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


def test_empty_table_round_trips(project: Project) -> None:
    project.write("plan_targets", canonical_frame("plan_targets").iloc[:0])
    back = project.read("plan_targets")
    assert len(back) == 0
    assert back["compounds"].dtype == "Int64"


def test_a_date_column_round_trips_dates_and_a_datetime_among_them_becomes_its_day(
        project: Project) -> None:
    import datetime as dt

    log = pd.DataFrame({"log_id": [1, 2, 3, 4], "compound_id": ["A", "A", "B", "B"],
                        "date": pd.Series([dt.date(2023, 5, 1), dt.datetime(2023, 6, 2, 15, 30),
                                           None, float("nan")], dtype=object),
                        "stage": ["started"] * 4})
    from gisplan.store._dtypes import canonical

    # the canonical form (what every reader and the checks see) holds days only
    days = canonical(log.copy(), "progress_log")["date"].tolist()
    assert days == [dt.date(2023, 5, 1), dt.date(2023, 6, 2), None, None]
    assert [type(v) for v in days[:2]] == [dt.date, dt.date]
    project.write("progress_log", log)
    assert project.read("progress_log")["date"].tolist() == days


def test_write_replaces_a_layer(project: Project) -> None:
    project.write("compounds", compounds(5))
    assert len(project.read("compounds")) == 5
    assert project.layers() == ["compounds"]


def test_layers_written_by_another_process_or_a_replaced_file_are_seen(
        project: Project, tmp_path: Path) -> None:
    project.write("compounds", compounds(3))
    assert project.layers() == ["compounds"]  # the listing is now kept for this file
    proc = run_python(f"""
        from gisplan.store import Project
        import pandas as pd
        p = Project.open({str(project.path)!r})
        empty = p.read("compounds").iloc[:0][[]]
        p.write("plan_lists", empty.assign(list_id=pd.Series(dtype=object)))
    """)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert project.layers() == ["compounds", "plan_lists"]
    other = Project.create(tmp_path / "other.gpkg", meta={"name": "另一个"},
                           layers={"districts": canonical_frame("districts")})
    shutil.copy(other.path, project.path)  # the file replaced under the same name
    assert project.layers() == ["districts"]
    with pytest.raises(StoreError, match="no layer 'compounds'"):
        project.read("compounds")


def test_a_layer_read_again_is_the_file_s_current_content_never_a_changed_copy(
        project: Project) -> None:
    first = project.read("compounds")
    first["households"] = -1  # a caller changing its frame changes nothing kept
    first.loc[first.index[0], "name"] = "改"
    again = project.read("compounds")
    assert len(again) == 3 and (again["households"] > 0).all()
    assert again["name"].tolist() == ["小区0", "小区1", "小区2"]
    proc = run_python(f"""
        from gisplan.store import Project
        p = Project.open({str(project.path)!r})
        c = p.read("compounds")
        c["households"] = 7
        p.write("compounds", c.iloc[:2])
    """)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    after = project.read("compounds")  # written by another process since
    assert len(after) == 2 and after["households"].tolist() == [7, 7]
    assert project.read("compounds", columns=["households"]).columns.tolist() == [
        "households", "geometry"]


def test_write_many_writes_all_layers(project: Project) -> None:
    project.write_many(
        {"districts": canonical_frame("districts"), "plan_lists": canonical_frame("plan_lists")},
        meta_updates={"bundle_level": "street"},
    )
    assert set(project.layers()) == {"compounds", "districts", "plan_lists"}
    assert project.meta["bundle_level"] == "street"


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


def test_a_replaced_layer_is_a_complete_geopackage_layer_with_its_spatial_index(
    project: Project,
) -> None:
    import pyogrio

    project.write("compounds", compounds(1000))
    project.write("compounds", compounds(2000), description="小区 replaced")
    con = sqlite3.connect(project.path)
    try:
        master = dict(con.execute("SELECT name, tbl_name FROM sqlite_master"))
        ext = con.execute("SELECT table_name, column_name, extension_name FROM gpkg_extensions "
                          "WHERE table_name = 'compounds'").fetchall()
        (indexed,) = con.execute("SELECT count(*) FROM rtree_compounds_geom").fetchone()
        counted = dict(con.execute("SELECT table_name, feature_count FROM gpkg_ogr_contents"))
        identifier = con.execute("SELECT identifier, description FROM gpkg_contents "
                                 "WHERE table_name = 'compounds'").fetchone()
        fk = con.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        con.close()
    assert ext == [("compounds", "geom", "gpkg_rtree_index")]
    assert indexed == 2000 and counted["compounds"] == 2000
    assert identifier == ("compounds", "小区 replaced")
    triggers = {n for n, t in master.items() if t == "compounds" and n.startswith("rtree_")}
    assert triggers == {f"rtree_compounds_geom_{k}" for k in
                        ("insert", "update2", "update4", "update5", "update6", "update7", "delete")}
    assert not [n for n in master if "staging" in n]
    assert fk == [] and integrity(project.path) == "ok"
    info = pyogrio.read_info(project.path, layer="compounds")
    assert info["features"] == 2000 and info["capabilities"]["fast_spatial_filter"]
    # GDAL edits the swapped-in layer; the renamed triggers keep the R-tree in step
    extra = compounds(1).assign(compound_id=["NEW"]).set_geometry([shapely.box(120, 30, 121, 31)])
    pyogrio.write_dataframe(extra, project.path, layer="compounds", append=True)
    found = project.read("compounds", bbox=(119.9, 29.9, 121.1, 31.1))
    assert found["compound_id"].tolist() == ["NEW"]


def test_replacing_a_layer_writes_in_place_not_a_copy_of_the_store(project: Project) -> None:
    project.write("districts", canonical_frame("districts"))
    inode = project.path.stat().st_ino
    districts = project.read("districts")
    project.write("compounds", compounds(500))
    assert project.path.stat().st_ino == inode  # the same file, changed in place
    assert_geodataframe_equal(project.read("districts"), districts)
    assert not list(project.path.parent.glob(".gisplan-tmp-*"))


# ---------------------------------------------------------------- metadata


def test_meta_that_is_not_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="'bad'"):
        Project.create(tmp_path / "p.gpkg", meta={"bad": object()})
    assert not (tmp_path / "p.gpkg").exists()


# ---------------------------------------------------------------- errors


def test_open_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"nope\.gpkg: no such file.*"
                       r"`gisplan import .*nope\.gpkg FILE --layer compounds`"):
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


def contents_digest(path: Path) -> str:
    """Hash of every layer's contents and the metadata, read the way gisplan reads them."""
    p = Project.open(path)
    h = hashlib.sha256(repr(sorted(p.meta.items())).encode())
    for name in p.layers():
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(pd.DataFrame(p.read(name)).astype(str)).to_numpy().tobytes())
    return h.hexdigest()


def staging_tables(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master")]
        names += [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")]
    finally:
        con.close()
    return [n for n in names if "gisplan_staging" in n]


def test_writer_killed_mid_write_leaves_every_layer_unchanged(tmp_path: Path) -> None:
    p = Project.create(tmp_path / "p.gpkg", meta={"name": "x"},
                       layers={"compounds": compounds(50), "districts": compounds(7)})
    before = contents_digest(p.path)
    size = p.path.stat().st_size
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
    while time.monotonic() < deadline:  # kill once GDAL is writing the new layer
        if p.path.stat().st_size > size + 2_000_000:
            break
        time.sleep(0.01)
    else:
        proc.kill()
        pytest.fail("the writer never started writing")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert contents_digest(p.path) == before
    assert integrity(p.path) == "ok"
    assert p.layers() == ["compounds", "districts"]
    p.write("plan_lists", canonical_frame("plan_lists"))  # the next writer cleans up
    assert staging_tables(p.path) == []
    assert not list(tmp_path.glob(".gisplan-tmp-*"))


# a writer that is killed inside the swap transaction, after the old layers were
# dropped and the new ones renamed, with its page cache spilled to the file
SWAP_KILLED = """
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_store import compounds
    from gisplan.store import Project, _write

    original = _write.swap_in

    def swap_then_stall(con, staging, name):
        con.execute("PRAGMA cache_size = 10")  # spill dirty pages to the file
        original(con, staging, name)
        con.execute("UPDATE programme SET value = ?", ('"half-written"',))
        print("swapped", flush=True)
        time.sleep(120)

    _write.swap_in = swap_then_stall
    Project.open({path!r}).write_many({{"compounds": compounds(20_000)}}, {{"name": "new"}})
"""


def make_hot_journal(path: Path) -> None:
    """Leave *path* with a hot journal: SIGKILL a writer in the middle of its swap."""
    proc = run_python(SWAP_KILLED.format(tests=str(Path(__file__).parent), path=str(path)))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert line.strip() == b"swapped", err.decode()
    journal = path.with_name(path.name + "-journal")
    assert journal.read_bytes()[:8] == bytes.fromhex("d9d505f920a163d7")  # a hot journal


@pytest.fixture(scope="module")
def hot_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store and the hot journal a killed writer left, with its contents before."""
    path = tmp_path_factory.mktemp("hot") / "p.gpkg"
    Project.create(path, meta={"name": "x"},
                   layers={"compounds": compounds(3000), "districts": canonical_frame("districts")})
    before = contents_digest(path)
    make_hot_journal(path)
    return path, before


@pytest.fixture
def hot_copy(hot_store: tuple[Path, str], tmp_path: Path) -> Path:
    """A private copy of the store and its hot journal (copied together, as a pair)."""
    src, _ = hot_store
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    shutil.copyfile(src.with_name(src.name + "-journal"), dst.with_name(dst.name + "-journal"))
    return dst


RECOVERED = "recovered an interrupted write (rolled back p.gpkg-journal)"


@pytest.mark.parametrize("action", ["open", "layers", "read", "meta", "description", "write",
                                    "append", "set_meta"])
def test_any_use_of_a_store_with_a_hot_journal_rolls_it_back_and_says_so(
    hot_store: tuple[Path, str], hot_copy: Path, action: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, before = hot_store
    with caplog.at_level("WARNING", logger="gisplan.store"):
        if action == "open":
            Project.open(hot_copy)
        else:
            p = object.__new__(Project)  # a Project opened before the writer was killed
            p.path = hot_copy
            {
                "layers": lambda: p.layers(),
                "read": lambda: p.read("compounds"),
                "meta": lambda: p.meta,
                "description": lambda: p.description("compounds"),
                "write": lambda: p.write("plan_lists", canonical_frame("plan_lists")),
                "append": lambda: p.append("progress_log", _log(2)),
                "set_meta": lambda: p.set_meta(note="n"),
            }[action]()
    assert [r.getMessage() for r in caplog.records if RECOVERED in r.getMessage()] != []
    assert not hot_copy.with_name("p.gpkg-journal").exists()
    assert integrity(hot_copy) == "ok"
    p = Project.open(hot_copy)
    assert p.read("compounds")["compound_id"].tolist() == [f"C{i:06d}" for i in range(3000)]
    if action in ("open", "layers", "read", "meta", "description"):
        assert contents_digest(hot_copy) == before
    assert staging_tables(hot_copy) == [] or action not in ("write", "append", "set_meta")


@pytest.fixture(scope="module")
def hot_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Guyuan sample programme with the hot journal a killed writer left."""
    path = tmp_path_factory.mktemp("hot_sample") / "p.gpkg"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "layers" / "guyuan_2022.gpkg", path)
    make_hot_journal(path)
    return path


@pytest.mark.parametrize("command", [
    ["check"], ["progress", "status"], ["join"], ["bundle"], ["coverage"],
    ["site", "--type", "kindergarten"], ["map", "--out", "{tmp}/m.html"],
    ["report", "--out", "{tmp}/r.xlsx"],
])
def test_every_command_on_a_store_with_a_hot_journal_recovers_it_and_says_so_in_one_line(
    hot_sample: Path, tmp_path: Path, command: list[str]
) -> None:
    store = tmp_path / "p.gpkg"
    shutil.copyfile(hot_sample, store)
    shutil.copyfile(hot_sample.with_name("p.gpkg-journal"), tmp_path / "p.gpkg-journal")
    args = [command[0], str(store), *(a.format(tmp=tmp_path) for a in command[1:])]
    if command[0] == "progress":
        args = ["progress", "status", str(store)]
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from gisplan.cli import main; main(sys.argv[1:])",
         *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "recovered an interrupted write" in ln]
    assert lines == [f"{store}: {RECOVERED} 已恢复中断的写入"]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "p.gpkg-journal").exists()


def test_a_hot_journal_that_cannot_be_rolled_back_says_what_to_do(
    hot_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gisplan.store import _recovery

    @contextlib.contextmanager
    def read_only_folder(path: Path, *, exclusive: bool) -> Iterator[None]:
        raise StoreError(f"{path}: cannot create the lock file (Read-only file system)")
        yield

    monkeypatch.setattr(_recovery, "flock", read_only_folder)
    journal = hot_copy.with_name("p.gpkg-journal").read_bytes()
    with pytest.raises(StoreError) as err:
        Project.open(hot_copy)
    message = str(err.value)
    assert "read-only" in message
    assert f"gisplan check {hot_copy}" in message
    assert "Do not delete p.gpkg-journal" in message
    assert hot_copy.with_name("p.gpkg-journal").read_bytes() == journal  # left as it was


def test_a_geopackage_that_is_not_a_programme_is_refused_with_the_import_command(
    tmp_path: Path,
) -> None:
    path = tmp_path / "other.gpkg"
    compounds().to_file(path, layer="compounds", engine="pyogrio")
    with pytest.raises(StoreError, match=r"not a gisplan programme.*"
                       r"`gisplan import PROGRAMME\.gpkg .*other\.gpkg --layer compounds`"):
        Project.open(path)
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from gisplan.cli import main; main(sys.argv[1:])",
         "check", str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "not a gisplan programme" in proc.stderr and "Traceback" not in proc.stderr


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




def test_own_write_keeps_the_other_layers_read_and_rereads_the_written_ones(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's step writes its layers and the next step reads the programme's: those
    stay kept across the write; the layers written, the listing and a foreign write
    go to the file."""
    import pyogrio

    project.write_many({"districts": canonical_frame("districts")})
    project.read("compounds")
    project.read("districts")
    reads: list[str] = []
    real = pyogrio.read_dataframe
    monkeypatch.setattr(pyogrio, "read_dataframe",
                        lambda path, layer, **kw: reads.append(layer) or real(path, layer,
                                                                              **kw))
    project.write_many({"districts": canonical_frame("districts").iloc[:0]},
                       meta_updates={"step": "join"})
    assert len(project.read("compounds")) == 3 and reads == []  # kept across the write
    assert len(project.read("districts")) == 0 and reads == ["districts"]  # re-read
    assert project.meta["step"] == "join"
    project.write("plan_lists", pd.DataFrame({"list_id": pd.Series(["L1"], dtype=object)}))
    assert "plan_lists" in project.layers()  # the listing is read again
    proc = run_python(f"""
        from gisplan.store import Project
        p = Project.open({str(project.path)!r})
        c = p.read("compounds")
        p.write("compounds", c.iloc[:1])
    """)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert len(project.read("compounds")) == 1  # another process's write is seen
