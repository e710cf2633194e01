"""Checkpoint rounds whose cost follows the change: bounded rounds, recycled files, a bounded backlog.

A round takes at most ``DurableState.ROUND_OBJECTS`` objects (the next starts at once), so a log
segment goes only once every change it holds is in a durable checkpoint, whichever round wrote
it; a checkpoint is written into a spare file swapped with the old one (spares.py),
so a round creates and frees no file per object; and at most ``MAX_HELD`` objects hold changes
not yet checkpointed: then commits wait for a round (docs/trust.md, "Memory").
"""

import asyncio
import errno
import os
import threading

import pytest
from tinydb import TinyDB

from dotui import Engine
from dotui.engine.durability import spares

TIMEOUT = 30


def _engine(objects_dir, data_dir, **kw):
    kw.setdefault("checkpoint_interval", 3600)
    return Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60, **kw)


def _inodes(folder) -> set[int]:
    return {os.lstat(os.path.join(d, f)).st_ino for d, _, fs in os.walk(folder) for f in fs}


async def test_rounds_of_a_few_objects_write_them_all_and_the_log_goes_once_every_one_is_written(objects_dir, data_dir):
    async with _engine(objects_dir, data_dir) as e:
        e.durable.ROUND_OBJECTS = 3
        for i in range(10):
            await e.env.Counter.get_by_name(f"c{i}").increment(i + 1)
        done = []
        e.subscribe(predicate=lambda ev: ev["type"] == "checkpoint.done" and done.append(ev["objects"]))
        assert await asyncio.wait_for(e.checkpoint(), TIMEOUT) is True
        assert done == [3, 3, 3, 1]
        assert e.stats()["uncheckpointed_objects"] == 0
        assert len(list((data_dir / "log").glob("*.log"))) == 1  # the current segment only
    async with _engine(objects_dir, data_dir) as e:
        assert e.stats()["recovered_records"] == 0
        for i in range(10):
            assert await e.env.Counter.get_by_name(f"c{i}").peek() == i + 1


async def test_a_change_made_while_its_object_is_being_checkpointed_stays_in_the_log(
    objects_dir, data_dir, monkeypatch
):
    """Round 1 takes a; a changes again during it. Round 2 takes only b and c (two a round): the
    segment holding a's second change must outlive it, and a's third round fails: after a crash
    the log still brings back the second change."""
    real = spares.replace_many
    calls = []
    release = threading.Event()

    def replace_many(files, root, spares=None):
        calls.append(sorted(files))
        if len(calls) == 1:
            assert release.wait(TIMEOUT)
        if len(calls) == 3:
            raise OSError(errno.EIO, "injected: the third round fails")
        return real(files, root, spares)

    monkeypatch.setattr(spares, "replace_many", replace_many)
    async with _engine(objects_dir, data_dir) as e:
        e.durable.ROUND_OBJECTS = 2
        a = e.env.Counter.get_by_name("a")
        await a.increment()
        first = asyncio.ensure_future(e.checkpoint())
        for _ in range(1000):
            if calls:
                break
            await asyncio.sleep(0.01)
        assert calls, "the first round never started writing"
        await e.env.Counter.get_by_name("b").increment()
        await e.env.Counter.get_by_name("c").increment()
        assert await a.increment() == 2  # acknowledged while round 1 writes a's first change
        release.set()
        assert await asyncio.wait_for(first, TIMEOUT) is False  # a changed since: still held
        assert await asyncio.wait_for(e.checkpoint(), TIMEOUT) is False  # b and c, then a fails
        assert len(calls) == 3
        await e.crash()
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 2
        assert await e.env.Counter.get_by_name("b").peek() == 1


async def test_a_round_swaps_spare_files_in_and_creates_or_frees_none(objects_dir, data_dir):
    async with _engine(objects_dir, data_dir) as e:
        counters = [e.env.Counter.get_by_name(f"s{i}") for i in range(5)]
        seen = []
        for n in range(1, 6):
            for c in counters:
                await c.increment()
            assert await e.checkpoint() is True
            seen.append(_inodes(data_dir / "Counter"))
            for f in (data_dir / "Counter").glob("*.json"):
                with TinyDB(str(f), access_mode="r") as db:  # each checkpoint whole and readable
                    assert db.table("storage").all()[0]["value"] == n
        assert spares.SPARE_FOLDER in os.listdir(data_dir / "Counter")
        if e.durable.spares.exchanges:
            assert seen[-1] == seen[-2] == seen[-3]  # the same files, swapped: none made or freed
        assert not [f for d, _, fs in os.walk(data_dir) for f in fs if f.endswith(".tmp")]
    async with _engine(objects_dir, data_dir) as e:
        assert [await c.peek() for c in (e.env.Counter.get_by_name(f"s{i}") for i in range(5))] == [5] * 5


async def test_a_failed_write_into_a_spare_leaves_the_checkpoint_whole(objects_dir, data_dir, disk_faults):
    async with _engine(objects_dir, data_dir) as e:
        c = e.env.Counter.get_by_name("w")
        for _ in range(3):  # the third round writes into a spare
            await c.increment()
            assert await e.checkpoint() is True
        await c.increment()
        fault = disk_faults.inject("write", errno.EIO, match=f"{os.sep}{spares.SPARE_FOLDER}{os.sep}")
        assert await e.checkpoint() is False
        assert fault.hits == 1
        (path,) = (data_dir / "Counter").glob("*.json")
        with TinyDB(str(path), access_mode="r") as db:
            assert db.table("storage").all()[0]["value"] == 3
        assert await e.checkpoint() is True
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("w").peek() == 4


