"""A simulated resharding with real shard engines: objects move between shards under load, and no
acknowledged write is lost (docs/cluster.md, "Resharding").

    python bench/cluster.py --only reshard [--objects N] [--seconds S]
    python bench/reshard.py [--objects N] [--seconds S] [--slots K]

No Ray: each shard is an ``Engine`` on its own data folder in this process, as a shard actor hosts
one, and the router below stands for the gateway's and the shards' routers. Placement is by slot:
``slot = placement.shard_of(id, SLOTS)`` (the same hash as the cluster's), and a table maps each slot
to its shard. Clients increment random objects the whole time; the resharder grows the cluster from 2
shards to 3, then shrinks it back to 2 (shard 1 leaves), moving one slot at a time:

1. freeze: calls to the slot wait at its gate (the others go on);
2. drain: the calls already past the gate end (their writes durable: the output gate);
3. copy: each object of the slot (from the source's index) is read on the source (``export``,
   through its queue) and written on the target (``absorb``, answered once durable there);
4. flip: the slot's owner in the table changes (the one commit point; in a cluster, the manifest);
5. release the calls held, then drop the slot's objects from the source.

Once, the target engine is killed (``Engine.crash``, as a kill) between the copy and the flip, and
restarted on its folder: the copy is done again (``absorb`` replaces, so a repeat is harmless).
At the end every object's acknowledged answers must be exactly 1..n, its value n, and the object
held by its owner alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from dotui import Engine
from dotui.cluster.placement import shard_of
from dotui.engine.ids import IdFactory

OBJECTS = """
from dotui import DurableObject

class Account(DurableObject):
    def increment(self):
        n = self.ctx.storage.get("n", 0) + 1
        self.ctx.storage.put("n", n)
        return n

    def peek(self):
        return self.ctx.storage.get("n", 0)

    def export(self):
        return dict(self.ctx.storage.list())

    def absorb(self, data):
        self.ctx.storage.delete_all()
        self.ctx.storage.put(data)
        return len(data)

    def drop(self):
        self.ctx.storage.delete_all()
"""
SLOTS = 64
CLIENTS = 64
DRAIN_LIMIT = 30.0  # seconds a drain may take
_ids = IdFactory("Account")


class Router:
    """Slot -> shard, a gate per slot, the calls in flight per slot."""

    def __init__(self, engines: dict[int, Engine], table: list[int]):
        self.engines = engines
        self.table = table
        self.gates = [asyncio.Event() for _ in table]
        for g in self.gates:
            g.set()
        self.inflight = [0] * len(table)
        self.drained = [asyncio.Event() for _ in table]
        self.held_longest = 0.0

    def slot(self, name: str) -> int:
        return shard_of(_ids.from_name(name).hex, len(self.table))

    async def call(self, name: str, method: str, *args):
        s = self.slot(name)
        if not self.gates[s].is_set():
            t = time.perf_counter()
            await self.gates[s].wait()
            self.held_longest = max(self.held_longest, time.perf_counter() - t)
        self.inflight[s] += 1  # (no await since the gate: the move sees this call)
        try:
            stub = self.engines[self.table[s]].env.Account.get_by_name(name)
            return await getattr(stub, method)(*args)
        finally:
            self.inflight[s] -= 1
            if self.inflight[s] == 0:
                self.drained[s].set()


class Resharder:
    def __init__(self, router: Router, restart):
        self.router = router
        self.restart = restart  # (shard) -> a new Engine on its folder, after a kill
        self.moved = 0
        self.pauses: list[float] = []
        self.crash_once = True

    def objects_of(self, shard: int, slot: int) -> list[str]:
        """The slot's objects the shard holds, from its index (at 10M: a slot column, docs/cluster.md)."""
        e = self.router.engines[shard]
        return [r["name"] for r in e.instances("Account") if self.router.slot(r["name"]) == slot and r["keys"]]

    async def move(self, slot: int, target: int) -> None:
        r = self.router
        source = r.table[slot]
        t = time.perf_counter()
        r.gates[slot].clear()  # 1. freeze
        if r.inflight[slot]:
            r.drained[slot].clear()
            await asyncio.wait_for(r.drained[slot].wait(), DRAIN_LIMIT)  # 2. drain
        names = self.objects_of(source, slot)
        states = {n: await r.engines[source].env.Account.get_by_name(n).export() for n in names}
        for attempt in (1, 2):
            for n, data in states.items():  # 3. copy: durable on the target when answered
                await r.engines[target].env.Account.get_by_name(n).absorb(data)
            if attempt == 1 and self.crash_once and names:
                self.crash_once = False  # killed between the copy and the flip: restart, copy again
                await r.engines[target].crash()
                r.engines[target] = await self.restart(target)
                continue
            break
        r.table[slot] = target  # 4. flip
        r.gates[slot].set()  # 5. release
        self.pauses.append(time.perf_counter() - t)
        for n in names:
            await r.engines[source].env.Account.get_by_name(n).drop()
        self.moved += len(names)


