"""Memory follows live objects: a hibernated object leaves nothing but its index entry (with its
counters), and the history the front ends show is bounded engine-wide by count and bytes
(docs/trust.md, "Memory: every buffer and its bound")."""

from __future__ import annotations

import pytest

from dotui import Engine
from dotui.engine import history
from dotui.engine.ids import IdFactory
from tests.conftest import engine_of, eventually, guarded, write_objects

WORKER = """
    from dotui import DurableObject

    class Worker(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)

        async def add(self, by=1):
            n = self.ctx.storage.get("n", 0) + by
            self.ctx.storage.put("n", n)
            return n

        def big(self, size):
            return "x" * size

        def fail(self):
            raise ValueError("asked to fail")

    class Fragile(DurableObject):
        def __init__(self, ctx, env):
            raise RuntimeError("this constructor always fails")

        def anything(self):
            return 1
"""

GROWING = (
    "records",
    "live",
    "broken_kept",
    "history_entries",
    "history_bytes",
    "websocket_objects",
    "alarms_pending",
    "alarm_heap",
    "uncheckpointed_objects",
    "events_buffered",
)


async def _work(engine: Engine, names: list[str]) -> None:
    for name in names:
        w = engine.env.Worker.get_by_name(name)
        for _ in range(3):
            await w.add()
        await w.big(50_000)
        with pytest.raises(ValueError):
            await w.fail()


@pytest.mark.slow
@guarded
async def test_hibernated_objects_leave_the_engine_as_it_was(tmp_path):
    async with engine_of(tmp_path, {"idle_timeout": 60}, worker=WORKER) as engine:
        await _work(engine, ["warm-up"])  # imports, the log's first segment, the checkpoint folder
        await engine.hibernate_all()
        before = engine.bookkeeping()
        assert before["records"] == 0 and before["history_entries"] == 0

        names = [f"user-{i}" for i in range(300)]
        await _work(engine, names)
        during = engine.bookkeeping()
        assert during["records"] == during["live"] == 300 and during["history_entries"] == 300 * 5

        assert await engine.hibernate_all() == 300
        after = engine.bookkeeping()
        assert {k: after[k] for k in GROWING} == {k: before[k] for k in GROWING}

        ns = engine.env.Worker
        oid = ns.id_from_name("user-7")
        assert engine.held(("Worker", oid.hex)) is None
        assert engine.history("Worker", oid) == []  # the calls went with the object ...
        row = engine.instance_info("Worker", oid)
        assert (row["state"], row["calls"], row["errors"]) == ("hibernated", 5, 1)  # ... their counts stayed
        rows = engine.instances("Worker", state="hibernated")
        assert len(rows) == 301 and {(r["calls"], r["errors"]) for r in rows} == {(5, 1)}
        table = (await engine.instance_table("Worker"))["hibernated"]["Worker"]
        assert set(table["calls"]) == {5} and set(table["errors"]) == {1}

        await ns.get(oid).add()  # it wakes with its counts, and counts on
        assert (engine.instance_info("Worker", oid)["calls"], len(engine.history("Worker", oid))) == (6, 1)

    async with engine_of(tmp_path, {"idle_timeout": 60}, worker=WORKER) as again:  # after a restart
        rows = {r["name"]: r for r in again.instances("Worker")}
        assert (rows["user-7"]["calls"], rows["user-7"]["errors"]) == (6, 1)
        assert (rows["user-8"]["calls"], rows["user-8"]["errors"]) == (5, 1)


@guarded
async def test_the_history_is_bounded_by_count_and_bytes_engine_wide(tmp_path):
    options = {"idle_timeout": 60, "history_size": 4, "history_entries": 30, "history_bytes": 12_000}
    async with engine_of(tmp_path, options, worker=WORKER) as engine:
        ns = engine.env.Worker
        for i in range(20):
            for _ in range(6):
                await ns.get_by_name(f"w{i}").add()
        kept = engine.bookkeeping()
        assert kept["history_entries"] <= 30 and kept["history_bytes"] <= 12_000
        newest = engine.history("Worker", ns.id_from_name("w19"), 100)
        assert [c["result"] for c in newest] == [3, 4, 5, 6]  # the last history_size of one object
        assert engine.history("Worker", ns.id_from_name("w0"), 100) == []  # the oldest went first

        big = ns.get_by_name("big")
        assert len(await big.big(200_000)) == 200_000  # the caller gets all of it
        [call] = engine.history("Worker", big.id, 1)
        assert call["status"] == "done" and call["result"].startswith("… 200,002+ bytes")  # the history: a note
        assert "not kept in the history" in call["result"]
        for _ in range(40):
            await big.big(history.VALUE_BYTES - 10)  # kept whole, and many of them: the byte bound holds
        assert engine.bookkeeping()["history_bytes"] <= 12_000
        assert engine.history("Worker", big.id, 1)[0]["result"] == "x" * (history.VALUE_BYTES - 10)


