"""Every disk operation the engine makes goes through here, so a test can make any of them fail.

The engine's durability promise (an answer means its writes are on disk) is only
as good as its failure paths, and a failure path that never runs is a guess. This
module is the seam SQLite's test harness has around its VFS: each operation first
asks ``faults`` whether it should fail, then does the real thing.

    from dotui.engine import disk
    disk.faults.inject("mkdir", errno.ENOSPC)                 # the next mkdir fails, once
    disk.faults.inject("fdatasync", errno.EIO, times=None)    # every fdatasync fails until cleared
    disk.faults.inject("rename", match="Counter", skip=2)     # the third rename of a Counter file
    disk.faults.clear()

Operations: ``open``, ``read``, ``write``, ``fsync`` (fsync and fdatasync of files and
folders), ``rename``, ``mkdir``, ``remove``, ``fallocate``. ``match`` is a substring of
the path the operation is about (for an operation on a file descriptor, the path it
was opened with).
"""

from __future__ import annotations

import builtins
import errno as _errno
import os
import threading
from dataclasses import dataclass, field

OPS = ("open", "read", "write", "fsync", "rename", "mkdir", "remove", "fallocate")


@dataclass
class Fault:
    """One planned failure: ``op`` on a path containing ``match`` raises ``OSError(err)``."""

    op: str
    err: int = _errno.EIO
    times: int | None = 1  # None: every time, until cleared
    match: str | None = None
    skip: int = 0  # let this many matching operations through first
    hits: int = field(default=0, init=False)  # how many times it has fired

    def wants(self, op: str, path: str) -> bool:
        if op != self.op or (self.match is not None and self.match not in path):
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        return self.times is None or self.hits < self.times


class FaultPlan:
    """The failures planned for the disk; empty (and free) unless a test fills it."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.active = False  # checked first, so the normal path costs one attribute read

    def inject(self, op: str, err: int = _errno.EIO, *, times: int | None = 1,
               match: str | None = None, skip: int = 0) -> Fault:
        if op not in OPS:
            raise ValueError(f"unknown disk operation {op!r}; one of {', '.join(OPS)}")
        fault = Fault(op, err, times, match, skip)
        with self._lock:
            self._faults.append(fault)
            self.active = True
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.active = False

    def check(self, op: str, path: str) -> None:
        """Raise the planned ``OSError`` if ``op`` on ``path`` is meant to fail now."""
        with self._lock:
            for fault in self._faults:
                if fault.wants(op, path):
                    fault.hits += 1
                    raise OSError(fault.err, f"{os.strerror(fault.err)} (injected {op} fault)", path)


faults = FaultPlan()
_paths: dict[int, str] = {}  # fd -> the path it was opened with, for matching faults


def _check(op: str, path: str) -> None:
    if faults.active:
        faults.check(op, path)


def _fd_path(fd: int) -> str:
    return _paths.get(fd, "")


def open(path: str, flags: int, mode: int = 0o644) -> int:  # noqa: A001 - os.open's name
    _check("open", path)
    fd = os.open(path, flags, mode)
    _paths[fd] = path
    return fd


def close(fd: int) -> None:
    _paths.pop(fd, None)
    os.close(fd)


def read_file(path: str) -> bytes:
    _check("open", path)
    with builtins.open(path, "rb") as f:
        _check("read", path)
        return f.read()


def pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
    if faults.active:  # every commit comes here: the path only when a fault is planned
        faults.check("write", _fd_path(fd))
    return os.pwrite(fd, data, offset)


def write(fd: int, data: bytes | memoryview) -> int:
    _check("write", _fd_path(fd))
    return os.write(fd, data)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[write(fd, view):]


def fdatasync(fd: int) -> None:
    if faults.active:
        faults.check("fsync", _fd_path(fd))
    os.fdatasync(fd)


def fsync(fd: int) -> None:
    _check("fsync", _fd_path(fd))
    os.fsync(fd)


def fallocate(fd: int, offset: int, length: int) -> None:
    _check("fallocate", _fd_path(fd))
    os.posix_fallocate(fd, offset, length)


def ftruncate(fd: int, size: int) -> None:
    _check("write", _fd_path(fd))
    os.ftruncate(fd, size)


def truncate(path: str, size: int) -> None:
    _check("write", path)
    os.truncate(path, size)


def pread(fd: int, n: int, offset: int) -> bytes:
    _check("read", _fd_path(fd))
    return os.pread(fd, n, offset)


def replace(src: str, dst: str) -> None:
    _check("rename", dst)
    os.replace(src, dst)


def makedirs(path: str) -> None:
    if os.path.isdir(path):
        return
    _check("mkdir", path)
    os.makedirs(path, exist_ok=True)


def remove(path: str) -> None:
    _check("remove", path)
    os.remove(path)


def fsync_dir(path: str) -> None:
    fd = open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fsync(fd)
    finally:
        close(fd)

