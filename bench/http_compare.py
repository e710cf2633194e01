"""The gateway beside workerd, both over HTTP, driven by the same client in one run.

    (cd bench/peer && npm ci)          # once: miniflare (workerd)
    python bench/http_compare.py [--quick] [--rounds N]

Both servers serve ``POST /objects/<Namespace>/<name>/<method>`` with
``{"args": [...]}`` answering ``{"result": ...}`` behind a bearer token:
``dotui serve`` (``python -m dotui.server``) on the Counter of
bench/bench_objects.py, and workerd through miniflare listening on a port
(bench/peer/serve.mjs), whose Worker calls the same Counter (bench/peer/worker.js)
by RPC, storage SQLite-backed. The client is bench/peer/drive.mjs (Node, undici,
one keep-alive connection per client), the same for both; for WebSockets
bench/peer/drive_ws.mjs (Node, the ``ws`` package) on ``GET /ws/Sockets/<room>/x``,
whose object is worker.js's Sockets and its Python twin (bench/behaviour.py). Workloads:

- ``noop``: one client, no-op calls on one object, one after another;
- ``increment``: 20 clients, durable increments on one object;
- ``users``: 20 clients, durable increments spread over 200 users' objects;
- ``ws_noop``, ``ws_count``: 20 sockets over 10 objects, each sending a message and
  waiting for its answer, again and again (``count`` writes first: its answer leaves
  once the write is durable).

Each round runs every workload on both sides in turn (so the machine's noise hits
both alike); the medians of the rounds are compared. Every increment's answer
must be distinct per object, the answers of one object exactly 1..n: one
instance per object, its calls serialized, every write counted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.path.join(HERE, "peer")
# this folder comes last: a module here must never hide one of the standard library.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]

from behaviour import WS_OBJECTS
from bench_objects import write_counter

WORKLOADS = [  # (name, clients, calls, what)
    ("noop", 1, 10000, "1 keep-alive client, no-op calls on one object"),
    ("increment", 20, 3000, "20 clients, durable increments on one object"),
    ("users", 20, 4000, "20 clients, durable increments over 200 users' objects"),
    ("ws_noop", 20, 6000, "WebSocket messages: 20 sockets on 10 objects, each answered before the next"),
    ("ws_count", 20, 6000, "WebSocket messages: 20 sockets on 10 objects, a durable write each"),
    ("ws_stream", 20, 20000, "WebSocket messages: 20 sockets on 10 objects, 16 in flight per socket"),
]


def start(cmd: list[str], prefix: str, cwd: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Start a server whose first line is ``<prefix>: <URL>``; its process and URL."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd, env=env)
    line = proc.stdout.readline()
    m = re.match(rf"{prefix}: (\S+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"{' '.join(cmd[:3])} did not start (said {line!r})")
    return proc, m.group(1)


def drive(url: str, token: str, workload: str, clients: int, calls: int, tag: str) -> dict:
    extra = ["--window", "16"] if workload == "ws_stream" else []
    if workload == "ws_stream":
        workload = "ws_noop"
    out = subprocess.run(
        [
            "node",
            "drive_ws.mjs" if workload.startswith("ws_") else "drive.mjs",
            "--url",
            url,
            "--token",
            token,
            "--workload",
            workload,
            "--clients",
            str(clients),
            "--calls",
            str(calls),
            "--tag",
            tag,
            *extra,
        ],
        cwd=PEER,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        raise SystemExit(f"drive.mjs {workload} against {url} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one round, a third of the calls")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all), e.g. ws_noop,ws_count")
    a = ap.parse_args()
    if a.only:
        WORKLOADS[:] = [w for w in WORKLOADS if w[0] in a.only.split(",")]
    if not os.path.isdir(os.path.join(PEER, "node_modules", "miniflare")):
        raise SystemExit("miniflare is not installed: run `cd bench/peer && npm ci` first")
    rounds = 1 if a.quick else a.rounds
    scale = 3 if a.quick else 1
    tmp = tempfile.mkdtemp(prefix="dotui-http-compare-")
    token = secrets.token_urlsafe(32)
    objects = write_counter(os.path.join(tmp, "objects"))
    with open(os.path.join(objects, "sockets.py"), "w") as f:
        f.write(WS_OBJECTS)  # the Python twin of worker.js's Sockets (WebSocket Hibernation API)
    servers = []
    try:
        dotui, dotui_url = start(
            [
                sys.executable,
                "-m",
                "dotui.server",
                "--objects",
                objects,
                "--data",
                os.path.join(tmp, "data"),
                "--port",
                "0",
                "--idle",
                "3600",
                "--token",
                token,
            ],
            "dotui serve",
            ROOT,
            {**os.environ, "PYTHONPATH": ROOT},
        )
        servers.append(dotui)
        workerd, workerd_url = start(
            ["node", "serve.mjs", "--persist", os.path.join(tmp, "mf"), "--token", token], "miniflare", PEER
        )
        servers.append(workerd)
        bare, bare_url = start([sys.executable, os.path.join(HERE, "bare_server.py")], "bare server", HERE)
        servers.append(bare)
        results = run_rounds({"dotui": dotui_url, "workerd": workerd_url, "bare": bare_url}, token, rounds, scale)
    finally:
        for proc in servers:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    return report(results, rounds)


# What the bare server (bench/bare_server.py: answers without doing anything) can take: it
# writes nothing, so it has no figure for a workload that writes.
BARE = ("noop", "ws_noop", "ws_stream")


def run_rounds(urls: dict[str, str], token: str, rounds: int, scale: int) -> dict:
    results: dict = {(w, side): [] for w, *_ in WORKLOADS for side in urls}
    for r in range(rounds):
        for workload, clients, calls, _ in WORKLOADS:
            for side, url in urls.items():
                if side == "bare" and workload not in BARE:
                    continue
                results[(workload, side)].append(drive(url, token, workload, clients, calls // scale, f"r{r}"))
    return results


def report(results: dict, rounds: int) -> int:
    print(f"dotui serve vs workerd (miniflare), same client (bench/peer/drive.mjs), median of {rounds} round(s)")
    print(
        f"{'workload':<10} {'dotui calls/s':>14} {'workerd calls/s':>16} {'ratio':>7}  {'bare calls/s':>12} "
        f"{'ceiling':>8}  distinct  what"
    )
    worst = float("inf")
    all_distinct = True
    for workload, _, _, what in WORKLOADS:
        d = statistics.median(x["calls_per_sec"] for x in results[(workload, "dotui")])
        w = statistics.median(x["calls_per_sec"] for x in results[(workload, "workerd")])
        sides = [side for side in ("dotui", "workerd", "bare") if results.get((workload, side))]
        distinct = all(x["distinct"] for side in sides for x in results[(workload, side)])
        all_distinct &= distinct
        worst = min(worst, d / w)
        if results.get((workload, "bare")):
            b = statistics.median(x["calls_per_sec"] for x in results[(workload, "bare")])
            bare = f"{b:>12,.0f} {b / w:>7.2f}x"
        else:
            bare = f"{'-':>12} {'-':>8}"
        print(
            f"{workload:<10} {d:>14,.0f} {w:>16,.0f} {d / w:>6.2f}x  {bare}  {'yes' if distinct else 'NO':<8}  {what}"
        )
    print(f"lowest ratio {worst:.2f}x; every answer distinct per object: {'yes' if all_distinct else 'NO'}")
    print(
        "bare: bench/bare_server.py, which answers without doing anything, with the same client; "
        "ceiling: its rate over workerd's, the highest ratio any Python server could show here"
    )
    return 0 if all_distinct else 1


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t0:.0f} s)")
    sys.exit(code)
