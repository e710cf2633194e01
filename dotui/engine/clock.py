"""The engine's one notion of time: "now", and a callback at a time.

Every unit that reads the time or waits for one asks the engine's clock: the alarm
scheduler (when an alarm is due, its retries' backoff), the idle sweeper (when an
object has been idle long enough), the checkpointer's interval, an instance's
timestamps (last active, call timings) and the committer's record time. ``Clock`` is
real time, the default. ``ManualClock`` moves only when told, which is what the
testing kit's ``clock.advance(seconds)`` drives (docs/testing.md): alarms fire and idle
objects hibernate at the instants they would, without sleeping.

Only the engine's own timers go through the clock; ``asyncio.sleep`` in an object's
code, and the backoff of disk retries, stay on real time. No timer is periodic for its own
sake: the idle sweeper is set only while objects are in memory, the checkpointer's interval
only while changes wait for a checkpoint, so a span of idle time costs nothing to move over.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable


class Clock:
    """Real time."""

    now = staticmethod(time.time)  # epoch seconds; the builtin itself, so reading it costs nothing more
    monotonic = staticmethod(time.monotonic)

    def call_at(self, loop: asyncio.AbstractEventLoop, when: float, callback: Callable[[], None]):
        """Run ``callback()`` on ``loop`` at epoch time ``when`` (at once if it is past); a handle
        with ``cancel()``."""
        return loop.call_at(loop.time() + max(0.0, when - time.time()), callback)

    def call_later(self, loop: asyncio.AbstractEventLoop, delay: float, callback: Callable[[], None]):
        return loop.call_later(delay, callback)


REAL = Clock()


class _Timer:
    __slots__ = ("when", "callback", "cancelled", "handle")

    def __init__(self, when: float, callback: Callable[[], None]):
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.handle: asyncio.Handle | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self.handle is not None:
            self.handle.cancel()


class ManualClock(Clock):
    """Time that stands still until ``step()`` moves it to the next timer.

    A callback set for a time already past runs soon on its loop, as with real time; the
    others wait in a heap until ``step(until)`` reaches them, and run synchronously, in
    time order, with ``now()`` set to their time.
    """

    def __init__(self, start: float | None = None):
        self._t = time.time() if start is None else float(start)
        self._origin = self._t
        self._heap: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self.fired = 0  # timers ``step`` has run: what moving time cost

    def now(self) -> float:
        return self._t

    def monotonic(self) -> float:
        return self._t - self._origin

    def call_at(self, loop: asyncio.AbstractEventLoop, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(when, callback)
        if when <= self._t:
            timer.handle = loop.call_soon(callback)
        else:
            heapq.heappush(self._heap, (when, next(self._seq), timer))
        return timer

    def call_later(self, loop: asyncio.AbstractEventLoop, delay: float, callback: Callable[[], None]) -> _Timer:
        return self.call_at(loop, self._t + max(0.0, delay), callback)

    def next_due(self) -> float | None:
        """When the earliest timer that is still set runs, or None."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def step(self, until: float) -> bool:
        """Run the earliest timer due by ``until`` (time moves to its instant); False if none is.
        O(log timers): moving time costs one step per timer due, whatever the span."""
        due = self.next_due()
        if due is None or due > until:
            return False
        _, _, timer = heapq.heappop(self._heap)
        self._t = max(self._t, due)
        timer.cancelled = True
        self.fired += 1
        timer.callback()
        return True

    def set(self, t: float) -> None:
        """Move time to ``t`` (never backwards) without running any timer."""
        self._t = max(self._t, float(t))

    def clear(self) -> None:
        """Forget every timer (a new engine sets its own)."""
        self._heap.clear()
