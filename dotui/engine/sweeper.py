"""The idle sweeper: hibernates each live object ``idle_timeout`` seconds after its last call.

One timer on the engine's clock (clock.py), set for the moment the earliest live object
has been idle long enough, and only while some object is in memory (``woke`` sets it when
the first comes to life), so an engine with nothing live has no timer at all. An object
that is still busy then (a task of its own, a commit on its way) is not polled: a task
waits until it is idle (``Instance.until_idle``) and sets the timer for it again. An
object that comes to life after the timer was set cannot be due before it: its idle time
starts later than every object's the timer was set for. So under the testing kit's clock,
objects hibernate at exactly the instant they would, in time order, and moving time costs
one timer per hibernation, not per second (docs/testing.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from .clock import Clock
from .events import EventBus
from .object.instance import Instance

log = logging.getLogger("dotui")


class IdleSweeper:
    """Hibernates idle objects of ``live``; ``evicted()`` is told after a sweep hibernated some."""

    def __init__(self, clock: Clock, idle_timeout: float, live: Mapping[Any, Instance], evicted: Callable[[], None]):
        self._clock = clock
        self.idle_timeout = idle_timeout
        self._live = live
        self._evicted = evicted
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer = None
        self._timer_due: float | None = None
        self._watching: dict[Instance, asyncio.Task] = {}  # busy past their timeout: swept once idle

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
        self._timer = self._timer_due = None
        self._loop = None
        for task in self._watching.values():
            task.cancel()
        self._watching.clear()

    def _arm(self, when: float) -> None:
        """Set the one timer for ``when``, unless it is set for no later. O(1)."""
        if self._loop is None or (self._timer is not None and self._timer_due <= when):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_due = self._clock.call_at(self._loop, when, self.sweep), when

    def sweep(self) -> None:
        """Hibernate every object idle for ``idle_timeout`` that may hibernate; set the next sweep
        for the earliest object still in memory that is not busy. O(live objects)."""
        self._timer = self._timer_due = None
        now = self._clock.now()
        idle = self.idle_timeout
        evicted = False
        soonest = None
        for inst in list(self._live.values()):
            due = (inst.last_active if inst.last_active is not None else now) + idle
            if due <= now:
                if inst.hibernate():
                    evicted = True
                elif inst not in self._watching:
                    self._watch(inst)
                continue
            if inst not in self._watching:
                soonest = due if soonest is None else min(soonest, due)
        if evicted:
            self._evicted()
        if soonest is not None:
            self._arm(soonest)

    def _watch(self, inst: Instance) -> None:
        """A busy object past its timeout is swept again when it is idle, not polled: under the
        testing kit's clock, polling would cost a timer per second it stays busy."""
        assert self._loop is not None
        self._watching[inst] = self._loop.create_task(self._when_idle(inst))

    async def _when_idle(self, inst: Instance) -> None:
        try:
            await inst.until_idle()
        finally:
            self._watching.pop(inst, None)
        if inst.key in self._live:
            last = inst.last_active if inst.last_active is not None else self._clock.now()
            self._arm(max(self._clock.now(), last + self.idle_timeout))


async def until_all_idle(live: Mapping[Any, Instance], timeout: float, bus: EventBus) -> None:
    """Let running calls, queued calls and the tasks of the objects in ``live`` (the engine's view)
    end, for ``timeout`` seconds; each one still live and busy then is said (a warning, a
    ``close.busy`` event). O(objects)."""
    loop = asyncio.get_running_loop()
    waits = [loop.create_task(inst.until_idle()) for inst in live.values()]
    if not waits:
        return
    done, pending = await asyncio.wait(waits, timeout=timeout)
    for w in pending:
        w.cancel()
    for inst in [i for i in live.values() if not i.may_hibernate()]:
        log.warning("closing with %s %s still busy: its running work ends with the engine", inst.ns.name, inst.label)
        bus.publish("close.busy", namespace=inst.ns.name, id=inst.id.hex, name=inst.id.name)
