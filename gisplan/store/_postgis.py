"""The PostGIS programme store: one schema per programme, the API of the GeoPackage store.

``Project.open("postgresql://USER@HOST/DATABASE?schema=NAME")`` returns a
:class:`PostGISProject`: the same methods and the same results as a GeoPackage
programme (``read``, ``write``, ``write_many``, ``append``, ``meta``, ``set_meta``,
``layers``, ``description``, ``lock``). It is the store for a city office whose
counties all write into one server database.

The schema holds the layers (:mod:`gisplan.store._pg_tables`: typed geometry columns with
SRID and GiST indexes, readable by QGIS), the metadata table ``programme`` (key → JSON
value), ``gisplan_layers`` (layer order and descriptions; descriptions are also table
comments, which QGIS shows), ``gisplan_info`` (the store's schema version) and
``gisplan_roles`` (accounts, :mod:`gisplan.store._pg_roles`).

Writes are transactions: a replaced layer is dropped and re-created in one
PostgreSQL transaction with every other layer and metadata key of the same
:meth:`~PostGISProject.write_many`, so a failure (or a killed writer) leaves the
programme as it was, and readers see the old or the new layers, never a mix. Appends to
``progress_log`` insert ``ON CONFLICT (row_hash) DO NOTHING``: ``row_hash`` is a UNIQUE
constraint, so a report imported twice, even by two county offices at the same moment,
is stored once. :meth:`~PostGISProject.lock` is a PostgreSQL advisory lock, held by every
writer, for read-modify-write.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from gisplan._errors import StoreError
from gisplan.store import Project
from gisplan.store import _pg_roles as roles
from gisplan.store import _pg_tables as tables
from gisplan.store._dtypes import canonical, schema_for
from gisplan.store._meta import META_TABLE, default_description, json_ready
from gisplan.store._pg import connect, parse_url, redact, refused, user_of
from gisplan.store._write import number_ids

__all__ = ["SCHEMA_VERSION", "PostGISProject", "create", "open_url"]

#: version of the table layout this gisplan writes; a store with a larger one is refused
SCHEMA_VERSION = 1
INFO_TABLE = "gisplan_info"
LAYERS_TABLE = "gisplan_layers"
_INTERNAL = (INFO_TABLE, LAYERS_TABLE, roles.ROLES_TABLE, META_TABLE)
_locks = threading.local()


class _Conn:
    """Where a PostGIS programme lives: libpq URL, schema, and the URL safe to print."""

    def __init__(self, url: str) -> None:
        self.libpq, self.schema = parse_url(url)
        self.shown = redact(url)
        self.user = user_of(self.libpq)

    @contextmanager
    def tx(self, what: str = "change this programme") -> Iterator[Any]:
        """One transaction: yield a cursor; commit on success, roll back on any failure."""
        import psycopg

        con = connect(self.libpq, shown=self.shown)
        try:
            with con.transaction(), con.cursor() as cur:
                yield cur
        except psycopg.errors.InsufficientPrivilege as exc:
            raise refused(exc, self.shown, self.user, what) from None
        except psycopg.errors.UndefinedFile as exc:
            raise _no_postgis(self.shown) from exc
        finally:
            con.close()


def _no_postgis(shown: str) -> StoreError:
    return StoreError(
        f"{shown}: the database has no PostGIS extension 未安装PostGIS; install it on the "
        "server (Debian: apt-get install postgresql-15-postgis-3) and, as the database "
        "owner, run: CREATE EXTENSION postgis;")


def _check_postgis(cur: Any, shown: str) -> None:
    cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
    if cur.fetchone() is None:
        raise _no_postgis(shown)


def _check_version(cur: Any, c: _Conn) -> None:
    from psycopg import sql

    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (c.schema,))
    if cur.fetchone() is None:
        raise StoreError(
            f"{c.shown}: the database has no programme '{c.schema}' 项目不存在; create it "
            f"from a GeoPackage: `gisplan store copy PROGRAMME.gpkg {c.shown}`")
    cur.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s",
                (c.schema, INFO_TABLE))
    if cur.fetchone() is None:
        raise StoreError(f"{c.shown}: schema '{c.schema}' is not a gisplan programme (it has "
                         f"no {INFO_TABLE} table); choose another schema name")
    cur.execute(sql.SQL("SELECT value FROM {} WHERE key = 'schema_version'").format(
        sql.Identifier(c.schema, INFO_TABLE)))
    row = cur.fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{c.shown}: written by a newer gisplan (store version {version}; this gisplan "
            f"reads up to {SCHEMA_VERSION}) 请升级gisplan; upgrade gisplan "
            "(pip install --upgrade gisplan) and run the command again")


def _make_schema(cur: Any, c: _Conn, meta: Mapping[str, Any], overwrite: bool) -> None:
    from psycopg import sql

    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (c.schema,))
    if cur.fetchone() is not None:
        if not overwrite:
            raise StoreError(f"{c.shown}: programme '{c.schema}' exists; open it with "
                             "Project.open(), or pass overwrite=True to replace it")
        cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(c.schema)))
    s = c.schema
    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(s)))
    cur.execute(sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value text NOT NULL)").format(
        sql.Identifier(s, INFO_TABLE)))
    cur.execute(sql.SQL("INSERT INTO {} VALUES ('schema_version', %s)").format(
        sql.Identifier(s, INFO_TABLE)), (str(SCHEMA_VERSION),))
    cur.execute(sql.SQL("CREATE TABLE {} (position serial, name text PRIMARY KEY, "
                        "kind text NOT NULL, description text NOT NULL DEFAULT '')").format(
        sql.Identifier(s, LAYERS_TABLE)))
    cur.execute(sql.SQL("CREATE TABLE {} (role text PRIMARY KEY, kind text NOT NULL, "
                        "county text)").format(sql.Identifier(s, roles.ROLES_TABLE)))
    cur.execute(sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value text NOT NULL)").format(
        sql.Identifier(s, META_TABLE)))
    _set_meta_rows(cur, s, meta)


def _set_meta_rows(cur: Any, schema: str, updates: Mapping[str, Any]) -> None:
    from psycopg import sql

    stmt = sql.SQL("INSERT INTO {} (key, value) VALUES (%s, %s) ON CONFLICT (key) "
                   "DO UPDATE SET value = EXCLUDED.value").format(
        sql.Identifier(schema, META_TABLE))
    for key, value in updates.items():
        cur.execute(stmt, (key, json.dumps(value, ensure_ascii=False)))


def _valid_name(name: str) -> None:
    if not isinstance(name, str) or not name or "\x00" in name or len(name.encode()) > 60:
        raise StoreError(f"layer name {name!r}: use 1 to 60 bytes of text")
    if name in _INTERNAL:
        raise StoreError(f"'{name}' is a table of the store itself; choose another layer name")


def _replace(cur: Any, schema: str, name: str, frame: pd.DataFrame, description: str) -> None:
    """Drop layer *name* and write *frame* in its place (inside the caller's transaction)."""
    import geopandas as gpd
    from psycopg import sql

    _valid_name(name)
    stored = tables.storage_frame(frame, name)
    spatial = isinstance(stored, gpd.GeoDataFrame) and stored._geometry_column_name in stored
    types = tables.column_types(stored, name)
    geom_spec = tables.geometry_spec(stored, name) if spatial else None
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(schema, name)))
    tables.create_table(cur, schema, name, types,
                        (geom_spec[1], geom_spec[2]) if geom_spec else None)
    tables.copy_rows(cur, schema, name, stored, types,
                     (geom_spec[0], geom_spec[2]) if geom_spec else None)
    if geom_spec:
        tables.index_geometry(cur, schema, name)
    if name == "progress_log" and "row_hash" in types:
        _unique_hash(cur, schema, name)
    cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
        sql.Identifier(schema, name), sql.Literal(description)))
    cur.execute(sql.SQL("INSERT INTO {} (name, kind, description) VALUES (%s, %s, %s) "
                        "ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, "
                        "description = EXCLUDED.description").format(
        sql.Identifier(schema, LAYERS_TABLE)),
        (name, "features" if spatial else "attributes", description))


