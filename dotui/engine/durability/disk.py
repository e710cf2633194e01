"""Every disk operation the engine makes goes through here, so a test can make any of them fail.

The engine's durability promise (an answer means its writes are on disk) is only
as good as its failure paths, and a failure path that never runs is a guess. This
module is the seam SQLite's test harness has around its VFS: each operation first
asks ``faults`` whether it should fail, then does the real thing.

    from dotui.engine.durability import disk
    disk.faults.inject("mkdir", errno.ENOSPC)                 # the next mkdir fails, once
    disk.faults.inject("fdatasync", errno.EIO, times=None)    # every fdatasync fails until cleared
    disk.faults.inject("rename", match="Counter", skip=2)     # the third rename of a Counter file
    disk.faults.clear()

Operations: ``open``, ``read``, ``write``, ``fsync`` (fsync and fdatasync of files and
folders), ``rename``, ``mkdir``, ``remove``, ``fallocate``. ``match`` is a substring of
the path the operation is about (for an operation on a file descriptor, the path it
was opened with).

The data folder is the engine's own, and this seam is where that holds (docs/trust.md,
"The folder itself"): every ``open`` refuses a symbolic link (``O_NOFOLLOW``) and anything
but a regular file (or a folder, asked with ``O_DIRECTORY``), without waiting on a FIFO;
``makedirs`` refuses a link or a file where a folder must be; temporaries are created
exclusively under a name no one can guess (``create_temporary``); files are made 0600 and
folders 0700, whatever the umask. A refusal is a ``FolderEntryError`` naming the path and
what to do. Each check costs one ``fstat`` or ``lstat``: O(1) per operation.
"""

from __future__ import annotations

import builtins
import errno as _errno
import os
import secrets
import stat
import threading
from dataclasses import dataclass, field

from ..errors import FolderEntryError

OPS = ("open", "read", "write", "fsync", "rename", "mkdir", "remove", "fallocate")
FILE_MODE = 0o600  # every file the engine makes: its owner's only
DIR_MODE = 0o700  # and every folder
_SAFE = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # O_NONBLOCK: a FIFO is refused, not waited on


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

    def inject(
        self, op: str, err: int = _errno.EIO, *, times: int | None = 1, match: str | None = None, skip: int = 0
    ) -> Fault:
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


