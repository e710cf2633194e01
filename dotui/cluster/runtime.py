"""Starting a cluster: Ray, the manifest, one named actor per shard; the events of every shard.

``Cluster(objects, root, shards)`` is the driver's side (``dotui serve --cluster``):
``await cluster.start()`` joins or starts Ray, checks or writes the manifest, and
creates each shard's actor (named cluster-wide, restarted by Ray when it dies, pinned
to a node offering the resource ``dotui_shard_<i>`` when one does); ``ask(shard,
method, ...)`` calls one; ``events`` is a bus fed with every shard's events, each
tagged with its ``shard``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray

from ..engine.errors import ShardUnavailableError
from ..engine.events import EventBus
from .manifest import Manifest, ManifestError, open_manifest
from .ray_calls import RAY_NAMESPACE, Channels, Handles, actor_name, ask
from .shard import ShardHost
from .wire import unwrap

log = logging.getLogger("dotui")

EVENTS_WAIT = 1.0
RETRY_MAX = 5.0

ShardActor = ray.remote(ShardHost)


LOOPBACK = "127.0.0.1"


class RayExposedError(RuntimeError):
    """A local Ray would listen on every interface: Ray was imported before ``dotui.cluster``."""


def init_ray(address: str | None = None, **options: Any) -> None:
    """Join the Ray cluster at ``address``, or start a local one listening on 127.0.0.1 only,
    unless this process already has. ``RayExposedError`` (before anything starts) when a local
    one would listen on every interface (see ``dotui/cluster/__init__.py``)."""
    if ray.is_initialized():
        return
    if address is None:
        node = ray.util.get_node_ip_address()  # the address a local Ray would take, and bind to
        if node != LOOPBACK:
            raise RayExposedError(
                f"a local Ray would listen on every interface (its node address would be {node}): Ray was "
                "imported before dotui.cluster could ask it for loopback. Import dotui.cluster first, or set "
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before Ray is imported, or join a running cluster "
                "(--ray-address)"
            )
        options.setdefault("_node_ip_address", LOOPBACK)
    ray.init(address=address, namespace=RAY_NAMESPACE, include_dashboard=False, log_to_driver=False, **options)


def pin_resource(shard: int) -> str:
    """The custom resource that pins ``shard`` to the node holding its folder (docs/cluster.md)."""
    return f"dotui_shard_{shard}"


class Cluster:
    def __init__(self, objects: str, root: str, shards: int, *, address: str | None = None, **engine_options: Any):
        self.objects = objects
        self.root = root
        self.shards = shards
        self.address = address
        self.engine_options = engine_options
        self.manifest: Manifest | None = None
        self.handles: Handles | None = None
        self.events = EventBus()
        self._pumps: list[asyncio.Task] = []
        self.counters = {"events_unavailable": 0}

    async def start(self) -> Cluster:
        self.manifest = open_manifest(self.root, self.shards)
        self.root = self.manifest.root
        init_ray(self.address)
        names = [actor_name(self.root, i) for i in range(self.shards)]
        self.handles = Handles(names)
        self.channels = Channels(self.handles)
        try:
            for i in range(self.shards):
                self.handles.put(i, self._create(i, names))
            self.placement = [await self.ask(i, "describe") for i in range(self.shards)]
        except BaseException:
            self.kill()  # the shards it made, not another gateway's (Handles looks only its own up)
            raise
        self._pumps = [asyncio.ensure_future(self._pump(i)) for i in range(self.shards)]
        return self

    def _create(self, shard: int, names: list[str]) -> Any:
        assert self.manifest is not None  # start() opened it first
        pin = pin_resource(shard)
        resources = {pin: 0.001} if pin in ray.cluster_resources() else {}
        options = dict(
            name=names[shard],
            namespace=RAY_NAMESPACE,
            max_restarts=-1,
            max_task_retries=0,
            num_cpus=0,
            max_concurrency=100_000,
            resources=resources,
        )
        try:
            return ShardActor.options(**options).remote(
                shard, names, self.objects, self.manifest.folder(shard), self.engine_options
            )
        except ValueError as exc:  # the name is taken: this root is served already
            raise ManifestError(
                f"shard {shard} of {self.root} is already hosted on this Ray cluster ({exc}); "
                "one gateway per data root: use that one (--connect URL), or stop it first"
            ) from None

    async def ask(self, shard: int, method: str, *args: Any, admin: bool = True) -> Any:
        """``method`` of ``shard``'s actor, its outcome unwrapped (``wire.unwrap``)."""
        return unwrap(await ask(self._handles().get(shard), shard, method, *args), admin=admin)

    def _handles(self) -> Handles:
        if self.handles is None:
            raise RuntimeError("the cluster is not started: await its start() first")
        return self.handles

    async def call_id(
        self, shard: int, namespace: str, hx: str, name: str | None, method: str, args: list, kwargs: dict
    ) -> Any:
        """A checked call (``Admin.call_id``) on ``shard``, sent with the others of this moment (``ShardChannel``)."""
        outcome = await self.channels[shard].send(("call_id", namespace, hx, name, method, args, kwargs))
        return unwrap(outcome, admin=True)

    async def op(self, shard: int, name: str, **kwargs: Any) -> Any:
        """The admin operation ``name`` on ``shard`` (``ops/admin.py``)."""
        return await self.ask(shard, "op", name, kwargs)

    async def _pump(self, shard: int) -> None:
        """Forward ``shard``'s events to ``self.events``; a shard that cannot answer is reported and retried."""
        backoff = 0.1
        while True:
            try:
                batch = await ask(self._handles().get(shard), shard, "next_events", EVENTS_WAIT)
            except ShardUnavailableError as exc:
                self.counters["events_unavailable"] += 1
                log.warning("events of shard %d: %s", shard, exc)
                self.events.publish("shard.unavailable", shard=shard, error=str(exc))
                await asyncio.sleep(backoff)
                backoff = min(RETRY_MAX, backoff * 2)
                continue
            backoff = 0.1
            for ev in batch:
                self.events.publish(ev["type"], **{k: v for k, v in ev.items() if k != "type"}, shard=shard)

    async def close(self) -> None:
        """Close every shard's engine cleanly (each write durable and checkpointed), then end the actors."""
        for t in self._pumps:
            t.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        if self.handles is not None:
            results = await asyncio.gather(*(self.ask(i, "close") for i in range(self.shards)), return_exceptions=True)
            for i, r in enumerate(results):
                if isinstance(r, BaseException):
                    log.warning("closing shard %d: %s", i, r)
        self.events.close()
        self.kill()

    def kill(self) -> None:
        """End the actors this cluster made (without closing their engines: a crash, as far as their
        folders know)."""
        if self.handles is None:
            return
        for handle in self.handles.made():
            try:
                ray.kill(handle, no_restart=True)
            except ValueError:
                pass
