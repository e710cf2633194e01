"""RemoteEngine answers like LocalEngine: same methods, same data, same errors.

The gateway runs on a LocalEngine's own loop (``start_gateway_thread``, the
TUI's ``--serve PORT``); the test asks the same questions of both facades.
"""

from __future__ import annotations

import os
import socket
import stat
import time

import pytest

from dotui.engine.errors import (
    InvalidIdError,
    MethodNotFoundError,
    NamespaceNotFoundError,
    RemoteError,
)
from dotui.ops import LocalEngine
from dotui.server import (
    GatewayAuthError,
    RemoteEngine,
    ServerUnreachableError,
    TokenNotFound,
    connect,
    start_gateway_thread,
)
from server_support import write_server_objects


@pytest.fixture
def pair(tmp_path):
    """(local, remote): two facades on one engine."""
    objects = write_server_objects(tmp_path / "objects")
    local = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60).start()
    gateway = start_gateway_thread(local, "127.0.0.1", 0)
    remote = connect(gateway.url, data=str(tmp_path / "data"))
    yield local, remote
    remote.close()
    gateway.close()
    local.close()


def strip_times(value):
    """Drop the fields that change between two looks (times, durations)."""
    if isinstance(value, dict):
        return {
            k: strip_times(v)
            for k, v in value.items()
            if k
            not in (
                "last_active",
                "queued_at",
                "started_at",
                "ended_at",
                "queue_time",
                "run_time",
                "held_time",
                "t",
                "checkpoint_saved_at",
                "seq",
            )
        }
    if isinstance(value, list):
        return [strip_times(v) for v in value]
    return value


def test_the_remote_facade_has_every_method_of_the_local_one():
    local = {n for n in dir(LocalEngine) if not n.startswith("_")} - {"engine", "admin", "submit", "run"}
    remote = {n for n in dir(RemoteEngine) if not n.startswith("_")}
    assert local <= remote
    assert RemoteEngine.remote is True and LocalEngine.remote is False


def test_reading_answers_the_same(pair):
    local, remote = pair
    assert remote.call("Counter", "alice", "increment", [5]) == 5
    assert local.call("Counter", "alice", "increment", kwargs={"by": 2}) == 7
    remote.storage_put("Counter", "alice", "note", {"a": [1, 2]})
    remote.flush()
    assert remote.data_dir == local.data_dir and remote.objects_dir == local.objects_dir
    assert remote.load_errors() == local.load_errors() == []
    assert remote.namespaces() == local.namespaces()
    assert strip_times(remote.instances()) == strip_times(local.instances())
    assert strip_times(remote.instances("Counter")) == strip_times(local.instances("Counter"))
    remote.call("Counter", "zed", "peek")
    for paging in ({"state": "live"}, {"state": "hibernated"}, {"offset": 1}, {"limit": 1}, {"offset": 1, "limit": 5}):
        assert strip_times(remote.instances(**paging)) == strip_times(local.instances(**paging)), paging
    assert strip_times(remote.instance_table()) == strip_times(local.instance_table())
    assert strip_times(remote.instance_table("Counter")) == strip_times(local.instance_table("Counter"))
    assert remote.count_instances() == local.count_instances()
    assert remote.count_instances("Web") == local.count_instances("Web")
    hx = remote.resolve("Counter", "alice")["id"]
    for ref in ("alice", "#" + hx[:8], "#" + hx):
        assert (
            remote.resolve("Counter", ref)
            == local.resolve("Counter", ref)
            == {"namespace": "Counter", "id": hx, "name": "alice"}
        )
        assert strip_times(remote.instance("Counter", ref)) == strip_times(local.instance("Counter", ref))
        assert strip_times(remote.read_storage("Counter", ref)) == strip_times(local.read_storage("Counter", ref))
    assert remote.read_storage("Counter", "alice")["values"] == {"n": 7, "note": {"a": [1, 2]}}
    assert remote.queue("Counter", "alice") == local.queue("Counter", "alice") == []
    assert strip_times(remote.history("Counter", "alice", 2)) == strip_times(local.history("Counter", "alice", 2))
    assert [h["method"] for h in remote.history("Counter", "alice")] == ["increment", "increment", "storage.put"]
    assert remote.stats().keys() == local.stats().keys()


