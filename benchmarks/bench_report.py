"""Benchmark ``gisplan report`` on a synthetic city: wall time and peak memory.

Run (heavy: wrap in ``flock /tmp/gisplan-heavy.lock``)::

    .venv/bin/python benchmarks/bench_report.py --compounds 300000 [--repeat 3]
    .venv/bin/python benchmarks/bench_report.py --store city.gpkg --code /path/to/other/checkout

The city is built once with the CLI (synth, join, bundle, coverage) unless ``--store``
names one. Each run is a fresh process (so its peak resident memory is its own, read with
``os.wait4``); the median time and the largest peak are printed, with the files written.
``--code`` runs another checkout's gisplan (``PYTHONPATH``) for before/after figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUN = """
import sys
from gisplan.report import write_report
files = write_report(sys.argv[1], sys.argv[2])
print(len(files), sum(f.stat().st_size for f in files))
"""


def build_city(n: int, out: Path, code: Path) -> None:
    """Synthesise a city of *n* compounds and run join, bundle and coverage on it."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    cli = [sys.executable, "-c", "from gisplan.cli import main; main()"]
    steps = [["synth", "--compounds", str(n), "--out", str(out), "--overwrite"],
             ["join", str(out)], ["bundle", str(out)], ["coverage", str(out)]]
    for step in steps:
        t = time.perf_counter()
        subprocess.run([*cli, *step], env=env, cwd=code, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"  {step[0]}: {time.perf_counter() - t:.1f} s", flush=True)


def run_once(store: Path, out: Path, code: Path) -> tuple[float, float, str]:
    """Return (seconds, peak resident GB, output summary) of one report in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    t = time.perf_counter()
    # cwd: "python -c" puts the working directory first on sys.path
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(store), str(out)], env=env,
                            cwd=code, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    text = proc.stdout.read().strip() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"report failed (exit {status})")
    return seconds, usage.ru_maxrss / 1024**2, text  # ru_maxrss is in KB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compounds", type=int, default=50_000)
    ap.add_argument("--store", type=Path, default=None, help="an analysed city (skip building)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose gisplan to run")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} python "
          f"{platform.python_version()}; code: {args.code}")
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            store = Path(tmp) / f"city{args.compounds}.gpkg"
            print(f"building a {args.compounds:,}-compound city", flush=True)
            build_city(args.compounds, store, args.code)
        times, peaks = [], []
        for k in range(args.repeat):
            seconds, peak, text = run_once(store, Path(tmp) / "report.xlsx", args.code)
            times.append(seconds)
            peaks.append(peak)
            files, size = text.split() if text else ("?", "0")
            print(f"  run {k + 1}: {seconds:.1f} s, peak {peak:.2f} GB, {files} files, "
                  f"{int(size) / 1e6:.0f} MB", flush=True)
        print(f"report {store.name}: median {statistics.median(times):.1f} s "
              f"(min {min(times):.1f}, max {max(times):.1f}), peak {max(peaks):.2f} GB")


if __name__ == "__main__":
    main()
