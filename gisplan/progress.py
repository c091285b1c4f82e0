"""The progress log (进度台账): import, status on a date, milestones and checks.

The ``progress_log`` table of a programme store is append-only: one row per reported
change (compound, date, stage, the five start criteria, note, source file and row, time
entered). Nothing else stores a compound's stage: its status on any date is derived from
the log (:func:`compound_status`), the summaries by county and 片区 from that
(:func:`progress_summary`), and the milestones of the programme from the summaries
(:func:`milestone_status`).

Import idempotence
------------------
Each row carries ``row_hash``, a content hash of *what was reported*: compound (its id, or
county and name where no compound matched), date, stage and the five start criteria. It
does not include the file name, row number or note, so that importing the same file twice,
or the same rows exported again under another name (weekly county tables repeat earlier
rows), adds nothing; a row that reports a different stage, date or criterion is a change
and is appended. The hash check and the append run under the store's inter-process lock
in one SQLite transaction, so two imports at once produce the union without duplicates and
a killed import leaves the store as it was.

Start criteria (开工认定标准, 许昌市2023年实施方案 附件)
-------------------------------------------------------
1. ≥ 80 % of residents agree with the plan and the property-management model
   (``consent_rate``); 2. illegal and temporary structures removed
   (``structures_removed``); 3. design finished and posted in the compound
   (``design_posted``); 4. contractor chosen and contract signed (``contract_signed``);
5. crew on site with visible progress (``crew_on_site``). A criterion reported on an
   earlier row holds until reported otherwise (forward fill per compound).

Examples
--------
>>> import pandas as pd
>>> from gisplan.progress import compound_status
>>> log = pd.DataFrame({"compound_id": ["A", "A", "B"],
...                     "date": ["2023-03-01", "2023-05-10", "2023-04-01"],
...                     "stage": ["designed", "started", "tendered"]})
>>> compound_status(log, as_of="2023-04-30")["stage"].tolist()
['designed', 'tendered']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import InputError, SchemaError
from gisplan.findings import Finding, Report, add_flags
from gisplan.schema import layer_schema, normalize_text, stage_order, term, vocab, zh

__all__ = [
    "CONSENT_MIN",
    "START_CRITERIA",
    "ImportResult",
    "check_log",
    "compound_status",
    "import_reports",
    "match_compounds",
    "measure_zh",
    "milestone_status",
    "parse_measure",
    "prepare_log",
    "progress_summary",
    "row_hashes",
    "write_sample_reports",
]

#: the five start criteria of 许昌 (开工认定标准), in the order of the document
START_CRITERIA: tuple[str, ...] = (
    "consent_rate", "structures_removed", "design_posted", "contract_signed", "crew_on_site",
)
#: smallest consent rate for a start: "经80%以上居民同意后方可开工改造" (许昌 2023, 三(二))
CONSENT_MIN = 0.8
CRITERIA_ZH: dict[str, str] = {
    "consent_rate": "居民同意率≥80%",
    "structures_removed": "违建已拆除",
    "design_posted": "设计已公示",
    "contract_signed": "已签施工合同",
    "crew_on_site": "施工队伍进场",
}
_BOOL_CRITERIA = START_CRITERIA[1:]

STAGES: tuple[str, ...] = tuple(stage_order())
RANK: dict[str, int] = {s: i for i, s in enumerate(STAGES)}
STARTED = RANK["started"]
COMPLETED = RANK["completed"]

#: Chinese text of the codes this module writes into ``flags`` and findings
CODES_ZH: dict[str, str] = {
    "compound_unknown": "小区名称无法匹配",
    "compound_ambiguous": "小区名称匹配不唯一",
    "name_fuzzy_matched": "小区名称近似匹配",
    "unit_without_geometry": "填报单位无空间数据",
    "unknown_county": "县区名称无法识别",
    "unparseable_date": "日期无法识别",
    "unparseable_stage": "进度阶段无法识别",
    "unparseable_consent": "同意率无法识别",
    "unparseable_criterion": "开工条件无法识别",
    "future_date": "填报日期晚于录入日期",
    "stage_backwards": "进度倒退",
    "completion_before_start": "完工早于开工",
    "completed_without_start": "完工但无开工记录",
    "start_criteria_unmet": "不符合开工认定标准",
    "start_criteria_unknown": "开工条件未填报",
    "design_items_missing": "设计方案缺项",
    "eligibility": "不符合改造条件",
    "cap_2001_2005_exceeded": "2001—2005年建成小区户数占比超15%",
}

MILESTONE_STATES_ZH = {"met": "已完成", "on_track": "按进度", "behind": "滞后"}


# --------------------------------------------------------------------------- values
# Value parsing is gisplan.parse's (Chinese dates, "85%" / 0.85, 是/否); these wrappers
# only adapt its results to the log's dtypes.


def _parse_dates(values: pd.Series) -> pd.Series:
    """Parse dates as written (2023年6月30日, 2023.6.30, Excel serials) into datetime64."""
    from gisplan.parse import parse_date

    parsed = parse_date(values).values
    return pd.to_datetime(parsed, errors="coerce").astype("datetime64[ns]")


def _parse_ratio(values: pd.Series) -> pd.Series:
    """Parse "85%", "85", 0.85, 八成 into a share in [0, 1]; NaN when not a rate."""
    from gisplan.parse import parse_rate

    return parse_rate(values).values


def _parse_bools(values: pd.Series) -> pd.Series:
    """Parse 是/否, √/×, 1/0, 已/未 into a nullable boolean."""
    from gisplan.parse import parse_bool

    return parse_bool(values).values


def _parse_stage(values: pd.Series) -> pd.Series:
    """Map stage names as written (已开工, 竣工, 招投标, ...) to ``vocab.stage`` keys."""
    cache: dict[Any, str | None] = {}
    for v in pd.unique(values.astype(object)):
        key = term("stage", v)
        if key is None and isinstance(v, str):
            # "已开工（在建）", "完工（待验收）": the part before a bracket
            head = re.split(r"[（(]", v, maxsplit=1)[0]
            key = term("stage", head)
        cache[v] = key
    return values.astype(object).map(cache)


def _to_dates(values: pd.Series) -> pd.Series:
    """ISO strings or timestamps from the store -> datetime64 (NaT where empty)."""
    return pd.to_datetime(values, errors="coerce", format="mixed").dt.normalize()


# --------------------------------------------------------------------------- reading


def _read_report(path: Path, *, sheet: str | int | None = None) -> tuple[pd.DataFrame, Report]:
    """Read a county report into canonical ``progress_log`` columns.

    :func:`gisplan.read.read_table` finds the header under title rows, reads two-row
    headers with merged cells, maps Chinese headers and parses the values; a value it
    cannot read stops the import with every bad cell listed. ``source_row`` is the row a
    planner sees in the spreadsheet.
    """
    from gisplan.read import read_table

    frame, report = read_table(path, "progress_log", sheet=sheet)
    return pd.DataFrame(frame), report


# --------------------------------------------------------------------------- matching


@dataclass
class _Candidates:
    ids: np.ndarray
    names: list[str]
    folded: list[str]


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
        ``match`` (``id``, ``name``, ``fuzzy``, ``ambiguous``, ``unknown``,
        ``no_geometry``, ``missing``), ``score`` and ``candidates``
        (``"名称 [编号] 88"`` joined by ``; ``).
    """
    from rapidfuzz import fuzz, process

    comp = pd.DataFrame(compounds)
    ids = comp["compound_id"].astype(str).to_numpy() if len(comp) else np.array([], str)
    names = comp["name"].astype(str).tolist() if len(comp) else []
    counties = (comp["county"].astype(object).where(comp["county"].notna(), "").astype(str)
                if "county" in comp else pd.Series([""] * len(comp))).to_numpy()
    no_geo = {str(u) for u in units_without_geometry}
    unit_names = sorted({c for c in counties if c} | {str(u) for u in known_units} | no_geo)
    known = {normalize_text(u): u for u in unit_names}
    id_set = {normalize_text(i): i for i in ids}

    folded_all = [normalize_text(n) for n in names]
    by_county: dict[str, _Candidates] = {}
    for c in set(counties):
        sel = np.flatnonzero(counties == c)
        by_county[c] = _Candidates(ids[sel], [names[i] for i in sel],
                                   [folded_all[i] for i in sel])
    everyone = _Candidates(ids, names, folded_all)

    n = len(rows)
    out_id: list[str | None] = [None] * n
    out_county: list[str | None] = [None] * n
    out_match: list[str] = ["missing"] * n
    out_score = np.full(n, np.nan)
    out_cands: list[str] = [""] * n
    unknown_county = np.zeros(n, dtype=bool)

    rid = rows["compound_id"] if "compound_id" in rows else pd.Series([None] * n)
    rname = rows["compound_name"] if "compound_name" in rows else pd.Series([None] * n)
    rcounty = rows["county"] if "county" in rows else pd.Series([None] * n)
    for i, (cid, name, county) in enumerate(zip(rid.astype(object), rname.astype(object),
                                                 rcounty.astype(object), strict=True)):
        ckey, recognised = _county_key(county, known)
        out_county[i] = ckey
        unknown_county[i] = not recognised
        if isinstance(cid, str | int) and normalize_text(str(cid)) in id_set:
            out_id[i] = id_set[normalize_text(str(cid))]
            out_match[i] = "id"
            out_score[i] = 100.0
            if ckey is None and len(comp):
                out_county[i] = counties[np.flatnonzero(ids == out_id[i])[0]] or None
            continue
        if not isinstance(name, str) or not name.strip():
            out_match[i] = "missing"
            continue
        pool = by_county.get(ckey or "", everyone) if recognised and ckey else everyone
        folded = normalize_text(name)
        exact = [j for j, f in enumerate(pool.folded) if f == folded]
        if len(exact) == 1:
            out_id[i] = str(pool.ids[exact[0]])
            out_match[i] = "name"
            out_score[i] = 100.0
        elif pool.folded:
            best = process.extract(folded, pool.folded, scorer=fuzz.ratio, limit=3)
            out_cands[i] = "; ".join(
                f"{pool.names[j]} [{pool.ids[j]}] {s:.0f}" for _, s, j in best)
            top = best[0][1]
            second = best[1][1] if len(best) > 1 else 0.0
            out_score[i] = top
            if len(exact) > 1:
                out_match[i] = "ambiguous"
            elif top >= score_cutoff and top - second >= margin:
                out_id[i] = str(pool.ids[best[0][2]])
                out_match[i] = "fuzzy"
            elif top >= score_cutoff:
                out_match[i] = "ambiguous"
            else:
                out_match[i] = "unknown"
        else:
            out_match[i] = "unknown"
        if ckey in no_geo and out_id[i] is None:
            out_match[i] = "no_geometry"
    return pd.DataFrame({"compound_id": out_id, "county": out_county, "match": out_match,
                         "score": out_score, "candidates": out_cands,
                         "unknown_county": unknown_county}, index=rows.index)


