"""The tour in the TUI: the lesson picker, the lesson's thread, its narration in the tour panel.

A lesson runs on a thread of its own (it waits on calls and on the learner),
so the screen and the refresh loop go on meanwhile; every change to a widget
is handed back to the UI thread. A lesson waits at each step until the learner
moves (→ next, ← back, space: auto, the lesson's own pace); what a step holds
(a suspended call, a held commit) stays held meanwhile, on the engine. The
panel goes away when the tour ends (T, or after the last lesson's verdict).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...tour import LESSONS, Check, Lesson, Pacing, Point, TourStopped, lesson_named, run_lesson
from ..screens.tour import STOP, TourScreen

if TYPE_CHECKING:
    from ..app import MainScreen

LAST_VERDICT = 20.0  # seconds the last lesson's verdict stays before the panel goes


class TuiNarrator:
    """A lesson's narration, drawn in the tour panel and pointed at on the main screen; it waits on ``pacing``."""

    def __init__(self, screen: MainScreen, pacing: Pacing):
        self.screen = screen
        self.pacing = pacing

    def _ui(self, fn, *args) -> None:
        if self.pacing.stopped:
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

    def pause(self, seconds: float) -> str:
        self._ui(self.screen.tour_panel.waiting, self.pacing.auto)
        return self.pacing.wait(seconds)


class TourController:
    """Which lesson runs, its thread, and what the learner's keys do to it (space, →, ←)."""

    def __init__(self, screen: MainScreen, first: str | None, dwell: float, auto: bool = False):
        self.screen = screen
        self.first = first  # a lesson to start once mounted (dotui tour)
        self.dwell = dwell  # how long each step stays up in auto mode, as a share of the lesson's own timing
        self.auto = auto  # lessons move on by themselves (space switches), else they wait at each step
        self.checks: list[tuple[str, list]] = []  # (lesson key, its checks) of every lesson run here
        self._pacing: Pacing | None = None
        self._next = 0
        self._hide_timer = None
        self._editing = 0  # lessons running that edit the objects folder themselves (Lesson.edits_objects)

    @property
    def edits_objects(self) -> bool:
        """A lesson is writing files of the objects folder and reloading them itself: the screen's
        reload on save leaves them alone (or its late reload would drain the lesson's object)."""
        return self._editing > 0

    def _edited(self) -> None:
        """(UI thread) A lesson that edits the objects folder has ended: its files, as it left them, are
        taken note of without a reload (the lesson reloaded them itself)."""
        self._editing -= 1
        self.screen.folder.changed()

    @property
    def running(self) -> bool:
        """A lesson runs, or its verdict is up (→ then starts the next one)."""
        return self.screen.tour_panel.display

    def mounted(self) -> None:
        if self.first is not None:
            self.start(self.first)

    def pick(self) -> None:
        def chosen(key: str | None) -> None:
            if key == STOP:
                self.stop()
            elif key is not None:
                self.start(key)
            self.screen.view.focus_table()

        running = self._pacing is not None and not self._pacing.stopped
        self.screen.app.push_screen(TourScreen(min(self._next, len(LESSONS) - 1), running), callback=chosen)

    def stop(self) -> None:
        """End the tour: the lesson stops (what it held is let go) and the panel goes away."""
        if self._pacing is not None:
            self._pacing.stop()
        self.screen.tour_panel.close()
        self.screen.view.focus_table()
        self.screen.refresh_bindings()

    def key(self, what: str) -> None:
        """space (auto on or off), → (the next step), ← (the step before) while the panel is up."""
        pacing = self._pacing
        if pacing is None or pacing.stopped:
            if what == "forward" and self._next < len(LESSONS):
                self.start(str(self._next + 1))  # after a lesson's verdict: the next lesson
            elif what == "back" and self.checks:
                self.start(self.checks[-1][0])  # its verdict: the lesson again
            return
        pacing.press(what)
        self.screen.tour_panel.waiting(pacing.auto, moving=what != "pause")

    def start(self, key: str) -> None:
        """Run lesson ``key`` (name or number) beside the objects it uses, stopping one already running."""
        lesson = lesson_named(key)
        if self._pacing is not None:
            self._pacing.stop()
        pacing = self._pacing = Pacing(auto=self.auto, dwell_scale=self.dwell)
        self._next = LESSONS.index(lesson) + 1
        if lesson.edits_objects:
            self._editing += 1
        self.screen.run_worker(lambda: self._thread(lesson, pacing), thread=True, group="tour", exit_on_error=False)

    def _thread(self, lesson: Lesson, pacing: Pacing) -> None:
        try:
            self._run(lesson, pacing)
        finally:
            if lesson.edits_objects:
                try:
                    self.screen.app.call_from_thread(self._edited)
                except RuntimeError:  # the app has ended: nothing left to watch
                    pass

    def _run(self, lesson: Lesson, pacing: Pacing) -> None:
        screen = self.screen
        narrator = TuiNarrator(screen, pacing)
        number = LESSONS.index(lesson) + 1
        try:
            checks = run_lesson(screen.facade, lesson, narrator, number, len(LESSONS))
        except TourStopped:
            return
        except Exception as exc:  # noqa: BLE001 - say it in the panel; the screen goes on
            if not pacing.stopped:
                screen.app.call_from_thread(
                    screen.tour_panel.finished, f"the lesson stopped: {type(exc).__name__}: {exc}", False
                )
            return
        true = sum(c.ok for c in checks)
        nxt = (
            f"→ lesson {number + 1}, {LESSONS[number].title} · ← this lesson again · T close"
            if number < len(LESSONS)
            else "the last lesson: t replays any · T close"
        )
        text = f"{true} of {len(checks)} claims checked out. {lesson.closing_for(screen.facade)}\n{nxt}"
        screen.app.call_from_thread(self._finished, lesson.key, checks, text, pacing)

    def _finished(self, key: str, checks: list, text: str, pacing: Pacing) -> None:
        """On the UI thread: say how the lesson went, then record it (so a recorded lesson is one on screen)."""
        if not pacing.stopped:
            pacing.stop()
            self.screen.tour_panel.finished(text, all(c.ok for c in checks))
            self.screen.kick(True)
            if self._next >= len(LESSONS):  # the tour's end: the panel goes once the verdict has been read
                self.screen.set_timer(LAST_VERDICT, lambda: self._close_if_done(pacing))
        self.checks.append((key, checks))

    def _close_if_done(self, pacing: Pacing) -> None:
        if self._pacing is pacing:
            self.stop()
