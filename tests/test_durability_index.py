"""The index (index.sqlite): read a page at a time, kept consistent with the commit log through
kills and disk faults; a torn or damaged index is never trusted partially, it is rebuilt from the
checkpoints and the log; an older engine's index.json/index.journal is read once and replaced."""

import asyncio
import errno
import json
import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zlib

import pytest

from dotui import Engine
from dotui.engine.durability.index import Index, order
from dotui.engine.durability.index_store import Store
from dotui.engine.ids import IdFactory
from tests.conftest import ROOT

SIDE = ("index.sqlite-wal", "index.sqlite-shm")


async def _listed(objects_dir, data_dir) -> list[tuple[str, int]]:
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        return sorted((i["name"], i["keys"]) for i in e.instances())


async def _fill(objects_dir, data_dir, names) -> None:
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        for name in names:
            await e.env.Counter.get_by_name(name).increment()


# ------------------------------------------------------------------ paging: the merge of file and memory
def _model_check(index: Index, model: dict, rng: random.Random) -> None:
    everything = sorted(model, key=lambda k: order(k[0], model[k], k[1]))
    for ns in (None, "A", "B"):
        want = [k for k in everything if ns is None or k[0] == ns]
        assert index.count(ns) == len(want)
        for start in {0, 1, len(want) // 2, max(0, len(want) - 3), len(want), rng.randrange(len(want) + 2)}:
            got = [(n, hx) for n, hx, _ in _take(index.ordered(ns, start), 7)]
            assert got == want[start : start + 7], (ns, start)


def _take(it, n):
    out = []
    for x in it:
        out.append(x)
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("seed", range(6))
def test_pages_merge_the_file_and_the_entries_in_memory_in_listing_order(tmp_path, seed):
    """Objects added, named later (their place in the order moves), written in rounds (some failing),
    at every moment: each page at any offset is the model's, and the counts too."""
    rng = random.Random(seed)
    ids = {ns: IdFactory(ns) for ns in "AB"}
    index = Index(str(tmp_path / "index.sqlite"))
    assert not index.load()
    index.rebuild_from_files(str(tmp_path))
    model: dict[tuple[str, str], str | None] = {}
    unnamed: list[tuple[str, str, str]] = []
    for _ in range(40):
        for _ in range(rng.randrange(1, 30)):
            ns = rng.choice("AB")
            name = f"n{rng.randrange(400):03d}"
            oid = ids[ns].from_name(name)
            if (ns, oid.hex) in model:
                continue
            if rng.random() < 0.3:  # known by its id first (#hex): no name yet
                index.ensure(ns, oid.hex, None)
                model[(ns, oid.hex)] = None
                unnamed.append((ns, oid.hex, name))
            else:
                index.ensure(ns, oid.hex, name).keys = rng.randrange(5)
                model[(ns, oid.hex)] = name
        if unnamed and rng.random() < 0.5:  # then reached by its name
            ns, hx, name = unnamed.pop(rng.randrange(len(unnamed)))
            index.ensure(ns, hx, name)
            model[(ns, hx)] = name
        _model_check(index, model, rng)
        rows = index.take_changes()
        snap = index.all_rows() if index.wants_snapshot(len(rows)) else None
        if rng.random() < 0.2:  # the round fails: written next time
            index.restore_changes(snap if snap is not None else rows)
        else:
            index.persist(rows, snap)
            _model_check(index, model, rng)  # written, not yet known to be: the file's new rows unseen
            index.persisted(rows, snap)
        _model_check(index, model, rng)
        everything = sorted(model, key=lambda k: order(k[0], model[k], k[1]))
        for ns in (None, "A"):  # a whole listing: many batches, each after the last key of the one before
            want = [k for k in everything if ns is None or k[0] == ns]
            start = rng.randrange(len(want) + 1)
            assert [(n, hx) for n, hx, _ in index.ordered(ns, start)] == want[start:], (ns, start)
    index.close()


def test_a_page_reads_the_page_not_the_index(tmp_path):
    """After a start on 20,000 objects the index holds nothing of them in memory, and a page reads
    only the rows it shows (plus one batch of the order index)."""
    rows = [
        ["Counter", IdFactory("Counter").from_name(f"u{i:05d}").hex, f"u{i:05d}", 1, 10, None, 1.7e9, 0, 0]
        for i in range(20_000)
    ]
    seed = Index(str(tmp_path / "index.sqlite"))
    seed.persist([], rows)
    seed.close()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = Index(str(tmp_path / "index.sqlite"))
    assert index.load() and index.count() == 20_000 and index.count("Counter") == 20_000
    held = tracemalloc.get_traced_memory()[0] - before
    page = [name for _, _, e in _take(index.ordered("Counter", 10_000), 50) for name in [e.name]]
    tracemalloc.stop()
    assert page == [f"u{i:05d}" for i in range(10_000, 10_050)]
    assert held < 250 * 20_000 / 100, held  # nothing per object: a few KiB of connection and counts
    index.close()


# ------------------------------------------------------------------ kills and faults
KILLED_MID_ROUND = textwrap.dedent("""
    import asyncio, os, sys
    sys.path.insert(0, {root!r})
    from dotui import Engine

    async def main():
        e = Engine(objects={objects!r}, data={data!r}, checkpoint_interval=3600)
        await e.start()
        print("started", flush=True)
        i = 0
        while True:
            names = [f"o{{i + j:05d}}" for j in range(50)]
            await asyncio.gather(*(e.env.Counter.get_by_name(n).increment() for n in names))
            print(" ".join(names), flush=True)  # acknowledged: durable in the log
            i += 50
            await e.checkpoint()  # the index rows of the round, then the log dropped

    asyncio.run(main())
""")


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.9, 1.6])
async def test_a_kill_at_any_moment_of_the_rounds_loses_no_acknowledged_object(objects_dir, data_dir, delay):
    code = KILLED_MID_ROUND.format(root=str(ROOT), objects=str(objects_dir), data=str(data_dir))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)  # its start (imports are slow on a busy machine)
        assert ready and proc.stdout.readline() == "started\n", proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(delay)  # then rounds: killed somewhere in one
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    acked = {n for line in out.splitlines() for n in line.split()}
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        listed = {i["name"]: i["keys"] for i in e.instances()}
        assert acked <= set(listed), sorted(acked - set(listed))[:5]  # (none acknowledged yet: holds too)
        assert e.count_instances()["total"] == len(listed)
        assert all(listed[n] == 1 for n in acked)
        for n in sorted(acked)[-3:]:
            assert await e.env.Counter.get_by_name(n).peek() == 1