# --------------------------------------------------------------------------- preparing


def row_hashes(log: pd.DataFrame) -> pd.Series:
    """Return the content hash of each log row (see the module docstring).

    Parameters
    ----------
    log : pandas.DataFrame
        Canonical ``progress_log`` rows: ``compound_id`` (or ``county`` and
        ``compound_name``), ``date``, ``stage`` and the start criteria.

    Returns
    -------
    pandas.Series of str
        20-hex-digit SHA-1 prefixes, index of *log*.
    """
    n = len(log)
    blank = pd.Series([""] * n, index=log.index, dtype=object)

    def text(col: str) -> pd.Series:
        if col not in log:
            return blank
        s = log[col].astype(object)
        return s.where(s.notna(), "").astype(str)

    cid = text("compound_id")
    who = cid.where(cid != "", "name:" + text("county") + "|"
                    + text("compound_name").map(normalize_text))
    date = _to_dates(log["date"]).dt.strftime("%Y-%m-%d").fillna("") if "date" in log else blank
    consent = (pd.to_numeric(log["consent_rate"], errors="coerce").round(4)
               .map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
               if "consent_rate" in log else blank)
    parts = [who, date, text("stage"), consent]
    for col in _BOOL_CRITERIA:
        parts.append(log[col].astype("boolean").map({True: "1", False: "0"}).fillna("")
                     .astype(str) if col in log else blank)
    joined = parts[0].str.cat(list(parts[1:]), sep="\x1f")  # type: ignore[arg-type]
    return joined.map(lambda s: hashlib.sha1(s.encode("utf-8")).hexdigest()[:20])


