"""One durable object: its state machine, its call queue, its gates.

A call runs in the caller's own task: that keeps a call to an idle object at
the cost of a function call plus the copies, and lets the output gate hold the
caller directly. Calls wait in the object's FIFO queue (``callqueue.py``) only
while the input gate keeps them out (``block_concurrency_while``, serial mode)
or the object is waking or draining.

The instance owns its lifecycle: one method (``_become``) changes its state,
publishes the ``state`` event and tells the engine, through the small ``Host``
interface it was given; the engine never writes an instance's state. Whether
the object may hibernate is one rule (``may_hibernate``), and whoever waits for
that (``hibernate()``, ``close()``, a reload) waits on a future the instance
resolves, not on a timer.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import inspect
import itertools
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from .. import values
from ..errors import (
    BrokenObjectError,
    ObjectAbortedError,
    ObjectResetError,
    contained,
)
from ..history import error_fields, shown_args
from ..ids import ObjectId
from . import tasks
from .api import AlarmInfo, ObjectContext
from .callqueue import CallQueue
from .gates import InputGate, OutputGate, describe_await
from .sqlstorage import SqlStorage
from .storage import Storage

if TYPE_CHECKING:
    from ..clock import Clock
    from ..durability.index import Index
    from ..events import EventBus
    from ..history import CallHistory
    from ..loader import NamespaceInfo
    from .websockets import WebSockets

log = logging.getLogger("dotui")


class State(enum.Enum):
    HIBERNATED = "hibernated"  # on disk only
    WAKING = "waking"  # storage loaded, constructor running, calls held
    LIVE = "live"
    DRAINING = "draining"  # code reloaded: running calls end on the old class, new calls wait for the new
    BROKEN = "broken"  # constructor raised, file unreadable, or its class is gone; next call retries


IN_MEMORY = (State.LIVE, State.DRAINING)  # a Python object exists: counted as live


class Host(Protocol):
    """What an instance needs from its engine, and how it tells the engine what happened."""

    bus: EventBus
    env: Any
    index: Index
    max_queue: int
    block_timeout: float
    call_history: CallHistory  # the engine's one history of finished calls (history.py)
    websockets: WebSockets  # the sockets the object accepted; ctx's WebSocket methods (websockets.py)
    clock: Clock  # the engine's one source of time (clock.py)

    def load_state(self, inst: Instance) -> tuple[dict[str, Any], float | None]:
        """The object's durable values and alarm (raises BrokenObjectError if unreadable)."""

    def schedule_commit(self, inst: Instance) -> None:
        """The object wrote: commit its writes soon."""

    def commit_if_alone(self) -> None:
        """A call's result waits on its writes: commit now if nothing else could join the group."""

    def was_reset(self, inst: Instance, error: BaseException) -> None:
        """The object was reset: its uncommitted writes are gone (commit nothing for it), and its
        WebSockets are dropped, as workerd drops a reset object's."""

    def touch(self, inst: Instance) -> Instance:
        """The object is about to wake (or exist, at its first call): list it. Returns the engine's
        record of it: ``inst``, unless ``inst`` was forgotten (``released``) and another replaced it."""

    def on_state(self, inst: Instance, old: State, new: State) -> None:
        """The object's state changed (the ``state`` event is published already)."""

    def released(self, inst: Instance) -> None:
        """The object is out of memory and nothing runs, waits or is on its way to disk for it
        (``Instance.detached``): the engine may forget this record; its index entry remains."""


class CallStatus(str, enum.Enum):
    QUEUED = "queued"  # kept out by the input gate (or waiting for the object to wake)
    RUNNING = "running"
    SUSPENDED = "suspended"  # awaiting something other than storage; others may run
    HELD = "held"  # returned; the output gate holds the result until its writes are durable
    DONE = "done"
    FAILED = "failed"


_SCALARS = values.SCALARS
_RUNNING = CallStatus.RUNNING
_DONE = CallStatus.DONE

current_call: ContextVar[Call | None] = ContextVar("dotui_current_call", default=None)
_seq = itertools.count(1)


