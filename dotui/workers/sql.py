"""``ctx.storage.sql`` as Python Workers code sees it: ``exec(query, *bindings)`` and its cursor.

A row reads as attributes and as keys (``sql.exec("SELECT 'hi' AS greeting").one().greeting``, the
SDK's ``JsDict``); ``toArray()``, ``one()``, ``raw()``, ``next()``, ``columnNames``, ``rowsRead``,
``rowsWritten`` and ``databaseSize`` are the JavaScript names of dotui's own (docs/sqlite.md:
``to_array``, ``one``, ``raw``, ``column_names``, ``rows_read``, ``rows_written``,
``database_size``). Each is O(its native call) plus O(row) to wrap a row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .rpc import JsDict


class Cursor:
    """What ``exec`` returns: iterate it for rows (each a ``JsDict``)."""

    def __init__(self, native: Any):
        self._native = native

    def __iter__(self) -> Iterator[JsDict]:
        return self

    def __next__(self) -> JsDict:
        return JsDict(next(self._native))

    def next(self) -> JsDict:
        """JavaScript's iterator step: ``{"done": False, "value": row}``, then ``{"done": True}``."""
        try:
            return JsDict(done=False, value=JsDict(next(self._native)))
        except StopIteration:
            return JsDict(done=True)

    def toArray(self) -> list[JsDict]:  # the JavaScript name
        return [JsDict(r) for r in self._native.to_array()]

    def one(self) -> JsDict:
        return JsDict(self._native.one())

    def raw(self) -> Iterator[list[Any]]:
        return iter(self._native.raw())

    @property
    def columnNames(self) -> list[str]:
        return list(self._native.column_names)

    @property
    def rowsRead(self) -> int:
        return self._native.rows_read

    @property
    def rowsWritten(self) -> int:
        return self._native.rows_written


class SqlStorage:
    """``ctx.storage.sql`` of a SQLite-backed class."""

    def __init__(self, native: Any):
        self._native = native

    def exec(self, query: str, *bindings: Any) -> Cursor:
        return Cursor(self._native.exec(query, *bindings))

    @property
    def databaseSize(self) -> int:
        return self._native.database_size
