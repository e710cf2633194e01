"""The Events tab: the selected object's own event stream, newest last."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from ....present.formats import duration, error_line, short
from ....present.workers import call_lines, request_line

STYLE = {
    "call.queued": "dim",
    "call.started": "yellow",
    "call.suspended": "cyan",
    "call.resumed": "yellow",
    "call.held": "magenta",
    "call.finished": "green",
    "commit": "blue",
    "state": "bold",
    "reset": "bold red",
    "gate.blocked": "red",
    "gate.released": "red",
    "commit.failed": "bold red",
    "worker.request": "bold cyan",
}


def event_line(ev: dict[str, Any]) -> Text:
    typ = ev.get("type", "?")
    t = ev.get("t")
    stamp = _dt.datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3] if t else "--:--:--"
    text = Text.assemble(
        (stamp + " ", "dim"), (f"{typ:<15}", STYLE.get(typ, "bold" if typ.startswith("alarm") else ""))
    )
    if typ == "worker.request":  # a call of the Worker that called this object (present/workers.py)
        text.append(f" Worker #{ev.get('request')} {request_line(ev)}")
        for line in call_lines(ev):
            text.append(f"\n    └ {line}", "dim")
        return text
    if ev.get("call") is not None:
        text.append(f" #{ev['call']} {ev.get('method', '')}")
    if typ == "call.queued" and (ev.get("args") or ev.get("kwargs")):
        text.append(
            " " + short(ev.get("args"), 120) + (" " + short(ev.get("kwargs"), 120) if ev.get("kwargs") else ""), "dim"
        )
    elif typ == "call.suspended" and ev.get("awaiting"):
        text.append(f" on {ev['awaiting']}", "dim")
    elif typ == "call.finished":
        if ev.get("ok", True):
            text.append(" → " + short(ev.get("result"), 240), "green")  # wrapped, not cut
        else:
            err = ev.get("error") or {}
            text.append(f" ✗ {error_line(err)}", "red")
        text.append(f"  run {duration(ev.get('run_time'))}", "dim")
    elif typ == "commit":
        keys = ev.get("keys", [])
        n = ev.get("key_count", len(keys))  # the event names the first EVENT_KEYS (committer.py)
        what = [f"{n} key{'s' if n != 1 else ''} {short(keys, 40)}"] if keys else []
        if ev.get("alarm_changed"):
            what.append("the alarm")
        if ev.get("cleared"):
            what.insert(0, "delete_all")
        text.append(
            f" {' + '.join(what) or 'nothing'}, {ev.get('record_bytes', 0)} B log record"
            + (f", shared with {ev.get('objects', 1) - 1} other objects" if ev.get("objects", 1) > 1 else ""),
            "dim",
        )
    elif typ == "state":
        text.append(f" {ev.get('old')} → {ev.get('new')}")
    elif typ in ("reset", "commit.failed"):
        text.append(" " + str(ev.get("reason") or ev.get("error") or ""), "red")
    elif typ.startswith("alarm"):
        extra = {k: v for k, v in ev.items() if k in ("retry_count", "delay", "error", "retries")}
        if extra:
            text.append(" " + short(extra, 60), "dim")
    return text


KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("all", ()),
    ("calls", ("call.", "worker.")),
    ("commits", ("commit",)),
    ("state", ("state", "reset")),
    ("alarms", ("alarm",)),
    ("gates", ("gate.", "call.held")),
]


class EventsView(RichLog):
    """A bounded log of one object's events: wrapped, searchable, by kind, following or paused.

    The main screen drives it on the Events tab: ``p`` pauses (new events are kept, not shown) and
    follows again, ``v`` shows one kind of event after another, ``f`` finds events containing a text.
    """

    KEEP = 500

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=self.KEEP, wrap=True, markup=False, highlight=False, **kwargs)
        self.events: list[dict[str, Any]] = []
        self.following = True
        self.kind = "all"
        self.search = ""
        self.missed = 0  # events that arrived while paused

    def on_mount(self) -> None:
        self.border_subtitle = self.status()

    def replay(self, events: Iterable[dict[str, Any]]) -> None:
        self.events = list(events)[-self.KEEP :]
        self.missed = 0
        self._redraw()

    def append(self, events: Iterable[dict[str, Any]]) -> None:
        new = list(events)
        self.events = (self.events + new)[-self.KEEP :]
        if not self.following:
            self.missed += len(new)
            self.border_subtitle = self.status()
            return
        for ev in new:
            if self._shows(ev):
                self.write(event_line(ev))

    # ------------------------------------------------------------ what is shown
    def _shows(self, ev: dict[str, Any]) -> bool:
        prefixes = dict(KINDS)[self.kind]
        if prefixes and not ev.get("type", "").startswith(prefixes):
            return False
        return not self.search or self.search.lower() in event_line(ev).plain.lower()

    def _redraw(self) -> None:
        self.clear()
        for ev in self.events:
            if self._shows(ev):
                self.write(event_line(ev))
        self.border_subtitle = self.status()

    def status(self) -> str:
        parts = ["following" if self.following else f"paused ({self.missed} new)"]
        if self.kind != "all":
            parts.append(f"only {self.kind}")
        if self.search:
            parts.append(f"find {self.search!r}")
        return " · ".join(parts) + "   p pause · v kind · f find"

    def toggle_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self.missed = 0
            self._redraw()
        self.border_subtitle = self.status()

    def next_kind(self) -> None:
        names = [k for k, _ in KINDS]
        self.kind = names[(names.index(self.kind) + 1) % len(names)]
        self._redraw()

    def find(self, text: str) -> None:
        self.search = text.strip()
        self._redraw()
