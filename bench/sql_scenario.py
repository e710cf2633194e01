"""The SQL scenario: the assertions of workerd's SQLite tests (``sql-test.js`` and ``sync-kv-test.js``
in workerd's ``src/workerd/api/tests``) as data, run step by step on either engine.

Each step names one call of the SQL-backed storage API and how to look at what it gave; its result is
``{"ok": value}`` or ``{"error": message}``. The same steps run on dotui (``run_steps`` below, inside a
``storage_backend = "sqlite"`` object) and on workerd (``SqlScenario.run`` in ``bench/peer/worker.js``),
so the two answers can be diffed line by line (``bench/behaviour.py``), and workerd's answers, recorded
in ``bench/peer/sql_expected.json``, are the oracle of ``tests/test_sql_workerd.py``.

Steps come in groups; each group runs in a fresh object, in one call (a ``wait`` step ends the implicit
transaction, as ``scheduler.wait(1)`` does in workerd's tests). A group's call may itself fail (workerd
resets an object whose commit violates a deferred foreign key): that is the group's ``"call"`` result.

    python bench/sql_scenario.py --record      # run on workerd, write bench/peer/sql_expected.json
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "peer", "sql_expected.json")


def ex(label: str, sql: str, *bind, view: str = "rows") -> dict:
    """``sql.exec(sql, *bind)``, looked at as ``view``: rows (dicts), raw (lists), one, columns
    (``column_names``), counts (``rows_read``/``rows_written`` after reading every row), next (four
    ``next()`` calls), one_then_rest, none (only whether it ran)."""
    return {"l": label, "exec": sql, "bind": list(bind), "view": view}


def blob(hex_text: str) -> dict:
    return {"$blob": hex_text}


INSERT_36_ROWS = " ".join(
    "INSERT INTO streaming VALUES " + ",".join(f"('{p}: {s}')" for s in ["😳", "🫠", "🙃", "🤡", "🥺", "🔥😎🔥"]) + ";"
    for p in "abcdef"
)

UNION3 = "SELECT 1 AS value\nUNION ALL\nSELECT 2 AS value\nUNION ALL\nSELECT 3 AS value;"

GROUPS: dict[str, list[dict]] = {
    "results": [
        ex("SELECT 123", "SELECT 123"),
        ex("SELECT 123 raw", "SELECT 123", view="raw"),
        ex("SELECT 'hello'", "SELECT 'hello'"),
        ex("SELECT x'ff' as blob", "SELECT x'ff' as blob"),
        ex("SELECT ? (456)", "SELECT ?", 456),
        ex("SELECT ? + ? (123, 456)", "SELECT ? + ?", 123, 456),
        ex("three rows", UNION3),
        ex(
            "three rows, next() four times",
            'SELECT 1 AS col UNION ALL SELECT "foo" AS col UNION ALL SELECT 3 AS col;',
            view="next",
        ),
        ex(
            "toArray()",
            'SELECT 1 AS value UNION ALL SELECT "foo" AS value UNION ALL SELECT 3 AS value;',
            view="to_array",
        ),
        ex("one(), then the cursor", 'SELECT 123 AS foo, "abc" AS bar', view="one_then_rest"),
        ex("one() of two rows", 'SELECT 1 AS value UNION ALL SELECT "foo" AS value;', view="one"),
        ex("CREATE TABLE empty", "CREATE TABLE IF NOT EXISTS empty (x INTEGER)", view="none"),
        ex("one() of no rows", "SELECT * from empty;", view="one"),
        ex("DROP TABLE empty", "DROP TABLE empty", view="none"),
        ex("trailing comment", "SELECT 123; SELECT 456; -- trailing comment"),
        ex("count()", f"SELECT count(value) from ({UNION3[:-1]});"),
        ex("sum()", f"SELECT sum(value) from ({UNION3[:-1]});"),
        ex("cos(0)", "SELECT cos(0)"),
        ex("abs(-123)", "SELECT abs(-123)", view="raw"),
        ex("empty statement ''", ""),
        ex("empty statement ';'", ";"),
        ex("SELECT ;", "SELECT ;"),
        ex("SELECT -;", "SELECT -;"),
        ex("CREATE TABLE test_error_codes", "CREATE TABLE test_error_codes (name TEXT);", view="none"),
        ex("datatype mismatch", "INSERT INTO test_error_codes(rowid, name) values ('yeah','nah');"),
        ex("SELECT ? without a binding", "SELECT ?"),
        ex("SELECT ? with two bindings", "SELECT ?", 1, 2),
        ex("sqlite_version()", "SELECT sqlite_version()"),
        ex("JSON ->", 'SELECT \'{"a":2,"c":[4,5,{"f":7}]}\' -> \'$.c\' AS value'),
        ex(
            "compound SELECT of 5",
            "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5",
            view="count",
        ),
        ex(
            "compound SELECT of 6",
            "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6",
            view="count",
        ),
        ex("several statements: the cursor is the last's", "SELECT 1 AS a; SELECT 2 AS b;"),
        ex("2**63 - 1", "SELECT 9223372036854775807 AS big"),
        ex("2**53 + 1", "SELECT 9007199254740993 AS big"),
        ex("a real", "SELECT 1.5 AS r"),
        ex("NULL", "SELECT NULL AS n"),
    ],
    "refused": [
        ex("CREATE TABLE _cf_invalid", "CREATE TABLE _cf_invalid (name TEXT)"),
        {"l": "put('blah', 123)", "kv": "put", "args": ["blah", 123]},
        ex("SELECT * FROM _cf_KV", "SELECT * FROM _cf_KV"),
        ex("PRAGMA hard_heap_limit = 1024", "PRAGMA hard_heap_limit = 1024"),
        ex("pragma data_version", "pragma data_version;"),
        ex("PRAGMA data_version = 5", "PRAGMA data_version = 5"),
        ex("PRAGMA max_page_count = 65536", "PRAGMA max_page_count = 65536"),
        ex("PRAGMA page_size = 8192", "PRAGMA page_size = 8192"),
        ex("CREATE TABLE myTable", "CREATE TABLE myTable (foo TEXT, bar INTEGER)", view="none"),
        ex("PRAGMA table_info(myTable)", "PRAGMA table_info(myTable)", view="names"),
        ex("PRAGMA table_xinfo(myTable)", "PRAGMA table_xinfo(myTable)", view="names"),
        ex("PRAGMA table_info(_cf_KV)", "PRAGMA table_info(_cf_KV)"),
        ex("pragma quick_check", "pragma quick_check;"),
        ex("pragma quick_check(1)", "pragma quick_check(1);"),
        ex("pragma quick_check(myTable)", "pragma quick_check(myTable);"),
        ex("PRAGMA quick_check(_cf_KV)", "PRAGMA quick_check(_cf_KV)"),
        ex("ANALYZE", "ANALYZE;"),
        ex("PRAGMA optimize", "PRAGMA optimize;"),
        ex("BEGIN TRANSACTION", "BEGIN TRANSACTION"),
        ex("SAVEPOINT foo", "SAVEPOINT foo"),
        ex("COMMIT", "COMMIT"),
        ex("ATTACH", "ATTACH DATABASE 'other.db' AS other"),
        ex("CREATE TEMP TABLE", "CREATE TEMP TABLE tempy AS SELECT * FROM sqlite_master;"),
        ex("USING fts5abcd", "CREATE VIRTUAL TABLE test_fts USING fts5abcd(id);"),
        ex("PRAGMA defer_foreign_keys = tRuE", "PRAGMA defer_foreign_keys = tRuE;", view="none"),
        ex("PRAGMA defer_foreign_keys (after tRuE)", "PRAGMA defer_foreign_keys;"),
        ex("PRAGMA defer_foreign_keys = '  true    '", "PRAGMA defer_foreign_keys =   true    ;", view="none"),
        ex("PRAGMA defer_foreign_keys = off", "PRAGMA defer_foreign_keys = off;", view="none"),
        ex("PRAGMA defer_foreign_keys (after off)", "PRAGMA defer_foreign_keys;"),
        ex("PRAGMA defer_foreign_keys = abcd", "PRAGMA defer_foreign_keys = abcd;"),
        ex('PRAGMA defer_foreign_keys = "foo"', 'PRAGMA defer_foreign_keys = "foo";'),
        ex("PRAGMA defer_foreign_keys = 'yes", "PRAGMA defer_foreign_keys = 'yes;"),
        ex("a value of a type SQLite cannot store", "SELECT ?", {"$unstorable": True}),
    ],
    "fts": [
        ex(
            "CREATE TABLE documents",
            "CREATE TABLE documents (id INTEGER PRIMARY KEY, title TEXT NOT NULL, content TEXT NOT NULL);",
            view="none",
        ),
        ex(
            "USING FtS5",
            "CREATE VIRTUAL TABLE documents_fts USING FtS5(id, title, content, tokenize = porter);",
            view="none",
        ),
        ex(
            "USING fTs5VoCaB",
            "CREATE VIRTUAL TABLE documents_fts_v_col USING fTs5VoCaB(documents_fts, col);",
            view="none",
        ),
        ex(
            "triggers",
            """
            CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
              INSERT INTO documents_fts(id, title, content) VALUES(new.id, new.title, new.content);
            END;""",
            view="none",
        ),
        ex(
            "two documents",
            "INSERT INTO documents (title, content) VALUES "
            "('Document 1', 'This is the contents of document 1 (of 2).'), "
            "('Document 2', 'This is the content of document 2 (of 2).');",
            view="counts",
        ),
        ex(
            "MATCH 'content' (porter stemming)",
            "SELECT id FROM documents_fts WHERE documents_fts MATCH 'content' ORDER BY rank;",
        ),
        ex(
            "highlight()",
            "SELECT highlight(documents_fts, 2, '<b>', '</b>') as output FROM documents_fts "
            "WHERE documents_fts MATCH '2' ORDER BY rank;",
        ),
        ex(
            "snippet()",
            "SELECT snippet(documents_fts, 2, '<b>', '</b>', '...', 4) as output FROM documents_fts "
            "WHERE documents_fts MATCH '2' ORDER BY rank;",
        ),
        ex(
            "pragma_table_list",
            """SELECT name as tbl_name, ncol as num_columns FROM pragma_table_list
            WHERE TYPE = "table" AND tbl_name NOT LIKE "sqlite_%" AND tbl_name NOT LIKE "d1_%"
              AND tbl_name NOT LIKE "_cf_%" AND tbl_name NOT LIKE "documents_fts%" ORDER BY tbl_name desc""",
        ),
        ex(
            "FTS5 written directly, not from a trigger",
            "CREATE VIRTUAL TABLE notes_fts USING fts5(body);"
            "INSERT INTO notes_fts VALUES ('the contents of a note'), ('nothing here');"
            "SELECT rowid, highlight(notes_fts, 0, '[', ']') AS hit FROM notes_fts WHERE notes_fts MATCH 'contents'",
        ),
    ],
    "transactions": [
        {"l": "put('txnTest', 0)", "storage": "put", "args": ["txnTest", 0]},
        {"wait": 1},
        {"l": "transaction: put 1, returns", "atxn": [{"l": "put 1", "storage": "put", "args": ["txnTest", 1]}]},
        {"l": "get after", "storage": "get", "args": ["txnTest"]},
        {
            "l": "transaction: put 4, rollback()",
            "atxn": [{"l": "put 4", "storage": "put", "args": ["txnTest", 4]}],
            "rollback": True,
        },
        {"l": "get after rollback()", "storage": "get", "args": ["txnTest"]},
        {
            "l": "transaction: put 5, throws",
            "atxn": [{"l": "put 5", "storage": "put", "args": ["txnTest", 5]}],
            "throw": "txn failure",
        },
        {"l": "get after the throw", "storage": "get", "args": ["txnTest"]},
        {"wait": 1},
        {
            "l": "transactionSync, success",
            "txn": [
                ex(
                    "CREATE TABLE should_succeed",
                    "CREATE TABLE IF NOT EXISTS should_succeed (VALUE text);",
                    view="none",
                )
            ],
        },
        ex("should_succeed exists", "SELECT name FROM sqlite_master WHERE tbl_name = 'should_succeed'"),
        {"wait": 1},
        {
            "l": "transactionSync, failure",
            "txn": [
                ex(
                    "CREATE TABLE should_be_rolled_back",
                    "CREATE TABLE should_be_rolled_back (VALUE text);",
                    view="none",
                ),
                {**ex("misspelled", "SELECT * FROM misspelled_table_name;"), "escape": True},
            ],
        },
        ex("should_be_rolled_back exists", "SELECT name FROM sqlite_master WHERE tbl_name = 'should_be_rolled_back'"),
        ex("CREATE TABLE txnTest", "CREATE TABLE txnTest (i INTEGER); INSERT INTO txnTest VALUES (1)", view="none"),
        {
            "l": "transactionSync, nested (the inner one throws)",
            "txn": [
                ex("set 2", "UPDATE txnTest SET i = ?", 2, view="none"),
                {
                    "l": "inner",
                    "txn": [
                        ex("set 3", "UPDATE txnTest SET i = ?", 3, view="none"),
                        ex("i in the inner", "SELECT i FROM txnTest"),
                    ],
                    "throw": "foo",
                },
                ex("i after the inner", "SELECT i FROM txnTest"),
            ],
        },
        ex("i after both", "SELECT i FROM txnTest"),
        {"l": "transactionSync returns its value", "txn": [], "returns": "some data"},
        {"l": "BEGIN inside transactionSync", "txn": [{**ex("begin", "BEGIN"), "escape": True}]},
    ],
    "schema": [
        ex(
            "abc and cde",
            "CREATE TABLE abc (a INT, b INT, c INT); CREATE TABLE cde (c INT, d INT, e INT);"
            "INSERT INTO abc VALUES (1,2,3),(4,5,6); INSERT INTO cde VALUES (7,8,9),(1,2,3);",
            view="none",
        ),
        ex("join: rows (a duplicate name keeps the last)", "SELECT * FROM abc, cde"),
        ex("join: raw", "SELECT * FROM abc, cde", view="raw"),
        ex("join: columnNames", "SELECT * FROM abc, cde", view="columns"),
        ex("UPDATE with no rows: columnNames", "UPDATE abc SET a = 1 WHERE b = 123542", view="columns"),
        ex(
            "blobs and nulls",
            "CREATE TABLE test_blob (id INTEGER PRIMARY KEY, data BLOB);"
            "INSERT INTO test_blob(data) VALUES(?),(ZEROBLOB(10)),(null),(?);",
            blob("00112233445566778899aabb"),
            None,
            view="none",
        ),
        ex("blobs and nulls, read", "SELECT * FROM test_blob"),
        ex(
            "ALTER TABLE RENAME",
            "CREATE TABLE beforerename (id INTEGER); ALTER TABLE beforerename RENAME TO afterrename;",
            view="none",
        ),
        ex(
            "ALTER TABLE ADD/RENAME/DROP COLUMN",
            "CREATE TABLE altercolumns (meta TEXT);"
            "ALTER TABLE altercolumns ADD COLUMN tobedeleted TEXT;"
            "ALTER TABLE altercolumns RENAME COLUMN meta TO metadata;"
            "ALTER TABLE altercolumns DROP COLUMN tobedeleted;"
            "ALTER TABLE altercolumns ADD COLUMN checked_col TEXT CHECK(checked_col IN ('A','B'));",
            view="none",
        ),
        ex("CHECK holds", "INSERT INTO altercolumns(checked_col) VALUES ('A')", view="none"),
        ex("CHECK fails", "INSERT INTO altercolumns(checked_col) VALUES ('C')"),
        ex(
            "ignore_check_constraints=ON",
            "PRAGMA ignore_check_constraints=ON;INSERT INTO altercolumns(checked_col) VALUES ('C')",
            view="none",
        ),
        ex("altercolumns", "SELECT * FROM altercolumns"),
        ex("ignore_check_constraints=OFF", "PRAGMA ignore_check_constraints=OFF;", view="none"),
        ex("quick_check finds the bad row", "PRAGMA quick_check;"),
        ex(
            "multi-statement with an index",
            "PRAGMA case_sensitive_like = TRUE;"
            "CREATE TABLE items(i INTEGER, s TEXT); CREATE INDEX itemsIdx ON items(s);"
            "INSERT INTO items VALUES (123, 'abc'); INSERT INTO items VALUES (456, 'def');"
            "SELECT i FROM items WHERE s = 'abc';",
        ),
        ex(
            "ALTER keeps cached statements working",
            "CREATE TABLE alterTableTest (a INTEGER);"
            "INSERT INTO alterTableTest VALUES (1); ALTER TABLE alterTableTest ADD COLUMN b INTEGER;"
            "INSERT INTO alterTableTest VALUES (2, 2); SELECT * FROM alterTableTest",
        ),
        {"l": "databaseSize grows by a page with a table", "size_delta": "CREATE TABLE one_more_page(VALUE text);"},
    ],
    "iostats": [
        ex("tbl", "CREATE TABLE tbl (id INTEGER PRIMARY KEY, value TEXT)", view="none"),
        ex("first row", "INSERT INTO tbl (id, value) VALUES (?, ?)", 100000, "arbitrary-initial-value", view="none"),
        {"wait": 1},
        ex("INSERT: rowsWritten", "INSERT INTO tbl (id, value) VALUES (?, ?)", 1, "arbitrary-value", view="counts"),
        ex("SELECT *: rowsRead", "SELECT * FROM tbl", view="counts"),
        ex("IN (...) writes nothing", "SELECT * FROM tbl WHERE id IN (1,2,3,4,5,6)", view="counts"),
        ex("UPDATE of 2 rows", "UPDATE tbl SET value = 'x'", view="counts"),
        ex("DELETE of 2 rows", "DELETE FROM tbl", view="counts"),
    ],
    "kv": [
        {"l": "kv.get('foo') before", "kv": "get", "args": ["foo"]},
        {"l": "kv.put('foo', 123)", "kv": "put", "args": ["foo", 123]},
        {"l": "kv.get('foo')", "kv": "get", "args": ["foo"]},
        {"l": "kv.put('bar', 'abc')", "kv": "put", "args": ["bar", "abc"]},
        {"l": "kv.list()", "kv": "list", "args": [{}]},
        {"l": "kv.list({reverse})", "kv": "list", "args": [{"reverse": True}]},
        {"l": "kv.put('baz', false)", "kv": "put", "args": ["baz", False]},
        {"l": "kv.list({prefix:'ba'})", "kv": "list", "args": [{"prefix": "ba"}]},
        {"l": "kv.list({limit:1})", "kv": "list", "args": [{"limit": 1}]},
        {"l": "kv.list({limit:1, reverse})", "kv": "list", "args": [{"limit": 1, "reverse": True}]},
        {"l": "kv.list({start:'b', end:'c'})", "kv": "list", "args": [{"start": "b", "end": "c"}]},
        {"l": "kv.list({start:'b', end:'baz'})", "kv": "list", "args": [{"start": "b", "end": "baz"}]},
        {"l": "kv.list({startAfter:'bar', end:'c'})", "kv": "list", "args": [{"startAfter": "bar", "end": "c"}]},
        {"l": "kv.delete('qux')", "kv": "delete", "args": ["qux"]},
        {"l": "kv.delete('bar')", "kv": "delete", "args": ["bar"]},
        {"l": "kv.list() after delete", "kv": "list", "args": [{}]},
        {"l": "storage.get('foo') sees kv.put", "storage": "get", "args": ["foo"]},
        {"l": "storage.put of a 2 MiB + 1 string", "storage": "put", "args": ["big", {"$string": 2 * 1024 * 1024 + 1}]},
        {"l": "storage.put of a 128 KiB + 1 string", "storage": "put", "args": ["mid", {"$string": 128 * 1024 + 1}]},
        {"l": "storage.get of the 128 KiB + 1 string: its length", "storage": "get", "args": ["mid"], "view": "len"},
        {"l": "storage.put of a 2,049-byte key", "storage": "put", "args": [{"$string": 2049}, 1]},
        {
            "l": "kv: put then rolled back with transactionSync",
            "txn": [{"l": "put", "kv": "put", "args": ["rolled", 1]}],
            "throw": "bar",
        },
        {"l": "kv.get after the rollback", "kv": "get", "args": ["rolled"]},
        {"l": "alarm set then rolled back with transactionSync", "txn": [{"l": "set", "alarm": "set"}], "throw": "bar"},
        {"l": "getAlarm after the rollback", "alarm": "get"},
        {"l": "deleteAll", "storage": "deleteAll", "args": []},
        {"l": "kv.list() after deleteAll", "kv": "list", "args": [{}]},
        ex("the SQL tables survive deleteAll?", "SELECT 1 AS one"),
    ],
    "deferred_fk": [
        ex(
            "users and posts",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER, content TEXT, "
            "FOREIGN KEY(user_id) REFERENCES users(id));",
            view="none",
        ),
        {"wait": 1},
        ex("a post without its user", "INSERT INTO posts (user_id, content) VALUES (?, ?)", 1, "Post 1"),
        {
            "l": "the same inside transactionSync",
            "txn": [
                {**ex("insert", "INSERT INTO posts (user_id, content) VALUES (?, ?)", 1, "Post 1"), "escape": True}
            ],
        },
        {"wait": 1},
        {
            "l": "deferred, valid by the end",
            "txn": [
                ex("defer", "PRAGMA defer_foreign_keys=ON;", view="none"),
                ex("post", "INSERT INTO posts (user_id, content) VALUES (?, ?)", 1, "Post 1", view="none"),
                ex("user", "INSERT INTO users VALUES (?, ?)", 1, "Alice", view="none"),
            ],
        },
        {"wait": 1},
        {
            "l": "deferred, invalid at the end",
            "txn": [
                ex("defer", "PRAGMA defer_foreign_keys=ON;", view="none"),
                ex("post", "INSERT INTO posts (user_id, content) VALUES (?, ?)", 2, "Post 2", view="none"),
            ],
        },
    ],
    "abort": [
        ex("t", "CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1)", view="none"),
        {"wait": 1},
        ex("a write before abort()", "INSERT INTO t VALUES (2)", view="none"),
        {"l": "abort()", "abort": "test broken"},
    ],
}
# After a group's call, on a fresh call to the same object: what survived.
AFTER: dict[str, list[dict]] = {
    "deferred_fk": [ex("posts after the reset", "SELECT id, user_id FROM posts ORDER BY id")],
    "abort": [ex("t after abort()", "SELECT n FROM t ORDER BY n")],
}


# Differences from workerd that are choices, not bugs: "sql GROUP: LABEL" -> why (docs/sqlite.md,
# "Beside workerd"). tests/test_sql_workerd.py and bench/behaviour.py fail on any other.
_EXACT_INTS = (
    "Python ints are exact: dotui answers SQLite's 64-bit integer as it is, where JavaScript turns it into a double"
)
_NO_OFFSET = (
    "Python's sqlite3 module does not expose sqlite3_error_offset(), so dotui's message has SQLite's "
    'text and error code without workerd\'s "at offset N"'
)
_ROWS_READ = (
    "Python's sqlite3 module exposes no per-statement counters of the rows SQLite visits, so dotui's "
    "rows_read counts the rows a statement returned; workerd counts the rows SQLite read (an INSERT "
    "reads 1, an IN list its values); rows_written is the same on both (but for FTS5, below)"
)
_FTS_WRITES = (
    "the same rows, written by the same trigger; the counters differ: dotui's rows_read counts the rows "
    "returned (see the iostats steps) and its rows_written is SQLite's total_changes() around the "
    "statement, which counts the rows FTS5 writes to its own shadow tables too (2 documents + 2 index "
    "rows + 8 shadow rows); workerd counts in the statement's own program (2 + 2). Python's sqlite3 module "
    "has no per-statement counter to do the same"
)
DELIBERATE = {
    "sql fts: two documents": _FTS_WRITES,
    "sql results: 2**63 - 1": _EXACT_INTS,
    "sql results: 2**53 + 1": _EXACT_INTS,
    "sql results: SELECT ;": _NO_OFFSET,
    "sql results: SELECT -;": _NO_OFFSET,
    "sql results: sqlite_version()": _NO_OFFSET,
    "sql refused: PRAGMA defer_foreign_keys = 'yes": _NO_OFFSET,
    "sql refused: a value of a type SQLite cannot store": (
        "workerd turns a JavaScript object into the text '[object Object]'; dotui refuses a binding SQLite "
        "cannot store with a TypeError naming it, before anything runs"
    ),
    "sql kv: storage.put of a 2 MiB + 1 string": (
        "dotui enforces the production value limit of SQLite-backed objects (2 MiB); the local workerd does not"
    ),
    "sql kv: storage.put of a 2,049-byte key": (
        "dotui enforces the production key limit (2,048 bytes); the local workerd does not"
    ),
    "sql abort: the call": "the same reset; dotui's message names the object and says it was aborted",
    "sql deferred_fk: the call": (
        "the same reset and rollback to the last durable state; dotui's message is the one of any commit that "
        "cannot be made durable, naming the object and SQLite's error"
    ),
    "sql iostats: INSERT: rowsWritten": _ROWS_READ,
    "sql iostats: UPDATE of 2 rows": _ROWS_READ,
    "sql iostats: IN (...) writes nothing": _ROWS_READ,
}


def same(ours, theirs) -> bool:
    """Whether dotui's answer is workerd's: equal, or a message that is workerd's followed by advice
    on what to do in Python (the same walk through nested results)."""
    if isinstance(ours, str) and isinstance(theirs, str):
        return ours == theirs or ours.startswith(theirs.rstrip(".")) and theirs != ""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(same(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(same(a, b) for a, b in zip(ours, theirs, strict=True))
    return ours == theirs


def diff(ours: dict, theirs: dict) -> list[tuple[str, object, object]]:
    """(step, dotui's answer, workerd's) of every step whose answers differ."""
    return [
        (k, ours.get(k, "<missing>"), theirs.get(k, "<missing>"))
        for k in sorted(set(ours) | set(theirs))
        if not same(ours.get(k, "<missing>"), theirs.get(k, "<missing>"))
    ]


def scenario() -> dict:
    """The whole scenario as JSON-compatible data, for either interpreter."""
    return {"groups": GROUPS, "after": AFTER}


# ================================================================ the Python interpreter
def _arg(v):
    if isinstance(v, dict):
        if "$blob" in v:
            return bytes.fromhex(v["$blob"])
        if "$string" in v:
            return "v" * v["$string"]
        if "$unstorable" in v:
            return {"a": 1}
    return v


def _value(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$blob": bytes(v).hex()}
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    return v


def _kv_options(opts: dict) -> dict:
    return {{"startAfter": "start_after"}.get(k, k): v for k, v in opts.items()}


def _entries(result) -> list:
    items = result.items() if isinstance(result, dict) else result
    return [[k, _value(v)] for k, v in items]


def _look(cursor, view: str):
    if view == "rows":
        return [_value(r) for r in cursor]
    if view == "raw":
        return [_value(r) for r in cursor.raw()]
    if view == "to_array":
        return [_value(r) for r in cursor.to_array()]
    if view == "one":
        return _value(cursor.one())
    if view == "one_then_rest":
        return {"one": _value(cursor.one()), "rest": [_value(r) for r in cursor]}
    if view == "columns":
        return list(cursor.column_names)
    if view == "names":
        return [r["name"] for r in cursor]
    if view == "count":
        return len(list(cursor))
    if view == "counts":
        rows = list(cursor)
        return {"rows": len(rows), "rows_read": cursor.rows_read, "rows_written": cursor.rows_written}
    if view == "next":
        out = []
        for _ in range(4):
            try:
                out.append({"value": _value(next(cursor))})
            except StopIteration:
                out.append({"done": True})
        return out
    if view == "none":
        list(cursor)
        return "ok"
    raise ValueError(f"unknown view {view!r}")


class _Thrown(Exception):
    """An error a step throws on purpose (a transaction's callback)."""


async def run_steps(ctx, steps: list[dict]) -> dict:
    """Run ``steps`` on a SQLite-backed object's ``ctx``: label -> {"ok": ...} or {"error": ...}."""
    out: dict = {}
    for step in steps:
        if "wait" in step:
            # workerd's scheduler.wait(1) ends the implicit transaction: what came before commits on its own.
            # dotui's commits are the committer's groups, which an await does not end (writes before and after
            # it may share one), so the boundary is said: sync() returns once the writes before it are durable
            # (docs/sqlite.md, "Beside workerd").
            await asyncio.sleep(step["wait"] / 1000)
            await ctx.storage.sync()
            continue
        try:
            out[step["l"]] = {"ok": await _run(ctx, step, out)}
        except _Thrown as exc:
            out[step["l"]] = {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - each step's error is its result
            out[step["l"]] = {"error": str(exc)}
    return out


def _run_sync(ctx, step: dict, out: dict):
    """One step that needs no await (inside transaction_sync every step is one)."""
    s = ctx.storage
    if "exec" in step:
        return _look(s.sql.exec(step["exec"], *[_arg(b) for b in step["bind"]]), step["view"])
    if "kv" in step:
        fn = getattr(s.kv, step["kv"])
        args = [_arg(a) for a in step["args"]]
        if step["kv"] == "list":
            return _entries(fn(**_kv_options(args[0])))
        return _value(fn(*args))
    if "storage" in step:
        name = {"deleteAll": "delete_all"}.get(step["storage"], step["storage"])
        result = getattr(s, name)(*[_arg(a) for a in step["args"]])
        if step.get("view") == "len":
            return len(result)
        return _value(result)
    if "alarm" in step:
        if step["alarm"] == "set":
            import time

            s.set_alarm(time.time() + 86400 * 365)
            return "set"
        return None if s.get_alarm() is None else "set"
    if "txn" in step:
        inner: dict = {}

        def body():
            for sub in step["txn"]:
                try:
                    inner[sub["l"]] = {"ok": _run_sync(ctx, sub, inner)}
                except Exception as exc:
                    if sub.get("escape"):
                        raise
                    inner[sub["l"]] = {"error": str(exc)}
            if "throw" in step:
                raise _Thrown(step["throw"])
            return step.get("returns")

        try:
            result = s.transaction_sync(body)
        except Exception as exc:  # noqa: BLE001 - the error is the step's result, compared with the peer's
            return {"inner": inner, "error": str(exc)}
        return {"inner": inner, "returned": result}
    if "size_delta" in step:
        before = s.sql.database_size
        list(s.sql.exec(step["size_delta"]))
        return s.sql.database_size - before
    raise ValueError(f"unknown step {step!r}")


async def _run(ctx, step: dict, out: dict):
    s = ctx.storage
    if "atxn" in step:
        inner: dict = {}
        try:
            with s.transaction() as txn:
                for sub in step["atxn"]:
                    inner[sub["l"]] = {"ok": _run_sync(ctx, sub, inner)}
                if step.get("rollback"):
                    txn.rollback()
                if "throw" in step:
                    raise _Thrown(step["throw"])
        except _Thrown as exc:
            return {"inner": inner, "error": str(exc)}
        return {"inner": inner, "returned": None}
    if "abort" in step:
        ctx.abort(step["abort"])
    return _run_sync(ctx, step, out)


OBJECTS = """
from dotui import DurableObject
from sql_scenario import run_steps


class SqlScenario(DurableObject):
    storage_backend = "sqlite"

    async def alarm(self, info):
        pass

    async def run(self, steps):
        return await run_steps(self.ctx, steps)
"""


async def run_dotui(engine_on) -> dict:
    """Every group on dotui, in ``engine_on`` (bench/behaviour.py's engine on a temporary folder)."""
    sys.path.insert(0, HERE)
    try:
        async with engine_on("sql_scenario_objects.py", OBJECTS) as e:
            return await _groups(lambda name: e.env.SqlScenario.get_by_name(name))
    finally:
        sys.path.remove(HERE)


async def _groups(stub_for) -> dict:
    out: dict = {}
    for group, steps in GROUPS.items():
        try:
            answer = {"steps": await stub_for(group).run(steps), "call": "returned"}
        except Exception as exc:  # noqa: BLE001 - the error is the group's result, compared with the peer's
            answer = {"steps": None, "call": f"error: {exc}"}
        if group in AFTER:
            try:
                answer["after"] = await stub_for(group).run(AFTER[group])
            except Exception as exc:  # noqa: BLE001 - the error is the result, compared with the peer's
                answer["after"] = f"error: {exc}"
        out[group] = answer
    return out


def run_peer() -> dict:
    """Every group on workerd (miniflare, bench/peer)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "steps.json")
        with open(path, "w") as f:
            json.dump(scenario(), f)
        done = subprocess.run(
            ["node", "sql_scenario.mjs", "--persist", os.path.join(tmp, "data"), "--steps", path],
            cwd=os.path.join(HERE, "peer"),
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the peer SQL scenario failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout)


def flatten(answers: dict) -> dict:
    """group -> steps, as one dict of "group: label" -> result, the shape bench/behaviour.py diffs."""
    out = {}
    for group, answer in answers.items():
        out[f"sql {group}: the call"] = answer["call"]
        for part in ("steps", "after"):
            steps = answer.get(part)
            if isinstance(steps, dict):
                for label, result in steps.items():
                    out[f"sql {group}: {label}"] = result
            elif steps is not None:
                out[f"sql {group}: {part}"] = steps
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--record"]:
        with open(EXPECTED, "w") as f:
            json.dump(run_peer(), f, indent=1, ensure_ascii=False, sort_keys=True)
            f.write("\n")
        print(f"wrote {EXPECTED}")
    else:
        print(json.dumps(run_peer(), indent=1, ensure_ascii=False))
