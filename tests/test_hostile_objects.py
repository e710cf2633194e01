"""Object code that does not behave, and objects-folder files that are not Python source (docs/trust.md,
"Imports, reloads and object code" and "Objects-folder sources").

Each test is one way an objects folder can take the engine down or stall it: an exit at import or in a
method, an import that blocks, a file that is not UTF-8 text, a huge file, a FIFO; and the testing kit's
clock doing work per simulated second instead of per timer due.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import COUNTER, HANG_GUARD, engine_of, eventually, write_objects
from dotui import Engine
from dotui.engine.errors import BrokenObjectError
from dotui.engine.loader import load_objects
from dotui.ops import LocalEngine
from dotui.testing.kit import TestEngine

MAX_SOURCE_BYTES = 1 << 20

pytestmark = pytest.mark.hostile

REPO = Path(__file__).resolve().parent.parent
BATCH_GUARD = 60  # seconds a `dotui` subprocess may take before the test calls it hung


def dotui(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "dotui.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=BATCH_GUARD,
    )


def blocking_import(flag: Path, seconds: float = 3.0) -> str:
    """A file whose top level blocks until ``flag`` exists (for at most ``seconds``), then defines Slow."""
    return f"""
        import os, time
        from dotui import DurableObject

        deadline = time.monotonic() + {seconds}
        while not os.path.exists({str(flag)!r}) and time.monotonic() < deadline:
            time.sleep(0.01)

        class Slow(DurableObject):
            def ping(self):
                return "pong"
    """


# ---------------------------------------------------------------- an exit at import
@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_objects(tmp_path / "objects", counter=COUNTER)
    return tmp_path


@pytest.mark.parametrize(
    "exit_line, named",
    [
        ("import sys; sys.exit()", "SystemExit"),
        ("raise SystemExit(3)", "SystemExit: 3"),
        ("raise GeneratorExit('at import')", "GeneratorExit: at import"),
        ("class Stop(BaseException): pass\nraise Stop('everything')", "Stop: everything"),
    ],
    ids=["sys.exit", "SystemExit", "GeneratorExit", "own-BaseException"],
)
def test_an_exit_at_import_is_that_files_load_error(tmp_path, exit_line, named):
    objs = write_objects(tmp_path / "objects", counter=COUNTER, quitter=f"x = 1\n{exit_line}\n")
    namespaces, errors = load_objects(str(objs))
    assert list(namespaces) == ["Counter"]
    [error] = errors
    assert error.file.endswith("quitter.py") and error.line == 1 + exit_line.count("\n") + 1
    assert named in error.message


@pytest.mark.slow
@pytest.mark.parametrize("how", ["-c", "--json", "script"])
def test_a_batch_command_on_a_folder_with_an_exit_at_import_reports_it_and_exits_1(workdir, how):
    (workdir / "objects" / "quitter.py").write_text("import sys\nsys.exit(0)\n")
    line = "Counter/a.increment()"
    if how == "script":
        proc = dotui(workdir, "--on-error", "continue", stdin=line + "\n")
    else:
        proc = dotui(workdir, "--on-error", "continue", *(["--json"] if how == "--json" else []), "-c", line)
    assert proc.returncode == 1, proc.stderr
    assert "objects/quitter.py:2" in proc.stderr and "SystemExit" in proc.stderr
    assert "Traceback" not in proc.stderr
    if how == "--json":
        assert [d["result"] for d in map(json.loads, proc.stdout.splitlines()) if "result" in d] == [1]
    else:
        assert proc.stdout.strip() == "1"  # the other files loaded, and the engine answered


# ---------------------------------------------------------------- an exit in object code
QUITTER = """
    import asyncio, sys
    from dotui import DurableObject

    class Stop(BaseException):
        pass

    class Quitter(DurableObject):
        def quit(self):
            sys.exit(4)

        def stop(self):
            raise Stop("a BaseException of its own")

        async def spawn(self):
            async def boom():
                raise SystemExit("from a task it started")
            self.task = asyncio.create_task(boom())
            await asyncio.sleep(0.01)
            return "spawned"

        async def task_error(self):
            try:
                await self.task
            except RuntimeError as exc:
                return str(exc)

        async def later(self):
            await asyncio.sleep(0)
            raise SystemExit("from a coroutine")

        def alarm(self):
            raise SystemExit("from the alarm")

        def arm(self):
            self.ctx.storage.set_alarm(self.ctx.now())

    class ExitsAtWake(DurableObject):
        def __init__(self, ctx, env):
            raise SystemExit(6)

        def m(self):
            return 1
