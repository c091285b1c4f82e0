"""The facility gaps map 设施缺项图: covered and uncovered compounds per facility type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisplan._errors import InputError
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
    _Layer,
    _new_map,
    _Part,
    _part,
    _rows,
)
from gisplan.maps._style import COVERED, FACILITY, NODATA, UNCOVERED, _t, _v
from gisplan.maps.options import Lang, MapOptions, MapSource, _options

# ---------------------------------------------------------------- gaps


def _coverage_distances(frames: _Frames, comp: gpd.GeoDataFrame
                        ) -> tuple[pd.DataFrame, str]:
    """``walk_m_<type>`` and ``covered_<type>`` per compound (index of *comp*), and method.

    From the store's ``coverage_gaps`` layer when :mod:`gisplan.coverage` has run,
    otherwise computed with :func:`gisplan.coverage.coverage` (not written).
    """
    stored = frames.get("coverage_gaps")
    method = str((frames.meta.get("coverage") or {}).get("method", "network"))
    if stored is None or not any(str(c).startswith("walk_m_") for c in stored.columns):
        from gisplan.coverage import coverage

        result = coverage(comp, frames.get("facilities"), roads=frames.get("roads"),
                          gates=frames.get("gates"))
        stored, method = result.compounds, result.method
    cols = [c for c in stored.columns if str(c).startswith(("walk_m_", "covered_"))]
    table = pd.DataFrame(stored[cols]).set_index(stored["compound_id"].astype(str).to_numpy())
    table = table[~table.index.duplicated()]
    out = table.reindex(comp["compound_id"].astype(str).to_numpy())
    out.index = comp.index
    return out, method


def _gap_types(dist: pd.DataFrame, facility_types: Sequence[str] | None, std: Any,
               where: str) -> list[str]:
    """Return the facility types to show, in the standard's order (default: all)."""
    types = [c.removeprefix("walk_m_") for c in dist.columns if c.startswith("walk_m_")]
    if facility_types is not None:
        unknown = [t for t in facility_types if t not in types]
        if unknown:
            raise InputError(
                f"no coverage distances for facility type(s) {', '.join(unknown)}",
                file=where, layer="coverage", column="walk_m_<type>", value=unknown,
                hint=f"choose from {', '.join(types)} or run gisplan coverage first",
            )
        types = list(facility_types)
    order = {k: i for i, k in enumerate(std.types)}
    return sorted(types, key=lambda t: order.get(t, len(order)))


def _gap_verdicts(dist: pd.DataFrame, types: Sequence[str], std: Any, props: pd.DataFrame,
                  lang: Lang) -> tuple[dict[str, Any], dict[str, int]]:
    """Add ``walk_m_<type>`` and ``_cov_<type>`` (c covered, g gap, n no distance) to *props*.

    Returns the per-type constants (standard distance, label) and gap counts.
    """
    constants: dict[str, Any] = {}
    gaps_per_type: dict[str, int] = {}
    for ftype in types:
        limit = std.walk_m(ftype) if ftype in std.types else float("nan")
        walk = pd.to_numeric(dist[f"walk_m_{ftype}"], errors="coerce")
        if f"covered_{ftype}" in dist.columns:
            judged = dist[f"covered_{ftype}"].astype("boolean")
        else:
            judged = (walk <= limit).astype("boolean").mask(walk.isna())
        status = np.where(judged.isna(), "n", np.where(judged.fillna(False), "c", "g"))
        props[f"walk_m_{ftype}"] = walk.round(0).to_numpy()
        props[f"_cov_{ftype}"] = status
        constants[f"standard_m_{ftype}"] = None if np.isnan(limit) else limit
        constants[f"type_{ftype}"] = _v("facility_type", ftype, lang)
        gaps_per_type[ftype] = int((status == "g").sum())
    return constants, gaps_per_type


def _walk_network(frames: _Frames, how: str) -> Any:
    """Return the walking network for catchments (None: straight lines, no roads)."""
    roads = frames.get("roads")
    if how == "euclidean" or not isinstance(roads, gpd.GeoDataFrame) or not len(roads):
        return None
    from gisplan.network import WalkNetwork

    return WalkNetwork.from_roads(roads)


