"""Every disk operation, failing from its Nth use on (SQLite's way of testing I/O
errors): whatever fails, no acknowledged write is lost, the engine releases the data
folder, and once the fault clears a new engine serves every acknowledged value."""

import errno

import pytest

from dotui import Engine
from dotui.engine.durability.committer import Committer
from dotui.engine.durability.disk import OPS

pytestmark = [pytest.mark.slow]


async def _workload(objects_dir, data, read_back: bool) -> int:
    """Increments, checkpoints and hibernations under a fault; the highest acknowledged value.
    ``read_back``: keep no checkpoint in memory (durability/recent.py), so each wake and round reads its file."""
    acked = 0
    try:
        async with Engine(objects=str(objects_dir), data=str(data), idle_timeout=60, checkpoint_interval=3600) as e:
            if read_back:
                e.durable.recent.MAX_ENTRIES = 0
            c = e.env.Counter.get_by_name("a")
            for _ in range(3):
                try:
                    acked = max(acked, await c.increment())
                except Exception:  # noqa: BLE001 - not acknowledged: may be lost
                    pass
                await e.checkpoint()
                await e.hibernate("Counter", c.id)
    except Exception:  # noqa: BLE001 - start or close may fail loudly under a fault
        pass
    return acked


@pytest.mark.parametrize("op", OPS)
async def test_any_disk_operation_failing_from_its_nth_use_loses_no_acknowledged_write(
    tmp_path, objects_dir, disk_faults, monkeypatch, op
):
    monkeypatch.setattr(Committer, "ROTATE_BACKOFF", 0.001)  # the same tries, without the waiting
    fired = 0
    for skip in range(40):
        data = tmp_path / f"run{skip}"
        fault = disk_faults.inject(op, errno.EIO, times=None, skip=skip)
        acked = await _workload(objects_dir, data, read_back=op == "read")
        fired += fault.hits
        disk_faults.clear()
        async with Engine(objects=str(objects_dir), data=str(data), idle_timeout=60) as e:
            assert await e.env.Counter.get_by_name("a").peek() >= acked, (op, skip)
            assert await e.env.Counter.get_by_name("a").increment() > acked  # serving again
    if op != "fallocate":  # segments may be preallocated without the seam
        assert fired > 0, f"no {op} ever went through the disk seam"
