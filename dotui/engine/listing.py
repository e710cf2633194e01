"""Listing and paging: every known object, live or hibernated, as the front ends show them.

Reads no object file and wakes nothing: an object in memory describes itself, every other
one is known from the index alone (README "On disk": ``index.sqlite``). A page costs what the
page holds, not the number of objects: the index reads its rows in listing order from its file,
a page at a time (``Index.ordered``: O(log N + page) for a first page).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .durability.index import Index, order
from .errors import InvalidIdError
from .ids import ObjectId
from .object.instance import Instance
from .rows import InstanceRow, InstanceTable, hibernated_row

Key = tuple[str, str]  # (namespace, id hex)


class Listing:
    """The engine's objects as rows. ``held`` is every object the engine holds a record of (in
    memory, broken, or just out of memory with a call still in flight), ``live`` the live ones; both are the engine's, read here only."""

    def __init__(self, index: Index, held: Mapping[Key, Instance], live: Mapping[Key, Instance]):
        self._index = index
        self._held = held
        self._live = live

    def instances(
        self, namespace: str | None = None, *, state: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[InstanceRow]:
        """Known objects, ordered by namespace then name (named objects first), then id.

        ``state`` keeps one state ("live", "hibernated", ...); ``offset``/``limit`` page.
        """
        stop = None if limit is None else offset + limit
        if state is not None and state != "hibernated":
            # The few objects in memory: sort just them.
            rows = [
                i.describe()
                for k, i in self._held.items()
                if (namespace is None or k[0] == namespace) and i.shown_state == state
            ]
            rows.sort(key=lambda r: order(r["namespace"], r["name"], r["id"]))
            return rows[offset:stop]
        if state is None:  # every object is in the index (``Engine.touch``): the index pages
            return [
                self._row(ns, hx, e) for ns, hx, e in itertools.islice(self._index.ordered(namespace, offset), limit)
            ]
        every = (self._row(ns, hx, e) for ns, hx, e in self._index.ordered(namespace))
        return list(itertools.islice((r for r in every if r["state"] == state), offset, stop))

    async def table(self, namespace: str | None = None) -> InstanceTable:
        """Every known object at once, compactly (see ``Engine.instance_table``): those in memory as they
        describe themselves when it is called, the others from the index, read and put in columns on a
        thread (``Index.table``), so the loop's calls go on while a table of 100,000s is made. O(N), of
        it O(objects in memory) on the loop."""
        held = self._held
        objects = [i.describe() for k, i in held.items() if namespace is None or k[0] == namespace]
        rows = await self._index.table(namespace, leave_out=held.keys())
        return {"objects": objects, "hibernated": await asyncio.to_thread(_columns, rows)}

    def info(self, namespace: str, oid: ObjectId) -> InstanceRow:
        """One object as ``instances()`` shows it; state "unknown" if it never existed."""
        inst = self._held.get((namespace, oid.hex))
        if inst is not None:
            return inst.describe()
        e = self._index.get(namespace, oid.hex)
        if e is not None:
            return index_row(namespace, oid.hex, e)
        return {"namespace": namespace, "id": oid.hex, "name": oid.name, "state": "unknown"}

    def instances_of(self, keys: Iterable[Key], resolve: Callable[[str, str], ObjectId | None]) -> list[InstanceRow]:
        """``info`` of each ``(namespace, id hex)`` that ``resolve`` makes an id of; the others are left out."""
        out = []
        for namespace, hx in keys:
            oid = resolve(namespace, hx)
            if oid is not None:
                out.append(self.info(namespace, oid))
        return out

    def resolve(self, handle: Any, ref: str) -> ObjectId:
        """The id ``ref`` names in the namespace ``handle``: a name, or ``#hex`` where a unique
        prefix of a known id is enough. InvalidIdError says which ref matched none, or several."""
        if not ref.startswith("#"):
            return handle.id_from_name(ref)
        prefix = ref[1:].lower()
        if len(prefix) == 64:
            return self.named(handle.id_from_string(prefix))
        ns = handle.name
        matches = {hx for (n, hx) in self._held if n == ns and hx.startswith(prefix)}
        matches |= self._index.with_prefix(ns, prefix, 2)
        if not matches:
            raise InvalidIdError(f"no {ns} object has an id starting with {prefix!r}")
        if len(matches) > 1:
            raise InvalidIdError(f"{len(matches)} {ns} objects have ids starting with {prefix!r}; give more digits")
        return self.named(handle.id_from_string(matches.pop()))

    def known_id(self, handle: Any, hx: str) -> ObjectId | None:
        """The id ``hx`` of the namespace ``handle`` (None for no namespace or a malformed id)."""
        if handle is None:
            return None
        try:
            return self.named(handle.id_from_string(hx))
        except InvalidIdError:
            return None

    def named(self, oid: ObjectId) -> ObjectId:
        """For the front ends: an id from ``#hex`` shows the name it was made from, if known."""
        entry = self._index.get(oid.namespace, oid.hex)
        if entry is not None and entry.name is not None:
            oid.name = entry.name
        return oid

    def count(self, namespace: str | None = None) -> dict[str, int]:
        """How many objects are known, and how many of them are live (cheap at any scale)."""
        total = self._index.count(namespace)
        live = sum(1 for k in self._live if namespace is None or k[0] == namespace)
        return {"total": total, "live": live, "hibernated": total - live}

    def _row(self, ns: str, hx: str, e) -> InstanceRow:
        inst = self._held.get((ns, hx))
        if inst is not None:
            return inst.describe()
        return index_row(ns, hx, e)


def index_row(ns: str, hx: str, e) -> InstanceRow:
    """How a hibernated object looks, from its index entry alone (its counters included)."""
    return hibernated_row(ns, hx, e.name, e.last_active, e.keys, e.bytes, e.alarm, e.calls, e.errors)


_FIELDS = ("id", "name", "last_active", "keys", "bytes", "alarm", "calls", "errors")


def _columns(rows: list[tuple]) -> dict[str, dict[str, list]]:
    """The index's rows ``(ns, hx, name, ...)`` as one list per field, by namespace. O(N)."""
    by_ns: dict[str, list[tuple]] = {}
    for r in rows:
        ns_rows = by_ns.get(r[0])
        if ns_rows is None:
            ns_rows = by_ns[r[0]] = []
        ns_rows.append(r)
    return {
        ns: dict(zip(_FIELDS, map(list, list(zip(*ns_rows, strict=True))[1:9]), strict=True))
        for ns, ns_rows in sorted(by_ns.items())
    }
