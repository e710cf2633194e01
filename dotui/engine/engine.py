"""The engine: start and close, call routing, hibernate, wake and reload.

It wires the units that do the work, each the one owner of its state: the
classes served (classes.py), the records of the objects held (records.py, each an
instance with its call queue and gates: object/instance.py), the committer
(committer.py), the durable state (durable.py: checkpoints and recovery; opening.py
brings a data folder up to date at start), where an object's state is by backend
(backends.py), the alarm scheduler (alarms.py), listing (listing.py) and the
WebSockets (websockets.py). Everything runs on one asyncio loop; disk work that can
take long (a slow fdatasync, checkpoint rewrites) runs on two single-thread
executors, so calls go on while a commit is on its way to disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import history, values
from .backends import Backends
from .classes import Classes
from .clock import REAL, Clock
from .durability import folder
from .durability.commitlog import CommitLog
from .durability.committer import Committer
from .durability.crash import stop_as_killed
from .durability.durable import DurableState
from .durability.index import Index
from .durability.ledger import segment_number
from .durability.lock import DataLock
from .durability.logformat import Delta
from .durability.opening import open_folder
from .errors import (
    BrokenObjectError,
    EngineClosedError,
    MethodNotFoundError,
)
from .events import EventBus
from .ids import ObjectId
from .listing import Listing
from .loader import IMPORT_TIMEOUT, LoadError, NamespaceInfo, class_moves
from .object.alarms import AlarmScheduler
from .object.calls import Call, ConstructorCall, current_call
from .object.host import State
from .object.instance import Instance
from .object.stubs import Env, Namespace
from .object.websockets import WebSockets
from .records import Records
from .sweeper import IdleSweeper, until_all_idle
from .views import EngineViews, Holdings, ReadSide

log = logging.getLogger("dotui")


class Engine(ReadSide):
    """A local Durable Objects engine over an objects folder and a data folder.

    ``async with Engine(objects="objects", data=".dotui") as engine:`` starts it
    (recovering from the commit log if the last run crashed) and closes it
    cleanly (every write durable and checkpointed, every object hibernated).
    """

    def __init__(
        self,
        objects: str = "objects",
        data: str = ".dotui",
        *,
        idle_timeout: float = 10.0,
        max_queue: int = 1000,
        alarm_retry_base: float = 2.0,
        alarm_max_retries: int = 6,
        block_timeout: float = 30.0,
        checkpoint_interval: float = 60.0,
        checkpoint_log_bytes: int = 16 << 20,
        history_size: int = 100,
        history_entries: int = history.MAX_ENTRIES,
        history_bytes: int = history.MAX_BYTES,
        import_timeout: float = IMPORT_TIMEOUT,
        log_class: type[CommitLog] = CommitLog,
        clock: Clock = REAL,
    ):
        self.objects_dir = os.path.abspath(objects)
        # Resolved once: the folder named may be a link, nothing below it may (folder.py).
        self.data_dir = os.path.realpath(data)
        self.idle_timeout = idle_timeout
        self.max_queue = max_queue
        self.alarm_retry_base = alarm_retry_base
        self.alarm_max_retries = alarm_max_retries
        self.block_timeout = block_timeout
        self.checkpoint_interval = checkpoint_interval
        self.checkpoint_log_bytes = checkpoint_log_bytes
        self.history_size = history_size
        # The finished calls the front ends show, of objects in memory only (history.py).
        self.call_history = history.CallHistory(history_size, history_entries, history_bytes)
        self._log_class = log_class
        self.clock = clock  # the one source of time (clock.py); the testing kit's moves when told

        self.bus = EventBus()
        self.websockets = WebSockets(self)  # accepted sockets, held apart from their objects (websockets.py)
        self.env = Env(self)
        self.index = Index(os.path.join(self.data_dir, "index.sqlite"))
        # The classes served (classes.py), and the records of the objects held (records.py).
        self.classes = Classes(self.objects_dir, self.data_dir, import_timeout, lambda name: Namespace(self, name))
        self.records = Records(
            lambda info, oid: Instance(self, info, oid),
            self.index,
            self.call_history,
            self.websockets,
            lambda: self.sweeper.woke(),
            kept=self.BROKEN_KEPT,
        )
        self.durable = DurableState(
            self.data_dir,
            self.index,
            interval=checkpoint_interval,
            publish=self.bus.publish,
            on_broken=self._on_checkpoint_broken,
            clock=clock,
        )
        self.backends = Backends(self.data_dir, self.durable, self.index, clock)
        self.alarms = AlarmScheduler(
            self._alarm_target, self.bus, retry_base=alarm_retry_base, max_retries=alarm_max_retries, clock=clock
        )
        # Every unit reads what the engine holds through these read-only views; the engine alone writes.
        self.holdings = Holdings(
            self.classes.infos, self.records.all, self.records.live, self.records.broken, self.classes.handles
        )
        self.sweeper = IdleSweeper(clock, idle_timeout, self.holdings.live, self._checkpoint_soon)
        self._lock = DataLock(self.data_dir)
        self.listing = Listing(self.index, self.holdings.records, self.holdings.live)
        self._tasks: list[asyncio.Task] = []
        self._started = self._closed = self._crashed = False
        self.stats_counters = {"calls": 0}
        self.router: Any = None  # in a cluster (a ShardRouter): reaches the ids another shard owns (docs/cluster.md)
        self.views = EngineViews(self)

    BROKEN_KEPT = 1000  # records of broken objects kept to show why (then they show as hibernated)

    @property
    def started(self) -> bool:
        return self._started

    @property
    def load_errors(self) -> list[LoadError]:
        """The files of the objects folder that failed to load, and the classes refused (classes.py)."""
        return self.classes.errors

    @property
    def import_timeout(self) -> float:
        """Seconds one objects file's import may take (loader.py)."""
        return self.classes.import_timeout

    # ================================================================ start / close
    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def start(self) -> None:
        if self._started:
            return
        folder.prepare(self.data_dir)  # made, or made private (0700)
        self._lock.acquire()
        try:
            self._loop = asyncio.get_running_loop()
            self._log_io = ThreadPoolExecutor(1, thread_name_prefix="dotui-log")
            self._ckpt_io = ThreadPoolExecutor(1, thread_name_prefix="dotui-checkpoint")
            self.classes.serve(*await self.classes.load())
            self.log = open_folder(
                self.data_dir,
                self.classes.infos,
                class_moves(self.objects_dir),
                self.index,
                self.durable,
                self._log_class,
            )  # checked, recovered, classes moved (durability/opening.py)
            self.classes.report_classless(self.index)
        except BaseException:
            self._lock.release()
            raise
        self.committer = Committer(
            self.log,
            self,
            self.bus,
            self._loop,
            self._log_io,
            full_at=self.checkpoint_log_bytes,
            clock=self.clock,
            backlog=self.durable,
        )
        self.committer.start()
        self.durable.start(self._loop, self._ckpt_io, self._rotate_log)
        self._tasks = [self._loop.create_task(self.durable.run())]
        self.sweeper.start(self._loop)
        self._started = True
        self.alarms.start(self._loop, self.index.alarms())

    async def close(self) -> None:
        """Finish: let running calls end, make every write durable, checkpoint, unlock."""
        if not self._started or self._closed:
            return
        self._closed = True
        self.alarms.stop()
        self.sweeper.stop()
        await until_all_idle(self.records.live, 5.0, self.bus)
        await self.alarms.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush()
        for inst in list(self.records.live.values()):
            inst.hibernate()
        await self.checkpoint()
        await self.committer.close()
        self.log.close()
        if self.log.size == 0:
            self.durable.drop_unneeded_segments(self.log)
        self._log_io.shutdown(wait=True)
        self._ckpt_io.shutdown(wait=True)
        self.index.close()
        self.bus.publish("engine.closed")
        self.bus.close()
        self._lock.release()

    async def crash(self) -> None:
        """Stop at this instant as a kill would (crash.py; the testing kit's ``engine.crash()``)."""
        if self._started and not self._closed:
            self._closed = self._crashed = True
            await stop_as_killed(
                self, list(self.records.live.values()), self._tasks, (self._log_io, self._ckpt_io), self._lock
            )
            self.index.close()

    # ================================================================ namespaces & calls
    def namespace(self, name: str) -> Namespace:
        """The handle of namespace ``name`` (``env.Counter``); NamespaceNotFoundError if no class serves it."""
        return self.classes.handle(name)

    def namespace_info(self, name: str) -> NamespaceInfo:
        """The loaded class of namespace ``name`` (its methods and their signatures);
        NamespaceNotFoundError if there is none."""
        return self.classes.info(name)

    async def call(
        self,
        namespace: str,
        oid: ObjectId,
        method: str,
        args: tuple = (),
        kwargs: dict | None = None,
        chain: tuple = (),
    ) -> Any:
        """Call ``method`` on the object ``oid``; its result, once durable, as a copy.

        ``chain``: the calls this one was made from, when it comes from another shard (docs/cluster.md).
        """
        if self._closed or not self._started:
            raise EngineClosedError("the engine is not running; start it with `async with Engine(...)`")
        info = self.classes.get(namespace) or self.classes.info(namespace)
        if method not in info.methods:
            raise MethodNotFoundError(namespace, method, list(info.methods))
        if args or kwargs:
            args, kwargs = values.copy_args(args, kwargs or {}, f"{namespace}.{method}")
        else:
            kwargs = {}
        parent = current_call.get()
        if parent is not None:
            chain = parent.chain + (parent.seq,)
            await self._hold_outgoing(parent)
        if self.router is not None and not self.router.owns(oid):
            return await self.router.call(namespace, oid, method, args, kwargs, chain)
        inst = self.records.get((namespace, oid.hex)) or self.records.of(info, oid)
        self.stats_counters["calls"] += 1
        return await inst.invoke(Call("call", method, args, kwargs, chain))

    async def _hold_outgoing(self, parent: Call | ConstructorCall) -> None:
        """The output gate also holds messages an object sends to other objects."""
        owner = parent.instance
        if owner is not None and owner.storage is not None:
            w = owner.output_gate.waiter(bool(owner.storage))
            if w is not None:
                await w

    async def run_on(
        self, namespace: str, oid: ObjectId, label: str, fn, args: tuple = (), kind: str = "storage"
    ) -> Any:
        """Run ``fn(instance)`` in the object's own queue (storage edits from the front ends)."""
        if self._closed or not self._started:
            raise EngineClosedError("the engine is not running")
        inst = self.records.of(self.classes.info(namespace), oid)
        return await inst.invoke(Call(kind, label, args, {}, (), fn=fn))

    # ================================================================ the instances' host (instance.Host)
    def touch(self, inst: Instance) -> Instance:
        return self.records.touch(inst)

    def on_state(self, inst: Instance, old: State, new: State) -> None:
        self.records.on_state(inst, old, new)

    def released(self, inst: Instance) -> None:
        self.records.released(inst)

    def held(self, key: tuple[str, str]) -> Instance | None:
        """The engine's record of the object ``key`` (namespace, id hex), if it holds one: in memory,
        broken, or just out of memory with something in flight. O(1)."""
        return self.records.get(key)

    def schedule_commit(self, inst: Instance) -> None:
        self.committer.schedule(inst)

    def was_reset(self, inst: Instance, error: BaseException) -> None:
        self.committer.forget(inst)
        self.websockets.drop_object(inst.key, error)  # its clients' connections end, as on workerd
        alarm = self.backends.alarm_after_reset(inst, error)
        if alarm is not None:
            self.alarms.schedule(inst.ns.name, inst.id.hex, alarm)

    def commit_if_alone(self) -> None:
        self.committer.commit_if_alone()

    def load_state(self, inst: Instance) -> tuple[Any, float | None]:
        """An object's durable state and its alarm, read from its backend (backends.py)."""
        if self._crashed:
            raise BrokenObjectError("the engine crashed (engine.crash()); start a new one on its folder")
        return self.backends.load(inst)

    def _on_checkpoint_broken(self, key: tuple[str, str], reason: str) -> None:
        """Its checkpoint cannot be read: a live object is reset, and its next wake says why."""
        inst = self.records.get(key)
        if inst is not None:
            inst.reset(BrokenObjectError(reason))

    async def hibernate(self, namespace: str, oid: ObjectId) -> bool:
        """Hibernate one object once its calls, and the tasks it started, end; False if it was not live."""
        inst = self.records.get((namespace, oid.hex))
        if inst is None or inst.state is not State.LIVE:
            return False
        while inst.state is State.LIVE:
            await inst.until_idle()
            if inst.hibernate():  # if it may now (Instance.may_hibernate); on_state does the books
                self._checkpoint_soon()
                return True
        return False

    async def hibernate_all(self) -> int:
        n = 0
        for inst in list(self.records.live.values()):
            if await self.hibernate(inst.ns.name, inst.id):
                n += 1
        await self.checkpoint()
        return n

    async def wake(self, namespace: str, oid: ObjectId) -> None:
        inst = self.records.of(self.classes.info(namespace), oid)
        self.touch(inst)
        await inst.ensure_live()

    async def reload(self) -> list[LoadError]:
        """Re-import the objects folder; live objects are reset onto the new code.

        Storage, alarms and queued calls survive. Returns the files that failed. The
        imports run off the loop (``Classes.load``): live objects answer calls meanwhile,
        on their old code; reloads run one at a time.
        """
        async with self.classes.reloading:
            namespaces, errors = await self.classes.load()
            self.classes.serve(namespaces, errors)
            for inst in list(self.records.all.values()):
                inst.reload(
                    namespaces.get(inst.ns.name), f"class {inst.ns.name} is no longer defined in {self.objects_dir}"
                )
            self.bus.publish("reload", errors=[str(e) for e in self.classes.errors], namespaces=list(namespaces))
        return errors

    # ================================================================ the committer (committer.py)
    async def flush(self) -> None:
        """Return when every write made so far is durable (or its commit failed and the object was reset)."""
        await self.committer.flush()

    def committed(self, inst: Instance, delta: Delta, keys: int, nbytes: int, now: float) -> None:
        """(The committer's host) ``inst``'s ``delta`` is durable in the log: it joins the durable state."""
        # Settled right after its append, before any rotation: it is in the current segment.
        self.durable.committed(inst.key, delta, self.log.segment)
        e = self.index.ensure(inst.ns.name, inst.id.hex, inst.id.name)
        e.keys, e.bytes, e.last_active = keys, nbytes, now
        if delta.alarm_changed:
            e.alarm = delta.alarm
            if delta.alarm is not None:
                self.alarms.schedule(inst.ns.name, inst.id.hex, delta.alarm)

    def log_full(self, size: int) -> None:
        """(The committer's host) The log's current segment is ``size`` bytes long, past
        ``checkpoint_log_bytes``."""
        self._checkpoint_soon()

    # ================================================================ checkpoints (durable.py)
    def _checkpoint_soon(self) -> None:
        self.durable.want()

    async def _rotate_log(self) -> list[str]:
        """(For the durable state) Start a new log segment between commits; the older segments."""
        if self.log.size == 0:  # the current one holds nothing yet: keep it, start none
            current = self.log.segment
            return [p for p in self.log.segments() if segment_number(p) != current]
        return await self.committer.rotate()

    async def checkpoint(self) -> bool:
        """Write every committed change into its object's checkpoint; drop the covered log.

        True when nothing failed and nothing committed is left outside a durable
        checkpoint; a failure is reported (``checkpoint.failed``) and loses nothing
        (README.md, "On disk").
        """
        return await self.durable.checkpoint()

    # ================================================================ alarms (alarms.py)
    def _alarm_target(self, ns: str, hx: str, alarm_time: float) -> Instance | None:
        """The object an alarm due now fires on; None if it was replaced or deleted, or its class
        is gone or has no alarm()."""
        info = self.classes.get(ns)
        e = self.index.get(ns, hx)
        if info is None or e is None or e.alarm != alarm_time or not info.has_alarm:
            return None
        return self.records.get((ns, hx)) or self.records.of(info, ObjectId(hx, ns, e.name))
