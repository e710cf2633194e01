"""How a Worker request reads (a wrangler project's, docs/cloudflare.md): one line for the request, one
per object call it made. ``watch`` (``render.event_parts``), ``requests`` and the TUI's Events tab all
write it this way; ``--json`` prints the data as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from ..commands.parsing import format_ref
from .formats import clock, ms

if TYPE_CHECKING:
    from .render import Renderer


def request_line(req: dict[str, Any]) -> str:
    """``GET /room-1/show → 200 (1.40 ms)``, and the error if the Worker raised."""
    line = f"{req.get('method')} {req.get('path')} → {req.get('status')} ({ms(req.get('run_time'))} ms)"
    if req.get("error"):
        line += f" ✗ {req['error']}"
    return line


def call_line(call: dict[str, Any]) -> str:
    """``Counter/room-1.show() ✓ 0.31 ms`` (or ✗ and the error) of one call the Worker made."""
    who = format_ref(call.get("namespace", "?"), call.get("name"), call.get("id", ""))
    if call.get("ok", True):
        outcome = "✓"
    else:
        err = call.get("error") or {}
        outcome = f"✗ {err.get('type')}: {err.get('message')}"
    return f"{who}.{call.get('method')}() {outcome} {ms(call.get('run_time'))} ms"


def call_lines(req: dict[str, Any]) -> list[str]:
    """A line per call the request made, and one counting those not listed."""
    lines = [call_line(c) for c in req.get("calls") or ()]
    if req.get("more_calls"):
        lines.append(f"… and {req['more_calls']} more calls")
    return lines


def touched(ev: dict[str, Any]) -> list[tuple[str, str]]:
    """The objects (namespace, id) a ``worker.request`` event called, each once, in order."""
    seen: dict[tuple[str, str], None] = {}
    for c in ev.get("calls") or ():
        if isinstance(c, dict) and isinstance(c.get("namespace"), str) and isinstance(c.get("id"), str):
            seen[(c["namespace"], c["id"])] = None
    return list(seen)


def _requests(r: Renderer, result: dict[str, Any]) -> None:
    reqs = result["requests"]
    if not reqs:
        r.notice(
            "no Worker requests yet: dotui serve answers at / with the project's Default.fetch "
            "(a dotui objects folder has no Worker)"
        )
        return
    table = Table(title="Worker requests", title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("at", style="dim")
    table.add_column("request", overflow="fold")
    table.add_column("status", justify="right")
    table.add_column("ms", justify="right")
    table.add_column("object calls it made", overflow="fold")
    for q in reqs:
        status = q.get("status")
        style = "red" if q.get("error") or (isinstance(status, int) and status >= 500) else "green"
        table.add_row(
            str(q.get("request")),
            clock(q.get("started_at")),
            f"{q.get('method')} {q.get('path')}",
            Text(str(status), style=style),
            ms(q.get("run_time")),
            "\n".join(call_lines(q)) or Text("(none)", style="dim"),
        )
    r.out.print(table)


def renderers(r: Renderer) -> dict[str, Callable[[Any], None]]:
    """The Renderer's entry for ``requests``."""
    return {"requests": lambda res: _requests(r, res)}
