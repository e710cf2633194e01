"""The data folder's lock: one engine per folder, so one instance of each object, ever.

The lock is an ``flock`` on the data folder itself (a descriptor of the folder, held for the
engine's life), not on a file in it: a file can be deleted while the engine runs (``lock``
holds a pid, which invites a clean-up of "stale pid files"), and a second engine would then
lock a new file of the same name and open the same objects. The folder cannot be deleted
while it holds files, nor replaced under an open descriptor. ``lock`` is kept as information
only: the pid a second engine names in its error. flock is per open file description, so a
second engine in the same process is refused as well. tests/test_hostile_fs.py deletes
``lock`` under a running engine in another process.
"""

from __future__ import annotations

import errno
import fcntl
import os

from ..errors import DataFolderError, EngineLockedError, FolderEntryError
from . import disk


class DataLock:
    """An exclusive lock on a data folder, naming the pid of its holder."""

    def __init__(self, folder: str):
        self.folder = folder
        self.path = os.path.join(folder, "lock")  # the holder's pid, for the error a second engine shows
        self._fd: int | None = None

    def acquire(self) -> None:
        """Lock the folder, or raise ``EngineLockedError`` naming the holder's pid;
        ``DataFolderError`` if the folder cannot be locked or ``lock`` is not a file."""
        try:
            fd = disk.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        except FolderEntryError:
            raise
        except OSError as exc:
            raise DataFolderError(
                f"cannot open the data folder {self.folder}: {exc.strerror or exc}; "
                "check its permissions, or pass another data folder (--data DIR)"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            disk.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise DataFolderError(
                    f"cannot lock the data folder {self.folder}: {exc.strerror or exc}; dotui needs a file "
                    "system where a folder can be locked (flock): pass a folder on a local disk (--data DIR)"
                ) from None
            raise EngineLockedError(
                f"the data folder {self.folder} is in use by another dotui engine "
                f"(pid {self._holder()}); stop that one, or pass another data folder (--data DIR)"
            ) from None
        self._fd = fd
        try:
            self._write_pid()
        except FolderEntryError:
            self.release()
            raise

    def _write_pid(self) -> None:
        try:
            fd = disk.open(self.path, os.O_RDWR | os.O_CREAT)
        except FolderEntryError:
            raise disk.refusal(self.path, os.lstat(self.path).st_mode, "lock file") from None
        except OSError:
            return  # the folder is locked; only the pid shown to a second engine is missing
        try:
            disk.ftruncate(fd, 0)
            disk.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass
        finally:
            disk.close(fd)

    def _holder(self) -> str:
        try:
            return disk.read_file(self.path)[:32].decode(errors="replace").strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            disk.close(self._fd)
            self._fd = None
