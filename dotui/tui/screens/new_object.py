"""New object by name: pick a namespace, type a name; dotui wakes it so it shows up."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static


class NewObjectScreen(ModalScreen[tuple[str, str] | None]):
    """Returns (namespace, name), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, namespaces: list[dict[str, Any]], current: str | None = None) -> None:
        super().__init__()
        self.namespaces = namespaces
        names = [ns["name"] for ns in namespaces]
        self.current = current if current in names else (names[0] if names else None)

    def compose(self) -> ComposeResult:
        with Vertical(id="new-dialog", classes="dialog"):
            yield Label(Text("New object", style="bold"))
            yield Static(
                Text(
                    "An id made from a name is the same every time (id_from_name). Making an id creates nothing: "
                    "the object comes to exist at its first call. dotui wakes it now, so you can watch it.",
                    style="dim",
                )
            )
            yield (
                Select(
                    [(ns["name"], ns["name"]) for ns in self.namespaces],
                    value=self.current,
                    allow_blank=False,
                    id="new-namespace",
                )
                if self.namespaces
                else Static(
                    Text(
                        "No classes in the objects folder: add a DurableObject subclass to a .py file there.",
                        style="red",
                    )
                )
            )
            yield Static(self._teaching(self.current), id="new-teaches")
            yield Input(placeholder="name, e.g. alice", id="new-name")
            yield Static(id="new-check")

    def on_mount(self) -> None:
        self.query_one("#new-name", Input).focus()

    def _teaching(self, name: str | None) -> Text:
        """What the class teaches (its file says), and what it is (its docstring)."""
        ns = next((n for n in self.namespaces if n["name"] == name), None)
        if ns is None:
            return Text("")
        out = Text()
        if ns.get("teaches"):
            out.append("teaches: ", style="bold cyan")
            out.append(ns["teaches"] + "\n", style="cyan")
        out.append((ns.get("doc") or "").split("\n")[0], style="italic")
        return out

    @on(Select.Changed, "#new-namespace")
    def _namespace_changed(self, event: Select.Changed) -> None:
        self.query_one("#new-teaches", Static).update(self._teaching(str(event.value)))

    @on(Input.Changed, "#new-name")
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, name: str) -> bool:
        check = self.query_one("#new-check", Static)
        field = self.query_one("#new-name", Input)
        problem = None
        if not name.strip():
            problem = "type a name"
        elif name.startswith("#"):
            problem = "a name cannot start with #: that is how ids are written"
        elif not self.namespaces:
            problem = "there is no class to make it from"
        field.set_class(problem is not None and bool(name), "-invalid")
        check.update(Text(f"✗ {problem}" if problem else "✓ Enter wakes it", style="red" if problem else "green"))
        return problem is None

    @on(Input.Submitted, "#new-name")
    def _submitted(self, event: Input.Submitted) -> None:
        if not self._check(event.value):
            self.app.bell()
            return
        ns = self.query_one("#new-namespace", Select).value
        self.dismiss((str(ns), event.value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)
