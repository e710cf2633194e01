"""Registry commands from the TUI: a key's command line or the command bar's, run on the action lane.

Every action that changes the engine is a line of the command language
(``hibernate Counter/alice``, ``call Counter/alice increment 5``), run by the
one registry (``dotui.commands.execute``) on the screen's action lane, and
answered in the words the REPL prints for it: the toast is what
``present.render.Renderer`` writes for that outcome, errors with the user's
own code location. The command bar is the same runner with its output in the
bar instead of a toast.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from ...commands import Context, Outcome, execute
from ...present.render import Renderer

if TYPE_CHECKING:
    from ..app import MainScreen
    from ..widgets.command_bar import CommandBar

TOAST_WIDTH = 72  # columns a toast's text is laid out in


def outcome_text(outcome: Outcome, width: int = TOAST_WIDTH) -> str:
    """What the REPL prints for ``outcome``, as plain text (no styles, no trailing space). O(size of the result)."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False, record=True)
    Renderer(console).outcome(outcome)
    return "\n".join(line.rstrip() for line in console.export_text().rstrip().splitlines())


class CommandRunner:
    """Runs command lines for one screen; each on the action lane, so the UI never waits for the engine."""

    def __init__(self, screen: MainScreen):
        self.screen = screen
        self._completer: Any = None

    def submit(self, line: str) -> concurrent.futures.Future:
        """(Any thread) ``line`` run by the registry on the action lane; the future's result is its Outcome."""
        return self.screen.lanes.act(execute, Context(self.screen.facade, interactive=False), line)

    def run(self, line: str, done: Callable[[Outcome], None] | None = None) -> None:
        """Run ``line``; toast its answer (or call ``done`` with the Outcome); refresh what it changed."""
        self.screen.run_worker(self._run(line, done), group="act", exit_on_error=False)

    async def _run(self, line: str, done: Callable[[Outcome], None] | None) -> None:
        try:
            outcome = await asyncio.wrap_future(self.submit(line))
        except Exception as exc:  # noqa: BLE001 - the registry answers every mistake; this is dotui's own
            self.screen.notify(f"{line}: {type(exc).__name__}: {exc}", severity="error", timeout=8, markup=False)
            return
        finally:
            self.screen.kick(full=True, detail=True)
        if outcome is None:
            return
        self.after(outcome)
        if done is not None:
            done(outcome)
        else:
            self.toast(outcome)

    def toast(self, outcome: Outcome, prefix: str = "") -> None:
        text = prefix + outcome_text(outcome)
        if outcome.ok:
            self.screen.notify(text, timeout=4, markup=False)
        else:
            self.screen.notify(text, severity="error", timeout=8, markup=False)

    def after(self, outcome: Outcome) -> None:
        """What an answer changes on screen beyond a refresh: the classes after a reload, a woken row."""
        if not outcome.ok:
            return
        if outcome.command == "reload":
            self.screen.kick(full=True, namespaces=True)
        elif outcome.command == "wake":
            info = outcome.result["instance"]
            key = (info["namespace"], info["id"])
            self.screen.rows.update([info])
            self.screen.table.apply({key})
            self.screen.view.show_selected()

    # ------------------------------------------------------------ the command bar
    @property
    def bar(self) -> CommandBar:
        return self.screen.command_bar

    def open(self) -> None:
        self.bar.open()

    def complete(self, text: str) -> None:
        self.screen.run_worker(self._complete(text), group="complete", exclusive=True, exit_on_error=False)

    async def _complete(self, text: str) -> None:
        if self._completer is None:
            from ...commands.completion import Completer

            self._completer = Completer(self.screen.facade)
        try:
            items = await asyncio.wrap_future(self.screen.lanes.act(self._completer.complete, text))
        except Exception:  # noqa: BLE001 - completion never breaks typing
            return
        self.bar.set_completions(text, items)

    def submitted(self, line: str, mark: int) -> None:
        self.screen.run_worker(self._bar_line(line, mark), group="command", exit_on_error=False)

    async def _bar_line(self, line: str, mark: int) -> None:
        bar = self.bar
        try:
            outcome = await asyncio.wrap_future(self.submit(line))
        except Exception as exc:  # noqa: BLE001 - the registry answers every mistake; this is dotui's own: shown in the bar
            bar.show_output(Text(f"error: {type(exc).__name__}: {exc}", style="red"))
            return
        finally:
            self.screen.kick(full=True)
        if outcome is None:
            return
        if outcome.quit:
            await self.screen.app.action_quit()
            return
        self.after(outcome)
        if outcome.ok and outcome.command == "clear":
            bar.output.clear()
            return
        if bar.writes != mark:  # something else was written since the line: say what this answers
            bar.show_output(Text.assemble(("↳ ", "dim"), (line, "dim")))
        Renderer(bar.console()).outcome(outcome)