def _service_areas(fac: gpd.GeoDataFrame | None, fac_type: pd.Series | None,
                   limits: dict[str, float | None], network: Any) -> gpd.GeoDataFrame | None:
    """Return the merged walking service area of each facility type with a distance.

    One :func:`gisplan.catchments.service_areas` call for all the types, indexed by
    type (its unions run side by side); None without a walking network.
    """
    if network is None or fac is None or fac_type is None:
        return None
    from gisplan.catchments import service_areas

    types = fac_type.to_numpy()
    limit = pd.Series(types).map({t: v for t, v in limits.items() if v}).to_numpy(float)
    keep = np.isfinite(limit)
    sel = fac[keep].assign(_type=types[keep])
    return service_areas(sel, network, distance_m=limit[keep], by="_type").catchments


def _service_part(m: GisplanMap, frames: _Frames, ctx: _Ctx, sel: gpd.GeoDataFrame,
                  fprops: pd.DataFrame, ftype: str, limit: float | None,
                  areas: gpd.GeoDataFrame | None) -> _Part:
    """Return the walking service area of one facility type (circles without roads).

    With roads (*areas*, from :func:`_service_areas`): the merged walking catchments of
    the type's facilities, one polygon (the layer is not interactive, so the area is
    what a reader sees, without hundreds of overlapping rings).
    """
    style = {"color": FACILITY, "weight": 1, "fillOpacity": 0.06, "dashArray": "4 4",
             "interactive": False}
    if areas is not None and limit:
        polys = areas[areas.index == ftype]
        names = pd.DataFrame({"name": _v("facility_type", ftype, ctx.lang)},
                             index=polys.index)  # one row, none when nothing reaches a street
        return _part(m, f"service_{ftype}", polys, names, ctx,
                     style | {"color": COVERED, "fillColor": COVERED, "dashArray": None},
                     layer="facilities", where=frames.where)
    return _part(m, f"service_{ftype}", sel, fprops.assign(_r=limit or 0), ctx,
                 style | {"radiusKey": "_r"}, layer="facilities", where=frames.where)


def _facility_parts(m: GisplanMap, frames: _Frames, ctx: _Ctx, fac: gpd.GeoDataFrame | None,
                    fac_type: pd.Series | None, ftype: str, limit: float | None,
                    areas: gpd.GeoDataFrame | None = None) -> list[_Part]:
    """Return the parts of the facilities of one type and their service areas.

    With *areas* (:func:`_service_areas`, from a walking network) the service area is
    the merged walking catchment of the type's facilities; without, a straight-line
    circle per facility.
    """
    if fac_type is None or fac is None:
        return []
    sel = fac[(fac_type == ftype).to_numpy()]
    if not len(sel):
        return []
    fprops = pd.DataFrame(index=sel.index)
    names = sel["name"] if "name" in sel.columns else sel["facility_id"]
    fprops["name"] = names.astype(object).where(names.notna(), sel["facility_id"])
    fprops["facility_type"] = _v("facility_type", ftype, ctx.lang)
    fprops["capacity"] = sel["capacity"] if "capacity" in sel.columns else np.nan
    fprops["standard_m"] = limit
    return [
        _service_part(m, frames, ctx, sel, fprops, ftype, limit, areas),
        _part(m, f"facilities_{ftype}", sel, fprops, ctx,
              {"color": FACILITY, "stroke": "#ffffff", "radius": 6, "weight": 1.5,
               "fillOpacity": 1, "nameKey": "name",
               "tooltip": _rows(["facility_type"], ctx),
               "popup": _rows(["facility_type", "capacity", "standard_m"], ctx, _FMT,
                              optional=["capacity"])},
              layer="facilities", where=frames.where),
    ]


def _gaps_legend(ctx: _Ctx, *, walking: bool) -> None:
    lang = ctx.lang
    service = ({"label": _t("walk_catchment", lang), "color": COVERED, "shape": "ring"}
               if walking else
               {"label": _t("service_distance", lang), "color": FACILITY, "shape": "ring"})
    ctx.legend.append({"title": "", "items": [
        {"label": _t("covered", lang), "color": COVERED, "shape": "box"},
        {"label": _t("uncovered", lang), "color": UNCOVERED, "shape": "box"},
        {"label": _t("no_distance", lang), "color": NODATA, "shape": "box"},
        {"label": _t("facilities", lang), "color": FACILITY, "shape": "dot"},
        service,
    ]})


