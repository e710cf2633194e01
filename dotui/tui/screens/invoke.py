"""The invoke dialog: pick a method, type its arguments (checked as you type), see the result."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any, Callable

from rich.console import Group
from rich.pretty import Pretty
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...commands.parsing import ParseError, parse_call_args
from ...present.formats import call_text, duration

Invoker = Callable[[str, list, dict], concurrent.futures.Future]


class InvokeScreen(ModalScreen[str | None]):
    """Calls one method of one object through its stub, as a caller would.

    Dismissed with the name of the last method it called (None if none).
    """

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, target: str, namespace: dict[str, Any], invoker: Invoker, method: str | None = None,
                 on_leave_running: Callable[[str, concurrent.futures.Future], None] | None = None) -> None:
        """``on_leave_running(method, future)`` is told of a call still running when the dialog closes:
        closing the dialog does not cancel the call (a caller that stops waiting cancels nothing)."""
        super().__init__()
        self.target = target
        self.on_leave_running = on_leave_running
        self._future: concurrent.futures.Future | None = None
        self.namespace = namespace
        self.invoker = invoker
        self.methods = {m["name"]: m for m in namespace.get("methods", [])}
        self.method = method if method in self.methods else next(iter(self.methods), None)
        self.running = False
        self.last_called: str | None = None
        self._started = 0.0

    def compose(self) -> ComposeResult:
        with Vertical(id="invoke-dialog", classes="dialog"):
            yield Label(Text.assemble("Invoke ", (self.target, "bold")), id="invoke-title")
            with Horizontal(id="invoke-body"):
                yield OptionList(*[Option(name, id=name) for name in self.methods], id="invoke-methods")
                with Vertical(id="invoke-form"):
                    yield Static(id="invoke-signature")
                    yield Input(placeholder="arguments, as in Python: 5, 'text', by=2", id="invoke-args")
                    yield Static(id="invoke-check")
                    with VerticalScroll(id="invoke-result-box"):
                        yield Static(id="invoke-result")
            yield Static(Text("Enter calls · ↑↓ pick a method · Esc closes (a running call goes on)", style="dim"), id="invoke-hint")

    def on_mount(self) -> None:
        methods = self.query_one("#invoke-methods", OptionList)
        if self.method is not None:
            methods.highlighted = list(self.methods).index(self.method)
        self._show_method()
        self.query_one("#invoke-args", Input).focus()
        self._check(self.query_one("#invoke-args", Input).value)

    def _show_method(self) -> None:
        sig = self.query_one("#invoke-signature", Static)
        if self.method is None:
            sig.update(Text(f"{self.namespace.get('name')} has no public methods to call.", style="red"))
            return
        m = self.methods[self.method]
        text = Text.assemble((m["name"], "bold"), m.get("signature", "()"))
        if m.get("async"):
            text.append("  async", "cyan")
        if m.get("doc"):
            text.append("\n" + m["doc"], "dim")
        sig.update(text)

    @on(OptionList.OptionHighlighted, "#invoke-methods")
    def _method_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.method = event.option.id
        self._show_method()

    @on(OptionList.OptionSelected, "#invoke-methods")
    def _method_selected(self, event: OptionList.OptionSelected) -> None:
        self.method = event.option.id
        self._show_method()
        self.query_one("#invoke-args", Input).focus()

    @on(Input.Changed, "#invoke-args")
    def _args_changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, text: str) -> tuple[list, dict] | None:
        check = self.query_one("#invoke-check", Static)
        field = self.query_one("#invoke-args", Input)
        try:
            args, kwargs = parse_call_args(f"({text})")  # the command language's REF.METHOD(ARGS)
        except ParseError as exc:
            field.add_class("-invalid")
            check.update(Text(f"✗ {exc.message}" + (f" ({exc.hint})" if exc.hint else ""), style="red"))
            return None
        field.remove_class("-invalid")
        if self.method is not None:
            check.update(Text(f"✓ {call_text(self.method, args, kwargs)}", style="green"))
        return args, kwargs

    @on(Input.Submitted, "#invoke-args")
    def _submitted(self, event: Input.Submitted) -> None:
        parsed = self._check(event.value)
        if parsed is None or self.method is None:
            self.app.bell()
            return
        if self.running:
            self.notify("the previous call has not returned yet", severity="warning")
            return
        self._call(self.method, *parsed)

    @work(group="invoke")
    async def _call(self, method: str, args: list, kwargs: dict) -> None:
        result_box = self.query_one("#invoke-result", Static)
        self.running = True
        self.last_called = method
        self._started = time.monotonic()
        result_box.update(Text(f"calling {method}… (it waits its turn in the object's queue)", style="yellow"))
        ticker = self.set_interval(0.5, lambda: result_box.update(
            Text(f"calling {method}… {duration(time.monotonic() - self._started)}", style="yellow")))
        try:
            fut = self._future = self.invoker(method, args, kwargs)
            # shielded: closing the dialog cancels this wait, never the call itself
            result = await asyncio.shield(asyncio.wrap_future(fut))
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - shown as the caller sees it
            if isinstance(exc, asyncio.CancelledError) and not (self._future and self._future.cancelled()):
                raise  # the dialog is closing; the call goes on
            took = duration(time.monotonic() - self._started)
            result_box.update(Text.assemble(("✗ ", "bold red"), (type(exc).__name__, "bold red"),
                                            f": {exc}" if str(exc) else " (the call was cancelled)",
                                            (f"\n  raised after {took}", "dim")))
            self.query_one("#invoke-result-box").add_class("-error")
        else:
            took = duration(time.monotonic() - self._started)
            self.query_one("#invoke-result-box").remove_class("-error")
            result_box.update(_result_renderable(method, result, took))
        finally:
            ticker.stop()
            self.running = False
            self._future = None

    def action_close(self) -> None:
        fut = self._future
        if self.running and fut is not None and not fut.done() and self.on_leave_running is not None:
            self.on_leave_running(self.last_called or "?", fut)
        self.dismiss(self.last_called)

    def on_key(self, event) -> None:
        # ↑/↓ in the arguments field pick the method, so the hands stay on one field
        if event.key in ("up", "down") and self.query_one("#invoke-args", Input).has_focus and self.methods:
            event.stop()
            methods = self.query_one("#invoke-methods", OptionList)
            n = len(self.methods)
            methods.highlighted = ((methods.highlighted or 0) + (1 if event.key == "down" else -1)) % n


def _result_renderable(method: str, result: Any, took: str) -> Group:
    return Group(Text.assemble(("→ ", "bold green"), (f"{method} returned", "green"), (f" in {took} (durable)", "dim")),
                 Pretty(result))
