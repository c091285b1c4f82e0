"""Value parsers: numbers, years, booleans, rates, dates and categories written the Chinese way."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gisplan.parse import (
    parse_bool,
    parse_categories,
    parse_date,
    parse_int,
    parse_number,
    parse_rate,
    parse_term,
    parse_text,
    parse_year,
)

# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,435户", 1435.0),
        ("1435 户", 1435.0),
        ("6.418万平方米", 64180.0),
        ("24.7891万㎡", 247891.0),
        ("35栋", 35.0),
        ("１４３５", 1435.0),
        ("64180m²", 64180.0),
        (1435, 1435.0),
        (101452.5, 101452.5),
    ],
)
def test_number_reads_chinese_forms(cell, expected):
    p = parse_number([cell])
    assert p.values.iloc[0] == pytest.approx(expected)
    assert not p.failed.any()


@pytest.mark.parametrize("cell", ["", "  ", "—", "/", "无", None, float("nan")])
def test_number_blank_forms_are_missing_not_failed(cell):
    p = parse_number([cell])
    assert np.isnan(p.values.iloc[0])
    assert not p.failed.any()


@pytest.mark.parametrize("cell", ["十几户", "1200-1300", "3栋5单元", "abc", True])
def test_number_without_one_clear_number_fails(cell):
    p = parse_number([cell])
    assert p.failed.tolist() == [True]
    assert np.isnan(p.values.iloc[0])


def test_number_approximate_is_flagged():
    p = parse_number(["约1200", "1200余户", "1200"])
    assert p.values.tolist() == [1200.0, 1200.0, 1200.0]
    assert p.flags["value_approximate"].tolist() == [True, True, False]


def test_number_keeps_the_index():
    s = pd.Series(["1", "2"], index=[10, 20])
    assert parse_number(s).values.index.tolist() == [10, 20]


@given(st.integers(min_value=0, max_value=10**9))
def test_number_round_trips_thousands_separators(n):
    assert parse_number([f"{n:,}户"]).values.iloc[0] == n


def test_int_rejects_fractions():
    p = parse_int(["12.5栋", "12栋", 3.0])
    assert p.failed.tolist() == [True, False, False]
    assert str(p.values.dtype) == "Int64"
    assert p.values.iloc[1] == 12


# ------------------------------------------------------------------ years


@pytest.mark.parametrize(
    ("cell", "year"),
    [
        ("1998年", 1998),
        ("1998年建成", 1998),
        ("2001.06", 2001),
        (2001.06, 2001),
        ("1998-05-01", 1998),
        ("1998年5月", 1998),
        (1998, 1998),
        (dt.date(1995, 3, 1), 1995),
    ],
)
def test_year_exact_forms(cell, year):
    p = parse_year([cell])
    assert p.values.iloc[0] == year
    assert not p.flags["year_approximate"].any()


@pytest.mark.parametrize(("cell", "year"), [("1990年代", 1990), ("90年代", 1990),
                                            ("1980s", 1980), ("约1995年", 1995),
                                            ("2000年以前", 2000)])
def test_year_decades_and_vague_years_are_flagged_approximate(cell, year):
    p = parse_year([cell])
    assert p.values.iloc[0] == year
    assert p.flags["year_approximate"].tolist() == [True]


@pytest.mark.parametrize("cell", ["3000", "老小区", "1998—2003", 12])
def test_year_implausible_or_ambiguous_fails(cell):
    assert parse_year([cell]).failed.tolist() == [True]


# ------------------------------------------------------------------ booleans


def test_bool_accepts_the_usual_marks():
    cells = ["是", "否", "有", "无", "√", "×", "yes", "no", "Y", "N", 1, 0, True]
    expected = [True, False] * 6 + [True]
    assert parse_bool(cells).values.tolist() == expected


def test_bool_unknown_fails_and_blank_is_missing():
    p = parse_bool(["也许", "", None])
    assert p.failed.tolist() == [True, False, False]
    assert p.values.isna().tolist() == [True, True, True]


# ------------------------------------------------------------------ rates


@pytest.mark.parametrize("cell", ["85%", "85％", 0.85, 85, "85", "0.85", "八成", "8.5成"])
def test_rate_forms_give_a_fraction(cell):
    assert parse_rate([cell]).values.iloc[0] == pytest.approx(0.85 if "成" not in str(cell)
                                                              or "8.5" in str(cell) else 0.8)


def test_rate_above_hundred_percent_fails():
    assert parse_rate(["120%", 130]).failed.tolist() == [True, True]


# ------------------------------------------------------------------ dates


@pytest.mark.parametrize(
    "cell",
    ["2023年6月30日", "2023.6.30", "2023/6/30", "2023-06-30", "2023-06-30 00:00:00",
     "20230630", 45107, "45107", dt.datetime(2023, 6, 30, 14, 5), pd.Timestamp("2023-06-30")],
)
def test_date_forms(cell):
    p = parse_date([cell])
    assert p.values.iloc[0] == dt.date(2023, 6, 30)
    assert not p.failed.any()


def test_date_impossible_day_fails():
    assert parse_date(["2023-02-30", "六月底"]).failed.tolist() == [True, True]


# ------------------------------------------------------------------ categories, terms, text


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("基础类、完善类", "basic;improvement"), ("基础类,提升类", "basic;upgrade"),
     ("提升类；基础类", "basic;upgrade"), ("基础类", "basic")],
)
def test_categories_are_canonical_keys_in_order(cell, expected):
    assert parse_categories([cell]).values.iloc[0] == expected


def test_categories_with_an_unknown_part_fail():
    assert parse_categories(["基础类、绿化"]).failed.tolist() == [True]


def test_term_maps_aliases_and_fails_unknown():
    p = parse_term(["自来水", "热力", "下水道"], "network")
    assert p.values.tolist()[:2] == ["water_supply", "heating"]
    assert p.failed.tolist() == [False, False, True]
    assert "供水" in p.hint


def test_text_writes_whole_numbers_without_decimals():
    assert parse_text([101.0, " 东海园区 ", ""]).values.tolist() == ["101", "东海园区", None]


def test_parsers_are_vectorised_enough_for_a_city():
    cells = pd.Series(["1,435户", "6.418万平方米", "约1200", "—"] * 25_000)
    p = parse_number(cells)
    assert p.n_failed == 0
    assert p.values.sum() == pytest.approx(25_000 * (1435 + 64180 + 1200))
