"""Option handling shared by several commands."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from gisplan.standards import Standard


def facility_type_keys(std: Standard, names: Sequence[str]) -> list[str]:
    """Resolve ``--type`` values (key, Chinese name or alias) to canonical keys.

    An unknown name is a :class:`click.BadParameter` that lists the close matches (or
    every type of the standard when none is close).
    """
    keys = []
    for name in names:
        key = std.resolve(name)
        if key is None:
            close = ", ".join(std.suggest(name)) or ", ".join(std.types)
            raise click.BadParameter(f"unknown facility type {name!r}; did you mean: {close}",
                                     param_hint="--type")
        keys.append(key)
    return keys


class FiniteRange(click.FloatRange):
    """A float option in a range that also refuses ``nan`` and ``inf`` (click lets them by).

    Examples
    --------
    >>> FiniteRange(0, 500).convert("12.5", None, None)
    12.5
    >>> try:
    ...     FiniteRange(0, 500).convert("nan", None, None)
    ... except click.BadParameter as e:
    ...     print(e.message)
    'nan' is not a finite number.
    """

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        """Convert *value* to a float inside the range, refusing nan and infinity."""
        rv = click.FloatRange.convert(self, value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


#: Distances in metres 距离 (m): from 0 up to 100 km.
METRES = FiniteRange(min=0.0, max=100_000.0)
#: Distances that must be more than 0 m.
POSITIVE_METRES = FiniteRange(min=0.0, min_open=True, max=100_000.0)
#: A share 比例 between 0 and 1.
SHARE = FiniteRange(min=0.0, max=1.0)
#: Households 户数 per bundle: at least 1.
HOUSEHOLDS = click.IntRange(min=1, max=10_000_000)


class ProgrammeParam(click.ParamType):
    """A programme 项目: the path of a GeoPackage, or a PostGIS ``postgresql://`` URL.

    A path must exist unless *exists* is false (commands that create a programme); a URL
    becomes a :class:`gisplan.sources.StoreURL`. A URL with a password is refused: the
    command line is visible to every user of the machine and kept in shell history.

    Examples
    --------
    >>> PROGRAMME.convert("layers/guyuan_2022.gpkg", None, None).name
    'guyuan_2022.gpkg'
    >>> PROGRAMME.convert("postgresql://planner@db.example/renewal?schema=x", None, None).stem
    'x'
    >>> try:
    ...     PROGRAMME.convert("postgresql://planner:secret@db.example/r?schema=x", None, None)
    ... except click.BadParameter as e:
    ...     print("secret" in e.message, "PGPASSWORD" in e.message)
    False True
    """

    name = "programme"

    def __init__(self, *, exists: bool = True) -> None:
        self.exists = exists

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        """Return a :class:`pathlib.Path`, or a :class:`~gisplan.sources.StoreURL`."""
        from gisplan.sources import StoreURL
        from gisplan.store._pg import has_password, is_url, redact

        if isinstance(value, Path | StoreURL):
            return value
        text = str(value)
        if is_url(text):
            if has_password(text):
                self.fail(f"{redact(text)}: do not put the password in the URL (the command "
                          "line is visible to other users and kept in shell history); set "
                          "PGPASSWORD in the environment or add a line "
                          "HOST:PORT:DATABASE:USER:PASSWORD to ~/.pgpass (chmod 600)",
                          param, ctx)
            return StoreURL(text)
        return click.Path(exists=self.exists, dir_okay=False, path_type=Path).convert(
            value, param, ctx)


#: An existing programme 项目: GeoPackage path or postgresql:// URL.
PROGRAMME = ProgrammeParam()
#: A programme that may not exist yet (commands that create one).
NEW_PROGRAMME = ProgrammeParam(exists=False)
