"""Adjacency of compounds (相邻小区): who touches whom, across which gap, unless a barrier.

Array core: polygons in a metric CRS in, edges out. Two compounds are adjacent when they
touch (share boundary or overlap: reason ``touching``, gap 0) or lie within ``gap_m``
metres of each other (reason ``gap``, gap = shortest distance between the polygons).
The default gap, 20 m, is about one local street (支路: red line 12–20 m, carriageway and
footways, plus the compounds' setbacks): compounds on the two sides of a local street are
neighbours; compounds across a secondary or arterial road (30–50 m) are not.

Barriers (arterial roads, rivers, railways): an edge is removed when the straight line
between the two compounds' representative points (``shapely.point_on_surface``, always
inside the polygon) crosses a barrier line. Walking or digging from one compound to the
other then means crossing the barrier. This test is vectorised (one STRtree query for all
edges) and does not depend on how the polygons are drawn at the shared edge (to the road
centreline or to the kerb). It can miss a connection around the end of a short barrier;
that errs on the side of not bundling across it.

Examples
--------
>>> import shapely
>>> from gisplan.adjacency import adjacency
>>> boxes = shapely.box([0, 100, 300], 0, [100, 210, 400], 100)
>>> adj = adjacency(boxes, gap_m=12)
>>> adj.i.tolist(), adj.j.tolist(), adj.reason.tolist()
([0], [1], ['touching'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray

#: about one local street (支路): red line 12–20 m (carriageway and footways)
DEFAULT_GAP_M = 20.0


@dataclass(frozen=True)
class Adjacency:
    """Adjacency edges of *n* compounds, each edge once with ``i < j``.

    Attributes
    ----------
    n : int
        Number of compounds (nodes).
    i, j : ndarray of int
        Positions of the two compounds of each edge.
    gap_m : ndarray of float
        Shortest distance between the two polygons (0 when touching or overlapping).
    reason : ndarray of str
        ``touching`` or ``gap``.
    blocked_i, blocked_j : ndarray of int
        Edges removed because they cross a barrier (for the record).
    """

    n: int
    i: NDArray[np.int64]
    j: NDArray[np.int64]
    gap_m: NDArray[np.float64]
    reason: NDArray[np.object_]
    blocked_i: NDArray[np.int64]
    blocked_j: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.i)

    def matrix(self, weights: NDArray[np.float64] | None = None) -> sp.csr_array:
        """Return the symmetric sparse adjacency matrix (``n × n``).

        Parameters
        ----------
        weights : ndarray, optional
            One value per edge (default 1.0).
        """
        w = np.ones(len(self.i)) if weights is None else np.asarray(weights, dtype=float)
        rows = np.concatenate([self.i, self.j])
        cols = np.concatenate([self.j, self.i])
        data = np.concatenate([w, w])
        return sp.csr_array((data, (rows, cols)), shape=(self.n, self.n))

    def to_frame(self) -> pd.DataFrame:
        """Return the edges as a DataFrame (``i``, ``j``, ``gap_m``, ``reason``)."""
        return pd.DataFrame({"i": self.i, "j": self.j, "gap_m": self.gap_m,
                             "reason": self.reason})


def adjacency(
    geoms: NDArray[np.object_],
    *,
    gap_m: float = DEFAULT_GAP_M,
    barriers: NDArray[np.object_] | None = None,
    points: NDArray[np.float64] | None = None,
) -> Adjacency:
    """Build the adjacency of polygons.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        Compound polygons in a metric CRS. Missing or empty geometries have no edges.
    gap_m : float, default 20.0
        Largest gap, in metres, between two compounds that still counts as adjacent.
    barriers : ndarray of shapely geometries, optional
        Lines (or polygons) in the same CRS that no edge may cross.
    points : ndarray, shape (n, 2), optional
        Representative points of the polygons if already computed (barrier test).

    Returns
    -------
    Adjacency
    """
    if gap_m < 0:
        raise ValueError(f"gap_m must be >= 0, got {gap_m}")
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    empty = np.zeros(0, dtype=np.int64)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if n == 0 or not ok.any():
        return Adjacency(n, empty, empty.copy(), np.zeros(0), np.zeros(0, dtype=object),
                         empty.copy(), empty.copy())
    # candidates: bounding boxes grown by the gap (cheap), then the exact distance
    tree = shapely.STRtree(geoms)
    bb = shapely.bounds(geoms[ok])
    env = shapely.box(bb[:, 0] - gap_m, bb[:, 1] - gap_m, bb[:, 2] + gap_m, bb[:, 3] + gap_m)
    left, right = tree.query(env)
    left = np.flatnonzero(ok)[left]
    keep = left < right
    i = left[keep].astype(np.int64)
    j = right[keep].astype(np.int64)
    gap = shapely.distance(geoms[i], geoms[j])
    near = gap <= gap_m
    i, j, gap = i[near], j[near], gap[near]
    order = np.lexsort((j, i))
    i, j, gap = i[order], j[order], gap[order]
    reason = np.where(gap <= 0.0, "touching", "gap").astype(object)

    blocked = np.zeros(len(i), dtype=bool)
    if barriers is not None and len(barriers) and len(i):
        bars = np.asarray(barriers, dtype=object)
        bars = bars[~(shapely.is_missing(bars) | shapely.is_empty(bars))]
        if len(bars):
            if points is not None:
                xy = np.asarray(points, dtype=float)
            else:
                xy = np.full((n, 2), np.nan)
                xy[ok] = shapely.get_coordinates(shapely.point_on_surface(geoms[ok]))
            segs = shapely.linestrings(
                np.stack([xy[i], xy[j]], axis=1).reshape(-1, 2),
                indices=np.repeat(np.arange(len(i)), 2),
            )
            hit, _ = shapely.STRtree(bars).query(segs, predicate="intersects")
            blocked[np.unique(hit)] = True
    return Adjacency(
        n=n,
        i=i[~blocked],
        j=j[~blocked],
        gap_m=gap[~blocked],
        reason=reason[~blocked],
        blocked_i=i[blocked],
        blocked_j=j[blocked],
    )


def overlapping_pairs(geoms: NDArray[np.object_], *, min_area_m2: float = 1.0,
                      candidates: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
                      ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Return pairs of polygons that overlap by more than *min_area_m2* (``i < j``).

    Compounds drawn over each other are a data error (double-counted land and
    households); callers flag them (``overlaps_compound``) and keep both rows.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        Polygons in a metric CRS.
    min_area_m2 : float, default 1.0
        Smaller overlaps (digitising slivers) are ignored.
    candidates : (ndarray, ndarray), optional
        Pairs ``(i, j)`` to test, e.g. the touching edges of an :class:`Adjacency` (saves
        a spatial query); by default every intersecting pair.

    Returns
    -------
    i, j : ndarray of int
    area_m2 : ndarray of float
        Area of the overlap.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), np.zeros(0)
    if candidates is not None:
        i, j = candidates
    else:
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        keep = left < right
        i, j = left[keep], right[keep]
    # interiors can overlap by more than min_area_m2 only where the bounding boxes do;
    # neighbours that merely share an edge are dropped here without a GEOS call
    bb = shapely.bounds(geoms)
    w = np.minimum(bb[i, 2], bb[j, 2]) - np.maximum(bb[i, 0], bb[j, 0])
    h = np.minimum(bb[i, 3], bb[j, 3]) - np.maximum(bb[i, 1], bb[j, 1])
    maybe = (w > 0) & (h > 0) & (w * h > min_area_m2)
    i, j = i[maybe], j[maybe]
    interior = ~shapely.touches(geoms[i], geoms[j])
    i, j = i[interior], j[interior]
    area = shapely.area(shapely.intersection(geoms[i], geoms[j]))
    big = area > min_area_m2
    return i[big].astype(np.int64), j[big].astype(np.int64), area[big]
