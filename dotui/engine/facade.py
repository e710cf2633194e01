"""The engine facade: one interface for front ends, whatever runs the engine.

``LocalEngine`` runs an ``Engine`` on its own thread and asyncio loop, so a
user's method that blocks never freezes a prompt or a screen. Every method is
synchronous, callable from any thread, takes object references as strings
(``"alice"`` or ``"#3f2a"``) and returns JSON-compatible data. The remote
client of ``dotui serve`` offers the same methods.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as _dt
import threading
from typing import Any, Callable

from .engine import Engine
from .errors import EngineClosedError
from .events import Subscription
from .instance import Instance
from .storage import alarm_time


def parse_when(when: Any, now: float | None = None) -> float:
    """Epoch seconds from epoch seconds (a number, or a string of one), ``+SECONDS`` (after ``now``),
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
    raise ValueError(f"cannot read {when!r} as a time: give +SECONDS (e.g. +30) or an ISO time (e.g. 2026-12-01T09:00:00Z)")


def _read_time(text: str, now: float | None) -> float | None:
    """``text`` as epoch seconds, unchecked; None if it is no time at all."""
    try:
        if text.startswith("+"):
            base = _dt.datetime.now(_dt.timezone.utc).timestamp() if now is None else now
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
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.timestamp()


class LocalEngine:
    """An in-process engine on a background thread, driven synchronously."""

    remote = False

    def __init__(self, objects: str = "objects", data: str = ".dotui", **options: Any):
        self.engine = Engine(objects, data, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dotui-engine", daemon=True)
        self._started = False
        self._closed = False

    # ------------------------------------------------------------ running
    def start(self) -> "LocalEngine":
        self._thread.start()
        try:
            self.run(self.engine.start())
        except BaseException:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            raise
        self._started = True
        return self

    def close(self) -> None:
        """Flush every write, checkpoint, hibernate, release the data folder."""
        if not self._started:
            return
        self._started = False
        try:
            self.run(self.engine.close())
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> "LocalEngine":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def submit(self, coro) -> concurrent.futures.Future:
        if self._closed:
            coro.close()
            raise EngineClosedError("this engine is closed; start a new one to make more calls")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro, timeout: float | None = None) -> Any:
        return self.submit(coro).result(timeout)

    def _sync(self, fn: Callable[[], Any]) -> Any:
        """Run a plain function on the engine's thread (its state is not thread-safe)."""
        async def wrapper():
            return fn()
        return self.run(wrapper())

    # ------------------------------------------------------------ describing
    @property
    def data_dir(self) -> str:
        return self.engine.data_dir

    @property
    def objects_dir(self) -> str:
        return self.engine.objects_dir

    def load_errors(self) -> list[str]:
        return [str(e) for e in self.engine.load_errors]

    def namespaces(self) -> list[dict[str, Any]]:
        return self._sync(self.engine.namespaces)

    def instances(self, namespace: str | None = None, *, state: str | None = None,
                  offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        return self._sync(lambda: self.engine.instances(namespace, state=state, offset=offset, limit=limit))

    def instance_table(self, namespace: str | None = None) -> dict[str, Any]:
        """Every known object at once, compactly: ``{"objects": [instance dicts of the objects
        in memory], "hibernated": {namespace: {"id": [...], "name": [...], "last_active": [...],
        "keys": [...], "bytes": [...], "alarm": [...]}}}`` (one list per field), unordered.

        For a front end listing 100,000 objects: no dict is built per hibernated object.
        """
        return self._sync(lambda: self.engine.instance_table(namespace))

    def count_instances(self, namespace: str | None = None) -> dict[str, int]:
        return self._sync(lambda: self.engine.count_instances(namespace))

    def instance(self, namespace: str, ref: str) -> dict[str, Any]:
        return self._sync(lambda: self.engine.instance_info(namespace, self.engine.object_id(namespace, ref)))

    def instances_of(self, keys: list[tuple[str, str]] | list[list[str]]) -> list[dict[str, Any]]:
        """``instance()`` of each ``(namespace, id hex)`` in one round trip to the engine's thread.

        For a front end refreshing the objects its event stream says changed. Wakes
        nothing; a key of an unknown namespace or a malformed id is left out.
        """
        return self._sync(lambda: self.engine.instances_of([tuple(k) for k in keys]))

    def resolve(self, namespace: str, ref: str) -> dict[str, Any]:
        """``{"namespace", "id", "name"}`` of a reference; InvalidIdError if none matches."""
        def go():
            oid = self.engine.object_id(namespace, ref)
            return {"namespace": namespace, "id": oid.hex, "name": oid.name}
        return self._sync(go)

    def read_storage(self, namespace: str, ref: str) -> dict[str, Any]:
        return self._sync(lambda: self.engine.read_storage(namespace, self.engine.object_id(namespace, ref)))

    def queue(self, namespace: str, ref: str) -> list[dict[str, Any]]:
        return self._sync(lambda: self.engine.queue(namespace, self.engine.object_id(namespace, ref)))

    def history(self, namespace: str, ref: str, n: int = 20) -> list[dict[str, Any]]:
        return self._sync(lambda: self.engine.history(namespace, self.engine.object_id(namespace, ref), n))

    def stats(self) -> dict[str, Any]:
        return self._sync(self.engine.stats)

    # ------------------------------------------------------------ acting
    def call(self, namespace: str, ref: str, method: str, args: list | tuple = (), kwargs: dict | None = None,
             timeout: float | None = None) -> Any:
        async def go():
            oid = self.engine.object_id(namespace, ref)
            return await self.engine.call(namespace, oid, method, tuple(args), kwargs or {})
        return self.run(go(), timeout)

    def call_async(self, namespace: str, ref: str, method: str, args: list | tuple = (),
                   kwargs: dict | None = None) -> concurrent.futures.Future:
        async def go():
            oid = self.engine.object_id(namespace, ref)
            return await self.engine.call(namespace, oid, method, tuple(args), kwargs or {})
        return self.submit(go())

    def _on(self, namespace: str, ref: str, label: str, fn: Callable[[Instance], Any], args: tuple = ()) -> Any:
        async def go():
            oid = self.engine.object_id(namespace, ref)
            return await self.engine.run_on(namespace, oid, label, fn, args)
        return self.run(go())

    def storage_get(self, namespace: str, ref: str, key: str) -> Any:
        return self._on(namespace, ref, "storage.get", lambda i: i.storage.get(key), (key,))

    def storage_put(self, namespace: str, ref: str, key: str, value: Any) -> None:
        return self._on(namespace, ref, "storage.put", lambda i: i.storage.put(key, value), (key, value))

    def storage_delete(self, namespace: str, ref: str, key: str) -> bool:
        return self._on(namespace, ref, "storage.delete", lambda i: i.storage.delete(key), (key,))

    def alarm_get(self, namespace: str, ref: str) -> float | None:
        return self._on(namespace, ref, "storage.get_alarm", lambda i: i.storage.alarm_epoch)

    def alarm_set(self, namespace: str, ref: str, when: Any) -> float:
        t = parse_when(when)

        def set_it(i: Instance) -> float:
            i.storage.set_alarm(t)
            return t
        return self._on(namespace, ref, "storage.set_alarm", set_it, (t,))

    def alarm_delete(self, namespace: str, ref: str) -> None:
        return self._on(namespace, ref, "storage.delete_alarm", lambda i: i.storage.delete_alarm())

    def hibernate(self, namespace: str, ref: str) -> bool:
        async def go():
            return await self.engine.hibernate(namespace, self.engine.object_id(namespace, ref))
        return self.run(go())

    def hibernate_all(self) -> int:
        return self.run(self.engine.hibernate_all())

    def wake(self, namespace: str, ref: str) -> dict[str, Any]:
        async def go():
            oid = self.engine.object_id(namespace, ref)
            await self.engine.wake(namespace, oid)
            return self.engine.instance_info(namespace, oid)
        return self.run(go())

    def reload(self) -> list[str]:
        return [str(e) for e in self.run(self.engine.reload())]

    def flush(self) -> None:
        self.run(self.engine.flush())

    def subscribe(self, maxlen: int = 10_000, predicate=None) -> Subscription:
        """Events, buffered; read with ``drain()`` or ``get_nowait()`` from any thread."""
        return self._sync(lambda: self.engine.subscribe(maxlen, predicate))
