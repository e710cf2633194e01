"""Checkpoints, the commit log, recovery, the data-folder lock, the index."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from tinydb import TinyDB

from dotui import BrokenObjectError, Engine, EngineLockedError
from dotui.engine.durability.logscan import read_records
from tests.conftest import ROOT


async def test_checkpoint_is_a_tinydb_database_with_the_documented_schema(objects_dir, data_dir):
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        c = e.env.Counter.get_by_name("alice")
        await c.increment(41)
        await c.increment()
        hx = c.id.hex
    path = data_dir / "Counter" / f"{hx}.json"
    with TinyDB(str(path), access_mode="r") as db:
        assert db.table("storage").all() == [{"key": "n", "value": 42}]
        meta = db.table("meta").all()[0]
    assert meta["namespace"] == "Counter" and meta["id"] == hx and meta["name"] == "alice"
    assert meta["keys"] == 1 and meta["alarm"] is None


async def test_state_survives_a_restart(objects_dir, data_dir):
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        await e.env.Counter.get_by_name("a").increment(3)
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        assert await e.env.Counter.get_by_name("a").increment() == 4


async def test_a_second_engine_on_the_same_data_folder_fails_naming_the_pid(objects_dir, data_dir):
    async with Engine(objects=str(objects_dir), data=str(data_dir)):
        with pytest.raises(EngineLockedError, match=rf"in use by another dotui engine \(pid {os.getpid()}\)"):
            async with Engine(objects=str(objects_dir), data=str(data_dir)):
                pass


async def test_an_unreadable_file_breaks_only_that_object_and_is_left_untouched(objects_dir, data_dir):
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        await e.env.Counter.get_by_name("bad").increment()
        await e.env.Counter.get_by_name("good").increment()
        bad_hex = e.env.Counter.id_from_name("bad").hex
    path = data_dir / "Counter" / f"{bad_hex}.json"
    path.write_bytes(b'{"storage": {"1": {"key": "n", "val')
    before = path.read_bytes()
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        with pytest.raises(BrokenObjectError, match=rf"cannot read .*{bad_hex}\.json.*left as it is"):
            await e.env.Counter.get_by_name("bad").increment()
        assert e.instance_info("Counter", e.env.Counter.id_from_name("bad"))["state"] == "broken"
        assert await e.env.Counter.get_by_name("good").increment() == 2
        with pytest.raises(BrokenObjectError):  # the next call tries again, and fails again
            await e.env.Counter.get_by_name("bad").peek()
    assert path.read_bytes() == before


CRASHER = textwrap.dedent("""
    import asyncio, os, sys
    sys.path.insert(0, {root!r})
    from dotui import Engine

    async def main():
        e = Engine(objects={objects!r}, data={data!r}, checkpoint_interval=3600)
        await e.start()
        c = e.env.Counter.get_by_name("a")
        for i in range(50):
            await c.increment()
        print("acked", flush=True)
        os._exit(0)  # a crash: no checkpoint, no clean close

    asyncio.run(main())
""")


def _crash_run(objects_dir, data_dir):
    code = CRASHER.format(root=str(ROOT), objects=str(objects_dir), data=str(data_dir))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "acked", out.stderr


async def test_after_a_crash_the_log_is_replayed_into_the_checkpoints(objects_dir, data_dir):
    _crash_run(objects_dir, data_dir)
    assert not (data_dir / "Counter").exists() or not os.listdir(data_dir / "Counter")
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        assert e.stats()["recovered_records"] == 50
        assert await e.env.Counter.get_by_name("a").peek() == 50


@pytest.mark.slow
async def test_a_torn_last_log_record_is_dropped_and_everything_before_recovered(objects_dir, data_dir):
    _crash_run(objects_dir, data_dir)
    segments = sorted((data_dir / "log").glob("*.log"))
    last = segments[-1]
    # A kill in the middle of an append: a header promising more bytes than follow.
    _, end, _ = read_records(str(last))
    with open(last, "r+b") as f:
        torn = (200).to_bytes(4, "little") + (12345).to_bytes(4, "little") + b'{"t":1,"o":[["Coun'
        f.seek(end)
        f.write(torn)
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        assert e.stats()["torn_bytes_dropped"] == len(torn)
        assert await e.env.Counter.get_by_name("a").peek() == 50
    # A flipped byte inside the last record: its checksum fails, the 49 before it stand.
    _crash_run(objects_dir, data_dir)  # now at 100
    last = sorted((data_dir / "log").glob("*.log"))[-1]
    _, end, _ = read_records(str(last))
    raw = bytearray(last.read_bytes())
    raw[end - 3] ^= 0xFF
    last.write_bytes(bytes(raw))
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 99


async def test_listing_reads_no_object_file(objects_dir, data_dir, monkeypatch):
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        for name in ["a", "b", "c"]:
            await e.env.Counter.get_by_name(name).increment(2)

    from dotui.engine.durability import checkpoint

    def no_reads(path):
        raise AssertionError(f"listing read {path}")

    monkeypatch.setattr(checkpoint, "load", no_reads)
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        listed = {i["name"]: i for i in e.instances()}
        assert set(listed) == {"a", "b", "c"}
        assert all(i["state"] == "hibernated" and i["keys"] == 1 and i["bytes"] > 0 for i in listed.values())
        monkeypatch.undo()


async def test_the_index_is_rebuilt_from_the_files_when_it_is_lost(objects_dir, data_dir):
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        await e.env.Counter.get_by_name("a").increment(2)
    lost = [data_dir / n for n in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm")]
    assert any(p.exists() for p in lost)
    for p in lost:
        if p.exists():
            os.remove(p)
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        assert [(i["name"], i["keys"]) for i in e.instances()] == [("a", 1)]


async def test_read_storage_shows_what_is_checkpointed_logged_and_pending(objects_dir, data_dir):
    async with Engine(objects=str(objects_dir), data=str(data_dir), checkpoint_interval=3600) as e:
        c = e.env.Counter.get_by_name("a")
        await c.increment()
        await e.checkpoint()
        await c.increment()
        view = e.read_storage("Counter", c.id)
        assert view["checkpoint"] == {"n": 1}
        assert view["logged"]["put"] == {"n": 2}
        assert view["values"] == {"n": 2}
        assert json.loads(json.dumps(view))  # JSON-compatible for front ends


async def test_listing_pages_in_name_order_and_looks_up_objects_by_key(objects_dir, data_dir):
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        for name in ["delta", "alpha", "charlie", "bravo"]:
            await e.env.Counter.get_by_name(name).increment()
        unnamed = e.env.Counter.new_unique_id()
        await e.env.Counter.get(unnamed).increment()
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        await e.env.Counter.get_by_name("echo").increment()  # live, the others hibernated
        names = [r["name"] for r in e.instances()]
        assert names == ["alpha", "bravo", "charlie", "delta", "echo", None]  # unnamed last
        assert [r["name"] for r in e.instances(offset=1, limit=2)] == ["bravo", "charlie"]
        assert [r["name"] for r in e.instances(state="live")] == ["echo"]
        assert len(e.instances(state="hibernated")) == 5
        assert e.count_instances() == {"total": 6, "live": 1, "hibernated": 5}
        alpha = e.env.Counter.id_from_name("alpha").hex
        got = e.instances_of([("Counter", alpha), ("Counter", "0" * 64), ("Nope", alpha)])
        assert [(r["name"], r["state"]) for r in got] == [("alpha", "hibernated")]
