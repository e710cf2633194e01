"""The gateway's WebSockets to objects: ``GET /ws/{Namespace}/{name}/{path}`` (or the fetch route with
``Upgrade: websocket``).

The upgrade request goes to the object's ``fetch(request)`` with the new socket
as ``request["websocket"]``; if ``fetch`` accepts it (``ctx.accept_websocket``),
the gateway completes the handshake and holds the connection: each message
becomes a ``websocket_message`` call in the object's queue (waking it if it
hibernated), a close a ``websocket_close`` call. If ``fetch`` does not accept
it, its answer is the HTTP response. The object's ``ws.send`` reaches the
client through the ``Connection``, in order, each send once the writes made
before it are durable. When the gateway stops, every client gets close code 1001.

After the handshake the gateway reads and writes the frames itself
(``wsframes.py``), so that every byte a client makes it hold is bounded
(the ``ws_*`` fields of ``limits.Limits``, flags of ``dotui serve``; docs/server.md and docs/trust.md):

- what is queued to send to one socket (``ws_send_queue``) and to all of them
  (``ws_send_total``): a client that falls behind is closed, 1008 for its own queue,
  1013 when the sum is full (the largest queue goes first), and its object hears
  of it in ``websocket_close`` as of any close;
- while a socket has sends waiting (its transport's buffer is above its high-water
  mark) the gateway stops reading it, and hands its object no further message;
- the sends a socket is given in one turn of the loop leave in one write at the end of it
  (``Connection.flush``), at most ``CHUNK`` bytes held so: a room's answers to the messages
  one read brought cost one system call, not one each;
- a message is at most 1 MiB (1009) in at most ``ws_max_fragments`` fragments (1009),
  arrives whole within ``ws_message_timeout`` seconds of its first byte (1008), and the
  bytes of unfinished messages summed over every socket are bounded
  (``ws_unfinished_total``, 1013);
- a close handshake ends within ``ws_close_timeout`` seconds, answered or not.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import hashlib
import logging
import socket
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..engine.object.websockets import WebSockets
from ..engine.object.wshandle import MAX_MESSAGE_BYTES, WebSocket
from .limits import Limits
from .wsframes import (
    OP_BINARY,
    OP_PONG,
    OP_TEXT,
    POLICY_VIOLATION,
    TRY_AGAIN_LATER,
    Budget,
    FrameError,
    MessageReader,
    encode_close,
    encode_frame,
)

log = logging.getLogger("dotui")

GOING_AWAY = 1001
INTERNAL_ERROR = 1011
ABNORMAL = 1006  # no close frame: the connection ended (never sent in a frame)

CHUNK = 64 * 1024  # a frame is handed to the transport this much at a time
INBOX_BYTES = 64 * 1024  # messages read but not yet handed to the object: reading pauses above this
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, 1.3


class WebSocketGateway:
    """The WebSocket connections of one gateway: their limits, the budgets they share, the open ones."""

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.sending = Budget(self.limits.ws_send_total)  # bytes queued to send, over every connection
        self.unfinished = Budget(self.limits.ws_unfinished_total)  # bytes of unfinished messages
        self.connections: set[Connection] = set()
        self.backlogged: set[Connection] = set()  # those with bytes queued (the only ones that can be closed for it)
        self._unflushed: list[Connection] = []  # those given sends this turn, flushed at its end
        self._context = contextvars.Context()  # the flush runs in no object's context

    def flush_soon(self, conn: Connection) -> None:
        """Write ``conn``'s coalesced sends once this turn of the loop is over. O(1)."""
        if not self._unflushed:
            asyncio.get_running_loop().call_soon(self._flush, context=self._context)
        self._unflushed.append(conn)

    def _flush(self) -> None:
        unflushed, self._unflushed = self._unflushed, []
        for conn in unflushed:
            conn.flush()

    def make_room(self, n: int, asking: Connection) -> bool:
        """Count ``n`` bytes more to send; if the total is full, close the largest queues (1013) until they
        fit. False if ``asking`` itself was closed. O(1), or O(backlogged) when the total is full."""
        sending = self.sending
        while not sending.take(n):
            largest = max(self.backlogged | {asking}, key=lambda c: c.out_bytes)
            largest.overflow(
                TRY_AGAIN_LATER,
                f"the client fell behind: the gateway holds its limit of "
                f"{sending.limit:,} bytes to send over every socket, and this one's "
                f"{largest.out_bytes:,} was the most (--ws-send-total); try again later",
            )
            if largest is asking:
                return False
        return True


