"""Benchmark the programme store and coordinate conversion.

Writes and reads 200,000 compound polygons through :class:`gisplan.store.Project`,
appends to the progress log, and converts 1,000,000 points WGS84 → GCJ-02 → WGS84.
Then, in a store padded to ``--pad-gb`` (1 GB by default) with a table of blobs,
replaces one 20,000-compound layer and appends progress rows: a write should cost
about what writing that layer into an empty store costs, whatever the store's size.
Prints the median of several runs, peak memory (maxrss) and machine info.

Run: ``.venv/bin/python benchmarks/bench_store.py [--n 200000] [--repeat 3] [--pad-gb 1]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gisplan.chinacoords import gcj02_to_wgs84, wgs84_to_gcj02
from gisplan.store import Project


def compounds(n: int) -> gpd.GeoDataFrame:
    i = np.arange(n)
    x = 106.0 + (i % 1000) * 0.001
    y = 36.0 + (i // 1000) * 0.001
    return gpd.GeoDataFrame(
        {
            "compound_id": [f"C{k:07d}" for k in i],
            "name": [f"小区{k}" for k in i],
            "households": pd.array(i % 700 + 1, dtype="Int64"),
            "built_year": pd.array(1980 + i % 25, dtype="Int64"),
            "floor_area_m2": (i % 700 + 1) * 75.0,
        },
        geometry=shapely.box(x, y, x + 0.0008, y + 0.0008),
        crs=4326,
    )


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def pad(path: Path, gb: float) -> None:
    """Grow the store by *gb* gigabytes: an attribute table of 1 MB blobs, one transaction."""
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE bench_padding (fid INTEGER PRIMARY KEY, data BLOB)")
        con.executemany("INSERT INTO bench_padding (data) VALUES (randomblob(1000000))",
                        [()] * int(gb * 1000))
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier) "
                    "VALUES ('bench_padding', 'attributes', 'bench_padding')")
    con.close()


def large_store(args: argparse.Namespace) -> None:
    """Replace one layer and append log rows in a store padded to ``--pad-gb``."""
    layer = compounds(20_000)
    log = pd.DataFrame({"compound_id": layer["compound_id"][:1000],
                        "date": [dt.date(2024, 1, 1)] * 1000, "stage": ["started"] * 1000})
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        empty = Project.create(Path(tmp) / "empty.gpkg", meta={"name": "bench"})
        t_alone = median_time(lambda: empty.write("compounds", layer), args.repeat)
        path = Path(tmp) / "large.gpkg"
        big = Project.create(path, meta={"name": "bench"}, layers={"compounds": layer})
        pad(path, args.pad_gb)
        size_gb = path.stat().st_size / 1e9
        t_replace = median_time(lambda: big.write("compounds", layer), args.repeat)
        t_append = median_time(lambda: big.append("progress_log", log), args.repeat)
    print(f"large store: {size_gb:.2f} GB, one layer of 20,000 compounds")
    print(f"  write the layer into an empty store:    {t_alone:.2f} s")
    print(f"  replace the layer in the large store:   {t_replace:.2f} s")
    print(f"  append 1,000 log rows in the large store: {t_append:.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pad-gb", type=float, default=1.0,
                    help="size of the padding in the large-store benchmark (0 skips it)")
    ap.add_argument("--dir", default=None, help="folder for the temporary stores")
    ap.add_argument("--only-large", action="store_true", help="run only the large store")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, GDAL {pyogrio.__gdal_version_string__}, "
          f"pyogrio {pyogrio.__version__}")
    if args.pad_gb > 0:
        large_store(args)
    if args.only_large:
        return
    gdf = compounds(args.n)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bench.gpkg"
        p = Project.create(path, meta={"name": "bench"})
        t_write = median_time(lambda: p.write("compounds", gdf), args.repeat)
        t_read = median_time(lambda: p.read("compounds"), args.repeat)
        t_bbox = median_time(lambda: p.read("compounds", bbox=(106.1, 36.05, 106.2, 36.1)),
                             args.repeat)
        log = pd.DataFrame({"compound_id": gdf["compound_id"][:1000],
                            "date": [dt.date(2024, 1, 1)] * 1000, "stage": ["started"] * 1000})
        t_append = median_time(lambda: p.append("progress_log", log), args.repeat)
        size_mb = path.stat().st_size / 1e6
    print(f"store: {args.n:,} polygons, file {size_mb:.0f} MB")
    print(f"  write (staging table + swap):           {t_write:.2f} s")
    print(f"  read (arrow, canonical dtypes):         {t_read:.2f} s")
    print(f"  read bbox (~5,000 features):            {t_bbox:.3f} s")
    print(f"  append 1,000 log rows (one transaction): {t_append:.3f} s")
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(74, 134, 1_000_000), rng.uniform(19, 53, 1_000_000)
    t_fwd = median_time(lambda: wgs84_to_gcj02(lon, lat), args.repeat)
    glon, glat = wgs84_to_gcj02(lon, lat)
    t_inv = median_time(lambda: gcj02_to_wgs84(glon, glat), args.repeat)
    print("chinacoords: 1,000,000 points")
    print(f"  wgs84_to_gcj02: {t_fwd:.3f} s; gcj02_to_wgs84 (iterative): {t_inv:.3f} s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (maxrss): {rss:.0f} MB")


if __name__ == "__main__":
    main()
