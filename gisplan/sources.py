"""Where an analysis gets its layers: the one adapter from a programme to GeoDataFrames.

Every analysis in gisplan is a function on GeoDataFrames (GeoDataFrame in, GeoDataFrame
or DataFrame out, index kept). Each has one thin adapter, ``<analysis>_project``, that
takes a programme (a :class:`~gisplan.store.Project`, the path of its GeoPackage, or
the ``postgresql://USER@HOST/DATABASE?schema=NAME`` URL of a PostGIS programme),
reads the layers it needs through :func:`read_layers` and calls the analysis. This
module is the only place that turns "a Project or a path" into a Project.

Examples
--------
>>> from gisplan.sources import as_project, read_layers
>>> p = as_project("layers/guyuan_2022.gpkg")
>>> layers = read_layers(p, ["compounds"], optional=["sites"])
>>> len(layers["compounds"]), layers["sites"] is None
(26, True)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from gisplan._errors import SchemaError

if TYPE_CHECKING:
    from gisplan.store import Project

__all__ = ["ProgrammeLike", "StoreURL", "as_project", "read_layers"]

#: A programme: an open :class:`~gisplan.store.Project`, the path of its GeoPackage, or
#: the ``postgresql://`` URL of a PostGIS programme.
ProgrammeLike: TypeAlias = "Project | str | os.PathLike[str]"


class StoreURL(str):
    """The URL of a PostGIS programme, where commands expect a GeoPackage path.

    It answers the few questions commands ask of a path: ``name`` and ``stem`` (the
    programme's schema, e.g. for default output names) and ``exists()`` (the programme
    is in the database). Printed, it never shows a password.

    Examples
    --------
    >>> u = StoreURL("postgresql://planner@db.example/renewal?schema=guyuan_2022")
    >>> u.stem, str(u)
    ('guyuan_2022', 'postgresql://planner@db.example/renewal?schema=guyuan_2022')
    """

    @property
    def name(self) -> str:
        """The programme's schema."""
        from gisplan.store._pg import parse_url

        return parse_url(str(self))[1]

    stem = name

    def exists(self) -> bool:
        """Return True when the programme (its schema) is in the database."""
        from gisplan._errors import StoreError
        from gisplan.store import Project

        try:
            Project.open(str(self))
        except StoreError as exc:
            if "项目不存在" in str(exc):
                return False
            raise
        return True


def as_project(source: ProgrammeLike) -> Project:
    """Return *source* as a :class:`~gisplan.store.Project` (opening a path).

    Parameters
    ----------
    source : Project, str or os.PathLike
        An open programme, the path of its GeoPackage, or a ``postgresql://`` URL.

    Raises
    ------
    StoreError
        When the path does not exist, is not a GeoPackage, or is a GeoPackage that is
        not a programme (no ``programme`` metadata table); the message gives the
        ``gisplan import`` command that makes one. A store that a killed writer left
        mid-transaction is recovered first (see :mod:`gisplan.store`).

    Examples
    --------
    >>> as_project("layers/guyuan_2022.gpkg").path.name
    'guyuan_2022.gpkg'
    >>> as_project(as_project("layers/guyuan_2022.gpkg")).path.name  # a Project as it is
    'guyuan_2022.gpkg'
    """
    from gisplan.store import Project

    if isinstance(source, Project):
        return source
    return Project.open(os.fspath(source))


def read_layers(
    source: ProgrammeLike,
    required: Iterable[str],
    *,
    optional: Iterable[str] = (),
) -> dict[str, Any]:
    """Read the layers an analysis needs from a programme.

    Parameters
    ----------
    source : Project, str or os.PathLike
        The programme.
    required : iterable of str
        Layers that must be present; a missing one is a :class:`SchemaError` that names
        the file and the layer and says how to add it.
    optional : iterable of str
        Layers read when present; ``None`` when absent.

    Returns
    -------
    dict of str to GeoDataFrame or DataFrame or None
        By layer name, in the order asked.
    """
    p = as_project(source)
    present = set(p.layers())
    out: dict[str, Any] = {}
    for name in required:
        if name not in present:
            raise SchemaError(
                f"the programme has no '{name}' layer",
                file=str(p.path), layer=name,
                hint=f"add it with: gisplan import {p.path} FILE --layer {name}")
        out[name] = p.read(name)
    for name in optional:
        out[name] = p.read(name) if name in present else None
    return out
