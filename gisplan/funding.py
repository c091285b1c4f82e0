"""Funding by source (资金来源) per project and per bundle, by rules that are data.

The Guyuan plan (四) says what pays for what: building works mainly from the central
special subsidy; infrastructure outside the buildings from the regional and central
budget-investment subsidies; local matching from the district budget and bonds; and
social capital for parking, charging, retail and parcel facilities, run by whoever
invests. Xuchang (五(三)) adds special bonds, credit, utility companies (专营单位) and
residents' shares. ``data/funding_rules.toml`` writes this down: per group of items, a
split of the cost over sources, each source tied to the line of the programme's stated
budget it is counted in.

:func:`fund_items` splits every estimated item; :func:`funding_by_project` sums per
project (compound) and bundle; :func:`reconcile_funding` compares the sums with the
programme's stated sources (Guyuan: 9,381.269 + 8,427.411 = 17,808.68万元) and reports
each difference as a finding.

Examples
--------
>>> import pandas as pd
>>> from gisplan.funding import fund_items, load_funding_rules
>>> items = pd.DataFrame({"compound_id": ["A", "A"], "item": ["walls", "parking"],
...                       "cost_yuan": [1_000_000.0, 300_000.0]})
>>> f = fund_items(items, load_funding_rules())
>>> f.groupby("source")["amount_yuan"].sum().to_dict()
{'central_subsidy': 800000.0, 'local_budget_bonds': 200000.0, 'social_capital': 300000.0}
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import InputError
from gisplan.costs import WAN, EstimateResult, data_toml, estimate_project
from gisplan.design import design_rules
from gisplan.findings import Finding, Report
from gisplan.sources import ProgrammeLike, as_project

__all__ = ["FundingResult", "FundingRules", "fund_items", "funding_by_project",
           "funding_project", "load_funding_rules", "reconcile_funding"]


@dataclass(frozen=True)
class FundingRules:
    """Funding sources and the item → split rules.

    Attributes
    ----------
    sources : dict
        Source key -> ``{"zh": ..., "stated": stated-budget key or ""}``, in file order.
    split_of : dict
        Item key -> ``{source: share}`` (shares add up to 1, remainder included).
    rule_of : dict
        Item key -> the name of the rule that priced it (``default`` for the rest).
    rules : pandas.DataFrame
        One row per rule: ``name``, ``zh``, ``items``, ``split``, ``source``,
        ``illustrative``.
    file : str
    """

    sources: dict[str, dict[str, str]]
    split_of: dict[str, dict[str, float]]
    rule_of: dict[str, str]
    default: dict[str, float]
    rules: pd.DataFrame
    file: str

    def split(self, item: str) -> dict[str, float]:
        """Return the split of *item* (the default split for an item in no rule)."""
        return self.split_of.get(item, self.default)


def _check_split(split: Any, where: str, sources: dict[str, Any], remainder: str,
                 file: str) -> dict[str, float]:
    """Validate one ``split`` table; fill the remainder up to 1."""
    if not isinstance(split, dict) or not split:
        raise InputError("a rule needs a split table", file=file, column=where,
                         value=split, hint="write split = { central_subsidy = 0.6, ... }")
    out: dict[str, float] = {}
    for src, share in split.items():
        if src not in sources:
            close = difflib.get_close_matches(src, list(sources), n=3)
            raise InputError("unknown funding source", file=file, column=f"{where}.{src}",
                             value=src, hint=("did you mean " + ", ".join(close)) if close
                             else "declare it under [sources." + src + "]")
        if not isinstance(share, int | float) or share < 0 or share > 1:
            raise InputError("a share must be a number from 0 to 1", file=file,
                             column=f"{where}.{src}", value=share,
                             hint="write shares as fractions (0.3 for 30 %)")
        out[src] = float(share)
    total = sum(out.values())
    if total > 1 + 1e-9:
        raise InputError(f"the split adds up to {total:.0%}, above 100 %", file=file,
                         column=where, value=split,
                         hint="lower the shares so that they add up to 1 (100 %)")
    if total < 1 - 1e-9:
        out[remainder] = out.get(remainder, 0.0) + 1 - total
    return out


def load_funding_rules(path: str | Path | None = None) -> FundingRules:
    """Read and check funding rules (default: the shipped ``data/funding_rules.toml``).

    Raises
    ------
    InputError
        Naming the file and key (``rules[2].split.residents``), the value and a fix, for
        a split above 100 %, a negative share, an unknown source or item, or an item in
        two rules.

    Examples
    --------
    >>> r = load_funding_rules()
    >>> r.split("walls"), r.rule_of["parking"]
    ({'central_subsidy': 0.8, 'local_budget_bonds': 0.2}, 'social_capital_facilities')
    """
    doc, file = data_toml(path, "funding_rules.toml")
    sources = {str(k): {"zh": str(v.get("zh", k)), "stated": str(v.get("stated", ""))}
               for k, v in doc.get("sources", {}).items()}
    remainder = str(doc.get("remainder", ""))
    if remainder not in sources:
        raise InputError("the remainder source is not declared", file=file,
                         column="remainder", value=remainder,
                         hint="set remainder to one of " + ", ".join(sources))
    known = set(design_rules().table["item"])
    split_of: dict[str, dict[str, float]] = {}
    rule_of: dict[str, str] = {}
    rows = []
    for i, rule in enumerate(doc.get("rules", [])):
        where = f"rules[{i}]"
        name = str(rule.get("name", where))
        split = _check_split(rule.get("split"), f"{where}.split", sources, remainder, file)
        for item in rule.get("items", []):
            if item not in known:
                close = difflib.get_close_matches(str(item), sorted(known), n=3)
                raise InputError("unknown item in a funding rule", file=file,
                                 column=f"{where}.items", value=item,
                                 hint=("did you mean " + ", ".join(close)) if close
                                 else "use item keys of data/design_completeness.csv")
            if item in rule_of:
                raise InputError(f"item already split by rule '{rule_of[item]}'", file=file,
                                 column=f"{where}.items", value=item,
                                 hint="keep each item in one rule")
            split_of[item], rule_of[item] = split, name
        rows.append({"name": name, "zh": rule.get("zh", name),
                     "items": ";".join(rule.get("items", [])), "split": split,
                     "source": rule.get("source", ""),
                     "illustrative": bool(rule.get("illustrative", True))})
    d = doc.get("default", {})
    default = _check_split(d.get("split"), "default.split", sources, remainder, file)
    rows.append({"name": "default", "zh": d.get("zh", "default"), "items": "",
                 "split": default, "source": d.get("source", ""),
                 "illustrative": bool(d.get("illustrative", True))})
    return FundingRules(sources, split_of, rule_of, default, pd.DataFrame(rows), file)


def fund_items(items: pd.DataFrame, rules: FundingRules) -> pd.DataFrame:
    """Split every item's cost over sources.

    Parameters
    ----------
    items : DataFrame
        ``compound_id``, ``item``, ``cost_yuan`` (e.g. ``EstimateResult.items``).
    rules : FundingRules

    Returns
    -------
    DataFrame
        One row per compound, item and source with a share: ``compound_id``, ``item``,
        ``rule``, ``source``, ``source_zh``, ``share``, ``amount_yuan``.
    """
    recs = []
    for cid, item, cost in zip(items["compound_id"].astype(str), items["item"].astype(str),
                               items["cost_yuan"].astype(float), strict=True):
        for src, share in rules.split(item).items():
            recs.append((cid, item, rules.rule_of.get(item, "default"), src,
                         rules.sources[src]["zh"], share, round(cost * share, 2)))
    return pd.DataFrame(recs, columns=["compound_id", "item", "rule", "source", "source_zh",
                                       "share", "amount_yuan"])


def funding_by_project(estimates: pd.DataFrame, funded: pd.DataFrame, rules: FundingRules,
                       *, by: str = "compound_id") -> pd.DataFrame:
    """One row per project (or bundle): ``funding_<source>_wan_yuan`` per source.

    Parameters
    ----------
    estimates : DataFrame
        ``compound_id``, ``estimate_wan_yuan`` and, for bundles, ``bundle_id``.
    funded : DataFrame
        From :func:`fund_items`.
    rules : FundingRules
    by : {"compound_id", "bundle_id"}, default "compound_id"

    Returns
    -------
    DataFrame
        *by*, ``estimate_wan_yuan``, one column per source, ``funding_total_wan_yuan``,
        ``funding_gap_wan_yuan`` (estimate − funding; 0 when the split covers all).
    """
    key = estimates[["compound_id", by]].astype({"compound_id": str}).drop_duplicates(
        "compound_id") if by != "compound_id" else None
    f = funded if key is None else funded.merge(key, on="compound_id", how="left")
    wide = f.pivot_table(index=by, columns="source", values="amount_yuan", aggfunc="sum",
                         fill_value=0.0)
    est = estimates.groupby(estimates[by].astype(str) if by == "compound_id"
                            else estimates[by])["estimate_wan_yuan"].sum()
    out = pd.DataFrame({by: est.index, "estimate_wan_yuan": est.round(4).to_numpy()})
    total = np.zeros(len(out))
    for src in rules.sources:
        col = wide[src] if src in wide else pd.Series(dtype=float)
        v = col.reindex(out[by]).fillna(0.0).to_numpy() / WAN
        out[f"funding_{src}_wan_yuan"] = np.round(v, 4)
        total += v
    out["funding_total_wan_yuan"] = np.round(total, 4)
    out["funding_gap_wan_yuan"] = np.round(out["estimate_wan_yuan"] - total, 4)
    return out


def reconcile_funding(projects: pd.DataFrame, budget: list[dict[str, Any]],
                      rules: FundingRules, *, file: str | None = None
                      ) -> tuple[pd.DataFrame, Report]:
    """Compare funding per source with the programme's stated budget lines.

    Parameters
    ----------
    projects : DataFrame
        From :func:`funding_by_project`.
    budget : list of dict
        The programme meta ``budget``: ``source``, ``zh``, ``amount_wan_yuan``.
    rules : FundingRules
    file : str, optional
        Named in findings.

    Returns
    -------
    (DataFrame, Report)
        One row per stated line (and one ``unstated`` row for sources counted in no
        stated line): ``stated_source``, ``stated_zh``, ``stated_wan_yuan``,
        ``planned_wan_yuan``, ``difference_wan_yuan``, ``sources``; findings
        ``funding_mismatch`` (warning) per line that differs by more than 0.01万元 and
        ``funding_unstated`` (info).
    """
    rep = Report()
    rows = []
    for line in budget:
        key = str(line.get("source"))
        srcs = [s for s, v in rules.sources.items() if v["stated"] == key]
        planned = float(sum(projects[f"funding_{s}_wan_yuan"].sum() for s in srcs))
        stated = float(line.get("amount_wan_yuan") or 0.0)
        rows.append((key, line.get("zh", key), stated, round(planned, 4),
                     round(planned - stated, 4), ";".join(srcs)))
        if abs(planned - stated) > 0.01:
            rep.add(Finding("warning", "funding_mismatch",
                            f"{line.get('zh', key)}: the rules put {planned:,.4f}万元 on it, "
                            f"the plan states {stated:,.4f}万元 (difference "
                            f"{planned - stated:+,.4f}万元)", file=file, column="budget",
                            value=key, hint="adjust the shares in funding_rules.toml or the "
                            "stated budget (gisplan programme set)"))
    stated_keys = {str(b.get("source")) for b in budget}
    other = [s for s, v in rules.sources.items() if v["stated"] not in stated_keys]
    amount = float(sum(projects[f"funding_{s}_wan_yuan"].sum() for s in other))
    if other:
        rows.append(("unstated", "计划外资金（未列入批复资金来源）", 0.0, round(amount, 4),
                     round(amount, 4), ";".join(other)))
    if amount > 0.01:
        rep.add(Finding("info", "funding_unstated",
                        f"{amount:,.4f}万元 come from sources the plan does not state "
                        f"({'、'.join(rules.sources[s]['zh'] for s in other)})", file=file,
                        column="budget", hint="list them in the programme's budget if the "
                        "plan counts them"))
    cols = ["stated_source", "stated_zh", "stated_wan_yuan", "planned_wan_yuan",
            "difference_wan_yuan", "sources"]
    return pd.DataFrame(rows, columns=cols), rep


@dataclass
class FundingResult:
    """What :func:`funding_project` returns.

    Attributes
    ----------
    projects : DataFrame
        Per compound (store table ``funding``), see :func:`funding_by_project`.
    bundles : DataFrame
        Per bundle (store table ``funding_bundles``).
    items : DataFrame
        Per compound, item and source (store table ``funding_items``).
    reconciliation : DataFrame
        Per stated budget line (store table ``funding_reconciliation``).
    estimate : EstimateResult
        The estimate the funding splits.
    report : Report
    """

    projects: pd.DataFrame
    bundles: pd.DataFrame
    items: pd.DataFrame
    reconciliation: pd.DataFrame
    estimate: EstimateResult
    report: Report

    def layers(self) -> dict[str, Any]:
        """Return the store tables of funding."""
        return {"funding": self.projects, "funding_bundles": self.bundles,
                "funding_items": self.items, "funding_reconciliation": self.reconciliation}


def funding_project(source: ProgrammeLike, *, calibrate: bool | float = True,
                    rules: FundingRules | str | Path | None = None,
                    estimate: EstimateResult | None = None) -> FundingResult:
    """Funding per project and bundle, reconciled with the stated budget (adapter).

    Parameters
    ----------
    source : Project or path
    calibrate : bool or float, default True
        Passed to :func:`gisplan.costs.estimate_project` (when the programme states no
        total, ``True`` falls back to the uncalibrated estimate with a finding).
    rules : FundingRules or path, optional
    estimate : EstimateResult, optional
        An estimate already made (skips estimating again).

    Examples
    --------
    >>> res = funding_project("layers/guyuan_2022.gpkg")
    >>> res.reconciliation[["stated_source", "stated_wan_yuan"]].values.tolist()[:2]
    [['central_regional', 9381.269], ['local', 8427.411]]
    >>> round(float(res.projects["funding_total_wan_yuan"].sum()), 2)
    17808.68
    """
    p = as_project(source)
    meta = p.meta
    report = Report()
    if estimate is None:
        cal = calibrate
        if cal is True and meta.get("budget_total_wan_yuan") is None:
            cal = False
            report.add(Finding("info", "not_calibrated", "the programme states no total "
                               "budget; funding splits the unit-cost estimate",
                               file=str(p.path), column="budget_total_wan_yuan"))
        estimate = estimate_project(p, calibrate=cal)
    fr = rules if isinstance(rules, FundingRules) else load_funding_rules(rules)
    funded = fund_items(estimate.items, fr)
    projects = funding_by_project(estimate.compounds, funded, fr)
    names = estimate.compounds.assign(compound_id=estimate.compounds["compound_id"].astype(str))
    keep = [c for c in ("name", "county", "bundle_id") if c in names]
    projects = projects.merge(names[["compound_id", *keep]], on="compound_id", how="left")
    bundles = (funding_by_project(estimate.compounds.dropna(subset=["bundle_id"]), funded, fr,
                                  by="bundle_id") if "bundle_id" in estimate.compounds
               else pd.DataFrame())
    recon, rrep = reconcile_funding(projects, list(meta.get("budget") or []), fr,
                                    file=str(p.path))
    report.merge(estimate.report).merge(rrep)
    report.count("funding", len(estimate.compounds), len(projects))
    return FundingResult(projects, bundles, funded, recon, estimate, report)
