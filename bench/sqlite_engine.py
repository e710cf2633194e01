"""SQLite-backed objects through the engine: wake and one-row change at K rows, beside the KV backend.

    python bench/sqlite_engine.py [--rows 100,10000,100000] [--rounds 15]

For each K, in one run, side by side:
- wake: hibernate the object, then time ``engine.wake`` (open the database, catch its history up,
  run the constructor), median of ``--rounds``; the KV backend's wake of an object of K keys beside it;
- one-row change: the bytes this process writes to disk (``/proc/self/io`` write_bytes: the -wal, the
  history record, the log record; checkpoints held off) for one call that updates one row and returns
  once durable, median;
- writes: single-caller durable one-row writes per second (the KV backend's one-key writes beside
  them), and 1,000 concurrent ones (the commits they took).

The KV change column is its log record only: its checkpoint rewrites the whole object later (held off
here; bench/sqlite_layout.py measures it: 5.8 MB at 100,000 keys).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dotui import Engine

OBJECTS = """
from dotui import DurableObject


class Board(DurableObject):
    storage_backend = "sqlite"

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS scores (id INTEGER PRIMARY KEY, name TEXT, score INTEGER);"
                             "CREATE INDEX IF NOT EXISTS by_score ON scores(score)")

    def fill(self, start, n):
        sql = self.ctx.storage.sql
        for i in range(start, start + n):
            sql.exec("INSERT INTO scores VALUES (?, ?, ?)", i, f"player-{i:06d}", i * 7 % 1000)

    def bump(self, i):
        self.ctx.storage.sql.exec("UPDATE scores SET score = score + 1 WHERE id = ?", i)


class Keys(DurableObject):
    def fill(self, start, n):
        self.ctx.storage.put({f"player-{i:06d}": {"score": i * 7 % 1000} for i in range(start, start + n)})

    def bump(self, i):
        k = f"player-{i:06d}"
        self.ctx.storage.put(k, {"score": self.ctx.storage.get(k, {"score": 0})["score"] + 1})
"""


def written() -> int:
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


async def fill(stub, rows: int, batch: int) -> None:
    for start in range(0, rows, batch):
        await stub.fill(start, min(batch, rows - start))


async def wake_ms(e: Engine, ns: str, name: str, rounds: int) -> float:
    oid = e.namespace(ns).id_from_name(name)
    times = []
    for _ in range(rounds):
        await e.hibernate(ns, oid)
        t0 = time.perf_counter()
        await e.wake(ns, oid)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


async def change_bytes(e: Engine, stub, rows: int, rounds: int) -> float:
    sizes = []
    for r in range(rounds):
        before = written()
        await stub.bump((r * 7919) % rows)
        sizes.append(written() - before)
    return statistics.median(sizes)


async def measure(objects: Path, data: Path, rows: int, rounds: int) -> dict[str, float]:
    async with Engine(
        objects=str(objects), data=str(data), idle_timeout=3600, checkpoint_interval=3600, checkpoint_log_bytes=1 << 40
    ) as e:
        board, keys = e.env.Board.get_by_name(f"b{rows}"), e.env.Keys.get_by_name(f"k{rows}")
        await fill(board, rows, 5000)
        await fill(keys, rows, 128)
        await e.checkpoint()
        out = {
            "wake": await wake_ms(e, "Board", f"b{rows}", rounds),
            "kv wake": await wake_ms(e, "Keys", f"k{rows}", max(3, rounds // 5)),
            "change": await change_bytes(e, board, rows, rounds),
        }
        await e.checkpoint()
        out["kv change"] = await change_bytes(e, keys, rows, max(3, rounds // 5))
        n, t0 = 300, time.perf_counter()
        for i in range(n):
            await board.bump(i % rows)
        out["writes/s"] = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(n):
            await keys.bump(i % rows)
        out["kv writes/s"] = n / (time.perf_counter() - t0)
        before = e.committer.stats()["commits"]
        t0 = time.perf_counter()
        await asyncio.gather(*(board.bump(i % rows) for i in range(1000)))
        out["concurrent/s"] = 1000 / (time.perf_counter() - t0)
        out["commits"] = e.committer.stats()["commits"] - before
        return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="100,10000,100000")
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        objects = Path(tmp) / "objects"
        objects.mkdir()
        (objects / "board.py").write_text(textwrap.dedent(OBJECTS))
        print(
            f"{'rows':>8} {'wake ms':>8} {'kv wake ms':>11} {'ratio':>6} {'1-row change':>13} {'kv change':>11}"
            f" {'writes/s':>9} {'kv writes/s':>12} {'1000 concurrent/s':>18} {'commits':>8}"
        )
        for k in (int(x) for x in a.rows.split(",")):
            r = await measure(objects, Path(tmp) / f"data{k}", k, a.rounds)
            print(
                f"{k:>8} {r['wake']:>8.2f} {r['kv wake']:>11.1f} {r['kv wake'] / r['wake']:>5.0f}x "
                f"{r['change'] / 1024:>10.1f} KiB {r['kv change'] / 1024:>7.1f} KiB {r['writes/s']:>9.0f} "
                f"{r['kv writes/s']:>12.0f} "
                f"{r['concurrent/s']:>18.0f} {r['commits']:>8}"
            )


if __name__ == "__main__":
    asyncio.run(main())
