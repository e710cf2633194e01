"""The shape of one object as the engine lists it: one row type for every front end.

``Engine.instances()``, ``instance_info()``, ``instances_of()`` and the
``objects`` of ``instance_table()`` produce ``InstanceRow``s (an object in
memory describes itself; a hibernated one is read from the index), and the
front ends read rows of this shape only (``tui/model.py``, the REPL's
``ls``). ``InstanceTable`` is the compact listing of every object at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from .object.instance import Instance


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


def live_row(inst: Instance) -> InstanceRow:
    """The row of an object whose record the engine holds (``Instance.describe``), read from it and,
    when its storage is not in memory, from its index entry; never wakes it. A draining object shows
    as live. O(its running calls)."""
    st = inst.storage
    entry = inst.host.index.get(*inst.key)
    running = list(inst.running.values())
    if st is not None:
        keys, nbytes, alarm = st.key_count, st.byte_size, st.alarm_epoch
    elif entry is not None:
        keys, nbytes, alarm = entry.keys, entry.bytes, entry.alarm
    else:
        keys, nbytes, alarm = 0, 0, None
    return {
        "namespace": inst.ns.name,
        "id": inst.id.hex,
        "name": inst.id.name,
        "state": inst.shown_state,
        "busy": bool(running),
        "queued": len(inst.queue),
        "running": [
            {"seq": c.seq, "method": c.method, "status": c.status.value, "awaiting": c.awaiting} for c in running
        ],
        "gate_held": inst.input_gate.held,
        "output_held": inst.output_gate.holding,
        "calls": inst.calls,
        "errors": inst.errors,
        "last_active": inst.last_active if inst.last_active is not None else (entry.last_active if entry else None),
        "keys": keys,
        "bytes": nbytes,
        "pending_writes": st.pending_count if st is not None else 0,
        "alarm": alarm,
        "broken": inst.broken_reason,
    }