def prepare_log(
    raw: pd.DataFrame,
    compounds: pd.DataFrame,
    *,
    file: str | None = None,
    entered_at: dt.datetime | None = None,
    default_date: Any = None,
    units_without_geometry: Iterable[str] = (),
    known_units: Iterable[str] = (),
    score_cutoff: float = 75.0,
) -> tuple[pd.DataFrame, pd.DataFrame, Report]:
    """Turn rows of a county report into canonical ``progress_log`` rows.

    Every row is kept (rows in = rows out): values that cannot be parsed stay empty and
    the row is flagged, with a finding naming file, row, column and value.

    Parameters
    ----------
    raw : pandas.DataFrame
        Report rows with canonical column names (see :func:`gisplan.read.read_table`);
        ``source_row`` when known.
    compounds : pandas.DataFrame
        The programme's compounds (for matching).
    file : str, optional
        Name of the source file, written to ``source_file``.
    entered_at : datetime, optional
        Time of entry (now by default). A report dated after it is flagged ``future_date``.
    default_date : date-like, optional
        Date of every row when the report has no date column (the report's 填报日期).
    units_without_geometry, known_units, score_cutoff
        See :func:`match_compounds`.

    Returns
    -------
    log : pandas.DataFrame
        Canonical ``progress_log`` columns plus ``row_hash`` (``log_id`` empty).
    unmatched : pandas.DataFrame
        Rows whose compound was not matched (or matched approximately), with candidates.
    report : Report
        Findings and the row count.
    """
    report = Report()
    layer = "progress_log"
    entered = entered_at or dt.datetime.now().replace(microsecond=0)
    n = len(raw)
    if "stage" not in raw:
        raise SchemaError("the report has no stage column", file=file, layer=layer,
                          column="进度阶段",
                          hint="add a column 进度阶段 (or 形象进度/当前进度) with 开工, 完工, ...")
    if "compound_id" not in raw and "compound_name" not in raw:
        raise SchemaError("the report names no compound", file=file, layer=layer,
                          column="小区名称",
                          hint="add a column 小区名称 (with 县区) or 小区编号")
    if "date" not in raw and default_date is None:
        raise SchemaError("the report has no date column", file=file, layer=layer,
                          column="日期",
                          hint="add a column 日期 (填报日期) or pass the report date "
                               "(--date 2023-06-30)")

    src_rows = (raw["source_row"] if "source_row" in raw
                else pd.Series(np.arange(2, n + 2), index=raw.index))
    out = pd.DataFrame(index=raw.index)
    m = match_compounds(raw, compounds, score_cutoff=score_cutoff,
                        units_without_geometry=units_without_geometry,
                        known_units=known_units)
    out["compound_id"] = m["compound_id"]
    out["compound_name"] = (raw["compound_name"].astype(object)
                            if "compound_name" in raw else None)
    if "compound_name" in raw and len(compounds):
        names = pd.Series(pd.DataFrame(compounds)["name"].astype(str).to_numpy(),
                          index=pd.DataFrame(compounds)["compound_id"].astype(str))
        fill = out["compound_name"].isna() & out["compound_id"].notna()
        out.loc[fill, "compound_name"] = out.loc[fill, "compound_id"].map(names)
    out["county"] = m["county"]

    if "date" in raw:
        dates = _parse_dates(raw["date"])
        if default_date is not None:
            dates = dates.fillna(pd.Timestamp(_parse_dates(pd.Series([default_date])).iloc[0]))
    else:
        dates = pd.Series(_parse_dates(pd.Series([default_date] * n, index=raw.index)))
    out["date"] = dates.dt.strftime("%Y-%m-%d").where(dates.notna(), None)
    out["stage"] = _parse_stage(raw["stage"])

    out["consent_rate"] = _parse_ratio(raw["consent_rate"]) if "consent_rate" in raw else np.nan
    for col in _BOOL_CRITERIA:
        out[col] = (_parse_bools(raw[col]) if col in raw
                    else pd.Series(pd.NA, index=raw.index, dtype="boolean"))
    out["note"] = raw["note"].astype(object) if "note" in raw else None
    if "households" in raw:
        out["households"] = pd.to_numeric(raw["households"].astype(str).str.extract(
            r"([\d,]+)")[0].str.replace(",", ""), errors="coerce").astype("Int64")
    out["source_file"] = file
    out["source_row"] = pd.to_numeric(src_rows, errors="coerce").astype("Int64")
    out["entered_at"] = entered.isoformat(sep=" ")
    out["flags"] = (raw["flags"].astype(object).where(raw["flags"].notna(), "")
                    if "flags" in raw else "")

    def flag(mask: pd.Series, code: str, severity: str, column: str | None,
             values: pd.Series | None, message: str, hint: str | None) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        add_flags(out, mask.to_numpy(), code)
        for idx in mask.index[mask.to_numpy()]:
            report.add(Finding(severity, code, message, file=file, layer=layer,  # type: ignore[arg-type]
                               row=int(src_rows[idx]) if pd.notna(src_rows[idx]) else None,
                               column=column,
                               value=None if values is None else values[idx], hint=hint))

    def raw_col(col: str) -> pd.Series:
        return raw[col].astype(object) if col in raw else pd.Series(None, index=raw.index)

    present = lambda col: raw_col(col).notna() & (raw_col(col).astype(str).str.strip() != "")  # noqa: E731
    flag(out["date"].isna(), "unparseable_date", "warning", "日期", raw_col("date"),
         "date not recognised; the row is kept without a date and left out of the status",
         "write dates as 2023-06-30, 2023年6月30日 or 2023.6.30")
    flag(out["stage"].isna(), "unparseable_stage", "warning", "进度阶段", raw_col("stage"),
         "stage not recognised; the row is kept and left out of the status",
         "use one of " + "、".join(zh("stage", s) for s in STAGES))
    if "consent_rate" in raw:
        flag(present("consent_rate") & out["consent_rate"].isna(), "unparseable_consent",
             "warning", "居民同意率", raw_col("consent_rate"),
             "consent rate not recognised", "write 85% or 0.85")
        flag(out["consent_rate"].gt(1) | out["consent_rate"].lt(0), "unparseable_consent",
             "warning", "居民同意率", raw_col("consent_rate"),
             "consent rate outside 0–100 %", "write 85% or 0.85")
    for col in _BOOL_CRITERIA:
        if col in raw:
            flag(present(col) & out[col].isna(), "unparseable_criterion", "warning",
                 layer_schema(layer).column(col).zh, raw_col(col),
                 "start criterion not recognised as yes/no", "write 是 or 否")
    future = _to_dates(out["date"]) > pd.Timestamp(entered.date())
    flag(future, "future_date", "warning", "日期", raw_col("date"),
         f"the report is dated after it was entered ({entered.date()})",
         "check the year and month of the date")
    label = "小区名称"
    names_raw = raw_col("compound_name").where(raw_col("compound_name").notna(),
                                               raw_col("compound_id"))
    cand = m["candidates"]
    flag(m["match"].eq("unknown") | m["match"].eq("missing"), "compound_unknown", "warning",
         label, names_raw,
         "no compound of this name in its county; kept unmatched, left out of the status",
         None)
    flag(m["match"].eq("ambiguous"), "compound_ambiguous", "warning", label, names_raw,
         "the name fits more than one compound; kept unmatched, left out of the status",
         None)
    flag(m["match"].eq("fuzzy"), "name_fuzzy_matched", "info", label, names_raw,
         "matched to the nearest compound name", None)
    flag(m["match"].eq("no_geometry") | (m["county"].isin(list(units_without_geometry))),
         "unit_without_geometry", "info", "县区", raw_col("county"),
         "reporting unit has no geometry; the row is kept and counted by name", None)
    flag(pd.Series(m["unknown_county"].to_numpy(), index=raw.index), "unknown_county",
         "warning", "县区", raw_col("county"), "county not recognised; matched across all "
         "counties", "use the county names of the programme")
    # the candidates go into the hint of the matching findings
    for k, f in enumerate(report.findings):
        if f.code in ("compound_unknown", "compound_ambiguous", "name_fuzzy_matched"):
            idx = src_rows[src_rows == f.row].index
            c = cand[idx[0]] if len(idx) else ""
            hint = (f"best candidates: {c}; write the compound's 小区编号 or its name as in "
                    f"the programme" if c else "write the compound's 小区编号")
            if f.code == "name_fuzzy_matched":
                hint = f"candidates: {c}; correct the name if the match is wrong"
            report.findings[k] = Finding(f.severity, f.code, f.message, file=f.file,
                                         layer=f.layer, row=f.row, column=f.column,
                                         value=f.value, hint=hint)

    out["row_hash"] = row_hashes(out)
    cols = [c.name for c in layer_schema(layer).columns if c.name != "log_id"]
    cols += [c for c in ("households", "row_hash") if c in out and c not in cols]
    log = out.reindex(columns=["log_id", *cols])
    unmatched = pd.concat([raw_col("county").rename("county_as_written"),
                           names_raw.rename("name_as_written"),
                           m[["match", "score", "candidates", "compound_id"]],
                           src_rows.rename("source_row")], axis=1)
    unmatched = unmatched[m["match"].isin(["unknown", "ambiguous", "fuzzy", "missing"])]
    report.count(layer, n, len(log), flagged=int((log["flags"] != "").sum()))
    return log, unmatched, report


# --------------------------------------------------------------------------- store I/O


@dataclass
class ImportResult:
    """What one import did.

    Attributes
    ----------
    file : str
        The report imported.
    rows_in : int
        Data rows read from the file.
    appended : int
        Rows added to the log.
    already_in_log : int
        Rows whose content was already in the log (earlier import of the same report).
    duplicates_in_file : int
        Rows repeating an earlier row of the same file.
    log : pandas.DataFrame
        The prepared rows (all of them, with ``status`` of each: appended / in_log /
        duplicate).
    unmatched : pandas.DataFrame
        Rows whose compound was not matched, or matched approximately, with candidates.
    report : Report
        Findings; ``report.counts["progress_log"]`` holds rows in and out.
    """

    file: str
    rows_in: int
    appended: int
    already_in_log: int
    duplicates_in_file: int
    log: pd.DataFrame
    unmatched: pd.DataFrame
    report: Report = field(default_factory=Report)

    def summary(self) -> str:
        """One line: rows in = appended + already in the log + repeated in the file."""
        new = int(self.log["import_status"].eq("new").sum()) if "import_status" in self.log \
            else 0
        if new:
            return (f"{self.file}: {self.rows_in} rows read = {new} new (dry run, not "
                    f"written) + {self.already_in_log} already in the log + "
                    f"{self.duplicates_in_file} repeated in the file")
        return (f"{self.file}: {self.rows_in} rows read = {self.appended} appended + "
                f"{self.already_in_log} already in the log + {self.duplicates_in_file} "
                f"repeated in the file")


