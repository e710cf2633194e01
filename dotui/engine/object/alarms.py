"""The alarm scheduler: fires each object's one alarm when it is due, at least once.

What a caller can rely on (the README's "Alarms" section says the same to object authors):

- An alarm fires once its time has come: the object is woken if it is hibernated, and
  ``alarm(info)`` runs through the object's own call queue and gates.
- Inside ``alarm()``, ``get_alarm()`` is None unless the handler sets a new alarm; the fired
  alarm is deleted for good only when the handler succeeds, so a crash or a failure
  fires it again.
- A handler that raises is retried with exponential backoff (``retry_base`` seconds,
  doubling, at most ``max_retries`` retries; ``info.retry_count``/``info.is_retry`` say
  which try it is); then the alarm is deleted. A new alarm the handler set replaces the
  retries of the old one, as on Cloudflare.
- Alarms that fell due while the engine was stopped fire when it starts; alarms survive
  ``reload()``: the scheduler asks the engine for the object (and its class) only when
  the alarm fires.
- One timer (the engine's clock, clock.py) waits for the earliest alarm; closing cancels it, so
  ``close()`` never waits on the scheduler. A failure of the scheduler itself is an
  ``alarm.error`` event, a ``stats()`` counter and a log line, and that alarm is tried
  again later.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable, Iterable

from ..clock import REAL, Clock
from ..events import EventBus
from ..history import cut
from .calls import Call, alarm_call
from .instance import Instance
from .storage import alarm_time as checked_alarm_time

log = logging.getLogger("dotui")

Key = tuple[str, str]  # (namespace, id hex)


class _Pending:
    """The next try of one object's alarm."""

    __slots__ = ("due", "retry", "alarm_time")

    def __init__(self, due: float, retry: int, alarm_time: float):
        self.due = due  # epoch seconds: when to try
        self.retry = retry  # 0 for the first try
        self.alarm_time = alarm_time  # the time the alarm was set to


