"""Plan checks: 报大建小 (accepted scope below planned scope) and per-project completeness.

* **报大建小** (Guyuan 二(2): 严禁出现报大建小). The progress log records, on an
  acceptance row (stage ``accepted``), the items accepted in a column ``accepted_items``
  (same vocabulary as ``planned_items``: ``屋面、外墙、供水``). A compound whose accepted
  items miss planned ones is flagged ``accepted_scope_smaller`` with the items missing.
* **Completeness** (Xuchang 三(一)): every project must have its 改造内容
  (``planned_items``), 资金概算 (estimate), 资金来源 (funding), 建设单位
  (``builder_unit``), 监管责任单位 (``supervisor_unit``) and 责任人
  (``supervisor_person``). Each project lacking one is listed.

Examples
--------
>>> import pandas as pd
>>> from gisplan.plan_checks import scope_check
>>> c = pd.DataFrame({"compound_id": ["A", "B"], "planned_items": ["屋面、外墙", "屋面"]})
>>> log = pd.DataFrame({"compound_id": ["A", "B"], "stage": ["accepted", "accepted"],
...                     "accepted_items": ["屋面", "屋面"]})
>>> r = scope_check(c, log)
>>> r.frame[["compound_id", "scope_status", "missing_zh"]].values.tolist()
[['A', 'smaller', '外墙'], ['B', 'complete', '']]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gisplan.design import design_rules, parse_items
from gisplan.findings import Finding, Report, add_flags
from gisplan.sources import ProgrammeLike, as_project, read_layers

__all__ = ["RESPONSIBILITY_FIELDS", "CheckResult", "completeness_check", "plan_checks_project",
           "scope_check"]

#: Per-project responsibility columns on ``compounds`` (Xuchang 三(一)) and their names.
RESPONSIBILITY_FIELDS = {"builder_unit": "建设单位", "supervisor_unit": "监管责任单位",
                         "supervisor_person": "责任人"}


@dataclass
class CheckResult:
    """A check's table (one row per compound, index kept) and its findings."""

    frame: pd.DataFrame
    report: Report


def _items(values: pd.Series) -> list[list[str]]:
    return [parse_items(v)[0] for v in values.tolist()]


def scope_check(compounds: pd.DataFrame, progress_log: pd.DataFrame | None) -> CheckResult:
    """Flag compounds whose accepted scope is smaller than the planned scope (报大建小).

    Parameters
    ----------
    compounds : DataFrame
        ``compound_id``, ``planned_items``.
    progress_log : DataFrame or None
        ``compound_id``, ``stage`` and ``accepted_items`` (the items accepted, on rows
        of stage ``accepted``; several rows are united). No column: nothing to check,
        one ``accepted_items_not_recorded`` info finding.

    Returns
    -------
    CheckResult
        ``compound_id``, ``name``, ``planned_n``, ``accepted_n``, ``scope_status``
        (``smaller`` / ``complete`` / ``not_recorded`` / ``not_accepted``),
        ``missing_items``, ``missing_zh``, ``unplanned_items``, ``flags``.
    """
    rep = Report()
    rules = design_rules()
    cid = compounds["compound_id"].astype(str)
    planned = _items(compounds.get("planned_items", pd.Series(None, index=compounds.index)))
    log = progress_log if progress_log is not None else pd.DataFrame()
    # an empty column (the schema adds it to every store) records nothing either
    recorded = "accepted_items" in log and not _blank(log["accepted_items"]).all()
    if not recorded:
        rep.add(Finding("info", "accepted_items_not_recorded",
                        "the progress log records no accepted items ('accepted_items'); "
                        "报大建小 cannot be checked", layer="progress_log",
                        column="accepted_items",
                        hint="record the accepted items (验收内容) on each acceptance row"))
    acc_rows = log[log["stage"].astype(str).isin(["accepted", "验收"])] if len(log) else log
    accepted: dict[str, list[str]] = {}
    stage_ok = set(acc_rows["compound_id"].astype(str)) if len(acc_rows) else set()
    if recorded and len(acc_rows):
        for c, text in zip(acc_rows["compound_id"].astype(str), acc_rows["accepted_items"],
                           strict=True):
            if _blank(pd.Series([text])).iloc[0]:
                continue  # a blank cell records nothing: not "nothing accepted"
            got = accepted.setdefault(c, [])
            got.extend(k for k in parse_items(text)[0] if k not in got)
    rows = []
    for c, plan in zip(cid, planned, strict=True):
        acc = accepted.get(c)
        miss = [k for k in plan if acc is not None and k not in acc]
        extra = [k for k in (acc or []) if k not in plan]
        status = ("not_accepted" if c not in stage_ok else "not_recorded" if acc is None
                  else "smaller" if miss else "complete")
        rows.append((c, len(plan), np.nan if acc is None else len(acc), status,
                     ";".join(miss), "、".join(rules.zh(k) for k in miss), ";".join(extra)))
    out = pd.DataFrame(rows, index=compounds.index, columns=[
        "compound_id", "planned_n", "accepted_n", "scope_status", "missing_items",
        "missing_zh", "unplanned_items"])
    if "name" in compounds:
        out.insert(1, "name", compounds["name"])
    small = out["scope_status"].eq("smaller").to_numpy()
    add_flags(out, small, "accepted_scope_smaller")
    rep.add_capped((Finding(
        "warning", "accepted_scope_smaller", f"accepted scope is smaller than planned "
        f"(报大建小): {r.missing_zh} not accepted", layer="progress_log", row=r.compound_id,
        column="accepted_items", value=r.missing_items,
        hint="build and accept the planned items, or change the plan through the approval "
        "procedure") for r in out[small].itertuples()), total=int(small.sum()))
    return CheckResult(out, rep)


