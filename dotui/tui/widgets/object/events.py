"""The Events tab: the selected object's own event stream, newest last."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable

from rich.text import Text
from textual.widgets import RichLog

from ....present.formats import duration, short

STYLE = {
    "call.queued": "dim", "call.started": "yellow", "call.suspended": "cyan", "call.resumed": "yellow",
    "call.held": "magenta", "call.finished": "green", "commit": "blue", "state": "bold", "reset": "bold red",
    "gate.blocked": "red", "gate.released": "red", "commit.failed": "bold red",
}


def event_line(ev: dict[str, Any]) -> Text:
    typ = ev.get("type", "?")
    t = ev.get("t")
    stamp = _dt.datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3] if t else "--:--:--"
    text = Text.assemble((stamp + " ", "dim"), (f"{typ:<15}", STYLE.get(typ, "bold" if typ.startswith("alarm") else "")))
    if ev.get("call") is not None:
        text.append(f" #{ev['call']} {ev.get('method', '')}")
    if typ == "call.queued" and (ev.get("args") or ev.get("kwargs")):
        text.append(" " + short(ev.get("args"), 30) + (" " + short(ev.get("kwargs"), 30) if ev.get("kwargs") else ""), "dim")
    elif typ == "call.suspended" and ev.get("awaiting"):
        text.append(f" on {ev['awaiting']}", "dim")
    elif typ == "call.finished":
        if ev.get("ok", True):
            text.append(" → " + short(ev.get("result"), 50), "green")
        else:
            err = ev.get("error") or {}
            text.append(f" ✗ {err.get('type')}: {err.get('message')}", "red")
        text.append(f"  run {duration(ev.get('run_time'))}", "dim")
    elif typ == "commit":
        keys = ev.get("keys", [])
        what = [f"{len(keys)} key{'s' if len(keys) != 1 else ''} {short(keys, 40)}"] if keys else []
        if ev.get("alarm_changed"):
            what.append("the alarm")
        if ev.get("cleared"):
            what.insert(0, "delete_all")
        text.append(f" {' + '.join(what) or 'nothing'}, {ev.get('record_bytes', 0)} B log record"
                    + (f", shared with {ev.get('objects', 1) - 1} other objects" if ev.get('objects', 1) > 1 else ""),
                    "dim")
    elif typ == "state":
        text.append(f" {ev.get('old')} → {ev.get('new')}")
    elif typ in ("reset", "commit.failed"):
        text.append(" " + str(ev.get("reason") or ev.get("error") or ""), "red")
    elif typ.startswith("alarm"):
        extra = {k: v for k, v in ev.items() if k in ("retry_count", "delay", "error", "retries")}
        if extra:
            text.append(" " + short(extra, 60), "dim")
    return text


class EventsView(RichLog):
    """A bounded log of one object's events."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=500, wrap=False, markup=False, highlight=False, **kwargs)

    def replay(self, events: Iterable[dict[str, Any]]) -> None:
        self.clear()
        self.append(events)

    def append(self, events: Iterable[dict[str, Any]]) -> None:
        for ev in events:
            self.write(event_line(ev))
