"""Reconcile a plan with itself and with its compounds (计划核对).

Plans are written by people and are rarely self-consistent. This module compares:

* stated totals with the sum of their parts, at every level of ``plan_targets``
  (programme → county → 片区) and with the compounds layer's own sums per unit
  (``total_mismatch``);
* compound names spelled two ways (``near_duplicate_name``), and names in the plan's
  lists that match no compound (``name_not_in_compounds``);
* numbered lists that skip or repeat a number (``list_numbering_gap``), whose count
  disagrees with their last number or with a stated count (``list_count_mismatch``), or
  that mix separators (``list_number_separator``);
* units named in the plan or the data that have no polygon (``unit_without_geometry``);
  their rows are kept.

The cores work on plain frames (:func:`stated_vs_parts`, :func:`near_duplicate_pairs`);
:func:`reconcile_frames` turns them into findings and :func:`reconcile` reads a store.

Examples
--------
>>> import pandas as pd
>>> from gisplan.reconcile import reconcile_frames
>>> targets = pd.DataFrame({"level": ["programme", "pianqu", "pianqu"],
...                         "unit": ["原州区", "西关北街", "南城路"],
...                         "parent": [None, "原州区", "原州区"],
...                         "buildings": [84, 35, 17]})
>>> report = reconcile_frames(plan_targets=targets)
>>> print(report.findings[0].message)  # doctest: +ELLIPSIS
原州区 (programme) states 84 buildings 楼栋数 but its 2 parts sum to 52 ...
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from gisplan.findings import Finding, Report, Severity
from gisplan.schema import normalize_text, term

if TYPE_CHECKING:
    from gisplan.store import Project

__all__ = [
    "MEASURES",
    "near_duplicate_pairs",
    "reconcile",
    "reconcile_frames",
    "stated_vs_parts",
]

#: measures stated in ``plan_targets``, with their Chinese names
MEASURES: dict[str, str] = {
    "compounds": "小区数",
    "households": "户数",
    "buildings": "楼栋数",
    "floor_area_m2": "住宅建筑面积（平方米）",
}
#: which compounds column holds the unit of each ``plan_targets`` level
LEVEL_COLUMN: dict[str, str] = {"county": "county", "street": "street", "pianqu": "district"}
_LEVEL_ZH = {"programme": "计划", "county": "县区", "street": "街道", "pianqu": "片区"}
_IN_PLAN = {None, "planned"}  # compound status counted in the plan's figures


@cache
def _rules() -> dict[str, Any]:
    text = resources.files("gisplan.data").joinpath("names.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _marks() -> frozenset[str]:
    return frozenset(_rules()["segment_marks"])


def _unit_key(name: Any) -> str:
    """Fold a unit name for matching: 西关北街片区 and 西关北街 give the same key."""
    key = normalize_text(name)
    for suffix in _rules()["unit_suffixes"]:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
    return key


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and \
        value is not pd.NA and str(value).strip() != ""


def _fmt(value: float, measure: str) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".") if measure == "floor_area_m2" else \
        f"{round(value):,}"


# ----------------------------------------------------------------------------- totals


def _not_planned(compounds: pd.DataFrame) -> int:
    """Count the compounds whose status is given and is not 纳入计划 (planned)."""
    if "status" not in compounds.columns:
        return 0
    status = compounds["status"].map(lambda v: term("compound_status", v) if _present(v) else None)
    return int((~status.isin(_IN_PLAN)).sum())


def stated_vs_parts(
    plan_targets: pd.DataFrame,
    compounds: pd.DataFrame | None = None,
    *,
    measures: Sequence[str] = tuple(MEASURES),
) -> pd.DataFrame:
    """Compare each stated figure with the sum of its parts.

    Two kinds of parts: the child units of ``plan_targets`` (rows whose ``parent`` is
    the unit; a county or 片区 without a parent belongs to the single programme row),
    and the compounds of the unit in the compounds layer (``county``, ``street`` or
    ``district`` column by level; all compounds for the programme). Every compound of
    the layer counts, whatever its ``status``: a plan's figures include the compounds
    that the eligibility check may later exclude.

    Parameters
    ----------
    plan_targets : pandas.DataFrame
        The ``plan_targets`` table (``level``, ``unit``, ``parent`` and measures).
    compounds : pandas.DataFrame, optional
        The compounds layer.
    measures : sequence of str
        Measures to compare (default: compounds, households, buildings, floor area).

    Returns
    -------
    pandas.DataFrame
        One row per unit × measure × kind of parts that can be compared: ``level``,
        ``unit``, ``measure``, ``stated``, ``parts`` (``plan_targets`` or ``compounds``),
        ``n_parts``, ``part_names``, ``part_values``, ``sum_of_parts``, ``missing_parts``
        (parts without a value; then ``sum_of_parts`` is NaN), ``not_planned`` (compounds
        whose status is not planned) and ``difference`` (stated − sum of parts).
    """
    cols = ["level", "unit", "measure", "stated", "parts", "n_parts", "part_names",
            "part_values", "sum_of_parts", "missing_parts", "not_planned", "difference"]
    t = plan_targets.reset_index(drop=True)
    if t.empty or "unit" not in t.columns:
        return pd.DataFrame(columns=cols)
    level = t.get("level", pd.Series([None] * len(t))).astype(object)
    parent = t["parent"].astype(object) if "parent" in t.columns else pd.Series([None] * len(t))
    programme = t.loc[level == "programme", "unit"].tolist()
    parent = parent.where(parent.map(_present), programme[0] if len(programme) == 1 else None)
    parent = parent.where(level != "programme", None)
    parent_key = parent.map(lambda v: _unit_key(v) if _present(v) else None)
    unit_key = t["unit"].map(_unit_key)
    comp = compounds
    rows: list[dict[str, Any]] = []
    for i in range(len(t)):
        lvl, unit = level.iloc[i], t["unit"].iloc[i]
        children = t[(parent_key == unit_key.iloc[i]).to_numpy()]
        for m in measures:
            if m not in t.columns or not _present(t[m].iloc[i]):
                continue
            stated = float(t[m].iloc[i])
            if len(children) and m in children.columns:
                vals = pd.to_numeric(children[m], errors="coerce")
                rows.append({"level": lvl, "unit": unit, "measure": m, "stated": stated,
                             "parts": "plan_targets", "n_parts": len(children),
                             "part_names": children["unit"].tolist(),
                             "part_values": vals.tolist(),
                             "sum_of_parts": float(vals.sum()) if vals.notna().all() else np.nan,
                             "missing_parts": int(vals.isna().sum()), "not_planned": 0})
            if comp is None:
                continue
            if lvl == "programme":
                mine = comp
            elif LEVEL_COLUMN.get(str(lvl)) in comp.columns:
                keys = comp[LEVEL_COLUMN[str(lvl)]].map(lambda v: _unit_key(v) if _present(v)
                                                        else None)
                mine = comp[(keys == unit_key.iloc[i]).to_numpy(dtype=bool)]
            else:
                continue
            if m == "compounds":
                vals = pd.Series(np.ones(len(mine)))
            elif m in mine.columns:
                vals = pd.to_numeric(mine[m], errors="coerce")
            else:
                continue
            rows.append({"level": lvl, "unit": unit, "measure": m, "stated": stated,
                         "parts": "compounds", "n_parts": len(mine), "part_names": [],
                         "part_values": [],
                         "sum_of_parts": float(vals.sum()) if vals.notna().all() else np.nan,
                         "missing_parts": int(vals.isna().sum()),
                         "not_planned": _not_planned(mine)})
    out = pd.DataFrame(rows, columns=cols)
    out["difference"] = out["stated"] - out["sum_of_parts"]
    return out


def _total_findings(table: pd.DataFrame, *, area_tolerance_m2: float,
                    file: str | None) -> list[Finding]:
    out = []
    for rec in table.to_dict("records"):
        r = SimpleNamespace(**{str(k): v for k, v in rec.items()})
        measure, lvl = str(r.measure), str(r.level)
        label = f"{MEASURES[measure].split('（')[0]}"
        what = f"{r.unit} ({lvl})"
        if r.missing_parts:
            out.append(Finding(
                "info", "total_not_checked",
                f"{what} states {_fmt(r.stated, measure)} {measure} {label}, but "
                f"{r.missing_parts} of its {r.n_parts} "
                f"{'parts' if r.parts == 'plan_targets' else 'compounds'} have no value",
                file=file, layer=str(r.parts), row=r.unit, column=measure, value=r.stated,
                hint=f"fill in {label} for every part to check the total"))
            continue
        tol = area_tolerance_m2 if measure == "floor_area_m2" else 0.5
        if abs(r.difference) <= tol:
            continue
        if r.parts == "plan_targets":
            sums = " + ".join(f"{n} {_fmt(v, measure)}" for n, v in
                              zip(r.part_names, r.part_values, strict=True))
            msg = (f"{what} states {_fmt(r.stated, measure)} {measure} {label} but its "
                   f"{r.n_parts} parts sum to {_fmt(r.sum_of_parts, measure)} ({sums}); "
                   f"difference {_fmt(r.difference, measure)}")
            hint = "correct the total or the part that is wrong in the plan document"
        else:
            note = (f" ({r.not_planned} of them with a status other than 纳入计划 planned)"
                    if r.not_planned else "")
            msg = (f"{what} states {_fmt(r.stated, measure)} {measure} {label} but its "
                   f"{r.n_parts} compounds in the compounds layer{note} sum to "
                   f"{_fmt(r.sum_of_parts, measure)}; difference {_fmt(r.difference, measure)}")
            hint = "check the per-compound figures against the plan, or the plan's total"
        out.append(Finding("warning", "total_mismatch", msg, file=file, layer="plan_targets",
                           row=r.unit, column=measure,
                           value={"stated": r.stated, "sum_of_parts": r.sum_of_parts,
                                  "difference": r.difference, "parts": r.parts},
                           hint=hint))
    return out


# ----------------------------------------------------------------------------- names


def _one_edit_candidates(norms: Sequence[str], marks: frozenset[str]) -> pd.DataFrame:
    """Return pairs of positions in *norms* (distinct strings) one edit apart, not in a mark.

    Exact, in O(n × length) by blocking: a substitution at position k leaves the same
    string with k masked; an insertion leaves the shorter string when k is deleted. The
    masked and shortened strings of every name are built one position at a time over all
    names at once (Arrow string kernels), and grouped by pandas; only names that share a
    masked string are paired. Edits of segment marks alone (南/北, A/C, 1/2) are left out
    here, so that a city of numbered compounds does not produce a candidate for every pair
    of numbers.

    Returns
    -------
    pandas.DataFrame
        ``i < j`` (positions in *norms*), ``left`` (the character of ``norms[i]`` that
        differs, empty when inserted in ``norms[j]``) and ``right``, sorted by ``i, j``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    empty = pd.DataFrame({"i": pd.Series(dtype="int64"), "j": pd.Series(dtype="int64"),
                          "left": pd.Series(dtype=object), "right": pd.Series(dtype=object)})
    if len(norms) < 2:
        return empty
    arr = pa.array(list(norms), type=pa.string())
    lengths = pc.utf8_length(arr).to_numpy()
    ids, chars, masked, shortened = [], [], [], []
    for k in range(int(lengths.max())):  # a loop over positions; each runs over all names
        idx = np.flatnonzero(lengths > k)
        sub = arr.take(pa.array(idx))
        head = pc.utf8_slice_codeunits(sub, 0, k)
        tail = pc.utf8_slice_codeunits(sub, k + 1, np.iinfo(np.int64).max)
        ids.append(idx)
        chars.append(pc.utf8_slice_codeunits(sub, k, k + 1))
        masked.append(pc.binary_join_element_wise(head, tail, "\x00"))
        shortened.append(pc.binary_join_element_wise(head, tail, ""))
    # strings stay in Arrow (hashed in C); pandas sees integer codes only
    i = np.concatenate(ids)
    ch = pa.concat_arrays(chars)
    key = pc.dictionary_encode(pa.concat_arrays(masked)).indices.to_numpy()
    mark = pc.is_in(ch, value_set=pa.array(sorted(marks), type=pa.string())).to_numpy(
        zero_copy_only=False)

    # substitutions: names sharing a masked string, at least one without a mark there
    shared = np.flatnonzero(np.bincount(key)[key] > 1)
    rows = pd.DataFrame({"key": key[shared], "i": i[shared], "row": shared,
                         "mark": mark[shared]})
    pairs = rows[~rows["mark"].to_numpy()].merge(rows, on="key", suffixes=("", "_b"))
    ia, ib = pairs["i"].to_numpy(), pairs["i_b"].to_numpy()
    pairs = pairs[(ia != ib) & ((ia < ib) | pairs["mark_b"].to_numpy())]  # each pair once
    first = (pairs["i"] < pairs["i_b"]).to_numpy()
    row_a, row_b = pairs["row"].to_numpy(), pairs["row_b"].to_numpy()
    subst = pd.DataFrame({
        "i": np.where(first, pairs["i"], pairs["i_b"]),
        "j": np.where(first, pairs["i_b"], pairs["i"]),
        "left": np.where(first, row_a, row_b), "right": np.where(first, row_b, row_a)})

    # insertions: a name without one of its (non-mark) characters is another name
    other = pc.index_in(pa.concat_arrays(shortened), value_set=arr).fill_null(-1).to_numpy()
    hit = np.flatnonzero((other >= 0) & ~mark)
    longer, shorter = i[hit], other[hit]
    first = longer < shorter
    inserted = pd.DataFrame({
        "i": np.where(first, longer, shorter), "j": np.where(first, shorter, longer),
        "left": np.where(first, hit, -1), "right": np.where(first, -1, hit)})
    out = pd.concat([subst, inserted], ignore_index=True)
    if out.empty:
        return empty
    out = out.drop_duplicates(["i", "j"]).sort_values(["i", "j"], kind="stable")
    # the differing characters, looked up for the pairs found only (row -1: none)
    for side in ("left", "right"):
        row = out[side].to_numpy()
        text = np.full(len(row), "", dtype=object)
        text[row >= 0] = ch.take(pa.array(row[row >= 0])).to_numpy(zero_copy_only=False)
        out[side] = text
    return out.reset_index(drop=True)


