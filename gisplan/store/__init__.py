"""The programme store: one GeoPackage per programme, or one PostGIS schema.

``Project.open(path)`` opens a GeoPackage (the embedded default);
``Project.open("postgresql://USER@HOST/DATABASE?schema=NAME")`` opens a programme in a
PostGIS database (:mod:`gisplan.store._postgis`) with the same API and results. The
rest of this page describes the GeoPackage store.

A :class:`Project` wraps one GeoPackage file that opens in QGIS as it is: spatial
layers (``compounds``, ``districts``, ...) and attribute-only tables (``progress_log``,
``plan_targets``, ...) are written by GDAL through pyogrio, so ``gpkg_contents``,
``gpkg_geometry_columns`` and the R-tree spatial indexes are always right, and each
layer carries a description in ``gpkg_contents.description`` (synthetic data says so
there). Programme metadata lives in the attribute table ``programme`` (``key`` → JSON
``value``); a GeoPackage without it is not a programme.

Writes are atomic, serialised, and cost what changed:

* every writer takes an exclusive ``fcntl.flock`` on ``<path>.lock``; readers take a
  shared lock on the same file (:mod:`gisplan.store._lock`);
* a layer is written by GDAL into a staging table of the same file, then swapped in
  by one SQLite transaction (:mod:`gisplan.store._gpkg` explains the design): a
  writer killed at any moment leaves every layer as it was;
* appends to attribute tables (the progress log) run in one SQLite transaction;
* a store that a killed writer left with a hot journal is rolled back, under the
  write lock, the next time it is opened, with one line logged
  (:mod:`gisplan.store._recovery`).

The parts: :mod:`~gisplan.store._lock` (locking), :mod:`~gisplan.store._recovery`
(hot journals), :mod:`~gisplan.store._gpkg` (GeoPackage tables and the swap),
:mod:`~gisplan.store._write` (writing), :mod:`~gisplan.store._meta` (metadata),
:mod:`~gisplan.store._dtypes` (column types).

Examples
--------
>>> import tempfile, pathlib
>>> import geopandas as gpd, shapely
>>> from gisplan.store import Project
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> gdf = gpd.GeoDataFrame({"compound_id": ["C1"], "name": ["东关小区"]},
...                        geometry=[shapely.box(106.2, 36.0, 106.21, 36.01)], crs=4326)
>>> p = Project.create(tmp / "x.gpkg", meta={"name": "示例"}, layers={"compounds": gdf})
>>> p.layers()
['compounds']
>>> p.read("compounds").loc[0, "name"]
'东关小区'
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from gisplan._errors import StoreError
from gisplan.store._cache import ReadCache, file_identity
from gisplan.store._dtypes import canonical, schema_for
from gisplan.store._gpkg import STAGING_PREFIX, check_geopackage, connect_ro
from gisplan.store._lock import flock, lock_path
from gisplan.store._meta import META_TABLE, json_ready, not_a_programme, read_meta
from gisplan.store._pg import is_url
from gisplan.store._recovery import is_hot, recover
from gisplan.store._write import append_rows, create_file, number_ids, prepare, replace_layers

__all__ = ["META_TABLE", "Project"]

try:  # pragma: no cover - pyarrow is a declared dependency
    import pyarrow  # noqa: F401

    _USE_ARROW = True
except ImportError:  # pragma: no cover
    _USE_ARROW = False

#: ``gpkg_contents`` of the stores this process listed, while each is unchanged
_CONTENTS = ReadCache(max_files=64)
#: Layers this process read, from the last store read only (a run goes city by city); a
#: caller gets a copy, so the kept frame is never changed
_FRAMES = ReadCache(max_files=1)


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Hold the shared lock on a store that has no hot journal (recovering it first)."""
    for _attempt in range(3):
        recover(path)
        with flock(lock_path(path), exclusive=False):
            if not is_hot(path):
                yield
                return
    raise StoreError(f"{path}: keeps being left mid-write by a killed writer; run the "
                     "command again when no other gisplan command is writing to it")


