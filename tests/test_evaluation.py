"""County evaluation: weights as data, ranking, top 3."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gisplan._errors import InputError, SchemaError
from gisplan.evaluation import evaluate_project, evaluate_scores, load_evaluation_weights


def test_weights_not_summing_to_one_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "w.toml"
    p.write_text('[inspections.mid_year]\nweight = 0.5\ndate = "07-31"\n'
                 '[inspections.year_end]\nweight = 0.6\ndate = "12-31"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"add up to 1\.1, not 1") as e:
        load_evaluation_weights(p)
    assert "inspections" in str(e.value.column)


def test_sheet_scores_weighted_and_top_three() -> None:
    sheet = pd.DataFrame({"县区": ["禹州市", "长葛市", "襄城县", "魏都区", "建安区"],
                          "年中": [90, 80, 70, 60, 50], "年终": [55, 90, 80, 70, 60]})
    r = evaluate_scores(sheet).frame
    assert r["county"].tolist()[:3] == ["长葛市", "襄城县", "禹州市"]
    assert r.loc[0, "score"] == pytest.approx(0.4 * 80 + 0.6 * 90)
    assert r["top"].sum() == 3


def test_tie_at_the_cut_keeps_both_and_says_so() -> None:
    sheet = pd.DataFrame({"县区": list("ABCD"), "年中": [90, 80, 70, 70],
                          "年终": [90, 80, 70, 70]})
    r = evaluate_scores(sheet)
    assert r.frame["top"].sum() == 4
    assert r.report.by_code("tie_at_top")


def test_sheet_without_score_column_names_it() -> None:
    with pytest.raises(SchemaError, match="year_end"):
        evaluate_scores(pd.DataFrame({"县区": ["甲"], "年中": [1]}))


def test_bad_score_is_flagged_not_dropped() -> None:
    r = evaluate_scores(pd.DataFrame({"county": ["甲", "乙"], "mid_year": ["x", 80],
                                      "year_end": [70, 80]}))
    assert len(r.frame) == 2 and r.report.by_code("bad_score")


def test_xuchang_from_progress_has_components_and_three_excellent_counties() -> None:
    r = evaluate_project("layers/xuchang_2023.gpkg").frame
    assert sorted(r["county"]) == sorted(["禹州市", "长葛市", "襄城县", "魏都区", "建安区"])
    assert r["top"].sum() == 3
    assert {"mid_year_started_households", "year_end_completed_households"} <= set(r.columns)
    assert r["score"].is_monotonic_decreasing
