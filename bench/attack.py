"""Hostile clients against a real ``dotui serve``: what each attack makes the server hold, and who still gets in.

    python bench/attack.py [--quick | --minutes M] [--only NAME ...] [--close-within SECONDS] [--json]

Each attack gets a fresh ``dotui serve`` (one data folder for all of them) started
under ``ulimit -n 1024`` (``RLIMIT_NOFILE`` set in the child before it starts).
Once the attack's set-up is done the server's idle RSS is read, its peak is
reset, and a token holder starts calling ``Counter/holder.increment`` on a new
connection every 100 ms. Then the attack, one small function each:

- ``pipelined_no_read``: pipelined ``ChatRoom.read`` calls (answers of ~8 MB
  each) on a connection whose client never reads;
- ``idle_and_half_sent``: 2,000 connections without a token, half of them idle,
  half with a request head that never ends;
- ``slow_websocket_readers``: members of a busy ChatRoom (filled with 2,000 posts
  first, so its own storage is in the idle figure) that never read their socket, while other clients post 16 KB messages as fast as they are answered;
- ``fragment_flood``: WebSockets each sending an unfinished 1 MB text fragment
  and nothing more;
- ``oversized_heads``: request heads with a 64 KB header line, 1 MB of header
  lines, 10,000 headers, a 1 MB request line, many connections at once;
- ``smuggling_heads``: heads aiohttp refuses (duplicate Content-Length,
  obs-fold, a space before the colon, bare LF, NUL, no Host, CL with TE), each
  hiding a second request that would increment a counter.

For each it prints the server's peak RSS over idle, the token holder's slowest
call (a call that fails or takes 10 s counts as failed), and whether every
attack connection was closed by the server within the timeout (read from
``dotui serve --help``: the flags whose name says timeout; ``--close-within``
overrides; with none documented it waits ``--grace`` seconds and says so);
then what the server still holds once the attacker has gone, and its stderr
growth. Attack connections are watched without reading them (the socket's TCP
state: the server's FIN or RST). At the end a last server reads back every
acknowledged write (the holder's increments, the busy room's posts).

Targets, printed beside the figures: RSS at most +100 MB over idle, the token
holder answered within 1 s, every attack connection closed within the timeout,
0 acknowledged writes lost. Exit status 1 if any target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# bench/ goes last: a module here must never hide one of the standard library.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]
sys.path.insert(0, ROOT)

import aiohttp

from bench_objects import write_counter
from dotui.examples import OBJECTS as BUNDLED_OBJECTS
from served import MB, Served, raise_own_file_limit, serve_flags

RSS_TARGET_MB = 100
HOLDER_TARGET_S = 1.0
HOLDER_CAP_S = 10.0  # a holder's call not answered by then is failed
SERVER_NOFILE = 1024
TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8  # linux tcp_states.h: the peer reset, or sent its FIN
SERVER_CLOSING = {4, 5, 6, 7, 9, 11}  # FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, LAST_ACK, CLOSING


def server_states(port: int) -> dict[int, int]:
    """``{client port: TCP state}`` of the server's ends of connections to ``port`` on 127.0.0.1 (/proc/net/tcp)."""
    states = {}
    local = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[1] == local and parts[2].startswith("0100007F:"):
                states[int(parts[2][9:], 16)] = int(parts[3], 16)
    return states


@dataclass
class Scale:
    hold: float  # seconds each attack is held before the closing check
    # Seconds beyond the timeout to wait for the server to close attack connections. The wait ends as soon as all are
    # closed, so a long grace costs nothing when the server is quick; it is long in the quick (CI) scale because there
    # the check is that the server closes them at all, on a machine that may be running other tests at once (250
    # connections of 1 MB fragments: 219 of 250 were closed 3 s past the timeout at a load average of 8).
    grace: float
    pipelined: int
    flood: int
    slow_readers: int
    fragments: int
    oversized: int


QUICK = Scale(hold=5, grace=20, pipelined=30, flood=2000, slow_readers=25, fragments=250, oversized=30)
FULL = Scale(hold=30, grace=10, pipelined=200, flood=2000, slow_readers=25, fragments=400, oversized=200)