def _units(meta: dict[str, Any], compounds: pd.DataFrame,
           districts: pd.DataFrame | None) -> tuple[list[str], list[str]]:
    """Return (reporting units of the programme, units without geometry)."""
    units = [str(c) for c in meta.get("counties", []) or []]
    if "county" in compounds:
        units += [str(c) for c in compounds["county"].dropna().unique()]
    units = list(dict.fromkeys(units))
    # a unit has geometry when it has a county boundary (where the programme has county
    # boundaries at all), else when any of its compounds has a shape
    with_geo: set[str] = set()
    if districts is not None and len(districts) and "level" in districts:
        lvl = districts["level"].map(lambda v: term("district_level", v))
        county_rows = districts[lvl.eq("county").to_numpy()]
        with_geo |= {str(c) for c in county_rows.get("name", pd.Series()).dropna()}
    if not with_geo and "county" in compounds and "geometry" in compounds and len(compounds):
        geom = compounds.geometry
        has = ~(geom.isna() | geom.is_empty)
        with_geo |= {str(c) for c in compounds.loc[has.to_numpy(), "county"].dropna()}
    return units, [u for u in units if u not in with_geo]


def _open(project: Any) -> Any:
    from gisplan.store import Project

    return project if isinstance(project, Project) else Project.open(project)


def read_log(project: Any) -> pd.DataFrame:
    """Return the ``progress_log`` of *project* (empty canonical frame when absent)."""
    p = _open(project)
    if "progress_log" not in p.layers():
        from gisplan.schema import empty_frame

        frame = empty_frame("progress_log")
        frame["row_hash"] = pd.Series(dtype=object)
        return frame
    return pd.DataFrame(p.read("progress_log"))


def import_reports(
    project: Any,
    file: str | Path,
    *,
    sheet: str | int | None = None,
    entered_at: dt.datetime | None = None,
    score_cutoff: float = 75.0,
    dry_run: bool = False,
) -> ImportResult:
    """Append the rows of a county progress report (CSV or XLSX) to the project's log.

    Parameters
    ----------
    project : gisplan.store.Project or path
        The programme store.
    file : path
        The report: Chinese headers (小区名称, 县区, 日期, 进度阶段, 居民同意率, ...),
        title rows and merged header cells allowed.
    sheet : str or int, optional
        Worksheet of an XLSX file (the first by default).
    entered_at : datetime, optional
        Time of entry (now).
    score_cutoff : float, default 75
        Smallest name similarity for a fuzzy match (see :func:`match_compounds`).
    dry_run : bool, default False
        Prepare and check the rows, write nothing.

    Returns
    -------
    ImportResult

    Notes
    -----
    Reading existing hashes and appending run under ``Project.lock()`` and the append is
    one SQLite transaction: concurrent imports serialise; a killed import changes nothing.
    """
    path = Path(file)
    if not path.exists():
        raise InputError("report file not found", file=str(path),
                         hint="check the path (CSV or XLSX)")
    p = _open(project)
    raw, read_report = _read_report(path, sheet=sheet)
    compounds = p.read("compounds") if "compounds" in p.layers() else pd.DataFrame(
        columns=["compound_id", "name", "county"])
    districts = p.read("districts") if "districts" in p.layers() else None
    units, no_geo = _units(p.meta or {}, compounds, districts)
    log, unmatched, report = prepare_log(
        raw, compounds, file=path.name, entered_at=entered_at,
        units_without_geometry=no_geo, known_units=units, score_cutoff=score_cutoff)
    report.extend(f for f in read_report if f.code != "header_mapped")

    first = ~log["row_hash"].duplicated()
    status = pd.Series("duplicate", index=log.index, dtype=object)
    appended = 0
    if dry_run:
        existing = set(read_log(p).get("row_hash", pd.Series(dtype=object)).dropna())
        new = first & ~log["row_hash"].isin(existing)
        status[new] = "new"
        status[first & ~new] = "in_log"
    else:
        with p.lock():
            current = read_log(p)
            existing = set(current["row_hash"].dropna()) if "row_hash" in current else set()
            new = first & ~log["row_hash"].isin(existing)
            status[new] = "appended"
            status[first & ~new] = "in_log"
            if new.any():
                # log_id left empty: the store numbers the rows in the same transaction
                rows = log[new].drop(columns="log_id").reset_index(drop=True)
                appended = p.append("progress_log", rows)
    log = log.assign(import_status=status)
    result = ImportResult(
        file=path.name, rows_in=len(raw), appended=appended,
        already_in_log=int(status.eq("in_log").sum()),
        duplicates_in_file=int(status.eq("duplicate").sum()),
        log=log, unmatched=unmatched, report=report)
    report.count("progress_log", len(raw), appended + result.already_in_log
                 + result.duplicates_in_file + (int(status.eq("new").sum()) if dry_run else 0),
                 flagged=int((log["flags"] != "").sum()))
    return result


# --------------------------------------------------------------------------- status


def _key(log: pd.DataFrame) -> pd.Series:
    """Compound id, or ``county|name`` for kept rows of units without geometry."""
    cid = log["compound_id"].astype(object) if "compound_id" in log else pd.Series(
        None, index=log.index, dtype=object)
    if "flags" in log and "compound_name" in log:
        flags = log["flags"].fillna("").astype(str)
        by_name = cid.isna() & flags.str.contains("unit_without_geometry", regex=False) & \
            ~flags.str.contains("compound_unknown|compound_ambiguous")
        county = log["county"].fillna("").astype(str) if "county" in log else ""
        name_key = county + "|" + log["compound_name"].fillna("").astype(str)
        cid = cid.where(~by_name, name_key)
    return cid


def _valid(log: pd.DataFrame) -> pd.DataFrame:
    """Rows that take part in the status: a compound, a date and a known stage."""
    frame = pd.DataFrame(log).copy()
    frame["key"] = _key(frame)
    frame["date"] = _to_dates(frame["date"])
    frame["rank"] = frame["stage"].map(RANK)
    if "log_id" not in frame:
        frame["log_id"] = np.arange(len(frame))
    frame["log_id"] = pd.to_numeric(frame["log_id"], errors="coerce")
    ok = frame["key"].notna() & frame["date"].notna() & frame["rank"].notna()
    frame = frame[ok.to_numpy()]
    return frame.sort_values(["key", "date", "log_id"], kind="stable")


