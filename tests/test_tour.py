"""The guided tour: every lesson runs on the bundled objects, headless and in the TUI, and checks what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from dotui.cli import main
from dotui.commands import Context, execute
from dotui.ops import LocalEngine
from dotui.tour import LESSONS, lesson_named
from dotui.tour.headless import LineNarrator, run_lessons
from dotui.tui.app import DotuiApp
from dotui.tui.screens.tour import TourScreen
from tui_support import key_of, screen_text, shown, until


@pytest.fixture
def facade(objects: Path, tmp_path: Path):
    fe = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=1.0).start()
    yield fe
    fe.close()


@pytest.mark.slow
def test_every_lesson_narrates_what_the_engine_does(facade):
    lines: list[tuple[str, str]] = []
    ran = run_lessons(facade, LESSONS, LineNarrator(lambda kind, text: lines.append((kind, text))))
    failed = [(lesson.key, c) for lesson, checks in ran for c in checks if not c.ok]
    assert failed == []
    assert {lesson.key for lesson, checks in ran if checks} == {x.key for x in LESSONS}
    said = "\n".join(text for _, text in lines)
    assert "LOST UPDATE" in said and "released by commit 1" in said
    assert "hibernated→waking" in said  # the alarm woke a hibernated object


def test_a_lesson_can_be_replayed_on_its_own_objects(facade):
    for _ in range(2):
        ran = run_lessons(
            facade, [lesson_named("one-instance"), lesson_named("transactions")], LineNarrator(lambda kind, text: None)
        )
        assert all(c.ok for _, checks in ran for c in checks)


def test_check_fails_when_the_engine_does_not_do_what_a_lesson_says(objects, tmp_path, capsys):
    # An Interleave whose racy bump does not await cannot lose an update: the lesson's claim must fail.
    path = objects / "interleave.py"
    wait = "        while not self.ctx.storage.get(key):\n            await asyncio.sleep(0.02)\n"
    write = '        self.ctx.storage.put("n", n + 1)\n'
    source = path.read_text()
    assert wait + write in source
    path.write_text(source.replace(wait + write, write + wait, 1))
    status = main(["--objects", str(objects), "tour", "--check", "--lesson", "interleaving"])
    out = capsys.readouterr().out
    assert status == 1
    assert [line for line in out.splitlines() if line.lstrip().startswith("✗")]


@pytest.mark.slow
def test_tour_check_passes_on_the_bundled_objects(objects, capsys):
    status = main(["--objects", str(objects), "tour", "--check"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"claims checked out in {len(LESSONS)} lessons, each stepped forward and back" in out
    assert "claims held" not in out  # "held" is the output gate's word
    assert not [line for line in out.splitlines() if line.lstrip().startswith("✗")]


@pytest.mark.slow
def test_the_command_language_lists_and_runs_lessons(facade):
    listing = execute(Context(facade), "tour")
    assert [x["key"] for x in listing.result["lessons"]] == [x.key for x in LESSONS]
    ran = execute(Context(facade), "tour input-gate")
    assert ran.ok and ran.result["passed"] and ran.result["lessons_run"] == ["input-gate"]
    bad = execute(Context(facade), "tour nope")
    assert not bad.ok and "nope" in bad.error.message and "addressing" in bad.error.message


@pytest.mark.slow
def test_a_lesson_run_at_the_prompt_runs_every_step_and_passes(facade):
    """At the REPL's prompt (interactive) each step dwells a moment, then the lesson moves on to the next."""
    slept: list[float] = []
    ran = execute(Context(facade, interactive=True, sleep=slept.append), "tour input-gate")
    assert ran.ok and ran.result["passed"], ran.result["checks"]
    steps = len(lesson_named("input-gate").steps)
    assert len(slept) == steps and all(0 < s <= 1.5 for s in slept)  # a dwell at every step


