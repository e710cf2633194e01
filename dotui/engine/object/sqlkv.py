"""The KV API of a SQLite-backed object: ``ctx.storage.get/put/delete/list/delete_all`` and
``ctx.storage.kv``, on the hidden ``_cf_KV`` table of the object's database (docs/sqlite.md).

The same calls, limits and messages as the KV backend (README, "Storage"), but values up to 2 MiB
(``limits.SQLITE_MAX_VALUE_BYTES``), as Cloudflare's SQLite backend. Each read and write is one
indexed statement: O(log keys) a key, O(keys listed) a list; nothing is held in memory.
"""

from __future__ import annotations

import builtins
import sqlite3
from typing import TYPE_CHECKING, Any, overload

from .. import values
from ..errors import SqlError
from .limits import SQLITE_MAX_VALUE_BYTES, check_batch, check_list_bounds, key_bytes, prefix_end, value_text

if TYPE_CHECKING:
    from .sqlstorage import SqlStorage

_MISSING = object()
_GET = "SELECT value FROM _cf_KV WHERE key = ?"
_UPDATE = "UPDATE _cf_KV SET value = ? WHERE key = ?"
_INSERT = "INSERT INTO _cf_KV VALUES (?, ?)"
_DELETE = "DELETE FROM _cf_KV WHERE key = ?"


class KvApi:
    """``ctx.storage.kv``: the synchronous KV API of the SQLite backend (get, put, delete, list)."""

    __slots__ = ("_storage",)

    def __init__(self, storage: SqlStorage):
        self._storage = storage

    def get(self, key: str, default: Any = None) -> Any:
        return self._storage.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self._storage.put(key, value)

    def delete(self, key: str) -> bool:
        return self._storage.delete(key)

    def list(self, **bounds: Any) -> dict[str, Any]:
        return self._storage.list(**bounds)


