"""The REPL driven through a pipe (create_pipe_input + DummyOutput), and its rendering."""

from __future__ import annotations

import io
import re
import threading
import time

import pytest
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from dotui.commands import Context, execute
from dotui.ops import LocalEngine
from dotui.repl import Renderer, Repl, history_for, make_console
from dotui.repl.prompt import EventPrinter, PromptCompleter, Status
from fixture_objects import COUNTER, objects_source

OBJECTS = objects_source(
    COUNTER,
    """
    class Pinger(DurableObject):
        async def alarm(self, info):
            self.ctx.storage.put("fired", True)
""",
)

WAIT = 30.0  # a safeguard against a hung test, not a measurement


@pytest.fixture
def facade(tmp_path):
    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "counter.py").write_text(OBJECTS)
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60) as f:
        yield f


def wait_for(condition, what):
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def drive(facade, steps, **options):
    """Run a REPL; each step sends keys, then waits until ``until(repl)`` holds. Returns (status, output, repl)."""
    out = io.StringIO()
    failures = []
    with create_pipe_input() as pipe:
        repl = Repl(
            facade,
            console=make_console(out, terminal=False, width=200),
            input=pipe,
            output=DummyOutput(),
            patch=False,
            **options,
        )

        def feed():
            try:
                wait_for(lambda: repl.session.app.is_running, "the prompt started")
                for keys, until in steps:
                    pipe.send_text(keys)
                    if until is not None:
                        wait_for(lambda until=until: until(repl), f"after sending {keys!r}")
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)
                pipe.send_text("\x03\x04")

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        status = repl.run()
        feeder.join(WAIT)
    if failures:
        raise failures[0]
    return status, out.getvalue(), repl


def buffer_text(repl):
    return repl.session.default_buffer.text


def test_lines_run_and_ctrl_d_quits(facade):
    status, output, _ = drive(facade, [("Counter/alice.increment(5)\r", None), ("ls\r", None), ("\x04", None)])
    assert status == 0
    assert "5" in output.splitlines()
    assert "Counter/alice" in output and "live" in output
    assert facade.call("Counter", "alice", "peek") == 5


def test_tab_completes_a_method_name_after_a_reference_and_a_dot(facade):
    facade.call("Counter", "alice", "increment", [])
    seen = {}

    def menu_open(repl):
        state = repl.session.default_buffer.complete_state
        if state is None:
            return False
        seen["menu"] = [(c.text, c.display_meta_text) for c in state.completions]
        return any(text == "since_wake()" for text, _ in seen["menu"])  # completions arrive one by one

    status, output, _ = drive(
        facade,
        [
            ("Counter/alice.", None),
            ("\t", menu_open),
            ("\x03", None),  # Ctrl-C: drop the line
            ("Counter/alice.inc", lambda r: buffer_text(r) == "Counter/alice.inc"),
            ("\t", lambda r: buffer_text(r) == "Counter/alice.increment("),
            ("41)\r", None),
            ("\x04", None),
        ],
    )
    assert seen["menu"] == [
        ("fail(", "(why: str = 'boom')"),
        ("increment(", "(by: int = 1) -> int"),
        ("peek()", "() -> int"),
        ("since_wake()", "() -> int"),
    ]
    assert "42" in output.splitlines()


def test_ctrl_c_cancels_the_line_and_the_session_goes_on(facade):
    status, output, _ = drive(
        facade,
        [
            ("Counter/alice.increment(100", lambda r: buffer_text(r).endswith("(100")),
            ("\x03", lambda r: buffer_text(r) == ""),
            ("Counter/alice.peek()\r", None),
            ("\x04", None),
        ],
    )
    assert status == 0
    assert facade.call("Counter", "alice", "peek") == 0
    assert "100" not in output


def test_quit_ends_the_session(facade):
    status, _, _ = drive(facade, [("quit\r", None)])
    assert status == 0


