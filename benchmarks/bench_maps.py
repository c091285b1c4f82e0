"""Benchmark: map size and build time for synthetic cities; open and pan the big one.

Run: flock /tmp/gisplan-heavy.lock .venv/bin/python benchmarks/bench_maps.py [5000 50000 300000]
     [--repeat 3] [--cache DIR]
Prints, per city size: build time, HTML size, and (with chromium) time to first draw
(the median of ``--repeat`` opens), the JS heap after opening (CDP
``Performance.getMetrics``) and the frame time of a pan, with the network cut.
``--cache DIR`` keeps each synthetic city (pickled, by size) so a rerun skips making it
(a 300,000-compound city takes a while). Targets (issue 13): open < 3 s; 50,000
compounds < 8 MB; 300,000 compounds < 15 MB.
"""

from __future__ import annotations

import argparse
import pickle
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from gisplan import maps
from gisplan.synth import synth_city


def city_of(n: int, cache: Path | None) -> Any:
    """The synthetic city of *n* compounds (seed 7), from *cache* when it is there."""
    path = cache / f"city_{n}_seed7.pkl" if cache else None
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    city = synth_city(compounds=n, seed=7)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(city))
    return city


def open_once(ctx: Any, path: Path) -> tuple[float, float, float, bool, int]:
    """Open *path* once: seconds to first draw, JS heap MB, pan seconds, clean, drawn."""
    from browser import open_offline

    t = time.perf_counter()
    page = open_offline(ctx, path, settle_ms=0, timeout_ms=180_000)
    first = time.perf_counter() - t
    cdp = page.page.context.new_cdp_session(page.page)
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    heap = metrics.get("JSHeapUsedSize", float("nan")) / 1e6
    t = time.perf_counter()
    page.page.mouse.move(640, 430)
    page.page.mouse.down()
    page.page.mouse.move(300, 250, steps=10)
    page.page.mouse.up()
    page.page.evaluate("() => new Promise(r => requestAnimationFrame(r))")
    pan = time.perf_counter() - t
    ok = not page.problems()
    drawn = page.drawn()["compounds"]["count"]
    page.page.close()
    return first, heap, pan, ok, drawn


def main(sizes: list[int], *, repeat: int = 1, cache: Path | None = None) -> None:
    print(f"machine: {platform.machine()} {platform.python_version()}")
    out = Path(tempfile.mkdtemp(prefix="gisplan-bench-"))
    for n in sizes:
        city = city_of(n, cache)
        t = time.perf_counter()
        m = maps.progress_map(city)
        path = maps.save_map(m, out / f"city_{n}.html")
        build = time.perf_counter() - t
        size = path.stat().st_size / 1e6
        line = f"{n:>7} compounds: build {build:6.1f} s, {size:6.2f} MB"
        try:
            from browser import offline_browser

            runs = []
            for _ in range(repeat):
                with offline_browser() as ctx:   # a fresh browser per open: no warm cache
                    runs.append(open_once(ctx, path))
            first = statistics.median(r[0] for r in runs)
            heap = statistics.median(r[1] for r in runs)
            pan = statistics.median(r[2] for r in runs)
            opens = "/".join(f"{r[0]:.1f}" for r in runs)
            line += (f", open {first:5.1f} s ({opens}), heap {heap:6.0f} MB, pan {pan:5.2f} s, "
                     f"drawn {runs[-1][4]}, clean {all(r[3] for r in runs)}")
        except Exception as exc:
            line += f" (browser: {exc})"
        print(line, flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[5000, 50000])
    ap.add_argument("--repeat", type=int, default=1, help="opens per size (median)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="folder to keep the synthetic cities in between runs")
    a = ap.parse_args()
    main(a.sizes, repeat=a.repeat, cache=a.cache)