@pytest.mark.parametrize("op", ["write", "fsync"])
async def test_an_index_fault_for_good_fails_every_round_and_loses_nothing(objects_dir, data_dir, disk_faults, op):
    await _fill(objects_dir, data_dir, ["a"])
    async with Engine(objects=str(objects_dir), data=str(data_dir), checkpoint_interval=3600) as e:
        fault = disk_faults.inject(op, errno.EIO, times=None, match=f"{os.sep}index.sqlite")
        await e.env.Counter.get_by_name("b").increment()
        assert await e.checkpoint() is False
        await e.env.Counter.get_by_name("c").increment()
        assert await e.checkpoint() is False
        assert fault.hits >= 2
        assert sorted(i["name"] for i in e.instances()) == ["a", "b", "c"]  # listed from memory meanwhile
        assert list((data_dir / "log").glob("*.log"))  # b's and c's rows are only in the log
        await e.crash()  # as a kill: the rows never reached the index file
    disk_faults.clear()
    assert await _listed(objects_dir, data_dir) == [("a", 1), ("b", 1), ("c", 1)]  # from the log replayed


async def test_an_index_fault_once_is_retried_by_the_next_round(objects_dir, data_dir, disk_faults):
    await _fill(objects_dir, data_dir, ["a"])
    async with Engine(objects=str(objects_dir), data=str(data_dir), checkpoint_interval=3600) as e:
        disk_faults.inject("write", errno.ENOSPC, match=f"{os.sep}index.sqlite")
        await e.env.Counter.get_by_name("b").increment()
        assert await e.checkpoint() is False
        assert await e.checkpoint() is True
        assert not e.durable.pending
    assert await _listed(objects_dir, data_dir) == [("a", 1), ("b", 1)]


