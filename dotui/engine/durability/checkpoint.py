"""Each object's state at rest: one TinyDB database, rewritten atomically.

Schema of ``<data>/<Namespace>/<id hex>.json`` (readable with
``TinyDB(path, access_mode="r")``)::

    {"meta":    {"1": {"namespace": str, "id": hex, "name": str | null,
                       "alarm": epoch seconds | null, "keys": int, "bytes": int,
                       "saved_at": epoch seconds}},
     "storage": {"1": {"key": str, "value": <JSON>}, "2": ...}}   # in key order

TinyDB's own JSONStorage truncates and rewrites the file in place, so a kill in
the middle leaves half a file. ``CrashSafeStorage`` writes a temporary file,
fsyncs it and renames it over the old one: a reader sees the old file or the
new one, never a mix.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
from typing import Any

from tinydb.storages import Storage

from .. import values
from ..errors import BrokenObjectError, FolderEntryError
from ..object import storage
from . import disk, schema


def _load_syncfs():
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syncfs
        fn.argtypes = [ctypes.c_int]
        return fn
    except (OSError, AttributeError):
        return None


_syncfs = _load_syncfs()


def sync_files(paths: list[str], folder: str) -> None:
    """Make the contents of ``paths`` durable: one syncfs for many files, else one fsync each."""
    if _syncfs is not None and len(paths) > 4 and not disk.faults.active:
        fd = disk.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs(fd) == 0:
                return
        finally:
            disk.close(fd)
    for p in paths:
        fd = disk.open(p, os.O_RDONLY)
        try:
            disk.fsync(fd)
        finally:
            disk.close(fd)


def fsync_dir(path: str) -> None:
    disk.fsync_dir(path)


def write_temporary(path: str, data: bytes, sync: bool = True) -> str:
    """Write ``data`` to a new temporary file beside ``path`` (``disk.create_temporary``: exclusive,
    unguessable, 0600) and return its name; on failure no temporary file is left."""
    return _fill(*disk.create_temporary(path), data, sync)


def _fill(path: str, fd: int, data: bytes, sync: bool = False) -> str:
    """Write ``data`` into the new file ``path`` open at ``fd`` and close it; removed on failure."""
    try:
        disk.write_all(fd, data)
        if sync:
            disk.fsync(fd)
    except BaseException:
        disk.close(fd)
        _discard([path])
        raise
    disk.close(fd)
    return path


def _discard(paths) -> None:
    """Remove temporary files a failed write left (best effort: a later start removes the rest)."""
    for p in paths:
        try:
            disk.remove(p)
        except OSError:
            pass


def atomic_write(path: str, data: bytes, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data``: temporary file, fsync, rename, fsync of the folder.

    On failure the old file stands and no temporary file is left behind. The rename replaces
    whatever entry ``path`` is (a link is replaced, never written through).
    """
    tmp = write_temporary(path, data)
    try:
        disk.replace(tmp, path)
    except BaseException:
        _discard([tmp])
        raise
    if sync_dir:
        fsync_dir(os.path.dirname(path) or ".")


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
        sync_files(list(written.values()), root)
        while written:
            path, spare = next(iter(written.items()))
            spares.put_in_place(spare, path)
            del written[path]
    except BaseException:
        for spare in written.values():
            spares.give_back(spare)
        raise
    for folder in {os.path.dirname(p) for p in files} | spares.touched():
        fsync_dir(folder)


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
            return _fill(*_new_spare(folder), data)
        return write_temporary(path, data, sync=False)

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


def _broken(path: str, what: str) -> BrokenObjectError:
    return BrokenObjectError(
        f"cannot read {path}: {what}; the file was left as it is: restore it from a backup, "
        "or move it away to start this object from what the commit log holds"
    )


def read_doc(path: str) -> dict[str, Any] | None:
    """The JSON document of a checkpoint; None when there is no file.

    Raises ``BrokenObjectError`` naming the file when it exists but is not a JSON
    object (empty, torn, a folder, a link, a FIFO, unreadable for good), and ``OSError`` for an I/O
    error that may pass (the caller tries again later).
    """
    return _read(path)[0]


