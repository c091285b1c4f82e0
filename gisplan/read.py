r"""Readers: files as planners have them → canonical layers.

GeoPackage, GeoJSON, Shapefile (a DBF in GBK without a ``.cpg`` file is detected and
decoded), CSV (UTF-8, UTF-8 with BOM, GBK) and Excel ``.xlsx`` (a title above the
header, two-row headers with merged cells, cells merged down a column) with longitude/
latitude columns or a WKT column.

Headers are mapped to canonical column names through the aliases in
``gisplan/data/schema.toml`` (``住宅建筑面积（平方米）`` → ``floor_area_m2``); unknown
columns are kept as they are. Values are parsed into canonical dtypes by
:mod:`gisplan.parse`; an unreadable value stops the import with an error naming the file,
sheet, row (as Excel shows it), column (as written in the file), the value and a fix.

Every row read is returned (rows in = rows out, counted in the :class:`Report`); blank
rows and ``合计`` (total) rows of a spreadsheet are not data and are reported, not read.
The source row of each returned row is in ``frame.attrs["source_rows"]``. A layer without
an id column gets ids generated from its ``序号`` column or the row order (``C0001``,
``F0001``, ...), flagged ``id_generated``; columns gisplan does not know (``序号``,
``备注``) are kept as they are.

Examples
--------
A list as a county office keeps it: a title row, 序号, units in the cells, a 合计 row.

>>> import tempfile, pathlib
>>> from gisplan.read import read_layer
>>> path = pathlib.Path(tempfile.mkdtemp()) / "小区清单.csv"
>>> _ = path.write_text(
...     "2022年老旧小区改造计划\n"
...     "序号,小区名称,户数,建成年份,经度,纬度,备注\n"
...     '1,东海园区,"1,435户",1998年,106.27,36.00,\n'
...     "2,福平苑,86户,1995年,106.28,36.01,已摸底\n"
...     '合计,,"1,521",,,,\n', encoding="utf-8")
>>> gdf, report = read_layer(path, "compounds")
>>> gdf[["compound_id", "name", "households", "built_year", "序号", "备注"]]
  compound_id  name  households  built_year 序号   备注
0       C0001  东海园区        1435        1998  1  None
1       C0002   福平苑          86        1995  2  已摸底
>>> gdf.attrs["source_rows"].tolist()     # rows as the user sees them in the file
[3, 4]
>>> sorted({f.code for f in report} - {"header_mapped"})
['crs_inferred', 'header_row', 'id_generated', 'total_row_skipped']
>>> report.counts["compounds"].balanced
True
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Generic, Literal, NamedTuple, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gisplan import crs as gcrs
from gisplan._errors import CRSError, GeometryError, InputError, SchemaError
from gisplan.findings import Finding, Report, add_flags
from gisplan.parse import (
    _MULTIPLIERS,
    Parsed,
    parse_bool,
    parse_categories,
    parse_date,
    parse_int,
    parse_number,
    parse_rate,
    parse_term,
    parse_text,
    parse_year,
)
from gisplan.schema import LayerSchema, layer_schema, normalize_text, suggest_terms, zh

__all__ = [
    "GEOMETRY_HEADERS",
    "ID_PREFIXES",
    "VOCAB_COLUMNS",
    "ReadResult",
    "ValueParseError",
    "canonical_target",
    "map_headers",
    "read_layer",
    "read_table",
]

Coords = Literal["wgs84", "gcj02", "bd09"]

#: Header names (folded with ``normalize_text``) of coordinate and WKT columns.
GEOMETRY_HEADERS: dict[str, tuple[str, ...]] = {
    "lon": ("经度", "lon", "lng", "long", "longitude", "x", "东经", "x坐标", "坐标x", "中心点经度"),
    "lat": ("纬度", "lat", "latitude", "y", "北纬", "y坐标", "坐标y", "中心点纬度"),
    "wkt": ("wkt", "geometry", "geom", "the_geom", "shape", "几何", "几何图形", "空间范围", "边界"),
}

_GEOMETRY_LABELS = {
    "__lon__": "longitude 经度", "__lat__": "latitude 纬度", "__wkt__": "WKT geometry 几何",
}

#: Canonical columns whose values are keys of a vocabulary in ``schema.toml``.
VOCAB_COLUMNS: dict[tuple[str, str], str] = {
    ("compounds", "status"): "compound_status",
    ("districts", "level"): "district_level",
    ("utilities", "network"): "network",
    ("facilities", "facility_type"): "facility_type",
    ("roads", "road_class"): "road_class",
    ("progress_log", "stage"): "stage",
}

#: Columns of a table that the reader or the store fills, not the source file.
GENERATED_COLUMNS: dict[str, frozenset[str]] = {
    "progress_log": frozenset({"log_id", "source_file", "source_row", "entered_at"}),
}

#: Prefix of the ids generated for a layer that has no id column (``C0001``, ``F0001``).
ID_PREFIXES: dict[str, str] = {
    "compounds": "C", "districts": "D", "utilities": "U", "facilities": "F", "roads": "R",
    "gates": "G",
}

#: Headers (folded with ``normalize_text``) of a running number column: ids come from it.
_ROW_NUMBER_HEADERS = frozenset({"序号", "序", "顺序号", "编号序号", "no", "#", "sn"})

_TOTAL_WORDS = frozenset({"合计", "总计", "小计", "总合计", "合计数"})
_BRACKETS = re.compile(r"[（(\[【［][^）)\]】］]*[）)\]】］]")
_MAX_HEADER_SCAN = 30
_MAX_LISTED = 20
_VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".zip"}
_TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm"}


F = TypeVar("F", bound=pd.DataFrame)


class ReadResult(NamedTuple, Generic[F]):
    """What a reader returns: the canonical frame and the :class:`Report` of reading it.

    A named tuple, so that ``gdf, report = read_layer(...)`` unpacks as it always did,
    and ``result.frame`` / ``result.report`` name the parts.
    """

    frame: F
    report: Report


class ValueParseError(SchemaError):
    """One or more cells could not be read; ``findings`` lists each of them."""

    def __init__(self, message: str, *, findings: Sequence[Finding], **where: Any) -> None:
        self.findings = list(findings)
        super().__init__(message, **where)


# ======================================================================= headers


def _header_variants(text: str) -> list[str]:
    """Folded forms of a header: as written, then without bracketed units."""
    full = normalize_text(text)
    bare = normalize_text(_BRACKETS.sub("", str(text)))
    # "面积/㎡", "面积 m2": drop a trailing unit after a slash
    slash = normalize_text(re.split(r"[/／]", _BRACKETS.sub("", str(text)))[0])
    return list(dict.fromkeys(v for v in (full, bare, slash) if v))


@cache
def _header_index(layer_kind: str) -> dict[str, str]:
    """Folded header → canonical name (canonical names first, then zh, then aliases)."""
    sch = layer_schema(layer_kind)
    index: dict[str, str] = {}
    for attr in ("name", "zh", "aliases"):
        for col in sch.columns:
            if col.name == "flags":
                continue
            values = col.aliases if attr == "aliases" else (getattr(col, attr),)
            for v in values:
                for variant in _header_variants(v):
                    index.setdefault(variant, col.name)
    if sch.kind == "spatial":
        for key, names in GEOMETRY_HEADERS.items():
            for n in names:
                index.setdefault(normalize_text(n), f"__{key}__")
    return index


def _match_header(header: str, layer_kind: str, *, truncated: bool = False) -> str | None:
    index = _header_index(layer_kind)
    parts = [p for p in str(header).split("/") if p.strip()] or [str(header)]
    # the most specific part of a two-row header is the last one ("规模/户数" → 户数)
    for candidate in [*reversed(parts), str(header)]:
        for variant in _header_variants(candidate):
            if variant in index:
                return index[variant]
    if truncated:  # Shapefile field names are cut at 10 bytes: "住宅建筑面" → 住宅建筑面积
        v = normalize_text(header)
        hits = {c for k, c in index.items() if len(v) >= 2 and k.startswith(v)}
        if len(hits) == 1:
            return hits.pop()
    return None


def map_headers(
    headers: Sequence[str], layer_kind: str, *, truncated: bool = False
) -> dict[str, str]:
    """Map source headers to canonical column names of *layer_kind*.

    Matching folds width, case, spaces and punctuation (:func:`gisplan.schema.normalize_text`)
    and ignores units in brackets (``住宅建筑面积（平方米）``). Of two source columns
    mapping to the same canonical name, the first is mapped and the second kept as is.

    Parameters
    ----------
    headers : sequence of str
        Column headers as written in the source.
    layer_kind : str
        Schema layer name (``compounds``, ``progress_log``, ...).
    truncated : bool, default False
        Also accept a header that is the unique prefix of a known one (Shapefile field
        names are cut at 10 bytes).

    Returns
    -------
    dict
        Source header → canonical name, for matched headers only. Coordinate and WKT
        columns map to ``__lon__``, ``__lat__`` and ``__wkt__``.

    Examples
    --------
    >>> map_headers(["小区名称", "户数（户）", "备注"], "compounds")
    {'小区名称': 'name', '户数（户）': 'households'}
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for h in headers:
        target = _match_header(h, layer_kind, truncated=truncated)
        if target is not None and target not in taken:
            out[h] = target
            taken.add(target)
    return out


