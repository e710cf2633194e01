"""Hostile HTTP clients against the gateway (docs/trust.md, "HTTP: heads, bodies, connections").

A client that never reads, never finishes a head or a body, floods the port with
idle sockets, sends heads aiohttp refuses, bodies that are not JSON or nest 10^5
deep, or makes an object answer what HTTP cannot carry: each gets a bounded
answer (400/408/413/431, or 502 for a ``fetch`` answer), never a 5xx of the
gateway's own, never a wedged connection, and nobody else waits because of it.
Every request goes both to the served gateway (fast path in front, fast.py) and
to the aiohttp application alone: the two answer alike.
"""

from __future__ import annotations

import asyncio
import json
import socket
import textwrap
import time

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dotui.ops import LocalEngine
from dotui.server import make_app, start_gateway_thread
from dotui.server.cli import ACCEPT_ERROR_INTERVAL, AcceptErrors
from dotui.server.limits import MAX_EVENTS_MAXLEN, Limits
from server_support import read_answer, write_server_objects

pytestmark = pytest.mark.hostile

TOKEN = "hostile-token"
AUTH = f"Authorization: Bearer {TOKEN}\r\n"
LIMITS = Limits(head_timeout=1.0, body_timeout=1.0, keepalive_timeout=1.5, send_timeout=2.0, max_unauthenticated=16)
WAIT = 15.0  # seconds any read in these tests waits at most
TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8  # linux tcp_states.h: the peer reset, or sent its FIN

HOSTILE_OBJECTS = """
    import json
    from dotui import DurableObject

    class Big(DurableObject):
        \"\"\"Answers as much as it is asked for; counts the answers it made.\"\"\"

        def blob(self, size: int) -> str:
            self.ctx.storage.put("made", self.ctx.storage.get("made", 0) + 1)
            return "x" * size

        def made(self) -> int:
            return self.ctx.storage.get("made", 0)

        def fail_with(self, message):
            raise ValueError(message)

    class Site(DurableObject):
        \"\"\"Its fetch answers whatever the request's JSON body says it should.\"\"\"

        async def fetch(self, request):
            return json.loads(request["body"])
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(fast gateway address, plain app address, engine, gateway): one engine behind both, LIMITS for both."""
    tmp = tmp_path_factory.mktemp("hostile")
    objects = write_server_objects(tmp / "objects")
    (objects / "hostile.py").write_text(textwrap.dedent(HOSTILE_OBJECTS))
    local = LocalEngine(str(objects), str(tmp / "data"), idle_timeout=60).start()
    gateway = start_gateway_thread(local, "127.0.0.1", 0, TOKEN, limits=LIMITS)
    plain = TestServer(make_app(local.engine, TOKEN, limits=LIMITS), host="127.0.0.1")
    local.run(plain.start_server())
    yield ("127.0.0.1", gateway.port), ("127.0.0.1", plain.port), local, gateway
    local.run(plain.close())
    gateway.close()
    local.close()


# ---------------------------------------------------------------- a raw HTTP client
def exchange(address, raw: bytes, answers: int = 1) -> list[tuple[int, dict, bytes] | None]:
    """Send ``raw`` on one connection; up to ``answers`` responses (None for each one never sent)."""
    with socket.create_connection(address, timeout=WAIT) as sock:
        sock.sendall(raw)
        out, buf = [], b""
        for _ in range(answers):
            answer, buf = read_answer(sock, buf)
            out.append(answer)
            if answer is None:
                break
        return out + [None] * (answers - len(out))


def post(path: str, body: bytes | None = b'{"args": []}', auth: str = AUTH, extra: str = "") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if body is not None else ""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}{extra}{length}\r\n").encode() + (body or b"")


def call_body(*args) -> bytes:
    return json.dumps({"args": list(args)}).encode()


def both(served, raw: bytes, answers: int = 1) -> list[tuple[int, dict] | None]:
    """The gateway's answers to ``raw`` (status, JSON), which must be the plain application's: the same
    statuses, the same JSON where the application answers JSON (its parse errors are aiohttp's text;
    the gateway's are JSON too)."""
    fast, plain, _, _ = served
    mine, theirs = exchange(fast, raw, answers), exchange(plain, raw, answers)
    assert [a and a[0] for a in mine] == [a and a[0] for a in theirs]
    got = []
    for m, t in zip(mine, theirs, strict=False):
        if m is None:
            got.append(None)
            continue
        assert m[1]["content-type"].startswith("application/json"), m
        doc = json.loads(m[2]) if m[2] else None
        if t[1].get("content-type", "").startswith("application/json"):
            assert doc == (json.loads(t[2]) if t[2] else None)
        got.append((m[0], doc))
    return got


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """(whether the server closed ``sock`` within ``seconds``, what it sent before)."""
    sock.settimeout(seconds)
    got = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True, got
            got += chunk
    except (ConnectionResetError, BrokenPipeError):
        return True, got
    except TimeoutError:
        return False, got


