"""Shards on Ray: aggregate calls/s with 1 shard and with 2, and the cost of a call across shards.

    python bench/cluster.py [--objects N] [--seconds S] [--rounds R] [--only WORKLOAD,...]

One client for every run: the gateway's own call path (``ClusterAdmin.call_id``, what
``POST /objects/...`` runs, without the HTTP parsing), with a fixed number of calls in
flight, over N objects (1,000) named ``user-i``. Workloads:

- ``cpu``: a method doing about 1 ms of pure-Python work per call;
- ``durable``: an increment per call (a storage write, answered once durable);
- ``hop``: one object calling another with a stub, in its own shard and across shards
  (per call, measured inside the calling object);
- ``reshard``: a simulated resharding, 2 shards to 3 and back, objects moving under load with no
  acknowledged write lost (bench/reshard.py: real shard engines in one process, no Ray).

1 and 2 shards are run in alternating rounds, each on a fresh data root; the ratio
is the median of the rounds' calls/s with 2 shards over that with 1. Every increment's
answer is checked: each object's answers are exactly 1..n.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0] = ROOT  # not bench/: its http.py would shadow the standard library's for Ray's imports

from dotui.cluster.admin import ClusterAdmin
from dotui.cluster.placement import shard_of
from dotui.cluster.runtime import Cluster, init_ray
from dotui.engine.ids import IdFactory

OBJECTS = """
import time
from dotui import DurableObject

def spin(n):
    x = 0
    for i in range(n):
        x += i * i
    return x

class Worker(DurableObject):
    SPIN = 1

    def work(self):
        return spin(Worker.SPIN) & 1

    def calibrate(self, n):
        Worker.SPIN = n
        t = time.perf_counter()
        for _ in range(20):
            spin(n)
        return (time.perf_counter() - t) / 20

    async def increment(self):
        n = self.ctx.storage.get("n", 0) + 1
        self.ctx.storage.put("n", n)
        return n

    def peek(self):
        return 0

    async def hop(self, other, k):
        stub = self.env.Worker.get_by_name(other)
        t = time.perf_counter()
        for _ in range(k):
            await stub.peek()
        return (time.perf_counter() - t) / k