async def test_an_index_that_cannot_be_opened_is_rebuilt(objects_dir, data_dir, disk_faults, caplog):
    await _fill(objects_dir, data_dir, ["a", "b"])
    disk_faults.inject("open", errno.EIO, match=f"{os.sep}index.sqlite")
    assert await _listed(objects_dir, data_dir) == [("a", 1), ("b", 1)]
    assert "rebuilding it from the checkpoints" in caplog.text


async def test_a_read_fault_while_listing_rebuilds_the_index_and_the_listing_is_whole(
    objects_dir, data_dir, disk_faults
):
    await _fill(objects_dir, data_dir, [f"u{i}" for i in range(30)])
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        disk_faults.inject("read", errno.EIO, match=f"{os.sep}index.sqlite", skip=1)
        assert len(e.instances()) == 30
        assert e.count_instances()["total"] == 30
        assert await e.checkpoint()
    assert len(await _listed(objects_dir, data_dir)) == 30


async def test_the_whole_table_is_read_off_the_loop_and_calls_go_on_meanwhile(objects_dir, data_dir, monkeypatch):
    """The front ends' whole table (the TUI asks for it) reads 100,000s of rows: while it is read, the
    engine answers calls; the table is whole when it comes, and holds the objects in memory as they were."""
    await _fill(objects_dir, data_dir, [f"u{i}" for i in range(40)])
    reading, go_on = threading.Event(), threading.Event()
    real = Store.table

    def slow_table(self, ns):
        reading.set()
        assert go_on.wait(20), "the call made meanwhile never came"
        return real(self, ns)

    monkeypatch.setattr(Store, "table", slow_table)
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        awake = e.env.Counter.get_by_name("u0")
        assert await awake.increment() == 2  # in memory: described by itself, not by its index row
        table = asyncio.ensure_future(e.instance_table("Counter"))
        assert await asyncio.to_thread(reading.wait, 20)
        assert await asyncio.wait_for(e.env.Counter.get_by_name("new").increment(), 20) == 1  # while it reads
        go_on.set()
        got = await asyncio.wait_for(table, 20)
    names = sorted(got["hibernated"]["Counter"]["name"]) + [o["name"] for o in got["objects"]]
    assert sorted(names) == sorted(f"u{i}" for i in range(40))  # as the engine was when it was asked
    assert [o["name"] for o in got["objects"] if o["name"] == "u0"] == ["u0"]  # once, as the object in memory
    assert "u0" not in got["hibernated"]["Counter"]["name"]


async def test_a_read_fault_while_making_the_whole_table_rebuilds_the_index_and_the_table_is_whole(
    objects_dir, data_dir, disk_faults
):
    await _fill(objects_dir, data_dir, [f"u{i}" for i in range(30)])
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        disk_faults.inject("read", errno.EIO, match=f"{os.sep}index.sqlite")
        table = await e.instance_table()
        assert sorted(table["hibernated"]["Counter"]["name"]) == sorted(f"u{i}" for i in range(30))
        assert await e.checkpoint()
    assert len(await _listed(objects_dir, data_dir)) == 30


