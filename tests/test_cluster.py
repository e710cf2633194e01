"""Shards on Ray (docs/cluster.md): one home per id, calls across shards, a killed shard, the merged front ends.

Each test runs a 2-shard cluster on one local Ray instance (``cluster_support.local_ray``).
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from cluster_support import (  # skips without Ray
    Cluster,
    ClusterAdmin,
    is_loopback,
    listening,
    local_ray,
    names_on,
    shard_of,
)
from conftest import COUNTER, write_objects
from dotui.engine.errors import ShardUnavailableError
from dotui.engine.ids import IdFactory

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("ray")]

RELAY = """
    import asyncio
    from dotui import DurableObject

    class Relay(DurableObject):
        concurrency = "serial"  # re-entry (A -> B -> A) completes only if the chain says it is one

        async def bounce(self, other, depth):
            self.ctx.storage.put("bounced", self.ctx.storage.get("bounced", 0) + 1)
            if depth == 0:
                return [self.ctx.id.name]
            back = await self.env.Relay.get_by_name(other).bounce(self.ctx.id.name, depth - 1)
            return [self.ctx.id.name] + back

    class Caller(DurableObject):
        async def bump(self, name):
            return await self.env.Counter.get_by_name(name).increment()

        async def fail_there(self, name):
            return await self.env.Counter.get_by_name(name).increment("not a number")

    class Latch(DurableObject):
        opened = {}  # id -> asyncio.Event, in the shard's process

        async def hold(self):
            await Latch.opened.setdefault(self.ctx.id.hex, asyncio.Event()).wait()
            return "released"

        def release(self):
            Latch.opened.setdefault(self.ctx.id.hex, asyncio.Event()).set()
"""


@pytest.fixture
def objects(tmp_path):
    return str(write_objects(tmp_path / "objects", counter=COUNTER, relay=RELAY))


@pytest.fixture
async def cluster(objects, tmp_path):
    local_ray()
    c = await Cluster(objects, str(tmp_path / "root"), 2, idle_timeout=60).start()
    yield c, await ClusterAdmin.over(c)
    await c.close()


@pytest.mark.slow
async def test_each_shard_hosts_an_engine_on_its_own_folder(cluster, tmp_path):
    c, admin = cluster
    assert [p["folder"] for p in c.placement] == [str(tmp_path / "root" / f"shard-{i}") for i in range(2)]
    assert len({p["pid"] for p in c.placement}) == 2
    for i in range(2):
        assert (tmp_path / "root" / f"shard-{i}" / "lock").exists()
    with pytest.raises(Exception, match="already hosted on this Ray cluster"):
        await Cluster(c.objects, c.root, 2).start()
    # The refused second gateway ended none of the first one's shards.
    for shard in (0, 1):
        name = names_on("Counter", shard, prefix="still")[0]
        assert await asyncio.wait_for(admin.call("Counter", name, "increment"), 30) == 1


@pytest.mark.slow
async def test_one_instance_per_id_whatever_the_entry_point(cluster):
    """Increments of one object from the gateway's admin and from objects on both shards: distinct answers."""
    c, admin = cluster
    callers = [names_on("Caller", s, prefix="caller")[0] for s in (0, 1)]
    calls = [admin.call("Counter", "hot", "increment") for _ in range(20)]
    calls += [admin.call("Caller", who, "bump", ["hot"]) for who in callers for _ in range(20)]
    answers = await asyncio.wait_for(asyncio.gather(*calls), 60)
    assert sorted(answers) == list(range(1, 61))
    rows = [r for r in await admin.instances("Counter") if r["name"] == "hot"]
    assert len(rows) == 1 and rows[0]["shard"] == shard_of(IdFactory("Counter").from_name("hot").hex, 2)


@pytest.mark.slow
async def test_re_entry_across_shards_completes(cluster):
    c, admin = cluster
    a, b = names_on("Relay", 0)[0], names_on("Relay", 1)[0]
    path = await asyncio.wait_for(admin.call("Relay", a, "bounce", [b, 4]), 30)
    assert path == [a, b, a, b, a]
    assert (await admin.storage_get("Relay", a, "bounced"), await admin.storage_get("Relay", b, "bounced")) == (3, 2)


@pytest.mark.slow
async def test_an_error_raised_on_another_shard_reaches_the_calling_object(cluster):
    c, admin = cluster
    caller = names_on("Caller", 0, prefix="caller")[0]
    target = names_on("Counter", 1, prefix="t")[0]
    with pytest.raises(TypeError, match="unsupported operand"):
        await admin.call("Caller", caller, "fail_there", [target])


