"""Alarms: persisted, wake hibernated objects, retry with backoff, fire after restart.

Where time matters, the tests run on the testing kit's engine (dotui.testing, docs/testing.md):
its clock moves only when told, so an alarm fires at its instant and not before, without sleeping.
"""

import asyncio
import contextlib
import time

import pytest

from dotui import Engine
from dotui.engine.durability.commitlog import CommitLog
from dotui.engine.events import EventBus
from dotui.engine.object.alarms import AlarmScheduler
from dotui.testing import TestEngine
from tests.conftest import eventually, write_objects

SOURCE = """
    import asyncio
    import time
    from dotui import DurableObject

    class Clock(DurableObject):
        def set_in(self, seconds):
            self.ctx.storage.set_alarm(self.ctx.now() + seconds)

        def fails_until(self, n):
            self.ctx.storage.put("fail_until", n)

        def fired(self):
            return self.ctx.storage.get("fired", [])

        def alarm_time(self):
            a = self.ctx.storage.get_alarm()
            return None if a is None else a.timestamp()

        async def alarm(self, info):
            fired = self.ctx.storage.get("fired", [])
            fired.append([info.retry_count, info.is_retry])
            self.ctx.storage.put("fired", fired)
            if len(fired) <= self.ctx.storage.get("fail_until", 0):
                raise RuntimeError(f"failure {len(fired)}")


    class Seer(DurableObject):
        # Notes what get_alarm() says inside alarm(); may hold there, set a new alarm, or fail.

        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.inside = False
            self.released = False

        def set_in(self, seconds):
            self.ctx.storage.set_alarm(self.ctx.now() + seconds)

        def plan(self, **plan):
            self.ctx.storage.put("plan", plan)

        def seen(self):
            return self.ctx.storage.get("seen", [])

        def alarm_time(self):
            a = self.ctx.storage.get_alarm()
            return None if a is None else a.timestamp()

        def inside_alarm(self):
            return self.inside

        def release(self):
            self.released = True

        async def alarm(self, info):
            plan = self.ctx.storage.get("plan", {})
            seen = self.ctx.storage.get("seen", [])
            a = self.ctx.storage.get_alarm()
            seen.append(None if a is None else a.timestamp())
            self.ctx.storage.put("seen", seen)
            if plan.get("hold"):
                self.inside = True
                while not self.released:
                    await asyncio.sleep(0.01)
                self.inside = False
            if plan.get("again") and len(seen) == 1:
                self.ctx.storage.set_alarm(plan["again"])
                seen.append(self.ctx.storage.get_alarm().timestamp())
                self.ctx.storage.put("seen", seen)
            if len(seen) <= plan.get("fail", 0):
                raise RuntimeError(f"failure {len(seen)}")
"""


@pytest.fixture
def objs(tmp_path):
    return write_objects(tmp_path / "objects", clock=SOURCE)


@contextlib.asynccontextmanager
async def kit(objs, tmp_path, **options):
    """The testing kit's engine on these objects, closed (and checked) at the end."""
    e = TestEngine(str(objs), str(tmp_path / "d"), **options)
    await e.start()
    try:
        yield e, e.clock
        e.check_quiet()
    finally:
        await e.close()


async def test_an_alarm_wakes_a_hibernated_object(objs, tmp_path):
    async with kit(objs, tmp_path) as (e, clock):
        c = e.env.Clock.get_by_name("c")
        await c.set_in(30)
        await e.hibernate(c)
        assert e.state(c) == "hibernated"
        assert e.instances()[0]["alarm"] == clock.now() + 30
        await clock.advance(29.9)
        assert e.read_storage("Clock", c.id)["values"].get("fired") is None and e.state(c) == "hibernated"
        await clock.advance(0.1)
        assert e.read_storage("Clock", c.id)["values"].get("fired") == [[0, False]]
        assert await c.alarm_time() is None  # done: the alarm is cleared


