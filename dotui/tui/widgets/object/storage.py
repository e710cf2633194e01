"""The Storage tab: an object's durable key-value state as on disk, and what is not yet committed.

Each key says where it is on the path of a write: in memory only (pending), in
the commit log (durable, not yet in the checkpoint), or in the TinyDB
checkpoint file. The tree below shows the highlighted value, nested.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static, Tree

from ....present.formats import alarm_text, human_bytes, relative, short
from ... import glossary
from ...model import Commit

WHERE_STYLE = {"checkpoint": "", "log": "cyan", "pending": "bold yellow", "deleted": "red"}


def storage_rows(doc: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(key, value, where) in key order; ``where`` is checkpoint, log, pending, deleted·pending or deleted·log."""
    values = doc.get("values", {})
    logged = doc.get("logged", {}) or {}
    pending = doc.get("pending", {}) or {}
    ppu, pdel = pending.get("put", {}), set(pending.get("deleted", []))
    lput, ldel = logged.get("put", {}), set(logged.get("deleted", []))
    ckpt = doc.get("checkpoint", {})
    keys = set(values) | set(ppu) | pdel | (ldel & set(ckpt))
    rows = []
    cleared = pending.get("cleared")
    for k in sorted(keys, key=lambda s: s.encode()):
        if k in ppu:
            rows.append((k, ppu[k], "pending"))
        elif k in pdel or (cleared and k in values):
            rows.append((k, values.get(k), "deleted·pending"))
        elif k in ldel:
            rows.append((k, ckpt.get(k), "deleted·log"))
        elif k in lput:
            rows.append((k, values[k], "log"))
        else:
            rows.append((k, values[k], "checkpoint"))
    return rows


def _show_path(path: str) -> str:
    """``…/Namespace/3f2a9c01b2d4….json``: short enough for one line (the full path is the tooltip)."""
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    if len(stem) > 16:
        name = stem[:12] + "…" + ext
    return os.path.join("…", os.path.basename(folder), name)


def clock_time(t: float | None) -> str:
    if t is None:
        return "never"
    return _dt.datetime.fromtimestamp(t).strftime("%H:%M:%S")


def storage_summary(doc: dict[str, Any], commit: Commit | None, now: float) -> Text:
    values = doc.get("values", {})
    pending = doc.get("pending", {}) or {}
    npending = len(pending.get("put", {})) + len(pending.get("deleted", [])) + (1 if pending.get("cleared") else 0)
    logged = doc.get("logged", {}) or {}
    nlogged = len(logged.get("put", {})) + len(logged.get("deleted", []))
    text = Text()
    text.append(f"{len(values)} durable key{'' if len(values) == 1 else 's'}", "bold")
    if doc.get("alarm") is not None:
        text.append(f" · alarm {alarm_text(doc['alarm'], now)}")  # with its date: an alarm may be days away
    text.append(" · checkpoint ", "dim")
    saved = doc.get("checkpoint_saved_at")
    text.append(f"saved {clock_time(saved)}" if saved else "not written yet")
    if nlogged:
        text.append(f" · {nlogged} in the log only", "cyan")
    if npending:
        text.append(f" · {npending} not committed", "bold yellow")
    if commit is not None:
        text.append("\nlast commit ", "dim")
        text.append(
            f"{clock_time(commit.t)} ({relative(commit.t, now)}): "
            f"{len(commit.keys)} key{'s' if len(commit.keys) != 1 else ''}, "
            f"{human_bytes(commit.nbytes)} log record"
            + (
                f", shared with {commit.objects - 1} other object{'s' if commit.objects > 2 else ''}"
                if commit.objects > 1
                else ""
            )
        )
    text.append("\nfile ", "dim")
    text.append(_show_path(doc.get("path", "?")), "dim")
    text.append("  ·  e: edit a key", "dim italic")
    return text


