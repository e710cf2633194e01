"""The testing kit (dotui.testing, docs/testing.md) with a SQLite-backed object: the clock fires its
alarm, run_in_object reaches ctx.storage.sql, hibernation keeps the database, and crash() keeps
exactly what was acknowledged."""

import pytest

from dotui import EngineClosedError

pytestmark = pytest.mark.dotui(objects="tests/kit_objects")


async def test_the_clock_fires_a_sqlite_objects_alarm(dotui_engine, clock):
    s = dotui_engine.env.SqlLedger.get_by_name("a")
    await s.add(10)
    await s.arm(clock.now() + 60)
    await clock.advance(59)
    assert await s.entries() == [10]
    await clock.advance(1)
    assert await s.entries() == [10, 1]


async def test_run_in_object_and_hibernation(dotui_engine):
    s = dotui_engine.env.SqlLedger.get_by_name("b")
    await s.add(5)
    rows = await dotui_engine.run_in_object(
        s, lambda obj, ctx: ctx.storage.sql.exec("SELECT count(*) AS n FROM entries").one()
    )
    assert rows == {"n": 1}
    await dotui_engine.hibernate(s)
    assert await s.entries() == [5]


async def test_crash_keeps_what_was_acknowledged(dotui_engine):
    s = dotui_engine.env.SqlLedger.get_by_name("c")
    assert await s.add(1) == 1
    assert await s.add(2) == 3
    await dotui_engine.crash()
    with pytest.raises(EngineClosedError):
        await s.add(100)
    await dotui_engine.restart()
    assert await s.entries() == [1, 2]
    assert await s.add(4) == 7
