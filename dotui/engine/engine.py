"""The engine: namespaces, stubs, the committer, hibernation, alarms, recovery.

Everything here runs on one asyncio loop. Disk work that can take long (the
log's fdatasync, checkpoint rewrites) runs on two single-thread executors, so
calls go on while a commit is on its way to disk: that is what group commit is.
"""

from __future__ import annotations

import asyncio
import fcntl
import heapq
import itertools
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

from . import disk, values
from .commitlog import DELETED, CommitLog, Delta
from .committer import Committer
from .durable import DurableState, check_namespaces, segment_number
from .errors import (
    BrokenObjectError,
    DataFolderError,
    EngineClosedError,
    EngineLockedError,
    InvalidIdError,
    MethodNotFoundError,
    NamespaceNotFoundError,
)
from .events import EventBus, Subscription
from .ids import IdFactory, ObjectId
from .index import Index
from .instance import IN_MEMORY, Call, Instance, State, alarm_call, current_call
from .loader import LoadError, NamespaceInfo, load_objects
from .websockets import WebSockets


log = logging.getLogger("dotui")


class Stub:
    """A caller's handle on one object. ``await stub.method(*args, **kwargs)``.

    Making a stub creates nothing; the object comes to exist at its first call.
    """

    __slots__ = ("id", "_engine", "_namespace", "_methods")

    def __init__(self, engine: "Engine", namespace: str, oid: ObjectId):
        self._engine = engine
        self._namespace = namespace
        self.id = oid
        self._methods: dict[str, Any] = {}

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)
        call = self._methods.get(method)
        if call is None:
            engine, ns, oid = self._engine, self._namespace, self.id

            def call(*args: Any, **kwargs: Any):
                return engine.call(ns, oid, method, args, kwargs)

            call.__name__ = method
            self._methods[method] = call
        return call

    def __repr__(self) -> str:
        return f"<Stub {self._namespace}/{self.id.name or self.id.hex[:12]}>"


class Namespace:
    """``engine.env.<Class>``: makes ids and stubs for one class."""

    def __init__(self, engine: "Engine", name: str):
        self._engine = engine
        self.name = name
        self._ids = IdFactory(name)

    def id_from_name(self, name: str) -> ObjectId:
        return self._ids.from_name(name)

    def new_unique_id(self) -> ObjectId:
        return self._ids.new_unique()

    def id_from_string(self, text: str) -> ObjectId:
        """The id written as ``text``; its ``name`` is None, as in Cloudflare."""
        return self._ids.from_string(text)

    def get(self, oid: ObjectId) -> Stub:
        if not isinstance(oid, ObjectId):
            raise TypeError(f"get() takes an ObjectId (from id_from_name, new_unique_id or id_from_string), not {type(oid).__name__}")
        if oid.namespace != self.name:
            raise InvalidIdError("Durable Object ID is not valid for this namespace.")
        return Stub(self._engine, self.name, oid)

    def get_by_name(self, name: str) -> Stub:
        return self.get(self.id_from_name(name))

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"


class Env:
    """``self.env`` / ``engine.env``: the namespaces, as attributes."""

    def __init__(self, engine: "Engine"):
        self._engine = engine

    def __getattr__(self, name: str) -> Namespace:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._engine.namespace(name)

    def __dir__(self) -> Iterable[str]:
        return list(self._engine._namespaces)


