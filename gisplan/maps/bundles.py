"""The bundles map 连片打包图: each bundle in its own colour, with its members."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.maps._page import (
    _FMT,
    GisplanMap,
    _compound_props,
    _context_layers,
    _count_geoms,
    _Ctx,
    _finish,
    _Frames,
    _frames,
    _geographic,
    _Layer,
    _new_map,
    _part,
    _rows,
)
from gisplan.maps._style import CATEGORICAL, NODATA, _t
from gisplan.maps.options import MapOptions, MapSource, _options

# ---------------------------------------------------------------- bundles


def _bundle_layers(frames: _Frames, comp: gpd.GeoDataFrame
                   ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """``bundles`` and ``bundle_members`` from the store, or from :mod:`gisplan.bundle`."""
    bundles, members = frames.get("bundles"), frames.get("bundle_members")
    if isinstance(bundles, gpd.GeoDataFrame) and members is not None:
        return bundles, members
    from gisplan.bundle import bundle_compounds
    from gisplan.eligibility import programme_rules

    util, districts = frames.get("utilities"), frames.get("districts")
    level = frames.meta.get("bundle_level", "pianqu")
    result = bundle_compounds(
        comp, utilities=util if isinstance(util, gpd.GeoDataFrame) else None,
        districts=districts if isinstance(districts, gpd.GeoDataFrame) else None,
        level=level, rules=programme_rules(frames.meta).rules)
    return result.bundles, result.members


def adjacent_colors(geoms: Any, *, within_m: float = 60.0) -> np.ndarray:
    """Colour indices such that no two shapes closer than *within_m* share one.

    A greedy graph colouring (largest degree first, smallest free colour) on the sparse
    adjacency of the shapes: on maps of bundles the number of colours stays small (a
    planar-like graph), so a short palette suffices.

    Parameters
    ----------
    geoms : array of shapely geometries in a metric CRS
        The shapes (missing or empty ones get colour 0 and no neighbours).
    within_m : float
        Shapes nearer than this (metres; across a street) count as neighbours.

    Returns
    -------
    numpy.ndarray of int
        One colour index per shape.

    Examples
    --------
    >>> import shapely
    >>> row = [shapely.box(i * 100, 0, i * 100 + 90, 90) for i in range(4)]
    >>> adjacent_colors(row, within_m=20).tolist()
    [1, 0, 1, 0]
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    colors = np.zeros(n, dtype=np.int64)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if n < 2 or ok.sum() < 2:
        return colors
    idx = np.flatnonzero(ok)
    tree = shapely.STRtree(geoms[idx])
    left, right = tree.query(geoms[idx], predicate="dwithin", distance=within_m)
    keep = left != right
    left, right = idx[left[keep]], idx[right[keep]]
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        neighbours[a].append(b)
    degree = np.array([len(x) for x in neighbours])
    done = np.zeros(n, dtype=bool)
    for v in np.lexsort((np.arange(n), -degree)):
        used = {int(colors[u]) for u in neighbours[v] if done[u]}
        c = 0
        while c in used:
            c += 1
        colors[v] = c
        done[v] = True
    return colors


def _owners_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    parts = [p.strip() for p in str(value).split(";") if p.strip()]
    return "、".join(parts) or None


def _bundle_outlines(m: GisplanMap, frames: _Frames, ctx: _Ctx, bundles: gpd.GeoDataFrame,
                     color_of: Mapping[str, str]) -> pd.DataFrame:
    """Bundle outlines: the dissolved members, grown a little so the outline shows."""
    geo = _geographic(bundles, "bundles", frames.where)
    grown = geo.to_crs(ctx.metric).buffer(12, join_style="mitre").to_crs(4326)
    outlines = geo.set_geometry(grown.to_numpy())
    oprops = pd.DataFrame(index=outlines.index)
    oprops["name"] = outlines["bundle_id"].astype(str)
    oprops["members"] = outlines.get("n_compounds", np.nan)
    oprops["households"] = outlines.get("households", np.nan)
    oprops["district_bundle"] = outlines.get("district", None)
    owners = (outlines["utility_owners"] if "utility_owners" in outlines
              else pd.Series(None, index=outlines.index, dtype=object))
    oprops["owners"] = owners.map(_owners_text)
    oprops["_k"] = oprops["name"]
    part = _part(m, "bundles", outlines, oprops, ctx,
                 {"colorKey": "_k", "colors": dict(color_of), "fillOpacity": 0.06, "weight": 3,
                  "dashArray": "8 5", "nameKey": "name", "subtitle": _t("bundle", ctx.lang),
                  "tooltip": _rows(["members", "households"], ctx, _FMT),
                  "popup": _rows(["district_bundle", "members", "households", "owners"], ctx,
                                 _FMT, optional=["district_bundle", "owners"])},
                 layer="bundles", where=frames.where)
    _Layer(_t("bundles", ctx.lang), [part]).add_to(m)
    return oprops


