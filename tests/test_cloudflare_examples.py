"""Cloudflare's own Python Workers examples and its Durable Objects docs examples (ported to Python), each run
unchanged through `dotui serve` with the requests Cloudflare's docs describe, checking the answers they state
(examples/cloudflare/README.md says where each comes from)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from server_support import ROOT, GatewayProcess

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples" / "cloudflare"
SERVE = ("-m", "dotui.cli", "serve")
TIMEOUT = aiohttp.ClientTimeout(total=30)


def project(tmp_path: Path, name: str) -> Path:
    """A copy of the example project (its data folder then lives beside it, in tmp_path)."""
    return Path(shutil.copytree(EXAMPLES / name, tmp_path / name))


def serve(folder: Path, *extra: str) -> GatewayProcess:
    return GatewayProcess(folder, folder / ".dotui", 0, *extra, command=SERVE)


async def get(url: str, **kw) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.get(url, **kw) as r:
            return r.status, await r.text(), dict(r.headers)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_hello_answers_as_workerd_labels_it(tmp_path):
    with serve(project(tmp_path, "hello")) as gw:
        status, text, headers = run(get(gw.url))
        assert (status, text) == (200, "Hello world!")
        assert headers["Content-Type"] == "text/plain;charset=UTF-8"


def test_lists_keeps_each_lists_messages(tmp_path):
    # the requests, and the answers, of Cloudflare's own test of its Durable Objects example (examples/cloudflare/README.md)
    with serve(project(tmp_path, "lists")) as gw:

        async def script():
            return [
                (await get(gw.url + path))[:2]
                for path in ("/room-1/show", "/room-1/add/hi", "/room-1/show", "/room-2/show", "/")
            ]

        answers = run(script())
    assert answers[:4] == [(200, "No messages"), (200, "Message sent"), (200, "hi"), (200, "No messages")]
    assert answers[4][0] == 400 and "Go to /<list_id>/show" in answers[4][1]


def test_the_worker_is_public_and_the_gateways_routes_keep_the_token(tmp_path):
    with serve(project(tmp_path, "lists")) as gw:

        async def script():
            async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
                async with s.get(gw.url + "/admin/stats") as r:
                    no_token = r.status
                async with s.post(gw.url + "/objects/MessageList/room-1/messages") as r:
                    call_no_token = r.status
                auth = {"Authorization": f"Bearer {gw.token}"}
                async with s.post(
                    gw.url + "/objects/MessageList/room-1/add", json={"args": ["from rpc"]}, headers=auth
                ) as r:
                    rpc = r.status
            return no_token, call_no_token, rpc, (await get(gw.url + "/room-1/show"))[1]

        assert run(script()) == (401, 401, 200, "from rpc")


def test_chatroom_a_websocket_forwarded_by_the_worker_reaches_the_room(tmp_path):
    with serve(project(tmp_path, "chatroom")) as gw:

        async def script():
            async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
                status, html, headers = await get(gw.url + "/")
                assert status == 200 and headers["Content-Type"].startswith("text/html") and "<html" in html.lower()
                async with s.ws_connect(gw.url + "/room/lobby") as ann, s.ws_connect(gw.url + "/room/lobby") as bob:
                    for ws in (ann, bob):
                        welcome = json.loads((await ws.receive(timeout=10)).data)
                        assert welcome["type"] == "system" and welcome["text"] == "Connected to chatroom"
                    await ann.send_str(json.dumps({"username": "ann", "text": "hello"}))
                    got = [json.loads((await ws.receive(timeout=10)).data) for ws in (ann, bob)]
                    assert [(m["type"], m["username"], m["text"]) for m in got] == [("message", "ann", "hello")] * 2
                async with s.ws_connect(gw.url + "/room/lobby") as late:
                    history = json.loads((await late.receive(timeout=10)).data)  # in memory while the room is
                    assert history["type"] == "history" and history["messages"][0]["text"] == "hello"
                async with s.get(gw.url + "/room/lobby") as r:
                    assert (r.status, await r.text()) == (400, "Expected WebSocket upgrade")

        run(script())


def test_a_bad_wrangler_file_is_a_usage_error_naming_the_file_and_the_key(tmp_path):
    folder = project(tmp_path, "lists")
    cfg = folder / "wrangler.jsonc"
    cfg.write_text(cfg.read_text().replace('"class_name": "MessageList"', '"class_name": "MessageLists"'))
    proc = subprocess.run(
        [sys.executable, "-m", "dotui.cli", "-c", "classes"], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    err = " ".join(proc.stderr.split())
    assert (
        "wrangler.jsonc: durable_objects.bindings: LISTS binds class MessageLists" in err
        and "new_sqlite_classes" in err
    )
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- the Durable Objects docs' examples, in Python
def test_counter_counts_per_name_as_the_docs_say(tmp_path):
    with serve(project(tmp_path, "counter")) as gw:

        async def script():
            return [
                (await get(gw.url + path))[:2]
                for path in (
                    "/",
                    "/?name=A",
                    "/increment?name=A",
                    "/increment?name=A",
                    "/decrement?name=A",
                    "/increment?name=B",
                    "/?name=A",
                    "/nope?name=A",
                )
            ]

        answers = run(script())
    assert answers[0] == (
        200,
        "Select a Durable Object to contact by using the `name` URL query string parameter, for example, ?name=A",
    )
    assert answers[1:7] == [
        (200, f"Durable Object '{n}' count: {c}")
        for n, c in (("A", 0), ("A", 1), ("A", 2), ("A", 1), ("B", 1), ("A", 1))
    ]
    assert answers[7] == (404, "Not found")


async def pipelined(url: str, request: bytes, n: int) -> bytes:
    """``n`` copies of ``request`` written at once on one keep-alive connection; the answers' bytes."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request * n)
    got = b""
    while got.count(b"HTTP/1.1 ") < n:
        chunk = await reader.read(1 << 20)
        if not chunk:
            break
        got += chunk
    writer.close()
    return got


