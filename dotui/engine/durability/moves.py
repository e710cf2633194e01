"""A class renamed or deleted by a migration: its objects moved to the new name, or deleted, at start.

A wrangler project's ``migrations`` (docs/cloudflare.md, "Migrations") may rename a class
(``renamed_classes``: its objects, their storage, names and alarms, belong to the new name) or delete
one (``deleted_classes``: its objects are gone). dotui keys every object's files by its namespace and
an id bound to it (ids.py), so a rename moves each object of the old class to the new one: a named
object to the id its name has there (``idFromName`` finds it), an unnamed one to its 24 bytes with the
new namespace's check. ``apply`` runs at start, after recovery (every committed change in its
checkpoint) and before anything is served, with the data folder locked.

Durability (a kill at any instant loses nothing): before the first file is written,
``classes.moving`` (a journal: ``{"from", "to"}``) is made durable; then each object's new file is
written whole and made durable (temporary file, fsync, rename, fsync of the folder: ``disk.py``'s
seam), then the old files are removed, then the index is rebuilt from the checkpoints and written
whole, and only then the journal goes. A start that finds the journal does the same again: the new
files it finds are the ones it was writing (nothing is served before the move ends), written again
from the old ones still there.

Refused with a ``DataFolderError`` naming the class, the file and what to do, before anything is
written: the new class's folder holding objects of its own (not from this move), an object whose file
cannot be read, objects of the other storage backend than the new class's, and changes not yet in
their checkpoints (a checkpoint that failed at start).

Costs: O(objects of the class + their bytes), once; the index rebuild is O(checkpoints) and keeps
what the checkpoints hold (the calls and errors counters of every object start again at 0).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import stat
from dataclasses import dataclass

from ..errors import BrokenObjectError, DataFolderError
from ..ids import IdFactory
from . import checkpoint, disk, pitr, schema, sqlfile
from .schema import RESERVED
from .spares import SPARE_FOLDER, SPARE_SUFFIX
from .sqlhistory import RESTORE_SUFFIX

log = logging.getLogger("dotui")

JOURNAL = "classes.moving"
_SQLITE_SIDES = ("-wal", "-shm", pitr.SUFFIX, RESTORE_SUFFIX)  # beside a database, removed after it
# A database's side file whose database is gone (a kill between the two removals): the engine's own.
_SIDE = re.compile(r"[0-9a-f]{{64}}\.sqlite(?:{})".format("|".join(re.escape(s) for s in _SQLITE_SIDES)))


@dataclass(frozen=True)
class Found:
    """One object file of a class's folder."""

    hx: str
    path: str
    backend: str  # "kv" or "sqlite"


def objects_of(data_dir: str, ns: str) -> list[Found]:
    """The objects of namespace ``ns`` on disk: each file at the path of the id it names (as the
    index's rebuild finds them); no link followed. O(files of the folder)."""
    folder = os.path.join(data_dir, ns)
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return []
    except FileNotFoundError:
        return []
    found: list[Found] = []
    for where, _, names in os.walk(folder):
        for fname in sorted(names):
            if fname.endswith(sqlfile.SUFFIX) and len(fname) == 64 + len(sqlfile.SUFFIX):
                hx, backend = fname[:64], "sqlite"
            elif fname.endswith(".json") and len(fname) == 69:
                hx, backend = fname[:64], "kv"
            else:
                continue
            try:
                path = (sqlfile.path_of if backend == "sqlite" else schema.object_path)(data_dir, ns, hx)
            except schema.Malformed:
                continue  # no id of the namespace names it: not an object's file (left alone)
            if path == os.path.join(where, fname):
                found.append(Found(hx, path, backend))
    return found


def _refuse(old: str, new: str | None, what: str, fix: str) -> DataFolderError:
    action = f"move class {old}'s objects to {new}" if new else f"delete class {old}'s objects"
    return DataFolderError(f"cannot {action} (the migrations of the wrangler file): {what}; {fix}")


def _journal(data_dir: str) -> dict[str, str | None] | None:
    path = os.path.join(data_dir, JOURNAL)
    try:
        doc = json.loads(disk.read_file(path, 4096))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DataFolderError(
            f"{path} cannot be read ({exc}): it is the journal of a class being moved; "
            "restore it from a backup, or remove it if no move was under way"
        ) from None
    if (
        not isinstance(doc, dict)
        or set(doc) != {"from", "to"}
        or not isinstance(doc["from"], str)
        or not (doc["to"] is None or isinstance(doc["to"], str))
    ):
        raise DataFolderError(
            f'{path} is not a journal dotui writes ({{"from": class, "to": class or '
            "null}}): restore it, or remove it if no move was under way"
        )
    schema.namespace(doc["from"])
    if doc["to"] is not None:
        schema.namespace(doc["to"])
    return doc


