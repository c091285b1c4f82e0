"""The programme file and `gisplan init` / `programme show|set`: what a planner types."""

from __future__ import annotations

from pathlib import Path

import pytest

from gisplan.programme import (
    ProgrammeError,
    apply_settings,
    dumps_programme,
    loads_programme,
    programme_doc,
    rule_sets,
    template_text,
)
from gisplan.store import Project


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of *text* that contains *needle*."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def write(tmp_path: Path, text: str, name: str = "programme.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the template


def test_template_is_a_valid_programme_with_chinese_comments() -> None:
    text = template_text()
    prog = loads_programme(text)
    assert prog.meta["city"] == "示例市"
    assert [m["key"] for m in prog.meta["milestones"]] == [
        "all_started", "completed_70pct_households", "all_completed"]
    assert prog.meta["bundle_level"] == "street"
    assert prog.meta["bundle_defaults"] == {"min_households": 300, "max_households": 3000,
                                            "gap_m": 20.0, "max_span_m": 1000.0}
    assert prog.meta["budget"][0] == {"source": "central", "amount_wan_yuan": 8000.0,
                                      "zh": "中央财政城镇保障性安居工程补助资金"}
    assert prog.report.findings == []
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert any("必填" in c for c in comments) and any("required" in c for c in comments)


def test_programme_file_round_trips_through_metadata() -> None:
    prog = loads_programme(template_text())
    again = loads_programme(dumps_programme(programme_doc(prog.meta)))
    assert again.meta == prog.meta


def test_sample_programme_metadata_reads_back_as_a_valid_file(sample_copy) -> None:
    meta = Project.open(sample_copy("xuchang")).meta
    prog = loads_programme(dumps_programme(programme_doc(meta)))
    assert prog.meta["milestones"] == meta["milestones"]
    assert prog.meta["start_criteria"] == meta["start_criteria"]


# ---------------------------------------------------------------- bad programme files


def test_misspelt_key_names_line_and_the_right_key(tmp_path: Path, gisplan) -> None:
    text = template_text().replace("min_households = 300", "min_houshold = 300")
    code, out = gisplan("init", tmp_path / "p.gpkg", "--programme", write(tmp_path, text))
    assert code == 2
    assert f"line {line_of(text, 'min_houshold')}" in out
    assert "bundling.min_houshold" in out and "did you mean 'min_households'" in out
    assert "Traceback" not in out
    assert not (tmp_path / "p.gpkg").exists()


def test_misspelt_table_is_named(tmp_path: Path) -> None:
    text = template_text().replace("[budget]", "[budjet]")
    with pytest.raises(ProgrammeError) as err:
        loads_programme(text)
    (problem,) = err.value.problems
    assert problem.line == line_of(text, "[budjet]")
    assert problem.hint == "did you mean 'budget'?"


@pytest.mark.parametrize("written", ['"2023-02-30"', "2023-02-30"])
def test_date_that_does_not_exist(tmp_path: Path, gisplan, written: str) -> None:
    text = template_text().replace('date = "2024-10-31"', f"date = {written}")
    code, out = gisplan("init", tmp_path / "p.gpkg", "--programme", write(tmp_path, text))
    assert code == 2
    lineno = line_of(text, "2023-02-30")
    assert f"line {lineno}, key 'milestones[2].date'" in out
    assert "2023-02-30 does not exist: February 2023 has 28 days" in out
    assert "2023-02-28" in out  # the fix
    assert not (tmp_path / "p.gpkg").exists()


@pytest.mark.parametrize(("written", "fix"), [("1.2", "0 and 1"), ("70", "0.7 for 70 %"),
                                             ('"120%"', "0 and 1")])
def test_milestone_target_above_100_percent(tmp_path: Path, gisplan, written: str,
                                            fix: str) -> None:
    text = template_text().replace("target = 0.7", f"target = {written}")
    code, out = gisplan("init", tmp_path / "p.gpkg", "--programme", write(tmp_path, text))
    assert code == 2
    assert f"line {line_of(text, 'target = ' + written)}, key 'milestones[2].target'" in out
    assert "above 100 %" in out and fix in out
    assert not (tmp_path / "p.gpkg").exists()


def test_rule_set_that_does_not_exist(tmp_path: Path, gisplan) -> None:
    text = template_text().replace('# rule_set = "guyuan_2022"', 'rule_set = "guyuan2022"')
    code, out = gisplan("init", tmp_path / "p.gpkg", "--programme", write(tmp_path, text))
    assert code == 2
    assert f"line {line_of(text, 'rule_set = ')}, key 'programme.rule_set'" in out
    assert "did you mean 'guyuan_2022'" in out and "rules.toml" in out
    assert not (tmp_path / "p.gpkg").exists()


