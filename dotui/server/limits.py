"""The gateway's bounds: how much a client can make it hold, and how long it waits for one.

One ``Limits`` per gateway; each field is a flag of ``dotui serve`` with the default
documented in docs/server.md ("Limits"). Both paths that read HTTP (the fast path of
``fast.py`` and the aiohttp application) enforce the same values.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

# Fixed bounds of a request head (aiohttp's defaults, given to both paths' parser).
MAX_LINE = 8190  # bytes in the request line or one header line
MAX_FIELD = 8190  # bytes in one header's value
MAX_HEADERS = 128  # header lines in one head
MAX_HEAD = 64 * 1024  # bytes in a whole head (request line, headers, the blank line): 431 over it
READ_BUFSIZE = 64 * 1024  # aiohttp's read buffer of a request body

MAX_EVENTS_MAXLEN = 100_000  # the largest ?maxlen= of /admin/events (each connection's event buffer)


@dataclass(frozen=True)
class Limits:
    """What one gateway allows a client (docs/server.md, "Limits")."""

    max_body: int = 1 << 20
    """Bytes in a request body; a larger one is 413 (``--max-body``)."""
    head_timeout: float = 10.0
    """Seconds for a request head to arrive whole, counted from a new connection's start or from the
    first byte of a later request; then 408 and the connection closes (``--head-timeout``)."""
    body_timeout: float = 30.0
    """Seconds for a whole body to arrive after its head; then 408 and the connection closes
    (``--body-timeout``)."""
    keepalive_timeout: float = 60.0
    """Seconds a connection may wait between requests before it is closed (``--keepalive-timeout``)."""
    send_timeout: float = 30.0
    """Seconds a client may read nothing of an answer the gateway is sending before it is cut off
    (``--send-timeout``)."""
    max_unauthenticated: int = 256
    """Connections open at once that have not shown the token; past it the oldest of them open for at
    least 1 s are closed, past twice it the oldest at once (``--max-unauthenticated``). Keep it well
    below ``ulimit -n``."""
    # WebSockets (websocket.py, docs/server.md "WebSockets"):
    ws_send_queue: int = 4 << 20
    """Bytes waiting to be sent to one WebSocket; a client that lets more pile up is closed 1008
    (``--ws-send-queue``)."""
    ws_send_total: int = 32 << 20
    """The same summed over every WebSocket; when full, the largest queue's client is closed 1013
    (``--ws-send-total``)."""
    ws_unfinished_total: int = 32 << 20
    """Bytes of WebSocket messages not yet whole (fragments, a frame in part) over every socket; the
    client whose bytes pass it is closed 1013 (``--ws-unfinished-total``)."""
    ws_max_fragments: int = 1024
    """Frames in one WebSocket message; more is 1009 (``--ws-max-fragments``)."""
    ws_message_timeout: float = 30.0
    """Seconds a WebSocket message (or a frame) begun may take to arrive whole; then 1008
    (``--ws-message-timeout``)."""
    ws_close_timeout: float = 5.0
    """Seconds a WebSocket close handshake may take before the connection is cut (``--ws-close-timeout``)."""

    def __post_init__(self) -> None:
        for name in (
            "head_timeout",
            "body_timeout",
            "keepalive_timeout",
            "send_timeout",
            "ws_message_timeout",
            "ws_close_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {getattr(self, name)!r}")
        for name in (
            "max_body",
            "max_unauthenticated",
            "ws_send_queue",
            "ws_send_total",
            "ws_unfinished_total",
            "ws_max_fragments",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)!r}")


def with_max_body(limits: Limits | None, max_body: int | None) -> Limits:
    """``limits`` (the defaults if None) with ``max_body`` in place of its own when given."""
    limits = limits or Limits()
    return limits if max_body is None else replace(limits, max_body=max_body)


# ================================================================ the bounds, as flags of dotui serve
_FLAGS = {  # Limits field: (flag, metavar, type, help); docs/server.md "Limits" says more
    "max_body": ("--max-body", "BYTES", int, "largest request body; a larger one is 413"),
    "head_timeout": (
        "--head-timeout",
        "SECONDS",
        float,
        "time for a request head to arrive whole (from the connection's start or the "
        "request's first byte); then 408 and the connection closes",
    ),
    "body_timeout": (
        "--body-timeout",
        "SECONDS",
        float,
        "time for a body to arrive whole after its head; then 408 and the connection closes",
    ),
    "keepalive_timeout": (
        "--keepalive-timeout",
        "SECONDS",
        float,
        "time a connection may wait between requests before it is closed",
    ),
    "send_timeout": (
        "--send-timeout",
        "SECONDS",
        float,
        "time a client may read nothing of an answer being sent before it is cut off",
    ),
    "max_unauthenticated": (
        "--max-unauthenticated",
        "N",
        int,
        "connections open at once that have not shown the token; past it the oldest "
        "of them open for 1 s are closed, past twice it the oldest at once (keep it "
        "well below ulimit -n)",
    ),
    "ws_send_queue": (
        "--ws-send-queue",
        "BYTES",
        int,
        "bytes waiting to be sent to one WebSocket; a client that lets more pile up is closed 1008",
    ),
    "ws_send_total": (
        "--ws-send-total",
        "BYTES",
        int,
        "bytes waiting to be sent over every WebSocket; when full, the largest queue's client is closed 1013",
    ),
    "ws_unfinished_total": (
        "--ws-unfinished-total",
        "BYTES",
        int,
        "bytes of WebSocket messages not yet whole, over every socket; past it, 1013",
    ),
    "ws_max_fragments": ("--ws-max-fragments", "N", int, "frames in one WebSocket message; more is 1009"),
    "ws_message_timeout": (
        "--ws-message-timeout",
        "SECONDS",
        float,
        "time a WebSocket message begun may take to arrive whole; then 1008",
    ),
    "ws_close_timeout": (
        "--ws-close-timeout",
        "SECONDS",
        float,
        "time a WebSocket close handshake may take before the connection is cut",
    ),
}


def add_limit_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per field of ``Limits`` (docs/server.md, "Limits")."""
    defaults = Limits()
    for f in fields(Limits):
        flag, metavar, kind, text = _FLAGS[f.name]
        parser.add_argument(
            flag,
            dest=f"limit_{f.name}",
            metavar=metavar,
            type=_positive(kind, flag),
            default=None,
            help=f"{text} (default {getattr(defaults, f.name):,})",
        )


def limits_from_args(args: argparse.Namespace) -> Limits:
    """The ``Limits`` the flags of ``add_limit_flags`` give (the default for each one not given)."""
    return Limits(
        **{
            f.name: getattr(args, f"limit_{f.name}")
            for f in fields(Limits)
            if getattr(args, f"limit_{f.name}", None) is not None
        }
    )


def _positive(kind: type, flag: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag} takes a {'whole ' if kind is int else ''}number, not {text!r}"
            ) from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{flag} must be more than 0, not {text}")
        return value

    return parse
