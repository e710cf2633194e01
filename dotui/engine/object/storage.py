"""``ctx.storage``: an object's durable key-value storage, served from memory.

Reads and writes are synchronous and act on memory at once; the engine's output
gate makes the writes durable (see ``commit.py``) before any result that follows
them is released. Every value goes in and comes out as a copy.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as _dt
import logging
from typing import Any, Callable

from .. import values
from ..errors import TransactionError

MAX_KEY_BYTES = 2048
MAX_VALUE_BYTES = 128 * 1024
MAX_DEPTH = values.MAX_DEPTH  # lists and dicts nested in one value
MAX_BATCH_KEYS = 128
MAX_AWAIT_REFUSALS = 100  # awaits refused to one transaction before it is rolled back instead

_MISSING = object()
_log = logging.getLogger("dotui")


def _key_bytes(key: Any) -> int:
    if not isinstance(key, str):
        raise TypeError(f"storage keys must be str, not {type(key).__name__} ({values.shown(key)})")
    if key.isascii() and len(key) <= MAX_KEY_BYTES:
        return len(key)
    try:
        size = len(key.encode())
    except UnicodeEncodeError:
        where = values.find_surrogate(key, "the key")
        raise TypeError(
            f"storage key {key[:40]!r} is not valid Unicode text: {where} is a lone surrogate, "
            "which UTF-8 cannot encode. Keys must be encodable text."
        ) from None
    if size > MAX_KEY_BYTES:
        raise ValueError(
            f"Keys cannot be larger than {MAX_KEY_BYTES} bytes; this key is {size} bytes "
            f"(starts {key[:32]!r}). Use a shorter key, e.g. a hash of it."
        )
    return size


_SMALL_INT = 10**18  # an int this small is its own JSON text, whatever Python's digit limits


def _value_text(key: str, value: Any) -> tuple[str, int]:
    """The JSON text of the value of ``key`` and its size in UTF-8 bytes, or the error saying why not."""
    if type(value) is int and -_SMALL_INT < value < _SMALL_INT:  # a counter's every write: no encoder
        text = int.__repr__(value)
        return text, len(text)
    where = f"the value of key {key!r}"
    try:
        text = values.encode(value, where)
    except values.NotJSONCompatible as exc:
        raise TypeError(f"cannot store key {key!r}: {exc}") from None
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode())
        except UnicodeEncodeError:
            raise TypeError(
                f"cannot store key {key!r}: {values.find_surrogate(value, where)} is a lone surrogate, "
                "which is not valid Unicode text (UTF-8 cannot encode it); nothing was stored. "
                "Store text only, or bytes as base64 text."
            ) from None
    if size > MAX_VALUE_BYTES:
        raise ValueError(
            f"Values cannot be larger than {MAX_VALUE_BYTES} bytes; the value of key "
            f"{key!r} is {size} bytes serialized. Split it over several keys."
        )
    return text, size


def check_key(key: Any) -> int:
    """What ``put``, ``get`` and ``delete`` check of a key; its size in UTF-8 bytes."""
    return _key_bytes(key)


def check_entry(key: Any, value: Any) -> None:
    """What ``put`` checks of one entry, before anything is stored: the key (a str of at most
    MAX_KEY_BYTES in UTF-8) and its value (JSON-compatible, at most MAX_DEPTH deep, MAX_VALUE_BYTES
    as JSON text, valid Unicode); TypeError or ValueError saying what is wrong, naming the key.
    Readers of the data folder hold what they read back to the same (docs/trust.md). O(size of
    the value); O(1) for a short key and a scalar or short ASCII text (most of what a wake reads)."""
    if type(key) is not str or len(key) > MAX_KEY_BYTES or not key.isascii():
        _key_bytes(key)
    kind = type(value)
    if kind is bool or value is None or (kind is int and -_SMALL_INT < value < _SMALL_INT):
        return
    if kind is str and value.isascii() and 6 * len(value) + 2 <= MAX_VALUE_BYTES:  # \u00XX at most
        return
    if kind is float and value - value == 0.0:  # finite: inf - inf and nan - nan are nan
        return
    _value_text(key, value)


def check_entries(entries: dict[Any, Any], may_hold_surrogates: bool = True) -> None:
    """``check_entry`` of every entry of ``entries``, raising as it does for the first bad one, in
    one walk over every value at once (a checkpoint's whole table at a wake: O(size), a few
    C-speed passes where one check per entry would pay a dozen calls each). ``may_hold_surrogates``
    False: the caller knows no str holds a lone surrogate (a text that spells none)."""
    if _entries_fit(entries, may_hold_surrogates):
        return
    for k, v in entries.items():
        check_entry(k, v)


def _entries_fit(entries: dict[Any, Any], may_hold_surrogates: bool) -> bool:
    """Whether every entry surely passes ``check_entry`` (False: check each to name the bad one)."""
    for k in entries:
        if type(k) is not str or len(k) > MAX_KEY_BYTES or not k.isascii():
            return False
    if not values.fits(list(entries.values()), MAX_DEPTH + 1):  # the list is one level more
        return False
    for v in entries.values():
        kind = type(v)
        if kind is str:
            if 6 * len(v) + 2 <= MAX_VALUE_BYTES and (v.isascii() or not may_hold_surrogates):
                continue  # short enough whatever it escapes (\u00XX at most)
            if (may_hold_surrogates and not v.isascii()) or values.text_size(v) > MAX_VALUE_BYTES:
                return False
        elif kind is list or kind is dict:
            if may_hold_surrogates or values.text_size(v) > MAX_VALUE_BYTES:
                return False
        elif kind is int and not -_SMALL_INT < v < _SMALL_INT:
            return False
    return True


def _check_batch(keys: Any, what: str) -> None:
    if len(keys) > MAX_BATCH_KEYS:
        raise ValueError(
            f"A batch {what} takes at most {MAX_BATCH_KEYS} keys; {len(keys)} given. "
            f"Split it into batches of {MAX_BATCH_KEYS}."
        )


# The moments an alarm may name: every one of them is a datetime in every time zone (a day
# inside datetime's years 1..9999), so get_alarm() and every front end can show it.
EARLIEST_ALARM = _dt.datetime(1, 1, 2, tzinfo=_dt.timezone.utc).timestamp()
LATEST_ALARM = _dt.datetime(9999, 12, 30, tzinfo=_dt.timezone.utc).timestamp()


def alarm_time(seconds: Any, given: Any = None) -> float:
    """``seconds`` (epoch seconds) as a float, or ValueError if it names no moment an alarm can hold.

    NaN, the infinities, and times outside 0001-01-02 .. 9999-12-30 (UTC) are refused, naming
    ``given`` (what the user typed, if it was not ``seconds`` itself).
    """
    try:
        t = float(seconds)
    except OverflowError:
        t = float("nan")
    if EARLIEST_ALARM <= t <= LATEST_ALARM:  # False for NaN
        return t
    shown = seconds if given is None else given
    raise ValueError(
        f"{shown!r} is not a time an alarm can be set to: an alarm time is a moment between "
        f"0001-01-02 and 9999-12-30 (UTC), as epoch seconds ({EARLIEST_ALARM:.0f} .. {LATEST_ALARM:.0f}) "
        f"or an aware datetime; e.g. time.time() + 30"
    )


def _to_epoch(when: Any) -> float:
    if isinstance(when, _dt.datetime):
        if when.tzinfo is None:
            raise ValueError(
                "set_alarm needs an aware datetime (e.g. datetime.now(timezone.utc)); got a naive one"
            )
        return alarm_time(when.timestamp(), when)
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return alarm_time(when)
    raise TypeError(f"set_alarm takes a datetime or epoch seconds, not {type(when).__name__}")


class Changes:
    """What one object wrote since its last commit: the payload of a log record."""

    __slots__ = ("cleared", "puts", "alarm_changed", "alarm")

    def __init__(self, cleared: bool, puts: dict[str, str | None], alarm_changed: bool, alarm: float | None):
        self.cleared = cleared
        self.puts = puts  # key -> JSON text, or None for a delete
        self.alarm_changed = alarm_changed
        self.alarm = alarm

    def __bool__(self) -> bool:
        return self.cleared or bool(self.puts) or self.alarm_changed


class Storage:
    """The storage API (README, "Storage"). Created by the engine, one per live object."""

    def __init__(
        self,
        data: dict[str, Any],
        alarm: float | None,
        on_write: Callable[[], None],
        wait_durable: Callable[[], Any],
        has_alarm_handler: bool,
    ):
        self._data = data  # key -> value (owned; never handed out)
        self._sizes: dict[str, int] = {}  # key -> bytes of key + JSON text, filled lazily
        self._bytes: int | None = None
        self._sorted: list[str] | None = None
        self._alarm = alarm
        self._on_write = on_write
        self._wait_durable = wait_durable
        self._has_alarm_handler = has_alarm_handler
        self._dirty: dict[str, str | None] = {}
        self._cleared = False
        self._alarm_dirty = False
        self._owed = False  # a commit is owed to results held while a transaction was open
        self._txns: list[Transaction] = []  # open transactions, innermost last; one owner
        self._aborted: list[Transaction] = []  # rolled back by the engine, not yet ended by their code
        self._closed = False  # set when the object is reset: its writes would be lost

    def _check_open(self) -> None:
        if self._closed:
            from ..errors import ObjectResetError

            raise ObjectResetError("this object was reset; a call still running on it cannot write")
        if self._txns or self._aborted:
            self._check_writer(_owner())

    def _check_writer(self, owner: Any) -> None:
        """Only the call that opened the transaction writes while it is open (README, "Storage")."""
        for txn in self._aborted:
            if txn._owner is owner:
                raise txn._ended_error()
        if self._txns and self._txns[0]._owner is not owner:
            raise TransactionError(
                f"{_who(owner)} cannot write to this object while {_who(self._txns[0]._owner)} has a "
                "storage.transaction() open on it: a transaction undoes only its own call's writes. "
                "(A call back into an object from inside its transaction is such a case: end the "
                "transaction before calling out.)"
            )

    # ---------------------------------------------------------------- reads
    def get(self, key: str | list[str], default: Any = None) -> Any:
        """The value of ``key`` (a fresh copy), or ``default``.

        With a list of keys: a dict of those that exist, in key order.
        """
        if isinstance(key, (list, tuple)):
            _check_batch(key, "get")
            found = {}
            for k in sorted(set(key)):
                _key_bytes(k)
                if k in self._data:
                    found[k] = values.copy(self._data[k])
            return found
        _key_bytes(key)
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            return default
        return values.copy(value)

    def list(
        self,
        *,
        start: str | None = None,
        start_after: str | None = None,
        end: str | None = None,
        prefix: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """Keys and values in key order (UTF-8 byte order), as a dict.

        ``start`` is inclusive, ``start_after`` exclusive (not both), ``end``
        exclusive, ``prefix`` filters; ``reverse`` flips the order, not what the
        bounds mean; ``limit`` (≥ 1) counts from the first key in that order.
        """
        if start is not None and start_after is not None:
            raise ValueError("list() cannot be called with both start and start_after values.")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise TypeError(f"List limit must be an int, not {type(limit).__name__}.")
            if limit < 1:
                raise ValueError("List limit must be positive.")
        for name, bound in (("start", start), ("start_after", start_after), ("end", end), ("prefix", prefix)):
            if bound is not None and not isinstance(bound, str):
                raise TypeError(f"list({name}=…) takes a str, not {type(bound).__name__}")
        keys = self._keys()
        lo, hi = 0, len(keys)
        if start is not None:
            lo = bisect.bisect_left(keys, start)
        elif start_after is not None:
            lo = bisect.bisect_right(keys, start_after)
        if prefix:
            lo = max(lo, bisect.bisect_left(keys, prefix))
            hi = min(hi, bisect.bisect_left(keys, _prefix_end(prefix)) if _prefix_end(prefix) else hi)
        if end is not None:
            hi = min(hi, bisect.bisect_left(keys, end))
        if lo >= hi:
            return {}
        if reverse:
            stop = lo - 1 if lo > 0 else None
            chosen = keys[hi - 1 : stop : -1] if limit is None else keys[hi - 1 : stop : -1][:limit]
        else:
            chosen = keys[lo:hi] if limit is None else keys[lo : min(hi, lo + limit)]
        data = self._data
        return {k: values.copy(data[k]) for k in chosen}

    def _keys(self) -> list[str]:
        if self._sorted is None:
            # str order is code point order, which is the UTF-8 byte order.
            self._sorted = sorted(self._data)
        return self._sorted

    # ---------------------------------------------------------------- writes
    def put(self, key: str | dict[str, Any], value: Any = _MISSING) -> None:
        """Write ``key``; or, given a dict, write every entry of it (all or nothing)."""
        self._check_open()
        if isinstance(key, dict):
            if value is not _MISSING:
                raise TypeError("put(dict) takes no second argument")
            _check_batch(key, "put")
            # Every key and value is checked before the first one is stored.
            prepared = []
            for k, v in key.items():
                ksize = _key_bytes(k)
                text, vsize = _value_text(k, v)
                prepared.append((k, v, text, ksize + vsize))
            for k, v, text, size in prepared:
                self._set(k, v, text, size)
            return
        if value is _MISSING:
            raise TypeError("put(key, value) needs a value; to remove a key use delete(key)")
        ksize = _key_bytes(key)
        text, vsize = _value_text(key, value)
        self._set(key, value, text, ksize + vsize)

    def _set(self, key: str, value: Any, text: str, size: int) -> None:
        if self._txns:
            self._remember(key)
        data = self._data
        if key not in data:
            if self._sorted is not None:
                bisect.insort(self._sorted, key)
            old_size = 0
        else:
            old_size = self._size_of(key)
        # Own a private copy: the caller keeps theirs to mutate.
        data[key] = value if type(value) in values._SCALARS else values.decode(text)
        self._sizes[key] = size
        if self._bytes is not None:
            self._bytes += size - old_size
        self._mark(key, text)

    def delete(self, key: str | list[str]) -> bool | int:
        """Remove ``key`` → whether it existed; with a list → how many existed."""
        self._check_open()
        if isinstance(key, (list, tuple)):
            _check_batch(key, "delete")
            for k in key:
                _key_bytes(k)
            return sum(1 for k in set(key) if self._remove(k))
        _key_bytes(key)
        return self._remove(key)

    def _remove(self, key: str) -> bool:
        if key not in self._data:
            return False
        if self._txns:
            self._remember(key)
        if self._bytes is not None:
            self._bytes -= self._size_of(key)
        del self._data[key]
        self._sizes.pop(key, None)
        if self._sorted is not None:
            i = bisect.bisect_left(self._sorted, key)
            del self._sorted[i]
        self._mark(key, None)
        return True

    def delete_all(self) -> None:
        """Remove every key and the alarm."""
        self._check_open()
        if self._txns:
            for k in list(self._data):
                self._remember(k)
            self._remember_alarm()
        self._data.clear()
        self._sizes.clear()
        self._bytes = 0
        self._sorted = None
        self._dirty.clear()
        self._cleared = True
        if self._alarm is not None:
            self._alarm = None
            self._alarm_dirty = True
        self._on_write()

    def _mark(self, key: str, text: str | None) -> None:
        first = not self._dirty and not self._cleared and not self._alarm_dirty
        self._dirty[key] = text
        if first:
            self._on_write()

    def _size_of(self, key: str) -> int:
        size = self._sizes.get(key)
        if size is None:
            size = len(key.encode()) + len(values.encode(self._data[key]).encode())
            self._sizes[key] = size
        return size

    # ---------------------------------------------------------------- alarm
    def get_alarm(self) -> _dt.datetime | None:
        if self._alarm is None:
            return None
        return _dt.datetime.fromtimestamp(self._alarm, _dt.timezone.utc)

    def set_alarm(self, when: _dt.datetime | float) -> None:
        """Set the object's one alarm (a datetime, or epoch seconds); replaces any other.

        A time that names no moment (NaN, infinite, outside the years 1..9999) raises
        ValueError, and nothing is stored.
        """
        if not self._has_alarm_handler:
            raise TypeError(
                "Your Durable Object class must have an alarm() handler in order to call set_alarm(); "
                "this class has no alarm() method: define `async def alarm(self, info)` on it"
            )
        self._set_alarm(_to_epoch(when))

    def delete_alarm(self) -> None:
        if self._alarm is not None:
            self._set_alarm(None)

    # ---------------------------------------------------------------- the alarm that fires
    # As Cloudflare: while alarm() runs, get_alarm() is None unless the handler sets a new alarm;
    # the fired alarm is deleted for good only once the handler has succeeded.
    def begin_fired_alarm(self, alarm_time: float) -> bool:
        """The alarm set for ``alarm_time`` starts firing: get_alarm() reads None from now on.

        Nothing is written: until ``clear_fired_alarm``, the alarm is still on disk, so a crash
        or a failure fires it again. False (and nothing changes) if the alarm is no longer
        ``alarm_time``: it was replaced or deleted since it fell due.
        """
        if self._alarm != alarm_time:
            return False
        self._alarm = None
        return True

    def clear_fired_alarm(self, alarm_time: float) -> None:
        """The handler of ``alarm_time`` succeeded: the alarm is deleted for good (committed as
        any write), unless the handler set a new one, which stands."""
        if not self._closed and self._alarm is None:
            self._set_alarm(None)

    def restore_fired_alarm(self, alarm_time: float) -> None:
        """The handler of ``alarm_time`` failed: the alarm is set again, for its retry, unless the
        handler set a new one, which stands (Cloudflare retries only the latest set_alarm)."""
        if not self._closed and self._alarm is None:
            self._set_alarm(alarm_time)

    def _set_alarm(self, when: float | None) -> None:
        self._check_open()
        if self._txns:
            self._remember_alarm()
        first = not self._dirty and not self._cleared and not self._alarm_dirty
        self._alarm = when
        self._alarm_dirty = True
        if first:
            self._on_write()

    # ---------------------------------------------------------------- transactions
    def transaction(self) -> "Transaction":
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
        if getattr(yielded, "_asyncio_future_blocking", False):
            yielded._asyncio_future_blocking = False
        owner = outermost._owner
        what = _awaited(coro)
        whose = "" if owner is call else ", which waits on this call"
        return TransactionError(
            f"storage.transaction() of {_who(owner)}{whose} cannot span an await (of {what}): "
            "a transaction is synchronous, as Cloudflare's transactionSync, since other calls run at "
            "an await. The await raises this error instead, so the with block rolls the transaction "
            "back. Finish the transaction before awaiting, or use ctx.block_concurrency_while to keep "
            "other calls out across the await and write without a transaction."
        )

    def _open(self, txn: "Transaction") -> None:
        owner = _owner()
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

    def _end(self, txn: "Transaction", rollback: bool) -> None:
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
        self._aborted = [t for t in self._aborted if not _finished(t._owner)]
        for t in reversed(self._txns[i:]):
            self._rollback(t._frame)
            t._abort(reason)
            self._aborted.append(t)
        del self._txns[i:]

    def _forget_aborted(self, txn: "Transaction") -> None:
        self._aborted = [t for t in self._aborted if t is not txn]

    def _loop_ran(self, txn: "Transaction") -> None:
        """The event loop ran while ``txn`` was open: it spans an await the engine does not drive
        (a task of the object's own) or was never ended. Roll it back now, so other calls neither
        see its writes nor wait for its commit, and fail its code when it goes on."""
        if self._txns and self._txns[0] is txn:
            self._abort_all("it was still open when the event loop ran other work: it spanned an await "
                            "(in a task the engine does not drive) or was never ended")

    def _abort_all(self, reason: str) -> None:
        _log.warning("storage.transaction() of %s rolled back: %s", _who(self._txns[0]._owner), reason)
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

    # ---------------------------------------------------------------- durability
    async def sync(self) -> None:
        """Return when every earlier write is durable."""
        if self._txns:
            raise TransactionError(
                "storage.sync() inside storage.transaction() would wait for the commit that the open "
                "transaction holds back; call it after the with block"
            )
        await self._wait_durable()

    def __bool__(self) -> bool:  # "has uncommitted writes"
        return bool(self._dirty) or self._cleared or self._alarm_dirty or self._owed

    def take_changes(self) -> Changes | None:
        """Hand the uncommitted writes to the committer; None while a transaction is open."""
        if self._txns or not self:
            return None
        changes = Changes(self._cleared, self._dirty, self._alarm_dirty, self._alarm)
        self._dirty = {}
        self._cleared = False
        self._alarm_dirty = False
        self._owed = False
        return changes

    def drop_changes(self) -> None:
        self._dirty = {}
        self._cleared = False
        self._alarm_dirty = False
        self._owed = False

    def pending(self) -> Changes:
        """A copy of the uncommitted writes (``puts``: key -> JSON text, or None for a delete)."""
        return Changes(self._cleared, dict(self._dirty), self._alarm_dirty, self._alarm)

    @property
    def pending_count(self) -> int:
        """How many uncommitted changes: keys written or deleted, a delete_all, the alarm."""
        return len(self._dirty) + self._cleared + self._alarm_dirty

    def close(self) -> None:
        """The object was reset: drop the uncommitted writes; later writes raise ObjectResetError."""
        self.drop_changes()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    # ---------------------------------------------------------------- introspection
    @property
    def key_count(self) -> int:
        return len(self._data)

    @property
    def byte_size(self) -> int:
        if self._bytes is None:
            self._bytes = sum(self._size_of(k) for k in self._data)
        return self._bytes

    @property
    def alarm_epoch(self) -> float | None:
        return self._alarm


_ALARM = object()


def _prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``."""
    for i in range(len(prefix) - 1, -1, -1):
        c = ord(prefix[i])
        if c < 0x10FFFF:
            return prefix[:i] + chr(c + 1)
    return None


_current_call: Any = None


def _owner() -> Any:
    """Who is writing: the running call, else the running task (a constructor's, say), else None."""
    global _current_call
    if _current_call is None:
        from .instance import current_call  # instance.py imports this module

        _current_call = current_call
    call = _current_call.get()
    if call is not None:
        return call
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _awaited(coro: Any) -> str:
    """What a method's coroutine awaits directly, in its own words (for error messages)."""
    inner = getattr(coro, "cr_await", None)
    code = getattr(inner, "cr_code", None) or getattr(inner, "gi_code", None)
    if code is None:
        return "a Future or Task" if type(inner).__name__ == "FutureIter" else type(inner).__name__
    frame = getattr(inner, "cr_frame", None) or getattr(inner, "gi_frame", None)
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    if module.startswith("asyncio"):
        return f"asyncio.{code.co_name}"
    if code.co_qualname == "Engine.call":
        return "a call to another object"
    return code.co_qualname


def _finished(owner: Any) -> bool:
    """Whether the call (or task) that owned a transaction can run no more code."""
    done = getattr(owner, "done", None)
    if callable(done):
        return done()
    return getattr(getattr(owner, "status", None), "value", None) in ("done", "failed")


def _who(owner: Any) -> str:
    seq = getattr(owner, "seq", None)
    if seq is None:
        return "code outside any call (the engine, or a task)"
    inst = getattr(owner, "instance", None)
    ns = getattr(getattr(inst, "ns", None), "name", None)
    if getattr(owner, "kind", None) == "init":
        return f"the constructor of {ns}"
    return f"call #{seq} ({ns}.{owner.method})" if ns else f"call #{seq} ({owner.method})"


class Transaction:
    """``with storage.transaction() as txn``: reads and writes as storage does; ``txn.rollback()``.

    Entered once; ends innermost first; only its owner (the call that entered it) writes while it
    is open.
    """

    __slots__ = ("_storage", "_frame", "_owner", "rolled_back", "_state", "_reason", "_refusals")

    def __init__(self, storage: Storage):
        self._storage = storage
        self._frame: dict = {}  # key -> (old value, old uncommitted text): the undo log
        self._owner: Any = None
        self.rolled_back = False
        self._state = "new"  # -> "open" -> "ended", or "open" -> "aborted" -> "ended"
        self._reason = ""
        self._refusals = 0  # awaits refused while it was open (Storage.await_error)

    def __enter__(self) -> "Transaction":
        if self._state != "new":
            raise TransactionError("a storage.transaction() can be entered once; open a new one")
        self._storage._open(self)
        self._state = "open"
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
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
            f"storage.transaction() of {_who(self._owner)} was rolled back: {self._reason}. "
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
