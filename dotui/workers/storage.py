"""``ctx.storage`` as Python Workers code sees it: the JavaScript names, awaitable, over dotui's storage.

``await ctx.storage.get(key)`` (or a list of keys: a dict), ``put(key, value)`` / ``put({...})``,
``delete``, ``deleteAll``, ``list(start=, startAfter=, end=, prefix=, reverse=, limit=)`` (keywords,
or one dict of options, as Pyodide passes either to JavaScript), ``getAlarm()`` / ``setAlarm(ms)`` /
``deleteAlarm()`` in milliseconds since the epoch, ``sync()``, ``transaction(closure)``,
``transactionSync(fn)``, ``sql`` (SQLite-backed classes) and ``kv`` (the synchronous KV API).

Each operation runs when it is called, as a JavaScript storage call starts at once, and returns an
awaitable that is already settled (``Settled``): awaiting it never suspends, so it lets no other call
in and needs no care inside a transaction (README.md, "The input gate"). Code that forgets the
``await`` (``storage.setAlarm(...)``, common in Cloudflare's examples) still stores. An error is
raised where the result is awaited, as a rejected promise would be.

Values cross as on Cloudflare's structured clone (``rpc.encode``: bytes, datetime, sets too); a dict
comes back readable by attribute (``JsDict``); an int key is its digits. Each call is O(its native
call) plus O(size of the values) to convert.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import math
from collections.abc import Callable
from typing import Any

from . import rpc


class Settled:
    """An awaitable whose outcome is known: ``await`` returns the value (or raises) without suspending."""

    __slots__ = ("_value", "_error")

    def __init__(self, value: Any = None, error: BaseException | None = None):
        self._value, self._error = value, error

    def __await__(self):
        if self._error is not None:
            raise self._error
        return self._value
        yield

    def __repr__(self) -> str:
        return f"<settled {'error ' + repr(self._error) if self._error else repr(self._value)}>"


def settle(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Settled:
    try:
        return Settled(fn(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - a rejected promise: raised where it is awaited
        return Settled(error=exc)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return str(key)  # as JavaScript turns a number key into text
    raise TypeError(f"a storage key is a str (or a number, stored as its digits), not {type(key).__name__}")


_LIST_OPTIONS = {
    "start": "start",
    "startAfter": "start_after",
    "start_after": "start_after",
    "end": "end",
    "prefix": "prefix",
    "reverse": "reverse",
    "limit": "limit",
}


def list_options(options: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``list()``'s options as dotui's keywords; a dict given positionally, or keywords, or both."""
    given = dict(options or {}) if isinstance(options, dict) or options is None else None
    if given is None:
        raise TypeError(f"list() takes a dict of options (or keywords), not {type(options).__name__}")
    given.update(kwargs)
    out = {}
    for name, value in given.items():
        native = _LIST_OPTIONS.get(name)
        if native is None:
            raise TypeError(
                f"list() has no option {name!r}; it takes {', '.join(sorted(set(_LIST_OPTIONS) - {'start_after'}))}"
            )
        if value is not None:
            out[native] = _key(value) if native in ("start", "start_after", "end", "prefix") else value
    return out


def to_ms(when: Any) -> float | None:
    return None if when is None else when.timestamp() * 1000


def from_ms(when: Any) -> float:
    """Epoch seconds of a JavaScript time: milliseconds since the epoch, or a datetime (a ``Date``)."""
    if isinstance(when, _dt.datetime):
        return when.timestamp()
    if isinstance(when, bool) or not isinstance(when, (int, float)) or not math.isfinite(when):
        raise TypeError(
            f"setAlarm() takes milliseconds since the epoch (Date.now() + ms) or a datetime, not {when!r:.50}"
        )
    return when / 1000


