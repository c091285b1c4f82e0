"""Interactive, self-contained HTML maps of a programme (folium on inlined Leaflet).

Four kinds of map, each a function returning a :class:`folium.Map`:

- :func:`progress_map`: compounds coloured by stage 进度阶段, county 县区 and 片区 roll-ups
  with the figures of the progress summary, and a time slider over the progress log;
- :func:`gaps_map`: per facility type 设施类型, covered and uncovered compounds, the
  facilities and their service distances 服务半径;
- :func:`bundles_map`: each bundle 连片 in its own colour with its members, households
  and the utility owners 权属单位 to coordinate;
- :func:`utilities_map`: the six networks 管线 by type, with owner and age.

The options the four maps share (language, basemap, title, geometry precision,
renderer) are one :class:`MapOptions`; each function takes ``options=`` and, for
convenience, any of its fields as keywords (``progress_map(p, lang="en")``).

Every map has a layer control, a legend, a search box for compound names, tooltips and
popups with the key figures, Chinese labels by default (``lang="en"`` gives English with
the Chinese term beside it) and opens zoomed to the data. The page is self-contained:
Leaflet and gisplan's small runtime are inlined (:mod:`gisplan._assets`), no CDN is
used, and with ``basemap="none"`` (the default) the file renders fully with the network
cut, drawing district outlines and roads from the programme's own layers. Online
basemaps are OpenStreetMap, Tianditu 天地图 (key from ``$TIANDITU_KEY``) and Amap 高德
(GCJ-02: overlays are shifted to GCJ-02 so that they line up with its tiles).

Geometry is simplified in metres and coordinates rounded to 6 decimals (~0.1 m), so a
5,000-compound city stays well under 5 MB; large maps switch to Leaflet's canvas
renderer. All user text goes into the page as text, never as HTML.

One module per kind of map (:mod:`~gisplan.maps.progress`, :mod:`~gisplan.maps.gaps`,
:mod:`~gisplan.maps.bundles`, :mod:`~gisplan.maps.utilities`, and the
:mod:`~gisplan.maps.atlas` of all four), on what they share: the page and its
scaffolding (``_page``), :mod:`~gisplan.maps.options`, the layers' data
(:mod:`~gisplan.maps.encoding`), labels and colours (``_style``) and
:mod:`~gisplan.maps.render` (:func:`make_map`, one self-contained HTML page).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from gisplan.maps import MapOptions, progress_map, save_map
>>> m = progress_map("layers/guyuan_2022.gpkg", options=MapOptions(lang="en"))
>>> m.feature_counts["compounds"]
26
>>> out = save_map(m, Path(tempfile.mkdtemp()) / "guyuan_progress.html")
>>> out.stat().st_size > 100_000
True
"""

from __future__ import annotations

from gisplan.maps._page import GisplanMap
from gisplan.maps._style import (
    CATEGORICAL,
    CONTEXT,
    COVERED,
    FACILITY,
    NETWORK_COLORS,
    NO_RECORD,
    NODATA,
    STAGE_COLORS,
    UNCOVERED,
)
from gisplan.maps.atlas import ATLAS_MAX_ROWS, atlas_html, save_atlas
from gisplan.maps.bundles import adjacent_colors, bundles_map
from gisplan.maps.encoding import QUANT_ORIGIN, decode_geometries, encode_geometries
from gisplan.maps.gaps import gaps_map
from gisplan.maps.options import (
    BASEMAPS,
    KINDS,
    LANGS,
    RENDERERS,
    TIANDITU_KEY_ENV,
    Basemap,
    Lang,
    MapKind,
    MapOptions,
    MapSource,
    Renderer,
    is_placeholder_key,
    tianditu_key,
)
from gisplan.maps.progress import progress_map
from gisplan.maps.render import PACK_ABOVE, make_map, render_html, save_map
from gisplan.maps.utilities import PIPE_SPACING_PX, shared_street, utilities_map

__all__ = [
    "ATLAS_MAX_ROWS",
    "BASEMAPS",
    "CATEGORICAL",
    "CONTEXT",
    "COVERED",
    "FACILITY",
    "KINDS",
    "LANGS",
    "NETWORK_COLORS",
    "NODATA",
    "NO_RECORD",
    "PACK_ABOVE",
    "PIPE_SPACING_PX",
    "QUANT_ORIGIN",
    "RENDERERS",
    "STAGE_COLORS",
    "TIANDITU_KEY_ENV",
    "UNCOVERED",
    "Basemap",
    "GisplanMap",
    "Lang",
    "MapKind",
    "MapOptions",
    "MapSource",
    "Renderer",
    "adjacent_colors",
    "atlas_html",
    "bundles_map",
    "decode_geometries",
    "encode_geometries",
    "gaps_map",
    "is_placeholder_key",
    "make_map",
    "progress_map",
    "render_html",
    "save_atlas",
    "save_map",
    "shared_street",
    "tianditu_key",
    "utilities_map",
]
