"""Fuzz tests of the data folder's readers, by generation: log records, index rows and checkpoints
are generated whole, then one part of each is broken (a field's type, a size past the limits, an
encoding, nesting 10^5 deep, a cut), and the engine's start and ``dotui recover`` are run on them.

Either they succeed, or they name the damage with its place (``LogCorruptError`` with the segment
and the offset of the broken record; ``BrokenObjectError`` naming the checkpoint): never another
exception, never a write outside the data folder. Values ``put`` accepts are read back unchanged
after a checkpoint, a kill and replay, and ``dotui recover`` (docs/trust.md, "The data folder").
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import io
import json
import math
import pickle
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotui import Engine
from dotui.cli import main
from dotui.engine.durability.index import Damaged, read_journal, read_snapshot
from dotui.engine.errors import BrokenObjectError, LogCorruptError
from dotui.engine.ids import IdFactory
from dotui.engine.object.storage import MAX_DEPTH, MAX_KEY_BYTES, MAX_VALUE_BYTES
from tests.conftest import COUNTER, HANG_GUARD, write_objects
from tests.test_hostile_folder import BOX, files_outside, frame

pytestmark = [pytest.mark.hostile, pytest.mark.slow]

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ generating what the engine writes
NAMESPACES = ("Counter", "Box", "Ghost")  # Ghost: a namespace no class of the objects folder defines
names = st.text(alphabet="abxyz", min_size=1, max_size=3)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
keys = st.text(max_size=8)
future_alarms = st.floats(4e9, 5e9)  # far ahead: none fires while a test runs


def hex_of(ns: str, name: str) -> str:
    return IdFactory(ns).from_name(name).hex


@st.composite
def object_parts(draw) -> list:
    ns, name = draw(st.sampled_from(NAMESPACES)), draw(names)
    alarm_changed = draw(st.booleans())
    return [
        ns,
        hex_of(ns, name),
        name,
        draw(st.booleans()),
        draw(st.dictionaries(keys, json_values, max_size=3)),
        draw(st.lists(keys, max_size=2)),
        alarm_changed,
        draw(future_alarms) if alarm_changed else None,
        draw(st.integers(0, 10)),
        draw(st.integers(0, 10_000)),
    ]


records = st.builds(
    lambda t, parts: {"t": t, "o": parts}, st.floats(1e9, 2e9), st.lists(object_parts(), min_size=1, max_size=3)
)


@st.composite
def index_rows(draw) -> list:
    ns, name = draw(st.sampled_from(NAMESPACES)), draw(names)
    row = [
        ns,
        hex_of(ns, name),
        name,
        draw(st.integers(0, 10)),
        draw(st.integers(0, 10_000)),
        draw(st.none() | future_alarms),
        draw(st.none() | st.floats(1e9, 2e9)),
    ]
    if draw(st.booleans()):  # the call and error counters (rows written before them have none)
        row += [draw(st.integers(0, 1000)), draw(st.integers(0, 10))]
    return row


@st.composite
def checkpoints(draw) -> dict:
    data = draw(st.dictionaries(keys, json_values, max_size=4))
    meta = {
        "namespace": "Counter",
        "id": hex_of("Counter", "a"),
        "name": "a",
        "alarm": None,
        "keys": len(data),
        "bytes": draw(st.integers(0, 10_000)),
        "saved_at": draw(st.floats(1e9, 2e9)),
    }
    rows = {str(i): {"key": k, "value": data[k]} for i, k in enumerate(sorted(data), 1)}
    return {"meta": {"1": meta}, "storage": rows}


# ------------------------------------------------------------------ breaking one part of it
DEEP = "__nested 10^5 deep__"
NEAR = "__nested 950 deep__"  # decoded whole, then refused: its error message must not recurse into it
hostile = st.one_of(
    st.sampled_from(
        [
            DEEP,
            NEAR,
            2**63,
            10**400,
            float("nan"),
            float("inf"),
            -1,
            -(2**70),
            True,
            None,
            [],
            {},
            "",
            "../outside",
            "/abs",
            "\ud800",
            "x" * (MAX_VALUE_BYTES + 1),
            "k" * (MAX_KEY_BYTES + 1),
            10**30,
        ]
    ),
    st.just(None).map(lambda _: _nested(MAX_DEPTH + 1)),
    json_values,
)
hostile_keys = st.sampled_from(["k" * (MAX_KEY_BYTES + 1), "\ud800", "../outside", "", "o", "t"])


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def _paths(doc, at=()):
    yield at
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*at, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*at, i))


def _parent(doc, path):
    for step in path[:-1]:
        doc = doc[step]
    return doc


def _text(doc) -> bytes:
    text = json.dumps(doc, allow_nan=True).encode()
    text = text.replace(json.dumps(NEAR).encode(), b"[" * 950 + b"]" * 950)
    return text.replace(json.dumps(DEEP).encode(), b"[" * 10**5 + b"]" * 10**5)


def broken(data, doc) -> bytes:
    """The JSON text of ``doc`` with one part broken, as drawn."""
    doc = copy.deepcopy(doc)
    how = data.draw(st.sampled_from(["value", "key", "cut", "byte", "not UTF-8", "whole"]))
    paths = list(_paths(doc))
    if how == "value":
        path = data.draw(st.sampled_from(paths))
        new = data.draw(hostile)
        if not path:
            return _text(new)
        _parent(doc, path)[path[-1]] = new
    elif how == "key":
        dict_paths = [p for p in paths if isinstance(_parent(doc, (*p, None)), dict) and _parent(doc, (*p, None))]
        if dict_paths:
            d = _parent(doc, (*data.draw(st.sampled_from(dict_paths)), None))
            old = data.draw(st.sampled_from(sorted(d)))
            d[data.draw(hostile_keys)] = d.pop(old)
    text = _text(doc)
    if how == "cut":
        return text[: data.draw(st.integers(0, max(0, len(text) - 1)))]
    if how == "byte":
        i = data.draw(st.integers(0, len(text) - 1))
        return text[:i] + bytes([data.draw(st.integers(0, 255))]) + text[i + 1 :]
    if how == "not UTF-8":
        i = data.draw(st.integers(0, len(text)))
        return text[:i] + b"\xff" + text[i:]
    if how == "whole":
        return _text(data.draw(hostile))
    return text


# ------------------------------------------------------------------ running the engine on it
@contextlib.contextmanager
def folder():
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        yield root, write_objects(root / "objects", box=BOX, counter=COUNTER), root / "data"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, HANG_GUARD))


async def start_and_list(objects: Path, data: Path) -> list:
    async with Engine(objects=str(objects), data=str(data), checkpoint_interval=3600) as e:
        rows = e.instances()
        await e.instance_table()
        e.count_instances()
        return rows


def recover(data: Path, *flags: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["recover", "--data", str(data), *flags]) == 0
    return out.getvalue()


@FUZZ
@given(st.lists(records, min_size=1, max_size=3), st.data())
def test_generated_log_records_with_one_broken_start_or_name_their_place(good, data):
    with folder() as (root, objects, data_dir):
        before = [frame(json.dumps(r).encode()) for r in good]
        bad = frame(broken(data, data.draw(records)))
        if data.draw(st.booleans()):  # a kill in the middle of writing it: its frame cut short
            bad = bad[: data.draw(st.integers(1, len(bad) - 1))]
        after = [frame(json.dumps(r).encode()) for r in data.draw(st.lists(records, max_size=2))]
        (data_dir / "log").mkdir(parents=True)
        segment = data_dir / "log" / "00000001.log"
        segment.write_bytes(b"".join(before + [bad] + after))
        outside = files_outside(root, data_dir)
        try:
            run(start_and_list(objects, data_dir))
        except LogCorruptError as exc:
            assert exc.path == str(segment) and exc.offset == sum(map(len, before)), exc
            assert "dotui recover" in str(exc)
            assert "sound" not in recover(data_dir)
            recover(data_dir, "--yes")
            run(start_and_list(objects, data_dir))
        else:
            assert "sound" in recover(data_dir)
        assert files_outside(root, data_dir) == outside


async def two_checkpointed(objects: Path, data: Path) -> None:
    async with Engine(objects=str(objects), data=str(data)) as e:
        for name in ("a", "b"):
            await e.env.Counter.get_by_name(name).increment()


def journal_line(text: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(text), text)


@FUZZ
@given(st.lists(index_rows(), max_size=4), st.booleans(), st.data())
def test_generated_index_rows_with_one_broken_never_fail_the_start_or_listing(rows, as_snapshot, data):
    with folder() as (root, objects, data_dir):
        run(two_checkpointed(objects, data_dir))
        for p in (data_dir / "index.json", data_dir / "index.journal"):
            p.unlink(missing_ok=True)
        bad_row = data.draw(index_rows())
        if as_snapshot:
            snap = {"version": 1, "generation": 1, "objects": {}}
            for ns, hx, *fields in [*rows, bad_row]:
                snap["objects"].setdefault(ns, {})[hx] = fields
            (data_dir / "index.json").write_bytes(broken(data, snap))
        else:
            lines = [journal_line(b'{"journal":1,"base":0}')] + [journal_line(json.dumps(r).encode()) for r in rows]
            lines.insert(data.draw(st.integers(1, len(lines))), journal_line(broken(data, bad_row)))
            (data_dir / "index.journal").write_bytes(b"".join(lines))
        try:
            read_snapshot(str(data_dir / "index.json"))
            read_journal(str(data_dir / "index.journal"))
            trusted = True
        except Damaged:
            trusted = False
        outside = files_outside(root, data_dir)
        listed = run(start_and_list(objects, data_dir))
        if not trusted:  # rebuilt from the checkpoints, whatever the broken index said
            assert {("Counter", hex_of("Counter", n)) for n in "ab"} <= {(r["namespace"], r["id"]) for r in listed}
        run(start_and_list(objects, data_dir))
        assert files_outside(root, data_dir) == outside


async def wake(objects: Path, data: Path, path: Path) -> None:
    async with Engine(objects=str(objects), data=str(data), checkpoint_interval=3600) as e:
        assert {r["name"] for r in e.instances()} >= {"b"}
        try:
            await e.env.Counter.get_by_name("a").peek()
        except BrokenObjectError as exc:
            assert str(path) in str(exc)
        assert await e.env.Counter.get_by_name("b").peek() == 1


@FUZZ
@given(checkpoints(), st.booleans(), st.data())
def test_generated_checkpoints_with_one_broken_make_that_object_broken_at_most(doc, keep_index, data):
    with folder() as (root, objects, data_dir):
        run(two_checkpointed(objects, data_dir))
        if not keep_index:  # the index rebuilt from the checkpoints reads the broken one too
            for p in (data_dir / "index.json", data_dir / "index.journal"):
                p.unlink(missing_ok=True)
        path = data_dir / "Counter" / f"{hex_of('Counter', 'a')}.json"
        path.write_bytes(broken(data, doc))
        outside = files_outside(root, data_dir)
        run(wake(objects, data_dir, path))
        assert files_outside(root, data_dir) == outside


# ------------------------------------------------------------------ acknowledged means readable
def _same(a, b) -> bool:
    """Equal, and of the same JSON types all the way down (True is not 1, 1.0 is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return False
    return a == b


# (a value, how many lists and dicts the object wraps it in): around the bound, and the band
# (~975-978 deep) that was acknowledged and then made the folder unreadable.
storable = st.tuples(
    json_values
    | st.sampled_from(
        ["\ud800", float("nan"), 10**5000, "x" * (MAX_VALUE_BYTES - 2), "x" * MAX_VALUE_BYTES, (1, [2.5, "t"])]
    ),
    st.integers(0, 3) | st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3) | st.sampled_from([500, 975, 976, 977, 978]),
)


