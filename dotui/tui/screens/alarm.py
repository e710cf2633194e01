"""Set or delete an object's alarm."""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ...ops.admin import parse_when
from ...present.formats import relative


def read_when(text: str, now: float) -> float:
    """Epoch seconds from ``+SECONDS`` or an ISO time (UTC if no zone); ValueError says what to type."""
    return parse_when(text.strip(), now)


class AlarmScreen(ModalScreen[tuple[str, str | None] | None]):
    """Returns ("set", WHEN) or ("delete", None), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, target: str, alarm: float | None, has_handler: bool, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__()
        self.target = target
        self.alarm = alarm
        self.has_handler = has_handler
        self.clock = clock

    def compose(self) -> ComposeResult:
        now = self.clock()
        with Vertical(id="alarm-dialog", classes="dialog"):
            yield Label(Text.assemble("Alarm of ", (self.target, "bold")))
            current = (
                f"set for {_dt.datetime.fromtimestamp(self.alarm).isoformat(timespec='seconds')} "
                f"({relative(self.alarm, now)})"
                if self.alarm is not None
                else "no alarm set"
            )
            yield Static(Text(current))
            yield Static(
                Text(
                    "One alarm per object, stored with it. When it falls due the engine wakes the object (even "
                    "hibernated) and calls alarm(info); an exception retries with backoff."
                    if self.has_handler
                    else "This class has no alarm() method, so an alarm cannot be set (it would never fire).",
                    style="dim" if self.has_handler else "yellow",
                )
            )
            yield Input(
                placeholder="+30 (seconds from now) or 2026-12-01T09:00:00Z",
                id="alarm-when",
                disabled=not self.has_handler,
            )
            yield Static(id="alarm-check")
            with Horizontal(classes="buttons"):
                yield Button("Set", id="alarm-set", variant="primary", disabled=not self.has_handler)
                yield Button("Delete", id="alarm-delete", variant="error", disabled=self.alarm is None)
                yield Button("Cancel", id="alarm-cancel")

    def on_mount(self) -> None:
        if self.has_handler:
            self.query_one("#alarm-when", Input).focus()

    @on(Input.Changed, "#alarm-when")
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, text: str) -> bool:
        check = self.query_one("#alarm-check", Static)
        try:
            t = read_when(text, self.clock())
        except ValueError as exc:
            check.update(Text(f"✗ {exc}" if text.strip() else "", style="red"))
            self.query_one("#alarm-when").set_class(bool(text.strip()), "-invalid")
            return False
        self.query_one("#alarm-when").remove_class("-invalid")
        when = _dt.datetime.fromtimestamp(t).isoformat(timespec="seconds")
        check.update(Text(f"✓ fires at {when} ({relative(t, self.clock())})", style="green"))
        return True

    def _set(self) -> None:
        text = self.query_one("#alarm-when", Input).value
        if not self._check(text):
            self.app.bell()
            return
        self.dismiss(("set", text.strip()))

    @on(Input.Submitted, "#alarm-when")
    def _submitted(self) -> None:
        self._set()

    @on(Button.Pressed, "#alarm-set")
    def _set_pressed(self) -> None:
        self._set()

    @on(Button.Pressed, "#alarm-delete")
    def _delete_pressed(self) -> None:
        self.dismiss(("delete", None))

    @on(Button.Pressed, "#alarm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