def _read(path: str) -> tuple[dict[str, Any] | None, bytes]:
    """(``read_doc``'s document, the file's bytes)."""
    try:
        raw = disk.read_file(path)
    except FileNotFoundError:
        return None, b""
    except FolderEntryError as exc:  # a link, a folder, a FIFO: never followed, read or waited on
        raise _broken(path, str(exc)) from None
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        raise _broken(path, exc.strerror or str(exc)) from None
    if not raw:
        raise _broken(path, "the file is empty (0 bytes), so it is not a checkpoint")
    try:
        doc = values.read(raw)
    except ValueError as exc:  # not UTF-8, not JSON, NaN, nested past any decoder
        raise _broken(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _broken(path, f"expected a JSON object of tables, found {type(doc).__name__}")
    return doc, raw


class CrashSafeStorage(Storage):
    """A TinyDB storage that never leaves a torn file.

    ``read()`` returns None for a missing file and raises ``BrokenObjectError``
    naming the file when it is not a JSON object; it never changes the file.
    ``write()`` replaces the file atomically.
    """

    def __init__(self, path: str, access_mode: str = "r+", sync_dir: bool = True):
        self.path = path
        self.access_mode = access_mode
        self.sync_dir = sync_dir

    def read(self) -> dict[str, dict[str, Any]] | None:
        return read_doc(self.path)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        if self.access_mode == "r":
            raise PermissionError(f"{self.path} was opened read-only")
        atomic_write(self.path, encode(data), self.sync_dir)

    def close(self) -> None:
        pass


def encode(data: dict[str, dict[str, Any]]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def load(path: str, key: tuple[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(storage values by key, meta) of a checkpoint; empty for a missing file.

    Anything but a whole dotui checkpoint (both tables, one meta document whose
    fields have their types, every row a document with a ``key`` and a ``value``
    that ``storage.put`` would accept) raises ``BrokenObjectError`` naming the
    file: a damaged file is never read as an empty object, nor read in part.
    ``key`` (namespace, id hex), the object the file is of: its meta must name that
    object (a file of another one, copied there, is not read as this one's), and its
    name be the one the id was made from. O(size of the file).
    """
    doc, raw = _read(path)
    if doc is None:
        return {}, {}
    metas, table = doc.get("meta"), doc.get("storage")
    if not isinstance(metas, dict) or not isinstance(table, dict):
        raise _broken(path, "it is JSON but not a dotui checkpoint (the \"meta\" and \"storage\" tables are missing)")
    meta = next(iter(metas.values()), None)
    if len(metas) != 1 or not isinstance(meta, dict):
        raise _broken(path, f"it is JSON but its \"meta\" table holds {len(metas)} rows, not one document")
    try:
        _check_meta(meta, key)
    except schema.Malformed as exc:
        raise _broken(path, f"its meta document is not a dotui checkpoint's: {exc}") from None
    data = {}
    for doc_id, row in table.items():
        if not isinstance(row, dict) or not isinstance(row.get("key"), str) or "value" not in row:
            raise _broken(path, f"storage row {values.shown(doc_id)} is not a {{\"key\": string, \"value\": ...}} "
                                f"document: {values.shown(row)}")
        data[row["key"]] = row["value"]
    try:
        # Only an escape can spell a lone surrogate in text that decoded as UTF-8.
        storage.check_entries(data, may_hold_surrogates=_SURROGATE_ESCAPE.search(raw) is not None)
    except (TypeError, ValueError) as exc:
        raise _broken(path, f"a storage row holds what storage.put refuses: {exc}") from None
    return data, meta


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _check_meta(meta: dict[str, Any], key: tuple[str, str] | None) -> None:
    """The fields of a checkpoint's meta document the engine reads back (schema.py), and that it
    is the meta of the object ``key``, when given."""
    if key is not None:
        for field, mine in zip(("namespace", "id"), key, strict=False):
            if meta.get(field, mine) != mine:
                raise schema.Malformed(f"its {field!r} is {values.shown(meta[field])}, not this file's "
                                       f"{mine!r} (a checkpoint of another object)")
    schema.name(meta.get("name"), *(key or (None, None)))
    schema.alarm(meta.get("alarm"))
    for field in ("keys", "bytes"):
        if field in meta:
            schema.count(meta[field], f"its {field!r}")
    schema.moment(meta.get("saved_at"), "its 'saved_at'", optional=True)


def build(data: dict[str, Any], meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The TinyDB tables of a checkpoint holding ``data`` (keys in key order)."""
    rows = {str(i): {"key": k, "value": data[k]} for i, k in enumerate(sorted(data), 1)}
    return {"meta": {"1": meta}, "storage": rows}
