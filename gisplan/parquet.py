"""GeoParquet export and import of any layer, partitioned by city.

GeoParquet is the exchange format with other tools (DuckDB, QGIS, Spark, dask) and
between the workers of ``gisplan run --workers``. A layer of one programme is one file;
a layer of a national programme (a folder of city stores, :mod:`gisplan.national`) is a
hive-partitioned dataset, one folder per city::

    coverage_gaps.parquet/city=C001/part.0.parquet
    coverage_gaps.parquet/city=C002/part.0.parquet

which DuckDB reads as ``read_parquet('coverage_gaps.parquet/*/*.parquet',
hive_partitioning=true)`` and dask-geopandas as one frame partitioned by city. Attribute
tables (``progress_log``, ``coverage_summary``) are plain Parquet in the same layout.
Column types survive the round trip (nullable integers and booleans, dates, text).

Examples
--------
>>> import tempfile, pathlib
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> path = export_layer("layers/guyuan_2022.gpkg", "compounds", tmp / "c.parquet")
>>> back = read_layer(path)
>>> len(back), back.crs.to_epsg()
(26, 4326)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq

from gisplan._errors import InputError

__all__ = ["export_layer", "import_layer", "read_layer", "write_partition"]

#: the column that names the partition (the city) in a dataset read back whole
PARTITION_COLUMN = "city"


def _is_geo(path: Path) -> bool:
    """Return True when the file (or a dataset's first file) carries GeoParquet metadata."""
    first = path if path.is_file() else next(iter(sorted(path.rglob("*.parquet"))), None)
    if first is None:
        raise InputError("no Parquet files in the folder", file=str(path),
                         hint="give a .parquet file or a folder written by gisplan export")
    meta = pq.read_schema(first).metadata or {}
    return b"geo" in meta


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(frame, gpd.GeoDataFrame):
        frame.to_parquet(tmp, index=False)
    else:
        pd.DataFrame(frame).to_parquet(tmp, index=False)
    os.replace(tmp, path)  # a reader never sees half a file


def write_partition(frame: pd.DataFrame, folder: str | os.PathLike[str], *, city: str) -> Path:
    """Write *frame* as the partition of *city* in the dataset *folder*, replacing it.

    A ``city`` column of *frame* is left out (the folder name holds it).

    Returns
    -------
    Path
        ``<folder>/city=<city>/part.0.parquet``.
    """
    path = Path(folder) / f"{PARTITION_COLUMN}={city}" / "part.0.parquet"
    _write(frame.drop(columns=[PARTITION_COLUMN], errors="ignore"), path)
    return path


def read_layer(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a GeoParquet/Parquet file or a city-partitioned dataset.

    A dataset comes back as one frame with a ``city`` column (text), cities in order.
    Returns a GeoDataFrame when the data carries geometry, else a DataFrame.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such Parquet file or folder", file=str(path),
                         hint="check the path")
    geo = _is_geo(path)
    if path.is_dir():
        parts = sorted(path.glob(f"{PARTITION_COLUMN}=*/*.parquet"))
        frames = [_read_one(p, geo).assign(**{PARTITION_COLUMN: p.parent.name.split("=", 1)[1]})
                  for p in parts]
        if not frames:
            raise InputError("no city partitions (city=...) in the folder", file=str(path),
                             hint="give a folder written by gisplan export")
        out = pd.concat(frames, ignore_index=True)
        return gpd.GeoDataFrame(out, geometry="geometry", crs=frames[0].crs) if geo else out
    return _read_one(path, geo)


def _read_one(path: Path, geo: bool) -> pd.DataFrame:
    return gpd.read_parquet(path) if geo else pd.read_parquet(path)


def export_layer(source: Any, layer: str, out: str | os.PathLike[str], *,
                 overwrite: bool = True) -> Path:
    """Export *layer* of a programme, or of every city of a national programme.

    Parameters
    ----------
    source : Project, path of a GeoPackage, or folder of a national programme
    layer : str
        Any layer or table of the store(s).
    out : path
        ``X.parquet``: one file for a programme; a folder of ``city=<code>`` partitions
        for a national programme (cities without the layer are left out and named in
        the error only when none has it).
    overwrite : bool, default True
        Replace *out* if it exists.

    Returns
    -------
    Path
        *out*.
    """
    from gisplan.national import is_national, open_national
    from gisplan.sources import read_layers

    out = Path(out)
    if out.exists() and overwrite:
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    elif out.exists():
        raise InputError("the output exists", file=str(out), hint="remove it or choose another")
    if isinstance(source, str | os.PathLike) and is_national(source):
        nat = open_national(source)
        written = 0
        for city in nat.cities:
            p = nat.store(city)
            from gisplan.store import Project

            proj = Project.open(p)
            if layer in proj.layers():
                write_partition(proj.read(layer), out, city=city.code)
                written += 1
        if not written:
            raise InputError(f"no city of the programme has the layer '{layer}'",
                             file=str(source), layer=layer,
                             hint="run the step that makes it first (gisplan run)")
        return out
    frame = read_layers(source, [layer])[layer]
    _write(frame, out)
    return out


def import_layer(path: str | os.PathLike[str], store: Any, layer: str, *,
                 city: str | None = None) -> int:
    """Write a Parquet file (or one city of a dataset) into *store* as *layer*.

    Parameters
    ----------
    path : path
        A ``.parquet`` file or a city-partitioned folder.
    store : Project or path
        The programme to write into (the layer is replaced, atomically).
    layer : str
    city : str, optional
        With a partitioned folder: the city to import. None: a file, or a folder that
        holds one city only.

    Returns
    -------
    int
        Rows written.
    """
    from gisplan.sources import as_project

    frame = read_layer(path)
    if PARTITION_COLUMN in frame and Path(path).is_dir():
        cities = sorted(frame[PARTITION_COLUMN].unique())
        if city is None and len(cities) > 1:
            raise InputError(f"the dataset holds {len(cities)} cities", file=str(path),
                             hint=f"choose one with --city ({', '.join(cities[:5])}, ...)")
        pick = city or cities[0]
        if pick not in cities:
            raise InputError("no such city in the dataset", file=str(path), value=pick,
                             hint=f"one of {', '.join(cities[:10])}")
        frame = frame[frame[PARTITION_COLUMN] == pick].drop(columns=[PARTITION_COLUMN])
        frame = frame.reset_index(drop=True)
    as_project(store).write(layer, frame)
    return len(frame)
