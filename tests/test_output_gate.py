"""The output gate and group commit, with a commit log that can be held or made to fail."""

import asyncio
import threading

import pytest

from dotui import CommitFailedError, Engine
from dotui.engine.durability.commitlog import CommitLog
from tests.conftest import COUNTER, write_objects


class ControlledLog(CommitLog):
    """A commit log whose fdatasync waits for a gate and can be made to fail."""

    inline_sync = False  # its sync blocks: keep it off the engine's loop
    gate = threading.Event()
    fail = False
    syncs = 0

    def sync(self, fd):
        type(self).gate.wait(10)
        if type(self).fail:
            raise OSError(28, "No space left on device")
        super().sync(fd)
        type(self).syncs += 1


@pytest.fixture
async def held(tmp_path):
    ControlledLog.gate = threading.Event()
    ControlledLog.gate.set()
    ControlledLog.fail = False
    ControlledLog.syncs = 0
    objs = write_objects(
        tmp_path / "objects",
        counter=COUNTER,
        relay="""
        from dotui import DurableObject
        class Relay(DurableObject):
            async def write_then_call(self, name):
                self.ctx.storage.put("sent", True)
                return await self.env.Counter.get_by_name(name).increment()
    """,
    )
    async with Engine(objects=str(objs), data=str(tmp_path / "data"), log_class=ControlledLog) as e:
        yield e
        ControlledLog.gate.set()
        ControlledLog.fail = False


async def test_a_result_is_not_released_before_its_write_is_fsynced(held):
    c = held.env.Counter.get_by_name("a")
    ControlledLog.gate.clear()
    call = asyncio.ensure_future(c.increment())
    await asyncio.sleep(0.2)
    assert not call.done(), "the result left before its write was durable"
    info = held.instance_info("Counter", c.id)
    assert info["output_held"] and info["keys"] == 1  # written in memory, held at the gate
    ControlledLog.gate.set()
    assert await call == 1
    assert ControlledLog.syncs == 1


async def test_a_call_to_another_object_waits_for_the_callers_writes(held):
    ControlledLog.gate.clear()
    call = asyncio.ensure_future(held.env.Relay.get_by_name("r").write_then_call("target"))
    await asyncio.sleep(0.2)
    target = held.instance_info("Counter", held.env.Counter.id_from_name("target"))
    assert target.get("calls", 0) == 0, "the sub-call left before the caller's write was durable"
    ControlledLog.gate.set()
    assert await call == 1


async def test_concurrent_calls_share_commits(held):
    c = held.env.Counter.get_by_name("a")
    ControlledLog.gate.clear()
    calls = [asyncio.ensure_future(c.increment()) for _ in range(200)]
    await asyncio.sleep(0.1)
    ControlledLog.gate.set()
    assert sorted(await asyncio.gather(*calls)) == list(range(1, 201))
    assert ControlledLog.syncs <= 3, f"{ControlledLog.syncs} fsyncs for 200 concurrent writes"


async def test_a_commit_failure_fails_held_results_and_resets_the_object(held):
    c = held.env.Counter.get_by_name("a")
    assert await c.increment() == 1
    assert await c.calls_since_wake() == 1
    ControlledLog.fail = True
    with pytest.raises(CommitFailedError, match="could not be made durable.*No space left.*reset"):
        await c.increment(10)
    ControlledLog.fail = False
    # Reset: the constructor ran again and the lost write is gone.
    assert await c.calls_since_wake() == 0
    assert await c.peek() == 1
    assert await c.increment() == 2
    assert held.read_storage("Counter", c.id)["values"] == {"n": 2}


async def test_concurrent_callers_still_share_one_commit_when_a_lone_caller_commits_at_once(engine):
    # A lone caller's commit runs in its own turn (nothing else could join the group);
    # callers that are ready together must still share one commit (group commit).
    counter = engine.env.Counter.get_by_name("group")
    before = engine.stats()["commits"]
    results = await asyncio.gather(*(counter.increment() for _ in range(200)))
    assert sorted(results) == list(range(1, 201))
    assert engine.stats()["commits"] - before <= 3, "200 concurrent increments no longer share commits"
    before = engine.stats()["commits"]
    for i in range(5):
        assert await counter.increment() == 201 + i
    assert engine.stats()["commits"] - before == 5  # one durable commit per sequential call, none skipped


