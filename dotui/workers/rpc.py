"""RPC values between a Worker and its Durable Objects, as Python Workers code sees them.

On Cloudflare an RPC argument or result crosses as a JavaScript structured clone: the Python Workers
SDK (``workers-runtime-sdk``, ``rpc.py``) turns ``None`` into ``null`` and back, a dict into an object
and back (a dict readable by attribute too, its ``JsDict``), ``datetime`` into a ``Date`` (milliseconds;
back as a naive UTC ``datetime``, the Workers runtime's zone being UTC), ``bytes`` into a
``Uint8Array``, a set into a ``Set``, an ``Exception`` into an ``Error`` (back as ``Exception(message)``),
and refuses a tuple, a bytearray and an awaitable ("cannot be sent over RPC").

dotui's engine passes JSON-compatible copies (README.md, "Calls"), so ``encode`` writes each value
JSON can not carry as a tagged dict (``{"__rpc__": "bytes", "v": "<base64>"}``, a user dict that
happens to hold the tag key is wrapped so it comes back as itself) and ``decode`` reads it back. A
function or a stub cannot be copied (on Cloudflare it becomes a stub the other side calls back
through): refused with a ``TypeError`` saying so. Dict keys are text, as an object's keys are (an
int key comes back as its digits, as on Cloudflare). O(size of the value) each way.
"""

from __future__ import annotations

import base64
import datetime as _dt
import inspect
import math
from typing import Any

TAG = "__rpc__"


class JsDict(dict):
    """A dict whose keys read as attributes too (``row.greeting``), as the SDK's ``JsDict``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def _refused(value: Any, why: str = "") -> TypeError:
    return TypeError(f"{type(value)} cannot be sent over RPC.{(' ' + why) if why else ''}")


def encode(value: Any) -> Any:
    """``value`` as JSON-compatible data the other side's ``decode`` turns back into it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {TAG: "float", "v": repr(value)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        out = {_key(k, value): encode(v) for k, v in value.items()}
        return {TAG: "dict", "v": out} if TAG in out else out
    if isinstance(value, bytes):
        return {TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    if isinstance(value, _dt.datetime):
        ms = math.floor(value.timestamp() * 1000)  # a JavaScript Date holds whole milliseconds
        return {TAG: "date", "v": ms}
    if isinstance(value, (set, frozenset)):
        return {TAG: "set", "v": [encode(v) for v in value]}
    if isinstance(value, BaseException):
        return {TAG: "error", "v": str(value)}
    if isinstance(value, (tuple, bytearray)):
        raise _refused(value)
    if inspect.isawaitable(value):
        raise TypeError(f"Awaitable {type(value)} cannot be sent over RPC. Await it first.")
    if callable(value):
        raise _refused(
            value,
            "dotui passes RPC values as copies: a function or a stub cannot be copied "
            "(on Cloudflare it becomes a stub the other side calls back through)",
        )
    raise _refused(
        value, "RPC carries None, bool, int, float, str, bytes, datetime, set, list, dict and Exception values"
    )


def _key(k: Any, where: dict) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, (int, float)) and not isinstance(k, bool):
        return str(k)  # an object's keys are text: 1 comes back as "1", as on Cloudflare
    raise TypeError(f"a dict sent over RPC has a key of type {type(k).__name__} ({k!r:.50}); use str keys")


def decode(value: Any) -> Any:
    """What ``encode`` wrote, as Python Workers code receives it (dicts as ``JsDict``)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None or len(value) != 2 or "v" not in value:
        return JsDict((k, decode(v)) for k, v in value.items())
    v = value["v"]
    if tag == "dict":
        return JsDict((k, decode(x)) for k, x in v.items())
    if tag == "bytes":
        return base64.b64decode(v)
    if tag == "date":
        return _dt.datetime.fromtimestamp(v / 1000, _dt.UTC).replace(tzinfo=None)
    if tag == "set":
        return {decode(x) for x in v}
    if tag == "float":
        return float(v)
    if tag == "error":
        return Exception(v)
    return JsDict((k, decode(x)) for k, x in value.items())


def decode_args(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    return tuple(decode(a) for a in args), {k: decode(v) for k, v in kwargs.items()}


def encode_args(args: tuple, kwargs: dict) -> tuple[list, dict]:
    return [encode(a) for a in args], {k: encode(v) for k, v in kwargs.items()}