class _Close:
    __slots__ = ("code", "reason", "hang_up")

    def __init__(self, code: int, reason: str, hang_up: bool = False):
        self.code, self.reason = code, reason
        self.hang_up = hang_up  # close TCP once the frame is written, without waiting for the client's close


class Connection:
    """One client's WebSocket after the handshake: the engine's ``websockets.Peer`` for it, and the parser
    aiohttp feeds its bytes to (``feed_data``/``feed_eof``).

    Sends leave in order. One with nothing queued before it joins ``batch``, the
    frames written together when the loop's turn ends (``flush``, at most ``CHUNK``
    bytes held: one that would pass it writes the batch first, and the transport's own
    buffer stops the next at its high-water mark); one held by the output gate, or behind one, waits in
    ``out`` (counted against ``ws_send_queue`` and ``ws_send_total``) for a writer task,
    started then and ending when ``out`` is empty: an idle connection holds no task.
    Messages read wait in ``inbox`` (reading pauses past ``INBOX_BYTES``) for
    ``receive()``, which hands out one at a time.
    """

    def __init__(self, gateway: WebSocketGateway, request: web.Request):
        self.gateway = gateway
        self.limits = gateway.limits
        self.transport: asyncio.Transport = request.transport  # type: ignore[assignment]  # None only before a request is connected or after it is gone; an upgrade is connected
        self.protocol: Any = request.protocol  # aiohttp's: pause_reading, resume_reading, writing_paused
        self.writer: Any = None  # aiohttp's payload writer, for drain()
        self.reader = MessageReader(MAX_MESSAGE_BYTES, self.limits.ws_max_fragments, gateway.unfinished)
        self.inbox: deque[tuple] = deque()
        self.inbox_bytes = 0
        self.out: deque[tuple[Any, Any]] = deque()
        self.out_bytes = 0
        self.batch: list[bytes] = []  # frames to write at the end of this turn of the loop
        self.batch_bytes = 0
        self.task: asyncio.Task | None = None
        self.started = False
        self.dropped = False  # its object was reset: the connection must not stay open
        self.sent_close = False
        self.ended: tuple[int, str] | None = None  # the gateway closed it (fell behind, a bad frame)
        self.on_end: Callable[[int, str], None] | None = None  # tells the object at once of ``ended``
        self.outcome: tuple[int, str, bool] | None = None  # how it ended: what the object is told
        self._reading_paused = False
        self._waiter: asyncio.Future | None = None  # receive() waiting for the inbox
        self._drained: asyncio.Future | None = None  # receive() waiting for ``out`` to empty
        self._timer: asyncio.TimerHandle | None = None  # ends a close handshake that takes too long
        self._unfinished: asyncio.TimerHandle | None = None  # ends a message that takes too long to arrive
        self._lost: asyncio.Future = asyncio.get_running_loop().create_future()  # the connection ended

    # ------------------------------------------------------------ the engine's side (websockets.Peer)
    def send(self, data: str | bytes, after: Awaitable[Any] | None) -> None:
        if self.sent_close or self.dropped or self.ended or self.transport.is_closing():
            return  # the gateway is closing it, or the client left (the object hears in websocket_close)
        frame = encode_frame(OP_TEXT, data.encode("utf-8")) if isinstance(data, str) else encode_frame(OP_BINARY, data)
        n = len(frame)
        if after is None and self.started and self.task is None and not self.out and n <= CHUNK:
            if self.batch_bytes + n > CHUNK:
                self.flush()
            if not self.protocol.writing_paused:
                if not self.batch:
                    self.gateway.flush_soon(self)
                self.batch.append(frame)
                self.batch_bytes += n
                return
        self._queue(after, frame)

    def flush(self) -> None:
        """Write the frames of ``batch`` in one write (before anything else is written). O(their bytes)."""
        batch = self.batch
        if batch:
            self.batch, self.batch_bytes = [], 0
            if not self.transport.is_closing():
                self.transport.write(batch[0] if len(batch) == 1 else b"".join(batch))

    def close(self, code: int, reason: str, after: Awaitable[Any] | None = None) -> None:
        if self.dropped or self.ended:
            return
        self.out.append((after, _Close(code, reason)))
        self._kick()

    def going_away(self) -> None:
        """The gateway is stopping: close with 1001 after what is queued, and hang up without waiting."""
        if not (self.dropped or self.ended):
            self.out.append((None, _Close(GOING_AWAY, "dotui gateway is stopping", hang_up=True)))
            self._kick()

    def drop(self) -> None:
        """The object was reset: end the connection now (the client sees 1006), sending nothing held."""
        self.dropped = True
        self._clear_out()
        self.batch, self.batch_bytes = [], 0
        if self.task is not None:
            self.task.cancel()
        if self.started:  # before the handshake: serve_websocket refuses it
            self.transport.abort()

    # ------------------------------------------------------------ the gateway's side
    def start(self, writer: Any) -> None:
        """The handshake was answered: write what the object sent from ``fetch``, and read."""
        self.writer = writer
        self.started = True
        self.protocol.set_parser(self)
        self.protocol.keep_alive(False)
        if self.protocol.transport is None:  # the client left during the handshake
            self.feed_eof()
        if self.dropped:  # reset while the handshake was being answered
            self.transport.abort()
            return
        if self.ended:  # it fell behind already, with what fetch sent
            self._send_close(*self.ended)
            self.hang_up()
            return
        self._kick()

    async def receive(self) -> tuple:
        """The next event: ``("message", data)``, ``("close", code, reason)``, ``("error", code, reason)``
        (a frame refused, or the client fell behind), ``("eof",)`` (the connection ended).

        A message is handed out only while nothing waits to be sent to this client:
        one that does not read stops being read.
        """
        while not self.inbox:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        event = self.inbox.popleft()
        if event[0] != "message":
            return event
        self.inbox_bytes -= len(event[1])
        while self._backlogged() and not (self.sent_close or self.ended or self.dropped):
            self._drained = asyncio.get_running_loop().create_future()
            self._flow()
            try:
                await self._drained
            finally:
                self._drained = None
        self._flow()
        return event

    def overflow(self, code: int, reason: str) -> None:
        """The client fell behind: drop what it was to be sent, close with ``code``, tell its object now."""
        if self.ended or self.dropped:
            return
        self._fail(code, reason, "ended")
        if self.on_end is not None:
            self.on_end(code, reason)

    def answer_close(self, code: int | None) -> None:
        """The client's close was handled: answer it (if the gateway has not closed first) and hang up."""
        self._send_close(code, "")
        self.hang_up()

    def hang_up(self) -> None:
        """End the connection once the client has read what was sent: half-close (a FIN after the frames
        buffered), then read and drop whatever comes until the client hangs up too; after ``ws_close_timeout``
        seconds, abort. (Closing with unread input would reset the connection, and the client might never
        read the close frame.)"""
        self.flush()  # (what was sent before this still leaves first)
        self.sent_close = True  # nothing more is written
        self._arm_timer()
        self.reader.release()
        self._clear_out()
        self._flow()
        if self.transport.is_closing():
            return
        if self.transport.can_write_eof():
            self.transport.write_eof()
        else:
            self.transport.close()

    async def gone(self) -> None:
        """Wait for the connection to end (bounded by ``ws_close_timeout`` once ``hang_up`` ran)."""
        if not self._lost.done():
            await asyncio.wait([self._lost])
        self.transport.close()

    def finish(self) -> None:
        """The connection is over: give back every byte it counted."""
        self.reader.release()
        self._clear_out()
        self.batch, self.batch_bytes = [], 0
        self.gateway.connections.discard(self)

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    # ------------------------------------------------------------ aiohttp's parser interface
    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        try:
            events = self.reader.feed(data)
        except FrameError as exc:
            self._fail(exc.code, exc.reason)
            return False, b""
        for event in events:
            kind = event[0]
            if kind == "message":
                self.inbox_bytes += len(event[1])
                self._put(event)
            elif kind == "ping":
                self._queue(None, encode_frame(OP_PONG, event[1]))
            elif kind == "close":
                self._put(event)
        if self.reader.held and self._unfinished is None:
            self._unfinished = asyncio.get_running_loop().call_later(self.limits.ws_message_timeout, self._too_slow)
        elif not self.reader.held and self._unfinished is not None:
            self._unfinished.cancel()
            self._unfinished = None
        self._flow()
        return False, b""

    def _too_slow(self) -> None:
        self._unfinished = None
        if self.reader.held and not self.ended:
            self._fail(
                POLICY_VIOLATION,
                f"a message begun {self.limits.ws_message_timeout:g} s ago is still not whole (--ws-message-timeout)",
            )

    def feed_eof(self) -> None:
        self.reader.release()
        if self._unfinished is not None:
            self._unfinished.cancel()
        if self._timer is not None:
            self._timer.cancel()
        if not self._lost.done():
            self._lost.set_result(None)
        self._put(("eof",))
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # ------------------------------------------------------------ helpers
    def _put(self, event: tuple) -> None:
        self.inbox.append(event)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, code: int, reason: str, kind: str = "error") -> None:
        """Fail the connection (RFC 6455, 7.1.7): nothing more is read or handed out; a close frame is sent."""
        self.ended = (code, reason)
        self.reader.release()
        self.inbox.clear()
        self.inbox_bytes = 0
        self._clear_out()
        if self.task is not None:
            self.task.cancel()
        if self.started:
            self._send_close(code, reason)
            self.hang_up()
        self._put((kind, code, reason))

    def _queue(self, after: Any, frame: bytes) -> None:
        n = len(frame)
        if self.out_bytes + n > self.limits.ws_send_queue:
            self.overflow(
                POLICY_VIOLATION,
                f"the client fell behind: {self.out_bytes + n:,} bytes to send, over "
                f"the limit of {self.limits.ws_send_queue:,} for one socket (--ws-send-queue)",
            )
            return
        if not self.gateway.make_room(n, self):
            return
        self.out.append((after, frame))
        self.out_bytes += n
        if n == self.out_bytes:  # it was empty
            self.gateway.backlogged.add(self)
        self._kick()

    def _clear_out(self) -> None:
        self.out.clear()
        self.gateway.sending.give(self.out_bytes)
        self.out_bytes = 0
        self.gateway.backlogged.discard(self)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _kick(self) -> None:
        if self.started and self.task is None and self.out:
            # Started from an empty context: the object's code may be running (ws.send), and a task
            # made in its context would count as the object's own and die with it on a reset.
            loop = asyncio.get_running_loop()
            self.task = contextvars.Context().run(loop.create_task, self._write())

    def _backlogged(self) -> bool:
        """Something waits to be sent: the transport's buffer is above its high-water mark, or a send is held."""
        return self.task is not None or bool(self.out)

    def _flow(self) -> None:
        """Read while what was read fits ``INBOX_BYTES`` and nothing waits to be sent; else pause."""
        pause = (self.inbox_bytes > INBOX_BYTES or self._backlogged()) and not self.sent_close
        if pause is not self._reading_paused and not self.transport.is_closing():
            self._reading_paused = pause
            if pause:
                self.protocol.pause_reading()
            else:
                self.protocol.resume_reading()

    def _send_close(self, code: int | None, reason: str) -> None:
        if self.sent_close or self.transport.is_closing():
            return
        self.flush()
        self.sent_close = True
        self.transport.write(encode_close(code, reason))
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.limits.ws_close_timeout, self._cut)

    def _cut(self) -> None:
        """The close handshake took too long: end the connection. With bytes still unsent, reset it (RST),
        dropping what the client never read: a plain close would leave the FIN queued behind them, and the
        connection open to the client. With none, the FIN follows what the client has yet to read."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None and self.transport.get_write_buffer_size():
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()

    async def _write(self) -> None:
        out = self.out
        self.flush()  # the sends coalesced before the first queued one
        try:
            while out:
                after, item = out[0]
                if after is not None and not await _durable(after):
                    item = _Close(INTERNAL_ERROR, "a write made before this message failed to commit")
                if type(item) is _Close:
                    self._clear_out()
                    self._send_close(item.code, item.reason)
                    if item.hang_up:
                        self.hang_up()
                    return
                out.popleft()
                view = memoryview(item)
                for i in range(0, len(view), CHUNK):
                    if self.transport.is_closing():
                        self._clear_out()
                        return
                    chunk = view[i : i + CHUNK]
                    self.transport.write(chunk)
                    self.out_bytes -= len(chunk)
                    self.gateway.sending.give(len(chunk))
                    if self.protocol.writing_paused:
                        await self.writer.drain()
                    if self.sent_close or self.dropped:
                        return
            self.gateway.backlogged.discard(self)
            if self._drained is not None and not self._drained.done():
                self._drained.set_result(None)
        except (ConnectionError, RuntimeError):
            self._clear_out()  # the client went away mid-send; the reader sees the connection end
        finally:
            self.task = None
            if out and not (self.sent_close or self.dropped):
                self._kick()  # a send queued as this task was ending
            else:
                self._flow()


async def _durable(after: Any) -> bool:
    """Wait for the output gate's future without ever cancelling it; False if its commit failed."""
    if not after.done():
        await asyncio.wait([after])
    return after.exception() is None


