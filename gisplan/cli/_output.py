"""Terminal output at scale: summaries, never every row.

A programme of 300,000 compounds has tables of millions of rows; the terminal gets at most
``limit`` rows of any of them, then one line saying how many more there are and where the
full table is (``--out``, or the store).

Examples
--------
>>> more_line(20, 25_000, where="--out")
'… and 24,980 more 另有 24,980 行; full table with --out'
>>> import pandas as pd
>>> from rich.console import Console
>>> con = Console(width=60, record=True, file=__import__("io").StringIO())
>>> print_frame(con, pd.DataFrame({"a": range(5)}), title="t", limit=2)
>>> "… and 3 more" in con.export_text()
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["DEFAULT_LIMIT", "cell_text", "more_line", "print_findings", "print_frame"]

#: rows of a table shown on the terminal unless a command's --limit says otherwise
DEFAULT_LIMIT = 20


def more_line(shown: int, total: int, *, where: str = "--out") -> str:
    """Return the line under a cut table: how many rows are not shown, where they are."""
    k = total - shown
    return f"… and {k:,} more 另有 {k:,} 行; full table with {where}"


def cell_text(value: Any) -> str:
    """Return a cell as text: blank when missing, thousands separators for integers."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def print_frame(console: Any, frame: pd.DataFrame, *, title: str | None = None,
                limit: int = DEFAULT_LIMIT, where: str = "--out",
                right: Sequence[str] | None = None) -> None:
    """Print at most *limit* rows of *frame* as a rich table, then :func:`more_line`.

    Parameters
    ----------
    console : rich.console.Console
    frame : DataFrame
    title : str, optional
    limit : int, default :data:`DEFAULT_LIMIT`
    where : str, default "--out"
        Where the full table is, for the line under a cut table.
    right : sequence of str, optional
        Columns aligned right; None: the numeric columns.
    """
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    numeric = set(frame.select_dtypes("number").columns) if right is None else set(right)
    for col in frame.columns:
        table.add_column(str(col), justify="right" if col in numeric else "left",
                         overflow="fold")
    for row in frame.head(limit).itertuples(index=False, name=None):
        table.add_row(*[cell_text(v) for v in row])
    console.print(table)
    if len(frame) > limit:
        console.print(more_line(limit, len(frame), where=where), highlight=False)


def print_findings(console: Any, report: Any, *, limit: int = DEFAULT_LIMIT,
                   where: str = "the flags column of each layer 各图层标记列") -> None:
    """Print at most *limit* findings of *report* (warnings first), then :func:`more_line`."""
    order = {"error": 0, "warning": 1, "info": 2}
    findings = sorted(report, key=lambda f: order.get(f.severity, 3))
    for f in findings[:limit]:
        console.print(str(f), style={"error": "bold red", "warning": "yellow"}.get(
            f.severity, "dim"), markup=False, highlight=False)
    if len(findings) > limit:
        console.print(more_line(limit, len(findings), where=where), highlight=False)
