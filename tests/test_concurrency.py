"""The call queue, the input gate, serial mode, re-entry, overload, reset."""

import asyncio

import pytest

from dotui import ObjectAbortedError, ObjectResetError, OverloadedError
from tests.conftest import engine_of

SOURCE = """
    import asyncio
    from dotui import DurableObject

    class Racy(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.marker = "fresh"

        async def bump(self, delay=0.02):
            n = self.ctx.storage.get("n", 0)
            await asyncio.sleep(delay)
            self.ctx.storage.put("n", n + 1)
            return n + 1

        async def bump_blocked(self, delay=0.02):
            async def critical():
                n = self.ctx.storage.get("n", 0)
                await asyncio.sleep(delay)
                self.ctx.storage.put("n", n + 1)
                return n + 1
            return await self.ctx.block_concurrency_while(critical)

        async def block_and_fail(self):
            async def critical():
                raise RuntimeError("bad setup")
            return await self.ctx.block_concurrency_while(critical)

        async def block_forever(self):
            async def critical():
                await asyncio.sleep(3600)
            return await self.ctx.block_concurrency_while(critical)

        async def bump_nested(self, depth, bottom="bump"):
            async def inner(n):
                if n:
                    return await self.ctx.block_concurrency_while(lambda: inner(n - 1))
                if bottom == "raise":
                    raise RuntimeError("bad at the bottom")
                return await (asyncio.sleep(3600) if bottom == "forever" else self.bump())
            return await inner(depth)

        def mark(self, value):
            self.marker = value

        def marker_value(self):
            return self.marker

        def peek(self):
            return self.ctx.storage.get("n", 0)

        def quit(self, why):
            self.ctx.storage.put("half", True)
            self.ctx.abort(why)

        async def slow(self, delay):
            await asyncio.sleep(delay)
            return "slow done"

        def fast(self):
            return "fast done"

    class Turns(DurableObject):
        concurrency = "serial"

        async def bump(self, delay=0.02):
            n = self.ctx.storage.get("n", 0)
            await asyncio.sleep(delay)
            self.ctx.storage.put("n", n + 1)
            return n + 1

        def peek(self):
            return self.ctx.storage.get("n", 0)

        async def ping_back(self, other):
            # A -> B -> A: B calls us back while we wait for it.
            return await self.env.Bouncer.get_by_name(other).bounce(self.ctx.id.name)

        def pong(self):
            return "pong"

    class Bouncer(DurableObject):
        concurrency = "serial"

        async def bounce(self, name):
            return await self.env.Turns.get_by_name(name).pong()

    class Blocker(DurableObject):
        async def ping_back_blocked(self, other):
            async def inner():
                return await self.env.Bouncer2.get_by_name(other).bounce(self.ctx.id.name)
            return await self.ctx.block_concurrency_while(inner)

        def pong(self):
            return "pong"

    class Bouncer2(DurableObject):
        async def bounce(self, name):
            return await self.env.Blocker.get_by_name(name).pong()
"""


@pytest.fixture
async def eng(tmp_path):
    async with engine_of(tmp_path, {"max_queue": 50, "block_timeout": 0.3}, racy=SOURCE) as e:
        yield e


async def test_calls_interleave_at_an_await_and_lose_an_update(eng):
    r = eng.env.Racy.get_by_name("x")
    assert await asyncio.gather(r.bump(), r.bump()) == [1, 1]
    assert await r.peek() == 1


async def test_block_concurrency_while_keeps_other_calls_out(eng):
    r = eng.env.Racy.get_by_name("x")
    assert sorted(await asyncio.gather(r.bump_blocked(), r.bump_blocked(), r.bump_blocked())) == [1, 2, 3]
    assert await r.peek() == 3


async def test_a_call_waiting_on_a_sleep_lets_a_later_call_finish_first(eng):
    r = eng.env.Racy.get_by_name("x")
    order = []

    async def run(coro, label):
        await coro
        order.append(label)

    await asyncio.gather(run(r.slow(0.05), "slow"), run(r.fast(), "fast"))
    assert order == ["fast", "slow"]


