"""The log store: the append-only ``progress_log`` table and its content hash.

The ``progress_log`` table of a programme store is append-only: one row per reported
change (compound, date, stage, the five start criteria, note, source file and row, time
entered). Nothing else stores a compound's stage.

Import idempotence
------------------
Each row carries ``row_hash``, a content hash of *what was reported*: compound (its id, or
county and name where no compound matched), date, stage and the five start criteria. It
does not include the file name, row number or note, so that importing the same file twice,
or the same rows exported again under another name (weekly county tables repeat earlier
rows), adds nothing; a row that reports a different stage, date or criterion is a change
and is appended. :func:`append_new` reads the hashes and appends under the store's
inter-process lock in one SQLite transaction, so two imports at once produce the union
without duplicates and a killed import leaves the store as it was.

Examples
--------
>>> import pandas as pd
>>> a = pd.DataFrame({"compound_id": ["A"], "date": ["2023-06-30"], "stage": ["started"]})
>>> b = a.assign(date=[pd.Timestamp("2023-06-30")], note=["another file"])
>>> row_hashes(a).iloc[0] == row_hashes(b).iloc[0]
True
"""

from __future__ import annotations

import hashlib
from typing import Literal

import pandas as pd

from gisplan.progress.dates import parse_dates
from gisplan.progress.terms import BOOL_CRITERIA
from gisplan.schema import normalize_text
from gisplan.sources import ProgrammeLike, as_project

__all__ = ["ImportStatus", "append_new", "read_log", "row_hashes"]

#: what happened to one prepared row: written, already in the log, repeated in its file,
#: or new (a dry run, not written)
ImportStatus = Literal["appended", "in_log", "duplicate", "new"]


def row_hashes(log: pd.DataFrame) -> pd.Series:
    """Return the content hash of each log row (see the module docstring).

    Parameters
    ----------
    log : pandas.DataFrame
        Canonical ``progress_log`` rows: ``compound_id`` (or ``county`` and
        ``compound_name``), ``date`` (any date-like), ``stage`` and the start criteria.

    Returns
    -------
    pandas.Series of str
        20-hex-digit SHA-1 prefixes, index of *log*.
    """
    n = len(log)
    blank = pd.Series([""] * n, index=log.index, dtype=object)

    def text(col: str) -> pd.Series:
        if col not in log:
            return blank
        s = log[col].astype(object)
        return s.where(s.notna(), "").astype(str)

    cid = text("compound_id")
    who = cid.where(cid != "", "name:" + text("county") + "|"
                    + text("compound_name").map(normalize_text))
    date = (parse_dates(log["date"]).dt.strftime("%Y-%m-%d").fillna("")
            if "date" in log else blank)
    consent = (pd.to_numeric(log["consent_rate"], errors="coerce").round(4)
               .map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
               if "consent_rate" in log else blank)
    parts = [who, date, text("stage"), consent]
    for col in BOOL_CRITERIA:
        parts.append(log[col].astype("boolean").map({True: "1", False: "0"}).fillna("")
                     .astype(str) if col in log else blank)
    joined = parts[0].str.cat(list(parts[1:]), sep="\x1f")  # type: ignore[arg-type]
    return joined.map(lambda s: hashlib.sha1(s.encode("utf-8")).hexdigest()[:20])


def read_log(project: ProgrammeLike) -> pd.DataFrame:
    """Return the ``progress_log`` of *project* (empty canonical frame when absent).

    ``date`` holds :class:`datetime.date` objects (the store's read contract).

    Examples
    --------
    >>> log = read_log("layers/xuchang_2023.gpkg")
    >>> type(log["date"].iloc[0]).__name__, log["stage"].iloc[0]
    ('date', 'consulted')
    """
    p = as_project(project)
    if "progress_log" not in p.layers():
        from gisplan.schema import empty_frame

        frame = empty_frame("progress_log")
        frame["row_hash"] = pd.Series(dtype=object)
        return frame
    return pd.DataFrame(p.read("progress_log"))


def _status(log: pd.DataFrame, existing: set[str], *, new_as: ImportStatus) -> pd.Series:
    first = ~log["row_hash"].duplicated()
    new = first & ~log["row_hash"].isin(existing)
    status = pd.Series("duplicate", index=log.index, dtype=object)
    status[new] = new_as
    status[first & ~new] = "in_log"
    return status


def append_new(project: ProgrammeLike, log: pd.DataFrame, *,
               dry_run: bool = False) -> tuple[pd.Series, int]:
    """Append the rows of *log* whose content is not in the store yet.

    Parameters
    ----------
    project : Project or path
        The programme store.
    log : pandas.DataFrame
        Prepared rows with ``row_hash`` (``log_id`` is numbered by the store).
    dry_run : bool, default False
        Only say what would be appended (status ``new``).

    Returns
    -------
    (pandas.Series, int)
        The :data:`ImportStatus` of each row (index of *log*), and the rows appended.
    """
    p = as_project(project)
    if dry_run:
        existing = set(read_log(p).get("row_hash", pd.Series(dtype=object)).dropna())
        return _status(log, existing, new_as="new"), 0
    with p.lock():
        current = read_log(p)
        existing = set(current["row_hash"].dropna()) if "row_hash" in current else set()
        status = _status(log, existing, new_as="appended")
        new = status.eq("appended")
        if not new.any():
            return status, 0
        # log_id left empty: the store numbers the rows in the same transaction
        rows = log[new.to_numpy()].drop(columns="log_id", errors="ignore")
        return status, int(p.append("progress_log", rows.reset_index(drop=True)))
