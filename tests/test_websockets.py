"""WebSockets to objects through the gateway (Cloudflare's Hibernation API): accept, tags, messages,
attachments, auto-responses, close codes, hibernation and reload with sockets open."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conftest import FailingLog, write_objects
from dotui import Engine
from dotui.server import make_app
from ws_support import ROOM

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def engine(tmp_path):
    objects = write_objects(tmp_path / "objects", room=ROOM)
    async with Engine(objects=str(objects), data=str(tmp_path / "data"), idle_timeout=60) as e:
        yield e


@pytest.fixture
async def client(engine):
    c = TestClient(TestServer(make_app(engine, TOKEN)))
    await c.start_server()
    yield c
    await c.close()


async def connect(client, name="r", path="/chat", **query):
    return await client.ws_connect(f"/ws/Room/{name}{path}", headers=AUTH, params=query)


async def ask(ws, text):
    await ws.send_str(text)
    msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return msg.data


def state_of(engine, name="r"):
    ns = engine.namespace("Room")
    return engine.instance_info("Room", ns.id_from_name(name))["state"]


async def test_messages_reach_the_object_and_its_answers_come_back(client, engine):
    ws = await connect(client, user="ann")
    assert await ask(ws, "hello") == "echo:hello"
    answer = json.loads(await ask(ws, "count"))
    assert answer == {"n": 1, "seen": 2, "attachment": {"user": "ann", "path": "/chat"}}
    await ws.send_bytes(b"abc")
    assert (await ws.receive(timeout=10)).data == b"cba"
    assert engine.websockets.open_count == 1
    await ws.close()


async def test_get_websockets_by_tag_and_get_tags(client, engine):
    a = await connect(client, tags="red,all")
    b = await connect(client, tags="blue,all")
    c = await connect(client, tags="red")
    assert json.loads(await ask(a, "tags")) == ["red", "all"]
    assert await ask(a, "all") == "3"
    await a.send_str("tag:red")
    assert (await a.receive(timeout=10)).data == "to red: 2"
    assert (await c.receive(timeout=10)).data == "to red: 2"
    await b.send_str("tag:all")
    assert (await a.receive(timeout=10)).data == "to all: 2"
    assert (await b.receive(timeout=10)).data == "to all: 2"
    for ws in (a, b, c):
        await ws.close()


async def test_the_object_hibernates_with_sockets_open_and_wakes_on_a_message(client, engine):
    ws = await connect(client, user="ann")
    await ask(ws, "rename:bob")
    first = json.loads(await ask(ws, "count"))
    assert first["seen"] == 2
    oid = engine.namespace("Room").id_from_name("r")
    assert await engine.hibernate("Room", oid)
    assert state_of(engine) == "hibernated"
    assert engine.websockets.open_count == 1
    again = json.loads(await ask(ws, "count"))
    # The constructor ran again (seen starts over); storage, attachment and tags are intact.
    assert again == {"n": 2, "seen": 1, "attachment": {"user": "bob", "path": "/chat"}}
    assert state_of(engine) == "live"
    await ws.close()


async def test_auto_response_is_answered_without_waking_the_object(client, engine):
    ws = await connect(client)
    assert await ask(ws, "autots") == "none"
    assert await ask(ws, "auto") == "auto set"
    oid = engine.namespace("Room").id_from_name("r")
    assert await engine.hibernate("Room", oid)
    calls_before = engine.instance_info("Room", oid)["calls"]
    assert await ask(ws, "ping") == "pong"
    assert state_of(engine) == "hibernated"
    assert engine.instance_info("Room", oid)["calls"] == calls_before  # no call reached the object
    stamp = await ask(ws, "autots")
    assert stamp != "none" and stamp.endswith("+00:00")
    await ws.close()


async def test_client_close_reaches_websocket_close_with_code_and_reason(client, engine):
    ws = await connect(client, user="ann")
    await ask(ws, "hello")
    await ws.close(code=4321, message=b"leaving")
    stub = engine.namespace("Room").get_by_name("r")  # the close is answered once websocket_close ran
    assert await stub.closed() == [4321, "leaving", True, "ann"]
    assert engine.websockets.open_count == 0


async def test_object_close_gives_the_client_its_code(client, engine):
    ws = await connect(client)
    await ws.send_str("close")
    msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4000 and msg.extra == "bye"
    assert engine.websockets.open_count == 0


async def test_fetch_that_does_not_accept_answers_with_its_response(client, engine):
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await connect(client, refuse="1")
    assert info.value.status == 403
    resp = await client.get("/ws/Room/r/chat", headers=AUTH)
    assert resp.status == 400
    assert "WebSocket route" in (await resp.json())["error"]["message"]


async def test_the_fetch_route_with_upgrade_is_a_websocket_too(client, engine):
    ws = await client.ws_connect("/fetch/Room/r/x", headers=AUTH)
    assert await ask(ws, "hi") == "echo:hi"
    await ws.close()


async def test_a_handler_that_raises_leaves_the_socket_open(client, engine):
    ws = await connect(client)
    await ws.send_str("boom")
    assert await ask(ws, "after") == "echo:after"
    assert engine.websockets.counters["websocket_handler_errors"] == 1
    await ws.close()


async def test_abort_ends_every_connection_of_the_object_as_workerd_does(client, engine):
    """ctx.abort() drops the object's connections (the clients see 1006, no close frame) and
    runs no websocket_close; another object's sockets stay; the client reconnects."""
    sub = engine.subscribe()
    a, b = await connect(client, user="ann"), await connect(client, user="bob")
    other = await connect(client, name="other")
    await a.send_str("abort")
    for ws in (a, b):
        msg = await ws.receive(timeout=10)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR), msg
        assert ws.close_code == 1006
    assert await ask(other, "all") == "1"
    assert engine.websockets.count_of(("Room", engine.namespace("Room").id_from_name("r").hex)) == 0
    assert await engine.namespace("Room").get_by_name("r").closed() is None  # no websocket_close ran
    closed = [e for e in sub.drain() if e["type"] == "websocket.closed"]
    assert [(e["code"], e["by"], e["was_clean"]) for e in closed] == [(1006, "reset", False)] * 2
    again = await connect(client, user="ann")
    assert await ask(again, "all") == "1"
    for ws in (again, other):
        await ws.close()