async def run(objects: int, seconds: float) -> dict:
    folder = tempfile.mkdtemp(prefix="dotui-reshard-objects-")
    with open(os.path.join(folder, "account.py"), "w") as f:
        f.write(textwrap.dedent(OBJECTS))
    root = tempfile.mkdtemp(prefix="dotui-reshard-")

    async def engine(shard: int) -> Engine:
        e = Engine(objects=folder, data=os.path.join(root, f"shard-{shard}"), idle_timeout=3600)
        await e.start()
        return e

    engines = {0: await engine(0), 1: await engine(1)}
    router = Router(engines, [s % 2 for s in range(SLOTS)])
    names = [f"acct-{i}" for i in range(objects)]
    acks: dict[str, list[int]] = {n: [] for n in names}
    done = {"calls": 0}
    windows: list[tuple[str, int, float]] = []
    stop = asyncio.Event()

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            n = rng.choice(names)
            acks[n].append(await router.call(n, "increment"))
            done["calls"] += 1

    async def phase(label: str, work) -> None:
        before, t = done["calls"], time.perf_counter()
        await work
        took = time.perf_counter() - t
        windows.append((label, done["calls"] - before, took))

    clients = [asyncio.ensure_future(client(k)) for k in range(CLIENTS)]
    resharder = Resharder(router, engine)
    out: dict = {"slots": SLOTS, "objects": objects}
    try:
        await phase("2 shards", asyncio.sleep(seconds))
        engines[2] = await engine(2)
        grow = [s for s in range(SLOTS) if s % 3 == 2]  # a third of the slots, from both shards
        await phase("2 -> 3", _moves(resharder, [(s, 2) for s in grow]))
        out["grow_moved"] = resharder.moved
        await phase("3 shards", asyncio.sleep(seconds))
        leave = [s for s in range(SLOTS) if router.table[s] == 1]  # shard 1 leaves
        resharder.moved = 0
        await phase("3 -> 2", _moves(resharder, [(s, 0 if i % 2 else 2) for i, s in enumerate(leave)]))
        out["shrink_moved"] = resharder.moved
        await phase("2 shards again", asyncio.sleep(seconds))
    finally:
        stop.set()
        await asyncio.gather(*clients)
    out["windows"] = windows
    out["pauses"] = resharder.pauses
    out["held_longest"] = router.held_longest
    out["acked"] = sum(len(v) for v in acks.values())
    out["lost"], out["wrong"] = await verify(router, acks)
    for e in engines.values():
        await e.close()
    return out


async def _moves(resharder: Resharder, moves: list[tuple[int, int]]) -> None:
    for slot, target in moves:
        await resharder.move(slot, target)


async def verify(router: Router, acks: dict[str, list[int]]) -> tuple[int, int]:
    """(acknowledged writes lost, objects not as their answers say): both must be 0."""
    lost = wrong = 0
    for name, values in acks.items():
        n = len(values)
        if sorted(values) != list(range(1, n + 1)):
            wrong += 1
        value = await router.call(name, "peek")
        lost += max(0, n - value)
        wrong += value != n
        owner = router.table[router.slot(name)]
        for shard, e in router.engines.items():  # held by its owner alone
            if shard != owner and await e.env.Account.get_by_name(name).peek() != 0:
                wrong += 1
    return lost, wrong


def report(out: dict) -> None:
    print(
        f"simulated resharding: {out['objects']:,} objects in {out['slots']} slots, {CLIENTS} clients incrementing "
        "throughout (real engines, one process, no Ray)"
    )
    for label, calls, took in out["windows"]:
        print(f"  {label:<16} {calls / took:8,.0f} calls/s over {took:5.1f} s")
    moved_grow = out["grow_moved"] / out["objects"]
    print(
        f"  2 -> 3 moved {out['grow_moved']:,} objects ({moved_grow:.0%}; placement by id mod N would move 67%), "
        f"3 -> 2 moved {out['shrink_moved']:,} (shard 1's)"
    )
    p = sorted(out["pauses"])
    print(
        f"  a slot frozen: median {statistics.median(p) * 1e3:.0f} ms, longest {p[-1] * 1e3:.0f} ms "
        f"(one of them with the target killed and restarted); longest a call waited {out['held_longest'] * 1e3:.0f} ms"
    )
    print(
        f"  acknowledged writes: {out['acked']:,}; lost: {out['lost']}; objects not as their answers say: "
        f"{out['wrong']}"
    )


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=3.0, help="of load between the moves")
    args = ap.parse_args()
    out = await run(args.objects, args.seconds)
    report(out)
    return 0 if out["lost"] == 0 and out["wrong"] == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