@pytest.mark.slow
async def test_listing_counts_and_stats_are_merged_from_every_shard(cluster):
    c, admin = cluster
    names = names_on("Counter", 0, n=3, prefix="m") + names_on("Counter", 1, n=2, prefix="m")
    for n in names:
        await admin.call("Counter", n, "increment")
    rows = await admin.instances("Counter")
    assert [r["name"] for r in rows] == sorted(names) and {r["shard"] for r in rows} == {0, 1}
    assert [r["name"] for r in await admin.instances("Counter", offset=1, limit=2)] == sorted(names)[1:3]
    assert (await admin.count_instances("Counter"))["total"] == 5
    table = await admin.instance_table("Counter")
    assert sorted(o["name"] for o in table["objects"]) == sorted(names)
    stats = await admin.stats()
    assert stats["shards"] == 2 and [s["live"] for s in stats["per_shard"]] == [3, 2] and stats["live"] == 5
    hx = (await admin.resolve("Counter", names[3]))["id"]
    assert (await admin.instance("Counter", "#" + hx[:12]))["shard"] == 1
    assert (await admin.read_storage("Counter", names[3]))["values"] == {"n": 1}


@pytest.mark.slow
async def test_events_come_from_every_shard_tagged_with_it(cluster):
    c, admin = cluster
    sub = admin.subscribe()
    for s in (0, 1):
        await admin.call("Counter", names_on("Counter", s, prefix="ev")[0], "increment")
    seen = set()
    while seen != {0, 1}:
        ev = await asyncio.wait_for(sub.get(), 10)
        if ev["type"] == "call.finished":
            seen.add(ev["shard"])
    sub.close()


@pytest.mark.slow
async def test_a_killed_shard_host_restarts_on_its_folder_and_no_acknowledged_write_is_lost(cluster):
    c, admin = cluster
    names = names_on("Counter", 1, n=4, prefix="load")
    acked: dict[str, list[int]] = {n: [] for n in names}
    refused: list[ShardUnavailableError] = []
    stop = asyncio.Event()

    async def client(name: str) -> None:
        while not stop.is_set():
            try:
                acked[name].append(await admin.call("Counter", name, "increment"))
            except ShardUnavailableError as exc:
                refused.append(exc)
                await asyncio.sleep(0.05)

    async def until(done) -> None:
        while not done():
            await asyncio.sleep(0.02)

    clients = [asyncio.ensure_future(client(n)) for n in names for _ in range(3)]

    def total() -> int:
        return sum(len(v) for v in acked.values())

    await asyncio.wait_for(until(lambda: total() >= 60), 60)
    os.kill(c.placement[1]["pid"], signal.SIGKILL)
    await asyncio.wait_for(until(lambda: refused), 30)
    after = total()
    await asyncio.wait_for(until(lambda: total() >= after + 60), 60)  # restarted by Ray, serving again
    stop.set()
    await asyncio.gather(*clients)

    assert "retry it" in str(refused[0])
    for n in names:
        assert len(acked[n]) == len(set(acked[n])), "an acknowledged increment was lost and its value given again"
        assert await admin.call("Counter", n, "peek") >= max(acked[n])
    assert (await c.ask(1, "describe"))["pid"] != c.placement[1]["pid"]


@pytest.mark.slow
async def test_a_slow_call_holds_back_no_answer_sent_in_the_same_message(cluster):
    """Calls to one shard made together travel in one Ray message; the fast ones are answered
    while a slow one (held until the test releases it) is still running."""
    c, admin = cluster
    latch = names_on("Latch", 0, prefix="latch")[0]
    counters = names_on("Counter", 0, n=5, prefix="quick")
    held = asyncio.ensure_future(admin.call("Latch", latch, "hold"))
    quick = [asyncio.ensure_future(admin.call("Counter", n, "increment")) for n in counters]
    assert await asyncio.wait_for(asyncio.gather(*quick), 30) == [1] * 5
    assert not held.done()
    await admin.call("Latch", latch, "release")
    assert await asyncio.wait_for(held, 30) == "released"


@pytest.mark.hostile
def test_the_session_ray_listens_on_loopback_only():
    """A Ray started through dotui.cluster (here, the tests' own) binds its ports to 127.0.0.1."""
    local_ray()
    ports = [(a, port) for a, port, pid in listening(os.getpid()) if pid != os.getpid()]
    assert ports and [(a, port) for a, port in ports if not is_loopback(a)] == []