class Project:
    """One programme stored in one GeoPackage.

    Use :meth:`create` or :meth:`open` rather than the constructor.

    Parameters
    ----------
    path : str or os.PathLike
        The GeoPackage file. It must exist and be a programme (have the ``programme``
        metadata table).

    Attributes
    ----------
    path : pathlib.Path
        The GeoPackage file.

    Raises
    ------
    StoreError
        If *path* does not exist, is not a GeoPackage, is a GeoPackage that is not a
        programme, or was left mid-write in a place where it cannot be recovered.
    """

    def __new__(cls, path: str | os.PathLike[str]) -> Project:
        """Return a PostGIS programme for a ``postgresql://`` URL, else a GeoPackage one."""
        if cls is Project and is_url(path):
            from gisplan.store._postgis import PostGISProject

            return super().__new__(PostGISProject)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        check_geopackage(self.path)
        if META_TABLE not in self._contents():
            raise not_a_programme(self.path)

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
        if is_url(path):
            from gisplan.store._postgis import create

            return create(str(path), meta=meta, layers=layers, overwrite=overwrite)
        path = Path(path)
        if not path.parent.is_dir():
            raise StoreError(f"{path}: folder {path.parent} does not exist; create it first")
        meta = json_ready(meta)
        prepared = [prepare(n, f, description=None, meta=meta) for n, f in (layers or {}).items()]
        with flock(lock_path(path), exclusive=True):
            if path.exists() and not overwrite:
                raise StoreError(
                    f"{path}: file exists; open it with Project.open(), "
                    "or pass overwrite=True to replace it"
                )
            recover(path)  # never leave an old hot journal beside a new file
            create_file(path, meta, prepared)
        return cls(path)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Project:
        """Open an existing programme store: a GeoPackage path or a ``postgresql://`` URL.

        Examples
        --------
        >>> Project.open("layers/guyuan_2022.gpkg").meta["name"]
        '固原市区2022年老旧小区改造项目'

        Raises
        ------
        StoreError
            If *path* does not exist, is not a GeoPackage or not a programme.
        """
        return cls(path)

    def __repr__(self) -> str:
        return f"Project({str(self.path)!r})"

    def lock(self) -> Any:
        """Return a context manager holding the exclusive inter-process lock.

        Use it around a read-modify-write so that no other process writes in between;
        :meth:`write`, :meth:`append` and friends may be called inside (the lock is
        re-entrant within one thread).

        Examples
        --------
        >>> import shutil, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.gpkg"
        >>> p = Project.open(shutil.copyfile("layers/guyuan_2022.gpkg", path))
        >>> with p.lock():
        ...     c = p.read("compounds")
        ...     p.write("compounds", c[c.households > 100])
        >>> bool((p.read("compounds").households > 100).all())
        True
        """
        return flock(lock_path(self.path), exclusive=True)

    # ------------------------------------------------------------ reading

    def _contents(self) -> dict[str, str]:
        """Layer name → data type, from ``gpkg_contents``.

        Kept while the file is unchanged (:mod:`gisplan.store._cache`); a run asks for
        it before every read, each a connection and a lock otherwise.
        """
        cached = _CONTENTS.get(self.path, "contents")
        if cached is not None:
            return dict(cached)
        identity = file_identity(self.path)
        with _reading(self.path), closing(connect_ro(self.path)) as con:
            try:
                rows = con.execute(
                    "SELECT table_name, data_type FROM gpkg_contents ORDER BY rowid"
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: cannot be read as a GeoPackage ({exc})") from exc
        contents = {str(n): str(k) for n, k in rows if not str(n).startswith(STAGING_PREFIX)}
        _CONTENTS.put(self.path, "contents", contents, identity)
        return dict(contents)

    def layers(self) -> list[str]:
        """Return the names of the layers and tables present (metadata excluded)."""
        return [n for n in self._contents() if n != META_TABLE]

    def has(self, name: str) -> bool:
        """Return True when layer or table *name* is present."""
        return name in self._contents()

    def description(self, name: str) -> str:
        """Return the description of layer *name* (``gpkg_contents.description``)."""
        with _reading(self.path), closing(connect_ro(self.path)) as con:
            row = con.execute(
                "SELECT description FROM gpkg_contents WHERE table_name = ?", (name,)
            ).fetchone()
        if row is None or name.startswith(STAGING_PREFIX):
            raise self._missing(name)
        return str(row[0] or "")

    def _missing(self, name: str) -> StoreError:
        present = ", ".join(self.layers()) or "none"
        return StoreError(
            f"{self.path}: no layer '{name}' (layers present: {present}); "
            f"write it first, e.g. `gisplan import {self.path} FILE --layer {name}`"
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
            Read only these attribute columns (geometry is always read); None reads all.
        bbox : tuple of float, optional
            ``(minx, miny, maxx, maxy)`` in the layer's CRS: read only the features
            whose bounding box intersects it (spatial layers only; GDAL uses the
            layer's R-tree); None reads all features.

        Returns
        -------
        geopandas.GeoDataFrame or pandas.DataFrame
            A GeoDataFrame for a spatial layer, a DataFrame for a table, with the
            canonical dtypes of :mod:`gisplan.schema` (``Int64``, ``float64``,
            ``boolean``, text as ``object``, dates as :class:`datetime.date`);
            columns the schema does not know are kept.

        Notes
        -----
        The last store's layers are kept in this process while its file is unchanged
        (:mod:`gisplan.store._cache`): reading a layer again gives a copy of what was
        read, without going to the file.
        """
        import pyogrio

        key = (name, None if columns is None else tuple(columns), bbox)
        kept = _FRAMES.get(self.path, key)
        if kept is not None:
            return kept.copy()
        identity = file_identity(self.path)
        with _reading(self.path):
            contents = self._contents()
            if name not in contents:
                raise self._missing(name)
            if bbox is not None and contents[name] != "features":
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
        frame = canonical(frame, name, file=str(self.path))
        _FRAMES.put(self.path, key, frame, identity)
        return frame.copy()

    # ------------------------------------------------------------ metadata

    @property
    def meta(self) -> dict[str, Any]:
        """Programme metadata, read from the ``programme`` table (key → JSON value)."""
        import copy

        kept = _CONTENTS.get(self.path, "meta")
        if kept is None:
            identity = file_identity(self.path)
            with _reading(self.path), closing(connect_ro(self.path)) as con:
                kept = read_meta(con, path=self.path)
            _CONTENTS.put(self.path, "meta", kept, identity)
        return copy.deepcopy(kept)

    def set_meta(self, **updates: Any) -> None:
        """Update programme metadata keys (other keys are kept), atomically.

        Examples
        --------
        >>> import shutil, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.gpkg"
        >>> p = Project.open(shutil.copyfile("layers/guyuan_2022.gpkg", path))
        >>> p.set_meta(bundle_level="street")
        >>> p.meta["bundle_level"]
        'street'
        """
        self.write_many({}, meta_updates=updates)

    # ------------------------------------------------------------ writing

    def write(self, name: str, frame: pd.DataFrame, *, description: str | None = None) -> None:
        """Replace layer *name* with *frame*, atomically.

        The cost is that of writing *frame* (and of freeing the old layer), whatever
        the size of the rest of the store.

        Parameters
        ----------
        name : str
            Layer or table name.
        frame : DataFrame or GeoDataFrame
            GeoDataFrames become spatial layers in their own CRS; DataFrames tables.
        description : str, optional
            Layer description (``gpkg_contents.description``); None gives the layer's
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
            Metadata keys to set; None sets none.
        descriptions : mapping of str to str, optional
            Layer descriptions, by layer name; None (or a missing name) gives the
            default description.
        """
        if META_TABLE in frames:
            raise StoreError(f"'{META_TABLE}' is the metadata table; use set_meta()")
        updates = json_ready(meta_updates or {})
        with self.lock():
            recover(self.path)
            before = file_identity(self.path)  # under the lock: no other writer meanwhile
            meta = {**self.meta, **updates}
            prepared = [prepare(name, frame, description=(descriptions or {}).get(name),
                                meta=meta) for name, frame in frames.items()]
            replace_layers(self.path, prepared, updates)
            # the layers not written stay as they were read: a run's next step finds them
            _FRAMES.carry(self.path, before,  # keys are (layer, columns, bbox)
                          lambda key: isinstance(key, tuple) and key[0] in frames)
            _CONTENTS.carry(self.path, before,
                            lambda key: key == "contents" or (key == "meta" and bool(updates)))

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
        with self.lock():
            contents = self._contents()
            if table not in contents:
                self.write(table, number_ids(frame, schema_for(table), start=1))
            elif contents[table] == "features":
                self._append_features(table, frame)
            elif len(frame):
                recover(self.path)
                append_rows(self.path, table, frame)
        return len(frame)

    def _append_features(self, table: str, frame: pd.DataFrame) -> None:
        import geopandas as gpd

        old = self.read(table)
        if getattr(frame, "crs", None) != old.crs:
            raise StoreError(
                f"{self.path}: cannot append to layer '{table}' in {old.crs} "
                f"rows in {getattr(frame, 'crs', None)}; reproject them first"
            )
        both = pd.concat([old, frame], ignore_index=True)
        self.write(table, gpd.GeoDataFrame(both, geometry=old.geometry.name, crs=old.crs))
