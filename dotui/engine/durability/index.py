"""The index of every object the data folder holds, so listing reads no object file.

Two files, kept with the log:

- ``<data>/index.json``, a snapshot ``{"version": 1, "generation": G, "objects":
  {namespace: {id hex: [name, keys, bytes, alarm, last_active, calls, errors]}}}``,
  rewritten atomically when the journal has grown large (and after a rebuild);
- ``<data>/index.journal``, appended (and fdatasynced) each time checkpoints are
  written, so the cost of keeping the index follows what changed, not how many
  objects there are. Each line is ``<crc32 hex> <JSON>``: the first line
  ``{"journal": 1, "base": G}`` names the snapshot generation it extends (0: no
  snapshot), then one row ``[namespace, id hex, name, keys, bytes, alarm,
  last_active, calls, errors]`` per line. ``calls`` and ``errors`` count the object's
  calls (and the failed ones) so far, over every wake; rows written before they were
  kept have no such fields, and count 0.

Only the last line of the journal may be torn (a kill mid-append): it is cut
off on load, and appends always start at the end of the last whole line. Any
other damage (a bad line with good lines after it, a damaged snapshot, a journal
without the snapshot it extends, an empty journal with no snapshot) is never
trusted partially: the index is rebuilt from the checkpoints, and the log
replayed at start brings it up to date (commit records carry the same fields).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import zlib
from collections.abc import Iterator

from .. import values
from . import disk, schema, sqlfile
from .checkpoint import atomic_write, fsync_dir

log = logging.getLogger("dotui")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _line(doc) -> bytes:
    text = _dumps(doc).encode()
    return b"%08x %s\n" % (zlib.crc32(text), text)


class Damaged(Exception):
    """An index file that must not be trusted."""


def read_journal(path: str) -> tuple[int, list[list], int, int] | None:
    """(base generation, rows, bytes of whole lines, bytes of a torn last line); None
    when there is no journal or it is empty. Raises ``Damaged`` for anything but a
    torn last line."""
    try:
        raw = disk.read_file(path)
    except FileNotFoundError:
        return None
    if not raw:
        return None
    docs, good = [], 0
    lines = raw.split(b"\n")
    for i, line in enumerate(lines[:-1]):  # the piece after the last newline is torn (or empty)
        try:
            crc, text = line.split(b" ", 1)
            if int(crc, 16) != zlib.crc32(text):
                raise ValueError("checksum")
        except ValueError:
            if i < len(lines) - 2:
                raise Damaged(f"{path}: line {i + 1} is damaged and lines follow it") from None
            break  # a torn last line that happens to end in a newline
        try:
            docs.append(values.read(text))
        except ValueError as exc:  # its checksum matches: no kill tore it
            raise Damaged(f"{path}: line {i + 1} is not JSON ({exc})") from None
        good += len(line) + 1
    if not docs or not isinstance(docs[0], dict) or docs[0].get("journal") != 1:
        if good == 0 and len(lines) <= 2:
            return None  # only a torn first line: nothing was ever written whole
        raise Damaged(f"{path}: no journal header (an older format, or damage)")
    rows = docs[1:]
    for i, r in enumerate(rows, 2):
        try:
            ns, hx, *row = _row_shape(r, "the row", 2)
            check_row(ns, hx, row)
        except schema.Malformed as exc:
            raise Damaged(f"{path}: line {i} is not a row [namespace, id, name, keys, bytes, alarm, "
                          f"last_active, calls, errors]: {exc}") from None
    base = docs[0].get("base", -1)
    if type(base) is not int:
        raise Damaged(f"{path}: the header's base generation is {values.shown(base)}, not an int")
    return base, rows, good, len(raw) - good


def read_snapshot(path: str) -> tuple[int, dict] | None:
    """(generation, objects) of ``index.json``; None when there is none. Raises ``Damaged``."""
    try:
        raw = disk.read_file(path)
    except FileNotFoundError:
        return None
    try:
        doc = schema.shape(values.read(raw), dict, "the document")
        objects = schema.shape(doc.get("objects"), dict, "its objects")
        for ns, entries in objects.items():
            for hx, row in schema.shape(entries, dict, f"the objects of {ns!r}").items():
                check_row(ns, hx, _row_shape(row, f"the row of {ns} {hx!r}", 0))
        generation = doc.get("generation", 0)
        if type(generation) is not int:
            raise schema.Malformed(f"its generation is {values.shown(generation)}, not an int")
        return generation, objects
    except ValueError as exc:  # schema.Malformed, or not UTF-8 or JSON
        raise Damaged(f"{path}: not an index snapshot ({exc})") from None


ROW_FIELDS = (5, 7)  # an object's row: without the counters (folders written before them), with them


def _row_shape(row: object, what: str, before: int) -> list:
    """``row`` is a list of ``before`` fields (namespace and id in the journal) and an object's row."""
    schema.shape(row, list, what)
    if len(row) - before not in ROW_FIELDS:  # type: ignore[arg-type]
        schema.shape(row, list, what, before + ROW_FIELDS[-1])  # raises, naming the length wanted
    return row  # type: ignore[return-value]


