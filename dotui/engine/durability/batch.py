"""One group commit's batch: the changes of the objects written since the last commit, in one record.

The committer (committer.py) takes a batch at each commit: every scheduled object's changes
(``Storage.take_changes``; a SQLite-backed object COMMITs there, docs/sqlite.md) are encoded
into one log record (logformat.py), with the output-gate future each object's results wait on.
An object whose changes cannot be taken or encoded fails alone (``fail``), the others go on.
Once the record is durable, ``delta_of`` turns each object's changes into the committed form
the durable state applies. O(objects + bytes written) a batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from json.scanner import make_scanner
from typing import TYPE_CHECKING, Any

from .logformat import DELETED, Delta, encode_object, encode_record

if TYPE_CHECKING:
    import asyncio

    from ..object.instance import Instance

Fail = Callable[["Instance", "asyncio.Future", BaseException], None]


class Batch:
    """One group commit: the objects in it and the record that carries their changes."""

    __slots__ = ("entries", "record", "now", "wals", "log_sync")

    def __init__(self, entries: list, record: bytes, now: float):
        self.entries = entries  # (instance, changes, output-gate future, keys, bytes)
        self.record = record
        self.now = now
        # The -wal files of the SQLite-backed objects in it, fdatasynced with the append (sqlfile.py)
        self.wals = [c.wal for _, c, *_ in entries if getattr(c, "wal", None) is not None]
        # Whether the record itself must be durable before the results are released: not when
        # every object in it is SQLite-backed and tells only counts its database holds too
        # (SqlChanges.log_sync; docs/sqlite.md, "One fdatasync a commit"). O(objects).
        self.log_sync = len(self.wals) < len(entries) or any(c.log_sync for _, c, *_ in entries)


def take_batch(dirty: Iterable[Instance], now: Callable[[], float], fail: Fail) -> Batch | None:
    """The batch of the objects in ``dirty``, None if none has changes to commit now (``now``: the
    record's time; ``fail``: an object whose changes cannot be taken or encoded)."""
    entries = []
    parts = []
    for inst in dirty:
        st = inst.storage
        if st is None:
            continue
        try:
            changes = st.take_changes()  # a SQLite-backed object COMMITs here (docs/sqlite.md)
            if changes is None:
                continue  # a transaction is open: its end schedules the commit again
            keys, nbytes = st.key_count, st.byte_size
            part = encode_object(inst.ns.name, inst.id.hex, inst.id.name, changes, keys, nbytes)
        except Exception as exc:  # noqa: BLE001 - only this object's commit fails
            fail(inst, inst.output_gate.begin_commit(), exc)
            continue
        parts.append(part)
        entries.append((inst, changes, inst.output_gate.begin_commit(), keys, nbytes))
    if not entries:
        return None
    at = now()
    try:
        record = encode_record(at, parts)
    except UnicodeEncodeError:
        entries, parts = _drop_unencodable(entries, parts, fail)
        if not entries:
            return None
        record = encode_record(at, parts)
    return Batch(entries, record, at)


def _drop_unencodable(entries: list, parts: list[str], fail: Fail) -> tuple[list, list[str]]:
    """Fail the objects whose changes UTF-8 cannot encode (a lone surrogate); keep the rest."""
    kept, kept_parts = [], []
    for entry, part in zip(entries, parts, strict=False):
        try:
            part.encode()
        except UnicodeEncodeError as exc:
            fail(entry[0], entry[2], exc)
            continue
        kept.append(entry)
        kept_parts.append(part)
    return kept, kept_parts


def delta_of(changes: Any) -> Delta:
    """The committed form of a storage's ``Changes``: values decoded, deletes marked."""
    puts = {}
    for k, text in changes.puts.items():  # a loop, not a comprehension: no frame of its own per commit
        puts[k] = DELETED if text is None else _decode(text, 0)[0]
    return Delta(changes.cleared, puts, changes.alarm_changed, changes.alarm)


# The texts are storage's own encoding of a value (one JSON value, no whitespace):
# the C scanner alone reads them, without ``json.loads``'s checks around it.
_decode = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed types it as its own class; the C scanner takes a decoder
