"""The storage studio's row grid: 100,000 rows cost what the rows in view cost (dotui/tui/widgets/studio/grid.py)."""

from __future__ import annotations

import threading

import pytest
from textual.app import App, ComposeResult

from dotui.tui.widgets.studio.grid import KEPT_PAGES, PAGE, RowGrid, cell_text

ROWS = 100_000


class Source:
    """A table of ROWS rows, counting what it was asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def fetch(self, offset: int, limit: int) -> list[list]:
        with self.lock:
            self.asked.append((offset, limit))
        return [
            [i, f"title {i}", None if i % 2 else {"$blob": "00ff"}] for i in range(offset, min(ROWS, offset + limit))
        ]


class GridApp(App):
    def compose(self) -> ComposeResult:
        yield RowGrid()


def _lines(grid: RowGrid) -> list[str]:
    return [grid.render_line(y).text for y in range(grid.size.height)]


async def _wait_for(pilot, predicate, what: str, tries: int = 200) -> None:
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
async def test_a_hundred_thousand_rows_fetch_only_the_pages_in_view():
    source = Source()
    app = GridApp()
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.query_one(RowGrid)
        grid.focus()
        grid.show(["id", "title", "data"], ROWS, source.fetch, source.fetch(0, PAGE))
        source.asked.clear()
        await pilot.pause()
        lines = _lines(grid)
        assert lines[0].split() == ["id", "title", "data"]
        assert lines[1].split()[:3] == ["0", "title", "0"] and "x'00ff'" in lines[1]
        assert "NULL" in lines[2]
        await pilot.press("end")
        await _wait_for(pilot, lambda: any(f"title {ROWS - 1}" in line for line in _lines(grid)), "the last row")
        assert grid.cursor == ROWS - 1
        # only the last page (or the two under the viewport) was read, never the rows between
        assert all(offset >= ROWS - 2 * PAGE for offset, _ in source.asked), source.asked
        await pilot.press("home")
        await _wait_for(pilot, lambda: "title 0" in _lines(grid)[1], "the first row again")
        for _ in range(30):
            await pilot.press("pagedown")
        await _wait_for(pilot, lambda: "…" not in "".join(_lines(grid)), "the rows after 30 pages down")
        assert len(grid._pages) <= KEPT_PAGES  # memory stays bounded whatever was scrolled through
        assert grid.cursor == 30 * (grid.size.height - 2)
        assert f"title {grid.cursor}" in "".join(_lines(grid))


async def test_enter_chooses_the_cursor_row():
    source = Source()
    chosen = []

    class Chooser(GridApp):
        def on_row_grid_row_chosen(self, event: RowGrid.RowChosen) -> None:
            chosen.append((event.index, event.values))

    app = Chooser()
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.query_one(RowGrid)
        grid.focus()
        grid.show(["id", "title", "data"], ROWS, source.fetch, source.fetch(0, PAGE))
        await pilot.press("down", "down", "enter")
        await _wait_for(pilot, lambda: bool(chosen), "the chosen row")
        assert chosen == [(2, [2, "title 2", {"$blob": "00ff"}])]


def test_cells_say_what_the_value_is():
    assert cell_text(None)[0] == "NULL"
    assert cell_text({"$blob": "00ff"})[0] == "x'00ff'"
    assert cell_text({"$blob": "ab" * 40})[0].endswith("(40 B)")
    assert cell_text("two\nlines")[0] == "two⏎lines"
    assert cell_text(1.5)[0] == "1.5"