async def test_a_failed_block_concurrency_while_ends_the_objects_connections_too(client, engine):
    a, b = await connect(client, user="ann"), await connect(client, user="bob")
    await a.send_str("bcwthrow")
    for ws in (a, b):
        msg = await ws.receive(timeout=10)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR) and ws.close_code == 1006, msg
    again = await connect(client)
    assert await ask(again, "all") == "1"
    await again.close()


async def test_abort_in_fetch_after_accepting_answers_the_upgrade_with_the_error(client, engine):
    sub = engine.subscribe()
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await connect(client, abort="1")
    assert exc.value.status == 500
    closed = [e for e in sub.drain() if e["type"] == "websocket.closed"]
    assert [(e["by"], e["name"]) for e in closed] == [("reset", "r")]  # the event names the object
    ws = await connect(client)
    assert await ask(ws, "all") == "1"
    await ws.close()


LATE_RESET = """
    import asyncio
    from dotui import DurableObject

    class Lobby(DurableObject):
        async def fetch(self, request):
            self.ctx.accept_websocket(request["websocket"])
            wait = request["query"].get("wait")

            async def reset_soon():  # any reset landing after fetch returned, before or after the handshake
                await asyncio.sleep(float(wait)) if wait else await asyncio.sleep(0)
                try:
                    self.ctx.abort("reset between fetch and the handshake")
                except Exception:
                    pass

            asyncio.get_running_loop().create_task(reset_soon())
            return {"status": 101}

        async def websocket_message(self, ws, message):
            ws.send("echo:" + message)
"""


async def test_a_reset_right_after_fetch_accepted_never_leaves_a_dead_open_socket(tmp_path):
    objects = write_objects(tmp_path / "objects", lobby=LATE_RESET)
    async with Engine(objects=str(objects), data=str(tmp_path / "data")) as engine:
        client = TestClient(TestServer(make_app(engine, TOKEN)))
        await client.start_server()
        try:
            for wait in ("", "0.05"):  # before the handshake is answered; after it
                try:
                    ws = await client.ws_connect("/ws/Lobby/l/x", headers=AUTH, params={"wait": wait} if wait else {})
                except aiohttp.WSServerHandshakeError as exc:
                    assert not wait and exc.status == 500  # refused: the object was reset
                    continue
                msg = await ws.receive(timeout=10)  # the connection ends; it never hangs open unanswered
                assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR), msg
                assert ws.close_code == 1006
            assert engine.websockets.open_count == 0
        finally:
            await client.close()