def token_holder_answered(served) -> bool:
    fast, _, _, _ = served
    (answer,) = exchange(fast, post("/objects/Counter/holder/peek"))
    return answer is not None and answer[0] == 200


# ---------------------------------------------------------------- one HTTP grammar
SHAPES = {  # heads aiohttp refuses; the first three once smuggled a second request past the fast path
    "duplicate Content-Length": post("/objects/Counter/s/increment", b"", extra="Content-Length: 0\r\n").replace(
        b"Content-Length: 0\r\n\r\n", b"Content-Length: 0\r\nContent-Length: 60\r\n\r\n"
    )
    + post("/objects/Counter/s/increment"),
    "obs-fold": post("/objects/Counter/s/increment", extra="X-A: a\r\n b\r\n"),
    "space before the colon": post("/objects/Counter/s/increment", None, extra="Content-Length : 60\r\n")
    + post("/objects/Counter/s/increment"),
    "bare LF": post("/objects/Counter/s/increment").replace(b"\r\n", b"\n"),
    "bare LF in one line": post("/objects/Counter/s/increment").replace(b"Host: x\r\n", b"Host: x\n"),
    "NUL in a value": post("/objects/Counter/s/increment", extra="X-A: a\x00b\r\n"),
    "no Host": post("/objects/Counter/s/increment").replace(b"Host: x\r\n", b""),
    "64 KB header line": post("/objects/Counter/s/increment", extra="X-A: " + "a" * 65536 + "\r\n"),
    "Content-Length and Transfer-Encoding": post(
        "/objects/Counter/s/increment", extra="Transfer-Encoding: chunked\r\n"
    ),
    "Content-Length with a sign": post("/objects/Counter/s/increment", None, extra="Content-Length: +12\r\n")
    + b'{"args": []}',
    "lower-case method": post("/objects/Counter/s/increment").replace(b"POST", b"post"),
    "control character in the target": post("/objects/Counter/s\x01/increment"),
    "200 headers": post("/objects/Counter/s/increment", extra="".join(f"X-{i}: v\r\n" for i in range(200))),
}


@pytest.mark.parametrize("name", SHAPES)
def test_a_head_aiohttp_refuses_is_refused_by_both_paths_and_smuggles_nothing(served, name):
    _, _, local, _ = served
    before = local.call("Counter", "s", "peek")
    answers = both(served, SHAPES[name], answers=2)
    assert answers[0] is not None and answers[0][0] == 400, answers
    assert answers[1] is None, f"a second answer came back on the same connection: {answers[1]}"
    assert local.call("Counter", "s", "peek") == before, "a hidden request ran"


_HEAD_BYTES = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b"\r",
        b" ",
        b"\t",
        b":",
        b"\x00",
        b"\x7f",
        b"\xff",
        b"a",
        b"0",
        b"Content-Length",
        b"Transfer-Encoding",
        b"chunked",
        b"Host",
        b"x",
        b",",
        b"-",
    ]
)


@st.composite
def malformed_heads(draw):
    """A call's head with a few bytes replaced, inserted or dropped: mostly heads HTTP/1.1 refuses."""
    head = bytearray(post("/objects/Counter/gen/increment", b"")[:-2])  # without the closing blank line
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(head)))
        how = draw(st.sampled_from(["replace", "insert", "drop"]))
        piece = draw(_HEAD_BYTES)
        if how == "replace":
            head[at : at + len(piece)] = piece
        elif how == "insert":
            head[at:at] = piece
        else:
            del head[at : at + draw(st.integers(1, 8))]
    return bytes(head) + draw(st.sampled_from([b"", b"X-Extra: 1\r\n", b"Content-Length: 0\r\n"])) + b"\r\n"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(head=malformed_heads())
