"""What the committer (committer.py) needs from its neighbours: the engine, where committed changes
go (``CommitHost``), and the durable state, whose bound on changes not yet checkpointed makes
commits wait (``Backlog``; docs/trust.md, "Memory")."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from .logformat import Delta

if TYPE_CHECKING:
    from ..object.instance import Instance


class CommitHost(Protocol):
    """What the committer needs from its engine: where committed changes go."""

    def committed(self, inst: Instance, delta: Delta, keys: int, nbytes: int, now: float) -> None:
        """``inst``'s changes ``delta`` are durable in the log (it now has ``keys`` keys, ``nbytes`` bytes)."""

    def log_full(self, size: int) -> None:
        """A commit made the current log segment ``size`` bytes long, past ``full_at``: time for
        a checkpoint (which starts a new segment and drops the old ones)."""


class Backlog(Protocol):
    """What holds committed changes until they are checkpointed (durable.py): its bound."""

    @property
    def full(self) -> bool:
        """Whether it holds as much as it may: commits wait (O(1))."""

    @property
    def room(self) -> asyncio.Event:
        """Set when it has given some back (a checkpoint round settled)."""
