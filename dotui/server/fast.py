"""The gateway's hot path: object calls answered straight from the socket.

Other programs reach objects with ``POST /objects/{Namespace}/{name}/{method}``
(or ``/objects/{Namespace}/id/{hex}/{method}``), over keep-alive connections.
``CallProtocol`` reads such a request itself and answers it with the route's one
definition (``calls.py``: ``call_target`` reads the path, ``answer_call`` the body,
the call and every error), the same the web application's route answers with, at a
fraction of its cost per request: only how the bytes arrive and leave is this file's.

Every head is parsed by aiohttp's own parser (``aiohttp.http_parser.HttpRequestParser``,
with the limits the application's parser has), so the two paths read one HTTP
grammar by construction. Anything the parser refuses, and anything else on a
connection (another route, a wrong or missing token, a chunked, compressed or
oversized body, HTTP/1.0, ``Expect``, an upgrade), hands the connection, with
every byte not yet answered, to the aiohttp application, which answers it (and
every later request on it) as it always has. So the two cannot answer
differently except in speed; ``tests/test_server_fast.py`` and the differential
test of ``tests/test_hostile_http.py`` check that.

Bounds (``limits.py``, docs/server.md "Limits"): a head must arrive within the
head timeout and be at most ``MAX_HEAD`` bytes (431), a body within the body
timeout (408); an idle connection closes after the keep-alive timeout; while the
transport's write buffer is above its high-water mark the connection reads and
answers nothing more, and a client that reads nothing for the send timeout is cut
off; at most ``max_unauthenticated`` connections that have not shown the token are
open at once, the oldest closed first once open for ``EVICT_GRACE`` (at once past twice
the cap). Reads are at most ``READ_BUFSIZE`` bytes, an unfinished head holds at most
``MAX_HEAD`` + 1, and a connection whose head the parser refuses is read no further.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
import struct
import time
import weakref
from collections.abc import Callable
from typing import Any

from aiohttp.http import HttpVersion11
from aiohttp.http_parser import HttpRequestParser

from ..ops.admin import Admin
from ..ops.codec import RETRY_AFTER_SECONDS, encode, request_error
from .auth import check_bearer
from .calls import Target, answer_call, call_target
from .limits import MAX_FIELD, MAX_HEAD, MAX_HEADERS, MAX_LINE, READ_BUFSIZE, Limits

_CANCELLED = encode(
    {
        "error": {
            "type": "CancelledError",
            "message": (
                "the call was cancelled (asyncio) before it answered; the connection is closed: send the call again "
                "on a new one"
            ),
            "engine": False,
        }
    }
)
_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}

# Seconds a new connection without the token is safe from the cap on them (FastCalls.admit), unless
# there are twice as many (docs/server.md, "Limits").
EVICT_GRACE = 1.0

# What a connection is waiting for, each with its own timeout (Limits); None: a call is running.
HEAD, BODY, IDLE, SEND = "head", "body", "idle", "send"


class FastCalls:
    """The protocol factory of one gateway: its admin, token, limits and open connections."""

    def __init__(self, admin: Admin, token: str, limits: Limits, handoff: Callable[[], asyncio.Protocol]):
        self.admin = admin
        self.token = token
        self.authorization = "Bearer " + token
        self.limits = limits
        self.handoff = handoff  # aiohttp's protocol factory (web.Server)
        self.loop = asyncio.get_running_loop()
        self.connections: set[CallProtocol] = set()
        self.inflight: set[asyncio.Future] = set()
        # Transports not yet shown the token, oldest first (a dict keeps insertion order).
        self.unauthenticated: dict[asyncio.Transport, float] = {}  # -> when it was accepted
        self.handed: weakref.WeakSet[asyncio.Transport] = weakref.WeakSet()  # now aiohttp's
        self.sweep_due = False  # _sweep is scheduled
        self.log: Callable[[str, str, int, float], None] | None = None  # (verb, path, status, seconds) per request
        # Every connection of this path reads into this one buffer (CallProtocol.get_buffer), READ_BUFSIZE
        # bytes at most a read: what a connection has received is copied out at once, so an unfinished
        # head holds at most MAX_HEAD + READ_BUFSIZE bytes, and the loop is never handed more at a time.
        self.read_buffer = memoryview(bytearray(READ_BUFSIZE))
        self.timeouts = {
            HEAD: limits.head_timeout,
            BODY: limits.body_timeout,
            IDLE: limits.keepalive_timeout,
            SEND: limits.send_timeout,
        }

    def __call__(self) -> CallProtocol:
        return CallProtocol(self)

    def parser(self, protocol: Any) -> HttpRequestParser:
        """A parser of one head, as the application's (web_protocol.RequestHandler) is made. O(1), < 1 µs."""
        return HttpRequestParser(
            protocol, self.loop, READ_BUFSIZE, max_line_size=MAX_LINE, max_field_size=MAX_FIELD, max_headers=MAX_HEADERS
        )

    def admit(self, transport: asyncio.Transport) -> None:
        """A new connection, not yet authenticated. Past ``max_unauthenticated`` of them the oldest are
        closed, so a flood of idle sockets costs the flooder its own oldest ones, never a token holder a
        file descriptor. A connection younger than ``EVICT_GRACE`` is not closed for the cap (a token
        holder's client, accepted in the middle of a flood, sends its head at once: it shows its token
        within the grace), but past twice the cap the oldest go at once, young or not: the flood holds
        at most 2 x cap connections without the token. O(1); O(cap) when over the cap."""
        waiting = self.unauthenticated
        waiting[transport] = self.loop.time()
        cap = self.limits.max_unauthenticated
        if len(waiting) > 2 * cap:
            self._close_oldest(2 * cap, grace=0.0)
        if len(waiting) > cap and not self.sweep_due:
            self.sweep_due = True
            self.loop.call_soon(self._sweep)

    def _sweep(self) -> None:
        self.sweep_due = False
        waiting = self.unauthenticated
        self._close_oldest(self.limits.max_unauthenticated, grace=EVICT_GRACE)
        if len(waiting) > self.limits.max_unauthenticated:  # the oldest left are within their grace
            self.sweep_due = True
            self.loop.call_at(next(iter(waiting.values())) + EVICT_GRACE, self._sweep)

    def _close_oldest(self, keep: int, grace: float) -> None:
        """Close the oldest connections without the token until ``keep`` are left, but none accepted
        within the last ``grace`` seconds. O(cap) (the dict is in the order they were accepted)."""
        waiting = self.unauthenticated
        for closed in [t for t in waiting if t.is_closing()]:
            del waiting[closed]
        young = self.loop.time() - grace
        while len(waiting) > keep:
            oldest, accepted = next(iter(waiting.items()))
            if accepted > young:
                return
            del waiting[oldest]
            oldest.abort()

    def authenticated(self, transport: asyncio.Transport) -> None:
        self.unauthenticated.pop(transport, None)

    async def stop(self, timeout: float) -> None:
        """Let the calls in flight answer (for ``timeout`` seconds at most), then close every connection."""
        if self.inflight:
            await asyncio.wait(list(self.inflight), timeout=timeout)
        for conn in list(self.connections):
            conn.close()

    async def abort_all(self, timeout: float = 5.0) -> None:
        """Cut every connection still open, this path's and the ones handed to aiohttp (a client that stops
        reading never lets a close complete), and wait for this path's connection tasks to end."""
        tasks = [conn.task for conn in self.connections if conn.task is not None]
        for conn in list(self.connections):
            conn.abort()
        for transport in list(self.handed):
            reset(transport)
        self.unauthenticated.clear()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for _ in range(3):  # the aborted transports' connection_lost, then their handlers' last steps
            await asyncio.sleep(0)


