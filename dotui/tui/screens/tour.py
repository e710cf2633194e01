"""The tour's lesson list: what each lesson teaches; Enter runs one beside the objects it uses."""

from __future__ import annotations

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from ...tour import LESSONS

STOP = "__stop__"


def _entry(number: int, title: str, teaches: str) -> Group:
    """A lesson's entry: its title, and what it teaches indented under it on every line it wraps to (the
    wrapped lines went back to the margin, under the number)."""
    return Group(Text(f"{number}. {title}", style="bold"), Padding(Text(teaches, style="dim"), (0, 0, 0, 3)))


class TourScreen(ModalScreen[str | None]):
    """Returns a lesson's key, STOP, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, next_index: int = 0, running: bool = False) -> None:
        super().__init__()
        self.next_index = next_index
        self.running = running

    def compose(self) -> ComposeResult:
        with Vertical(id="tour-dialog", classes="dialog"):
            yield Label(Text("The tour: one lesson per concept", style="bold"))
            yield Static(
                Text(
                    "Each lesson makes real calls, several at once, on objects of its own (tour-…), "
                    "says what happens and points at it on the screen. About a minute each; "
                    "replay any; the objects stay to explore.",
                    style="dim",
                )
            )
            options = [Option(_entry(i, x.title, x.teaches), id=x.key) for i, x in enumerate(LESSONS, 1)]
            if self.running:
                options.insert(0, Option(Text("■ stop the lesson running now", style="yellow"), id=STOP))
            yield OptionList(*options, id="tour-lessons")

    def on_mount(self) -> None:
        lessons = self.query_one(OptionList)
        lessons.highlighted = self.next_index + (1 if self.running else 0)
        lessons.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
