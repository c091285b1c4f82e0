"""Name matching: which compound of the programme a report row means.

A county report names a compound by its 小区编号, or more often by its name within the
county (县区), spelt as the office spells it. :func:`match_compounds` matches by id,
else by exact name in the county, else by the nearest name only when it is clearly the
nearest (so 工商小区南段 never silently becomes 北段); everything else stays unmatched,
with its best candidates listed.

Examples
--------
>>> import pandas as pd
>>> comp = pd.DataFrame({"compound_id": ["C1", "C2"], "name": ["梅园小区", "德福小区"],
...                      "county": ["魏都区", "魏都区"]})
>>> rows = pd.DataFrame({"compound_name": ["梅园小区", "德福小苑", "无名小区"],
...                      "county": ["魏都", "魏都区", "魏都区"]})
>>> match_compounds(rows, comp)[["compound_id", "county", "match"]].to_numpy().tolist()
[['C1', '魏都区', 'name'], ['C2', '魏都区', 'fuzzy'], [None, '魏都区', 'unknown']]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from gisplan.schema import normalize_text

__all__ = ["MatchKind", "match_compounds"]

#: how a row was matched: by ``id``, exact ``name``, nearest name (``fuzzy``); or not:
#: ``ambiguous`` (several fit), ``unknown`` (none fits), ``no_geometry`` (a reporting unit
#: without compounds of its own), ``missing`` (no id and no name)
MatchKind = Literal["id", "name", "fuzzy", "ambiguous", "unknown", "no_geometry", "missing"]


@dataclass
class _Candidates:
    ids: np.ndarray
    names: list[str]
    folded: list[str]


@dataclass
class _Programme:
    """The compounds of a programme, indexed for matching."""

    ids: np.ndarray
    counties: np.ndarray
    known: dict[str, str]  # folded unit name -> unit as the programme writes it
    id_set: dict[str, str]  # folded id -> id
    by_county: dict[str, _Candidates]
    everyone: _Candidates
    no_geo: set[str]


class _Match(NamedTuple):
    compound_id: str | None
    county: str | None
    match: MatchKind
    score: float
    candidates: str
    unknown_county: bool


def _index(compounds: pd.DataFrame, units_without_geometry: Iterable[str],
           known_units: Iterable[str]) -> _Programme:
    comp = pd.DataFrame(compounds)
    ids = comp["compound_id"].astype(str).to_numpy() if len(comp) else np.array([], str)
    names = comp["name"].astype(str).tolist() if len(comp) else []
    counties = (comp["county"].astype(object).where(comp["county"].notna(), "").astype(str)
                if "county" in comp else pd.Series([""] * len(comp))).to_numpy()
    no_geo = {str(u) for u in units_without_geometry}
    unit_names = sorted({c for c in counties if c} | {str(u) for u in known_units} | no_geo)
    folded_all = [normalize_text(n) for n in names]
    by_county: dict[str, _Candidates] = {}
    for c in set(counties):
        sel = np.flatnonzero(counties == c)
        by_county[c] = _Candidates(ids[sel], [names[i] for i in sel],
                                   [folded_all[i] for i in sel])
    return _Programme(ids, counties, {normalize_text(u): u for u in unit_names},
                      {normalize_text(i): i for i in ids}, by_county,
                      _Candidates(ids, names, folded_all), no_geo)


def _county_key(value: Any, known: dict[str, str]) -> tuple[str | None, bool]:
    """Return (canonical county, recognised) for a county as written."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None, True
    text = normalize_text(value)
    if not text:
        return None, True
    if text in known:
        return known[text], True
    for k, v in known.items():  # 魏都 ~ 魏都区, 淮安经开区 ~ 经开区
        if k and (k in text or text in k):
            return v, True
    return str(value).strip(), False


def _by_name(name: str, pool: _Candidates, *, score_cutoff: float,
             margin: float) -> tuple[str | None, MatchKind, float, str]:
    """Match one name in *pool*: (id, kind, score, candidates)."""
    from rapidfuzz import fuzz, process

    folded = normalize_text(name)
    exact = [j for j, f in enumerate(pool.folded) if f == folded]
    if len(exact) == 1:
        return str(pool.ids[exact[0]]), "name", 100.0, ""
    if not pool.folded:
        return None, "unknown", np.nan, ""
    best = process.extract(folded, pool.folded, scorer=fuzz.ratio, limit=3)
    cands = "; ".join(f"{pool.names[j]} [{pool.ids[j]}] {s:.0f}" for _, s, j in best)
    top = best[0][1]
    second = best[1][1] if len(best) > 1 else 0.0
    if len(exact) > 1:
        return None, "ambiguous", top, cands
    if top >= score_cutoff and top - second >= margin:
        return str(pool.ids[best[0][2]]), "fuzzy", top, cands
    return None, ("ambiguous" if top >= score_cutoff else "unknown"), top, cands