# ------------------------------------------------------------------ damage: never trusted partially
@pytest.mark.parametrize("damage", ["truncated", "garbage header", "zeroed middle", "empty", "another database"])
async def test_a_damaged_index_file_is_rebuilt_from_the_checkpoints(objects_dir, data_dir, damage, caplog):
    await _fill(objects_dir, data_dir, [f"u{i:03d}" for i in range(300)])
    path = data_dir / "index.sqlite"
    assert path.exists() and not any((data_dir / s).exists() for s in SIDE)  # closed cleanly: one file
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage header":
        path.write_bytes(b"\xff" * 100 + raw[100:])
    elif damage == "zeroed middle":
        path.write_bytes(raw[:4096] + b"\0" * (len(raw) - 8192) + raw[-4096:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        import sqlite3

        path.unlink()
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE objects (x)")
        db.commit()
        db.close()
    assert len(await _listed(objects_dir, data_dir)) == 300
    assert "cannot be trusted" in caplog.text
    caplog.clear()
    assert len(await _listed(objects_dir, data_dir)) == 300  # written back whole
    assert "cannot be trusted" not in caplog.text


async def test_a_write_ahead_log_without_its_database_is_never_applied(objects_dir, data_dir):
    await _fill(objects_dir, data_dir, ["a", "b"])
    (data_dir / "index.sqlite").unlink()
    (data_dir / "index.sqlite-wal").write_bytes(os.urandom(8192))  # a log left of some other file
    assert await _listed(objects_dir, data_dir) == [("a", 1), ("b", 1)]
    await _fill(objects_dir, data_dir, ["c"])
    assert await _listed(objects_dir, data_dir) == [("a", 1), ("b", 1), ("c", 1)]


async def test_a_kill_while_a_new_index_file_is_built_leaves_the_old_one_or_none(objects_dir, data_dir):
    """Rebuilt (its file lost), then killed while the new file is being written: a temporary is left,
    removed at the next start; the listing is whole."""
    await _fill(objects_dir, data_dir, ["a", "b"])
    (data_dir / "index.sqlite").unlink()
    tmp = data_dir / "index.sqlite.0123456789abcdef.tmp"
    tmp.write_bytes(b"half a database")
    assert await _listed(objects_dir, data_dir) == [("a", 1), ("b", 1)]
    assert not tmp.exists()


# ------------------------------------------------------------------ an older engine's files
def _line(doc) -> bytes:
    text = json.dumps(doc, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(text), text)


async def test_an_older_engines_index_is_read_once_then_replaced(objects_dir, data_dir):
    await _fill(objects_dir, data_dir, ["a", "b"])
    ids = IdFactory("Counter")
    a, b, c = (ids.from_name(n).hex for n in "abc")
    for n in ("index.sqlite", *SIDE):
        (data_dir / n).unlink(missing_ok=True)
    (data_dir / "index.json").write_text(
        json.dumps({"version": 1, "generation": 3, "objects": {"Counter": {a: ["a", 1, 6, None, 1.7e9, 5, 1]}}})
    )
    (data_dir / "index.journal").write_bytes(
        _line({"journal": 1, "base": 3})
        + _line(["Counter", b, "b", 1, 6, None, 1.7e9, 2, 0])
        + _line(["Counter", c, "c", 4, 60, None, 1.7e9])
        + b'["Counter","'
    )  # a torn last line
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        listed = {i["name"]: (i["keys"], i["calls"]) for i in e.instances()}
        assert listed == {"a": (1, 5), "b": (1, 2), "c": (4, 0)}  # their counters kept
        await e.env.Counter.get_by_name("d").increment()
        assert await e.checkpoint()
    assert not (data_dir / "index.json").exists() and not (data_dir / "index.journal").exists()
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        assert {i["name"]: i["calls"] for i in e.instances() if i["name"] != "d"} == {"a": 5, "b": 2, "c": 0}


async def test_the_index_write_ahead_log_stays_bounded_over_many_rounds(objects_dir, data_dir, monkeypatch):
    """Each round holds a snapshot of the index while it writes: SQLite can then never start its log
    over, so without a fold between rounds the -wal grew by every round for good (600 MB in 150 s of
    bench/longrun.py; here 200 new objects a round add ~100-190 KB, 24 rounds ~4 MB)."""
    from dotui.engine.durability import index_store

    monkeypatch.setattr(index_store, "WAL_LIMIT", 256 << 10)
    wal = data_dir / "index.sqlite-wal"
    sizes = []
    async with Engine(objects=str(objects_dir), data=str(data_dir), checkpoint_interval=3600) as e:
        for r in range(24):
            for i in range(200):
                await e.env.Counter.get_by_name(f"o{r:02}-{i:03}").increment()
            assert await e.checkpoint() is True
            sizes.append(wal.stat().st_size if wal.exists() else 0)
    assert max(sizes) < 1 << 20, sizes  # folded whenever it passed the limit
    listed = await _listed(objects_dir, data_dir)
    assert len(listed) == 24 * 200 and all(n == 1 for _, n in listed)  # nothing lost by a fold
