"""A big KV object: what its wake and the checkpoint of a one-key change cost, and the bytes a load writes.

    python bench/kv.py [--keys 10000,100000] [--rounds 3]

For each size, one engine on a new data folder fills one Counter with that many keys
({"i": i, "payload": 24 x's}, 128 a call), checkpointed as it goes, and reports the bytes the
process wrote to disk meanwhile (``/proc/self/io``) against the checkpoint's size. Then, in
alternating rounds:

- a one-key change's checkpoint, the process's CPU time: with the last checkpoint kept
  (durability/recent.py: the round applies the change to what it wrote last) and without
  (the file read back and checked, as before that);
- a wake (hibernate, then a call): from what the last round wrote (kept), and from the file
  (what a new engine does: read, decode, check every row).

Medians, and the ratio of each pair, measured side by side in one run (the machine is shared).
Targets at 100,000 keys: wake <= 100 ms, a one-key checkpoint <= 150 ms of CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_objects import write_counter
from dotui import Engine


def written_bytes() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("write_bytes"))


async def measure(keys: int, rounds: int, base: str) -> dict:
    objects = write_counter(os.path.join(base, "objects"))
    data = os.path.join(base, f"data{keys}")
    out: dict = {"keys": keys}
    async with Engine(objects=objects, data=data, idle_timeout=3600, checkpoint_interval=3600) as e:
        s = e.env.Counter.get_by_name("big")
        recent = e.durable.recent
        keep = recent.MIN_BYTES
        before, t = written_bytes(), time.perf_counter()
        for start in range(0, keys, 128):
            await s.fill(start, min(128, keys - start))
            if start % 12_800 == 0:
                await e.checkpoint()
        await e.checkpoint()
        out["fill_s"] = time.perf_counter() - t
        out["written_mb"] = (written_bytes() - before) / 1e6
        out["file_mb"] = os.path.getsize(e.durable.path("Counter", s.id.hex)) / 1e6
        got: dict[str, list[float]] = {"ckpt kept": [], "ckpt read": [], "wake kept": [], "wake read": []}
        for r in range(rounds * 2):
            kept = r % 2 == 0
            recent.MIN_BYTES = keep if kept else 1 << 62  # off: nothing is kept, every file is read back
            await s.increment()
            assert await e.checkpoint()  # a checkpoint kept, or not, as this round wants
            await s.increment()
            await e.flush()
            c = time.process_time()
            assert await e.checkpoint()
            got["ckpt kept" if kept else "ckpt read"].append(time.process_time() - c)
            await e.hibernate("Counter", s.id)
            t = time.perf_counter()
            await s.peek()
            got["wake kept" if kept else "wake read"].append(time.perf_counter() - t)
        recent.MIN_BYTES = keep
    out.update({k: statistics.median(v) for k, v in got.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", default="10000,100000")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="dotui-kv-")
    try:
        for keys in (int(k) for k in args.keys.split(",")):
            m = asyncio.run(measure(keys, args.rounds, base))
            print(
                f"{keys:>7,} keys: checkpoint {m['file_mb']:.1f} MB; filling it wrote {m['written_mb']:.1f} MB "
                f"({m['written_mb'] / m['file_mb']:.1f}x) in {m['fill_s']:.1f} s"
            )
            print(
                f"         one-key checkpoint CPU: {m['ckpt kept'] * 1e3:7.1f} ms kept, {m['ckpt read'] * 1e3:7.1f} ms "
                f"read back ({m['ckpt read'] / m['ckpt kept']:.1f}x)"
            )
            print(
                f"         wake:                   {m['wake kept'] * 1e3:7.1f} ms kept, {m['wake read'] * 1e3:7.1f} ms "
                f"from the file ({m['wake read'] / m['wake kept']:.1f}x)"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