def compound_status(log: pd.DataFrame, *, as_of: Any = None) -> pd.DataFrame:
    """Return each compound's stage on *as_of*, derived from the log.

    The stage is the one of the latest report on or before the date (a later report that
    goes backwards wins, and is flagged by :func:`check_log`).

    Parameters
    ----------
    log : pandas.DataFrame
        ``progress_log`` rows.
    as_of : date-like, optional
        The day (inclusive); all rows when None.

    Returns
    -------
    pandas.DataFrame
        One row per compound with a report on or before *as_of*, indexed by ``key``
        (compound id, or ``county|name`` for units without geometry): ``compound_id``,
        ``compound_name``, ``county``, ``stage``, ``stage_zh``, ``stage_date``,
        ``started_date`` and ``completed_date`` (first report at or beyond), ``started``,
        ``completed`` (bool), and the start criteria known at the first start report
        (forward filled), with ``start_ok`` (True / False / NA when unknown) and
        ``start_unmet`` (the unmet criteria in Chinese).
    """
    frame = _valid(log)
    if as_of is not None:
        frame = frame[frame["date"] <= pd.Timestamp(_parse_dates(pd.Series([as_of])).iloc[0])]
    for col in START_CRITERIA:
        if col not in frame:
            frame[col] = np.nan if col == "consent_rate" else pd.NA
    crit = frame[["key", *START_CRITERIA]].copy()
    crit["consent_rate"] = pd.to_numeric(crit["consent_rate"], errors="coerce")
    for col in _BOOL_CRITERIA:
        crit[col] = crit[col].astype("boolean")
    filled = crit.groupby("key", sort=False)[list(START_CRITERIA)].ffill()
    frame[list(START_CRITERIA)] = filled

    g = frame.groupby("key", sort=True)
    last = g.tail(1).set_index("key")
    out = pd.DataFrame(index=last.index)
    out["compound_id"] = last.get("compound_id")
    out["compound_name"] = last.get("compound_name")
    out["county"] = last.get("county")
    out["stage"] = last["stage"]
    out["stage_zh"] = out["stage"].map(lambda s: zh("stage", s))
    out["stage_date"] = last["date"]
    started_rows = frame[frame["rank"] >= STARTED].groupby("key", sort=False).head(1)
    started_rows = started_rows.set_index("key")
    completed_rows = frame[frame["rank"] >= COMPLETED].groupby("key").head(1).set_index("key")
    out["started_date"] = started_rows["date"].reindex(out.index)
    out["completed_date"] = completed_rows["date"].reindex(out.index)
    rank = last["rank"]
    out["started"] = (rank >= STARTED).to_numpy()
    out["completed"] = (rank >= COMPLETED).to_numpy()
    at_start = started_rows[list(START_CRITERIA)].reindex(out.index)
    ok, unmet = _criteria_ok(at_start)
    out[list(START_CRITERIA)] = at_start
    out["start_ok"] = ok.where(out["started_date"].notna(), pd.NA).astype("boolean")
    out["start_unmet"] = unmet.where(out["started_date"].notna(), "")
    return out


def _criteria_ok(crit: pd.DataFrame, *, consent_min: float = CONSENT_MIN
                 ) -> tuple[pd.Series, pd.Series]:
    """Return (all five met: True/False/NA when some unknown, unmet criteria in Chinese)."""
    consent = pd.to_numeric(crit["consent_rate"], errors="coerce")
    met = pd.DataFrame(index=crit.index)
    known = consent.notna().to_numpy()
    reached = (consent.fillna(0.0) >= consent_min - 1e-9).to_numpy()
    met["consent_rate"] = pd.array([bool(r) if k else None for k, r in
                                    zip(known, reached, strict=True)], dtype="boolean")
    for col in _BOOL_CRITERIA:
        met[col] = crit[col].astype("boolean")
    failed = met.eq(False).fillna(False)
    unknown = met.isna()
    ok = pd.Series(pd.NA, index=crit.index, dtype="boolean")
    ok[~failed.any(axis=1) & ~unknown.any(axis=1)] = True
    ok[failed.any(axis=1)] = False
    names = np.array([CRITERIA_ZH[c] for c in START_CRITERIA], dtype=object)
    unmet = pd.Series(["、".join(names[row]) for row in failed.to_numpy(dtype=bool)],
                      index=crit.index, dtype=object)
    return ok, unmet


# --------------------------------------------------------------------------- checks


def check_log(log: pd.DataFrame, *, consent_min: float = CONSENT_MIN,
              today: Any = None) -> pd.DataFrame:
    """Find contradictions and unmet start criteria in the log.

    Parameters
    ----------
    log : pandas.DataFrame
        ``progress_log`` rows.
    consent_min : float, default 0.8
        Smallest consent rate for a start (许昌: 80 %).
    today : date-like, optional
        Rows dated after it are ``future_date``; by default each row's ``entered_at``.

    Returns
    -------
    pandas.DataFrame
        One row per problem: ``code``, ``problem_zh``, ``severity``, ``compound_id``,
        ``compound_name``, ``county``, ``date``, ``stage``, ``detail``, ``source_file``,
        ``source_row``, ``log_id``. Codes: ``stage_backwards``,
        ``completion_before_start``, ``completed_without_start``, ``future_date``,
        ``start_criteria_unmet``, ``start_criteria_unknown`` and the import flags
        (``compound_unknown``, ``compound_ambiguous``, ``unparseable_*``, ...).
    """
    frame = _valid(log)
    problems: list[pd.DataFrame] = []

    def emit(rows: pd.DataFrame, code: str, severity: str, detail: pd.Series | str) -> None:
        if not len(rows):
            return
        part = pd.DataFrame({
            "code": code, "problem_zh": CODES_ZH.get(code, code), "severity": severity,
            "compound_id": rows.get("compound_id"), "compound_name": rows.get("compound_name"),
            "county": rows.get("county"),
            "date": pd.to_datetime(rows["date"]).dt.strftime("%Y-%m-%d"),
            "stage": rows["stage"].map(lambda s: zh("stage", s)), "detail": detail,
            "source_file": rows.get("source_file"), "source_row": rows.get("source_row"),
            "log_id": rows.get("log_id")}, index=rows.index)
        problems.append(part)

    if len(frame):
        prev_max = frame.groupby("key", sort=False)["rank"].transform(
            lambda r: r.cummax().shift(1))
        back = frame[frame["rank"] < prev_max]
        emit(back, "stage_backwards", "warning",
             "此前已报" + prev_max[back.index].map(lambda r: zh("stage", STAGES[int(r)]))
             .astype(str) + "，本次报" + back["stage"].map(lambda s: zh("stage", s)).astype(str))

        first_start = frame[frame["rank"] == STARTED].groupby("key")["date"].min()
        comp = frame[frame["rank"] >= COMPLETED]
        first_comp = comp.groupby("key", sort=False).head(1)
        fs = first_comp["key"].map(first_start)
        early = first_comp[fs.notna() & (first_comp["date"] < fs)]
        emit(early, "completion_before_start", "warning",
             "开工日期 " + fs[early.index].dt.strftime("%Y-%m-%d").astype(str))
        nostart = first_comp[fs.isna() & ~first_comp["key"].isin(
            frame.loc[frame["rank"] == STARTED, "key"])]
        emit(nostart, "completed_without_start", "warning",
             "无开工记录，开工认定标准无法核实")

        status = compound_status(log)
        started = status[status["started_date"].notna()]
        first_rows = frame[frame["rank"] >= STARTED].groupby("key", sort=False).head(1)
        first_rows = first_rows.set_index("key").loc[started.index]
        ok, unmet = _criteria_ok(started[list(START_CRITERIA)], consent_min=consent_min)
        bad = first_rows[ok.eq(False).fillna(False).to_numpy()].copy()
        consent = pd.to_numeric(started["consent_rate"], errors="coerce")
        emit(bad.reset_index(), "start_criteria_unmet", "warning",
             (unmet[ok.eq(False).fillna(False)].astype(str) + "（同意率 "
              + consent[ok.eq(False).fillna(False)].map(
                  lambda v: "未填" if pd.isna(v) else f"{v:.0%}").astype(str) + "）")
             .reset_index(drop=True))
        unknown = first_rows[ok.isna().to_numpy()]
        missing = started.loc[ok.isna(), list(START_CRITERIA)].isna()
        emit(unknown.reset_index(), "start_criteria_unknown", "info",
             pd.Series(["未填报：" + "、".join(CRITERIA_ZH[c] for c in START_CRITERIA if r[c])
                        for _, r in missing.iterrows()], dtype=object))

        limit = (pd.Series(pd.Timestamp(_parse_dates(pd.Series([today])).iloc[0]),
                           index=frame.index)
                 if today is not None else
                 _to_dates(frame["entered_at"]) if "entered_at" in frame
                 else pd.Series(pd.Timestamp.now().normalize(), index=frame.index))
        fut = frame[frame["date"] > limit]
        emit(fut, "future_date", "warning", "日期晚于录入日期 " + limit[fut.index].dt.strftime(
            "%Y-%m-%d").fillna("").astype(str))

    # rows left out of the status carry their import flags
    all_rows = pd.DataFrame(log)
    if "flags" in all_rows and len(all_rows):
        flags = all_rows["flags"].fillna("").astype(str)
        for code in ("compound_unknown", "compound_ambiguous", "unparseable_date",
                     "unparseable_stage", "unparseable_consent", "unparseable_criterion",
                     "unit_without_geometry"):
            hit = all_rows[flags.str.split(";").map(lambda f, c=code: c in f)].copy()
            if len(hit):
                hit["date"] = _to_dates(hit["date"]) if "date" in hit else pd.NaT
                hit["stage"] = hit["stage"].where(hit["stage"].notna(), None)
                emit(hit, code, "info" if code == "unit_without_geometry" else "warning",
                     hit["note"].fillna("").astype(str) if "note" in hit else "")
    if not problems:
        return pd.DataFrame(columns=["code", "problem_zh", "severity", "compound_id",
                                     "compound_name", "county", "date", "stage", "detail",
                                     "source_file", "source_row", "log_id"])
    out = pd.concat(problems, ignore_index=True)
    return out.sort_values(["county", "compound_name", "date", "code"],
                           na_position="last", kind="stable").reset_index(drop=True)


