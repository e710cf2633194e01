"""The committer: objects' writes become durable in groups, one log append and one fdatasync each.

An object that writes is scheduled; at the end of that loop iteration every
object written since the last commit goes into one record (group commit). The
record is appended to the commit log and fdatasynced either right there on the
loop (a fast disk: the hop to a thread would cost more than the sync) or on the
log's thread (a slow disk: calls go on meanwhile, and what they write forms the
next group). Both go through the same steps: take the batch (batch.py), append, settle.

Settling tells each object's output gate how its commit went. On success the
committed changes go to the durable state through ``CommitHost.committed``; on
failure every call waiting on the commit gets ``CommitFailedError`` and the
object is reset, to start again from its durable state (see the README's
"Semantics"). A failure is also an event (``commit.failed``), a ``stats()``
counter (``commit_failures``) and a log line (logger ``dotui``).

Starting a new log segment (``rotate()``, wanted by a checkpoint) happens
between two commits. When the disk refuses one, the log goes on in the current
segment, the failure is reported (event ``log.rotate_failed``, counter
``log_rotate_failures``, a log line) and the rotation is tried again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from ..clock import REAL, Clock
from ..errors import CommitFailedError
from ..events import EventBus
from ..loopinternals import ready_queue
from . import sqlfile
from .batch import Batch, delta_of, take_batch
from .commithost import Backlog, CommitHost
from .commitlog import CommitLog

if TYPE_CHECKING:
    from ..object.instance import Instance

log = logging.getLogger("dotui")
_current_task = asyncio.current_task  # given the loop, it costs no system call

# Below this average, the committer fdatasyncs on the loop instead of on a thread.
INLINE_SYNC_BELOW = 0.002
# A commit event names at most this many of the keys it wrote (``key_count`` says how many it
# wrote): an event's size stays bounded, whatever a commit holds (docs/trust.md, "Memory").
EVENT_KEYS = 32


class Committer:
    """Batches dirty objects, appends their changes to the commit log, fdatasyncs, settles.

    ``schedule(inst)`` after an object writes; ``forget(inst)`` when it is reset;
    ``flush()`` waits until everything scheduled is settled; ``rotate()`` starts
    a new log segment between commits. Runs on the engine's loop; ``io`` is the
    single-thread executor the slow path appends on.
    """

    INLINE_BUDGET = 0.002  # seconds of commits in callers' turns before the loop must turn (commit_if_alone)
    ROTATE_ATTEMPTS = 5  # tries of one rotate() call before it gives up and raises
    ROTATE_BACKOFF = 0.05  # seconds before the second try; doubles after each failure
    ROOM_WAIT = 1.0  # seconds a wait for the backlog to have room lasts before it looks again

    def __init__(
        self,
        log: CommitLog,
        host: CommitHost,
        bus: EventBus,
        loop: asyncio.AbstractEventLoop,
        io: Executor,
        *,
        full_at: int = 16 << 20,
        clock: Clock = REAL,
        backlog: Backlog | None = None,
    ):
        self.log = log
        self.full_at = full_at
        self._host = host
        self._bus = bus
        self._loop = loop
        self._io = io
        self._now = clock.now  # a record's time (clock.py)
        self._dirty: dict[Instance, None] = {}
        self._kick_scheduled = False
        self._kick_handle: asyncio.Handle | None = None
        self._kick_owner: asyncio.Task | None = None  # the task whose write scheduled it
        self._turned_at = 0.0  # loop.time() when the loop last ran a scheduled commit
        # The loop's queue of callbacks ready to run (CPython's asyncio keeps one); None where
        # a loop has no such queue, and then commit_if_alone() never commits early.
        self._ready = ready_queue(loop)
        self._task_busy = False  # the task is mid-commit or rotating: the loop must not commit too
        self._writing = False  # a batch is on its way to disk on the log's thread
        self._rotations: list[asyncio.Future] = []
        self._rotation_asked = asyncio.Event()
        self._backlog = backlog
        self._flushers: list[asyncio.Future] = []
        self._sync_ewma = 0.0  # seconds an append+fdatasync has been taking
        self._inline = log.inline_sync  # fdatasync on the loop: the log allows it and syncs are fast
        self._wake = asyncio.Event()
        self._context = contextvars.Context()
        self._task: asyncio.Task | None = None
        self._counters = {
            "commits": 0,
            "commit_bytes": 0,
            "commit_failures": 0,
            "log_rotations": 0,
            "log_rotate_failures": 0,
            "committer_errors": 0,
            "backlog_waits": 0,
        }

    # ------------------------------------------------------------ the engine's calls
    def start(self) -> None:
        self._task = self._loop.create_task(self._run(), name="dotui-committer")

    async def close(self) -> None:
        """Settle everything scheduled, then stop the task."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def abandon(self) -> None:
        """Stop at once, settling nothing (the engine crashed: crash.py); a commit on its way on
        the log's thread still ends there."""
        self._dirty.clear()
        if self._task is not None:
            self._task.cancel()

    def schedule(self, inst: Instance) -> None:
        """``inst`` has uncommitted writes: commit them at the end of this loop iteration."""
        self._dirty[inst] = None
        if not self._kick_scheduled:
            self._kick_scheduled = True
            # In a context of its own: not the first writer's (its current call), and
            # no copy of that context made for every commit.
            self._kick_handle = self._loop.call_soon(self._kick, context=self._context)
            self._kick_owner = _current_task(self._loop)

    def commit_if_alone(self) -> None:
        """Commit now, in the caller's turn, if this iteration's commit is all the loop has left to run.

        A call that wrote waits for the end-of-iteration commit. When that commit
        is the only callback ready, no other write can join its group, so waiting
        for it costs a turn of the loop (and the loop's poll for I/O, a system call)
        for nothing: a lone caller's every durable call. Concurrent callers are
        ready tasks, so they still share one commit.

        But a caller whose calls never wait never lets the loop poll: timers and
        other connections would wait for it to stop. So commits are made this way
        for at most ``INLINE_BUDGET`` seconds after the loop last turned; then one
        goes the usual way, and the loop gets its turn.

        The scheduled commit is taken off the ready queue. That is safe only when it
        was put there during the running step of the current task (then it is not
        part of the batch the loop is running now): the task that scheduled it must
        be the one asking.
        """
        ready, handle = self._ready, self._kick_handle
        if (
            self._kick_scheduled
            and ready is not None
            and len(ready) == 1
            and ready[0] is handle
            and self._kick_owner is not None
            and _current_task(self._loop) is self._kick_owner
            and self._loop.time() - self._turned_at < self.INLINE_BUDGET
        ):
            ready.clear()
            self._context.run(self._kick, True)

    def forget(self, inst: Instance) -> None:
        """``inst`` dropped its uncommitted writes (a reset): nothing of it to commit."""
        self._dirty.pop(inst, None)
        self._notify_idle()

    @property
    def pending(self) -> int:
        """How many objects have writes waiting for the next commit."""
        return len(self._dirty)

    async def flush(self) -> None:
        """Return when every write scheduled so far is settled (durable, or failed and reset)."""
        while self._dirty or self._writing:
            fut = self._loop.create_future()
            self._flushers.append(fut)
            await fut

    async def rotate(self) -> list[str]:
        """Start a new log segment between two commits; the segments that came before it.

        A failed try is reported and tried again with backoff while commits go on
        in the current segment; after ``ROTATE_ATTEMPTS`` tries the last error is
        raised (the caller tries again later).
        """
        delay = self.ROTATE_BACKOFF
        for attempt in range(1, self.ROTATE_ATTEMPTS + 1):
            fut = self._loop.create_future()
            self._rotations.append(fut)
            self._rotation_asked.set()
            self._wake.set()
            try:
                return await fut
            except Exception:
                if attempt == self.ROTATE_ATTEMPTS:
                    raise
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def stats(self) -> dict[str, int]:
        return dict(self._counters)

    # ------------------------------------------------------------ the two ways to a commit
    def _kick(self, inline: bool = False) -> None:
        """Commit what the calls of this loop iteration wrote (scheduled once per iteration).

        On a fast disk it commits right here, in one callback; otherwise, or
        while the task is mid-commit or a rotation is wanted, the task does it.
        ``inline``: run by ``commit_if_alone`` in a caller's turn, not by the loop.
        """
        self._kick_scheduled = False
        self._kick_owner = None
        if not inline:
            self._turned_at = self._loop.time()
        if (
            self._task_busy
            or self._rotations
            or not (self._inline and self.log.inline_sync)
            or (self._backlog is not None and self._backlog.full)
        ):
            self._wake.set()  # (inline_sync asked each time: a log may turn slow at run time)
            return
        batch = self._take_batch()
        if batch is not None:
            self._settle(batch, *self._append(batch))
        if self._flushers:
            self._notify_idle()

    async def _run(self) -> None:
        """The task: commits on the log's thread (slow disk), and rotations between commits."""
        while True:
            self._task_busy = False
            await self._wake.wait()
            self._wake.clear()
            self._task_busy = True
            try:
                await self._commit_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug here must not stop every commit
                self._report(
                    "committer_errors", "committer.error", exc, "the committer failed (<error>); it goes on in 0.1 s"
                )
                await asyncio.sleep(0.1)
                self._wake.set()

    async def _commit_once(self) -> None:
        if self._rotations:
            await self._rotate()
        if self._backlog is not None and self._backlog.full:
            await self._wait_for_room()
            self._wake.set()  # then round again: a rotation may be asked, or room made
            return
        batch = self._take_batch()
        if batch is not None:
            if self._inline and self.log.inline_sync:
                outcome = self._append(batch)
            else:
                self._writing = True
                try:
                    outcome = await self._loop.run_in_executor(self._io, self._append, batch)
                except Exception as exc:  # noqa: BLE001 - e.g. the executor is gone
                    outcome = (exc, 0.0)
                finally:
                    self._writing = False
            self._settle(batch, *outcome)
            if self._dirty:
                self._wake.set()  # written while this commit was on its way
        self._notify_idle()

    async def _wait_for_room(self) -> None:
        """While the backlog of committed changes not yet checkpointed is full, no commit is made:
        writers wait for a checkpoint round to settle (docs/trust.md, "Memory"). A rotation the
        round asks for is made meanwhile (the round needs it). Each wait at most ``ROOM_WAIT``."""
        backlog = self._backlog
        if backlog is None:
            return
        room = backlog.room
        room.clear()
        self._rotation_asked.clear()
        if not backlog.full or self._rotations:
            return
        self._counters["backlog_waits"] += 1
        waits = [asyncio.ensure_future(room.wait()), asyncio.ensure_future(self._rotation_asked.wait())]
        try:
            await asyncio.wait(waits, timeout=self.ROOM_WAIT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    # ------------------------------------------------------------ take, append, settle
    def _take_batch(self) -> Batch | None:
        """The changes of every object scheduled since the last one, in one record (batch.py)."""
        dirty, self._dirty = self._dirty, {}
        return take_batch(dirty, self._now, self._fail)

    def _append(self, batch: Batch) -> tuple[BaseException | None, float]:
        """(Loop or log thread) Append and fdatasync the batch's record, and fdatasync the
        SQLite-backed objects' ``wals`` meanwhile (all at once); (the error or None, seconds it
        took). Without ``log_sync`` the record is only written and the ``wals`` alone are
        fdatasynced: one fdatasync for a lone SQLite-backed object's commit, not two
        (docs/sqlite.md, "One fdatasync a commit")."""
        record, wals, log_sync = batch.record, batch.wals, batch.log_sync
        t0 = time.perf_counter()
        try:
            if wals and not log_sync:
                self.log.append(record, sync=False)
                sqlfile.sync_wals(wals)
            elif wals:  # the SQLite-backed objects' -wal fdatasyncs run while the log appends
                syncing = sqlfile.begin_wal_syncs(wals)
                try:
                    self.log.append(record)
                finally:
                    sqlfile.end_wal_syncs(syncing)
            else:
                self.log.append(record)
        except Exception as exc:  # noqa: BLE001 - every held result hears of it
            return exc, 0.0
        return None, time.perf_counter() - t0

    def _settle(self, batch: Batch, error: BaseException | None, seconds: float) -> None:
        if error is not None:
            self._report(
                "commit_failures",
                None,
                error,
                f"a commit of {len(batch.entries)} object(s) failed (<error>); "
                "their calls get CommitFailedError and the objects are reset",
            )
            for inst, _changes, fut, _keys, _size in batch.entries:
                self._fail(inst, fut, error)
            return
        ewma = self._sync_ewma = self._sync_ewma + (seconds - self._sync_ewma) * 0.1
        self._inline = ewma < INLINE_SYNC_BELOW and self.log.inline_sync
        counters = self._counters
        counters["commits"] += 1
        counters["commit_bytes"] += len(batch.record)
        publish = self._bus.active
        host, now = self._host, batch.now
        for inst, changes, fut, keys, size in batch.entries:
            try:
                host.committed(inst, delta_of(changes), keys, size, now)
            except Exception as exc:  # noqa: BLE001 - a bug: loud, and no answer left hanging
                self._report(
                    "committer_errors",
                    "committer.error",
                    exc,
                    f"the durable state refused a commit of {inst.ns.name} {inst.label} (<error>); the object is reset",
                )
                self._fail(inst, fut, exc)
                continue
            inst.output_gate.end_commit(fut, None)
            if publish:
                keys = sorted(changes.puts)
                inst.emit(
                    "commit",
                    keys=keys[:EVENT_KEYS],
                    key_count=len(keys),
                    cleared=changes.cleared,
                    alarm_changed=changes.alarm_changed,
                    record_bytes=len(batch.record),
                    objects=len(batch.entries),
                )
        if self.log.size >= self.full_at:
            host.log_full(self.log.size)

    def _fail(self, inst: Instance, fut: asyncio.Future, exc: BaseException) -> None:
        err = CommitFailedError(
            f"writes of {inst.ns.name} {inst.label} could not be made durable "
            f"({type(exc).__name__}: {exc}); the object was reset to its last durable state"
        )
        inst.output_gate.end_commit(fut, err)
        inst.reset(err)
        inst.emit("commit.failed", error=str(exc))

    def _notify_idle(self) -> None:
        if self._flushers and not self._dirty and not self._writing:
            flushers, self._flushers = self._flushers, []
            for f in flushers:
                if not f.done():
                    f.set_result(None)

    # ------------------------------------------------------------ log rotation
    async def _rotate(self) -> None:
        waiters, self._rotations = self._rotations, []
        old = self.log.segments()
        try:
            await self._loop.run_in_executor(self._io, self.log.open_new_segment)
        except Exception as exc:  # noqa: BLE001 - the current segment stays in use
            self._report(
                "log_rotate_failures",
                "log.rotate_failed",
                exc,
                f"could not start a new commit log segment in {self.log.folder} (<error>); "
                f"commits go on in segment {self.log.segment}, and it is tried again",
            )
            for w in waiters:
                if not w.done():
                    w.set_exception(exc)
                    w.exception()
            return
        self._counters["log_rotations"] += 1
        for w in waiters:
            if not w.done():
                w.set_result(old)

    def _report(self, counter: str, event: str | None, exc: BaseException, message: str) -> None:
        """A failure: a ``stats()`` counter, an event on the bus (unless the objects emit
        their own), a log line (``message``, its ``<error>`` replaced by the error)."""
        self._counters[counter] += 1
        text = f"{type(exc).__name__}: {exc}"
        if event is not None:
            self._bus.publish(event, error=text, folder=self.log.folder, segment=self.log.segment)
        log.error("%s", message.replace("<error>", text))