class DataLock:
    """An exclusive lock on a data folder, naming the pid of its holder."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, "lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        if os.path.isdir(self.path):
            raise DataFolderError(
                f"the lock file {self.path} is a folder; dotui keeps its lock there: "
                "move that folder out of the data folder, or pass another data folder (--data DIR)"
            )
        try:
            fd = disk.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataFolderError(
                f"cannot open the lock file {self.path}: {exc.strerror or exc}; "
                "check its permissions, or pass another data folder (--data DIR)"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            disk.close(fd)
            raise EngineLockedError(
                f"the data folder {os.path.dirname(self.path)} is in use by another dotui engine "
                f"(pid {holder}); stop that one, or pass another data folder (--data DIR)"
            ) from None
        try:
            disk.ftruncate(fd, 0)
            disk.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass  # the lock is held; only the pid shown to a second engine is missing
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            disk.close(self._fd)
            self._fd = None


class Engine:
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
        log_class: type[CommitLog] = CommitLog,
    ):
        self.objects_dir = os.path.abspath(objects)
        self.data_dir = os.path.abspath(data)
        self.idle_timeout = idle_timeout
        self.max_queue = max_queue
        self.alarm_retry_base = alarm_retry_base
        self.alarm_max_retries = alarm_max_retries
        self.block_timeout = block_timeout
        self.checkpoint_interval = checkpoint_interval
        self.checkpoint_log_bytes = checkpoint_log_bytes
        self.history_size = history_size
        self._log_class = log_class

        self.bus = EventBus()
        self.websockets = WebSockets(self)  # accepted sockets, held apart from their objects (websockets.py)
        self.env = Env(self)
        self.index = Index(os.path.join(self.data_dir, "index.json"))
        self.load_errors: list[LoadError] = []
        self._namespaces: dict[str, NamespaceInfo] = {}
        self._ns_handles: dict[str, Namespace] = {}
        self._instances: dict[tuple[str, str], Instance] = {}
        self._live: dict[tuple[str, str], Instance] = {}
        self.durable = DurableState(self.data_dir, self.index, interval=checkpoint_interval,
                                    publish=self.bus.publish, on_broken=self._on_checkpoint_broken)
        self._alarms: list[tuple[float, str, str, int, float]] = []
        self._lock = DataLock(self.data_dir)
        self._sorted: list[tuple[str, str]] = []
        self._sorted_version: tuple | None = None
        self._tasks: list[asyncio.Task] = []
        self._started = False
        self._closed = False
        self.stats_counters = {"calls": 0}
        self.router = None  # in a cluster: reaches the ids another shard owns (docs/cluster.md)

    # ================================================================ start / close
    async def __aenter__(self) -> "Engine":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def start(self) -> None:
        if self._started:
            return
        os.makedirs(self.data_dir, exist_ok=True)
        self._lock.acquire()
        try:
            self._loop = asyncio.get_running_loop()
            self._log_io = ThreadPoolExecutor(1, thread_name_prefix="dotui-log")
            self._ckpt_io = ThreadPoolExecutor(1, thread_name_prefix="dotui-checkpoint")
            self._namespaces, self.load_errors = load_objects(self.objects_dir)
            check_namespaces({n: i.file for n, i in self._namespaces.items()}, self.data_dir)
            self.log = self._log_class(os.path.join(self.data_dir, "log"))
            self._recover()
            self.log.open_new_segment()
        except BaseException:
            self._lock.release()
            raise
        self.committer = Committer(self.log, self, self.bus, self._loop, self._log_io,
                                   full_at=self.checkpoint_log_bytes)
        self.committer.start()
        self._alarm_event = asyncio.Event()
        self.durable.start(self._loop, self._ckpt_io, self._rotate_log)
        self._tasks = [
            self._loop.create_task(self._sweeper()),
            self._loop.create_task(self._alarm_loop()),
            self._loop.create_task(self.durable.run()),
        ]
        self._started = True
        for ns, hx, e in self.index.entries():
            if e.alarm is not None:
                self._schedule_alarm(e.alarm, ns, hx, 0, e.alarm)

    def _recover(self) -> None:
        """Bring checkpoints up to date with the log a crash left behind (README.md, "On disk")."""
        self.durable.recover(self.log)

    async def close(self) -> None:
        """Finish: let running calls end, make every write durable, checkpoint, unlock."""
        if not self._started or self._closed:
            return
        self._closed = True
        await self._until_all_idle(5.0)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush()
        for inst in list(self._live.values()):
            self._hibernate(inst)
        await self.checkpoint()
        await self.committer.close()
        self.log.close()
        if self.log.size == 0:
            self._drop_unneeded_segments()
        self._log_io.shutdown(wait=True)
        self._ckpt_io.shutdown(wait=True)
        self.bus.publish("engine.closed")
        self.bus.close()
        self._lock.release()

    async def _until_all_idle(self, timeout: float) -> None:
        """Let running calls, queued calls and the tasks objects started end, for ``timeout`` seconds."""
        waits = [self._loop.create_task(inst.until_idle()) for inst in self._live.values()]
        if not waits:
            return
        done, pending = await asyncio.wait(waits, timeout=timeout)
        for w in pending:
            w.cancel()
        busy = [i for i in self._live.values() if not i.may_hibernate()]
        for inst in busy:
            log.warning("closing with %s %s still busy: its running work ends with the engine", inst.ns.name, inst.label)
            self.bus.publish("close.busy", namespace=inst.ns.name, id=inst.id.hex, name=inst.id.name)

    # ================================================================ namespaces & calls
    def namespace(self, name: str) -> Namespace:
        handle = self._ns_handles.get(name)
        if handle is None:
            self._ns_info(name)
            handle = self._ns_handles[name] = Namespace(self, name)
        return handle

    def _ns_info(self, name: str) -> NamespaceInfo:
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

    async def call(self, namespace: str, oid: ObjectId, method: str, args: tuple = (), kwargs: dict | None = None,
                   chain: tuple = ()) -> Any:
        """Call ``method`` on the object ``oid``; its result, once durable, as a copy.

        ``chain``: the calls this one was made from, when it comes from another shard (docs/cluster.md).
        """
        if self._closed or not self._started:
            raise EngineClosedError("the engine is not running; start it with `async with Engine(...)`")
        info = self._namespaces.get(namespace) or self._ns_info(namespace)
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

    async def _hold_outgoing(self, parent: Call) -> None:
        """The output gate also holds messages an object sends to other objects."""
        owner = parent.instance
        if owner is not None and owner.storage is not None:
            w = owner.output_gate.waiter(bool(owner.storage))
            if w is not None:
                await w

    async def run_on(self, namespace: str, oid: ObjectId, label: str, fn, args: tuple = (), kind: str = "storage") -> Any:
        """Run ``fn(instance)`` in the object's own queue (storage edits from the front ends)."""
        if self._closed or not self._started:
            raise EngineClosedError("the engine is not running")
        info = self._ns_info(namespace)
        inst = self._instance(info, oid)
        return await inst.invoke(Call(kind, label, args, {}, (), fn=fn))

    # ================================================================ the instances' host (instance.Host)
    def touch(self, inst: Instance) -> None:
        self.index.ensure(inst.ns.name, inst.id.hex, inst.id.name)

    def on_state(self, inst: Instance, old: State, new: State) -> None:
        """Objects in memory (live or draining) are the ones counted live, wherever the change came from."""
        if new in IN_MEMORY:
            self._live[inst.key] = inst
        elif old in IN_MEMORY:
            self._live.pop(inst.key, None)
            self.index.ensure(inst.ns.name, inst.id.hex, inst.id.name).last_active = inst.last_active

    def schedule_commit(self, inst: Instance) -> None:
        self._schedule_commit(inst)

    def forget(self, inst: Instance) -> None:
        self._forget_dirty(inst)

    def checkpoint_path(self, namespace: str, hx: str) -> str:
        return self.durable.path(namespace, hx)

    def load_state(self, inst: Instance) -> tuple[dict[str, Any], float | None]:
        """An object's durable state: its checkpoint plus the log records not yet in it."""
        data, alarm, meta = self.durable.load(inst.key)
        if inst.id.name is None and meta.get("name"):
            inst.id.name = meta["name"]
        return data, alarm

    def _drop_unneeded_segments(self) -> None:
        """(At close) Leave no empty preallocated segment; keep those holding what is not checkpointed."""
        try:
            self.log.drop_segments([p for p in self.log.segments() if not self.durable.holds(p)])
        except OSError as exc:  # an empty segment left behind is harmless: the next start drops it
            logging.getLogger("dotui").warning("could not remove empty log segments at close: %s", exc)

    def _on_checkpoint_broken(self, key: tuple[str, str], reason: str) -> None:
        """Its checkpoint cannot be read: a live object is reset, and its next wake says why."""
        inst = self._instances.get(key)
        if inst is not None:
            inst.reset(BrokenObjectError(reason))

    def _hibernate(self, inst: Instance) -> bool:
        """Hibernate ``inst`` if it may now (``Instance.may_hibernate``); ``on_state`` does the books."""
        return inst.hibernate()

    async def hibernate(self, namespace: str, oid: ObjectId) -> bool:
        """Hibernate one object once its calls, and the tasks it started, end; False if it was not live."""
        inst = self._instances.get((namespace, oid.hex))
        if inst is None or inst.state is not State.LIVE:
            return False
        while inst.state is State.LIVE:
            await inst.until_idle()
            if self._hibernate(inst):
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
        inst = self._instance(self._ns_info(namespace), oid)
        self.touch(inst)
        await inst.ensure_live()

    async def reload(self) -> list[LoadError]:
        """Re-import the objects folder; live objects are reset onto the new code.

        Storage, alarms and queued calls survive. Returns the files that failed.
        """
        namespaces, errors = load_objects(self.objects_dir)
        self._namespaces, self.load_errors = namespaces, errors
        for name in list(self._ns_handles):
            if name not in namespaces:
                del self._ns_handles[name]
        for inst in list(self._instances.values()):
            inst.reload(namespaces.get(inst.ns.name),
                        f"class {inst.ns.name} is no longer defined in {self.objects_dir}")
        self.bus.publish("reload", errors=[str(e) for e in errors], namespaces=list(namespaces))
        return errors

    # ================================================================ the committer (committer.py)
    def _schedule_commit(self, inst: Instance) -> None:
        self.committer.schedule(inst)

    def _forget_dirty(self, inst: Instance) -> None:
        self.committer.forget(inst)

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
                self._schedule_alarm(delta.alarm, inst.ns.name, inst.id.hex, 0, delta.alarm)

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

    # ================================================================ idle eviction
    async def _sweeper(self) -> None:
        period = max(0.01, min(1.0, self.idle_timeout / 4))
        while True:
            await asyncio.sleep(period)
            now = time.time()
            evicted = False
            for inst in list(self._live.values()):
                if (inst.last_active or 0) + self.idle_timeout <= now and self._hibernate(inst):
                    evicted = True
            if evicted:
                self._checkpoint_soon()

    # ================================================================ alarms
    def _schedule_alarm(self, due: float, ns: str, hx: str, retry: int, alarm_time: float) -> None:
        heapq.heappush(self._alarms, (due, ns, hx, retry, alarm_time))
        if self._started or hasattr(self, "_alarm_event"):
            self._alarm_event.set()

    async def _alarm_loop(self) -> None:
        while True:
            now = time.time()
            while self._alarms and self._alarms[0][0] <= now:
                due, ns, hx, retry, alarm_time = heapq.heappop(self._alarms)
                self._fire_alarm(ns, hx, retry, alarm_time)
            timeout = (self._alarms[0][0] - now) if self._alarms else None
            self._alarm_event.clear()
            try:
                await asyncio.wait_for(self._alarm_event.wait(), timeout)
            except TimeoutError:
                pass

    def _fire_alarm(self, ns: str, hx: str, retry: int, alarm_time: float) -> None:
        info = self._namespaces.get(ns)
        e = self.index.get(ns, hx)
        if info is None or e is None or e.alarm != alarm_time or not info.has_alarm:
            return  # replaced, deleted, or its class is gone
        inst = self._instances.get((ns, hx))
        if inst is None:
            oid = ObjectId(hx, ns, e.name)
            inst = self._instance(info, oid)
        if inst.alarm_running:
            return
        inst.alarm_running = True
        self._loop.create_task(self._run_alarm(inst, retry, alarm_time))

    async def _run_alarm(self, inst: Instance, retry: int, alarm_time: float) -> None:
        call = alarm_call(retry)
        base_fn = call.fn

        async def fire_then_clear(i: Instance):
            result = base_fn(i)
            if hasattr(result, "__await__"):
                await result
            if i.storage is not None and i.storage.alarm_epoch == alarm_time:
                i.storage._set_alarm(None)  # done: unless the handler set a new one

        call.fn = fire_then_clear
        inst.emit("alarm.fired", retry_count=retry)
        try:
            await inst.invoke(call)
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, asyncio.CancelledError):
                raise
            if retry < self.alarm_max_retries:
                delay = self.alarm_retry_base * (2 ** retry)
                inst.emit("alarm.retry", retry_count=retry + 1, delay=delay, error=f"{type(exc).__name__}: {exc}")
                self._schedule_alarm(time.time() + delay, inst.ns.name, inst.id.hex, retry + 1, alarm_time)
            else:
                inst.emit("alarm.gave_up", retries=retry, error=f"{type(exc).__name__}: {exc}")
                await self._drop_alarm(inst, alarm_time)
        else:
            inst.emit("alarm.done", retry_count=retry)
        finally:
            inst.alarm_running = False

    async def _drop_alarm(self, inst: Instance, alarm_time: float) -> None:
        def drop(i: Instance):
            if i.storage.alarm_epoch == alarm_time:
                i.storage._set_alarm(None)
        try:
            await inst.invoke(Call("storage", "storage.delete_alarm", (), {}, (), fn=drop))
        except BaseException:  # noqa: BLE001 - it stays set, and fires again at start
            pass

    # ================================================================ introspection (what the front ends can see)
    def namespaces(self) -> list[dict[str, Any]]:
        return [info.describe() for info in self._namespaces.values()]

    def instances(self, namespace: str | None = None, *, state: str | None = None,
                  offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Known objects, live or hibernated, ordered by namespace then name (named objects
        first), then id. Reads no object file, wakes nothing.

        ``state`` keeps one state ("live", "hibernated", ...); ``offset``/``limit`` page,
        at a cost that follows the page, not the number of objects.
        """
        stop = None if limit is None else offset + limit
        if state is not None and state != "hibernated":
            # The few objects in memory: sort just them.
            rows = [i.describe() for k, i in self._instances.items()
                    if (namespace is None or k[0] == namespace) and i.shown_state == state]
            rows.sort(key=lambda r: _order(r["namespace"], r["name"], r["id"]))
            return rows[offset:stop]
        rows = (self._row(k) for k in self._sorted_keys() if namespace is None or k[0] == namespace)
        if state is not None:
            rows = (r for r in rows if r["state"] == state)
        return list(itertools.islice(rows, offset, stop))

    def instance_table(self, namespace: str | None = None) -> dict[str, Any]:
        """Every known object, in a compact form for a front end that lists them all at once.

        ``{"objects": [...], "hibernated": {namespace: {field: [...]}}}``: the objects the
        engine holds in memory (live, or touched since it started) as ``instances()`` shows
        them, and every other object, hibernated and known from the index alone, as one
        list per field (``id`` hex, ``name``, ``last_active``, ``keys``, ``bytes``, ``alarm``),
        the same position in each list being the same object. Unordered; reads no object
        file, wakes nothing, and builds no dict per hibernated object, so 100,000 of them
        cost a few lists.
        """
        objects = [i.describe() for k, i in self._instances.items() if namespace is None or k[0] == namespace]
        hibernated: dict[str, dict[str, list]] = {}
        for ns, entries in self.index.by_namespace().items():
            if not entries or (namespace is not None and ns != namespace):
                continue
            held = {hx for (n, hx) in self._instances if n == ns}
            if held:
                ids = [hx for hx in entries if hx not in held]
                es = [entries[hx] for hx in ids]
            else:
                ids, es = list(entries), list(entries.values())
            if ids:
                hibernated[ns] = {
                    "id": ids,
                    "name": [e.name for e in es],
                    "last_active": [e.last_active for e in es],
                    "keys": [e.keys for e in es],
                    "bytes": [e.bytes for e in es],
                    "alarm": [e.alarm for e in es],
                }
        return {"objects": objects, "hibernated": hibernated}

    def _sorted_keys(self) -> list[tuple[str, str]]:
        """Every known object's key in listing order; sorted again only when objects were added."""
        version = (self.index.version, len(self._instances))
        if self._sorted_version != version:
            names = {}
            for ns, hx, e in self.index.entries():
                names[(ns, hx)] = e.name
            for key, inst in self._instances.items():
                if names.get(key) is None:
                    names[key] = inst.id.name
            self._sorted = sorted(names, key=lambda k: _order(k[0], names[k], k[1]))
            self._sorted_version = version
        return self._sorted

    def _row(self, key: tuple[str, str]) -> dict[str, Any]:
        inst = self._instances.get(key)
        if inst is not None:
            return inst.describe()
        return _index_row(key[0], key[1], self.index.get(*key))

    def instances_of(self, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """``instance_info`` of each ``(namespace, id hex)``: for a front end refreshing the
        objects its event stream says changed. Wakes nothing; unknown or malformed keys are left out."""
        out = []
        for namespace, hx in keys:
            if namespace not in self._namespaces:
                continue
            try:
                oid = self._named(self.namespace(namespace).id_from_string(hx))
            except InvalidIdError:
                continue
            out.append(self.instance_info(namespace, oid))
        return out

    def count_instances(self, namespace: str | None = None) -> dict[str, int]:
        """How many objects are known, and how many of them are live (cheap at any scale)."""
        total = self.index.count(namespace)
        live = sum(1 for k in self._live if namespace is None or k[0] == namespace)
        return {"total": total, "live": live, "hibernated": total - live}

    def object_id(self, namespace: str, ref: str) -> ObjectId:
        """An id from a name, or from ``#hex`` (a unique prefix of a known id is enough)."""
        handle = self.namespace(namespace)
        if not ref.startswith("#"):
            return handle.id_from_name(ref)
        prefix = ref[1:].lower()
        if len(prefix) == 64:
            return self._named(handle.id_from_string(prefix))
        matches = {hx for (ns, hx) in self._instances if ns == namespace and hx.startswith(prefix)}
        matches |= {hx for ns, hx, _ in self.index.entries(namespace) if hx.startswith(prefix)}
        if not matches:
            raise InvalidIdError(f"no {namespace} object has an id starting with {prefix!r}")
        if len(matches) > 1:
            raise InvalidIdError(
                f"{len(matches)} {namespace} objects have ids starting with {prefix!r}; give more digits"
            )
        return self._named(handle.id_from_string(matches.pop()))

    def _named(self, oid: ObjectId) -> ObjectId:
        """For the front ends: an id from ``#hex`` shows the name it was made from, if known."""
        entry = self.index.get(oid.namespace, oid.hex)
        if entry is not None and entry.name is not None:
            oid.name = entry.name
        return oid

    def instance_info(self, namespace: str, oid: ObjectId) -> dict[str, Any]:
        """One object as ``instances()`` shows it; state "unknown" if it never existed."""
        inst = self._instances.get((namespace, oid.hex))
        if inst is not None:
            return inst.describe()
        e = self.index.get(namespace, oid.hex)
        if e is not None:
            return _index_row(namespace, oid.hex, e)
        return {"namespace": namespace, "id": oid.hex, "name": oid.name, "state": "unknown"}

    def read_storage(self, namespace: str, oid: ObjectId) -> dict[str, Any]:
        """An object's storage as on disk: the checkpoint, the log's newer records, what is pending.

        Reads the checkpoint file; wakes nothing.
        """
        self._ns_info(namespace)
        key = (namespace, oid.hex)
        path = self.checkpoint_path(*key)
        data, meta, logged = self.durable.view(key)
        ckpt = dict(data)
        alarm = logged.apply(data, meta.get("alarm"))
        pending: dict[str, Any] = {"put": {}, "deleted": [], "cleared": False}
        inst = self._instances.get(key)
        if inst is not None and inst.storage is not None:
            changes = inst.storage.pending()
            pending["cleared"] = changes.cleared
            for k, text in changes.puts.items():
                if text is None:
                    pending["deleted"].append(k)
                else:
                    pending["put"][k] = values.decode(text)
        return {
            "namespace": namespace,
            "id": oid.hex,
            "name": oid.name or meta.get("name"),
            "path": path,
            "values": {k: data[k] for k in sorted(data)},
            "alarm": alarm,
            "checkpoint": {k: ckpt[k] for k in sorted(ckpt)},
            "checkpoint_saved_at": meta.get("saved_at"),
            "logged": {
                "cleared": logged.cleared,
                "put": {k: v for k, v in sorted(logged.puts.items()) if v is not DELETED},
                "deleted": sorted(k for k, v in logged.puts.items() if v is DELETED),
            },
            "pending": pending,
        }

    def queue(self, namespace: str, oid: ObjectId) -> list[dict[str, Any]]:
        inst = self._instances.get((namespace, oid.hex))
        if inst is None:
            return []
        return [c.describe() for c in inst.running.values()] + [c.describe() for c in inst.queue]

    def history(self, namespace: str, oid: ObjectId, n: int = 20) -> list[dict[str, Any]]:
        inst = self._instances.get((namespace, oid.hex))
        if inst is None:
            return []
        return [c.describe() for c in list(inst.history)[-n:]]

    def stats(self) -> dict[str, Any]:
        live = len(self._live)
        return {
            "live": live,
            "hibernated": max(0, self.index.count() - live),
            "queued": sum(len(i.queue) for i in self._live.values()),
            "running": sum(len(i.running) for i in self._live.values()),
            "commits_pending": (self.committer.pending if self._started else 0) + sum(1 for i in self._live.values() if i.output_gate.holding),
            "uncheckpointed_objects": self.durable.held_count,
            "broken_checkpoints": len(self.durable.broken),
            "log_bytes": self.log.size if self._started else 0,
            **self.stats_counters,
            **self.durable.counters,
            **(self.committer.stats() if self._started else {}),
        }

    def subscribe(self, maxlen: int = 10_000, predicate=None) -> Subscription:
        """A bounded event stream; a slow reader loses the oldest events and is told how many."""
        return self.bus.subscribe(maxlen, predicate)


def _order(ns: str, name: str | None, hx: str) -> tuple:
    return (ns, name is None, name or "", hx)


def _index_row(ns: str, hx: str, e) -> dict[str, Any]:
    """How a hibernated object the engine has not touched looks, from its index entry alone."""
    return {
        "namespace": ns, "id": hx, "name": e.name, "state": "hibernated",
        "busy": False, "queued": 0, "running": [], "gate_held": False, "output_held": False,
        "calls": 0, "errors": 0, "last_active": e.last_active, "keys": e.keys, "bytes": e.bytes,
        "pending_writes": 0, "alarm": e.alarm, "broken": None,
    }