def test_rule_set_is_checked_against_rules_toml() -> None:
    for name in rule_sets():
        text = template_text().replace('# rule_set = "guyuan_2022"', f'rule_set = "{name}"')
        assert loads_programme(text).meta["rule_set"] == name


def test_every_problem_is_listed_at_once() -> None:
    text = (template_text().replace("[budget]", "[budjet]")
            .replace("target = 0.7", "target = 7").replace("year = 2024", "year = 24"))
    with pytest.raises(ProgrammeError) as err:
        loads_programme(text)
    assert [p.key() for p in err.value.problems] == [
        "programme.year", "budjet", "milestones[2].target"]


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = template_text().replace('city = "示例市"', "city = 示例市")
    with pytest.raises(ProgrammeError) as err:
        loads_programme(text)
    (problem,) = err.value.problems
    assert problem.line == line_of(text, "city = 示例市")
    assert "quotes" in (problem.hint or "")


def test_min_above_max_households_and_key_given_twice() -> None:
    text = template_text().replace("min_households = 300", "min_households = 5000")
    with pytest.raises(ProgrammeError, match="make min_households ≤ max_households"):
        loads_programme(text)
    text = template_text().replace("year = 2024", "year = 2024\nyear = 2025")
    with pytest.raises(ProgrammeError, match=r"given twice \(lines"):
        loads_programme(text)


def test_budget_that_does_not_add_up_is_a_warning_not_an_error() -> None:
    prog = loads_programme(template_text().replace("total_wan_yuan = 12000.0",
                                                   "total_wan_yuan = 13000.0"))
    assert [f.code for f in prog.report.findings] == ["budget_parts_differ"]


# ---------------------------------------------------------------- init


def test_init_from_options_alone(tmp_path: Path, gisplan) -> None:
    store = tmp_path / "许昌2024.gpkg"
    code, out = gisplan("init", store, "--name", "许昌市2024年城镇老旧小区改造",
                        "--city", "许昌市", "--year", "2024")
    assert code == 0, out
    meta = Project.open(store).meta
    assert meta["name"] == "许昌市2024年城镇老旧小区改造"
    assert meta["year"] == 2024
    assert meta["rule_set"] in rule_sets()  # stated, never implicit
    assert f"rule set 规则集: {meta['rule_set']}" in out


def test_init_options_override_the_file(tmp_path: Path, gisplan) -> None:
    store = tmp_path / "p.gpkg"
    code, out = gisplan("init", store, "--programme", write(tmp_path, template_text()),
                        "--year", "2025")
    assert code == 0, out
    meta = Project.open(store).meta
    assert meta["year"] == 2025
    assert meta["counties"] == ["甲区", "乙区", "丙县"]
    assert meta["start_criteria"][0] == {"key": "consent_rate", "min": 0.8,
                                         "zh": "改造方案征求群众意见并经80%以上居民同意"}


def test_init_without_name_says_which_option(tmp_path: Path, gisplan) -> None:
    code, out = gisplan("init", tmp_path / "p.gpkg", "--city", "许昌市", "--year", "2024")
    assert code == 2
    assert "name is missing" in out and "--name" in out
    assert not (tmp_path / "p.gpkg").exists()


def test_init_bad_year_option_names_the_option(tmp_path: Path, gisplan) -> None:
    code, out = gisplan("init", tmp_path / "p.gpkg", "--name", "x", "--city", "y",
                        "--year", "20240")
    assert code == 2
    assert "--year 20240: is not a plan year" in out
    assert "1 problem" in out and "missing" not in out


def test_init_never_replaces_a_file(tmp_path: Path, gisplan, sample_copy) -> None:
    store = sample_copy("guyuan")
    before = store.read_bytes()
    code, out = gisplan("init", store, "--name", "x", "--city", "y", "--year", "2024")
    assert code == 2 and "programme set" in out
    assert store.read_bytes() == before


def test_init_template_writes_the_example_and_refuses_to_overwrite(tmp_path: Path,
                                                                  gisplan) -> None:
    out_file = tmp_path / "programme.toml"
    code, out = gisplan("init", "--template", out_file)
    assert code == 0
    assert out_file.read_text(encoding="utf-8") == template_text()
    out_file.write_text("# edited 已编辑\n", encoding="utf-8")
    code, out = gisplan("init", "--template", out_file)
    assert code == 2 and "not overwritten" in out
    assert out_file.read_text(encoding="utf-8") == "# edited 已编辑\n"


# ---------------------------------------------------------------- programme show / set


@pytest.fixture
def store(tmp_path: Path, gisplan) -> Path:
    path = tmp_path / "p.gpkg"
    code, out = gisplan("init", path, "--programme", write(tmp_path, template_text(), "t.toml"))
    assert code == 0, out
    return path


