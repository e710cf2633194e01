"""dotui beside workerd (Cloudflare's runtime, run locally by miniflare), in one run.

    python bench/compare.py [--rounds N] [--quick]

Installs the peer when missing (`npm ci` in bench/peer), then runs each
workload on workerd (persisting to disk) and on dotui, alternating, each run in
a fresh process, and prints one table: each figure for both, and the ratio.
See bench/README.md for what each side's call crosses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.path.join(HERE, "peer")
sys.path.insert(0, ROOT)

from bench_objects import write_counter

WORKLOADS = {"noop": 20_000, "increment": 2_000, "concurrent": 10_000, "new_objects": 2_000}


# ---------------------------------------------------------------- the dotui side
async def _dotui_workload(workload: str, n: int, data: str, objects: str) -> dict:
    from dotui import Engine

    nonce = os.urandom(6).hex()
    out: dict = {"workload": workload, "ops": n}
    async with Engine(objects=objects, data=data, idle_timeout=3600) as e:
        ns = e.env.Counter
        stub = ns.get_by_name(f"{workload}-{nonce}")
        if workload != "new_objects":
            await stub.peek()  # the object exists (as workerd's warm-up request does)
        t = time.perf_counter()
        if workload == "noop":
            for _ in range(n):
                await stub.noop()
        elif workload == "increment":
            for _ in range(n):
                await stub.increment()
        elif workload == "concurrent":
            results = await asyncio.gather(*(stub.increment() for _ in range(n)))
            assert sorted(results) == list(range(1, n + 1)), "lost or duplicated increments"
        elif workload == "new_objects":
            for i in range(n):
                await ns.get_by_name(f"new-{nonce}-{i}").increment()
        out["seconds"] = time.perf_counter() - t
        if workload in ("increment", "concurrent"):
            assert await stub.peek() == n
    if workload == "new_objects":
        total = 0
        for folder, _, files in os.walk(data):
            for f in files:
                if f != "lock":
                    total += os.path.getsize(os.path.join(folder, f))
        out["disk_bytes_per_object"] = total / n
    out["ops_per_sec"] = n / out["seconds"]
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def run_dotui(workload: str, n: int, tmp: str) -> dict:
    data = tempfile.mkdtemp(prefix="dotui-", dir=tmp)
    objects = os.path.join(tmp, "objects")
    out = subprocess.run(
        [sys.executable, __file__, "--dotui-workload", workload, "--n", str(n), "--data", data, "--objects", objects],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        raise SystemExit(f"dotui {workload} failed:\n{out.stderr}")
    shutil.rmtree(data, ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the workerd side
def ensure_peer() -> None:
    if os.path.isdir(os.path.join(PEER, "node_modules", "miniflare")):
        return
    if shutil.which("npm") is None:
        raise SystemExit(
            "bench/compare.py needs Node.js and npm for the workerd peer (bench/peer); install Node.js 20+"
        )
    print("installing the peer (npm ci in bench/peer) …", file=sys.stderr)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True)


def run_peer(workload: str, n: int, tmp: str) -> dict:
    persist = tempfile.mkdtemp(prefix="workerd-", dir=tmp)
    out = subprocess.run(
        ["node", "run.mjs", "--persist", persist, "--workload", workload, "--n", str(n)],
        cwd=PEER,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        raise SystemExit(f"workerd {workload} failed:\n{out.stderr[-2000:]}")
    shutil.rmtree(persist, ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the table
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per workload (median is shown)")
    ap.add_argument("--quick", action="store_true", help="one round, a tenth of the operations")
    ap.add_argument("--dotui-workload", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--objects", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dotui_workload:
        print(json.dumps(asyncio.run(_dotui_workload(args.dotui_workload, args.n, args.data, args.objects))))
        return 0

    ensure_peer()
    rounds = 1 if args.quick else args.rounds
    scale = 10 if args.quick else 1
    started = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="dotui-compare-")
    write_counter(os.path.join(tmp, "objects"))
    runs: dict[str, dict[str, list[dict]]] = {w: {"dotui": [], "workerd": []} for w in WORKLOADS}
    try:
        for r in range(rounds):
            for workload, n in WORKLOADS.items():
                n = max(100, n // scale) if workload != "concurrent" else n
                # Alternate which side goes first, so neither always gets a cooler machine.
                sides = [("dotui", run_dotui), ("workerd", run_peer)]
                if r % 2:
                    sides.reverse()
                for side, fn in sides:
                    res = fn(workload, n, tmp)
                    runs[workload][side].append(res)
                    print(f"  round {r + 1} {workload:12} {side:8} {res['ops_per_sec']:>10,.0f} ops/s", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(workload, side, key):
        return statistics.median(x[key] for x in runs[workload][side])

    rows = []
    targets = {"noop": 3, "increment": 1.5, "concurrent": 5, "new_objects": 5}
    labels = {
        "noop": "sequential no-op calls, one object (ops/s)",
        "increment": "sequential durable increments (ops/s)",
        "concurrent": "10,000 concurrent durable increments (ops/s)",
        "new_objects": "first calls to 2,000 new objects (ops/s)",
    }
    all_met = True
    for w, label in labels.items():
        d, p = med(w, "dotui", "ops_per_sec"), med(w, "workerd", "ops_per_sec")
        ratio = d / p
        met = ratio >= targets[w]
        all_met &= met
        rows.append((label, f"{d:,.0f}", f"{p:,.0f}", f"{ratio:.2f}x", f">= {targets[w]}x", "met" if met else "MISSED"))
    d = med("new_objects", "dotui", "disk_bytes_per_object")
    p = med("new_objects", "workerd", "disk_bytes_per_object")
    met = d / p <= 0.1
    all_met &= met
    rows.append(
        ("disk bytes per object", f"{d:,.0f}", f"{p:,.0f}", f"{d / p:.3f}x", "<= 0.1x", "met" if met else "MISSED")
    )
    for w in WORKLOADS:
        d = max(x["peak_rss_bytes"] for x in runs[w]["dotui"]) / 2**20
        p = max(x["peak_rss_bytes"] for x in runs[w]["workerd"]) / 2**20
        rows.append((f"peak memory, {w} (MiB)", f"{d:,.0f}", f"{p:,.0f}", f"{d / p:.2f}x", "", ""))

    print(f"dotui vs workerd ({rounds} alternating round(s), medians; {time.perf_counter() - started:.0f} s)")
    widths = [max(len(r[i]) for r in rows + [("figure", "dotui", "workerd", "ratio", "target", "")]) for i in range(6)]
    header = ("figure", "dotui", "workerd", "ratio", "target", "")
    for row in [header] + rows:
        print("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)).rstrip())
    print("targets:", "all met" if all_met else "NOT all met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
