"""A wrangler project's migrations move a renamed class's objects to its new name and delete a deleted
class's objects, at start, as Cloudflare does (docs/cloudflare.md, "Migrations"): storage, names and
alarms, for KV- and SQLite-backed classes; a kill at any disk operation of the move loses nothing
(dotui/engine/durability/moves.py); a move that cannot happen is refused before anything is written."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dotui import Engine
from dotui.engine.durability import moves
from dotui.engine.errors import DataFolderError

ROOT = Path(__file__).resolve().parent.parent

V1 = """
name = "moves"
main = "src/entry.py"
[[durable_objects.bindings]]
name = "NS"
class_name = "{cls}"
[[migrations]]
tag = "v1"
{new} = ["{first}"]
"""

ENTRY = """
from workers import DurableObject


class {cls}(DurableObject):
    async def put(self, key, value):
        await self.ctx.storage.put(key, value)

    async def get(self, key):
        return await self.ctx.storage.get(key)

    async def arm(self, ms):
        await self.ctx.storage.setAlarm(ms)

    async def alarm_at(self):
        return await self.ctx.storage.getAlarm()

    def add_row(self, text):
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (x TEXT)")
        self.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", text)

    def rows(self):
        return [r["x"] for r in self.ctx.storage.sql.exec("SELECT x FROM t ORDER BY rowid")]

    async def alarm(self):
        pass
"""

ALARM_MS = 4102444800000  # 2100-01-01: never fires during a test


def write_project(folder: Path, cls: str, backend: str, migrations: str = "") -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    new = "new_sqlite_classes" if backend == "sqlite" else "new_classes"
    first = "Counter"
    (folder / "wrangler.toml").write_text(V1.format(cls=cls, new=new, first=first) + textwrap.dedent(migrations))
    (folder / "src" / "entry.py").write_text(ENTRY.format(cls=cls))
    return folder / "wrangler.toml"


RENAME = """
[[migrations]]
tag = "v2"
renamed_classes = [{ from = "Counter", to = "Tally" }]
"""
DELETE = """
[[migrations]]
tag = "v2"
deleted_classes = ["Counter"]
"""


async def make_objects(wrangler: Path, data: Path, sql: bool) -> str:
    """Two named objects (one with an alarm) and an unnamed one; the unnamed one's id."""
    async with Engine(objects=str(wrangler), data=str(data)) as e:
        ns = e.env.Counter
        await ns.get_by_name("alice").put("n", 1)
        await ns.get_by_name("alice").arm(ALARM_MS)
        await ns.get_by_name("bob").put("list", [1, {"b": True}])
        unnamed = ns.new_unique_id()
        await ns.get(unnamed).put("u", "x")
        if sql:
            await ns.get_by_name("alice").add_row("one")
            await ns.get_by_name("alice").add_row("two")
        await e.crash()  # as a kill: the log and the databases' WAL hold what is not checkpointed
        return unnamed.hex


async def read_moved(wrangler: Path, data: Path, unnamed: str, sql: bool) -> dict:
    async with Engine(objects=str(wrangler), data=str(data)) as e:
        ns = e.env.Tally
        alice, bob = ns.get_by_name("alice"), ns.get_by_name("bob")
        adopted = ns.get(ns.id_from_string(moves_target(unnamed)))
        out = {
            "alice": await alice.get("n"),
            "alarm": await alice.alarm_at(),
            "bob": await bob.get("list"),
            "unnamed": await adopted.get("u"),
            "listed": sorted(((r["namespace"], r["name"]) for r in e.instances()), key=str),
            "counter_folder": (data / "Counter").exists(),
            "journal": (data / moves.JOURNAL).exists(),
        }
        if sql:
            out["rows"] = await alice.rows()
        return out


async def reopen(wrangler: Path, data: Path) -> None:
    async with Engine(objects=str(wrangler), data=str(data)):
        pass


def moves_target(hx: str) -> str:
    from dotui.engine.ids import IdFactory

    return IdFactory("Tally").adopt(hx).hex


