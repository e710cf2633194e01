"""What the front ends can see of an engine, read without waking anything (README, "The TUI").

``EngineViews`` is the read side of ``Engine``: namespaces, listing (``listing.py``), one
object's row, storage as on disk, queue, history, stats and the event stream. It only
reads; every write to the state it shows belongs to the unit that holds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .durability import sqlfile
from .events import Subscription
from .ids import ObjectId

if TYPE_CHECKING:
    from .object.stubs import Namespace


class EngineViews:
    """Mixed into ``Engine``: the views, over the engine's units and the instances it holds."""

    def namespaces(self) -> list[dict[str, Any]]:
        return [info.describe() for info in self._namespaces.values()]

    # Listing (listing.py): every row reads the index or an object in memory, wakes nothing.
    def instances(self, namespace: str | None = None, *, state: str | None = None,
                  offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Known objects in listing order, one page (``Listing.instances``)."""
        return self.listing.instances(namespace, state=state, offset=offset, limit=limit)

    def instance_table(self, namespace: str | None = None) -> dict[str, Any]:
        """Every known object at once, hibernated ones as one list per field (``Listing.table``)."""
        return self.listing.table(namespace)

    def instances_of(self, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """``instance_info`` of each ``(namespace, id hex)`` (``Listing.instances_of``)."""
        return self.listing.instances_of(keys, lambda ns, hx: self.listing.known_id(self._ns_handles_for(ns), hx))

    def count_instances(self, namespace: str | None = None) -> dict[str, int]:
        """How many objects are known, and how many of them are live (cheap at any scale)."""
        return self.listing.count(namespace)

    def object_id(self, namespace: str, ref: str) -> ObjectId:
        """An id from a name, or from ``#hex`` (a unique prefix of a known id is enough)."""
        return self.listing.resolve(self.namespace(namespace), ref)

    def _ns_handles_for(self, namespace: str) -> Namespace | None:
        return self.namespace(namespace) if namespace in self._namespaces else None

    def instance_info(self, namespace: str, oid: ObjectId) -> dict[str, Any]:
        """One object as ``instances()`` shows it; state "unknown" if it never existed."""
        return self.listing.info(namespace, oid)

    def read_storage(self, namespace: str, oid: ObjectId) -> dict[str, Any]:
        """An object's storage as on disk: the checkpoint, the log's newer records, what is pending.

        Reads the checkpoint file; wakes nothing.
        """
        info = self.namespace_info(namespace)
        inst = self._instances.get((namespace, oid.hex))
        pending = inst.storage.pending() if inst is not None and inst.storage is not None else None
        if info.backend == "sqlite":  # its KV and alarm, read from the database (docs/sqlite.md)
            return sqlfile.storage_view(self.data_dir, namespace, oid, pending)
        return self.durable.storage_view(namespace, oid, pending)

    def queue(self, namespace: str, oid: ObjectId) -> list[dict[str, Any]]:
        inst = self._instances.get((namespace, oid.hex))
        if inst is None:
            return []
        return [c.describe() for c in inst.running.values()] + [c.describe() for c in inst.queue]

    def history(self, namespace: str, oid: ObjectId, n: int = 20) -> list[dict[str, Any]]:
        """The last ``n`` finished calls of an object in memory, oldest first (history.py: bounded
        engine-wide; a hibernated object has none, only its counters in ``instance_info``)."""
        return self.call_history.of((namespace, oid.hex), n)

    def stats(self) -> dict[str, Any]:
        live = len(self._live)
        return {
            "live": live,
            "hibernated": max(0, self.index.count() - live),
            "queued": sum(len(i.queue) for i in self._live.values()),
            "running": sum(len(i.running) for i in self._live.values()),
            "commits_pending": (self.committer.pending if self._started else 0) + sum(1 for i in self._live.values() if i.output_gate.holding),
            "uncheckpointed_objects": self.durable.held_count,
            "broken_checkpoints": len(self.durable.broken),
            "log_bytes": self.log.size if self._started else 0,
            **self.stats_counters,
            **self.durable.counters,
            **self.alarms.counters,
            **(self.committer.stats() if self._started else {}),
        }

    def bookkeeping(self) -> dict[str, int]:
        """The size of each structure the engine keeps that grows with use, for tests and soaks
        (docs/trust.md, "Memory: every buffer and its bound", gives each one's bound). Cheap:
        O(namespaces + subscribers)."""
        return {
            "records": len(self._instances),  # in memory, broken (at most BROKEN_KEPT), or with a call in flight
            "live": len(self._live),
            "broken_kept": len(self._broken),
            "history_entries": self.call_history.entries,
            "history_bytes": self.call_history.bytes,
            "names_remembered": sum(h.names_remembered for h in self._ns_handles.values()),
            "websocket_objects": self.websockets.objects_tracked,
            "alarms_pending": self.alarms.pending_count,
            "alarm_heap": self.alarms.heap_size,
            "uncheckpointed_objects": self.durable.held_count,
            "events_buffered": self.bus.buffered,
        }

    def subscribe(self, maxlen: int = 10_000, predicate=None) -> Subscription:
        """A bounded event stream; a slow reader loses the oldest events and is told how many."""
        return self.bus.subscribe(maxlen, predicate)