def near_duplicate_pairs(names: Iterable[str]) -> pd.DataFrame:
    """Find names that are probably one compound written two ways.

    Two spellings are near-duplicates when they are equal after
    :func:`gisplan.schema.normalize_text` (width, case, spaces, punctuation), or one
    character apart (substituted, inserted or deleted), unless every differing
    character is a *segment mark* that tells apart parts of one estate (南段 / 北段,
    A区 / C区, 一区 / 二区; ``data/names.toml``). Candidates are found by blocking on
    the name with one character masked or removed, so the work grows with the number of
    names times their length, not with the number of pairs of names (200,000 names in
    about 3 s).

    Parameters
    ----------
    names : iterable of str
        Spellings; repeats are ignored.

    Returns
    -------
    pandas.DataFrame
        ``name_a``, ``name_b``, ``differs`` (e.g. ``合/和``; empty when only spacing or
        width differ) and ``similarity`` (rapidfuzz ``fuzz.ratio``, 0–100).

    Examples
    --------
    >>> near_duplicate_pairs(["信合小区", "信和小区", "工商小区南段", "工商小区北段"])
      name_a name_b differs  similarity
    0   信合小区   信和小区     合/和        75.0
    """
    cols = ["name_a", "name_b", "differs", "similarity"]
    cells = pd.Series(list(names), dtype=object)
    text = dict.fromkeys(map(str, cells[cells.notna().to_numpy()].tolist()))
    uniq = np.array([t for t in text if t.strip()], dtype=object)
    norm = np.array([normalize_text(t) for t in uniq], dtype=object)
    code, keys = pd.factorize(norm)  # spellings → folded names, in order of appearance
    spellings = pd.DataFrame({"code": code, "name": uniq})

    same = spellings[spellings["code"].duplicated(keep=False).to_numpy()]
    rows = []
    for members in same.groupby("code", sort=False)["name"]:  # one name written two ways
        spelt = members[1].tolist()
        rows += [(spelt[a], spelt[b], "") for a in range(len(spelt))
                 for b in range(a + 1, len(spelt))]
    pairs = pd.DataFrame(rows, columns=cols[:3])

    cand = _one_edit_candidates(list(keys), _marks())
    if len(cand):
        cand = cand.merge(spellings.rename(columns={"code": "i", "name": "name_a"}), on="i")
        cand = cand.merge(spellings.rename(columns={"code": "j", "name": "name_b"}), on="j")
        left = cand["left"].mask(cand["left"].eq(""), "∅")
        right = cand["right"].mask(cand["right"].eq(""), "∅")
        cand["differs"] = left + "/" + right
        pairs = pd.concat([pairs, cand[cols[:3]]], ignore_index=True) if len(pairs) \
            else cand[cols[:3]].reset_index(drop=True)
    pairs["similarity"] = (process.cpdist(pairs["name_a"].tolist(), pairs["name_b"].tolist(),
                                          scorer=fuzz.ratio, dtype=np.float64)
                           if len(pairs) else np.zeros(0))
    return pairs[cols]


