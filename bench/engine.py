"""Engine benchmark: each figure measured side by side in one run, printed as ratios.

    python bench/engine.py [--quick]

The machine is shared and noisy, so absolute times vary; the ratios, measured
in alternating rounds of the same run, are what to compare. Targets:
no-op calls >= 0.4x the bare asyncio queue round trip; sequential durable
increments >= 0.8x the rate of bare append+fdatasync of a record of the same
size on the same disk (the floor a durable call cannot beat: one sync each);
10,000 concurrent durable increments >= 5x faster than as many sequential ones;
waking a 1,000-key object < 5 ms.
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


async def bare_queue(n: int) -> float:
    """The floor: one asyncio.Queue hop to a consumer task and a future back."""
    q: asyncio.Queue = asyncio.Queue()

    async def consumer():
        while True:
            fut = await q.get()
            fut.set_result(None)

    task = asyncio.ensure_future(consumer())
    loop = asyncio.get_running_loop()
    t = time.perf_counter()
    for _ in range(n):
        fut = loop.create_future()
        q.put_nowait(fut)
        await fut
    dt = time.perf_counter() - t
    task.cancel()
    return dt / n


class AppendFloor:
    """The floor of a durable call: append a record and fdatasync, in a loop, as the
    commit log does (a preallocated file, so each sync flushes data, not a new size)."""

    def __init__(self, folder: str, record_bytes: int, capacity: int):
        self.path = os.path.join(folder, "floor.log")
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self.record = b"x" * record_bytes
        self.offset = 0
        os.posix_fallocate(self.fd, 0, record_bytes * capacity + (1 << 20))
        os.fsync(self.fd)

    def run(self, n: int) -> float:
        """Seconds for ``n`` appends, each fdatasynced."""
        fd, record, offset = self.fd, self.record, self.offset
        t = time.perf_counter()
        for _ in range(n):
            os.pwrite(fd, record, offset)
            os.fdatasync(fd)
            offset += len(record)
        self.offset = offset
        return time.perf_counter() - t

    def close(self) -> None:
        os.close(self.fd)
        os.remove(self.path)


async def noop_calls(e: Engine, n: int) -> float:
    s = e.env.Counter.get_by_name("noop")
    await s.noop()
    t = time.perf_counter()
    for _ in range(n):
        await s.noop()
    return (time.perf_counter() - t) / n


async def record_size(e: Engine) -> int:
    """The size of the log record one sequential increment makes."""
    s = e.env.Counter.get_by_name("seq")
    await s.increment()
    before = e.stats()
    await s.increment()
    after = e.stats()
    return after["commit_bytes"] - before["commit_bytes"]


async def sequential_increments(
    e: Engine, n: int, floor: AppendFloor, slices: int = 10
) -> tuple[float, float, list[float]]:
    """Seconds per sequential durable increment, per bare append+fdatasync beside it, and
    the engine's speed over the floor's in each slice.

    The two alternate in ``slices`` slices, so both meet the same disk: on a shared
    machine the disk's speed moves from one second to the next, and a slice pair
    compares like with like.
    """
    s = e.env.Counter.get_by_name("seq")
    k = n // slices
    t_engine = t_floor = 0.0
    ratios = []
    for _ in range(slices):
        f = floor.run(k)
        t = time.perf_counter()
        for _ in range(k):
            await s.increment()
        dt = time.perf_counter() - t
        t_floor += f
        t_engine += dt
        ratios.append(f / dt)
    return t_engine / (k * slices), t_floor / (k * slices), ratios


async def increments_with_spinning_sync(e: Engine, n: int, sync_seconds: float) -> float:
    """Seconds per sequential durable increment when each fdatasync is replaced by a busy wait
    as long as the floor's: the engine's own cost per call, without the sleep a real sync makes.

    A diagnosis, not a target: the gap between this and the real run is what the CPU loses
    by sleeping in fdatasync (caches and predictors gone cold when it wakes), which the
    floor's loop, doing next to nothing between syncs, hardly pays.
    """
    from dotui.engine.durability import disk

    def spin(fd: int, _now=time.perf_counter) -> None:
        end = _now() + sync_seconds
        while _now() < end:
            pass

    s = e.env.Counter.get_by_name("seq")
    real, disk.fdatasync = disk.fdatasync, spin
    try:
        t = time.perf_counter()
        for _ in range(n):
            await s.increment()
        return (time.perf_counter() - t) / n
    finally:
        disk.fdatasync = real


async def concurrent_increments(e: Engine, n: int, name: str) -> float:
    s = e.env.Counter.get_by_name(name)
    before = await s.increment(0)
    t = time.perf_counter()
    results = await asyncio.gather(*(s.increment() for _ in range(n)))
    dt = time.perf_counter() - t
    assert sorted(results) == list(range(before + 1, before + n + 1)), "lost or duplicated increments"
    return dt / n


async def new_objects(e: Engine, n: int, round_no: int) -> float:
    ns = e.env.Counter
    t = time.perf_counter()
    for i in range(n):
        await ns.get_by_name(f"new-{round_no}-{i}").increment()
    return (time.perf_counter() - t) / n


async def wake_1000_keys(e: Engine, repeats: int) -> float:
    ns = e.env.Counter
    s = ns.get_by_name("big")
    if await s.increment(0) == 0:
        for start in range(0, 1000, 100):
            await s.fill(start, 100)
    times = []
    for _ in range(repeats):
        await e.hibernate("Counter", s.id)
        t = time.perf_counter()
        await e.wake("Counter", s.id)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    return f"{seconds * 1e3:8.2f} ms"


async def main(quick: bool) -> int:
    rounds = 1 if quick else 3
    n_noop = 5_000 if quick else 20_000
    n_seq = 500 if quick else 2_000
    n_conc = 10_000
    n_new = 500 if quick else 2_000
    tmp = tempfile.mkdtemp(prefix="dotui-bench-")
    objs = write_counter(os.path.join(tmp, "objects"))
    results: dict[str, list[float]] = {k: [] for k in ("bare", "noop", "floor", "seq", "spin", "conc", "new", "wake")}
    slice_ratios: list[float] = []
    started = time.perf_counter()
    try:
        async with Engine(objects=objs, data=os.path.join(tmp, "data"), idle_timeout=3600) as e:
            record_bytes = await record_size(e)
            floor = AppendFloor(e.data_dir, record_bytes, n_seq * rounds)
            for r in range(rounds):
                results["bare"].append(await bare_queue(n_noop))
                results["noop"].append(await noop_calls(e, n_noop))
                await e.checkpoint()  # the last round's background checkpoint is done: the disk is quiet
                seq, floor_seconds, ratios = await sequential_increments(e, n_seq, floor)
                slice_ratios += ratios
                results["seq"].append(seq)
                results["floor"].append(floor_seconds)
                results["spin"].append(await increments_with_spinning_sync(e, n_seq // 4, floor_seconds))
                results["conc"].append(await concurrent_increments(e, n_conc, f"conc-{r}"))
                results["new"].append(await new_objects(e, n_new, r))
                results["wake"].append(await wake_1000_keys(e, 20))
            floor.close()
            stats = e.stats()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    m = {k: statistics.median(v) for k, v in results.items()}
    durable = statistics.median(slice_ratios)
    print(f"dotui engine benchmark ({rounds} alternating rounds, medians; {time.perf_counter() - started:.1f} s)")
    print(f"{'workload':44} {'per op':>11} {'ops/s':>10}  ratio")
    rows = [
        ("bare asyncio queue round trip", "bare", "1.00x (the floor)"),
        ("sequential no-op calls, one object", "noop", f"{m['bare'] / m['noop']:.2f}x bare speed (target >= 0.4x)"),
        (f"append+fdatasync of a {record_bytes}-byte record", "floor", "1.00x (the durable floor)"),
        (
            "sequential durable increments",
            "seq",
            f"{durable:.2f}x append+fdatasync speed (target >= 0.8x; median of {len(slice_ratios)} paired slices)",
        ),
        (
            "  the same, fdatasync replaced by a spin as long",
            "spin",
            f"{m['floor'] / m['spin']:.2f}x (diagnosis: the engine's own cost, without the sync's sleep)",
        ),
        (
            f"{n_conc:,} concurrent durable increments",
            "conc",
            f"{m['seq'] / m['conc']:.1f}x sequential speed (target >= 5x)",
        ),
        (f"first calls to {n_new:,} new objects", "new", f"{m['seq'] / m['new']:.2f}x sequential increment speed"),
        ("wake an object with 1,000 keys", "wake", f"{'OK' if m['wake'] < 0.005 else 'OVER'} (target < 5 ms)"),
    ]
    for label, key, ratio in rows:
        print(f"{label:44} {fmt(m[key]):>11} {1 / m[key]:10,.0f}  {ratio}")
    print(
        f"commits: {stats['commits']:,} for {stats['calls']:,} calls "
        f"({stats['calls'] / max(1, stats['commits']):.1f} calls per fsync)"
    )
    ok = m["bare"] / m["noop"] >= 0.4 and durable >= 0.8 and m["seq"] / m["conc"] >= 5 and m["wake"] < 0.005
    print("targets:", "all met" if ok else "NOT all met")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one round, smaller counts (a smoke test)")
    sys.exit(asyncio.run(main(ap.parse_args().quick)))