def check_compounds(compounds: pd.DataFrame, *, rules: Any = None) -> pd.DataFrame:
    """Eligibility problems (Guyuan rules, :mod:`gisplan.eligibility`) as problem rows.

    Parameters
    ----------
    compounds : pandas.DataFrame
        The programme's compounds.
    rules : str or gisplan.eligibility.Rules, optional
        Rule set (``rules.toml``); the default rule set when None.

    Returns
    -------
    pandas.DataFrame
        Columns as :func:`check_log`; codes ``eligibility`` (ineligible compounds, and
        2001–2005 compounds as info) and ``cap_2001_2005_exceeded`` (programme level).
    """
    from gisplan.eligibility import CONDITIONAL, INELIGIBLE, cap_share, classify, load_rules

    r = rules if rules is not None and not isinstance(rules, str) else load_rules(rules)
    cls = classify(compounds, rules=r)
    comp = pd.DataFrame(compounds)
    rows = []
    sel = cls["eligibility"].isin([INELIGIBLE, CONDITIONAL])
    for idx in cls.index[sel.to_numpy()]:
        rows.append({
            "code": "eligibility", "problem_zh": CODES_ZH["eligibility"]
            if cls.at[idx, "eligibility"] == INELIGIBLE else "附条件纳入（2001—2005年建成）",
            "severity": "warning" if cls.at[idx, "eligibility"] == INELIGIBLE else "info",
            "compound_id": comp.at[idx, "compound_id"] if "compound_id" in comp else None,
            "compound_name": comp.at[idx, "name"] if "name" in comp else None,
            "county": comp.at[idx, "county"] if "county" in comp else None,
            "date": None, "stage": None, "detail": cls.at[idx, "reason_zh"],
            "source_file": None, "source_row": None, "log_id": None})
    hh = pd.to_numeric(comp.get("households", pd.Series(np.nan, index=comp.index)),
                       errors="coerce").to_numpy(dtype=float)
    share = cap_share(hh, cls["eligibility"].to_numpy())
    if share > r.household_cap_2001_2005 + 1e-9:
        rows.append({"code": "cap_2001_2005_exceeded",
                     "problem_zh": CODES_ZH["cap_2001_2005_exceeded"], "severity": "warning",
                     "compound_id": None, "compound_name": None, "county": None, "date": None,
                     "stage": None,
                     "detail": f"2001—2005年建成小区户数占比 {share:.1%}，上限 "
                               f"{r.household_cap_2001_2005:.0%}",
                     "source_file": None, "source_row": None, "log_id": None})
    return pd.DataFrame(rows, columns=["code", "problem_zh", "severity", "compound_id",
                                       "compound_name", "county", "date", "stage", "detail",
                                       "source_file", "source_row", "log_id"])


# --------------------------------------------------------------------------- summaries


def _planned(compounds: pd.DataFrame) -> pd.DataFrame:
    """Compounds in the programme: status planned (or not given)."""
    comp = pd.DataFrame(compounds).drop(columns="geometry", errors="ignore")
    if "status" in comp:
        st = comp["status"].map(lambda v: term("compound_status", v))
        comp = comp[(st.isna() | st.eq("planned")).to_numpy()]
    return comp


def _top_category(categories: pd.Series) -> pd.Series:
    """Highest renovation category of each compound (``basic;improvement`` → improvement).

    Categories are cumulative (国办发〔2020〕23号): a 完善类 compound also gets the 基础类
    works, so a compound is counted under the highest category it has. None where the
    compound has no known category.
    """
    order = {k: i for i, k in enumerate(vocab("category"))}
    keys = list(order)

    def top(cell: Any) -> str | None:
        ranks = [order[k] for k in str(cell).split(";") if k in order] if isinstance(
            cell, str) else []
        return keys[max(ranks)] if ranks else None

    return categories.map(top).astype(object)


def _progress_base(compounds: pd.DataFrame, log: pd.DataFrame, *, as_of: Any) -> pd.DataFrame:
    """One row per compound in the programme on *as_of*: unit, households, category, rank.

    Compounds with status planned (or none), plus compounds known only from the log
    (units without geometry, e.g. 经开区). ``rank`` is the position of the compound's
    stage in :data:`STAGES` (-1 before any report); ``started``, ``completed`` and
    ``flagged`` (a start that does not meet the start criteria) are bool.
    """
    comp = _planned(compounds)
    status = compound_status(log, as_of=as_of)
    base = pd.DataFrame({
        "key": comp["compound_id"].astype(str).to_numpy(),
        "county": comp["county"].to_numpy() if "county" in comp else None,
        "district": comp["district"].to_numpy() if "district" in comp else None,
        "households": pd.to_numeric(comp["households"], errors="coerce").to_numpy(
            dtype=float) if "households" in comp else np.nan,
        "top_category": (_top_category(comp["categories"]).to_numpy()
                         if "categories" in comp else None),
    })
    # compounds of units without geometry: known only from the log
    extra_keys = status.index[status["compound_id"].isna()]
    if len(extra_keys):
        full = _valid(log)
        hh = (full.groupby("key")["households"].last().reindex(extra_keys)
              if "households" in full else pd.Series(np.nan, index=extra_keys))
        extra = pd.DataFrame({"key": extra_keys,
                              "county": status.loc[extra_keys, "county"].to_numpy(),
                              "district": None,
                              "households": pd.to_numeric(hh, errors="coerce").to_numpy(),
                              "top_category": None})
        base = pd.concat([base, extra], ignore_index=True)
    st = status.reindex(base["key"])
    base["rank"] = st["stage"].map(RANK).fillna(-1).astype(int).to_numpy()
    base["started"] = st["started"].fillna(False).astype(bool).to_numpy()
    base["completed"] = st["completed"].fillna(False).astype(bool).to_numpy()
    base["flagged"] = (base["started"] & ~st["start_ok"].fillna(False).astype(bool)
                       .to_numpy())
    return base


