"""`dotui recover`: the explicit way out of a damaged commit log.

An engine never drops more than a torn last append on its own (README.md, "On
disk"). When a record is damaged with readable records after it, recovery stops;
this module says what dropping the damage would lose, and drops it only when
asked. What it keeps is the log up to the first damaged record (RocksDB's
point-in-time recovery): every object's state as it was just before the damage,
never a later write on top of a lost earlier one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import DataFolderError
from . import disk, folder
from .commitlog import CommitLog, list_segments
from .durable import DurableState
from .index import Index
from .logscan import SegmentScan, is_damage, scan_segment


@dataclass
class Drop:
    path: str
    offset: int  # dropped from this byte on (0: the whole segment)
    nbytes: int  # bytes of data dropped (not counting preallocated zeros)
    records: int  # readable records among them


@dataclass
class RepairPlan:
    damage: SegmentScan
    drops: list[Drop] = field(default_factory=list)
    objects: dict[tuple[str, str], list] = field(default_factory=dict)  # key -> [name, records]

    def _count(self, records) -> None:
        for _, objs in records:
            for r in objs:
                entry = self.objects.setdefault((r.namespace, r.hex), [r.name, 0])
                entry[0] = entry[0] or r.name
                entry[1] += 1


def _segments(data_dir: str) -> list[str]:
    return list_segments(os.path.join(data_dir, "log"))


def plan(data_dir: str) -> RepairPlan | None:
    """What `recover` would drop; None when the log has no damage an engine would stop at."""
    paths = _segments(data_dir)
    for i, path in enumerate(paths):
        scan = scan_segment(path)
        if not is_damage(scan, last=i == len(paths) - 1):
            continue
        repair = RepairPlan(scan)
        repair.drops.append(Drop(path, scan.bad_at or 0, scan.tail, len(scan.after)))
        repair._count((t, objs) for _, t, objs in scan.after)
        for later in paths[i + 1 :]:
            s = scan_segment(later)
            repair.drops.append(Drop(later, 0, s.end + s.tail, len(s.records) + len(s.after)))
            repair._count(s.records)
            repair._count((t, objs) for _, t, objs in s.after)
        return repair
    return None


def describe(repair: RepairPlan, data_dir: str, done: bool) -> list[str]:
    d = repair.damage
    lines = [f"the commit log is damaged: segment {d.path} at byte {d.bad_at} holds {d.reason}."]
    lines.append("dropped:" if done else "`dotui recover --yes` keeps everything before it and would drop:")
    for drop in repair.drops:
        where = f"from byte {drop.offset}" if drop.offset else "the whole segment"
        lines.append(f"  {drop.path} {where}: {drop.nbytes} bytes, {drop.records} readable records after the damage")
    if repair.objects:
        lines.append(
            "objects whose committed writes after the damage are lost (each goes back to its state just before it):"
            if done
            else "objects whose committed writes after the damage would be lost "
            "(each would go back to its state just before it):"
        )
        for (ns, hx), (name, n) in sorted(repair.objects.items(), key=lambda kv: (kv[0][0], kv[1][0] or "", kv[0][1])):
            lines.append(f"  {ns} {name if name is not None else '#' + hx[:12]} (#{hx[:12]}): {n} records")
    else:
        lines.append("no readable record of any object is lost: only the damaged bytes.")
    if not done:
        lines.append(f"nothing was changed. To drop it and recover: dotui recover --data {data_dir} --yes")
    return lines


def apply(repair: RepairPlan) -> None:
    """Cut the damaged segment at the damage and remove the segments after it."""
    first = repair.drops[0]
    disk.truncate(first.path, first.offset)
    fd = disk.open(first.path, os.O_RDONLY)
    try:
        disk.fsync(fd)
    finally:
        disk.close(fd)
    for drop in repair.drops[1:]:
        disk.remove(drop.path)
    disk.fsync_dir(os.path.dirname(first.path))


def replay(data_dir: str) -> DurableState:
    """Replay what is left of the log into the checkpoints, as an engine's start would."""
    state = DurableState(
        data_dir,
        Index(os.path.join(data_dir, "index.sqlite")),
        interval=60.0,
        publish=lambda *a, **k: None,
        on_broken=lambda key, reason: None,
    )
    state.recover(CommitLog(os.path.join(data_dir, "log")))
    return state


def recover(data_dir: str, yes: bool) -> list[str]:
    """`dotui recover [--yes]` on ``data_dir`` (whose lock the caller holds): the lines to print."""
    if not os.path.isdir(data_dir):
        raise DataFolderError(f"no data folder {data_dir}: pass the one the engine uses (--data DIR)")
    folder.check(data_dir)  # as an engine's start: nothing in it followed that it did not make
    repair = plan(data_dir)
    if repair is None:
        return [
            f"the commit log in {data_dir} is sound: nothing to drop "
            "(a torn last append, if any, is dropped by the engine at start)."
        ]
    if not yes:
        return describe(repair, data_dir, done=False)
    apply(repair)
    state = replay(data_dir)
    lines = describe(repair, data_dir, done=True)
    lines.append(f"replayed {state.counters['recovered_records']} records into the checkpoints.")
    for (ns, hx), reason in state.broken.items():
        lines.append(f"  {ns} #{hx[:12]} is broken, its writes kept in the log: {reason}")
    return lines
