"""One SQLite-backed object's database file: opening it, making its commits durable, checkpointing it.

The layout (docs/sqlite.md, "Layout"): ``<data>/<Namespace>/<id hex>.sqlite`` in WAL mode, with
``synchronous=NORMAL`` and SQLite's automatic checkpoint off. SQLite writes a COMMIT's pages to the
``-wal`` file without syncing it; the engine's committer then fdatasyncs every ``-wal`` of a group
commit at once on a small thread pool (``sync_wals``), through the ``disk.py`` seam, before any
result waiting on the commit is released. The background checkpointer copies the WAL into the
database (``checkpoint``: SQLite syncs the WAL and the database around the copy).

Where SQLite does its own I/O (opening the file, a COMMIT's writes, a checkpoint), this module is
the seam: each of those sqlite3 calls first asks ``disk.faults`` whether the operation (``open``,
``write``, ``fsync``) on the database's path should fail, so a test can make it fail once or for
good as it does every other disk operation.

The file is input (docs/trust.md, "SQLite databases"): opened with ``cell_size_check=ON``, no
memory map and workerd's limits, its ``_cf_METADATA`` must name this object, no trigger may be on an
engine table (``_cf_``: the authorizer lets no object make one), and anything SQLite cannot read is
``BrokenObjectError`` naming the file: only that object is broken, the file is left as it is.

``trusted_schema`` is ON, as workerd leaves it: a trigger may write an FTS5 table (workerd's
sql-test.js does; SQLite refuses a virtual table in a trigger under OFF). What OFF would add is
refusing, inside the schema, functions that are neither innocuous nor direct-only: the authorizer
already limits every statement, a trigger's body too when it runs, to workerd's list of functions,
the engine registers none of its own, and the direct-only ones (``load_extension``) stay refused in a
schema whatever the setting. The read-only connection of ``sqlview`` keeps it OFF (it fires no
trigger, and reads an FTS5 table directly).
"""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..errors import BrokenObjectError
from . import disk, pitr, schema

SUFFIX = ".sqlite"
SYNC_THREADS = 8  # fdatasyncs of one group commit run at once (docs/sqlite.md: ~one fdatasync's time)

# The engine's own tables, hidden from the object's SQL (the ``_cf_`` prefix, as Cloudflare's).
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _cf_METADATA (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
)

# Cloudflare's limits of an object's SQL (workerd sets the same, after sqlite.org/security.html).
_LIMITS = (
    ("SQLITE_LIMIT_LENGTH", 4 * 1024 * 1024),
    ("SQLITE_LIMIT_SQL_LENGTH", 100_000),
    ("SQLITE_LIMIT_COLUMN", 100),
    ("SQLITE_LIMIT_EXPR_DEPTH", 100),
    ("SQLITE_LIMIT_COMPOUND_SELECT", 5),
    ("SQLITE_LIMIT_VDBE_OP", 25_000),
    ("SQLITE_LIMIT_FUNCTION_ARG", 127),
    ("SQLITE_LIMIT_ATTACHED", 0),
    ("SQLITE_LIMIT_LIKE_PATTERN_LENGTH", 50),
    ("SQLITE_LIMIT_VARIABLE_NUMBER", 100),
    ("SQLITE_LIMIT_TRIGGER_DEPTH", 10),
    ("SQLITE_LIMIT_WORKER_THREADS", 0),
)

_pool: ThreadPoolExecutor | None = None


def seam(op: str, path: str) -> None:
    """Raise the ``OSError`` a test planned for ``op`` on ``path`` (disk.py's fault plan); O(1) when
    none is planned. Called before each sqlite3 call that does I/O of its own."""
    if disk.faults.active:
        disk.faults.check(op, path)


def path_of(data_dir: str, namespace: str, hx: str) -> str:
    """``<data>/<namespace>/<id>.sqlite``: built, as every object path, only from a class name and
    an id of it (schema.py); ``schema.Malformed`` otherwise."""
    return os.path.join(data_dir, schema.namespace(namespace), f"{schema.object_id(namespace, hx)}{SUFFIX}")


def wal_of(path: str) -> str:
    return path + "-wal"


def _broken(path: str, what: str) -> BrokenObjectError:
    return BrokenObjectError(
        f"cannot read {path}: {what}; the file was left as it is: restore it from a backup, or move "
        "it away (with its -wal file) to start this object empty"
    )


def _prepare_file(path: str) -> None:
    """Make the folder and an empty private file (0600, created exclusively) unless one is there;
    refuse a link or anything but a regular file (disk.open's checks)."""
    disk.makedirs(os.path.dirname(path), f"folder of class {os.path.basename(os.path.dirname(path))}'s objects")
    try:
        fd = disk.open(path, os.O_RDONLY)
    except FileNotFoundError:
        fd = disk.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    disk.close(fd)


