"""One checkpoint round's writing, on the checkpoint thread (durable.py decides what a round takes
and settles what it achieved, on the loop).

Each object's changes are applied to its checkpoint file (checkpoint.py), a class's files are
replaced together and their folder fsynced once (spares.py), a SQLite-backed object's database
is checkpointed by SQLite, and then the index's changed rows are written. Nothing raised here is
lost: every failure is named in the round's ``RoundResult``, per object. The writer owns the two
caches the thread keeps between rounds: the spare files (spares.py) and the big objects' last
checkpoints, not read back (recent.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock
from ..errors import BrokenObjectError
from . import checkpoint, disk, recent, schema, spares, sqlfile
from .logformat import Delta

Key = tuple[str, str]  # (namespace, id hex)


@dataclass
class RoundResult:
    """What one checkpoint round achieved (built on the checkpoint thread, read on the loop)."""

    written: list[Key] = field(default_factory=list)
    failed: dict[Key, str] = field(default_factory=dict)  # may pass: tried again
    broken: dict[Key, str] = field(default_factory=dict)  # unreadable checkpoint
    index_error: str | None = None


def what(exc: BaseException) -> str:
    """An error as a round reports it: its type and message."""
    return f"{type(exc).__name__}: {exc}"


class RoundWriter:
    """Writes rounds into ``data_dir``'s checkpoints and ``index``; ``keep``: the spare files kept."""

    def __init__(self, data_dir: str, index: Any, clock: Clock, *, keep: int):
        self.data_dir = data_dir
        self.index = index
        self.clock = clock  # a checkpoint's time (saved_at)
        self.spares = spares.Spares(keep=keep)  # (spares.py)
        self.recent = recent.Recent()  # big objects' last checkpoints: not read back (recent.py)

    def checkpoint_of(self, key: Key) -> tuple[dict[str, Any], dict[str, Any]]:
        """``checkpoint.load`` of an object's file, or what the last round wrote there when it is
        kept (recent.py) and the file is still the one it wrote: O(keys), no read."""
        path = schema.object_path(self.data_dir, *key)
        kept = self.recent.get(path)
        return kept if kept is not None else checkpoint.load(path, key)

    def write(self, work: dict[Key, tuple], rows: list, snap: list | None) -> RoundResult:
        """(Thread) Apply each change to its checkpoint file, folder by folder; then the index's ``rows``
        (or its whole ``snap``). ``work``: key -> (its changes, its name, its size in bytes)."""
        result = RoundResult()
        folders: dict[str, dict[str, tuple[Key, bytes | None]]] = {}
        kept: dict[str, tuple] = {}  # checkpoints written (data, meta, rows): kept for the next (recent.py)
        now = self.clock.now()
        for key, (delta, name, nbytes) in work.items():
            if sqlfile.is_sqlite(self.data_dir, *key):  # its checkpoint is SQLite's own (docs/sqlite.md)
                try:
                    sqlfile.checkpoint(sqlfile.path_of(self.data_dir, *key))
                    result.written.append(key)
                except OSError as exc:
                    result.failed[key] = what(exc)
                continue
            try:
                path, body, made = self._encode(key, delta, name, nbytes, now)
            except BrokenObjectError as exc:
                result.broken[key] = str(exc)
                continue
            except (OSError, ValueError, TypeError) as exc:
                result.failed[key] = what(exc)
                continue
            folders.setdefault(os.path.dirname(path), {})[path] = (key, body)
            if made is not None:
                kept[path] = made
        for folder, files in folders.items():
            try:
                self._write_folder(folder, files)
                result.written.extend(k for k, _ in files.values())
            except OSError as exc:
                result.failed.update((k, what(exc)) for k, _ in files.values())
                kept = {p: m for p, m in kept.items() if p not in files}
            for p, (_, body) in files.items():
                if p in kept and body is not None:
                    data, meta, made = kept[p]
                    self.recent.put(p, data, meta, len(body), made)
                else:
                    self.recent.drop(p)
        if rows or snap is not None:
            try:
                self.index.persist(rows, snap)
            except OSError as exc:
                result.index_error = what(exc)
        return result

    def _encode(
        self, key: Key, delta: Delta, name: str | None, nbytes: int | None, now: float
    ) -> tuple[str, bytes | None, tuple | None]:
        """(path, new file contents, or None when the object is now empty and has no alarm, and
        (data, meta, rows) to keep once written). O(keys) in C with the last one kept (checkpoint.table)."""
        path = schema.object_path(self.data_dir, *key)
        data, meta = self.checkpoint_of(key)
        last = self.recent.table(path)  # the rows it wrote, if data is what it wrote (recent.py)
        alarm = delta.apply(data, meta.get("alarm"))
        if not data and alarm is None:
            return path, None, None
        meta = {
            "namespace": key[0],
            "id": key[1],
            "name": name or meta.get("name"),
            "alarm": alarm,
            "keys": len(data),
            "bytes": nbytes if nbytes is not None else meta.get("bytes", 0),
            "saved_at": now,
        }
        rows = checkpoint.table(data, last, None if delta.cleared else delta.puts)
        body = checkpoint.encode(checkpoint.build(data, meta, rows))
        keep = rows if len(data) >= checkpoint.REUSE_KEYS else None  # (a small one's containers: fewer to collect)
        return path, body, ((data, meta, keep) if len(body) >= self.recent.MIN_BYTES else None)

    def _write_folder(self, folder: str, files: dict[str, tuple[Key, bytes | None]]) -> None:
        bodies = {p: body for p, (_, body) in files.items() if body is not None}
        gone = [p for p, (_, body) in files.items() if body is None and os.path.lexists(p)]
        if bodies:
            disk.makedirs(folder, f"folder of class {os.path.basename(folder)}'s objects")
            spares.replace_many(bodies, self.data_dir, self.spares)
        for p in gone:
            self.spares.retire(p)
        if gone:
            for changed in {folder} | self.spares.touched():
                disk.fsync_dir(changed)


def remove_segments(paths: Iterable[str]) -> None:
    """Delete log segments a round made redundant, then fsync their folders. O(segments)."""
    folders = set()
    for p in paths:
        try:
            disk.remove(p)
        except FileNotFoundError:
            pass
        folders.add(os.path.dirname(p))
    for folder in folders:
        disk.fsync_dir(folder)
