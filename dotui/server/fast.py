"""The gateway's hot path: object calls answered straight from the socket.

Other programs reach objects with ``POST /objects/{Namespace}/{name}/{method}``
(or ``/objects/{Namespace}/id/{hex}/{method}``), over keep-alive connections.
``CallProtocol`` reads such a request itself and answers it through the same
``Admin.call_id`` and the same error mapping (``app.answer_for``) as the web
application, at a fraction of its cost per request.

Anything else on a connection (another route, a wrong or missing token, a
chunked or oversized body, HTTP/1.0, ``Expect``, a malformed request) hands the
connection, with every byte not yet answered, to the aiohttp application,
which answers it (and every later request on it) as it always has. So the two
cannot answer differently except in speed; ``tests/test_server_fast.py``
checks that.
"""

from __future__ import annotations

import asyncio
import time
import hmac
from typing import Any, Callable
from urllib.parse import unquote

from ..engine.admin import Admin
from .app import answer_for, parse_call_body
from .protocol import RETRY_AFTER_SECONDS, dumps

MAX_HEAD = 16 * 1024  # a request head longer than this goes to aiohttp (which refuses it properly)

_CANCELLED = dumps({"error": {"type": "CancelledError", "message": (
    "the call was cancelled (asyncio) before it answered; the connection is closed: send the call again "
    "on a new one")}}).encode()
_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 500: b"Internal Server Error",
            503: b"Service Unavailable"}


class FastCalls:
    """The protocol factory of one gateway: its admin, token, limits and open connections."""

    def __init__(self, admin: Admin, token: str, max_body: int, handoff: Callable[[], asyncio.Protocol]):
        self.admin = admin
        self.authorization = b"Bearer " + token.encode()
        self.max_body = max_body
        self.handoff = handoff  # aiohttp's protocol factory (web.Server)
        self.connections: set[CallProtocol] = set()
        self.inflight: set[asyncio.Future] = set()
        self.log: Callable[[str, str, int, float], None] | None = None  # (verb, path, status, seconds) per request

    def __call__(self) -> "CallProtocol":
        return CallProtocol(self)

    async def stop(self, timeout: float) -> None:
        """Let the calls in flight answer (for ``timeout`` seconds at most), then close every connection."""
        if self.inflight:
            await asyncio.wait(list(self.inflight), timeout=timeout)
        for conn in list(self.connections):
            conn.close()


class CallProtocol(asyncio.Protocol):
    """One client connection, while it sends object calls; one request at a time, in order."""

    def __init__(self, calls: FastCalls):
        self.calls = calls
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.busy = False  # a call is running; later requests wait in buf
        self.paused = False
        self.request: tuple[list[str], bytes, bool] | None = None  # the next one for the task to answer
        self.task: asyncio.Task | None = None  # answers this connection's requests in turn, while it is open
        self.wake: asyncio.Future | None = None  # what the task waits on between requests

    # ------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.calls.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.connections.discard(self)
        self.transport = None
        self._wake_task()  # it ends (a call it is answering still runs to its end)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._next()
        elif len(self.buf) > self.calls.max_body + MAX_HEAD and not self.paused:
            self.paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------ requests
    def _next(self) -> None:
        """Answer the next whole request in ``buf``, or hand the connection over."""
        if not self.buf or self.transport is None:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEAD:
                self._hand_over()
            return
        request = _read_head(self.buf[:end], self.calls)
        if request is None:
            self._hand_over()
            return
        target, length, close = request
        start = end + 4
        if len(self.buf) < start + length:
            return
        body, self.buf = self.buf[start:start + length], self.buf[start + length:]
        self.busy = True
        answered = asyncio.get_running_loop().create_future()  # FastCalls.stop waits for it
        self.calls.inflight.add(answered)
        self.request = (target, body, close, answered)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._serve())
        else:
            self._wake_task()

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
                self.calls.inflight.discard(request[3])
                request[3].set_result(None)

    async def _serve_requests(self) -> None:
        loop = asyncio.get_running_loop()
        inflight = self.calls.inflight
        while self.transport is not None:
            request, self.request = self.request, None
            if request is None:
                self.wake = loop.create_future()
                await self.wake
                continue
            target, body, close, answered = request
            try:
                await self._answer(target, body, close)
            except asyncio.CancelledError:
                # A cancel meant for one call (its own code cancelled its task) or for the loop
                # shutting down: the call is answered as failed and the connection ends with it,
                # so no later call on it can be hit by the same cancel.
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                self._respond(500, _CANCELLED, True)
                if self.calls.log is not None:
                    self.calls.log("POST", "/objects/" + "/".join(target), 500, 0.0)
                self.close()
                return
            finally:
                inflight.discard(answered)
                answered.set_result(None)
            if self.request is not None:
                await asyncio.sleep(0)

    async def _answer(self, target: list[str], body: bytes, close: bool) -> None:
        started = time.perf_counter() if self.calls.log is not None else 0.0
        try:
            status, payload = 200, dumps({"result": await self._call(target, body)})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is an answer, as in app.errors_middleware
            status, doc = answer_for(exc)
            payload = dumps(doc)
        self._respond(status, payload.encode(), close)
        if self.calls.log is not None:
            self.calls.log("POST", "/objects/" + "/".join(target), status, time.perf_counter() - started)
        self.busy = False
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        if close:
            self.close()
        else:
            self._next()

    async def _call(self, target: list[str], body: bytes) -> Any:
        admin = self.calls.admin
        args, kwargs = parse_call_body(body)
        if len(target) == 3:
            namespace, name, method = target
            oid = admin.engine.namespace(namespace).id_from_name(name)
        else:
            namespace, _, hx, method = target
            oid = admin.engine.namespace(namespace).id_from_string(hx)
        return await admin.call_id(namespace, oid, method, args, kwargs)

    def _respond(self, status: int, payload: bytes, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # the client went away; the call ran to its end all the same
        extra = b"Retry-After: %d\r\n" % RETRY_AFTER_SECONDS if status == 503 else b""
        if close:
            extra += b"Connection: close\r\n"
        self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                             b"Content-Length: %d\r\n%s\r\n%s"
                             % (status, _REASONS.get(status, b"Error"), len(payload), extra, payload))

    def _hand_over(self) -> None:
        """From here on, aiohttp serves this connection, starting with the bytes not yet answered."""
        transport, buf = self.transport, self.buf
        self.calls.connections.discard(self)
        self.transport, self.buf = None, b""
        self._wake_task()
        if transport is None:
            return
        if self.paused:
            transport.resume_reading()
        protocol = self.calls.handoff()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if buf:
            protocol.data_received(buf)


def _read_head(head: bytes, calls: FastCalls) -> tuple[list[str], int, bool] | None:
    """``(path segments after /objects/, body length, close after)`` of a plain, authorized object
    call; None for anything the web application should answer."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"POST" or parts[2] != b"HTTP/1.1" or not parts[1].startswith(b"/objects/"):
        return None
    length, auth, close = 0, None, False
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            return None
        name = name.strip().lower()
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit():
                return None
            length = int(value)
        elif name == b"authorization":
            auth = value.strip()
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name in (b"transfer-encoding", b"expect", b"upgrade"):
            return None
    if length > calls.max_body or auth is None or not hmac.compare_digest(auth, calls.authorization):
        return None
    path = parts[1].partition(b"?")[0]
    try:
        target = [unquote(p.decode("ascii"), errors="strict") for p in path[9:].split(b"/")]
    except (UnicodeDecodeError, ValueError):
        return None
    if len(target) == 4 and target[1] != "id":
        return None
    if len(target) not in (3, 4) or not all(target):
        return None
    return target, length, close
