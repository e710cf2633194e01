"""WebSocket clients that do not behave (docs/trust.md, "WebSockets: frames, messages, send queues"): one that
stops reading, sends faster than it reads, floods unfinished fragments, breaks the framing, sends close codes
a peer may not send, never answers a close, or talks to an overloaded object. Each ends with a close code the
client can see (1002, 1007, 1008, 1009, 1013) and, where the gateway closed it, a websocket_close its object
sees; the gateway's memory stays within its documented bounds and it goes on serving the others."""

from __future__ import annotations

import asyncio
import json
import struct

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import engine_of, eventually
from dotui.server import make_app
from dotui.server.app import PEERS
from ws_raw import OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_TEXT, RawSocket, frame

pytestmark = pytest.mark.hostile

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

HUB = """
    import asyncio
    from dotui import DurableObject

    class Hub(DurableObject):
        \"\"\"Members get what a driver blasts; it remembers every close and error its sockets had.\"\"\"

        async def fetch(self, request):
            ws = request["websocket"]
            self.ctx.accept_websocket(ws, tags=[request["query"].get("role", "member")])
            ws.serialize_attachment(request["query"].get("user", "anon"))
            return {"status": 101}

        async def websocket_message(self, ws, message):
            if isinstance(message, str) and message.startswith("blast:"):
                _, n, size = message.split(":")
                text = "x" * int(size)
                for _ in range(int(n)):
                    for w in self.ctx.get_websockets("member"):
                        w.send(text)
                ws.send("blasted")
            elif isinstance(message, str) and message.startswith("echo:"):
                ws.send(message)
            elif message == "close":
                ws.close(4000, "bye")
            else:
                ws.send(f"got {type(message).__name__} of {len(message)}")

        async def websocket_close(self, ws, code, reason, was_clean):
            self._note("closes", [ws.deserialize_attachment(), code, reason, was_clean])

        async def websocket_error(self, ws, error):
            self._note("errors", [ws.deserialize_attachment(), error])

        def _note(self, key, item):
            self.ctx.storage.put(key, self.ctx.storage.get(key, []) + [item])

        def closes(self):
            return self.ctx.storage.get("closes", [])

        def errors(self):
            return self.ctx.storage.get("errors", [])
"""

LINE = """
    import asyncio
    from dotui import DurableObject

    class Line(DurableObject):
        \"\"\"One message at a time; "hold" keeps the rest waiting in the queue for a while.\"\"\"
        concurrency = "serial"

        async def fetch(self, request):
            self.ctx.accept_websocket(request["websocket"])
            return {"status": 101}

        async def websocket_message(self, ws, message):
            if message == "hold":
                await asyncio.sleep(1.0)
            ws.send("done " + message)
"""


class Gateway:
    """A gateway (aiohttp's test server) on a Hub engine, with raw and aiohttp clients."""

    def __init__(self, client: TestClient, engine, limits):
        self.client, self.engine, self.limits = client, engine, limits
        self.port = client.server.port
        self.sockets = client.server.app[PEERS]
        self.raws: list[RawSocket] = []

    async def raw(
        self, user: str, role: str = "member", name: str = "h", rcvbuf: int | None = None, namespace: str = "Hub"
    ) -> RawSocket:
        raw = await RawSocket.open(self.port, f"/ws/{namespace}/{name}/x?user={user}&role={role}", TOKEN, rcvbuf)
        self.raws.append(raw)
        return raw

    async def closes(self, name: str = "h") -> list:
        return await self.engine.namespace("Hub").get_by_name(name).closes()

    async def errors(self, name: str = "h") -> list:
        return await self.engine.namespace("Hub").get_by_name(name).errors()

    async def closed_for(self, user: str) -> list:
        """Wait for the object's websocket_close of ``user``'s socket: ``[user, code, reason, was_clean]``."""

        async def seen():
            return any(c[0] == user for c in await self.closes())

        assert await eventually(seen, 20), f"websocket_close never ran for {user}: {await self.closes()}"
        return next(c for c in await self.closes() if c[0] == user)

    async def still_serves(self) -> None:
        ws = await self.raw("later", role="driver")
        ws.text("echo:still here")
        assert await ws.text_reply() == "echo:still here"
        ws.abort()


