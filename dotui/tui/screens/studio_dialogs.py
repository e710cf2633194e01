"""The storage studio's two dialogs: edit a row, and confirm a restore to a bookmark."""

from __future__ import annotations

import re
import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ...present.formats import printable

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_BLOB = re.compile(r"[xX]'([0-9a-fA-F]*)'")


def edit_text(value: Any) -> str:
    """A cell as the row editor shows it: NULL, a number, x'hex' for a BLOB, text as it is."""
    if value is None:
        return "NULL"
    if isinstance(value, dict) and set(value) == {"$blob"}:
        return f"x'{value['$blob']}'"
    if isinstance(value, bool):
        return str(int(value))
    return repr(value) if isinstance(value, (int, float)) else str(value)


def sql_value(text: str) -> Any:
    """What the row editor's text stores: NULL, an integer or real, x'hex' a BLOB, anything else text
    (quote a number or NULL, 'like this', to store it as text)."""
    stripped = text.strip()
    if stripped.upper() == "NULL":
        return None
    if _NUMBER.fullmatch(stripped):
        return int(stripped) if re.fullmatch(r"[+-]?\d+", stripped) else float(stripped)
    blob = _BLOB.fullmatch(stripped)
    if blob and len(blob.group(1)) % 2 == 0:
        return {"$blob": blob.group(1).lower()}
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == "'":
        return stripped[1:-1].replace("''", "'")
    return text


class RowEditScreen(ModalScreen[tuple[str, dict[str, Any] | None] | None]):
    """Returns ("update", {column: value} of the changed columns), ("delete", None), or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: str, table: str, columns: list[str], values: list[Any], key: list[str]) -> None:
        super().__init__()
        self.target, self.table, self.key = target, table, key
        self.columns, self.values = columns, values
        # the columns that can change: not the key that names the row (nor rowid, shown for it)
        self.fields = [(i, c) for i, c in enumerate(columns) if c not in key and c != "rowid"]

    def compose(self) -> ComposeResult:
        with Vertical(id="studio-edit-dialog", classes="dialog"):
            named = ", ".join(f"{c} = {edit_text(self.values[self.columns.index(c)])}" for c in self.key)
            yield Label(
                Text.assemble(
                    "Row ",
                    (printable(named), "bold"),
                    " of ",
                    (printable(self.table), "bold"),
                    " in ",
                    (self.target, "bold"),
                )
            )
            yield Static(
                Text(
                    "The change is sent to the object's queue as an UPDATE, like a call, and is durable "
                    "once it commits. NULL, 12, 1.5, x'00ff' and 'quoted text' are read as SQL values; "
                    "anything else is text. Enter saves, Esc cancels.",
                    style="dim",
                )
            )
            with VerticalScroll(id="studio-edit-fields"):
                for i, column in self.fields:
                    yield Label(printable(column))
                    yield Input(edit_text(self.values[i]), id=f"studio-edit-{i}")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="studio-edit-save", variant="primary")
                yield Button("Delete row", id="studio-edit-delete", variant="error")
                yield Button("Cancel", id="studio-edit-cancel")

    def on_mount(self) -> None:
        fields = self.query(Input)
        if fields:
            fields.first().focus()

    def changes(self) -> dict[str, Any]:
        """The columns whose text was changed, with the values they now store."""
        out = {}
        for i, column in self.fields:
            text = self.query_one(f"#studio-edit-{i}", Input).value
            if text != edit_text(self.values[i]):
                out[column] = sql_value(text)
        return out

    @on(Input.Submitted)
    @on(Button.Pressed, "#studio-edit-save")
    def _save(self) -> None:
        changes = self.changes()
        if not changes:
            self.dismiss(None)
            return
        self.dismiss(("update", changes))

    @on(Button.Pressed, "#studio-edit-delete")
    def _delete(self) -> None:
        self.dismiss(("delete", None))

    @on(Button.Pressed, "#studio-edit-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class RestoreScreen(ModalScreen[bool]):
    """Asks before restoring an object to a bookmark; True to go ahead."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: str, mark: dict[str, Any]) -> None:
        super().__init__()
        self.target, self.mark = target, mark

    def compose(self) -> ComposeResult:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.mark["time"]))
        with Vertical(id="studio-restore-dialog", classes="dialog"):
            yield Label(Text.assemble("Restore ", (self.target, "bold"), " to ", (when, "bold"), "?"))
            yield Static(
                Text(
                    "The object restarts (its calls in flight fail as on a reset) and comes back exactly as it was "
                    "then: its SQL tables, its keys and its alarm. Everything written since is set aside, not "
                    "lost: the restore answers with a bookmark that undoes it.",
                    style="dim",
                )
            )
            yield Static(Text(f"bookmark {self.mark['bookmark']}", style="dim"))
            with Horizontal(classes="buttons"):
                yield Button("Restore", id="studio-restore-yes", variant="error")
                yield Button("Cancel", id="studio-restore-no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#studio-restore-no", Button).focus()

    @on(Button.Pressed, "#studio-restore-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#studio-restore-no")
    def action_cancel(self) -> None:
        self.dismiss(False)
