"""The TUI's action table: every key of the main screen, once (key, label, when it applies, what it runs).

A row that acts on the engine names the registry command it runs
(``command``: ``hibernate Counter/alice``); the screen runs that line on its
action lane and shows the answer in the words the REPL prints
(``present/render.py``). A row that opens a dialog runs the command the
dialog composes (the invoke dialog submits ``call``). Rows that only move the
view (filter, sort, tabs) name the view's handler. The footer's bindings,
the palette's entries, the help screen's key list and ``check_action`` are all
read from this one table: a new action is one row here (and its command).

    row = ACTIONS["hibernate"]
    row.enabled(scope)      # True, None (greyed: why in ``row.help``) or False (hidden)
    row.command(scope)      # 'hibernate Counter/alice'
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding, BindingType

from ..commands.parsing import format_ref
from . import glossary

if TYPE_CHECKING:
    from .app import MainScreen


@dataclass(frozen=True)
class Scope:
    """What an action may depend on: the selected row, its class, the classes known, the active tab."""

    info: dict[str, Any] | None = None
    namespace: dict[str, Any] | None = None
    namespaces: int = 0
    tab: str | None = None
    touring: bool = False  # a lesson of the tour is running

    @property
    def row(self) -> dict[str, Any]:
        """The selected row: for the rows of an action that needs one (enabled only with one)."""
        assert self.info is not None
        return self.info

    @property
    def ref(self) -> str:
        """The selected object as the command language writes it (``Counter/alice``, ``Counter/#3f2a…``)."""
        row = self.row
        return format_ref(row["namespace"], row.get("name"), row["id"], digits=64)

    @property
    def label(self) -> str:
        return (
            format_ref(self.info["namespace"], self.info.get("name"), self.info["id"])
            if self.info
            else "the selected object"
        )


Enabled = Callable[[Scope], "bool | None"]


def _always(_: Scope) -> bool:
    return True


def _selected(s: Scope) -> bool | None:
    return True if s.info is not None else None


def _invocable(s: Scope) -> bool | None:
    return True if s.info is not None and s.namespace and s.namespace.get("methods") else None


def _live(s: Scope) -> bool | None:
    return True if s.info is not None and s.info.get("state") == "live" else None


def _not_live(s: Scope) -> bool | None:
    return True if s.info is not None and s.info.get("state") != "live" else None


def _alarmable(s: Scope) -> bool | None:
    if s.info is None:
        return None
    return True if (s.namespace and s.namespace.get("alarm")) or s.info.get("alarm") is not None else None


def _on_tab(tab: str, inner: Enabled = _always) -> Enabled:
    def enabled(s: Scope) -> bool | None:
        return inner(s) if s.tab == tab else False  # hidden elsewhere: the key belongs to that tab

    return enabled


def _sqlite_backed(s: Scope) -> bool | None:
    """The selected object keeps its storage in SQLite: the storage studio shows it (widgets/studio/)."""
    return True if s.info is not None and s.namespace and s.namespace.get("backend") == "sqlite" else False


def _has_classes(s: Scope) -> bool | None:
    return True if s.namespaces else None


def _touring(s: Scope) -> bool:
    return s.touring  # hidden otherwise: the key is the focused widget's again


@dataclass(frozen=True)
class TuiAction:
    """One key of the main screen."""

    name: str
    key: str
    label: str  # the footer's word
    palette: str  # the palette's entry; ``{target}`` is the selected object
    help: str  # one line: what it does (the palette and the help screen say it)
    enabled: Enabled = _always
    command: Callable[[Scope], str] | None = None  # the registry command it runs
    # a dialog or a change of view; an awaitable it returns (the app's quit) runs as a worker
    handler: Callable[[MainScreen], Awaitable[None] | None] | None = None
    show: bool = True  # in the footer
    keys_text: str = ""  # how the help screen writes the key, when not ``key``


def _tab(name: str, key: str) -> TuiAction:
    return TuiAction(
        f"tab_{name}",
        key,
        name.capitalize(),
        f"Tab: {name}",
        glossary.TABS[name],
        handler=lambda s: s.view.tab(name),
        show=False,
    )


ROWS: list[TuiAction] = [
    TuiAction(
        "tour",
        "t",
        "Tour",
        "Tour: one lesson per concept, run on objects of its own",
        "the tour: a lesson per concept (space pauses, → ← step, while a lesson runs)",
        handler=lambda s: s.tour.pick(),
    ),
    TuiAction(
        "help",
        "question_mark",
        "Help",
        "Help: keys and what every glyph means",
        "this help",
        handler=lambda s: s.view.help(),
        keys_text="?",
    ),
    TuiAction(
        "quit",
        "q",
        "Quit",
        "Quit (after a clean flush)",
        "quit after a clean flush (every write durable, checkpointed)",
        handler=lambda s: s.app.action_quit(),
    ),
    TuiAction(
        "filter",
        "slash",
        "Filter",
        "Filter instances",
        "filter as you type: a name, #id prefix, or Namespace/ (Esc clears)",
        handler=lambda s: s.view.filter(),
        keys_text="/",
    ),
    TuiAction(
        "invoke",
        "i",
        "Invoke",
        "Invoke a method of {target}",
        "call a method through the object's stub (runs: call REF METHOD ARGS)",
        _invocable,
        handler=lambda s: s.dialogs.invoke(),
    ),
    TuiAction(
        "new_object",
        "n",
        "New",
        "New object by name",
        "make an id from a name and wake the object (runs: wake NS/NAME)",
        _has_classes,
        handler=lambda s: s.dialogs.new_object(),
    ),
    TuiAction(
        "hibernate",
        "h",
        "Hibernate",
        "Hibernate {target}",
        glossary.HIBERNATE_DOES,
        _live,
        command=lambda s: f"hibernate {s.ref}",
    ),
    TuiAction("wake", "w", "Wake", "Wake {target}", glossary.WAKE_DOES, _not_live, command=lambda s: f"wake {s.ref}"),
    TuiAction(
        "reset",
        "X",
        "Reset",
        "Reset {target}: it starts again from its durable state",
        "reset the selected object, as ctx.abort() would: its calls in flight fail, what is on disk stays",
        _live,
        command=lambda s: f"reset {s.ref}",
        show=False,
    ),
    TuiAction(
        "edit_storage",
        "e",
        "Edit",
        "Edit a storage key of {target}",
        "put or delete a key, through the object's queue (runs: put REF KEY VALUE | del REF KEY)",
        _on_tab("storage", _selected),
        handler=lambda s: s.dialogs.edit_storage(),
        show=False,
    ),
    TuiAction(
        "bookmarks",
        "b",
        "Bookmarks",
        "Bookmarks of {target}",
        "a SQLite-backed object's states over time; "
        "Enter on one restores it there, after asking (runs: restore REF BOOKMARK)",
        _on_tab("storage", _sqlite_backed),
        handler=lambda s: s.view.studio_bookmarks(),
        show=False,
    ),
    TuiAction(
        "command_bar",
        "colon",
        "Cmd",
        "Command bar",
        "type any REPL command, with completion",
        handler=lambda s: s.commands.open(),
        keys_text=":",
    ),
    TuiAction(
        "alarm",
        "a",
        "Alarm",
        "Set or delete the alarm of {target}",
        "one alarm per object; it wakes the object (runs: alarm REF set WHEN | delete)",
        _alarmable,
        handler=lambda s: s.dialogs.alarm(),
    ),
    TuiAction(
        "reload",
        "r",
        "Reload",
        "Reload the objects folder",
        "re-import the classes; live objects restart on the new code (also automatic when a file there is saved)",
        command=lambda s: "reload",
    ),
    TuiAction(
        "stop_tour",
        "T",
        "Stop tour",
        "Stop the lesson running",
        "stop the lesson running",
        handler=lambda s: s.tour.stop(),
        show=False,
    ),
    TuiAction(
        "sort",
        "s",
        "Sort",
        "Sort by the next column",
        "sort by the next column (or click a column title)",
        handler=lambda s: s.view.sort(),
        show=False,
    ),
    TuiAction(
        "reverse",
        "S",
        "Reverse",
        "Reverse the order",
        "reverse the order",
        handler=lambda s: s.view.reverse(),
        show=False,
    ),
    TuiAction(
        "next_namespace",
        "g",
        "Namespace",
        "Show the next namespace",
        "show one namespace, then the next, then all",
        handler=lambda s: s.view.next_namespace(),
        show=False,
    ),
    TuiAction(
        "grouping",
        "G",
        "Group",
        "Group rows by namespace",
        "group rows by namespace, or not",
        handler=lambda s: s.view.grouping(),
        show=False,
    ),
    TuiAction(
        "hibernate_all",
        "H",
        "Hibernate all",
        "Hibernate every live object",
        "drop every Python object; storage stays",
        command=lambda s: "hibernate --all",
        show=False,
    ),
    _tab("queue", "1"),
    _tab("storage", "2"),
    _tab("methods", "3"),
    _tab("events", "4"),
    _tab("sockets", "5"),
    TuiAction(
        "zoom",
        "z",
        "Zoom",
        "Zoom the selected object",
        "the selected object full screen, and back (Esc also returns)",
        handler=lambda s: s.view.zoom(),
        show=False,
    ),
    TuiAction(
        "events_follow",
        "p",
        "Pause/follow",
        "Events: pause or follow",
        "pause or follow the Events tab",
        _on_tab("events"),
        handler=lambda s: s.view.events_follow(),
        show=False,
    ),
    TuiAction(
        "events_kind",
        "v",
        "Kind",
        "Events: the next kind",
        "show one kind of event, then the next",
        _on_tab("events"),
        handler=lambda s: s.view.events_kind(),
        show=False,
    ),
    TuiAction(
        "events_find",
        "f",
        "Find",
        "Events: find",
        "find text in the Events tab",
        _on_tab("events"),
        handler=lambda s: s.view.events_find(),
        show=False,
    ),
    TuiAction(
        "tour_pause",
        "space",
        "Pause",
        "Tour: pause or go on",
        "while a lesson runs: pause it at the step shown, or go on",
        _touring,
        handler=lambda s: s.tour.key("pause"),
        keys_text="space",
        show=False,
    ),
    TuiAction(
        "tour_forward",
        "right",
        "Step",
        "Tour: the next step",
        "while a lesson runs: the next step (its calls run now)",
        _touring,
        handler=lambda s: s.tour.key("forward"),
        keys_text="→",
        show=False,
    ),
    TuiAction(
        "tour_back",
        "left",
        "Back",
        "Tour: the step before",
        "while a lesson runs: the step before (the lesson runs again, on the engine, up to it)",
        _touring,
        handler=lambda s: s.tour.key("back"),
        keys_text="←",
        show=False,
    ),  # the tour panel names these three
    TuiAction(
        "escape",
        "escape",
        "Back",
        "Back",
        "close the filter, the zoom, the namespace shown",
        handler=lambda s: s.view.escape(),
        show=False,
    ),
]

ACTIONS: dict[str, TuiAction] = {row.name: row for row in ROWS}


def bindings() -> list[BindingType]:
    """The main screen's bindings, one per row: each runs ``act(NAME)``."""
    return [Binding(row.key, f"act('{row.name}')", row.label, show=row.show) for row in ROWS]


def help_keys() -> list[tuple[str, str]]:
    """(keys, what they do) for the help screen, in the table's order; the tabs as one line."""
    out: list[tuple[str, str]] = []
    tabs = [row for row in ROWS if row.name.startswith("tab_")]
    for row in ROWS:
        if row.name.startswith("tab_"):
            if row is tabs[0]:
                out.append((" ".join(t.key for t in tabs), " · ".join(t.label for t in tabs) + " tab"))
            continue
        out.append((row.keys_text or row.key, row.help))
    return out
