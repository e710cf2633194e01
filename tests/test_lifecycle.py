"""Hibernation, waking, reload, events."""

from dotui import Engine
from dotui.testing import TestEngine
from tests.conftest import COUNTER, write_objects


async def test_idle_objects_hibernate_losing_attributes_and_keeping_storage(objects_dir, data_dir):
    e = TestEngine(str(objects_dir), str(data_dir), idle_timeout=20)  # the testing kit's clock (docs/testing.md)
    await e.start()
    try:
        c = e.env.Counter.get_by_name("a")
        await c.increment(5)
        await e.clock.advance(5)
        await c.increment()
        assert await c.calls_since_wake() == 2
        await e.clock.advance(19.9)  # idle for 19.9 s since the last call: still live
        assert e.state(c) == "live"
        await e.clock.advance(0.1)
        assert e.state(c) == "hibernated"
        assert await c.calls_since_wake() == 0  # the constructor ran again
        assert await c.peek() == 6
    finally:
        await e.close()


async def test_hibernate_and_wake_on_request(engine):
    c = engine.env.Counter.get_by_name("a")
    await c.increment()
    assert await engine.hibernate("Counter", c.id) is True
    assert engine.instance_info("Counter", c.id)["state"] == "hibernated"
    assert await engine.hibernate("Counter", c.id) is False
    await engine.wake("Counter", c.id)
    assert engine.instance_info("Counter", c.id)["state"] == "live"
    assert await c.calls_since_wake() == 0 and await c.peek() == 1
    await c.increment()
    assert await engine.hibernate_all() == 1
    assert all(i["state"] == "hibernated" for i in engine.instances())


async def test_reload_picks_up_new_code_and_keeps_storage(objects_dir, data_dir):
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        c = e.env.Counter.get_by_name("a")
        await c.increment(7)
        write_objects(
            objects_dir,
            counter=COUNTER
            + """
        def doubled(self):
            return 2 * self.ctx.storage.get("n", 0)
""",
        )
        errors = await e.reload()
        assert errors == []
        assert await c.doubled() == 14
        assert await c.calls_since_wake() == 0


async def test_reload_reports_a_broken_file_with_its_line(objects_dir, data_dir):
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        (objects_dir / "broken.py").write_text("from dotui import DurableObject\n\nclass X(DurableObject)\n    pass\n")
        errors = await e.reload()
        assert len(errors) == 1 and errors[0].file.endswith("broken.py") and errors[0].line == 3
        assert "SyntaxError" in errors[0].message
        assert await e.env.Counter.get_by_name("a").increment() == 1  # the rest still works


async def test_events_tell_the_story_of_a_call(engine):
    sub = engine.subscribe()
    await engine.env.Counter.get_by_name("a").increment()
    types = [ev["type"] for ev in sub.drain()]
    assert types.index("call.started") < types.index("commit") < types.index("call.finished")
    assert "state" in types  # hibernated -> waking -> live


async def test_a_slow_subscriber_loses_the_oldest_events_and_is_told(engine):
    sub = engine.subscribe(maxlen=5)
    c = engine.env.Counter.get_by_name("a")
    for _ in range(20):
        await c.peek()
    events = sub.drain()
    assert events[0]["type"] == "events.lost" and events[0]["count"] > 0
    assert len(events) == 6
    assert events[-1]["type"] == "call.finished"
    assert sub.drain() == []
