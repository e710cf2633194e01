"""One durable object: its state machine, its storage, its gates; the tasks it starts.

The instance owns its lifecycle: one method (``_become``) changes its state,
publishes the ``state`` event and tells the engine, through the small ``Host``
interface it was given (``host.py``); the engine never writes an instance's state.
Whether the object may hibernate is one rule (``may_hibernate``), and whoever waits
for that (``hibernate()``, ``close()``, a reload) waits on a future the instance
resolves, not on a timer. How it runs a call (the queue, the input gate, the
method, the output gate) is ``running.py``'s; the call itself is ``calls.py``'s.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import (
    BrokenObjectError,
    ObjectAbortedError,
    contained,
)
from ..history import error_fields
from ..ids import ObjectId
from ..rows import InstanceRow, live_row
from . import blocking, tasks
from .api import ObjectContext
from .callqueue import CallQueue
from .calls import Call, CallStatus, ConstructorCall, current_call, owner
from .gates import InputGate, OutputGate
from .host import IN_MEMORY, Host, State
from .running import CallRunner
from .sqlstorage import SqlStorage
from .storage import Storage

if TYPE_CHECKING:
    from ..loader import NamespaceInfo
    from ..rows import InstanceRow

__all__ = ["IN_MEMORY", "Call", "CallStatus", "Host", "Instance", "State", "current_call"]

log = logging.getLogger("dotui")


class Instance(CallRunner):
    """The engine's record of one object, live or not; its calls run as ``CallRunner`` runs them."""

    def __init__(self, host: Host, ns: NamespaceInfo, oid: ObjectId):
        self.host = host
        self.ns = ns
        self.id = oid
        self.key = (ns.name, oid.hex)
        self.state = State.HIBERNATED
        self.broken_reason: str | None = None  # set with State.BROKEN only
        self.obj: Any = None
        self.storage: Storage | SqlStorage | None = None
        self.ctx: ObjectContext | None = None
        self.input_gate = InputGate()
        self.output_gate = OutputGate(on_settled=self._settle)
        self.queue = CallQueue(host.max_queue)
        self.running: dict[int, Call] = {}
        entry = host.index.get(*self.key)
        # Counted over every wake: kept in the index while it sleeps (Host.released).
        self.calls = entry.calls if entry is not None else 0
        self.errors = entry.errors if entry is not None else 0
        self.last_active: float | None = None
        self._now = host.clock.now  # the engine's clock (clock.py): time.time itself by default
        self._waking: asyncio.Future | None = None  # resolved when the wake in progress ends
        self._blockers: list[asyncio.Task] = []  # the constructor's block_concurrency_while
        self._tasks: set[asyncio.Future] = set()  # started by the object's code, still pending
        self._idle_waiters: list[asyncio.Future] = []
        self._reload_to: tuple[NamespaceInfo | None, str] | None = None  # while DRAINING

    # ------------------------------------------------------------ events
    def emit(self, type: str, call: Call | None = None, **fields: Any) -> None:
        bus = self.host.bus
        if not bus.active:
            return
        if call is not None:
            fields.setdefault("call", call.seq)
            fields.setdefault("method", call.method)
            fields.setdefault("kind", call.kind)
        bus.publish(type, namespace=self.ns.name, id=self.id.hex, name=self.id.name, **fields)

    def _become(self, new: State, reason: str | None = None) -> None:
        """The one place the state changes: the ``state`` event, the engine told, idle waiters woken."""
        old = self.state
        self.broken_reason = reason if new is State.BROKEN else None
        if old is new:
            return
        self.state = new
        self.emit("state", old=old.value, new=new.value)
        self.host.on_state(self, old, new)
        if new not in IN_MEMORY:
            self._settle()

    # ------------------------------------------------------------ waking
    async def ensure_live(self) -> None:
        while self.state is not State.LIVE:
            if self.state is State.WAKING:
                assert self._waking is not None  # set for as long as the state is WAKING (wake)
                await asyncio.shield(self._waking)
                continue
            if self.state is State.DRAINING:
                await self.until_idle()
                continue
            await self.wake()

    async def wake(self) -> None:
        """Load storage, run the constructor; LIVE, or BROKEN with the reason raised."""
        loop = asyncio.get_running_loop()
        tasks.ensure_installed(loop, owner)
        self._waking = loop.create_future()
        self._become(State.WAKING)
        try:
            inflight = self.output_gate.inflight
            if inflight is not None and not inflight.done():
                # A reset object's last commit must land before we read durable state.
                await asyncio.wait([inflight])
            self._construct(*self.host.load_state(self))  # may raise BrokenObjectError
            if self._blockers:
                blockers, self._blockers = self._blockers, []
                await asyncio.gather(*blockers)
            self.last_active = self._now()
            self._become(State.LIVE)
        except asyncio.CancelledError:
            # The caller that was waking it stopped waiting: the object is not broken for that.
            self._drop()
            self._become(State.HIBERNATED)
            if self.queue.busy:
                self._spawn_wake()
            raise
        except BaseException as exc:  # a SystemExit too: object code cannot stop the engine
            self._drop()
            self._become(State.BROKEN, str(exc))
            self.queue.fail_all(exc if isinstance(exc, BrokenObjectError) else BrokenObjectError(str(exc)))
            error = contained(exc, f"{self.ns.name}.__init__")
            if error is not exc:  # a SystemExit (from a blocker it started) would stop the engine's loop
                raise BrokenObjectError(str(error)) from exc
            raise
        finally:
            w, self._waking = self._waking, None
            if not w.done():
                w.set_result(None)
            if self.state is not State.LIVE:
                self._settle()  # its failed wake may have been all that kept the record
        if self._reload_to is not None:  # reloaded while the constructor ran
            self._become(State.DRAINING)
            self._settle()
        self.pump()

    def _construct(self, data: Any, alarm: float | None) -> None:
        if self.ns.backend == "sqlite":  # data: (connection, path, history, restored) (docs/sqlite.md)
            conn, path, history, restored = data
            self.storage = SqlStorage(
                conn,
                path,
                history,
                alarm,
                on_write=self._on_write,
                wait_durable=self._wait_durable,
                has_alarm_handler=self.ns.has_alarm,
                on_lost=self.reset,
                restored=restored,
            )
        else:
            self.storage = Storage(
                data,
                alarm,
                on_write=self._on_write,
                wait_durable=self._wait_durable,
                has_alarm_handler=self.ns.has_alarm,
            )
        self.ctx = ObjectContext(self, self.storage)
        self._blockers = []
        # A context of its own, as each call's (_run): what it starts and calls is the object's,
        # and the ContextVars it sets stay with it.
        context = contextvars.Context()
        context.run(current_call.set, ConstructorCall(self))
        try:
            self.obj = context.run(self.ns.cls, self.ctx, self.host.env)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise BrokenObjectError(f"{self.ns.name}.__init__ raised {type(exc).__name__}: {exc}") from exc

    def _spawn_wake(self) -> None:
        asyncio.get_running_loop().create_task(self._rewake())

    async def _rewake(self) -> None:
        """Wake for the calls in the queue (while any wait: a record nothing waits on is left alone,
        as the engine may have forgotten it)."""
        try:
            while self.queue.busy and self.state is not State.LIVE:
                if self.state is State.WAKING:
                    assert self._waking is not None  # set for as long as the state is WAKING (wake)
                    await asyncio.shield(self._waking)
                elif self.state is State.DRAINING:
                    await self.until_idle()
                else:
                    await self.wake()
        except BaseException:  # noqa: BLE001 - the queued calls got the error
            pass

    # ------------------------------------------------------------ leaving memory
    def _quiet(self) -> bool:
        """Nothing runs, holds the gate, runs in a task it started, or is on its way to disk."""
        st = self.storage
        return (
            not self.running
            and self.input_gate.holder is None
            and not self._tasks
            and st is not None
            and not st
            and not self.output_gate.holding
        )

    def may_hibernate(self) -> bool:
        """The one rule for the sweeper, ``hibernate()`` and ``close()``: live, and idle."""
        return self.state is State.LIVE and not self.queue.busy and self._quiet()

    async def until_idle(self) -> None:
        """Return once the object may hibernate, or is not in memory any more."""
        loop = asyncio.get_running_loop()
        while self.state in IN_MEMORY and not self.may_hibernate():
            fut = loop.create_future()
            self._idle_waiters.append(fut)
            await fut

    def _settle(self) -> None:
        """Something that kept the object busy ended: finish a drain, wake who waits for idleness."""
        if self.state is State.DRAINING:
            if self._quiet():
                self._finish_drain()
            return
        if self._idle_waiters and (self.state not in IN_MEMORY or self.may_hibernate()):
            waiters, self._idle_waiters = self._idle_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)
        if self.detached():
            self.host.released(self)

    def detached(self) -> bool:
        """Out of memory (hibernated or broken) with nothing running, queued, waking, waited on,
        pending or on its way to disk: nothing would notice if this record were forgotten."""
        state = self.state
        return (
            (state is State.HIBERNATED or state is State.BROKEN)
            and not self.running
            and not self.queue.busy
            and self._waking is None
            and not self._idle_waiters
            and not self._tasks
            and not self.output_gate.holding
        )

    def hibernate(self) -> bool:
        """Drop the Python object if it may hibernate now: attributes go, storage and alarm stay."""
        if not self.may_hibernate():
            return False
        try:
            self._drop()
        finally:  # a release that failed still leaves it hibernated: the next call wakes it again
            self._become(State.HIBERNATED)
        return True

    def _drop(self) -> None:
        """Forget the Python object and cancel the tasks it started (a reset, or nothing is left);
        all of it even when the storage's release raises (then raised after)."""
        self.obj = None
        storage, self.storage = self.storage, None
        try:
            if storage is not None:
                storage.release()  # a SQLite-backed object's connection closes
        finally:
            self.ctx = None
            pending, self._tasks = self._tasks, set()
            for task in pending:
                task.cancel()

    def reset(self, error: BaseException) -> None:
        """Drop in-memory state and uncommitted writes; the next call starts from durable state.

        Every call still running on the dropped object fails with ``error`` (see ``_run``).
        """
        if self.state not in IN_MEMORY:
            return
        storage = self.storage
        if storage is not None:
            storage.close()
        self.output_gate.fail_pending(error)
        self.host.was_reset(self, error)
        for call in self.running.values():
            call.reset_error = error
        self._drop()
        self.input_gate.release()
        target = self._reload_to
        if target is not None:
            self._reload_to = None
            self.ns = target[0] or self.ns
        self._become(State.HIBERNATED)
        self.emit("reset", reason=str(error))
        if self.queue.busy:
            self._spawn_wake()

    # ------------------------------------------------------------ reload
    def reload(self, ns: NamespaceInfo | None, gone: str) -> None:
        """Run on reloaded code (``ns``; None: its class is gone, ``gone`` says why).

        Not in memory: at once. Live: DRAINING until its running calls and tasks end
        and its writes are durable; calls arriving meanwhile wait, then wake it on the new code.
        """
        if self.state is State.HIBERNATED or self.state is State.BROKEN:
            if ns is not None:
                self.ns = ns
            return
        self._reload_to = (ns, gone)
        if self.state is State.LIVE:
            self._become(State.DRAINING)
            self._settle()

    def _finish_drain(self) -> None:
        ns, gone = self._reload_to or (self.ns, "")
        self._reload_to = None
        self._drop()
        if ns is None:
            self._become(State.BROKEN, gone)
            self.queue.fail_all(BrokenObjectError(gone))
            return
        self.ns = ns
        self._become(State.HIBERNATED)
        if self.queue.busy:
            self._spawn_wake()

    # ------------------------------------------------------------ tasks the object started
    def track(self, task: asyncio.Future) -> None:
        """Keep the object in memory until ``task`` is done (``tasks.py``)."""
        if self.state is State.HIBERNATED or self.state is State.BROKEN or task.done():
            return
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def wait_until(self, awaitable: Any) -> None:
        self.track(asyncio.ensure_future(awaitable))

    def _task_done(self, task: asyncio.Future) -> None:
        if task not in self._tasks:
            return  # cancelled by a reset: the object it belonged to is gone
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.warning("a task started by %s %s failed: %s: %s", self.ns.name, self.label, type(exc).__name__, exc)
            self.emit("task.failed", error=error_fields(exc))
        self._settle()

    # ------------------------------------------------------------ storage hooks
    def _on_write(self) -> None:
        self.host.schedule_commit(self)

    def _wait_durable(self):
        w = self.output_gate.waiter(bool(self.storage))
        if w is None:
            return _done()
        return _await_future(w)

    @property
    def label(self) -> str:
        return self.id.name if self.id.name is not None else "#" + self.id.hex[:12]

    # ------------------------------------------------------------ input gate, ctx
    def block_concurrency_while(self, fn: Callable[[], Any]):
        """``ctx.block_concurrency_while(fn)``: no other event reaches the object until ``fn`` ends
        (blocking.py); in the constructor, the calls wait until it ends."""
        call = current_call.get()
        if self.state is State.WAKING and call is not None and call.kind == "init" and call.instance is self:
            task = asyncio.get_running_loop().create_task(blocking.held_while(self, None, fn))
            self._blockers.append(task)
            return task
        if call is None or self.running.get(call.seq) is not call:
            raise RuntimeError("block_concurrency_while must be called from inside one of this object's calls")
        return blocking.held_while(self, call, fn)

    def abort(self, reason: str, retry_alarm: bool = True) -> None:
        """Reset the object; the calls running on it fail with the error, caught or not (``_run``)."""
        err = ObjectAbortedError(f"{self.ns.name} {self.label} aborted: {reason}", retry_alarm=retry_alarm)
        self.reset(err)
        raise err

    @property
    def shown_state(self) -> str:
        """The state the front ends show: a draining object is live (it runs its last calls)."""
        return State.LIVE.value if self.state is State.DRAINING else self.state.value

    def describe(self) -> InstanceRow:
        """What the front ends show for this object (never wakes it): ``rows.live_row``."""
        return live_row(self)


async def _done() -> None:
    return None


async def _await_future(fut: asyncio.Future) -> None:
    await fut
