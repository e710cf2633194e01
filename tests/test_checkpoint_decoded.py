"""A checkpoint read with orjson reads what the standard decoder reads, and is checked as strictly.

checkpoint.load takes orjson's reading of a file (checkpoint._fast_read) unless the text holds a run of
19 digits or orjson refuses it; storage.check_decoded then checks what is left to check. Each test
here would catch a value read back differently from how it was stored (an int past 64 bits as a float),
or a file the engine refused before and now reads.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dotui.engine import values
from dotui.engine.durability import checkpoint
from dotui.engine.errors import BrokenObjectError
from dotui.engine.ids import IdFactory
from dotui.engine.object import storage

OID = IdFactory("Counter").from_name("big")
KEY = ("Counter", OID.hex)


def meta(**more) -> dict:
    return {
        "namespace": "Counter",
        "id": OID.hex,
        "name": "big",
        "alarm": None,
        "keys": 1,
        "bytes": 1,
        "saved_at": time.time(),
        **more,
    }


def write(path: str, data: dict) -> str:
    with open(path, "wb") as f:
        f.write(checkpoint.encode(checkpoint.build(data, meta())))
    return path


def write_text(path: str, storage_json: str) -> str:
    """A file whose storage table is the JSON text given (what a hand edit or a damaged disk leaves)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"meta":{"1":' + json.dumps(meta()) + '},"storage":' + storage_json + "}")
    return path


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and a == b


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=20), json_values, max_size=12))
def test_a_checkpoint_reads_back_what_was_stored(tmp_path_factory, data):
    for k, v in data.items():
        storage.check_entry(k, v)  # what put accepts
    path = write(os.path.join(tmp_path_factory.mktemp("c"), "x.json"), data)
    got, _ = checkpoint.load(path, KEY)
    assert same(got, data)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_orjson_reads_a_text_as_the_standard_decoder_does_or_leaves_it(value):
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    fast = checkpoint._fast_read(raw)
    if fast is not None:
        assert same(fast, values.read(raw))


@pytest.mark.parametrize("n", [2**63, 2**64, 2**64 + 1, -(2**63) - 1, 10**30, -(10**25)])
def test_an_int_past_64_bits_reads_back_exact(tmp_path, n):
    path = write(str(tmp_path / "x.json"), {"big": n, "inside": [1, {"n": n}]})
    got, _ = checkpoint.load(path, KEY)
    assert type(got["big"]) is int and got["big"] == n
    assert type(got["inside"][1]["n"]) is int and got["inside"][1]["n"] == n


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ('{"1":{"key":"a","value":"\\ud800"}}', "lone surrogate"),  # orjson refuses it; the check names it
        ('{"1":{"key":"a","value":' + "[" * 101 + "]" * 101 + "}}", "deep"),  # under 1,024: orjson reads it
        ('{"1":{"key":"a","value":' + "[" * 60 + "1" + "]" * 60 + "}}", None),  # 60 deep: put takes it
        ('{"1":{"key":"a","value":["' + "x" * (200 * 1024) + '"]}}', "larger than"),
        ('{"1":{"key":"a","value":"' + "x" * (200 * 1024) + '"}}', "larger than"),
        ('{"1":{"key":"' + "k" * 3000 + '","value":1}}', "Keys cannot be larger"),
        ('{"1":{"key":"a","value":1e400}}', "storage.put refuses"),
        ('{"1":["a",1]}', "is not a"),
        ('{"1":{"key":"a"}}', "is not a"),
        ('{"1":{"key":7,"value":1}}', "is not a"),
        ('{"1":{"key":["a"],"value":1}}', "is not a"),
    ],
)
def test_a_file_put_would_refuse_is_broken_by_either_reader(tmp_path, table, said):
    path = write_text(str(tmp_path / "x.json"), table)
    if said is None:
        data, _ = checkpoint.load(path, KEY)
        assert list(data) == ["a"]
        return
    with pytest.raises(BrokenObjectError) as caught:
        checkpoint.load(path, KEY)
    assert path in str(caught.value)
    assert said in str(caught.value) or said == "deep" and "deep" in str(caught.value).lower()


def test_a_big_checkpoint_reads_back_whole_and_collection_resumes(tmp_path):
    import gc

    data = {f"key/{i:06d}": {"i": i, "payload": "é" * 24, "f": i / 7} for i in range(20_000)}
    data["k" * 2048] = [[[[1.5e-9]]]]
    path = write(str(tmp_path / "x.json"), data)
    assert os.path.getsize(path) >= checkpoint._PAUSE_COLLECTOR_AT
    got, m = checkpoint.load(path, KEY)
    assert same(got, data) and m["name"] == "big"
    assert gc.isenabled()
