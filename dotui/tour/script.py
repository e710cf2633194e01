"""How a lesson is written and run: steps that say, do, point, check, and hold what they show.

A ``Step`` shows ``say``, runs ``do`` (against the facade, through ``Run``),
then shows ``then`` (text made from what ``do`` saw) and checks that claim with
``check``. ``point`` names what on the screen shows it: an object (its row is
selected), a tab, and the line or key to look at. A step whose state matters
(a call suspended at an await, a result held by the output gate) leaves it so
in ``do`` and ends it in ``release``, which runs when the learner moves on: the
screen shows the engine's real state for as long as the learner reads.

The learner steps (``Narrator.pause`` answers a move, pacing.py): forward runs
the next step; back runs the lesson again on the engine from its first step,
quietly, up to the step before, and stops there; replay starts it over. Every
lesson's first step puts its objects back as the lesson needs them, so each
claim holds however the learner got to it (``dotui tour --check`` steps every
lesson forward and back to prove it). A ``Narrator`` renders it all: the TUI's
tour panel, the REPL's printed lines, or ``--check``'s report.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..ops import EngineFacade
from .pacing import BACK, END, FORWARD, REPLAY


@dataclass(frozen=True)
class Point:
    """What to look at: the object ``namespace/ref``, its ``tab``, and the thing there (``look``)."""

    namespace: str | None = None
    ref: str | None = None
    tab: str | None = None
    look: str = ""

    def command(self) -> str:
        """The command that shows it at a prompt (``queue Counter/tour-gate``), for front ends without tabs."""
        if not (self.namespace and self.ref):
            return ""
        ref = f"{self.namespace}/{self.ref}"
        return {
            "storage": f"storage {ref}",
            "events": f"watch {ref} --for 5",
            "methods": f"classes {self.namespace}",
            "sockets": f"ls {self.namespace}",
        }.get(self.tab or "", f"queue {ref}; history {ref}")

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
    release: Callable[[Run], None] | None = None  # ends what ``do`` held, once the learner moves on


@dataclass
class Lesson:
    key: str
    title: str
    teaches: str
    objects: tuple[str, ...]
    steps: list[Step]
    closing: str | Callable[[EngineFacade], str] = ""  # a callable says what fits the learner's workspace
    commands: str | Callable[[EngineFacade], str] = ""  # the closing in the command language's words (the REPL)
    # The lesson writes files of the objects folder and reloads them itself: a front end that reloads on
    # save (the TUI) leaves those files to it, or its own late reload drains an object the lesson just woke.
    edits_objects: bool = False

    def closing_for(self, facade: EngineFacade, commands: bool = False) -> str:
        """What the lesson says as it ends, for the workspace ``facade`` runs on: in the TUI's keys and tabs,
        or (``commands``) in the commands the REPL and the command bar take."""
        said = self.commands if commands and self.commands else self.closing
        return said(facade) if callable(said) else said


class Narrator(Protocol):
    def lesson(self, lesson: Lesson, number: int, total: int) -> None: ...
    def step(self, number: int, total: int, text: str, point: Point | None) -> None: ...
    def result(self, text: str, check: Check | None) -> None: ...
    def progress(self, text: str) -> None: ...
    def pause(self, seconds: float) -> str: ...  # the learner's move (pacing.py); TourStopped when stopped
    def point(self, point: Point) -> None: ...


@dataclass
class Run:
    """A lesson's scenario in progress: the facade, what it saw, and helpers for concurrent calls."""

    facade: EngineFacade
    narrator: Narrator
    seen: dict[str, Any] = field(default_factory=dict)
    ends: list[Callable[[], None]] = field(default_factory=list)  # run when this pass of the lesson ends

    def call(self, namespace: str, ref: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.facade.call(namespace, ref, method, list(args), kwargs)

    def at_once(self, calls: list[tuple[str, str, str, list]], timeout: float = 60.0) -> list[Any]:
        """Start every call before waiting for any; each answer, or the exception it raised, in order."""
        return self.gather([self.facade.call_async(ns, ref, m, list(a)) for ns, ref, m, a in calls], timeout)

    def gather(self, futures: list[concurrent.futures.Future], timeout: float = 60.0) -> list[Any]:
        """Each future's answer, or the exception it raised, in order (waiting at most ``timeout`` for all)."""
        concurrent.futures.wait(futures, timeout)
        out: list[Any] = []
        for fut in futures:
            try:
                out.append(fut.result(0))
            except Exception as exc:  # noqa: BLE001 - a raised call is an answer the lesson reads
                out.append(exc)
        return out

    def wait_for(self, done: Callable[[], bool], limit: float) -> bool:
        """Poll ``done()`` every 20 ms for at most ``limit`` seconds; whether it came true."""
        deadline = time.monotonic() + limit
        while not done():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

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


def run_lesson(
    facade: EngineFacade, lesson: Lesson, narrator: Narrator, number: int = 1, total: int = 1
) -> list[Check]:
    """Run ``lesson`` as the learner steps it; the checks of its narrated claims, one per step (the last time
    each step ran). Back and replay run the lesson again from its first step, on the engine."""
    checks: dict[int, Check] = {}
    target = 1  # the first step to stop at; the ones before it run quietly
    while True:
        run = Run(facade, narrator)
        try:
            move, i = _run_steps(run, lesson, narrator, number, total, target, checks)
        finally:
            for end in reversed(run.ends):
                end()
        if move in (FORWARD, END):
            return [checks[i] for i in sorted(checks)]
        assert move in (BACK, REPLAY), move
        target = max(1, i - 1) if move == BACK else 1


def _run_steps(
    run: Run, lesson: Lesson, narrator: Narrator, number: int, total: int, target: int, checks: dict[int, Check]
) -> tuple[str, int]:
    """One pass over the steps, quiet before ``target``; the learner's move that ended it, at which step."""
    narrator.lesson(lesson, number, total)
    move, i = FORWARD, 0
    for i, step in enumerate(lesson.steps, 1):
        quiet = i < target
        if quiet:
            narrator.progress(f"running step {i} of {len(lesson.steps)} again, on the engine…")
        try:
            check = _run_step(run, step, i, len(lesson.steps), narrator, quiet)
            if check is not None:
                checks[i] = check
            move = FORWARD if quiet else narrator.pause(step.dwell)
        finally:
            if step.release is not None:
                step.release(run)  # whatever ended the step: nothing stays held
        if move != FORWARD:
            break
    return move, i


def _run_step(run: Run, step: Step, i: int, n: int, narrator: Narrator, quiet: bool) -> Check | None:
    """One step: say it, do it, point at it, check its claim (narrated unless ``quiet``)."""
    point = step.point if isinstance(step.point, Point) else None
    if not quiet:
        narrator.step(i, n, step.say, point)
        if point is not None:
            narrator.point(point)
    if step.do is not None:
        step.do(run)
    if callable(step.point) and not quiet:
        narrator.point(step.point(run))
    then = step.then(run) if callable(step.then) else step.then
    check = None
    if step.check is not None:
        problem = step.check(run)
        check = Check(then or step.say, problem is None, problem or "")
    if not quiet and (then or check is not None):
        narrator.result(then or "", check)
    return check
