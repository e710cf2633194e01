"""SQLite-backed objects on dotui beside workerd (miniflare, bench/peer), in one run.

    python bench/sql.py [--rounds 3] [--rows 100,10000,100000] [--n 20000] [--concurrent 2000] [--quick]

The same class on both sides (``SqlBench`` here and in bench/peer/worker.js): one table of K rows
(``id INTEGER PRIMARY KEY, v TEXT`` of 100 bytes). Every round runs each workload on workerd, then on
dotui; the best of the rounds of each side (the wake: the median of its samples) is printed with the
ratio (workerd's time over dotui's: above 1 dotui is faster), and for the workloads measured at
several K, how the cost grows with K.

Each figure is a caller's time, measured the same way on both sides: a call that runs n operations
inside the object, less the same call with n = 0 (a write: n = 1, so both calls commit once), which
takes off what the call itself crosses (Node's request into workerd and the RPC to the object there,
a Python call into the engine here), over n. So:

- exec inside one call, at each K: a point read by primary key, an UPDATE by key, an INSERT of a new
  row, a scan of every row (``to_array``, a row's share); ``kv.get``/``kv.put``;
- a ``transaction_sync`` of N inserts, durable, at N = 1, 100 and 10,000: the best of five whole
  calls, less the best of five calls that read one row;
- calls from outside: single-caller one-row writes (each call's answer durable before the next is
  sent), concurrent ones (all sent at once to one object);
- wake at K: both engines restarted on their folders, then the first call to the object of K rows
  less the same call once it is awake, three restarts a round (an object of one row is woken first,
  so K = 100 does not pay for the engine's first wake);
- bytes written for a one-row change at K: /proc/PID/io ``write_bytes`` (what the process sent to the
  disk) around one durable call, the median of five in a row; for dotui also their checkpoint, which
  it runs later (workerd checkpoints its WAL inside a write when SQLite's 1,000-page threshold is
  passed).

Both sides are durable per answer: workerd's output gate holds the reply until SQLite's commit is
fsynced (bench/peer/README.md), dotui's until its group commit's fdatasync (docs/sqlite.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.path.join(HERE, "peer")
sys.path.insert(0, ROOT)

OBJECTS = '''
from dotui import DurableObject

ROW = "x" * 100


class SqlBench(DurableObject):
    """The Python twin of class SqlBench in bench/peer/worker.js."""

    storage_backend = "sqlite"

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")

    def fill(self, k):
        for start in range(0, k, 10_000):
            self.transaction(min(10_000, k - start), start)
        return self.count()

    def count(self):
        return self.ctx.storage.sql.exec("SELECT count(*) AS n FROM t").one()["n"]

    def peek(self):
        return len(self.ctx.storage.sql.exec("SELECT v FROM t WHERE id = 0").one()["v"])

    def point_reads(self, n, k):
        sql = self.ctx.storage.sql
        total = 0
        for i in range(n):
            total += len(sql.exec("SELECT v FROM t WHERE id = ?", (i * 7919) % k).one()["v"])
        return total == n * len(ROW)

    def point_writes(self, n, k):
        sql = self.ctx.storage.sql
        written = 0
        for i in range(n):
            written += sql.exec("UPDATE t SET v = ? WHERE id = ?", ROW, (i * 7919) % k).rows_written
        return written == n

    def inserts(self, n, base):
        sql = self.ctx.storage.sql
        for i in range(n):
            sql.exec("INSERT INTO t VALUES (?, ?)", base + i, ROW)
        return True

    def transaction(self, n, base):
        sql = self.ctx.storage.sql

        def rows():
            for i in range(n):
                sql.exec("INSERT OR REPLACE INTO t VALUES (?, ?)", base + i, ROW)

        self.ctx.storage.transaction_sync(rows)
        return True

    def scan(self, n, k):
        return all(len(self.ctx.storage.sql.exec("SELECT * FROM t").to_array()) == k for _ in range(n))

    def kv_reads(self, n):
        kv = self.ctx.storage.kv
        for i in range(100):
            kv.put(f"k{i}", ROW)
        total = 0
        for i in range(n):
            total += len(kv.get(f"k{i % 100}"))
        return total == n * len(ROW)

    def kv_writes(self, n):
        kv = self.ctx.storage.kv
        for i in range(n):
            kv.put(f"k{i % 100}", ROW)
        return True

    def write_one(self, i):
        self.ctx.storage.sql.exec("INSERT OR REPLACE INTO t VALUES (?, ?)", i, ROW)
        return i
'''

SCANNED = 300_000  # rows the scans of one call read, whatever K (3 scans at least)
CHANGES = 5  # one-row changes whose bytes are measured, at each K
WAKES = 3  # restarts a round, each waking every object once: the wake's figure is the median of them all
CALL_TIMEOUT = 600.0  # seconds: the longest a fill of 100,000 rows may take on a busy machine


def _write_bytes(pid: str = "self") -> int:
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/io has no write_bytes line")


# ================================================================ the two sides, one interface
class Peer:
    """workerd, driven a request at a time through bench/peer/sql_bench.mjs."""

    name = "workerd"

    def __init__(self, folder: str):
        self.proc = subprocess.Popen(
            ["node", "sql_bench.mjs", "--persist", folder],
            cwd=PEER,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def _ask(self, **req: Any) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(
                f"the workerd side stopped answering (at {req}); run it alone: cd bench/peer && "
                f"node sql_bench.mjs --persist /tmp/x"
            )
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"workerd: {req}: {answer['error']}")
        return answer

    async def ask(self, **req: Any) -> dict:
        return await asyncio.wait_for(asyncio.to_thread(self._ask, **req), CALL_TIMEOUT)

    async def call(self, name: str, op: str, n: int = 0, k: int = 0) -> tuple[Any, float]:
        """The answer and the caller's seconds (Node's time around the request)."""
        answer = await self.ask(op=op, name=name, n=n, k=k)
        return answer["r"], answer["ms"] / 1000

    async def restart(self) -> None:
        await self.ask(op="restart")

    async def written(self) -> int:
        return int((await self.ask(op="io"))["r"])

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        await asyncio.to_thread(self.proc.wait, 60)


class Ours:
    """dotui, in this process, on its own folder (checkpoints only when asked, so the bytes of a change
    are its commit's; the queue as long as the concurrent calls)."""

    name = "dotui"

    def __init__(self, folder: str, concurrent: int):
        self.objects = os.path.join(folder, "objects")
        self.data = os.path.join(folder, "data")
        self.max_queue = max(1000, concurrent + 100)
        os.makedirs(self.objects)
        with open(os.path.join(self.objects, "sql_bench.py"), "w") as f:
            f.write(OBJECTS)
        self.engine: Any = None

    async def start(self) -> None:
        from dotui import Engine

        self.engine = Engine(
            objects=self.objects,
            data=self.data,
            idle_timeout=3600,
            max_queue=self.max_queue,
            checkpoint_interval=3600,
            checkpoint_log_bytes=1 << 40,
        )
        await self.engine.start()

    async def call(self, name: str, op: str, n: int = 0, k: int = 0) -> tuple[Any, float]:
        stub = self.engine.env.SqlBench.get_by_name(name)
        t0 = time.perf_counter()
        if op in ("fill", "write_one"):
            answer = await getattr(stub, op)(k)
        elif op in ("count", "peek"):
            answer = await getattr(stub, op)()
        elif op in ("kv_reads", "kv_writes"):
            answer = await getattr(stub, op)(n)
        elif op == "sequential_writes":
            for i in range(n):
                await stub.write_one(i % k)
            answer = True
        elif op == "concurrent_writes":
            got = await asyncio.gather(*(stub.write_one(i % k) for i in range(n)))
            answer = len(got) == n
        else:  # point_reads, point_writes, inserts, transaction, scan: (n, k)
            answer = await getattr(stub, op)(n, k)
        return answer, time.perf_counter() - t0

    async def restart(self) -> None:
        await self.engine.close()
        await self.start()

    async def commits(self) -> int:
        return int(self.engine.committer.stats()["commits"])

    async def checkpoint(self) -> None:
        if not await self.engine.checkpoint():
            raise RuntimeError("dotui: a checkpoint failed")

    async def written(self) -> int:
        return _write_bytes()

    async def close(self) -> None:
        await self.engine.close()


# ================================================================ the workloads
WRITES = ("point_writes", "inserts", "transaction", "kv_writes")


async def per_op(side, name: str, op: str, n: int, k: int, fresh_k: bool = False, repeats: int = 3) -> float:
    """Seconds per operation: the best of ``repeats`` calls of n operations less the best of as many
    calls of none, over n. A write's baseline is a call of one operation, so that both calls commit
    once (workerd commits an empty transactionSync, dotui does not) and the figure is a row's own
    cost; then over n - 1. ``fresh_k``: each call gets its own k (INSERTs of new ids)."""
    n0 = 1 if op in WRITES else 0
    base, best = math.inf, math.inf
    for rep in range(repeats):
        ok0, t0 = await side.call(name, op, n=n0, k=k + 2 * rep * n if fresh_k else k)
        ok, t = await side.call(name, op, n=n, k=k + (2 * rep + 1) * n if fresh_k else k)
        if ok0 is not True or ok is not True:
            raise RuntimeError(f"{side.name}: {op} (n={n}, k={k}) did not read back what it wrote")
        base, best = min(base, t0), min(best, t)
    return max(best - base, 0.0) / (n - n0)


async def fill(side, name: str, k: int) -> None:
    rows, _ = await side.call(name, "fill", k=k)
    if rows != k:
        raise RuntimeError(f"{side.name}: {name} holds {rows} rows, not {k}")


async def loops(side, names: dict[int, str], n: int, txn_sizes: list[int]) -> dict[str, float]:
    """exec and KV inside one call, at each K."""
    out = {}
    for k, name in names.items():
        out[f"exec: point read by key @{k}"] = await per_op(side, name, "point_reads", n, k)
        out[f"exec: UPDATE by key @{k}"] = await per_op(side, name, "point_writes", n, k)
        scans = max(3, SCANNED // k)
        out[f"exec: scan (to_array), a row @{k}"] = await per_op(side, name, "scan", scans, k) / k
        out[f"exec: INSERT a new row @{k}"] = await per_op(side, name, "inserts", n, k, fresh_k=True)
    name = names[max(names)]
    out["kv.get"] = await per_op(side, name, "kv_reads", n, 0)
    out["kv.put"] = await per_op(side, name, "kv_writes", n, 0)
    for size in txn_sizes:
        base, best = math.inf, math.inf
        for rep in range(5):
            _, t0 = await side.call(name, "peek")
            ok, t = await side.call(name, "transaction", n=size, k=10**7 + rep * size)
            if ok is not True:
                raise RuntimeError(f"{side.name}: a transaction of {size} rows failed")
            base, best = min(base, t0), min(best, t)
        out[f"transaction_sync of N inserts, durable: the call @{size}"] = max(best - base, 0.0)
    return out


async def writes(side, n_seq: int, n_conc: int) -> dict[str, float]:
    """Durable one-row writes from outside the object: seconds per call."""
    name = f"writes-{os.urandom(4).hex()}"
    await fill(side, name, 1000)
    out = {}
    _, t = await side.call(name, "sequential_writes", n=n_seq, k=1000)
    out["single caller: a durable one-row write"] = t / n_seq
    before = await side.commits() if isinstance(side, Ours) else 0
    ok, t = await side.call(name, "concurrent_writes", n=n_conc, k=1000)
    if ok is not True:
        raise RuntimeError(f"{side.name}: the concurrent writes did not all answer")
    out[f"{n_conc:,} concurrent one-row writes, a call"] = t / n_conc
    if isinstance(side, Ours):
        out["  (dotui: the commits they took)"] = await side.commits() - before
    return out


async def wakes(side, names: dict[int, str]) -> dict[str, list[float]]:
    """The first call to an object of K rows after a restart, less the best of three calls once it is
    awake, ``WAKES`` times (an object of one row is woken first after each start: the first wake
    after a start pays for what the engine does once)."""
    warm = f"warm-{os.urandom(4).hex()}"
    await fill(side, warm, 1)
    out: dict[str, list[float]] = {}
    for _ in range(WAKES):
        await side.restart()
        await side.call(warm, "peek")
        for k, name in names.items():
            _, first = await side.call(name, "peek")
            awake = min([(await side.call(name, "peek"))[1] for _ in range(3)])
            out.setdefault(f"wake (first call less an awake one) @{k}", []).append(max(first - awake, 0.0))
    return out


async def change_bytes(side, names: dict[int, str]) -> dict[str, float]:
    """The bytes one durable one-row change sends to the disk, at each K (objects awake): the median of
    ``CHANGES`` changes in a row after a checkpoint (the first after one also rewrites the WAL's start)."""
    out = {}
    for k, name in names.items():
        await side.call(name, "write_one", k=1)
        if isinstance(side, Ours):
            await side.checkpoint()
        sizes = []
        for i in range(CHANGES):
            before = await side.written()
            await side.call(name, "write_one", k=k // 2 + i)
            sizes.append(await side.written() - before)
        out[f"bytes written for a one-row change @{k}"] = statistics.median(sizes)
        if isinstance(side, Ours):
            before = await side.written()
            await side.checkpoint()
            out[f"  dotui: and their checkpoint, later @{k}"] = await side.written() - before
    return out


# ================================================================ the run
async def run(args) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="dotui-sql-bench-") as tmp:
        peer = Peer(os.path.join(tmp, "peer"))
        ours = Ours(os.path.join(tmp, "ours"), args.concurrent)
        await ours.start()
        try:
            for r in range(args.rounds):
                for side in (peer, ours):
                    names = {k: f"k{k}-{os.urandom(4).hex()}" for k in args.rows}
                    t_start = time.perf_counter()
                    if args.writes:
                        got = await writes(side, args.sequential, args.concurrent)
                        for label, v in got.items():
                            results.setdefault(label, {}).setdefault(side.name, []).append(v)
                        print(
                            f"round {r + 1}: {side.name} done in {time.perf_counter() - t_start:.1f} s", file=sys.stderr
                        )
                        continue
                    for k, name in names.items():
                        await fill(side, name, k)
                    got = await loops(side, names, args.n, args.txn)
                    got.update(await writes(side, args.sequential, args.concurrent))
                    got.update(await change_bytes(side, names))
                    for label, v in got.items():
                        results.setdefault(label, {}).setdefault(side.name, []).append(v)
                    for label, vs in (await wakes(side, names)).items():
                        results.setdefault(label, {}).setdefault(side.name, []).extend(vs)
                    print(f"round {r + 1}: {side.name} done in {time.perf_counter() - t_start:.1f} s", file=sys.stderr)
        finally:
            await ours.close()
            await peer.close()
    return {
        label: {s: statistics.median(v) if label.startswith("wake") else min(v) for s, v in by.items()}
        for label, by in results.items()
    }


def _is_count(label: str) -> bool:
    return label.lstrip().startswith(("bytes", "dotui:", "(dotui"))


def _fmt(label: str, v: float | None) -> str:
    if v is None:
        return "-"
    if "commits" in label:
        return f"{v:,.0f}"
    if _is_count(label):
        return f"{v / 1024:,.1f} KiB"
    return f"{v * 1e6:,.2f} us" if v < 0.01 else f"{v * 1e3:,.2f} ms"


def _growth(points: list[tuple[int, float]]) -> str:
    """How a cost grows from the smallest K to the largest: the factor, and the exponent e of
    cost ~ K**e that it means (0: O(1); 1: O(K))."""
    (k0, v0), (k1, v1) = points[0], points[-1]
    if v0 <= 0 or v1 <= 0 or k1 == k0:
        return ""
    factor = v1 / v0
    return f"x{factor:.2f} (K^{math.log(factor) / math.log(k1 / k0):.2f})"


def report(results: dict[str, dict[str, float]]) -> None:
    print(f"{'':52} {'workerd':>12} {'dotui':>12} {'workerd/dotui':>14}")
    families: dict[str, list[tuple[int, dict[str, float]]]] = {}
    for label, by in results.items():
        w, d = by.get("workerd"), by.get("dotui")
        ratio = f"{w / d:.2f}x" if w and d else ""
        shown = label
        if "@" in label:
            base, k = label.rsplit(" @", 1)
            families.setdefault(base, []).append((int(k), by))
            shown = f"{base}, {'N' if base.startswith('transaction') else 'K'} = {int(k):,}"
        print(f"{shown:52} {_fmt(label, w):>12} {_fmt(label, d):>12} {ratio:>14}")
    print()
    print("How each cost grows from the smallest K (or N) to the largest, as the same figures show:")
    print(f"{'':52} {'workerd':>18} {'dotui':>18}")
    for base, points in families.items():
        if len(points) < 2:
            continue
        cells = [
            _growth(got) if len(got := [(k, by[s]) for k, by in points if by.get(s)]) > 1 else ""
            for s in ("workerd", "dotui")
        ]
        print(f"{base:52} {cells[0]:>18} {cells[1]:>18}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rows", default="100,10000,100000", help="the Ks of the loops, the wake and the bytes")
    p.add_argument("--txn", default="1,100,10000", help="the Ns of the transaction_sync of N inserts")
    p.add_argument("--n", type=int, default=20_000, help="operations of each exec and KV loop")
    p.add_argument("--sequential", type=int, default=1_000)
    p.add_argument("--concurrent", type=int, default=2_000)
    p.add_argument("--quick", action="store_true", help="one round, K up to 10,000, 2,000-operation loops")
    p.add_argument("--writes", action="store_true", help="only the calls from outside (single caller, concurrent)")
    args = p.parse_args()
    args.rows = sorted(int(x) for x in args.rows.split(","))
    args.txn = sorted(int(x) for x in args.txn.split(","))
    if args.quick:
        args.rounds, args.rows, args.n, args.sequential, args.concurrent = 1, [100, 10_000], 2_000, 200, 500
    if not os.path.isdir(os.path.join(PEER, "node_modules", "miniflare")):
        print("bench/peer has no node_modules: run `cd bench/peer && npm ci` first", file=sys.stderr)
        return 2
    report(asyncio.run(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
