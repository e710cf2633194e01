"""The dotui TUI: the App and its main screen.

The main screen shows every instance (left), the selected one in tabs (right),
and acts on them. It never calls the engine facade on the UI thread: a refresh
loop asks a ``Gateway`` thread for a ``Snapshot`` about four times a second
(only the objects the event stream says were touched, or everything after a
loss), and each action runs as a worker awaiting the gateway. When the engine
does not answer, the header names the method holding its thread.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.filter import LineFilter
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent

from ..ops import EngineFacade
from ..present.formats import relative, short
from ..present.render import Renderer
from . import glossary
from .commands import DotuiCommands
from .gateway import Detail, Gateway, PollRequest, Snapshot, poll
from .gcpause import PAUSE_AT_MOST, StartupGC
from .model import SORTABLE, EngineWatch, InstanceRows, Key, Rate, label_of, ref_of, row_state
from .printable import PrintableFilter
from .refresh import Refresh
from .screens.alarm import AlarmScreen
from .screens.help import HelpScreen
from .screens.invoke import InvokeScreen
from .screens.new_object import NewObjectScreen
from .screens.storage_edit import StorageEditScreen
from .screens.tour import STOP, TourScreen
from .tourrun import TuiNarrator
from .watcher import FolderWatcher
from .widgets.command_bar import CommandBar
from .widgets.header import StatusHeader
from .widgets.instances import InstancesPane, InstanceTable
from .widgets.object import ObjectView
from .widgets.object.methods import MethodsView
from .widgets.object.queue import render_queue
from .widgets.tour import TourPanel
from .widgets.welcome import Welcome

BUSY_AFTER = 0.5  # seconds without an answer before the header says the engine is busy (default)


class MainScreen(Screen):
    """Instances, the selected object, and every action on them."""

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("i", "invoke", "Invoke"),
        Binding("n", "new_object", "New"),
        Binding("h", "hibernate", "Hibernate"),
        Binding("w", "wake", "Wake"),
        Binding("a", "alarm", "Alarm"),
        Binding("e", "edit_storage", "Edit", show=False),  # named on the Storage tab, where it applies
        Binding("r", "reload", "Reload"),
        Binding("colon", "command_bar", "Cmd"),
        Binding("t", "tour", "Tour"),
        Binding("T", "stop_tour", "Stop tour", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("s", "sort", "Sort", show=False),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("g", "next_namespace", "Namespace", show=False),
        Binding("G", "grouping", "Group", show=False),
        Binding("H", "hibernate_all", "Hibernate all", show=False),
        Binding("1", "tab('queue')", "Queue", show=False),
        Binding("2", "tab('storage')", "Storage", show=False),
        Binding("3", "tab('methods')", "Methods", show=False),
        Binding("4", "tab('events')", "Events", show=False),
        Binding("z", "zoom", "Zoom", show=False),
        Binding("p", "events_follow", "Pause/follow", show=False),  # named on the Events tab, where they apply
        Binding("v", "events_kind", "Kind", show=False),
        Binding("f", "events_find", "Find", show=False),
        Binding("escape", "escape", "Back", show=False),
    ]

    def __init__(self, facade: EngineFacade, gateway: Gateway, clock: Callable[[], float], refresh_interval: float,
                 watch_files: bool, busy_after: float = BUSY_AFTER, tour: str | None = None,
                 tour_dwell: float = 1.0) -> None:
        super().__init__()
        self._tour_first = tour  # a lesson to start once mounted (dotui tour)
        self.tour_dwell = tour_dwell  # how long each step stays up, as a share of the lesson's own timing
        self._tour_stop: threading.Event | None = None
        self._tour_next = 0
        self._pending_point: Key | None = None
        self.tour_checks: list[tuple[str, list]] = []  # (lesson key, its checks) of every lesson run here
        self.busy_after = busy_after
        self.facade = facade
        self.gateway = gateway
        self.clock = clock
        self.refresh_interval = refresh_interval
        self.watch_files = watch_files
        self.refresher = Refresh(clock)
        self.subscription = None
        self._poll_since: float | None = None
        self._kick = asyncio.Event()
        self.folder = FolderWatcher(facade.objects_dir)
        self._quitting = False
        self.startup_gc = StartupGC()  # no collection until the first listing is in (gcpause.py)
        # Subscribe, then list every instance, while the app is still mounting: at 100,000
        # objects the listing is most of the first paint. Subscribed first, no event between
        # the two is lost.
        self._subscribed = gateway.act(facade.subscribe)
        req = self._request()
        self._prefetched: tuple[PollRequest, concurrent.futures.Future] | None = (
            req, gateway.poll(_after, self._subscribed, poll, facade, req))
        self._completer = None
        self._last_method: dict[str, str] = {}  # per namespace: the method invoked last, offered first

    # ------------------------------------------------------------ what the refresher knows
    @property
    def rows(self) -> InstanceRows:
        return self.refresher.rows

    @property
    def watch(self) -> EngineWatch:
        return self.refresher.watch

    @property
    def rate(self) -> Rate:
        return self.refresher.rate

    @property
    def namespaces(self) -> dict[str, dict[str, Any]]:
        return self.refresher.namespaces

    @property
    def stats(self) -> dict[str, Any]:
        return self.refresher.stats

    @property
    def detail(self) -> Detail | None:
        return self.refresher.detail

    @property
    def refreshes(self) -> int:
        return self.refresher.refreshes

    @property
    def last_snapshot(self) -> Snapshot | None:
        return self.refresher.last_snapshot

    @property
    def _shown(self) -> Key | None:
        return self.refresher.shown

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with Horizontal(id="body"):
            yield InstancesPane(self.rows, self.clock, id="instances")
            yield ObjectView(id="object")
        yield Welcome(id="welcome")
        yield TourPanel(id="tour-panel")
        yield CommandBar(id="command-bar")
        yield Footer(compact=True)

    @property
    def table(self) -> InstanceTable:
        return self.query_one(InstanceTable)

    @property
    def pane(self) -> InstancesPane:
        return self.query_one(InstancesPane)

    @property
    def object_view(self) -> ObjectView:
        return self.query_one(ObjectView)

    @property
    def header(self) -> StatusHeader:
        return self.query_one(StatusHeader)

    @property
    def tour_panel(self) -> TourPanel:
        return self.query_one(TourPanel)

    @property
    def command_bar(self) -> CommandBar:
        return self.query_one(CommandBar)

    def on_resize(self, event) -> None:
        # the palette hint gives its room to the action keys on a narrow terminal
        self.query_one(Footer).show_command_palette = event.size.width >= 100

    def on_mount(self) -> None:
        self.header.set_where(self.facade.data_dir, self.facade.objects_dir,
                              self.facade.url if self.facade.remote else None)
        self.table.focus()
        self._start()
        self.set_timer(PAUSE_AT_MOST, self.startup_gc.resume)
        self.set_interval(0.25, self._watchdog)
        self.set_interval(1.0, self._every_second)
        if self._tour_first is not None:
            self.start_tour(self._tour_first)

    @work(group="start", exit_on_error=False)
    async def _start(self) -> None:
        try:
            self.subscription = await asyncio.wrap_future(self._subscribed)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"cannot watch the engine's events ({type(exc).__name__}: {exc}); "
                        "the screen refreshes by listing instead", severity="warning")
        self._refresh_loop()

    # ------------------------------------------------------------ the refresh loop
    @work(group="refresh", exclusive=True, exit_on_error=False)
    async def _refresh_loop(self) -> None:
        while not self._quitting:
            try:
                await self._refresh_once()
            except Exception as exc:  # noqa: BLE001 - keep refreshing; say what failed
                self.header.set_busy(f"refresh failed: {type(exc).__name__}: {exc}")
            self._kick.clear()
            try:
                await asyncio.wait_for(self._kick.wait(), self.refresh_interval)
            except TimeoutError:
                pass

    def kick(self, full: bool = False, detail: bool = True, namespaces: bool = False) -> None:
        """Refresh now rather than at the next tick."""
        self.refresher.want(full=full, detail=detail, namespaces=namespaces)
        self._kick.set()

    def _drain(self) -> None:
        """Fold new events: touched objects, the call holding the engine, the Events tab."""
        if self.subscription is None:
            return
        events = self.subscription.drain()
        for i, ev in enumerate(events):
            kind = ev.get("type")
            if kind == "alarm.fired":
                self.notify(f"⏰ alarm of {ev.get('namespace')}/{ev.get('name') or '#' + ev.get('id', '')[:8]} "
                            "fired: alarm() runs, waking the object if it hibernated", timeout=5)
            elif kind == "state" and ev.get("old") == "hibernated" and (ev.get("namespace"), ev.get("id")) not in \
                    self.rows.rows:
                events[i] = {**ev, "old": "new"}  # never listed: its first wake, not a return from hibernation
        folded = self.refresher.fold(events)
        if folded.shown_events:
            self.object_view.events_view.append(folded.shown_events)

    def _request(self) -> PollRequest:
        tab = self.object_view.active_tab if self.refresher.shown is not None else None
        return self.refresher.request(tab)

    async def _refresh_once(self) -> None:
        self._drain()
        if self._prefetched is not None:
            (req, fut), self._prefetched = self._prefetched, None
        else:
            req = self._request()
            fut = self.gateway.poll(poll, self.facade, req)
        self._poll_since = time.monotonic()
        try:
            snap = await asyncio.wrap_future(fut)
        finally:
            self._poll_since = None
        self.header.set_busy(None)
        self._apply(snap, req)

    def _apply(self, snap: Snapshot, req: PollRequest) -> None:
        """Draw what one snapshot changed (``Refresh.apply`` decides what that is)."""
        applied = self.refresher.apply(snap, req)
        if applied.busy is not None:
            self.header.set_busy(applied.busy)
        if applied.new_load_errors:
            self.notify("\n".join(applied.new_load_errors), title="cannot load some of the objects folder",
                        severity="error", timeout=10)
        with self.app.batch_update():
            self.table.apply(applied.changed)
            self._welcome_if_empty()
            if self._pending_point is not None and self._pending_point in self.rows.rows:
                key, self._pending_point = self._pending_point, None
                self.go_to(key)
            self.pane.describe()
            if applied.stats_changed:
                self.header.set_stats(self.stats, self.rows.counts()["busy"], list(self.rate.samples), applied.rate)
            if applied.show_selected:
                self._show_selected()
            if applied.detail is not None:
                self._show_detail(applied.detail)
        if applied.listed is not None:
            self.startup_gc.listed(applied.listed)
        elif snap.error is not None:
            self.startup_gc.resume()

    def on_unmount(self) -> None:
        self.startup_gc.resume()

    def _watchdog(self) -> None:
        """Four times a second: is the engine answering? If not, say which method holds it."""
        self._drain()
        since = self._poll_since
        if since is None:
            return
        waited = time.monotonic() - since
        if waited < self.busy_after:
            return
        blocking = self.watch.blocking()
        if blocking is not None:
            held = max(0.0, self.clock() - blocking.since)
            self.header.set_busy(
                f"engine busy {held:.1f} s: {blocking.namespace}/{blocking.label}.{blocking.method} is blocking its "
                f"object (it has not awaited; every object shares the engine's thread). "
                f"Keys still work; figures resume when it returns.")
        else:
            self.header.set_busy(f"engine busy: no answer for {waited:.1f} s; keys still work")

    def _every_second(self) -> None:
        self.table.tick()
        self.object_view.poll_sockets(self.facade)
        if self.detail is not None and self.object_view.active_tab == "queue":
            self._render_queue()
        if self.watch_files:
            changed = self.folder.changed()
            if changed:
                self.action_reload(reason=f"{', '.join(changed)} changed")

    # ------------------------------------------------------------ the selected object
    @property
    def selected(self) -> Key | None:
        """The instance under the cursor (read from the table, so a key pressed right after a move acts on it)."""
        try:
            return self.table.selected
        except Exception:  # noqa: BLE001 - not mounted yet
            return None

    @on(InstanceTable.Highlighted)
    def _highlighted(self, event: InstanceTable.Highlighted) -> None:
        if self.refresher.show(event.key):
            self.object_view.key = event.key
            self.object_view.events_view.replay(self.watch.events_of(event.key) if event.key else [])
            self.object_view.storage_view.clear("reading storage…" if event.key else "Select an instance to read its storage.")
            self.object_view.queue_view.show(Text("…", style="dim"))
            self.kick(detail=True)
        self._show_selected()

    @on(InstanceTable.Chosen)
    def _chosen(self, event: InstanceTable.Chosen) -> None:
        self.action_invoke()

    @on(InstanceTable.SortRequested)
    def _sort_requested(self, event: InstanceTable.SortRequested) -> None:
        if self.rows.sort_column == event.column:
            self.rows.set_sort(event.column, not self.rows.sort_reverse)
        else:
            self.rows.set_sort(event.column)
        self._view_changed()

    @on(InstancesPane.FilterChanged)
    def _filter_changed(self, event: InstancesPane.FilterChanged) -> None:
        self.rows.set_filter(event.text)
        self._view_changed()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        self.kick(detail=True)
        if self.detail is not None:
            self._show_detail(self.detail)

    @on(MethodsView.InvokeRequested)
    def _invoke_requested(self, event: MethodsView.InvokeRequested) -> None:
        self.action_invoke(event.method)

    def _view_changed(self) -> None:
        self.table.apply(set())
        self.pane.describe()

    @property
    def selected_info(self) -> dict[str, Any] | None:
        return self.rows.rows.get(self.selected) if self.selected is not None else None

    def _show_selected(self) -> None:
        info = self.rows.rows.get(self._shown) if self._shown is not None else None
        self.object_view.show_title(info)
        self.object_view.methods_view.show(self.namespaces.get(info["namespace"]) if info else None)
        self._refresh_bindings_if_changed()

    def _refresh_bindings_if_changed(self) -> None:
        """Grey out or enable the footer's keys when what they depend on changed (not every frame)."""
        info = self.selected_info
        sig = (self.selected, info and info.get("state"), info and info.get("alarm") is None, len(self.namespaces))
        if sig != getattr(self, "_bindings_sig", None):
            self._bindings_sig = sig
            self.refresh_bindings()

    def _show_detail(self, detail: Detail) -> None:
        changed = self.refresher.detail_row_changed(detail)
        if changed:
            self.table.apply(changed)
            self.object_view.show_title(detail.info)
            self._refresh_bindings_if_changed()
        tab = self.object_view.active_tab
        if tab == "queue":
            self._render_queue()
        elif tab == "storage":
            view = self.object_view.storage_view
            if detail.storage_error:
                view.clear(f"cannot read this object's storage: {detail.storage_error}")
            elif detail.storage is not None:
                view.show(detail.storage, self.watch.last_commit.get(detail.key), self.clock())

    def _render_queue(self) -> None:
        d = self.detail
        if d is None:
            return
        if d.error:
            self.object_view.queue_view.show(Text(d.error, style="red"))
            return
        info = d.info or self.selected_info
        ns = self.namespaces.get(d.key[0], {})
        queue = list(d.queue or []) + (self._held_calls(d.key, d.queue or []) if info and info.get("output_held")
                                        else [])
        self.object_view.queue_view.show(render_queue(info, queue, d.history, ns.get("mode", "input-gate"),
                                                      self.clock()))

    def _held_calls(self, key: Key, queue: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Calls that returned and wait at the output gate, from the object's events (the engine's queue
        lists running and queued calls only)."""
        held: dict[Any, dict[str, Any]] = {}
        for ev in self.watch.events_of(key):
            kind = ev.get("type")
            if kind == "call.held":
                held[ev.get("call")] = {"seq": ev.get("call"), "method": ev.get("method", "?"), "status": "held",
                                        "started_at": ev.get("t")}
            elif kind == "call.finished":
                held.pop(ev.get("call"), None)
        listed = {c.get("seq") for c in queue}
        return [c for seq, c in held.items() if seq not in listed]

    def go_to(self, key: Key) -> None:
        """Select ``key``, clearing a filter that hides it."""
        if not self.table.select_key(key):
            self.rows.set_filter("")
            self.rows.set_namespace(None)
            self.pane.filter_input.value = ""
            self._view_changed()
            self.table.select_key(key)
        self.table.focus()

    # ------------------------------------------------------------ which keys apply now
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        info = self.selected_info
        if action in ("invoke", "hibernate", "wake", "alarm", "edit_storage"):
            if info is None:
                return None
            ns = self.namespaces.get(info["namespace"])
            if action == "invoke" and not (ns and ns.get("methods")):
                return None
            if action == "hibernate" and info.get("state") != "live":
                return None
            if action == "wake" and info.get("state") == "live":
                return None
            if action == "alarm" and not (ns and ns.get("alarm")) and info.get("alarm") is None:
                return None
        if action == "edit_storage" and self.object_view.active_tab != "storage":
            return False  # shown (and bound) on the Storage tab, where the key being edited is in view
        if action.startswith("events_") and self.object_view.active_tab != "events":
            return False
        if action == "new_object" and not self.namespaces:
            return None
        return True

    # ------------------------------------------------------------ acting
    def _target(self) -> tuple[str, str, str] | None:
        info = self.selected_info
        if info is None:
            return None
        return info["namespace"], ref_of(info), f"{info['namespace']}/{label_of(info)}"

    def _act(self, label: str, fn: Callable[..., Any], *args: Any,
             done: Callable[[Any], None] | None = None) -> None:
        self.run_worker(self._act_worker(label, fn, args, done), group="act", exit_on_error=False)

    async def _act_worker(self, label: str, fn: Callable[..., Any], args: tuple,
                          done: Callable[[Any], None] | None) -> None:
        try:
            result = await asyncio.wrap_future(self.gateway.act(fn, *args))
        except Exception as exc:  # noqa: BLE001 - the user sees what failed and why
            self.notify(f"{label}: {type(exc).__name__}: {exc}", severity="error", timeout=8)
            return
        finally:
            self.kick(detail=True)
        if done is not None:
            done(result)

    def action_filter(self) -> None:
        if self.maximized is not None:
            self.minimize()  # the filter box is in the instances pane: show it before typing into it
        self.pane.open_filter()

    def action_escape(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.rows.filter_text:
            self.pane.close_filter(clear=True)
        elif self.rows.namespace is not None:
            self.rows.set_namespace(None)
            self._view_changed()
        self._focus_table()

    def _focus_table(self) -> None:
        """Keys go to the screen's bindings again, not to a box that is hidden or done with."""
        self.table.focus()
        self.call_after_refresh(self.table.focus)  # once a zoom or a hidden filter box is laid out again

    def action_sort(self) -> None:
        """Sort by the next column on screen (a column this width hides is not one to sort by blind)."""
        shown = [c for c in SORTABLE if c in self.table.shown_columns()] or SORTABLE
        current = self.rows.sort_column
        later = [c for c in shown if SORTABLE.index(c) > SORTABLE.index(current)]
        self.rows.set_sort((later or shown)[0])
        self._view_changed()
        self.notify(f"sorted by {self.rows.sort_column.replace('_', ' ')}", timeout=2)

    def action_reverse(self) -> None:
        self.rows.set_sort(self.rows.sort_column, not self.rows.sort_reverse)
        self._view_changed()

    def action_next_namespace(self) -> None:
        names = sorted(set(self.namespaces) | set(self.rows.namespaces()))
        if not names:
            return
        cur = self.rows.namespace
        nxt = names[0] if cur is None else (names[names.index(cur) + 1] if cur in names and names.index(cur) + 1 < len(names) else None)
        self.rows.set_namespace(nxt)
        self._view_changed()
        self.notify(f"showing {nxt}: {(self.namespaces.get(nxt) or {}).get('doc') or ''}" if nxt else "showing every namespace",
                    timeout=3)

    def action_grouping(self) -> None:
        self.rows.set_grouping(not self.rows.group_by_namespace)
        self._view_changed()

    def action_zoom(self) -> None:
        """The selected object's view full screen, and back (for small terminals)."""
        if self.maximized is not None:
            self.minimize()
            self._focus_table()
        else:
            self.maximize(self.object_view, container=False)
            inside = next((w for w in self.object_view.query("*") if w.focusable), None)
            if inside is not None:
                inside.focus()  # not the hidden table, nor the filter box under it

    def action_tab(self, pane_id: str) -> None:
        self.object_view.active_tab = pane_id

    def _welcome_if_empty(self) -> None:
        """The welcome instead of the panes while there is no object (and no filter hiding them)."""
        empty = not self.rows.rows and not self.rows.filter_text and self.rows.namespace is None
        welcome = self.query_one(Welcome)
        if empty:
            welcome.show_for(list(self.namespaces.values()), _short_dir(self.facade.objects_dir))
        if welcome.display != empty:
            welcome.display = empty
            self.query_one("#body").display = not empty
            if not empty:
                self.table.focus()

    # ------------------------------------------------------------ the Events tab
    def action_events_follow(self) -> None:
        self.object_view.events_view.toggle_follow()

    def action_events_kind(self) -> None:
        view = self.object_view.events_view
        view.next_kind()
        self.notify(f"Events: {'every kind' if view.kind == 'all' else 'only ' + view.kind}", timeout=2)

    def action_events_find(self) -> None:
        from .screens.find import FindScreen

        view = self.object_view.events_view

        def found(text: str | None) -> None:
            if text is not None:
                view.find(text)

        self.app.push_screen(FindScreen("this object's events", view.search), callback=found)

    # ------------------------------------------------------------ the tour
    def action_tour(self) -> None:
        from ..tour import LESSONS

        running = self._tour_stop is not None and not self._tour_stop.is_set()

        def chosen(key: str | None) -> None:
            if key == STOP:
                self.action_stop_tour()
            elif key is not None:
                self.start_tour(key)

        self.app.push_screen(TourScreen(min(self._tour_next, len(LESSONS) - 1), running), callback=chosen)

    def action_stop_tour(self) -> None:
        if self._tour_stop is not None:
            self._tour_stop.set()
            self.tour_panel.finished("stopped. t: the lessons", True)

    def start_tour(self, key: str) -> None:
        """Run lesson ``key`` (name or number) beside the objects it uses, stopping one already running."""
        from ..tour import LESSONS, lesson_named

        lesson = lesson_named(key)
        if self._tour_stop is not None:
            self._tour_stop.set()
        stop = self._tour_stop = threading.Event()
        self._tour_next = LESSONS.index(lesson) + 1
        self.run_worker(lambda: self._tour_thread(lesson, stop), thread=True, group="tour", exit_on_error=False)

    def _tour_thread(self, lesson, stop: threading.Event) -> None:
        from ..tour import LESSONS, TourStopped, run_lesson

        narrator = TuiNarrator(self, stop, self.tour_dwell)
        number = LESSONS.index(lesson) + 1
        try:
            checks = run_lesson(self.facade, lesson, narrator, number, len(LESSONS))
        except TourStopped:
            return
        except Exception as exc:  # noqa: BLE001 - say it in the panel; the screen goes on
            if not stop.is_set():
                self.app.call_from_thread(self.tour_panel.finished, f"the lesson stopped: {type(exc).__name__}: "
                                          f"{exc}", False)
            return
        held = sum(c.ok for c in checks)
        nxt = f"t: lesson {number + 1}, {LESSONS[number].title}" if number < len(LESSONS) else "t: replay any lesson"
        text = f"{held} of {len(checks)} claims held. {lesson.closing}  {nxt}"
        self.app.call_from_thread(self._lesson_finished, lesson.key, checks, text, stop)

    def _lesson_finished(self, key: str, checks: list, text: str, stop: threading.Event) -> None:
        """On the UI thread: say how the lesson went, then record it (so a recorded lesson is one on screen)."""
        if not stop.is_set():
            self.tour_panel.finished(text, all(c.ok for c in checks))
            self.kick(True)
        self.tour_checks.append((key, checks))

    def point_at(self, key: Key | None, tab: str | None) -> None:
        """Show what the tour points at: the object's row selected, the tab it names."""
        if tab:
            self.object_view.active_tab = tab
        if key is None:
            return
        if key in self.rows.rows:
            self.go_to(key)
        else:
            self._pending_point = key
            self.kick(full=True)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_invoke(self, method: str | None = None) -> None:
        target = self._target()
        if target is None or self.check_action("invoke", ()) is not True:
            return
        ns, ref, label = target

        def invoker(m: str, args: list, kwargs: dict):
            return self.facade.call_async(ns, ref, m, args, kwargs)

        if method is None and self.object_view.active_tab == "methods":
            opt = self.object_view.methods_view.highlighted_option
            method = opt.id if opt is not None and opt.id != "__class__" else None
        if method is None:
            method = self._last_method.get(ns)

        def closed(last: str | None) -> None:
            if last is not None:
                self._last_method[ns] = last
            self.kick(detail=True)

        def left_running(m: str, fut) -> None:
            self.notify(f"{label}.{m} has not returned yet; its result will show here", timeout=3)
            self.run_worker(self._await_call(f"{label}.{m}", fut), group="calls", exit_on_error=False)

        self.app.push_screen(InvokeScreen(label, self.namespaces[ns], invoker, method, left_running), callback=closed)

    async def _await_call(self, what: str, fut) -> None:
        """A call whose dialog was closed: say how it ended."""
        try:
            result = await asyncio.shield(asyncio.wrap_future(fut))
        except asyncio.CancelledError:
            if fut.cancelled():
                self.notify(f"{what} was cancelled", severity="warning")
            raise
        except Exception as exc:  # noqa: BLE001
            self.notify(f"{what} raised {type(exc).__name__}: {exc}", severity="error", timeout=8)
        else:
            self.notify(f"{what} returned {short(result, 80)}", timeout=6)
        finally:
            self.kick(detail=True)

    def action_new_object(self) -> None:
        if not self.namespaces:
            return
        current = self.selected[0] if self.selected else self.rows.namespace

        def made(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            ns, name = result

            def woke(info: dict[str, Any]) -> None:
                self.rows.update([info])
                self.table.apply({(info["namespace"], info["id"])})
                self.go_to((info["namespace"], info["id"]))
                self.notify(f"{ns}/{name} is live: {glossary.WAKE_NOTE}", timeout=4)

            self._act(f"new {ns}/{name}", self.facade.wake, ns, name, done=woke)

        self.app.push_screen(NewObjectScreen(list(self.namespaces.values()), current), callback=made)

    def action_hibernate(self) -> None:
        target = self._target()
        if target is None or self.check_action("hibernate", ()) is not True:
            return
        ns, ref, label = target

        def done(hibernated: bool) -> None:
            if hibernated:
                self.notify(f"{label} hibernated: {glossary.HIBERNATE_NOTE}", timeout=5)
            else:
                self.notify(f"{label} was not live", severity="warning")

        self.notify(f"hibernating {label} (once its running calls end)…", timeout=2)
        self._act(f"hibernate {label}", self.facade.hibernate, ns, ref, done=done)

    def action_hibernate_all(self) -> None:
        self._act("hibernate all", self.facade.hibernate_all,
                  done=lambda n: self.notify(f"{n} object{'s' if n != 1 else ''} hibernated: {glossary.HIBERNATE_NOTE}"))

    def action_wake(self) -> None:
        target = self._target()
        if target is None or self.check_action("wake", ()) is not True:
            return
        ns, ref, label = target

        def done(info: dict[str, Any]) -> None:
            self.rows.update([info])
            self.table.apply({(info["namespace"], info["id"])})
            self._show_selected()
            self.notify(f"{label} is live: {glossary.WAKE_NOTE}", timeout=4)

        self._act(f"wake {label}", self.facade.wake, ns, ref, done=done)

    def on_key(self, event) -> None:
        # a greyed key does nothing by itself: say why, rather than nothing
        if event.key == "a" and self.focused is self.table and self.check_action("alarm", ()) is None:
            info = self.selected_info
            if info is not None:
                event.stop()
                self.notify(f"{info['namespace']} has no alarm() method, so an alarm would have nothing to run. "
                            "Add `async def alarm(self, info):` to the class (ApiUsage has one).",
                            severity="warning", timeout=6)

    def action_alarm(self) -> None:
        target = self._target()
        if target is None or self.check_action("alarm", ()) is not True:
            return
        ns, ref, label = target
        info = self.selected_info or {}
        has_handler = bool(self.namespaces.get(ns, {}).get("alarm"))

        def chosen(result: tuple[str, str | None] | None) -> None:
            if result is None:
                return
            what, when = result
            if what == "set":
                self._act(f"set the alarm of {label}", self.facade.alarm_set, ns, ref, when,
                          done=lambda t: self.notify(f"alarm of {label} set: it fires {_when(t, self.clock())}"))
            else:
                self._act(f"delete the alarm of {label}", self.facade.alarm_delete, ns, ref,
                          done=lambda _: self.notify(f"alarm of {label} deleted"))

        self.app.push_screen(AlarmScreen(label, info.get("alarm"), has_handler, self.clock), callback=chosen)

    def action_edit_storage(self) -> None:
        target = self._target()
        if target is None:
            return
        ns, ref, label = target
        view = self.object_view.storage_view
        key = view.current_key if self.object_view.active_tab == "storage" else None
        exists = key is not None

        def chosen(result: tuple[str, str, Any] | None) -> None:
            if result is None:
                return
            what, k, value = result
            self.object_view.active_tab = "storage"
            if what == "put":
                self._act(f"put {k!r} in {label}", self.facade.storage_put, ns, ref, k, value,
                          done=lambda _: self.notify(f"{label}: put {k!r} (durable: committed)", timeout=3))
            else:
                self._act(f"delete {k!r} from {label}", self.facade.storage_delete, ns, ref, k,
                          done=lambda found: self.notify(f"{label}: {k!r} deleted" if found else f"{label} had no key {k!r}",
                                                         timeout=3))

        self.app.push_screen(StorageEditScreen(label, key, view.current_value() if exists else None, exists),
                             callback=chosen)

    def _edit_storage_from_palette(self) -> None:
        self.object_view.active_tab = "storage"
        self.action_edit_storage()

    def action_reload(self, reason: str | None = None) -> None:
        def done(errors: list[str]) -> None:
            self.kick(full=True, namespaces=True)
            if errors:
                self.notify("\n".join(errors), title="reloaded, but some files failed", severity="error", timeout=10)
            else:
                self.notify((reason + ": " if reason else "") + "reloaded; live objects are reset onto the new code "
                            "(storage, alarms and queued calls kept)", timeout=4)

        self._act("reload", self.facade.reload, done=done)

    # ------------------------------------------------------------ command bar
    def action_command_bar(self) -> None:
        self.command_bar.open()

    @on(CommandBar.Closed)
    def _bar_closed(self) -> None:
        self.table.focus()

    @on(CommandBar.CompletionWanted)
    def _completion_wanted(self, event: CommandBar.CompletionWanted) -> None:
        self._complete(event.text)

    @work(group="complete", exclusive=True, exit_on_error=False)
    async def _complete(self, text: str) -> None:
        completer = self._get_completer()
        if completer is None:
            return
        try:
            items = await asyncio.wrap_future(self.gateway.act(completer.complete, text))
        except Exception:  # noqa: BLE001 - completion never breaks typing
            return
        self.command_bar.set_completions(text, items)

    def _get_completer(self):
        if self._completer is None:
            try:
                from ..commands.completion import Completer
            except ImportError:
                return None
            self._completer = Completer(self.facade)
        return self._completer

    @on(CommandBar.Submitted)
    def _command_submitted(self, event: CommandBar.Submitted) -> None:
        self._run_command(event.line, event.mark)

    @work(group="command", exit_on_error=False)
    async def _run_command(self, line: str, mark: int) -> None:
        try:
            from ..commands import Context, execute
        except ImportError as exc:
            self.command_bar.show_output(Text(f"the command registry is not available: {exc}", style="red"))
            return
        bar = self.command_bar
        ctx = Context(self.facade, interactive=False)
        try:
            outcome = await asyncio.wrap_future(self.gateway.act(execute, ctx, line))
        except Exception as exc:  # noqa: BLE001
            bar.show_output(Text(f"error: {type(exc).__name__}: {exc}", style="red"))
            return
        finally:
            self.kick(full=True)
        if outcome is None:
            return
        if outcome.quit:
            self.action_quit()
            return
        if outcome.command == "reload":
            self.kick(full=True, namespaces=True)
        if bar.writes != mark:  # something else was written since the line: say what this answers
            bar.show_output(Text.assemble(("↳ ", "dim"), (line, "dim")))
        _render_outcome(bar, outcome)

    # ------------------------------------------------------------ palette
    def palette_commands(self) -> Iterable[tuple[str, str, Callable[[], Any]]]:
        target = self._target()
        label = target[2] if target else "the selected object"
        entries = [
            ("invoke", f"Invoke a method of {label}", "Call a method through the object's stub", self.action_invoke),
            ("new_object", "New object by name", "Make an id from a name and wake the object", self.action_new_object),
            ("hibernate", f"Hibernate {label}", glossary.HIBERNATE_DOES, self.action_hibernate),
            ("wake", f"Wake {label}", glossary.WAKE_DOES, self.action_wake),
            ("alarm", f"Set or delete the alarm of {label}", "One alarm per object; it wakes the object", self.action_alarm),
            ("edit_storage_anywhere", f"Edit a storage key of {label}", "The write goes through the object's queue",
             self._edit_storage_from_palette),
            ("reload", "Reload the objects folder", "Re-import the classes; live objects reset onto the new code",
             self.action_reload),
            ("hibernate_all", "Hibernate every live object", "Drop every Python object; storage stays",
             self.action_hibernate_all),
            ("filter", "Filter instances", "Type a name, #id prefix or Namespace/", self.action_filter),
            ("command_bar", "Command bar", "Run any REPL command", self.action_command_bar),
            ("tour", "Tour: one lesson per concept, run on objects of its own", "", self.action_tour),
            ("help", "Help: keys and what every glyph means", "", self.action_help),
            ("quit", "Quit (after a clean flush)", "Every write durable and checkpointed first", self.action_quit),
        ]
        for action, name, help_text, fn in entries:
            if action == "edit_storage_anywhere" and target is not None or self.check_action(action, ()) is True:
                yield name, help_text, fn
        for col in SORTABLE:
            yield (f"Sort instances by {col.replace('_', ' ')}", "",
                   lambda c=col: (self.rows.set_sort(c), self._view_changed()))
        for ns in sorted(self.namespaces):
            yield (f"Show namespace {ns}", self.namespaces[ns].get("doc") or "",
                   lambda n=ns: (self.rows.set_namespace(n), self._view_changed()))
        for tab in ("queue", "storage", "methods", "events"):
            yield f"Tab: {tab}", glossary.TABS[tab], lambda t=tab: self.action_tab(t)

    def palette_objects(self, query: str, limit: int) -> list[tuple[str, str, Key]]:
        q = query.strip().lower()
        out = []
        for key, info in self.rows.rows.items():
            label = f"{key[0]}/{label_of(info)}"
            if q in label.lower() or key[1].startswith(q.lstrip("#")):
                out.append((label, glossary.STATES[row_state(info)], key))
                if len(out) >= limit:
                    break
        return out

    # ------------------------------------------------------------ quitting
    @work(group="quit", exit_on_error=False)
    async def action_quit(self) -> None:
        if self._quitting:
            self.notify("quitting without waiting for the engine", severity="warning")
            self.app.exit(1)
            return
        self._quitting = True
        self._kick.set()
        self.notify("flushing: making every write durable…", timeout=10)
        fut = asyncio.wrap_future(self.gateway.act(self.facade.flush))
        done, _ = await asyncio.wait([fut], timeout=2.0)
        if not done:
            blocking = self.watch.blocking()
            what = (f"{blocking.namespace}/{blocking.label}.{blocking.method} is still running" if blocking
                    else "the engine has not answered")
            self.notify(f"waiting: {what}. Press q again to quit without a clean flush.", severity="warning",
                        timeout=30)
            self._quitting = True
            await fut
        else:
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001
                self.notify(f"the flush failed: {type(exc).__name__}: {exc}", severity="error")
                await asyncio.sleep(2)
                self.app.exit(1)
                return
        self.app.exit(0)


def _after(first: concurrent.futures.Future, fn: Callable[..., Any], *args: Any) -> Any:
    """(Gateway thread) ``fn(*args)`` once ``first`` is done, whatever its outcome."""
    concurrent.futures.wait([first])
    return fn(*args)


def _short_dir(path: str) -> str:
    import os

    rel = os.path.relpath(path)
    return (rel if not rel.startswith("..") else path) + "/"


def _when(t: float, now: float) -> str:
    return relative(t, now)


def _render_outcome(bar: CommandBar, outcome: Any) -> None:
    try:
        Renderer(bar.console()).outcome(outcome)
        return
    except Exception:  # noqa: BLE001 - fall back to the raw data
        pass
    from rich.pretty import Pretty
    if outcome.ok:
        bar.show_output(Pretty(outcome.result))
    else:
        err = outcome.error
        bar.show_output(Text(f"error: {err.message}" + (f"  ({err.hint})" if err.hint else ""), style="red"))


PRINTABLE = PrintableFilter()


class DotuiApp(App[int]):
    """The dotui TUI over an engine facade (in-process or remote)."""

    CSS_PATH = "dotui.tcss"
    TITLE = "dotui"
    COMMANDS = App.COMMANDS | {DotuiCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, facade: EngineFacade, *, clock: Callable[[], float] = time.time, refresh_interval: float = 0.25,
                 watch_files: bool = True, busy_after: float = BUSY_AFTER, tour: str | None = None,
                 tour_dwell: float = 1.0) -> None:
        """``clock`` gives "now" for relative times (tests freeze it); ``refresh_interval`` is the
        seconds between refreshes; ``watch_files`` reloads when the objects folder changes;
        ``busy_after`` is how long the engine may take to answer before the header says it is busy."""
        super().__init__()
        self.facade = facade
        self.gateway = Gateway(facade)
        self.clock = clock
        self.refresh_interval = refresh_interval
        self.watch_files = watch_files
        self.busy_after = busy_after
        self.tour = tour
        self.tour_dwell = tour_dwell

    def get_line_filters(self) -> list[LineFilter]:
        """Textual's filters, then ``PrintableFilter``: no control character of any widget's text reaches
        the terminal. O(1)."""
        return [*super().get_line_filters(), PRINTABLE]

    def get_default_screen(self) -> Screen:
        return MainScreen(self.facade, self.gateway, self.clock, self.refresh_interval, self.watch_files,
                          self.busy_after, self.tour, self.tour_dwell)

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("the main screen is not running")

    async def action_quit(self) -> None:
        main = self.main
        main.action_quit()

    def on_unmount(self) -> None:
        self.gateway.stop()


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