def _unique_hash(cur: Any, schema: str, table: str) -> None:
    import psycopg
    from psycopg import sql

    try:
        with cur.connection.transaction():
            cur.execute(sql.SQL("ALTER TABLE {} ADD UNIQUE (row_hash)").format(
                sql.Identifier(schema, table)))
    except psycopg.errors.UniqueViolation:
        raise StoreError(f"'{table}': the same row_hash appears twice; a progress log holds "
                         "each reported change once (import reports with `gisplan progress "
                         "import`, which skips repeated rows)") from None


class PostGISProject(Project):
    """One programme stored in one schema of a PostGIS database.

    Use ``Project.open(url)`` or ``Project.create(url, ...)`` (they dispatch here).

    Attributes
    ----------
    path : str
        The URL without password (what messages show).
    schema : str
        The programme's schema.
    """

    def __init__(self, url: str | os.PathLike[str]) -> None:
        self._c = _Conn(os.fspath(url))
        self.path = self._c.shown  # type: ignore[assignment]
        self.schema = self._c.schema
        with self._c.tx("read this programme") as cur:
            _check_postgis(cur, self._c.shown)
            _check_version(cur, self._c)

    def __repr__(self) -> str:
        return f"Project({self.path!r})"

    # ------------------------------------------------------------ locking

    def lock(self) -> Any:
        """Return a context manager holding this programme's advisory lock.

        Re-entrant within one thread; other gisplan writers of the programme wait.
        """
        return self._advisory_lock()

    @contextmanager
    def _advisory_lock(self) -> Iterator[None]:
        key = (self._c.libpq, self.schema)
        held: dict[Any, list[Any]] = getattr(_locks, "held", None) or {}
        _locks.held = held
        if key in held:
            held[key][1] += 1
            try:
                yield
            finally:
                held[key][1] -= 1
            return
        con = connect(self._c.libpq, shown=self._c.shown, autocommit=True)
        try:
            con.execute("SELECT pg_advisory_lock(hashtext(%s))", ("gisplan:" + self.schema,))
            held[key] = [con, 1]
            try:
                yield
            finally:
                del held[key]
        finally:
            con.close()  # closing the session releases its advisory locks

    # ------------------------------------------------------------ reading

    def _kinds(self, cur: Any) -> dict[str, str]:
        from psycopg import sql

        cur.execute(sql.SQL("SELECT name, kind FROM {} ORDER BY position").format(
            sql.Identifier(self.schema, LAYERS_TABLE)))
        return {str(n): str(k) for n, k in cur.fetchall()}

    def layers(self) -> list[str]:
        """Return the names of the layers and tables present (metadata excluded)."""
        with self._c.tx("read this programme") as cur:
            return list(self._kinds(cur))

    def has(self, name: str) -> bool:
        """Return True when layer or table *name* is present."""
        return name in self.layers()

    def description(self, name: str) -> str:
        """Return the description of layer *name*."""
        from psycopg import sql

        with self._c.tx("read this programme") as cur:
            cur.execute(sql.SQL("SELECT description FROM {} WHERE name = %s").format(
                sql.Identifier(self.schema, LAYERS_TABLE)), (name,))
            row = cur.fetchone()
        if row is None:
            raise self._missing(name)
        return str(row[0] or "")

    def _missing(self, name: str) -> StoreError:
        present = ", ".join(self.layers()) or "none"
        return StoreError(
            f"{self.path}: no layer '{name}' (layers present: {present}); "
            f"write it first, e.g. `gisplan import {self.path} FILE --layer {name}`")

    def read(self, name: str, *, columns: Sequence[str] | None = None,
             bbox: tuple[float, float, float, float] | None = None) -> pd.DataFrame:
        """Read one layer or table, with the dtypes of the GeoPackage store."""
        with self._c.tx("read this programme") as cur:
            kind = self._kinds(cur).get(name)
            if kind is None:
                raise self._missing(name)
            if bbox is not None and kind != "features":
                raise StoreError(f"{self.path}: '{name}' is a table; bbox applies to layers")
            frame = self._select(cur, name, kind == "features", columns, bbox)
        return canonical(frame, name, file=self._c.shown)

    def _select(self, cur: Any, name: str, spatial: bool, columns: Sequence[str] | None,
                bbox: tuple[float, float, float, float] | None) -> pd.DataFrame:
        import geopandas as gpd
        from psycopg import sql

        cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE "
                    "table_schema = %s AND table_name = %s AND column_name NOT IN (%s, %s) "
                    "ORDER BY ordinal_position", (self.schema, name, tables.FID, tables.GEOM))
        present = dict(cur.fetchall())
        if columns is not None:
            missing = [c for c in columns if c not in present]
            if missing:
                raise StoreError(f"{self.path}: layer '{name}' has no column(s) "
                                 f"{', '.join(missing)}")
            present = {c: present[c] for c in columns}
        fields: list[sql.Composable] = [sql.Identifier(c) for c in present]
        where: sql.Composable = sql.SQL("")
        params: tuple[float, ...] = ()
        srid = 0
        if spatial:
            cur.execute("SELECT srid FROM geometry_columns WHERE f_table_schema = %s AND "
                        "f_table_name = %s", (self.schema, name))
            srid = int((cur.fetchone() or [0])[0])
            fields.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(tables.GEOM)))
            if bbox is not None:
                where = sql.SQL(" WHERE {} && ST_MakeEnvelope(%s, %s, %s, %s, %s)").format(
                    sql.Identifier(tables.GEOM))
                params = (*map(float, bbox), srid)
        cur.execute(sql.SQL("SELECT {} FROM {}{} ORDER BY {}").format(
            sql.SQL(", ").join(fields) if fields else sql.SQL("NULL"),
            sql.Identifier(self.schema, name), where, sql.Identifier(tables.FID)), params)
        frame = tables.frame_from_rows(cur.fetchall(), list(present), list(present.values()),
                                       spatial=spatial, name=name)
        if not spatial:
            return frame
        return gpd.GeoDataFrame(frame, geometry="geometry",
                                crs=f"EPSG:{srid}" if srid else None)

    # ------------------------------------------------------------ metadata

    @property
    def meta(self) -> dict[str, Any]:
        """Programme metadata, read from the ``programme`` table (key → JSON value)."""
        from psycopg import sql

        with self._c.tx("read this programme") as cur:
            cur.execute(sql.SQL("SELECT key, value FROM {}").format(
                sql.Identifier(self.schema, META_TABLE)))
            return {str(k): json.loads(v) for k, v in cur.fetchall()}

    def set_meta(self, **updates: Any) -> None:
        """Update programme metadata keys (other keys are kept), atomically."""
        self.write_many({}, meta_updates=updates)

    # ------------------------------------------------------------ writing

    def write(self, name: str, frame: pd.DataFrame, *, description: str | None = None) -> None:
        """Replace layer *name* with *frame*, atomically."""
        self.write_many({name: frame}, descriptions={name: description} if description else None)

    def write_many(self, frames: Mapping[str, pd.DataFrame],
                   meta_updates: Mapping[str, Any] | None = None, *,
                   descriptions: Mapping[str, str] | None = None) -> None:
        """Replace several layers (and update metadata) in one transaction."""
        if META_TABLE in frames:
            raise StoreError(f"'{META_TABLE}' is the metadata table; use set_meta()")
        updates = json_ready(meta_updates or {})
        for name, frame in frames.items():
            if not isinstance(frame, pd.DataFrame):
                raise StoreError(f"layer '{name}': expected a (Geo)DataFrame, "
                                 f"got {type(frame).__name__}")
        with self.lock():
            meta = {**self.meta, **updates}
            with self._c.tx("replace layers of this programme") as cur:
                roles.become_owner(cur, self.schema)
                for name, frame in frames.items():
                    desc = (descriptions or {}).get(name) or default_description(name, meta)
                    _replace(cur, self.schema, name, frame, desc)
                _set_meta_rows(cur, self.schema, updates)
                if frames:
                    roles.apply_security(cur, self.schema)

    def append(self, table: str, frame: pd.DataFrame) -> int:
        """Append the rows of *frame* to *table* in one transaction; return rows added.

        Rows whose ``row_hash`` is already in ``progress_log`` are skipped by the
        database (UNIQUE constraint, ``ON CONFLICT DO NOTHING``) and not counted.
        """
        if table == META_TABLE:
            raise StoreError(f"'{META_TABLE}' is the metadata table; use set_meta()")
        with self.lock():
            contents = dict.fromkeys(self.layers())
            if table not in contents:
                self.write(table, number_ids(frame, schema_for(table), start=1))
                return len(frame)
            if self._is_spatial(table):
                return self._append_rewrite(table, frame)
            if not len(frame):
                return 0
            with self._c.tx(f"add rows to '{table}'") as cur:
                return self._insert(cur, table, frame)

    def _is_spatial(self, table: str) -> bool:
        with self._c.tx("read this programme") as cur:
            return self._kinds(cur).get(table) == "features"

    def _insert(self, cur: Any, table: str, frame: pd.DataFrame) -> int:
        from psycopg import sql

        sch = schema_for(table)
        stored = tables.storage_frame(pd.DataFrame(frame), table)
        cur.execute("SELECT column_name FROM information_schema.columns WHERE "
                    "table_schema = %s AND table_name = %s", (self.schema, table))
        present = {r[0] for r in cur.fetchall()}
        if sch is not None and sch.id in present and (
                sch.id not in stored.columns or stored[sch.id].isna().all()):
            cur.execute(sql.SQL("SELECT COALESCE(MAX({}), 0) FROM {}").format(
                sql.Identifier(sch.id), sql.Identifier(self.schema, table)))
            stored = number_ids(stored, sch, start=int(cur.fetchone()[0]) + 1)
        types = tables.column_types(stored, table)
        new_cols = [c for c in types if c not in present]
        if new_cols:
            roles.become_owner(cur, self.schema)
            for col in new_cols:
                cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    sql.Identifier(self.schema, table), sql.Identifier(col),
                    sql.SQL(types[col])))
            cur.execute("RESET ROLE")
        return self._insert_rows(cur, table, stored, types)

    def _insert_rows(self, cur: Any, table: str, stored: pd.DataFrame,
                     types: dict[str, str]) -> int:
        from psycopg import sql

        cur.execute(sql.SQL("CREATE TEMP TABLE gisplan_incoming ON COMMIT DROP AS "
                            "SELECT {} FROM {} LIMIT 0").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in types),
            sql.Identifier(self.schema, table)))
        tables.copy_rows(cur, "pg_temp", "gisplan_incoming", stored, types, None)
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in types)
        conflict = sql.SQL(" ON CONFLICT (row_hash) DO NOTHING") if (
            table == "progress_log" and "row_hash" in types) else sql.SQL("")
        cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM pg_temp.gisplan_incoming{}")
                    .format(sql.Identifier(self.schema, table), cols, cols, conflict))
        return int(cur.rowcount)

    def _append_rewrite(self, table: str, frame: pd.DataFrame) -> int:
        import geopandas as gpd

        old = self.read(table)
        if getattr(frame, "crs", None) != old.crs:
            raise StoreError(
                f"{self.path}: cannot append to layer '{table}' in {old.crs} "
                f"rows in {getattr(frame, 'crs', None)}; reproject them first")
        both = pd.concat([old, frame], ignore_index=True)
        self.write(table, gpd.GeoDataFrame(both, geometry=old.geometry.name, crs=old.crs))
        return len(frame)


