"""GeoPackage tables in place: connections, staging tables, and the one-transaction swap.

How a layer is replaced (the design, and why)
---------------------------------------------
A write costs what changed, not the size of the store. GDAL (through pyogrio) writes
the new layer into a *staging table* of the same file (``gisplan_staging_<hex>``), with
its ``gpkg_contents`` / ``gpkg_geometry_columns`` rows, its R-tree spatial index and
the index triggers, exactly as it writes any GeoPackage layer. Then ONE SQLite
transaction (:func:`swap_in`) drops the old table (its R-tree, triggers and metadata
rows), renames the staging table and its R-tree to the layer's name and re-creates the
triggers under their standard names (``rtree_<layer>_<geom>_insert`` ...). The swap
touches metadata and frees the old table's pages; it does not copy anything.

Why GDAL writes the rows and not our own SQL: GDAL is the reference GeoPackage writer
(geometry blobs, envelopes, type names, date formats, the R-tree built in bulk); the
swap needs only names, which are plain SQL. Writing GeoPackage blobs ourselves would
duplicate GDAL and drift from it.

Atomicity. The staging write and the swap are SQLite transactions in the store's
rollback journal (``<store>-journal``). A writer killed while GDAL writes leaves at
most a staging table, which readers ignore and the next writer drops; a writer killed
during the swap leaves a hot journal, which SQLite rolls back the next time the file
is opened read-write (see :mod:`gisplan.store._recovery`). Either way every layer
reads as before the write.

Journal mode: rollback journal (``DELETE``), not WAL. WAL needs shared memory that
network file systems do not provide (a city office keeps programmes on shared drives),
and a ``-wal`` file holds committed data that is lost when a user copies only the
``.gpkg``. With ``DELETE`` the ``.gpkg`` is complete whenever no write is running.

Examples
--------
>>> import pathlib
>>> from gisplan.store._gpkg import connect_ro, table_names
>>> from contextlib import closing
>>> with closing(connect_ro(pathlib.Path("layers/guyuan_2022.gpkg"))) as con:
...     "compounds" in table_names(con)
True
"""

from __future__ import annotations

import os
import sqlite3
import struct
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

import shapely

from gisplan._errors import StoreError
from gisplan.store._dtypes import now_iso, quote

__all__ = [
    "STAGING_PREFIX",
    "check_geopackage",
    "connect_ro",
    "connect_rw",
    "drop_layer",
    "drop_staging_leftovers",
    "new_staging_name",
    "swap_in",
    "table_names",
    "transaction",
    "valid_layer_name",
]

#: prefix of the tables a writer fills before it swaps them in (never a layer name)
STAGING_PREFIX = "gisplan_staging_"
BUSY_TIMEOUT_S = 60.0

_SQLITE_MAGIC = b"SQLite format 3\x00"
_GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"


# ---------------------------------------------------------------- connections


def connect_ro(path: Path) -> sqlite3.Connection:
    """Open *path* read-only (call :func:`~gisplan.store._recovery.recover` first)."""
    return sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)


def connect_rw(path: Path) -> sqlite3.Connection:
    """Open *path* read-write in autocommit mode, ready for :func:`transaction`.

    The connection knows the ``ST_*`` functions that the GeoPackage R-tree triggers
    call, uses a rollback journal and syncs fully at commit.
    """
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    _register_st_functions(con)
    con.execute("PRAGMA synchronous = FULL")
    con.execute("PRAGMA legacy_alter_table = ON")  # rename tables, leave trigger text alone
    with suppress(sqlite3.Error):  # a store left in WAL by another tool goes back to DELETE
        con.execute("PRAGMA journal_mode = DELETE")
    return con


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """Run the body in one ``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on any error)."""
    con = connect_rw(path)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
    finally:
        con.close()


def _envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """``(minx, maxx, miny, maxy)`` of a GeoPackage geometry blob; None if empty/null."""
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        return None
    flags = blob[3]
    if flags & 0b10000:  # empty geometry
        return None
    order = "<" if flags & 1 else ">"
    kind = (flags >> 1) & 0b111
    if kind:
        minx, maxx, miny, maxy = struct.unpack_from(order + "4d", blob, 8)
        return minx, maxx, miny, maxy
    geom = shapely.from_wkb(bytes(blob[8:]))
    if geom is None or geom.is_empty:
        return None
    x0, y0, x1, y1 = geom.bounds
    return x0, x1, y0, y1


def _register_st_functions(con: sqlite3.Connection) -> None:
    """Register the spatial SQL functions that GeoPackage R-tree triggers call."""
    con.create_function("ST_IsEmpty", 1, lambda b: int(_envelope(b) is None),
                        deterministic=True)
    for i, fname in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(fname, 1, lambda b, i=i: (e[i] if (e := _envelope(b)) else None),
                            deterministic=True)


# ---------------------------------------------------------------- is it a GeoPackage


