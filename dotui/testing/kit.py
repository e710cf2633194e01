"""The testing kit's engine and clock (docs/testing.md).

``TestEngine`` is an engine on a data folder of its own, driven by a ``TestClock``: time
stands still until the test moves it, and moving it fires the alarms and hibernates the
idle objects that fall due on the way, in time order, without sleeping. ``crash()``
stops the engine as a kill would (only what was handed to the disk survives) and
``restart()`` starts a new engine on the same folder. Stubs and namespaces taken from
``TestEngine.env`` keep working across a restart: they call whichever engine runs now.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.clock import ManualClock
from ..engine.engine import Engine
from ..engine.ids import ObjectId
from ..engine.object.stubs import Env, Namespace, Stub

active: TestEngine | None = None  # the engine of the test running now (the plugin sets it)
SETTLE_ROUNDS = 1000  # an alarm that keeps re-arming itself in the past stops here, loudly


class KitError(AssertionError):
    """A check of the testing kit failed (open calls at teardown, an engine that is not running...)."""


@dataclass(frozen=True)
class AlarmRun:
    """What ``run_alarm`` saw: ``outcome`` is "done", "retry" (it raised and will be tried
    again), "gave_up" (it raised on its last retry), "replaced" (it raised after setting a
    new alarm) or "skipped" (deleted or replaced before it ran); ``error`` is what it raised."""

    outcome: str
    error: str | None = None

    def __bool__(self) -> bool:
        return self.outcome == "done"


class TestClock:
    """The engine's time in a test. It moves only with ``advance``/``advance_to``."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, kit: TestEngine, start: float):
        self._kit = kit
        self.manual = ManualClock(start)

    def now(self) -> float:
        """The engine's time, epoch seconds."""
        return self.manual.now()

    @property
    def timers_fired(self) -> int:
        """How many of the engine's timers moving time has run so far: an alarm (or a retry), an
        idle sweep, a checkpoint interval. Time spent idle costs none (docs/testing.md)."""
        return self.manual.fired

    def datetime(self) -> _dt.datetime:
        """The engine's time as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.manual.now(), _dt.UTC)

    async def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0) -> None:
        """Move time forward; every alarm (and retry) and every idle timeout that falls due on the
        way fires at its instant, in order, and what it started ends before the next."""
        total = seconds + 60 * minutes + 3600 * hours + 86400 * days
        if not total >= 0:
            raise ValueError(f"advance() moves time forward only; got {total!r} seconds")
        await self.advance_to(self.manual.now() + total)

    async def advance_to(self, when: float | _dt.datetime) -> None:
        """Move time forward to ``when`` (epoch seconds or an aware datetime), as ``advance``."""
        target = when.timestamp() if isinstance(when, _dt.datetime) else float(when)
        if target < self.manual.now():
            raise ValueError(f"time only moves forward: {target} is before now ({self.manual.now()})")
        await self.settle()
        while self.manual.step(target):
            await self.settle()
        self.manual.set(target)
        await self.settle()

    async def settle(self) -> None:
        """Let what is due now run to its end: alarms firing, and their writes' commits."""
        engine = self._kit.current
        for _ in range(SETTLE_ROUNDS):
            await asyncio.sleep(0)  # timers due at once run on the loop's next turn
            firing = engine.alarms.firing()
            if firing:
                await asyncio.gather(*firing, return_exceptions=True)
                continue
            if engine.stats()["commits_pending"]:
                await engine.flush()
                continue
            await asyncio.sleep(0)
            if not engine.alarms.firing():
                return
        raise KitError(
            f"alarms kept firing for {SETTLE_ROUNDS} rounds at one instant: does an alarm() "
            "set its next alarm in the past (e.g. from real time instead of self.ctx.now())?"
        )


