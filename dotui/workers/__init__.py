"""``workers``: the module of Cloudflare Python Workers, for CPython, over dotui's engine.

A project's code imports it as ``workers`` (``from workers import DurableObject, Response,
WorkerEntrypoint``) when dotui loads the project (``project.py`` makes that name, and ``js`` and
``pyodide.ffi``, resolve here for the project's imports; dotui ships no top-level ``workers``
package, so the real SDK installed beside it is not shadowed). What it offers, and how each name maps
to dotui's own API, is docs/cloudflare.md's table; the wrangler file's reader is ``wrangler.py``.
"""

from __future__ import annotations

from typing import Any

from .context import DurableObjectContext, ExecutionContext, WebSocket, WebSocketPair
from .entrypoints import DurableObject, WorkerEntrypoint, handler
from .fetch import fetch
from .http import Headers, Request, Response
from .rpc import JsDict

FetchResponse = Response
Context = ExecutionContext

__all__ = [
    "Context",
    "DurableObject",
    "DurableObjectContext",
    "FetchResponse",
    "Headers",
    "JsDict",
    "Request",
    "Response",
    "WebSocket",
    "WebSocketPair",
    "WorkerEntrypoint",
    "fetch",
    "handler",
    "python_from_rpc",
    "python_to_rpc",
    "waitUntil",
    "wait_until",
]


def python_from_rpc(value: Any) -> Any:
    """Values arrive as Python values already (``rpc.py``); dicts readable by attribute."""
    from .rpc import decode

    return decode(value)


def python_to_rpc(value: Any) -> Any:
    return value


def wait_until(awaitable: Any) -> None:
    """Keep the running object (or Worker request) alive until ``awaitable`` is done."""
    import asyncio

    from ..engine.object.instance import current_call

    call = current_call.get()
    inst = getattr(call, "instance", None)
    if inst is not None:
        inst.wait_until(awaitable)
    else:
        asyncio.ensure_future(awaitable)


waitUntil = wait_until