def check_row(ns: object, hx: object, row: list) -> None:
    """One object's row of the index, ``[name, keys, bytes, alarm, last_active, calls, errors]``
    (the last two may be missing: 0), with its namespace and id: every field as the engine writes
    it (schema.py), or ``schema.Malformed``."""
    schema.object_id(schema.namespace(ns), hx)
    name, keys, nbytes, alarm, last_active, *counters = row
    schema.name(name, ns, hx)  # type: ignore[arg-type]
    schema.count(keys, "its key count")
    schema.count(nbytes, "its byte count")
    schema.alarm(alarm)
    schema.moment(last_active, "its last_active", optional=True)
    for n, what in zip(counters, ("its call count", "its error count"), strict=False):
        schema.count(n, what)


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
        self.path = path
        self.journal_path = os.path.splitext(path)[0] + ".journal"
        self._by_ns: dict[str, dict[str, Entry]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._journal_lines = 0
        self._journal_size: int | None = None  # where the next append goes; None: start a new journal
        self._generation = 0  # of the snapshot the journal extends (0: none)
        self._needs_snapshot = False  # after a rebuild: replace whatever was on disk
        self.damage: str | None = None  # why load() refused the files, for a log line
        self.version = 0  # bumped when an entry is added: sorted views rebuild then

    # ------------------------------------------------------------ reading
    def load(self) -> bool:
        """Read the snapshot and the journal; False when they are missing or cannot be
        trusted whole (then ``rebuild_from_files``). Cuts a torn last journal line off."""
        try:
            snap = read_snapshot(self.path)
            journal = read_journal(self.journal_path)
        except (Damaged, OSError) as exc:
            self.damage = str(exc)
            return False
        gen = snap[0] if snap is not None else 0
        if journal is not None and (journal[0] > gen or (snap is None and journal[0] != 0)):
            self.damage = f"{self.journal_path} extends a snapshot (generation {journal[0]}) that {self.path} is not"
            return False
        if snap is None and journal is None:
            return False
        self._by_ns = {ns: {hx: Entry(*row) for hx, row in entries.items()}
                       for ns, entries in (snap[1] if snap else {}).items()}
        self._generation = gen
        if journal is not None and journal[0] == gen:
            _, rows, good, torn = journal
            for ns, hx, *row in rows:
                self._by_ns.setdefault(ns, {})[hx] = Entry(*row)
            self._journal_lines, self._journal_size = len(rows), good
            if torn:
                self._cut_torn_line(good)
        self.version += 1
        return True

    def _cut_torn_line(self, good: int) -> None:
        try:
            disk.truncate(self.journal_path, good)
        except OSError:
            pass  # appends start at ``good`` and cut what follows anyway

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
            self.version += 1  # the listing order may change with a name
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

    def restore_changes(self, rows: list[list]) -> None:
        """(Loop thread) ``persist`` of these rows failed: they are written next time."""
        for ns, hx, *_ in rows:
            self._dirty.add((ns, hx))

    def persist(self, rows: list[list], snapshot_rows: list | None = None) -> None:
        """(Any thread) Make ``rows`` durable: append them to the journal, or, when
        ``snapshot_rows`` is given, write a whole new snapshot and drop the journal.
        Raises ``OSError``; nothing half-written is ever read back."""
        if snapshot_rows is not None:
            self._write_snapshot(snapshot_rows)
        elif rows:
            self._append(b"".join(_line(r) for r in rows), len(rows))

    def _write_snapshot(self, snapshot_rows: list) -> None:
        objects: dict[str, dict[str, list]] = {}
        for ns, hx, *row in snapshot_rows:
            objects.setdefault(ns, {})[hx] = row
        gen = self._generation + 1
        if self._needs_snapshot:
            # After a rebuild the journal on disk is not ours: it goes first, so it can
            # never be read as extending the snapshot written next.
            self._remove_journal()
        self._needs_snapshot = True  # until it is durable
        atomic_write(self.path, _dumps({"version": 1, "generation": gen, "objects": objects}).encode())
        self._generation, self._journal_size, self._journal_lines = gen, None, 0
        self._needs_snapshot = False
        self._remove_journal()  # a stale journal (base < gen) would be ignored anyway

    def _remove_journal(self) -> None:
        if os.path.lexists(self.journal_path):
            disk.remove(self.journal_path)
            fsync_dir(os.path.dirname(self.journal_path))

    def _append(self, body: bytes, n: int) -> None:
        new = self._journal_size is None
        offset = self._journal_size or 0
        if new:
            body = _line({"journal": 1, "base": self._generation}) + body
        fd = disk.open(self.journal_path, os.O_WRONLY | os.O_CREAT)
        try:
            if new:
                disk.ftruncate(fd, 0)  # a stale journal's rows must never follow the new header
            view, pos = memoryview(body), offset
            while view:
                written = disk.pwrite(fd, view, pos)
                view, pos = view[written:], pos + written
            disk.ftruncate(fd, pos)  # what a failed earlier append left after it
            disk.fdatasync(fd)
        finally:
            disk.close(fd)
        if new:
            fsync_dir(os.path.dirname(self.journal_path))
        self._journal_size = pos
        self._journal_lines += n

    def wants_snapshot(self, pending: int) -> bool:
        """Whether to write a snapshot: after a rebuild, or when the journal has grown past
        half the index (then a snapshot is cheaper)."""
        return self._needs_snapshot or self._journal_lines + pending > max(10_000, self.count() // 2)

    def all_rows(self) -> list[list]:
        self._dirty.clear()
        return [[ns, hx, *e.row()] for ns, hx, e in self.entries()]

    def _rebuild_sqlite(self, data_dir: str, ns: str, hx: str) -> None:
        """The entry of a SQLite-backed object, from its database's metadata (read-only: O(1))."""
        try:
            path = sqlfile.path_of(data_dir, ns, hx)
            meta = sqlfile.meta_of(path)
        except schema.Malformed as exc:
            log.warning("%s is not a database of this data folder (%s); left as it is",
                        os.path.join(data_dir, ns, hx + sqlfile.SUFFIX), exc)
            return
        except (sqlite3.Error, OSError):
            meta = {}  # listed all the same: a call says what is wrong
        e = self.ensure(ns, hx, meta.get("name"))
        e.bytes = meta.get("bytes", 0)
        e.alarm = meta.get("alarm")

    def rebuild_from_files(self, data_dir: str, skip: tuple[str, ...] = ("log",)) -> None:
        """Slow path when the index is lost or damaged: read the meta of every checkpoint.
        The next ``persist`` writes a whole snapshot in place of the files on disk."""
        from ..errors import BrokenObjectError
        from . import checkpoint

        self._by_ns = {}
        self.version += 1
        for ns in sorted(os.listdir(data_dir)):
            folder = os.path.join(data_dir, ns)
            if ns in skip or not ns.isidentifier() or not stat.S_ISDIR(os.lstat(folder).st_mode):  # no link followed
                continue
            for fname in os.listdir(folder):
                if fname.endswith(sqlfile.SUFFIX) and len(fname) == 64 + len(sqlfile.SUFFIX):
                    self._rebuild_sqlite(data_dir, ns, fname[:64])  # a SQLite-backed object (docs/sqlite.md)
                    continue
                if not fname.endswith(".json") or len(fname) != 69:
                    continue
                hx = fname[:-5]
                try:
                    path = schema.object_path(data_dir, ns, hx)
                except schema.Malformed as exc:  # no id of the namespace can reach it
                    log.warning("%s is not a checkpoint of this data folder (%s); left as it is",
                                os.path.join(folder, fname), exc)
                    continue
                try:
                    data, meta = checkpoint.load(path, (ns, hx))
                except (BrokenObjectError, OSError):
                    data, meta = {}, {}  # listed all the same: a call says what is wrong
                e = self.ensure(ns, hx, meta.get("name"))
                e.keys = meta.get("keys", len(data))
                e.bytes = meta.get("bytes", 0)
                e.alarm = meta.get("alarm")
                e.last_active = meta.get("saved_at")
        # Replace what is on disk with a whole snapshot, unless there was nothing at all.
        self._needs_snapshot = bool(self._by_ns) or self.damage is not None