def test_commit_delay_holds_results_until_the_commit(facade):
    facade.commit_delay(0.5)
    fut = facade.call_async("Counter", "slow", "increment")
    with pytest.raises(ValueError):
        facade.commit_delay(-1)
    assert fut.result(5) == 1
    assert facade.history("Counter", "slow", 1)[0]["held_time"] >= 0.3  # held by the gate for the slow commit
    facade.commit_delay(0)


# ---------------------------------------------------------------- in the TUI
@pytest.mark.slow
async def test_t_runs_a_lesson_beside_what_it_points_at(facade):
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False, tour_dwell=0.0, tour_auto=True)
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TourScreen), "the lesson list")
        await until(pilot, lambda: "block_concurrency_while" in screen_text(app), "block_concurrency_while")
        for _ in range(2):  # addressing is highlighted first; interleaving is the third lesson
            await pilot.press("down")
        await pilot.press("enter")
        main_screen = app.main
        await until(pilot, lambda: main_screen.tour.checks, "the lesson finishing", timeout=60)
        key, checks = main_screen.tour.checks[0]
        assert key == "interleaving" and all(c.ok for c in checks)
        await until(
            pilot,
            lambda: all(w in screen_text(app) for w in ("LOST UPDATE", f"Tour 3/{len(LESSONS)}", "claims checked out")),
            "the lesson's verdict beside the lost update",
        )
        race = key_of(facade, "Interleave", "tour-race")
        await until(pilot, lambda: shown(app) == race, "the lesson's object selected")
        assert main_screen.object_view.active_tab == "queue"


# ---------------------------------------------------------------- the first screen
@pytest.mark.slow
async def test_the_first_screen_teaches_and_goes_once_there_is_an_object(facade):
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=(120, 34)) as pilot:
        await until(
            pilot,
            lambda: "Welcome" in screen_text(app) and "Interleave" in screen_text(app),
            "the welcome with the classes",
        )
        text = screen_text(app)
        assert "A durable object is" in text and "take the tour" in text
        assert "the input gate" in text and "storage outlives the Python object" in text  # what each class teaches
        facade.call("Counter", "first", "increment")
        app.main.kick(full=True)
        await until(
            pilot,
            lambda: "Welcome" not in screen_text(app) and "first" in screen_text(app),
            "the instances instead of the welcome",
        )


@pytest.mark.slow
async def test_the_welcome_shows_a_lost_update_happen_before_any_key(facade):
    """The first aha without reading a page: two racy calls held at their await, then their lost update, on the
    engine, in the welcome itself (at 80x24, the keys still in view); the demo's object is not the user's."""
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "⏸ ⏸ both calls read n = 0" in screen_text(app), "both calls held at the await")
        await until(pilot, lambda: "LOST UPDATE" in screen_text(app), "the lost update", timeout=60)
        text = screen_text(app)
        assert "Welcome" in text and "take the tour" in text
        assert facade.call("Interleave", "welcome-race", "peek") == 1  # it happened on the engine: 2 bumps, n = 1
        app.main.kick(full=True)
        await pilot.pause(0.3)
        assert "Welcome" in screen_text(app)  # the demo's own object does not end the welcome


@pytest.mark.slow
async def test_the_new_object_dialog_says_what_the_class_teaches(facade):
    from textual.widgets import Select

    from dotui.tui.screens.new_object import NewObjectScreen

    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=(120, 34)) as pilot:
        await until(pilot, lambda: app.main.namespaces, "the classes")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewObjectScreen), "the new-object dialog")
        await until(
            pilot,
            lambda: "teaches: each object is its own unit of consistency" in screen_text(app),
            "Account's lesson, first",
        )  # Account, first
        app.screen.query_one(Select).value = "Interleave"
        await until(pilot, lambda: "teaches: the input gate" in screen_text(app), "Interleave's lesson")


@pytest.mark.slow
async def test_help_starts_with_the_model(facade):
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: "The model" in screen_text(app), "the help")
        text = screen_text(app)
        assert "one call at a time" in text and text.index("The model") < text.index("hibernation")


