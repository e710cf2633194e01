"""Rough edges a new user met on a first try, each fixed and kept fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dotui.cli import main
from dotui.ops import LocalEngine
from dotui.tui.app import DotuiApp
from dotui.tui.widgets.command_bar import CommandBar
from tui_support import key_of, record_notifications, screen_text, shown, until


def test_run_echo_prints_each_command_beside_its_result(objects, tmp_path, capsys):
    script = tmp_path / "s.dotui"
    script.write_text("Counter/a.increment(41)\n# a comment is not echoed\nCounter/a.increment()\n")
    status = main(["--objects", str(objects), "--data", str(tmp_path / "data"), "run", str(script), "--echo"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[0].startswith("› Counter/a.increment(41)") and out[0].endswith("s.dotui:1")
    assert out[1] == "41"
    assert out[2].startswith("› Counter/a.increment()") and out[3] == "42"
    assert not any("comment" in line for line in out)


# ---------------------------------------------------------------- the TUI


@pytest.fixture
def facade(objects: Path, tmp_path: Path):
    fe = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600).start()
    for name in ("alice", "bob"):
        fe.call("Counter", name, "increment")
    yield fe
    fe.close()


def make_app(facade) -> DotuiApp:
    return DotuiApp(facade, refresh_interval=0.05, watch_files=False)


async def listed(pilot, app, facade) -> None:
    key = key_of(facade, "Counter", "alice")
    await until(pilot, lambda: key in app.main.rows.rows, "alice listed")


@pytest.mark.slow
@pytest.mark.parametrize(
    "keys",
    [
        ("slash", "a", "escape"),  # filter, then Esc
        ("z", "slash", "a", "escape"),  # filter while zoomed (which shows the list again), then Esc
        ("slash", "a", "enter", "z", "z"),  # filter kept, zoom in and out
    ],
)
async def test_keys_never_stay_stuck_in_the_filter_box(facade, keys):
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        await listed(pilot, app, facade)
        await pilot.press(*keys)
        await pilot.pause()
        value = app.main.pane.filter_input.value
        await pilot.press("colon")  # the command bar, not a ':' typed into the filter
        await until(pilot, lambda: app.main.query_one(CommandBar).display, "the command bar")
        assert app.main.pane.filter_input.value == value and ":" not in value
        assert app.main.maximized is None, "a pane is left zoomed over the instance list"


@pytest.mark.slow
async def test_a_on_a_class_without_alarm_says_why_nothing_happens(facade):
    app = make_app(facade)
    async with app.run_test(size=(120, 34), notifications=True) as pilot:
        notes = record_notifications(app)
        await listed(pilot, app, facade)
        app.main.go_to(key_of(facade, "Counter", "alice"))
        await until(pilot, lambda: shown(app) == key_of(facade, "Counter", "alice"), "alice selected")
        await pilot.press("a")
        await until(pilot, lambda: any("has no alarm() method" in n for n in notes), "why a does nothing here")


@pytest.mark.slow
async def test_the_palette_says_what_an_entry_will_do_not_what_it_did(facade):
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        await listed(pilot, app, facade)
        app.main.go_to(key_of(facade, "Counter", "alice"))
        await until(pilot, lambda: shown(app) is not None, "selected")
        entries = {name: help_text for name, help_text, _ in app.main.palette_commands()}
        hibernate = next(h for n, h in entries.items() if n.startswith("Hibernate Counter/"))
        assert "were dropped" not in hibernate and hibernate.startswith("drops")


def test_alarm_times_in_history_read_as_times_not_epoch_seconds(objects, tmp_path, capsys, monkeypatch):
    # Wide enough that no cell wraps: at 80 columns the call's text wrapped inside its date when the
    # timing columns took a digit more, and the date was no longer one string to find.
    monkeypatch.setenv("COLUMNS", "200")
    status = main(
        [
            "--objects",
            str(objects),
            "--data",
            str(tmp_path / "data"),
            "-c",
            "alarm ApiUsage/u set 2100-01-01T12:00:00Z",
            "-c",
            "history ApiUsage/u 1",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    history = out[out.index("history of") :]
    assert "4102488000" not in history and history.count("2100-01-01") == 2


@pytest.mark.slow
async def test_a_new_objects_first_event_does_not_say_it_hibernated(facade):
    from dotui.present.render import event_parts

    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        await listed(pilot, app, facade)
        facade.call("Counter", "newcomer", "increment")
        key = key_of(facade, "Counter", "newcomer")
        await until(pilot, lambda: key in app.main.rows.rows, "the newcomer listed")
        first = [event_parts(e)[2] for e in app.main.engine_watch.events_of(key) if e["type"] == "state"]
        assert first and first[0] == "state new → waking", first
        facade.hibernate("Counter", "newcomer")
        facade.call("Counter", "newcomer", "peek")
        await until(
            pilot,
            lambda: "state hibernated → waking" in [event_parts(e)[2] for e in app.main.engine_watch.events_of(key)],
            "a real return from hibernation",
        )


CALLER = """
import asyncio
import os

