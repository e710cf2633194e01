"""``js.WebSocket``: a WebSocket an object (or the Worker) opens to another server, for CPython.

Python Workers code opens one as JavaScript does: ``ws = js.WebSocket.new(url)``, then
``ws.addEventListener("open" | "message" | "error" | "close", handler)``, ``ws.send(data)``,
``ws.close(code, reason)``. The connection is made in a task started in the caller's context, so it
is the object's task: the object stays in memory while the socket is open (README.md, "Lifecycle"),
as on Cloudflare an object with an outgoing WebSocket is not evicted, and a reset of the object
(``ctx.abort``) cancels the task and closes the socket.

Events arrive as JavaScript's do: ``open``; ``message`` with ``.data`` (str, or bytes for a binary
message); ``error``; then ``close`` with ``.code``, ``.reason`` and ``.wasClean``. A handler may be a
function or a coroutine function (``pyodide.ffi.create_proxy`` returns its function here); a coroutine
handler runs in a task of its own, as an async JavaScript listener is not awaited by the socket. A
handler that raises is logged (logger ``dotui``) and the socket goes on, as a listener's exception
does in JavaScript.

Offline, as ``workers.fetch`` (docs/cloudflare.md, "Offline"): the socket reaches the local hosts
only. To any other host it is not refused at construction (JavaScript's constructor throws only for a
malformed URL) but fails as an unreachable server does, before anything is sent: ``error``, then
``close`` with code 1006 and a reason that says why. Bounds: a message received is at most
``MAX_MESSAGE`` bytes (larger closes the socket 1009); at most ``MAX_BUFFERED`` bytes wait to be sent
(``send`` past it raises); connecting takes at most ``CONNECT_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..engine.errors import ObjectAbortedError
from .fetch import LOCAL_HOSTS

log = logging.getLogger("dotui")

MAX_MESSAGE = 32 << 20
MAX_BUFFERED = 32 << 20
CONNECT_TIMEOUT = 30.0
EVENTS = ("open", "message", "error", "close")


class Event:
    """What a handler receives: ``.type``, and ``.data`` / ``.code``, ``.reason``, ``.wasClean``."""

    def __init__(self, type: str, **fields: Any):
        self.type = type
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return f"<{self.type} event {self.__dict__}>"


class WebSocket:
    CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3

    def __init__(self, url: str, protocols: str | list[str] | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise SyntaxError(f"Failed to construct 'WebSocket': {url!r} is not a ws:// or wss:// URL with a host")
        self.url = url
        self.protocol = ""
        self.readyState = self.CONNECTING
        self._protocols = [protocols] if isinstance(protocols, str) else list(protocols or [])
        self._listeners: dict[str, list[Callable[[Event], Any]]] = {name: [] for name in EVENTS}
        self._outbox: deque[str | bytes] = deque()
        self._buffered = 0
        self._wake = asyncio.Event()
        self._close_asked: tuple[int, str] | None = None
        self._task = asyncio.ensure_future(self._run())

    @classmethod
    def new(cls, url: str, protocols: str | list[str] | None = None) -> WebSocket:
        """``js.WebSocket.new(url)``, as Pyodide spells ``new WebSocket(url)``."""
        return cls(url, protocols)

    @property
    def bufferedAmount(self) -> int:
        return self._buffered

    def addEventListener(self, type: str, listener: Callable[[Event], Any]) -> None:
        if type in self._listeners and listener not in self._listeners[type]:
            self._listeners[type].append(listener)

    def removeEventListener(self, type: str, listener: Callable[[Event], Any]) -> None:
        if listener in self._listeners.get(type, ()):
            self._listeners[type].remove(listener)

    def send(self, data: str | bytes) -> None:
        """Queue ``data``; O(1). Before ``open`` it raises, as JavaScript's ``InvalidStateError``."""
        if self.readyState == self.CONNECTING:
            raise RuntimeError("InvalidStateError: WebSocket.send() before the socket is open")
        if self.readyState != self.OPEN:
            return  # JavaScript drops data sent on a closing or closed socket
        size = len(data.encode() if isinstance(data, str) else data)
        if self._buffered + size > MAX_BUFFERED:
            raise RuntimeError(
                f"WebSocket.send(): {self._buffered:,} bytes are still waiting to be sent to {self.url}; "
                f"at most {MAX_BUFFERED:,} may wait (wait for the server to read them)"
            )
        self._outbox.append(data if isinstance(data, str) else bytes(data))
        self._buffered += size
        self._wake.set()

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.readyState in (self.CLOSING, self.CLOSED):
            return
        if self.readyState == self.CONNECTING:
            self._task.cancel()
        self.readyState = self.CLOSING
        self._close_asked = (code, reason)
        self._wake.set()

    # ------------------------------------------------------------------ the connection's task
    def _emit(self, event: Event) -> None:
        handler_name = "on" + event.type
        listeners = list(self._listeners[event.type])
        own = getattr(self, handler_name, None)
        if callable(own):
            listeners.append(own)
        for listener in listeners:
            try:
                result = listener(event)
                if asyncio.iscoroutine(result):
                    asyncio.ensure_future(self._logged(result, event.type))
            except Exception as exc:  # noqa: BLE001 - a listener's error is logged, as in JavaScript
                self._raised(exc, event.type)

    async def _logged(self, coro: Any, type: str) -> None:
        try:
            await coro
        except Exception as exc:  # noqa: BLE001 - a listener's error is logged, as in JavaScript
            self._raised(exc, type)

    def _raised(self, exc: Exception, type: str) -> None:
        if isinstance(exc, ObjectAbortedError):  # ctx.abort() in a handler: the reset it asked for
            log.info("a WebSocket %s handler for %s reset its object: %s", type, self.url, exc)
        else:
            log.error("a WebSocket %s handler for %s raised", type, self.url, exc_info=exc)

    def _closed(self, code: int, reason: str, clean: bool) -> None:
        self.readyState = self.CLOSED
        self._outbox.clear()
        self._buffered = 0
        self._emit(Event("close", code=code, reason=reason, wasClean=clean))

    async def _run(self) -> None:
        host = urlsplit(self.url).hostname
        if host not in LOCAL_HOSTS:
            await asyncio.sleep(0)  # events come after the constructor returns, as in JavaScript
            reason = (
                f"dotui runs the project offline: a WebSocket reaches the local hosts only "
                f"({', '.join(LOCAL_HOSTS)}), not {host}; connect to other services from the deployed Worker"
            )
            log.warning("js.WebSocket(%r): %s", self.url, reason)
            self._emit(Event("error", message=reason))
            self._closed(1006, reason, False)
            return
        import aiohttp

        try:
            async with aiohttp.ClientSession() as session:
                connecting = session.ws_connect(
                    self.url,
                    protocols=self._protocols,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                    max_msg_size=MAX_MESSAGE,
                    autoclose=False,
                )
                async with await asyncio.wait_for(connecting, CONNECT_TIMEOUT) as ws:
                    await self._pump(ws)
        except asyncio.CancelledError:
            if self._close_asked is not None and self.readyState != self.CLOSED:
                self._closed(1006, "closed before the connection was made", False)
            self.readyState = self.CLOSED
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to connect is the socket's error and close
            if self.readyState != self.CLOSED:
                why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._emit(Event("error", message=why))
                self._closed(1006, why, False)

    async def _pump(self, ws: Any) -> None:
        import aiohttp

        self.protocol = ws.protocol or ""
        if self._close_asked is None:
            self.readyState = self.OPEN
        self._emit(Event("open"))
        receiving = asyncio.ensure_future(ws.receive())
        try:
            while True:
                self._wake.clear()
                while self._outbox and not ws.closed:
                    data = self._outbox.popleft()
                    self._buffered -= len(data.encode() if isinstance(data, str) else data)
                    await (ws.send_str(data) if isinstance(data, str) else ws.send_bytes(data))
                if self._close_asked is not None:
                    code, reason = self._close_asked
                    await ws.close(code=code, message=reason.encode())
                    self._closed(code, reason, True)
                    return
                waking = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait({receiving, waking}, return_when=asyncio.FIRST_COMPLETED)
                waking.cancel()
                if receiving not in done:
                    continue
                msg = receiving.result()
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    self._emit(Event("message", data=msg.data))
                    receiving = asyncio.ensure_future(ws.receive())
                    continue
                if msg.type == aiohttp.WSMsgType.CLOSE:
                    await ws.close(code=msg.data, message=(msg.extra or "").encode())
                    self._closed(msg.data, msg.extra or "", True)
                    return
                if msg.type == aiohttp.WSMsgType.ERROR:
                    self._emit(Event("error", message=str(msg.data)))
                code = ws.close_code or 1006
                self._closed(code, str(msg.data or ""), False)
                return
        finally:
            receiving.cancel()
