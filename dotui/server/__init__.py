"""The HTTP gateway (``dotui serve``) and the remote engine facade that talks to it.

- ``make_app(engine, token)``: the aiohttp application (see ``app.py`` for the routes).
- ``serve_main(...)``, ``start_gateway(...)``, ``start_gateway_thread(...)``: run it.
- ``connect(url, token=None, data=None)`` → ``RemoteEngine`` (``ops/remote.py``): the
  facade's operations over HTTP, so every front end works against an engine in another process.

The names are imported when first used, so ``dotui.server.limits`` (the flags of
``dotui serve``) loads without aiohttp.
"""

from importlib import import_module
from typing import Any

_WHERE = {
    "DEFAULT_MAX_BODY": ".app",
    "make_app": ".app",
    "TokenNotFound": ".auth",
    "find_token": ".auth",
    "new_token": ".auth",
    "RunningGateway": ".cli",
    "connect": ".cli",
    "serve_main": ".cli",
    "start_gateway": ".cli",
    "start_gateway_thread": ".cli",
    "BadAnswerError": "..ops.remote",
    "GatewayAuthError": "..ops.remote",
    "RemoteEngine": "..ops.remote",
    "RemoteSubscription": "..ops.remote",
    "ServerUnreachableError": "..ops.remote",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name], __name__), name)