"""
IN_FLIGHT = 256


async def start(objects: str, shards: int) -> tuple[Cluster, ClusterAdmin]:
    root = tempfile.mkdtemp(prefix=f"dotui-bench-{shards}-")
    cluster = await Cluster(objects, root, shards, idle_timeout=3600).start()
    return cluster, await ClusterAdmin.over(cluster)


async def calibrate(admin: ClusterAdmin, shards: int, target: float = 0.001) -> int:
    """The loop count giving about ``target`` seconds of work, set on every shard."""
    names = [
        next(f"cal{i}" for i in range(1000) if shard_of(_ids.from_name(f"cal{i}").hex, shards) == s)
        for s in range(shards)
    ]
    n = 20_000
    for _ in range(4):
        took = await admin.call("Worker", names[0], "calibrate", [n])
        n = max(1000, int(n * target / took))
    for name in names:
        await admin.call("Worker", name, "calibrate", [n])
    return n


_ids = IdFactory("Worker")


async def drive(admin: ClusterAdmin, method: str, objects: int, seconds: float) -> tuple[float, dict[str, list]]:
    """Calls/s with IN_FLIGHT calls in flight, round-robin over the objects; the answers per object."""
    oids = [_ids.from_name(f"user-{i}") for i in range(objects)]
    answers: dict[str, list] = {}
    done = 0
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal done
        i = k
        while time.perf_counter() < stop:
            oid = oids[i % objects]
            answers.setdefault(oid.hex, []).append(await admin.call_id("Worker", oid, method, [], {}))
            done += 1
            i += IN_FLIGHT

    t = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(IN_FLIGHT)))
    return done / (time.perf_counter() - t), answers


def distinct(answers: dict[str, list]) -> bool:
    return all(sorted(v) == list(range(1, len(v) + 1)) for v in answers.values())


async def hop_costs(admin: ClusterAdmin, k: int = 300) -> tuple[float, float]:
    """Seconds per stub call from an object on shard 0 to one on shard 0, and to one on shard 1."""
    on = {s: [f"h{i}" for i in range(200) if shard_of(_ids.from_name(f"h{i}").hex, 2) == s][:2] for s in (0, 1)}
    a, same, other = on[0][0], on[0][1], on[1][0]
    await admin.call("Worker", a, "hop", [same, 20])
    await admin.call("Worker", a, "hop", [other, 20])
    return (await admin.call("Worker", a, "hop", [same, k]), await admin.call("Worker", a, "hop", [other, k]))


async def one_round(objects: str, shards: int, args: argparse.Namespace, only: set[str]) -> dict[str, float]:
    cluster, admin = await start(objects, shards)
    out: dict[str, float] = {}
    try:
        if "cpu" in only:
            out["spin"] = await calibrate(admin, shards)
            await drive(admin, "work", args.objects, 1.0)  # wake every object first
            out["cpu"], _ = await drive(admin, "work", args.objects, args.seconds)
        if "durable" in only:
            out["durable"], answers = await drive(admin, "increment", args.objects, args.seconds)
            out["distinct"] = distinct(answers)
        out["messages"] = cluster.channels.counters()
        if "hop" in only and shards == 2:
            out["hop_same"], out["hop_cross"] = await hop_costs(admin)
    finally:
        await cluster.close()
    return out


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--objects", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="cpu,durable,hop", help="of cpu, durable, hop, reshard")
    p.add_argument("--in-flight", type=int, default=IN_FLIGHT, help=f"calls in flight (default {IN_FLIGHT})")
    args = p.parse_args()
    only = set(args.only.split(","))
    globals()["IN_FLIGHT"] = args.in_flight
    if "reshard" in only:
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        import reshard

        out = await reshard.run(args.objects, args.seconds)
        reshard.report(out)
        only.discard("reshard")
        if not only:
            return
    folder = tempfile.mkdtemp(prefix="dotui-bench-objects-")
    with open(os.path.join(folder, "worker.py"), "w") as f:
        f.write(textwrap.dedent(OBJECTS))
    init_ray(num_cpus=2)
    runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for r in range(args.rounds):
        for shards in (1, 2) if r % 2 == 0 else (2, 1):
            runs[shards].append(await one_round(folder, shards, args, only))
            print(f"round {r + 1}, {shards} shard(s): {runs[shards][-1]}", file=sys.stderr, flush=True)
    report(runs, args, only)


def report(runs: dict[int, list[dict[str, float]]], args: argparse.Namespace, only: set[str]) -> None:
    def med(shards: int, key: str) -> float:
        return statistics.median(x[key] for x in runs[shards])

    print(
        f"dotui cluster on Ray, {os.cpu_count()} cores, {args.objects:,} objects, {IN_FLIGHT} calls in flight, "
        f"median of {args.rounds} round(s) of {args.seconds:g} s"
    )
    print(f"{'workload':<10}{'1 shard calls/s':>17}{'2 shards calls/s':>18}{'ratio':>8}  what")
    for key, what in (("cpu", "~1 ms of pure-Python work per call"), ("durable", "a durable increment per call")):
        if key in only:
            one, two = med(1, key), med(2, key)
            print(f"{key:<10}{one:>17,.0f}{two:>18,.0f}{two / one:>7.2f}x  {what}")
    if "durable" in only:
        ok = all(x["distinct"] for xs in runs.values() for x in xs)
        print(f"every increment's answer distinct per object (1..n): {'yes' if ok else 'NO'}")
    if "hop" in only:
        same, cross = med(2, "hop_same"), med(2, "hop_cross")
        print(
            f"a stub call from an object: {same * 1e6:,.0f} us within its shard, {cross * 1e6:,.0f} us to "
            f"the other shard ({cross / same:.1f}x, +{(cross - same) * 1e6:,.0f} us)"
        )


if __name__ == "__main__":
    asyncio.run(main())
