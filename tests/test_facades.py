"""One table of admin operations (``dotui.ops.OPERATIONS``); two facades that cannot drift.

Every operation of the table is a method of ``EngineFacade``, ``LocalEngine``
and ``RemoteEngine`` with the same parameters (and they have no other but the
few written by hand), is implemented by ``Admin`` and ``ClusterAdmin``, is served
by the gateway at its path, and behaves the same on both facades: each case below runs on a
``LocalEngine`` and on a ``RemoteEngine`` (a gateway in front of another engine
with the same objects), and both answers must be what the case expects.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest

from dotui.engine.errors import NamespaceNotFoundError
from dotui.engine.rows import InstanceRow
from dotui.ops import OPERATIONS, Admin, EngineFacade, LocalEngine
from dotui.server import RemoteEngine, make_app
from server_support import local_and_remote, write_server_objects

ROW_FIELDS = set(InstanceRow.__annotations__) - {"shard"}  # one engine's rows: a cluster's add their shard
VOLATILE = {
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
    "path",
    "data_dir",
    "objects_dir",
    "pid",
}


def stable(value: Any) -> Any:
    """``value`` without what differs between two engines or two looks (times, folders)."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, (list, tuple)):
        return [stable(v) for v in value]
    return value


@pytest.fixture(scope="module")
def facades(tmp_path_factory):
    """{"local": LocalEngine, "remote": RemoteEngine}: two engines on the same objects, in two data folders."""
    tmp = tmp_path_factory.mktemp("facades")
    objects = str(write_server_objects(tmp / "objects"))
    (tmp / "objects" / "notes.py").write_text(NOTES)
    with local_and_remote(objects, tmp, idle_timeout=60) as both:
        yield both


def _rows_ok(rows: list[dict]) -> bool:
    return bool(rows) and all(set(r) <= ROW_FIELDS and {"namespace", "id", "name", "state"} <= set(r) for r in rows)


def _hx(f: EngineFacade, name: str) -> str:
    return f.resolve("Counter", name)["id"]


def _fresh_id_called(f: EngineFacade) -> tuple:
    """A fresh id names no object until its first call; two fresh ids differ."""
    made = f.new_unique_id("Counter")
    before = f.instance("Counter", "#" + made["id"])["state"]
    return (
        len(made["id"]),
        made["name"],
        f.call("Counter", "#" + made["id"], "increment"),
        before == "unknown" and f.new_unique_id("Counter")["id"] != made["id"],
    )


NOTES = """
from dotui import DurableObject

class Notes(DurableObject):
    storage_backend = "sqlite"

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)")

    def add(self, text):
        self.ctx.storage.sql.exec("INSERT INTO notes(text) VALUES (?)", text)
"""


def _texts(f: EngineFacade, n: str) -> list:
    return f.sql_query("Notes", n, "SELECT text FROM notes ORDER BY id")["rows"]


def _restored(f: EngineFacade, n: str) -> tuple:
    f.call("Notes", n, "add", ["one"])
    b1 = f.bookmark("Notes", n)
    f.call("Notes", n, "add", ["two"])
    undo = f.restore("Notes", n, b1)["undo"]
    first = f.sql_exec("Notes", n, "SELECT text FROM notes ORDER BY id")["rows"]
    f.restore("Notes", n, undo)
    return first, f.sql_exec("Notes", n, "SELECT text FROM notes ORDER BY id")["rows"]


