"""The gateway against made-up requests: every route of its OpenAPI description, fuzzed.

With the right token, a wrong one and none: no 5xx unless an object's own method
raised, no hang, no traceback in an answer, nothing written outside the data
folder. Then a slow client and a flood of idle connections on 127.0.0.1: a
normal request is still answered.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import time
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotui.ops import OPERATIONS, LocalEngine
from dotui.server import start_gateway_thread
from dotui.server.openapi import describe
from tests.conftest import write_objects
from tests.server_support import SERVER_OBJECTS

TIMEOUT = 15.0  # an answer slower than this is a hang
METHODS = {"Counter": ["increment", "peek", "echo", "fail", "ask_nowhere"], "Ledger": ["append"]}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    objects = write_objects(root / "objects", **SERVER_OBJECTS)
    fe = LocalEngine(str(objects), str(root / "data"), idle_timeout=600).start()
    gw = start_gateway_thread(fe, "127.0.0.1", 0, "fuzz-token")
    yield root, gw
    gw.close()
    fe.close()


def request(gw, verb: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=TIMEOUT)
    try:
        conn.request(verb, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_every_route_is_in_the_description(gateway):
    _, gw = gateway
    status, body = request(gw, "GET", "/openapi.json", headers={"Authorization": "Bearer fuzz-token"})
    assert status == 200
    described = json.loads(body)["paths"]
    assert described == describe()["paths"]
    for op in OPERATIONS.values():
        assert op.verb.lower() in described[op.path], f"{op.verb} {op.path} is not described"
    status, body = request(gw, "GET", "/", headers={"Authorization": "Bearer fuzz-token"})
    for route in json.loads(body)["result" if b'"result"' in body else "routes"]:
        path = re.sub(r"{path}$", "{path}", route["path"])
        assert path in described, f"{route['path']} is served but not described"


# ---------------------------------------------------------------- made-up requests
SPEC = describe()
ROUTES = [
    (verb, path, op) for path, ops in SPEC["paths"].items() for verb, op in ops.items() if path != "/admin/events"
]  # a stream: it answers by not ending; tested in test_server_app
names = st.one_of(
    st.sampled_from(["Counter", "Ledger", "Nope", "alice", "#", "#00", "id", "x" * 300]), st.text(max_size=12)
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)


FIELD_VALUES = {
    "namespace": st.one_of(st.sampled_from(list(METHODS)), names),
    "ref": st.one_of(st.sampled_from(["alice", "bob", "#", "#0", "#" + "0" * 64]), names),
    "method": st.sampled_from(["increment", "peek", "echo", "fail", "append", "nope", "_private", "alarm"]),
    "key": st.one_of(st.sampled_from(["n", "x" * 3000]), st.text(max_size=6)),
    "value": json_values,
    "when": st.one_of(
        st.sampled_from(["+5", "+nan", "+inf", "+1e308", "-1", "2030-01-01T00:00:00Z", "soon"]),
        st.floats(),
        st.integers(),
    ),
    "args": st.lists(json_values, max_size=3),
    "kwargs": st.dictionaries(st.sampled_from(["by", "x", "message"]), json_values, max_size=2),
    "n": st.one_of(st.integers(-5, 10**12), names),
    "offset": st.integers(-5, 10**6),
    "limit": st.integers(-5, 10**6),
    "state": st.sampled_from(["live", "hibernated", "broken", "??"]),
    "keys": st.lists(st.lists(st.one_of(st.sampled_from(list(METHODS)), names), max_size=3), max_size=3),
}


@st.composite
def requests(draw):
    verb, path, op = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 9)) == 0:
        verb = draw(st.sampled_from(["get", "post", "put", "delete", "patch", "options"]))
    namespace = draw(st.one_of(st.sampled_from(list(METHODS)), names))
    values = {
        "namespace": namespace,
        "name": draw(names),
        "hex": draw(st.one_of(names, st.just("0" * 64))),
        "method": draw(st.one_of(st.sampled_from(METHODS.get(namespace, ["increment"])), names)),
        "path": draw(names),
    }
    url = re.sub(r"{(\w+)}", lambda m: urllib.parse.quote(values[m.group(1)], safe=""), path)
    props = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    props += list(schema.get("properties", {}))
    fields = {}
    for prop in props:  # mostly sensible values for the operation's own fields, sometimes not
        if draw(st.integers(0, 3)):
            fields[prop] = draw(
                st.one_of(FIELD_VALUES.get(prop, json_values), json_values)
                if draw(st.integers(0, 4)) == 0
                else FIELD_VALUES.get(prop, json_values)
            )
    if draw(st.integers(0, 5)) == 0:
        fields[draw(st.text(max_size=5))] = draw(json_values)  # a field no operation takes
    if "method" in fields and isinstance(fields["method"], str) and fields["method"] in ("slow", "hold"):
        fields["method"] = "peek"  # they wait as long as asked: not a hang
    body = None
    if verb == "get":
        query = urllib.parse.urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()})
        url += "?" + query if query else ""
    else:
        body = draw(
            st.one_of(
                st.just(json.dumps(fields).encode()),
                st.binary(max_size=20),
                st.just(json.dumps({"args": draw(st.lists(json_values, max_size=3))}).encode()),
                json_values.map(lambda v: json.dumps(v).encode()),
            )
        )
    token = draw(st.sampled_from(["fuzz-token", "fuzz-token", "wrong", None]))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = draw(st.sampled_from(["application/json", "text/plain"]))
    return verb.upper(), url, body, headers, values


def _may_raise(url: str, values: dict) -> bool:
    """Whether a 500 can be the object's own method raising (a real method of a real class ran)."""
    return url.startswith(("/objects/", "/fetch/", "/admin/call")) and (
        values["namespace"] in METHODS or url.startswith("/admin/call")
    )


