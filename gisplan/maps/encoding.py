"""How a map carries its layers: integer, delta-coded geometries and JSON-ready columns."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

#: origin of the integer coordinates (lon, lat); a page decodes x = X0 + q / 10**decimals
QUANT_ORIGIN = (73.0, 3.0)


def encode_geometries(geoms: Any, decimals: int) -> tuple[dict[str, list[int]], int]:
    """Columnar, integer, delta-coded geometries (decoded by the page's ``gisplan.decode``).

    Coordinates become ``round((lon - 73, lat - 3) * 10**decimals)``; along each line,
    ring or point sequence every vertex after the first is the difference from the one
    before, so most numbers have a few digits and gzip packs them well. The structure
    is kept in flat arrays: ``gt`` geometry type (-1 missing or empty), ``np`` parts per
    geometry, ``pt`` part type, ``ns`` sequences per part (rings of a polygon),
    ``lens`` vertices per sequence and ``xy`` the coordinates.

    Returns the arrays and the number of drawable geometries.

    Examples
    --------
    >>> enc, n = encode_geometries([shapely.box(106.0, 36.0, 106.001, 36.002), None], 4)
    >>> n, enc["gt"], enc["lens"], enc["xy"]
    (1, [3, -1], [5], [330010, 330000, 0, 20, -10, 0, 0, -20, 10, 0])
    """
    geoms = np.asarray(geoms, dtype=object).reshape(-1)
    gt = shapely.get_type_id(geoms)
    gt[shapely.is_empty(geoms)] = -1
    ok = gt >= 0
    g = geoms[ok]
    parts, owner = shapely.get_parts(g, return_index=True)
    pt = shapely.get_type_id(parts)
    poly = pt == 3
    ns = np.where(poly, shapely.get_num_interior_rings(parts) + 1, 1)
    seq_part = np.repeat(np.arange(len(parts)), ns)
    lens = np.empty(len(seq_part), dtype=np.int64)
    is_ring = poly[seq_part]
    lens[is_ring] = shapely.get_num_coordinates(shapely.get_rings(parts[poly]))
    lens[~is_ring] = shapely.get_num_coordinates(parts[~poly])
    xy = shapely.get_coordinates(parts)
    q = np.round((xy - np.array(QUANT_ORIGIN)) * 10.0 ** decimals).astype(np.int64)
    delta = q.copy()
    delta[1:] -= q[:-1]
    starts = np.cumsum(lens) - lens
    delta[starts] = q[starts]
    n_parts = np.zeros(len(geoms), dtype=np.int64)
    n_parts[ok] = np.bincount(owner, minlength=len(g))
    enc = {"gt": gt.tolist(), "np": n_parts.tolist(), "pt": pt.tolist(), "ns": ns.tolist(),
           "lens": lens.tolist(), "xy": delta.ravel().tolist()}
    return enc, int(ok.sum())


_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
           "\u2029": "\\u2029"}
_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")


def _safe_json(text: str) -> str:
    """Make JSON safe to place inside a ``<script>`` element."""
    return _UNSAFE_RE.sub(lambda m: _UNSAFE[m.group(0)], text)


def _column_values(s: pd.Series) -> list[Any]:
    """JSON-ready values of one column: None for missing, floats rounded to 3 places."""
    if pd.api.types.is_float_dtype(s.dtype):
        s = s.round(3)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = s.dt.strftime("%Y-%m-%d")
    arr = np.array(s.astype(object).tolist(), dtype=object)
    arr[pd.isna(arr)] = None
    kinds = (str, int, float, bool, type(None))
    if not all(isinstance(v, kinds) for v in arr[:50]):
        arr = np.array([v if isinstance(v, kinds) else str(v) for v in arr], dtype=object)
    return [v.item() if isinstance(v, np.generic) else v for v in arr.tolist()]


def decode_geometries(enc: Mapping[str, Sequence[int]], q: Sequence[float]) -> np.ndarray:
    """Inverse of :func:`encode_geometries` (what the page does), for checks and tests.

    Examples
    --------
    >>> box = shapely.box(106.0, 36.0, 106.001, 36.002)
    >>> enc, _ = encode_geometries([box, None, shapely.Point(106.5, 36.5)], 6)
    >>> out = decode_geometries(enc, [*QUANT_ORIGIN, 1e6])
    >>> out[0].equals(box), out[1], out[2].wkt
    (True, None, 'POINT (106.5 36.5)')
    """
    x0, y0, scale = q
    xy = np.asarray(enc["xy"], dtype=np.float64).reshape(-1, 2)
    lens = np.asarray(enc["lens"], dtype=np.int64)
    seq = np.repeat(np.arange(len(lens)), lens)
    xy = pd.DataFrame(xy).groupby(seq).cumsum().to_numpy() / scale + [x0, y0]
    bounds = np.cumsum(lens)
    seqs = np.split(xy, bounds[:-1]) if len(lens) else []
    it_seq, it_pt, it_ns = iter(seqs), iter(enc["pt"]), iter(enc["ns"])

    def part() -> Any:
        t, n = next(it_pt), next(it_ns)
        rings = [next(it_seq) for _ in range(n)]
        if t == 0:
            return shapely.Point(rings[0][0])
        if t == 3:
            return shapely.Polygon(rings[0], rings[1:])
        return shapely.LineString(rings[0])

    multi: dict[int, Any] = {4: shapely.MultiPoint, 5: shapely.MultiLineString,
                             6: shapely.MultiPolygon, 7: shapely.GeometryCollection}
    out: list[Any] = []
    for t, n in zip(enc["gt"], enc["np"], strict=True):
        if t < 0:
            out.append(None)
            continue
        parts = [part() for _ in range(n)]
        out.append(parts[0] if t <= 3 else multi[t](parts))
    return np.array(out, dtype=object)


