"""The write path under disk faults: an answer means durable, a failed commit says so, and
the engine serves again once the disk does.

SQLite-style: for each operation of the commit log (write, fdatasync, open, fallocate),
for N = 0, 1, 2, ... the Nth such operation fails (once, or from then on until the
fault clears), while objects commit and the log rotates under checkpoints.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil

import pytest

from dotui import CommitFailedError, Engine
from dotui.engine.durability.commitlog import CommitLog
from dotui.engine.durability.committer import Committer


class ThreadedLog(CommitLog):
    """A commit log the committer appends to on its thread (the slow-disk path)."""

    inline_sync = False


@pytest.fixture
def fast_retries(monkeypatch):
    """Rotation retries without the real backoff's waiting (the count of tries is unchanged)."""
    monkeypatch.setattr(Committer, "ROTATE_BACKOFF", 0.001)


def log_folder(data_dir) -> str:
    return os.path.join(str(data_dir), "log")


# ---------------------------------------------------------------- defect 8: a failed rotation
async def test_a_failed_log_rotation_leaves_the_log_serving_and_is_retried(
    objects_dir, data_dir, disk_faults, fast_retries, caplog
):
    async with Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60) as e:
        c = e.env.Counter.get_by_name("a")
        assert await c.increment() == 1
        events = e.subscribe()
        disk_faults.inject("open", errno.ENOSPC, match=log_folder(data_dir), times=None)
        with caplog.at_level(logging.ERROR, logger="dotui"):
            # Every try to start a new segment fails: the checkpoint reports it and loses nothing.
            assert await e.checkpoint() is False
        # Commits go on in the current segment while the disk refuses new files ...
        assert await c.increment() == 2
        disk_faults.clear()
        # ... and after it, with no restart.
        assert await c.increment() == 3
        failures = e.stats()["log_rotate_failures"]
        assert failures == Committer.ROTATE_ATTEMPTS
        assert [ev["type"] for ev in events.drain()].count("log.rotate_failed") == failures
        assert "could not start a new commit log segment" in caplog.text
        await e.checkpoint()  # the rotation is tried again, and now succeeds
        assert e.stats()["log_rotate_failures"] == failures
    async with Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 3


@pytest.mark.parametrize("op", ["open", "fallocate", "fsync"])
async def test_one_failure_to_create_a_segment_is_retried_at_once(objects_dir, data_dir, disk_faults, fast_retries, op):
    async with Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60) as e:
        c = e.env.Counter.get_by_name("a")
        assert await c.increment() == 1
        segments_before = sorted(os.listdir(log_folder(data_dir)))
        fault = disk_faults.inject(op, errno.EIO, match=log_folder(data_dir))
        await e.checkpoint()
        assert fault.hits == 1
        # The failed half-made segment is not left behind; a fresh one replaced the old.
        assert len(os.listdir(log_folder(data_dir))) == 1
        assert sorted(os.listdir(log_folder(data_dir))) != segments_before
        assert await c.increment() == 2
        assert e.stats()["log_rotate_failures"] == (0 if op == "fallocate" else 1)
    async with Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 2


# ---------------------------------------------------------------- the fault loop
NAMES = ("a", "b", "c")


async def _workload(e: Engine, steps: int) -> tuple[dict[str, list], int]:
    """Concurrent increments of three objects, a checkpoint (a log rotation) every third step.

    Returns each object's outcomes in order (an int, or the exception) and how many
    checkpoints failed.
    """
    stubs = {n: e.env.Counter.get_by_name(n) for n in NAMES}
    outcomes: dict[str, list] = {n: [] for n in NAMES}
    failed_checkpoints = 0
    for step in range(steps):
        results = await asyncio.gather(*(s.increment() for s in stubs.values()), return_exceptions=True)
        for n, r in zip(NAMES, results, strict=False):
            outcomes[n].append(r)
        if step % 3 == 2:
            try:
                await e.checkpoint()
            except OSError:
                failed_checkpoints += 1
    return outcomes, failed_checkpoints


