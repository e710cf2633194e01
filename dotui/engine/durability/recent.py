"""The last checkpoints written, kept so the next round and a wake need not read them back.

A checkpoint round applies an object's changes to its checkpoint: reading and checking a
file of 100,000 keys (8.6 MB) took most of a one-key change's 1.1-1.5 s of CPU, and a wake
paid the same (bench/README.md, "KV objects"). What the round wrote is what the engine
already holds: ``Recent`` keeps it, the storage values by key and the meta, with the file's
stamp (inode, size, modification time) taken after the write, and the storage table as written
(``checkpoint.Table``), which the next round copies with the changed rows replaced. A later round, or a wake, whose
``lstat`` of the file gives the same stamp uses it instead of the file; any other stamp (the
file replaced, edited or gone) and the file is read and checked as always (checkpoint.load).

At most ``MAX_ENTRIES`` objects and ``MAX_BYTES`` of files are kept, the least recently written
going first: a round of small objects (1,000 changed Counters, bench/sustained.py) reads none of
their files back either, and holds the GIL that much less. What is kept is never
changed: a round copies it (a dict, O(keys), sharing the values) before applying changes, and
a wake hands the storage a copy. Thread: written by the checkpoint thread, read by the loop;
each step is one dict operation, atomic under the GIL. Memory: the values of the objects kept,
as Python objects (about 3-4x the file's bytes), shared with a live object's storage, and their
tables' rows (a small dict and a document id a key: about 3x the file's bytes more).
"""

from __future__ import annotations

import os
from typing import Any

from .checkpoint import Table

Stamp = tuple[int, int, int]


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class Recent:
    MIN_BYTES = 0  # files smaller are not kept (bench/kv.py turns keeping off with it)
    MAX_BYTES = 64 << 20
    MAX_ENTRIES = 4096

    def __init__(self) -> None:
        self._kept: dict[str, tuple[Stamp, dict[str, Any], dict[str, Any], Table | None]] = {}  # least recent first
        self.bytes = 0
        self.hits = 0

    def get(self, path: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(a copy of the storage values, a copy of the meta) of the checkpoint at ``path`` as it
        was written, if kept and the file is still that one; None otherwise. O(keys)."""
        kept = self._kept.get(path)
        if kept is None:
            return None
        if _stamp(path) != kept[0]:
            self.drop(path)
            return None
        self.hits += 1
        return dict(kept[1]), dict(kept[2])

    def table(self, path: str) -> Table | None:
        """The storage table of the checkpoint at ``path`` as written, if kept: right after a ``get``
        that answered its data (a ``get`` that found another file dropped it). O(1)."""
        kept = self._kept.get(path)
        return kept[3] if kept is not None else None

    def put(self, path: str, data: dict[str, Any], meta: dict[str, Any], size: int, rows: Table | None = None) -> None:
        """``data``, ``meta`` and its table ``rows`` were just written to ``path`` (``size`` bytes)
        and made durable; the caller changes none of them again. O(1), and O(evicted)."""
        self.drop(path)
        stamp = _stamp(path)
        if size < self.MIN_BYTES or size > self.MAX_BYTES or stamp is None or stamp[1] != size:
            return
        self._kept[path] = (stamp, data, meta, rows)
        self.bytes += size
        while self.bytes > self.MAX_BYTES or len(self._kept) > self.MAX_ENTRIES:
            self.drop(next(iter(self._kept)))

    def drop(self, path: str) -> None:
        kept = self._kept.pop(path, None)
        if kept is not None:
            self.bytes -= kept[0][1]

    def __len__(self) -> int:
        return len(self._kept)
