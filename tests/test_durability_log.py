"""Recovery from a damaged commit log: only a torn last record may be dropped;
anything else stops the engine, touching nothing, until `dotui recover` is run."""

import os
import subprocess
import sys
import textwrap

import pytest

from dotui import Engine
from dotui.cli import main
from dotui.engine.durability.logscan import read_records
from dotui.engine.errors import LogCorruptError
from tests.conftest import ROOT

CRASHER = textwrap.dedent("""
    import asyncio, os, sys
    sys.path.insert(0, {root!r})
    from dotui import Engine

    async def main():
        e = Engine(objects={objects!r}, data={data!r}, checkpoint_interval=3600)
        await e.start()
        for i in range({n}):
            await e.env.Counter.get_by_name({names!r}[i % {count}]).increment()
        print("acked", flush=True)
        os._exit(0)  # a crash: no checkpoint, no clean close

    asyncio.run(main())
""")


def _crash_run(objects_dir, data_dir, n=20, names=("a", "b")):
    code = CRASHER.format(
        root=str(ROOT), objects=str(objects_dir), data=str(data_dir), n=n, names=list(names), count=len(names)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "acked", out.stderr


def _offsets(path) -> list[int]:
    """Where each record of a segment starts."""
    raw = open(path, "rb").read()
    out, pos = [], 0
    while pos + 8 <= len(raw):
        length = int.from_bytes(raw[pos : pos + 4], "little")
        if length == 0:
            break
        out.append(pos)
        pos += 8 + length
    return out


def _snapshot(root) -> dict[str, bytes]:
    return {
        os.path.join(d, f): open(os.path.join(d, f), "rb").read()
        for d, _, fs in os.walk(root)
        for f in fs
        if f != "lock"
    }


def _flip(path, offset):
    raw = bytearray(open(path, "rb").read())
    raw[offset] ^= 0xFF
    open(path, "wb").write(bytes(raw))


async def _peek(objects_dir, data_dir, name):
    async with Engine(objects=str(objects_dir), data=str(data_dir)) as e:
        return await e.env.Counter.get_by_name(name).peek()


async def test_a_corrupt_record_in_the_middle_of_a_segment_stops_recovery_touching_nothing(objects_dir, data_dir):
    _crash_run(objects_dir, data_dir)
    segment = sorted((data_dir / "log").glob("*.log"))[-1]
    tenth = _offsets(segment)[10]
    _flip(segment, tenth + 20)  # a byte inside the 11th record's payload
    before = _snapshot(data_dir)
    with pytest.raises(LogCorruptError) as info:
        async with Engine(objects=str(objects_dir), data=str(data_dir)):
            pass
    message = str(info.value)
    assert str(segment) in message and f"byte {tenth}" in message and "dotui recover" in message
    assert info.value.path == str(segment) and info.value.offset == tenth
    assert _snapshot(data_dir) == before  # every file as it was


async def test_a_torn_record_in_a_segment_that_is_not_the_last_is_corruption(objects_dir, data_dir):
    _crash_run(objects_dir, data_dir)
    first = sorted((data_dir / "log").glob("*.log"))[-1]
    _, end, _ = read_records(str(first))
    raw = first.read_bytes()
    later = first.with_name(f"{int(first.stem) + 1:08d}.log")
    later.write_bytes(raw[_offsets(first)[0] : _offsets(first)[1]])  # one valid record after it
    with open(first, "r+b") as f:
        f.seek(end)
        f.write((500).to_bytes(4, "little") + (1).to_bytes(4, "little") + b'{"t":1,"o":[[')
    before = _snapshot(data_dir)
    with pytest.raises(LogCorruptError, match=rf"{first}.*byte {end}"):
        async with Engine(objects=str(objects_dir), data=str(data_dir)):
            pass
    assert _snapshot(data_dir) == before


async def test_a_torn_last_record_is_still_dropped_and_truncated(objects_dir, data_dir):
    _crash_run(objects_dir, data_dir)
    segment = sorted((data_dir / "log").glob("*.log"))[-1]
    _, end, _ = read_records(str(segment))
    with open(segment, "r+b") as f:
        f.seek(end)
        f.write((500).to_bytes(4, "little") + (1).to_bytes(4, "little") + b'{"t":1,"o":[[')
    assert await _peek(objects_dir, data_dir, "a") == 10


async def test_dotui_recover_says_what_it_would_drop_then_drops_it(objects_dir, data_dir, capsys):
    _crash_run(objects_dir, data_dir)
    segment = sorted((data_dir / "log").glob("*.log"))[-1]
    tenth = _offsets(segment)[10]
    _flip(segment, tenth + 20)
    before = _snapshot(data_dir)

    assert main(["recover", "--data", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert str(segment) in out and f"byte {tenth}" in out
    assert "9 readable records" in out  # the 9 after the damaged one (20 in all)
    assert "Counter a" in out and "Counter b" in out
    assert "--yes" in out
    assert _snapshot(data_dir) == before  # a dry run changes nothing

    assert main(["recover", "--data", str(data_dir), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "dropped" in out
    # Everything before the damage stands: 10 records, 5 increments each.
    assert await _peek(objects_dir, data_dir, "a") == 5
    assert await _peek(objects_dir, data_dir, "b") == 5


def test_dotui_recover_on_a_sound_log_changes_nothing(objects_dir, data_dir, capsys):
    _crash_run(objects_dir, data_dir)
    before = _snapshot(data_dir)
    assert main(["recover", "--data", str(data_dir)]) == 0
    assert "nothing to drop" in capsys.readouterr().out
    assert _snapshot(data_dir) == before


def test_the_start_up_error_tells_the_user_to_run_dotui_recover(objects_dir, data_dir, capsys):
    _crash_run(objects_dir, data_dir)
    segment = sorted((data_dir / "log").glob("*.log"))[-1]
    _flip(segment, _offsets(segment)[3] + 20)
    assert main(["--objects", str(objects_dir), "--data", str(data_dir), "-c", "ls"]) == 1
    err = capsys.readouterr().err
    assert "commit log is damaged" in err and "dotui recover" in err


def test_recover_is_in_dotui_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "recover" in capsys.readouterr().out


async def test_a_kept_segment_loses_its_torn_tail_so_the_next_start_is_not_stopped(objects_dir, data_dir):
    from dotui.engine.ids import IdFactory

    _crash_run(objects_dir, data_dir)  # a: 10, b: 10, all in the log
    segment = sorted((data_dir / "log").glob("*.log"))[-1]
    _, end, _ = read_records(str(segment))
    with open(segment, "r+b") as f:
        f.seek(end)
        f.write((500).to_bytes(4, "little") + (1).to_bytes(4, "little") + b'{"t":1,"o":[[')
    damaged = data_dir / "Counter" / f"{IdFactory('Counter').from_name('a').hex}.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"{")  # a's checkpoint unreadable: the segment holding its writes is kept
    _crash_run(objects_dir, data_dir, n=4, names=["b"])  # then a newer segment after it
    assert len(list((data_dir / "log").glob("*.log"))) == 2
    assert await _peek(objects_dir, data_dir, "b") == 14
    damaged.unlink()  # the user moves the damaged file away
    assert await _peek(objects_dir, data_dir, "a") == 10