def rename_code(wrangler: Path, migrations: str, cls: str = "Tally") -> None:
    text = wrangler.read_text().replace('class_name = "Counter"', f'class_name = "{cls}"')
    wrangler.write_text(text + textwrap.dedent(migrations))
    entry = wrangler.parent / "src" / "entry.py"
    entry.write_text(entry.read_text().replace("class Counter(", f"class {cls}("))


EXPECTED_LISTED = sorted([("Tally", None), ("Tally", "alice"), ("Tally", "bob")], key=str)


def renamed(tmp_path: Path, backend: str, data: Path) -> tuple[Path, str, bool]:
    """A project whose objects (made in ``data``) are of Counter, its wrangler file now renaming it Tally."""
    wrangler, sql = write_project(tmp_path / "p", "Counter", backend), backend == "sqlite"
    unnamed = asyncio.run(make_objects(wrangler, data, sql))
    rename_code(wrangler, RENAME)
    return wrangler, unnamed, sql


def assert_moved(got: dict, why: object = None) -> None:
    assert got.pop("rows", ["one", "two"]) == ["one", "two"], why
    assert got == {
        "alice": 1,
        "alarm": ALARM_MS,
        "bob": [1, {"b": True}],
        "unnamed": "x",
        "listed": EXPECTED_LISTED,
        "counter_folder": False,
        "journal": False,
    }, why


@pytest.mark.parametrize("backend", ["kv", "sqlite"])
def test_a_rename_moves_storage_names_and_alarms_to_the_new_class(tmp_path, backend):
    data = tmp_path / "data"
    wrangler, unnamed, sql = renamed(tmp_path, backend, data)
    assert_moved(asyncio.run(read_moved(wrangler, data, unnamed, sql)))
    # and again: a start with nothing left to move changes nothing
    assert_moved(asyncio.run(read_moved(wrangler, data, unnamed, sql)))


def test_a_deleted_class_loses_its_objects_as_on_cloudflare(tmp_path):
    wrangler, data = write_project(tmp_path / "p", "Counter", "kv"), tmp_path / "data"
    asyncio.run(make_objects(wrangler, data, False))
    text = wrangler.read_text().replace('[[durable_objects.bindings]]\nname = "NS"\nclass_name = "Counter"\n', "")
    wrangler.write_text(text + DELETE + '[[migrations]]\ntag = "v3"\nnew_classes = ["Tally"]\n')
    rename_code(wrangler, "")

    async def after():
        async with Engine(objects=str(wrangler), data=str(data)) as e:
            return e.instances(), e.index.count(), (data / "Counter").exists()

    assert asyncio.run(after()) == ([], 0, False)


def test_a_chain_of_renames_ends_at_the_live_class(tmp_path):
    wrangler, data = write_project(tmp_path / "p", "Counter", "kv"), tmp_path / "data"
    unnamed = asyncio.run(make_objects(wrangler, data, False))
    rename_code(
        wrangler,
        """
        [[migrations]]
        tag = "v2"
        renamed_classes = [{ from = "Counter", to = "Middle" }]
        [[migrations]]
        tag = "v3"
        renamed_classes = [{ from = "Middle", to = "Tally" }]
        """,
    )
    got = asyncio.run(read_moved(wrangler, data, unnamed, False))
    assert (got["alice"], got["listed"]) == (1, EXPECTED_LISTED)


