"""An object's lifecycle as one unit: the call queue's order, tasks an object started,
ctx.abort(), and the engine's counts after every kind of reset (README: "Semantics")."""

import asyncio

import pytest

from dotui import BrokenObjectError, Engine, ObjectAbortedError
from dotui.engine.errors import CommitFailedError
from tests.conftest import FailingLog, engine_of, write_objects

SOURCE = """
    import asyncio
    import os
    from dotui import DurableObject

    class Order(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.log = []

        async def bump_blocked(self, label, delay=0.01):
            self.log.append(f"start {label}")

            async def critical():
                self.log.append(f"enter {label}")
                n = self.ctx.storage.get("n", 0)
                await asyncio.sleep(delay)
                self.ctx.storage.put("n", n + 1)
                self.log.append(f"leave {label}")
                return n + 1
            return await self.ctx.block_concurrency_while(critical)

        def peek(self):
            self.log.append("peek")
            return self.ctx.storage.get("n", 0)

        def story(self):
            return self.log

    class Bg(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.go = asyncio.Event()

        async def start_task(self):
            async def later():
                await self.go.wait()
                self.ctx.storage.put("bg", "written")
            asyncio.create_task(later())
            return "started"

        async def start_wait_until(self):
            async def later():
                await self.go.wait()
                self.ctx.storage.put("bg", "written")
            self.ctx.wait_until(later())
            return "started"

        async def start_sleeper(self):
            async def later():
                await asyncio.sleep(0.05)
                self.ctx.storage.put("bg", "written")
            asyncio.create_task(later())
            return "started"

        async def start_failing(self):
            async def later():
                raise ValueError("lost the thread")
            asyncio.create_task(later())
            return "started"

        def release(self):
            self.go.set()

        def read(self):
            return self.ctx.storage.get("bg")

    class BgInit(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.go = asyncio.Event()

            async def later():
                await self.go.wait()
                self.ctx.storage.put("bg", "written")
            if self.ctx.storage.get("bg") is None:
                asyncio.create_task(later())

        def start_in_constructor(self):
            return "started"

        def release(self):
            self.go.set()

        def read(self):
            return self.ctx.storage.get("bg")

    class Quitter(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.marker = "fresh"

        def mark(self):
            self.marker = "in memory"

        def marker_value(self):
            return self.marker

        def swallow(self):
            self.ctx.storage.put("half", True)
            try:
                self.ctx.abort("no way back")
            except Exception:
                pass
            return "carried on"

        def swallow_everything(self):
            try:
                self.ctx.abort("really no way back")
            except BaseException:
                pass
            return "carried on"

        def quit(self):
            self.ctx.abort("giving up")

        async def block_and_fail(self):
            async def critical():
                raise RuntimeError("bad setup")
            return await self.ctx.block_concurrency_while(critical)

        def write(self):
            self.ctx.storage.put("k", 1)
            return "written"

        async def linger(self, delay):
            await asyncio.sleep(delay)
            return "lingered"

    class Versioned(DurableObject):
        async def hold(self, flag):
            # Until the test makes ``flag`` (reload imports off the loop: calls go on meanwhile).
            for _ in range(1000):
                if os.path.exists(flag):
                    break
                await asyncio.sleep(0.01)
            return "old code done"

        async def hold_blocked(self, flag):
            return await self.ctx.block_concurrency_while(lambda: self.hold(flag))

        def version(self):
            return 1
"""


@pytest.fixture
async def eng(tmp_path):
    async with engine_of(tmp_path, {"idle_timeout": 60}, order=SOURCE) as e:
        yield e


# ---------------------------------------------------------------- defect 13: queue order
async def test_calls_kept_out_by_block_concurrency_while_start_in_order_one_at_a_time(eng):
    o = eng.env.Order.get_by_name("x")
    calls = [o.bump_blocked("b1"), o.bump_blocked("b2"), o.bump_blocked("b3"), o.peek()]
    assert await asyncio.gather(*calls) == [1, 2, 3, 3]
    assert await o.story() == [
        "start b1",
        "enter b1",
        "leave b1",
        "start b2",
        "enter b2",
        "leave b2",
        "start b3",
        "enter b3",
        "leave b3",
        "peek",
    ]