def handshake_headers(request: web.Request) -> dict[str, str]:
    """The 101 answer's headers for a valid upgrade (RFC 6455, 4.2); a 400 saying what is missing if not."""
    h = request.headers
    connection = {t.strip().lower() for t in h.get("Connection", "").split(",")}
    if request.method != "GET" or h.get("Upgrade", "").strip().lower() != "websocket" or "upgrade" not in connection:
        raise web.HTTPBadRequest(
            text=f"{request.path} is a WebSocket route: send a GET with "
            "'Connection: Upgrade' and 'Upgrade: websocket' (e.g. `ws REF` in the REPL)"
        )
    if h.get("Sec-WebSocket-Version", "") not in ("13", "8", "7"):
        raise web.HTTPBadRequest(
            text=f"Sec-WebSocket-Version {h.get('Sec-WebSocket-Version')!r} is not supported; send 13",
            headers={"Sec-WebSocket-Version": "13"},
        )
    key = h.get("Sec-WebSocket-Key", "")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except (ValueError, binascii.Error):
        raise web.HTTPBadRequest(text=f"Sec-WebSocket-Key {key[:40]!r} is not 16 bytes in base64") from None
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    return {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept}


async def serve_websocket(
    request: web.Request,
    hub: WebSockets,
    namespace: str,
    oid: Any,
    path: str,
    fetch_request: Any,
    fetch_response: Any,
    shielded: Any,
    gateway: WebSocketGateway,
) -> web.StreamResponse:
    """Upgrade ``request`` to a WebSocket held for the object, if its ``fetch`` accepts it."""
    headers = handshake_headers(request)
    if request.transport is None:
        raise ConnectionResetError("the client went away before its upgrade was answered")
    conn = Connection(gateway, request)
    sock, answer = await shielded(hub.open(namespace, oid, fetch_request(request, path, b""), conn))
    if sock is None:
        return fetch_response(namespace, refusal_answer(answer))
    return await hold_websocket(request, hub, namespace, sock, conn, headers, fetch_response, shielded, gateway)


