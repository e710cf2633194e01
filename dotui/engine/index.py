"""The index of every object the data folder holds, so listing reads no object file.

Two files, kept with the log:

- ``<data>/index.json``, a snapshot ``{"version": 1, "objects": {namespace:
  {id hex: [name, keys, bytes, alarm, last_active]}}}``, rewritten atomically
  only when the journal has grown large and at shutdown;
- ``<data>/index.journal``, JSON lines ``[namespace, id hex, name, keys, bytes,
  alarm, last_active]`` appended (and fsynced) each time checkpoints are
  written, so the cost of keeping the index follows what changed, not how many
  objects there are.

Commit records carry the same fields, so replaying the log after a crash brings
the index up to date; if both files are lost it is rebuilt from the checkpoints.
"""

from __future__ import annotations

import json
import os
from typing import Iterator

from .checkpoint import atomic_write, fsync_dir


class Entry:
    __slots__ = ("name", "keys", "bytes", "alarm", "last_active")

    def __init__(self, name=None, keys=0, nbytes=0, alarm=None, last_active=None):
        self.name = name
        self.keys = keys
        self.bytes = nbytes
        self.alarm = alarm
        self.last_active = last_active

    def row(self) -> list:
        last = round(self.last_active, 3) if self.last_active is not None else None
        return [self.name, self.keys, self.bytes, self.alarm, last]


class Index:
    def __init__(self, path: str):
        self.path = path
        self.journal_path = os.path.splitext(path)[0] + ".journal"
        self._by_ns: dict[str, dict[str, Entry]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._journal_lines = 0
        self.version = 0  # bumped when an entry is added: sorted views rebuild then

    # ------------------------------------------------------------ reading
    def load(self) -> bool:
        """Read the snapshot and the journal; False when there is neither."""
        found = False
        try:
            with open(self.path, "rb") as f:
                doc = json.loads(f.read())
            self._by_ns = {
                ns: {hx: Entry(*row) for hx, row in entries.items()} for ns, entries in doc["objects"].items()
            }
            found = True
        except (OSError, ValueError, KeyError, TypeError):
            self._by_ns = {}
        try:
            with open(self.journal_path, "rb") as f:
                lines = f.read().splitlines()
        except OSError:
            return found
        for line in lines:
            try:
                ns, hx, *row = json.loads(line)
            except (ValueError, TypeError):
                break  # a torn last line: the checkpoints it describes were not yet trusted
            self._by_ns.setdefault(ns, {})[hx] = Entry(*row)
            self._journal_lines += 1
        self.version += 1
        return True

    def get(self, ns: str, hx: str) -> Entry | None:
        entries = self._by_ns.get(ns)
        return entries.get(hx) if entries else None

    def entries(self, ns: str | None = None) -> Iterator[tuple[str, str, Entry]]:
        for name, entries in self._by_ns.items():
            if ns is None or name == ns:
                for hx, e in entries.items():
                    yield name, hx, e

    def namespaces(self) -> list[str]:
        return list(self._by_ns)

    def by_namespace(self) -> dict[str, dict[str, Entry]]:
        """(Loop thread) The entries, ``{namespace: {id hex: Entry}}``: read them, do not change them."""
        return self._by_ns

    def count(self, ns: str | None = None) -> int:
        if ns is None:
            return sum(len(v) for v in self._by_ns.values())
        return len(self._by_ns.get(ns, {}))

    # ------------------------------------------------------------ changing
    def ensure(self, ns: str, hx: str, name: str | None) -> Entry:
        """The entry of an object (made if new), marked as changed."""
        entries = self._by_ns.get(ns)
        if entries is None:
            entries = self._by_ns[ns] = {}
        entry = entries.get(hx)
        if entry is None:
            entry = entries[hx] = Entry(name)
            self.version += 1
        elif name is not None and entry.name is None:
            entry.name = name
        self._dirty.add((ns, hx))
        return entry

    def take_changes(self) -> list[list]:
        """(Loop thread) Rows of the entries changed since the last call, for ``persist``."""
        dirty, self._dirty = self._dirty, set()
        rows = []
        for ns, hx in dirty:
            e = self.get(ns, hx)
            if e is not None:
                rows.append([ns, hx, *e.row()])
        return rows

    def persist(self, rows: list[list], snapshot_rows: list | None = None) -> None:
        """(Any thread) Make ``rows`` durable: append them to the journal, or, when
        ``snapshot_rows`` is given, write a whole new snapshot and empty the journal."""
        if snapshot_rows is not None:
            objects: dict[str, dict[str, list]] = {}
            for ns, hx, *row in snapshot_rows:
                objects.setdefault(ns, {})[hx] = row
            body = json.dumps({"version": 1, "objects": objects}, ensure_ascii=False, separators=(",", ":"))
            atomic_write(self.path, body.encode())
            if os.path.exists(self.journal_path):
                os.remove(self.journal_path)
                fsync_dir(os.path.dirname(self.journal_path))
            self._journal_lines = 0
            return
        if not rows:
            return
        body = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows).encode()
        new = not os.path.exists(self.journal_path)
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, body)
            os.fdatasync(fd)
        finally:
            os.close(fd)
        if new:
            fsync_dir(os.path.dirname(self.journal_path))
        self._journal_lines += len(rows)

    def wants_snapshot(self, pending: int) -> bool:
        """Whether the journal has grown past half the index (then a snapshot is cheaper)."""
        return self._journal_lines + pending > max(10_000, self.count() // 2)

    def all_rows(self) -> list[list]:
        self._dirty.clear()
        return [[ns, hx, *e.row()] for ns, hx, e in self.entries()]

    def rebuild_from_files(self, data_dir: str) -> None:
        """Slow path when the index is lost: read the meta of every checkpoint."""
        from . import checkpoint
        from .errors import BrokenObjectError

        self._by_ns = {}
        for ns in sorted(os.listdir(data_dir)):
            folder = os.path.join(data_dir, ns)
            if not os.path.isdir(folder) or ns == "log":
                continue
            for fname in os.listdir(folder):
                if not fname.endswith(".json") or len(fname) != 69:
                    continue
                hx = fname[:-5]
                try:
                    data, meta = checkpoint.load(os.path.join(folder, fname))
                except BrokenObjectError:
                    data, meta = {}, {}
                e = self.ensure(ns, hx, meta.get("name"))
                e.keys = meta.get("keys", len(data))
                e.bytes = meta.get("bytes", 0)
                e.alarm = meta.get("alarm")
                e.last_active = meta.get("saved_at")
