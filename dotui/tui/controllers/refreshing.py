"""The main screen's refresh loop: poll the engine about four times a second, fold events, draw what changed.

``Refresh`` (refresh.py) decides what to ask and what an answer changed; this
controller runs it on the screen's poll lane, watches for an engine that does
not answer (the header names the method holding its thread) and ticks the
once-a-second work (relative times, sockets, the objects folder).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..refresh import Refresh
from ..snapshot import PollRequest, Snapshot, poll

if TYPE_CHECKING:
    from ..app import MainScreen

BUSY_AFTER = 0.5  # seconds without an answer before the header says the engine is busy (default)


class RefreshLoop:
    """Keeps one screen's view of the engine fresh; ``kick()`` refreshes now rather than at the next tick."""

    def __init__(self, screen: MainScreen, clock: Callable[[], float], interval: float, busy_after: float):
        self.screen = screen
        self.refresh = Refresh(clock)
        self.interval = interval
        self.busy_after = busy_after
        self.subscription: Any = None
        self.stopping = False
        self._since: float | None = None  # when the poll in flight was sent
        self._kick = asyncio.Event()
        facade, lanes = screen.facade, screen.lanes
        # Subscribe, then list every instance, while the app is still mounting: at 100,000
        # objects the listing is most of the first paint. Subscribed first, no event between
        # the two is lost.
        self._subscribed = lanes.act(facade.subscribe)
        req = self.refresh.request(None)
        self._prefetched: tuple[PollRequest, concurrent.futures.Future] | None = (
            req,
            lanes.poll(_after, self._subscribed, poll, facade, req),
        )

    def start(self) -> None:
        self.screen.run_worker(self._run(), group="refresh", exclusive=True, exit_on_error=False)

    def stop(self) -> None:
        self.stopping = True
        self._kick.set()

    def kick(self, full: bool = False, detail: bool = True, namespaces: bool = False) -> None:
        """Refresh now rather than at the next tick."""
        self.refresh.want(full=full, detail=detail, namespaces=namespaces)
        self._kick.set()

    async def _run(self) -> None:
        try:
            self.subscription = await asyncio.wrap_future(self._subscribed)
        except Exception as exc:  # noqa: BLE001 - the events only speed refreshes up: say so, list instead
            self.screen.notify(
                f"cannot watch the engine's events ({type(exc).__name__}: {exc}); "
                "the screen refreshes by listing instead",
                severity="warning",
            )
        while not self.stopping:
            try:
                await self._once()
            except Exception as exc:  # noqa: BLE001 - keep refreshing; say what failed
                self.screen.header.set_busy(f"refresh failed: {type(exc).__name__}: {exc}")
            self._kick.clear()
            try:
                await asyncio.wait_for(self._kick.wait(), self.interval)
            except TimeoutError:
                pass

    def drain(self) -> None:
        """Fold new events: touched objects, the call holding the engine, the Events tab."""
        if self.subscription is None:
            return
        events = self.subscription.drain()
        rows = self.refresh.rows.rows
        for i, ev in enumerate(events):
            kind = ev.get("type")
            if kind == "alarm.fired":
                self.screen.notify(
                    f"⏰ alarm of {ev.get('namespace')}/{ev.get('name') or '#' + ev.get('id', '')[:8]} "
                    "fired: alarm() runs, waking the object if it hibernated",
                    timeout=5,
                )
            elif kind == "state" and ev.get("old") == "hibernated" and (ev.get("namespace"), ev.get("id")) not in rows:
                events[i] = {**ev, "old": "new"}  # never listed: its first wake, not a return from hibernation
        folded = self.refresh.fold(events)
        if folded.shown_events:
            self.screen.object_view.events_view.append(folded.shown_events)

    def _request(self) -> PollRequest:
        tab = self.screen.object_view.active_tab if self.refresh.shown is not None else None
        return self.refresh.request(tab)

    async def _once(self) -> None:
        self.drain()
        if self._prefetched is not None:
            (req, fut), self._prefetched = self._prefetched, None
        else:
            req = self._request()
            fut = self.screen.lanes.poll(poll, self.screen.facade, req)
        self._since = time.monotonic()
        try:
            snap = await asyncio.wrap_future(fut)
        finally:
            self._since = None
        self.screen.header.set_busy(None)
        self._apply(snap, req)

    def _apply(self, snap: Snapshot, req: PollRequest) -> None:
        """Draw what one snapshot changed (``Refresh.apply`` decides what that is)."""
        screen = self.screen
        applied = self.refresh.apply(snap, req)
        if applied.busy is not None:
            screen.header.set_busy(applied.busy)
        if applied.new_load_errors:
            screen.notify(
                "\n".join(applied.new_load_errors),
                title="cannot load some of the objects folder",
                severity="error",
                timeout=10,
            )
        with screen.app.batch_update():
            screen.view.drew(applied)
            if applied.stats_changed:
                screen.header.set_stats(
                    self.refresh.stats,
                    self.refresh.rows.counts()["busy"],
                    list(self.refresh.rate.samples),
                    applied.rate,
                )
        if applied.listed is not None:
            screen.startup_gc.listed(applied.listed)
        elif snap.error is not None:
            screen.startup_gc.resume()

    def watchdog(self) -> None:
        """Four times a second: is the engine answering? If not, say which method holds it."""
        self.drain()
        since = self._since
        if since is None:
            return
        waited = time.monotonic() - since
        if waited < self.busy_after:
            return
        blocking = self.refresh.watch.blocking()
        if blocking is not None:
            held = max(0.0, self.screen.clock() - blocking.since)
            self.screen.header.set_busy(
                f"engine busy {held:.1f} s: {blocking.namespace}/{blocking.label}.{blocking.method} is blocking its "
                f"object (it has not awaited; every object shares the engine's thread). "
                f"Keys still work; figures resume when it returns."
            )
        else:
            self.screen.header.set_busy(f"engine busy: no answer for {waited:.1f} s; keys still work")


def _after(first: concurrent.futures.Future, fn: Callable[..., Any], *args: Any) -> Any:
    """(Lane thread) ``fn(*args)`` once ``first`` is done, whatever its outcome."""
    concurrent.futures.wait([first])
    return fn(*args)
