"""Exception types of gisplan, in one place.

Every error that comes from bad input says *where* (file, layer, row, column),
*what* (the value) and *how to fix it* (a hint), so that a planner can correct the
source table without reading code.
"""

from __future__ import annotations

from typing import Any


def format_location(
    file: str | None = None,
    layer: str | None = None,
    row: Any = None,
    column: str | None = None,
) -> str:
    """Return ``file, layer 'x', row 3, column '户数'`` for the parts that are known."""
    parts = []
    if file:
        parts.append(str(file))
    if layer:
        parts.append(f"layer '{layer}'")
    if row is not None:
        parts.append(f"row {row}")
    if column:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


class GisplanError(Exception):
    """Base class of every error gisplan raises on purpose."""


class InputError(GisplanError):
    """Bad input data that stops processing.

    Parameters
    ----------
    message : str
        What is wrong, in a sentence.
    file, layer : str, optional
        The file and layer (or sheet) the value came from.
    row : int, optional
        The 1-based data row in the source (header rows not counted), or the
        0-based index label of a GeoDataFrame where there is no file.
    column : str, optional
        The column as written in the source (for example ``户数``).
    value : Any, optional
        The offending value.
    hint : str, optional
        How to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        layer: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.layer = layer
        self.row = row
        self.column = column
        self.value = value
        self.hint = hint
        super().__init__(self.__str__())

    def location(self) -> str:
        """Return ``file, layer 'x', row 3, column '户数'`` for the parts that are known."""
        return format_location(self.file, self.layer, self.row, self.column)

    def __str__(self) -> str:
        loc = self.location()
        text = f"{loc}: {self.message}" if loc else self.message
        if self.value is not None:
            text += f" (value: {self.value!r})"
        if self.hint:
            text += f". Fix: {self.hint}"
        return text


class SchemaError(InputError):
    """A required column is missing or a value has the wrong type."""


class GeometryError(InputError):
    """Geometry is missing or of the wrong type where it cannot be repaired."""


class CRSError(InputError):
    """The coordinate reference system is missing and cannot be inferred, or is wrong."""


class StoreError(GisplanError):
    """The project store (GeoPackage) cannot be opened, read or written."""


class ConstraintError(GisplanError):
    """Options given to an analysis contradict each other (e.g. min > max households)."""
