"""Long-run soak of a real ``dotui serve``: flat memory, files and tasks under a mixed load, nothing lost.

    python bench/longrun.py --minutes 30 [--objects 120000] [--window 30] [--json]

One ``dotui serve`` (a subprocess, on a new data folder; the objects folder holds
bench/soak_objects.py) with a short ``--idle``, so objects hibernate between
their calls, under a bounded mix of loads, each one small function below:

- ``http_caller``: durable increments over keep-alive HTTP, most to the next
  object of a sweep over ``--objects`` names (every call wakes a hibernated
  object once the first lap is done), the rest to a few hot objects;
- ``websocket_member``: WebSocket clients joining a room, sending messages (each
  answered after its durable write) and leaving;
- ``alarm_setter``: alarms armed on objects that hibernate before they fire;
- ``reloader``: the objects folder's file rewritten, then ``POST /admin/reload``;
- ``repl_session``: ``dotui --connect URL --json -c ...`` runs, one write among them;
- ``tui_session``: a ``RemoteEngine`` (what ``dotui --connect`` opens in the TUI)
  subscribing to events and reading what the TUI's refresh reads;
- ``bad_request``: malformed heads, bad JSON, unknown routes, missing and wrong tokens.

Every window (``--window`` seconds) prints calls/s and p50/p99/p99.9 latency of
the HTTP calls, the server's CPU time per HTTP call (all its work over the HTTP
calls answered: it tells a slower server from a busier machine), its RSS, open files (``/proc/PID/fd``), asyncio tasks
(``asyncio_tasks`` of ``GET /admin/stats``; threads if the gateway does not
report them, and it says so), live/known objects, index and log bytes on disk,
5xx answers and failed requests.

Warm-up lasts until the sweep has touched every object once (and at least
``--warmup`` seconds): until then the index grows, as it should; and until the
backlog of changes not yet checkpointed is at its steady state (it held no more
than in the window before, or met its bound and commits waited for room): until
then it fills, and memory with it, as a bounded buffer does. The windows after
it are those that begin after it (the one it ends in still grew). The
last window's highest RSS, open files and tasks must be within ``--tolerance``
(default 10%) of the first post-warm-up window's (open files and tasks get a
slack of ``--slack`` on top: they move with the connections open at the instant).
It also prints the RSS growth per HTTP call between the two, a figure that does
not depend on how fast the shared machine let the run go.
Then the server is stopped (SIGTERM), started again on the same folder, and
every acknowledged write is read back. Exit status 1 if any check fails:
growth beyond the bound, a lost write, a 5xx (no method here raises), a request
that failed, or a stop that was not clean.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# bench/ goes last: a module here must never hide one of the standard library.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]
sys.path.insert(0, ROOT)

import aiohttp

from served import DOTUI, MB, Served, child_env, percentile

HOT = 32  # hot objects (stay live): the rest of the calls sweep
ROOMS = 8
WAKERS = 200
ROUND_OBJECTS = 2048  # objects one checkpoint round takes (DurableState.ROUND_OBJECTS): a backlog this small is settled
CALL_TIMEOUT = aiohttp.ClientTimeout(total=30)


# ================================================================ what the run holds
@dataclass
class Window:
    """What happened in one window: HTTP call latencies, and answers and failures by load kind."""

    latencies: list[float] = field(default_factory=list)
    done: dict[str, int] = field(default_factory=dict)  # load kind -> requests answered as expected
    failed: dict[str, int] = field(default_factory=dict)  # load kind -> requests failed (no answer, wrong answer)
    status5xx: int = 0
    held: int = 0  # most objects with committed changes not yet checkpointed (the backlog) seen in the window
    rss: int = 0
    files: int = 0
    tasks: int = 0
    warm: bool = False  # the warm-up was over when the window began: all of it is after warm-up


@dataclass
class Acks:
    """What each object was answered: the record the read-back checks."""

    counters: dict[str, int] = field(default_factory=dict)  # Counter name -> highest count answered
    rooms: dict[str, int] = field(default_factory=dict)  # Room name -> highest message answered
    wakers: dict[str, int] = field(default_factory=dict)  # Waker name -> highest arm answered

    @staticmethod
    def note(book: dict[str, int], name: str, value: int) -> None:
        if value > book.get(name, 0):
            book[name] = value

    def total_objects(self) -> int:
        return len(self.counters) + len(self.rooms) + len(self.wakers)


class Run:
    """One long run: the server, the deadline, the record, the current window, the failures seen."""

    def __init__(self, served: Served, args: argparse.Namespace, base: Path):
        self.served, self.args, self.base = served, args, base
        self.url, self.auth = served.url, {"Authorization": f"Bearer {served.token}"}
        self.deadline = time.monotonic() + args.minutes * 60
        self.acks = Acks()
        self.window = Window()
        self.sweep = 0  # the next object of the sweep
        self.seq = 1_000_000  # sequence numbers for rooms and wakers (they only grow)
        self.findings: list[str] = []
        self.totals: dict[str, int] = {}

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def ok(self, kind: str) -> None:
        self.window.done[kind] = self.window.done.get(kind, 0) + 1

    def failed(self, kind: str, what: str) -> None:
        self.window.failed[kind] = self.window.failed.get(kind, 0) + 1
        if len(self.findings) < 50:
            self.findings.append(f"{kind}: {what}")

    def status(self, kind: str, status: int, what: str) -> None:
        if status >= 500:
            self.window.status5xx += 1
            self.failed(kind, f"{status} for {what}")


# ================================================================ the loads, one function each
async def http_caller(run: Run) -> None:
    """Durable increments, one at a time on one keep-alive connection: 85% sweep, 15% hot objects."""
    async with aiohttp.ClientSession(timeout=CALL_TIMEOUT, connector=aiohttp.TCPConnector(limit=1)) as s:
        while run.running():
            if random.random() < 0.85:
                name, run.sweep = f"o{run.sweep % run.args.objects}", run.sweep + 1
            else:
                name = f"hot{random.randrange(HOT)}"
            t0 = time.perf_counter()
            try:
                async with s.post(f"{run.url}/objects/Counter/{name}/increment", headers=run.auth) as r:
                    body = await r.json(content_type=None)
                    run.status("http", r.status, f"Counter/{name}.increment")
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                run.failed("http", f"Counter/{name}.increment: {type(exc).__name__}: {exc}")
                continue
            if r.status == 200 and isinstance(body.get("result"), int):
                run.window.latencies.append(time.perf_counter() - t0)
                run.acks.note(run.acks.counters, name, body["result"])
                run.ok("http")
            elif r.status < 500:
                run.failed("http", f"Counter/{name}.increment answered {r.status}: {body}")


async def websocket_member(run: Run, k: int) -> None:
    """Join a room, send 20 messages (each echoed once its write is durable), leave; again."""
    async with aiohttp.ClientSession(timeout=CALL_TIMEOUT) as s:
        while run.running():
            room = f"r{random.randrange(ROOMS)}"
            try:
                async with s.ws_connect(f"{run.url}/ws/Room/{room}/", headers=run.auth, timeout=30) as ws:
                    for _ in range(20):
                        seq = run.next_seq()
                        await ws.send_str(str(seq))
                        msg = await ws.receive(timeout=30)
                        if msg.type != aiohttp.WSMsgType.TEXT or msg.data != str(seq):
                            run.failed("ws", f"Room/{room}: sent {seq}, got {msg.type.name} {msg.data!r}")
                            break
                        run.acks.note(run.acks.rooms, room, seq)
                    run.ok("ws")
            except (TimeoutError, aiohttp.ClientError) as exc:
                run.failed("ws", f"Room/{room}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.1 + 0.1 * k)


async def alarm_setter(run: Run) -> None:
    """Arm an alarm 0.05-3 s ahead on one of 200 objects (most hibernate before it fires), 5 a second."""
    async with aiohttp.ClientSession(timeout=CALL_TIMEOUT) as s:
        while run.running():
            name, seq = f"w{random.randrange(WAKERS)}", run.next_seq()
            try:
                async with s.post(
                    f"{run.url}/objects/Waker/{name}/arm",
                    headers=run.auth,
                    json={"args": [seq, random.uniform(0.05, 3.0)]},
                ) as r:
                    body = await r.json(content_type=None)
                    run.status("alarm", r.status, f"Waker/{name}.arm")
                if r.status == 200 and body.get("result") == seq:
                    run.acks.note(run.acks.wakers, name, seq)
                    run.ok("alarm")
                elif r.status < 500:
                    run.failed("alarm", f"Waker/{name}.arm answered {r.status}: {body}")
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                run.failed("alarm", f"Waker/{name}.arm: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.2)


async def reloader(run: Run) -> None:
    """Every ``--reload-every`` seconds: rewrite the objects file (same classes, a new comment), reload."""
    source = run.base / "objects" / "soak.py"
    original = source.read_text()
    n = 0
    async with aiohttp.ClientSession(timeout=CALL_TIMEOUT) as s:
        while run.running():
            await asyncio.sleep(run.args.reload_every)
            n += 1
            source.write_text(original + f"\n# reload {n}\n")
            try:
                async with s.post(f"{run.url}/admin/reload", headers=run.auth) as r:
                    body = await r.json(content_type=None)
                    run.status("reload", r.status, "POST /admin/reload")
                if r.status == 200 and body["result"] == []:
                    run.ok("reload")
                elif r.status < 500:
                    run.failed("reload", f"answered {r.status}: {body}")
            except (TimeoutError, aiohttp.ClientError, ValueError, KeyError, TypeError) as exc:
                run.failed("reload", f"{type(exc).__name__}: {exc}")


async def repl_session(run: Run) -> None:
    """Every 7 s: ``dotui --connect URL --json -c stats -c 'Counter/repl.increment()' -c 'ls Counter --live'``."""
    while run.running():
        await asyncio.sleep(7)
        proc = await asyncio.create_subprocess_exec(
            *DOTUI,
            "--connect",
            run.url,
            "--token",
            run.served.token,
            "--json",
            "-c",
            "stats",
            "-c",
            "Counter/repl.increment()",
            "-c",
            "ls Counter --live",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_env(),
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            run.failed("repl", "dotui --connect -c did not finish in 60 s")
            continue
        docs = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
        calls = [d for d in docs if d.get("command") == "call" and d.get("ok")]
        if proc.returncode != 0 or len(docs) != 3 or not calls:
            run.failed("repl", f"exit {proc.returncode}, {len(docs)} documents: {err.decode()[-300:]}")
            continue
        run.acks.note(run.acks.counters, "repl", calls[0]["result"])
        run.ok("repl")


def _tui_reads(url: str, token: str) -> None:
    """What the TUI's refresh asks of a remote engine (dotui/tui/snapshot.py), on one RemoteEngine."""
    from dotui.server import connect

    with connect(url, token=token) as engine:
        sub = engine.subscribe(maxlen=1000)
        engine.info()
        engine.namespaces()
        engine.stats()
        engine.count_instances()
        engine.instance_table("Counter")
        engine.websocket_counts()
        engine.instance("Counter", "hot0")
        engine.queue("Counter", "hot0")
        engine.history("Counter", "hot0", 30)
        time.sleep(1.0)
        sub.drain()
        sub.close()


