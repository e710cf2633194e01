"""The tour panel: the lesson running now, what it says, where to look, what it saw, and the keys that step it."""

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
        self.keys = ""
        self.display = False

    def lesson(self, lesson: Lesson, number: int, total: int) -> None:
        self.display = True
        self.screen.set_class(True, "-touring")
        self.title = f"Tour {number}/{total} · {lesson.title}"
        self.narration, self.look, self.results, self.status = lesson.teaches, "", [], ""
        self._draw()

    def step(self, number: int, total: int, text: str) -> None:
        self.title = self.title.split(" · step ")[0] + f" · step {number}/{total}"
        self.narration, self.look, self.status, self.keys = text, "", "", ""
        self._draw()

    def waiting(self, auto: bool, moving: bool = False) -> None:
        """The step is shown: say how it moves on (the lesson waits for → unless in auto mode)."""
        if moving:
            self.keys = "moving…"
        elif auto:
            self.keys = "▶ auto: the next step comes by itself · space: stop at each step · → next · ← back"
        else:
            self.keys = "⏸ waiting for you: → next step · ← step back · space: auto"
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
        self.status, self.keys = text, ""
        self.title = self.title.split(" · step ")[0] + (" · done" if ok else " · a claim failed")
        self._draw(ok)

    def close(self) -> None:
        """The tour ended: the panel goes, the objects get the room back."""
        self.display = False
        self.screen.set_class(False, "-touring")

    def _draw(self, ok: bool = True) -> None:
        out = Text()
        out.append(self.title, style="bold cyan")
        out.append("   t: lessons · T: end the tour\n", style="dim")
        if self.keys:  # second, so a short panel (80x24) cuts the oldest result, never how to move on
            out.append(self.keys + "\n", style="bold cyan" if self.keys.startswith("⏸") else "cyan")
        out.append(self.narration + "\n")
        if self.look:
            out.append("▶ look: ", style="bold magenta")
            out.append(self.look + "\n", style="magenta")
        # a short panel (80x24) has room for the step's own result only, not the one before it as well
        for text, check in self.results[-1:] if self.screen.has_class("-short") else self.results:
            if check is not None and not check.ok:
                out.append(f"✗ {text} (but saw: {check.problem})\n", style="bold red")
            elif text:
                style = "bold yellow" if "⚠" in text else "green"
                out.append(("✓ " if check is not None else "  ") + text + "\n", style=style)
        if self.status:
            out.append(self.status + "\n", style="bold" if ok else "bold red")
        out.rstrip()  # in place: rich's Text.rstrip returns None
        self.update(out)