class AlarmScheduler:
    """Every object's pending alarm, and the one timer that waits for the earliest.

    ``target(namespace, hex, alarm_time)`` is the engine's answer to "whose alarm is this?":
    the object to fire it on, or None when that alarm was replaced or deleted since, or its
    class is gone or has no ``alarm()``.
    """

    def __init__(
        self,
        target: Callable[[str, str, float], Instance | None],
        bus: EventBus,
        *,
        retry_base: float = 2.0,
        max_retries: int = 6,
        clock: Clock = REAL,
    ):
        self._target = target
        self._bus = bus
        self.retry_base = retry_base
        self.max_retries = max_retries
        self._clock = clock
        self._pending: dict[Key, _Pending] = {}
        self._heap: list[tuple[float, Key]] = []  # (due, key); entries no longer pending are skipped
        self._firing: dict[Key, asyncio.Task] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer = None  # the clock's handle
        self._timer_due: float | None = None
        self._closed = False
        self.counters = {
            "alarms_fired": 0,
            "alarms_retried": 0,
            "alarms_given_up": 0,
            "alarms_invalid": 0,
            "alarm_errors": 0,
        }

    # ------------------------------------------------------------ start, schedule, close
    def start(self, loop: asyncio.AbstractEventLoop, known: Iterable[tuple[str, str, float]] = ()) -> None:
        """Begin firing on ``loop``: ``known`` are the alarms on disk (overdue ones fire at once)."""
        self._loop = loop
        for ns, hx, t in known:
            self.schedule(ns, hx, t)
        self._arm()

    def schedule(self, namespace: str, hx: str, alarm_time: float) -> None:
        """An alarm set to ``alarm_time`` is durable: fire it when due (replacing the object's
        earlier one; the retries of the same alarm keep their count)."""
        key = (namespace, hx)
        try:
            t = checked_alarm_time(alarm_time)
        except (TypeError, ValueError) as exc:
            self._report("alarm.invalid", key, exc, "alarms_invalid")
            return
        old = self._pending.get(key)
        if old is not None and old.alarm_time == t:
            return
        self._put(key, _Pending(t, 0, t))

    def stop(self) -> None:
        """Fire nothing more (the engine is closing); alarms running now may finish."""
        self._closed = True
        self._cancel_timer()

    async def close(self) -> None:
        """Stop, and cancel the alarm handlers still running; their alarms stay on disk."""
        self.stop()
        tasks = list(self._firing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def pending_count(self) -> int:
        """Alarms waiting for their time (one per object that has one): what the scheduler holds."""
        return len(self._pending)

    @property
    def heap_size(self) -> int:
        """Entries in the timer heap: the pending alarms and those replaced not yet dropped (at most
        2 x pending + 1,024)."""
        return len(self._heap)

    # ------------------------------------------------------------ for the testing kit (docs/testing.md)
    def firing(self) -> list[asyncio.Task]:
        """The alarm handlers running now."""
        return list(self._firing.values())

    def pending_tries(self) -> list[tuple[str, str, float, int]]:
        """Every pending alarm try: (namespace, id hex, when, retry count), earliest first."""
        return sorted(((k[0], k[1], p.due, p.retry) for k, p in self._pending.items()), key=lambda r: r[2])

    async def fire_now(self, namespace: str, hx: str) -> tuple[str, str | None] | None:
        """Fire the object's pending alarm (or its next retry) now, whatever its time, and wait for
        the outcome (see ``_run``); None if it has no pending alarm (or its class has no alarm())."""
        key = (namespace, hx)
        task = self._firing.get(key)
        if task is None:
            p = self._pending.pop(key, None)
            if p is None:
                return None
            self._fire(key, p)
            task = self._firing.get(key)
            if task is None:
                return None
        return await asyncio.shield(task)

    # ------------------------------------------------------------ the timer
    def _put(self, key: Key, p: _Pending) -> None:
        self._pending[key] = p
        heap = self._heap
        heapq.heappush(heap, (p.due, key))
        if len(heap) > 2 * len(self._pending) + 1024:
            # Mostly alarms replaced before they fell due (an object moving its alarm on): keep the
            # current ones only. O(pending), once per as many replacements: the heap stays O(pending).
            self._heap = [(q.due, k) for k, q in self._pending.items()]
            heapq.heapify(self._heap)
        if self._timer_due is None or p.due < self._timer_due:
            self._arm()

    def _arm(self) -> None:
        """Set the one timer for the earliest pending alarm (if it is not set for it already)."""
        heap = self._heap
        while heap and not self._is_current(heap[0]):
            heapq.heappop(heap)
        if self._loop is None or self._closed:
            return
        if not heap:
            self._cancel_timer()
            return
        due = heap[0][0]
        if self._timer is not None and self._timer_due == due:
            return
        self._cancel_timer()
        self._timer = self._clock.call_at(self._loop, due, self._on_timer)
        self._timer_due = due

    def _is_current(self, entry: tuple[float, Key]) -> bool:
        p = self._pending.get(entry[1])
        return p is not None and p.due == entry[0]

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_due = None

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_due = None
        now = self._clock.now()
        heap = self._heap
        while heap and heap[0][0] <= now and not self._closed:
            due, key = heapq.heappop(heap)
            p = self._pending.get(key)
            if p is None or p.due != due or key in self._firing:
                continue  # replaced; or its handler runs now: it is pushed again when that ends
            del self._pending[key]
            try:
                self._fire(key, p)
            except Exception as exc:  # noqa: BLE001 - one alarm's trouble stops no other
                self._report("alarm.error", key, exc, "alarm_errors")
                self._retry_later(key, p.retry, p.alarm_time)
        self._arm()

    # ------------------------------------------------------------ firing
    def _fire(self, key: Key, p: _Pending) -> None:
        inst = self._target(key[0], key[1], p.alarm_time)
        if inst is None:
            return  # replaced, deleted, or its class is gone
        assert self._loop is not None
        self._firing[key] = self._loop.create_task(self._run(inst, key, p.retry, p.alarm_time))

    async def _run(self, inst: Instance, key: Key, retry: int, alarm_time: float) -> tuple[str, str | None]:
        """One try; its outcome: ("done" | "retry" | "gave_up" | "replaced" | "skipped" | "error", the error)."""
        try:
            return await self._try(inst, key, retry, alarm_time)
        except asyncio.CancelledError:
            raise  # closing: the alarm is still on disk
        except Exception as exc:  # noqa: BLE001 - the scheduler's own trouble: reported, tried again
            self._report("alarm.error", key, exc, "alarm_errors")
            self._retry_later(key, retry, alarm_time)
            return "error", f"{type(exc).__name__}: {exc}"
        finally:
            del self._firing[key]
            p = self._pending.get(key)
            if p is not None:  # set (or due) while the handler ran
                heapq.heappush(self._heap, (p.due, key))
            self._arm()

    async def _try(self, inst: Instance, key: Key, retry: int, alarm_time: float) -> tuple[str, str | None]:
        inst.emit("alarm.fired", retry_count=retry)
        self.counters["alarms_fired"] += 1
        call, ran = _settling_call(retry, alarm_time)
        try:
            await inst.invoke(call)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the handler failed (or the object could not wake)
            return await self._failed(inst, key, retry, alarm_time, exc), f"{type(exc).__name__}: {exc}"
        if not ran():
            return "skipped", None  # replaced or deleted since it fell due
        inst.emit("alarm.done", retry_count=retry)
        return "done", None

    async def _failed(self, inst: Instance, key: Key, retry: int, alarm_time: float, exc: Exception) -> str:
        newer = self._pending.get(key)
        if newer is not None and newer.alarm_time != alarm_time:
            return "replaced"  # the handler set a new alarm: that one replaces these retries
        error = cut(f"{type(exc).__name__}: {exc}")  # the handler's message may be any size
        if retry < self.max_retries and getattr(exc, "retry_alarm", True):  # ctx.abort(retry_alarm=False): dropped
            delay = self.retry_base * (2**retry)
            inst.emit("alarm.retry", retry_count=retry + 1, delay=delay, error=error)
            self.counters["alarms_retried"] += 1
            self._retry_later(key, retry, alarm_time, delay)
            return "retry"
        inst.emit("alarm.gave_up", retries=retry, error=error)
        self.counters["alarms_given_up"] += 1
        self._pending.pop(key, None)
        await self._delete(inst, key, alarm_time)
        return "gave_up"

    def _retry_later(self, key: Key, retry: int, alarm_time: float, delay: float | None = None) -> None:
        if self._closed:
            return  # it is on disk: it fires again at the next start
        if delay is None:
            delay = self.retry_base * (2 ** min(retry, self.max_retries))
        self._put(key, _Pending(self._clock.now() + delay, retry + 1, alarm_time))

    async def _delete(self, inst: Instance, key: Key, alarm_time: float) -> None:
        """After the last retry: delete the alarm, through the object's queue."""

        def delete(i: Instance) -> None:
            storage = i.storage
            assert storage is not None  # a call runs on an awake object
            if storage.alarm_epoch == alarm_time:
                storage.delete_alarm()

        try:
            await inst.invoke(Call("storage", "storage.delete_alarm", (), {}, (), fn=delete))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - it stays set, and fires again at the next start
            self._report("alarm.error", key, exc, "alarm_errors")

    def _report(self, kind: str, key: Key, exc: BaseException, counter: str) -> None:
        self.counters[counter] += 1
        error = cut(f"{type(exc).__name__}: {exc}")  # the handler's message may be any size
        log.error("%s of %s #%s: %s", kind, key[0], key[1][:12], error)
        self._bus.publish(kind, namespace=key[0], id=key[1], error=error)


def _settling_call(retry: int, alarm_time: float) -> tuple[Call, Callable[[], bool]]:
    """The call that runs ``alarm(info)``: it hides the fired alarm from ``get_alarm()`` while the
    handler runs, then deletes it (success) or sets it again for the retry (failure); and
    whether the handler ran (not if the alarm was replaced or deleted since it fell due)."""
    call = alarm_call(retry)
    handler = call.fn
    ran = False

    async def settle(inst: Instance) -> None:
        nonlocal ran
        storage = inst.storage
        assert storage is not None  # a call runs on an awake object
        if not storage.begin_fired_alarm(alarm_time):
            return
        ran = True
        try:
            result = handler(inst)
            if hasattr(result, "__await__"):
                await result
        except BaseException:
            storage.restore_fired_alarm(alarm_time)
            raise
        storage.clear_fired_alarm(alarm_time)

    call.fn = settle
    return call, lambda: ran