def _check_outcomes(outcomes: dict[str, list], label: str) -> dict[str, int]:
    """Every answer continues from the last acknowledged value: a failed commit was
    reported as such, and its object started again from its durable state."""
    last = {}
    for n, results in outcomes.items():
        acked = 0
        for r in results:
            if isinstance(r, BaseException):
                assert isinstance(r, CommitFailedError), f"{label}: {n} got {type(r).__name__}: {r}"
            else:
                assert r == acked + 1, f"{label}: {n} answered {r} after {acked} was acknowledged"
                acked = r
        last[n] = acked
    return last


async def _one_run(objects_dir, folder, disk_faults, op: str, skip: int, times: int | None, log_class) -> bool:
    """Fail the ``skip``th ``op`` of the log (once, or from then on); False if it never fired."""
    async with Engine(objects=str(objects_dir), data=str(folder), idle_timeout=60, log_class=log_class) as e:
        fault = disk_faults.inject(op, errno.EIO, match=log_folder(folder), skip=skip, times=times)
        outcomes, _ = await _workload(e, steps=7)
        fired = fault.hits > 0
        disk_faults.clear()
        label = f"{op} #{skip} {'once' if times else 'repeatedly'}"
        acked = _check_outcomes(outcomes, label)
        # What a kill at this instant would leave: the files as the page cache has them.
        shutil.copytree(folder, f"{folder}-killed")
        killed = dict(acked)
        if fired and op in ("write", "fsync") and times is None:
            assert any(isinstance(r, CommitFailedError) for rs in outcomes.values() for r in rs), label
        # The fault is gone: every object serves again, from where it was acknowledged.
        for n in NAMES:
            assert await e.env.Counter.get_by_name(n).increment() == acked[n] + 1, label
            acked[n] += 1
    async with Engine(objects=str(objects_dir), data=str(folder), idle_timeout=60) as e:
        for n in NAMES:
            assert await e.env.Counter.get_by_name(n).peek() == acked[n], f"{label}: {n} after restart"
    # Killed after the fault: every acknowledged write is there, and no write whose commit failed.
    async with Engine(objects=str(objects_dir), data=f"{folder}-killed", idle_timeout=60) as e:
        for n in NAMES:
            assert await e.env.Counter.get_by_name(n).peek() == killed[n], f"{label}: {n} after a kill"
    return fired


@pytest.mark.slow
@pytest.mark.parametrize("log_class", [CommitLog, ThreadedLog], ids=["inline", "threaded"])
@pytest.mark.parametrize("times", [1, None], ids=["once", "repeatedly"])
@pytest.mark.parametrize("op", ["write", "fsync", "open", "fallocate"])
async def test_every_nth_log_operation_failing_loses_no_acknowledged_write(
    objects_dir, tmp_path, disk_faults, fast_retries, op, times, log_class
):
    n = 0
    while await _one_run(objects_dir, tmp_path / f"data-{n}", disk_faults, op, n, times, log_class):
        n += 1
        assert n < 200, "the workload never ran out of operations to fail"
    assert n > 0, f"no {op} of the commit log happened: the fault seam is not on the write path"


async def test_a_segment_that_cannot_be_preallocated_is_appended_to_and_asked_once(
    objects_dir, data_dir, disk_faults, caplog
):
    async with Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60) as e:
        c = e.env.Counter.get_by_name("a")
        assert await c.increment() == 1  # something to checkpoint: a checkpoint with nothing to do starts no segment
        fault = disk_faults.inject("fallocate", errno.ENOSPC, match=log_folder(data_dir), times=None)
        with caplog.at_level(logging.WARNING, logger="dotui"):
            await e.checkpoint()  # a new segment, which the disk will not preallocate
            for i in range(2, 52):
                assert await c.increment() == i
        assert fault.hits == 1
        assert caplog.text.count("could not preallocate") == 1
    async with Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 51
