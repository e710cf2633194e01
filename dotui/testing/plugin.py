"""The pytest plugin (entry point ``pytest11``): fixtures for testing durable objects.

Fixtures: ``dotui_engine`` (also ``engine``, unless the project defines its own) and
``dotui_clock`` (also ``clock``). Settings (pytest.ini or ``[tool.pytest.ini_options]``):
``dotui_objects`` (the objects folder, relative to the rootdir; default ``objects``) and
``dotui_idle_timeout`` (seconds; default 10). Per test: ``@pytest.mark.dotui(objects=...,
idle_timeout=..., alarm_retry_base=..., ...)``, any ``Engine`` option. An ``async def`` test
that uses these fixtures runs on asyncio without a marker of its own. See docs/testing.md.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import pytest

from . import kit as _kit
from .kit import TestEngine

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - a project's README says to install it
    pytest_asyncio = None  # type: ignore[assignment]  # pytest-asyncio is optional: None when it is not installed

FIXTURES = {"dotui_engine", "engine", "dotui_clock", "clock"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "dotui_objects",
        "dotui: the objects folder the engine fixture loads, relative to the rootdir",
        default="objects",
    )
    parser.addini(
        "dotui_idle_timeout", "dotui: seconds of idleness before the engine fixture hibernates an object", default="10"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dotui(objects=None, **engine_options): options of the dotui engine fixture for this test (docs/testing.md)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: Any) -> None:
    """An ``async def`` test that asks for the kit's fixtures runs on asyncio (pytest-asyncio)."""
    if pytest_asyncio is None or not inspect.iscoroutinefunction(obj) or not collector.funcnamefilter(name):
        return
    try:
        params = set(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return
    if params & FIXTURES and not any(m.name == "asyncio" for m in getattr(obj, "pytestmark", [])):
        pytest.mark.asyncio(obj)


def _options(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    marker = request.node.get_closest_marker("dotui")
    opts = dict(marker.kwargs) if marker is not None else {}
    root = str(request.config.rootpath)
    objects = os.path.join(root, str(opts.pop("objects", None) or request.config.getini("dotui_objects")))
    if not os.path.exists(objects):  # no objects/ folder: a wrangler project's root is a workspace too
        from ..workspace import resolve

        found = resolve(None, root)
        objects = found.objects if found.kind == "wrangler" else objects
    if not (os.path.isdir(objects) or os.path.isfile(objects)):
        pytest.fail(
            f"dotui: the objects folder {objects!r} does not exist; set dotui_objects in pytest.ini "
            "(or [tool.pytest.ini_options]) or @pytest.mark.dotui(objects=...) to the folder of your "
            "DurableObject classes",
            pytrace=False,
        )
    value = request.config.getini("dotui_idle_timeout")
    try:
        opts.setdefault("idle_timeout", float(value))
    except ValueError:
        pytest.fail(f"dotui: dotui_idle_timeout must be a number of seconds, got {value!r}", pytrace=False)
    return objects, opts


async def _engine(request: pytest.FixtureRequest, tmp_path: Any):
    objects, opts = _options(request)
    test_engine = TestEngine(objects, str(tmp_path / "dotui-data"), **opts)
    await test_engine.start()
    _kit.active = test_engine
    problem = None
    try:
        yield test_engine
        try:
            test_engine.check_quiet()
        except _kit.KitError as exc:
            problem = exc
    finally:
        _kit.active = None
        if problem is None:
            await test_engine.close()  # every write durable and checkpointed; the alarms and the clock go with it
        else:
            await test_engine.crash()  # the open calls end with it, at once (close would give them 5 s)
    if problem is not None:
        pytest.fail(f"dotui: {problem}", pytrace=False)


if pytest_asyncio is not None:
    dotui_engine = pytest_asyncio.fixture(_engine, name="dotui_engine")

    @pytest_asyncio.fixture(name="engine")
    async def _engine_alias(dotui_engine: TestEngine):
        yield dotui_engine
else:  # pragma: no cover

    @pytest.fixture(name="dotui_engine")
    def _missing():
        pytest.fail(
            "dotui.testing needs pytest-asyncio, where dotui is installed: pip install pytest-asyncio", pytrace=False
        )


@pytest.fixture(name="dotui_clock")
def _dotui_clock(dotui_engine: TestEngine) -> _kit.TestClock:
    return dotui_engine.clock


@pytest.fixture(name="clock")
def _clock_alias(dotui_engine: TestEngine) -> _kit.TestClock:
    return dotui_engine.clock
