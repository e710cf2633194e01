"""The header: where the engine keeps things, how many objects are in memory, how busy it is."""

from __future__ import annotations

import os
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from .. import glossary


def show_path(path: str | None) -> str:
    """A folder as the user would type it: relative to here when inside it, ``~`` for home."""
    if not path:
        return "?"
    try:
        rel = os.path.relpath(path)
    except ValueError:
        rel = path
    if not rel.startswith(".."):
        return rel
    home = os.path.expanduser("~")
    if path.startswith(home + os.sep):
        path = "~" + path[len(home) :]
    if len(path) > 28:
        parts = path.rstrip(os.sep).split(os.sep)
        path = "…" + os.sep + os.sep.join(parts[-2:])
    return path


class StatusHeader(Vertical):
    """Data and objects folders, live/hibernated counts, calls per second, commits pending."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, Any] = {}  # what each part shows now: unchanged parts are not redrawn
        self._where: tuple[str | None, str | None, str | None] | None = None  # data, objects, url

    def _put(self, part: str, content: Any, plain: Any) -> None:
        if self._shown.get(part) != plain:
            self._shown[part] = plain
            self.query_one(f"#{part}", Static).update(content)

    def compose(self) -> ComposeResult:
        with Horizontal(id="header-row"):
            yield Static(id="header-where")
            yield Static(id="header-counts")
            yield Static("calls/s", id="header-rate-label")
            yield Sparkline([0.0], id="header-rate")
            yield Static(id="header-rate-value")
            yield Static(id="header-commits")
        yield Static(id="header-busy")

    def on_mount(self) -> None:
        self.query_one("#header-busy").display = False
        self.query_one("#header-counts").tooltip = (
            f"{glossary.GLYPHS['idle']} live: {glossary.STATES['idle']}\n"
            f"{glossary.GLYPHS['hibernated']} {glossary.STATES['hibernated']}"
        )
        self.query_one(
            "#header-commits"
        ).tooltip = "objects with writes not yet durable: their results wait at the output gate until the commit lands"
        self.query_one("#header-rate").tooltip = "calls per second, the last minute"

    def set_where(self, data_dir: str | None, objects_dir: str | None, url: str | None = None) -> None:
        """Where the engine is: its data and objects folders, and the gateway's URL when driven over HTTP."""
        self._where = (data_dir, objects_dir, url)
        self._show_where()

    def on_resize(self) -> None:
        if self._where is not None:
            self._show_where()

    def _show_where(self) -> None:
        """The folders in the room the row leaves them: on a short row (80 columns, or 120 with an object
        busy) without the word dotui (the terminal's title says it) nor the 'calls/s' label; a folder outside
        this one by its last two names (``examples/objects``). O(1) a redraw."""
        assert self._where is not None
        data_dir, objects_dir, url = self._where
        text = Text() if self._tight() else Text.assemble(("dotui ", "bold"))
        if url:
            text.append_text(Text.assemble(("→ ", "dim"), (url, "bold cyan"), ("  ", "")))
        objects = show_path(objects_dir)
        if objects.startswith("…" + os.sep):  # the room is short: the last two names say which folder
            objects = objects[2:]
        text.append_text(Text.assemble(("data ", "dim"), show_path(data_dir), ("  objects ", "dim"), objects))
        self._put("header-where", text, text.plain)

    def _tight(self) -> bool:
        """Whether the row is too short for everything at full length: the folders (with the word dotui), the
        counts, 'calls/s', the sparkline, the rate and the commits pending, as the stylesheet sizes them."""
        width = self.size.width
        if width < 110:
            return True
        where = 6 + len(self._where_plain()) + 2  # "dotui " and the padding
        others = sum(len(str(self._shown.get(part, ""))) + 2 for part in ("counts-plain", "commits-plain"))
        return where + others + len("calls/s") + 14 + 6 > width

    def _where_plain(self) -> str:
        if self._where is None:
            return ""
        data_dir, objects_dir, url = self._where
        return (f"→ {url}  " if url else "") + f"data {show_path(data_dir)}  objects {show_path(objects_dir)}"

    def set_stats(self, stats: dict[str, Any], busy: int, samples: list[float], rate: float) -> None:
        live, hib = stats.get("live", 0), stats.get("hibernated", 0)
        compact = self.size.width < 110
        tight_before = self._tight()
        counts = Text.assemble(
            (glossary.GLYPHS["idle"] + " ", "green"),
            f"{live:,} live",
            ("  " + glossary.GLYPHS["hibernated"] + " ", "dim"),
            f"{hib:,} {'hib.' if compact else 'hibernated'}",
        )
        if busy:
            counts.append(f"  {glossary.GLYPHS['busy']} {busy:,}" + ("" if compact else " busy"), "yellow")
        self._put("header-counts", counts, counts.plain)
        pending = stats.get("commits_pending", 0)
        commits = Text.assemble(
            ("pending " if compact else "commits pending ", "dim"), (str(pending), "bold yellow" if pending else "")
        )
        self._shown["counts-plain"], self._shown["commits-plain"] = counts.plain, commits.plain
        tight = self._tight()
        self.set_class(tight and not compact, "-tight")
        if tight != tight_before and self._where is not None:
            self._show_where()
        samples = list(samples)
        if self._shown.get("header-rate") != samples:
            self._shown["header-rate"] = samples
            self.query_one("#header-rate", Sparkline).data = samples
        value = f"{rate:,.0f}" if rate >= 10 else f"{rate:.1f}"
        value += "/s" if tight else ""  # short: no label (narrow: no sparkline either), the unit says what it is
        self._put("header-rate-value", value, value)
        self._put("header-commits", commits, (compact, pending))

    def set_busy(self, message: str | None) -> None:
        if self._shown.get("header-busy") == message:
            return
        self._shown["header-busy"] = message
        busy = self.query_one("#header-busy", Static)
        busy.display = bool(message)
        if message:
            busy.update(message)

    @property
    def busy_message(self) -> str | None:
        """What the busy line says (None when hidden)."""
        return self._shown.get("header-busy")
