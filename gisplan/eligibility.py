"""Eligibility of compounds for the renovation programme (改造对象范围).

The rules are data (``gisplan/data/rules.toml``). The default rule set is the national
baseline (``national_2020``, 国办发〔2020〕23号):

* built by the end of 2000: ``eligible`` (符合改造条件);
* built later, already centrally funded, or planned for demolition: ``ineligible``.

A city's own rule set is chosen by name. ``guyuan_2022`` (固原市原州区2022年实施方案) also
admits compounds built 2001–2005 as ``conditional_2001_2005``: only together with eligible
neighbours, and all such compounds together at most 15 % of the programme's households.
A programme names its set in its metadata (``rule_set``); :func:`programme_rules` reads
that choice, so no city's rules reach another city silently.

:func:`classify_core` works on arrays; :func:`classify` takes a compounds frame and
returns one row per compound (index preserved) with the class and the reason in Chinese
and English. :func:`cap_share` measures the 2001–2005 share.

Examples
--------
>>> import pandas as pd
>>> from gisplan.eligibility import classify
>>> df = pd.DataFrame({"built_year": [1995, 2003, 2010]})
>>> classify(df)["eligibility"].tolist()
['eligible', 'ineligible', 'ineligible']
>>> classify(df, rules="guyuan_2022")["eligibility"].tolist()
['eligible', 'conditional_2001_2005', 'ineligible']
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from gisplan._errors import InputError
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
    conditional_built_from, conditional_built_to : int or None
        Years (inclusive) of compounds admitted only with eligible neighbours; None when
        the rule set has no such window (the national baseline).
    household_cap_2001_2005 : float
        Largest share of the programme's households for conditional compounds (0.0 when
        there is no window: no conditional compound is admitted).
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
    conditional_built_from: int | None
    conditional_built_to: int | None
    household_cap_2001_2005: float
    exclude_prior_central_funding: bool
    excluded_statuses: tuple[str, ...]
    missing_built_year: Literal["ineligible", "eligible"]

    @property
    def has_conditional(self) -> bool:
        """Whether the rule set admits conditional (e.g. 2001–2005) compounds."""
        return self.conditional_built_from is not None

    def reason_codes(self) -> tuple[str, str, str]:
        """Reason codes for ``(eligible, conditional, after)`` build years.

        ``conditional`` is ``""`` for a rule set without a conditional window.
        """
        by = self.eligible_built_by
        if self.conditional_built_from is None or self.conditional_built_to is None:
            return f"built_by_{by}", "", f"built_after_{by}"
        return (f"built_by_{by}",
                f"built_{self.conditional_built_from}_{self.conditional_built_to}",
                f"built_after_{self.conditional_built_to}")

    def describe(self) -> str:
        """One line for command output: the key, the title and the years.

        Examples
        --------
        >>> text = load_rules("guyuan_2022").describe()
        >>> print(text.split(" (")[0])
        guyuan_2022
        >>> print(text.split("): ")[1])
        built by 2000 eligible; 2001–2005 with eligible neighbours, at most 15 % of households
        """
        text = f"{self.name} ({self.title}): built by {self.eligible_built_by} eligible"
        if self.has_conditional:
            text += (f"; {self.conditional_built_from}–{self.conditional_built_to} with "
                     f"eligible neighbours, at most {self.household_cap_2001_2005:.0%} "
                     "of households").replace("%", " %")
        return text


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("gisplan.data").joinpath("rules.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def rule_set_names() -> list[str]:
    """Return the names of the rule sets in ``rules.toml`` (the default first).

    Examples
    --------
    >>> rule_set_names()
    ['national_2020', 'guyuan_2022']
    """
    raw = _raw()
    return [raw["default"], *(k for k in raw["rulesets"] if k != raw["default"])]


def load_rules(name: str | None = None) -> Rules:
    """Return rule set *name* of ``rules.toml``.

    Parameters
    ----------
    name : str, optional
        Key under ``[rulesets]``, e.g. ``"guyuan_2022"``; None means the default rule set
        (the national baseline ``national_2020``).

    Returns
    -------
    Rules

    Raises
    ------
    InputError
        For a name that is not in ``rules.toml`` (the error lists the known ones).

    Examples
    --------
    >>> r = load_rules()
    >>> r.name, r.eligible_built_by, r.has_conditional
    ('national_2020', 2000, False)
    """
    raw = _raw()
    key = name or raw["default"]
    if key not in raw["rulesets"]:
        raise InputError(f"unknown rule set '{key}'", column="rule_set", value=key,
                         hint=f"use one of {', '.join(rule_set_names())} (rules.toml)")
    r = raw["rulesets"][key]
    window = "conditional_built_from" in r
    missing = str(r.get("missing_built_year", "ineligible"))
    rules = Rules(
        name=key,
        title=r["title"],
        source=r["source"],
        eligible_built_by=int(r["eligible_built_by"]),
        conditional_built_from=int(r["conditional_built_from"]) if window else None,
        conditional_built_to=int(r["conditional_built_to"]) if window else None,
        household_cap_2001_2005=float(r["household_cap_2001_2005"]) if window else 0.0,
        exclude_prior_central_funding=bool(r["exclude_prior_central_funding"]),
        excluded_statuses=tuple(r.get("excluded_statuses", ())),
        missing_built_year="eligible" if missing == "eligible" else "ineligible",
    )
    texts = _raw()["reasons"]
    for code in rules.reason_codes():
        if code and code not in texts:
            raise InputError(f"rule set '{key}' gives the reason '{code}', which has no text",
                             file="rules.toml", value=code,
                             hint=f"add [reasons.{code}] with zh and en to rules.toml")
    return rules


class RuleChoice(NamedTuple):
    """The rule set a programme uses, and why (for the output line and the report)."""

    rules: Rules
    chosen_by: str


def programme_rules(meta: Mapping[str, Any] | None) -> RuleChoice:
    """Return the rule set a programme's metadata asks for.

    1. ``meta["rule_set"]``: a rule set chosen by name (the programme file's ``rule_set``);
    2. a programme stored before ``rule_set`` existed states its figures under
       ``meta["rules"]`` (``built_by``, ``late_built_until``, ``household_cap_2001_2005``):
       the rule set of ``rules.toml`` with exactly these figures (the Guyuan sample:
       ``guyuan_2022``); figures that match no set are an error;
    3. otherwise the default rule set (the national baseline).

    Parameters
    ----------
    meta : mapping, optional
        The programme's metadata (``Project.meta``).

    Returns
    -------
    RuleChoice

    Raises
    ------
    InputError
        For an unknown ``rule_set``, or stated figures that match no rule set.

    Examples
    --------
    >>> programme_rules({"rule_set": "guyuan_2022"}).rules.name
    'guyuan_2022'
    >>> programme_rules({}).chosen_by
    'the default rule set (no rule_set in the programme)'
    """
    meta = meta or {}
    name = meta.get("rule_set")
    if name:
        return RuleChoice(load_rules(str(name)), "the programme's rule_set")
    stated = meta.get("rules")
    if isinstance(stated, Mapping) and "household_cap_2001_2005" in stated:
        figures = (int(stated.get("built_by", 2000)),
                   int(stated.get("late_built_until", stated.get("built_by", 2000))),
                   round(float(stated["household_cap_2001_2005"]), 6))
        for key in rule_set_names():
            r = load_rules(key)
            if (r.eligible_built_by, r.conditional_built_to or r.eligible_built_by,
                    round(r.household_cap_2001_2005, 6)) == figures:
                return RuleChoice(r, "the figures under the programme's rules "
                                     f"(built_by {figures[0]}, late_built_until "
                                     f"{figures[1]}, cap {figures[2]:g})")
        raise InputError(
            "the programme's rules (built_by {}, late_built_until {}, household cap {:g}) "
            "match no rule set".format(*figures), column="rules",
            hint=f"set rule_set to one of {', '.join(rule_set_names())}, or add a rule set "
                 "with these figures to rules.toml")
    return RuleChoice(load_rules(None), "the default rule set (no rule_set in the programme)")


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
        None means "no compound is".
    rules : Rules, optional
        None means the default rule set (:func:`load_rules` ()).

    Returns
    -------
    eligibility : ndarray of str
        ``eligible``, ``conditional_2001_2005`` or ``ineligible``.
    reason : ndarray of str
        Reason code (a key of :func:`reasons`); the first rule that applies wins.

    Examples
    --------
    >>> years = np.array([1990.0, 2003.0])
    >>> classify_core(years)[1].tolist()
    ['built_by_2000', 'built_after_2000']
    >>> classify_core(years, rules=load_rules("guyuan_2022"))[1].tolist()
    ['built_by_2000', 'built_2001_2005']
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
    missing_class = ELIGIBLE if r.missing_built_year == "eligible" else INELIGIBLE
    by_code, cond_code, after_code = r.reason_codes()
    conditions = [demol, excl, funded, missing]
    reason_codes = ["demolition", "excluded", "prior_central_funding", "built_year_missing"]
    classes = [INELIGIBLE, INELIGIBLE, INELIGIBLE, missing_class]
    if r.conditional_built_from is not None and r.conditional_built_to is not None:
        conditions += [year > r.conditional_built_to,
                       (year >= r.conditional_built_from) & (year <= r.conditional_built_to)]
        reason_codes += [after_code, cond_code]
        classes += [INELIGIBLE, CONDITIONAL]
    else:
        conditions.append(year > r.eligible_built_by)
        reason_codes.append(after_code)
        classes.append(INELIGIBLE)
    reason = np.select(conditions, reason_codes, default=by_code).astype(object)
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
        Rule set or its name in ``rules.toml``; None means the default rule set (the
        national baseline).

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
