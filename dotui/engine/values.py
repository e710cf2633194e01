"""JSON-compatible values: checking them, copying them, measuring them.

Values cross every boundary of the engine (call arguments, results, storage) as
copies, the way they would cross a network. Scalars are immutable and pass as
they are; containers are copied through their JSON text, which also checks them.
"""

from __future__ import annotations

import json
import reprlib
import threading
from collections.abc import Callable, Iterator
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]  # the C encoder is not in typeshed (None without it: _c_encode falls back)
from typing import Any

SCALARS = frozenset({int, str, float, bool, type(None)})

MAX_DEPTH = 100
"""How deep lists and dicts may nest in a stored value: ``[[1]]`` is 2 deep. Every reader of the
data folder decodes far deeper (the JSON decoders stop near 1,000 levels), so what ``put``
accepts is always read back, wrapped in a log record or a checkpoint (README, "Storage")."""

MAX_CALL_DEPTH = 256
"""How deep a call's arguments and result may nest: room for a method to wrap stored values
(``storage.list()`` is one level more), well below what a JSON decoder follows."""

_encode_raw = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_decode = json.loads
# The C scanner json.loads runs, without its Python wrapper (an attribute the type stubs do not list).
_scan: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]
_INF = float("inf")


class NotJSONCompatible(TypeError):
    """The value (or something inside it) is not JSON-compatible."""


_reprs = reprlib.Repr()
_reprs.maxlevel, _reprs.maxstring, _reprs.maxother, _reprs.maxlong = 3, 60, 60, 40


def shown(value: Any, width: int = 80) -> str:
    """A repr of ``value`` for an error message, at most about ``width`` characters: containers are
    shown 3 levels deep (``[[[[...]]]]``), so what it costs never depends on how deep ``value``
    nests (a plain ``repr`` of a value read back ~990 deep runs out of stack). O(width)."""
    text = repr(value) if type(value) in (str, bool, float, type(None)) else _reprs.repr(value)
    return text if len(text) <= width else f"{text[: width - 20]}…{text[-12:]}"


def _fits(value: Any, limit: int) -> bool:
    """Whether ``value`` is JSON-compatible and nests at most ``limit`` deep: one pass over it,
    level by level, with no recursion (so the answer never depends on the caller's stack). O(size)."""
    level = [value]
    depth = 0
    while level:
        if depth >= limit:  # past level 0 a level holds containers only, each depth + 1 deep
            return False
        below: list[Any] = []
        push = below.append
        for c in level:
            kind = type(c)
            if kind is dict:
                for k in c:
                    if type(k) is not str:
                        return False
                items = c.values()
            elif kind is list or kind is tuple:
                items = c
            elif kind in SCALARS:  # the value itself, at level 0
                items = (c,)
            else:
                return False
            for item in items:
                t = type(item)
                if t is str or t is int or t is bool or item is None:
                    continue
                if t is float:
                    if item != item or item == _INF or item == -_INF:
                        return False
                elif t is list or t is dict or t is tuple:
                    push(item)
                else:
                    return False
        level = below
        depth += 1
    return True


