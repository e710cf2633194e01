"""The Sockets tab: an object's WebSockets (tags, attachment, last message, auto-responses).

Shown only while the selected object has open sockets (README, "WebSockets that
outlive hibernation"); they stay listed while the object hibernates, since the
gateway, not the object, holds them. Read once a second through the facade's
``websockets`` operation, off the UI thread.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ... import glossary

TOOLTIP = glossary.TABS["sockets"]


def _ago(t: float | None, now: float) -> str:
    return "never" if t is None else f"{max(0.0, now - t):.0f}s ago"


def render_sockets(doc: dict[str, Any], now: float | None = None) -> RenderableType:
    now = time.time() if now is None else now
    sockets = doc.get("sockets") or []
    if not sockets:
        return Text("No open WebSockets.", style="dim")
    auto = doc.get("auto_response")
    head = Text.assemble((f"{len(sockets)} open WebSocket{'s' if len(sockets) != 1 else ''}", "bold"))
    if auto:
        head.append(f"  · auto-response {auto[0]!r} → {auto[1]!r} (answered without waking the object)", "dim")
    lines = [head]
    for s in sockets:
        line = Text.assemble(
            (f"#{s['seq']}", "bold"),
            "  tags ",
            (", ".join(s.get("tags") or []) or "—", "cyan"),
            f"  in {s.get('messages_in', 0)} / out {s.get('messages_out', 0)}",
            f"  last message {_ago(s.get('last_message_at'), now)}",
        )
        if s.get("auto_response_at"):
            line.append(f"  auto-responded {_ago(s['auto_response_at'], now)}", "dim")
        if s.get("attachment") is not None:
            line.append("\n    attachment ", "dim")
            line.append(json.dumps(s["attachment"])[:300])
        lines.append(line)
    return Group(*lines)


class SocketsView(VerticalScroll):
    """The rendered list; ``show`` replaces it."""

    def compose(self):
        yield Static(Text("…", style="dim"), id="sockets-body")

    def show(self, doc: dict[str, Any]) -> None:
        self.query_one("#sockets-body", Static).update(render_sockets(doc))
