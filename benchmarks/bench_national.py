"""Benchmark a national programme end to end: synth, then ``gisplan run``, 1 and N workers.

Generates a national programme (``--cities`` cities, ``--compounds`` compounds over all
of them), runs the whole analysis in one process, then on a dask LocalCluster of
``--workers`` processes (a fresh copy of the stores), and prints: wall time of each run
and the ratio, seconds per step (summed over cities, and the slowest city), peak
resident memory per worker process, and the sizes of the layers. ``--skip maps`` leaves
out the HTML maps (their cost grows with cities, not with the analysis).

Run (heavy: take the lock on a shared machine)::

    flock /tmp/gisplan-heavy.lock .venv/bin/python benchmarks/bench_national.py \\
        --cities 12 --compounds 24000 --workers 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyogrio

from gisplan.national import open_national, run, synth_national
from gisplan.pipeline import STEPS, StepResult


def layer_sizes(folder: Path) -> dict[str, int]:
    """Rows per input layer over every city (feature counts, not reads)."""
    nat = open_national(folder)
    sizes: dict[str, int] = {}
    for city in nat.cities:
        store = nat.store(city)
        for name in ("compounds", "utilities", "facilities", "roads", "progress_log"):
            n = int(pyogrio.read_info(store, layer=name)["features"])
            sizes[name] = sizes.get(name, 0) + n
    return sizes


class _Progress:
    """Print a line every tenth of the cities (a long run shows how far it is)."""

    def __init__(self, last: str, cities: int) -> None:
        self.last, self.cities, self.done, self.start = last, cities, 0, time.perf_counter()

    def __call__(self, result: StepResult) -> None:
        if result.step != self.last:  # every city ends with it, skipped or not
            return
        self.done += 1
        if self.done % max(1, self.cities // 10) == 0 or self.done == self.cities:
            print(f"  {self.done}/{self.cities} cities, {time.perf_counter() - self.start:.0f} s",
                  flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cities", type=int, default=12)
    ap.add_argument("--compounds", type=int, default=24_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip", action="append", default=[], choices=list(STEPS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["one", "workers"],
                    help="run only in one process, or only on the cluster (national size)")
    args = ap.parse_args()
    steps = [s for s in STEPS if s not in args.skip]
    print(f"# national benchmark {dt.datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}")
    print(f"cities {args.cities}, compounds {args.compounds:,}, steps {' → '.join(steps)}")
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        t0 = time.perf_counter()
        synth_national(tmp / "a", cities=args.cities, compounds=args.compounds, seed=args.seed)
        t_synth = time.perf_counter() - t0
        size_mb = sum(f.stat().st_size for f in (tmp / "a").rglob("*.gpkg")) / 1e6
        print(f"synth: {t_synth:.1f} s, {size_mb:.0f} MB of stores; rows: "
              + ", ".join(f"{k} {v:,}" for k, v in layer_sizes(tmp / "a").items()))
        if args.only is None:
            shutil.copytree(tmp / "a", tmp / "b")
        runs = []
        progress = _Progress(steps[-1], args.cities)
        if args.only in (None, "one"):
            t0 = progress.start = time.perf_counter()
            res = run(tmp / "a", out=tmp / "out_a", steps=steps, on_step=progress)
            runs.append(("1 process", res, time.perf_counter() - t0))
        if args.only in (None, "workers"):
            folder = tmp / ("b" if args.only is None else "a")
            t0 = progress.start = time.perf_counter()
            progress.done = 0
            res = run(folder, out=tmp / "out_b", steps=steps, workers=args.workers,
                      on_step=progress)
            runs.append((f"{args.workers} workers", res, time.perf_counter() - t0))
        for name, res, t in runs:
            print(f"\n## {name}: {t:.1f} s wall, {len(res.finished)}/{len(res.cities)} "
                  f"cities finished")
            print(res.step_seconds().round(1).to_string(index=False))
            print("peak RSS per worker (MB): "
                  + ", ".join(f"{v:,.0f}" for v in res.workers.values()))
        if len(runs) == 2:
            (_, one, t_one), (_, many, t_many) = runs
            print(f"\nspeed-up {args.workers} workers vs 1 process: {t_one / t_many:.2f}x "
                  f"(synth {t_synth:.1f} s not included)")
            same = one.cities_frame().drop(columns=["files"], errors="ignore").equals(
                many.cities_frame().drop(columns=["files"], errors="ignore"))
            print(f"figures identical: {same}")
        pd.set_option("display.width", 160)


if __name__ == "__main__":
    main()
