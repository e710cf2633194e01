"""`?`: the keys, and what every glyph, gate and tab means."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .. import actions, glossary

KEYS: list[tuple[str, str]] = [
    ("↑ ↓ PgUp PgDn", "move through the instances"),
    *actions.help_keys(),
    ("ctrl+p", "command palette"),
]


MODEL: list[tuple[str, str]] = [
    ("object", "a Python object with its own durable storage; its class is a namespace (a .py file in objects/)"),
    ("id", "id_from_name(name) gives the same id every time; new_unique_id() one no name leads to"),
    ("one instance", "exactly one instance per id: every caller reaches the same one"),
    ("one call at a time", "calls queue; a running call lets the next one in only at an await (the input gate)"),
    ("durable results", "a result waits until the writes before it are on disk (the output gate, ⧗)"),
    ("hibernation", "idle objects leave memory; storage and alarm stay; the next call runs the constructor"),
    ("alarm", "one per object; it calls alarm() when due, waking the object"),
    ("t", "the tour shows each of these on objects of its own, in about a minute each"),
]


def help_renderable() -> Group:
    keys = Table(box=None, padding=(0, 2), show_header=False)
    keys.add_column(style="bold cyan", no_wrap=True)
    keys.add_column()
    for k, d in KEYS:
        keys.add_row(k, d)
    states = Table(box=None, padding=(0, 2), show_header=False)
    states.add_column(no_wrap=True)
    states.add_column()
    for s in ("busy", "idle", "waking", "hibernated", "broken"):
        states.add_row(glossary.GLYPHS[s], glossary.STATES[s])
    for mark, text in glossary.MARKS.items():
        states.add_row(mark, text)
    gates = Table(box=None, padding=(0, 2), show_header=False)
    gates.add_column(no_wrap=True, style="bold")
    gates.add_column()
    gates.add_row("input gate", "when " + glossary.GATES["input_open"] + ". When " + glossary.GATES["input_held"] + ".")
    gates.add_row("serial", glossary.GATES["input_serial"])
    gates.add_row(
        "output gate",
        "when " + glossary.GATES["output_held"] + ". That is why a result can arrive "
        "a moment after its method returned.",
    )
    for status in ("running", "suspended", "held", "queued"):
        gates.add_row(status, glossary.CALL_STATUS[status])
    tabs = Table(box=None, padding=(0, 2), show_header=False)
    tabs.add_column(no_wrap=True, style="bold")
    tabs.add_column()
    for name, text in glossary.TABS.items():
        tabs.add_row(name, text.split(": ", 1)[1])
    for where, text in glossary.STORAGE_WHERE.items():
        tabs.add_row(f"  {where}", text)
    model = Table(box=None, padding=(0, 2), show_header=False)
    model.add_column(style="bold", no_wrap=True)
    model.add_column()
    for k, d in MODEL:
        model.add_row(k, d)
    return Group(
        Text("The model", style="bold underline"),
        model,
        Text(""),
        Text("Instances", style="bold underline"),
        states,
        Text(""),
        Text("Gates and calls", style="bold underline"),
        gates,
        Text(""),
        Text("Tabs", style="bold underline"),
        tabs,
        Text(""),
        Text("Keys", style="bold underline"),
        keys,
        Text(""),
        Text("Esc, q or ? closes this help.", style="dim"),
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Static(help_renderable(), id="help-body")

    def on_mount(self) -> None:
        self.query_one("#help-dialog").focus()

    def action_close(self) -> None:
        self.dismiss(None)
