"""The index (index.json + index.journal): a torn or damaged index is never trusted
partially; it is rebuilt from the checkpoints and the log."""

import os
import subprocess
import sys
import textwrap

import pytest

from dotui import Engine
from tests.conftest import ROOT

CHECKPOINT_THEN_CRASH = textwrap.dedent("""
    import asyncio, os, sys
    sys.path.insert(0, {root!r})
    from dotui import Engine

    async def main():
        e = Engine(objects={objects!r}, data={data!r}, checkpoint_interval=3600)
        await e.start()
        for name in {names!r}:
            await e.env.Counter.get_by_name(name).increment()
        await e.checkpoint()  # rows in the journal, the log dropped
        if {snapshot!r}:
            e.index.persist([], e.index.all_rows())  # a snapshot (index.json) of every row
        print("acked", flush=True)
        os._exit(0)

    asyncio.run(main())
""")


def _checkpoint_then_crash(objects_dir, data_dir, names, snapshot=False):
    code = CHECKPOINT_THEN_CRASH.format(root=str(ROOT), objects=str(objects_dir), data=str(data_dir), names=names,
                                        snapshot=snapshot)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "acked", out.stderr


async def _names(objects_dir, data_dir) -> list[str]:
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        return sorted(i["name"] for i in e.instances())


@pytest.mark.slow
async def test_a_torn_last_journal_row_hides_no_row_appended_after_it(objects_dir, data_dir):
    _checkpoint_then_crash(objects_dir, data_dir, ["a", "b"])
    journal = data_dir / "index.journal"
    assert journal.exists()
    with open(journal, "ab") as f:
        f.write(b'["Counter","')  # a kill in the middle of an append
    _checkpoint_then_crash(objects_dir, data_dir, ["c"])
    _checkpoint_then_crash(objects_dir, data_dir, ["d"])
    assert await _names(objects_dir, data_dir) == ["a", "b", "c", "d"]


async def test_an_empty_journal_without_a_snapshot_is_rebuilt_from_the_checkpoints(objects_dir, data_dir):
    _checkpoint_then_crash(objects_dir, data_dir, ["a", "b"])
    for p in (data_dir / "index.json", data_dir / "index.journal"):
        if p.exists():
            os.remove(p)
    (data_dir / "index.journal").write_bytes(b"")
    assert await _names(objects_dir, data_dir) == ["a", "b"]


async def test_a_damaged_snapshot_beside_a_journal_is_rebuilt_from_the_checkpoints(objects_dir, data_dir):
    _checkpoint_then_crash(objects_dir, data_dir, ["a"], snapshot=True)  # a in the snapshot only
    assert (data_dir / "index.json").exists() and not (data_dir / "index.journal").exists()
    _checkpoint_then_crash(objects_dir, data_dir, ["b"])  # b in the journal only
    assert (data_dir / "index.journal").exists()
    (data_dir / "index.json").write_bytes(b'{"version": 1, "objects": {"Coun')
    assert await _names(objects_dir, data_dir) == ["a", "b"]


async def test_a_damaged_journal_row_followed_by_good_rows_is_not_trusted(objects_dir, data_dir):
    _checkpoint_then_crash(objects_dir, data_dir, ["a", "b"])
    _checkpoint_then_crash(objects_dir, data_dir, ["c"])
    journal = data_dir / "index.journal"
    lines = journal.read_bytes().split(b"\n")
    assert len(lines) > 3
    lines[1] = lines[1][:-1] + b"x"  # a damaged early row, good rows after it
    journal.write_bytes(b"\n".join(lines))
    assert await _names(objects_dir, data_dir) == ["a", "b", "c"]