class StorageView(Vertical):
    """Keys and values (diffed by key), the highlighted value as a tree, and a summary line."""

    class KeyHighlighted(Message):
        def __init__(self, key: str | None, value: Any) -> None:
            super().__init__()
            self.key = key
            self.value = value

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rows: dict[str, tuple[Any, str]] = {}
        self.current_key: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Select an instance to read its storage.", style="dim"), id="storage-summary")
        table: DataTable[Any] = DataTable(id="storage-table", cursor_type="row", zebra_stripes=False)
        table.add_column("key", key="key")
        table.add_column("where", key="where")
        table.add_column("value", key="value")
        yield table
        yield Tree("value", id="storage-tree")

    def on_mount(self) -> None:
        self.query_one("#storage-table").tooltip = "\n".join(
            f"{w}: {glossary.STORAGE_WHERE[w]}" for w in ("checkpoint", "log", "pending", "deleted")
        )
        self.query_one("#storage-tree").add_class("-empty")

    @property
    def table(self) -> DataTable:
        return self.query_one("#storage-table", DataTable)

    def clear(self, message: str) -> None:
        self.query_one("#storage-summary", Static).update(Text(message, style="dim"))
        self.table.clear()
        self._rows = {}
        self.current_key = None
        self.query_one("#storage-tree").add_class("-empty")

    def show(self, doc: dict[str, Any], commit: Commit | None, now: float) -> None:
        """Update in place: changed cells, new rows, removed rows (never a rebuild)."""
        summary = self.query_one("#storage-summary", Static)
        summary.update(storage_summary(doc, commit, now))
        summary.tooltip = f"the object's TinyDB file: {doc.get('path')}"
        table = self.table
        fresh = {k: (v, w) for k, v, w in storage_rows(doc)}
        for k in [k for k in self._rows if k not in fresh]:
            table.remove_row(k)
            del self._rows[k]
        order_changed = False
        for k, (v, w) in fresh.items():
            old = self._rows.get(k)
            where = Text(w, style=WHERE_STYLE[w.split("·")[0]])
            if old is None:
                table.add_row(Text(k, style="bold"), where, Text(short(v, 60)), key=k)
                order_changed = True
            elif old != (v, w):
                if old[0] != v:
                    table.update_cell(k, "value", Text(short(v, 60)))
                if old[1] != w:
                    table.update_cell(k, "where", where)
            self._rows[k] = (v, w)
        if order_changed and len(fresh) > 1:
            table.sort("key", key=lambda cell: cell.plain.encode())
        if self.current_key in fresh:
            self._show_tree(self.current_key, fresh[self.current_key][0])
        elif fresh and table.row_count:
            self._highlight_from_cursor()

    def _highlight_from_cursor(self) -> None:
        table = self.table
        if not table.row_count:
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        key = row_key.value
        if key in self._rows:
            self.current_key = key
            self._show_tree(key, self._rows[key][0])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value if event.row_key is not None else None
        if key in self._rows:
            self.current_key = key
            self._show_tree(key, self._rows[key][0])
            self.post_message(self.KeyHighlighted(key, self._rows[key][0]))

    def _show_tree(self, key: str, value: Any) -> None:
        tree = self.query_one("#storage-tree", Tree)
        if not isinstance(value, (dict, list)):
            tree.add_class("-empty")
            return
        tree.remove_class("-empty")
        tree.clear()
        tree.root.set_label(Text(key, style="bold"))
        _add_nodes(tree.root, value, budget=[500])
        tree.root.expand_all()

    def current_value(self) -> Any:
        row = self._rows.get(self.current_key) if self.current_key is not None else None
        return row[0] if row is not None else None


def _add_nodes(node, value: Any, budget: list[int]) -> None:
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for k, v in items:
        budget[0] -= 1
        if budget[0] < 0:
            node.add_leaf(Text("…", style="dim"))
            return
        label = Text.assemble((str(k), "bold" if isinstance(value, dict) else "dim"), ": ")
        if isinstance(v, (dict, list)):
            label.append(f"{'{…}' if isinstance(v, dict) else '[…]'} {len(v)}", "dim")
            _add_nodes(node.add(label), v, budget)
        else:
            label.append(short(v, 60))
            node.add_leaf(label)
