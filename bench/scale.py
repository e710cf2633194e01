"""Scale: 100,000 hibernated objects, and the memory of 10,000 live ones.

    python bench/scale.py [--objects N] [--live N] [--data DIR]

Generates (once; reused when present) a data folder of N hibernated Counter
objects through the engine itself, then measures, each in a fresh engine:
start, the first page of `ls`, a full `instances()`, and (with 10,000 objects
woken) memory per live object (Python allocations, by tracemalloc). Nothing at start reads an object's file: the
index answers listings.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench_objects import write_counter  # noqa: E402
from dotui import Engine  # noqa: E402


async def generate(objects: str, data: str, n: int) -> float:
    t = time.perf_counter()
    async with Engine(objects=objects, data=data, idle_timeout=3600) as e:
        have = e.count_instances("Counter")["total"]
        ns = e.env.Counter
        batch = 500
        for start in range(have, n, batch):
            await asyncio.gather(*(ns.get_by_name(f"user-{i:06d}").increment()
                                   for i in range(start, min(n, start + batch))))
            if (start // batch) % 20 == 0:
                print(f"  generated {min(n, start + batch):,}", file=sys.stderr, end="\r")
                await e.hibernate_all()  # checkpoint as we go: keeps the log short
    return time.perf_counter() - t


def measure_ls(objects: str, data: str) -> dict:
    """As a user meets it: a LocalEngine (the engine on its thread) and the `ls` command."""
    from dotui.commands import Context, execute
    from dotui.ops import LocalEngine

    out = {}
    t = time.perf_counter()
    facade = LocalEngine(objects, data, idle_timeout=3600).start()
    out["facade_start"] = time.perf_counter() - t
    try:
        t = time.perf_counter()
        outcome = execute(Context(facade), "ls")
        out["ls_first_page"] = time.perf_counter() - t
        assert outcome.ok and len(outcome.result["objects"]) == 50, outcome
        out["ls_total"] = outcome.result["total"]
        t = time.perf_counter()
        outcome = execute(Context(facade), "ls --page 2")
        out["ls_next_page"] = time.perf_counter() - t
    finally:
        facade.close()
    return out


async def measure(objects: str, data: str, live: int) -> dict:
    out = {}
    gc.collect()
    t = time.perf_counter()
    e = Engine(objects=objects, data=data, idle_timeout=3600)
    await e.start()
    out["start"] = time.perf_counter() - t
    try:
        t = time.perf_counter()
        everything = e.instances()
        out["instances_all"] = time.perf_counter() - t
        out["count"] = len(everything)
        del everything
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        ns = e.env.Counter
        t = time.perf_counter()
        for start in range(0, live, 500):
            await asyncio.gather(*(ns.get_by_name(f"user-{i:06d}").peek() for i in range(start, start + 500)))
        out["wake_live"] = time.perf_counter() - t
        gc.collect()
        out["bytes_per_live_object"] = (tracemalloc.get_traced_memory()[0] - before) / live
        tracemalloc.stop()
        out["live"] = e.count_instances()["live"]
    finally:
        t = time.perf_counter()
        await e.close()
        out["close"] = time.perf_counter() - t
    return out


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--live", type=int, default=10_000)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "dotui-scale"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    objects = os.path.join(args.data, "objects")
    data = os.path.join(args.data, "data")
    write_counter(objects)
    gen = await generate(objects, data, args.objects)
    print(f"data folder: {data} ({args.objects:,} objects; generated or topped up in {gen:.1f} s)")
    runs = []
    for _ in range(args.rounds):
        run = await measure(objects, data, args.live)
        run.update(await asyncio.to_thread(measure_ls, objects, data))
        runs.append(run)

    def med(k):
        return statistics.median(r[k] for r in runs)

    print(f"medians of {args.rounds} fresh engines:")
    print(f"  engine start                         {med('start') * 1e3:8.1f} ms   (target < 1000 ms)")
    print(f"  LocalEngine start (the REPL's)       {med('facade_start') * 1e3:8.1f} ms")
    print(f"  first `ls` page (50 of {runs[0]['ls_total']:,})      {med('ls_first_page') * 1e3:8.1f} ms   (target < 1000 ms)")
    print(f"  next `ls` page                       {med('ls_next_page') * 1e3:8.1f} ms")
    print(f"  instances(), all {runs[0]['count']:,} rows       {med('instances_all') * 1e3:8.1f} ms")
    print(f"  wake {args.live:,} objects                  {med('wake_live') * 1e3:8.1f} ms")
    print(f"  memory per live object               {med('bytes_per_live_object') / 1024:8.2f} KiB")
    print(f"  close (checkpoint, hibernate all)    {med('close') * 1e3:8.1f} ms")
    print(f"  peak RSS                             {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
