"""``RemoteEngine.open_websocket``: a real WebSocket to ``dotui serve``'s ``/ws/{Namespace}/{name}/{path}``,
driven synchronously (the same interface as ``dotui.engine.wsession.LocalWebSocket``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from ..engine.object.wshandle import MAX_MESSAGE_BYTES, WebSocketError
from ..engine.wsession import Inbox


class RemoteWebSocket:
    def __init__(self, run: Callable[..., Any], label: str):
        self._run = run  # runs a coroutine on the client's loop
        self.label = label
        self.inbox = Inbox()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None

    @property
    def closed(self) -> tuple[int, str] | None:
        return self.inbox.closed

    async def open(
        self, session: aiohttp.ClientSession, url: str, namespace: str, ref: str, path: str, headers: dict[str, str]
    ) -> None:
        path, _, query = path.partition("?")
        target = f"{url}/ws/{quote(namespace, safe='')}/{quote(ref, safe='')}/{path.lstrip('/')}"
        try:
            self._ws = await session.ws_connect(
                target + (f"?{query}" if query else ""), headers=headers, max_msg_size=MAX_MESSAGE_BYTES
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise WebSocketError(f"{self.label} did not accept the WebSocket ({exc.status}: {exc.message})") from None
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        reason = ""
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                self.inbox.put(msg.data)
                continue
            if msg.type is aiohttp.WSMsgType.CLOSE:
                reason = msg.extra or ""
            break
        self.inbox.end(ws.close_code or 1006, reason)

    def send(self, message: str | bytes) -> None:
        if self.closed is not None or self._ws is None:
            raise ConnectionError(f"the WebSocket to {self.label} is closed {self.closed}")
        self._run(self._ws.send_str(message) if isinstance(message, str) else self._ws.send_bytes(message))

    def receive(self, timeout: float = 1.0) -> list[str | bytes]:
        return self.inbox.take(timeout)

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self._ws is not None and self.closed is None:
            self._run(self._ws.close(code=code, message=reason.encode()))
            self.inbox.end(code, reason)
