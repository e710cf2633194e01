"""The wrangler file, read as outside input (docs/trust.md, "The wrangler file"): each key's bad forms get a
WranglerError naming the file and the key; no document or byte string makes the reader raise anything else."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dotui.workers.wrangler import MAX_BYTES, WranglerError, read_wrangler, strip_jsonc

GOOD = {
    "name": "p",
    "main": "src/entry.py",
    "compatibility_flags": ["python_workers"],
    "durable_objects": {"bindings": [{"name": "ROOMS", "class_name": "Room"}]},
    "migrations": [
        {"tag": "v1", "new_sqlite_classes": ["Room"], "new_classes": ["Old"]},
        {"tag": "v2", "renamed_classes": [{"from": "Old", "to": "New"}]},
        {"tag": "v3", "deleted_classes": ["New"]},
    ],
    "vars": {"GREETING": "hi"},
    "kv_namespaces": [{"binding": "CACHE", "id": "x"}],
}


def project(tmp_path: Path, doc: dict | str, name: str = "wrangler.json") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "entry.py").write_text("")
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_a_good_file_gives_bindings_backends_renames_and_vars(tmp_path):
    cfg = read_wrangler(str(project(tmp_path, GOOD)))
    assert cfg.main == str(tmp_path / "src" / "entry.py")
    assert cfg.bindings == {"ROOMS": "Room"} and cfg.backends == {"Room": "sqlite"}
    assert cfg.renamed == {"Old": "New"} and cfg.deleted == ["New"]
    assert cfg.vars == {"GREETING": "hi"} and cfg.other_bindings == {"CACHE": "kv_namespaces"}


def test_toml_and_jsonc_read_the_same(tmp_path):
    toml = """main = "src/entry.py"
[[durable_objects.bindings]]
name = "ROOMS"
class_name = "Room"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["Room"]
"""
    jsonc = """{ // a comment, and a "string // that is not one"
  "main": "src/entry.py", /* block */
  "durable_objects": {"bindings": [{"name": "ROOMS", "class_name": "Room",},],},
  "migrations": [{"tag": "v1", "new_sqlite_classes": ["Room"]}],
}"""
    a = read_wrangler(str(project(tmp_path, toml, "wrangler.toml")))
    b = read_wrangler(str(project(tmp_path, jsonc, "wrangler.jsonc")))
    assert (a.bindings, a.backends) == (b.bindings, b.backends) == ({"ROOMS": "Room"}, {"Room": "sqlite"})
    assert json.loads(strip_jsonc('{"a": "x//y", "b": "/*z*/",}')) == {"a": "x//y", "b": "/*z*/"}


def change(key: str, value):
    doc = json.loads(json.dumps(GOOD))
    target, *path = key.split(".")
    if not path:
        if value is ...:
            doc.pop(target)
        else:
            doc[target] = value
        return doc
    node = doc[target]
    for part in path[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = path[-1]
    node[int(last) if last.isdigit() else last] = value
    return doc


BAD = [
    ("main", ..., "main: missing"),
    ("main", 5, "main: is 5"),
    ("main", "src/entry.js", "dotui runs Python Workers"),
    ("main", "../elsewhere.py", "outside the project folder"),
    ("main", "src/missing.py", "is not a file"),
    ("durable_objects", [], "durable_objects: is not a table"),
    ("durable_objects.bindings", {}, "durable_objects.bindings: is a dict; it is a list"),
    ("durable_objects.bindings.0", "ROOMS", "durable_objects.bindings[0]: is not a table"),
    ("durable_objects.bindings.0.class_name", "not a name", "durable_objects.bindings[0].class_name"),
    ("durable_objects.bindings.0.class_name", "Nope", "ROOMS binds class Nope, which no migration creates"),
    ("durable_objects.bindings.0.script_name", "other", "binds a class of another Worker"),
    ("migrations.0.tag", None, "migrations[0].tag: is None"),
    ("migrations.1.tag", "v1", "migrations[1].tag: is 'v1'"),
    ("migrations.0.new_classes", ["Room"], "class Room was created by an earlier migration"),
    ("migrations.1.renamed_classes", [{"from": "Ghost", "to": "X"}], "class Ghost is not created"),
    ("migrations.2.deleted_classes", ["Room"], "ROOMS binds class Room, which deleted_classes"),
    ("migrations.0.transferred_classes", [], "moves classes between Workers"),
    ("vars", [], "vars: is not a table"),
    ("vars", {"not-a-name": 1}, "is not a name Python code can read"),
]


@pytest.mark.parametrize("key,value,says", BAD, ids=[f"{k}={v!r}"[:40] for k, v, _ in BAD])
def test_each_bad_key_is_named_with_what_to_do(tmp_path, key, value, says):
    path = project(tmp_path, change(key, value))
    with pytest.raises(WranglerError) as err:
        read_wrangler(str(path))
    assert str(err.value).startswith(f"{path}: ") and says in str(err.value)


@pytest.mark.parametrize(
    "data,says",
    [
        (b"\0{}", "NUL byte"),
        (b'{"main": "\xff"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"{" * 10 + b"oops", "not valid JSON"),
        (b"[1, 2]", "a wrangler file is a table"),
        (b" " * (MAX_BYTES + 1), "larger than"),
    ],
)
def test_what_is_not_a_wrangler_file_is_refused_naming_it(tmp_path, data, says):
    path = tmp_path / "wrangler.json"
    path.write_bytes(data)
    with pytest.raises(WranglerError, match=says):
        read_wrangler(str(path))


def test_a_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "wrangler.toml"
    os.mkfifo(path)
    with pytest.raises(WranglerError, match="not a regular file"):
        read_wrangler(str(path))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
keys = st.sampled_from(["main", "durable_objects", "migrations", "vars", "name", "kv_namespaces"])


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(keys, json_values, max_size=6), base=st.booleans())
def test_any_document_is_a_config_or_a_wrangler_error(tmp_path, doc, base):
    merged = {**(GOOD if base else {}), **doc}
    path = project(tmp_path, merged)
    try:
        read_wrangler(str(path))
    except WranglerError as exc:
        assert str(exc).startswith(str(path))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), suffix=st.sampled_from(["wrangler.toml", "wrangler.jsonc", "wrangler.json"]))
def test_any_bytes_are_a_config_or_a_wrangler_error(tmp_path, data, suffix):
    path = tmp_path / suffix
    path.write_bytes(data)
    try:
        read_wrangler(str(path))
    except WranglerError:
        pass
