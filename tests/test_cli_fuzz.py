"""Fuzz the command line: any option value, any broken file, never a traceback.

Hypothesis draws option values (negative, zero, huge, NaN, text where a number belongs,
unknown choices, injection strings) and inputs (a truncated GeoPackage, random bytes, an
empty file, a GeoPackage that is not a programme, a layer of the wrong geometry type, a
CSV in mixed encodings) for every command. Each run must end with exit 0, 1 or 2 and a
message, and nothing may reach the user as a Python traceback or an "internal error"
(the catch-all of :func:`gisplan.cli.main` that marks a bug).

The commands run in-process (``gisplan.cli.main``) so that a run costs milliseconds;
``derandomize=True`` makes every CI run draw the same cases.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from gisplan.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "layers" / "guyuan_2022.gpkg"

FUZZ = settings(max_examples=int(os.environ.get("GISPLAN_FUZZ_EXAMPLES", "25")),
                deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def run(argv: list[str]) -> tuple[int, str]:
    """Run ``gisplan *argv*`` in-process; return (exit code, stdout + stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rv = main(argv)
            code = rv if isinstance(rv, int) else 0  # ctx.exit(n) returns n here
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, out.getvalue() + err.getvalue()


def assert_clean(argv: list[str]) -> tuple[int, str]:
    code, text = run(argv)
    assert code in (0, 1, 2), (argv, code, text[-2000:])
    assert "Traceback (most recent call last)" not in text, (argv, text[-3000:])
    assert "internal error" not in text, (argv, text[-3000:])
    if code != 0:
        assert text.strip(), (argv, "failed without a message")
    return code, text


# ------------------------------------------------------------------ inputs users break


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fuzz")
    out: dict[str, Path] = {}
    good = d / "good.gpkg"
    shutil.copy(SAMPLE, good)
    out["good"] = good
    data = SAMPLE.read_bytes()
    (d / "truncated.gpkg").write_bytes(data[: len(data) // 3])
    out["truncated"] = d / "truncated.gpkg"
    (d / "random.gpkg").write_bytes(os.urandom(8192))
    out["random"] = d / "random.gpkg"
    (d / "empty.gpkg").write_bytes(b"")
    out["empty"] = d / "empty.gpkg"
    plain = d / "plain.gpkg"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(106.2, 36.0)], crs=4326).to_file(
        plain, layer="things")
    out["plain"] = plain
    wrong = d / "wrong_types.gpkg"
    shutil.copy(SAMPLE, wrong)
    out["wrong_types"] = wrong
    csv = d / "mixed.csv"
    csv.write_bytes("小区名称,户数\n".encode() + "信合小区,120户\n".encode("gbk")
                    + b"\xff\xfe\x00broken,=1+1\n")
    out["mixed_csv"] = csv
    (d / "random.xlsx").write_bytes(os.urandom(4096))
    out["random_xlsx"] = d / "random.xlsx"
    return out


BROKEN = ["truncated", "random", "empty", "plain"]

numbers = st.one_of(
    st.integers(min_value=-10**12, max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "abc", "1e309", "-0", "0", "1,000", "３０", "=1+1",
                     "x'); DROP TABLE c; --"]),
)
texts = st.one_of(st.text(max_size=30), st.sampled_from(
    ["", "...", "=HYPERLINK(\"http://x\",\"y\")", "<img src=x onerror=alert(1)>", "2023-02-30",
     "2023年13月1日", "幼儿园", "nonsense"]))


@pytest.mark.parametrize("kind", BROKEN)
@pytest.mark.parametrize("command", [
    ["check"], ["join", "--no-write"], ["bundle", "--no-write"],
    ["coverage", "--no-write"], ["site", "--type", "幼儿园", "--no-write"],
    ["progress", "status"], ["progress", "check"], ["report", "--out", "{tmp}/r.xlsx"],
    ["map", "--kind", "progress", "--out", "{tmp}/m.html"],
    ["run", "--skip", "maps", "--skip", "report", "--out", "{tmp}/run"],
    ["export", "compounds", "--out", "{tmp}/c.parquet"],
    ["map", "--kind", "utilities", "--qgis-styles", "--out", "{tmp}/m.html"],
    ["map", "--kind", "atlas", "--out", "{tmp}/a.html"],
])
def test_every_command_explains_a_broken_store(files: dict[str, Path], tmp_path: Path,
                                               command: list[str], kind: str) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in command]
    where = 2 if argv[0] == "progress" else 1
    argv.insert(where, str(files[kind]))
    code, text = assert_clean(argv)
    assert code == 2, text