def _bundle_members(m: GisplanMap, frames: _Frames, ctx: _Ctx, comp: gpd.GeoDataFrame,
                    members: pd.DataFrame, oprops: pd.DataFrame,
                    color_of: Mapping[str, str]) -> pd.Series:
    """Compounds coloured by their bundle; returns each compound's bundle id (NaN: none)."""
    lang = ctx.lang
    mem = members.drop_duplicates("compound_id")
    mem = mem.set_index(mem["compound_id"].astype(str).to_numpy())
    cid = comp["compound_id"].astype(str)
    bundle_id = cid.map(mem["bundle_id"].astype(str))
    in_bundle = bundle_id.notna().to_numpy()
    props = _compound_props(comp)
    props["bundle"] = bundle_id.where(in_bundle, _t("standalone", lang)).to_numpy()
    why_col = "why_zh" if lang == "zh" else "why_en"
    props["why"] = cid.map(mem[why_col]).to_numpy() if why_col in mem else None
    props["owners"] = bundle_id.map(pd.Series(oprops["owners"].to_numpy(),
                                              index=oprops["name"].to_numpy())).to_numpy()
    props["_k"] = bundle_id.fillna("").to_numpy()
    part = _part(m, "compounds", comp, props, ctx,
                 {"colorKey": "_k", "colors": dict(color_of) | {"": NODATA},
                  "fillOpacity": 0.7, "weight": 1, "nameKey": "name", "searchable": True,
                  "tooltip": _rows(["bundle", "households"], ctx, _FMT),
                  "popup": _rows(["compound_id", "bundle", "county", "district", "households",
                                  "buildings", "built_year", "why", "owners"], ctx, _FMT,
                                 optional=["county", "district", "built_year", "why",
                                           "owners"])},
                 layer="compounds", where=frames.where)
    _Layer(_t("bundle_members", lang), [part]).add_to(m)
    return bundle_id


def bundles_map(
    source: MapSource,
    *,
    options: MapOptions | None = None,
    **overrides: Any,
) -> GisplanMap:
    """Map bundles 连片: each in its own colour with members, households and utility owners.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        Needs ``compounds``; uses ``bundles`` and ``bundle_members`` (computed with
        :func:`gisplan.bundle.bundle_compounds` when absent), ``districts``, ``roads``.
    options, **overrides
        As for :func:`progress_map`.

    Returns
    -------
    GisplanMap
    """
    opts = _options(options, overrides)
    frames = _frames(source)
    comp = frames.require("compounds", for_what="bundles")
    bundles, members = _bundle_layers(frames, comp)
    m, ctx = _new_map(frames, "bundles", opts, n_features=_count_geoms(comp, bundles),
                      subtitle=None)
    _context_layers(m, frames, ctx)
    keys = [str(k) for k in bundles["bundle_id"]]
    metric = _geographic(bundles, "bundles", frames.where).to_crs(ctx.metric)
    index = adjacent_colors(metric.geometry.to_numpy())
    color_of = {k: CATEGORICAL[int(i) % len(CATEGORICAL)] for k, i in zip(keys, index,
                                                                           strict=True)}
    m.palette = dict(color_of)
    oprops = _bundle_outlines(m, frames, ctx, bundles, color_of)
    bundle_id = _bundle_members(m, frames, ctx, comp, members, oprops, color_of)
    in_bundle = bundle_id.notna().to_numpy()
    # a short legend at any size: the colours only tell neighbours apart
    items = [{"label": _t("bundle_colours", opts.lang).format(n=len(keys)),
              "color": CATEGORICAL[0], "shape": "box", "count": int(in_bundle.sum())}]
    if (~in_bundle).any():
        items.append({"label": _t("standalone", opts.lang), "color": NODATA, "shape": "box",
                      "count": int((~in_bundle).sum())})
    ctx.legend.append({"title": _t("bundle", opts.lang), "items": items})
    _finish(m, ctx, frames, _t("bundles_title", opts.lang), [comp])
    return m


