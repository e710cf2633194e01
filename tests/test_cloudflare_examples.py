"""Cloudflare's own Python Workers examples and its Durable Objects docs examples (ported to Python), each run
unchanged through `dotui serve` with the requests Cloudflare's docs describe, checking the answers they state
(examples/cloudflare/README.md says where each comes from)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp

from server_support import ROOT, GatewayProcess

EXAMPLES = ROOT / "examples" / "cloudflare"
SERVE = ("-m", "dotui.cli", "serve")
TIMEOUT = aiohttp.ClientTimeout(total=30)


def project(tmp_path: Path, name: str) -> Path:
    """A copy of the example project (its data folder then lives beside it, in tmp_path)."""
    return Path(shutil.copytree(EXAMPLES / name, tmp_path / name))


def serve(folder: Path, *extra: str) -> GatewayProcess:
    return GatewayProcess(folder, folder / ".dotui", 0, *extra, command=SERVE)


async def get(url: str, **kw) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.get(url, **kw) as r:
            return r.status, await r.text(), dict(r.headers)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_hello_answers_as_workerd_labels_it(tmp_path):
    with serve(project(tmp_path, "hello")) as gw:
        status, text, headers = run(get(gw.url))
        assert (status, text) == (200, "Hello world!")
        assert headers["Content-Type"] == "text/plain;charset=UTF-8"


def test_lists_keeps_each_lists_messages(tmp_path):
    # the requests, and the answers, of Cloudflare's own test of its Durable Objects example (examples/cloudflare/README.md)
    with serve(project(tmp_path, "lists")) as gw:
        async def script():
            return [(await get(gw.url + path))[:2] for path in
                    ("/room-1/show", "/room-1/add/hi", "/room-1/show", "/room-2/show", "/")]
        answers = run(script())
    assert answers[:4] == [(200, "No messages"), (200, "Message sent"), (200, "hi"), (200, "No messages")]
    assert answers[4][0] == 400 and "Go to /<list_id>/show" in answers[4][1]


def test_the_worker_is_public_and_the_gateways_routes_keep_the_token(tmp_path):
    with serve(project(tmp_path, "lists")) as gw:
        async def script():
            async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
                async with s.get(gw.url + "/admin/stats") as r:
                    no_token = r.status
                async with s.post(gw.url + "/objects/MessageList/room-1/messages") as r:
                    call_no_token = r.status
                auth = {"Authorization": f"Bearer {gw.token}"}
                async with s.post(gw.url + "/objects/MessageList/room-1/add", json={"args": ["from rpc"]},
                                  headers=auth) as r:
                    rpc = r.status
            return no_token, call_no_token, rpc, (await get(gw.url + "/room-1/show"))[1]
        assert run(script()) == (401, 401, 200, "from rpc")


def test_chatroom_a_websocket_forwarded_by_the_worker_reaches_the_room(tmp_path):
    with serve(project(tmp_path, "chatroom")) as gw:
        async def script():
            async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
                status, html, headers = await get(gw.url + "/")
                assert status == 200 and headers["Content-Type"].startswith("text/html") and "<html" in html.lower()
                async with s.ws_connect(gw.url + "/room/lobby") as ann, s.ws_connect(gw.url + "/room/lobby") as bob:
                    for ws in (ann, bob):
                        welcome = json.loads((await ws.receive(timeout=10)).data)
                        assert welcome["type"] == "system" and welcome["text"] == "Connected to chatroom"
                    await ann.send_str(json.dumps({"username": "ann", "text": "hello"}))
                    got = [json.loads((await ws.receive(timeout=10)).data) for ws in (ann, bob)]
                    assert [(m["type"], m["username"], m["text"]) for m in got] == [("message", "ann", "hello")] * 2
                async with s.ws_connect(gw.url + "/room/lobby") as late:
                    history = json.loads((await late.receive(timeout=10)).data)  # in memory while the room is
                    assert history["type"] == "history" and history["messages"][0]["text"] == "hello"
                async with s.get(gw.url + "/room/lobby") as r:
                    assert (r.status, await r.text()) == (400, "Expected WebSocket upgrade")
        run(script())


def test_a_bad_wrangler_file_is_a_usage_error_naming_the_file_and_the_key(tmp_path):
    folder = project(tmp_path, "lists")
    cfg = folder / "wrangler.jsonc"
    cfg.write_text(cfg.read_text().replace('"class_name": "MessageList"', '"class_name": "MessageLists"'))
    proc = subprocess.run([sys.executable, "-m", "dotui.cli", "-c", "classes"], cwd=folder, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    err = " ".join(proc.stderr.split())
    assert "wrangler.jsonc: durable_objects.bindings: LISTS binds class MessageLists" in err and "new_sqlite_classes" in err
    assert "Traceback" not in proc.stderr
