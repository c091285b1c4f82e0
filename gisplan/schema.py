"""Canonical layer schemas and vocabularies, loaded from ``data/schema.toml``.

The schema is data: a city can read this module's tables to see which columns gisplan
expects, under which Chinese headers, and which values a column may take.

Examples
--------
>>> from gisplan.schema import layer_schema, term, zh
>>> layer_schema("compounds").id
'compound_id'
>>> term("network", "自来水")
'water_supply'
>>> zh("stage", "started")
'开工'
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import pandas as pd

DType = Literal["str", "int", "float", "bool", "date", "datetime"]

#: pandas dtypes used for canonical columns
PANDAS_DTYPES: dict[str, str] = {
    "str": "object",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "date": "object",
    "datetime": "object",
}


@dataclass(frozen=True)
class Column:
    """One canonical column of a layer."""

    name: str
    dtype: DType
    required: bool
    zh: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerSchema:
    """The schema of one layer of a programme store."""

    name: str
    kind: Literal["spatial", "table"]
    id: str
    zh: str
    columns: tuple[Column, ...]
    geometry: tuple[str, ...] = ()
    optional: bool = False

    @property
    def column_names(self) -> list[str]:
        """Canonical column names, in schema order."""
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        """Names of required columns."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        """Return the column called *name*."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"layer '{self.name}' has no column '{name}'")


