"""The dotui TUI: the App and its main screen.

The main screen shows every instance (left), the selected one in tabs (right),
and acts on them. It never calls the engine facade on the UI thread: a refresh
loop asks the poll lane (``lanes.py``) for a ``Snapshot`` about four times a
second (only the objects the event stream says were touched, or everything
after a loss), and each key is a row of the action table (``actions.py``)
whose registry command runs on the action lane. When the engine does not
answer, the header names the method holding its thread.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.filter import LineFilter
from textual.screen import Screen
from textual.widgets import TabbedContent

from ..commands import Outcome
from ..ops import EngineFacade
from . import actions, glossary
from .actions import Scope
from .controllers.commands import CommandRunner
from .controllers.dialogs import Dialogs
from .controllers.refreshing import BUSY_AFTER, RefreshLoop
from .controllers.tour import TourController
from .controllers.view import ViewController
from .controllers.welcome import WelcomeDemo
from .gcpause import PAUSE_AT_MOST, StartupGC
from .lanes import Lanes
from .model import SORTABLE, EngineWatch, InstanceRows, Key
from .palette import PaletteProvider
from .printable import PrintableFilter
from .snapshot import Detail
from .watcher import FolderWatcher
from .widgets.command_bar import CommandBar
from .widgets.footer import FittingFooter
from .widgets.header import StatusHeader
from .widgets.instances import InstancesPane, InstanceTable
from .widgets.object import ObjectView
from .widgets.object.methods import MethodsView
from .widgets.studio import StudioView
from .widgets.tour import TourPanel
from .widgets.welcome import Welcome


class MainScreen(Screen):
    """Instances, the selected object, and every action on them (rows of ``actions.ACTIONS``).

    The work is the controllers': ``refresher`` (the refresh loop), ``view`` (what is drawn, keys that
    move the view), ``commands`` (registry commands on the action lane, and the command bar),
    ``dialogs`` (the dialogs that compose commands) and ``tour`` (the lesson running).
    """

    BINDINGS = actions.bindings()

    def __init__(
        self,
        facade: EngineFacade,
        lanes: Lanes,
        clock: Callable[[], float],
        refresh_interval: float,
        watch_files: bool,
        busy_after: float = BUSY_AFTER,
        tour: str | None = None,
        tour_dwell: float = 1.0,
        tour_auto: bool = False,
    ) -> None:
        super().__init__()
        self.facade = facade
        self.lanes = lanes
        self.clock = clock
        self.watch_files = watch_files
        self.folder = FolderWatcher(facade.objects_dir)
        self.startup_gc = StartupGC()  # no collection until the first listing is in (gcpause.py)
        self.refresher = RefreshLoop(self, clock, refresh_interval, busy_after)
        self.state = self.refresher.refresh  # what the screen knows of the engine (refresh.py)
        self.rows: InstanceRows = self.state.rows
        self.engine_watch: EngineWatch = self.refresher.refresh.watch  # not ``watch``: Textual's DOMNode.watch
        self.view: ViewController = ViewController(self)
        self.commands: CommandRunner = CommandRunner(self)
        self.dialogs: Dialogs = Dialogs(self)
        self.tour: TourController = TourController(self, tour, tour_dwell, tour_auto)
        self.welcome_demo = WelcomeDemo(self)
        self.header = StatusHeader(id="header")
        self.pane = InstancesPane(self.rows, clock, id="instances")
        self.object_view = ObjectView(id="object")
        self.tour_panel = TourPanel(id="tour-panel")
        self.command_bar = CommandBar(id="command-bar")

    # ------------------------------------------------------------ what the refresh loop knows
    @property
    def namespaces(self) -> dict[str, dict[str, Any]]:
        return self.state.namespaces

    @property
    def detail(self) -> Detail | None:
        return self.state.detail

    @property
    def shown(self) -> Key | None:
        """The instance the object view shows."""
        return self.state.shown

    def kick(self, full: bool = False, detail: bool = True, namespaces: bool = False) -> None:
        self.refresher.kick(full=full, detail=detail, namespaces=namespaces)

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal(id="body"):
            yield self.pane
            yield self.object_view
        yield Welcome(id="welcome")
        yield self.tour_panel
        yield self.command_bar
        yield FittingFooter(compact=True)

    @property
    def table(self) -> InstanceTable:
        return self.pane.table

    def on_resize(self, event) -> None:
        # the palette hint gives its room to the action keys on a narrow terminal
        self.query_one(FittingFooter).show_command_palette = event.size.width >= 100

    def on_mount(self) -> None:
        self.header.set_where(
            self.facade.data_dir, self.facade.objects_dir, self.facade.url if self.facade.remote else None
        )
        self.table.focus()
        self.refresher.start()
        self.set_timer(PAUSE_AT_MOST, self.startup_gc.resume)
        self.set_interval(0.25, self.refresher.watchdog)
        self.set_interval(1.0, self._every_second)
        self.tour.mounted()

    def _every_second(self) -> None:
        self.table.tick()
        self.object_view.poll_sockets(self.facade)
        if self.detail is not None and self.object_view.active_tab == "queue":
            self.view.render_queue()
        if self.watch_files:
            changed = self.folder.changed()
            if changed and not self.tour.edits_objects:  # the lesson reloads what it writes
                self.commands.run(
                    "reload", done=lambda o: self.commands.toast(o, prefix=f"{', '.join(changed)} changed: ")
                )

    # ------------------------------------------------------------ the selected object
    @property
    def selected(self) -> Key | None:
        """The instance under the cursor (read from the table, so a key pressed right after a move acts on it)."""
        try:
            return self.table.selected
        except NoMatches:  # not mounted yet
            return None

    @property
    def selected_info(self) -> dict[str, Any] | None:
        return self.rows.rows.get(self.selected) if self.selected is not None else None

    def go_to(self, key: Key) -> None:
        """Select ``key``, clearing a filter that hides it."""
        self.view.go_to(key)

    @on(InstanceTable.Highlighted)
    def _highlighted(self, event: InstanceTable.Highlighted) -> None:
        self.view.selected_changed(event.key)

    @on(InstanceTable.Chosen)
    def _chosen(self, event: InstanceTable.Chosen) -> None:
        self.action_act("invoke")

    @on(InstanceTable.SortRequested)
    def _sort_requested(self, event: InstanceTable.SortRequested) -> None:
        self.view.sort_by(event.column, toggle=True)

    @on(InstancesPane.FilterChanged)
    def _filter_changed(self, event: InstancesPane.FilterChanged) -> None:
        self.rows.set_filter(event.text)
        self.view.changed()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        self.kick(detail=True)
        if self.detail is not None:
            self.view.show_detail(self.detail)

    @on(MethodsView.InvokeRequested)
    def _invoke_requested(self, event: MethodsView.InvokeRequested) -> None:
        self.dialogs.invoke(event.method)

    @on(StudioView.CommandRequested)
    def _studio_command(self, event: StudioView.CommandRequested) -> None:
        def done(outcome: Outcome) -> None:
            self.commands.toast(outcome)
            event.after(outcome)

        self.commands.run(event.line, done)

    @on(CommandBar.Closed)
    def _bar_closed(self) -> None:
        self.view.focus_table()

    @on(CommandBar.CompletionWanted)
    def _completion_wanted(self, event: CommandBar.CompletionWanted) -> None:
        self.commands.complete(event.text)

    @on(CommandBar.Submitted)
    def _command_submitted(self, event: CommandBar.Submitted) -> None:
        self.commands.submitted(event.line, event.mark)

    # ------------------------------------------------------------ the action table
    def scope(self) -> Scope:
        """What the action table's rows decide on: the selected row, its class, the active tab."""
        info = self.selected_info
        return Scope(
            info,
            self.namespaces.get(info["namespace"]) if info else None,
            len(self.namespaces),
            self.object_view.active_tab,
            self.tour.running,
        )

    def enabled(self, name: str) -> bool | None:
        """Whether the row ``name`` applies now: True, None (greyed out) or False (hidden)."""
        return actions.ACTIONS[name].enabled(self.scope())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act" and parameters:
            return self.enabled(str(parameters[0]))
        return True

    def action_act(self, name: str) -> None:
        """Run the row ``name`` of the action table, if it applies now: its command, or its handler."""
        row = actions.ACTIONS[name]
        scope = self.scope()
        if row.enabled(scope) is not True:
            return
        if row.command is not None:
            self.commands.run(row.command(scope))
        elif row.handler is not None:
            pending = row.handler(self)
            if pending is not None:
                self.run_worker(pending, group="act", exit_on_error=False)

    def on_key(self, event) -> None:
        # a greyed key does nothing by itself: say why, rather than nothing
        if event.key == "a" and self.focused is self.table and self.enabled("alarm") is None:
            info = self.selected_info
            if info is not None:
                event.stop()
                self.notify(
                    f"{info['namespace']} has no alarm() method, so an alarm would have nothing to run. "
                    "Add `async def alarm(self, info):` to the class (ApiUsage has one).",
                    severity="warning",
                    timeout=6,
                )

    def palette_commands(self) -> Iterable[tuple[str, str, Callable[[], Any]]]:
        scope = self.scope()
        for row in actions.ROWS:
            if row.name in ("escape", "stop_tour") or row.name.startswith(("tab_", "events_")):
                continue
            ok = row.enabled(scope)
            if row.name == "edit_storage":
                ok = True if scope.info is not None else None  # the palette opens the Storage tab for it
            if ok is True:
                yield (
                    row.palette.format(target=scope.label),
                    row.help,
                    functools.partial(self.action_act, row.name)
                    if row.name != "edit_storage"
                    else self.dialogs.edit_storage,
                )
        for col in SORTABLE:
            yield f"Sort instances by {col.replace('_', ' ')}", "", functools.partial(self.view.sort_by, col)
        for ns in sorted(self.namespaces):
            yield (
                f"Show namespace {ns}",
                self.namespaces[ns].get("doc") or "",
                functools.partial(self.view.show_namespace, ns),
            )
        for tab in ("queue", "storage", "methods", "events"):
            yield f"Tab: {tab}", glossary.TABS[tab], functools.partial(self.view.tab, tab)


