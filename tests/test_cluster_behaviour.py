"""The storage and ordering scenario of bench/behaviour.py (the one compared with workerd) on a 2-shard
cluster, reached as a client reaches it: the same answers as a single engine's, step by step."""

from __future__ import annotations

import asyncio
import sys

import pytest

from cluster_support import Cluster, ClusterAdmin, local_ray, names_on  # skips without Ray
from conftest import ROOT, write_objects

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("ray"), pytest.mark.slow]


def _behaviour():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import behaviour
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return behaviour


async def test_the_behaviour_scenario_gives_a_single_engines_answers_on_a_cluster(tmp_path):
    behaviour = _behaviour()
    single = await behaviour.run_dotui()
    objects = str(write_objects(tmp_path / "objects", scenario=behaviour.OBJECTS))
    local_ray()
    c = await Cluster(objects, str(tmp_path / "root"), 2).start()
    try:
        admin = await ClusterAdmin.over(c)
        ours = await admin.call("Scenario", "scenario-cluster", "run")
        # The objects of the ordering steps on both shards; calls made together travel in one message.
        blocked, racy = names_on("Interleave", 0, prefix="blocked")[0], names_on("Interleave", 1, prefix="racy")[0]
        ours["3 overlapping bump_blocked, then peek"] = list(
            await asyncio.gather(*(admin.call("Interleave", blocked, m) for m in ("bump_blocked",) * 3 + ("peek",)))
        )
        ours["2 overlapping bump_racy, then peek"] = list(
            await asyncio.gather(*(admin.call("Interleave", racy, m) for m in ("bump_racy", "bump_racy", "peek")))
        )
        ours["2 overlapping bump_racy; peek after both"] = await admin.call("Interleave", racy, "peek")
        ours["setAlarm() on class without alarm() handler"] = await admin.call("Other", "x", "try_set_alarm")
    finally:
        await c.close()
    expected = {k: v for k, v in single.items() if k in ours}
    assert len(expected) == len(ours) > 30
    assert {k: v for k, v in ours.items() if v != expected[k]} == {}