def test_acting_answers_the_same(pair):
    local, remote = pair
    assert remote.storage_get("Counter", "bob", "n") is None
    assert remote.storage_put("Counter", "bob", "n", 41) is None
    assert remote.call("Counter", "bob", "increment") == 42 == local.storage_get("Counter", "bob", "n")
    assert remote.storage_delete("Counter", "bob", "n") is True
    assert remote.storage_delete("Counter", "bob", "n") is False
    assert remote.alarm_get("Counter", "bob") is None
    t = remote.alarm_set("Counter", "bob", "+3600")
    assert abs(t - (time.time() + 3600)) < 60
    assert remote.alarm_get("Counter", "bob") == t == local.alarm_get("Counter", "bob")
    assert remote.alarm_set("Counter", "bob", "2100-01-01T00:00:00Z") == 4102444800.0
    assert remote.alarm_delete("Counter", "bob") is None
    assert local.alarm_get("Counter", "bob") is None
    assert remote.hibernate("Counter", "bob") is True
    assert local.instance("Counter", "bob")["state"] == "hibernated"
    woken = remote.wake("Counter", "bob")
    assert woken["state"] == "live" and woken["name"] == "bob"
    assert remote.hibernate_all() == 1
    assert remote.reload() == []
    assert remote.flush() is None
    future = remote.call_async("Counter", "carol", "increment", [3])
    assert future.result(10) == 3


def _raised(fn, *args, **kwargs) -> BaseException:
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the test reads what was raised
        return exc
    raise AssertionError("nothing was raised")


@pytest.mark.parametrize(
    "args",
    [
        ("Nope", "alice", "increment"),
        ("Counter", "alice", "nope"),
        ("Counter", "#ffffff", "increment"),
        ("Counter", "#" + "g" * 64, "increment"),
    ],
)
def test_engine_errors_come_back_as_the_same_class_and_message(pair, args):
    local, remote = pair
    mine, theirs = _raised(local.call, *args), _raised(remote.call, *args)
    assert type(theirs) is type(mine)
    assert str(theirs) == str(mine)
    assert isinstance(theirs, (NamespaceNotFoundError, MethodNotFoundError, InvalidIdError))
    if isinstance(mine, MethodNotFoundError):
        assert theirs.callable_methods == mine.callable_methods and theirs.method == "nope"
    if isinstance(mine, NamespaceNotFoundError):
        assert theirs.known == mine.known


def test_a_methods_exception_keeps_its_type_name_and_message(pair):
    local, remote = pair
    mine = _raised(local.call, "Counter", "alice", "fail", ["no cheese"])
    theirs = _raised(remote.call, "Counter", "alice", "fail", ["no cheese"])
    assert type(mine) is ValueError
    assert isinstance(theirs, RemoteError) and isinstance(theirs, ValueError)
    assert type(theirs).__name__ == "ValueError" and theirs.type_name == "ValueError"
    assert str(theirs) == str(mine) == "no cheese"


def test_local_mistakes_are_caught_before_sending_with_the_same_error(pair):
    local, remote = pair
    attempts = [
        ("call", ("Counter", "alice", "echo", [{1, 2}])),
        ("storage_put", ("Counter", "alice", "k", {1, 2})),
        ("storage_put", ("Counter", "alice", 5, 1)),
        ("alarm_set", ("Counter", "alice", "tomorrow")),
    ]
    theirs = [_raised(getattr(remote, fn), *args) for fn, args in attempts]
    assert local.instance("Counter", "alice")["state"] == "unknown"  # nothing reached the engine
    mine = [_raised(getattr(local, fn), *args) for fn, args in attempts]
    for (fn, _), m, t in zip(attempts, mine, theirs, strict=False):
        assert type(t) is type(m) and str(t) == str(m), fn


