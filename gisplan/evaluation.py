"""County evaluation (考核评价): weighted mid-year and year-end scores, ranking, top 3.

Xuchang (三(五)) inspects in July and December, combines the two by weight and names 3
excellent counties. The weights, inspection dates and score components are data
(``data/evaluation_weights.toml``). Scores come either from a sheet (one row per county
with the mid-year and year-end scores, :func:`evaluate_scores`) or are computed from the
progress log (:func:`progress_scores`): per inspection, the share of each county's
households whose compound had reached a stage (started, completed, accepted) by the
inspection date, weighted by component.

Examples
--------
>>> import pandas as pd
>>> from gisplan.evaluation import evaluate_scores
>>> sheet = pd.DataFrame({"县区": ["甲", "乙", "丙", "丁"], "年中": [90, 80, 70, 95],
...                       "年终": [80, 90, 70, 60]})
>>> r = evaluate_scores(sheet)
>>> r.frame[["county", "score", "rank", "top"]].values.tolist()
[['乙', 86.0, 1, True], ['甲', 84.0, 2, True], ['丁', 74.0, 3, True], ['丙', 70.0, 4, False]]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import InputError, SchemaError
from gisplan.costs import data_toml
from gisplan.findings import Finding, Report
from gisplan.schema import normalize_text, stage_order, term
from gisplan.sources import ProgrammeLike, as_project, read_layers

__all__ = ["EvaluationResult", "EvaluationWeights", "evaluate_project", "evaluate_scores",
           "load_evaluation_weights", "progress_scores"]

_SHEET_ALIASES = {"county": ["county", "县区", "县（市、区）", "县市区", "区县", "单位"],
                  "mid_year": ["mid_year", "年中", "年中得分", "7月", "年中检查"],
                  "year_end": ["year_end", "年终", "年终得分", "12月", "年终检查"]}


@dataclass(frozen=True)
class EvaluationWeights:
    """Inspections (weight, date), score components (weight, stage), top_n, source."""

    inspections: dict[str, dict[str, Any]]
    components: dict[str, dict[str, Any]]
    top_n: int
    source: str
    file: str


def _weights_sum(table: dict[str, Any], key: str, file: str) -> None:
    for name, spec in table.items():
        w = spec.get("weight")
        if not isinstance(w, int | float) or w < 0:
            raise InputError("a weight must be a number from 0 to 1", file=file,
                             column=f"{key}.{name}.weight", value=w,
                             hint="write weights as fractions (0.4 for 40 %)")
    total = sum(float(s["weight"]) for s in table.values())
    if abs(total - 1) > 1e-6:
        raise InputError(f"the {key} weights add up to {total:g}, not 1", file=file,
                         column=f"{key}.*.weight",
                         value={n: s["weight"] for n, s in table.items()},
                         hint="change them so that they add up to 1")


def load_evaluation_weights(path: str | Path | None = None) -> EvaluationWeights:
    """Read and check evaluation weights (default: ``data/evaluation_weights.toml``).

    Raises
    ------
    InputError
        When the inspection or component weights do not add up to 1, a weight is not a
        number from 0 to 1, or a component names an unknown stage.

    Examples
    --------
    >>> w = load_evaluation_weights()
    >>> {k: v["weight"] for k, v in w.inspections.items()}, w.top_n
    ({'mid_year': 0.4, 'year_end': 0.6}, 3)
    """
    doc, file = data_toml(path, "evaluation_weights.toml")
    insp = dict(doc.get("inspections", {}))
    comp = dict(doc.get("components", {}))
    if not insp:
        raise InputError("no inspections", file=file, column="inspections",
                         hint="add [inspections.mid_year] and [inspections.year_end]")
    _weights_sum(insp, "inspections", file)
    if comp:
        _weights_sum(comp, "components", file)
    for name, spec in comp.items():
        if term("stage", spec.get("stage")) is None:
            raise InputError("unknown stage", file=file, column=f"components.{name}.stage",
                             value=spec.get("stage"), hint="use one of " +
                             ", ".join(stage_order()))
    top = doc.get("top_n", 3)
    if not isinstance(top, int) or top < 1:
        raise InputError("top_n must be a whole number of at least 1", file=file,
                         column="top_n", value=top, hint="write top_n = 3")
    return EvaluationWeights(insp, comp, top, str(doc.get("source", "")), file)


@dataclass
class EvaluationResult:
    """Ranking per county (store table ``evaluation``) and its findings.

    ``frame``: ``county``, ``<inspection>_score`` per inspection, components
    (``<inspection>_<component>``, when computed from progress), ``score`` (weighted),
    ``rank``, ``top`` (among the top *n*), ``explanation``.
    """

    frame: pd.DataFrame
    report: Report
    weights: EvaluationWeights


def _rank(frame: pd.DataFrame, w: EvaluationWeights) -> pd.DataFrame:
    score = sum(frame[f"{k}_score"].astype(float) * float(v["weight"])
                for k, v in w.inspections.items())
    out = frame.assign(score=np.round(np.asarray(score, dtype=float), 2))
    out = out.sort_values(["score", "county"], ascending=[False, True], kind="stable")
    out["rank"] = out["score"].rank(method="min", ascending=False).astype(int)
    out["top"] = out["rank"] <= w.top_n
    out["explanation"] = [" + ".join(
        f"{w.inspections[k].get('zh', k)} {r[f'{k}_score']:.1f}×{w.inspections[k]['weight']:g}"
        for k in w.inspections) + f" = {r['score']:.2f}" for _, r in out.iterrows()]
    return out.reset_index(drop=True)


def _note_ties(frame: pd.DataFrame, w: EvaluationWeights, rep: Report) -> None:
    """Add a ``tie_at_top`` finding when ties at the cut put more than top_n on top."""
    n = int(frame["top"].sum())
    if n > w.top_n:
        tied = frame.loc[frame["rank"] == frame.loc[frame["top"], "rank"].max(), "county"]
        rep.add(Finding("warning", "tie_at_top", f"{n} counties share the top {w.top_n} "
                        f"(tied: {'、'.join(tied)})", layer="evaluation", column="score",
                        hint="break the tie by the rule of the 考核办法"))


def _find_column(sheet: pd.DataFrame, key: str) -> str | None:
    norm = {normalize_text(c): c for c in sheet.columns}
    for alias in _SHEET_ALIASES.get(key, [key]):
        if normalize_text(alias) in norm:
            return str(norm[normalize_text(alias)])
    return None


def evaluate_scores(sheet: pd.DataFrame, *, weights: EvaluationWeights | None = None,
                    file: str | None = None) -> EvaluationResult:
    """Rank counties from a sheet of inspection scores.

    Parameters
    ----------
    sheet : DataFrame
        One row per county: ``county`` (县区) and one score column per inspection
        (``mid_year``/年中, ``year_end``/年终, or the inspection keys of the weights).
    weights : EvaluationWeights, optional
    file : str, optional
        Named in errors.

    Raises
    ------
    SchemaError
        A missing county or score column.
    """
    w = weights or load_evaluation_weights()
    rep = Report()
    col = _find_column(sheet, "county")
    if col is None:
        raise SchemaError("the score sheet has no county column", file=file, column="县区",
                          hint="name the column 县区 (or county)")
    out = pd.DataFrame({"county": sheet[col].astype(str).str.strip()})
    for k in w.inspections:
        c = _find_column(sheet, k)
        if c is None:
            raise SchemaError(f"the score sheet has no '{k}' score column", file=file,
                              column=k, hint="add a column " + "/".join(
                                  _SHEET_ALIASES.get(k, [k])[:2]))
        v = pd.to_numeric(sheet[c], errors="coerce")
        bad = v.isna() | (v < 0) | (v > 100)
        rep.add_capped((Finding("warning", "bad_score", "score is not a number from 0 to "
                                "100; counted as 0", file=file, row=i + 1, column=c,
                                value=sheet[c].iat[int(i)], hint="write the score (0-100)")
                        for i in np.flatnonzero(bad.to_numpy())), total=int(bad.sum()))
        out[f"{k}_score"] = v.where(~bad, 0.0).to_numpy(dtype=float)
    rep.count("evaluation", len(sheet), len(out))
    ranked = _rank(out, w)
    _note_ties(ranked, w, rep)
    return EvaluationResult(ranked, rep, w)


def _stage_at(log: pd.DataFrame, when: pd.Timestamp) -> pd.Series:
    """Highest stage index reached per compound by *when* (-1: none)."""
    order = {s: i for i, s in enumerate(stage_order())}
    d = pd.to_datetime(log["date"], errors="coerce")
    idx = log["stage"].map(lambda s: order.get(term("stage", s) or "", -1))
    sel = (d <= when).to_numpy()
    return pd.Series(idx[sel].to_numpy(), index=log["compound_id"].astype(str)[sel]
                     ).groupby(level=0).max()


def progress_scores(compounds: pd.DataFrame, progress_log: pd.DataFrame, *, year: int,
                    weights: EvaluationWeights | None = None) -> EvaluationResult:
    """Compute inspection scores per county from the progress log, and rank.

    Parameters
    ----------
    compounds : DataFrame
        ``compound_id``, ``county``, ``households``.
    progress_log : DataFrame
        ``compound_id``, ``date``, ``stage``.
    year : int
        The programme year; inspection dates are ``<year>-<date>`` of the weights.
    weights : EvaluationWeights, optional

    Returns
    -------
    EvaluationResult
        With one ``<inspection>_<component>`` column (0-100) per component.
    """
    w = weights or load_evaluation_weights()
    order = {s: i for i, s in enumerate(stage_order())}
    cid = compounds["compound_id"].astype(str)
    hh = pd.to_numeric(compounds["households"], errors="coerce").fillna(0).to_numpy()
    county = compounds["county"].astype(str).to_numpy()
    out = pd.DataFrame({"county": sorted(set(county))})
    total = pd.Series(hh).groupby(county).sum()
    for k, spec in w.inspections.items():
        reached = _stage_at(progress_log, pd.Timestamp(f"{year}-{spec['date']}"))
        at = cid.map(reached).fillna(-1).to_numpy()
        score = np.zeros(len(out))
        for c, cs in w.components.items():
            need = order[term("stage", cs["stage"]) or ""]
            done = pd.Series(hh * (at >= need)).groupby(county).sum()
            share = (100 * done / total.where(total > 0)).reindex(out["county"]).fillna(0)
            out[f"{k}_{c}"] = share.round(1).to_numpy()
            score += share.to_numpy() * float(cs["weight"])
        out[f"{k}_score"] = np.round(score, 2)
    rep = Report()
    rep.count("evaluation", len(out), len(out))
    ranked = _rank(out, w)
    _note_ties(ranked, w, rep)
    return EvaluationResult(ranked, rep, w)


def evaluate_project(source: ProgrammeLike, *, sheet: pd.DataFrame | None = None,
                     weights: EvaluationWeights | str | Path | None = None
                     ) -> EvaluationResult:
    """Evaluate a programme's counties: from *sheet* if given, else from progress.

    Examples
    --------
    >>> r = evaluate_project("layers/xuchang_2023.gpkg")
    >>> len(r.frame), int(r.frame["top"].sum())
    (5, 3)
    """
    w = weights if isinstance(weights, EvaluationWeights) else load_evaluation_weights(weights)
    p = as_project(source)
    if sheet is not None:
        return evaluate_scores(sheet, weights=w, file=str(p.path))
    layers = read_layers(p, ["compounds", "progress_log"])
    year = int(p.meta.get("year") or pd.Timestamp.now().year)
    return progress_scores(layers["compounds"], layers["progress_log"], year=year, weights=w)
