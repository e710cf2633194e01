"""The index of every object the data folder holds, so listing reads no object file.

On disk it is one SQLite database, ``<data>/index.sqlite`` (``index_rows.py``: the tables and the
checks of what is read back; ``index_store.py``: the connections, the seam for SQLite's I/O),
written in each checkpoint round on the checkpoint thread, in the same round as the checkpoints and
before the log segments they make redundant are deleted: commit records carry the same fields, so
replaying the log at start brings the index up to date after a crash. Why SQLite, with the
figures: docs/persistence.md.

In memory it holds only what is not yet durable in the file: the entries changed since their row
was written (and those being written), as ``Entry`` objects; every other object is read from the
file when asked for. So opening costs O(namespaces), memory O(objects changed since the last
round), a lookup O(log N), a page of the listing O(log N + page + objects new since the last round)
(``ordered``), a count O(1) (the file's counts, kept by a trigger, plus the new ones).

A torn or unreadable index is never trusted partially: at start, or whenever a row read back fails
its checks, the index is rebuilt from the checkpoints (everything then held in memory, with the
changes not yet written over it) and written whole as a new file at the next round. A folder of an
older engine (``index.json`` and ``index.journal``, ``index_legacy.py``) is read once the same way.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
from collections.abc import Iterator, Set

from . import index_legacy, index_rebuild
from .index_legacy import read_journal, read_snapshot  # noqa: F401 - the legacy readers, as before
from .index_rows import Damaged
from .index_store import Store

log = logging.getLogger("dotui")
Key = tuple[str, str]


def order(ns: str, name: str | None, hx: str) -> tuple:
    """The listing order: namespace, then named objects by name, then unnamed ones, then id."""
    return (ns, name is None, name or "", hx)


class Entry:
    """What the index keeps of one object: all an object that sleeps holds in memory."""

    __slots__ = ("name", "keys", "bytes", "alarm", "last_active", "calls", "errors")

    def __init__(self, name=None, keys=0, nbytes=0, alarm=None, last_active=None, calls=0, errors=0):
        self.name = name
        self.keys = keys
        self.bytes = nbytes
        self.alarm = alarm
        self.last_active = last_active
        self.calls = calls  # calls so far, over every wake (kept when it hibernates)
        self.errors = errors  # of them, the failed ones

    def row(self) -> list:
        last = round(self.last_active, 3) if self.last_active is not None else None
        return [self.name, self.keys, self.bytes, self.alarm, last, self.calls, self.errors]


class Index:
    def __init__(self, path: str):
        self.path = path  # <data>/index.sqlite
        self.data_dir = os.path.dirname(path) or "."
        self._store = Store(path)
        self._mem: dict[Key, Entry] = {}  # not yet durable in the file (detached: every entry)
        self._dirty: set[Key] = set()
        self._new: dict[Key, tuple] = {}  # in _mem, not in the file the reader sees: key -> order
        self._moved: dict[Key, tuple] = {}  # in the file under an older order (named since): its order there
        self._file_counts: dict[str, int] = {}
        self._new_counts: dict[str, int] = {}
        self._attached = False  # False: the file is not read (none, damaged, or not yet written)
        self._needs_snapshot = False  # write the whole index as a new file at the next round
        self._legacy = False  # the rows came from index.json/index.journal: remove them once written
        self._overlay: dict[str | None, tuple[list, list, list]] = {}  # per namespace filter, until changed
        self.damage: str | None = None  # why load() refused the files, for a log line

    # ------------------------------------------------------------ opening
    def load(self) -> bool:
        """Open the file (O(namespaces): nothing else is read), or read an older engine's files; False
        when there is none, or it cannot be trusted whole (then ``rebuild_from_files``)."""
        try:
            if index_store_exists(self.path):
                self._store.open_reader()
                self._file_counts = self._store.counts()
                self._attached = True
                self._legacy = any(
                    os.path.lexists(os.path.join(self.data_dir, n))
                    for n in (index_legacy.SNAPSHOT, index_legacy.JOURNAL)
                )
                self._needs_snapshot = False
                return True
            rows = index_legacy.read(self.data_dir)
        except (Damaged, OSError) as exc:
            self._store.close_reader()
            self.damage = str(exc)
            return False
        if rows is None:
            return False
        self._detach({(r[0], r[1]): Entry(*r[2:]) for r in rows})
        self._legacy = True
        self._write_whole()
        return True

    def _write_whole(self) -> None:
        """(At start, no round running) ``write_whole``; on failure the entries stay in memory and the
        next round tries again."""
        try:
            self.write_whole()
        except OSError as exc:
            log.warning(
                "the index could not be written (%s): it is held in memory and written at the next checkpoint", exc
            )

    def write_whole(self) -> None:
        """(At start, no round running) Write every entry as a new file and read it from now on; raises
        ``OSError`` (the entries then stay in memory, to be written by the next round). O(N log N)."""
        rows = self.all_rows()
        try:
            self.persist([], rows)
        except OSError:
            self._dirty.update(self._mem)
            raise
        self.persisted([], rows)

    def _detach(self, entries: dict[Key, Entry]) -> None:
        """Hold every entry in memory and stop reading the file; the next round writes a new one."""
        self._store.close_reader()
        self._attached = False
        self._mem = entries
        self._dirty = set()
        self._new, self._moved, self._file_counts = {}, {}, {}
        self._new_counts = {}
        for ns, _ in entries:
            self._new_counts[ns] = self._new_counts.get(ns, 0) + 1
        self._needs_snapshot = True
        self._overlay.clear()

    def close(self) -> None:
        self._store.close()

    def _damaged(self, exc: Exception) -> None:
        """A row (or the file) read back failed its checks: rebuild from the checkpoints, keeping
        every change not yet written over what they hold. O(checkpoints), once."""
        log.warning("the index cannot be trusted (%s): rebuilding it from the checkpoints", exc)
        kept = {k: self._mem[k] for k in self._mem}
        self.rebuild_from_files(self.data_dir, keep=kept)  # written whole by the next round

    def _file(self, fn, *args):
        """``fn(*args)`` of the store, or None once a damage made the index rebuild itself."""
        try:
            return fn(*args)
        except (Damaged, OSError) as exc:
            self._damaged(exc)
            return None

    # ------------------------------------------------------------ reading (the loop thread)
    def get(self, ns: str, hx: str) -> Entry | None:
        """The entry of an object (read from the file unless it is in memory): O(log N). Read it,
        do not change it (``ensure`` for that)."""
        e = self._mem.get((ns, hx))
        if e is not None or not self._attached:
            return e
        r = self._file(self._store.get, ns, hx)
        return Entry(*r[2:]) if r is not None else None

    def count(self, ns: str | None = None) -> int:
        """How many objects the index holds (of ``ns``): O(namespaces)."""
        if ns is None:
            return sum(self._file_counts.values()) + sum(self._new_counts.values())
        return self._file_counts.get(ns, 0) + self._new_counts.get(ns, 0)

    def namespaces(self) -> list[str]:
        return sorted({*self._file_counts, *self._new_counts})

    def alarms(self) -> list[tuple[str, str, float]]:
        """(namespace, id, alarm) of every object with an alarm: O(alarms + entries in memory)."""
        rows = (self._file(lambda: list(self._store.alarms())) if self._attached else None) or []
        out = [(k[0], k[1], e.alarm) for k, e in self._mem.items() if e.alarm is not None]
        return out + [(r[0], r[1], r[5]) for r in rows if (r[0], r[1]) not in self._mem]

    def with_prefix(self, ns: str, prefix: str, limit: int = 2) -> set[str]:
        """Ids of ``ns`` starting with ``prefix``, at most ``limit`` (and those in memory): O(log N + limit)."""
        found = {hx for (n, hx) in self._mem if n == ns and hx.startswith(prefix)}
        if self._attached:
            found.update(self._file(self._store.with_prefix, ns, prefix, limit) or ())
        return found

    def everything(self, ns: str | None = None) -> list[tuple[str, str, Entry]]:
        """Every entry (of ``ns``), in no particular order: O(N)."""
        rows = (self._file(lambda: list(self._store.everything(ns))) if self._attached else None) or []
        out = [(k[0], k[1], e) for k, e in self._mem.items() if ns is None or k[0] == ns]
        return out + [(r[0], r[1], Entry(*r[2:])) for r in rows if (r[0], r[1]) not in self._mem]

    async def table(self, ns: str | None = None, leave_out: Set[Key] = frozenset()) -> list[tuple]:
        """Every entry (of ``ns``) but those of ``leave_out`` as ``(ns, hx, name, last_active, keys, bytes,
        alarm, calls, errors, 0)``, memory's over the file's, as they are when it is called.

        The file's rows are read and sifted on a thread (``Store.table``: checked in C, on a connection of
        its own), so the loop's calls go on meanwhile; the entries in memory, and what to leave out, are
        taken on the loop before. O(N) on the thread, O(entries in memory) on the loop."""
        mem = self._mem
        out = [
            (k[0], k[1], e.name, e.last_active, e.keys, e.bytes, e.alarm, e.calls, e.errors, 0)
            for k, e in mem.items()
            if (ns is None or k[0] == ns) and k not in leave_out
        ]
        if not self._attached:
            return out
        skip = frozenset(leave_out).union(mem)  # taken now: the thread must not read dicts the loop changes
        store = self._store

        def read() -> list[tuple]:
            rows = store.table(ns)
            return [r for r in rows if (r[0], r[1]) not in skip] if skip else rows

        try:
            rows = await asyncio.to_thread(read)
        except (Damaged, OSError) as exc:
            self._damaged(exc)
            return await self.table(ns, leave_out)  # from the entries the rebuild holds in memory
        rows.extend(out)
        return rows

    def ordered(self, ns: str | None = None, start: int = 0) -> Iterator[tuple[str, str, Entry]]:
        """Entries (of ``ns``) in listing order (``order``), from the ``start``-th on.

        The file's rows, merged with the entries in memory that are not in the file the reader sees
        (new, or named since: their old place is skipped). Reading starts ``len(new)`` rows before
        ``start`` in the file, and the rank of the first row read is known from the two short sorted
        lists: O(log N + page + objects new since the last round) a page, none of it Python work
        for the rows stepped over."""
        shown = 0
        try:
            for item in self._ordered(ns, start):
                yield item
                shown += 1
        except (Damaged, OSError) as exc:
            self._damaged(exc)
            yield from self._ordered(ns, start + shown)  # detached now: from memory

    def _ordered(self, ns: str | None, start: int) -> Iterator[tuple[str, str, Entry]]:
        orders, keys, moved = self._overlay_of(ns)
        if not self._attached:
            for k in keys[start:]:
                yield k[0], k[1], self._mem[k]
            return
        in_file = sum(self._file_counts.values()) if ns is None else self._file_counts.get(ns, 0)
        q = min(max(0, start - len(orders)), max(0, in_file - 1))
        rank, ai = None, 0
        for p, r in enumerate(self._store.ordered(ns, q), q):
            key, place = (r[0], r[1]), order(r[0], r[2], r[1])
            if self._moved.get(key) == place:
                continue  # it is listed at its new place
            if rank is None:  # the first row shown: its rank from its place in the file
                ai = bisect.bisect_left(orders, place)
                rank = p - bisect.bisect_left(moved, place) + ai
                if q == 0:  # those in memory before it come first (else they rank before ``start``)
                    for k in keys[start:ai]:
                        yield k[0], k[1], self._mem[k]
            while ai < len(orders) and orders[ai] < place:
                if rank >= start:
                    k = keys[ai]
                    yield k[0], k[1], self._mem[k]
                ai, rank = ai + 1, rank + 1
            if rank >= start:
                e = self._mem.get(key)
                yield key[0], key[1], e if e is not None else Entry(*r[2:])
            rank += 1
        if rank is None:  # nothing in the file: the entries in memory alone
            rank, ai = 0, 0
        for k in keys[ai:]:
            if rank >= start:
                yield k[0], k[1], self._mem[k]
            rank += 1

    def _overlay_of(self, ns: str | None) -> tuple[list, list, list]:
        """(sorted orders, their keys, sorted old orders of the moved) of the entries listed from
        memory; sorted again only after entries were added, named or written."""
        got = self._overlay.get(ns)
        if got is None:
            if self._attached:
                listed = {**self._new, **{k: order(k[0], self._mem[k].name, k[1]) for k in self._moved}}
            else:
                listed = {k: order(k[0], e.name, k[1]) for k, e in self._mem.items()}
            pairs = sorted((o, k) for k, o in listed.items() if ns is None or k[0] == ns)
            moved = sorted(o for k, o in self._moved.items() if ns is None or k[0] == ns)
            got = self._overlay[ns] = ([o for o, _ in pairs], [k for _, k in pairs], moved)
        return got

    # ------------------------------------------------------------ changing (the loop thread)
    def ensure(self, ns: str, hx: str, name: str | None) -> Entry:
        """The entry of an object (made if new), marked as changed: O(1) when it is in memory, else
        one lookup."""
        key = (ns, hx)
        entry = self._mem.get(key)
        if entry is None and self._attached:
            r = self._file(self._store.get, ns, hx)
            if r is not None:
                entry = self._mem[key] = Entry(*r[2:])
            else:
                entry = self._mem.get(key)  # a damage found just now rebuilt the index: it may be there
        if entry is None:
            entry = self._mem[key] = Entry(name)
            if self._attached:
                self._new[key] = order(ns, name, hx)
            self._new_counts[ns] = self._new_counts.get(ns, 0) + 1
            self._overlay.clear()
        if name is not None and entry.name is None:
            entry.name = name
            if key in self._new:
                self._new[key] = order(ns, name, hx)
            elif self._attached:
                self._moved[key] = order(ns, None, hx)
            self._overlay.clear()  # the listing order changes with a name
        self._dirty.add(key)
        return entry

    def take_changes(self) -> list[list]:
        """(Loop thread) Rows of the entries changed since the last call, for ``persist``."""
        dirty, self._dirty = self._dirty, set()
        if self._attached:
            self._file(self._store.hold)  # the round stays unseen until ``persisted``
        return [[ns, hx, *self._mem[(ns, hx)].row()] for ns, hx in dirty if (ns, hx) in self._mem]

    def restore_changes(self, rows: list[list]) -> None:
        """(Loop thread) ``persist`` of these rows failed: they are written next time."""
        for ns, hx, *_ in rows:
            self._dirty.add((ns, hx))
        if self._attached:
            self._file(self._store.release)
        if self._store.damaged is not None and self._attached:  # found by the writer: rebuild
            self._damaged(Damaged(self._store.damaged))

    def wants_snapshot(self, pending: int) -> bool:
        """Whether the next round writes the whole index as a new file: after a rebuild or an older
        engine's files (a file that is not read cannot be written in part)."""
        return self._needs_snapshot or not self._attached

    def all_rows(self) -> list[list]:
        """(Loop thread) Every row, for a snapshot: the file's (if it is read) and memory's. O(N)."""
        self._dirty.clear()
        return [[ns, hx, *e.row()] for ns, hx, e in self.everything()]

    # ------------------------------------------------------------ writing (the checkpoint thread)
    def persist(self, rows: list[list], snapshot_rows: list | None = None) -> None:
        """(Any thread) Make ``rows`` durable in the file, or, with ``snapshot_rows``, write a whole
        new file of them. Raises ``OSError``; nothing half-written is ever read back."""
        if snapshot_rows is not None:
            self._store.close_reader()  # (detached: closed already) no reader may see the file go
            self._store.replace(snapshot_rows)
            if self._legacy:
                index_legacy.remove(self.data_dir)
        elif rows:
            self._store.write(rows)

    def fold_log(self) -> bool:
        """(The checkpoint thread, between rounds) Keep the file's write-ahead log bounded
        (``Store.fold_log``). Raises ``OSError``."""
        return self._store.fold_log()

    def persisted(self, rows: list[list], snapshot_rows: list | None = None) -> None:
        """(Loop thread) ``persist(rows, snapshot_rows)`` succeeded: the reader moves on to the file as
        written, and the entries written and not changed since leave memory."""
        written = snapshot_rows if snapshot_rows is not None else rows
        if snapshot_rows is None and not self._attached:
            return  # everything stays in memory until a whole file is written
        try:
            if snapshot_rows is not None:
                self._store.open_reader()
                self._attached, self._needs_snapshot, self._legacy = True, False, False
            else:
                self._store.release()
            self._file_counts = self._store.counts()
        except (Damaged, OSError) as exc:
            self._store.close_reader()
            self._attached = False
            self._needs_snapshot = True  # the next round writes a new file
            log.warning("the index cannot be read back (%s): it is written again at the next checkpoint", exc)
            return
        names = {(r[0], r[1]): r[2] for r in written}
        for key in list(self._mem if snapshot_rows is not None else names):
            if key not in names:  # added after the snapshot was taken: still new
                self._new[key] = order(key[0], self._mem[key].name, key[1])
                continue
            self._new.pop(key, None)
            if key in self._dirty:
                e = self._mem[key]
                if e.name != names[key]:
                    self._moved[key] = order(key[0], names[key], key[1])
                else:
                    self._moved.pop(key, None)
            else:
                self._mem.pop(key, None)
                self._moved.pop(key, None)
        self._new_counts = {}
        for ns, _ in self._new:
            self._new_counts[ns] = self._new_counts.get(ns, 0) + 1
        self._overlay.clear()

    # ------------------------------------------------------------ rebuilding
    def rebuild_from_files(
        self, data_dir: str, skip: tuple[str, ...] = ("log",), keep: dict[Key, Entry] | None = None
    ) -> None:
        """Slow path when the index is lost or damaged: the entries read from every checkpoint and
        database (index_rebuild.py), ``keep`` (newer) over them. Everything is then held in memory; the
        next ``persist`` writes a whole new file. O(checkpoints)."""
        entries = {key: Entry(*fields) for key, fields in index_rebuild.entries_of_files(data_dir, skip).items()}
        entries.update(keep or {})
        self._detach(entries)
        self._dirty = set(entries)
        if keep is None and (entries or self.damage is not None):  # at start: written now (the log
            self._write_whole()  # replayed next brings it up to date); a new folder's, by its first round


def index_store_exists(path: str) -> bool:
    from .index_store import check_files

    return check_files(path)
