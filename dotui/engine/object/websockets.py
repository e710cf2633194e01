"""WebSockets that outlive their object's hibernation (Cloudflare's WebSocket Hibernation API).

The gateway holds the connections; this module holds, per object, what the
object knows of them: the ``WebSocket`` handles its code sees, their tags and
attachments, and the object's auto-response. All of it lives here, beside the
engine and not in the object, so it survives hibernation and reload: the object
leaves memory with its sockets open, and the next message wakes it (its
constructor runs again) with the same handles, tags and attachments.

A message reaches the object as a call in its queue (``Engine.run_on``, kind
``websocket``), through the input gate like any call; a ``send`` made after a
write leaves only once that write is durable (the output gate), in order with
the socket's other sends. An auto-response is answered here, without waking the
object. See README.md, "WebSockets".

The gateway's side of one connection is a ``Peer``: ``send(data, after)``
queues a message to leave once ``after`` (a future, or None) is done;
``close(code, reason, after)`` queues a close frame behind the sends.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ..errors import OverloadedError
from .wshandle import (
    MAX_AUTO_RESPONSE_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_SOCKETS,
    RESERVED_CLOSE_CODES,
    ObjectSockets,
    Peer,
    WebSocket,
    WebSocketError,
    check_tags,
)

if TYPE_CHECKING:
    from ..ids import ObjectId
    from .instance import Instance

log = logging.getLogger("dotui")


def _auto_text(what: str, text: object) -> str:
    """``text``, one side of an auto-response: a str of 1 to ``MAX_AUTO_RESPONSE_CHARS`` characters,
    or ``ValueError`` saying so."""
    if not isinstance(text, str) or not text or len(text) > MAX_AUTO_RESPONSE_CHARS:
        raise ValueError(
            f"the auto-response's {what} must be a str of 1 to {MAX_AUTO_RESPONSE_CHARS:,} characters; got {text!r:.80}"
        )
    return text


class WebSockets:
    """Every object's sockets, for one engine (``engine.websockets``)."""

    def __init__(self, engine: Any):
        self._engine = engine
        self._objects: dict[tuple[str, str], ObjectSockets] = {}
        self._seq = itertools.count(1)
        self.counters = {
            "websockets_accepted": 0,
            "websocket_messages": 0,
            "websocket_auto_responses": 0,
            "websocket_handler_errors": 0,
            "websocket_overloaded": 0,
        }

    # ------------------------------------------------------------ counting
    @property
    def objects_tracked(self) -> int:
        """Objects with sockets open (or, in memory, an auto-response): the records kept here."""
        return len(self._objects)

    @property
    def open_count(self) -> int:
        return sum(len(o.sockets) for o in self._objects.values())

    def count_of(self, key: tuple[str, str]) -> int:
        o = self._objects.get(key)
        return len(o.sockets) if o is not None else 0

    def counts(self) -> dict[tuple[str, str], int]:
        return {k: len(o.sockets) for k, o in self._objects.items() if o.sockets}

    def describe(self, key: tuple[str, str]) -> dict[str, Any]:
        """What the front ends show of one object's sockets (wakes nothing)."""
        o = self._objects.get(key)
        if o is None:
            return {"sockets": [], "auto_response": None}
        return {
            "sockets": [ws.describe() for ws in o.sockets.values()],
            "auto_response": list(o.auto_response) if o.auto_response else None,
        }

    # ------------------------------------------------------------ the gateway's side
    async def open(
        self, namespace: str, oid: ObjectId, request: dict[str, Any], peer: Peer
    ) -> tuple[WebSocket | None, Any]:
        """Hand an upgrade request to the object's ``fetch``; ``(ws, answer)``, ``ws`` None unless accepted.

        The request carries the new socket as ``request["websocket"]``.
        """
        self._engine.namespace(namespace)  # NamespaceNotFoundError for an unknown one
        ws = WebSocket(self, (namespace, oid.hex), next(self._seq), peer)
        req = {**request, "websocket": ws}

        def fetch(inst: Instance) -> Any:
            handler = getattr(inst.obj, "fetch", None)
            if handler is None:
                raise WebSocketError(
                    f"{namespace} has no fetch(request) method: define one that calls "
                    "self.ctx.accept_websocket(request['websocket']) to take WebSockets"
                )
            return handler(req)

        try:
            answer = await self._engine.run_on(namespace, oid, "fetch", fetch, kind="websocket")
        except BaseException:
            self._forget(ws)
            raise
        if ws.state != "open":
            return None, answer
        return ws, answer

    async def message(self, ws: WebSocket, data: str | bytes) -> None:
        """A message from the client: answered here if it is the auto-response's request, else to the object."""
        o = self._objects.get(ws.key)
        if o is None or ws.state != "open":
            return
        auto = o.auto_response
        if auto is not None and type(data) is str and data == auto[0]:
            ws.auto_response_at = time.time()
            self.counters["websocket_auto_responses"] += 1
            ws.peer.send(auto[1], None)
            return
        ws.last_message_at = time.time()
        ws.messages_in += 1
        self.counters["websocket_messages"] += 1
        self._emit(ws, "websocket.message", size=len(data), binary=type(data) is not str)
        await self._deliver(o, ws, "websocket_message", (ws, data))

    async def closed(self, ws: WebSocket, code: int, reason: str, was_clean: bool, by: str = "client") -> None:
        """The client closed, the connection dropped, or the gateway closed it (``by="gateway"``: the client
        fell behind, or sent what the gateway refuses): forget the socket, tell the object, then the bus."""
        if ws.state == "closed":
            return
        code, reason = int(code), str(reason)  # a plain int and str for the object (not a library's enum)
        o = self._objects.get(ws.key)
        self._forget(ws, by)
        if o is not None:
            await self._deliver(o, ws, "websocket_close", (ws, code, reason, was_clean))
        self._emit(ws, "websocket.closed", code=code, reason=reason, was_clean=was_clean, by=by)

    async def error(self, ws: WebSocket, error: str) -> None:
        o = self._objects.get(ws.key)
        if o is not None and ws.state == "open":
            await self._deliver(o, ws, "websocket_error", (ws, error))

    def drop_all(self, peers: set[Any] | None = None) -> list[WebSocket]:
        """Forget every socket (of these peers): the gateway is stopping and closes them itself."""
        gone = [ws for o in self._objects.values() for ws in o.sockets.values() if peers is None or ws.peer in peers]
        for ws in gone:
            self._forget(ws, "gateway")
            self._emit(
                ws, "websocket.closed", code=1001, reason="the gateway is stopping", was_clean=True, by="gateway"
            )
        return gone

    def drop_object(self, key: tuple[str, str], error: BaseException) -> list[WebSocket]:
        """The object was reset (``ctx.abort()``, a failed ``block_concurrency_while``, a failed
        commit, an unreadable checkpoint): drop its connections.

        workerd does the same (bench/behaviour.py compares abort and a throwing
        blockConcurrencyWhile): the clients see their connections end (code 1006, no close
        frame) and must reconnect; ``websocket_close`` does not run (the object it would run
        on is gone). Its auto-response is kept. A reload is not a reset: it keeps sockets
        open (README.md, "WebSockets").
        """
        o = self._objects.get(key)
        if o is None:
            return []
        gone = list(o.sockets.values())
        for ws in gone:
            self._emit(
                ws, "websocket.closed", code=1006, reason=f"the object was reset: {error}", was_clean=False, by="reset"
            )  # (before _forget: the event names the object)
            self._forget(ws, "reset")
            ws.peer.drop()
        return gone

    async def _deliver(self, o: ObjectSockets, ws: WebSocket, handler: str, args: tuple) -> None:
        """Run ``handler(*args)`` as a call in the object's queue; a failure is logged, counted, an event."""
        namespace, hx = ws.key

        def run(inst: Instance) -> Any:
            fn = getattr(inst.obj, handler, None)
            if fn is None:
                if handler == "websocket_message":
                    raise WebSocketError(
                        f"{namespace} accepted a WebSocket but has no "
                        "websocket_message(ws, message) method; the message was dropped"
                    )
                return None
            return fn(*args)

        try:
            await self._engine.run_on(namespace, o.oid, handler, run, kind="websocket")
        except OverloadedError as exc:
            if handler == "websocket_message" and ws.state == "open":
                await self._overloaded(o, ws, exc)
            else:
                self.counters["websocket_handler_errors"] += 1
                log.warning("%s %s %s refused: %s", namespace, o.oid.name or "#" + hx[:12], handler, exc)
        except Exception as exc:  # noqa: BLE001 - the socket stays open, as on Cloudflare
            self.counters["websocket_handler_errors"] += 1
            log.warning(
                "%s %s %s raised %s: %s", namespace, o.oid.name or "#" + hx[:12], handler, type(exc).__name__, exc
            )
            self._emit(
                ws, "websocket.handler_failed", handler=handler, error={"type": type(exc).__name__, "message": str(exc)}
            )

    async def _overloaded(self, o: ObjectSockets, ws: WebSocket, exc: OverloadedError) -> None:
        """A message the object's queue refused: the client is told, with close code 1013 (try again later)
        and the error's message, rather than losing the message unseen; then the object, as of any close."""
        reason = str(exc)[:123]
        self.counters["websocket_overloaded"] += 1
        log.warning(
            "%s %s is overloaded: a WebSocket's message was refused; the socket is closed with 1013",
            ws.key[0],
            o.oid.name or "#" + ws.key[1][:12],
        )
        self._emit(ws, "websocket.closed", code=1013, reason=reason, was_clean=False, by="gateway")
        self._forget(ws, "gateway")
        ws.peer.close(1013, reason, None)
        await self._deliver(o, ws, "websocket_close", (ws, 1013, reason, False))

    # ------------------------------------------------------------ the object's side (ctx and ws)
    def accept(self, inst: Instance, ws: Any, tags: Any) -> None:
        if not isinstance(ws, WebSocket):
            raise TypeError(f"accept_websocket takes request['websocket'] (a WebSocket), not {type(ws).__name__}")
        if ws.key != inst.key or ws.state != "pending":
            what = (
                "already accepted" if ws.state == "open" else ("closed" if ws.state == "closed" else "another object's")
            )
            raise WebSocketError(f"this WebSocket is {what}; accept the one in this request, once")
        ws.tags = check_tags(tags)
        o = self._objects.get(inst.key)
        if o is None:
            o = self._objects[inst.key] = ObjectSockets(inst.id)
        if len(o.sockets) >= MAX_SOCKETS:
            raise WebSocketError(
                f"{inst.ns.name} {inst.label} has {MAX_SOCKETS:,} WebSockets open, "
                "Cloudflare's limit per object; close some first"
            )
        o.sockets[ws.seq] = ws
        ws.state = "open"
        self.counters["websockets_accepted"] += 1
        self._emit(ws, "websocket.accepted", tags=list(ws.tags))

    def get_websockets(self, inst: Instance, tag: str | None = None) -> list[WebSocket]:
        o = self._objects.get(inst.key)
        if o is None:
            return []
        if tag is None:
            return list(o.sockets.values())
        return [ws for ws in o.sockets.values() if tag in ws.tags]

    def get_tags(self, inst: Instance, ws: Any) -> list[str]:
        if not isinstance(ws, WebSocket) or ws.key != inst.key or ws.state == "pending":
            raise WebSocketError("get_tags takes a WebSocket this object accepted")
        return list(ws.tags)

    def set_auto_response(self, inst: Instance, request: str | None, response: str | None) -> None:
        o = self._objects.get(inst.key)
        if request is None and response is None:
            if o is not None:
                o.auto_response = None
            return
        pair = (_auto_text("request", request), _auto_text("response", response))
        if o is None:
            o = self._objects[inst.key] = ObjectSockets(inst.id)
        o.auto_response = pair

    def get_auto_response(self, inst: Instance) -> tuple[str, str] | None:
        o = self._objects.get(inst.key)
        return o.auto_response if o is not None else None

    def send(self, ws: WebSocket, message: Any) -> None:
        if isinstance(message, (bytearray, memoryview)):
            message = bytes(message)
        if not isinstance(message, (str, bytes)):
            raise TypeError(f"ws.send takes a str or bytes, not {type(message).__name__}; json.dumps a value first")
        if ws.state == "closed":
            if ws.closed_by == "object":
                raise WebSocketError("Can't call WebSocket send() after close().")
            return  # the client left, or fell behind: the object hears in websocket_close
        try:
            size = len(message) if isinstance(message, bytes) else len(message.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"ws.send takes text that UTF-8 can encode; this has {exc.reason} at "
                f"{exc.start} ({message[exc.start : exc.end]!r})"
            ) from None
        if size > MAX_MESSAGE_BYTES:
            raise ValueError(f"the message is {size:,} bytes; the limit is {MAX_MESSAGE_BYTES:,} (Cloudflare's)")
        ws.messages_out += 1
        ws.peer.send(message, self._after_writes(ws))

    def close(self, ws: WebSocket, code: int, reason: str) -> None:
        if type(code) is not int or not 1000 <= code <= 4999 or code in RESERVED_CLOSE_CODES:
            raise WebSocketError(
                f"Invalid WebSocket close code: {code}. Use 1000 (normal), or 3000-4999 "
                "for your application's own codes"
            )
        if not isinstance(reason, str) or len(reason.encode("utf-8")) > 123:
            raise WebSocketError(f"the close reason must be a str of at most 123 bytes; got {reason!r:.80}")
        if ws.state == "closed":
            return
        after = self._after_writes(ws)
        self._forget(ws, "object")
        self._emit(ws, "websocket.closed", code=code, reason=reason, was_clean=True, by="object")
        ws.peer.close(code, reason, after)

    # ------------------------------------------------------------ helpers
    def _after_writes(self, ws: WebSocket) -> Awaitable[Any] | None:
        """The output gate: what a send must wait for (the writes made before it), or None."""
        inst = self._engine.held(ws.key)
        if inst is None or inst.storage is None:
            return None
        return inst.output_gate.waiter(bool(inst.storage))

    def object_left(self, key: tuple[str, str]) -> None:
        """The object is out of memory (its record forgotten): with no socket open, its auto-response
        goes too, as workerd forgets an evicted object's; one with sockets keeps it while they are open."""
        o = self._objects.get(key)
        if o is not None and not o.sockets:
            del self._objects[key]

    def _forget(self, ws: WebSocket, by: str | None = None) -> None:
        ws.state = "closed"
        ws.closed_by = ws.closed_by or by
        o = self._objects.get(ws.key)
        if o is not None:
            o.sockets.pop(ws.seq, None)
            if not o.sockets and (o.auto_response is None or self._engine.held(ws.key) is None):
                del self._objects[ws.key]  # (an object out of memory keeps no auto-response: object_left)

    def _emit(self, ws: WebSocket, type: str, **fields: Any) -> None:
        bus = self._engine.bus
        if bus.active:
            namespace, hx = ws.key
            o = self._objects.get(ws.key)
            name = o.oid.name if o is not None else None
            bus.publish(type, namespace=namespace, id=hx, name=name, seq=ws.seq, **fields)
