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
        # a deprecation warning is an error: with pytest 9 a user sees it (pytest-asyncio's unset loop scope)
        [sys.executable, "-W", "error::DeprecationWarning", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
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


@pytest.mark.slow
def test_a_dotui_project_passes_its_tests_and_its_readme_says_what_they_need(tmp_path):
    assert dotui(tmp_path, "init", "demo").returncode == 0
    tests = pytest_in(tmp_path / "demo")
    assert tests.returncode == 0 and "2 passed" in tests.stdout, tests.stdout + tests.stderr
    readme = (tmp_path / "demo" / "README.md").read_text()
    assert "pip install pytest pytest-asyncio" in readme


def test_init_says_what_its_tests_need_when_it_is_not_installed(tmp_path, monkeypatch, capsys):
    import importlib.util

    from dotui import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pytest_asyncio" else real(name, *a)
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", "demo"]) == 0
    said = capsys.readouterr()
    assert "cd demo && pytest" in said.out + said.err
    assert "pip install pytest pytest-asyncio" in said.out + said.err
