"""A shard's router: the engine asks it about every call to an id (``Engine.call``).

An id this shard owns is called in-process, as in a single engine; any other goes to
its owner's actor by Ray, with the call chain (``wire.export_chain``) so re-entry
across shards completes. The engine has already held the call at the caller's output
gate before asking, so a call an object makes leaves only once its earlier writes are
durable, whichever shard it goes to.
"""

from __future__ import annotations

from typing import Any

from ..engine.ids import ObjectId
from .placement import shard_of
from .ray_calls import Channels, Handles
from .wire import export_chain, unwrap


class ShardRouter:
    def __init__(self, shard: int, handles: Handles):
        self.shard = shard
        self.shards = len(handles)
        self.channels = Channels(handles)

    def owns(self, oid: ObjectId) -> bool:
        return shard_of(oid.hex, self.shards) == self.shard

    async def call(self, namespace: str, oid: ObjectId, method: str, args: tuple, kwargs: dict, chain: tuple) -> Any:
        """The call on the owning shard; its result, or the error its method raised."""
        owner = shard_of(oid.hex, self.shards)
        outcome = await self.channels[owner].send(
            ("call", namespace, oid.hex, oid.name, method, list(args), kwargs, export_chain(chain, self.shard))
        )
        return unwrap(outcome)