def test_generated_heads_get_the_same_status_from_both_paths(served, head):
    assume(head.find(b"\r\n\r\n") == len(head) - 4)  # one request (aiohttp refuses a pipelined batch whole)
    fast, plain, _, _ = served
    mine, theirs = exchange(fast, head)[0], exchange(plain, head)[0]
    assert (mine and mine[0]) == (theirs and theirs[0]), head
    assert mine is None or mine[0] < 500 or mine[0] == 503, head


def test_a_head_over_the_size_limit_is_431_and_the_gateway_goes_on(served):
    fast, _, _, _ = served
    many = "".join(f"X-Header-{i}: {'v' * 600}\r\n" for i in range(120))  # 74 KB of short lines
    (answer,) = exchange(fast, post("/objects/Counter/big/peek", extra=many))
    assert answer is not None and answer[0] == 431
    assert json.loads(answer[2])["error"]["type"] == "RequestHeaderFieldsTooLarge"
    assert token_holder_answered(served)


# ---------------------------------------------------------------- what a result or an error holds
def test_a_lone_surrogate_in_a_result_is_answered_and_the_connection_goes_on(served):
    raw = post("/objects/Counter/sur/echo", b'{"args": ["\\ud800 ok"]}') + post("/objects/Counter/sur/peek")
    first, second = both(served, raw, answers=2)
    assert first == (200, {"result": {"args": ["\ud800 ok"], "kwargs": {}}})
    assert second == (200, {"result": 0})


def test_a_lone_surrogate_in_an_error_is_a_json_answer(served):
    raw = post("/objects/Big/sur/fail_with", b'{"args": ["bad \\udfff"]}') + post("/objects/Big/sur/made")
    first, second = both(served, raw, answers=2)
    assert first[0] == 500 and first[1]["error"]["type"] == "ValueError"
    assert first[1]["error"]["message"] == "bad \udfff"
    assert second[0] == 200


def test_a_lone_surrogate_in_an_admin_call_method_is_a_json_404(served):
    body = b'{"namespace": "Counter", "ref": "sur", "method": "\\ud800"}'
    (answer,) = both(served, post("/admin/call", body))
    assert answer[0] == 404 and answer[1]["error"]["type"] == "MethodNotFoundError"


def test_a_name_with_a_lone_surrogate_is_400_naming_it_and_nothing_is_made(served):
    """No UTF-8 holds a lone surrogate, so no id, file or log record could: the name is refused."""
    made = post("/admin/call", b'{"namespace": "Counter", "ref": "\\udc80 named", "method": "increment"}')
    (answer,) = both(served, made)
    assert answer[0] == 400 and answer[1]["error"]["type"] == "ValueError"
    assert "lone surrogate" in answer[1]["error"]["message"]
    (listed,) = both(served, f"GET /admin/instances/table HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n".encode())
    assert listed[0] == 200 and "named" not in json.dumps(listed[1])


@pytest.mark.parametrize("path", ["/objects/Counter/deep/echo", "/admin/call"])
@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_a_body_nested_ten_to_the_five_deep_is_400_naming_it(served, path, opener):
    (answer,) = both(served, post(path, opener * 100_000))
    assert answer[0] == 400 and answer[1]["error"]["type"] == "BadRequest"
    assert "nests" in answer[1]["error"]["message"]


@pytest.mark.parametrize("path", ["/objects/Counter/deep/echo", "/admin/call"])
@pytest.mark.parametrize("depth", [300, 600, 900])
def test_arguments_nested_past_the_call_bound_but_decodable_are_400_naming_the_bound(served, path, depth):
    # Past MAX_CALL_DEPTH (256) yet inside what the JSON decoder reads: the call-argument check refuses it.
    deep = b"[" * depth + b"]" * depth
    head = b'{"namespace": "Counter", "ref": "deep", "method": "echo", ' if path == "/admin/call" else b"{"
    (answer,) = both(served, post(path, head + b'"args": [' + deep + b"]}"))
    assert answer is not None and answer[0] == 400, answer
    assert answer[1]["error"]["type"] == "TypeError" and "at most 256 deep" in answer[1]["error"]["message"]


