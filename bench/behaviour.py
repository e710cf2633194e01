"""The workerd behaviour scenario (bench/peer/worker.js, class Scenario) run on dotui,
and the diff of the two.

    python bench/behaviour.py            # runs both sides, prints the differences

Every difference must be either fixed or listed in DELIBERATE with its reason;
tests/test_peer_behaviour.py fails on any other.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from dotui import Engine  # noqa: E402

OBJECTS = '''
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
'''

# Differences that are choices, not bugs: key -> why.
DELIBERATE = {
    "put(key of 2049 bytes)": "dotui enforces Cloudflare's production key limit (2,048 bytes); the local workerd does not",
    "put(value string of 128 KiB + 1)": "dotui enforces the production value limit (128 KiB); the local workerd does not",
    "put(value string of 2 MiB + 1)": "dotui enforces the production value limit (128 KiB); the local workerd does not",
    "get(129 keys)": "dotui enforces the production batch limit (128 keys); the local workerd does not",
    "put(129 entries)": "dotui enforces the production batch limit (128 keys); the local workerd does not",
    "delete(129 keys)": "dotui enforces the production batch limit (128 keys); the local workerd does not",
}
# Steps that only one side can have.
ONLY_PEER = {'backend: ctx.storage.sql.exec("SELECT 1")': "dotui has no SQL API: its storage is the key-value API"}


async def run_dotui() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        objs = os.path.join(tmp, "objects")
        os.makedirs(objs)
        with open(os.path.join(objs, "scenario.py"), "w") as f:
            f.write(OBJECTS)
        async with Engine(objects=objs, data=os.path.join(tmp, "data")) as e:
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
        except Exception as exc:  # noqa: BLE001
            return f"{type(exc).__name__}: {exc}"

    C, O = e.env.Counter, e.env.Other
    named = C.id_from_name("alice")
    hx = named.hex
    return {
        'COUNTER.idFromString("xyz")': attempt(lambda: C.id_from_string("xyz")),
        "COUNTER.idFromString(64 x '0')": attempt(lambda: C.id_from_string("0" * 64)),
        "COUNTER.idFromString(id from OTHER namespace)": attempt(lambda: C.id_from_string(O.new_unique_id().hex)),
        'idFromName("alice").toString()': {
            "length": len(hx), "lowercase_hex": hx == hx.lower() and all(c in "0123456789abcdef" for c in hx),
            "stable": C.id_from_name("alice").hex == hx, "differs_across_namespaces": O.id_from_name("alice").hex != hx,
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
        "3 overlapping bump_blocked, then peek": list(await asyncio.gather(
            blocked.bump_blocked(), blocked.bump_blocked(), blocked.bump_blocked(), blocked.peek())),
        "2 overlapping bump_racy, then peek": list(await asyncio.gather(racy.bump_racy(), racy.bump_racy(), racy.peek())),
        "2 overlapping bump_racy; peek after both": await racy.peek(),
    }


def run_peer() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["node", "scenario.mjs", "--persist", tmp], cwd=os.path.join(HERE, "peer"),
                             capture_output=True, text=True, timeout=120)
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
    return isinstance(a, str) and isinstance(b, str) and b != "no error" and a.startswith(b.rstrip(".") )


def diff(dotui: dict, peer: dict) -> list[tuple[str, object, object]]:
    out = []
    for key in sorted(set(dotui) | set(peer)):
        if key in ONLY_PEER:
            continue
        a, b = _normalize(dotui.get(key, "<missing>")), _normalize(peer.get(key, "<missing>"))
        if a != b and not _extends(a, b):
            out.append((key, dotui.get(key, "<missing>"), peer.get(key, "<missing>")))
    return out


def main() -> int:
    dotui = asyncio.run(run_dotui())
    peer = run_peer()
    differences = diff(dotui, peer)
    same = len(set(dotui) & set(peer)) - len(differences)
    print(f"{same} steps behave the same on dotui and workerd; {len(differences)} differ:")
    for key, a, b in differences:
        why = DELIBERATE.get(key, "UNEXPECTED: fix it or list it in DELIBERATE")
        print(f"- {key}\n    dotui:   {a}\n    workerd: {b}\n    why:     {why}")
    for key, why in ONLY_PEER.items():
        print(f"- {key}: workerd only ({why})")
    return 1 if any(k not in DELIBERATE for k, _, _ in differences) else 0


if __name__ == "__main__":
    sys.exit(main())
