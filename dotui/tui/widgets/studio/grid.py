"""A grid of rows drawn a line at a time: a table of 100,000 rows costs what the rows in view cost.

``RowGrid`` holds no rows of its own beyond a few pages: it knows the column names and how many rows
there are, and asks its ``fetch(offset, limit)`` (run on a worker thread, since it may be a remote
engine) for the page under the viewport when it is first drawn. Pages are kept in a small LRU, so
scrolling back is free and memory stays at ``KEPT_PAGES * PAGE`` rows whatever the table's size
(the toolong pattern, STYLE.md: ``render_line`` over a ``ScrollView``). The header line stays put;
the cursor row is highlighted and ``RowGrid.RowChosen`` says which row Enter chose.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

PAGE = 100  # rows a fetch asks for
KEPT_PAGES = 8  # pages kept: O(KEPT_PAGES * PAGE) rows in memory whatever the table's size
MAX_WIDTH = 40  # cells of the widest column
HEADER = Style(bold=True, underline=True)
CURSOR = Style(reverse=True)
NULL = Style(dim=True, italic=True)
BLOB = Style(color="cyan")
NUMBER = Style(color="green")

Fetch = Callable[[int, int], list[list[Any]]]


def cell_text(value: Any) -> tuple[str, Style]:
    """How one SQL value reads in a cell: NULL, a number, text on one line, a BLOB as x'hex'."""
    if value is None:
        return "NULL", NULL
    if isinstance(value, dict) and set(value) == {"$blob"}:  # a BLOB as the engine's JSON carries it
        hx = value["$blob"]
        return (f"x'{hx[:32]}…' ({len(hx) // 2} B)" if len(hx) > 32 else f"x'{hx}'"), BLOB
    if isinstance(value, (bytes, bytearray)):
        return cell_text({"$blob": bytes(value).hex()})
    if isinstance(value, bool):
        return str(int(value)), NUMBER
    if isinstance(value, (int, float)):
        return repr(value), NUMBER
    text = str(value)
    return text.replace("\n", "⏎").replace("\t", " "), Style()


def _fit(text: str, width: int) -> str:
    return text[: width - 1] + "…" if len(text) > width else text.ljust(width)


class RowGrid(ScrollView, can_focus=True):
    """Rows of a table or a query result, virtualized: only the visible rows are fetched and drawn."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First row", show=False),
        Binding("end", "jump(-1)", "Last row", show=False),
        Binding("enter", "choose", "Edit row"),
    ]

    class RowChosen(Message):
        """Enter on a row: its index and values (the columns are ``grid.columns``)."""

        def __init__(self, grid: RowGrid, index: int, values: list[Any]) -> None:
            super().__init__()
            self.grid = grid
            self.index = index
            self.values = values

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns: list[str] = []
        self.count = 0
        self.cursor = 0
        self._fetch: Fetch | None = None
        self._pages: OrderedDict[int, list[list[Any]]] = OrderedDict()
        self._asked: set[int] = set()
        self._widths: list[int] = []
        self._generation = 0  # a new source makes answers for the old one stale

    # ------------------------------------------------------------ the source
    def show(
        self,
        columns: list[str],
        count: int,
        fetch: Fetch,
        first: list[list[Any]] | None = None,
        keep_place: bool = False,
    ) -> None:
        """Show ``count`` rows of ``columns``; ``fetch(offset, limit)`` gives a page (``first`` is page 0,
        when the caller has it already). ``keep_place``: the same rows read again (after an edit), so
        the cursor and the scroll stay where they were."""
        place = (self.cursor, self.scroll_offset) if keep_place and list(columns) == self.columns else None
        self._generation += 1
        self.columns, self.count, self._fetch = list(columns), count, fetch
        self._pages.clear()
        self._asked.clear()
        if first is not None:
            self._pages[0] = first
        self._widths = self._measure(first or [], self._widths if place else None)
        self.virtual_size = Size(sum(self._widths) + len(self._widths), count + 1)
        if place is None:
            self.cursor = 0
            self.scroll_to(0, 0, animate=False)
        else:
            self.cursor = min(place[0], max(0, count - 1))
            self.scroll_to(place[1].x, place[1].y, animate=False)
        self.refresh()

    def _measure(self, rows: list[list[Any]], widths: list[int] | None = None) -> list[int]:
        """Column widths fitting the header and ``rows`` (never narrower than ``widths``), at most MAX_WIDTH."""
        widths = list(widths) if widths else [min(max(len(c), 4), MAX_WIDTH) for c in self.columns]
        for row in rows[:PAGE]:
            for i, v in enumerate(row[: len(widths)]):
                widths[i] = min(max(widths[i], len(cell_text(v)[0])), MAX_WIDTH)
        return widths

    def row(self, index: int) -> list[Any] | None:
        """Row ``index`` if its page is at hand (None while it is being read)."""
        page = self._pages.get(index // PAGE)
        if page is None:
            return None
        self._pages.move_to_end(index // PAGE)
        at = index % PAGE
        return page[at] if at < len(page) else None

    def _want(self, page: int) -> None:
        if page in self._pages or page in self._asked or self._fetch is None:
            return
        self._asked.add(page)
        fetch, generation = self._fetch, self._generation

        def read() -> None:
            try:
                rows = fetch(page * PAGE, PAGE)
            except Exception as exc:  # noqa: BLE001 - shown in place of the rows
                rows = [[f"cannot read these rows: {exc}"]]
            self.app.call_from_thread(self._arrived, generation, page, rows)

        self.run_worker(read, thread=True, group=f"grid-page-{page}")

    def _arrived(self, generation: int, page: int, rows: list[list[Any]]) -> None:
        if generation != self._generation:
            return
        self._asked.discard(page)
        self._pages[page] = rows
        while len(self._pages) > KEPT_PAGES:
            self._pages.popitem(last=False)
        widths = self._measure(rows, self._widths)  # columns widen as wider values come into view
        if widths != self._widths:
            self._widths = widths
            self.virtual_size = Size(sum(widths) + len(widths), self.count + 1)
        self.refresh()

    # ------------------------------------------------------------ drawing
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            segments = [Segment(_fit(c, w) + " ", HEADER) for c, w in zip(self.columns, self._widths, strict=False)]
            return Strip(segments).crop(scroll_x, scroll_x + width).extend_cell_length(width)
        index = scroll_y + y - 1
        if index >= self.count:
            return Strip.blank(width)
        values = self.row(index)
        if values is None:
            self._want(index // PAGE)
            return Strip([Segment("…", NULL)]).extend_cell_length(width)
        base = CURSOR if index == self.cursor and self.has_focus else Style()
        segments = []
        for v, w in zip(values, self._widths, strict=False):
            text, style = cell_text(v)
            segments.append(Segment(_fit(text, w) + " ", base + style))
        return Strip(segments).crop(scroll_x, scroll_x + width).extend_cell_length(width, base)

    # ------------------------------------------------------------ moving
    def _move_to(self, index: int) -> None:
        if not self.count:
            return
        self.cursor = max(0, min(self.count - 1, index))
        self.scroll_to_region(Region(self.scroll_offset.x, self.cursor + 1, 1, 1), animate=False, spacing=None)
        top = self.scroll_offset.y
        if self.cursor < top:  # the header hides the first line of the region
            self.scroll_to(y=self.cursor, animate=False)
        self.refresh()

    def action_cursor(self, by: int) -> None:
        self._move_to(self.cursor + by)

    def action_page(self, by: int) -> None:
        self._move_to(self.cursor + by * max(1, self.size.height - 2))

    def action_jump(self, index: int) -> None:
        self._move_to(self.count - 1 if index < 0 else index)

    def action_choose(self) -> None:
        values = self.row(self.cursor)
        if values is not None:
            self.post_message(self.RowChosen(self, self.cursor, values))

    def on_click(self, event: Any) -> None:
        if event.y >= 1:
            self._move_to(self.scroll_offset.y + event.y - 1)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
