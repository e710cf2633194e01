"""The workerd behaviour scenario (bench/peer/worker.js, class Scenario) run on dotui,
and the diff of the two.

    python bench/behaviour.py            # runs both sides, prints the differences

Every difference must be either fixed or listed in DELIBERATE with its reason;
tests/test_peer_behaviour.py fails on any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# this folder comes last: a module here must never hide one of the standard library.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]
sys.path.insert(0, os.path.dirname(HERE))

from dotui import Engine

OBJECTS = """
import asyncio
from dotui import DurableObject

class Counter(DurableObject):
    def peek(self):
        return self.ctx.storage.get("n", 0)

class Interleave(DurableObject):
    async def bump_blocked(self, delay=0.02):
        async def critical():
            n = self.ctx.storage.get("n", 0)
            await asyncio.sleep(delay)
            self.ctx.storage.put("n", n + 1)
            return n + 1
        return await self.ctx.block_concurrency_while(critical)

    async def bump_racy(self, delay=0.02):
        n = self.ctx.storage.get("n", 0)
        await asyncio.sleep(delay)
        self.ctx.storage.put("n", n + 1)
        return n + 1

    def peek(self):
        return self.ctx.storage.get("n", 0)

class Other(DurableObject):
    def try_set_alarm(self):
        try:
            self.ctx.storage.set_alarm(0)
            return "no error"
        except Exception as e:
            return f"{type(e).__name__}: {e}"

class Scenario(DurableObject):
    async def alarm(self, info):
        pass

    def run(self):
        s = self.ctx.storage
        out = {}

        def attempt(fn):
            try:
                fn()
                return "no error"
            except Exception as e:
                return f"{type(e).__name__}: {e}"

        for k in ["a", "b", "c", "d", "e", "aa", "ab", "b/1", "b/2", "é", "z"]:
            s.put(k, k)
        cases = [
            ("list()", {}),
            ('list({start:"b"})', {"start": "b"}),
            ('list({startAfter:"b"})', {"start_after": "b"}),
            ('list({end:"c"})', {"end": "c"}),
            ('list({start:"aa",end:"b"})', {"start": "aa", "end": "b"}),
            ('list({prefix:"a"})', {"prefix": "a"}),
            ('list({prefix:"b/"})', {"prefix": "b/"}),
            ("list({reverse:true})", {"reverse": True}),
            ("list({reverse:true,limit:3})", {"reverse": True, "limit": 3}),
            ("list({limit:2})", {"limit": 2}),
            ('list({prefix:"a",reverse:true,limit:2})', {"prefix": "a", "reverse": True, "limit": 2}),
            ('list({start:"b",end:"e",reverse:true})', {"start": "b", "end": "e", "reverse": True}),
            ('list({startAfter:"aa",limit:2})', {"start_after": "aa", "limit": 2}),
        ]
        for label, kw in cases:
            out[label] = list(s.list(**kw))
        for label, kw in [('list({start:"a",startAfter:"b"})', {"start": "a", "start_after": "b"}),
                          ("list({limit:0})", {"limit": 0}), ("list({limit:-1})", {"limit": -1})]:
            out[label] = {"result": attempt(lambda: s.list(**kw))}
        out['get(["a","nope","c"])'] = s.get(["a", "nope", "c"])
        out['delete(["a","nope","c"])'] = s.delete(["a", "nope", "c"])
        out['delete("b")'] = s.delete("b")
        out['delete("nope")'] = s.delete("nope")

        thrown = "none"
        try:
            with s.transaction() as txn:
                txn.put("t1", "t1")
                raise RuntimeError("boom")
        except RuntimeError as e:
            thrown = f"Error: {e}"
        out["transaction(put t1; throw)"] = {"propagated_error": thrown, "t1_exists_after": s.get("t1") is not None}
        with s.transaction() as txn:
            txn.put("t2", "t2")
            txn.rollback()
        out["transaction(put t2; rollback())"] = {"transaction_result": "returned", "t2_exists_after": s.get("t2") is not None}

        out["getAlarm() initially"] = s.get_alarm()
        import time as _t
        want = _t.time() + 60
        s.set_alarm(want)
        a1 = s.get_alarm()
        out["setAlarm(now+60s); getAlarm()"] = {"type": "number", "within_1s": abs(a1.timestamp() - want) <= 1,
                                               "exact": abs(a1.timestamp() - want) < 1e-3}
        s.delete_alarm()
        out["deleteAlarm(); getAlarm()"] = s.get_alarm()
        s.set_alarm(_t.time() + 60)
        s.delete_all()
        out["deleteAll(); list().size"] = len(s.list())
        out["deleteAll(); getAlarm() (alarm was set before)"] = s.get_alarm()

        out["put(key of 2049 bytes)"] = attempt(lambda: s.put("k" * 2049, 1))
        out["put(key of 2048 bytes)"] = attempt(lambda: s.put("k" * 2048, 1))
        out["put(value string of 128 KiB + 1)"] = attempt(lambda: s.put("big", "v" * (128 * 1024 + 1)))
        out["put(value string of 2 MiB + 1)"] = attempt(lambda: s.put("big2", "v" * (2 * 1024 * 1024 + 1)))
        keys129 = [f"k{i}" for i in range(129)]
        out["get(129 keys)"] = attempt(lambda: s.get(keys129))
        out["put(129 entries)"] = attempt(lambda: s.put({k: k for k in keys129}))
        out["delete(129 keys)"] = attempt(lambda: s.delete(keys129))
        s.delete_all()
        return out
