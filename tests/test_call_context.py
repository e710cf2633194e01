"""Each call runs in a context of its own (README, "Calls"): a ContextVar a method sets never
reaches the next call, on any path: in-process (the same task), the gateway's fast path and
the aiohttp application (the same connection), and WebSocket messages (the same socket)."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conftest import engine_of, guarded, write_objects
from dotui.ops import LocalEngine
from dotui.server import make_app, start_gateway_thread
from test_server_fast import exchange, post

TOKEN = "context-token-0123456789"

MARKED = """
    import asyncio
    import contextvars
    from dotui import DurableObject

    mark = contextvars.ContextVar("mark", default="unset")

    class Marked(DurableObject):
        \"\"\"Each method answers the mark it found, then sets its own.\"\"\"

        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            mark.set("set by the constructor")

        def set_now(self, value):
            found = mark.get()
            mark.set(value)
            return found

        async def set_later(self, value):
            await asyncio.sleep(0)
            found = mark.get()
            mark.set(value)
            await asyncio.sleep(0)
            return [found, mark.get()]

        async def in_a_task(self, value):
            mark.set(value)
            return await asyncio.create_task(self._read())  # a task the call starts sees its mark

        async def _read(self):
            return mark.get()

        async def through(self, other, value):
            mark.set(value)
            found = await self.env.Marked.get_by_name(other).set_now("set by " + other)
            return [found, mark.get()]  # the callee's mark did not come back either

        async def fetch(self, request):
            self.ctx.accept_websocket(request["websocket"])
            return {"status": 101}

        async def websocket_message(self, ws, message):
            ws.send(mark.get())
            mark.set(message)
"""


@guarded
async def test_in_process_calls_in_one_task_do_not_share_what_they_set(tmp_path):
    async with engine_of(tmp_path, {"idle_timeout": 60}, marked=MARKED) as engine:
        a, b = engine.env.Marked.get_by_name("a"), engine.env.Marked.get_by_name("b")
        assert await a.set_now("one") == "unset"  # not even the constructor's mark reached it
        assert await a.set_now("two") == "unset"
        assert await b.set_now("three") == "unset"
        assert await a.set_later("four") == ["unset", "four"]  # its own mark holds across its awaits
        assert await a.set_later("five") == ["unset", "five"]
        assert await a.in_a_task("six") == "six"
        assert await a.through("b", "seven") == ["unset", "seven"]
        assert await b.set_now("eight") == "unset"


@pytest.fixture
def gateways(tmp_path):
    """(fast gateway address, plain aiohttp app address): the same engine behind both."""
    objects = write_objects(tmp_path / "objects", marked=MARKED)
    local = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60).start()
    gateway = start_gateway_thread(local, "127.0.0.1", 0, TOKEN)
    plain = TestServer(make_app(local.engine, TOKEN), host="127.0.0.1")
    local.run(plain.start_server())
    yield ("127.0.0.1", gateway.port), ("127.0.0.1", plain.port)
    local.run(plain.close())
    gateway.close()
    local.close()


@pytest.mark.parametrize("path", ["fast", "aiohttp"])
def test_calls_on_one_connection_do_not_share_what_they_set(gateways, path):
    address = gateways[0] if path == "fast" else gateways[1]
    auth = f"Authorization: Bearer {TOKEN}\r\n"
    calls = [
        post(f"/objects/Marked/{name}/set_now", json.dumps({"args": [value]}).encode(), auth)
        for name, value in (("a", "one"), ("a", "two"), ("b", "three"), ("a", "four"))
    ]
    answers = exchange(address, b"".join(calls), answers=4)  # one keep-alive connection, one after another
    assert [(status, json.loads(body)["result"]) for status, _, body in answers] == [(200, "unset")] * 4


@guarded
async def test_messages_on_one_websocket_do_not_share_what_they_set(tmp_path):
    async with engine_of(tmp_path, {"idle_timeout": 60}, marked=MARKED) as engine:
        client = TestClient(TestServer(make_app(engine, TOKEN)))
        await client.start_server()
        try:
            ws = await client.ws_connect("/ws/Marked/r", headers={"Authorization": f"Bearer {TOKEN}"})
            answers = []
            for text in ("one", "two", "three"):
                await ws.send_str(text)
                msg = await ws.receive(timeout=10)
                assert msg.type is aiohttp.WSMsgType.TEXT, msg
                answers.append(msg.data)
            assert answers == ["unset"] * 3
            await ws.close()
        finally:
            await client.close()
