"""The invoke dialog: pick a method, type its arguments (checked as you type), see the result."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.pretty import Pretty
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...commands.parsing import ParseError, parse_call_args
from ...present.formats import call_text, duration, short
from ...present.signature import bind_check

Invoker = Callable[[str, list, dict], concurrent.futures.Future]


MAX_TIMES = 1000


class Batch:
    """The calls one Enter started (×N of them, at once): each one's outcome as it arrives."""

    def __init__(self, method: str, args: list, kwargs: dict, times: int):
        self.method, self.args, self.kwargs, self.times = method, args, kwargs, times
        self.started = time.monotonic()
        self.outcomes: list[tuple[bool, Any, float] | None] = [None] * times  # (ok, result or error, seconds)

    @property
    def pending(self) -> int:
        return sum(o is None for o in self.outcomes)


class InvokeScreen(ModalScreen[str | None]):
    """Calls one method of one object through its stub, as a caller would.

    Enter calls; Enter again while calls run starts more (they queue in the
    object like any other callers'). ×N starts N calls at once. Dismissed with
    the name of the last method it called (None if none).
    """

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, target: str, namespace: dict[str, Any], invoker: Invoker, method: str | None = None,
                 on_leave_running: Callable[[str, concurrent.futures.Future], None] | None = None) -> None:
        """``on_leave_running(method, future)`` is told of each call still running when the dialog closes:
        closing the dialog does not cancel the call (a caller that stops waiting cancels nothing)."""
        super().__init__()
        self.target = target
        self.on_leave_running = on_leave_running
        self._in_flight: dict[concurrent.futures.Future, str] = {}
        self.namespace = namespace
        self.invoker = invoker
        self.methods = {m["name"]: m for m in namespace.get("methods", [])}
        self.method = method if method in self.methods else next(iter(self.methods), None)
        self.last_called: str | None = None
        self.batch: Batch | None = None
        self._args_of: dict[str, str] = {}  # per method: the arguments typed for it

    @property
    def running(self) -> bool:
        return bool(self._in_flight)

    def compose(self) -> ComposeResult:
        with Vertical(id="invoke-dialog", classes="dialog"):
            yield Label(Text.assemble("Invoke ", (self.target, "bold")), id="invoke-title")
            with Horizontal(id="invoke-body"):
                yield OptionList(*[Option(name, id=name) for name in self.methods], id="invoke-methods")
                with Vertical(id="invoke-form"):
                    yield Static(id="invoke-signature")
                    with Horizontal(id="invoke-line"):
                        yield Input(placeholder="arguments, as in Python: 5, 'text', by=2", id="invoke-args")
                        yield Input(placeholder="×1", id="invoke-times", restrict=r"[0-9]*", max_length=4,
                                    tooltip="how many calls to start at once (concurrent callers)")
                    yield Static(id="invoke-check")
                    with VerticalScroll(id="invoke-result-box"):
                        yield Static(id="invoke-result")
            yield Static(Text("Enter calls (again while calls run) · Tab: ×N calls at once · ↑↓ method · "
                              "Esc closes (running calls go on)", style="dim"), id="invoke-hint")

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

    def _switch_to(self, method: str | None) -> None:
        """Another method: its own arguments (empty the first time) and their check."""
        if method == self.method:
            return
        field = self.query_one("#invoke-args", Input)
        if self.method is not None:
            self._args_of[self.method] = field.value
        self.method = method
        self._show_method()
        field.value = self._args_of.get(method or "", "")
        self._check(field.value)

    @on(OptionList.OptionHighlighted, "#invoke-methods")
    def _method_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._switch_to(event.option.id)

    @on(OptionList.OptionSelected, "#invoke-methods")
    def _method_selected(self, event: OptionList.OptionSelected) -> None:
        self._switch_to(event.option.id)
        self.query_one("#invoke-args", Input).focus()

    @on(Input.Changed, "#invoke-args")
    def _args_changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, text: str) -> tuple[list, dict] | None:
        check = self.query_one("#invoke-check", Static)
        field = self.query_one("#invoke-args", Input)
        try:
            args, kwargs = parse_call_args(f"({text})")  # the command language's REF.METHOD(ARGS)
            problem = None
            if self.method is not None:
                problem = bind_check(self.methods[self.method].get("signature", "(...)"), args, kwargs)
        except ParseError as exc:
            problem = exc.message + (f" ({exc.hint})" if exc.hint else "")
        if problem is not None:
            field.add_class("-invalid")
            check.update(Text(f"✗ {problem}", style="red"))
            return None
        field.remove_class("-invalid")
        if self.method is not None:
            check.update(Text(f"✓ {call_text(self.method, args, kwargs)}", style="green"))
        return args, kwargs

    def _times(self) -> int:
        text = self.query_one("#invoke-times", Input).value.strip()
        return max(1, min(MAX_TIMES, int(text))) if text.isdigit() else 1

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        parsed = self._check(self.query_one("#invoke-args", Input).value)
        if parsed is None or self.method is None:
            self.app.bell()
            return
        self._start(self.method, *parsed, times=self._times())

    def _start(self, method: str, args: list, kwargs: dict, times: int = 1) -> None:
        """Start ``times`` calls at once, whatever is still running; each reports into this batch."""
        batch = self.batch = Batch(method, args, kwargs, times)
        self.last_called = method
        for i in range(times):
            fut = self.invoker(method, list(args), dict(kwargs))
            self._in_flight[fut] = method
            self.run_worker(self._await_call(batch, i, fut), group="invoke")
        self._show_batch()

    async def _await_call(self, batch: Batch, index: int, fut: concurrent.futures.Future) -> None:
        try:
            # shielded: closing the dialog cancels this wait, never the call itself
            result = await asyncio.shield(asyncio.wrap_future(fut))
        except (Exception, asyncio.CancelledError) as exc:  # shown as the caller sees it
            if isinstance(exc, asyncio.CancelledError) and not fut.cancelled():
                raise  # the dialog is closing; the call goes on
            batch.outcomes[index] = (False, exc, time.monotonic() - batch.started)
        else:
            batch.outcomes[index] = (True, result, time.monotonic() - batch.started)
        self._in_flight.pop(fut, None)
        if batch is self.batch:
            self._show_batch()

    def _show_batch(self) -> None:
        batch = self.batch
        if batch is None:
            return
        box = self.query_one("#invoke-result-box")
        failed = [o for o in batch.outcomes if o is not None and not o[0]]
        box.set_class(bool(failed), "-error")
        self.query_one("#invoke-result", Static).update(_batch_renderable(batch, len(self._in_flight)))

    def action_close(self) -> None:
        if self.on_leave_running is not None:
            for fut, method in list(self._in_flight.items()):
                if not fut.done():
                    self.on_leave_running(method, fut)
        self.dismiss(self.last_called)

    def on_key(self, event) -> None:
        # ↑/↓ in the arguments field pick the method, so the hands stay on one field
        if event.key in ("up", "down") and self.query_one("#invoke-args", Input).has_focus and self.methods:
            event.stop()
            methods = self.query_one("#invoke-methods", OptionList)
            n = len(self.methods)
            methods.highlighted = ((methods.highlighted or 0) + (1 if event.key == "down" else -1)) % n