from dotui import DurableObject


class Caller(DurableObject):
    async def ask(self, flag: str) -> str:
        return await self.env.Holder.get_by_name("bob").wait(flag)


class Holder(DurableObject):
    async def wait(self, flag: str) -> str:
        while not os.path.exists(flag):
            await asyncio.sleep(0.01)
        return "done"
"""


def test_a_call_awaiting_another_object_names_that_call(tmp_path):
    import time

    (tmp_path / "objs").mkdir()
    (tmp_path / "objs" / "caller.py").write_text(CALLER)
    flag = tmp_path / "go.flag"
    with LocalEngine(str(tmp_path / "objs"), str(tmp_path / "data")) as fe:
        fut = fe.call_async("Caller", "alice", "ask", [str(flag)])
        deadline = time.monotonic() + 10
        running = []
        while time.monotonic() < deadline and not (running and running[0].get("awaiting")):
            running = [c for c in fe.queue("Caller", "alice") if c["status"] == "suspended"]
            time.sleep(0.02)
        flag.touch()
        assert fut.result(10) == "done"
    assert running[0]["awaiting"] == "Holder/bob.wait"


def test_a_fixed_file_unbreaks_its_objects_at_reload(tmp_path):
    objs = tmp_path / "objs"
    objs.mkdir()
    good = "from dotui import DurableObject\n\n\nclass Thing(DurableObject):\n    def hi(self):\n        return 'hi'\n"
    (objs / "thing.py").write_text(good)
    with LocalEngine(str(objs), str(tmp_path / "data")) as fe:
        assert fe.call("Thing", "t", "hi") == "hi"
        (objs / "thing.py").write_text(good.replace("class Thing", "class Renamed"))
        fe.reload()
        assert [r["state"] for r in fe.instances() if r["name"] == "t"] == ["broken"]  # its class is gone
        (objs / "thing.py").write_text(good)
        assert fe.reload() == []
        row = fe.instance("Thing", "t")
        assert row["state"] != "broken" and row["broken"] is None


@pytest.mark.slow
async def test_s_sorts_only_by_columns_on_screen(facade):
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:  # the list pane shows some of the columns only
        await listed(pilot, app, facade)
        shown = app.main.table.shown_columns()
        assert len(shown) < 10
        seen = set()
        for _ in range(12):
            await pilot.press("s")
            seen.add(app.main.rows.sort_column)
        assert seen <= set(shown) and len(seen) > 1


@pytest.mark.slow
async def test_events_pause_follow_kind_and_find(facade):
    from dotui.tui.screens.find import FindScreen

    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        await listed(pilot, app, facade)
        alice = key_of(facade, "Counter", "alice")
        app.main.go_to(alice)
        await until(pilot, lambda: shown(app) == alice, "alice selected")
        await pilot.press("4")
        view = app.main.object_view.events_view
        await pilot.press("p")  # paused: new events are counted, not shown
        assert not view.following
        facade.call("Counter", "alice", "increment", [7])
        await until(pilot, lambda: view.missed > 0, "events arriving while paused")
        assert "→ 8" not in screen_text(app) and "paused (" in screen_text(app)
        await pilot.press("p")
        await until(pilot, lambda: "→ 8" in screen_text(app), "the missed events, once following again")
        await pilot.press("v")  # only calls
        await until(pilot, lambda: view.kind == "calls", "one kind")
        assert "commit " not in screen_text(app) and "call.finished" in screen_text(app)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, FindScreen), "the find prompt")
        from textual.widgets import Input

        app.screen.query_one(Input).value = "→ 8"
        await pilot.press("enter")
        await until(pilot, lambda: view.search == "→ 8", "the search")
        lines = [line for line in screen_text(app).splitlines() if "call." in line]
        assert lines and all("→ 8" in line for line in lines)


@pytest.mark.slow
async def test_event_lines_wrap_rather_than_being_cut(facade):
    facade.call("ChatRoom", "room", "join", ["someone"])
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        room = key_of(facade, "ChatRoom", "room")
        await until(pilot, lambda: room in app.main.rows.rows, "the room")
        app.main.go_to(room)
        await until(pilot, lambda: shown(app) == room, "room selected")
        await pilot.press("4")
        facade.call("ChatRoom", "room", "join", ["someone else, with a rather long name indeed"])
        await until(pilot, lambda: "indeed" in screen_text(app), "the whole result, wrapped")


async def test_with_connect_the_header_shows_the_url(objects, tmp_path):
    from dotui.server import connect, start_gateway_thread

    local = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60).start()
    gateway = start_gateway_thread(local, "127.0.0.1", 0)
    remote = connect(gateway.url, data=str(tmp_path / "data"))
    try:
        app = make_app(remote)
        async with app.run_test(size=(120, 34)) as pilot:
            await until(pilot, lambda: gateway.url in screen_text(app).splitlines()[0], "the URL in the header")
    finally:
        remote.close()
        gateway.close()
        local.close()


def test_the_gateway_logs_every_request_when_asked(objects, tmp_path):
    from dotui.server import connect
    from dotui.server.cli import start_gateway

    lines: list[tuple] = []
    with LocalEngine(str(objects), str(tmp_path / "data")) as local:
        gw = local.run(start_gateway(local.engine, "127.0.0.1", 0, log=lambda *a: lines.append(a)))
        try:
            import urllib.request

            req = urllib.request.Request(
                gw.url + "/objects/Counter/alice/increment",
                data=b"{}",
                method="POST",
                headers={"Authorization": f"Bearer {gw.token}"},
            )
            with urllib.request.urlopen(req, timeout=10) as resp:  # an object call: the fast path
                assert resp.status == 200
            with connect(gw.url, gw.token) as remote:
                remote.stats()  # the web application
        finally:
            local.run(gw.stop())
    verbs_paths = [(v, p, s) for v, p, s, _ in lines]
    assert ("POST", "/objects/Counter/alice/increment", 200) in verbs_paths
    assert ("GET", "/admin/stats", 200) in verbs_paths


@pytest.mark.slow
def test_dotui_serve_prints_the_request_lines(objects, tmp_path):
    import signal
    import socket

    from dotui.server import connect
    from server_support import GatewayProcess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = GatewayProcess(objects, tmp_path / "data", port, command=("-m", "dotui.cli", "serve", "--log-requests"))
    try:
        with connect(gw.url, data=str(tmp_path / "data")) as remote:
            remote.call("Counter", "bob", "increment")  # POST /admin/call
    finally:
        gw.proc.send_signal(signal.SIGTERM)
        gw.proc.wait(30)
    out = gw.proc.stdout.read()
    gw.proc.stdout.close()
    gw.proc.stderr.close()
    assert any("POST /admin/call 200" in line and line.endswith(" ms") for line in out.splitlines()), out


@pytest.mark.slow
@pytest.mark.parametrize("opened", ["question_mark", "t"])
async def test_t_and_q_work_after_closing_the_help_or_the_tour_picker(objects, tmp_path, opened):
    from dotui.tui.screens.tour import TourScreen

    fresh = LocalEngine(str(objects), str(tmp_path / "fresh"), idle_timeout=600).start()  # no object yet
    try:
        await _t_after_closing(fresh, opened, TourScreen)
    finally:
        fresh.close()


async def _t_after_closing(facade, opened, TourScreen) -> None:
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        await until(pilot, lambda: "Welcome" in screen_text(app), "the welcome")
        await pilot.press(opened)
        await until(pilot, lambda: app.screen is not app.main, "the help or the lesson list")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main, "the main screen again")
        await pilot.press("t")  # the first screen says: t takes the tour
        await until(pilot, lambda: isinstance(app.screen, TourScreen), "the lesson list, not 't' in the filter")
        assert "t" not in app.main.pane.filter_input.value


def test_clear_clears_and_classes_says_what_its_mode_means(objects, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the table whole: at 80 columns its cells are cut, the words with them
    status = main(["--objects", str(objects), "--data", str(tmp_path / "data"), "-c", "clear", "-c", "classes"])
    out = capsys.readouterr().out
    assert status == 0 and "did you mean" not in out
    assert "interleave" in out and "input-gate" not in out  # the mode in words, not its setting


async def test_at_80x24_the_footer_keeps_quit_and_help(facade):
    app = make_app(facade)
    async with app.run_test(size=(80, 24)) as pilot:
        await listed(pilot, app, facade)
        await until(pilot, lambda: "q Quit" in screen_text(app).splitlines()[-1], "q Quit in the footer")
        assert "? Help" in screen_text(app).splitlines()[-1] and "t Tour" in screen_text(app).splitlines()[-1]


async def test_a_broken_object_says_it_is_broken_not_that_nothing_finished(objects, tmp_path):
    from dotui.engine.errors import BrokenObjectError
    from tui_support import write_objects as write_tui_objects

    folder = write_tui_objects(
        tmp_path / "broken_objects",
        """
        from dotui import DurableObject

        class Fragile(DurableObject):
            def __init__(self, ctx, env):
                super().__init__(ctx, env)
                raise RuntimeError("the constructor fails")

            def ping(self) -> int:
                return 1
    """,
    )
    fe = LocalEngine(str(folder), str(tmp_path / "bdata"), idle_timeout=600).start()
    try:
        with pytest.raises(BrokenObjectError):
            fe.call("Fragile", "f", "ping")
        app = make_app(fe)
        async with app.run_test(size=(120, 34)) as pilot:
            key = key_of(fe, "Fragile", "f")
            await until(pilot, lambda: key in app.main.rows.rows, "Fragile/f listed")
            app.main.go_to(key)
            await until(pilot, lambda: "It is broken" in screen_text(app), "why nothing finished")
            assert "none yet since it woke" not in screen_text(app)
    finally:
        fe.close()


def test_the_storage_tab_gives_an_alarms_date_not_only_its_time():
    import datetime as dt
    import time as _time

    from dotui.tui.widgets.object.storage import storage_summary

    now = _time.time()
    due = now + 23 * 3600
    text = storage_summary({"values": {}, "alarm": due}, None, now).plain
    assert dt.datetime.fromtimestamp(due).strftime("%Y-%m-%d %H:%M:%S") in text and "in 23h" in text


async def test_a_failed_call_says_where_in_the_objects_code_it_raised(objects, tmp_path, monkeypatch):
    """The Queue and Events tabs name the file, line and method that raised, as the REPL prints it."""
    from dotui.present.formats import error_line

    monkeypatch.chdir(tmp_path)  # paths are shown from the working folder: objects/account.py
    fe = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600).start()
    try:
        with pytest.raises(ValueError):
            fe.call("Account", "acme", "deposit", [-5])
        line = next(
            i for i, text in enumerate((objects / "account.py").read_text().splitlines(), 1) if "positive int" in text
        )
        where = f"objects/account.py:{line} in deposit"
        assert any(where in error_line(c["error"]) for c in fe.history("Account", "acme") if "error" in c)
        app = make_app(fe)
        async with app.run_test(size=(160, 34)) as pilot:
            key = key_of(fe, "Account", "acme")
            await until(pilot, lambda: key in app.main.rows.rows, "Account/acme listed")
            app.main.go_to(key)
            await until(pilot, lambda: where in screen_text(app).replace("\n", ""), f"'{where}' on the Queue tab")
    finally:
        fe.close()


def test_the_repl_says_where_a_bundled_example_raised(tmp_path, capsys, monkeypatch):
    """The bundled examples are the user's code too: their frames are printed under the error."""
    from conftest import BUNDLED_OBJECTS

    monkeypatch.setenv("COLUMNS", "200")
    status = main(["--data", str(tmp_path / "data"), "--objects", BUNDLED_OBJECTS, "-c", "Account/acme.deposit(-5)"])
    err = capsys.readouterr().err
    assert status == 1 and "account.py:" in err and " in deposit" in err, err
