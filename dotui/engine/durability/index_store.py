"""The index's file: one SQLite database, ``<data>/index.sqlite``, read a page at a time.

Its tables, and how a row is written and checked, are ``index_rows.py``'s. Nothing is loaded at
open: a row is read when a page, a lookup or the start's alarms ask for it, so opening costs O(1)
and a page O(log N + page) (a page at offset k steps over k entries of the order index, in C). Each
connection's page cache is bounded (``CACHE_KIB``). Every row read is checked (``index_rows.decode``);
damage raises ``Damaged``.

SQLite does its own I/O, so this module is the seam for it that ``disk.py`` is for the rest: each
operation first asks ``disk.faults`` (``open``, ``read``, ``write``, ``fsync``: the commit, where
SQLite syncs; ``match`` is the database's path), and SQLite's own I/O errors come out as
``OSError`` (a full disk as ``ENOSPC``). The file and its ``-wal`` and ``-shm`` are checked with
``lstat`` before every open (no link followed, nothing but a regular file) and made 0600.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator

from .. import values
from . import disk, schema
from .index_rows import (
    APPLICATION_ID,
    FIELDS,
    FORMAT,
    ORDER,
    SCHEMA,
    TABLE_BOUNDS,
    TABLE_CHECK,
    UPSERT,
    Damaged,
    decode,
    encode,
)

CACHE_KIB = 2048  # each connection's page cache
WAL_LIMIT = 4 << 20  # bytes of write-ahead log past which a round's end folds it into the file
SIDE_FILES = ("-wal", "-shm")
_SEEK = "SELECT ns, name, hx FROM objects INDEXED BY objects_order WHERE"  # keys in listing order, from
# the order index alone (checked at open: the schema is the file's)


def _oserror(exc: sqlite3.Error, path: str) -> Exception:
    """SQLite's error as the engine's: I/O (a full disk) as ``OSError``, anything else ``Damaged``."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == 13:  # SQLITE_FULL
        return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({exc})", path)
    if code in (5, 6, 10, 14, 15):  # BUSY, LOCKED, IOERR, CANTOPEN, PROTOCOL: may pass
        return OSError(errno.EIO, f"{os.strerror(errno.EIO)} ({exc})", path)
    return Damaged(f"{path}: not an index database of this engine ({exc})")


def _seam(op: str, path: str) -> None:
    if disk.faults.active:
        disk.faults.check(op, path)


def check_files(path: str) -> bool:
    """Whether the database exists; ``FolderEntryError`` if it, or its ``-wal``/``-shm``, is a link
    or anything but a regular file (nothing is followed). Three lstats: O(1)."""
    exists = False
    for p in (path, *(path + s for s in SIDE_FILES)):
        try:
            mode = os.lstat(p).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            raise disk.refusal(p, mode, "index database")
        exists = exists or p == path
    return exists