# ================================================================ one attack's context
@dataclass
class Outcome:
    name: str
    what: str = ""
    idle_mb: float = 0.0
    peak_mb: float = 0.0
    held_after_mb: float = 0.0
    holder_calls: int = 0
    holder_failed: int = 0
    holder_max_s: float = 0.0
    attack_conns: int = 0
    closed: int = 0
    closed_within: float | None = None  # the timeout the closing was checked against (None: none documented)
    stderr_kb: float = 0.0
    server_died: str | None = None
    extra: dict = field(default_factory=dict)

    def checks(self) -> dict[str, bool]:
        c = {
            "rss": self.peak_mb - self.idle_mb <= RSS_TARGET_MB,
            "holder": self.holder_failed == 0 and self.holder_max_s <= HOLDER_TARGET_S,
            "closed": self.closed == self.attack_conns,
            "alive": self.server_died is None,
        }
        if "shapes" in self.extra:
            c["refused"] = self.extra["refused"] == self.extra["shapes"] and self.extra.get("smuggled", 0) == 0
        return c


class Attack:
    """A running server, the attacker's sockets, the token holder and the RSS sampler of one attack."""

    def __init__(self, run: Run, served: Served, outcome: Outcome):
        self.run, self.served, self.outcome = run, served, outcome
        self.url, self.port = served.url, served.port
        self.auth = {"Authorization": f"Bearer {served.token}"}
        self.token = served.token
        self.sockets: list[socket.socket] = []
        self._closed_at: dict[int, float] = {}
        self._tasks: list[asyncio.Task] = []
        self._peak = 0
        self._holder_since: float | None = None  # when the holder's call in flight was sent
        self._holder_thread: threading.Thread | None = None
        self._holder_loop: asyncio.AbstractEventLoop | None = None
        self._holder_task: asyncio.Task | None = None
        self._holder_stop = threading.Event()
        self.started = 0.0

    # ------------------------------------------------------------ the attack's phases
    async def begin(self, what: str) -> None:
        """The set-up is done: read idle RSS, reset the peak, start the token holder and the sampler."""
        self.outcome.what = what
        await asyncio.sleep(0.5)
        self.outcome.idle_mb = self.served.rss() / MB
        try:
            self.served.reset_peak()
        except OSError:
            pass
        self._peak = self.served.rss()
        self.started = time.monotonic()
        self._tasks = [asyncio.ensure_future(self._sample())]
        self._start_holder()

    async def hold(self) -> None:
        """Keep the attack on for the scale's hold time."""
        await asyncio.sleep(max(0.0, self.run.scale.hold - (time.monotonic() - self.started)))

    async def finish(self) -> None:
        """Wait for the server to close the attack connections, stop the holder, let the attacker go."""
        o = self.outcome
        o.closed_within = self.run.close_within
        wait = (self.run.close_within or 0) + self.run.scale.grace
        deadline = self.started + self.run.scale.hold + wait
        while time.monotonic() < deadline and len(self._closed()) < len(self.sockets):
            await asyncio.sleep(0.25)
        o.attack_conns, o.closed = len(self.sockets), len(self._closed())
        since = self._stop_holder()
        if since is not None:  # a call unanswered within the holder's cap: failed, its wait so far
            o.holder_calls += 1
            o.holder_failed += 1
            o.holder_max_s = max(o.holder_max_s, time.monotonic() - since)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        o.peak_mb = max(self._peak, self._hwm()) / MB
        for s in self.sockets:
            s.close()
        await asyncio.sleep(2.0)
        if self.served.alive():
            o.held_after_mb = self.served.rss() / MB - o.idle_mb

    # ------------------------------------------------------------ the attacker's sockets
    async def connect(self, rcvbuf: int | None = None, timeout: float = 5.0) -> socket.socket | None:
        """A raw TCP connection to the gateway (kept, and watched for the server closing it); None if refused."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setblocking(False)
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", self.port)), timeout)
        except (TimeoutError, OSError):
            s.close()
            return None
        self.sockets.append(s)
        return s

    async def send(self, s: socket.socket, data: bytes) -> bool:
        """Send all of ``data`` (False if the server closed or reset the connection first)."""
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_sendall(s, data), 30)
            return True
        except (TimeoutError, OSError):
            return False

    async def websocket(self, path: str, rcvbuf: int | None = None) -> socket.socket | None:
        """A raw WebSocket: the handshake read, nothing after it ever read."""
        s = await self.connect(rcvbuf)
        if s is None:
            return None
        key = base64.b64encode(os.urandom(16)).decode()
        await self.send(
            s,
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {self.token}\r\n\r\n"
            ).encode(),
        )
        head = b""
        loop = asyncio.get_running_loop()
        while b"\r\n\r\n" not in head:
            chunk = await asyncio.wait_for(loop.sock_recv(s, 1), 10)  # a byte at a time: no frame after it is read
            if not chunk:
                return None
            head += chunk
        return s if head.startswith(b"HTTP/1.1 101") else None

    def open_count(self) -> int:
        """How many attack sockets the server has not closed yet."""
        return len(self.sockets) - len(self._closed())

    def _closed(self) -> list[socket.socket]:
        """The attack sockets the server has closed: the client saw its FIN or RST, or the server's end of the
        connection is closing (``/proc/net/tcp``: a server that closes a connection whose client reads nothing
        frees its file, but its FIN waits behind the unsent bytes, so the client never sees it)."""
        now = time.monotonic()
        server_side = server_states(self.port)
        out = []
        for s in self.sockets:
            if s.fileno() < 0:
                continue
            if id(s) not in self._closed_at:
                client = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
                server = server_side.get(s.getsockname()[1])
                if client in (TCP_CLOSE, TCP_CLOSE_WAIT) or server in SERVER_CLOSING:
                    self._closed_at[id(s)] = now
            if id(s) in self._closed_at:
                out.append(s)
        return out

    # ------------------------------------------------------------ what is measured meanwhile
    def _start_holder(self) -> None:
        """The token holder runs in a thread with its own loop, as a real client is another program: its
        head goes out the moment it connects, however busy the attacker's loop is (so its latency is the
        server's, not this harness's)."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._holder_loop, self._holder_task = loop, loop.create_task(self._token_holder())
            ready.set()
            try:
                loop.run_until_complete(self._holder_task)
            except asyncio.CancelledError:
                pass
            finally:
                loop.close()

        self._holder_thread = threading.Thread(target=run, name="token holder", daemon=True)
        self._holder_thread.start()
        ready.wait(10)

    def _stop_holder(self) -> float | None:
        """Let the holder's call in flight end (it times out after HOLDER_CAP_S), then stop it; when the
        call still unanswered was sent, or None."""
        self._holder_stop.set()
        self._holder_thread.join(HOLDER_CAP_S + 10)
        since = self._holder_since
        if self._holder_thread.is_alive():  # its call outlived the cap and the join: cut it
            self._holder_loop.call_soon_threadsafe(self._holder_task.cancel)
            self._holder_thread.join(10)
        return since

    async def _token_holder(self) -> None:
        o, timeout = self.outcome, aiohttp.ClientTimeout(total=HOLDER_CAP_S)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(force_close=True)) as s:
            while not self._holder_stop.is_set():
                t0 = self._holder_since = time.monotonic()
                try:
                    async with s.post(f"{self.url}/objects/Counter/holder/increment", headers=self.auth) as r:
                        body = await r.json(content_type=None)
                    if r.status != 200:
                        raise RuntimeError(f"answered {r.status}: {body}")
                    self.run.note_holder(body["result"])
                except (TimeoutError, aiohttp.ClientError, RuntimeError, ValueError) as exc:
                    o.holder_failed += 1
                    errors = o.extra.setdefault("holder_errors", [])
                    if len(errors) < 3:
                        errors.append(f"after {time.monotonic() - self.started:.1f} s: {type(exc).__name__}: {exc}")
                self._holder_since = None
                o.holder_calls += 1
                o.holder_max_s = max(o.holder_max_s, time.monotonic() - t0)
                await asyncio.sleep(0.1)

    async def _sample(self) -> None:
        while True:
            try:
                self._peak = max(self._peak, self.served.rss())
            except (OSError, ValueError):
                return  # the server is gone
            await asyncio.sleep(0.05)

    def _hwm(self) -> int:
        try:
            return self.served.peak_rss()
        except OSError:
            return 0


