"""``storage.transaction()`` of the KV backend: an undo log of one call's writes.

The methods here are the KV ``Storage``'s (it mixes them in); they own ``_txns`` and
``_aborted`` and restore ``_data``/``_dirty``/``_alarm`` from each transaction's frame.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Literal

from .. import values
from ..errors import TransactionError
from ..loopinternals import release_yielded
from .owners import awaited, finished, who
from .owners import owner as current_owner

MAX_AWAIT_REFUSALS = 100  # awaits refused to one transaction before it is rolled back instead

_MISSING = object()
_ALARM = object()
_log = logging.getLogger("dotui")


class KvTransactions:
    """The transaction methods of the KV ``Storage`` (storage.py)."""

    # The fields of the Storage these methods run on (set in Storage.__init__; declared here for the type checker).
    _data: dict[str, Any]
    _sizes: dict[str, int]
    _bytes: int | None
    _sorted: list[str] | None
    _alarm: float | None
    _alarm_dirty: bool
    _dirty: dict[str, str | None]
    _cleared: bool
    _closed: bool
    _on_write: Callable[[], None]
    _txns: list[Transaction]
    _aborted: list[Transaction]

    def transaction(self) -> Transaction:
        """``with storage.transaction() as txn:`` all-or-nothing writes (README, "Storage").

        An exception inside, or ``txn.rollback()``, undoes the block's writes.
        Like Cloudflare's ``transactionSync`` it is synchronous: an await inside
        raises ``TransactionError`` (see ``await_error``). The commit that makes
        its writes durable waits until the block ends.
        """
        return Transaction(self)

    @property
    def in_transaction(self) -> bool:
        return bool(self._txns)

    def await_error(self, call: Any, coro: Any = None, yielded: Any = None) -> TransactionError | None:
        """The error a call's await must raise instead of suspending, or None.

        The call driver asks this at every suspension: an await with a transaction
        open would let other calls run inside it. ``yielded`` (what the await
        handed to the task) is released as the task would, so it can be awaited again.
        """
        if not self._txns:
            return None
        outermost = self._txns[0]
        outermost._refusals += 1
        if outermost._refusals > MAX_AWAIT_REFUSALS:
            # Its code catches the error and awaits again, and again: let the await
            # happen rather than spin the loop, and end the transaction instead.
            self._abort_all(f"its code went on awaiting after {MAX_AWAIT_REFUSALS} refusals")
            return None
        release_yielded(yielded)
        owner = outermost._owner
        what = awaited(coro)
        whose = "" if owner is call else ", which waits on this call"
        return TransactionError(
            f"storage.transaction() of {who(owner)}{whose} cannot span an await (of {what}): "
            "a transaction is synchronous, as Cloudflare's transactionSync, since other calls run at "
            "an await. The await raises this error instead, so the with block rolls the transaction "
            "back. Finish the transaction before awaiting, or use ctx.block_concurrency_while to keep "
            "other calls out across the await and write without a transaction."
        )

    def _check_writer(self, owner: Any) -> None:
        """Only the call that opened the transaction writes while it is open (README, "Storage")."""
        for txn in self._aborted:
            if txn._owner is owner:
                raise txn._ended_error()
        if self._txns and self._txns[0]._owner is not owner:
            raise TransactionError(
                f"{who(owner)} cannot write to this object while {who(self._txns[0]._owner)} has a "
                "storage.transaction() open on it: a transaction undoes only its own call's writes. "
                "(A call back into an object from inside its transaction is such a case: end the "
                "transaction before calling out.)"
            )

    def _open(self, txn: Transaction) -> None:
        owner = current_owner()
        self._check_writer(owner)
        txn._owner = owner
        self._txns.append(txn)
        if len(self._txns) == 1:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            # Runs only once the code that opened it yields to the loop.
            loop.call_soon(self._loop_ran, txn)

    def _end(self, txn: Transaction, rollback: bool) -> None:
        """``txn`` ends; transactions opened inside it and still open are rolled back with it."""
        txns = self._txns
        i = next((n for n, t in enumerate(txns) if t is txn), None)
        if i is None:
            return
        inner = len(txns) - i - 1
        if inner:
            self._abort_from(i + 1, "it was still open when an enclosing transaction ended (out of order)")
            rollback = True
        txns.pop()
        if rollback:
            self._rollback(txn._frame)
        elif txns:
            outer = txns[-1]._frame
            for k, old in txn._frame.items():
                outer.setdefault(k, old)
        if not txns and self and not self._closed:
            self._on_write()  # writes held back by the transaction may commit now
        if inner:
            raise TransactionError(
                f"storage.transaction() ended out of order: {inner} transaction(s) opened inside it "
                "were still open. Transactions end innermost first (use with blocks); this one and those "
                "inside it were rolled back."
            )

    def _abort_from(self, i: int, reason: str) -> None:
        """Roll back the open transactions from the ``i``-th on; their code fails when it goes on."""
        self._aborted = [t for t in self._aborted if not finished(t._owner)]
        for t in reversed(self._txns[i:]):
            self._rollback(t._frame)
            t._abort(reason)
            self._aborted.append(t)
        del self._txns[i:]

    def _forget_aborted(self, txn: Transaction) -> None:
        self._aborted = [t for t in self._aborted if t is not txn]

    def _loop_ran(self, txn: Transaction) -> None:
        """The event loop ran while ``txn`` was open: it spans an await the engine does not drive
        (a task of the object's own) or was never ended. Roll it back now, so other calls neither
        see its writes nor wait for its commit, and fail its code when it goes on."""
        if self._txns and self._txns[0] is txn:
            self._abort_all(
                "it was still open when the event loop ran other work: it spanned an await "
                "(in a task the engine does not drive) or was never ended"
            )

    def _abort_all(self, reason: str) -> None:
        _log.warning("storage.transaction() of %s rolled back: %s", who(self._txns[0]._owner), reason)
        self._abort_from(0, reason)
        if not self._closed:
            # Results of other calls may wait on the commit it held back: owe them one.
            self._owed = True
            self._on_write()

    def _remember(self, key: str) -> None:
        frame = self._txns[-1]._frame
        if key not in frame:
            frame[key] = (self._data.get(key, _MISSING), self._dirty.get(key, _MISSING))

    def _remember_alarm(self) -> None:
        frame = self._txns[-1]._frame
        if _ALARM not in frame:
            frame[_ALARM] = (self._alarm, self._alarm_dirty)

    def _rollback(self, frame: dict) -> None:
        for k, (old, old_dirty) in frame.items():
            if k is _ALARM:
                self._alarm, self._alarm_dirty = old, old_dirty
                continue
            if old is _MISSING:
                self._data.pop(k, None)
            else:
                self._data[k] = old
            self._sizes.pop(k, None)
            if old_dirty is _MISSING:
                self._dirty.pop(k, None)
            else:
                self._dirty[k] = old_dirty
        # A rolled-back delete_all cannot be undone key by key in the log record.
        # Write back every key the frame restored, so the record's clear is harmless.
        if self._cleared:
            for k in self._data:
                if k not in self._dirty:
                    self._dirty[k] = values.encode(self._data[k])
        self._sorted = None
        self._bytes = None


class Transaction:
    """``with storage.transaction() as txn``: reads and writes as storage does; ``txn.rollback()``.

    Entered once; ends innermost first; only its owner (the call that entered it) writes while it
    is open.
    """

    __slots__ = ("_storage", "_frame", "_owner", "rolled_back", "_state", "_reason", "_refusals")

    def __init__(self, storage: Any):
        self._storage = storage
        self._frame: dict = {}  # key -> (old value, old uncommitted text): the undo log
        self._owner: Any = None
        self.rolled_back = False
        self._state = "new"  # -> "open" -> "ended", or "open" -> "aborted" -> "ended"
        self._reason = ""
        self._refusals = 0  # awaits refused while it was open (Storage.await_error)

    def __enter__(self) -> Transaction:
        if self._state != "new":
            raise TransactionError("a storage.transaction() can be entered once; open a new one")
        self._storage._open(self)
        self._state = "open"
        return self

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        state, self._state = self._state, "ended"
        if state == "aborted":
            self._storage._forget_aborted(self)
            if exc_type is None or not issubclass(exc_type, TransactionError):
                raise self._ended_error()
            return False
        if state != "open":
            raise TransactionError(f"this storage.transaction() is not open (it is {state})")
        self._storage._end(self, rollback=exc_type is not None or self.rolled_back)
        return False

    def _abort(self, reason: str) -> None:
        """Rolled back by the storage: its code fails when it goes on."""
        self._state = "aborted"
        self._reason = reason

    def _ended_error(self) -> TransactionError:
        return TransactionError(
            f"storage.transaction() of {who(self._owner)} was rolled back: {self._reason}. "
            "Its call may not write until the with block ends."
        )

    def rollback(self) -> None:
        """Discard this transaction's writes when the block ends."""
        self.rolled_back = True

    def __getattr__(self, name: str) -> Any:
        if name in ("get", "put", "delete", "list", "get_alarm", "set_alarm", "delete_alarm", "delete_all"):
            if self._state == "aborted":
                raise self._ended_error()
            return getattr(self._storage, name)
        raise AttributeError(name)
