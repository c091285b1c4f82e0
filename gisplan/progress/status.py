"""Status on a date: each compound's stage, and the counts by county or 片区.

Nothing stores a compound's stage: its status on any date is derived from the log
(:func:`compound_status`), and the summaries by county and 片区 from that
(:func:`progress_summary`).

Examples
--------
>>> import pandas as pd
>>> log = pd.DataFrame({"compound_id": ["A", "A", "B"],
...                     "date": ["2023-03-01", "2023-05-10", "2023-04-01"],
...                     "stage": ["designed", "started", "tendered"]})
>>> st = compound_status(log, as_of="2023年5月31日")
>>> st["stage"].tolist(), st.loc["A", "started_date"]
(['started', 'tendered'], datetime.date(2023, 5, 10))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gisplan._errors import InputError, SchemaError
from gisplan.progress.dates import DateLike, parse_dates, require_date, to_dates
from gisplan.progress.terms import (
    BOOL_CRITERIA,
    COMPLETED,
    CONSENT_MIN,
    CRITERIA_ZH,
    RANK,
    START_CRITERIA,
    STARTED,
    Level,
)
from gisplan.schema import term, vocab, zh, zh_many

__all__ = ["PlanScope", "compound_status", "criteria_ok", "plan_scope", "progress_series",
           "progress_summary", "valid_rows"]

_LEVELS: dict[str, Level] = {"county": "county", "县区": "county", "district": "district",
                             "pianqu": "district", "片区": "district"}


def level_column(by: str) -> Level:
    """Return the column a summary groups by: ``county`` or ``district`` (片区).

    Raises
    ------
    InputError
        *by* names neither.
    """
    try:
        return _LEVELS[by]
    except KeyError:
        raise InputError(f"unknown level {by!r}", value=by,
                         hint="group by county (县区) or district (片区)") from None


def _key(log: pd.DataFrame) -> pd.Series:
    """Compound id, or ``county|name`` for kept rows of units without geometry."""
    cid = log["compound_id"].astype(object) if "compound_id" in log else pd.Series(
        None, index=log.index, dtype=object)
    if "flags" in log and "compound_name" in log:
        flags = log["flags"].fillna("").astype(str)
        by_name = cid.isna() & flags.str.contains("unit_without_geometry", regex=False) & \
            ~flags.str.contains("compound_unknown|compound_ambiguous")
        if by_name.any():  # the names of those rows only
            rows = log[by_name.to_numpy()]
            county = rows["county"].fillna("").astype(str) if "county" in rows else ""
            cid = cid.copy()
            cid[by_name] = county + "|" + rows["compound_name"].fillna("").astype(str)
    return cid


def valid_rows(log: pd.DataFrame) -> pd.DataFrame:
    """Return the rows that take part in the status: a compound, a date, a known stage.

    Adds ``key`` (:func:`_key`) and ``rank`` (position of the stage); ``date`` becomes
    ``datetime64`` (the computing form); sorted by key, date and log id.
    """
    frame = pd.DataFrame(log).copy()
    frame["key"] = _key(frame)
    frame["date"] = parse_dates(frame["date"])
    frame["rank"] = frame["stage"].map(RANK)
    if "log_id" not in frame:
        frame["log_id"] = np.arange(len(frame))
    frame["log_id"] = pd.to_numeric(frame["log_id"], errors="coerce")
    ok = frame["key"].notna() & frame["date"].notna() & frame["rank"].notna()
    frame = frame[ok.to_numpy()]
    return frame.sort_values(["key", "date", "log_id"], kind="stable")


def criteria_ok(crit: pd.DataFrame, *, consent_min: float = CONSENT_MIN
                ) -> tuple[pd.Series, pd.Series]:
    """Return (all five met: True/False/NA when some unknown, unmet criteria in Chinese)."""
    consent = pd.to_numeric(crit["consent_rate"], errors="coerce")
    met = pd.DataFrame(index=crit.index)
    known = consent.notna().to_numpy()
    reached = (consent.fillna(0.0) >= consent_min - 1e-9).to_numpy()
    consent_met = pd.array(reached, dtype="boolean")
    consent_met[~known] = pd.NA
    met["consent_rate"] = consent_met
    for col in BOOL_CRITERIA:
        met[col] = crit[col].astype("boolean")
    failed = met.eq(False).fillna(False)
    unknown = met.isna()
    ok = pd.Series(pd.NA, index=crit.index, dtype="boolean")
    ok[~failed.any(axis=1) & ~unknown.any(axis=1)] = True
    ok[failed.any(axis=1)] = False
    unmet = pd.Series(joined_names(failed.to_numpy(dtype=bool)), index=crit.index,
                      dtype=object)
    return ok, unmet


def joined_names(which: NDArray[np.bool_]) -> NDArray[np.object_]:
    """Return, per row of *which* (rows × START_CRITERIA), its criteria's names joined by 、.

    Examples
    --------
    >>> joined_names(np.array([[True, False, True, False, False], [False] * 5])).tolist()
    ['居民同意率≥80%、设计已公示', '']
    """
    names = np.array([CRITERIA_ZH[c] + "、" for c in START_CRITERIA], dtype=object)
    if not which.size:
        return np.full(len(which), "", dtype=object)
    joined = pd.Series(np.where(which, names, "").astype(object).sum(axis=1), dtype=object)
    return joined.str.removesuffix("、").to_numpy(dtype=object)


def _fill_criteria(frame: pd.DataFrame) -> pd.DataFrame:
    """Forward-fill the start criteria per compound: a criterion holds until reported."""
    for col in START_CRITERIA:
        if col not in frame:
            frame[col] = np.nan if col == "consent_rate" else pd.NA
    crit = frame[["key", *START_CRITERIA]].copy()
    crit["consent_rate"] = pd.to_numeric(crit["consent_rate"], errors="coerce")
    for col in BOOL_CRITERIA:
        crit[col] = crit[col].astype("boolean")
    frame[list(START_CRITERIA)] = crit.groupby("key", sort=False)[list(START_CRITERIA)].ffill()
    return frame


def compound_status(log: pd.DataFrame, *, as_of: DateLike | None = None) -> pd.DataFrame:
    """Return each compound's stage on *as_of*, derived from the log.

    The stage is the one of the latest report on or before the date (a later report that
    goes backwards wins, and is flagged by :func:`gisplan.progress.check_log`).

    Parameters
    ----------
    log : pandas.DataFrame
        ``progress_log`` rows; ``date`` in any date-like form.
    as_of : date-like, optional
        The day (inclusive); None means every row of the log.

    Returns
    -------
    pandas.DataFrame
        One row per compound with a report on or before *as_of*, indexed by ``key``
        (compound id, or ``county|name`` for units without geometry): ``compound_id``,
        ``compound_name``, ``county``, ``stage``, ``stage_zh``, ``stage_date``,
        ``started_date`` and ``completed_date`` (first report at or beyond; all three
        :class:`datetime.date` or None), ``started``, ``completed`` (bool), and the start
        criteria known at the first start report (forward filled), with ``start_ok``
        (True / False / NA when unknown) and ``start_unmet`` (the unmet criteria in
        Chinese).
    """
    frame = valid_rows(log)
    if as_of is not None:
        frame = frame[frame["date"] <= pd.Timestamp(require_date(as_of))]
    frame = _fill_criteria(frame)
    last = frame.groupby("key", sort=True).tail(1).set_index("key")
    out = pd.DataFrame(index=last.index)
    for col in ("compound_id", "compound_name", "county"):
        out[col] = last.get(col)
    out["stage"] = last["stage"]
    out["stage_zh"] = zh_many("stage", out["stage"])
    started_rows = frame[frame["rank"] >= STARTED].groupby("key", sort=False).head(1)
    started_rows = started_rows.set_index("key")
    completed_rows = frame[frame["rank"] >= COMPLETED].groupby("key").head(1).set_index("key")
    out["stage_date"] = to_dates(last["date"])
    out["started_date"] = to_dates(started_rows["date"].reindex(out.index))
    out["completed_date"] = to_dates(completed_rows["date"].reindex(out.index))
    rank = last["rank"]
    out["started"] = (rank >= STARTED).to_numpy()
    out["completed"] = (rank >= COMPLETED).to_numpy()
    at_start = started_rows[list(START_CRITERIA)].reindex(out.index)
    ok, unmet = criteria_ok(at_start)
    out[list(START_CRITERIA)] = at_start
    out["start_ok"] = ok.where(out["started_date"].notna(), pd.NA).astype("boolean")
    out["start_unmet"] = unmet.where(out["started_date"].notna(), "")
    return out


# --------------------------------------------------------------------------- summaries


def _planned_with_ids(compounds: pd.DataFrame) -> pd.DataFrame:
    """:func:`_planned`, refusing compounds without the ids the log is matched by.

    Raises
    ------
    SchemaError
        The compounds have no ``compound_id`` column.
    """
    comp = _planned(compounds)
    if "compound_id" not in comp:
        raise SchemaError("the compounds have no compound_id column, so the progress log "
                          "cannot be matched to them", layer="compounds",
                          column="compound_id",
                          hint="add a column 小区编号 (compound_id) to the compound list and "
                               "import it again")
    return comp


def _planned(compounds: pd.DataFrame) -> pd.DataFrame:
    """Compounds in the programme: status planned (or not given)."""
    comp = pd.DataFrame(compounds).drop(columns="geometry", errors="ignore")
    if "status" in comp:
        st = comp["status"].map(lambda v: term("compound_status", v))
        comp = comp[(st.isna() | st.eq("planned")).to_numpy()]
    return comp


def top_category(categories: pd.Series) -> pd.Series:
    """Highest renovation category of each compound (``basic;improvement`` → improvement).

    Categories are cumulative (国办发〔2020〕23号): a 完善类 compound also gets the 基础类
    works, so a compound is counted under the highest category it has. None where the
    compound has no known category.
    """
    order = {k: i for i, k in enumerate(vocab("category"))}
    keys = list(order)

    def top(cell: Any) -> str | None:
        ranks = [order[k] for k in str(cell).split(";") if k in order] if isinstance(
            cell, str) else []
        return keys[max(ranks)] if ranks else None

    return categories.map(top).astype(object)


def _log_only(status: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Return base rows of compounds known only from the log (units without geometry)."""
    keys = status.index[status["compound_id"].isna()]
    full = valid_rows(log)
    hh = (full.groupby("key")["households"].last().reindex(keys)
          if "households" in full else pd.Series(np.nan, index=keys))
    return pd.DataFrame({"key": keys, "county": status.loc[keys, "county"].to_numpy(),
                         "district": None,
                         "households": pd.to_numeric(hh, errors="coerce").to_numpy(),
                         "top_category": None})


