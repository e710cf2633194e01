"""The bundled objects (dotui/examples/objects/), tested as their authors would: with the testing kit's plugin
alone (dotui.testing; docs/testing.md shows these tests as worked examples)."""

import asyncio
import datetime as dt

import pytest

from dotui import EngineClosedError, ObjectResetError
from dotui.testing import list_ids, run_alarm, run_in_object


@pytest.fixture
def engine(dotui_engine):
    """The plugin's engine over objects/ (tests/conftest.py has an `engine` of its own)."""
    return dotui_engine


@pytest.fixture
def clock(dotui_clock):
    return dotui_clock


# ---------------------------------------------------------------- Counter
async def test_counter_keeps_n_and_forgets_attributes_when_it_hibernates(engine, clock):
    c = engine.env.Counter.get_by_name("c")
    await c.increment()
    await c.increment(4)
    assert await c.since_wake() == 2
    await clock.advance(10)  # the default idle_timeout: it hibernates
    assert engine.state(c) == "hibernated"
    assert await c.peek() == 5
    assert await c.since_wake() == 0


async def test_counter_answers_survive_a_crash(engine):
    c = engine.env.Counter.get_by_name("c")
    answers = [await c.increment() for _ in range(5)]
    await engine.crash()
    await engine.restart()
    assert await c.peek() == answers[-1] == 5


# ---------------------------------------------------------------- ApiUsage
def _day(clock, days_ago=0):
    return (clock.datetime().date() - dt.timedelta(days=days_ago)).isoformat()


async def test_api_usage_alarm_drops_days_past_the_retention_window(engine, clock):
    u = engine.env.ApiUsage.get_by_name("ann")
    today = _day(clock)
    await u.record("/search")
    await u.record("/search", day=_day(clock, 3))
    await u.record("/search", day=_day(clock, 30))
    assert len(engine.pending_alarms()) == 1  # the first record set it, for a day later
    await clock.advance(days=1)  # the alarm fires: the 30-day-old count goes
    assert await u.totals() == {_day(clock, 4): 1, today: 1}
    await clock.advance(days=7)  # a day at a time, until today is past the window
    assert await u.totals() == {}
    assert engine.pending_alarms() == []  # nothing left: it did not set the next one


async def test_api_usage_alarm_runs_on_demand(engine, clock):
    u = engine.env.ApiUsage.get_by_name("bob")
    await u.record("/a", day=_day(clock, 8))
    await u.record("/a")
    assert await run_alarm(u)  # now, without moving the clock
    assert await u.totals() == {_day(clock): 1}
    assert [i.name for i in list_ids(engine.env.ApiUsage)] == ["bob"]


# ---------------------------------------------------------------- Account
async def test_account_transfer_compensation_is_durable_across_a_crash(engine):
    alice, bob = engine.env.Account.get_by_name("alice"), engine.env.Account.get_by_name("bob")
    await alice.deposit(100)
    await bob.freeze()
    with pytest.raises(PermissionError, match="frozen"):
        await alice.transfer("bob", 30)  # the deposit fails: the debit is refunded
    await engine.crash()
    await engine.restart()
    assert await alice.balance() == 100  # the refund was durable before the error came back
    assert await bob.balance() == 0


async def test_account_a_crash_between_the_two_halves_loses_the_money_in_flight(engine):
    alice, bob = engine.env.Account.get_by_name("alice"), engine.env.Account.get_by_name("bob")
    await alice.deposit(100)
    release = asyncio.Event()
    # bob is busy (it keeps every call out) when the transfer's deposit arrives
    holding = asyncio.ensure_future(run_in_object(bob, lambda obj, ctx: ctx.block_concurrency_while(release.wait)))
    transfer = asyncio.ensure_future(alice.transfer("bob", 30))
    for _ in range(1000):
        if len(engine.queue("Account", bob.id)) == 2:  # the holder running, the deposit queued
            break
        await asyncio.sleep(0)
    await engine.crash()  # the debit is durable; the deposit never ran
    release.set()
    with pytest.raises(EngineClosedError):
        await holding
    with pytest.raises(ObjectResetError):  # its compensation ran into the crash: refused
        await transfer
    await engine.restart()
    assert await alice.balance() == 70  # no transaction spans two objects: nothing refunds it
    assert await bob.balance() == 0


# ---------------------------------------------------------------- RateLimiter
async def test_rate_limiter_refills_with_the_clock(engine, clock):
    r = engine.env.RateLimiter.get_by_name("client")
    assert [await r.take() for _ in range(11)] == [True] * 10 + [False]
    await clock.advance(3)
    assert await r.tokens() == 3.0
    await clock.advance(60)
    assert await r.tokens() == 10.0  # never more than the capacity


# ---------------------------------------------------------------- ChatRoom
async def test_chat_room_numbers_messages_in_order_across_hibernation(engine, clock):
    room = engine.env.ChatRoom.get_by_name("lobby")
    await room.join("ann")
    assert await room.post("ann", "hi") == 1
    await clock.advance(60)
    assert engine.state(room) == "hibernated"
    assert await room.post("ann", "again") == 2
    assert [(m["seq"], m["text"], m["at"]) for m in await room.read()] == [
        (1, "hi", clock.now() - 60),
        (2, "again", clock.now()),
    ]


# ---------------------------------------------------------------- Interleave
async def test_interleave_racy_bumps_lose_an_update_and_blocked_ones_do_not(engine):
    i = engine.env.Interleave.get_by_name("x")
    await asyncio.gather(i.bump_racy(0), i.bump_racy(0))
    assert await i.peek() == 1
    await i.reset()
    await asyncio.gather(i.bump_blocked(0), i.bump_blocked(0))
    assert await i.peek() == 2
