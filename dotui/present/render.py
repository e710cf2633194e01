"""Rendering the command registry's data with rich: tables, highlighted JSON, one-line errors, events.

The commands return data; this module turns it into text for a terminal (or,
without colour, for a pipe): the REPL, batch mode and the TUI's command bar
all print through ``Renderer``.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from rich.console import Console, ConsoleOptions, Group, JustifyMethod, RenderableType, RenderResult
from rich.highlighter import JSONHighlighter
from rich.json import JSON
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from ..commands.parsing import format_ref
from ..commands.runner import ErrorInfo, Outcome
from .formats import (
    STORAGE,
    TIMED_METHODS,
    ago,
    alarm_text,
    call_text,
    clock,
    error_line,
    ms,
    printable,
    relative_path,
    result_text,
    short_json,
)
from .sql import renderers as sql_renderers
from .workers import call_lines, request_line
from .workers import renderers as worker_renderers

# The field of a command's answer that is its one line for people: printed by the REPL, toasted by the
# TUI, kept in --json with the rest of the answer, so a command that says one thing needs no renderer.
SAID = "said"

STATE_STYLE = {"live": "green", "hibernated": "blue", "waking": "yellow", "broken": "bold red"}


PIPE_WIDTH = 120  # a pipe has no width; tables are laid out for this one


class Printable:
    """``renderable`` with every control character in its text escaped (``formats.printable``), whatever
    it holds: object names, results, storage keys and values, event fields, error messages, docstrings,
    WebSocket messages. Only the text is touched; the terminal sequences rich itself emits for styles
    and for ``Segment.control`` are not text and pass. O(rendered length)."""

    def __init__(self, renderable: RenderableType):
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.renderable, options):
            yield segment if segment.control else Segment(printable(segment.text), segment.style)


class PrintableConsole(Console):
    """A rich Console whose every ``print`` escapes control characters in the text (``Printable``): the
    one place the REPL and ``-c`` decide what reaches the terminal (docs/trust.md). An escape is longer
    than the character it stands for and the layout was measured before it, so lines are not cropped
    to the width: a hostile name widens its row rather than losing its end."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        kwargs.setdefault("crop", False)
        super().print(*(Printable(o if not isinstance(o, str) else Text(o)) for o in objects), **kwargs)


def make_console(file: TextIO | None, terminal: bool, width: int | None = None) -> Console:
    """A console that colours and highlights only on a terminal and prints no control character of
    the text it is given (``PrintableConsole``)."""
    if width is None and not terminal:
        width = int(os.environ.get("COLUMNS") or PIPE_WIDTH)
    return PrintableConsole(
        file=file,
        force_terminal=terminal,
        no_color=not terminal,
        highlight=terminal,
        color_system="auto" if terminal else None,
        width=width,
        soft_wrap=False,
        emoji=False,
        markup=False,  # user text (docs, names, values) may hold [brackets]; styles come from Text
    )


def event_parts(ev: dict[str, Any]) -> tuple[str, str, str]:
    """(time, object, what happened) of one engine event."""
    kind = ev.get("type", "?")
    who = ""
    if ev.get("namespace") and ev.get("id"):
        who = format_ref(ev["namespace"], ev.get("name"), ev["id"])
    method = ev.get("method")
    what = kind
    if kind == "call.finished":
        if ev.get("ok"):
            what = f"{kind} {method} → {short_json(ev.get('result'))} ({ms(ev.get('run_time'))} ms)"
        else:
            err = ev.get("error") or {}
            what = f"{kind} {method} ✗ {error_line(err)}"
    elif kind == "call.queued":
        what = f"{kind} {call_text(method or '?', ev.get('args') or [], ev.get('kwargs') or {})}"
    elif kind == "call.suspended":
        what = f"{kind} {method} awaiting {ev.get('awaiting')}"
    elif kind.startswith("call.") or kind.startswith("gate."):
        what = f"{kind} {method}" if method else kind
    elif kind == "commit":
        keys = [repr(k) for k in ev.get("keys") or []]
        changed = keys[:5] + (["…"] if ev.get("key_count", len(keys)) > 5 else [])
        if ev.get("cleared"):
            changed.insert(0, "everything deleted")
        if ev.get("alarm_changed"):
            changed.append("the alarm")
        what = f"commit {', '.join(changed) or '(nothing)'} ({ev.get('record_bytes')} bytes)"
    elif kind == "worker.request":  # a request to a wrangler project's Worker (server/worker.py)
        who = "Worker"
        what = "\n    ".join([request_line(ev), *("└ " + c for c in call_lines(ev))])  # its calls under it
    elif kind == "state":
        what = f"state {ev.get('old')} → {ev.get('new')}"
    elif kind.startswith("alarm."):
        extra = f" retry {ev['retry_count']}" if ev.get("retry_count") else ""
        if ev.get("error"):
            extra += f" ✗ {ev['error']}"
        if ev.get("delay") is not None:
            extra += f" (next in {ev['delay']:g}s)"
        what = kind + extra
    elif kind == "reload":
        errs = ev.get("errors") or []
        what = f"reload: {', '.join(ev.get('namespaces') or [])}" + (f" ({len(errs)} file(s) failed)" if errs else "")
    elif kind in ("ws.sent", "ws.received"):
        what = ("→ " if kind == "ws.sent" else "← ") + str(ev.get("text"))
    elif kind.startswith("websocket."):
        what = f"{kind} #{ev.get('seq')}" + _socket_detail(ev)
    elif kind == "events.lost":
        what = f"{ev.get('count')} events lost (the reader fell behind)"
    elif ev.get("reason") or ev.get("error"):
        what = f"{kind}: {ev.get('reason') or ev.get('error')}"
    return clock(ev.get("t")), who, what


