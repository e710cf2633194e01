"""Shared set-up for the TUI tests: objects that can be held mid-call, hibernated objects in bulk."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from dotui.engine.ids import IdFactory

# Methods that wait for a flag file let a test hold a call exactly where it wants
# it (suspended at an await, or blocking the engine's thread) and release it.
OBJECTS = '''
import asyncio
import os
import time

from dotui import DurableObject


class Counter(DurableObject):
    """Counts."""

    async def increment(self, by: int = 1) -> int:
        """Add `by`; returns the count."""
        n = self.ctx.storage.get("n", 0) + by
        self.ctx.storage.put("n", n)
        return n

    def peek(self) -> int:
        """The count."""
        return self.ctx.storage.get("n", 0)

    def boom(self, message: str = "boom") -> None:
        """Raises ValueError."""
        raise ValueError(message)


class Gate(DurableObject):
    """Serial: one call at a time; `wait` suspends until its flag file exists."""

    concurrency = "serial"

    async def wait(self, flag: str) -> str:
        """Suspend at an await until `flag` exists."""
        while not os.path.exists(flag):
            await asyncio.sleep(0.01)
        return "through"

    def note(self, text: str) -> str:
        """Store `text`."""
        self.ctx.storage.put("note", text)
        return text


class Blocker(DurableObject):
    """`block` holds the engine's thread (time.sleep, no await) until its flag file exists."""

    def block(self, flag: str) -> str:
        """Block without awaiting."""
        while not os.path.exists(flag):
            time.sleep(0.01)
        return "unblocked"


class Reminder(DurableObject):
    """Has an alarm handler."""

    def touch(self) -> int:
        """Make it exist."""
        self.ctx.storage.put("touched", True)
        return 1

    async def alarm(self, info):
        self.ctx.storage.put("fired", True)
'''


def write_objects(folder: Path, source: str = OBJECTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tui_objects.py").write_text(textwrap.dedent(source))
    return folder


def write_hibernated(
    data_dir: Path, namespace: str, count: int, last_active: float | None = None, prefix: str = "user-"
) -> list[str]:
    """``count`` hibernated objects in the data folder's index (what listing reads); returns their ids."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ids = IdFactory(namespace)
    t = time.time() if last_active is None else last_active
    entries = {}
    for i in range(count):
        oid = ids.from_name(f"{prefix}{i:05d}")
        entries[oid.hex] = [oid.name, 1, 12, None, t - i]
    path = data_dir / "index.json"
    doc = {"version": 1, "objects": {}}
    if path.exists():
        doc = json.loads(path.read_text())
    doc["objects"].setdefault(namespace, {}).update(entries)
    path.write_text(json.dumps(doc))
    return list(entries)


def key_of(facade, namespace: str, name: str) -> tuple[str, str]:
    return (namespace, facade.resolve(namespace, name)["id"])


async def until(pilot, predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Let the app run until ``predicate()`` holds; fail naming ``what`` if it has not within ``timeout``
    seconds (a deadline, not a number of tries: on a loaded machine each try takes longer)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"the TUI never showed: {what} (waited {timeout:g} s)")
        await pilot.pause(0.02)


def shown(app) -> tuple[str, str] | None:
    """The key of the object whose detail the main screen shows, or None."""
    return app.main.shown


def record_notifications(app) -> list[str]:
    """The messages of every notification ``app`` shows from now on, as they are posted (through the
    public ``App.notify``; the list grows as they come)."""
    messages: list[str] = []
    original = app.notify

    def notify(message, *args, **kwargs):
        messages.append(str(message))
        return original(message, *args, **kwargs)

    app.notify = notify
    return messages


def screen_text(app) -> str:
    """The whole screen as plain text (what a user reads)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def flag_path(tmp_path: Path, name: str) -> str:
    return str(tmp_path / f"{name}.flag")


def send_keys(app, *keys: str) -> None:
    """Key presses sent the way the terminal driver sends them, without Pilot's wait for an idle process.

    ``pilot.press`` waits until the whole process stops using the CPU; with the
    engine busy in the same process that never happens, so each press would
    wait its full second. These keys go through the same path (driver →
    app → bindings → focused widget); the test then waits for what they do.
    """
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        original = REPLACED_KEYS.get(key, key)
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(original))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
