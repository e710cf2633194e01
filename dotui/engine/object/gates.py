"""The two gates of an object, after workerd's io-gate.

InputGate: decides which call may run (or resume) now. Open, any call may run
and calls interleave at awaits; held by a call (``block_concurrency_while``, or
every call of a serial class), only that call and the calls of its own call
chain (re-entry: A → B → A) get in.

OutputGate: holds results until the writes made before them are durable. It
hands out the future of the next commit of this object's writes, or of the
commit already in flight, and tells its owner (``on_settled``) when the last
commit on its way has ended, so nobody polls for an object's writes to land.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import Call


class InputGate:
    __slots__ = ("holder", "_waiters")

    def __init__(self) -> None:
        self.holder: Call | None = None
        self._waiters: list[asyncio.Future] = []

    def admits(self, call: Call) -> bool:
        h = self.holder
        return h is None or h is call or h.seq in call.chain

    @property
    def held(self) -> bool:
        return self.holder is not None

    def wait_open(self) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        return fut

    def release(self, holder: Call | None = None) -> None:
        self.holder = holder
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)


class OutputGate:
    __slots__ = ("_pending", "inflight", "_on_settled", "_loop")

    def __init__(self, on_settled: Callable[[], None] | None = None) -> None:
        self._pending: asyncio.Future | None = None  # the commit that will take the dirty writes
        self.inflight: asyncio.Future | None = None  # the commit on its way to disk
        self._on_settled = on_settled  # called when a commit ends and none is left pending
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop its futures belong to, once used

    def _future(self) -> asyncio.Future:
        # The loop is looked up once: asyncio.get_running_loop() costs a getpid() system call
        # each time, and every durable call makes a future here.
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        return loop.create_future()

    def waiter(self, has_uncommitted: bool) -> asyncio.Future | None:
        """What a result must wait for, or None when everything written is durable."""
        if has_uncommitted:
            if self._pending is None:
                self._pending = self._future()
            return self._pending
        f = self.inflight
        return f if f is not None and not f.done() else None

    def begin_commit(self) -> asyncio.Future:
        fut = self._pending or self._future()
        self._pending = None
        self.inflight = fut
        return fut

    def end_commit(self, fut: asyncio.Future, error: BaseException | None) -> None:
        if not fut.done():
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)
                fut.exception()  # retrieved: a result nobody waits for is not an error to log
        if self.inflight is fut:
            self.inflight = None
        if self._on_settled is not None and self._pending is None and self.inflight is None:
            self._on_settled()

    def fail_pending(self, error: BaseException) -> None:
        fut, self._pending = self._pending, None
        if fut is not None and not fut.done():
            fut.set_exception(error)
            fut.exception()

    @property
    def holding(self) -> bool:
        return (self._pending is not None) or (self.inflight is not None and not self.inflight.done())


def _stub_call(coro: Any) -> str | None:
    """``Account/bob.deposit`` for a call to another object through its stub (the engine's ``call``), else None."""
    frame = getattr(coro, "cr_frame", None)
    if frame is None or frame.f_globals.get("__name__") != "dotui.engine.engine" or frame.f_code.co_name != "call":
        return None
    scope = frame.f_locals
    namespace, oid, method = scope.get("namespace"), scope.get("oid"), scope.get("method")
    if not (isinstance(namespace, str) and isinstance(method, str) and hasattr(oid, "hex")):
        return None
    name = getattr(oid, "name", None)
    return f"{namespace}/{name if name is not None else '#' + oid.hex[:8]}.{method}"


def describe_await(coro: Any) -> str:
    """What a suspended coroutine is waiting on, for the UI: the innermost awaitable."""
    label = "?"
    seen = 0
    while coro is not None and seen < 50:
        seen += 1
        inner = getattr(coro, "cr_await", None)
        if inner is None:
            inner = getattr(coro, "gi_yieldfrom", None)
        if inner is None:
            break
        desc = getattr(inner, "dotui_label", None) or _stub_call(inner)
        if desc:
            return desc
        code = getattr(inner, "cr_code", None) or getattr(inner, "gi_code", None)
        if code is not None:
            label = code.co_qualname if hasattr(code, "co_qualname") else code.co_name
            mod = getattr(inner, "cr_frame", None)
            modname = mod.f_globals.get("__name__", "") if mod is not None else ""
            if modname.startswith("asyncio"):
                label = f"asyncio.{code.co_name}"
                return label
        else:
            label = type(inner).__name__
        coro = inner
    return label
