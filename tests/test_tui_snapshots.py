"""How the TUI looks: SVG snapshots of the main screen and the invoke dialog.

Time and ids are made deterministic: ids come from names (id_from_name), the
engine's clock is frozen for the calls made here (so queue and run times are
0 ms and "last active" is a fixed instant), the hibernated objects are written
into the index with fixed times, and the app's clock is a constant.

Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the report before committing.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import pytest

from dotui.engine.clock import ManualClock
from dotui.examples import OBJECTS as BUNDLED_OBJECTS
from dotui.ops import LocalEngine
from dotui.tui.app import DotuiApp
from tui_support import until, write_hibernated, write_objects

pytestmark = [pytest.mark.tui]

T0 = 1_800_000_000.0  # the frozen "now" of the engine
NOW = T0 + 30  # the app's clock: 30 s later


class FrozenTime:
    """The ``time`` module with ``time()`` stopped at ``t``."""

    def __init__(self, t: float):
        self.t = t

    def time(self) -> float:
        return self.t

    def __getattr__(self, name: str):
        return getattr(time, name)


def freeze_engine_clock(monkeypatch: pytest.MonkeyPatch, t: float) -> None:
    """Every ``time`` module, and every ``time.time`` the engine's modules hold, stopped at ``t``."""
    frozen = FrozenTime(t)
    for name, module in list(sys.modules.items()):
        if not name.startswith("dotui.engine") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if value is time:
                monkeypatch.setattr(module, attr, frozen)
            elif value is time.time:
                monkeypatch.setattr(module, attr, frozen.time)


@pytest.fixture
def frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    freeze_engine_clock(monkeypatch, T0)
    # call numbers (#1, #2, ...) count from 1 in this test, whatever ran before in this process
    for name, module in list(sys.modules.items()):
        if name.startswith("dotui.engine") and isinstance(getattr(module, "_seq", None), itertools.count):
            monkeypatch.setattr(module, "_seq", itertools.count(1))
    write_objects(tmp_path / "objects")
    write_hibernated(tmp_path / "data", "Counter", 12, last_active=T0 - 3600)
    fe = LocalEngine(
        "objects", "data", idle_timeout=600, clock=ManualClock(T0)
    ).start()  # the engine's time stands still
    fe.call("Counter", "alice", "increment", [5])
    fe.call("Counter", "alice", "increment", kwargs={"by": 2})
    with pytest.raises(ValueError):
        fe.call("Counter", "alice", "boom", ["no luck"])
    fe.call("Reminder", "r", "touch")
    fe.alarm_set("Reminder", "r", T0 + 300)
    yield fe
    fe.close()


def make_app(facade) -> DotuiApp:
    return DotuiApp(facade, clock=lambda: NOW, refresh_interval=0.05, watch_files=False, busy_after=60)


async def settle(pilot) -> None:
    """Until the first refreshes have landed and the selected object's queue is shown; a screen that
    never gets there fails the test here (a snapshot of it would show whatever half-drawn state it had)."""

    def ready() -> bool:
        main = pilot.app.main
        return main.state.refreshes >= 3 and main.detail is not None and main.detail.history is not None

    await until(pilot, ready, "the first refreshes and the selected object's detail")
    await pilot.pause(0.1)


@pytest.mark.slow
def test_main_screen(snap_compare, frozen):
    assert snap_compare(make_app(frozen), terminal_size=(120, 34), run_before=settle)


@pytest.mark.slow
def test_main_screen_narrow(snap_compare, frozen):
    assert snap_compare(make_app(frozen), terminal_size=(80, 24), run_before=settle)


@pytest.mark.slow
def test_invoke_dialog(snap_compare, frozen):
    async def open_invoke(pilot) -> None:
        await settle(pilot)
        await pilot.press("i")
        for _ in range(100):
            if pilot.app.screen.__class__.__name__ == "InvokeScreen":
                break
            await pilot.pause(0.02)
        dialog = pilot.app.screen
        dialog.query_one("#invoke-methods").highlighted = list(dialog.methods).index("increment")
        dialog.query_one("#invoke-args").cursor_blink = False  # a blinking cursor is not deterministic
        await pilot.pause()
        await pilot.press("5", "comma", "space", *"by=")
        await pilot.pause(0.1)

    assert snap_compare(make_app(frozen), terminal_size=(120, 34), run_before=open_invoke)


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The bundled classes, and no object yet: the first screen a new user sees."""
    import shutil

    monkeypatch.chdir(tmp_path)
    # The welcome's demo starts 1.5 s after the classes are known: under load, before the snapshot
    # (its object in the header, its lines in the welcome). The snapshot is the welcome before it.
    monkeypatch.setattr("dotui.tui.controllers.welcome.WelcomeDemo.offer", lambda self, namespaces: None)
    shutil.copytree(BUNDLED_OBJECTS, tmp_path / "objects")
    fe = LocalEngine("objects", "data", idle_timeout=600).start()
    yield fe
    fe.close()


async def settle_empty(pilot) -> None:
    await until(
        pilot,
        lambda: pilot.app.main.state.refreshes >= 3 and bool(pilot.app.main.namespaces),
        "the first refreshes and the classes",
    )
    await pilot.pause(0.1)


def test_welcome_narrow(snap_compare, empty):
    assert snap_compare(make_app(empty), terminal_size=(80, 24), run_before=settle_empty)


@pytest.mark.slow
def test_welcome(snap_compare, empty):
    assert snap_compare(make_app(empty), terminal_size=(120, 34), run_before=settle_empty)
