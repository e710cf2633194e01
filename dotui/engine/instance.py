"""One durable object: its state machine, its call queue, its gates.

A call runs in the caller's own task: that keeps a call to an idle object at
the cost of a function call plus the copies, and lets the output gate hold the
caller directly. Calls wait in the object's FIFO queue only while the input gate
keeps them out (``block_concurrency_while``, serial mode, waking).
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import itertools
import time
from collections import deque
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable

from . import values
from .api import AlarmInfo, ObjectContext
from .errors import (
    BrokenObjectError,
    ObjectAbortedError,
    ObjectResetError,
    OverloadedError,
)
from .gates import InputGate, OutputGate, describe_await
from .ids import ObjectId
from .storage import Storage

if TYPE_CHECKING:
    from .engine import Engine
    from .loader import NamespaceInfo


class State(enum.Enum):
    HIBERNATED = "hibernated"  # on disk only
    WAKING = "waking"  # storage loaded, constructor running, calls held
    LIVE = "live"
    BROKEN = "broken"  # constructor raised, file unreadable, or reset failed; next call retries


class CallStatus(str, enum.Enum):
    QUEUED = "queued"  # kept out by the input gate (or waiting for the object to wake)
    RUNNING = "running"
    SUSPENDED = "suspended"  # awaiting something other than storage; others may run
    HELD = "held"  # returned; the output gate holds the result until its writes are durable
    DONE = "done"
    FAILED = "failed"


_time = time.time
_SCALARS = values._SCALARS
_RUNNING = CallStatus.RUNNING
_DONE = CallStatus.DONE

current_call: ContextVar["Call | None"] = ContextVar("dotui_current_call", default=None)
_seq = itertools.count(1)


class Call:
    """One call (or alarm, or storage edit) on its way through an object."""

    __slots__ = (
        "seq", "kind", "method", "args", "kwargs", "chain", "status", "awaiting",
        "queued_at", "started_at", "returned_at", "ended_at", "result", "error", "fn", "instance",
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
        self.queued_at = time.time()
        self.started_at: float | None = None
        self.returned_at: float | None = None
        self.ended_at: float | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.fn = fn  # for kind "storage"/"alarm": fn(instance) -> result
        self.instance: "Instance | None" = None

    def describe(self) -> dict[str, Any]:
        out = {
            "seq": self.seq,
            "kind": self.kind,
            "method": self.method,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "status": self.status.value,
            "queued_at": self.queued_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }
        if self.awaiting:
            out["awaiting"] = self.awaiting
        if self.started_at is not None:
            out["queue_time"] = self.started_at - self.queued_at
        if self.returned_at is not None and self.started_at is not None:
            out["run_time"] = self.returned_at - self.started_at
        if self.ended_at is not None and self.returned_at is not None:
            out["held_time"] = self.ended_at - self.returned_at
        if self.status is CallStatus.DONE:
            out["result"] = self.result
        elif self.status is CallStatus.FAILED and self.error is not None:
            out["error"] = {"type": type(self.error).__name__, "message": str(self.error)}
        return out


class _Driven:
    """Steps a method's coroutine from its first suspension on, so the object knows
    when a call suspends and resumes.

    On resumption the input gate is consulted: while another call chain holds
    it (``block_concurrency_while``), this call stays suspended.
    """

    __slots__ = ("call", "coro", "instance", "it", "first")

    def __init__(self, instance: "Instance", call: Call, coro, it, first):
        self.instance = instance
        self.call = call
        self.coro = coro
        self.it = it  # coro.__await__(), already stepped once
        self.first = first  # what that first step yielded

    def __await__(self):
        call, inst, coro, it = self.call, self.instance, self.coro, self.it
        gate = inst.input_gate
        yielded = self.first
        while True:
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
                yielded = it.send(send) if exc is None else it.throw(exc)
            except StopIteration as stop:
                return stop.value


class Instance:
    """The engine's record of one object, live or not."""

    def __init__(self, engine: "Engine", ns: "NamespaceInfo", oid: ObjectId):
        self.engine = engine
        self.ns = ns
        self.id = oid
        self.key = (ns.name, oid.hex)
        self.state = State.HIBERNATED
        self.obj: Any = None
        self.storage: Storage | None = None
        self.ctx: ObjectContext | None = None
        self.input_gate = InputGate()
        self.output_gate = OutputGate()
        self.queue: deque[tuple[Call, asyncio.Future]] = deque()
        self.running: dict[int, Call] = {}
        self.history: deque[Call] = deque(maxlen=engine.history_size)
        self.calls = 0
        self.errors = 0
        self.last_active: float | None = None
        self.broken_reason: str | None = None
        self.stale_code = False  # reloaded: reset onto the new class once running calls end
        self.refreshing = False
        self.alarm_running = False
        self.admitted = 0  # let in by pump(), not yet running
        self._waking: asyncio.Future | None = None
        self._blockers: list[asyncio.Task] = []

    # ------------------------------------------------------------ events
    def emit(self, type: str, call: Call | None = None, **fields: Any) -> None:
        bus = self.engine.bus
        if not bus.active:
            return
        if call is not None:
            fields.setdefault("call", call.seq)
            fields.setdefault("method", call.method)
            fields.setdefault("kind", call.kind)
        bus.publish(type, namespace=self.ns.name, id=self.id.hex, name=self.id.name, **fields)

    def _set_state(self, state: State) -> None:
        if self.state is not state:
            old, self.state = self.state, state
            self.emit("state", old=old.value, new=state.value)

    # ------------------------------------------------------------ lifecycle
    async def ensure_live(self) -> None:
        while self.state is not State.LIVE:
            if self.state is State.WAKING:
                await asyncio.shield(self._waking)
                continue
            await self.wake()

    async def wake(self) -> None:
        """Load storage, run the constructor; LIVE, or BROKEN with the reason raised."""
        loop = asyncio.get_running_loop()
        self._waking = loop.create_future()
        self._set_state(State.WAKING)
        try:
            inflight = self.output_gate.inflight
            if inflight is not None and not inflight.done():
                # A reset object's last commit must land before we read durable state.
                await asyncio.wait([inflight])
            data, alarm = self.engine.load_state(self)  # may raise BrokenObjectError
            cls = self.ns.cls
            self.storage = Storage(
                data, alarm,
                on_write=self._on_write,
                wait_durable=self._wait_durable,
                has_alarm_handler=self.ns.has_alarm,
            )
            self.ctx = ObjectContext(self, self.storage)
            self._blockers = []
            try:
                self.obj = cls(self.ctx, self.engine.env)
            except Exception as exc:
                raise BrokenObjectError(
                    f"{self.ns.name}.__init__ raised {type(exc).__name__}: {exc}"
                ) from exc
            if self._blockers:
                blockers, self._blockers = self._blockers, []
                await asyncio.gather(*blockers)
            self.stale_code = False
            self.broken_reason = None
            self.last_active = time.time()
            self._set_state(State.LIVE)
            self.engine._on_live(self)
        except BaseException as exc:
            self.obj = None
            self.storage = None
            self.ctx = None
            self.broken_reason = str(exc)
            self._set_state(State.BROKEN)
            self._fail_queue(exc if isinstance(exc, BrokenObjectError) else BrokenObjectError(str(exc)))
            raise
        finally:
            w, self._waking = self._waking, None
            if not w.done():
                w.set_result(None)
        self.pump()

    def hibernate_now(self) -> None:
        """Drop the Python object: in-memory attributes go, storage and alarm stay."""
        assert not self.running and self.storage is not None and not self.storage
        self.obj = None
        self.storage = None
        self.ctx = None
        self._set_state(State.HIBERNATED)

    def reset(self, error: BaseException) -> None:
        """Drop in-memory state and uncommitted writes; the next call starts from durable state."""
        if self.state is not State.LIVE:
            return
        storage = self.storage
        if storage is not None:
            storage.drop_changes()
            storage._closed = True
        self.output_gate.fail_pending(error)
        self.engine._forget_dirty(self)
        self.obj = None
        self.storage = None
        self.ctx = None
        self.input_gate.release()
        self._set_state(State.HIBERNATED)
        self.emit("reset", reason=str(error))
        if self.queue:
            asyncio.get_running_loop().create_task(self._rewake())

    async def _rewake(self) -> None:
        try:
            await self.ensure_live()
        except BaseException:  # noqa: BLE001 - the queued calls got the error
            pass

    def _fail_queue(self, exc: BaseException) -> None:
        while self.queue:
            call, fut = self.queue.popleft()
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()

    @property
    def idle(self) -> bool:
        return not self.running and not self.queue and not self.admitted and not self.alarm_running

    # ------------------------------------------------------------ storage hooks
    def _on_write(self) -> None:
        self.engine._schedule_commit(self)

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
        if call is None or self.running.get(call.seq) is not call:
            if self.state is State.WAKING:
                task = asyncio.get_running_loop().create_task(self._blocked(None, fn))
                self._blockers.append(task)
                return task
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
            async with asyncio.timeout(self.engine.block_timeout):
                result = fn()
                if inspect.isawaitable(result):
                    result = await result
            return result
        except BaseException as exc:
            if isinstance(exc, TimeoutError):
                err = ObjectResetError(
                    f"block_concurrency_while ran past {self.engine.block_timeout:g} s; "
                    f"{self.ns.name} {self.label} was reset"
                )
            else:
                err = ObjectResetError(
                    f"block_concurrency_while raised {type(exc).__name__}: {exc}; "
                    f"{self.ns.name} {self.label} was reset"
                )
            gate.release(None)
            if self.state is State.LIVE:
                self.reset(err)
            if isinstance(exc, TimeoutError):
                raise err from exc
            raise
        finally:
            if gate.holder is (call if call is not None else _CONSTRUCTOR):
                gate.release(previous)
            self.emit("gate.released", call)
            if self.state is State.LIVE:
                self.pump()

    def abort(self, reason: str) -> None:
        err = ObjectAbortedError(f"{self.ns.name} {self.label} aborted: {reason}")
        self.reset(err)
        raise err

    # ------------------------------------------------------------ calls
    def pump(self) -> None:
        """Admit queued calls, in order, for as long as the input gate lets them in."""
        if self.state is not State.LIVE:
            return
        gate = self.input_gate
        serial = self.ns.mode == "serial"
        while self.queue:
            call, fut = self.queue[0]
            if fut.done():  # cancelled while waiting
                self.queue.popleft()
                continue
            if not gate.admits(call):
                return
            if serial and gate.holder is None:
                if self.running:
                    return
                gate.holder = call  # reserved: nobody else gets in before it runs
            self.queue.popleft()
            self.admitted += 1
            fut.set_result(None)

    def _must_queue(self, call: Call) -> bool:
        if self.state is not State.LIVE or self.stale_code:
            return True
        gate = self.input_gate
        if self.queue:
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
            self.engine._touch(self)
            if not self.queue:
                # Wake in the caller's task: without a blocking constructor this
                # completes before any other call can arrive and queue behind it.
                await self.wake()
        while self._must_queue(call):
            if len(self.queue) >= self.engine.max_queue:
                raise OverloadedError()
            fut = asyncio.get_running_loop().create_future()
            self.queue.append((call, fut))
            self.emit("call.queued", call, args=list(call.args), kwargs=dict(call.kwargs))
            if self.state is State.HIBERNATED or self.state is State.BROKEN:
                asyncio.get_running_loop().create_task(self._rewake())
            elif self.stale_code and not self.running:
                self.engine._refresh_code(self)
            try:
                await fut
            except asyncio.CancelledError:
                if not fut.done():
                    fut.cancel()
                else:
                    self.admitted -= 1
                self.pump()
                raise
            self.admitted -= 1
            if self.state is State.LIVE and not self.stale_code:
                break  # admitted (if the object was reset meanwhile, queue again)
        if self.ns.mode == "serial" and self.input_gate.holder is None:
            self.input_gate.holder = call
        return await self._run(call)

    async def _run(self, call: Call) -> Any:
        # The hot path of every call: kept flat on purpose (see bench/engine.py).
        call.started_at = now = _time()
        call.status = _RUNNING
        self.running[call.seq] = call
        self.calls += 1
        self.last_active = now
        storage = self.storage
        if self.engine.bus.active:
            self.emit("call.started", call)
        token = current_call.set(call)
        error: BaseException | None = None
        result: Any = None
        try:
            if call.fn is not None:
                result = call.fn(self)
            else:
                result = getattr(self.obj, call.method)(*call.args, **call.kwargs)
            kind = type(result)
            if kind not in _SCALARS or kind is float:
                if hasattr(result, "__await__"):
                    it = result.__await__()
                    try:
                        first = it.send(None)
                    except StopIteration as stop:
                        result = stop.value  # finished without awaiting anything: no stepping needed
                    else:
                        # It runs in the caller's task (so asyncio.timeout and TaskGroup
                        # inside a method work): cancelling the caller cancels the method at
                        # its current await, as with any coroutine. asyncio.shield() the call
                        # to let it finish regardless.
                        result = await _Driven(self, call, result, it, first)
                result = values.copy(result, "the result")
        except values.NotJSONCompatible as exc:
            error = self._bad_result(call, exc)
        except BaseException as exc:  # noqa: BLE001 - reaches the caller below
            error = exc
        finally:
            _reset(token)
            self._returned(call)
        return await self._finish(call, result, error, storage)

    def _bad_result(self, call: Call, exc: Exception) -> TypeError:
        return TypeError(f"{self.ns.name}.{call.method} returned a value that cannot cross the call boundary: {exc}")

    def _returned(self, call: Call) -> None:
        """The method is done: let the next calls in."""
        del self.running[call.seq]
        gate = self.input_gate
        if gate.holder is call:
            gate.release(None)
        if self.queue:
            self.pump()
        call.returned_at = call.ended_at = _time()

    async def _finish(self, call: Call, result: Any, error: BaseException | None, storage: Storage | None) -> Any:
        """The output gate, then the record: nothing leaves before the writes made before it are durable."""
        if storage is not None:
            w = self.output_gate.waiter(bool(storage))
            if w is not None:
                call.status = CallStatus.HELD
                if self.engine.bus.active:
                    self.emit("call.held", call)
                try:
                    await w
                except asyncio.CancelledError:
                    self._record(call, result, error)  # the caller stopped waiting; the commit goes on
                    raise
                except BaseException as exc:  # noqa: BLE001 - the commit failed
                    error = exc
                call.ended_at = _time()
        self._record(call, result, error)
        if error is not None:
            raise error
        return result

    def _record(self, call: Call, result: Any, error: BaseException | None) -> None:
        self.last_active = call.ended_at
        self.history.append(call)
        if error is not None:
            call.status = CallStatus.FAILED
            call.error = error
            self.errors += 1
        else:
            call.status = _DONE
            call.result = result
        if self.engine.bus.active:
            self._emit_finished(call)
        if self.stale_code and not self.running:
            self.engine._refresh_code(self)

    def _emit_finished(self, call: Call) -> None:
        fields = {"queue_time": call.started_at - call.queued_at, "run_time": call.returned_at - call.started_at}
        if call.error is not None:
            self.emit("call.finished", call, ok=False,
                      error={"type": type(call.error).__name__, "message": str(call.error)}, **fields)
        else:
            self.emit("call.finished", call, ok=True, result=call.result, **fields)

    def describe(self) -> dict[str, Any]:
        """What the front ends show for this object (never wakes it)."""
        st = self.storage
        entry = self.engine.index.get(*self.key)
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
            "state": self.state.value,
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
            "pending_writes": len(st._dirty) + (1 if st._alarm_dirty else 0) if st is not None else 0,
            "alarm": alarm,
            "broken": self.broken_reason,
        }


class _Constructor:
    seq = 0


_CONSTRUCTOR: Any = _Constructor()


def _reset(token) -> None:
    try:
        current_call.reset(token)
    except ValueError:
        pass  # a call torn down by the garbage collector, in another context: nothing to restore


async def _done() -> None:
    return None


async def _await_future(fut: asyncio.Future) -> None:
    await fut


def alarm_call(retry_count: int) -> Call:
    info = AlarmInfo(retry_count)

    def fire(inst: Instance):
        return inst.obj.alarm(info)

    return Call("alarm", "alarm", (), {"retry_count": retry_count}, (), fn=fire)