def _district_of(comp: pd.DataFrame) -> Any:
    """片区 of each compound: its ``district``, else its ``street`` (所在街道), else None."""
    from gisplan.schema import level_from_column

    units, _ = level_from_column(comp, "district", reason="no 片区 column")
    return None if units is None else units.to_numpy(dtype=object)


def progress_base(compounds: pd.DataFrame, log: pd.DataFrame, *,
                  as_of: DateLike) -> pd.DataFrame:
    """One row per compound in the programme on *as_of*: unit, households, category, rank.

    Compounds with status planned (or none), plus compounds known only from the log
    (units without geometry, e.g. 经开区). ``rank`` is the position of the compound's
    stage in :data:`~gisplan.progress.terms.STAGES` (-1 before any report); ``started``,
    ``completed`` and ``flagged`` (a start that does not meet the start criteria) are bool.
    """
    comp = _planned_with_ids(compounds)
    status = compound_status(log, as_of=as_of)
    base = pd.DataFrame({
        "key": comp["compound_id"].astype(str).to_numpy(),
        "county": comp["county"].to_numpy() if "county" in comp else None,
        "district": _district_of(comp),
        "households": pd.to_numeric(comp["households"], errors="coerce").to_numpy(
            dtype=float) if "households" in comp else np.nan,
        "top_category": (top_category(comp["categories"]).to_numpy()
                         if "categories" in comp else None),
    })
    if status["compound_id"].isna().any():
        base = pd.concat([base, _log_only(status, log)], ignore_index=True)
    st = status.reindex(base["key"])
    base["rank"] = st["stage"].map(RANK).fillna(-1).astype(int).to_numpy()
    base["started"] = st["started"].fillna(False).astype(bool).to_numpy()
    base["completed"] = st["completed"].fillna(False).astype(bool).to_numpy()
    base["flagged"] = (base["started"] & ~st["start_ok"].fillna(False).astype(bool)
                       .to_numpy())
    return base


