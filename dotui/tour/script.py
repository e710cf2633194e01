"""How a lesson is written and run: steps that say, do, point and check.

A ``Step`` shows ``say``, runs ``do`` (against the facade, through ``Run``),
then shows ``then`` (text made from what ``do`` saw) and checks that claim with
``check``. ``point`` names what on the screen shows it: an object (its row is
selected), a tab, and the line or key to look at. A ``Narrator`` renders all
of it: the TUI's tour panel, the REPL's printed lines, or ``--check``'s report.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..ops import EngineFacade


class TourStopped(Exception):
    """The learner stopped the lesson."""


@dataclass(frozen=True)
class Point:
    """What to look at: the object ``namespace/ref``, its ``tab``, and the thing there (``look``)."""

    namespace: str | None = None
    ref: str | None = None
    tab: str | None = None
    look: str = ""

    def describe(self) -> str:
        where = f"{self.namespace}/{self.ref}" if self.namespace and self.ref else ""
        tab = f"{self.tab.capitalize()} tab" if self.tab else ""
        return " · ".join(x for x in (where, tab, self.look) if x)


@dataclass(frozen=True)
class Check:
    """One narrated claim and whether the engine bore it out."""

    claim: str
    ok: bool
    problem: str = ""


@dataclass
class Step:
    say: str
    do: Callable[[Run], None] | None = None
    then: Callable[[Run], str] | str | None = None
    check: Callable[[Run], str | None] | None = None  # None when the claim holds, else what was seen instead
    point: Point | Callable[[Run], Point] | None = None  # a callable points after ``do``, at what it made
    dwell: float = 2.5  # seconds to read it, in the TUI and the REPL (0 under --check)


@dataclass
class Lesson:
    key: str
    title: str
    teaches: str
    objects: tuple[str, ...]
    steps: list[Step]
    closing: str = ""


class Narrator(Protocol):
    def lesson(self, lesson: Lesson, number: int, total: int) -> None: ...
    def step(self, number: int, total: int, text: str, point: Point | None) -> None: ...
    def result(self, text: str, check: Check | None) -> None: ...
    def progress(self, text: str) -> None: ...
    def pause(self, seconds: float) -> None: ...  # raises TourStopped when the learner stops the tour
    def point(self, point: Point) -> None: ...


@dataclass
class Run:
    """A lesson's scenario in progress: the facade, what it saw, and helpers for concurrent calls."""

    facade: EngineFacade
    narrator: Narrator
    seen: dict[str, Any] = field(default_factory=dict)

    def call(self, namespace: str, ref: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.facade.call(namespace, ref, method, list(args), kwargs)

    def at_once(self, calls: list[tuple[str, str, str, list]], timeout: float = 60.0) -> list[Any]:
        """Start every call before waiting for any; each answer, or the exception it raised, in order."""
        futures = [self.facade.call_async(ns, ref, m, list(a)) for ns, ref, m, a in calls]
        concurrent.futures.wait(futures, timeout)
        out: list[Any] = []
        for fut in futures:
            try:
                out.append(fut.result(0))
            except Exception as exc:  # noqa: BLE001 - a raised call is an answer the lesson reads
                out.append(exc)
        return out

    def countdown(self, text: Callable[[float], str], until: Callable[[], bool], limit: float) -> bool:
        """Show ``text(seconds left)`` every half second until ``until()``; False if ``limit`` passed first."""
        start = time.monotonic()
        while not until():
            left = limit - (time.monotonic() - start)
            if left <= 0:
                return False
            self.narrator.progress(text(left))
            time.sleep(0.25)
        return True


def run_lesson(facade: EngineFacade, lesson: Lesson, narrator: Narrator, number: int = 1,
               total: int = 1) -> list[Check]:
    """Run every step of ``lesson``; the checks of its narrated claims, in order."""
    run = Run(facade, narrator)
    checks: list[Check] = []
    narrator.lesson(lesson, number, total)
    for i, step in enumerate(lesson.steps, 1):
        point = step.point if isinstance(step.point, Point) else None
        narrator.step(i, len(lesson.steps), step.say, point)
        if point is not None:
            narrator.point(point)
        if step.do is not None:
            step.do(run)
        if callable(step.point):
            narrator.point(step.point(run))
        then = step.then(run) if callable(step.then) else step.then
        check = None
        if step.check is not None:
            problem = step.check(run)
            check = Check(then or step.say, problem is None, problem or "")
            checks.append(check)
        if then or check is not None:
            narrator.result(then or "", check)
        narrator.pause(step.dwell)
    return checks
