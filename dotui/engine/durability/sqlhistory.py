"""One SQLite-backed object's history while it is awake, and its restore at the next session.

``ObjectHistory`` appends a record of each commit's pages (pitr.py) right after the COMMIT,
catches up at wake with what the WAL holds and the history lacks, gives the bookmarks, and
records a restore request; ``restore_pending`` carries one out before the object next opens its
database (docs/sqlite.md, "Point-in-time recovery"). Every step that replaces a file does it
through the ``disk.py`` seam (temporary file, fsync, rename, fsync of the folder).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable
from typing import Any

from ..errors import BrokenObjectError
from . import checkpoint, disk, pitr, sqlfile

RESTORE_SUFFIX = "-restore"
log = logging.getLogger("dotui")


class ObjectHistory:
    """The history of one live object (the loop's). ``now``: the engine's clock."""

    def __init__(self, db_path: str, hx: str, now: Callable[[], float]):
        self.path = pitr.history_of(db_path)
        self.hx = hx
        self._now = now
        self._file = pitr.HistoryFile(self.path)
        rec = pitr.last(self.path)
        self.seq = rec.seq if rec is not None else 0
        self._tail = pitr.WalTail(db_path + "-wal", rec.salt if rec else (0, 0), rec.wal_end if rec else 0)
        self._started = rec is not None

    def start(self, conn: sqlite3.Connection) -> None:
        """(At wake, the database open) A history that does not exist starts with the whole
        database (a base record); one that does gets what the WAL holds and it lacks."""
        if not self._started:
            taken = self._tail.take(verify=True)
            image = conn.serialize()
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            pages = [(n + 1, image[n * page_size : (n + 1) * page_size]) for n in range(len(image) // page_size)]
            salt, end = (taken[3], taken[4]) if taken else (self._tail.salt, self._tail.end)
            self._append(pitr.BASE, pages, len(pages), page_size, salt, end)
            self._started = True
            self._file.sync()
            return
        if self._commit(verify=True):
            self._file.sync()

    def _append(self, kind: int, pages: list, db_pages: int, page_size: int, salt: tuple, end: int) -> None:
        rec = pitr.Record(kind, self.seq + 1, self._now(), page_size, db_pages, salt, end, pages)
        self._file.append(rec)
        self.seq += 1
        self._tail.advance(salt, end)

    def committed(self) -> bool:
        """(Right after a COMMIT) Append its pages; False if it wrote none. O(pages it wrote)."""
        return self._commit(verify=False)

    def _commit(self, verify: bool) -> bool:
        taken = self._tail.take(verify=verify)
        if taken is None:
            return False
        pages, db_pages, page_size, salt, end = taken
        self._append(pitr.COMMIT, pages, db_pages, page_size, salt, end)
        return True

    def sync(self) -> None:
        self._file.sync()

    def close(self) -> None:
        self._file.close()

    # ------------------------------------------------------------ bookmarks
    def current_bookmark(self) -> str:
        return pitr.bookmark(self.seq, self.hx)

    def bookmark_for_time(self, t: float) -> str:
        """The bookmark of the last commit at or before ``t`` (epoch seconds). O(history)."""
        now = self._now()
        if t > now:
            raise ValueError(
                f"get_bookmark_for_time({t}): that time is in the future (now is {now:.3f}); "
                "a bookmark names a state the object has had"
            )
        found = None
        for rec in pitr.read(self.path):
            if rec.time > t:
                break
            found = rec
        if found is None:
            raise ValueError(
                f"get_bookmark_for_time({t}): the history kept does not reach back to that time "
                f"(it keeps {pitr.RETENTION / 86400:.0f} days, bounded in size)"
            )
        return pitr.bookmark(found.seq, self.hx)

    def check_restorable(self, bookmark: str) -> int:
        """The seq ``bookmark`` names, if the history can build it; ValueError saying why not."""
        seq = pitr.parse_bookmark(bookmark, self.hx)
        if seq > self.seq:
            raise ValueError(
                f"bookmark {bookmark!r} is from the future: this object's latest is {self.current_bookmark()!r}"
            )
        first = next(pitr.read(self.path), None)
        if first is None or seq < first.seq:
            raise ValueError(
                f"bookmark {bookmark!r} is older than the history kept "
                f"(the oldest is {pitr.bookmark(first.seq, self.hx) if first else 'none'!r})"
            )
        return seq

    def request_restore(self, seq: int, db_path: str) -> None:
        """Restore to ``seq`` when the object next opens its database (written durably now)."""
        checkpoint.atomic_write(db_path + RESTORE_SUFFIX, json.dumps({"seq": seq}).encode())


def list_bookmarks(db_path: str, hx: str, limit: int = 1000) -> list[dict]:
    """The latest ``limit`` bookmarks of an object, newest last: {bookmark, time, kind, pages}.
    Reads the history file (never the live object): O(history)."""
    out: list[dict] = []
    for rec in pitr.read(pitr.history_of(db_path)):
        out.append(
            {
                "bookmark": pitr.bookmark(rec.seq, hx),
                "time": rec.time,
                "kind": "base" if rec.kind == pitr.BASE else "commit",
                "pages": len(rec.pages),
            }
        )
        if len(out) > limit:
            del out[0]
    return out


def open_for_wake(
    data_dir: str, key: tuple[str, str], name: str | None, now: Callable[[], float], entry: Any
) -> tuple[tuple, float | None]:
    """(At wake) ((connection, path, history, re-announce the alarm?), alarm) of a SQLite-backed
    object: a restore asked for last session is made, a history past its bound compacted (both
    O(history), once), the database opened (O(1)), the history caught up. ``entry``: its index
    entry (or None); the alarm is re-announced when the database's differs from it."""
    ns, hx = key
    path = sqlfile.path_of(data_dir, ns, hx)
    restored = restore_pending(path, hx, now)
    history_path = pitr.history_of(path)
    if pitr.due_for_compaction(history_path, now()):
        try:
            pitr.compact(history_path, now())
        except (OSError, pitr.HistoryError) as exc:  # the object runs without: tried at its next wake
            log.warning("could not compact the history %s: %s", history_path, exc)
    conn, alarm = sqlfile.open_database(path, ns, hx, name)
    try:
        history = ObjectHistory(path, hx, now)
        history.start(conn)
    except BaseException:
        sqlfile.close_quietly(conn)
        raise
    restored = restored or (entry is not None and entry.alarm != alarm)  # the database's alarm is the truth
    return (conn, path, history, restored), alarm


def durable_bookmark(db_path: str, hx: str, at: float | None = None) -> str:
    """The bookmark of the last commit in the history (the latest durable state), or of the last one
    at or before ``at``; read from the file, never the live object. ValueError if there is none."""
    path = pitr.history_of(db_path)
    if at is None:
        rec = pitr.last(path)
        if rec is None:
            raise ValueError(f"{db_path} has no history yet: the object has not run since it was made")
        return pitr.bookmark(rec.seq, hx)
    found = None
    for rec in pitr.read(path):
        if rec.time > at:
            break
        found = rec
    if found is None:
        raise ValueError(f"the history of {db_path} does not reach back to {at}")
    return pitr.bookmark(found.seq, hx)


def restore_pending(db_path: str, hx: str, now: Callable[[], float]) -> bool:
    """(At wake, before the database is opened) Carry out a restore request, if there is one: the
    database becomes the state of the requested seq, and that is a new base record of the history
    (so the state before it stays restorable). Every step can be repeated after a crash. True if a
    restore was made. ``BrokenObjectError`` for a request the history cannot build."""
    request = db_path + RESTORE_SUFFIX
    try:
        raw = disk.read_file(request, limit=256)
    except FileNotFoundError:
        return False
    try:
        seq = json.loads(raw)["seq"]
        if type(seq) is not int or seq < 1:
            raise ValueError(seq)
    except (ValueError, KeyError, TypeError):
        raise BrokenObjectError(
            f"cannot read {request}: it is not a restore request the engine writes "
            "(move it away to open the object as it is)"
        ) from None
    folder = os.path.dirname(db_path)
    hist = ObjectHistory(db_path, hx, now)
    if hist._started and hist._commit(verify=True):  # the state before the restore: kept
        pass
    hist.sync()
    built = pitr.image_at(hist.path, seq)
    if built is None:
        raise BrokenObjectError(
            f"cannot restore {db_path} to seq {seq}: its history {hist.path} no longer holds "
            f"that state; remove {request} to open the object as it is"
        )
    image, _ = built
    tmp = checkpoint.write_temporary(db_path, image)
    try:
        for extra in ("-wal", "-shm"):
            try:
                disk.remove(db_path + extra)
            except FileNotFoundError:
                pass
        disk.replace(tmp, db_path)
    except BaseException:
        if os.path.lexists(tmp):
            disk.remove(tmp)
        raise
    disk.fsync_dir(folder)
    page_size = int.from_bytes(image[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size  # the file format's way to say 65536
    pages = [(n + 1, image[n * page_size : (n + 1) * page_size]) for n in range(len(image) // page_size)]
    hist._append(pitr.BASE, pages, len(pages), page_size, (0, 0), 0)
    hist.sync()
    hist.close()
    disk.remove(request)
    disk.fsync_dir(folder)
    return True