def progress_summary(
    compounds: pd.DataFrame,
    log: pd.DataFrame,
    *,
    as_of: Any,
    by: str = "county",
    total: bool = True,
) -> pd.DataFrame:
    """Compounds and households planned, started, completed per county or 片区 on a date.

    Parameters
    ----------
    compounds : pandas.DataFrame
        The programme's compounds (``compound_id``, ``county``, ``district``,
        ``households``); only those with status planned (or none) count.
    log : pandas.DataFrame
        ``progress_log`` rows.
    as_of : date-like
        The day (inclusive).
    by : {"county", "district"}, default "county"
        Group by county (县区) or 片区.
    total : bool, default True
        Append a programme total row (unit ``合计``).

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``unit``, ``compounds_planned``, ``households_planned``,
        ``compounds_started``, ``households_started``, ``compounds_completed``,
        ``households_completed``, ``start_rate``, ``start_rate_households``,
        ``completion_rate``, ``completion_rate_households`` (shares 0–1, NaN where
        nothing is planned) and ``starts_flagged`` (starts that do not meet the start
        criteria, or whose criteria were not reported). Compounds reported by units
        without geometry (e.g. 经开区) count under their unit.
    """
    base = _progress_base(compounds, log, as_of=as_of)
    hh = base["households"].fillna(0.0)
    base["hh_started"] = hh.where(base["started"], 0.0)
    base["hh_completed"] = hh.where(base["completed"], 0.0)
    col = "district" if by in ("district", "pianqu", "片区") else "county"
    base["unit"] = base[col].astype(object).where(base[col].notna(), "（未注明）")
    g = base.groupby("unit", sort=False)
    out = pd.DataFrame({
        "compounds_planned": g.size(),
        "households_planned": g["households"].sum(min_count=1),
        "compounds_started": g["started"].sum(),
        "households_started": g["hh_started"].sum(),
        "compounds_completed": g["completed"].sum(),
        "households_completed": g["hh_completed"].sum(),
        "starts_flagged": g["flagged"].sum(),
    })
    if total and len(out):
        out.loc["合计"] = out.sum(numeric_only=True, min_count=1)
    out = out.reset_index(names="unit")
    for c in ("compounds_planned", "compounds_started", "compounds_completed",
              "starts_flagged"):
        out[c] = out[c].astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["start_rate"] = out["compounds_started"] / out["compounds_planned"]
        out["start_rate_households"] = out["households_started"] / out["households_planned"]
        out["completion_rate"] = out["compounds_completed"] / out["compounds_planned"]
        out["completion_rate_households"] = (out["households_completed"]
                                             / out["households_planned"])
    for c in ("households_planned", "households_started", "households_completed"):
        out[c] = out[c].round().astype("Int64")  # NA where a unit reported no households
    return out[["unit", "compounds_planned", "households_planned", "compounds_started",
                "households_started", "start_rate", "start_rate_households",
                "compounds_completed", "households_completed", "completion_rate",
                "completion_rate_households", "starts_flagged"]]


#: how a milestone measure counts: by compounds (每个小区计1) or by households (按户数)
MEASURE_BASES: dict[str, str] = {"compounds": "按小区", "households": "按户数"}
_MEASURE_RE = re.compile(r"^(?P<stage>[a-z_]+)_(?P<per>compounds|households)$")


def parse_measure(measure: str) -> tuple[str, str]:
    """Split a milestone measure into (stage, basis).

    A measure is ``<stage>_<compounds|households>``: the share of the programme's
    compounds (or of their households) at or beyond *stage* (a key of
    ``[vocab.stage]``), e.g. ``started_compounds``, ``completed_households``,
    ``accepted_compounds`` (竣工验收).

    Raises
    ------
    InputError
        The measure names no stage or no basis; the message lists the valid ones.

    Examples
    --------
    >>> parse_measure("accepted_households")
    ('accepted', 'households')
    """
    m = _MEASURE_RE.match(str(measure))
    if m is None or m["stage"] not in RANK:
        raise InputError(
            f"unknown milestone measure '{measure}'", layer="programme",
            column="milestones", value=measure,
            hint="write <stage>_compounds or <stage>_households with a stage among "
            + ", ".join(STAGES) + ", e.g. started_compounds, completed_households, "
            "accepted_compounds")
    return m["stage"], m["per"]


def measure_zh(measure: str) -> str:
    """Chinese name of a milestone measure: ``accepted_compounds`` → ``验收率（按小区）``."""
    stage, per = parse_measure(measure)
    return f"{zh('stage', stage)}率（{MEASURE_BASES[per]}）"


def _category_scope(value: Any) -> frozenset[str] | None:
    """Categories a milestone is restricted to (``"basic"``, ``["basic", ...]``), or None."""
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return None
    parts = value if isinstance(value, (list, tuple)) else re.split(r"[;,、\s]+", str(value))
    keys = {term("category", v) for v in parts if str(v).strip()}
    if None in keys or not keys:
        raise InputError(f"unknown renovation category in milestone: {value!r}",
                         layer="programme", column="milestones", value=value,
                         hint="use basic (基础类), improvement (完善类) or upgrade (提升类)")
    return frozenset(k for k in keys if k is not None)