async def hold_websocket(
    request: web.Request,
    hub: WebSockets,
    namespace: str,
    sock: Any,
    conn: Connection,
    headers: dict[str, str],
    fetch_response: Any,
    shielded: Any,
    gateway: WebSocketGateway,
) -> web.StreamResponse:
    """Answer 101 and carry the messages of ``sock``, which the object's ``fetch`` accepted on ``conn``,
    until the connection ends (also for an upgrade a Worker forwarded: dotui/server/worker.py)."""
    if sock.state != "open":  # the object was reset after fetch accepted it: refuse, do not open a dead socket
        return fetch_response(
            namespace,
            {
                "status": 500,
                "body": "the object was reset before its WebSocket opened (see the engine's log); connect again",
            },
        )
    told: list[asyncio.Future] = []

    def tell(code: int, reason: str) -> None:  # the gateway closed it: its object hears at once
        told.append(
            contextvars.Context().run(asyncio.ensure_future, shielded(hub.closed(sock, code, reason, False, "gateway")))
        )

    conn.on_end = tell
    gateway.connections.add(conn)
    resp = web.StreamResponse(status=101, headers=headers)
    resp.force_close()  # after the WebSocket, the connection ends: no HTTP request follows on it
    try:
        writer = await resp.prepare(request)
        conn.start(writer)
        await _read(hub, sock, conn, shielded)
    except Exception:  # after the 101 no HTTP answer may follow: the client sees 1011
        log.exception("%s: a WebSocket of %s ended on an error in the gateway", request.path, namespace)
        conn.outcome = conn.outcome or (INTERNAL_ERROR, "the gateway failed (see its log)", False)
        conn.overflow(INTERNAL_ERROR, "the gateway failed (see its log)")
    finally:
        # (from conn.outcome: the read loop may have been cancelled, by the client hanging up, after it ended)
        code, reason, clean = conn.outcome or (ABNORMAL, "", False)
        if told:
            await asyncio.gather(*told, return_exceptions=True)
        elif sock.state != "closed":
            await shielded(hub.closed(sock, code, reason, clean))
        task = conn.task
        if task is not None:
            await asyncio.wait([task], timeout=1.0)
        await conn.stop()
        if conn.started:
            conn.answer_close(code if clean and code != 1005 else None)
            await conn.gone()
        conn.finish()
    return resp


