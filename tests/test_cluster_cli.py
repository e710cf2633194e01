"""``dotui serve --cluster SHARDS [--ray-address ADDR]`` end to end, by subprocess (joining this session's Ray)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from cluster_support import is_loopback, listening, local_ray, ray  # skips without Ray
from conftest import COUNTER, ROOT, write_objects

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("ray")]


def _dotui(*args: str, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "dotui.cli", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def test_ray_address_without_cluster_is_a_usage_error(tmp_path):
    p = _dotui("serve", "--ray-address", "127.0.0.1:6379", "--data", str(tmp_path / "d"))
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "--ray-address goes with --cluster SHARDS" in err


@pytest.mark.slow
def test_a_shard_count_that_is_no_count_is_a_usage_error(tmp_path):
    p = _dotui("serve", "--cluster", "0")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "SHARDS must be a whole number from 1 to 256" in err


@pytest.mark.slow
def test_serve_cluster_answers_over_http_stops_cleanly_and_keeps_its_shard_count(tmp_path):
    local_ray()
    address = ray.get_runtime_context().gcs_address
    objects = str(write_objects(tmp_path / "objects", counter=COUNTER))
    root = str(tmp_path / "root")
    common = ("--objects", objects, "--data", root, "--ray-address", address)
    p = _dotui("serve", "--cluster", "2", "--port", "0", *common)
    try:
        first = p.stdout.readline()
        assert first.startswith("dotui serve: http://"), (first, p.stderr.read() if p.poll() is not None else "")
        url = first.split(": ", 1)[1].strip()
        announced = [first]
        while announced[-1] and not announced[-1].startswith("  cluster"):
            announced.append(p.stdout.readline())
        token = open(os.path.join(root, "serve.token")).read().strip()
        for name in ("alice", "bob", "carol"):
            req = urllib.request.Request(
                f"{url}/objects/Counter/{name}/increment",
                method="POST",
                data=b"{}",
                headers={"Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(req, timeout=30) as resp:
                assert json.loads(resp.read()) == {"result": 1}
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "cluster  2 shards on Ray" in announced[-1]
    again = _dotui("serve", "--cluster", "3", "--port", "0", *common)
    _, err = again.communicate(timeout=60)
    assert again.returncode == 1 and "holds a cluster of 2 shards, not 3" in err


@pytest.mark.slow
@pytest.mark.hostile
def test_a_local_ray_listens_on_loopback_only(tmp_path):
    """`dotui serve --cluster` starting its own Ray: every port its processes listen on is 127.0.0.1's."""
    objects = str(write_objects(tmp_path / "objects", counter=COUNTER))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    env["PYTHONPATH"] = str(ROOT)  # a fresh process, as a user starts it: dotui.cluster asks Ray for loopback
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dotui.cli",
            "serve",
            "--cluster",
            "1",
            "--port",
            "0",
            "--objects",
            objects,
            "--data",
            str(tmp_path / "root"),
        ],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        announced = [p.stdout.readline()]
        while announced[-1] and not announced[-1].startswith("  cluster"):
            announced.append(p.stdout.readline())
        assert announced[-1].startswith("  cluster"), (announced, p.stderr.read() if p.poll() is not None else "")
        ports = listening(p.pid)
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    owners = {pid for _, _, pid in ports}
    assert len(ports) >= 4 and len(owners) >= 3, ports  # the gateway, Ray's GCS, raylet, workers...
    assert [(a, port) for a, port, _ in ports if not is_loopback(a)] == []