def test_rate_limiter_refuses_past_its_capacity_until_the_alarm_refills(tmp_path):
    # 10,000 tokens, 5,000 more every 5 s: spent by RPC through the gateway (pipelined, faster than the refill),
    # then the Worker refuses that IP with 429 while another IP's bucket is full, and the refill lets it in again.
    with serve(project(tmp_path, "rate-limiter")) as gw:
        spend = (
            f"POST /objects/RateLimiter/10.0.0.1/getMillisecondsToNextRequest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {gw.token}\r\nContent-Length: 0\r\n\r\n"
        ).encode()

        async def script():
            async with aiohttp.ClientSession(timeout=TIMEOUT) as s:

                async def page(ip: str) -> tuple[int, str]:
                    async with s.get(gw.url + "/", headers={"CF-Connecting-IP": ip}) as r:
                        return r.status, await r.text()

                first = await page("10.0.0.1")
                over = None
                for _ in range(30):  # at most 60,000 tokens
                    await pipelined(gw.url, spend, 2000)
                    over = await page("10.0.0.1")
                    if over[0] == 429:
                        break
                other = await page("10.0.0.2")  # another IP, another object, its own bucket
                refilled = None
                for _ in range(80):  # the next alarm (every 5 s) adds 5,000 tokens
                    await asyncio.sleep(0.1)
                    refilled = await page("10.0.0.1")
                    if refilled[0] == 200:
                        break
                return first, over, other, refilled

        first, over, other, refilled = run(script())
    assert first == (200, "Call some upstream resource...")
    assert over == (429, "Rate limit exceeded")
    assert other == (200, "Call some upstream resource...")
    assert refilled == (200, "Call some upstream resource...")


