"""The storage studio: a SQLite-backed object's tables, rows, read-only queries and history.

The Storage tab shows it in place of the key-value view when the selected object's class is
SQLite-backed (docs/sqlite.md, "The storage studio"). Everything it shows is read from the object's
database file by the engine without waking the object (``sql_tables``, ``sql_query``, ``bookmarks``);
what it changes is a line of the command language, run by the registry as the REPL would run it
(``sql REF "UPDATE …" … --write`` for an edited row, ``restore REF BOOKMARK`` for "restore to here":
``CommandRequested``, which the screen runs on its action lane and answers in the REPL's words), and
those go through the object's own queue, as a call would, so its input and output gates hold.

- the tables (name, rows) on the left, the highlighted one's schema under them;
- its rows in a ``RowGrid``: virtualized, a page read at a time, whatever the table's size;
- a query box: read-only SQL on the file (a write is refused there; say it as a call instead);
- ``b``: the bookmarks over time, Enter on one to restore the object to it (after a confirmation);
- Enter on a row of a table: edit it (UPDATE or DELETE by rowid, through the object's queue).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ....commands import Outcome
from ....present.formats import human_bytes, printable
from .grid import PAGE, RowGrid

if TYPE_CHECKING:
    from ....ops.facade import EngineFacade

Key = tuple[str, str]  # (namespace, id hex)
REFRESH_EVERY = 1.0  # seconds between re-reads of the table list while the tab is shown
HINT = "Tab: to the rows · Enter: edit a row · b: bookmarks (history)"


def quote_name(name: str) -> str:
    """A table or column name as SQL reads it, whatever it holds."""
    return '"' + name.replace('"', '""') + '"'


def edit_line(ref: str, table: str, key: dict[str, Any], changes: dict[str, Any] | None) -> str:
    """The command that UPDATEs (``changes`` None: DELETEs) the row of ``table`` whose key columns are
    ``key``: ``sql REF "UPDATE …" VALUES… --write``. The values are bindings written as literals of the
    command language (a BLOB as ``{'$blob': hex}``, as the engine answers it), so nothing the user typed
    becomes SQL text. O(the row's size)."""
    where = " AND ".join(f"{quote_name(c)} IS ?" for c in key)
    if changes is None:
        sql, bindings = f"DELETE FROM {quote_name(table)} WHERE {where}", list(key.values())
    else:
        sets = ", ".join(f"{quote_name(c)} = ?" for c in changes)
        sql = f"UPDATE {quote_name(table)} SET {sets} WHERE {where}"
        bindings = [*changes.values(), *key.values()]
    return " ".join(["sql", ref, repr(sql), *map(repr, bindings), "--write"])  # repr: a literal that reads back


def row_key(table: dict[str, Any]) -> list[str]:
    """The columns that name one row of ``table``: its primary key for a WITHOUT ROWID table, its
    INTEGER PRIMARY KEY (the rowid's alias) if it has one, else the rowid itself."""
    pks = sorted((c for c in table.get("columns", []) if c.get("pk")), key=lambda c: c["pk"])
    if table.get("without_rowid") and pks:
        return [c["name"] for c in pks]
    if len(pks) == 1 and (pks[0].get("type") or "").upper() == "INTEGER":
        return [pks[0]["name"]]
    return ["rowid"]


def schema_text(table: dict[str, Any] | None) -> Text:
    """The columns of ``table``: name, type, primary key, NOT NULL; its indexes."""
    if table is None:
        return Text("no table selected", style="dim")
    text = Text()
    text.append(f"{table['name']}", "bold")
    text.append(f"  {table.get('rows', '?'):,} rows\n" if isinstance(table.get("rows"), int) else "\n", "dim")
    for col in table.get("columns", []):
        text.append(f"  {col['name']}", "bold" if col.get("pk") else "")
        text.append(f" {col.get('type') or 'ANY'}", "cyan")
        if col.get("pk"):
            text.append(" PK", "yellow")
        if col.get("notnull"):
            text.append(" NOT NULL", "dim")
        text.append("\n")
    for index in table.get("indexes", []):
        if not index.startswith("sqlite_autoindex_"):  # a PRIMARY KEY's or UNIQUE's own index
            text.append(f"  index {index}\n", "dim")
    return text


def bookmark_label(mark: dict[str, Any], now: float) -> Text:
    """One bookmark of the history: when, and what it was."""
    when = time.strftime("%H:%M:%S", time.localtime(mark["time"]))
    ago = now - mark["time"]
    text = Text.assemble((when, "bold"), (f"  {_ago(ago)}", "dim"))
    pages = mark.get("pages", 0)
    text.append(
        "\n  a full copy" if mark.get("kind") == "base" else f"\n  a change, {pages} page{'s' * (pages != 1)}",
        "dim",
    )
    return text


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


class StudioView(Vertical):
    """Tables, rows, a read-only query box and the bookmarks of one SQLite-backed object."""

    BINDINGS = [
        Binding("b", "bookmarks", "Bookmarks"),
        Binding("ctrl+q", "focus_query", "Query", show=False),
    ]

    class CommandRequested(Message):
        """Run ``line`` through the registry (the screen does, on its action lane), then ``after`` with
        its Outcome."""

        def __init__(self, line: str, after: Callable[[Outcome], None]) -> None:
            super().__init__()
            self.line = line
            self.after = after

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.facade: EngineFacade | None = None
        self.key: Key | None = None
        self.ref = ""  # the object as the command language names it
        self.label = ""
        self.tables: list[dict[str, Any]] = []
        self.table: str | None = None  # the table whose rows the grid shows; None for a query's result
        self.query_text: str | None = None
        self.key_columns: list[str] = []
        self._keep_place = False
        self.marks: list[dict[str, Any]] = []
        self._read_at = 0.0
        self._counts: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static(Text("Select a SQLite-backed object.", style="dim"), id="studio-summary")
        yield Static(Text(HINT, style="dim italic"), id="studio-hint")
        with Horizontal(id="studio-body"):
            with Vertical(id="studio-side"):
                yield OptionList(id="studio-tables")
                yield OptionList(id="studio-marks", classes="-hidden")
                yield Static(id="studio-schema")
            yield RowGrid(id="studio-grid")
        yield Input(placeholder="a SELECT to run on the file (read-only) · Enter runs it", id="studio-query")
        yield Static(id="studio-status")

    @property
    def grid(self) -> RowGrid:
        return self.query_one(RowGrid)

    # ------------------------------------------------------------ what to show
    def show(self, facade: EngineFacade, key: Key, label: str, ref: str) -> None:
        """Show the object ``key`` (``ref`` in the command language): a new one at once, the same one
        re-read at most once a second."""
        now = time.monotonic()
        if key == self.key and now - self._read_at < REFRESH_EVERY:
            return
        if key != self.key:
            self.key, self.label, self.ref, self.table, self.query_text = key, label, ref, None, None
            self.tables, self._counts = [], {}
            self.query_one("#studio-tables", OptionList).clear_options()
            self.query_one("#studio-status", Static).update("")
        self.facade, self._read_at = facade, now
        self._in_thread(self._read_tables, key)

    @property
    def engine(self) -> EngineFacade:
        """The facade the object shown is read through (set by ``show``, before anything reads)."""
        if self.facade is None:
            raise RuntimeError("the studio shows no object yet: show() it one first")
        return self.facade

    def _in_thread(self, fn: Callable[..., None], *args: Any) -> None:
        self.run_worker(lambda: fn(*args), thread=True, group=f"studio-{fn.__name__}")

    def _ref(self, key: Key) -> tuple[str, str]:
        return key[0], "#" + key[1]

    def _read_tables(self, key: Key) -> None:
        try:
            doc = self.engine.sql_tables(*self._ref(key))
        except Exception as exc:  # noqa: BLE001 - shown where the tables would be
            self.app.call_from_thread(self._failed, key, f"cannot read this object's tables: {exc}")
            return
        self.app.call_from_thread(self._tables_read, key, doc)

    def _failed(self, key: Key, message: str) -> None:
        if key == self.key:
            self.query_one("#studio-summary", Static).update(Text(message, style="red"))

    def _tables_read(self, key: Key, doc: dict[str, Any]) -> None:
        if key != self.key:
            return
        self.tables = doc.get("tables", [])
        summary = Text()
        summary.append("SQLite", "bold")
        summary.append(f" · {len(self.tables)} table{'' if len(self.tables) == 1 else 's'}")
        if doc.get("size") is not None:
            summary.append(f" · {human_bytes(doc['size'])}")
        if doc.get("exists") is False:
            summary.append(" · no database file yet (the object has not written)", "dim")
        summary.append(" · read from its file, without waking it", "dim")
        self.query_one("#studio-summary", Static).update(summary)
        self.query_one("#studio-summary", Static).tooltip = doc.get("path")
        options = self.query_one("#studio-tables", OptionList)
        fresh = [(t["name"], t.get("rows")) for t in self.tables]
        if fresh != [(o.id, self._counts.get(o.id or "")) for o in options.options]:
            highlighted = options.highlighted
            options.clear_options()
            options.add_options(
                [
                    Option(
                        Text.assemble((printable(n), "bold"), (f"  {r:,}" if isinstance(r, int) else "", "dim")), id=n
                    )
                    for n, r in fresh
                ]
            )
            if fresh:
                options.highlighted = min(highlighted or 0, len(fresh) - 1)
        changed = self.table is not None and self._counts.get(self.table) != dict(fresh).get(self.table)
        self._counts = dict(fresh)
        if self.table is None and self.query_text is None and fresh:
            self.open_table(fresh[0][0])
        elif changed and self.table in self._counts:
            self.open_table(self.table)

    @on(OptionList.OptionHighlighted, "#studio-tables")
    def _table_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and event.option.id != self.table:
            self.open_table(event.option.id)

    @on(OptionList.OptionSelected, "#studio-tables")
    def _table_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a table: its rows again (after a query showed its own), the grid to move in."""
        if event.option.id is not None:
            if event.option.id != self.table:
                self.open_table(event.option.id)
            self.grid.focus()

    def open_table(self, name: str) -> None:
        """The grid shows every row of table ``name``, a page at a time (the row count is the table
        list's, so no page reads more than its rows: O(offset + page) each)."""
        self._keep_place = name == self.table  # the same table read again: stay on the same row
        self.table, self.query_text = name, None
        table = next((t for t in self.tables if t["name"] == name), None) or {"name": name, "columns": []}
        self.query_one("#studio-schema", Static).update(schema_text(table))
        self.key_columns = row_key(table)
        select = "rowid, *" if self.key_columns == ["rowid"] else "*"
        order = ", ".join(quote_name(c) for c in self.key_columns)
        sql = f"SELECT {select} FROM {quote_name(name)} ORDER BY {order} LIMIT ? OFFSET ?"
        self._run_query(sql, [], table=name, count=table.get("rows"))

    # ------------------------------------------------------------ queries
    @on(Input.Submitted, "#studio-query")
    def _query_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self.table, self.query_text = None, text
            self._run_query(text, [], table=None)

    def _run_query(self, sql: str, bindings: list, table: str | None, count: int | None = None) -> None:
        """Run ``sql`` read-only; with ``count`` given, ``sql`` ends in LIMIT ? OFFSET ? and has
        ``count`` rows (a table's page), else the engine counts the rows of the query."""
        key, facade = self.key, self.facade
        if key is None or facade is None:
            return
        status = self.query_one("#studio-status", Static)
        status.update(Text("reading…", style="dim"))

        def run() -> None:
            t0 = time.perf_counter()
            try:
                if count is None:
                    first = facade.sql_query(*self._ref(key), sql, bindings, 0, PAGE)
                else:
                    first = facade.sql_query(*self._ref(key), sql, [*bindings, PAGE, 0], 0, PAGE)
                    first["count"] = count
            except Exception as exc:  # noqa: BLE001 - the user's SQL was wrong: say what SQLite said
                self.app.call_from_thread(self._query_failed, key, exc)
                return
            self.app.call_from_thread(
                self._query_done, key, sql, bindings, table, count is not None, first, time.perf_counter() - t0
            )

        self.run_worker(run, thread=True, group="studio-query", exclusive=True)

    def _query_failed(self, key: Key, exc: Exception) -> None:
        if key == self.key:
            self.query_one("#studio-status", Static).update(Text(f"✗ {exc or type(exc).__name__}", style="red"))

    def _query_done(
        self, key: Key, sql: str, bindings: list, table: str | None, paged: bool, first: dict[str, Any], seconds: float
    ) -> None:
        if key != self.key:
            return
        facade, ref = self.engine, self._ref(key)
        count = first.get("count", len(first.get("rows", [])))

        def fetch(offset: int, limit: int) -> list[list[Any]]:
            if paged:  # the page is SQLite's LIMIT/OFFSET: no rows before it cross to the front end
                return facade.sql_query(*ref, sql, [*bindings, limit, offset], 0, limit)["rows"]
            return facade.sql_query(*ref, sql, bindings, offset, limit)["rows"]

        keep, self._keep_place = self._keep_place and table is not None, False
        self.grid.show(first.get("columns", []), count, fetch, first.get("rows"), keep_place=keep)
        what = f"table {table}" if table else "query"
        self.query_one("#studio-status", Static).update(
            Text.assemble(
                (f"{what}: {count:,} row{'' if count == 1 else 's'}", "bold"),
                (f" · {seconds * 1000:.1f} ms · as committed on disk", "dim"),
            )
        )

    def action_focus_query(self) -> None:
        self.query_one("#studio-query", Input).focus()

    # ------------------------------------------------------------ editing a row
    @on(RowGrid.RowChosen)
    def _row_chosen(self, event: RowGrid.RowChosen) -> None:
        from ...screens.studio_dialogs import RowEditScreen

        if self.table is None:
            self.app.notify(
                "Rows of a query cannot be edited here: open the table on the left, or write the "
                'change as SQL: sql REF "UPDATE …" --write',
                timeout=5,
            )
            return
        table, columns, values = self.table, event.grid.columns, event.values
        key = {c: values[columns.index(c)] for c in self.key_columns if c in columns}

        def chosen(result: tuple[str, dict[str, Any] | None] | None) -> None:
            if result is not None:
                self.edit_row(table, key, result[1])

        self.app.push_screen(RowEditScreen(self.label, table, columns, values, list(key)), callback=chosen)

    def edit_row(self, table: str, key: dict[str, Any], changes: dict[str, Any] | None) -> None:
        """UPDATE (or with ``changes`` None, DELETE) the row of ``table`` whose key columns are ``key``:
        ``sql REF … --write`` through the registry, which runs it in the object, through its queue
        (durable when it answers)."""
        if self.key is not None:
            self._command(edit_line(self.ref, table, key, changes))

    def _command(self, line: str) -> None:
        """``line`` run by the screen's registry; the studio re-read after its answer."""
        target = self.key
        self.post_message(self.CommandRequested(line, lambda outcome: self._edited(target, outcome)))

    def _edited(self, key: Key | None, outcome: Outcome) -> None:
        if key is not None and key == self.key:
            self._read_at = 0.0
            self.show(self.engine, key, self.label, self.ref)
            if self.table is not None:
                self.open_table(self.table)
            if not self.query_one("#studio-marks", OptionList).has_class("-hidden"):
                self._in_thread(self._read_marks, key)  # the restore is a new bookmark of its own

    # ------------------------------------------------------------ history
    def action_bookmarks(self) -> None:
        marks = self.query_one("#studio-marks", OptionList)
        tables = self.query_one("#studio-tables", OptionList)
        showing = marks.has_class("-hidden")
        marks.set_class(not showing, "-hidden")
        tables.set_class(showing, "-hidden")
        self.query_one("#studio-side").set_class(showing, "-marks")  # wider: a bookmark's time on one line
        if showing and self.key is not None:
            self._in_thread(self._read_marks, self.key)
            marks.focus()
        else:
            tables.focus()

    def _read_marks(self, key: Key) -> None:
        try:
            marks = self.engine.bookmarks(*self._ref(key))
        except Exception as exc:  # noqa: BLE001 - shown in the studio in place of the bookmarks
            self.app.call_from_thread(self._failed, key, f"cannot read this object's bookmarks: {exc}")
            return
        self.app.call_from_thread(self._marks_read, key, marks)

    def _marks_read(self, key: Key, marks: list[dict[str, Any]]) -> None:
        if key != self.key:
            return
        self.marks = list(reversed(marks))  # newest first: the history's end is where a restore starts from
        marks = self.marks
        options = self.query_one("#studio-marks", OptionList)
        options.clear_options()
        now = time.time()
        options.add_options([Option(bookmark_label(m, now), id=str(i)) for i, m in enumerate(marks)])
        if marks:
            options.highlighted = 0  # the newest: Enter there restores to now, down goes back in time
        self.query_one("#studio-schema", Static).update(
            Text(
                "Bookmarks: the object's states over time, newest first. Enter on one restores the object to it "
                "(asked first); the restore can itself be undone. A full copy is where the history starts: its "
                "beginning, a restore, or the oldest state kept.",
                style="dim",
            )
        )

    @on(OptionList.OptionSelected, "#studio-marks")
    def _mark_selected(self, event: OptionList.OptionSelected) -> None:
        from ...screens.studio_dialogs import RestoreScreen

        mark = self.marks[int(event.option.id or 0)]

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.restore(mark)

        self.app.push_screen(RestoreScreen(self.label, mark), callback=confirmed)

    def restore(self, mark: dict[str, Any]) -> None:
        """Restore the object to ``mark``: ``restore REF BOOKMARK`` through the registry (the object's
        queue: it restarts there, as at that time; the answer names the bookmark that undoes it)."""
        if self.key is not None:
            self._command(f"restore {self.ref} {mark['bookmark']}")
