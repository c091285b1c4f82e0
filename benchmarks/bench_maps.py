"""Benchmark: map size and build time for synthetic cities; open and pan the big one.

Run: flock /tmp/gisplan-heavy.lock .venv/bin/python benchmarks/bench_maps.py [5000 50000 300000]
Prints, per city size: build time, HTML size, and (with chromium) time to first draw,
the JS heap after opening (CDP ``Performance.getMetrics``) and the frame time of a pan,
with the network cut. Targets (issue 13): open < 3 s; 50,000 compounds < 8 MB;
300,000 compounds < 15 MB.
"""

from __future__ import annotations

import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from gisplan import maps
from gisplan.synth import synth_city


def main(sizes: list[int]) -> None:
    print(f"machine: {platform.machine()} {platform.python_version()}")
    out = Path(tempfile.mkdtemp(prefix="gisplan-bench-"))
    for n in sizes:
        city = synth_city(compounds=n, seed=7)
        t = time.perf_counter()
        m = maps.progress_map(city)
        path = maps.save_map(m, out / f"city_{n}.html")
        build = time.perf_counter() - t
        size = path.stat().st_size / 1e6
        line = f"{n:>7} compounds: build {build:6.1f} s, {size:6.2f} MB"
        try:
            from browser import offline_browser, open_offline

            with offline_browser() as ctx:
                t = time.perf_counter()
                page = open_offline(ctx, path, settle_ms=0, timeout_ms=180_000)
                first = time.perf_counter() - t
                cdp = page.page.context.new_cdp_session(page.page)
                cdp.send("Performance.enable")
                metrics = {m["name"]: m["value"]
                           for m in cdp.send("Performance.getMetrics")["metrics"]}
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
            line += (f", open {first:5.1f} s, heap {heap:6.0f} MB, pan {pan:5.2f} s, "
                     f"drawn {drawn}, clean {ok}")
        except Exception as exc:
            line += f" (browser: {exc})"
        print(line, flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [5000, 50000])
