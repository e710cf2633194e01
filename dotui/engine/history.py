"""The finished calls the front ends show (``history REF``, the TUI's queue view), bounded engine-wide.

Only objects in memory have a history: when an object hibernates its records go
(``drop``), and what survives of its calls is two counters in its index entry
(calls and errors so far, README "On disk"). The whole history holds at most
``max_entries`` records and ``max_bytes`` bytes (as ``measure`` counts them), and
at most ``per_object`` records of one object. Past a bound, records go from the
object called least recently, oldest first.

A record is the finished ``Call`` itself, made light when it is kept (``keep``): no
exception (its type and message), no closure, and an argument list or a result
larger than ``VALUE_BYTES`` replaced by a note of its size (``elided``), as the
``call.finished`` event carries it.

``add`` is O(1) amortized, plus measuring the call's values, O(min(size, VALUE_BYTES));
``of(key, n)`` is O(n); ``drop(key)`` is O(records of key).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Any

from .frames import innermost

Key = tuple[str, str]

VALUE_BYTES = 1024  # an argument list, a result or an error message kept whole up to this size
RECORD_BYTES = 400  # what a record costs beyond its values (the call, its times, its place in the deque)
MAX_ENTRIES = 10_000  # records kept, all objects together (Engine(history_entries=...))
MAX_BYTES = 8 << 20  # bytes kept, all objects together (Engine(history_bytes=...))


def measure(value: Any, limit: int) -> int:
    """About the length of ``value``'s JSON text; counting stops once past ``limit`` (O(min(size, limit)))."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        kind = type(v)
        if kind is str:
            total += len(v) + 2
        elif kind is dict:
            total += 2
            for k, item in v.items():
                total += len(k) + 4 if type(k) is str else 8
                stack.append(item)
        elif kind is list or kind is tuple:
            total += 2 + len(v)
            stack.extend(v)
        else:
            total += 8  # a number, a bool, None (or anything else: counted as a scalar)
        if total > limit:
            return total
    return total


def elided(nbytes: int) -> str:
    return f"… {nbytes:,}+ bytes, not kept in the history (it keeps values up to {VALUE_BYTES:,} bytes)"


class ErrorNote:
    """What the history keeps of a call's exception: its type's name, its message and where in the
    user's code it was raised (never the exception, whose traceback holds the frames it went through)."""

    __slots__ = ("type", "message", "frame")

    def __init__(self, error: BaseException):
        self.type = type(error).__name__
        self.message = cut(str(error))
        self.frame = innermost(error)  # O(frames), once a failed call

    def __str__(self) -> str:
        return self.message


def error_fields(error: Any) -> dict[str, Any]:
    """``{type, message}`` of an exception, or of the note the history keeps of one, and ``frame``
    (``{file, line, function}``, frames.innermost) when it was raised in the user's code."""
    if type(error) is ErrorNote:
        fields: dict[str, Any] = {"type": error.type, "message": error.message}
        frame = error.frame
    else:
        fields = {"type": type(error).__name__, "message": cut(str(error))}
        frame = innermost(error) if isinstance(error, BaseException) else None
    if frame is not None:
        fields["frame"] = frame
    return fields


_SMALL = frozenset({int, float, bool, type(None)})  # results counted as 8 bytes, kept as they are


def shown_args(args: tuple, kwargs: dict) -> tuple[tuple, dict, int]:
    """``(args, kwargs, bytes)`` as the history and the ``call.queued`` event keep them: a note of
    their size in their place when together they pass VALUE_BYTES."""
    size = measure(args, VALUE_BYTES) + (measure(kwargs, VALUE_BYTES) if kwargs else 0)
    if size > VALUE_BYTES:
        return (elided(size),), {}, VALUE_BYTES
    return args, kwargs, size


def cut(text: str) -> str:
    """``text`` (an error's message) cut to VALUE_BYTES characters, saying so."""
    return text if len(text) <= VALUE_BYTES else text[:VALUE_BYTES] + "… (cut)"


def keep(call: Any) -> int:
    """Make the finished ``call`` light enough to keep; the bytes it is counted as."""
    call.fn = None
    call.reset_error = None
    nbytes = RECORD_BYTES
    if call.args or call.kwargs:
        call.args, call.kwargs, size = shown_args(call.args, call.kwargs)
        nbytes += size
    error = call.error
    if error is not None:
        note = call.error = ErrorNote(error)
        frame = note.frame
        return nbytes + len(note.message) + (len(frame["file"]) + len(frame["function"]) + 16 if frame else 0)
    result = call.result
    kind = type(result)
    if kind is str:
        size = len(result) + 2
    elif kind is list or kind is dict:
        size = measure(result, VALUE_BYTES)
    else:
        return nbytes + 8
    if size > VALUE_BYTES:
        call.result, size = elided(size), VALUE_BYTES
    return nbytes + size


class CallHistory:
    """The engine's one history of finished calls (``Engine.history``), of the objects in memory."""

    def __init__(self, per_object: int = 100, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        for what, v in (("history_size", per_object), ("history_entries", max_entries), ("history_bytes", max_bytes)):
            if type(v) is not int or v < 1:
                raise ValueError(f"{what} must be a whole number >= 1; got {v!r}")
        self.per_object = per_object
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        # Each object's records (Calls, each with the bytes it counts as), oldest first; objects in the order
        # they were last called (the least recently called first: its records go first).
        self._of: OrderedDict[Key, deque[Any]] = OrderedDict()
        self.entries = 0
        self.bytes = 0

    def add(self, key: Key, call: Any) -> None:
        """Keep the finished ``call`` (made light: ``keep``) as the newest record of ``key``."""
        # On every call's path: the usual call (no arguments, a small result) skips ``keep``.
        if call.args or call.kwargs or call.error is not None or type(call.result) not in _SMALL:
            nbytes = keep(call)
        else:
            call.fn = None
            nbytes = RECORD_BYTES + 8
        call.kept_bytes = nbytes
        of = self._of
        mine = of.get(key)
        if mine is None:
            mine = of[key] = deque()
        else:
            of.move_to_end(key)
            if len(mine) >= self.per_object:
                self.entries -= 1
                self.bytes -= mine.popleft().kept_bytes
        mine.append(call)
        self.entries += 1
        self.bytes += nbytes
        if self.entries > self.max_entries or self.bytes > self.max_bytes:
            self._shed()

    def _shed(self) -> None:
        """Records go, oldest first of the object called least recently, until both bounds hold."""
        of = self._of
        while self.entries > self.max_entries or self.bytes > self.max_bytes:
            key, records = next(iter(of.items()))
            self.entries -= 1
            self.bytes -= records.popleft().kept_bytes
            if not records:
                del of[key]

    def of(self, key: Key, n: int) -> list[dict[str, Any]]:
        """The last ``n`` records of ``key``, oldest first, described as ``Call.describe`` does."""
        mine = self._of.get(key)
        if not mine or n <= 0:
            return []
        return [call.describe() for call in list(mine)[-n:]]

    def drop(self, key: Key) -> None:
        """``key`` left memory: its records go (its counters are in the index)."""
        mine = self._of.pop(key, None)
        if mine:
            self.entries -= len(mine)
            self.bytes -= sum(call.kept_bytes for call in mine)

    def keys(self) -> Iterable[Key]:
        return self._of.keys()

    def __len__(self) -> int:
        return self.entries
