"""JSON-compatible values: checking them, copying them, measuring them.

Values cross every boundary of the engine (call arguments, results, storage) as
copies, the way they would cross a network. Scalars are immutable and pass as
they are; containers are copied through their JSON text, which also checks them.
"""

from __future__ import annotations

import json
from typing import Any

_SCALARS = frozenset({int, str, float, bool, type(None)})

_encode_raw = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_decode = json.loads


class NotJSONCompatible(TypeError):
    """The value (or something inside it) is not JSON-compatible."""


def _check(value: Any, where: str) -> None:
    """Walk ``value`` and raise NotJSONCompatible naming the first bad part."""
    kind = type(value)
    if kind in _SCALARS:
        if kind is float and (value != value or value in (float("inf"), float("-inf"))):
            raise NotJSONCompatible(f"{where} is {value!r}, which JSON cannot represent")
        return
    if kind is list or kind is tuple:
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
        return
    if kind is dict:
        for k, item in value.items():
            if type(k) is not str:
                raise NotJSONCompatible(
                    f"{where} has a key of type {type(k).__name__} ({k!r}); dict keys must be str"
                )
            _check(item, f"{where}[{k!r}]")
        return
    raise NotJSONCompatible(
        f"{where} is of type {kind.__name__}, which is not JSON-compatible "
        "(use dict, list, str, int, float, bool or None)"
    )


def _too_long(exc: ValueError, where: str) -> NotJSONCompatible:
    return NotJSONCompatible(
        f"{where} holds an int with more digits than JSON text may carry here ({exc}); store it as a str instead"
    )


def encode(value: Any, where: str = "value") -> str:
    """The JSON text of ``value``; NotJSONCompatible if it has no faithful one.

    The text may still hold lone surrogates ("\\ud800"): see ``find_surrogate``.
    """
    kind = type(value)
    if not (kind is int or kind is str or kind is bool or value is None):
        _check(value, where)
    try:
        return _encode_raw(value)
    except ValueError as exc:  # an int longer than Python will write as text
        raise _too_long(exc, where) from None


def find_surrogate(value: Any, where: str = "value") -> str | None:
    """Where in ``value`` a str (or dict key) holds a lone surrogate, which UTF-8 cannot encode."""
    kind = type(value)
    if kind is str:
        for i, ch in enumerate(value):
            if "\ud800" <= ch <= "\udfff":
                return f"{where} (character {i}: {ch!r})"
        return None
    if kind is list or kind is tuple:
        for i, item in enumerate(value):
            found = find_surrogate(item, f"{where}[{i}]")
            if found:
                return found
    elif kind is dict:
        for k, item in value.items():
            found = find_surrogate(k, f"a key of {where} ({k!r})") or find_surrogate(item, f"{where}[{k!r}]")
            if found:
                return found
    return None


def decode(text: str) -> Any:
    return _decode(text)


def copy(value: Any, where: str = "value") -> Any:
    """A deep copy of a JSON-compatible value (tuples become lists)."""
    kind = type(value)
    if kind in _SCALARS:
        if kind is float:
            _check(value, where)
        return value
    _check(value, where)
    try:
        return _decode(_encode_raw(value))
    except ValueError as exc:
        raise _too_long(exc, where) from None


def copy_args(args: tuple, kwargs: dict, label: str) -> tuple[tuple, dict]:
    """Copies of call arguments; TypeError naming the argument that cannot cross."""
    try:
        new_args = tuple(copy(a, f"argument {i + 1}") for i, a in enumerate(args))
        new_kwargs = {k: copy(v, f"argument {k}") for k, v in kwargs.items()} if kwargs else {}
    except NotJSONCompatible as exc:
        raise TypeError(f"{label}: {exc}") from None
    return new_args, new_kwargs