# Each case: (what it does on a facade, with an object name of its own; what its answer must be).
CASES: dict[str, tuple[Callable[[EngineFacade, str], Any], Callable[[Any], bool]]] = {
    "info": (lambda f, n: f.info(), lambda r: r["load_errors"] == [] and r["version"]),
    "namespaces": (
        lambda f, n: sorted(ns["name"] for ns in f.namespaces()),
        lambda r: {"Counter", "Ledger", "Web"} <= set(r),
    ),
    "instances": (
        lambda f, n: (
            f.call("Counter", n, "increment"),
            [r for r in f.instances("Counter") if r["name"] == n],
            f.instances("Counter", state="live", limit=1),
            f.instances(offset=10_000),
        ),
        lambda r: _rows_ok(r[1]) and r[1][0]["state"] == "live" and len(r[2]) == 1 and r[3] == [],
    ),
    "instances_of": (
        lambda f, n: (
            f.call("Counter", n, "peek"),
            f.instances_of([["Counter", _hx(f, n)], ["Nope", "00"], ["Counter", "zz"]]),
        ),
        lambda r: _rows_ok(r[1]) and len(r[1]) == 1,
    ),
    "count_instances": (
        lambda f, n: (f.call("Counter", n, "peek"), f.count_instances("Counter")),
        lambda r: r[1]["total"] >= 1 and r[1]["total"] == r[1]["live"] + r[1]["hibernated"],
    ),
    "instance_table": (
        lambda f, n: (
            f.call("Counter", n, "peek"),
            [r for r in f.instance_table("Counter")["objects"] if r["name"] == n],
        ),
        lambda r: _rows_ok(r[1]),
    ),
    "instance": (
        lambda f, n: (f.instance("Counter", n), f.call("Counter", n, "peek"), f.instance("Counter", n)),
        lambda r: r[0]["state"] == "unknown" and r[2]["state"] == "live" and set(r[2]) <= ROW_FIELDS,
    ),
    "resolve": (
        lambda f, n: (
            f.call("Counter", n, "peek"),
            f.resolve("Counter", n),
            f.resolve("Counter", "#" + _hx(f, n)[:10]),
        ),
        lambda r: r[1] == r[2] and r[1]["name"] == r[1]["name"] and len(r[1]["id"]) == 64,
    ),
    "read_storage": (
        lambda f, n: (f.call("Counter", n, "increment", [4]), f.flush(), f.read_storage("Counter", n)["values"]),
        lambda r: r[2] == {"n": 4},
    ),
    "queue": (lambda f, n: f.queue("Counter", n), lambda r: r == []),
    "history": (
        lambda f, n: (
            f.call("Counter", n, "increment"),
            f.call("Counter", n, "increment", [2]),
            [(c["method"], c["args"], c["result"]) for c in f.history("Counter", n, 1)],
        ),
        lambda r: r[2] == [("increment", [2], 3)],
    ),
    # An objects folder has no Worker: no requests (tests/test_worker_requests.py runs a wrangler project's).
    "worker_requests": (lambda f, n: f.worker_requests(5), lambda r: r == []),
    "stats": (lambda f, n: sorted(f.stats()), lambda r: {"live", "hibernated", "calls", "websockets"} <= set(r)),
    "websockets": (
        lambda f, n: (f.call("Counter", n, "peek"), f.websockets("Counter", n)),
        lambda r: r[1] == {"sockets": [], "auto_response": None},
    ),
    "websocket_counts": (lambda f, n: f.websocket_counts("Counter"), lambda r: r == []),
    "call": (
        lambda f, n: (
            f.call("Counter", n, "echo", [1, [2]], {"k": None}),
            f.call_async("Counter", n, "increment", [5]).result(10),
        ),
        lambda r: r == ({"args": [1, [2]], "kwargs": {"k": None}}, 5),
    ),
    "storage_get": (
        lambda f, n: (
            f.storage_get("Counter", n, "n"),
            f.call("Counter", n, "increment"),
            f.storage_get("Counter", n, "n"),
        ),
        lambda r: r == (None, 1, 1),
    ),
    "storage_put": (
        lambda f, n: (f.storage_put("Counter", n, "n", 41), f.call("Counter", n, "increment")),
        lambda r: r == (None, 42),
    ),
    "storage_delete": (
        lambda f, n: (
            f.storage_put("Counter", n, "k", 1),
            f.storage_delete("Counter", n, "k"),
            f.storage_delete("Counter", n, "k"),
        ),
        lambda r: r == (None, True, False),
    ),
    "alarm_get": (lambda f, n: f.alarm_get("Counter", n), lambda r: r is None),
    "alarm_set": (
        lambda f, n: (
            f.alarm_set("Counter", n, "2100-01-01T00:00:00Z"),
            f.alarm_get("Counter", n),
            abs(f.alarm_set("Counter", n, "+3600") - time.time() - 3600) < 60,
        ),
        lambda r: r == (4102444800.0, 4102444800.0, True),
    ),
    "alarm_delete": (
        lambda f, n: (f.alarm_set("Counter", n, 4102444800), f.alarm_delete("Counter", n), f.alarm_get("Counter", n)),
        lambda r: r == (4102444800.0, None, None),
    ),
    "hibernate": (
        lambda f, n: (f.call("Counter", n, "peek"), f.hibernate("Counter", n), f.instance("Counter", n)["state"]),
        lambda r: r == (0, True, "hibernated"),
    ),
    "hibernate_all": (
        lambda f, n: (f.call("Counter", n, "peek"), f.hibernate_all() >= 1, f.instance("Counter", n)["state"]),
        lambda r: r == (0, True, "hibernated"),
    ),
    "wake": (
        lambda f, n: (f.call("Counter", n, "increment"), f.hibernate("Counter", n), f.wake("Counter", n)),
        lambda r: r[2]["state"] == "live" and r[2]["keys"] == 1 and set(r[2]) <= ROW_FIELDS,
    ),
    "reset": (  # in-memory state goes, what is durable stays; an object not in memory has nothing to reset
        lambda f, n: (
            f.call("Counter", n, "increment"),
            f.call("Counter", n, "increment"),
            f.reset("Counter", n),
            f.instance("Counter", n)["state"],
            f.call("Counter", n, "peek"),
            f.hibernate("Counter", n),
            f.reset("Counter", n),
        ),
        lambda r: r == (1, 2, True, "hibernated", 2, True, False),
    ),
    "reload": (lambda f, n: f.reload(), lambda r: r == []),
    "flush": (lambda f, n: f.flush(), lambda r: r is None),
    "new_unique_id": (lambda f, n: _fresh_id_called(f), lambda r: r == (64, None, 1, True)),
    "sql_tables": (
        lambda f, n: (
            f.call("Notes", n, "add", ["x"]),
            f.hibernate("Notes", n),
            [t["name"] for t in f.sql_tables("Notes", n)["tables"]],
            f.instance("Notes", n)["state"],
        ),
        lambda r: r[2:] == (["notes"], "hibernated"),
    ),
    "sql_query": (
        lambda f, n: (
            f.call("Notes", n, "add", ["x"]),
            f.hibernate("Notes", n),
            _texts(f, n),
            f.instance("Notes", n)["state"],
        ),
        lambda r: r[2:] == ([["x"]], "hibernated"),
    ),
    "sql_exec": (
        lambda f, n: (f.sql_exec("Notes", n, "INSERT INTO notes(text) VALUES (?) RETURNING id", ["y"]), _texts(f, n)),
        lambda r: r[0]["rows"] == [[1]] and r[0]["rows_written"] == 1 and r[1] == [["y"]],
    ),
    "bookmarks": (
        lambda f, n: (
            f.call("Notes", n, "add", ["x"]),
            f.bookmarks("Notes", n)[-1]["bookmark"],
            f.bookmark("Notes", n),
        ),
        lambda r: r[1] == r[2],
    ),
    "bookmark": (
        lambda f, n: (f.call("Notes", n, "add", ["x"]), f.bookmark("Notes", n), f.bookmark("Notes", n, "+0")),
        lambda r: r[1] == r[2] and len(r[1]) == 33,
    ),
    "restore": (_restored, lambda r: r == ([["one"]], [["one"], ["two"]])),
    "commit_delay": (
        lambda f, n: (f.commit_delay(0.2), f.call("Counter", n, "increment"), f.commit_delay(0)),
        lambda r: r == (0.2, 1, 0.0),
    ),
}


