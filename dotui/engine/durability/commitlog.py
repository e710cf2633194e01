"""The engine-wide commit log: one append and one fdatasync per group commit.

A record is ``<length:u32><crc32:u32><payload>``; the payload is JSON::

    {"t": epoch seconds, "o": [[namespace, id hex, name, cleared, {key: value, ...},
                                 [deleted key, ...], alarm_changed, alarm, keys, bytes], ...]}

It carries only the keys a commit changed. The log is a series of segments
(``log/00000001.log`` …): the engine starts a new segment, writes the objects
the older segments touched into their checkpoints, then deletes each older
segment whose every record is in a durable checkpoint.

Reading (``read_records``) tells a torn last append from damage. A record that
is cut short or fails its checksum at the very end of the last segment, with
nothing readable after it, is a kill in the middle of an append: it was never
acknowledged, so it is dropped. A bad record anywhere else (readable records
after it, or in a segment that is not the last) is damage: reading stops with
``LogCorruptError`` naming the segment and the byte offset, and ``dotui
recover`` is the explicit way out (see README.md, "On disk").
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from .. import values
from ..errors import LogCorruptError
from . import disk, schema

log = logging.getLogger("dotui")
_UNRESERVED = 1 << 62  # "allocated" of a segment that could not be preallocated: never try again

_HEADER = struct.Struct("<II")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_quote = encode_basestring  # a str as JSON, as _dumps writes it (ensure_ascii=False), minus the dispatch


@dataclass
class Delta:
    """Committed changes of one object not yet in its checkpoint."""

    cleared: bool = False
    puts: dict[str, Any] = field(default_factory=dict)  # key -> value, or DELETED
    alarm_changed: bool = False
    alarm: float | None = None

    def merge(self, other: Delta) -> None:
        if other.cleared:
            self.cleared = True
            self.puts = {}
        self.puts.update(other.puts)
        if other.alarm_changed:
            self.alarm_changed = True
            self.alarm = other.alarm

    def apply(self, data: dict[str, Any], alarm: float | None) -> float | None:
        """Apply to ``data`` in place; returns the alarm after it."""
        if self.cleared:
            data.clear()
        for k, v in self.puts.items():
            if v is DELETED:
                data.pop(k, None)
            else:
                data[k] = v
        return self.alarm if self.alarm_changed else alarm


class _Deleted:
    def __repr__(self) -> str:
        return "DELETED"


DELETED = _Deleted()


@dataclass
class ObjectRecord:
    namespace: str
    hex: str
    name: str | None
    delta: Delta
    keys: int
    bytes: int


def encode_object(namespace: str, hex: str, name: str | None, changes: Any, keys: int, nbytes: int) -> str:
    """One object's part of a record; ``changes.puts`` maps keys to JSON text or None.

    The JSON of ``[namespace, hex, name, cleared, {key: value}, [deleted key], alarm_changed,
    alarm, keys, bytes]``, built from the values' JSON texts (every commit runs this: no
    encoder objects, just the C string quoting).
    """
    puts = []
    dels = []
    for k, text in changes.puts.items():
        if text is None:
            dels.append(_quote(k))
        else:
            puts.append(f"{_quote(k)}:{text}")
    alarm = changes.alarm
    return (
        f'[{_quote(namespace)},"{hex}",{"null" if name is None else _quote(name)},'
        f"{'true' if changes.cleared else 'false'},{{{','.join(puts)}}},[{','.join(dels)}],"
        f"{'true' if changes.alarm_changed else 'false'},{'null' if alarm is None else _dumps(alarm)},"
        f"{keys},{nbytes}]"
    )


def encode_record(t: float, parts: list[str]) -> bytes:
    """A whole record (header and payload) holding the objects' ``parts``.

    ``UnicodeEncodeError`` if a part holds a string UTF-8 cannot encode (a lone surrogate).
    """
    payload = f'{{"t":{t!r},"o":[{",".join(parts)}]}}'.encode()
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> tuple[float, list[ObjectRecord]]:
    """The time and object parts of a record's payload, every field checked (schema.py): a
    namespace that is a class name, an id valid for it, keys and values ``put`` would accept,
    counts and times of the right type. ``ValueError`` (``schema.Malformed`` for a field) says
    what is not a commit record. O(size of the payload)."""
    doc = values.read(payload)
    if type(doc) is not dict or doc.keys() != {"t", "o"}:
        raise schema.Malformed('it is not a {"t": time, "o": [object, ...]} document')
    t = schema.moment(doc["t"], "its time")
    out = []
    for i, part in enumerate(schema.shape(doc["o"], list, "its list of objects")):
        try:
            out.append(_object_part(part))
        except schema.Malformed as exc:
            raise schema.Malformed(f"object {i + 1} of the record: {exc}") from None
    return t, out


def _object_part(part: Any) -> ObjectRecord:
    ns, hx, name, cleared, puts, dels, alarm_changed, alarm, keys, nbytes = schema.shape(part, list, "it", 10)
    ns = schema.namespace(ns)
    d = Delta(
        cleared=schema.flag(cleared, "cleared"),
        alarm_changed=schema.flag(alarm_changed, "alarm_changed"),
        alarm=schema.alarm(alarm),
    )
    d.puts.update(schema.entries(puts, "its written keys"))
    for k in schema.shape(dels, list, "its deleted keys"):
        d.puts[schema.key(k)] = DELETED
    hx = schema.object_id(ns, hx)
    return ObjectRecord(
        ns,
        hx,
        schema.name(name, ns, hx),
        d,
        schema.count(keys, "its key count"),
        schema.count(nbytes, "its byte count"),
    )


@dataclass
class SegmentScan:
    """What one segment holds: its readable records and, if any, where the damage starts."""

    path: str
    records: list[tuple[float, list[ObjectRecord]]]  # the readable prefix
    end: int  # bytes of the readable prefix
    bad_at: int | None = None  # where the first bad record starts; None: a clean end
    reason: str = ""
    tail: int = 0  # bytes from bad_at to the last non-zero byte (what dropping it drops)
    checksum_ok: bool = False  # the bad record's checksum matches: no kill tore it, it is damage
    after: list[tuple[int, float, list[ObjectRecord]]] = field(default_factory=list)  # readable records after it


_MAGIC = b'{"t":'  # every payload starts so: how readable records after damage are found


def _record_at(raw: bytes, pos: int) -> tuple[int, tuple[float, list[ObjectRecord]] | None, str]:
    """(its length on disk, the decoded record or None, why not) of the record at ``pos``; a
    length of -1 with None: its checksum matches but it is not a commit record (never torn)."""
    length, crc = _HEADER.unpack_from(raw, pos)
    if length == 0:
        return 0, None, "zeroed bytes followed by data"
    payload = raw[pos + _HEADER.size : pos + _HEADER.size + length]
    if len(payload) < length:
        return 0, None, f"a record of {length} bytes cut short by the end of the file"
    if zlib.crc32(payload) != crc:
        return 0, None, "a record whose checksum does not match"
    try:
        return _HEADER.size + length, decode_payload(payload), ""
    except ValueError as exc:  # schema.Malformed, bad JSON or UTF-8: what the engine never writes
        return -1, None, f"a record whose checksum matches but which is not a commit record: {exc}"


def _readable_after(raw: bytes, start: int) -> list[tuple[int, float, list[ObjectRecord]]]:
    """Every readable record starting after ``start`` (found by their payload's first bytes)."""
    out = []
    s = raw.find(_MAGIC, start + _HEADER.size)
    while s != -1:
        size, rec, _ = _record_at(raw, s - _HEADER.size)
        if rec is not None:
            out.append((s - _HEADER.size, *rec))
            s = raw.find(_MAGIC, s - _HEADER.size + size + _HEADER.size)
        else:
            s = raw.find(_MAGIC, s + 1)
    return out


def scan_segment(path: str) -> SegmentScan:
    """Read a segment without judging it: the readable prefix, and what follows a bad record."""
    raw = disk.read_file(path)
    scan = SegmentScan(path, [], 0)
    pos = 0
    while pos + _HEADER.size <= len(raw):
        size, rec, reason = _record_at(raw, pos)
        if rec is None:
            scan.reason, scan.checksum_ok = reason, size == -1
            break
        scan.records.append(rec)
        pos += size
    scan.end = pos
    rest = raw[pos:].rstrip(b"\0")
    if rest:  # not only the zeroed space a segment is preallocated with
        scan.bad_at = pos
        scan.reason = scan.reason or "a record header cut short by the end of the file"
        scan.tail = len(rest)
        scan.after = _readable_after(raw, pos + 1)
    return scan


def is_damage(scan: SegmentScan, last: bool) -> bool:
    """Whether what stopped the scan of a segment is damage, not a torn last append: a record
    whose checksum matches but that is not a commit record, or a bad one with readable records
    after it, or at the end of a segment that is not the ``last``."""
    return scan.bad_at is not None and (scan.checksum_ok or bool(scan.after) or not last)


def corrupt_error(scan: SegmentScan, last: bool) -> LogCorruptError:
    data = os.path.dirname(os.path.dirname(scan.path)) or "."
    if scan.checksum_ok:
        why = "its checksum matches, so no kill tore it"
    elif scan.after:
        why = f"{len(scan.after)} readable records follow it"
    else:
        why = "it is not in the last segment"
    return LogCorruptError(
        f"the commit log is damaged: segment {scan.path} at byte {scan.bad_at} holds {scan.reason}, "
        f"and {why}, so it is not a torn last append. Recovery stopped and changed no file. "
        f"Run `dotui recover --data {data}` to see what dropping the damaged part would lose, "
        f"then `dotui recover --data {data} --yes` to drop it.",
        scan.path,
        scan.bad_at or 0,
    )


def read_records(path: str, *, last: bool = True) -> tuple[list[tuple[float, list[ObjectRecord]]], int, int]:
    """(records, bytes of the readable prefix, bytes of a torn tail dropped).

    Only a torn *last* record may be dropped: anything ``is_damage`` calls damage raises
    ``LogCorruptError`` naming the segment and the offset.
    """
    scan = scan_segment(path)
    if is_damage(scan, last):
        raise corrupt_error(scan, last)
    return scan.records, scan.end, scan.tail


class CommitLog:
    """Appends records to the current segment and makes them durable.

    ``append(record)`` returns once the record is on disk (fdatasync). Segments
    are preallocated, so a commit's fdatasync flushes data, not a new file size.
    On failure the record's bytes are zeroed again, so a later record never sits
    behind a torn one. ``open_new_segment()`` either starts a complete new
    segment or, when it fails, leaves the current one open and in use: a disk
    that refuses a new file for a while never stops commits. Every disk operation
    goes through ``dotui.engine.durability.disk``. Subclass to make it slow or failing in
    tests; a subclass whose ``sync`` may block for long sets ``inline_sync = False``.
    """

    PREALLOCATE = 4 << 20
    inline_sync = True  # the engine may fdatasync on its loop while syncs are fast

    def __init__(self, folder: str):
        self.folder = folder
        disk.makedirs(folder, LOG_FOLDER)
        self._fd: int | None = None
        self._size = 0
        self._allocated = 0
        self._can_preallocate = True
        self.segment = 0

    def segments(self) -> list[str]:
        return list_segments(self.folder)

    def open_new_segment(self) -> None:
        """Start a fresh segment after every existing one, and append to it from now on.

        Raises ``OSError`` if the new segment cannot be made durable (open, fsync of
        it or of the folder); the current segment then stays open and in use, and
        the half-made file is removed.
        """
        existing = self.segments()
        number = int(os.path.basename(existing[-1])[:-4]) + 1 if existing else 1
        path = os.path.join(self.folder, f"{number:08d}.log")
        fd = disk.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        try:
            allocated = self._preallocate(fd, 0, self.PREALLOCATE) or _UNRESERVED
            disk.fsync(fd)
            disk.fsync_dir(self.folder)
        except BaseException:
            disk.close(fd)
            _remove_quietly(path)
            raise
        self.close()
        self._fd, self.segment, self._size, self._allocated = fd, number, 0, allocated

    def _preallocate(self, fd: int, offset: int, length: int) -> int:
        """Reserve ``length`` bytes at ``offset``; how many were reserved. 0 where it fails:
        plain appends still work (their fdatasync then also records the file's new size),
        and the segment is not asked again (``_UNRESERVED``), so a full disk costs one try."""
        if not self._can_preallocate:
            return 0
        try:
            disk.fallocate(fd, offset, length)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                self._can_preallocate = False  # this file system cannot: stop asking
            else:
                log.warning(
                    "could not preallocate %d bytes of the commit log in %s (%s); appending without preallocation",
                    length,
                    self.folder,
                    exc,
                )
            return 0
        return length

    def append(self, record: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise OSError(errno.EBADF, f"the commit log in {self.folder} is closed")
        size = self._size
        if size + len(record) > self._allocated:
            got = self._preallocate(fd, self._allocated, max(self.PREALLOCATE, len(record)))
            self._allocated = self._allocated + got if got else _UNRESERVED
        try:
            self.write(fd, record, size)
            self.sync(fd)
        except BaseException:
            self._unwrite(fd, len(record))
            raise
        self._size = size + len(record)

    def _unwrite(self, fd: int, length: int) -> None:
        """Zero a failed record's bytes, so a later record never sits behind them."""
        try:
            self.write(fd, bytes(length), self._size)
        except OSError:
            pass  # nothing was written, or the next record overwrites it

    # The two steps, separate so a test can make either slow or failing.
    def write(self, fd: int, record: bytes, offset: int) -> None:
        n = disk.pwrite(fd, record, offset)
        if n < len(record):  # a short write: the rest, piece by piece
            view = memoryview(record)[n:]
            offset += n
            while view:
                n = disk.pwrite(fd, view, offset)
                view = view[n:]
                offset += n

    def sync(self, fd: int) -> None:
        disk.fdatasync(fd)

    @property
    def size(self) -> int:
        return self._size

    def close(self) -> None:
        if self._fd is not None:
            disk.close(self._fd)
            self._fd = None

    def drop_segments(self, paths: list[str]) -> None:
        """Delete segments whose records are all in durable checkpoints, durably."""
        for p in paths:
            try:
                disk.remove(p)
            except FileNotFoundError:
                pass
        disk.fsync_dir(self.folder)

    def records(self) -> Iterator[tuple[str, list[tuple[float, list[ObjectRecord]]], int, int]]:
        """(path, records, readable bytes, torn bytes) of each segment, oldest first;
        raises ``LogCorruptError`` at damage that is not a torn last append."""
        paths = self.segments()
        for i, path in enumerate(paths):
            recs, good, torn = read_records(path, last=i == len(paths) - 1)
            yield path, recs, good, torn


LOG_FOLDER = "commit log folder"
_SEGMENT = re.compile(r"[0-9]{8,}\.log")  # 00000001.log ...: f"{number:08d}.log"


def is_segment(name: str) -> bool:
    return _SEGMENT.fullmatch(name) is not None


def list_segments(folder: str) -> list[str]:
    """The segments in the log folder ``folder``, oldest first; [] when there is none.

    ``FolderEntryError`` naming the path when ``folder`` is a link or not a folder, or an entry
    named as a segment is anything but a regular file (a folder, a link: never followed, read or
    deleted). Other names are not the engine's: left alone (the start warns of them once,
    ``folder.check``). O(entries).
    """
    try:
        found = os.lstat(folder).st_mode
    except FileNotFoundError:
        return []
    if not stat.S_ISDIR(found):
        raise disk.refusal(folder, found, LOG_FOLDER)
    names = sorted((n for n in os.listdir(folder) if is_segment(n)), key=lambda n: int(n[:-4]))
    paths = [os.path.join(folder, n) for n in names]
    for path in paths:
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            raise disk.refusal(path, mode, "commit log segment")
    return paths


def _remove_quietly(path: str) -> None:
    try:
        disk.remove(path)
    except OSError:
        pass  # an empty segment left behind is read as an empty log
