"""The one place gisplan uses threads: GEOS work split over the machine's cores.

Shapely 2's vectorised functions release the GIL while GEOS works, so an element-wise
function applied to two halves of an array in two threads runs on two cores. Use this
only where ``benchmarks/`` shows a gain of at least 20 % at realistic sizes (the
figures are in BENCHMARKS.md); below :data:`MIN_SPLIT` elements the call runs in the
calling thread, since handing work over costs more than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["MIN_SPLIT", "each", "elementwise", "in_background"]

_T = TypeVar("_T")

#: Inputs shorter than this are not split.
MIN_SPLIT = 20_000


def elementwise(func: Callable[..., Any], *arrays: NDArray[Any], parts: int | None = None,
                min_split: int = MIN_SPLIT) -> NDArray[Any]:
    """Return ``func(*arrays)`` computed on *parts* chunks in threads.

    Parameters
    ----------
    func : callable
        An element-wise shapely (or numpy) function of one or more equal-length arrays.
    *arrays : ndarray
        Its arguments.
    parts : int, optional
        Number of chunks and threads; the number of CPUs by default (at most 4).
    min_split : int
        Inputs shorter than this run in the calling thread.

    Returns
    -------
    ndarray
        Exactly ``func(*arrays)``.

    Examples
    --------
    >>> import shapely
    >>> pts = shapely.points(np.arange(5.0), np.zeros(5))
    >>> elementwise(shapely.get_x, pts, min_split=2, parts=2)
    array([0., 1., 2., 3., 4.])
    """
    n = len(arrays[0])
    parts = parts if parts is not None else min(os.cpu_count() or 1, 4)
    if parts < 2 or n < max(min_split, 2):
        return np.asarray(func(*arrays))
    bounds = np.linspace(0, n, parts + 1).astype(int)
    with ThreadPoolExecutor(max_workers=parts) as pool:
        chunks = list(pool.map(
            lambda k: np.asarray(func(*(a[bounds[k]:bounds[k + 1]] for a in arrays))),
            range(parts)))
    return np.concatenate(chunks)


def each(func: Callable[[Any], _T], items: list[Any], *, parts: int | None = None
         ) -> list[_T]:
    """Return ``[func(x) for x in items]``, computed in *parts* threads.

    For independent pieces of GEOS work that each release the GIL (one union per
    facility type: :func:`gisplan.catchments.service_areas`). The results come back in
    the order of *items*, whichever thread made them.

    Parameters
    ----------
    func : callable
        Applied to each item.
    items : list
        Its arguments.
    parts : int, optional
        Number of threads; the number of CPUs by default (at most 4). With one item or
        one part the calls run in the calling thread.

    Returns
    -------
    list

    Examples
    --------
    >>> each(abs, [-2, 3, -4], parts=2)
    [2, 3, 4]
    """
    parts = parts if parts is not None else min(os.cpu_count() or 1, 4)
    if parts < 2 or len(items) < 2:
        return [func(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(parts, len(items))) as pool:
        return list(pool.map(func, items))


def in_background(func: Callable[..., _T], *args: Any) -> Callable[[], _T]:
    """Start ``func(*args)`` in one other thread; return a function that waits for it.

    For two independent stages that both release the GIL (shapely/GEOS, scipy and pyproj
    array loops): the caller runs one while this thread runs the other. Only where
    ``benchmarks/`` shows the gain (coverage: straight lines beside the walking network).

    Parameters
    ----------
    func : callable
        The stage to run.
    *args
        Its arguments.

    Returns
    -------
    callable
        Called without arguments, it waits for ``func(*args)`` and returns its result
        (or raises its exception).

    Examples
    --------
    >>> result = in_background(sum, [1, 2, 3])
    >>> result()
    6
    """
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(func, *args)
    pool.shutdown(wait=False)
    return future.result
