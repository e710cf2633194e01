"""What the engine reads back from its data folder is input: the checks of every field.

A log record, an index row and a checkpoint are read back as strictly as a request
(docs/trust.md, "The commit log, the index and the checkpoints"): each of their readers
(``logformat.decode_payload``, ``index.read_snapshot`` and ``read_journal``,
``checkpoint.load``) checks every field with the functions here, and a field that fails
raises ``Malformed`` saying what is wrong; the reader names the place (segment and
offset, file and line). Stored entries are held to what ``put`` accepts
(``storage.check_entry``), so nothing is read back that the engine would not write.

Paths of objects are built in one place, ``object_path``, from a namespace that is a class
name (not one of the engine's own names) and an id valid for that namespace: nothing read
from a file can name a path outside the data folder.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Literal, overload

from .. import values
from ..ids import IdFactory
from ..object import storage

# Names in the data folder that are the engine's own: no namespace may use them.
RESERVED = {"lock": "lock file", "log": "commit log folder"}


class Malformed(ValueError):
    """A field read back from the data folder is not what the engine writes there."""


_shown = values.shown  # never recurses into what it shows: a field may nest ~990 deep


def namespace(value: Any) -> str:
    """A namespace: a class name (a Python identifier, at most 255 bytes: a folder's name) that is
    none of the engine's own names."""
    if type(value) is not str or not value.isidentifier() or value in RESERVED or len(value.encode()) > 255:
        raise Malformed(f"the namespace {_shown(value)} is not a class name")
    return value


@functools.lru_cache(maxsize=256)
def _ids(ns: str) -> IdFactory:
    return IdFactory(ns)


def object_id(ns: str, value: Any) -> str:
    """An object id: 64 lowercase hex digits, valid for namespace ``ns`` (not forged, not another's)."""
    if type(value) is not str or not _ids(ns).is_valid(value):
        raise Malformed(f"the id {_shown(value)} is not an id of namespace {_shown(ns)}")
    return value


def object_path(data_dir: str, ns: Any, hx: Any) -> str:
    """``<data>/<namespace>/<id>.json``, the one way a path of an object is built; Malformed unless
    ``ns`` is a class name and ``hx`` an id of it."""
    return os.path.join(data_dir, namespace(ns), f"{object_id(ns, hx)}.json")


def name(value: Any, ns: str | None, hx: str | None) -> str | None:
    """The name of the object ``hx`` of namespace ``ns`` (both checked; None: an object not known):
    None, or the str UTF-8 can encode that the id was made from (``id_from_name``). Object code sees it as ``ctx.id.name``
    and every front end lists it: a name read back is never another object's. O(len(name))."""
    if value is None:
        return None
    if type(value) is not str:
        raise Malformed(f"the name {_shown(value)} is not a str")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise Malformed(f"the name {_shown(value)} is not valid Unicode text (a lone surrogate)") from None
    if ns is not None and hx is not None and not _ids(ns).is_id_of_name(hx, value):
        raise Malformed(f"the name {_shown(value)} is not the one the id {hx[:12]}… of {ns} was made from")
    return value


def flag(value: Any, what: str) -> bool:
    if type(value) is not bool:
        raise Malformed(f"{what} is {_shown(value)}, not true or false")
    return value


MAX_COUNT = 2**63 - 1
"""The largest count read back: no object holds more keys, bytes or calls (a file's size is an
``off_t``), and every reader holds it (as a float for a size shown, an int64 in other languages)."""


def count(value: Any, what: str) -> int:
    """A count (of keys, of bytes, of calls): an int from 0 to MAX_COUNT."""
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise Malformed(f"{what} is {_shown(value)}, not a count (an int from 0 to 2^63 - 1)")
    return value


@overload
def moment(value: Any, what: str, optional: Literal[False] = False) -> float: ...
@overload
def moment(value: Any, what: str, optional: bool) -> float | None: ...
def moment(value: Any, what: str, optional: bool = False) -> float | None:
    """A time in epoch seconds within the years every front end can show (those of an alarm,
    ``storage.EARLIEST_ALARM`` .. ``LATEST_ALARM``); None too, when ``optional``."""
    if value is None and optional:
        return None
    if type(value) not in (int, float) or not storage.EARLIEST_ALARM <= value <= storage.LATEST_ALARM:
        raise Malformed(f"{what} is {_shown(value)}, not a time in epoch seconds (years 1 to 9999)")
    return value


def alarm(value: Any) -> float | None:
    """An alarm: None, or a moment an alarm can hold (as ``storage.alarm_time`` accepts)."""
    if value is None:
        return None
    if type(value) not in (int, float) or not storage.EARLIEST_ALARM <= value <= storage.LATEST_ALARM:
        raise Malformed(
            f"the alarm {_shown(value)} is not a moment an alarm can name (epoch seconds within the years 1 to 9999)"
        )
    return float(value)


def key(value: Any) -> str:
    """A storage key, as ``put`` and ``delete`` accept it."""
    try:
        storage.check_key(value)
    except (TypeError, ValueError) as exc:
        raise Malformed(str(exc)) from None
    return value


def entries(written: Any, what: str) -> dict[str, Any]:
    """Stored keys and values, each as ``put`` accepts it (``storage.check_entries``)."""
    shape(written, dict, what)
    try:
        storage.check_entries(written)
    except (TypeError, ValueError) as exc:
        raise Malformed(str(exc)) from None
    return written


def shape(value: Any, kind: type[list] | type[dict], what: str, length: int | None = None) -> Any:
    """``value`` is a ``kind`` (list or dict), of ``length`` items when given."""
    if type(value) is not kind or (length is not None and len(value) != length):
        size = f" of {length}" if length is not None else ""
        raise Malformed(f"{what} is {_shown(value)}, not a {kind.__name__}{size}")
    return value
