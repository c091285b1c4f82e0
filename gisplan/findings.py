"""Findings: what validation, reconciliation and checks report about the data.

A :class:`Finding` is one problem at one place. Errors stop an import or make
``gisplan check`` exit non-zero; warnings are flagged rows that are kept (and, where
possible, repaired). A :class:`Report` collects findings and, per layer, the number of
rows read and written, so that "rows in = rows out" is always visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from gisplan._errors import format_location

Severity = Literal["error", "warning", "info"]

#: How many findings of one code a single step lists row by row (the one cap policy).
#: Every flagged row still carries its code in the ``flags`` column; past the cap one
#: ``info`` finding ``<code>_more`` says how many more rows there are.
LISTED_PER_CODE = 50


@dataclass(frozen=True)
class Finding:
    """One problem found in the data.

    Parameters
    ----------
    severity : {"error", "warning", "info"}
        ``error`` stops; ``warning`` is a kept, flagged (and possibly repaired) row.
    code : str
        Stable machine-readable code, e.g. ``invalid_geometry``; also written into the
        ``flags`` column of the flagged row.
    message : str
        What is wrong, in a sentence.
    file, layer, row, column, value, hint
        Where, which value, and how to fix it (see :class:`gisplan._errors.InputError`).
    """

    severity: Severity
    code: str
    message: str
    file: str | None = None
    layer: str | None = None
    row: Any = None
    column: str | None = None
    value: Any = None
    hint: str | None = None

    def location(self) -> str:
        """Return the known parts of the place, comma separated."""
        return format_location(self.file, self.layer, self.row, self.column)

    def __str__(self) -> str:
        text = f"[{self.severity}] {self.code}: "
        loc = self.location()
        if loc:
            text += f"{loc}: "
        text += self.message
        if self.value is not None:
            text += f" (value: {self.value!r})"
        if self.hint:
            text += f". Fix: {self.hint}"
        return text


@dataclass
class LayerCount:
    """Rows read from a source and rows written to the result, for one layer."""

    layer: str
    rows_in: int
    rows_out: int
    flagged: int = 0
    repaired: int = 0

    @property
    def balanced(self) -> bool:
        """True when no row was lost or invented."""
        return self.rows_in == self.rows_out


@dataclass
class Report:
    """Findings plus per-layer row counts."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, LayerCount] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        """Append one finding."""
        self.findings.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        """Append several findings."""
        self.findings.extend(findings)

    def add_capped(self, findings: Iterable[Finding], *, total: int | None = None,
                   limit: int = LISTED_PER_CODE) -> int:
        """Add at most *limit* findings of one code, then one summary for the rest.

        This is the one cap policy of gisplan: a step that finds the same problem in many
        rows lists the first *limit* of them, and an ``info`` finding ``<code>_more``
        counts the others (which stay flagged in their rows).

        Parameters
        ----------
        findings : iterable of Finding
            Findings of one code, in row order; consumed lazily, so a generator over a
            million rows costs only *limit* findings.
        total : int, optional
            How many rows have the problem, when the iterable does not hold them all.
        limit : int
            How many to list.

        Returns
        -------
        int
            The number of findings listed.

        Examples
        --------
        >>> r = Report()
        >>> gen = (Finding("warning", "empty_geometry", "no outline", row=i) for i in range(120))
        >>> r.add_capped(gen, total=120, limit=3)
        3
        >>> [f.code for f in r]
        ['empty_geometry', 'empty_geometry', 'empty_geometry', 'empty_geometry_more']
        >>> r.findings[-1].message
        '117 more rows with empty_geometry (not listed; each is flagged in its row)'
        """
        listed = 0
        first: Finding | None = None
        seen = 0
        for f in findings:
            seen += 1
            if listed < limit:
                self.findings.append(f)
                listed += 1
                first = first or f
            elif total is not None:
                break
        total = seen if total is None else total
        if first is not None and total > listed:
            self.findings.append(Finding(
                "info", f"{first.code}_more",
                f"{total - listed} more rows with {first.code} (not listed; each is flagged "
                "in its row)", file=first.file, layer=first.layer, column=first.column))
        return listed

    def merge(self, other: Report) -> Report:
        """Add the findings and counts of *other* to this report and return it."""
        self.findings.extend(other.findings)
        self.counts.update(other.counts)
        return self

    def count(self, layer: str, rows_in: int, rows_out: int, *, flagged: int = 0,
              repaired: int = 0) -> None:
        """Record rows in and out for *layer*."""
        self.counts[layer] = LayerCount(layer, rows_in, rows_out, flagged, repaired)

    @property
    def errors(self) -> list[Finding]:
        """The findings of severity ``error``."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """The findings of severity ``warning``."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error and every layer kept all its rows."""
        return not self.errors and all(c.balanced for c in self.counts.values())

    def by_code(self, code: str) -> list[Finding]:
        """Return the findings with *code*."""
        return [f for f in self.findings if f.code == code]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def to_frame(self) -> pd.DataFrame:
        """Return the findings as a DataFrame (one row per finding)."""
        cols = ["severity", "code", "message", "file", "layer", "row", "column", "value", "hint"]
        if not self.findings:
            return pd.DataFrame(columns=cols)
        df = pd.DataFrame([asdict(f) for f in self.findings], columns=cols)
        df["value"] = df["value"].map(lambda v: None if v is None else str(v))
        df["row"] = df["row"].map(lambda v: None if v is None else str(v))
        return df

    def counts_frame(self) -> pd.DataFrame:
        """Return rows in / rows out per layer as a DataFrame."""
        return pd.DataFrame(
            [asdict(c) | {"balanced": c.balanced} for c in self.counts.values()],
            columns=["layer", "rows_in", "rows_out", "flagged", "repaired", "balanced"],
        )


def add_flags(frame: pd.DataFrame, mask: Any, code: str) -> int:
    """Append flag *code* to the ``flags`` column of *frame* where *mask* is true.

    Flags are stored as ``;``-separated codes in one text column so that a flagged row
    keeps its flags in any file format (GeoPackage, Shapefile, CSV, Excel).

    Parameters
    ----------
    frame : pandas.DataFrame
        Modified in place; a ``flags`` column is created if missing.
    mask : array-like of bool
        Rows to flag, aligned with *frame*.
    code : str
        The flag code (a :class:`Finding` code).

    Returns
    -------
    int
        Number of rows flagged.
    """
    import numpy as np

    m = np.asarray(mask, dtype=bool)
    if "flags" not in frame.columns:
        frame["flags"] = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    if not m.any():
        return 0
    current = frame["flags"].fillna("").astype(str).to_numpy(dtype=object)
    sel = current[m]
    has = np.array([bool(s) for s in sel], dtype=bool)
    already = np.array([code in s.split(";") for s in sel], dtype=bool)
    new = np.where(already, sel, np.where(has, sel + ";" + code, code))
    current[m] = new
    frame["flags"] = current
    return int(m.sum())


def has_flag(frame: pd.DataFrame, code: str) -> pd.Series:
    """Return a boolean Series: which rows of *frame* carry flag *code*."""
    if "flags" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["flags"].fillna("").astype(str).str.split(";").map(lambda parts: code in parts)
