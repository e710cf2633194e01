"""The idle sweeper: hibernates each live object ``idle_timeout`` seconds after its last call.

One timer on the engine's clock (clock.py), set for the moment the earliest live object
has been idle long enough, and only while some object is in memory (``woke`` sets it when
the first comes to life), so an engine with nothing live has no timer at all; an object that is still busy then (a task of its own, a
commit on its way) is looked at again a little later. An object that comes to life
after the timer was set cannot be due before it: its idle time starts later than every
object's the timer was set for. So under the testing kit's clock, objects hibernate at
exactly the instant they would, in time order (docs/testing.md).
"""

from __future__ import annotations

import asyncio
from typing import Callable, Mapping

from .clock import Clock
from .instance import Instance


class IdleSweeper:
    """Hibernates idle objects of ``live``; ``evicted()`` is told after a sweep hibernated some."""

    def __init__(self, clock: Clock, idle_timeout: float, live: Mapping[object, Instance],
                 evicted: Callable[[], None]):
        self._clock = clock
        self.idle_timeout = idle_timeout
        self.recheck = max(0.01, min(1.0, idle_timeout / 4))  # a busy object is looked at again after this
        self._live = live
        self._evicted = evicted
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        if self._live:
            self._arm(self._clock.now() + self.idle_timeout)

    def woke(self) -> None:
        """An object came into memory: set the sweep for when it can first be idle long
        enough, unless one is set already (it is due no later). O(1)."""
        if self._timer is None:
            self._arm(self._clock.now() + self.idle_timeout)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._loop = None

    def _arm(self, when: float) -> None:
        if self._loop is not None:
            self._timer = self._clock.call_at(self._loop, when, self.sweep)

    def sweep(self) -> None:
        """Hibernate every object idle for ``idle_timeout`` that may hibernate; set the next sweep,
        if any object is left in memory. O(live objects)."""
        self._timer = None
        now = self._clock.now()
        idle = self.idle_timeout
        evicted = False
        soonest = now + idle
        for inst in list(self._live.values()):
            due = (inst.last_active if inst.last_active is not None else now) + idle
            if due <= now:
                if inst.hibernate():
                    evicted = True
                    continue
                due = now + self.recheck  # busy: look again soon
            soonest = min(soonest, due)
        if evicted:
            self._evicted()
        if self._live:
            self._arm(soonest)
