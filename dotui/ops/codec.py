"""What crosses the wire: JSON, and errors as JSON, one codec for the gateway
(``server/app.py``, ``server/fast.py``), the remote facade (``ops/remote.py``) and the
cluster's shards (``cluster/wire.py``).

An error travels as ``{"error": {"type", "message", "engine", "details"?}}``.
``engine`` is true when the engine itself raised it (an error class of
``dotui.engine.errors``), so the client rebuilds that very class; any other
exception (one an object's method raised) is rebuilt as a ``RemoteError``
subclass carrying the original type's name, which also derives from the
builtin of that name when there is one (``except ValueError`` still works).
"""

from __future__ import annotations

import builtins
import json
import math
from typing import Any

import orjson

from ..engine import errors as engine_errors
from ..engine.errors import (
    DurableObjectError,
    EngineClosedError,
    InvalidIdError,
    LogCorruptError,
    MethodNotFoundError,
    NamespaceNotFoundError,
    OverloadedError,
    RemoteError,
    ShardUnavailableError,
)

RETRY_AFTER_SECONDS = 1

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_ascii_encoder = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    return _encoder.encode(value)


def encode(value: Any) -> bytes:
    """``value`` as UTF-8 JSON, whatever text it holds: a lone surrogate (``"\\ud800"``, which
    UTF-8 cannot carry) goes out as JSON's ``\\u`` escape, which every JSON decoder reads back as
    the same string. O(size); the escaped form is made only when the plain one fails."""
    text = _encoder.encode(value)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _ascii_encoder.encode(value).encode()


def encode_rows(value: Any) -> bytes:
    """The same JSON as ``encode`` for the engine's own rows (``table.LISTINGS``), made by orjson
    where it can: 13 MB of 120,000 objects' rows took 225-1,070 ms with the standard encoder,
    50-94 ms with orjson, on the loop. Not for a value an object made: orjson writes NaN as null
    where ``encode`` refuses it (the engine's rows hold no NaN: the index checks its times). What
    orjson refuses (a lone surrogate in a name, an int past 64 bits) goes through ``encode``. O(size)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is one
        return encode(value)


class BadJSON(ValueError):
    """A request body is not the JSON it should be."""


def _no_constants(name: str) -> Any:
    raise BadJSON(f"{name} is not JSON (JSON has no NaN or Infinity); send a number or null")


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise BadJSON(
            f"the number {text:.40} is too large for a float (JSON numbers here are 64-bit floats); "
            "send a smaller one, or the digits as a string"
        )
    return value


# One decoder, not one per request as json.loads(..., **kw) makes.
_decoder = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite)


def loads(text: str | bytes) -> Any:
    """Strict JSON: NaN and Infinity are refused, as they are everywhere else in dotui."""
    try:
        if not isinstance(text, str):
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        return _decoder.decode(text)
    except BadJSON:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJSON(f"the body is not valid JSON ({exc})") from None
    except RecursionError:
        raise BadJSON(
            "the body nests lists or objects too deeply for the gateway's JSON decoder (it stops "
            "short of 1,000 levels); send a flatter value"
        ) from None


# ---------------------------------------------------------------- server side
class ClientFault(Exception):
    """The caller's mistake (an argument, a storage key or value): ``original`` says what (a 400)."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


class MethodRaised(Exception):
    """The object's method itself raised ``original`` (the target was checked before the call): a 500,
    whatever its type, since a 404-type error from inside a method is not the caller's URL."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


def status_for(exc: BaseException) -> int:
    """The HTTP status of an exception raised while serving a request."""
    if isinstance(exc, (NamespaceNotFoundError, MethodNotFoundError, InvalidIdError)):
        return 404
    if isinstance(exc, (OverloadedError, EngineClosedError, ShardUnavailableError)):
        return 503
    return 500


def answer_for(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The status and JSON body answering an operation that raised ``exc``."""
    if isinstance(exc, ClientFault):
        return 400, error_body(exc.original)
    if isinstance(exc, MethodRaised):
        return 500, error_body(exc.original)
    return status_for(exc), error_body(exc)


