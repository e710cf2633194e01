"""A WebSocket to an object, driven synchronously from a front end (the ``ws`` command).

``LocalEngine.open_websocket`` gives a ``LocalWebSocket``: the socket is handed
to the object's ``fetch`` in-process, as the gateway would, without a network;
``RemoteEngine.open_websocket`` (``dotui.server``) opens a real one to ``dotui
serve``. Both offer ``send(message)``, ``receive(timeout)`` (the messages that
arrived, waiting up to ``timeout`` for the first), ``close(code, reason)`` and
``closed`` (``(code, reason)`` once closed, else None), from any thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .object.wshandle import WebSocket

MAX_INBOX_MESSAGES = 10_000  # what a front end's socket keeps unread; past it (or the bytes) the oldest go
MAX_INBOX_BYTES = 16 << 20


class Inbox:
    """What a front end's socket received, kept for a thread to read: at most ``MAX_INBOX_MESSAGES`` and
    ``MAX_INBOX_BYTES``; past them the oldest unread are dropped and counted in ``dropped`` (a busy room
    watched from a prompt nobody reads holds a bounded inbox, as the event stream does). O(1) a message."""

    def __init__(self) -> None:
        self._messages: deque[str | bytes] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self.closed: tuple[int, str] | None = None
        self.dropped = 0

    def put(self, message: str | bytes) -> None:
        with self._cond:
            self._messages.append(message)
            self._bytes += len(message)
            while len(self._messages) > 1 and (
                len(self._messages) > MAX_INBOX_MESSAGES or self._bytes > MAX_INBOX_BYTES
            ):
                self._bytes -= len(self._messages.popleft())
                self.dropped += 1
            self._cond.notify_all()

    def end(self, code: int, reason: str) -> None:
        with self._cond:
            if self.closed is None:
                self.closed = (code, reason)
            self._cond.notify_all()

    def take(self, timeout: float) -> list[str | bytes]:
        """Every message received; waits up to ``timeout`` seconds for the first (not once closed)."""
        with self._cond:
            if not self._messages and self.closed is None and timeout > 0:
                self._cond.wait(timeout)
            out = list(self._messages)
            self._messages.clear()
            self._bytes = 0
            return out


class _InboxPeer:
    """The engine's ``Peer`` for an in-process socket: sends land in the inbox, in order, each once
    the writes made before it are durable (no task: a done-callback resumes the queue)."""

    def __init__(self, inbox: Inbox):
        self.inbox = inbox
        self._held: deque[tuple[Any, Any]] = deque()
        self._waiting = False

    def send(self, data: str | bytes, after: Awaitable[Any] | None) -> None:
        self._held.append((after, data))
        self._flush()

    def close(self, code: int, reason: str, after: Awaitable[Any] | None) -> None:
        self._held.append((after, (code, reason)))
        self._flush()

    def drop(self) -> None:
        self._held.clear()
        self.inbox.end(1006, "the connection ended: the object was reset")

    def _flush(self, _: Any = None) -> None:
        self._waiting = False
        while self._held:
            after, item = self._held[0]
            if after is not None and not after.done():
                if not self._waiting:
                    self._waiting = True
                    after.add_done_callback(self._flush)
                return
            self._held.popleft()
            if after is not None and after.exception() is not None:
                item = (1011, "a write made before this message failed to commit")
            if isinstance(item, tuple):
                self._held.clear()
                self.inbox.end(*item)
                return
            self.inbox.put(item)


class LocalWebSocket:
    """A socket to an object of an in-process engine (``LocalEngine.open_websocket``)."""

    def __init__(self, run: Callable[[Any], Any], hub: Any, label: str):
        self._run = run  # runs a coroutine on the engine's loop and returns its result
        self._hub = hub
        self.label = label
        self.inbox = Inbox()
        self.peer = _InboxPeer(self.inbox)
        self.ws: WebSocket | None = None

    @property
    def closed(self) -> tuple[int, str] | None:
        return self.inbox.closed

    def send(self, message: str | bytes) -> None:
        """Deliver ``message`` to the object; returns once its handler is done."""
        if self.closed is not None or self.ws is None:
            raise ConnectionError(f"the WebSocket to {self.label} is closed {self.closed}")
        self._run(self._hub.message(self.ws, message))

    def receive(self, timeout: float = 1.0) -> list[str | bytes]:
        return self.inbox.take(timeout)

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed is None and self.ws is not None:
            self.inbox.end(code, reason)
            self._run(self._hub.closed(self.ws, code, reason, True))

    async def open(self, namespace: str, oid: Any, request: dict[str, Any]) -> Any:
        """Hand the upgrade to the object's ``fetch``; its answer if it did not accept."""
        ws, answer = await self._hub.open(namespace, oid, request, self.peer)
        self.ws = ws
        if ws is None:
            self.inbox.end(1006, "not accepted")
        return answer


def upgrade_request(label: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The request dict an in-process upgrade hands to ``fetch`` (as ``app.fetch_request`` builds it)."""
    parts = urlsplit(path if path.startswith("/") else "/" + path)
    return {
        "method": "GET",
        "url": f"dotui://{label}{path}",
        "path": parts.path or "/",
        "query": dict(parse_qsl(parts.query)),
        "headers": {"Upgrade": "websocket", **(headers or {})},
        "body": "",
        "body_base64": False,
    }
