"""Scale: start, the first `ls` page, memory and disk per hibernated object at 10k, 100k and 1M.

    python bench/scale.py [--sizes 10000,100000,1000000] [--compare CHECKOUT] [--rounds 3] [--data DIR]

For each size, a data folder of N hibernated Counter objects is generated (once; reused when
present) by writing its files directly with the engine's own writers: each checkpoint with
``checkpoint.encode``/``build`` at ``schema.object_path``, the index with ``Index.persist`` (a whole
snapshot). That takes seconds where driving the engine took minutes (the time is printed). Each
measurement then runs in a fresh process: engine start, the first page of `ls` (50 rows, as the
REPL's `ls` asks: ``instances(limit=50)``, and through the command registry on a ``LocalEngine``),
a page deep in the listing, the process's resident memory grown by the start per object, and the
bytes on disk per object (the index's files; the checkpoints' blocks).

``--compare CHECKOUT`` measures another checkout of dotui (``git worktree add /tmp/main main``) in
the same run, round by round beside this one, on a data folder of its own format holding the same
checkpoint files (hard links when both lay them out alike): ratios measured side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

GENERATE = r"""
import json, os, sys, time
from dotui.engine.durability import checkpoint, schema
from dotui.engine.durability import index as index_module
from dotui.engine.ids import IdFactory

data, n, link_from = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
ids = IdFactory("Counter")
now = time.time()
rows, made = [], set()
for i in range(n):
    oid = ids.from_name(f"user-{i:07d}")
    path = schema.object_path(data, "Counter", oid.hex)
    folder = os.path.dirname(path)
    if folder not in made:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        made.add(folder)
    if link_from:  # the same checkpoint, laid out alike in the other folder: a hard link
        os.link(schema.object_path(link_from, "Counter", oid.hex), path)
    else:
        meta = {"namespace": "Counter", "id": oid.hex, "name": oid.name, "alarm": None, "keys": 1, "bytes": 2,
                "saved_at": now - i}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, checkpoint.encode(checkpoint.build({"n": 1}, meta)))
        os.close(fd)
    rows.append(["Counter", oid.hex, oid.name, 1, 2, None, round(now - i, 3), 1, 0])
t1 = time.perf_counter()
sqlite = hasattr(index_module, "Store")  # this checkout's index: index.sqlite, or index.json before it
index = index_module.Index(os.path.join(data, "index.sqlite" if sqlite else "index.json"))
index.persist([], rows)
if hasattr(index, "close"):
    index.close()
os.sync()
print(json.dumps({"files": t1 - t0, "index": time.perf_counter() - t1}))
"""

MEASURE = r"""
import asyncio, gc, json, os, sys, time
objects, data = sys.argv[1], sys.argv[2]

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

from dotui import Engine
from dotui.commands import Context, execute
try:
    from dotui.ops import LocalEngine
except ImportError:  # a checkout from before the operation table
    from dotui.engine.facade import LocalEngine