class Call:
    """One call (or alarm, or storage edit) on its way through an object."""

    __slots__ = (
        "seq", "kind", "method", "args", "kwargs", "chain", "status", "awaiting",
        "queued_at", "started_at", "returned_at", "ended_at", "result", "error", "fn", "instance",
        "reset_error", "kept_bytes",
    )

    def __init__(self, kind: str, method: str, args: tuple, kwargs: dict, chain: tuple, fn=None):
        self.seq = next(_seq)
        self.kind = kind  # "call" | "alarm" | "storage"
        self.method = method
        self.args = args
        self.kwargs = kwargs
        self.chain = chain  # seqs of the calls this one was made from
        self.status = CallStatus.QUEUED
        self.awaiting: str | None = None
        self.queued_at: float | None = None  # when it began to wait (Instance.invoke); None: it started at once
        self.started_at: float | None = None
        self.returned_at: float | None = None
        self.ended_at: float | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.fn = fn  # for kind "storage"/"alarm": fn(instance) -> result
        self.instance: Instance | None = None
        self.reset_error: BaseException | None = None  # its object was reset while it ran

    @property
    def shown_state(self) -> str:
        """The state the front ends show: a draining object is live (it runs its last calls)."""
        return State.LIVE.value if self.state is State.DRAINING else self.state.value

    def describe(self) -> dict[str, Any]:
        out = {
            "seq": self.seq,
            "kind": self.kind,
            "method": self.method,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "status": self.status.value,
            "queued_at": self.queued_at if self.queued_at is not None else self.started_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }
        if self.awaiting:
            out["awaiting"] = self.awaiting
        if self.started_at is not None:
            out["queue_time"] = 0.0 if self.queued_at is None else self.started_at - self.queued_at
        if self.returned_at is not None and self.started_at is not None:
            out["run_time"] = self.returned_at - self.started_at
        if self.ended_at is not None and self.returned_at is not None:
            out["held_time"] = self.ended_at - self.returned_at
        if self.status is CallStatus.DONE:
            out["result"] = self.result
        elif self.status is CallStatus.FAILED and self.error is not None:
            out["error"] = error_fields(self.error)
        return out


class _Driven:
    """Steps a method's coroutine from its first suspension on, so the object knows
    when a call suspends and resumes.

    On resumption the input gate is consulted: while another call chain holds
    it (``block_concurrency_while``), this call stays suspended.
    """

    __slots__ = ("call", "coro", "instance", "it", "first", "context")

    def __init__(self, instance: Instance, call: Call, coro, it, first, context: contextvars.Context):
        self.instance = instance
        self.call = call
        self.coro = coro
        self.it = it  # coro.__await__(), already stepped once
        self.first = first  # what that first step yielded
        self.context = context  # the call's own (Instance._run): every step of the method runs in it

    def __await__(self):
        call, inst, coro, it = self.call, self.instance, self.coro, self.it
        run = self.context.run
        gate = inst.input_gate
        yielded = self.first
        while True:
            st = inst.storage
            if st is not None and st.in_transaction:  # the await raises instead (README, "Storage")
                try:
                    yielded = run(it.throw, st.await_error(call, coro, yielded))
                except StopIteration as stop:
                    return stop.value
                continue
            call.status = CallStatus.SUSPENDED
            call.awaiting = describe_await(coro)
            inst.emit("call.suspended", call, awaiting=call.awaiting)
            exc: BaseException | None = None
            send: Any = None
            try:
                send = yield yielded
            except BaseException as e:  # noqa: BLE001 - forwarded into the coroutine
                exc = e
            while exc is None and not gate.admits(call):
                call.awaiting = "input gate (block_concurrency_while)"
                try:
                    yield from gate.wait_open()
                except BaseException as e:  # noqa: BLE001
                    exc = e
            call.status = CallStatus.RUNNING
            call.awaiting = None
            inst.emit("call.resumed", call)
            try:
                yielded = run(it.send, send) if exc is None else run(it.throw, exc)
            except StopIteration as stop:
                return stop.value


