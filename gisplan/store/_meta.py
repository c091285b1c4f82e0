"""Programme metadata: the ``programme`` table (key → JSON value) and layer descriptions.

Examples
--------
>>> from gisplan.store._meta import default_description, json_ready
>>> json_ready({"start": __import__("datetime").date(2023, 6, 30)})
{'start': '2023-06-30'}
>>> default_description("compounds", {"name": "固原", "synthetic": True})
'合成数据 SYNTHETIC: 小区 compounds — 固原'
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import StoreError
from gisplan.store._dtypes import now_iso, quote, schema_for

__all__ = [
    "META_DESCRIPTION",
    "META_TABLE",
    "default_description",
    "json_ready",
    "meta_frame",
    "read_meta",
    "update_meta_rows",
]

#: name of the attribute table holding programme metadata (key → JSON value)
META_TABLE = "programme"
META_DESCRIPTION = "programme metadata 项目元数据 (key → JSON value)"


def json_ready(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Return *meta* as plain JSON values; a value that is not JSON is a :class:`StoreError`."""
    out = {}
    for key, value in meta.items():
        try:
            text = json.dumps(value, ensure_ascii=False, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"metadata key '{key}' cannot be stored as JSON ({exc}); "
                "use numbers, text, lists and dicts"
            ) from exc
        out[str(key)] = json.loads(text)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def meta_frame(meta: Mapping[str, Any]) -> pd.DataFrame:
    """Return the ``programme`` table for *meta*: text columns ``key``, ``value`` (JSON)."""
    return pd.DataFrame(
        {
            "key": pd.Series(list(meta), dtype="string"),
            "value": pd.Series(
                [json.dumps(v, ensure_ascii=False) for v in meta.values()], dtype="string"
            ),
        }
    )


def read_meta(con: sqlite3.Connection, *, path: Path) -> dict[str, Any]:
    """Read the metadata of the store *path* through *con*."""
    try:
        rows = con.execute(f"SELECT key, value FROM {quote(META_TABLE)}").fetchall()
    except sqlite3.OperationalError as exc:
        raise not_a_programme(path) from exc
    return {str(k): json.loads(v) for k, v in rows}


def not_a_programme(path: Path) -> StoreError:
    """Return the error for a GeoPackage without the ``programme`` table."""
    return StoreError(
        f"{path}: a GeoPackage, but not a gisplan programme 不是改造项目文件 (it has no "
        f"'{META_TABLE}' table); import its layers into a programme, one layer at a time: "
        f"`gisplan import PROGRAMME.gpkg {path} --layer compounds` "
        "(PROGRAMME.gpkg is created when it does not exist)"
    )


def update_meta_rows(con: sqlite3.Connection, updates: Mapping[str, Any]) -> None:
    """Set metadata keys through *con* (call inside a transaction)."""
    for key, value in updates.items():
        con.execute(f"DELETE FROM {quote(META_TABLE)} WHERE key = ?", (key,))
        con.execute(
            f"INSERT INTO {quote(META_TABLE)} (key, value) VALUES (?, ?)",
            (key, json.dumps(value, ensure_ascii=False)),
        )
    con.execute(
        "UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?", (now_iso(), META_TABLE)
    )


def default_description(name: str, meta: Mapping[str, Any]) -> str:
    """Return the default description of layer *name*.

    Its Chinese and English names and the programme, marked ``合成数据 SYNTHETIC`` for
    synthetic programmes.
    """
    sch = schema_for(name)
    text = f"{sch.zh} {name}" if sch and sch.zh else name
    programme = meta.get("name")
    if programme:
        text += f" — {programme}"
    if meta.get("synthetic"):
        note = meta.get("synthetic_note")
        text = "合成数据 SYNTHETIC: " + text + (f" ({note})" if note else "")
    return text
