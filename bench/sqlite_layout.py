"""The storage layout of SQLite-backed objects, measured (docs/sqlite.md, "Layout").

    python bench/sqlite_layout.py [--rows 100000] [--objects 1,16,64] [--rounds 30]

Prints, side by side in one run:
- a group commit of N objects: one fdatasync of a shared log (the engine's commit log carrying the SQL
  changes) against one fdatasync per object's own WAL (sequential, and on a thread pool);
- a wake of an object holding ROWS rows: opening its SQLite database and reading one row, against
  parsing a TinyDB checkpoint of the same rows (the KV backend's wake);
- the bytes written to disk for a one-row change at ROWS rows (/proc/self/io write_bytes, and the
  growth of the WAL), against the KV backend's checkpoint rewrite of the whole object.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor


def _written() -> int:
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def _median_ms(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def group_commit(folder: str, n: int, rounds: int) -> dict[str, float]:
    """ms per group commit of ``n`` objects, each adding one 100-byte row."""
    log_fd = os.open(os.path.join(folder, f"shared-{n}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    conns = []
    for i in range(n):
        c = sqlite3.connect(os.path.join(folder, f"g{n}-{i}.sqlite"), isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=OFF")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        conns.append(c)
    wal_fds = [os.open(os.path.join(folder, f"g{n}-{i}.sqlite-wal"), os.O_RDONLY) for i in range(n)]
    pool = ThreadPoolExecutor(8)

    def write_all() -> None:
        for c in conns:
            c.execute("INSERT INTO t(v) VALUES (?)", ("x" * 100,))

    def shared_log() -> None:
        write_all()
        os.write(log_fd, b"r" * (200 * n))
        os.fdatasync(log_fd)

    def own_wal_seq() -> None:
        write_all()
        for fd in wal_fds:
            os.fdatasync(fd)

    def own_wal_pool() -> None:
        write_all()
        list(pool.map(os.fdatasync, wal_fds))

    out = {
        "shared log": _median_ms(shared_log, rounds),
        "own WAL, in turn": _median_ms(own_wal_seq, rounds),
        "own WAL, 8 threads": _median_ms(own_wal_pool, rounds),
    }
    pool.shutdown()
    for fd in (log_fd, *wal_fds):
        os.close(fd)
    for c in conns:
        c.close()
    return out


def wake_and_change(folder: str, rows: int, rounds: int) -> dict[str, float]:
    path = os.path.join(folder, f"big-{rows}.sqlite")
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
    c.execute("CREATE INDEX t_score ON t(score)")
    c.execute("BEGIN")
    c.executemany("INSERT INTO t VALUES (?, ?, ?)", ((i, f"player-{i:06d}", i * 7 % 1000) for i in range(rows)))
    c.execute("COMMIT")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()

    def wake() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("SELECT name FROM t WHERE id = ?", (rows // 2,)).fetchone()
        conn.close()

    doc = {
        "meta": {"1": {"keys": rows}},
        "storage": {str(i): {"key": f"player-{i:06d}", "value": {"score": i * 7 % 1000}} for i in range(rows)},
    }
    text = json.dumps(doc).encode()

    def kv_wake() -> None:
        json.loads(text)

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    wal = path + "-wal"
    changes = []
    for i in range(rounds):
        before_io, before_wal = _written(), os.path.getsize(wal) if os.path.exists(wal) else 0
        conn.execute("UPDATE t SET score = ? WHERE id = ?", (i, (i * 7919) % rows))
        fd = os.open(wal, os.O_RDONLY)
        os.fdatasync(fd)
        os.close(fd)
        changes.append((_written() - before_io, os.path.getsize(wal) - before_wal))
    conn.close()
    return {
        "wake ms": _median_ms(wake, rounds),
        "kv wake ms": _median_ms(kv_wake, max(3, rounds // 10)),
        "change io bytes": statistics.median(a for a, _ in changes),
        "change wal bytes": statistics.median(b for _, b in changes),
        "kv checkpoint bytes": len(text),
        "db bytes": os.path.getsize(path),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--objects", default="1,16,64")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--dir", default=None, help="folder to measure in (default: a temporary one under the cwd)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(dir=a.dir or ".") as folder:
        print("group commit of N objects (ms per commit, median):")
        for n in (int(x) for x in a.objects.split(",")):
            r = group_commit(folder, n, a.rounds)
            shared = r["shared log"]
            print(f"  N={n:3d}  " + "  ".join(f"{k}: {v:6.2f} ({v / shared:4.1f}x)" for k, v in r.items()))
        w = wake_and_change(folder, a.rows, a.rounds)
        print(
            f"wake at {a.rows} rows: sqlite open+read {w['wake ms']:.2f} ms; "
            f"kv checkpoint parse {w['kv wake ms']:.1f} ms ({w['kv wake ms'] / w['wake ms']:.0f}x)"
        )
        print(
            f"one-row change at {a.rows} rows: {w['change io bytes'] / 1024:.1f} KiB written "
            f"(WAL +{w['change wal bytes'] / 1024:.1f} KiB); kv checkpoint rewrite "
            f"{w['kv checkpoint bytes'] / 1024:.0f} KiB; database {w['db bytes'] / 1024:.0f} KiB"
        )


if __name__ == "__main__":
    main()
