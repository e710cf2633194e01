"""The tour in the TUI: the lesson picker, the lesson's thread, its narration in the tour panel.

A lesson runs on a thread of its own (it waits on calls and on the learner),
so the screen and the refresh loop go on meanwhile; every change to a widget
is handed back to the UI thread. The panel goes away when the tour ends.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ...tour import LESSONS, Check, Lesson, Point, TourStopped, lesson_named, run_lesson
from ..screens.tour import STOP, TourScreen

if TYPE_CHECKING:
    from ..app import MainScreen


class TuiNarrator:
    """A lesson's narration, drawn in the tour panel and pointed at on the main screen."""

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
        self._ui(self.screen.view.point_at, key, point.tab)

    def pause(self, seconds: float) -> None:
        if self.stop.wait(seconds * self.dwell_scale):
            raise TourStopped()


class TourController:
    """Which lesson runs, its thread, and what the learner's keys do to it."""

    def __init__(self, screen: MainScreen, first: str | None, dwell: float):
        self.screen = screen
        self.first = first  # a lesson to start once mounted (dotui tour)
        self.dwell = dwell  # how long each step stays up, as a share of the lesson's own timing
        self.checks: list[tuple[str, list]] = []  # (lesson key, its checks) of every lesson run here
        self._stop: threading.Event | None = None
        self._next = 0

    @property
    def running(self) -> bool:
        return self._stop is not None and not self._stop.is_set()

    def mounted(self) -> None:
        if self.first is not None:
            self.start(self.first)

    def pick(self) -> None:
        def chosen(key: str | None) -> None:
            if key == STOP:
                self.stop()
            elif key is not None:
                self.start(key)

        self.screen.app.push_screen(TourScreen(min(self._next, len(LESSONS) - 1), self.running), callback=chosen)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self.screen.tour_panel.finished("stopped. t: the lessons", True)

    def start(self, key: str) -> None:
        """Run lesson ``key`` (name or number) beside the objects it uses, stopping one already running."""
        lesson = lesson_named(key)
        if self._stop is not None:
            self._stop.set()
        stop = self._stop = threading.Event()
        self._next = LESSONS.index(lesson) + 1
        self.screen.run_worker(lambda: self._thread(lesson, stop), thread=True, group="tour", exit_on_error=False)

    def _thread(self, lesson: Lesson, stop: threading.Event) -> None:
        screen = self.screen
        narrator = TuiNarrator(screen, stop, self.dwell)
        number = LESSONS.index(lesson) + 1
        try:
            checks = run_lesson(screen.facade, lesson, narrator, number, len(LESSONS))
        except TourStopped:
            return
        except Exception as exc:  # noqa: BLE001 - say it in the panel; the screen goes on
            if not stop.is_set():
                screen.app.call_from_thread(screen.tour_panel.finished, f"the lesson stopped: {type(exc).__name__}: "
                                            f"{exc}", False)
            return
        held = sum(c.ok for c in checks)
        nxt = f"t: lesson {number + 1}, {LESSONS[number].title}" if number < len(LESSONS) else "t: replay any lesson"
        text = f"{held} of {len(checks)} claims held. {lesson.closing}  {nxt}"
        screen.app.call_from_thread(self._finished, lesson.key, checks, text, stop)

    def _finished(self, key: str, checks: list, text: str, stop: threading.Event) -> None:
        """On the UI thread: say how the lesson went, then record it (so a recorded lesson is one on screen)."""
        if not stop.is_set():
            self.screen.tour_panel.finished(text, all(c.ok for c in checks))
            self.screen.kick(True)
        self.checks.append((key, checks))

    def key(self, what: str) -> None:
        """space (pause), → (forward), ← (back) while a lesson runs."""
