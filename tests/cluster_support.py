"""Helpers of the cluster tests: a local Ray instance, a cluster served on a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import dotui.cluster  # noqa: F401 - before Ray: the session's Ray listens on loopback (its docstring)

ray = pytest.importorskip("ray", reason="the cluster tests need Ray: pip install -e '.[cluster]' (.ci/run installs it)")

from dotui.cluster.admin import ClusterAdmin  # noqa: E402 - after importorskip: these import Ray
from dotui.cluster.placement import shard_of  # noqa: E402 - after importorskip: these import Ray
from dotui.cluster.runtime import Cluster, init_ray  # noqa: E402 - after importorskip: these import Ray
from dotui.cluster.serve import start_cluster_gateway  # noqa: E402 - after importorskip: these import Ray
from dotui.engine.ids import IdFactory  # noqa: E402 - after importorskip: these import Ray


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


__all__ = [
    "ClusterAdmin",
    "Cluster",
    "ServedCluster",
    "is_loopback",
    "listening",
    "local_ray",
    "names_on",
    "ray",
    "shard_of",
]


def listening(pid: int) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP socket listening in process ``pid`` and its descendants
    (a Ray's processes are the driver's), read from /proc."""
    import glob
    import ipaddress
    import os

    children: dict[int, list[int]] = {}
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            ppid = int(open(path).read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(path.split("/")[2]))
    pids, todo = {pid}, [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in pids:
                pids.add(c)
                todo.append(c)
    sockets = {}
    for p in pids:
        for fd in glob.glob(f"/proc/{p}/fd/*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                sockets[target[8:-1]] = p
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            cols = line.split()
            if cols[3] != "0A" or cols[9] not in sockets:  # 0A: LISTEN
                continue
            addr, port = cols[1].split(":")
            raw = bytes.fromhex(addr)
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # each 32-bit word is host order
            out.append((str(ipaddress.ip_address(raw)), int(port, 16), sockets[cols[9]]))
    return out


def is_loopback(address: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address)
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)
