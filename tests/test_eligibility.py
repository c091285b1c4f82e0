import numpy as np
import pandas as pd
import pytest

from gisplan._errors import InputError
from gisplan.eligibility import (
    CONDITIONAL,
    ELIGIBLE,
    INELIGIBLE,
    cap_share,
    classify,
    classify_core,
    load_rules,
    programme_rules,
    reasons,
)

GUYUAN = load_rules("guyuan_2022")


def test_the_default_rule_set_is_the_national_baseline():
    r = load_rules()
    assert (r.name, r.eligible_built_by, r.has_conditional) == ("national_2020", 2000, False)
    assert "国办发〔2020〕23号" in r.title
    assert r.exclude_prior_central_funding
    assert "demolition" in r.excluded_statuses


def test_guyuan_rules_come_from_the_guyuan_plan():
    r = GUYUAN
    assert (r.name, r.eligible_built_by, r.conditional_built_to) == ("guyuan_2022", 2000, 2005)
    assert r.household_cap_2001_2005 == pytest.approx(0.15)
    assert "固原" in r.title


def test_unknown_rule_set_names_the_known_ones():
    with pytest.raises(InputError, match="national_2020, guyuan_2022") as e:
        load_rules("nowhere")
    assert e.value.value == "nowhere"


@pytest.mark.parametrize(("year", "expected", "reason"), [
    (2000, ELIGIBLE, "built_by_2000"),
    (2001, INELIGIBLE, "built_after_2000"),
    (2005, INELIGIBLE, "built_after_2000"),
])
def test_national_baseline_admits_only_compounds_built_by_2000(year, expected, reason):
    elig, why = classify_core(np.array([year], dtype=float))
    assert (elig[0], why[0]) == (expected, reason)


def test_a_programme_chooses_its_rule_set_by_name():
    choice = programme_rules({"rule_set": "guyuan_2022"})
    assert choice.rules == GUYUAN
    assert "rule_set" in choice.chosen_by


def test_a_programme_without_a_rule_set_gets_the_national_baseline():
    # e.g. the Xuchang sample, whose rules state only the residents' consent
    choice = programme_rules({"rules": {"consent_min": 0.8}})
    assert choice.rules.name == "national_2020"
    assert "default" in choice.chosen_by


def test_an_older_programme_stating_guyuan_figures_gets_the_guyuan_set():
    meta = {"rules": {"built_by": 2000, "late_built_until": 2005,
                      "household_cap_2001_2005": 0.15}}
    assert programme_rules(meta).rules.name == "guyuan_2022"


def test_stated_figures_that_match_no_rule_set_are_an_error_that_says_how_to_fix():
    meta = {"rules": {"built_by": 2000, "late_built_until": 2008,
                      "household_cap_2001_2005": 0.2}}
    with pytest.raises(InputError, match=r"match no rule set.*rule_set"):
        programme_rules(meta)


def test_an_unknown_rule_set_in_the_programme_is_an_error():
    with pytest.raises(InputError, match="unknown rule set 'xian_2024'"):
        programme_rules({"rule_set": "xian_2024"})


@pytest.mark.parametrize(("year", "expected", "reason"), [
    (1980, ELIGIBLE, "built_by_2000"),
    (2000, ELIGIBLE, "built_by_2000"),
    (2001, CONDITIONAL, "built_2001_2005"),
    (2005, CONDITIONAL, "built_2001_2005"),
    (2006, INELIGIBLE, "built_after_2005"),
])
def test_build_year_decides_the_class_under_guyuan_rules(year, expected, reason):
    elig, why = classify_core(np.array([year], dtype=float), rules=GUYUAN)
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
    out = classify(df, rules="guyuan_2022")
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
