"""The rows of the index's file (``index_store.py``): its format, its tables, and how a row is written and checked.

Tables (docs/persistence.md: the costs, and the choice with its figures)::

    objects(ns, hx, name, keys, bytes, alarm, last_active, calls, errors, crc)   -- one row an object
    counts(ns, n)      -- objects per namespace, kept by a trigger in the same transaction as the rows

``objects`` is keyed by (namespace, id) and has two indexes: the listing order (namespace, named
first, name, id), so a page is a seek and a short scan, and the objects with an alarm.

What is read back is input (docs/trust.md): the file's application id, format and schema are
checked at open (against ``APPLICATION_ID``, ``FORMAT``, ``SCHEMA``), and every row read is held to
``check_row`` and to its ``crc`` (a CRC-32 of its fields as written, ``encode``/``decode``), so a
flipped bit inside a row is damage too; the front ends' whole table is checked in SQLite's own scan
(``TABLE_CHECK``). Damage raises ``Damaged``; the index is then rebuilt from the checkpoints, never
trusted partially. Pure functions of a row: no I/O here.
"""

from __future__ import annotations

import zlib

from .. import values
from ..object import storage
from . import schema

FORMAT = 1
APPLICATION_ID = 0x64745569  # "dtUi": a file of this format, not some other SQLite database
FIELDS = "ns, hx, name, keys, bytes, alarm, last_active, calls, errors, crc"
ORDER = "ns, name IS NULL, name, hx"
SCHEMA = (
    "CREATE TABLE objects (ns TEXT NOT NULL, hx TEXT NOT NULL, name TEXT, keys INTEGER NOT NULL, "
    "bytes INTEGER NOT NULL, alarm REAL, last_active REAL, calls INTEGER NOT NULL, errors INTEGER NOT NULL, "
    "crc INTEGER NOT NULL, PRIMARY KEY (ns, hx)) STRICT, WITHOUT ROWID",
    f"CREATE INDEX objects_order ON objects ({ORDER})",
    "CREATE INDEX objects_alarm ON objects (alarm) WHERE alarm IS NOT NULL",
    "CREATE TABLE counts (ns TEXT PRIMARY KEY, n INTEGER NOT NULL) STRICT, WITHOUT ROWID",
    "CREATE TRIGGER objects_counted AFTER INSERT ON objects BEGIN "
    "INSERT INTO counts VALUES (NEW.ns, 1) ON CONFLICT (ns) DO UPDATE SET n = n + 1; END",
)
UPSERT = f"INSERT INTO objects ({FIELDS}) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (ns, hx) DO UPDATE SET " + ", ".join(
    f"{f} = excluded.{f}" for f in FIELDS.split(", ")[2:]
)


class Damaged(Exception):
    """An index file that must not be trusted."""


ROW_FIELDS = (5, 7)  # an object's row: without the counters (folders written before them), with them


def check_row(ns: object, hx: object, row: list) -> None:
    """One object's row of the index, ``[name, keys, bytes, alarm, last_active, calls, errors]``
    (the last two may be missing: 0), with its namespace and id: every field as the engine writes
    it (schema.py), or ``schema.Malformed``."""
    namespace = schema.namespace(ns)
    hex = schema.object_id(namespace, hx)
    name, keys, nbytes, alarm, last_active, *counters = row
    schema.name(name, namespace, hex)
    schema.count(keys, "its key count")
    schema.count(nbytes, "its byte count")
    schema.alarm(alarm)
    schema.moment(last_active, "its last_active", optional=True)
    for n, what in zip(counters, ("its call count", "its error count"), strict=False):
        schema.count(n, what)


TABLE_CHECK = (
    "ns IN (SELECT ns FROM counts) AND length(hx) = 64 "
    "AND keys BETWEEN 0 AND :max AND bytes BETWEEN 0 AND :max AND calls BETWEEN 0 AND :max "
    "AND errors BETWEEN 0 AND :max AND (alarm IS NULL OR alarm BETWEEN :lo AND :hi) "
    "AND (last_active IS NULL OR last_active BETWEEN :lo AND :hi)"
)
TABLE_BOUNDS = {"max": schema.MAX_COUNT, "lo": storage.EARLIEST_ALARM, "hi": storage.LATEST_ALARM}


def _float(x):
    return None if x is None else float(x)


def encode(r: list) -> tuple:
    """A row ``[ns, hx, name, keys, bytes, alarm, last_active, calls, errors]`` as it is stored,
    with its CRC (times as floats: what a REAL column gives back)."""
    ns, hx, name, keys, nbytes, alarm, last, calls, errors = r
    fields = [ns, hx, name, keys, nbytes, _float(alarm), _float(last), calls, errors]
    return (*fields, _crc(fields))


def _crc(fields: list) -> int:
    """CRC-32 of the fields' ``repr`` (exact for str, int, float and None; 4x cheaper than JSON)."""
    return zlib.crc32(repr(fields).encode("utf-8", "surrogatepass"))


def decode(t: tuple, path: str) -> list:
    """A stored row back, checked (``Damaged`` naming the file and the row otherwise). O(row)."""
    *fields, crc = t
    try:
        if crc != _crc(fields):
            raise schema.Malformed("its checksum does not match its fields")
        check_row(fields[0], fields[1], fields[2:])
    except (schema.Malformed, TypeError, ValueError) as exc:
        raise Damaged(f"{path}: the row {values.shown(fields[:2])} is not one the engine wrote: {exc}") from None
    return fields
