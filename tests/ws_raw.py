"""For the hostile WebSocket tests: a client that writes frames exactly as told (unmasked, fragmented,
with any close code) and reads the gateway's frames itself, or stops reading altogether."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def masked(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if not n:
        return b""
    k = int.from_bytes((key * ((n + 3) // 4))[:n], "little")
    return (int.from_bytes(payload, "little") ^ k).to_bytes(n, "little")


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True, rsv: int = 0, length: int | None = None
) -> bytes:
    """One client frame; ``length`` announces a size other than the payload's (for truncation)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + masked(payload, key)


class RawSocket:
    """A WebSocket client on a plain TCP socket; ``rcvbuf`` shrinks its receive buffer (a slow reader)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, path: str, token: str, rcvbuf: int | None = None) -> RawSocket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port)), 10)
        reader, writer = await asyncio.open_connection(sock=sock, limit=rcvbuf or 1 << 16)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.split(b"\r\n")[0].split()[1] == b"101", head
        return cls(reader, writer)

    def send(self, *frames: bytes) -> None:
        for f in frames:
            self.writer.write(f)

    def text(self, message: str) -> None:
        self.send(frame(OP_TEXT, message.encode()))

    async def next(self, timeout: float = 10.0) -> tuple[int, bytes] | None:
        """The gateway's next frame as ``(opcode, payload)``; None once the connection ended."""
        try:
            b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), timeout)
            assert not b1 & 0x80, "a server frame must not be masked"
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return b0 & 0x0F, await asyncio.wait_for(self.reader.readexactly(n), timeout)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def text_reply(self, timeout: float = 10.0) -> str:
        got = await self.next(timeout)
        assert got is not None and got[0] == OP_TEXT, got
        return got[1].decode()

    async def closed_with(self, timeout: float = 10.0) -> tuple[int | None, str] | None:
        """Read past every data frame to the close frame: ``(code, reason)``; None if the connection ended
        without one."""
        while True:
            got = await self.next(timeout)
            if got is None:
                return None
            if got[0] == OP_CLOSE:
                payload = got[1]
                if not payload:
                    return None, ""
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    async def ended(self, timeout: float = 10.0) -> bool:
        """Whether the gateway hung up (EOF or reset) within ``timeout``, reading whatever came before."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(1 << 16):
                    pass
            return True
        except ConnectionError:
            return True
        except TimeoutError:
            return False

    def abort(self) -> None:
        self.writer.transport.abort()
