"""Benchmark import-osm on the Helsinki extract that ships with pyrosm.

Run: .venv/bin/python benchmarks/bench_osm.py [--repeat 3]
Prints the median of the runs for reading the extract (pyrosm), making the layers
(gisplan.osm) and writing the programme, peak memory (maxrss) and machine info.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pyrosm

from gisplan.osm import osm_layers, read_extract
from gisplan.store import Project


def once(path: str, out: Path) -> tuple[float, float, float, dict[str, int]]:
    t0 = time.perf_counter()
    ext = read_extract(path)
    t1 = time.perf_counter()
    res = osm_layers(ext)
    t2 = time.perf_counter()
    Project.create(out, meta={"name": "bench", **res.meta}, layers=res.layers, overwrite=True)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, {k: len(v) for k, v in res.layers.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--extract", default="helsinki_pbf",
                    help="pyrosm's bundled extract (helsinki_pbf, test_pbf) or a path")
    args = ap.parse_args()
    path = args.extract if os.path.exists(args.extract) else pyrosm.get_data(args.extract)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            runs.append(once(path, Path(tmp) / "osm.gpkg"))
    read, make, write = (statistics.median(r[i] for r in runs) for i in range(3))
    print(f"extract {Path(path).name} ({os.path.getsize(path) / 1e6:.2f} MB), "
          f"layers {runs[-1][3]}")
    print(f"import-osm median of {args.repeat}: total {read + make + write:.2f} s "
          f"(read {read:.2f} s, layers {make:.2f} s, write {write:.2f} s)")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
