"""``storage.transaction()`` and ``transaction_sync(fn)`` of the SQLite backend: SAVEPOINTs in the
object's open transaction (docs/sqlite.md, "The API").

The methods here are the ``SqlStorage``'s (sqlstorage.py mixes them in); they own the stack of open
savepoints (``_stack``, ``_depth``, ``_serial``) and restore the alarm and the KV count from a
savepoint's mark when it rolls back. A transaction is synchronous: an await inside one raises
(``await_error``), and one the loop ran past is rolled back (``SqlTransaction._loop_ran``).
"""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
from collections.abc import Callable
from typing import Any, Literal

from ..errors import TransactionError
from ..loopinternals import release_yielded


class SqlTransactions:
    """The transaction methods of ``SqlStorage``."""

    # The fields of the SqlStorage these methods run on (set in SqlStorage.__init__; declared here for
    # the type checker); the first three are these methods' own.
    _depth: int  # savepoints open (len of _stack)
    _stack: list[int]  # their serials, innermost last
    _serial: int
    _closed: bool
    _dirty: bool
    _alarm: float | None
    _alarm_dirty: bool
    _kv_count: int | None
    _on_write: Callable[[], None]

    def _check_open(self) -> None:
        raise NotImplementedError

    def _begin(self) -> None:
        raise NotImplementedError

    def _end_read(self) -> None:
        raise NotImplementedError

    def _trusted(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        raise NotImplementedError

    def transaction_sync(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` all or nothing: if it raises, every write it made is undone and the error
        raised; its result otherwise. ``fn`` is synchronous (an async function is refused)."""
        if inspect.iscoroutinefunction(fn):
            raise TypeError(
                "transaction_sync(fn) runs fn synchronously; fn is an async function. Use "
                "`with ctx.storage.transaction():` around synchronous writes instead"
            )
        with self.transaction():
            result = fn()
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise TypeError(
                    "transaction_sync(fn): fn returned an awaitable; it must be synchronous "
                    "(its writes were rolled back)"
                )
            return result

    def transaction(self) -> SqlTransaction:
        """``with storage.transaction() as txn:`` a SAVEPOINT; an exception inside, or
        ``txn.rollback()``, undoes the block's writes. An await inside raises TransactionError."""
        return SqlTransaction(self)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def await_error(self, call: Any, coro: Any = None, yielded: Any = None) -> TransactionError | None:
        """The error an await inside an open transaction raises instead of suspending (other calls
        would run inside it)."""
        if self._depth == 0:
            return None
        release_yielded(yielded)
        return TransactionError(
            "storage.transaction() / transaction_sync() cannot span an await: a transaction is "
            "synchronous, as Cloudflare's transactionSync, since other calls run at an await. Finish the "
            "transaction before awaiting."
        )

    def _savepoint(self) -> tuple:
        """Open a savepoint; the mark that ends it (its serial and what to restore on rollback)."""
        self._check_open()
        self._begin()
        self._serial += 1
        self._stack.append(self._serial)
        self._depth = len(self._stack)  # open: no read may end the transaction under it (_end_read)
        self._trusted(f"SAVEPOINT _cf_txn{self._serial}")
        return self._serial, self._alarm, self._alarm_dirty, self._kv_count

    def _release(self, mark: tuple, rollback: bool) -> None:
        """End the savepoint of ``mark`` (and any opened inside it and still open: rolled back)."""
        serial, alarm, alarm_dirty, kv_count = mark
        if self._closed or serial not in self._stack:
            return
        inner = self._stack[self._stack.index(serial) + 1 :]
        if inner:
            rollback = True
        del self._stack[self._stack.index(serial) :]
        self._depth = len(self._stack)
        if rollback:
            self._trusted(f"ROLLBACK TO _cf_txn{serial}")
            self._alarm, self._alarm_dirty, self._kv_count = alarm, alarm_dirty, kv_count
        self._trusted(f"RELEASE _cf_txn{serial}")
        if self._depth == 0:
            if self._dirty or self._alarm_dirty:
                self._on_write()  # the commit the transaction held back may go now
            else:
                self._end_read()
        if inner:
            raise TransactionError(
                f"storage.transaction() ended out of order: {len(inner)} transaction(s) opened "
                "inside it were still open; this one and those inside it were rolled back"
            )

    def open_mark(self, mark: tuple) -> bool:
        """Whether the savepoint of ``mark`` is still open."""
        return not self._closed and mark[0] in self._stack


class SqlTransaction:
    """``with storage.transaction() as txn`` of the SQLite backend: a SAVEPOINT."""

    __slots__ = ("_storage", "_mark", "rolled_back", "_loop_check")

    def __init__(self, storage: SqlTransactions):
        self._storage = storage
        self._mark: tuple | None = None
        self.rolled_back = False

    def __enter__(self) -> SqlTransaction:
        if self._mark is not None:
            raise TransactionError("a storage.transaction() can be entered once; open a new one")
        self._mark = self._storage._savepoint()
        try:
            asyncio.get_running_loop().call_soon(self._loop_ran)
        except RuntimeError:
            pass
        return self

    def _loop_ran(self) -> None:
        """The event loop ran with the transaction still open (it spans an await the engine does
        not drive): undo it now, so no other call writes inside it."""
        mark = self._mark
        if mark is not None and self._storage.open_mark(mark):
            self.rolled_back = True
            try:
                self._storage._release(mark, rollback=True)
            except TransactionError:
                pass

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        mark = self._mark
        if mark is None:
            raise TransactionError("this storage.transaction() was never entered")
        self._storage._release(mark, rollback=exc_type is not None or self.rolled_back)
        return False

    def rollback(self) -> None:
        """Discard this transaction's writes when the block ends."""
        self.rolled_back = True

    def __getattr__(self, name: str) -> Any:
        if name in (
            "get",
            "put",
            "delete",
            "list",
            "get_alarm",
            "set_alarm",
            "delete_alarm",
            "delete_all",
            "sql",
            "kv",
        ):
            return getattr(self._storage, name)
        raise AttributeError(name)