# ================================================================ the attacks, one function each
async def call(a: Attack, ns: str, name: str, method: str, *args) -> object:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{a.url}/objects/{ns}/{name}/{method}", headers=a.auth, json={"args": list(args)}) as r:
            body = await r.json()
            if r.status != 200:
                raise RuntimeError(f"{ns}/{name}.{method} answered {r.status}: {body}")
            return body["result"]


def post_head(target: str, body: bytes, token: str, extra: str = "") -> bytes:
    return (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def pipelined_no_read(a: Attack) -> None:
    """Pipelined ChatRoom.read calls, ~8 MB answers each, on one connection whose client never reads."""
    async with aiohttp.ClientSession() as s:  # the set-up: a room holding 1,000 messages of 8 KB
        await call(a, "ChatRoom", "big", "join", "a")
        text = "x" * 8000
        for _ in range(0, 1000, 50):
            await asyncio.gather(
                *(
                    s.post(f"{a.url}/objects/ChatRoom/big/post", headers=a.auth, json={"args": ["a", text]})
                    for _ in range(50)
                )
            )
    n = a.run.scale.pipelined
    await a.begin(f"{n} pipelined ChatRoom.read calls (~8 MB answers) the client never reads")
    sock = await a.connect(rcvbuf=4096)
    one = post_head("/objects/ChatRoom/big/read", b'{"args": [0, 1000]}', a.token)
    await a.send(sock, one * n)
    a.outcome.extra["sent_kb"] = round(len(one) * n / 1024, 1)
    await a.hold()


async def idle_and_half_sent(a: Attack) -> None:
    """2,000 connections with no token: half idle, half in the middle of a request head that never ends."""
    n = a.run.scale.flood
    await a.begin(
        f"{n:,} connections without a token, half idle, half half-sent, server under ulimit -n {SERVER_NOFILE}"
    )
    stderr0 = a.served.stderr_bytes()
    half = b"POST /objects/Counter/x/increment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le"
    socks = []
    for _ in range(0, n, 50):  # 50 at a time: a flood of files, not of SYNs (the listen backlog is the kernel's)
        socks += await asyncio.gather(*(a.connect(timeout=3.0) for _ in range(50)))
        await asyncio.sleep(0.02)
    socks = socks[:n]
    await asyncio.gather(*(a.send(s, half) for s in socks[1::2] if s is not None))
    refused = socks.count(None)
    a.outcome.extra.update(connected=n - refused, not_connected_in_3_s=refused)
    await a.hold()
    a.outcome.extra["stderr_kb_during"] = round((a.served.stderr_bytes() - stderr0) / 1024, 1)


async def slow_websocket_readers(a: Attack) -> None:
    """Members of a busy ChatRoom who never read, while a poster's 4 KB messages go to every member."""
    await call(a, "ChatRoom", "busy", "join", "poster")
    text = "y" * 16000
    async with aiohttp.ClientSession() as s:  # the set-up: the room at its steady size (it keeps 1,000 posts)
        for _ in range(0, 2000, 50):
            await asyncio.gather(
                *(
                    s.post(f"{a.url}/objects/ChatRoom/busy/post", headers=a.auth, json={"args": ["poster", text]})
                    for _ in range(50)
                )
            )
    await a.begin(f"{a.run.scale.slow_readers} ChatRoom members that never read; 16 KB posts as fast as answered")
    for k in range(a.run.scale.slow_readers):
        await a.websocket(f"/ws/ChatRoom/busy/?user=slow{k}", rcvbuf=4096)
    posted = 0
    # The readers are closed once their send queues pass the bound, so how soon depends on how fast posts are
    # answered: on a busy machine 5 s of posting did not fill them. Post for the hold time, then on until every
    # reader is closed or the grace is over (the closing check waits no longer than that either).
    hold_until = a.started + a.run.scale.hold
    deadline = hold_until + (a.run.close_within or 0) + a.run.scale.grace
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HOLDER_CAP_S)) as s:

        def posting() -> bool:
            now = time.monotonic()
            return now < hold_until or (now < deadline and a.open_count() > 0)

        async def poster() -> None:
            nonlocal posted
            while posting():
                try:
                    async with s.post(
                        f"{a.url}/objects/ChatRoom/busy/post", headers=a.auth, json={"args": ["poster", text]}
                    ) as r:
                        body = await r.json(content_type=None)
                    if r.status == 200:
                        a.run.note_post(body["result"])
                        posted += 1
                except (TimeoutError, aiohttp.ClientError, ValueError):
                    await asyncio.sleep(0.1)

        await asyncio.gather(*(poster() for _ in range(4)))
    a.outcome.extra["posts_answered"] = posted
    await a.hold()


