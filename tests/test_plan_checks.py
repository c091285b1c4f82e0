"""报大建小 and per-project completeness."""

from __future__ import annotations

import pandas as pd

from gisplan.plan_checks import completeness_check, plan_checks_project, scope_check


def test_accepted_scope_smaller_than_planned_is_flagged() -> None:
    c = pd.DataFrame({"compound_id": ["A", "B", "C"],
                      "planned_items": ["屋面、外墙、供水", "屋面", "屋面"]})
    log = pd.DataFrame({"compound_id": ["A", "A", "B", "C"],
                        "stage": ["accepted", "accepted", "accepted", "started"],
                        "accepted_items": ["屋面", "供水", "屋面、绿化", None]})
    r = scope_check(c, log)
    f = r.frame.set_index("compound_id")
    assert f.loc["A", "scope_status"] == "smaller" and f.loc["A", "missing_zh"] == "外墙"
    assert f.loc["B", "scope_status"] == "complete" and f.loc["B", "unplanned_items"] == "greening"
    assert f.loc["C", "scope_status"] == "not_accepted"
    assert [x.row for x in r.report.by_code("accepted_scope_smaller")] == ["A"]


def test_log_without_accepted_items_says_so() -> None:
    r = plan_checks_project("layers/guyuan_2022.gpkg")["scope"]
    assert r.report.by_code("accepted_items_not_recorded")
    assert (r.frame["scope_status"] == "not_recorded").all()


def test_completeness_lists_what_each_project_lacks() -> None:
    c = pd.DataFrame({"compound_id": ["A", "B"], "planned_items": ["屋面", ""],
                      "builder_unit": ["区住建局", "区住建局"],
                      "supervisor_unit": ["区质监站", None], "supervisor_person": ["张三", "李四"]})
    est = pd.DataFrame({"compound_id": ["A", "B"], "estimate_wan_yuan": [10.0, 0.0]})
    fund = pd.DataFrame({"compound_id": ["A"], "funding_total_wan_yuan": [10.0]})
    r = completeness_check(c, estimates=est, funding=fund).frame
    assert r["complete"].tolist() == [True, False]
    assert r.loc[1, "missing"] == "改造内容、资金概算、资金来源、监管责任单位"
