"""The HTTP gateway (``dotui serve``) and the remote engine facade that talks to it.

- ``make_app(engine, token)``: the aiohttp application (see ``app.py`` for the routes).
- ``serve_main(...)``, ``start_gateway(...)``, ``start_gateway_thread(...)``: run it.
- ``connect(url, token=None, data=None)`` → ``RemoteEngine``: ``LocalEngine``'s
  methods over HTTP, so every front end works against an engine in another process.
"""

from .app import DEFAULT_MAX_BODY, make_app
from .auth import TokenNotFound, find_token, new_token
from .cli import RunningGateway, connect, serve_main, start_gateway, start_gateway_thread
from .client import GatewayAuthError, RemoteEngine, RemoteSubscription, ServerUnreachableError

__all__ = [
    "DEFAULT_MAX_BODY", "GatewayAuthError", "RemoteEngine", "RemoteSubscription", "RunningGateway",
    "ServerUnreachableError", "TokenNotFound", "connect", "find_token", "make_app", "new_token",
    "serve_main", "start_gateway", "start_gateway_thread",
]