def test_show_prints_chinese_labels(store: Path, gisplan) -> None:
    code, out = gisplan("programme", "show", store)
    assert code == 0
    for label in ("项目 programme", "县区 counties", "甲区、乙区、丙县", "里程碑 milestones",
                  "2024-10-31", "完工 completed", "按户数 households ≥ 70%", "资金 budget",
                  "地方配套资金 (local): 4000 万元", "连片打包 bundling", "街道 street",
                  "开工条件 start_criteria", "consent_rate ≥ 80%", "规则集 rule_set"):
        assert label in out, label


def test_show_toml_then_set_changes_nothing(store: Path, tmp_path: Path, gisplan) -> None:
    code, text = gisplan("programme", "show", store, "--toml")
    assert code == 0
    before = store.read_bytes()
    code, out = gisplan("programme", "set", store, write(tmp_path, text, "again.toml"))
    assert code == 0 and "nothing changed" in out
    assert store.read_bytes() == before


def test_set_from_a_partial_file(store: Path, tmp_path: Path, gisplan) -> None:
    text = '[programme]\nyear = 2025\n\n[bundling]\nlevel = "片区"\n\n' \
           '[[milestones]]\nkey = "all_started"\nzh = "全部开工"\ndate = 2025-05-31\n' \
           'measure = "started_compounds"\ntarget = 1.0\n'
    code, out = gisplan("programme", "set", store, write(tmp_path, text, "change.toml"))
    assert code == 0, out
    meta = Project.open(store).meta
    assert meta["year"] == 2025
    assert meta["bundle_level"] == "pianqu"
    assert meta["bundle_defaults"]["min_households"] == 300  # tables merge key by key
    assert [m["key"] for m in meta["milestones"]] == ["all_started"]  # lists are replaced
    assert meta["counties"] == ["甲区", "乙区", "丙县"]
    assert "year: 2024 → 2025" in out


def test_set_key_value(store: Path, gisplan) -> None:
    code, out = gisplan("programme", "set", store, "--set", "year=2025",
                        "--set", "counties=魏都区,建安区", "--set", "bundling.gap_m=15",
                        "--set", "milestones.all_completed.date=2025-12-31")
    assert code == 0, out
    meta = Project.open(store).meta
    assert meta["year"] == 2025
    assert meta["counties"] == ["魏都区", "建安区"]
    assert meta["bundle_defaults"]["gap_m"] == 15.0
    assert meta["milestones"][2]["date"] == "2025-12-31"
    assert meta["milestones"][0]["date"] == "2024-06-30"


@pytest.mark.parametrize(("setting", "said"), [
    ("yaer=2025", "did you mean 'year'"),
    ("milestones.all_started.date=2024-02-30", "February 2024 has 29 days"),
    ("milestones.all_startd.target=0.5", "did you mean 'all_started'"),
    ("milestones.completed_70pct_households.target=70", "0.7 for 70 %"),
    ("rule_set=nowhere_2099", "rule sets:"),
    ("bundling.min_households=0", "≥ 1"),
    ("bundling.min_households=9000", "min_households ≤ max_households"),
    ("year", "KEY=VALUE"),
])
def test_set_bad_values_write_nothing(store: Path, gisplan, setting: str, said: str) -> None:
    before = store.read_bytes()
    code, out = gisplan("programme", "set", store, "--set", "year=2030", "--set", setting)
    assert code == 2, out
    assert said in out
    assert "Traceback" not in out
    assert store.read_bytes() == before


def test_set_bad_file_names_its_line_and_writes_nothing(store: Path, tmp_path: Path,
                                                        gisplan) -> None:
    text = "[programme]\nyear = 2025\n\n[bundling]\nlevel = \"block\"\n"
    before = store.read_bytes()
    code, out = gisplan("programme", "set", store, write(tmp_path, text, "bad.toml"))
    assert code == 2
    assert "line 5, key 'bundling.level'" in out and "pianqu (片区)" in out
    assert store.read_bytes() == before


def test_show_on_a_plain_geopackage_says_how_to_make_a_programme(tmp_path: Path,
                                                                 gisplan) -> None:
    import geopandas as gpd
    import shapely

    plain = tmp_path / "plain.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(106, 36)], crs=4326).to_file(plain)
    code, out = gisplan("programme", "show", plain)
    assert code == 2
    assert "not a gisplan programme" in out and "gisplan init" in out
    assert "Project.create" not in out


def test_apply_settings_reads_values_as_toml() -> None:
    prog = apply_settings({}, ["targets.households=3081", "start_date=2024-03-01",
                               "name=固原市区2022年老旧小区改造项目"])
    assert prog.doc == {"targets": {"households": 3081},
                        "programme": {"start_date": "2024-03-01",
                                      "name": "固原市区2022年老旧小区改造项目"}}
