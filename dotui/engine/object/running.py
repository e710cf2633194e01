"""Running a call on an object: admission through the queue and the input gate, the method,
the output gate, the record.

``CallRunner`` is the part of ``Instance`` (``instance.py``) that runs calls; it declares every
field and method of the instance it uses (below), and writes only the calls' own records and
the counters of calls. A call runs in the caller's own task: that keeps a call to an idle
object at the cost of a function call plus the copies, and lets the output gate hold the caller
directly. Calls wait in the object's FIFO queue (``callqueue.py``) only while the input gate
keeps them out (``block_concurrency_while``, serial mode) or the object is waking or draining.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import values
from ..errors import ObjectAbortedError, contained
from ..history import error_fields, shown_args
from .calls import Call, CallStatus, Driven, current_call
from .host import Host, State

if TYPE_CHECKING:
    from ..loader import NamespaceInfo
    from .callqueue import CallQueue
    from .gates import InputGate, OutputGate
    from .sqlstorage import SqlStorage
    from .storage import Storage

_SCALARS = values.SCALARS
_RUNNING = CallStatus.RUNNING
_DONE = CallStatus.DONE


class CallRunner:
    """How an object runs its calls (the instance's fields it reads are declared here)."""

    host: Host
    ns: NamespaceInfo
    key: tuple[str, str]
    state: State
    obj: Any
    storage: Storage | SqlStorage | None
    queue: CallQueue
    running: dict[int, Call]
    input_gate: InputGate
    output_gate: OutputGate
    calls: int
    errors: int
    last_active: float | None
    _now: Callable[[], float]
    _idle_waiters: list[asyncio.Future]

    def emit(self, type: str, call: Call | None = None, **fields: Any) -> None:
        raise NotImplementedError

    async def wake(self) -> None:
        raise NotImplementedError

    def _spawn_wake(self) -> None:
        raise NotImplementedError

    def _settle(self) -> None:
        raise NotImplementedError

    def pump(self) -> None:
        """Let the next queued call in, if the object is live and its input gate admits it."""
        if self.state is State.LIVE:
            serial = self.ns.mode == "serial"
            self.queue.admit(self.input_gate, serial, serial and self.runs_one())

    def runs_one(self) -> bool:
        """A call of this object runs (a serial class runs one at a time). A call still suspended on
        the object a reset dropped (``Call.reset_error``) does not count: it is that object's, and
        fails as it returns. O(running calls)."""
        return any(c.reset_error is None for c in self.running.values())

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
        if self.ns.mode == "serial" and gate.holder is None and self.runs_one():
            return True
        return False

    async def invoke(self, call: Call) -> Any:
        """Run ``call`` when its turn comes; return its result once it is durable."""
        call.instance = self  # type: ignore[assignment]  # CallRunner is always an Instance's part
        if self.state is State.HIBERNATED or self.state is State.BROKEN:
            current = self.host.touch(self)  # type: ignore[arg-type]  # CallRunner is always an Instance's part
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
                        result = await Driven(self, call, result, it, first, context)  # type: ignore[arg-type]  # CallRunner is always an Instance's part
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

    async def _finish(
        self, call: Call, result: Any, error: BaseException | None, storage: Storage | SqlStorage | None
    ) -> Any:
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
        queued, started, returned = call.queued_at, call.started_at or 0.0, call.returned_at or 0.0  # set by now
        fields = {
            "queue_time": 0.0 if queued is None else started - queued,
            "run_time": returned - started,
        }
        if call.error is not None:
            self.emit("call.finished", call, ok=False, error=error_fields(call.error), **fields)
        else:
            self.emit("call.finished", call, ok=True, result=call.result, **fields)