def kind(mode: int) -> str:
    """What an ``st_mode`` is, in words: "a symbolic link", "a folder", "a FIFO", ..."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a file"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a device"


def refusal(path: str, mode: int, want: str | None = "file") -> FolderEntryError:
    """The error for ``path``, found to be ``mode`` where the engine keeps ``want`` (its words; None:
    nothing in particular)."""
    if stat.S_ISLNK(mode):
        where = f", not the {want} dotui keeps there" if want else ""
        return FolderEntryError(
            f"{path} is a symbolic link{where}; dotui follows no links in its data folder, so that nothing "
            "outside it is read or written: replace the link with what it points to, or remove it",
            path,
        )
    return FolderEntryError(
        f"{path} is {kind(mode)}, not the {want} dotui keeps there: move it out of the data folder", path
    )


def _refuse_or_raise(path: str, exc: OSError, want: str = "file") -> None:
    """Turn an ``open`` that failed because of what ``path`` is into its refusal; else re-raise."""
    if exc.errno in (_errno.ELOOP, _errno.EISDIR, _errno.ENXIO, _errno.ENOTDIR, _errno.EMLINK):
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            raise exc from None
        if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) if want == "folder" else stat.S_ISREG(mode)):
            raise refusal(path, mode, want) from None
    raise exc


_PARENT = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_parent(path: str) -> tuple[int, str]:
    """(descriptor of ``path``'s folder, opened without following a link, and the last name):
    what the open is made relative to, so neither the entry nor its folder can be a link."""
    parent, name = os.path.split(path)
    parent = parent or "."
    try:
        return os.open(parent, _PARENT), name
    except OSError as exc:
        _refuse_or_raise(parent, exc, "folder")
        raise


def open(path: str, flags: int, mode: int = FILE_MODE) -> int:  # os.open's name
    """``os.open`` that follows no link at ``path`` or at its folder (it opens the folder with
    ``O_NOFOLLOW``, then the entry in it) and opens nothing but a regular file (or, with
    ``O_DIRECTORY``, a folder); ``FolderEntryError`` otherwise. A file it creates is ``mode``.
    Two opens, one fstat: O(1)."""
    _check("open", path)
    parent, name = _open_parent(path)
    try:
        fd = os.open(name, flags | _SAFE, mode, dir_fd=parent)
    except OSError as exc:
        _refuse_or_raise(path, exc, "folder" if flags & os.O_DIRECTORY else "file")
        raise
    finally:
        os.close(parent)
    if not flags & (os.O_EXCL | os.O_DIRECTORY):  # a new file or a folder is what was asked
        found = os.fstat(fd).st_mode
        if not stat.S_ISREG(found):
            os.close(fd)
            raise refusal(path, found)
    _paths[fd] = path
    return fd


def create_temporary(path: str) -> tuple[str, int]:
    """(name, descriptor open for writing) of a new file beside ``path``, made for this call only:
    created exclusively (``O_EXCL``: never an entry that was there, a planted link included) under
    an unguessable name, ``<path>.<16 hex digits>.tmp``."""
    tmp = f"{path}.{secrets.token_hex(8)}.tmp"
    return tmp, open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)


def is_temporary(name: str) -> bool:
    """Whether a file name is one ``create_temporary`` gives (a crash may leave it behind)."""
    return name.endswith(".tmp")


def close(fd: int) -> None:
    _paths.pop(fd, None)
    os.close(fd)


def read_file(path: str, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (``open``'s refusals apply); with ``limit``, at most
    ``limit + 1`` of them, so a caller can tell a file past its bound without reading all of it."""
    fd = open(path, os.O_RDONLY)
    try:
        _check("read", path)
        with builtins.open(fd, "rb", closefd=False) as f:
            return f.read() if limit is None else f.read(limit + 1)
    finally:
        close(fd)


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
        view = view[write(fd, view) :]


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
    fd = open(path, os.O_WRONLY)
    try:
        ftruncate(fd, size)
    finally:
        close(fd)


def pread(fd: int, n: int, offset: int) -> bytes:
    _check("read", _fd_path(fd))
    return os.pread(fd, n, offset)


def replace(src: str, dst: str) -> None:
    _check("rename", dst)
    os.replace(src, dst)


def _load_renameat2():
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        return fn, ctypes.get_errno
    except (OSError, AttributeError):
        return None, None


_renameat2, _errno_of_call = _load_renameat2()
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def can_exchange() -> bool:
    """Whether ``exchange`` may work here (Linux's renameat2; a file system may still refuse it)."""
    return _renameat2 is not None


def exchange(a: str, b: str) -> None:
    """Swap the entries ``a`` and ``b`` atomically (``renameat2(RENAME_EXCHANGE)``): each name then
    names the other's file, and no file is freed. The fault seam's op is ``rename`` (it is one).
    ``OSError`` where the system or the file system cannot (ENOSYS, EINVAL: the caller replaces
    instead), and ENOENT when either is missing. O(1)."""
    _check("rename", b)
    if _renameat2 is None:
        raise OSError(_errno.ENOSYS, "renameat2 is not available", b)
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = _errno_of_call()
        raise OSError(err, os.strerror(err), b)


def makedirs(path: str, want: str = "folder") -> None:
    """Make the folder ``path`` (0700) unless it is one; ``FolderEntryError`` if a link or anything
    but a folder is there (``want`` names what the engine keeps there)."""
    try:
        found = os.lstat(path).st_mode
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISDIR(found):
            return
        raise refusal(path, found, want)
    _check("mkdir", path)
    os.makedirs(path, DIR_MODE, exist_ok=True)
    os.chmod(path, DIR_MODE)  # the umask may have taken the owner's bits too


def remove(path: str) -> None:
    _check("remove", path)
    os.remove(path)


def fsync_dir(path: str) -> None:
    fd = open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fsync(fd)
    finally:
        close(fd)