def _match_row(cid: Any, name: Any, county: Any, prog: _Programme, *,
               score_cutoff: float, margin: float) -> _Match:
    ckey, recognised = _county_key(county, prog.known)
    if isinstance(cid, str | int) and normalize_text(str(cid)) in prog.id_set:
        found = prog.id_set[normalize_text(str(cid))]
        if ckey is None and len(prog.ids):
            ckey = prog.counties[np.flatnonzero(prog.ids == found)[0]] or None
        return _Match(found, ckey, "id", 100.0, "", not recognised)
    if not isinstance(name, str) or not name.strip():
        return _Match(None, ckey, "missing", np.nan, "", not recognised)
    pool = prog.by_county.get(ckey or "", prog.everyone) if recognised and ckey \
        else prog.everyone
    found_id, kind, score, cands = _by_name(name, pool, score_cutoff=score_cutoff,
                                            margin=margin)
    if ckey in prog.no_geo and found_id is None:
        kind = "no_geometry"
    return _Match(found_id, ckey, kind, score, cands, not recognised)


def match_compounds(
    rows: pd.DataFrame,
    compounds: pd.DataFrame,
    *,
    score_cutoff: float = 75.0,
    margin: float = 8.0,
    units_without_geometry: Iterable[str] = (),
    known_units: Iterable[str] = (),
) -> pd.DataFrame:
    """Match report rows to compounds by id, else by name within the county.

    Names are compared after :func:`gisplan.schema.normalize_text`; an exact name that is
    unique in its county matches; otherwise the nearest name by
    :func:`rapidfuzz.fuzz.ratio` matches only when it scores at least *score_cutoff* and
    beats the runner-up by *margin* (so 工商小区南段 never silently becomes 北段).
    Everything else is left unmatched with its best candidates listed.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``compound_id``, ``compound_name`` and ``county`` as reported (any may be missing).
    compounds : pandas.DataFrame
        The programme's ``compounds``: ``compound_id``, ``name``, ``county``.
    score_cutoff : float, default 75
        Smallest similarity (0–100) for a fuzzy match. One wrong character in a
        four-character name scores 75.
    margin : float, default 8
        How much better than the runner-up a fuzzy match must be.
    units_without_geometry : iterable of str
        Reporting units (e.g. 经开区) that have no compound geometry: their rows are kept
        and matched by name when the unit's compounds are listed.
    known_units : iterable of str
        Reporting units of the programme besides the counties of *compounds*.

    Returns
    -------
    pandas.DataFrame
        Index of *rows*; ``compound_id`` (matched id or None), ``county`` (canonical),
        ``match`` (:data:`MatchKind`), ``score``, ``candidates``
        (``"名称 [编号] 88"`` joined by ``; ``) and ``unknown_county`` (bool).
    """
    prog = _index(compounds, units_without_geometry, known_units)
    n = len(rows)

    def col(name: str) -> pd.Series:
        return rows[name].astype(object) if name in rows else pd.Series([None] * n,
                                                                          dtype=object)

    found = [_match_row(cid, name, county, prog, score_cutoff=score_cutoff, margin=margin)
             for cid, name, county in zip(col("compound_id"), col("compound_name"),
                                          col("county"), strict=True)]
    columns = {f: [getattr(m, f) for m in found] for f in _Match._fields}
    return pd.DataFrame({
        "compound_id": pd.Series(columns["compound_id"], index=rows.index, dtype=object),
        "county": pd.Series(columns["county"], index=rows.index, dtype=object),
        "match": pd.Series(columns["match"], index=rows.index, dtype=object),
        "score": np.asarray(columns["score"], dtype=float),
        "candidates": pd.Series(columns["candidates"], index=rows.index, dtype=object),
        "unknown_county": np.asarray(columns["unknown_county"], dtype=bool)},
        index=rows.index)