"""

# Differences that are choices, not bugs: key -> why.
DELIBERATE = {
    "put(key of 2049 bytes)": "dotui enforces Cloudflare's production key limit (2,048 bytes); the local workerd does not",
    "put(value string of 128 KiB + 1)": "dotui enforces the production value limit (128 KiB); the local workerd does not",
    "put(value string of 2 MiB + 1)": "dotui enforces the production value limit (128 KiB); the local workerd does not",
    "get(129 keys)": "dotui enforces the production batch limit (128 keys); the local workerd does not",
    "put(129 entries)": "dotui enforces the production batch limit (128 keys); the local workerd does not",
    "delete(129 keys)": "dotui enforces the production batch limit (128 keys); the local workerd does not",
}
_ATTACHMENT_SIZE = (
    "dotui measures an attachment as its JSON text (UTF-8), workerd as its V8 serialization "
    "(a few bytes of header more); the limit, 16,384 bytes, and the message are workerd's"
)
DELIBERATE.update({f"ws: serializeAttachment(string of {n})": _ATTACHMENT_SIZE for n in (16382, 16383, 16384, 20000)})
# Steps that only one side can have.
ONLY_PEER = {
    'backend: ctx.storage.sql.exec("SELECT 1")': (
        "dotui's Scenario class keeps key-value storage (the default backend, as the bundled lessons); the SQL "
        'API runs in the SQL steps below, on a storage_backend = "sqlite" class'
    )
}


@contextlib.asynccontextmanager
async def engine_on(filename: str, source: str):
    """A dotui engine on a temporary folder whose objects are ``source``, written as ``filename``."""
    with tempfile.TemporaryDirectory() as tmp:
        objs = os.path.join(tmp, "objects")
        os.makedirs(objs)
        with open(os.path.join(objs, filename), "w") as f:
            f.write(source)
        async with Engine(objects=objs, data=os.path.join(tmp, "data")) as e:
            yield e


async def run_dotui() -> dict:
    async with engine_on("scenario.py", OBJECTS) as e:
        name = f"scenario-{time.time_ns()}"
        out = await e.env.Scenario.get_by_name(name).run()
        out.update(id_scenario(e))
        out.update(await ordering_scenario(e, name))
        out["setAlarm() on class without alarm() handler"] = await e.env.Other.get_by_name("x").try_set_alarm()
    return out


def id_scenario(e: Engine) -> dict:
    def attempt(fn):
        try:
            fn()
            return "no error"
        except Exception as exc:  # noqa: BLE001 - the error is the scenario's result, compared with the peer's
            return f"{type(exc).__name__}: {exc}"

    C, Other = e.env.Counter, e.env.Other
    named = C.id_from_name("alice")
    hx = named.hex
    return {
        'COUNTER.idFromString("xyz")': attempt(lambda: C.id_from_string("xyz")),
        "COUNTER.idFromString(64 x '0')": attempt(lambda: C.id_from_string("0" * 64)),
        "COUNTER.idFromString(id from OTHER namespace)": attempt(lambda: C.id_from_string(Other.new_unique_id().hex)),
        'idFromName("alice").toString()': {
            "length": len(hx),
            "lowercase_hex": hx == hx.lower() and all(c in "0123456789abcdef" for c in hx),
            "stable": C.id_from_name("alice").hex == hx,
            "differs_across_namespaces": Other.id_from_name("alice").hex != hx,
        },
        "newUniqueId().toString().length": len(C.new_unique_id().hex),
        'idFromName("alice").name': named.name,
        "idFromString(idFromName(alice).toString()).name": C.id_from_string(hx).name,
        'idFromString(idFromName("alice").toString()).equals(idFromName("alice"))': C.id_from_string(hx) == named,
    }


async def ordering_scenario(e: Engine, name: str) -> dict:
    """The input gate's order: calls kept out by block_concurrency_while start later in arrival
    order, one at a time; without it, two calls interleave at a sleep and one update is lost."""
    blocked = e.env.Interleave.get_by_name(f"{name}-blocked")
    racy = e.env.Interleave.get_by_name(f"{name}-racy")
    return {
        "3 overlapping bump_blocked, then peek": list(
            await asyncio.gather(blocked.bump_blocked(), blocked.bump_blocked(), blocked.bump_blocked(), blocked.peek())
        ),
        "2 overlapping bump_racy, then peek": list(
            await asyncio.gather(racy.bump_racy(), racy.bump_racy(), racy.peek())
        ),
        "2 overlapping bump_racy; peek after both": await racy.peek(),
    }


def run_peer() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["node", "scenario.mjs", "--persist", tmp],
            cwd=os.path.join(HERE, "peer"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"the peer scenario failed:\n{out.stderr[-2000:]}")
        return json.loads(out.stdout)


# The same API in each language's spelling.
SPELLINGS = {"startAfter": "start_after", "setAlarm": "set_alarm", "getAlarm": "get_alarm", "deleteAll": "delete_all"}


def _normalize(value):
    """Compare messages, not each language's exception class names or spellings; JS undefined is None."""
    if isinstance(value, str):
        if value == "undefined":
            return None
        head, sep, tail = value.partition(": ")
        if sep and head.endswith("Error"):
            value = tail
        for js, py in SPELLINGS.items():
            value = value.replace(js, py)
        return value
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def _extends(a, b) -> bool:
    """dotui's message is workerd's, followed by advice on what to do."""
    return isinstance(a, str) and isinstance(b, str) and b != "no error" and a.startswith(b.rstrip("."))