def _files_outside(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if "data" not in p.relative_to(root).parts[:1]}


@pytest.mark.slow
def test_no_made_up_request_breaks_the_gateway(gateway):
    root, gw = gateway
    before = _files_outside(root)

    @settings(
        max_examples=int(os.environ.get("DOTUI_FUZZ_EXAMPLES", "400")),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(requests())
    def check(req):
        verb, url, body, headers, values = req
        t0 = time.monotonic()
        status, answer = request(gw, verb, url, body, headers)
        assert time.monotonic() - t0 < TIMEOUT, f"{verb} {url} took {time.monotonic() - t0:.1f} s"
        text = answer.decode("utf-8", "replace")
        assert "Traceback" not in text and 'File "' not in text, f"{verb} {url} leaked a traceback: {text[:300]}"
        if "Authorization" not in headers:
            assert status == 401, (verb, url, status, text[:200])
        elif headers["Authorization"] != "Bearer fuzz-token":
            assert status == 403, (verb, url, status, text[:200])
        if status >= 500:
            assert status in (500, 502) and _may_raise(url, values), (
                f"{verb} {url} {body!r:.100} -> {status} {text[:300]}"
            )

    check()
    assert _files_outside(root) == before, "the gateway wrote outside its data folder"


# ---------------------------------------------------------------- slow clients and floods
def _ok(gw) -> bool:
    status, _ = request(gw, "POST", "/objects/Counter/flood/peek", b"{}", {"Authorization": "Bearer fuzz-token"})
    return status == 200


def test_a_slow_client_does_not_hold_up_the_others(gateway):
    _, gw = gateway
    slow = socket.create_connection(("127.0.0.1", gw.port))
    try:
        head = b"POST /objects/Counter/slowpoke/increment HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
        for i in range(0, len(head), 8):
            slow.sendall(head[i : i + 8])
            assert _ok(gw)  # others are answered while this one dribbles
    finally:
        slow.close()


def test_a_flood_of_idle_connections_does_not_stop_the_gateway(gateway):
    _, gw = gateway
    flood = []
    try:
        for _ in range(300):
            flood.append(socket.create_connection(("127.0.0.1", gw.port)))
        for s in flood[::3]:
            s.sendall(b"GET /admin/stats HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        assert _ok(gw)
    finally:
        for s in flood:
            s.close()
    assert _ok(gw)
