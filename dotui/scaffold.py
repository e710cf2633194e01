"""`dotui init DIR [--workers]`: a new project, ready to run and to test.

``dotui init DIR`` writes a dotui project: ``objects/counter.py`` (one DurableObject class),
``tests/test_counter.py`` (using the pytest plugin, ``dotui.testing``), ``pytest.ini`` and a README
with the two commands (``dotui`` to explore it, ``pytest`` to test it). ``dotui init DIR --workers``
writes a Cloudflare Python Workers project instead: ``wrangler.toml``, ``src/entry.py`` (a
SQLite-backed Durable Object and the ``Default`` Worker), ``pyproject.toml`` as Cloudflare's tools
(``pywrangler``) expect it, a test and a README: it runs on dotui (``dotui serve``) and deploys with
``uv run pywrangler deploy`` unchanged. ``DIR`` must not exist or be empty: nothing is overwritten.
"""

from __future__ import annotations

import os

COUNTER = '''"""Counter: the first object of this project.

Teaches: storage outlives the object. `n` is durable; `since_wake` is lost when the object hibernates.
"""

from dotui import DurableObject


class Counter(DurableObject):
    """Counts, durably."""

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.since_wake = 0

    async def increment(self, by: int = 1) -> int:
        """Add `by` and return the count (on disk before it returns)."""
        self.since_wake += 1
        n = self.ctx.storage.get("n", 0) + by
        self.ctx.storage.put("n", n)
        return n

    def calls_since_wake(self) -> int:
        return self.since_wake
'''

COUNTER_TEST = '''"""The Counter, tested with dotui's pytest plugin: an engine on a temporary folder, and a clock."""


async def test_the_count_is_durable_and_attributes_are_not(dotui_engine, dotui_clock):
    counter = dotui_engine.env.Counter.get_by_name("alice")
    assert await counter.increment(2) == 2
    assert await counter.calls_since_wake() == 1
    await dotui_clock.advance(60)  # idle for a minute: the object hibernates
    assert await counter.increment() == 3  # the count came back from storage
    assert await counter.calls_since_wake() == 1  # the attribute started again


async def test_what_was_answered_survives_a_crash(dotui_engine):
    await dotui_engine.env.Counter.get_by_name("bob").increment(5)
    await dotui_engine.crash()  # as a kill would: only what reached the disk is left
    await dotui_engine.restart()
    assert await dotui_engine.env.Counter.get_by_name("bob").increment() == 6
'''

PYTEST_INI = """[pytest]
# dotui's plugin (installed with dotui) gives the dotui_engine and dotui_clock fixtures over this folder
dotui_objects = objects
testpaths = tests
# each test's fixtures on that test's event loop (pytest-asyncio warns when this is unset)
asyncio_default_fixture_loop_scope = function
"""

README = """# {name}

A dotui project: durable objects in `objects/`, their tests in `tests/`.

```sh
dotui            # the TUI on objects/ (dotui repl for the REPL, dotui serve for HTTP)
pytest           # the tests, with dotui's pytest plugin
```

The tests need pytest and pytest-asyncio where dotui is installed: `pip install pytest pytest-asyncio`.
"""

WRANGLER = """name = "{name}"
main = "src/entry.py"
compatibility_date = "2025-11-02"
compatibility_flags = ["python_workers"]

[[durable_objects.bindings]]
name = "COUNTERS"
class_name = "Counter"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]
"""

ENTRY = '''"""GET /?name=A shows counter A, GET /increment?name=A adds one: each counter is a Durable Object."""

from urllib.parse import parse_qs, urlparse

from workers import DurableObject, Response, WorkerEntrypoint


class Counter(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.sql = ctx.storage.sql
        self.sql.exec("CREATE TABLE IF NOT EXISTS counts (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER)")

    async def increment(self, by=1):
        row = self.sql.exec(
            "INSERT INTO counts (id, n) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET n = n + excluded.n RETURNING n",
            by,
        ).one()
        await self.ctx.storage.put("last_increment", by)
        return row.n

    async def value(self):
        rows = self.sql.exec("SELECT n FROM counts").toArray()
        return rows[0].n if rows else 0


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        name = parse_qs(url.query).get("name", [None])[0]
        if not name:
            return Response("Name a counter: ?name=A", status=400)
        counter = self.env.COUNTERS.getByName(name)
        if url.path == "/increment":
            return Response(f"{name}: {await counter.increment()}")
        if url.path == "/":
            return Response(f"{name}: {await counter.value()}")
        return Response("Not found", status=404)
'''

WORKER_TEST = '''"""The project's Durable Object, tested on dotui with its pytest plugin (it loads wrangler.toml)."""


async def test_the_counter_counts_and_survives_hibernation(dotui_engine, dotui_clock):
    counter = dotui_engine.env.Counter.get_by_name("A")
    assert await counter.increment() == 1
    assert await counter.increment(2) == 3
    await dotui_clock.advance(60)  # idle: the object hibernates; its SQLite database stays
    assert await counter.value() == 3
'''

PYPROJECT = """[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = []

[dependency-groups]
dev = ["workers-py", "workers-runtime-sdk"]
"""

WORKER_PYTEST_INI = """[pytest]
# dotui's plugin loads the project from wrangler.toml (the dotui_engine and dotui_clock fixtures)
testpaths = tests
# each test's fixtures on that test's event loop (pytest-asyncio warns when this is unset)
asyncio_default_fixture_loop_scope = function
"""

WORKER_README = """# {name}

A Cloudflare Python Workers project: `wrangler.toml`, `src/entry.py`.

```sh
dotui serve      # runs it here: http://127.0.0.1:8787/increment?name=A (dotui for the TUI)
pytest           # its tests, with dotui's pytest plugin
```

The tests need pytest and pytest-asyncio where dotui is installed: `pip install pytest pytest-asyncio`.

Deploy it with Cloudflare's tools, unchanged: `uv run pywrangler deploy`.
"""


class InitError(Exception):
    """The folder cannot be a new project; the message says why."""


def files_for(name: str, workers: bool) -> dict[str, str]:
    if workers:
        return {
            "wrangler.toml": WRANGLER.format(name=name),
            "src/entry.py": ENTRY,
            "tests/test_counter.py": WORKER_TEST,
            "pyproject.toml": PYPROJECT.format(name=name),
            "pytest.ini": WORKER_PYTEST_INI,
            "README.md": WORKER_README.format(name=name),
        }
    return {
        "objects/counter.py": COUNTER,
        "tests/test_counter.py": COUNTER_TEST,
        "pytest.ini": PYTEST_INI,
        "README.md": README.format(name=name),
    }


def init(folder: str, workers: bool = False) -> list[str]:
    """Write a new project into ``folder`` (made if need be); the paths written. ``InitError`` if it
    exists and is not an empty folder."""
    if os.path.exists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise InitError(
            f"{folder} exists and is not an empty folder: dotui init writes a new project into a "
            "new (or empty) folder, overwriting nothing"
        )
    name = os.path.basename(os.path.abspath(folder)) or "project"
    written = []
    for rel, text in files_for(name, workers).items():
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:
            f.write(text)
        written.append(path)
    return written
