"""The interactive REPL: a prompt_toolkit session on the command registry.

History in a file under the data folder, suggestions from it, completion of
commands, objects and methods, a bottom toolbar with the engine's live status,
and engine events (alarms firing, objects broken) printed above the prompt.
Ctrl-C cancels the line (or stops waiting for a call, or a ``watch``); Ctrl-D
quits.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.completion import Completer as PTCompleter
from prompt_toolkit.completion import Completion as PTCompletion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.styles import Style
from rich.console import Console

from ..commands import REGISTRY, Context, execute
from ..commands.completion import Completer
from ..ops import EngineFacade
from ..present.formats import printable, relative_path
from ..present.render import Renderer, make_console

HISTORY_FILE = "repl_history"

# Events worth interrupting the user for; `watch` shows the rest.
BACKGROUND_EVENTS = ("alarm.", "reset", "commit.failed", "checkpoint.failed", "events.lost", "reload")

STYLE = Style.from_dict(
    {
        "prompt": "ansigreen bold",
        "bottom-toolbar": "noreverse bg:#303030 #d0d0d0",
        "bottom-toolbar.live": "#5fd75f bold",
        "bottom-toolbar.warn": "#ffaf00 bold",
        "bottom-toolbar.dim": "#8a8a8a",
    }
)


class PromptCompleter(PTCompleter):
    """prompt_toolkit's face of ``dotui.commands.completion.Completer``."""

    def __init__(self, completer: Completer):
        self.completer = completer

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[PTCompletion]:
        text = document.text_before_cursor
        for c in self.completer.complete(text):
            yield PTCompletion(
                c.text,
                start_position=c.start_position(text),
                display=printable(c.display),
                display_meta=printable(c.meta),
            )


def tab_bindings() -> KeyBindings:
    """Tab completes; once the only choice has been put in (``Counter/``), the next Tab completes from
    there (the objects of Counter) instead of stepping back through the old menu."""
    kb = KeyBindings()

    @kb.add("tab")
    def _tab(event) -> None:
        buf = event.current_buffer
        state = buf.complete_state
        if state is not None and len(state.completions) == 1 and state.current_completion is not None:
            buf.complete_state = None  # keep the text it put in (cancel_completion would undo it)
            buf.start_completion(select_first=False)
        elif state is not None:
            buf.complete_next()
        else:
            buf.start_completion(select_first=True)

    return kb


class Status:
    """The toolbar's figures, asked of the facade at most every ``ttl`` seconds."""

    def __init__(self, facade: EngineFacade, ttl: float = 0.5):
        self.facade = facade
        self.ttl = ttl
        self._at = 0.0
        self._stats: dict[str, Any] | None = None

    def stats(self) -> dict[str, Any] | None:
        now = time.monotonic()
        if self._stats is None or now - self._at >= self.ttl:
            try:
                self._stats = self.facade.stats()
            except Exception:  # noqa: BLE001 - the toolbar must never break the prompt
                self._stats = None
            self._at = now
        return self._stats

    def toolbar(self) -> FormattedText:
        s = self.stats()
        if s is None:
            return FormattedText([("class:bottom-toolbar.warn", " engine not answering ")])
        parts: list[tuple[str, str]] = [
            ("class:bottom-toolbar.live", f" ● {s.get('live', 0)} live"),
            ("", f" · {s.get('hibernated', 0)} hibernated"),
            ("class:bottom-toolbar.warn" if s.get("queued") else "", f" · {s.get('queued', 0)} queued"),
            ("", f" · {s.get('running', 0)} running"),
            (
                "class:bottom-toolbar.warn" if s.get("commits_pending") else "",
                f" · {s.get('commits_pending', 0)} commits pending",
            ),
            ("class:bottom-toolbar.dim", "   Tab completes · help · Ctrl-D quits "),
        ]
        return FormattedText(parts)


