"""The TUI's action table: every key is one row, acting rows run registry commands, answered in the REPL's words."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from dotui.commands import Context, execute
from dotui.ops import LocalEngine
from dotui.present.render import Renderer
from dotui.tui import actions
from dotui.tui.app import DotuiApp, MainScreen
from dotui.tui.controllers.dialogs import call_line
from dotui.tui.lanes import Lane
from dotui.tui.screens.help import KEYS
from tui_support import key_of, record_notifications, screen_text, until, write_objects


@pytest.fixture
def facade(tmp_path: Path):
    fe = LocalEngine(str(write_objects(tmp_path / "objects")), str(tmp_path / "data"), idle_timeout=600).start()
    yield fe
    fe.close()


def repl_words(facade, line: str) -> str:
    console = Console(file=io.StringIO(), width=72, color_system=None, record=True)
    Renderer(console).outcome(execute(Context(facade), line))
    return console.export_text().strip()


def test_every_key_is_one_row_of_the_table():
    keys = [row.key for row in actions.ROWS]
    assert len(keys) == len(set(keys)), "two rows share a key"
    bound = {b.key: b.action for b in MainScreen.BINDINGS}
    assert bound == {row.key: f"act('{row.name}')" for row in actions.ROWS}
    for row in actions.ROWS:
        assert (row.command is None) != (row.handler is None), f"{row.name} runs a command or a handler, not both"


def test_the_help_lists_every_tab_key_the_table_binds():
    tabs = next(k for k, d in KEYS if "Queue" in d and "tab" in d)
    assert tabs.split() == ["1", "2", "3", "4", "5"]  # Sockets has a key too
    listed = {k for k, _ in KEYS}
    assert {"h", "w", "/", ":", "?", "space", "→", "←"} <= listed


def test_the_invoke_dialog_composes_a_call_the_registry_reads_back():
    from dotui.commands import parse_line

    line = call_line("Counter/'a b'", "post", ["hello world", [1, None]], {"by": True}, times=3)
    parsed = parse_line(line)
    assert parsed.command.name == "call" and parsed.values["ref"].ref == "a b"
    assert parsed.values["args"] == (["hello world", [1, None]], {"by": True})
    assert parsed.values["times"] == 3 and parsed.values["concurrent"] is True


def test_the_action_lane_grows_while_every_thread_waits():
    import threading

    release = threading.Event()
    lane = Lane("test-lane", 1, most=4)
    futures = [lane.submit(release.wait, 10) for _ in range(4)]
    try:
        assert lane.threads == 4  # four hung calls, four threads: none waits behind another
    finally:
        release.set()
    assert all(f.result(10) is True for f in futures)
    lane.stop()


@pytest.mark.slow
@pytest.mark.parametrize(
    "key, action, command, toast",
    [
        ("h", "hibernate", "hibernate", "Counter/c hibernated"),
        ("X", "reset", "reset", "Counter/c was reset"),  # (the worked example of ARCHITECTURE.md)
    ],
)
async def test_a_key_runs_its_command_and_says_what_the_repl_says(facade, key, action, command, toast):
    facade.call("Counter", "c", "increment")
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=(120, 34)) as pilot:
        toasts = record_notifications(app)
        key_ = key_of(facade, "Counter", "c")
        await until(pilot, lambda: key_ in app.main.rows.rows, "Counter/c listed")
        app.main.go_to(key_)
        await until(pilot, lambda: app.main.enabled(action) is True, f"{key} enabled on a live object")
        await pilot.press(key)
        await until(pilot, lambda: facade.instance("Counter", "c")["state"] == "hibernated", "Counter/c out of memory")
        await until(pilot, lambda: any(toast in t for t in toasts), "the toast")
        assert facade.call("Counter", "c", "peek") == 1  # what was durable stayed; live again
        expected = repl_words(facade, f"{command} Counter/c")
        assert expected in toasts


@pytest.mark.slow
async def test_an_objects_error_in_the_invoke_dialog_names_the_line_of_code(facade):
    from dotui.tui.screens.invoke import InvokeScreen

    facade.call("Counter", "c", "increment")
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=(120, 34)) as pilot:
        key = key_of(facade, "Counter", "c")
        await until(pilot, lambda: key in app.main.rows.rows, "Counter/c listed")
        app.main.go_to(key)
        await pilot.press("i")
        await until(
            pilot,
            lambda: isinstance(app.screen, InvokeScreen) and bool(app.screen.query("#invoke-methods")),
            "the invoke dialog, composed",
        )
        dialog = app.screen
        dialog.query_one("#invoke-methods").highlighted = list(dialog.methods).index("boom")
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: "ValueError: boom" in screen_text(app), "the error")
        assert "tui_objects.py:" in screen_text(app) and "in boom" in screen_text(app)