def refusal_answer(answer: Any) -> Any:
    """What ``fetch`` answered without accepting the socket; a 101 without an accept is a mistake."""
    if isinstance(answer, dict) and answer.get("status") == 101:
        return {"status": 500, "body": "fetch answered 101 without self.ctx.accept_websocket(request['websocket'])"}
    if answer is None:
        return {"status": 426, "body": "the object did not accept the WebSocket"}
    return answer


async def _read(hub: WebSockets, sock: WebSocket, conn: Connection, shielded: Any) -> None:
    """Hand each message to the object, in order, until the connection ends; then ``conn.outcome`` is
    ``(code, reason, was_clean)``, what the object is told."""
    while True:
        event = await conn.receive()
        kind = event[0]
        if kind == "message":
            if sock.state != "open" or conn.sent_close:
                continue  # closed by the object: later messages are not delivered
            # Not shielded (a task per message would halve the rate): handlers are cancelled only
            # when the gateway stops, after every client got its close.
            await hub.message(sock, event[1])
            continue
        if kind == "close":
            conn.outcome = (event[1], event[2], True)
        elif kind == "error":  # a frame refused: 1002, 1007, 1009, or 1013 (too much unfinished)
            conn.outcome = (event[1], event[2], False)
            await shielded(hub.error(sock, event[2]))
        elif kind == "ended":  # the client fell behind (1008, 1013): its object was told at once
            conn.outcome = (event[1], event[2], False)
        else:
            conn.outcome = (ABNORMAL, "", False)
        return


async def close_all(hub: WebSockets, gateway: WebSocketGateway) -> None:
    """The gateway is stopping: every client gets 1001 (going away), after what was already sent."""
    conns = list(gateway.connections)
    hub.drop_all(set(conns))
    for conn in conns:
        conn.going_away()
    tasks = [c.task for c in conns if c.task is not None]
    if tasks:
        await asyncio.wait(tasks, timeout=5.0)
