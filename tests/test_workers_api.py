"""The `workers` module on dotui's engine, in process: what Python Workers code sees (dotui/workers/).

A project is written to a temporary folder (wrangler.toml, src/entry.py) and run by an Engine; a Caller
object reaches a Target through env bindings, as a Worker would, so each check goes through the stubs,
RPC conversions, awaitable storage and ctx of the `workers` module."""

from __future__ import annotations

import asyncio
import datetime as dt
import textwrap
from pathlib import Path

import pytest

from dotui import Engine

WRANGLER = """
name = "t"
main = "src/entry.py"
[[durable_objects.bindings]]
name = "TARGET"
class_name = "Target"
[[durable_objects.bindings]]
name = "CALLER"
class_name = "Caller"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["Target"]
new_classes = ["Caller", "Plain"]
[vars]
GREETING = "hi"
"""

ENTRY = """
import datetime as dt
from workers import DurableObject, Response, WorkerEntrypoint
from dotui import DurableObject as NativeDurableObject


class Target(DurableObject):
    def echo(self, value):
        return value

    def kinds(self, value):
        return {"type": type(value).__name__, "repr": repr(value)}

    def boom(self):
        raise ValueError("the target's own error")

    def bye(self):
        self.ctx.abort("going")

    async def nest(self, depth):
        async def inner(n):
            if n == 0:
                return "bottom"
            return await self.ctx.blockConcurrencyWhile(lambda: inner(n - 1))
        return await inner(depth)

    async def store(self):
        s = self.ctx.storage
        s.put("unawaited", 1)                      # no await: stored all the same
        await s.put({"b": 2, "c": {"deep": [1, 2]}})
        await s.put(3, "three")                     # a number key is its digits
        listed = await s.list(reverse=True, limit=2)
        got = await s.get(["b", "c", "missing"])
        await s.setAlarm(dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
        alarm = await s.getAlarm()
        deleted = await s.delete("b")
        return {"listed": list(listed), "c_deep": got["c"].deep, "missing": "missing" in got, "alarm": alarm,
                "deleted": deleted, "three": await s.get("3"), "unawaited": await s.get("unawaited")}

    async def txn(self):
        async def fails(txn):
            await txn.put("t", 1)
            raise RuntimeError("undo")
        try:
            await self.ctx.storage.transaction(fails)
        except RuntimeError:
            pass
        async def rolls(txn):
            await txn.put("t", 2)
            txn.rollback()
        await self.ctx.storage.transaction(rolls)
        kept = await self.ctx.storage.transaction(lambda txn: txn.put("t", 3))
        return await self.ctx.storage.get("t")

    def sql(self):
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (k TEXT, v INTEGER)")
        self.ctx.storage.transactionSync(lambda: self.ctx.storage.sql.exec("INSERT INTO t VALUES ('a', 1), ('b', 2)"))
        cur = self.ctx.storage.sql.exec("SELECT k, v FROM t ORDER BY k")
        rows = cur.toArray()
        return {"cols": cur.columnNames, "first": rows[0].k, "v": rows[1]["v"],
                "one": self.ctx.storage.sql.exec("SELECT 'hi' AS greeting").one().greeting,
                "raw": list(self.ctx.storage.sql.exec("SELECT v FROM t ORDER BY v").raw())}

    async def alarm(self):
        await self.ctx.storage.put("alarm_ran", True)

    async def put_kv(self, key):
        await self.ctx.storage.put(key, 1)

    async def read_kv(self, key):
        return await self.ctx.storage.get(key)

    def write_sql(self):
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS only_sql (v INTEGER)")


class Caller(DurableObject):
    '''Reaches the others through env bindings.'''

    async def roundtrip(self, name):
        stub = self.env.TARGET.getByName(name)
        when = dt.datetime(2025, 5, 4, 3, 2, 1, 123456, tzinfo=dt.UTC)
        sent = {"bytes": b"\\x00\\xff", "when": when, "set": {1, 2}, "none": None, "nested": [{"b": b"x"}],
                "ints": {1: "one"}, "tag": {"__rpc__": "bytes", "v": "not really"}, "nan": float("inf")}
        back = await stub.echo(sent)
        return {"stub_name": stub.name, "id_name": stub.id.name, "same": back == {**sent, "ints": {"1": "one"},
                "when": dt.datetime(2025, 5, 4, 3, 2, 1, 123000)},
                "attr": back.nested[0].b == b"x", "kinds": await stub.kinds(b"ab"), "var": self.env.GREETING}

    async def refused(self, what):
        stub = self.env.TARGET.getByName("x")
        value = {"tuple": (1, 2), "bytearray": bytearray(b"x"), "function": len}[what]
        try:
            await stub.echo(value)
        except TypeError as exc:
            return str(exc)

    async def errors(self):
        stub = self.env.TARGET.getByName("x")
        out = {}
        for method in ("boom", "bye", "nope"):
            try:
                await getattr(stub, method)()
            except Exception as exc:
                out[method] = [type(exc).__name__, exc.remote, exc.retryable, exc.overloaded]
        return out

    def unbound(self):
        try:
            self.env.NOPE
        except AttributeError as exc:
            return str(exc)


class Plain(NativeDurableObject):
    async def arm(self, mode=None):
        self.ctx.storage.put("mode", mode)
        self.ctx.storage.set_alarm(self.ctx.now() + 1)

    def fired(self):
        return self.ctx.storage.get("fired", False)

    async def alarm(self):  # declared without the info parameter
        mode = self.ctx.storage.get("mode")
        if mode is not None:
            self.ctx.abort("the alarm aborts", retry_alarm=mode == "retry")
        self.ctx.storage.put("fired", True)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")
"""