def test_batcher_queues_requests_and_sets_one_alarm_ten_seconds_ahead(tmp_path):
    folder = project(tmp_path, "batcher")
    with serve(folder) as gw:

        async def script():
            async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
                out = []
                for body in ("a", "b", "c"):
                    async with s.post(gw.url + "/", data=body) as r:
                        out.append((r.status, r.headers["Content-Type"], await r.json()))
                return out

        answers = run(script())
        assert [a[2] for a in answers] == [{"queued": 1}, {"queued": 2}, {"queued": 3}]
        assert answers[0][1] == "application/json;charset=UTF-8"
        ls = subprocess.run(
            [
                sys.executable,
                "-m",
                "dotui.cli",
                "--connect",
                gw.url,
                "--data",
                str(folder / ".dotui"),
                "--json",
                "-c",
                "storage Batcher/foo",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ls.returncode == 0, ls.stderr
        doc = json.loads(ls.stdout)
        assert "a" in json.dumps(doc) and "c" in json.dumps(doc)


def test_ttl_deletes_the_objects_storage_once_its_alarm_fires(tmp_path):
    folder = project(tmp_path, "ttl")
    with serve(folder) as gw:

        async def script():
            first = (await get(gw.url + "/"))[:2]
            second = (await get(gw.url + "/"))[:2]  # each request pushes the alarm 1 s back
            await asyncio.sleep(3)  # no request for 3 s: the alarm fires and deletes everything
            return first, second, (await get(gw.url + "/"))[:2]

        assert run(script()) == ((200, "visits: 1"), (200, "visits: 2"), (200, "visits: 1"))


def test_location_remembers_in_memory_until_the_object_hibernates(tmp_path):
    with serve(project(tmp_path, "location"), "--idle", "1") as gw:

        async def script():
            a = (await get(gw.url + "/"))[1]
            b = (await get(gw.url + "/"))[1]
            await asyncio.sleep(2.5)  # idle past --idle 1: hibernated, its attributes gone
            c = (await get(gw.url + "/"))[1]
            return a, b, c

        a, b, c = run(script())
    assert "This is the first request, you called the constructor" in a
    assert "The last request was from local." in b
    assert "This is the first request" in c


def test_websocket_hibernation_server_echoes_with_the_connection_count(tmp_path):
    with serve(project(tmp_path, "websocket-hibernation"), "--idle", "1") as gw:

        async def script():
            async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
                async with s.get(gw.url + "/websocket") as r:
                    plain = (r.status, await r.text())
                async with s.get(gw.url + "/") as r:
                    bad = r.status
                async with s.ws_connect(gw.url + "/websocket") as one, s.ws_connect(gw.url + "/websocket") as two:
                    await one.send_str("hello")
                    first = (await one.receive(timeout=10)).data
                    await asyncio.sleep(2.5)  # the object hibernates; the sockets stay open
                    await two.send_str("again")
                    second = (await two.receive(timeout=10)).data
                    await one.close()
                return plain, bad, first, second

        plain, bad, first, second = run(script())
    assert plain == (426, "Durable Object expected Upgrade: websocket") and bad == 400
    assert first == "[Durable Object] message: hello, connections: 2"
    assert second == "[Durable Object] message: again, connections: 2"


def test_sql_counter_reads_rows_as_attributes(tmp_path):
    with serve(project(tmp_path, "sql-counter")) as gw:

        async def script():
            return [
                (await get(gw.url + p))[:2]
                for p in ("/", "/increment/a", "/increment/a", "/increment/b", "/counts", "/reset", "/counts")
            ]

        answers = run(script())
    assert answers[:4] == [(200, "Hello, World!"), (200, "1"), (200, "2"), (200, "1")]
    assert json.loads(answers[4][1]) == {"columns": ["name", "value"], "rows": [["a", 2], ["b", 1]]}
    assert answers[5] == (200, "1")
    assert json.loads(answers[6][1])["rows"] == [["resets", 1]]


def test_a_project_as_the_docs_write_one_survives_a_sigkill_with_nothing_acknowledged_lost(tmp_path):
    """SQL and async KV storage, getByName, RPC and stub.fetch; every note the Worker acknowledged (201) is
    there after a SIGKILL of the server, and `dotui -c ls` in the project folder lists the notebooks."""
    folder = project(tmp_path, "notes")
    acknowledged: dict[str, list[str]] = {"work": [], "home": []}
    with serve(folder) as gw:

        async def script():
            async with aiohttp.ClientSession(timeout=TIMEOUT) as s:

                async def add(book: str, i: int) -> None:
                    async with s.post(f"{gw.url}/{book}", data=f"{book} note {i}") as r:
                        if r.status == 201:
                            acknowledged[book].append(f"{book} note {i}")

                await asyncio.gather(*(add(book, i) for i in range(40) for book in acknowledged))

        run(script())
        gw.kill()  # SIGKILL: no shutdown code runs
    assert all(len(v) == 40 for v in acknowledged.values())
    with serve(folder) as gw:

        async def after():
            notes = {b: json.loads((await get(f"{gw.url}/{b}"))[1]) for b in acknowledged}
            meta = json.loads((await get(f"{gw.url}/work/meta"))[1])
            return notes, meta

        notes, meta = run(after())
    for book, texts in acknowledged.items():
        assert sorted(notes[book]) == sorted(texts)
    assert meta["name"] == "work" and meta["meta"]["count"] == 40
    ls = subprocess.run(
        [sys.executable, "-m", "dotui.cli", "--json", "-c", "ls"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ls.returncode == 0, ls.stderr
    names = {(r["namespace"], r["name"]) for r in json.loads(ls.stdout)["result"]["objects"]}
    assert names == {("Notebook", "work"), ("Notebook", "home")}


# ---------------------------------------------------------------- an object's own WebSocket to another server
class StreamServer:
    """A stand-in for Bluesky's Jetstream on 127.0.0.1, in a thread of its own: each connection is sent
    ``events`` and kept open until ``hang_up()``; ``cursors`` is the ``cursor`` each connection asked for."""

    def __init__(self, events: list[dict]):
        import threading

        from aiohttp import web

        self.events, self.cursors, self.sockets = events, [], []
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def subscribe(request):
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            self.cursors.append(request.query.get("cursor"))
            self.sockets.append(ws)
            for event in self.events:
                await ws.send_str(json.dumps(event))
            async for _ in ws:
                pass
            return ws

        async def start():
            app = web.Application()
            app.router.add_get("/subscribe", subscribe)
            self.runner = web.AppRunner(app)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = self.runner.addresses[0][1]
            started.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(start(), self.loop)
        assert started.wait(10)

    def hang_up(self) -> None:
        async def close_all():
            for ws in self.sockets:
                await ws.close(code=1001, message=b"going away")

        asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def until(fn, want, what: str, seconds: float = 20):
    """Poll ``fn()`` (async) until it answers ``want``, for at most ``seconds``."""
    got = None
    for _ in range(int(seconds / 0.1)):
        got = await fn()
        if got == want:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: still {got!r}, never {want!r}")


def test_stream_consumer_keeps_its_websocket_to_the_stream_and_resumes_from_its_cursor(tmp_path):
    post = {"kind": "commit", "commit": {"collection": "app.bsky.feed.post", "record": {"text": "hi"}}}
    like = {"kind": "commit", "commit": {"collection": "app.bsky.feed.like"}}
    stream = StreamServer([{**post, "time_us": 101}, {**like, "time_us": 102}, {**post, "time_us": 103}])
    try:
        folder = project(tmp_path, "websocket-stream-consumer")
        cfg = folder / "wrangler.toml"
        url = f"ws://127.0.0.1:{stream.port}/subscribe?wantedCollections=app.bsky.feed.post"
        cfg.write_text(cfg.read_text().replace(cfg.read_text().split('STREAM_URL = "')[1].split('"')[0], url))
        with serve(folder, "--idle", "1") as gw:

            async def status():
                return (await get(gw.url + "/status"))[:2]

            async def script():
                await until(status, (200, "Firehose status: connected, 2 posts"), "the first connection")
                await asyncio.sleep(2.5)  # past --idle: an object with an open WebSocket stays in memory
                assert await status() == (200, "Firehose status: connected, 2 posts")
                stream.hang_up()  # the handler aborts the object; the next request connects again
                await until(status, (200, "Firehose status: connected, 2 posts"), "the second connection")

            run(script())
        assert stream.cursors == [None, "103"]  # the cursor put from the message handler was on disk
    finally:
        stream.stop()


def test_stream_consumer_offline_says_why_the_stream_is_unreachable(tmp_path):
    with serve(project(tmp_path, "websocket-stream-consumer")) as gw:
        assert run(get(gw.url + "/status"))[:2] == (200, "Firehose status: disconnected, 0 posts")
        gw.stop()
    assert "dotui runs the project offline: a WebSocket reaches the local hosts only" in gw.stderr
    assert "not jetstream2.us-east.bsky.network" in gw.stderr


def test_serve_help_says_which_routes_need_the_token_and_that_the_worker_is_public():
    proc = subprocess.run(
        [sys.executable, "-m", "dotui.cli", "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    text = " ".join(proc.stdout.split())
    assert "(/objects/, /fetch/, /ws/, /admin/) need the bearer token" in text
    assert "the project's Worker, public as under `wrangler dev`" in text
