"""Value parsers: numbers, years, yes/no, rates, dates and categories as Chinese tables write them.

Every parser takes a column of raw cells (a :class:`pandas.Series` or anything array-like,
mixing strings, numbers, ``datetime`` objects and blanks, as Excel, CSV and DBF files give
them) and returns a :class:`Parsed`: the canonical values, a boolean mask of the cells that
could *not* be parsed (blank cells are missing, not failed), and masks of cells that were
parsed but deserve a flag (``value_approximate`` for ``约1200``, ``year_approximate`` for
``1990年代``). The caller turns failed cells into an error that names the rows.

The parsers are pure (no I/O). Each parses the *distinct* cells of a column once
(:func:`pandas.factorize`), with pandas string methods and regular expressions, and
spreads the result back over the rows: a column of 100,000 households figures holds a
few thousand distinct values.

Examples
--------
>>> from gisplan.parse import parse_number, parse_year
>>> parse_number(["1,435户", "6.418万平方米", "约1200", "—"]).values.tolist()
[1435.0, 64180.0, 1200.0, nan]
>>> p = parse_year(["1998年建成", "1990年代", "2001.06"])
>>> p.values.tolist(), p.flags["year_approximate"].tolist()
([1998, 1990, 2001], [False, True, False])
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gisplan.schema import term, vocab

__all__ = [
    "MISSING_TOKENS",
    "Parsed",
    "parse_bool",
    "parse_categories",
    "parse_date",
    "parse_int",
    "parse_number",
    "parse_rate",
    "parse_term",
    "parse_text",
    "parse_year",
]

#: Cell texts that mean "no value" in a number, year, rate or date column.
MISSING_TOKENS: frozenset[str] = frozenset(
    {"", "-", "--", "—", "——", "–", "/", "无", "暂无", "不详", "未知", "空", "nan", "none",
     "null", "na", "n/a", "#n/a", "*"}
)

_APPROX_PREFIX = r"(?P<pre>约|大约|约计|近|逾|超过|将近)?"
_APPROX_SUFFIX = r"(?P<post>左右|余|多|以上)?"
# 1,435 | 1435 | 1435.5 | .5 ; thousands separators only in groups of three
_NUMBER = r"(?P<num>[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+)"
# a unit tail has no digits: 户, 栋, 平方米, ㎡, m2 is written m² after NFKC-folding ²→2 ...
_UNIT = r"(?P<unit>(?:[A-Za-z\u4e00-\u9fff㎡²/]|m2|M2)*)"
_NUMBER_RE = (
    rf"^{_APPROX_PREFIX}\s*{_NUMBER}\s*(?P<mult>万|亿)?\s*{_APPROX_SUFFIX}\s*{_UNIT}\s*"
    rf"{_APPROX_SUFFIX.replace('post', 'post2')}$"
)
_MULTIPLIERS = {"万": 1e4, "亿": 1e8}

_TRUE = ("是", "有", "√", "✓", "✔", "yes", "y", "true", "t", "1", "已", "对", "已完成", "完成")
_FALSE = ("否", "无", "×", "✗", "✘", "x", "no", "n", "false", "f", "0", "未", "没有", "未完成")
_BOOL_TOKENS: dict[str, bool] = {t: True for t in _TRUE} | {t: False for t in _FALSE}

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10}

_EXCEL_EPOCH = np.datetime64("1899-12-30")
#: Excel serial numbers accepted as dates: 1927-05-18 .. 2119-01-10
_SERIAL_RANGE = (10_000, 80_000)
#: plausible build / install years
YEAR_RANGE = (1800, 2100)


@dataclass(frozen=True)
class Parsed:
    """The result of parsing one column.

    Attributes
    ----------
    values : pandas.Series
        Canonical values, same index as the input; missing where blank or failed.
    failed : numpy.ndarray of bool
        True where a non-blank cell could not be parsed.
    flags : dict of str to numpy.ndarray of bool
        Cells parsed with a caveat, by flag code (``value_approximate``,
        ``year_approximate``).
    hint : str
        How to write a value this parser accepts (for error messages).
    """

    values: pd.Series
    failed: np.ndarray
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    hint: str = ""

    @property
    def n_failed(self) -> int:
        """Number of cells that could not be parsed."""
        return int(self.failed.sum())


# ------------------------------------------------------------------------- helpers


def _series(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.astype(object)
    if isinstance(values, pd.Index):
        return pd.Series(values.to_numpy(dtype=object))
    if isinstance(values, np.ndarray):
        return pd.Series(values.astype(object))
    return pd.Series(list(values) if isinstance(values, Iterable) else [values], dtype=object)


def _is_str(s: pd.Series) -> np.ndarray:
    return s.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)


def _is_real(s: pd.Series) -> np.ndarray:
    """Mark int/float cells (not bool, not NaN)."""
    return s.map(
        lambda v: isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, (bool, np.bool_))
        and v == v
    ).to_numpy(dtype=bool)


def _text(s: pd.Series) -> pd.Series:
    """NFKC-folded, stripped text of string cells; NaN elsewhere."""
    out = s.where(_is_str(s), None)
    return out.str.normalize("NFKC").str.strip()


def _blank(s: pd.Series, text: pd.Series) -> np.ndarray:
    """Mark cells holding no value: None, NaN, NaT or a missing token."""
    isna = s.map(lambda v: v is None or v is pd.NA or v is pd.NaT
                 or (isinstance(v, float) and v != v)).to_numpy(dtype=bool)
    token = text.str.lower().isin(MISSING_TOKENS).to_numpy(dtype=bool)
    return isna | token


def _float(s: pd.Series, mask: np.ndarray) -> np.ndarray:
    out = np.full(len(s), np.nan)
    if mask.any():
        out[mask] = s.to_numpy(dtype=object)[mask].astype(float)
    return out


def _on_uniques(func: Callable[..., Parsed]) -> Callable[..., Parsed]:
    """Run parser *func* once per distinct cell and spread the result over the rows."""

    @functools.wraps(func)
    def wrapper(values: Any, *args: Any) -> Parsed:
        s = values if isinstance(values, pd.Series) else _series(values)
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        distinct = pd.Series([*np.asarray(uniques, dtype=object), None], dtype=object)
        codes = np.where(codes < 0, len(distinct) - 1, codes)
        p = func(distinct, *args)
        out = p.values.iloc[codes]
        out.index = s.index
        return Parsed(out, p.failed[codes], {k: m[codes] for k, m in p.flags.items()}, p.hint)

    return wrapper


# ------------------------------------------------------------------------- numbers


def _number_core(values: Any) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    """Return (series, numbers, failed, approximate, text) for :func:`parse_number`."""
    s = _series(values)
    text = _text(s)
    blank = _blank(s, text)
    real = _is_real(s)
    out = _float(s, real)
    approx = np.zeros(len(s), dtype=bool)
    strs = ~real & ~blank & text.notna().to_numpy(dtype=bool)
    if strs.any():  # plain numbers first (C speed), the regular expression for the rest
        plain = pd.to_numeric(text[strs], errors="coerce").to_numpy(dtype=float)
        out[strs] = plain
        strs[strs] = np.isnan(plain)
    if strs.any():
        m = text[strs].str.extract(_NUMBER_RE)
        num = pd.to_numeric(m["num"].str.replace(",", "", regex=False), errors="coerce")
        mult = m["mult"].map(_MULTIPLIERS).fillna(1.0)
        out[strs] = (num * mult).to_numpy(dtype=float)
        approx[strs] = (m["pre"].notna() | m["post"].notna() | m["post2"].notna()).to_numpy(
            dtype=bool
        )
    # bools and anything else that is neither blank, number nor parsed string fails
    failed = ~blank & np.isnan(out)
    approx &= ~failed
    return s, out, failed, approx, text


@_on_uniques
def parse_number(values: Any) -> Parsed:
    """Parse numbers written the Chinese way into floats.

    Accepts thousands separators (``1,435``), units (``1435 户``, ``35栋``, ``64180平方米``,
    ``24.7891万㎡``), the multipliers 万 and 亿 (``6.418万平方米`` → 64180.0), full-width
    digits (``１４３５``) and approximate values (``约1200``, ``1200余户``, flagged
    ``value_approximate``). Blank, ``—``, ``/`` and ``无`` are missing. Text without a
    number (``十几户``), ranges (``1200-1300``) and two numbers (``3栋5单元``) fail.

    Parameters
    ----------
    values : array-like
        Raw cells.

    Returns
    -------
    Parsed
        ``float64`` values.

    Examples
    --------
    >>> parse_number(["24.7891万㎡", "１４３５", "十几户"]).failed.tolist()
    [False, False, True]
    """
    s, out, failed, approx, _ = _number_core(values)
    return Parsed(
        pd.Series(out, index=s.index, dtype="float64"),
        failed,
        {"value_approximate": approx},
        hint="write a number, optionally with a unit or 万, e.g. 1435, 1,435户 or 6.418万平方米",
    )


@_on_uniques
def parse_int(values: Any) -> Parsed:
    """Parse counts (households, buildings) into nullable integers.

    Like :func:`parse_number`, and a value with a fractional part (``12.5栋``) fails.

    Parameters
    ----------
    values : array-like
        Raw cells.

    Returns
    -------
    Parsed
        ``Int64`` values.
    """
    s, out, failed, approx, _ = _number_core(values)
    frac = ~np.isnan(out) & (np.abs(out - np.round(out)) > 1e-9)
    failed = failed | frac
    out[frac] = np.nan
    ints = pd.array(np.where(np.isnan(out), 0, np.round(out)).astype("int64"), dtype="Int64")
    ints[np.isnan(out)] = pd.NA
    return Parsed(
        pd.Series(ints, index=s.index),
        failed,
        {"value_approximate": approx & ~failed},
        hint="write a whole number, optionally with a unit, e.g. 1435 or 1,435户",
    )


# ------------------------------------------------------------------------- years

_YEAR_RE = (
    r"^(?P<pre>约|大约|约为)?\s*(?:(?P<y4>\d{4})|(?P<y2>\d{2})(?=\s*年代))(?!\d)\s*(?P<rest>.*)$"
)
_YEAR_REST_OK = (
    r"^(?:年|年代|年代初|年代中期|年代末|s|年底|年末|年初|年前|年以前|年后|年以后|年左右|"
    r"年建成|年竣工|年建|年建设|前|后|左右|底|以前|以后|"
    r"(?:年|[./\-])\s*\d{1,2}(?:\s*(?:月|[./\-])\s*\d{1,2}\s*日?)?\s*(?:月|号)?\s*(?:建成|竣工)?"
    r")?$"
)
_YEAR_APPROX = r"年代|^s$|前|后|左右|以前|以后"


@_on_uniques
def parse_year(values: Any) -> Parsed:
    """Parse build or install years.

    Accepts ``1998``, ``1998年``, ``1998年建成``, ``2001.06`` (text or an Excel number),
    ``1998-05-01``, ``1998年5月``, ``datetime`` objects, and decades ``1990年代`` /
    ``90年代`` / ``1990s`` (→ 1990, flagged ``year_approximate``, as are ``约1998`` and
    ``2000年以前``). Years outside 1800–2100 fail.

    Parameters
    ----------
    values : array-like
        Raw cells.

    Returns
    -------
    Parsed
        ``Int64`` years.

    Examples
    --------
    >>> parse_year(["90年代", "1998-05-01"]).values.tolist()
    [1990, 1998]
    """
    s = _series(values)
    text = _text(s)
    blank = _blank(s, text)
    out = np.full(len(s), np.nan)
    approx = np.zeros(len(s), dtype=bool)

    real = _is_real(s)
    if real.any():
        out[real] = np.floor(_float(s, real)[real])
    dates = s.map(lambda v: isinstance(v, (dt.date, pd.Timestamp)) and v is not pd.NaT)
    dmask = dates.to_numpy(dtype=bool)
    if dmask.any():
        out[dmask] = [v.year for v in s[dmask]]

    strs = ~real & ~dmask & ~blank & text.notna().to_numpy(dtype=bool)
    if strs.any():
        t = text[strs]
        m = t.str.extract(_YEAR_RE)
        y = pd.to_numeric(m["y4"], errors="coerce")
        y2 = pd.to_numeric(m["y2"], errors="coerce")
        # two-digit decades: 50年代..90年代 → 1950..1990, 00年代..40年代 → 2000..2040
        y = y.fillna(y2 + np.where(y2 >= 50, 1900, 2000))
        rest = m["rest"].fillna("")
        ok = rest.str.match(_YEAR_REST_OK) & y.notna()
        out[strs] = np.where(ok, y, np.nan)
        approx[strs] = (
            ok & (m["pre"].notna() | m["y2"].notna() | rest.str.contains(_YEAR_APPROX))
        ).to_numpy(dtype=bool)

    in_range = (out >= YEAR_RANGE[0]) & (out <= YEAR_RANGE[1])
    out[~in_range] = np.nan
    failed = ~blank & np.isnan(out)
    years = pd.array(np.nan_to_num(out).astype("int64"), dtype="Int64")
    years[np.isnan(out)] = pd.NA
    return Parsed(
        pd.Series(years, index=s.index),
        failed,
        {"year_approximate": approx & ~failed},
        hint="write a four-digit year, e.g. 1998 or 1998年; a decade as 1990年代",
    )


# ------------------------------------------------------------------------- booleans


@_on_uniques
def parse_bool(values: Any) -> Parsed:
    """Parse yes/no cells: 是/否, 有/无, √/×, yes/no, Y/N, 1/0, true/false, 已/未.

    Parameters
    ----------
    values : array-like
        Raw cells.

    Returns
    -------
    Parsed
        Nullable ``boolean`` values.

    Examples
    --------
    >>> parse_bool(["是", "×", "Y", 0, ""]).values.tolist()
    [True, False, True, False, <NA>]
    """
    s = _series(values)
    text = _text(s)
    isna = s.map(lambda v: v is None or v is pd.NA or (isinstance(v, float) and v != v))
    blank = isna.to_numpy(dtype=bool) | text.isin(["", "-", "—", "/"]).to_numpy(dtype=bool)
    real = _is_real(s)
    bools = s.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    as_digit = s.map(lambda v: {0.0: "0", 1.0: "1"}.get(float(v), "?")
                     if isinstance(v, (int, float, np.integer, np.floating)) else None)
    key = text.str.lower().where(~(real | bools), as_digit)
    mapped = key.map(_BOOL_TOKENS)
    failed = ~blank & mapped.isna().to_numpy(dtype=bool)
    out = pd.array(mapped.where(~blank & ~failed, None).tolist(), dtype="boolean")
    return Parsed(
        pd.Series(out, index=s.index),
        failed,
        {},
        hint="write 是 or 否 (also accepted: 有/无, √/×, 1/0, Y/N)",
    )


# ------------------------------------------------------------------------- rates

_RATE_RE = rf"^{_APPROX_PREFIX}\s*{_NUMBER}\s*(?P<pct>%|‰)?\s*{_APPROX_SUFFIX}$"
_CHENG_RE = r"^(?P<pre>约|大约)?\s*(?P<cn>[一二两三四五六七八九十]|\d{1,2}(?:\.\d+)?)\s*成$"


@_on_uniques
def parse_rate(values: Any) -> Parsed:
    """Parse shares and rates into fractions 0–1.

    ``85%``, ``85％`` and ``85`` give 0.85 (a plain number above 1 is read as a
    percentage); ``0.85`` stays 0.85; ``八成`` / ``8成`` give 0.8. Values outside 0–100 %
    fail.

    Parameters
    ----------
    values : array-like
        Raw cells.

    Returns
    -------
    Parsed
        ``float64`` fractions.

    Examples
    --------
    >>> parse_rate(["85%", 0.85, 85, "八成"]).values.tolist()
    [0.85, 0.85, 0.85, 0.8]
    """
    s = _series(values)
    text = _text(s)
    blank = _blank(s, text)
    real = _is_real(s)
    out = _float(s, real)
    out[real] = np.where(out[real] > 1.0, out[real] / 100.0, out[real])
    approx = np.zeros(len(s), dtype=bool)
    strs = ~real & ~blank & text.notna().to_numpy(dtype=bool)
    if strs.any():
        t = text[strs]
        m = t.str.extract(_RATE_RE)
        num = pd.to_numeric(m["num"].str.replace(",", "", regex=False), errors="coerce")
        pct = m["pct"].map({"%": 100.0, "‰": 1000.0})
        scale = pct.fillna(pd.Series(np.where(num > 1.0, 100.0, 1.0), index=num.index))
        rate = num / scale
        c = t.str.extract(_CHENG_RE)
        cheng = c["cn"].map(lambda v: _CN_DIGITS.get(v, v) if isinstance(v, str) else v)
        cheng = pd.to_numeric(cheng, errors="coerce") / 10.0
        rate = rate.fillna(cheng)
        out[strs] = rate.to_numpy(dtype=float)
        approx[strs] = (m["pre"].notna() | m["post"].notna() | c["pre"].notna()).to_numpy(bool)
    out[(out < 0) | (out > 1.0 + 1e-9)] = np.nan
    failed = ~blank & np.isnan(out)
    return Parsed(
        pd.Series(out, index=s.index, dtype="float64"),
        failed,
        {"value_approximate": approx & ~failed},
        hint="write a percentage (85%) or a fraction (0.85) between 0 and 100%",
    )


# ------------------------------------------------------------------------- dates

_DATE_RE = (
    r"^(?P<y>\d{4})\s*(?:年|[./\-])\s*(?P<m>\d{1,2})\s*(?:月|[./\-])\s*(?P<d>\d{1,2})\s*[日号]?"
    r"(?:[\sT]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
    r"|^(?P<y8>\d{4})(?P<m8>\d{2})(?P<d8>\d{2})$"
)


def _serial_to_date(serial: np.ndarray) -> np.ndarray:
    days = np.floor(serial).astype("int64").astype("timedelta64[D]")
    return (_EXCEL_EPOCH + days).astype("datetime64[D]")


@_on_uniques
def parse_date(values: Any) -> Parsed:
    """Parse dates into :class:`datetime.date` objects.

    Accepts ``2023年6月30日``, ``2023.6.30``, ``2023/6/30``, ``2023-06-30``
    (with or without a time), ``20230630``, Excel serial numbers (``45107``) and
    ``datetime``/``date``/``Timestamp`` objects. Impossible dates (``2023-02-30``) fail.

    Parameters
    ----------
    values : array-like
        Raw cells.

    Returns
    -------
    Parsed
        ``object`` values holding :class:`datetime.date` (None where missing).

    Examples
    --------
    >>> parse_date(["2023年6月30日", 45107]).values.tolist()
    [datetime.date(2023, 6, 30), datetime.date(2023, 6, 30)]
    """
    s = _series(values)
    text = _text(s)
    blank = _blank(s, text)
    out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[D]")

    dmask = s.map(lambda v: isinstance(v, (dt.date, pd.Timestamp)) and v is not pd.NaT)
    dmask_a = dmask.to_numpy(dtype=bool)
    if dmask_a.any():
        out[dmask_a] = pd.to_datetime(pd.Series(list(s[dmask_a]))).to_numpy().astype(
            "datetime64[D]"
        )

    real = _is_real(s)
    serial = _float(s, real)
    digits = text.str.fullmatch(r"\d{5}(?:\.\d+)?").fillna(False).to_numpy(dtype=bool)
    serial[digits] = pd.to_numeric(text[digits]).to_numpy(dtype=float)
    smask = (real | digits) & (serial >= _SERIAL_RANGE[0]) & (serial <= _SERIAL_RANGE[1])
    if smask.any():
        out[smask] = _serial_to_date(serial[smask])

    strs = ~dmask_a & ~real & ~digits & ~blank & text.notna().to_numpy(dtype=bool)
    if strs.any():
        m = text[strs].str.extract(_DATE_RE)
        parts = pd.DataFrame({
            "year": pd.to_numeric(m["y"].fillna(m["y8"]), errors="coerce"),
            "month": pd.to_numeric(m["m"].fillna(m["m8"]), errors="coerce"),
            "day": pd.to_numeric(m["d"].fillna(m["d8"]), errors="coerce"),
        })
        ok = parts.notna().all(axis=1)
        parsed = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[s]")
        if ok.any():
            parsed[ok] = pd.to_datetime(parts[ok].astype("int64"), errors="coerce")
        out[strs] = parsed.to_numpy().astype("datetime64[D]")

    failed = ~blank & np.isnat(out)
    objs = np.array([None] * len(s), dtype=object)
    good = ~np.isnat(out)
    objs[good] = out[good].astype(object)  # datetime64[D] -> datetime.date
    return Parsed(
        pd.Series(objs, index=s.index, dtype=object),
        failed,
        {},
        hint="write a date as 2023-06-30, 2023/6/30, 2023.6.30 or 2023年6月30日",
    )


# ------------------------------------------------------------------------- text and terms


@_on_uniques
def parse_text(values: Any) -> Parsed:
    """Tidy text cells: strip spaces; whole numbers from Excel (``101.0``) become ``"101"``.

    Only empty cells are missing: in a text column ``无`` or ``/`` may be meant.

    Parameters
    ----------
    values : array-like
        Raw cells.

    Returns
    -------
    Parsed
        ``object`` values (str or None); never fails.
    """
    s = _series(values)
    real = _is_real(s)
    out = s.copy()
    if real.any():
        out[real] = [
            str(int(v)) if float(v).is_integer() else repr(float(v)) for v in s[real]
        ]
    strs = _is_str(out)
    out[strs] = out[strs].str.strip()
    missing = out.map(lambda v: v is None or v is pd.NA or v is pd.NaT or v == ""
                      or (isinstance(v, float) and v != v)).to_numpy(dtype=bool)
    other = ~strs & ~missing
    if other.any():
        out[other] = out[other].map(str)
    out[missing] = None
    return Parsed(out.astype(object), np.zeros(len(s), dtype=bool), {})


@_on_uniques
def parse_term(values: Any, vocab_name: str) -> Parsed:
    """Map cells to the canonical keys of vocabulary *vocab_name* (see ``schema.toml``).

    Parameters
    ----------
    values : array-like
        Raw cells, e.g. ``自来水``, ``已开工``.
    vocab_name : str
        ``network``, ``stage``, ``facility_type``, ``district_level``, ...

    Returns
    -------
    Parsed
        ``object`` keys; a non-blank cell that matches no term fails and keeps None.

    Examples
    --------
    >>> parse_term(["自来水", "热力", "雨污水"], "network").values.tolist()
    ['water_supply', 'heating', 'drainage']
    """
    text = parse_text(values).values
    uniq = pd.unique(text.dropna())
    table = {u: term(vocab_name, u) for u in uniq}
    mapped = text.map(table)
    failed = text.notna().to_numpy(dtype=bool) & mapped.isna().to_numpy(dtype=bool)
    keys = ", ".join(f"{t.zh} ({k})" for k, t in vocab(vocab_name).items())
    return Parsed(
        mapped.astype(object).where(mapped.notna(), None),
        failed,
        {},
        hint=f"use one of: {keys}",
    )


_CATEGORY_SPLIT = r"[、,，;；/|+＋\s和及与]+"


@_on_uniques
def parse_categories(values: Any) -> Parsed:
    """Parse renovation categories into ``;``-joined keys in canonical order.

    ``基础类、完善类`` and ``基础类,提升类`` give ``basic;improvement`` and
    ``basic;upgrade`` (via :func:`gisplan.schema.term` on vocabulary ``category``).

    Parameters
    ----------
    values : array-like
        Raw cells.

    Returns
    -------
    Parsed
        ``object`` values; a cell with any unknown part fails.

    Examples
    --------
    >>> parse_categories(["基础类、完善类", "提升类,基础类"]).values.tolist()
    ['basic;improvement', 'basic;upgrade']
    """
    order = list(vocab("category"))
    text = parse_text(values).values

    def one(cell: str) -> str | None:
        parts = [p for p in re.split(_CATEGORY_SPLIT, cell) if p]
        keys = {term("category", p) for p in parts}
        if not parts or None in keys:
            return None
        return ";".join(k for k in order if k in keys)

    table = {u: one(u) for u in pd.unique(text.dropna())}
    mapped = text.map(table)
    failed = text.notna().to_numpy(dtype=bool) & mapped.isna().to_numpy(dtype=bool)
    return Parsed(
        mapped.astype(object).where(mapped.notna(), None),
        failed,
        {},
        hint="write categories as 基础类、完善类、提升类, separated by 、",
    )