@pytest.fixture
def gateway(tmp_path, request):
    """``gateway(limits=None, engine_options=None, **objects)`` -> an async context manager of a Gateway."""
    import contextlib

    @contextlib.asynccontextmanager
    async def start(limits=None, engine_options=None, **objects):
        async with engine_of(
            tmp_path, {"idle_timeout": 60, **(engine_options or {})}, **(objects or {"hub": HUB})
        ) as engine:
            kwargs = {} if limits is None else {"limits": limits}
            client = TestClient(TestServer(make_app(engine, TOKEN, **kwargs)))
            await client.start_server()
            gw = Gateway(client, engine, limits)
            try:
                yield gw
            finally:
                for raw in gw.raws:  # a client that never answers would hold the stop for its close timeout
                    raw.abort()
                await client.close()

    return start


def limits(**kw):
    from dotui.server.limits import Limits

    return Limits(**{f"ws_{k}": v for k, v in kw.items()})


# ================================================================ sends: bounded per socket and in total
async def test_a_member_that_stops_reading_is_closed_1008_and_its_object_sees_the_close(gateway):
    lim = limits(send_queue=256 << 10, close_timeout=60)
    async with gateway(lim) as gw:
        slow = await gw.raw("slow", rcvbuf=4096)  # reads nothing from here on
        async with aiohttp.ClientSession() as session:
            fast = await session.ws_connect(f"http://127.0.0.1:{gw.port}/ws/Hub/h/x?user=fast", headers=AUTH)
            got = []

            async def read_fast():
                async for msg in fast:
                    got.append(len(msg.data))

            reader = asyncio.ensure_future(read_fast())
            driver = await gw.raw("driver", role="driver")
            for _ in range(128):  # 128 x 8 x 16 KiB: 16 MiB for each member, past any kernel buffer
                driver.text("blast:8:16384")
                assert await driver.text_reply(30) == "blasted"
            closed = await gw.closed_for("slow")
            assert closed[1] == 1008 and "fell behind" in closed[2] and closed[3] is False
            assert await eventually(lambda: _true(len(got) == 128 * 8), 30)  # the reader lost nothing
            reader.cancel()
            await fast.close()
        # What it held for the slow one never passed its bound (plus one message).
        assert gw.sockets.sending.peak <= lim.ws_send_queue + 16400
        # Once it reads again, it finds the close frame behind what it was sent before.
        code, reason = await slow.closed_with(30)
        assert code == 1008 and "--ws-send-queue" in reason
        await gw.still_serves()


async def _true(value):
    return value


async def test_the_sum_over_every_socket_is_bounded_the_largest_queue_closed_1013(gateway):
    lim = limits(send_queue=4 << 20, send_total=1 << 20, close_timeout=60)
    async with gateway(lim) as gw:
        slow = [await gw.raw(f"slow{i}", rcvbuf=4096) for i in range(3)]
        driver = await gw.raw("driver", role="driver")
        for _ in range(16):  # 16 MiB for each
            driver.text("blast:64:16384")
            assert await driver.text_reply(30) == "blasted"
        for i in range(len(slow)):
            closed = await gw.closed_for(f"slow{i}")
            assert closed[1] == 1013 and "--ws-send-total" in closed[2]
        assert gw.sockets.sending.peak <= lim.ws_send_total
        assert gw.sockets.sending.held == 0  # every closed queue was given back
        await gw.still_serves()


