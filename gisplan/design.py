"""Design completeness: what a compound's renovation categories require (设计缺项).

The Huai'an inspection report (淮安市老旧小区改造督查通报, 2023) found designs that left out
waste sorting, elderly-care and childcare rooms, smart parcel lockers, security and fire
facilities, and the power / water / gas / telecom pipeline works. The rule is data:
``data/design_completeness.csv`` lists every renovation item of 国办发〔2020〕23号 with its
category (基础类 / 完善类 / 提升类), whether a design of that category must include it, the
Chinese name and aliases met in real item lists, and the source sentence.

A compound's ``categories`` (e.g. ``"基础类;完善类"``) and ``planned_items`` (e.g.
``"供水、排水、垃圾分类设施"``) are parsed into canonical keys; the required items of its
categories that are not planned are its design gaps.

Examples
--------
>>> import pandas as pd
>>> from gisplan.design import design_gaps
>>> c = pd.DataFrame({"compound_id": ["A"], "name": ["梅园小区"], "categories": ["基础类"],
...                   "planned_items": ["供水、供电、供气、弱电、安防、消防"]})
>>> design_gaps(c).loc[0, "missing_zh"]
'生活垃圾分类'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from io import StringIO
from typing import Any

import numpy as np
import pandas as pd

from gisplan.schema import normalize_text, term

__all__ = ["DesignRules", "design_gaps", "design_rules", "parse_items"]

_SPLIT = re.compile(r"[;；,，、/\n\t]+|\s{2,}")


@dataclass(frozen=True)
class DesignRules:
    """The design-completeness table and a lookup of item names.

    Attributes
    ----------
    table : pandas.DataFrame
        ``category, item, zh, required, aliases, source``, one row per item.
    index : dict
        Normalised key, Chinese name or alias -> the item keys it stands for (an alias
        such as 养老托幼用房 may stand for two items). Built from *table*.
    """

    table: pd.DataFrame
    index: dict[str, tuple[str, ...]] = field(default_factory=dict)

    _required: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _zh: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        t = self.table
        if not self.index:
            object.__setattr__(self, "index", _build_index(t))
        req = t[t["required"].astype(bool)]
        by_category = {str(c): g["item"].tolist() for c, g in req.groupby("category", sort=False)}
        object.__setattr__(self, "_required", by_category)
        object.__setattr__(self, "_zh", dict(zip(t["item"], t["zh"].astype(str), strict=True)))

    def required(self, category: str) -> list[str]:
        """Return the item keys a design of *category* must include, in table order."""
        return list(self._required.get(category, []))

    def zh(self, item: str) -> str:
        """Return the Chinese name of *item*."""
        return self._zh.get(item, item)


def _build_index(table: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Map normalised key, Chinese name and aliases to the item keys they stand for."""
    out: dict[str, list[str]] = {}
    for item, zh_name, aliases in table[["item", "zh", "aliases"]].itertuples(index=False):
        for name in (item, zh_name, *[a for a in str(aliases).split(";") if a]):
            keys = out.setdefault(normalize_text(name), [])
            if item not in keys:
                keys.append(item)
    return {k: tuple(v) for k, v in out.items()}


@cache
def design_rules() -> DesignRules:
    """Load ``data/design_completeness.csv`` (shipped with gisplan).

    Returns
    -------
    DesignRules
        The table; ``required`` is boolean, ``aliases`` a ``;``-separated string.
    """
    text = (resources.files("gisplan.data") / "design_completeness.csv").read_text("utf-8")
    table = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    table["required"] = table["required"].str.strip().str.lower().isin(["true", "1", "yes"])
    return DesignRules(table)


def parse_items(text: object, *, rules: DesignRules | None = None) -> tuple[list[str], list[str]]:
    """Split an item list as written into canonical item keys and unrecognised names.

    Parameters
    ----------
    text : str or None
        ``"供水、排水；垃圾分类设施"``, ``"water_supply;drainage"``, ...
    rules : DesignRules, optional
        Defaults to the shipped table.

    Returns
    -------
    (list of str, list of str)
        Item keys (deduplicated, in order of appearance) and the names not recognised.
    """
    rules = rules or design_rules()
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return [], []
    keys: list[str] = []
    unknown: list[str] = []
    for token in _SPLIT.split(str(text)):
        token = token.strip()
        if not token:
            continue
        found = rules.index.get(normalize_text(token))
        if found is None:
            unknown.append(token)
            continue
        keys.extend(k for k in found if k not in keys)
    return keys, unknown