def unit_of(base: pd.DataFrame, by: str) -> pd.Series:
    """Return the unit of each base row at level *by*; ``（未注明）`` where not given."""
    col = level_column(by)
    return base[col].astype(object).where(base[col].notna(), "（未注明）")


_SUMMARY_COLS = ["unit", "compounds_planned", "households_planned", "compounds_started",
                 "households_started", "start_rate", "start_rate_households",
                 "compounds_completed", "households_completed", "completion_rate",
                 "completion_rate_households", "starts_flagged"]


def _rates(out: pd.DataFrame) -> pd.DataFrame:
    for c in ("compounds_planned", "compounds_started", "compounds_completed",
              "starts_flagged"):
        out[c] = out[c].astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["start_rate"] = out["compounds_started"] / out["compounds_planned"]
        out["start_rate_households"] = out["households_started"] / out["households_planned"]
        out["completion_rate"] = out["compounds_completed"] / out["compounds_planned"]
        out["completion_rate_households"] = (out["households_completed"]
                                             / out["households_planned"])
    for c in ("households_planned", "households_started", "households_completed"):
        out[c] = out[c].round().astype("Int64")  # NA where a unit reported no households
    return out[_SUMMARY_COLS]


def progress_summary(
    compounds: pd.DataFrame,
    log: pd.DataFrame,
    *,
    as_of: DateLike,
    by: Level = "county",
    total: bool = True,
) -> pd.DataFrame:
    """Compounds and households planned, started, completed per county or 片区 on a date.

    Parameters
    ----------
    compounds : pandas.DataFrame
        The programme's compounds (``compound_id``, ``county``, ``district``,
        ``households``); only those with status planned (or none) count.
    log : pandas.DataFrame
        ``progress_log`` rows.
    as_of : date-like
        The day (inclusive).
    by : {"county", "district"}, default "county"
        Group by county (县区) or 片区 (``"pianqu"`` and ``"片区"`` are read as
        ``"district"``).
    total : bool, default True
        Append a programme total row (unit ``合计``).

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``unit``, ``compounds_planned``, ``households_planned``,
        ``compounds_started``, ``households_started``, ``compounds_completed``,
        ``households_completed``, ``start_rate``, ``start_rate_households``,
        ``completion_rate``, ``completion_rate_households`` (shares 0–1, NaN where
        nothing is planned) and ``starts_flagged`` (starts that do not meet the start
        criteria, or whose criteria were not reported). Compounds reported by units
        without geometry (e.g. 经开区) count under their unit.

    Examples
    --------
    >>> comp = pd.DataFrame({"compound_id": ["A", "B"], "county": ["魏都区", "建安区"],
    ...                      "households": [100, 300]})
    >>> log = pd.DataFrame({"compound_id": ["A"], "date": ["2023-05-10"],
    ...                     "stage": ["started"]})
    >>> s = progress_summary(comp, log, as_of="2023-06-30")
    >>> s[["unit", "compounds_started", "start_rate_households"]].to_numpy().tolist()
    [['魏都区', 1, 1.0], ['建安区', 0, 0.0], ['合计', 1, 0.25]]
    """
    out = progress_series(compounds, log, [as_of], by=by, total=total)
    return out.drop(columns="date").reset_index(drop=True)