class SqlKv:
    """The KV methods of ``SqlStorage`` (it mixes them in): they run the engine's own statements
    (``_trusted``) in its open transaction and tell it what they wrote (``_wrote``)."""

    # The fields and methods of the SqlStorage these run on (sqlstorage.py; declared here for the type checker).
    _kv_count: int | None
    _alarm: float | None
    _conn: sqlite3.Connection
    if TYPE_CHECKING:

        def _check_open(self) -> None: ...
        def _trusted(self, sql: str, params: tuple = ()) -> sqlite3.Cursor: ...
        def _begin(self) -> None: ...
        def _end_read(self) -> None: ...
        def _wrote(self) -> None: ...
        def _failed(self, exc: BaseException, had_txn: bool) -> None: ...
        def _set_alarm(self, when: float | None) -> None: ...

    def get(self, key: str | list[str], default: Any = None) -> Any:
        """The value of ``key`` (a fresh copy), or ``default``; with a list, a dict of those found.
        One indexed statement a key, in the read transaction of this stretch (``_end_read``)."""
        self._check_open()
        if isinstance(key, (list, tuple)):
            check_batch(key, "get")
            for k in key:
                key_bytes(k)
            self._begin()
            found = {}
            for k in sorted(set(key)):
                row = self._trusted(_GET, (k,)).fetchone()
                if row is not None:
                    found[k] = values.decode(row[0])
            self._end_read()
            return found
        key_bytes(key)
        self._begin()
        row = self._trusted(_GET, (key,)).fetchone()
        self._end_read()
        return default if row is None else values.decode(row[0])

    def list(
        self,
        *,
        start: str | None = None,
        start_after: str | None = None,
        end: str | None = None,
        prefix: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """Keys and values in key order, as the KV backend's ``list`` (README, "Storage")."""
        self._check_open()
        check_list_bounds(start, start_after, end, prefix, limit)
        where: builtins.list[str] = []
        params: builtins.list[str | int] = []
        if start is not None:
            where.append("key >= ?")
            params.append(start)
        if start_after is not None:
            where.append("key > ?")
            params.append(start_after)
        if end is not None:
            where.append("key < ?")
            params.append(end)
        if prefix:
            where.append("key >= ?")
            params.append(prefix)
            stop = prefix_end(prefix)
            if stop is not None:
                where.append("key < ?")
                params.append(stop)
        sql = "SELECT key, value FROM _cf_KV"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY key" + (" DESC" if reverse else "")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        self._begin()
        found = {k: values.decode(v) for k, v in self._trusted(sql, tuple(params))}
        self._end_read()
        return found

    # ---------------------------------------------------------------- KV writes
    def put(self, key: str | dict[str, Any], value: Any = _MISSING) -> None:
        """Write ``key`` (values up to 2 MiB as JSON); given a dict, every entry (all or nothing)."""
        self._check_open()
        if isinstance(key, dict):
            if value is not _MISSING:
                raise TypeError("put(dict) takes no second argument")
            check_batch(key, "put")
            rows = [(k, self._text(k, v)) for k, v in key.items()]
        else:
            if value is _MISSING:
                raise TypeError("put(key, value) needs a value; to remove a key use delete(key)")
            rows = [(key, self._text(key, value))]
        self._write_kv(rows, [])

    @staticmethod
    def _text(key: Any, value: Any) -> str:
        key_bytes(key)
        return value_text(key, value, SQLITE_MAX_VALUE_BYTES)[0]

    @overload
    def delete(self, key: str) -> bool: ...
    @overload
    def delete(self, key: builtins.list[str]) -> int: ...
    def delete(self, key: str | builtins.list[str]) -> bool | int:
        """Remove ``key`` → whether it existed; with a list → how many existed."""
        self._check_open()
        keys = list(dict.fromkeys(key)) if isinstance(key, (list, tuple)) else [key]
        if isinstance(key, (list, tuple)):
            check_batch(key, "delete")
        for k in keys:
            key_bytes(k)
        gone = self._write_kv([], keys)
        return gone if isinstance(key, (list, tuple)) else gone > 0

    def _write_kv(self, rows: builtins.list[tuple[str, str]], deletes: builtins.list[str]) -> int:
        """Upsert ``rows`` and delete ``deletes`` (a batch is all or nothing: a savepoint around
        several); how many of ``deletes`` existed. Keeps the key count (O(1) a key once counted):
        an UPDATE of the key, and an INSERT only if it changed no row, so a key written again costs
        one statement (a SELECT, an upsert and a savepoint were four)."""
        self._begin()
        count = self.counted_keys()
        several = len(rows) + len(deletes) > 1
        try:
            if several:
                self._trusted("SAVEPOINT _cf_kv")
            added = gone = 0
            for k, text in rows:
                if self._trusted(_UPDATE, (text, k)).rowcount == 0:
                    self._trusted(_INSERT, (k, text))
                    added += 1
            for k in deletes:
                gone += self._trusted(_DELETE, (k,)).rowcount
            if several:
                self._trusted("RELEASE _cf_kv")
        except sqlite3.Error as exc:
            if several and self._conn.in_transaction:
                self._trusted("ROLLBACK TO _cf_kv")
                self._trusted("RELEASE _cf_kv")
            self._failed(exc, True)
            self._end_read()
            raise SqlError(f"{exc}: {getattr(exc, 'sqlite_errorname', 'SQLITE_ERROR')}") from None
        self._kv_count = count + added - gone
        self._wrote()
        return gone

    def counted_keys(self) -> int:
        """The KV keys this object holds: counted the first time, then kept by each write."""
        if self._kv_count is None:  # once a wake, and only for an object that writes KV: O(keys) in C
            self._kv_count = self._trusted("SELECT count(*) FROM _cf_KV").fetchone()[0]
        return self._kv_count

    def delete_all(self) -> None:
        """Remove everything: every table, view, index and trigger of the object's SQL, every KV
        key and the alarm (as Cloudflare's SQLite-backed ``deleteAll``)."""
        self._check_open()
        self._begin()
        self._trusted("PRAGMA defer_foreign_keys = ON")
        objects = self._trusted(
            "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger', 'table') "
            "AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ).fetchall()
        for kind, name in sorted(objects, key=lambda o: ("view", "trigger", "table").index(o[0])):
            self._trusted(f'DROP {kind.upper()} IF EXISTS "{name.replace(chr(34), chr(34) * 2)}"')
        self._trusted("DELETE FROM _cf_KV")
        self._kv_count = 0
        self._wrote()
        if self._alarm is not None:
            self._set_alarm(None)
