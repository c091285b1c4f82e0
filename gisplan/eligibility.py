"""Eligibility of compounds for the renovation programme (改造对象范围).

The rules are data (``gisplan/data/rules.toml``, Guyuan 2022 plan by default):

* built by the end of 2000: ``eligible`` (符合改造条件);
* built 2001–2005: ``conditional_2001_2005``: only together with eligible neighbours, and
  all such compounds together at most 15 % of the programme's households;
* built after 2005, already centrally funded, or planned for demolition: ``ineligible``.

:func:`classify_core` works on arrays; :func:`classify` takes a compounds frame and
returns one row per compound (index preserved) with the class and the reason in Chinese
and English. :func:`cap_share` measures the 2001–2005 share.

Examples
--------
>>> import pandas as pd
>>> from gisplan.eligibility import classify
>>> df = pd.DataFrame({"built_year": [1995, 2003, 2010]})
>>> classify(df)["eligibility"].tolist()
['eligible', 'conditional_2001_2005', 'ineligible']
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from gisplan.schema import term

ELIGIBLE = "eligible"
CONDITIONAL = "conditional_2001_2005"
INELIGIBLE = "ineligible"

#: integer codes used by the array cores (bundle.py)
CODE: dict[str, int] = {INELIGIBLE: 0, ELIGIBLE: 1, CONDITIONAL: 2}


@dataclass(frozen=True)
class Rules:
    """One rule set of ``rules.toml``.

    Attributes
    ----------
    name, title, source : str
        Key of the rule set, the document's title and where in it the rule stands.
    eligible_built_by : int
        Compounds built in or before this year are eligible.
    conditional_built_from, conditional_built_to : int
        Years (inclusive) of compounds admitted only with eligible neighbours.
    household_cap_2001_2005 : float
        Largest share of the programme's households for conditional compounds.
    exclude_prior_central_funding : bool
        Whether a compound that already received central funds is excluded.
    excluded_statuses : tuple of str
        ``compound_status`` keys that exclude a compound.
    missing_built_year : {"ineligible", "eligible"}
        What a missing build year means.
    """

    name: str
    title: str
    source: str
    eligible_built_by: int
    conditional_built_from: int
    conditional_built_to: int
    household_cap_2001_2005: float
    exclude_prior_central_funding: bool
    excluded_statuses: tuple[str, ...]
    missing_built_year: str


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("gisplan.data").joinpath("rules.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_rules(name: str | None = None) -> Rules:
    """Return rule set *name* of ``rules.toml`` (the default rule set when None).

    Parameters
    ----------
    name : str, optional
        Key under ``[rulesets]``, e.g. ``"guyuan_2022"``.

    Returns
    -------
    Rules
    """
    raw = _raw()
    key = name or raw["default"]
    if key not in raw["rulesets"]:
        known = ", ".join(raw["rulesets"])
        raise KeyError(f"unknown rule set '{key}' in rules.toml; known: {known}")
    r = raw["rulesets"][key]
    return Rules(
        name=key,
        title=r["title"],
        source=r["source"],
        eligible_built_by=int(r["eligible_built_by"]),
        conditional_built_from=int(r["conditional_built_from"]),
        conditional_built_to=int(r["conditional_built_to"]),
        household_cap_2001_2005=float(r["household_cap_2001_2005"]),
        exclude_prior_central_funding=bool(r["exclude_prior_central_funding"]),
        excluded_statuses=tuple(r.get("excluded_statuses", ())),
        missing_built_year=str(r.get("missing_built_year", "ineligible")),
    )


def reasons() -> dict[str, dict[str, str]]:
    """Return the reason codes with their Chinese (``zh``) and English (``en``) text."""
    return {k: dict(v) for k, v in _raw()["reasons"].items()}


def classify_core(
    built_year: np.ndarray,
    *,
    prior_central_funding: np.ndarray | None = None,
    demolition: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
    rules: Rules | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Classify compounds from arrays.

    Parameters
    ----------
    built_year : ndarray of float
        Build year, NaN where unknown.
    prior_central_funding, demolition, excluded : ndarray of bool, optional
        Already centrally funded; planned for demolition/rebuilding; excluded by the plan.
    rules : Rules, optional
        Defaults to :func:`load_rules` ().

    Returns
    -------
    eligibility : ndarray of str
        ``eligible``, ``conditional_2001_2005`` or ``ineligible``.
    reason : ndarray of str
        Reason code (a key of :func:`reasons`); the first rule that applies wins.
    """
    r = rules or load_rules()
    year = np.asarray(built_year, dtype=float)
    n = len(year)
    false = np.zeros(n, dtype=bool)
    funded = false if prior_central_funding is None else np.asarray(prior_central_funding, bool)
    demol = false if demolition is None else np.asarray(demolition, bool)
    excl = false if excluded is None else np.asarray(excluded, bool)
    if not r.exclude_prior_central_funding:
        funded = false
    missing = np.isnan(year)
    missing_ok = r.missing_built_year == "eligible"
    conditions = [
        demol,
        excl,
        funded,
        missing,
        year > r.conditional_built_to,
        (year >= r.conditional_built_from) & (year <= r.conditional_built_to),
    ]
    reason_codes = [
        "demolition",
        "excluded",
        "prior_central_funding",
        "built_year_missing",
        "built_after_2005",
        "built_2001_2005",
    ]
    classes = [INELIGIBLE, INELIGIBLE, INELIGIBLE, ELIGIBLE if missing_ok else INELIGIBLE,
               INELIGIBLE, CONDITIONAL]
    reason = np.select(conditions, reason_codes, default="built_by_2000").astype(object)
    elig = np.select(conditions, classes, default=ELIGIBLE).astype(object)
    return elig, reason


