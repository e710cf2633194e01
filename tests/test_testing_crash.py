"""engine.crash() is faithful: what survives it is what survives a real SIGKILL at the same point
of the same workload (dotui/engine/durability/crash.py; docs/testing.md).

The workload leaves, at the point of the kill, every kind of write there is: acknowledged and
checkpointed, acknowledged and only in the log, with an alarm, committed but never acknowledged
(a call that wrote, then waits), and written but not yet committed (the kill lands in the same
loop turn as the write). A child process runs it and SIGKILLs itself at the point; the test
runs it again on the testing kit's engine and calls engine.crash() at the same point. Then a
plain engine opens each folder and everything in it is compared.
"""

import asyncio
import subprocess
import sys
import textwrap

from dotui import Engine, EngineClosedError
from dotui.testing import TestEngine
from tests.conftest import ROOT, write_objects

OBJECTS = """
    import asyncio
    import crashpoint

    from dotui import DurableObject

    class Ledger(DurableObject):
        def add(self, key, value):
            self.ctx.storage.put(key, value)
            return key

        def arm(self, at):
            self.ctx.storage.set_alarm(at)

        async def add_and_wait(self, key, value):
            self.ctx.storage.put(key, value)
            await asyncio.Event().wait()

        async def add_then_die(self, key, value):
            self.ctx.storage.put(key, value)
            await crashpoint.die()

        def dump(self):
            alarm = self.ctx.storage.get_alarm()
            return {"values": self.ctx.storage.list(), "alarm": alarm and alarm.timestamp()}

        async def alarm(self, info):
            pass
"""

WORKLOAD = """
import asyncio

async def workload(engine):
    ns = engine.env.Ledger
    for i in range(20):                                   # acknowledged, then checkpointed
        await ns.get_by_name("a").add(f"k{i:02d}", i)
    await engine.hibernate_all()
    for i in range(10):                                   # acknowledged, only in the log
        await ns.get_by_name("b").add(f"k{i}", i)
    await ns.get_by_name("b").arm(4_000_000_000.0)
    waiting = asyncio.ensure_future(ns.get_by_name("c").add_and_wait("pending", 1))
    await asyncio.sleep(0)
    await engine.flush()                                  # committed, never acknowledged
    await ns.get_by_name("d").add("kept", 1)
    try:
        await ns.get_by_name("d").add_then_die("lost", 2)  # written, not committed: the kill lands here
    finally:
        waiting.cancel()
"""

CHILD = """
import asyncio, os, signal, sys
sys.path[:0] = [{root!r}, {lib!r}]
import crashpoint
from dotui import Engine

async def die():
    os.kill(os.getpid(), signal.SIGKILL)

crashpoint.die = die
{workload}

async def main():
    async with Engine(objects={objects!r}, data={data!r}, idle_timeout=3600, checkpoint_interval=3600) as e:
        await workload(e)

asyncio.run(main())
"""

NAMES = ("a", "b", "c", "d")


async def _survivors(objects, data) -> dict:
    async with Engine(objects=str(objects), data=str(data)) as e:
        names = sorted(r["name"] for r in e.instances("Ledger"))
        return {"names": names, **{n: await e.env.Ledger.get_by_name(n).dump() for n in NAMES}}


async def test_a_simulated_crash_keeps_exactly_what_a_sigkill_keeps(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "crashpoint.py").write_text("async def die():\n    raise RuntimeError('no crash point set')\n")
    monkeypatch.syspath_prepend(str(lib))
    objects = write_objects(tmp_path / "objects", ledger=OBJECTS)

    killed = tmp_path / "killed"
    code = CHILD.format(root=str(ROOT), lib=str(lib), workload=WORKLOAD, objects=str(objects), data=str(killed))
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr

    import crashpoint

    scope: dict = {}
    exec(textwrap.dedent(WORKLOAD), scope)
    kit = TestEngine(str(objects), str(tmp_path / "simulated"), idle_timeout=3600, checkpoint_interval=3600)
    monkeypatch.setattr(crashpoint, "die", kit.crash, raising=False)
    await kit.start()
    try:
        await scope["workload"](kit)
    except EngineClosedError:
        pass
    assert kit.crashed

    real = await _survivors(objects, killed)
    simulated = await _survivors(objects, tmp_path / "simulated")
    assert simulated == real
    # and what that is: every acknowledged write and what was committed; not what was only written
    assert real["a"]["values"] == {f"k{i:02d}": i for i in range(20)}
    assert real["b"] == {"values": {f"k{i}": i for i in range(10)}, "alarm": 4_000_000_000.0}
    assert real["c"]["values"] == {"pending": 1}
    assert real["d"]["values"] == {"kept": 1}
    assert real["names"] == ["a", "b", "c", "d"]
