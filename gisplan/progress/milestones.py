"""Milestones (节点目标): met, on track or behind on a date.

A milestone of the programme metadata — e.g. Xuchang's "all started by 30 June" —
measures the share of compounds, or of households, at or beyond a stage, and compares it
with its target and with the linear pace from the programme start.

Examples
--------
>>> import numpy as np
>>> state, expected = milestone_state(np.array([0.4, 0.6]), np.array([1.0, 1.0]),
...     as_of=np.datetime64("2023-04-01"), due=np.array(["2023-07-01"] * 2, "datetime64[D]"),
...     start=np.datetime64("2023-01-01"))
>>> state.tolist(), expected.round(2).tolist()
(['behind', 'on_track'], [0.5, 0.5])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from gisplan._errors import InputError
from gisplan.progress.dates import DateLike, parse_dates, require_date, to_dates
from gisplan.progress.status import progress_base, unit_of
from gisplan.progress.terms import RANK, STAGES, Level
from gisplan.schema import term, zh

__all__ = [
    "MEASURE_BASES",
    "MILESTONE_STATES_ZH",
    "MilestoneState",
    "measure_zh",
    "milestone_state",
    "milestone_status",
    "parse_measure",
]

#: how a milestone stands: reached, at or above the linear pace, or below it
MilestoneState = Literal["met", "on_track", "behind"]
MILESTONE_STATES_ZH: dict[str, str] = {"met": "已完成", "on_track": "按进度", "behind": "滞后"}

#: how a milestone measure counts: by compounds (每个小区计1) or by households (按户数)
MEASURE_BASES: dict[str, str] = {"compounds": "按小区", "households": "按户数"}
_MEASURE_RE = re.compile(r"^(?P<stage>[a-z_]+)_(?P<per>compounds|households)$")

_COLS = ["unit", "key", "milestone_zh", "due", "measure", "measure_zh", "target", "value",
         "expected", "state", "state_zh", "n_compounds"]


def parse_measure(measure: str) -> tuple[str, Literal["compounds", "households"]]:
    """Split a milestone measure into (stage, basis).

    A measure is ``<stage>_<compounds|households>``: the share of the programme's
    compounds (or of their households) at or beyond *stage* (a key of
    ``[vocab.stage]``), e.g. ``started_compounds``, ``completed_households``,
    ``accepted_compounds`` (竣工验收).

    Raises
    ------
    InputError
        The measure names no stage or no basis; the message lists the valid ones.

    Examples
    --------
    >>> parse_measure("accepted_households")
    ('accepted', 'households')
    """
    m = _MEASURE_RE.match(str(measure))
    if m is None or m["stage"] not in RANK:
        raise InputError(
            f"unknown milestone measure '{measure}'", layer="programme",
            column="milestones", value=measure,
            hint="write <stage>_compounds or <stage>_households with a stage among "
            + ", ".join(STAGES) + ", e.g. started_compounds, completed_households, "
            "accepted_compounds")
    per: Literal["compounds", "households"] = (
        "compounds" if m["per"] == "compounds" else "households")
    return m["stage"], per


def measure_zh(measure: str) -> str:
    """Chinese name of a milestone measure: ``accepted_compounds`` → ``验收率（按小区）``."""
    stage, per = parse_measure(measure)
    return f"{zh('stage', stage)}率（{MEASURE_BASES[per]}）"


def _category_scope(value: Any) -> frozenset[str] | None:
    """Categories a milestone is restricted to (``"basic"``, ``["basic", ...]``), or None."""
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return None
    parts = value if isinstance(value, (list, tuple)) else re.split(r"[;,、\s]+", str(value))
    keys = {term("category", v) for v in parts if str(v).strip()}
    if None in keys or not keys:
        raise InputError(f"unknown renovation category in milestone: {value!r}",
                         layer="programme", column="milestones", value=value,
                         hint="use basic (基础类), improvement (完善类) or upgrade (提升类)")
    return frozenset(k for k in keys if k is not None)


def milestone_state(value: np.ndarray, target: np.ndarray, *, as_of: np.datetime64,
                    due: np.ndarray, start: Any) -> tuple[np.ndarray, np.ndarray]:
    """Classify milestone progress: met, on track or behind (array core).

    A milestone is ``met`` when the value reaches the target. Before the due date it is
    ``on_track`` when the value reaches the linear pace from the programme start
    (``target × elapsed / duration``), otherwise ``behind``; after the due date an
    unmet milestone is ``behind``.

    Parameters
    ----------
    value, target : ndarray of float
        Achieved and target shares (0–1).
    as_of : numpy.datetime64
        The day of the status.
    due : ndarray of datetime64
        Due dates.
    start : numpy.datetime64 or ndarray of datetime64
        Where the pace starts at 0 (one date, or one per milestone).

    Returns
    -------
    state : ndarray of str
        :data:`MilestoneState` per milestone.
    expected : ndarray of float
        The share expected by *as_of* at linear pace.
    """
    value = np.nan_to_num(np.asarray(value, dtype=float))
    target = np.asarray(target, dtype=float)
    due = np.asarray(due, dtype="datetime64[D]")
    t0 = np.asarray(start, dtype="datetime64[D]")
    span = (due - t0).astype(float)
    elapsed = (np.asarray(as_of, dtype="datetime64[D]") - t0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip(np.where(span > 0, elapsed / span, 1.0), 0.0, 1.0)
    expected = target * frac
    state = np.where(value >= target - 1e-9, "met",
                     np.where(value >= expected - 1e-9, "on_track", "behind"))
    return state.astype(object), expected


def _specs(milestones: Sequence[dict[str, Any]], start: DateLike | None) -> pd.DataFrame:
    """Return the milestones as a frame: stage rank, basis, due date, pace start."""
    ms = pd.DataFrame(list(milestones))
    parsed = [parse_measure(m) for m in ms["measure"]]
    ms["stage_rank"] = [RANK[stage] for stage, _ in parsed]
    ms["per"] = [per for _, per in parsed]
    ms["due"] = parse_dates(ms["date"])
    t0 = (pd.Timestamp(require_date(start, what="programme start date")) if start is not None
          else pd.Timestamp(year=int(ms["due"].min().year), month=1, day=1))
    # a later stage is paced from the last milestone of an earlier stage due before it
    # (works cannot complete before they start): Xuchang's 70 % by 31 Oct is paced from
    # the 30 June start deadline, Guyuan's acceptance from the completion deadline
    ms["pace_from"] = [
        max(ms.loc[(ms["stage_rank"] < r).to_numpy() & (ms["due"] < due).to_numpy(), "due"],
            default=t0)
        for r, due in zip(ms["stage_rank"], ms["due"], strict=True)]
    return ms


def _counts(base: pd.DataFrame, ms: pd.DataFrame, *, per_unit: bool) -> pd.DataFrame:
    """Count compounds measured, planned and done per unit (and 合计) per milestone."""
    order = list(dict.fromkeys(base["unit"]))
    frames = []
    for i, spec in enumerate(ms.to_dict("records")):
        scope = _category_scope(spec.get("categories"))
        sub = base if scope is None else base[base["top_category"].isin(scope).to_numpy()]
        weight = (np.ones(len(sub)) if spec["per"] == "compounds"
                  else sub["households"].to_numpy(dtype=float))
        reached = sub["rank"].to_numpy() >= spec["stage_rank"]
        parts = pd.DataFrame({"unit": sub["unit"].to_numpy(), "n": 1, "planned": weight,
                              "done": np.where(reached, np.nan_to_num(weight), 0.0)})
        g = parts.groupby("unit", sort=False)
        rows = pd.DataFrame({"n": g["n"].sum(), "planned": g["planned"].sum(min_count=1),
                             "done": g["done"].sum()}) if per_unit else pd.DataFrame()
        rows.loc["合计", ["n", "planned", "done"]] = [
            len(sub), parts["planned"].sum(min_count=1), parts["done"].sum()]
        frames.append(rows.reset_index(names="unit").assign(row=i))
    out = pd.concat(frames, ignore_index=True)
    # unit by unit in the order of the summary, the programme total last
    unit_order = pd.Categorical(out["unit"], categories=[*order, "合计"]).codes
    return out.iloc[np.lexsort((out["row"].to_numpy(), unit_order))].reset_index(drop=True)


def milestone_status(
    compounds: pd.DataFrame,
    log: pd.DataFrame,
    milestones: Sequence[dict[str, Any]],
    *,
    as_of: DateLike,
    start: DateLike | None = None,
    by: Level | None = "county",
) -> pd.DataFrame:
    """Mark each milestone of the programme met, on track or behind on *as_of*.

    Parameters
    ----------
    compounds, log : pandas.DataFrame
        As for :func:`gisplan.progress.progress_summary`.
    milestones : sequence of dict
        ``{key, zh, date, measure, target[, categories]}`` from the programme metadata,
        e.g. Xuchang's ``{"key": "all_started", "date": "2023-06-30", "measure":
        "started_compounds", "target": 1.0}``. The measure is
        ``<stage>_<compounds|households>`` (:func:`parse_measure`): the share of
        compounds, or of households, at or beyond the stage — ``started``, ``completed``,
        ``accepted`` (竣工验收, Guyuan by 2022-11-30) or any other stage.
        ``categories`` restricts a milestone to the compounds whose *highest* renovation
        category is one of those given: Huai'an's "基础类改造的老旧小区 complete by
        2023-07-31" (``categories = "basic"``) measures the compounds that get basic works
        only, not those that also get 完善类 or 提升类 works (which take longer).
        Compounds without a category, or known only from the log, are left out of such a
        milestone.
    as_of : date-like
        The day of the status.
    start : date-like, optional
        Programme start for the linear pace; None means 1 January of the year of the
        earliest milestone. A milestone of a later stage is paced from the latest
        milestone of an earlier stage due before it (completion from the start deadline,
        acceptance from the completion deadline).
    by : {"county", "district"} or None, default "county"
        Also mark each unit; None means the programme only. A unit without compounds in a
        milestone's scope has no row for it.

    Returns
    -------
    pandas.DataFrame
        ``unit`` (``合计`` for the programme), ``key``, ``milestone_zh``, ``due``
        (:class:`datetime.date`), ``measure``, ``measure_zh``, ``target``, ``value``,
        ``expected``, ``state`` (:data:`MilestoneState`), ``state_zh`` and
        ``n_compounds`` (compounds the milestone measures in the unit).

    Raises
    ------
    InputError
        A measure or category is unknown, or the as-of date unreadable.
    """
    if not milestones:
        return pd.DataFrame(columns=_COLS)
    asof = pd.Timestamp(require_date(as_of))
    ms = _specs(milestones, start)
    base = progress_base(compounds, log, as_of=asof)
    base["unit"] = unit_of(base, by or "county")
    rows = _counts(base, ms, per_unit=by is not None)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (rows["done"] / rows["planned"]).to_numpy(dtype=float)
    m = ms.iloc[rows["row"].to_numpy()].reset_index(drop=True)
    state, expected = milestone_state(value, m["target"].to_numpy(dtype=float),
                                      as_of=np.datetime64(asof.date()),
                                      due=m["due"].to_numpy(dtype="datetime64[D]"),
                                      start=m["pace_from"].to_numpy(dtype="datetime64[D]"))
    out = pd.DataFrame({
        "unit": rows["unit"], "key": m["key"],
        "milestone_zh": m["zh"] if "zh" in m else m["key"],
        "due": to_dates(m["due"]), "measure": m["measure"],
        "measure_zh": m["measure"].map(measure_zh),
        "target": m["target"].astype(float), "value": value, "expected": expected,
        "state": state, "state_zh": [MILESTONE_STATES_ZH[s] for s in state],
        "n_compounds": rows["n"].astype("int64")})
    return out[_COLS].reset_index(drop=True)