def test_errors_are_one_line_with_a_suggestion_and_the_session_goes_on(facade):
    status, output, _ = drive(
        facade,
        [("Counter/alice.incremnt()\r", None), ("lss\r", None), ("Counter/alice.increment()\r", None), ("\x04", None)],
    )
    lines = output.splitlines()
    method_error = [line for line in lines if "incremnt" in line]
    assert len(method_error) == 1 and "did you mean 'increment'?" in method_error[0]
    assert any("unknown command 'lss'" in line and "did you mean 'ls'?" in line for line in lines)
    assert "1" in lines


def test_history_is_kept_in_the_data_folder_and_suggests(facade, tmp_path):
    history = history_for(facade.data_dir)
    assert isinstance(history, FileHistory)
    drive(facade, [("Counter/alice.increment(2)\r", None), ("\x04", None)], history=history)
    assert "Counter/alice.increment(2)" in (tmp_path / "data" / "repl_history").read_text()
    again = history_for(facade.data_dir)
    suggested = []

    def suggestion(repl):
        found = repl.session.default_buffer.suggestion
        if found is not None:
            suggested.append(found.text)
        return found is not None

    drive(facade, [("Counter/al", suggestion), ("\x03\x04", None)], history=again)
    assert suggested[-1] == "ice.increment(2)"


def test_the_prompt_toolkit_completer_adapts_the_registry_completer(facade):
    from dotui.commands.completion import Completer

    facade.call("Counter", "alice", "increment", [])
    adapter = PromptCompleter(Completer(facade))
    found = list(adapter.get_completions(Document("storage Counter/al"), None))
    assert [(c.text, c.start_position, c.display_text) for c in found] == [("Counter/alice", -10, "alice")]
    methods = list(adapter.get_completions(Document("Counter/alice.p"), None))
    assert [(c.text, c.start_position, c.display_meta_text) for c in methods] == [("peek()", -1, "() -> int")]


def test_the_toolbar_shows_live_hibernated_queued_and_pending_commits(facade):
    facade.call("Counter", "alice", "increment", [])
    facade.call("Counter", "bob", "increment", [])
    facade.hibernate("Counter", "bob")
    text = "".join(fragment for _, fragment in Status(facade, ttl=0).toolbar())
    assert "1 live" in text and "1 hibernated" in text and "0 queued" in text and "0 commits pending" in text


def test_background_alarms_are_printed_as_they_fire(facade):
    out = io.StringIO()
    printer = EventPrinter(facade, Renderer(make_console(out, terminal=False, width=200)), period=0.01)
    printer.start()
    try:
        facade.alarm_set("Pinger", "p", "+0.05")
        wait_for(lambda: "alarm.done" in out.getvalue(), "the alarm was printed")
    finally:
        printer.stop()
    assert "Pinger/p" in out.getvalue() and "alarm.fired" in out.getvalue()


# ---------------------------------------------------------------- rendering
def render(facade, *lines, width=200):
    out = io.StringIO()
    renderer = Renderer(make_console(out, terminal=False, width=width))
    ctx = Context(facade)
    for line in lines:
        renderer.outcome(execute(ctx, line))
    return out.getvalue()


def test_tables_for_ls_classes_queue_history_and_stats(facade):
    text = render(
        facade, "Counter/alice.increment(3)", "ls", "classes", "history Counter/alice", "stats", "queue Counter/alice"
    )
    assert "1 object (1 live)" in text
    assert "increment(by: int = 1) -> int" in text and "Counts." in text
    assert "history of Counter/alice" in text and "increment(3)" in text
    assert "commits pending" in text
    assert "Counter/alice: no calls running or queued" in text
    # Drawn as tables: each answer's cells sit in the columns of its own header row.
    assert re.search(r"┃ object +┃ state +┃ queue +┃ calls +┃", text)
    assert re.search(r"│ Counter/alice +│ live +│ +0 │ +1 │", text)
    assert re.search(r"┃ +# ┃ call +┃ status +┃ outcome +┃", text)
    assert re.search(r"│ +\d+ │ increment\(3\) +│ done +│ 3 +│", text)  # a call's number counts the process's calls
    assert re.search(r"│ live +│ +1 │", text) and re.search(r"│ calls +│ +1 │", text)