def _is_engine_error(exc: BaseException) -> bool:
    return type(exc).__module__ == engine_errors.__name__


# The fields an engine error carries beyond its message, and their types (a list is a list of str):
# what error_body sends as ``details`` and all that rebuild sets from them.
DETAILS: dict[type, dict[str, type]] = {
    MethodNotFoundError: {"namespace": str, "method": str, "callable_methods": list},
    NamespaceNotFoundError: {"name": str, "known": list},
    RemoteError: {"type_name": str},
    LogCorruptError: {"path": str, "offset": int},
}


def _fields_of(cls: type) -> dict[str, type]:
    return next((fields for kind, fields in DETAILS.items() if issubclass(cls, kind)), {})


def error_body(exc: BaseException) -> dict[str, Any]:
    """An exception as JSON: its type and message, never a traceback."""
    err: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc), "engine": _is_engine_error(exc)}
    fields = _fields_of(type(exc))
    if fields:
        err["details"] = {name: getattr(exc, name) for name in fields}
    return {"error": err}


def request_error(type_name: str, message: str) -> dict[str, Any]:
    """An error of the request itself (bad JSON, no token, unknown route)."""
    return {"error": {"type": type_name, "message": message, "engine": False}}


# ---------------------------------------------------------------- client side
_ENGINE_ERRORS = {
    name: cls
    for name, cls in vars(engine_errors).items()
    if isinstance(cls, type) and issubclass(cls, DurableObjectError)
}
MAX_MESSAGE_CHARS = 64 * 1024  # of a rebuilt error's message and type name: an error is a line, not a payload


def rebuild(err: dict[str, Any]) -> BaseException:
    """The exception a caller would have seen in-process, from its JSON form (which may come from a
    gateway that does not behave: any shape gives an exception). An engine error gets the fields
    ``DETAILS`` gives its class, each of its type or else empty; no other name is ever set. O(size)."""
    type_name = str(err.get("type") or "Error")[:MAX_MESSAGE_CHARS]
    message = str(err.get("message") or "")[:MAX_MESSAGE_CHARS]
    cls = _ENGINE_ERRORS.get(type_name) if err.get("engine") is True else None
    if cls is None:
        if not message and (type_name == "Error" or not type_name.isidentifier()):  # nothing to go on
            message = (
                f"the gateway answered an error with no message and no usable type (type: {err.get('type')!r:.200})"
            )
        return remote_error_class(type_name)(type_name, message)
    details = err.get("details")
    details = details if isinstance(details, dict) else {}
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    for name, kind in _fields_of(cls).items():
        value = details.get(name)
        if not isinstance(value, kind) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            value = kind()
        setattr(exc, name, value)
    return exc


def _remote_init(self: RemoteError, type_name: str, message: str) -> None:
    self.type_name = type_name
    Exception.__init__(self, message)


def _remote_str(self: RemoteError) -> str:
    return str(self.args[0]) if self.args else ""


_remote_classes: dict[str, type] = {}
# Builtins a RemoteError never derives from: raised out of a coroutine, Python turns them into RuntimeError.
_NOT_MIXED = frozenset({"StopIteration", "StopAsyncIteration"})


def remote_error_class(type_name: str) -> type:
    """A ``RemoteError`` subclass named ``type_name``; also the builtin of that name, if any."""
    cls = _remote_classes.get(type_name)
    if cls is not None:
        return cls
    namespace = {"__init__": _remote_init, "__str__": _remote_str, "__module__": "dotui.remote"}
    name = type_name if type_name.isidentifier() else "RemoteError"
    builtin = getattr(builtins, type_name, None) if type_name not in _NOT_MIXED else None
    bases: tuple[type, ...] = (RemoteError,)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        bases = (RemoteError, builtin)
    try:
        cls = type(name, bases, namespace)
    except TypeError:  # a builtin whose layout cannot be mixed in
        cls = type(name, (RemoteError,), namespace)
    if len(_remote_classes) < 256:  # the type names a gateway sends are its to choose: remember a few
        _remote_classes[type_name] = cls
    return cls
