"""Option handling shared by several commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

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