def progress_series(
    compounds: pd.DataFrame,
    log: pd.DataFrame,
    dates: Sequence[DateLike],
    *,
    by: Level = "county",
    total: bool = True,
) -> pd.DataFrame:
    """:func:`progress_summary` on each of *dates*, computed in one pass over the log.

    A log row decides its compound's stage from its own date until the compound's next
    report, so each row adds its compound's households to its unit over a range of the
    dates (a difference array per unit, summed along the dates): the cost is the log's
    length plus units × dates, not the log's length × dates. Progress curves and the
    maps' time slider ask for dozens of dates.

    Parameters
    ----------
    compounds, log
        As for :func:`progress_summary`.
    dates : sequence of date-like
        The days (inclusive), in any order.
    by, total
        As for :func:`progress_summary`.

    Returns
    -------
    pandas.DataFrame
        The :func:`progress_summary` columns after ``date`` (:class:`datetime.date`):
        for each date in the order given, its units as :func:`progress_summary` lists
        them on that date (and ``合计`` last with *total*).

    Examples
    --------
    >>> comp = pd.DataFrame({"compound_id": ["A", "B"], "county": ["魏都区", "建安区"],
    ...                      "households": [100, 300]})
    >>> log = pd.DataFrame({"compound_id": ["A", "B"], "date": ["2023-05-10", "2023-07-01"],
    ...                     "stage": ["started", "started"]})
    >>> s = progress_series(comp, log, ["2023-06-30", "2023-07-31"], total=False)
    >>> s[["date", "unit", "compounds_started"]].astype(str).to_numpy().tolist()
    [['2023-06-30', '魏都区', '1'], ['2023-06-30', '建安区', '0'], \
['2023-07-31', '魏都区', '1'], ['2023-07-31', '建安区', '1']]
    """
    days = [require_date(d) for d in dates]
    grid = np.array(sorted(set(days)), dtype="datetime64[ns]")
    comp = _planned_with_ids(compounds)
    level = level_column(by)
    planned = pd.DataFrame({
        "key": comp["compound_id"].astype(str).to_numpy(),
        "unit": _unit_values(comp["county"].to_numpy() if "county" in comp else None,
                             _district_of(comp), level, len(comp)),
        "households": pd.to_numeric(comp["households"], errors="coerce").to_numpy(
            dtype=float) if "households" in comp else np.full(len(comp), np.nan),
    })
    rows = _decisive_rows(valid_rows(log), grid)
    return _series_frame(planned, rows, grid, days, level, total)