def canonical_target(name: str, layer_kind: str) -> str | None:
    """Return the canonical column that *name* names in *layer_kind*, or None.

    *name* may be the canonical name (``households``), its Chinese name (``户数``) or an
    alias; ``lon``/``lat``/``wkt`` (and ``经度``, ``纬度``) name the geometry columns of
    a spatial layer (returned as ``__lon__``, ``__lat__``, ``__wkt__``). This is what
    ``--map 原列名=canonical`` accepts on the right-hand side.

    Examples
    --------
    >>> canonical_target("所在街道", "compounds"), canonical_target("lon", "facilities")
    ('street', '__lon__')
    >>> canonical_target("nonsense", "compounds") is None
    True
    """
    text = str(name).strip()
    if text in ("lon", "lat", "wkt") and layer_schema(layer_kind).kind == "spatial":
        return f"__{text}__"
    if text in layer_schema(layer_kind).column_names and text != "flags":
        return text
    return _match_header(text, layer_kind)


def _with_user_columns(mapping: dict[str, str], headers: Sequence[str], *,
                       columns: Mapping[str, str] | None, saved: Mapping[str, str] | None,
                       layer_kind: str, file: str, where: str | None,
                       report: Report) -> dict[str, str]:
    """Apply a saved mapping (``--mapping``), then the user's ``--map`` entries.

    A header of ``--map`` that the file lacks is an error; one of a saved mapping is a
    warning (next week's file may leave an optional column out). The user's entry wins
    over the automatic one for the same header or the same canonical column.
    """
    out = dict(mapping)
    absent: list[str] = []
    for entries, strict in ((saved or {}, False), (columns or {}, True)):
        for header, target in entries.items():
            canonical = canonical_target(target, layer_kind)
            if canonical is None:
                raise SchemaError(
                    f"'{header}={target}': '{target}' is not a column of {layer_kind}",
                    file=file, layer=where, column=header, value=target,
                    hint="map to one of: " + ", ".join(
                        c for c in layer_schema(layer_kind).column_names if c != "flags"))
            if header not in headers:
                if strict:
                    raise SchemaError(
                        f"--map '{header}={target}': the file has no column '{header}'",
                        file=file, layer=where, column=header, value=header,
                        hint="write the header exactly as in the file; headers found: "
                        + ", ".join(headers))
                absent.append(header)
                continue
            out = {h: c for h, c in out.items() if h != header and c != canonical}
            out[header] = canonical
    if absent:
        report.add(Finding(
            "warning", "mapping_column_absent",
            f"{len(absent)} column(s) of the saved mapping are not in this file: "
            + ", ".join(absent), file=file, layer=where, value=", ".join(absent),
            hint="check the file; save the mapping again with --save-mapping when the "
            "layout changed on purpose"))
    return out


def _apply_vocab(raw: _Raw, mapping: dict[str, str], vocab: Mapping[str, Mapping[str, str]]
                 | None, *, layer_kind: str, file: str, report: Report) -> None:
    """Replace values as written by their terms (``--vocab facility_type=FILE.csv``)."""
    if not vocab:
        return
    by_canonical = {c: h for h, c in mapping.items()}
    for column, table in vocab.items():
        header = by_canonical.get(column)
        if header is None or not table:
            continue
        folded = {normalize_text(k): v for k, v in table.items()}
        cells = raw.frame[header]
        keys = cells.map(lambda v: normalize_text(v) if isinstance(v, str) else None)
        hits = keys.map(folded)
        raw.frame[header] = hits.where(hits.notna(), cells)
        n = int(hits.notna().sum())
        report.add(Finding("info", "vocab_mapped",
                           f"{n} value(s) of {column} read through the user's vocabulary "
                           f"map ({len(table)} entries)", file=file, layer=raw.where,
                           column=header, value=n))


def _scale_of(header: str) -> float:
    """10 000 when the header's unit is in 万 (``面积（万平方米）``), else 1."""
    units = "".join(_BRACKETS.findall(str(header)))
    return 1e4 if "万" in units and "万元" not in units else 1.0


# ======================================================================= raw sources


@dataclass
class _Raw:
    """Cells as read from the source, before header mapping and parsing."""

    frame: pd.DataFrame  # columns = headers as written, cells raw
    rows: np.ndarray  # source row of each frame row (1-based, as the user sees it)
    where: str | None  # sheet or layer name
    geometry: gpd.GeoSeries | None = None
    crs: Any = None
    truncated_headers: bool = False
    findings: list[Finding] = field(default_factory=list)


