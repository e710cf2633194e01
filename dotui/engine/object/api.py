"""What an object's code sees: the DurableObject base class and ``self.ctx``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .wshandle import WebSocket, timestamp

if TYPE_CHECKING:
    from datetime import datetime

    from ..ids import ObjectId
    from .instance import Instance
    from .sqlstorage import SqlStorage
    from .storage import Storage


class DurableObject:
    """Base class of durable objects.

    Subclass it in a top-level ``.py`` file of the objects folder; the class name
    is the namespace name. Public methods (no leading underscore; not ``alarm``)
    are callable through stubs. ``concurrency = "serial"`` runs one call at a
    time, start to finish, instead of interleaving at awaits. ``storage_backend = "sqlite"``
    keeps the object's storage in a private SQLite database (``ctx.storage.sql``; docs/sqlite.md).
    """

    concurrency: str = "input-gate"
    storage_backend: str = "kv"

    def __init__(self, ctx: ObjectContext, env: Any):
        self.ctx = ctx
        self.env = env

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        alarm = cls.__dict__.get("alarm")
        if inspect.isfunction(alarm) and len(inspect.signature(alarm).parameters) == 1:
            cls.alarm = _taking_info(alarm)  # type: ignore[attr-defined]  # alarm() is declared by the subclass, not by DurableObject


def _taking_info(alarm: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    """``alarm(self)`` declared without the info parameter (as Cloudflare's examples declare it), called
    as the engine calls every alarm handler: ``alarm(info)``."""

    @functools.wraps(alarm)
    def with_info(self: Any, info: Any = None) -> Any:
        return alarm(self)

    return with_info


@dataclass(frozen=True)
class AlarmInfo:
    retry_count: int = 0

    @property
    def is_retry(self) -> bool:
        return self.retry_count > 0


class ObjectContext:
    """``self.ctx``: the object's id, its storage, and control over its input gate."""

    __slots__ = ("id", "storage", "_instance")

    def __init__(self, instance: Instance, storage: Storage | SqlStorage):
        self._instance = instance
        self.id: ObjectId = instance.id
        self.storage = storage  # SqlStorage for a class with ``storage_backend = "sqlite"`` (docs/sqlite.md)

    def block_concurrency_while(self, fn: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        """Run ``fn()`` with every other call kept out until it finishes.

        Returns an awaitable of ``fn``'s result. If ``fn`` raises, or runs past
        the engine's ``block_timeout`` (30 s), the object is reset: its in-memory
        state is dropped and the next call constructs it again from storage.
        Called from the constructor, it holds the object's first calls until
        ``fn`` is done.
        """
        return self._instance.block_concurrency_while(fn)

    def now(self) -> float:
        """The engine's time in epoch seconds: real time, or the testing kit's clock in a test
        (docs/testing.md), so code that reads it sees time move as the test moves it."""
        return self._instance.host.clock.now()

    def abort(self, reason: str = "aborted", *, retry_alarm: bool = True) -> None:
        """Reset the object now: the current call fails with ``ObjectAbortedError(reason)``.

        The error reaches the caller even if the method catches it (as every call
        still running on the object does): the object it ran on is gone. Called from
        ``alarm()``, the alarm is retried as after any failure (README.md, "Alarms"),
        unless ``retry_alarm=False``: then it is dropped.
        """
        self._instance.abort(reason, retry_alarm=retry_alarm)

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Keep the object in memory until ``awaitable`` (a coroutine, task or future) is done.

        Cloudflare's ``ctx.waitUntil``. Tasks the object's code starts with
        ``asyncio.create_task`` are kept track of already; this is for other work,
        e.g. a future a ``loop.call_later`` callback resolves. A reset cancels it.
        """
        self._instance.wait_until(awaitable)

    # ------------------------------------------------------------ WebSockets (Cloudflare's Hibernation API)
    def accept_websocket(self, ws: WebSocket, tags: list[str] | None = None) -> None:
        """Accept ``request["websocket"]`` in ``fetch``: the gateway holds it open, this object may hibernate.

        Messages then arrive as ``websocket_message(ws, message)`` calls (waking the
        object if need be); ``tags`` (at most 10 str) find it again with ``get_websockets(tag)``.
        """
        self._instance.host.websockets.accept(self._instance, ws, tags)

    def get_websockets(self, tag: str | None = None) -> list[WebSocket]:
        """The open sockets this object accepted (those with ``tag``, if given), in the order accepted."""
        return self._instance.host.websockets.get_websockets(self._instance, tag)

    def get_tags(self, ws: WebSocket) -> list[str]:
        """The tags ``ws`` was accepted with."""
        return self._instance.host.websockets.get_tags(self._instance, ws)

    def set_websocket_auto_response(self, request: str | None = None, response: str | None = None) -> None:
        """Answer the text message ``request`` with ``response`` without waking the object (no arguments: stop).

        The gateway replies itself; ``get_websocket_auto_response_timestamp(ws)`` tells when it last did.
        """
        self._instance.host.websockets.set_auto_response(self._instance, request, response)

    def get_websocket_auto_response(self) -> tuple[str, str] | None:
        """The ``(request, response)`` pair set by ``set_websocket_auto_response``, or None."""
        return self._instance.host.websockets.get_auto_response(self._instance)

    def get_websocket_auto_response_timestamp(self, ws: WebSocket) -> datetime | None:
        """When the gateway last answered ``ws`` with the auto-response (aware UTC), or None."""
        return timestamp(ws.auto_response_at)
