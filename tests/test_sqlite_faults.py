"""SQLite-backed objects under disk faults: an answer means durable, a failed commit says so and
resets only its object, every file stays openable, and the engine serves again once the disk does
(docs/sqlite.md, "Layout"). The faults go through the disk.py seam, and where SQLite does its own
I/O through sqlfile.seam (opening the database, a COMMIT's writes, a checkpoint)."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from dotui import CommitFailedError, Engine, ObjectAbortedError
from dotui.engine.durability import pitr
from tests.conftest import write_objects

ROWS = """
    from dotui import DurableObject

    class Rows(DurableObject):
        storage_backend = "sqlite"

        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS r (n INTEGER PRIMARY KEY)")

        def add(self, n):
            self.ctx.storage.sql.exec("INSERT INTO r VALUES (?)", n)
            self.ctx.storage.put("last", n)
            return n

        def all(self):
            return [row["n"] for row in self.ctx.storage.sql.exec("SELECT n FROM r ORDER BY n")]

        async def bookmark(self):
            return await self.ctx.storage.get_current_bookmark()

        async def restore(self, b):
            await self.ctx.storage.on_next_session_restore_bookmark(b)
            self.ctx.abort("restoring")
"""


@pytest.fixture
def objects(tmp_path):
    return write_objects(tmp_path / "objects", rows=ROWS)


def _engine(objects, data):
    return Engine(objects=str(objects), data=str(data), idle_timeout=60, checkpoint_interval=0.05)


def _files_open(data_dir) -> None:
    """Every database passes SQLite's integrity check and every history reads back whole."""
    for f in (data_dir / "Rows").glob("*.sqlite"):
        conn = sqlite3.connect(str(f))
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f
        finally:
            conn.close()
        list(pitr.read(pitr.history_of(str(f))))


@pytest.mark.parametrize("op,match", [("fsync", ".sqlite-wal"), ("write", ".sqlite"), ("write", "-history")])
@pytest.mark.parametrize("persistent", [False, True])
async def test_a_failed_commit_fails_its_calls_and_loses_nothing_acknowledged(
    objects, data_dir, disk_faults, op, match, persistent
):
    async with _engine(objects, data_dir) as e:
        s = e.env.Rows.get_by_name("a")
        for n in range(5):
            assert await s.add(n) == n
        disk_faults.inject(op, errno.EIO, match=match, times=None if persistent else 1)
        with pytest.raises(CommitFailedError, match="could not be made durable"):
            await s.add(100)
        disk_faults.clear()
        assert await s.add(5) == 5  # serving again: the object was reset, and woke from its database
        rows = set(await s.all())
        # The failed call's row may be there (SQLite wrote it to its WAL before the fdatasync
        # failed: docs/sqlite.md); it was never acknowledged. Every acknowledged one is.
        assert {0, 1, 2, 3, 4, 5} <= rows <= {0, 1, 2, 3, 4, 5, 100}
        if (op, match) == ("write", ".sqlite"):
            assert 100 not in rows  # refused before SQLite's COMMIT ran: rolled back, never visible
    _files_open(data_dir)
    async with _engine(objects, data_dir) as e:
        assert {0, 1, 2, 3, 4, 5} <= set(await e.env.Rows.get_by_name("a").all())


async def test_a_database_that_cannot_be_opened_fails_the_wake_and_the_next_call_tries_again(
    objects, data_dir, disk_faults
):
    async with _engine(objects, data_dir) as e:
        await e.env.Rows.get_by_name("a").add(1)
    async with _engine(objects, data_dir) as e:
        s = e.env.Rows.get_by_name("a")
        disk_faults.inject("open", errno.EIO, match=".sqlite", times=None)
        with pytest.raises(Exception, match="injected open fault"):
            await s.all()
        disk_faults.clear()
        assert await s.all() == [1]


