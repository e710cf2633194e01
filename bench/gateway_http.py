"""Gateway benchmark: calls over HTTP (keep-alive) beside in-process calls, measured in one run.

    python bench/gateway_http.py [--quick]

The gateway runs as its own process (``python -m dotui.server``), as a user
runs it; the in-process engine runs in this process on its own thread
(``LocalEngine``), on another data folder. Each round runs every workload
once, in turn, so the machine's noise hits all of them alike; the medians and
their ratios are what to compare.
"""

from __future__ import annotations

import os
import sys

# This file is named http.py: take its folder off the path, or it would hide the
# standard library's http package from aiohttp.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(_HERE)
sys.path.insert(0, ROOT)

import aiohttp

from dotui.ops import LocalEngine
from dotui.server import connect

sys.path.append(_HERE)  # aiohttp has its http package now; our sibling modules may come last
from bench_objects import write_counter


# ---------------------------------------------------------------- in-process
def inproc_sequential(local: LocalEngine, n: int) -> float:
    """``await engine.call`` in a loop on the engine's own thread: the engine's own cost."""

    async def go():
        oid = local.engine.object_id("Counter", "noop")
        t = time.perf_counter()
        for _ in range(n):
            await local.engine.call("Counter", oid, "noop")
        return time.perf_counter() - t

    return local.run(go()) / n


def facade_sequential(local: LocalEngine, n: int) -> float:
    """``LocalEngine.call`` from this thread: what the REPL pays per call, in-process."""
    t = time.perf_counter()
    for _ in range(n):
        local.call("Counter", "noop", "noop")
    return (time.perf_counter() - t) / n


def inproc_concurrent_increments(local: LocalEngine, clients: int, per: int, name: str) -> float:
    async def go():
        oid = local.engine.object_id("Counter", name)

        async def client():
            for _ in range(per):
                await local.engine.call("Counter", oid, "increment")

        t = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - t

    return local.run(go()) / (clients * per)


# ---------------------------------------------------------------- over HTTP
async def http_sequential(url: str, token: str, n: int) -> float:
    """One keep-alive client, one call after another."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
        async with s.post(f"{url}/objects/Counter/noop/noop") as r:
            await r.read()
        t = time.perf_counter()
        for _ in range(n):
            async with s.post(f"{url}/objects/Counter/noop/noop") as r:
                await r.read()
        return (time.perf_counter() - t) / n


async def http_concurrent(url: str, token: str, clients: int, per: int, path: str) -> float:
    """``clients`` keep-alive clients, each sending ``per`` calls one after another."""
    headers = {"Authorization": f"Bearer {token}"}

    async def client(session):
        for _ in range(per):
            async with session.post(url + path) as r:
                assert r.status == 200, await r.text()
                await r.read()

    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), headers=headers) for _ in range(clients)]
    try:
        t = time.perf_counter()
        await asyncio.gather(*(client(s) for s in sessions))
        return (time.perf_counter() - t) / (clients * per)
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


def remote_sequential(remote, n: int) -> float:
    """``RemoteEngine.call``: what the REPL pays per call with --connect."""
    t = time.perf_counter()
    for _ in range(n):
        remote.call("Counter", "noop", "noop")
    return (time.perf_counter() - t) / n


BARE_SERVER = """
import socket, sys
from aiohttp import web

async def answer(request):
    await request.read()
    return web.json_response({"result": None})

