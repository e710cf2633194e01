"""Memory held per hibernated object: what an engine keeps of an object once it sleeps.

    python bench/memory.py [--objects N] [--calls 30,100]

For each call count C, in a fresh engine on a fresh data folder: wake N Counter objects,
make C durable increments on each (the objects called together, so commits are shared),
hibernate them all and checkpoint, then count the bytes the engine's Python allocations
grew by (tracemalloc, after a garbage collection), divided by N. What is left is each
object's index entry (README "On disk") and its counters: nothing of its calls, results or
in-memory record. bench/README.md ("Memory per hibernated object") has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_objects import write_counter
from dotui import Engine


def _held() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def held_per_object(objects: int, calls: int) -> dict:
    """Bytes the engine holds per hibernated object after ``calls`` calls on each of ``objects``."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_counter(os.path.join(tmp, "objects"))
        async with Engine(objects=folder, data=os.path.join(tmp, "data"), idle_timeout=3600) as e:
            ns = e.env.Counter
            await ns.get_by_name("warm-up").increment()  # imports, caches and the log's first segment
            await e.hibernate_all()
            stubs = [ns.get_by_name(f"user-{i:06d}") for i in range(objects)]
            ids = [s.id for s in stubs]
            before = _held()
            t = time.perf_counter()
            for _ in range(calls):
                await asyncio.gather(*(s.increment() for s in stubs))
            elapsed = time.perf_counter() - t
            live_peak = e.count_instances("Counter")["live"]
            await e.hibernate_all()
            del stubs
            after = _held()
            counted = sum(e.instance_info("Counter", oid)["calls"] for oid in ids[:100])
        return {
            "objects": objects,
            "calls": calls,
            "bytes_per_object": (after - before) / objects,
            "live_before_hibernate": live_peak,
            "calls_counted_of_first_100": counted,
            "seconds": elapsed,
        }


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=3000)
    p.add_argument("--calls", default="30,100", help="call counts, comma-separated")
    args = p.parse_args()
    tracemalloc.start()
    for calls in [int(c) for c in args.calls.split(",")]:
        r = await held_per_object(args.objects, calls)
        print(
            f"{r['objects']:,} objects x {r['calls']} calls: {r['bytes_per_object']:,.0f} bytes held per "
            f"hibernated object (counters kept: {r['calls_counted_of_first_100']:,} calls on the first 100; "
            f"{r['seconds']:.1f} s of calls)",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