def test_storage_limits_come_back_as_the_storage_error(pair):
    local, remote = pair
    mine = _raised(local.storage_put, "Counter", "alice", "k" * 3000, 1)
    theirs = _raised(remote.storage_put, "Counter", "alice", "k" * 3000, 1)
    assert isinstance(theirs, ValueError) and str(theirs) == str(mine)


def test_events_stream_to_a_remote_subscription(pair):
    local, remote = pair
    sub = remote.subscribe()
    remote.call("Counter", "dave", "increment")
    events = []
    deadline = time.monotonic() + 10
    while not any(e["type"] == "call.finished" for e in events) and time.monotonic() < deadline:
        events += sub.drain()
        time.sleep(0.02)
    finished = next(e for e in events if e["type"] == "call.finished")
    assert finished["name"] == "dave" and finished["result"] == 1
    sub.close()
    # Closing ends the stream at the gateway: the engine is left with no subscriber.
    deadline = time.monotonic() + 10
    while local.engine.bus.active and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not local.engine.bus.active, "the gateway still streams events to a closed subscription"


def test_a_slow_remote_reader_loses_the_oldest_events_and_is_told(pair):
    local, remote = pair
    remote.call("Counter", "erin", "peek")  # awake: no state events below
    sub = remote.subscribe(maxlen=3)
    for _ in range(10):
        remote.call("Counter", "erin", "peek")  # 2 events each
    got = []
    deadline = time.monotonic() + 10
    while sum(e.get("count", 1) for e in got) < 20 and time.monotonic() < deadline:
        got += sub.drain()
        time.sleep(0.02)
    sub.close()
    assert got[0]["type"] == "events.lost"
    assert (
        sum(e["count"] for e in got if e["type"] == "events.lost") + sum(1 for e in got if e["type"] != "events.lost")
        == 20
    )
    assert len([e for e in got if e["type"] != "events.lost"]) == 3


def test_a_subscription_predicate_filters(pair):
    local, remote = pair
    sub = remote.subscribe(predicate=lambda e: e.get("name") == "keep")
    remote.call("Counter", "drop", "peek")
    remote.call("Counter", "keep", "peek")
    events = []
    deadline = time.monotonic() + 10
    while len(events) < 2 and time.monotonic() < deadline:
        events += sub.drain()
        time.sleep(0.02)
    sub.close()
    assert {e["name"] for e in events} == {"keep"}


# ================================================================ the command registry, unchanged
SCRIPT = [
    "classes",
    "Counter/alice.increment(3)",
    "call Counter/alice increment by=2",
    "ls",
    "ls Counter --live",
    "storage Counter/alice",
    "put Counter/alice note 'hi'",
    "get Counter/alice note",
    "del Counter/alice note",
    "alarm Counter/alice set 2100-01-01T00:00:00Z",
    "alarm Counter/alice",
    "alarm Counter/alice delete",
    "queue Counter/alice",
    "history Counter/alice 3",
    "hibernate Counter/alice",
    "wake Counter/alice",
    "Counter/alice.incremnt()",
    "Nope/alice.increment()",
    "Counter/alice.fail('no cheese')",
    "Counter/alice.echo(1, [2], k={'x': None})",
    "hibernate --all",
    "reload",
    "watch Counter --for 0.3",
]


def _outcomes(facade) -> list[dict]:
    from dotui.commands import Context, execute

    ctx = Context(facade)
    out = []
    for line in SCRIPT:
        doc = execute(ctx, line).to_dict()
        if doc["error"]:
            doc["error"].pop("traceback")  # an object's own frames stay on the gateway's side
        out.append(strip_times(doc))
    return out


def test_every_command_answers_the_same_through_the_gateway(tmp_path):
    objects = write_server_objects(tmp_path / "objects")
    with LocalEngine(str(objects), str(tmp_path / "here"), idle_timeout=60) as here:
        mine = _outcomes(here)
    with LocalEngine(str(objects), str(tmp_path / "there"), idle_timeout=60) as there:
        gateway = start_gateway_thread(there, "127.0.0.1", 0)
        try:
            with connect(gateway.url, data=str(tmp_path / "there")) as remote:
                theirs = _outcomes(remote)
        finally:
            gateway.close()
    for line, m, t in zip(SCRIPT, mine, theirs, strict=False):
        if line.startswith("storage"):
            m["result"].pop("path"), t["result"].pop("path")  # two data folders
        assert t == m, line
    assert [d["ok"] for d in theirs].count(False) == 3


