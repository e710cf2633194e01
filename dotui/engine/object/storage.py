"""``ctx.storage`` of the KV backend: an object's durable key-value storage, served from memory.

Reads and writes are synchronous and act on memory at once; the engine's output
gate makes the writes durable (see ``committer.py``) before any result that follows
them is released. Every value goes in and comes out as a copy. The limits are
limits.py's, the alarm calls alarmapi.py's, transactions kvtxn.py's; the SQLite
backend is sqlstorage.py (docs/sqlite.md).
"""

from __future__ import annotations

import bisect
import builtins
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import values
from ..errors import TransactionError
from .alarmapi import AlarmApi
from .kvtxn import KvTransactions, Transaction
from .limits import (  # the names the engine and the readers of the data folder import from here
    EARLIEST_ALARM,
    LATEST_ALARM,
    MAX_BATCH_KEYS,
    MAX_DEPTH,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    alarm_time,
    check_decoded,
    check_entries,
    check_entry,
    check_key,
    check_list_bounds,
)
from .limits import (  # the names the engine and the readers of the data folder import from here
    check_batch as _check_batch,
)
from .limits import (
    key_bytes as _key_bytes,
)
from .limits import (
    prefix_end as _prefix_end,
)
from .limits import (
    value_text as _value_text,
)
from .owners import owner as _owner

__all__ = [
    "Changes",
    "Storage",
    "Transaction",
    "alarm_time",
    "check_decoded",
    "check_entries",
    "check_entry",
    "check_key",
    "EARLIEST_ALARM",
    "LATEST_ALARM",
    "MAX_BATCH_KEYS",
    "MAX_DEPTH",
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
]

_MISSING = object()  # no value given (put), no such key (get): never a stored value


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


class Storage(KvTransactions, AlarmApi):
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

    if TYPE_CHECKING:  # what the transaction methods (kvtxn.py, mixed in) give the writes here

        def _check_writer(self, owner: Any) -> None: ...
        def _remember(self, key: str) -> None: ...
        def _remember_alarm(self) -> None: ...

    def _check_open(self) -> None:
        if self._closed:
            from ..errors import ObjectResetError

            raise ObjectResetError("this object was reset; a call still running on it cannot write")
        if self._txns or self._aborted:
            self._check_writer(_owner())

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
        check_list_bounds(start, start_after, end, prefix, limit)
        keys = self._keys()
        lo, hi = 0, len(keys)
        if start is not None:
            lo = bisect.bisect_left(keys, start)
        elif start_after is not None:
            lo = bisect.bisect_right(keys, start_after)
        if prefix:
            lo = max(lo, bisect.bisect_left(keys, prefix))
            after = _prefix_end(prefix)
            if after is not None:
                hi = min(hi, bisect.bisect_left(keys, after))
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

    def _keys(self) -> builtins.list[str]:  # builtins: list is the method's name in this class
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
        data[key] = value if type(value) in values.SCALARS else values.decode(text)
        self._sizes[key] = size
        if self._bytes is not None:
            self._bytes += size - old_size
        self._mark(key, text)

    def delete(self, key: str | builtins.list[str]) -> bool | int:
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
    def _set_alarm(self, when: float | None) -> None:
        self._check_open()
        if self._txns:
            self._remember_alarm()
        first = not self._dirty and not self._cleared and not self._alarm_dirty
        self._alarm = when
        self._alarm_dirty = True
        if first:
            self._on_write()

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

    def release(self) -> None:
        """The object hibernates: nothing to let go of (its data is the engine's to drop)."""

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
