"""dotui's testing kit for object authors: a pytest plugin (docs/testing.md).

    async def test_counts(engine, clock):
        stub = engine.env.Counter.get_by_name("a")
        assert await stub.increment() == 1
        await clock.advance(60)            # idle objects hibernate, due alarms fire
        await engine.crash(); await engine.restart()
        assert await stub.peek() == 1      # what it answered survived

The module-level helpers act on the engine of the test running now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import kit
from .kit import AlarmRun, KitError, TestClock, TestEngine

__all__ = ["AlarmRun", "KitError", "TestClock", "TestEngine", "list_ids", "run_alarm", "run_in_object"]


def _active() -> TestEngine:
    if kit.active is None:
        raise KitError("no dotui engine is running in this test: ask for the `engine` (or `dotui_engine`) fixture")
    return kit.active


async def run_in_object(stub: Any, fn: Callable[[Any, Any], Any]) -> Any:
    """Run ``fn(instance, ctx)`` inside the object, through its input gate (``TestEngine.run_in_object``)."""
    return await _active().run_in_object(stub, fn)


def list_ids(namespace: Any) -> list:
    """The ids of every object of ``namespace`` (``TestEngine.list_ids``)."""
    return _active().list_ids(namespace)


async def run_alarm(stub: Any) -> AlarmRun | None:
    """Fire the object's alarm now and return its outcome (``TestEngine.run_alarm``)."""
    return await _active().run_alarm(stub)
