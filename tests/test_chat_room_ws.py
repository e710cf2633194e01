"""dotui/examples/objects/chat_room.py over hibernatable WebSockets, and examples/chat_client.py's rendering."""

from __future__ import annotations

import importlib.util
import json

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conftest import ROOT
from dotui import Engine
from dotui.examples import OBJECTS as BUNDLED_OBJECTS
from dotui.server import make_app

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(tmp_path):
    async with Engine(objects=BUNDLED_OBJECTS, data=str(tmp_path / "data"), idle_timeout=60) as engine:
        c = TestClient(TestServer(make_app(engine, TOKEN)))
        await c.start_server()
        c.engine = engine
        yield c
        await c.close()


async def receive(ws):
    msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data) if msg.data.startswith("{") else msg.data


async def test_members_talk_through_a_room_that_hibernates_between_messages(client):
    engine = client.engine
    ann = await client.ws_connect("/ws/ChatRoom/lobby", params={"user": "ann"}, headers=AUTH)
    assert (await receive(ann))["type"] == "welcome"
    assert await receive(ann) == {"type": "joined", "user": "ann"}
    bob = await client.ws_connect("/ws/ChatRoom/lobby", params={"user": "bob"}, headers=AUTH)
    assert (await receive(bob))["type"] == "welcome"
    assert (await receive(ann))["user"] == "bob"
    await receive(bob)  # bob's own "joined"
    oid = engine.namespace("ChatRoom").id_from_name("lobby")
    assert await engine.hibernate("ChatRoom", oid)
    await ann.send_str("ping")
    assert await receive(ann) == "pong"  # answered by the gateway: the room stays hibernated
    assert engine.instance_info("ChatRoom", oid)["state"] == "hibernated"
    await ann.send_str("hello bob")  # wakes the room; the attachment still says it is ann
    for ws in (ann, bob):
        got = await receive(ws)
        assert (got["seq"], got["user"], got["text"]) == (1, "ann", "hello bob")
    room = engine.namespace("ChatRoom").get_by_name("lobby")
    assert await room.online() == ["ann", "bob"]
    await room.post("bob", "from a plain call")  # a call's post reaches the sockets too
    assert (await receive(ann))["text"] == "from a plain call"
    await bob.close()
    assert await receive(ann) == {"type": "left", "user": "bob"}
    await ann.close()


def test_the_example_client_shows_each_event_as_a_line():
    spec = importlib.util.spec_from_file_location("chat_client", ROOT / "examples" / "chat_client.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.show('{"type": "message", "seq": 3, "user": "ann", "text": "hi"}') == "#3 ann: hi"
    assert mod.show('{"type": "left", "user": "bob"}') == "-- bob left"
    assert mod.show("pong") == "pong"
