"""Alarms: persisted, wake hibernated objects, retry with backoff, fire after restart."""

import asyncio
import time

import pytest

from dotui import Engine
from tests.conftest import write_objects

SOURCE = """
    import time
    from dotui import DurableObject

    class Clock(DurableObject):
        def set_in(self, seconds):
            self.ctx.storage.set_alarm(time.time() + seconds)

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
"""


@pytest.fixture
def objs(tmp_path):
    return write_objects(tmp_path / "objects", clock=SOURCE)


async def _until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.02)
    return await predicate()


async def test_an_alarm_wakes_a_hibernated_object(objs, tmp_path):
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        c = e.env.Clock.get_by_name("c")
        await c.set_in(0.3)
        await e.hibernate("Clock", c.id)
        assert e.instance_info("Clock", c.id)["state"] == "hibernated"
        assert e.instances()[0]["alarm"] is not None
        async def fired():
            return e.read_storage("Clock", c.id)["values"].get("fired") == [[0, False]]
        assert await _until(fired)
        assert await c.alarm_time() is None  # done: the alarm is cleared


async def test_a_failing_alarm_retries_with_backoff_then_succeeds(objs, tmp_path):
    async with Engine(objects=str(objs), data=str(tmp_path / "d"), alarm_retry_base=0.05) as e:
        c = e.env.Clock.get_by_name("c")
        await c.fails_until(2)
        sub = e.subscribe()
        await c.set_in(0)
        async def done():
            return len(await c.fired()) == 3
        assert await _until(done)
        assert await c.fired() == [[0, False], [1, True], [2, True]]
        delays = [ev["delay"] for ev in sub.drain() if ev["type"] == "alarm.retry"]
        assert delays == [0.05, 0.1]
        assert await c.alarm_time() is None


async def test_an_alarm_gives_up_after_six_retries(objs, tmp_path):
    async with Engine(objects=str(objs), data=str(tmp_path / "d"), alarm_retry_base=0.005) as e:
        c = e.env.Clock.get_by_name("c")
        await c.fails_until(100)
        await c.set_in(0)
        async def gave_up():
            return len(await c.fired()) == 7 and await c.alarm_time() is None
        assert await _until(gave_up)
        await asyncio.sleep(0.2)
        assert len(await c.fired()) == 7  # 1 try + 6 retries, then no more


async def test_an_overdue_alarm_fires_when_the_engine_starts(objs, tmp_path):
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        await e.env.Clock.get_by_name("c").set_in(0.2)
        e._alarms.clear()  # simulate the engine stopping before the alarm is due
    await asyncio.sleep(0.3)
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        c = e.env.Clock.get_by_name("c")
        async def fired():
            return e.read_storage("Clock", c.id)["values"].get("fired") == [[0, False]]
        assert await _until(fired)


async def test_an_alarm_survives_reload(objs, tmp_path):
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        c = e.env.Clock.get_by_name("c")
        await c.set_in(0.4)
        await e.reload()
        async def fired():
            return await c.fired() == [[0, False]]
        assert await _until(fired)
