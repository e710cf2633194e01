"""Calling a shard's actor through Ray, with Ray's failures said in dotui's words."""

from __future__ import annotations

import asyncio
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
        self._made: list[Any] = []

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
        """``handle``: the actor this process made for ``shard``."""
        self._handles[shard] = handle
        self._made.append(handle)

    def made(self) -> list[Any]:
        """The actors this process made (``put``), not those it only looked up."""
        return list(self._made)


MAX_BATCH = 512
MAX_BATCHES_IN_FLIGHT = 2


class ShardChannel:
    """The calls to one shard, sent together: every call made while the loop turns goes in one Ray
    message, with up to ``MAX_BATCHES_IN_FLIGHT`` messages on their way (docs/cluster.md, "What a
    call across shards costs"). A Ray message costs far more than a call inside an engine, so this
    is what lets two shards do nearly twice the work of one.

    Each call still has its own answer: the shard answers the message once every call in it is
    done, or after ``shard.DETACH_AFTER`` seconds with the unfinished ones as tickets, which are
    then awaited one by one, so a slow call never holds back the answers of the fast ones.
    """

    def __init__(self, handles: Handles, shard: int):
        self._handles = handles
        self.shard = shard
        self._pending: list[tuple[tuple, asyncio.Future]] = []
        self._in_flight = 0
        self.counters = {"messages": 0, "calls": 0, "detached": 0}

    async def send(self, item: tuple) -> tuple:
        """``item`` (``("call", ...)`` or ``("call_id", ...)``, see ``ShardHost.calls``) on the shard: its outcome."""
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        self._kick()
        return await fut  # a caller that goes away does not take the call back: it is in a message already

    def _kick(self) -> None:
        if self._pending and self._in_flight < MAX_BATCHES_IN_FLIGHT:
            self._in_flight += 1
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        if not batch:
            self._in_flight -= 1
            return
        asyncio.ensure_future(self._run(batch))

    async def _run(self, batch: list[tuple[tuple, asyncio.Future]]) -> None:
        self.counters["messages"] += 1
        self.counters["calls"] += len(batch)
        try:
            outcomes = await ask(self._handles.get(self.shard), self.shard, "calls", [item for item, _ in batch])
        except BaseException as exc:  # every call of the message gets the error
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            for (_, fut), outcome in zip(batch, outcomes, strict=False):
                if outcome[0] == "later":
                    self.counters["detached"] += 1
                    asyncio.ensure_future(self._later(outcome[1], fut))
                elif not fut.done():
                    fut.set_result(outcome)
        finally:
            self._in_flight -= 1
            self._kick()

    async def _later(self, ticket: int, fut: asyncio.Future) -> None:
        try:
            outcome = await ask(self._handles.get(self.shard), self.shard, "later", ticket)
        except BaseException as exc:  # noqa: BLE001 - the caller's future hears it, a cancellation too
            if not fut.done():
                fut.set_exception(exc)
        else:
            if not fut.done():
                fut.set_result(outcome)


class Channels:
    """One ``ShardChannel`` per shard, made at first use (on the loop that uses it)."""

    def __init__(self, handles: Handles):
        self.handles = handles
        self._channels: dict[int, ShardChannel] = {}

    def __getitem__(self, shard: int) -> ShardChannel:
        ch = self._channels.get(shard)
        if ch is None:
            ch = self._channels[shard] = ShardChannel(self.handles, shard)
        return ch

    def counters(self) -> dict[str, int]:
        out = {"messages": 0, "calls": 0, "detached": 0}
        for ch in self._channels.values():
            for k, v in ch.counters.items():
                out[k] += v
        return out