async def test_serial_mode_runs_one_call_at_a_time(eng):
    t = eng.env.Turns.get_by_name("x")
    assert await asyncio.gather(t.bump(), t.bump(), t.bump()) == [1, 2, 3]


async def test_a_to_b_to_a_completes_in_serial_mode(eng):
    t = eng.env.Turns.get_by_name("a")
    assert await asyncio.wait_for(t.ping_back("b"), 5) == "pong"


async def test_a_to_b_to_a_completes_inside_block_concurrency_while(eng):
    b = eng.env.Blocker.get_by_name("a")
    assert await asyncio.wait_for(b.ping_back_blocked("b"), 5) == "pong"


async def test_too_many_queued_calls_is_an_overload_error(eng):
    r = eng.env.Racy.get_by_name("x")
    holder = asyncio.ensure_future(r.bump_blocked(0.2))
    await asyncio.sleep(0.01)
    waiting = [asyncio.ensure_future(r.peek()) for _ in range(50)]
    await asyncio.sleep(0.01)
    with pytest.raises(OverloadedError, match="Durable Object is overloaded. Too many requests queued."):
        await r.peek()
    assert await holder == 1
    assert await asyncio.gather(*waiting) == [1] * 50


@pytest.fixture
async def patient(tmp_path):
    async with engine_of(tmp_path, {"block_timeout": 60}, racy=SOURCE) as e:
        yield e


async def test_block_concurrency_while_nested_deep_keeps_other_calls_out(patient):
    # 1,000 deep ended in a RecursionError when every level awaited the next in one coroutine chain
    r = patient.env.Racy.get_by_name("x")
    assert sorted(await asyncio.wait_for(asyncio.gather(r.bump_nested(1000), r.bump_nested(1000), r.bump()), 60)) == [
        1,
        2,
        3,
    ]
    assert await r.peek() == 3


async def test_block_concurrency_while_nested_deep_raising_resets_the_object(patient):
    r = patient.env.Racy.get_by_name("x")
    await r.mark("in memory")
    with pytest.raises(RuntimeError, match="bad at the bottom"):
        await asyncio.wait_for(r.bump_nested(1000, "raise"), 60)
    assert await r.marker_value() == "fresh"


async def test_block_concurrency_while_nested_deep_past_its_timeout_resets_the_object(eng):
    r = eng.env.Racy.get_by_name("x")
    await r.mark("in memory")
    with pytest.raises(ObjectResetError, match="ran past"):
        await asyncio.wait_for(r.bump_nested(1000, "forever"), 60)
    assert await r.marker_value() == "fresh"
    assert await r.bump() == 1  # the gate is open again


async def test_block_concurrency_while_raising_resets_the_object(eng):
    r = eng.env.Racy.get_by_name("x")
    await r.mark("in memory")
    with pytest.raises(RuntimeError, match="bad setup"):
        await r.block_and_fail()
    assert await r.marker_value() == "fresh"  # the constructor ran again


async def test_block_concurrency_while_past_its_timeout_resets_the_object(eng):
    r = eng.env.Racy.get_by_name("x")
    await r.mark("in memory")
    with pytest.raises(ObjectResetError, match="ran past"):
        await r.block_forever()
    assert await r.marker_value() == "fresh"


async def test_abort_fails_the_call_resets_the_object_and_drops_its_unsent_writes(eng):
    r = eng.env.Racy.get_by_name("x")
    await r.mark("in memory")
    with pytest.raises(ObjectAbortedError, match="giving up"):
        await r.quit("giving up")
    assert await r.marker_value() == "fresh"
    assert "half" not in eng.read_storage("Racy", r.id)["values"]


async def test_a_burst_on_a_hibernated_object_wakes_it_once_and_is_not_an_overload(eng):
    r = eng.env.Turns.get_by_name("cold")
    sub = eng.subscribe()
    results = await asyncio.gather(*(r.peek() for _ in range(500)))
    assert results == [0] * 500
    wakes = [ev for ev in sub.drain() if ev["type"] == "state" and ev["new"] == "waking"]
    assert len(wakes) == 1
