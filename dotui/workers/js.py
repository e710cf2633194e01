"""``js``: the few JavaScript globals Python Workers code imports, for CPython (``from js import ...``).

``WebSocketPair`` and ``WebSocketRequestResponsePair`` (``context.py``), ``WebSocket`` (a socket to
another server, ``outbound.py``), ``Date.now()`` (milliseconds),
``Object.fromEntries``, ``JSON`` and ``console``. Anything else of the JavaScript global scope is not
here: ``from js import X`` of another name is an ``ImportError`` naming what is.
"""

from __future__ import annotations

import json as _json
import time
from collections.abc import Iterable
from typing import Any

from .context import WebSocketPair, WebSocketRequestResponsePair
from .outbound import WebSocket

__all__ = ["Date", "JSON", "Object", "WebSocket", "WebSocketPair", "WebSocketRequestResponsePair", "console"]


class Date:
    @staticmethod
    def now() -> float:
        return float(int(time.time() * 1000))


class Object:
    @staticmethod
    def fromEntries(entries: Iterable[tuple[Any, Any]]) -> dict:
        return dict(entries.items() if isinstance(entries, dict) else entries)

    @staticmethod
    def values(value: Any) -> list[Any]:
        """``Object.values(pair)`` of a ``WebSocketPair`` is ``[client, server]``; of a dict, its values."""
        if isinstance(value, WebSocketPair):
            return list(value.object_values())
        return list(value.values())


class JSON:
    @staticmethod
    def stringify(value: Any) -> str:
        return _json.dumps(value, separators=(",", ":"))

    @staticmethod
    def parse(text: str) -> Any:
        return _json.loads(text)


class console:
    log = info = warn = error = debug = staticmethod(print)
