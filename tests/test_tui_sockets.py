"""The TUI's Sockets tab: shown while the selected object has WebSockets open, hibernated or not."""

from __future__ import annotations

import pytest
from textual.widgets import TabbedContent

from conftest import write_objects
from dotui.ops import LocalEngine
from dotui.tui.app import DotuiApp
from tui_support import key_of, screen_text, until
from ws_support import ROOM

pytestmark = [pytest.mark.tui, pytest.mark.slow]

SIZE = (120, 34)


@pytest.fixture
def facade(tmp_path):
    fe = LocalEngine(
        str(write_objects(tmp_path / "objects", room=ROOM)), str(tmp_path / "data"), idle_timeout=600
    ).start()
    yield fe
    fe.close()


def sockets_tab_shown(app) -> bool:
    tabs = app.main.object_view.query_one(TabbedContent)
    return tabs.get_tab("sockets").display


async def test_the_sockets_tab_lists_an_objects_sockets_while_it_hibernates(facade):
    sock = facade.open_websocket("Room", "r", "/?user=ann&tags=red,blue")
    sock.send("auto")
    assert sock.receive(5) == ["auto set"]
    facade.call("Room", "q", "count")  # another object, without sockets
    facade.hibernate("Room", "r")
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        other = key_of(facade, "Room", "q")
        key = key_of(facade, "Room", "r")
        await until(pilot, lambda: key in app.main.rows.rows and other in app.main.rows.rows, "both listed")
        app.main.go_to(key)
        await until(pilot, lambda: sockets_tab_shown(app), "the Sockets tab for Room/r")
        app.main.object_view.active_tab = "sockets"
        await until(pilot, lambda: "red, blue" in screen_text(app), "the socket's tags")
        text = screen_text(app)
        assert '"user": "ann"' in text and "'ping' → 'pong'" in text
        app.main.go_to(other)
        await until(pilot, lambda: not sockets_tab_shown(app), "no Sockets tab for Room/q (it has none)")
        app.main.go_to(key)
        await until(pilot, lambda: sockets_tab_shown(app), "the Sockets tab back for Room/r")
        sock.close()
        await until(pilot, lambda: not sockets_tab_shown(app), "the tab gone with the last socket")


def row_line(app, name: str) -> str:
    return next(line for line in screen_text(app).splitlines() if f" {name} " in line)


async def test_the_instance_list_counts_each_objects_sockets_while_any_is_open(facade):
    facade.call("Room", "quiet", "count")  # an object without sockets
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: key_of(facade, "Room", "quiet") in app.main.rows.rows, "Room/quiet listed")
        await until(
            pilot,
            lambda: "sockets" not in screen_text(app).splitlines()[2],
            "no sockets column while no socket is open",
        )
        socks = [facade.open_websocket("Room", "busy", f"/?user=u{i}") for i in range(3)]

        await until(pilot, lambda: "sockets" in screen_text(app), "the sockets column")
        await until(pilot, lambda: row_line(app, "busy").split().count("3") >= 1, "Room/busy with 3 sockets")
        facade.hibernate("Room", "busy")  # its sockets stay open while it sleeps
        await until(
            pilot,
            lambda: app.main.rows.rows[key_of(facade, "Room", "busy")]["state"] == "hibernated",
            "Room/busy hibernated",
        )
        assert app.main.rows.rows[key_of(facade, "Room", "busy")]["websockets"] == 3
        socks[0].close()
        await until(
            pilot,
            lambda: app.main.rows.rows[key_of(facade, "Room", "busy")].get("websockets") == 2,
            "2 sockets after one closed",
        )
        for s in socks[1:]:
            s.close()
        await until(pilot, lambda: "sockets" not in screen_text(app), "the column gone with the last socket")