_NUMBERED = re.compile(r"^\s*(\d+)\s*(\D)")


def _list_names(plan_lists: pd.DataFrame) -> pd.Series:
    """Names as written, without an item number written into them ("23、妇幼小区")."""
    seps = "".join(re.escape(s) for s in _rules()["number_separators"])
    return plan_lists["name_as_written"].astype(str).str.replace(
        rf"^\s*\d+\s*[{seps}]\s*", "", regex=True).str.strip()


def _occurrences(compounds: pd.DataFrame | None,
                 plan_lists: pd.DataFrame | None) -> dict[str, list[str]]:
    """Where each spelling occurs: compounds rows and list items."""
    where: dict[str, list[str]] = defaultdict(list)
    if compounds is not None and "name" in compounds.columns:
        ids = compounds["compound_id"].tolist() if "compound_id" in compounds.columns else \
            [None] * len(compounds)
        for pos, (name, cid) in enumerate(zip(compounds["name"].tolist(), ids, strict=True)):
            if _present(name):
                where[str(name)].append(f"compounds row {pos + 1}"
                                        + (f" ({cid})" if _present(cid) else ""))
    if plan_lists is not None and "name_as_written" in plan_lists.columns:
        names = _list_names(plan_lists)
        nos = plan_lists["item_no"] if "item_no" in plan_lists.columns else \
            pd.Series([None] * len(plan_lists))
        for name, lst, no in zip(names, plan_lists["list_name"], nos, strict=True):
            where[name].append(f"list {lst}" + (f" #{int(no)}" if _present(no) else ""))
    return where