@pytest.mark.parametrize("index", ["", "{not json", '{"cities": [{"code": 1}]}',
                                   '{"cities": [{"code": "C1", "name": "x", "province": "y", '
                                   '"store": "cities/missing.gpkg"}]}'])
def test_run_explains_a_broken_national_folder(tmp_path: Path, index: str) -> None:
    (tmp_path / "nat").mkdir()
    (tmp_path / "nat" / "national.json").write_text(index, encoding="utf-8")
    code, text = assert_clean(["run", str(tmp_path / "nat"), "--out", str(tmp_path / "o")])
    assert code == 2, text


@pytest.mark.parametrize("kind", ["random", "empty", "mixed_csv", "random_xlsx", "plain"])
def test_import_explains_a_broken_file(files: dict[str, Path], tmp_path: Path,
                                       kind: str) -> None:
    store = tmp_path / "s.gpkg"
    shutil.copy(files["good"], store)
    code, text = assert_clean(["import", str(store), str(files[kind]), "--layer", "compounds"])
    assert code in (1, 2), text


@FUZZ
@given(gap=numbers, lo=numbers, hi=numbers, span=numbers)
def test_bundle_options(files: dict[str, Path], gap: str, lo: str, hi: str, span: str) -> None:
    assert_clean(["bundle", str(files["good"]), "--no-write", "--gap", gap,
                  "--min-households", lo, "--max-households", hi, "--max-span", span])


@FUZZ
@given(um=numbers, fm=numbers, share=numbers)
def test_join_options(files: dict[str, Path], um: str, fm: str, share: str) -> None:
    assert_clean(["join", str(files["good"]), "--no-write", "--utility-margin", um,
                  "--facility-margin", fm, "--split-share", share])


@FUZZ
@given(step=numbers, snap=numbers, limit=numbers, ftype=texts)
def test_coverage_options(files: dict[str, Path], step: str, snap: str, limit: str,
                          ftype: str) -> None:
    assert_clean(["coverage", str(files["good"]), "--no-write", "--boundary-step", step,
                  "--max-snap", snap, "--search-limit", limit, "--type", ftype])


@FUZZ
@given(count=numbers, ftype=texts)
def test_site_options(files: dict[str, Path], count: str, ftype: str) -> None:
    assert_clean(["site", str(files["good"]), "--no-write", "--type", ftype, "--count", count])


@FUZZ
@given(as_of=texts, tol=numbers, title=texts)
def test_map_options(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
                     as_of: str, tol: str, title: str) -> None:
    out = tmp_path_factory.mktemp("m") / "m.html"
    assert_clean(["map", str(files["good"]), "--kind", "progress", "--as-of", as_of,
                  "--tolerance", tol, "--title", title, "--out", str(out)])


@FUZZ
@given(as_of=texts)
def test_progress_and_report_dates(files: dict[str, Path],
                                   tmp_path_factory: pytest.TempPathFactory, as_of: str) -> None:
    assert_clean(["progress", "status", str(files["good"]), "--as-of", as_of])
    out = tmp_path_factory.mktemp("r") / "r.xlsx"
    assert_clean(["report", str(files["good"]), "--out", str(out), "--as-of", as_of])


@FUZZ
@given(n=numbers, seed=numbers, nodes=numbers, center=texts)
def test_synth_options(tmp_path_factory: pytest.TempPathFactory, n: str, seed: str,
                       nodes: str, center: str) -> None:
    # only values that are refused or tiny are run: a valid huge city would take minutes
    try:
        if 0 < float(n) <= 50 and 0 < float(nodes) <= 400:
            pass
        else:
            n = n if not _valid_positive(n) else "-1"
    except ValueError:
        pass
    out = tmp_path_factory.mktemp("s") / "c.gpkg"
    assert_clean(["synth", "--compounds", n, "--seed", seed, "--road-nodes", nodes,
                  "--center", center, "--out", str(out)])


def _valid_positive(v: str) -> bool:
    try:
        return float(v) > 0
    except ValueError:
        return False


@FUZZ
@given(crs=texts, coords=st.sampled_from(["wgs84", "gcj02", "bd09", "utm", ""]),
       sheet=texts)