def _batch_renderable(batch: Batch, in_flight: int) -> Group:
    """One call: its result or error. ×N: a tally, then each call's outcome in the order they were started."""
    parts: list[Any] = []
    if batch.times == 1:
        outcome = batch.outcomes[0]
        if outcome is None:
            parts.append(Text(f"calling {batch.method}… (it waits its turn in the object's queue)", style="yellow"))
        elif outcome[0]:
            parts.append(_result_renderable(batch.method, outcome[1], duration(outcome[2])))
        else:
            parts.append(_error_text(outcome[1], duration(outcome[2])))
    else:
        done = [o for o in batch.outcomes if o is not None]
        ok = sum(1 for o in done if o[0])
        head = Text.assemble((f"×{batch.times} {call_text(batch.method, batch.args, batch.kwargs, 50)} at once: ",
                              "bold"), (f"{ok} returned", "green"), ", ",
                             (f"{len(done) - ok} raised", "red" if len(done) > ok else ""), ", ",
                             (f"{batch.pending} waiting", "yellow" if batch.pending else ""))
        parts.append(head)
        for i, o in enumerate(batch.outcomes, 1):
            if o is None:
                parts.append(Text(f"  {i:>3} …", style="yellow"))
            elif o[0]:
                parts.append(Text.assemble(f"  {i:>3} → ", (short(o[1], 60), "green"), (f"  {duration(o[2])}", "dim")))
            else:
                parts.append(Text.assemble(f"  {i:>3} ✗ ", (f"{type(o[1]).__name__}: {o[1]}", "red")))
    others = in_flight - batch.pending
    if others > 0:
        parts.append(Text(f"and {others} earlier call{'s' if others != 1 else ''} still running", style="dim"))
    return Group(*parts)


def _error_text(exc: BaseException, took: str) -> Text:
    return Text.assemble(("✗ ", "bold red"), (type(exc).__name__, "bold red"),
                         f": {exc}" if str(exc) else " (the call was cancelled)", (f"\n  raised after {took}", "dim"))


def _result_renderable(method: str, result: Any, took: str) -> Group:
    return Group(Text.assemble(("→ ", "bold green"), (f"{method} returned", "green"), (f" in {took} (durable)", "dim")),
                 Pretty(result))
