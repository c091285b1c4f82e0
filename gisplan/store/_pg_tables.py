"""PostGIS tables of a programme: column types, COPY-in, reads back to canonical dtypes.

Each layer is one table of the programme's schema. A spatial layer has a geometry column
``geom`` typed with its geometry type and SRID (``geometry(MultiPolygon, 4326)``), a
GiST spatial index, and a primary key ``fid``: QGIS lists and opens it as it is. Rows go
in by ``COPY`` (geometry as hex EWKB); they come out with ``ST_AsBinary`` and
:func:`shapely.from_wkb`, then :func:`gisplan.store._dtypes.canonical` gives the same
dtypes as the GeoPackage store.

Every name is quoted by the driver (:class:`psycopg.sql.Identifier`) and every value is
a parameter or COPY data: no SQL is built from a user's text.

Examples
--------
>>> import pandas as pd
>>> from gisplan.store._pg_tables import column_types
>>> column_types(pd.DataFrame({"households": [1], "name": ["甲"], "x": [0.5]}), "compounds")
{'households': 'bigint', 'name': 'text', 'x': 'double precision'}
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from gisplan._errors import StoreError
from gisplan.store._dtypes import canonical, schema_for

__all__ = ["GEOM", "column_types", "copy_rows", "create_table", "frame_from_rows",
           "geometry_spec", "index_geometry", "storage_frame"]

#: name of the geometry column in PostGIS (the GeoDataFrame's is ``geometry`` on read)
GEOM = "geom"
FID = "fid"
_PG_TYPES = {"int": "bigint", "float": "double precision", "bool": "boolean",
             "date": "date", "datetime": "timestamp", "str": "text"}


def storage_frame(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return *frame* cast to canonical dtypes (a wrong value fails here, before writing)."""
    out = canonical(frame.copy(), name)
    geom = getattr(out, "_geometry_column_name", None)
    if geom is not None and geom in out.columns and GEOM in out.columns and geom != GEOM:
        raise StoreError(f"layer '{name}': an attribute column is named '{GEOM}', the name of "
                         "the geometry column in PostGIS; rename it")
    if FID in out.columns:
        raise StoreError(f"layer '{name}': column '{FID}' is reserved (the feature id); "
                         "rename it")
    return out


def column_types(frame: pd.DataFrame, name: str) -> dict[str, str]:
    """Return the PostgreSQL type of every attribute column of *frame* (layer *name*)."""
    sch = schema_for(name)
    kinds = {c.name: c.dtype for c in sch.columns} if sch else {}
    geom = getattr(frame, "_geometry_column_name", None)
    out = {}
    for col in frame.columns:
        if col == geom:
            continue
        kind = kinds.get(col)
        out[str(col)] = _PG_TYPES[kind] if kind else _inferred_type(frame[col])
    return out


def _inferred_type(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s.dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(s.dtype):
        return "double precision"
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "timestamp"
    values = s.dropna()
    if len(values) and values.map(lambda v: isinstance(v, dt.date)
                                  and not isinstance(v, dt.datetime)).all():
        return "date"
    return "text"


def geometry_spec(gdf: Any, name: str) -> tuple[Any, str, int]:
    """Return (geometries, PostGIS geometry type, SRID) for the GeoDataFrame *gdf*.

    Mixed single and multi parts (Polygon and MultiPolygon) are stored as multi, as the
    GeoPackage store does; a layer without geometries takes the schema's type.
    """
    import shapely

    geoms = np.asarray(gdf.geometry.array, dtype=object)
    present = [g for g in geoms if g is not None and not g.is_empty]
    kinds = {g.geom_type for g in present}
    if len(kinds) == 2 and any(k.startswith("Multi") for k in kinds) and \
            {k.removeprefix("Multi") for k in kinds} == {min(kinds, key=len)}:
        single = min(kinds, key=len)
        multi: Any = {"Polygon": shapely.MultiPolygon, "LineString": shapely.MultiLineString,
                 "Point": shapely.MultiPoint}[single]
        geoms = np.array([multi([g]) if g is not None and g.geom_type == single else g
                          for g in geoms], dtype=object)
        kinds = {"Multi" + single}
    if len(kinds) == 1:
        gtype = kinds.pop()
    elif not kinds:
        sch = schema_for(name)
        gtype = (sch.geometry[-1] if sch and sch.geometry else "Geometry")
    else:
        gtype = "Geometry"
    if present and any(g.has_z for g in present):
        gtype += "Z"
    return geoms, gtype, _srid(gdf.crs, name)


def _srid(crs: Any, name: str) -> int:
    if crs is None:
        return 0
    epsg = crs.to_epsg()
    if epsg is None:
        raise StoreError(f"layer '{name}': its CRS has no EPSG code, which PostGIS needs; "
                         "reproject it first (e.g. to EPSG:4326 or EPSG:4490)")
    return int(epsg)


def create_table(cur: Any, schema: str, name: str, types: dict[str, str],
                 geometry: tuple[str, int] | None) -> None:
    """Create table *name* (columns *types*, geometry ``(type, srid)``, key ``fid``)."""
    from psycopg import sql

    table = sql.Identifier(schema, name)
    cols = [sql.SQL("{} bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY").format(
        sql.Identifier(FID))]
    cols += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in types.items()]
    if geometry is not None:
        gtype, srid = geometry
        cols.append(sql.SQL("{} geometry({}, {})").format(
            sql.Identifier(GEOM), sql.SQL(gtype), sql.Literal(srid)))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(cols)))


