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

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

from . import disk
from .checkpoint import fsync_dir
from .errors import LogCorruptError

_HEADER = struct.Struct("<II")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class Delta:
    """Committed changes of one object not yet in its checkpoint."""

    cleared: bool = False
    puts: dict[str, Any] = field(default_factory=dict)  # key -> value, or DELETED
    alarm_changed: bool = False
    alarm: float | None = None

    def merge(self, other: "Delta") -> None:
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
    """One object's part of a record; ``changes.puts`` maps keys to JSON text or None."""
    puts = []
    dels = []
    for k, text in changes.puts.items():
        if text is None:
            dels.append(k)
        else:
            puts.append(f"{_dumps(k)}:{text}")
    return (
        f"[{_dumps(namespace)},\"{hex}\",{_dumps(name)},{'true' if changes.cleared else 'false'},"
        f"{{{','.join(puts)}}},{_dumps(dels)},{'true' if changes.alarm_changed else 'false'},"
        f"{_dumps(changes.alarm)},{keys},{nbytes}]"
    )


def encode_record(t: float, parts: list[str]) -> bytes:
    payload = f'{{"t":{t!r},"o":[{",".join(parts)}]}}'.encode()
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> tuple[float, list[ObjectRecord]]:
    doc = json.loads(payload)
    out = []
    for ns, hx, name, cleared, puts, dels, alarm_changed, alarm, keys, nbytes in doc["o"]:
        d = Delta(cleared=cleared, puts=dict(puts), alarm_changed=alarm_changed, alarm=alarm)
        for k in dels:
            d.puts[k] = DELETED
        out.append(ObjectRecord(ns, hx, name, d, keys, nbytes))
    return doc["t"], out


@dataclass
class SegmentScan:
    """What one segment holds: its readable records and, if any, where the damage starts."""

    path: str
    records: list[tuple[float, list[ObjectRecord]]]  # the readable prefix
    end: int  # bytes of the readable prefix
    bad_at: int | None = None  # where the first bad record starts; None: a clean end
    reason: str = ""
    tail: int = 0  # bytes from bad_at to the last non-zero byte (what dropping it drops)
    after: list[tuple[int, float, list[ObjectRecord]]] = field(default_factory=list)  # readable records after it


_MAGIC = b'{"t":'  # every payload starts so: how readable records after damage are found


def _record_at(raw: bytes, pos: int) -> tuple[int, tuple[float, list[ObjectRecord]] | None, str]:
    """(its length on disk, the decoded record or None, why not) of the record at ``pos``."""
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
    except (ValueError, KeyError, TypeError) as exc:
        return 0, None, f"a record that is not a commit record ({exc})"


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
            scan.reason = reason
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


def corrupt_error(scan: SegmentScan, last: bool) -> LogCorruptError:
    data = os.path.dirname(os.path.dirname(scan.path)) or "."
    if scan.after:
        why = f"{len(scan.after)} readable records follow it"
    else:
        why = "it is not in the last segment"
    return LogCorruptError(
        f"the commit log is damaged: segment {scan.path} at byte {scan.bad_at} holds {scan.reason}, "
        f"and {why}, so it is not a torn last append. Recovery stopped and changed no file. "
        f"Run `dotui recover --data {data}` to see what dropping the damaged part would lose, "
        f"then `dotui recover --data {data} --yes` to drop it.",
        scan.path, scan.bad_at,
    )


def read_records(path: str, *, last: bool = True) -> tuple[list[tuple[float, list[ObjectRecord]]], int, int]:
    """(records, bytes of the readable prefix, bytes of a torn tail dropped).

    Only a torn *last* record may be dropped: a bad record with readable records
    after it, or at the end of a segment that is not the ``last``, raises
    ``LogCorruptError`` naming the segment and the offset.
    """
    scan = scan_segment(path)
    if scan.bad_at is not None and (scan.after or not last):
        raise corrupt_error(scan, last)
    return scan.records, scan.end, scan.tail


class CommitLog:
    """Appends records to the current segment and makes them durable.

    ``append(record)`` returns once the record is on disk (fdatasync). Segments
    are preallocated, so a commit's fdatasync flushes data, not a new file size.
    On failure the record's bytes are zeroed again, so a later record never sits
    behind a torn one. Subclass to make it slow or failing in tests; a subclass
    whose ``sync`` may block for long sets ``inline_sync = False``.
    """

    PREALLOCATE = 4 << 20
    inline_sync = True  # the engine may fdatasync on its loop while syncs are fast

    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self._fd: int | None = None
        self._size = 0
        self._allocated = 0
        self.segment = 0

    def segments(self) -> list[str]:
        names = sorted(n for n in os.listdir(self.folder) if n.endswith(".log"))
        return [os.path.join(self.folder, n) for n in names]

    def open_new_segment(self) -> None:
        """Start a fresh segment after every existing one."""
        existing = self.segments()
        last = int(os.path.basename(existing[-1])[:-4]) if existing else 0
        self.close()
        self.segment = last + 1
        path = os.path.join(self.folder, f"{self.segment:08d}.log")
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        self._size = 0
        self._allocated = 0
        self._reserve(1)
        os.fsync(self._fd)
        fsync_dir(self.folder)

    def _reserve(self, need: int) -> None:
        if self._size + need <= self._allocated:
            return
        grow = max(self.PREALLOCATE, need)
        try:
            os.posix_fallocate(self._fd, self._allocated, grow)
        except OSError:
            return  # no preallocation here: plain appends still work
        self._allocated += grow

    def append(self, record: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise OSError("the commit log is closed")
        self._reserve(len(record))
        try:
            self.write(fd, record, self._size)
            self.sync(fd)
        except BaseException:
            try:
                os.pwrite(fd, bytes(len(record)), self._size)
            except OSError:
                pass
            raise
        self._size += len(record)

    # The two steps, separate so a test can make either slow or failing.
    def write(self, fd: int, record: bytes, offset: int) -> None:
        view = memoryview(record)
        while view:
            n = os.pwrite(fd, view, offset)
            view = view[n:]
            offset += n

    def sync(self, fd: int) -> None:
        os.fdatasync(fd)

    @property
    def size(self) -> int:
        return self._size

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def records(self) -> Iterator[tuple[str, list[tuple[float, list[ObjectRecord]]], int, int]]:
        """(path, records, readable bytes, torn bytes) of each segment, oldest first;
        raises ``LogCorruptError`` at damage that is not a torn last append."""
        paths = self.segments()
        for i, path in enumerate(paths):
            recs, good, torn = read_records(path, last=i == len(paths) - 1)
            yield path, recs, good, torn