def gaps_map(
    source: MapSource,
    *,
    facility_types: Sequence[str] | None = None,
    options: MapOptions | None = None,
    **overrides: Any,
) -> GisplanMap:
    """Map facility coverage: covered and uncovered compounds per facility type.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        Needs ``compounds``; uses ``coverage_gaps`` (``walk_m_<type>`` columns, computed
        with :mod:`gisplan.coverage` when absent), ``facilities``, ``districts``, ``roads``.
    facility_types : sequence of str, optional
        Facility type keys to show; ``None`` means every type with distances. The first
        is shown on opening, the others are in the layer control.
    options, **overrides
        As for :func:`progress_map`.

    Returns
    -------
    GisplanMap
    """
    from gisplan.standards import load_standard

    opts = _options(options, overrides)
    frames = _frames(source)
    comp = frames.require("compounds", for_what="gaps")
    fac = frames.get("facilities")
    dist, how = _coverage_distances(frames, comp)
    std = load_standard()
    types = _gap_types(dist, facility_types, std, frames.where)
    fac_type = None
    if isinstance(fac, gpd.GeoDataFrame) and "facility_type" in fac.columns:
        fac_type = std.resolve_many(fac["facility_type"])
    lang = opts.lang
    sub = _t("coverage_source_straight" if how == "euclidean" else "coverage_source_network",
             lang)
    m, ctx = _new_map(frames, "gaps", opts, n_features=_count_geoms(comp) + _count_geoms(fac),
                      subtitle=sub)
    _context_layers(m, frames, ctx)
    # One compounds layer carries every type's distance and verdict; the facility types
    # are radio buttons (base layers) that switch which type the compounds show.
    props = _compound_props(comp)
    constants, gaps_per_type = _gap_verdicts(dist, types, std, props, lang)
    part = _part(m, "compounds", comp, props, ctx,
                 {"colorKey": "_cov_{t}", "colors": {"c": COVERED, "g": UNCOVERED,
                                                      "n": NODATA},
                  "otherColor": NODATA, "sw": types[0] if types else "",
                  "constants": constants,
                  "fillOpacity": 0.65, "weight": 1, "nameKey": "name", "searchable": True,
                  "subtitleKey": "type_{t}",
                  "tooltip": [[_t("walk_m", lang), "walk_m_{t}", "m", False],
                              [_t("standard_m", lang), "standard_m_{t}", "m", False]],
                  "popup": [*_rows(["compound_id", "county", "district", "households"], ctx,
                                   _FMT, optional=["county", "district"]),
                            [_t("walk_m", lang), "walk_m_{t}", "m", False],
                            [_t("standard_m", lang), "standard_m_{t}", "m", False]],
                  "extra": "allGaps",
                  "gaps": {"title": _t("all_gaps", lang),
                           "types": [{"key": t, "label": constants[f"type_{t}"],
                                      "standard": constants[f"standard_m_{t}"]}
                                     for t in types],
                           "verdict": {"c": _t("covered", lang), "g": _t("gap", lang),
                                       "n": _t("no_distance", lang)},
                           "colors": {"c": COVERED, "g": UNCOVERED, "n": "#666666"}}},
                 layer="coverage", where=frames.where)
    network = _walk_network(frames, how)
    areas = _service_areas(fac if isinstance(fac, gpd.GeoDataFrame) else None, fac_type,
                           {t: constants[f"standard_m_{t}"] for t in types}, network)
    for i, ftype in enumerate(types):
        parts = _facility_parts(m, frames, ctx, fac, fac_type, ftype,
                                constants[f"standard_m_{ftype}"], areas)
        _Layer(f"{_v('facility_type', ftype, lang)} ({gaps_per_type[ftype]})", parts,
               show=i == 0, overlay=False, switch=("compounds", ftype)).add_to(m)
    _Layer(_t("compounds", lang), [part]).add_to(m)
    _gaps_legend(ctx, walking=network is not None)
    _finish(m, ctx, frames, _t("gaps_title", lang), [comp])
    return m


