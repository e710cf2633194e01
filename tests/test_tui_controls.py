"""The TUI's screen holds no control character of an object's name, result, storage, docstring or error."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.events import Paste
from textual.widgets import Input

from dotui.ops import LocalEngine
from dotui.tui.app import DotuiApp
from test_hostile_controls import HOSTILE, OBJECT, raw_controls
from tui_support import key_of, screen_text, until

pytestmark = [pytest.mark.hostile, pytest.mark.tui, pytest.mark.slow]


@pytest.fixture
def facade(tmp_path: Path):
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "echo.py").write_text(OBJECT)
    fe = LocalEngine(str(tmp_path / "objects"), str(tmp_path / "data"), idle_timeout=600).start()
    yield fe
    fe.close()


async def test_instances_storage_queue_and_command_bar_show_controls_as_visible_cells(facade):
    facade.call("Echo", HOSTILE, "keep", [HOSTILE, HOSTILE])
    facade.call("Echo", HOSTILE, "echo", [HOSTILE])
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=(160, 40)) as pilot:
        key = key_of(facade, "Echo", HOSTILE)
        await until(pilot, lambda: key in app.main.rows.rows, "the object in the instances")
        app.main.go_to(key)
        await until(pilot, lambda: "␛[2J" in screen_text(app), "the name's ESC shown as a visible cell")
        assert raw_controls(screen_text(app)) == [], screen_text(app)
        for tab in ("2", "3", "4"):  # storage, queue, methods (docstrings)
            await pilot.press(tab)
            await until(
                pilot,
                lambda: "␛[2J" in screen_text(app) or "\\u001b[2J" in screen_text(app),
                f"tab {tab} showing the hostile text",
            )
            assert raw_controls(screen_text(app)) == [], (tab, screen_text(app))
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.focused, Input), "the command bar's input")
        # Pasted, as a user would bring in a 600-character line (typed key by key, it took minutes here).
        line = f"Echo/{HOSTILE!r}.fail({HOSTILE!r})"
        app.focused.post_message(Paste(line))
        await until(pilot, lambda: app.focused.value == line, "the pasted command")
        await pilot.press("enter")
        await until(pilot, lambda: "ValueError" in screen_text(app), "the error in the command bar")
        assert "\\u009b2J" in screen_text(app)
        assert raw_controls(screen_text(app)) == [], screen_text(app)