_LINGER_NOW = struct.pack("ii", 1, 0)


def reset(transport: asyncio.Transport) -> None:
    """Close at once, with a TCP reset: what is unsent is dropped (a plain close would leave the kernel
    sending it, and the FIN behind it, to a client that reads nothing, for minutes)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_NOW)
        except OSError:
            pass  # already closed
    transport.abort()


class CallProtocol(asyncio.BufferedProtocol):
    """One client connection, while it sends object calls; one request at a time, in order."""

    def __init__(self, calls: FastCalls):
        self.calls = calls
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.busy = False  # a call is running; later requests wait in buf
        self.reading_paused = False
        self.writing_paused = False  # the transport's write buffer is above its high-water mark
        self.request: tuple[Target, str, bytes, bool, asyncio.Future] | None = None  # the next for the task
        self.task: asyncio.Task | None = None  # answers this connection's requests in turn, while it is open
        self.wake: asyncio.Future | None = None  # what the task waits on between requests
        self.waiting: str | None = HEAD  # HEAD, BODY, IDLE, SEND, or None while a call runs
        self.deadline = 0.0  # when what it waits for times out (loop time)
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.send_left = 0  # bytes of answers the client had not read when last looked at (SEND)
        self.probe: HttpRequestParser | None = None  # reads an unfinished head as it arrives
        self.probed = 0  # bytes of buf the probe has read

    # ------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport (the server is TCP)
        self.calls.connections.add(self)
        self.calls.admit(transport)  # type: ignore[arg-type]  # a stream transport (the server is TCP)
        self._expect(HEAD, force=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.connections.discard(self)
        if self.transport is not None:
            self.calls.authenticated(self.transport)  # forgotten: it is closed
        self.transport, self.buf, self.probe = None, b"", None
        self.waiting = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._wake_task()  # it ends (a call it is answering still runs to its end)

    def get_buffer(self, sizehint: int) -> memoryview:
        """The shared read buffer (buffer_updated copies out of it before the next read); while a head is
        awaited, only as much of it as takes ``buf`` one byte past MAX_HEAD, so an unfinished head holds
        at most MAX_HEAD + 1 bytes. O(1)."""
        if self.busy or self.waiting not in (HEAD, IDLE):
            return self.calls.read_buffer
        return self.calls.read_buffer[: max(1, MAX_HEAD + 1 - len(self.buf))]

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self.calls.read_buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy and not self.writing_paused:
            self._next()
        elif len(self.buf) > self.calls.limits.max_body + MAX_HEAD:
            self._pause_reading()

    def pause_writing(self) -> None:
        """The client reads slower than it is answered: read and answer nothing more until it catches up."""
        self.writing_paused = True
        self._pause_reading()
        self.send_left = self.transport.get_write_buffer_size() if self.transport is not None else 0
        self._expect(SEND, force=True)

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.waiting == SEND:
            self.waiting = None
        if not self.busy:
            self._next()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            reset(self.transport)

    # ------------------------------------------------------------ timeouts
    def _expect(self, what: str, force: bool = False) -> None:
        """Wait for ``what`` with its timeout, counted from now unless it is already what is awaited
        (a slow head's later bytes do not extend its time). O(1): one timer per connection, re-armed
        only when it fires early or a deadline comes sooner."""
        if self.waiting == what and not force:
            return
        self.waiting = what
        self.deadline = self.calls.loop.time() + self.calls.timeouts[what]
        if self.timer is None or self.deadline < self.timer_at:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.calls.loop.call_at(self.deadline, self._on_timer)
            self.timer_at = self.deadline

    def _on_timer(self) -> None:
        self.timer = None
        if self.waiting is None or self.transport is None:
            return
        if self.calls.loop.time() < self.deadline:
            self.timer = self.calls.loop.call_at(self.deadline, self._on_timer)
            self.timer_at = self.deadline
            return
        if self.waiting == SEND:
            left = self.transport.get_write_buffer_size()
            if left < self.send_left:  # it read some since: its time counts again
                self.send_left = left
                self._expect(SEND, force=True)
                return
        limits = self.calls.limits
        if self.waiting == SEND:
            self.abort()  # it reads nothing of what it is sent: drop that too
        elif self.waiting == IDLE or (self.waiting == HEAD and not self.buf):
            self.close()  # idle: nothing to say to it, nothing unsent
        elif self.waiting == HEAD:
            self._refuse(
                408,
                "RequestTimeout",
                f"the request head did not arrive whole within "
                f"{limits.head_timeout:g} s (the gateway's --head-timeout); send it at once",
            )
        else:
            self._refuse(
                408,
                "RequestTimeout",
                f"the request body did not arrive whole within "
                f"{limits.body_timeout:g} s (the gateway's --body-timeout); send it at once",
            )

    def _refuse(self, status: int, type_name: str, message: str) -> None:
        """Answer the request being read with an error, and close the connection."""
        self.waiting = None
        self._respond(status, encode(request_error(type_name, message)), True)
        self.close()

    def _pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()

    # ------------------------------------------------------------ requests
    def _next(self) -> None:
        """Answer the next whole request in ``buf``, or hand the connection over."""
        if self.transport is None:
            return
        buf = self.buf
        if len(buf) <= self.calls.limits.max_body + MAX_HEAD:
            self._resume_reading()
        if not buf:
            self._expect(IDLE)
            return
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self._too_large(buf)
            elif (refused := self._refused_so_far(buf)) is not None:
                self._hand_over(refused)  # aiohttp answers it at once, as it would alone
            else:
                self._expect(HEAD)
            return
        self.probe = None
        start = end + 4
        if start > MAX_HEAD:
            self._too_large(buf[:start])
            return
        request = self._read_head(buf[:start])
        if request is None:
            self._hand_over()
            return
        target, path, length, close = request
        if len(buf) < start + length:
            self._expect(BODY)
            return
        body, self.buf = buf[start : start + length], buf[start + length :]
        self.waiting = None
        self.busy = True
        answered = self.calls.loop.create_future()  # FastCalls.stop waits for it
        self.calls.inflight.add(answered)
        self.request = (target, path, body, close, answered)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._serve())
        else:
            self._wake_task()

    def _refused_so_far(self, buf: bytes) -> bool | None:
        """True if the parser already refuses this unfinished head (a bare LF, a bad character, a line
        too long), False if it saw a head end where this path saw none (aiohttp reads it), None if it
        waits for more: fed only the bytes it has not seen, so a head sent a byte at a time costs
        O(its size) in all."""
        if self.probe is None:
            self.probe, self.probed = self.calls.parser(self), 0
        try:
            messages, _, _ = self.probe.feed_data(buf[self.probed :])
        except Exception:  # noqa: BLE001 - the application's parser refuses it
            return True
        self.probed = len(buf)
        return False if messages else None

    def _too_large(self, head: bytes) -> None:
        """A head over MAX_HEAD: aiohttp's answer if its parser refuses it (a line too long, too many
        headers), else 431."""
        try:
            self.calls.parser(self).feed_data(head)
        except Exception:  # noqa: BLE001 - the application's parser refuses it: so does the application
            self._hand_over(refused=True)
            return
        self._refuse(
            431,
            "RequestHeaderFieldsTooLarge",
            (f"the request head is over the gateway's limit of {MAX_HEAD:,} bytes; send fewer or shorter headers"),
        )

    def _wake_task(self) -> None:
        wake, self.wake = self.wake, None
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _serve(self) -> None:
        """The connection's task: answer each request in turn, a call at a time, in a task (so a
        method may use ``asyncio.timeout``); one task for the connection's life, not one per call.

        A request that was already waiting (a client sending several at once) is taken after a
        turn of the loop, so other connections and timers get theirs in between.
        """
        try:
            await self._serve_requests()
        finally:
            request, self.request = self.request, None
            if request is not None:  # read, never answered: the connection ended first
                self.calls.inflight.discard(request[4])
                request[4].set_result(None)

    async def _serve_requests(self) -> None:
        loop = asyncio.get_running_loop()
        inflight = self.calls.inflight
        while self.transport is not None:
            request, self.request = self.request, None
            if request is None:
                self.wake = loop.create_future()
                await self.wake
                continue
            target, path, body, close, answered = request
            try:
                await self._answer(target, path, body, close)
            except asyncio.CancelledError:
                # A cancel meant for one call (its own code cancelled its task) or for the loop
                # shutting down: the call is answered as failed and the connection ends with it,
                # so no later call on it can be hit by the same cancel.
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                self._respond(500, _CANCELLED, True)
                if self.calls.log is not None:
                    self.calls.log("POST", path, 500, 0.0)
                self.close()
                return
            finally:
                inflight.discard(answered)
                answered.set_result(None)
            if self.request is not None:
                await asyncio.sleep(0)

    async def _answer(self, target: Target, path: str, body: bytes, close: bool) -> None:
        started = time.perf_counter() if self.calls.log is not None else 0.0
        status, payload = await answer_call(self.calls.admin, target, body)
        self._respond(status, payload, close)
        if self.calls.log is not None:
            self.calls.log("POST", path, status, time.perf_counter() - started)
        self.busy = False
        if close:
            self.close()
        elif not self.writing_paused:
            self._next()
        # else resume_writing takes the next request once the client has read enough

    def _respond(self, status: int, payload: bytes, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # the client went away; the call ran to its end all the same
        extra = b"Retry-After: %d\r\n" % RETRY_AFTER_SECONDS if status == 503 else b""
        if close:
            extra += b"Connection: close\r\n"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
            b"Content-Length: %d\r\n%s\r\n%s" % (status, _REASONS.get(status, b"Error"), len(payload), extra, payload)
        )

    def _hand_over(self, refused: bool = False) -> None:
        """From here on, aiohttp serves this connection, starting with the bytes not yet answered.

        ``refused``: the head is one aiohttp's parser refuses, so aiohttp answers it from these bytes
        and closes the connection: nothing more is read from it (reading stays paused), so the rest of
        a refused 1 MB head costs neither memory nor the loop's time."""
        transport, buf = self.transport, self.buf
        self.calls.connections.discard(self)
        self.transport, self.buf, self.waiting = None, b"", None
        self.probe = None  # it refers to this protocol: dropped now, not at the next garbage collection
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._wake_task()
        if transport is None:
            return
        self.calls.handed.add(transport)
        if refused:
            transport.pause_reading()
        elif self.reading_paused:
            transport.resume_reading()
        protocol = self.calls.handoff()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if buf:
            protocol.data_received(buf)

    def _read_head(self, head: bytes) -> tuple[Target, str, int, bool] | None:
        """``(call target, path, body length, close after)`` of a plain, authorized object
        call; None for anything the web application should answer. A head that shows the token marks
        the connection authenticated, whichever path answers it. O(len(head))."""
        try:
            messages, _, _ = self.calls.parser(self).feed_data(head)
        except Exception:  # noqa: BLE001 - the application's parser refuses it: so does the application
            return None
        if len(messages) != 1:
            return None
        msg = messages[0][0]
        headers = msg.headers
        auth = headers.get("Authorization")
        if auth is None:
            return None
        if hmac.compare_digest(auth.encode(errors="surrogateescape"), self.calls.authorization.encode()):
            self.calls.authenticated(self.transport)  # type: ignore[arg-type]  # set by connection_made before any data arrives
        else:
            if check_bearer(auth, self.calls.token) == 200:
                self.calls.authenticated(self.transport)  # type: ignore[arg-type]  # set by connection_made before any data arrives
            return None
        if (
            msg.method != "POST"
            or msg.version != HttpVersion11
            or msg.upgrade
            or msg.chunked
            or msg.compression is not None
            or "Expect" in headers
            or "Transfer-Encoding" in headers
        ):
            return None
        path = msg.path.partition("?")[0].partition("#")[0]
        if not path.isascii():  # the application reads such a path as it was sent
            return None
        length = int(headers.get("Content-Length", "0"))  # the parser checked it is one whole number
        if length > self.calls.limits.max_body:
            return None
        target = call_target(path)
        if target is None:
            return None
        return target, path, length, msg.should_close
