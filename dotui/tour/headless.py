"""The tour without a screen: ``dotui tour --check`` and the REPL's ``tour`` command.

``LineNarrator`` hands each line of narration to ``emit`` (the REPL prints it,
the check collects it); ``check_tour`` runs every lesson on a fresh engine and
reports each narrated claim with whether the engine bore it out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..ops import EngineFacade
from .lessons import LESSONS
from .script import Check, Lesson, Point, run_lesson


class LineNarrator:
    """Narration as lines of text: ``emit(kind, text)`` with kind lesson, step, point, result, progress."""

    def __init__(self, emit: Callable[[str, str], None], dwell: bool = False):
        self.emit = emit
        self.dwell = dwell
        self._last_progress = ""

    def lesson(self, lesson: Lesson, number: int, total: int) -> None:
        self.emit("lesson", f"Lesson {number}/{total}: {lesson.title}. {lesson.teaches}")

    def step(self, number: int, total: int, text: str, point: Point | None) -> None:
        self.emit("step", f"[{number}/{total}] {text}")

    def point(self, point: Point) -> None:
        self.emit("point", f"look: {point.describe()}")

    def result(self, text: str, check: Check | None) -> None:
        mark = "" if check is None else ("✓ " if check.ok else "✗ ")
        self.emit("result", f"{mark}{text}" + (f"  (but saw: {check.problem})" if check and not check.ok else ""))

    def progress(self, text: str) -> None:
        if text != self._last_progress:
            self._last_progress = text
            self.emit("progress", text)

    def pause(self, seconds: float) -> None:
        if self.dwell:
            time.sleep(seconds)


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