def _blank(values: Any) -> pd.Series:
    s = pd.Series(values)
    return s.isna() | s.astype(str).str.strip().isin(["", "nan", "None", "<NA>"])


def completeness_check(compounds: pd.DataFrame, *, estimates: pd.DataFrame | None = None,
                       funding: pd.DataFrame | None = None) -> CheckResult:
    """List every project lacking content, estimate, funding or a responsible unit/person.

    Parameters
    ----------
    compounds : DataFrame
        ``compound_id``, ``planned_items`` and the :data:`RESPONSIBILITY_FIELDS` columns
        (absent columns count as blank for every project).
    estimates : DataFrame, optional
        ``compound_id``, ``estimate_wan_yuan`` (:mod:`gisplan.costs`); ``None``: no
        project has an estimate.
    funding : DataFrame, optional
        ``compound_id``, ``funding_total_wan_yuan`` (:mod:`gisplan.funding`).

    Returns
    -------
    CheckResult
        ``compound_id``, ``name``, one boolean ``has_<part>`` column per part,
        ``missing`` (Chinese names, ``、``-separated), ``complete``, ``flags``.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"compound_id": ["A"], "planned_items": ["屋面"],
    ...                   "builder_unit": ["区住建局"], "supervisor_unit": [""],
    ...                   "supervisor_person": ["张三"]})
    >>> completeness_check(c).frame.loc[0, "missing"]
    '资金概算、资金来源、监管责任单位'
    """
    rep = Report()
    cid = compounds["compound_id"].astype(str)
    out = pd.DataFrame({"compound_id": cid}, index=compounds.index)
    if "name" in compounds:
        out["name"] = compounds["name"]
    parts: dict[str, tuple[str, pd.Series]] = {
        "content": ("改造内容", ~_blank(compounds.get("planned_items",
                                                     pd.Series(None, index=out.index)))),
        "estimate": ("资金概算", _amount(cid, estimates, "estimate_wan_yuan")),
        "funding": ("资金来源", _amount(cid, funding, "funding_total_wan_yuan")),
    }
    for col, zh_name in RESPONSIBILITY_FIELDS.items():
        v = compounds[col] if col in compounds else pd.Series(None, index=out.index)
        parts[col] = (zh_name, ~_blank(v))
    for key, (_, ok) in parts.items():
        out[f"has_{key}"] = np.asarray(ok, dtype=bool)
    has = out[[f"has_{k}" for k in parts]].to_numpy()
    names = [z for z, _ in parts.values()]
    out["missing"] = ["、".join(n for n, h in zip(names, row, strict=True) if not h)
                      for row in has]
    out["complete"] = pd.Series(has.all(axis=1), index=out.index)
    add_flags(out, ~out["complete"].to_numpy(), "project_incomplete")
    bad = out[~out["complete"]]
    rep.add_capped((Finding(
        "warning", "project_incomplete", f"project lacks {r.missing}", layer="compounds",
        row=r.compound_id, value=r.missing, hint="fill in 改造内容 (planned_items), run "
        "gisplan estimate, and give 建设单位 (builder_unit), 监管责任单位 (supervisor_unit) "
        "and 责任人 (supervisor_person)") for r in bad.itertuples()), total=len(bad))
    return CheckResult(out, rep)


def _amount(cid: pd.Series, table: pd.DataFrame | None, column: str) -> pd.Series:
    if table is None or column not in table:
        return pd.Series(False, index=cid.index)
    m = dict(zip(table["compound_id"].astype(str), pd.to_numeric(table[column]),
                 strict=False))
    return cid.map(m).fillna(0).gt(0)


def plan_checks_project(source: ProgrammeLike) -> dict[str, CheckResult]:
    """Run both checks on a programme (uses stored ``estimates`` / ``funding`` if any).

    Returns
    -------
    dict
        ``{"scope": CheckResult, "completeness": CheckResult}``.

    Examples
    --------
    >>> r = plan_checks_project("layers/guyuan_2022.gpkg")
    >>> r["scope"].frame["scope_status"].unique().tolist()
    ['not_recorded']
    >>> int(r["completeness"].frame["complete"].sum())
    0
    """
    p = as_project(source)
    layers = read_layers(p, ["compounds"], optional=["progress_log", "estimates", "funding"])
    return {"scope": scope_check(layers["compounds"], layers["progress_log"]),
            "completeness": completeness_check(layers["compounds"],
                                               estimates=layers["estimates"],
                                               funding=layers["funding"])}
