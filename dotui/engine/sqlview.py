"""A SQLite-backed object's database as the front ends see it: read-only, without waking the object.

The storage studio (docs/sqlite.md, "The storage studio") and the ``sql``/``tables`` commands read the
object's database file on a connection of their own, opened read-only (``mode=ro``) with
``query_only`` on, so nothing they run can write, whether the object is live or hibernated. The
reader sees what is committed to the file (a live object's open transaction is its own until it
commits), as ``storage`` shows a KV object's checkpoint and log.

Every read is bounded: a statement runs at most ``TIME_LIMIT`` seconds (SQLite's progress handler
interrupts it), a page holds at most ``MAX_ROWS`` rows and about ``MAX_BYTES`` of values, and the
engine's own tables (``_cf_``, as Cloudflare's) are refused as they are to the object's own SQL.
Values come back JSON-compatible: a BLOB as ``{"$blob": hex}``, a non-finite real as its text.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
import urllib.parse
from typing import Any

TIME_LIMIT = 5.0  # seconds a read may run before it is interrupted
MAX_ROWS = 1000  # rows of one page
MAX_BYTES = 8 * 1024 * 1024  # about this many bytes of values in one page; the page ends early past it
HIDDEN = "_cf_"  # the engine's tables: never shown, never readable here

_READS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_NAMING_PRAGMAS = {
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "quick_check",
    "integrity_check",
}  # their argument names a table
_READING_PRAGMAS = {
    "table_list",
    "page_count",
    "page_size",
    "freelist_count",
    "data_version",
    "user_version",
    "schema_version",
    "collation_list",
}  # read with no argument (an argument would set them)


class SqlReadError(ValueError):
    """The read was refused or SQLite could not run it: the message says what and what to do."""


def encode(value: Any) -> Any:
    """One SQL value, JSON-compatible (the encoding every front end reads)."""
    if isinstance(value, bytes):
        return {"$blob": value.hex()}
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def decode(bindings: list | None) -> list[Any]:
    """Bindings as JSON carries them: ``{"$blob": hex}`` is a BLOB, anything else as it is (SQLite,
    or ``sql.exec``, checks its type). SqlReadError for a BLOB that is not hex. O(bindings)."""
    out = []
    for n, value in enumerate(bindings or [], 1):
        if isinstance(value, dict) and set(value) == {"$blob"}:
            try:
                value = bytes.fromhex(value["$blob"])
            except (TypeError, ValueError):
                raise SqlReadError(f"binding {n}: {value['$blob']!r:.60} is not a BLOB's hex digits") from None
        out.append(value)
    return out


def _authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
    """Reads only; the engine's tables and schema-changing PRAGMAs refused. O(1) a check."""
    if action == sqlite3.SQLITE_READ and arg1 and arg1.startswith(HIDDEN):
        return sqlite3.SQLITE_DENY
    if action in _READS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master" and db == "main":
        # FTS5 opening a table prepares a statement that names sqlite_master's columns for update (and
        # runs nothing of it); SQLite writes no schema row here (query_only=ON, no writable_schema)
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        pragma = (arg1 or "").lower()
        if pragma in _NAMING_PRAGMAS and not (arg2 or "").startswith(HIDDEN):
            return sqlite3.SQLITE_OK
        if pragma in _READING_PRAGMAS and arg2 is None:
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _open(path: str) -> sqlite3.Connection:
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    for pragma in ("query_only=ON", "trusted_schema=OFF", "cell_size_check=ON", "mmap_size=0"):
        conn.execute(f"PRAGMA {pragma}")
    deadline = time.monotonic() + TIME_LIMIT
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    conn.set_authorizer(_authorize)
    return conn