@pytest.mark.slow
async def test_a_client_that_sends_without_reading_stops_being_read_and_loses_nothing(gateway):
    # Its echoes back up: the gateway stops reading it (no close: it is its own backlog), and once the
    # client reads again every echo arrives, in order.
    lim = limits(send_queue=512 << 10, close_timeout=60)
    async with gateway(lim) as gw:
        ws = await gw.raw("pusher", role="driver", rcvbuf=4096)
        payload = "y" * 32768
        count = 400  # 12.5 MiB of echoes
        ws.send(*(frame(OP_TEXT, f"echo:{i:05d}:{payload}".encode()) for i in range(count)))
        writing = asyncio.ensure_future(ws.writer.drain())
        stub = gw.engine.namespace("Hub").get_by_name("h")
        oid = gw.engine.namespace("Hub").id_from_name("h")

        async def handled():
            return gw.engine.websockets.describe(("Hub", oid.hex))["sockets"][0]["messages_in"]

        before = -1
        while before != await handled():  # until the object is handed no more messages
            before = await handled()
            await asyncio.sleep(0.3)
        assert before < count  # it stopped reading this client
        assert not writing.done()  # and the client's writes back up
        assert gw.sockets.sending.peak <= lim.ws_send_queue
        for i in range(count):
            assert (await ws.text_reply(30)).startswith(f"echo:{i:05d}:")
        assert await stub.closes() == []
        writing.cancel()


def _watch_writes(gw, raw: RawSocket) -> dict:
    """Count the transport writes of ``raw``'s connection and the most it ever held unwritten: its coalesced
    sends plus its transport's buffer (docs/trust.md: at most 128 KiB more than its send queue)."""
    port = raw.writer.get_extra_info("sockname")[1]
    conn = next(c for c in gw.sockets.connections if c.transport.get_extra_info("peername")[1] == port)
    seen = {"writes": 0, "held": 0, "conn": conn}
    transport, write, send = conn.transport, conn.transport.write, conn.send

    def counted_write(data):
        seen["writes"] += 1
        write(data)
        seen["held"] = max(seen["held"], transport.get_write_buffer_size() + getattr(conn, "batch_bytes", 0))

    def watched_send(data, after):
        send(data, after)
        seen["held"] = max(seen["held"], transport.get_write_buffer_size() + getattr(conn, "batch_bytes", 0))

    transport.write, conn.send = counted_write, watched_send
    return seen


async def test_the_sends_of_one_turn_leave_in_one_write_in_order(gateway):
    async with gateway() as gw:
        member = await gw.raw("member")
        seen = _watch_writes(gw, member)
        driver = await gw.raw("driver", role="driver")
        driver.text("blast:200:10")  # 200 sends to the member from one handler, in one turn of the loop
        assert await driver.text_reply(30) == "blasted"
        for _ in range(200):
            assert await member.text_reply(30) == "x" * 10
        assert seen["writes"] == 1, f"{seen['writes']} writes for 200 sends of one turn"


async def test_a_slow_readers_coalesced_sends_stay_bounded_and_it_is_closed_1008(gateway):
    # Every send of a blast is made in one turn: what the gateway holds for the reader that stopped, coalesced
    # or in its transport, never passes 128 KiB beyond its queue, and the queue itself is bounded.
    lim = limits(send_queue=256 << 10, close_timeout=60)
    async with gateway(lim) as gw:
        slow = await gw.raw("slow", rcvbuf=4096)
        seen = _watch_writes(gw, slow)
        driver = await gw.raw("driver", role="driver")
        for _ in range(64):  # 64 x 4,096 x 100 bytes: 26 MiB, past any kernel buffer
            driver.text("blast:4096:100")
            assert await driver.text_reply(30) == "blasted"
            if seen["conn"].ended:
                break
        closed = await gw.closed_for("slow")
        assert closed[1] == 1008 and "fell behind" in closed[2]
        assert seen["held"] <= 128 << 10, f"held {seen['held']:,} bytes beyond its queue"
        assert gw.sockets.sending.peak <= lim.ws_send_queue + 102
        assert seen["conn"].batch_bytes == 0
        code, _ = await slow.closed_with(30)
        assert code == 1008
        await gw.still_serves()