@pytest.fixture
async def engine(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "wrangler.toml").write_text(WRANGLER)
    (tmp_path / "src" / "entry.py").write_text(textwrap.dedent(ENTRY))
    e = Engine(objects=str(tmp_path / "wrangler.toml"), data=str(tmp_path / "data"), idle_timeout=60)
    await e.start()
    assert not e.load_errors, e.load_errors
    try:
        yield e
    finally:
        await asyncio.wait_for(e.close(), 30)


async def test_namespaces_are_the_classes_and_backends_follow_the_migrations(engine):
    assert {n["name"] for n in engine.namespaces()} == {"Target", "Caller", "Plain"}
    assert engine.namespace_info("Target").backend == "sqlite" and engine.namespace_info("Caller").backend == "kv"


async def test_rpc_values_round_trip_as_on_cloudflare(engine):
    out = await engine.env.Caller.get_by_name("c").roundtrip("t1")
    assert out["stub_name"] == "t1" and out["id_name"] == "t1"
    assert out["same"] is True  # bytes, a naive UTC datetime at ms, a set, None, int keys as text, a tag-like dict
    assert out["attr"] is True  # a dict reads by attribute
    assert out["kinds"] == {"type": "bytes", "repr": "b'ab'"}
    assert out["var"] == "hi"


@pytest.mark.parametrize(
    "what,says",
    [
        ("tuple", "<class 'tuple'> cannot be sent over RPC."),
        ("bytearray", "<class 'bytearray'> cannot be sent over RPC."),
        ("function", "a function or a stub cannot be copied"),
    ],
)
async def test_what_rpc_cannot_carry_is_refused_saying_why(engine, what, says):
    assert says in await engine.env.Caller.get_by_name("c").refused(what)


async def test_errors_carry_remote_retryable_overloaded(engine):
    out = await engine.env.Caller.get_by_name("c").errors()
    assert out["boom"] == ["ValueError", True, False, False]  # the object's own error
    assert out["bye"] == ["ObjectAbortedError", False, True, False]  # the object was reset: try again
    assert out["nope"][0] == "MethodNotFoundError" and out["nope"][1:] == [False, False, False]


async def test_env_names_its_bindings_when_one_is_missing(engine):
    text = await engine.env.Caller.get_by_name("c").unbound()
    assert "env has no binding NOPE" in text and "TARGET" in text and "GREETING" in text


async def test_storage_is_awaitable_with_the_javascript_names(engine):
    out = await engine.env.Target.get_by_name("s").store()
    assert out["listed"] == ["unawaited", "c"] and out["c_deep"] == [1, 2] and out["missing"] is False
    assert out["alarm"] == dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp() * 1000
    assert out["deleted"] is True and out["three"] == "three" and out["unawaited"] == 1


async def test_storage_transaction_takes_a_closure_and_rolls_back(engine):
    assert await engine.env.Target.get_by_name("x").txn() == 3


async def test_sql_rows_read_as_attributes_and_keys(engine):
    out = await engine.env.Target.get_by_name("q").sql()
    assert out == {"cols": ["k", "v"], "first": "a", "v": 2, "one": "hi", "raw": [[1], [2]]}


@pytest.mark.parametrize("depth", [1, 100, 1000, 5000])
async def test_block_concurrency_while_nests_as_on_workerd(engine, depth):
    # bench/peer/nesting.mjs: workerd (miniflare 4.20260426.0) answers "bottom" at each of these depths
    assert await asyncio.wait_for(engine.env.Target.get_by_name(f"n{depth}").nest(depth), 60) == "bottom"
    assert await engine.env.Target.get_by_name(f"n{depth}").echo("after") == "after"  # not reset, its gate open


async def test_alarm_may_be_declared_without_its_info(engine):
    plain = engine.env.Plain.get_by_name("p")
    await plain.arm()
    assert (await engine.alarms.fire_now("Plain", plain.id.hex))[0] == "done"
    assert await plain.fired() is True


@pytest.mark.parametrize("mode,outcome", [("retry", "retry"), ("drop", "gave_up")])
async def test_abort_in_an_alarm_retries_it_unless_retry_alarm_is_false(engine, mode, outcome):
    plain = engine.env.Plain.get_by_name(mode)
    await plain.arm(mode)
    assert (await engine.alarms.fire_now("Plain", plain.id.hex))[0] == outcome
    assert await plain.fired() is False


async def test_a_sqlite_objects_kv_keys_are_counted_in_every_wake(engine):
    # Counted only once a wake wrote KV, a live object that had only read (or written SQL) showed 0 keys,
    # and a commit of SQL alone wrote that 0 into the index its hibernated row is read from.
    t = engine.env.Target.get_by_name("counted")

    def keys() -> int:
        return next(i["keys"] for i in engine.instances() if i["name"] == "counted")

    await t.put_kv("a")
    await t.put_kv("b")
    assert keys() == 2
    await engine.hibernate("Target", t.id)
    assert await t.read_kv("a") == 1
    assert keys() == 2  # live, having only read
    await t.write_sql()
    await engine.hibernate("Target", t.id)
    assert keys() == 2  # hibernated, from the index the SQL commit wrote


def test_a_class_without_a_docstring_shows_none_not_its_base_classes(engine):
    docs = {ns["name"]: ns["doc"] for ns in engine.namespaces()}
    assert docs["Target"] == "" and docs["Caller"] == "Reaches the others through env bindings."
