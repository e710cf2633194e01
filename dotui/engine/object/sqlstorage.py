"""``ctx.storage`` of a SQLite-backed object: SQL, the KV API and the alarm in one database.

Every read and write goes to the object's own SQLite connection at once (synchronously, as
Cloudflare's). The writes since the last commit are one open SQLite transaction; the committer
ends it (``take_changes``: COMMIT) and makes it durable (the ``-wal`` fdatasync, sqlfile.py)
before any result that followed them is released (README, "Semantics": the output gate, unchanged). So calls
that arrive together share one COMMIT, a failing statement undoes only itself, and
``transaction_sync`` is a SAVEPOINT. KV values live in the hidden ``_cf_KV`` table (sqlkv.py), the
alarm in ``_cf_METADATA`` (docs/sqlite.md, "The API").
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

from ..durability import sqlfile
from ..errors import ObjectResetError, SqlError, TransactionError
from .alarmapi import AlarmApi
from .sqlapi import MAX_RESULT_ROWS, Cursor, Plans, Regulator, SqlApi, check_bindings, sql_error
from .sqlkv import KvApi, SqlKv
from .sqltxn import SqlTransactions
from .storage import Changes

_TAG = "/*dotui-engine*/"  # the engine's statements: never the text of an object's own (cache keys)
_AUTO_ROLLBACK = {"SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_NOMEM", "SQLITE_INTERRUPT"}


class SqlChanges(Changes):
    """What a SQLite-backed object's commit carries: the index's fields (the alarm) for the
    engine's log, and the ``-wal`` file the committer fdatasyncs. ``log_sync``: whether the log
    record must be durable too (docs/sqlite.md, "One fdatasync a commit"): when it changes the
    alarm, or is the first commit since the database was opened (the index may not know the
    object yet); otherwise it carries only the key and byte counts, which the database holds."""

    __slots__ = ("wal", "log_sync")

    def __init__(self, alarm_changed: bool, alarm: float | None, wal: str, log_sync: bool):
        super().__init__(False, {}, alarm_changed, alarm)
        self.wal = wal
        self.log_sync = log_sync

    def __bool__(self) -> bool:
        return True


class SqlStorage(SqlTransactions, SqlKv, AlarmApi):
    """The storage API of a SQLite-backed object (docs/sqlite.md). Created by the engine at wake,
    one per live object, over the connection ``sqlfile.open_database`` gave."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: str,
        history: Any,
        alarm: float | None,
        on_write: Callable[[], None],
        wait_durable: Callable[[], Any],
        has_alarm_handler: bool,
        on_lost: Callable[[BaseException], None],
        restored: bool = False,
    ):
        self._conn = conn
        self._path = path
        self._history = history  # sqlhistory.ObjectHistory: each commit's pages, the bookmarks
        self._wal = sqlfile.wal_of(path)
        self._logged = False  # a commit since the database was opened told the log of this object
        self._alarm = alarm
        self._on_write = on_write
        self._wait_durable = wait_durable
        self._on_lost = on_lost  # SQLite rolled back the open transaction itself: reset the object
        self._has_alarm_handler = has_alarm_handler
        self._page_size = sqlfile.page_size(conn)
        self._regulator = Regulator()
        conn.set_authorizer(self._regulator)
        self._plans = Plans()  # each query's statements, parsed once (sqlapi.py)
        self._read_ending = False  # the read transaction's end is scheduled (_end_read)
        self._dirty = False  # the open transaction holds writes not yet committed
        self._alarm_dirty = False
        self._depth = 0  # transaction_sync / transaction() savepoints open (len of _stack)
        self._stack: list[int] = []  # their serials, innermost last
        self._serial = 0
        self._kv_count: int | None = None
        self._closed = False
        self.sql = SqlApi(self)
        self.kv = KvApi(self)
        if restored:  # the alarm is the bookmark's now: the index and the scheduler hear of it
            self._alarm_dirty = True
            on_write()

    # ---------------------------------------------------------------- the connection
    def _check_open(self) -> None:
        if self._closed:
            raise ObjectResetError("this object was reset; a call still running on it cannot use its storage")

    def _trusted(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        """Run one of the engine's own statements (the authorizer lets it through)."""
        reg = self._regulator
        reg.trusted = True
        try:
            return self._conn.execute(sql + _TAG, params)
        finally:
            reg.trusted = False

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            self._trusted("BEGIN")

    def _wrote(self) -> None:
        if not self._dirty:
            self._dirty = True
            if not self._alarm_dirty:
                self._on_write()

    def _failed(self, exc: BaseException, had_txn: bool) -> None:
        """A statement failed; if SQLite rolled the whole transaction back (disk full, I/O error),
        the writes of every call since the last commit are gone: the object is reset."""
        if had_txn and not self._conn.in_transaction and (self._dirty or self._alarm_dirty):
            err = ObjectResetError(
                f"SQLite rolled back this object's uncommitted writes ({exc}); "
                "the object was reset to its last durable state"
            )
            self._on_lost(err)

    def _end_read(self) -> None:
        """Nothing was written: end the read transaction, so it holds no snapshot of the WAL, when
        the event loop next runs. The reads of one stretch of a call share it (a read inside an
        open transaction costs one statement; a BEGIN and a COMMIT around each read were two
        more: bench/README.md, "SQLite-backed objects beside workerd"). O(1)."""
        if self._read_ending or self._dirty or self._alarm_dirty or self._depth or not self._conn.in_transaction:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a test driving the storage directly): end it now
            self._end_read_now()
            return
        self._read_ending = True
        loop.call_soon(self._end_read_now)

    def _end_read_now(self) -> None:
        self._read_ending = False
        if not self._closed and not self._dirty and not self._alarm_dirty and self._depth == 0:
            if self._conn.in_transaction:
                self._trusted("COMMIT")

    # ---------------------------------------------------------------- SQL
    def run_sql(self, query: str, bindings: tuple) -> Cursor:
        """``sql.exec``: each statement in order, the bindings to the last; a cursor of the last.
        O(1) in Python for a query run before (its statements are remembered: ``Plans``) plus
        O(bindings) and O(rows returned); SQLite's own cost besides."""
        if self._closed:
            self._check_open()
        plan = self._plans.get(query)
        if bindings:
            check_bindings(bindings)
        reg, conn = self._regulator, self._conn
        if not conn.in_transaction:
            self._trusted("BEGIN")
        before = conn.total_changes
        last = plan[-1]
        cur = None
        try:
            for st in plan:
                reg.reset()
                args = bindings if st is last else ()
                cur = self._alter(st.text, args) if st.alter else conn.execute(st.text, args)
                if reg.asked:
                    st.writes = reg.saw_write
                if st.writes is not False:  # a write, or not seen by the authorizer: counted as one
                    self._wrote()
            assert cur is not None  # a plan holds at least one statement (split() raises SqlError)
            desc = cur.description
            rows = cur.fetchmany(MAX_RESULT_ROWS + 1) if desc else []
        except (sqlite3.Error, OverflowError, ValueError) as exc:
            error = sql_error(exc, reg)
            self._failed(exc, True)
            self._end_read()
            raise error from None
        if len(rows) > MAX_RESULT_ROWS:
            cur.close()
            self._end_read()
            raise SqlError(
                f"SQL query result set is too large: more than {MAX_RESULT_ROWS} rows; add a LIMIT "
                "clause or page with WHERE"
            )
        written = conn.total_changes - before
        if not self._dirty:
            self._end_read()
        return Cursor([d[0] for d in desc] if desc else [], rows, len(rows), written)

    def _alter(self, stmt: str, bindings: tuple) -> sqlite3.Cursor:
        """ALTER TABLE inside a savepoint, undone if it named a table ``_cf_...`` (SQLite's authorizer
        does not show the new name of a RENAME; workerd's patched SQLite does)."""
        self._trusted("SAVEPOINT _cf_alter")
        try:
            cur = self._conn.execute(stmt, bindings)
        except BaseException:
            self._trusted("ROLLBACK TO _cf_alter")
            self._trusted("RELEASE _cf_alter")
            raise
        taken = self._trusted(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_cf\\_%' ESCAPE '\\' "
            "AND name NOT IN ('_cf_KV', '_cf_METADATA')"
        ).fetchone()[0]
        if taken:
            self._trusted("ROLLBACK TO _cf_alter")
            self._trusted("RELEASE _cf_alter")
            refused = sqlite3.DatabaseError("not authorized")
            refused.sqlite_errorname = "SQLITE_AUTH"
            raise refused
        self._trusted("RELEASE _cf_alter")
        return cur

    # ---------------------------------------------------------------- alarm
    def _set_alarm(self, when: float | None) -> None:
        self._check_open()
        self._begin()
        self._trusted(
            "INSERT INTO _cf_METADATA VALUES ('alarm', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (when,),
        )
        self._alarm = when
        if not self._alarm_dirty:
            self._alarm_dirty = True
            if not self._dirty:
                self._on_write()

    # ---------------------------------------------------------------- durability
    async def sync(self) -> None:
        """Return when every earlier write is durable."""
        if self._depth:
            raise TransactionError("storage.sync() inside a transaction would wait for the commit it holds back")
        await self._wait_durable()

    def __bool__(self) -> bool:  # "has uncommitted writes"
        return self._dirty or self._alarm_dirty

    def take_changes(self) -> SqlChanges | None:
        """(Committer) COMMIT the open transaction; what the commit carries. None while a
        transaction is open or nothing was written. An error (the commit failed: nothing of it
        is kept) is raised to the committer, which resets the object."""
        if self._depth or not self or self._closed:
            return None
        changes = SqlChanges(self._alarm_dirty, self._alarm, self._wal, self._alarm_dirty or not self._logged)
        self._logged = True
        self._dirty = self._alarm_dirty = False
        try:
            sqlfile.seam("write", self._path)
            if self._conn.in_transaction:  # (an alarm re-announced after a restore has none)
                self._trusted("COMMIT")
        except (OSError, sqlite3.Error):
            if self._conn.in_transaction:
                self._trusted("ROLLBACK")
            raise
        self._history.committed()  # an error fails this commit; the next wake catches the history up
        return changes

    def drop_changes(self) -> None:
        if self._conn.in_transaction:
            self._trusted("ROLLBACK")
        self._dirty = self._alarm_dirty = False
        self._depth = 0
        self._stack = []

    def pending(self) -> Changes:
        """What is written and not committed, as the inspector shows it (SQL changes are not
        listed key by key: ``puts`` is empty; ``pending_count`` says whether there are any)."""
        return Changes(False, {}, self._alarm_dirty, self._alarm)

    @property
    def pending_count(self) -> int:
        return int(self._dirty) + int(self._alarm_dirty)

    def close(self) -> None:
        """The object was reset: its uncommitted writes are rolled back; later calls raise
        ObjectResetError."""
        if self._closed:
            return
        try:
            self.drop_changes()
        except sqlite3.Error:
            pass
        self._closed = True
        self._history.close()
        sqlfile.close_quietly(self._conn)

    def release(self) -> None:
        """The object hibernates (nothing uncommitted): its history is made durable (closing lets
        SQLite checkpoint the WAL it was read from), then its connection closes."""
        if not self._closed:
            self._closed = True
            try:
                self._history.sync()
            finally:
                self._history.close()
                sqlfile.close_quietly(self._conn)

    # ---------------------------------------------------------------- point-in-time recovery
    async def get_current_bookmark(self) -> str:
        """A bookmark of the state after every write made so far (once they are durable)."""
        await self.sync()
        return self._history.current_bookmark()

    async def get_bookmark_for_time(self, when: Any) -> str:
        """The bookmark of the state at ``when`` (an aware datetime or epoch seconds): its last
        commit at or before then. ValueError for a time in the future or past the history kept."""
        t = when.timestamp() if hasattr(when, "timestamp") else when
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise TypeError(f"get_bookmark_for_time takes a datetime or epoch seconds, not {type(when).__name__}")
        await self.sync()
        return self._history.bookmark_for_time(float(t))

    async def on_next_session_restore_bookmark(self, bookmark: str) -> str:
        """When the object next starts (after ``ctx.abort()``, a reset or a restart), it is exactly as
        it was at ``bookmark``: SQL, KV and alarm. Returns the bookmark of the state now, which
        undoes the restore. A bookmark of another object, from the future or older than the history
        kept is refused (ValueError) and nothing is written."""
        self._check_open()
        seq = self._history.check_restorable(bookmark)
        await self.sync()
        undo = self._history.current_bookmark()
        self._history.request_restore(seq, self._path)
        return undo

    @property
    def closed(self) -> bool:
        return self._closed

    # ---------------------------------------------------------------- introspection
    @property
    def key_count(self) -> int:
        """KV keys: counted the first time a wake asks (a listing, a commit, a KV write; O(keys) in C),
        then kept by each write, O(1)."""
        return 0 if self._closed else self.counted_keys()

    @property
    def byte_size(self) -> int:
        if self._closed:
            return 0
        return self._trusted("PRAGMA page_count").fetchone()[0] * self._page_size  # O(1): read at each commit

    @property
    def alarm_epoch(self) -> float | None:
        return self._alarm
