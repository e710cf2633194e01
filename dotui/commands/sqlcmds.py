"""The commands of SQLite-backed objects (docs/sqlite.md, "The storage studio"): ``sql``, ``tables``,
``bookmark`` and ``restore``, registered in the one registry.

``sql`` and ``tables`` read the object's database file read-only and wake nothing; ``sql --write``,
``restore`` go through the object's own queue, as a call does. Each returns data; the front ends
render it (``present/sql.py``).
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

from ..engine.errors import SqlError
from ..engine.rows import InstanceRow
from .builtins import command, existing_instance, iso_time
from .parsing import ParseError, Ref
from .registry import Arg, Kind, Option
from .runner import CommandError, Context

SQL_PAGE = 50  # rows a page of sql shows


def _sqlite_object(ctx: Context, ref: Ref) -> InstanceRow:
    """The object ``ref`` names, which must exist and be of a SQLite-backed class."""
    info = existing_instance(ctx, ref)
    for ns in ctx.facade.namespaces():
        if ns["name"] == ref.namespace and ns.get("backend", "kv") != "sqlite":
            raise CommandError(
                f"{ref.namespace} keeps key-value storage (storage_backend = {ns.get('backend', 'kv')!r}): "
                "it has no SQL tables",
                f'storage {ref} shows its keys; a class with storage_backend = "sqlite" has SQL',
            )
    return info


@command(
    "sql",
    summary="run SQL on a SQLite-backed object: read-only on its file (wakes nothing), or --write through its queue",
    usage='sql REF "QUERY" [BINDING ...] [--write] [--page N]',
    args=(
        Arg("ref", Kind.REF),
        Arg("query", Kind.TEXT, help="one SQL statement, quoted"),
        Arg("bindings", Kind.ARGS, optional=True, help="values for its ? placeholders"),
    ),
    options=(
        Option(
            "--write",
            "write",
            help="run it in the object, through its queue, as ctx.storage.sql.exec "
            "(it wakes the object; durable when it returns)",
        ),
        Option("--page", "page", kind=Kind.COUNT, help=f"page N of {SQL_PAGE} rows (default 1)"),
    ),
    examples=(
        'sql Todo/home "SELECT * FROM todo WHERE done = ?" 0',
        'sql Todo/home "SELECT count(*) FROM todo"',
        'sql Todo/home "UPDATE todo SET done = 1 WHERE id = ?" 3 --write',
    ),
    details="Without --write the statement runs on the object's database file, read-only: a live object's "
    "writes show once they are committed; anything that would write is refused. The engine's own "
    "tables (_cf_) are hidden. A BLOB shows as x'hex'.",
)
def sql(
    ctx: Context,
    ref: Ref,
    query: str,
    bindings: tuple[list, dict] = ([], {}),
    write: bool = False,
    page: int | None = None,
) -> dict[str, Any]:
    positional, keywords = bindings
    if keywords:
        raise ParseError(
            f"sql takes ? bindings in order, not key=value ({', '.join(keywords)})",
            'e.g. sql Todo/home "SELECT * FROM todo WHERE id = ?" 3',
        )
    if write and page is not None:
        raise ParseError("--page goes with a read: --write answers every row the statement gave", "leave --page out")
    _sqlite_object(ctx, ref)
    if write:
        try:
            result = ctx.facade.sql_exec(ref.namespace, ref.ref, query, positional)
        except SqlError as exc:
            raise CommandError(str(exc), write_hint(str(exc), ref)) from None
        return {"object": str(ref), "query": query, "write": True, "page": 1, "pages": 1, **result}
    page = page or 1
    result = ctx.facade.sql_query(ref.namespace, ref.ref, query, positional, (page - 1) * SQL_PAGE, SQL_PAGE)
    count = result.get("count") or 0
    pages = max(1, -(-count // SQL_PAGE))
    if page > pages:
        raise ParseError(
            f"there is no page {page}: the query gave {count:,} row(s), {pages} page(s)", "pages count from 1"
        )
    return {"object": str(ref), "query": query, "write": False, "page": page, "pages": pages, **result}


def write_hint(message: str, ref: Ref) -> str:
    """What a failed ``sql --write`` means, and what to look at: SQLite's message names the rule, the
    hint says that the statement changed nothing and where the rule is written down."""
    if "SQLITE_CONSTRAINT" in message:
        why = f"a rule of the table refused the change (NOT NULL, CHECK, UNIQUE or its key: tables {ref} shows them)"
    elif "no such table" in message or "no such column" in message:
        why = f"tables {ref} lists the tables and their columns"
    elif "syntax error" in message or "incomplete input" in message:
        why = "SQLite could not read the statement: check its quotes, commas and keywords"
    elif "not authorized" in message or "prohibited" in message or "transaction" in message:
        why = 'an object\'s SQL may not do this (docs/sqlite.md, "What is refused")'
    else:
        why = f"the object's database is as it was (tables {ref} shows it)"
    return f"the statement that failed changed nothing; {why}"


@command(
    "tables",
    summary="a SQLite-backed object's tables: columns, indexes, rows, database size (wakes nothing)",
    usage="tables REF",
    args=(Arg("ref", Kind.REF),),
    examples=("tables Todo/home",),
)
def tables(ctx: Context, ref: Ref) -> dict[str, Any]:
    _sqlite_object(ctx, ref)
    return {"object": str(ref), **ctx.facade.sql_tables(ref.namespace, ref.ref)}


def _past_time(text: str) -> float:
    """Epoch seconds from -SECONDS (ago), an ISO time (UTC if no zone) or epoch seconds."""
    try:
        if text.startswith("-"):
            return time.time() + float(text)
        return float(text)
    except ValueError:
        pass
    try:
        t = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError(
            f"cannot read {text!r} as a time",
            "give -SECONDS (e.g. -60 for a minute ago), an ISO time (e.g. 2026-12-07T09:00:00Z) or epoch seconds",
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.timestamp()


@command(
    "bookmark",
    aliases=("bookmarks",),
    summary="a SQLite-backed object's point-in-time recovery bookmarks: now, at a time, or --list over time",
    usage="bookmark REF [AT] [--list]",
    args=(Arg("ref", Kind.REF), Arg("at", Kind.WHEN, optional=True, help="-SECONDS, an ISO time or epoch seconds")),
    options=(Option("--list", "list_", help="the bookmarks kept, newest first, with what each was"),),
    examples=(
        "bookmark Todo/home",
        "bookmark Todo/home -300",
        "bookmark Todo/home 2026-12-07T09:00:00Z",
        "bookmark Todo/home --list",
    ),
    details="A bookmark names a state of the object; restore REF BOOKMARK brings it back exactly as it was "
    "then (SQL, keys and alarm). History is kept 30 days by default.",
)
def bookmark(ctx: Context, ref: Ref, at: str | None = None, list_: bool = False) -> dict[str, Any]:
    _sqlite_object(ctx, ref)
    if list_:
        if at is not None:
            raise ParseError("bookmark takes AT or --list, not both", "--list shows every bookmark kept")
        marks = ctx.facade.bookmarks(ref.namespace, ref.ref)
        return {
            "object": str(ref),
            "bookmarks": [{**m, "time_iso": iso_time(m.get("time"))} for m in reversed(marks)],
        }  # newest first
    when = None if at is None else _past_time(at)
    mark = ctx.facade.bookmark(ref.namespace, ref.ref, when)
    return {"object": str(ref), "bookmark": mark, "at_iso": iso_time(when)}


@command(
    "restore",
    summary="restore a SQLite-backed object to a bookmark: it restarts as it was then (undo: the bookmark it answers)",
    usage="restore REF BOOKMARK",
    args=(Arg("ref", Kind.REF), Arg("bookmark", Kind.TEXT, help="from bookmark REF [AT]")),
    examples=("restore Todo/home 0000000000000012-00000002",),
    details="The restore goes through the object's queue: calls before it finish first, then the object "
    "restarts with its SQL, keys and alarm as at the bookmark. It answers the bookmark of the state "
    "just left, so restoring to that undoes it.",
)
def restore(ctx: Context, ref: Ref, bookmark: str) -> dict[str, Any]:
    _sqlite_object(ctx, ref)
    return {"object": str(ref), "bookmark": bookmark, **ctx.facade.restore(ref.namespace, ref.ref, bookmark)}