def _name_of(found: Found, ns: str) -> str | None:
    """The object's name, read (and checked) from its file; BrokenObjectError/Malformed if unreadable."""
    if found.backend == "sqlite":
        try:
            return sqlfile.meta_of(found.path)["name"]
        except sqlite3.Error as exc:
            raise BrokenObjectError(f"cannot read {found.path}: SQLite cannot open it ({exc})") from None
    _, meta = checkpoint.load(found.path, (ns, found.hx))
    return meta.get("name")


def _target(ids: IdFactory, found: Found, old: str) -> tuple[str, str | None]:
    name = _name_of(found, old)
    return ids.adopt(found.hx, name).hex, name


def _copy_kv(src: Found, old: str, new: str, hx: str, data_dir: str) -> str:
    data, meta = checkpoint.load(src.path, (old, src.hx))
    meta = {**meta, "namespace": new, "id": hx}
    dest = schema.object_path(data_dir, new, hx)
    disk.makedirs(os.path.dirname(dest), f"folder of class {new}'s objects")
    checkpoint.atomic_write(dest, checkpoint.encode(checkpoint.build(data, meta)))
    return dest


def _copy_sqlite(src: Found, new: str, hx: str, data_dir: str) -> str:
    """The database copied whole (SQLite's backup: its WAL's commits too) into a temporary file, its
    ``_cf_METADATA`` naming the new object, made durable and renamed into place. The point-in-time
    history is not carried: its bookmarks are the old id's (docs/cloudflare.md)."""
    dest = sqlfile.path_of(data_dir, new, hx)
    disk.makedirs(os.path.dirname(dest), f"folder of class {new}'s objects")
    tmp, fd = disk.create_temporary(dest)
    disk.close(fd)
    try:
        source = sqlfile.connect(src.path)  # reads what its WAL holds too (a kill may have left one)
        try:
            sqlfile.seam("write", tmp)
            target = sqlite3.connect(tmp, isolation_level=None)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")  # one file to sync and rename
                target.execute("BEGIN IMMEDIATE")
                target.execute("UPDATE _cf_METADATA SET value = ? WHERE key = 'namespace'", (new,))
                target.execute("UPDATE _cf_METADATA SET value = ? WHERE key = 'id'", (hx,))
                target.execute("COMMIT")
            finally:
                target.close()
        finally:
            source.close()
        fd = disk.open(tmp, os.O_RDWR)
        try:
            disk.fsync(fd)
        finally:
            disk.close(fd)
        for side in _SQLITE_SIDES:  # a stale WAL or history beside the target is not the copy's
            _remove_if_there(dest + side)
        disk.replace(tmp, dest)
    except sqlite3.Error as exc:
        checkpoint.discard([tmp])
        raise OSError(f"cannot copy {src.path} to {dest}: {exc}") from None
    except BaseException:
        checkpoint.discard([tmp])
        raise
    disk.fsync_dir(os.path.dirname(dest))
    return dest


def _remove_if_there(path: str) -> bool:
    try:
        disk.remove(path)
    except FileNotFoundError:
        return False
    return True


def _remove_object(found: Found) -> None:
    _remove_if_there(found.path)
    if found.backend == "sqlite":
        for side in _SQLITE_SIDES:
            _remove_if_there(found.path + side)


def _remove_folder(data_dir: str, ns: str) -> None:
    """The class's folder, once its objects are gone: its spare files and temporaries too; anything
    else in it is not the engine's and is left, with the folder, saying so."""
    folder = os.path.join(data_dir, ns)
    left: list[str] = []
    for where, _dirs, names in os.walk(folder, topdown=False):
        for fname in names:
            path = os.path.join(where, fname)
            ours = (
                disk.is_temporary(fname)
                or _SIDE.fullmatch(fname) is not None
                or (os.path.basename(where) == SPARE_FOLDER and fname.endswith(SPARE_SUFFIX))
            )
            if ours and stat.S_ISREG(os.lstat(path).st_mode):
                disk.remove(path)
            else:
                left.append(path)
        if not any(p.startswith(where + os.sep) for p in left):
            try:
                os.rmdir(where)
            except OSError:
                left.append(where)
    if left:
        log.warning(
            "class %s's objects are gone, but its folder %s holds %s, which dotui did not write: left as it is",
            ns,
            folder,
            ", ".join(left[:3]) + (" ..." if len(left) > 3 else ""),
        )
    disk.fsync_dir(data_dir)


