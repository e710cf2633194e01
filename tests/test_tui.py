"""The TUI, driven as a user would: Pilot presses keys, the tests read what the screen shows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dotui.ops import LocalEngine
from dotui.tui.app import DotuiApp
from dotui.tui.screens.alarm import AlarmScreen
from dotui.tui.screens.help import HelpScreen
from dotui.tui.screens.invoke import InvokeScreen
from dotui.tui.screens.new_object import NewObjectScreen
from dotui.tui.screens.storage_edit import StorageEditScreen
from dotui.tui.widgets.command_bar import CommandBar
from dotui.tui.widgets.instances import InstanceTable
from tui_support import flag_path, key_of, screen_text, shown, until, write_objects

pytestmark = [pytest.mark.tui, pytest.mark.slow]

SIZE = (120, 34)


@pytest.fixture
def objects(tmp_path: Path) -> Path:
    return write_objects(tmp_path / "objects")


@pytest.fixture
def facade(objects: Path, tmp_path: Path):
    fe = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600).start()
    yield fe
    fe.close()


def make_app(facade, **kw) -> DotuiApp:
    kw.setdefault("refresh_interval", 0.05)
    kw.setdefault("watch_files", False)
    return DotuiApp(facade, **kw)


def listed(app, facade, ns: str, name: str) -> bool:
    return key_of(facade, ns, name) in app.main.rows.rows


def state_of(app, facade, ns: str, name: str) -> str | None:
    info = app.main.rows.rows.get(key_of(facade, ns, name))
    return info["state"] if info else None


async def select(pilot, app, facade, ns: str, name: str) -> None:
    key = key_of(facade, ns, name)
    await until(pilot, lambda: key in app.main.rows.rows, f"{ns}/{name} in the instances")
    app.main.go_to(key)
    await until(pilot, lambda: shown(app) == key, f"{ns}/{name} selected")


# ---------------------------------------------------------------- instances pane
async def test_instances_are_listed_and_arrow_keys_select_them(facade):
    for name in ("alice", "bob", "carol"):
        facade.call("Counter", name, "increment", [1])
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, lambda: all(listed(app, facade, "Counter", n) for n in ("alice", "bob", "carol")), "three counters"
        )
        table = app.main.query_one(InstanceTable)
        first = table.selected
        await pilot.press("down")
        await until(pilot, lambda: shown(app) != first, "the selection moving down")
        second = table.selected
        assert second != first
        title = screen_text(app)
        assert f"Counter/{app.main.rows.rows[second]['name']}" in title
        await pilot.press("up")
        await until(pilot, lambda: shown(app) == first, "the selection moving back up")


async def test_queue_tab_shows_finished_calls_with_results(facade):
    facade.call("Counter", "alice", "increment", [5])
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Counter", "alice")
        await until(
            pilot,
            lambda: "increment(5)" in screen_text(app) and "→ 5" in screen_text(app),
            "the finished call increment(5) → 5 in the Queue tab",
        )


async def test_queue_tab_shows_a_suspended_call_and_one_queued_behind_it(facade, tmp_path):
    flag = flag_path(tmp_path, "gate")
    first = facade.call_async("Gate", "g", "wait", [flag])
    second = facade.call_async("Gate", "g", "note", ["after"])
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Gate", "g")
        await until(pilot, lambda: "⏸ suspended" in screen_text(app), "the first call suspended")
        text = screen_text(app)
        assert "Queued (1)" in text and "note('after')" in text
        assert "serial class: waits for" in text
        Path(flag).touch()
        assert await asyncio.wrap_future(first) == "through"
        assert await asyncio.wrap_future(second) == "after"
        await until(pilot, lambda: "→ 'after'" in screen_text(app), "both calls finished")
        assert "nothing running, nothing queued" in screen_text(app)


async def test_filter_as_you_type_and_escape_clears_it(facade):
    for name in ("alice", "bob", "bobby", "carol"):
        facade.call("Counter", name, "increment")
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.main.rows.view()) == 4, "four instances")
        await pilot.press("slash", "b", "o")
        await until(pilot, lambda: len(app.main.rows.view()) == 2, "the filter leaving bob and bobby")
        assert {app.main.rows.rows[k]["name"] for k in app.main.rows.view()} == {"bob", "bobby"}
        await until(pilot, lambda: "Instances 2 of 4" in screen_text(app), "Instances 2 of 4")
        await pilot.press("escape")
        await until(pilot, lambda: len(app.main.rows.view()) == 4, "every instance back")


async def test_sort_by_column_grouping_and_namespace_filter(facade):
    facade.call("Counter", "few", "increment")
    for _ in range(3):
        facade.call("Counter", "many", "increment")
    facade.call("Reminder", "r", "touch")
    app = make_app(facade)
    async with app.run_test(size=(150, 34)) as pilot:  # wide enough for the calls column (s sorts by shown ones)
        rows = app.main.rows

        def names() -> list[str]:
            return [rows.rows[k]["name"] for k in rows.view()]

        await until(pilot, lambda: len(rows.view()) == 3, "three instances")
        assert names()[0] == "r"  # the most recently active first
        for _ in range(10):
            if rows.sort_column == "calls":
                break
            await pilot.press("s")
        assert names()[0] == "many" and "by calls↓" in screen_text(app)
        await pilot.press("S")
        assert names()[-1] == "many" and "by calls↑" in screen_text(app)
        await pilot.press("G")  # grouped by namespace: Counter rows together, before Reminder
        assert [k[0] for k in rows.view()] == ["Counter", "Counter", "Reminder"]
        await pilot.press("g")  # one namespace at a time, in name order
        assert rows.namespace == "Blocker" and names() == []
        while rows.namespace != "Reminder":
            await pilot.press("g")
        assert names() == ["r"]
        await until(pilot, lambda: "ns Reminder" in screen_text(app), "the namespace in the pane title")
        await pilot.press("escape")
        assert rows.namespace is None and len(rows.view()) == 3


# ---------------------------------------------------------------- invoke
async def test_invoke_with_good_and_bad_arguments(facade):
    facade.call("Counter", "alice", "increment", [1])
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Counter", "alice")
        await pilot.press("i")
        await until(
            pilot,
            lambda: isinstance(app.screen, InvokeScreen) and bool(app.screen.query("#invoke-methods")),
            "the invoke dialog, composed",
        )
        dialog = app.screen
        dialog.query_one("#invoke-methods").highlighted = list(dialog.methods).index("increment")
        await pilot.pause()
        await pilot.press("x")  # a bare word is not a literal
        await until(
            pilot,
            lambda: "'x' is not a value" in screen_text(app) and "needs quotes" in screen_text(app),
            "the argument refused, with the fix",
        )
        assert dialog.query_one("#invoke-args").has_class("-invalid")
        await pilot.press("enter")  # refused: nothing is called
        assert not dialog.running
        await pilot.press("backspace", *"true")  # the command language's literals: JSON's true as well as True
        await until(pilot, lambda: "✓ increment(true)" in screen_text(app), "true accepted, as by the REPL")
        await pilot.press(*["backspace"] * 4, "4")
        assert not dialog.query_one("#invoke-args").has_class("-invalid")
        await until(pilot, lambda: "✓ increment(4)" in screen_text(app), "the arguments accepted")
        await pilot.press("enter")
        await until(pilot, lambda: "increment returned" in screen_text(app), "the result")
        assert facade.call("Counter", "alice", "peek") == 5
        # a method that raises: the caller sees the exception's type and message
        dialog.query_one("#invoke-methods").highlighted = list(dialog.methods).index("boom")
        await pilot.pause()
        dialog.query_one("#invoke-args").value = "'no luck'"
        await pilot.press("enter")
        await until(pilot, lambda: "ValueError: no luck" in screen_text(app), "the method's exception")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, InvokeScreen), "the dialog closed")


async def test_methods_tab_lists_signatures_and_enter_invokes(facade):
    facade.call("Counter", "alice", "increment")
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Counter", "alice")
        await pilot.press("3")
        await until(pilot, lambda: "increment(by: int = 1) -> int" in screen_text(app), "the signature")
        assert "Add `by`; returns the count." in screen_text(app)
        app.main.object_view.methods_view.focus()
        await pilot.press("down", "enter")  # boom, then increment
        await until(
            pilot,
            lambda: isinstance(app.screen, InvokeScreen) and bool(app.screen.query("#invoke-methods")),
            "the invoke dialog, composed",
        )
        assert app.screen.method == "increment"


# ---------------------------------------------------------------- lifecycle actions
async def test_hibernate_then_wake(facade):
    facade.call("Counter", "alice", "increment")
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Counter", "alice")
        await until(pilot, lambda: state_of(app, facade, "Counter", "alice") == "live", "alice live")
        assert app.main.enabled("wake") is None  # greyed: it is awake
        await pilot.press("h")
        await until(pilot, lambda: state_of(app, facade, "Counter", "alice") == "hibernated", "alice hibernated")
        await until(pilot, lambda: "○ hibernated" in screen_text(app), "the hibernated glyph in the title")
        assert app.main.enabled("hibernate") is None  # greyed: nothing to hibernate
        assert facade.instance("Counter", "alice")["state"] == "hibernated"
        await pilot.press("w")
        await until(pilot, lambda: state_of(app, facade, "Counter", "alice") == "live", "alice live again")
        assert facade.call("Counter", "alice", "peek") == 1  # storage outlived the Python object


async def test_new_object_by_name_wakes_and_selects_it(facade):
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.main.namespaces), "the namespaces")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewObjectScreen), "the new-object dialog")
        await pilot.press("#")
        await until(pilot, lambda: "cannot start with #" in screen_text(app), "a name starting with # refused")
        await pilot.press("backspace", *"zed", "enter")
        await until(pilot, lambda: not isinstance(app.screen, NewObjectScreen), "the dialog closed")
        ns = app.main.rows.rows and next(iter({k[0] for k in app.main.rows.rows}), None)
        await until(
            pilot,
            lambda: app.main.selected_info is not None and app.main.selected_info["name"] == "zed",
            "zed selected",
        )
        assert app.main.selected_info["state"] == "live"
        assert ns is not None


async def test_alarm_set_and_delete(facade):
    facade.call("Reminder", "r", "touch")
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Reminder", "r")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AlarmScreen), "the alarm dialog")
        await pilot.press(*"soon")
        await until(pilot, lambda: "cannot read 'soon' as a time" in screen_text(app), "'soon' refused")
        app.screen.query_one("#alarm-when").value = "+3600"
        await until(pilot, lambda: "✓ fires at" in screen_text(app), "+3600 accepted")
        await pilot.press("enter")
        await until(pilot, lambda: (app.main.selected_info or {}).get("alarm") is not None, "the alarm in the row")
        assert facade.alarm_get("Reminder", "r") is not None
        await until(pilot, lambda: "in 59m" in screen_text(app) or "in 1h" in screen_text(app), "the alarm column")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AlarmScreen), "the alarm dialog again")
        await pilot.click("#alarm-delete")
        await until(pilot, lambda: (app.main.selected_info or {}).get("alarm") is None, "the alarm gone")
        assert facade.alarm_get("Reminder", "r") is None


async def test_alarm_key_is_greyed_for_a_class_without_alarm_handler(facade):
    facade.call("Counter", "alice", "increment")
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Counter", "alice")
        assert app.main.enabled("alarm") is None
        await pilot.press("a")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, AlarmScreen)


# ---------------------------------------------------------------- storage
async def test_storage_tab_and_editing_a_key(facade):
    facade.call("Counter", "alice", "increment", [3])
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Counter", "alice")
        await pilot.press("2")
        storage = app.main.object_view.storage_view
        await until(pilot, lambda: "n" in storage._rows, "key n in the Storage tab")
        assert storage._rows["n"][0] == 3
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, StorageEditScreen), "the edit dialog")
        dialog = app.screen
        # the highlighted key is offered for editing
        assert dialog.query_one("#edit-key").value == "n" and dialog.query_one("#edit-value").value == "3"
        dialog.query_one("#edit-key").value = "greeting"
        dialog.query_one("#edit-value").value = ""
        dialog.query_one("#edit-value").focus()
        await pilot.press(*"hi")
        await until(pilot, lambda: "'hi' is not a value" in screen_text(app), "unquoted text refused")
        app.screen.query_one("#edit-value").value = "{'text': 'hi', 'tags': [1, 2]}"
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: "greeting" in storage._rows, "the new key after its commit")
        assert storage._rows["greeting"][0] == {"text": "hi", "tags": [1, 2]}
        assert storage._rows["greeting"][1] in ("log", "checkpoint")  # committed: durable
        assert facade.storage_get("Counter", "alice", "greeting") == {"text": "hi", "tags": [1, 2]}
        await until(pilot, lambda: "last commit" in screen_text(app), "the last commit line")


async def test_events_tab_streams_the_objects_events(facade):
    facade.call("Counter", "alice", "increment")
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Counter", "alice")
        await pilot.press("4")
        await asyncio.wrap_future(facade.call_async("Counter", "alice", "increment", [2]))
        await until(
            pilot,
            lambda: "call.finished" in screen_text(app) and "→ 3" in screen_text(app),
            "call.finished → 3 in the Events tab",
        )
        assert "commit" in screen_text(app)


# ---------------------------------------------------------------- command bar, palette, help, reload, quit
async def test_command_bar_runs_registry_commands_with_completion(facade):
    facade.call("Counter", "alice", "increment")
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.main.rows.rows), "an instance")
        await pilot.press("colon")
        bar = app.main.query_one(CommandBar)
        assert bar.display and bar.input.has_focus
        await pilot.press(*"Coun")
        await until(pilot, lambda: bar.completions.display and bar.completions.option_count > 0, "completions")
        await pilot.press("tab")
        assert bar.input.value == "Counter/"
        await pilot.press(*"bob.increment(7)", "enter")
        await until(pilot, lambda: listed(app, facade, "Counter", "bob"), "bob in the instances")
        await until(pilot, lambda: "7" in screen_text(app).split(": Counter/bob.increment(7)")[-1], "the result 7")
        await pilot.press(*"nosuch", "enter")
        await until(pilot, lambda: "unknown command" in screen_text(app), "the error for a bad command")
        await pilot.press("escape")
        assert not bar.display


async def test_palette_offers_the_actions(facade):
    facade.call("Counter", "alice", "increment")
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Counter", "alice")
        names = [name for name, _, _ in app.main.palette_commands()]
        assert "Hibernate Counter/alice" in names and "Reload the objects folder" in names
        assert not any(n.startswith("Wake") for n in names)  # alice is awake
        await pilot.press("ctrl+p")
        await pilot.press(*"hibernate counter")
        await until(pilot, lambda: "Hibernate Counter/alice" in screen_text(app), "the palette hit")
        await pilot.press("enter")
        await until(pilot, lambda: state_of(app, facade, "Counter", "alice") == "hibernated", "alice hibernated")


async def test_help_explains_glyphs_and_gates(facade):
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        await until(pilot, lambda: "on disk only" in screen_text(app), "what hibernated means")
        await pilot.press("pagedown")  # the model comes first, then states, then the gates
        await until(pilot, lambda: "why a result can arrive" in screen_text(app), "what the output gate does")
        await pilot.press("end")
        await until(pilot, lambda: "closes this help" in screen_text(app), "the end of the help")
        for _ in range(5):  # the keys come in the footer's order: t, ? and q first, a page or so up from the end
            if "quit after a clean flush" in screen_text(app):
                break
            await pilot.press("pageup")
            await pilot.pause(0.2)
        await until(pilot, lambda: "quit after a clean flush" in screen_text(app), "the keys, further up")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "the help closed")


async def test_reload_by_key_and_when_a_file_is_saved(facade, objects):
    facade.call("Counter", "alice", "increment")
    app = make_app(facade, watch_files=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await select(pilot, app, facade, "Counter", "alice")
        await pilot.press("3")
        source = (objects / "tui_objects.py").read_text()
        new = source.replace(
            "    def peek(self) -> int:",
            '    def double(self) -> int:\n        """Twice the count."""\n'
            '        return 2 * self.ctx.storage.get("n", 0)\n\n    def peek(self) -> int:',
        )
        await pilot.pause(1.1)  # the file watcher has taken its first look
        (objects / "tui_objects.py").write_text(new)
        await until(pilot, lambda: "double() -> int" in screen_text(app), "the new method after the save")
        assert facade.call("Counter", "alice", "double") == 2
        await pilot.press("r")
        await until(pilot, lambda: "reloaded" in screen_text(app), "the reload notice")


async def test_quit_flushes_and_leaves_the_engine_to_its_owner(facade, objects, tmp_path):
    facade.call("Counter", "alice", "increment", [2])
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.main.rows.rows), "an instance")
        await pilot.press("q")
        await until(pilot, lambda: app.return_value is not None, "the app exiting")
    assert app.return_value == 0
    assert facade.stats()["commits_pending"] == 0  # every write durable before the app exits
    assert facade.call("Counter", "alice", "peek") == 2  # still open: cli.main (its owner) closes it
    facade.close()
    # the data folder was released (a second engine may open it) and the write is there
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600) as again:
        assert again.call("Counter", "alice", "peek") == 2


async def test_quit_typed_in_the_command_bar_flushes_and_exits(facade):
    facade.call("Counter", "alice", "increment", [2])
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.main.rows.rows), "an instance")
        await pilot.press("colon", *"quit", "enter")
        await until(pilot, lambda: app.return_value is not None, "the app exiting")
    assert app.return_value == 0
    assert facade.stats()["commits_pending"] == 0  # every write durable before the app exits


# ---------------------------------------------------------------- responsiveness
async def test_keys_answered_while_a_method_blocks_the_engine(facade, tmp_path):
    facade.call("Counter", "alice", "increment")
    facade.call("Counter", "bob", "increment")
    flag = flag_path(tmp_path, "block")
    app = make_app(facade, busy_after=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.main.rows.view()) == 2, "two counters")
        blocked = facade.call_async("Blocker", "b", "block", [flag])
        await until(pilot, lambda: "Blocker/b.block is blocking" in screen_text(app), "the blocking method named")
        # the engine cannot answer, the screen still does
        await pilot.press("slash", *"bob")
        await until(pilot, lambda: len(app.main.rows.view()) == 1, "the filter applied")
        await pilot.press("escape", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help opened")
        await pilot.press("escape")
        Path(flag).touch()
        assert await asyncio.wrap_future(blocked) == "unblocked"
        await until(pilot, lambda: "is blocking" not in screen_text(app), "the busy line gone")
        await until(pilot, lambda: listed(app, facade, "Blocker", "b"), "the blocker listed once it answered")


async def test_selection_follows_its_object_when_rows_reorder(facade):
    for name in ("a", "b", "c"):
        facade.call("Counter", name, "increment")
    app = make_app(facade)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, facade, "Counter", "a")
        key = key_of(facade, "Counter", "a")
        for name in ("x", "y"):  # newer activity goes on top, pushing "a" down
            facade.call("Counter", name, "increment")
            await until(pilot, lambda name=name: listed(app, facade, "Counter", name), f"{name} listed")
        assert app.main.selected == key and app.main.rows.index_of(key) == app.main.table.cursor
        await until(pilot, lambda: "Counter/a" in screen_text(app), "Counter/a")


async def test_closing_the_invoke_dialog_does_not_cancel_the_call(facade, tmp_path):
    flag = flag_path(tmp_path, "slow")
    facade.call("Gate", "g", "note", ["start"])
    app = make_app(facade)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await select(pilot, app, facade, "Gate", "g")
        await pilot.press("i")
        await until(
            pilot,
            lambda: isinstance(app.screen, InvokeScreen) and bool(app.screen.query("#invoke-methods")),
            "the invoke dialog, composed",
        )
        dialog = app.screen
        dialog.query_one("#invoke-methods").highlighted = list(dialog.methods).index("wait")
        await pilot.pause()  # each method keeps its own arguments: type them once it is chosen
        dialog.query_one("#invoke-args").value = repr(flag)
        await pilot.press("enter")
        await until(pilot, lambda: dialog.running, "the call running")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, InvokeScreen), "the dialog closed")
        await until(pilot, lambda: "⏸ suspended" in screen_text(app), "the call still suspended in the Queue tab")
        Path(flag).touch()
        await until(
            pilot,
            lambda: 'returned "through"' in screen_text(app),
            "the result as the REPL prints it, told after the dialog closed",
        )
        await until(
            pilot,
            lambda: any(c.get("result") == "through" for c in (app.main.detail.history or [])),
            "the call finished in the Queue tab",
        )


async def test_the_header_at_80x24_names_the_objects_folder_whole(tmp_path, monkeypatch):
    """At 80 columns the folders get the sparkline's room: the objects folder by its last two names, not 'ob…'
    (dotui started in an empty folder, on the examples inside the installed package)."""
    objects = write_objects(tmp_path / "site-packages" / "dotui" / "examples" / "objects")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with LocalEngine(str(objects), ".dotui", idle_timeout=600) as fe:
        app = make_app(fe)
        async with app.run_test(size=(80, 24)) as pilot:
            want = "data .dotui  objects examples/objects"
            await until(
                pilot,
                lambda: want in screen_text(app).splitlines()[0] and "pending 0" in screen_text(app).splitlines()[0],
                want + ", then the counts",
            )
            first = screen_text(app).splitlines()[0]
            assert "pending 0" in first and "/s" in first and "…" not in first


async def test_the_header_at_120x34_names_the_objects_folder_whole_while_an_object_is_busy(tmp_path, monkeypatch):
    """With a call running the counts grow by '◉ 1 busy': at 120 columns the objects folder was cut
    ('objects examples…'); the row gives up the word dotui and the 'calls/s' label first."""
    objects = write_objects(tmp_path / "site-packages" / "dotui" / "examples" / "objects")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    flag = flag_path(tmp_path, "busy")
    with LocalEngine(str(objects), ".dotui", idle_timeout=600) as fe:
        app = make_app(fe)
        async with app.run_test(size=SIZE) as pilot:
            fe.call_async("Gate", "g", "wait", [flag])
            want = "objects examples/objects"
            await until(pilot, lambda: "1 busy" in screen_text(app).splitlines()[0], "the busy count in the header")
            await until(pilot, lambda: want in screen_text(app).splitlines()[0], want + " beside the busy count")
            first = screen_text(app).splitlines()[0]
            assert "pending 0" in first and "…" not in first, first
            Path(flag).touch()


@pytest.mark.parametrize("size", [(120, 34), (80, 24)])
async def test_the_footer_shows_what_fits_and_quit_always(facade, size):
    """At 120 columns the footer names a (alarm) and r (reload) too; at 80 it shows only the keys that fit
    whole, never one cut in half ('Cm'), and q Quit among them."""
    app = make_app(facade)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: "Quit" in screen_text(app).splitlines()[-1], "the footer")
        await pilot.pause(0.2)
        last = screen_text(app).splitlines()[-1]
        labels = ("Tour", "Help", "Quit", "Filter", "Invoke", "New", "Hibernate", "Wake", "Alarm", "Reload", "Cmd")
        words = last.replace("▏", " ").split()
        assert all(len(w) == 1 or w in labels or w in ("^p", "palette") for w in words), last
        if size[0] >= 120:
            assert "a Alarm" in last and "r Reload" in last, last