# ================================================================ reads: messages, fragments, unfinished bytes
async def test_a_message_over_1_mib_in_fragments_is_refused_with_1009(gateway):
    async with gateway() as gw:
        ws = await gw.raw("big")
        ws.send(frame(OP_BINARY, b"a" * (600 << 10), fin=False), frame(OP_CONTINUATION, b"b" * (600 << 10)))
        code, reason = await ws.closed_with()
        assert code == 1009 and "1,048,576" in reason
        closed = await gw.closed_for("big")
        assert closed[:2] == ["big", 1009]


async def test_a_message_in_too_many_fragments_is_refused_with_1009(gateway):
    async with gateway(limits(max_fragments=16)) as gw:
        ws = await gw.raw("many")
        ws.send(frame(OP_TEXT, b"a", fin=False), *(frame(OP_CONTINUATION, b"a", fin=False) for _ in range(20)))
        code, reason = await ws.closed_with()
        assert code == 1009 and "16 fragments" in reason
        ok = await gw.raw("few")
        ok.send(frame(OP_TEXT, b"a", fin=False), *(frame(OP_CONTINUATION, b"a", fin=i == 14) for i in range(15)))
        assert await ok.text_reply() == "got str of 16"


async def test_unfinished_messages_over_every_socket_are_bounded_1013(gateway):
    lim = limits(unfinished_total=1 << 20)
    async with gateway(lim) as gw:
        held = []
        for i in range(4):  # 4 x 400 KiB unfinished: the third passes 1 MiB
            ws = await gw.raw(f"frag{i}")
            ws.send(frame(OP_BINARY, b"z" * (400 << 10), fin=False))
            held.append(ws)
            if i < 2:  # held in this order
                assert await eventually(lambda i=i: _true(gw.sockets.unfinished.held >= (i + 1) * (400 << 10)))
        partial = await gw.raw("partial")  # a frame announced whole and sent in part counts too
        partial.send(frame(OP_BINARY, b"p" * (900 << 10))[: (500 << 10)])
        codes = [await ws.closed_with() for ws in held[2:]] + [await partial.closed_with()]
        assert all(c is not None and c[0] == 1013 and "unfinished" in c[1] for c in codes), codes
        assert gw.sockets.unfinished.peak <= lim.ws_unfinished_total
        for ws in held[:2]:  # the first two finish their messages
            ws.send(frame(OP_CONTINUATION, b"!"))
            assert await ws.text_reply() == f"got bytes of {(400 << 10) + 1}"
        assert await eventually(lambda: _true(gw.sockets.unfinished.held == 0))
        await gw.still_serves()


async def test_a_message_left_unfinished_is_closed_1008_after_the_message_timeout(gateway):
    async with gateway(limits(message_timeout=0.5)) as gw:
        ws = await gw.raw("stalled")
        ws.send(frame(OP_TEXT, b"half", fin=False))
        code, reason = await ws.closed_with()
        assert code == 1008 and "--ws-message-timeout" in reason
        assert (await gw.closed_for("stalled"))[1] == 1008
        assert await eventually(lambda: _true(gw.sockets.unfinished.held == 0))
        await gw.still_serves()


