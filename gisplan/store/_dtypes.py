"""Column types: the canonical pandas dtypes of a layer, and values for SQL.

:func:`canonical` casts a frame read from the store to the dtypes of
:mod:`gisplan.schema`; :func:`for_storage` prepares a frame for pyogrio's Arrow writer
(a wrong value fails here, with its row and column, before the store is touched).

Examples
--------
>>> import pandas as pd
>>> from gisplan.store._dtypes import canonical, sql_value
>>> canonical(pd.DataFrame({"households": ["12", None]}), "compounds")["households"].tolist()
[12, <NA>]
>>> sql_value(float("nan")) is None, sql_value(True)
(True, 1)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import SchemaError
from gisplan.schema import LayerSchema
from gisplan.schema import layers as schema_layers

__all__ = ["canonical", "for_storage", "now_iso", "quote", "schema_for", "sql_type", "sql_value"]



def schema_for(name: str) -> LayerSchema | None:
    return schema_layers().get(name)


def _is_string_dtype(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.StringDtype)


def _to_object_text(s: pd.Series) -> pd.Series:
    """Return *s* as ``object`` cells, ``None`` where missing (one numpy conversion)."""
    cells = s.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    return pd.Series(cells, index=s.index, name=s.name, dtype=object)


def _to_dates(s: pd.Series) -> pd.Series:
    """Return *s* as ``object`` of :class:`datetime.date` (None where missing)."""
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("date", "empty") \
            and not any(isinstance(v, dt.datetime) for v in pd.unique(s.to_numpy())):
        vals = s  # dates already (what a store read gives): no Python call per cell
    elif s.dtype == object and s.map(lambda v: v is None or isinstance(v, dt.date)).all():
        vals = s.map(lambda v: v.date() if isinstance(v, dt.datetime) else v)
    else:
        ts = pd.to_datetime(s, errors="raise")
        vals = ts.map(lambda v: None if pd.isna(v) else v.date())
    return vals.astype(object).where(s.notna(), None)


def canonical(frame: pd.DataFrame, name: str, *, file: str | None = None) -> pd.DataFrame:
    """Cast the columns of *frame* to the canonical pandas dtypes of layer *name*.

    Columns the schema does not know are kept; their text columns become ``object``
    like the canonical text columns.
    """
    sch = schema_for(name)
    dtypes = {c.name: c.dtype for c in sch.columns} if sch else {}
    for col in frame.columns:
        if col == getattr(frame, "_geometry_column_name", None):
            continue
        s = frame[col]
        kind = dtypes.get(col)
        try:
            if kind == "int":
                if s.dtype == object:
                    s = pd.to_numeric(s, errors="raise")
                frame[col] = s.astype("Int64")
            elif kind == "float":
                frame[col] = pd.to_numeric(s, errors="raise").astype("float64")
            elif kind == "bool":
                frame[col] = s.astype("boolean")
            elif kind == "str":
                frame[col] = _to_object_text(s)
            elif kind == "date":
                frame[col] = _to_dates(s)
            elif kind == "datetime":
                frame[col] = pd.to_datetime(s, errors="raise")
            elif _is_string_dtype(s):
                frame[col] = _to_object_text(s)
        except (TypeError, ValueError) as exc:
            bad = _first_bad_value(s, kind)
            raise SchemaError(
                f"column cannot be read as {kind}: {exc}",
                file=file,
                layer=name,
                row=bad[0],
                column=col,
                value=bad[1],
                hint=f"store {kind} values in column '{col}' (see gisplan/data/schema.toml)",
            ) from exc
    return frame


def _first_bad_value(s: pd.Series, kind: str | None) -> tuple[Any, Any]:
    for idx, value in s.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        try:
            if kind in ("int", "float"):
                float(value)
                if kind == "int" and float(value) != int(float(value)):
                    return idx, value
            elif kind in ("date", "datetime"):
                pd.Timestamp(value)
            elif kind == "bool" and value not in (True, False, 0, 1):
                return idx, value
        except (TypeError, ValueError):
            return idx, value
    return None, None


def for_storage(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return a copy of *frame* with dtypes pyogrio's Arrow writer stores faithfully.

    Canonical columns are cast first (so a wrong value fails here, with its row and
    column, before the store is touched); text columns become pandas ``string`` so
    that an all-empty column is still written as TEXT.
    """
    out = canonical(frame.copy(), name)
    geom = getattr(out, "_geometry_column_name", None)
    for col in out.columns:
        if col == geom:
            continue
        s = out[col]
        sch = schema_for(name)
        kind = next((c.dtype for c in sch.columns if c.name == col), None) if sch else None
        if kind == "date":
            continue  # datetime.date objects → Arrow date32 → GeoPackage DATE
        if s.dtype == object:
            # one C pass over the cells; missing cells (None, NaN) are stored as NULL
            inferred = pd.api.types.infer_dtype(s, skipna=True)
            if inferred in ("string", "empty"):
                out[col] = s.astype("string")
            elif inferred == "date" or s.map(lambda v: v is None or isinstance(v, dt.date)).all():
                continue
            else:  # mixed Python objects: keep the data, as text
                out[col] = s.map(lambda v: None if v is None else str(v)).astype("string")
    return out


# ---------------------------------------------------------------- values for SQL


def sql_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        text = v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}"
        return text + ("Z" if v.tzinfo is not None else "")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def sql_type(s: pd.Series, kind: str | None) -> str:
    if kind == "int" or pd.api.types.is_integer_dtype(s.dtype):
        return "INTEGER"
    if kind == "float" or pd.api.types.is_float_dtype(s.dtype):
        return "REAL"
    if kind == "bool" or pd.api.types.is_bool_dtype(s.dtype):
        return "BOOLEAN"
    if kind == "date":
        return "DATE"
    if kind == "datetime" or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "DATETIME"
    return "TEXT"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