def _unit_values(county: Any, district: Any, level: Level, n: int) -> np.ndarray:
    """Return the unit of each row at *level*; ``（未注明）`` where not given."""
    col = county if level == "county" else district
    values = pd.Series(col if col is not None else [None] * n, dtype=object)
    return values.where(values.notna(), "（未注明）").to_numpy(dtype=object)


def _decisive_rows(frame: pd.DataFrame, grid: np.ndarray) -> pd.DataFrame:
    """Each valid log row with the range ``[lo, hi)`` of *grid* dates it is the last on.

    *frame* is :func:`valid_rows` (sorted by key, date, log id); a row is its compound's
    last report on a date from its own date until the compound's next report. Adds
    ``started``, ``completed`` and ``flagged`` (a start whose criteria, at the compound's
    first start report, are not all met or not known: the same for every date on which
    the compound counts as started).
    """
    frame = _fill_criteria(frame)
    key = frame["key"].to_numpy(dtype=object)
    date = frame["date"].to_numpy(dtype="datetime64[ns]")
    same_next = np.r_[key[1:] == key[:-1], False]
    nxt = np.where(same_next, np.r_[date[1:], date[-1:]], np.datetime64("NaT"))
    lo = np.searchsorted(grid, date, side="left")
    hi = np.where(same_next, np.searchsorted(grid, nxt, side="left"), grid.size)
    rank = frame["rank"].to_numpy(dtype=float)
    started = rank >= STARTED
    first_start = frame[started].groupby("key", sort=False).head(1).set_index("key")
    ok, _ = criteria_ok(first_start[list(START_CRITERIA)])
    start_ok = ok.fillna(False).astype(bool).reindex(key).fillna(False).to_numpy(dtype=bool)
    out = pd.DataFrame({
        "key": key, "lo": lo, "hi": hi, "started": started,
        "completed": rank >= COMPLETED, "flagged": started & ~start_ok,
        "compound_id": frame["compound_id"].to_numpy(dtype=object)
        if "compound_id" in frame else None,
        "county": frame["county"].to_numpy(dtype=object) if "county" in frame else None,
    })
    hh = (frame.groupby("key")["households"].last() if "households" in frame
          else pd.Series(dtype=float))
    out["log_households"] = pd.to_numeric(hh.reindex(key), errors="coerce").to_numpy(
        dtype=float)
    return out[(out["hi"] > out["lo"]).to_numpy()]


