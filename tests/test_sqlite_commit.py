"""A SQLite-backed object's commit waits on one fdatasync, its database's (docs/sqlite.md, "One
fdatasync a commit"): the engine's log record beside it is only written, unless it tells the index
something the database cannot (the object's first commit since it woke, a changed alarm). What a
record written without its fdatasync carries is made durable by the next synced append, a rotation
or the log's close, so a later segment never sits after a lost tail."""

from __future__ import annotations

import os

import pytest

from dotui import Engine
from dotui.engine.durability import commitlog, disk, logformat, logscan
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
            return n

        def arm(self, n):
            self.ctx.storage.sql.exec("INSERT INTO r VALUES (?)", n)
            self.ctx.storage.set_alarm(4_000_000_000.0)
            return n

        def all(self):
            return [row["n"] for row in self.ctx.storage.sql.exec("SELECT n FROM r ORDER BY n")]

        def alarm(self, info):
            pass
"""


@pytest.fixture
def synced(monkeypatch):
    """The path of every file fdatasynced through the disk.py seam, in order."""
    paths: list[str] = []
    real = disk.fdatasync

    def fdatasync(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(disk, "fdatasync", fdatasync)
    return paths


def _kinds(paths: list[str]) -> list[str]:
    return ["wal" if p.endswith(".sqlite-wal") else "log" if "/log/" in p else p for p in paths]


async def test_a_lone_callers_writes_each_wait_on_the_database_fdatasync_alone(tmp_path, data_dir, synced):
    objects = write_objects(tmp_path / "objects", rows=ROWS)
    async with Engine(objects=str(objects), data=str(data_dir), idle_timeout=60, checkpoint_interval=3600) as e:
        s = e.env.Rows.get_by_name("a")
        synced.clear()
        assert await s.add(0) == 0  # its first commit: the index hears of the object, durably
        assert "log" in _kinds(synced)
        synced.clear()
        for n in range(1, 6):
            assert await s.add(n) == n
        assert _kinds(synced) == ["wal"] * 5  # was a log fdatasync beside each: 10
        synced.clear()
        assert await s.arm(6) == 6  # the alarm is the index's: the record is synced too
        assert sorted(_kinds(synced)) == ["log", "wal"]
        assert e.index.get("Rows", s.id.hex).alarm == 4_000_000_000.0
    async with Engine(objects=str(objects), data=str(data_dir), idle_timeout=60) as e:
        s = e.env.Rows.get_by_name("a")
        assert await s.all() == list(range(7))
        assert e.index.get("Rows", s.id.hex).alarm == 4_000_000_000.0


async def test_a_failing_log_fdatasync_no_longer_fails_a_write_that_does_not_need_it(tmp_path, data_dir, disk_faults):
    """The database's fdatasync is what makes the write durable; a failing one still fails it
    (tests/test_sqlite_faults.py)."""
    import errno

    objects = write_objects(tmp_path / "objects", rows=ROWS)
    async with Engine(objects=str(objects), data=str(data_dir), idle_timeout=60) as e:
        s = e.env.Rows.get_by_name("a")
        assert await s.add(0) == 0
        disk_faults.inject("fsync", errno.EIO, match=str(data_dir / "log"), times=None)
        assert [await s.add(n) for n in range(1, 4)] == [1, 2, 3]
        disk_faults.clear()
    async with Engine(objects=str(objects), data=str(data_dir), idle_timeout=60) as e:
        assert await e.env.Rows.get_by_name("a").all() == [0, 1, 2, 3]


class _Recording(commitlog.CommitLog):
    """A commit log that tells when it fdatasyncs (the class docstring: subclass to watch it)."""

    def __init__(self, folder: str):
        super().__init__(folder)
        self.syncs = 0

    def sync(self, fd: int) -> None:
        self.syncs += 1
        super().sync(fd)


def test_a_record_written_without_its_fdatasync_is_synced_before_a_rotation_and_at_close(tmp_path):
    log = _Recording(str(tmp_path / "log"))
    log.open_new_segment()
    record = logformat.encode_record(1.0, [])
    log.append(record, sync=False)
    log.append(record, sync=False)
    assert log.syncs == 0
    log.open_new_segment()  # the older segment's tail is durable before a later one exists
    assert log.syncs == 1
    log.append(record, sync=False)
    log.append(record)  # a synced append covers the one before it: nothing left pending
    assert log.syncs == 2
    log.append(record, sync=False)
    log.close()
    assert log.syncs == 3
    records, _, _ = logscan.read_records(log.segments()[-1])
    assert len(records) == 3
