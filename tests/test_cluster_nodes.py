"""A cluster over two Ray nodes (``ray.cluster_utils.Cluster``, both on this machine): each shard pinned
to the node offering its resource ``dotui_shard_<i>``, as docs/cluster.md says to run it over machines."""

from __future__ import annotations

import asyncio

import pytest

from cluster_support import Cluster, ClusterAdmin, names_on, ray  # skips without Ray
from conftest import COUNTER, write_objects
from dotui.cluster.ray_calls import RAY_NAMESPACE

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("ray"), pytest.mark.slow]


@pytest.fixture
def two_nodes():
    from ray.cluster_utils import Cluster as RayCluster

    ray.shutdown()  # this test's own Ray: two nodes, each offering one shard's resource
    nodes = RayCluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"dotui_shard_0": 1}})
    nodes.add_node(num_cpus=1, resources={"dotui_shard_1": 1})
    ray.init(address=nodes.address, namespace=RAY_NAMESPACE, log_to_driver=False)
    yield nodes
    ray.shutdown()
    nodes.shutdown()


async def test_each_shard_runs_on_the_node_offering_its_resource(two_nodes, tmp_path):
    objects = str(write_objects(tmp_path / "objects", counter=COUNTER))
    c = await Cluster(objects, str(tmp_path / "root"), 2).start()
    try:
        admin = await ClusterAdmin.over(c)
        offers = {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
        assert len(offers) == 2
        for place in c.placement:
            assert f"dotui_shard_{place['shard']}" in offers[place["node"]]
        assert c.placement[0]["node"] != c.placement[1]["node"]
        names = names_on("Counter", 0, prefix="n") + names_on("Counter", 1, prefix="n")
        assert await asyncio.wait_for(
            asyncio.gather(*(admin.call("Counter", n, "increment", [2]) for n in names)), 60
        ) == [2, 2]
        assert sorted(r["shard"] for r in await admin.instances("Counter")) == [0, 1]
    finally:
        await c.close()
