"""Calling a shard's actor through Ray, with Ray's failures said in dotui's words."""

from __future__ import annotations

import hashlib
from typing import Any

import ray
from ray import exceptions as ray_errors

from ..engine.errors import ShardUnavailableError

RAY_NAMESPACE = "dotui"


def actor_name(root: str, shard: int) -> str:
    """The cluster-wide name of ``shard``'s actor: one per data root and shard, so two gateways
    on one Ray cluster can never host the same object twice (Ray refuses the second name)."""
    tag = hashlib.sha256(root.encode()).hexdigest()[:12]
    return f"dotui-shard-{shard}-{tag}"


_FAILURES = (ray_errors.RayActorError, ray_errors.ActorUnavailableError, ray_errors.GetTimeoutError)


async def ask(handle: Any, shard: int, method: str, *args: Any) -> Any:
    """``await handle.<method>.remote(*args)``; ShardUnavailableError when the shard cannot answer."""
    try:
        return await getattr(handle, method).remote(*args)
    except _FAILURES as exc:
        raise unavailable(shard, exc) from None


def unavailable(shard: int, exc: BaseException) -> ShardUnavailableError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ShardUnavailableError(
        f"shard {shard} did not answer ({type(exc).__name__}: {reason[:200]}); the call may or may not "
        "have run: retry it (Ray restarts the shard on its data folder, and every acknowledged write is there)"
    )


class Handles:
    """The actor handles of a cluster's shards, looked up by name once each."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self._handles: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.names)

    def get(self, shard: int) -> Any:
        handle = self._handles.get(shard)
        if handle is None:
            try:
                handle = ray.get_actor(self.names[shard], namespace=RAY_NAMESPACE)
            except ValueError as exc:
                raise unavailable(shard, exc) from None
            self._handles[shard] = handle
        return handle

    def put(self, shard: int, handle: Any) -> None:
        self._handles[shard] = handle
