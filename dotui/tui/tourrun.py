"""Running a lesson of the tour in the TUI: narration to the tour panel, pointing to the main screen.

The lesson runs on a thread of its own (it waits on calls and sleeps between
steps), so the screen and the refresh loop go on meanwhile; every change to a
widget is handed back to the UI thread.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from ..tour import Check, Lesson, Point, TourStopped

if TYPE_CHECKING:
    from .app import MainScreen


class TuiNarrator:
    def __init__(self, screen: MainScreen, stop: threading.Event, dwell_scale: float = 1.0):
        self.screen = screen
        self.stop = stop
        self.dwell_scale = dwell_scale

    def _ui(self, fn, *args) -> None:
        if self.stop.is_set():
            raise TourStopped()
        self.screen.app.call_from_thread(fn, *args)

    def lesson(self, lesson: Lesson, number: int, total: int) -> None:
        self._ui(self.screen.tour_panel.lesson, lesson, number, total)

    def step(self, number: int, total: int, text: str, point: Point | None) -> None:
        self._ui(self.screen.tour_panel.step, number, total, text)

    def result(self, text: str, check: Check | None) -> None:
        self._ui(self.screen.tour_panel.result, text, check)

    def progress(self, text: str) -> None:
        self._ui(self.screen.tour_panel.progress, text)

    def point(self, point: Point) -> None:
        self._ui(self.screen.tour_panel.point, point)
        key = None
        if point.namespace and point.ref:
            try:
                key = (point.namespace, self.screen.facade.resolve(point.namespace, point.ref)["id"])
            except Exception:  # noqa: BLE001 - an object not made yet: nothing to select
                key = None
        self._ui(self.screen.point_at, key, point.tab)

    def pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds * self.dwell_scale
        while time.monotonic() < deadline:
            if self.stop.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
                raise TourStopped()
        if self.stop.is_set():
            raise TourStopped()
