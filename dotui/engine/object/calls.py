"""A call on its way through an object: its record (``Call``), its status, and its driver.

``Call`` is one call, alarm or storage edit, from the moment it is made until its answer
leaves (``Instance.invoke`` runs it, ``callqueue.py`` holds it while it waits, the front ends
show ``describe()``). ``Driven`` steps a method's coroutine once it has suspended, so the
object knows when a call suspends and resumes, and keeps it out while the input gate is held.
``current_call`` is the call whose code runs now (its task's context).
"""

from __future__ import annotations

import contextvars
import enum
import itertools
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..history import error_fields
from .api import AlarmInfo
from .gates import describe_await

if TYPE_CHECKING:
    from .instance import Instance


class CallStatus(str, enum.Enum):
    QUEUED = "queued"  # kept out by the input gate (or waiting for the object to wake)
    RUNNING = "running"
    SUSPENDED = "suspended"  # awaiting something other than storage; others may run
    HELD = "held"  # returned; the output gate holds the result until its writes are durable
    DONE = "done"
    FAILED = "failed"


# The code running now: a call, or an object's constructor (``ConstructorCall``, while it runs).
current_call: ContextVar[Call | ConstructorCall | None] = ContextVar("dotui_current_call", default=None)
_seq = itertools.count(1)


class Call:
    """One call (or alarm, or storage edit) on its way through an object."""

    __slots__ = (
        "seq",
        "kind",
        "method",
        "args",
        "kwargs",
        "chain",
        "status",
        "awaiting",
        "queued_at",
        "started_at",
        "returned_at",
        "ended_at",
        "result",
        "error",
        "fn",
        "instance",
        "reset_error",
        "kept_bytes",
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


class Driven:
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
                except BaseException as e:  # noqa: BLE001 - forwarded into the coroutine
                    exc = e
            call.status = CallStatus.RUNNING
            call.awaiting = None
            inst.emit("call.resumed", call)
            try:
                yielded = run(it.send, send) if exc is None else run(it.throw, exc)
            except StopIteration as stop:
                return stop.value


def owner() -> Instance | None:
    """The object whose code is running now (for ``tasks.py``)."""
    call = current_call.get()
    return call.instance if call is not None else None


class ConstructorCall:
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


def alarm_call(retry_count: int) -> Call:
    info = AlarmInfo(retry_count)

    def fire(inst: Instance):
        return inst.obj.alarm(info)

    return Call("alarm", "alarm", (), {"retry_count": retry_count}, (), fn=fire)
