"""The data folder's own entries: made private, and checked at start for anything the engine did not make.

What the engine keeps in a data folder (README.md, "On disk"): ``lock`` (a file), ``log/``
(a folder of ``<number>.log`` segments), ``index.sqlite`` with its ``-wal`` and ``-shm`` (and, from an
older engine, ``index.json`` and ``index.journal``), and one
folder per namespace holding ``<id hex>.json`` checkpoints. ``prepare`` makes the folder (0700)
or tightens one that others can read; ``check`` looks at each entry of the folder and of
``log/`` with ``lstat`` (O(entries), never a checkpoint: those are checked when read) and
refuses, with a ``FolderEntryError`` naming the path and what to do:

- a symbolic link anywhere in the folder (nothing is ever followed);
- ``log``, or a namespace folder of a loaded class, that is not a folder;
- an index file (``index.sqlite``, its ``-wal`` or ``-shm``, ``index.json``, ``index.journal``) or a
  ``log/<number>.log`` that is not a regular file.

A stray file in ``log/`` whose name is not a segment's (``notes.log``) is not the engine's: it is
left alone, with a warning. Temporaries of the index a crash left (``index.json.<hex>.tmp``) are
removed, as are the index database's (``index.sqlite.<hex>.tmp``). See docs/trust.md, "The folder itself".
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable

from ..errors import DataFolderError
from . import disk
from .commitlog import LOG_FOLDER, is_segment, list_segments
from .schema import RESERVED

log = logging.getLogger("dotui")

_FILES = {
    "lock": "lock file",
    "index.sqlite": "index database",
    "index.sqlite-wal": "index database's log",
    "index.sqlite-shm": "index database's shared memory",
    "index.json": "index snapshot",
    "index.journal": "index journal",
}
_INDEX_TEMPORARIES = ("index.json.", "index.sqlite.")


def prepare(data_dir: str) -> None:
    """Make the data folder (0700, with its parents), or make an existing one private: a folder
    that others may read or enter is narrowed to its owner's bits, with a warning (its files hold
    every object's storage). ``DataFolderError`` when a file is there instead."""
    try:
        found = os.stat(data_dir).st_mode
    except FileNotFoundError:
        disk.makedirs(data_dir, "data folder")
        return
    if not stat.S_ISDIR(found):
        raise DataFolderError(
            f"the data folder {data_dir} is {disk.kind(found)}, not a folder: "
            "pass a folder (--data DIR), or move that one away"
        )
    loose = stat.S_IMODE(found)
    if loose & 0o077:
        private = loose & 0o700
        try:
            os.chmod(data_dir, private)
        except OSError as exc:
            log.warning(
                "the data folder %s can be read by other users (mode %04o) and could not be made "
                "private (%s): its files hold every object's storage; chmod 0700 it",
                data_dir,
                loose,
                exc,
            )
            return
        log.warning(
            "the data folder %s could be read by other users (mode %04o): made it private (%04o), "
            "as its files hold every object's storage",
            data_dir,
            loose,
            private,
        )


def check(data_dir: str, namespaces: Iterable[str] = ()) -> None:
    """(At start, with the lock held) Refuse any entry that is not what the engine keeps there
    (``FolderEntryError``); remove the index temporaries a crash left. ``namespaces``: the
    loaded classes, whose folders must be folders. O(entries of the folder and of ``log/``)."""
    folders = {"log": LOG_FOLDER, **{ns: f"folder of class {ns}'s objects" for ns in namespaces}}
    for name in sorted(os.listdir(data_dir)):
        path = os.path.join(data_dir, name)
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            raise disk.refusal(path, mode, _FILES.get(name) or folders.get(name))
        if name in _FILES and not stat.S_ISREG(mode):
            raise disk.refusal(path, mode, _FILES[name])
        if name in folders and not stat.S_ISDIR(mode):
            raise disk.refusal(path, mode, folders[name])
        if name.startswith(_INDEX_TEMPORARIES) and disk.is_temporary(name):
            _remove_temporary(path, mode)
    _check_log(os.path.join(data_dir, "log"))


def _check_log(folder: str) -> None:
    list_segments(folder)  # refuses a segment that is not a regular file
    if os.path.isdir(folder):
        strays = sorted(n for n in os.listdir(folder) if not is_segment(n))
        if strays:
            log.warning(
                "the commit log folder %s holds %s, which %s not the engine's: left alone",
                folder,
                ", ".join(strays[:5]) + (" ..." if len(strays) > 5 else ""),
                "is" if len(strays) == 1 else "are",
            )


def remove_stale_temporaries(data_dir: str, skip: Iterable[str] = RESERVED) -> None:
    """A crash in the middle of a checkpoint can leave ``<id hex>.json.<hex>.tmp`` files in the
    namespace folders: never read, removed. ``FolderEntryError`` for an entry so named that is not
    a regular file (a folder, a link: never followed or deleted). O(checkpoints)."""
    for ns in os.listdir(data_dir):
        folder = os.path.join(data_dir, ns)
        if ns in skip or not stat.S_ISDIR(os.lstat(folder).st_mode):
            continue
        for name in os.listdir(folder):
            if disk.is_temporary(name):
                path = os.path.join(folder, name)
                _remove_temporary(path, os.lstat(path).st_mode)


def _remove_temporary(path: str, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise disk.refusal(path, mode, "temporary file")
    disk.remove(path)
