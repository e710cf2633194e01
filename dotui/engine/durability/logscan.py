"""Reading a commit log segment back, and telling a torn last append from damage.

A record (``logformat.py``) that is cut short or fails its checksum at the very end of the last
segment, with nothing readable after it, is a kill in the middle of an append: it was never
acknowledged, so it is dropped. A bad record anywhere else (readable records after it, or in a
segment that is not the last) is damage: reading stops with ``LogCorruptError`` naming the segment
and the byte offset, and ``dotui recover`` is the explicit way out (see README.md, "On disk";
``repair.py``). O(size of the segment) a read.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field

from ..errors import LogCorruptError
from . import disk
from .logformat import HEADER, ObjectRecord, decode_payload


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
    length, crc = HEADER.unpack_from(raw, pos)
    if length == 0:
        return 0, None, "zeroed bytes followed by data"
    payload = raw[pos + HEADER.size : pos + HEADER.size + length]
    if len(payload) < length:
        return 0, None, f"a record of {length} bytes cut short by the end of the file"
    if zlib.crc32(payload) != crc:
        return 0, None, "a record whose checksum does not match"
    try:
        return HEADER.size + length, decode_payload(payload), ""
    except ValueError as exc:  # schema.Malformed, bad JSON or UTF-8: what the engine never writes
        return -1, None, f"a record whose checksum matches but which is not a commit record: {exc}"


def _readable_after(raw: bytes, start: int) -> list[tuple[int, float, list[ObjectRecord]]]:
    """Every readable record starting after ``start`` (found by their payload's first bytes)."""
    out = []
    s = raw.find(_MAGIC, start + HEADER.size)
    while s != -1:
        size, rec, _ = _record_at(raw, s - HEADER.size)
        if rec is not None:
            out.append((s - HEADER.size, *rec))
            s = raw.find(_MAGIC, s - HEADER.size + size + HEADER.size)
        else:
            s = raw.find(_MAGIC, s + 1)
    return out


def scan_segment(path: str) -> SegmentScan:
    """Read a segment without judging it: the readable prefix, and what follows a bad record."""
    raw = disk.read_file(path)
    scan = SegmentScan(path, [], 0)
    pos = 0
    while pos + HEADER.size <= len(raw):
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
