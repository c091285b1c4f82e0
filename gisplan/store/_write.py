"""Writing: new stores, layer replacement by staging + swap, appends in one transaction.

Every function here runs under the store's exclusive lock (the caller takes it).
See :mod:`gisplan.store._gpkg` for why a replacement is a staging table swapped in by
one SQLite transaction.

Examples
--------
>>> import pandas as pd
>>> from gisplan.store._write import prepare
>>> prepared = prepare("plan_targets", pd.DataFrame({"year": [2024]}),
...                    description=None, meta={"name": "示例"})
>>> prepared.spatial, prepared.description
(False, '计划指标 plan_targets — 示例')
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import StoreError
from gisplan.schema import LayerSchema
from gisplan.store._dtypes import for_storage, now_iso, quote, schema_for, sql_type, sql_value
from gisplan.store._gpkg import (
    drop_layer,
    drop_staging_leftovers,
    new_staging_name,
    swap_in,
    transaction,
    valid_layer_name,
)
from gisplan.store._meta import META_DESCRIPTION, META_TABLE, meta_frame, update_meta_rows

__all__ = ["Prepared", "append_rows", "create_file", "number_ids", "prepare", "replace_layers"]

_TMP_PREFIX = ".gisplan-tmp-"  # ignored by .gitignore

try:  # pragma: no cover - pyarrow is a declared dependency
    import pyarrow  # noqa: F401

    _USE_ARROW = True
except ImportError:  # pragma: no cover
    _USE_ARROW = False


@dataclass
class Prepared:
    """A frame ready for GDAL: storage dtypes, geometry type, description."""

    name: str
    frame: pd.DataFrame
    description: str
    spatial: bool
    options: dict[str, Any] = field(default_factory=dict)


def _geometry_type(frame: Any, name: str) -> str | None:
    """Geometry type to declare for a layer pyogrio cannot infer (no geometries)."""
    geoms = frame.geometry
    if geoms.notna().any() and not geoms.is_empty.all():
        return None  # let pyogrio infer (and promote mixed single/multi to multi)
    sch = schema_for(name)
    if sch and sch.geometry:
        return sch.geometry[-1] if len(sch.geometry) > 1 else sch.geometry[0]
    return "Unknown"


def prepare(
    name: str, frame: pd.DataFrame, *, description: str | None, meta: Mapping[str, Any]
) -> Prepared:
    """Check and convert *frame* for layer *name*; nothing is written yet.

    A wrong value fails here (a :class:`SchemaError` naming row and column), before
    the store is touched.
    """
    import geopandas as gpd

    from gisplan.store._meta import default_description

    valid_layer_name(name)
    if name == META_TABLE:
        raise StoreError(f"'{META_TABLE}' is the metadata table; use set_meta()")
    if not isinstance(frame, pd.DataFrame):
        raise StoreError(f"layer '{name}': expected a (Geo)DataFrame, got {type(frame).__name__}")
    stored = for_storage(frame, name)
    options: dict[str, Any] = {}
    spatial = isinstance(stored, gpd.GeoDataFrame) and stored._geometry_column_name in stored
    if spatial:
        gtype = _geometry_type(stored, name)
        if gtype:
            options["geometry_type"] = gtype
    else:
        stored = pd.DataFrame(stored)
    desc = description if description is not None else default_description(name, meta)
    return Prepared(name, stored, desc, spatial, options)


def _gdal_write(target: Path, table: str, frame: pd.DataFrame, description: str,
                options: Mapping[str, Any]) -> None:
    import pyogrio

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*crs.*not provided", category=UserWarning)
        try:
            pyogrio.write_dataframe(
                frame,
                target,
                layer=table,
                driver="GPKG",
                use_arrow=_USE_ARROW,
                layer_options={"DESCRIPTION": description},
                **options,
            )
        except Exception as exc:  # GDAL errors come in several types
            raise StoreError(f"layer '{table}': cannot be written: {exc}") from exc


# ---------------------------------------------------------------- a new store


def create_file(path: Path, meta: Mapping[str, Any], layers: list[Prepared]) -> None:
    """Write a new store beside *path* and move it over *path* in one atomic rename."""
    _remove_stale_tmp(path)
    tmp = path.with_name(f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        _gdal_write(tmp, META_TABLE, meta_frame(meta), META_DESCRIPTION, {})
        for p in layers:
            _gdal_write(tmp, p.name, p.frame, p.description, p.options)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            with suppress(FileNotFoundError):
                leftover.unlink()


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_tmp(path: Path) -> None:
    """Remove temporary files that killed creators left beside *path*."""
    pattern = re.compile(re.escape(_TMP_PREFIX) + r"\d+-[0-9a-f]{8}-" + re.escape(path.name))
    for stale in path.parent.glob(f"{_TMP_PREFIX}*"):
        if pattern.fullmatch(stale.name) or pattern.fullmatch(stale.name.removesuffix("-journal")):
            with suppress(OSError):
                stale.unlink()


# ---------------------------------------------------------------- replacing layers


def replace_layers(
    path: Path, layers: list[Prepared], meta_updates: Mapping[str, Any] | None
) -> None:
    """Replace *layers* and set *meta_updates* in *path*: all or nothing.

    Each layer is written by GDAL into its own staging table; one transaction then
    swaps them all in and updates the metadata. Staging tables left by a killed
    writer are dropped first.
    """
    with transaction(path) as con:
        drop_staging_leftovers(con)
    staged: dict[str, str] = {}
    try:
        for p in layers:
            staged[p.name] = new_staging_name()
            _gdal_write(path, staged[p.name], p.frame, p.description, p.options)
        with transaction(path) as con:
            for name, staging in staged.items():
                swap_in(con, staging, name)
            if meta_updates:
                update_meta_rows(con, meta_updates)
    except BaseException:
        with suppress(Exception), transaction(path) as con:
            for staging in staged.values():
                drop_layer(con, staging)
        raise


# ---------------------------------------------------------------- appending rows


def number_ids(frame: pd.DataFrame, sch: LayerSchema | None, *, start: int) -> pd.DataFrame:
    """Return *frame* with the schema's integer id numbered from *start* if it is empty."""
    if sch is None or sch.id not in sch.column_names or sch.column(sch.id).dtype != "int":
        return frame
    if sch.id in frame.columns and frame[sch.id].notna().any():
        return frame
    frame = frame.copy()
    ids = pd.Series(np.arange(start, start + len(frame)), index=frame.index, dtype="Int64")
    if sch.id in frame.columns:
        frame[sch.id] = ids
    else:
        frame.insert(0, sch.id, ids)
    return frame


