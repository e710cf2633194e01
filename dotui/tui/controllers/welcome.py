"""The welcome's first minute: two racy calls and their lost update, run on the engine while the learner reads.

Before any key, the welcome runs ``FIRST_AHA`` (tour/lessons.py) on
``Interleave/welcome-race``: two callers at once, held at their await for a few
seconds (⏸ ⏸ both read the same n), then let go (⚠ both wrote 1). Its lines
appear in the welcome itself; the object it makes does not take the welcome's
place (``ViewController.welcome_if_empty``). It runs once, on its own thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from ...tour import Check, Lesson, Pacing, Point, TourStopped, run_lesson
from ...tour.lessons import FIRST_AHA, IL
from ..widgets.welcome import Welcome

if TYPE_CHECKING:
    from ..app import MainScreen

DEMO_KEY = (IL, FIRST_AHA.objects[0].split("/", 1)[1])  # namespace, name of the object the demo makes


class WelcomeDemo:
    """Narrates ``FIRST_AHA`` into the welcome (a tour narrator whose screen is the welcome)."""

    def __init__(self, screen: MainScreen):
        self.screen = screen
        self.pacing = Pacing(auto=True)
        self.started = False

    def offer(self, namespaces: dict) -> None:
        """Start once, if the bundled Interleave (with bump_racy_until) is loaded."""
        methods = {m["name"] for m in (namespaces.get(IL) or {}).get("methods", [])}
        if self.started or "bump_racy_until" not in methods:
            return
        self.started = True
        self.screen.run_worker(self._run, thread=True, group="welcome-demo", exit_on_error=False)

    def stop(self) -> None:
        self.pacing.stop()

    def _run(self) -> None:
        try:
            self.pacing.sleep(1.5)  # the welcome is read first
            checks = run_lesson(self.screen.facade, FIRST_AHA, self)
        except TourStopped:
            return
        except Exception as exc:  # noqa: BLE001 - the welcome says so and goes on being the welcome
            self._say(Text(f"(the demo stopped: {type(exc).__name__}: {exc})", style="dim"))
            return
        if all(c.ok for c in checks):
            self._say(Text(FIRST_AHA.closing_for(self.screen.facade), style="bold"))

    def _say(self, line: Text, replace_last: bool = False) -> None:
        if self.pacing.stopped:
            raise TourStopped()
        self.screen.app.call_from_thread(self.screen.query_one(Welcome).say, line, replace_last)

    # ------------------------------------------------------------ the narrator
    def lesson(self, lesson: Lesson, number: int, total: int) -> None:
        pass

    def step(self, number: int, total: int, text: str, point: Point | None) -> None:
        self._say(Text(text))

    def point(self, point: Point) -> None:
        pass

    def result(self, text: str, check: Check | None) -> None:
        style = "bold yellow" if "⚠" in text else ("bold red" if check is not None and not check.ok else "cyan")
        self._say(Text("  " + text, style=style))

    def progress(self, text: str) -> None:
        self._say(Text("  " + text, style="dim"), replace_last=True)

    def pause(self, seconds: float) -> str:
        return self.pacing.wait(seconds)