def check_geopackage(path: Path) -> None:
    """Raise :class:`StoreError` unless *path* is an existing GeoPackage file.

    Reads only the 100-byte SQLite header (and ``sqlite_master`` when the GeoPackage
    application id is missing), so it is safe before a hot journal is recovered.
    """
    if not path.exists():
        raise StoreError(
            f"{path}: no such file; check the path, or create the programme with "
            f"`gisplan import {path} FILE --layer compounds` (or `gisplan samples` / "
            "`gisplan synth`)"
        )
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a GeoPackage file (.gpkg)")
    with path.open("rb") as fh:
        head = fh.read(100)
    if not head.startswith(_SQLITE_MAGIC):
        raise StoreError(
            f"{path}: not a GeoPackage (not an SQLite database); a programme store is a "
            f"'.gpkg' written by gisplan: read other formats with "
            f"`gisplan import PROGRAMME.gpkg {path} --layer compounds`"
        )
    if int.from_bytes(head[68:72], "big") == _GPKG_APPLICATION_ID:
        return
    try:
        with closing(connect_ro(path)) as con:
            ok = "gpkg_contents" in table_names(con)
    except sqlite3.DatabaseError:
        ok = False
    if not ok:
        raise StoreError(
            f"{path}: not a GeoPackage (an SQLite database without gpkg_contents); "
            f"import its data into a programme with "
            f"`gisplan import PROGRAMME.gpkg FILE --layer compounds`"
        )


def table_names(con: sqlite3.Connection) -> set[str]:
    """Names of all tables (virtual ones included) in the database of *con*."""
    return {str(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def valid_layer_name(name: str) -> str:
    """Return *name* when it can be a layer of a programme; raise :class:`StoreError`."""
    if (not isinstance(name, str) or not name.strip() or any(c in name for c in "\"'\x00")
            or name.lower().startswith((STAGING_PREFIX, "gpkg_", "rtree_", "sqlite_"))):
        raise StoreError(
            f"{name!r} cannot be a layer name: use letters, digits and '_' "
            "(not starting with gpkg_, rtree_, sqlite_ or gisplan_staging_)"
        )
    return name


def new_staging_name() -> str:
    """Return a fresh staging table name (:data:`STAGING_PREFIX` + 12 hex digits)."""
    return f"{STAGING_PREFIX}{os.getpid() % 10_000:04d}{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------- the swap


def _metadata_tables(con: sqlite3.Connection) -> list[str]:
    """GeoPackage (and GDAL) metadata tables that name layers in a ``table_name`` column."""
    out = []
    for t in sorted(table_names(con)):
        if not t.startswith("gpkg_") or t == "gpkg_spatial_ref_sys":
            continue
        cols = {str(r[1]) for r in con.execute(f"PRAGMA table_info({quote(t)})")}
        if "table_name" in cols:
            out.append(t)
    return out


def _geometry_columns(con: sqlite3.Connection, table: str) -> list[str]:
    if "gpkg_geometry_columns" not in table_names(con):
        return []
    rows = con.execute(
        "SELECT column_name FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)",
        (table,),
    )
    return [str(r[0]) for r in rows]


def drop_layer(con: sqlite3.Connection, name: str) -> None:
    """Drop layer *name*: its table, R-tree, triggers and metadata rows (inside a transaction)."""
    present = {t.lower() for t in table_names(con)}
    for col in _geometry_columns(con, name):
        rtree = f"rtree_{name}_{col}"
        if rtree.lower() in present:
            con.execute(f"DROP TABLE {quote(rtree)}")
    if name.lower() in present:
        con.execute(f"DROP TABLE {quote(name)}")  # its triggers go with it
    for meta in _metadata_tables(con):
        con.execute(f"DELETE FROM {quote(meta)} WHERE lower(table_name) = lower(?)", (name,))
    if "sqlite_sequence" in present:
        con.execute("DELETE FROM sqlite_sequence WHERE lower(name) = lower(?)", (name,))


def drop_staging_leftovers(con: sqlite3.Connection) -> list[str]:
    """Drop staging tables left by killed writers (inside a transaction); return their names."""
    names = {t for t in table_names(con) if t.startswith(STAGING_PREFIX)}
    if "gpkg_contents" in table_names(con):
        names |= {str(r[0]) for r in con.execute("SELECT table_name FROM gpkg_contents")
                  if str(r[0]).startswith(STAGING_PREFIX)}
    for name in sorted(names):
        drop_layer(con, name)
    # an R-tree whose metadata row never got written
    for t in sorted(table_names(con)):
        if t.startswith("rtree_" + STAGING_PREFIX) and t in table_names(con):
            con.execute(f"DROP TABLE {quote(t)}")
    return sorted(names)


def swap_in(con: sqlite3.Connection, staging: str, name: str) -> None:
    """Make staging table *staging* the layer *name*, replacing any old one (in a transaction).

    Drops the old layer, renames the table and its R-tree, moves the metadata rows
    and re-creates the triggers with the layer's name in them.
    """
    drop_layer(con, name)
    triggers = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
        (staging,),
    ).fetchall()
    for trigger, _sql in triggers:
        con.execute(f"DROP TRIGGER {quote(str(trigger))}")
    columns = _geometry_columns(con, staging)
    con.execute(f"ALTER TABLE {quote(staging)} RENAME TO {quote(name)}")
    present = table_names(con)
    for col in columns:
        if f"rtree_{staging}_{col}" in present:
            con.execute(f"ALTER TABLE {quote(f'rtree_{staging}_{col}')} "
                        f"RENAME TO {quote(f'rtree_{name}_{col}')}")
    for meta in _metadata_tables(con):
        con.execute(f"UPDATE {quote(meta)} SET table_name = ? WHERE table_name = ?",
                    (name, staging))
    con.execute(
        "UPDATE gpkg_contents SET identifier = ?, last_change = ? WHERE table_name = ? "
        "AND (identifier IS NULL OR identifier = ?)",
        (name, now_iso(), name, staging),
    )
    for _trigger, sql in triggers:
        # the staging name is unique and quote-free, and so is *name* (valid_layer_name)
        con.execute(str(sql).replace(staging, name))