def index_geometry(cur: Any, schema: str, name: str) -> None:
    """Build the GiST spatial index of layer *name* (after its rows are in: a bulk build)."""
    from psycopg import sql

    cur.execute(sql.SQL("CREATE INDEX ON {} USING GIST ({})").format(
        sql.Identifier(schema, name), sql.Identifier(GEOM)))


def _column_values(s: pd.Series, pg_type: str) -> list[Any]:
    if pg_type == "bigint":
        return [None if v is pd.NA or v is None else int(v)
                for v in s.astype("Int64").astype(object)]
    if pg_type == "double precision":
        return [None if math.isnan(v) else float(v) for v in s.astype("float64")]
    if pg_type == "boolean":
        return [None if v is pd.NA or v is None else bool(v)
                for v in s.astype("boolean").astype(object)]
    if pg_type in ("timestamp", "timestamptz"):
        return [None if pd.isna(v) else pd.Timestamp(v).to_pydatetime() for v in s]
    if pg_type == "date":
        return [None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT
                else (v.date() if isinstance(v, dt.datetime) else v) for v in s]
    return [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
            else str(v) for v in s]


def copy_rows(cur: Any, schema: str, name: str, frame: pd.DataFrame, types: dict[str, str],
              geometry: tuple[np.ndarray, int] | None) -> None:
    """COPY the rows of *frame* into table *name* (geometry as hex EWKB)."""
    import shapely
    from psycopg import sql

    columns = [_column_values(frame[c], t) for c, t in types.items()]
    names = [sql.Identifier(c) for c in types]
    if geometry is not None:
        geoms, srid = geometry
        with_srid = shapely.set_srid(np.asarray(geoms, dtype=object), srid)
        columns.append(list(shapely.to_wkb(with_srid, hex=True, include_srid=True)))
        names.append(sql.Identifier(GEOM))
    if not names:  # a frame without columns: nothing to store but its length
        return
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(schema, name),
                                                      sql.SQL(", ").join(names))
    with cur.copy(stmt) as copy:
        for row in zip(*columns, strict=True):
            copy.write_row(row)


def frame_from_rows(rows: Iterable[tuple[Any, ...]], columns: list[str], types: list[str],
                    *, spatial: bool, name: str) -> pd.DataFrame:
    """Build a frame from rows of (attributes..., WKB) with pandas dtypes for *types*.

    Columns of layer *name*'s schema get nullable dtypes (``canonical`` casts them);
    other columns get the dtypes GDAL gives them in a GeoPackage (``int64`` without
    missing values, else ``float64``; ``bool``, else ``object``).
    """
    data = list(zip(*rows, strict=True)) or [()] * (len(columns) + spatial)
    sch = schema_for(name)
    known = set(sch.column_names) if sch else set()
    out: dict[str, Any] = {}
    for col, pg_type, values in zip(columns, types, data, strict=False):
        s = _series(list(values), pg_type)
        if col not in known and s.dtype in ("Int64", "boolean"):
            has_na = bool(s.isna().any())
            s = (s.astype("float64") if s.dtype == "Int64" else s.astype(object)) if has_na \
                else s.astype("int64" if s.dtype == "Int64" else "bool")
        out[col] = s
    frame = pd.DataFrame(out, columns=columns)
    if not spatial:
        return frame
    import shapely

    wkb = np.array(data[len(columns)], dtype=object)
    frame["geometry"] = shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)
    return frame


def _series(values: list[Any], pg_type: str) -> pd.Series:
    if pg_type in ("bigint", "integer", "smallint"):
        return pd.Series(values, dtype="Int64")
    if pg_type in ("double precision", "real", "numeric"):
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if pg_type == "boolean":
        return pd.Series(values, dtype="boolean")
    if pg_type.startswith("timestamp"):
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object))).astype(
            "datetime64[ms, UTC]" if "with time zone" in pg_type else "datetime64[ms]")
    return pd.Series(values, dtype=object)