async def test_a_call_arriving_while_one_is_let_in_waits_behind_it(eng):
    o = eng.env.Order.get_by_name("x")
    first = [asyncio.ensure_future(o.bump_blocked("b1")), asyncio.ensure_future(o.bump_blocked("b2"))]
    for _ in range(100):
        if len(eng.queue("Order", o.id)) == 2:
            break
        await asyncio.sleep(0)
    late = asyncio.ensure_future(o.bump_blocked("b3"))
    assert await asyncio.gather(*first, late) == [1, 2, 3]
    assert await o.peek() == 3


# ---------------------------------------------------------------- defect 14: tasks keep it awake
@pytest.mark.parametrize(
    "cls, method", [("Bg", "start_task"), ("Bg", "start_wait_until"), ("BgInit", "start_in_constructor")]
)
async def test_a_task_the_object_started_keeps_it_from_hibernating(eng, cls, method):
    b = getattr(eng.env, cls).get_by_name("x")
    assert await getattr(b, method)() == "started"
    hibernating = asyncio.ensure_future(eng.hibernate(cls, b.id))
    await asyncio.sleep(0)
    assert eng.instance_info(cls, b.id)["state"] == "live"
    await b.release()
    assert await hibernating is True
    assert await b.read() == "written"


async def test_close_waits_for_a_task_the_object_started(tmp_path):
    objs = write_objects(tmp_path / "objects", order=SOURCE)
    async with Engine(objects=str(objs), data=str(tmp_path / "data")) as e:
        b = e.env.Bg.get_by_name("x")
        assert await b.start_sleeper() == "started"
    async with Engine(objects=str(objs), data=str(tmp_path / "data")) as e:
        assert await e.env.Bg.get_by_name("x").read() == "written"


# ---------------------------------------------------------------- defect 15: abort cannot be caught
@pytest.mark.parametrize("method", ["swallow", "swallow_everything"])
async def test_abort_reaches_the_caller_even_if_the_method_catches_it(eng, method):
    q = eng.env.Quitter.get_by_name("x")
    await q.mark()
    with pytest.raises(ObjectAbortedError, match="no way back"):
        await getattr(q, method)()
    assert await q.marker_value() == "fresh"
    assert "half" not in eng.read_storage("Quitter", q.id)["values"]


# ---------------------------------------------------------------- defect 17: counts after a reset
def _counts(e: Engine) -> tuple[int, int, int]:
    return e.stats()["live"], e.count_instances()["live"], len(e.instances(state="live"))


async def test_abort_leaves_the_object_counted_as_hibernated(eng):
    q = eng.env.Quitter.get_by_name("x")
    await q.mark()
    assert _counts(eng) == (1, 1, 1)
    with pytest.raises(ObjectAbortedError):
        await q.quit()
    assert _counts(eng) == (0, 0, 0)


async def test_failed_block_concurrency_while_leaves_the_object_counted_as_hibernated(eng):
    q = eng.env.Quitter.get_by_name("x")
    with pytest.raises(RuntimeError, match="bad setup"):
        await q.block_and_fail()
    assert _counts(eng) == (0, 0, 0)


async def test_failed_commit_leaves_the_object_counted_as_hibernated(tmp_path):
    objs = write_objects(tmp_path / "objects", order=SOURCE)
    async with Engine(objects=str(objs), data=str(tmp_path / "data"), log_class=FailingLog) as e:
        q = e.env.Quitter.get_by_name("x")
        await q.mark()
        FailingLog.failing = True
        try:
            with pytest.raises(CommitFailedError):
                await q.write()
        finally:
            FailingLog.failing = False
        assert _counts(e) == (0, 0, 0)
        assert await q.write() == "written"
        assert _counts(e) == (1, 1, 1)


async def test_a_failing_task_is_reported(eng):
    b = eng.env.Bg.get_by_name("x")
    sub = eng.subscribe()
    await b.start_failing()
    assert await eng.hibernate("Bg", b.id) is True
    failed = [ev for ev in sub.drain() if ev["type"] == "task.failed"]
    assert failed and {k: failed[0]["error"][k] for k in ("type", "message")} == {
        "type": "ValueError",
        "message": "lost the thread",
    }


async def test_abort_fails_every_call_still_running_on_the_object(eng):
    q = eng.env.Quitter.get_by_name("x")
    lingering = asyncio.ensure_future(q.linger(0.05))
    for _ in range(100):
        if eng.instance_info("Quitter", q.id).get("busy"):
            break
        await asyncio.sleep(0)
    with pytest.raises(ObjectAbortedError):
        await q.quit()
    with pytest.raises(ObjectAbortedError, match="giving up"):
        await lingering


