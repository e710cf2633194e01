"""A request to a wrangler project's Worker is a call in the front ends: ``requests`` (REPL, ``-c``,
``--json``) and ``watch`` list it with the object calls it made, and the TUI's Events tab of each object
it called shows it (docs/cloudflare.md, "The Worker")."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from dotui.present.workers import call_lines, request_line
from dotui.tui.model import EngineWatch
from dotui.tui.refresh import Refresh
from dotui.tui.widgets.object.events import event_line
from server_support import ROOT
from test_cloudflare_examples import EXAMPLES, get, run, serve

ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "200"}


def cli(gw, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dotui.cli", "--connect", gw.url, "--token", gw.token, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        cwd=str(ROOT),
    )


@pytest.fixture
def lists(tmp_path: Path):
    with serve(Path(shutil.copytree(EXAMPLES / "lists", tmp_path / "lists"))) as gw:
        yield gw


def test_requests_lists_each_worker_request_with_the_object_calls_it_made(lists):
    async def script():
        for path in ("/room-1/add/hi", "/room-1/show", "/room-2/show", "/"):
            await get(lists.url + path)

    run(script())
    proc = cli(lists, "--json", "-c", "requests")
    assert proc.returncode == 0, proc.stderr
    reqs = json.loads(proc.stdout)["result"]["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in reqs] == [
        ("GET", "/room-1/add/hi", 200),
        ("GET", "/room-1/show", 200),
        ("GET", "/room-2/show", 200),
        ("GET", "/", 400),
    ]
    assert [[(c["namespace"], c["name"], c["method"], c["ok"]) for c in r["calls"]] for r in reqs] == [
        [("MessageList", "room-1", "add", True)],
        [("MessageList", "room-1", "messages", True)],
        [("MessageList", "room-2", "messages", True)],
        [],
    ]
    assert all(r["run_time"] >= c["run_time"] for r in reqs for c in r["calls"])
    text = cli(lists, "-c", "requests 2")
    assert text.returncode == 0, text.stderr
    assert "GET /room-2/show" in text.stdout and "MessageList/room-2.messages() ✓" in text.stdout
    assert "/room-1/add/hi" not in text.stdout  # the last 2 only


def test_a_failing_object_call_and_a_worker_that_raises_are_shown_failed(tmp_path):
    folder = Path(shutil.copytree(EXAMPLES / "lists", tmp_path / "lists"))
    entry = folder / "src" / "entry.py"
    entry.write_text(
        entry.read_text().replace(
            '        return Response("Not Found", status=404)',
            '        if parts[1] == "boom":\n            await stub.nothing_here()\n'
            '        return Response("Not Found", status=404)',
        )
    )
    with serve(folder) as gw:
        status, text, _ = run(get(gw.url + "/room-1/boom"))
        assert status == 500 and "Worker threw exception" in text
        reqs = json.loads(cli(gw, "--json", "-c", "requests").stdout)["result"]["requests"]
    (req,) = reqs
    assert req["status"] == 500 and "nothing_here" in req["error"]
    (call,) = req["calls"]
    assert (call["method"], call["ok"], call["error"]["type"]) == ("nothing_here", False, "MethodNotFoundError")


def test_watch_shows_the_request_with_its_calls_under_it(lists):
    watch = subprocess.Popen(
        [sys.executable, "-m", "dotui.cli", "--connect", lists.url, "--token", lists.token, "-c", "watch --for 6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=str(ROOT),
    )
    try:

        async def until_watched():
            # requests until the watch ends: it subscribes some time after it starts
            async with aiohttp.ClientSession() as s:
                while watch.poll() is None:
                    async with s.get(lists.url + "/room-7/show") as r:
                        await r.read()
                    await asyncio.sleep(0.2)

        run(until_watched())
        out, err = watch.communicate(timeout=30)
    finally:
        watch.kill()
    assert watch.returncode == 0, err
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if "Worker  GET /room-7/show → 200" in line)
    assert "└ MessageList/room-7.messages() ✓" in lines[i + 1]


EVENT = {
    "type": "worker.request",
    "t": time.time(),
    "request": 4,
    "method": "GET",
    "path": "/room-1/show",
    "status": 200,
    "run_time": 0.0021,
    "calls": [
        {
            "namespace": "MessageList",
            "id": "a" * 64,
            "name": "room-1",
            "method": "messages",
            "ok": True,
            "run_time": 0.0012,
        },
        {
            "namespace": "MessageList",
            "id": "b" * 64,
            "name": "room-2",
            "method": "add",
            "ok": False,
            "run_time": 0.001,
            "error": {"type": "ValueError", "message": "full"},
        },
    ],
}


def test_the_tui_shows_the_request_on_the_events_of_each_object_it_called():
    watch = EngineWatch()
    folded = watch.fold(
        [
            EVENT,
            {
                "type": "worker.request",
                "t": 1.0,
                "method": "GET",
                "path": "/",
                "status": 400,
                "run_time": 0.001,
                "calls": [],
            },
        ]
    )
    assert folded.touched == {("MessageList", "a" * 64), ("MessageList", "b" * 64)}
    assert watch.events_of(("MessageList", "a" * 64)) == [EVENT] == watch.events_of(("MessageList", "b" * 64))
    line = event_line(EVENT).plain
    assert "worker.request" in line and "Worker #4 GET /room-1/show → 200 (2.10 ms)" in line
    assert "└ MessageList/room-1.messages() ✓ 1.20 ms" in line
    assert "└ MessageList/room-2.add() ✗ ValueError: full" in line
    refresh = Refresh()
    refresh.show(("MessageList", "b" * 64))
    assert refresh.fold([EVENT]).shown_events == [EVENT]  # the open Events tab gets it as it comes
    refresh.show(("MessageList", "c" * 64))
    assert refresh.fold([EVENT]).shown_events == []


def test_a_request_lists_at_most_its_bound_of_calls_and_counts_the_rest():
    from dotui.engine.ids import ObjectId
    from dotui.workers.requests import CALLS_KEPT, RequestLog, WorkerRequest

    oid = ObjectId("c" * 64, "Counter", "x")
    req = WorkerRequest("GET", "/")
    for _ in range(CALLS_KEPT + 3):
        req.note_call("Counter", oid, "increment", time.perf_counter(), None)
    req.finish(200)
    log = RequestLog(kept=2)
    for _ in range(3):
        log.add(req)
    (shown, _) = log.last(5)
    assert len(shown["calls"]) == CALLS_KEPT and shown["more_calls"] == 3
    assert call_lines(shown)[-1] == "… and 3 more calls" and request_line(shown).startswith("GET / → 200")