_BODY_PIECES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"[" * 100_000,
            b'{"a":' * 50_000,
            b'{"args": [',
            b'{"args": ["\xff\xfe"]}',
            b"\xef\xbb\xbf{}",
            b'{"args": ["\\ud800"]}',
            b'{"args": [1e999999]}',
            b'{"args":[1e310]}',
            b'{"args": [NaN]}',
            b'"\\u12',
            b"[" + b"9" * 5000 + b"]",
            b'{"kwargs": {"' + b"k" * 5000 + b'": 1}}',
            b"\x00" * 100,
            b"\xff" * 100,
        ]
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.lists(_BODY_PIECES, min_size=1, max_size=3),
    cut=st.integers(0, 40),
    path=st.sampled_from(["/objects/Counter/fz/echo", "/admin/call", "/admin/storage/key"]),
)
def test_no_body_gets_a_5xx(served, pieces, cut, path):
    body = b"".join(pieces)
    body = body[: len(body) - cut] if cut < len(body) else body  # truncated, often mid-token
    (answer,) = both(served, post(path, body))
    assert answer is not None and answer[0] < 500, (body[:200], answer)


def test_a_body_over_the_limit_is_413_on_both_paths(served):
    (answer,) = both(served, post("/objects/Counter/big/echo", b"[" + b"1," * (LIMITS.max_body // 2) + b"1]"))
    assert answer[0] == 413


# ---------------------------------------------------------------- every buffer bounded
@pytest.mark.slow
def test_pipelined_calls_a_client_never_reads_stop_being_answered(served):
    """The gateway stops reading (and running calls) while answers pile up unread: it holds about one."""
    fast, _, local, _ = served
    calls = 100
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(WAIT)
        sock.connect(fast)
        sock.sendall(b"".join(post("/objects/Big/pipe/blob", call_body(1 << 20)) for _ in range(calls)))
        made, stable_since, deadline = -1, time.monotonic(), time.monotonic() + WAIT
        while time.monotonic() < deadline and time.monotonic() - stable_since < LIMITS.send_timeout / 4:
            now = local.call("Big", "pipe", "made")
            if now != made:
                made, stable_since = now, time.monotonic()
            time.sleep(0.05)
        assert made < calls // 4, f"{made} answers of 1 MiB were made for a client that read none"
        buf, answered = b"", 0
        while answered < calls:  # it reads now: every answer comes, in order
            answer, buf = read_answer(sock, buf)
            assert answer is not None and answer[0] == 200
            answered += 1
    assert local.call("Big", "pipe", "made") == calls


@pytest.mark.slow
def test_a_client_that_reads_nothing_of_its_answer_is_cut_off_after_the_send_timeout(served):
    fast, _, _, _ = served
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.connect(fast)
        sock.sendall(post("/objects/Big/slow-reader/blob", call_body(32 << 20)))
        time.sleep(LIMITS.send_timeout + 2.0)  # reads nothing for longer than the send timeout
        if hasattr(socket, "TCP_INFO"):  # reset, not a FIN queued behind what it never read
            deadline = time.monotonic() + WAIT
            while sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] not in (TCP_CLOSE, TCP_CLOSE_WAIT):
                assert time.monotonic() < deadline, "the connection is still open for a client that reads nothing"
                time.sleep(0.1)
        sock.settimeout(WAIT)
        received = 0
        try:
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
    assert received < 32 << 20, "the whole answer waited for a client that read nothing"


# ---------------------------------------------------------------- every wait timed
def test_a_half_sent_head_is_408_within_the_head_timeout(served):
    fast, _, _, _ = served
    with socket.create_connection(fast) as sock:
        sock.sendall(b"POST /objects/Counter/slow/peek HTTP/1.1\r\nHost: x\r\n")
        closed, got = closed_within(sock, WAIT)
    assert closed and got.startswith(b"HTTP/1.1 408 ")
    assert b'"RequestTimeout"' in got and b"--head-timeout" in got


def test_a_connection_that_sends_nothing_is_closed_within_the_head_timeout(served):
    fast, _, _, _ = served
    with socket.create_connection(fast) as sock:
        started = time.monotonic()
        closed, got = closed_within(sock, WAIT)
        took = time.monotonic() - started
    assert closed and got == b""
    assert took < WAIT


@pytest.mark.slow
@pytest.mark.parametrize("which", [0, 1], ids=["fast path", "aiohttp"])
def test_a_half_sent_body_is_408_within_the_body_timeout(served, which):
    address = served[which]
    with socket.create_connection(address) as sock:
        sock.sendall(post("/objects/Counter/slow/echo", b"x" * 100)[:-60])  # 40 of its 100 body bytes
        closed, got = closed_within(sock, WAIT)
    assert closed and got.startswith(b"HTTP/1.1 408 ")
    assert b'"RequestTimeout"' in got and b"--body-timeout" in got


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/objects/Counter/idle/peek", "/admin/stats"], ids=["fast path", "aiohttp"])
def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(served, path):
    fast, _, _, _ = served
    verb = "POST" if path.startswith("/objects/") else "GET"
    with socket.create_connection(fast) as sock:
        sock.settimeout(WAIT)
        sock.sendall(f"{verb} {path} HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n".encode())
        answer, rest = read_answer(sock)
        assert answer is not None and answer[0] == 200 and rest == b""
        closed, got = closed_within(sock, WAIT)
    assert closed and got == b""


def test_a_flood_of_sockets_without_the_token_closes_its_own_oldest_never_a_token_holder(served):
    fast, _, _, _ = served
    flood = [socket.create_connection(fast) for _ in range(LIMITS.max_unauthenticated * 4)]
    try:
        for i, s in enumerate(flood):
            if i % 2:
                s.sendall(b"POST /objects/Counter/x/peek HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert token_holder_answered(served)
        oldest = flood[: LIMITS.max_unauthenticated]
        assert all(closed_within(s, WAIT)[0] for s in oldest), "the oldest sockets without the token stay open"
    finally:
        for s in flood:
            s.close()
    assert token_holder_answered(served)


def test_a_token_holder_accepted_amid_a_flood_is_answered_and_the_flood_still_loses_its_oldest(served):
    """A client that connects, then a flood lands before its head: the cap on connections without the
    token must not close it before it could send (fast.EVICT_GRACE), yet the flood past the cap goes."""
    fast, _, _, _ = served
    cap = LIMITS.max_unauthenticated
    holder = socket.create_connection(fast, timeout=WAIT)
    flood = [socket.create_connection(fast) for _ in range(2 * cap - 1)]  # within the hard bound of 2 x cap
    try:
        time.sleep(0.1)  # the holder's head comes after the flood, as from a client on a busy machine
        holder.sendall(post("/objects/Counter/holder/peek"))
        answer, _ = read_answer(holder)
        assert answer is not None and answer[0] == 200, "the cap closed a connection before it could send its head"
        assert all(closed_within(s, WAIT)[0] for s in flood[: cap - 1]), "the flood's oldest stay open past the cap"
    finally:
        holder.close()
        for s in flood:
            s.close()


def test_a_wrong_token_closes_the_connection_after_its_answer(served):
    fast, _, _, _ = served
    raw = post("/objects/Counter/x/peek", auth="Authorization: Bearer wrong\r\n") + post("/objects/Counter/x/peek")
    first, second = exchange(fast, raw, answers=2)
    assert first[0] == 403 and first[1].get("connection") == "close"
    assert second is None


def test_shutdown_ends_every_connection_task_even_for_a_client_that_stops_reading(tmp_path):
    objects = write_server_objects(tmp_path / "objects")
    (objects / "hostile.py").write_text(textwrap.dedent(HOSTILE_OBJECTS))
    local = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60).start()
    try:
        gateway = start_gateway_thread(local, "127.0.0.1", 0, TOKEN)  # the default, long timeouts
        address = ("127.0.0.1", gateway.port)
        idle = socket.create_connection(address)
        idle.sendall(post("/objects/Counter/idle/peek"))
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        stuck.connect(address)
        stuck.sendall(post("/objects/Big/stuck/blob", call_body(16 << 20)))
        handed = socket.create_connection(address)
        handed.sendall(
            f"GET /admin/history?namespace=Big&ref=stuck&n=1 HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n".encode()
            + b"GET /admin/stats HTTP/1.1\r\n"
        )
        deadline = time.monotonic() + WAIT
        while local.call("Big", "stuck", "made") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        started = time.monotonic()
        gateway.close()
        took = time.monotonic() - started

        async def pending() -> list[str]:
            me, left = asyncio.current_task(), ["?"]
            for _ in range(20):  # a few turns of the loop for the last callbacks, never a wait for a client
                left = [
                    repr(t)
                    for t in asyncio.all_tasks()
                    if t is not me and not t.done() and ("CallProtocol" in repr(t) or "RequestHandler" in repr(t))
                ]
                if not left:
                    break
                await asyncio.sleep(0.1)
            return left

        assert local.run(pending()) == []
        assert took < 15 + 5  # within its shutdown bound, not waiting for the client to read
        for s in (idle, stuck, handed):
            assert closed_within(s, WAIT)[0]
            s.close()
    finally:
        local.close()


# ---------------------------------------------------------------- fetch answers, client-chosen sizes
@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "one\r\nSet-Cookie: injected=1"},
        {"X-A": "a\nb"},
        {"X-A": "a\rb"},
        {"X-A": "a\x00b"},
        {"X A": "v"},
        {"X-A\r\n": "v"},
        {"": "v"},
        {"X-\u00e9": "v"},
        {"X-A": "\ud800"},
        {"Transfer-Encoding": "chunked"},
        {"Content-Length": "5"},
        {"connection": "close"},
        {"Upgrade": "h2c"},
        {"Keep-Alive": "timeout=5"},
        {"Trailer": "X-B"},
    ],
    ids=repr,
)
def test_a_fetch_answer_with_a_forbidden_or_framing_header_is_502(served, headers):
    body = json.dumps({"status": 200, "headers": headers, "body": "hi"}).encode()
    (answer,) = both(served, post("/fetch/Site/one/", body) + post("/objects/Counter/f/peek"))
    assert answer[0] == 502 and answer[1]["error"]["type"] == "BadFetchResponse", answer


