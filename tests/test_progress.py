"""Status, checks and milestones derived from the progress log (no store needed)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gisplan.progress import (
    check_compounds,
    check_log,
    compound_status,
    milestone_state,
    milestone_status,
    progress_summary,
)

OK = {"consent_rate": 0.9, "structures_removed": True, "design_posted": True,
      "contract_signed": True, "crew_on_site": True}

XUCHANG_MILESTONES = [
    {"key": "all_started", "zh": "全部开工", "date": "2023-06-30",
     "measure": "started_compounds", "target": 1.0},
    {"key": "hh70_complete", "zh": "完成70%（按户数）", "date": "2023-10-31",
     "measure": "completed_households", "target": 0.7},
    {"key": "all_complete", "zh": "全部完工", "date": "2023-12-31",
     "measure": "completed_compounds", "target": 1.0},
]


def log_frame(rows):
    df = pd.DataFrame(rows, columns=None if rows else ["compound_id", "date", "stage"])
    df["log_id"] = np.arange(1, len(df) + 1)
    if "entered_at" not in df:
        df["entered_at"] = "2023-12-31 12:00:00"
    return df


def compounds_frame():
    return pd.DataFrame({
        "compound_id": ["A", "B", "C", "D"],
        "name": ["梅园小区", "德福小区", "电信小区", "信和小区"],
        "county": ["魏都区", "魏都区", "建安区", "建安区"],
        "district": ["西片", "西片", "东片", "东片"],
        "households": [100, 300, 200, 400],
    })


def test_status_is_the_latest_report_on_or_before_the_date():
    log = log_frame([
        {"compound_id": "A", "date": "2023-03-01", "stage": "designed"},
        {"compound_id": "A", "date": "2023-05-10", "stage": "started", **OK},
        {"compound_id": "A", "date": "2023-09-01", "stage": "completed"},
    ])
    assert compound_status(log, as_of="2023-05-09").loc["A", "stage"] == "designed"
    assert compound_status(log, as_of="2023年5月10日").loc["A", "stage"] == "started"
    late = compound_status(log, as_of="2023.12.31").loc["A"]
    assert late["stage"] == "completed"
    assert late["started_date"] == dt.date(2023, 5, 10)
    assert late["completed_date"] == dt.date(2023, 9, 1)


def test_criteria_reported_earlier_hold_at_the_start():
    log = log_frame([
        {"compound_id": "A", "date": "2023-03-01", "stage": "consulted", "consent_rate": 0.85},
        {"compound_id": "A", "date": "2023-05-10", "stage": "started",
         "structures_removed": True, "design_posted": True, "contract_signed": True,
         "crew_on_site": True},
    ])
    st = compound_status(log).loc["A"]
    assert st["consent_rate"] == pytest.approx(0.85)
    assert bool(st["start_ok"]) is True


def test_start_with_consent_below_80_percent_is_flagged():
    log = log_frame([
        {"compound_id": "A", "compound_name": "梅园小区", "county": "魏都区",
         "date": "2023-05-10", "stage": "started", **(OK | {"consent_rate": 0.7})},
    ])
    problems = check_log(log)
    row = problems[problems["code"] == "start_criteria_unmet"].iloc[0]
    assert row["compound_id"] == "A"
    assert "居民同意率" in row["detail"] and "70%" in row["detail"]


def test_start_without_contract_is_flagged_with_the_unmet_criterion():
    log = log_frame([{"compound_id": "A", "date": "2023-05-10", "stage": "started",
                      **(OK | {"contract_signed": False})}])
    row = check_log(log).query("code == 'start_criteria_unmet'").iloc[0]
    assert row["detail"].startswith("已签施工合同")


def test_stage_going_backwards_is_flagged():
    log = log_frame([
        {"compound_id": "A", "date": "2023-05-10", "stage": "started", **OK},
        {"compound_id": "A", "date": "2023-06-10", "stage": "tendered"},
    ])
    back = check_log(log).query("code == 'stage_backwards'")
    assert len(back) == 1
    assert back.iloc[0]["date"] == dt.date(2023, 6, 10)


def test_completion_before_start_is_flagged():
    log = log_frame([
        {"compound_id": "A", "date": "2023-04-01", "stage": "completed"},
        {"compound_id": "A", "date": "2023-05-01", "stage": "started", **OK},
    ])
    codes = set(check_log(log)["code"])
    assert "completion_before_start" in codes


def test_date_after_entry_is_flagged():
    log = log_frame([{"compound_id": "A", "date": "2024-05-01", "stage": "started", **OK}])
    log["entered_at"] = "2023-06-01 09:00:00"
    assert check_log(log)["code"].tolist() == ["future_date"]


def test_summary_counts_compounds_and_households_by_county():
    log = log_frame([
        {"compound_id": "A", "date": "2023-05-01", "stage": "started", **OK},
        {"compound_id": "B", "date": "2023-05-01", "stage": "completed", **OK},
        {"compound_id": "C", "date": "2023-05-01", "stage": "started",
         **(OK | {"consent_rate": 0.5})},
    ])
    s = progress_summary(compounds_frame(), log, as_of="2023-06-30").set_index("unit")
    assert s.loc["魏都区", "compounds_started"] == 2
    assert s.loc["魏都区", "start_rate"] == pytest.approx(1.0)
    assert s.loc["建安区", "start_rate_households"] == pytest.approx(200 / 600)
    assert s.loc["魏都区", "completion_rate_households"] == pytest.approx(300 / 400)
    assert s.loc["建安区", "starts_flagged"] == 1
    assert s.loc["合计", "compounds_planned"] == 4
    assert s.loc["合计", "households_started"] == pytest.approx(600)


def test_summary_by_district():
    log = log_frame([{"compound_id": "C", "date": "2023-05-01", "stage": "started", **OK}])
    s = progress_summary(compounds_frame(), log, as_of="2023-06-30", by="district",
                         total=False).set_index("unit")
    assert list(s.index) == ["西片", "东片"]
    assert s.loc["东片", "start_rate"] == pytest.approx(0.5)


def test_milestone_state_core():
    state, expected = milestone_state(
        np.array([1.0, 0.5, 0.2, 0.6]), np.array([1.0, 1.0, 1.0, 0.7]),
        as_of=np.datetime64("2023-04-01"),
        due=np.array(["2023-06-30", "2023-06-30", "2023-06-30", "2023-03-31"],
                     dtype="datetime64[D]"),
        start=np.datetime64("2023-01-01"))
    assert state.tolist() == ["met", "on_track", "behind", "behind"]
    assert expected[1] == pytest.approx(90 / 180)


def _xuchang_log(stages):
    return log_frame([{"compound_id": cid, "date": d, "stage": s, **OK}
                      for cid, d, s in stages])


def test_xuchang_all_started_by_30_june_met():
    log = _xuchang_log([(c, "2023-06-20", "started") for c in "ABCD"])
    ms = milestone_status(compounds_frame(), log, XUCHANG_MILESTONES, as_of="2023-06-30",
                          by=None).set_index("key")
    assert ms.loc["all_started", "state"] == "met"
    assert ms.loc["all_started", "state_zh"] == "已完成"


def test_xuchang_start_milestone_missed_after_its_date_is_behind():
    log = _xuchang_log([(c, "2023-06-20", "started") for c in "ABC"])
    ms = milestone_status(compounds_frame(), log, XUCHANG_MILESTONES, as_of="2023-07-01",
                          by=None).set_index("key")
    assert ms.loc["all_started", "value"] == pytest.approx(0.75)
    assert ms.loc["all_started", "state"] == "behind"


def test_xuchang_completion_paced_from_the_start_deadline():
    # 31 Aug: 62 of the 123 days from 30 June to 31 Oct gone: 0.7 * 62/123 = 0.353 expected
    log = _xuchang_log([("D", "2023-05-01", "started"), ("D", "2023-08-20", "completed"),
                        ("A", "2023-05-01", "started")])
    ms = milestone_status(compounds_frame(), log, XUCHANG_MILESTONES, as_of="2023-08-31",
                          by="county")
    prog = ms[ms["unit"] == "合计"].set_index("key")
    assert prog.loc["hh70_complete", "expected"] == pytest.approx(0.7 * 62 / 123)
    assert prog.loc["hh70_complete", "value"] == pytest.approx(400 / 1000)
    assert prog.loc["hh70_complete", "state"] == "on_track"
    weidu = ms[ms["unit"] == "魏都区"].set_index("key")
    assert weidu.loc["hh70_complete", "state"] == "behind"
    jianan = ms[ms["unit"] == "建安区"].set_index("key")
    assert jianan.loc["hh70_complete", "value"] == pytest.approx(400 / 600)
    assert jianan.loc["hh70_complete", "state"] == "on_track"


def test_unknown_milestone_measure_names_the_fix():
    from gisplan._errors import InputError

    bad = [{"key": "x", "zh": "x", "date": "2023-06-30", "measure": "paid", "target": 1}]
    with pytest.raises(InputError, match="started_compounds"):
        milestone_status(compounds_frame(), _xuchang_log([]), bad, as_of="2023-06-30")


def test_eligibility_rules_of_guyuan_are_checked():
    compounds = compounds_frame().assign(built_year=[1995, 2003, 2008, 1998],
                                         prior_central_funding=[False, False, False, True])
    problems = check_compounds(compounds, rules="guyuan_2022")
    by_id = problems.set_index("compound_id")
    assert by_id.loc["C", "severity"] == "warning"  # built after 2005
    assert "2005" in by_id.loc["C", "detail"]
    assert "重复申报" in by_id.loc["D", "detail"]
    assert by_id.loc["B", "severity"] == "info"  # 2001-2005: conditional
    # B is 300 of 700 eligible+conditional households: above the 15 % cap
    assert "cap_2001_2005_exceeded" in set(problems["code"])


# ------------------------------------------------------------------ category and stage milestones

CATEGORIES = ["basic", "basic;improvement", "basic", "basic;upgrade"]


def _basic_milestone(**extra):
    return [{"key": "basic_completed", "zh": "7月份基础类基本竣工", "date": "2023-07-31",
             "measure": "completed_compounds", "target": 1.0, **extra}]


def test_basic_category_milestone_measures_compounds_whose_highest_category_is_basic():
    # A and C get basic works only; B and D also get 完善类/提升类 works
    compounds = compounds_frame().assign(categories=CATEGORIES)
    log = _xuchang_log([("A", "2023-07-01", "completed"), ("B", "2023-07-01", "completed"),
                        ("C", "2023-05-01", "started")])
    ms = milestone_status(compounds, log, _basic_milestone(categories="basic"),
                          as_of="2023-07-31", by="county").set_index("unit")
    assert ms.loc["合计", "value"] == pytest.approx(0.5)  # A of A, C
    assert ms.loc["合计", "n_compounds"] == 2
    assert ms.loc["魏都区", "state"] == "met"
    assert ms.loc["建安区", "state"] == "behind"


def test_milestone_without_categories_measures_every_compound():
    compounds = compounds_frame().assign(categories=CATEGORIES)
    log = _xuchang_log([("A", "2023-07-01", "completed"), ("B", "2023-07-01", "completed")])
    ms = milestone_status(compounds, log, _basic_milestone(), as_of="2023-07-31", by=None)
    assert ms["value"].tolist() == pytest.approx([0.5])
    assert ms["n_compounds"].tolist() == [4]


def test_unit_without_compounds_of_the_category_has_no_row():
    compounds = compounds_frame().assign(categories=["basic;improvement", "upgrade",
                                                     "basic", "basic"])
    ms = milestone_status(compounds, _xuchang_log([]), _basic_milestone(categories="basic"),
                          as_of="2023-07-31", by="county")
    assert ms["unit"].tolist() == ["建安区", "合计"]


GUYUAN_MILESTONES = [
    {"key": "all_completed", "zh": "9月底前竣工", "date": "2022-09-30",
     "measure": "completed_compounds", "target": 1.0},
    {"key": "all_accepted", "zh": "11月底前竣工验收", "date": "2022-11-30",
     "measure": "accepted_compounds", "target": 1.0},
]


def test_acceptance_milestone_counts_compounds_accepted_paced_from_completion():
    log = _xuchang_log([(c, "2022-09-01", "completed") for c in "ABCD"]
                       + [("A", "2022-10-20", "accepted"), ("C", "2022-10-25", "handed_over")])
    ms = milestone_status(compounds_frame(), log, GUYUAN_MILESTONES, as_of="2022-10-31",
                          by=None).set_index("key")
    assert ms.loc["all_accepted", "value"] == pytest.approx(0.5)  # handed over is beyond
    assert ms.loc["all_accepted", "measure_zh"] == "验收率（按小区）"
    # paced from 30 Sep (the completion deadline): 31 of 61 days gone
    assert ms.loc["all_accepted", "expected"] == pytest.approx(31 / 61)
    assert ms.loc["all_accepted", "state"] == "behind"


def test_stage_measure_by_households():
    log = _xuchang_log([("D", "2022-10-20", "accepted"), ("A", "2022-10-20", "completed")])
    ms = milestone_status(compounds_frame(), log, [
        {"key": "hh_accepted", "zh": "验收（按户）", "date": "2022-11-30",
         "measure": "accepted_households", "target": 0.4}], as_of="2022-10-31", by=None)
    assert ms["value"].tolist() == pytest.approx([400 / 1000])
    assert ms["state"].tolist() == ["met"]
    assert ms["measure_zh"].tolist() == ["验收率（按户数）"]


def test_unknown_stage_in_a_measure_lists_the_stages():
    from gisplan._errors import InputError

    bad = [{"key": "x", "zh": "x", "date": "2023-06-30", "measure": "paid_households",
            "target": 1}]
    with pytest.raises(InputError, match="accepted_compounds") as info:
        milestone_status(compounds_frame(), _xuchang_log([]), bad, as_of="2023-06-30")
    assert "handed_over" in str(info.value)


def test_unknown_category_of_a_milestone_names_the_fix():
    from gisplan._errors import InputError

    with pytest.raises(InputError, match="基础类"):
        milestone_status(compounds_frame().assign(categories=CATEGORIES), _xuchang_log([]),
                         _basic_milestone(categories="basc"), as_of="2023-06-30")


def test_findings_of_one_code_are_capped_and_every_row_stays_flagged():
    from gisplan.findings import LISTED_PER_CODE
    from gisplan.progress import prepare_log

    n = LISTED_PER_CODE + 10
    raw = pd.DataFrame({"compound_id": ["A"] * n, "date": ["2099-01-01"] * n,
                        "stage": ["开工"] * n, "source_row": range(2, n + 2)})
    log, _, report = prepare_log(raw, compounds_frame().assign(name="x"), file="r.csv")
    assert len(report.by_code("future_date")) == LISTED_PER_CODE
    (more,) = report.by_code("future_date_more")
    assert more.message.startswith("10 more rows")
    assert log["flags"].str.contains("future_date").all()
    assert report.counts["progress_log"].rows_in == report.counts["progress_log"].rows_out == n


def test_the_progress_package_imports_neither_report_nor_sample_reports():
    """No import cycle: report and sample_reports build on progress, never the reverse."""
    import ast
    from pathlib import Path

    import gisplan.progress

    package = Path(gisplan.progress.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [
                    a.name for a in node.names]
                assert not [m for m in names if m and m.startswith(
                    ("gisplan.report", "gisplan.sample_reports", "gisplan.maps"))], path


def test_compounds_without_ids_are_refused_with_the_fix_not_a_key_error():
    from gisplan._errors import SchemaError

    log = log_frame([{"compound_id": "A", "date": "2023-05-10", "stage": "started"}])
    with pytest.raises(SchemaError, match="compound_id") as err:
        progress_summary(compounds_frame().drop(columns="compound_id"), log, as_of="2023-06-30")
    assert "小区编号" in str(err.value)
