"""The command bar (`:`): any command of the registry, with the REPL's completion.

The bar only edits text and shows what comes back; the screen runs the line
(through the command registry, off the UI thread) and fetches completions the
same way, so nothing here talks to the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, RichLog
from textual.widgets.option_list import Option

from ...present.render import Printable


class LogConsole:
    """Enough of a rich Console (``present.render.Output``) for the REPL's renderer to write into a RichLog."""

    is_terminal = False  # a log: the renderer's ``clear`` leaves it (the bar clears it for ``clear``)

    def __init__(self, bar: CommandBar):
        self.bar = bar

    def clear(self) -> None:
        self.bar.output.clear()

    def print(self, *objects: Any, **_: Any) -> None:
        for obj in objects:
            self.bar.show_output(obj if not isinstance(obj, str) else Text(obj))


class CommandBar(Vertical):
    """Output above, completions above the field, the field at the bottom."""

    class Submitted(Message):
        """Enter in the bar: run this line."""

        def __init__(self, line: str, mark: int) -> None:
            super().__init__()
            self.line = line
            self.mark = mark  # ``writes`` after the line was echoed

    class CompletionWanted(Message):
        """The text before the cursor changed: completions for it, please."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Closed(Message):
        pass

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self._history_pos: int | None = None
        self._completions: list[Any] = []
        self.writes = 0  # renderables written to the output so far

    def compose(self) -> ComposeResult:
        yield RichLog(id="command-output", max_lines=400, wrap=True, markup=False, highlight=False)
        yield OptionList(id="command-completions")
        yield Input(
            placeholder="a command: ls, Counter/alice.increment(5), storage Counter/alice, help … (Tab completes)",
            id="command-input",
        )

    def on_mount(self) -> None:
        self.display = False
        self.query_one("#command-completions").display = False
        self.query_one("#command-output").display = False
        self.query_one("#command-input", Input).border_title = ":"

    @property
    def input(self) -> Input:
        return self.query_one("#command-input", Input)

    @property
    def output(self) -> RichLog:
        return self.query_one("#command-output", RichLog)

    @property
    def completions(self) -> OptionList:
        return self.query_one("#command-completions", OptionList)

    def open(self) -> None:
        self.display = True
        self.input.focus()

    def close(self) -> None:
        self.display = False
        self.completions.display = False
        self.post_message(self.Closed())

    # ------------------------------------------------------------ output
    def show_output(self, *renderables: RenderableType) -> None:
        log = self.output
        log.display = True
        for r in renderables:
            log.write(Printable(r))  # names, results, messages: no control character reaches the screen
            self.writes += 1

    def console(self) -> LogConsole:
        return LogConsole(self)

    # ------------------------------------------------------------ completion
    def set_completions(self, text: str, completions: Sequence[Any]) -> None:
        """Completions computed for ``text`` (ignored if the field has moved on)."""
        if text != self._before_cursor():
            return
        self._completions = list(completions)
        menu = self.completions
        menu.clear_options()
        if not self._completions or not self.input.has_focus:
            menu.display = False
            return
        for c in self._completions[:50]:
            prompt = Text.assemble((c.display, "bold"), ("  " + c.meta if c.meta else "", "dim"))
            menu.add_option(Option(prompt))
        menu.display = True
        menu.highlighted = 0

    def _before_cursor(self) -> str:
        return self.input.value[: self.input.cursor_position]

    def _accept(self, index: int) -> bool:
        if not (0 <= index < len(self._completions)):
            return False
        c = self._completions[index]
        before = self._before_cursor()
        after = self.input.value[self.input.cursor_position :]
        new_before = before[: c.start] + c.text
        self.input.value = new_before + after
        self.input.cursor_position = len(new_before)
        self.completions.display = False
        return True

    @on(Input.Changed, "#command-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        text = self._before_cursor()
        if text.strip():
            self.post_message(self.CompletionWanted(text))
        else:
            self._completions = []
            self.completions.display = False

    @on(Input.Submitted, "#command-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value.strip()
        self.completions.display = False
        if not line:
            self.close()
            return
        if not self.history or self.history[-1] != line:
            self.history.append(line)
        self._history_pos = None
        self.input.value = ""
        self.show_output(Text.assemble((": ", "dim"), (line, "bold")))
        self.post_message(self.Submitted(line, self.writes))

    @on(OptionList.OptionSelected, "#command-completions")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._accept(event.option_index)
        self.input.focus()

    def on_key(self, event: events.Key) -> None:
        if not self.input.has_focus:
            if event.key == "escape":
                event.stop()
                self.close()
            return
        menu = self.completions
        if event.key == "tab":
            event.stop()
            event.prevent_default()
            if menu.display and self._completions:
                self._accept(menu.highlighted or 0)
            elif self._before_cursor().strip():
                self.post_message(self.CompletionWanted(self._before_cursor()))
        elif event.key == "escape":
            event.stop()
            if menu.display:
                menu.display = False
            else:
                self.close()
        elif event.key in ("down", "up"):
            event.stop()
            step = 1 if event.key == "down" else -1
            if menu.display and self._completions:
                n = min(len(self._completions), 50)
                menu.highlighted = ((menu.highlighted or 0) + step) % n
            elif self.history:
                self._browse_history(step)

    def _browse_history(self, step: int) -> None:
        if self._history_pos is None:
            self._history_pos = len(self.history)
        self._history_pos = max(0, min(len(self.history), self._history_pos + step))
        self.input.value = self.history[self._history_pos] if self._history_pos < len(self.history) else ""
        self.input.cursor_position = len(self.input.value)
