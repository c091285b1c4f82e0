"""Offline assets for the HTML maps: Leaflet and gisplan's own script, inlined.

A published map must open from disk on a government network with no internet. Folium's
default page loads Leaflet, jQuery, Bootstrap and Font Awesome from CDNs; gisplan's maps
drop all of those and inline what they need instead:

- Leaflet's script and stylesheet from the ``xstatic-leaflet`` package (PyPI), with the
  stylesheet's images turned into ``data:`` URIs;
- gisplan's small plain-JS runtime (legend, search box, time slider, escaping, feature
  layers) from ``gisplan/data/maps/``.

:func:`external_resources` lists any script, stylesheet, image or frame a page would
still fetch from the network; :func:`assert_self_contained` raises when there is one.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib import resources
from pathlib import Path

from gisplan._errors import GisplanError

__all__ = [
    "LEAFLET_VERSION",
    "assert_self_contained",
    "external_resources",
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