def _unique_headers(headers: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        n = seen.get(h, 0)
        seen[h] = n + 1
        out.append(h if n == 0 else f"{h}.{n}")
    return out


def _decode(data: bytes, encoding: str | None) -> tuple[str, str, bool]:
    """Decode *data*; return (text, encoding, guessed)."""
    if encoding:
        return data.decode(encoding), encoding, False
    try:
        return data.decode("utf-8-sig"), "utf-8", False
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk", True
    except UnicodeDecodeError as exc:
        raise InputError(
            "the file is neither UTF-8 nor GBK text",
            hint="save it as UTF-8 (in Excel: 另存为 → CSV UTF-8) or name the encoding with "
            "--encoding",
        ) from exc


def _is_blank_cell(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v)


def _text_tests(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return (blank text: empty or only spaces, text holding 计) for one column of cells.

    A column of text (CSV: all of them) is tested by Arrow string kernels; a column
    mixing text with numbers or dates (Excel) by pandas, cell by cell.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = col.to_numpy(dtype=object)
    try:
        text = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if not any(isinstance(v, str) for v in values):
            return np.zeros(len(values), dtype=bool), np.zeros(len(values), dtype=bool)
        strings = col.str  # NaN where a cell is not text
        return (strings.strip().eq("").fillna(False).to_numpy(dtype=bool),
                strings.contains("计", regex=False).fillna(False).to_numpy(dtype=bool))
    spaces = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0)
    total = pc.match_substring(text, "计")
    return (spaces.fill_null(False).to_numpy(zero_copy_only=False),
            total.fill_null(False).to_numpy(zero_copy_only=False))


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _score_row(row: Sequence[Any], layer_kind: str, known: frozenset[str] = frozenset()
               ) -> int:
    """Count the columns of *layer_kind* a row names (*known*: the user's own headers)."""
    hits = {
        _match_header(v, layer_kind) or (f"user:{v}" if normalize_text(v) in known else None)
        for v in row
        if isinstance(v, str) and v.strip()
    }
    hits.discard(None)
    return len(hits)


def _looks_like_data(cells: Sequence[Any]) -> bool:
    """Tell whether a row holds values rather than headers: a number, date or rate."""
    filled = [v for v in cells if not _is_blank_cell(v)]
    if any(not isinstance(v, str) for v in filled):  # Excel numbers, dates, booleans
        return True
    return any(parser(filled).values.notna().any()
               for parser in (parse_number, parse_date, parse_rate))


def _is_value_of(cell: Any, header: Any, layer_kind: str) -> bool:
    """Tell whether *cell* reads as a value of the column that *header* names.

    ``设计公示`` under ``形象进度`` is a stage (``designed``), not the header of
    ``design_posted``: a cell that parses as a value of the column above it is data.
    Text columns take any value and say nothing.
    """
    if _is_blank_cell(cell) or _is_blank_cell(header):
        return False
    canonical = _match_header(str(header), layer_kind)
    if canonical is None or canonical.startswith("__"):
        return False
    parser, what = _parser_for(layer_kind, canonical, layer_schema(layer_kind)
                               .column(canonical).dtype)
    if what == "text":
        return False
    return bool(parser([cell]).values.notna().any())


def _completes_header(upper: Sequence[Any], lower: Sequence[Any], layer_kind: str, *,
                      extra: Sequence[Any]) -> bool:
    """Tell whether row *extra* (one of *upper*/*lower*) completes a header without merges.

    A CSV export of a two-row header keeps the group labels (``规模``, ``坐标``) in one
    row and the column names (``户数``, ``经度``) in the other. *extra* joins the header
    when it looks like a header (text only: no number, date or rate), no cell of it is a
    value of the column named in the other row (a stage ``设计公示`` under ``形象进度``),
    and it names a column where the other row names none.
    """
    other = upper if extra is lower else lower
    if not any(not _is_blank_cell(v) for v in extra) or _looks_like_data(extra):
        return False
    if any(_is_value_of(cell, head, layer_kind) for head, cell in zip(upper, lower,
                                                                      strict=True)):
        return False
    found = {_match_header(v, layer_kind) for v in other if not _is_blank_cell(v)}
    new = {
        _match_header(v, layer_kind)
        for v, o in zip(extra, other, strict=True)
        if isinstance(v, str) and v.strip()
        and (_is_blank_cell(o) or _match_header(str(o), layer_kind) is None)
    }
    return bool(new - found - {None})


def _header_block(grid: list[list[Any]], best: int, layer_kind: str, *,
                  merges: Sequence[tuple[int, int, int, int]]) -> tuple[int, int]:
    """Return the first and last row (0-based) of the header around row *best*.

    A merged range crossing the header row (Excel) makes a two-row header; without
    merges (CSV, or Excel unmerged), the row below or above joins when
    :func:`_completes_header` says so. A data row is never taken as a header row.
    """
    top = bottom = best
    for r0, _c0, r1, _c1 in merges:  # two-row headers: a merged range crosses the header row
        if r0 < best <= r1 and r0 >= best - 1:
            top = min(top, best - 1)
        if r0 <= best < r1 and r1 <= best + 1:
            bottom = max(bottom, best + 1)
    if top != bottom:
        return top, bottom
    if best + 1 < len(grid) and _completes_header(grid[best], grid[best + 1], layer_kind,
                                                  extra=grid[best + 1]):
        return best, best + 1
    if best > 0 and _completes_header(grid[best - 1], grid[best], layer_kind,
                                      extra=grid[best - 1]):
        return best - 1, best
    return best, best


def _best_header_row(scan: list[list[Any]], layer_kind: str, *, file: str,
                     where: str | None, known: frozenset[str] = frozenset()) -> int:
    """Return the row (0-based) naming most columns of *layer_kind*; refuse when none does."""
    scores = [_score_row(r, layer_kind, known) for r in scan]
    if not scores or max(scores) == 0:
        first = next((r for r in scan if any(not _is_blank_cell(v) for v in r)), [])
        shown = ", ".join(str(v) for v in first if not _is_blank_cell(v))
        sch = layer_schema(layer_kind)
        raise SchemaError(
            f"no header row found in the first {_MAX_HEADER_SCAN} rows: no cell names a "
            f"column of layer '{layer_kind}' (first row: {shown or 'empty'})",
            file=file,
            layer=where,
            hint="add a header row with columns such as "
            + "、".join(c.zh for c in sch.columns if c.required),
        )
    return int(np.argmax(scores))


def _joined_headers(grid: list[list[Any]], top: int, bottom: int, width: int) -> list[str]:
    """One header per column: the header rows' texts joined with ``/`` (``规模/户数``)."""
    headers: list[str] = []
    for c in range(width):
        parts: list[str] = []
        for r in range(top, bottom + 1):
            v = grid[r][c]
            if not _is_blank_cell(v):
                s = re.sub(r"\s+", " ", str(v)).strip()
                if s not in parts:
                    parts.append(s)
        headers.append("/".join(parts))
    return headers


def _grid_to_raw(
    grid: list[list[Any]] | np.ndarray,
    layer_kind: str,
    *,
    where: str | None,
    file: str,
    merges: Sequence[tuple[int, int, int, int]] = (),
    known: frozenset[str] = frozenset(),
) -> _Raw:
    """Find the header block in a grid of cells and return the data below it.

    *grid* is a list of rows (Excel: ragged rows are padded) or a 2-D object array
    (the CSV fast path).

    *merges* are merged ranges ``(row0, col0, row1, col1)`` (0-based, inclusive) whose
    cells already hold the top-left value.
    """
    top_rows: list[list[Any]]  # the rows that may hold the header, looked at cell by cell
    if isinstance(grid, np.ndarray):  # already rectangular (the CSV fast path)
        cells = grid
        width = grid.shape[1] if grid.ndim == 2 else 0
        top_rows = grid[:_MAX_HEADER_SCAN + 2].tolist()
    else:
        width = max((len(r) for r in grid), default=0)
        top_rows = [list(r) + [None] * (width - len(r)) for r in grid]
        cells = np.empty((len(top_rows), width), dtype=object)
        if top_rows and width:
            cells[:] = top_rows
    grid = top_rows
    best = _best_header_row(grid[:_MAX_HEADER_SCAN], layer_kind, file=file, where=where,
                            known=known)
    top, bottom = _header_block(grid, best, layer_kind, merges=merges)
    headers = _joined_headers(grid, top, bottom, width)

    data = cells[bottom + 1:]
    rows = np.arange(bottom + 2, bottom + 2 + len(data))
    body = pd.DataFrame(data, columns=pd.RangeIndex(width), dtype=object)
    blank = np.zeros((len(body), width), dtype=bool)
    total: np.ndarray = np.zeros(len(body), dtype=bool)
    for c in range(width):  # loop over columns; each column is handled vectorised
        col = body[c]
        blank[:, c] = col.isna().to_numpy(dtype=bool)
        spaces, maybe_total = _text_tests(col)
        blank[:, c] |= spaces
        if maybe_total.any():  # 合计, 总计, 小计: only these few cells are cleaned
            words = col[maybe_total].str.replace(r"[\s:：]+", "", regex=True)
            total[maybe_total] |= words.isin(_TOTAL_WORDS).to_numpy(dtype=bool)
    empty_row = np.asarray(blank.all(axis=1), dtype=bool)
    total &= ~empty_row
    findings: list[Finding] = [
        Finding(
            "info", "total_row_skipped",
            "a total row (合计) is a stated figure, not a record; not read",
            file=file, layer=where, row=int(rows[i]),
            value="; ".join(f"{headers[c] or _col_letter(c)}={data[i, c]}"
                            for c in range(width) if not blank[i, c]),
            hint="keep stated totals in the plan targets (计划指标), not in the list",
        )
        for i in np.flatnonzero(total)
    ]
    keep = ~empty_row & ~total
    kept = np.flatnonzero(keep)
    inner = int(empty_row[: kept[-1]].sum()) if len(kept) else 0
    if inner:
        findings.append(Finding(
            "info", "blank_rows_skipped", f"{inner} blank row(s) inside the table not read",
            file=file, layer=where,
        ))
    body = body[keep]
    # an empty, unnamed column (Excel's formatting reaches further right) is not a column
    used = [c for c, h in enumerate(headers) if h or not blank[keep, c].all()]
    frame = body[used].reset_index(drop=True)
    frame.columns = _unique_headers([headers[c] or f"列{_col_letter(c)}" for c in used])
    frame = frame.where(~blank[keep][:, used], None)
    if top > 0:
        findings.append(Finding(
            "info", "header_row", f"header found in row {top + 1}"
            + (f"–{bottom + 1}" if bottom > top else "") + "; rows above it are titles",
            file=file, layer=where, row=top + 1,
        ))
    return _Raw(frame, rows[keep], where, findings=findings)


def _read_csv(path: Path, layer_kind: str, *, encoding: str | None,
              known: frozenset[str] = frozenset()) -> _Raw:
    text, enc, guessed = _decode(path.read_bytes(), encoding)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:  # the C parser, when every record is one line of the same width
        cells = pd.read_csv(io.StringIO(text), header=None, dtype=object,
                            keep_default_na=False, na_values=[""], skip_blank_lines=False,
                            sep=dialect.delimiter, quotechar=dialect.quotechar)
        # one row per line: no quoted cell holds a line break (else rows ≠ lines)
        lines = text.count("\n") + (not text.endswith("\n"))
        multiline = len(cells) != lines
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        cells, multiline = None, True
    if cells is not None and not multiline:
        grid_np = cells.to_numpy(dtype=object)
        grid_np[pd.isna(grid_np)] = None
        raw = _grid_to_raw(grid_np, layer_kind, where=None, file=str(path), known=known)
        if guessed:
            raw.findings.append(_encoding_finding(path, enc))
        return raw
    grid: list[list[Any]] = []
    line_of: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    start = 1
    for row in reader:
        grid.append([v if v.strip() else None for v in row])
        line_of.append(start)
        start = reader.line_num + 1
    raw = _grid_to_raw(grid, layer_kind, where=None, file=str(path), known=known)
    # rows counted in lines: a quoted cell holding a line break spans two lines
    raw.rows = np.array([line_of[r - 1] for r in raw.rows], dtype=int)
    if guessed:
        raw.findings.append(_encoding_finding(path, enc))
    return raw


def _encoding_finding(path: Path, enc: str, layer: str | None = None) -> Finding:
    return Finding(
        "warning", "encoding_guessed",
        f"the file does not say its text encoding and is not UTF-8; decoded as {enc.upper()}",
        file=str(path), layer=layer, value=enc,
        hint="check the Chinese text reads right; save as UTF-8 (or add a .cpg file "
        "holding GBK next to a Shapefile) to make this explicit",
    )


def _pick_sheet(wb: Any, sheet: str | int | None, layer_kind: str, file: str,
                known: frozenset[str] = frozenset()) -> Any:
    names = wb.sheetnames
    if sheet is None:
        if len(names) == 1:
            return wb[names[0]]
        scores = [
            max((_score_row(r, layer_kind, known)
                 for r in wb[n].iter_rows(max_row=_MAX_HEADER_SCAN, values_only=True)),
                default=0)
            for n in names
        ]
        return wb[names[int(np.argmax(scores))]]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise InputError(f"sheet number {sheet} does not exist; the workbook has "
                             f"{len(names)} sheet(s): {', '.join(names)}", file=file)
        return wb[names[sheet]]
    if sheet not in names:
        raise InputError(f"no sheet '{sheet}'", file=file, value=sheet,
                         hint=f"use one of: {', '.join(names)}")
    return wb[sheet]


def _read_xlsx(path: Path, layer_kind: str, *, sheet: str | int | None,
               known: frozenset[str] = frozenset()) -> _Raw:
    import openpyxl  # an I/O dependency: imported only when an Excel file is read

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InputError(f"cannot open the workbook: {exc}", file=str(path),
                         hint="open and save it again in Excel as .xlsx") from exc
    ws = _pick_sheet(wb, sheet, layer_kind, str(path), known)
    grid = [list(r) for r in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
    merges = []
    for rng in ws.merged_cells.ranges:
        r0, c0, r1, c1 = rng.min_row - 1, rng.min_col - 1, rng.max_row - 1, rng.max_col - 1
        value = grid[r0][c0] if r0 < len(grid) and c0 < len(grid[r0]) else None
        for r in range(r0, min(r1, len(grid) - 1) + 1):
            for c in range(c0, min(c1, len(grid[r]) - 1) + 1):
                grid[r][c] = value
        merges.append((r0, c0, r1, c1))
    raw = _grid_to_raw(grid, layer_kind, where=ws.title, file=str(path), merges=merges,
                       known=known)
    wb.close()
    return raw


def _dbf_needs_gbk(path: Path) -> bool:
    """Tell whether a Shapefile's DBF names no encoding and its bytes are not UTF-8."""
    stem_files = {p.suffix.lower(): p for p in path.parent.glob(path.stem + ".*")}
    dbf = stem_files.get(".dbf")
    if ".cpg" in stem_files or dbf is None:
        return False
    data = dbf.read_bytes()
    if len(data) > 29 and data[29] != 0:  # language driver id set: GDAL honours it
        return False
    try:
        data[32:].decode("utf-8")
    except UnicodeDecodeError:
        try:
            data[32:].decode("gb18030")
        except UnicodeDecodeError:
            return False
        return True
    return False


def _read_vector(path: Path, *, layer: str | None, layer_kind: str,
                 encoding: str | None) -> _Raw:
    import pyogrio

    file = str(path)
    findings: list[Finding] = []
    suffix = path.suffix.lower()
    if suffix == ".gpkg" and layer is None:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
        if layer_kind in names:
            layer = layer_kind
        elif len(names) > 1:
            raise InputError(
                f"the GeoPackage holds {len(names)} layers and none is called '{layer_kind}'",
                file=file, hint=f"choose one with --source-layer: {', '.join(names)}",
            )
    if suffix == ".shp" and encoding is None and _dbf_needs_gbk(path):
        encoding = "GBK"
        findings.append(_encoding_finding(path, "gbk", layer))
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except Exception as exc:  # pyogrio/GDAL errors carry GDAL's message
        raise InputError(f"cannot read the file: {exc}", file=file, layer=layer,
                         hint="check that it opens in QGIS") from exc
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).astype(object)
    attrs.columns = _unique_headers([str(c) for c in attrs.columns])
    attrs.index = pd.RangeIndex(len(attrs))
    geom = gpd.GeoSeries(gdf.geometry.to_numpy(), index=attrs.index, crs=gdf.crs)
    return _Raw(
        attrs, np.arange(1, len(attrs) + 1), layer, geometry=geom, crs=gdf.crs,
        truncated_headers=suffix in {".shp", ".zip"}, findings=findings,
    )


def _read_raw(path: Path, layer_kind: str, *, layer: str | None, sheet: str | int | None,
              encoding: str | None, known: frozenset[str] = frozenset()) -> _Raw:
    """Read the cells of *path*.

    *known* are headers the user mapped: they find the header row as the schema's do.
    """
    if not path.exists():
        raise InputError("file not found", file=str(path),
                         hint="check the path; quote it if it holds spaces")
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return _read_xlsx(path, layer_kind, sheet=sheet, known=known)
    if suffix in {".csv", ".txt", ".tsv"}:
        return _read_csv(path, layer_kind, encoding=encoding, known=known)
    if suffix == ".xls":
        raise InputError("old Excel .xls files are not read", file=str(path),
                         hint="open it in Excel or WPS and save as .xlsx (另存为 .xlsx)")
    if suffix in _VECTOR_SUFFIXES:
        return _read_vector(path, layer=layer, layer_kind=layer_kind, encoding=encoding)
    types = ", ".join(sorted(_VECTOR_SUFFIXES | _TABLE_SUFFIXES))
    raise InputError(f"unknown file type '{suffix}'", file=str(path),
                     hint=f"use one of: {types}")


# ======================================================================= values


def _parser_for(layer_kind: str, name: str, dtype: str) -> tuple[Any, str]:
    """Return (parser, what) for a canonical column."""
    if (layer_kind, name) in VOCAB_COLUMNS:
        vocab_name = VOCAB_COLUMNS[(layer_kind, name)]
        return (lambda v: parse_term(v, vocab_name)), "term"
    if name == "categories":
        return parse_categories, "term"
    if dtype == "int":
        return (parse_year, "year") if name.endswith("_year") else (parse_int, "whole number")
    if dtype == "float":
        return (parse_rate, "rate") if name.endswith("_rate") else (parse_number, "number")
    if dtype == "bool":
        return parse_bool, "yes/no value"
    if dtype in ("date", "datetime"):
        return parse_date, "date"
    return parse_text, "text"


@dataclass
class _Built:
    columns: dict[str, pd.Series]
    errors: list[Finding]
    findings: list[Finding]
    flags: dict[str, np.ndarray]


def _parse_columns(raw: _Raw, mapping: dict[str, str], layer_kind: str, *,
                   file: str) -> _Built:
    sch = layer_schema(layer_kind)
    out: dict[str, pd.Series] = {}
    errors: list[Finding] = []
    findings: list[Finding] = []
    flags: dict[str, np.ndarray] = {}
    n = len(raw.frame)

    def mark(code: str, mask: np.ndarray) -> None:
        flags[code] = flags.get(code, np.zeros(n, dtype=bool)) | mask

    for source, canonical in mapping.items():
        if canonical.startswith("__"):
            continue
        col = sch.column(canonical)
        parser, what = _parser_for(layer_kind, canonical, col.dtype)
        cells = raw.frame[source]
        parsed: Parsed = parser(cells)
        values = parsed.values
        scale = _scale_of(source)
        if scale != 1.0 and what in ("number", "whole number"):
            # a cell that says 万 or 亿 itself ("0.12万平方米") is parsed with it already
            own = cells.astype(str).str.contains(f"[{''.join(_MULTIPLIERS)}]",
                                                 regex=True).to_numpy(dtype=bool)
            factor = np.where(own, 1.0, scale)
            parsed = parser(pd.to_numeric(parse_number(cells).values * factor))
            values = parsed.values
            findings.append(Finding(
                "info", "unit_scaled", f"values in 万 (10,000) converted to {canonical}",
                file=file, layer=raw.where, column=source, value=scale,
            ))
        bad = np.flatnonzero(parsed.failed)
        raw_cells = cells.to_numpy(dtype=object)  # plain arrays: per-row iloc is slow
        if what == "term" and len(bad):
            # an unknown term is kept as written and flagged; the validator decides
            kept = parse_text(cells).values
            values = values.where(~parsed.failed, kept)
            mark("unknown_term", parsed.failed)
            kept_cells = kept.to_numpy(dtype=object)
            close = _did_you_mean(VOCAB_COLUMNS.get((layer_kind, canonical)),
                                  {kept_cells[i] for i in bad})
            findings.extend(
                Finding("warning", "unknown_term",
                        f"'{kept_cells[i]}' is not a known value of {canonical}"
                        f"{close.get(kept_cells[i], '')}; kept as written",
                        file=file, layer=raw.where, row=int(raw.rows[i]), column=source,
                        value=kept_cells[i], hint=parsed.hint)
                for i in bad
            )
        else:
            errors.extend(
                Finding("error", "unparseable_value",
                        f"cannot read {raw_cells[i]!r} as a {what} for {canonical}",
                        file=file, layer=raw.where, row=int(raw.rows[i]), column=source,
                        value=raw_cells[i], hint=parsed.hint)
                for i in bad
            )
        for code, mask in parsed.flags.items():
            if mask.any():
                mark(code, mask)
                read_as = values.to_numpy(dtype=object)
                findings.extend(
                    Finding("warning", code,
                            f"{raw_cells[i]!r} read as {read_as[i]} (approximate)",
                            file=file, layer=raw.where, row=int(raw.rows[i]), column=source,
                            value=raw_cells[i],
                            hint="replace with the exact figure when it is known")
                    for i in np.flatnonzero(mask)
                )
        out[canonical] = values
    return _Built(out, errors, findings, flags)


def _did_you_mean(vocab_name: str | None, values: set[Any]) -> dict[Any, str]:
    """Return ``"; did you mean 主干路 (arterial)"`` per value close to a term.

    Only terms of the value's own vocabulary, above the similarity threshold
    (:func:`gisplan.schema.suggest_terms`); nothing for the other values.
    """
    if vocab_name is None:
        return {}
    out = {}
    for v in values:
        keys = suggest_terms(vocab_name, v)
        if keys:
            out[v] = "; did you mean " + " or ".join(f"{zh(vocab_name, k)} ({k})" for k in keys)
    return out


def _raise_value_errors(errors: list[Finding], *, file: str, where: str | None) -> None:
    if not errors:
        return
    listed = "\n".join(
        f"  row {e.row}, column '{e.column}': {e.value!r}. Fix: {e.hint}"
        for e in errors[:_MAX_LISTED]
    )
    more = f"\n  ... and {len(errors) - _MAX_LISTED} more" if len(errors) > _MAX_LISTED else ""
    first = errors[0]
    raise ValueParseError(
        f"{len(errors)} value(s) cannot be read:\n{listed}{more}\n",
        findings=errors, file=file, layer=where, row=first.row, column=first.column,
        value=first.value, hint=first.hint,
    )


def _closest(col_names: Sequence[str], headers: Sequence[str], *,
             min_score: float = 50.0) -> str | None:
    from rapidfuzz import fuzz, process

    choices = {h: normalize_text(_BRACKETS.sub("", h)) for h in headers if h}
    best: tuple[str | None, float] = (None, 0.0)
    for name in col_names:
        hit = process.extractOne(normalize_text(name), choices, scorer=fuzz.ratio)
        if hit and hit[1] > best[1]:
            best = (hit[2], hit[1])
    return best[0] if best[1] >= min_score else None


def _check_required(sch: LayerSchema, mapping: dict[str, str], headers: Sequence[str], *,
                    file: str, where: str | None, generated: frozenset[str] = frozenset()
                    ) -> None:
    present = set(mapping.values())
    skip = GENERATED_COLUMNS.get(sch.name, frozenset()) | generated
    missing = [c for c in sch.columns if c.required and c.name not in present
               and c.name not in skip]
    if not missing:
        return
    lines = []
    id_tip = ""
    for c in missing:
        near = _closest([c.zh, c.name, *c.aliases], [h for h in headers if h not in mapping])
        tip = f" (closest: '{near}')" if near else ""
        lines.append(f"{c.zh} ({c.name}){tip}")
        if c.name == sch.id and near:
            id_tip = f"; or take the ids from '{near}' with --id-column '{near}'"
    raise SchemaError(
        f"missing required column(s) for layer '{sch.name}': {'; '.join(lines)}. "
        f"Columns found: {', '.join(headers)}",
        file=file, layer=where, column=missing[0].zh,
        hint="rename the header to one of the names in gisplan/data/schema.toml, e.g. "
        + ", ".join(f"{c.zh}" for c in missing) + id_tip,
    )


# ======================================================================= geometry

_SRID = re.compile(r"^\s*SRID=(\d+);", re.IGNORECASE)


def _table_geometry(raw: _Raw, mapping: dict[str, str], *, lon: str | None, lat: str | None,
                    wkt: str | None, file: str) -> tuple[np.ndarray, Any, list[Finding]]:
    by_key = {v: k for k, v in mapping.items() if v.startswith("__")}
    lon = lon or by_key.get("__lon__")
    lat = lat or by_key.get("__lat__")
    wkt = wkt or by_key.get("__wkt__")
    for given in (lon, lat, wkt):
        if given is not None and given not in raw.frame.columns:
            raise SchemaError(f"no column '{given}'", file=file, layer=raw.where, column=given,
                              hint=f"columns found: {', '.join(raw.frame.columns)}")
    errors: list[Finding] = []
    if wkt is not None:
        text = parse_text(raw.frame[wkt]).values
        srid = text.str.extract(_SRID)[0].dropna().unique()
        body = text.str.replace(_SRID, "", regex=True).to_numpy(dtype=object)
        geoms = shapely.from_wkt(body, on_invalid="ignore")
        bad = np.flatnonzero(pd.isna(geoms) & text.notna().to_numpy(dtype=bool))
        errors.extend(
            Finding("error", "unparseable_geometry", "cannot read the WKT geometry",
                    file=file, layer=raw.where, row=int(raw.rows[i]), column=wkt,
                    value=str(text.iloc[i])[:60],
                    hint="write WKT such as POLYGON ((106.27 36.00, ...)) or leave it empty")
            for i in bad
        )
        crs = CRS.from_epsg(int(srid[0])) if len(srid) == 1 else None
        return geoms, crs, errors
    if lon is None or lat is None:
        raise GeometryError(
            "no coordinates: the table has no longitude/latitude (经度/纬度) or WKT column",
            file=file, layer=raw.where,
            hint="add columns 经度 and 纬度 (or a WKT column), or name them with "
            "--lon/--lat (or --wkt)",
        )
    x, x_failed = _coordinates(raw.frame[lon])
    y, y_failed = _coordinates(raw.frame[lat])
    for col, failed in ((lon, x_failed), (lat, y_failed)):
        cells = raw.frame[col].to_numpy(dtype=object)
        errors.extend(
            Finding("error", "unparseable_value", f"cannot read {cells[i]!r} as a coordinate",
                    file=file, layer=raw.where, row=int(raw.rows[i]), column=col,
                    value=cells[i], hint="write decimal degrees, e.g. 106.2781")
            for i in np.flatnonzero(failed)
        )
    geoms = np.asarray(shapely.points(x, y), dtype=object)
    geoms[np.isnan(x) | np.isnan(y)] = None
    return geoms, None, errors


def _coordinates(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Read a coordinate column: (degrees as float, NaN where missing; failed cells).

    Coordinates are nearly always plain decimals: pandas' C converter reads them, and
    :func:`gisplan.parse.parse_number` (units, full-width digits, ...) is asked only when
    a cell is not a plain number.
    """
    plain = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
    if not (np.isnan(plain) & cells.notna().to_numpy(dtype=bool)).any():
        return plain, np.zeros(len(cells), dtype=bool)
    parsed = parse_number(cells)
    return parsed.values.to_numpy(dtype=float), np.asarray(parsed.failed, dtype=bool)


def _user_crs(crs: Any, *, file: str, where: str | None) -> CRS | None:
    """Return the caller's CRS (``4490``, ``"4490"``, ``"EPSG:4490"``, a CRS), or None."""
    if crs is None:
        return None
    if isinstance(crs, str) and crs.strip().isdigit():
        crs = int(crs)
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj.exceptions.CRSError and friends
        raise CRSError(f"unknown CRS {crs!r}", file=file, layer=where, value=crs,
                       hint="give an EPSG code such as --crs 4490 (CGCS2000 lon/lat), --crs 4326 "
                       "(WGS84) or --crs 4547 (CGCS2000 3° Gauss-Krüger CM 114°E)") from exc


def _to_wgs84(gdf: gpd.GeoDataFrame, coords: str, *, file: str, where: str | None) -> None:
    if gdf.crs is None or not gdf.crs.is_geographic:
        raise CRSError(
            f"coordinates declared as {coords.upper()} must be longitude/latitude degrees; "
            f"the layer's CRS is {gdf.crs}",
            file=file, layer=where, value=coords,
            hint="drop --coords, or declare the lon/lat CRS with --crs 4490 or --crs 4326",
        )
    from gisplan.chinacoords import convert

    gdf[gdf.geometry.name] = convert(gdf.geometry, src=coords, dst="wgs84")


# ======================================================================= public


def _check_request(layer_kind: str, *, spatial: bool, coords: str, file: str) -> LayerSchema:
    """Return the schema of *layer_kind*; refuse a reader/layer or coords mismatch."""
    sch = layer_schema(layer_kind)
    if spatial != (sch.kind == "spatial"):
        other = "read_table" if spatial else "read_layer"
        raise SchemaError(f"layer '{layer_kind}' is a {sch.kind}; read it with {other}()",
                          file=file, layer=layer_kind)
    if coords not in ("wgs84", "gcj02", "bd09"):
        raise InputError(f"unknown coordinate system '{coords}'", value=coords,
                         hint="use --coords wgs84, gcj02 (Amap/Tencent) or bd09 (Baidu)")
    return sch


def _with_id_column(mapping: dict[str, str], id_column: str | None, sch: LayerSchema,
                    headers: Sequence[str], *, file: str, where: str | None) -> dict[str, str]:
    """Map the header *id_column* to the layer's id (``--id-column``), whatever it says."""
    if id_column is None:
        return mapping
    if id_column not in headers:
        raise SchemaError(f"no column '{id_column}' to take the ids from", file=file,
                          layer=where, column=id_column, value=id_column,
                          hint=f"give --id-column one of the headers found: {', '.join(headers)}")
    out = {h: c for h, c in mapping.items() if c != sch.id and h != id_column}
    return {id_column: sch.id, **out}


def _generated_ids(raw: _Raw, mapping: dict[str, str], sch: LayerSchema, *,
                   file: str) -> tuple[pd.Series, Finding] | None:
    """Ids for a layer without an id column: from its 序号 column, else the row order.

    ``C0001``, ``C0002``, ... (prefix per layer, :data:`ID_PREFIXES`). The 序号 is used
    when every row has a whole number and no number repeats; otherwise the ids follow the
    rows as read. None when the layer has an id column or takes no generated ids.
    """
    prefix = ID_PREFIXES.get(sch.name)
    if prefix is None or sch.id in mapping.values():
        return None
    col = sch.column(sch.id)
    unmapped = [h for h in raw.frame.columns
                if h not in mapping and normalize_text(h) not in _ROW_NUMBER_HEADERS]
    if _closest([col.zh, col.name, *col.aliases], unmapped, min_score=70.0):
        return None  # 小区代号 is probably the id: say so (missing column) rather than guess
    numbers = np.arange(1, len(raw.frame) + 1)
    source = "the row order"
    for h in raw.frame.columns:
        if h in mapping or normalize_text(h) not in _ROW_NUMBER_HEADERS:
            continue
        parsed = parse_int(raw.frame[h])
        vals = parsed.values
        if len(vals) and vals.notna().all() and vals.is_unique and (vals > 0).all():
            numbers, source = vals.to_numpy(dtype=np.int64), f"the column '{h}'"
        break
    width = max(4, len(str(int(numbers.max())))) if len(numbers) else 4
    ids = pd.Series([f"{prefix}{int(n):0{width}d}" for n in numbers], index=raw.frame.index,
                    dtype=object)
    shown = f"{ids.iloc[0]}–{ids.iloc[-1]}" if len(ids) else "none"
    finding = Finding(
        "warning", "id_generated",
        f"no {sch.zh} id column ({sch.id}, {sch.column(sch.id).zh}): ids {shown} generated "
        f"from {source}; each row is flagged id_generated",
        file=file, layer=raw.where, column=sch.id, value=shown,
        hint=f"add a {sch.column(sch.id).zh} column, or name the id column with --id-column, "
        "so that the ids stay the same when next week's file is imported",
    )
    return ids, finding


def _assemble(raw: _Raw, mapping: dict[str, str], built: _Built, sch: LayerSchema, *,
              used: set[str | None], ids: pd.Series | None) -> pd.DataFrame:
    """Canonical columns in schema order, then the user's own columns as they were."""
    if ids is not None:
        built.columns[sch.id] = ids
    columns: dict[str, Any] = {c: built.columns[c] for c in sch.column_names if c in built.columns}
    for h in raw.frame.columns:
        if h not in mapping and h not in used:
            columns[h if h not in columns else f"{h}.src"] = raw.frame[h]
    frame = pd.DataFrame(columns, index=raw.frame.index)
    if "flags" in raw.frame.columns and "flags" not in frame.columns:  # our own export
        frame["flags"] = parse_text(raw.frame["flags"]).values
    for code, mask in built.flags.items():
        add_flags(frame, mask, code)
    if ids is not None:
        add_flags(frame, np.ones(len(frame), dtype=bool), "id_generated")
    return frame


def _add_grouped(report: Report, findings: Sequence[Finding]) -> None:
    """Add *findings* to *report*, capped per code and column (:meth:`Report.add_capped`)."""
    groups: dict[tuple[str, str | None], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.code, f.column), []).append(f)
    for group in groups.values():
        report.add_capped(group)


def _empty_finding(sch: LayerSchema, *, file: str, where: str | None) -> Finding:
    place = f"sheet or layer '{where}' of {Path(file).name}" if where else Path(file).name
    return Finding(
        "error", "empty_layer",
        f"{place} holds no {sch.name} ({sch.zh}) rows below its header: nothing to import",
        file=file, layer=where,
        hint="check that this is the right file; choose another sheet with --sheet or "
        "another GeoPackage layer with --source-layer",
    )


def _georeference(frame: pd.DataFrame, geoms: Any, geom_crs: Any, *, crs: Any, coords: str,
                  expected: Sequence[float] | None, report: Report, file: str,
                  where: str | None) -> gpd.GeoDataFrame:
    """Attach the geometry in its CRS (declared, the file's or inferred), checked.

    The coordinates are checked against the CRS (:func:`gisplan.crs.check_plausible`):
    outside its area of use, or far from *expected*, is an error that names the likely
    right ``--crs``. GCJ-02 and BD-09 coordinates are converted to WGS84.
    """
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=None)
    declared = _user_crs(crs, file=file, where=where)
    if declared is not None and geom_crs is not None and CRS(geom_crs) != declared:
        report.add(Finding(
            "warning", "crs_overridden",
            f"the file declares {CRS(geom_crs).to_string()}; {declared.to_string()} "
            "given with --crs is used", file=file, layer=where,
            value=declared.to_string(), hint="drop --crs to keep the file's CRS",
        ))
    target = declared or geom_crs
    declared_by = f"--crs {crs}" if declared is not None else "the file"
    if target is None:
        target, finding = gcrs.infer_crs(gdf, file=file, layer=where)
        declared_by = "inference from the coordinates"
        # coords="gcj02"/"bd09" already says these are lon/lat: no "assumed" warning;
        # an empty layer has nothing to assume about
        if finding is not None and coords == "wgs84" and len(gdf):
            report.add(finding)
    gdf = gdf.set_crs(target, allow_override=True)
    if coords != "wgs84":
        _to_wgs84(gdf, coords, file=file, where=where)
        report.add(Finding("info", "coords_converted",
                           f"coordinates converted from {coords.upper()} to WGS84",
                           file=file, layer=where, value=coords))
    gcrs.check_plausible(gdf, expected=expected, declared_by=declared_by, file=file,
                         layer=where)
    return gdf


