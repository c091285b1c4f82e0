"""Rendering a map to one self-contained HTML page, and saving it."""

from __future__ import annotations

import base64
import gzip
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import folium

from gisplan import _assets
from gisplan.maps._page import GisplanMap
from gisplan.maps.bundles import bundles_map
from gisplan.maps.gaps import gaps_map
from gisplan.maps.options import KINDS, MapKind, MapOptions, MapSource
from gisplan.maps.progress import progress_map
from gisplan.maps.utilities import utilities_map

_BUILDERS: dict[str, Callable[..., GisplanMap]] = {
    "progress": progress_map,
    "gaps": gaps_map,
    "bundles": bundles_map,
    "utilities": utilities_map,
}


def make_map(source: MapSource, kind: MapKind, *, options: MapOptions | None = None,
             **kind_options: Any) -> GisplanMap:
    """Build the map of *kind* (``progress``, ``gaps``, ``bundles``, ``utilities``).

    Parameters
    ----------
    source : Project, path or mapping of layer name to GeoDataFrame
        The programme.
    kind : {"progress", "gaps", "bundles", "utilities"}
        Which map.
    options : MapOptions, optional
        The shared options; ``None`` means the defaults.
    **kind_options
        Options of the kind's own function (``as_of``, ``facility_types``, ...) and
        fields of :class:`MapOptions`.

    Returns
    -------
    GisplanMap

    Examples
    --------
    >>> m = make_map("layers/guyuan_2022.gpkg", "utilities", options=MapOptions(lang="en"))
    >>> m.basemap
    'none'
    """
    if kind not in _BUILDERS:
        raise ValueError(f"unknown map kind {kind!r}; choose from {', '.join(KINDS)}")
    return _BUILDERS[kind](source, options=options, **kind_options)



#: layer data larger than this (characters) goes into the page gzipped (base64), and is
#: unpacked by the browser's DecompressionStream before the map is built
PACK_ABOVE = 1_000_000


def _with_data(page: str, payloads: Sequence[str]) -> str:
    """Put the layers' data into *page* and build the map once the data is there.

    Small data is one inline JSON array; larger data is gzipped and base64-coded
    (:data:`PACK_ABOVE`). The map script (folium's last ``<script>``) runs inside
    ``gisplan.whenData``.
    """
    at = page.rfind("<script>")
    end = page.find("</script>", at)
    if at < 0 or end < 0 or "L.map(" not in page[at:end]:
        return page
    body = "[" + ",".join(payloads) + "]"
    if len(body) > PACK_ABOVE:
        blob = base64.b64encode(gzip.compress(body.encode("utf-8"), 6, mtime=0)).decode()
        data = f'<script>gisplan.setPacked("{blob}");</script>\n'
    else:
        data = f"<script>gisplan.setData({body});</script>\n"
    script = page[at + len("<script>"):end]
    return (page[:at] + data + "<script>gisplan.whenData(function () {" + script + "});"
            + page[end:])


def render_html(m: folium.Map, *, self_contained: bool = True) -> str:
    """Return the page of *m*; with *self_contained*, check it fetches nothing remote."""
    page = m.get_root().render()
    payloads: list[str] = getattr(m, "payloads", [])
    if getattr(m, "embed_font", False):
        page, embedded = _assets.embed_cjk_font(page, extra="".join(payloads))
        m.font_embedded = embedded  # type: ignore[attr-defined]
    page = _with_data(page, payloads)
    if self_contained:
        _assets.assert_self_contained(page)
    return page


def save_map(m: folium.Map, path: str | os.PathLike[str], *,
             self_contained: bool = True) -> Path:
    """Write *m* to one HTML file (atomically) and return its path.

    Parameters
    ----------
    m : folium.Map
        A map from this module.
    path : str or os.PathLike
        Output file; parent folders are created.
    self_contained : bool
        Refuse to write a page that would load a script or stylesheet from the network.

    Returns
    -------
    pathlib.Path
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(m, self_contained=self_contained)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