# ================================================================ tokens and reachability
def test_the_token_file_is_private_and_found_by_connect(tmp_path):
    objects = write_server_objects(tmp_path / "objects")
    data = tmp_path / "data"
    with LocalEngine(str(objects), str(data)) as local:
        gateway = start_gateway_thread(local, "127.0.0.1", 0)
        try:
            path = data / "serve.token"
            assert gateway.token_path == str(path)
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert path.read_text().strip() == gateway.token
            assert gateway.warning is None
            with connect(gateway.url, data=str(data)) as remote:  # found in <data>/serve.token
                assert remote.call("Counter", "a", "increment") == 1
            os.environ["DOTUI_TOKEN"] = gateway.token
            try:
                with connect(gateway.url, data=str(tmp_path / "elsewhere")) as remote:  # found in the env
                    assert remote.call("Counter", "a", "increment") == 2
            finally:
                del os.environ["DOTUI_TOKEN"]
            with connect(gateway.url, token=gateway.token) as remote:  # given
                assert remote.call("Counter", "a", "increment") == 3
            err = _raised(connect, gateway.url, token="wrong")
            assert isinstance(err, GatewayAuthError) and isinstance(err, PermissionError)
            assert "refused this client (403" in str(err) and "--token" in str(err)
        finally:
            gateway.close()
        assert not path.exists()  # a stopped gateway leaves no token behind
    err = _raised(connect, "http://127.0.0.1:1", data=str(tmp_path / "nowhere"))
    assert isinstance(err, TokenNotFound) and "serve.token does not exist" in str(err)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_an_unreachable_gateway_is_a_clear_connection_error_after_retries():
    port = _free_port()
    err = _raised(RemoteEngine(f"http://127.0.0.1:{port}", "t").start)
    assert isinstance(err, ServerUnreachableError) and isinstance(err, ConnectionError)
    message = str(err)
    assert message.startswith(f"cannot reach dotui serve at http://127.0.0.1:{port}: ")
    assert "is it running?" in message and "dotui serve" in message and "tried 4 times" in message


def test_a_port_is_a_url():
    remote = RemoteEngine("8787", "t")
    assert remote.url == "http://127.0.0.1:8787"
    assert RemoteEngine("localhost:9000/", "t").url == "http://localhost:9000"
    with pytest.raises(ValueError, match="give an http:// URL"):
        RemoteEngine("ftp://x", "t")


def test_an_operation_on_a_closed_client_fails_at_once_and_one_in_flight_is_told(pair):
    """A closed client's loop has stopped: what is sent then, or still waits then, would never be
    answered. A TUI worker thread blocked on one hung the app's exit (and a test run) for good."""
    import threading

    from dotui.engine.errors import EngineClosedError

    local, remote = pair
    outcome: list[BaseException | object] = []

    def call() -> None:
        try:
            outcome.append(remote.call("Counter", "slowpoke", "slow", [30]))
        except BaseException as exc:  # noqa: BLE001 - the test reads what the caller got
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    deadline = time.monotonic() + 10
    while not any(c.get("method") == "slow" for c in local.queue("Counter", "slowpoke")):
        assert time.monotonic() < deadline, "the slow call never reached the object"
        time.sleep(0.02)
    remote.close()
    caller.join(10)
    assert not caller.is_alive(), "the caller still waits for an answer that cannot come"
    assert isinstance(outcome[0], (EngineClosedError, ServerUnreachableError)), outcome  # told, either way
    later = threading.Thread(target=lambda: outcome.append(_raised(remote.stats)), daemon=True)
    later.start()
    later.join(10)
    assert not later.is_alive(), "an operation sent after close waits for good"
    assert isinstance(outcome[1], EngineClosedError) and "closed; connect again" in str(outcome[1]), outcome
