"""Crash and fault soak: an answer means durable, whatever happens to the process or the disk.

    python bench/soak.py --rounds 200 [--seed N] [--data DIR]

Each round starts a child engine on the same data folder (so kills also land in
recovery and checkpointing) under a mixed load (bench/soak_objects.py):
sequential and concurrent increments, multi-key transactions (some rolled back),
delete_all, alarms, fan-out calls between objects, and WebSocket messages
through the gateway (answered after a durable write). The child prints every
acknowledged effect. Then, by round:

- kill rounds: the child is SIGKILLed at a random instant;
- fault rounds: the child makes one disk operation fail (EIO or ENOSPC on write,
  fsync, open, rename or mkdir; once, or every time for a while), checks that
  the engine answers again once the fault clears, and closes (a close that does
  not finish is a hang).

After each round a fresh engine opens the folder and every acknowledged effect
must be there: counts at least the acknowledged ones, a + b = 1000 in every
ledger (KV and SQLite-backed), every acknowledged SQL row in its table, no bin half-filled, every armed alarm fired, every answered fan-out on
all its leaves, every answered WebSocket message's write in its room, every
checkpoint file readable by TinyDB, every SQLite database passing its integrity
check and its history reading back whole. It prints rounds,
faults, acknowledged operations checked, losses, unreadable files and hangs, and
exits 1 if any of the last three is not zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinydb import TinyDB

from dotui import Engine
from dotui.engine.durability import pitr

OPS = ("write", "fsync", "open", "rename", "mkdir")
ERRNOS = {"EIO": 5, "ENOSPC": 28}

CHILD = textwrap.dedent("""
    import asyncio, errno, json, os, random, sys, time
    sys.path.insert(0, {root!r})
    from dotui import Engine
    from dotui.engine.durability import disk

    plan = json.loads({plan!r})
    rng = random.Random(plan["seed"])

    def ack(*parts):
        print(*parts, flush=True)

    failed = {{"n": 0}}

    async def guarded(coro):
        try:
            return await coro
        except Exception as exc:  # a fault, or a refused transfer: not acknowledged
            if "refused transfer" not in str(exc):
                failed["n"] += 1
                # A wake that fails fails at once, without yielding: a worker retrying in a loop
                # would never let the loop run (the fault would never clear).
                await asyncio.sleep(0.01)
            return exc

    async def counter_worker(e, name, seq0):
        c = e.env.Counter.get_by_name(name)
        while True:
            r = await guarded(c.increment())
            if isinstance(r, int):
                ack("C", name, r)

    async def concurrent_worker(e):
        c = e.env.Counter.get_by_name("shared")
        while True:
            rs = await asyncio.gather(*(guarded(c.increment()) for _ in range(8)))
            for r in rs:
                if isinstance(r, int):
                    ack("C", "shared", r)

    async def seq_worker(e, kind, name, seq0):
        seq = seq0
        while True:
            seq += 1
            if kind == "ledger":
                r = await guarded(e.env.Ledger.get_by_name(name).transfer(seq, rng.randint(1, 50)))
            elif kind == "bin":
                stub = e.env.Bin.get_by_name(name)
                r = await guarded(stub.fill(seq) if seq % 2 else stub.clear(seq))
            elif kind == "waker":
                r = await guarded(e.env.Waker.get_by_name(name).arm(seq, rng.uniform(0.05, 0.6)))
                await asyncio.sleep(0.02)
            elif kind == "sqlledger":
                r = await guarded(e.env.SqlLedger.get_by_name(name).transfer(seq, rng.randint(1, 50)))
            else:
                r = await guarded(e.env.Fan.get_by_name(name).spread(seq))
            if r == seq:
                ack(kind.upper(), name, seq)

    async def sqlrows_worker(e, name, seq0):
        stub = e.env.SqlRows.get_by_name(name)
        seq = seq0
        while True:
            batch = list(range(seq + 1, seq + 9))
            seq += 8
            rs = await asyncio.gather(*(guarded(stub.add(s)) for s in batch))
            for s, r in zip(batch, rs):
                if r == s:
                    ack("SQLROW", name, s)

    async def ws_worker(url, token, name, seq0):
        import aiohttp
        seq = seq0
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.ws_connect(f"{{url}}/ws/Room/{{name}}/",
                                                  headers={{"Authorization": f"Bearer {{token}}"}}) as ws:
                        while True:
                            seq += 1
                            await ws.send_str(str(seq))
                            msg = await ws.receive()
                            if msg.type != aiohttp.WSMsgType.TEXT or msg.data != str(seq):
                                failed["n"] += 1
                                break
                            ack("WS", name, seq)
                except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                    failed["n"] += 1
                await asyncio.sleep(0.05)

    async def faults(e):
        f = plan["fault"]
        await asyncio.sleep(f["after"])
        disk.faults.inject(f["op"], f["errno"], times=None if f["persistent"] else 1)
        ack("FAULT", f["op"], f["errno"], "persistent" if f["persistent"] else "once")
        await asyncio.sleep(f["hold"])
        disk.faults.clear()
        ack("CLEARED", failed["n"])
        # The engine must serve again: a fresh write answered after the fault is gone.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = await guarded(e.env.Counter.get_by_name("after-fault").increment())
            if isinstance(r, int):
                ack("C", "after-fault", r)
                ack("SERVING")
                return
            await asyncio.sleep(0.05)
        ack("NOT-SERVING")

    async def main():
        e = Engine(objects={objects!r}, data={data!r}, checkpoint_interval=0.2, idle_timeout=0.3,
                   alarm_retry_base=0.05)
        await e.start()
        from dotui.server import start_gateway
        gw = await start_gateway(e, "127.0.0.1", 0)
        ack("STARTED")
        seq0 = plan["seq0"]
        work = [counter_worker(e, f"w{{k}}", seq0) for k in range(2)] + [concurrent_worker(e)]
        work += [seq_worker(e, kind, f"{{kind}}{{k}}", seq0)
                 for kind in ("ledger", "bin", "waker", "fan", "sqlledger") for k in range(2)]
        work += [sqlrows_worker(e, f"rows{{k}}", seq0) for k in range(2)]
        work += [ws_worker(gw.url, gw.token, f"room{{k}}", seq0) for k in range(2)]
        tasks = [asyncio.ensure_future(w) for w in work]
        if plan["fault"]:
            await faults(e)
            await asyncio.sleep(plan["tail"])
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await asyncio.wait_for(gw.stop(), 20)
                await asyncio.wait_for(e.close(), 20)
                ack("CLOSED")
            except asyncio.TimeoutError:
                ack("HANG", "close")
                os._exit(3)
        else:
            await asyncio.gather(*tasks)

    asyncio.run(main())
