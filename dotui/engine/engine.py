"""The engine: start and close, recovery, call routing, hibernate, wake and reload.

It wires the units that do the work, each the one owner of its state: the
instances (instance.py, with their call queues and gates), the committer
(committer.py), the durable state (durable.py: checkpoints and recovery), the
alarm scheduler (alarms.py), listing (listing.py) and the WebSockets
(websockets.py). Everything runs on one asyncio loop; disk work that can take
long (a slow fdatasync, checkpoint rewrites) runs on two single-thread
executors, so calls go on while a commit is on its way to disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import Any

from . import history, values
from .clock import REAL, Clock
from .durability import folder, moves, sqlfile, sqlhistory
from .durability.commitlog import CommitLog, Delta
from .durability.committer import Committer
from .durability.crash import stop_as_killed
from .durability.durable import DurableState, check_namespaces
from .durability.index import Index
from .durability.ledger import segment_number
from .durability.lock import DataLock
from .errors import (
    BrokenObjectError,
    CommitFailedError,
    EngineClosedError,
    MethodNotFoundError,
    NamespaceNotFoundError,
)
from .events import EventBus
from .ids import ObjectId
from .listing import Listing
from .loader import IMPORT_TIMEOUT, LoadError, NamespaceInfo, check_backends, class_moves, load_objects
from .object.alarms import AlarmScheduler
from .object.calls import Call, ConstructorCall, current_call
from .object.host import IN_MEMORY, State
from .object.instance import Instance
from .object.stubs import Env, Namespace
from .object.websockets import WebSockets
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
        self.import_timeout = import_timeout  # seconds one objects file's import may take (loader.py)
        self._log_class = log_class
        self.clock = clock  # the one source of time (clock.py); the testing kit's moves when told

        self.bus = EventBus()
        self.websockets = WebSockets(self)  # accepted sockets, held apart from their objects (websockets.py)
        self.env = Env(self)
        self.index = Index(os.path.join(self.data_dir, "index.sqlite"))
        self.load_errors: list[LoadError] = []
        self._namespaces: dict[str, NamespaceInfo] = {}
        self._ns_handles: dict[str, Namespace] = {}
        # The records of objects in memory, and of those just out of it with something still in
        # flight (Instance.detached); a broken one is kept (at most BROKEN_KEPT) to show why.
        self._instances: dict[tuple[str, str], Instance] = {}
        self._live: dict[tuple[str, str], Instance] = {}
        self._broken: dict[tuple[str, str], None] = {}  # keys of kept broken records, oldest first
        self.durable = DurableState(
            self.data_dir,
            self.index,
            interval=checkpoint_interval,
            publish=self.bus.publish,
            on_broken=self._on_checkpoint_broken,
            clock=clock,
        )
        self.alarms = AlarmScheduler(
            self._alarm_target, self.bus, retry_base=alarm_retry_base, max_retries=alarm_max_retries, clock=clock
        )
        # Every unit reads what the engine holds through these read-only views; the engine alone writes.
        self.holdings = Holdings(
            MappingProxyType(self._namespaces),
            MappingProxyType(self._instances),
            MappingProxyType(self._live),
            MappingProxyType(self._broken),
            MappingProxyType(self._ns_handles),
        )
        self.sweeper = IdleSweeper(clock, idle_timeout, self.holdings.live, self._checkpoint_soon)
        self._lock = DataLock(self.data_dir)
        self.listing = Listing(self.index, self.holdings.records, self.holdings.live)
        self._tasks: list[asyncio.Task] = []
        self._reloading = asyncio.Lock()
        self._started = self._closed = self._crashed = False
        self.stats_counters = {"calls": 0}
        self.router: Any = None  # in a cluster (a ShardRouter): reaches the ids another shard owns (docs/cluster.md)
        self.views = EngineViews(self)

    @property
    def started(self) -> bool:
        return self._started

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
            namespaces, errors = await self._load_objects()
            self._set_code(namespaces, check_backends(namespaces, errors, self.data_dir, self.objects_dir))
            check_namespaces({n: i.file for n, i in self._namespaces.items()}, self.data_dir)
            folder.check(self.data_dir, self._namespaces)  # nothing in it the engine did not make
            self.log = self._log_class(os.path.join(self.data_dir, "log"))
            sql = [n for n, i in self._namespaces.items() if i.backend == "sqlite"]
            unclosed = sqlfile.alarms_of_open_databases(self.data_dir, sql)  # before recovery closes them
            self.durable.recover(self.log)  # bring checkpoints up to date with the log (README.md, "On disk")
            if sqlfile.reconcile_alarms(self.index, unclosed):
                self.index.persist(self.index.take_changes())
            moves.apply(
                self.data_dir,
                class_moves(self.objects_dir),
                {n: i.backend for n, i in namespaces.items()},
                self.index,
                self.durable.pending,
            )  # renamed and deleted classes (durability/moves.py)
            self._report_classless()
            self.log.open_new_segment()
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

    def _report_classless(self) -> None:
        """Objects of a namespace no class defines (its file lost, or renamed) are kept as they are:
        listed, their checkpoints and log records untouched, until the class is back. Said once."""
        for ns in self.index.namespaces():
            if ns not in self._namespaces and self.index.count(ns):
                log.warning(
                    "the data folder holds %d object(s) of namespace %s, which no class in %s "
                    "defines: they are kept as they are (restore the class to reach them)",
                    self.index.count(ns),
                    ns,
                    self.objects_dir,
                )

    async def close(self) -> None:
        """Finish: let running calls end, make every write durable, checkpoint, unlock."""
        if not self._started or self._closed:
            return
        self._closed = True
        self.alarms.stop()
        self.sweeper.stop()
        await until_all_idle(self.holdings.live, 5.0, self.bus)
        await self.alarms.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush()
        for inst in list(self._live.values()):
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
                self, list(self._live.values()), self._tasks, (self._log_io, self._ckpt_io), self._lock
            )
            self.index.close()

    # ================================================================ namespaces & calls
    def namespace(self, name: str) -> Namespace:
        handle = self._ns_handles.get(name)
        if handle is None:
            self.namespace_info(name)
            handle = self._ns_handles[name] = Namespace(self, name)
        return handle

    def namespace_info(self, name: str) -> NamespaceInfo:
        """The loaded class of namespace ``name`` (its methods and their signatures);
        NamespaceNotFoundError if there is none."""
        info = self._namespaces.get(name)
        if info is None:
            raise NamespaceNotFoundError(name, list(self._namespaces), [str(e) for e in self.load_errors])
        return info

    def _instance(self, info: NamespaceInfo, oid: ObjectId) -> Instance:
        key = (info.name, oid.hex)
        inst = self._instances.get(key)
        if inst is None:
            inst = self._instances[key] = Instance(self, info, oid)
        return inst

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
        info = self._namespaces.get(namespace) or self.namespace_info(namespace)
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
        inst = self._instances.get((namespace, oid.hex)) or self._instance(info, oid)
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
        info = self.namespace_info(namespace)
        inst = self._instance(info, oid)
        return await inst.invoke(Call(kind, label, args, {}, (), fn=fn))

    # ================================================================ the instances' host (instance.Host)
    BROKEN_KEPT = 1000  # records of broken objects kept to show why (then they show as hibernated)

    def touch(self, inst: Instance) -> Instance:
        held = self._instances.get(inst.key)
        if held is None:  # forgotten while its caller held it, and nothing replaced it: it is the record again
            held = self._instances[inst.key] = inst
        self.index.ensure(inst.ns.name, inst.id.hex, inst.id.name)
        return held

    def on_state(self, inst: Instance, old: State, new: State) -> None:
        """Objects in memory (live or draining) are the ones counted live, wherever the change came from."""
        if new in IN_MEMORY:
            self._live[inst.key] = inst
            if old not in IN_MEMORY:
                self.sweeper.woke()
        elif old in IN_MEMORY:
            self._live.pop(inst.key, None)
            self.index.ensure(inst.ns.name, inst.id.hex, inst.id.name).last_active = inst.last_active
        if old is State.BROKEN:
            self._broken.pop(inst.key, None)

    def released(self, inst: Instance) -> None:
        """Forget the record of an object out of memory with nothing in flight: its counters go to
        its index entry, its history goes (history.py). O(its history records)."""
        key = inst.key
        if self._instances.get(key) is not inst:
            return
        e = self.index.get(*key)
        if e is not None and (e.calls != inst.calls or e.errors != inst.errors):
            e = self.index.ensure(inst.ns.name, inst.id.hex, inst.id.name)
            e.calls, e.errors = inst.calls, inst.errors
        self.call_history.drop(key)
        self.websockets.object_left(key)
        if inst.state is not State.BROKEN:
            del self._instances[key]
            return
        self._broken.pop(key, None)
        self._broken[key] = None
        while len(self._broken) > self.BROKEN_KEPT:
            oldest = next(iter(self._broken))
            del self._broken[oldest]
            kept = self._instances.get(oldest)
            if kept is not None and kept.detached():
                del self._instances[oldest]

    def held(self, key: tuple[str, str]) -> Instance | None:
        """The engine's record of the object ``key`` (namespace, id hex), if it holds one: in memory,
        broken, or just out of memory with something in flight. O(1)."""
        return self._instances.get(key)

    def schedule_commit(self, inst: Instance) -> None:
        self.committer.schedule(inst)

    def was_reset(self, inst: Instance, error: BaseException) -> None:
        self.committer.forget(inst)
        self.websockets.drop_object(inst.key, error)  # its clients' connections end, as on workerd
        if inst.ns.backend == "sqlite" and isinstance(error, CommitFailedError):
            self._reconcile_alarm(inst)

    def _reconcile_alarm(self, inst: Instance) -> None:
        """A SQLite-backed object's commit failed after its COMMIT: its database's alarm is the truth."""
        alarm = sqlfile.reconcile_one(self.data_dir, inst.key, self.index)
        if alarm is not None:
            self.alarms.schedule(inst.ns.name, inst.id.hex, alarm)

    def commit_if_alone(self) -> None:
        self.committer.commit_if_alone()

    def checkpoint_path(self, namespace: str, hx: str) -> str:
        return self.durable.path(namespace, hx)

    def load_state(self, inst: Instance) -> tuple[Any, float | None]:
        """An object's durable state: its checkpoint plus the log records not yet in it (a KV object's
        dict), or its open database and its path (a SQLite-backed object's); and its alarm."""
        if self._crashed:
            raise BrokenObjectError("the engine crashed (engine.crash()); start a new one on its folder")
        if inst.ns.backend == "sqlite":  # its database, opened: O(1) in its size (docs/sqlite.md)
            return sqlhistory.open_for_wake(
                self.data_dir, inst.key, inst.id.name, self.clock.now, self.index.get(*inst.key)
            )
        data, alarm, meta = self.durable.load(inst.key)
        if inst.id.name is None and meta.get("name"):
            inst.id.name = meta["name"]
        return data, alarm

    def _on_checkpoint_broken(self, key: tuple[str, str], reason: str) -> None:
        """Its checkpoint cannot be read: a live object is reset, and its next wake says why."""
        inst = self._instances.get(key)
        if inst is not None:
            inst.reset(BrokenObjectError(reason))

    async def hibernate(self, namespace: str, oid: ObjectId) -> bool:
        """Hibernate one object once its calls, and the tasks it started, end; False if it was not live."""
        inst = self._instances.get((namespace, oid.hex))
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
        for inst in list(self._live.values()):
            if await self.hibernate(inst.ns.name, inst.id):
                n += 1
        await self.checkpoint()
        return n

    async def wake(self, namespace: str, oid: ObjectId) -> None:
        inst = self._instance(self.namespace_info(namespace), oid)
        self.touch(inst)
        await inst.ensure_live()

    async def reload(self) -> list[LoadError]:
        """Re-import the objects folder; live objects are reset onto the new code.

        Storage, alarms and queued calls survive. Returns the files that failed. The
        imports run off the loop (``_load_objects``): live objects answer calls meanwhile,
        on their old code; reloads run one at a time.
        """
        async with self._reloading:
            namespaces, errors = await self._load_objects()
            self._swap_code(namespaces, errors)
        return errors

    async def _load_objects(self) -> tuple[dict[str, NamespaceInfo], list[LoadError]]:
        """Import the objects folder on a thread, each file within ``import_timeout`` seconds
        (loader.py): an import that blocks stalls no object, and costs at most that bound."""
        return await asyncio.to_thread(load_objects, self.objects_dir, self.import_timeout)

    def _set_code(self, namespaces: dict[str, NamespaceInfo], errors: list[LoadError]) -> None:
        """The classes the engine serves now: updated in place, so every view of them sees the new ones."""
        self._namespaces.clear()
        self._namespaces.update(namespaces)
        self.load_errors = errors

    def _swap_code(self, namespaces: dict[str, NamespaceInfo], errors: list[LoadError]) -> None:
        errors = check_backends(namespaces, errors, self.data_dir, self.objects_dir)
        self._set_code(namespaces, errors)
        for name in list(self._ns_handles):
            if name not in namespaces:
                del self._ns_handles[name]
        for inst in list(self._instances.values()):
            inst.reload(
                namespaces.get(inst.ns.name), f"class {inst.ns.name} is no longer defined in {self.objects_dir}"
            )
        self.bus.publish("reload", errors=[str(e) for e in errors], namespaces=list(namespaces))

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
        info = self._namespaces.get(ns)
        e = self.index.get(ns, hx)
        if info is None or e is None or e.alarm != alarm_time or not info.has_alarm:
            return None
        return self._instances.get((ns, hx)) or self._instance(info, ObjectId(hx, ns, e.name))