@pytest.mark.parametrize(
    "answer_doc",
    [
        "\ud800",
        {"status": 200, "body": "\udfff"},
        {"status": 204, "body": "not empty"},
    ],
    ids=repr,
)
def test_a_fetch_answer_http_cannot_carry_is_502(served, answer_doc):
    body = json.dumps(answer_doc).encode()
    (answer,) = both(served, post("/fetch/Site/two/", body))
    assert answer[0] == 502 and answer[1]["error"]["type"] == "BadFetchResponse", answer


def test_a_fetch_answer_with_plain_headers_goes_out(served):
    body = json.dumps({"status": 201, "headers": {"X-Seen": "yes\tand more"}, "body": "made"}).encode()
    fast, _, _, _ = served
    (answer,) = exchange(fast, post("/fetch/Site/three/", body))
    assert answer[0] == 201 and answer[1]["x-seen"] == "yes\tand more" and answer[2] == b"made"


@pytest.mark.parametrize("maxlen", [str(MAX_EVENTS_MAXLEN + 1), "1000000000", "0", "-5", "x"])
def test_events_maxlen_is_bounded(served, maxlen):
    raw = f"GET /admin/events?maxlen={maxlen} HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n".encode()
    (answer,) = both(served, raw)
    assert answer[0] == 400 and f"{MAX_EVENTS_MAXLEN:,}" in answer[1]["error"]["message"]