def _socket_detail(ev: dict[str, Any]) -> str:
    kind = ev.get("type")
    if kind == "websocket.accepted":
        return f" tags {ev.get('tags')}" if ev.get("tags") else ""
    if kind == "websocket.message":
        return f" {ev.get('size')} {'bytes' if ev.get('binary') else 'chars'}"
    if kind == "websocket.closed":
        return f" {ev.get('code')} {ev.get('reason') or ''} (by the {ev.get('by')})".replace("  ", " ")
    if kind == "websocket.handler_failed":
        err = ev.get("error") or {}
        return f" {ev.get('handler')} ✗ {err.get('type')}: {err.get('message')}"
    return ""


def event_style(ev: dict[str, Any]) -> str:
    kind = ev.get("type", "")
    if kind.startswith("alarm."):
        return "magenta"
    if (kind == "call.finished" and not ev.get("ok")) or kind in ("commit.failed", "reset", "checkpoint.failed"):
        return "red"
    if kind == "events.lost":
        return "yellow"
    if kind == "commit":
        return "cyan"
    if kind == "state":
        return STATE_STYLE.get(ev.get("new", ""), "")
    return ""


# ---------------------------------------------------------------- the renderer
# A class's concurrency mode, in words (``classes``): what a caller can expect of its calls.
MODES = {
    "input-gate": "calls may interleave at an await (the input gate opens there)",
    "serial": "serial: one call at a time, awaits included",
}


class Output(Protocol):
    """What a ``Renderer`` writes to: a rich ``Console``, or the TUI's command bar (``LogConsole`` in
    tui/widgets/command_bar.py)."""

    @property
    def is_terminal(self) -> bool: ...

    def print(self, *objects: Any, style: str | Style | None = None, soft_wrap: bool | None = None) -> None: ...

    def clear(self) -> None: ...


