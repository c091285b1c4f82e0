"""The programme store: one GeoPackage per programme.

A :class:`Project` wraps one GeoPackage file that opens in QGIS as it is: spatial
layers (``compounds``, ``districts``, ...) and attribute-only tables (``progress_log``,
``plan_targets``, ...) are written by GDAL through pyogrio, so ``gpkg_contents`` and
``gpkg_geometry_columns`` are always right, and each layer carries a description in
``gpkg_contents.description`` (synthetic data says so there). Programme metadata lives
in the attribute table ``programme`` (``key`` → JSON ``value``).

Writes are atomic and serialised:

* every writer takes an exclusive ``fcntl.flock`` on ``<path>.lock``; readers take a
  shared lock on the same file, so nobody reads half of an in-place append;
* layer writes copy the store to a temporary file beside it (SQLite backup API, so a
  hot journal left by a killed appender is rolled back first), write there, ``fsync``
  and ``os.replace`` it over the store: a writer killed at any moment leaves the
  previous file readable and byte-for-byte unchanged;
* appends to attribute tables (the progress log) run in place, in one SQLite
  transaction, under the same exclusive lock.

Examples
--------
>>> import geopandas as gpd, shapely
>>> from gisplan.store import Project
>>> gdf = gpd.GeoDataFrame({"compound_id": ["C1"], "name": ["东关小区"]},
...                        geometry=[shapely.box(106.2, 36.0, 106.21, 36.01)], crs=4326)
>>> p = Project.create(tmp / "x.gpkg", meta={"name": "示例"}, layers={"compounds": gdf})
>>> p.layers()
['compounds']
>>> p.read("compounds").loc[0, "name"]
'东关小区'
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import math
import os
import re
import sqlite3
import threading
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import SchemaError, StoreError
from gisplan.schema import LayerSchema
from gisplan.schema import layers as schema_layers

__all__ = ["META_TABLE", "Project"]

#: name of the attribute table holding programme metadata (key → JSON value)
META_TABLE = "programme"

_SQLITE_MAGIC = b"SQLite format 3\x00"
_GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
_TMP_PREFIX = ".gisplan-tmp-"  # ignored by .gitignore
_BUSY_TIMEOUT_S = 60.0

try:  # pragma: no cover - pyarrow is a declared dependency
    import pyarrow  # noqa: F401

    _USE_ARROW = True
except ImportError:  # pragma: no cover
    _USE_ARROW = False


# ---------------------------------------------------------------- locking


_local = threading.local()


def _held() -> dict[str, list[Any]]:
    held = getattr(_local, "held", None)
    if held is None:
        held = _local.held = {}
    return held


@contextmanager
def _flock(lock_path: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold an ``fcntl.flock`` on *lock_path*; re-entrant within one thread.

    A thread that holds the exclusive lock may read and write again without
    deadlocking; a thread that holds only the shared lock cannot upgrade it.
    """
    key = os.path.realpath(lock_path)
    held = _held()
    if key in held:
        fd, was_exclusive, depth = held[key]
        if exclusive and not was_exclusive:
            raise StoreError(
                f"{lock_path}: cannot take the write lock while holding the read lock; "
                "take `with project.lock():` first"
            )
        held[key][2] = depth + 1
        try:
            yield
        finally:
            held[key][2] -= 1
        return
    try:
        fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if exclusive:
            raise StoreError(
                f"{lock_path}: cannot create the lock file ({exc.strerror}); "
                "the programme store must be in a writable folder to be written"
            ) from exc
        try:  # a read-only folder: read without a lock
            fd = os.open(key, os.O_RDONLY)
        except OSError:
            yield
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        held[key] = [fd, exclusive, 1]
        try:
            yield
        finally:
            del held[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- dtypes


def _schema_for(name: str) -> LayerSchema | None:
    return schema_layers().get(name)


def _is_string_dtype(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.StringDtype)


def _to_object_text(s: pd.Series) -> pd.Series:
    out = s.astype(object)
    return out.where(s.notna(), None)


def _to_dates(s: pd.Series) -> pd.Series:
    """Return *s* as ``object`` of :class:`datetime.date` (None where missing)."""
    if s.dtype == object and s.map(lambda v: v is None or isinstance(v, dt.date)).all():
        vals = s.map(lambda v: v.date() if isinstance(v, dt.datetime) else v)
    else:
        ts = pd.to_datetime(s, errors="raise")
        vals = ts.map(lambda v: None if pd.isna(v) else v.date())
    return vals.astype(object).where(s.notna(), None)


def _canonical(frame: pd.DataFrame, name: str, *, file: str | None = None) -> pd.DataFrame:
    """Cast the columns of *frame* to the canonical pandas dtypes of layer *name*.

    Columns the schema does not know are kept; their text columns become ``object``
    like the canonical text columns.
    """
    sch = _schema_for(name)
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


def _for_storage(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return a copy of *frame* with dtypes pyogrio's Arrow writer stores faithfully.

    Canonical columns are cast first (so a wrong value fails here, with its row and
    column, before the store is touched); text columns become pandas ``string`` so
    that an all-empty column is still written as TEXT.
    """
    out = _canonical(frame.copy(), name)
    geom = getattr(out, "_geometry_column_name", None)
    for col in out.columns:
        if col == geom:
            continue
        s = out[col]
        sch = _schema_for(name)
        kind = next((c.dtype for c in sch.columns if c.name == col), None) if sch else None
        if kind == "date":
            continue  # datetime.date objects → Arrow date32 → GeoPackage DATE
        if s.dtype == object:
            if s.map(lambda v: v is None or isinstance(v, str)).all():
                out[col] = s.astype("string")
            elif s.map(lambda v: v is None or isinstance(v, dt.date)).all():
                continue
            else:  # mixed Python objects: keep the data, as text
                out[col] = s.map(lambda v: None if v is None else str(v)).astype("string")
    return out


# ---------------------------------------------------------------- values for SQL


def _sql_value(v: Any) -> Any:
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


def _sql_type(s: pd.Series, kind: str | None) -> str:
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


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------- the store


class Project:
    """One programme stored in one GeoPackage.

    Use :meth:`create` or :meth:`open` rather than the constructor.

    Parameters
    ----------
    path : str or os.PathLike
        The GeoPackage file. It must exist and be a GeoPackage.

    Attributes
    ----------
    path : pathlib.Path
        The GeoPackage file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        _check_geopackage(self.path)

    # ------------------------------------------------------------ construction

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        meta: Mapping[str, Any],
        layers: Mapping[str, pd.DataFrame] | None = None,
        overwrite: bool = False,
    ) -> Project:
        """Create a programme store.

        Parameters
        ----------
        path : str or os.PathLike
            The GeoPackage to create (``.gpkg``).
        meta : mapping
            Programme metadata (see DESIGN.md, "Programme metadata"); every value must
            be JSON-serialisable.
        layers : mapping of str to DataFrame, optional
            Layers to write: GeoDataFrames become spatial layers, DataFrames tables.
        overwrite : bool, default False
            Replace an existing file; otherwise an existing file is an error.

        Returns
        -------
        Project

        Raises
        ------
        StoreError
            If *path* exists and *overwrite* is false, or it cannot be written.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise StoreError(f"{path}: folder {path.parent} does not exist; create it first")
        with _flock(_lock_path(path), exclusive=True):
            if path.exists() and not overwrite:
                raise StoreError(
                    f"{path}: file exists; open it with Project.open(), "
                    "or pass overwrite=True to replace it"
                )
            _remove_stale_tmp(path)
            tmp = _tmp_path(path)
            try:
                _write_meta_layer(tmp, dict(_json_ready(meta)))
                for name, frame in (layers or {}).items():
                    _write_layer(tmp, name, frame, description=None, meta=meta)
                _commit(tmp, path)
            finally:
                _discard(tmp)
        return cls(path)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Project:
        """Open an existing programme store.

        Raises
        ------
        StoreError
            If *path* does not exist or is not a GeoPackage.
        """
        return cls(path)

    def __repr__(self) -> str:
        return f"Project({str(self.path)!r})"

    # ------------------------------------------------------------ locking

    def lock(self) -> Any:
        """Return a context manager holding the exclusive inter-process lock.

        Use it around a read-modify-write so that no other process writes in between;
        :meth:`write`, :meth:`append` and friends may be called inside (the lock is
        re-entrant within one thread).

        Examples
        --------
        >>> with p.lock():
        ...     log = p.read("progress_log")
        ...     p.write("progress_log", log[log.stage != "planned"])
        """
        return _flock(_lock_path(self.path), exclusive=True)

    # ------------------------------------------------------------ reading

    def _connect(self) -> sqlite3.Connection:
        uri = f"file:{self.path.resolve()}?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_S)

    def _contents(self) -> dict[str, str]:
        with _flock(_lock_path(self.path), exclusive=False):
            _check_geopackage(self.path)
            con = self._connect()
            try:
                rows = con.execute(
                    "SELECT table_name, data_type FROM gpkg_contents ORDER BY rowid"
                ).fetchall()
            finally:
                con.close()
        return {str(name): str(kind) for name, kind in rows}

    def layers(self) -> list[str]:
        """Return the names of the layers and tables present (metadata excluded)."""
        return [n for n in self._contents() if n != META_TABLE]

    def has(self, name: str) -> bool:
        """Return True when layer or table *name* is present."""
        return name in self._contents()

    def description(self, name: str) -> str:
        """Return the description of layer *name* (``gpkg_contents.description``)."""
        with _flock(_lock_path(self.path), exclusive=False):
            con = self._connect()
            try:
                row = con.execute(
                    "SELECT description FROM gpkg_contents WHERE table_name = ?", (name,)
                ).fetchone()
            finally:
                con.close()
        if row is None:
            raise self._missing(name)
        return str(row[0] or "")

    def _missing(self, name: str) -> StoreError:
        present = ", ".join(self.layers()) or "none"
        return StoreError(
            f"{self.path}: no layer '{name}' (layers present: {present}); "
            f"write it first, e.g. `gisplan import ... --layer {name}`"
        )

    def read(
        self,
        name: str,
        *,
        columns: Sequence[str] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> pd.DataFrame:
        """Read one layer or table.

        Parameters
        ----------
        name : str
            Layer or table name.
        columns : sequence of str, optional
            Read only these attribute columns (geometry is always read).
        bbox : tuple of float, optional
            ``(minx, miny, maxx, maxy)`` in the layer's CRS: read only the features
            whose bounding box intersects it (spatial layers only).

        Returns
        -------
        geopandas.GeoDataFrame or pandas.DataFrame
            A GeoDataFrame for a spatial layer, a DataFrame for a table, with the
            canonical dtypes of :mod:`gisplan.schema` (``Int64``, ``float64``,
            ``boolean``, text as ``object``, dates as :class:`datetime.date`);
            columns the schema does not know are kept.
        """
        import pyogrio

        with _flock(_lock_path(self.path), exclusive=False):
            contents = self._contents()
            if name not in contents:
                raise self._missing(name)
            spatial = contents[name] == "features"
            if bbox is not None and not spatial:
                raise StoreError(f"{self.path}: '{name}' is a table; bbox applies to layers")
            try:
                frame = pyogrio.read_dataframe(
                    self.path,
                    layer=name,
                    columns=list(columns) if columns is not None else None,
                    bbox=bbox,
                    use_arrow=_USE_ARROW,
                )
            except Exception as exc:  # pyogrio raises several GDAL error types
                raise StoreError(f"{self.path}: cannot read layer '{name}': {exc}") from exc
        return _canonical(frame, name, file=str(self.path))

    # ------------------------------------------------------------ metadata

    @property
    def meta(self) -> dict[str, Any]:
        """Programme metadata, read from the ``programme`` table (key → JSON value)."""
        with _flock(_lock_path(self.path), exclusive=False):
            con = self._connect()
            try:
                rows = con.execute(f"SELECT key, value FROM {_quote(META_TABLE)}").fetchall()
            except sqlite3.OperationalError as exc:
                raise StoreError(
                    f"{self.path}: no '{META_TABLE}' metadata table ({exc}); "
                    "this GeoPackage was not written by gisplan: create the programme "
                    "with Project.create(...) and import its layers"
                ) from exc
            finally:
                con.close()
        return {str(k): json.loads(v) for k, v in rows}

    def set_meta(self, **updates: Any) -> None:
        """Update programme metadata keys (other keys are kept), atomically.

        Examples
        --------
        >>> p.set_meta(bundle_level="street")
        """
        self.write_many({}, meta_updates=updates)

    # ------------------------------------------------------------ writing

    def write(self, name: str, frame: pd.DataFrame, *, description: str | None = None) -> None:
        """Replace layer *name* with *frame*, atomically.

        Parameters
        ----------
        name : str
            Layer or table name.
        frame : DataFrame or GeoDataFrame
            GeoDataFrames become spatial layers in their own CRS; DataFrames tables.
        description : str, optional
            Layer description (``gpkg_contents.description``); by default the layer's
            Chinese and English names, marked ``合成数据 SYNTHETIC`` for synthetic
            programmes.
        """
        self.write_many({name: frame}, descriptions={name: description} if description else None)

    def write_many(
        self,
        frames: Mapping[str, pd.DataFrame],
        meta_updates: Mapping[str, Any] | None = None,
        *,
        descriptions: Mapping[str, str] | None = None,
    ) -> None:
        """Replace several layers (and update metadata) in one atomic step.

        Either every layer and metadata key is written, or (if the writer fails or is
        killed) none is.

        Parameters
        ----------
        frames : mapping of str to DataFrame
            Layers to replace.
        meta_updates : mapping, optional
            Metadata keys to set.
        descriptions : mapping of str to str, optional
            Layer descriptions, by layer name.
        """
        if META_TABLE in frames:
            raise StoreError(f"'{META_TABLE}' is the metadata table; use set_meta()")
        with self.lock():
            _check_geopackage(self.path)
            meta = self.meta
            if meta_updates:
                meta.update(_json_ready(meta_updates))
            tmp = _tmp_path(self.path)
            try:
                _copy_db(self.path, tmp)
                for name, frame in frames.items():
                    desc = (descriptions or {}).get(name)
                    _write_layer(tmp, name, frame, description=desc, meta=meta)
                if meta_updates:
                    _update_meta_rows(tmp, _json_ready(meta_updates))
                _commit(tmp, self.path)
            finally:
                _discard(tmp)

    def append(self, table: str, frame: pd.DataFrame) -> int:
        """Append the rows of *frame* to *table* in one transaction; return rows added.

        Tables are appended in place, in one SQLite transaction under the exclusive
        lock (two processes appending at once are serialised, nothing is lost). When the
        table's schema id column is an integer (``progress_log.log_id``) and *frame*
        leaves it empty, the store numbers the new rows after the largest id present.
        Columns not yet in the table are added. A table that does not exist yet is
        created; a spatial layer is appended by rewriting it atomically.

        Parameters
        ----------
        table : str
            Table name, e.g. ``progress_log``.
        frame : DataFrame
            Rows to append.

        Returns
        -------
        int
            Number of rows appended.
        """
        if table == META_TABLE:
            raise StoreError(f"'{META_TABLE}' is the metadata table; use set_meta()")
        sch = _schema_for(table)
        with self.lock():
            contents = self._contents()
            if table not in contents:
                self.write(table, _number_ids(frame, sch, start=1))
                return len(frame)
            if contents[table] == "features":
                import geopandas as gpd

                old = self.read(table)
                if getattr(frame, "crs", None) != old.crs:
                    raise StoreError(
                        f"{self.path}: cannot append to layer '{table}' in {old.crs} "
                        f"rows in {getattr(frame, 'crs', None)}; reproject them first"
                    )
                both = pd.concat([old, frame], ignore_index=True)
                self.write(table, gpd.GeoDataFrame(both, geometry=old.geometry.name, crs=old.crs))
                return len(frame)
            if len(frame) == 0:
                return 0
            stored = _for_storage(pd.DataFrame(frame), table)
            con = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
            try:
                con.execute("BEGIN IMMEDIATE")
                info = con.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
                present = {str(r[1]) for r in info}
                if sch is not None and sch.id in present and (
                    sch.id not in stored.columns or stored[sch.id].isna().all()
                ):
                    kind = sch.column(sch.id).dtype
                    if kind == "int":
                        (top,) = con.execute(
                            f"SELECT COALESCE(MAX({_quote(sch.id)}), 0) FROM {_quote(table)}"
                        ).fetchone()
                        stored = _number_ids(stored, sch, start=int(top) + 1)
                kinds = {c.name: c.dtype for c in sch.columns} if sch else {}
                for col in stored.columns:
                    if col not in present:
                        sql_type = _sql_type(stored[col], kinds.get(col))
                        con.execute(
                            f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(col)} {sql_type}"
                        )
                cols = list(stored.columns)
                placeholders = ", ".join("?" * len(cols))
                names = ", ".join(_quote(c) for c in cols)
                rows = [
                    tuple(_sql_value(v) for v in row)
                    for row in stored.astype(object).itertuples(index=False, name=None)
                ]
                con.executemany(
                    f"INSERT INTO {_quote(table)} ({names}) VALUES ({placeholders})", rows
                )
                con.execute(
                    "UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?",
                    (_now_iso(), table),
                )
                con.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            finally:
                con.close()
            return len(rows)


# ---------------------------------------------------------------- helpers


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _tmp_path(path: Path) -> Path:
    # keeps the .gpkg extension, so that GDAL treats the file as a GeoPackage
    return path.with_name(f"{_TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}")


def _discard(tmp: Path) -> None:
    for p in (tmp, tmp.with_name(tmp.name + "-journal")):
        with suppress(FileNotFoundError):
            p.unlink()


def _remove_stale_tmp(path: Path) -> None:
    """Remove temporary files left by killed writers (call under the exclusive lock)."""
    pattern = re.compile(re.escape(_TMP_PREFIX) + r"\d+-[0-9a-f]{8}-" + re.escape(path.name))
    for stale in path.parent.glob(f"{_TMP_PREFIX}*"):
        if pattern.fullmatch(stale.name) or pattern.fullmatch(stale.name.removesuffix("-journal")):
            with suppress(OSError):
                stale.unlink()


def _copy_db(src: Path, dst: Path) -> None:
    """Copy a SQLite database consistently (a hot journal is rolled back first)."""
    _remove_stale_tmp(src)
    source = sqlite3.connect(src, timeout=_BUSY_TIMEOUT_S)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _commit(tmp: Path, path: Path) -> None:
    """Make *tmp* durable and move it over *path* in one atomic rename."""
    _fsync_path(tmp)
    os.replace(tmp, path)
    _fsync_path(path.parent, directory=True)


def _check_geopackage(path: Path) -> None:
    if not path.exists():
        raise StoreError(
            f"{path}: no such file; check the path, or create the programme with "
            "`gisplan samples` / `gisplan synth` or Project.create(...)"
        )
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a GeoPackage file (.gpkg)")
    with path.open("rb") as fh:
        head = fh.read(100)
    if not head.startswith(_SQLITE_MAGIC):
        raise StoreError(
            f"{path}: not a GeoPackage (not an SQLite database); a programme store is a "
            "'.gpkg' written by gisplan: read other formats with `gisplan import`"
        )
    app_id = int.from_bytes(head[68:72], "big")
    if app_id != _GPKG_APPLICATION_ID:
        con = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            ok = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='gpkg_contents'"
            ).fetchone()
        except sqlite3.DatabaseError:
            ok = None
        finally:
            con.close()
        if not ok:
            raise StoreError(
                f"{path}: not a GeoPackage (an SQLite database without gpkg_contents); "
                "write the programme with Project.create(...) or `gisplan import`"
            )


def _json_ready(meta: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in meta.items():
        try:
            json.dumps(value, ensure_ascii=False, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"metadata key '{key}' cannot be stored as JSON ({exc}); "
                "use numbers, text, lists and dicts"
            ) from exc
        out[str(key)] = json.loads(json.dumps(value, ensure_ascii=False, default=_json_default))
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _meta_frame(meta: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": pd.Series(list(meta), dtype="string"),
            "value": pd.Series(
                [json.dumps(v, ensure_ascii=False) for v in meta.values()], dtype="string"
            ),
        }
    )


def _write_meta_layer(target: Path, meta: Mapping[str, Any]) -> None:
    import pyogrio

    pyogrio.write_dataframe(
        _meta_frame(meta),
        target,
        layer=META_TABLE,
        driver="GPKG",
        use_arrow=_USE_ARROW,
        layer_options={"DESCRIPTION": "programme metadata 项目元数据 (key → JSON value)"},
    )


def _update_meta_rows(target: Path, updates: Mapping[str, Any]) -> None:
    con = sqlite3.connect(target, isolation_level=None)
    try:
        con.execute("BEGIN")
        for key, value in updates.items():
            con.execute(f"DELETE FROM {_quote(META_TABLE)} WHERE key = ?", (key,))
            con.execute(
                f"INSERT INTO {_quote(META_TABLE)} (key, value) VALUES (?, ?)",
                (key, json.dumps(value, ensure_ascii=False)),
            )
        con.execute(
            "UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?",
            (_now_iso(), META_TABLE),
        )
        con.execute("COMMIT")
    finally:
        con.close()


def _default_description(name: str, meta: Mapping[str, Any]) -> str:
    sch = _schema_for(name)
    text = f"{sch.zh} {name}" if sch and sch.zh else name
    programme = meta.get("name")
    if programme:
        text += f" — {programme}"
    if meta.get("synthetic"):
        note = meta.get("synthetic_note")
        text = "合成数据 SYNTHETIC: " + text + (f" ({note})" if note else "")
    return text


def _geometry_type(frame: Any, name: str) -> str | None:
    """Geometry type to declare for a layer pyogrio cannot infer (no geometries)."""
    geoms = frame.geometry
    if geoms.notna().any() and not geoms.is_empty.all():
        return None  # let pyogrio infer (and promote mixed single/multi to multi)
    sch = _schema_for(name)
    if sch and sch.geometry:
        return sch.geometry[-1] if len(sch.geometry) > 1 else sch.geometry[0]
    return "Unknown"


def _number_ids(frame: pd.DataFrame, sch: LayerSchema | None, *, start: int) -> pd.DataFrame:
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


def _write_layer(
    target: Path,
    name: str,
    frame: pd.DataFrame,
    *,
    description: str | None,
    meta: Mapping[str, Any],
) -> None:
    import geopandas as gpd
    import pyogrio

    if not isinstance(frame, pd.DataFrame):
        raise StoreError(f"layer '{name}': expected a (Geo)DataFrame, got {type(frame).__name__}")
    if name == META_TABLE:
        raise StoreError(f"'{META_TABLE}' is the metadata table; use set_meta()")
    stored = _for_storage(frame, name)
    kwargs: dict[str, Any] = {}
    if isinstance(stored, gpd.GeoDataFrame) and stored._geometry_column_name in stored:
        gtype = _geometry_type(stored, name)
        if gtype:
            kwargs["geometry_type"] = gtype
    else:
        stored = pd.DataFrame(stored)
    desc = description if description is not None else _default_description(name, meta)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*crs.*not provided", category=UserWarning)
        try:
            pyogrio.write_dataframe(
                stored,
                target,
                layer=name,
                driver="GPKG",
                use_arrow=_USE_ARROW,
                layer_options={"DESCRIPTION": desc, "OVERWRITE": "YES"},
                **kwargs,
            )
        except Exception as exc:  # GDAL errors come in several types
            raise StoreError(f"layer '{name}': cannot be written: {exc}") from exc
