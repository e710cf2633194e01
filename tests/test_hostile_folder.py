"""A data folder whose files are not what the engine wrote, and values the engine must read back.

What ``put`` accepts, every reader decodes: after a checkpoint, after a kill and replay, and
through ``dotui recover``. A log record, an index row or a checkpoint with a valid checksum but
fields the engine never writes is damage named with its place (docs/trust.md, "The data folder"):
never a raw exception, never a silent apply, never a write outside the folder.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from pathlib import Path

import pytest

from dotui import Engine
from dotui.cli import main
from dotui.engine.errors import BrokenObjectError, LogCorruptError
from dotui.engine.ids import IdFactory
from dotui.engine.object.storage import MAX_DEPTH, MAX_KEY_BYTES, MAX_VALUE_BYTES
from tests.conftest import COUNTER, guarded, write_objects

pytestmark = pytest.mark.hostile

BOX = """
    import sys
    from dotui import DurableObject

    def _frames():
        f, n = sys._getframe(), 0
        while f is not None:
            f, n = f.f_back, n + 1
        return n

    def _near_the_limit(headroom, fn):
        # Recurse until only ``headroom`` frames are left below the interpreter's limit.
        if _frames() < sys.getrecursionlimit() - headroom:
            return _near_the_limit(headroom, fn)
        return fn()

    class Box(DurableObject):
        def put(self, key, value):
            self.ctx.storage.put(key, value)

        def put_pickled(self, key, text, wrap=0):
            # The value as the test made it (NaN, tuples, huge ints), not through the call's JSON
            # copy, inside ``wrap`` lists and dicts made here (too deep for a pickle).
            import base64, pickle
            value = pickle.loads(base64.b64decode(text))
            for i in range(wrap):
                value = [value] if i % 2 else {"k": value}
            self.ctx.storage.put(key, value)

        def put_nested(self, key, depth, headroom=0):
            value = 1
            for _ in range(depth):
                value = [value]
            put = lambda: self.ctx.storage.put(key, value)
            return _near_the_limit(headroom, put) if headroom else put()

        def get(self, key):
            return self.ctx.storage.get(key)

        def get_all(self):
            return self.ctx.storage.list()
