"""``dotui serve --cluster SHARDS [--ray-address ADDR]``: the shards on Ray, one gateway in this process.

Clients reach every object through the gateway's one address (docs/cluster.md): it
routes each object call to the shard owning the id, and serves the admin operations
merged from every shard (``admin.py``), so the REPL and the TUI attach with
``--connect URL`` as to a single engine.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from ..engine.errors import DataFolderError, EngineLockedError, ShardUnavailableError
from ..server.cli import DEFAULT_HOST, DEFAULT_PORT, RunningGateway, announce, start_gateway, until_stopped
from ..server.limits import Limits
from .admin import ClusterAdmin
from .runtime import Cluster


async def start_cluster_gateway(
    cluster: Cluster,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    *,
    max_body: int | None = None,
    limits: Limits | None = None,
) -> tuple[ClusterAdmin, RunningGateway]:
    """Serve a started ``cluster`` on the running loop: its ``ClusterAdmin`` and the gateway (``limits``:
    its bounds, docs/server.md "Limits")."""
    admin = await ClusterAdmin.over(cluster)
    gw = await start_gateway(admin.engine, host, port, token, max_body=max_body, limits=limits, admin=admin)
    return admin, gw


def serve_cluster_main(
    objects: str,
    data: str,
    shards: int,
    address: str | None = None,
    idle: float | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    *,
    limits: Limits | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the cluster and its gateway until Ctrl-C or SIGTERM; 0 after a clean stop, 1 if it could not start."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return asyncio.run(
            _serve(objects, data, shards, address, 10.0 if idle is None else idle, host, port, token, limits, out, err)
        )
    except KeyboardInterrupt:
        return 130


async def _serve(
    objects: str,
    data: str,
    shards: int,
    address: str | None,
    idle: float,
    host: str,
    port: int,
    token: str | None,
    limits: Limits | None,
    out: TextIO,
    err: TextIO,
) -> int:
    cluster = Cluster(objects, data, shards, address=address, idle_timeout=idle)
    try:
        await cluster.start()
    except (EngineLockedError, DataFolderError, ShardUnavailableError, OSError, ConnectionError) as exc:
        print(f"dotui serve: cannot start the cluster: {exc}", file=err)
        return 1
    try:
        admin, gw = await start_cluster_gateway(cluster, host, port, token, limits=limits)
    except OSError as exc:
        print(
            f"dotui serve: cannot listen on {host}:{port} ({exc.strerror or exc}); "
            f"pick another --port, or stop what uses it",
            file=err,
        )
        await cluster.close()
        return 1
    announce(admin.engine, gw, out, err)
    print(
        f"  cluster  {shards} shard{'s' if shards != 1 else ''} on Ray: "
        + ", ".join(f"{p['shard']}: pid {p['pid']}" for p in cluster.placement),
        file=out,
        flush=True,
    )
    await until_stopped()
    print("dotui serve: stopping (finishing calls in flight, making every write durable)", file=err, flush=True)
    await gw.stop()
    await cluster.close()
    return 0
