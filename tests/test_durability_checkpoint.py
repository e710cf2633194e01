"""Checkpoints under failure: a failed mkdir, write, fsync or rename, an unreadable
checkpoint, a damaged file, loses nothing acknowledged; the checkpointer goes on."""

import asyncio
import errno
import logging
import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dotui import BrokenObjectError, Engine
from dotui.engine.durability import checkpoint
from dotui.engine.errors import DataFolderError
from tests.conftest import write_objects


def _engine(objects_dir, data_dir, **kw):
    kw.setdefault("checkpoint_interval", 3600)
    return Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60, **kw)


async def _next(sub, kind: str) -> dict:
    """The next event of ``kind`` (the engine reports every checkpoint, failed or done)."""

    async def wait():
        while True:
            ev = await sub.get()
            if ev["type"] == kind:
                return ev

    return await asyncio.wait_for(wait(), 30)


def _files(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


@pytest.mark.parametrize("op", ["mkdir", "open", "write", "fsync", "rename"])
async def test_a_checkpoint_failing_once_loses_no_acknowledged_write(objects_dir, data_dir, disk_faults, op):
    async with _engine(objects_dir, data_dir) as e:
        c = e.env.Counter.get_by_name("a")
        assert await c.increment(5) == 5
        sub = e.subscribe()
        fault = disk_faults.inject(op, errno.ENOSPC, match="Counter")
        await e.hibernate("Counter", c.id)  # asks for a background checkpoint
        failed = await _next(sub, "checkpoint.failed")
        assert fault.hits == 1 and "No space left" in failed["error"]
        assert await c.peek() == 5  # wakes with the acknowledged value
        assert await c.increment() == 6
        await e.checkpoint()
        assert e.stats()["uncheckpointed_objects"] == 0
    assert not [f for f in _files(data_dir) if f.endswith(".tmp")]
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 6


@pytest.mark.parametrize("op", ["mkdir", "write", "fsync", "rename"])
async def test_a_checkpoint_failing_until_the_fault_clears_loses_nothing(
    objects_dir, data_dir, disk_faults, caplog, op
):
    caplog.set_level(logging.WARNING, logger="dotui")
    loop_thread = threading.get_ident()
    published_on = set()
    async with _engine(objects_dir, data_dir) as e:
        c = e.env.Counter.get_by_name("a")
        await c.increment(5)
        sub = e.subscribe(predicate=lambda ev: published_on.add(threading.get_ident()) or True)
        fault = disk_faults.inject(op, errno.ENOSPC, times=None, match="Counter")
        await e.hibernate("Counter", c.id)
        await _next(sub, "checkpoint.failed")
        await _next(sub, "checkpoint.failed")  # the checkpointer is still alive: it tried again
        assert e.stats()["checkpoint_failures"] >= 2
        assert any("checkpoint failed" in r.getMessage() for r in caplog.records)
        assert await c.peek() == 5
        assert await c.increment() == 6
        disk_faults.clear()
        await _next(sub, "checkpoint.done")  # it goes on once the fault clears
        assert fault.hits >= 2
        assert published_on == {loop_thread}  # no event published from the checkpoint thread
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 6


async def test_a_checkpoint_failing_at_close_keeps_the_log_for_the_next_start(objects_dir, data_dir, disk_faults):
    async with _engine(objects_dir, data_dir) as e:
        c = e.env.Counter.get_by_name("a")
        await c.increment(7)
        fault = disk_faults.inject("rename", errno.EIO, times=None, match="Counter")
    assert fault.hits >= 1
    disk_faults.clear()
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 7


async def test_an_unreadable_checkpoint_with_logged_writes_breaks_only_that_object(objects_dir, data_dir):
    async with _engine(objects_dir, data_dir) as e:
        a, b = e.env.Counter.get_by_name("a"), e.env.Counter.get_by_name("b")
        await a.increment()
        await b.increment()
        await e.checkpoint()
        path = data_dir / "Counter" / f"{a.id.hex}.json"
        good = path.read_bytes()
        await a.increment()  # acknowledged, in the log only
        path.write_bytes(b'{"storage": {"1": ')
        damaged = path.read_bytes()
        for _ in range(5):
            await b.increment()
            await e.checkpoint()
        segments = sorted((data_dir / "log").glob("*.log"))
        assert len(segments) <= 2, segments  # not one more segment per attempt
        assert not [f for f in _files(data_dir) if f.endswith(".tmp")]
        with pytest.raises(BrokenObjectError, match=rf"{a.id.hex}\.json"):
            await a.peek()
        assert e.instance_info("Counter", a.id)["state"] == "broken"
        assert await b.peek() == 6
        assert checkpoint.load(str(data_dir / "Counter" / f"{b.id.hex}.json"))[0] == {"n": 6}
    assert path.read_bytes() == damaged  # never overwritten
    path.write_bytes(good)  # the user restores it from a backup
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 2  # the logged write was kept


BAD_CHECKPOINTS = {
    "empty": b"",
    "no tables": b"{}",
    "null tables": b'{"meta": null, "storage": null}',
    "a key that is not a string": b'{"meta": {"1": {}}, "storage": {"1": {"key": 5, "value": 1}}}',
    "a row that is not a document": b'{"meta": {"1": {}}, "storage": {"1": 5}}',
    "a list": b"[]",
}


@pytest.mark.parametrize("what", list(BAD_CHECKPOINTS))
def test_a_damaged_checkpoint_is_never_read_as_an_empty_object(tmp_path, what):
    path = tmp_path / "x.json"
    path.write_bytes(BAD_CHECKPOINTS[what])
    with pytest.raises(BrokenObjectError, match=rf"{path}.*left as it is"):
        checkpoint.load(str(path))


def test_a_checkpoint_path_that_is_a_folder_is_a_broken_object(tmp_path):
    (tmp_path / "x.json").mkdir()
    with pytest.raises(BrokenObjectError, match=rf"{tmp_path / 'x.json'}"):
        checkpoint.load(str(tmp_path / "x.json"))


async def test_a_zero_length_checkpoint_breaks_the_object_and_is_never_overwritten(objects_dir, data_dir):
    async with _engine(objects_dir, data_dir) as e:
        c = e.env.Counter.get_by_name("a")
        await c.increment(3)
    path = data_dir / "Counter" / f"{c.id.hex}.json"
    path.write_bytes(b"")
    async with _engine(objects_dir, data_dir) as e:
        c = e.env.Counter.get_by_name("a")
        with pytest.raises(BrokenObjectError, match=rf"{c.id.hex}\.json.*empty"):
            await c.increment()
        await e.checkpoint()
    assert path.read_bytes() == b""


async def test_a_lock_path_that_is_a_folder_is_a_clear_start_up_error(objects_dir, data_dir):
    (data_dir / "lock").mkdir(parents=True)
    with pytest.raises(DataFolderError, match=r"lock.*is a folder"):
        async with _engine(objects_dir, data_dir):
            pass


async def test_a_class_named_lock_is_a_clear_start_up_error(tmp_path, data_dir):
    objs = write_objects(
        tmp_path / "objs",
        clash="""
        from dotui import DurableObject

        class lock(DurableObject):
            def hi(self):
                return 1
    """,
    )
    with pytest.raises(DataFolderError, match=r"class 'lock'.*rename"):
        async with _engine(objs, data_dir):
            pass


@pytest.mark.parametrize("op", ["write", "fsync"])
async def test_an_index_write_failing_keeps_the_log_until_it_succeeds(objects_dir, data_dir, disk_faults, op):
    async with _engine(objects_dir, data_dir) as e:
        await e.env.Counter.get_by_name("a").increment(4)
        await e.checkpoint()  # the index files exist
        await e.env.Counter.get_by_name("b").increment(2)
        assert (data_dir / "index.sqlite").exists()
        fault = disk_faults.inject(op, errno.EIO, times=None, match=f"{os.sep}index.sqlite")
        assert await e.checkpoint() is False
        assert fault.hits >= 1 and e.stats()["checkpoint_failures"] >= 1
        assert list((data_dir / "log").glob("*.log"))  # kept: the index rows are only in the log
        disk_faults.clear()
        assert await e.checkpoint() is True
    async with _engine(objects_dir, data_dir) as e:
        assert {i["name"]: i["keys"] for i in e.instances()} == {"a": 1, "b": 1}
        assert await e.env.Counter.get_by_name("b").peek() == 2


async def test_recovery_whose_checkpoints_fail_still_starts_and_loses_nothing(objects_dir, data_dir, disk_faults):
    async with _engine(objects_dir, data_dir) as e:
        c = e.env.Counter.get_by_name("a")
        await c.increment(3)
        disk_faults.inject("rename", errno.ENOSPC, times=None, match="Counter")
    async with _engine(objects_dir, data_dir) as e:  # recovery cannot write the checkpoint
        assert e.stats()["checkpoint_failures"] >= 1
        assert await e.env.Counter.get_by_name("a").increment() == 4
    disk_faults.clear()
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 4
    assert not list((data_dir / "log").glob("*.log"))  # all checkpointed at the clean close


_KEYS = st.text(alphabet="abcd", max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, st.integers()), st.dictionaries(_KEYS, st.one_of(st.none(), st.integers())))
def test_a_table_made_from_the_last_one_is_the_table_made_from_nothing(first, changes):
    # changes: None deletes the key, an int puts it; the table the next checkpoint reuses has the same
    # rows, document ids and order as one made from every key.
    last = checkpoint.table(first)
    data = dict(first)
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    made = checkpoint.table(data, last, changes)
    fresh = checkpoint.table(data)
    assert made.rows == fresh.rows and made.order == fresh.order
    assert checkpoint.table(first).rows == last.rows  # the last one was not changed
