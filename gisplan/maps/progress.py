"""The progress map 进度图: compounds by stage, 县区 and 片区 roll-ups, a time slider."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from gisplan._errors import InputError
from gisplan.maps._page import (
    _FMT,
    GisplanMap,
    _Call,
    _compound_props,
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
from gisplan.maps._style import NO_RECORD, NO_RECORD_STROKE, NODATA, STAGE_COLORS, _t, _v
from gisplan.maps.options import Lang, MapOptions, MapSource, _options
from gisplan.schema import stage_order

# ---------------------------------------------------------------- progress


def _snapshot_dates(log_dates: pd.Series, as_of: dt.date, *, max_steps: int = 36) -> list[dt.date]:
    """Month ends from the first log date to *as_of*, thinned to at most *max_steps*."""
    d = pd.to_datetime(log_dates, errors="coerce").dropna()
    if not len(d):
        return [as_of]
    start = d.min().to_period("M")
    ends = pd.period_range(start, pd.Timestamp(as_of).to_period("M"), freq="M")
    dates = [p.end_time.date() for p in ends]
    dates = [x for x in dates if x < as_of] + [as_of]
    if len(dates) > max_steps:
        idx = np.unique(np.linspace(0, len(dates) - 1, max_steps).round().astype(int))
        dates = [dates[i] for i in idx]
    return dates


def _stage_history(compounds: pd.DataFrame, log: pd.DataFrame,
                   dates: Sequence[dt.date]) -> np.ndarray:
    """Stage index (into :func:`stage_order`) per compound × date; -1 without a record.

    Each column is the stage :func:`gisplan.progress.compound_status` gives on that
    date: a compound's last report decides from its own date until its next report, so
    each report is written at the first snapshot date on or after it and carried forward.
    """
    from gisplan.progress.status import valid_rows

    order = {s: i for i, s in enumerate(stage_order())}
    ids = compounds["compound_id"].astype(str).to_numpy()
    out = np.full((len(ids), len(dates)), -1, dtype=np.int8)
    if not len(log) or not len(dates):
        return out
    frame = valid_rows(log)
    frame = frame[frame["compound_id"].notna().to_numpy()]
    grid = np.array([np.datetime64(d, "ns") for d in dates])
    if np.any(grid[1:] < grid[:-1]):
        raise ValueError("snapshot dates must be in order")
    keys, row = np.unique(frame["key"].astype(str).to_numpy(), return_inverse=True)
    lo = np.searchsorted(grid, frame["date"].to_numpy(dtype="datetime64[ns]"), side="left")
    # the last report of a compound on or before a date wins: keep each (compound, lo)'s
    # last row (frame is sorted by key, date and log id)
    last = ~pd.DataFrame({"k": row, "lo": lo}).duplicated(keep="last").to_numpy()
    last &= lo < len(dates)
    code = frame["stage"].map(order).to_numpy(dtype=float)
    marks = np.full((len(keys), len(dates)), -1, dtype=np.int16)
    marks[row[last], lo[last]] = np.nan_to_num(code[last], nan=-1)
    # carry each report forward to the next one
    at = np.where(marks >= 0, np.arange(len(dates))[None, :], -1)
    at = np.maximum.accumulate(at, axis=1)
    filled = np.take_along_axis(marks, np.maximum(at, 0), axis=1)
    hist = np.where(at >= 0, filled, -1).astype(np.int8)
    where = pd.Index(keys).get_indexer(pd.Index(ids))  # a compound listed twice gets its row twice
    out[where >= 0] = hist[where[where >= 0]]
    return out


def _encode_history(hist: np.ndarray) -> list[str]:
    """One string per compound, one base-36 character per date ('-' for none)."""
    chars = np.array(list("0123456789abcdefghijklmnopqrstuvwxyz"))
    sym = np.where(hist < 0, "-", chars[np.clip(hist, 0, 35)])
    return ["".join(row) for row in sym]


_ROLLUP_COLS = ("compounds_planned", "households_planned", "compounds_started",
                "households_started", "start_rate_households", "compounds_completed",
                "households_completed", "completion_rate_households", "starts_flagged")


class _Rollups:
    """Progress figures per county / 片区 on the map's snapshot dates, computed once.

    One :func:`gisplan.progress.progress_series` per level for all the dates (the
    slider, the roll-up layers and the charts all ask for them).
    """

    def __init__(self, compounds: pd.DataFrame, log: pd.DataFrame,
                 dates: Sequence[dt.date]) -> None:
        self.compounds, self.log, self.dates = compounds, log, list(dates)
        self._series: dict[str, pd.DataFrame] = {}

    def _level(self, level: str) -> pd.DataFrame:
        """Return the level's series indexed by (unit, date); unit 合计 is the programme."""
        from gisplan.progress import progress_series

        by: Literal["county", "district"] = "county" if level == "county" else "district"
        if by not in self._series:
            s = (progress_series(self.compounds, self.log, self.dates, by=by)
                 if len(self.log) else pd.DataFrame(columns=["date", "unit"]))
            self._series[by] = s.set_index(["unit", "date"])
        return self._series[by]

    def at(self, day: dt.date, level: str) -> pd.DataFrame:
        """:func:`gisplan.progress.progress_summary` for county or 片区, indexed by unit."""
        s = self._level(level)
        if not len(s):
            return pd.DataFrame(columns=list(_ROLLUP_COLS))
        rows = s[s.index.get_level_values("date") == day].droplevel("date")
        return rows.drop(index="合计", errors="ignore")

    def grid(self, level: str, units: Sequence[str]) -> np.ndarray:
        """Return the figures of *units* (合计: the programme) on every date.

        An array (unit, date, :data:`_ROLLUP_COLS`); NaN where a unit has no row.
        """
        cols = list(_ROLLUP_COLS)
        s = self._level(level)
        if not len(s):
            return np.full((len(units), len(self.dates), len(cols)), np.nan)
        full = pd.MultiIndex.from_product([list(units), self.dates], names=["unit", "date"])
        values = s.reindex(columns=cols).reindex(full).to_numpy(dtype=float, na_value=np.nan)
        return values.reshape(len(units), len(self.dates), len(cols))

    def total(self, day: dt.date) -> dict[str, Any]:
        """Return the programme total row (合计) of the progress summary on *day*."""
        s = self._level("county")
        at = s.index.get_indexer(pd.MultiIndex.from_tuples([("合计", day)]))[0]
        return {} if at < 0 else {str(k): v for k, v in s.iloc[at].items()}


