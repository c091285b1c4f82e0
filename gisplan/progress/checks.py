"""Checks of the log and the plan: contradictions and unmet start criteria (问题清单).

:func:`check_log` finds stages going backwards, completion before start, completion
without a start, dates after entry, starts that do not meet the start criteria (or whose
criteria were not reported), and lists the rows flagged at import. :func:`check_compounds`
lists the compounds the eligibility rules exclude or admit on conditions.

Examples
--------
>>> import pandas as pd
>>> log = pd.DataFrame({"compound_id": ["A", "A"], "date": ["2023-05-01", "2023-06-01"],
...                     "stage": ["completed", "started"]})
>>> check_log(log)["code"].tolist()
['completion_before_start', 'start_criteria_unknown', 'stage_backwards']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gisplan.findings import Severity
from gisplan.progress.dates import DateLike, parse_dates, require_date, to_dates
from gisplan.progress.status import compound_status, criteria_ok, joined_names, valid_rows
from gisplan.progress.terms import (
    CODES_ZH,
    COMPLETED,
    CONSENT_MIN,
    STAGES,
    START_CRITERIA,
    STARTED,
)
from gisplan.schema import zh, zh_many

__all__ = ["PROBLEM_COLUMNS", "check_compounds", "check_log"]

#: the columns of a problem list (:func:`check_log`, :func:`check_compounds`)
PROBLEM_COLUMNS = ["code", "problem_zh", "severity", "compound_id", "compound_name", "county",
                   "date", "stage", "detail", "source_file", "source_row", "log_id"]

#: import flags that :func:`check_log` lists again (rows left out of the status)
_IMPORT_FLAGS = ("compound_unknown", "compound_ambiguous", "unparseable_date",
                 "unparseable_stage", "unparseable_consent", "unparseable_criterion",
                 "unit_without_geometry")


def _problems(rows: pd.DataFrame, code: str, severity: Severity,
              detail: pd.Series | str) -> pd.DataFrame:
    """Return problem rows for *rows* of the log (one per row)."""
    stage = rows["stage"] if "stage" in rows else pd.Series(None, index=rows.index)
    return pd.DataFrame({
        "code": code, "problem_zh": CODES_ZH.get(code, code), "severity": severity,
        "compound_id": rows.get("compound_id"), "compound_name": rows.get("compound_name"),
        "county": rows.get("county"),
        "date": to_dates(rows["date"]) if "date" in rows else None,
        "stage": zh_many("stage", stage),
        "detail": detail, "source_file": rows.get("source_file"),
        "source_row": rows.get("source_row"), "log_id": rows.get("log_id")},
        index=rows.index)


def _stage_order_problems(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """List stages going backwards, completion before start, completion without start."""
    # the highest stage reported before each row (per compound; built-in group kernels)
    running = frame.groupby("key", sort=False)["rank"].cummax()
    prev_max = running.groupby(frame["key"], sort=False).shift(1)
    back = frame[frame["rank"] < prev_max]
    stage_zh = np.array([zh("stage", s) for s in STAGES], dtype=object)
    before = pd.Series(stage_zh[prev_max[back.index].to_numpy(dtype=int)], index=back.index)
    out = [_problems(back, "stage_backwards", "warning",
                     "此前已报" + before + "，本次报"
                     + zh_many("stage", back["stage"]).astype(str))]
    first_start = frame[frame["rank"] == STARTED].groupby("key")["date"].min()
    first_comp = frame[frame["rank"] >= COMPLETED].groupby("key", sort=False).head(1)
    fs = first_comp["key"].map(first_start)
    early = first_comp[fs.notna() & (first_comp["date"] < fs)]
    out.append(_problems(early, "completion_before_start", "warning",
                         "开工日期 " + fs[early.index].dt.strftime("%Y-%m-%d").astype(str)))
    nostart = first_comp[fs.isna() & ~first_comp["key"].isin(
        frame.loc[frame["rank"] == STARTED, "key"])]
    out.append(_problems(nostart, "completed_without_start", "warning",
                         "无开工记录，开工认定标准无法核实"))
    return out


def _start_problems(log: pd.DataFrame, frame: pd.DataFrame, *,
                    consent_min: float) -> list[pd.DataFrame]:
    """List starts whose criteria are unmet, or were not reported."""
    status = compound_status(log)
    started = status[status["started_date"].notna()]
    first_rows = frame[frame["rank"] >= STARTED].groupby("key", sort=False).head(1)
    first_rows = first_rows.set_index("key").loc[started.index]
    ok, unmet = criteria_ok(started[list(START_CRITERIA)], consent_min=consent_min)
    failed = ok.eq(False).fillna(False)
    consent = pd.to_numeric(started["consent_rate"], errors="coerce")[failed]
    rates = {v: f"{v:.0%}" for v in pd.unique(consent.dropna())}  # once per rate
    detail = (unmet[failed].astype(str) + "（同意率 "
              + consent.map(rates).fillna("未填").astype(str) + "）")
    out = [_problems(first_rows[failed.to_numpy()].reset_index(), "start_criteria_unmet",
                     "warning", detail.reset_index(drop=True))]
    missing = started.loc[ok.isna(), list(START_CRITERIA)].isna()
    out.append(_problems(first_rows[ok.isna().to_numpy()].reset_index(),
                         "start_criteria_unknown", "info",
                         pd.Series("未填报：" + joined_names(missing.to_numpy(dtype=bool)),
                                   dtype=object)))
    return out


def _future_problems(frame: pd.DataFrame, today: DateLike | None) -> pd.DataFrame:
    """List rows dated after *today*, or after their entry time when *today* is None."""
    if today is not None:
        limit = pd.Series(pd.Timestamp(require_date(today, what="today")), index=frame.index)
    elif "entered_at" in frame:
        limit = parse_dates(frame["entered_at"])
    else:
        limit = pd.Series(pd.Timestamp.now().normalize(), index=frame.index)
    fut = frame[frame["date"] > limit]
    return _problems(fut, "future_date", "warning", "日期晚于录入日期 " + limit[fut.index]
                     .dt.strftime("%Y-%m-%d").fillna("").astype(str))


def _flagged_rows(log: pd.DataFrame) -> list[pd.DataFrame]:
    """List rows that carry an import flag (left out of the status), one per flag."""
    rows = pd.DataFrame(log)
    if "flags" not in rows or not len(rows):
        return []
    flags = ";" + rows["flags"].fillna("").astype(str) + ";"  # a flag is ";code;"
    out = []
    for code in _IMPORT_FLAGS:
        hit = rows[flags.str.contains(f";{code};", regex=False).to_numpy(dtype=bool)]
        if len(hit):
            out.append(_problems(hit, code, "info" if code == "unit_without_geometry"
                                 else "warning",
                                 hit["note"].fillna("").astype(str) if "note" in hit else ""))
    return out


def check_log(log: pd.DataFrame, *, consent_min: float = CONSENT_MIN,
              today: DateLike | None = None) -> pd.DataFrame:
    """Find contradictions and unmet start criteria in the log.

    Parameters
    ----------
    log : pandas.DataFrame
        ``progress_log`` rows.
    consent_min : float, default 0.8
        Smallest consent rate for a start (许昌: 80 %).
    today : date-like, optional
        Rows dated after it are ``future_date``; None means each row's ``entered_at``
        (or today where the log has no entry times).

    Returns
    -------
    pandas.DataFrame
        One row per problem (:data:`PROBLEM_COLUMNS`): ``code``, ``problem_zh``,
        ``severity``, ``compound_id``, ``compound_name``, ``county``, ``date``
        (:class:`datetime.date`), ``stage`` (in Chinese), ``detail``, ``source_file``,
        ``source_row``, ``log_id``. Codes: ``stage_backwards``,
        ``completion_before_start``, ``completed_without_start``, ``future_date``,
        ``start_criteria_unmet``, ``start_criteria_unknown`` and the import flags
        (``compound_unknown``, ``compound_ambiguous``, ``unparseable_*``, ...).
    """
    frame = valid_rows(log)
    problems: list[pd.DataFrame] = []
    if len(frame):
        problems += _stage_order_problems(frame)
        problems += _start_problems(log, frame, consent_min=consent_min)
        problems.append(_future_problems(frame, today))
    problems += _flagged_rows(log)
    problems = [p for p in problems if len(p)]
    if not problems:
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    out = pd.concat(problems, ignore_index=True)
    # sort by date in its computing form; the column stays datetime.date
    order = out.assign(_day=parse_dates(out["date"])).sort_values(
        ["county", "compound_name", "_day", "code"], na_position="last", kind="stable").index
    return out.loc[order].reset_index(drop=True)


def _problem(code: str, severity: Severity, detail: str, *, problem_zh: str | None = None,
             compound_id: Any = None, compound_name: Any = None,
             county: Any = None) -> dict[str, Any]:
    return {"code": code, "problem_zh": problem_zh or CODES_ZH[code], "severity": severity,
            "compound_id": compound_id, "compound_name": compound_name, "county": county,
            "date": None, "stage": None, "detail": detail, "source_file": None,
            "source_row": None, "log_id": None}


def check_compounds(compounds: pd.DataFrame, *, rules: Any = None) -> pd.DataFrame:
    """Eligibility problems (:mod:`gisplan.eligibility`) as problem rows.

    Parameters
    ----------
    compounds : pandas.DataFrame
        The programme's compounds.
    rules : str or gisplan.eligibility.Rules, optional
        Rule set (``rules.toml``) or its name; None means the default rule set.

    Returns
    -------
    pandas.DataFrame
        Columns as :func:`check_log`; codes ``eligibility`` (ineligible compounds, and
        2001–2005 compounds as info) and ``cap_2001_2005_exceeded`` (programme level).
    """
    from gisplan.eligibility import CONDITIONAL, INELIGIBLE, cap_share, classify, load_rules

    r = rules if rules is not None and not isinstance(rules, str) else load_rules(rules)
    cls = classify(compounds, rules=r)
    comp = pd.DataFrame(compounds)
    sel = cls["eligibility"].isin([INELIGIBLE, CONDITIONAL]).to_numpy()
    out = (cls["eligibility"].to_numpy()[sel] == INELIGIBLE).tolist()
    n = len(out)

    def column(name: str) -> list[Any]:
        return comp[name].to_numpy(dtype=object)[sel].tolist() if name in comp else [None] * n

    rows: dict[str, list[Any]] = {
        "code": ["eligibility"] * n,
        "problem_zh": [CODES_ZH["eligibility"] if o else "附条件纳入（2001—2005年建成）"
                       for o in out],
        "severity": ["warning" if o else "info" for o in out],
        "compound_id": column("compound_id"), "compound_name": column("name"),
        "county": column("county"),
        "detail": [str(v) for v in cls["reason_zh"].to_numpy(dtype=object)[sel]]}
    for col in PROBLEM_COLUMNS:
        rows.setdefault(col, [None] * n)
    hh = pd.to_numeric(comp.get("households", pd.Series(np.nan, index=comp.index)),
                       errors="coerce").to_numpy(dtype=float)
    share = cap_share(hh, cls["eligibility"].to_numpy())
    if share > r.household_cap_2001_2005 + 1e-9:
        cap = _problem("cap_2001_2005_exceeded", "warning",
                       f"2001—2005年建成小区户数占比 {share:.1%}，上限 "
                       f"{r.household_cap_2001_2005:.0%}")
        for col in PROBLEM_COLUMNS:
            rows[col].append(cap[col])
    # built from columns as the row loop built it from records: the same dtypes
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS) if len(rows["code"]) \
        else pd.DataFrame([], columns=PROBLEM_COLUMNS)