async def fragment_flood(a: Attack) -> None:
    """WebSockets each sending one unfinished 1 MB text fragment (FIN clear), then nothing."""
    n, size = a.run.scale.fragments, 1_000_000
    await a.begin(f"{n} WebSockets each holding an unfinished {size // 1000} KB fragment")
    key = os.urandom(4)
    payload = b"f" * size
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key * (size // 4), "big")).to_bytes(size, "big")
    frame = struct.pack("!BBQ", 0x01, 0x80 | 127, size) + key + masked  # opcode text, FIN clear, masked
    sent = 0
    for k in range(n):
        s = await a.websocket(f"/ws/ChatRoom/frag/?user=f{k}")
        if s is not None and await a.send(s, frame):
            sent += 1
    a.outcome.extra["fragments_sent"] = sent
    await a.hold()


OVERSIZED = {
    "64 KB header line": lambda tok: post_head("/objects/Counter/o/noop", b"", tok, "X-Big: " + "b" * 65536 + "\r\n"),
    "1 MB of header lines": lambda tok: post_head(
        "/objects/Counter/o/noop", b"", tok, "".join(f"X-H{i}: {'h' * 1000}\r\n" for i in range(1000))
    ),
    "10,000 headers": lambda tok: post_head(
        "/objects/Counter/o/noop", b"", tok, "".join(f"X-{i}: v\r\n" for i in range(10000))
    ),
    "1 MB request line": lambda tok: post_head("/objects/Counter/o/noop?" + "q" * 1_000_000, b"", tok),
}


async def read_answers(a: Attack, s: socket.socket, quiet: float = 1.0) -> tuple[list[int], bool]:
    """Read what the server answers on ``s`` until it closes or is quiet: (statuses, closed by the server)."""
    loop, data = asyncio.get_running_loop(), b""
    closed = False
    while True:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(s, 65536), quiet)
        except TimeoutError:
            break
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    statuses = [int(line.split()[1]) for line in data.split(b"\r\n") if re.match(rb"HTTP/1\.[01] \d{3}", line)]
    return statuses, closed


