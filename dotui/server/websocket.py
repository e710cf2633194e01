"""The gateway's WebSockets to objects: ``GET /ws/{Namespace}/{name}/{path}`` (or the fetch route with
``Upgrade: websocket``).

The upgrade request goes to the object's ``fetch(request)`` with the new socket
as ``request["websocket"]``; if ``fetch`` accepts it (``ctx.accept_websocket``),
the gateway completes the handshake and holds the connection: each message
becomes a ``websocket_message`` call in the object's queue (waking it if it
hibernated), a close a ``websocket_close`` call. If ``fetch`` does not accept
it, its answer is the HTTP response. The object's ``ws.send`` reaches the
client through ``GatewayPeer``, in order, each send once the writes made before
it are durable. When the gateway stops, every client gets close code 1001.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from typing import Any, Awaitable

from aiohttp import WSMsgType, web

from ..engine.websockets import MAX_MESSAGE_BYTES, WebSocket, WebSockets

GOING_AWAY = 1001
INTERNAL_ERROR = 1011


class _Close:
    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str):
        self.code, self.reason = code, reason


class GatewayPeer:
    """One client connection as the engine sees it (``websockets.Peer``): sends leave in order.

    A send with nothing held before it is written at once (aiohttp writes a frame
    without suspending unless the socket must drain); one held by the output gate,
    or queued behind one, waits in ``out`` for a writer task, started then and ending
    when ``out`` is empty: an idle connection holds no task of its own.
    """

    __slots__ = ("ws", "transport", "out", "task", "started", "dropped")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None):
        self.ws = ws
        self.transport = transport  # the connection's, to drop it without a close frame
        self.out: deque[tuple[Any, Any]] = deque()
        self.task: asyncio.Task | None = None
        self.started = False
        self.dropped = False  # its object was reset: the connection must not stay open

    def send(self, data: str | bytes, after: Awaitable[Any] | None) -> None:
        if after is None and self.started and self.task is None:
            self._write_now(data)
            return
        self.out.append((after, data))
        self._kick()

    def close(self, code: int, reason: str, after: Awaitable[Any] | None = None) -> None:
        self.out.append((after, _Close(code, reason)))
        self._kick()

    def drop(self) -> None:
        """The object was reset: end the connection now (the client sees 1006), sending nothing held."""
        self.dropped = True
        self.out.clear()
        if self.task is not None:
            self.task.cancel()
        if self.started and self.transport is not None:  # before the handshake: serve_websocket refuses it
            self.transport.abort()

    def start(self) -> None:
        """Start writing (after the handshake): what the object sent from ``fetch`` leaves first."""
        self.started = True
        if self.dropped:  # reset while the handshake was being answered
            if self.transport is not None:
                self.transport.abort()
            return
        self._kick()

    def _kick(self) -> None:
        if self.started and self.task is None and self.out:
            # Started from an empty context: the object's code may be running (ws.send), and a task
            # made in its context would count as the object's own and die with it on a reset.
            loop = asyncio.get_running_loop()
            self.task = contextvars.Context().run(loop.create_task, self._write())

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    def _write_now(self, data: str | bytes) -> None:
        """Write a frame without a task switch; if aiohttp must wait (drain), a writer task finishes it."""
        coro = self.ws.send_str(data) if type(data) is str else self.ws.send_bytes(data)
        try:
            yielded = coro.send(None)
        except StopIteration:
            return
        except (ConnectionError, RuntimeError):
            return  # the client went away; the reader sees the connection end
        self.out.appendleft((None, _Resume(coro, yielded)))
        self._kick()

    async def _write(self) -> None:
        ws = self.ws
        try:
            while self.out:
                after, item = self.out.popleft()
                if after is not None and not await _durable(after):
                    item = _Close(INTERNAL_ERROR, "a write made before this message failed to commit")
                if type(item) is _Close:
                    self.out.clear()
                    await ws.close(code=item.code, message=item.reason.encode())
                    return
                if type(item) is _Resume:
                    await item
                elif type(item) is str:
                    await ws.send_str(item)
                else:
                    await ws.send_bytes(item)
        except (ConnectionError, RuntimeError):
            self.out.clear()  # the client went away mid-send; the reader sees the connection end
        finally:
            self.task = None


class _Resume:
    """The rest of a send whose first step suspended: awaited in the writer task, it goes on from there."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Any, yielded: Any):
        self.coro, self.yielded = coro, yielded

    def __await__(self):
        coro, yielded = self.coro, self.yielded
        while True:
            try:
                value = yield yielded
            except BaseException as exc:  # noqa: BLE001 - forwarded into the send
                try:
                    yielded = coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                yielded = coro.send(value)
            except StopIteration:
                return


