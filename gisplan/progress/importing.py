"""Report import: county progress reports (CSV or XLSX) into the log.

:func:`import_reports` reads a report as counties send it (title rows, merged two-row
headers, Chinese dates, ``"85%"``, 是/否), turns its rows into canonical log rows
(:func:`prepare_log`: match the compound, parse the values, flag what cannot be read —
every row is kept), and appends the rows whose content is new
(:func:`gisplan.progress.log.append_new`).

Examples
--------
>>> import pandas as pd
>>> comp = pd.DataFrame({"compound_id": ["C1"], "name": ["梅园小区"], "county": ["魏都区"]})
>>> raw = pd.DataFrame({"county": ["魏都区", "魏都区"], "compound_name": ["梅园小区", "无名"],
...                     "date": ["2023年6月30日", "2023.7.1"], "stage": ["已开工", "完工"]})
>>> log, unmatched, report = prepare_log(raw, comp, file="r.csv")
>>> log[["compound_id", "date", "stage"]].to_numpy().tolist()
[['C1', datetime.date(2023, 6, 30), 'started'], [None, datetime.date(2023, 7, 1), 'completed']]
>>> [f.code for f in report], unmatched["match"].tolist()
(['compound_unknown'], ['unknown'])
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from gisplan._errors import InputError, SchemaError
from gisplan.findings import Finding, Report, Severity, add_flags
from gisplan.progress.dates import DateLike, parse_dates, require_date, to_dates
from gisplan.progress.log import append_new, row_hashes
from gisplan.progress.matching import match_compounds
from gisplan.progress.terms import BOOL_CRITERIA, STAGES
from gisplan.schema import layer_schema, term, zh
from gisplan.sources import ProgrammeLike, as_project, read_layers

__all__ = ["ImportResult", "PreparedLog", "import_reports", "prepare_log"]

_LAYER = "progress_log"


class PreparedLog(NamedTuple):
    """Canonical log rows made from a report (tuple-unpacks as ``log, unmatched, report``).

    Attributes
    ----------
    log : pandas.DataFrame
        Canonical ``progress_log`` columns plus ``row_hash`` (``log_id`` empty);
        ``date`` holds :class:`datetime.date` objects.
    unmatched : pandas.DataFrame
        Rows whose compound was not matched (or matched approximately), with candidates.
    report : Report
        Findings and the row count.
    """

    log: pd.DataFrame
    unmatched: pd.DataFrame
    report: Report


# --------------------------------------------------------------------------- values
# Value parsing is gisplan.parse's (Chinese dates, "85%" / 0.85, 是/否); these wrappers
# only adapt its results to the log's dtypes.


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


# --------------------------------------------------------------------------- preparing


def _require_columns(raw: pd.DataFrame, *, file: str | None, default_date: Any) -> None:
    """Refuse a report without a stage, a compound or a date, saying what to add."""
    if "stage" not in raw:
        raise SchemaError("the report has no stage column", file=file, layer=_LAYER,
                          column="进度阶段",
                          hint="add a column 进度阶段 (or 形象进度/当前进度) with 开工, 完工, ...")
    if "compound_id" not in raw and "compound_name" not in raw:
        raise SchemaError("the report names no compound", file=file, layer=_LAYER,
                          column="小区名称",
                          hint="add a column 小区名称 (with 县区) or 小区编号")
    if "date" not in raw and default_date is None:
        raise SchemaError("the report has no date column", file=file, layer=_LAYER,
                          column="日期",
                          hint="add a column 日期 (填报日期) or pass the report date "
                               "(--date 2023-06-30)")


def _column(raw: pd.DataFrame, col: str) -> pd.Series:
    """Return a column of the report as objects; all None when the report lacks it."""
    return raw[col].astype(object) if col in raw else pd.Series(None, index=raw.index,
                                                                  dtype=object)


def _dates(raw: pd.DataFrame, default_date: DateLike | None) -> pd.Series:
    """Return the date of each row (the report's date where a row has none)."""
    if "date" not in raw:
        return pd.Series([require_date(default_date, what="report date")] * len(raw),
                         index=raw.index, dtype=object)
    dates = to_dates(raw["date"])
    if default_date is not None:
        dates = dates.where(dates.notna(), require_date(default_date, what="report date"))
    return dates


def _canonical_rows(raw: pd.DataFrame, m: pd.DataFrame, compounds: pd.DataFrame, *,
                    file: str | None, entered: dt.datetime, default_date: DateLike | None,
                    src_rows: pd.Series) -> pd.DataFrame:
    """Return the report's values as canonical log columns (unreadable ones empty)."""
    out = pd.DataFrame(index=raw.index)
    out["compound_id"] = m["compound_id"]
    out["compound_name"] = _column(raw, "compound_name")
    if "compound_name" in raw and len(compounds):
        comp = pd.DataFrame(compounds)
        names = pd.Series(comp["name"].astype(str).to_numpy(),
                          index=comp["compound_id"].astype(str))
        fill = out["compound_name"].isna() & out["compound_id"].notna()
        out.loc[fill, "compound_name"] = out.loc[fill, "compound_id"].map(names)
    out["county"] = m["county"]
    out["date"] = _dates(raw, default_date)
    out["stage"] = _parse_stage(raw["stage"])
    out["consent_rate"] = _parse_ratio(raw["consent_rate"]) if "consent_rate" in raw else np.nan
    for col in BOOL_CRITERIA:
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
    return out


@dataclass
class _Flagger:
    """Flags rows of the prepared log and lists them as findings (capped per code)."""

    out: pd.DataFrame
    report: Report
    file: str | None
    src_rows: pd.Series

    def __call__(self, mask: pd.Series, code: str, severity: Severity, column: str | None,
                 values: pd.Series, message: str, hint: str | pd.Series | None) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        add_flags(self.out, mask.to_numpy(), code)
        hits = mask.index[mask.to_numpy()]

        def findings() -> Iterable[Finding]:
            for idx in hits:
                row = self.src_rows[idx]
                yield Finding(severity, code, message, file=self.file, layer=_LAYER,
                              row=int(row) if pd.notna(row) else None, column=column,
                              value=values[idx],
                              hint=hint[idx] if isinstance(hint, pd.Series) else hint)

        self.report.add_capped(findings(), total=len(hits))


def _flag_values(flag: _Flagger, raw: pd.DataFrame, out: pd.DataFrame,
                 entered: dt.datetime) -> None:
    """Flag dates, stages, consent rates and criteria that could not be read."""
    def present(col: str) -> pd.Series:
        return _column(raw, col).notna() & (_column(raw, col).astype(str).str.strip() != "")

    flag(out["date"].isna(), "unparseable_date", "warning", "日期", _column(raw, "date"),
         "date not recognised; the row is kept without a date and left out of the status",
         "write dates as 2023-06-30, 2023年6月30日 or 2023.6.30")
    flag(out["stage"].isna(), "unparseable_stage", "warning", "进度阶段", raw["stage"],
         "stage not recognised; the row is kept and left out of the status",
         "use one of " + "、".join(zh("stage", s) for s in STAGES))
    if "consent_rate" in raw:
        consent = _column(raw, "consent_rate")
        flag(present("consent_rate") & out["consent_rate"].isna(), "unparseable_consent",
             "warning", "居民同意率", consent, "consent rate not recognised",
             "write 85% or 0.85")
        flag(out["consent_rate"].gt(1) | out["consent_rate"].lt(0), "unparseable_consent",
             "warning", "居民同意率", consent, "consent rate outside 0–100 %",
             "write 85% or 0.85")
    for col in BOOL_CRITERIA:
        if col in raw:
            flag(present(col) & out[col].isna(), "unparseable_criterion", "warning",
                 layer_schema(_LAYER).column(col).zh, _column(raw, col),
                 "start criterion not recognised as yes/no", "write 是 or 否")
    future = parse_dates(out["date"]) > pd.Timestamp(entered.date())
    flag(future, "future_date", "warning", "日期", _column(raw, "date"),
         f"the report is dated after it was entered ({entered.date()})",
         "check the year and month of the date")


def _names_as_written(raw: pd.DataFrame) -> pd.Series:
    name = _column(raw, "compound_name")
    return name.where(name.notna(), _column(raw, "compound_id"))


def _flag_matches(flag: _Flagger, raw: pd.DataFrame, m: pd.DataFrame,
                  units_without_geometry: Iterable[str]) -> None:
    """Flag names not matched, matched approximately, and units not recognised."""
    names = _names_as_written(raw)
    cand = m["candidates"]
    not_found = cand.map(lambda c: f"best candidates: {c}; write the compound's 小区编号 or "
                         "its name as in the programme" if c
                         else "write the compound's 小区编号")
    flag(m["match"].eq("unknown") | m["match"].eq("missing"), "compound_unknown", "warning",
         "小区名称", names,
         "no compound of this name in its county; kept unmatched, left out of the status",
         not_found)
    flag(m["match"].eq("ambiguous"), "compound_ambiguous", "warning", "小区名称", names,
         "the name fits more than one compound; kept unmatched, left out of the status",
         not_found)
    flag(m["match"].eq("fuzzy"), "name_fuzzy_matched", "info", "小区名称", names,
         "matched to the nearest compound name",
         "candidates: " + cand + "; correct the name if the match is wrong")
    flag(m["match"].eq("no_geometry") | (m["county"].isin(list(units_without_geometry))),
         "unit_without_geometry", "info", "县区", _column(raw, "county"),
         "reporting unit has no geometry; the row is kept and counted by name", None)
    flag(pd.Series(m["unknown_county"].to_numpy(), index=raw.index), "unknown_county",
         "warning", "县区", _column(raw, "county"), "county not recognised; matched across "
         "all counties", "use the county names of the programme")


def _unmatched(raw: pd.DataFrame, m: pd.DataFrame, src_rows: pd.Series) -> pd.DataFrame:
    frame = pd.concat([_column(raw, "county").rename("county_as_written"),
                       _names_as_written(raw).rename("name_as_written"),
                       m[["match", "score", "candidates", "compound_id"]],
                       src_rows.rename("source_row")], axis=1)
    return frame[m["match"].isin(["unknown", "ambiguous", "fuzzy", "missing"])]


def prepare_log(
    raw: pd.DataFrame,
    compounds: pd.DataFrame,
    *,
    file: str | None = None,
    entered_at: dt.datetime | None = None,
    default_date: DateLike | None = None,
    units_without_geometry: Iterable[str] = (),
    known_units: Iterable[str] = (),
    score_cutoff: float = 75.0,
) -> PreparedLog:
    """Turn rows of a county report into canonical ``progress_log`` rows.

    Every row is kept (rows in = rows out): values that cannot be parsed stay empty and
    the row is flagged, with a finding naming file, row, column and value (the first
    :data:`gisplan.findings.LISTED_PER_CODE` of each code; every row keeps its flag).

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
        Time of entry; None means now. A report dated after it is flagged ``future_date``.
    default_date : date-like, optional
        Date of every row without one (the report's 填报日期); None means rows must carry
        their own date.
    units_without_geometry, known_units, score_cutoff
        See :func:`gisplan.progress.match_compounds`.

    Returns
    -------
    PreparedLog
        ``log``, ``unmatched`` and ``report``.
    """
    _require_columns(raw, file=file, default_date=default_date)
    entered = entered_at or dt.datetime.now().replace(microsecond=0)
    src_rows = (raw["source_row"] if "source_row" in raw
                else pd.Series(np.arange(2, len(raw) + 2), index=raw.index))
    m = match_compounds(raw, compounds, score_cutoff=score_cutoff,
                        units_without_geometry=units_without_geometry,
                        known_units=known_units)
    out = _canonical_rows(raw, m, compounds, file=file, entered=entered,
                          default_date=default_date, src_rows=src_rows)
    report = Report()
    flag = _Flagger(out, report, file, src_rows)
    _flag_values(flag, raw, out, entered)
    _flag_matches(flag, raw, m, units_without_geometry)

    out["row_hash"] = row_hashes(out)
    cols = [c.name for c in layer_schema(_LAYER).columns if c.name != "log_id"]
    cols += [c for c in ("households", "row_hash") if c in out and c not in cols]
    log = out.reindex(columns=["log_id", *cols])
    report.count(_LAYER, len(raw), len(log), flagged=int((log["flags"] != "").sum()))
    return PreparedLog(log, _unmatched(raw, m, src_rows), report)


# --------------------------------------------------------------------------- import


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
        The prepared rows (all of them, with ``import_status`` of each:
        :data:`gisplan.progress.log.ImportStatus`).
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
    header_map: dict[str, str] = field(default_factory=dict)

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


def _read_report(path: Path, *, sheet: str | int | None = None,
                 columns: Mapping[str, str] | None = None,
                 saved_columns: Mapping[str, str] | None = None
                 ) -> tuple[pd.DataFrame, Report]:
    """Read a county report into canonical ``progress_log`` columns.

    :func:`gisplan.read.read_table` finds the header under title rows, reads two-row
    headers with merged cells, maps Chinese headers (and the user's *columns* and the
    county's saved mapping) and parses the values; a value it cannot read stops the
    import with every bad cell listed. ``source_row`` is the row a planner sees in the
    spreadsheet.
    """
    from gisplan.read import read_table

    frame, report = read_table(path, _LAYER, sheet=sheet, columns=columns,
                               saved_columns=saved_columns)
    out = pd.DataFrame(frame)
    out.attrs["header_map"] = dict(frame.attrs.get("header_map", {}))
    return out, report


#: Programme metadata key of the saved report layouts, one per county.
MAPPINGS_KEY = "report_mappings"


def _check_county(county: str | None, units: list[str]) -> None:
    if county is not None and county not in units:
        raise InputError(f"--county {county}: not a county of the programme", value=county,
                         hint="use one of: " + ("、".join(units) or "(the programme names no "
                                               "counties; set them with gisplan programme set)"))


def _saved_layout(meta: Mapping[str, Any], county: str | None) -> dict[str, str] | None:
    """Return the header mapping saved for *county*'s reports, or None."""
    from gisplan.mappings import SavedMapping

    if county is None:
        return None
    stored = (meta.get(MAPPINGS_KEY) or {}).get(county)
    if not stored:
        return None
    return SavedMapping.from_dict(stored, where=f"the saved layout of {county}").columns


def _save_layout(p: Any, county: str, header_map: Mapping[str, str]) -> None:
    from gisplan.mappings import SavedMapping

    layouts = dict(p.meta.get(MAPPINGS_KEY) or {})
    layouts[county] = SavedMapping.from_header_map(_LAYER, header_map).to_dict()
    p.set_meta(**{MAPPINGS_KEY: layouts})


def import_reports(
    project: ProgrammeLike,
    file: str | Path,
    *,
    sheet: str | int | None = None,
    entered_at: dt.datetime | None = None,
    score_cutoff: float = 75.0,
    dry_run: bool = False,
    county: str | None = None,
    columns: Mapping[str, str] | None = None,
    save_mapping: bool = False,
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
        Worksheet of an XLSX file; None means the first.
    entered_at : datetime, optional
        Time of entry; None means now.
    score_cutoff : float, default 75
        Smallest name similarity for a fuzzy match (see
        :func:`gisplan.progress.match_compounds`).
    dry_run : bool, default False
        Prepare and check the rows, write nothing.
    county : str, optional
        The county (县区) that sent the report: rows without a 县区 are its rows, and the
        header mapping saved for its reports (``save_mapping``) is used. None: the
        report names the county of each row.
    columns : mapping, optional
        Header as written → ``progress_log`` column (``--map``); wins over the saved one.
    save_mapping : bool, default False
        Store the header mapping used (automatic and given) as *county*'s report layout
        in the programme metadata (``report_mappings``), so that next week's report
        imports with ``county`` alone. Needs *county*; nothing is stored on a dry run.

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
    if save_mapping and county is None:
        raise InputError("--save-mapping stores the layout of one county's reports: name "
                         "the county", hint="add --county 禹州市 (the county that sent it)")
    p = as_project(project)
    meta = p.meta or {}
    layers = read_layers(p, [], optional=["compounds", "districts"])
    compounds = layers["compounds"] if layers["compounds"] is not None else pd.DataFrame(
        columns=["compound_id", "name", "county"])
    units, no_geo = _units(meta, compounds, layers["districts"])
    _check_county(county, units)
    layout = _saved_layout(meta, county)
    raw, read_report = _read_report(path, sheet=sheet, columns=columns, saved_columns=layout)
    header_map = dict(raw.attrs.get("header_map", {}))
    if county is not None:
        raw["county"] = (raw["county"].where(raw["county"].notna(), county)
                         if "county" in raw else county)
    log, unmatched, report = prepare_log(
        raw, compounds, file=path.name, entered_at=entered_at,
        units_without_geometry=no_geo, known_units=units, score_cutoff=score_cutoff)
    report.extend(f for f in read_report if f.code != "header_mapped")
    if layout:
        report.add(Finding("info", "report_layout_used",
                           f"read with the layout saved for {county}'s reports "
                           f"({len(layout)} columns) 按已保存的报表格式读取", file=path.name,
                           layer=_LAYER, value=county))
    status, appended = append_new(p, log, dry_run=dry_run)
    if save_mapping and county is not None and not dry_run:
        _save_layout(p, county, header_map)
    log = log.assign(import_status=status)
    result = ImportResult(
        file=path.name, rows_in=len(raw), appended=appended,
        already_in_log=int(status.eq("in_log").sum()),
        duplicates_in_file=int(status.eq("duplicate").sum()),
        log=log, unmatched=unmatched, report=report, header_map=header_map)
    report.count(_LAYER, len(raw), appended + result.already_in_log
                 + result.duplicates_in_file + int(status.eq("new").sum()),
                 flagged=int((log["flags"] != "").sum()))
    return result