async def tui_session(run: Run) -> None:
    """Every 11 s: a remote engine attaches as the TUI does, reads a refresh's worth, detaches."""
    while run.running():
        await asyncio.sleep(11)
        try:
            await asyncio.wait_for(asyncio.to_thread(_tui_reads, run.url, run.served.token), 120)
            run.ok("tui")
        except Exception as exc:  # noqa: BLE001 - any failure of a front end's reads is a finding
            run.failed("tui", f"{type(exc).__name__}: {exc}")


BAD_HEADS = [
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",  # no colon
    b"POST /objects/Counter/x/increment HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32) + b"\r\n\r\n",  # a TLS hello
    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # a very long request line
    b"FOO BAR\r\n\r\n",
]


async def _raw_answer(run: Run, head: bytes) -> int | None:
    """Send ``head`` on a new connection; the status line's code, or None if the server just closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", run.served.port)
    try:
        writer.write(head)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 30)
        return int(line.split()[1]) if line.startswith(b"HTTP/1.") else None
    finally:
        writer.close()


async def bad_request(run: Run) -> None:
    """Twice a second, one request that must get a 4xx (or a close, for a head that is not HTTP)."""
    async with aiohttp.ClientSession(timeout=CALL_TIMEOUT) as s:
        kinds = [
            ("bad JSON", lambda: s.post(f"{run.url}/objects/Counter/x/increment", headers=run.auth, data=b"{")),
            ("unknown route", lambda: s.get(f"{run.url}/nope/{random.random()}", headers=run.auth)),
            ("no token", lambda: s.post(f"{run.url}/objects/Counter/x/increment")),
            (
                "wrong token",
                lambda: s.post(f"{run.url}/objects/Counter/x/increment", headers={"Authorization": "Bearer wrong"}),
            ),
            ("unknown method", lambda: s.post(f"{run.url}/objects/Counter/x/nope", headers=run.auth)),
            (
                "bad arguments",
                lambda: s.post(f"{run.url}/objects/Counter/x/increment", headers=run.auth, json={"args": [1, 2, 3]}),
            ),
        ]
        while run.running():
            await asyncio.sleep(0.5)
            try:
                if random.random() < 0.4:
                    what, status = "malformed head", await _raw_answer(run, random.choice(BAD_HEADS))
                else:
                    what, request = random.choice(kinds)
                    async with request() as r:
                        await r.read()
                        status = r.status
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                run.failed("bad", f"{what}: {type(exc).__name__}: {exc}")
                continue
            if status is None or 400 <= status < 500:
                run.ok("bad")
            else:
                run.status("bad", status, what)
                if status < 500:
                    run.failed("bad", f"{what} answered {status}, not a 4xx")


# ================================================================ figures
def disk_bytes(data: Path) -> tuple[int, int]:
    """(index bytes, log bytes) in the data folder: index.json and its journal; log/*.log."""
    index = sum(p.stat().st_size for p in data.glob("index*") if p.is_file())
    log = sum(p.stat().st_size for p in (data / "log").glob("*.log"))
    return index, log


async def server_stats(run: Run, s: aiohttp.ClientSession) -> dict:
    async with s.get(f"{run.url}/admin/stats", headers=run.auth) as r:
        return (await r.json())["result"]


class Figures:
    """Samples the server every second; prints and keeps one row per window."""

    def __init__(self, run: Run):
        self.run = run
        self.rows: list[dict] = []
        self.cpu = run.served.cpu_seconds()
        self.tasks_from = "asyncio_tasks in /admin/stats"
        self.settled = False  # the backlog of changes not yet checkpointed stopped growing (or met its bound)

    def sample(self, stats: dict) -> None:
        w, served = self.run.window, self.run.served
        w.rss = max(w.rss, served.rss())
        w.files = max(w.files, served.open_files())
        w.held = max(w.held, stats.get("uncheckpointed_objects", 0))
        if "asyncio_tasks" in stats:
            w.tasks = max(w.tasks, stats["asyncio_tasks"])
        else:
            self.tasks_from = "threads (the gateway reports no asyncio task count)"
            w.tasks = max(w.tasks, served.threads())

    def close_window(self, t: float, seconds: float, stats: dict) -> dict:
        run, w = self.run, self.run.window
        self.settled = self.settled or backlog_settled(self.rows, w.held, stats)
        run.window = Window(warm=self.settled and run.sweep >= run.args.objects and t >= run.args.warmup)
        lat = sorted(w.latencies)
        index, log = disk_bytes(run.served.data)
        cpu, self.cpu = self.cpu, run.served.cpu_seconds()
        row = {
            "t": round(t),
            "calls": len(lat),
            "calls_per_s": round(len(lat) / seconds),
            "p50_ms": percentile(lat, 0.5) * 1000,
            "p99_ms": percentile(lat, 0.99) * 1000,
            "p999_ms": percentile(lat, 0.999) * 1000,
            "cpu_us_per_call": (self.cpu - cpu) / len(lat) * 1e6 if lat else 0.0,
            "rss_mb": w.rss / MB,
            "files": w.files,
            "tasks": w.tasks,
            "held": w.held,
            "backlog_waits": stats.get("backlog_waits", 0),
            "live": stats.get("live", 0),
            "known": stats.get("live", 0) + stats.get("hibernated", 0),
            "index_mb": index / MB,
            "log_mb": log / MB,
            "status5xx": w.status5xx,
            "failed": sum(w.failed.values()),
            "done": w.done,
            "warm": w.warm,
        }
        for k, n in w.done.items():
            run.totals[k] = run.totals.get(k, 0) + n
        self.rows.append(row)
        if not run.args.json:
            print(
                f"{row['t']:>5}s {row['calls_per_s']:>6,} calls/s  p50 {row['p50_ms']:6.1f}  p99 {row['p99_ms']:6.1f}"
                f"  p99.9 {row['p999_ms']:6.1f} ms  cpu {row['cpu_us_per_call']:4.0f} us/call"
                f"  rss {row['rss_mb']:6.1f} MB  files {row['files']:>4}"
                f"  tasks {row['tasks']:>4}  objects {row['known']:>7,} ({row['live']:,} live)"
                f"  backlog {row['held']:>6,}{' full' if row['backlog_waits'] else ''}"
                f"  index {row['index_mb']:5.1f} MB  log {row['log_mb']:5.1f} MB  5xx {row['status5xx']}"
                f"  failed {row['failed']}{'' if row['warm'] else '  (warm-up)'}",
                flush=True,
            )
        return row


async def sampler(run: Run, figures: Figures) -> None:
    t0 = last = time.monotonic()
    async with aiohttp.ClientSession(timeout=CALL_TIMEOUT) as s:
        stats: dict = {}
        while True:
            await asyncio.sleep(1.0)
            try:
                stats = await server_stats(run, s)
            except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as exc:
                run.failed("stats", f"GET /admin/stats: {type(exc).__name__}: {exc}")
            figures.sample(stats)
            now = time.monotonic()
            if now - last >= run.args.window or not run.running():
                figures.close_window(now - t0, now - last, stats)
                last = now
            if not run.running():
                return


def backlog_settled(rows: list[dict], held: int, stats: dict) -> bool:
    """Whether the backlog of objects with committed changes not yet checkpointed is at its steady
    state: it reached its bound (commits waited for room: ``backlog_waits``), held no more in this
    window than in the last, or no more than one checkpoint round takes (``ROUND_OBJECTS``). Until then it grows, as a buffer filling should, and so does memory with
    it (docs/trust.md, "Memory: every buffer and its bound")."""
    if stats.get("backlog_waits", 0) or held <= ROUND_OBJECTS:
        return True
    return bool(rows) and held <= rows[-1]["held"] * 1.05 + 256


def rss_slope(warm: list[dict]) -> float:
    """Bytes of RSS per HTTP call after warm-up: the least-squares slope of each window's RSS over the calls made
    so far (every window counts, so one window's count of live objects weighs less than in a first-to-last
    difference)."""
    xs, total = [], 0
    for r in warm:
        total += r["calls"]
        xs.append(total)  # the calls made by the end of the window whose highest RSS is ys[i]
    ys = [r["rss_mb"] * MB for r in warm]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False)) / var if var else 0.0


def flatness(rows: list[dict], tolerance: float, slack: int) -> dict:
    """The first post-warm-up window against the last: growth of RSS, open files and tasks, and the verdict."""
    warm = [r for r in rows if r["warm"]]
    if len(warm) < 2:
        return {"checked": False, "why": f"{len(warm)} window(s) after warm-up: the run is too short to judge"}
    first, last = warm[0], warm[-1]
    calls = sum(r["calls"] for r in warm[1:])
    out: dict = {
        "checked": True,
        "from_t": first["t"],
        "to_t": last["t"],
        "calls_between": calls,
        "rss_bytes_per_call": rss_slope(warm),
    }
    for key, extra in (("rss_mb", 0), ("files", slack), ("tasks", slack)):
        bound = first[key] * (1 + tolerance) + extra
        out[key] = {
            "first": first[key],
            "last": last[key],
            "max": max(r[key] for r in warm),
            "growth": (last[key] / first[key] - 1) if first[key] else 0.0,
            "bound": bound,
            "flat": last[key] <= bound,
        }
    return out


# ================================================================ the read-back
async def read_back(run: Run, served: Served) -> dict:
    """Every acknowledged write, read from a freshly started server: counts, room messages, alarms."""
    url, auth = served.url, {"Authorization": f"Bearer {served.token}"}
    lost: list[str] = []
    checked = 0

    async def value(s: aiohttp.ClientSession, ns: str, name: str, method: str):
        for attempt in range(5):
            try:
                async with s.post(f"{url}/objects/{ns}/{name}/{method}", headers=auth) as r:
                    if r.status == 200:
                        return (await r.json())["result"]
                    raise RuntimeError(f"{ns}/{name}.{method} answered {r.status}: {await r.text()}")
            except (TimeoutError, aiohttp.ClientError):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.5)

    async def check(s: aiohttp.ClientSession, items: list[tuple[str, str, int]]) -> None:
        nonlocal checked
        for ns, name, acked in items:
            if ns == "Waker":
                got = await wait_alarm(s, name)
                held = got.get("armed") or 0
            else:
                held = await value(s, ns, name, "peek")
            checked += 1
            if held < acked:
                lost.append(f"{ns}/{name}: answered {acked}, holds {held}")

    async def wait_alarm(s: aiohttp.ClientSession, name: str) -> dict:
        deadline = time.monotonic() + 15
        while True:
            got = await value(s, "Waker", name, "state")
            if (got.get("fired") == got.get("armed") and not got["alarm"]) or time.monotonic() > deadline:
                if got.get("fired") != got.get("armed"):
                    lost.append(f"Waker/{name}: armed {got.get('armed')} never fired (fired {got.get('fired')})")
                return got
            await asyncio.sleep(0.2)

    items = [("Counter", n, v) for n, v in run.acks.counters.items()]
    items += [("Room", n, v) for n, v in run.acks.rooms.items()] + [("Waker", n, v) for n, v in run.acks.wakers.items()]
    t0 = time.monotonic()
    async with aiohttp.ClientSession(timeout=CALL_TIMEOUT, connector=aiohttp.TCPConnector(limit=32)) as s:
        await asyncio.gather(*(check(s, items[k::32]) for k in range(32)))
    return {"checked": checked, "lost": len(lost), "examples": lost[:10], "seconds": time.monotonic() - t0}


# ================================================================ the run
async def drive(run: Run) -> Figures:
    figures = Figures(run)
    a = run.args
    loads = [http_caller(run) for _ in range(a.http_clients)]
    loads += [websocket_member(run, k) for k in range(a.ws_clients)]
    loads += [alarm_setter(run), reloader(run), repl_session(run), tui_session(run), bad_request(run)]
    tasks = [asyncio.ensure_future(load) for load in loads]
    await sampler(run, figures)
    # Loads end at the deadline, each after its request in flight; a long one is cut (not counted either way).
    done, pending = await asyncio.wait(tasks, timeout=90)
    for t in pending:
        t.cancel()
    for t in done:
        if t.exception() is not None:
            run.failed("harness", f"a load stopped: {type(t.exception()).__name__}: {t.exception()}")
    return figures


def judge(report: dict) -> list[str]:
    """Every failed check, in words; empty when the run passed."""
    bad = []
    flat = report["flatness"]
    if not flat["checked"]:
        bad.append(flat["why"])
    for key in ("rss_mb", "files", "tasks"):
        if flat.get(key) and not flat[key]["flat"]:
            f = flat[key]
            bad.append(
                f"{key} grew {f['growth']:+.0%} after warm-up ({f['first']:.1f} -> {f['last']:.1f}; "
                f"bound {f['bound']:.1f})"
            )
    if report["status5xx"]:
        bad.append(f"{report['status5xx']} 5xx answers")
    if report["failed"]:
        bad.append(f"{report['failed']} requests failed")
    if report["stop_status"] != 0:
        bad.append(f"the server's stop was not clean (exit status {report['stop_status']})")
    if report["read_back"]["lost"]:
        bad.append(f"{report['read_back']['lost']} acknowledged writes lost")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--objects", type=int, default=120_000, help="distinct objects in the sweep (default 120,000)")
    ap.add_argument("--idle", type=float, default=1.0, help="the server's --idle: hibernate after this (default 1 s)")
    ap.add_argument("--window", type=float, default=30.0, help="seconds per printed window (default 30)")
    ap.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="at least this many seconds of warm-up, and until the sweep has touched every object",
    )
    ap.add_argument("--tolerance", type=float, default=0.10, help="allowed growth after warm-up (default 0.10)")
    ap.add_argument("--slack", type=int, default=4, help="allowed extra open files and tasks (default 4)")
    ap.add_argument("--http-clients", type=int, default=12)
    ap.add_argument("--ws-clients", type=int, default=3)
    ap.add_argument("--reload-every", type=float, default=15.0)
    ap.add_argument("--serve-arg", action="append", default=[], help="one more argument for dotui serve (repeat)")
    ap.add_argument("--base", help="work folder (default: a new temporary one, removed after a passing run)")
    ap.add_argument("--json", action="store_true", help="print the windows and the verdict as one JSON document")
    args = ap.parse_args()

    base = Path(args.base) if args.base else Path(tempfile.mkdtemp(prefix="dotui-longrun-"))
    (base / "objects").mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(HERE) / "soak_objects.py", base / "objects" / "soak.py")
    data = base / "data"
    served = Served(base / "objects", data, idle=args.idle, extra=args.serve_arg)
    if not args.json:
        print(
            f"dotui serve pid {served.pid} at {served.url}; data {data}; {args.minutes:g} min, "
            f"{args.objects:,} objects in the sweep, --idle {args.idle:g}",
            flush=True,
        )
    run = Run(served, args, base)
    try:
        figures = asyncio.run(drive(run))
        stop_status = served.stop()
    finally:
        if served.alive():
            served.kill()
    restarted = Served(base / "objects", data, idle=args.idle, extra=args.serve_arg)
    try:
        back = asyncio.run(read_back(run, restarted))
    finally:
        restarted.stop()
    report = {
        "minutes": args.minutes,
        "objects": args.objects,
        "windows": figures.rows,
        "tasks_from": figures.tasks_from,
        "flatness": flatness(figures.rows, args.tolerance, args.slack),
        "totals": run.totals,
        "objects_written": run.acks.total_objects(),
        "sweep_calls": run.sweep,
        "status5xx": sum(r["status5xx"] for r in figures.rows),
        "failed": sum(r["failed"] for r in figures.rows),
        "findings": run.findings[:20],
        "stop_status": stop_status,
        "restart_seconds": restarted.started_in,
        "read_back": back,
        "server_stderr": served.stderr_tail(1500),
    }
    report["verdict"] = judge(report)
    if args.json:
        print(json.dumps(report))
    else:
        print_verdict(report)
    if not report["verdict"] and not args.base:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if report["verdict"] else 0


def print_verdict(report: dict) -> None:
    flat = report["flatness"]
    print(f"\ntasks counted from: {report['tasks_from']}")
    print("answered by load kind: " + ", ".join(f"{k} {n:,}" for k, n in sorted(report["totals"].items())))
    print(
        f"objects written {report['objects_written']:,}; sweep calls {report['sweep_calls']:,}; "
        f"restart took {report['restart_seconds']:.1f} s"
    )
    if flat["checked"]:
        for key, unit in (("rss_mb", " MB"), ("files", ""), ("tasks", "")):
            f = flat[key]
            print(
                f"{key:>7}: {f['first']:.1f}{unit} at {flat['from_t']} s -> {f['last']:.1f}{unit} at {flat['to_t']} s "
                f"({f['growth']:+.1%}, bound {f['bound']:.1f}): {'flat' if f['flat'] else 'GREW'}"
            )
        print(
            f"RSS growth per HTTP call after warm-up: {flat['rss_bytes_per_call']:+,.0f} bytes "
            f"({flat['calls_between']:,} calls)"
        )
    rb = report["read_back"]
    print(f"read back after a clean restart: {rb['checked']:,} objects in {rb['seconds']:.1f} s, {rb['lost']} lost")
    print(f"5xx {report['status5xx']}, failed requests {report['failed']}, stop status {report['stop_status']}")
    for line in report["findings"][:10] + rb["examples"]:
        print("  " + line)
    print("PASS" if not report["verdict"] else "FAIL: " + "; ".join(report["verdict"]))


if __name__ == "__main__":
    sys.exit(main())