async def _durable(after: Any) -> bool:
    """Wait for the output gate's future without ever cancelling it; False if its commit failed."""
    if not after.done():
        await asyncio.wait([after])
    return after.exception() is None


async def serve_websocket(request: web.Request, hub: WebSockets, namespace: str, oid: Any, path: str,
                          fetch_request: Any, fetch_response: Any, shielded: Any, peers: set) -> web.StreamResponse:
    """Upgrade ``request`` to a WebSocket held for the object, if its ``fetch`` accepts it."""
    # autoclose off: a client's close is answered after websocket_close ran, so a client whose
    # close() returned knows the object has seen it.
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True, autoclose=False)
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(text=f"{request.path} is a WebSocket route: send a GET with "
                                 "'Connection: Upgrade' and 'Upgrade: websocket' (e.g. `ws REF` in the REPL)")
    peer = GatewayPeer(ws, request.transport)
    sock, answer = await shielded(hub.open(namespace, oid, fetch_request(request, path, b""), peer))
    if sock is None:
        return fetch_response(namespace, _refusal(answer))
    if sock.state != "open":  # the object was reset after fetch accepted it: refuse, do not open a dead socket
        return fetch_response(namespace, {"status": 500, "body": "the object was reset before its WebSocket "
                                          "opened (see the engine's log); connect again"})
    peers.add(peer)
    code, reason, clean = 1006, "", False
    try:
        await ws.prepare(request)
        peer.start()
        code, reason, clean = await _read(hub, sock, ws)
    finally:
        peers.discard(peer)
        if sock.state != "closed":
            await shielded(hub.closed(sock, code, reason, clean))
        if not ws.closed and ws.prepared:
            await ws.close(code=code if clean and code not in (1005, 1006) else 1000)
        task = peer.task
        if task is not None:
            await asyncio.wait([task], timeout=1.0)
        await peer.stop()
    return ws


def _refusal(answer: Any) -> Any:
    """What ``fetch`` answered without accepting the socket; a 101 without an accept is a mistake."""
    if isinstance(answer, dict) and answer.get("status") == 101:
        return {"status": 500, "body": "fetch answered 101 without self.ctx.accept_websocket(request['websocket'])"}
    if answer is None:
        return {"status": 426, "body": "the object did not accept the WebSocket"}
    return answer


async def _read(hub: WebSockets, sock: WebSocket, ws: web.WebSocketResponse) -> tuple[int, str, bool]:
    """Hand each message to the object, in order; ``(code, reason, was_clean)`` when the connection ends."""
    while True:
        msg = await ws.receive()
        kind = msg.type
        if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
            if sock.state != "open":
                continue  # closed by the object: later messages are not delivered
            # Not shielded (a task per message would halve the rate): handlers are cancelled only
            # when the gateway stops, after every client got its close.
            await hub.message(sock, msg.data)
        elif kind is WSMsgType.CLOSE:
            return (msg.data if isinstance(msg.data, int) else 1005), msg.extra or "", True
        elif kind is WSMsgType.ERROR:  # e.g. a message over 1 MiB: aiohttp closed with the error's code
            exc = ws.exception()
            await hub.error(sock, str(exc or "protocol error"))
            return getattr(exc, "code", None) or ws.close_code or 1006, "", False
        elif kind in (WSMsgType.CLOSING, WSMsgType.CLOSED):
            return ws.close_code or 1006, "", bool(ws.close_code and ws.close_code != 1006)


async def close_all(hub: WebSockets, peers: set) -> None:
    """The gateway is stopping: every client gets 1001 (going away), after what was already sent."""
    hub.drop_all(set(peers))
    for peer in list(peers):
        peer.close(GOING_AWAY, "dotui gateway is stopping")
    tasks = [p.task for p in peers if p.task is not None]
    if tasks:
        await asyncio.wait(tasks, timeout=5.0)
