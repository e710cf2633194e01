"""The most a Python server can do with bench/http_compare.py's clients: it does nothing.

    python bench/bare_server.py [--port N]      # prints "bare server: http://127.0.0.1:PORT"

It speaks just enough of the two protocols the benchmark's clients use, on one
asyncio loop: every ``POST`` is answered ``{"result":null}`` (HTTP/1.1 keep-alive,
Content-Length bodies), and ``GET /ws/...`` with ``Upgrade: websocket`` is accepted
and every text message answered ``ok``. No engine, no object, no storage, no
checks; the answers to all the messages one read brought are written together.
So its rate is a ceiling: no Python server doing real work on this machine can
beat it with the same client, and ``http_compare.py`` prints it beside the two
servers, to say how high a ratio to workerd can go here at all.

Not a server to use: it trusts its input and handles nothing else (no fragmented
or masked-less frames, no pings, no bodies over its buffer).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, 1.3
_NULL = b'{"result":null}'
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s" % (
    len(_NULL),
    _NULL,
)
_OK_FRAME = b"\x81\x02ok"  # FIN, text, 2 bytes, unmasked (server to client)


class Bare(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buf = b""
        self.websocket = False

    def data_received(self, data: bytes) -> None:
        self.buf += data
        out = self._frames() if self.websocket else self._requests()
        if out:
            self.transport.write(out)

    def _requests(self) -> bytes:
        out = []
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = self.buf[:end].decode("latin1")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:])
            }
            if headers.get("upgrade", "").lower() == "websocket":
                accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + _GUID).digest())
                out.append(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )
                self.buf = self.buf[end + 4 :]
                self.websocket = True
                out.append(self._frames())
                break
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                break
            self.buf = self.buf[end + 4 + length :]
            out.append(_ANSWER)
        return b"".join(out)

    def _frames(self) -> bytes:
        buf, answers = self.buf, 0
        while len(buf) >= 6:
            opcode, size = buf[0] & 0x0F, buf[1] & 0x7F
            start = 6 if size < 126 else 8
            if size == 126:
                size = int.from_bytes(buf[2:4], "big")
            if len(buf) < start + size:
                break
            buf = buf[start + size :]
            if opcode == 0x8:  # close: answer it and stop
                self.transport.write(b"\x88\x02\x03\xe8")
                self.transport.close()
                break
            answers += opcode == 0x1
        self.buf = buf
        return _OK_FRAME * answers


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Bare, "127.0.0.1", port)
    print(f"bare server: http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    try:
        asyncio.run(serve(ap.parse_args().port))
    except KeyboardInterrupt:
        pass
