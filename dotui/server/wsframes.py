"""WebSocket frames (RFC 6455) without I/O: a client's frames decoded under bounds, the gateway's encoded.

``MessageReader.feed(data)`` takes the bytes of one connection as they arrive
and returns what they complete, in order: ``("message", str | bytes)``,
``("ping", bytes)``, ``("pong", bytes)``, ``("close", code, reason)`` (``code``
1005 when the close frame carried none). A frame the gateway refuses raises
``FrameError`` carrying the close code to answer with:

- 1002, a protocol error: an unmasked frame, reserved bits or an unknown opcode,
  a 64-bit length with its most significant bit set,
  a control frame fragmented or over 125 bytes, a continuation with no message
  begun or a new message before the last one ended, a close code a peer may not
  send (1004-1006, 1015, 1016-2999 and anything outside 1000-4999);
- 1007, text (or a close reason) that is not UTF-8, found at the fragment that
  breaks it, not at the end of the message;
- 1009, a message over its size (refused from the frame's header, before its
  payload is read) or made of more fragments than allowed;
- 1013, the gateway already holds its limit of bytes of unfinished messages,
  summed over every connection (``Budget``).

No extension is negotiated (the gateway offers none), so no frame is compressed.
Cost: O(bytes fed) per call; a fragmented message is joined once, when it ends.
"""

from __future__ import annotations

import codecs
import struct
from typing import Any

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

PROTOCOL_ERROR = 1002
INVALID_DATA = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
TRY_AGAIN_LATER = 1013
NO_STATUS = 1005  # what the object is told when a close frame carries no code

# Codes a peer may put in a close frame: RFC 6455 7.4.1 and the IANA registry (1012-1014), as the
# Autobahn test suite checks them; 3000-4999 are for libraries and applications.
_PEER_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})

_utf8 = codecs.getincrementaldecoder("utf-8")


