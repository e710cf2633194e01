"""The index rebuilt from the files it lists (index.py's slow path, when it is lost or damaged): the
fields of every object read from its checkpoint's meta, or a SQLite-backed object's from its
database's (docs/sqlite.md). Nothing is changed on disk: a file that is not where its id puts it,
or names another object, is left as it is and said once. O(checkpoints) (docs/trust.md).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from typing import Any

from ..errors import BrokenObjectError
from . import checkpoint, schema, sqlfile

log = logging.getLogger("dotui")
Key = tuple[str, str]
Fields = tuple[Any, ...]  # (name, keys, bytes, alarm, last_active): index.Entry's first fields


def sqlite_fields(data_dir: str, ns: str, hx: str) -> Fields | None:
    """The index fields of a SQLite-backed object, from its database's metadata (read-only: O(1)); None
    for a database that names another object."""
    try:
        path = sqlfile.path_of(data_dir, ns, hx)
        meta = sqlfile.meta_of(path)
    except schema.Malformed as exc:
        log.warning(
            "%s is not a database of this data folder (%s); left as it is",
            os.path.join(data_dir, ns, hx + sqlfile.SUFFIX),
            exc,
        )
        return None
    except (sqlite3.Error, OSError):
        meta = {}  # listed all the same: a call says what is wrong
    return (meta.get("name"), 0, meta.get("bytes", 0), meta.get("alarm"), None)


def entries_of_files(data_dir: str, skip: tuple[str, ...]) -> dict[Key, Fields]:
    """The fields of every object whose checkpoint or database is at its id's path below a namespace's
    folder of ``data_dir`` (none of ``skip``; no link followed)."""
    entries: dict[Key, Fields] = {}
    for ns in sorted(os.listdir(data_dir)):
        folder = os.path.join(data_dir, ns)
        if ns in skip or not ns.isidentifier() or not stat.S_ISDIR(os.lstat(folder).st_mode):  # no link followed
            continue
        # Wherever schema.object_path puts a checkpoint below its namespace's folder (one folder,
        # or a fan-out of them): a file is one only if that is the path of the id it names.
        for where, _, names in os.walk(folder):
            for fname in names:
                if fname.endswith(sqlfile.SUFFIX) and len(fname) == 64 + len(sqlfile.SUFFIX):
                    hx = fname[:64]  # a SQLite-backed object (docs/sqlite.md), at its id's path only
                    entry = sqlite_fields(data_dir, ns, hx) if where == folder else None
                    if entry is not None:
                        entries[(ns, hx)] = entry
                    continue
                if not fname.endswith(".json") or len(fname) != 69:
                    continue
                hx, found = fname[:-5], os.path.join(where, fname)
                try:
                    path = schema.object_path(data_dir, ns, hx)
                except schema.Malformed as exc:  # no id of the namespace can reach it
                    log.warning("%s is not a checkpoint of this data folder (%s); left as it is", found, exc)
                    continue
                if path != found:
                    continue
                try:
                    data, meta = checkpoint.load(path, (ns, hx))
                except (BrokenObjectError, OSError):
                    data, meta = {}, {}  # listed all the same: a call says what is wrong
                entries[(ns, hx)] = (
                    meta.get("name"),
                    meta.get("keys", len(data)),
                    meta.get("bytes", 0),
                    meta.get("alarm"),
                    meta.get("saved_at"),
                )
    return entries
