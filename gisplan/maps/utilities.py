"""The utilities map 管线图: the six networks by type, with owner and age."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.crs import metric_crs
from gisplan.maps._page import (
    _FMT,
    GisplanMap,
    _context_layers,
    _count_geoms,
    _Ctx,
    _finish,
    _Frames,
    _frames,
    _Layer,
    _new_map,
    _part,
    _rows,
)
from gisplan.maps._style import NETWORK_COLORS, OLD_PIPE_WIDTH, PIPE_WIDTH, _t, _v
from gisplan.maps.options import MapOptions, MapSource, _options
from gisplan.schema import vocab

# ---------------------------------------------------------------- utilities


#: pixels between the networks drawn side by side along a shared street
PIPE_SPACING_PX = 3.5
#: lines of different networks closer than this (metres) over at least SHARED_SHARE of
#: a line's length share a street
SHARED_WITHIN_M, SHARED_SHARE = 4.0, 0.3


def shared_street(geoms: Any, network: Any, *, within_m: float = SHARED_WITHIN_M,
                  share: float = SHARED_SHARE) -> np.ndarray:
    """Which lines run along a line of another network (in a metric CRS).

    A line shares a street when at least *share* of its length lies within *within_m*
    of one line of a different network.

    Examples
    --------
    >>> lines = shapely.linestrings([[(0, 0), (100, 0)], [(0, 1), (100, 1)],
    ...                              [(0, 50), (100, 50)], [(0, 51), (100, 51)]])
    >>> shared_street(lines, ["water_supply", "gas", "power", "power"]).tolist()
    [True, True, False, False]
    """
    geoms = np.asarray(geoms, dtype=object)
    net = np.asarray(network, dtype=object)
    out = np.zeros(len(geoms), dtype=bool)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.sum() < 2:
        return out
    idx = np.flatnonzero(ok)
    tree = shapely.STRtree(geoms[idx])
    a, b = tree.query(geoms[idx], predicate="dwithin", distance=within_m)
    a, b = idx[a], idx[b]
    pick = net[a] != net[b]
    a, b = a[pick], b[pick]
    if not len(a):
        return out
    length = shapely.length(geoms[a])
    near = shapely.length(shapely.intersection(geoms[a], shapely.buffer(geoms[b], within_m)))
    hit = near >= share * np.maximum(length, 1e-9)
    out[np.unique(a[hit])] = True
    return out


def _pipe_offsets(util: gpd.GeoDataFrame, network: pd.Series, nets: Sequence[str]
                  ) -> pd.Series:
    """Screen offset (px) of each line: networks side by side where they share a street."""
    metric = util.geometry.to_crs(metric_crs(util)) if util.crs else util.geometry
    shared = shared_street(metric.to_numpy(), network.to_numpy())
    slot = network.map({n: i for i, n in enumerate(nets)}).astype(float)
    px = (slot - (len(nets) - 1) / 2) * PIPE_SPACING_PX
    return px.where(shared, 0.0).fillna(0.0).round(1)


def _network_layer(m: GisplanMap, frames: _Frames, ctx: _Ctx, rows: gpd.GeoDataFrame,
                   net: str, age: pd.Series, old_years: int, offset: pd.Series) -> None:
    """One network's lines: younger ones thin, old ones thick; popups with owner and age."""
    lang = ctx.lang
    props = pd.DataFrame(index=rows.index)
    props["utility_id"] = rows["utility_id"]
    props["name"] = [f"{_v('network', net, lang)} {u}" for u in rows["utility_id"]]
    props["network"] = _v("network", net, lang)
    for c in ("owner", "install_year", "material", "diameter_mm"):
        props[c] = rows[c] if c in rows.columns else pd.NA
    props["age_years"] = age.to_numpy()
    props["_off"] = offset.to_numpy()
    old = (props["age_years"] >= old_years).fillna(False).to_numpy()
    color = NETWORK_COLORS.get(net, "#444444")
    parts = []
    for is_old, w in ((False, PIPE_WIDTH), (True, OLD_PIPE_WIDTH)):
        pick = old == is_old
        if not pick.any():
            continue
        parts.append(_part(m, f"utilities_{net}{'_old' if is_old else ''}", rows[pick],
                           props[pick], ctx,
                           {"color": color, "weight": w, "opacity": 0.9,
                            "fillOpacity": 0, "nameKey": "name", "offsetKey": "_off",
                            "tooltip": _rows(["owner", "age_years"], ctx, _FMT),
                            "popup": _rows(["utility_id", "network", "owner",
                                            "install_year", "age_years", "material",
                                            "diameter_mm"], ctx, _FMT,
                                           optional=["material", "diameter_mm"])},
                           layer="utilities", where=frames.where))
    _Layer(f"{_v('network', net, lang)} ({len(rows)})", parts).add_to(m)


def utilities_map(
    source: MapSource,
    *,
    as_of_year: int | None = None,
    old_years: int = 20,
    options: MapOptions | None = None,
    **overrides: Any,
) -> GisplanMap:
    """Map the six utility networks 管线 by type, with owner and age.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        Needs ``utilities``; uses ``compounds`` (grey context), ``districts``, ``roads``.
    as_of_year : int, optional
        Year ages are counted to; ``None`` means the programme year (this year when the
        programme has none).
    old_years : int
        Lines at least this old are drawn thicker.
    options, **overrides
        As for :func:`progress_map`.

    Returns
    -------
    GisplanMap
    """
    opts = _options(options, overrides)
    frames = _frames(source)
    util = frames.require("utilities", for_what="utilities")
    comp = frames.get("compounds")
    year = as_of_year or int(frames.meta.get("year") or dt.date.today().year)
    m, ctx = _new_map(frames, "utilities", opts, n_features=_count_geoms(util, comp),
                      subtitle=None)
    _context_layers(m, frames, ctx, compounds=True)
    network = util["network"].astype(object)
    installed = pd.to_numeric(util["install_year"] if "install_year" in util.columns
                              else pd.Series(np.nan, index=util.index), errors="coerce")
    age = (year - installed).where(installed.notna())
    items = []
    nets = [n for n in [*vocab("network"), *sorted(set(network.dropna()) - set(vocab("network")))]
            if (network == n).any()]
    offset = _pipe_offsets(util, network, nets)
    for net in nets:
        sel = (network == net).to_numpy()
        _network_layer(m, frames, ctx, util[sel], net, age[sel], old_years, offset[sel])
        items.append({"label": _v("network", net, opts.lang),
                      "color": NETWORK_COLORS.get(net, "#444444"), "shape": "line",
                      "width": PIPE_WIDTH, "count": int(sel.sum())})
    ctx.legend.append({"title": _t("network", opts.lang), "items": items})
    ctx.legend.append({"title": "", "items": [
        {"label": _t("older_than", opts.lang).format(n=old_years), "color": "#444444",
         "shape": "line", "width": OLD_PIPE_WIDTH}]})  # as old lines are drawn: thicker
    _finish(m, ctx, frames, _t("utilities_title", opts.lang), [util, comp])
    return m


