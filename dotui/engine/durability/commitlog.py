"""The engine-wide commit log: one append and one fdatasync per group commit.

Its records are ``logformat.py``'s (``<length:u32><crc32:u32><payload>``, the payload JSON
carrying only the keys a commit changed). The log is a series of segments
(``log/00000001.log`` …): the engine starts a new segment, writes the objects
the older segments touched into their checkpoints, then deletes each older
segment whose every record is in a durable checkpoint.

Reading a segment back (``read_records``, ``logscan.py``) tells a torn last append
from damage: a torn last record was never acknowledged and is dropped; damage stops
the start with ``LogCorruptError`` (see README.md, "On disk").
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Iterator

from . import disk
from .logformat import ObjectRecord
from .logscan import read_records

log = logging.getLogger("dotui")
_UNRESERVED = 1 << 62  # "allocated" of a segment that could not be preallocated: never try again


class CommitLog:
    """Appends records to the current segment and makes them durable.

    ``append(record)`` returns once the record is on disk (fdatasync). Segments
    are preallocated, so a commit's fdatasync flushes data, not a new file size.
    ``append(record, sync=False)`` only writes it: for a record whose every field
    can be read again from elsewhere (a SQLite-backed object's counts: its database
    is made durable instead, docs/sqlite.md "One fdatasync a commit"). The next
    synced append makes it durable with itself (an fdatasync covers every earlier
    write to the file); so do a rotation and ``close`` (``sync_pending``), so only
    the last segment's tail can ever miss a record, which reading already allows.
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
        self._unsynced = False  # a record was appended with sync=False since the last fdatasync
        self.segment = 0

    def segments(self) -> list[str]:
        return list_segments(self.folder)

    def open_new_segment(self) -> None:
        """Start a fresh segment after every existing one, and append to it from now on.

        Raises ``OSError`` if the new segment cannot be made durable (open, fsync of
        it or of the folder); the current segment then stays open and in use, and
        the half-made file is removed.
        """
        self.sync_pending()  # a later segment never holds records while this one's tail may be lost
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

    def append(self, record: bytes, sync: bool = True) -> None:
        """Write ``record`` after the last one and, unless ``sync`` is False, fdatasync it (and
        every record written before it). O(record) bytes written, one fdatasync or none."""
        fd = self._fd
        if fd is None:
            raise OSError(errno.EBADF, f"the commit log in {self.folder} is closed")
        size = self._size
        if size + len(record) > self._allocated:
            got = self._preallocate(fd, self._allocated, max(self.PREALLOCATE, len(record)))
            self._allocated = self._allocated + got if got else _UNRESERVED
        try:
            self.write(fd, record, size)
            if sync:
                self.sync(fd)
        except BaseException:
            self._unwrite(fd, len(record))
            raise
        self._size = size + len(record)
        self._unsynced = not sync

    def sync_pending(self) -> None:
        """fdatasync the records appended with ``sync=False`` since the last fdatasync, if any;
        ``OSError`` if it fails (they stay pending). O(1) when there are none."""
        if self._unsynced and self._fd is not None:
            self.sync(self._fd)
            self._unsynced = False

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
            try:
                self.sync_pending()
            except OSError as exc:  # only counts the databases hold too (append): a warning
                log.warning("could not fdatasync the last records of the commit log in %s (%s)", self.folder, exc)
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