class Instance:
    """The engine's record of one object, live or not."""

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
                await asyncio.shield(self._waking)
                continue
            if self.state is State.DRAINING:
                await self.until_idle()
                continue
            await self.wake()

    async def wake(self) -> None:
        """Load storage, run the constructor; LIVE, or BROKEN with the reason raised."""
        loop = asyncio.get_running_loop()
        tasks.ensure_installed(loop, _owner)
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
            self.storage = SqlStorage(conn, path, history, alarm, on_write=self._on_write,
                                      wait_durable=self._wait_durable, has_alarm_handler=self.ns.has_alarm,
                                      on_lost=self.reset, restored=restored)
        else:
            self.storage = Storage(
                data, alarm,
                on_write=self._on_write,
                wait_durable=self._wait_durable,
                has_alarm_handler=self.ns.has_alarm,
            )
        self.ctx = ObjectContext(self, self.storage)
        self._blockers = []
        # A context of its own, as each call's (_run): what it starts and calls is the object's,
        # and the ContextVars it sets stay with it.
        context = contextvars.Context()
        context.run(current_call.set, _ConstructorCall(self))
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
        return (not self.running and self.input_gate.holder is None and not self._tasks
                and st is not None and not st and not self.output_gate.holding)

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
        return ((state is State.HIBERNATED or state is State.BROKEN) and not self.running
                and not self.queue.busy and self._waking is None and not self._idle_waiters
                and not self._tasks and not self.output_gate.holding)

    def hibernate(self) -> bool:
        """Drop the Python object if it may hibernate now: attributes go, storage and alarm stay."""
        if not self.may_hibernate():
            return False
        self._drop()
        self._become(State.HIBERNATED)
        return True

    def _drop(self) -> None:
        """Forget the Python object and cancel the tasks it started (a reset, or nothing is left)."""
        self.obj = None
        if self.storage is not None:
            self.storage.release()  # a SQLite-backed object's connection closes
        self.storage = None
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
        call = current_call.get()
        if self.state is State.WAKING and call is not None and call.kind == "init" and call.instance is self:
            task = asyncio.get_running_loop().create_task(self._blocked(None, fn))
            self._blockers.append(task)
            return task
        if call is None or self.running.get(call.seq) is not call:
            raise RuntimeError("block_concurrency_while must be called from inside one of this object's calls")
        return self._blocked(call, fn)

    async def _blocked(self, call: Call | None, fn: Callable[[], Any]) -> Any:
        gate = self.input_gate
        while call is not None and not gate.admits(call):
            await gate.wait_open()
        previous = gate.holder
        gate.holder = call if call is not None else _CONSTRUCTOR
        self.emit("gate.blocked", call)
        try:
            async with asyncio.timeout(self.host.block_timeout):
                result = fn()
                if inspect.isawaitable(result):
                    result = await result
            return result
        except BaseException as exc:
            err = self._block_failed(exc)
            gate.release(None)
            if self.state in IN_MEMORY:
                self.reset(err)
            if isinstance(exc, TimeoutError):
                raise err from exc
            raise
        finally:
            if gate.holder is (call if call is not None else _CONSTRUCTOR):
                gate.release(previous)
            self.emit("gate.released", call)
            self.pump()

    def _block_failed(self, exc: BaseException) -> ObjectResetError:
        if isinstance(exc, TimeoutError):
            what = f"ran past {self.host.block_timeout:g} s"
        else:
            what = f"raised {type(exc).__name__}: {exc}"
        return ObjectResetError(f"block_concurrency_while {what}; {self.ns.name} {self.label} was reset")

    def abort(self, reason: str, retry_alarm: bool = True) -> None:
        """Reset the object; the calls running on it fail with the error, caught or not (``_run``)."""
        err = ObjectAbortedError(f"{self.ns.name} {self.label} aborted: {reason}")
        err.retry_alarm = retry_alarm  # read by the alarm scheduler (alarms.py) when alarm() aborted
        self.reset(err)
        raise err

    # ------------------------------------------------------------ calls
    def pump(self) -> None:
        """Let the next queued call in, if the object is live and its input gate admits it."""
        if self.state is State.LIVE:
            self.queue.admit(self.input_gate, self.ns.mode == "serial", bool(self.running))

    def _must_queue(self, call: Call) -> bool:
        state = self.state
        if state is not State.LIVE:
            # A draining object still takes the calls its running calls make to it (A -> B -> A).
            return state is not State.DRAINING or not any(seq in self.running for seq in call.chain)
        gate = self.input_gate
        if self.queue.busy:
            return not (gate.holder is not None and gate.admits(call) and gate.holder is not call)
        if not gate.admits(call):
            return True
        if self.ns.mode == "serial" and gate.holder is None and self.running:
            return True
        return False

    async def invoke(self, call: Call) -> Any:
        """Run ``call`` when its turn comes; return its result once it is durable."""
        call.instance = self
        if self.state is State.HIBERNATED or self.state is State.BROKEN:
            current = self.host.touch(self)
            if current is not self:  # this record was forgotten while its caller held it
                return await current.invoke(call)
            call.queued_at = self._now()  # it waits for the wake
            if not self.queue.busy:
                # Wake in the caller's task: without a blocking constructor this
                # completes before any other call can arrive and queue behind it.
                await self.wake()
        front = False
        while self._must_queue(call):
            if self.state is State.HIBERNATED or self.state is State.BROKEN:
                self._spawn_wake()
            if call.queued_at is None:
                call.queued_at = self._now()
            if not front:
                if self.host.bus.active:
                    args, kwargs, _ = shown_args(call.args, call.kwargs)  # a big argument: a note of its size
                    self.emit("call.queued", call, args=list(args), kwargs=dict(kwargs))
            try:
                await self.queue.wait(call, front=front)
            except asyncio.CancelledError:
                self.pump()
                self._settle()
                raise
            if self.state is State.LIVE:
                break  # admitted; it starts now (if the object was reset meanwhile, wait again, first)
            self.queue.started(call)
            front = True
        if self.ns.mode == "serial" and self.input_gate.holder is None:
            self.input_gate.holder = call
        return await self._run(call)

    async def _run(self, call: Call) -> Any:
        # The hot path of every call: kept flat on purpose (see bench/engine.py).
        call.started_at = now = self._now()
        call.status = _RUNNING
        self.running[call.seq] = call
        self.calls += 1
        self.last_active = now
        storage = self.storage
        if self.host.bus.active:
            self.emit("call.started", call)
        # Each call runs in a context of its own, empty as a call from another process would find
        # it: no ContextVar its caller set reaches the method, and none the method sets reaches
        # its caller or the next call made in the same task (README, "Calls").
        context = contextvars.Context()
        run = context.run
        run(current_call.set, call)
        error: BaseException | None = None
        result: Any = None
        try:
            if call.fn is not None:
                result = run(call.fn, self)
            else:
                result = run(getattr(self.obj, call.method), *call.args, **call.kwargs)
            kind = type(result)
            if kind not in _SCALARS or kind is float:
                if hasattr(result, "__await__"):
                    it = result.__await__()
                    try:
                        first = run(it.send, None)
                    except StopIteration as stop:
                        result = stop.value  # finished without awaiting anything: no stepping needed
                    else:
                        if self.queue.started(call):
                            self.pump()  # it has started (and taken the gate, if it blocks): the next may
                        # It runs in the caller's task (so asyncio.timeout and TaskGroup
                        # inside a method work): cancelling the caller cancels the method at
                        # its current await, as with any coroutine. asyncio.shield() the call
                        # to let it finish regardless.
                        result = await _Driven(self, call, result, it, first, context)
                result = values.copy(result, "the result")
        except values.NotJSONCompatible as exc:
            error = self._bad_result(call, exc)
        except BaseException as exc:  # noqa: BLE001 - reaches the caller below
            error = contained(exc, f"{self.ns.name}.{call.method}")  # a SystemExit would stop the loop
        finally:
            self._returned(call)
        if call.reset_error is not None and (error is None or isinstance(call.reset_error, ObjectAbortedError)):
            error = call.reset_error  # its object is gone: no result of it may count, and abort cannot be caught
        return await self._finish(call, result, error, storage)

    def _bad_result(self, call: Call, exc: Exception) -> TypeError:
        return TypeError(f"{self.ns.name}.{call.method} returned a value that cannot cross the call boundary: {exc}")

    def _returned(self, call: Call) -> None:
        """The method is done: let the next calls in."""
        del self.running[call.seq]
        gate = self.input_gate
        if gate.holder is call:
            gate.release(None)
        queue = self.queue
        queue.started(call)
        if queue.busy:
            self.pump()
        call.returned_at = call.ended_at = self._now()

    async def _finish(self, call: Call, result: Any, error: BaseException | None, storage: Storage | None) -> Any:
        """The output gate, then the record: nothing leaves before the writes made before it are durable."""
        if storage is not None:
            w = self.output_gate.waiter(bool(storage))
            if w is not None:
                call.status = CallStatus.HELD
                if self.host.bus.active:
                    self.emit("call.held", call)
                if storage:
                    self.host.commit_if_alone()  # may settle ``w`` right here (then no wait)
                try:
                    await w
                except asyncio.CancelledError:
                    self._record(call, result, error)  # the caller stopped waiting; the commit goes on
                    raise
                except BaseException as exc:  # noqa: BLE001 - the commit failed
                    error = exc
                call.ended_at = self._now()
        self._record(call, result, error)
        if error is not None:
            raise error
        return result

    def _record(self, call: Call, result: Any, error: BaseException | None) -> None:
        self.last_active = call.ended_at
        if error is not None:
            call.status = CallStatus.FAILED
            call.error = error
            self.errors += 1
        else:
            call.status = _DONE
            call.result = result
        host = self.host
        host.call_history.add(self.key, call)  # made light to keep: its values as the event carries them
        if host.bus.active:
            self._emit_finished(call)
        if self._idle_waiters or self.state is not State.LIVE:
            self._settle()  # draining, or out of memory already (a reset): this call may have been the last

    def _emit_finished(self, call: Call) -> None:
        queued = call.queued_at
        fields = {"queue_time": 0.0 if queued is None else call.started_at - queued, "run_time": call.returned_at - call.started_at}
        if call.error is not None:
            self.emit("call.finished", call, ok=False, error=error_fields(call.error), **fields)
        else:
            self.emit("call.finished", call, ok=True, result=call.result, **fields)

    @property
    def shown_state(self) -> str:
        """The state the front ends show: a draining object is live (it runs its last calls)."""
        return State.LIVE.value if self.state is State.DRAINING else self.state.value

    def describe(self) -> dict[str, Any]:
        """What the front ends show for this object (never wakes it). A draining object shows as live."""
        st = self.storage
        entry = self.host.index.get(*self.key)
        running = list(self.running.values())
        if st is not None:
            keys, nbytes, alarm = st.key_count, st.byte_size, st.alarm_epoch
        elif entry is not None:
            keys, nbytes, alarm = entry.keys, entry.bytes, entry.alarm
        else:
            keys, nbytes, alarm = 0, 0, None
        return {
            "namespace": self.ns.name,
            "id": self.id.hex,
            "name": self.id.name,
            "state": self.shown_state,
            "busy": bool(running),
            "queued": len(self.queue),
            "running": [{"seq": c.seq, "method": c.method, "status": c.status.value, "awaiting": c.awaiting}
                        for c in running],
            "gate_held": self.input_gate.held,
            "output_held": self.output_gate.holding,
            "calls": self.calls,
            "errors": self.errors,
            "last_active": self.last_active if self.last_active is not None else (entry.last_active if entry else None),
            "keys": keys,
            "bytes": nbytes,
            "pending_writes": st.pending_count if st is not None else 0,
            "alarm": alarm,
            "broken": self.broken_reason,
        }


def _owner() -> Instance | None:
    """The object whose code is running now (for ``tasks.py``)."""
    call = current_call.get()
    return call.instance if call is not None else None


class _Constructor:
    seq = 0


class _ConstructorCall:
    """The constructor, as ``current_call`` while it runs: the tasks it starts are its object's.

    Not a ``Call``: it has no number, no record, no place in the queue.
    """

    __slots__ = ("instance",)
    seq = 0
    kind = "init"
    method = "__init__"
    chain: tuple = ()
    reset_error = None

    def __init__(self, instance: Instance):
        self.instance = instance


_CONSTRUCTOR: Any = _Constructor()


async def _done() -> None:
    return None


async def _await_future(fut: asyncio.Future) -> None:
    await fut


def alarm_call(retry_count: int) -> Call:
    info = AlarmInfo(retry_count)

    def fire(inst: Instance):
        return inst.obj.alarm(info)

    return Call("alarm", "alarm", (), {"retry_count": retry_count}, (), fn=fire)