@dataclass(frozen=True)
class Term:
    """One entry of a vocabulary: a canonical key, its Chinese name and aliases."""

    key: str
    zh: str
    aliases: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("gisplan.data").joinpath("schema.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def layers() -> dict[str, LayerSchema]:
    """Return every layer schema, keyed by layer name."""
    out: dict[str, LayerSchema] = {}
    for name, spec in _raw()["layers"].items():
        cols = tuple(
            Column(c["name"], c["dtype"], bool(c.get("required", False)), c.get("zh", ""),
                   tuple(c.get("aliases", ())))
            for c in spec["columns"]
        )
        out[name] = LayerSchema(
            name=name,
            kind=spec["kind"],
            id=spec["id"],
            zh=spec.get("zh", ""),
            columns=cols,
            geometry=tuple(spec.get("geometry", ())),
            optional=bool(spec.get("optional", False)),
        )
    return out


def layer_schema(name: str) -> LayerSchema:
    """Return the schema of layer *name* (``compounds``, ``districts``, ...)."""
    try:
        return layers()[name]
    except KeyError:
        known = ", ".join(layers())
        raise KeyError(f"unknown layer '{name}'; known layers: {known}") from None


@cache
def vocab(name: str) -> dict[str, Term]:
    """Return vocabulary *name* (``network``, ``stage``, ``facility_type``, ...) by key."""
    raw = _raw()["vocab"]
    if name not in raw:
        raise KeyError(f"unknown vocabulary '{name}'; known: {', '.join(raw)}")
    out = {}
    for key, spec in raw[name].items():
        extra = {k: v for k, v in spec.items() if k not in ("zh", "aliases")}
        out[key] = Term(key, spec.get("zh", key), tuple(spec.get("aliases", ())), extra)
    return out


_PUNCT = re.compile(r"[\s\u3000_\-/\\:：·•.,，、()（）\[\]【】]+")


def normalize_text(value: str) -> str:
    """Fold a header or term for matching: NFKC, lower case, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    return _PUNCT.sub("", text)


@cache
def _term_index(name: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for key, t in vocab(name).items():
        for variant in (key, t.zh, *t.aliases):
            index.setdefault(normalize_text(variant), key)
    return index


def term(vocab_name: str, value: Any) -> str | None:
    """Return the canonical key of *value* in vocabulary *vocab_name*, or None.

    Matching is exact after :func:`normalize_text` (case, width, spaces and punctuation
    folded); fuzzy suggestions are the caller's business.
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    return _term_index(vocab_name).get(normalize_text(value))


#: How similar (0–100, :func:`rapidfuzz.fuzz.ratio` of the folded texts) a value must be to
#: a term of its own vocabulary before that term is suggested as "did you mean".
HINT_MIN_SIMILARITY = 70.0


def suggest_terms(vocab_name: str, value: Any, *, limit: int = 3,
                  min_similarity: float = HINT_MIN_SIMILARITY) -> list[str]:
    """Return the keys of vocabulary *vocab_name* that *value* is probably a misspelling of.

    Only terms of the same vocabulary are considered, and only those whose key, Chinese
    name or alias is at least *min_similarity* % similar to *value* as a whole (plain
    edit-distance ratio, not partial matches: ``post`` is not ``sportsground``, and
    ``unclassified`` is no road class at all), or one character off (``燃汽`` for
    ``燃气``). Best first; empty when nothing is close.

    Examples
    --------
    >>> suggest_terms("road_class", "主干道路")
    ['arterial']
    >>> suggest_terms("road_class", "unclassified")
    []
    >>> suggest_terms("facility_type", "post")
    []
    >>> suggest_terms("facility_type", "kindergarden")
    ['kindergarten']
    >>> suggest_terms("network", "燃汽")
    ['gas']
    """
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Levenshtein

    if value is None or (isinstance(value, float) and value != value):
        return []
    text = normalize_text(value)
    scored = []
    for variant, key in _term_index(vocab_name).items():
        score = fuzz.ratio(text, variant)
        # one character off in a short word (燃汽 for 燃气) is a typo, not a stranger
        typo = min(len(text), len(variant)) >= 2 and Levenshtein.distance(text, variant) <= 1
        if score >= min_similarity or typo:
            scored.append((score + (100.0 if typo else 0.0), key))
    scored.sort(key=lambda t: -t[0])
    return list(dict.fromkeys(k for _, k in scored))[:limit]


def zh(vocab_name: str, key: str) -> str:
    """Return the Chinese name of *key* in vocabulary *vocab_name* (the key if unknown)."""
    t = vocab(vocab_name).get(key)
    return t.zh if t else key


def zh_many(vocab_name: str, values: pd.Series) -> pd.Series:
    """Return :func:`zh` of each of *values* (missing stays missing), once per value.

    Examples
    --------
    >>> zh_many("stage", pd.Series(["started", "planned", "started"])).tolist()
    ['开工', '计划', '开工']
    """
    names = {v: zh(vocab_name, v) for v in pd.unique(values.dropna())}
    return values.map(names)


def stage_order() -> list[str]:
    """Return the stage keys in the order a compound moves through them."""
    return list(vocab("stage"))


def empty_frame(layer: str) -> pd.DataFrame:
    """Return an empty DataFrame with the canonical columns and dtypes of *layer*."""
    sch = layer_schema(layer)
    return pd.DataFrame({c.name: pd.Series(dtype=PANDAS_DTYPES[c.dtype]) for c in sch.columns})


#: Compound columns that can stand for a district level when the programme has no
#: polygons of that level: the level's own column first, then the other of 片区 / 街道.
LEVEL_COLUMNS: dict[str, tuple[str, ...]] = {
    "district": ("district", "street"),
    "street": ("street", "district"),
    "county": ("county",),
}


def level_from_column(compounds: pd.DataFrame, column: str, *, reason: str
                      ) -> tuple[pd.Series | None, str | None]:
    """Return the compounds' column that gives level *column*, and a line that says so.

    When a programme has no polygons of a level (片区 or 街道), the compounds' own column
    gives it: ``district`` (片区), else ``street`` (所在街道) for the 片区 level, and the
    other way round for streets. None, None when no such column holds a value.

    Parameters
    ----------
    compounds : DataFrame
        The compounds.
    column : {"district", "street", "county"}
        The level's column.
    reason : str
        Why polygons are not used, for the message (``"no 片区 polygons"``).

    Examples
    --------
    >>> comp = pd.DataFrame({"street": ["东关街道", "西关街道"]})
    >>> units, line = level_from_column(comp, "district", reason="no 片区 polygons")
    >>> units.tolist()
    ['东关街道', '西关街道']
    >>> print(line)
    片区 taken from the compounds' 街道 (street) column (no 片区 polygons)
    """
    names = {c.name: c.zh for c in layer_schema("compounds").columns}
    for source in LEVEL_COLUMNS.get(column, (column,)):
        if source in compounds and compounds[source].notna().any():
            values = compounds[source].astype(object)
            values = values.where(values.notna() & values.astype(str).str.strip().ne(""),
                                  None)
            line = (f"{names[column]} taken from the compounds' {names[source]} ({source}) "
                    f"column ({reason})")
            return values, line
    return None, None
