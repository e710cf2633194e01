"""What storage accepts, for both backends: keys, values, batches and alarm times.

The limits are checked at the call, before anything is stored (README, "Storage"); the readers
of the data folder hold what they read back to the same (docs/trust.md). The SQLite backend
takes values up to ``SQLITE_MAX_VALUE_BYTES`` (docs/sqlite.md), as Cloudflare's does.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import orjson

from .. import values

MAX_KEY_BYTES = 2048
MAX_VALUE_BYTES = 128 * 1024
MAX_DEPTH = values.MAX_DEPTH  # lists and dicts nested in one value
MAX_BATCH_KEYS = 128
SQLITE_MAX_VALUE_BYTES = 2 * 1024 * 1024  # the SQLite backend's bound (docs/sqlite.md)


def key_bytes(key: Any) -> int:
    if not isinstance(key, str):
        raise TypeError(f"storage keys must be str, not {type(key).__name__} ({values.shown(key)})")
    if key.isascii() and len(key) <= MAX_KEY_BYTES:
        return len(key)
    try:
        size = len(key.encode())
    except UnicodeEncodeError:
        where = values.find_surrogate(key, "the key")
        raise TypeError(
            f"storage key {key[:40]!r} is not valid Unicode text: {where} is a lone surrogate, "
            "which UTF-8 cannot encode. Keys must be encodable text."
        ) from None
    if size > MAX_KEY_BYTES:
        raise ValueError(
            f"Keys cannot be larger than {MAX_KEY_BYTES} bytes; this key is {size} bytes "
            f"(starts {key[:32]!r}). Use a shorter key, e.g. a hash of it."
        )
    return size


_SMALL_INT = 10**18  # an int this small is its own JSON text, whatever Python's digit limits


def value_text(key: str, value: Any, limit: int = MAX_VALUE_BYTES) -> tuple[str, int]:
    """The JSON text of the value of ``key`` and its size in UTF-8 bytes, or the error saying why not."""
    if type(value) is int and -_SMALL_INT < value < _SMALL_INT:  # a counter's every write: no encoder
        text = int.__repr__(value)
        return text, len(text)
    where = f"the value of key {key!r}"
    try:
        text = values.encode(value, where)
    except values.NotJSONCompatible as exc:
        raise TypeError(f"cannot store key {key!r}: {exc}") from None
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode())
        except UnicodeEncodeError:
            raise TypeError(
                f"cannot store key {key!r}: {values.find_surrogate(value, where)} is a lone surrogate, "
                "which is not valid Unicode text (UTF-8 cannot encode it); nothing was stored. "
                "Store text only, or bytes as base64 text."
            ) from None
    if size > limit:
        raise ValueError(
            f"Values cannot be larger than {limit} bytes; the value of key "
            f"{key!r} is {size} bytes serialized. Split it over several keys."
        )
    return text, size


def check_key(key: Any) -> int:
    """What ``put``, ``get`` and ``delete`` check of a key; its size in UTF-8 bytes."""
    return key_bytes(key)


def check_entry(key: Any, value: Any) -> None:
    """What ``put`` checks of one entry, before anything is stored: the key (a str of at most
    MAX_KEY_BYTES in UTF-8) and its value (JSON-compatible, at most MAX_DEPTH deep, MAX_VALUE_BYTES
    as JSON text, valid Unicode); TypeError or ValueError saying what is wrong, naming the key.
    Readers of the data folder hold what they read back to the same (docs/trust.md). O(size of
    the value); O(1) for a short key and a scalar or short ASCII text (most of what a wake reads)."""
    if type(key) is not str or len(key) > MAX_KEY_BYTES or not key.isascii():
        key_bytes(key)
    kind = type(value)
    if kind is bool or value is None or (kind is int and -_SMALL_INT < value < _SMALL_INT):
        return
    if kind is str and value.isascii() and 6 * len(value) + 2 <= MAX_VALUE_BYTES:  # \u00XX at most
        return
    if kind is float and value - value == 0.0:  # finite: inf - inf and nan - nan are nan
        return
    value_text(key, value)


def check_entries(entries: dict[Any, Any], may_hold_surrogates: bool = True) -> None:
    """``check_entry`` of every entry of ``entries``, raising as it does for the first bad one, in
    one walk over every value at once (a checkpoint's whole table at a wake: O(size), a few
    C-speed passes where one check per entry would pay a dozen calls each). ``may_hold_surrogates``
    False: the caller knows no str holds a lone surrogate (a text that spells none)."""
    if _entries_fit(entries, may_hold_surrogates):
        return
    for k, v in entries.items():
        check_entry(k, v)


# A value whose compact JSON text is at most this long is surely put's: it nests at most half as deep as it is long
# (each level costs "[]" or "{}"), and the engine's own text of it is the same text but a float's exponent (1e-09
# against orjson's 1e-9): a few bytes longer, far under MAX_VALUE_BYTES.
_SURELY_FITS = MAX_DEPTH


def check_decoded(entries: dict[str, Any]) -> None:
    """``check_entries`` of entries orjson read from a JSON text holding no run of 19 digits: every value is then
    JSON (a str key, finite floats, ints within 64 bits, text with no lone surrogate), so what is left to check is
    the keys' size and each value's size and depth. One C-speed pass (``orjson.dumps`` of each value) where
    ``check_entries`` walks every value in Python: O(size); a value longer than ``_SURELY_FITS`` is checked
    exactly (``check_entry``), raising as it does."""
    keys = "".join(entries)
    if not keys.isascii() or max(map(len, entries), default=0) > MAX_KEY_BYTES:
        for k in entries:
            key_bytes(k)
    sizes = list(map(len, map(orjson.dumps, entries.values())))
    if max(sizes, default=0) <= _SURELY_FITS:
        return
    for (k, v), n in zip(entries.items(), sizes, strict=True):
        if n > _SURELY_FITS:
            check_entry(k, v)


def _entries_fit(entries: dict[Any, Any], may_hold_surrogates: bool) -> bool:
    """Whether every entry surely passes ``check_entry`` (False: check each to name the bad one)."""
    for k in entries:
        if type(k) is not str or len(k) > MAX_KEY_BYTES or not k.isascii():
            return False
    if not values.fits(list(entries.values()), MAX_DEPTH + 1):  # the list is one level more
        return False
    for v in entries.values():
        kind = type(v)
        if kind is str:
            if 6 * len(v) + 2 <= MAX_VALUE_BYTES and (v.isascii() or not may_hold_surrogates):
                continue  # short enough whatever it escapes (\u00XX at most)
            if (may_hold_surrogates and not v.isascii()) or values.text_size(v) > MAX_VALUE_BYTES:
                return False
        elif kind is list or kind is dict:
            if may_hold_surrogates or values.text_size(v) > MAX_VALUE_BYTES:
                return False
        elif kind is int and not -_SMALL_INT < v < _SMALL_INT:
            return False
    return True


def check_batch(keys: Any, what: str) -> None:
    if len(keys) > MAX_BATCH_KEYS:
        raise ValueError(
            f"A batch {what} takes at most {MAX_BATCH_KEYS} keys; {len(keys)} given. "
            f"Split it into batches of {MAX_BATCH_KEYS}."
        )


# The moments an alarm may name: every one of them is a datetime in every time zone (a day

# inside datetime's years 1..9999), so get_alarm() and every front end can show it.
EARLIEST_ALARM = _dt.datetime(1, 1, 2, tzinfo=_dt.UTC).timestamp()
LATEST_ALARM = _dt.datetime(9999, 12, 30, tzinfo=_dt.UTC).timestamp()


def alarm_time(seconds: Any, given: Any = None) -> float:
    """``seconds`` (epoch seconds) as a float, or ValueError if it names no moment an alarm can hold.

    NaN, the infinities, and times outside 0001-01-02 .. 9999-12-30 (UTC) are refused, naming
    ``given`` (what the user typed, if it was not ``seconds`` itself).
    """
    try:
        t = float(seconds)
    except OverflowError:
        t = float("nan")
    if EARLIEST_ALARM <= t <= LATEST_ALARM:  # False for NaN
        return t
    shown = seconds if given is None else given
    raise ValueError(
        f"{shown!r} is not a time an alarm can be set to: an alarm time is a moment between "
        f"0001-01-02 and 9999-12-30 (UTC), as epoch seconds ({EARLIEST_ALARM:.0f} .. {LATEST_ALARM:.0f}) "
        f"or an aware datetime; e.g. time.time() + 30"
    )


def to_epoch(when: Any) -> float:
    if isinstance(when, _dt.datetime):
        if when.tzinfo is None:
            raise ValueError("set_alarm needs an aware datetime (e.g. datetime.now(timezone.utc)); got a naive one")
        return alarm_time(when.timestamp(), when)
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return alarm_time(when)
    raise TypeError(f"set_alarm takes a datetime or epoch seconds, not {type(when).__name__}")


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``."""
    for i in range(len(prefix) - 1, -1, -1):
        c = ord(prefix[i])
        if c < 0x10FFFF:
            return prefix[:i] + chr(c + 1)
    return None


def check_list_bounds(start: Any, start_after: Any, end: Any, prefix: Any, limit: Any) -> None:
    """What ``list()`` checks of its arguments, with Cloudflare's messages (both backends)."""
    if start is not None and start_after is not None:
        raise ValueError("list() cannot be called with both start and start_after values.")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"List limit must be an int, not {type(limit).__name__}.")
        if limit < 1:
            raise ValueError("List limit must be positive.")
    for name, bound in (("start", start), ("start_after", start_after), ("end", end), ("prefix", prefix)):
        if bound is not None and not isinstance(bound, str):
            raise TypeError(f"list({name}=…) takes a str, not {type(bound).__name__}")