async def test_a_failed_mkdir_fails_the_first_call_of_a_new_class_only_until_it_clears(objects, data_dir, disk_faults):
    async with _engine(objects, data_dir) as e:
        disk_faults.inject("mkdir", errno.ENOSPC, match="Rows", times=None)
        with pytest.raises(Exception, match="injected mkdir fault"):
            await e.env.Rows.get_by_name("a").add(1)
        disk_faults.clear()
        assert await e.env.Rows.get_by_name("a").add(1) == 1


@pytest.mark.parametrize("op", ["rename", "fsync", "write", "remove"])
async def test_a_restore_cut_short_by_a_fault_is_carried_out_once_the_disk_serves(objects, data_dir, disk_faults, op):
    async with _engine(objects, data_dir) as e:
        s = e.env.Rows.get_by_name("a")
        await s.add(1)
        b = await s.bookmark()
        await s.add(2)
        with pytest.raises(ObjectAbortedError):
            await s.restore(b)
        disk_faults.inject(op, errno.EIO, match="Rows", times=None)
        with pytest.raises(Exception, match=f"injected {op} fault"):
            await s.all()  # the wake makes the restore, which fails part way
        disk_faults.clear()
        assert await s.all() == [1]
    _files_open(data_dir)


@pytest.mark.parametrize("op", ["write", "fsync", "open", "rename", "mkdir", "remove"])
async def test_every_nth_operation_failing_loses_no_acknowledged_write(objects, data_dir, disk_faults, op):
    """SQLite's way: for N = 0, 1, 2, ... the Nth operation of the kind fails (once), under a workload
    of commits, checkpoints, hibernations and a restore; what was acknowledged is there after."""
    acked: set[int] = set()
    n = 0
    extra = (14,) if op == "fsync" else ()  # the 15th fsync: a hibernation's history fsync
    for skip in (*range(0, 16, 3), *extra):
        async with _engine(objects, data_dir) as e:
            s = e.env.Rows.get_by_name("a")
            fault = disk_faults.inject(op, errno.EIO, match=str(data_dir), skip=skip)
            for _ in range(4):
                n += 1
                try:
                    acked.add(await s.add(n))
                except Exception:  # noqa: BLE001 - the fault's: not acknowledged
                    pass
            try:
                b = await s.bookmark()
                await e.checkpoint()
                await e.hibernate_all()
                before = set(await s.all())
                try:
                    await s.restore(b)
                except ObjectAbortedError:
                    pass
                after = set(await s.all())
                assert after == before, "a restore to the latest bookmark changes nothing"
            except AssertionError:
                raise
            except Exception:  # noqa: BLE001 - the fault's (an OSError naming it, a CommitFailedError)
                pass
            disk_faults.clear()
            assert fault.hits <= 1
            got = set(await s.all())
            assert acked <= got, f"lost {sorted(acked - got)} (skip {skip})"
    _files_open(data_dir)


ARMED = """
    import time
    from dotui import DurableObject

    class Armed(DurableObject):
        storage_backend = "sqlite"

        def arm(self, delay):
            self.ctx.storage.set_alarm(time.time() + delay)
            self.ctx.storage.put("armed", True)

        def fired(self):
            return self.ctx.storage.get("fired", False)

        async def alarm(self, info):
            self.ctx.storage.put("fired", True)
"""


async def test_an_alarm_a_failed_commit_left_in_the_database_still_fires(tmp_path, data_dir, disk_faults):
    """The COMMIT wrote the alarm to the database, the log append after it failed: the index never
    heard of it. The database is the truth: the alarm fires, as everything else of that commit
    stays (without this, an armed object would never fire)."""
    import asyncio

    objects = write_objects(tmp_path / "objects", armed=ARMED)
    async with Engine(objects=str(objects), data=str(data_dir), idle_timeout=60) as e:
        s = e.env.Armed.get_by_name("a")
        disk_faults.inject("fsync", errno.EIO, match=str(data_dir / "log"), times=1)
        with pytest.raises(CommitFailedError):
            await s.arm(0.2)
        disk_faults.clear()
        for _ in range(100):
            if e.index.get("Armed", s.id.hex).alarm is None:
                break
            await asyncio.sleep(0.05)
        assert await s.fired() is True