def _name_findings(compounds: pd.DataFrame | None, plan_lists: pd.DataFrame | None, *,
                   file: str | None) -> list[Finding]:
    where = _occurrences(compounds, plan_lists)
    in_layer = {n for n, w in where.items() if any(x.startswith("compounds") for x in w)}
    district = {}
    if compounds is not None and {"name", "district"} <= set(compounds.columns):
        district = dict(zip(compounds["name"].astype(str), compounds["district"], strict=True))
    out = []
    for rec in near_duplicate_pairs(where).to_dict("records"):
        a, b, differs = str(rec["name_a"]), str(rec["name_b"]), str(rec["differs"])
        both = a in in_layer and b in in_layer
        if both and district and district.get(a) != district.get(b):
            continue  # two compounds of different 片区: two places
        severity: Severity
        if both:
            severity, why = "info", "two compounds of one 片区 have names one character apart"
        else:
            severity, why = "warning", "one compound is probably written two ways"
        diff = f" ({differs})" if differs else " (spacing, width or punctuation)"
        out.append(Finding(
            severity, "near_duplicate_name",
            f"'{a}' and '{b}' differ by one character{diff}: {why}; '{a}' occurs in "
            f"{'; '.join(where[a])}, '{b}' in {'; '.join(where[b])}",
            file=file, layer="plan_lists" if not both else "compounds", column="name",
            value=(a, b),
            hint="use one spelling everywhere (the compounds layer is matched by name)"
            if not both else "check that these are two compounds"))
    if compounds is None or "name" not in compounds.columns or plan_lists is None \
            or "name_as_written" not in plan_lists.columns:
        return out
    layer_names = list(dict.fromkeys(compounds["name"].dropna().astype(str)))
    exact = {normalize_text(n) for n in layer_names}
    for name in dict.fromkeys(_list_names(plan_lists)):
        if normalize_text(name) in exact:
            continue
        # edit-distance similarity: one character of a 4-character name differs = 75%
        best = process.extract(name, layer_names, scorer=Levenshtein.normalized_similarity,
                                limit=3, score_cutoff=0.5)
        cands = ", ".join(f"'{c}' ({s:.0%})" for c, s, _ in best) or "none"
        out.append(Finding(
            "warning", "name_not_in_compounds",
            f"'{name}' ({'; '.join(where[name])}) matches no compound; closest: {cands}",
            file=file, layer="plan_lists", row=where[name][0], column="name_as_written",
            value=name,
            hint="correct the spelling in the list, or add the compound to the compounds layer"))
    return out


