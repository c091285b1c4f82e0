"""Dates: any date-like in, ``datetime.date`` out, in every function of gisplan.progress."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from gisplan._errors import InputError
from gisplan.progress import (
    as_date,
    check_log,
    compound_status,
    milestone_status,
    prepare_log,
    progress_summary,
    read_log,
)

AS_OF_FORMS = ["2023-06-30", "2023年6月30日", "2023.6.30", dt.date(2023, 6, 30),
               dt.datetime(2023, 6, 30, 17, 45), pd.Timestamp("2023-06-30")]

MILESTONES = [{"key": "all_started", "zh": "全部开工", "date": "2023-06-30",
               "measure": "started_compounds", "target": 1.0}]


def _log(dates: list[object]) -> pd.DataFrame:
    return pd.DataFrame({
        "log_id": [1, 2, 3], "compound_id": ["A", "A", "B"], "compound_name": ["甲", "甲", "乙"],
        "county": ["魏都区"] * 3, "date": pd.Series(dates, dtype=object),
        "stage": ["started", "tendered", "completed"], "consent_rate": [0.5, None, None],
        "entered_at": ["2023-12-31 12:00:00"] * 3})


COMPOUNDS = pd.DataFrame({"compound_id": ["A", "B"], "county": ["魏都区", "魏都区"],
                          "households": [100, 300]})

LOG_FORMS = {
    "iso text": ["2023-05-10", "2023-06-10", "2023-06-20"],
    "chinese text": ["2023年5月10日", "2023年6月10日", "2023年6月20日"],
    "date": [dt.date(2023, 5, 10), dt.date(2023, 6, 10), dt.date(2023, 6, 20)],
    "timestamp": [pd.Timestamp("2023-05-10"), pd.Timestamp("2023-06-10 08:00"),
                  pd.Timestamp("2023-06-20")],
}


def _is_date_column(values: pd.Series) -> bool:
    """Every value a datetime.date (not a datetime, not a Timestamp) or None."""
    return all(v is None or (type(v) is dt.date) for v in values)


@pytest.mark.parametrize("as_of", AS_OF_FORMS, ids=repr)
def test_every_form_of_as_of_gives_the_same_status(as_of):
    log = _log(LOG_FORMS["iso text"])
    expected = compound_status(log, as_of=dt.date(2023, 6, 30))
    pd.testing.assert_frame_equal(compound_status(log, as_of=as_of), expected)
    pd.testing.assert_frame_equal(progress_summary(COMPOUNDS, log, as_of=as_of),
                                  progress_summary(COMPOUNDS, log, as_of="2023-06-30"))


@pytest.mark.parametrize("form", list(LOG_FORMS))
def test_every_form_of_log_date_gives_dates_out(form):
    log = _log(LOG_FORMS[form])
    status = compound_status(log, as_of=pd.Timestamp("2023-12-31"))
    for col in ("stage_date", "started_date", "completed_date"):
        assert _is_date_column(status[col]), col
    assert status.loc["A", "started_date"] == dt.date(2023, 5, 10)
    assert status.loc["B", "completed_date"] == dt.date(2023, 6, 20)

    problems = check_log(log)
    assert len(problems) and _is_date_column(problems["date"])
    assert set(problems["code"]) >= {"stage_backwards", "start_criteria_unmet"}

    ms = milestone_status(COMPOUNDS, log, MILESTONES, as_of=dt.date(2023, 7, 1))
    assert _is_date_column(ms["due"]) and ms["due"].iloc[0] == dt.date(2023, 6, 30)


def test_status_is_the_same_whatever_the_date_form():
    frames = [compound_status(_log(dates), as_of="2023-06-15") for dates in LOG_FORMS.values()]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])


def test_prepared_and_stored_log_dates_are_dates(tmp_path):
    from gisplan.store import Project

    raw = pd.DataFrame({"compound_id": ["A", "B"], "date": ["2023年6月30日", "2023.7.1"],
                        "stage": ["开工", "完工"]})
    prepared = prepare_log(raw, COMPOUNDS.assign(name=["甲", "乙"]))
    assert prepared.log["date"].tolist() == [dt.date(2023, 6, 30), dt.date(2023, 7, 1)]
    path = tmp_path / "p.gpkg"
    Project.create(path, meta={"name": "t"}, layers={"progress_log": prepared.log.drop(
        columns="log_id")})
    assert _is_date_column(read_log(path)["date"])
    assert read_log(path)["date"].tolist() == prepared.log["date"].tolist()


def test_an_unreadable_as_of_is_refused_with_the_fix():
    with pytest.raises(InputError, match="2023-06-30"):
        compound_status(_log(LOG_FORMS["date"]), as_of="六月底")
    assert as_date("六月底") is None and as_date(None) is None
