"""Benchmark the PostGIS store against the GeoPackage store.

Writes and reads 200,000 compound polygons through :class:`gisplan.store.Project` on
both backends, and has 10 county offices (processes) import 100 progress rows each at
the same moment (1,000 rows; ``progress.log.append_new``, as ``gisplan progress import``
does). Prints the median of several runs, peak memory (maxrss) and machine info.

Needs a PostGIS database (``make postgis`` makes a local one):
``.venv/bin/python benchmarks/bench_postgis.py [--url postgresql:///gisplan?schema=bench]
[--n 200000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.progress.log import append_new, row_hashes
from gisplan.store import Project

OFFICES, ROWS_EACH = 10, 100


def compounds(n: int) -> gpd.GeoDataFrame:
    i = np.arange(n)
    x = 106.0 + (i % 1000) * 0.001
    y = 36.0 + (i // 1000) * 0.001
    return gpd.GeoDataFrame(
        {
            "compound_id": [f"C{k:07d}" for k in i],
            "name": [f"小区{k}" for k in i],
            "county": [f"县{k % OFFICES}" for k in i],
            "households": pd.array(i % 700 + 1, dtype="Int64"),
            "built_year": pd.array(1980 + i % 25, dtype="Int64"),
            "floor_area_m2": (i % 700 + 1) * 75.0,
        },
        geometry=shapely.box(x, y, x + 0.0008, y + 0.0008),
        crs=4326,
    )


def median_time(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None
                ) -> float:
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def report_rows(office: int, run: int) -> pd.DataFrame:
    ids = [f"C{office + OFFICES * k:07d}" for k in range(ROWS_EACH)]
    log = pd.DataFrame({"compound_id": ids, "county": f"县{office}",
                        "date": dt.date(2023, 6, 1) + dt.timedelta(days=run),
                        "stage": "started", "source_file": f"县{office}.xlsx"})
    log["row_hash"] = row_hashes(log)
    return log


def import_report(where: str, office: int, run: int) -> int:
    return append_new(Project.open(where), report_rows(office, run))[1]


def concurrent_import(where: str, run: int) -> None:
    ctx = mp.get_context("fork")
    with ctx.Pool(OFFICES) as pool:
        added = pool.starmap(import_report, [(where, o, run) for o in range(OFFICES)])
    assert sum(added) == OFFICES * ROWS_EACH, added


def bench(where: str, label: str, frame: gpd.GeoDataFrame, repeat: int) -> dict[str, float]:
    p = Project.create(where, meta={"name": "bench"}, layers={"compounds": frame.iloc[:10]},
                       overwrite=True)
    write = median_time(lambda: p.write("compounds", frame), repeat)
    read = median_time(lambda: p.read("compounds"), repeat)
    runs = iter(range(1000))
    conc = median_time(lambda: concurrent_import(where, next(runs)), repeat)
    log = p.read("progress_log")
    assert len(log) == repeat * OFFICES * ROWS_EACH and log["row_hash"].is_unique
    print(f"{label:10s} write {len(frame):,}: {write:6.2f} s   read: {read:6.2f} s   "
          f"{OFFICES} offices × {ROWS_EACH} progress rows at once: {conc:5.2f} s")
    return {"write": write, "read": read, "concurrent": conc}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("GISPLAN_BENCH_PG",
                                                    "postgresql:///gisplan?schema=bench"))
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, {platform.platform()}, "
          f"python {platform.python_version()}")
    frame = compounds(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        bench(str(Path(tmp) / "bench.gpkg"), "GeoPackage", frame, args.repeat)
    bench(args.url, "PostGIS", frame, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median of {args.repeat} runs; peak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
