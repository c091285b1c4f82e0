"""The atlas 一张图: the four maps of a programme in one page."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import html
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from gisplan import _assets
from gisplan._errors import InputError
from gisplan.maps._page import _compound_props, _credits, _Ctx, _Frames, _frames
from gisplan.maps._style import _t, _v
from gisplan.maps.encoding import _column_values, _safe_json
from gisplan.maps.options import KINDS, Lang, MapOptions, MapSource, _options
from gisplan.maps.progress import _stage_snapshots
from gisplan.maps.render import make_map, render_html
from gisplan.schema import stage_order

# ---------------------------------------------------------------- the atlas 一张图

#: most rows the atlas table draws at once (filtering narrows them; all are searched)
ATLAS_MAX_ROWS = 2000


def _atlas_rows(frames: _Frames, lang: Lang, as_of: str | dt.date | None
                ) -> tuple[list[dict[str, Any]], list[list[Any]], list[str]]:
    """Columns, rows (one per compound) and snapshot dates of the atlas table."""
    comp = frames.require("compounds", for_what="atlas")
    log, _, dates, hist = _stage_snapshots(frames, comp, as_of)
    order = stage_order()
    now = hist[:, -1]
    stage = [_v("stage", order[k], lang) if k >= 0 else _t("no_record", lang) for k in now]
    props = _compound_props(comp)
    table = pd.DataFrame({
        "compound_id": props["compound_id"].astype(str), "name": props["name"],
        "county": props["county"], "district": props["district"],
        "households": pd.to_numeric(props["households"], errors="coerce"), "stage": stage})
    columns = [{"key": c, "label": _t(c, lang), "numeric": c == "households"}
               for c in table.columns]
    rows = [list(r) for r in zip(*(_column_values(table[c]) for c in table.columns),
                                 strict=True)]
    return columns, rows, [d.isoformat() for d in dates] if len(log) else []


def _atlas_views(source: MapSource, opts: MapOptions, as_of: str | dt.date | None
                 ) -> list[dict[str, str]]:
    """Each theme's page, gzipped and base64-coded; themes without their data are left out."""
    views = []
    for kind in KINDS:
        kind_options: dict[str, Any] = {"as_of": as_of} if kind == "progress" else {}
        try:
            m = make_map(source, kind, options=opts, **kind_options)  # type: ignore[arg-type]
        except InputError:
            if kind == "progress":
                raise
            continue
        page = render_html(m)
        blob = base64.b64encode(gzip.compress(page.encode("utf-8"), 6, mtime=0)).decode()
        views.append({"kind": kind, "label": _t(f"{kind}_title", opts.lang), "data": blob})
    return views


def atlas_html(source: MapSource, *, as_of: str | dt.date | None = None,
               options: MapOptions | None = None, **overrides: Any) -> str:
    """Return the "一张图" atlas: the four themes on one self-contained page.

    The themes (progress, gaps, bundles, utilities; a theme whose layers are missing is
    left out) are switchable views sharing one search box and one time slider, next to a
    compound table linked to the map: filter or sort the table and the map shows the
    rows kept and fits to them; click a row and the map zooms to the compound; click a
    compound on the map and its row is selected. Each view is a gisplan map page, kept
    gzipped in the atlas and opened in a frame when first shown.

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
    as_of : str or datetime.date, optional
        Status date of the progress view and the table (``None``: latest report).
    options, **overrides
        As for :func:`progress_map`.

    Returns
    -------
    str
        The page (HTML).

    Examples
    --------
    >>> page = atlas_html("layers/guyuan_2022.gpkg")
    >>> page.count('"kind":'), "gp-atlas-table" in page
    (4, True)
    """
    opts = _options(options, overrides)
    frames = _frames(source)
    lang = opts.lang
    columns, rows, dates = _atlas_rows(frames, lang, as_of)
    views = _atlas_views(source, opts, as_of)
    name = frames.meta.get("name") if lang == "zh" else (
        frames.meta.get("name_en") or frames.meta.get("name"))
    title = opts.title or " · ".join(str(x) for x in (name, _t("atlas_title", lang)) if x)
    config = {"views": views, "columns": columns, "rows": rows, "dates": dates,
              "maxRows": ATLAS_MAX_ROWS,
              "text": {"filter": _t("filter_table", lang), "search": _t("search_all", lang),
                       "time": _t("time", lang)}}
    body = json.dumps(config, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    page = (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
            '<meta charset="utf-8"><meta name="viewport" content="width=device-width, '
            f'initial-scale=1"><title>{html.escape(title)}</title>'
            f"{_assets.inline_style(_assets.atlas_css())}</head><body>"
            f'<div id="gp-atlas-bar"><h1>{html.escape(title)}</h1>'
            '<div id="gp-atlas-tabs" role="tablist"></div><div id="gp-atlas-tools"></div></div>'
            '<div id="gp-atlas-main"><div id="gp-atlas-maps"></div>'
            '<div id="gp-atlas-table"></div></div>'
            f'<div class="gp-atlas-credits">{html.escape(_credits(frames, _Ctx(opts, False)))}'
            "</div>"
            f'<script type="application/json" id="gp-atlas-config">{_safe_json(body)}</script>'
            f"{_assets.inline_script(_assets.atlas_js())}</body></html>")
    if opts.embed_font:
        page, _ = _assets.embed_cjk_font(page)
    _assets.assert_self_contained(page, where="atlas")
    return page


def save_atlas(source: MapSource, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write :func:`atlas_html` to *path* (atomically) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(atlas_html(source, **options), encoding="utf-8")
    tmp.replace(out)
    return out

