"""The shape of one object as the engine lists it: one row type for every front end.

``Engine.instances()``, ``instance_info()``, ``instances_of()`` and the
``objects`` of ``instance_table()`` produce ``InstanceRow``s (an object in
memory describes itself; a hibernated one is read from the index), and the
front ends read rows of this shape only (``tui/model.py``, the REPL's
``ls``). ``InstanceTable`` is the compact listing of every object at once.
"""

from __future__ import annotations

from typing import Any, TypedDict


class RunningCall(TypedDict):
    seq: int
    method: str
    status: str
    awaiting: str | None


class InstanceRow(TypedDict, total=False):
    """One object. An object that never existed has only the first four fields (state "unknown")."""

    namespace: str
    id: str  # 64 hex digits
    name: str | None
    state: str  # "live", "hibernated", "constructing", "broken", "unknown", ...
    busy: bool
    queued: int
    running: list[RunningCall]
    gate_held: bool
    output_held: bool
    calls: int
    errors: int
    last_active: float | None
    keys: int
    bytes: int
    pending_writes: int
    alarm: float | None
    broken: str | None
    shard: int  # over a cluster only: the shard that holds it (cluster/admin.py)


HIBERNATED_FIELDS = ("id", "name", "last_active", "keys", "bytes", "alarm", "calls", "errors")


class InstanceTable(TypedDict):
    """Every object at once: rows for those in memory, and the hibernated ones as one list per
    field of ``HIBERNATED_FIELDS`` per namespace (the same position in each list is one object)."""

    objects: list[InstanceRow]
    hibernated: dict[str, dict[str, list[Any]]]


def hibernated_row(
    namespace: str,
    hx: str,
    name: str | None,
    last_active: float | None,
    keys: int,
    nbytes: int,
    alarm: float | None,
    calls: int = 0,
    errors: int = 0,
) -> InstanceRow:
    """The row of a hibernated object known from the index alone (as ``Engine.instances()`` shows it):
    ``calls`` and ``errors`` are its counters so far, kept in the index."""
    return {
        "namespace": namespace,
        "id": hx,
        "name": name,
        "state": "hibernated",
        "busy": False,
        "queued": 0,
        "running": [],
        "gate_held": False,
        "output_held": False,
        "calls": calls,
        "errors": errors,
        "last_active": last_active,
        "keys": keys,
        "bytes": nbytes,
        "pending_writes": 0,
        "alarm": alarm,
        "broken": None,
    }