class TestEngine:
    """An engine on its own folder for one test, with the kit's helpers (docs/testing.md).

    Everything an ``Engine`` has is here too (``engine.stats()``, ``engine.instances()``...);
    it reaches the engine running now.
    """

    __test__ = False

    def __init__(self, objects: str, data: str, *, start: float | None = None, **options: Any):
        self.objects = objects
        self.data = data
        self.options = options
        self.clock = TestClock(self, _dt.datetime.now(_dt.UTC).timestamp() if start is None else start)
        self.current: Engine = self._new_engine()
        self.env = Env(self)  # type: ignore[arg-type]  # stubs made here call whichever engine runs now
        self._ns: dict[str, Namespace] = {}
        self.crashes = 0
        self.crashed = False  # crashed, and not restarted since

    def _new_engine(self) -> Engine:
        self.clock.manual.clear()  # the timers of the engine before are gone with it
        return Engine(objects=self.objects, data=self.data, clock=self.clock.manual, **self.options)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "current":
            raise AttributeError(name)
        return getattr(self.current, name)

    # ------------------------------------------------------------ namespaces and calls (across restarts)
    def namespace(self, name: str) -> Namespace:
        handle = self._ns.get(name)
        if handle is None:
            self.current.namespace(name)  # raises NamespaceNotFoundError for an unknown class
            handle = self._ns[name] = Namespace(self, name)  # type: ignore[arg-type]  # TestEngine offers what a Namespace uses of an Engine
        return handle

    def call(self, namespace: str, oid: ObjectId, method: str, args: tuple = (), kwargs: dict | None = None):
        return self.current.call(namespace, oid, method, args, kwargs)

    # ------------------------------------------------------------ start, close, crash, restart
    async def start(self) -> TestEngine:
        await self.current.start()
        await self.clock.settle()  # alarms that fell due while it was stopped
        return self

    async def close(self) -> None:
        await self.current.close()

    async def crash(self) -> None:
        """Stop at this instant as a kill would: what was not yet handed to the disk is lost
        (writes not committed, in-memory attributes); the callers still waiting get
        ``EngineClosedError``. ``restart()`` starts again on the same folder."""
        self.crashes += 1
        self.crashed = True
        await self.current.crash()

    async def restart(self) -> None:
        """Start a new engine on the same folder (closing the running one cleanly first, if
        it was not crashed): it recovers what the last one left, and overdue alarms fire."""
        await self.current.close()
        self.current = self._new_engine()
        self.crashed = False
        await self.start()

    # ------------------------------------------------------------ helpers
    async def hibernate(self, stub: Stub) -> bool:
        """Hibernate one object (once its calls end); False if it was not live."""
        return await self.current.hibernate(stub.id.namespace, stub.id)

    async def hibernate_all(self) -> int:
        """Hibernate every live object; how many were."""
        return await self.current.hibernate_all()

    def state(self, stub: Stub) -> str:
        """The object's state as listings show it: "live", "hibernated", "broken", "unknown"..."""
        return self.current.instance_info(stub.id.namespace, stub.id)["state"]

    async def run_in_object(self, stub: Stub, fn: Callable[[Any, Any], Any]) -> Any:
        """Run ``fn(instance, ctx)`` inside the object, through its queue and input gate (so no
        call interleaves with it), waking it if need be; what ``fn`` returns (awaited if it is
        awaitable), as is. Its writes are durable before this returns, as a call's."""
        box: list[Any] = []

        async def inside(inst) -> None:
            result = fn(inst.obj, inst.ctx)
            if inspect.isawaitable(result):
                result = await result
            box.append(result)

        await self.current.run_on(stub.id.namespace, stub.id, "run_in_object", inside, kind="storage")
        return box[0]

    def list_ids(self, namespace: Namespace | str) -> list[ObjectId]:
        """The ids of every object of ``namespace`` that exists (live or hibernated), in listing order."""
        name = namespace if isinstance(namespace, str) else namespace.name
        self.current.namespace(name)
        return [ObjectId(r["id"], name, r.get("name")) for r in self.current.instances(name)]

    async def run_alarm(self, stub: Stub) -> AlarmRun | None:
        """Fire the object's alarm now, whatever its time (or its pending retry), and wait for its
        outcome; None if it has no alarm set. The clock does not move."""
        await self.clock.settle()
        outcome = await self.current.alarms.fire_now(stub.id.namespace, stub.id.hex)
        await self.clock.settle()
        return None if outcome is None else AlarmRun(*outcome)

    def pending_alarms(self) -> list[tuple[str, str, float, int]]:
        """Every pending alarm try: (namespace, id hex, when, retry count), earliest first."""
        return self.current.alarms.pending_tries()

    def check_quiet(self) -> None:
        """Raise ``KitError`` if a call is still open or a commit still pending (the teardown check)."""
        if self.crashed:
            return  # a crashed engine's calls ended with it
        s = self.current.stats()
        open_calls = s["queued"] + s["running"]
        if open_calls or s["commits_pending"]:
            raise KitError(
                f"the test ended with {open_calls} call(s) still open and {s['commits_pending']} "
                "commit(s) pending: await every call (and cancel what must not finish) before it ends"
            )
