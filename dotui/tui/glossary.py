"""What each thing on screen means, in the Durable Objects model's own words.

One line each: the TUI shows these as tooltips, in the help screen and next to
what they describe. Kept apart from the widgets so the words are written once.
"""

from __future__ import annotations

# The state glyph of an instance, keyed by ``model.row_state``.
GLYPHS: dict[str, str] = {
    "busy": "◉",
    "idle": "●",
    "waking": "◐",
    "hibernated": "○",
    "broken": "✖",
}

STATES: dict[str, str] = {
    "busy": "live, busy: in memory and running a call right now",
    "idle": "live, idle: in memory with its constructor run; the next call starts at once",
    "waking": "waking: storage loaded, constructor running; calls wait until it finishes",
    "hibernated": (
        "hibernated: on disk only; its Python object and every in-memory attribute are gone, "
        "storage and alarm stay; the next call runs the constructor again"
    ),
    "broken": (
        "broken: its constructor raised, its file is unreadable or a commit failed; "
        "the next call tries again from durable state"
    ),
}

# Markers shown after the state glyph.
GATE_MARK = "⊘"
HELD_MARK = "⧗"
MARKS: dict[str, str] = {
    GATE_MARK: "input gate held: a call is inside block_concurrency_while (or a serial call runs); other calls wait",
    HELD_MARK: "output gate holding: a result is kept back until the writes made before it are on disk",
}

GATES: dict[str, str] = {
    "input_open": "open: a call that awaits something other than storage lets the next call start",
    "input_held": "held: a call is inside block_concurrency_while; no other call starts or resumes until it ends",
    "input_serial": "serial class: calls run one at a time, start to finish, in arrival order",
    "output_clear": "clear: every result sent so far was durable first",
    "output_held": "holding: results wait until the writes made before them are committed (fsynced)",
}

CALL_STATUS: dict[str, str] = {
    "running": "running now: it holds the object until it returns or awaits",
    "suspended": "suspended at an await: other calls may run until it resumes",
    "held": "returned; the output gate holds its result until its writes are durable",
    "queued": "queued: waits its turn in the object's FIFO queue",
    "done": "finished: the caller received the result",
    "failed": "failed: the caller received the exception",
}

TABS: dict[str, str] = {
    "queue": "Queue: calls waiting, running or suspended, results held by the output gate, then finished calls",
    "storage": "Storage: the object's durable key-value state as on disk (checkpoint + commit log), and writes not yet committed",
    "methods": "Methods: what a stub can call on this class; Enter invokes",
    "events": "Events: this object's event stream (calls, commits, state changes, alarms), newest last",
    "sockets": "Sockets: the WebSockets this object accepted (ctx.accept_websocket), shown while it has some; "
    "the gateway holds them open while the object hibernates (the instance list counts them)",
}

STORAGE_WHERE: dict[str, str] = {
    "checkpoint": "in the object's TinyDB checkpoint file",
    "log": "committed (fsynced in the commit log), not yet copied into the checkpoint",
    "pending": "written in memory, not yet committed: a crash now would lose it, and no result depending on it has been released",
    "deleted": "deleted in memory, not yet committed",
}

HIBERNATE_NOTE = "its Python object and in-memory attributes were dropped; storage and alarm stay on disk"
WAKE_NOTE = "its storage was loaded and its constructor ran"
# The same, said before acting (the palette describes what an entry will do)
HIBERNATE_DOES = "drops its Python object and in-memory attributes once its calls end; storage and alarm stay on disk"
WAKE_DOES = "loads its storage and runs its constructor"