def test_import_options(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
                        crs: str, coords: str, sheet: str) -> None:
    store = tmp_path_factory.mktemp("i") / "s.gpkg"
    shutil.copy(files["good"], store)
    assert_clean(["import", str(store), str(files["mixed_csv"]), "--layer", "facilities",
                  "--crs", crs, "--coords", coords, "--sheet", sheet, "--dry-run"])


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An office's compound list, a value map, a saved mapping and an OSM export."""
    d = tmp_path_factory.mktemp("office")
    lst = d / "小区.csv"
    lst.write_text("某县老旧小区\n序号,小区名,户 数,范围\n"
                   '1,东园,120户,"POLYGON((106.27 36,106.271 36,106.271 36.001,106.27 36))"\n',
                   encoding="utf-8")
    vocab = d / "v.csv"
    vocab.write_text("原值,类型\n诊所,卫生服务站\n", encoding="utf-8")
    toml = d / "m.toml"
    toml.write_text('layer = "compounds"\n[columns]\n"小区名" = "name"\n', encoding="utf-8")
    osm = d / "osm.geojson"
    osm.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","id":"node/1",'
                   '"properties":{"@id":"node/1","amenity":"pharmacy"},"geometry":'
                   '{"type":"Point","coordinates":[106.27,36.0]}}]}', encoding="utf-8")
    return {"list": lst, "vocab": vocab, "toml": toml, "osm": osm,
            "random": d / "random.toml"}


mapping_values = st.one_of(texts, st.sampled_from(
    ["小区名=name", "户 数=户数", "范围=wkt", "=name", "小区名=", "a=b=c", "小区名=lon",
     "没有=name", "小区名=flags"]))


@FUZZ
@given(maps=st.lists(mapping_values, max_size=3),
       vocab=st.lists(st.one_of(texts, st.sampled_from(
           ["osm", "facility_type={vocab}", "street={vocab}", "facility_type=",
            "facility_type={toml}"])), max_size=2),
       mapping=st.sampled_from([None, "{toml}", "{vocab}", "{random}", "{list}", "nope.toml"]),
       layer=st.sampled_from(["compounds", "facilities", "roads", "gates"]),
       source=st.sampled_from(["list", "osm"]))
def test_import_mapping_options(files: dict[str, Path], office: dict[str, Path],
                                tmp_path_factory: pytest.TempPathFactory, maps: list[str],
                                vocab: list[str], mapping: str | None, layer: str,
                                source: str) -> None:
    office["random"].write_bytes(os.urandom(256))
    d = tmp_path_factory.mktemp("m")
    fmt = {k: str(v) for k, v in office.items()}
    argv = ["import", str(d / "s.gpkg"), str(office[source]), "--layer", layer, "--dry-run",
            "--save-mapping", str(d / "saved.toml")]
    for m in maps:
        argv += ["--map", m]
    for v in vocab:
        argv += ["--vocab", v.format(**fmt) if "{" in v and v.count("{") == 1 else v]
    if mapping is not None:
        argv += ["--mapping", mapping.format(**fmt)]
    assert_clean(argv)


@FUZZ
@given(county=st.one_of(texts, st.sampled_from(["原州区", "禹州市"])),
       maps=st.lists(mapping_values, max_size=2), save=st.booleans())
def test_progress_import_layout_options(files: dict[str, Path], office: dict[str, Path],
                                        tmp_path_factory: pytest.TempPathFactory, county: str,
                                        maps: list[str], save: bool) -> None:
    store = tmp_path_factory.mktemp("p") / "s.gpkg"
    shutil.copy(files["good"], store)
    argv = ["progress", "import", str(store), str(office["list"]), "--county", county,
            "--dry-run"]
    for m in maps:
        argv += ["--map", m]
    if save:
        argv.append("--save-mapping")
    assert_clean(argv)
@pytest.mark.parametrize("kind", BROKEN)
def test_store_copy_explains_a_broken_store(files: dict[str, Path], tmp_path: Path,
                                            kind: str) -> None:
    code, text = assert_clean(["store", "copy", str(files[kind]), str(tmp_path / "c.gpkg")])
    assert code == 2, text


@FUZZ
@given(schema=texts, user=texts, role=st.sampled_from(["city", "county", "read", "boss"]),
       county=texts)
def test_store_urls_and_grant_options(files: dict[str, Path], schema: str, user: str,
                                      role: str, county: str) -> None:
    from urllib.parse import quote

    # port 9 (discard) on loopback: nothing listens, so every run ends at "cannot reach"
    url = f"postgresql://{quote(user, safe='')}@127.0.0.1:9/db?schema={quote(schema, safe='')}"
    assert_clean(["check", url])
    assert_clean(["store", "grant", url, user or "x", "--role", role, "--county", county,
                  "--no-password"])
    assert_clean(["store", "grant", str(files["good"]), "x", "--role", role, "--no-password"])
    assert_clean(["store", "copy", str(files["good"]), url])


@FUZZ
@given(cells=numbers)
def test_report_detail_cells(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
                             cells: str) -> None:
    out = tmp_path_factory.mktemp("r") / "r.xlsx"
    assert_clean(["report", str(files["good"]), "--out", str(out), "--detail-cells", cells])
