"""Alarm times that are not a moment datetime can hold (NaN, infinities, 1e308, year 10000) are refused
at every entry point (the storage API, the command language, `dotui -c`, the gateway) before anything is
stored; the object's alarm stays as it was and every other alarm of the engine still fires."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dotui import Engine
from dotui.commands import Context, execute
from dotui.ops import LocalEngine, parse_when
from dotui.server import make_app
from tests.conftest import eventually, write_objects

REPO = Path(__file__).resolve().parent.parent

SOURCE = """
    import time
    from dotui import DurableObject

    class Clock(DurableObject):
        def set_at(self, text):
            # float() reads "nan", "inf", "1e308"; int() gives an int too big for a float
            self.ctx.storage.set_alarm(int(text[4:]) if text.startswith("int:") else float(text))

        def set_in(self, seconds):
            self.ctx.storage.set_alarm(time.time() + seconds)

        def alarm_time(self):
            a = self.ctx.storage.get_alarm()
            return None if a is None else a.timestamp()

        def fired(self):
            return self.ctx.storage.get("fired", 0)

        async def alarm(self, info):
            self.ctx.storage.put("fired", self.ctx.storage.get("fired", 0) + 1)
"""

# What a user may type or send, and what must happen: every one of them refused.
BAD = ["nan", "inf", "-inf", "1e308", "-1e308", "int:1" + "0" * 400, "253402300800", "-62135596801"]
BAD_WHEN = ["+nan", "+inf", "+-inf", "+1e308", "-1e308", "nan", "1e308", "+1e12", "253402300800"]


@pytest.fixture
def objs(tmp_path):
    return write_objects(tmp_path / "objects", clock=SOURCE)


# ---------------------------------------------------------------- the storage API
@pytest.mark.parametrize("text", BAD, ids=lambda t: t[:12])
async def test_set_alarm_refuses_a_time_that_is_not_a_moment(objs, tmp_path, text):
    # The hang guard: a stored NaN once stopped the engine's alarm loop, and close() with it
    # (asyncio.wait, not wait_for: wait_for would wait for a task that ignores its cancellation).
    task = asyncio.ensure_future(_refuses(objs, tmp_path, text))
    done, _ = await asyncio.wait({task}, timeout=60)
    if not done:
        task.cancel()
        pytest.fail("the engine hung")
    task.result()


async def _refuses(objs, tmp_path, text):
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        c = e.env.Clock.get_by_name("c")
        keep = float(int(time.time()) + 3600)  # whole seconds: exact through datetime
        await c.set_at(repr(keep))
        with pytest.raises(ValueError) as err:
            await c.set_at(text)
        assert "alarm" in str(err.value) and "9999" in str(err.value)
        assert await c.alarm_time() == keep  # the alarm that was set is untouched
        assert e.instances()[0]["alarm"] == keep
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        assert await e.env.Clock.get_by_name("c").alarm_time() == keep  # and so on disk


async def test_a_refused_time_stops_no_alarm_of_the_engine(objs, tmp_path):
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        bad, good = e.env.Clock.get_by_name("bad"), e.env.Clock.get_by_name("good")
        for text in ("nan", "1e308"):
            with pytest.raises(ValueError):
                await bad.set_at(text)
        await good.set_in(0.05)

        async def fired():
            return await good.fired() == 1

        assert await eventually(fired)


async def test_a_bad_time_already_known_to_the_scheduler_stops_no_other_alarm(objs, tmp_path):
    # An index written by an older version may hold NaN: the scheduler leaves it out and says so.
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        sub = e.subscribe()
        good = e.env.Clock.get_by_name("good")
        e.alarms.schedule("Clock", e.env.Clock.id_from_name("bad").hex, float("nan"))
        await good.set_in(0.05)

        async def fired():
            return await good.fired() == 1

        assert await eventually(fired)
        [ev] = [ev for ev in sub.drain() if ev["type"] == "alarm.invalid"]
        assert "nan" in ev["error"]
        assert e.stats()["alarms_invalid"] == 1


# ---------------------------------------------------------------- the one reader of typed times
@pytest.mark.parametrize("when", BAD_WHEN + [float("nan"), float("inf"), 1e308])
def test_parse_when_refuses_what_datetime_cannot_hold(when):
    with pytest.raises(ValueError) as err:
        parse_when(when, now=1_700_000_000.0)
    assert repr(when) in str(err.value) or str(when) in str(err.value)


def test_parse_when_still_reads_every_good_form():
    assert parse_when("+30", now=1_700_000_000.0) == 1_700_000_030.0
    assert parse_when("2099-01-01T00:00:00Z") == 4070908800.0
    assert parse_when(4070908800) == 4070908800.0
    assert parse_when("9999-12-30T00:00:00Z") == 253402128000.0
    assert parse_when("1700000000") == 1700000000.0  # epoch seconds, typed


# ---------------------------------------------------------------- the command language
@pytest.fixture
def facade(tmp_path, objs):
    f = LocalEngine(str(objs), str(tmp_path / "data"), idle_timeout=60).start()
    yield f
    f.close()


@pytest.mark.parametrize("when", BAD_WHEN)
def test_alarm_set_command_refuses_and_stores_nothing(facade, when):
    keep = execute(Context(facade), "alarm Clock/c set +3600").result["alarm"]
    outcome = execute(Context(facade), f"alarm Clock/c set {when}")
    assert not outcome.ok
    assert "9999" in outcome.error.message or "9999" in (outcome.error.hint or "")
    assert facade.alarm_get("Clock", "c") == keep
    listing = execute(Context(facade), "ls")
    assert listing.ok and listing.result["objects"][0]["alarm"] == keep


@pytest.mark.slow
def test_dash_c_refuses_a_nan_alarm_and_ls_still_works(objs, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def dotui(*args):
        return subprocess.run(
            [sys.executable, "-m", "dotui.cli", "--objects", str(objs), "--data", str(tmp_path / "data"), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    proc = dotui("--json", "-c", "alarm Clock/c set 4102444800")
    assert proc.returncode == 0, proc.stderr
    proc = dotui("-c", "alarm Clock/c set +nan")
    assert proc.returncode != 0 and "'+nan' is not a time an alarm can be set to" in proc.stderr
    proc = dotui("-c", "alarm Clock/c set +1e308")
    assert proc.returncode != 0 and "'+1e308' is not a time an alarm can be set to" in proc.stderr
    proc = dotui("--json", "-c", "ls", "-c", "alarm Clock/c")
    assert proc.returncode == 0, proc.stderr
    docs = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [o["alarm"] for o in docs[0]["result"]["objects"]] == [4102444800.0]
    assert docs[1]["result"]["alarm"] == 4102444800.0


# ---------------------------------------------------------------- the gateway
@pytest.mark.parametrize("when", ["+nan", "nan", "+1e308", "1e308", "+inf"])
async def test_gateway_refuses_a_bad_when_with_400_and_stores_nothing(objs, tmp_path, when):
    token = "test-token-0123456789"
    auth = {"Authorization": f"Bearer {token}"}
    async with Engine(objects=str(objs), data=str(tmp_path / "d")) as e:
        client = TestClient(TestServer(make_app(e, token)))
        await client.start_server()
        try:
            target = {"namespace": "Clock", "ref": "c"}
            resp = await client.put("/admin/alarm", params={**target, "when": "+3600"}, headers=auth)
            keep = (await resp.json())["result"]
            resp = await client.put("/admin/alarm", params={**target, "when": when}, headers=auth)
            assert resp.status == 400
            body = await resp.json()
            assert body["error"]["type"] == "ValueError" and "9999" in body["error"]["message"]
            resp = await client.get("/admin/alarm", params=target, headers=auth)
            assert (await resp.json())["result"] == keep
            resp = await client.get("/admin/instances", headers=auth)
            assert resp.status == 200
        finally:
            await client.close()


# ---------------------------------------------------------------- the TUI's alarm dialog
@pytest.mark.slow
async def test_tui_alarm_dialog_refuses_1e308_and_stores_nothing(tmp_path):
    from dotui.tui.app import DotuiApp
    from dotui.tui.screens.alarm import AlarmScreen
    from tui_support import screen_text, shown, until
    from tui_support import write_objects as write_tui_objects

    objects = write_tui_objects(tmp_path / "objects")
    facade = LocalEngine(str(objects), str(tmp_path / "data"), idle_timeout=600).start()
    try:
        facade.call("Reminder", "r", "touch")
        app = DotuiApp(facade, refresh_interval=0.05, watch_files=False)
        async with app.run_test(size=(120, 34)) as pilot:
            key = ("Reminder", facade.resolve("Reminder", "r")["id"])
            await until(pilot, lambda: key in app.main.rows.rows, "Reminder/r listed")
            app.main.go_to(key)
            await until(pilot, lambda: shown(app) == key, "Reminder/r selected")
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, AlarmScreen), "the alarm dialog")
            app.screen.query_one("#alarm-when").value = "+1e308"
            await until(pilot, lambda: "is not a time an alarm can be set to" in screen_text(app), "refused")
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, AlarmScreen)  # still open: nothing was sent
        assert facade.alarm_get("Reminder", "r") is None
    finally:
        facade.close()