def _wrapped(value, wrap: int):
    for i in range(wrap):
        value = [value] if i % 2 else {"k": value}
    return value


async def read_all(objects: Path, data: Path) -> dict:
    async with Engine(objects=str(objects), data=str(data), checkpoint_interval=3600) as e:
        return await e.env.Box.get_by_name("b").get_all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(storable, min_size=1, max_size=6))
def test_every_value_put_accepts_is_read_back_after_a_kill_a_checkpoint_and_recover(candidates):
    async def put_all(objects: Path, data: Path) -> dict:
        e = Engine(objects=str(objects), data=str(data), checkpoint_interval=3600)
        await e.start()
        box, accepted = e.env.Box.get_by_name("b"), {}
        try:
            for i, (value, wrap) in enumerate(candidates):
                try:
                    await box.put_pickled(f"k{i}", base64.b64encode(pickle.dumps(value)).decode(), wrap)
                except (TypeError, ValueError) as exc:  # refused, naming the key: nothing stored
                    assert f"'k{i}'" in str(exc), exc
                else:
                    accepted[f"k{i}"] = _wrapped(json.loads(json.dumps(value)), wrap)  # tuples as lists
        finally:
            await e.crash()  # a kill: every accepted value is in the log only
        return accepted

    with folder() as (_, objects, data):
        accepted = run(put_all(objects, data))
        for _ in ("replayed", "from its checkpoint"):
            assert _same(run(read_all(objects, data)), accepted)
        run(put_all(objects, data))  # written again, and killed: now in the log as well
        assert "sound" in recover(data)
        recover(data, "--yes")
        assert _same(run(read_all(objects, data)), accepted)