async def test_a_failing_alarm_retries_with_backoff_then_succeeds(objs, tmp_path):
    async with kit(objs, tmp_path) as (e, clock):
        c = e.env.Clock.get_by_name("c")
        await c.fails_until(2)
        sub = e.subscribe()
        await c.set_in(0)
        await clock.advance(1.9)
        assert await c.fired() == [[0, False]]  # the first retry is 2 s later
        await clock.advance(0.1)
        assert await c.fired() == [[0, False], [1, True]]
        await clock.advance(4)
        assert await c.fired() == [[0, False], [1, True], [2, True]]
        delays = [ev["delay"] for ev in sub.drain() if ev["type"] == "alarm.retry"]
        assert delays == [2.0, 4.0]
        assert await c.alarm_time() is None


async def test_an_alarm_gives_up_after_six_retries(objs, tmp_path):
    async with kit(objs, tmp_path) as (e, clock):
        c = e.env.Clock.get_by_name("c")
        await c.fails_until(100)
        await c.set_in(0)
        await clock.advance(2 + 4 + 8 + 16 + 32 + 64)  # the six retries' backoff
        assert len(await c.fired()) == 7 and await c.alarm_time() is None
        assert e.stats()["alarms_given_up"] == 1
        await clock.advance(days=1)
        assert len(await c.fired()) == 7  # 1 try + 6 retries, then no more


async def test_an_overdue_alarm_fires_when_the_engine_starts(objs, tmp_path):
    async with kit(objs, tmp_path) as (e, clock):
        c = e.env.Clock.get_by_name("c")
        await c.set_in(20)
        await e.close()  # closed before it was due; it falls due while the engine is stopped
        await clock.advance(60)
        await e.restart()  # it fires as the engine starts
        assert e.read_storage("Clock", c.id)["values"].get("fired") == [[0, False]]


async def test_an_alarm_survives_reload(objs, tmp_path):
    async with kit(objs, tmp_path) as (e, clock):
        c = e.env.Clock.get_by_name("c")
        await c.set_in(40)
        await e.reload()
        await clock.advance(40)
        assert await c.fired() == [[0, False]]


# ---------------------------------------------------------------- close never hangs on the scheduler
class FastLog(CommitLog):
    """A disk whose fdatasync takes no time: every commit runs inline, in the loop's callback."""

    def sync(self, fd: int) -> None:
        pass


async def test_close_right_after_a_call_that_set_an_alarm_while_another_is_pending(objs, tmp_path):
    # Python 3.11's wait_for swallowed the close's cancellation when the alarm loop was woken
    # in the same loop iteration (the commit of b's alarm): close() waited forever for the loop.
    for attempt in range(3):
        e = Engine(objects=str(objs), data=str(tmp_path / f"d{attempt}"), log_class=FastLog)
        await e.start()
        before = time.time()
        await e.env.Clock.get_by_name("a").set_in(3600)
        await e.env.Clock.get_by_name("b").set_in(3600)
        after = time.time()
        await asyncio.wait_for(e.close(), 30)  # the hang guard: close() returned
        # Both alarms are kept, each at the time it was set for.
        async with Engine(objects=str(objs), data=str(tmp_path / f"d{attempt}")) as e:
            for name in ("a", "b"):
                at = await e.env.Clock.get_by_name(name).alarm_time()
                assert at is not None and before + 3600 <= at <= after + 3600, (attempt, name, at)


# ---------------------------------------------------------------- get_alarm() inside alarm() (as Cloudflare)
async def test_inside_alarm_get_alarm_is_none(objs, tmp_path):
    async with kit(objs, tmp_path) as (e, clock):
        s = e.env.Seer.get_by_name("s")
        await s.set_in(0)
        await clock.advance(0)
        assert await s.seen() == [None]
        assert await s.alarm_time() is None


