"""`dotui init DIR [--workers]`: each kind of project passes its own tests, the Workers one answers through
`dotui serve`, and nothing is ever written over."""

import asyncio
import os
import subprocess
import sys

import aiohttp
import pytest

from server_support import ROOT, GatewayProcess


def dotui(cwd, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "dotui.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def pytest_in(folder):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_a_workers_project_passes_its_tests_and_runs_under_dotui_serve(tmp_path):
    assert dotui(tmp_path, "init", "edge", "--workers").returncode == 0
    edge = tmp_path / "edge"
    assert {p.name for p in edge.iterdir()} >= {"wrangler.toml", "src", "tests", "pyproject.toml", "README.md"}
    tests = pytest_in(edge)
    assert tests.returncode == 0 and "1 passed" in tests.stdout, tests.stdout + tests.stderr
    with GatewayProcess(edge, edge / ".dotui", 0, command=("-m", "dotui.cli", "serve")) as gw:

        async def script():
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
                out = []
                for path in ("/increment?name=A", "/increment?name=A", "/?name=A", "/"):
                    async with s.get(gw.url + path) as r:
                        out.append((r.status, await r.text()))
                return out

        assert asyncio.run(asyncio.wait_for(script(), 60)) == [
            (200, "A: 1"),
            (200, "A: 2"),
            (200, "A: 2"),
            (400, "Name a counter: ?name=A"),
        ]


def test_init_writes_nothing_over_an_existing_folder(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    proc = dotui(tmp_path, "init", "demo")
    assert proc.returncode == 2 and "exists and is not an empty folder" in proc.stderr
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["notes.txt"]
    assert (tmp_path / "demo" / "notes.txt").read_text() == "mine"