class Store:
    """The database, through two connections: the loop's reader (``hold`` keeps it on the file as
    the loop knows it while a round is written) and the checkpoint thread's writer. Each is used by
    one thread at a time."""

    def __init__(self, path: str):
        self.path = path
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # open and close against each other
        self.damaged: str | None = None  # set by the writer's thread: damage found while writing

    # ------------------------------------------------------------ opening
    def _connect(self, path: str, create: bool = False) -> sqlite3.Connection:
        _seam("open", path)
        if not check_files(path):
            if not create:
                raise FileNotFoundError(errno.ENOENT, "no index database", path)
            disk.close(disk.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))  # 0600, never a link
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        except sqlite3.Error as exc:
            raise _oserror(exc, path) from None
        return conn

    def open_reader(self) -> None:
        """Open the loop's connection and check the file is this engine's index (``Damaged``)."""
        conn = self._connect(self.path)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            self._check_schema(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise _oserror(exc, self.path) from None
        except Damaged:
            conn.close()
            raise
        with self._lock:
            self._reader = conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        fmt = conn.execute("PRAGMA user_version").fetchone()[0]
        if app != APPLICATION_ID or fmt != FORMAT:
            raise Damaged(
                f"{self.path}: not an index database of format {FORMAT} (application id {app:#x}, format {fmt})"
            )
        found = sorted(sql for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
        if found != sorted(SCHEMA):
            raise Damaged(f"{self.path}: its tables are not the index's")

    def close(self) -> None:
        with self._lock:
            for conn in (self._reader, self._writer):
                if conn is not None:
                    conn.close()
            self._reader = self._writer = None

    def close_reader(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
            self._reader = None

    # ------------------------------------------------------------ reading (the loop)
    def _read(self, sql: str, args: Iterable | dict = ()) -> list[tuple]:
        _seam("read", self.path)
        if self._reader is None:
            raise Damaged(f"{self.path}: not open")
        try:
            return self._reader.execute(sql, args if isinstance(args, dict) else tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise _oserror(exc, self.path) from None

    def hold(self) -> None:
        """Keep seeing the file as it is now until ``release`` (a read transaction): a round being
        written stays unseen until the loop knows it is durable. Held only that long, so the
        write-ahead log can start over between rounds."""
        if self._reader is not None and not self._reader.in_transaction:
            self._read("BEGIN")
            self._read("SELECT 1 FROM counts LIMIT 1")

    def release(self) -> None:
        """From now on the reader sees every committed row."""
        if self._reader is not None and self._reader.in_transaction:
            self._read("COMMIT")

    def counts(self) -> dict[str, int]:
        """Objects per namespace, checked. O(namespaces)."""
        out = {}
        for ns, n in self._read("SELECT ns, n FROM counts"):
            try:
                out[schema.namespace(ns)] = schema.count(n, f"the count of {ns}")
            except schema.Malformed as exc:
                raise Damaged(f"{self.path}: its counts are not the index's: {exc}") from None
        return out

    def get(self, ns: str, hx: str) -> list | None:
        rows = self._read(f"SELECT {FIELDS} FROM objects WHERE ns = ? AND hx = ?", (ns, hx))
        return decode(rows[0], self.path) if rows else None

    def get_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], list]:
        """The rows of ``keys`` that exist, by key: O(len(keys) log N)."""
        by_ns: dict[str, list[str]] = {}
        for ns, hx in keys:
            by_ns.setdefault(ns, []).append(hx)
        out = {}
        for ns, ids in by_ns.items():
            for i in range(0, len(ids), 500):
                batch = ids[i : i + 500]
                sql = f"SELECT {FIELDS} FROM objects WHERE ns = ? AND hx IN ({','.join('?' * len(batch))})"
                for t in self._read(sql, (ns, *batch)):
                    r = decode(t, self.path)
                    out[(r[0], r[1])] = r
        return out

    def ordered(self, ns: str | None, offset: int, batch: int = 64) -> Iterator[list]:
        """Rows in listing order from ``offset``: each batch's keys from the order index alone
        (covered: no row read for those stepped over), then their rows. The first batch steps over
        ``offset`` keys (in C); each later one seeks past the last key read (``_after``): O(offset +
        log N a batch + rows read), where stepping over the rows already read again for each batch
        made a whole listing O(N^2 / 4096)."""
        where, args = ("WHERE ns = ?", (ns,)) if ns is not None else ("", ())
        keys = self._read(
            f"SELECT ns, name, hx FROM objects {where} ORDER BY {ORDER} LIMIT ? OFFSET ?", (*args, batch, offset)
        )
        while keys:
            rows = self.get_many([(k[0], k[2]) for k in keys])
            for k in keys:
                r = rows.get((k[0], k[2]))
                if r is None:
                    raise Damaged(f"{self.path}: its order index names {values.shown(list(k))}, which it does not hold")
                yield r
            if len(keys) < batch:
                return
            batch = min(batch * 4, 4096)
            keys = self._after(ns, keys[-1], batch)

    def _after(self, ns: str | None, last: tuple, limit: int) -> list:
        """Up to ``limit`` keys ``(ns, name, hx)`` after ``last`` in listing order, each part a seek in
        the order index (``name IS NULL`` is a column of it, so a row comparison over all four would
        seek on ``ns`` alone): the named ones after it, then the unnamed, then (every namespace) the
        next namespaces. O(log N + limit)."""
        lns, lname, lhx = last
        parts: list[tuple[str, tuple]] = []
        if lname is not None:
            parts.append(
                (f"{_SEEK} ns = ? AND (name IS NULL) = 0 AND (name, hx) > (?, ?) ORDER BY name, hx", (lname, lhx))
            )
            lhx = ""
        parts.append((f"{_SEEK} ns = ? AND (name IS NULL) = 1 AND name IS NULL AND hx > ? ORDER BY hx", (lhx,)))
        out: list = []
        for sql, args in parts:
            out += self._read(f"{sql} LIMIT ?", (lns, *args, limit - len(out)))
            if len(out) == limit:
                return out
        if ns is None:
            out += self._read(f"{_SEEK} ns > ? ORDER BY {ORDER} LIMIT ?", (lns, limit - len(out)))
        return out

    def with_prefix(self, ns: str, prefix: str, limit: int) -> list[str]:
        """Ids of ``ns`` starting with ``prefix`` (lowercase hex), at most ``limit``: O(log N + limit)."""
        rows = self._read(
            "SELECT hx FROM objects WHERE ns = ? AND hx >= ? AND hx < ? ORDER BY hx LIMIT ?",
            (ns, prefix, prefix + "g", limit),
        )
        return [hx for (hx,) in rows]

    def alarms(self) -> Iterator[list]:
        """Rows with an alarm (from the alarm index): O(alarms)."""
        for t in self._read(f"SELECT {FIELDS} FROM objects WHERE alarm IS NOT NULL"):
            yield decode(t, self.path)

    def everything(self, ns: str | None) -> Iterator[list]:
        """Every row (of ``ns``), in key order: O(N), ~5 us a row for its checks."""
        where, args = ("WHERE ns = ?", (ns,)) if ns is not None else ("", ())
        for t in self._read(f"SELECT {FIELDS} FROM objects {where}", args):
            yield decode(t, self.path)

    def table(self, ns: str | None) -> list[tuple]:
        """Every row (of ``ns``) as ``(ns, hx, name, last_active, keys, bytes, alarm, calls, errors, 0)``,
        for the front ends' whole table: checked in the same scan, in C (``TABLE_CHECK``: the namespace
        one the counts name, the id 64 characters, the counts and times in range; the last field is 1 for
        a row that fails), not row by row in Python (the CRC and the id's keyed hash cost ~5 us a row,
        5 s at a million): a row used on its own (a page, a lookup, an alarm, a wake, a ``#hex``) is
        read whole. O(N), in C but the tuples.

        Read on a connection of its own, opened and closed here, so any thread may call it while the loop
        goes on with its reader: the sqlite3 module lets go of the GIL while SQLite steps through the
        rows, most of the cost (0.5-2 s at 120,000 rows). It sees every committed row, a round's too."""
        _seam("read", self.path)
        conn = self._connect(self.path)
        try:
            conn.execute("PRAGMA query_only = ON")
            where = "WHERE ns = :ns" if ns is not None else ""
            rows = conn.execute(
                f"SELECT ns, hx, name, last_active, keys, bytes, alarm, calls, errors, NOT ({TABLE_CHECK}) "
                f"FROM objects {where}",
                {"ns": ns, **TABLE_BOUNDS},
            ).fetchall()
        except sqlite3.Error as exc:
            raise _oserror(exc, self.path) from None
        finally:
            conn.close()
        for r in rows:
            if r[-1]:
                raise Damaged(f"{self.path}: the row {values.shown(list(r[:2]))} is not one the engine wrote")
        return rows

    # ------------------------------------------------------------ writing (the checkpoint thread)
    def fold_log(self, limit: int | None = None) -> bool:
        """Copy the write-ahead log into the file and truncate it, once it is past ``limit`` bytes;
        True if it was folded whole. Called between rounds, when the loop's reader holds no snapshot:
        while one is held SQLite can never start the log over, so without this it grows by every
        round for good (600 MB in two and a half minutes of bench/longrun.py). O(log pages).
        Raises ``OSError``; a failed or partial fold loses nothing (the log stays valid)."""
        wal = self.path + "-wal"
        try:
            if self._writer is None or os.lstat(wal).st_size <= (WAL_LIMIT if limit is None else limit):
                return False
        except FileNotFoundError:
            return False
        _seam("fsync", self.path)
        try:
            busy, _, _ = self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            raise _oserror(exc, self.path) from None
        return busy == 0

    # ------------------------------------------------------------ writing (the checkpoint thread)
    def write(self, rows: list[list]) -> None:
        """Upsert ``rows`` in one transaction, durable when it returns (WAL, synchronous FULL).
        O(rows log N). Raises ``OSError``; on failure nothing of it is applied."""
        if self._writer is None:
            conn = self._connect(self.path)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                conn.close()
                raise _oserror(exc, self.path) from None
            self._writer = conn
        conn = self._writer
        _seam("write", self.path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(UPSERT, [encode(r) for r in rows])
                _seam("fsync", self.path)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            err = _oserror(exc, self.path)
            if isinstance(err, Damaged):
                self.damaged = str(err)
                raise OSError(errno.EIO, str(err), self.path) from None
            raise err from None

    def replace(self, rows: list[list]) -> None:
        """A new database holding exactly ``rows`` in place of whatever is there: built beside it
        under a temporary name (``disk.create_temporary``), synced, then the old file and its
        ``-wal``/``-shm`` removed and the new one renamed in. A kill at any point leaves the new
        database, or none (then the next start rebuilds from the checkpoints): never an old
        write-ahead log applied to a new file. O(N log N). The reader must be closed."""
        tmp, fd = disk.create_temporary(self.path)
        disk.close(fd)
        try:
            conn = self._connect(tmp)
            try:
                conn.execute("PRAGMA journal_mode = OFF")
                conn.execute("PRAGMA synchronous = OFF")
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {FORMAT}")
                conn.execute("BEGIN")
                tables = [sql for sql in SCHEMA if sql.startswith("CREATE TABLE")]
                for sql in tables:
                    conn.execute(sql)
                _seam("write", tmp)
                conn.executemany(
                    f"INSERT INTO objects ({FIELDS}) VALUES (?,?,?,?,?,?,?,?,?,?)", sorted(encode(r) for r in rows)
                )  # in key order, then the indexes: a bulk build
                conn.execute("INSERT INTO counts SELECT ns, count(*) FROM objects GROUP BY ns")
                for sql in SCHEMA:
                    if sql not in tables:
                        conn.execute(sql)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _oserror(exc, tmp) from None
            finally:
                conn.close()
            fd = disk.open(tmp, os.O_RDONLY)
            try:
                disk.fsync(fd)
            finally:
                disk.close(fd)
            with self._lock:
                if self._writer is not None:
                    self._writer.close()
                self._writer = None
            self.remove()
            disk.replace(tmp, self.path)
        except BaseException:
            if os.path.lexists(tmp):
                disk.remove(tmp)
            raise
        disk.fsync_dir(os.path.dirname(self.path) or ".")
        self.damaged = None

    def remove(self) -> None:
        """Remove the database, then its ``-wal`` and ``-shm`` (the log must never outlive its file)."""
        gone = False
        for p in (self.path, *(self.path + s for s in SIDE_FILES)):
            if os.path.lexists(p):
                disk.remove(p)
                gone = True
        if gone:
            disk.fsync_dir(os.path.dirname(self.path) or ".")