def open_url(url: str) -> PostGISProject:
    """Open the PostGIS programme at *url*."""
    return PostGISProject(url)


def create(url: str, *, meta: Mapping[str, Any], layers: Mapping[str, pd.DataFrame] | None,
           overwrite: bool) -> PostGISProject:
    """Create the programme at *url* (its schema, metadata and layers) in one transaction."""
    import psycopg

    c = _Conn(url)
    meta = json_ready(meta)
    with c.tx("create a programme in this database") as cur:
        try:
            with cur.connection.transaction():
                cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFile,
                psycopg.errors.FeatureNotSupported):
            raise _no_postgis(c.shown) from None
        _make_schema(cur, c, meta, overwrite)
        for name, frame in (layers or {}).items():
            if name == META_TABLE:
                raise StoreError(f"'{META_TABLE}' is the metadata table; use set_meta()")
            _replace(cur, c.schema, name, frame, default_description(name, meta))
    return PostGISProject(url)


def grant_account(url: str, login: str, *, kind: roles.RoleKind, county: str | None,
                  password: str | None) -> None:
    """Create or update account *login* of *kind* for the programme at *url*.

    See :mod:`gisplan.store._pg_roles`. Run as an administrator (``CREATEROLE``).
    """
    p = PostGISProject(url)
    with p._c.tx("create accounts (needs an administrator with CREATEROLE)") as cur:
        roles.grant(cur, cur.connection, p.schema, login=login, kind=kind, county=county,
                    password=password)