@pytest.mark.slow
async def test_the_queue_tab_lists_the_results_the_output_gate_holds(facade):
    facade.call("Counter", "slow", "increment")
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=(120, 34)) as pilot:
        key = key_of(facade, "Counter", "slow")
        await until(pilot, lambda: key in app.main.rows.rows, "the counter")
        app.main.go_to(key)
        await until(pilot, lambda: shown(app) == key, "selected")
        facade.commit_delay(3)
        try:
            futures = [facade.call_async("Counter", "slow", "increment") for _ in range(3)]
            await until(
                pilot,
                lambda: screen_text(app).count("⧗ held") >= 2 and "increment()" in screen_text(app),
                "the held calls in the Queue tab",
            )
            assert "Running, and results held" in screen_text(app)
        finally:
            facade.commit_delay(0)
        assert sorted(f.result(10) for f in futures) == [2, 3, 4]


# ---------------------------------------------------------------- stepping, in the TUI
@pytest.mark.slow
async def test_a_lesson_waits_at_its_held_result_and_steps_forward_and_back(facade):
    """The output-gate lesson stops at its 10 held results; they stay held on the engine until →; ← runs the
    lesson again up to the held results; T ends the tour and the panel goes."""
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False, tour="output-gate")
    async with app.run_test(size=(120, 34)) as pilot:
        main_screen = app.main
        await until(
            pilot,
            lambda: "waiting for you" in screen_text(app) and "step 1/3" in screen_text(app),
            "the first step, waiting",
        )
        await pilot.press("right")
        await until(
            pilot,
            lambda: "10 results held" in screen_text(app) and "waiting for you" in screen_text(app),
            "the held results, waiting",
            timeout=60,
        )
        gate = key_of(facade, "Counter", "tour-gate")
        await pilot.pause(1.0)  # held by the commit the lesson holds, not by a dwell: nothing moves on its own
        assert [c for c in facade.history("Counter", "tour-gate", 20) if c["method"] == "increment"] == []
        await until(pilot, lambda: "⧗ held" in screen_text(app), "⧗ in the Queue tab")
        assert main_screen.shown == gate
        await pilot.press("right")
        await until(pilot, lambda: "released by commit 1" in screen_text(app), "the results released", timeout=60)
        assert facade.call("Counter", "tour-gate", "peek") == 10
        await pilot.press("left")
        await until(
            pilot,
            lambda: "10 results held" in screen_text(app) and "step 2/3" in screen_text(app),
            "back at the held results, run again on the engine",
            timeout=60,
        )
        await pilot.press("T")
        await until(pilot, lambda: not main_screen.tour_panel.display, "the panel gone with the tour")
        # stopped at the hold: the commit it held goes on, and later ones are at disk speed again
        assert facade.call_async("Counter", "tour-gate", "increment").result(10) == 11


def test_the_repls_tour_names_commands_not_tabs_and_wraps_at_words(facade):
    import io

    from rich.console import Console

    from dotui.present.render import Renderer

    out = io.StringIO()
    renderer = Renderer(Console(file=out, width=60, color_system=None))
    ctx = Context(facade, on_event=renderer.event)
    ran = execute(ctx, "tour output-gate")
    assert ran.ok and ran.result["passed"]
    text = out.getvalue()
    assert "see it: queue Counter/tour-gate" in text and " tab" not in text.lower()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 60
    said = " ".join(text.split())
    for step in lesson_named("output-gate").steps:
        assert " ".join(step.say.split()) in said  # every word whole: the lines break between words


def _closing_and_stop(objects: str, data: Path) -> tuple[str, str | None]:
    """The reload lesson's closing words on the workspace ``objects``, and how its first step fails there (if)."""
    from dotui.tour.script import run_lesson

    with LocalEngine(objects, str(data), idle_timeout=5.0) as fe:
        try:
            run_lesson(fe, lesson_named("reload"), LineNarrator(lambda kind, text: None), 1, 1)
        except RuntimeError as exc:
            return lesson_named("reload").closing_for(fe), str(exc)
        return lesson_named("reload").closing_for(fe), None


