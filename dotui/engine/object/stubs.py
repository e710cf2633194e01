"""What callers hold: stubs, and the namespaces (``engine.env.<Class>``) that make ids and stubs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidIdError
from ..ids import IdFactory, ObjectId

if TYPE_CHECKING:
    from ..engine import Engine


class Stub:
    """A caller's handle on one object. ``await stub.method(*args, **kwargs)``.

    Making a stub creates nothing; the object comes to exist at its first call.
    """

    __slots__ = ("id", "_engine", "_namespace", "_methods")

    def __init__(self, engine: Engine, namespace: str, oid: ObjectId):
        self._engine = engine
        self._namespace = namespace
        self.id = oid
        self._methods: dict[str, Any] = {}

    @property
    def name(self) -> str | None:
        """The name the object's id was made from (``get_by_name``, ``id_from_name``), or None."""
        return self.id.name

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)
        call = self._methods.get(method)
        if call is None:
            engine, ns, oid = self._engine, self._namespace, self.id

            def call(*args: Any, **kwargs: Any):
                return engine.call(ns, oid, method, args, kwargs)

            call.__name__ = method
            self._methods[method] = call
        return call

    def __repr__(self) -> str:
        return f"<Stub {self._namespace}/{self.id.name or self.id.hex[:12]}>"


class Namespace:
    """``engine.env.<Class>``: makes ids and stubs for one class."""

    def __init__(self, engine: Engine, name: str):
        self._engine = engine
        self.name = name
        self._ids = IdFactory(name)

    @property
    def names_remembered(self) -> int:
        """Names whose id this namespace remembers (``IdFactory.NAMES_KEPT`` at most)."""
        return self._ids.names_remembered

    def id_from_name(self, name: str) -> ObjectId:
        return self._ids.from_name(name)

    def new_unique_id(self) -> ObjectId:
        return self._ids.new_unique()

    def id_from_string(self, text: str) -> ObjectId:
        """The id written as ``text``; its ``name`` is None, as in Cloudflare."""
        return self._ids.from_string(text)

    def get(self, oid: ObjectId) -> Stub:
        if not isinstance(oid, ObjectId):
            raise TypeError(
                f"get() takes an ObjectId (from id_from_name, new_unique_id or id_from_string), not {type(oid).__name__}"
            )
        if oid.namespace != self.name:
            raise InvalidIdError("Durable Object ID is not valid for this namespace.")
        return Stub(self._engine, self.name, oid)

    def get_by_name(self, name: str) -> Stub:
        return self.get(self.id_from_name(name))

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"


class Env:
    """``self.env`` / ``engine.env``: the namespaces, as attributes."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def __getattr__(self, name: str) -> Namespace:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._engine.namespace(name)

    def __dir__(self) -> Iterable[str]:
        return list(self._engine.holdings.namespaces)
