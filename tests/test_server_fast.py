"""The gateway's fast path for object calls (server/fast.py) answers exactly as the web application.

Each request goes once to a served gateway (fast path in front) and once to the
aiohttp application alone; status, body and the headers a client reads must be
the same. Requests the fast path does not take (another route, a bad token, a
chunked body, ...) reach the application on the same connection.
"""

from __future__ import annotations

import asyncio
import json
import socket
import textwrap
import threading
import time

import pytest
from aiohttp.test_utils import TestServer

from dotui.ops import LocalEngine
from dotui.server import make_app, start_gateway_thread
from server_support import read_answer, write_server_objects

TOKEN = "fast-path-token"
AUTH = f"Authorization: Bearer {TOKEN}\r\n"


@pytest.fixture
def served(tmp_path):
    """(fast gateway address, plain app address, engine): the same engine behind both."""
    objects = write_server_objects(tmp_path / "objects")
    local = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60).start()
    gateway = start_gateway_thread(local, "127.0.0.1", 0, TOKEN)
    plain = TestServer(make_app(local.engine, TOKEN), host="127.0.0.1")
    local.run(plain.start_server())
    yield ("127.0.0.1", gateway.port), ("127.0.0.1", plain.port), local
    local.run(plain.close())
    gateway.close()
    local.close()