def test_json_values_are_pretty_printed(facade):
    facade.storage_put("Counter", "alice", "cfg", {"a": [1, 2], "b": None})
    text = render(facade, "get Counter/alice cfg")
    assert text.splitlines()[:3] == ["{", '  "a": [', "    1,"]


def test_colour_only_on_a_terminal(facade):
    plain = render(facade, "Counter/alice.nope()")
    assert "\x1b[" not in plain
    out = io.StringIO()
    Renderer(make_console(out, terminal=True)).outcome(execute(Context(facade), "Counter/alice.nope()"))
    assert "\x1b[" in out.getvalue()


def test_a_traceback_shows_the_users_frames_only(facade):
    text = render(facade, "Counter/alice.fail()")
    assert "error: ValueError: boom" in text
    assert "in _deeper" in text and "raise ValueError(why)" in text
    assert "dotui/engine" not in text and "asyncio" not in text


def test_a_second_tab_after_a_namespace_lists_its_objects(facade):
    for name in ("alice", "bob"):
        facade.call("Counter", name, "increment", [])
    seen = {}

    def objects_listed(repl):
        state = repl.session.default_buffer.complete_state
        seen["menu"] = [c.display_text for c in state.completions] if state else None
        return bool(seen["menu"]) and {"alice", "bob"} <= set(seen["menu"])

    drive(
        facade,
        [
            ("Coun", lambda r: buffer_text(r) == "Coun"),
            ("\t", lambda r: buffer_text(r) == "Counter/"),
            ("\t", objects_listed),
            ("\x03", None),
            ("\x04", None),
        ],
    )
    assert {"alice", "bob"} <= set(seen["menu"])


def test_ctrl_c_on_a_suspended_call_leaves_it_running_and_quitting_ends_it_cleanly(tmp_path, capfd, caplog):
    """Ctrl-C stops waiting (the call goes on, as the message says); quitting with it still suspended ends it
    with the engine, without asyncio's 'Task was destroyed but it is pending!' on the terminal."""
    import gc
    import os
    import signal

    objects = tmp_path / "objects"
    objects.mkdir()
    (objects / "counter.py").write_text(
        objects_source(
            COUNTER,
            """
        class Hang(DurableObject):
            async def forever(self) -> str:
                await asyncio.get_running_loop().create_future()  # nobody resolves it
                return "never"
    """,
            imports="import asyncio",
        )
    )
    fe = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60).start()
    ctx = Context(fe, interactive=True)
    never: list[AssertionError] = []

    def interrupt_once_suspended() -> None:  # Ctrl-C, as the terminal sends it, while the REPL waits
        try:
            wait_for(lambda: [c["status"] for c in fe.queue("Hang", "h")] == ["suspended"], "the call suspended")
        except AssertionError as exc:  # Ctrl-C all the same: the test fails saying so instead of waiting forever
            never.append(exc)
        os.kill(os.getpid(), signal.SIGINT)

    ctrl_c = threading.Thread(target=interrupt_once_suspended)
    ctrl_c.start()
    outcome = execute(ctx, "Hang/h.forever()")
    ctrl_c.join(WAIT)
    assert not never, never
    assert not outcome.ok and outcome.error.message == "stopped waiting for the call; it goes on inside the object"
    gc.collect()
    assert [(c["method"], c["status"]) for c in fe.queue("Hang", "h")] == [("forever", "suspended")]  # it goes on
    fe.close()
    gc.collect()
    said = capfd.readouterr().err + caplog.text  # asyncio says it through logging; the terminal shows it
    assert "Task was destroyed" not in said
