"""Waste sorting facilities (垃圾分类设施): 清洁小屋 per large compound, shared 垃圾分类亭.

Huai'an (一) builds a 清洁小屋 in every compound of some size and, for scattered small
compounds, shared 垃圾分类亭 per 片区. ``data/waste_points.toml`` sets the size threshold
and the grouping; the kiosks are sited on the walking network by
:func:`gisplan.siting.site` (facility type ``waste_collection`` of the life-circle
standard, whose walking distance is the one judged), at most ``max_kiosks_per_group``
per 片区. Every small compound is told which kiosk serves it, or that none is within the
standard's distance.

Examples
--------
>>> import pandas as pd
>>> from gisplan.waste_points import split_by_size
>>> c = pd.DataFrame({"households": [500, 40], "buildings": [6, 1]})
>>> split_by_size(c, min_households=150, min_buildings=4).tolist()
[True, False]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.costs import data_toml
from gisplan.findings import Finding, Report, add_flags
from gisplan.sources import ProgrammeLike, as_project, read_layers

__all__ = ["WastePointResult", "load_waste_rules", "split_by_size", "waste_points",
           "waste_points_project"]


def load_waste_rules(path: str | Path | None = None) -> dict[str, Any]:
    """Read ``data/waste_points.toml`` (or *path*)."""
    doc, file = data_toml(path, "waste_points.toml")
    doc["file"] = file
    return doc


def split_by_size(compounds: pd.DataFrame, *, min_households: float,
                  min_buildings: float) -> pd.Series:
    """Return True where a compound is large enough for its own 清洁小屋."""
    none = pd.Series(np.nan, index=compounds.index)
    hh = pd.to_numeric(compounds.get("households", none), errors="coerce").fillna(0)
    b = pd.to_numeric(compounds.get("buildings", none), errors="coerce").fillna(0)
    return (hh >= min_households) | (b >= min_buildings)


@dataclass
class WastePointResult:
    """Proposed facilities (store layer ``waste_points``) and the compounds' assignment.

    ``points``: one row per facility: ``kind`` (``cleaning_house`` / ``kiosk``),
    ``kind_zh`` (清洁小屋 / 垃圾分类亭), ``group``, ``compound_ids`` served,
    ``households``, ``standard_m``; geometry a point (store CRS).
    ``compounds``: every compound with ``waste_facility`` (kind), ``kiosk`` (id),
    ``within_standard`` and ``flags``.
    """

    points: gpd.GeoDataFrame
    compounds: pd.DataFrame
    report: Report


def _kiosks_for_group(layers: dict[str, Any], idx: np.ndarray, group: str, k_max: int,
                      facility_type: str) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Site up to *k_max* kiosks for the small compounds *idx* of one group."""
    from gisplan.siting import site

    comp = layers["compounds"].iloc[idx]
    fac = layers.get("facilities")
    res = site(comp, fac.iloc[0:0] if fac is not None else None, roads=layers.get("roads"),
               facility_type=facility_type, count=min(k_max, len(idx)))
    rows, served = [], {}
    for r in res.sites.itertuples():
        kid = f"{group}-K{r.rank}"
        ids = [c for c in str(r.compound_ids).split(";") if c]
        for c in ids:
            served[int(np.flatnonzero(comp["compound_id"].astype(str).to_numpy() == c)[0])] = kid
        rows.append({"facility_id": kid, "kind": "kiosk", "kind_zh": "垃圾分类亭",
                     "group": group, "compound_ids": ";".join(ids),
                     "households": int(r.households_new), "standard_m": float(r.standard_m),
                     "geometry": r.geometry})
    return rows, {int(idx[i]): k for i, k in served.items()}


def waste_points(layers: dict[str, Any], *, rules: dict[str, Any] | None = None
                 ) -> WastePointResult:
    """Propose 清洁小屋 and shared 垃圾分类亭 (see the module docstring).

    Parameters
    ----------
    layers : dict
        ``compounds`` (required), ``roads``, ``facilities`` (GeoDataFrames).
    rules : dict, optional
        From :func:`load_waste_rules`.
    """
    r = rules or load_waste_rules()
    comp = layers["compounds"].reset_index(drop=True)
    rep = Report()
    large = split_by_size(comp, min_households=r["cleaning_house_min_households"],
                          min_buildings=r["cleaning_house_min_buildings"]).to_numpy()
    pts = shapely.point_on_surface(comp.geometry.to_numpy())
    rows = [{"facility_id": f"{c}-QJ", "kind": "cleaning_house", "kind_zh": "清洁小屋",
             "group": g, "compound_ids": c, "households": int(h), "standard_m": np.nan,
             "geometry": p} for c, g, h, p in zip(
                 comp["compound_id"].astype(str)[large], comp[r["group_column"]][large],
                 pd.to_numeric(comp["households"]).fillna(0)[large], pts[large], strict=True)]
    kiosk = np.full(len(comp), "", dtype=object)
    groups = comp[r["group_column"]].astype(str).to_numpy()
    for g in sorted(set(groups[~large])):
        idx = np.flatnonzero((groups == g) & ~large)
        got, served = _kiosks_for_group({**layers, "compounds": comp}, idx, g,
                                        int(r["max_kiosks_per_group"]), r["facility_type"])
        rows += got
        for i, k in served.items():
            kiosk[i] = k
    out = comp.drop(columns="geometry").copy()
    out["waste_facility"] = np.where(large, "cleaning_house", "kiosk")
    out["kiosk"] = kiosk
    out["within_standard"] = large | (kiosk != "")
    far = ~out["within_standard"].to_numpy()
    add_flags(out, far, "kiosk_beyond_standard")
    rep.add_capped((Finding("warning", "kiosk_beyond_standard", "no proposed 垃圾分类亭 "
                            "within the standard's walking distance of this small compound",
                            layer="compounds", row=c, hint="add a kiosk (raise "
                            "max_kiosks_per_group) or give the compound its own point")
                    for c in out.loc[far, "compound_id"].astype(str)), total=int(far.sum()))
    points = gpd.GeoDataFrame(pd.DataFrame(rows).drop(columns="geometry") if rows else
                              pd.DataFrame(columns=["facility_id"]),
                              geometry=[x["geometry"] for x in rows], crs=comp.crs)
    rep.count("waste_points", len(comp), len(out))
    return WastePointResult(points, out, rep)


def waste_points_project(source: ProgrammeLike, *, rules: str | Path | None = None
                         ) -> WastePointResult:
    """Propose waste sorting facilities for a programme (adapter).

    Examples
    --------
    >>> r = waste_points_project("layers/guyuan_2022.gpkg")
    >>> r.points["kind"].value_counts().sort_index().to_dict()["cleaning_house"]
    4
    """
    layers = read_layers(as_project(source), ["compounds"], optional=["roads", "facilities"])
    return waste_points(layers, rules=load_waste_rules(rules))
