"""Edit one storage key: the write goes through the object's own queue, like any call."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ...commands.parsing import ParseError, parse_value


class StorageEditScreen(ModalScreen[tuple[str, str, Any] | None]):
    """Returns ("put", key, value) or ("delete", key, None), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: str, key: str | None = None, value: Any = None, exists: bool = False) -> None:
        super().__init__()
        self.target = target
        self.key = key or ""
        self.value_text = repr(value) if exists else ""
        self.exists = exists

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-dialog", classes="dialog"):
            yield Label(Text.assemble("Storage of ", (self.target, "bold")))
            yield Static(
                Text(
                    "The write is queued on the object like a call: it runs when the object's input gate lets it in, "
                    "and this dialog's change is durable once the commit lands.",
                    style="dim",
                )
            )
            yield Input(self.key, placeholder="key", id="edit-key")
            yield Input(self.value_text, placeholder="value: 5, 'text', [1, 2], {'a': 1}, True, None", id="edit-value")
            yield Static(id="edit-check")
            with Horizontal(classes="buttons"):
                yield Button("Put", id="edit-put", variant="primary")
                yield Button("Delete key", id="edit-delete", variant="error", disabled=not self.exists)
                yield Button("Cancel", id="edit-cancel")

    def on_mount(self) -> None:
        (self.query_one("#edit-value", Input) if self.key else self.query_one("#edit-key", Input)).focus()
        self._check()

    @on(Input.Changed)
    def _changed(self) -> None:
        self._check()

    def _check(self) -> tuple[str, Any] | None:
        check = self.query_one("#edit-check", Static)
        key = self.query_one("#edit-key", Input).value
        text = self.query_one("#edit-value", Input).value
        value_field = self.query_one("#edit-value", Input)
        if not key:
            check.update(Text("✗ type a key", style="red"))
            return None
        if len(key.encode()) > 2048:
            check.update(
                Text(f"✗ the key is {len(key.encode())} bytes; keys are at most 2,048 UTF-8 bytes", style="red")
            )
            return None
        try:
            value = parse_value(text)  # the command language's literals (true/null as well as True/None)
        except ParseError as exc:
            value_field.set_class(bool(text.strip()), "-invalid")
            check.update(Text(f"✗ {exc.message}" + (f" ({exc.hint})" if exc.hint else ""), style="red"))
            return None
        value_field.remove_class("-invalid")
        check.update(Text(f"✓ put({key!r}, {value!r})", style="green"))
        return key, value

    def _put(self) -> None:
        parsed = self._check()
        if parsed is None:
            self.app.bell()
            return
        self.dismiss(("put", parsed[0], parsed[1]))

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._put()

    @on(Button.Pressed, "#edit-put")
    def _put_pressed(self) -> None:
        self._put()

    @on(Button.Pressed, "#edit-delete")
    def _delete_pressed(self) -> None:
        key = self.query_one("#edit-key", Input).value
        if key:
            self.dismiss(("delete", key, None))

    @on(Button.Pressed, "#edit-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