@guarded
async def test_a_failed_call_is_kept_as_plain_text_not_its_exception(tmp_path):
    async with engine_of(tmp_path, {"idle_timeout": 60}, worker=WORKER) as engine:
        w = engine.env.Worker.get_by_name("w")
        with pytest.raises(ValueError):
            await w.fail()
        [call] = engine.history("Worker", w.id, 1)
        error = dict(call["error"])
        frame = error.pop("frame")  # where in the object's code: plain text and a number, no frame object
        assert error == {"type": "ValueError", "message": "asked to fail"}
        assert frame["function"] == "fail" and type(frame["line"]) is int and type(frame["file"]) is str
        assert call["status"] == "failed" and "result" not in call


@guarded
async def test_broken_objects_keep_at_most_a_bounded_number_of_records(tmp_path, monkeypatch):
    monkeypatch.setattr(Engine, "BROKEN_KEPT", 3)
    async with engine_of(tmp_path, {"idle_timeout": 60}, worker=WORKER) as engine:
        for i in range(10):
            with pytest.raises(Exception, match="constructor always fails"):
                await engine.env.Fragile.get_by_name(f"f{i}").anything()
        kept = engine.bookkeeping()
        assert kept["broken_kept"] == kept["records"] == 3
        broken = engine.instances("Fragile", state="broken")
        assert [r["name"] for r in broken] == ["f7", "f8", "f9"]  # the most recent say why
        assert all("constructor always fails" in r["broken"] for r in broken)
        assert engine.instance_info("Fragile", engine.env.Fragile.id_from_name("f0"))["state"] == "hibernated"


@guarded
async def test_the_name_cache_is_bounded(tmp_path):
    async with engine_of(tmp_path, {"idle_timeout": 60}, worker=WORKER) as engine:
        ns = engine.env.Worker
        for i in range(IdFactory.NAMES_KEPT + 500):
            ns.id_from_name(f"name-{i}")
        assert 0 < engine.bookkeeping()["names_remembered"] <= IdFactory.NAMES_KEPT


def test_history_bounds_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="history_entries must be a whole number >= 1; got 0"):
        Engine(objects=str(tmp_path), data=str(tmp_path / "data"), history_entries=0)


BULK = """
    from dotui import DurableObject

    class Bulk(DurableObject):
        def write(self, n):
            for i in range(n):
                self.ctx.storage.put(f"k{i:05d}", i)
            return n

        def echo(self, value):
            return value

        def fail(self, size):
            raise ValueError("x" * size)
"""


@guarded
async def test_events_stay_small_whatever_a_call_carries(tmp_path):
    async with engine_of(tmp_path, {"idle_timeout": 60}, bulk=BULK) as engine:
        sub = engine.subscribe(1000)
        b = engine.env.Bulk.get_by_name("b")
        assert await b.write(500) == 500
        assert len(await b.echo("y" * 100_000)) == 100_000
        with pytest.raises(ValueError):
            await b.fail(100_000)
        events = sub.drain()
        [commit] = [e for e in events if e["type"] == "commit"]
        assert commit["key_count"] == 500 and commit["keys"] == [f"k{i:05d}" for i in range(32)]
        finished = [e for e in events if e["type"] == "call.finished"]
        assert "not kept in the history" in finished[1]["result"]
        assert len(finished[2]["error"]["message"]) < 2 * history.VALUE_BYTES
        assert max(len(repr(e)) for e in events) < 4 * history.VALUE_BYTES
        with pytest.raises(ValueError, match="1 to 100,000 events"):
            engine.subscribe(10**9)


