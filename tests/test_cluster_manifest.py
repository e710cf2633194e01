"""The cluster's fixed parts, without Ray: the manifest, an id's home shard, call chains, the engine's router hook."""

from __future__ import annotations

import json

import pytest

from conftest import write_objects
from dotui import Engine
from dotui.cluster.manifest import ManifestError, open_manifest
from dotui.cluster.placement import shard_of
from dotui.cluster.wire import export_chain, import_chain
from dotui.engine.ids import IdFactory


def test_the_manifest_fixes_the_shard_count_at_creation(tmp_path):
    m = open_manifest(str(tmp_path / "root"), 3)
    assert json.loads((tmp_path / "root" / "cluster.json").read_text())["shards"] == 3
    assert open_manifest(str(tmp_path / "root"), 3).shards == 3
    with pytest.raises(ManifestError) as info:
        open_manifest(str(tmp_path / "root"), 2)
    assert "holds a cluster of 3 shards, not 2" in str(info.value) and "--cluster 3" in str(info.value)
    assert m.folder(2).endswith("shard-2")


def test_a_single_engines_folder_is_not_taken_for_a_cluster(tmp_path):
    (tmp_path / "data" / "log").mkdir(parents=True)
    with pytest.raises(ManifestError, match="single engine's objects"):
        open_manifest(str(tmp_path / "data"), 2)
    assert not (tmp_path / "data" / "cluster.json").exists()


@pytest.mark.parametrize("shards", [0, -1, 257, True, "2"])
def test_a_shard_count_out_of_range_is_refused_naming_it(tmp_path, shards):
    with pytest.raises(ManifestError, match="1 to 256 shards"):
        open_manifest(str(tmp_path / "root"), shards)


def test_a_damaged_manifest_is_refused_and_left_alone(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "cluster.json").write_text("{not json")
    with pytest.raises(ManifestError, match="cannot be read"):
        open_manifest(str(tmp_path / "root"), 2)
    assert (tmp_path / "root" / "cluster.json").read_text() == "{not json"


def test_every_id_has_one_home_and_the_homes_are_balanced():
    ids = IdFactory("Counter")
    homes = [shard_of(ids.from_name(f"user-{i}").hex, 2) for i in range(2000)]
    homes += [shard_of(ids.new_unique().hex, 2) for _ in range(2000)]
    assert set(homes) == {0, 1} and 1800 < homes.count(0) < 2200
    oid = ids.from_name("alice")
    assert len({shard_of(oid.hex, 4) for _ in range(10)}) == 1


def test_a_chain_crossing_shards_names_each_shards_calls_apart():
    # A (call 7 on shard 0) -> B (call 7 on shard 1, the same number) -> back to shard 0.
    at_b = import_chain(export_chain((7,), 0), 1)
    assert at_b == ("0:7",) and 7 not in at_b  # B's own call 7 is not A's
    back_at_a = import_chain(export_chain(at_b + (7,), 1), 0)
    assert back_at_a == (7, "1:7")  # shard 0 sees its call 7 in the chain: re-entry is let in


class _Recorder:
    """A router that owns nothing and records what the caller's storage held back at each call."""

    def __init__(self, engine):
        self.engine = engine
        self.seen = []

    def owns(self, oid):
        return oid.name != "elsewhere"

    async def call(self, namespace, oid, method, args, kwargs, chain):
        caller = self.engine.read_storage("Sender", self.engine.namespace("Sender").id_from_name("a"))
        self.seen.append((method, caller["pending"]["put"], chain != ()))
        return "sent"


async def test_a_call_to_another_shard_leaves_only_once_the_callers_writes_are_durable(tmp_path):
    objects = write_objects(
        tmp_path / "objects",
        sender="""
        from dotui import DurableObject

        class Sender(DurableObject):
            async def send(self):
                self.ctx.storage.put("before", 1)
                return await self.env.Sender.get_by_name("elsewhere").receive()

            def receive(self):
                return "here"
    """,
    )
    async with Engine(str(objects), str(tmp_path / "data")) as engine:
        engine.router = router = _Recorder(engine)
        assert await engine.call("Sender", engine.namespace("Sender").id_from_name("a"), "send") == "sent"
    # The write was durable (nothing pending) when the call left, and it carried its chain.
    assert router.seen == [("receive", {}, True)]


@pytest.mark.slow
def test_only_the_cluster_package_imports_ray():
    import subprocess
    import sys

    from test_imports import PACKAGE, imports_of

    code = "import sys, dotui, dotui.ops, dotui.server, dotui.cli, dotui.cluster\nprint('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # the manifest and placement need no Ray
    for sub in [p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name not in ("cluster", "__pycache__")]:
        for path, names in imports_of(sub).items():
            assert not any(n == "ray" or n.startswith("ray.") for n in names), path


def test_a_shard_that_cannot_answer_is_a_retryable_503_rebuilt_as_itself_by_clients():
    from dotui.engine.errors import ShardUnavailableError
    from dotui.ops.codec import error_body, rebuild, status_for

    exc = ShardUnavailableError("shard 1 did not answer; retry it")
    assert status_for(exc) == 503
    back = rebuild(error_body(exc)["error"])
    assert isinstance(back, ShardUnavailableError) and isinstance(back, ConnectionError) and str(back) == str(exc)
