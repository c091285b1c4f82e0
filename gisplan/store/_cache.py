"""What this process has read from a store file, kept while the file is unchanged.

A run (``gisplan run``) reads the same layers in several steps, each opening the store
afresh: the compounds are read by every step, the roads by coverage and the gaps map,
the progress log by progress, report and both maps. Reading a layer costs a GDAL read and
the cast to canonical dtypes, and listing the layers a connection and a lock; both are
kept here, per file, while the file's identity is the same.

The identity of a file is its inode, size, modification time (ns) and SQLite's file
change counter (header bytes 24–27), which every committed write transaction increments
in rollback-journal mode, the only mode a store is used in (:mod:`._gpkg`). A write by
this process, another process or another tool, a replaced file, or a hot journal rolled
back all change it, and the next read goes to the file. A write by this process through
:meth:`gisplan.store.Project.write_many` carries over what it did not replace
(:meth:`ReadCache.carry`): a run's steps each write their own layers and read the
programme's, which stay kept. (A tool writing the file without gisplan's writer lock in
the same moment as a gisplan writer would go unseen until the file changes again; such a
tool breaks the serialised-writers guarantee anyway.)

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
>>> _ = path.write_bytes(bytes(100))
>>> cache = ReadCache(max_files=1)
>>> cache.put(path, "layer", [1, 2])
>>> cache.get(path, "layer")
[1, 2]
>>> _ = path.write_bytes(bytes(24) + (1).to_bytes(4, "big") + bytes(72))  # a commit
>>> cache.get(path, "layer") is None
True
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["ReadCache", "file_identity"]


def file_identity(path: str | os.PathLike[str]) -> tuple[int, ...] | None:
    """Return (inode, size, mtime ns, SQLite change counter) of *path*; None if unreadable."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            fh.seek(24)
            counter = int.from_bytes(fh.read(4), "big")
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, counter)


class ReadCache:
    """Values read from at most *max_files* files, each dropped when its file changes.

    Parameters
    ----------
    max_files : int
        Files kept; the least recently used goes first (a run moves from city to city).
    """

    def __init__(self, max_files: int) -> None:
        self.max_files = max_files
        self._files: OrderedDict[str, tuple[tuple[int, ...], dict[Hashable, Any]]] = (
            OrderedDict())

    def get(self, path: str | os.PathLike[str], key: Hashable) -> Any | None:
        """Return the value kept for *key* of *path*, None when absent or the file changed."""
        entry = self._files.get(str(path))
        if entry is None:
            return None
        if entry[0] != file_identity(path):
            del self._files[str(path)]
            return None
        self._files.move_to_end(str(path))
        return entry[1].get(key)

    def put(self, path: str | os.PathLike[str], key: Hashable, value: Any,
            identity: tuple[int, ...] | None = None) -> None:
        """Keep *value* for *key* of *path* (read when the file had *identity*).

        *identity* is the file's identity taken before the read (default: now); a value
        read from a file that changed meanwhile is not kept.
        """
        now = file_identity(path)
        if now is None or (identity is not None and identity != now):
            return
        entry = self._files.get(str(path))
        if entry is None or entry[0] != now:
            entry = (now, {})
            self._files[str(path)] = entry
        entry[1][key] = value
        self._files.move_to_end(str(path))
        while len(self._files) > self.max_files:
            self._files.popitem(last=False)

    def carry(self, path: str | os.PathLike[str], before: tuple[int, ...] | None,
              stale: Callable[[Hashable], bool]) -> None:
        """Keep what was read from *path* across this process's own write to it.

        Call it after the write, still holding the store's writer lock. Values kept
        while the file had identity *before* (taken under the lock, just before the
        write) stay valid under the file's new identity, except those *stale* says the
        write replaced. Nothing is kept when the cache did not hold the file as it was
        at *before*.
        """
        entry = self._files.get(str(path))
        now = file_identity(path)
        if entry is None or before is None or now is None or entry[0] != before:
            return
        self._files[str(path)] = (now, {k: v for k, v in entry[1].items() if not stale(k)})

    def clear(self) -> None:
        """Forget everything."""
        self._files.clear()
