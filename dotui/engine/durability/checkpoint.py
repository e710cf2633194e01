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

import gc
import json
import os
import re
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

import orjson
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
    return write_new(*disk.create_temporary(path), data, sync)


def write_new(path: str, fd: int, data: bytes, sync: bool = False) -> str:
    """Write ``data`` into the new file ``path`` open at ``fd`` and close it; removed on failure."""
    try:
        disk.write_all(fd, data)
        if sync:
            disk.fsync(fd)
    except BaseException:
        disk.close(fd)
        discard([path])
        raise
    disk.close(fd)
    return path


def discard(paths) -> None:
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
        discard([tmp])
        raise
    if sync_dir:
        fsync_dir(os.path.dirname(path) or ".")


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


def _read(path: str) -> tuple[dict[str, Any] | None, bytes, bool]:
    """(``read_doc``'s document, the file's bytes, whether orjson read it: ``_fast_read``)."""
    try:
        raw = disk.read_file(path)
    except FileNotFoundError:
        return None, b"", False
    except FolderEntryError as exc:  # a link, a folder, a FIFO: never followed, read or waited on
        raise _broken(path, str(exc)) from None
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        raise _broken(path, exc.strerror or str(exc)) from None
    if not raw:
        raise _broken(path, "the file is empty (0 bytes), so it is not a checkpoint")
    doc = _fast_read(raw)
    decoded = doc is not None
    if not decoded:
        try:
            doc = values.read(raw)
        except ValueError as exc:  # not UTF-8, not JSON, NaN, nested past any decoder
            raise _broken(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _broken(path, f"expected a JSON object of tables, found {type(doc).__name__}")
    return doc, raw, decoded


_DIGIT_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19  # 19 digits in a row: an int past 64 bits may be there, which orjson reads as a float


def _fast_read(raw: bytes) -> Any:
    """The JSON document of ``raw`` as orjson reads it, when that is what ``values.read`` reads, else None: orjson
    refuses what the standard decoder refuses and more (a lone surrogate, a number past a double, nesting past
    1,024: None, and ``values.read`` reads or says what is wrong), and reads the same values but for an int past
    64 bits (a float): a text with a run of 19 digits anywhere (in a long int, a long mantissa, a string of
    digits) is left to ``values.read``. The whole document comes out JSON: str keys, finite floats, ints within
    64 bits, no lone surrogate (``storage.check_decoded`` relies on it). O(size): a translate and a find in C,
    then orjson (1.4-1.8x faster than the json module at 100,000 keys, bench/README.md "KV objects")."""
    if raw.translate(_DIGIT_TO_ZERO).find(_LONG_NUMBER) >= 0:
        return None
    paused = len(raw) >= _PAUSE_COLLECTOR_AT and gc.isenabled()
    if paused:  # a JSON document holds no cycle: a collection while one is built finds nothing to free
        gc.disable()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    finally:
        if paused:
            gc.enable()


# From this size a read pauses the collector: at 100,000 keys (8.6 MB) its passes over the containers being
# built (promoted through every generation as the heap grows) were 30% of the read's CPU time (bench/kv.py).
_PAUSE_COLLECTOR_AT = 1 << 20


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
    """The compact UTF-8 JSON of a checkpoint's tables: orjson's where it can (29 ms against
    1,105 ms for 100,000 keys, bench/README.md "KV objects"), the standard encoder's for what
    orjson refuses (an int past 64 bits). Both read back as the same values. O(size)."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError is one
        pass
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
    doc, raw, decoded = _read(path)
    if doc is None:
        return {}, {}
    metas, table = doc.get("meta"), doc.get("storage")
    if not isinstance(metas, dict) or not isinstance(table, dict):
        raise _broken(path, 'it is JSON but not a dotui checkpoint (the "meta" and "storage" tables are missing)')
    meta = next(iter(metas.values()), None)
    if len(metas) != 1 or not isinstance(meta, dict):
        raise _broken(path, f'it is JSON but its "meta" table holds {len(metas)} rows, not one document')
    try:
        _check_meta(meta, key)
    except schema.Malformed as exc:
        raise _broken(path, f"its meta document is not a dotui checkpoint's: {exc}") from None
    data = _rows(path, table)
    try:
        if decoded:  # all JSON, no lone surrogate, no int past 64 bits (_fast_read)
            storage.check_decoded(data)
        else:  # only an escape can spell a lone surrogate in text that decoded as UTF-8
            storage.check_entries(data, may_hold_surrogates=_SURROGATE_ESCAPE.search(raw) is not None)
    except (TypeError, ValueError) as exc:
        raise _broken(path, f"a storage row holds what storage.put refuses: {exc}") from None
    return data, meta


def _rows(path: str, table: dict[str, Any]) -> dict[str, Any]:
    """The storage table's rows as values by key; ``BrokenObjectError`` naming the first row that is not a
    ``{"key": string, "value": ...}`` document. O(rows): one comprehension in the usual case, a loop to name
    the bad row."""
    try:
        data = {row["key"]: row["value"] for row in table.values()}
    except (KeyError, TypeError):  # not a dict, no key or value, an unhashable key: named below
        data = None
    if data is not None and len(data) == len(table) and (not data or set(map(type, data)) == {str}):
        return data
    data = {}
    for doc_id, row in table.items():
        if not isinstance(row, dict) or not isinstance(row.get("key"), str) or "value" not in row:
            raise _broken(
                path,
                f'storage row {values.shown(doc_id)} is not a {{"key": string, "value": ...}} '
                f"document: {values.shown(row)}",
            )
        data[row["key"]] = row["value"]
    return data


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _check_meta(meta: dict[str, Any], key: tuple[str, str] | None) -> None:
    """The fields of a checkpoint's meta document the engine reads back (schema.py), and that it
    is the meta of the object ``key``, when given."""
    if key is not None:
        for field, mine in zip(("namespace", "id"), key, strict=False):
            if meta.get(field, mine) != mine:
                raise schema.Malformed(
                    f"its {field!r} is {values.shown(meta[field])}, not this file's "
                    f"{mine!r} (a checkpoint of another object)"
                )
    schema.name(meta.get("name"), *(key or (None, None)))
    schema.alarm(meta.get("alarm"))
    for field in ("keys", "bytes"):
        if field in meta:
            schema.count(meta[field], f"its {field!r}")
    schema.moment(meta.get("saved_at"), "its 'saved_at'", optional=True)


REUSE_KEYS = 256  # a smaller table is made again each round: cheaper than the containers it would keep


class Table:
    """A checkpoint's storage table as written: its rows by document id (``"1"``... in key order)
    and the keys in that order. Never changed once made (the next is a copy), so it can be kept
    with the checkpoint (recent.py) and shared."""

    __slots__ = ("rows", "order")

    def __init__(self, rows: dict[str, dict[str, Any]], order: list[str]):
        self.rows, self.order = rows, order


def table(data: dict[str, Any], last: Table | None = None, changed: Iterable[str] | None = None) -> Table:
    """The storage table of ``data``. With ``last``, the table of the checkpoint ``data`` was made
    from by changing the keys ``changed`` (None: anything may have changed): when no key came or
    went, a copy of ``last`` with the changed rows replaced, O(keys) in C plus O(changed x log keys);
    else every row is made again, O(keys x log keys) in Python. A one-key change's checkpoint at
    100,000 keys spent 60% of its CPU making the rows (py-spy, bench/kv.py)."""
    if last is not None and changed is not None and len(last.order) == len(data):
        order, rows = last.order, dict(last.rows)
        for k in changed:
            i = bisect_left(order, k)
            if i == len(order) or order[i] != k or k not in data:
                break  # a key came or went: the document ids after it move
            rows[str(i + 1)] = {"key": k, "value": data[k]}
        else:
            return Table(rows, order)
    order = sorted(data)
    return Table({str(i): {"key": k, "value": data[k]} for i, k in enumerate(order, 1)}, order)


def build(data: dict[str, Any], meta: dict[str, Any], rows: Table | None = None) -> dict[str, dict[str, Any]]:
    """The TinyDB tables of a checkpoint holding ``data`` (keys in key order), or ``rows``, its table made."""
    return {"meta": {"1": meta}, "storage": (rows or table(data)).rows}
