"""A data folder whose entries are not what the engine made: links, a stolen lock, loose permissions,
entries of the wrong type (docs/trust.md, "The folder itself").

Each test plants what an attacker, or an unlucky clean-up, would, and checks what a user notices: nothing
outside the folder is written, the engine stops with an error naming the path and what to do, no
acknowledged write is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from dotui import DataFolderError, Engine, EngineLockedError
from dotui.cli import main
from dotui.server import auth
from tests.conftest import ROOT

pytestmark = pytest.mark.hostile

OUTSIDE = b"precious: not the engine's\n"


def _engine(objects_dir, data_dir, **kw):
    kw.setdefault("checkpoint_interval", 3600)
    return Engine(objects=str(objects_dir), data=str(data_dir), idle_timeout=60, **kw)


async def _populate(objects_dir, data_dir, names=("a",)) -> dict[str, str]:
    """A data folder holding a checkpoint of each named Counter (n = 1); name -> id hex."""
    async with _engine(objects_dir, data_dir) as e:
        for name in names:
            await e.env.Counter.get_by_name(name).increment()
        return {name: e.env.Counter.id_from_name(name).hex for name in names}


def _outside(tmp_path, name="outside.txt"):
    path = tmp_path / name
    path.write_bytes(OUTSIDE)
    return path


async def _start_fails(objects_dir, data_dir, *patterns: str) -> str:
    """Starting an engine on ``data_dir`` fails with a DataFolderError matching every pattern."""
    with pytest.raises(DataFolderError) as info:
        async with _engine(objects_dir, data_dir):
            pass
    message = str(info.value)
    for p in patterns:
        assert p in message, message
    return message


# ------------------------------------------------------------------ links are never followed
async def test_a_lock_that_is_a_link_is_refused_and_its_target_left_alone(objects_dir, data_dir, tmp_path):
    await _populate(objects_dir, data_dir)
    target = _outside(tmp_path)
    (data_dir / "lock").unlink()
    (data_dir / "lock").symlink_to(target)
    await _start_fails(objects_dir, data_dir, str(data_dir / "lock"), "symbolic link", "remove")
    assert target.read_bytes() == OUTSIDE


async def test_a_planted_checkpoint_temporary_is_never_written_through(objects_dir, data_dir, tmp_path):
    hx = (await _populate(objects_dir, data_dir))["a"]
    target = _outside(tmp_path)
    ckpt = data_dir / "Counter" / f"{hx}.json"
    (data_dir / "Counter" / f"{hx}.json.tmp").symlink_to(target)  # the name a temporary used to have
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").increment() == 2
        assert await e.checkpoint() is True
    assert target.read_bytes() == OUTSIDE
    assert not ckpt.is_symlink() and ckpt.is_file()
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 2


async def test_a_planted_index_temporary_is_never_written_through(objects_dir, data_dir, tmp_path):
    await _populate(objects_dir, data_dir)
    target = _outside(tmp_path)
    for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
        (data_dir / name).unlink(missing_ok=True)  # rebuilt at the next start, then written as a new file
    async with _engine(objects_dir, data_dir) as e:
        (data_dir / "index.sqlite.tmp").symlink_to(target)  # planted while it runs: no start-up check sees it
        await e.env.Counter.get_by_name("b").increment()
        assert await e.checkpoint() is True
    assert target.read_bytes() == OUTSIDE
    assert (data_dir / "index.sqlite").is_file() and not (data_dir / "index.sqlite").is_symlink()
    await _start_fails(objects_dir, data_dir, str(data_dir / "index.sqlite.tmp"), "symbolic link")


async def test_a_temporary_is_created_exclusively_under_a_name_no_one_can_guess(
    objects_dir, data_dir, tmp_path, monkeypatch
):
    """Even a link planted under the very name chosen is refused, not written through."""
    import secrets

    hx = (await _populate(objects_dir, data_dir))["a"]
    target = _outside(tmp_path)
    monkeypatch.setattr(secrets, "token_hex", lambda n=None: "guessed")
    # A checkpoint is written into a spare file (README.md, "On disk"), a new one made as a temporary is.
    (data_dir / "Counter" / f"{hx}.json.guessed.tmp").symlink_to(target)
    (data_dir / "Counter" / "spare" / "guessed.spare").symlink_to(target)
    async with _engine(objects_dir, data_dir) as e:
        await e.env.Counter.get_by_name("a").increment()
        assert await e.checkpoint() is False  # refused, reported, kept in the log
        assert e.stats()["checkpoint_failures"] >= 1
    assert target.read_bytes() == OUTSIDE
    monkeypatch.undo()
    (data_dir / "Counter" / f"{hx}.json.guessed.tmp").unlink()
    (data_dir / "Counter" / "spare" / "guessed.spare").unlink()
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 2


async def test_a_log_folder_that_is_a_link_is_refused_and_the_foreign_folder_untouched(objects_dir, data_dir, tmp_path):
    await _populate(objects_dir, data_dir)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for name in ("00000001.log", "00000002.log", "00000007.log"):
        (foreign / name).write_bytes(OUTSIDE)
    os.rename(data_dir / "log", tmp_path / "real-log")
    (data_dir / "log").symlink_to(foreign, target_is_directory=True)
    await _start_fails(objects_dir, data_dir, str(data_dir / "log"), "symbolic link")
    assert sorted(p.name for p in foreign.iterdir()) == ["00000001.log", "00000002.log", "00000007.log"]
    assert all(p.read_bytes() == OUTSIDE for p in foreign.iterdir())


def test_recover_refuses_a_log_folder_that_is_a_link(objects_dir, data_dir, tmp_path, capsys):
    asyncio.run(_populate(objects_dir, data_dir))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "00000001.log").write_bytes(b"\x05\0\0\0\0\0\0\0junk!" + b'{"t":1}' * 3)
    (foreign / "00000002.log").write_bytes(OUTSIDE)
    os.rename(data_dir / "log", tmp_path / "real-log")
    (data_dir / "log").symlink_to(foreign, target_is_directory=True)
    before = {p.name: p.read_bytes() for p in foreign.iterdir()}
    assert main(["recover", "--data", str(data_dir), "--yes"]) == 1
    err = capsys.readouterr().err
    assert str(data_dir / "log") in err and "symbolic link" in err
    assert {p.name: p.read_bytes() for p in foreign.iterdir()} == before


def _contents(folder) -> dict[str, bytes]:
    """Every file below ``folder`` (a class's folder holds ``spare/`` too), by its path there."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


async def test_a_namespace_folder_that_is_a_link_is_refused(objects_dir, data_dir, tmp_path):
    await _populate(objects_dir, data_dir)
    foreign = tmp_path / "foreign"
    os.rename(data_dir / "Counter", foreign)
    (data_dir / "Counter").symlink_to(foreign, target_is_directory=True)
    before = _contents(foreign)
    await _start_fails(objects_dir, data_dir, str(data_dir / "Counter"), "symbolic link")
    assert _contents(foreign) == before


async def test_a_namespace_folder_swapped_for_a_link_while_running_is_neither_read_nor_written(
    objects_dir, data_dir, tmp_path
):
    from dotui import BrokenObjectError

    await _populate(objects_dir, data_dir, names=("a", "b"))
    foreign = tmp_path / "foreign"
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("b").increment() == 2  # b is live; a sleeps on disk
        os.rename(data_dir / "Counter", foreign)
        (data_dir / "Counter").symlink_to(foreign, target_is_directory=True)
        before = _contents(foreign)
        with pytest.raises(BrokenObjectError, match=rf"{data_dir / 'Counter'}.*symbolic link"):
            await e.env.Counter.get_by_name("a").increment()
        assert await e.checkpoint() is False  # b's write is kept in the log, not written through the link
        assert _contents(foreign) == before
        (data_dir / "Counter").unlink()
        os.rename(foreign, data_dir / "Counter")
    async with _engine(objects_dir, data_dir) as e:
        assert [await e.env.Counter.get_by_name(n).peek() for n in "ab"] == [1, 2]


async def test_a_checkpoint_that_is_a_link_breaks_that_object_only_and_is_never_read(objects_dir, data_dir, tmp_path):
    from dotui import BrokenObjectError

    ids = await _populate(objects_dir, data_dir, names=("a", "b"))
    ckpt = data_dir / "Counter" / f"{ids['a']}.json"
    os.rename(ckpt, tmp_path / "moved.json")
    ckpt.symlink_to(tmp_path / "moved.json")
    async with _engine(objects_dir, data_dir) as e:
        with pytest.raises(BrokenObjectError, match=rf"{ckpt}.*symbolic link"):
            await e.env.Counter.get_by_name("a").increment()
        assert await e.env.Counter.get_by_name("b").increment() == 2
    assert ckpt.is_symlink()


@pytest.mark.parametrize(
    "name", ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "index.json", "index.journal"]
)
async def test_an_index_file_that_is_a_link_is_refused(objects_dir, data_dir, tmp_path, name):
    await _populate(objects_dir, data_dir)
    target = _outside(tmp_path)
    (data_dir / name).unlink(missing_ok=True)
    (data_dir / name).symlink_to(target)
    await _start_fails(objects_dir, data_dir, str(data_dir / name), "symbolic link")
    assert target.read_bytes() == OUTSIDE