# ================================================================ framing and close codes
BAD_FRAMES = {
    "unmasked": (frame(OP_TEXT, b"hi", mask=False), 1002),
    "reserved bits": (frame(OP_TEXT, b"hi", rsv=4), 1002),
    "unknown opcode": (frame(0x3, b"hi"), 1002),
    "fragmented control frame": (frame(OP_PING, b"hi", fin=False), 1002),
    "control frame over 125 bytes": (frame(OP_PING, b"p" * 126), 1002),
    "continuation with no message": (frame(OP_CONTINUATION, b"hi"), 1002),
    "new message inside a fragmented one": (frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"), 1002),
    "close of one byte": (frame(OP_CLOSE, b"\x03"), 1002),
    "invalid UTF-8 text": (frame(OP_TEXT, b"caf\xc3"), 1007),
    "a surrogate in UTF-8": (frame(OP_TEXT, b"\xed\xa0\x80"), 1007),
    "invalid UTF-8 in the first fragment": (frame(OP_TEXT, b"\xff", fin=False), 1007),
    "close reason not UTF-8": (frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),
    "a frame announcing 2**63 bytes": (frame(OP_BINARY, b"", length=(1 << 63) - 1), 1009),
    "a 64-bit length with its high bit set": (frame(OP_BINARY, b"", length=1 << 63), 1002),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
async def test_a_frame_that_breaks_the_protocol_closes_with_its_code(gateway, case):
    data, expected = BAD_FRAMES[case]
    async with gateway() as gw:
        ws = await gw.raw("bad")
        ws.send(data)
        got = await ws.closed_with()
        assert got is not None and got[0] == expected, got
        closed = await gw.closed_for("bad")
        assert closed[1] == expected and closed[3] is False
        assert (await gw.errors())[0][0] == "bad"  # websocket_error ran first, saying what was wrong


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
async def test_a_close_code_a_peer_may_not_send_is_refused_with_1002(gateway, code):
    async with gateway() as gw:
        ws = await gw.raw("closer")
        ws.send(frame(OP_CLOSE, struct.pack("!H", code) + b"why"))
        got = await ws.closed_with()
        assert got is not None and got[0] == 1002 and str(code) in got[1], got
        assert (await gw.closed_for("closer"))[1] == 1002


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1011, 3000, 4999])
async def test_a_close_code_a_peer_may_send_is_echoed_and_reaches_the_object(gateway, code):
    async with gateway() as gw:
        ws = await gw.raw("closer")
        ws.send(frame(OP_CLOSE, struct.pack("!H", code) + b"done"))
        assert await ws.closed_with() == (code, "")
        assert await gw.closed_for("closer") == ["closer", code, "done", True]


async def test_fragments_split_inside_a_character_are_whole_text(gateway):
    async with gateway() as gw:
        ws = await gw.raw("split")
        text = "echo:caf\u00e9 \u65e5\u672c"
        data = text.encode()
        cut = data.index(b"\xc3") + 1  # inside the two bytes of é
        ws.send(frame(OP_TEXT, data[:cut], fin=False), frame(OP_CONTINUATION, data[cut:]))
        assert await ws.text_reply() == text


async def test_a_close_handshake_the_client_never_answers_ends_within_the_timeout(gateway):
    async with gateway(limits(close_timeout=0.5)) as gw:
        ws = await gw.raw("mute")
        ws.text("close")  # the object closes it; the client never sends its close back
        code, reason = await ws.closed_with()
        assert (code, reason) == (4000, "bye")
        assert await ws.ended(10)  # the gateway hung up without the answer
        assert await eventually(lambda: _true(not gw.sockets.connections))


# ================================================================ an overloaded object
async def test_an_overloaded_objects_websocket_is_closed_1013_not_silently_dropped(gateway):
    async with gateway(limits(close_timeout=30), engine_options={"max_queue": 2}, line=LINE) as gw:
        holder = await gw.raw("holder", namespace="Line")
        others = [await gw.raw(f"u{i}", namespace="Line") for i in range(6)]
        holder.text("hold")
        oid = gw.engine.namespace("Line").id_from_name("h")
        assert await eventually(lambda: _true(bool(gw.engine.instance_info("Line", oid)["running"])))
        for i, ws in enumerate(others):
            ws.text(f"m{i}")
        answers = []
        for ws in others:
            got = await ws.next(30)
            assert got is not None
            if got[0] == OP_CLOSE:
                answers.append((struct.unpack("!H", got[1][:2])[0], got[1][2:].decode()))
            else:
                answers.append(got[1].decode())
        overloaded = [a for a in answers if isinstance(a, tuple)]
        assert overloaded and all(
            a == (1013, "Durable Object is overloaded. Too many requests queued.") for a in overloaded
        ), answers
        assert len(overloaded) < len(others)  # the queue's two got their answers
        assert gw.engine.websockets.counters["websocket_overloaded"] == len(overloaded)
        assert await holder.text_reply(30) == "done hold"


