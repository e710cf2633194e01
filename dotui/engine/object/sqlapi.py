"""``ctx.storage.sql`` of a SQLite-backed object: ``exec`` and its cursor, and what SQL may do.

The Python spelling of Cloudflare's SQL API (docs/sqlite.md, "The API"): ``exec(query, *bindings)``
runs every statement of ``query`` in order and returns a ``Cursor`` over the last one's rows.
What a statement may do is workerd's rule, applied by SQLite's authorizer (``Regulator``): the
engine's ``_cf_`` tables are hidden, ``BEGIN``/``COMMIT``/``SAVEPOINT`` are refused with
Cloudflare's message (``transaction_sync`` is the way), and so are ATTACH, temporary tables,
virtual tables but FTS5 and R*Tree, the PRAGMAs Cloudflare does not list and the functions it does
not list. Every error is a ``SqlError`` with Cloudflare's message.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from ..errors import SqlError

TRANSACTION_REFUSED = (
    "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() "
    "APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it "
    "will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' "
    "automatic atomic write coalescing. (In Python: ctx.storage.transaction_sync(fn) or "
    "`with ctx.storage.transaction():`.)"
)
NO_STATEMENT = "SQL code did not contain a statement."
WRONG_BINDINGS = "Wrong number of parameter bindings for SQL query."
MAX_RESULT_ROWS = 1_000_000  # rows one cursor holds; past it the query is refused (docs/sqlite.md)

_S = sqlite3
_ALWAYS = {_S.SQLITE_SELECT, _S.SQLITE_RECURSIVE, _S.SQLITE_ANALYZE}
_NAMED = {
    _S.SQLITE_CREATE_TABLE,
    _S.SQLITE_DELETE,
    _S.SQLITE_DROP_TABLE,
    _S.SQLITE_INSERT,
    _S.SQLITE_CREATE_VIEW,
    _S.SQLITE_DROP_VIEW,
    _S.SQLITE_REINDEX,
    _S.SQLITE_READ,
    _S.SQLITE_UPDATE,
}
_TWO_NAMES = {_S.SQLITE_CREATE_INDEX, _S.SQLITE_DROP_INDEX, _S.SQLITE_CREATE_TRIGGER, _S.SQLITE_DROP_TRIGGER}
# What writes: every named action but a read, and the schema changes that name none or two.
WRITES = (
    (_NAMED - {_S.SQLITE_READ})
    | _TWO_NAMES
    | {
        _S.SQLITE_ANALYZE,
        _S.SQLITE_ALTER_TABLE,
        _S.SQLITE_CREATE_VTABLE,
        _S.SQLITE_DROP_VTABLE,
    }
)
_VTABLES = {"fts5", "fts5vocab", "rtree", "rtree_i32"}
_BOOLEAN_PRAGMAS = {
    "case_sensitive_like",
    "foreign_keys",
    "defer_foreign_keys",
    "ignore_check_constraints",
    "legacy_alter_table",
    "recursive_triggers",
    "reverse_unordered_selects",
}
_BOOLEANS = ("true", "false", "yes", "no", "on", "off", "1", "0")
FUNCTIONS = frozenset(
    """
