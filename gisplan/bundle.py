"""连片改造 bundling: group adjacent compounds into bundles a programme can renovate together.

Planners are asked to renovate neighbouring compounds and whole 片区 together (Xuchang 2023
"相邻小区及周边地区联动改造、整个片区联动改造"; Guyuan 2022 "一片区一方案"). A bundle is a
set of candidate compounds, connected by adjacency edges, inside one district of the chosen
level, with at least ``min_households`` and at most ``max_households`` households and a span
(diagonal of the members' bounding box, an upper bound of the largest distance between two
points of the bundle) of at most ``max_span_m``.

Rules (``gisplan/data/rules.toml``, see :mod:`gisplan.eligibility`): by default the national
baseline (built by the end of 2000; never already centrally funded or planned for
demolition). A programme names its own rule set; with Guyuan's (``guyuan_2022``), compounds
built 2001–2005 enter only a bundle in which one of their adjacent compounds is eligible,
and all of them together stay within 15 % of the bundled households. The result says which
rule set was applied. Every candidate compound ends in exactly one bundle or in the
standalone list with a reason.

The algorithm (:func:`bundle_core`, on arrays):

1. keep adjacency edges between active compounds of the same district;
2. connected components (``scipy.sparse.csgraph``); a component within the limits is a bundle;
3. a component that breaks ``max_households`` or ``max_span_m`` is split by region growing:
   seeds are taken west to east (the most western unassigned eligible compound: an extreme
   point), and a bundle grows along adjacency edges, nearest first, where the distance to
   the seed is divided by ``1 + lines shared with the bundle`` (so members that share utility
   lines are preferred), while the limits hold;
4. bundles below ``min_households`` are merged into an adjacent bundle where the limits
   allow, else their members join adjacent bundles one by one, else they are standalone;
5. the 15 % cap is checked on the result and 2001–2005 compounds with the weakest ties are
   taken out until it holds (bundles they leave are re-checked).

Everything is deterministic: ties are broken by position. The GeoDataFrame adapter is
:func:`bundle_compounds`; :func:`bundle_project` reads and writes a programme store.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components

from gisplan._errors import ConstraintError
from gisplan.adjacency import DEFAULT_GAP_M, Adjacency
from gisplan.eligibility import Rules
from gisplan.join import group_join, group_join_codes

if TYPE_CHECKING:
    import geopandas as gpd

    from gisplan.findings import Report
    from gisplan.sources import ProgrammeLike

#: member roles (why a compound is in its bundle)
ROLES = ("component", "seed", "grown", "merged", "absorbed")
ROLE_ZH = {"component": "整个相邻片组", "seed": "起始小区", "grown": "相邻扩展",
           "merged": "小片合并", "absorbed": "就近并入"}

CONDITIONAL_KEY = "conditional_2001_2005"
#: added to the explanation of a 2001–2005 member
COND_WHY_ZH = "；2001—2005年建成，随相邻符合条件小区联动改造"
COND_WHY_EN = "; built 2001–2005, joins with eligible neighbours"

#: standalone reasons: code -> (zh, en)
STANDALONE_REASONS: dict[str, tuple[str, str]] = {
    "not_candidate": ("不在候选范围", "not a candidate"),
    "households_missing": ("缺少户数，无法校核户数约束（请补充“户数”）",
                           "households missing: the household limits cannot be checked "
                           "(fill in 户数 households)"),
    "geometry_missing": ("缺少或空的图形，无法判断相邻关系",
                         "geometry missing or empty: adjacency cannot be determined"),
    "households_exceed_max": ("单个小区户数超过每片上限，单独改造",
                              "households alone exceed the bundle maximum: renovate alone"),
    "span_exceeds_max": ("单个小区范围超过每片最大跨度，单独改造",
                         "the compound alone is wider than the maximum span: renovate alone"),
    "conditional_no_eligible_neighbour": (
        "2001—2005年建成，但没有可同片改造的相邻符合条件小区",
        "built 2001–2005 and no eligible neighbour to be bundled with"),
    "household_cap_2001_2005": ("2001—2005年建成小区户数占比超过15%上限",
                                "built 2001–2005: over the 15 % household cap"),
    "below_min_households": ("与相邻小区合计户数仍不足每片下限，单独改造",
                             "with its adjacent candidates still below the household floor: "
                             "renovate alone"),
}


@dataclass
class CoreResult:
    """Labels from :func:`bundle_core`.

    Attributes
    ----------
    label : ndarray of int
        Bundle number per compound (0, 1, ... in a deterministic order), -1 when not in a
        bundle.
    reason : ndarray of str
        Standalone reason code (see :data:`STANDALONE_REASONS`), ``""`` for bundled
        compounds; ``not_candidate`` for compounds that were never candidates.
    role : ndarray of str
        How a bundled compound got into its bundle (see :data:`ROLES`), ``""`` otherwise.
    link : ndarray of int
        For a bundled compound, an adjacent member of the same bundle (the one sharing most
        utility lines, then the nearest), -1 when it is alone in its bundle.
    link_edge : ndarray of int
        Position of that edge in the adjacency arrays, -1 when none.
    """

    label: NDArray[np.int64]
    reason: NDArray[np.object_]
    role: NDArray[np.object_]
    link: NDArray[np.int64]
    link_edge: NDArray[np.int64]
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def n_bundles(self) -> int:
        """Number of bundles."""
        return int(self.label.max()) + 1 if len(self.label) and self.label.max() >= 0 else 0


def _bbox_diag(b: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.hypot(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1])


class _Bundler:
    """State of one bundling run (labels, per-bundle households and bounding boxes)."""

    def __init__(self, *, households: NDArray[np.float64], xy: NDArray[np.float64],
                 bounds: NDArray[np.float64], status: NDArray[np.int8],
                 indptr: list[int], indices: list[int], shared: list[float],
                 min_h: float, max_h: float, max_span: float, target_h: float) -> None:
        n = len(households)
        self.n = n
        self.h = households
        self.hl = households.tolist()
        self.x = xy[:, 0].tolist()
        self.y = xy[:, 1].tolist()
        self.bounds = bounds
        self.bl = bounds.tolist()
        self.status = status.tolist()
        self.indptr, self.indices, self.shared = indptr, indices, shared
        self.min_h, self.max_h, self.max_span = min_h, max_h, max_span
        self.target_h = target_h
        self.label = [-1] * n
        self.role = [""] * n
        self.lab_h: list[float] = []
        self.lab_bb: list[list[float]] = []
        self.lab_alive: list[bool] = []
        self.members: list[list[int]] = []

    # ---------------------------------------------------------------- helpers
    def new_label(self, nodes: list[int], role: str) -> int:
        lab = len(self.lab_h)
        self.lab_h.append(0.0)
        self.lab_bb.append([np.inf, np.inf, -np.inf, -np.inf])
        self.lab_alive.append(True)
        self.members.append([])
        for v in nodes:
            self.add(lab, v, role)
        return lab

    def add_components(self, nodes: NDArray[np.int64], bounds: NDArray[np.int64]) -> None:
        """Make each run ``nodes[bounds[g]:bounds[g + 1]]`` a new bundle (role component).

        The array form of calling :meth:`new_label` per run: same labels, sums and boxes.
        """
        k = len(bounds) - 1
        if k <= 0:
            return
        first = len(self.lab_h)
        grp = np.repeat(np.arange(k), np.diff(bounds))
        h = np.bincount(grp, weights=self.h[nodes], minlength=k)
        bb = np.column_stack([np.full(k, np.inf), np.full(k, np.inf),
                              np.full(k, -np.inf), np.full(k, -np.inf)])
        np.minimum.at(bb[:, 0], grp, self.bounds[nodes, 0])
        np.minimum.at(bb[:, 1], grp, self.bounds[nodes, 1])
        np.maximum.at(bb[:, 2], grp, self.bounds[nodes, 2])
        np.maximum.at(bb[:, 3], grp, self.bounds[nodes, 3])
        for v, lab in zip(nodes.tolist(), (grp + first).tolist(), strict=True):
            self.label[v] = lab
            self.role[v] = "component"
        self.lab_h.extend(h.tolist())
        self.lab_bb.extend(bb.tolist())
        self.lab_alive.extend([True] * k)
        self.members.extend(part.tolist() for part in np.split(nodes, bounds[1:-1]))

    def add(self, lab: int, v: int, role: str) -> None:
        self.label[v] = lab
        self.role[v] = role
        self.members[lab].append(v)
        self.lab_h[lab] += self.hl[v]
        bb, b = self.lab_bb[lab], self.bl[v]
        bb[0], bb[1] = min(bb[0], b[0]), min(bb[1], b[1])
        bb[2], bb[3] = max(bb[2], b[2]), max(bb[3], b[3])

    def fits(self, lab: int, h: float, b: list[float]) -> bool:
        if self.lab_h[lab] + h > self.max_h:
            return False
        bb = self.lab_bb[lab]
        w = max(bb[2], b[2]) - min(bb[0], b[0])
        t = max(bb[3], b[3]) - min(bb[1], b[1])
        return bool((w * w + t * t) ** 0.5 <= self.max_span)

    def has_eligible_neighbour_in(self, v: int, lab: int) -> bool:
        label, status, indices = self.label, self.status, self.indices
        for k in range(self.indptr[v], self.indptr[v + 1]):
            u = indices[k]
            if label[u] == lab and status[u] == 1:
                return True
        return False

    def dissolve(self, lab: int) -> list[int]:
        nodes = self.members[lab]
        for v in nodes:
            self.label[v] = -1
            self.role[v] = ""
        self.members[lab] = []
        self.lab_alive[lab] = False
        self.lab_h[lab] = 0.0
        return nodes

    # ---------------------------------------------------------------- growing
    def grow_component(self, nodes: list[int], order_rank: NDArray[np.int64]) -> None:
        """Split one too-large component into bundles by seeded region growing.

        This is the one Python loop of bundling (a priority queue per bundle); it is
        written with local variables only, as it runs once per compound.
        """
        nodes = sorted(nodes, key=lambda v: order_rank[v])
        label, status, hl, bl = self.label, self.status, self.hl, self.bl
        indptr, indices, shared = self.indptr, self.indices, self.shared
        x, y = self.x, self.y
        max_h, max_span2, target = self.max_h, self.max_span ** 2, self.target_h
        role, lab_h = self.role, self.lab_h
        heappush, heappop = heapq.heappush, heapq.heappop
        inf = float("inf")
        for seed in nodes:
            if label[seed] != -1 or status[seed] != 1 or hl[seed] > max_h:
                continue
            lab = self.new_label([seed], "seed")
            bb = self.lab_bb[lab]
            members = self.members[lab]
            sx, sy = x[seed], y[seed]
            acc: dict[int, float] = {}
            best: dict[int, float] = {}
            heap: list[tuple[float, int]] = []
            tried: set[int] = set()
            v = seed
            while lab_h[lab] < target:
                # push the unassigned neighbours of v (new member or the seed)
                s0, e0 = indptr[v], indptr[v + 1]
                for u, w in zip(indices[s0:e0], shared[s0:e0], strict=True):
                    if label[u] != -1 or u in tried:
                        continue
                    a = acc.get(u, 0.0)
                    if w:
                        a += w
                        acc[u] = a
                    dx, dy = x[u] - sx, y[u] - sy
                    d = (dx * dx + dy * dy) ** 0.5 / (1.0 + a)
                    if d < best.get(u, inf):
                        best[u] = d
                        heappush(heap, (d, u))
                # pop the nearest neighbour that fits
                v = -1
                while heap:
                    d, u = heappop(heap)
                    if label[u] != -1 or u in tried or best.get(u) != d:
                        continue
                    # span with u: conditional expressions rather than min()/max()
                    # calls (this test runs for every candidate popped)
                    b0, b1, b2, b3 = bl[u]
                    c0, c1, c2, c3 = bb
                    wdt = (c2 if c2 > b2 else b2) - (c0 if c0 < b0 else b0)
                    hgt = (c3 if c3 > b3 else b3) - (c1 if c1 < b1 else b1)
                    if lab_h[lab] + hl[u] > max_h or wdt * wdt + hgt * hgt > max_span2:
                        tried.add(u)
                        continue
                    if status[u] == 2 and not self.has_eligible_neighbour_in(u, lab):
                        # admissible once an eligible neighbour joins: pushed again then
                        del best[u]
                        continue
                    v = u
                    break
                if v < 0:
                    break
                # self.add(lab, v, "grown"), inlined: this runs once per compound
                label[v] = lab
                role[v] = "grown"
                members.append(v)
                lab_h[lab] += hl[v]
                b0, b1, b2, b3 = bl[v]
                if b0 < bb[0]:
                    bb[0] = b0
                if b1 < bb[1]:
                    bb[1] = b1
                if b2 > bb[2]:
                    bb[2] = b2
                if b3 > bb[3]:
                    bb[3] = b3

    # ---------------------------------------------------------------- merging
    def neighbour_labels(self, lab: int) -> dict[int, float]:
        """Adjacent bundles of *lab* and the utility lines shared with each."""
        out: dict[int, float] = {}
        label, indices, shared = self.label, self.indices, self.shared
        for v in self.members[lab]:
            for k in range(self.indptr[v], self.indptr[v + 1]):
                m = label[indices[k]]
                if m != -1 and m != lab:
                    out[m] = out.get(m, 0.0) + shared[k] + 1e-9
        return out

    def merge_small(self) -> None:
        """Merge bundles below the floor into adjacent ones, then member by member."""
        changed = True
        while changed:
            changed = False
            small = [lab for lab in range(len(self.lab_h))
                     if self.lab_alive[lab] and self.lab_h[lab] < self.min_h]
            small.sort(key=lambda lab: (self.lab_h[lab], lab))
            for lab in small:
                if not self.lab_alive[lab] or self.lab_h[lab] >= self.min_h:
                    continue
                options = []
                bb = self.lab_bb[lab]
                for m, s in self.neighbour_labels(lab).items():
                    if not self.fits(m, self.lab_h[lab], bb):
                        continue
                    ob = self.lab_bb[m]
                    span = float(np.hypot(max(ob[2], bb[2]) - min(ob[0], bb[0]),
                                          max(ob[3], bb[3]) - min(ob[1], bb[1])))
                    options.append((-s, span, m))
                if not options:
                    continue
                _, _, target = min(options)
                for v in self.dissolve(lab):
                    self.add(target, v, "merged")
                changed = True
        # member by member: members of bundles still below the floor join adjacent bundles
        small = [lab for lab in range(len(self.lab_h))
                 if self.lab_alive[lab] and self.lab_h[lab] < self.min_h]
        loose: list[int] = []
        for lab in sorted(small):
            loose.extend(self.dissolve(lab))
        self.absorb(loose)

    def absorb(self, loose: list[int]) -> list[int]:
        """Let unassigned compounds join an adjacent bundle with room; return the rest."""
        label, indices, shared, status = self.label, self.indices, self.shared, self.status
        remaining = sorted(loose)
        changed = True
        while changed and remaining:
            changed = False
            rest = []
            for v in remaining:
                options: dict[int, float] = {}
                for k in range(self.indptr[v], self.indptr[v + 1]):
                    m = label[indices[k]]
                    if m != -1 and self.lab_h[m] >= self.min_h:
                        options[m] = options.get(m, 0.0) + shared[k] + 1e-9
                choice = None
                for m, _ in sorted(options.items(), key=lambda t: (-t[1], t[0])):
                    if not self.fits(m, self.hl[v], self.bl[v]):
                        continue
                    if status[v] == 2 and not self.has_eligible_neighbour_in(v, m):
                        continue
                    choice = m
                    break
                if choice is None:
                    rest.append(v)
                else:
                    self.add(choice, v, "absorbed")
                    changed = True
            remaining = rest
        return remaining


def bundle_core(
    households: NDArray[Any],
    xy: NDArray[Any],
    bounds: NDArray[Any],
    adjacency: Adjacency,
    *,
    status: NDArray[Any],
    district: NDArray[Any] | None = None,
    shared: NDArray[Any] | None = None,
    min_households: float = 300,
    max_households: float = 3000,
    max_span_m: float = 1000.0,
    target_households: float | None = None,
    household_cap: float | None = 0.15,
) -> CoreResult:
    """Partition candidate compounds into bundles (array core).

    Parameters
    ----------
    households : ndarray of float
        Households per compound; NaN makes a candidate standalone (``households_missing``).
    xy : ndarray, shape (n, 2)
        Representative points in metres (compactness).
    bounds : ndarray, shape (n, 4)
        Bounding boxes ``minx, miny, maxx, maxy`` in metres (span).
    adjacency : Adjacency
        Edges between compounds (:func:`gisplan.adjacency.adjacency`).
    status : ndarray of int
        0 not a candidate, 1 eligible, 2 built 2001–2005 (conditional), see
        :data:`gisplan.eligibility.CODE`.
    district : ndarray of int, optional
        District code per compound; bundles never cross codes. -1 (outside every
        district) is a code of its own. None: bundles may cross districts.
    shared : ndarray of float, optional
        Utility lines shared by the two compounds of each edge (preference weight);
        None: no lines are shared.
    min_households, max_households : float
        Household floor and ceiling per bundle.
    max_span_m : float
        Largest bounding-box diagonal of a bundle, metres.
    target_households : float, optional
        A bundle stops growing once it has this many households; None: grow up to
        ``max_households``. Set it to the floor for as many bundles as possible (the
        max-p objective); bundles left below the floor are still merged up to the ceiling.
    household_cap : float or None, default 0.15
        Largest share of bundled households in 2001–2005 compounds; None (or 1.0) for no
        cap.

    Returns
    -------
    CoreResult

    Examples
    --------
    >>> import shapely
    >>> from gisplan.adjacency import adjacency
    >>> boxes = shapely.box([0, 100, 200], 0, [100, 200, 300], 100)
    >>> res = bundle_core(np.full(3, 200.0), shapely.get_coordinates(shapely.centroid(boxes)),
    ...                   shapely.bounds(boxes), adjacency(boxes), status=np.ones(3),
    ...                   min_households=300, max_households=450)
    >>> res.label.tolist(), res.reason.tolist()
    ([0, 0, -1], ['', '', 'below_min_households'])
    """
    n = len(households)
    cap = _check_limits(min_households, max_households, max_span_m, household_cap)
    target = float(max_households if target_households is None
                   else min(max(target_households, min_households), max_households))
    h = np.asarray(households, dtype=float)
    xy = np.asarray(xy, dtype=float)
    bounds = np.asarray(bounds, dtype=float)
    status, reason = _screen(h, xy, bounds, np.asarray(status, dtype=np.int8).copy(),
                             max_households=max_households, max_span_m=max_span_m)
    h0 = np.nan_to_num(h)
    ei, ej = adjacency.i, adjacency.j
    w = np.zeros(len(ei)) if shared is None else np.asarray(shared, dtype=float)
    same = np.ones(len(ei), dtype=bool) if district is None else (
        np.asarray(district)[ei] == np.asarray(district)[ej])
    cond_rank = _admit_conditional(status, reason, h0, ei, ej, w, same, cap)

    active_edge = same & (status[ei] > 0) & (status[ej] > 0)
    edge_pos = np.flatnonzero(active_edge)
    aw = w[active_edge]
    # sweep order: west to east, then south to north, then position
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), xy[:, 1], xy[:, 0]))] = np.arange(n)
    b = _bundler(h0, xy, bounds, status, ei[active_edge], ej[active_edge], aw,
                 min_h=float(min_households), max_h=float(max_households),
                 max_span=float(max_span_m), target_h=target)
    _bundle_components(b, status, h0, bounds, rank, target=target, max_span_m=max_span_m)
    b.merge_small()
    if cap is not None:
        _enforce_cap(b, h0, status, reason, cond_rank, cap)

    label = np.asarray(b.label, dtype=np.int64)
    role = np.asarray(b.role, dtype=object)
    leftover_mask = (label < 0) & (reason == "")
    reason[leftover_mask & (status == 2)] = "conditional_no_eligible_neighbour"
    reason[leftover_mask & (status != 2)] = "below_min_households"
    label, n_bundles = _renumber(label, rank, district)
    link, link_edge = _links(label, adjacency, edge_pos, aw)
    stats = {
        "candidates": int(((reason != "not_candidate")).sum()),
        "bundled": int((label >= 0).sum()),
        "standalone": int(((label < 0) & (reason != "not_candidate")).sum()),
        "bundles": n_bundles,
    }
    return CoreResult(label=label, reason=reason, role=role, link=link, link_edge=link_edge,
                      stats=stats)


def _check_limits(min_households: float, max_households: float, max_span_m: float,
                  household_cap: float | None) -> float | None:
    """Check the bundle limits; return the cap to apply (None: no cap)."""
    if min_households > max_households:
        raise ConstraintError(
            f"min_households ({min_households}) is larger than max_households "
            f"({max_households}); lower the floor or raise the ceiling")
    if max_span_m <= 0:
        raise ConstraintError(f"max_span_m must be positive, got {max_span_m}")
    if household_cap is None:
        return None
    if not 0.0 <= household_cap <= 1.0:
        raise ConstraintError(f"household_cap must be a share between 0 and 1, got {household_cap}")
    return None if household_cap >= 1.0 else float(household_cap)


def _screen(h: NDArray[np.float64], xy: NDArray[np.float64], bounds: NDArray[np.float64],
            status: NDArray[np.int8], *, max_households: float, max_span_m: float
            ) -> tuple[NDArray[np.int8], NDArray[np.object_]]:
    """Take out candidates that cannot be bundled; return the status and reason codes."""
    reason = np.full(len(h), "", dtype=object)
    reason[status == 0] = "not_candidate"
    geom_bad = np.isnan(bounds).any(axis=1) | np.isnan(xy).any(axis=1)
    for mask, code in (
        ((status > 0) & geom_bad, "geometry_missing"),
        ((status > 0) & ~geom_bad & np.isnan(h), "households_missing"),
        ((status > 0) & (h > max_households), "households_exceed_max"),
        ((status > 0) & (_bbox_diag(np.nan_to_num(bounds)) > max_span_m), "span_exceeds_max"),
    ):
        mask &= reason == ""
        reason[mask] = code
        status[mask] = 0
    return status, reason


def _admit_conditional(status: NDArray[np.int8], reason: NDArray[np.object_],
                       h0: NDArray[np.float64], ei: NDArray[np.int64], ej: NDArray[np.int64],
                       w: NDArray[np.float64], same: NDArray[np.bool_], cap: float | None
                       ) -> NDArray[np.int64]:
    """2001–2005 compounds: need an eligible neighbour, then the cap on the eligible total.

    Updates *status* and *reason* in place; returns each compound's rank among the
    admitted conditional ones (strongest ties first; ``n`` for the others).
    """
    n = len(status)
    cond = np.flatnonzero(status == 2)
    if len(cond):
        base = same & (status[ei] > 0) & (status[ej] > 0)
        e1 = base & (status[ei] == 2) & (status[ej] == 1)
        e2 = base & (status[ej] == 2) & (status[ei] == 1)
        n_elig = (np.bincount(ei[e1], minlength=n) + np.bincount(ej[e2], minlength=n))
        w_elig = (np.bincount(ei[e1], weights=w[e1], minlength=n)
                  + np.bincount(ej[e2], weights=w[e2], minlength=n))
        lonely = cond[n_elig[cond] == 0]
        reason[lonely] = "conditional_no_eligible_neighbour"
        status[lonely] = 0
        cond = cond[n_elig[cond] > 0]
        priority = np.lexsort((cond, h0[cond], -w_elig[cond], -n_elig[cond]))
        cond = cond[priority]
        if cap is not None and len(cond):
            budget = cap / (1.0 - cap) * h0[status == 1].sum()
            used_h = 0.0
            for v in cond.tolist():
                if used_h + h0[v] <= budget + 1e-9:
                    used_h += h0[v]
                else:
                    reason[v] = "household_cap_2001_2005"
                    status[v] = 0
    cond_rank = np.full(n, n, dtype=np.int64)
    cond_rank[cond] = np.arange(len(cond))
    return cond_rank


def _bundler(h0: NDArray[np.float64], xy: NDArray[np.float64], bounds: NDArray[np.float64],
             status: NDArray[np.int8], ai: NDArray[np.int64], aj: NDArray[np.int64],
             aw: NDArray[np.float64], **limits: float) -> _Bundler:
    """Return a :class:`_Bundler` on the active edges (both directions, as CSR lists)."""
    n = len(h0)
    rows = np.concatenate([ai, aj])
    cols = np.concatenate([aj, ai])
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    wdir = np.concatenate([aw, aw])[order]
    indptr = np.searchsorted(rows, np.arange(n + 1)).tolist()
    return _Bundler(households=h0, xy=np.nan_to_num(xy), bounds=np.nan_to_num(bounds),
                    status=status, indptr=indptr, indices=cols.tolist(), shared=wdir.tolist(),
                    **limits)


def _bundle_components(b: _Bundler, status: NDArray[np.int8], h0: NDArray[np.float64],
                       bounds: NDArray[np.float64], rank: NDArray[np.int64], *,
                       target: float, max_span_m: float) -> None:
    """Make connected components within the limits bundles; grow the others."""
    n = b.n
    rows = np.repeat(np.arange(n), np.diff(b.indptr))
    graph = sp.csr_array((np.ones(len(rows)), (rows, np.asarray(b.indices, dtype=np.int64))),
                         shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    act = np.flatnonzero(status > 0)
    comp_a = comp[act]
    ncomp = int(comp.max()) + 1 if n else 0
    ch = np.bincount(comp_a, weights=h0[act], minlength=ncomp)
    cb = np.column_stack([
        np.full(ncomp, np.inf), np.full(ncomp, np.inf),
        np.full(ncomp, -np.inf), np.full(ncomp, -np.inf)])
    np.minimum.at(cb[:, 0], comp_a, bounds[act, 0])
    np.minimum.at(cb[:, 1], comp_a, bounds[act, 1])
    np.maximum.at(cb[:, 2], comp_a, bounds[act, 2])
    np.maximum.at(cb[:, 3], comp_a, bounds[act, 3])
    n_elig_comp = np.bincount(comp_a, weights=(status[act] == 1), minlength=ncomp)
    ok = (ch <= target) & (_bbox_diag(cb) <= max_span_m) & (n_elig_comp > 0)

    # whole components within the limits: one bundle each (vectorised labelling)
    whole = act[ok[comp_a]]
    gw = whole[np.lexsort((rank[whole], comp[whole]))]
    bounds_list: list[int] = [0]
    if len(gw):
        starts = np.flatnonzero(np.r_[True, comp[gw][1:] != comp[gw][:-1]])
        bounds_list = np.r_[starts, len(gw)].astype(int).tolist()
    b.add_components(gw, np.asarray(bounds_list, dtype=np.int64))

    # components that break a limit: region growing
    big = act[~ok[comp_a]]
    if len(big):
        gb = big[np.lexsort((rank[big], comp[big]))]
        st = np.flatnonzero(np.r_[True, comp[gb][1:] != comp[gb][:-1]])
        gbl = gb.tolist()
        for s, e in pairwise(np.r_[st, len(gb)].tolist()):
            b.grow_component(gbl[s:e], rank)
        b.absorb([v for v in gbl if b.label[v] == -1])


def _enforce_cap(b: _Bundler, h0: NDArray[np.float64], status: NDArray[np.int8],
                 reason: NDArray[np.object_], cond_rank: NDArray[np.int64], cap: float) -> None:
    """Apply the cap on the bundled households: take out the weakest 2001–2005 members."""
    for _ in range(b.n + 1):
        lab = np.asarray(b.label)
        inb = lab >= 0
        total = h0[inb].sum()
        cmask = inb & (status == 2)
        if total <= 0 or h0[cmask].sum() <= cap * total + 1e-9:
            break
        victims = np.flatnonzero(cmask)
        victims = victims[np.argsort(-cond_rank[victims], kind="stable")]
        excess = h0[cmask].sum() - cap * total
        removed = 0.0
        touched = set()
        for v in victims.tolist():
            # removing r conditional households meets the cap once r >= excess / (1 - cap)
            if removed >= excess / (1.0 - cap):
                break
            lv = b.label[v]
            b.members[lv].remove(v)
            b.lab_h[lv] -= b.hl[v]
            b.label[v] = -1
            b.role[v] = ""
            reason[v] = "household_cap_2001_2005"
            status[v] = 0
            b.status[v] = 0
            removed += h0[v]
            touched.add(lv)
        _resplit(b, sorted(touched))
        b.merge_small()


def _renumber(label: NDArray[np.int64], rank: NDArray[np.int64],
              district: NDArray[Any] | None) -> tuple[NDArray[np.int64], int]:
    """Renumber bundles by district, then by their most western member."""
    used = np.unique(label[label >= 0])
    if not len(used):
        return label, 0
    first_rank = np.full(int(label.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(first_rank, label[label >= 0], rank[label >= 0])
    dcode = np.zeros(int(label.max()) + 1, dtype=np.int64)
    if district is not None:
        dist_arr = np.asarray(district, dtype=np.int64)
        dcode[label[label >= 0]] = dist_arr[label >= 0]
    new_order = used[np.lexsort((first_rank[used], dcode[used]))]
    remap = np.full(int(label.max()) + 1, -1, dtype=np.int64)
    remap[new_order] = np.arange(len(new_order))
    return np.where(label >= 0, remap[np.maximum(label, 0)], -1), len(used)


def _resplit(b: _Bundler, labels: list[int]) -> None:
    """Split bundles that lost members into their connected pieces."""
    for lab in labels:
        nodes = b.members[lab]
        if not nodes:
            b.lab_alive[lab] = False
            continue
        node_set = set(nodes)
        seen: set[int] = set()
        pieces = []
        for s in sorted(nodes):
            if s in seen:
                continue
            stack, piece = [s], []
            seen.add(s)
            while stack:
                v = stack.pop()
                piece.append(v)
                for k in range(b.indptr[v], b.indptr[v + 1]):
                    u = b.indices[k]
                    if u in node_set and u not in seen and b.status[u] > 0:
                        seen.add(u)
                        stack.append(u)
            pieces.append(piece)
        roles = {v: b.role[v] for v in nodes}
        b.dissolve(lab)
        for piece in pieces:
            new = b.new_label([], "")
            for v in piece:
                b.add(new, v, roles[v])


def _links(label: NDArray[np.int64], adj: Adjacency, edge_pos: NDArray[np.int64],
           shared: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """For each bundled compound, the adjacent member sharing most lines, then nearest."""
    n = len(label)
    link = np.full(n, -1, dtype=np.int64)
    link_edge = np.full(n, -1, dtype=np.int64)
    if len(edge_pos) == 0:
        return link, link_edge
    i, j = adj.i[edge_pos], adj.j[edge_pos]
    inside = (label[i] >= 0) & (label[i] == label[j])
    pos = edge_pos[inside]
    i, j, w, g = i[inside], j[inside], shared[inside], adj.gap_m[pos]
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    ww = np.concatenate([w, w])
    gg = np.concatenate([g, g])
    pp = np.concatenate([pos, pos])
    order = np.lexsort((dst, gg, -ww, src))
    src, dst, pp = src[order], dst[order], pp[order]
    first = np.r_[True, src[1:] != src[:-1]] if len(src) else np.zeros(0, bool)
    link[src[first]] = dst[first]
    link_edge[src[first]] = pp[first]
    return link, link_edge


# ==================================================================== GeoDataFrame adapter
@dataclass
class BundleResult:
    """Result of :func:`bundle_compounds`.

    Attributes
    ----------
    bundles : geopandas.GeoDataFrame
        One row per bundle: dissolved geometry and figures (layer ``bundles``).
    members : pandas.DataFrame
        One row per bundled compound with why it is there (table ``bundle_members``).
    standalone : pandas.DataFrame
        One row per compound not in a bundle, with the reason (table ``bundle_standalone``);
        compounds that were never candidates are listed too, with their eligibility reason.
    adjacency : geopandas.GeoDataFrame
        Adjacency edges (layer ``adjacency``): compound ids, reason, gap, shared lines,
        and whether both ends are in the same bundle; geometry is the line between the
        representative points.
    report : Report
        Findings (flagged rows) and rows in/out.
    options : dict
        The options used (written to the store's metadata), ``rules`` among them.
    rules : Rules
        The eligibility rule set applied (:mod:`gisplan.eligibility`).
    rules_chosen_by : str
        Why this rule set: given by the caller, or read from the programme.
    """

    bundles: gpd.GeoDataFrame
    members: pd.DataFrame
    standalone: pd.DataFrame
    adjacency: gpd.GeoDataFrame
    report: Report
    options: dict[str, Any]
    rules: Rules
    rules_chosen_by: str = "given to bundle_compounds"

    def layers(self) -> dict[str, Any]:
        """Return the store layers: ``bundles``, ``bundle_members``, ... ."""
        return {"bundles": self.bundles, "bundle_members": self.members,
                "bundle_standalone": self.standalone, "adjacency": self.adjacency}


LEVELS = ("pianqu", "street", "county")
#: district level a bundle stays inside; None lets bundles cross districts
Level: TypeAlias = Literal["pianqu", "street", "county"]
#: ``"rules"``: the cap of the rule set; a share 0–1; None: no cap
HouseholdCap: TypeAlias = "float | Literal['rules'] | None"

_LEVEL_COLUMN = {"pianqu": "district", "street": "street", "county": "county"}


def bundle_compounds(
    compounds: gpd.GeoDataFrame,
    *,
    utilities: gpd.GeoDataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    level: Level | None = "pianqu",
    gap_m: float = DEFAULT_GAP_M,
    min_households: int = 300,
    max_households: int = 3000,
    max_span_m: float = 1000.0,
    target_households: int | None = None,
    utility_margin_m: float = 10.0,
    rules: Rules | str | None = None,
    household_cap: HouseholdCap = "rules",
    missing_households: Literal["standalone", "zero"] = "standalone",
    dissolve: bool = True,
) -> BundleResult:
    """Group adjacent candidate compounds into bundles (连片打包).

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Canonical ``compounds`` layer (``compound_id``, ``households``, ``built_year``,
        ...), any CRS; projected to the analysis CRS (:func:`gisplan.crs.analysis_crs`).
    utilities : geopandas.GeoDataFrame, optional
        ``utilities`` lines: bundles prefer members that share lines, and list the owners
        to bring to the table. None: no lines.
    districts : geopandas.GeoDataFrame, optional
        ``districts`` polygons with ``level``. When given, each compound's district is the
        one with the largest overlap (:func:`gisplan.join.join_districts`); None: the
        compound's own column (``district`` 片区, ``street`` 街道, ``county`` 县区) is used.
    barriers : GeoDataFrame or GeoSeries, optional
        Lines no bundle may cross (arterial roads, rivers, railways). None: no barriers.
    level : {"pianqu", "street", "county"} or None, default "pianqu"
        Bundles stay inside one district of this level; None lets them cross districts.
    gap_m : float, default 20.0
        Largest gap between two adjacent compounds (about one local street, 支路).
    min_households, max_households : int, default 300 and 3000
        Household floor and ceiling per bundle.
    max_span_m : float, default 1000.0
        Largest span of a bundle (bounding-box diagonal), metres: a 15-minute life circle.
    target_households : int, optional
        Households at which a growing bundle stops; None: the ceiling. Smaller values give
        more, smaller bundles.
    utility_margin_m : float, default 10.0
        Margin around each compound within which a utility line counts as serving it.
    rules : Rules or str, optional
        Rule set (or its name in ``rules.toml``); None: the default rule set, the national
        baseline ``national_2020``. A programme's own set is chosen by
        :func:`bundle_project` from its metadata.
    household_cap : float, "rules" or None, default "rules"
        Largest share of bundled households in 2001–2005 compounds: ``"rules"`` takes it
        from the rule set (Guyuan: 0.15); a number between 0 and 1 overrides it (1.0 is no
        cap); None: no cap.
    missing_households : {"standalone", "zero"}, default "standalone"
        A compound without households is listed standalone (``households_missing``), or
        bundled as if it had none (flagged ``missing_households``).
    dissolve : bool, default True
        Dissolve the members' polygons into one geometry per bundle.

    Returns
    -------
    BundleResult

    Examples
    --------
    >>> import geopandas as gpd
    >>> import shapely
    >>> row = gpd.GeoDataFrame(
    ...     {"compound_id": ["A", "B", "C"], "households": [200, 200, 50],
    ...      "built_year": [1990, 1995, 2003]},
    ...     geometry=shapely.box([0, 110, 220], 0, [100, 210, 320], 100), crs=4547)
    >>> res = bundle_compounds(row, level=None, min_households=300)
    >>> res.members["compound_id"].tolist(), res.standalone["reason"].tolist()
    (['A', 'B'], ['built_after_2000'])
    >>> res.options["rules"]
    'national_2020'
    >>> bundle_compounds(row, level=None, min_households=300,
    ...                  rules="guyuan_2022").members["compound_id"].tolist()
    ['A', 'B', 'C']
    """
    from gisplan.eligibility import load_rules

    if level is not None and level not in LEVELS:
        raise ConstraintError(f"level must be one of {', '.join(LEVELS)} or None, got {level!r}")
    if missing_households not in ("standalone", "zero"):
        raise ConstraintError("missing_households must be 'standalone' or 'zero', "
                              f"got {missing_households!r}")
    r = rules if isinstance(rules, Rules) else load_rules(rules)
    cap = r.household_cap_2001_2005 if household_cap == "rules" else household_cap
    inp = _prepare_inputs(compounds, utilities=utilities, districts=districts,
                          barriers=barriers, level=level, rules=r,
                          missing_households=missing_households,
                          utility_margin_m=utility_margin_m, gap_m=gap_m)
    core = bundle_core(inp.households, inp.xy, inp.bounds, inp.adj, status=inp.status,
                       district=inp.district_code if level is not None else None,
                       shared=inp.shared_w, min_households=min_households,
                       max_households=max_households, max_span_m=max_span_m,
                       target_households=target_households,
                       household_cap=None if cap is None else float(cap))
    result = _result_tables(inp, core, dissolve=dissolve)
    options = {"level": level, "gap_m": gap_m, "min_households": min_households,
               "max_households": max_households, "max_span_m": max_span_m,
               "target_households": target_households,
               "utility_margin_m": utility_margin_m, "rules": r.name,
               "household_cap": cap, "missing_households": missing_households}
    return BundleResult(**result, report=inp.report, options=options, rules=r)


@dataclass
class _Inputs:
    """Everything :func:`bundle_core` and the output tables need, in the analysis CRS."""

    comp: Any  # repaired and flagged compounds, their own CRS
    metric: Any  # the same rows in the analysis CRS
    ids: NDArray[np.object_]
    elig: pd.DataFrame  # eligibility.classify
    status: NDArray[np.int8]
    households: NDArray[np.float64]
    xy: NDArray[np.float64]
    bounds: NDArray[np.float64]
    adj: Adjacency
    dist_key: pd.Series
    dist_name: pd.Series
    district_code: NDArray[np.int64]
    links: _UtilityLinks | None
    shared_w: NDArray[np.float64]
    report: Report


def _prepare_inputs(compounds: Any, *, utilities: Any, districts: Any, barriers: Any,
                    level: Level | None, rules: Rules, missing_households: str,
                    utility_margin_m: float, gap_m: float) -> _Inputs:
    """Check and project the layers, classify, and build the adjacency and the joins."""
    from gisplan import join as joinmod
    from gisplan.adjacency import adjacency as build_adjacency
    from gisplan.adjacency import overlapping_pairs
    from gisplan.eligibility import CODE, classify

    comp, metric, report = joinmod.prepare_compounds(compounds, check_overlaps=False)
    if barriers is not None and len(barriers):
        barriers = barriers.geometry if hasattr(barriers, "geometry") else barriers
    else:
        barriers = None
    others = joinmod.project_to_compounds(
        metric, comp, {"districts": districts if level is not None else None,
                       "utilities": utilities, "barriers": barriers}, report=report)
    ids = comp["compound_id"].astype(str).to_numpy()
    geoms = metric.geometry.to_numpy()
    elig = classify(comp, rules=rules)
    status = np.asarray(elig["eligibility"].map(CODE).to_numpy(dtype=np.int8), dtype=np.int8)
    h = _households(comp, ids, missing_households=missing_households, report=report)
    xy, bounds = _points_and_bounds(geoms)
    bars = others["barriers"].to_numpy() if others["barriers"] is not None else None
    adj = build_adjacency(geoms, gap_m=gap_m, barriers=bars, points=xy)
    # compounds drawn over each other: among the touching pairs (blocked ones included)
    touch = adj.gap_m <= 0
    cand = (np.r_[adj.i[touch], adj.blocked_i], np.r_[adj.j[touch], adj.blocked_j])
    jd = None
    if others["districts"] is not None and len(others["districts"]):
        jdr = joinmod.join_districts(metric, others["districts"])
        jd = jdr.frame
        report.merge(jdr.report)
    links = None
    if others["utilities"] is not None and len(others["utilities"]):
        links = _utility_links(metric, others["utilities"], margin_m=utility_margin_m)
    report.merge(joinmod.flag_overlaps(comp, metric, *overlapping_pairs(geoms, candidates=cand)))
    dist_key, dist_name = _district_keys(comp, jd, level=level, report=report)
    codes, _ = pd.factorize(dist_key.to_numpy(dtype=object), sort=True)
    shared_w = (joinmod.shared_counts(links.incidence, adj.i, adj.j) if links is not None
                else np.zeros(len(adj)))
    return _Inputs(comp=comp, metric=metric, ids=ids, elig=elig, status=status,
                   households=h, xy=xy, bounds=bounds, adj=adj, dist_key=dist_key,
                   dist_name=dist_name, district_code=codes.astype(np.int64), links=links,
                   shared_w=shared_w, report=report)


def _households(comp: Any, ids: NDArray[np.object_], *, missing_households: str,
                report: Report) -> NDArray[np.float64]:
    """Households per compound; missing ones flagged (NaN, or 0 with ``"zero"``)."""
    from gisplan.findings import Finding, add_flags

    hh = pd.to_numeric(comp.get("households"), errors="coerce") if "households" in comp \
        else pd.Series(np.nan, index=comp.index)
    h = hh.to_numpy(dtype=float, na_value=np.nan)
    miss_h = np.isnan(h)
    if miss_h.any():
        add_flags(comp, miss_h, "missing_households")
        what = ("is listed standalone" if missing_households == "standalone"
                else "is bundled with 0 households")
        report.add_capped((Finding("warning", "missing_households",
                                   f"households missing; the compound {what}",
                                   layer="compounds", row=ids[k], column="households",
                                   hint="fill in 户数 (households) and run bundle again")
                           for k in np.flatnonzero(miss_h).tolist()), total=int(miss_h.sum()))
        if missing_households == "zero":
            h = np.where(miss_h, 0.0, h)
    nonpos = ~miss_h & (h < 0)
    if nonpos.any():
        add_flags(comp, nonpos, "nonpositive_households")
        h = np.where(nonpos, np.nan, h)
    return np.asarray(h, dtype=float)


def _points_and_bounds(geoms: NDArray[np.object_]
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return representative points (inside each polygon) and bounding boxes (NaN: none)."""
    import shapely

    n = len(geoms)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    xy = np.full((n, 2), np.nan)
    xy[ok] = shapely.get_coordinates(shapely.point_on_surface(geoms[ok]))
    bounds = np.full((n, 4), np.nan)
    bounds[ok] = shapely.bounds(geoms[ok])
    return xy, bounds


def _district_keys(comp: Any, jd: pd.DataFrame | None, *, level: Level | None,
                   report: Report) -> tuple[pd.Series, pd.Series]:
    """Return the district of each compound at *level* (None where none), and its name.

    From the district join when the districts layer has that level, else from the
    compounds' own column (``district`` 片区, else ``street`` 所在街道, and the other way
    round; :func:`gisplan.schema.level_from_column`), saying so in a finding.
    """
    from gisplan.findings import Finding
    from gisplan.schema import level_from_column, zh

    dist_key = pd.Series(pd.NA, index=comp.index, dtype=object)
    dist_name = None
    if level is not None:
        column = _LEVEL_COLUMN[level]
        if jd is not None and f"{level}_id" in jd:
            dist_key = jd[f"{level}_id"].astype(object)
            dist_name = jd[f"{level}_name"].astype(object)
        else:
            name = zh("district_level", level)
            reason = (f"the districts layer has no {name} polygons" if jd is not None
                      else f"no {name} polygons")
            units, line = level_from_column(comp, column, reason=reason)
            if units is not None and line is not None:
                dist_key = units
                report.add(Finding("info", "level_from_column", line, layer="compounds",
                                   column=str(units.name), value=level))
            else:
                report.add(Finding("warning", "district_level_missing",
                                   f"{reason} and no 片区 (district) or 街道 (street) column: "
                                   "bundles may cross districts", layer="compounds",
                                   column=column, value=level,
                                   hint="import 片区/街道 polygons (--layer districts) or add "
                                   "a 所在街道 or 片区 column to the compound list"))
    key = pd.Series(dist_key, index=comp.index)
    key = key.where(key.notna(), None)
    return key, (key if dist_name is None else dist_name)


def _result_tables(inp: _Inputs, core: CoreResult, *, dissolve: bool) -> dict[str, Any]:
    """Build the four output layers of a bundling run."""
    import geopandas as gpd

    label = core.label
    bundle_ids = np.array([f"B{k + 1:04d}" for k in range(core.n_bundles)], dtype=object)
    inb = label >= 0
    mem = _members_table(inp, core, bundle_ids)
    standalone = _standalone_table(inp, core)
    bundle_table, centres = _bundle_table(inp.comp, inp.metric, label, bundle_ids,
                                          inp.households, inp.elig["eligibility"].to_numpy(),
                                          inp.dist_key, inp.dist_name, inp.links, inp.adj,
                                          inp.shared_w)
    adj_gdf = _adjacency_layer(inp, label)
    comp = inp.comp
    n = len(comp)
    if dissolve and core.n_bundles:
        geometry = _dissolve(comp.geometry.to_numpy()[inb], label[inb], core.n_bundles)
    else:
        geometry = centres.to_crs(comp.crs)
    bundles = gpd.GeoDataFrame(bundle_table, geometry=np.asarray(geometry, dtype=object),
                               crs=comp.crs)
    inp.report.count("compounds", n, int(len(mem) + len(standalone)))
    if len(mem) + len(standalone) != n:  # pragma: no cover - a bug, not bad input
        raise AssertionError("bundling lost or duplicated compounds")
    return {"bundles": bundles, "members": mem, "standalone": standalone,
            "adjacency": adj_gdf}


def _members_table(inp: _Inputs, core: CoreResult, bundle_ids: NDArray[np.object_]
                   ) -> pd.DataFrame:
    """One row per bundled compound, with why it is there (``bundle_members``)."""
    from gisplan.eligibility import CONDITIONAL, ELIGIBLE
    from gisplan.join import pick_or_none

    adj, shared_w, ids = inp.adj, inp.shared_w, inp.ids
    inb = core.label >= 0
    names = inp.comp["name"].astype(str).to_numpy() if "name" in inp.comp else ids
    eg = inp.elig["eligibility"].to_numpy()
    le = core.link_edge
    has_link = le >= 0
    link_reason = pick_or_none(adj.reason, le)
    link_gap = np.where(has_link, adj.gap_m[np.maximum(le, 0)] if len(adj) else 0.0, np.nan)
    link_shared = np.where(has_link, shared_w[np.maximum(le, 0)] if len(adj) else 0.0, 0.0)
    mem = pd.DataFrame({
        "bundle_id": pick_or_none(bundle_ids, core.label)[inb],
        "compound_id": ids[inb],
        "name": names[inb],
        "households": inp.households[inb],
        "eligibility": pd.Categorical(eg[inb], categories=[ELIGIBLE, CONDITIONAL]),
        "role": pd.Categorical(core.role[inb], categories=list(ROLES)),
        "linked_to": pick_or_none(ids, core.link)[inb],
        "link_reason": pd.Categorical(link_reason[inb], categories=["touching", "gap"]),
        "link_gap_m": np.round(link_gap[inb].astype(float), 1),
        "shared_lines_with_link": link_shared[inb],
    })
    mem["why_zh"], mem["why_en"] = _explain(mem)
    role_rank = mem["role"].map({r: k for k, r in enumerate(
        ("seed", "component", "grown", "merged", "absorbed"))})
    return (mem.assign(_r=role_rank).sort_values(["bundle_id", "_r", "compound_id"])
            .drop(columns="_r").reset_index(drop=True))


def _standalone_table(inp: _Inputs, core: CoreResult) -> pd.DataFrame:
    """One row per compound not in a bundle, with the reason (``bundle_standalone``)."""
    from gisplan.eligibility import reasons as elig_reasons

    out = core.label < 0
    ids = inp.ids
    names = inp.comp["name"].astype(str).to_numpy() if "name" in inp.comp else ids
    st_code = core.reason[out]
    elig_reason = inp.elig["eligibility_reason"].to_numpy()[out]
    st_code = np.where(st_code == "not_candidate", elig_reason, st_code)
    texts = {k: (v["zh"], v["en"]) for k, v in elig_reasons().items()} | STANDALONE_REASONS
    return pd.DataFrame({
        "compound_id": ids[out],
        "name": names[out],
        "households": inp.households[out],
        "eligibility": inp.elig["eligibility"].to_numpy()[out],
        "reason": st_code,
        "reason_zh": [texts.get(c, (c, c))[0] for c in st_code],
        "reason_en": [texts.get(c, (c, c))[1] for c in st_code],
        "district": inp.dist_key.to_numpy(dtype=object)[out],
    })


def _adjacency_layer(inp: _Inputs, label: NDArray[np.int64]) -> Any:
    """Build the ``adjacency`` layer: edges, and lines between representative points."""
    import geopandas as gpd

    adj, comp = inp.adj, inp.comp
    lab_i = label[adj.i] if len(adj) else np.zeros(0, np.int64)
    lab_j = label[adj.j] if len(adj) else np.zeros(0, np.int64)
    lines = _edge_lines(inp.xy, adj, inp.metric.crs, comp.crs)
    id_index = pd.Index(inp.ids)
    return gpd.GeoDataFrame({
        # categoricals: 700,000 edges of a city do not become 1.4 million strings
        "compound_a": pd.Categorical.from_codes(adj.i, categories=id_index),
        "compound_b": pd.Categorical.from_codes(adj.j, categories=id_index),
        "reason": pd.Categorical(adj.reason, categories=["touching", "gap"]),
        "gap_m": np.round(adj.gap_m, 2),
        "shared_lines": inp.shared_w,
        "same_bundle": (lab_i >= 0) & (lab_i == lab_j),
    }, geometry=gpd.GeoSeries(lines, crs=comp.crs))


def _explain(mem: pd.DataFrame) -> tuple[Any, Any]:
    """Why each member is in its bundle, in Chinese and English (two text columns).

    Built column-wise with Arrow string kernels: the few distinct gaps and line counts
    are formatted once, the member ids are pasted in by array.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def join(*parts: Any) -> Any:
        return pc.binary_join_element_wise(*parts, "")

    def fmt(values: NDArray[Any], spec: str) -> Any:
        """Format each value with *spec*, once per distinct value."""
        distinct, inverse = np.unique(values, return_inverse=True)
        return pc.take(pa.array([format(v, spec) for v in distinct.tolist()], pa.string()),
                       pa.array(inverse))

    link = pa.array(mem["linked_to"].to_numpy(dtype=object), pa.string(), from_pandas=True)
    alone = pc.is_null(link)
    touching = pa.array((mem["link_reason"] == "touching").to_numpy(dtype=bool))
    gap = fmt(mem["link_gap_m"].fillna(0).to_numpy(dtype=float), "g")
    sh = mem["shared_lines_with_link"].fillna(0).astype(int).to_numpy()
    shares, n_lines = pa.array(sh > 0), fmt(sh, "d")
    plural = pa.array(np.where(sh > 1, "s", ""), pa.string())
    cond = pa.array((mem["eligibility"] == CONDITIONAL_KEY).to_numpy(dtype=bool))
    role = pa.array(pd.Categorical(mem["role"], categories=list(ROLES)).codes)
    role_en = pc.take(pa.array(ROLES, pa.string()), role)
    role_zh = pc.take(pa.array([ROLE_ZH[r] for r in ROLES], pa.string()), role)

    zh = pc.if_else(touching, join("与", link, "相接"), join("与", link, "相距", gap, "米"))
    en = pc.if_else(touching, join("touches ", link), join(gap, " m from ", link))
    zh = pc.if_else(alone, "单独成片（户数达到下限）", zh)
    en = pc.if_else(alone, "a bundle on its own (meets the household floor)", en)
    zh = pc.if_else(shares, join(zh, "，共用管线", n_lines, "条"), zh)
    en = pc.if_else(shares, join(en, ", shares ", n_lines, " utility line", plural), en)
    zh = join(role_zh, "：", zh, pc.if_else(cond, COND_WHY_ZH, ""))
    en = join(role_en, ": ", en, pc.if_else(cond, COND_WHY_EN, ""))
    dtype = pd.StringDtype(na_value=np.nan)
    return pd.array(zh, dtype=dtype), pd.array(en, dtype=dtype)


def _bundle_table(comp: Any, metric: Any, label: NDArray[np.int64],
                  bundle_ids: NDArray[np.object_], h: NDArray[Any],
                  eg: NDArray[np.object_], dist_key: pd.Series, dist_name: pd.Series,
                  ulinks: _UtilityLinks | None,
                  adj: Adjacency, shared_w: NDArray[np.float64]) -> tuple[pd.DataFrame, Any]:
    """Figures of each bundle, and the centres of their bounding boxes (metric CRS)."""
    import geopandas as gpd
    import shapely

    inb = label >= 0
    k = len(bundle_ids)
    lab = label[inb]
    hh = np.nan_to_num(h[inb])

    def _sum(col: str) -> NDArray[np.float64]:
        if col not in comp:
            return np.full(k, np.nan)
        v = pd.to_numeric(comp[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return np.bincount(lab, weights=np.nan_to_num(v[inb]), minlength=k).astype(float)

    geoms_m = metric.geometry.to_numpy()[inb]
    bb = shapely.bounds(geoms_m)
    mins = np.full((k, 2), np.inf)
    maxs = np.full((k, 2), -np.inf)
    np.minimum.at(mins, lab, bb[:, :2])
    np.maximum.at(maxs, lab, bb[:, 2:])
    span = np.hypot(*(maxs - mins).T) if k else np.zeros(0)
    area = np.bincount(lab, weights=shapely.area(geoms_m), minlength=k)
    cond_h = np.bincount(lab, weights=hh * (eg[inb] == "conditional_2001_2005"), minlength=k)
    ids = comp["compound_id"].astype(str).to_numpy(dtype=object)[inb]
    district = np.full(k, None, dtype=object)
    district[lab] = dist_key.to_numpy(dtype=object)[inb]
    district_name = np.full(k, None, dtype=object)
    district_name[lab] = pd.Series(dist_name).to_numpy(dtype=object)[inb]
    out = pd.DataFrame({
        "bundle_id": bundle_ids,
        "district": district,
        "district_name": district_name,
        "n_compounds": np.bincount(lab, minlength=k),
        "households": np.bincount(lab, weights=hh, minlength=k).astype(int),
        "households_2001_2005": cond_h.astype(int),
        "buildings": _sum("buildings"),
        "floor_area_m2": _sum("floor_area_m2"),
        "land_area_m2": np.round(area, 1),
        "span_m": np.round(span, 1),
        "compound_ids": group_join(lab, ids, k, unique=False),
    })
    if "categories" in comp:
        out["categories"] = _join_categories(comp["categories"].to_numpy(dtype=object)[inb],
                                             lab, k)
    # shared lines inside bundles
    if len(adj):
        same = inb[adj.i] & (label[adj.i] == label[adj.j])
        out["shared_line_pairs"] = np.bincount(label[adj.i][same], weights=shared_w[same] > 0,
                                               minlength=k).astype(int)
    if ulinks is not None:
        ulab = label[ulinks.c]
        keep = ulab >= 0
        ulab, uline = ulab[keep], ulinks.u[keep]
        out["utility_networks"] = group_join_codes(ulab, ulinks.network[uline],
                                                   ulinks.network_names, k)
        out["utility_owners"] = group_join_codes(ulab, ulinks.owner[uline],
                                                 ulinks.owner_names, k)
        year = ulinks.install_year[uline]
        oldest = np.full(k, np.inf)
        np.minimum.at(oldest, ulab, np.where(np.isnan(year), np.inf, year))
        out["oldest_install_year"] = pd.array(np.where(np.isinf(oldest), np.nan, oldest),
                                              dtype="Float64").astype("Int64")
    centres = gpd.GeoSeries(shapely.points((mins + maxs) / 2) if k else [], crs=metric.crs)
    return out, centres


def _join_categories(values: NDArray[np.object_], lab: NDArray[np.int64], k: int
                     ) -> NDArray[np.object_]:
    """Join the renovation categories of each bundle's members (distinct keys, sorted).

    A member's ``categories`` is a list such as ``basic;improvement``; a programme has
    only a few distinct lists, so each distinct list is split once.
    """
    import re

    codes, distinct = pd.factorize(values)  # missing lists: code -1, no categories
    tokens = [{t.strip() for t in re.split(r"[;；,，、]", str(v))} - {""} for v in distinct]
    key_names = np.array(sorted(set().union(*tokens)), dtype=object)
    key_code = {t: c for c, t in enumerate(key_names.tolist())}
    labs, found = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for c, ts in enumerate(tokens):
        rows = lab[codes == c]
        for t in sorted(ts):
            labs.append(rows)
            found.append(np.full(len(rows), key_code[t], dtype=np.int64))
    return group_join_codes(np.concatenate(labs), np.concatenate(found), key_names, k)


@dataclass
class _UtilityLinks:
    """Compound × line pairs within the margin, with the lines' attributes as codes."""

    c: NDArray[np.int64]  # compound position of each pair
    u: NDArray[np.int64]  # line position of each pair
    network: NDArray[np.int64]  # per line: code in network_names, -1 for none
    network_names: NDArray[np.object_]
    owner: NDArray[np.int64]  # per line: code in owner_names, -1 for none
    owner_names: NDArray[np.object_]
    install_year: NDArray[np.float64]  # per line, NaN when unknown
    incidence: sp.csr_array  # compound × line


def _utility_links(metric: Any, utilities: Any, *, margin_m: float) -> _UtilityLinks:
    """Lines within the margin of each compound (for shared-line weights and owners).

    *utilities* is in the CRS of *metric*. Line attributes stay per line, as integer codes
    of their sorted text: a city has a million compound × line pairs but only a handful of
    networks and owners.
    """
    from gisplan import join as joinmod

    if "utility_id" not in utilities:
        from gisplan._errors import SchemaError
        raise SchemaError("the utilities layer has no 'utility_id' column", layer="utilities",
                          column="utility_id", hint="add a unique 管线编号 per line")
    ci, uj, _ = joinmod.utility_pairs(metric.geometry.to_numpy(),
                                      utilities.geometry.to_numpy(), margin_m=margin_m)
    m = len(utilities)
    net_raw = (utilities["network"] if "network" in utilities
               else pd.Series(None, index=utilities.index, dtype=object))
    network, network_names = joinmod.text_codes(joinmod.network_keys(net_raw))
    owner_raw = (utilities["owner"].astype(object).where(utilities["owner"].notna(), None)
                 .to_numpy(dtype=object) if "owner" in utilities else np.full(m, None, object))
    owner, owner_names = joinmod.text_codes(owner_raw)
    year = (pd.to_numeric(utilities["install_year"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan) if "install_year" in utilities else np.full(m, np.nan))
    inc = sp.csr_array((np.ones(len(ci)), (ci, uj)), shape=(len(metric), m))
    return _UtilityLinks(c=ci, u=uj, network=network, network_names=network_names,
                         owner=owner, owner_names=owner_names, install_year=year,
                         incidence=inc)


def _edge_lines(xy: NDArray[np.float64], adj: Adjacency, metric_crs: Any, crs: Any
                ) -> NDArray[np.object_]:
    """Lines between the representative points of adjacent compounds, in *crs*."""
    import shapely

    if not len(adj):
        return np.zeros(0, dtype=object)
    if crs != metric_crs:
        from gisplan.crs import transform_xy

        xy = np.column_stack(transform_xy(*np.nan_to_num(xy).T, src=metric_crs, dst=crs))
    return np.asarray(shapely.linestrings(np.stack([xy[adj.i], xy[adj.j]], axis=1).reshape(-1, 2),
                                          indices=np.repeat(np.arange(len(adj)), 2)),
                      dtype=object)


def _dissolve(geoms: NDArray[np.object_], lab: NDArray[np.int64], k: int) -> NDArray[np.object_]:
    """Union the polygons of each bundle, all bundles in one vectorised GEOS call.

    Each bundle's members go into one GeometryCollection and ``buffer(0)`` unions it:
    one C loop over the bundles, robust to members whose shared edges are not noded
    alike and to members that overlap (flagged ``overlaps_compound``).
    """
    import shapely

    if k == 0:
        return np.zeros(0, dtype=object)
    order = np.argsort(lab, kind="stable")
    collections = np.asarray(shapely.geometrycollections(geoms[order], indices=lab[order]),
                             dtype=np.object_)
    return np.asarray(shapely.buffer(collections, 0.0), dtype=np.object_)


def bundle_project(source: ProgrammeLike, *,
                   barrier_classes: tuple[str, ...] = ("arterial",),
                   write: bool = True, **options: Any) -> BundleResult:
    """Bundle the compounds of a programme store and write the results back.

    Reads ``compounds``, and where present ``districts``, ``utilities`` and ``roads``
    (:func:`gisplan.sources.read_layers`; roads of *barrier_classes* become barriers);
    writes the layers ``bundles``, ``adjacency`` and the tables ``bundle_members``,
    ``bundle_standalone`` in one atomic step, and the options to the metadata key
    ``bundle_options``.

    Parameters
    ----------
    source : gisplan.store.Project or path
        The programme.
    barrier_classes : tuple of str, default ("arterial",)
        ``road_class`` values of ``roads`` that bundles may not cross.
    write : bool, default True
        Write the results into the store.
    **options
        Passed to :func:`bundle_compounds`. ``level`` defaults to the programme's
        ``bundle_level`` metadata; ``rules`` to the rule set the programme names
        (:func:`gisplan.eligibility.programme_rules`: its ``rule_set``, else the national
        baseline).

    Returns
    -------
    BundleResult
        With ``rules`` and ``rules_chosen_by`` saying which rule set was applied and why.

    Examples
    --------
    >>> res = bundle_project("layers/guyuan_2022.gpkg", write=False)
    >>> res.rules.name, len(res.members) + len(res.standalone)
    ('guyuan_2022', 26)
    """
    from gisplan.eligibility import programme_rules
    from gisplan.sources import as_project, read_layers

    p = as_project(source)
    layers = read_layers(p, ["compounds"], optional=["districts", "utilities", "roads"])
    kw: dict[str, Any] = {k: layers[k] for k in ("districts", "utilities")
                          if layers[k] is not None}
    roads = layers["roads"]
    if roads is not None and options.get("barriers") is None and "road_class" in roads \
            and len(roads):
        from gisplan.schema import term
        cls = roads["road_class"].map(lambda v: term("road_class", v))
        bars = roads[cls.isin(barrier_classes).to_numpy()]
        if len(bars):
            kw["barriers"] = bars
    meta: Mapping[str, Any] = p.meta or {}
    if "level" not in options and meta.get("bundle_level"):
        kw["level"] = meta["bundle_level"]
    chosen_by = "given to bundle_project"
    if "rules" not in options:
        choice = programme_rules(meta)
        kw["rules"], chosen_by = choice.rules, choice.chosen_by
    kw.update(options)
    result = bundle_compounds(layers["compounds"], **kw)
    result.rules_chosen_by = chosen_by
    if write:
        p.write_many(result.layers(), meta_updates={"bundle_options": result.options})
    return result