async def test_commits_wait_while_the_backlog_is_full_and_nothing_is_lost(objects_dir, data_dir):
    async with _engine(objects_dir, data_dir) as e:
        e.durable.MAX_HELD = 4
        most = 0
        for i in range(20):
            assert await asyncio.wait_for(e.env.Counter.get_by_name(f"b{i}").increment(i), TIMEOUT) == i
            most = max(most, e.stats()["uncheckpointed_objects"])
        assert most <= 5  # the bound, and the one commit that filled it
        assert e.stats()["backlog_waits"] >= 1
    async with _engine(objects_dir, data_dir) as e:
        assert [await e.env.Counter.get_by_name(f"b{i}").peek() for i in range(20)] == list(range(20))


BIG = 4000  # keys of 24+ bytes: a checkpoint of 300 KB


async def _big(e):
    s = e.env.Counter.get_by_name("big")
    for start in range(0, BIG, 128):
        await s.fill(start, min(128, BIG - start))
    assert await e.checkpoint() is True
    return s


async def test_a_big_object_is_checkpointed_and_woken_from_what_was_written_not_read_back(
    tmp_path, data_dir, monkeypatch
):
    from dotui.engine.durability import checkpoint
    from tests.conftest import write_objects

    objs = write_objects(tmp_path / "objs", counter=FILL_COUNTER)
    reads = []
    real = checkpoint.load
    monkeypatch.setattr(checkpoint, "load", lambda path, key=None: reads.append(path) or real(path, key))
    async with _engine(objs, data_dir) as e:
        s = await _big(e)
        (path,) = (data_dir / "Counter").glob("*.json")
        assert path.stat().st_size >= 256 << 10
        reads.clear()
        await s.put("key/000007", "changed")
        assert await e.checkpoint() is True  # one key changed: the file is not read back
        await e.hibernate("Counter", s.id)
        assert await s.get("key/000007") == "changed"  # woken without reading it
        assert await s.get("key/000008") == {"i": 8, "payload": "x" * 24}
        assert reads == [] and e.durable.recent.hits >= 2
        with TinyDB(str(path), access_mode="r") as db:  # the file written holds it all the same
            rows = {r["key"]: r["value"] for r in db.table("storage").all()}
        assert len(rows) == BIG and rows["key/000007"] == "changed"
    async with _engine(objs, data_dir) as e:  # a new engine reads and checks the file
        assert await e.env.Counter.get_by_name("big").get("key/000007") == "changed"


async def test_a_big_checkpoint_changed_on_disk_is_read_and_checked_again(tmp_path, data_dir):
    from dotui import BrokenObjectError
    from tests.conftest import write_objects

    objs = write_objects(tmp_path / "objs", counter=FILL_COUNTER)
    async with _engine(objs, data_dir) as e:
        s = await _big(e)
        await e.hibernate("Counter", s.id)
        (path,) = (data_dir / "Counter").glob("*.json")
        path.write_bytes(path.read_bytes()[:-10])  # torn by someone else: not the file written
        with pytest.raises(BrokenObjectError, match="not valid JSON"):
            await s.get("key/000001")


FILL_COUNTER = """
from dotui import DurableObject

class Counter(DurableObject):
    def fill(self, start, count):
        self.ctx.storage.put({f"key/{i:06d}": {"i": i, "payload": "x" * 24} for i in range(start, start + count)})

    def put(self, key, value):
        self.ctx.storage.put(key, value)

    def get(self, key):
        return self.ctx.storage.get(key)
"""


async def test_rounds_of_a_big_object_reuse_its_rows_and_write_every_key_in_order(tmp_path, data_dir):
    # A change, then a key added, a key deleted, one added before every other, and a change again: each
    # round's file holds exactly the storage, its document ids in key order, as one made from nothing would.
    from tests.conftest import write_objects

    objs = write_objects(tmp_path / "objs", counter=FILL_COUNTER + DELETE)
    async with _engine(objs, data_dir) as e:
        s = await _big(e)
        (path,) = (data_dir / "Counter").glob("*.json")
        want = {f"key/{i:06d}": {"i": i, "payload": "x" * 24} for i in range(BIG)}
        for step in [
            ("put", "key/000007", 7),
            ("put", "key/0000075", "new"),
            ("delete", "key/000100"),
            ("put", "a first", 1),
            ("put", "key/000008", [8]),
            ("put", "key/000009", None),
        ]:
            if step[0] == "put":
                await s.put(step[1], step[2])
                want[step[1]] = step[2]
            else:
                await s.delete(step[1])
                del want[step[1]]
            assert await e.checkpoint() is True
            with TinyDB(str(path), access_mode="r") as db:
                table = db.table("storage")
                ids = sorted(table.all(), key=lambda r: r.doc_id)
                assert [r["key"] for r in ids] == sorted(want), step
                assert {r["key"]: r["value"] for r in ids} == want, step
                assert [r.doc_id for r in ids] == list(range(1, len(want) + 1))
        assert e.durable.recent.hits >= 6


DELETE = """
    def delete(self, key):
        self.ctx.storage.delete(key)
"""
