"""The durable state of every object: committed changes not yet in a checkpoint, the
checkpoints themselves, and recovery at start.

One rule runs through this module: committed data stays in memory AND in the commit
log until a checkpoint holding it is known durable. A log segment is deleted only
when every change it holds is in a durable checkpoint, so a failed mkdir, write,
fsync or rename while checkpointing loses nothing: the changes are kept, the failure
is reported (a ``checkpoint.failed`` event, the ``checkpoint_failures`` counter, a
log line on the "dotui" logger), and the checkpointer tries again with backoff.

An object whose checkpoint cannot be read is **broken**: its changes and the
segments holding them are kept, it is left out of checkpoints until it loads again
(its file restored or moved away), and the others go on. See README.md, "On disk".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .. import values
from ..clock import REAL, Clock
from . import checkpoint, disk, recent, schema, spares
from .folder import remove_stale_temporaries
from .ledger import SegmentLedger, segment_number
from .logformat import DELETED, Delta
from .rounds import RoundResult, RoundWriter, remove_segments, what
from .schema import RESERVED

log = logging.getLogger("dotui")

Key = tuple[str, str]  # (namespace, id hex)


class DurableState:
    """Owns the overlay of committed-not-checkpointed changes, writes checkpoints,
    and recovers from the log at start.

    Loop thread: ``committed``, ``load``, ``view``, ``want``, ``checkpoint``, ``run``.
    The checkpoint files are written on the executor given to ``start``, by its
    ``RoundWriter`` (rounds.py); everything that thread learns comes back as a
    ``RoundResult`` and is published on the loop.
    """

    BACKOFF_BASE = 0.05
    BACKOFF_MAX = 30.0
    GATHER = 0.05  # after a request, wait this long for more before a round
    ROUND_OBJECTS = 2048  # objects a round takes at most: the next one starts at once if more wait
    MAX_HELD = 8 * ROUND_OBJECTS  # objects with changes held at most: then commits wait (docs/trust.md)

    def __init__(
        self,
        data_dir: str,
        index,
        *,
        interval: float,
        publish: Callable[..., None],
        on_broken: Callable[[Key, str], None],
        clock: Clock = REAL,
    ):
        self.data_dir = data_dir
        self.index = index
        self.interval = interval
        self._clock = clock  # the interval and a checkpoint's time (clock.py); backoff stays on real time
        self._publish = publish
        self._on_broken = on_broken
        self._held: dict[Key, Delta] = {}  # committed, not in a durable checkpoint
        self._writing: dict[Key, Delta] = {}  # being written by the current round
        self._ledger = SegmentLedger()  # the log segments still needed (ledger.py)
        self._broken: dict[Key, str] = {}  # unreadable checkpoint: left out until it loads again
        self.writer = RoundWriter(data_dir, index, clock, keep=self.ROUND_OBJECTS)  # (rounds.py, its thread)
        self._more = False  # the last round was full: more work waits for the next at once
        self._round_took = 0  # the ledger's number of the last change the current round took
        self.counters = {"checkpoints": 0, "checkpoint_failures": 0, "recovered_records": 0, "torn_bytes_dropped": 0}

    def start(self, loop: asyncio.AbstractEventLoop, executor, rotate: Callable[[], Awaitable[list[str]]]) -> None:
        """``rotate()`` starts a new log segment between commits and returns the older ones."""
        self._loop, self._io, self._rotate = loop, executor, rotate
        self._wanted = asyncio.Event()
        self._arrived = asyncio.Event()  # a commit or a request since the checkpointer last looked
        self._lock = asyncio.Lock()
        self.room = asyncio.Event()  # set when a round settled (committer.py waits on it when full)

    def path(self, namespace: str, hx: str) -> str:
        """The checkpoint of an object; ``schema.Malformed`` unless ``namespace`` is a class name and
        ``hx`` an id of it (no path is built from anything else)."""
        return schema.object_path(self.data_dir, namespace, hx)

    # ------------------------------------------------------------ the overlay
    def committed(self, key: Key, delta: Delta, segment: int) -> None:
        """A commit of ``key``'s changes is durable in log segment number ``segment``."""
        old = self._held.get(key)
        if old is None:
            self._held[key] = delta
        else:
            old.merge(delta)
        self._ledger.changed(key, segment)
        arrived = getattr(self, "_arrived", None)
        if arrived is not None:
            arrived.set()  # the checkpointer's interval starts now, if it was waiting for work

    def _logged(self, key: Key) -> list[Delta]:
        return [d for d in (self._writing.get(key), self._held.get(key)) if d is not None]

    def load(self, key: Key) -> tuple[dict[str, Any], float | None, dict[str, Any]]:
        """(data, alarm, meta) of an object waking: its checkpoint plus the committed changes
        not yet in it. Raises ``BrokenObjectError`` naming an unreadable file."""
        data, meta = self.writer.checkpoint_of(key)
        alarm = meta.get("alarm")
        for d in self._logged(key):
            alarm = d.apply(data, alarm)
        if self._broken.pop(key, None) is not None:
            self.want()  # readable again: its kept changes go into the next checkpoint
        return data, alarm, meta

    @property
    def spares(self) -> spares.Spares:
        """The checkpoint thread's spare files (the writer's: spares.py)."""
        return self.writer.spares

    @property
    def recent(self) -> recent.Recent:
        """The big objects' last checkpoints, kept by the writer (recent.py)."""
        return self.writer.recent

    def view(self, key: Key) -> tuple[dict[str, Any], dict[str, Any], Delta]:
        """(checkpoint data, its meta, the committed changes not in it), reading the file."""
        data, meta = checkpoint.load(self.path(*key), key)
        logged = Delta()
        for d in self._logged(key):
            logged.merge(d)
        return data, meta, logged

    def storage_view(self, namespace: str, oid: Any, pending: Any = None) -> dict[str, Any]:
        """What the storage inspector shows: the checkpoint file, the committed changes not yet in
        it (``logged``), the storage they make together (``values``), and ``pending``: the live
        object's writes not yet committed (``Storage.pending()``, or None). Reads the file."""
        key = (namespace, oid.hex)
        data, meta, logged = self.view(key)
        ckpt = dict(data)
        alarm = logged.apply(data, meta.get("alarm"))
        shown: dict[str, Any] = {"put": {}, "deleted": [], "cleared": False}
        if pending is not None:
            shown["cleared"] = pending.cleared
            for k, text in pending.puts.items():
                if text is None:
                    shown["deleted"].append(k)
                else:
                    shown["put"][k] = values.decode(text)
        return {
            "namespace": namespace,
            "id": oid.hex,
            "name": oid.name or meta.get("name"),
            "path": self.path(*key),
            "values": {k: data[k] for k in sorted(data)},
            "alarm": alarm,
            "checkpoint": {k: ckpt[k] for k in sorted(ckpt)},
            "checkpoint_saved_at": meta.get("saved_at"),
            "logged": {
                "cleared": logged.cleared,
                "put": {k: v for k, v in sorted(logged.puts.items()) if v is not DELETED},
                "deleted": sorted(k for k, v in logged.puts.items() if v is DELETED),
            },
            "pending": shown,
        }

    @property
    def held_count(self) -> int:
        """Objects with committed changes not yet in a durable checkpoint."""
        return len(self._held.keys() | self._writing.keys())

    @property
    def full(self) -> bool:
        """Whether ``MAX_HELD`` objects hold changes not yet checkpointed (a broken one's are not
        counted: no round can take them). The committer holds commits while it is. O(1)."""
        full = len(self._held) + len(self._writing) - len(self._broken) >= self.MAX_HELD
        if full:
            self.want()
        return full

    @property
    def pending(self) -> bool:
        return bool(self._held or self._writing)

    @property
    def broken(self) -> dict[Key, str]:
        return dict(self._broken)

    def drop_unneeded_segments(self, log_: Any) -> None:
        """(At close) Leave no empty preallocated segment; keep those holding what is not checkpointed."""
        try:
            log_.drop_segments([p for p in log_.segments() if not self.holds(p)])
        except OSError as exc:  # an empty segment left behind is harmless: the next start drops it
            log.warning("could not remove empty log segments at close: %s", exc)

    def holds(self, segment_path: str) -> bool:
        """Whether a log segment holds changes not yet in a durable checkpoint."""
        return self._ledger.holds(segment_path)

    def _has_work(self) -> bool:
        return any(k not in self._broken for k in self._held)

    # ------------------------------------------------------------ the checkpointer
    def want(self) -> None:
        """Ask for a checkpoint soon (after a hibernation, or when the log has grown)."""
        wanted = getattr(self, "_wanted", None)
        if wanted is not None:
            wanted.set()
            self._arrived.set()

    async def run(self) -> None:
        """The background checkpointer: when asked, or ``interval`` seconds after changes
        arrived. It never dies: a failure is reported and the round tried again with backoff.
        While nothing waits for a checkpoint it sets no timer, so idle time costs nothing
        (the testing kit's clock moves over a year in one step: docs/testing.md)."""
        delay = 0.0
        while True:
            if delay:
                await self._sleep(delay, wake_on_want=False)
            elif self._more:
                await asyncio.sleep(0)  # a full round left work behind: the next one at once
            else:
                await self._until_work()
                await self._sleep(self.interval, wake_on_want=True)
                await self._sleep(self.GATHER, wake_on_want=False)  # one round for a burst of requests
            if not self._has_work():
                delay = 0.0
                continue
            try:
                ok = await self._round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported; the loop goes on
                self._report_failure(f"checkpoint failed: {what(exc)}", [])
                ok = False
            delay = 0.0 if ok else min(self.BACKOFF_MAX, max(self.BACKOFF_BASE, delay * 2))

    async def _until_work(self) -> None:
        """Return once some committed change waits for a checkpoint (at once if one does)."""
        while not self._has_work():
            self._arrived.clear()
            await self._arrived.wait()

    async def _sleep(self, seconds: float, wake_on_want: bool) -> None:
        event = self._wanted if wake_on_want else asyncio.Event()
        clock = self._clock if wake_on_want else REAL
        timer = clock.call_later(self._loop, seconds, event.set)
        try:
            await event.wait()
        finally:
            timer.cancel()
        if wake_on_want:
            self._wanted.clear()

    async def checkpoint(self) -> bool:
        """Write every committed change into its object's checkpoint and delete the log
        segments that made redundant. True when nothing failed and nothing committed is
        left outside a durable checkpoint (a broken object's changes stay in the log)."""
        ok = await self._round()
        while ok and self._more:
            ok = await self._round()
        return ok and not self.pending

    async def _round(self) -> bool:
        """One checkpoint round; False when something failed that may pass (try again later)."""
        async with self._lock:
            if not self._has_work():
                return True
            try:
                old = await self._rotate()
            except Exception as exc:  # noqa: BLE001 - nothing was taken: nothing to give back
                self._report_failure(f"checkpoint failed: cannot start a new log segment: {what(exc)}", [])
                return False
            work, rows, snap = self._take_work(self.ROUND_OBJECTS)
            self._more = len(work) == self.ROUND_OBJECTS
            try:
                result = await self._loop.run_in_executor(self._io, self.writer.write, work, rows, snap)
            except BaseException as exc:
                self._settle(
                    work, rows, snap, RoundResult(failed={k: what(exc) for k in work}, index_error=what(exc)), []
                )
                raise
            deletable = self._settle(work, rows, snap, result, old)
            try:
                await self._loop.run_in_executor(self._io, remove_segments, deletable)
            except OSError as exc:  # they are replayed (harmlessly) at the next start
                log.warning("could not delete checkpointed log segments: %s", what(exc))
            try:  # the round is settled: no snapshot of the index is held until the next one
                await self._loop.run_in_executor(self._io, self.index.fold_log)
            except OSError as exc:  # the index's log stays valid, only longer: the next round tries again
                log.warning("could not fold the index's write-ahead log into it: %s", what(exc))
            return self._report(result, len(deletable))

    def _take_work(self, limit: int | None = None) -> tuple[dict[Key, tuple], list[list], list | None]:
        """(Loop) Move the held changes but a broken object's into the round, the oldest first:
        at most ``limit`` objects (all at start). O(objects taken + broken ones)."""
        work = {}
        keys = []
        for k in self._held:
            if k not in self._broken:
                keys.append(k)
                if len(keys) == limit:
                    break
        for key in keys:
            e = self.index.get(*key)
            work[key] = (self._held.pop(key), e.name if e else None, e.bytes if e else None)
        self._writing = {k: w[0] for k, w in work.items()}
        self._round_took = self._ledger.took()
        rows = self.index.take_changes()
        if self.index.wants_snapshot(len(rows)):
            return work, [], self.index.all_rows()
        return work, rows, None

    def _settle(
        self, work: dict[Key, tuple], rows: list, snap: list | None, result: RoundResult, old: list[str]
    ) -> list[str]:
        """(Loop) Give back what failed (under any newer changes); the segments now redundant."""
        self._writing = {}
        room = getattr(self, "room", None)
        if room is not None:
            room.set()
        for key in (*result.failed, *result.broken):
            delta = work[key][0]
            newer = self._held.get(key)
            if newer is not None:
                delta.merge(newer)
            self._held[key] = delta
        self._broken.update(result.broken)
        if result.index_error is not None:
            self.index.restore_changes(snap if snap is not None else rows)
        else:
            self.index.persisted(rows, snap)  # the index's rows are durable: they may leave memory
        return self._ledger.settle(result.written, self._round_took, result.index_error is None, old)

    def _report(self, result: RoundResult, removed: int) -> bool:
        """(Loop) Publish, count and log a round; True when nothing failed that may pass."""
        for key, reason in result.broken.items():
            self.counters["checkpoint_failures"] += 1
            log.error("checkpoint failed: %s/%s is broken, its changes stay in the log: %s", *key, reason)
            self._publish("checkpoint.failed", namespace=key[0], id=key[1], error=reason, broken=True)
            self._on_broken(key, reason)
        failed = dict(result.failed)
        if result.index_error is not None:
            failed[("index", "")] = f"writing the index: {result.index_error}"
        if failed:
            first = next(iter(failed.values()))
            self._report_failure(
                f"checkpoint failed for {len(failed)} object(s), kept in the log: {first}",
                [f"{ns}/{hx}" for ns, hx in list(failed)[:10]],
            )
            return False
        self.counters["checkpoints"] += 1
        self._publish("checkpoint.done", objects=len(result.written), segments_removed=removed, held=self.held_count)
        return True

    def _report_failure(self, message: str, objects: list[str]) -> None:
        self.counters["checkpoint_failures"] += 1
        log.warning("%s; retrying with backoff", message)
        self._publish("checkpoint.failed", error=message, objects=objects)

    # ------------------------------------------------------------ recovery
    def recover(self, log_) -> None:
        """(At start, before the log takes appends) Bring the checkpoints up to date with the
        log a crash left behind. A damaged log raises ``LogCorruptError`` before any file
        is changed; a torn last record is dropped (and cut off the segment if it is kept)."""
        scans = list(log_.records())
        if not self.index.load():
            if self.index.damage:
                log.warning("the index cannot be trusted (%s): rebuilding it from the checkpoints", self.index.damage)
            self.index.rebuild_from_files(self.data_dir, skip=tuple(RESERVED))
        for path, records, _, torn in scans:
            self._replay(path, records, torn)
        if not scans:
            return
        remove_stale_temporaries(self.data_dir)  # a crash mid-checkpoint may leave some (folder.py)
        work, rows, snap = self._take_work()
        result = self.writer.write(work, rows, snap)
        deletable = self._settle(work, rows, snap, result, [p for p, *_ in scans])
        last, _, good, torn = scans[-1]
        if torn and last not in deletable:
            disk.truncate(last, good)  # kept: it must not end in a torn record once it is not the last
        remove_segments(deletable)
        self._report(result, len(deletable))

    def _replay(self, path: str, records: list, torn: int) -> None:
        segment = segment_number(path)
        self.counters["torn_bytes_dropped"] += torn
        for t, objs in records:
            self.counters["recovered_records"] += 1
            for r in objs:
                key = (r.namespace, r.hex)
                self._held.setdefault(key, Delta()).merge(r.delta)
                self._ledger.changed(key, segment)
                e = self.index.ensure(r.namespace, r.hex, r.name)
                e.keys, e.bytes, e.last_active = r.keys, r.bytes, t
                if r.delta.alarm_changed:
                    e.alarm = r.delta.alarm