# ----------------------------------------------------------------------------- lists


def _runs(numbers: Sequence[int]) -> str:
    """Write 1, 2, 3, 4, 6, 7 as '1–4, 6–7'."""
    out, start = [], None
    prev = None
    for n in numbers:
        if start is None:
            start = n
        elif n != prev + 1:  # type: ignore[operator]
            out.append(f"{start}" if start == prev else f"{start}–{prev}")
            start = n
        prev = n
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}–{prev}")
    return ", ".join(out)


def _list_findings(plan_lists: pd.DataFrame, plan_targets: pd.DataFrame | None, *,
                   file: str | None) -> list[Finding]:
    out: list[Finding] = []
    if plan_lists.empty or "list_name" not in plan_lists.columns:
        return out
    stated: dict[str, tuple[str, float]] = {}
    if plan_targets is not None and {"unit", "compounds"} <= set(plan_targets.columns):
        for unit, n in zip(plan_targets["unit"], plan_targets["compounds"], strict=True):
            if _present(n):
                stated[_unit_key(unit)] = (str(unit), float(n))
    nos_all = plan_lists["item_no"] if "item_no" in plan_lists.columns else \
        pd.Series([None] * len(plan_lists), index=plan_lists.index)
    tokens = plan_lists["token_as_written"] if "token_as_written" in plan_lists.columns else \
        plan_lists["name_as_written"]
    for lst, idx in plan_lists.groupby("list_name", sort=False).groups.items():
        nos = pd.to_numeric(nos_all.loc[idx], errors="coerce").dropna().astype(int).tolist()
        n_items = len(idx)
        if nos:
            seen = sorted(set(nos))
            missing = sorted(set(range(1, max(nos) + 1)) - set(nos))
            repeated = sorted({n for n in nos if nos.count(n) > 1})
            if missing or repeated:
                parts = []
                if missing:
                    parts.append(f"{_runs(missing)} {'is' if len(missing) == 1 else 'are'} "
                                 "missing")
                if repeated:
                    parts.append(f"{_runs(repeated)} {'is' if len(repeated) == 1 else 'are'} "
                                 "repeated")
                out.append(Finding(
                    "warning", "list_numbering_gap",
                    f"list {lst} is numbered {_runs(seen)}: {' and '.join(parts)}",
                    file=file, layer="plan_lists", row=str(lst), column="item_no",
                    value=missing or repeated,
                    hint="check whether an item was dropped from the list or only the "
                         "numbering is wrong"))
            if max(nos) != n_items:
                out.append(Finding(
                    "warning", "list_count_mismatch",
                    f"list {lst} is numbered up to {max(nos)} but lists {n_items} names",
                    file=file, layer="plan_lists", row=str(lst), column="item_no",
                    value={"last_number": max(nos), "listed": n_items},
                    hint="count the names in the plan document"))
            seps = [m.group(2) for t in tokens.loc[idx].astype(str)
                    if (m := _NUMBERED.match(t))]
            if seps:
                usual = max(set(seps), key=seps.count)
                odd = [(t, m.group(2)) for t in tokens.loc[idx].astype(str)
                       if (m := _NUMBERED.match(t)) and m.group(2) != usual]
                for t, sep in odd:
                    out.append(Finding(
                        "info", "list_number_separator",
                        f"list {lst}: '{t}' is written with '{sep}' "
                        f"where the list writes '{usual}' after the number",
                        file=file, layer="plan_lists", row=str(lst), column="name_as_written",
                        value=t, hint="harmless when the name is read right; keep one style"))
        target = stated.get(_unit_key(lst))
        if target is not None and target[1] != n_items:
            out.append(Finding(
                "warning", "list_count_mismatch",
                f"list {lst} names {n_items} compounds but {target[0]} states "
                f"{int(target[1])}",
                file=file, layer="plan_lists", row=str(lst), column="name_as_written",
                value={"stated": target[1], "listed": n_items},
                hint="find the compound missing from (or extra in) the list"))
    return out


