"""The calls of one object waiting for their turn.

A call waits here while its object cannot take it yet: the object is waking or
draining for reloaded code, its input gate is held (``block_concurrency_while``,
a serial class's running call), or calls that came earlier are still waiting.
First in, first out, and let in one at a time: the head is *admitted* when the
input gate lets it in, and the call behind it waits until the admitted one has
started (run up to its first ``await``, or finished). So a call that takes the
gate as it starts keeps every later call out, as on Cloudflare, where three
``bump_blocked`` calls queued behind a fourth run one after the other (README,
"Semantics").
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import OverloadedError

if TYPE_CHECKING:
    from .calls import Call
    from .gates import InputGate


class CallQueue:
    __slots__ = ("_waiting", "admitted", "limit")

    def __init__(self, limit: int):
        self._waiting: deque[tuple[Call, asyncio.Future]] = deque()
        self.admitted: Call | None = None  # let in, not started yet: nobody else gets in before it
        self.limit = limit

    def __len__(self) -> int:
        return len(self._waiting)

    def __iter__(self) -> Iterator[Call]:
        return (call for call, fut in self._waiting if not fut.done())

    @property
    def busy(self) -> bool:
        """Whether a call is waiting or about to start: a newcomer must line up behind it."""
        return self.admitted is not None or bool(self._waiting)

    async def wait(self, call: Call, *, front: bool = False) -> None:
        """Line ``call`` up and return when it is admitted (``front``: it had been admitted already).

        Raises ``OverloadedError`` when ``limit`` calls are waiting already.
        """
        if not front and len(self._waiting) >= self.limit:
            raise OverloadedError()
        fut = asyncio.get_running_loop().create_future()
        if front:
            self._waiting.appendleft((call, fut))
        else:
            self._waiting.append((call, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if not fut.done():
                fut.cancel()  # left in place, skipped by admit()
            self.started(call)
            raise

    def admit(self, gate: InputGate, serial: bool, running: bool) -> bool:
        """Let the head in if its turn has come; whether one was let in."""
        if self.admitted is not None:
            return False
        waiting = self._waiting
        while waiting:
            call, fut = waiting[0]
            if fut.done():  # its caller stopped waiting
                waiting.popleft()
                continue
            if not gate.admits(call):
                return False
            if serial and gate.holder is None:
                if running:
                    return False
                gate.holder = call  # reserved: a serial class runs one call, start to finish
            waiting.popleft()
            self.admitted = call
            fut.set_result(None)
            return True
        return False

    def started(self, call: Call) -> bool:
        """``call`` has started (or gave up): the next may be let in. Whether it was the admitted one."""
        if self.admitted is call:
            self.admitted = None
            return True
        return False

    def fail_all(self, error: BaseException) -> None:
        """Every waiting call fails with ``error`` (the object could not be woken)."""
        while self._waiting:
            call, fut = self._waiting.popleft()
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # retrieved: the caller sees it when it resumes