def test_the_token_temporary_is_never_written_through_a_planted_link(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    target = _outside(tmp_path)
    (data / f"serve.token.{os.getpid()}.tmp").symlink_to(target)
    path = auth.write_token(str(data), "the-token")
    assert target.read_bytes() == OUTSIDE
    assert open(path).read().strip() == "the-token" and not os.path.islink(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_token_file_that_is_a_link_is_not_read(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "serve.token").symlink_to(_outside(tmp_path))
    with pytest.raises(auth.TokenNotFound, match=r"serve.token.*symbolic link"):
        auth.find_token(data=str(data))


# ------------------------------------------------------------------ the lock belongs to the folder
HOLDER = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, {root!r})
    from dotui import Engine

    async def main():
        async with Engine(objects={objects!r}, data={data!r}, checkpoint_interval=3600) as e:
            c = e.env.Counter.get_by_name("a")
            for _ in range(250):
                await c.increment()
            print("acked", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            print("n", await c.peek(), flush=True)

    asyncio.run(main())
""")


async def test_deleting_the_lock_file_does_not_let_a_second_engine_in(objects_dir, data_dir):
    code = HOLDER.format(root=str(ROOT), objects=str(objects_dir), data=str(data_dir))
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 60)
        assert line.strip() == "acked", holder.stderr.read() if holder.poll() is not None else line
        (data_dir / "lock").unlink()  # a clean-up of "a stale pid file"
        with pytest.raises(EngineLockedError, match=rf"{data_dir}.*in use by another dotui engine"):
            async with _engine(objects_dir, data_dir):
                pass
        assert main(["recover", "--data", str(data_dir), "--yes"]) == 1
        out, err = holder.communicate("\n", timeout=60)
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGKILL)
            holder.wait(10)
    assert holder.returncode == 0, err
    assert "n 250" in out
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 250


async def test_the_lock_names_the_holder_pid_and_survives_the_pid_file_going(objects_dir, data_dir):
    async with _engine(objects_dir, data_dir):
        with pytest.raises(EngineLockedError, match=rf"pid {os.getpid()}"):
            async with _engine(objects_dir, data_dir):
                pass
        (data_dir / "lock").unlink()
        with pytest.raises(EngineLockedError, match=r"pid unknown"):
            async with _engine(objects_dir, data_dir):
                pass


# ------------------------------------------------------------------ private whatever the umask
def _modes(root) -> dict[str, int]:
    out = {".": stat.S_IMODE(os.lstat(root).st_mode)}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = stat.S_IMODE(os.lstat(p).st_mode)
    return out


@pytest.fixture
def open_umask():
    old = os.umask(0)
    yield
    os.umask(old)


async def test_the_folder_and_its_files_are_private_whatever_the_umask(objects_dir, data_dir, open_umask):
    async with _engine(objects_dir, data_dir) as e:
        for name in "abc":
            await e.env.Counter.get_by_name(name).increment()
        await e.checkpoint()
        await e.env.Counter.get_by_name("d").increment()
        await e.checkpoint()  # a row written into the index
        modes = _modes(data_dir)  # while running: the lock, a live log segment, the index's -wal and -shm
    modes.update(_modes(data_dir))
    kinds = {os.path.relpath(os.path.join(d, n), data_dir): "dir" for d, dirs, _ in os.walk(data_dir) for n in dirs}
    assert {"lock", "index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "Counter", "log"} <= modes.keys()
    assert any(k.startswith("log" + os.sep) for k in modes) and any(k.endswith(".json") for k in modes)
    wrong = {k: oct(m) for k, m in modes.items() if m != (0o700 if k == "." or k in kinds else 0o600)}
    assert wrong == {}


async def test_a_looser_data_folder_is_tightened_with_a_warning(objects_dir, data_dir, caplog):
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    async with _engine(objects_dir, data_dir) as e:
        await e.env.Counter.get_by_name("a").increment()
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert any(str(data_dir) in r.getMessage() and "0700" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ entries of the wrong type
async def test_a_folder_named_like_a_stale_temporary_is_a_clear_start_up_error(objects_dir, data_dir):
    hx = (await _populate(objects_dir, data_dir))["a"]
    async with _engine(objects_dir, data_dir) as e:
        await e.env.Counter.get_by_name("a").increment()
        await e.crash()  # the next start replays the log, and clears stale temporaries
    bad = data_dir / "Counter" / f"{hx}.json.tmp"
    bad.mkdir()
    (bad / "keep").write_bytes(OUTSIDE)
    await _start_fails(objects_dir, data_dir, str(bad), "is a folder", "move it")
    assert (bad / "keep").read_bytes() == OUTSIDE


async def test_a_segment_that_is_a_folder_is_a_clear_start_up_error(objects_dir, data_dir):
    await _populate(objects_dir, data_dir)
    (data_dir / "log" / "00000009.log").mkdir()
    await _start_fails(objects_dir, data_dir, str(data_dir / "log" / "00000009.log"), "is a folder", "move it")


async def test_a_log_that_is_a_file_is_a_clear_start_up_error(objects_dir, data_dir):
    data_dir.mkdir()
    (data_dir / "log").write_bytes(OUTSIDE)
    await _start_fails(objects_dir, data_dir, str(data_dir / "log"), "is a file", "move it")
    assert (data_dir / "log").read_bytes() == OUTSIDE


async def test_a_stray_file_in_the_log_folder_is_left_alone(objects_dir, data_dir):
    await _populate(objects_dir, data_dir)
    (data_dir / "log" / "notes.log").write_bytes(OUTSIDE)
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").increment() == 2
        await e.crash()
    async with _engine(objects_dir, data_dir) as e:
        assert await e.env.Counter.get_by_name("a").peek() == 2
    assert (data_dir / "log" / "notes.log").read_bytes() == OUTSIDE


async def test_a_file_where_a_namespace_folder_should_be_is_a_clear_start_up_error(objects_dir, data_dir):
    data_dir.mkdir()
    (data_dir / "Counter").write_bytes(OUTSIDE)
    await _start_fails(objects_dir, data_dir, str(data_dir / "Counter"), "is a file", "Counter")
    assert (data_dir / "Counter").read_bytes() == OUTSIDE


@pytest.mark.parametrize("name", ["index.sqlite", "index.sqlite-wal", "index.json", "index.journal"])
async def test_an_index_file_that_is_a_folder_is_a_clear_start_up_error(objects_dir, data_dir, name):
    await _populate(objects_dir, data_dir)
    (data_dir / name).unlink(missing_ok=True)
    (data_dir / name).mkdir()
    await _start_fails(objects_dir, data_dir, str(data_dir / name), "is a folder")


@pytest.mark.parametrize("name", ["lock", "index.sqlite", "index.json"])
async def test_a_fifo_in_the_folder_is_refused_not_waited_on(objects_dir, data_dir, name):
    await _populate(objects_dir, data_dir)
    (data_dir / name).unlink(missing_ok=True)
    os.mkfifo(data_dir / name)
    with pytest.raises(DataFolderError, match=rf"{data_dir / name}.*FIFO"):
        async with asyncio.timeout(30):
            async with _engine(objects_dir, data_dir):
                pass


async def test_a_checkpoint_that_is_a_fifo_breaks_that_object_and_nothing_waits(objects_dir, data_dir):
    from dotui import BrokenObjectError

    hx = (await _populate(objects_dir, data_dir))["a"]
    ckpt = data_dir / "Counter" / f"{hx}.json"
    ckpt.unlink()
    os.mkfifo(ckpt)
    async with asyncio.timeout(30):
        async with _engine(objects_dir, data_dir) as e:
            with pytest.raises(BrokenObjectError, match=rf"{ckpt}.*FIFO"):
                await e.env.Counter.get_by_name("a").increment()