def _refused(exc: sqlite3.Error | sqlite3.Warning, sql: str) -> SqlReadError:
    text = str(exc)
    if "not authorized" in text or "authorization denied" in text:
        return SqlReadError(
            f"{text}: this runs read-only on the object's file and cannot change it or read the "
            "engine's _cf_ tables; to write, call a method of the object (or use sql --write, "
            "which goes through its queue)"
        )
    if text == "interrupted":
        return SqlReadError(f"the query ran past {TIME_LIMIT:.0f} s and was stopped: add a WHERE or a LIMIT")
    return SqlReadError(f"{text} (in {sql[:200]!r})")


def tables(path: str) -> dict[str, Any]:
    """The object's tables and views (its own, not the engine's): name, type, columns (name, type,
    pk, notnull, default), indexes, row count; and the file's size. O(tables + rows counted)."""
    if not os.path.isfile(path):
        return {"path": path, "exists": False, "size": 0, "tables": []}
    conn = _open(path)
    try:
        out = []
        listed = conn.execute("PRAGMA table_list").fetchall()  # schema, name, type, ncol, wr, strict
        for schema, name, kind, _ncol, without_rowid, strict in sorted(listed, key=lambda r: r[1]):
            if schema != "main" or kind not in ("table", "view", "virtual") or name.startswith((HIDDEN, "sqlite_")):
                continue
            q = '"' + name.replace('"', '""') + '"'
            columns = [
                {"name": c[1], "type": c[2], "notnull": bool(c[3]), "default": c[4], "pk": c[5]}
                for c in conn.execute(f"PRAGMA table_xinfo({q})")
                if c[6] == 0
            ]
            indexes = [i[1] for i in conn.execute(f"PRAGMA index_list({q})")]
            rows = conn.execute(f"SELECT count(*) FROM {q}").fetchone()[0]
            sql = conn.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (name,)).fetchone()
            out.append(
                {
                    "name": name,
                    "type": kind,
                    "columns": columns,
                    "indexes": indexes,
                    "rows": rows,
                    "without_rowid": bool(without_rowid),
                    "strict": bool(strict),
                    "sql": sql and sql[0],
                }
            )
        size = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        return {"path": path, "exists": True, "size": size, "tables": out}
    except sqlite3.Error as exc:
        raise _refused(exc, "PRAGMA table_list") from None
    finally:
        conn.close()


def query(
    path: str, sql: str, bindings: list | None = None, offset: int = 0, limit: int = 100, count: bool = True
) -> dict[str, Any]:
    """One page of a read-only statement's rows: ``{"columns", "rows" (lists), "count" (every row, if
    ``count``), "more"}``. O(offset + limit), O(rows) with ``count``; bounded by TIME_LIMIT."""
    if not isinstance(sql, str) or not sql.strip():
        raise SqlReadError("the query is empty: give one SQL statement, e.g. SELECT * FROM sqlite_schema")
    if not 0 <= offset or not 1 <= limit <= MAX_ROWS:
        raise SqlReadError(f"offset must be >= 0 and limit 1..{MAX_ROWS}; got offset {offset}, limit {limit}")
    if not os.path.isfile(path):
        raise SqlReadError(
            "the object has no database file yet: it has written nothing (it comes to exist, "
            "with its tables, at its first call that writes)"
        )
    conn = _open(path)
    try:
        cursor = conn.execute(sql, decode(bindings))
        columns = [d[0] for d in cursor.description or ()]
        seen, rows, size = 0, [], 0
        for row in cursor:
            if offset <= seen < offset + limit and size < MAX_BYTES:
                rows.append([encode(v) for v in row])
                size += sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in row)
            elif not count and seen >= offset + limit:
                return {"columns": columns, "rows": rows, "count": None, "more": True}
            seen += 1
        return {"columns": columns, "rows": rows, "count": seen if count else None, "more": seen > offset + len(rows)}
    except (sqlite3.Error, sqlite3.Warning) as exc:
        raise _refused(exc, sql) from None
    except (OverflowError, TypeError) as exc:
        raise SqlReadError(f"a binding SQLite cannot take: {exc}") from None
    finally:
        conn.close()
