"""The invoke dialog: pick a method, type its arguments (checked as you type), see the result.

Enter submits a ``call`` command of the command language (``call REF METHOD
ARGS``, with ``--times N --concurrent`` for ×N) through the screen's invoker,
and shows the registry's answer: the result, or the error with the user's own
code location, in the words the REPL uses.
"""

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

from ...commands import ErrorInfo, Outcome
from ...commands.parsing import ParseError, parse_call_args
from ...present.formats import call_text, duration, relative_path, short
from ...present.signature import bind_check

Invoker = Callable[[str, list, dict, int], concurrent.futures.Future]  # (method, args, kwargs, times) -> Outcome


MAX_TIMES = 1000


class Batch:
    """The calls one Enter started (×N of them, at once, as one ``call --times N --concurrent``) and their answer."""

    def __init__(self, method: str, args: list, kwargs: dict, times: int):
        self.method, self.args, self.kwargs, self.times = method, args, kwargs, times
        self.started = time.monotonic()
        self.outcome: Outcome | None = None  # the registry's answer, once it came
        self.failure: BaseException | None = None  # the command could not be run at all
        self.took = 0.0

    @property
    def pending(self) -> int:
        return self.times if self.outcome is None and self.failure is None else 0


class InvokeScreen(ModalScreen[str | None]):
    """Calls one method of one object through its stub, as a caller would.

    Enter calls; Enter again while calls run starts more (they queue in the
    object like any other callers'). ×N starts N calls at once. Dismissed with
    the name of the last method it called (None if none).
    """

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(
        self,
        target: str,
        namespace: dict[str, Any],
        invoker: Invoker,
        method: str | None = None,
        on_leave_running: Callable[[str, concurrent.futures.Future], None] | None = None,
    ) -> None:
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
        self.shown_batch: Batch | None = None  # the calls the result shows (not ``batch``: Widget.batch)
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
                        yield Input(
                            placeholder="×1",
                            id="invoke-times",
                            restrict=r"[0-9]*",
                            max_length=4,
                            tooltip="how many calls to start at once (concurrent callers)",
                        )
                    yield Static(id="invoke-check")
                    with VerticalScroll(id="invoke-result-box"):
                        yield Static(id="invoke-result")
            yield Static(
                Text(
                    "Enter calls (again while calls run) · Tab: ×N calls at once · ↑↓ method · "
                    "Esc closes (running calls go on)",
                    style="dim",
                ),
                id="invoke-hint",
            )

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
        """Start ``times`` calls at once, whatever is still running; their answer reports into this batch."""
        batch = self.shown_batch = Batch(method, args, kwargs, times)
        self.last_called = method
        fut = self.invoker(method, list(args), dict(kwargs), times)
        self._in_flight[fut] = method
        self.run_worker(self._await_call(batch, fut), group="invoke")
        self._show_batch()

    async def _await_call(self, batch: Batch, fut: concurrent.futures.Future) -> None:
        try:
            # shielded: closing the dialog cancels this wait, never the call itself
            batch.outcome = await asyncio.shield(asyncio.wrap_future(fut))
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and not fut.cancelled():
                raise  # the dialog is closing; the call goes on
            batch.failure = exc
        batch.took = time.monotonic() - batch.started
        self._in_flight.pop(fut, None)
        if batch is self.shown_batch:
            self._show_batch()

    def _show_batch(self) -> None:
        batch = self.shown_batch
        if batch is None:
            return
        box = self.query_one("#invoke-result-box")
        out = batch.outcome
        failed = batch.failure is not None or (out is not None and not out.ok)
        if out is not None and out.ok and batch.times > 1:
            failed = bool(out.result.get("errors"))
        box.set_class(failed, "-error")
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
    """One call: its result or error. ×N: a tally, then each result (lost updates show as repeats)."""
    parts: list[Any] = []
    took = duration(batch.took)
    out = batch.outcome
    if batch.failure is not None:
        parts.append(
            Text(f"✗ the call could not be sent: {type(batch.failure).__name__}: {batch.failure}", style="bold red")
        )
    elif out is None:
        what = call_text(batch.method, batch.args, batch.kwargs, 50)
        parts.append(
            Text(
                f"calling {what}{f' ×{batch.times} at once' if batch.times > 1 else ''}… waiting for "
                "the answer (the Queue tab shows whether it is queued, running, suspended at an await, "
                "or held by the output gate)",
                style="yellow",
            )
        )
    elif not out.ok:
        assert out.error is not None  # a failed Outcome carries its error (commands/runner.py)
        parts.append(_error_text(out.error, took))
    elif batch.times == 1:
        parts.append(_result_renderable(batch.method, out.result, took))
    else:
        result = out.result
        errors = result.get("errors", [])
        parts.append(
            Text.assemble(
                (f"×{batch.times} {call_text(batch.method, batch.args, batch.kwargs, 50)} at once: ", "bold"),
                (f"{len(result['results'])} returned", "green"),
                ", ",
                (f"{len(errors)} raised", "red" if errors else ""),
                (f"  in {took}", "dim"),
            )
        )
        for i, value in enumerate(result["results"], 1):
            parts.append(Text.assemble(f"  {i:>3} → ", (short(value, 60), "green")))
        for e in errors:
            parts.append(Text.assemble("    ✗ ", (f"{e['type']}: {e['message']}", "red")))
    others = in_flight - (1 if out is None and batch.failure is None else 0)
    if others > 0:
        parts.append(Text(f"and {others} earlier call{'s' if others != 1 else ''} still running", style="dim"))
    return Group(*parts)


def _error_text(error: ErrorInfo, took: str) -> Text:
    """What raised, and where in the user's own code (as the REPL prints it)."""
    text = Text.assemble(("✗ ", "bold red"), (error.type, "bold red"), f": {error.message}")
    if error.hint:
        text.append(f"\n  {error.hint}", "yellow")
    for frame in error.traceback[-2:]:
        text.append(f"\n  {relative_path(frame['file'])}:{frame['line']} in {frame['function']}", "bold")
        if frame.get("code"):
            text.append(f"\n      {frame['code']}", "cyan")
    text.append(f"\n  raised after {took}", "dim")
    return text


def _result_renderable(method: str, result: Any, took: str) -> Group:
    return Group(
        Text.assemble(("→ ", "bold green"), (f"{method} returned", "green"), (f" in {took} (durable)", "dim")),
        Pretty(result),
    )