class Renderer:
    """Prints outcomes and events: results on ``out``, errors on ``err``."""

    def __init__(self, out: Output, err: Output | None = None):
        self.out = out
        self.err = err or out
        self._by_command: dict[str, Callable[[Any], None]] = {
            "classes": self.classes,
            "ls": self.ls,
            "storage": self.storage,
            "get": self.get,
            "put": self.put,
            "del": self.delete,
            "queue": self.queue,
            "history": self.history,
            "hibernate": self.hibernate,
            "wake": self.wake,
            "alarm": self.alarm,
            "watch": self.watch_end,
            "reload": self.reload,
            "stats": self.stats,
            "sleep": self.sleep,
            "help": self.help,
            "quit": lambda _: None,
            "clear": self.clear,
            "ws": self.ws,
            "tour": self.tour,
            "load": self.load,
            "call": self.call_result,
        }
        self._by_command.update(sql_renderers(self))  # sql, tables, bookmark, restore (present/sql.py)
        self._by_command.update(worker_renderers(self))  # requests (present/workers.py)

    def outcome(self, outcome: Outcome, where: str | None = None) -> None:
        if not outcome.ok:
            assert outcome.error is not None
            self.error(outcome.error, where)
            return
        show = self._by_command.get(outcome.command or "", self.value)
        show(outcome.result)

    # ------------------------------------------------------------ errors
    def error(self, error: ErrorInfo, where: str | None = None) -> None:
        """One red line (what was wrong, and the fix), then the user's own frames if any."""
        message = error.message
        if error.traceback or hasattr(builtins, error.type):
            message = f"{error.type}: {message}"
        line = Text()
        if where:
            line.append(f"{where}: ", style="bold")
        line.append("error: ", style="bold red")
        line.append(printable(message), style="red")
        if error.hint:
            line.append(f"  ({error.hint})", style="yellow")
        self.err.print(line, soft_wrap=True)
        if error.traceback:
            self.err.print(Text("  your code, most recent call last:", style="dim"))
            for f in error.traceback:
                self.err.print(
                    Text.assemble(
                        ("    ", ""),
                        (relative_path(f["file"]), "bold"),
                        (f":{f['line']}", ""),
                        (f" in {f['function']}", "dim"),
                    ),
                    soft_wrap=True,
                )
                if f.get("code"):
                    self.err.print(Text("      " + f["code"], style="cyan"), soft_wrap=True)

    def echo(self, line: str, where: str | None = None) -> None:
        """A command line as it was typed, before its result (``dotui run --echo``)."""
        self.out.print(
            Text.assemble(("› ", "bold cyan"), (line, "bold"), (f"  # {where}" if where else "", "dim")), soft_wrap=True
        )

    def notice(self, text: str, style: str = "dim") -> None:
        self.out.print(Text(text, style=style), soft_wrap=True)

    def event(self, ev: dict[str, Any]) -> None:
        if ev.get("type") == "load.progress":
            self.notice(f"  load: {ev['text']}")
            return
        if ev.get("type") == "tour.line":
            self._streamed_tour = True
            self.tour_line(ev["kind"], ev["text"])
            return
        t, who, what = event_parts(ev)
        self.out.print(
            Text.assemble((t + "  ", "dim"), (who + ("  " if who else ""), "bold"), (what, event_style(ev))),
            soft_wrap=True,
        )

    # ------------------------------------------------------------ values
    def value(self, value: Any) -> None:
        """An answer with no renderer of its own: its ``said`` line, when a command answers one
        (ARCHITECTURE.md, "How to add a command"), else the value as JSON."""
        said = value.get(SAID) if isinstance(value, dict) else None
        if isinstance(said, str):
            self.notice(said)
        else:
            self.out.print(json_text(value), soft_wrap=True)

    def classes(self, result: dict[str, Any]) -> None:
        table = Table(title="namespaces", title_justify="left", show_lines=False, expand=False)
        table.add_column("class", no_wrap=True)
        table.add_column("method")
        table.add_column("doc", overflow="fold")
        for ns in result["namespaces"]:
            traits = [MODES.get(ns["mode"], ns["mode"])] + (["has alarm()"] if ns.get("alarm") else [])
            traits.append(STORAGE.get(ns.get("backend", "kv"), str(ns.get("backend"))))
            name = Text(ns["name"], style="bold")
            name.append("\n" + relative_path(ns["file"]), style="dim")
            table.add_row(name, Text(", ".join(traits), style="dim"), Text(ns.get("doc") or "", style="italic"))
            for m in ns["methods"]:
                sig = Text(m["name"], style="green")
                sig.append(m["signature"], style="dim")
                table.add_row("", sig, (m.get("doc") or "").split("\n")[0])
            table.add_section()
        if result["namespaces"]:
            self.out.print(table)
        else:
            self.notice("no namespaces: the objects folder defines no DurableObject class")
        for e in result.get("load_errors") or []:
            self.error(ErrorInfo("LoadError", f"cannot load {relative_path(e)}", "fix the file, then reload"))

    def ls(self, result: dict[str, Any]) -> None:
        objects = result["objects"]
        if not objects:
            self.notice("no objects yet: a call creates one, as Class/name.method(...) (`classes` lists them)")
            return
        counts: dict[str, int] = {}
        for o in objects:
            counts[o["state"]] = counts.get(o["state"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        total = result.get("total", len(objects))
        title = f"{len(objects)} object{'s' if len(objects) != 1 else ''} ({summary})"
        if total > len(objects):
            title = f"{title}, page {result['page']} of {result['pages']} ({total:,} in all)"
        table = Table(title=title, title_justify="left")
        columns: list[tuple[str, JustifyMethod]] = [
            ("object", "left"),
            ("state", "left"),
            ("queue", "right"),
            ("calls", "right"),
            ("errors", "right"),
            ("keys", "right"),
            ("bytes", "right"),
            ("alarm", "left"),
            ("active", "left"),
        ]
        sockets = any(o.get("websockets") for o in objects)  # the column shows once an object has one
        if sockets:
            columns.insert(2, ("sockets", "right"))
        sharded = any("shard" in o for o in objects)  # served by a cluster (docs/cluster.md)
        if sharded:
            columns.insert(1, ("shard", "right"))
        sql = any(o.get("backend") == "sqlite" for o in objects)  # SQLite-backed objects (docs/sqlite.md)
        if sql:
            columns.insert(columns.index(("keys", "right")), ("backend", "left"))
        for col, justify in columns:
            table.add_column(col, justify=justify, no_wrap=col != "alarm")
        broken = []
        for o in objects:
            state = o["state"]
            if o.get("busy"):
                state += ", busy"
            cells = [
                o["ref"],
                Text(state, style=STATE_STYLE.get(o["state"], "")),
                str(o.get("queued", 0)),
                str(o.get("calls", 0)),
                str(o.get("errors", 0)),
                str(o.get("keys", 0)),
                str(o.get("bytes", 0)),
                alarm_text(o.get("alarm")),
                ago(o.get("last_active")),
            ]
            if sql:
                cells.insert(5, o.get("backend", "kv"))
            if sockets:
                cells.insert(2, str(o.get("websockets", 0)))
            if sharded:
                cells.insert(1, str(o.get("shard", "")))
            table.add_row(*cells)
            if o.get("broken"):
                broken.append((o["ref"], o["broken"]))
        self.out.print(table)
        if result.get("page", 1) < result.get("pages", 1):
            self.notice(f"ls --page {result['page'] + 1} for the next page, ls --all for every object")
        for ref, reason in broken:
            self.out.print(Text.assemble((f"{ref} is broken: ", "bold red"), (reason, "red")), soft_wrap=True)

    def storage(self, result: dict[str, Any]) -> None:
        head = Text.assemble((result["object"], "bold"), ("  " + relative_path(result["path"]), "dim"))
        if result.get("prefix"):
            head.append(f"  keys starting with {result['prefix']!r}", style="dim")
        self.out.print(head, soft_wrap=True)
        if result["values"]:
            self.value(result["values"])
        else:
            self.notice("(no keys)")
        if result.get("alarm") is not None:
            self.out.print(Text.assemble(("alarm: ", "bold"), alarm_text(result["alarm"])))
        logged = result["logged"]
        if logged["put"] or logged["deleted"] or logged["cleared"]:
            self.notice("committed to the log, not yet in the checkpoint file: " + _delta_text(logged), "cyan")
        pending = result["pending"]
        if pending["put"] or pending["deleted"] or pending["cleared"]:
            self.notice("written, not yet committed: " + _delta_text(pending), "yellow")

    def get(self, result: dict[str, Any]) -> None:
        if result["found"]:
            self.value(result["value"])
        else:
            self.notice(f"{result['object']} has no key {result['key']!r}")

    def put(self, result: dict[str, Any]) -> None:
        self.notice(f"put {result['key']!r} on {result['object']} (durable)")

    def delete(self, result: dict[str, Any]) -> None:
        if result["deleted"]:
            self.notice(f"deleted {result['key']!r} from {result['object']} (durable)")
        else:
            self.notice(f"{result['object']} had no key {result['key']!r}")

    def queue(self, result: dict[str, Any]) -> None:
        self._calls(result, f"{result['object']}: no calls running or queued", "queue")

    def history(self, result: dict[str, Any]) -> None:
        self._calls(
            result,
            f"{result['object']}: no finished calls since it woke (a hibernated object keeps only its counts: ls)",
            "history",
        )

    def _calls(self, result: dict[str, Any], empty: str, title: str) -> None:
        calls = result["calls"]
        if not calls:
            self.notice(empty)
            return
        table = Table(title=f"{title} of {result['object']}", title_justify="left")
        table.add_column("#", justify="right", style="dim")
        table.add_column("call", overflow="fold")
        table.add_column("status")
        table.add_column("outcome", overflow="fold")
        for col in ("queued ms", "ran ms", "held ms"):
            table.add_column(col, justify="right")
        for c in calls:
            status = c["status"]
            style = {"done": "green", "failed": "red", "suspended": "yellow", "queued": "blue", "held": "cyan"}.get(
                status, ""
            )
            if "error" in c:
                outcome = Text(error_line(c["error"]), style="red")
            elif "result" in c:
                outcome = Text(
                    result_text(c["method"], c["result"]) if c["method"] in TIMED_METHODS else short_json(c["result"])
                )
            elif c.get("awaiting"):
                outcome = Text(f"awaiting {c['awaiting']}", style="yellow")
            else:
                outcome = Text("")
            label = call_text(c["method"], c.get("args") or [], c.get("kwargs") or {})
            if c.get("kind") not in (None, "call"):
                label = f"[{c['kind']}] {label}"
            table.add_row(
                str(c["seq"]),
                label,
                Text(status, style=style),
                outcome,
                ms(c.get("queue_time")),
                ms(c.get("run_time")),
                ms(c.get("held_time")),
            )
        self.out.print(table)

    def hibernate(self, result: dict[str, Any]) -> None:
        if result["all"]:
            n = result["hibernated"]
            self.notice(f"hibernated {n} object{'s' if n != 1 else ''}")
        elif result["hibernated"]:
            self.notice(f"{result['object']} hibernated: its storage stays on disk; the next call wakes it")
        else:
            self.notice(f"{result['object']} was not live")

    def wake(self, result: dict[str, Any]) -> None:
        info = result["instance"]
        state = info["state"]
        line = Text.assemble(
            (result["object"], "bold"),
            " is ",
            (state, STATE_STYLE.get(state, "")),
            f" ({info.get('keys', 0)} keys, {info.get('bytes', 0)} bytes)",
        )
        self.out.print(line)

    def alarm(self, result: dict[str, Any]) -> None:
        if result["action"] == "delete":
            self.notice(f"alarm of {result['object']} deleted")
        elif result["alarm"] is None:
            self.notice(f"{result['object']} has no alarm")
        else:
            verb = "set for" if result["action"] == "set" else "is at"
            self.out.print(
                Text.assemble(
                    ("alarm of ", ""), (result["object"], "bold"), f" {verb} ", (alarm_text(result["alarm"]), "magenta")
                )
            )

    def watch_end(self, result: dict[str, Any]) -> None:
        how = "stopped" if result["interrupted"] else f"watched {result['seconds']:g}s"
        text = f"{how}: {result['count']} event{'s' if result['count'] != 1 else ''}"
        if result["lost"]:
            text += f", {result['lost']} lost"
        self.notice(text)

    def reload(self, result: dict[str, Any]) -> None:
        self.notice("reloaded: " + (", ".join(result["namespaces"]) or "(no namespaces)"), "green")
        for e in result["errors"]:
            self.error(ErrorInfo("LoadError", f"cannot load {relative_path(e)}", "fix the file, then reload"))

    def stats(self, result: dict[str, Any]) -> None:
        table = Table(title="engine", title_justify="left", show_header=False)
        table.add_column("what", style="bold")
        table.add_column("value", justify="right")
        per_shard = result.get("per_shard")  # a cluster's: the totals, then a column per shard
        if per_shard:
            table.show_header = True
            table.title = f"cluster of {len(per_shard)} shards"
            table.columns[1].header = "total"
            for s in per_shard:
                table.add_column(f"shard {s['shard']}", justify="right")
        for k, v in result.items():
            if k == "per_shard":
                continue
            cells = [k.replace("_", " "), _number(v)]
            if per_shard:
                cells += [_number(s.get(k, "")) if k != "shards" else "" for s in per_shard]
            table.add_row(*cells)
        self.out.print(table)

    def ws(self, result: dict[str, Any]) -> None:
        for m in [] if result.get("streamed") else result["messages"]:
            arrow = "→" if m["direction"] == "sent" else "←"
            self.out.print(Text.assemble((f"{arrow} ", "bold"), m["text"]), soft_wrap=True)
        closed = result.get("closed")
        if closed:
            self.notice(f"the object closed the socket: {closed['code']} {closed['reason']}".rstrip())

    def clear(self, result: dict[str, Any]) -> None:
        """The screen, cleared when it is a terminal (a script's output stays as it is)."""
        if self.out.is_terminal:
            self.out.clear()

    def sleep(self, result: dict[str, Any]) -> None:
        self.notice(f"slept {result['seconds']:g}s")

    def call_result(self, result: Any) -> None:
        """A call's value; for --times, a tally and the results (lost updates show as repeats)."""
        if not (isinstance(result, dict) and "times" in result and "concurrent" in result and "results" in result):
            self.value(result)
            return
        how = "at once" if result["concurrent"] else "one after another"
        line = Text.assemble(
            (f"{result['times']} × {result['object']}.{result['method']} {how}: ", "bold"),
            (f"{len(result['results'])} returned", "green"),
        )
        if result["errors"]:
            line.append(
                f", {len(result['errors'])} raised ({result['errors'][0]['type']}: {result['errors'][0]['message']})",
                style="red",
            )
        line.append(f" in {result['seconds']:g} s", style="dim")
        self.out.print(line, soft_wrap=True)
        self.out.print(json_text(result["results"]), soft_wrap=True)

    def load(self, result: dict[str, Any]) -> None:
        lat = result["latency_ms"]
        raised = ", ".join(f"{n} {t}" for t, n in result["raised"].items()) or "none"
        self.out.print(
            Text.assemble(
                (f"load {result['object']}.{result['method']}: ", "bold"),
                f"{result['started']} calls at {result['rate']:g}/s for {result['seconds']:g} s; ",
                (f"{result['returned']} returned", "green"),
                f", raised: {raised}; deepest queue ",
                (str(result["deepest_queue"]), "bold yellow" if result["deepest_queue"] > 1 else ""),
                f"; latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, max {lat['max']} ms",
            ),
            soft_wrap=True,
        )

    TOUR_STYLES = {"lesson": "bold cyan", "step": "", "point": "magenta", "progress": "dim", "result": "green"}

    def tour_line(self, kind: str, text: str) -> None:
        style = self.TOUR_STYLES.get(kind, "")
        if kind == "result" and text.startswith("✗"):
            style = "bold red"
        elif kind == "result" and "⚠" in text:
            style = "bold yellow"
        # wrapped by rich at word boundaries (soft_wrap would leave it to the terminal, which cuts words)
        self.out.print(Text(("\n" if kind == "lesson" else "  ") + text, style=style))

    def tour(self, result: dict[str, Any]) -> None:
        if "lessons" in result:
            table = Table(title="the tour (tour N runs lesson N; tour all runs them all)", title_justify="left")
            table.add_column("#", justify="right")
            table.add_column("lesson", no_wrap=True)
            table.add_column("teaches", overflow="fold")
            for x in result["lessons"]:
                table.add_row(str(x["number"]), x["key"], x["teaches"])
            self.out.print(table)
            return
        if not self._streamed_tour:
            for line in result["lines"]:
                self.tour_line(line["kind"], line["text"])
        self._streamed_tour = False
        for note in result["closing"]:
            self.out.print(Text(note, style="cyan"))  # wrapped between words, not by the terminal
        held = sum(c["ok"] for c in result["checks"])
        self.notice(
            f"{held} of {len(result['checks'])} claims checked out", "green" if result["passed"] else "bold red"
        )

    _streamed_tour = False  # the lines were printed as they came (on_event); set by front ends that stream

    def help(self, result: dict[str, Any]) -> None:
        if "command" in result:
            cmd = result["command"]
            self.out.print(Text(cmd["usage"], style="bold green"))
            self.out.print(cmd["summary"])
            if cmd["details"]:
                self.out.print(Text(cmd["details"], style="italic"))
            if cmd["aliases"]:
                self.notice("also: " + ", ".join(cmd["aliases"]))
            for opt in cmd["options"]:
                self.out.print(Text.assemble(("  " + opt["flag"], "cyan"), "  " + opt["help"]))
            for ex in cmd["examples"]:
                self.out.print(Text.assemble(("  e.g. ", "dim"), (ex, "bold")))
            return
        table = Table(title="commands", title_justify="left", show_header=False, box=None, pad_edge=False)
        table.add_column("usage", style="bold green", no_wrap=True)
        table.add_column("what", overflow="fold")
        for cmd in result["commands"]:
            table.add_row(cmd["usage"], cmd["summary"])
        self.out.print(table)
        self.out.print(Group(*(Text(line, style="dim") for line in result["syntax"])))
        self.notice("help COMMAND shows one command with examples.")


def json_text(value: Any) -> Text:
    """``value`` as indented, highlighted JSON, its control characters escaped (``printable``)."""
    return JSONHighlighter()(Text(printable(JSON.from_data(value, ensure_ascii=False).text.plain)))


def _delta_text(delta: dict[str, Any]) -> str:
    parts = []
    if delta.get("cleared"):
        parts.append("everything deleted")
    if delta["put"]:
        parts.append("put " + ", ".join(map(repr, delta["put"])))
    if delta["deleted"]:
        parts.append("deleted " + ", ".join(map(repr, delta["deleted"])))
    return "; ".join(parts)


def _number(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else str(v)
