"""The storage studio in the TUI, driven as a learner would: a SQLite-backed object's Storage tab shows
its tables and rows without waking it, the query box is read-only, a row is edited through the
object's queue, and the bookmarks restore it (after a confirmation)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dotui.examples import OBJECTS as BUNDLED
from dotui.tui.app import DotuiApp
from dotui.tui.screens.studio_dialogs import RestoreScreen, RowEditScreen
from dotui.tui.widgets.studio import RowGrid, StudioView
from tui_support import key_of, record_notifications, screen_text, shown, until

SIZE = (120, 34)
ROWS = 3_000


@pytest.fixture
def facade(tmp_path: Path):
    from dotui.ops import LocalEngine

    objects = tmp_path / "objects"
    objects.mkdir()
    shutil.copy(f"{BUNDLED}/todo_list.py", objects / "todo_list.py")
    fe = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600).start()
    for start in range(0, ROWS, 500):
        fe.call("TodoList", "home", "add_many", [[f"task {i}" for i in range(start, start + 500)]])
    fe.hibernate("TodoList", "home")
    yield fe
    fe.close()


async def open_studio(pilot, app, facade, rows: int = ROWS) -> StudioView:
    key = key_of(facade, "TodoList", "home")
    await until(pilot, lambda: key in app.main.rows.rows, "TodoList/home in the instances")
    app.main.go_to(key)
    await until(pilot, lambda: shown(app) == key, "TodoList/home selected")
    await pilot.press("2")
    studio = app.main.query_one(StudioView)
    await until(pilot, lambda: f"table todo: {rows:,} rows" in screen_text(app), "the todo table's rows")
    return studio


def said(toasts: list[str], words: str) -> bool:
    """Whether a toast says ``words`` (however its lines were wrapped)."""
    return any(words in " ".join(t.split()) for t in toasts)


def state(facade) -> str:
    return facade.instance("TodoList", "home")["state"]


@pytest.mark.slow
async def test_the_storage_tab_shows_tables_and_rows_without_waking(facade):
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        studio = await open_studio(pilot, app, facade)
        text = screen_text(app)
        assert "SQLite" in text and "todo" in text and "task 0" in text
        assert "title TEXT NOT NULL" in text  # the schema
        grid = studio.query_one(RowGrid)
        grid.focus()
        await pilot.press("end")
        await until(pilot, lambda: f"task {ROWS - 1}" in screen_text(app), "the last row")
        assert state(facade) == "hibernated"


@pytest.mark.slow
async def test_the_query_box_reads_and_refuses_writes(facade):
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_studio(pilot, app, facade)
        box = app.main.query_one("#studio-query")
        box.focus()
        box.value = "SELECT title FROM todo WHERE id = 7"
        await pilot.press("enter")
        await until(pilot, lambda: "query: 1 row" in screen_text(app), "the query's one row")
        assert "task 6" in screen_text(app)
        box.value = "DELETE FROM todo"
        await pilot.press("enter")
        await until(pilot, lambda: "not authorized" in screen_text(app), "the write refused")
        assert facade.sql_query("TodoList", "home", "SELECT count(*) FROM todo")["rows"] == [[ROWS]]
        assert state(facade) == "hibernated"


@pytest.mark.slow
async def test_editing_a_row_goes_through_the_objects_queue(facade):
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        toasts = record_notifications(app)
        studio = await open_studio(pilot, app, facade)
        studio.query_one(RowGrid).focus()
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, RowEditScreen), "the row editor")
        title = app.screen.query_one("#studio-edit-1")
        title.value = "renamed in the studio"
        await pilot.press("enter")
        await until(pilot, lambda: "renamed in the studio" in screen_text(app), "the edited row")
        assert facade.sql_query("TodoList", "home", "SELECT title FROM todo WHERE id = 2")["rows"] == [
            ["renamed in the studio"]
        ]
        assert state(facade) != "hibernated"  # the UPDATE ran in the object, through its queue
        # it ran as the REPL's `sql TodoList/home "UPDATE …" … --write` does, and says so in its words
        await until(
            pilot,
            lambda: said(toasts, "1 row(s) written, 0 read, in TodoList/home (through its queue; durable)"),
            "the registry's answer",
        )


def test_a_studio_edit_is_a_command_line_the_repl_runs(facade):
    """The line an edit of the studio runs is the REPL's: a text with quotes of both kinds, a BLOB, a
    NULL and a number come back as they were typed, and a DELETE by key removes one row."""
    from dotui.commands import Context, execute
    from dotui.tui.widgets.studio.studio import edit_line

    facade.sql_exec("TodoList", "home", "CREATE TABLE odd (k INTEGER PRIMARY KEY, a, b, c, d)", [])
    facade.sql_exec("TodoList", "home", "INSERT INTO odd VALUES (1, 0, 0, 0, 0), (2, 0, 0, 0, 0)", [])
    changes = {"a": 'it\'s "quoted"; DROP TABLE todo; --', "b": {"$blob": "00ff"}, "c": None, "d": 1.5}
    line = edit_line("TodoList/home", "odd", {"k": 1}, changes)
    outcome = execute(Context(facade, interactive=False), line)
    assert outcome.ok, outcome.error
    assert outcome.result["rows_written"] == 1
    got = facade.sql_query("TodoList", "home", "SELECT a, b, c, d FROM odd WHERE k = 1")["rows"]
    assert got == [['it\'s "quoted"; DROP TABLE todo; --', {"$blob": "00ff"}, None, 1.5]]
    outcome = execute(Context(facade, interactive=False), edit_line("TodoList/home", "odd", {"k": 2}, None))
    assert outcome.ok and outcome.result["rows_written"] == 1
    assert facade.sql_query("TodoList", "home", "SELECT k FROM odd")["rows"] == [[1]]
    assert facade.sql_query("TodoList", "home", "SELECT count(*) FROM todo")["rows"] == [[ROWS]]


@pytest.mark.slow
async def test_restore_to_a_bookmark_asks_first(facade):
    facade.sql_exec("TodoList", "home", "DELETE FROM todo WHERE id > 10", [])  # the mistake to undo
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        toasts = record_notifications(app)
        await open_studio(pilot, app, facade, rows=10)
        await pilot.press("b")
        await until(
            pilot, lambda: "Bookmarks:" in screen_text(app) and "a change, " in screen_text(app), "the bookmarks"
        )
        studio = app.main.query_one(StudioView)
        assert studio.marks[0]["kind"] == "commit"  # newest first: the DELETE
        await pilot.press("down", "enter")  # the commit before it
        await until(pilot, lambda: isinstance(app.screen, RestoreScreen), "the confirmation")
        assert "can itself be undone" in screen_text(app) or "undoes it" in screen_text(app)
        await pilot.press("escape")  # cancelled: nothing happens
        await until(pilot, lambda: not isinstance(app.screen, RestoreScreen), "the dialog gone")
        assert facade.sql_query("TodoList", "home", "SELECT count(*) FROM todo")["rows"] == [[10]]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RestoreScreen), "the confirmation again")
        await pilot.click("#studio-restore-yes")
        await until(pilot, lambda: f"table todo: {ROWS:,} rows" in screen_text(app), "the rows restored")
        assert facade.sql_query("TodoList", "home", "SELECT count(*) FROM todo")["rows"] == [[ROWS]]
        # the registry's `restore` answered, in the REPL's words, with the line that undoes it
        await until(pilot, lambda: said(toasts, "; undo: restore TodoList/home "), "the undo line")


SMALL = (80, 24)


@pytest.mark.slow
async def test_at_80x24_the_rows_the_editor_buttons_and_a_failed_edit_say_what_to_do(facade):
    """On an 80x24 terminal the studio gives its rows the room (the summary on one line, the query box
    without its frame), the row editor keeps Save in view, and an edit the table refuses says that it
    changed nothing and where the rule is, the row as it was."""
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        toasts = record_notifications(app)
        studio = await open_studio(pilot, app, facade)
        text = screen_text(app)
        assert "task 0" in text and "task 1" in text, text  # rows in view, not only the grid's header
        assert "read from its file, without waking it" in text
        studio.query_one(RowGrid).focus()
        await until(pilot, lambda: "Edit row" in screen_text(app), "the footer naming Enter on a row")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RowEditScreen), "the row editor")
        await until(pilot, lambda: "Save" in screen_text(app) and "Cancel" in screen_text(app), "the buttons")
        app.screen.query_one("#studio-edit-1").value = ""  # the title: its CHECK wants 1 to 200 characters
        await pilot.press("enter")
        await until(pilot, lambda: said(toasts, "the statement that failed changed nothing"), "the hint")
        assert said(toasts, "CHECK constraint failed") and said(toasts, "tables TodoList/home shows them")
        assert facade.sql_query("TodoList", "home", "SELECT title FROM todo WHERE id = 1")["rows"] == [["task 0"]]


@pytest.mark.slow
async def test_a_query_refused_shows_its_hint_and_enter_on_the_table_brings_its_rows_back(facade):
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        studio = await open_studio(pilot, app, facade)
        box = app.main.query_one("#studio-query")
        box.focus()
        box.value = "UPDATE todo SET done = 1"
        await pilot.press("enter")
        # the whole message, with what to do instead (its last words), not its first line
        await until(pilot, lambda: "goes through its queue" in screen_text(app), "the hint")
        assert "SqlReadError" not in screen_text(app)
        box.value = "SELECT count(*) AS n FROM todo"
        await pilot.press("enter")
        await until(pilot, lambda: "query: 1 row" in screen_text(app), "the query's row")
        studio.query_one("#studio-tables").focus()
        await pilot.press("enter")
        await until(pilot, lambda: f"table todo: {ROWS:,} rows" in screen_text(app), "the table's rows again")
        assert studio.query_one(RowGrid).has_focus


@pytest.mark.slow
async def test_a_restore_shows_as_a_full_copy_in_the_bookmarks(facade):
    facade.sql_exec("TodoList", "home", "DELETE FROM todo WHERE id > 10", [])
    marks = facade.bookmarks("TodoList", "home")
    facade.restore("TodoList", "home", marks[-2]["bookmark"])
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await open_studio(pilot, app, facade)
        await pilot.press("b")
        await until(pilot, lambda: "a full copy" in screen_text(app), "the restore's bookmark")
        assert app.main.query_one(StudioView).marks[0]["kind"] == "base"  # newest first: the restore
