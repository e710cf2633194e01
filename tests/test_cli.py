"""The ``dotui`` binary end to end, by subprocess: -c, run FILE, stdin, --json, --on-error, exit statuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dotui.ops import LocalEngine
from fixture_objects import COUNTER as COUNTER_CLASS
from fixture_objects import objects_source

REPO = Path(__file__).resolve().parent.parent

COUNTER = objects_source(COUNTER_CLASS)


@pytest.fixture
def workdir(tmp_path):
    """A folder with ./objects holding Counter, as a new user's project would be."""
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "counter.py").write_text(COUNTER)
    return tmp_path


def dotui(cwd, *args, stdin=None):
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "dotui.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def documents(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# ---------------------------------------------------------------- -c, files, stdin
def test_dash_c_runs_commands_in_order_and_exits_0(workdir):
    proc = dotui(
        workdir,
        "-c",
        "Counter/alice.increment(5)",
        "-c",
        "call Counter/alice increment by=2",
        "-c",
        "get Counter/alice n",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["5", "7", "7"]
    assert (workdir / ".dotui").is_dir()  # the default data folder


@pytest.mark.slow
def test_the_data_survives_between_runs(workdir):
    dotui(workdir, "-c", "Counter/alice.increment(5)")
    proc = dotui(workdir, "-c", "Counter/alice.peek()")
    assert proc.stdout.strip() == "5"


@pytest.mark.slow
def test_run_file_with_comments(workdir):
    script = workdir / "s.dotui"
    script.write_text("# a comment\nCounter/bob.increment(2)   # trailing comment\n\nCounter/bob.increment(3)\n")
    proc = dotui(workdir, "run", "s.dotui")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["2", "5"]


def test_run_dash_reads_stdin(workdir):
    proc = dotui(workdir, "run", "-", stdin="Counter/c.increment(4)\nCounter/c.peek()\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["4", "4"]


@pytest.mark.slow
def test_a_pipe_on_stdin_is_read_as_a_script(workdir):
    proc = dotui(workdir, stdin="Counter/d.increment(1)\nls\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "1"
    assert "Counter/d" in proc.stdout
    proc = dotui(workdir, "repl", stdin="Counter/d.peek()\n")
    assert (proc.returncode, proc.stdout.strip()) == (0, "1")


def test_no_prompt_colour_or_toolbar_when_not_a_terminal(workdir):
    proc = dotui(
        workdir,
        "repl",
        stdin="ls\nCounter/e.nope()\n",
    )
    assert "\x1b[" not in proc.stdout + proc.stderr
    assert "dotui>" not in proc.stdout and "commits pending" not in proc.stdout


# ---------------------------------------------------------------- --json
def test_json_prints_one_document_per_command_with_stable_keys(workdir):
    proc = dotui(
        workdir, "--json", "-c", "Counter/alice.increment(3)", "-c", "ls", "-c", "# only a comment", "-c", "stats"
    )
    assert proc.returncode == 0, proc.stderr
    docs = documents(proc.stdout)
    assert [d["command"] for d in docs] == ["call", "ls", "stats"]
    assert all(list(d) == ["command", "input", "ok", "result", "error"] for d in docs)
    assert docs[0] == {"command": "call", "input": "Counter/alice.increment(3)", "ok": True, "result": 3, "error": None}
    assert docs[1]["result"]["objects"][0]["ref"] == "Counter/alice"


def test_json_reports_an_error_as_a_document_and_on_stderr(workdir):
    proc = dotui(workdir, "-c", "Counter/alice.incremnt()", "--json")
    assert proc.returncode == 1
    [doc] = documents(proc.stdout)
    assert doc["ok"] is False and doc["result"] is None
    assert doc["error"]["type"] == "MethodNotFoundError"
    assert doc["error"]["hint"] == "did you mean 'increment'?"
    assert "incremnt" in proc.stderr


# ---------------------------------------------------------------- --on-error and exit statuses
def test_on_error_stop_is_the_default(workdir):
    proc = dotui(
        workdir, "--json", "-c", "Counter/a.increment()", "-c", "Counter/a.fail()", "-c", "Counter/a.increment()"
    )
    assert proc.returncode == 1
    assert [d["ok"] for d in documents(proc.stdout)] == [True, False]
    assert "ValueError: boom" in proc.stderr
    assert "counter.py" in proc.stderr and "dotui/engine" not in proc.stderr


def test_on_error_continue_runs_every_line_and_still_exits_1(workdir):
    proc = dotui(
        workdir,
        "--json",
        "--on-error",
        "continue",
        "-c",
        "Counter/a.increment()",
        "-c",
        "Counter/a.fail()",
        "-c",
        "Counter/a.increment()",
    )
    assert proc.returncode == 1
    assert [d["ok"] for d in documents(proc.stdout)] == [True, False, True]
    assert documents(proc.stdout)[2]["result"] == 2


def test_exit_2_for_a_line_that_is_not_a_command(workdir):
    proc = dotui(workdir, "-c", "lss")
    assert proc.returncode == 2
    assert "unknown command 'lss'" in proc.stderr and "did you mean 'ls'?" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_exit_2_wins_over_1_when_going_on(workdir):
    proc = dotui(
        workdir,
        "--on-error",
        "continue",
        "-c",
        "Counter/a.fail()",
        "-c",
        "Counter/a.increment(x)",
        "-c",
        "Counter/a.peek()",
    )
    assert proc.returncode == 2
    assert proc.stdout.strip() == "0"


@pytest.mark.slow
def test_exit_2_for_bad_flags_and_missing_scripts(workdir):
    assert dotui(workdir, "--on-error", "maybe", "-c", "ls").returncode == 2
    assert dotui(workdir, "--idle", "0", "-c", "ls").returncode == 2
    proc = dotui(workdir, "run", "missing.dotui")
    assert proc.returncode == 2 and "missing.dotui" in proc.stderr
    proc = dotui(workdir, "ls")
    assert proc.returncode == 2 and "dotui -c 'ls'" in proc.stderr


def test_script_errors_name_the_file_and_line(workdir):
    (workdir / "s.dotui").write_text("Counter/a.increment()\n\nCounter/a.oops()\n")
    proc = dotui(workdir, "run", "s.dotui")
    assert proc.returncode == 1
    assert proc.stderr.startswith("s.dotui:3: error:")


@pytest.mark.slow
def test_quit_stops_a_script_with_status_0(workdir):
    proc = dotui(workdir, "run", "-", stdin="Counter/a.increment()\nquit\nCounter/a.fail()\n")
    assert (proc.returncode, proc.stdout.strip()) == (0, "1")


# ---------------------------------------------------------------- flags and start-up errors
@pytest.mark.slow
def test_shared_flags_before_or_after_the_subcommand(workdir):
    other = workdir / "elsewhere"
    shutil.copytree(workdir / "objects", other)
    (workdir / "objects" / "counter.py").unlink()
    (workdir / "s.dotui").write_text("Counter/z.increment(9)\n")
    proc = dotui(workdir, "--objects", "elsewhere", "run", "s.dotui", "--data", "d2", "--json")
    assert proc.returncode == 0, proc.stderr
    assert documents(proc.stdout)[0]["result"] == 9
    assert (workdir / "d2").is_dir()


@pytest.mark.slow
def test_a_missing_objects_folder_given_is_a_clear_error(tmp_path):
    proc = dotui(tmp_path, "--objects", "objects", "-c", "ls")
    assert proc.returncode == 1
    assert "objects folder 'objects' not found" in proc.stderr and "--objects DIR" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_folder_without_objects_opens_on_the_bundled_examples_and_says_so(tmp_path):
    proc = dotui(tmp_path, "-c", "classes", "-c", "Counter/a.increment(2)")
    assert proc.returncode == 0, proc.stderr
    assert "Counter" in proc.stdout and "ChatRoom" in proc.stdout and "2" in proc.stdout.split()
    assert "opening the bundled examples" in proc.stderr
    assert str(tmp_path / ".dotui") in "".join(proc.stderr.split())  # where its data goes, however wrapped
    assert (tmp_path / ".dotui").is_dir() and not (tmp_path / "objects").exists()


@pytest.mark.slow
def test_a_broken_class_file_names_the_file_and_line(workdir):
    (workdir / "objects" / "broken.py").write_text("from dotui import DurableObject\n\nx = 1 +\n")
    proc = dotui(workdir, "-c", "Counter/a.increment()")
    assert proc.returncode == 1
    assert "objects/broken.py:3" in proc.stderr and "SyntaxError" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = dotui(workdir, "--on-error", "continue", "-c", "Counter/a.increment()")
    assert proc.returncode == 1 and proc.stdout.strip() == "1"


@pytest.mark.slow
def test_a_locked_data_folder_names_the_holder(workdir):
    with LocalEngine(str(workdir / "objects"), str(workdir / ".dotui")):
        proc = dotui(workdir, "-c", "ls")
    assert proc.returncode == 1
    assert f"pid {os.getpid()}" in proc.stderr and "--data DIR" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_connect_to_a_gateway_that_is_not_there_is_a_clear_error(workdir):
    proc = dotui(workdir, "--connect", "http://127.0.0.1:9", "--token", "t", "-c", "ls")
    assert proc.returncode == 1
    assert "cannot reach dotui serve at http://127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, says",
    [
        (["--token", "t", "-c", "ls"], "--token goes with --connect"),
        (["--serve", "8787", "-c", "ls"], "--serve PORT goes with the TUI or the REPL"),
        (["serve", "--connect", "http://127.0.0.1:8787"], "does not go with --connect"),
    ],
)
def test_remote_flags_in_the_wrong_company_are_usage_errors(workdir, args, says):
    proc = dotui(workdir, *args)
    assert proc.returncode == 2
    assert says in proc.stderr


@pytest.mark.slow
def test_serve_without_an_objects_folder_fails_at_once(workdir):
    proc = dotui(workdir, "serve", "--objects", "nowhere", "--port", "0")
    assert proc.returncode == 1 and "objects folder 'nowhere' not found" in proc.stderr


@pytest.mark.slow
def test_help_for_dotui_and_each_subcommand_has_an_example(workdir):
    for args in (["--help"], ["repl", "--help"], ["run", "--help"], ["serve", "--help"]):
        proc = dotui(workdir, *args)
        assert proc.returncode == 0
        assert "example" in proc.stdout and "--objects" in proc.stdout


def test_without_a_tui_dotui_suggests_the_repl(monkeypatch, capsys):
    from dotui import cli
    from dotui.present.render import Renderer, make_console

    monkeypatch.setitem(sys.modules, "dotui.tui.app", None)  # as if the TUI were not installed
    err = Renderer(make_console(sys.stderr, terminal=False))
    assert cli._tui_entry(err) is None
    assert "dotui repl" in capsys.readouterr().err


# ---------------------------------------------------------------- the worked example
@pytest.mark.slow
@pytest.mark.parametrize("runs", [1, 2], ids=["fresh data folder", "second run on the same folder"])
def test_the_hibernation_example_shows_storage_survives_and_the_constructor_runs_again(tmp_path, runs):
    for _ in range(runs):
        proc = dotui(
            REPO, "--idle", "1", "--data", str(tmp_path / "data"), "--json", "run", "examples/hibernation.dotui"
        )
        assert proc.returncode == 0, proc.stderr
    docs = documents(proc.stdout)
    calls = [(d["input"].split("#")[0].strip(), d["result"]) for d in docs if d["command"] == "call"]
    assert calls == [
        ("Counter/alice.increment(5)", 5),
        ("Counter/alice.increment()", 6),
        ("Counter/alice.since_wake()", 2),
        ("Counter/alice.peek()", 6),  # storage intact after hibernation
        ("Counter/alice.since_wake()", 0),  # the constructor ran again
    ]
    states = [
        [o["state"] for o in d["result"]["objects"] if o["ref"] == "Counter/alice"]
        for d in docs
        if d["command"] == "ls"
    ]
    assert states == [["live"], ["hibernated"], ["live"]]
    [storage] = [d["result"] for d in docs if d["command"] == "storage"]
    assert storage["values"] == {"n": 6}


def test_python_dash_m_dotui_is_the_dotui_command(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    (tmp_path / "objects").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "dotui", "--objects", "objects", "-c", "ls", "-c", "nope"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and "no objects" in proc.stdout and "unknown command 'nope'" in proc.stderr
