"""The data folder's lock: one engine per folder, so one instance of each object, ever."""

from __future__ import annotations

import fcntl
import os

from . import disk
from .errors import DataFolderError, EngineLockedError


class DataLock:
    """An exclusive lock on a data folder, naming the pid of its holder."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, "lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        if os.path.isdir(self.path):
            raise DataFolderError(
                f"the lock file {self.path} is a folder; dotui keeps its lock there: "
                "move that folder out of the data folder, or pass another data folder (--data DIR)"
            )
        try:
            fd = disk.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataFolderError(
                f"cannot open the lock file {self.path}: {exc.strerror or exc}; "
                "check its permissions, or pass another data folder (--data DIR)"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            disk.close(fd)
            raise EngineLockedError(
                f"the data folder {os.path.dirname(self.path)} is in use by another dotui engine "
                f"(pid {holder}); stop that one, or pass another data folder (--data DIR)"
            ) from None
        try:
            disk.ftruncate(fd, 0)
            disk.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass  # the lock is held; only the pid shown to a second engine is missing
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            disk.close(self._fd)
            self._fd = None