# ================================================================ fuzz: bytes from a hostile client
async def test_json_nested_100000_deep_in_a_message_is_only_text_to_the_gateway(gateway):
    # No path of the gateway decodes JSON from a message: it reaches the object as the str it was.
    async with gateway() as gw:
        ws = await gw.raw("json")
        deep = "[" * 100_000 + "]" * 100_000
        ws.text("echo:" + deep)
        assert await ws.text_reply() == "echo:" + deep
        with pytest.raises(RecursionError):
            json.loads(deep)  # what a decoder would have done


frames = st.one_of(
    st.binary(max_size=64),  # raw garbage
    st.builds(
        lambda op, payload, fin, mask, rsv: frame(op, payload, fin=fin, mask=mask, rsv=rsv),
        st.sampled_from([0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xA, 0xF]),
        st.binary(max_size=300),
        st.booleans(),
        st.booleans(),
        st.integers(0, 7),
    ),
    st.builds(
        lambda n, payload: frame(OP_BINARY, payload, length=n),  # truncated or oversized
        st.integers(0, (1 << 63) - 1),
        st.binary(max_size=40),
    ),
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(frames, min_size=1, max_size=6))
async def test_fuzz_whatever_a_client_sends_ends_in_a_close_code_or_an_answer(gateway, sent):
    from dotui.server.wsframes import peer_may_send

    async with gateway(limits(close_timeout=0.5)) as gw:
        ws = await gw.raw("fuzz")
        ws.send(*sent, frame(OP_TEXT, b"echo:end"))
        while True:
            try:
                got = await ws.next(3)
            except TimeoutError:  # a frame left unfinished: held within its bound until the client goes
                assert gw.sockets.unfinished.held <= gw.sockets.unfinished.limit
                ws.abort()
                assert await eventually(lambda: _true(gw.sockets.unfinished.held == 0))
                break
            if got is None:  # hung up after its close frame
                break
            op, payload = got
            if op == OP_CLOSE:  # the gateway's refusal, or its answer to the client's own close
                assert not payload or peer_may_send(struct.unpack("!H", payload[:2])[0]), payload
                break
            if op == OP_TEXT and payload == b"echo:end":
                break
        await gw.still_serves()


# ================================================================ fuzz: the frame decoder alone (no I/O)
def _decode(chunks: list[bytes], limit: int = 1 << 20, fragments: int = 8):
    from dotui.server.wsframes import Budget, FrameError, MessageReader

    budget = Budget(limit)
    reader = MessageReader(1 << 16, fragments, budget)
    events, error = [], None
    try:
        for chunk in chunks:
            events += reader.feed(chunk)
    except FrameError as exc:
        error = exc
    assert budget.held == reader.held <= limit
    reader.release()
    assert budget.held == 0  # whatever happened, every byte counted is given back
    return events, error


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=False)]


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(frames, max_size=8), st.lists(st.integers(0, 1 << 20), max_size=6))
def test_fuzz_the_decoder_refuses_with_a_close_code_and_never_raises_anything_else(sent, cuts):
    events, error = _decode(_chunked(b"".join(sent), cuts))
    if error is not None:
        assert error.code in (1002, 1007, 1009, 1013) and error.reason
    for event in events:
        assert event[0] in ("message", "ping", "pong", "close")
        if event[0] == "message":
            assert isinstance(event[1], (str, bytes)) and len(event[1]) <= 1 << 16


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.text(max_size=300), st.binary(max_size=300)),
    st.integers(1, 6),
    st.lists(st.integers(0, 1 << 12), max_size=8),
)
def test_fuzz_a_message_in_any_fragments_and_any_reads_decodes_to_itself(message, parts, cuts):
    data = message.encode() if isinstance(message, str) else message
    op = OP_TEXT if isinstance(message, str) else OP_BINARY
    size = -(-len(data) // parts) or 1
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    wire = b"".join(frame(op if i == 0 else OP_CONTINUATION, p, fin=i == len(pieces) - 1) for i, p in enumerate(pieces))
    events, error = _decode(_chunked(wire, cuts))
    assert error is None and events == [("message", message)]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.integers(1, 199))
