"""The index of every object the data folder holds, so listing reads no object file.

``<data>/index.json`` is a snapshot ``{"version": 1, "objects": {namespace:
{id hex: [name, keys, bytes, alarm, last_active]}}}``, rewritten atomically when
the log is checkpointed and at shutdown; commit records carry the same fields,
so replaying the log brings the snapshot up to date after a crash.
"""

from __future__ import annotations

import json
import os
from typing import Iterator

from .checkpoint import atomic_write


class Entry:
    __slots__ = ("name", "keys", "bytes", "alarm", "last_active")

    def __init__(self, name=None, keys=0, nbytes=0, alarm=None, last_active=None):
        self.name = name
        self.keys = keys
        self.bytes = nbytes
        self.alarm = alarm
        self.last_active = last_active

    def row(self) -> list:
        return [self.name, self.keys, self.bytes, self.alarm, self.last_active]


class Index:
    def __init__(self, path: str):
        self.path = path
        self._by_ns: dict[str, dict[str, Entry]] = {}

    def load(self) -> bool:
        """Read the snapshot; False when there is none or it cannot be read."""
        try:
            with open(self.path, "rb") as f:
                doc = json.loads(f.read())
            objects = doc["objects"]
            self._by_ns = {
                ns: {hx: Entry(*row) for hx, row in entries.items()} for ns, entries in objects.items()
            }
            return True
        except (OSError, ValueError, KeyError, TypeError):
            self._by_ns = {}
            return False

    def save(self) -> None:
        doc = {
            "version": 1,
            "objects": {ns: {hx: e.row() for hx, e in entries.items()} for ns, entries in self._by_ns.items()},
        }
        atomic_write(self.path, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())

    def get(self, ns: str, hx: str) -> Entry | None:
        entries = self._by_ns.get(ns)
        return entries.get(hx) if entries else None

    def ensure(self, ns: str, hx: str, name: str | None) -> Entry:
        entries = self._by_ns.setdefault(ns, {})
        entry = entries.get(hx)
        if entry is None:
            entry = entries[hx] = Entry(name)
        elif name is not None and entry.name is None:
            entry.name = name
        return entry

    def entries(self, ns: str | None = None) -> Iterator[tuple[str, str, Entry]]:
        for name, entries in self._by_ns.items():
            if ns is None or name == ns:
                for hx, e in entries.items():
                    yield name, hx, e

    def namespaces(self) -> list[str]:
        return list(self._by_ns)

    def count(self, ns: str | None = None) -> int:
        if ns is None:
            return sum(len(v) for v in self._by_ns.values())
        return len(self._by_ns.get(ns, {}))

    def rebuild_from_files(self, data_dir: str) -> None:
        """Slow path when the snapshot is missing: read the meta of every checkpoint."""
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