def exchange(address, raw: bytes, answers: int = 1, timeout: float = 10.0) -> list[tuple[int, dict, bytes]]:
    """Send ``raw`` on one connection; read ``answers`` responses: (status, headers, body)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(raw)
        buf, out = b"", []
        while len(out) < answers:
            answer, buf = read_answer(sock, buf)
            assert answer is not None, f"connection closed after {len(out)} answers"
            out.append(answer)
        return out


def post(path: str, body: bytes | None = b'{"args": []}', auth: str = AUTH, extra: str = "") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if body is not None else ""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}{extra}{length}\r\n").encode() + (body or b"")


def same(served, raw: bytes, answers: int = 1) -> list[tuple[int, dict]]:
    fast, plain, _ = served
    mine = exchange(fast, raw, answers)
    theirs = exchange(plain, raw, answers)
    got = [(status, json.loads(body) if body else None) for status, _, body in mine]
    want = [(status, json.loads(body) if body else None) for status, _, body in theirs]
    assert got == want
    for (_, h1, _), (_, h2, _) in zip(mine, theirs, strict=False):
        assert h1.get("retry-after") == h2.get("retry-after")
        assert h1["content-type"].split(";")[0] == h2["content-type"].split(";")[0]
    return got


@pytest.mark.parametrize(
    "raw",
    [
        post("/objects/Counter/alice/echo", b'{"args": [1, "x"], "kwargs": {"k": [true, null]}}'),
        post("/objects/Counter/alice/echo", b""),
        post("/objects/Counter/a%2Fb/echo", b'{"args": ["slash"]}'),
        post("/objects/Counter/%C3%A9t%C3%A9/peek"),
        post("/objects/Counter/alice/echo?x=1", b'{"args": [2]}'),
        post("/objects/Counter/id/" + "0" * 64 + "/peek"),
        post("/objects/Counter/id/xyz/peek"),
        post("/objects/Counter/alice/nope"),
        post("/objects/Nope/alice/peek"),
        post("/objects/Counter/alice/_private"),
        post("/objects/Counter/alice/fail", b'{"args": ["boom"]}'),
        post("/objects/Counter/alice/ask_nowhere"),
        post("/objects/Counter/alice/echo", b"{not json"),
        post("/objects/Counter/alice/echo", b'{"args": 5}'),
        post("/objects/Counter/alice/echo", b'{"argz": []}'),
        post("/objects/Counter/alice/echo", b"[1]"),
        post("/objects/Counter/alice/echo", b'{"args": [NaN]}'),
        post("/objects/Counter/alice/peek", b'{"args": [1, 2, 3]}'),
        post("/objects/Counter/alice/echo", auth=""),
        post("/objects/Counter/alice/echo", auth="Authorization: Bearer wrong\r\n"),
        post("/objects/Counter/alice/echo", auth=f"Authorization: bearer {TOKEN}\r\n"),
        post("/objects/Counter/alice/echo", b"x" * (2 << 20)),
        post("/objects/Counter//echo"),
        post("/objects/Counter/alice/echo/more"),
        b"GET /objects/Counter/alice/peek HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"\r\n",
        b"GET /admin/stats HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"\r\n",
        post("/objects/Counter/alice/echo", None, extra="Transfer-Encoding: chunked\r\n") + b'4\r\n{"a"\r\n0\r\n\r\n',
    ],
    ids=lambda raw: raw.split(b"\r\n")[0].decode()[:60] + f"-{len(raw)}",
)
def test_every_answer_is_the_applications(served, raw):
    same(served, raw)


def test_an_overloaded_object_is_503_with_retry_after(served):
    fast, _, local = served
    local.engine.max_queue = 0  # every call that must wait is refused
    hold = post("/objects/Counter/bob/hold", b'{"args": [0.5]}')
    with socket.create_connection(fast) as sock:
        sock.sendall(hold)
        time.sleep(0.1)  # the hold has the object's gate
        ((status, headers, body),) = exchange(fast, post("/objects/Counter/bob/peek"))
    assert status == 503 and headers["retry-after"] == "1"
    assert json.loads(body)["error"]["type"] == "OverloadedError"


def test_calls_then_another_route_on_one_connection_are_answered_in_order(served):
    raw = (
        post("/objects/Counter/carol/increment", b'{"args": [2]}')
        + post("/objects/Counter/carol/increment", b'{"args": [3]}')
        + b"GET /admin/instance?namespace=Counter&ref=carol HTTP/1.1\r\nHost: x\r\n"
        + AUTH.encode()
        + b"\r\n"
        + post("/objects/Counter/carol/increment")
    )
    fast, _, _ = served
    answers = exchange(fast, raw, answers=4)
    assert [status for status, _, _ in answers] == [200] * 4
    results = [json.loads(body)["result"] for _, _, body in answers]
    assert results[0] == 2 and results[1] == 5 and results[2]["calls"] == 2 and results[3] == 6


def test_a_method_runs_in_a_task_so_asyncio_timeout_and_blocking_work(served):
    """One task answers a connection's calls in turn; a method still has a task of its own to
    time out in (asyncio.timeout needs one) and may block concurrency, on the fast path as in
    the application."""
    raw = (
        post("/objects/Counter/gina/within", b'{"args": [5, 0.01]}')
        + post("/objects/Counter/gina/within", b'{"args": [0.01, 5]}')
        + post("/objects/Counter/gina/hold", b'{"args": [0.05]}')
        + post("/objects/Counter/gina/peek")
    )
    got = same(served, raw, answers=4)
    assert got[0] == (200, {"result": "in time"})
    assert got[1][0] == 500 and got[1][1]["error"]["type"] == "TimeoutError"
    assert got[2] == (200, {"result": "held"})
    assert got[3] == (200, {"result": 0})


def test_a_connection_goes_on_after_an_idle_pause_and_after_a_failure(served):
    fast, _, _ = served
    with socket.create_connection(fast, timeout=10) as sock:
        for body, want in ((b'{"args": ["boom"]}', 500), (b'{"args": ["boom"]}', 500)):
            sock.sendall(post("/objects/Counter/hana/fail", body))
            assert sock.recv(65536).startswith(b"HTTP/1.1 %d " % want)
            time.sleep(0.05)  # the connection's task waits for the next request
        sock.sendall(post("/objects/Counter/hana/peek"))
        assert sock.recv(65536).endswith(b'{"result":0}')


@pytest.mark.slow
def test_a_client_sending_many_calls_at_once_does_not_hold_up_another(served):
    """Two thousand durable calls sent at once on one connection; another client's call, sent
    while they run, is answered before they are all done."""
    fast, _, _ = served
    n = 2000
    done = []

    def pipelining_client():
        with socket.create_connection(fast, timeout=60) as sock:
            sock.sendall(post("/objects/Counter/pipe/increment") * n)
            got = b""
            while got.count(b"HTTP/1.1 200") < n:
                got += sock.recv(1 << 20)
            done.append(time.perf_counter())

    with socket.create_connection(fast, timeout=60) as other:
        other.sendall(post("/objects/Counter/other/peek"))
        other.recv(65536)
        thread = threading.Thread(target=pipelining_client)
        thread.start()
        time.sleep(0.02)  # its calls are being answered
        other.sendall(post("/objects/Counter/other/peek"))
        assert other.recv(65536).endswith(b'{"result":0}')
        answered = time.perf_counter()
        thread.join()
    assert done and answered < done[0], "the other client waited for all 2,000 calls"


def test_a_stray_cancel_from_a_method_ends_its_connection_with_an_answer_not_a_hang(tmp_path):
    """Calls on one connection share its task (as a method shares its caller's): a method that
    cancels that task hits the call running then. That call is answered (500, CancelledError)
    and the connection closes; a new connection works."""
    objects = write_server_objects(tmp_path / "objects")
    (objects / "watch.py").write_text(
        textwrap.dedent("""
        import asyncio
        from dotui import DurableObject

        class Watch(DurableObject):
            def watchdog(self, seconds):
                task = asyncio.current_task()
                asyncio.get_running_loop().call_later(seconds, task.cancel)
                return "ok"

            async def slow(self, seconds):
                await asyncio.sleep(seconds)
                return "slow done"
    """)
    )
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60) as local:
        gateway = start_gateway_thread(local, "127.0.0.1", 0, TOKEN)
        try:
            answers = exchange(
                ("127.0.0.1", gateway.port),
                post("/objects/Watch/a/watchdog", b'{"args": [0.05]}')
                + post("/objects/Watch/a/slow", b'{"args": [0.5]}'),
                answers=2,
            )
            assert json.loads(answers[0][2]) == {"result": "ok"}
            status, headers, body = answers[1]
            assert status == 500 and json.loads(body)["error"]["type"] == "CancelledError"
            assert headers.get("connection") == "close"
            again = exchange(("127.0.0.1", gateway.port), post("/objects/Watch/a/slow", b'{"args": [0.01]}'))
            assert json.loads(again[0][2]) == {"result": "slow done"}
        finally:
            gateway.close()


def test_connection_close_is_honoured(served):
    fast, _, _ = served
    with socket.create_connection(fast, timeout=10) as sock:
        sock.sendall(post("/objects/Counter/dave/peek", extra="Connection: close\r\n"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 ") and b"connection: close" in data.lower()
    assert data.endswith(b'{"result":0}')


def test_a_client_that_goes_away_does_not_cancel_the_call(served):
    fast, _, local = served
    with socket.create_connection(fast) as sock:
        sock.sendall(post("/objects/Counter/erin/slow", b'{"args": [0.3]}'))
    deadline = time.time() + 10
    while local.storage_get("Counter", "erin", "slow_done") is not True:
        assert time.time() < deadline, "the call was cancelled with its connection"
        time.sleep(0.05)


def test_stopping_lets_a_call_in_flight_answer(tmp_path):
    objects = write_server_objects(tmp_path / "objects")
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60) as local:
        gateway = start_gateway_thread(local, "127.0.0.1", 0, TOKEN)
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
            sock.sendall(post("/objects/Counter/fred/slow", b'{"args": [0.3]}'))
            time.sleep(0.1)
            gateway.close()
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b'{"result":"done"}')


def test_many_clients_each_get_their_own_answers(served):
    fast, _, _ = served

    async def client(i: int) -> list[int]:
        reader, writer = await asyncio.open_connection(*fast)
        got = []
        for _ in range(20):
            writer.write(post(f"/objects/Counter/many-{i % 3}/increment"))
            await reader.readuntil(b"\r\n\r\n")
            got.append(json.loads(await reader.readuntil(b"}"))["result"])
        writer.close()
        return got

    async def all_clients():
        return await asyncio.gather(*(client(i) for i in range(9)))

    results = asyncio.run(all_clients())
    for obj in range(3):
        answers = sorted(n for i, r in enumerate(results) if i % 3 == obj for n in r)
        assert answers == list(range(1, 61))  # one instance per object, every increment counted once
