"""The index as folders before ``index.sqlite`` kept it: ``index.json`` and ``index.journal``.

Read once, at the first start on such a folder, and written again as the database
(``index_store.py``, its rows ``index_rows.py``); then removed. Read as strictly as ever (docs/trust.md):

- ``<data>/index.json``, a snapshot ``{"version": 1, "generation": G, "objects":
  {namespace: {id hex: [name, keys, bytes, alarm, last_active, calls, errors]}}}``;
- ``<data>/index.journal``, rows appended to it. Each line is ``<crc32 hex> <JSON>``: the first
  line ``{"journal": 1, "base": G}`` names the snapshot generation it extends (0: no snapshot),
  then one row ``[namespace, id hex, name, keys, bytes, alarm, last_active, calls, errors]`` per
  line (rows written before the counters were kept have no such fields, and count 0).

Only the last line of the journal may be torn (a kill mid-append): it is left out. Any other damage
(a bad line with good lines after it, a damaged snapshot, a journal without the snapshot it extends,
an empty journal with no snapshot) is never trusted partially: ``Damaged``, and the index is rebuilt
from the checkpoints. O(size of the files).
"""

from __future__ import annotations

import os
import zlib

from .. import values
from . import disk, schema
from .index_rows import ROW_FIELDS, Damaged, check_row

SNAPSHOT, JOURNAL = "index.json", "index.journal"


def read_journal(path: str) -> tuple[int, list[list], int, int] | None:
    """(base generation, rows, bytes of whole lines, bytes of a torn last line); None
    when there is no journal or it is empty. Raises ``Damaged`` for anything but a
    torn last line."""
    try:
        raw = disk.read_file(path)
    except FileNotFoundError:
        return None
    if not raw:
        return None
    docs, good = [], 0
    lines = raw.split(b"\n")
    for i, line in enumerate(lines[:-1]):  # the piece after the last newline is torn (or empty)
        try:
            crc, text = line.split(b" ", 1)
            if int(crc, 16) != zlib.crc32(text):
                raise ValueError("checksum")
        except ValueError:
            if i < len(lines) - 2:
                raise Damaged(f"{path}: line {i + 1} is damaged and lines follow it") from None
            break  # a torn last line that happens to end in a newline
        try:
            docs.append(values.read(text))
        except ValueError as exc:  # its checksum matches: no kill tore it
            raise Damaged(f"{path}: line {i + 1} is not JSON ({exc})") from None
        good += len(line) + 1
    if not docs or not isinstance(docs[0], dict) or docs[0].get("journal") != 1:
        if good == 0 and len(lines) <= 2:
            return None  # only a torn first line: nothing was ever written whole
        raise Damaged(f"{path}: no journal header (an older format, or damage)")
    rows = docs[1:]
    for i, r in enumerate(rows, 2):
        try:
            ns, hx, *row = _row_shape(r, "the row", 2)
            check_row(ns, hx, row)
        except schema.Malformed as exc:
            raise Damaged(
                f"{path}: line {i} is not a row [namespace, id, name, keys, bytes, alarm, "
                f"last_active, calls, errors]: {exc}"
            ) from None
    base = docs[0].get("base", -1)
    if type(base) is not int:
        raise Damaged(f"{path}: the header's base generation is {values.shown(base)}, not an int")
    return base, rows, good, len(raw) - good


def read_snapshot(path: str) -> tuple[int, dict] | None:
    """(generation, objects) of ``index.json``; None when there is none. Raises ``Damaged``."""
    try:
        raw = disk.read_file(path)
    except FileNotFoundError:
        return None
    try:
        doc = schema.shape(values.read(raw), dict, "the document")
        objects = schema.shape(doc.get("objects"), dict, "its objects")
        for ns, entries in objects.items():
            for hx, row in schema.shape(entries, dict, f"the objects of {ns!r}").items():
                check_row(ns, hx, _row_shape(row, f"the row of {ns} {hx!r}", 0))
        generation = doc.get("generation", 0)
        if type(generation) is not int:
            raise schema.Malformed(f"its generation is {values.shown(generation)}, not an int")
        return generation, objects
    except ValueError as exc:  # schema.Malformed, or not UTF-8 or JSON
        raise Damaged(f"{path}: not an index snapshot ({exc})") from None


def _row_shape(row: object, what: str, before: int) -> list:
    """``row`` is a list of ``before`` fields (namespace and id in the journal) and an object's row."""
    fields: list = schema.shape(row, list, what)
    if len(fields) - before not in ROW_FIELDS:
        schema.shape(fields, list, what, before + ROW_FIELDS[-1])  # raises, naming the length wanted
    return fields


def read(data_dir: str) -> list[list] | None:
    """Every row ``[ns, hx, name, keys, bytes, alarm, last_active, calls, errors]`` the legacy files
    hold (the journal's over the snapshot's); None when there are none. Raises ``Damaged`` (an I/O
    error too: the files are read once, then replaced)."""
    snap_path, journal_path = os.path.join(data_dir, SNAPSHOT), os.path.join(data_dir, JOURNAL)
    try:
        snap = read_snapshot(snap_path)
        journal = read_journal(journal_path)
    except OSError as exc:
        raise Damaged(f"cannot read the index: {exc}") from None
    if snap is None and journal is None:
        if os.path.lexists(journal_path):  # an empty journal and no snapshot
            raise Damaged(f"{journal_path} is empty and there is no {snap_path}")
        return None
    gen = snap[0] if snap is not None else 0
    if journal is not None and (journal[0] > gen or (snap is None and journal[0] != 0)):
        raise Damaged(f"{journal_path} extends a snapshot (generation {journal[0]}) that {snap_path} is not")
    rows: dict[tuple[str, str], list] = {}
    for ns, entries in (snap[1] if snap else {}).items():
        for hx, row in entries.items():
            rows[(ns, hx)] = [ns, hx, *_full(row)]
    if journal is not None and journal[0] == gen:
        for ns, hx, *row in journal[1]:
            rows[(ns, hx)] = [ns, hx, *_full(row)]
    return list(rows.values())


def _full(row: list) -> list:
    return list(row) + [0] * (ROW_FIELDS[-1] - len(row))


def remove(data_dir: str) -> None:
    """Remove the legacy files (once the database holding their rows is durable)."""
    gone = False
    for name in (SNAPSHOT, JOURNAL):
        p = os.path.join(data_dir, name)
        if os.path.lexists(p):
            disk.remove(p)
            gone = True
    if gone:
        disk.fsync_dir(data_dir)
