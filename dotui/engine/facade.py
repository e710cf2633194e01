"""The engine facade: one interface for front ends, whatever runs the engine.

``EngineFacade`` is that interface: every admin operation of ``Admin``
(``engine/admin.py``), synchronous and callable from any thread, taking object
references as strings (``"alice"`` or ``"#3f2a"``) and returning
JSON-compatible data, plus ``call_async``, ``subscribe`` and ``close``.

``LocalEngine`` runs an ``Engine`` on its own thread and asyncio loop, so a
user's method that blocks never freezes a prompt or a screen; each of its
methods runs the ``Admin`` operation of that name there. ``RemoteEngine``
(``dotui.server``) sends the same operations to ``dotui serve``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Any, Callable, Coroutine, Protocol, runtime_checkable

from .admin import Admin, ClientFault, MethodRaised, parse_when
from .engine import Engine
from .errors import EngineClosedError
from .events import EventBuffer
from .rows import InstanceRow, InstanceTable
from .durability.slowcommit import SlowCommitLog
from .object.websockets import WebSocketError
from .wsession import LocalWebSocket, upgrade_request

__all__ = ["EngineFacade", "LocalEngine", "parse_when"]

log = logging.getLogger("dotui")


@runtime_checkable
class EngineFacade(Protocol):
    """What every front end holds: an engine, here or behind ``dotui serve``.

    One method per operation of ``dotui.engine.admin.OPERATIONS`` (same name, same
    parameters), and the rest below. ``tests/test_facades.py`` checks both facades
    against the table, behaviour and all.
    """

    remote: bool
    url: str | None  # the gateway's URL for a remote engine; None in-process

    @property
    def data_dir(self) -> str: ...
    @property
    def objects_dir(self) -> str: ...
    def close(self) -> None: ...
    def load_errors(self) -> list[str]: ...
    def info(self) -> dict[str, Any]: ...
    def namespaces(self) -> list[dict[str, Any]]: ...
    def instances(self, namespace: str | None = None, state: str | None = None,
                  offset: int = 0, limit: int | None = None) -> list[InstanceRow]: ...
    def instances_of(self, keys: list) -> list[InstanceRow]: ...
    def count_instances(self, namespace: str | None = None) -> dict[str, int]: ...
    def instance_table(self, namespace: str | None = None) -> InstanceTable: ...
    def instance(self, namespace: str, ref: str) -> InstanceRow: ...
    def resolve(self, namespace: str, ref: str) -> dict[str, Any]: ...
    def read_storage(self, namespace: str, ref: str) -> dict[str, Any]: ...
    def queue(self, namespace: str, ref: str) -> list[dict[str, Any]]: ...
    def history(self, namespace: str, ref: str, n: int = 20) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def websockets(self, namespace: str, ref: str) -> dict[str, Any]: ...
    def websocket_counts(self, namespace: str | None = None) -> list[list[Any]]: ...
    def call(self, namespace: str, ref: str, method: str, args: list | None = None,
             kwargs: dict | None = None, timeout: float | None = None) -> Any: ...
    def call_async(self, namespace: str, ref: str, method: str, args: list | None = None,
                   kwargs: dict | None = None) -> concurrent.futures.Future: ...
    def storage_get(self, namespace: str, ref: str, key: str) -> Any: ...
    def storage_put(self, namespace: str, ref: str, key: str, value: Any) -> None: ...
    def storage_delete(self, namespace: str, ref: str, key: str) -> bool: ...
    def alarm_get(self, namespace: str, ref: str) -> float | None: ...
    def alarm_set(self, namespace: str, ref: str, when: Any) -> float: ...
    def alarm_delete(self, namespace: str, ref: str) -> None: ...
    def hibernate(self, namespace: str, ref: str) -> bool: ...
    def hibernate_all(self) -> int: ...
    def wake(self, namespace: str, ref: str) -> InstanceRow: ...
    def reload(self) -> list[str]: ...
    def new_unique_id(self, namespace: str) -> dict[str, Any]: ...
    def commit_delay(self, seconds: Any) -> float: ...
    def flush(self) -> None: ...
    def subscribe(self, maxlen: int = 10_000,
                  predicate: Callable[[dict], bool] | None = None) -> EventBuffer: ...
    def open_websocket(self, namespace: str, ref: str, path: str = "/") -> Any: ...


async def _unwrapped(coro: Coroutine[Any, Any, Any]) -> Any:
    """In-process, a caller's mistake or a method's error is the original exception."""
    try:
        return await coro
    except (ClientFault, MethodRaised) as exc:
        raise exc.original from None



class LocalEngine:
    """An in-process engine on a background thread, driven synchronously.

    Every wait on that thread notices its end: if object code stops its loop (a callback
    raising ``SystemExit`` runs outside every call, where no call can catch it), each
    operation waiting, and each one asked for after, raises ``EngineClosedError`` naming
    what stopped it, instead of waiting forever.
    """

    remote = False

    def __init__(self, objects: str = "objects", data: str = ".dotui", **options: Any):
        self.url: str | None = None  # in-process: no gateway URL
        options.setdefault("log_class", SlowCommitLog)  # commit_delay can slow it to show the output gate
        self.engine = Engine(objects, data, **options)
        self.admin = Admin(self.engine)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="dotui-engine", daemon=True)
        self._started = False
        self._closed = False
        self._waiting: set[concurrent.futures.Future] = set()  # submitted, not yet answered
        self._waiting_lock = threading.Lock()
        self._stopped: str | None = None  # why the engine's thread ended, once it has

    def _serve(self) -> None:
        """The engine's thread: its loop, until ``close`` stops it or something escapes it."""
        why = "the engine was closed"
        try:
            self._loop.run_forever()
        except BaseException as exc:  # noqa: BLE001 - whatever ended the thread is what the waiters hear
            why = f"{type(exc).__name__}{': ' + str(exc) if str(exc) else ''} escaped the engine's loop"
            log.error("the engine thread stopped: %s (raised by code run outside any call, such as a "
                      "callback an object scheduled); start the engine again", why)
            # Its tasks stay pending for good: their destruction at exit is not news.
            self._loop.set_exception_handler(lambda loop, context: log.debug("%s", context.get("message")))
        finally:
            self._thread_ended(why)

    def _thread_ended(self, why: str) -> None:
        """Fail every operation still waiting for an answer: none will come. O(waiting)."""
        with self._waiting_lock:
            self._stopped = why
            waiting, self._waiting = self._waiting, set()
        error = EngineClosedError(f"the engine thread stopped ({why}); start the engine again")
        for fut in waiting:
            if not fut.done():
                try:
                    fut.set_exception(error)
                except concurrent.futures.InvalidStateError:  # answered or cancelled just now
                    pass

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
        """Flush every write, checkpoint, hibernate, release the data folder. If the engine's
        thread has already stopped, there is nothing left to close: what was acknowledged is
        in the commit log, and the next start recovers it."""
        if not self._started:
            return
        self._started = False
        if self._stopped is not None:
            self._closed = True
            return
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

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run ``coro`` on the engine's thread; its answer, as a future that fails with
        ``EngineClosedError`` if the thread stops first. O(1)."""
        with self._waiting_lock:
            stopped = self._stopped
            if self._closed or stopped is not None:
                coro.close()
                if stopped is not None and not self._closed:
                    raise EngineClosedError(f"the engine thread stopped ({stopped}); start the engine again")
                raise EngineClosedError("this engine is closed; start a new one to make more calls")
            fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
            self._waiting.add(fut)
        fut.add_done_callback(self._answered)
        return fut

    def _answered(self, fut: concurrent.futures.Future) -> None:
        with self._waiting_lock:
            self._waiting.discard(fut)

    def run(self, coro, timeout: float | None = None) -> Any:
        return self.submit(coro).result(timeout)

    def _do(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """An ``Admin`` operation, run on the engine's thread (its state is not thread-safe)."""
        return self._submit_op(coro).result(timeout)

    def _submit_op(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        if self._closed or self._stopped is not None:
            coro.close()
        return self.submit(_unwrapped(coro))

    # ------------------------------------------------------------ describing
    @property
    def data_dir(self) -> str:
        return self.engine.data_dir

    @property
    def objects_dir(self) -> str:
        return self.engine.objects_dir

    def load_errors(self) -> list[str]:
        return self.info()["load_errors"]

    # ------------------------------------------------------------ the operations of Admin
    def info(self) -> dict[str, Any]:
        return self._do(self.admin.info())

    def namespaces(self) -> list[dict[str, Any]]:
        return self._do(self.admin.namespaces())

    def instances(self, namespace: str | None = None, state: str | None = None,
                  offset: int = 0, limit: int | None = None) -> list[InstanceRow]:
        return self._do(self.admin.instances(namespace, state, offset, limit))

    def instances_of(self, keys: list) -> list[InstanceRow]:
        return self._do(self.admin.instances_of(keys))

    def count_instances(self, namespace: str | None = None) -> dict[str, int]:
        return self._do(self.admin.count_instances(namespace))

    def instance_table(self, namespace: str | None = None) -> InstanceTable:
        return self._do(self.admin.instance_table(namespace))

    def instance(self, namespace: str, ref: str) -> InstanceRow:
        return self._do(self.admin.instance(namespace, ref))

    def resolve(self, namespace: str, ref: str) -> dict[str, Any]:
        return self._do(self.admin.resolve(namespace, ref))

    def read_storage(self, namespace: str, ref: str) -> dict[str, Any]:
        return self._do(self.admin.read_storage(namespace, ref))

    def queue(self, namespace: str, ref: str) -> list[dict[str, Any]]:
        return self._do(self.admin.queue(namespace, ref))

    def history(self, namespace: str, ref: str, n: int = 20) -> list[dict[str, Any]]:
        return self._do(self.admin.history(namespace, ref, n))

    def stats(self) -> dict[str, Any]:
        return self._do(self.admin.stats())

    def websockets(self, namespace: str, ref: str) -> dict[str, Any]:
        return self._do(self.admin.websockets(namespace, ref))

    def websocket_counts(self, namespace: str | None = None) -> list[list[Any]]:
        return self._do(self.admin.websocket_counts(namespace))

    def call(self, namespace: str, ref: str, method: str, args: list | None = None,
             kwargs: dict | None = None, timeout: float | None = None) -> Any:
        return self._do(self.admin.call(namespace, ref, method, list(args or ()), kwargs), timeout)

    def call_async(self, namespace: str, ref: str, method: str, args: list | None = None,
                   kwargs: dict | None = None) -> concurrent.futures.Future:
        return self._submit_op(self.admin.call(namespace, ref, method, list(args or ()), kwargs))

    def storage_get(self, namespace: str, ref: str, key: str) -> Any:
        return self._do(self.admin.storage_get(namespace, ref, key))

    def storage_put(self, namespace: str, ref: str, key: str, value: Any) -> None:
        return self._do(self.admin.storage_put(namespace, ref, key, value))

    def storage_delete(self, namespace: str, ref: str, key: str) -> bool:
        return self._do(self.admin.storage_delete(namespace, ref, key))

    def alarm_get(self, namespace: str, ref: str) -> float | None:
        return self._do(self.admin.alarm_get(namespace, ref))

    def alarm_set(self, namespace: str, ref: str, when: Any) -> float:
        return self._do(self.admin.alarm_set(namespace, ref, when))

    def alarm_delete(self, namespace: str, ref: str) -> None:
        return self._do(self.admin.alarm_delete(namespace, ref))

    def hibernate(self, namespace: str, ref: str) -> bool:
        return self._do(self.admin.hibernate(namespace, ref))

    def hibernate_all(self) -> int:
        return self._do(self.admin.hibernate_all())

    def wake(self, namespace: str, ref: str) -> InstanceRow:
        return self._do(self.admin.wake(namespace, ref))

    def reload(self) -> list[str]:
        return self._do(self.admin.reload())

    def new_unique_id(self, namespace: str) -> dict[str, Any]:
        return self._do(self.admin.new_unique_id(namespace))

    def commit_delay(self, seconds: Any) -> float:
        return self._do(self.admin.commit_delay(seconds))

    def flush(self) -> None:
        return self._do(self.admin.flush())

    def subscribe(self, maxlen: int = 10_000, predicate: Callable[[dict], bool] | None = None) -> EventBuffer:
        """Events, buffered; read with ``drain()`` or ``get_nowait()`` from any thread."""
        async def go() -> EventBuffer:
            return self.admin.subscribe(maxlen, predicate)
        return self.run(go())

    def open_websocket(self, namespace: str, ref: str, path: str = "/") -> LocalWebSocket:
        """A WebSocket to the object's ``fetch``, in-process (``wsession.py``); WebSocketError if refused."""
        label = f"{namespace}/{ref}"
        sock = LocalWebSocket(self.run, self.engine.websockets, label)

        async def go() -> Any:
            return await sock.open(namespace, self.admin.target(namespace, ref), upgrade_request(label, path))
        answer = self.run(_unwrapped(go()))
        if sock.ws is None:
            raise WebSocketError(f"{label} did not accept the WebSocket; its fetch answered {answer!r:.200}")
        return sock