def test_the_reload_lesson_names_a_file_the_learners_workspace_has(tmp_path, monkeypatch):
    from dotui.examples import OBJECTS as BUNDLED
    from dotui.scaffold import init

    monkeypatch.chdir(tmp_path)
    closing, stop = _closing_and_stop(BUNDLED, tmp_path / "d1")  # a wheel's dotui, started where there is nothing
    assert stop is None and "bundled examples" in closing and "dotui init myproject" in closing
    assert "edit any file" not in closing  # a file inside the installed package is no learner's to edit

    init(str(tmp_path / "mine"))  # a project of the learner's own
    closing, stop = _closing_and_stop(str(tmp_path / "mine" / "objects"), tmp_path / "d2")
    assert stop is None and f"edit {Path('mine', 'objects', 'counter.py')} and save" in closing

    init(str(tmp_path / "edge"), workers=True)  # a wrangler project: its classes are the ones it binds
    wrangler = next(p for p in (tmp_path / "edge").iterdir() if p.name.startswith("wrangler"))
    closing, stop = _closing_and_stop(str(wrangler), tmp_path / "d3")
    assert stop is not None and "wrangler project" in stop and "dotui tour --lesson reload" in stop
    assert f"edit {Path('edge', 'src')}" in closing and "objects folder" not in closing


def test_lesson_two_shows_the_calls_waiting_in_the_rooms_queue(facade):
    """While the learner reads the step, the room's queue really holds the 20 posts, not yet run."""
    from dotui.tour.script import run_lesson

    seen: list[list[tuple[str, str]]] = []

    def emit(kind: str, text: str) -> None:
        if kind == "result" and "wait in the room's queue" in text:  # the step shown; its state held
            seen.append([(c["method"], c["status"]) for c in facade.queue("ChatRoom", "tour-lobby")])

    checks = run_lesson(facade, lesson_named("one-instance"), LineNarrator(emit))
    assert all(c.ok for c in checks), [c.problem for c in checks if not c.ok]
    assert len(seen) == 1 and seen[0].count(("post", "queued")) == 20 and seen[0][0][0] == "announce"
    assert facade.storage_get("ChatRoom", "tour-lobby", "seq") == 21  # then every post ran


def test_the_reload_lesson_holds_when_the_learner_reads_past_the_idle_timeout(facade):
    """The learner reads step 1 longer than the idle timeout (1 s here, 10 s by default): the object has
    hibernated by the time they move on, and the reload must still drain a live object, as step 2 says."""
    import time as _time

    from dotui.tour import run_lesson

    lines: list[str] = []
    narrator = LineNarrator(lambda kind, text: lines.append(text), wait=lambda s: _time.sleep(2.5))
    checks = run_lesson(facade, lesson_named("reload"), narrator)
    assert all(c.ok for c in checks), lines


async def _shown_at_80x24(facade, lesson: str, presses: tuple[str, ...], wanted: str) -> None:
    """Lesson ``lesson`` at 80x24: once it waits for the learner, ``presses``, then ``wanted`` on screen."""
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False, tour=lesson)
    async with app.run_test(size=(80, 24)) as pilot:
        try:
            await until(pilot, lambda: "→ next step" in screen_text(app), "how to move on, on screen", timeout=60)
            for key in presses:
                await pilot.press(key)
            await until(pilot, lambda: wanted in screen_text(app), wanted, timeout=60)
        finally:
            app.main.tour.stop()  # the lesson's thread ends with the test, whatever it found


@pytest.mark.slow
async def test_at_80x24_the_tour_panel_says_how_to_move_on(facade):
    """At 80x24 the panel is a few lines high: the line with → next step was its last, and was cut."""
    await _shown_at_80x24(facade, "websockets", (), "2 sockets open")


