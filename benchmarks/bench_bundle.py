"""Benchmark 连片 bundling: 200,000 compounds, and side by side with spopt's MaxPHeuristic.

1. ``--n 200000``: a synthetic city (:func:`gisplan.synth.synth_city`) with districts,
   utilities and arterial roads as barriers; times the whole
   :func:`gisplan.bundle.bundle_compounds` (projection, checks, adjacency, joins,
   bundling, dissolve, explanations), median of ``--repeat`` runs, plus the peak memory
   the bundling adds (maxrss after minus maxrss before).
2. ``--compare 500,2000``: on the eligible compounds of a synthetic city of that size,
   gisplan and spopt's ``MaxPHeuristic`` with the same household floor and the same
   adjacency graph (a ``libpysal.weights.W`` built from gisplan's edges); gisplan's time is
   the median of ``--repeat`` (at least 3) calls after one warm-up call. Reports times,
   their ratio, bundle counts, and whether each result meets the constraints (floor,
   members connected by adjacency edges, every compound accounted for).

Run: ``.venv/bin/python benchmarks/bench_bundle.py [--n 200000] [--repeat 3]
[--compare 500,2000] [--spopt-repeat 3,1]``. spopt is optional (``pip install spopt``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gisplan.bundle import bundle_compounds
from gisplan.crs import to_metric
from gisplan.eligibility import classify
from gisplan.synth import synth_city

#: Guyuan's rule set (2001–2005 compounds, 15 % cap): the workload the recorded figures
#: were measured on (the default rule set, the national baseline, has no 2001–2005 step)
RULES = "guyuan_2022"


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> str:
    load = os.getloadavg()
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {load[0]:.1f}/{load[1]:.1f}")


def city(n: int, seed: int = 0) -> dict[str, Any]:
    layers = synth_city(compounds=n, seed=seed)
    roads = layers["roads"]
    layers["barriers"] = roads[roads["road_class"] == "arterial"]
    return layers


def run_large(n: int, repeat: int) -> None:
    t = time.perf_counter()
    layers = city(n)
    print(f"synthetic city of {len(layers['compounds']):,} compounds, "
          f"{len(layers['utilities']):,} utility lines, {len(layers['districts'])} districts "
          f"built in {time.perf_counter() - t:.1f} s")
    before = maxrss_mb()
    times, cpu = [], []
    res = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        res = bundle_compounds(layers["compounds"], utilities=layers["utilities"],
                               districts=layers["districts"], barriers=layers["barriers"],
                               rules=RULES)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        del res
    after = maxrss_mb()
    res = bundle_compounds(layers["compounds"], districts=layers["districts"],
                           barriers=layers["barriers"], rules=RULES)
    t = time.perf_counter()
    bundle_compounds(layers["compounds"], districts=layers["districts"],
                     barriers=layers["barriers"], dissolve=False, rules=RULES)
    t_core = time.perf_counter() - t
    print(f"bundle_compounds, {n:,} compounds, with utilities, districts, barriers: "
          f"median {statistics.median(times):.2f} s of {repeat} "
          f"({', '.join(f'{x:.2f}' for x in times)}; best {min(times):.2f} s); "
          f"CPU time median {statistics.median(cpu):.2f} s; "
          f"load average now {os.getloadavg()[0]:.1f}")
    print(f"  without utilities and without dissolving geometry: {t_core:.2f} s")
    print(f"  peak memory: process maxrss {after:.0f} MB, of which bundling added "
          f"{after - before:.0f} MB over the loaded city")
    print(f"  {len(res.bundles):,} bundles, {len(res.members):,} compounds bundled, "
          f"{len(res.standalone):,} standalone")
    print("  standalone by reason:", res.standalone["reason"].value_counts().to_dict())


def constraint_check(labels: np.ndarray, households: np.ndarray, adj: sp.csr_array,
                     floor: float) -> dict[str, Any]:
    """Floor and connectivity of every region (label >= 0)."""
    lab = np.asarray(labels)
    inr = lab >= 0
    regions = np.unique(lab[inr])
    sums = pd.Series(households[inr]).groupby(lab[inr]).sum()
    below = int((sums < floor).sum())
    # connectivity: keep edges inside a region; components per region must be 1
    coo = adj.tocoo()
    same = inr[coo.row] & inr[coo.col] & (lab[coo.row] == lab[coo.col])
    g = sp.csr_array((np.ones(same.sum()), (coo.row[same], coo.col[same])), shape=adj.shape)
    _, comp = connected_components(g, directed=False)
    pieces = pd.Series(comp[inr]).groupby(lab[inr]).nunique()
    disconnected = int((pieces > 1).sum())
    return {"regions": len(regions), "below_floor": below, "disconnected": disconnected,
            "unassigned": int((~inr).sum()),
            "ok": below == 0 and disconnected == 0}


def run_compare(n: int, floor: int, spopt_repeat: int, repeat: int) -> None:
    from libpysal.weights import W

    layers = city(n, seed=1)
    comp = layers["compounds"]
    elig = classify(comp, rules=RULES)["eligibility"] == "eligible"
    comp = comp[elig.to_numpy()].reset_index(drop=True)
    comp = comp[comp["households"].notna()].reset_index(drop=True)
    m = len(comp)
    households = comp["households"].to_numpy(dtype=float)
    # gisplan: no district, no ceiling, no span: the same problem as max-p (floor only),
    # and, like max-p, as many bundles as possible (grow each to the floor)
    opts = {"level": None, "min_households": floor, "max_households": 10**9,
            "max_span_m": 1e9, "target_households": floor}
    bundle_compounds(comp, **opts)  # warm-up: first-call imports are not bundling time
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        res = bundle_compounds(comp, **opts)
        times.append(time.perf_counter() - t)
    t_ours = statistics.median(times)
    ids = comp["compound_id"].astype(str).to_numpy()
    pos = {c: k for k, c in enumerate(ids)}
    a = res.adjacency
    ai = a["compound_a"].map(pos).to_numpy()
    aj = a["compound_b"].map(pos).to_numpy()
    adj = sp.csr_array((np.ones(2 * len(ai)), (np.r_[ai, aj], np.r_[aj, ai])), shape=(m, m))
    lab_ours = np.full(m, -1)
    bid = {b: k for k, b in enumerate(res.bundles["bundle_id"])}
    lab_ours[res.members["compound_id"].map(pos).to_numpy()] = (
        res.members["bundle_id"].map(bid).to_numpy())
    check_ours = constraint_check(lab_ours, households, adj, floor)
    print(f"n={m} eligible compounds (of a {n}-compound city), floor {floor} households")
    print(f"  gisplan: median {t_ours:.3f} s of {repeat} "
          f"({', '.join(f'{x:.3f}' for x in times)}); {check_ours}")

    try:
        from spopt.region import MaxPHeuristic
    except ImportError:
        print("  spopt not installed: pip install spopt")
        return
    neighbors: dict[int, list[int]] = {k: [] for k in range(m)}
    for i, j in zip(ai.tolist(), aj.tolist(), strict=True):
        neighbors[i].append(j)
        neighbors[j].append(i)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = W(neighbors, silence_warnings=True)
    metric = to_metric(comp)
    rep = metric.geometry.representative_point()
    data = metric.assign(x=rep.x, y=rep.y, households=households)
    stimes = []
    model = None
    for _ in range(spopt_repeat):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MaxPHeuristic(data, w, ["x", "y"], "households", floor, top_n=2)
            model.solve()
        stimes.append(time.perf_counter() - t)
    t_spopt = statistics.median(stimes)
    lab_sp = np.asarray(model.labels_)  # type: ignore[union-attr]
    # MaxP labels regions 1..p; areas it could not place are 0 (or -1 in some versions)
    lab_sp = np.where(lab_sp > 0, lab_sp, -1)
    check_sp = constraint_check(lab_sp, households, adj, floor)
    print(f"  spopt MaxPHeuristic: median {t_spopt:.2f} s of {spopt_repeat} "
          f"({', '.join(f'{x:.2f}' for x in stimes)}); {check_sp}")
    print(f"  time ratio spopt / gisplan: {t_spopt / t_ours:.0f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compare", default="500,2000",
                    help="compound counts for the spopt comparison ('' to skip)")
    ap.add_argument("--floor", type=int, default=300, help="household floor per bundle")
    ap.add_argument("--spopt-repeat", default="1",
                    help="spopt runs per size: one number, or one per --compare size ('3,1')")
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args()
    print(machine())
    if not args.skip_large:
        run_large(args.n, args.repeat)
    sizes = [int(part) for part in args.compare.split(",") if part]
    spopt_runs = [int(part) for part in args.spopt_repeat.split(",")]
    spopt_runs += spopt_runs[-1:] * (len(sizes) - len(spopt_runs))
    for size, runs in zip(sizes, spopt_runs, strict=False):
        run_compare(size, args.floor, runs, max(args.repeat, 3))


if __name__ == "__main__":
    main()