def test_fuzz_a_truncated_frame_is_held_counted_and_given_back(payload, keep):
    wire = frame(OP_BINARY, payload)
    events, error = _decode([wire[: min(keep, len(wire) - 1)]])
    assert events == [] and error is None  # nothing handed out, nothing refused: it waits for the rest


def test_a_64_bit_length_with_its_most_significant_bit_set_is_a_protocol_error():
    # RFC 6455, 5.2: "the most significant bit MUST be 0"; it is not a size to compare with the limit
    events, error = _decode([frame(OP_BINARY, b"", length=(1 << 64) - 1)])
    assert error is not None and error.code == 1002 and "most significant bit" in error.reason


def test_frames_split_at_every_byte_with_control_frames_between_fragments_decode_in_order():
    wire = (
        frame(OP_TEXT, "h\u00e9".encode(), fin=False)
        + frame(OP_PING, b"p1")
        + frame(OP_CONTINUATION, "llo \u2603".encode(), fin=False)
        + frame(OP_PING, b"p2")
        + frame(OP_CONTINUATION, b"!")
        + frame(OP_BINARY, bytes(range(200)))
        + frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
        + frame(OP_TEXT, b"after the close")
    )
    whole, error = _decode([wire])
    assert error is None
    assert whole == [
        ("ping", b"p1"),
        ("ping", b"p2"),
        ("message", "h\u00e9llo \u2603!"),
        ("message", bytes(range(200))),
        ("close", 1000, "bye"),
    ]
    bytewise, error = _decode([wire[i : i + 1] for i in range(len(wire))])
    assert error is None and bytewise == whole


def test_a_frame_over_the_message_limit_is_refused_before_its_payload_is_held():
    events, error = _decode([frame(OP_BINARY, b"", length=(1 << 16) + 1)])
    assert error is not None and error.code == 1009


def test_unfinished_bytes_past_the_budget_are_refused_1013():
    events, error = _decode([frame(OP_BINARY, b"a" * 5000, fin=False)], limit=4096)
    assert error is not None and error.code == 1013


# ================================================================ the bounds are flags of dotui serve
@pytest.mark.slow
def test_the_websocket_bounds_are_flags_of_dotui_serve(tmp_path):
    import subprocess
    import sys

    from conftest import write_objects
    from server_support import ROOT, GatewayProcess

    objects = write_objects(tmp_path / "objects", hub=HUB)
    with GatewayProcess(
        objects,
        tmp_path / "data",
        0,
        "--ws-max-fragments",
        "4",
        "--ws-close-timeout",
        "0.5",
        "--ws-send-queue",
        str(2 << 20),
    ) as gw:

        async def run():
            ws = await RawSocket.open(gw.port, "/ws/Hub/h/x?user=flags", gw.token)
            ws.send(frame(OP_TEXT, b"a", fin=False), *(frame(OP_CONTINUATION, b"a", fin=False) for _ in range(4)))
            got = await ws.closed_with()
            ws.abort()
            return got

        assert asyncio.run(run()) == (1009, "a message in more than 4 fragments")
    bad = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dotui.cli import main; sys.exit(main())",
            "serve",
            "--ws-send-total",
            "0",
        ],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--ws-send-total must be more than 0" in bad.stderr


def test_a_front_ends_unread_inbox_is_bounded_and_counts_what_it_dropped():
    from dotui.engine.wsession import MAX_INBOX_MESSAGES, Inbox

    inbox = Inbox()
    for i in range(MAX_INBOX_MESSAGES + 500):
        inbox.put(f"m{i}")
    got = inbox.take(0)
    assert len(got) == MAX_INBOX_MESSAGES and got[0] == "m500" and inbox.dropped == 500
    big = Inbox()
    for _ in range(40):
        big.put(b"x" * (1 << 20))  # 40 MiB sent to a socket nobody reads
    assert len(big.take(0)) == 16 and big.dropped == 24
