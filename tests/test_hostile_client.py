"""The ``--connect`` client trusts nothing a gateway answers (docs/trust.md, "The `--connect` client").

A fake gateway (aiohttp, in a thread) answers what each test tells it to: answers too large to hold, redirects
to another origin, errors whose ``details`` name attributes of the exception's machinery, bodies that are not
JSON or are nested too deep. The client must answer each with a named error, and a front end with one line
and exit 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotui.engine.errors import DurableObjectError, MethodNotFoundError, NamespaceNotFoundError, RemoteError
from dotui.ops import remote as client_module
from dotui.server import BadAnswerError, GatewayAuthError, RemoteEngine

pytestmark = pytest.mark.hostile

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
INFO = {"data_dir": "/nowhere/.dotui", "objects_dir": "/nowhere/objects", "load_errors": [], "namespaces": []}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeGateway:
    """An aiohttp server on loopback in its own thread; ``answer`` is the handler of every request.

    ``/admin/info`` answers a sound ``info`` unless ``answer_info`` is set, so a client can start.
    ``requests`` lists (method, path, body) of every request seen.
    """

    def __init__(self) -> None:
        self.answer: Handler = self._ok
        self.answer_info: Handler | None = None
        self.requests: list[tuple[str, str, bytes]] = []
        self.sent = 0  # bytes a streaming answer wrote before the client went away
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = self._call(self._start())

    def _call(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}"
        return runner

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, await request.read()))
        if request.path == "/admin/info" and self.answer_info is None:
            return web.json_response({"result": INFO})
        if request.path == "/admin/info":
            return await self.answer_info(request)
        return await self.answer(request)

    @staticmethod
    async def _ok(request: web.Request) -> web.Response:
        return web.json_response({"result": "ok"})

    def paths(self) -> list[str]:
        return [p for _, p, _ in self.requests]

    def close(self) -> None:
        self._call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def gateway():
    g = FakeGateway()
    yield g
    g.close()


@pytest.fixture
def other():
    """A second server: the origin a redirect points at."""
    g = FakeGateway()
    yield g
    g.close()


def client(gateway: FakeGateway, **kw) -> RemoteEngine:
    return RemoteEngine(gateway.url, "token", retries=1, **kw).start()


def raw(body: bytes, status: int = 200, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, headers={"Content-Type": "application/json", **headers})

    return handler


# ---------------------------------------------------------------- the size of an answer
def test_an_answer_larger_than_the_cap_is_refused_naming_the_cap(gateway):
    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        chunk = b"[" + b"1," * (MiB // 2)
        try:
            while gateway.sent < 4 * client_module.ANSWER_LIMIT:
                await resp.write(chunk)
                gateway.sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    gateway.answer = endless
    with client(gateway) as remote:
        with pytest.raises(BadAnswerError) as caught:
            remote.stats()
    message = str(caught.value)
    assert "64 MiB" in message and "GET /admin/stats" in message and gateway.url in message
    # The client stopped reading at the cap: what the server managed to write beyond it sat in socket buffers.
    assert gateway.sent < client_module.ANSWER_LIMIT + 32 * MiB


@pytest.mark.slow
def test_a_declared_length_over_the_cap_is_refused_before_reading(gateway):
    async def liar(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": str(3 << 30)})
        await resp.prepare(request)
        await resp.write(b"{")
        await asyncio.sleep(30)  # never sends the rest: a client waiting for it would hang
        return resp

    gateway.answer = liar
    with client(gateway) as remote:
        with pytest.raises(BadAnswerError, match=r"3072 MiB.*64 MiB"):
            remote.stats()  # refused from the head: the server never sends the body, and sleeps


def test_the_cap_is_a_parameter_and_listings_of_every_object_have_a_larger_one(gateway):
    body = json.dumps({"result": {"objects": [], "hibernated": {}, "pad": "x" * (2 * MiB)}}).encode()
    gateway.answer = raw(body)
    with client(gateway, max_answer=MiB, max_listing=4 * MiB) as remote:
        assert remote.instance_table()["objects"] == []  # 2 MiB: within the listing cap
        with pytest.raises(BadAnswerError, match="1 MiB"):
            remote.stats()  # the same 2 MiB: over the cap of one answer
    assert client_module.LISTING_LIMIT > client_module.ANSWER_LIMIT


def test_a_compressed_answer_is_capped_at_its_decompressed_size(gateway):
    import zlib

    squeezed = zlib.compress(b'{"result": "' + b"a" * (8 * MiB) + b'"}')  # ~8 KiB on the wire
    gateway.answer = raw(squeezed, **{"Content-Encoding": "deflate"})
    with client(gateway, max_answer=MiB) as remote:
        with pytest.raises(BadAnswerError, match="1 MiB"):
            remote.stats()


# ---------------------------------------------------------------- redirects
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_never_followed(gateway, other, status):
    async def away(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": other.url + "/stolen"})

    gateway.answer = away
    with client(gateway) as remote:
        with pytest.raises(BadAnswerError, match=f"redirect.*{status}.*{other.url}/stolen"):
            remote.call("Counter", "alice", "increment", [5])
        with pytest.raises(BadAnswerError, match="redirect"):
            remote.stats()
    assert other.requests == []  # neither the body nor the token went there


def test_the_event_stream_does_not_follow_a_redirect(gateway, other):
    async def away(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": other.url + "/admin/events"})

    gateway.answer = away
    with client(gateway) as remote:
        with pytest.raises(BadAnswerError, match="redirect"):
            remote.subscribe()
        with pytest.raises(BadAnswerError, match="redirect"):
            remote.open_websocket("Counter", "alice")
    assert other.requests == []


# ---------------------------------------------------------------- errors rebuilt from their JSON
def error_answer(error: Any, status: int = 500) -> Handler:
    return raw(json.dumps({"error": error}).encode(), status)


def test_details_cannot_set_the_machinery_of_an_exception(gateway):
    gateway.answer = error_answer(
        {
            "type": "MethodNotFoundError",
            "engine": True,
            "message": "no method 'x'",
            "details": {
                "__class__": "builtins.str",
                "__dict__": {"method": "forged"},
                "__traceback__": 5,
                "with_traceback": None,
                "args": ["forged"],
                "method": "x",
                "namespace": "Counter",
                "callable_methods": ["increment", "peek"],
                "extra": "ignored",
            },
        },
        404,
    )
    with client(gateway) as remote:
        with pytest.raises(MethodNotFoundError) as caught:
            remote.call("Counter", "alice", "x")
    exc = caught.value
    assert type(exc) is MethodNotFoundError and str(exc) == "no method 'x'"
    assert (exc.namespace, exc.method, exc.callable_methods) == ("Counter", "x", ["increment", "peek"])
    assert not hasattr(exc, "extra") and exc.args == ("no method 'x'",)
    assert exc.__traceback__ is None or not isinstance(exc.__traceback__, int)


def test_details_of_the_wrong_type_are_dropped_not_applied(gateway):
    gateway.answer = error_answer(
        {
            "type": "NamespaceNotFoundError",
            "engine": True,
            "message": "no namespace 'Q'",
            "details": {"name": ["not", "a", "str"], "known": "Counter"},
        },
        404,
    )
    with client(gateway) as remote:
        with pytest.raises(NamespaceNotFoundError) as caught:
            remote.call("Q", "alice", "x")
    assert caught.value.name == "" and caught.value.known == []  # the fields, typed, empty


@pytest.mark.parametrize(
    "error",
    [
        5,
        "text",
        [],
        None,
        {"type": ["x"], "message": {"m": 1}},
        {"type": "MethodNotFoundError", "engine": True, "details": "x"},
        {"type": "DurableObjectError", "engine": True, "details": [1, 2]},
        {"type": "__class__", "engine": True},
        {"type": "x" * 10_000, "message": "m" * 10},
        {"type": "StopIteration", "message": "stop"},
    ],
)
def test_an_error_answer_of_any_shape_is_a_named_error(gateway, error):
    gateway.answer = error_answer(error)
    with client(gateway) as remote:
        with pytest.raises((RemoteError, DurableObjectError, BadAnswerError)) as caught:
            remote.call("Counter", "alice", "x")
    assert len(str(caught.value)) < 2000


@pytest.mark.slow
def test_a_hostile_gateway_makes_the_cli_print_one_error_not_a_traceback(gateway):
    gateway.answer = error_answer(
        {
            "type": "MethodNotFoundError",
            "engine": True,
            "message": "m",
            "details": {"__class__": 1, "callable_methods": 7},
        },
        404,
    )
    gateway.answer_info = raw(b"[" * 200_000)
    proc = _cli(gateway, "-c", "stats")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and gateway.url in proc.stderr and "JSON" in proc.stderr
    gateway.answer_info = None
    proc = _cli(gateway, "-c", "Counter/alice.x()")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "error: " in proc.stderr, proc.stderr


def _cli(gateway: FakeGateway, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOTUI_TOKEN": "token"}
    return subprocess.run(
        [sys.executable, "-m", "dotui.cli", "--connect", gateway.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


# ---------------------------------------------------------------- any answer at all (fuzz)
def _bodies() -> st.SearchStrategy[bytes]:
    sound = json.dumps({"result": {"live": 1, "hibernated": 2}}).encode()
    return st.one_of(
        st.binary(max_size=300),
        st.integers(0, len(sound)).map(lambda n: sound[:n]),  # truncated
        st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n),  # deep
        st.integers(1, 200_000).map(lambda n: b'{"error":' * n),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "result",
                            "error",
                            "type",
                            "message",
                            "engine",
                            "details",
                            "__class__",
                            "__dict__",
                            "method",
                            "name",
                            "known",
                            "callable_methods",
                        ]
                    ),
                    inner,
                    max_size=5,
                )
            ),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
    )


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies(), status=st.sampled_from([200, 400, 404, 500, 503, 418]))
def test_any_answer_is_a_value_or_a_named_error(gateway, body, status):
    gateway.answer = raw(body, status)
    remote = _fuzzed_client(gateway)
    try:
        remote.stats()
    except (RemoteError, DurableObjectError, BadAnswerError, GatewayAuthError) as exc:
        assert str(exc) or type(exc).__name__ not in ("Error", "RemoteError")  # a named error, or a message
    except Exception as exc:  # noqa: BLE001 - the assertion says what leaked
        pytest.fail(f"{type(exc).__name__} leaked from an answer of {len(body)} bytes: {exc!r:.300}")


_clients: dict[int, RemoteEngine] = {}


def _fuzzed_client(gateway: FakeGateway) -> RemoteEngine:
    remote = _clients.get(id(gateway))
    if remote is None:
        remote = _clients[id(gateway)] = client(gateway)
    return remote


@pytest.fixture(autouse=True)
def _close_fuzzed_clients():
    yield
    while _clients:
        _clients.popitem()[1].close()
