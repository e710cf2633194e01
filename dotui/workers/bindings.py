"""``env`` of a Python Workers project: Durable Object namespaces by binding name, and ``vars``.

``env.BINDING`` is the namespace of the class the wrangler file binds to it (``idFromName``,
``newUniqueId``, ``idFromString``, ``get``, ``getByName``); a stub calls the object's methods (RPC:
values cross as ``rpc`` says), ``stub.fetch(url_or_request)`` its ``fetch``, and ``stub.name`` /
``stub.id`` say which object it is. An error from an object carries ``remote`` (raised by the
object's own code), ``retryable`` and ``overloaded``, as Cloudflare's do (docs/cloudflare.md).
Over dotui's namespaces and stubs (``dotui/engine/object/stubs.py``): making a stub creates nothing.
"""

from __future__ import annotations

import time
from typing import Any

from ..engine.errors import (
    BrokenObjectError,
    EngineClosedError,
    MethodNotFoundError,
    ObjectResetError,
    OverloadedError,
    ShardUnavailableError,
)
from ..engine.ids import ObjectId
from . import rpc
from .http import Request, Response
from .requests import note_call

_RETRYABLE = (ObjectResetError, BrokenObjectError, ShardUnavailableError, EngineClosedError)


def mark(exc: BaseException) -> BaseException:
    """``exc`` with Cloudflare's ``remote``, ``retryable`` and ``overloaded`` set (once)."""
    if hasattr(exc, "remote"):
        return exc
    infra = isinstance(exc, (OverloadedError, MethodNotFoundError) + _RETRYABLE)
    try:
        exc.remote = not infra  # type: ignore[attr-defined]
        exc.retryable = isinstance(exc, _RETRYABLE)  # type: ignore[attr-defined]
        exc.overloaded = isinstance(exc, OverloadedError)  # type: ignore[attr-defined]
    except AttributeError:  # an exception type that takes no attributes: it goes on as it is
        pass
    return exc


class Stub:
    """A Python Workers stub: ``await stub.method(...)``, ``await stub.fetch(...)``, ``stub.name``, ``stub.id``."""

    __slots__ = ("_native", "_namespace", "_methods")

    def __init__(self, native: Any, namespace: str):
        self._native = native
        self._namespace = namespace
        self._methods: dict[str, Any] = {}

    @property
    def id(self) -> ObjectId:
        return self._native.id

    @property
    def name(self) -> str | None:
        return self._native.id.name

    async def fetch(self, input: Request | str, **init: Any) -> Response:
        """The object's ``fetch(request)``; a WebSocket upgrade the gateway handed the Worker reaches it
        with its socket (docs/cloudflare.md, "WebSockets")."""
        request = Request(input, **init) if init or not isinstance(input, Request) else input
        started = time.perf_counter()
        try:
            if request.upgrade is not None and request.headers.get("Upgrade", "").lower() == "websocket":
                answer = await request.upgrade(self._namespace, self._native.id, request.to_native())
            else:
                answer = Response.from_native(await self._native.fetch(request.to_native()))
        except Exception as exc:  # noqa: BLE001 - marked, and raised again
            note_call(self._namespace, self._native.id, "fetch", started, exc)
            raise mark(exc) from None
        note_call(self._namespace, self._native.id, "fetch", started, None)
        return answer

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        call = self._methods.get(method)
        if call is None:
            target = getattr(self._native, method)
            namespace, oid = self._namespace, self._native.id

            async def call(*args: Any, **kwargs: Any) -> Any:
                a, k = rpc.encode_args(args, kwargs)
                started = time.perf_counter()
                try:
                    result = await target(*a, **k)
                except Exception as exc:  # noqa: BLE001 - marked, and raised again
                    note_call(namespace, oid, method, started, exc)
                    raise mark(exc) from None
                note_call(namespace, oid, method, started, None)
                return rpc.decode(result)

            call.__name__ = method
            self._methods[method] = call
        return call

    def __repr__(self) -> str:
        return f"<Stub {self._namespace}/{self.name or self.id.hex[:12]}>"


class Namespace:
    """``env.BINDING``: a ``DurableObjectNamespace``."""

    def __init__(self, native: Any):
        self._native = native
        self.name = native.name

    def idFromName(self, name: str) -> ObjectId:
        return self._native.id_from_name(name)

    def newUniqueId(self, options: Any = None) -> ObjectId:
        return self._native.new_unique_id()

    def idFromString(self, text: str) -> ObjectId:
        return self._native.id_from_string(text)

    def get(self, oid: ObjectId, options: Any = None) -> Stub:
        return Stub(self._native.get(oid), self.name)

    def getByName(self, name: str, options: Any = None) -> Stub:
        return Stub(self._native.get_by_name(name), self.name)

    def jurisdiction(self, name: str) -> Namespace:
        return self  # one machine is one jurisdiction

    def __repr__(self) -> str:
        return f"<DurableObjectNamespace {self.name}>"


class Env:
    """``self.env``: each binding of the wrangler file, each var; nothing else (as on Cloudflare)."""

    def __init__(self, native: Any, config: Any):
        self._native = native
        self._config = config
        self._namespaces: dict[str, Namespace] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        cfg = self._config
        cls = cfg.bindings.get(name)
        if cls is not None:
            ns = self._namespaces.get(name)
            if ns is None:
                ns = self._namespaces[name] = Namespace(getattr(self._native, cls))
            return ns
        if name in cfg.vars:
            return cfg.vars[name]
        if name in cfg.other_bindings:
            raise AttributeError(
                f"env.{name} is a binding of {cfg.other_bindings[name]} in {cfg.path}: dotui "
                "provides Durable Object bindings and vars only"
            )
        raise AttributeError(
            f"env has no binding {name}: {cfg.path} binds {', '.join(list(cfg.bindings) + list(cfg.vars)) or 'nothing'}"
        )

    def __dir__(self) -> list[str]:
        return list(self._config.bindings) + list(self._config.vars)
