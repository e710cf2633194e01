"""Times, sizes, durations, calls and values as the front ends show them (plain text, one line)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Iterable
from typing import Any


# ---------------------------------------------------------------- times
def relative(t: float | None, now: float, none: str = "") -> str:
    """``4s ago``, ``in 2m``, ``now``; ``none`` for no time."""
    if t is None:
        return none
    d = t - now
    future = d > 0
    d = abs(d)
    if d < 1:
        return "now"
    if d < 60:
        text = f"{int(d)}s"
    elif d < 3600:
        text = f"{int(d // 60)}m"
    elif d < 86400:
        text = f"{int(d // 3600)}h"
    else:
        text = f"{int(d // 86400)}d"
    return f"in {text}" if future else f"{text} ago"


def ago(epoch: float | None, now: float | None = None) -> str:
    """``relative`` for a table cell: ``-`` for no time."""
    return relative(epoch, time.time() if now is None else now, "-")


def clock(epoch: float | None) -> str:
    """``14:03:07.412``, local time."""
    if epoch is None:
        return "-"
    return _dt.datetime.fromtimestamp(epoch).strftime("%H:%M:%S.%f")[:-3]


def alarm_text(epoch: float | None, now: float | None = None) -> str:
    """``2026-12-01 09:00:00 (in 3h)``, local time."""
    if epoch is None:
        return "-"
    local = _dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")
    return f"{local} ({ago(epoch, now)})"


def ms(seconds: float | None) -> str:
    """Milliseconds with two decimals (a table column headed ``ms``)."""
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.2f}"


def duration(seconds: float | None) -> str:
    """``12 ms``, ``3.4 s``, ``2.5 min``; empty for none."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


# ---------------------------------------------------------------- sizes
def human_bytes(n: int | None) -> str:
    """``512 B``, ``3.2 KiB``, ``14 MiB``; empty for none."""
    if not n:
        return "0 B" if n == 0 else ""
    if n < 1024:
        return f"{n} B"
    size = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if size < 10 else f"{size:.0f} {unit}"
    return f"{n} B"


# ---------------------------------------------------------------- control characters
# C0 but newline and tab, DEL, and C1 (U+0080-U+009F: an 8-bit CSI or OSC a terminal would obey).
_CONTROLS = {c: f"\\u{c:04x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if c not in (0x0A, 0x09)}


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab written as a ``\\uXXXX`` escape, which
    reads the same in JSON and in a Python string: what a front end prints of names, results and
    storage cannot move the cursor, clear the screen or set the clipboard. O(length)."""
    return text.translate(_CONTROLS)


# Each control as one visible cell: C0 and DEL as their Control Pictures (U+2400-U+2421), C1 (which has none) as
# U+FFFD. For a screen already laid out, where an escape's extra width would shift every cell after it.
_CONTROL_CELLS = {
    c: (0x2421 if c == 0x7F else 0x2400 + c if c < 0x20 else 0xFFFD) for c in [*range(0x20), *range(0x7F, 0xA0)]
}


def visible(text: str) -> str:
    """``text`` with every control character (newline and tab too) replaced by one visible character of
    the same width, so a laid-out line keeps its columns: ESC shows as ``␛``, U+009B as ``�``. What the
    TUI's screen filter applies to every line it draws (docs/trust.md). O(length)."""
    return text.translate(_CONTROL_CELLS)


# ---------------------------------------------------------------- values and calls
def short(value: Any, width: int = 60) -> str:
    """A one-line repr of ``value`` cut to ``width`` characters."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def short_json(value: Any, limit: int = 60) -> str:
    """``value`` as one line of JSON, cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


TIMED_METHODS = frozenset({"storage.set_alarm", "storage.get_alarm"})  # their numbers are epoch seconds


def time_text(epoch: float) -> str:
    """``2026-12-01 09:00:00.250``, local time: how an alarm time reads in a call or its result."""
    return _dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def result_text(method: str, value: Any, width: int = 60) -> str:
    """A call's result for a history line: an alarm time as a time, anything else ``short``."""
    if method in TIMED_METHODS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return time_text(value)
    return short(value, width)


def call_text(
    method: str, args: Iterable[Any] = (), kwargs: dict[str, Any] | None = None, width: int | None = None
) -> str:
    """``method(1, 'x', by=2)``: a call as it would be typed in the command language
    (each argument cut to 40 characters; the whole to ``width`` if given). An alarm time reads as a time."""
    if method in TIMED_METHODS:
        args = [time_text(a) if isinstance(a, (int, float)) and not isinstance(a, bool) else a for a in args]
    parts = [_arg(a) for a in args] + [f"{k}={_arg(v)}" for k, v in (kwargs or {}).items()]
    text = f"{method}({', '.join(parts)})"
    return text if width is None or len(text) <= width else text[: width - 2] + "…)"


def _arg(value: Any, limit: int = 40) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- paths
def relative_path(path: str) -> str:
    """``path`` from the working folder when it is inside it."""
    cwd = os.getcwd() + os.sep
    return path[len(cwd) :] if path.startswith(cwd) else path


def error_line(error: dict[str, Any]) -> str:
    """A failed call's error as the front ends show it, where it was raised in the user's code after it:
    ``ValueError: no such item (objects/todo.py:24 in done)``. ``error`` is the engine's ``{type,
    message, frame?}`` (engine/history.error_fields)."""
    text = f"{error.get('type', 'Error')}: {error.get('message', '')}"
    frame = error.get("frame")
    if isinstance(frame, dict) and frame.get("file"):
        text += f" ({relative_path(str(frame['file']))}:{frame.get('line')} in {frame.get('function')})"
    return text


# A class's storage backend, in words (docs/sqlite.md): what ``ctx.storage`` is in its objects.
STORAGE = {
    "kv": "key-value storage",
    "sqlite": "SQLite storage (ctx.storage.sql)",
}