def diff(dotui: dict, peer: dict) -> list[tuple[str, object, object]]:
    out = []
    for key in sorted(set(dotui) | set(peer)):
        if key in ONLY_PEER:
            continue
        a, b = _normalize(dotui.get(key, "<missing>")), _normalize(peer.get(key, "<missing>"))
        if a != b and not _extends(a, b):
            out.append((key, dotui.get(key, "<missing>"), peer.get(key, "<missing>")))
    return out


# ================================================================ WebSockets (the Hibernation API)
WS_OBJECTS = '''
import json
from dotui import DurableObject

class Sockets(DurableObject):
    """The Python twin of class Sockets in bench/peer/worker.js: each text message names what to do."""

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.seen = 0  # in memory: 1 again after a wake

    def fetch(self, request):
        ws = request.get("websocket")
        if ws is None:
            return {"status": 400, "body": "WebSockets only"}
        q = request["query"]
        if q.get("refuse"):
            return {"status": 403, "body": "go away"}
        self.ctx.accept_websocket(ws, tags=[t for t in q.get("tags", "").split(",") if t])
        ws.serialize_attachment({"user": q.get("user")})
        return {"status": 101}

    async def websocket_message(self, ws, message):
        self.seen += 1

        def attempt(fn):
            try:
                fn()
                return "no error"
            except Exception as e:
                return f"{type(e).__name__}: {e}"

        if isinstance(message, bytes):
            ws.send(message[::-1])
        elif message == "count":
            n = self.ctx.storage.get("n", 0) + 1
            self.ctx.storage.put("n", n)
            ws.send(json.dumps({"n": n, "seen": self.seen, "attachment": ws.deserialize_attachment()}))
        elif message == "noop":
            ws.send("ok")
        elif message.startswith("tag:"):
            group = self.ctx.get_websockets(message[4:])
            for w in group:
                w.send(f"to {message[4:]}: {len(group)}")
        elif message == "tags":
            ws.send(json.dumps(self.ctx.get_tags(ws)))
        elif message == "all":
            ws.send(str(len(self.ctx.get_websockets())))
        elif message == "auto":
            self.ctx.set_websocket_auto_response("ping", "pong")
            ws.send("auto set")
        elif message == "autots":
            ws.send("none" if self.ctx.get_websocket_auto_response_timestamp(ws) is None else "set")
        elif message.startswith("rename:"):
            ws.serialize_attachment({**ws.deserialize_attachment(), "user": message[7:]})
            ws.send("renamed")
        elif message.startswith("att:"):
            ws.send(attempt(lambda: ws.serialize_attachment("x" * int(message[4:]))))
        elif message.startswith("badclose:"):
            ws.send(attempt(lambda: self.ctx.get_websockets("victim")[0].close(int(message[9:]), "x")))
        elif message == "sendafterclose":
            victim = self.ctx.get_websockets("victim")[0]
            victim.close(1000, "done")
            ws.send(attempt(lambda: victim.send("late")))
        elif message == "lastclose":
            ws.send(json.dumps(self.ctx.storage.get("closed")))
        elif message == "close":
            ws.close(4000, "bye")
        elif message == "boom":
            raise RuntimeError("boom")
        elif message == "abort":
            self.ctx.abort("reset by the scenario")
        elif message == "bcwthrow":
            async def fail():
                raise RuntimeError("thrown in block_concurrency_while")
            await self.ctx.block_concurrency_while(fail)
        else:
            ws.send("echo:" + message)

    def websocket_close(self, ws, code, reason, was_clean):
        att = ws.deserialize_attachment()
        self.ctx.storage.put("closed", [code, reason, was_clean, att.get("user") if isinstance(att, dict) else None])
'''