def test_abort_ends_an_in_process_socket_too(tmp_path):
    from dotui.ops import LocalEngine

    with LocalEngine(str(write_objects(tmp_path / "objects", room=ROOM)), str(tmp_path / "data")) as fe:
        sock = fe.open_websocket("Room", "r", "/?user=ann")
        sock.send("abort")
        assert sock.closed is not None and sock.closed[0] == 1006 and "reset" in sock.closed[1]
        try:
            sock.send("hello")
        except ConnectionError as exc:
            assert "closed" in str(exc)
        else:
            raise AssertionError("a socket of an aborted object still took a message")


async def test_reload_keeps_sockets_open(client, engine):
    ws = await connect(client, user="ann", tags="t")
    await ask(ws, "count")
    await engine.reload()
    again = json.loads(await ask(ws, "count"))
    assert again["n"] == 2 and again["seen"] == 1 and again["attachment"]["user"] == "ann"
    assert json.loads(await ask(ws, "tags")) == ["t"]
    await ws.close()


async def test_gateway_stop_closes_clients_with_going_away(engine):
    server = TestServer(make_app(engine, TOKEN))
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.make_url("/ws/Room/r/x"), headers=AUTH)
        assert await ask(ws, "hi") == "echo:hi"
        stopping = asyncio.ensure_future(server.close())
        msg = await ws.receive(timeout=10)
        await stopping
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
    assert engine.websockets.open_count == 0


async def test_events_for_accept_message_and_close(client, engine):
    sub = engine.subscribe()
    ws = await connect(client, tags="x")
    await ask(ws, "hello")
    await ws.close()
    types = [e["type"] for e in sub.drain() if e["type"].startswith("websocket.")]
    assert types == ["websocket.accepted", "websocket.message", "websocket.closed"]


async def test_a_send_after_a_write_never_leaves_if_the_write_fails_to_commit(tmp_path):
    objects = write_objects(tmp_path / "objects", room=ROOM)
    async with Engine(objects=str(objects), data=str(tmp_path / "data"), log_class=FailingLog) as engine:
        client = TestClient(TestServer(make_app(engine, TOKEN)))
        await client.start_server()
        try:
            ws = await connect(client)
            assert json.loads(await ask(ws, "count"))["n"] == 1
            FailingLog.failing = True
            await ws.send_str("count")  # writes n=2, then sends it: held by the output gate; the commit fails
            msg = await ws.receive(timeout=10)
        finally:
            FailingLog.failing = False
            await client.close()
        # The message never left; the object was reset, and, as on workerd, its connections end.
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR) and ws.close_code == 1006, msg
        assert await engine.namespace("Room").get_by_name("r").count() == 1


@pytest.mark.slow
async def test_a_thousand_sockets_on_a_hundred_hibernated_objects_all_get_answers(engine):
    client = TestClient(TestServer(make_app(engine, TOKEN)), connector=aiohttp.TCPConnector(limit=0))
    await client.start_server()
    sockets = []
    for i in range(100):
        for j in range(10):
            sockets.append((i, j, await connect(client, name=f"room{i}", user=f"u{j}")))
    assert await engine.hibernate_all() == 100
    assert engine.stats()["live"] == 0 and engine.websockets.open_count == 1000

    async def one(i, j, ws):
        return i, j, json.loads(await ask(ws, "count"))

    answers = await asyncio.gather(*(one(i, j, ws) for i, j, ws in sockets))
    for _i, j, answer in answers:
        assert answer["attachment"]["user"] == f"u{j}"
    by_room = {}
    for i, _, answer in answers:
        by_room.setdefault(i, []).append(answer["n"])
    assert all(sorted(ns) == list(range(1, 11)) for ns in by_room.values())
    assert engine.stats()["live"] == 100
    await asyncio.gather(*(ws.close() for _, _, ws in sockets))
    await client.close()


async def test_a_message_over_1_mib_ends_the_connection_with_1009(client, engine):
    ws = await connect(client, user="big")
    sub = engine.subscribe(predicate=lambda e: e["type"] == "websocket.closed")
    await ws.send_str("x" * ((1 << 20) + 1))
    msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1009
    closed = await asyncio.wait_for(sub.get(), 10)  # the gateway's side of the close, after the client's
    assert closed["code"] == 1009 and engine.websockets.open_count == 0
    reason = "a message of more than 1,048,576 bytes (1,048,577 announced)"  # the client's close frame says the same
    assert msg.extra == reason
    assert await engine.namespace("Room").get_by_name("r").closed() == [1009, reason, False, "big"]


