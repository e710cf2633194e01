"""Shared fixtures: an objects folder written from source text, and a running engine."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import shutil
import textwrap
import time
from pathlib import Path

import pytest

from dotui import Engine
from dotui.engine.durability.commitlog import CommitLog
from dotui.examples import OBJECTS as BUNDLED_OBJECTS

ROOT = Path(__file__).resolve().parent.parent


def write_objects(folder: Path, **files: str) -> Path:
    """Write each ``name=source`` as ``folder/name.py`` (dedented); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return folder


COUNTER = """
    import asyncio
    from dotui import DurableObject

    class Counter(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            self.woken = True
            self.calls = 0

        async def increment(self, by=1):
            self.calls += 1
            n = self.ctx.storage.get("n", 0) + by
            self.ctx.storage.put("n", n)
            return n

        def peek(self):
            return self.ctx.storage.get("n", 0)

        def calls_since_wake(self):
            return self.calls

        def _private(self):
            return "secret"
"""


@pytest.fixture
def objects_dir(tmp_path: Path) -> Path:
    return write_objects(tmp_path / "objects", counter=COUNTER)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def engine(objects_dir: Path, data_dir: Path):
    async with Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60) as e:
        yield e


@pytest.fixture
def disk_faults():
    """The disk's fault plan (``dotui.engine.durability.disk``), emptied after the test."""
    from dotui.engine.durability import disk

    disk.faults.clear()
    yield disk.faults
    disk.faults.clear()


HANG_GUARD = 10  # seconds; never reached when the engine works


async def eventually(predicate, timeout: float = 5.0) -> bool:
    """Whether the async ``predicate()`` holds within ``timeout`` seconds (asked every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.02)
    return await predicate()


@contextlib.asynccontextmanager
async def engine_of(tmp_path: Path, options: dict | None = None, **sources: str):
    """A started engine on objects written from ``sources`` (file name -> code) in ``tmp_path``,
    with Engine ``options``; its close must end within HANG_GUARD (a wedged object once hung it)."""
    objs = write_objects(tmp_path / "objects", **sources)
    e = Engine(objects=str(objs), data=str(tmp_path / "data"), **(options or {}))
    await e.start()
    try:
        yield e
    finally:
        await asyncio.wait_for(e.close(), HANG_GUARD)


def guarded(test):
    """Fail the test, instead of hanging the run, if the engine hangs."""

    @functools.wraps(test)
    async def run(*args, **kwargs):
        await asyncio.wait_for(test(*args, **kwargs), HANG_GUARD)

    return run


@pytest.fixture
def objects(tmp_path: Path) -> Path:
    """A copy of the bundled objects folder (./objects), for tests that may change it."""
    return Path(shutil.copytree(Path(BUNDLED_OBJECTS), tmp_path / "objects"))


class FailingLog(CommitLog):
    """A commit log whose appends fail while ``failing`` is set (a full or broken disk)."""

    failing = False

    def append(self, record: bytes) -> None:
        if FailingLog.failing:
            raise OSError(errno.EIO, "injected append failure")
        super().append(record)
