"""联系点 candidates per county (Xuchang 五(五)), with scoring as data and overrides.

Each county picks contact-point projects in the number the plan sets (Xuchang: 禹州市 and
襄城县 3 each; 长葛市, 魏都区, 建安区 5 each) that are of moderate size, have a good
grassroots base, much space and facilities to integrate, and potential for social
capital. ``data/contact_point_scoring.toml`` holds the counts (or the programme meta
``contact_points``) and the criteria; every compound gets a score in [0, 1] per
criterion, a weighted total and an explanation; the best *n* per county are proposed.
A planner's override file (``compound_id, action, reason``; action ``include``/纳入 or
``exclude``/排除) forces a compound in or out; the county still gets *n*.

Examples
--------
>>> import pandas as pd
>>> from gisplan.contact_points import score_candidates, pick
>>> c = pd.DataFrame({"compound_id": list("ABCD"), "county": ["X"] * 4,
...                   "households": [10, 50, 60, 500],
...                   "planned_items": ["屋面", "停车场、物业用房", "屋面", "屋面"]})
>>> s = score_candidates(c, counts={"X": 1})
>>> pick(s.frame, {"X": 1}).query("selected")["compound_id"].tolist()
['B']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gisplan._errors import InputError, SchemaError
from gisplan.costs import data_toml
from gisplan.design import parse_items
from gisplan.findings import Finding, Report
from gisplan.sources import ProgrammeLike, as_project, read_layers

__all__ = ["ContactPointResult", "contact_points_project", "load_overrides", "load_scoring",
           "pick", "score_candidates"]

_ACTIONS = {"include": "include", "纳入": "include", "选定": "include", "exclude": "exclude",
            "排除": "exclude", "剔除": "exclude"}


def load_scoring(path: str | Path | None = None) -> dict[str, Any]:
    """Read the scoring file (default ``data/contact_point_scoring.toml``), weights checked.

    Examples
    --------
    >>> s = load_scoring()
    >>> s["counts"]["许昌市"]["禹州市"], sorted(s["criteria"])
    (3, ['consent', 'size', 'social_capital', 'space'])
    """
    doc, file = data_toml(path, "contact_point_scoring.toml")
    crit = doc.get("criteria", {})
    total = sum(float(c.get("weight", 0)) for c in crit.values())
    if abs(total - 1) > 1e-6:
        raise InputError(f"the criteria weights add up to {total:g}, not 1", file=file,
                         column="criteria.*.weight",
                         value={k: c.get("weight") for k, c in crit.items()},
                         hint="change them so that they add up to 1")
    doc["file"] = file
    return doc


def _size_score(hh: np.ndarray, county: np.ndarray, q: list[float]) -> np.ndarray:
    out = np.zeros(len(hh))
    for c in np.unique(county):
        m = county == c
        v = hh[m]
        lo, hi = np.nanquantile(v, q[0]), np.nanquantile(v, q[1])
        mn, mx = np.nanmin(v), np.nanmax(v)
        s = np.ones(len(v))
        below, above = v < lo, v > hi
        s[below] = (v[below] - mn) / (lo - mn) if lo > mn else 0.0
        s[above] = (mx - v[above]) / (mx - hi) if mx > hi else 0.0
        out[m] = np.nan_to_num(s)
    return out


def _latest_consent(log: pd.DataFrame | None, cid: pd.Series) -> np.ndarray:
    if log is None or "consent_rate" not in log:
        return np.full(len(cid), np.nan)
    lg = log.dropna(subset=["consent_rate"]).sort_values("date")
    last = lg.groupby(lg["compound_id"].astype(str))["consent_rate"].last()
    return cid.map(last).to_numpy(dtype=float, na_value=np.nan)


def _count_items(items: list[list[str]], keys: list[str]) -> np.ndarray:
    ks = set(keys)
    return np.array([sum(k in ks for k in it) for it in items], dtype=float)


def _nearby(compounds: Any, facilities: Any, radius: float) -> np.ndarray:
    if facilities is None or not len(facilities) or not hasattr(compounds, "geometry"):
        return np.zeros(len(compounds))
    from gisplan.crs import project_layers

    m, _ = project_layers({"compounds": compounds, "facilities": facilities})
    ci, _ = shapely.STRtree(m["facilities"].geometry.to_numpy()).query(
        m["compounds"].geometry.to_numpy(), predicate="dwithin", distance=radius)
    return np.bincount(ci, minlength=len(compounds)).astype(float)


@dataclass
class ContactPointResult:
    """Candidates (store layer ``contact_points``): every compound, scored and ranked.

    ``frame`` columns: ``compound_id``, ``name``, ``county``, ``households``,
    ``score_size``, ``score_consent``, ``score_space``, ``score_social_capital``,
    ``score``, ``rank_in_county``, ``override``, ``override_reason``, ``selected``,
    ``explanation``.
    """

    frame: pd.DataFrame
    counts: dict[str, int]
    report: Report


def score_candidates(compounds: pd.DataFrame, *, counts: dict[str, int],
                     progress_log: pd.DataFrame | None = None, facilities: Any = None,
                     scoring: dict[str, Any] | None = None) -> ContactPointResult:
    """Score every compound on the 联系点 criteria (see the module docstring)."""
    sc = scoring or load_scoring()
    cr = sc["criteria"]
    cid = compounds["compound_id"].astype(str)
    county = compounds["county"].astype(str).to_numpy()
    hh = pd.to_numeric(compounds["households"], errors="coerce").to_numpy(dtype=float,
                                                                         na_value=np.nan)
    items = [parse_items(v)[0] for v in compounds.get(
        "planned_items", pd.Series(None, index=compounds.index)).tolist()]
    consent = _latest_consent(progress_log, cid)
    floor = float(cr["consent"].get("floor", 0.8))
    n_space = _count_items(items, cr["space"]["items"])
    n_near = _nearby(compounds, facilities, float(cr["space"].get("radius_m", 300)))
    n_social = _count_items(items, cr["social_capital"]["items"])
    s = {"size": _size_score(hh, county, cr["size"].get("band_quantiles", [0.25, 0.75])),
         "consent": np.clip(np.nan_to_num((consent - floor) / (1 - floor)), 0, 1),
         "space": np.clip((n_space + n_near) / float(cr["space"].get("full", 8)), 0, 1),
         "social_capital": np.clip(n_social / float(cr["social_capital"].get("full", 3)),
                                   0, 1)}
    out = pd.DataFrame({"compound_id": cid, "name": compounds.get("name"),
                        "county": county, "households": hh}, index=compounds.index)
    for k, v in s.items():
        out[f"score_{k}"] = np.round(v, 3)
    out["score"] = np.round(sum(s[k] * float(cr[k]["weight"]) for k in s), 3)
    out["explanation"] = [
        f"{cr['size']['zh']} {h:.0f}户 ({a:.2f})；{cr['consent']['zh']} "
        f"{'未填' if np.isnan(r) else f'{r:.0%}'} ({b:.2f})；{cr['space']['zh']} "
        f"{ns:.0f}项+周边设施{nn:.0f}处 ({c:.2f})；{cr['social_capital']['zh']} {nc:.0f}项 "
        f"({d:.2f})" for h, r, ns, nn, nc, a, b, c, d in zip(
            hh, consent, n_space, n_near, n_social, s["size"], s["consent"], s["space"],
            s["social_capital"], strict=True)]
    rep = Report()
    for c, n in counts.items():
        have = int((county == c).sum())
        if have < n:
            rep.add(Finding("warning", "too_few_candidates", f"{c} must name {n} 联系点 but "
                            f"has {have} compounds", layer="compounds", value=c,
                            hint="check the county names of the compounds"))
    return ContactPointResult(out, counts, rep)


def pick(scored: pd.DataFrame, counts: dict[str, int],
         overrides: pd.DataFrame | None = None) -> pd.DataFrame:
    """Select the best *n* per county, after overrides (include first, excluded never)."""
    out = scored.copy()
    ov = {} if overrides is None else dict(zip(overrides["compound_id"].astype(str),
                                                overrides["action"], strict=False))
    why = {} if overrides is None else dict(zip(overrides["compound_id"].astype(str),
                                                 overrides.get("reason", ""), strict=False))
    out["override"] = out["compound_id"].map(lambda c: ov.get(c, ""))
    out["override_reason"] = out["compound_id"].map(lambda c: why.get(c, ""))
    prio = out["override"].map({"include": 0, "exclude": 2}).fillna(1)
    out = out.assign(_p=prio).sort_values(["county", "_p", "score", "compound_id"],
                                          ascending=[True, True, False, True], kind="stable")
    out["rank_in_county"] = out.groupby("county").cumcount() + 1
    n = out["county"].map(counts).fillna(0)
    out["selected"] = (out["rank_in_county"] <= n) & (out["override"] != "exclude")
    return out.drop(columns="_p")


def load_overrides(path: str | Path, known: set[str]) -> tuple[pd.DataFrame, Report]:
    """Read an override CSV (``compound_id``/小区编号, ``action``/操作, ``reason``/理由).

    Unknown compound ids and actions are flagged findings (the row is kept in the file,
    not applied); nothing else is lost.
    """
    rep = Report()
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df = df.rename(columns={"小区编号": "compound_id", "操作": "action", "理由": "reason"})
    if not {"compound_id", "action"} <= set(df.columns):
        raise SchemaError("the override file needs compound_id and action columns",
                          file=str(path), column="compound_id, action",
                          hint="header: compound_id,action,reason (or 小区编号,操作,理由)")
    df["action"] = df["action"].str.strip().map(lambda a: _ACTIONS.get(a.lower(), ""))
    ok = np.ones(len(df), dtype=bool)
    for i, (c, a) in enumerate(zip(df["compound_id"], df["action"], strict=True)):
        if c not in known or not a:
            ok[i] = False
            rep.add(Finding("warning", "bad_override", "override not applied: " +
                            ("unknown compound" if c not in known else "unknown action"),
                            file=str(path), row=i + 1, value=c,
                            hint="use a compound_id of the programme and action "
                            "include/纳入 or exclude/排除"))
    return df[ok], rep


def _counts(meta: dict[str, Any], scoring: dict[str, Any], file: str) -> dict[str, int]:
    if isinstance(meta.get("contact_points"), dict):
        return {str(k): int(v) for k, v in meta["contact_points"].items()}
    by_city = scoring.get("counts", {}).get(str(meta.get("city")))
    if by_city is None:
        raise InputError("no 联系点 counts for this programme", file=file,
                         column="contact_points", value=meta.get("city"),
                         hint="set the programme meta contact_points = {县区 = n} or add "
                         "[counts.<city>] to contact_point_scoring.toml")
    return {str(k): int(v) for k, v in by_city.items() if k != "source"}


def contact_points_project(source: ProgrammeLike, *, override: str | Path | None = None,
                           scoring: str | Path | None = None) -> ContactPointResult:
    """Propose each county's 联系点 (adapter).

    Examples
    --------
    >>> r = contact_points_project("layers/xuchang_2023.gpkg")
    >>> r.frame[r.frame["selected"]].groupby("county").size().to_dict()
    {'建安区': 5, '禹州市': 3, '襄城县': 3, '长葛市': 5, '魏都区': 5}
    """
    p = as_project(source)
    layers = read_layers(p, ["compounds"], optional=["progress_log", "facilities"])
    sc = load_scoring(scoring)
    counts = _counts(p.meta, sc, str(p.path))
    res = score_candidates(layers["compounds"], counts=counts,
                           progress_log=layers["progress_log"],
                           facilities=layers["facilities"], scoring=sc)
    ov = None
    if override is not None:
        ov, orep = load_overrides(override, set(res.frame["compound_id"]))
        res.report.merge(orep)
    res.frame = pick(res.frame, counts, ov)
    res.report.count("contact_points", len(layers["compounds"]), len(res.frame))
    return res