class KV:
    """The KV methods of one native storage (or transaction), with the JavaScript names and conversions."""

    def __init__(self, native: Any):
        self._native = native

    def _get(self, key: Any) -> Any:
        if isinstance(key, list):
            return rpc.JsDict((k, rpc.decode(v)) for k, v in self._native.get([_key(k) for k in key]).items())
        return rpc.decode(self._native.get(_key(key)))

    def _put(self, key: Any, value: Any = None) -> None:
        if isinstance(key, dict):
            self._native.put({_key(k): rpc.encode(v) for k, v in key.items()})
        else:
            self._native.put(_key(key), rpc.encode(value))

    def _delete(self, key: Any) -> Any:
        return self._native.delete([_key(k) for k in key] if isinstance(key, list) else _key(key))

    def _list(self, options: Any = None, **kwargs: Any) -> rpc.JsDict:
        items = self._native.list(**list_options(options, kwargs))
        return rpc.JsDict((k, rpc.decode(v)) for k, v in items.items())


class SyncKV(KV):
    """``ctx.storage.kv``: the synchronous KV API of SQLite-backed objects (``get``, ``put``, ``delete``, ``list``)."""

    def get(self, key: Any) -> Any:
        return self._get(key)

    def put(self, key: Any, value: Any = None) -> None:
        self._put(key, value)

    def delete(self, key: Any) -> Any:
        return self._delete(key)

    def list(self, options: Any = None, **kwargs: Any) -> rpc.JsDict:
        return self._list(options, **kwargs)


class AsyncKV(KV):
    """The awaitable KV API and alarms (``ctx.storage`` and a transaction's ``txn``)."""

    def get(self, key: Any, options: Any = None) -> Settled:
        return settle(self._get, key)

    def put(self, key: Any, value: Any = None, options: Any = None) -> Settled:
        return settle(self._put, key, value)

    def delete(self, key: Any, options: Any = None) -> Settled:
        return settle(self._delete, key)

    def list(self, options: Any = None, **kwargs: Any) -> Settled:
        return settle(self._list, options, **kwargs)

    def getAlarm(self, options: Any = None) -> Settled:
        return settle(lambda: to_ms(self._native.get_alarm()))

    def setAlarm(self, when: Any, options: Any = None) -> Settled:
        return settle(lambda: self._native.set_alarm(from_ms(when)))

    def deleteAlarm(self, options: Any = None) -> Settled:
        return settle(self._native.delete_alarm)


class Transaction(AsyncKV):
    """``txn`` inside ``storage.transaction(closure)``: the storage calls, and ``rollback()``."""

    def rollback(self) -> None:
        self._native.rollback()


class Storage(AsyncKV):
    """``ctx.storage`` of a Python Workers Durable Object."""

    def deleteAll(self, options: Any = None) -> Settled:
        return settle(self._native.delete_all)

    def sync(self) -> Any:
        return self._native.sync()

    async def transaction(self, closure: Callable[[Transaction], Any]) -> Any:
        """Run ``closure(txn)`` as one transaction: it commits when the closure returns, and rolls back
        when it raises (re-raised) or calls ``txn.rollback()``. Its awaits of storage never suspend;
        an await of anything else inside it is a ``TransactionError`` (README.md, "Transactions")."""
        with self._native.transaction() as txn:
            result = closure(Transaction(txn))
            if inspect.isawaitable(result):
                result = await result
        return result

    def transactionSync(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` as one transaction, synchronously; its result, or its exception after a rollback."""
        native = getattr(self._native, "transaction_sync", None)
        if native is not None:
            return native(fn)
        with self._native.transaction():
            return fn()

    @property
    def sql(self) -> Any:
        native = getattr(self._native, "sql", None)
        if native is None:
            raise TypeError(
                "ctx.storage.sql is for SQLite-backed classes: list the class in new_sqlite_classes "
                "of a migration in the wrangler file"
            )
        from .sql import SqlStorage

        return SqlStorage(native)

    @property
    def kv(self) -> SyncKV:
        return SyncKV(getattr(self._native, "kv", self._native))

    def __getattr__(self, name: str) -> Any:
        # Point-in-time recovery and the rest of SQLite-backed storage, under their JavaScript names.
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
        target = getattr(self._native, snake, None) if not name.startswith("_") else None
        if target is None or snake in ("get", "put", "delete", "list", "delete_all"):
            raise AttributeError(f"ctx.storage has no {name}")
        return target