async def oversized_heads(a: Attack) -> None:
    """Heads far past any sane size, from many connections at once; each must get a 4xx and a close."""
    n = a.run.scale.oversized
    await a.begin(f"{n} connections at once with each of: " + ", ".join(OVERSIZED))
    answers: dict[str, list] = {}
    refused = 0  # shapes every connection of which got a 4xx (or a reset) and was closed
    for shape, make in OVERSIZED.items():
        head = make(a.token)
        socks = [s for s in [await a.connect() for _ in range(n)] if s is not None]
        await asyncio.gather(*(a.send(s, head) for s in socks))
        got = await asyncio.gather(*(read_answers(a, s, quiet=3.0) for s in socks))
        answers[shape] = sorted(
            {
                f"{st[0]}" + (" and closed" if closed else "")
                if st
                else ("closed, no answer" if closed else "no answer")
                for st, closed in got
            }
        )
        refused += all(closed and (not st or 400 <= st[0] < 500) for st, closed in got)
    a.outcome.extra.update(shapes=len(OVERSIZED), refused=refused, answers=answers)
    await a.hold()


def hidden(token: str, shape: str) -> bytes:
    return post_head(f"/objects/Counter/smuggled-{shape}/increment", b"", token)


def noop_head(token: str, fields: list[str], *, host: bool = True, eol: str = "\r\n") -> bytes:
    """A ``Counter/s.noop`` call's head with the token and ``fields``; ``host``, ``eol``: what a shape bends."""
    lines = [
        "POST /objects/Counter/s/noop HTTP/1.1",
        *(["Host: 127.0.0.1"] if host else []),
        f"Authorization: Bearer {token}",
        *fields,
    ]
    return (eol.join(lines) + eol + eol).encode()


SMUGGLING = {
    "duplicate Content-Length": lambda tok, h: noop_head(tok, [f"Content-Length: {len(h)}", "Content-Length: 0"]) + h,
    "obs-fold": lambda tok, h: noop_head(tok, ["Content-Length: 0", "X-Fold: a", f" Content-Length: {len(h)}"]) + h,
    "space before the colon": lambda tok, h: noop_head(tok, ["Content-Length : 0", f"Content-Length: {len(h)}"]) + h,
    "bare LF": lambda tok, h: noop_head(tok, ["Content-Length: 0"], eol="\n") + h,
    "NUL in a value": lambda tok, h: noop_head(tok, ["X-Nul: a\x00b", "Content-Length: 0"]) + h,
    "no Host": lambda tok, h: noop_head(tok, ["Content-Length: 0"], host=False) + h,
    "Content-Length with chunked": lambda tok, h: (
        noop_head(tok, ["Content-Length: 5", "Transfer-Encoding: chunked"]) + b"0\r\n\r\n" + h
    ),
}