def _categories(text: object) -> tuple[list[str], list[str]]:
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return [], []
    cats: list[str] = []
    unknown: list[str] = []
    for token in _SPLIT.split(str(text)):
        token = token.strip()
        if not token:
            continue
        key = term("category", token)
        if key is None:
            unknown.append(token)
        elif key not in cats:
            cats.append(key)
    return cats, unknown


def _text(values: pd.Series) -> pd.Series:
    """Return *values* as strings, missing values as ``""``."""
    return values.astype(object).where(values.notna(), "").astype(str)


def design_gaps(compounds: pd.DataFrame, *, rules: DesignRules | None = None,
                default_category: str | None = "basic") -> pd.DataFrame:
    """List, per compound, the required items of its categories that its design leaves out.

    Parameters
    ----------
    compounds : pandas.DataFrame or geopandas.GeoDataFrame
        Needs ``categories`` and ``planned_items`` (missing columns count as empty);
        ``compound_id``, ``name`` and ``county`` are carried along when present.
    rules : DesignRules, optional
        Defaults to ``data/design_completeness.csv``.
    default_category : str or None, default "basic"
        Category assumed when a compound has none (every compound in a programme gets at
        least 基础类); ``None`` requires nothing of such compounds.

    Returns
    -------
    pandas.DataFrame
        One row per compound (index preserved, rows in = rows out): ``compound_id``,
        ``name``, ``county``, ``categories`` (canonical keys, ``;``-separated),
        ``required_items``, ``planned_items`` (canonical), ``missing_items``,
        ``missing_zh`` (``、``-separated, for reports), ``n_missing``,
        ``unknown_items`` (names not recognised: check spelling or extend the table),
        and ``flags``: ``design_items_missing`` where a required item is missing,
        ``no_planned_items`` where the compound lists no items at all,
        ``unknown_item`` / ``unknown_category`` where a name was not recognised.
    """
    rules = rules or design_rules()
    blank = pd.Series("", index=compounds.index, dtype=object)
    cat_col = _text(compounds["categories"]) if "categories" in compounds else blank
    item_col = _text(compounds["planned_items"]) if "planned_items" in compounds else blank

    # one evaluation per distinct (categories, planned_items) pair: they repeat a lot
    pairs = pd.DataFrame({"c": cat_col.to_numpy(), "i": item_col.to_numpy()})
    codes, uniq = pd.MultiIndex.from_frame(pairs).factorize()
    cat_parsed = {v: _categories(v) for v in pd.unique(cat_col)}
    item_parsed = {v: parse_items(v, rules=rules) for v in pd.unique(item_col)}
    rows = [_gap_row(cat_parsed[c], item_parsed[i], rules, default_category)
            for c, i in uniq]
    table = pd.DataFrame(rows, columns=_GAP_COLUMNS)
    out = pd.DataFrame(index=compounds.index)
    for col in ("compound_id", "name", "county"):
        out[col] = compounds.get(col)
    for col in _GAP_COLUMNS:
        values = table[col].to_numpy()[codes] if len(table) else table[col].to_numpy()
        out[col] = values.astype(np.int64) if col == "n_missing" else values.tolist()
    return out


_GAP_COLUMNS = ["categories", "required_items", "planned_items", "missing_items",
                "missing_zh", "n_missing", "unknown_items", "flags"]


def _gap_row(cat: tuple[list[str], list[str]], item: tuple[list[str], list[str]],
             rules: DesignRules, default_category: str | None) -> tuple[Any, ...]:
    """Return the :data:`_GAP_COLUMNS` values of one (categories, planned_items) pair."""
    cats = cat[0] or ([default_category] if default_category else [])
    bad_cats, (items, unknown) = cat[1], item
    required = [i for c in cats for i in rules.required(c)]
    planned = set(items)
    missing = [i for i in dict.fromkeys(required) if i not in planned]
    flags = ";".join(code for code, on in (
        ("design_items_missing", bool(missing)),
        ("no_planned_items", not items and not unknown),
        ("unknown_item", bool(unknown)),
        ("unknown_category", bool(bad_cats)),
    ) if on)
    return (";".join(cats), ";".join(dict.fromkeys(required)), ";".join(items),
            ";".join(missing), "、".join(rules.zh(i) for i in missing), len(missing),
            "、".join(unknown + bad_cats), flags)