def milestone_state(value: np.ndarray, target: np.ndarray, *, as_of: np.datetime64,
                    due: np.ndarray, start: Any) -> tuple[np.ndarray, np.ndarray]:
    """Classify milestone progress: met, on track or behind (array core).

    A milestone is ``met`` when the value reaches the target. Before the due date it is
    ``on_track`` when the value reaches the linear pace from the programme start
    (``target × elapsed / duration``), otherwise ``behind``; after the due date an
    unmet milestone is ``behind``.

    Parameters
    ----------
    value, target : ndarray of float
        Achieved and target shares (0–1).
    as_of : numpy.datetime64
        The day of the status.
    due : ndarray of datetime64
        Due dates.
    start : numpy.datetime64 or ndarray of datetime64
        Where the pace starts at 0 (one date, or one per milestone).

    Returns
    -------
    state : ndarray of str
    expected : ndarray of float
        The share expected by *as_of* at linear pace.
    """
    value = np.nan_to_num(np.asarray(value, dtype=float))
    target = np.asarray(target, dtype=float)
    due = np.asarray(due, dtype="datetime64[D]")
    t0 = np.asarray(start, dtype="datetime64[D]")
    span = (due - t0).astype(float)
    elapsed = (np.asarray(as_of, dtype="datetime64[D]") - t0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip(np.where(span > 0, elapsed / span, 1.0), 0.0, 1.0)
    expected = target * frac
    state = np.where(value >= target - 1e-9, "met",
                     np.where(value >= expected - 1e-9, "on_track", "behind"))
    return state.astype(object), expected


def milestone_status(
    compounds: pd.DataFrame,
    log: pd.DataFrame,
    milestones: Sequence[dict[str, Any]],
    *,
    as_of: Any,
    start: Any = None,
    by: str | None = "county",
) -> pd.DataFrame:
    """Mark each milestone of the programme met, on track or behind on *as_of*.

    Parameters
    ----------
    compounds, log : pandas.DataFrame
        As for :func:`progress_summary`.
    milestones : sequence of dict
        ``{key, zh, date, measure, target[, categories]}`` from the programme metadata,
        e.g. Xuchang's ``{"key": "all_started", "date": "2023-06-30", "measure":
        "started_compounds", "target": 1.0}``. The measure is
        ``<stage>_<compounds|households>`` (:func:`parse_measure`): the share of
        compounds, or of households, at or beyond the stage — ``started``, ``completed``,
        ``accepted`` (竣工验收, Guyuan by 2022-11-30) or any other stage.
        ``categories`` restricts a milestone to the compounds whose *highest* renovation
        category is one of those given: Huai'an's "基础类改造的老旧小区 complete by
        2023-07-31" (``categories = "basic"``) measures the compounds that get basic works
        only, not those that also get 完善类 or 提升类 works (which take longer).
        Compounds without a category, or known only from the log, are left out of such a
        milestone.
    as_of : date-like
        The day of the status.
    start : date-like, optional
        Programme start for the linear pace; by default 1 January of the year of the
        earliest milestone (the programme metadata ``start_date`` when given). A
        milestone of a later stage is paced from the latest milestone of an earlier
        stage due before it (completion from the start deadline, acceptance from the
        completion deadline).
    by : {"county", "district", None}, default "county"
        Also mark each unit; None for the programme only. A unit without compounds in a
        milestone's scope has no row for it.

    Returns
    -------
    pandas.DataFrame
        ``unit`` (``合计`` for the programme), ``key``, ``milestone_zh``, ``due``,
        ``measure``, ``measure_zh``, ``target``, ``value``, ``expected``, ``state``
        (``met``, ``on_track``, ``behind``), ``state_zh`` and ``n_compounds`` (compounds
        the milestone measures in the unit).

    Raises
    ------
    InputError
        A measure or category is unknown, or the as-of date unreadable.
    """
    cols = ["unit", "key", "milestone_zh", "due", "measure", "measure_zh", "target", "value",
            "expected", "state", "state_zh", "n_compounds"]
    if not milestones:
        return pd.DataFrame(columns=cols)
    asof = pd.Timestamp(_parse_dates(pd.Series([as_of])).iloc[0])
    if pd.isna(asof):
        raise InputError("as-of date not recognised", value=as_of,
                         hint="write 2023-06-30 or 2023年6月30日")
    ms = pd.DataFrame(list(milestones))
    parsed = [parse_measure(m) for m in ms["measure"]]
    ms["stage_rank"] = [RANK[stage] for stage, _ in parsed]
    ms["per"] = [per for _, per in parsed]
    ms["due"] = _parse_dates(ms["date"])
    t0 = (pd.Timestamp(_parse_dates(pd.Series([start])).iloc[0]) if start is not None
          else pd.Timestamp(year=int(ms["due"].min().year), month=1, day=1))
    # a later stage is paced from the last milestone of an earlier stage due before it
    # (works cannot complete before they start): Xuchang's 70 % by 31 Oct is paced from
    # the 30 June start deadline, Guyuan's acceptance from the completion deadline
    ms["pace_from"] = [
        max(ms.loc[(ms["stage_rank"] < r).to_numpy() & (ms["due"] < due).to_numpy(), "due"],
            default=t0)
        for r, due in zip(ms["stage_rank"], ms["due"], strict=True)]

    base = _progress_base(compounds, log, as_of=asof)
    level = "district" if by in ("district", "pianqu", "片区") else "county"
    base["unit"] = base[level].astype(object).where(base[level].notna(), "（未注明）")
    order = list(dict.fromkeys(base["unit"]))
    frames = []
    for i, spec in enumerate(ms.to_dict("records")):
        scope = _category_scope(spec.get("categories"))
        sub = base if scope is None else base[base["top_category"].isin(scope).to_numpy()]
        weight = (np.ones(len(sub)) if spec["per"] == "compounds"
                  else sub["households"].to_numpy(dtype=float))
        reached = sub["rank"].to_numpy() >= spec["stage_rank"]
        parts = pd.DataFrame({"unit": sub["unit"].to_numpy(), "n": 1, "planned": weight,
                              "done": np.where(reached, np.nan_to_num(weight), 0.0)})
        g = parts.groupby("unit", sort=False)
        per_unit = pd.DataFrame({"n": g["n"].sum(), "planned": g["planned"].sum(min_count=1),
                                 "done": g["done"].sum()}) if by else pd.DataFrame()
        per_unit.loc["合计", ["n", "planned", "done"]] = [
            len(sub), parts["planned"].sum(min_count=1), parts["done"].sum()]
        frames.append(per_unit.reset_index(names="unit").assign(row=i))
    rows = pd.concat(frames, ignore_index=True)
    # unit by unit in the order of the summary, the programme total last
    unit_order = pd.Categorical(rows["unit"], categories=[*order, "合计"]).codes
    rows = rows.iloc[np.lexsort((rows["row"].to_numpy(), unit_order))].reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (rows["done"] / rows["planned"]).to_numpy(dtype=float)
    m = ms.iloc[rows["row"].to_numpy()].reset_index(drop=True)
    state, expected = milestone_state(value, m["target"].to_numpy(dtype=float),
                                      as_of=np.datetime64(asof.date()),
                                      due=m["due"].to_numpy(dtype="datetime64[D]"),
                                      start=m["pace_from"].to_numpy(dtype="datetime64[D]"))
    out = pd.DataFrame({
        "unit": rows["unit"], "key": m["key"],
        "milestone_zh": m["zh"] if "zh" in m else m["key"],
        "due": m["due"].dt.strftime("%Y-%m-%d"), "measure": m["measure"],
        "measure_zh": m["measure"].map(measure_zh),
        "target": m["target"].astype(float), "value": value, "expected": expected,
        "state": state, "state_zh": [MILESTONE_STATES_ZH[s] for s in state],
        "n_compounds": rows["n"].astype("int64")})
    return out[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- samples


def write_sample_reports(project: Any, out_dir: str | Path, *,
                         name: str | None = None) -> list[Path]:
    """Write county progress reports for import demos from a programme's log.

    The reports look like the ones counties send: a title row, a merged 开工认定标准
    header over five columns, Chinese dates (``2023年6月30日``, ``2023.6.30``),
    consent rates as ``"85%"`` or ``0.85``, 是/否, a misspelt compound name and, where
    the programme has one, a row of a unit without geometry (经开区).

    Parameters
    ----------
    project : gisplan.store.Project or path
        A sample programme with a ``progress_log``.
    out_dir : path
        Where to write ``<name>_weekly_<date>.xlsx`` and ``<name>_monthly_<date>.csv``.
    name : str, optional
        File name prefix (the store's file stem).

    Returns
    -------
    list of Path
        The files written (deterministic content for a given store).
    """
    from gisplan.report import write_county_report

    p = _open(project)
    stem = name or Path(str(getattr(p, "path", "programme"))).stem
    log = read_log(p)
    compounds = p.read("compounds")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dates = _to_dates(log["date"]).dropna()
    if not len(dates):
        raise InputError("the programme has no progress log to draw reports from",
                         file=str(getattr(p, "path", "")), layer="progress_log",
                         hint="import a report first or rebuild the samples")
    written: list[Path] = []
    year = int(dates.dt.year.mode().iloc[0])
    for as_of, kind in ((pd.Timestamp(year=year, month=6, day=30), "weekly"),
                        (pd.Timestamp(year=year, month=10, day=31), "monthly")):
        status = compound_status(log, as_of=as_of)
        status = status[status["compound_id"].notna()].copy()
        comp = pd.DataFrame(compounds).drop(columns="geometry", errors="ignore")
        table = status.merge(comp[["compound_id", "name", "county"] + (
            ["households"] if "households" in comp else [])], on="compound_id",
            how="left", suffixes=("_log", ""))
        table = table.sort_values(["county", "compound_id"]).reset_index(drop=True)
        if len(table) > 2:
            # a typo a county office would make: one character of one name
            nm = str(table.at[1, "name"])
            table.at[1, "name"] = nm[:-1] + ("苑" if not nm.endswith("苑") else "园")
        extra = None
        if "经开区" in [str(c) for c in (p.meta or {}).get("counties", [])]:
            extra = {"county": "经开区", "name": "佳兴南苑", "stage": "started",
                     "consent_rate": 0.86, "structures_removed": True, "design_posted": True,
                     "contract_signed": True, "crew_on_site": True, "households": 420}
        path = out / (f"{stem}_{kind}_{as_of:%Y%m%d}."
                      + ("xlsx" if kind == "weekly" else "csv"))
        write_county_report(table, path, as_of=as_of, extra_row=extra,
                            date_style="cn" if kind == "weekly" else "dot",
                            percent_style="text" if kind == "weekly" else "share")
        written.append(path)
    return written
