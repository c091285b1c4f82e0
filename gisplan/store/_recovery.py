"""Recovering a store that a killed writer left mid-transaction (a hot journal).

A writer killed inside an SQLite transaction leaves ``<store>-journal``, the rollback
journal holding the pages as they were before the transaction. SQLite puts them back
("rolls back the hot journal") the next time anyone opens the file read-write; a
read-only connection cannot, and fails with "attempt to write a readonly database".

:func:`recover` is called before every read and write of a :class:`~gisplan.store.Project`.
When it finds a hot journal it takes the write lock, opens the store read-write (so
SQLite rolls the journal back) and logs one line on the ``gisplan.store`` logger.
Where it cannot (a read-only folder, a file it may not write), it raises a
:class:`StoreError` that says what to do. It never deletes a journal itself: deleting
a hot journal is what corrupts a database.

Examples
--------
>>> import pathlib
>>> from gisplan.store._recovery import is_hot, journal_path
>>> journal_path(pathlib.Path("p.gpkg")).name
'p.gpkg-journal'
>>> is_hot(pathlib.Path("layers/guyuan_2022.gpkg"))
False
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

from gisplan._errors import StoreError
from gisplan.store._lock import flock, holds_exclusive, holds_shared, lock_path

__all__ = ["is_hot", "journal_path", "recover"]

log = logging.getLogger("gisplan.store")

#: the first 8 bytes of a rollback journal that still has to be played back
_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def journal_path(store: Path) -> Path:
    """Return the rollback journal of *store* (``<name>-journal`` beside it)."""
    return store.with_name(store.name + "-journal")


def is_hot(store: Path) -> bool:
    """Return True when *store* has a journal that SQLite would roll back.

    A journal whose header is zeroed or that is empty is finished, not hot. (A journal
    of a transaction that another program is running right now also looks hot: the
    caller holds the gisplan lock, so it is not a gisplan writer.)
    """
    try:
        with journal_path(store).open("rb") as fh:
            return fh.read(8) == _JOURNAL_MAGIC
    except OSError:
        return False


def _advice(store: Path, reason: str) -> StoreError:
    journal = journal_path(store)
    return StoreError(
        f"{store}: a write was interrupted and left {journal.name} (SQLite's rollback "
        f"journal 中断的写入) and gisplan cannot roll it back here: {reason}. "
        f"Fix: run `gisplan check {store}` as a user who may write to {store.parent} "
        f"(or copy {store.name} and {journal.name} TOGETHER into a writable folder and "
        f"run it on the copy). Do not delete {journal.name}: that corrupts the programme."
    )


def recover(store: Path) -> bool:
    """Roll back a hot journal of *store*, under the write lock; return True if it did.

    Does nothing (and takes no lock) when there is no hot journal, or when this thread
    already holds the store's read lock (the caller that took it has recovered).

    Raises
    ------
    StoreError
        When the journal cannot be rolled back here, with what to do.
    """
    if not is_hot(store) or (holds_shared(store) and not holds_exclusive(store)):
        return False
    journal = journal_path(store)
    try:
        with flock(lock_path(store), exclusive=True):
            if not is_hot(store):  # another process recovered it while we waited
                return False
            try:
                with closing(sqlite3.connect(store, timeout=5.0)) as con:
                    con.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    con.execute("BEGIN IMMEDIATE")  # fails while another program writes
                    con.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc):
                    raise StoreError(
                        f"{store}: another program (QGIS?) is writing to it right now "
                        f"({journal.name} is in use); save or cancel its edits, then run "
                        "the command again") from exc
                raise _advice(store, str(exc)) from exc
            except sqlite3.DatabaseError as exc:
                raise _advice(store, str(exc)) from exc
    except StoreError as exc:
        if "lock file" in str(exc):
            raise _advice(store, "its folder is read-only") from exc
        raise
    if is_hot(store):
        raise _advice(store, "SQLite left the journal in place")
    log.warning("%s: recovered an interrupted write (rolled back %s) 已恢复中断的写入",
                store, journal.name)
    return True