class FrameError(Exception):
    """A frame the gateway refuses: ``code`` is the close code to answer, ``reason`` says why."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


class Budget:
    """Bytes held across every connection of a gateway, against one limit; ``peak`` the most ever held."""

    __slots__ = ("limit", "held", "peak")

    def __init__(self, limit: int):
        self.limit = limit
        self.held = 0
        self.peak = 0

    def take(self, n: int) -> bool:
        """Count ``n`` more bytes if they fit under the limit; False (nothing counted) if not. O(1)."""
        if self.held + n > self.limit:
            return False
        self.held += n
        if self.held > self.peak:
            self.peak = self.held
        return True

    def give(self, n: int) -> None:
        self.held -= n


def peer_may_send(code: int) -> bool:
    return code in _PEER_CLOSE_CODES or 3000 <= code <= 4999


def _mask_python(mask: bytes | bytearray, data: bytearray) -> None:
    """XOR ``data`` in place with the repeated 4-byte ``mask`` (one big-integer XOR: O(len), no loop in Python)."""
    n = len(data)
    key = int.from_bytes((mask * ((n + 3) >> 2))[:n], "little")
    data[:] = (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")


try:  # aiohttp's compiled unmasking (the same in-place XOR, in C), where this build of aiohttp has it
    from aiohttp._websocket.mask import _websocket_mask_cython as _mask  # type: ignore[import-not-found]  # aiohttp's compiled mask, without stubs; an ImportError falls back
except ImportError:  # pragma: no cover - a pure-Python aiohttp
    _mask = _mask_python

_U64 = struct.Struct("!Q").unpack_from


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (a server never masks, RFC 6455 5.1)."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


def encode_close(code: int | None, reason: str = "") -> bytes:
    """A close frame: ``code`` None for one without a status (the answer to a close that had none)."""
    if code is None:
        return encode_frame(OP_CLOSE, b"")
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:123])


class MessageReader:
    """A client's frames in, whole messages out, under the limits given (see the module's docstring).

    ``held`` is what it counts in the ``unfinished`` budget: the bytes of a frame
    not yet whole and of the fragments of a message not yet ended. ``release()``
    gives them back; call it when the connection ends, whatever the reason.
    """

    __slots__ = (
        "max_message",
        "max_fragments",
        "unfinished",
        "held",
        "closed",
        "_buf",
        "_parts",
        "_size",
        "_fragments",
        "_opcode",
        "_decoder",
    )

    def __init__(self, max_message: int, max_fragments: int, unfinished: Budget):
        self.max_message = max_message
        self.max_fragments = max_fragments
        self.unfinished = unfinished
        self.held = 0
        self.closed = False  # a close frame was read: nothing after it is a frame
        self._buf = bytearray()
        self._parts: list[Any] = []  # the fragments so far (str pieces for text, bytes for binary)
        self._size = 0  # their bytes
        self._fragments = 0
        self._opcode = 0  # OP_TEXT or OP_BINARY while a fragmented message is open
        self._decoder: Any = None

    def feed(self, data: bytes) -> list[tuple]:
        if self.closed:
            return []
        if self._buf:  # the rest of a frame begun in an earlier read
            self._buf += data
            buf: Any = self._buf
        else:  # the common case: read from ``data`` itself, keep only an incomplete frame's bytes
            buf = data
        events: list[tuple] = []
        pos, end = 0, len(buf)
        try:
            while end - pos >= 2 and not self.closed:
                b0, b1 = buf[pos], buf[pos + 1]
                length, head = b1 & 0x7F, pos + 2
                if length == 126:
                    if end - pos < 4:
                        break
                    length, head = (buf[pos + 2] << 8) | buf[pos + 3], pos + 4
                elif length == 127:
                    if end - pos < 10:
                        break
                    length, head = _U64(buf, pos + 2)[0], pos + 10
                    if length >> 63:
                        raise FrameError(
                            PROTOCOL_ERROR,
                            "a 64-bit payload length with its most significant bit set (RFC 6455, 5.2: it must be 0)",
                        )
                # a whole, masked text or binary frame with no message open and under the limit needs no
                # other check (``_check_header``'s common case, decided here at the cost of one comparison)
                if not ((b0 == 0x81 or b0 == 0x82) and b1 & 0x80 and not self._opcode and length <= self.max_message):
                    self._check_header(b0, b1, length)
                start = head + 4
                if end < start + length:
                    break  # the rest of this frame is still to come
                pos = start + length
                payload = bytearray(buf[start:pos])
                if length:
                    _mask(bytes(buf[head:start]), payload)
                if b0 == 0x81:
                    events.append(("message", _text(payload)))
                elif b0 == 0x82:
                    events.append(("message", bytes(payload)))
                else:
                    self._frame(b0 & 0x80, b0 & 0x0F, bytes(payload), events)
        finally:
            if buf is data:
                if pos < end and not self.closed:
                    self._buf += data[pos:]
            else:
                del buf[:pos]
        if self.closed:
            self._buf.clear()
        held = len(self._buf) + self._size
        if held != self.held:
            self._count(held)
        return events

    def release(self) -> None:
        """Give back every byte counted in the budget; nothing more is read."""
        self.closed = True
        self._buf = bytearray()
        self._parts = []
        self._size = 0
        self._count(0)

    # ------------------------------------------------------------ the parts
    def _check_header(self, b0: int, b1: int, length: int) -> None:
        """Refuse a frame from its header alone, before its payload is read or held."""
        opcode = b0 & 0x0F
        if b0 & 0x70:
            raise FrameError(PROTOCOL_ERROR, "a frame with reserved bits set (no extension was agreed)")
        if not b1 & 0x80:
            raise FrameError(PROTOCOL_ERROR, "an unmasked frame: a client must mask every frame (RFC 6455, 5.1)")
        if opcode >= 0x8:
            if opcode not in (OP_CLOSE, OP_PING, OP_PONG):
                raise FrameError(PROTOCOL_ERROR, f"unknown control opcode {opcode:#x}")
            if not b0 & 0x80:
                raise FrameError(PROTOCOL_ERROR, "a fragmented control frame")
            if length > 125:
                raise FrameError(PROTOCOL_ERROR, f"a control frame of {length:,} bytes (at most 125)")
            return
        if opcode not in (OP_CONTINUATION, OP_TEXT, OP_BINARY):
            raise FrameError(PROTOCOL_ERROR, f"unknown data opcode {opcode:#x}")
        if opcode == OP_CONTINUATION and not self._opcode:
            raise FrameError(PROTOCOL_ERROR, "a continuation frame with no message begun")
        if opcode != OP_CONTINUATION and self._opcode:
            raise FrameError(PROTOCOL_ERROR, "a new message began before the last one's final fragment")
        if length > self.max_message - self._size:
            raise FrameError(
                MESSAGE_TOO_BIG,
                f"a message of more than {self.max_message:,} bytes ({self._size + length:,} announced)",
            )
        if (opcode == OP_CONTINUATION or not b0 & 0x80) and self._fragments >= self.max_fragments:
            raise FrameError(MESSAGE_TOO_BIG, f"a message in more than {self.max_fragments:,} fragments")

    def _frame(self, fin: int, opcode: int, payload: bytes, events: list[tuple]) -> None:
        if opcode >= 0x8:
            if opcode == OP_CLOSE:
                events.append(("close", *_close_of(payload)))
                self.closed = True
            else:
                events.append(("ping" if opcode == OP_PING else "pong", payload))
            return
        if fin and opcode:  # a whole message in one frame: the common case
            events.append(("message", _text(payload) if opcode == OP_TEXT else payload))
            return
        if opcode:
            self._opcode = opcode
            self._decoder = _utf8() if opcode == OP_TEXT else None
        self._fragments += 1
        self._size += len(payload)
        if self._decoder is not None:
            try:
                self._parts.append(self._decoder.decode(payload, bool(fin)))
            except UnicodeDecodeError as exc:
                raise FrameError(
                    INVALID_DATA,
                    f"a text message that is not UTF-8 ({exc.reason} at byte "
                    f"{self._size - len(payload) + exc.start:,})",
                ) from None
        else:
            self._parts.append(payload)
        if fin:
            message = "".join(self._parts) if self._decoder is not None else b"".join(self._parts)
            self._parts, self._size, self._fragments, self._opcode, self._decoder = [], 0, 0, 0, None
            events.append(("message", message))

    def _count(self, held: int) -> None:
        more = held - self.held
        if more > 0 and not self.unfinished.take(more):
            raise FrameError(
                TRY_AGAIN_LATER,
                f"the gateway holds its limit of {self.unfinished.limit:,} bytes "
                "of unfinished messages; send whole messages, or try again later",
            )
        if more < 0:
            self.unfinished.give(-more)
        self.held = held


def _text(payload: bytes | bytearray) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(
            INVALID_DATA, f"a text message that is not UTF-8 ({exc.reason} at byte {exc.start:,})"
        ) from None


def _close_of(payload: bytes) -> tuple[int, str]:
    if not payload:
        return NO_STATUS, ""
    if len(payload) == 1:
        raise FrameError(PROTOCOL_ERROR, "a close frame of 1 byte (a code takes 2)")
    code = (payload[0] << 8) | payload[1]
    if not peer_may_send(code):
        raise FrameError(PROTOCOL_ERROR, f"close code {code}, which a peer may not send (RFC 6455, 7.4)")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(INVALID_DATA, "a close reason that is not UTF-8") from None
    return code, reason