async def test_close_codes_and_attachment_limits_are_workerds(engine):
    oid = engine.namespace("Room").id_from_name("limits")
    got = {}

    class Peer:
        def send(self, data, after):
            pass

        def close(self, code, reason, after):
            got["closed"] = code

    ws, _ = await engine.websockets.open("Room", oid, {"query": {}, "path": "/"}, Peer())

    def attempt(fn):
        try:
            fn()
            return "ok"
        except Exception as exc:  # noqa: BLE001 - the test reads the refusal's message
            return str(exc)

    for code in (999, 1004, 1005, 1006, 1015, 5000):
        assert attempt(lambda code=code: ws.close(code)).startswith(f"Invalid WebSocket close code: {code}.")
    assert attempt(lambda: ws.serialize_attachment("x" * 16382)) == "ok"  # 16,384 bytes as JSON
    assert attempt(lambda: ws.serialize_attachment("x" * 16383)).startswith(
        "A WebSocket 'attachment' cannot be larger than 16384 bytes. 'attachment' was 16385 bytes"
    )
    assert attempt(lambda: ws.serialize_attachment({1, 2})).startswith("serialize_attachment takes a JSON")
    ws.close(2999)
    assert got == {"closed": 2999}
    assert attempt(lambda: ws.send("late")) == "Can't call WebSocket send() after close()."


async def test_the_idle_sweeper_hibernates_an_object_with_sockets_open(tmp_path):
    objects = write_objects(tmp_path / "objects", room=ROOM)
    async with Engine(objects=str(objects), data=str(tmp_path / "data"), idle_timeout=0.2) as engine:
        client = TestClient(TestServer(make_app(engine, TOKEN)))
        await client.start_server()
        try:
            ws = await connect(client, user="ann")
            sub = engine.subscribe(predicate=lambda e: e["type"] == "state" and e["new"] == "hibernated")
            assert json.loads(await ask(ws, "count"))["seen"] == 1
            await asyncio.wait_for(sub.get(), 30)  # idle past the timeout, sockets or not
            again = json.loads(await ask(ws, "count"))
            assert (again["n"], again["seen"], again["attachment"]["user"]) == (2, 1, "ann")
            await ws.close()
        finally:
            await client.close()


async def test_a_crash_ends_every_connection_even_of_hibernated_objects(tmp_path):
    objects = write_objects(tmp_path / "objects", room=ROOM)
    engine = Engine(objects=str(objects), data=str(tmp_path / "data"))
    await engine.__aenter__()
    client = TestClient(TestServer(make_app(engine, TOKEN)))
    await client.start_server()
    try:
        awake, asleep = await connect(client, name="awake"), await connect(client, name="asleep")
        assert await ask(awake, "hi") == "echo:hi" and await ask(asleep, "hi") == "echo:hi"
        await engine.hibernate("Room", engine.namespace("Room").id_from_name("asleep"))
        await engine.crash()
        for ws in (awake, asleep):
            msg = await ws.receive(timeout=10)
            assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR) and ws.close_code == 1006, msg
        assert engine.websockets.open_count == 0
    finally:
        await client.close()


@pytest.mark.hostile
async def test_an_attachment_nested_past_the_bound_is_a_type_error_never_a_recursion_error(engine):
    from dotui.engine.values import MAX_DEPTH

    class Peer:
        def send(self, data, after):
            pass

        def close(self, code, reason, after):
            pass

    oid = engine.namespace("Room").id_from_name("deep")
    ws, _ = await engine.websockets.open("Room", oid, {"query": {}, "path": "/"}, Peer())

    def nested(depth):
        value = 1
        for _ in range(depth):
            value = [value]
        return value

    ws.serialize_attachment(nested(MAX_DEPTH))  # the bound itself, as storage takes it
    assert ws.deserialize_attachment() == nested(MAX_DEPTH)
    for depth in (MAX_DEPTH + 1, 978, 10**5):
        with pytest.raises(TypeError, match=f"at most {MAX_DEPTH} deep"):
            ws.serialize_attachment(nested(depth))
    assert ws.deserialize_attachment() == nested(MAX_DEPTH)  # the refused ones left it as it was
