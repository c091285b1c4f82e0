"""The life-circle standard (生活圈标准): facility types, circles and walking distances.

The standard is data: ``gisplan/data/life_circle.csv`` ships the values commonly cited
from GB 50180-2018 (城市居住区规划设计标准) and local rules, each with its source. A
city supplies its own file with the same columns::

    facility_type, zh, aliases, circle, walk_m, source, note

``aliases`` is a ``|``-separated list of other names met in real tables.

Examples
--------
>>> from gisplan.standards import load_standard
>>> std = load_standard()
>>> std.walk_m("kindergarten")
300.0
>>> std.resolve("幼儿园")
'kindergarten'
>>> std.suggest("幼儿圆")[0]
'kindergarten'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import SchemaError
from gisplan.schema import normalize_text, vocab

#: columns a standard file must have, in order
COLUMNS: tuple[str, ...] = ("facility_type", "zh", "aliases", "circle", "walk_m", "source", "note")
_REQUIRED = ("facility_type", "walk_m")

__all__ = ["COLUMNS", "Standard", "load_design_completeness", "load_standard"]


@dataclass(frozen=True)
class Standard:
    """A life-circle standard: one row per facility type.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns :data:`COLUMNS`, indexed by ``facility_type``; ``aliases`` holds tuples.
    file : str
        Where the table was read from (for messages).
    """

    table: pd.DataFrame
    file: str = "<builtin>"

    @property
    def types(self) -> list[str]:
        """Canonical facility type keys, in file order."""
        return list(self.table.index)

    def walk_m(self, facility_type: str) -> float:
        """Return the walking distance in metres for *facility_type*."""
        return float(self.table["walk_m"].loc[facility_type])

    def zh(self, facility_type: str) -> str:
        """Return the Chinese name of *facility_type* (the key when unknown)."""
        if facility_type in self.table.index:
            return str(self.table.at[facility_type, "zh"])
        return facility_type

    @cached_property
    def _index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for key, row in self.table.iterrows():
            for variant in (key, row["zh"], *row["aliases"]):
                index.setdefault(normalize_text(variant), str(key))
        # the shared vocabulary's aliases count too (a city file may be terser)
        for key, term in vocab("facility_type").items():
            if key in self.table.index:
                for variant in (key, term.zh, *term.aliases):
                    index.setdefault(normalize_text(variant), key)
        return index

    def resolve(self, value: Any) -> str | None:
        """Return the canonical key for a type name as written, or None if unknown."""
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        return self._index.get(normalize_text(value))

    def resolve_many(self, values: pd.Series) -> pd.Series:
        """Map a Series of type names to canonical keys (None where unknown).

        Each distinct spelling is resolved once, so this is cheap on large layers.
        """
        uniq = pd.unique(values.astype(object))
        mapping = {v: self.resolve(v) for v in uniq}
        return values.astype(object).map(mapping)

    def suggest(self, value: Any, *, limit: int = 3) -> list[str]:
        """Return up to *limit* canonical keys whose names are close to *value*."""
        from rapidfuzz import fuzz, process, utils

        if value is None:
            return []
        choices = {variant: key for variant, key in self._index.items()}
        found = process.extract(normalize_text(value), list(choices), scorer=fuzz.WRatio,
                                processor=utils.default_process, limit=limit * 4,
                                score_cutoff=50)
        out: list[str] = []
        for variant, _score, _ in found:
            key = choices[variant]
            if key not in out:
                out.append(key)
        return out[:limit]


def _builtin_path() -> Path:
    return Path(str(resources.files("gisplan.data").joinpath("life_circle.csv")))


def load_standard(path: str | Path | None = None) -> Standard:
    """Load the life-circle standard shipped with gisplan, or a city's own file.

    Parameters
    ----------
    path : str or Path, optional
        A CSV file with the columns ``facility_type, zh, aliases, circle, walk_m, source,
        note`` (UTF-8, with or without BOM). Only ``facility_type`` and ``walk_m`` are
        required; ``aliases`` is ``|``-separated. Default: the shipped
        ``gisplan/data/life_circle.csv``.

    Returns
    -------
    Standard

    Raises
    ------
    SchemaError
        A required column is missing, a key repeats, or a walking distance is not a
        positive number; the message names the file, row and column.
    """
    file = Path(path) if path is not None else _builtin_path()
    name = str(file)
    if not file.exists():
        raise SchemaError("standard file not found", file=name,
                          hint="pass the path of a CSV with columns " + ", ".join(COLUMNS))
    df = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.columns = [c.strip() for c in df.columns]
    for col in _REQUIRED:
        if col not in df.columns:
            raise SchemaError(f"the standard has no column '{col}'", file=name, column=col,
                              hint="columns needed: " + ", ".join(COLUMNS))
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = ""
    df["facility_type"] = df["facility_type"].str.strip()
    for i, row in df.iterrows():
        line = int(str(i)) + 1
        if not row["facility_type"]:
            raise SchemaError("empty facility type", file=name, row=line,
                              column="facility_type", hint="give every row a key")
        try:
            walk = float(row["walk_m"])
        except ValueError:
            walk = float("nan")
        if not np.isfinite(walk) or walk <= 0:
            raise SchemaError("walking distance must be a positive number of metres",
                              file=name, row=line, column="walk_m", value=row["walk_m"],
                              hint="write metres as a number, e.g. 300")
    dup = df["facility_type"].duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise SchemaError("facility type appears twice", file=name, row=i + 1,
                          column="facility_type", value=df["facility_type"].iloc[i],
                          hint="keep one row per facility type")
    df["walk_m"] = df["walk_m"].astype(float)
    df["aliases"] = df["aliases"].map(
        lambda s: tuple(a.strip() for a in str(s).split("|") if a.strip()))
    known = vocab("facility_type")
    df["zh"] = [z or (known[k].zh if k in known else k) for k, z in zip(df["facility_type"],
                                                                       df["zh"], strict=True)]
    table = df[list(COLUMNS)].set_index("facility_type", drop=False)
    table.index.name = None
    return Standard(table, name)


def load_design_completeness() -> Any:
    """Load the design-completeness list (what each renovation category must include).

    Re-exported from :func:`gisplan.design.design_rules`, which owns the list
    (``gisplan/data/design_completeness.csv``, from the Huai'an inspection report).
    """
    from gisplan.design import design_rules

    return design_rules()
