"""What a checkpoint round costs per object changed: recycled files swapped in, against a new file renamed over each.

    python bench/checkpoints.py [--objects 20000] [--changed 2000] [--rounds 6]

One engine on a new data folder holds ``--objects`` Counters, each checkpointed once. Then each
round increments ``--changed`` of them (chosen at random) and times ``Engine.checkpoint()``:
wall time and the process's CPU time per object written. Rounds alternate between the two ways a
checkpoint replaces an object's file (spares.py): a spare written in place and
swapped with the checkpoint (``renameat2(RENAME_EXCHANGE)``: no file created or freed), and a new
temporary renamed over the old file (freeing it). The ratio of the medians is printed: the machine
is shared, so only figures measured side by side in one run compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_objects import write_counter
from dotui import Engine


async def fill(e: Engine, names: list[str]) -> None:
    for start in range(0, len(names), 500):
        await asyncio.gather(*(e.env.Counter.get_by_name(n).increment() for n in names[start : start + 500]))
        await e.checkpoint()


async def one_round(e: Engine, names: list[str], changed: int, keep: int) -> tuple[float, float]:
    e.durable.spares.keep = keep
    chosen = random.sample(names, changed)
    for start in range(0, changed, 500):
        await asyncio.gather(*(e.env.Counter.get_by_name(n).increment() for n in chosen[start : start + 500]))
    await e.flush()
    wall, cpu = time.perf_counter(), time.process_time()
    assert await e.checkpoint()
    return (time.perf_counter() - wall) / changed, (time.process_time() - cpu) / changed


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=20_000)
    ap.add_argument("--changed", type=int, default=2_000)
    ap.add_argument("--rounds", type=int, default=6, help="rounds of each way")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="dotui-ckpt-")
    try:
        objects = write_counter(os.path.join(base, "objects"))
        names = [f"o{i}" for i in range(args.objects)]
        async with Engine(
            objects=objects, data=os.path.join(base, "data"), idle_timeout=3600, checkpoint_interval=3600
        ) as e:
            keep = e.durable.spares.keep
            t = time.perf_counter()
            await fill(e, names)
            print(f"{args.objects:,} objects written and checkpointed in {time.perf_counter() - t:.1f} s")
            ways = {"swap a spare": keep, "rename over": 0}
            got: dict[str, list[tuple[float, float]]] = {w: [] for w in ways}
            await one_round(e, names, args.changed, keep)  # the spares made once
            for r in range(args.rounds):
                for way, k in ways.items() if r % 2 == 0 else reversed(ways.items()):
                    got[way].append(await one_round(e, names, args.changed, k))
            e.durable.spares.keep = keep
        med = {w: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for w, v in got.items()}
        for way, (wall, cpu) in med.items():
            print(
                f"{way:>13}: {wall * 1e6:7.0f} us wall, {cpu * 1e6:6.0f} us CPU per object "
                f"(rounds of {args.changed:,} in a folder of {args.objects:,})"
            )
        print(
            f"rename over / swap a spare: {med['rename over'][0] / med['swap a spare'][0]:.2f}x wall, "
            f"{med['rename over'][1] / med['swap a spare'][1]:.2f}x CPU"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
