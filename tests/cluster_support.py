"""Helpers of the cluster tests: a local Ray instance, a cluster served on a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

ray = pytest.importorskip(
    "ray", reason="the cluster tests need Ray: pip install -e '.[cluster]' (.ci/run installs it)")

from dotui.cluster.admin import ClusterAdmin  # noqa: E402
from dotui.cluster.placement import shard_of  # noqa: E402
from dotui.cluster.runtime import Cluster, init_ray  # noqa: E402
from dotui.cluster.serve import start_cluster_gateway  # noqa: E402
from dotui.engine.ids import IdFactory  # noqa: E402


def local_ray() -> None:
    """One local Ray instance for the test session (two CPUs, as the machine has)."""
    init_ray(num_cpus=2)


def names_on(namespace: str, shard: int, shards: int = 2, n: int = 1, prefix: str = "o") -> list[str]:
    """``n`` object names of ``namespace`` whose home is ``shard``."""
    ids = IdFactory(namespace)
    out = []
    i = 0
    while len(out) < n:
        name = f"{prefix}{i}"
        if shard_of(ids.from_name(name).hex, shards) == shard:
            out.append(name)
        i += 1
    return out


class ServedCluster:
    """A cluster and its gateway on a loop of their own (a thread), as ``dotui serve --cluster`` runs them."""

    def __init__(self, objects: str, root: str, shards: int, **options: Any):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.cluster = Cluster(objects, root, shards, **options)
        self.run(self.cluster.start())
        self.admin, self.gateway = self.run(start_cluster_gateway(self.cluster, "127.0.0.1", 0))
        self.url = self.gateway.url

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def close(self) -> None:
        try:
            self.run(self.gateway.stop())
            self.run(self.cluster.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


__all__ = ["ClusterAdmin", "Cluster", "ServedCluster", "local_ray", "names_on", "ray", "shard_of"]