# ---------------------------------------------------------------- the accept loop, the flags
def test_accept_errors_are_reported_once_per_interval(monkeypatch):
    loop = asyncio.new_event_loop()
    try:
        seen = []
        loop.set_exception_handler(lambda _loop, context: seen.append(context["message"]))
        now = [1000.0]
        monkeypatch.setattr("dotui.server.cli.time.monotonic", lambda: now[0])
        handler = AcceptErrors(loop)
        for _ in range(500):
            loop.call_exception_handler({"message": AcceptErrors.MESSAGE, "exception": OSError(24, "Too many")})
        loop.call_exception_handler({"message": "something else"})
        now[0] += ACCEPT_ERROR_INTERVAL
        loop.call_exception_handler({"message": AcceptErrors.MESSAGE, "exception": OSError(24, "Too many")})
        assert seen == [
            AcceptErrors.MESSAGE,
            "something else",
            f"{AcceptErrors.MESSAGE} (499 more like it in the last {ACCEPT_ERROR_INTERVAL:g} s not shown)",
        ]
        handler.remove()
        loop.call_exception_handler({"message": AcceptErrors.MESSAGE})
        assert len(seen) == 4
    finally:
        loop.close()


def test_dotui_serve_takes_every_limit_flag():
    from dotui.cli import parse_args
    from dotui.server.limits import limits_from_args

    args = parse_args(
        [
            "serve",
            "--max-body",
            "2048",
            "--head-timeout",
            "3",
            "--body-timeout",
            "4",
            "--keepalive-timeout",
            "5",
            "--send-timeout",
            "6",
            "--max-unauthenticated",
            "7",
        ]
    )
    assert limits_from_args(args) == Limits(
        max_body=2048, head_timeout=3, body_timeout=4, keepalive_timeout=5, send_timeout=6, max_unauthenticated=7
    )
    assert limits_from_args(parse_args(["serve"])) == Limits()