def fits(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` is JSON-compatible and nests at most ``limit`` deep. O(size)."""
    return _fits(value, limit)


def text_size(value: Any) -> int:
    """The size in UTF-8 bytes of the JSON text of a value ``fits`` accepted, which holds no lone
    surrogate. O(size), in C alone (no encoder made per call: many small values cost little)."""
    text = "".join(_c_encode(value, 0))
    return len(text) if text.isascii() else len(text.encode())


# The C encoder ``_encode_raw`` runs, made once: (markers, default, encoder, indent, key and item
# separators, sort_keys, skipkeys, allow_nan); markers None: a value ``fits`` accepted has no cycle.
_c_encode = (c_make_encoder or (lambda *a: lambda v, _: [_encode_raw(v)]))(
    None, None, encode_basestring, None, ":", ",", False, False, False
)


def _parts(value: Any, where: str, limit: int = MAX_CALL_DEPTH) -> Iterator[tuple[str, Any, int, bool]]:
    """(where, part, depth, is a dict key) of every part of ``value`` in document order (the value
    itself at depth 0, what a container holds one deeper; a dict key at its dict's depth, named by
    the dict's ``where``). Iterative, and it descends into no container past ``limit``:
    used to name the bad part once ``_fits`` has refused a value, or to find a surrogate."""
    stack = [iter([(where, value, 0, False)])]
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            continue
        yield step
        path, item, depth, _ = step
        kind = type(item)
        if depth >= limit:
            continue
        if kind is list or kind is tuple or kind is dict:
            stack.append(_inside(item, path, depth))


def _inside(container: Any, path: str, depth: int) -> Iterator[tuple[str, Any, int, bool]]:
    """The parts one level inside ``container`` (for ``_parts``)."""
    if type(container) is dict:
        for k, v in container.items():
            yield path, k, depth, True
            yield f"{path}[{k!r}]", v, depth + 1, False
    else:
        for i, v in enumerate(container):
            yield f"{path}[{i}]", v, depth + 1, False


def _problem(value: Any, where: str, limit: int) -> str:
    """What is wrong with a value ``_fits`` refused, naming its first bad part."""
    for path, item, depth, is_key in _parts(value, where, limit):
        kind = type(item)
        if is_key:
            if kind is not str:
                return f"{path} has a key of type {kind.__name__} ({shown(item)}); dict keys must be str"
        elif depth >= limit and (kind is list or kind is tuple or kind is dict):
            at = path if len(path) <= 80 else f"{path[:56]}…{path[-20:]}"
            what = "a stored value" if limit == MAX_DEPTH else "a call's argument or result"
            return (
                f"{where} nests lists and dicts more than {limit} deep (at {at}); {what} may "
                f"nest at most {limit} deep: flatten it, or split it up"
            )
        elif kind is float and (item != item or item in (_INF, -_INF)):
            return f"{path} is {item!r}, which JSON cannot represent"
        elif kind not in SCALARS and kind is not list and kind is not tuple and kind is not dict:
            return (
                f"{path} is of type {kind.__name__}, which is not JSON-compatible "
                "(use dict, list, str, int, float, bool or None)"
            )
    return f"{where} is not JSON-compatible"


def _check(value: Any, where: str, limit: int = MAX_CALL_DEPTH) -> None:
    """Raise NotJSONCompatible naming the first bad part of ``value`` (or its nesting past ``limit``)."""
    if not _fits(value, limit):
        raise NotJSONCompatible(_problem(value, where, limit))


def _too_long(exc: ValueError, where: str) -> NotJSONCompatible:
    return NotJSONCompatible(
        f"{where} holds an int with more digits than JSON text may carry here ({exc}); store it as a str instead"
    )


def encode(value: Any, where: str = "value") -> str:
    """The JSON text of a value to store; NotJSONCompatible if it has no faithful one, or nests
    past MAX_DEPTH. O(size).

    The text may still hold lone surrogates ("\\ud800"): see ``find_surrogate``.
    """
    kind = type(value)
    if not (kind is int or kind is str or kind is bool or value is None):
        _check(value, where, MAX_DEPTH)
    try:
        try:
            return _encode_raw(value)
        except RecursionError:  # the caller's stack, not the value (checked: MAX_DEPTH at most)
            return _on_fresh_stack(_encode_raw, value)
    except ValueError as exc:  # an int longer than Python will write as text
        raise _too_long(exc, where) from None


def find_surrogate(value: Any, where: str = "value") -> str | None:
    """Where in ``value`` a str (or dict key) holds a lone surrogate, which UTF-8 cannot encode."""
    for path, item, _, is_key in _parts(value, where):
        if type(item) is str:
            for i, ch in enumerate(item):
                if "\ud800" <= ch <= "\udfff":
                    at = f"a key of {path} ({item!r})" if is_key else path
                    return f"{at} (character {i}: {ch!r})"
    return None


def decode(text: str) -> Any:
    """The value of a JSON text the engine itself made from a checked value (``encode``). O(len):
    the C scanner alone when the text is one value and nothing after it (a KV read of the SQLite
    backend is 0.3 us quicker than through ``json.loads``); ``json.loads`` otherwise, for its error."""
    try:
        value, end = _scan(text, 0)
        if end == len(text):
            return value
    except Exception:  # noqa: BLE001 - json.loads below raises the error to give
        pass
    try:
        return _decode(text)
    except RecursionError:  # the caller's stack, not the text (at most MAX_DEPTH deep)
        return _on_fresh_stack(_decode, text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"it holds {name}, which the engine never writes (JSON has no such value)")


_decode_read = json.JSONDecoder(parse_constant=_no_constant).decode


def _on_fresh_stack(fn: Callable[[Any], Any], arg: Any) -> Any:
    """``fn(arg)`` on a thread of its own, with the whole of a thread's stack: for the C encoder
    and decoder, which recurse once per level, when the caller's own stack ran out. What it
    raises is raised here."""
    got: dict[str, Any] = {}

    def run() -> None:
        try:
            got["value"] = fn(arg)
        except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
            got["error"] = exc

    thread = threading.Thread(target=run, name="dotui-json")
    thread.start()
    thread.join()
    if "error" in got:
        raise got["error"]
    return got["value"]


def read(raw: bytes | str) -> Any:
    """The value of JSON read back from a file (of the data folder); ValueError saying what is
    wrong when it is not UTF-8, not JSON, holds NaN or Infinity, or nests so deep that a thread's
    whole stack cannot decode it. The answer never depends on the caller's stack. O(size)."""
    text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray, memoryview)) else raw
    try:
        return _decode_read(text)
    except RecursionError:
        pass
    try:
        return _on_fresh_stack(_decode_read, text)
    except RecursionError:
        raise ValueError(
            "it nests lists and objects deeper than a JSON decoder can follow "
            f"(the engine writes values at most {MAX_DEPTH} deep)"
        ) from None


def copy(value: Any, where: str = "value") -> Any:
    """A deep copy of a JSON-compatible value (tuples become lists) nested at most MAX_CALL_DEPTH
    deep; NotJSONCompatible naming the bad part. O(size)."""
    kind = type(value)
    if kind in SCALARS:
        if kind is float:
            _check(value, where)
        return value
    _check(value, where)
    try:
        try:
            return _roundtrip(value)
        except RecursionError:  # the caller's stack, not the value (checked: MAX_CALL_DEPTH at most)
            return _on_fresh_stack(_roundtrip, value)
    except ValueError as exc:
        raise _too_long(exc, where) from None


def _roundtrip(value: Any) -> Any:
    return _decode(_encode_raw(value))


def copy_args(args: tuple, kwargs: dict, label: str) -> tuple[tuple, dict]:
    """Copies of call arguments; TypeError naming the argument that cannot cross."""
    try:
        new_args = tuple(copy(a, f"argument {i + 1}") for i, a in enumerate(args))
        new_kwargs = {k: copy(v, f"argument {k}") for k, v in kwargs.items()} if kwargs else {}
    except NotJSONCompatible as exc:
        raise TypeError(f"{label}: {exc}") from None
    return new_args, new_kwargs
