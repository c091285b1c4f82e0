"""Offline assets for the HTML maps: Leaflet and gisplan's own script, inlined.

A published map must open from disk on a government network with no internet. Folium's
default page loads Leaflet, jQuery, Bootstrap and Font Awesome from CDNs; gisplan's maps
drop all of those and inline what they need instead:

- Leaflet's script and stylesheet from the ``xstatic-leaflet`` package (PyPI), with the
  stylesheet's images turned into ``data:`` URIs;
- gisplan's small plain-JS runtime (legend, search box, time slider, escaping, feature
  layers) from ``gisplan/data/maps/``;
- a subset of a CJK font with only the glyphs the page uses (:func:`embed_cjk_font`), so
  that Chinese renders on a machine with no CJK font. The font is Noto Sans CJK SC (SIL
  Open Font License 1.1) from Debian's ``fonts-noto-cjk`` (or the file named by
  ``$GISPLAN_CJK_FONT``), subset with HarfBuzz (uharfbuzz); the licence is named in the page.

:func:`external_resources` lists any script, stylesheet, image or frame a page would
still fetch from the network; :func:`assert_self_contained` raises when there is one.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from gisplan._errors import GisplanError

__all__ = [
    "FONT_FAMILY",
    "LEAFLET_VERSION",
    "assert_self_contained",
    "cjk_font_css",
    "embed_cjk_font",
    "external_resources",
    "find_cjk_font",
    "gisplan_css",
    "gisplan_js",
    "inline_script",
    "inline_style",
    "leaflet_css",
    "leaflet_js",
]


def _leaflet_dir() -> Path:
    import xstatic.pkg.leaflet as xleaflet

    return Path(xleaflet.BASE_DIR)


def _leaflet_version() -> str:
    import xstatic.pkg.leaflet as xleaflet

    return str(xleaflet.VERSION)


LEAFLET_VERSION = _leaflet_version()

_CSS_URL = re.compile(r"url\((['\"]?)(images/[^)'\"]+)\1\)")


@cache
def leaflet_js() -> str:
    """Return Leaflet's minified script (from ``xstatic-leaflet``)."""
    return (_leaflet_dir() / "leaflet.js").read_text(encoding="utf-8")


@cache
def leaflet_css() -> str:
    """Return Leaflet's stylesheet with its images inlined as ``data:`` URIs."""
    base = _leaflet_dir()
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        path = base / match.group(2)
        if not path.exists():  # pragma: no cover - depends on the packaged files
            return "none"
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{payload})"

    return _CSS_URL.sub(data_uri, css)


def _data_text(name: str) -> str:
    return resources.files("gisplan.data").joinpath("maps", name).read_text(encoding="utf-8")


@cache
def gisplan_js() -> str:
    """Return gisplan's map runtime (plain JS: layers, legend, search, time slider)."""
    return _data_text("gisplan_map.js")


@cache
def gisplan_css() -> str:
    """Return the stylesheet of gisplan's map controls."""
    return _data_text("gisplan_map.css")


def atlas_js() -> str:
    """Return the runtime of the "一张图" atlas page (views, table, shared controls)."""
    return _data_text("atlas.js")


def atlas_css() -> str:
    """Return the stylesheet of the atlas page."""
    return _data_text("atlas.css")


def inline_script(code: str) -> str:
    """Return *code* inside a ``<script>`` element, safe against an early ``</script>``."""
    safe = re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)
    return f"<script>{safe}</script>"


def inline_style(css: str) -> str:
    """Return *css* inside a ``<style>`` element."""
    safe = re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE)
    return f"<style>{safe}</style>"


# Attributes through which a page fetches something by itself. Plain <a href> links are
# not fetched (Leaflet's attribution links to its home page) and are not listed.
_FETCHING = re.compile(
    r"<(script|link|img|iframe|source|embed|object)\b[^>]*?\b(src|href|data)\s*=\s*"
    r"(['\"])(?P<url>[^'\"]*)\3",
    flags=re.IGNORECASE,
)
_CSS_IMPORT = re.compile(r"@import\s+(?:url\()?['\"]?(?P<url>[^'\")\s;]+)", re.IGNORECASE)
_REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


def external_resources(html: str) -> list[str]:
    """Return the URLs of scripts, stylesheets, images and frames fetched from the network.

    Parameters
    ----------
    html : str
        A rendered page.

    Returns
    -------
    list of str
        Remote URLs (``http:``, ``https:`` or protocol-relative) in document order; empty
        for a self-contained page. Tile URLs of an online basemap are built by script at
        run time and are not listed here.
    """
    urls = [m.group("url") for m in _FETCHING.finditer(html)]
    urls += [m.group("url") for m in _CSS_IMPORT.finditer(html)]
    return [u for u in urls if _REMOTE.match(u)]


def assert_self_contained(html: str, *, where: str = "map") -> None:
    """Raise :class:`~gisplan._errors.GisplanError` if *html* still fetches a remote resource.

    Parameters
    ----------
    html : str
        A rendered page.
    where : str
        What the page is, for the message.
    """
    remote = external_resources(html)
    if remote:
        listed = ", ".join(remote[:5])
        raise GisplanError(
            f"{where} is not self-contained: it would load {len(remote)} resource(s) from the "
            f"network ({listed}). Fix: add the asset to gisplan._assets and inline it, or "
            "remove the element that needs it."
        )


# ---------------------------------------------------------------- CJK font subset

