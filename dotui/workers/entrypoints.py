"""``DurableObject`` and ``WorkerEntrypoint`` of Python Workers, on dotui's engine.

As the Python Workers SDK does (``workers-runtime-sdk``, ``entrypoints.py``), each subclass is
adapted when it is defined (``__init_subclass__``), so the engine can run it as any dotui object:

- the constructor receives ``ctx`` as a ``DurableObjectContext`` (JavaScript names, awaitable
  storage: ``context.py``, ``storage.py``) and ``env`` with the wrangler file's bindings
  (``bindings.py``), whichever way the class's own ``__init__`` keeps them;
- ``fetch(request)`` receives a ``Request`` and may return a ``Response`` (``http.py``); the engine
  and the gateway see the plain dicts they always do;
- ``alarm()`` may be declared with or without its ``alarmInfo`` (``retryCount``, ``isRetry``);
- ``webSocketMessage`` / ``webSocketClose`` / ``webSocketError`` are the Hibernation API's handlers;
- every other public method is RPC: arguments and results convert at the call boundary only
  (``rpc.py``); the object calling its own methods passes Python values untouched.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

from ..engine.object.api import DurableObject as NativeDurableObject
from ..engine.object.api import ObjectContext
from ..engine.object.stubs import Env as NativeEnv
from . import rpc
from .bindings import Env
from .context import ClientSocket, DurableObjectContext, ExecutionContext, socket_of, upgrade_socket
from .http import Request, Response

HANDLERS = ("fetch", "alarm", "webSocketMessage", "webSocketClose", "webSocketError")

# True inside an RPC method's body: the object calling its own methods passes Python values as they are.
_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("dotui_workers_inside_call", default=False)


class AlarmInvocationInfo:
    """What ``alarm(alarm_info)`` receives: ``retryCount`` and ``isRetry`` (also in snake_case)."""

    def __init__(self, retry_count: int):
        self.retryCount = self.retry_count = retry_count
        self.isRetry = self.is_retry = retry_count > 0


def _env(cls: type, env: Any) -> Any:
    config = getattr(cls, "__workers_config__", None)
    if config is None or not isinstance(env, NativeEnv):
        return env  # a class run outside a wrangler project sees dotui's own env
    return Env(env, config)


def _wrap_init(cls: type) -> None:
    original = cls.__dict__.get("__init__")
    if original is None or getattr(original, "__workers_wrapped__", False):
        return

    @functools.wraps(original)
    def __init__(self: Any, ctx: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(ctx, ObjectContext):
            ctx = DurableObjectContext(ctx)
        original(self, ctx, _env(type(self), env), *args, **kwargs)

    __init__.__workers_wrapped__ = True  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]


def _boundary(fn: Callable[..., Any], enter: Callable, leave: Callable) -> Callable[..., Any]:
    """``fn`` converting its arguments (``enter``) and result (``leave``) when called from outside
    the object, and untouched when the object calls it itself."""
    if getattr(fn, "__workers_wrapped__", False):
        return fn
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _inside.get():
                return await fn(self, *args, **kwargs)
            token = _inside.set(True)
            try:
                args, kwargs = enter(args, kwargs)
                return leave(await fn(self, *args, **kwargs))
            finally:
                _inside.reset(token)
    else:

        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _inside.get():
                return fn(self, *args, **kwargs)
            token = _inside.set(True)
            try:
                args, kwargs = enter(args, kwargs)
                result = fn(self, *args, **kwargs)
                if inspect.isawaitable(result):  # a plain method returning an awaitable: await it here
                    return _settle(result, leave)
                return leave(result)
            finally:
                _inside.reset(token)

    wrapper.__workers_wrapped__ = True  # type: ignore[attr-defined]
    return wrapper


async def _settle(result: Any, leave: Callable) -> Any:
    return leave(await result)


def _fetch_in(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    if not args:
        return args, kwargs
    native = args[0]
    request = Request.from_native(native)
    if isinstance(native, dict) and native.get("websocket") is not None:
        upgrade_socket.set(native["websocket"])  # for WebSocketPair, in this call's own context
    return (request, *args[1:]), kwargs


def _fetch_out(answer: Any) -> Any:
    if isinstance(answer, Response):
        if answer.status == 101 and isinstance(answer.web_socket, ClientSocket):
            return {"status": 101}
        return answer.to_native()
    return answer


def _wrap_alarm(cls: type) -> None:
    alarm = cls.__dict__.get("alarm")
    if alarm is None or getattr(alarm, "__workers_wrapped__", False):
        return
    takes_info = len(inspect.signature(alarm).parameters) > 1

    @functools.wraps(alarm)
    def wrapper(self: Any, info: Any = None) -> Any:
        if not takes_info:
            return alarm(self)
        return alarm(self, AlarmInvocationInfo(getattr(info, "retry_count", 0)))

    wrapper.__workers_wrapped__ = True  # type: ignore[attr-defined]
    cls.alarm = wrapper  # type: ignore[attr-defined]


def _rpc_in(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    return rpc.decode_args(args, kwargs)


def _wrap_class(cls: type) -> None:
    _wrap_init(cls)
    _wrap_alarm(cls)
    for name, fn in list(cls.__dict__.items()):
        if name.startswith("_") or name in HANDLERS or not inspect.isfunction(fn):
            continue
        setattr(cls, name, _boundary(fn, _rpc_in, rpc.encode))
    fetch = cls.__dict__.get("fetch")
    if inspect.isfunction(fetch):
        cls.fetch = _boundary(fetch, _fetch_in, _fetch_out)  # type: ignore[attr-defined]


class DurableObject(NativeDurableObject):
    """Base class of a Durable Object in a Python Workers project (``from workers import DurableObject``)."""

    def __init__(self, ctx: Any, env: Any):
        self.ctx = ctx
        self.env = env

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        _wrap_class(cls)

    # The Hibernation API's handlers, under dotui's names (the engine calls these) and workerd's.
    def websocket_message(self, ws: Any, message: Any) -> Any:
        handler = getattr(self, "webSocketMessage", None)
        return handler(socket_of(ws), message) if handler is not None else None

    def websocket_close(self, ws: Any, code: int, reason: str, was_clean: bool) -> Any:
        handler = getattr(self, "webSocketClose", None)
        return handler(socket_of(ws), code, reason, was_clean) if handler is not None else None

    def websocket_error(self, ws: Any, error: Any) -> Any:
        handler = getattr(self, "webSocketError", None)
        return handler(socket_of(ws), error) if handler is not None else None


_wrap_init(DurableObject)


class WorkerEntrypoint:
    """Base class of a Worker (``class Default(WorkerEntrypoint)``): ``self.ctx``, ``self.env``, ``fetch``."""

    def __init__(self, ctx: Any, env: Any):
        self.ctx = ctx
        self.env = env


def make_worker(cls: type, native_env: Any, config: Any, wait_until: Callable[[Any], None]) -> Any:
    """An instance of the project's Worker class for one request (a Worker keeps no state of its own)."""
    return cls(ExecutionContext(wait_until), Env(native_env, config))


def handler(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The SDK's ``@handler`` (for ``on_fetch`` style Workers): its request is a ``Request`` already."""
    return fn