""")


@dataclass
class Acks:
    counts: dict[str, int] = field(default_factory=dict)
    seqs: dict[tuple[str, str], int] = field(default_factory=dict)
    total: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # acknowledged operations by kind
    rows: dict[str, list[int]] = field(default_factory=dict)  # SqlRows: every acknowledged seq, by object

    def read(self, out: str) -> list[str]:
        events = []
        for line in out.splitlines():
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "C" and len(parts) == 3 and parts[2].isdigit():
                self.counts[parts[1]] = max(self.counts.get(parts[1], 0), int(parts[2]))
                self.total += 1
                self.kinds["increment"] = self.kinds.get("increment", 0) + 1
            elif parts[0] == "SQLROW" and len(parts) == 3 and parts[2].isdigit():
                self.rows.setdefault(parts[1], []).append(int(parts[2]))
                self.total += 1
                self.kinds["sqlrow"] = self.kinds.get("sqlrow", 0) + 1
            elif (
                parts[0] in ("LEDGER", "BIN", "WAKER", "FAN", "WS", "SQLLEDGER")
                and len(parts) == 3
                and parts[2].isdigit()
            ):
                key = (parts[0].lower(), parts[1])
                self.seqs[key] = max(self.seqs.get(key, 0), int(parts[2]))
                self.total += 1
                self.kinds[key[0]] = self.kinds.get(key[0], 0) + 1
            else:
                events.append(line)
        return events


@dataclass
class Tally:
    rounds: int = 0
    kills: int = 0
    faults: int = 0
    checked: int = 0
    losses: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    not_serving: list[str] = field(default_factory=list)
    failed_calls: int = 0  # calls answered with an error while a fault was on: the faults bit


async def verify(objects: Path, data: Path, acks: Acks, tally: Tally, label: str) -> None:
    for f in data.glob("*/*.json"):
        try:
            with TinyDB(str(f), access_mode="r") as db:
                db.table("storage").all()
        except Exception as exc:  # noqa: BLE001 - counted and named
            tally.unreadable.append(f"{label}: {f}: {exc}")
    for f in data.glob("*/*.sqlite"):
        _check_database(f, tally, label)
    try:
        async with Engine(objects=str(objects), data=str(data), alarm_retry_base=0.05) as e:
            await asyncio.wait_for(_check(e, acks, tally, label), 30)
    except TimeoutError:
        tally.hangs.append(f"{label}: verification did not finish")
    except Exception as exc:  # noqa: BLE001 - a start that fails is a finding
        tally.losses.append(f"{label}: the engine did not start on the folder: {type(exc).__name__}: {exc}")


def _check_database(f: Path, tally: Tally, label: str) -> None:
    """A SQLite-backed object's files: the database opens and passes SQLite's integrity check, its
    history reads back whole (pitr.read raises for damage before the end)."""
    try:
        conn = sqlite3.connect(str(f))
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        if ok != "ok":
            tally.unreadable.append(f"{label}: {f}: integrity_check says {ok}")
        for _ in pitr.read(pitr.history_of(str(f))):
            pass
    except Exception as exc:  # noqa: BLE001 - counted and named
        tally.unreadable.append(f"{label}: {f}: {type(exc).__name__}: {exc}")


async def _check(e: Engine, acks: Acks, tally: Tally, label: str) -> None:
    def lost(what: str) -> None:
        tally.losses.append(f"{label}: {what}")

    for name, n in acks.counts.items():
        got = await e.env.Counter.get_by_name(name).peek()
        tally.checked += 1
        if got < n:
            lost(f"Counter/{name}: acknowledged {n}, found {got}")
    for name, seqs in acks.rows.items():
        stub = e.env.SqlRows.get_by_name(name)
        tally.checked += 1
        for i in range(0, len(seqs), 90):
            missing = await stub.has(seqs[i : i + 90])
            if missing:
                lost(f"SqlRows/{name}: acknowledged rows {missing[:5]} are not in the table")
        await _check_alarm(e, name, 0, lost, stub)
    for (kind, name), seq in acks.seqs.items():
        tally.checked += 1
        if kind == "ledger":
            s = await e.env.Ledger.get_by_name(name).state()
            if s.get("a", 1000) + s.get("b", 0) != 1000:
                lost(f"Ledger/{name}: a + b = {s.get('a', 1000) + s.get('b', 0)}, not 1000: a transaction came apart")
            if s.get("seq", 0) < seq:
                lost(f"Ledger/{name}: acknowledged transfer {seq}, found {s.get('seq')}")
        elif kind == "bin":
            s = await e.env.Bin.get_by_name(name).state()
            ks = {v for k, v in s.items() if k.startswith("k")}
            if s.get("seq", 0) < seq:
                lost(f"Bin/{name}: acknowledged op {seq}, found {s.get('seq')}")
            if ks and (ks != {s.get("seq")} or len(s) != 9):
                lost(f"Bin/{name}: half a fill or a clear: {s}")
        elif kind == "waker":
            await _check_alarm(e, name, seq, lost)
        elif kind == "sqlledger":
            s = await e.env.SqlLedger.get_by_name(name).state()
            if s.get("a", 0) + s.get("b", 0) != 1000:
                lost(f"SqlLedger/{name}: a + b = {s.get('a', 0) + s.get('b', 0)}, not 1000: a transaction came apart")
            if s.get("seq", 0) < seq:
                lost(f"SqlLedger/{name}: acknowledged transfer {seq}, found {s.get('seq')}")
        elif kind == "ws":
            got = await e.env.Room.get_by_name(name).peek()
            if got < seq:
                lost(f"Room/{name}: message {seq} was answered, the room holds {got}")
        else:
            fan = e.env.Fan.get_by_name(name)
            if await fan.peek() < seq:
                lost(f"Fan/{name}: acknowledged spread {seq}, fan holds {await fan.peek()}")
            for i in range(3):
                if await e.env.Leaf.get_by_name(f"{name}-{i}").peek() < seq:
                    lost(f"Fan/{name}: acknowledged spread {seq}, leaf {i} does not hold it")


async def _check_alarm(e: Engine, name: str, seq: int, lost, stub=None) -> None:
    stub = stub or e.env.Waker.get_by_name(name)
    deadline = time.monotonic() + 10
    while True:
        s = await stub.state()
        if s.get("armed", 0) < seq:
            lost(f"Waker/{name}: acknowledged arm {seq}, found {s.get('armed')}")
            return
        if s.get("fired") == s.get("armed") and not s["alarm"]:
            return
        if time.monotonic() > deadline:
            lost(f"Waker/{name}: armed {s.get('armed')} never fired (fired {s.get('fired')})")
            return
        await asyncio.sleep(0.05)


def plan_round(rng: random.Random, round_no: int) -> dict:
    plan = {"seed": rng.randrange(1 << 30), "seq0": (round_no + 1) * 1_000_000, "fault": None, "tail": 0.3}
    if round_no % 2:
        plan["fault"] = {
            "op": rng.choice(OPS),
            "errno": ERRNOS[rng.choice(list(ERRNOS))],
            "persistent": rng.random() < 0.5,
            "after": rng.uniform(0.1, 0.8),
            "hold": rng.uniform(0.05, 0.5),
        }
    return plan


def _kill_at_random(child: subprocess.Popen, rng: random.Random) -> tuple[str, str]:
    """SIGKILL the child at a random instant: one kill in five during start-up and recovery, the
    others under load (timed from its STARTED line: a start-up on a busy machine can take longer
    than the whole window). Its output is read meanwhile, so a full pipe never stops it."""
    lines: list[str] = []
    started = threading.Event()

    def drain() -> None:
        for line in child.stdout:
            lines.append(line)
            if line.startswith("STARTED"):
                started.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    if rng.random() < 0.2:
        time.sleep(rng.uniform(0.05, 1.2))
    else:
        started.wait(30)
        time.sleep(rng.uniform(0.05, 1.2))
    child.send_signal(signal.SIGKILL)
    child.wait()
    reader.join(10)
    return "".join(lines), child.stderr.read()


def run_round(objects: Path, data: Path, rng: random.Random, round_no: int, acks: Acks, tally: Tally) -> None:
    plan = plan_round(rng, round_no)
    code = CHILD.format(root=str(ROOT), objects=str(objects), data=str(data), plan=json.dumps(plan))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    label = f"round {round_no}"
    if plan["fault"]:
        tally.faults += 1
        f = plan["fault"]
        label += f" ({f['op']} errno {f['errno']} {'persistent' if f['persistent'] else 'once'})"
        try:
            out, err = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            tally.hangs.append(f"{label}: the child did not finish")
    else:
        tally.kills += 1
        out, err = _kill_at_random(child, rng)
    events = acks.read(out)
    for line in events:
        if line.startswith("CLEARED "):
            tally.failed_calls += int(line.split()[1])
    if plan["fault"]:
        if "HANG close" in events:
            tally.hangs.append(f"{label}: close() did not finish")
        if "NOT-SERVING" in events:
            tally.not_serving.append(f"{label}: no call answered once the fault cleared")
        if child.returncode not in (0, -signal.SIGKILL) and "HANG close" not in events:
            tally.losses.append(f"{label}: the child failed: {err.strip()[-400:]}")
    asyncio.run(verify(objects, data, acks, tally, label))
    tally.rounds += 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("DOTUI_SOAK_SEED", "1")))
    ap.add_argument("--data", help="data folder (default: a new temporary folder)")
    ap.add_argument("--json", action="store_true", help="print the tally as JSON")
    ap.add_argument("--verbose", action="store_true", help="print each finding as it is found")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="dotui-soak-"))
    objects = base / "objects"
    objects.mkdir(parents=True, exist_ok=True)
    (objects / "soak.py").write_text((ROOT / "bench" / "soak_objects.py").read_text())
    data = base / "data"
    acks, tally = Acks(), Tally()
    t0 = time.monotonic()
    shown = 0
    for r in range(args.rounds):
        run_round(objects, data, rng, r, acks, tally)
        if not args.json:
            print(
                f"\rround {r + 1}/{args.rounds}: {acks.total} acknowledged, {len(tally.losses)} losses",
                end="",
                flush=True,
                file=sys.stderr,
            )
        if args.verbose:
            for line in (tally.losses + tally.unreadable + tally.hangs + tally.not_serving)[shown:]:
                print(f"\n  {line}", file=sys.stderr)
            shown = len(tally.losses + tally.unreadable + tally.hangs + tally.not_serving)
    report = {
        "rounds": tally.rounds,
        "kills": tally.kills,
        "faults": tally.faults,
        "acknowledged": acks.total,
        "acknowledged_by_kind": acks.kinds,
        "checked": tally.checked,
        "losses": len(tally.losses),
        "unreadable_files": len(tally.unreadable),
        "hangs": len(tally.hangs),
        "not_serving_after_fault": len(tally.not_serving),
        "calls_failed_by_faults": tally.failed_calls,
        "seconds": round(time.monotonic() - t0, 1),
        "seed": args.seed,
        "data": str(data),
        "findings": (tally.losses + tally.unreadable + tally.hangs + tally.not_serving)[:20],
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(file=sys.stderr)
        print(
            f"rounds {report['rounds']} ({report['kills']} SIGKILL, {report['faults']} disk faults) in "
            f"{report['seconds']} s; seed {args.seed}"
        )
        print(
            "acknowledged by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(report["acknowledged_by_kind"].items()))
        )
        print(
            f"acknowledged operations {report['acknowledged']}, objects checked {report['checked']}, "
            f"calls failed by the faults {report['calls_failed_by_faults']}"
        )
        print(
            f"losses {report['losses']}, unreadable files {report['unreadable_files']}, hangs {report['hangs']}, "
            f"not serving after a fault {report['not_serving_after_fault']}"
        )
        for line in report["findings"]:
            print("  " + line)
    bad = report["losses"] or report["unreadable_files"] or report["hangs"] or report["not_serving_after_fault"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