abs changes char coalesce concat concat_ws format glob hex ifnull iif instr last_insert_rowid length like likelihood
likely lower ltrim max min nullif octet_length printf quote random randomblob replace round rtrim sign soundex substr
substring total_changes trim typeof unhex unicode unlikely upper zeroblob date time datetime julianday unixepoch
strftime timediff current_date current_time current_timestamp avg count group_concat string_agg sum total row_number
rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value acos acosh asin asinh atan
atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10 log2 mod pi pow power radians sin sinh sqrt tan tanh
trunc json jsonb json_array jsonb_array json_array_length json_extract jsonb_extract json_insert jsonb_insert
json_object jsonb_object json_patch jsonb_patch json_remove jsonb_remove json_replace jsonb_replace json_set
jsonb_set json_type json_valid json_quote json_group_array jsonb_group_array json_group_object jsonb_group_object
json_each json_tree -> ->> match highlight bm25 snippet rtreecheck sqlite_rename_column sqlite_rename_table
sqlite_rename_test sqlite_drop_column sqlite_rename_quotefix
""".split()
)


def allowed_name(name: str | None) -> bool:
    """workerd's rule: a name starting ``_cf_`` (any case) is the engine's."""
    return name is None or not name[:4].lower() == "_cf_"


class Regulator:
    """SQLite's authorizer for one connection: everything while ``trusted`` (the engine's own
    statements), workerd's rules otherwise. It notes whether a statement writes (``saw_write``),
    whether it was asked at all (``asked``: a statement from the cache is not asked again) and
    whether a transaction statement was refused (``refused_txn``)."""

    __slots__ = ("trusted", "saw_write", "asked", "refused_txn")

    def __init__(self) -> None:
        self.trusted = False
        self.saw_write = self.asked = self.refused_txn = False

    def reset(self) -> None:
        self.saw_write = self.asked = self.refused_txn = False

    def __call__(self, action: int, a: str | None, b: str | None, db: str | None, source: str | None) -> int:
        if self.trusted:
            return _S.SQLITE_OK
        self.asked = True
        ok = self._allowed(action, a, b, db)
        if ok and action in WRITES:
            self.saw_write = True
        return _S.SQLITE_OK if ok else _S.SQLITE_DENY

    def _allowed(self, action: int, a: str | None, b: str | None, db: str | None) -> bool:
        if action == _S.SQLITE_ALTER_TABLE:  # (database, table); the new name is checked after it ran.
            return a == "main" and allowed_name(b)  # DROP COLUMN passes the column where others pass db
        if db == "temp":  # SQLite reads its temp schema itself (ALTER TABLE): reads only, as workerd
            return action in (_S.SQLITE_READ, _S.SQLITE_UPDATE) and allowed_name(a)
        if db is not None and db != "main":
            return False  # attached databases: workerd's storage keeps one file
        if action in _ALWAYS:
            return True
        if action in _NAMED:
            return allowed_name(a)
        if action in _TWO_NAMES:
            return allowed_name(a) and allowed_name(b)
        if action in (_S.SQLITE_TRANSACTION, _S.SQLITE_SAVEPOINT):
            self.refused_txn = True
            return False
        if action == _S.SQLITE_PRAGMA:
            return _pragma_allowed((a or "").lower(), b)
        if action == _S.SQLITE_FUNCTION:
            return (b or "").lower() in FUNCTIONS
        if action in (_S.SQLITE_CREATE_VTABLE, _S.SQLITE_DROP_VTABLE):
            return (b or "").lower() in _VTABLES and allowed_name(a)
        return False  # ATTACH, DETACH, temporary objects, anything new


def _pragma_allowed(pragma: str, arg: str | None) -> bool:
    if pragma == "table_list":
        return True
    if pragma in ("table_info", "table_xinfo"):
        return arg is not None and allowed_name(arg)
    if pragma in ("data_version", "page_size"):
        return arg is None
    if pragma in _BOOLEAN_PRAGMAS:
        return arg is None or arg.strip("'\"").lower() in _BOOLEANS
    if pragma in ("foreign_key_list", "index_info", "index_list", "index_xinfo"):
        return arg is not None and allowed_name(arg)
    if pragma == "foreign_key_check":
        return allowed_name(arg)
    if pragma == "optimize":
        return arg is None or _is_int(arg)
    if pragma == "quick_check":
        return arg is None or _is_int(arg) or allowed_name(arg)
    return False


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def split(query: str) -> list[str]:
    """The statements of ``query`` in order (SQLite's own test of a complete statement decides
    where one ends); ``SqlError`` when there is none, or text that is no statement follows the
    last (a trailing comment, as Cloudflare). O(len(query) x statements)."""
    if not isinstance(query, str):
        raise TypeError(f"sql.exec takes the query as a str, not {type(query).__name__}")
    out, start = [], 0
    i = query.find(";")
    while i != -1:
        piece = query[start : i + 1]
        if sqlite3.complete_statement(piece):
            if not _blank(piece):
                out.append(piece)
            start = i + 1
        i = query.find(";", i + 1)
    rest = query[start:]
    if rest.strip():
        if _blank(rest):
            raise SqlError(NO_STATEMENT)
        out.append(rest)
    if not out:
        raise SqlError(NO_STATEMENT)
    return out


def _blank(piece: str) -> bool:
    """Whether ``piece`` holds nothing but blanks, semicolons and comments."""
    i, n = 0, len(piece)
    while i < n:
        c = piece[i]
        if c in " \t\r\n\f\v;":
            i += 1
        elif piece.startswith("--", i):
            j = piece.find("\n", i)
            i = n if j == -1 else j + 1
        elif piece.startswith("/*", i):
            j = piece.find("*/", i + 2)
            i = n if j == -1 else j + 2
        else:
            return False
    return True


_BINDABLE = (type(None), int, float, str, bytes, bytearray, memoryview, bool)
_INT_MIN, _INT_END = -(2**63), 2**63


def check_bindings(bindings: tuple) -> tuple:
    """Bindings SQLite can store: None, int (64-bit), float, str, bytes (a BLOB); TypeError naming
    the first one that is not, before anything runs. O(bindings), plus O(len) of a str that is not
    ASCII (its UTF-8 is checked)."""
    for n, v in enumerate(bindings, 1):
        kind = type(v)
        if kind is str:
            if v.isascii():
                continue
            try:
                v.encode()
            except UnicodeEncodeError:
                raise TypeError(
                    f"sql.exec binding {n} is not valid Unicode text (a lone surrogate); SQLite stores UTF-8 text"
                ) from None
        elif kind is int:
            if not _INT_MIN <= v < _INT_END:
                raise TypeError(f"sql.exec binding {n} is {v}, past SQLite's 64-bit integers; store it as text")
        elif kind is float or kind is bytes or v is None:
            continue
        elif not isinstance(v, _BINDABLE):
            raise TypeError(
                f"sql.exec binding {n} is a {kind.__name__} ({v!r:.60}); SQLite stores None, int, "
                "float, str and bytes only: encode it first (e.g. json.dumps for a dict or list)"
            )
    return bindings


class Statement:
    """One statement of a query, as ``exec`` runs it: its text, whether it is an ALTER (run in a
    savepoint of its own: sqlstorage.py), and whether it writes (``None`` until SQLite's
    authorizer has seen it: a statement from SQLite's cache is not authorized again)."""

    __slots__ = ("text", "alter", "writes")

    def __init__(self, text: str):
        self.text = text
        self.alter = text.lstrip()[:5].upper() == "ALTER"
        self.writes: bool | None = None


PLANS_KEPT = 256  # queries whose statements one connection remembers (as its SQLite statement cache)
PLAN_CHARS = 64 * 1024  # and at most this much of their text: a bound on the memory, O(1) a query


class Plans:
    """The statements of each query an object ran (``split``'s answer and what each was seen to
    do), so a query run again is one dict lookup, not a parse. Bounded: past ``PLANS_KEPT``
    queries or ``PLAN_CHARS`` of text it starts over (a query then costs one ``split`` again)."""

    __slots__ = ("_plans", "_chars")

    def __init__(self) -> None:
        self._plans: dict[str, tuple[Statement, ...]] = {}
        self._chars = 0

    def get(self, query: str) -> tuple[Statement, ...]:
        """``query``'s statements (``SqlError`` or ``TypeError`` as ``split``). O(1) for a query
        seen before, O(len(query)) the first time."""
        if type(query) is str:
            plan = self._plans.get(query)
            if plan is not None:
                return plan
        plan = tuple(Statement(text) for text in split(query))
        if len(query) <= PLAN_CHARS:
            if len(self._plans) >= PLANS_KEPT or self._chars + len(query) > PLAN_CHARS:
                self._plans.clear()
                self._chars = 0
            self._plans[query] = plan
            self._chars += len(query)
        return plan

    def __len__(self) -> int:
        return len(self._plans)

    @property
    def chars(self) -> int:
        """The text of the queries remembered, in characters (at most ``PLAN_CHARS``)."""
        return self._chars


def sql_error(exc: BaseException, regulator: Regulator) -> SqlError:
    """Cloudflare's message for a failed statement: SQLite's, then its error code."""
    if regulator.refused_txn:
        return SqlError(TRANSACTION_REFUSED)
    if isinstance(exc, sqlite3.ProgrammingError) and "bindings" in str(exc):
        return SqlError(WRONG_BINDINGS)
    name = getattr(exc, "sqlite_errorname", None)
    text = str(exc)
    if name and (getattr(exc, "sqlite_errorcode", 0) or 0) > 0xFF:  # an extended code: workerd names both
        name = f"{'_'.join(name.split('_')[:2])} (extended: {name})"  # SQLITE_CONSTRAINT (extended: ..._CHECK)
    return SqlError(f"{text}: {name}" if name else text)


class Cursor:
    """The rows of the last statement an ``exec`` ran, read once: iterate for dicts, or
    ``to_array()``, ``one()``, ``raw()``; ``column_names``, ``rows_read``, ``rows_written``."""

    __slots__ = ("column_names", "rows_read", "rows_written", "_rows", "_next")

    def __init__(self, column_names: list[str], rows: list[tuple], rows_read: int, rows_written: int):
        self.column_names = column_names
        self.rows_read = rows_read
        self.rows_written = rows_written
        self._rows = rows
        self._next = 0

    def _take(self) -> list[tuple]:
        rows, self._rows = self._rows, []
        if self._next:
            rows, self._next = rows[self._next :], 0
        return rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = self.column_names
        for row in self._take():
            yield dict(zip(names, row, strict=False))

    def __next__(self) -> dict[str, Any]:
        if self._next >= len(self._rows):
            raise StopIteration
        row = self._rows[self._next]
        self._next += 1
        return dict(zip(self.column_names, row, strict=False))

    def to_array(self) -> list[dict[str, Any]]:
        """Every row not read yet, as dicts."""
        names = self.column_names
        return [dict(zip(names, row, strict=False)) for row in self._take()]

    def one(self) -> dict[str, Any]:
        """The one row; an error (Cloudflare's message) unless exactly one is left."""
        rows = self._take()
        if len(rows) == 1:
            return dict(zip(self.column_names, rows[0], strict=False))
        if not rows:
            raise SqlError("Expected exactly one result from SQL query, but got no results.")
        raise SqlError("Expected exactly one result from SQL query, but got multiple results.")

    def raw(self) -> Iterator[list[Any]]:
        """Every row not read yet, as lists in column order."""
        for row in self._take():
            yield list(row)

    def __repr__(self) -> str:
        return f"<Cursor columns={self.column_names} rows_left={len(self._rows) - self._next}>"


class SqlApi:
    """``ctx.storage.sql``."""

    __slots__ = ("_storage",)

    def __init__(self, storage: Any):
        self._storage = storage

    def exec(self, query: str, *bindings: Any) -> Cursor:
        """Run ``query``'s statements in order (the bindings go to the last); a cursor over the
        last one's rows. A statement that fails undoes nothing that ran before it."""
        return self._storage.run_sql(query, bindings)

    @property
    def database_size(self) -> int:
        """Bytes the database takes on disk (pages in use times the page size)."""
        return self._storage.byte_size