def _pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if np.isnan(v) else f"{v:.0%}"


def _status_day(log: pd.DataFrame, as_of: str | dt.date | None) -> dt.date:
    """Return the status date: *as_of*, or (``None``) the latest date in the progress log."""
    if as_of is not None:
        from gisplan.progress.dates import require_date

        return require_date(as_of, what="--as-of date 截至日期")
    log_dates = pd.to_datetime(log["date"], errors="coerce")
    return log_dates.max().date() if log_dates.notna().any() else dt.date.today()


def _stage_snapshots(frames: _Frames, comp: pd.DataFrame, as_of: str | dt.date | None
                     ) -> tuple[pd.DataFrame, dt.date, list[dt.date], np.ndarray]:
    """Return the log, the status day, the snapshot dates and the stages on them.

    The log is empty when the programme has none; the stages are each compound's on
    each date (:func:`_stage_history`), for the progress map's slider and the atlas table.
    """
    log = frames.get("progress_log")
    log = log if log is not None else pd.DataFrame(columns=["compound_id", "date", "stage"])
    day = _status_day(log, as_of)
    dates = _snapshot_dates(log["date"], day)
    return log, day, dates, _stage_history(comp, log, dates)


_ROLLUP_BINS = [0, 0.25, 0.5, 0.75, 1.0]
_ROLLUP_PALETTE = [NODATA, "#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"]