def _files(folder: Path) -> dict[str, bytes]:
    """Every object file and the log (not the lock, not the index: a start rewrites those)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(("index", "lock"))
    }


def test_a_target_holding_objects_of_its_own_is_refused_and_nothing_is_written(tmp_path):
    wrangler, data = write_project(tmp_path / "p", "Counter", "kv"), tmp_path / "data"
    asyncio.run(make_objects(wrangler, data, False))
    other = write_project(tmp_path / "q", "Tally", "kv")
    other.write_text(other.read_text().replace('["Counter"]', '["Tally"]'))

    async def tally_of_its_own():
        async with Engine(objects=str(other), data=str(data)) as e:
            await e.env.Tally.get_by_name("carol").put("n", 9)

    asyncio.run(tally_of_its_own())
    before = _files(data)
    rename_code(wrangler, RENAME)
    with pytest.raises(DataFolderError) as err:
        asyncio.run(Engine(objects=str(wrangler), data=str(data)).start())
    message = str(err.value)
    assert "cannot move class Counter's objects to Tally" in message and "holds 1 object(s) of its own" in message
    assert _files(data) == before


def test_an_unreadable_object_is_refused_naming_its_file_before_anything_moves(tmp_path):
    wrangler, data = write_project(tmp_path / "p", "Counter", "kv"), tmp_path / "data"
    asyncio.run(make_objects(wrangler, data, False))
    asyncio.run(reopen(wrangler, data))  # recovered: the checkpoints written
    victim = sorted((data / "Counter").glob("*.json"))[0]
    victim.write_text("{not json")
    before = _files(data)
    rename_code(wrangler, RENAME)
    with pytest.raises(DataFolderError) as err:
        asyncio.run(Engine(objects=str(wrangler), data=str(data)).start())
    assert str(victim) in str(err.value) and "restore it from a backup, or move it away" in str(err.value)
    assert not (data / moves.JOURNAL).exists() and not (data / "Tally").exists()
    assert _files(data) == before


# ---------------------------------------------------------------- a kill at every disk operation of the move
# One child process imports dotui once and forks a fresh process for each run of the move (no thread and no
# event loop exists yet at the fork): each forked run starts from the same state a new interpreter would, at
# the cost of a fork instead of an interpreter start and dotui's imports (O(1) a run instead of ~0.3 s).
CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys, traceback
    sys.path.insert(0, {root!r})
    from dotui import Engine
    from dotui.engine.durability import disk, moves

    seen = 0
    kill_at = 0
    real_check, real_apply = disk.faults.check, moves.apply

    def counting(op, path):
        global seen
        seen += 1
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # as a kill lands: nothing after runs
        real_check(op, path)

    def apply(*args, **kwargs):
        disk.faults.check, disk.faults.active = counting, True
        try:
            return real_apply(*args, **kwargs)
        finally:
            disk.faults.active = False

    moves.apply = apply
    import dotui.engine.engine as engine_module
    engine_module.moves = moves

    async def main(data):
        async with Engine(objects=sys.argv[1], data=data):
            pass

    for run in sys.argv[2:]:
        data, _, at = run.rpartition(":")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the run: a kill at its disk operation number ``at`` (0: none)
            try:
                kill_at = int(at)
                asyncio.run(main(data))
                print("seen", seen, flush=True)
                os._exit(0)
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        print("ended", at, os.waitstatus_to_exitcode(status), flush=True)
""")


def _runs(tmp_path: Path, wrangler: Path, runs: list[tuple[Path, int]]) -> tuple[dict[int, int], int | None, str]:
    """Each run's exit status by kill point, the count of disk operations a run without a kill saw, stderr."""
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=str(ROOT)))
    proc = subprocess.run(
        [sys.executable, str(script), str(wrangler), *(f"{data}:{at}" for data, at in runs)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    ended, seen = {}, None
    for line in proc.stdout.splitlines():
        word, *rest = line.split()
        if word == "ended":
            ended[int(rest[0])] = int(rest[1])
        elif word == "seen":
            seen = int(rest[0])
    return ended, seen, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["kv", "sqlite"])
def test_a_kill_at_any_disk_operation_of_the_move_loses_nothing(tmp_path, backend):
    pristine = tmp_path / "pristine"
    wrangler, unnamed, sql = renamed(tmp_path, backend, pristine)
    probe = tmp_path / "probe"
    shutil.copytree(pristine, probe)
    ended, total, stderr = _runs(tmp_path, wrangler, [(probe, 0)])
    assert ended == {0: 0} and total is not None, stderr
    assert total > 10  # the move's disk operations, each a place a kill lands below
    points = range(1, total + 1)
    for kill_at in points:
        shutil.copytree(pristine, tmp_path / f"k{kill_at}")
    ended, _, stderr = _runs(tmp_path, wrangler, [(tmp_path / f"k{at}", at) for at in points])
    for kill_at in points:
        assert ended.get(kill_at) == -signal.SIGKILL, (kill_at, stderr)
        data = tmp_path / f"k{kill_at}"
        assert_moved(asyncio.run(read_moved(wrangler, data, unnamed, sql)), kill_at)
        shutil.rmtree(data)