# ----------------------------------------------------------------------------- units


def _unit_findings(*, plan_targets: pd.DataFrame | None, districts: pd.DataFrame,
                   compounds: pd.DataFrame | None, progress_log: pd.DataFrame | None,
                   file: str | None) -> list[Finding]:
    """Units named in the plan or the data that have no polygon of their level."""
    out: list[Finding] = []
    if "level" not in districts.columns or "name" not in districts.columns:
        return out
    geom = getattr(districts, "geometry", None)
    has_geom = (~(geom.isna() | geom.is_empty)).to_numpy() if geom is not None else \
        np.zeros(len(districts), dtype=bool)
    levels = districts["level"].map(lambda v: term("district_level", v) if _present(v) else None)
    mapped: dict[str, set[str]] = defaultdict(set)
    for lvl, name, ok in zip(levels, districts["name"], has_geom, strict=True):
        if ok and lvl:
            mapped[str(lvl)].add(_unit_key(name))
    named: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if plan_targets is not None and {"level", "unit"} <= set(plan_targets.columns):
        for lvl, unit in zip(plan_targets["level"], plan_targets["unit"], strict=True):
            if lvl in LEVEL_COLUMN and _present(unit):
                named[(str(lvl), str(unit))]["plan_targets"] += 1
    sources = {"compounds": compounds, "progress_log": progress_log}
    for src, frame in sources.items():
        if frame is None:
            continue
        for lvl, col in LEVEL_COLUMN.items():
            if col in frame.columns and (src == "compounds" or lvl == "county"):
                counts = frame[col].dropna().astype(str).value_counts()
                for unit, n in counts.items():
                    if str(unit).strip():
                        named[(lvl, str(unit))][src] += int(n)
    for (lvl, unit), where in named.items():
        if lvl not in mapped or _unit_key(unit) in mapped[lvl]:
            continue  # level not mapped at all, or mapped
        rows = ", ".join(f"{n} {src} rows" for src, n in where.items())
        out.append(Finding(
            "warning", "unit_without_geometry",
            f"{_LEVEL_ZH[lvl]} {lvl} '{unit}' has no polygon in the districts layer; its "
            f"rows are kept ({rows}) but cannot be mapped or joined by location",
            file=file, layer="districts", row=unit, column="name", value=unit,
            hint="add the unit's boundary to the districts layer, or keep it as a unit "
                 "without a map (e.g. an economic development zone 经开区)"))
    return out