async def test_a_lone_callers_call_commits_in_its_own_turn_of_the_loop(engine, monkeypatch):
    """A sequential caller's durable call costs no turn of the loop (no poll for I/O, a system
    call), while callers that are ready together still wait for one shared commit."""
    from dotui.engine.durability import disk

    monkeypatch.setattr(disk, "fdatasync", lambda fd: None)  # a sync that takes no time: 20 calls fit the budget
    counter = engine.env.Counter.get_by_name("lone")
    await counter.increment()
    selector = asyncio.get_running_loop()._selector  # counting the loop's polls
    polls = 0
    real_select = selector.select

    def counting_select(timeout=None):
        nonlocal polls
        polls += 1
        return real_select(timeout)

    selector.select = counting_select
    try:
        before = engine.stats()["commits"]
        for i in range(20):
            assert await counter.increment() == 2 + i
        lone_polls = polls
        assert engine.stats()["commits"] - before == 20
    finally:
        selector.select = real_select
    assert lone_polls <= 3, f"{lone_polls} turns of the loop for 20 lone durable calls (was 2 a call)"


async def test_a_timer_still_fires_while_a_caller_makes_durable_calls_without_pause(engine):
    """Commits in the caller's turn have a budget: the loop still turns, so timers and other
    clients are not held up by a caller whose calls never wait."""
    counter = engine.env.Counter.get_by_name("busy")
    await counter.increment()
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.02, stop.set)
    n = 0
    while not stop.is_set() and n < 5000:
        await counter.increment()
        n += 1
    assert n < 5000, "a 20 ms timer never ran during 5,000 durable calls"
    calls = 0
    try:
        async with asyncio.timeout(0.02):
            while calls < 5000:
                await counter.increment()
                calls += 1
    except TimeoutError:
        pass
    assert calls < 5000, "asyncio.timeout never fired around 5,000 durable calls"


@pytest.mark.slow
async def test_a_method_making_many_durable_sub_calls_lets_timers_run(tmp_path):
    objs = write_objects(
        tmp_path / "objects",
        counter=COUNTER,
        fan="""
        from dotui import DurableObject

        class Fan(DurableObject):
            async def many(self, n):
                c = self.env.Counter.get_by_name("target")
                for _ in range(n):
                    await c.increment()
                return n
    """,
    )
    async with Engine(objects=str(objs), data=str(tmp_path / "data"), idle_timeout=60) as e:
        await e.env.Counter.get_by_name("target").increment()
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.002)
                ticks += 1

        task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.01)
        ticks = 0
        await e.env.Fan.get_by_name("f").many(1000)
        task.cancel()
        assert ticks >= 2, f"a 2 ms timer ran {ticks} times during 1,000 durable sub-calls"


async def test_a_held_call_is_held_before_its_commit_in_the_events(engine):
    counter = engine.env.Counter.get_by_name("ev")
    await counter.increment()
    sub = engine.subscribe()
    sub.drain()
    await counter.increment()
    types = [e["type"] for e in sub.drain() if e["type"].startswith(("call.", "commit"))]
    assert types == ["call.started", "call.held", "commit", "call.finished"]


async def test_a_commit_scheduled_by_one_caller_is_not_taken_by_another_in_a_later_turn(tmp_path):
    """Task X writes after waking caller Y; in the next turn Y writes and finds the commit X
    scheduled alone in the loop's queue, in the batch the loop is running: it must leave it there
    (taking it would break the loop's own count of that batch)."""
    objs = write_objects(
        tmp_path / "objects",
        pair="""
        import asyncio
        from dotui import DurableObject

        WOKEN = asyncio.Event()

        class Waker(DurableObject):
            def wake_then_write(self):
                asyncio.ensure_future(self._in_the_background())  # X: nobody waits for its write
                return "x"

            async def _in_the_background(self):
                WOKEN.set()  # Y's wake-up is queued first...
                self.ctx.storage.put("n", self.ctx.storage.get("n", 0) + 1)  # ...then X's commit
                await asyncio.sleep(0.05)  # (X goes on later: it queues nothing now)

        class Sleeper(DurableObject):
            async def wait_then_write(self):
                await WOKEN.wait()
                WOKEN.clear()
                self.ctx.storage.put("n", self.ctx.storage.get("n", 0) + 1)
                return "y"

            def peek_n(self):
                return self.ctx.storage.get("n")
    """,
    )
    async with Engine(objects=str(objs), data=str(tmp_path / "data"), idle_timeout=60) as e:
        answers = []

        async def caller_y():
            answers.append(await e.env.Sleeper.get_by_name("y").wait_then_write())
            await asyncio.sleep(0.05)  # queues nothing: the loop's batch must still hold what it counted

        for _ in range(3):
            y = asyncio.ensure_future(caller_y())
            await asyncio.sleep(0.01)  # Y is waiting on the event
            assert await e.env.Waker.get_by_name("x").wake_then_write() == "x"
            await asyncio.wait_for(y, 10)
        assert answers == ["y"] * 3
        assert await e.env.Sleeper.get_by_name("y").peek_n() == 3
