"""Run every benchmark, one process each, and keep their output.

Run: ``.venv/bin/python benchmarks/run_all.py [--quick]`` (or ``make bench``). Each
script prints its figures (median of several runs, peak memory, machine); the output of
each is also written to ``benchmarks/latest/<name>.txt`` so that BENCHMARKS.md can be
updated from one run. ``--quick`` runs small sizes only (a smoke run, minutes not tens
of minutes); the figures in BENCHMARKS.md come from the full sizes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL: dict[str, list[str]] = {
    "bench_bundle": [],
    "bench_coverage": [],
    "bench_validate": [],
    "bench_store": [],
    "bench_read": [],
    "bench_maps": ["5000", "50000"],
    "bench_osm": [],
}
QUICK: dict[str, list[str]] = {
    "bench_bundle": ["--n", "20000", "--compare", "500", "--repeat", "1"],
    "bench_coverage": ["--nodes", "40000", "--compounds", "10000", "--runs", "1",
                       "--skip-pandana"],
    "bench_validate": ["--n", "20000", "--repeat", "1"],
    "bench_store": ["--n", "20000", "--repeat", "1"],
    "bench_read": ["--rows", "10000", "--xlsx-rows", "1000", "--repeat", "1"],
    "bench_maps": ["5000"],
    "bench_osm": ["--repeat", "1"],
}


def main() -> int:
    """Run the benchmarks; return the number that failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = ap.parse_args()
    plan = QUICK if args.quick else FULL
    names = args.names or list(plan)
    out_dir = HERE / "latest"
    out_dir.mkdir(exist_ok=True)
    failed = 0
    for name in names:
        cmd = [sys.executable, str(HERE / f"{name}.py"), *plan[name]]
        print(f"== {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        text = proc.stdout + (f"\n[stderr]\n{proc.stderr}" if proc.returncode else "")
        (out_dir / f"{name}.txt").write_text(text, encoding="utf-8")
        print(text, flush=True)
        print(f"== {name}: exit {proc.returncode} in {time.perf_counter() - t0:.0f} s\n",
              flush=True)
        failed += proc.returncode != 0
    return failed


if __name__ == "__main__":
    sys.exit(main())
