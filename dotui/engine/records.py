"""The engine's records of the objects it holds, and their books (the one owner of both).

A record is an ``Instance`` (object/instance.py). The engine holds one for each object in
memory (live or draining), for each broken one kept to show why (at most ``kept``, the
oldest forgotten first: then it shows as hibernated), and for one just out of memory with
something still in flight (``Instance.detached``). An instance tells of its changes through
its host (object/host.py); the engine hands the books to ``Records``, which keeps the maps
and, as a record comes and goes, the entries that outlive it: its index entry (counters,
last active), its history (history.py) and its sockets' tracking (websockets.py).
Everything else reads the maps through the read-only views ``all``, ``live`` and ``broken``.
Every method is O(1) but ``released``: O(its history records).
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING

from .object.host import IN_MEMORY, State

if TYPE_CHECKING:
    from .durability.index import Index
    from .history import CallHistory
    from .ids import ObjectId
    from .loader import NamespaceInfo
    from .object.instance import Instance
    from .object.websockets import WebSockets

Key = tuple[str, str]  # (namespace, id hex)


class Records:
    """The records held (``all``), the ones in memory (``live``), the broken ones kept (``broken``,
    oldest first). ``make(info, oid)`` builds a new record; ``woke()`` is told when an object
    comes into memory (the idle sweeper's, sweeper.py)."""

    def __init__(
        self,
        make: Callable[[NamespaceInfo, ObjectId], Instance],
        index: Index,
        history: CallHistory,
        websockets: WebSockets,
        woke: Callable[[], None],
        *,
        kept: int,
    ):
        self._make = make
        self._index = index
        self._history = history
        self._websockets = websockets
        self._woke = woke
        self.kept = kept
        self._all: dict[Key, Instance] = {}
        self._live: dict[Key, Instance] = {}
        self._broken: dict[Key, None] = {}  # keys of kept broken records, oldest first
        self.all = MappingProxyType(self._all)
        self.live = MappingProxyType(self._live)
        self.broken = MappingProxyType(self._broken)
        # The record of the object ``key``, if one is held: in memory, broken, or just out of memory
        # with something in flight. The map's own get (O(1), no Python frame: every call reads it).
        self.get: Callable[[Key], Instance | None] = self._all.get

    def of(self, info: NamespaceInfo, oid: ObjectId) -> Instance:
        """The record of the object ``oid`` of class ``info``: the one held, or a new one."""
        key = (info.name, oid.hex)
        inst = self._all.get(key)
        if inst is None:
            inst = self._all[key] = self._make(info, oid)
        return inst

    def touch(self, inst: Instance) -> Instance:
        """(Host.touch) ``inst`` is about to wake: listed in the index; the record held (``inst``, unless
        it was forgotten while its caller held it and another replaced it)."""
        held = self._all.get(inst.key)
        if held is None:  # forgotten, and nothing replaced it: it is the record again
            held = self._all[inst.key] = inst
        self._index.ensure(inst.ns.name, inst.id.hex, inst.id.name)
        return held

    def on_state(self, inst: Instance, old: State, new: State) -> None:
        """(Host.on_state) Objects in memory (live or draining) are the ones counted live, wherever
        the change came from; one leaving memory leaves its last activity in its index entry."""
        if new in IN_MEMORY:
            self._live[inst.key] = inst
            if old not in IN_MEMORY:
                self._woke()
        elif old in IN_MEMORY:
            self._live.pop(inst.key, None)
            self._index.ensure(inst.ns.name, inst.id.hex, inst.id.name).last_active = inst.last_active
        if old is State.BROKEN:
            self._broken.pop(inst.key, None)

    def released(self, inst: Instance) -> None:
        """(Host.released) Forget the record of an object out of memory with nothing in flight: its
        counters go to its index entry, its history goes. A broken one is kept, the newest of the
        ``kept`` last, to show why it broke."""
        key = inst.key
        if self._all.get(key) is not inst:
            return
        e = self._index.get(*key)
        if e is not None and (e.calls != inst.calls or e.errors != inst.errors):
            e = self._index.ensure(inst.ns.name, inst.id.hex, inst.id.name)
            e.calls, e.errors = inst.calls, inst.errors
        self._history.drop(key)
        self._websockets.object_left(key)
        if inst.state is not State.BROKEN:
            del self._all[key]
            return
        self._broken.pop(key, None)
        self._broken[key] = None
        while len(self._broken) > self.kept:
            oldest = next(iter(self._broken))
            del self._broken[oldest]
            held = self._all.get(oldest)
            if held is not None and held.detached():
                del self._all[oldest]
