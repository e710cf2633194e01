"""The operations the front ends use on SQLite-backed objects (dotui/ops/): tables and read-only
queries that wake nothing, SQL through the object's queue, bookmarks, and a restore that takes
effect at once and can be undone (docs/sqlite.md, "For the front ends")."""

from __future__ import annotations

import pytest

from dotui.engine.errors import SqlError
from dotui.ops import LocalEngine
from tests.conftest import write_objects

TODO = """
    from dotui import DurableObject

    class Todo(DurableObject):
        storage_backend = "sqlite"

        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, text TEXT)")

        def add(self, text):
            self.ctx.storage.sql.exec("INSERT INTO items(text) VALUES (?)", text)

    class Plain(DurableObject):
        def hi(self):
            return 1
"""


@pytest.fixture
def facade(tmp_path):
    objs = write_objects(tmp_path / "objects", todo=TODO)
    with LocalEngine(str(objs), str(tmp_path / "d"), idle_timeout=60) as f:
        yield f


def test_reads_wake_nothing_and_writes_go_through_the_queue(facade):
    facade.call("Todo", "a", "add", ["milk"])
    assert facade.hibernate("Todo", "a") is True
    tables = facade.sql_tables("Todo", "a")
    assert [t["name"] for t in tables["tables"]] == ["items"]
    page = facade.sql_query("Todo", "a", "SELECT text FROM items")
    assert page["rows"] == [["milk"]]
    assert facade.instance("Todo", "a")["state"] == "hibernated"  # neither read woke it
    with pytest.raises(Exception, match="read"):
        facade.sql_query("Todo", "a", "DELETE FROM items")
    out = facade.sql_exec("Todo", "a", "INSERT INTO items(text) VALUES (?) RETURNING id", ["eggs"])
    assert out["rows"] == [[2]] and out["rows_written"] == 1
    with pytest.raises(SqlError, match="access to _cf_KV.key is prohibited"):
        facade.sql_exec("Todo", "a", "SELECT * FROM _cf_KV")
    assert facade.sql_query("Todo", "a", "SELECT count(*) FROM items")["rows"] == [[2]]


def test_bookmarks_and_a_restore_that_can_be_undone(facade):
    facade.call("Todo", "a", "add", ["one"])
    b1 = facade.bookmark("Todo", "a")
    facade.call("Todo", "a", "add", ["two"])
    marks = facade.bookmarks("Todo", "a")
    assert marks[-1]["bookmark"] == facade.bookmark("Todo", "a") and b1 in [m["bookmark"] for m in marks]
    undo = facade.restore("Todo", "a", b1)["undo"]
    assert facade.sql_exec("Todo", "a", "SELECT text FROM items ORDER BY id")["rows"] == [["one"]]
    facade.restore("Todo", "a", undo)
    assert facade.sql_exec("Todo", "a", "SELECT text FROM items ORDER BY id")["rows"] == [["one"], ["two"]]
    with pytest.raises(ValueError, match="another object"):
        facade.restore("Todo", "b", b1)


def test_a_kv_class_is_told_it_has_no_sql(facade):
    facade.call("Plain", "a", "hi")
    with pytest.raises(ValueError, match="not SQLite-backed"):
        facade.sql_tables("Plain", "a")


def test_the_storage_inspector_reads_a_sqlite_objects_kv_from_its_database(facade):
    facade.call("Todo", "a", "add", ["x"])
    facade.storage_put("Todo", "a", "greeting", {"text": "hi"})
    facade.hibernate("Todo", "a")
    view = facade.read_storage("Todo", "a")
    assert view["values"] == {"greeting": {"text": "hi"}} and view["path"].endswith(".sqlite")
    assert facade.instance("Todo", "a")["state"] == "hibernated"
