"""The operation table's machinery: what one operation is, and how the table is read.

An operation is declared once, as a method of ``EngineFacade`` (``ops/facade.py``, or
the module of its group, which ``EngineFacade`` derives from) marked with ``@operation(verb, path)``: its name, its parameters with their types
and defaults, its result type and its help line are that method's. ``table_of``
reads the marked methods into ``Operation`` rows; ``OPERATIONS`` (``ops/__init__``)
is that table, and everything else is generated from it or checked against it:

- the facades' forwarding methods (``operation`` replaces the declared body with
  one that hands the bound arguments to the facade's ``send``),
- the gateway's routes and their parameter checks (``server/app.py``),
- the OpenAPI document (``server/openapi.py``),
- ``Admin`` (``ops/admin.py``) and ``ClusterAdmin`` (``cluster/admin.py``), which
  must implement every operation with the same parameters (checked at import).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

# A parameter's annotation (as written: the modules use postponed annotations) -> the JSON kind
# the gateway checks a value against (``object``: any JSON value).
KINDS: dict[str, type] = {
    "str": str,
    "str | None": str,
    "int": int,
    "int | None": int,
    "Any": object,
    "list": list,
    "list | None": list,
    "dict | None": dict,
}

REQUIRED: Any = inspect.Parameter.empty

F = TypeVar("F", bound=Callable[..., Any])


# The listings of objects: rows the engine makes of its own counters and names (no value an object
# returned or stored), answers that grow with the number of objects. The remote facade reads them
# with a larger cap (``ops/remote.py``), the gateway encodes them with ``codec.encode_rows``.
LISTINGS = frozenset({"instances", "instances_of", "instance_table"})


@dataclass(frozen=True)
class Param:
    """One parameter of an operation: its name, kind (``str``, ``int``, ``list``, ``dict``, ``object``
    for any JSON value), and default (``REQUIRED`` if it must be given)."""

    name: str
    kind: type
    default: Any

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Operation:
    """One operation: ``EngineFacade.<name>``, carried out by ``Admin.<name>``, served at ``verb path``."""

    name: str
    verb: str
    path: str
    doc: str
    params: tuple[Param, ...]
    returns: str  # the result's type, as declared

    @property
    def resendable(self) -> bool:
        """A read: sending it again after a lost connection changes nothing."""
        return self.verb == "GET"

    @property
    def on_object(self) -> bool:
        """It names one object (``namespace`` and ``ref``): a cluster sends it to the shard owning it."""
        names = {p.name for p in self.params if p.required}
        return {"namespace", "ref"} <= names

    def arguments(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The operation's parameters by name, defaults filled in, from a facade method's arguments.
        TypeError, as Python's own, for arguments the declaration does not take. O(params)."""
        names = [p.name for p in self.params]
        if len(args) > len(names):
            raise TypeError(f"{self.name}() takes {len(names)} arguments but {len(args)} were given")
        out = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r}")
            if key in out:
                raise TypeError(f"{self.name}() got multiple values for argument {key!r}")
            out[key] = value
        for p in self.params:
            if p.name not in out:
                if p.required:
                    raise TypeError(f"{self.name}() missing required argument {p.name!r}")
                out[p.name] = p.default
        return out


_DECLARED = "__dotui_operation__"


def operation(verb: str, path: str, *, written: bool = False, facade_only: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Declare the method below as an operation served at ``verb path``.

    Its body is replaced by the forwarding every facade shares: the arguments, bound to the
    declaration, go to ``self.send(operation, params)`` and the answer comes back
    (``written=True`` keeps a body written by hand). ``facade_only`` names parameters the facade
    takes that are not the operation's (``call``'s ``timeout``: how long this caller waits).
    """

    def declare(fn: F) -> F:
        cell: list[Operation] = []  # the operation's row, once table_of has read it
        setattr(fn, _DECLARED, (verb, path, facade_only, cell))
        if written:
            return fn
        name = fn.__name__

        def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
            op = cell[0]
            return self.send(op, op.arguments(args, kwargs)).result()

        forward.__name__ = forward.__qualname__ = name
        forward.__doc__ = fn.__doc__
        forward.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]  # a function attribute inspect.signature reads
        forward.__wrapped__ = fn  # type: ignore[attr-defined]  # a function attribute inspect.unwrap reads
        setattr(forward, _DECLARED, (verb, path, facade_only, cell))
        return forward  # type: ignore[return-value]  # the forwarder takes the declaration's parameters: its signature says so

    return declare


def table_of(cls: type) -> dict[str, Operation]:
    """The operations declared on ``cls`` and on the classes it derives from (an operation group's
    declarations: ops/lifecycle.py), ``cls``'s own first, each in declaration order. TypeError for a
    parameter with no JSON kind: the gateway could not check it. O(attributes of the classes)."""
    table: dict[str, Operation] = {}
    declared = [(name, fn) for klass in cls.__mro__ for name, fn in vars(klass).items()]
    for name, fn in declared:
        spec = getattr(fn, _DECLARED, None)
        if spec is None or name in table:
            continue
        verb, path, facade_only, cell = spec
        sig = inspect.signature(getattr(fn, "__wrapped__", fn))
        params = []
        for p in list(sig.parameters.values())[1:]:
            if p.name in facade_only:
                continue
            if p.annotation not in KINDS:
                raise TypeError(f"{cls.__name__}.{name}: parameter {p.name} has no JSON kind ({p.annotation!r})")
            params.append(Param(p.name, KINDS[p.annotation], p.default))
        doc = inspect.cleandoc(fn.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        table[name] = Operation(name, verb, path, doc, tuple(params), str(sig.return_annotation))
        cell[:] = [table[name]]
    return table


def check_implements(cls: type, table: dict[str, Operation], *, asynchronous: bool = True) -> None:
    """TypeError unless ``cls`` has every operation of ``table`` with the declared parameters
    (names and defaults), as coroutines if ``asynchronous``: the one table, checked where it is
    implemented. O(operations)."""
    wrong = []
    for name, op in table.items():
        fn = getattr(cls, name, None)
        if fn is None:
            wrong.append(f"{name} is missing")
            continue
        params = list(inspect.signature(fn).parameters.values())[1:]
        got = [(p.name, p.default) for p in params]
        want = [(p.name, p.default) for p in op.params]
        if got != want:
            wrong.append(f"{name} takes {got}, the table says {want}")
        elif asynchronous and not inspect.iscoroutinefunction(fn):
            wrong.append(f"{name} is not a coroutine function")
    if wrong:
        raise TypeError(
            f"{cls.__name__} does not implement the operation table (dotui/ops/facade.py): " + "; ".join(wrong)
        )