ATTACHMENT_SIZES = (2000, 2046, 2047, 2048, 4096, 16382, 16383, 16384, 20000)
CLOSE_CODES = (999, 1004, 1005, 1006, 1015, 5000, 2999)  # the last one valid on workerd: it closes the victim


async def ws_scenario(url: str, token: str) -> dict:
    """One scenario, one client (aiohttp), either server: what each step answered."""
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    room = f"room-{time.time_ns()}"
    out: dict = {}
    async with aiohttp.ClientSession() as session:

        async def connect(**query):
            return await session.ws_connect(
                f"{url}/ws/Sockets/{room}/x",
                params=query,
                headers=headers,
                timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
            )

        async def receive(ws):
            m = await ws.receive(timeout=10)
            if m.type is aiohttp.WSMsgType.TEXT:
                return json.loads(m.data) if m.data[:1] in ("[", "{") or m.data == "null" else m.data
            if m.type is aiohttp.WSMsgType.BINARY:
                return list(m.data)
            if m.type is aiohttp.WSMsgType.CLOSE:
                return {"closed": m.data, "reason": m.extra}
            return {"ended": m.type.name, "close_code": ws.close_code, "error": str(m.data) if m.data else None}

        async def ask(ws, data):
            await (ws.send_str(data) if isinstance(data, str) else ws.send_bytes(data))
            return await receive(ws)

        a = await connect(tags="red,all", user="ann")
        b = await connect(tags="blue,all", user="bob")
        c = await connect(tags="red", user="cy")
        out["ws: getTags(a)"] = await ask(a, "tags")
        out["ws: getWebSockets().length"] = await ask(a, "all")
        await a.send_str("tag:red")
        out["ws: getWebSockets('red') each send"] = [await receive(a), await receive(c)]
        out["ws: storage + attachment"] = await ask(a, "count")
        out["ws: serializeAttachment(changed), then count"] = [await ask(a, "rename:zed"), await ask(a, "count")]
        out["ws: binary message"] = await ask(a, b"abc")
        out["ws: autots before any auto-response"] = await ask(a, "autots")
        out["ws: setWebSocketAutoResponse(ping, pong)"] = await ask(a, "auto")
        out["ws: ping (auto-response)"] = await ask(a, "ping")
        out["ws: autots after ping"] = await ask(a, "autots")
        out["ws: PING (not the request)"] = await ask(a, "PING")
        for n in ATTACHMENT_SIZES:
            out[f"ws: serializeAttachment(string of {n})"] = await ask(a, f"att:{n}")
        victim = await connect(tags="victim", user="vic")
        for code in CLOSE_CODES:
            out[f"ws: close({code})"] = await ask(a, f"badclose:{code}")
        out["ws: close(2999): its client sees"] = await receive(victim)
        victim = await connect(tags="victim", user="vic2")
        out["ws: send() after close()"] = await ask(a, "sendafterclose")
        out["ws: the closed socket's client sees"] = await receive(victim)
        await b.close(code=4321, message=b"leaving")
        last = None
        for _ in range(100):  # the close handler runs after the client's close; bounded wait
            last = await ask(c, "lastclose")
            if last is not None:
                break
            await asyncio.sleep(0.02)
        out["ws: webSocketClose(code, reason, wasClean) after client close(4321)"] = last
        out["ws: server close(4000, 'bye')"] = await ask(c, "close")
        await a.send_str("boom")
        out["ws: handler throws; the same socket next"] = await ask(a, "after boom")
        d = await connect(user="dee")
        e = await connect(user="eve")

        async def after_abort(ws):
            """What a client of an aborted object sees: its socket ending, or an answer if still open."""
            try:
                return await asyncio.wait_for(receive(ws), 2)
            except TimeoutError:
                return {"still open, then 'all'": await ask(ws, "all")}

        await d.send_str("abort")  # ctx.abort() in a handler: the object is reset
        out["ws: ctx.abort() in a handler: that socket's client sees"] = await after_abort(d)
        out["ws: ctx.abort() in a handler: another socket's client sees"] = await after_abort(e)
        f, g = await connect(user="fay"), await connect(user="gus")
        await f.send_str("bcwthrow")  # blockConcurrencyWhile's callback throws: the object is reset
        out["ws: blockConcurrencyWhile throws in a handler: that socket's client sees"] = await after_abort(f)
        out["ws: blockConcurrencyWhile throws in a handler: another socket's client sees"] = await after_abort(g)
        out["ws: refused upgrade (fetch answers 403)"] = None
        for ws in (a, d, e, f, g):
            await ws.close()
        try:
            await connect(refuse="1")
        except aiohttp.WSServerHandshakeError as exc:
            out["ws: refused upgrade (fetch answers 403)"] = exc.status
    return out


