"""progress_series: the summary on many dates in one pass equals the summary date by date.

The reference below is the per-date definition written out (progress_base, then a
group-by per unit); progress_series computes every date at once from the ranges of
dates each log row decides.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gisplan.progress import progress_series, progress_summary
from gisplan.progress.status import _rates, progress_base, unit_of
from gisplan.store import Project

ROOT = Path(__file__).resolve().parents[1]


def reference(compounds: pd.DataFrame, log: pd.DataFrame, day: dt.date, by: str,
              total: bool) -> pd.DataFrame:
    base = progress_base(compounds, log, as_of=day)
    hh = base["households"].fillna(0.0)
    base["hh_started"] = hh.where(base["started"], 0.0)
    base["hh_completed"] = hh.where(base["completed"], 0.0)
    base["unit"] = unit_of(base, by)
    g = base.groupby("unit", sort=False)
    out = pd.DataFrame({
        "compounds_planned": g.size(), "households_planned": g["households"].sum(min_count=1),
        "compounds_started": g["started"].sum(), "households_started": g["hh_started"].sum(),
        "compounds_completed": g["completed"].sum(),
        "households_completed": g["hh_completed"].sum(), "starts_flagged": g["flagged"].sum(),
    })
    if total and len(out):
        out.loc["合计"] = out.sum(numeric_only=True, min_count=1)
    return _rates(out.reset_index(names="unit"))


def month_ends(log: pd.DataFrame) -> list[dt.date]:
    d = pd.to_datetime(log["date"], errors="coerce").dropna()
    ends = pd.period_range(d.min().to_period("M"), d.max().to_period("M"), freq="M")
    days = [p.end_time.date() for p in ends]
    # also the day before the first report, a report's own day and the day after
    first = d.min().date()
    return [first - dt.timedelta(days=1), first, *days, d.max().date(),
            d.max().date() + dt.timedelta(days=400)]


@pytest.mark.parametrize("sample", ["xuchang_2023", "guyuan_2022", "huaian_2023"])
@pytest.mark.parametrize("by", ["county", "district"])
def test_series_equals_the_summary_date_by_date_on_the_samples(sample: str, by: str) -> None:
    p = Project.open(ROOT / "layers" / f"{sample}.gpkg")
    comp, log = p.read("compounds"), p.read("progress_log")
    days = month_ends(log)
    series = progress_series(comp, log, days, by=by)
    assert series["date"].drop_duplicates().tolist() == list(dict.fromkeys(days))
    assert series["compounds_started"].max() > 0  # the samples do start compounds
    for day in days:
        got = series[series["date"] == day].drop(columns="date").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, reference(comp, log, day, by, True))


def test_units_known_only_from_the_log_appear_from_their_first_report() -> None:
    comp = pd.DataFrame({"compound_id": ["A", "B"], "county": ["甲区", "乙区"],
                         "households": [100, np.nan]})
    log = pd.DataFrame({
        "compound_id": ["A", None, None, "B", "A"],
        "compound_name": ["a", "经开区一号", "经开区一号", "b", "a"],
        "county": ["甲区", "经开区", "经开区", "乙区", "甲区"],
        "date": ["2023-03-01", "2023-04-01", "2023-06-01", "2023-05-01", "2023-05-20"],
        "stage": ["designed", "started", "completed", "started", "designed"],
        "households": [None, 40, None, None, None],
        "flags": ["", "unit_without_geometry", "unit_without_geometry", "", ""],
        "consent_rate": [None, 0.9, None, 0.5, None],
    })
    days = [dt.date(2023, 3, 31), dt.date(2023, 4, 30), dt.date(2023, 5, 31),
            dt.date(2023, 6, 30)]
    for by in ("county", "district"):
        for total in (True, False):
            series = progress_series(comp, log, days[::-1], by=by, total=total)
            for day in days:
                got = series[series["date"] == day].drop(columns="date").reset_index(drop=True)
                pd.testing.assert_frame_equal(got, reference(comp, log, day, by, total))
    march = progress_series(comp, log, [days[0]])
    assert "经开区" not in march["unit"].tolist()
    june = progress_summary(comp, log, as_of=days[-1])
    assert june.set_index("unit").loc["经开区", "compounds_completed"] == 1
    # A went back to design after its start on 20 May: not started on 31 May
    may = progress_summary(comp, log, as_of=days[2]).set_index("unit")
    assert may.loc["甲区", "compounds_started"] == 0


def test_series_on_a_national_city_with_a_year_of_weekly_reports() -> None:
    from gisplan.synth import national_cities, synth_national_city

    city = national_cities(cities=2, compounds=900, seed=4)[0]
    layers = synth_national_city(city)
    comp, log = layers["compounds"], layers["progress_log"]
    days = month_ends(log)
    series = progress_series(comp, log, days, by="district", total=False)
    for day in days[::3]:
        got = series[series["date"] == day].drop(columns="date").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, reference(comp, log, day, "district", False))


def test_an_empty_log_gives_planned_figures_only() -> None:
    comp = pd.DataFrame({"compound_id": ["A"], "county": ["甲区"], "households": [10]})
    log = pd.DataFrame(columns=["compound_id", "date", "stage"])
    s = progress_series(comp, log, ["2023-01-31", "2023-02-28"])
    assert s["compounds_planned"].tolist() == [1, 1, 1, 1]
    assert s["compounds_started"].sum() == 0


@pytest.mark.parametrize("sample", ["xuchang_2023", "huaian_2023"])
def test_the_maps_stage_history_is_the_status_on_each_snapshot_date(sample: str) -> None:
    from gisplan.maps.progress import _snapshot_dates, _stage_history
    from gisplan.progress import compound_status
    from gisplan.schema import stage_order

    p = Project.open(ROOT / "layers" / f"{sample}.gpkg")
    comp, log = p.read("compounds"), p.read("progress_log")
    dates = _snapshot_dates(log["date"], month_ends(log)[-2])
    hist = _stage_history(comp, log, dates)
    order = {s: i for i, s in enumerate(stage_order())}
    ids = comp["compound_id"].astype(str)
    for j, day in enumerate(dates):
        status = compound_status(log, as_of=day)
        known = status[status["compound_id"].notna()]
        stage = pd.Series(known["stage"].to_numpy(), index=known["compound_id"].astype(str))
        expected = ids.map(stage).map(order).fillna(-1).astype(np.int8).to_numpy()
        np.testing.assert_array_equal(hist[:, j], expected, err_msg=str(day))
    assert (hist >= 0).any() and (hist < 0).any()


@pytest.mark.parametrize("sample", ["xuchang_2023", "guyuan_2022"])
def test_the_maps_slider_and_charts_carry_the_summary_of_each_date(sample: str) -> None:
    from gisplan.maps import progress as mp

    p = Project.open(ROOT / "layers" / f"{sample}.gpkg")
    comp, log = p.read("compounds"), p.read("progress_log")
    days = month_ends(log)[1:-1]
    roll = mp._Rollups(comp, log, days)
    cols = list(mp._ROLLUP_COLS)
    for level, by in (("county", "county"), ("pianqu", "district")):
        units = [*sorted(comp[by].dropna().astype(str).unique())[:6], "无此单元"]
        got = mp._rollup_series(roll, level, units)
        for k, day in enumerate(days):
            ref = progress_summary(comp, log, as_of=day, by=by).set_index("unit")
            for unit in units:
                want = ([None] * len(cols) if unit not in ref.index else
                        [mp._json_number(ref.loc[unit, c]) for c in cols])
                assert got[unit][k] == want, (level, unit, day)
    charts = mp._progress_charts(comp, roll, p.meta, "zh")
    assert charts is not None
    by_name = {u["name"]: u["values"] for u in charts["units"]}
    for k, day in enumerate(days):
        ref = progress_summary(comp, log, as_of=day, by="county").set_index("unit")
        for unit, values in by_name.items():
            row = ref.loc["合计" if unit == "全市合计" else unit]
            want = [mp._json_number(row[n] / row[d]) if row[d] else None for n, d in (
                ("households_started", "households_planned"),
                ("households_completed", "households_planned"),
                ("compounds_started", "compounds_planned"),
                ("compounds_completed", "compounds_planned"))]
            assert values[k] == pytest.approx(want), (unit, day)
        total = roll.total(day)
        assert mp._json_number(total["start_rate_households"]) == mp._json_number(
            ref.loc["合计", "start_rate_households"])