def _json_number(v: Any) -> float | int | None:
    """Return *v* as a JSON number, ``None`` for missing."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if np.isnan(f):
        return None
    return round(f, 4) if not f.is_integer() else int(f)


def _rollup_series(roll: _Rollups, level: str,
                   units: Sequence[str]) -> dict[str, list[list[Any]]]:
    """Roll-up figures of each unit on each snapshot date (for the time slider)."""
    names = list(dict.fromkeys(str(u) for u in units))
    grid = roll.grid(level, names).tolist()  # (unit, date, column)
    return {u: [[_json_number(v) for v in row] for row in rows]
            for u, rows in zip(names, grid, strict=True)}


def _progress_rollups(m: GisplanMap, frames: _Frames, ctx: _Ctx, comp: gpd.GeoDataFrame,
                      roll: _Rollups) -> list[dict[str, Any]]:
    """County 县区 and 片区 roll-up layers; returns their figures per date for the slider."""
    districts = frames.get("districts")
    series: list[dict[str, Any]] = []
    if not isinstance(districts, gpd.GeoDataFrame) or "level" not in districts.columns:
        return series
    for level in ("county", "pianqu"):
        by = "county" if level == "county" else "district"
        if by not in comp.columns:
            continue
        polys = districts[districts["level"].astype(str) == level]
        if not len(polys):
            continue
        fig = roll.at(roll.dates[-1], level).reindex(polys["name"].astype(object).to_numpy())
        props = pd.DataFrame({"name": polys["name"].astype(object).to_numpy()},
                             index=polys.index)
        for c in _ROLLUP_COLS:
            props[c] = fig[c].to_numpy() if c in fig.columns else np.nan
        share = props["completion_rate_households"].astype(float)
        bins = np.digitize(share.fillna(-1).to_numpy(), _ROLLUP_BINS)
        props["_fill"] = np.array(_ROLLUP_PALETTE)[bins]
        part = _part(m, f"rollup_{level}", polys, props, ctx,
                     {"colorKey": "_fill", "colors": {c: c for c in _ROLLUP_PALETTE},
                      "stroke": "#333333", "fillOpacity": 0.35, "weight": 2,
                      "nameKey": "name", "subtitle": _t(f"rollup_{level}", ctx.lang),
                      "tooltip": _rows(["start_rate_households",
                                        "completion_rate_households"], ctx, _FMT),
                      "popup": _rows(list(_ROLLUP_COLS), ctx, _FMT)},
                     layer="districts", where=frames.where)
        _Layer(_t(f"rollup_{level}", ctx.lang), [part], show=level == "pianqu").add_to(m)
        series.append({"layer": f"rollup_{level}", "cols": list(_ROLLUP_COLS),
                       "shareKey": "completion_rate_households", "bins": _ROLLUP_BINS,
                       "palette": _ROLLUP_PALETTE,
                       "values": _rollup_series(roll, level,
                                                props["name"].astype(str).tolist())})
    return series


def _stage_dates(comp: pd.DataFrame, log: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """First date on or before *day* each compound reached started 开工 and completed 完工."""
    out = pd.DataFrame({"started_on": None, "completed_on": None}, index=comp.index,
                       dtype=object)
    if not len(log) or "stage" not in log.columns:
        return out
    order = {s: i for i, s in enumerate(stage_order())}
    rank = log["stage"].map(order)
    when = pd.to_datetime(log["date"], errors="coerce")
    ok = when.notna() & rank.notna() & (when <= pd.Timestamp(day))
    ids = comp["compound_id"].astype(str)
    for col, stage in (("started_on", "started"), ("completed_on", "completed")):
        sel = ok & (rank >= order[stage])
        first = when[sel].groupby(log["compound_id"][sel].astype(str)).min()
        out[col] = ids.map(first.dt.strftime("%Y-%m-%d")).astype(object).to_numpy()
    return out.where(out.notna(), None)


def _progress_compounds(m: GisplanMap, frames: _Frames, ctx: _Ctx, comp: gpd.GeoDataFrame,
                        log: pd.DataFrame, hist: np.ndarray, dates: Sequence[dt.date]
                        ) -> np.ndarray:
    """Add the compounds layer coloured by stage on the last date; returns the stage keys."""
    lang, order = ctx.lang, stage_order()
    now = hist[:, -1]
    stage_key = np.array([*order, ""], dtype=object)[np.where(now < 0, len(order), now)]
    props = _compound_props(comp)
    props["stage"] = [_v("stage", k, lang) if k else _t("no_record", lang) for k in stage_key]
    props["_stage"] = stage_key
    props["_h"] = _encode_history(hist)
    props = props.join(_stage_dates(comp, log, dates[-1]))
    time_cfg = {"histKey": "_h", "dates": [d.isoformat() for d in dates],
                "labels": [_v("stage", s, lang) for s in order],
                "none": _t("no_record", lang)}
    part = _part(m, "compounds", comp, props, ctx,
                 {"colorKey": "_stage", "colors": dict(STAGE_COLORS) | {"": NO_RECORD},
                  "fillOpacity": 0.75, "weight": 1,
                  "nameKey": "name", "searchable": True,
                  "tooltip": _rows(["stage", "households"], ctx, _FMT),
                  "popup": _rows(["compound_id", "county", "district", "stage", "started_on",
                                  "completed_on", "households", "buildings", "floor_area_m2",
                                  "built_year"], ctx, _FMT,
                                 optional=["county", "district", "built_year", "started_on",
                                           "completed_on"]),
                  "extra": "stageNow", "time": time_cfg},
                 layer="compounds", where=frames.where)
    _Layer(_t("compounds", lang), [part]).add_to(m)
    return stage_key


def _progress_legend(ctx: _Ctx, stage_key: np.ndarray, hist: np.ndarray) -> None:
    """Legend of the stages met on any snapshot date, counted on the status date.

    The time slider updates the counts (rows are keyed by stage).
    """
    lang, order = ctx.lang, stage_order()
    counts = pd.Series(stage_key).value_counts()
    seen = set(np.unique(hist).tolist())
    items = [{"label": _v("stage", s, lang), "color": STAGE_COLORS[s], "shape": "box",
              "count": int(counts.get(s, 0)), "key": s}
             for i, s in enumerate(order) if i in seen]
    if -1 in seen:
        items.append({"label": _t("no_record", lang), "color": NO_RECORD,
                      "stroke": NO_RECORD_STROKE, "dash": True, "shape": "box",
                      "count": int(counts.get("", 0)), "key": ""})
    ctx.legend.append({"title": _t("stage", lang), "items": items})


#: most county charts drawn in the panel (the programme total is always first)
MAX_CHART_COUNTIES = 20


def _chart_targets(meta: Mapping[str, Any], lang: Lang) -> list[dict[str, Any]]:
    """Milestones on 开工/完工 (started/completed) as chart targets; others are left out."""
    from gisplan.progress.milestones import parse_measure

    out = []
    for ms in meta.get("milestones") or []:
        try:
            stage, per = parse_measure(str(ms.get("measure", "")))
            target = float(ms["target"])
            day = dt.date.fromisoformat(str(ms["date"])[:10])
        except (KeyError, TypeError, ValueError, InputError):
            continue
        if stage not in ("started", "completed"):
            continue
        label = str(ms.get("zh") or ms.get("key") or "") if lang == "zh" else str(
            ms.get("key") or ms.get("zh") or "")
        out.append({"date": day.isoformat(), "target": target, "label": label,
                    "series": (0 if stage == "started" else 1) + (0 if per == "households"
                                                                   else 2)})
    return out


def _progress_charts(comp: pd.DataFrame, roll: _Rollups,
                     meta: Mapping[str, Any], lang: Lang) -> dict[str, Any] | None:
    """Per county 开工率/完工率 (by households, by count) on each snapshot date.

    The JS runtime draws them as inline SVG in a panel with the milestone targets and
    a marker at the slider's date (``G.progressCharts``).
    """
    if not len(roll.log) or "county" not in comp.columns:
        return None
    dates = roll.dates
    counties = (comp["county"].dropna().astype(str).value_counts()
                .index[:MAX_CHART_COUNTIES].tolist())
    units = [("合计", _t("programme_total", lang))] if len(counties) > 1 else []
    units += [(c, c) for c in sorted(counties)]
    grid = roll.grid("county", [u for u, _ in units])  # (unit, date, column)
    col = {c: i for i, c in enumerate(_ROLLUP_COLS)}
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.stack([grid[..., col[n]] / grid[..., col[d]] for n, d in (
            ("households_started", "households_planned"),
            ("households_completed", "households_planned"),
            ("compounds_started", "compounds_planned"),
            ("compounds_completed", "compounds_planned"))], axis=-1)
    values = [[[_json_number(v) for v in day] for day in rows]
              for rows in np.where(np.isfinite(shares), shares, np.nan).tolist()]
    return {"dates": [d.isoformat() for d in dates],
            "units": [{"name": label, "values": v} for (_, label), v in zip(units, values,
                                                                             strict=True)],
            "targets": _chart_targets(meta, lang),
            "series": [f"{_t('start_rate', lang)}（{_t('by_households', lang)}）",
                       f"{_t('completion_rate', lang)}（{_t('by_households', lang)}）",
                       f"{_t('start_rate', lang)}（{_t('by_count', lang)}）",
                       f"{_t('completion_rate', lang)}（{_t('by_count', lang)}）"],
            "colors": [STAGE_COLORS["started"], STAGE_COLORS["completed"],
                       STAGE_COLORS["started"], STAGE_COLORS["completed"]],
            "short": [_t("start_rate", lang), _t("completion_rate", lang)],
            "title": _t("charts", lang), "targetLabel": _t("target", lang)}


def _time_slider(m: GisplanMap, ctx: _Ctx, dates: Sequence[dt.date], *,
                 totals: list[list[Any]], rollups: list[dict[str, Any]],
                 charts: dict[str, Any] | None = None) -> None:
    """Add the slider over the snapshots of the progress log (drawn by the JS runtime)."""
    lang, order = ctx.lang, stage_order()
    _Call("timeSlider", {
        "layer": "compounds", "dates": [d.isoformat() for d in dates], "histKey": "_h",
        "colors": [STAGE_COLORS[s] for s in order],
        "labels": [_v("stage", s, lang) for s in order],
        "stageKeys": list(order), "totals": totals, "rollups": rollups,
        "noneColor": NO_RECORD, "noneStroke": NO_RECORD_STROKE, "noneDash": "3 3",
        "start": len(dates) - 1, "hhKey": "households",
        "started": order.index("started"), "completed": order.index("completed"),
        "title": _t("slider", lang),
        "text": {"none": _t("no_record", lang), "asOf": _t("as_of", lang),
                 "startedShare": _t("started_share", lang),
                 "completedShare": _t("completed_share", lang)},
    }).add_to(m)
    if charts is not None:
        _Call("progressCharts", charts).add_to(m)


def progress_map(
    source: MapSource,
    *,
    as_of: str | dt.date | None = None,
    options: MapOptions | None = None,
    **overrides: Any,
) -> GisplanMap:
    """Map compounds by renovation stage, with roll-ups and a time slider.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        The programme: needs ``compounds``; uses ``progress_log``, ``districts``, ``roads``.
    as_of : str or datetime.date, optional
        Status date (``"2023-06-30"``); ``None`` means the latest date in the progress log
        (today when the log is empty).
    options : MapOptions, optional
        Language, basemap, title, geometry and renderer; ``None`` means the defaults.
    **overrides
        Fields of :class:`MapOptions` to change (``lang="en"``, ``basemap="osm"``).

    Returns
    -------
    GisplanMap
        A :class:`folium.Map`; save it with :func:`save_map`.

    Examples
    --------
    >>> m = progress_map("layers/guyuan_2022.gpkg", as_of="2022-09-30", lang="en")
    >>> m.legend[-1]["title"]
    'Stage 进度阶段'
    """
    opts = _options(options, overrides)
    frames = _frames(source)
    comp = frames.require("compounds", for_what="progress")
    log, day, dates, hist = _stage_snapshots(frames, comp, as_of)
    roll = _Rollups(comp, log, dates)
    total = roll.total(dates[-1])
    lang = opts.lang
    sub = (f"{_t('as_of', lang)} {day.isoformat()} · {_t('started_share', lang)} "
           f"{_pct(total.get('start_rate_households'))} · {_t('completed_share', lang)} "
           f"{_pct(total.get('completion_rate_households'))}")
    m, ctx = _new_map(frames, "progress", opts, n_features=_count_geoms(comp), subtitle=sub)
    _context_layers(m, frames, ctx)
    rollups = _progress_rollups(m, frames, ctx, comp, roll)
    stage_key = _progress_compounds(m, frames, ctx, comp, log, hist, dates)
    _progress_legend(ctx, stage_key, hist)
    _finish(m, ctx, frames, _t("progress_title", lang), [comp])
    col = [_ROLLUP_COLS.index(c) for c in ("start_rate_households",
                                            "completion_rate_households")]
    totals = [[_json_number(v) for v in day]
              for day in roll.grid("county", ["合计"])[0][:, col].tolist()]
    _time_slider(m, ctx, dates, totals=totals, rollups=rollups,
                 charts=_progress_charts(comp, roll, frames.meta, lang))
    return m


