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
            main(argv)
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
])
def test_every_command_explains_a_broken_store(files: dict[str, Path], tmp_path: Path,
                                               command: list[str], kind: str) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in command]
    where = 2 if argv[0] == "progress" else 1
    argv.insert(where, str(files[kind]))
    code, text = assert_clean(argv)
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


@FUZZ
@given(cells=numbers)
def test_report_detail_cells(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
                             cells: str) -> None:
    out = tmp_path_factory.mktemp("r") / "r.xlsx"
    assert_clean(["report", str(files["good"]), "--out", str(out), "--detail-cells", cells])