# ----------------------------------------------------------------------------- public API


def reconcile_frames(
    compounds: pd.DataFrame | None = None,
    plan_targets: pd.DataFrame | None = None,
    plan_lists: pd.DataFrame | None = None,
    *,
    districts: pd.DataFrame | None = None,
    progress_log: pd.DataFrame | None = None,
    file: str | None = None,
    area_tolerance_m2: float = 1.0,
) -> Report:
    """Reconcile a plan's stated figures and lists with each other and with the compounds.

    Parameters
    ----------
    compounds : pandas.DataFrame, optional
        The compounds layer.
    plan_targets, plan_lists : pandas.DataFrame, optional
        The stated figures and the name lists of the plan (see ``schema.toml``).
    districts : pandas.DataFrame, optional
        The districts layer, to find units without a polygon.
    progress_log : pandas.DataFrame, optional
        The progress log, whose ``county`` values are units too.
    file : str, optional
        The programme file, named in the findings.
    area_tolerance_m2 : float, default 1.0
        Floor areas that differ by no more than this agree (counts must agree exactly).

    Returns
    -------
    gisplan.findings.Report
        Findings only; reconciliation reads layers and changes none.
    """
    report = Report()
    # positions, not labels: frames glued together may repeat index labels
    compounds, plan_targets, plan_lists, districts, progress_log = (
        None if f is None else f.reset_index(drop=True)
        for f in (compounds, plan_targets, plan_lists, districts, progress_log))
    if plan_targets is not None and not plan_targets.empty:
        table = stated_vs_parts(plan_targets, compounds)
        report.extend(_total_findings(table, area_tolerance_m2=area_tolerance_m2, file=file))
    report.extend(_name_findings(compounds, plan_lists, file=file))
    if plan_lists is not None:
        report.extend(_list_findings(plan_lists, plan_targets, file=file))
    if districts is not None:
        report.extend(_unit_findings(plan_targets=plan_targets, districts=districts,
                                     compounds=compounds, progress_log=progress_log, file=file))
    return report


def reconcile(project: Project, *, area_tolerance_m2: float = 1.0) -> Report:
    """Reconcile the plan stored in *project* (see :func:`reconcile_frames`).

    Parameters
    ----------
    project : gisplan.store.Project
        The programme; read only.
    area_tolerance_m2 : float, default 1.0
        See :func:`reconcile_frames`.

    Returns
    -------
    gisplan.findings.Report

    Examples
    --------
    >>> from gisplan.store import Project
    >>> r = reconcile(Project.open("layers/guyuan_2022.gpkg"))
    >>> sorted({f.code for f in r.warnings})[:2]
    ['list_count_mismatch', 'list_numbering_gap']
    """
    present = set(project.layers())
    frames = {name: project.read(name) if name in present else None
              for name in ("compounds", "plan_targets", "plan_lists", "districts",
                           "progress_log")}
    return reconcile_frames(frames["compounds"], frames["plan_targets"], frames["plan_lists"],
                            districts=frames["districts"], progress_log=frames["progress_log"],
                            file=str(project.path), area_tolerance_m2=area_tolerance_m2)
