"""The commit log's records (``commitlog.py``): how one is written and read back.

A record is ``<length:u32><crc32:u32><payload>``; the payload is JSON::

    {"t": epoch seconds, "o": [[namespace, id hex, name, cleared, {key: value, ...},
                                 [deleted key, ...], alarm_changed, alarm, keys, bytes], ...]}

It carries only the keys a commit changed (a ``Delta`` of each object). ``encode_object`` and
``encode_record`` write one, on every commit; ``decode_payload`` reads one back with every field
checked (docs/trust.md). Pure functions of a record: no I/O here.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from .. import values
from . import schema

HEADER = struct.Struct("<II")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_quote = encode_basestring  # a str as JSON, as _dumps writes it (ensure_ascii=False), minus the dispatch


@dataclass(slots=True)
class Delta:
    """Committed changes of one object not yet in its checkpoint."""

    cleared: bool = False
    puts: dict[str, Any] = field(default_factory=dict)  # key -> value, or DELETED
    alarm_changed: bool = False
    alarm: float | None = None

    def merge(self, other: Delta) -> None:
        if other.cleared:
            self.cleared = True
            self.puts = {}
        self.puts.update(other.puts)
        if other.alarm_changed:
            self.alarm_changed = True
            self.alarm = other.alarm

    def apply(self, data: dict[str, Any], alarm: float | None) -> float | None:
        """Apply to ``data`` in place; returns the alarm after it."""
        if self.cleared:
            data.clear()
        for k, v in self.puts.items():
            if v is DELETED:
                data.pop(k, None)
            else:
                data[k] = v
        return self.alarm if self.alarm_changed else alarm


class _Deleted:
    def __repr__(self) -> str:
        return "DELETED"


DELETED = _Deleted()


@dataclass
class ObjectRecord:
    namespace: str
    hex: str
    name: str | None
    delta: Delta
    keys: int
    bytes: int


def encode_object(namespace: str, hex: str, name: str | None, changes: Any, keys: int, nbytes: int) -> str:
    """One object's part of a record; ``changes.puts`` maps keys to JSON text or None.

    The JSON of ``[namespace, hex, name, cleared, {key: value}, [deleted key], alarm_changed,
    alarm, keys, bytes]``, built from the values' JSON texts (every commit runs this: no
    encoder objects, just the C string quoting).
    """
    puts = []
    dels = []
    for k, text in changes.puts.items():
        if text is None:
            dels.append(_quote(k))
        else:
            puts.append(f"{_quote(k)}:{text}")
    alarm = changes.alarm
    return (
        f'[{_quote(namespace)},"{hex}",{"null" if name is None else _quote(name)},'
        f"{'true' if changes.cleared else 'false'},{{{','.join(puts)}}},[{','.join(dels)}],"
        f"{'true' if changes.alarm_changed else 'false'},{'null' if alarm is None else _dumps(alarm)},"
        f"{keys},{nbytes}]"
    )


def encode_record(t: float, parts: list[str]) -> bytes:
    """A whole record (header and payload) holding the objects' ``parts``.

    ``UnicodeEncodeError`` if a part holds a string UTF-8 cannot encode (a lone surrogate).
    """
    payload = f'{{"t":{t!r},"o":[{",".join(parts)}]}}'.encode()
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> tuple[float, list[ObjectRecord]]:
    """The time and object parts of a record's payload, every field checked (schema.py): a
    namespace that is a class name, an id valid for it, keys and values ``put`` would accept,
    counts and times of the right type. ``ValueError`` (``schema.Malformed`` for a field) says
    what is not a commit record. O(size of the payload)."""
    doc = values.read(payload)
    if type(doc) is not dict or doc.keys() != {"t", "o"}:
        raise schema.Malformed('it is not a {"t": time, "o": [object, ...]} document')
    t = schema.moment(doc["t"], "its time")
    out = []
    for i, part in enumerate(schema.shape(doc["o"], list, "its list of objects")):
        try:
            out.append(_object_part(part))
        except schema.Malformed as exc:
            raise schema.Malformed(f"object {i + 1} of the record: {exc}") from None
    return t, out


def _object_part(part: Any) -> ObjectRecord:
    ns, hx, name, cleared, puts, dels, alarm_changed, alarm, keys, nbytes = schema.shape(part, list, "it", 10)
    ns = schema.namespace(ns)
    d = Delta(
        cleared=schema.flag(cleared, "cleared"),
        alarm_changed=schema.flag(alarm_changed, "alarm_changed"),
        alarm=schema.alarm(alarm),
    )
    d.puts.update(schema.entries(puts, "its written keys"))
    for k in schema.shape(dels, list, "its deleted keys"):
        d.puts[schema.key(k)] = DELETED
    hx = schema.object_id(ns, hx)
    return ObjectRecord(
        ns,
        hx,
        schema.name(name, ns, hx),
        d,
        schema.count(keys, "its key count"),
        schema.count(nbytes, "its byte count"),
    )
