"""The tour panel: the lesson running now, what it says, where to look, and what it saw."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...tour import Check, Lesson, Point


class TourPanel(Static):
    """Docked under the objects while a lesson runs; hidden otherwise."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.title = ""
        self.narration = ""
        self.look = ""
        self.results: list[tuple[str, Check | None]] = []
        self.status = ""
        self.display = False

    def lesson(self, lesson: Lesson, number: int, total: int) -> None:
        self.display = True
        self.screen.set_class(True, "-touring")
        self.title = f"Tour {number}/{total} · {lesson.title}"
        self.narration, self.look, self.results, self.status = lesson.teaches, "", [], ""
        self._draw()

    def step(self, number: int, total: int, text: str) -> None:
        self.title = self.title.split(" · step ")[0] + f" · step {number}/{total}"
        self.narration, self.look, self.status = text, "", ""
        self._draw()

    def point(self, point: Point) -> None:
        self.look = point.describe()
        self._draw()

    def result(self, text: str, check: Check | None) -> None:
        self.results = (self.results + [(text, check)])[-2:]
        self.status = ""
        self._draw()

    def progress(self, text: str) -> None:
        self.status = text
        self._draw()

    def finished(self, text: str, ok: bool) -> None:
        self.screen.set_class(False, "-touring")
        self.status = text
        self.title = self.title.split(" · step ")[0] + (" · done" if ok else " · a claim failed")
        self._draw(ok)

    def _draw(self, ok: bool = True) -> None:
        out = Text()
        out.append(self.title, style="bold cyan")
        out.append("   t: lessons · T: stop\n", style="dim")
        out.append(self.narration + "\n")
        if self.look:
            out.append("▶ look: ", style="bold magenta")
            out.append(self.look + "\n", style="magenta")
        for text, check in self.results:
            if check is not None and not check.ok:
                out.append(f"✗ {text} (but saw: {check.problem})\n", style="bold red")
            elif text:
                style = "bold yellow" if "⚠" in text else "green"
                out.append(("✓ " if check is not None else "  ") + text + "\n", style=style)
        if self.status:
            out.append(self.status, style="bold" if ok else "bold red")
        self.update(out.rstrip() or out)
