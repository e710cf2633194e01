"""The first screen, while there is no object yet: what a durable object is, the classes, the tour."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...tour import LESSONS

MODEL = (
    "A durable object is a Python object with its own storage, reached by name.\n"
    "One instance per id, one call at a time between awaits; asleep when idle."
)


MAX_LIVE = 6  # lines of the demo kept (the last ones)


def welcome_renderable(
    namespaces: list[dict[str, Any]], objects_dir: str = "objects", live: list[Text] | None = None
) -> Group:
    classes = Table(box=None, padding=(0, 1), show_header=False, expand=False)
    classes.add_column(style="bold", no_wrap=True)
    classes.add_column(overflow="fold")
    for ns in sorted(namespaces, key=lambda n: n["name"]):
        classes.add_row(ns["name"], ns.get("teaches") or (ns.get("doc") or "").split("\n")[0])
    keys = Table(box=None, padding=(0, 1), show_header=False, expand=False)
    keys.add_column(style="bold cyan", no_wrap=True)
    keys.add_column()
    keys.add_row(
        "t", Text.assemble(("take the tour", "bold"), f": {len(LESSONS)} lessons, about a minute each (start here)")
    )
    keys.add_row("n", "make an object by name, and watch it")
    keys.add_row(":", "type a command (help lists them; tour too)")
    keys.add_row("?", "the model, then the keys and glyphs")
    parts: list[Any] = [Text("Welcome to dotui: Durable Objects on your machine", style="bold"), Text(MODEL), Text("")]
    if live:
        parts += [Text("Happening now, on this engine:", style="bold underline"), *live, Text("")]
    parts += [keys, Text("")]  # before the classes: on a short terminal the keys are what must show
    if namespaces:
        parts += [Text(f"The classes in {objects_dir}, and what each teaches:", style="underline"), classes]
    else:
        parts.append(
            Text(f"No classes in {objects_dir} yet: put a DurableObject subclass in a .py file there.", style="yellow")
        )
    return Group(*parts)


class Welcome(Static, can_focus=True):
    """Shown instead of the panes while the engine knows no object; it holds the focus meanwhile, so every
    key it names reaches the screen's bindings."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._drawn_for: tuple | None = None
        self._namespaces: list[dict[str, Any]] = []
        self._objects_dir = "objects"
        self.live: list[Text] = []  # what the first-minute demo is showing (controllers/welcome.py)

    def show_for(self, namespaces: list[dict[str, Any]], objects_dir: str) -> None:
        sig = tuple((n["name"], n.get("teaches")) for n in namespaces)
        if sig != self._drawn_for:
            self._drawn_for = sig
            self._namespaces, self._objects_dir = namespaces, objects_dir
            self._draw()

    def say(self, line: Text, replace_last: bool = False) -> None:
        """One more line of the demo (or a new last line, for a countdown)."""
        self.live = (self.live[:-1] if replace_last and self.live else self.live) + [line]
        self.live = self.live[-MAX_LIVE:]
        self._draw()

    def _draw(self) -> None:
        self.update(welcome_renderable(self._namespaces, self._objects_dir, self.live))