async def smuggling_heads(a: Attack) -> None:
    """Heads aiohttp refuses, each hiding a second request: each must get one 400 and a close, and nothing may run."""
    await a.begin(f"{len(SMUGGLING)} request-smuggling shapes: " + ", ".join(SMUGGLING))
    verdicts, refused, smuggled = {}, 0, 0
    for shape, make in SMUGGLING.items():
        tag = shape.replace(" ", "-")
        s = await a.connect()
        await a.send(s, make(a.token, hidden(a.token, tag)))
        statuses, closed = await read_answers(a, s)
        ran = await call(a, "Counter", f"smuggled-{tag}", "peek")
        verdicts[shape] = {"answers": statuses, "closed": closed, "hidden request ran": bool(ran)}
        refused += statuses == [400] and closed
        smuggled += bool(ran)
    a.outcome.extra.update(shapes=len(SMUGGLING), refused=refused, smuggled=smuggled, verdicts=verdicts)
    await a.hold()


ATTACKS = {
    "pipelined_no_read": pipelined_no_read,
    "idle_and_half_sent": idle_and_half_sent,
    "slow_websocket_readers": slow_websocket_readers,
    "fragment_flood": fragment_flood,
    "oversized_heads": oversized_heads,
    "smuggling_heads": smuggling_heads,
}


# ================================================================ the run
class Run:
    """The attacks in turn on one data folder, and the acknowledged writes to read back at the end."""

    def __init__(self, args: argparse.Namespace, base: Path):
        self.args, self.base = args, base
        self.scale = QUICK if args.quick else FULL
        if args.minutes:
            self.scale = Scale(**{**FULL.__dict__, "hold": max(5.0, args.minutes * 60 / len(ATTACKS) - 10)})
        self.objects, self.data = base / "objects", base / "data"
        write_counter(str(self.objects))
        shutil.copy(Path(BUNDLED_OBJECTS) / "chat_room.py", self.objects / "chat_room.py")
        self.serve_args, self.close_within, self.timeouts = self._bounds(args)
        self.holder = 0  # the highest count the token holder was answered
        self.posts = 0  # the highest message number the busy room answered

    def _bounds(self, args: argparse.Namespace) -> tuple[list[str], float | None, dict]:
        """The timeouts ``dotui serve --help`` documents; in --quick each is set to 2 s so a minute can check them."""
        timeouts = {f: d for f, d in serve_flags().items() if "timeout" in f}
        serve_args = list(args.serve_arg)
        used: list[float] = []
        for flag, default in timeouts.items():
            if args.quick:
                serve_args += [flag, "2"]
                used.append(2.0)
            elif default is not None:
                used.append(float(default))
        close_within = args.close_within if args.close_within is not None else (max(used) if used else None)
        return serve_args, close_within, timeouts

    def note_holder(self, n: int) -> None:
        self.holder = max(self.holder, n)

    def note_post(self, seq: int) -> None:
        self.posts = max(self.posts, seq)

    async def attack(self, name: str) -> Outcome:
        outcome = Outcome(name)
        served = Served(self.objects, self.data, idle=10, extra=self.serve_args, nofile=SERVER_NOFILE)
        a = Attack(self, served, outcome)
        stderr0 = 0
        try:
            await ATTACKS[name](a)
            await a.finish()
        except Exception as exc:  # noqa: BLE001 - a harness failure mid-attack is reported with the attack
            outcome.extra["harness_error"] = f"{type(exc).__name__}: {exc}"
            for s in a.sockets:
                s.close()
        finally:
            if not served.alive():
                outcome.server_died = f"exit status {served.proc.returncode}: {served.stderr_tail(400)}"
            outcome.stderr_kb = round((served.stderr_bytes() - stderr0) / 1024, 1)
            status = served.stop()
            if status not in (0, None) and outcome.server_died is None:
                outcome.extra["stop_status"] = status
            elif status is None:
                outcome.server_died = "did not stop within 60 s of SIGTERM (killed)"
        return outcome

    async def read_back(self) -> dict:
        served = Served(self.objects, self.data, idle=10)
        a = Attack(self, served, Outcome("read back"))
        try:
            held = await call(a, "Counter", "holder", "peek")
            lost = [f"Counter/holder: answered {self.holder}, holds {held}"] if held < self.holder else []
            if self.posts:
                last = await call(a, "ChatRoom", "busy", "read", self.posts - 1, 1)
                if not last or last[0]["seq"] != self.posts:
                    lost.append(f"ChatRoom/busy: post {self.posts} was answered, the room does not hold it")
        finally:
            served.stop()
        return {"holder_acked": self.holder, "holder_held": held, "posts_acked": self.posts, "lost": lost}


