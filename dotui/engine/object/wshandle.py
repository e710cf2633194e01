"""What an object holds of one accepted WebSocket: its ``WebSocket`` handle (``ws`` in the object's
code: its tags, its attachment, its counters), and per object the handles and the auto-response
(``ObjectSockets``), with Cloudflare's limits on them. The engine's ``WebSockets`` (websockets.py)
owns these and lives beside the engine, so they survive the object's hibernation and reload
(README.md, "WebSockets"); the gateway's side of a connection is a ``Peer``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from .. import values
from ..errors import DurableObjectError

if TYPE_CHECKING:
    from ..ids import ObjectId
    from .websockets import WebSockets

# Cloudflare's limits (developers.cloudflare.com/durable-objects/platform/limits/).
MAX_ATTACHMENT_BYTES = 16_384  # serialize_attachment (workerd: "cannot be larger than 16384 bytes")
MAX_TAGS = 10  # per socket
MAX_TAG_CHARS = 256
MAX_SOCKETS = 32_768  # per object
MAX_MESSAGE_BYTES = 1 << 20  # a message received or sent
MAX_AUTO_RESPONSE_CHARS = 2048  # each of the request and the response

HANDLERS = ("websocket_message", "websocket_close", "websocket_error")
RESERVED_CLOSE_CODES = (1004, 1005, 1006, 1015)  # never sent in a close frame (RFC 6455, 7.4.1)


class WebSocketError(DurableObjectError):
    """A WebSocket used wrongly: sent to after close, accepted twice, a bad close code."""


class Peer(Protocol):
    """The gateway's side of one connection."""

    def send(self, data: str | bytes, after: Awaitable[Any] | None) -> None: ...

    def close(self, code: int, reason: str, after: Awaitable[Any] | None) -> None: ...

    def drop(self) -> None:
        """End the connection at once, without a close frame (the client sees code 1006), and
        without sending what is still held."""


class WebSocket:
    """``ws`` in an object's code: one client connection, accepted with ``ctx.accept_websocket``."""

    __slots__ = (
        "seq",
        "key",
        "peer",
        "tags",
        "state",
        "closed_by",
        "opened_at",
        "last_message_at",
        "messages_in",
        "messages_out",
        "auto_response_at",
        "_attachment",
        "_hub",
        "__weakref__",
    )

    def __init__(self, hub: WebSockets, key: tuple[str, str], seq: int, peer: Peer):
        self._hub = hub
        self.key = key
        self.seq = seq
        self.peer = peer
        self.tags: tuple[str, ...] = ()
        self.state = "pending"  # pending (in fetch) -> open -> closed
        self.closed_by: str | None = None  # once closed: object, client, gateway, reset
        self.opened_at = time.time()
        self.last_message_at: float | None = None
        self.messages_in = 0
        self.messages_out = 0
        self.auto_response_at: float | None = None
        self._attachment: str | None = None

    def send(self, message: str | bytes) -> None:
        """Send ``message`` (str: a text frame, bytes: a binary frame) to the client.

        It leaves once every write the object made before it is durable.
        """
        self._hub.send(self, message)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` (1000, or 3000-4999 for your own) and ``reason`` (at most 123 bytes)."""
        self._hub.close(self, code, reason)

    def serialize_attachment(self, value: Any) -> None:
        """Keep a JSON copy of ``value`` with the socket (at most 16,384 bytes): it survives hibernation."""
        try:
            text = values.encode(value, "the attachment")  # at most values.MAX_DEPTH deep, as storage
            size = len(text.encode("utf-8"))
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            raise TypeError(
                f"serialize_attachment takes a JSON-compatible value (dict, list, str, int, float, bool, None); {exc}"
            ) from None
        if size > MAX_ATTACHMENT_BYTES:
            raise ValueError(
                f"A WebSocket 'attachment' cannot be larger than {MAX_ATTACHMENT_BYTES} bytes. "
                f"'attachment' was {size} bytes (as JSON); keep an id in it and the data in storage"
            )
        self._attachment = text

    def deserialize_attachment(self) -> Any:
        """A fresh copy of the value given to ``serialize_attachment``; None if there is none."""
        return None if self._attachment is None else json.loads(self._attachment)

    def describe(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "tags": list(self.tags),
            "state": self.state,
            "attachment": self.deserialize_attachment(),
            "opened_at": self.opened_at,
            "last_message_at": self.last_message_at,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "auto_response_at": self.auto_response_at,
        }

    def __repr__(self) -> str:
        return f"<WebSocket #{self.seq} {self.state} tags={list(self.tags)}>"


class ObjectSockets:
    """One object's accepted sockets and its auto-response."""

    # No reference to the object's record: the engine forgets it when the object hibernates,
    # and a woken object has a new one (Engine.held looks it up).
    __slots__ = ("oid", "sockets", "auto_response")

    def __init__(self, oid: ObjectId):
        self.oid = oid
        self.sockets: dict[int, WebSocket] = {}
        self.auto_response: tuple[str, str] | None = None


def check_tags(tags: Any) -> tuple[str, ...]:
    """The tags given to ``accept_websocket``, checked against Cloudflare's limits, without repeats."""
    if tags is None:
        return ()
    if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
        raise TypeError(f"tags must be a list of str, e.g. tags=['room:1']; got {tags!r:.80}")
    if len(tags) > MAX_TAGS:
        raise ValueError(f"a WebSocket takes at most {MAX_TAGS} tags (Cloudflare's limit); got {len(tags)}")
    for t in tags:
        if not isinstance(t, str) or not t or len(t) > MAX_TAG_CHARS:
            raise ValueError(f"each tag must be a str of 1 to {MAX_TAG_CHARS} characters; got {t!r:.80}")
    return tuple(dict.fromkeys(tags))


def timestamp(epoch: float | None) -> datetime | None:
    """A time the engine keeps (seconds since the epoch) as workerd's API shows it."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
