"""``ctx`` of a Python Workers Durable Object (``DurableObjectState``) and of a Worker, and WebSockets.

The JavaScript names over dotui's ``ObjectContext`` (docs/cloudflare.md has the table):
``id``, ``storage``, ``blockConcurrencyWhile(fn)``, ``waitUntil``, ``abort(reason)``,
``acceptWebSocket(ws, tags)``, ``getWebSockets(tag)``, ``getTags(ws)``,
``setWebSocketAutoResponse(pair)``, ``getWebSocketAutoResponse()``,
``getWebSocketAutoResponseTimestamp(ws)``. A socket reads as workerd's (``send``, ``close``,
``serializeAttachment``, ``deserializeAttachment``); the same connection is the same Python object
in every handler while the object is in memory.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from .storage import Storage

# The socket of the upgrade request a Durable Object's fetch() is answering (WebSocketPair takes it).
upgrade_socket: contextvars.ContextVar[Any] = contextvars.ContextVar("dotui_workers_upgrade", default=None)


class WebSocket:
    """A client connection as workerd's ``WebSocket``, over dotui's (``dotui/engine/object/websockets.py``)."""

    __slots__ = ("_native", "__weakref__")

    def __init__(self, native: Any):
        self._native = native

    def send(self, message: str | bytes) -> None:
        self._native.send(message)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._native.close(code, reason)

    def serializeAttachment(self, value: Any) -> None:
        self._native.serialize_attachment(value)

    def deserializeAttachment(self) -> Any:
        from .rpc import decode

        return decode(self._native.deserialize_attachment())

    @property
    def readyState(self) -> int:
        return {"pending": 0, "open": 1}.get(self._native.state, 3)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WebSocket) and other._native is self._native

    def __hash__(self) -> int:
        return id(self._native)

    def __repr__(self) -> str:
        return f"<WebSocket {self._native.state}>"


_sockets: weakref.WeakKeyDictionary[Any, WebSocket] = weakref.WeakKeyDictionary()


def socket_of(native: Any) -> WebSocket:
    """The one ``WebSocket`` of a native socket (made once, kept while the native one lives). O(1)."""
    if isinstance(native, WebSocket):
        return native
    ws = _sockets.get(native)
    if ws is None:
        ws = _sockets[native] = WebSocket(native)
    return ws


def native_of(ws: Any) -> Any:
    if isinstance(ws, ClientSocket):
        raise TypeError("acceptWebSocket() takes the server side of the WebSocketPair, not the client side")
    return ws._native if isinstance(ws, WebSocket) else ws


class ClientSocket:
    """The client side of a ``WebSocketPair``: handed back as ``Response(status=101, web_socket=client)``.

    The client itself is the gateway's connection; this stands for it in the response.
    """

    def __init__(self, server: WebSocket):
        self.server = server


class WebSocketPair:
    """``WebSocketPair.new().object_values()`` -> ``(client, server)`` (also ``client, server = WebSocketPair()``).

    dotui's gateway holds every connection (README.md, "WebSockets that outlive hibernation"): the
    server side is the socket of the upgrade request being answered, so a pair can be made inside
    a Durable Object's ``fetch`` of an upgrade request only.
    """

    def __init__(self) -> None:
        native = upgrade_socket.get()
        if native is None:
            raise TypeError(
                "a WebSocketPair can be made in a Durable Object's fetch() of a WebSocket upgrade "
                "request only: dotui's gateway holds the connections (an outgoing WebSocket is "
                "not supported)"
            )
        self.server = socket_of(native)
        self.client = ClientSocket(self.server)

    @classmethod
    def new(cls) -> WebSocketPair:
        return cls()

    def object_values(self) -> tuple[ClientSocket, WebSocket]:
        return self.client, self.server

    def __iter__(self):
        return iter((self.client, self.server))


class WebSocketRequestResponsePair:
    """``WebSocketRequestResponsePair.new("ping", "pong")`` for ``setWebSocketAutoResponse``."""

    def __init__(self, request: str, response: str):
        self.request, self.response = request, response

    @classmethod
    def new(cls, request: str, response: str) -> WebSocketRequestResponsePair:
        return cls(request, response)


class ExecutionContext:
    """``self.ctx`` of a Worker (``WorkerEntrypoint``): ``waitUntil`` and ``passThroughOnException``."""

    def __init__(self, wait_until: Callable[[Awaitable[Any]], None]):
        self._wait_until = wait_until

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        self._wait_until(awaitable)

    wait_until = waitUntil

    def passThroughOnException(self) -> None:
        return None


class DurableObjectContext:
    """``self.ctx`` of a Python Workers Durable Object."""

    def __init__(self, native: Any):
        self._native = native
        self.id = native.id
        self.storage = Storage(native.storage)

    # ------------------------------------------------------------ the input gate
    def blockConcurrencyWhile(self, fn: Callable[[], Any]) -> Awaitable[Any]:  # the JavaScript name
        """Run ``fn()`` with every other call kept out (README.md, "The input gate"); an awaitable of its
        result, started at once (from the constructor too, where nothing awaits it). Calls nest as on
        workerd, which sets no depth of its own (docs/cloudflare.md)."""
        return self._native.block_concurrency_while(fn)

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        self._native.wait_until(awaitable)

    wait_until = waitUntil

    def abort(self, reason: str | None = None, *, retry_alarm: bool = True) -> None:
        """Reset the object now (dotui's ``ctx.abort``); from ``alarm()``, ``retry_alarm=False`` drops the
        alarm instead of retrying it."""
        self._native.abort(reason or "Durable Object abort requested", retry_alarm=retry_alarm)

    # ------------------------------------------------------------ WebSockets (the Hibernation API)
    def acceptWebSocket(self, ws: Any, tags: list[str] | None = None) -> None:
        self._native.accept_websocket(native_of(ws), list(tags) if tags is not None else None)

    def getWebSockets(self, tag: str | None = None) -> list[WebSocket]:
        return [socket_of(s) for s in self._native.get_websockets(tag)]

    def getTags(self, ws: Any) -> list[str]:
        return self._native.get_tags(native_of(ws))

    def setWebSocketAutoResponse(self, pair: WebSocketRequestResponsePair | None = None) -> None:
        if pair is None:
            self._native.set_websocket_auto_response()
        else:
            self._native.set_websocket_auto_response(pair.request, pair.response)

    def getWebSocketAutoResponse(self) -> WebSocketRequestResponsePair | None:
        got = self._native.get_websocket_auto_response()
        return WebSocketRequestResponsePair(*got) if got else None

    def getWebSocketAutoResponseTimestamp(self, ws: Any) -> Any:
        return self._native.get_websocket_auto_response_timestamp(native_of(ws))
