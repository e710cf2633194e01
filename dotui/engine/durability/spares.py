"""Checkpoints written into recycled files: a round's files made durable together, then swapped in.

Replacing a checkpoint by renaming a new file over it frees the old file: on ext4 that costs
1.5-3 ms (bench/README.md, "Checkpoints"), most of a round. ``Spares`` keeps old checkpoints'
files in ``<namespace folder>/spare/`` and writes the next checkpoints into them; README.md,
"On disk", gives the layout.
"""

from __future__ import annotations

import errno
import os
import secrets

from ..errors import FolderEntryError
from . import checkpoint, disk


def replace_many(files: dict[str, bytes], root: str, spares: Spares | None = None) -> None:
    """Replace many files atomically each: write every new body, make them durable
    together, put each in place, then make that durable.

    With ``spares`` (the round's recycled files), a body is written into a spare file
    and swapped with the checkpoint (``Spares.put_in_place``): no file is created or
    freed per object. Without, each is a new temporary renamed over the old file.

    A kill at any point leaves each file whole: old or new. On failure no
    temporary file is left behind (a spare goes back to its pool); some files may be
    new already, which is why a caller treats every one of them as not (yet) durable.
    O(files + bytes), two syncs.
    """
    if spares is None:
        spares = Spares(keep=0)
    written: dict[str, str] = {}
    try:
        for path, data in files.items():
            written[path] = spares.write(path, data)
        checkpoint.sync_files(list(written.values()), root)
        while written:
            path, spare = next(iter(written.items()))
            spares.put_in_place(spare, path)
            del written[path]
    except BaseException:
        for spare in written.values():
            spares.give_back(spare)
        raise
    for folder in {os.path.dirname(p) for p in files} | spares.touched():
        disk.fsync_dir(folder)


SPARE_FOLDER = "spare"
SPARE_SUFFIX = ".spare"


def _spare_name(folder: str) -> str:
    return os.path.join(folder, f"{secrets.token_hex(8)}{SPARE_SUFFIX}")


def _new_spare(folder: str) -> tuple[str, int]:
    """(name, descriptor) of a new spare file, created exclusively (never a planted entry)."""
    spare = _spare_name(folder)
    return spare, disk.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL)


class Spares:
    """Recycled files a checkpoint is written into, kept in ``<namespace folder>/spare/``.

    Replacing a checkpoint by renaming a new file over it frees the old file: on ext4
    that rename costs 1.5-3 ms (bench/README.md, "Checkpoints"), most of a round. Here a
    body is written into a spare file (an old checkpoint's, already allocated), and the
    spare is swapped with the checkpoint in one ``disk.exchange``: the checkpoint's name
    now names the new body, the spare's the old one, which is the next spare. A kill
    leaves each checkpoint old or new, as a rename would; a spare's contents are never
    read (a torn one is harmless). Where the system cannot swap, the spare is renamed
    over the checkpoint instead (the old file freed, as before).

    At most ``keep`` spares a folder, each at most ``MAX_BYTES`` (a bigger one is
    removed): the pool is a round's worth, not a file per object. Thread: the
    checkpoint thread's alone. Memory O(keep) paths a folder.
    """

    MAX_BYTES = 16 << 10

    def __init__(self, keep: int = 2048):
        self.keep = keep
        self._pools: dict[str, list[str]] = {}  # spare folder -> its free spares
        self._touched: set[str] = set()  # spare folders changed since touched() was last asked
        self._exchange = disk.can_exchange()
        self.exchanges = 0  # checkpoints swapped in (none where the system cannot: renamed instead)

    def _pool(self, folder: str) -> list[str]:
        pool = self._pools.get(folder)
        if pool is None:
            try:
                names = [n for n in os.listdir(folder) if n.endswith(SPARE_SUFFIX)] if self.keep else []
            except (FileNotFoundError, NotADirectoryError):
                names = []
            pool = self._pools[folder] = [os.path.join(folder, n) for n in sorted(names)]
        return pool

    def write(self, path: str, data: bytes) -> str:
        """The path of a file in ``path``'s spare folder now holding ``data`` (not yet synced):
        a spare rewritten in place, or a new file when there is none."""
        folder = os.path.join(os.path.dirname(path), SPARE_FOLDER)
        pool = self._pool(folder)
        while pool and self.keep:
            spare = pool.pop()
            try:
                fd = disk.open(spare, os.O_WRONLY)
            except (FileNotFoundError, FolderEntryError):  # gone, or not a regular file: not a spare
                continue
            try:
                disk.write_all(fd, data)
                disk.ftruncate(fd, len(data))
            except BaseException:
                pool.append(spare)  # its contents do not matter: still a spare
                raise
            finally:
                disk.close(fd)
            return spare
        if self.keep:
            disk.makedirs(folder, "folder of spare checkpoint files")
            self._touched.add(folder)
            return checkpoint.write_new(*_new_spare(folder), data)
        return checkpoint.write_temporary(path, data, sync=False)

    def put_in_place(self, spare: str, path: str) -> None:
        """Make ``spare`` (from ``write``, synced) the checkpoint ``path``; the old checkpoint, if
        any, becomes a spare."""
        if self._exchange and self.keep:
            try:
                disk.exchange(spare, path)
            except OSError as exc:
                if exc.errno in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EXDEV):
                    self._exchange = False  # this system or file system cannot: rename from now on
                elif exc.errno != errno.ENOENT:  # ENOENT: a new object, nothing to swap with
                    raise
            else:
                self.exchanges += 1
                self.give_back(spare)
                return
        disk.replace(spare, path)
        self._touched.add(os.path.dirname(spare))

    def retire(self, path: str) -> None:
        """Remove the checkpoint ``path`` (an object now empty): its file becomes a spare."""
        folder = os.path.join(os.path.dirname(path), SPARE_FOLDER)
        pool = self._pool(folder)
        if len(pool) < self.keep and os.lstat(path).st_size <= self.MAX_BYTES:
            disk.makedirs(folder, "folder of spare checkpoint files")
            spare = _spare_name(folder)
            disk.replace(path, spare)
            pool.append(spare)
            self._touched.add(folder)
        else:
            disk.remove(path)

    def give_back(self, spare: str) -> None:
        """``spare`` is free again: kept for the next write, or removed when the pool is full
        or it is big (best effort: a spare left over is only a file in the spare folder)."""
        folder = os.path.dirname(spare)
        pool = self._pool(folder)
        try:
            if len(pool) < self.keep and os.lstat(spare).st_size <= self.MAX_BYTES:
                pool.append(spare)
                return
            disk.remove(spare)
            self._touched.add(folder)
        except OSError:
            pass

    def touched(self) -> set[str]:
        """The spare folders whose entries changed since the last ask (their changes to make durable)."""
        touched, self._touched = self._touched, set()
        return touched