def connect(path: str) -> sqlite3.Connection:
    """A connection with the engine's settings: WAL, synchronous=NORMAL, no automatic checkpoint,
    SQLite's defensive settings and Cloudflare's limits. Autocommit mode: the caller BEGINs."""
    seam("open", path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
    try:
        for name, value in _LIMITS:
            code = getattr(sqlite3, name, None)
            if code is not None:
                conn.setlimit(code, value)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise sqlite3.DatabaseError(f"it cannot be put in WAL mode (journal mode {mode!r})")
        for pragma in (
            "synchronous=NORMAL",
            "wal_autocheckpoint=0",
            "trusted_schema=ON",  # as workerd: an FTS5 table written from a trigger (the docstring says why)
            "cell_size_check=ON",
            "mmap_size=0",
            "foreign_keys=ON",
        ):
            conn.execute(f"PRAGMA {pragma}")
    except BaseException:
        conn.close()
        raise
    return conn


def open_database(path: str, namespace: str, hx: str, name: str | None) -> tuple[sqlite3.Connection, float | None]:
    """(connection, alarm) of the object's database, made if it is new; O(1) in its size.

    ``BrokenObjectError`` naming the file if SQLite cannot read it or its metadata names another
    object; ``OSError`` for an I/O error that may pass (the next call tries again).
    """
    _prepare_file(path)
    try:
        conn = connect(path)
    except sqlite3.DatabaseError as exc:
        raise _broken(path, f"SQLite cannot open it ({exc})") from None
    try:
        alarm = _check_metadata(conn, path, namespace, hx, name)
    except BaseException:
        conn.close()
        raise
    return conn, alarm


def _check_metadata(conn: sqlite3.Connection, path: str, namespace: str, hx: str, name: str | None) -> float | None:
    """Make the engine's tables if missing; check the metadata names this object; its alarm."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        for stmt in SCHEMA:
            conn.execute(stmt)
        meta = dict(
            conn.execute("SELECT key, value FROM _cf_METADATA WHERE key IN ('namespace', 'id', 'name', 'alarm')")
        )
        planted = conn.execute(  # O(schema): no object can make one (the authorizer), so the file was edited
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE '\\_cf\\_%' ESCAPE '\\'"
        ).fetchone()
        if "id" not in meta:
            conn.executemany(
                "INSERT INTO _cf_METADATA VALUES (?, ?)", (("namespace", namespace), ("id", hx), ("name", name))
            )
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise _broken(path, f"SQLite cannot read it ({exc})") from None
    if planted is not None:
        raise _broken(
            path,
            f"it holds a trigger ({planted[0]!r}) on the engine's table {planted[1]!r}, which no "
            "object can make: the file was edited outside dotui",
        )
    try:
        if "id" in meta:
            for field, mine in (("namespace", namespace), ("id", hx)):
                if meta.get(field) != mine:
                    raise schema.Malformed(
                        f"its {field} is {meta.get(field)!r}, not {mine!r} (a database of another object)"
                    )
            schema.name(meta.get("name"), namespace, hx)
        return schema.alarm(meta.get("alarm"))
    except schema.Malformed as exc:
        raise _broken(path, f"its _cf_METADATA is not this object's: {exc}") from None


def database_size(conn: sqlite3.Connection) -> int:
    """Bytes the database takes (pages in use times the page size); O(1)."""
    return conn.execute("PRAGMA page_count").fetchone()[0] * page_size(conn)


def page_size(conn: sqlite3.Connection) -> int:
    """The database's page size: fixed once it is in WAL mode (an object cannot set it: sqlapi.py)."""
    return conn.execute("PRAGMA page_size").fetchone()[0]


def _sync_one(path: str) -> None:
    fd = disk.open(path, os.O_RDONLY)
    try:
        disk.fdatasync(fd)
    finally:
        disk.close(fd)


def begin_wal_syncs(paths: list[str]) -> list[Future]:
    """Start an fdatasync of each ``-wal`` file on the pool (``end_wal_syncs`` waits for them): the
    committer appends its log record meanwhile, so a commit waits about one fdatasync, not two."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="dotui-wal-sync")
    return [_pool.submit(_sync_one, p) for p in paths]


def end_wal_syncs(futures: list[Future]) -> None:
    """Wait for every sync ``begin_wal_syncs`` started; raise the first error once all have ended."""
    errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e


def sync_wals(paths: list[str]) -> None:
    """fdatasync each ``-wal`` file, all at once on the pool (one alone on this thread, without a
    hand-off to the pool). O(files) syncs, about one's latency."""
    if len(paths) == 1:
        _sync_one(paths[0])
        return
    end_wal_syncs(begin_wal_syncs(paths))


def checkpoint(path: str) -> None:
    """(Checkpoint thread) Copy the committed WAL into the database (SQLite syncs both around it),
    on a connection of its own; a live object's writes go on meanwhile (PASSIVE). O(WAL)."""
    seam("fsync", path)
    pitr.sync_path(pitr.history_of(path))  # before SQLite may overwrite the WAL the history was read from
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.DatabaseError as exc:
        raise OSError(f"cannot open {path} to checkpoint it: {exc}") from None
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.DatabaseError as exc:
        raise OSError(f"checkpoint of {path} failed: {exc}") from None
    finally:
        conn.close()


def backend_of_folder(folder: str) -> str | None:
    """ "sqlite" or "kv" by the first object file found in a class's folder; None when it holds
    none. O(1) for a folder of one kind (the scan stops at the first object file)."""
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.endswith(SUFFIX):
                    return "sqlite"
                if entry.name.endswith(".json"):
                    return "kv"
    except (FileNotFoundError, NotADirectoryError):
        return None
    return None


def is_sqlite(data_dir: str, namespace: str, hx: str) -> bool:
    """Whether the object has a database file (it is SQLite-backed). One lstat: O(1)."""
    try:
        return os.path.lexists(path_of(data_dir, namespace, hx))
    except schema.Malformed:
        return False


def close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass


def alarms_of_open_databases(data_dir: str, namespaces: list[str]) -> dict[tuple[str, str], float | None]:
    """(At start, before recovery) The alarm in each SQLite-backed database left with a ``-wal`` (the
    objects that were live when the engine stopped: a hibernation closes the database, and that
    removes it). A kill between an object's COMMIT and the log append that follows leaves a commit
    in the database that the index never heard of: its alarm is read here, and ``reconcile_alarms``
    tells the index. O(files in those folders); only databases with a WAL are opened (read-only).
    A database that cannot be read is left out (its wake says why)."""
    found: dict[tuple[str, str], float | None] = {}
    for ns in namespaces:
        folder = os.path.join(data_dir, ns)
        try:
            names = [n for n in os.listdir(folder) if n.endswith(SUFFIX + "-wal")]
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            hx = name[: -len(SUFFIX + "-wal")]
            try:
                found[(ns, hx)] = alarm_of(path_of(data_dir, ns, hx))
            except (schema.Malformed, sqlite3.Error, OSError):
                continue
    return found


def alarm_of(path: str) -> float | None:
    """The alarm a database holds, read on a read-only connection of its own; O(1)."""
    return meta_of(path)["alarm"]


def meta_of(path: str) -> dict[str, Any]:
    """{name, alarm, bytes} of a database, read on a read-only connection of its own, each field
    checked (schema.py); O(1). ``schema.Malformed`` for metadata the engine does not write."""
    seam("open", path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = dict(
            conn.execute("SELECT key, value FROM _cf_METADATA WHERE key IN ('namespace', 'id', 'name', 'alarm')")
        )
        size = database_size(conn)
    finally:
        conn.close()
    ns, hx = os.path.basename(os.path.dirname(path)), os.path.basename(path)[: -len(SUFFIX)]
    if meta.get("namespace", ns) != ns or meta.get("id", hx) != hx:
        raise schema.Malformed(f"its metadata names {meta.get('namespace')}/{meta.get('id')}, not this file's object")
    return {"name": schema.name(meta.get("name"), ns, hx), "alarm": schema.alarm(meta.get("alarm")), "bytes": size}


def reconcile_alarms(index, found: dict[tuple[str, str], float | None]) -> int:
    """Set each index entry's alarm to its database's (``found``); how many changed."""
    changed = 0
    for (ns, hx), alarm in found.items():
        e = index.get(ns, hx)
        if e is not None and e.alarm != alarm:
            index.ensure(ns, hx, None).alarm = alarm
            changed += 1
    return changed


def reconcile_one(data_dir: str, key: tuple[str, str], index) -> float | None:
    """(A commit of ``key`` failed after its COMMIT) Tell the index the alarm its database holds (the
    database may hold an alarm the index never heard of: docs/sqlite.md, "Layout"); the alarm to
    schedule if it changed. O(1). Unreadable now: None, and its next wake reconciles instead."""
    try:
        alarm = alarm_of(path_of(data_dir, *key))
    except (schema.Malformed, sqlite3.Error, OSError):
        return None
    return alarm if reconcile_alarms(index, {key: alarm}) else None


def storage_view(data_dir: str, namespace: str, oid: Any, pending: Any = None) -> dict[str, Any]:
    """What the storage inspector shows of a SQLite-backed object, in the KV backend's shape
    (``DurableState.storage_view``): its KV keys and alarm as committed in the database (read-only,
    wakes nothing; nothing is "logged" apart: a commit is in the database). ``pending`` (the live
    storage's) is not shown key by key: uncommitted SQL writes are one open transaction. O(keys).
    Its SQL is ``sql_tables``'s."""
    from .. import values

    path = path_of(data_dir, namespace, oid.hex)
    found: dict[str, Any] = {}
    meta: dict[str, Any] = {"name": None, "alarm": None}
    if os.path.lexists(path):
        meta = meta_of(path)
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = {k: values.decode(v) for k, v in conn.execute("SELECT key, value FROM _cf_KV ORDER BY key")}
        finally:
            conn.close()
    shown = {"put": {}, "deleted": [], "cleared": False}
    return {
        "namespace": namespace,
        "id": oid.hex,
        "name": oid.name or meta.get("name"),
        "path": path,
        "values": found,
        "alarm": meta.get("alarm"),
        "checkpoint": dict(found),
        "checkpoint_saved_at": None,
        "logged": {"cleared": False, "put": {}, "deleted": []},
        "pending": shown,
        "backend": "sqlite",
    }
