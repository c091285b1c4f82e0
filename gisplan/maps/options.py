"""Options the four maps share (:class:`MapOptions`) and the basemap keys."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

from gisplan._errors import InputError

if TYPE_CHECKING:
    from gisplan.store import Project

Lang = Literal["zh", "en"]
Basemap = Literal["none", "osm", "tianditu", "amap"]
MapKind = Literal["progress", "gaps", "bundles", "utilities"]
Renderer = Literal["auto", "svg", "canvas"]
#: A programme for a map: a Project, the path of its GeoPackage, or a mapping of layer
#: name to GeoDataFrame (plus an optional ``"programme"`` mapping of metadata).
MapSource: TypeAlias = "Project | Mapping[str, Any] | str | os.PathLike[str]"

KINDS: tuple[str, ...] = get_args(MapKind)
BASEMAPS: tuple[str, ...] = get_args(Basemap)
LANGS: tuple[str, ...] = get_args(Lang)
RENDERERS: tuple[str, ...] = get_args(Renderer)

#: environment variable holding the Tianditu key
TIANDITU_KEY_ENV = "TIANDITU_KEY"
_PLACEHOLDER_KEY = re.compile(
    r"^\s*$|^[.…。\-_*x#?]+$|^<.*>$|^\{.*\}$|your[ _-]?(tianditu[ _-]?)?key|^(key|tk|todo|"
    r"changeme|placeholder|none|null)$", re.IGNORECASE)


def is_placeholder_key(key: str | None) -> bool:
    """Return True when *key* is missing or a placeholder, not a real basemap key.

    Examples
    --------
    >>> [is_placeholder_key(k) for k in ("...", "", "  ", "<your key>", "d3adb33f0c")]
    [True, True, True, True, False]
    """
    return key is None or bool(_PLACEHOLDER_KEY.search(key.strip()) or not key.strip())


@dataclass(frozen=True, kw_only=True)
class MapOptions:
    """What the four maps share: language, basemap, title, geometry and rendering.

    Parameters
    ----------
    lang : {"zh", "en"}
        Labels in Chinese (default) or in English with the Chinese term beside it.
    basemap : {"none", "osm", "tianditu", "amap"}
        ``none`` (default, offline): district outlines, roads and their names drawn from
        the programme's own layers. ``osm``, ``tianditu`` (天地图, key from
        ``tianditu_key``) and ``amap`` (高德, overlays shifted to GCJ-02) load tiles.
    title : str or None
        Title on the map and in the browser tab; ``None`` means "programme name · kind".
    tolerance_m : float or None
        Simplification tolerance in metres (0 keeps geometry as it is); ``None`` means
        the map kind's own default (:data:`TOLERANCE_M`: 1 m, 0.5 m for utility lines).
    decimals : int
        Decimal places kept in coordinates (6 ≈ 0.1 m), 0 to 9; maps of more than
        :data:`COARSE_ABOVE` features keep at most 5 (≈ 1 m).
    renderer : {"auto", "svg", "canvas"}
        ``auto`` uses Leaflet's canvas renderer above 3,000 features.
    tianditu_key : str or None
        Tianditu browser key; ``None`` means "read ``$TIANDITU_KEY``". A placeholder
        (``...``, empty, ``<your key>``) is refused.
    generated_at : datetime or None
        Generation time in the credits line; ``None`` means now (local time).
    embed_font : bool
        Embed a subset of a CJK font with only the glyphs the page uses, so Chinese
        renders on a machine with no CJK font (needs uharfbuzz and a font file, see
        :func:`gisplan._assets.find_cjk_font`; ``GisplanMap.font_embedded`` says
        whether it was done).

    Examples
    --------
    >>> MapOptions(lang="en").basemap
    'none'
    >>> MapOptions(basemap="google")
    Traceback (most recent call last):
    ...
    ValueError: basemap must be one of none, osm, tianditu, amap, not 'google'
    """

    lang: Lang = "zh"
    basemap: Basemap = "none"
    title: str | None = None
    tolerance_m: float | None = None
    decimals: int = 6
    renderer: Renderer = "auto"
    tianditu_key: str | None = None
    generated_at: dt.datetime | None = None
    embed_font: bool = True

    def __post_init__(self) -> None:
        for name, allowed in (("lang", LANGS), ("basemap", BASEMAPS),
                              ("renderer", RENDERERS)):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if self.tolerance_m is not None and not self.tolerance_m >= 0:
            raise ValueError(f"tolerance_m must be 0 or more metres, not {self.tolerance_m!r}")
        if not 0 <= self.decimals <= 9:
            raise ValueError(f"decimals must be 0 to 9, not {self.decimals!r}")

    def with_(self, **changes: Any) -> MapOptions:
        """Return a copy with *changes* (field names of :class:`MapOptions`).

        Examples
        --------
        >>> MapOptions().with_(lang="en").lang
        'en'
        """
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise TypeError(f"unknown map option(s) {', '.join(unknown)}; MapOptions has "
                            f"{', '.join(f.name for f in fields(self))}")
        return replace(self, **changes)


def _options(options: MapOptions | None, overrides: Mapping[str, Any]) -> MapOptions:
    """*options* (``None``: the defaults) with keyword *overrides* applied."""
    return (options or MapOptions()).with_(**overrides)



def tianditu_key(explicit: str | None = None) -> str:
    """Return the Tianditu key: *explicit*, else ``$TIANDITU_KEY``; refuse a placeholder.

    Raises
    ------
    InputError
        When the key is missing, empty or a placeholder such as ``...`` or ``<your key>``.
    """
    key = explicit if explicit is not None else os.environ.get(TIANDITU_KEY_ENV)
    where = "tianditu_key" if explicit is not None else f"${TIANDITU_KEY_ENV}"
    if key is None or not key.strip():
        raise InputError(
            f"the Tianditu basemap needs a key: the environment variable "
            f"{TIANDITU_KEY_ENV} is not set" if explicit is None else
            "the Tianditu basemap needs a key: tianditu_key is empty",
            hint=f"get a browser key from the Tianditu console (console.tianditu.gov.cn) "
                 f"and set ${TIANDITU_KEY_ENV}, or use basemap 'none'")
    if is_placeholder_key(key):
        raise InputError(
            f"the Tianditu key in {where} is a placeholder ({key.strip()!r}), not a key",
            value=key.strip(),
            hint="replace it with your own browser key from the Tianditu console "
                 "(console.tianditu.gov.cn), or use basemap 'none'")
    return key.strip()