async def test_while_alarm_runs_other_calls_read_none_but_the_disk_keeps_the_alarm(objs, tmp_path):
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        s = e.env.Seer.get_by_name("s")
        await s.plan(hold=True)
        when = time.time() + 0.05
        await e.env.Seer.get_by_name("s").set_in(0.05)

        async def inside():
            return await s.inside_alarm()

        assert await eventually(inside)
        assert await s.alarm_time() is None  # as getAlarm() while an alarm runs
        on_disk = e.read_storage("Seer", s.id)["alarm"]
        assert on_disk is not None and abs(on_disk - when) < 1  # not cleared before the handler succeeds
        await s.release()

        async def cleared():
            return e.read_storage("Seer", s.id)["alarm"] is None

        assert await eventually(cleared)


async def test_an_alarm_set_inside_alarm_is_kept_and_survives_restart(objs, tmp_path):
    later = float(int(time.time()) + 3600)  # whole seconds: exact through datetime
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        s = e.env.Seer.get_by_name("s")
        await s.plan(again=later)
        await s.set_in(0)

        async def fired():
            return len(await s.seen()) == 2

        assert await eventually(fired)
        assert await s.seen() == [None, later]
        assert await s.alarm_time() == later
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        assert await e.env.Seer.get_by_name("s").alarm_time() == later


async def test_a_failing_alarm_is_retried_and_reads_none_each_time(objs, tmp_path):
    async with kit(objs, tmp_path) as (e, clock):
        s = e.env.Seer.get_by_name("s")
        await s.plan(fail=2)
        await s.set_in(0)
        await clock.advance(6)
        assert await s.alarm_time() is None
        assert await s.seen() == [None, None, None]
        assert e.read_storage("Seer", s.id)["alarm"] is None


async def test_an_alarm_set_inside_alarm_that_is_already_due_fires_after_the_handler(objs, tmp_path):
    past = float(int(time.time()) - 10)
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        s = e.env.Seer.get_by_name("s")
        await s.plan(again=past)
        await s.set_in(0)

        async def twice():
            return len(await s.seen()) == 3

        assert await eventually(twice)
        assert await s.seen() == [None, past, None]
        assert await s.alarm_time() is None


# ---------------------------------------------------------------- the scheduler never dies silently
async def test_the_scheduler_reports_its_own_failure_and_tries_again(caplog):
    bus = EventBus()
    sub = bus.subscribe()
    asked = []
    second = asyncio.get_running_loop().create_future()

    def target(ns, hx, alarm_time):
        asked.append(alarm_time)
        if len(asked) == 1:
            raise RuntimeError("the index could not be read")
        second.set_result(None)
        return None  # the alarm is gone by now: nothing to fire

    scheduler = AlarmScheduler(target, bus, retry_base=0.01)
    scheduler.start(asyncio.get_running_loop(), [("Clock", "ab" * 32, time.time() - 1)])
    await asyncio.wait_for(second, 10)
    [ev] = [ev for ev in sub.drain() if ev["type"] == "alarm.error"]
    assert ev["namespace"] == "Clock" and "the index could not be read" in ev["error"]
    assert scheduler.counters["alarm_errors"] == 1
    assert "the index could not be read" in caplog.text
    await scheduler.close()


@pytest.mark.slow
async def test_close_cancels_a_handler_that_never_ends_and_the_alarm_fires_at_the_next_start(objs, tmp_path):
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        s = e.env.Seer.get_by_name("s")
        await s.plan(hold=True)  # the first try never ends by itself
        await s.set_in(0)

        async def inside():
            return await s.inside_alarm()

        assert await eventually(inside)
        await s.plan(hold=False)
        closing = asyncio.ensure_future(e.close())
        done, _ = await asyncio.wait({closing}, timeout=60)  # the hang guard
        assert done, "close() hung on a running alarm handler"
        closing.result()
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        s = e.env.Seer.get_by_name("s")

        async def fired_again():
            return len(await s.seen()) == 2

        assert await eventually(fired_again)  # at least once: the cancelled try did not count
        assert await s.alarm_time() is None
