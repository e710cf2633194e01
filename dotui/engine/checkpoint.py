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

import json
import os
from typing import Any

from tinydb.storages import Storage

from .errors import BrokenObjectError


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
    if _syncfs is not None and len(paths) > 4:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: str, data: bytes, sync: bool = True) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data``: temporary file, fsync, rename, fsync of the folder."""
    tmp = f"{path}.tmp"
    write_file(tmp, data)
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(os.path.dirname(path) or ".")


def replace_many(files: dict[str, bytes], root: str) -> None:
    """Replace many files atomically each: write every temporary file, make them
    durable together, rename them all, then make the renames durable.

    A kill at any point leaves each file whole: old or new.
    """
    tmps = []
    for path, data in files.items():
        tmp = f"{path}.tmp"
        write_file(tmp, data, sync=False)
        tmps.append(tmp)
    sync_files(tmps, root)
    folders = set()
    for path in files:
        os.replace(f"{path}.tmp", path)
        folders.add(os.path.dirname(path))
    for folder in folders:
        fsync_dir(folder)


class CrashSafeStorage(Storage):
    """A TinyDB storage that never leaves a torn file.

    ``read()`` returns None for a missing or empty file and raises
    ``BrokenObjectError`` naming the file when it is not valid JSON; it never
    changes the file. ``write()`` replaces the file atomically.
    """

    def __init__(self, path: str, access_mode: str = "r+", sync_dir: bool = True):
        self.path = path
        self.access_mode = access_mode
        self.sync_dir = sync_dir

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        if not raw:
            return None
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BrokenObjectError(
                f"cannot read {self.path}: not valid JSON ({exc}); the file was left as it is — "
                "restore it from a backup or move it away to start this object empty"
            ) from None
        if not isinstance(doc, dict):
            raise BrokenObjectError(
                f"cannot read {self.path}: expected a JSON object of tables, found {type(doc).__name__}; "
                "the file was left as it is"
            )
        return doc

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        if self.access_mode == "r":
            raise PermissionError(f"{self.path} was opened read-only")
        atomic_write(self.path, encode(data), self.sync_dir)

    def close(self) -> None:
        pass


def encode(data: dict[str, dict[str, Any]]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def load(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(storage values by key, meta) of a checkpoint; empty for a missing file."""
    doc = CrashSafeStorage(path, "r").read()
    if doc is None:
        return {}, {}
    try:
        table = doc.get("storage") or {}
        data = {row["key"]: row["value"] for row in table.values()}
        meta = next(iter((doc.get("meta") or {}).values()), {})
    except (AttributeError, KeyError, TypeError) as exc:
        raise BrokenObjectError(
            f"cannot read {path}: it is JSON but not a dotui checkpoint ({exc!r}); the file was left as it is"
        ) from None
    return data, meta


def build(data: dict[str, Any], meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The TinyDB tables of a checkpoint holding ``data`` (keys in key order)."""
    rows = {str(i): {"key": k, "value": data[k]} for i, k in enumerate(sorted(data), 1)}
    return {"meta": {"1": meta}, "storage": rows}