@pytest.mark.slow
async def test_at_80x24_the_tour_panel_shows_the_steps_own_result(facade):
    """The panel showed the step before's result above this one's, and at 80x24 this one's was cut."""
    await _shown_at_80x24(facade, "output-gate", ("right",), "10 results held")


TUI_WORDS = (" tab", "(i)", "(3)", "(:)", "command bar", "dialog", "selected", " n makes", "Enter on one", "TUI")


def test_the_repls_tour_closes_in_commands_not_tui_keys(facade):
    """Each lesson's last words in the REPL name commands the REPL takes: they spoke of the invoke dialog (i),
    Methods (3), the selected object and the command bar, which the REPL has none of; and they wrap between
    words (they were printed for the terminal to cut)."""
    import io
    import re

    from rich.console import Console

    from dotui.commands import REGISTRY
    from dotui.present.render import Renderer

    for lesson in LESSONS:
        said = lesson.closing_for(facade, commands=True)
        assert said and not [w for w in TUI_WORDS if w in said], (lesson.key, said)
        assert lesson.closing_for(facade) != said or "Explore" not in said, lesson.key
        words = said.replace(";", " ").replace(",", " ").split()
        named = [w for w in words if w in REGISTRY.commands or re.match(r"\w+/[\w#-]+\.\w+\(", w)]
        assert named, f"{lesson.key}: no command or call named in {said!r}"
    out = io.StringIO()
    Renderer(Console(file=out, width=60, color_system=None)).tour(
        {
            "lines": [],
            "closing": [lesson_named("reload").closing_for(facade, commands=True)],
            "checks": [],
            "passed": True,
        }
    )
    assert max(len(line) for line in out.getvalue().splitlines()) <= 60


@pytest.mark.slow
async def test_the_input_gate_lesson_waits_with_its_gate_held(facade):
    """Lesson 4 stops with the input gate held and the second call waiting outside it, for as long as the
    learner reads (it showed the gate only while two 1 s bumps ran, then moved on); → lets them go on."""
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False, tour="input-gate")
    async with app.run_test(size=(120, 34)) as pilot:
        await until(
            pilot,
            lambda: "input gate held (⊘)" in screen_text(app) and "waiting for you" in screen_text(app),
            "the held gate, waiting",
            timeout=60,
        )
        await until(pilot, lambda: "⊘ input gate held" in screen_text(app), "⊘ in the Queue tab")
        await pilot.pause(1.5)  # held by the lesson, not by a sleep: nothing moves on its own
        row = facade.instance("Interleave", "tour-gate")
        assert row["gate_held"] and row["queued"] == 1, row
        await pilot.press("right")
        await until(pilot, lambda: "nothing lost" in screen_text(app), "both bumps done", timeout=60)
        assert facade.call("Interleave", "tour-gate", "peek") == 2
        await pilot.press("T")
        await until(pilot, lambda: not app.main.tour_panel.display, "the panel gone with the tour")


async def test_the_lesson_picker_indents_every_wrapped_line_at_80x24(facade):
    """What a lesson teaches wraps under its title, indented on every line: the wrapped lines went back to the
    margin, under the lesson's number."""
    app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "Tour" in screen_text(app).splitlines()[-1], "the footer")
        await pilot.press("t")
        await until(pilot, lambda: "2. One instance per id" in screen_text(app), "the lesson list")
        lines = screen_text(app).splitlines()
        first = next(i for i, line in enumerate(lines) if "1. Addressing" in line)
        second = next(i for i, line in enumerate(lines) if "2. One instance per id" in line)
        title_at = lines[first].index("1.")
        under = lines[first + 1 : second]
        assert len(under) >= 2, under  # it wraps at 80 columns
        assert all(line[title_at : title_at + 3] == "   " and line[title_at + 3] != " " for line in under), under