def _series_frame(planned: pd.DataFrame, rows: pd.DataFrame, grid: np.ndarray,
                  days: list[Any], level: Level, total: bool) -> pd.DataFrame:
    """Sum the planned compounds and the decisive rows into units × dates."""
    n_dates = grid.size
    static_units = list(dict.fromkeys(planned["unit"].tolist()))
    # rows of planned compounds (a compound listed twice counts twice, as in the summary)
    hits = rows.merge(planned.reset_index(names="base"), on="key", how="inner",
                      suffixes=("", "_p"))
    # units known only from the log (no geometry): by the county of their last report
    only = rows[rows["compound_id"].isna().to_numpy()]
    only_units = _unit_values(only["county"].to_numpy(), None, level, len(only))
    static_set = set(static_units)
    units = static_units + [u for u in dict.fromkeys(only_units.tolist())
                            if u not in static_set]
    codes = pd.Index(units)
    # every decisive row adds to its unit over its dates: a planned compound's rows its
    # progress, a row of a unit known only from the log also the unit being planned
    unit = np.r_[codes.get_indexer(pd.Index(hits["unit"].to_numpy(dtype=object))),
                 codes.get_indexer(pd.Index(only_units))]
    lo = np.r_[hits["lo"].to_numpy(), only["lo"].to_numpy()]
    hi = np.r_[hits["hi"].to_numpy(), only["hi"].to_numpy()]
    raw_hh = np.r_[hits["households"].to_numpy(dtype=float),
                   only["log_households"].to_numpy(dtype=float)]
    hh = np.nan_to_num(raw_hh)
    log_only = np.r_[np.zeros(len(hits), dtype=bool), np.ones(len(only), dtype=bool)]
    started, completed, flagged = (
        np.r_[hits[name].to_numpy(dtype=bool), only[name].to_numpy(dtype=bool)]
        for name in ("started", "completed", "flagged"))

    def spread(value: np.ndarray) -> np.ndarray:
        diff = np.zeros((len(units), n_dates + 1))
        np.add.at(diff, (unit, lo), value)
        np.add.at(diff, (unit, hi), -value)
        return np.cumsum(diff, axis=1)[:, :n_dates]

    p_code = codes.get_indexer(pd.Index(planned["unit"].to_numpy(dtype=object)))
    p_hh = planned["households"].to_numpy(dtype=float)
    st_n = np.bincount(p_code, minlength=len(units)).astype(float)
    st_hh = np.bincount(p_code, weights=np.nan_to_num(p_hh), minlength=len(units))
    st_known = np.bincount(p_code, weights=~np.isnan(p_hh), minlength=len(units))
    known = st_known[:, None] + spread((log_only & ~np.isnan(raw_hh)).astype(float))
    planned_n = st_n[:, None] + spread(log_only.astype(float))
    planned_hh = np.where(known > 0, st_hh[:, None] + spread(np.where(log_only, hh, 0.0)),
                          np.nan)
    figures = {
        "compounds_planned": planned_n,
        "households_planned": planned_hh,
        "compounds_started": spread(started.astype(float)),
        "households_started": spread(np.where(started, hh, 0.0)),
        "compounds_completed": spread(completed.astype(float)),
        "households_completed": spread(np.where(completed, hh, 0.0)),
        "starts_flagged": spread(flagged.astype(float)),
    }
    # on each date: the planned compounds' units, then units known only from the log
    # that have a report by then, in the order of their first key (as the summary has)
    only_lo, only_hi = only["lo"].to_numpy(), only["hi"].to_numpy()
    by_key = np.argsort(only["key"].to_numpy(dtype=object), kind="stable")
    position = {d: j for j, d in enumerate(grid.astype("datetime64[D]").astype(object))}
    # the programme row (合计): units absent on a date hold zeros and NaN households, so
    # the sum over every unit is the sum over the units present (NaN when none is known)
    whole = len(units)
    for name, values in figures.items():
        known_any = (~np.isnan(values)).any(axis=0, keepdims=True)
        figures[name] = np.vstack([values, np.where(known_any, np.nansum(values, axis=0,
                                                                          keepdims=True),
                                                    np.nan)])
    row_unit: list[np.ndarray] = []
    row_date: list[np.ndarray] = []
    for k, day in enumerate(days):  # dozens of dates: which units each one lists
        j = position[day]
        here = by_key[(only_lo[by_key] <= j) & (only_hi[by_key] > j)]
        later = [int(codes.get_loc(u)) for u in dict.fromkeys(only_units[here].tolist())
                 if u not in static_set]
        present = np.r_[np.arange(len(static_units)), np.array(later, dtype=np.int64)]
        if total and len(present):
            present = np.r_[present, whole]
        row_unit.append(present)
        row_date.append(np.full(len(present), k))
    if not days:
        return pd.DataFrame(columns=["date", *_SUMMARY_COLS])
    at_unit, at_day = np.concatenate(row_unit), np.concatenate(row_date)
    col = np.array([position[d] for d in days])[at_day]
    out = pd.DataFrame({name: values[at_unit, col] for name, values in figures.items()})
    out.insert(0, "unit", np.array([*units, "合计"], dtype=object)[at_unit])
    out = _rates(out)
    out.insert(0, "date", np.array(days, dtype=object)[at_day])
    return out[["date", *_SUMMARY_COLS]]