def _one(data_dir: str, old: str, new: str | None, backends: dict[str, str], resuming: bool) -> bool:
    """Move (or delete) the objects of ``old``; True if anything was on disk to move."""
    found = objects_of(data_dir, old)
    if not found and not os.path.isdir(os.path.join(data_dir, old)):
        return False
    targets: dict[str, tuple[Found, str | None]] = {}
    if new is not None:
        ids = IdFactory(new)
        for f in found:
            try:
                hx, name = _target(ids, f, old)
            except (BrokenObjectError, schema.Malformed, OSError) as exc:
                raise _refuse(
                    old,
                    new,
                    f"{f.path} cannot be read ({exc})",
                    "restore it from a backup, or move it away to leave that object behind",
                ) from None
            targets[hx] = (f, name)
        want = backends.get(new)
        other = [f for f in found if want is not None and f.backend != want]
        if other:
            raise _refuse(
                old,
                new,
                f"{len(other)} of its objects are {other[0].backend}-backed ({other[0].path}), "
                f"but class {new} is {want}-backed",
                "a rename keeps a class's storage backend: fix new_classes / new_sqlite_classes",
            )
        # Resumed, every object of the new class is this move's: it was checked to hold none before
        # the journal was written, and nothing is served until the move ends.
        theirs = [] if resuming else objects_of(data_dir, new)
        if theirs:
            raise _refuse(
                old,
                new,
                f"class {new} holds {len(theirs)} object(s) of its own already ({theirs[0].path})",
                f"a rename's target is a new class: move {os.path.join(data_dir, new)} away, or rename to another name",
            )
    if not resuming:
        checkpoint.atomic_write(os.path.join(data_dir, JOURNAL), json.dumps({"from": old, "to": new}).encode())
    for hx, (f, _) in targets.items():
        assert new is not None  # targets are made for a move only
        if f.backend == "sqlite":
            _copy_sqlite(f, new, hx, data_dir)
        else:
            _copy_kv(f, old, new, hx, data_dir)
    for f in found:
        _remove_object(f)
    for folder in {os.path.dirname(f.path) for f in found}:
        disk.fsync_dir(folder)
    _remove_folder(data_dir, old)
    what = f"moved to {new}" if new else "deleted (deleted_classes)"
    log.warning("class %s: %d object(s) %s, as the migrations of the wrangler file say", old, len(found), what)
    return True


def apply(data_dir: str, plan: dict[str, str | None], backends: dict[str, str], index, pending: bool) -> bool:
    """Carry out ``plan`` (old class -> the class its objects now belong to, or None: deleted) on the
    data folder; True if anything moved (the index is then rebuilt and written whole). ``backends``:
    the loaded classes' storage backends; ``pending``: changes are held that no checkpoint has yet."""
    journal = _journal(data_dir)
    order = sorted(plan.items())
    if journal is not None:  # a move a kill interrupted goes first, whatever the file now says
        first = journal["from"]
        assert first is not None  # _journal checked it is a class name
        order = [(first, journal["to"]), *[m for m in order if m[0] != first]]
    moved = False
    for old, new in order:
        if old in RESERVED or (new is not None and new in RESERVED):
            continue  # check_namespaces refuses such a class already
        resuming = journal is not None and journal["from"] == old
        if not resuming and not objects_of(data_dir, old) and not os.path.isdir(os.path.join(data_dir, old)):
            continue
        if pending:
            raise _refuse(
                old,
                new,
                "the commit log holds changes that are not in their checkpoints yet (the "
                "checkpoint at start failed: see the warning above)",
                "start again once the disk is writable",
            )
        moved = _one(data_dir, old, new, backends, resuming) or moved
        if resuming:
            moved = True
        journal = journal if not resuming else None
    if moved:
        index.rebuild_from_files(data_dir, skip=tuple(RESERVED), keep={})  # written next, or raises:
        index.write_whole()  # the move's journal goes only once the index names the new class
        _remove_if_there(os.path.join(data_dir, JOURNAL))
        disk.fsync_dir(data_dir)
    return moved
