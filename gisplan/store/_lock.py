"""Serialised writers: an ``fcntl.flock`` on ``<store>.lock`` beside the store.

Writers take the lock exclusively, readers shared, so nobody reads half of a write
done by another gisplan process. The lock is re-entrant within one thread (a thread
holding the exclusive lock may read and write again).

The lock file stays after the last process lets go, and that is normal: removing it
would be a race (a process waiting on the old file and one creating a new file would
both believe they hold the lock). It is empty and costs nothing; it can be deleted
whenever no gisplan command is running.

Examples
--------
>>> import tempfile, pathlib
>>> from gisplan.store._lock import flock, lock_path
>>> store = pathlib.Path(tempfile.mkdtemp()) / "p.gpkg"
>>> with flock(lock_path(store), exclusive=True):
...     with flock(lock_path(store), exclusive=True):  # re-entrant
...         holds_shared(store), holds_exclusive(store)
(True, True)
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gisplan._errors import StoreError

__all__ = ["flock", "holds_exclusive", "holds_shared", "lock_path"]

_local = threading.local()


def _held() -> dict[str, list[Any]]:
    held = getattr(_local, "held", None)
    if held is None:
        held = _local.held = {}
    return held


def lock_path(store: Path) -> Path:
    """Return the lock file of *store* (``<name>.lock`` beside it)."""
    return store.with_name(store.name + ".lock")


def holds_shared(store: Path) -> bool:
    """Return True when this thread holds the lock of *store* (shared or exclusive)."""
    return os.path.realpath(lock_path(store)) in _held()


def holds_exclusive(store: Path) -> bool:
    """Return True when this thread holds the exclusive lock of *store*."""
    entry = _held().get(os.path.realpath(lock_path(store)))
    return bool(entry and entry[1])


@contextmanager
def flock(path: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold an ``fcntl.flock`` on the lock file *path*; re-entrant within one thread.

    A thread that holds only the shared lock cannot upgrade it. In a folder where the
    lock file cannot be created, readers read without a lock and writers fail with a
    :class:`StoreError`.
    """
    key = os.path.realpath(path)
    held = _held()
    if key in held:
        _fd, was_exclusive, depth = held[key]
        if exclusive and not was_exclusive:
            raise StoreError(
                f"{path}: cannot take the write lock while holding the read lock; "
                "take `with project.lock():` first"
            )
        held[key][2] = depth + 1
        try:
            yield
        finally:
            held[key][2] -= 1
        return
    try:
        fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if exclusive:
            raise StoreError(
                f"{path}: cannot create the lock file ({exc.strerror}); "
                "the programme store must be in a writable folder to be written"
            ) from exc
        try:  # a read-only folder: read without a lock
            fd = os.open(key, os.O_RDONLY)
        except OSError:
            yield
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        held[key] = [fd, exclusive, 1]
        try:
            yield
        finally:
            del held[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
