"""Opening a data folder at start: brought up to date with what the last run left before anything
is served (README.md, "On disk"; docs/trust.md says what is read back and how it is checked).

In order: the classes' folders are checked (none may be one of the engine's own files, nothing
may be there the engine did not make), the commit log is opened, the log a crash left behind is
replayed into the checkpoints (``DurableState.recover``), the SQLite-backed objects' alarms are
taken from their databases, renamed and deleted classes are moved (moves.py), and a new log
segment is started for this run's appends. Any failure raises before the engine serves a call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from ..errors import DataFolderError
from . import folder, moves, sqlfile
from .commitlog import CommitLog
from .schema import RESERVED

if TYPE_CHECKING:
    from .durable import DurableState
    from .index import Index


class Served(Protocol):
    """What opening reads of a class served (loader.NamespaceInfo)."""

    file: str
    backend: str


def check_namespaces(files: dict[str, str], data_dir: str) -> None:
    """Refuse a class whose folder would be one of the engine's own files (``files``: name -> source)."""
    for name, source in files.items():
        if name in RESERVED:
            raise DataFolderError(
                f"class {name!r} (in {source}) cannot keep its objects in {os.path.join(data_dir, name)}: "
                f"that is the engine's {RESERVED[name]}; rename the class"
            )


def open_folder(
    data_dir: str,
    served: Mapping[str, Served],
    moved: dict[str, str | None],
    index: Index,
    durable: DurableState,
    log_class: type[CommitLog] = CommitLog,
) -> CommitLog:
    """(Engine.start, the folder's lock held) The commit log of ``data_dir``, every change it held
    in a checkpoint, open for this run's appends. ``served``: the classes served; ``moved``: old
    class -> the class its objects now belong to, or None if deleted (loader.class_moves).
    O(log records + objects they touch), and O(objects moved + their bytes) once for a move."""
    check_namespaces({n: c.file for n, c in served.items()}, data_dir)
    folder.check(data_dir, served)  # nothing in it the engine did not make
    log = log_class(os.path.join(data_dir, "log"))
    sql = [n for n, c in served.items() if c.backend == "sqlite"]
    unclosed = sqlfile.alarms_of_open_databases(data_dir, sql)  # before recovery closes them
    durable.recover(log)  # bring checkpoints up to date with the log (README.md, "On disk")
    if sqlfile.reconcile_alarms(index, unclosed):
        index.persist(index.take_changes())
    moves.apply(
        data_dir, moved, {n: c.backend for n, c in served.items()}, index, durable.pending
    )  # renamed and deleted classes (moves.py)
    log.open_new_segment()
    return log
