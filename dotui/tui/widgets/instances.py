"""The instances pane: every object, live or hibernated, one line each.

``InstanceTable`` is a ``ScrollView`` that renders only the visible lines (as
toolong does) over ``model.InstanceRows``; at 10,000 instances a frame costs
the lines on screen, not the rows in memory. Repaints are per changed visible
line; the order is recomputed only when a sort value moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input

from .. import glossary
from ..model import COLUMN_BY_NAME, Column, InstanceRows, Key, cell_text, fit_columns, row_state


class InstanceTable(ScrollView, can_focus=True):
    """The instance rows, virtualized: a header line, then one line per visible instance."""

    COMPONENT_CLASSES = {
        "instance-table--header",
        "instance-table--cursor",
        "instance-table--cursor-blurred",
        "instance-table--dim",
        "instance-table--busy",
        "instance-table--idle",
        "instance-table--waking",
        "instance-table--hibernated",
        "instance-table--broken",
        "instance-table--mark",
        "instance-table--error",
    }

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("enter", "choose", "Open", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)

    class Highlighted(Message):
        """The cursor moved onto another instance (or off every instance: key None)."""

        def __init__(self, key: Key | None) -> None:
            super().__init__()
            self.key = key

    class Chosen(Message):
        """Enter (or a double click) on an instance."""

        def __init__(self, key: Key) -> None:
            super().__init__()
            self.key = key

    class SortRequested(Message):
        """A click on a column title."""

        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    def __init__(self, rows: InstanceRows, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = rows
        self.clock = clock
        self.selected: Key | None = None
        self._view_version = -1
        self._columns: list[tuple[Column, int]] = []
        self._columns_width: tuple[int, bool, bool] = (-1, False, False)
        self.lines_rendered = 0  # for bench/tui.py
        self._styles: dict[str, Style] = {}  # computed styles, cleared when styles change

    # ------------------------------------------------------------ data changed
    def apply(self, changed: set[Key] | None = None) -> None:
        """Repaint after the model changed: re-place the cursor if the order moved, else only changed lines."""
        view = self.rows.view()
        if self.rows.version != self._view_version:
            self._view_version = self.rows.version
            self.virtual_size = Size(self.size.width, len(view) + 1)
            idx = self.rows.index_of(self.selected)
            if idx is None:
                idx = min(self.cursor, max(0, len(view) - 1))
            self._move_to(idx, announce=self.selected is None or self.rows.index_of(self.selected) is None)
            self.refresh()
            return
        if self.rows.has_sockets != self._columns_width[2]:
            self.refresh()  # the sockets column comes or goes: every line changes
            return
        if not changed:
            return
        top = int(self.scroll_offset.y)
        height = self.size.height
        for k in changed:
            i = self.rows.index_of(k)
            if i is not None and top <= i < top + height:
                self.refresh_line(i + 1)
        # a changed selected row updates the object view's title
        if self.selected in changed:
            self.post_message(self.Highlighted(self.selected))

    def tick(self) -> None:
        """Relative times moved on: repaint what is visible."""
        self.refresh()

    # ------------------------------------------------------------ cursor
    def _move_to(self, idx: int, announce: bool = True) -> None:
        view = self.rows.view()
        if not view:
            new_key = None
            idx = 0
        else:
            idx = max(0, min(idx, len(view) - 1))
            new_key = view[idx]
        old_cursor = self.cursor
        self.cursor = idx
        self._scroll_to_cursor()
        if old_cursor != idx:
            self.refresh()
        if new_key != self.selected:
            self.selected = new_key
            self.post_message(self.Highlighted(new_key))
        elif announce and new_key is None:
            self.post_message(self.Highlighted(None))

    def _scroll_to_cursor(self) -> None:
        height = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def select_key(self, key: Key) -> bool:
        """Put the cursor on ``key``; False if it is not in the view (filtered out or unknown)."""
        idx = self.rows.index_of(key)
        if idx is None:
            return False
        self._move_to(idx)
        return True

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        self._move_to(len(self.rows.view()) - 1 if end else 0)

    def action_choose(self) -> None:
        if self.selected is not None:
            self.post_message(self.Chosen(self.selected))

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows.view()) + 1)
        self._scroll_to_cursor()

    # ------------------------------------------------------------ mouse
    def _column_at(self, x: int) -> Column | None:
        pos = 0
        for col, w in self._layout():
            if pos <= x < pos + w + 1:
                return col
            pos += w + 1
        return None

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            col = self._column_at(event.x)
            if col is not None:
                self.post_message(self.SortRequested(col.name))
            return
        idx = int(self.scroll_offset.y) + event.y - 1
        if 0 <= idx < len(self.rows.view()):
            self._move_to(idx)
            if event.chain >= 2:
                self.action_choose()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        col = self._column_at(event.x)
        idx = int(self.scroll_offset.y) + event.y - 1
        view = self.rows.view()
        tip = None
        if event.y == 0 and col is not None:
            tip = f"sort by {col.title or 'state'} (click; s cycles, S reverses)"
        elif col is not None and col.name == "state" and 0 <= idx < len(view):
            info = self.rows.rows[view[idx]]
            tip = glossary.STATES[row_state(info)]
            if info.get("gate_held"):
                tip += "\n" + glossary.GATE_MARK + " " + glossary.MARKS[glossary.GATE_MARK]
            if info.get("output_held"):
                tip += "\n" + glossary.HELD_MARK + " " + glossary.MARKS[glossary.HELD_MARK]
        elif col is not None and col.name == "queued":
            tip = "calls waiting in this object's FIFO queue"
        elif col is not None and col.name == "keys":
            tip = "durable keys in storage"
        elif col is not None and col.name == "alarm":
            tip = "when its alarm fires: the engine wakes it and calls alarm()"
        self.tooltip = tip

    # ------------------------------------------------------------ drawing
    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        """A component's style (partial), or the widget's own for ``""``; cached: asking the DOM each line is slow."""
        style = self._styles.get(name)
        if style is None:
            style = self.rich_style if not name else self.get_component_rich_style(name, partial=True)
            self._styles[name] = style
        return style

    def shown_columns(self) -> list[str]:
        """The names of the columns this width shows (what ``s`` cycles through)."""
        return [col.name for col, _ in self._layout()]

    def _layout(self) -> list[tuple[Column, int]]:
        width = self.scrollable_content_region.width
        sharded, sockets = self.rows.sharded, self.rows.has_sockets
        if (width, sharded, sockets) != self._columns_width:
            self._columns_width = (width, sharded, sockets)
            self._columns = fit_columns(width, sharded, sockets)
        return self._columns

    def _header(self, width: int) -> Strip:
        style = self._style("") + self._style("instance-table--header")
        text = Text(style=style, no_wrap=True, overflow="ellipsis")
        sort = self.rows.sort_column
        for i, (col, w) in enumerate(self._layout()):
            title = col.title
            if col.name == sort:
                title = (
                    (title + ("↓" if self.rows.sort_reverse else "↑"))
                    if title
                    else ("↓" if self.rows.sort_reverse else "↑")
                )
            cell = title[:w].rjust(w) if col.right else title[:w].ljust(w)
            text.append(cell + (" " if i < len(self._columns) - 1 else ""))
        text.truncate(width, pad=True)
        return Strip(text.render(self.app.console), width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header(width)
        idx = int(self.scroll_offset.y) + y - 1
        view = self.rows.view()
        base = self._style("")
        if idx >= len(view):
            return Strip([Segment(" " * width, base)], width)
        self.lines_rendered += 1
        key = view[idx]
        info = self.rows.rows[key]
        return self._row(idx, key, info, view, width)

    def _row(self, idx: int, key: Key, info: dict[str, Any], view: list[Key], width: int) -> Strip:
        now = self.clock()
        state = row_state(info)
        cursor = idx == self.cursor
        text = Text(no_wrap=True, overflow="ellipsis")
        state_style = self._style(f"instance-table--{state}")
        dim = self._style("instance-table--dim")
        layout = self._layout()
        for i, (col, w) in enumerate(layout):
            sep = " " if i < len(layout) - 1 else ""
            if col.name == "state":
                mark = (
                    glossary.GATE_MARK
                    if info.get("gate_held")
                    else (glossary.HELD_MARK if info.get("output_held") else " ")
                )
                text.append(glossary.GLYPHS[state], state_style)
                text.append(mark[: max(0, w - 1)].ljust(w - 1), self._style("instance-table--mark"))
                text.append(sep)
                continue
            value = cell_text(col.name, info, now)
            if len(value) > w:
                value = value[: max(0, w - 1)] + "…"
            cell = value.rjust(w) if col.right else value.ljust(w)
            style: Style | None = None
            if col.name == "namespace" and self.rows.group_by_namespace and idx > 0 and view[idx - 1][0] == key[0]:
                style = dim
            elif col.name == "errors" and info.get("errors"):
                style = self._style("instance-table--error")
            elif col.name == "name" and state == "hibernated":
                style = dim
            elif col.name == "queued" and info.get("queued"):
                style = state_style
            text.append(cell + sep, style)
        text.truncate(width, pad=True)
        line_style = self._style("")
        if cursor:
            line_style = line_style + self._style(
                "instance-table--cursor" if self.has_focus else "instance-table--cursor-blurred"
            )
        text.stylize_before(line_style)
        return Strip(text.render(self.app.console), width)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class InstancesPane(Vertical):
    """The filter field over the instance table; its border says what is shown."""

    class FilterChanged(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, rows: InstanceRows, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = rows
        self.clock = clock

    def compose(self):
        yield Input(placeholder="filter: name, #id, Namespace/  (Esc clears)", id="filter")
        yield InstanceTable(self.rows, self.clock, id="instance-table")

    @property
    def table(self) -> InstanceTable:
        return self.query_one(InstanceTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    def on_mount(self) -> None:
        self.filter_input.display = False
        self.border_subtitle = "  ".join(f"{glossary.GLYPHS[s]} {s}" for s in ("busy", "idle", "hibernated", "broken"))
        self.describe()

    def describe(self) -> None:
        """The border title: how many are shown, of how many, sorted how."""
        shown, total = len(self.rows.view()), len(self.rows.rows)
        col = COLUMN_BY_NAME[self.rows.sort_column]
        parts = [f"Instances {shown:,}" if shown == total else f"Instances {shown:,} of {total:,}"]
        if self.rows.namespace:
            parts.append(f"ns {self.rows.namespace}")
        if self.rows.filter_text:
            parts.append(f"/{self.rows.filter_text}")
        parts.append(f"by {col.title or 'state'}{'↓' if self.rows.sort_reverse else '↑'}")
        title = " · ".join(parts)
        if title != self.border_title:
            self.border_title = title

    def open_filter(self) -> None:
        self.filter_input.display = True
        self.filter_input.focus()

    def close_filter(self, clear: bool) -> None:
        if clear:
            self.filter_input.value = ""
        if not self.filter_input.value:
            self.filter_input.display = False
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            event.stop()
            self.post_message(self.FilterChanged(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.stop()
            self.close_filter(clear=False)

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.filter_input.has_focus:
            event.stop()
            if self.screen.maximized is not None:
                self.screen.minimize()
            self.close_filter(clear=True)
            self.call_after_refresh(self.table.focus)
        elif event.key == "down" and self.filter_input.has_focus:
            event.stop()
            self.table.focus()
