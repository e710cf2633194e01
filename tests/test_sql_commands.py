"""The commands of SQLite-backed objects (docs/commands.md): sql, tables, bookmark, restore, on the
bundled TodoList, through the command registry as every front end runs them."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time

import pytest

from dotui.commands import Context, execute
from dotui.examples import OBJECTS as BUNDLED
from dotui.present.render import Renderer, make_console
from tests.conftest import ROOT

COUNTER = """
from dotui import DurableObject

class Counter(DurableObject):
    def increment(self):
        n = self.ctx.storage.get("n", 0) + 1
        self.ctx.storage.put("n", n)
        return n
"""


@pytest.fixture
def folder(tmp_path):
    objects = tmp_path / "objects"
    objects.mkdir()
    shutil.copy(f"{BUNDLED}/todo_list.py", objects / "todo_list.py")
    (objects / "counter.py").write_text(COUNTER)
    return tmp_path


@pytest.fixture
def facade(folder):
    from dotui.ops import LocalEngine

    fe = LocalEngine(str(folder / "objects"), str(folder / "data"), idle_timeout=600).start()
    yield fe
    fe.close()


def run(facade, line: str):
    outcome = execute(Context(facade), line)
    return outcome


def ok(facade, line: str):
    outcome = run(facade, line)
    assert outcome.ok, f"{line}: {outcome.error}"
    return outcome.result


def failed(facade, line: str) -> str:
    outcome = run(facade, line)
    assert not outcome.ok, f"{line} should have failed, answered {outcome.result!r:.300}"
    return outcome.error.message + " " + (outcome.error.hint or "")


def rendered(outcome) -> str:
    out = io.StringIO()
    Renderer(make_console(out, terminal=False, width=120)).outcome(outcome)
    return out.getvalue()


def state(facade, ref: str) -> str:
    return facade.instance("TodoList", ref)["state"]


@pytest.fixture
def home(facade):
    facade.call("TodoList", "home", "add_many", [[f"task {i}" for i in range(120)]])
    facade.call("TodoList", "home", "finish", [3])
    facade.hibernate("TodoList", "home")
    assert state(facade, "home") == "hibernated"
    return "TodoList/home"


def test_tables_shows_the_schema_without_waking(facade, home):
    result = ok(facade, f"tables {home}")
    (todo,) = result["tables"]
    assert todo["name"] == "todo" and todo["rows"] == 120
    assert [c["name"] for c in todo["columns"]] == ["id", "title", "project", "done", "created"]
    assert "todo_by_project" in todo["indexes"]
    assert result["size"] > 0
    assert state(facade, "home") == "hibernated"
    text = rendered(run(facade, f"tables {home}"))
    assert "todo" in text and "120" in text and "todo_by_project" in text


def test_sql_reads_pages_without_waking(facade, home):
    result = ok(facade, f'sql {home} "SELECT id, title FROM todo WHERE done = ? ORDER BY id" 0')
    assert result["columns"] == ["id", "title"] and result["count"] == 119
    assert len(result["rows"]) == 50 and result["rows"][0] == [1, "task 0"] and result["pages"] == 3
    last = ok(facade, f'sql {home} "SELECT id FROM todo WHERE done = ? ORDER BY id" 0 --page 3')
    assert [r[0] for r in last["rows"]][-1] == 120 and len(last["rows"]) == 19
    assert state(facade, "home") == "hibernated"
    text = rendered(run(facade, f'sql {home} "SELECT id, title FROM todo WHERE id = 4"'))
    assert "task 3" in text and "read-only" in text


def test_sql_refuses_a_write_unless_it_goes_through_the_queue(facade, home):
    message = failed(facade, f'sql {home} "DELETE FROM todo"')
    assert "not authorized" in message and "--write" in message
    assert ok(facade, f'sql {home} "SELECT count(*) FROM todo"')["rows"] == [[120]]
    assert state(facade, "home") == "hibernated"
    done = ok(facade, f'sql {home} "UPDATE todo SET done = 1 WHERE id <= ?" 10 --write')
    assert done["rows_written"] == 10
    assert ok(facade, f'sql {home} "SELECT count(*) FROM todo WHERE done = 1"')["rows"] == [[10]]
    assert "written" in rendered(run(facade, f'sql {home} "UPDATE todo SET done = 0 WHERE id = 1" --write'))


@pytest.mark.parametrize(
    "line,says",
    [
        ('sql TodoList/home "SELEC 1"', "syntax error"),
        ('sql TodoList/home "SELECT * FROM _cf_KV"', "_cf_KV"),
        ('sql TodoList/home "SELECT ?"', "bindings"),
        ('sql TodoList/home "SELECT 1" x=1', "in order"),
        ('sql TodoList/home "SELECT 1" --page 2', "no page 2"),
        ('sql TodoList/nobody "SELECT 1"', "no TodoList object named 'nobody'"),
        ("tables Counter/a", "key-value"),
        ('sql TodoList/home "UPDATE todo SET title = NULL" --write', "NOT NULL"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(facade, home, line, says):
    facade.call("Counter", "a", "increment")
    assert says in failed(facade, line)
    assert ok(facade, f'sql {home} "SELECT count(*) FROM todo WHERE title IS NOT NULL"')["rows"] == [[120]]


def test_bookmark_and_restore_take_the_object_back(facade, home):
    before = ok(facade, f"bookmark {home}")["bookmark"]
    t = time.time()
    time.sleep(0.05)
    ok(facade, f'sql {home} "DELETE FROM todo" --write')
    assert ok(facade, f'sql {home} "SELECT count(*) FROM todo"')["rows"] == [[0]]
    at = ok(facade, f"bookmark {home} {t}")["bookmark"]
    assert at >= before
    marks = ok(facade, f"bookmark {home} --list")["bookmarks"]
    assert marks and all("bookmark" in m and "time" in m for m in marks)
    restored = ok(facade, f"restore {home} {at}")
    assert ok(facade, f'sql {home} "SELECT count(*) FROM todo"')["rows"] == [[120]]
    undone = run(facade, f"restore {home} {restored['undo']}")  # the restore, undone
    assert undone.ok and f"restored {home} to {restored['undo']}; undo: restore {home} " in rendered(undone)
    assert ok(facade, f'sql {home} "SELECT count(*) FROM todo"')["rows"] == [[0]]


def test_bookmark_refuses_what_is_not_a_bookmark(facade, home):
    assert "time" in failed(facade, f"bookmark {home} yesterday")
    assert failed(facade, f"restore {home} not-a-bookmark")


def test_the_cli_prints_sql_as_json(folder):
    from dotui.ops import LocalEngine

    fe = LocalEngine(str(folder / "objects"), str(folder / "data")).start()
    fe.call("TodoList", "home", "add_many", [["a", "b", "c"]])
    fe.close()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dotui.cli",
            "--objects",
            str(folder / "objects"),
            "--data",
            str(folder / "data"),
            "--json",
            "-c",
            'sql TodoList/home "SELECT id FROM todo LIMIT 2"',
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] and doc["result"]["rows"] == [[1], [2]] and doc["result"]["columns"] == ["id"], doc


def test_sql_with_bindings_through_a_gateway(folder):
    """The same commands against `dotui serve` (--connect): a GET operation's list parameter crosses as JSON."""
    from dotui.ops import LocalEngine
    from dotui.server import connect, start_gateway_thread

    served = LocalEngine(str(folder / "objects"), str(folder / "data")).start()
    gateway = start_gateway_thread(served, "127.0.0.1", 0)
    remote = connect(gateway.url, data=str(folder / "data"))
    try:
        remote.call("TodoList", "home", "add_many", [["a", "b", "c"]])
        assert ok(remote, 'sql TodoList/home "SELECT title FROM todo WHERE id >= ? ORDER BY id" 2')["rows"] == [
            ["b"],
            ["c"],
        ]
        assert ok(remote, 'sql TodoList/home "SELECT count(*) FROM todo"')["rows"] == [[3]]
    finally:
        remote.close()
        gateway.close()
        served.close()


def test_a_blob_crosses_as_hex_both_ways(facade, home):
    """What the studio's row editor sends for x'00ff', and what every read answers for a BLOB."""
    facade.sql_exec("TodoList", "home", "UPDATE todo SET title = ? WHERE id = 1", [{"$blob": "00ff"}])
    assert facade.sql_query("TodoList", "home", "SELECT title FROM todo WHERE title = ?", [{"$blob": "00ff"}])[
        "rows"
    ] == [[{"$blob": "00ff"}]]
    assert "x'00ff'" in rendered(run(facade, 'sql TodoList/home "SELECT title FROM todo WHERE id = 1"'))
    with pytest.raises(ValueError, match="hex digits"):
        facade.sql_exec("TodoList", "home", "SELECT ?", [{"$blob": "xyz"}])
