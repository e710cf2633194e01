"""What the front ends can see of an engine, read without waking anything (README, "The TUI").

``EngineViews`` is the read side of ``Engine``: namespaces, listing (``listing.py``), one
object's row, storage as on disk, queue, history, stats and the event stream. It only
reads, through ``ViewedEngine``: the engine's units, and read-only views of what the
engine holds (``Holdings``); every write to the state it shows belongs to the unit that
holds it. ``Engine`` offers each view as a method of its own (``ReadSide``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from .events import Subscription
from .ids import ObjectId

if TYPE_CHECKING:
    from .backends import Backends
    from .durability.commitlog import CommitLog
    from .durability.committer import Committer
    from .durability.durable import DurableState
    from .durability.index import Index
    from .events import EventBus
    from .history import CallHistory
    from .listing import Listing
    from .loader import NamespaceInfo
    from .object.alarms import AlarmScheduler
    from .object.instance import Instance
    from .object.stubs import Namespace
    from .object.websockets import WebSockets
    from .rows import InstanceRow, InstanceTable

Key = tuple[str, str]  # (namespace, id hex)


@dataclass(frozen=True)
class Holdings:
    """Read-only views (``types.MappingProxyType``) of what the engine holds, kept up to date by it:
    its classes, the records of the objects it holds (in memory, broken, or with a call in flight),
    the live ones, the keys of the broken ones kept, its namespace handles."""

    namespaces: Mapping[str, NamespaceInfo]
    records: Mapping[Key, Instance]
    live: Mapping[Key, Instance]
    broken: Mapping[Key, None]
    handles: Mapping[str, Namespace]


class ViewedEngine(Protocol):
    """What the views read of the engine."""

    holdings: Holdings
    backends: Backends
    listing: Listing
    durable: DurableState
    index: Index
    call_history: CallHistory
    bus: EventBus
    alarms: AlarmScheduler
    websockets: WebSockets
    stats_counters: dict[str, int]
    committer: Committer  # these two once started
    log: CommitLog

    @property
    def started(self) -> bool: ...
    def namespace(self, name: str) -> Namespace: ...
    def namespace_info(self, name: str) -> NamespaceInfo: ...


class EngineViews:
    """The views, over the engine's units and the instances it holds. O(1) to make."""

    def __init__(self, engine: ViewedEngine):
        self.engine = engine
        self.held = engine.holdings

    def namespaces(self) -> list[dict[str, Any]]:
        return [info.describe() for info in self.held.namespaces.values()]

    # Listing (listing.py): every row reads the index or an object in memory, wakes nothing.
    def instances(
        self, namespace: str | None = None, *, state: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[InstanceRow]:
        """Known objects in listing order, one page (``Listing.instances``)."""
        return self.engine.listing.instances(namespace, state=state, offset=offset, limit=limit)

    async def instance_table(self, namespace: str | None = None) -> InstanceTable:
        """Every known object at once, hibernated ones as one list per field (``Listing.table``): made
        on a thread, the loop's calls going on meanwhile."""
        return await self.engine.listing.table(namespace)

    def instances_of(self, keys: Iterable[tuple[str, str]]) -> list[InstanceRow]:
        """``instance_info`` of each ``(namespace, id hex)`` (``Listing.instances_of``)."""
        listing = self.engine.listing
        return listing.instances_of(keys, lambda ns, hx: listing.known_id(self._handle_for(ns), hx))

    def count_instances(self, namespace: str | None = None) -> dict[str, int]:
        """How many objects are known, and how many of them are live (cheap at any scale)."""
        return self.engine.listing.count(namespace)

    def object_id(self, namespace: str, ref: str) -> ObjectId:
        """An id from a name, or from ``#hex`` (a unique prefix of a known id is enough)."""
        return self.engine.listing.resolve(self.engine.namespace(namespace), ref)

    def _handle_for(self, namespace: str) -> Namespace | None:
        return self.engine.namespace(namespace) if namespace in self.held.namespaces else None

    def instance_info(self, namespace: str, oid: ObjectId) -> InstanceRow:
        """One object as ``instances()`` shows it; state "unknown" if it never existed."""
        return self.engine.listing.info(namespace, oid)

    def read_storage(self, namespace: str, oid: ObjectId) -> dict[str, Any]:
        """An object's storage as on disk: the checkpoint, the log's newer records, what is pending.

        Reads the checkpoint file; wakes nothing.
        """
        info = self.engine.namespace_info(namespace)
        inst = self.held.records.get((namespace, oid.hex))
        pending = inst.storage.pending() if inst is not None and inst.storage is not None else None
        return self.engine.backends.storage_view(info.backend, namespace, oid, pending)

    def queue(self, namespace: str, oid: ObjectId) -> list[dict[str, Any]]:
        inst = self.held.records.get((namespace, oid.hex))
        if inst is None:
            return []
        return [c.describe() for c in inst.running.values()] + [c.describe() for c in inst.queue]

    def history(self, namespace: str, oid: ObjectId, n: int = 20) -> list[dict[str, Any]]:
        """The last ``n`` finished calls of an object in memory, oldest first (history.py: bounded
        engine-wide; a hibernated object has none, only its counters in ``instance_info``)."""
        return self.engine.call_history.of((namespace, oid.hex), n)

    def stats(self) -> dict[str, Any]:
        e, live = self.engine, self.held.live
        started = e.started
        return {
            "live": len(live),
            "hibernated": max(0, e.index.count() - len(live)),
            "queued": sum(len(i.queue) for i in live.values()),
            "running": sum(len(i.running) for i in live.values()),
            "commits_pending": (e.committer.pending if started else 0)
            + sum(1 for i in live.values() if i.output_gate.holding),
            "uncheckpointed_objects": e.durable.held_count,
            "broken_checkpoints": len(e.durable.broken),
            "log_bytes": e.log.size if started else 0,
            **e.stats_counters,
            **e.durable.counters,
            **e.alarms.counters,
            **(e.committer.stats() if started else {}),
        }

    def bookkeeping(self) -> dict[str, int]:
        """The size of each structure the engine keeps that grows with use, for tests and soaks
        (docs/trust.md, "Memory: every buffer and its bound", gives each one's bound). Cheap:
        O(namespaces + subscribers)."""
        e, held = self.engine, self.held
        return {
            "records": len(held.records),  # in memory, broken (at most BROKEN_KEPT), or with a call in flight
            "live": len(held.live),
            "broken_kept": len(held.broken),
            "history_entries": e.call_history.entries,
            "history_bytes": e.call_history.bytes,
            "names_remembered": sum(h.names_remembered for h in held.handles.values()),
            "websocket_objects": e.websockets.objects_tracked,
            "alarms_pending": e.alarms.pending_count,
            "alarm_heap": e.alarms.heap_size,
            "uncheckpointed_objects": e.durable.held_count,
            "events_buffered": e.bus.buffered,
        }

    def subscribe(self, maxlen: int = 10_000, predicate: Callable[[dict], bool] | None = None) -> Subscription:
        """A bounded event stream; a slow reader loses the oldest events and is told how many."""
        return self.engine.bus.subscribe(maxlen, predicate)


P = ParamSpec("P")
R = TypeVar("R")


def delegated(view: Callable[Concatenate[EngineViews, P], R]) -> Callable[Concatenate[Any, P], R]:
    """A method of ``Engine`` answering with its ``views``' method ``view``: the engine's read API is
    views.py's. O(1) more than the view."""

    def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        return view(self.views, *args, **kwargs)

    method.__name__ = method.__qualname__ = view.__name__
    method.__doc__ = view.__doc__
    method.__wrapped__ = view  # type: ignore[attr-defined]  # a function attribute inspect.unwrap reads
    return method


class ReadSide:
    """The engine's read API (``Engine`` derives from it): each method is its ``views``' own."""

    views: EngineViews

    namespaces = delegated(EngineViews.namespaces)
    instances = delegated(EngineViews.instances)
    instance_table = delegated(EngineViews.instance_table)
    instances_of = delegated(EngineViews.instances_of)
    count_instances = delegated(EngineViews.count_instances)
    object_id = delegated(EngineViews.object_id)
    instance_info = delegated(EngineViews.instance_info)
    read_storage = delegated(EngineViews.read_storage)
    queue = delegated(EngineViews.queue)
    history = delegated(EngineViews.history)
    stats = delegated(EngineViews.stats)
    bookkeeping = delegated(EngineViews.bookkeeping)
    subscribe = delegated(EngineViews.subscribe)
