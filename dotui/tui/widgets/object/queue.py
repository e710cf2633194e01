"""The Queue tab: the gates, calls running or suspended, calls waiting, results held, then finished calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ....present.formats import call_text, duration, error_line, result_text
from ... import glossary

STATUS_GLYPH = {"running": "▶", "suspended": "⏸", "held": glossary.HELD_MARK, "queued": "…", "done": "✓", "failed": "✗"}
STATUS_STYLE = {
    "running": "bold yellow",
    "suspended": "cyan",
    "held": "magenta",
    "queued": "dim",
    "done": "green",
    "failed": "bold red",
}


def why_waiting(info: Mapping[str, Any], mode: str, active: list[dict[str, Any]]) -> str:
    """Why the first queued call has not started, in the model's words."""
    state = info.get("state")
    if state == "hibernated" or state == "broken":
        return "waits for the object to wake (its constructor runs first)"
    if state == "waking":
        return "waits: the object is waking, its constructor is running"
    if mode == "serial" and active:
        first = active[0]
        return f"serial class: waits for #{first['seq']} {first['method']} to finish"
    if info.get("gate_held"):
        return "kept out by the input gate: a call is inside block_concurrency_while"
    holder = next((c for c in active if c.get("status") == "running"), None)
    if holder is not None:
        return f"waits for #{holder['seq']} {holder['method']}, which holds the object until it awaits or returns"
    return "waits its turn in the FIFO queue"


def _call_line(
    c: dict[str, Any], status: str, style: str, took: str, detail: str | None, result: Text | None = None
) -> Table:
    """One call: its number, then its status and arguments, with ``detail`` below (wrapped under it)."""
    body = Text.assemble(
        (status, style),
        (f" {took}" if took else "", "dim"),
        "  ",
        (call_text(c["method"], c.get("args", ()), c.get("kwargs"), 36), "bold"),
    )
    if result is not None:
        body.append("  ")
        body.append_text(result)
    if detail:
        body.append("\n" + detail, "dim italic")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=4, no_wrap=True, style="dim")
    grid.add_column(ratio=1)
    grid.add_row(f"#{c['seq']}", body)
    return grid


def render_queue(
    info: Mapping[str, Any] | None,
    queue: list[dict[str, Any]] | None,
    history: list[dict[str, Any]] | None,
    mode: str,
    now: float,
) -> RenderableType:
    if info is None:
        return Text("Select an instance to see its call queue.", style="dim")
    parts: list[RenderableType] = []
    held_in = info.get("gate_held") and mode != "serial"
    held_out = info.get("output_held")
    if mode == "serial":
        gate_in = Text.assemble(("input gate ", "bold"), ("serial: one call at a time, start to finish", "dim"))
    elif held_in:
        gate_in = Text.assemble(
            (f"{glossary.GATE_MARK} input gate held", "bold red"),
            " (block_concurrency_while): nothing else starts or resumes",
        )
    else:
        gate_in = Text.assemble(("input gate ", "bold"), ("open: calls may interleave where a call awaits", "dim"))
    if held_out:
        gate_out = Text.assemble(
            (f"{glossary.HELD_MARK} output gate holding", "bold magenta"), " results until their writes are durable"
        )
    else:
        gate_out = Text.assemble(("output gate ", "bold"), ("clear: results go out as they return", "dim"))
    if held_in or held_out:
        parts.append(Text("\n").join([gate_in, gate_out]))
    else:
        parts.append(Text("  ·  ", "dim").join([gate_in, gate_out]))  # the usual case, in one line

    queue = queue or []
    active = [c for c in queue if c.get("status") in ("running", "suspended", "held")]
    waiting = [c for c in queue if c.get("status") == "queued"]
    if not active and not waiting:
        state = info.get("state")
        idle = "nothing running, nothing queued" + (
            " (hibernated: the next call wakes it)" if state == "hibernated" else ""
        )
        parts.append(Text(idle, style="dim"))
    if active:
        any_held = any(c.get("status") == "held" for c in active)
        parts.append(Text("Running, and results held" if any_held else "Running", style="bold underline"))
        for c in active:
            status = c["status"]
            detail = glossary.CALL_STATUS[status]
            if status == "suspended" and c.get("awaiting"):
                if info.get("gate_held") and mode != "serial" and len(active) == 1:
                    detail = f"awaiting {c['awaiting']}, holding the input gate: no other call runs meanwhile"
                elif mode == "serial":
                    detail = f"awaiting {c['awaiting']}: a serial class lets no other call in meanwhile"
                else:
                    detail = f"awaiting {c['awaiting']}: other calls may run meanwhile"
            elif status == "held":
                detail = "returned; its result waits at the output gate for the commit of its writes"
            since = c.get("started_at")
            parts.append(
                _call_line(
                    c,
                    f"{STATUS_GLYPH[status]} {status}",
                    STATUS_STYLE[status],
                    duration(max(0.0, now - since)) if since else "",
                    detail,
                )
            )
    if waiting:
        parts.append(Text(f"Queued ({len(waiting)}), in arrival order", style="bold underline"))
        reason = why_waiting(info, mode, active)
        for i, c in enumerate(waiting[:200]):
            waited = duration(max(0.0, now - c["queued_at"])) if c.get("queued_at") else ""
            parts.append(
                _call_line(
                    c, f"{STATUS_GLYPH['queued']} queued", STATUS_STYLE["queued"], waited, reason if i == 0 else None
                )
            )
        if len(waiting) > 200:
            parts.append(Text(f"     … and {len(waiting) - 200} more", style="dim"))

    parts.append(Text(""))
    history = list(reversed(history or []))
    if history:
        parts.append(Text(f"Finished (last {len(history)}, newest first)", style="bold underline"))
    elif info and info.get("state") == "broken":
        parts.append(
            Text(
                "Finished: none. It is broken (its constructor raised, its file is unreadable or a commit "
                "failed): fix it and reload; the next call tries again from durable state",
                style="red",
            )
        )
    else:
        parts.append(Text("Finished: none yet since it woke", style="dim"))
    for c in history:
        if c.get("status") == "failed" or "error" in c:
            err = c.get("error") or {}
            glyph, style = f"{STATUS_GLYPH['failed']}", STATUS_STYLE["failed"]
            result = Text(error_line(err), "red")
        else:
            glyph, style = f"{STATUS_GLYPH['done']}", STATUS_STYLE["done"]
            result = Text("→ " + result_text(c.get("method", ""), c.get("result"), 60), "green")
        times = [f"queued {duration(c.get('queue_time'))}", f"ran {duration(c.get('run_time'))}"]
        if c.get("held_time") is not None:
            times.append(f"held {duration(c.get('held_time'))}")
        parts.append(_call_line(c, glyph, style, "", " · ".join(times), result))
    return Group(*parts)


class QueueView(VerticalScroll):
    """Shows ``render_queue`` for the selected object."""

    def compose(self):
        yield Static(Text("Select an instance to see its call queue.", style="dim"), id="queue-body")

    def show(self, renderable: RenderableType) -> None:
        self.query_one("#queue-body", Static).update(renderable)