def classify(compounds: pd.DataFrame, *, rules: Rules | str | None = None) -> pd.DataFrame:
    """Classify every compound of a frame.

    Reads ``built_year``, ``prior_central_funding`` and ``status`` (``demolition`` and
    ``excluded``, Chinese spellings accepted, see ``vocab.compound_status``) where present;
    a missing column counts as unknown year / not funded / not excluded.

    Parameters
    ----------
    compounds : pandas.DataFrame
        Canonical ``compounds`` layer (a GeoDataFrame works too).
    rules : Rules or str, optional
        Rule set or its name in ``rules.toml``.

    Returns
    -------
    pandas.DataFrame
        Same index as *compounds*; columns ``eligibility``, ``eligibility_reason`` (code),
        ``reason_zh``, ``reason_en`` (categoricals).
    """
    r = rules if isinstance(rules, Rules) else load_rules(rules)
    n = len(compounds)
    if "built_year" in compounds:
        year = pd.to_numeric(compounds["built_year"], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
    else:
        year = np.full(n, np.nan)
    funded = np.zeros(n, dtype=bool)
    if "prior_central_funding" in compounds:
        funded = compounds["prior_central_funding"].fillna(False).astype(bool).to_numpy()
    demol = np.zeros(n, dtype=bool)
    excl = np.zeros(n, dtype=bool)
    if "status" in compounds:
        raw = compounds["status"].astype(object)
        table = {v: term("compound_status", v) for v in pd.unique(raw.to_numpy(dtype=object))}
        status = raw.map(table)
        bad = set(r.excluded_statuses)
        demol = (status == "demolition").to_numpy() & ("demolition" in bad)
        excl = status.isin(bad - {"demolition"}).to_numpy()
    elig, reason = classify_core(year, prior_central_funding=funded, demolition=demol,
                                 excluded=excl, rules=r)
    texts = reasons()
    # categoricals: a city's 200,000 compounds share a handful of classes and reasons
    codes = list(texts)
    reason_cat = pd.Categorical(reason, categories=codes)
    return pd.DataFrame(
        {
            "eligibility": pd.Categorical(elig, categories=[ELIGIBLE, CONDITIONAL, INELIGIBLE]),
            "eligibility_reason": reason_cat,
            "reason_zh": reason_cat.rename_categories({c: texts[c]["zh"] for c in codes}),
            "reason_en": reason_cat.rename_categories({c: texts[c]["en"] for c in codes}),
        },
        index=compounds.index,
    )


def cap_share(households: np.ndarray, eligibility: np.ndarray,
              selected: np.ndarray | None = None) -> float:
    """Return the share of households of 2001–2005 compounds among the selected ones.

    Parameters
    ----------
    households : ndarray
        Households per compound (NaN counts as 0).
    eligibility : ndarray of str
        As returned by :func:`classify_core`.
    selected : ndarray of bool, optional
        The compounds in the programme (all when None).

    Returns
    -------
    float
        ``conditional households / all selected households`` (0 when nothing is selected).
    """
    h = np.nan_to_num(np.asarray(households, dtype=float))
    sel = np.ones(len(h), bool) if selected is None else np.asarray(selected, bool)
    total = h[sel].sum()
    if total <= 0:
        return 0.0
    return float(h[sel & (np.asarray(eligibility) == CONDITIONAL)].sum() / total)
