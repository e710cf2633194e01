"""A fresh project tests its object with the plugin alone: `pytest` in a folder holding one object file
and one test file, nothing configured, nothing installed but dotui (docs/testing.md)."""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.slow]

OBJECT = '''
from dotui import DurableObject


class Visits(DurableObject):
    """Counts visits; forgets them a day after the last one."""

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.seen_since_wake = 0

    async def visit(self) -> int:
        self.seen_since_wake += 1
        n = self.ctx.storage.get("n", 0) + 1
        self.ctx.storage.put("n", n)
        self.ctx.storage.set_alarm(self.ctx.now() + 86400)
        return n

    def count(self) -> int:
        return self.ctx.storage.get("n", 0)

    async def alarm(self, info):
        self.ctx.storage.delete_all()
'''

TEST = """
from dotui.testing import list_ids, run_in_object


async def test_visits_are_counted_and_survive_a_crash(engine):
    stub = engine.env.Visits.get_by_name("home")
    assert await stub.visit() == 1
    assert await stub.visit() == 2
    await engine.crash()
    await engine.restart()
    assert await stub.count() == 2
    assert [i.name for i in list_ids(engine.env.Visits)] == ["home"]


async def test_visits_are_forgotten_a_day_later(engine, clock):
    stub = engine.env.Visits.get_by_name("home")
    await stub.visit()
    await clock.advance(hours=23)
    assert await stub.count() == 1
    await clock.advance(hours=1)
    assert await stub.count() == 0


async def test_idle_objects_hibernate(engine, clock):
    stub = engine.env.Visits.get_by_name("home")
    await stub.visit()
    assert await run_in_object(stub, lambda obj, ctx: obj.seen_since_wake) == 1
    await clock.advance(10)
    assert engine.state(stub) == "hibernated"
    assert await run_in_object(stub, lambda obj, ctx: obj.seen_since_wake) == 0
"""


def test_a_fresh_project_passes_pytest_with_only_the_plugin(tmp_path):
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "visits.py").write_text(textwrap.dedent(OBJECT))
    (tmp_path / "test_visits.py").write_text(textwrap.dedent(TEST))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHONPATH"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


SETTINGS_TEST = """
import asyncio


async def test_the_ini_sets_the_folder_and_the_idle_timeout(engine, clock):
    stub = engine.env.Visits.get_by_name("home")
    await stub.visit()
    await clock.advance(4.9)
    assert engine.state(stub) == "live"
    await clock.advance(0.1)
    assert engine.state(stub) == "hibernated"


async def test_a_call_left_open_fails_at_teardown(engine):
    stub = engine.env.Visits.get_by_name("home")
    await stub.visit()
    release = asyncio.Event()
    engine.open_call = asyncio.ensure_future(
        engine.run_in_object(stub, lambda obj, ctx: ctx.block_concurrency_while(release.wait)))
    await asyncio.sleep(0)
    engine.release = release
"""


def test_settings_come_from_pytest_ini_and_teardown_names_open_calls(tmp_path):
    (tmp_path / "src" / "things").mkdir(parents=True)
    (tmp_path / "src" / "things" / "visits.py").write_text(textwrap.dedent(OBJECT))
    (tmp_path / "pytest.ini").write_text("[pytest]\ndotui_objects = src/things\ndotui_idle_timeout = 5\n")
    (tmp_path / "test_settings.py").write_text(textwrap.dedent(SETTINGS_TEST))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHONPATH"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "2 passed, 1 error" in proc.stdout, proc.stdout + proc.stderr
    assert "ERROR at teardown of test_a_call_left_open_fails_at_teardown" in proc.stdout
    assert "the test ended with 1 call(s) still open" in proc.stdout
