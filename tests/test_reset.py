"""``reset REF``: an object stuck in a call is reset from outside, as ``ctx.abort()`` would from inside.

Through every front end: the facades (in-process and over HTTP to a gateway), the REPL's words, the
binary's ``--json``; the TUI's ``X`` key is in tests/test_tui_actions.py. The operation's own case (what stays, what goes) is in
tests/test_facades.py, run on both facades.
"""

from __future__ import annotations

import io
import json
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console

from dotui.commands import Context, execute
from dotui.engine.errors import ObjectAbortedError
from dotui.present.render import Renderer
from server_support import local_and_remote
from test_cli import dotui, workdir  # noqa: F401 - the binary's project folder (a fixture)

STUCK = """
import asyncio, os
from dotui import DurableObject

class Stuck(DurableObject):
    \"\"\"One call at a time: a call that never ends keeps every other one queued.\"\"\"

    concurrency = "serial"

    async def hang(self, flag: str) -> str:
        while not os.path.exists(flag):  # until the test lets it go
            await asyncio.sleep(0.02)
        return "ended"

    async def remember(self, n: int) -> int:
        self.ctx.storage.put("n", n)
        return n

    def ping(self) -> str:
        return "pong"
"""


def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def facades(tmp_path_factory):
    """{"local": LocalEngine, "remote": RemoteEngine behind a gateway}, each over its own data folder."""
    tmp = tmp_path_factory.mktemp("reset")
    (tmp / "objects").mkdir()
    (tmp / "objects" / "stuck.py").write_text(textwrap.dedent(STUCK))
    with local_and_remote(str(tmp / "objects"), tmp, idle_timeout=600) as both:
        yield both


@pytest.mark.parametrize("which", ["local", "remote"])
def test_a_call_queued_behind_a_stuck_one_answers_once_the_object_is_reset(facades, which, tmp_path):
    f = facades[which]
    flag = str(tmp_path / "let-go")
    assert f.call("Stuck", which, "remember", [7]) == 7
    stuck = f.call_async("Stuck", which, "hang", [flag])
    wait_for(lambda: [c["method"] for c in f.queue("Stuck", which)] == ["hang"], "hang running")
    queued = f.call_async("Stuck", which, "ping")
    wait_for(lambda: len(f.queue("Stuck", which)) == 2, "ping queued behind hang")
    assert not queued.done()

    assert f.reset("Stuck", which) is True
    assert queued.result(timeout=30) == "pong"  # on the object started afresh
    assert f.call("Stuck", which, "remember", [8]) == 8 and f.storage_get("Stuck", which, "n") == 8

    Path(flag).touch()  # the stuck call returns, and fails: the object it ran on is gone
    with pytest.raises(ObjectAbortedError, match="was reset"):
        stuck.result(timeout=30)


def test_the_repl_says_what_was_reset_and_what_was_not_in_memory(facades):
    f = facades["local"]

    def said(line: str) -> str:
        console = Console(file=io.StringIO(), width=200, color_system=None, record=True)
        Renderer(console).outcome(execute(Context(f), line))
        return console.export_text().strip()

    f.call("Stuck", "words", "ping")
    assert said("reset Stuck/words") == (
        "Stuck/words was reset: its calls in flight fail, its next call starts from its durable state"
    )
    assert said("reset Stuck/words") == (
        "Stuck/words is not in memory: nothing to reset (its next call starts from its durable state)"
    )
    assert "no Stuck object named 'nobody' yet" in said("reset Stuck/nobody")
    assert said("help reset").startswith("reset REF\nreset an object stuck in a call")


def test_json_answers_the_reset_with_its_line(workdir):  # noqa: F811 - the fixture imported above
    proc = dotui(workdir, "--json", "-c", "Counter/alice.increment(3)", "-c", "reset Counter/alice", "-c", "ls")
    assert proc.returncode == 0, proc.stderr
    docs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert docs[1]["command"] == "reset" and docs[1]["ok"] is True
    assert docs[1]["result"] == {
        "object": "Counter/alice",
        "reset": True,
        "said": "Counter/alice was reset: its calls in flight fail, its next call starts from its durable state",
    }
    [row] = docs[2]["result"]["objects"]
    assert row["state"] == "hibernated" and row["keys"] == 1  # its storage stayed
