"""The invoke dialog: many calls at a keypress, arguments bound against the signature, each method its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from dotui.ops import LocalEngine
from dotui.tui.app import DotuiApp
from dotui.tui.screens.invoke import InvokeScreen
from tui_support import flag_path, key_of, screen_text, shown, until, write_objects

pytestmark = [pytest.mark.tui, pytest.mark.slow]


@pytest.fixture
def facade(tmp_path: Path):
    fe = LocalEngine(str(write_objects(tmp_path / "objects")), str(tmp_path / "data"), idle_timeout=600).start()
    yield fe
    fe.close()


async def open_invoke(pilot, app, facade, ns: str, name: str, method: str) -> InvokeScreen:
    key = key_of(facade, ns, name)
    await until(pilot, lambda: key in app.main.rows.rows, f"{ns}/{name} listed")
    app.main.go_to(key)
    await until(pilot, lambda: shown(app) == key, "selected")
    await pilot.press("i")
    await until(
        pilot,
        lambda: isinstance(app.screen, InvokeScreen) and bool(app.screen.query("#invoke-methods")),
        "the invoke dialog, composed",
    )
    dialog = app.screen
    dialog.query_one("#invoke-methods").highlighted = list(dialog.methods).index(method)
    await pilot.pause()
    return dialog


def make_app(facade) -> DotuiApp:
    return DotuiApp(facade, refresh_interval=0.05, watch_files=False)


async def test_times_n_starts_n_calls_at_once(facade):
    facade.call("Counter", "c", "increment")
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        dialog = await open_invoke(pilot, app, facade, "Counter", "c", "increment")
        dialog.query_one("#invoke-times").value = "5"
        dialog.query_one("#invoke-args").focus()
        await pilot.press("enter")
        await until(pilot, lambda: "×5 increment() at once: 5 returned" in screen_text(app), "the five results")
        assert facade.call("Counter", "c", "peek") == 6


async def test_enter_calls_again_while_earlier_calls_run(facade, tmp_path):
    flag = flag_path(tmp_path, "hold")
    facade.call("Gate", "g", "note", ["start"])
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        dialog = await open_invoke(pilot, app, facade, "Gate", "g", "wait")
        dialog.query_one("#invoke-args").value = repr(flag)
        await pilot.press("enter")
        await until(pilot, lambda: dialog.running, "the first call running")
        await pilot.press("enter")  # not refused: a second caller queues behind the first
        await until(pilot, lambda: len(dialog._in_flight) == 2, "two calls in flight")
        await until(pilot, lambda: "1 earlier call still running" in screen_text(app), "1 earlier call still running")
        Path(flag).touch()
        await until(pilot, lambda: not dialog.running, "both calls returned")
        await until(pilot, lambda: "wait returned" in screen_text(app), "the result")


async def test_arguments_are_bound_against_the_signature(facade):
    facade.call("Counter", "c", "increment")
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        dialog = await open_invoke(pilot, app, facade, "Counter", "c", "peek")
        await pilot.press("2", "0")  # peek() takes nothing: peek(20) would raise TypeError in the object
        await until(pilot, lambda: "✗ too many positional arguments" in screen_text(app), "peek(20) refused")
        await pilot.press("enter")
        assert not dialog.running and facade.history("Counter", "c", 5)[-1]["method"] == "increment"


async def test_an_argument_of_the_wrong_type_is_refused_as_you_type(facade):
    facade.call("Counter", "c", "increment")
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        dialog = await open_invoke(pilot, app, facade, "Counter", "c", "increment")
        dialog.query_one("#invoke-args").value = '"five"'  # increment(by: int = 1): 'five' would fail in the object
        await until(pilot, lambda: "✗ by expects int; 'five' is a str" in screen_text(app), "'five' refused")
        assert "✓" not in screen_text(app)
        await pilot.press("enter")
        assert not dialog.running and [c["method"] for c in facade.history("Counter", "c", 5)] == ["increment"]
        dialog.query_one("#invoke-args").value = "by=5"
        await until(pilot, lambda: "✓ increment(by=5)" in screen_text(app), "an int accepted")


async def test_each_method_keeps_its_own_arguments_and_check(facade):
    facade.call("Counter", "c", "increment")
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        dialog = await open_invoke(pilot, app, facade, "Counter", "c", "increment")
        await pilot.press("4")
        await until(pilot, lambda: "✓ increment(4)" in screen_text(app), "increment(4)")
        await pilot.press("down")  # to the next method: its own (empty) arguments, its own check line
        await until(pilot, lambda: dialog.method != "increment", "another method")
        assert dialog.query_one("#invoke-args").value == ""
        await until(pilot, lambda: "increment(4)" not in screen_text(app), "no increment(4)")
        await pilot.press("up")
        await until(pilot, lambda: dialog.query_one("#invoke-args").value == "4", "increment's 4 back")


async def test_the_result_box_has_room_at_80x24(facade):
    facade.call("Counter", "c", "increment")
    app = make_app(facade)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_invoke(pilot, app, facade, "Counter", "c", "increment")
        await pilot.press("enter")
        await until(pilot, lambda: "increment returned" in screen_text(app), "the result shown")
        assert dialog.query_one("#invoke-result-box").size.height >= 3


def test_plain_annotations_are_checked_and_any_other_accepts_anything():
    from dotui.present.signature import bind_check

    assert bind_check("(by: int = 1) -> int", [2.5], {}) == "by expects int; 2.5 is a float"
    assert bind_check("(by: int = 1) -> int", [True], {}) is None  # as Python has it: True is an int
    assert bind_check("(x: float, y: str | None = None)", [1], {"y": None}) is None  # an int is a float's value
    assert bind_check("(x: Optional[str] = None)", [3], {}) == "x expects Optional[str]; 3 is an int"
    assert bind_check("(x: list[int])", [[1, 2]], {}) is None and bind_check("(x: 'int')", ["a"], {})
    assert bind_check("(x: Point, *rest: int, **kw: str)", [object(), "a"], {"k": 1}) is None  # not checked


def shadowed(node: object) -> list[str]:
    """The public methods of ``node``'s class that one of its own attributes hides (``self.batch = ...``
    on a widget hides Textual's ``Widget.batch``, which Textual calls when it recomposes)."""
    cls = type(node)
    return [
        f"{cls.__name__}.{name}"
        for name, value in vars(node).items()
        if not name.startswith("_") and callable(getattr(cls, name, None)) and not callable(value)
    ]


async def test_no_screen_or_widget_hides_a_textual_method_and_the_dialog_recomposes(facade):
    facade.call("Counter", "c", "increment")
    app = make_app(facade)
    async with app.run_test(size=(120, 34)) as pilot:
        dialog = await open_invoke(pilot, app, facade, "Counter", "c", "increment")
        nodes = [node for screen in app.screen_stack for node in (screen, *screen.walk_children())]
        assert [name for node in nodes for name in shadowed(node)] == []
        await dialog.recompose()  # Textual's: it batches the screen's updates (Widget.batch)
        await until(pilot, lambda: "Invoke Counter/c" in screen_text(app), "the dialog, composed again")
