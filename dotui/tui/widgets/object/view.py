"""The object view: who the selected object is, and its Queue, Storage, Methods and Events tabs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TabbedContent, TabPane

from ....commands.parsing import format_ref
from ....ops import EngineFacade
from ... import glossary
from ...model import Key, label_of, row_state
from ..studio import StudioView
from .events import EventsView
from .methods import MethodsView
from .queue import QueueView
from .sockets import TOOLTIP as SOCKETS_TOOLTIP
from .sockets import SocketsView
from .storage import StorageView

STATE_STYLE = {"busy": "bold yellow", "idle": "green", "waking": "cyan", "hibernated": "", "broken": "bold red"}
TAB_TITLES = {"queue": "Queue", "storage": "Storage", "methods": "Methods", "events": "Events"}


def title_text(info: Mapping[str, Any] | None) -> Text:
    if info is None:
        return Text("No instance selected: pick one on the left, or press n to make one by name.", style="dim")
    state = row_state(info)
    name, _, meaning = glossary.STATES[state].partition(": ")
    text = Text.assemble(
        (info["namespace"] + "/", "dim"),
        (label_of(info), "bold"),
        "  ",
        (f"{glossary.GLYPHS[state]} {name}", STATE_STYLE[state]),
    )
    if info.get("broken"):
        text.append(f"\n{info['broken']}", "red")
    text.append("\n" + meaning, "dim italic")
    return text


class ObjectView(Vertical):
    """Everything about one instance."""

    ALLOW_MAXIMIZE = True  # z: full screen on a small terminal

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key: Key | None = None

    def compose(self) -> ComposeResult:
        yield Static(title_text(None), id="object-title")
        with TabbedContent(id="object-tabs", initial="queue"):
            with TabPane(TAB_TITLES["queue"], id="queue"):
                yield QueueView(id="queue-view")
            with TabPane(TAB_TITLES["storage"], id="storage"):
                yield StorageView(id="storage-view")
                yield StudioView(id="studio-view", classes="-hidden")  # a SQLite-backed object's (widgets/studio/)
            with TabPane(TAB_TITLES["methods"], id="methods"):
                yield MethodsView(id="methods-view")
            with TabPane(TAB_TITLES["events"], id="events"):
                yield EventsView(id="events-view")
            with TabPane("Sockets", id="sockets"):  # shown while the object has WebSockets open
                yield SocketsView(id="sockets-view")

    def on_mount(self) -> None:
        tabs = self.query_one(TabbedContent)
        for pane_id in TAB_TITLES:
            tabs.get_tab(pane_id).tooltip = glossary.TABS[pane_id]
        tabs.get_tab("sockets").tooltip = SOCKETS_TOOLTIP
        tabs.hide_tab("sockets")
        self._sockets_shown = False

    def poll_sockets(self, facade: EngineFacade) -> None:
        """Read the shown object's WebSockets off the UI thread; the tab shows while it has some."""
        key = self.key
        if key is None:
            self._show_sockets(None, {"sockets": []})
            return

        def read() -> None:
            try:
                doc = facade.websockets(key[0], "#" + key[1])
            except Exception:  # noqa: BLE001 - e.g. an older gateway without this operation: no tab
                doc = {"sockets": []}
            self.app.call_from_thread(self._show_sockets, key, doc)

        self.run_worker(read, thread=True, group="sockets", exclusive=True)

    def _show_sockets(self, key: Key | None, doc: dict[str, Any]) -> None:
        if key != self.key:
            return
        has = bool(doc.get("sockets"))
        tabs = self.query_one(TabbedContent)
        if has != self._sockets_shown:
            self._sockets_shown = has
            (tabs.show_tab if has else tabs.hide_tab)("sockets")
        if has:
            self.query_one(SocketsView).show(doc)

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active or "queue"

    @active_tab.setter
    def active_tab(self, pane_id: str) -> None:
        self.query_one(TabbedContent).active = pane_id

    @property
    def queue_view(self) -> QueueView:
        return self.query_one(QueueView)

    def show_studio(self, facade: EngineFacade | None, info: Mapping[str, Any] | None) -> bool:
        """The storage studio in place of the key-value view while a SQLite-backed object is shown
        (``facade`` None: the key-value view). Whether the studio is shown."""
        shown = facade is not None and info is not None
        self.query_one(StudioView).set_class(not shown, "-hidden")
        self.query_one(StorageView).set_class(shown, "-hidden")
        if facade is not None and info is not None:
            self.query_one(StudioView).show(
                facade,
                (info["namespace"], info["id"]),
                f"{info['namespace']}/{label_of(info)}",
                format_ref(info["namespace"], info.get("name"), info["id"], digits=64),
            )
        return shown

    @property
    def storage_view(self) -> StorageView:
        return self.query_one(StorageView)

    @property
    def methods_view(self) -> MethodsView:
        return self.query_one(MethodsView)

    @property
    def events_view(self) -> EventsView:
        return self.query_one(EventsView)

    def show_title(self, info: Mapping[str, Any] | None) -> None:
        sig = info and (info["namespace"], info["id"], info.get("name"), row_state(info), info.get("broken"))
        if sig == getattr(self, "_title_sig", 0):
            return
        self._title_sig = sig
        title = self.query_one("#object-title", Static)
        title.update(title_text(info))
        title.tooltip = f"id {info['id']}" if info else None
