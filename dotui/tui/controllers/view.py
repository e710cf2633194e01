"""What the main screen shows, and the keys that only change the view (filter, sort, tabs, zoom, Events).

Nothing here reaches the engine: it draws what the refresh loop brought
(``drew``), keeps the selected object's panes in step with the selection, and
moves the view when a key asks.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rich.text import Text

from ..model import SORTABLE, Key
from ..refresh import Applied
from ..snapshot import Detail
from ..widgets.object.queue import render_queue
from ..widgets.studio.studio import StudioView
from ..widgets.welcome import Welcome
from .welcome import DEMO_KEY

if TYPE_CHECKING:
    from ..app import MainScreen


class ViewController:
    def __init__(self, screen: MainScreen):
        self.screen = screen
        self.pending_point: Key | None = None  # an object the tour points at, selected once it is listed
        self._bindings_sig: tuple | None = None

    @property
    def rows(self):
        return self.screen.rows

    # ------------------------------------------------------------ drawing
    def drew(self, applied: Applied) -> None:
        """Draw what one snapshot changed."""
        s = self.screen
        s.table.apply(applied.changed)
        self.welcome_if_empty()
        if self.pending_point is not None and self.pending_point in self.rows.rows:
            key, self.pending_point = self.pending_point, None
            self.go_to(key)
        s.pane.describe()
        if applied.show_selected:
            self.show_selected()
        if applied.detail is not None:
            self.show_detail(applied.detail)

    def changed(self) -> None:
        """The rows' order, filter or namespace changed: repaint the table."""
        self.screen.table.apply(set())
        self.screen.pane.describe()

    def selected_changed(self, key: Key | None) -> None:
        s = self.screen
        if s.refresher.refresh.show(key):
            s.object_view.key = key
            s.object_view.events_view.replay(s.engine_watch.events_of(key) if key else [])
            s.object_view.storage_view.clear("reading storage…" if key else "Select an instance to read its storage.")
            s.object_view.queue_view.show(Text("…", style="dim"))
            s.kick(detail=True)
        self.show_selected()

    def show_selected(self) -> None:
        s = self.screen
        info = self.rows.rows.get(s.shown) if s.shown is not None else None
        s.object_view.show_title(info)
        s.object_view.methods_view.show(s.namespaces.get(info["namespace"]) if info else None)
        self.bindings_if_changed()

    def bindings_if_changed(self) -> None:
        """Grey out or enable the footer's keys when what they depend on changed (not every frame)."""
        s = self.screen
        info = s.selected_info
        sig = (s.selected, info and info.get("state"), info and info.get("alarm") is None, len(s.namespaces))
        if sig != self._bindings_sig:
            self._bindings_sig = sig
            s.refresh_bindings()

    def show_detail(self, detail: Detail) -> None:
        s = self.screen
        changed = s.refresher.refresh.detail_row_changed(detail)
        if changed:
            s.table.apply(changed)
            s.object_view.show_title(detail.info)
            self.bindings_if_changed()
        tab = s.object_view.active_tab
        if tab == "queue":
            self.render_queue()
        elif tab == "storage":
            info = detail.info or s.selected_info
            sqlite = info is not None and s.namespaces.get(info["namespace"], {}).get("backend") == "sqlite"
            if s.object_view.show_studio(s.facade if sqlite else None, info):  # widgets/studio/
                return
            view = s.object_view.storage_view
            if detail.storage_error:
                view.clear(f"cannot read this object's storage: {detail.storage_error}")
            elif detail.storage is not None:
                view.show(detail.storage, s.engine_watch.last_commit.get(detail.key), s.clock())

    def studio_bookmarks(self) -> None:
        """b on the Storage tab of a SQLite-backed object: the studio's bookmarks (widgets/studio/)."""
        studio = self.screen.object_view.query_one("#studio-view", StudioView)
        if not studio.has_class("-hidden"):
            studio.action_bookmarks()

    def render_queue(self) -> None:
        s = self.screen
        d = s.detail
        if d is None:
            return
        if d.error:
            s.object_view.queue_view.show(Text(d.error, style="red"))
            return
        info = d.info or s.selected_info
        ns = s.namespaces.get(d.key[0], {})
        queue = list(d.queue or []) + (
            self._held_calls(d.key, d.queue or []) if info and info.get("output_held") else []
        )
        s.object_view.queue_view.show(render_queue(info, queue, d.history, ns.get("mode", "input-gate"), s.clock()))

    def _held_calls(self, key: Key, queue: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Calls that returned and wait at the output gate, from the object's events (the engine's queue
        lists running and queued calls only)."""
        held: dict[Any, dict[str, Any]] = {}
        for ev in self.screen.engine_watch.events_of(key):
            kind = ev.get("type")
            if kind == "call.held":
                held[ev.get("call")] = {
                    "seq": ev.get("call"),
                    "method": ev.get("method", "?"),
                    "status": "held",
                    "started_at": ev.get("t"),
                }
            elif kind == "call.finished":
                held.pop(ev.get("call"), None)
        listed = {c.get("seq") for c in queue}
        return [c for seq, c in held.items() if seq not in listed]

    def go_to(self, key: Key) -> None:
        """Select ``key``, clearing a filter that hides it."""
        s = self.screen
        if not s.table.select_key(key):
            self.rows.set_filter("")
            self.rows.set_namespace(None)
            s.pane.filter_input.value = ""
            self.changed()
            s.table.select_key(key)
        s.table.focus()

    def point_at(self, key: Key | None, tab: str | None) -> None:
        """Show what the tour points at: the object's row selected, the tab it names."""
        if tab:
            self.screen.object_view.active_tab = tab
        if key is None:
            return
        if key in self.rows.rows:
            self.go_to(key)
        else:
            self.pending_point = key
            self.screen.kick(full=True)

    def welcome_if_empty(self) -> None:
        """The welcome instead of the panes while there is no object (and no filter hiding them)."""
        s = self.screen
        rows = self.rows.rows
        only_demo = len(rows) == 1 and _is_demo(next(iter(rows.values())))  # O(1): the demo's object is no user's
        empty = (not rows or only_demo) and not self.rows.filter_text and self.rows.namespace is None
        welcome = s.query_one(Welcome)
        if empty:
            welcome.show_for(list(s.namespaces.values()), _short_dir(s.facade.objects_dir))
            if s.namespaces:
                s.welcome_demo.offer(s.namespaces)
        elif welcome.display:
            s.welcome_demo.stop()
        if welcome.display != empty:
            welcome.display = empty
            s.query_one("#body").display = not empty
            self.focus_table()

    def focus_table(self) -> None:
        """Keys go to the screen's bindings again, not to a box that is hidden or done with: the table, or the
        welcome while it stands in for the panes (a hidden table cannot hold the focus; the filter box took it)."""
        welcome = self.screen.query_one(Welcome)
        target = welcome if welcome.display else self.screen.table
        target.focus()
        self.screen.call_after_refresh(target.focus)  # once a zoom or a hidden filter box is laid out again

    # ------------------------------------------------------------ keys that move the view
    def filter(self) -> None:
        s = self.screen
        if s.maximized is not None:
            s.minimize()  # the filter box is in the instances pane: show it before typing into it
        s.pane.open_filter()

    def escape(self) -> None:
        s = self.screen
        if s.maximized is not None:
            s.minimize()
        elif self.rows.filter_text:
            s.pane.close_filter(clear=True)
        elif self.rows.namespace is not None:
            self.rows.set_namespace(None)
            self.changed()
        self.focus_table()

    def sort(self) -> None:
        """Sort by the next column on screen (a column this width hides is not one to sort by blind)."""
        shown = [c for c in SORTABLE if c in self.screen.table.shown_columns()] or SORTABLE
        current = self.rows.sort_column
        later = [c for c in shown if SORTABLE.index(c) > SORTABLE.index(current)]
        self.rows.set_sort((later or shown)[0])
        self.changed()
        self.screen.notify(f"sorted by {self.rows.sort_column.replace('_', ' ')}", timeout=2)

    def sort_by(self, column: str, toggle: bool = False) -> None:
        if toggle and self.rows.sort_column == column:
            self.rows.set_sort(column, not self.rows.sort_reverse)
        else:
            self.rows.set_sort(column)
        self.changed()

    def reverse(self) -> None:
        self.rows.set_sort(self.rows.sort_column, not self.rows.sort_reverse)
        self.changed()

    def show_namespace(self, name: str | None) -> None:
        self.rows.set_namespace(name)
        self.changed()

    def next_namespace(self) -> None:
        s = self.screen
        names = sorted(set(s.namespaces) | set(self.rows.namespaces()))
        if not names:
            return
        cur = self.rows.namespace
        at = names.index(cur) + 1 if cur in names else len(names)
        nxt = names[0] if cur is None else (names[at] if at < len(names) else None)
        self.show_namespace(nxt)
        s.notify(
            f"showing {nxt}: {(s.namespaces.get(nxt) or {}).get('doc') or ''}" if nxt else "showing every namespace",
            timeout=3,
        )

    def grouping(self) -> None:
        self.rows.set_grouping(not self.rows.group_by_namespace)
        self.changed()

    def zoom(self) -> None:
        """The selected object's view full screen, and back (for small terminals)."""
        s = self.screen
        if s.maximized is not None:
            s.minimize()
            self.focus_table()
        else:
            s.maximize(s.object_view, container=False)
            inside = next((w for w in s.object_view.query("*") if w.focusable), None)
            if inside is not None:
                inside.focus()  # not the hidden table, nor the filter box under it

    def tab(self, pane_id: str) -> None:
        self.screen.object_view.active_tab = pane_id

    def help(self) -> None:
        from ..screens.help import HelpScreen

        self.screen.app.push_screen(HelpScreen(), callback=lambda _: self.focus_table())

    def events_follow(self) -> None:
        self.screen.object_view.events_view.toggle_follow()

    def events_kind(self) -> None:
        view = self.screen.object_view.events_view
        view.next_kind()
        self.screen.notify(f"Events: {'every kind' if view.kind == 'all' else 'only ' + view.kind}", timeout=2)

    def events_find(self) -> None:
        from ..screens.find import FindScreen

        view = self.screen.object_view.events_view

        def found(text: str | None) -> None:
            if text is not None:
                view.find(text)

        self.screen.app.push_screen(FindScreen("this object's events", view.search), callback=found)


def _is_demo(info: dict[str, Any]) -> bool:
    return (info.get("namespace"), info.get("name")) == DEMO_KEY


def _short_dir(path: str) -> str:
    rel = os.path.relpath(path)
    return (rel if not rel.startswith("..") else path) + "/"