def append_rows(path: Path, table: str, frame: pd.DataFrame) -> None:
    """Append the rows of *frame* to the attribute table *table* in one transaction.

    Numbers the schema's integer id after the largest present when *frame* leaves it
    empty, and adds the columns the table lacks.
    """
    sch = schema_for(table)
    stored = for_storage(pd.DataFrame(frame), table)
    with transaction(path) as con:
        info = con.execute(f"PRAGMA table_info({quote(table)})").fetchall()
        present = {str(r[1]) for r in info}
        if sch is not None and sch.id in present and (
            sch.id not in stored.columns or stored[sch.id].isna().all()
        ):
            (top,) = con.execute(
                f"SELECT COALESCE(MAX({quote(sch.id)}), 0) FROM {quote(table)}"
            ).fetchone()
            stored = number_ids(stored, sch, start=int(top) + 1)
        kinds = {c.name: c.dtype for c in sch.columns} if sch else {}
        for col in stored.columns:
            if col not in present:
                con.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(col)} "
                            f"{sql_type(stored[col], kinds.get(col))}")
        cols = list(stored.columns)
        rows = [tuple(sql_value(v) for v in row)
                for row in stored.astype(object).itertuples(index=False, name=None)]
        con.executemany(
            f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})",
            rows,
        )
        con.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?",
                    (now_iso(), table))