app = web.Application()
app.router.add_post("/objects/Counter/noop/noop", answer)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(f"dotui serve: http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
web.run_app(app, sock=sock, print=None, access_log=None)
"""


# ---------------------------------------------------------------- running it
def start_bare() -> tuple[subprocess.Popen, str]:
    """A bare aiohttp server answering the same request: the floor an HTTP call cannot go below."""
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT
    )
    m = re.match(r"dotui serve: (\S+)", proc.stdout.readline())
    if not m:
        proc.kill()
        raise SystemExit("the bare aiohttp server did not start")
    return proc, m.group(1)


def start_gateway(objects: str, data: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dotui.server", "--objects", objects, "--data", data, "--port", "0", "--idle", "3600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    m = re.match(r"dotui serve: (\S+)", proc.stdout.readline())
    if not m:
        proc.kill()
        raise SystemExit("the gateway did not start")
    return proc, m.group(1)


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    return f"{seconds * 1e3:8.2f} ms"


def main(quick: bool) -> int:
    rounds = 1 if quick else 3
    n_seq = 500 if quick else 2_000
    n_inproc = 5_000 if quick else 20_000
    clients, per = 50, (10 if quick else 40)
    tmp = tempfile.mkdtemp(prefix="dotui-bench-http-")
    objects = write_counter(os.path.join(tmp, "objects"))
    keys = ("inproc", "facade", "inproc_incr", "bare", "http_seq", "remote", "http_conc", "http_incr")
    results: dict[str, list[float]] = {k: [] for k in keys}
    proc, url = start_gateway(objects, os.path.join(tmp, "served"))
    bare, bare_url = start_bare()
    started = time.perf_counter()
    try:
        token = open(os.path.join(tmp, "served", "serve.token")).read().strip()
        with (
            LocalEngine(objects, os.path.join(tmp, "local"), idle_timeout=3600) as local,
            connect(url, token=token) as remote,
        ):
            local.call("Counter", "noop", "noop")
            for r in range(rounds):
                results["inproc"].append(inproc_sequential(local, n_inproc))
                results["facade"].append(facade_sequential(local, n_seq))
                results["inproc_incr"].append(inproc_concurrent_increments(local, clients, per, f"incr-{r}"))
                results["bare"].append(asyncio.run(http_sequential(bare_url, token, n_seq)))
                results["http_seq"].append(asyncio.run(http_sequential(url, token, n_seq)))
                results["remote"].append(remote_sequential(remote, n_seq))
                results["http_conc"].append(
                    asyncio.run(http_concurrent(url, token, clients, per, "/objects/Counter/noop/noop"))
                )
                results["http_incr"].append(
                    asyncio.run(http_concurrent(url, token, clients, per, f"/objects/Counter/incr-{r}/increment"))
                )
                assert remote.call("Counter", f"incr-{r}", "increment", [0]) == clients * per
    finally:
        bare.kill()
        bare.wait(30)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    m = {k: statistics.median(v) for k, v in results.items()}
    print(f"dotui gateway benchmark ({rounds} alternating rounds, medians; {time.perf_counter() - started:.1f} s)")
    print(f"{'workload':52} {'per call':>11} {'calls/s':>10}  ratio")
    rows = [
        ("in-process: await engine.call, no-op", "inproc", "1.00x (the engine alone)"),
        ("in-process: LocalEngine.call (thread hop), no-op", "facade", f"{m['inproc'] / m['facade']:.3f}x engine"),
        ("bare aiohttp round trip, 1 client (HTTP floor)", "bare", "1.00x (no engine, no auth, no JSON parsing)"),
        (
            "HTTP keep-alive, 1 client, no-op",
            "http_seq",
            f"{m['bare'] / m['http_seq']:.2f}x bare aiohttp, {m['facade'] / m['http_seq']:.3f}x LocalEngine.call, "
            f"{m['inproc'] / m['http_seq']:.4f}x engine",
        ),
        ("RemoteEngine.call (--connect), no-op", "remote", f"{m['facade'] / m['remote']:.2f}x LocalEngine.call"),
        (f"HTTP keep-alive, {clients} clients, no-op", "http_conc", f"{m['http_seq'] / m['http_conc']:.2f}x 1 client"),
        (f"in-process: {clients} callers, durable increments", "inproc_incr", "1.00x (one object)"),
        (
            f"HTTP keep-alive, {clients} clients, durable increments",
            "http_incr",
            f"{m['inproc_incr'] / m['http_incr']:.3f}x in-process increments",
        ),
    ]
    for label, key, ratio in rows:
        print(f"{label:52} {fmt(m[key]):>11} {1 / m[key]:10,.0f}  {ratio}")
    print(f"every increment counted: {clients} x {per} per round, exactly, over HTTP")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one round, smaller counts (a smoke test)")
    sys.exit(main(ap.parse_args().quick))
