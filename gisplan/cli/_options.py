"""Option handling shared by several commands."""

from __future__ import annotations

import math
from collections.abc import Sequence
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