def _read(
    path: str | Path,
    layer_kind: str,
    *,
    spatial: bool,
    layer: str | None,
    sheet: str | int | None,
    crs: Any,
    coords: str,
    encoding: str | None,
    lon: str | None,
    lat: str | None,
    wkt: str | None,
    id_column: str | None = None,
    expected: Sequence[float] | None = None,
    columns: Mapping[str, str] | None = None,
    saved: Mapping[str, str] | None = None,
    vocab: Mapping[str, Mapping[str, str]] | None = None,
) -> ReadResult[Any]:
    path = Path(path)
    file = str(path)
    sch = _check_request(layer_kind, spatial=spatial, coords=coords, file=file)
    known = frozenset(normalize_text(h) for h in [*(columns or {}), *(saved or {})])
    raw = _read_raw(path, layer_kind, layer=layer, sheet=sheet, encoding=encoding,
                    known=known)
    where = raw.where
    report = Report()
    _add_grouped(report, raw.findings)
    if raw.frame.empty:
        report.add(_empty_finding(sch, file=file, where=where))
    headers = list(raw.frame.columns)
    mapping = map_headers(headers, layer_kind, truncated=raw.truncated_headers)
    mapping = _with_user_columns(mapping, headers, columns=columns, saved=saved,
                                 layer_kind=layer_kind, file=file, where=where, report=report)
    mapping = _with_id_column(mapping, id_column, sch, headers, file=file, where=where)
    generated = _generated_ids(raw, mapping, sch, file=file)
    _check_required(sch, mapping, headers, file=file, where=where,
                    generated=frozenset({sch.id}) if generated else frozenset())
    _apply_vocab(raw, mapping, vocab, layer_kind=layer_kind, file=file, report=report)
    built = _parse_columns(raw, mapping, layer_kind, file=file)
    errors = list(built.errors)
    geoms: Any = None
    geom_crs: Any = None
    if spatial:
        if raw.geometry is not None:
            geoms, geom_crs = raw.geometry.to_numpy(), raw.crs
        else:
            geoms, geom_crs, geom_errors = _table_geometry(raw, mapping, lon=lon, lat=lat,
                                                           wkt=wkt, file=file)
            errors.extend(geom_errors)
    _raise_value_errors(errors, file=file, where=where)

    used = {k for k, v in mapping.items() if v.startswith("__")} | {lon, lat, wkt}
    frame = _assemble(raw, mapping, built, sch, used=used,
                      ids=generated[0] if generated else None)
    if not spatial:
        frame["source_file"] = path.name
        frame["source_row"] = pd.array(raw.rows, dtype="Int64")
    for source, canonical in mapping.items():
        label = _GEOMETRY_LABELS.get(canonical) or f"{canonical} ({sch.column(canonical).zh})"
        report.add(Finding("info", "header_mapped", f"read as {label}",
                           file=file, layer=where, column=source, value=canonical))
    if generated:
        report.add(generated[1])
    result: pd.DataFrame = frame
    if spatial:
        result = _georeference(frame, geoms, geom_crs, crs=crs, coords=coords,
                               expected=expected, report=report, file=file, where=where)
    result.attrs["source_file"] = file
    result.attrs["source_layer"] = where
    result.attrs["source_rows"] = np.asarray(raw.rows, dtype=np.int64)
    result.attrs["header_map"] = dict(mapping)
    flagged = int(result["flags"].fillna("").astype(bool).sum()) if "flags" in result else 0
    report.count(layer_kind, len(raw.frame), len(result), flagged=flagged)
    _add_grouped(report, built.findings)
    return ReadResult(result, report)


