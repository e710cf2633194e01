"""Every operation of the table, carried out on one engine.

``Admin`` runs on the engine's own loop and implements each operation declared in
``ops/facade.py`` (``OPERATIONS``), as a coroutine of the same name and parameters
(checked at import): references, listing, storage reads and edits, alarms,
hibernate/wake, reload, stats. Each takes and returns JSON-compatible data
(object references are strings: ``"alice"`` or ``"#3f2a"``). ``LocalEngine``
(``ops/local.py``) runs them on the engine's thread, the gateway
(``server/app.py``) serves each at its path, ``RemoteEngine`` (``ops/remote.py``)
sends each there, and ``ClusterAdmin`` (``cluster/admin.py``) implements the same
table over shards; ``tests/test_facades.py`` runs one behaviour suite on both
facades, operation by operation.

Mistakes of the caller come out as ``ClientFault`` (the gateway's 400, the
original error in-process); an error raised inside an object's method called
through ``call`` comes out as ``MethodRaised`` (the gateway's 500, whatever its
type, since a 404-type error from inside a method is not the caller's URL).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import os
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..engine import sqlview, values
from ..engine.durability import sqlfile, sqlhistory
from ..engine.errors import (
    InvalidIdError,
    MethodNotFoundError,
    NamespaceNotFoundError,
    ObjectResetError,
    SqlError,
)
from ..engine.events import Subscription
from ..engine.ids import ObjectId
from ..engine.object.storage import alarm_time
from ..engine.rows import InstanceRow, InstanceTable
from .codec import ClientFault, MethodRaised
from .facade import OPERATIONS
from .lifecycle import LifecycleAdmin
from .table import check_implements

if TYPE_CHECKING:
    from ..engine.engine import Engine


def parse_when(when: Any, now: float | None = None) -> float:
    """Epoch seconds from epoch seconds (a number, or its text), ``+SECONDS`` (after ``now``),
    or an ISO 8601 time (UTC if no zone).

    The one reader of typed alarm times, for every front end. ValueError, before anything is
    stored, for what it cannot read and for a time no alarm can hold (NaN, infinite, outside
    the years 1..9999: see ``storage.alarm_time``).
    """
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return alarm_time(when)
    if isinstance(when, str):
        t = _read_time(when.strip(), now)
        if t is not None:
            return alarm_time(t, when)
    raise ValueError(
        f"cannot read {when!r} as a time: give +SECONDS (e.g. +30) or an ISO time (e.g. 2026-12-01T09:00:00Z)"
    )


def _read_time(text: str, now: float | None) -> float | None:
    """``text`` as epoch seconds, unchecked; None if it is no time at all."""
    try:
        if text.startswith("+"):
            base = _dt.datetime.now(_dt.UTC).timestamp() if now is None else now
            return base + float(text[1:])
        return float(text)
    except (ValueError, OverflowError):
        if text.startswith("+"):
            return None
    try:
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.timestamp()


# ================================================================ the operations
class Admin(LifecycleAdmin):
    """The admin operations of one ``Engine``; call them on the engine's loop. Those of a group of their
    own are carried out in its module, which this class derives from (``LifecycleAdmin``: ops/lifecycle.py)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._signatures: dict[Any, inspect.Signature | None] = {}
        self._fits: set[tuple] = set()  # (function, positional count, keyword names) its signature takes

    # ------------------------------------------------------------ helpers (not operations)
    def target(self, namespace: str, ref: str) -> ObjectId:
        """The object ``ref`` names: InvalidIdError (404) for an id that is none of this namespace's,
        ClientFault(ValueError) for a name no id can be made of (``IdFactory.from_name``)."""
        try:
            return self.engine.object_id(namespace, ref)
        except InvalidIdError:
            raise
        except ValueError as exc:
            raise ClientFault(exc) from None

    def _known(self, namespace: str | None) -> str | None:
        """``namespace`` (None for every one); NamespaceNotFoundError if there is no such class."""
        if namespace:
            self.engine.namespace(namespace)
            return namespace
        return None

    def check_call(self, namespace: str, method: str, args: list | tuple, kwargs: dict) -> None:
        """MethodNotFoundError for a method the class does not offer; ClientFault(TypeError) for
        arguments its signature refuses: nothing runs."""
        info = self.engine.namespace_info(namespace)
        if method not in info.methods:
            raise MethodNotFoundError(namespace, method, list(info.methods))
        for value in (*args, *(kwargs.values() if kwargs else ())):  # O(size): what engine.call checks
            if not values.fits(value, values.MAX_CALL_DEPTH):
                try:
                    values.copy_args(tuple(args), kwargs or {}, f"{namespace}.{method}")
                except TypeError as exc:  # too deep, named: the client's fault, as a refused signature
                    raise ClientFault(exc) from None
        fn = getattr(info.cls, method, None)
        shape = (fn, len(args), tuple(kwargs) if kwargs else ())
        if shape in self._fits:  # the signature took this many arguments with these names before
            return
        sig = self._signature(info.cls, method)
        if sig is None:
            return
        try:
            sig.bind(*args, **kwargs)
            if len(self._fits) >= 4096:
                self._fits.clear()
            self._fits.add(shape)  # binding depends on the count and the names, never on the values
        except TypeError as exc:
            raise ClientFault(
                TypeError(f"{namespace}.{method}{info.methods[method].signature} cannot take these arguments: {exc}")
            ) from None

    def _signature(self, cls: type, method: str) -> inspect.Signature | None:
        fn = getattr(cls, method, None)
        if fn in self._signatures:
            return self._signatures[fn]
        sig: inspect.Signature | None
        try:
            sig = inspect.signature(fn)  # type: ignore[arg-type]  # None raises TypeError, as any non-callable
            if isinstance(inspect.getattr_static(cls, method, None), types.FunctionType):
                sig = sig.replace(parameters=list(sig.parameters.values())[1:])
        except (TypeError, ValueError):
            sig = None
        if len(self._signatures) >= 4096:  # each reload brings new functions: keep those of late
            self._signatures.clear()
        self._signatures[fn] = sig
        return sig

    async def call_id(self, namespace: str, oid: ObjectId, method: str, args: list | tuple, kwargs: dict) -> Any:
        """A checked call: nothing runs if the method or its arguments are wrong."""
        self.check_call(namespace, method, args, kwargs)
        try:
            return await self.engine.call(namespace, oid, method, tuple(args), kwargs)
        except (NamespaceNotFoundError, MethodNotFoundError, InvalidIdError) as exc:
            raise MethodRaised(exc) from None

    async def _on(self, namespace: str, ref: str, label: str, fn: Callable, args: tuple = ()) -> Any:
        """A storage edit in the object's own queue; a bad key or value is the caller's fault."""
        oid = self.target(namespace, ref)
        try:
            return await self.engine.run_on(namespace, oid, label, fn, args)
        except (TypeError, ValueError) as exc:
            raise ClientFault(exc) from None

    # ------------------------------------------------------------ reading
    async def info(self) -> dict[str, Any]:
        e = self.engine
        return {
            "version": __version__,
            "pid": os.getpid(),
            "data_dir": e.data_dir,
            "objects_dir": e.objects_dir,
            "load_errors": [str(x) for x in e.load_errors],
            "idle_timeout": e.idle_timeout,
        }

    async def namespaces(self) -> list[dict[str, Any]]:
        return self.engine.namespaces()

    async def instances(
        self, namespace: str | None = None, state: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[InstanceRow]:
        at_least("offset", offset, 0)
        if limit is not None:
            at_least("limit", limit, 0)
        return self.engine.instances(self._known(namespace), state=state or None, offset=offset, limit=limit)

    async def instances_of(self, keys: list) -> list[InstanceRow]:
        return self.engine.instances_of(key_pairs(keys))

    async def count_instances(self, namespace: str | None = None) -> dict[str, int]:
        return self.engine.count_instances(self._known(namespace))

    async def instance_table(self, namespace: str | None = None) -> InstanceTable:
        return await self.engine.instance_table(self._known(namespace))

    async def instance(self, namespace: str, ref: str) -> InstanceRow:
        return self.engine.instance_info(namespace, self.target(namespace, ref))

    async def resolve(self, namespace: str, ref: str) -> dict[str, Any]:
        oid = self.target(namespace, ref)
        return {"namespace": namespace, "id": oid.hex, "name": oid.name}

    async def read_storage(self, namespace: str, ref: str) -> dict[str, Any]:
        return self.engine.read_storage(namespace, self.target(namespace, ref))

    async def queue(self, namespace: str, ref: str) -> list[dict[str, Any]]:
        return self.engine.queue(namespace, self.target(namespace, ref))

    async def history(self, namespace: str, ref: str, n: int = 20) -> list[dict[str, Any]]:
        return self.engine.history(namespace, self.target(namespace, ref), n)

    async def worker_requests(self, n: int = 20) -> list[dict[str, Any]]:
        """The last ``n`` requests the project's Worker answered (docs/cloudflare.md). O(n)."""
        from ..workers.requests import log_of

        return log_of(self.engine.objects_dir).last(n)

    async def stats(self) -> dict[str, Any]:
        """The engine's counters, its open WebSockets, and the tasks on its loop (``asyncio_tasks``, O(tasks):
        the long-run soak, bench/longrun.py, watches it stay flat)."""
        ws = self.engine.websockets
        return {
            **self.engine.stats(),
            "websockets": ws.open_count,
            **ws.counters,
            "asyncio_tasks": len(asyncio.all_tasks()),
        }

    async def websockets(self, namespace: str, ref: str) -> dict[str, Any]:
        oid = self.target(namespace, ref)
        return self.engine.websockets.describe((namespace, oid.hex))

    async def websocket_counts(self, namespace: str | None = None) -> list[list[Any]]:
        namespace = self._known(namespace)
        return [
            [ns, hx, n]
            for (ns, hx), n in sorted(self.engine.websockets.counts().items())
            if namespace is None or ns == namespace
        ]

    # ------------------------------------------------------------ acting
    async def call(
        self, namespace: str, ref: str, method: str, args: list | None = None, kwargs: dict | None = None
    ) -> Any:
        return await self.call_id(namespace, self.target(namespace, ref), method, args or [], kwargs or {})

    async def storage_get(self, namespace: str, ref: str, key: str) -> Any:
        return await self._on(namespace, ref, "storage.get", lambda i: i.storage.get(key), (key,))

    async def storage_put(self, namespace: str, ref: str, key: str, value: Any) -> None:
        return await self._on(namespace, ref, "storage.put", lambda i: i.storage.put(key, value), (key, value))

    async def storage_delete(self, namespace: str, ref: str, key: str) -> bool:
        return await self._on(namespace, ref, "storage.delete", lambda i: i.storage.delete(key), (key,))

    async def alarm_get(self, namespace: str, ref: str) -> float | None:
        return await self._on(namespace, ref, "storage.get_alarm", lambda i: i.storage.alarm_epoch)

    async def alarm_set(self, namespace: str, ref: str, when: Any) -> float:
        try:
            t = parse_when(when)
        except ValueError as exc:
            raise ClientFault(exc) from None

        def set_it(i: Any) -> float:
            i.storage.set_alarm(t)
            return t

        return await self._on(namespace, ref, "storage.set_alarm", set_it, (t,))

    async def alarm_delete(self, namespace: str, ref: str) -> None:
        return await self._on(namespace, ref, "storage.delete_alarm", lambda i: i.storage.delete_alarm())

    # ------------------------------------------------------------ SQLite-backed objects (docs/sqlite.md)
    def _database(self, namespace: str, ref: str) -> tuple[ObjectId, str]:
        """(id, database path) of a SQLite-backed object; the caller's fault for a KV class."""
        oid = self.target(namespace, ref)
        if self.engine.namespace_info(namespace).backend != "sqlite":
            raise ClientFault(
                ValueError(
                    f"{namespace} is not SQLite-backed (storage_backend = 'kv'): its "
                    "storage is key-value only; use storage/get/put"
                )
            )
        return oid, sqlfile.path_of(self.engine.data_dir, namespace, oid.hex)

    async def sql_tables(self, namespace: str, ref: str) -> dict[str, Any]:
        _, path = self._database(namespace, ref)
        return await asyncio.to_thread(sqlview.tables, path)

    async def sql_query(
        self, namespace: str, ref: str, sql: str, bindings: list | None = None, offset: int = 0, limit: int = 100
    ) -> dict[str, Any]:
        _, path = self._database(namespace, ref)
        try:
            return await asyncio.to_thread(sqlview.query, path, sql, bindings, offset, limit)
        except sqlview.SqlReadError as exc:
            raise ClientFault(exc) from None

    async def sql_exec(self, namespace: str, ref: str, sql: str, bindings: list | None = None) -> dict[str, Any]:
        self._database(namespace, ref)
        try:
            bindings = sqlview.decode(bindings)  # a BLOB crosses as {"$blob": hex}, as sql_query answers it
        except sqlview.SqlReadError as exc:
            raise ClientFault(exc) from None

        def run(i: Any) -> dict[str, Any]:
            cur = i.storage.sql.exec(sql, *(bindings or []))
            rows = [[sqlview.encode(v) for v in row] for row in cur.raw()]
            return {
                "columns": cur.column_names,
                "rows": rows,
                "rows_read": cur.rows_read,
                "rows_written": cur.rows_written,
            }

        try:
            return await self._on(namespace, ref, "sql.exec", run, (sql,))
        except SqlError as exc:
            raise ClientFault(exc) from None

    async def bookmarks(self, namespace: str, ref: str, limit: int = 1000) -> list[dict[str, Any]]:
        oid, path = self._database(namespace, ref)
        at_least("limit", limit, 1)
        return await asyncio.to_thread(sqlhistory.list_bookmarks, path, oid.hex, limit)

    async def bookmark(self, namespace: str, ref: str, at: Any = None) -> str:
        oid, path = self._database(namespace, ref)
        try:
            t = None if at is None else parse_when(at)
            return await asyncio.to_thread(sqlhistory.durable_bookmark, path, oid.hex, t)
        except ValueError as exc:
            raise ClientFault(exc) from None

    async def restore(self, namespace: str, ref: str, bookmark: str) -> dict[str, Any]:
        oid, _ = self._database(namespace, ref)

        async def ask(i: Any) -> str:
            return await i.storage.on_next_session_restore_bookmark(bookmark)

        undo = await self._on(namespace, ref, "storage.restore", ask, (bookmark,))
        inst = self.engine.held((namespace, oid.hex))
        if inst is not None:  # its next session starts now, at the bookmark (as ctx.abort() would)
            inst.reset(ObjectResetError(f"restored to bookmark {bookmark}; undo with {undo}"))
        await self.engine.wake(namespace, oid)  # made now: what reads the file (sql_query, the studio) shows it
        return {"bookmark": bookmark, "undo": undo}

    async def reload(self) -> list[str]:
        errors = [str(e) for e in await self.engine.reload()]
        await self._retry_broken()
        return errors

    async def _retry_broken(self) -> None:
        """Objects left broken (their class gone, or its constructor raising) get one more try on the reloaded
        code, so a fixed file shows at once rather than at each object's next call; one that fails again stays
        broken, with the new reason on its row."""
        known = {ns["name"] for ns in self.engine.namespaces()}
        for row in self.engine.instances(state="broken"):
            if row["namespace"] not in known:
                continue
            try:
                await self.engine.wake(row["namespace"], self.target(row["namespace"], "#" + row["id"]))
            except Exception:  # noqa: BLE001 - still broken: the row says why, as before
                continue

    async def new_unique_id(self, namespace: str) -> dict[str, Any]:
        oid = self.engine.namespace(namespace).new_unique_id()
        return {"namespace": namespace, "id": oid.hex, "name": None}

    async def commit_delay(self, seconds: Any) -> float:
        log = self.engine.log
        if not hasattr(log, "set_delay"):
            raise ClientFault(
                ValueError(
                    "this engine's commit log cannot be slowed: start it with dotui (the TUI or the REPL), "
                    "which uses one that can, e.g. dotui --commit-delay 1"
                )
            )
        try:
            return log.set_delay(seconds)
        except ValueError as exc:
            raise ClientFault(exc) from None

    async def flush(self) -> None:
        await self.engine.flush()

    # ------------------------------------------------------------ events (a stream, not an operation)
    def subscribe(self, maxlen: int = 10_000, predicate: Callable[[dict], bool] | None = None) -> Subscription:
        return self.engine.subscribe(maxlen, predicate)


def at_least(name: str, value: int, least: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ClientFault(ValueError(f"{name!r} must be a whole number >= {least}; got {value!r}"))


def key_pairs(keys: list) -> list[tuple[str, str]]:
    """``keys`` as ``(namespace, id hex)`` pairs; ClientFault if it is not a list of such pairs. O(keys)."""
    if not all(isinstance(k, (list, tuple)) and len(k) == 2 and all(isinstance(x, str) for x in k) for k in keys):
        raise ClientFault(ValueError(f'"keys" must be a list of [namespace, id hex] pairs; got {keys!r:.200}'))
    return [(k[0], k[1]) for k in keys]


check_implements(Admin, OPERATIONS)
