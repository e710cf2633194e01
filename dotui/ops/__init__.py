"""The operation table: every operation a front end may ask of an engine, in one place.

- ``facade.py``: ``EngineFacade``, the one typed facade; each of its ``@operation``
  methods is an operation's declaration (name, parameters, result type, help), and
  ``OPERATIONS`` is the table read from them (``table.py`` reads it).
- ``admin.py``: ``Admin``, the operations themselves, on one engine's loop.
- ``local.py``: ``LocalEngine``, the facade over an engine on a thread of its own.
- ``remote.py``: ``RemoteEngine``, the facade over HTTP to ``dotui serve`` (with
  ``wsclient.py``, its WebSocket sessions); imported when first used (it needs aiohttp).
- ``codec.py``: JSON, and errors as JSON, shared by the gateway, the remote facade
  and the cluster.

The facades' forwarding methods are generated from the table; the gateway serves
each operation at its path (``server/app.py``); the cluster implements the same
table (``cluster/admin.py``). ARCHITECTURE.md, "How to add an operation", lists
the files a new one touches.
"""

from importlib import import_module
from typing import Any

from .admin import Admin, parse_when
from .codec import ClientFault, MethodRaised
from .facade import OPERATIONS, EngineFacade
from .local import LocalEngine
from .table import Operation, Param

_LATER = {"RemoteEngine": ".remote"}

__all__ = [
    "OPERATIONS",
    "Admin",
    "ClientFault",
    "EngineFacade",
    "LocalEngine",
    "MethodRaised",
    "Operation",
    "Param",
    "RemoteEngine",
    "parse_when",
]


def __getattr__(name: str) -> Any:
    if name not in _LATER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LATER[name], __name__), name)
