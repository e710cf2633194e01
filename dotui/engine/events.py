"""The event bus: what the engine did, for front ends to watch.

Publishing never blocks and never grows without bound: each subscriber has a
bounded buffer; when it is full the oldest event is dropped and the subscriber
is told, with the next event it reads, how many it lost.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any


class EventBuffer:
    """A bounded, lossy, thread-safe buffer of events: when full, the oldest goes,
    and the next read reports how many went (an ``events.lost`` event)."""

    def __init__(self, maxlen: int, predicate=None):
        self._buf: deque[dict] = deque()
        self.maxlen = maxlen
        self._predicate = predicate
        self._lock = threading.Lock()
        self.dropped = 0  # lost and not yet reported
        self.dropped_total = 0

    def push(self, event: dict) -> None:
        if self._predicate is not None and not self._predicate(event):
            return
        with self._lock:
            if len(self._buf) >= self.maxlen:
                self._buf.popleft()
                self.dropped += 1
                self.dropped_total += 1
            self._buf.append(event)

    def __len__(self) -> int:
        return len(self._buf)

    def count_lost(self, n: int) -> None:
        """Events lost before they reached this buffer (e.g. at a remote gateway)."""
        with self._lock:
            self.dropped += n
            self.dropped_total += n

    def close(self) -> None:
        """Stop receiving events; what is buffered can still be read. Every reader of a facade's
        ``subscribe()`` calls it when done (a subscription to the bus or to a gateway overrides it)."""

    def drain(self) -> list[dict]:
        """Every buffered event, oldest first; a loss is reported as an ``events.lost`` event first."""
        with self._lock:
            out = list(self._buf)
            self._buf.clear()
            lost, self.dropped = self.dropped, 0
        if lost:
            out.insert(0, {"type": "events.lost", "t": time.time(), "count": lost})
        return out

    def get_nowait(self) -> dict | None:
        with self._lock:
            if self.dropped:
                lost, self.dropped = self.dropped, 0
                return {"type": "events.lost", "t": time.time(), "count": lost}
            return self._buf.popleft() if self._buf else None


class Subscription(EventBuffer):
    """A bounded, lossy stream of events (dicts with at least ``type`` and ``t``).

    Safe to read from another thread with ``get_nowait``/``drain``; ``get`` awaits
    on the engine's loop.
    """

    def __init__(self, bus: EventBus, maxlen: int, predicate=None):
        super().__init__(maxlen, predicate)
        self._bus = bus
        self._waiter: asyncio.Future | None = None
        self.closed = False

    def push(self, event: dict) -> None:
        super().push(event)
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def get(self) -> dict:
        while True:
            ev = self.get_nowait()
            if ev is not None:
                return ev
            if self.closed:
                raise EOFError("subscription closed")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __aiter__(self):
        return self

    async def __anext__(self) -> dict:
        try:
            return await self.get()
        except EOFError:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self.closed = True
        self._bus._remove(self)
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)


MAX_BUFFERED = 100_000  # the largest buffer a subscriber may ask for (``maxlen``), in events


class EventBus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self.active = False  # publishers check this before building an event

    @property
    def buffered(self) -> int:
        """Events waiting in every subscriber's buffer (each at most its ``maxlen``)."""
        return sum(len(s) for s in self._subs)

    def subscribe(self, maxlen: int = 10_000, predicate=None) -> Subscription:
        """A new subscriber with a buffer of ``maxlen`` events (1 to MAX_BUFFERED; ValueError else)."""
        if type(maxlen) is not int or not 1 <= maxlen <= MAX_BUFFERED:
            raise ValueError(f"an event buffer holds 1 to {MAX_BUFFERED:,} events; got maxlen={maxlen!r}")
        sub = Subscription(self, maxlen, predicate)
        self._subs = [*self._subs, sub]
        self.active = True
        return sub

    def _remove(self, sub: Subscription) -> None:
        self._subs = [s for s in self._subs if s is not sub]
        self.active = bool(self._subs)

    def publish(self, type: str, **fields: Any) -> None:
        event = {"type": type, "t": time.time(), **fields}
        for sub in self._subs:
            sub.push(event)

    def close(self) -> None:
        for sub in list(self._subs):
            sub.close()