def read_layer(
    path: str | Path,
    layer_kind: str,
    *,
    layer: str | None = None,
    sheet: str | int | None = None,
    crs: Any = None,
    coords: Coords = "wgs84",
    encoding: str | None = None,
    lon: str | None = None,
    lat: str | None = None,
    wkt: str | None = None,
    id_column: str | None = None,
    expected_bounds: Sequence[float] | None = None,
    columns: Mapping[str, str] | None = None,
    saved_columns: Mapping[str, str] | None = None,
    vocab: Mapping[str, Mapping[str, str]] | None = None,
) -> ReadResult[gpd.GeoDataFrame]:
    """Read a spatial layer from a file into its canonical form.

    Parameters
    ----------
    path : str or Path
        GeoPackage, GeoJSON, Shapefile, CSV or ``.xlsx`` file.
    layer_kind : str
        The schema layer it holds: ``compounds``, ``districts``, ``utilities``,
        ``facilities``, ``roads`` or ``gates``.
    layer : str, optional
        Layer of a GeoPackage; None: the one named *layer_kind*, or the only one.
    sheet : str or int, optional
        Sheet of a workbook (name or 0-based number); None: the sheet whose header
        matches the layer best.
    crs : CRS-like, optional
        The coordinates' CRS (``4490``, ``"EPSG:4545"``). None: the file's own; a
        table's CRS is inferred from the coordinates (:func:`gisplan.crs.infer_crs`).
    coords : {"wgs84", "gcj02", "bd09"}, default "wgs84"
        Coordinates taken from Amap/Tencent (``gcj02``) or Baidu (``bd09``) maps are
        converted to WGS84.
    encoding : str, optional
        Text encoding of a CSV or DBF; None: UTF-8, else GBK (flagged
        ``encoding_guessed`` in the report).
    lon, lat, wkt : str, optional
        Coordinate or WKT columns of a table, as written in its header; None: found by
        name (经度/纬度, lon/lat, x/y, WKT).
    id_column : str, optional
        The header of the column holding the layer's ids (``--id-column``). None: the
        column named like the id (小区编号, 设施编号, ...); when there is none, ids are
        generated from a ``序号`` column or the row order (``C0001``, ...), flagged
        ``id_generated``.
    expected_bounds : tuple of 4 floats, optional
        (west, south, east, north) in degrees of the programme the layer belongs to.
        Coordinates more than :data:`gisplan.crs.MAX_DISTANCE_KM` away are an error
        (a wrong ``crs``). None: only the CRS's area of use is checked.
    columns : mapping, optional
        Header as written → column (``{"小区名": "name"}``, ``--map``): the canonical
        name, its Chinese name or an alias, or ``lon``/``lat``/``wkt``. A header the file
        lacks is an error. None: headers are mapped by name only.
    saved_columns : mapping, optional
        The same, from a saved mapping (``--mapping FILE.toml``,
        :mod:`gisplan.mappings`): a header the file lacks is a warning, not an error.
        ``columns`` wins where both name a header.
    vocab : mapping, optional
        Column → {value as written → term} (``--vocab facility_type=FILE.csv``), applied
        before the values are read; other values are read as usual.

    Returns
    -------
    ReadResult
        ``frame``: a GeoDataFrame with the canonical columns (schema order, canonical
        dtypes), then the file's other columns as they were, ``flags`` where a value
        was approximate or unknown, and geometry (None where a row has none). ``attrs``
        holds ``source_file``, ``source_layer``, ``source_rows`` (the row of each record
        as the user sees it) and ``header_map``. ``report``: rows in and out, header
        mapping (``header_mapped``) and warnings. Unpacks as ``gdf, report``.

    Raises
    ------
    SchemaError
        A required column is missing (with the closest headers found), or values
        cannot be read (:class:`ValueParseError`, listing every bad cell).
    GeometryError
        A table has no coordinate or WKT column.
    CRSError
        The CRS is missing and cannot be inferred, or the coordinates do not fit it.

    Examples
    --------
    >>> gdf, report = read_layer("layers/guyuan_2022.gpkg", "facilities")
    >>> gdf.crs.to_epsg(), report.counts["facilities"].balanced
    (4326, True)
    >>> gdf.columns[:3].tolist()
    ['facility_id', 'facility_type', 'name']
    """
    result = _read(path, layer_kind, spatial=True, layer=layer, sheet=sheet, crs=crs,
                   coords=coords, encoding=encoding, lon=lon, lat=lat, wkt=wkt,
                   id_column=id_column, expected=expected_bounds, columns=columns,
                   saved=saved_columns, vocab=vocab)
    assert isinstance(result.frame, gpd.GeoDataFrame)
    return result