#: the family name the stylesheet asks for first (gisplan_map.css)
FONT_FAMILY = "gisplan CJK"
#: environment variable naming a CJK font file (.otf, .ttf, or .ttc with its SC face)
FONT_ENV = "GISPLAN_CJK_FONT"
_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc",
)
_LICENCE = ("Noto Sans CJK SC, subset to the glyphs of this page. Copyright 2014-2021 "
            "Adobe (http://www.adobe.com/), with Reserved Font Name 'Source'. Licensed "
            "under the SIL Open Font License, Version 1.1 (openfontlicense.org)")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def find_cjk_font() -> tuple[Path, int] | None:
    """Return the CJK font file and face index to subset, or None when there is none.

    ``$GISPLAN_CJK_FONT`` first, then the places Debian's ``fonts-noto-cjk`` installs to.
    In a collection (``.ttc``) the Simplified Chinese face is chosen.
    """
    named = os.environ.get(FONT_ENV)
    for candidate in ([named] if named else []) + list(_FONT_CANDIDATES):
        path = Path(candidate)
        if path.is_file():
            return path, _sc_face(path)
    return None


@functools.lru_cache(maxsize=4)
def _sc_face(path: Path) -> int:
    if path.suffix.lower() != ".ttc":
        return 0
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=True)
    for i, font in enumerate(collection.fonts):
        if " SC" in str(font["name"].getDebugName(1)):
            return i
    return 0


def page_characters(page: str) -> str:
    """Return the characters a page can show: its text with JSON escapes decoded."""
    escaped = {chr(int(h, 16)) for h in set(_ESCAPE.findall(page))}
    wide = {ch for ch in set(page) | escaped if ord(ch) > 0x7E}
    return "".join(sorted(wide | {chr(c) for c in range(0x20, 0x7F)}))


def cjk_font_css(text: str) -> str | None:
    """Return an ``@font-face`` rule embedding the font subset to the glyphs of *text*.

    Parameters
    ----------
    text : str
        Every character the page may show.

    Returns
    -------
    str or None
        CSS with the subset as a base64 WOFF ``data:`` URI and the font's licence; None
        when fontTools or a CJK font is not available.

    Examples
    --------
    >>> css = cjk_font_css("改造进度")
    >>> css is None or ("@font-face" in css and "Open Font License" in css)
    True
    """
    try:
        import fontTools.ttLib  # noqa: F401
        import uharfbuzz  # noqa: F401
    except ImportError:  # pragma: no cover - both are declared; a stripped install
        return None
    found = find_cjk_font()
    if found is None:
        return None
    try:
        return _subset_css(*found, text)
    except ValueError:  # a font HarfBuzz cannot subset: the page uses the system's fonts
        return None


#: Name records a subset keeps: family, style, version and the licence (13, 14).
_NAME_IDS = (0, 1, 2, 3, 4, 5, 6, 13, 14)


@functools.lru_cache(maxsize=2)
def _hb_face(path: Path, index: int) -> Any:
    """Return the HarfBuzz face of the font at *path* (mapped once per process)."""
    import uharfbuzz as hb

    return hb.Face(hb.Blob.from_file_path(str(path)), index)


def _subset_font(path: Path, index: int, text: str) -> bytes:
    """Return the OpenType font at *path* subset to the glyphs of *text* (hb-subset).

    No layout features and no hinting (a map's labels need neither), an outlined
    ``.notdef``, and the name records of :data:`_NAME_IDS` in every language.
    HarfBuzz's subsetter takes ~10 ms a page on Noto Sans CJK, where fontTools' took
    1 s (it parsed the CFF table each time); a national run makes hundreds of pages.
    """
    import uharfbuzz as hb

    plan = hb.SubsetInput()
    plan.sets(hb.SubsetInputSets.UNICODE).update(ord(ch) for ch in text)
    plan.sets(hb.SubsetInputSets.LAYOUT_FEATURE_TAG).clear()
    names = plan.sets(hb.SubsetInputSets.NAME_ID)
    names.clear()
    names.update(_NAME_IDS)
    languages = plan.sets(hb.SubsetInputSets.NAME_LANG_ID)
    languages.clear()
    languages.invert()  # every language
    plan.flags = hb.SubsetFlags.NO_HINTING | hb.SubsetFlags.NOTDEF_OUTLINE
    try:
        subset = hb.subset(_hb_face(path, index), plan)
    except RuntimeError:  # HarfBuzz refused the font (not OpenType, or damaged)
        subset = None
    if subset is None:
        raise ValueError(f"{path}: HarfBuzz could not subset this font")
    return bytes(subset.blob.data)


@functools.lru_cache(maxsize=8)
def _subset_css(path: Path, index: int, text: str) -> str:
    """Subset the font at *path* to *text* as a WOFF ``@font-face`` (cached per process).

    The subset is wrapped as WOFF by fontTools without parsing its tables (``lazy``, the
    bounding boxes not recomputed).
    """
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(_subset_font(path, index, text)), lazy=True,
                  recalcBBoxes=False)
    font.flavor = "woff"
    buf = io.BytesIO()
    font.save(buf)
    payload = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f"/* {_LICENCE} */\n@font-face {{ font-family: \"{FONT_FAMILY}\"; "
            f"src: url(data:font/woff;base64,{payload}) format(\"woff\"); "
            "font-weight: 400 700; font-display: block; }")


def embed_cjk_font(page: str, *, extra: str = "") -> tuple[str, bool]:
    """Return *page* with a CJK font subset in its head, and whether one was embedded.

    *extra* is text the page shows but holds packed (the layers' data).
    """
    css = cjk_font_css(page_characters(page + extra))
    if css is None or "</head>" not in page:
        return page, False
    return page.replace("</head>", inline_style(css) + "</head>", 1), True
