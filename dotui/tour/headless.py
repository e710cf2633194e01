"""The tour without a screen: ``dotui tour --check`` and the REPL's ``tour`` command.

``LineNarrator`` hands each line of narration to ``emit`` (the REPL prints it,
the check collects it). ``SteppingNarrator`` is the check's learner: it steps
each lesson forward one step at a time to its end, then back one step at a
time to its first, and keeps every claim checked on the way (``arrivals``), so
a claim that holds only when the lesson runs straight through fails the check.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..ops import EngineFacade
from .lessons import LESSONS
from .pacing import BACK, END, FORWARD
from .script import Check, Lesson, Point, run_lesson


class LineNarrator:
    """Narration as lines of text: ``emit(kind, text)`` with kind lesson, step, point, result, progress."""

    def __init__(
        self,
        emit: Callable[[str, str], None],
        dwell: bool = False,
        wait: Callable[[float], None] | None = None,
        prompt: bool = False,
    ):
        """``wait(seconds)`` paces the steps (``dwell`` uses time.sleep); ``prompt`` names the command that
        shows what a step points at, not a TUI tab (the REPL's ``tour``)."""
        self.emit = emit
        self.wait = wait if wait is not None else (time.sleep if dwell else None)
        self.prompt = prompt
        self._last_progress = ""

    def lesson(self, lesson: Lesson, number: int, total: int) -> None:
        self.emit("lesson", f"Lesson {number}/{total}: {lesson.title}. {lesson.teaches}")

    def step(self, number: int, total: int, text: str, point: Point | None) -> None:
        self.emit("step", f"[{number}/{total}] {text}")

    def point(self, point: Point) -> None:
        if self.prompt and point.command():
            self.emit("point", f"see it: {point.command()}" + (f"  ({point.look})" if point.look else ""))
        else:
            self.emit("point", f"look: {point.describe()}")

    def result(self, text: str, check: Check | None) -> None:
        mark = "" if check is None else ("✓ " if check.ok else "✗ ")
        self.emit("result", f"{mark}{text}" + (f"  (but saw: {check.problem})" if check and not check.ok else ""))

    def progress(self, text: str) -> None:
        if text != self._last_progress:
            self._last_progress = text
            self.emit("progress", text)

    def pause(self, seconds: float) -> str:
        if self.wait is not None:
            self.wait(seconds)
        return FORWARD


class SteppingNarrator(LineNarrator):
    """Steps every lesson forward to its last step, then back to its first; records each claim on arrival."""

    def __init__(self, emit: Callable[[str, str], None]):
        super().__init__(emit)
        self.arrivals: list[tuple[str, int, str, Check]] = []  # (lesson, step, "forward" or "back", its check)
        self._lesson = ""
        self._step = (0, 0)
        self._backwards = False

    def lesson(self, lesson: Lesson, number: int, total: int) -> None:
        if lesson.key != self._lesson:
            self._lesson, self._backwards = lesson.key, False
            super().lesson(lesson, number, total)
        else:
            self.emit("progress", f"stepped back: {lesson.key} runs again from its first step")

    def step(self, number: int, total: int, text: str, point: Point | None) -> None:
        self._step = (number, total)
        super().step(number, total, text + ("  (stepped back to)" if self._backwards else ""), point)

    def result(self, text: str, check: Check | None) -> None:
        if check is not None:
            self.arrivals.append((self._lesson, self._step[0], BACK if self._backwards else FORWARD, check))
        super().result(text, check)

    def pause(self, seconds: float) -> str:
        number, total = self._step
        if not self._backwards:
            if number < total:
                return FORWARD
            self._backwards = True
            return BACK  # from the last step (a lesson of one step runs it again)
        return BACK if number > 1 else END


def run_lessons(facade: EngineFacade, lessons: list[Lesson], narrator) -> list[tuple[Lesson, list[Check]]]:
    """Every lesson in turn; a lesson whose scenario raises counts as one failed check."""
    out = []
    for lesson in lessons:
        try:
            checks = run_lesson(facade, lesson, narrator, LESSONS.index(lesson) + 1, len(LESSONS))
        except Exception as exc:  # noqa: BLE001 - the report says which lesson broke and how
            checks = [Check(f"lesson {lesson.key} runs", False, f"{type(exc).__name__}: {exc}")]
            narrator.result(f"the lesson stopped: {type(exc).__name__}: {exc}", checks[0])
        out.append((lesson, checks))
    return out
