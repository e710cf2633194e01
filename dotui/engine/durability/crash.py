"""Stopping an engine as a kill would: the testing kit's ``engine.crash()`` (docs/testing.md).

At the instant of the crash the engine stops doing anything: no more commits, checkpoints,
alarms or hibernations, and nothing more is written. What the engine had handed to the disk
stays, exactly as after a SIGKILL (the operating system keeps what was written even if it
was not yet fsynced); what was only in memory (writes not yet committed, in-memory
attributes) is gone. A disk operation already running on a thread ends first, as one a kill
lands just after. The callers still waiting get ``EngineClosedError``; a call that was queued
finds its object broken. tests/test_testing_crash.py compares what survives with what survives
a real SIGKILL at the same point of the same workload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import EngineClosedError

if TYPE_CHECKING:
    from ..engine import Engine
    from ..object.instance import Instance


async def stop_as_killed(
    engine: Engine, live: Iterable[Instance], tasks: list[asyncio.Task], executors: tuple, lock
) -> None:
    """(Engine.crash) ``live`` are the objects in memory, ``tasks`` the engine's background
    tasks, ``executors`` its disk threads, ``lock`` its data folder's lock."""
    engine.alarms.stop()
    engine.sweeper.stop()
    crashed = EngineClosedError("the engine crashed (engine.crash()); its calls in flight are lost")
    for inst in live:
        inst.reset(crashed)
    for key in engine.websockets.counts():  # hibernated objects' sockets too: a kill ends every connection
        engine.websockets.drop_object(key, crashed)
    engine.committer.abandon()
    doomed = list(tasks) + engine.alarms.firing()
    for t in doomed:
        t.cancel()
    await asyncio.gather(*doomed, return_exceptions=True)
    for io in executors:
        io.shutdown(wait=True)  # a disk operation under way ends, as one a kill lands just after
    engine.log.close()
    engine.bus.close()
    lock.release()
