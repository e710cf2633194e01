"""What an object's record needs of its engine (``Host``), and the states it goes through.

The instance (``instance.py``) owns its state and tells its engine of each change through
the small ``Host`` interface it was given; the engine never writes an instance's state.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..clock import Clock
    from ..durability.index import Index
    from ..events import EventBus
    from ..history import CallHistory
    from .instance import Instance
    from .websockets import WebSockets


class State(enum.Enum):
    HIBERNATED = "hibernated"  # on disk only
    WAKING = "waking"  # storage loaded, constructor running, calls held
    LIVE = "live"
    DRAINING = "draining"  # code reloaded: running calls end on the old class, new calls wait for the new
    BROKEN = "broken"  # constructor raised, file unreadable, or its class is gone; next call retries


IN_MEMORY = (State.LIVE, State.DRAINING)  # a Python object exists: counted as live


class Host(Protocol):
    """What an instance needs from its engine, and how it tells the engine what happened."""

    bus: EventBus
    env: Any
    index: Index
    max_queue: int
    block_timeout: float
    call_history: CallHistory  # the engine's one history of finished calls (history.py)
    websockets: WebSockets  # the sockets the object accepted; ctx's WebSocket methods (websockets.py)
    clock: Clock  # the engine's one source of time (clock.py)

    def load_state(self, inst: Instance) -> tuple[dict[str, Any], float | None]:
        """The object's durable values and alarm (raises BrokenObjectError if unreadable)."""

    def schedule_commit(self, inst: Instance) -> None:
        """The object wrote: commit its writes soon."""

    def commit_if_alone(self) -> None:
        """A call's result waits on its writes: commit now if nothing else could join the group."""

    def was_reset(self, inst: Instance, error: BaseException) -> None:
        """The object was reset: its uncommitted writes are gone (commit nothing for it), and its
        WebSockets are dropped, as workerd drops a reset object's."""

    def touch(self, inst: Instance) -> Instance:
        """The object is about to wake (or exist, at its first call): list it. Returns the engine's
        record of it: ``inst``, unless ``inst`` was forgotten (``released``) and another replaced it."""

    def on_state(self, inst: Instance, old: State, new: State) -> None:
        """The object's state changed (the ``state`` event is published already)."""

    def released(self, inst: Instance) -> None:
        """The object is out of memory and nothing runs, waits or is on its way to disk for it
        (``Instance.detached``): the engine may forget this record; its index entry remains."""