def read_table(
    path: str | Path,
    layer_kind: str,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    columns: Mapping[str, str] | None = None,
    saved_columns: Mapping[str, str] | None = None,
    vocab: Mapping[str, Mapping[str, str]] | None = None,
) -> ReadResult[pd.DataFrame]:
    """Read an attribute table (``progress_log``, ``plan_targets``, ...) from CSV or Excel.

    Header detection, header mapping and value parsing are those of :func:`read_layer`.
    The columns ``source_file`` and ``source_row`` (the row as the user sees it in
    Excel) are filled; columns the store assigns (``log_id``, ``entered_at``) are not
    required.

    Parameters
    ----------
    path : str or Path
        CSV or ``.xlsx`` file (a GeoPackage table is read too).
    layer_kind : str
        The schema table it holds, e.g. ``progress_log``.
    sheet : str or int, optional
        Sheet of a workbook; None: the best-matching one.
    encoding : str, optional
        Text encoding of a CSV; None: UTF-8, else GBK.
    columns, saved_columns, vocab : mapping, optional
        The user's header and value mappings, as for :func:`read_layer`.

    Returns
    -------
    ReadResult
        ``frame``: canonical columns, the file's other columns, ``flags``,
        ``source_file``, ``source_row``; ``report``: rows in and out, header mapping and
        warnings. Unpacks as ``frame, report``.
    """
    return _read(path, layer_kind, spatial=False, layer=None, sheet=sheet, crs=None,
                 coords="wgs84", encoding=encoding, lon=None, lat=None, wkt=None,
                 columns=columns, saved=saved_columns, vocab=vocab)
