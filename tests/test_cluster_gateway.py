"""A cluster behind one gateway address: HTTP clients, the REPL's commands and every admin operation.

The behaviour suite of ``test_facades.py`` runs here against a 2-shard cluster: each
case on a ``RemoteEngine`` attached to the cluster's gateway gives the answer a
single engine gives (the cluster's additions, ``shard`` and the per-shard stats, aside).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from cluster_support import ClusterAdmin, ServedCluster, local_ray, names_on  # skips without Ray
from conftest import ROOT
from dotui.commands import REGISTRY  # noqa: F401 - the registry the REPL uses
from dotui.ops import OPERATIONS, LocalEngine
from dotui.server import connect
from server_support import write_server_objects
from test_facades import CASES, NOTES, stable

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("ray")]

CLUSTER_ONLY = {"shard", "shards", "per_shard", "cluster"}


def unclustered(value):
    """``value`` without what only a cluster adds: each row's ``shard``, the per-shard stats."""
    if isinstance(value, dict):
        return {k: unclustered(v) for k, v in value.items() if k not in CLUSTER_ONLY}
    if isinstance(value, (list, tuple)):
        return type(value)(unclustered(v) for v in value if not (isinstance(v, str) and v in CLUSTER_ONLY))
    return value


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster_gateway")
    objects = str(write_server_objects(tmp / "objects"))
    (tmp / "objects" / "notes.py").write_text(NOTES)  # the SQLite-backed class the SQL operations' cases call
    local_ray()
    served = ServedCluster(objects, str(tmp / "root"), 2, idle_timeout=60)
    remote = connect(served.url, data=str(tmp / "root"))
    local = LocalEngine(objects, str(tmp / "local"), idle_timeout=60).start()
    yield {"served": served, "remote": remote, "local": local, "root": tmp / "root"}
    remote.close()
    served.close()
    local.close()


def test_the_cluster_admin_implements_every_operation_of_the_one_table():
    assert set(OPERATIONS) <= set(vars(ClusterAdmin))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_the_operation_behaves_on_a_cluster_as_on_one_engine(served, name):
    run, check = CASES[name]
    on_cluster = run(served["remote"], f"cluster-{name}")
    on_engine = run(served["local"], f"cluster-{name}")
    assert check(unclustered(on_cluster)), on_cluster  # rows are the engine's, with their shard besides
    assert unclustered(stable(on_cluster)) == unclustered(stable(on_engine))


def test_http_clients_reach_objects_on_every_shard_through_one_address(served):
    token = (served["root"] / "serve.token").read_text().strip()
    for shard in (0, 1):
        name = names_on("Counter", shard, prefix="http")[0]
        req = urllib.request.Request(
            f"{served['served'].url}/objects/Counter/{name}/increment",
            method="POST",
            data=b'{"args": [3]}',
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert json.loads(resp.read()) == {"result": 3}
        assert served["remote"].instance("Counter", name)["shard"] == shard


@pytest.mark.slow
def test_ls_shows_the_shard_and_stats_each_shard_beside_the_total(served):
    for shard in (0, 1):
        served["remote"].call("Counter", names_on("Counter", shard, prefix="ls")[0], "increment")
    url = served["served"].url
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dotui.cli",
            "--connect",
            url,
            "--data",
            str(served["root"]),
            "-c",
            "ls Counter --all",
            "-c",
            "stats",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if "object" in line and "state" in line)
    assert "shard" in header
    assert "cluster of 2 shards" in out.stdout and "shard 0" in out.stdout and "shard 1" in out.stdout


async def test_the_tui_attached_to_a_cluster_lists_objects_of_every_shard(served):
    from dotui.tui.app import DotuiApp
    from tui_support import screen_text, until

    names = [names_on("Counter", shard, prefix="tui")[0] for shard in (0, 1)]
    for n in names:
        served["remote"].call("Counter", n, "increment")
    app = DotuiApp(served["remote"])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: all(n in screen_text(app) for n in names), f"{names} in the instances table")
        header = next(line for line in screen_text(app).splitlines() if "name" in line and "queue" in line)
        assert "shard" in header
        shown = [re.search(rf"{n} +(\d+) ", screen_text(app)) for n in names]  # the shard follows the name
        assert [m.group(1) if m else None for m in shown] == ["0", "1"]
