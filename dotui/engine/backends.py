"""Where an object's durable state is, by its class's ``storage_backend`` (docs/sqlite.md): a KV
object's in its checkpoint and the commit log's records not yet in it (durability/durable.py), a
SQLite-backed object's in its own database (durability/sqlfile.py, sqlhistory.py).

The engine asks here, and only here, which of the two an object's state is read from: at its
wake, after a failed commit, and for the storage inspector. It holds no state of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .durability import sqlfile, sqlhistory
from .errors import CommitFailedError

if TYPE_CHECKING:
    from .clock import Clock
    from .durability.durable import DurableState
    from .durability.index import Index
    from .ids import ObjectId
    from .object.instance import Instance


class Backends:
    def __init__(self, data_dir: str, durable: DurableState, index: Index, clock: Clock):
        self.data_dir = data_dir
        self.durable = durable
        self.index = index
        self.clock = clock

    def load(self, inst: Instance) -> tuple[Any, float | None]:
        """An object's durable state: its checkpoint plus the log records not yet in it (a KV object's
        dict), or its open database and its path (a SQLite-backed object's); and its alarm. O(keys)
        for a KV object; O(1) in its size for a SQLite-backed one."""
        if inst.ns.backend == "sqlite":
            return sqlhistory.open_for_wake(
                self.data_dir, inst.key, inst.id.name, self.clock.now, self.index.get(*inst.key)
            )
        data, alarm, meta = self.durable.load(inst.key)
        if inst.id.name is None and meta.get("name"):
            inst.id.name = meta["name"]
        return data, alarm

    def alarm_after_reset(self, inst: Instance, error: BaseException) -> float | None:
        """The alarm to schedule again for an object just reset by ``error``, or None. A SQLite-backed
        object's commit failed after its COMMIT: its database's alarm is the truth. O(1)."""
        if inst.ns.backend == "sqlite" and isinstance(error, CommitFailedError):
            return sqlfile.reconcile_one(self.data_dir, inst.key, self.index)
        return None

    def storage_view(self, backend: str, namespace: str, oid: ObjectId, pending: Any) -> dict[str, Any]:
        """What the storage inspector shows of an object, read from disk, waking nothing; ``pending``:
        the live object's writes not yet committed, or None. O(keys)."""
        if backend == "sqlite":  # its KV and alarm, read from the database (docs/sqlite.md)
            return sqlfile.storage_view(self.data_dir, namespace, oid, pending)
        return self.durable.storage_view(namespace, oid, pending)
