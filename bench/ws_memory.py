"""Memory per open WebSocket while its object is hibernated, in ``dotui serve``.

    python bench/ws_memory.py [--sockets N] [--objects M]

Starts ``dotui serve`` (the ChatRoom-like ``Sockets`` class of bench/behaviour.py),
wakes M objects and hibernates them (the baseline), then opens N sockets over
them, each sending one message (so every object wakes and is accepted), hibernates
every object again, and reads the server's resident memory (VmRSS) each time.
Prints the bytes per socket: (RSS with the sockets open - baseline) / N. The sockets
and their objects' hibernation are checked (``stats``: websockets == N, live == 0).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import secrets
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]
sys.path.insert(0, ROOT)

import aiohttp

from behaviour import WS_OBJECTS
from dotui.server import connect


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


async def open_sockets(url: str, token: str, n: int, objects: int) -> list:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    sockets = []
    for i in range(n):
        ws = await session.ws_connect(
            f"{url}/ws/Sockets/room{i % objects}/x",
            params={"user": f"u{i}"},
            headers={"Authorization": f"Bearer {token}"},
            compress=0,
        )
        sockets.append(ws)
    for ws in sockets:
        await ws.send_str("noop")
        assert (await ws.receive(timeout=30)).data == "ok"
    return [session, *sockets]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sockets", type=int, default=2000)
    ap.add_argument("--objects", type=int, default=100)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="dotui-ws-memory-")
    objects = os.path.join(tmp, "objects")
    os.makedirs(objects)
    with open(os.path.join(objects, "sockets.py"), "w") as f:
        f.write(WS_OBJECTS)
    token = secrets.token_urlsafe(24)
    proc = subprocess.Popen(
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
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    url = re.match(r"dotui serve: (\S+)", proc.stdout.readline()).group(1)
    loop = asyncio.new_event_loop()
    try:
        with connect(url, token) as remote:
            for i in range(a.objects):
                remote.wake("Sockets", f"room{i}")
            remote.hibernate_all()
            gc.collect()
            base = rss(proc.pid)
            held = loop.run_until_complete(open_sockets(url, token, a.sockets, a.objects))
            remote.hibernate_all()
            stats = remote.stats()
            with_sockets = rss(proc.pid)
            assert stats["websockets"] == a.sockets and stats["live"] == 0, stats
            loop.run_until_complete(held[0].close())
    finally:
        proc.terminate()
        proc.wait(30)
        loop.close()
    per = (with_sockets - base) / a.sockets
    print(
        f"dotui serve: {a.sockets:,} open WebSockets on {a.objects} hibernated objects: "
        f"RSS {base / 2**20:.1f} MiB -> {with_sockets / 2**20:.1f} MiB, {per / 1024:.1f} KiB per socket"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