PRINTABLE = PrintableFilter()


class DotuiApp(App[int]):
    """The dotui TUI over an engine facade (in-process or remote)."""

    CSS_PATH = "dotui.tcss"
    TITLE = "dotui"
    COMMANDS = App.COMMANDS | {PaletteProvider}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        facade: EngineFacade,
        *,
        clock: Callable[[], float] = time.time,
        refresh_interval: float = 0.25,
        watch_files: bool = True,
        busy_after: float = BUSY_AFTER,
        tour: str | None = None,
        tour_dwell: float = 1.0,
        tour_auto: bool = False,
    ) -> None:
        """``clock`` gives "now" for relative times (tests freeze it); ``refresh_interval`` is the
        seconds between refreshes; ``watch_files`` reloads when the objects folder changes;
        ``busy_after`` is how long the engine may take to answer before the header says it is busy;
        ``tour_auto`` runs lessons at their own pace (``tour_dwell`` scales it) instead of waiting at each step."""
        super().__init__()
        self.facade = facade
        self.lanes = Lanes()
        self.clock = clock
        self.refresh_interval = refresh_interval
        self.watch_files = watch_files
        self.busy_after = busy_after
        self.tour = tour
        self.tour_dwell = tour_dwell
        self.tour_auto = tour_auto
        self._quitting = False

    def get_line_filters(self) -> list[LineFilter]:
        """Textual's filters, then ``PrintableFilter``: no control character of any widget's text reaches
        the terminal. O(1)."""
        return [*super().get_line_filters(), PRINTABLE]

    def get_default_screen(self) -> Screen:
        return MainScreen(
            self.facade,
            self.lanes,
            self.clock,
            self.refresh_interval,
            self.watch_files,
            self.busy_after,
            self.tour,
            self.tour_dwell,
            self.tour_auto,
        )

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("the main screen is not running")

    async def action_quit(self) -> None:
        """Quit after a clean flush (every write durable); a second press quits without waiting.
        A coroutine, as Textual's ``App.action_quit`` is: a caller awaits it (it returns at once)."""
        self.run_worker(self._quit(), group="quit", exit_on_error=False)

    async def _quit(self) -> None:
        main = self.main
        if self._quitting:
            main.notify("quitting without waiting for the engine", severity="warning")
            self.exit(1)
            return
        self._quitting = True
        main.refresher.stop()
        main.notify("flushing: making every write durable…", timeout=10)
        fut = asyncio.wrap_future(self.lanes.act(self.facade.flush))
        done, _ = await asyncio.wait([fut], timeout=2.0)
        if not done:
            blocking = main.engine_watch.blocking()
            what = (
                f"{blocking.namespace}/{blocking.label}.{blocking.method} is still running"
                if blocking
                else "the engine has not answered"
            )
            main.notify(
                f"waiting: {what}. Press q again to quit without a clean flush.", severity="warning", timeout=30
            )
            await fut
        else:
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001 - said, and the app exits with 1: the writes may not be durable
                main.notify(f"the flush failed: {type(exc).__name__}: {exc}", severity="error")
                await asyncio.sleep(2)
                self.exit(1)
                return
        self.exit(0)

    def on_unmount(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.startup_gc.resume()
                screen.welcome_demo.stop()  # its thread says nothing more and makes no more calls
        self.lanes.stop()


def run_tui(facade: EngineFacade, args: argparse.Namespace | None = None) -> int:
    """Run the TUI until the user quits (every write flushed on the way out); the caller closes the facade."""
    tour = None
    if args is not None and getattr(args, "subcommand", None) == "tour":
        tour = getattr(args, "lesson", None) or "1"
    code = DotuiApp(facade, tour=tour).run()
    return code if isinstance(code, int) else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dotui.tui.app``: the TUI without the full command line."""
    from ..ops import LocalEngine

    p = argparse.ArgumentParser(prog="python -m dotui.tui.app", description="the dotui TUI")
    p.add_argument("--objects", default="objects", help="the objects folder (default: objects)")
    p.add_argument("--data", default=".dotui", help="the data folder (default: .dotui)")
    p.add_argument("--idle", type=float, default=10.0, help="seconds before an idle object hibernates (default: 10)")
    args = p.parse_args(argv)
    with LocalEngine(args.objects, args.data, idle_timeout=args.idle) as facade:
        return run_tui(facade, args)


if __name__ == "__main__":
    raise SystemExit(main())
