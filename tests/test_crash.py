"""Durability under SIGKILL: every result a caller received is on disk.

A child process makes durable calls as fast as it can and prints each
acknowledged result; it is killed at a random moment, a new engine opens the
data folder, and every acknowledged value must be there. Twenty rounds, on the
same data folder, so kills also land in recovery and in checkpointing.
"""

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from tinydb import TinyDB

from dotui import Engine
from tests.conftest import ROOT, write_objects

pytestmark = [pytest.mark.slow]

OBJECTS = """
    from dotui import DurableObject

    class Counter(DurableObject):
        def increment(self):
            n = self.ctx.storage.get("n", 0) + 1
            self.ctx.storage.put("n", n)
            return n

        def peek(self):
            return self.ctx.storage.get("n", 0)

    class Journal(DurableObject):
        def add(self, key, value):
            self.ctx.storage.put(key, value)
            return key

        def get(self, keys):
            return self.ctx.storage.get(keys)
"""

CHILD = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, {root!r})
    from dotui import Engine

    async def worker(e, name, round_no):
        c = e.env.Counter.get_by_name(name)
        j = e.env.Journal.get_by_name(name)
        i = 0
        while True:
            n = await c.increment()
            print(f"C {{name}} {{n}}", flush=True)
            key = f"r{{round_no}}/{{i:06d}}"
            await j.add(key, n)
            print(f"J {{name}} {{key}} {{n}}", flush=True)
            i += 1

    async def main():
        e = Engine(objects={objects!r}, data={data!r}, checkpoint_interval=0.2, idle_timeout=0.3)
        await e.start()
        print("started", flush=True)
        await asyncio.gather(*(worker(e, f"w{{k}}", {round_no}) for k in range(4)))

    asyncio.run(main())
""")


def test_every_acknowledged_write_survives_sigkill(tmp_path):
    objs = write_objects(tmp_path / "objects", crash=OBJECTS)
    data = tmp_path / "data"
    rng = random.Random(int(os.environ.get("DOTUI_CRASH_SEED", "7")))
    acked_counts: dict[str, int] = {}
    acked_keys: dict[str, dict[str, int]] = {}
    total_acks = 0
    for round_no in range(20):
        code = CHILD.format(root=str(ROOT), objects=str(objs), data=str(data), round_no=round_no)
        child = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        # Kill at a random moment: sometimes during start-up and recovery, mostly under load.
        time.sleep(rng.uniform(0.05, 1.2))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate()
        assert child.returncode == -signal.SIGKILL, err
        for line in out.splitlines():
            parts = line.split()
            if not parts or parts[-1] == "" or len(parts) < 3:
                continue
            if parts[0] == "C" and len(parts) == 3 and parts[2].isdigit():
                acked_counts[parts[1]] = max(acked_counts.get(parts[1], 0), int(parts[2]))
                total_acks += 1
            elif parts[0] == "J" and len(parts) == 4 and parts[3].isdigit():
                acked_keys.setdefault(parts[1], {})[parts[2]] = int(parts[3])
                total_acks += 1
        asyncio.run(_verify(objs, data, acked_counts, acked_keys))
    assert total_acks > 2000, f"only {total_acks} acknowledged calls: the child barely ran"


async def _verify(objs, data, acked_counts, acked_keys):
    # Every checkpoint file parses as a TinyDB database.
    for folder in ("Counter", "Journal"):
        path = data / folder
        if path.exists():
            for f in path.glob("*.json"):
                with TinyDB(str(f), access_mode="r") as db:
                    db.table("storage").all()
    async with Engine(objects=str(objs), data=str(data)) as e:
        for name, n in acked_counts.items():
            durable = await e.env.Counter.get_by_name(name).peek()
            assert durable >= n, f"{name}: acknowledged {n}, found {durable} after the kill"
        for name, keys in acked_keys.items():
            ordered = sorted(keys)
            stub = e.env.Journal.get_by_name(name)
            for i in range(0, len(ordered), 128):
                chunk = ordered[i : i + 128]
                found = await stub.get(chunk)
                missing = [k for k in chunk if found.get(k) != keys[k]]
                assert not missing, f"{name}: acknowledged keys lost after the kill: {missing[:5]}"