# ---------------------------------------------------------------- reload: draining
async def test_reload_lets_running_calls_end_on_the_old_code_and_runs_new_calls_on_the_new(tmp_path):
    objs = write_objects(tmp_path / "objects", order=SOURCE)
    async with Engine(objects=str(objs), data=str(tmp_path / "data")) as e:
        v = e.env.Versioned.get_by_name("x")
        running = asyncio.ensure_future(v.hold(str(tmp_path / "done")))
        for _ in range(100):
            if e.instance_info("Versioned", v.id).get("busy"):
                break
            await asyncio.sleep(0)
        write_objects(objs, order=SOURCE.replace("return 1", "return 2"))
        assert await e.reload() == []
        assert _counts(e) == (1, 1, 1)  # draining is still in memory, and counted so everywhere
        (tmp_path / "done").touch()
        assert await v.version() == 2
        assert await running == "old code done"
        assert _counts(e) == (1, 1, 1)


async def test_reload_that_removes_a_class_fails_the_calls_waiting_for_it(tmp_path):
    objs = write_objects(tmp_path / "objects", order=SOURCE)
    async with Engine(objects=str(objs), data=str(tmp_path / "data")) as e:
        v = e.env.Versioned.get_by_name("x")
        running = asyncio.ensure_future(v.hold_blocked(str(tmp_path / "done")))
        waiting = asyncio.ensure_future(v.version())
        for _ in range(100):
            if len(e.queue("Versioned", v.id)) == 2:
                break
            await asyncio.sleep(0)
        write_objects(objs, order=SOURCE.replace("class Versioned", "class Renamed"))
        await e.reload()
        (tmp_path / "done").touch()
        assert await running == "old code done"
        with pytest.raises(BrokenObjectError, match="no longer defined"):
            await waiting
        assert _counts(e) == (0, 0, 0)


async def test_a_caller_giving_up_while_the_object_wakes_does_not_break_it(tmp_path):
    objs = write_objects(
        tmp_path / "objects",
        slow="""
        import asyncio
        from dotui import DurableObject

        class SlowStart(DurableObject):
            def __init__(self, ctx, env):
                super().__init__(ctx, env)
                ctx.block_concurrency_while(lambda: asyncio.sleep(0.05))

            def hello(self):
                return "hello"
    """,
    )
    async with Engine(objects=str(objs), data=str(tmp_path / "data")) as e:
        s = e.env.SlowStart.get_by_name("x")
        first = asyncio.ensure_future(s.hello())
        second = asyncio.ensure_future(s.hello())
        for _ in range(100):
            if e.instance_info("SlowStart", s.id)["state"] == "waking":
                break
            await asyncio.sleep(0)
        first.cancel()
        assert await second == "hello"
        assert e.instance_info("SlowStart", s.id)["broken"] is None


SERIAL = """
    import asyncio
    from dotui import DurableObject

    class Serial(DurableObject):
        concurrency = "serial"

        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.go = asyncio.Event()

        async def hang(self):
            await self.go.wait()
            return "ended"

        def ping(self):
            return "pong"
"""


async def until_true(predicate, what: str) -> None:
    async with asyncio.timeout(30):  # fails naming nothing but the line: what is awaited is beside it
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_serial_objects_queue_does_not_wait_for_a_call_of_the_object_it_was_before_a_reset(tmp_path):
    # A reset (a failed commit, ctx.abort(), the reset operation) drops the object; a call of it still
    # suspended belongs to the object dropped: the calls queued behind it run on the new one.
    async with engine_of(tmp_path, serial=SERIAL) as engine:
        oid = engine.env.Serial.id_from_name("s")
        stuck = asyncio.ensure_future(engine.call("Serial", oid, "hang"))
        await until_true(lambda: engine.queue("Serial", oid), "hang running")
        dropped = engine.held(("Serial", oid.hex)).obj
        queued = asyncio.ensure_future(engine.call("Serial", oid, "ping"))
        await until_true(lambda: len(engine.queue("Serial", oid)) == 2, "ping queued behind hang")
        engine.held(("Serial", oid.hex)).reset(ObjectAbortedError("reset by the test"))
        assert await asyncio.wait_for(queued, 30) == "pong"
        dropped.go.set()
        with pytest.raises(ObjectAbortedError, match="reset by the test"):
            await asyncio.wait_for(stuck, 30)
        assert await engine.call("Serial", oid, "ping") == "pong"