"""


def nested(depth: int, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def files_outside(root: Path, data: Path) -> dict[str, bytes]:
    """Every file under ``root`` but inside ``data``, with its contents."""
    out = {}
    for d, _dirs, fs in os.walk(root):
        if Path(d) == data or data in Path(d).parents:
            continue
        for f in fs:
            p = os.path.join(d, f)
            out[p] = open(p, "rb").read()
    return out


@pytest.fixture
def box_objects(tmp_path: Path) -> Path:
    return write_objects(tmp_path / "objects", box=BOX, counter=COUNTER)


def engine_on(objects: Path, data: Path) -> Engine:
    return Engine(objects=str(objects), data=str(data), checkpoint_interval=3600)


# ------------------------------------------------------------------ acknowledged means readable
@pytest.mark.slow
@pytest.mark.parametrize("headroom", [0, 40])
@guarded
async def test_a_value_nested_past_the_bound_is_a_type_error_naming_the_key_at_any_stack_depth(
    box_objects, tmp_path, headroom
):
    async with engine_on(box_objects, tmp_path / "data") as e:
        box = e.env.Box.get_by_name("b")
        await box.put_nested("ok", MAX_DEPTH, headroom)  # the bound itself is accepted
        for depth in (MAX_DEPTH + 1, 978, 2000, 10**5):
            with pytest.raises(TypeError) as info:
                await box.put_nested("deep", depth, headroom)
            assert "'deep'" in str(info.value) and f"at most {MAX_DEPTH} deep" in str(info.value), info.value
        assert sorted(await box.get_all()) == ["ok"]  # nothing of the refused puts was stored
        assert await box.get("ok") == nested(MAX_DEPTH)


@guarded
async def test_a_value_at_the_bound_is_read_back_after_a_kill_a_close_and_recover(box_objects, tmp_path):
    data = tmp_path / "data"
    value = {"deep": nested(MAX_DEPTH - 1), "text": "x" * 100}
    e = engine_on(box_objects, data)
    await e.start()
    await e.env.Box.get_by_name("b").put("v", value)
    await e.crash()
    async with engine_on(box_objects, data) as e:  # replayed from the log
        assert await e.env.Box.get_by_name("b").get("v") == value
    async with engine_on(box_objects, data) as e:  # read from its checkpoint
        assert await e.env.Box.get_by_name("b").get("v") == value
    assert main(["recover", "--data", str(data)]) == 0
    async with engine_on(box_objects, data) as e:
        assert await e.env.Box.get_by_name("b").get("v") == value


# ------------------------------------------------------------------ log records are input
HEADER = struct.Struct("<II")


def frame(payload: bytes) -> bytes:
    """A log record with a valid checksum around ``payload``."""
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def counter_id(name: str = "a") -> str:
    return IdFactory("Counter").from_name(name).hex


def part(
    ns="Counter",
    hx=None,
    name="a",
    cleared=False,
    puts=None,
    dels=(),
    alarm_changed=False,
    alarm=None,
    keys=1,
    nbytes=10,
) -> list:
    return [
        ns,
        counter_id(name) if hx is None else hx,
        name,
        cleared,
        {"n": 5} if puts is None else puts,
        dels,
        alarm_changed,
        alarm,
        keys,
        nbytes,
    ]


NEAR = "__nested 950 deep__"  # just inside what a JSON decoder follows: read back whole, then checked


def near(text: bytes) -> bytes:
    """``text`` with each NEAR replaced by lists nested 950 deep."""
    return text.replace(json.dumps(NEAR).encode(), b"[" * 950 + b"]" * 950)


def payload(*parts, t=1.7e9) -> bytes:
    return near(json.dumps({"t": t, "o": list(parts)}, allow_nan=True).encode())


def write_log(data: Path, *records: bytes) -> Path:
    (data / "log").mkdir(parents=True, exist_ok=True)
    segment = data / "log" / "00000001.log"
    segment.write_bytes(b"".join(records))
    return segment


OUTSIDE = "../outside"
BAD_RECORDS = {
    "namespace ../outside": payload(part(ns=OUTSIDE, hx=IdFactory(OUTSIDE).from_name("a").hex)),
    "id ../../x": payload(part(hx="../../x")),
    "an absolute namespace": payload(part(ns="/tmp/dotui-outside")),
    "the engine's log folder as namespace": payload(part(ns="log", hx=IdFactory("log").from_name("a").hex)),
    "t a string": payload(part(), t="now"),
    "the id a list": payload(part(hx=["a"])),
    "dels a string": payload(part(dels="abc")),
    "cleared 'no'": payload(part(cleared="no")),
    "a value over 128 KiB": payload(part(puts={"big": "x" * (MAX_VALUE_BYTES + 1)})),
    "a key over 2,048 bytes": payload(part(puts={"k" * (MAX_KEY_BYTES + 1): 1})),
    "a forged id": payload(part(hx="ab" * 32)),
    "an id of another namespace": payload(part(hx=IdFactory("Box").from_name("a").hex)),
    "a negative count": payload(part(keys=-1)),
    "a NaN value": payload(part(puts={"n": float("nan")})),
    "a NaN alarm": payload(part(alarm_changed=True, alarm=float("nan"))),
    "a value nested 10^5 deep": payload(part(puts={"n": "DEEP"})).replace(b'"DEEP"', b"[" * 10**5 + b"]" * 10**5),
    "a value nested past the bound": payload(part(puts={"n": nested(MAX_DEPTH + 1)})),
    "a lone surrogate": payload(part(puts={"n": "\ud800"})),
    "not UTF-8": payload(part(puts={"n": "ZZZ"})).replace(b"ZZZ", b"\xff\xfe"),
    "not JSON": b'{"t": 1, "o": [',
    "a part too short": payload(["Counter", counter_id()]),
    # A field nested just inside the decoder's reach: its error message never recurses into it.
    "t nested 950 deep": payload(part(), t=NEAR),
    "the name nested 950 deep": payload(part(hx=counter_id("a"), name=NEAR)),
    "a deleted key nested 950 deep": payload(part(dels=[NEAR])),
    "the parts nested 950 deep": payload(NEAR),
    # A name is the one its id was made from (object code and every front end are shown it).
    "a name not its id's": payload(part(hx=counter_id("a"), name="mallory")),
    # Counts every reader holds: a size past 2^63 - 1 is no file's (a front end's float() overflows).
    "a key count past 2^63": payload(part(keys=2**63)),
    "a byte count of 10^400": payload(part(nbytes=10**400)),
    "no o": b'{"t": 1.0}',
}


@pytest.mark.parametrize("last", [True, False], ids=["last record", "records after it"])
@pytest.mark.parametrize("what", list(BAD_RECORDS))
@guarded
async def test_a_record_with_a_valid_checksum_but_bad_fields_is_damage_named_with_its_place(
    box_objects, tmp_path, what, last, capsys
):
    data = tmp_path / "data"
    good = frame(payload(part(name="b", puts={"n": 1})))
    records = [good, frame(BAD_RECORDS[what])] + ([] if last else [good])
    segment = write_log(data, *records)
    outside_before = files_outside(tmp_path, data)
    with pytest.raises(LogCorruptError) as info:
        async with engine_on(box_objects, data):
            pass
    assert info.value.path == str(segment) and info.value.offset == len(good)
    assert f"byte {len(good)}" in str(info.value) and "dotui recover" in str(info.value)
    assert files_outside(tmp_path, data) == outside_before  # nothing written outside the folder
    assert not (tmp_path / "outside").exists()

    assert main(["recover", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "sound" not in out and f"byte {len(good)}" in out
    assert main(["recover", "--data", str(data), "--yes"]) == 0
    assert "dropped" in capsys.readouterr().out
    async with engine_on(box_objects, data) as e:  # the record before the damage stands
        assert await e.env.Counter.get_by_name("b").peek() == 1
    assert files_outside(tmp_path, data) == outside_before


@guarded
async def test_a_namespace_with_no_class_keeps_its_records_and_is_reported(box_objects, tmp_path, caplog):
    data = tmp_path / "data"
    ghost = IdFactory("Ghost").from_name("g").hex
    write_log(data, frame(payload(part(ns="Ghost", hx=ghost, name="g", puts={"kept": [1, 2]}))))
    with caplog.at_level(logging.WARNING, logger="dotui"):
        async with engine_on(box_objects, data) as e:
            listed = e.instances()
    assert any(r["namespace"] == "Ghost" and r["id"] == ghost for r in listed)
    assert "Ghost" in caplog.text and "no class" in caplog.text
    doc = json.loads((data / "Ghost" / f"{ghost}.json").read_text())
    assert [r["value"] for r in doc["storage"].values()] == [[1, 2]]  # its data is kept


# ------------------------------------------------------------------ index rows are input
INDEX_FILES = ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "index.json", "index.journal")


async def two_checkpointed(objects: Path, data: Path, drop_index: bool = False) -> None:
    """Objects a and b checkpointed; with ``drop_index``, the index is removed then, so that the files
    a test writes are what the next start reads (``index.json``/``index.journal``: an older engine's
    folder)."""
    async with engine_on(objects, data) as e:
        for name in ("a", "b"):
            await e.env.Counter.get_by_name(name).increment()
    for n in INDEX_FILES if drop_index else ():
        (data / n).unlink(missing_ok=True)


def journal_line(text: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(text), text)


def row(ns="Counter", hx=None, name="a", keys=1, nbytes=10, alarm=None, last_active=1.7e9, *counters) -> bytes:
    fields = [ns, counter_id(name) if hx is None else hx, name, keys, nbytes, alarm, last_active, *counters]
    return near(json.dumps(fields).encode())


BAD_ROWS = {
    "an int namespace": row(ns=5),
    "a NaN alarm": row(alarm=float("nan")),
    "an alarm a string": row(alarm="soon"),
    "keys a string": row(keys="many"),
    "a negative byte count": row(nbytes=-5),
    "a forged id": row(hx="cd" * 32),
    "namespace ../x": row(ns="../x"),
    "a name that is a list": row(hx=counter_id("a"), name=["a"]),
    "last_active infinite": row(last_active=float("inf")),
    "a row too short": json.dumps(["Counter", counter_id()]).encode(),
    "not JSON": b"[1, 2",
    "nested 10^5 deep": b"[" * 10**5 + b"]" * 10**5,
    "a name nested 950 deep": row(hx=counter_id("a"), name=NEAR),
    "a row nested 950 deep": near(json.dumps(NEAR).encode()),
    "a byte count of 10^400": row(nbytes=10**400),
    "a name not its id's": row(hx=counter_id("a"), name="mallory"),
    "a call count past 2^63": row("Counter", None, "a", 1, 10, None, 1.7e9, 2**63, 0),
}


@pytest.mark.parametrize("what", list(BAD_ROWS))
@guarded
async def test_one_bad_journal_row_never_poisons_listing(box_objects, tmp_path, what, caplog):
    data = tmp_path / "data"
    await two_checkpointed(box_objects, data, drop_index=True)
    (data / "index.journal").write_bytes(
        journal_line(b'{"journal":1,"base":0}')
        + journal_line(row(name="a"))
        + journal_line(BAD_ROWS[what])
        + journal_line(row(name="b"))
    )
    with caplog.at_level(logging.WARNING, logger="dotui"):
        async with engine_on(box_objects, data) as e:
            assert sorted((r["name"], r["keys"]) for r in e.instances()) == [("a", 1), ("b", 1)]
            assert await e.env.Counter.get_by_name("a").increment() == 2
            assert await e.checkpoint()  # the index is written again: no retrying forever
    assert "index.journal" in caplog.text and "line 3" in caplog.text  # the bad row, named
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dotui"):
        async with engine_on(box_objects, data) as e:  # the index written back is whole
            assert sorted((r["name"], r["keys"]) for r in e.instances()) == [("a", 1), ("b", 1)]
    assert "index" not in caplog.text


SQL_BAD_ROWS = {  # what the index database's STRICT columns can hold and the engine never writes
    "a negative byte count": {"bytes": -5},
    "a forged id": {"hx": "cd" * 32},
    "namespace ../x": {"ns": "../x"},
    "a name not its id's": {"name": "mallory"},
    "a negative call count": {"calls": -1},
    "an alarm in the year 20000": {"alarm": 6.0e11},
    "a key count changed under its checksum": {"keys": 7, "crc": None},
}


def replace_index_row(data: Path, name: str, change: dict) -> None:
    """Rewrite the index database's row of ``name`` with ``change`` (its CRC made for the new fields,
    unless ``change`` names ``crc``: then the old one stays)."""
    import sqlite3

    from dotui.engine.durability.index_rows import encode

    db = sqlite3.connect(data / "index.sqlite")
    (row,) = db.execute(
        "SELECT ns, hx, name, keys, bytes, alarm, last_active, calls, errors FROM objects WHERE name = ?", (name,)
    ).fetchall()
    names = ("ns", "hx", "name", "keys", "bytes", "alarm", "last_active", "calls", "errors")
    fields = dict(zip(names, row, strict=True))
    fields.update({k: v for k, v in change.items() if k != "crc"})
    crc = encode(list(row if "crc" in change else fields.values()))[-1]
    with db:
        db.execute("DELETE FROM objects WHERE name = ?", (name,))
        db.execute("INSERT INTO objects VALUES (?,?,?,?,?,?,?,?,?,?)", (*fields.values(), crc))
    db.close()


@pytest.mark.parametrize("what", list(SQL_BAD_ROWS))
@guarded
async def test_one_bad_row_of_the_index_database_never_poisons_listing(box_objects, tmp_path, what, caplog):
    data = tmp_path / "data"
    await two_checkpointed(box_objects, data)
    replace_index_row(data, "a", SQL_BAD_ROWS[what])
    with caplog.at_level(logging.WARNING, logger="dotui"):
        async with engine_on(box_objects, data) as e:
            assert sorted((r["name"], r["keys"]) for r in e.instances()) == [("a", 1), ("b", 1)]
            assert await e.env.Counter.get_by_name("a").increment() == 2
            assert await e.checkpoint()  # the index is written again, whole
    assert "index.sqlite" in caplog.text and "cannot be trusted" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dotui"):
        async with engine_on(box_objects, data) as e:  # the index written back is whole
            assert sorted((r["name"], r["keys"]) for r in e.instances()) == [("a", 1), ("b", 1)]
            assert await e.env.Counter.get_by_name("a").peek() == 2
    assert "index" not in caplog.text


@pytest.mark.parametrize(
    "what", ["a negative byte count", "namespace ../x", "a negative call count", "an alarm in the year 20000"]
)
@guarded
async def test_the_whole_table_refuses_a_bad_row_of_the_index_database_too(box_objects, tmp_path, what, caplog):
    data = tmp_path / "data"
    await two_checkpointed(box_objects, data)
    replace_index_row(data, "a", SQL_BAD_ROWS[what])
    with caplog.at_level(logging.WARNING, logger="dotui"):
        async with engine_on(box_objects, data) as e:
            table = await e.instance_table()  # the TUI's whole listing: checked in one query, not row by row
            assert sorted(table["hibernated"]["Counter"]["name"]) == ["a", "b"]
            assert table["hibernated"]["Counter"]["bytes"] == [table["hibernated"]["Counter"]["bytes"][0]] * 2
    assert "index.sqlite" in caplog.text and "cannot be trusted" in caplog.text


@pytest.mark.parametrize(
    "what",
    [
        "a NaN alarm",
        "keys a string",
        "an int namespace",
        "namespace ../x",
        "nested 10^5 deep",
        "a name nested 950 deep",
        "a byte count of 10^400",
        "a name not its id's",
    ],
)
@guarded
async def test_one_bad_snapshot_row_never_poisons_listing(box_objects, tmp_path, what):
    data = tmp_path / "data"
    await two_checkpointed(box_objects, data, drop_index=True)
    ns, hx, *fields = json.loads(row(name="a"))
    bad = BAD_ROWS[what] if what == "nested 10^5 deep" else None
    objects = {"Counter": {hx: fields}}
    if bad is None:
        placeholder = json.dumps(NEAR).encode()
        bns, bhx, *bfields = json.loads(BAD_ROWS[what].replace(near(placeholder), placeholder))
        objects.setdefault(str(bns), {})[str(bhx)] = bfields
        text = near(json.dumps({"version": 1, "generation": 1, "objects": objects}).encode())
    else:
        text = b'{"version":1,"generation":1,"objects":{"Counter":{"x":' + bad + b"}}}"
    (data / "index.json").write_bytes(text)
    async with engine_on(box_objects, data) as e:
        assert sorted(r["name"] for r in e.instances()) == ["a", "b"]
        assert await e.checkpoint()


# ------------------------------------------------------------------ checkpoints are input
def rewrite_checkpoint(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    text = edit(doc)
    path.write_bytes(text if isinstance(text, bytes) else json.dumps(doc, allow_nan=True).encode())


BAD_CHECKPOINTS = {
    "a value nested 10^5 deep": lambda d: (
        json.dumps(d).encode().replace(b'"value": 1', b'"value": ' + b"[" * 10**5 + b"]" * 10**5)
    ),
    "a value nested past the bound": lambda d: d["storage"]["1"].update(value=nested(MAX_DEPTH + 1)),
    "a NaN value": lambda d: d["storage"]["1"].update(value=float("nan")),
    "a key over 2,048 bytes": lambda d: d["storage"]["1"].update(key="k" * (MAX_KEY_BYTES + 1)),
    "a value over 128 KiB": lambda d: d["storage"]["1"].update(value="x" * (MAX_VALUE_BYTES + 1)),
    "a lone surrogate": lambda d: json.dumps(d).encode().replace(b'"value": 1', b'"value": "\\ud800"'),
    "an alarm a string": lambda d: d["meta"]["1"].update(alarm="soon"),
    "a NaN alarm": lambda d: d["meta"]["1"].update(alarm=float("nan")),
    "a negative key count": lambda d: d["meta"]["1"].update(keys=-1),
    "a name that is a dict": lambda d: d["meta"]["1"].update(name={"a": 1}),
    "not UTF-8": lambda d: json.dumps(d).encode().replace(b'"n"', b'"\xff"'),
    "a name nested 950 deep": lambda d: near(
        json.dumps({**d, "meta": {"1": {**d["meta"]["1"], "name": NEAR}}}).encode()
    ),
    "a storage row nested 950 deep": lambda d: near(json.dumps({**d, "storage": {"1": NEAR}}).encode()),
    "a byte count of 10^400": lambda d: d["meta"]["1"].update(bytes=10**400),
    "a name not its id's": lambda d: d["meta"]["1"].update(name="mallory"),
    "the id of another object": lambda d: d["meta"]["1"].update(id=counter_id("b"), name="b"),
    "another namespace": lambda d: d["meta"]["1"].update(namespace="Box"),
}


@pytest.mark.parametrize("what", list(BAD_CHECKPOINTS))
@guarded
async def test_a_checkpoint_that_fails_its_checks_makes_that_object_broken_never_the_listing(
    box_objects, tmp_path, what
):
    data = tmp_path / "data"
    await two_checkpointed(box_objects, data)
    path = data / "Counter" / f"{counter_id('a')}.json"
    rewrite_checkpoint(path, BAD_CHECKPOINTS[what])
    before = path.read_bytes()
    async with engine_on(box_objects, data) as e:
        assert sorted(r["name"] for r in e.instances()) == ["a", "b"]
        with pytest.raises(BrokenObjectError) as info:
            await e.env.Counter.get_by_name("a").peek()
        assert str(path) in str(info.value)
        assert await e.env.Counter.get_by_name("b").increment() == 2  # the others go on
    assert path.read_bytes() == before  # never overwritten


# ------------------------------------------------------------------ the cluster's manifest is input too
@pytest.mark.parametrize(
    "text",
    [b"[" * 10**5 + b"]" * 10**5, b'{"version": 1, "shards": NaN}', b"\xff\xfe", b'{"version": 1, "shards": "2"}'],
)
def test_a_manifest_no_decoder_reads_is_refused_naming_it(tmp_path, text):
    from dotui.cluster.manifest import ManifestError, open_manifest

    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "cluster.json").write_bytes(text)
    with pytest.raises(ManifestError, match="cannot be read"):
        open_manifest(str(tmp_path / "root"), 2)
    assert (tmp_path / "root" / "cluster.json").read_bytes() == text