def test_every_operation_has_a_case():
    assert set(CASES) == set(OPERATIONS)


def _public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


# What a facade has besides the operations: the hand-written rest of EngineFacade (the event stream,
# WebSocket sessions, describing, closing, the one method carrying an operation), and each one's start.
FACADE_REST = {"send", "call_async", "subscribe", "open_websocket", "data_dir", "objects_dir", "load_errors", "close"}
OWN = {LocalEngine: {"start", "run", "submit", "remote"}, RemoteEngine: {"start", "remote"}}
# What an Admin has besides the operations: the checked call by id the gateway's object routes use, its
# check, the reference resolver, the event stream; a cluster's also its shard lookup and its constructor.
ADMIN_REST = {"call_id", "check_call", "target", "subscribe"}


def test_the_facades_offer_the_table_and_nothing_else():
    assert _public(EngineFacade) == set(OPERATIONS) | FACADE_REST
    for cls, own in OWN.items():
        assert _public(cls) == set(OPERATIONS) | FACADE_REST | own, cls.__name__
        assert issubclass(cls, EngineFacade) and not inspect.isabstract(cls), cls.__name__


def test_the_engine_and_the_cluster_implement_the_table_and_nothing_else():
    from dotui.cluster.admin import ClusterAdmin

    assert _public(Admin) == set(OPERATIONS) | ADMIN_REST
    assert _public(ClusterAdmin) == set(OPERATIONS) | ADMIN_REST | {"home", "over"}
    for name in OPERATIONS:  # every one written for the cluster, or sent to the object's shard
        assert name in vars(ClusterAdmin), name


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_facade_takes_the_declared_parameters(name):
    op = OPERATIONS[name]
    want = [(p.name, p.default) for p in op.params]
    for cls in (EngineFacade, LocalEngine, RemoteEngine):
        params = list(inspect.signature(getattr(cls, name)).parameters.values())[1:]
        got = [(p.name, p.default) for p in params if not (name == "call" and p.name == "timeout")]
        assert got == want, f"{cls.__name__}.{name}"
    assert inspect.iscoroutinefunction(getattr(Admin, name))  # its own, or its group's (ops/lifecycle.py)