class EventPrinter:
    """A thread printing background events (alarms, resets) above the prompt."""

    def __init__(self, facade: EngineFacade, renderer: Renderer, period: float = 0.1):
        self.facade = facade
        self.renderer = renderer
        self.period = period
        self.paused = threading.Event()  # set while a foreground `watch` prints every event
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sub: Any = None  # the facade's subscription, once started

    def start(self) -> None:
        self._sub = self.facade.subscribe(
            maxlen=1000, predicate=lambda ev: ev.get("type", "").startswith(BACKGROUND_EVENTS)
        )
        self._thread = threading.Thread(target=self._loop, name="dotui-repl-events", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            events = self._sub.drain()
            if self.paused.is_set():
                continue
            for ev in events:
                self.renderer.event(ev)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sub is not None:
            self._sub.close()


class Repl:
    """One REPL session on a facade. ``run()`` returns the exit status when the user quits."""

    def __init__(
        self,
        facade: EngineFacade,
        *,
        history: History | None = None,
        console: Console | None = None,
        input: Any = None,
        output: Any = None,
        patch: bool = True,
        banner: bool = True,
    ):
        self.facade = facade
        self.console = console
        self.patch = patch
        self.banner = banner
        self.completer = Completer(facade, REGISTRY)
        self.status = Status(facade)
        self.session: PromptSession = PromptSession(
            message=FormattedText([("class:prompt", "dotui> ")]),
            history=history if history is not None else InMemoryHistory(),
            auto_suggest=AutoSuggestFromHistory(),
            completer=PromptCompleter(self.completer),
            complete_while_typing=True,
            key_bindings=tab_bindings(),
            bottom_toolbar=self.status.toolbar,
            refresh_interval=0.5,
            style=STYLE,
            input=input,
            output=output,
        )
        self.renderer: Renderer | None = None
        self.events: EventPrinter | None = None

    def run(self) -> int:
        with patch_stdout(raw=True) if self.patch else nullcontext():
            console = self.console or make_console(sys.stdout, terminal=True)
            self.renderer = Renderer(console)
            self.events = EventPrinter(self.facade, self.renderer)
            self.events.start()
            try:
                if self.banner:
                    self._banner()
                self._loop()
            finally:
                self.events.stop()
        return 0

    def _banner(self) -> None:
        assert self.renderer is not None
        names = [ns["name"] for ns in self.facade.namespaces()]
        objects_dir = relative_path(self.facade.objects_dir)
        self.renderer.notice(
            f"dotui: {len(names)} namespace{'s' if len(names) != 1 else ''} from {objects_dir}"
            f" ({', '.join(names) or 'none'}); data in {relative_path(self.facade.data_dir)}",
            "bold",
        )
        self.renderer.notice(
            "Try Counter/alice.increment(5), or tour for a guided tour of the model. "
            "Tab completes; help lists commands; Ctrl-D quits."
        )
        for e in self.facade.load_errors():
            self.renderer.notice(f"error: cannot load {relative_path(e)} (fix it, then reload)", "red")

    def _read_line(self, message: str) -> str | None:
        """One line for a command that reads (``ws``); None on an empty line, Ctrl-C or Ctrl-D."""
        try:
            return self.session.prompt(message) or None
        except (KeyboardInterrupt, EOFError):
            return None

    def _loop(self) -> None:
        assert self.renderer is not None and self.events is not None
        ctx = Context(self.facade, interactive=True, on_event=self.renderer.event, read_line=self._read_line)
        while True:
            try:
                line = self.session.prompt()
            except KeyboardInterrupt:
                continue  # Ctrl-C: the line is dropped, the session goes on
            except EOFError:
                return  # Ctrl-D
            watching = line.split(maxsplit=1)[:1] == ["watch"]
            if watching:
                self.events.paused.set()  # watch prints every event itself
                self.renderer.notice(
                    "watching; Ctrl-C stops" if "--for" not in line else "watching; Ctrl-C stops early"
                )
            try:
                outcome = execute(ctx, line, REGISTRY)
            finally:
                self.events.paused.clear()
            self.completer.invalidate()  # a call may have created an object
            if outcome is None:
                continue
            self.renderer.outcome(outcome)
            if outcome.quit:
                return


def history_for(data_dir: str) -> History:
    """The REPL's history file, in the data folder (falls back to memory if it cannot be written)."""
    path = os.path.join(data_dir, HISTORY_FILE)
    try:
        os.makedirs(data_dir, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError:
        return InMemoryHistory()
    return FileHistory(path)


def run_repl(facade: EngineFacade, **options: Any) -> int:
    """Run the REPL until the user quits; 0."""
    return Repl(facade, **options).run()
