"""The testing kit (dotui.testing, docs/testing.md) on objects of its own: clock, alarms, hibernation, helpers."""

import pytest

from dotui.testing import KitError, list_ids, run_alarm, run_in_object

pytestmark = pytest.mark.dotui(objects="tests/kit_objects", alarm_retry_base=2.0, alarm_max_retries=3)


@pytest.fixture
def engine(dotui_engine):
    """The plugin's engine (tests/conftest.py has an `engine` of its own)."""
    return dotui_engine


async def test_advance_fires_an_alarm_at_its_time_and_not_before(engine, clock):
    stub = engine.env.Flaky.get_by_name("a")
    t0 = clock.now()
    await stub.arm(t0 + 3600)
    await clock.advance(3599)
    assert await stub.tries() == []
    await clock.advance(1)
    assert await stub.tries() == [[t0 + 3600, 0]]
    assert engine.pending_alarms() == []


async def test_advance_runs_the_retries_with_their_backoff(engine, clock):
    stub = engine.env.Flaky.get_by_name("b")
    t0 = clock.now()
    await stub.arm(t0 + 10, fail=2)
    await clock.advance(60)
    # fails at +10, retried 2 s later (fails), then 4 s after that (succeeds)
    assert await stub.tries() == [[t0 + 10, 0], [t0 + 12, 1], [t0 + 16, 2]]


async def test_an_alarm_that_keeps_failing_is_given_up_after_the_last_retry(engine, clock):
    stub = engine.env.Flaky.get_by_name("c")
    t0 = clock.now()
    await stub.arm(t0 + 1, fail=99)
    await clock.advance(3600)
    assert [t for t, _ in await stub.tries()] == [t0 + 1, t0 + 3, t0 + 7, t0 + 15]
    assert engine.stats()["alarms_given_up"] == 1
    assert engine.pending_alarms() == []


async def test_run_alarm_fires_now_and_returns_the_outcome(engine, clock):
    stub = engine.env.Flaky.get_by_name("d")
    assert await run_alarm(stub) is None  # no alarm set
    await stub.arm(clock.now() + 86400, fail=1)
    first = await engine.run_alarm(stub)
    assert first.outcome == "retry" and "try 1 fails" in first.error and not first
    second = await run_alarm(stub)
    assert second.outcome == "done" and second
    assert [r for _, r in await stub.tries()] == [0, 1]
    assert await run_alarm(stub) is None


async def test_advance_hibernates_idle_objects_at_their_timeout(engine, clock):
    a = engine.env.Flaky.get_by_name("idle-a")
    b = engine.env.Flaky.get_by_name("idle-b")
    await a.tries()
    await clock.advance(5)
    await b.tries()
    await clock.advance(5)  # a idle for 10 s: hibernated; b for 5 s: live
    assert engine.state(a) == "hibernated" and engine.state(b) == "live"
    await clock.advance(5)
    assert engine.state(b) == "hibernated"


async def test_run_in_object_reads_and_sets_private_state(engine):
    stub = engine.env.Flaky.get_by_name("e")
    assert await run_in_object(stub, lambda obj, ctx: obj.secret) == "fresh"

    async def edit(obj, ctx):
        obj.secret = "set by the test"
        ctx.storage.put("tries", [[0, 0]])
        return obj  # anything, not only what crosses a call

    obj = await engine.run_in_object(stub, edit)
    assert obj.secret == "set by the test"
    assert await stub.secret_now() == "set by the test"
    assert await stub.tries() == [[0, 0]]


async def test_hibernate_helpers_drop_in_memory_state(engine):
    a, b = engine.env.Flaky.get_by_name("h1"), engine.env.Flaky.get_by_name("h2")
    await engine.run_in_object(a, lambda obj, ctx: setattr(obj, "secret", "x"))
    await b.tries()
    assert await engine.hibernate(a) is True
    assert await engine.hibernate(a) is False  # not live any more
    assert await a.secret_now() == "fresh"
    assert await engine.hibernate_all() == 2


async def test_list_ids_lists_every_object_that_exists(engine):
    ns = engine.env.Flaky
    assert list_ids(ns) == []
    for name in ("x", "y"):
        await ns.get_by_name(name).tries()
    ids = engine.list_ids("Flaky")
    assert sorted(i.name for i in ids) == ["x", "y"]
    assert set(ids) == {ns.id_from_name("x"), ns.id_from_name("y")}


async def test_stubs_keep_working_across_a_restart(engine, clock):
    stub = engine.env.Flaky.get_by_name("r")
    await stub.arm(clock.now() + 100)
    await engine.restart()
    await clock.advance(100)
    assert len(await stub.tries()) == 1


async def test_an_alarm_due_while_the_engine_was_down_fires_at_restart(engine, clock):
    stub = engine.env.Flaky.get_by_name("down")
    await stub.arm(clock.now() + 100)
    await engine.crash()
    await clock.advance(500)  # no engine runs: nothing fires
    await engine.restart()
    assert [r for _, r in await stub.tries()] == [0]


async def test_advance_refuses_to_go_back(clock):
    with pytest.raises(ValueError, match="forward"):
        await clock.advance(-1)


async def test_check_quiet_names_open_calls(engine):
    import asyncio

    stub = engine.env.Flaky.get_by_name("open")
    await stub.tries()
    started = asyncio.Event()

    async def hang(obj, ctx):
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(engine.run_in_object(stub, hang))
    await started.wait()
    with pytest.raises(KitError, match="1 call"):
        engine.check_quiet()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    engine.check_quiet()


# The two tests below run in this order (pytest keeps a module's order; one xdist group keeps them on one
# worker, in that order, under the README's `--dist loadgroup`): the second sees nothing the first left behind.
LEFT_BEHIND: dict = {}
IN_ORDER = pytest.mark.xdist_group("testing_kit_left_behind")


@IN_ORDER
async def test_leaves_an_alarm_and_a_moved_clock_behind(engine, clock):
    stub = engine.env.Flaky.get_by_name("left")
    await stub.arm(clock.now() + 86400)
    await clock.advance(hours=12)
    LEFT_BEHIND["clock"] = clock.now()
    assert len(engine.pending_alarms()) == 1


@IN_ORDER
async def test_the_next_test_starts_with_no_alarm_no_object_and_a_fresh_clock(engine, clock):
    assert LEFT_BEHIND, "runs after the test above"
    assert engine.pending_alarms() == [] and engine.list_ids("Flaky") == []
    assert clock.now() < LEFT_BEHIND["clock"]  # a new clock, at the real time again


async def test_call_timings_are_on_the_engines_clock(engine, clock):
    import asyncio

    stub = engine.env.Flaky.get_by_name("timed")
    await stub.tries()
    release = asyncio.Event()
    holding = asyncio.ensure_future(
        engine.run_in_object(stub, lambda obj, ctx: ctx.block_concurrency_while(release.wait))
    )
    waiting = asyncio.ensure_future(stub.tries())
    while len(engine.queue("Flaky", stub.id)) < 2:
        await asyncio.sleep(0)
    await clock.advance(5)
    release.set()
    await holding
    assert await waiting == []
    first, held, waited = engine.history("Flaky", stub.id)[-3:]
    assert first["queue_time"] == 0.0 and first["run_time"] == 0.0
    assert held["run_time"] == 5.0
    assert waited["queue_time"] == 5.0 and waited["started_at"] == clock.now()