@guarded
async def test_the_gateway_refuses_an_event_buffer_past_the_bound(tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    from dotui.server import make_app

    async with engine_of(tmp_path, {"idle_timeout": 60}, bulk=BULK) as engine:
        client = TestClient(TestServer(make_app(engine, "t" * 24)))
        await client.start_server()
        try:
            resp = await client.get(
                "/admin/events", params={"maxlen": "1000000000"}, headers={"Authorization": "Bearer " + "t" * 24}
            )
            assert resp.status == 400 and "from 1 to 100,000" in (await resp.json())["error"]["message"]
        finally:
            await client.close()


def test_the_tuis_watch_of_events_is_bounded():
    from dotui.tui.model import EngineWatch

    watch = EngineWatch(per_object=5, objects_kept=10)
    watch.fold({"type": "commit", "namespace": "N", "id": f"{i:064x}", "keys": ["k"]} for i in range(100))
    assert len(watch.events) == len(watch.last_commit) == 10
    watch.fold(
        {"type": "call.started", "namespace": "N", "id": "0" * 64, "call": seq, "method": "m"} for seq in range(1, 3000)
    )  # their ends were lost
    assert len(watch.on_thread) == EngineWatch.RUNNING_KEPT and watch.blocking().method == "m"
    assert min(watch.on_thread) == 3000 - EngineWatch.RUNNING_KEPT


@guarded
async def test_a_shards_detached_outcomes_do_not_wait_forever_for_their_caller(tmp_path, monkeypatch):
    from dotui.cluster import shard

    monkeypatch.setattr(shard, "DETACH_AFTER", 0.01)
    monkeypatch.setattr(shard, "TICKET_KEPT", 0.05)
    objects = write_objects(
        tmp_path / "objects",
        slow="""
        import asyncio
        from dotui import DurableObject

        class Slow(DurableObject):
            async def wait(self, seconds):
                await asyncio.sleep(seconds)
                return seconds
    """,
    )
    host = shard.ShardHost(0, ["shard-0"], str(objects), str(tmp_path / "data"), {"idle_timeout": 60})
    hx = IdFactory("Slow").from_name("s").hex
    try:
        answers = await host.calls([("call_id", "Slow", hx, "s", "wait", [0.3], {}) for _ in range(3)])
        assert [a[0] for a in answers] == ["later"] * 3 and host.tickets_waiting == 3
        assert await host.later(answers[0][1]) == ("ok", 0.3)  # collected: it goes at once

        async def gone():
            return host.tickets_waiting == 0

        assert await eventually(gone)  # the two nobody collected, TICKET_KEPT after they ended
    finally:
        await host.close()


@guarded
async def test_an_alarm_moved_on_and_on_leaves_no_trail_in_the_scheduler(tmp_path):
    async with engine_of(tmp_path, {"idle_timeout": 60}, worker=WORKER) as engine:
        hx = engine.env.Worker.id_from_name("w").hex
        far = engine.clock.now() + 86_400
        for i in range(5000):  # as commits that each set the object's alarm a little later would
            engine.alarms.schedule("Worker", hx, far + i)
        kept = engine.bookkeeping()
        assert kept["alarms_pending"] == 1 and kept["alarm_heap"] <= 2 + 1024


@guarded
async def test_a_record_held_past_its_release_never_makes_a_second_instance(tmp_path):
    """Whoever kept a record across an await (an alarm about to fire, say) reaches the object's
    one record when it calls: never a second Python object for the same id."""
    from dotui.engine.object.instance import Call

    async with engine_of(tmp_path, {"idle_timeout": 60}, worker=WORKER) as engine:
        w = engine.env.Worker.get_by_name("w")
        key = ("Worker", w.id.hex)
        await w.add()
        old = engine.held(key)
        await engine.hibernate("Worker", w.id)
        assert engine.held(key) is None  # forgotten
        await w.add()
        new = engine.held(key)
        assert new is not None and new is not old
        assert await old.invoke(Call("call", "add", (), {}, ())) == 3  # reaches the live record's object
        assert engine.held(key) is new and old.obj is None and engine.count_instances("Worker")["live"] == 1

        await engine.hibernate("Worker", w.id)
        assert await old.invoke(Call("call", "add", (), {}, ())) == 4  # nothing replaced it: it is the record again
        assert engine.held(key) is old and engine.count_instances("Worker")["live"] == 1
