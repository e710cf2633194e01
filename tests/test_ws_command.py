"""The `ws REF [PATH]` command: a WebSocket to an object from the REPL, scripts and batch mode,
the same in-process and through `dotui serve`; `ls` and `stats` count sockets."""

from __future__ import annotations

import json

import pytest

from conftest import write_objects
from dotui.commands import REGISTRY, Context, execute
from dotui.ops import LocalEngine
from dotui.server import connect, start_gateway_thread
from ws_support import ROOM


@pytest.fixture
def local(tmp_path):
    objects = write_objects(tmp_path / "objects", room=ROOM)
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600) as fe:
        yield fe


@pytest.fixture(params=["local", "remote"])
def facade(request, local):
    if request.param == "local":
        yield local
        return
    gw = start_gateway_thread(local, "127.0.0.1", 0)
    try:
        with connect(gw.url, gw.token) as remote:
            yield remote
    finally:
        gw.close()


def run(facade, line, **ctx):
    outcome = execute(Context(facade, **ctx), line, REGISTRY)
    assert outcome.ok, outcome.error
    return outcome.result


@pytest.mark.slow
def test_ws_sends_and_shows_the_answers(facade):
    result = run(facade, "ws Room/r /chat?user=ann --send count")
    sent, received = result["messages"]
    assert sent == {"direction": "sent", "text": "count"}
    answer = json.loads(received["text"])
    assert answer["n"] == 1 and answer["attachment"] == {"user": "ann", "path": "/chat"}
    assert result["closed"] is None
    assert facade.call("Room", "r", "closed") == [1000, "", True, "ann"]


def test_ws_shows_the_objects_close(facade):
    result = run(facade, "ws Room/r --send close")
    assert result["closed"] == {"code": 4000, "reason": "bye"}


def test_ws_refused_is_a_clear_error(facade):
    outcome = execute(Context(facade), "ws Room/r /?refuse=1 --send hi", REGISTRY)
    assert not outcome.ok and "did not accept the WebSocket" in outcome.error.message


def test_ws_outside_the_prompt_needs_send_or_for(local):
    outcome = execute(Context(local), "ws Room/r", REGISTRY)
    assert not outcome.ok and "--send" in outcome.error.message


def test_ws_at_the_prompt_sends_each_typed_line(local):
    lines = iter(["hello", "tags", None])
    shown = []
    result = run(
        local, "ws Room/r /?tags=a,b", interactive=True, on_event=shown.append, read_line=lambda prompt: next(lines)
    )
    texts = [m["text"] for m in result["messages"]]
    assert texts == ["hello", "echo:hello", "tags", '["a", "b"]']
    assert [e["type"] for e in shown] == ["ws.sent", "ws.received", "ws.sent", "ws.received"]


def test_ls_and_stats_count_open_sockets(local):
    sock = local.open_websocket("Room", "r", "/")
    try:
        sock.send("hello")
        assert sock.receive(5) == ["echo:hello"]
        rows = run(local, "ls Room")["objects"]
        assert [(r["name"], r["websockets"]) for r in rows] == [("r", 1)]
        assert run(local, "stats")["websockets"] == 1
        local.hibernate("Room", "r")
        assert [(r["state"], r["websockets"]) for r in run(local, "ls Room")["objects"]] == [("hibernated", 1)]
        shown = local.websockets("Room", "r")["sockets"]
        assert [(s["messages_in"], s["messages_out"]) for s in shown] == [(1, 1)]
    finally:
        sock.close()
    assert run(local, "stats")["websockets"] == 0
