"""Dates of the progress log: one type in, one type out.

Every function of :mod:`gisplan.progress` accepts a date as it comes — an ISO string,
``2023年6月30日``, ``2023.6.30``, an Excel serial, a :class:`datetime.date`, a
:class:`datetime.datetime` or a :class:`pandas.Timestamp` — and returns dates as
:class:`datetime.date` objects (``None`` where missing), the type the store reads a
``date`` column as (DESIGN.md, "Dtypes on read"). Inside, comparisons run on
``datetime64`` (:func:`parse_dates`).

Examples
--------
>>> import datetime as dt
>>> import pandas as pd
>>> as_date("2023年6月30日") == as_date(pd.Timestamp("2023-06-30 08:00")) == dt.date(2023, 6, 30)
True
>>> to_dates(pd.Series(["2023.6.30", None, "六月底"])).tolist()
[datetime.date(2023, 6, 30), None, None]
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import InputError

__all__ = ["DATE_HINT", "DateLike", "as_date", "parse_dates", "require_date", "to_dates"]

#: how a date may be given: text in any of the forms of :func:`gisplan.parse.parse_date`,
#: a ``date``/``datetime``, a ``Timestamp``, or an Excel serial
DateLike = str | dt.date | pd.Timestamp | int | float

#: how to write a date, for hints
DATE_HINT = "write 2023-06-30, 2023年6月30日 or 2023.6.30"


def parse_dates(values: Any) -> pd.Series:
    """Return *values* as ``datetime64[ns]`` at midnight (NaT where missing or unreadable).

    The computing form: comparisons and sorting run on it; results are turned back into
    :class:`datetime.date` with :func:`to_dates`.
    """
    from gisplan.parse import parse_date

    index = values.index if isinstance(values, pd.Series) else None
    days = _plain_dates(values)
    if days is not None:  # the store's own dates: no parsing (called many times a run)
        return pd.Series(days.astype("datetime64[ns]"), index=index)
    parsed = parse_date(values).values
    out = pd.to_datetime(pd.Series(parsed.to_numpy(), dtype=object), errors="coerce")
    out = out.astype("datetime64[ns]")
    if index is not None:
        out.index = index
    return out


def _plain_dates(values: Any) -> np.ndarray | None:
    """Return *values* as ``datetime64[D]`` when they are dates already, else None.

    A naive ``datetime64`` Series, or ``datetime.date`` (not a ``datetime``) and ``None``
    cells (what the store reads a ``date`` column as). Anything else (text, serials,
    timestamps in cells) goes to the parser.
    """
    if not isinstance(values, pd.Series):
        return None
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "M":  # naive datetime64
        return values.to_numpy().astype("datetime64[D]")
    if values.dtype != object:
        return None
    # a year of reports has a few hundred distinct days: convert those, then take them
    # (numpy's cell-by-cell object -> datetime64 cast was 20x slower on 27,000 rows)
    codes, days = pd.factorize(values.to_numpy(), use_na_sentinel=True)
    if not {type(v) for v in days} <= {dt.date}:
        return None
    return _take(days.astype("datetime64[D]"), codes, np.datetime64("NaT", "D"))


def _take(values: np.ndarray, codes: np.ndarray, missing: Any) -> np.ndarray:
    """Return ``values[codes]`` with *missing* where the code is -1 (factorized NA)."""
    out = np.append(values, np.array([missing], dtype=values.dtype))
    return out[np.where(codes < 0, len(values), codes)]


def to_dates(values: Any) -> pd.Series:
    """Return *values* as ``object`` of :class:`datetime.date` (None where missing)."""
    ts = parse_dates(values)
    # datetime64[D] -> object gives datetime.date (None for NaT); cast the distinct days
    codes, uniq = pd.factorize(ts.to_numpy(dtype="datetime64[D]"), use_na_sentinel=True)
    days = _take(np.asarray(uniq, dtype="datetime64[D]").astype(object), codes, None)
    return pd.Series(days, index=ts.index, dtype=object)


def as_date(value: Any) -> dt.date | None:
    """Return one date-like *value* as a :class:`datetime.date`, None when unreadable."""
    if value is None:
        return None
    if type(value) is dt.date:
        return value
    day: dt.date | None = to_dates(pd.Series([value], dtype=object)).iloc[0]
    return day


def require_date(value: Any, *, what: str = "as-of date") -> dt.date:
    """Return *value* as a date, or raise :class:`InputError` naming it and the fix."""
    day = as_date(value)
    if day is None:
        raise InputError(f"{what} not recognised", value=value, hint=DATE_HINT)
    return day
