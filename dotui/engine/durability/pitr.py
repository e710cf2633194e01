"""Point-in-time recovery of SQLite-backed objects: the history of every commit's pages, bookmarks,
and building the database as it was at one (docs/sqlite.md, "Point-in-time recovery").

Each commit's pages are what SQLite just appended to the object's ``-wal`` (``WalTail.take``). The
engine appends them, with the commit's time, to ``<id>.sqlite-history``: a record is
``<len:u32><crc32:u32><payload><len:u32>`` (the trailing length lets a wake read the last record
without reading the file: O(1)), its payload a ``_HEAD`` then ``(page number, page)`` pairs. A
record of kind ``BASE`` holds every page of the database (the first record of a history that did
not start with the object, and each restore). The state at seq ``s`` is the last ``BASE`` at or
before ``s`` with the pages of every record after it up to ``s`` written over it, cut to the
database size of ``s``. Full page images: replaying them is idempotent.

Durability: a record is written (not fsynced) at its commit; the history is fsynced before
SQLite may overwrite the WAL (a checkpoint round, a hibernation), and a wake appends whatever
committed frames of the WAL the history lacks (``catch_up``), so after a power cut the history
again holds every commit the database holds. Every record read back is checked (docs/trust.md):
its checksum, its fields, page numbers within the database; a torn last record is dropped.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from . import disk

SUFFIX = "-history"
RETENTION = 30 * 86400.0  # seconds of history kept by default (Cloudflare's 30 days)
MAX_BYTES = 256 << 20  # history kept at most, per object, by default (older records are folded into a base)
BASE, COMMIT = 1, 2

_FRAME = struct.Struct(">IIIIII")  # WAL frame header: page, db size after commit, salt1, salt2, cksum1, cksum2
_WALHEAD = struct.Struct(">IIIIIIII")  # magic, version, page size, checkpoint seq, salt1, salt2, cksum1, cksum2
_REC = struct.Struct("<II")
_HEAD = struct.Struct("<BQdIIIIQ")  # kind, seq, time, page size, db pages, salt1, salt2, WAL end offset
_PAGE = struct.Struct("<I")
MAX_RECORD = 1 << 31  # bytes of one record read back at most (a database of 512k 4 KiB pages)


class HistoryError(ValueError):
    """A history file holds what the engine does not write (damage): the message names the file and offset."""


@dataclass
class Record:
    kind: int
    seq: int
    time: float
    page_size: int
    db_pages: int
    salt: tuple[int, int]
    wal_end: int
    pages: list[tuple[int, bytes]]
    offset: int = 0  # where it starts in the file
    end: int = 0  # where the next one starts


def history_of(db_path: str) -> str:
    return db_path + SUFFIX


# ------------------------------------------------------------------ the WAL's new frames
class WalTail:
    """Where the history's copy of the ``-wal`` ends: ``take()`` reads the frames committed since."""

    def __init__(self, wal: str, salt: tuple[int, int] = (0, 0), end: int = 0):
        self.wal = wal
        self.salt = salt
        self.end = end

    def take(self, verify: bool = False) -> tuple[list[tuple[int, bytes]], int, int, tuple[int, int], int] | None:
        """(pages, database pages after the last commit, page size, WAL salt, WAL end) of the commits
        appended to the WAL since ``salt``/``end``; None if there are none. Nothing moves until
        ``advance`` (the caller's record is written). ``verify``: check each frame's checksum (after
        a crash, as SQLite's own recovery does); without it, the frames are the ones this process
        just wrote. O(bytes of the new frames)."""
        try:
            fd = disk.open(self.wal, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            head = disk.pread(fd, _WALHEAD.size, 0)
            if len(head) < _WALHEAD.size:
                return None
            magic, _v, page_size, _c, s1, s2, c1, c2 = _WALHEAD.unpack(head)
            if magic not in (0x377F0682, 0x377F0683) or page_size & (page_size - 1) or not 512 <= page_size <= 65536:
                return None
            salt, start = (s1, s2), self.end
            if salt != self.salt or start < _WALHEAD.size:
                start = _WALHEAD.size
            big = magic & 1
            sums = (c1, c2)
            pos, size = start, _FRAME.size + page_size
            new_end = start
            if verify and start > _WALHEAD.size:  # the chain goes on from the frame before
                prev = disk.pread(fd, _FRAME.size, start - size)
                if len(prev) == _FRAME.size:
                    sums = _FRAME.unpack(prev)[4:6]
            pages: list[tuple[int, bytes]] = []
            kept: list[tuple[int, bytes]] = []
            db_pages = 0
            while True:
                frame = disk.pread(fd, size, pos)
                if len(frame) < size:
                    break
                pgno, commit, f1, f2, k1, k2 = _FRAME.unpack_from(frame)
                if (f1, f2) != salt or pgno == 0:
                    break
                if verify:
                    sums = _checksum(frame[:8] + frame[_FRAME.size :], sums, big)
                    if sums != (k1, k2):
                        break
                pages.append((pgno, frame[_FRAME.size :]))
                pos += size
                if commit:
                    kept, db_pages, new_end = list(pages), commit, pos
            if not kept:
                return None
            return kept, db_pages, page_size, salt, new_end
        finally:
            disk.close(fd)

    def advance(self, salt: tuple[int, int], end: int) -> None:
        self.salt, self.end = salt, end


def _checksum(data: bytes, sums: tuple[int, int], big: int) -> tuple[int, int]:
    """SQLite's WAL checksum (its file format, "Checksum Algorithm") over ``data``, from ``sums``."""
    s0, s1 = sums
    words = struct.unpack((">" if big else "<") + f"{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


# ------------------------------------------------------------------ the history file
def encode(rec: Record) -> bytes:
    parts = [_HEAD.pack(rec.kind, rec.seq, rec.time, rec.page_size, rec.db_pages, *rec.salt, rec.wal_end)]
    for pgno, page in rec.pages:
        parts.append(_PAGE.pack(pgno))
        parts.append(page)
    payload = b"".join(parts)
    return _REC.pack(len(payload), zlib.crc32(payload)) + payload + _PAGE.pack(len(payload))


def _decode(path: str, offset: int, payload: bytes) -> Record:
    if len(payload) < _HEAD.size:
        raise HistoryError(f"{path} at byte {offset}: a record shorter than its header")
    kind, seq, t, page_size, db_pages, s1, s2, end = _HEAD.unpack_from(payload)
    if kind not in (BASE, COMMIT) or page_size & (page_size - 1) or not 512 <= page_size <= 65536 or t != t:
        raise HistoryError(
            f"{path} at byte {offset}: a record header the engine does not write (kind {kind}, page size {page_size})"
        )
    step = _PAGE.size + page_size
    body = len(payload) - _HEAD.size
    if body % step:
        raise HistoryError(
            f"{path} at byte {offset}: {body} bytes of pages is not a whole number of {page_size}-byte pages"
        )
    pages = []
    for at in range(_HEAD.size, len(payload), step):
        (pgno,) = _PAGE.unpack_from(payload, at)
        if not 1 <= pgno <= max(db_pages, 1) and kind == BASE:
            raise HistoryError(f"{path} at byte {offset}: page {pgno} outside a database of {db_pages} pages")
        pages.append((pgno, payload[at + _PAGE.size : at + step]))
    return Record(kind, seq, t, page_size, db_pages, (s1, s2), end, pages, offset)


@contextlib.contextmanager
def _opened(path: str) -> Iterator[tuple[int | None, int]]:
    """(descriptor, size) of a history file opened to read, or (None, 0) when there is none."""
    try:
        fd = disk.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield None, 0
        return
    try:
        yield fd, os.fstat(fd).st_size
    finally:
        disk.close(fd)


def read(path: str) -> Iterator[Record]:
    """Every record of the history, in order, each checked; a torn last record is left out;
    ``HistoryError`` for damage before the end. O(size of the file)."""
    with _opened(path) as (fd, size):
        pos = 0
        while fd is not None and pos < size:
            head = disk.pread(fd, _REC.size, pos)
            n, crc = _REC.unpack(head) if len(head) == _REC.size else (None, None)
            end = pos + _REC.size + (n or 0) + _PAGE.size
            if n is None or n > MAX_RECORD or end > size:
                return  # torn at the end: a kill mid-append (never needed: the WAL still holds it)
            if n < _HEAD.size and _zeros_to_end(fd, pos, size):
                return  # an append the file grew for and never received (a crash keeps the length, not the bytes)
            payload = disk.pread(fd, n, pos + _REC.size)
            if zlib.crc32(payload) != crc:
                if end == size:
                    return
                raise HistoryError(f"{path} at byte {pos}: a record fails its checksum and records follow it")
            rec = _decode(path, pos, payload)
            rec.end = end
            yield rec
            pos = end


def last(path: str) -> Record | None:
    """The last whole record, read from the end: O(its size). None for no history (or a torn end:
    then ``read`` finds the last whole one)."""
    try:
        fd = disk.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        if size < _REC.size + _PAGE.size:
            return None
        (n,) = _PAGE.unpack(disk.pread(fd, _PAGE.size, size - _PAGE.size))
        start = size - _PAGE.size - n - _REC.size
        if start < 0 or n > MAX_RECORD or n < _HEAD.size:
            return _scan_last(path)
        head = disk.pread(fd, _REC.size, start)
        length, crc = _REC.unpack(head)
        payload = disk.pread(fd, n, start + _REC.size)
        if length != n or zlib.crc32(payload) != crc:
            return _scan_last(path)
        rec = _decode(path, start, payload)
        rec.end = size
        return rec
    finally:
        disk.close(fd)


def _zeros_to_end(fd: int, pos: int, size: int) -> bool:
    """Whether the file holds only zero bytes from ``pos`` to its end. O(size - pos)."""
    while pos < size:
        chunk = disk.pread(fd, min(1 << 20, size - pos), pos)
        if not chunk or chunk.count(0) != len(chunk):
            return not chunk
        pos += len(chunk)
    return True


def _scan_last(path: str) -> Record | None:
    found = None
    for rec in read(path):
        found = rec
    return found


class HistoryFile:
    """The append end of one object's history (the loop's; each append is one write, no fsync)."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None
        self.unsynced = False

    def append(self, rec: Record) -> None:
        if self._fd is None:
            self._fd = disk.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            self._cut_torn_tail(self._fd)
        disk.write_all(self._fd, encode(rec))
        self.unsynced = True

    def _cut_torn_tail(self, fd: int) -> None:
        """A kill mid-append left a partial record in the file open as ``fd``: cut it off, so the next
        record follows a whole one. O(1) when the file ends in a whole record (read from its end); a scan
        otherwise."""
        size = os.fstat(fd).st_size
        rec = last(self.path)
        if size == 0 or (rec is not None and rec.end == size):
            return
        good = 0
        for rec in read(self.path):
            good = rec.end
        disk.ftruncate(fd, good)

    def sync(self) -> None:
        if self._fd is not None and self.unsynced:
            disk.fdatasync(self._fd)
            self.unsynced = False

    def close(self) -> None:
        if self._fd is not None:
            disk.close(self._fd)
            self._fd = None


def sync_path(path: str) -> None:
    """(Checkpoint thread) fsync a history file by path, if there is one."""
    try:
        fd = disk.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        disk.fdatasync(fd)
    finally:
        disk.close(fd)


def headers(path: str) -> Iterator[tuple[int, int, int, float, int]]:
    """(start, end, seq, time, kind) of each record, reading only their headers (not checked:
    ``read`` checks what is used). O(records)."""
    with _opened(path) as (fd, size):
        pos = 0
        while fd is not None and pos + _REC.size + _HEAD.size <= size:
            n, _crc = _REC.unpack(disk.pread(fd, _REC.size, pos))
            end = pos + _REC.size + n + _PAGE.size
            if end > size or n < _HEAD.size:
                return
            kind, seq, t = _HEAD.unpack(disk.pread(fd, _HEAD.size, pos + _REC.size))[:3]
            yield pos, end, seq, t, kind
            pos = end


def due_for_compaction(path: str, now: float, retention: float | None = None, max_bytes: int | None = None) -> bool:
    """Whether the history is past its size bound or holds records older than ``retention``
    (beyond its first; both default to the module's RETENTION and MAX_BYTES): O(1), a stat and
    one header."""
    retention = RETENTION if retention is None else retention
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    try:
        size = os.lstat(path).st_size
    except FileNotFoundError:
        return False
    if size > max_bytes:
        return True
    first = next(headers(path), None)
    return first is not None and first[3] < now - retention and first[1] < size


def compact(path: str, now: float, retention: float | None = None, max_bytes: int | None = None) -> int | None:
    """Fold the records older than ``retention`` (and, past ``max_bytes``, the oldest until the rest
    is under half of it) into one base record of the state they end at; the history is replaced
    atomically (temporary file, fsync, rename, fsync of the folder). The seq of the new first
    record, or None if nothing was folded. Bookmarks before it are no longer restorable.
    O(size of the history)."""
    retention = RETENTION if retention is None else retention
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    heads = list(headers(path))
    if len(heads) < 2:
        return None
    total = heads[-1][1]
    cut = 0  # index of the record the new base is the state of
    while cut < len(heads) - 1 and (heads[cut + 1][3] < now - retention or total - heads[cut][1] > max_bytes // 2):
        cut += 1
    if cut == 0:
        return None
    seq = heads[cut][2]
    built = image_at(path, seq)
    if built is None:
        return None
    image, t = built
    last_rec = next(r for r in read(path) if r.seq == seq)
    page_size = last_rec.page_size
    pages = [(n + 1, image[n * page_size : (n + 1) * page_size]) for n in range(len(image) // page_size)]
    base = encode(Record(BASE, seq, t, page_size, len(pages), last_rec.salt, last_rec.wal_end, pages))
    tmp, fd = disk.create_temporary(path)
    try:
        disk.write_all(fd, base)
        src = disk.open(path, os.O_RDONLY)
        try:
            at = heads[cut][1]
            while at < total:
                chunk = disk.pread(src, min(1 << 20, total - at), at)
                if not chunk:
                    break
                disk.write_all(fd, chunk)
                at += len(chunk)
        finally:
            disk.close(src)
        disk.fsync(fd)
    except BaseException:
        disk.close(fd)
        disk.remove(tmp)
        raise
    disk.close(fd)
    try:
        disk.replace(tmp, path)
    except BaseException:
        disk.remove(tmp)
        raise
    disk.fsync_dir(os.path.dirname(path) or ".")
    return seq


def image_at(path: str, seq: int) -> tuple[bytes, float] | None:
    """(the database file as it was at ``seq``, the seq's time in seconds since the epoch), or None if
    the history does not reach back to it. O(size of the history up to ``seq``)."""
    pages: dict[int, bytes] = {}
    found = None
    for rec in read(path):
        if rec.seq > seq:
            break
        if rec.kind == BASE:
            pages = {}
        pages.update(rec.pages)
        found = rec
    if found is None or found.seq != seq:
        return None
    size = found.page_size
    image = bytearray(size * found.db_pages)
    for pgno, page in pages.items():
        if pgno <= found.db_pages:
            image[(pgno - 1) * size : pgno * size] = page
    return bytes(image), found.time


# ------------------------------------------------------------------ bookmarks
def bookmark(seq: int, hx: str) -> str:
    """The bookmark of ``seq`` of the object ``hx``: lexically ordered by seq, naming its object."""
    return f"{seq:016x}-{hx[:16]}"


def parse_bookmark(text: object, hx: str) -> int:
    """The seq a bookmark of object ``hx`` names; ValueError saying what is wrong otherwise."""
    if not isinstance(text, str):
        raise TypeError(f"a bookmark is a str (from get_current_bookmark), not {type(text).__name__}")
    parts = text.split("-")
    if len(parts) != 2 or len(parts[0]) != 16 or len(parts[1]) != 16:
        raise ValueError(
            f"{text[:60]!r} is not a bookmark: bookmarks look like '000000000000002a-{hx[:16]}' "
            "(from get_current_bookmark or get_bookmark_for_time)"
        )
    try:
        seq = int(parts[0], 16)
    except ValueError:
        raise ValueError(f"{text[:60]!r} is not a bookmark: its first part is not hex digits") from None
    if parts[1] != hx[:16]:
        raise ValueError(
            f"bookmark {text!r} is of another object (#{parts[1]}…), not of this one (#{hx[:16]}…): "
            "a bookmark restores only the object it was taken from"
        )
    return seq