async def run_ws_dotui() -> dict:
    from dotui.server.cli import start_gateway

    async with engine_on("sockets.py", WS_OBJECTS) as e:
        gw = await start_gateway(e, "127.0.0.1", 0)
        try:
            return await ws_scenario(gw.url, gw.token)
        finally:
            await gw.stop()


def run_ws_peer() -> dict:
    import secrets
    import signal

    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            ["node", "serve.mjs", "--persist", tmp, "--token", token],
            cwd=os.path.join(HERE, "peer"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = proc.stdout.readline()
            if not line.startswith("miniflare: "):
                raise RuntimeError(f"the peer did not start: {line!r}")
            return asyncio.run(ws_scenario(line.split(": ", 1)[1].strip(), token))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def main() -> int:
    import sql_scenario

    dotui = asyncio.run(run_dotui())
    peer = run_peer()
    dotui.update(asyncio.run(run_ws_dotui()))
    peer.update(run_ws_peer())
    sql_dotui = sql_scenario.flatten(asyncio.run(sql_scenario.run_dotui(engine_on)))
    sql_peer = sql_scenario.flatten(sql_scenario.run_peer())
    differences = diff(dotui, peer) + sql_scenario.diff(sql_dotui, sql_peer)
    DELIBERATE.update(sql_scenario.DELIBERATE)
    dotui.update(sql_dotui)
    peer.update(sql_peer)
    same = len(set(dotui) & set(peer)) - len(differences)
    print(f"{same} steps behave the same on dotui and workerd; {len(differences)} differ:")
    for key, a, b in differences:
        why = DELIBERATE.get(key, "UNEXPECTED: fix it or list it in DELIBERATE")
        print(f"- {key}\n    dotui:   {a}\n    workerd: {b}\n    why:     {why}")
    for key, why in ONLY_PEER.items():
        print(f"- {key}: workerd only ({why})")
    import examples_scenario  # Cloudflare's docs examples: the JavaScript on workerd, the Python port on dotui

    print("\nCloudflare's Durable Objects docs examples (bench/examples_scenario.py):")
    examples_failed = examples_scenario.main()
    import nesting  # blockConcurrencyWhile nested in one object, 1 to 5,000 deep

    print("\nblockConcurrencyWhile nesting (bench/nesting.py):")
    nesting_failed = nesting.main([])
    return 1 if examples_failed or nesting_failed or any(k not in DELIBERATE for k, _, _ in differences) else 0


if __name__ == "__main__":
    sys.exit(main())
