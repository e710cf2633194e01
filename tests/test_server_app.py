"""The gateway's routes, with aiohttp's test client: every route, every status, every auth case."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from dotui import Engine
from dotui.ops import OPERATIONS
from dotui.server import make_app
from server_support import write_server_objects
from tests.conftest import eventually

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def engine(tmp_path):
    objects = write_server_objects(tmp_path / "objects")
    async with Engine(objects=str(objects), data=str(tmp_path / "data"), idle_timeout=60, max_queue=2) as e:
        yield e


async def _client(engine, **app_options) -> TestClient:
    # handler_cancellation: a client that goes away cancels its handler, so the
    # tests show that the object's call survives that anyway (asyncio.shield).
    client = TestClient(TestServer(make_app(engine, TOKEN, **app_options), handler_cancellation=True))
    await client.start_server()
    return client


@pytest.fixture
async def client(engine):
    c = await _client(engine)
    yield c
    await c.close()


async def post(client, path, body=None, *, data=None, headers=AUTH):
    if body is not None:
        data = json.dumps(body)
    resp = await client.post(path, data=data, headers=headers)
    return resp.status, await resp.json()


async def get(client, path, headers=AUTH, **params):
    resp = await client.get(path, params=params, headers=headers)
    return resp.status, await resp.json()


def error_of(body):
    return body["error"]["type"], body["error"]["message"]


# ================================================================ access
ROUTES = [
    ("GET", "/"),
    ("POST", "/objects/Counter/alice/increment"),
    ("POST", "/objects/Counter/id/" + "0" * 64 + "/increment"),
    ("GET", "/fetch/Web/site/text"),
    ("GET", "/admin/events"),
    ("GET", "/no/such/route"),
] + [(op.verb, op.path) for op in OPERATIONS.values()]


@pytest.mark.parametrize("verb,path", ROUTES)
async def test_every_route_needs_the_token(client, engine, verb, path):
    resp = await client.request(verb, path)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(await resp.json())[0] == "Unauthorized"
    resp = await client.request(verb, path, headers={"Authorization": "Bearer not-the-token"})
    assert resp.status == 403
    assert error_of(await resp.json())[0] == "Forbidden"
    assert engine.instances() == []  # nothing ran for either


async def test_the_right_token_is_let_in_and_other_schemes_are_not(client):
    status, body = await get(client, "/")
    assert status == 200
    paths = {r["path"] for r in body["result" if "result" in body else "routes"]}
    assert "/objects/{namespace}/{name}/{method}" in paths and "/admin/call" in paths
    resp = await client.get("/", headers={"Authorization": f"Basic {TOKEN}"})
    assert resp.status == 401
    resp = await client.get("/", headers={"Authorization": f"bearer {TOKEN}"})
    assert resp.status == 200


# ================================================================ object calls
async def test_call_by_name_with_no_body_args_and_kwargs(client):
    assert await post(client, "/objects/Counter/alice/increment") == (200, {"result": 1})
    assert await post(client, "/objects/Counter/alice/increment", {"args": [5]}) == (200, {"result": 6})
    assert await post(client, "/objects/Counter/alice/increment", {"kwargs": {"by": 10}}) == (200, {"result": 16})
    status, body = await post(
        client, "/objects/Counter/alice/echo", {"args": [1, [2], {"x": None}], "kwargs": {"k": "v"}}
    )
    assert body == {"result": {"args": [1, [2], {"x": None}], "kwargs": {"k": "v"}}}
    assert await post(client, "/objects/Counter/bob/peek") == (200, {"result": 0})


async def test_call_by_id_reaches_the_same_object_as_by_name(client, engine):
    await post(client, "/objects/Counter/alice/increment", {"args": [7]})
    hx = engine.namespace("Counter").id_from_name("alice").hex
    assert await post(client, f"/objects/Counter/id/{hx}/peek") == (200, {"result": 7})
    unique = engine.namespace("Counter").new_unique_id().hex
    assert await post(client, f"/objects/Counter/id/{unique}/increment") == (200, {"result": 1})


async def test_a_name_may_hold_a_slash_when_encoded(client, engine):
    assert await post(client, "/objects/Counter/team%2Fblue/increment") == (200, {"result": 1})
    assert any(i["name"] == "team/blue" for i in engine.instances("Counter"))


@pytest.mark.parametrize(
    "data,fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"args": {"by": 1}}', '"args" must be a JSON list'),
        ('{"kwargs": [1]}', '"kwargs" must be a JSON object'),
        ('{"arg": [1]}', "unknown field 'arg'"),
        ('{"args": [NaN]}', "NaN"),
    ],
)
async def test_bad_bodies_are_400_and_run_nothing(client, engine, data, fragment):
    status, body = await post(client, "/objects/Counter/alice/increment", data=data)
    assert status == 400
    kind, message = error_of(body)
    assert kind == "BadRequest" and fragment in message
    assert engine.instances() == []


async def test_arguments_the_signature_refuses_are_400_typeerror(client, engine):
    status, body = await post(client, "/objects/Counter/alice/increment", {"args": [1, 2]})
    assert status == 400
    kind, message = error_of(body)
    assert kind == "TypeError"
    assert "Counter.increment(by: int = 1)" in message and "too many positional arguments" in message
    status, body = await post(client, "/objects/Counter/alice/fail", {"kwargs": {"nope": 1}})
    assert status == 400 and "missing a required argument: 'message'" in error_of(body)[1]
    assert engine.instances() == []


async def test_a_call_that_fitted_does_not_let_a_different_shape_through(client, engine):
    """The gateway remembers which argument counts and names a method took; only those skip the check."""
    for payload in ({"args": [2]}, {"kwargs": {"by": 3}}, {"args": []}):
        status, _ = await post(client, "/objects/Counter/ivy/increment", payload)
        assert status == 200
    for payload, fragment in (
        ({"args": [1, 2]}, "too many positional arguments"),
        ({"kwargs": {"step": 3}}, "unexpected keyword argument 'step'"),
        ({"args": [1], "kwargs": {"by": 3}}, "multiple values for argument 'by'"),
    ):
        status, body = await post(client, "/objects/Counter/ivy/increment", payload)
        assert status == 400 and fragment in error_of(body)[1], payload
    status, body = await post(client, "/objects/Counter/ivy/peek")
    assert status == 200 and body["result"] == 6


async def test_unknown_namespace_method_and_bad_ids_are_404(client, engine):
    status, body = await post(client, "/objects/Nope/alice/increment")
    assert status == 404 and error_of(body)[0] == "NamespaceNotFoundError"
    assert "namespaces: Counter, Ledger, Web" in error_of(body)[1]
    assert body["error"]["details"] == {"name": "Nope", "known": ["Counter", "Ledger", "Web"]}
    for method in ("nope", "_private", "alarm"):
        status, body = await post(client, f"/objects/Counter/alice/{method}")
        assert status == 404 and error_of(body)[0] == "MethodNotFoundError"
        assert "callable methods: " in error_of(body)[1] and "increment" in error_of(body)[1]
    status, body = await post(client, "/objects/Counter/id/xyz/increment")
    assert status == 404
    assert error_of(body) == ("InvalidIdError", "Invalid Durable Object ID: must be 64 hex digits")
    other = engine.namespace("Ledger").id_from_name("alice").hex
    status, body = await post(client, f"/objects/Counter/id/{other}/increment")
    assert status == 404
    assert error_of(body) == ("InvalidIdError", "Durable Object ID is not valid for this namespace.")
    status, body = await post(client, "/nowhere")
    assert status == 404 and error_of(body)[0] == "NotFound" and "/objects/{Namespace}" in error_of(body)[1]
    assert engine.instances() == []


async def test_a_wrong_http_method_is_405_with_allow(client):
    resp = await client.get("/objects/Counter/alice/increment", headers=AUTH)
    assert resp.status == 405
    assert resp.headers["Allow"] == "POST"
    assert error_of(await resp.json())[0] == "MethodNotAllowed"


async def test_a_method_that_raises_is_500_with_type_and_message_only(client, engine):
    resp = await client.post("/objects/Counter/alice/fail", json={"args": ["out of cheese"]}, headers=AUTH)
    assert resp.status == 500
    text = await resp.text()
    assert json.loads(text) == {"error": {"type": "ValueError", "message": "out of cheese", "engine": False}}
    assert "Traceback" not in text and ".py" not in text


async def test_an_engine_error_raised_inside_the_method_is_500_not_404(client):
    status, body = await post(client, "/objects/Counter/alice/ask_nowhere")
    assert status == 500  # the URL was right; the method's own call went nowhere
    assert error_of(body)[0] == "NamespaceNotFoundError" and body["error"]["engine"] is True


async def test_a_body_over_the_limit_is_413(engine):
    client = await _client(engine, max_body=1000)
    try:
        resp = await client.post("/objects/Counter/alice/echo", data=json.dumps({"args": ["x" * 2000]}), headers=AUTH)
        assert resp.status == 413
        kind, message = error_of(await resp.json())
        assert kind == "PayloadTooLarge" and "1,000 bytes" in message
        assert engine.instances() == []
        assert (await post(client, "/objects/Counter/alice/echo", {"args": ["x" * 500]}))[0] == 200
    finally:
        await client.close()


async def test_the_default_limit_is_one_mebibyte(client):
    big = json.dumps({"args": ["x" * (1 << 20)]})
    resp = await client.post("/objects/Counter/alice/echo", data=big, headers=AUTH)
    assert resp.status == 413 and "1,048,576 bytes" in error_of(await resp.json())[1]
    fits = json.dumps({"args": ["x" * 100_000]})
    assert (await client.post("/objects/Counter/alice/echo", data=fits, headers=AUTH)).status == 200


async def _wait_for(predicate):
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the engine never got there")


async def test_an_overloaded_object_is_503_with_retry_after(client, engine):
    oid = engine.namespace("Counter").id_from_name("busy")
    holder = asyncio.ensure_future(post(client, "/objects/Counter/busy/hold", {"args": [1.0]}))
    await _wait_for(lambda: any(c["method"] == "hold" for c in engine.queue("Counter", oid)))
    queued = [asyncio.ensure_future(post(client, "/objects/Counter/busy/increment")) for _ in range(2)]
    await _wait_for(lambda: engine.instance_info("Counter", oid)["queued"] == 2)  # max_queue=2
    resp = await client.post("/objects/Counter/busy/increment", headers=AUTH)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert error_of(await resp.json()) == ("OverloadedError", "Durable Object is overloaded. Too many requests queued.")
    assert await holder == (200, {"result": "held"})
    assert sorted([(await q)[1]["result"] for q in queued]) == [1, 2]


async def test_a_client_that_goes_away_does_not_cancel_the_call(client, engine):
    oid = engine.namespace("Counter").id_from_name("patient")
    with pytest.raises(asyncio.TimeoutError):
        await client.post(
            "/objects/Counter/patient/slow",
            json={"args": [0.3]},
            headers=AUTH,
            timeout=aiohttp.ClientTimeout(total=0.05),
        )
    await _wait_for(lambda: any(c["method"] == "slow" for c in engine.history("Counter", oid)))
    [call] = [c for c in engine.history("Counter", oid) if c["method"] == "slow"]
    assert call["status"] == "done" and call["result"] == "done"
    assert engine.read_storage("Counter", oid)["values"]["slow_done"] is True


# ================================================================ fetch
async def test_fetch_passes_the_request_and_returns_the_response(client):
    resp = await client.post("/fetch/Web/site/echo?q=1&r=two", data="hello body", headers={**AUTH, "X-Custom": "yes"})
    assert resp.status == 200
    assert resp.headers["X-Seen"] == "POST"
    assert resp.headers["Content-Type"].startswith("application/json")
    req = await resp.json()
    assert req["method"] == "POST" and req["path"] == "/echo"
    assert req["query"] == {"q": "1", "r": "two"}
    assert req["headers"]["X-Custom"] == "yes"
    assert "Authorization" not in req["headers"]  # the gateway's token stays with the gateway
    assert req["body"] == "hello body" and req["body_base64"] is False
    assert req["url"].endswith("/fetch/Web/site/echo?q=1&r=two")


async def test_fetch_binary_bodies_travel_as_base64(client):
    raw = bytes([0xFF, 0x00, 0xFE])
    resp = await client.put("/fetch/Web/site/echo", data=raw, headers=AUTH)
    req = await resp.json()
    assert req["body_base64"] is True and base64.b64decode(req["body"]) == raw
    resp = await client.get("/fetch/Web/site/binary", headers=AUTH)
    assert resp.status == 201
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert await resp.read() == bytes(range(256))


async def test_fetch_str_answers_and_statuses(client, engine):
    resp = await client.get("/fetch/Web/site/text?name=ada", headers=AUTH)
    assert resp.status == 200 and await resp.text() == "hello ada"
    resp = await client.get("/fetch/Web/site/missing/page", headers=AUTH)
    assert resp.status == 404 and await resp.text() == "no page /missing/page"
    resp = await client.delete("/fetch/Web/site", headers=AUTH)
    assert resp.status == 404 and await resp.text() == "no page /"
    oid = engine.namespace("Web").id_from_name("site")
    assert engine.read_storage("Web", oid)["values"]["last_path"] == "/"


async def test_fetch_errors(client):
    resp = await client.get("/fetch/Web/site/boom", headers=AUTH)
    assert resp.status == 500
    assert error_of(await resp.json()) == ("RuntimeError", "boom at /boom")
    for path in ("bad", "bad-status"):
        resp = await client.get(f"/fetch/Web/site/{path}", headers=AUTH)
        assert resp.status == 502
        kind, message = error_of(await resp.json())
        assert kind == "BadFetchResponse" and "Web.fetch returned" in message
    resp = await client.get("/fetch/Counter/alice/x", headers=AUTH)
    assert resp.status == 404 and error_of(await resp.json())[0] == "MethodNotFoundError"
    resp = await client.get("/fetch/Nope/alice/x", headers=AUTH)
    assert resp.status == 404 and error_of(await resp.json())[0] == "NamespaceNotFoundError"


# ================================================================ admin
async def test_admin_reading_routes_answer_what_the_engine_says(client, engine):
    await post(client, "/objects/Counter/alice/increment", {"args": [3]})
    oid = engine.namespace("Counter").id_from_name("alice")
    target = {"namespace": "Counter", "ref": "alice"}
    status, body = await get(client, "/admin/info")
    assert status == 200
    assert body["result"]["data_dir"] == engine.data_dir and body["result"]["objects_dir"] == engine.objects_dir
    assert body["result"]["load_errors"] == []
    assert (await get(client, "/admin/namespaces"))[1]["result"] == engine.namespaces()
    assert (await get(client, "/admin/instances"))[1]["result"] == engine.instances()
    assert (await get(client, "/admin/instances", namespace="Web"))[1]["result"] == []
    assert (await get(client, "/admin/instances", state="live", limit="1"))[1]["result"] == engine.instances(
        state="live", limit=1
    )
    assert (await get(client, "/admin/instances", offset="1"))[1]["result"] == []
    status, body = await get(client, "/admin/instances", limit="-1")
    assert status == 400 and "'limit' must be a whole number >= 0" in error_of(body)[1]
    assert (await get(client, "/admin/instances/count"))[1]["result"] == engine.count_instances()
    assert (await get(client, "/admin/instances/count", namespace="Counter"))[1]["result"]["live"] == 1
    assert (await get(client, "/admin/instance", **target))[1]["result"] == engine.instance_info("Counter", oid)
    assert (await get(client, "/admin/resolve", namespace="Counter", ref="#" + oid.hex[:6]))[1]["result"] == {
        "namespace": "Counter",
        "id": oid.hex,
        "name": "alice",
    }
    storage = (await get(client, "/admin/storage", **target))[1]["result"]
    assert storage["values"] == {"n": 3} and storage == engine.read_storage("Counter", oid)
    assert (await get(client, "/admin/queue", **target))[1]["result"] == []
    history = (await get(client, "/admin/history", n="1", **target))[1]["result"]
    assert [h["method"] for h in history] == ["increment"] and history[0]["result"] == 3
    stats = (await get(client, "/admin/stats"))[1]["result"]
    assert stats["calls"] == engine.stats()["calls"] >= 1


@pytest.mark.slow
async def test_stats_count_the_tasks_on_the_engines_loop(client, engine):
    before = (await get(client, "/admin/stats"))[1]["result"]["asyncio_tasks"]
    slow = asyncio.ensure_future(post(client, "/objects/Counter/alice/slow", {"args": [3]}))

    async def running():
        return engine.stats()["running"] == 1

    assert await eventually(running)
    during = (await get(client, "/admin/stats"))[1]["result"]["asyncio_tasks"]
    assert during > before >= 1, (before, during)  # the suspended call is a task of its own
    assert await slow == (200, {"result": "done"})


async def test_admin_call_and_storage_edits(client, engine):
    assert await post(
        client, "/admin/call", {"namespace": "Counter", "ref": "alice", "method": "increment", "args": [2]}
    ) == (200, {"result": 2})
    target = {"namespace": "Counter", "ref": "alice"}
    assert (await get(client, "/admin/storage/key", key="n", **target)) == (200, {"result": 2})
    resp = await client.put(
        "/admin/storage/key", json={**target, "key": "greeting", "value": {"hi": [1]}}, headers=AUTH
    )
    assert resp.status == 200 and await resp.json() == {"result": None}
    assert (await get(client, "/admin/storage/key", key="greeting", **target))[1]["result"] == {"hi": [1]}
    resp = await client.delete("/admin/storage/key", params={**target, "key": "greeting"}, headers=AUTH)
    assert await resp.json() == {"result": True}
    resp = await client.delete("/admin/storage/key", params={**target, "key": "greeting"}, headers=AUTH)
    assert await resp.json() == {"result": False}
    oid = engine.namespace("Counter").id_from_name("alice")
    assert engine.read_storage("Counter", oid)["values"] == {"n": 2}
    edits = [h["method"] for h in engine.history("Counter", oid)]
    assert edits == ["increment", "storage.get", "storage.put", "storage.get", "storage.delete", "storage.delete"]


async def test_admin_bad_storage_edits_are_400_with_the_storage_error(client):
    target = {"namespace": "Counter", "ref": "alice"}
    resp = await client.put("/admin/storage/key", json={**target, "key": "k" * 3000, "value": 1}, headers=AUTH)
    assert resp.status == 400
    kind, message = error_of(await resp.json())
    assert kind == "ValueError" and "2048" in message.replace(",", "")
    resp = await client.put("/admin/storage/key", json={**target, "key": "k"}, headers=AUTH)
    assert resp.status == 400 and "missing 'value'" in error_of(await resp.json())[1]
    status, body = await get(client, "/admin/storage/key", **target)
    assert status == 400 and "missing 'key'" in error_of(body)[1]
    status, body = await get(client, "/admin/instance", namespace="Counter")
    assert status == 400 and "missing 'ref'" in error_of(body)[1]
    status, body = await get(client, "/admin/instance", namespace="Nope", ref="a")
    assert status == 404 and error_of(body)[0] == "NamespaceNotFoundError"
    status, body = await get(client, "/admin/instance", namespace="Counter", ref="#ffff")
    assert status == 404 and error_of(body)[0] == "InvalidIdError"
    status, body = await get(client, "/admin/history", n="many", **target)
    assert status == 400 and "'n' must be a whole number" in error_of(body)[1]


async def test_admin_alarms(client, engine):
    target = {"namespace": "Counter", "ref": "alice"}
    assert (await get(client, "/admin/alarm", **target))[1] == {"result": None}
    resp = await client.put("/admin/alarm", json={**target, "when": 4102444800}, headers=AUTH)
    assert await resp.json() == {"result": 4102444800.0}
    assert (await get(client, "/admin/alarm", **target))[1] == {"result": 4102444800.0}
    resp = await client.put("/admin/alarm", params={**target, "when": "2100-01-02T00:00:00Z"}, headers=AUTH)
    assert await resp.json() == {"result": 4102531200.0}
    resp = await client.put("/admin/alarm", json={**target, "when": "tomorrow"}, headers=AUTH)
    assert resp.status == 400
    kind, message = error_of(await resp.json())
    assert kind == "ValueError" and "give +SECONDS" in message
    resp = await client.delete("/admin/alarm", params=target, headers=AUTH)
    assert await resp.json() == {"result": None}
    assert (await get(client, "/admin/alarm", **target))[1] == {"result": None}
    resp = await client.put("/admin/alarm", json={"namespace": "Ledger", "ref": "a", "when": "+10"}, headers=AUTH)
    assert resp.status == 400 and "alarm()" in error_of(await resp.json())[1]


async def test_admin_lifecycle_routes(client, engine):
    await post(client, "/objects/Counter/alice/increment")
    await post(client, "/objects/Counter/bob/increment")
    target = {"namespace": "Counter", "ref": "alice"}
    assert await post(client, "/admin/hibernate", target) == (200, {"result": True})
    assert await post(client, "/admin/hibernate", target) == (200, {"result": False})
    status, body = await post(client, "/admin/wake", target)
    assert status == 200 and body["result"]["state"] == "live" and body["result"]["name"] == "alice"
    assert await post(client, "/admin/hibernate-all") == (200, {"result": 2})
    assert {i["state"] for i in engine.instances()} == {"hibernated"}
    assert await post(client, "/admin/flush") == (200, {"result": None})
    assert await post(client, "/admin/reload") == (200, {"result": []})
    assert await post(client, "/objects/Counter/alice/peek") == (200, {"result": 1})


async def test_admin_reload_reports_load_errors(client, engine, tmp_path):
    (tmp_path / "objects" / "broken.py").write_text("def oops(:\n")
    status, body = await post(client, "/admin/reload")
    assert status == 200 and len(body["result"]) == 1 and "broken.py:1" in body["result"][0]
    assert (await get(client, "/admin/info"))[1]["result"]["load_errors"] == body["result"]


# ================================================================ events
async def test_events_over_websocket(client):
    async with client.ws_connect("/admin/events", headers=AUTH) as ws:
        await post(client, "/objects/Counter/alice/increment", {"args": [4]})
        seen = []
        while not any(e["type"] == "call.finished" for e in seen):
            seen += await asyncio.wait_for(ws.receive_json(), 5)
    finished = next(e for e in seen if e["type"] == "call.finished")
    assert finished["namespace"] == "Counter" and finished["name"] == "alice"
    assert finished["method"] == "increment" and finished["result"] == 4


async def test_the_websocket_stream_is_bounded_and_says_what_it_lost(client, engine):
    ns = engine.namespace("Counter")
    oid = ns.id_from_name("burst")
    await engine.call("Counter", oid, "peek")
    async with client.ws_connect("/admin/events?maxlen=5", headers=AUTH) as ws:
        # 50 calls that never suspend: 100 events before the stream's sender can run once.
        for _ in range(50):
            await engine.call("Counter", oid, "peek")
        batch = await asyncio.wait_for(ws.receive_json(), 5)
    assert batch[0]["type"] == "events.lost" and batch[0]["count"] == 95
    assert [e["type"] for e in batch[1:]] == [
        "call.finished",
        "call.started",
        "call.finished",
        "call.started",
        "call.finished",
    ]


async def test_events_maxlen_must_be_positive(client):
    status, body = await get(client, "/admin/events", maxlen="0")
    assert status == 400 and "maxlen" in error_of(body)[1]


async def test_events_as_server_sent_events(client):
    resp = await client.get("/admin/events", headers=AUTH)
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    await post(client, "/objects/Counter/alice/increment")
    events = []
    while not any(e["type"] == "call.finished" for e in events):
        line = (await asyncio.wait_for(resp.content.readline(), 5)).decode()
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
    assert next(e for e in events if e["type"] == "call.finished")["result"] == 1
    resp.close()
