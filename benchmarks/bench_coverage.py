"""Benchmark: facility coverage on a large synthetic city, and scipy vs pandana.

Usage::

    .venv/bin/python benchmarks/bench_coverage.py                 # 1M nodes, 200k compounds
    .venv/bin/python benchmarks/bench_coverage.py --nodes 100000 --compounds 20000
    .venv/bin/python benchmarks/bench_coverage.py --skip-full --pandana-nodes 40000
    .venv/bin/python benchmarks/bench_coverage.py --pandana-precompute   # + aggregation ranges

Prints the median of ``--runs`` runs, peak memory (ru_maxrss, before and after the runs,
so the coverage's own share can be told from the generated city's) and the machine with
its load average before and after each run (other jobs share the machine).

pandana's ``nearest_pois`` needs the contraction hierarchies built by ``pandana.Network``
and the POI index built by ``set_pois``; ``Network.precompute`` prepares range queries
for ``aggregate`` and is not used by ``nearest_pois``, so it is timed only with
``--pandana-precompute``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import numpy as np


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load avg {one:.1f} (5 min {five:.1f})"


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {load()} (machine shared)")


def full(nodes: int, compounds: int, runs: int) -> None:
    from gisplan.coverage import coverage
    from gisplan.synth import synth_city

    t = time.perf_counter()
    city = synth_city(compounds=compounds, road_nodes=nodes)
    gen = time.perf_counter() - t
    print(f"synthetic city: {len(city['roads']):,} roads, {len(city['compounds']):,} compounds, "
          f"{len(city['facilities']):,} facilities, {len(city['gates']):,} gates "
          f"(generated in {gen:.1f} s, rss {maxrss_mb():.0f} MB)")
    rss_city = maxrss_mb()
    times = []
    for _ in range(runs):
        before = load()
        t = time.perf_counter()
        res = coverage(city["compounds"], city["facilities"], roads=city["roads"],
                       gates=city["gates"], method="both")
        times.append(time.perf_counter() - t)
        print(f"  run: {times[-1]:.1f} s  ({before} before, {load()} after)  {res.info}",
              flush=True)
        del res
    print(f"full coverage (15 types, walking + straight, from EPSG:4326 layers): median "
          f"{statistics.median(times):.1f} s of {runs} (best {min(times):.1f} s); peak rss "
          f"{maxrss_mb():.0f} MB, of which {rss_city:.0f} MB before the first run "
          "(the generated city)")


def pandana_compare(nodes: int, n_fac: int, maxdist: float, *, precompute: bool) -> None:
    import pandana
    import pandas as pd
    import shapely

    from gisplan.network import build_network, origin_graph, snap_points
    from gisplan.synth import synth_streets

    roads = synth_streets(nodes=nodes)
    lines = roads.to_crs(roads.estimate_utm_crs()).geometry.to_numpy()
    t = time.perf_counter()
    net = build_network(lines)
    rng = np.random.default_rng(0)
    types = 15
    fac_nodes = rng.choice(net.n_nodes, n_fac * types, replace=False).reshape(types, n_fac)
    snap = snap_points(net, shapely.points(net.xy[fac_nodes.reshape(-1)]))
    og = origin_graph(net, snap)
    ours = []
    for k in range(types):
        d, _ = og.nearest(np.arange(k * n_fac, (k + 1) * n_fac), limit=maxdist)
        ours.append(d)
    t_ours = time.perf_counter() - t

    t = time.perf_counter()
    pnet = pandana.Network(pd.Series(net.xy[:, 0]), pd.Series(net.xy[:, 1]),
                           pd.Series(net.edge_u), pd.Series(net.edge_v),
                           pd.DataFrame({"w": net.edge_len}), twoway=True)
    t_ch = time.perf_counter() - t
    t_pre = 0.0
    if precompute:
        t0 = time.perf_counter()
        pnet.precompute(maxdist)
        t_pre = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = []
    for k in range(types):
        xy = net.xy[fac_nodes[k]]
        pnet.set_pois(f"t{k}", maxdist, 1, pd.Series(xy[:, 0]), pd.Series(xy[:, 1]))
        theirs.append(pnet.nearest_pois(maxdist, f"t{k}", num_pois=1)[1].to_numpy())
    t_q = time.perf_counter() - t0
    t_pd = time.perf_counter() - t
    worst = 0.0
    for a, b in zip(ours, theirs, strict=True):
        both = np.isfinite(a) & (b < maxdist)
        worst = max(worst, float(np.abs(a[both] - b[both]).max()))
        assert (np.isfinite(a) == (b < maxdist - 1e-6)).mean() > 0.999
    pre = f" + precompute {t_pre:.1f} s" if precompute else " (no precompute: not needed)"
    print(f"pandana comparison on {net.n_nodes:,} nodes, {types} types x {n_fac} facilities, "
          f"maxdist {maxdist:.0f} m ({load()}):\n  gisplan (build from lines + snap + "
          f"{types} multi-source Dijkstra): {t_ours:.2f} s\n  pandana (Network/contraction "
          f"hierarchies {t_ch:.1f} s{pre} + set_pois + nearest_pois {t_q:.1f} s): "
          f"{t_pd:.2f} s\n  speed-up {t_pd / t_ours:.0f}x; max |difference| {worst:.3f} m",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--compounds", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pandana-nodes", type=int, default=40_000)
    ap.add_argument("--pandana-facilities", type=int, default=100)
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--skip-pandana", action="store_true")
    ap.add_argument("--pandana-precompute", action="store_true",
                    help="also time pandana's precompute (range queries; slow)")
    args = ap.parse_args()
    print(machine())
    if not args.skip_pandana:
        pandana_compare(args.pandana_nodes, args.pandana_facilities, 3000.0,
                        precompute=args.pandana_precompute)
    if not args.skip_full:
        full(args.nodes, args.compounds, args.runs)


if __name__ == "__main__":
    main()