def print_outcome(o: Outcome) -> None:
    c = o.checks()

    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print(f"\n== {o.name}: {o.what}")
    print(
        f"   server RSS   idle {o.idle_mb:,.0f} MB, peak {o.peak_mb:,.0f} MB: {o.peak_mb - o.idle_mb:+,.0f} MB"
        f"{'':8}target <= +{RSS_TARGET_MB} MB  {mark(c['rss'])}"
    )
    print(
        f"   token holder slowest {o.holder_max_s:.2f} s over {o.holder_calls} calls, {o.holder_failed} failed"
        f"{'':4}target <= {HOLDER_TARGET_S:g} s, none failed  {mark(c['holder'])}"
    )
    within = f"{o.closed_within:g} s" if o.closed_within is not None else "no timeout documented"
    print(
        f"   attack connections closed by the server: {o.closed:,} of {o.attack_conns:,} ({within})"
        f"{'':4}target: all, within the timeout  {mark(c['closed'])}"
    )
    if "refused" in c:
        print(
            f"   shapes refused (a 4xx and a close): {o.extra['refused']} of {o.extra['shapes']}, hidden requests "
            f"run: {o.extra.get('smuggled', 0)}{'':4}target: all refused, none run  {mark(c['refused'])}"
        )
    print(f"   after the attacker left: {o.held_after_mb:+,.0f} MB over idle; stderr {o.stderr_kb:,.1f} KB")
    for k, v in o.extra.items():
        print(f"   {k}: {v}")
    if o.server_died:
        print(f"   THE SERVER DIED: {o.server_died}")


async def run_all(run: Run) -> dict:
    outcomes = []
    for name in run.args.only or ATTACKS:
        o = await run.attack(name)
        if not run.args.json:
            print_outcome(o)
        outcomes.append(o)
    back = await run.read_back()
    return {
        "scale": run.scale.__dict__,
        "timeouts_documented": run.timeouts,
        "close_within": run.close_within,
        "serve_args": run.serve_args,
        "attacks": [{**o.__dict__, "checks": o.checks()} for o in outcomes],
        "read_back": back,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the one-minute form (CI: tests/test_attack.py)")
    ap.add_argument("--minutes", type=float, help="hold each attack so the whole run takes about this long")
    ap.add_argument("--only", action="append", choices=list(ATTACKS), help="run only this attack (repeat)")
    ap.add_argument(
        "--close-within",
        type=float,
        help="the timeout attack connections must be closed within "
        "(default: the largest timeout dotui serve --help documents)",
    )
    ap.add_argument("--serve-arg", action="append", default=[], help="one more argument for dotui serve (repeat)")
    ap.add_argument("--base", help="work folder (default: a new temporary one, removed afterwards)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = ap.parse_args()
    raise_own_file_limit(8192)  # the attacker holds 2,000+ sockets
    base = Path(args.base) if args.base else Path(tempfile.mkdtemp(prefix="dotui-attack-"))
    base.mkdir(parents=True, exist_ok=True)
    run = Run(args, base)
    if not args.json:
        print(
            f"dotui serve under ulimit -n {SERVER_NOFILE}; timeouts documented by dotui serve --help: "
            f"{run.timeouts or 'none'}; extra arguments: {run.serve_args or 'none'}"
        )
    try:
        report = asyncio.run(run_all(run))
    finally:
        if not args.base:
            shutil.rmtree(base, ignore_errors=True)
    missed = [f"{a['name']}: {k}" for a in report["attacks"] for k, ok in a["checks"].items() if not ok]
    missed += report["read_back"]["lost"]
    report["missed"] = missed
    if args.json:
        print(json.dumps(report))
    else:
        rb = report["read_back"]
        print(
            f"\nacknowledged writes: token holder {rb['holder_acked']:,} (holds {rb['holder_held']:,}), "
            f"busy room posts up to {rb['posts_acked']:,}; lost {len(rb['lost'])}   target 0  "
            f"{'ok' if not rb['lost'] else 'MISSED'}"
        )
        print("all targets met" if not missed else "targets missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
