"""Reading an object's database for the front ends: read-only, bounded, the engine's tables hidden
(dotui/engine/sqlview.py)."""

from __future__ import annotations

import os
import sqlite3

import pytest

from dotui.engine import sqlview


@pytest.fixture
def db(tmp_path):
    """A database laid out as an object's: WAL, the engine's _cf_ tables, one table of 1,000 rows,
    and a transaction left open (a live object's writes not committed yet)."""
    path = str(tmp_path / "obj.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE _cf_KV (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID")
    conn.execute("INSERT INTO _cf_KV VALUES ('secret', '1')")
    conn.execute("CREATE TABLE todo (id INTEGER PRIMARY KEY, title TEXT NOT NULL, data BLOB)")
    conn.execute("CREATE INDEX todo_title ON todo (title)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO todo (title, data) VALUES (?, ?)", [(f"t{i:04d}", b"\x00\xff") for i in range(1000)])
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO todo (title) VALUES ('not committed')")
    yield path
    conn.execute("ROLLBACK")
    conn.close()


def test_tables_lists_the_objects_own_tables_with_schema_and_rows(db):
    doc = sqlview.tables(db)
    assert [t["name"] for t in doc["tables"]] == ["todo"]  # _cf_KV is the engine's
    todo = doc["tables"][0]
    assert todo["rows"] == 1000  # the open transaction's row is not committed
    assert [(c["name"], c["type"], c["pk"], c["notnull"]) for c in todo["columns"]] == [
        ("id", "INTEGER", 1, False),
        ("title", "TEXT", 0, True),
        ("data", "BLOB", 0, False),
    ]
    assert todo["indexes"] == ["todo_title"]
    assert doc["size"] == os.path.getsize(db) or doc["size"] > 0


def test_a_page_of_rows_with_the_count_and_blobs_encoded(db):
    page = sqlview.query(db, "SELECT * FROM todo ORDER BY id", [], offset=990, limit=20)
    assert page["columns"] == ["id", "title", "data"]
    assert page["count"] == 1000 and not page["more"]
    assert [r[1] for r in page["rows"]] == [f"t{i:04d}" for i in range(990, 1000)]
    assert page["rows"][0][2] == {"$blob": "00ff"}
    assert sqlview.query(db, "SELECT title FROM todo WHERE id = ?", [7])["rows"] == [["t0006"]]
    first = sqlview.query(db, "SELECT id FROM todo", [], 0, 5, count=False)
    assert first["rows"] == [[1], [2], [3], [4], [5]] and first["more"] and first["count"] is None


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM todo",
        "INSERT INTO todo (title) VALUES ('x')",
        "DROP TABLE todo",
        "CREATE TABLE t (x)",
        "ATTACH DATABASE 'other.db' AS other",
        "PRAGMA journal_mode=DELETE",
        "PRAGMA user_version = 5",
        "VACUUM",
        "UPDATE sqlite_master SET sql = '' WHERE name = 'todo'",  # FTS5's open names it; it still writes nothing
    ],
)
def test_nothing_that_writes_runs(db, sql):
    with pytest.raises(sqlview.SqlReadError, match="not authorized|read-only|readonly|may not be modified"):
        sqlview.query(db, sql)
    assert sqlview.query(db, "SELECT count(*) FROM todo")["rows"] == [[1000]]


def test_the_engines_tables_are_hidden(db):
    with pytest.raises(sqlview.SqlReadError, match="_cf_KV"):
        sqlview.query(db, "SELECT * FROM _cf_KV")
    with pytest.raises(sqlview.SqlReadError):
        sqlview.query(db, "PRAGMA table_info(_cf_KV)")


def test_a_query_that_runs_too_long_is_stopped(db, monkeypatch):
    monkeypatch.setattr(sqlview, "TIME_LIMIT", 0.2)
    with pytest.raises(sqlview.SqlReadError, match="ran past"):
        sqlview.query(db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")


@pytest.mark.parametrize(
    "sql,bindings,message",
    [
        ("", [], "empty"),
        ("SELECT 1; SELECT 2", [], "one statement"),
        ("SELEC 1", [], "syntax error"),
        ("SELECT ?", [], "bindings"),
        ("SELECT ?", [2**70], "binding|too large"),
    ],
)
def test_bad_input_is_a_clear_error(db, sql, bindings, message):
    with pytest.raises(sqlview.SqlReadError, match=message):
        sqlview.query(db, sql, bindings)


def test_an_object_without_a_file_has_no_tables_yet(tmp_path):
    missing = str(tmp_path / "none.sqlite")
    assert sqlview.tables(missing) == {"path": missing, "exists": False, "size": 0, "tables": []}
    with pytest.raises(sqlview.SqlReadError, match="no database file yet"):
        sqlview.query(missing, "SELECT 1")
    assert not os.path.exists(missing)  # reading made nothing