# --------------------------------------------------------------------------- plan scope


@dataclass
class PlanScope:
    """The plan's stated total next to what the status counts, and why they differ.

    Attributes
    ----------
    stated_compounds, stated_households : int or None
        The totals the plan document states (``meta["targets"]``); None when not stated.
    listed : int
        Compounds in the programme's list.
    counted : int
        Compounds the status counts: status planned (纳入计划) or not given.
    not_counted : pandas.DataFrame
        Compounds listed but not counted, by reason: ``reason`` (code), ``reason_zh``,
        ``reason_en``, ``compounds``, ``households``.
    not_admitted : pandas.DataFrame
        Compounds counted although the rule set would not admit them (build year,
        prior central funding), by reason, same columns: the plan lists them, so they
        are counted; ``gisplan progress check`` lists them one by one.
    rules : str
        The rule set used, and why (:func:`gisplan.eligibility.programme_rules`).
    """

    stated_compounds: int | None
    stated_households: int | None
    listed: int
    counted: int
    not_counted: pd.DataFrame
    not_admitted: pd.DataFrame
    rules: str


def _by_reason(frame: pd.DataFrame, reason: pd.Series, zh_text: pd.Series,
               en_text: pd.Series) -> pd.DataFrame:
    hh = (pd.to_numeric(frame["households"], errors="coerce") if "households" in frame
          else pd.Series(np.nan, index=frame.index))
    table = pd.DataFrame({"reason": reason.astype(str), "reason_zh": zh_text.astype(str),
                          "reason_en": en_text.astype(str), "households": hh})
    out = table.groupby(["reason", "reason_zh", "reason_en"], sort=False, observed=True).agg(
        compounds=("households", "size"), households=("households", "sum"))
    out = out.reset_index().sort_values("compounds", ascending=False, kind="stable")
    out["households"] = out["households"].round().astype("Int64")
    return out.reset_index(drop=True)[["reason", "reason_zh", "reason_en", "compounds",
                                       "households"]]


