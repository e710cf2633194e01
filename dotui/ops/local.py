"""The in-process facade: an ``Engine`` on a thread of its own, driven synchronously.

``LocalEngine`` runs an ``Engine`` on its own thread and asyncio loop, so a
user's method that blocks never freezes a prompt or a screen. Its operations are
``EngineFacade``'s, generated from the table (``ops/facade.py``): each runs the
``Admin`` operation of that name on the engine's thread (``send``). Written here:
the lifecycle, the event stream and in-process WebSocket sessions.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from ..engine.durability.slowcommit import SlowCommitLog
from ..engine.engine import Engine
from ..engine.errors import EngineClosedError
from ..engine.events import EventBuffer
from ..engine.object.wshandle import WebSocketError
from ..engine.wsession import LocalWebSocket, upgrade_request
from .admin import Admin, ClientFault, MethodRaised
from .facade import EngineFacade
from .table import Operation
from .waiting import Waiting

log = logging.getLogger("dotui")


class _NotStarted:
    """The loop of a LocalEngine not yet started: an operation sent to it is refused."""

    def __getattr__(self, name: str) -> Any:
        raise EngineClosedError("this engine is not started; start it (or use it as a context manager) first")


async def _end_the_rest() -> None:
    """Cancel what still runs on the engine's loop once the engine is closed (a call suspended for good, its
    caller's wait) and let each end: a loop stopped with tasks pending destroys them, which asyncio reports
    as 'Task was destroyed but it is pending!'. O(tasks)."""
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    if rest:
        await asyncio.wait(rest, timeout=5)


async def _unwrapped(coro: Coroutine[Any, Any, Any]) -> Any:
    """In-process, a caller's mistake or a method's error is the original exception."""
    try:
        return await coro
    except (ClientFault, MethodRaised) as exc:
        raise exc.original from None


class LocalEngine(EngineFacade):
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
        # made by start(): an engine never started leaves no unclosed loop behind at exit
        self._loop: asyncio.AbstractEventLoop = _NotStarted()  # type: ignore[assignment]  # a stand-in that raises on use until start() sets the loop
        self._thread = threading.Thread(target=self._serve, name="dotui-engine", daemon=True)
        self._started = False
        self._closed = False
        self._waiting = Waiting()  # submitted, not yet answered
        self._stopped: str | None = None  # why the engine's thread ended, once it has

    def _serve(self) -> None:
        """The engine's thread: its loop, until ``close`` stops it or something escapes it."""
        why = "the engine was closed"
        try:
            self._loop.run_forever()
        except BaseException as exc:  # noqa: BLE001 - whatever ended the thread is what the waiters hear
            why = f"{type(exc).__name__}{': ' + str(exc) if str(exc) else ''} escaped the engine's loop"
            log.error(
                "the engine thread stopped: %s (raised by code run outside any call, such as a "
                "callback an object scheduled); start the engine again",
                why,
            )
            # Its tasks stay pending for good: their destruction at exit is not news.
            self._loop.set_exception_handler(lambda loop, context: log.debug("%s", context.get("message")))
        finally:
            self._thread_ended(why)

    def _thread_ended(self, why: str) -> None:
        """Fail every operation still waiting for an answer: none will come. O(waiting)."""

        def mark() -> None:
            self._stopped = why

        self._waiting.end(EngineClosedError(f"the engine thread stopped ({why}); start the engine again"), mark)

    # ------------------------------------------------------------ running
    def start(self) -> LocalEngine:
        self._loop = asyncio.new_event_loop()
        self._thread.start()
        try:
            self.run(self.engine.start())
        except BaseException:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()  # an unclosed loop's __del__ prints a traceback at exit
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
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()
            return
        try:
            self.run(self.engine.close())
            self.run(_end_the_rest(), timeout=10)
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()  # an unclosed loop's __del__ prints a traceback at exit

    def __enter__(self) -> LocalEngine:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run ``coro`` on the engine's thread; its answer, as a future that fails with
        ``EngineClosedError`` if the thread stops first. O(1)."""
        return self._waiting.send(coro, self._loop, self._refusal)

    def _refusal(self) -> EngineClosedError | None:
        if isinstance(self._loop, _NotStarted):
            return EngineClosedError("this engine is not started; start it (or use it as a context manager) first")
        if self._closed:
            return EngineClosedError("this engine is closed; start a new one to make more calls")
        if self._stopped is not None:
            return EngineClosedError(f"the engine thread stopped ({self._stopped}); start the engine again")
        return None

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        return self.submit(coro).result(timeout)

    def _submit_op(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        try:
            return self.submit(_unwrapped(coro))
        except EngineClosedError:
            coro.close()  # closing its unstarted wrapper leaves it unclosed (and warned of when collected)
            raise

    # ------------------------------------------------------------ describing
    @property
    def data_dir(self) -> str:
        return self.engine.data_dir

    @property
    def objects_dir(self) -> str:
        return self.engine.objects_dir

    # ------------------------------------------------------------ carrying an operation
    def send(self, op: Operation, params: dict[str, Any]) -> concurrent.futures.Future:
        """``Admin.<op>`` on the engine's thread; a caller's mistake or a method's error is the original
        exception. O(1) here."""
        return self._submit_op(getattr(self.admin, op.name)(**params))

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