async def engine_side():
    out = {}
    gc.collect()
    before = rss()
    e = Engine(objects=objects, data=data, idle_timeout=3600)
    t = time.perf_counter()
    await e.start()
    out["start"] = time.perf_counter() - t
    gc.collect()
    out["rss_per_object"] = (rss() - before) / max(1, e.count_instances()["total"])
    t = time.perf_counter()
    page = e.instances(limit=50)
    out["first_page"] = time.perf_counter() - t
    assert len(page) == 50, len(page)
    total = e.count_instances()["total"]
    t = time.perf_counter()
    deep = e.instances(offset=total // 2, limit=50)
    out["middle_page"] = time.perf_counter() - t
    assert len(deep) == 50
    out["total"] = total
    t = time.perf_counter()
    await e.close()
    out["close"] = time.perf_counter() - t
    return out

out = asyncio.run(engine_side())
t = time.perf_counter()
facade = LocalEngine(objects, data, idle_timeout=3600).start()
out["ls_start"] = time.perf_counter() - t
try:
    t = time.perf_counter()
    outcome = execute(Context(facade), "ls")
    out["ls_first_page"] = time.perf_counter() - t
    assert outcome.ok and len(outcome.result["objects"]) == 50, outcome
finally:
    facade.close()
print(json.dumps(out))
"""


def _env(checkout: str) -> dict[str, str]:
    """The checkout first on the path, its bytecode cached as an installed dotui's is (pip compiles it): with
    PYTHONDONTWRITEBYTECODE set, every fresh process compiled the modules the start imports (~250 ms)."""
    env = dict(os.environ, PYTHONPATH=checkout)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(code: str, checkout: str, *args: str, timeout: float = 3600) -> dict:
    env = _env(checkout)
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=checkout
    )
    if out.returncode != 0:
        raise SystemExit(f"failed in {checkout}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _layout(checkout: str, data: str) -> str:
    code = (
        "import sys; from dotui.engine.durability import schema; from dotui.engine.ids import IdFactory; "
        "print(schema.object_path(sys.argv[1], 'Counter', IdFactory('Counter').from_name('x').hex))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, data],
        capture_output=True,
        text=True,
        env=_env(checkout),
        cwd=checkout,
        timeout=60,
    )
    return out.stdout.strip()


def _disk(data: str) -> dict:
    index = blocks = files = 0
    for d, _, names in os.walk(data):
        for name in names:
            st = os.lstat(os.path.join(d, name))
            if d == data and name.startswith("index."):
                index += st.st_size
            elif name.endswith(".json"):
                blocks += st.st_blocks * 512
                files += st.st_size
    return {"index_bytes": index, "checkpoint_blocks": blocks, "checkpoint_bytes": files}


def generate(checkout: str, data: str, n: int, link_from: str = "") -> float | None:
    """Make the folder (None: it was there already); the seconds it took."""
    marker = os.path.join(data, ".generated")
    if os.path.exists(marker):
        return None
    t = time.perf_counter()
    os.makedirs(data, mode=0o700, exist_ok=True)
    took = _run(GENERATE, checkout, data, str(n), link_from)
    with open(marker, "w") as f:
        json.dump(took, f)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--compare", help="another checkout of dotui, measured beside this one")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "dotui-scale"))
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    from bench_objects import write_counter

    objects = write_counter(os.path.join(args.data, "objects"))
    checkouts = {"this": ROOT}
    if args.compare:
        checkouts["compare"] = os.path.abspath(args.compare)
    for checkout in checkouts.values():  # as pip does at install: no fresh process compiles a module
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", os.path.join(checkout, "dotui")],
            env=_env(checkout),
            check=True,
            timeout=600,
        )
    results: dict[tuple[str, int], list[dict]] = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        folders = {}
        for label, checkout in checkouts.items():
            data = folders[label] = os.path.join(args.data, f"{label}-{n}")
            link = ""
            if label != "this" and _layout(checkout, "X") == _layout(ROOT, "X"):
                link = folders["this"]
            took = generate(checkout, data, n, link)
            if took is not None:
                print(
                    f"generated {n:,} objects for {label} ({checkout}) in {took:.1f} s"
                    + (" (checkpoints hard-linked)" if link else ""),
                    flush=True,
                )
        if args.rounds == 0:  # generate only
            continue
        for _ in range(args.rounds):
            for label, checkout in checkouts.items():
                results.setdefault((label, n), []).append(_run(MEASURE, checkout, objects, folders[label]))
        for label in checkouts:
            report(label, checkouts[label], n, results[(label, n)], _disk(folders[label]), folders[label])
        if args.compare:
            a, b = results[("this", n)], results[("compare", n)]
            ratios = "  ".join(
                f"{k} {_med(b, k) / _med(a, k):.1f}x"
                for k in ("start", "first_page", "ls_first_page", "rss_per_object")
            )
            print(f"  this checkout against the other at {n:,}: {ratios} (how many times less)", flush=True)
    return 0


def _med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _ms(runs: list[dict], key: str) -> str:
    """Median and fastest, in ms (the machine is shared: the fastest is the least disturbed)."""
    return f"{_med(runs, key) * 1e3:8.1f} ms (fastest {min(r[key] for r in runs) * 1e3:.1f})"


def report(label: str, checkout: str, n: int, runs: list[dict], disk: dict, data: str) -> None:
    with open(os.path.join(data, ".generated")) as f:
        gen = json.load(f)
    print(f"{label} ({checkout}), {n:,} hibernated objects, medians of {len(runs)} fresh processes:")
    print(f"  generated in               {gen['files']:8.1f} s checkpoints + {gen['index']:.1f} s index")
    print(f"  engine start               {_ms(runs, 'start')}   (target <= 100 ms at 100k)")
    print(f"  first page (50 rows)       {_ms(runs, 'first_page')}   (target <= 50 ms at 100k)")
    print(f"  a page in the middle       {_ms(runs, 'middle_page')}")
    print(
        f"  `ls` on a LocalEngine      {_ms(runs, 'ls_first_page')}   (its start {_med(runs, 'ls_start') * 1e3:.0f} ms)"
    )
    print(f"  memory per object (RSS)    {_med(runs, 'rss_per_object'):8.0f} B    (target <= 250 B)")
    print(f"  index on disk per object   {disk['index_bytes'] / n:8.0f} B")
    print(
        f"  checkpoint per object      {disk['checkpoint_bytes'] / n:8.0f} B in {disk['checkpoint_blocks'] / n:.0f} B "
        "of blocks"
    )
    print(f"  close                      {_med(runs, 'close') * 1e3:8.1f} ms", flush=True)


if __name__ == "__main__":
    sys.exit(main())