def _stated(targets: Any, key: str) -> int | None:
    value = targets.get(key) if isinstance(targets, Mapping) else None
    try:
        return int(value) if value is not None and value == value else None
    except (TypeError, ValueError):
        return None


def plan_scope(compounds: pd.DataFrame, meta: Mapping[str, Any] | None = None) -> PlanScope:
    """Compare the plan's stated total with the compounds the status counts.

    Compounds whose status takes them out of the plan (拟拆除重建, 不纳入, 储备) are not
    counted; each is given its reason from the programme's rule set
    (:func:`gisplan.eligibility.programme_rules`). Compounds that are counted but that the
    rule set would not admit are listed separately (they are in the plan as stated).

    Parameters
    ----------
    compounds : pandas.DataFrame
        The programme's compounds.
    meta : mapping, optional
        The programme's metadata: ``targets`` (stated totals) and the rule set.

    Returns
    -------
    PlanScope

    Examples
    --------
    >>> comp = pd.DataFrame({"compound_id": ["A", "B", "C"], "built_year": [1990, 1995, 1980],
    ...                      "households": [100, 50, 20],
    ...                      "status": ["planned", "planned", "拟拆除"]})
    >>> s = plan_scope(comp, {"targets": {"compounds": 3}})
    >>> s.stated_compounds, s.counted, s.not_counted[["reason", "compounds"]].values.tolist()
    (3, 2, [['demolition', 1]])
    """
    from gisplan.eligibility import INELIGIBLE, classify, programme_rules

    meta = meta or {}
    choice = programme_rules(meta)
    comp = pd.DataFrame(compounds).drop(columns="geometry", errors="ignore")
    cls = classify(comp, rules=choice.rules)
    counted = comp.index.isin(_planned(comp).index)
    status = (comp["status"].map(lambda v: term("compound_status", v)) if "status" in comp
              else pd.Series(None, index=comp.index, dtype=object))
    by_status = ~counted & ~cls["eligibility_reason"].isin(["demolition", "excluded"])
    reason = cls["eligibility_reason"].astype(object).where(~by_status, status)
    zh_text = cls["reason_zh"].astype(object).where(
        ~by_status, status.map(lambda k: f"状态为{zh('compound_status', k)}，未纳入计划"
                               if isinstance(k, str) else "状态未知"))
    en_text = cls["reason_en"].astype(object).where(
        ~by_status, status.map(lambda k: f"status {k}: not in the plan"))
    out = ~counted
    odd = counted & cls["eligibility"].eq(INELIGIBLE).to_numpy()
    targets = meta.get("targets")
    return PlanScope(
        stated_compounds=_stated(targets, "compounds"),
        stated_households=_stated(targets, "households"),
        listed=len(comp), counted=int(counted.sum()),
        not_counted=_by_reason(comp[out], reason[out], zh_text[out], en_text[out]),
        not_admitted=_by_reason(comp[odd], cls["eligibility_reason"][odd],
                                cls["reason_zh"][odd], cls["reason_en"][odd]),
        rules=f"{choice.rules.name} ({choice.chosen_by})")
