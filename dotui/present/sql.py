"""How the SQL commands' results read at a terminal (``sql``, ``tables``, ``bookmark``, ``restore``).

``renderers(renderer)`` gives the Renderer its entries for them; ``--json`` prints the data as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from .formats import human_bytes, printable

if TYPE_CHECKING:
    from .render import Renderer


def cell(value: Any) -> Text:
    """One SQL value in a cell: NULL dim, numbers green, a BLOB as x'hex', text as it is (controls escaped)."""
    if value is None:
        return Text("NULL", style="dim italic")
    if isinstance(value, dict) and set(value) == {"$blob"}:
        hx = value["$blob"]
        return Text(f"x'{hx[:64]}…' ({len(hx) // 2} bytes)" if len(hx) > 64 else f"x'{hx}'", style="cyan")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return Text(printable(repr(value)))
    if isinstance(value, (int, float)):
        return Text(repr(value), style="green")
    return Text(printable(value))


def _sql(r: Renderer, result: dict[str, Any]) -> None:
    columns, rows = result.get("columns") or [], result.get("rows") or []
    if columns:
        table = Table(show_lines=False, expand=False)
        for c in columns:
            table.add_column(printable(c), overflow="fold")
        for row in rows:
            table.add_row(*(cell(v) for v in row))
        r.out.print(table)
    count = result.get("count")
    line = Text()
    if result.get("write"):
        line.append(
            f"{result.get('rows_written', 0)} row(s) written, {result.get('rows_read', 0)} read, "
            f"in {result['object']} (through its queue; durable)"
        )
    else:
        shown = f"{len(rows):,} row{'' if len(rows) == 1 else 's'}"
        if count is not None and count != len(rows):
            shown += f" of {count:,}, page {result['page']} of {result['pages']}"
        line.append(shown + " · read-only, from the file (wakes nothing)")
    r.out.print(Text(str(line), style="dim"), soft_wrap=True)
    if not result.get("write") and result.get("page", 1) < result.get("pages", 1):
        r.notice(f"--page {result['page'] + 1} for the next page")


def _tables(r: Renderer, result: dict[str, Any]) -> None:
    head = Text.assemble((result["object"], "bold"), (f"  SQLite, {human_bytes(result.get('size') or 0)}", "dim"))
    r.out.print(head, soft_wrap=True)
    if not result.get("tables"):
        r.notice("no tables yet" + ("" if result.get("exists", True) else " (no database file: nothing written)"))
        return
    table = Table(show_lines=False, expand=False)
    for name in ("table", "rows", "columns", "indexes"):
        table.add_column(name, justify="right" if name == "rows" else "left", overflow="fold")
    for t in result["tables"]:
        cols = Text()
        for i, c in enumerate(t.get("columns", [])):
            if i:
                cols.append(", ")
            cols.append(printable(c["name"]), "bold" if c.get("pk") else "")
            if c.get("type"):
                cols.append(f" {printable(c['type'])}", "cyan")
            if c.get("pk"):
                cols.append(" PK", "yellow")
        kind = "" if t.get("type") == "table" else f" ({t.get('type')})"
        table.add_row(
            Text(printable(t["name"]) + kind, style="bold"),
            f"{t.get('rows', 0):,}",
            cols,
            Text(", ".join(printable(i) for i in t.get("indexes", [])), style="dim"),
        )
    r.out.print(table)


def mark_note(mark: dict[str, Any]) -> str:
    """What a bookmark of the history was: a commit (the pages it wrote) or a whole image."""
    pages = mark.get("pages", 0)
    if mark.get("kind") == "base":
        return "the whole database: where the history starts, or a restore"
    return f"a commit: {pages} page{'' if pages == 1 else 's'} written"


def _bookmark(r: Renderer, result: dict[str, Any]) -> None:
    if "bookmarks" in result:
        marks = result["bookmarks"]
        if not marks:
            r.notice(f"{result['object']}: no bookmarks kept yet")
            return
        table = Table(title=f"{result['object']}: bookmarks, newest first", title_justify="left")
        for name in ("time", "bookmark", "what"):
            table.add_column(name, overflow="fold")
        for m in marks:
            table.add_row(
                m.get("time_iso") or "",
                Text(m["bookmark"], style="bold"),
                Text(mark_note(m), style="dim"),
            )
        r.out.print(table)
        return
    at = f" at {result['at_iso']}" if result.get("at_iso") else ", now"
    r.out.print(Text.assemble((result["bookmark"], "bold"), (f"  {result['object']}{at}", "dim")), soft_wrap=True)


def _restore(r: Renderer, result: dict[str, Any]) -> None:
    r.out.print(
        Text.assemble(
            ("restored ", "bold green"),
            (result["object"], "bold"),
            (f" to {result['bookmark']}", ""),
            ("; undo: ", "dim"),
            (f"restore {result['object']} {result.get('undo')}", "bold"),
        ),
        soft_wrap=True,
    )


def renderers(r: Renderer) -> dict[str, Callable[[Any], None]]:
    """The Renderer's entries for the SQL commands."""
    return {
        "sql": lambda res: _sql(r, res),
        "tables": lambda res: _tables(r, res),
        "bookmark": lambda res: _bookmark(r, res),
        "restore": lambda res: _restore(r, res),
    }