"""


async def test_an_exit_in_a_method_is_the_callers_error_and_the_engine_goes_on(tmp_path):
    async with engine_of(tmp_path, counter=COUNTER, quitter=QUITTER) as e:
        q = e.env.Quitter.get_by_name("q")
        for method, raised in (("quit", r"SystemExit\(4\)"), ("later", "SystemExit"), ("stop", "Stop")):
            with pytest.raises(RuntimeError, match=f"Quitter.{method} raised {raised}.*cannot stop the engine"):
                await asyncio.wait_for(getattr(q, method)(), HANG_GUARD)
        assert await asyncio.wait_for(q.spawn(), HANG_GUARD) == "spawned"  # its task's exit stopped nothing
        assert "raised SystemExit(from a task it started)" in await q.task_error()
        with pytest.raises(BrokenObjectError, match="SystemExit"):
            await asyncio.wait_for(e.env.ExitsAtWake.get_by_name("w").m(), HANG_GUARD)
        await asyncio.wait_for(q.arm(), HANG_GUARD)
        deadline = time.monotonic() + HANG_GUARD
        while not e.stats().get("alarms_retried") and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert e.stats()["alarms_retried"] >= 1  # its exit was the alarm's failure: tried again later
        assert await asyncio.wait_for(e.env.Counter.get_by_name("c").increment(), HANG_GUARD) == 1


@pytest.mark.slow
def test_a_batch_command_never_waits_on_a_dead_engine_thread(workdir):
    # A callback object code schedules runs outside every call: its SystemExit stops the engine's
    # loop. The front end notices the thread's death and says so, instead of waiting forever.
    (workdir / "objects" / "killer.py").write_text(
        textwrap.dedent("""
        import asyncio, sys
        from dotui import DurableObject

        class Killer(DurableObject):
            def kill(self):
                asyncio.get_running_loop().call_soon(sys.exit, 9)
                return "scheduled"
    """)
    )
    proc = dotui(
        workdir, "--on-error", "continue", "-c", "Killer/k.kill()", "-c", "sleep 0.2", "-c", "Counter/a.increment()"
    )
    assert proc.returncode == 1
    assert "engine thread stopped" in proc.stderr and "SystemExit" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_wait_on_a_dead_engine_thread_ends(workdir):
    (workdir / "objects" / "killer.py").write_text(
        textwrap.dedent("""
        import asyncio, sys
        from dotui import DurableObject

        class Killer(DurableObject):
            async def kill(self):
                asyncio.get_running_loop().call_soon(sys.exit, 9)
                await asyncio.sleep(3600)
    """)
    )
    from dotui.engine.errors import EngineClosedError

    facade = LocalEngine(str(workdir / "objects"), str(workdir / "data")).start()
    try:
        pending = facade.call_async("Killer", "k", "kill")
        with pytest.raises(EngineClosedError, match="engine thread stopped.*SystemExit"):
            pending.result(HANG_GUARD)  # a wait begun before the death
        with pytest.raises(EngineClosedError, match="engine thread stopped"):
            facade.info()  # and one begun after it
    finally:
        started = time.monotonic()
        facade.close()
        assert time.monotonic() - started < HANG_GUARD


# ---------------------------------------------------------------- imports off the engine's loop, bounded
async def test_live_objects_answer_calls_while_a_reload_import_blocks(tmp_path):
    flag = tmp_path / "go"
    async with engine_of(tmp_path, counter=COUNTER) as e:
        counter = e.env.Counter.get_by_name("c")
        assert await counter.increment() == 1
        write_objects(tmp_path / "objects", slow=blocking_import(flag))
        reload = asyncio.ensure_future(e.reload())
        try:
            await asyncio.sleep(0.05)
            assert await asyncio.wait_for(counter.increment(), HANG_GUARD) == 2
            assert not reload.done()  # the call was answered while the import still ran
        finally:
            flag.touch()
        assert await asyncio.wait_for(reload, HANG_GUARD) == []
        assert await e.env.Slow.get_by_name("s").ping() == "pong"


async def test_an_import_past_the_bound_is_that_files_error_and_a_later_reload_works(tmp_path):
    flag = tmp_path / "go"
    async with engine_of(tmp_path, {"import_timeout": 0.3}, counter=COUNTER) as e:
        write_objects(tmp_path / "objects", slow=blocking_import(flag, seconds=HANG_GUARD))
        try:
            [error] = await asyncio.wait_for(e.reload(), HANG_GUARD)
            assert error.file.endswith("slow.py") and "import took longer than 0.3 s" in error.message
            # The same file again, its first import still running: refused at once, no second thread.
            started = time.monotonic()
            [again] = await asyncio.wait_for(e.reload(), HANG_GUARD)
            assert "still running" in again.message and time.monotonic() - started < 0.3
        finally:
            flag.touch()
        write_objects(tmp_path / "objects", slow=blocking_import(flag, seconds=0))
        assert await asyncio.wait_for(e.reload(), HANG_GUARD) == []
        assert await e.env.Slow.get_by_name("s").ping() == "pong"
        assert await e.env.Counter.get_by_name("c").increment() == 1


async def test_an_import_that_hangs_does_not_hang_the_start(tmp_path):
    flag = tmp_path / "go"
    objs = write_objects(tmp_path / "objects", counter=COUNTER, slow=blocking_import(flag, seconds=HANG_GUARD))
    e = Engine(objects=str(objs), data=str(tmp_path / "data"), import_timeout=0.3)
    try:
        await asyncio.wait_for(e.start(), HANG_GUARD)
        assert [x.file.endswith("slow.py") for x in e.load_errors] == [True]
        assert await e.env.Counter.get_by_name("c").increment() == 1
    finally:
        flag.touch()
        await asyncio.wait_for(e.close(), HANG_GUARD)


# ---------------------------------------------------------------- objects-folder sources
def test_files_that_are_not_python_source_are_load_errors_and_the_others_load(tmp_path):
    objs = write_objects(tmp_path / "objects", counter=COUNTER)
    (objs / "latin.py").write_bytes(b"from dotui import DurableObject\nname = 'caf\xe9'\n")
    (objs / "binary.py").write_bytes(b"x = 1\n\x00\x01\x02")
    (objs / "huge.py").write_bytes(b"x = 1\n" * (MAX_SOURCE_BYTES // 6 + 1))
    (objs / "folder.py").mkdir()
    os.mkfifo(objs / "fifo.py")  # opening it for reading would wait for a writer forever
    (objs / "zero.py").symlink_to("/dev/zero")  # reading it would never end
    started = time.monotonic()
    namespaces, errors = load_objects(str(objs))
    assert time.monotonic() - started < HANG_GUARD
    assert list(namespaces) == ["Counter"]
    said = {Path(e.file).name: str(e) for e in errors}
    assert set(said) == {"latin.py", "binary.py", "huge.py", "folder.py", "fifo.py", "zero.py"}
    assert "latin.py:2" in said["latin.py"] and "not UTF-8" in said["latin.py"] and "0xe9" in said["latin.py"]
    assert "binary.py:2" in said["binary.py"] and "NUL byte" in said["binary.py"]
    assert f"larger than {MAX_SOURCE_BYTES:,} bytes" in said["huge.py"]
    for name in ("folder.py", "fifo.py", "zero.py"):
        assert "not a regular file" in said[name]
    assert not any("Traceback" in s for s in said.values())


def test_a_declared_source_encoding_is_honoured(tmp_path):
    objs = write_objects(tmp_path / "objects")
    (objs / "latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nfrom dotui import DurableObject\n\n"
        b"class Cafe(DurableObject):\n    def name(self):\n        return 'caf\xe9'\n"
    )
    namespaces, errors = load_objects(str(objs))
    assert errors == [] and list(namespaces) == ["Cafe"]


# ---------------------------------------------------------------- the kit's clock
async def test_a_year_on_the_kits_clock_costs_the_timers_due_not_the_seconds(tmp_path):
    objs = write_objects(tmp_path / "objects", counter=COUNTER)
    kit = TestEngine(str(objs), str(tmp_path / "data"), idle_timeout=10)
    await kit.start()
    try:
        counter = kit.env.Counter.get_by_name("c")
        assert await counter.increment() == 1
        fired = kit.clock.timers_fired
        await asyncio.wait_for(kit.clock.advance(days=400), HANG_GUARD * 3)
        # The idle timeout hibernates it and the checkpoint interval comes once: a few timers, not
        # one per idle period (3.5 million) or per checkpoint interval (576,000).
        assert kit.clock.timers_fired - fired <= 3
        assert kit.state(counter) == "hibernated"
        assert await counter.increment() == 2  # and it wakes with its storage
        fired = kit.clock.timers_fired
        await kit.clock.advance(days=400)
        assert kit.clock.timers_fired - fired <= 3 and kit.state(counter) == "hibernated"
    finally:
        await kit.close()


async def test_the_checkpoint_interval_still_comes_while_changes_wait_for_it(tmp_path):
    objs = write_objects(tmp_path / "objects", counter=COUNTER)
    kit = TestEngine(str(objs), str(tmp_path / "data"), idle_timeout=10**9)  # never hibernates: no request
    await kit.start()
    try:
        assert await kit.env.Counter.get_by_name("c").increment() == 1
        assert kit.durable.held_count == 1
        await kit.clock.advance(kit.checkpoint_interval)

        async def checkpointed() -> bool:
            return kit.durable.held_count == 0

        assert await eventually(checkpointed)
        fired = kit.clock.timers_fired
        await kit.clock.advance(days=400)
        assert kit.clock.timers_fired - fired == 0  # nothing waits for a checkpoint, nothing is idle enough
    finally:
        await kit.close()


async def test_an_object_kept_busy_by_its_own_task_costs_no_timer_per_second(tmp_path):
    objs = write_objects(
        tmp_path / "objects",
        worker="""
        import asyncio
        from dotui import DurableObject

        class Worker(DurableObject):
            def start(self):
                self.go = asyncio.Event()
                self.ctx.wait_until(self.go.wait())  # busy until told: it may not hibernate
                return "started"

            def finish(self):
                self.go.set()
    """,
    )
    kit = TestEngine(str(objs), str(tmp_path / "data"), idle_timeout=10)
    await kit.start()
    try:
        worker = kit.env.Worker.get_by_name("w")
        assert await worker.start() == "started"
        fired = kit.clock.timers_fired
        await asyncio.wait_for(kit.clock.advance(days=1), HANG_GUARD)
        # Past its idle timeout it is busy, so it stays; nothing polls it (that was every 2.5 s).
        assert kit.state(worker) == "live" and kit.clock.timers_fired - fired <= 2
        await worker.finish()
        await kit.clock.advance(10)  # once its task is done, the idle timeout hibernates it
        assert kit.state(worker) == "hibernated"
    finally:
        await kit.close()
