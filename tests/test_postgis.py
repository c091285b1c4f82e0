"""The PostGIS store against a real server: copy, QGIS tables, roles, concurrency, injection,
credentials and bad input (the server is started by ``pg_server`` in conftest.py)."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import PG_DATABASE, PgServer
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal

from gisplan._errors import StoreError
from gisplan.cli.store import copy_programme
from gisplan.progress.log import row_hashes
from gisplan.store import Project

EVIL = "x'); DROP TABLE compounds; --"


def assert_same_layers(a: Project, b: Project) -> None:
    assert a.layers() == b.layers()
    assert a.meta == b.meta
    for name in a.layers():
        left, right = a.read(name), b.read(name)
        assert a.description(name) == b.description(name)
        if isinstance(left, gpd.GeoDataFrame):
            assert_geodataframe_equal(left, right, check_less_precise=True)
        else:
            assert_frame_equal(left, right)


@pytest.fixture
def xuchang(pg_server: PgServer, pg_schema: str,
            sample_copy: Callable[[str], Path]) -> Project:
    """The Xuchang sample programme, copied into PostGIS."""
    return copy_programme(str(sample_copy("xuchang")), pg_server.url(pg_schema))


# ---------------------------------------------------------------- copy both ways


@pytest.mark.parametrize("sample", ["guyuan", "xuchang", "huaian"])
def test_copy_to_postgis_and_back_keeps_every_layer(
        sample: str, pg_server: PgServer, pg_schema: str,
        sample_copy: Callable[[str], Path], tmp_path: Path, gisplan: Any) -> None:
    src = sample_copy(sample)
    url = pg_server.url(pg_schema)
    assert gisplan("store", "copy", src, url)[0] == 0
    back = tmp_path / "back.gpkg"
    code, out = gisplan("store", "copy", url, back)
    assert code == 0, out
    original, in_pg, round_trip = Project.open(src), Project.open(url), Project.open(back)
    assert_same_layers(original, in_pg)
    assert_same_layers(original, round_trip)


def test_commands_run_on_a_postgis_programme_as_on_the_geopackage(
        xuchang: Project, sample_copy: Callable[[str], Path], gisplan: Any) -> None:
    gpkg = sample_copy("xuchang")
    for where in (gpkg, str(xuchang.path)):
        code, out = gisplan("bundle", where)
        assert code == 0, out
    assert_frame_equal(pd.DataFrame(Project.open(gpkg).read("bundle_members")),
                       pd.DataFrame(xuchang.read("bundle_members")))


# ---------------------------------------------------------------- what QGIS needs


def test_layers_are_typed_postgis_tables_with_srid_gist_index_and_key(
        xuchang: Project, pg_server: PgServer) -> None:
    with pg_server.admin() as con:
        cols = con.execute("SELECT f_table_name, type, srid FROM geometry_columns "
                           "WHERE f_table_schema = %s", (xuchang.schema,)).fetchall()
        indexes = con.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = %s "
                              "AND tablename = 'compounds'", (xuchang.schema,)).fetchall()
        comment = con.execute("SELECT obj_description(%s::regclass)",
                              (f'"{xuchang.schema}".compounds',)).fetchone()[0]
    assert ("compounds", "MULTIPOLYGON", 4326) in cols or ("compounds", "POLYGON", 4326) in cols
    assert any("USING gist (geom)" in i[0] for i in indexes)
    assert any("pkey" in i[0] for i in indexes)
    assert comment == xuchang.description("compounds")


# ---------------------------------------------------------------- transactions


def test_a_writer_killed_mid_copy_leaves_the_layer_as_it_was(
        pg_server: PgServer, pg_schema: str) -> None:
    url = pg_server.url(pg_schema)
    p = Project.create(url, meta={"name": "x"}, layers={"compounds": _compounds(10)})
    before = p.read("compounds")
    ctx = mp.get_context("spawn")
    writer = ctx.Process(target=_write_big, args=(url,))
    writer.start()
    _wait_for_copy(pg_server)
    writer.kill()
    writer.join()
    assert_geodataframe_equal(Project.open(url).read("compounds"), before)


def _write_big(url: str) -> None:
    Project.open(url).write("compounds", _compounds(400_000))


def _wait_for_copy(server: PgServer) -> None:
    import time

    with server.admin() as con:
        for _ in range(600):
            if con.execute("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY%%' "
                           "AND application_name = 'gisplan'").fetchone():
                return
            time.sleep(0.05)
    pytest.fail("the writer never started its COPY")


def _compounds(n: int, county: str = "魏都区") -> gpd.GeoDataFrame:
    import numpy as np

    x = 113.8 + np.arange(n) % 500 * 0.001
    y = 34.0 + np.arange(n) // 500 * 0.001
    return gpd.GeoDataFrame({"compound_id": [f"C{i:06d}" for i in range(n)],
                             "name": [f"小区{i}" for i in range(n)],
                             "county": county},
                            geometry=shapely.box(x, y, x + 0.0008, y + 0.0008), crs=4326)


# ---------------------------------------------------------------- concurrency


def _log_rows(compound_ids: list[str], county: str, day: int) -> pd.DataFrame:
    log = pd.DataFrame({
        "compound_id": compound_ids, "county": county,
        "date": [dt.date(2023, 6, day)] * len(compound_ids), "stage": "started",
        "source_file": f"{county}.xlsx",
    })
    log["row_hash"] = row_hashes(log)
    return log


def _import(url: str, rows: pd.DataFrame, times: int) -> list[int]:
    from gisplan.progress.log import append_new

    p = Project.open(url)
    return [append_new(p, rows)[1] for _ in range(times)]


def test_county_offices_importing_at_once_lose_nothing_and_repeat_nothing(
        xuchang: Project) -> None:
    compounds = xuchang.read("compounds")
    url = _full_url(xuchang)
    reports = []
    for county, ids in compounds.groupby("county")["compound_id"]:
        for day in (1, 8):
            reports.append(_log_rows(list(ids), str(county), day))
    expected = pd.concat(reports)["row_hash"]
    before = len(xuchang.read("progress_log")) if xuchang.has("progress_log") else 0
    ctx = mp.get_context("spawn")
    with ctx.Pool(len(reports)) as pool:  # each report imported 3 times, all at once
        pool.starmap(_import, [(url, r, 3) for r in reports])
    log = xuchang.read("progress_log")
    assert len(log) == before + len(expected)
    assert set(expected) <= set(log["row_hash"])
    assert log["row_hash"].dropna().is_unique and log["log_id"].is_unique


def test_row_hash_is_unique_in_the_database_even_without_the_lock(xuchang: Project) -> None:
    import threading

    rows = _log_rows(list(xuchang.read("compounds")["compound_id"][:50]), "魏都区", 15)
    errors: list[BaseException] = []

    def insert() -> None:  # bypasses Project.lock(): only the constraint protects the log
        try:
            with xuchang._c.tx() as cur:  # type: ignore[attr-defined]
                xuchang._insert_rows(cur, "progress_log",  # type: ignore[attr-defined]
                                     rows.assign(log_id=range(10**6, 10**6 + 50)),
                                     _types(xuchang, rows))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=insert) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    log = xuchang.read("progress_log")
    assert log["row_hash"].isin(rows["row_hash"]).sum() == 50


def _types(p: Project, rows: pd.DataFrame) -> dict[str, str]:
    from gisplan.store import _pg_tables

    return _pg_tables.column_types(rows.assign(log_id=1), "progress_log")


def _full_url(p: Project, user: str | None = None) -> str:
    from urllib.parse import quote, urlsplit

    parts = urlsplit(str(p.path))
    netloc = f"{quote(user, safe='')}@{parts.hostname}:{parts.port}" if user else parts.netloc
    return f"postgresql://{netloc}{parts.path}?{parts.query}"


# ---------------------------------------------------------------- roles


@pytest.fixture
def accounts(xuchang: Project, pg_server: PgServer, gisplan: Any,
             monkeypatch: pytest.MonkeyPatch) -> dict[str, Project]:
    """City, two county and a read-only account, each logged in as itself."""
    out = {}
    tag = xuchang.schema[-6:]
    for login, args in {f"city_{tag}": ["--role", "city"],
                        f"yuzhou_{tag}": ["--role", "county", "--county", "禹州市"],
                        f"weidu_{tag}": ["--role", "county", "--county", "魏都区"],
                        f"publish_{tag}": ["--role", "read"]}.items():
        password = secrets.token_urlsafe(12)
        monkeypatch.setenv("GISPLAN_NEW_PASSWORD", password)
        code, text = gisplan("store", "grant", xuchang.path, login, *args)
        assert code == 0, text
        assert password not in text
        pg_server.add_password(login, password)
        out[login.split("_")[0]] = Project.open(_full_url(xuchang, login))
    return out


def _county_rows(p: Project, county: str, day: int = 20) -> pd.DataFrame:
    c = p.read("compounds")
    return _log_rows(list(c.loc[c["county"] == county, "compound_id"][:3]), county, day)


def test_a_county_account_adds_progress_for_its_own_compounds_only(
        accounts: dict[str, Project]) -> None:
    yuzhou = accounts["yuzhou"]
    assert yuzhou.append("progress_log", _county_rows(yuzhou, "禹州市")) == 3
    before = len(yuzhou.read("progress_log"))
    with pytest.raises(StoreError, match="own county") as err:
        yuzhou.append("progress_log", pd.concat([_county_rows(yuzhou, "禹州市", 21),
                                                 _county_rows(yuzhou, "魏都区", 21)]))
    assert "yuzhou" in str(err.value)
    assert len(yuzhou.read("progress_log")) == before  # nothing half-written
    unmatched = _log_rows([None], "魏都区", 22)  # type: ignore[list-item]
    with pytest.raises(StoreError, match="own county"):
        yuzhou.append("progress_log", unmatched)
    assert accounts["weidu"].append("progress_log", unmatched) == 1


def test_a_county_account_cannot_change_layers_or_settings(
        accounts: dict[str, Project]) -> None:
    yuzhou = accounts["yuzhou"]
    compounds = yuzhou.read("compounds")
    with pytest.raises(StoreError, match="may not"):
        yuzhou.write("compounds", compounds.iloc[:1])
    with pytest.raises(StoreError, match="may not"):
        yuzhou.set_meta(name="禹州")
    with pytest.raises(StoreError, match="may not"):
        yuzhou.append("plan_targets", pd.DataFrame({"unit": ["禹州市"]}))
    assert len(yuzhou.read("compounds")) == len(compounds)


def test_the_read_only_account_reads_and_cannot_write(accounts: dict[str, Project]) -> None:
    publish = accounts["publish"]
    assert len(publish.read("compounds")) > 0 and publish.meta["name"]
    with pytest.raises(StoreError, match="may not"):
        publish.append("progress_log", _county_rows(publish, "禹州市"))
    with pytest.raises(StoreError, match="may not"):
        publish.write("compounds", publish.read("compounds"))


def test_the_city_account_does_everything_and_counties_stay_limited_after(
        accounts: dict[str, Project]) -> None:
    city = accounts["city"]
    assert city.append("progress_log", _county_rows(city, "魏都区", 25)) == 3
    compounds = city.read("compounds")
    city.write("compounds", compounds)  # a new table: grants and policies re-applied
    city.set_meta(name="许昌 (city)")
    with pytest.raises(StoreError, match="own county"):
        accounts["yuzhou"].append("progress_log", _county_rows(city, "魏都区", 26))
    assert accounts["yuzhou"].append("progress_log", _county_rows(city, "禹州市", 26)) == 3


# ---------------------------------------------------------------- injection


def test_hostile_names_and_values_are_data_not_sql(pg_server: PgServer, gisplan: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_server.url(EVIL[:30])
    gdf = _compounds(3, county=EVIL).assign(name=EVIL, **{EVIL: [EVIL] * 3})
    p = Project.create(url, meta={EVIL: EVIL, "name": EVIL}, layers={"compounds": gdf})
    p.write(EVIL, pd.DataFrame({EVIL: [EVIL]}), description=EVIL)
    p.append("progress_log", _log_rows(["C000000"], EVIL, 1).assign(note=EVIL))
    monkeypatch.setenv("GISPLAN_NEW_PASSWORD", EVIL)
    code, out = gisplan("store", "grant", url, EVIL, "--role", "county", "--county", EVIL)
    assert code == 0, out
    pg_server.add_password(EVIL, EVIL)
    again = Project.open(pg_server.url(EVIL[:30], user=EVIL))
    assert again.read("compounds")[EVIL].tolist() == [EVIL] * 3
    assert again.read(EVIL)[EVIL].tolist() == [EVIL] and again.description(EVIL) == EVIL
    assert again.meta[EVIL] == EVIL
    assert again.append("progress_log", _log_rows(["C000001"], EVIL, 2)) == 1
    with pg_server.admin() as con:
        assert con.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'compounds'"
                           ).fetchone()[0] >= 1


# ---------------------------------------------------------------- credentials and bad input


def test_a_password_in_the_url_on_the_command_line_is_refused_and_not_shown(
        pg_server: PgServer, gisplan: Any) -> None:
    url = pg_server.url("anything").replace("@", ":s3cretpw@", 1)
    code, out = gisplan("check", url)
    assert code == 2 and "PGPASSWORD" in out and "s3cretpw" not in out
    assert "Traceback" not in out


def test_a_server_that_is_down_says_so(gisplan: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out = gisplan("check", f"postgresql://nobody@127.0.0.1:{port}/db?schema=x")
    assert code == 2 and "cannot reach the PostgreSQL server" in out and "Traceback" not in out


def test_a_wrong_password_says_where_passwords_go_and_does_not_print_it(
        pg_server: PgServer, pg_schema: str, gisplan: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    monkeypatch.setenv("PGPASSWORD", "wrong-pw-123")
    code, out = gisplan("check", pg_server.url(pg_schema))
    assert code == 2 and "refused the password" in out and "~/.pgpass" in out
    assert "wrong-pw-123" not in out
    monkeypatch.delenv("PGPASSWORD")
    code, out = gisplan("check", pg_server.url(pg_schema))
    assert code == 2 and "none was given" in out


def test_a_database_without_postgis_says_how_to_install_it(
        pg_server: PgServer, pg_schema: str, gisplan: Any) -> None:
    db, owner, password = f"nopostgis_{pg_schema}", f"owner_{pg_schema}", "pw-nopostgis"
    with pg_server.admin() as con:
        con.execute(f"CREATE ROLE {owner} LOGIN PASSWORD '{password}'")
        con.execute(f"CREATE DATABASE {db} OWNER {owner}")
    pg_server.add_password(owner, password)
    url = pg_server.url("prog", user=owner, database=db)
    with pytest.raises(StoreError, match="CREATE EXTENSION postgis"):
        Project.create(url, meta={"name": "x"})
    code, out = gisplan("check", url)
    assert code == 2 and "PostGIS" in out and "Traceback" not in out


def test_a_programme_from_a_newer_gisplan_says_to_upgrade(
        pg_server: PgServer, pg_schema: str, gisplan: Any) -> None:
    url = pg_server.url(pg_schema)
    Project.create(url, meta={"name": "x"}, layers={"compounds": _compounds(2)})
    with pg_server.admin() as con:
        con.execute(f"UPDATE {pg_schema}.gisplan_info SET value = '99' "
                    "WHERE key = 'schema_version'")
    code, out = gisplan("check", url)
    assert code == 2 and "newer gisplan" in out and "upgrade" in out
    assert "Traceback" not in out


def test_a_missing_programme_names_the_copy_command(pg_server: PgServer, gisplan: Any) -> None:
    code, out = gisplan("check", pg_server.url("no_such_programme"))
    assert code == 2 and "gisplan store copy" in out


def test_database_does_not_exist(pg_server: PgServer, gisplan: Any) -> None:
    code, out = gisplan("check", pg_server.url("x", database=PG_DATABASE + "_missing"))
    assert code == 2 and "does not exist" in out
