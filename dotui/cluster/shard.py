"""One shard: a Ray actor (async) hosting one ``Engine`` on the shard's own data folder.

The engine starts at the actor's first call, so when Ray restarts a killed actor the
new one recovers the folder (commit log replay, as a single engine after a crash) on
the first call that reaches it. The folder lock still guards the folder: if an old
process were somehow still holding it, the start fails naming that pid.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any

import ray

from ..engine import Engine
from ..engine.durability.slowcommit import SlowCommitLog
from ..engine.events import Subscription
from ..ops.admin import Admin
from .ray_calls import Handles
from .router import ShardRouter
from .wire import Outcome, import_chain, outcome_of

EVENTS_MAXLEN = 10_000
DETACH_AFTER = 0.05  # seconds a batch's answer waits for its slowest call
TICKET_KEPT = 300.0  # seconds a finished detached call's outcome waits for its later(); then it goes


class ShardHost:
    """The actor's body (``runtime.py`` makes it a Ray actor). Every method answers an outcome
    (``wire.py``), never raises across Ray, and starts the engine first if need be."""

    def __init__(self, shard: int, names: list[str], objects: str, folder: str, options: dict[str, Any]):
        self.shard = shard
        self._names = names
        self._objects = objects
        self._folder = folder
        self._options = options
        self._starting: asyncio.Future | None = None
        self.engine: Engine | None = None
        self.admin: Admin | None = None
        self._events: Subscription | None = None
        self._tickets = itertools.count(1)
        self._detached: dict[int, asyncio.Future] = {}

    async def _ready(self) -> Engine:
        if self.engine is not None:
            return self.engine
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        try:
            await asyncio.shield(self._starting)
        except BaseException:
            self._starting = None  # the next call tries again
            raise
        assert self.engine is not None  # _start set it, with admin and _events
        return self.engine

    async def _start(self) -> None:
        engine = Engine(self._objects, self._folder, log_class=SlowCommitLog, **self._options)
        engine.router = ShardRouter(self.shard, Handles(self._names))
        await engine.start()
        self._events = engine.subscribe(EVENTS_MAXLEN)
        self.admin = Admin(engine)
        self.engine = engine

    # ------------------------------------------------------------ calls
    async def call(
        self, namespace: str, hx: str, name: str | None, method: str, args: list, kwargs: dict, chain: tuple
    ) -> Outcome:
        """A stub's call from an object on another shard, with its call chain."""
        return await outcome_of(self._call(namespace, hx, name, method, args, kwargs, chain))

    async def _call(self, namespace, hx, name, method, args, kwargs, chain) -> Any:
        engine = await self._ready()
        oid = engine.namespace(namespace).id_from_string(hx)
        oid.name = name
        return await engine.call(namespace, oid, method, tuple(args), kwargs, import_chain(chain, self.shard))

    async def call_id(
        self, namespace: str, hx: str, name: str | None, method: str, args: list, kwargs: dict
    ) -> Outcome:
        """A checked call from the gateway (``Admin.call_id``): nothing runs if the method or arguments are wrong."""

        async def go() -> Any:
            engine = await self._ready()
            oid = engine.namespace(namespace).id_from_string(hx)
            oid.name = name
            assert self.admin is not None  # set with the engine
            return await self.admin.call_id(namespace, oid, method, args, kwargs)

        return await outcome_of(go())

    async def calls(self, batch: list[tuple]) -> list[Outcome]:
        """Many calls in one Ray message (``ray_calls.ShardChannel``), run concurrently, each in its own
        task as if it had come alone: ``("call", ...)`` as ``call``, ``("call_id", ...)`` as ``call_id``.

        Answers once every one is done, or after ``DETACH_AFTER`` seconds with ``("later", ticket)``
        for each still running; ``later(ticket)`` then waits for that one.
        """
        await self._ready()
        tasks = [asyncio.ensure_future(getattr(self, kind)(*args)) for kind, *args in batch]
        await asyncio.wait(tasks, timeout=DETACH_AFTER)
        out: list[Outcome] = []
        for task in tasks:
            if task.done():
                out.append(task.result())
            else:
                ticket = next(self._tickets)
                self._detached[ticket] = task
                task.add_done_callback(lambda _, ticket=ticket: self._expire(ticket))
                out.append(("later", ticket))
        return out

    @property
    def tickets_waiting(self) -> int:
        """Detached calls whose outcome no later() has taken yet."""
        return len(self._detached)

    def _expire(self, ticket: int) -> None:
        """A detached call ended: its outcome is kept TICKET_KEPT seconds for a later() that may
        never come (its caller's process died), so tickets never pile up."""
        asyncio.get_running_loop().call_later(TICKET_KEPT, self._detached.pop, ticket, None)

    async def later(self, ticket: int) -> Outcome:
        """The outcome of a call ``calls`` answered with a ticket."""
        return await self._detached.pop(ticket)

    async def op(self, name: str, kwargs: dict[str, Any]) -> Outcome:
        """The admin operation ``name`` (``ops/admin.py``) on this shard."""

        async def go() -> Any:
            await self._ready()
            return await getattr(self.admin, name)(**kwargs)

        return await outcome_of(go())

    # ------------------------------------------------------------ events and life
    async def next_events(self, wait: float) -> list[dict]:
        """The events since the last read (waiting up to ``wait`` seconds for the first one)."""
        await self._ready()
        sub = self._events
        assert sub is not None  # set with the engine
        try:
            first = await asyncio.wait_for(sub.get(), wait)
        except TimeoutError:
            return []
        return [first, *sub.drain()]

    async def describe(self) -> Outcome:
        """Where this shard runs: pid, node, data folder (and its engine started)."""

        async def go() -> dict[str, Any]:
            await self._ready()
            return {
                "shard": self.shard,
                "pid": os.getpid(),
                "folder": self._folder,
                "node": ray.get_runtime_context().get_node_id(),
            }

        return await outcome_of(go())

    async def close(self) -> Outcome:
        """Stop the engine cleanly: every write durable, checkpointed, the folder unlocked."""
        if self.engine is not None:
            engine, self.engine = self.engine, None
            if self._events is not None:
                self._events.close()
            return await outcome_of(engine.close())
        return ("ok", None)