def test_an_implementation_that_drifts_from_the_table_is_refused_at_import():
    from dotui.ops.table import check_implements

    class Drifted(Admin):
        async def history(self, namespace: str, ref: str, count: int = 20) -> list:  # renamed parameter
            return []

        def flush(self) -> None:  # not a coroutine
            return None

    with pytest.raises(TypeError) as info:
        check_implements(Drifted, OPERATIONS)
    assert "history takes" in str(info.value) and "flush is not a coroutine" in str(info.value)


def test_a_generated_operation_checks_its_arguments_as_python_would(facades):
    local = facades["local"]
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        local.history("Counter", "x", nope=1)
    with pytest.raises(TypeError, match="missing required argument 'ref'"):
        local.history("Counter")
    with pytest.raises(TypeError, match="multiple values for argument 'namespace'"):
        local.history("Counter", namespace="Counter")


def test_the_gateway_serves_every_operation_at_its_path(tmp_path):
    objects = write_server_objects(tmp_path / "objects")
    with LocalEngine(str(objects), str(tmp_path / "data")) as local:
        app = make_app(local.engine, "t")
        served = {(r.method, r.resource.canonical) for r in app.router.routes()}
    assert {(op.verb, op.path) for op in OPERATIONS.values()} <= served


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_the_operation_behaves_the_same_on_both_facades(facades, name):
    run, check = CASES[name]
    answers = {}
    for kind, facade in facades.items():
        answers[kind] = run(facade, f"case-{name}")
        assert check(answers[kind]), (kind, answers[kind])
    assert stable(answers["remote"]) == stable(answers["local"])


@pytest.mark.parametrize(
    "name", sorted(n for n, op in OPERATIONS.items() if any(p.name == "namespace" and p.required for p in op.params))
)
def test_an_unknown_namespace_is_the_same_error_on_both_facades(facades, name):
    op = OPERATIONS[name]
    args = {p.name: "+30" if p.name == "when" else "x" for p in op.params if p.required}
    args["namespace"] = "Nope"
    errors = {}
    for kind, facade in facades.items():
        with pytest.raises(NamespaceNotFoundError) as info:
            getattr(facade, name)(**args)
        errors[kind] = str(info.value)
    assert errors["remote"] == errors["local"] and "Nope" in errors["local"]


def test_every_row_the_engine_lists_has_the_one_row_shape(tmp_path):
    from dotui.engine.rows import HIBERNATED_FIELDS, hibernated_row

    objects = write_server_objects(tmp_path / "objects")
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60) as first:
        first.call("Counter", "sleeper", "increment")
    with LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=60) as again:  # known from the index only
        again.call("Counter", "awake", "increment")
        rows = again.instances()
        table = again.instance_table()
    assert all(set(r) == ROW_FIELDS for r in rows), rows
    sleeper = next(r for r in rows if r["name"] == "sleeper")
    assert sleeper == hibernated_row(
        "Counter", sleeper["id"], "sleeper", sleeper["last_active"], 1, sleeper["bytes"], None, calls=1
    )  # its counters outlive the restart
    assert set(table["hibernated"]["Counter"]) == set(HIBERNATED_FIELDS)
    assert [set(r) for r in table["objects"]] == [ROW_FIELDS]
