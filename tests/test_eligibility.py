import numpy as np
import pandas as pd
import pytest

from gisplan.eligibility import (
    CONDITIONAL,
    ELIGIBLE,
    INELIGIBLE,
    cap_share,
    classify,
    classify_core,
    load_rules,
    reasons,
)


def test_rules_come_from_the_guyuan_plan():
    r = load_rules()
    assert (r.name, r.eligible_built_by, r.conditional_built_to) == ("guyuan_2022", 2000, 2005)
    assert r.household_cap_2001_2005 == pytest.approx(0.15)
    assert "固原" in r.title


def test_unknown_rule_set_names_the_known_ones():
    with pytest.raises(KeyError, match="guyuan_2022"):
        load_rules("nowhere")


@pytest.mark.parametrize(("year", "expected", "reason"), [
    (1980, ELIGIBLE, "built_by_2000"),
    (2000, ELIGIBLE, "built_by_2000"),
    (2001, CONDITIONAL, "built_2001_2005"),
    (2005, CONDITIONAL, "built_2001_2005"),
    (2006, INELIGIBLE, "built_after_2005"),
])
def test_build_year_decides_the_class(year, expected, reason):
    elig, why = classify_core(np.array([year], dtype=float))
    assert (elig[0], why[0]) == (expected, reason)


def test_prior_central_funding_excludes_an_old_compound():
    elig, why = classify_core(np.array([1990.0]), prior_central_funding=np.array([True]))
    assert (elig[0], why[0]) == (INELIGIBLE, "prior_central_funding")


def test_demolition_wins_over_every_other_reason():
    elig, why = classify_core(np.array([1990.0]), prior_central_funding=np.array([True]),
                              demolition=np.array([True]))
    assert (elig[0], why[0]) == (INELIGIBLE, "demolition")


def test_missing_build_year_is_not_eligible_and_says_what_to_fill_in():
    out = classify(pd.DataFrame({"built_year": [None]}, dtype="Int64"))
    assert out["eligibility"].iloc[0] == INELIGIBLE
    assert out["eligibility_reason"].iloc[0] == "built_year_missing"
    assert "建成年份" in out["reason_zh"].iloc[0]


def test_chinese_status_for_demolition_is_recognised():
    df = pd.DataFrame({"built_year": [1990, 1990], "status": ["拟拆除", "纳入计划"]},
                      index=[10, 20])
    out = classify(df)
    assert out.loc[10, "eligibility_reason"] == "demolition"
    assert out.loc[20, "eligibility"] == ELIGIBLE


def test_classify_keeps_index_and_gives_both_languages():
    df = pd.DataFrame({"built_year": [1995, 2003, 2010]}, index=["a", "b", "c"])
    out = classify(df)
    assert list(out.index) == ["a", "b", "c"]
    assert out["reason_en"].str.len().gt(0).all()
    assert out["reason_zh"].str.len().gt(0).all()


def test_every_reason_code_has_chinese_and_english_text():
    for code, text in reasons().items():
        assert text["zh"] and text["en"], code


def test_cap_share_counts_households_of_selected_compounds():
    h = np.array([850, 150, 500])
    e = np.array([ELIGIBLE, CONDITIONAL, CONDITIONAL], dtype=object)
    assert cap_share(h, e, np.array([True, True, False])) == pytest.approx(0.15)
